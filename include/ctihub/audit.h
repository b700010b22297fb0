/*
 * audit.h -- the audit log: an append-only file of JSON lines recording
 * who published which object ids, who received which object ids and how
 * (poll, later push), every policy reload with the SHA-256 of every file
 * in force, and every denied attempt to reach a collection.  Lines are
 * complete JSON objects, written whole; the file is flushed at least once
 * a second and on shutdown.  Thread-safe.
 */
#ifndef CTIHUB_AUDIT_H
#define CTIHUB_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/buf.h"

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
 * audit_end, which closes and records it.
 */
void audit_begin(struct buf *b, const char *event);
void audit_end(struct audit *, struct buf *b);
/* Adds ,"<key>":"<value>" (escaped). */
void audit_str(struct buf *b, const char *key, const char *value);

#endif
