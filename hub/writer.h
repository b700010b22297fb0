/*
 * writer.h -- the one thread that writes LMDB.  Jobs from every HTTP
 * worker queue up here; the writer takes all that are waiting, applies
 * them in one write transaction, commits it durably, and only then tells
 * each job it is done (group commit).  Also prunes expired statuses.
 */
#ifndef CTIHUB_WRITER_H
#define CTIHUB_WRITER_H

#include <sys/queue.h>

#include <stdint.h>

#include "ctihub/buf.h"
#include "ctihub/store.h"

struct writer;
struct wjob;

/* Runs in the writer thread, inside the transaction, after the job's
 * objects are written: stores whatever else belongs with them (the
 * status resource).  Returns a store_err. */
typedef int wjob_apply_cb(struct wjob *, struct store_wtxn *);
/* Runs in the writer thread after the commit (rc = its outcome). */
typedef void wjob_done_cb(struct wjob *, int rc);

enum wjob_kind {
	WJOB_ADD = 1,
	WJOB_DELETE,
	WJOB_CUSTOM, /* only apply() runs */
};

struct wjob {
	TAILQ_ENTRY(wjob) entry;
	int kind;
	uint32_t coll;
	uint32_t producer;
	struct store_obj *objs; /* WJOB_ADD */
	size_t nobjs;
	const unsigned char *uuid; /* WJOB_DELETE: type--uuid; match decides
				      which producers' versions go */
	const char *type;
	store_match_cb *match;
	void *match_arg;
	int removed;
	int64_t now;
	wjob_apply_cb *apply; /* may be NULL */
	wjob_done_cb *done;
	void *arg;
};

struct writer *writer_start(struct store *);
/* Queues a job; returns at once.  Thread-safe. */
void writer_submit(struct writer *, struct wjob *);
/* Finishes the queued jobs, then stops the thread. */
void writer_stop(struct writer *);

#endif
