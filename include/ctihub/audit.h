/*
 * audit.h -- the audit log: an append-only file of JSON lines recording
 * who published which object ids, who received which object ids and how
 * (poll, later push), every policy reload with the SHA-256 of every file
 * in force, and every denied attempt to reach a collection.  Lines are
 * complete JSON objects, written whole: a write that fails half way (a
 * full disk) is cut back, and a line cut short by a crash is removed when
 * the file is opened.  Thread-safe.
 *
 * Publish records are as durable as what they record: the writer stores
 * each in the transaction of its objects (store_waudit, with a line made
 * by audit_begin ... audit_record), and audit_export copies them to the
 * file after the commit, in order, each with its sequence number first
 * ({"seq":N,...}), and syncs the file before the store may trim them.
 * Other lines are buffered and written at least once a second
 * (audit_flush) and on close.  What cannot be written is said in the log
 * and counted (audit_stats): publish records wait in the database, other
 * lines wait in memory (up to 1 MB) and are then counted as lost.
 */
#ifndef CTIHUB_AUDIT_H
#define CTIHUB_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/buf.h"
#include "ctihub/store.h"

struct audit;

/* Opens (appends to) path; "off" gives a log that records nothing. */
struct audit *audit_open(const char *path, char *err, size_t errlen);
void audit_close(struct audit *);
/* Writes buffered lines out. */
void audit_flush(struct audit *);
/* 1 when lines are recorded (not "off"): callers may skip building them. */
int audit_on(const struct audit *);

/*
 * Starts a line {"time":"...","event":"<event>", into b; the caller adds
 * members with buf_addf/buf_add_jstr, each starting with ',', then calls
 * audit_end, which closes and records it (or audit_record, which only
 * closes it, for store_waudit).
 */
void audit_begin(struct buf *b, const char *event);
void audit_end(struct audit *, struct buf *b);
void audit_record(struct buf *b);
/* Adds ,"<key>":"<value>" (escaped). */
void audit_str(struct buf *b, const char *key, const char *value);

/*
 * Appends the records the store holds that the file does not, syncs the
 * file, and sets *upto to the last one written (0: none), which the
 * store may now trim (store_waudit_trim).  -1 when the file or the
 * database could not be used (said in the log; the records wait).  One
 * thread exports (it runs read transactions of `r`).
 */
int audit_export(struct audit *, struct store_reader *, uint64_t *upto);

struct audit_stats {
	uint64_t exported; /* publish records written from the store */
	uint64_t lost;	   /* lines that could not be written, ever */
	uint64_t failures; /* times writing started to fail */
};
void audit_stats(struct audit *, struct audit_stats *);

#endif
