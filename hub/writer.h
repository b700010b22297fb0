/*
 * writer.h -- the one thread that writes LMDB.  Jobs from every HTTP
 * worker queue up here; the writer takes all that are waiting, applies
 * them in one write transaction, commits it durably, and only then tells
 * each job it is done (group commit).  Also prunes expired statuses.
 *
 * The job contract, which makes a failed group safe to retry job by job:
 *
 *   apply  (the writer's own step for the kind -- store_wput of the
 *          objects, store_wdelete -- then the job's apply callback) runs
 *          in the writer thread inside the transaction, once per attempt.
 *          A job may be attempted more than once: when any job of a group
 *          fails, the whole transaction is aborted and every job of the
 *          group is attempted again alone, and only the attempt whose
 *          transaction commits counts.  So apply changes nothing outside
 *          the transaction except the job's own result fields, which every
 *          attempt sets afresh from the job's inputs (overwrites, never
 *          appends or adds up): no log line, audit record, reply or
 *          writer_submit, no state carried from one attempt to the next.
 *          The writer's own results (objs[].result and date_added,
 *          removed) follow the same rule.
 *   done   runs exactly once per submission, in the writer thread, after
 *          the transaction of the job's last attempt committed (rc
 *          STORE_OK: durable) or failed (a store_err: nothing of the job
 *          was stored).  Everything the job means outside the database
 *          happens here or later, from that attempt's results: the reply,
 *          logs, audit records, bookkeeping across submissions, follow-up
 *          jobs (done may submit the same job again).
 */
#ifndef CTIHUB_WRITER_H
#define CTIHUB_WRITER_H

#include <sys/queue.h>

#include <stdint.h>

#include "ctihub/buf.h"
#include "ctihub/store.h"

struct writer;
struct wjob;

/* Inside the transaction, after the job's objects are written: stores
 * whatever else belongs with them (a status resource).  Once per attempt;
 * see the contract above.  Returns a store_err. */
typedef int wjob_apply_cb(struct wjob *, struct store_wtxn *);
/* Once, after the last attempt's commit or failure (rc). */
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
	int removed; /* WJOB_DELETE: the result */
	int64_t now;
	wjob_apply_cb *apply; /* may be NULL */
	wjob_done_cb *done;
	void *arg;
};

/* Starts the thread at scheduling niceness `nice` (0: the caller's). */
struct writer *writer_start(struct store *, int nice);
/* Queues a job; returns at once.  Thread-safe. */
void writer_submit(struct writer *, struct wjob *);
/* Jobs waiting for the writer (for metrics and tests).  Thread-safe. */
int writer_queued(struct writer *);
/* 1 while the thread takes jobs (for readiness).  Thread-safe. */
int writer_alive(struct writer *);
/* Finishes the queued jobs, then stops the thread. */
void writer_stop(struct writer *);

#endif
