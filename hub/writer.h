/*
 * writer.h -- the one thread that writes LMDB.  Messages from every part
 * of the daemon queue up here; the writer takes all that are waiting,
 * applies them in one write transaction, commits it durably, and only then
 * tells each message it is done (group commit), and every subscriber what
 * the commit changed.  Also prunes expired statuses and old gone records.
 *
 * A message is data: a kind (enum wmsg_kind), the inputs of that kind,
 * and the results the writer sets.  What each kind does in the transaction
 * is the writer's own code (writer_apply.c); nothing of the submitter runs
 * inside it.  A message owns its inputs (wmsg_clear frees them): nothing
 * in it points into a request, a connection or a runtime that may go away
 * before it is done.
 *
 * The message contract, which makes a failed group safe to retry message
 * by message:
 *
 *   apply  runs in the writer thread inside the transaction, once per
 *          attempt.  A message may be attempted more than once: when any
 *          message of a group fails, the whole transaction is aborted and
 *          every message of the group is attempted again alone, and only
 *          the attempt whose transaction commits counts.  So apply changes
 *          nothing outside the transaction except the message's result
 *          fields, which every attempt sets afresh from its inputs
 *          (overwrites, never appends or adds up).
 *   done   runs exactly once per submission, in the writer thread, after
 *          the transaction of the message's last attempt committed (rc
 *          STORE_OK: durable) or failed (a store_err: nothing of the
 *          message was stored).  Everything the message means outside the
 *          database happens here or later, from that attempt's results:
 *          the reply, logs, audit lines, bookkeeping across submissions,
 *          follow-up messages (done may submit the same message again,
 *          with new inputs).
 */
#ifndef CTIHUB_WRITER_H
#define CTIHUB_WRITER_H

#include <sys/queue.h>

#include <stdint.h>

#include "ctihub/buf.h"
#include "ctihub/conf.h"
#include "ctihub/ingest.h"
#include "ctihub/member.h"
#include "ctihub/store.h"

struct writer;
struct wmsg;

/* Once, after the last attempt's commit or failure (rc). */
typedef void wmsg_done_cb(struct wmsg *, int rc);

enum wmsg_kind {
	WMSG_ADD = 1,	/* a batch of one producer's objects, one collection */
	WMSG_DELETE,	/* chosen versions of one object, one collection */
	WMSG_RELEASE,	/* one step of a release after a reload */
	WMSG_DIRECTORY, /* the hub's member identities (directory.c) */
	WMSG_PRUNE,	/* exported audit records, expired statuses and
			   gone records */
	WMSG_SUB,	/* a push subscription's state record */
	WMSG_FEED,	/* a feed's status and saved state */
};

/*
 * WMSG_ADD: the objects of `batch` (parsed: objs[i].json NULL when
 * rejected) stored for `producer` into `coll` at time `now`.  With a
 * status_id, the TAXII status resource rendered from the results
 * (taxii_status_render) is stored in the same transaction, for `producer`
 * until status_expires; with audit, so is the publish record of `member`
 * to collection `coll_id` (audit.h).
 * Results: batch.objs[].result and .date_added (store_wput).
 */
struct wmsg_add {
	uint32_t coll;
	uint32_t producer;
	int64_t now;
	/* owned; its objects, findings and their arena are the message's.
	 * batch.d is the pipeline's bookkeeping (never read here). */
	struct ingest_batch batch;
	char status_id[CONF_ID_LEN]; /* "": none */
	int64_t status_ts;	     /* the request's time */
	int64_t status_expires;
	int audit; /* store the publish record */
	char member[MEMBER_ID_MAX];
	char coll_id[CONF_ID_LEN];
};

#define WDEL_TYPE_MAX 256 /* a STIX type name (at most 250) and its NUL */

/* One version to delete: the producer that reported it, and which. */
struct wdel_version {
	uint32_t producer;
	int64_t version;
};

/*
 * WMSG_DELETE: of the object `type`--`uuid` in `coll`, the versions
 * listed (each with its producer; the submitter chose them: the member's
 * own, or any it sees as an admin, narrowed by match[version]).
 * Result: removed, the versions deleted.
 */
struct wmsg_delete {
	uint32_t coll;
	char type[WDEL_TYPE_MAX];
	unsigned char uuid[16];
	struct wdel_version *v; /* owned */
	int n;
	int removed;
};

enum wrel_op {
	WREL_EVENT = 1, /* store the event record rec */
	WREL_TWINS,	/* one slice of twins of the event's groups */
	WREL_CLOSE,	/* close events[] with close */
};

/* Whose entries a release gives twins: a producer's, at a TLP level. */
struct wrel_group {
	uint32_t producer;
	uint8_t level;
};

/*
 * WMSG_RELEASE (release.c, store_wrelease/store_wtwins):
 *   WREL_EVENT  stores the record rec; result: event, its id.
 *   WREL_TWINS  gives every entry added before `event` of the groups a
 *               twin, examining at most `slice` entries from `resume`;
 *               when the scan finishes and `close` is set (VIEW_REL_DONE),
 *               closes `event` with it in the same transaction.  Results:
 *               next (zero: the scan is done), added, closed.
 *   WREL_CLOSE  closes each of events[] (none: a round that writes
 *               nothing) with `close` (VIEW_REL_DONE or VIEW_REL_FAILED).
 *               Result: closed.
 */
struct wmsg_release {
	int op;	   /* enum wrel_op */
	void *rec; /* owned */
	size_t reclen;
	uint64_t event;
	struct wrel_group *groups; /* owned */
	int ngroups;
	unsigned char resume[12];
	int slice;
	int close;
	uint64_t *events; /* owned */
	int nevents;
	/* results */
	uint64_t new_event;
	unsigned char next[12];
	int added;
	int closed;
};

/* One member identity of the directory. */
struct wdir_ident {
	char *json; /* compact, owned */
	char id[64];
	unsigned char uuid[16];
	int64_t modified;
	int revoked;
	/* results */
	int result; /* enum store_result */
	int64_t date_added;
};

/* WMSG_DIRECTORY: identities stored by the hub (POLICY_HUB_PRODUCER) into
 * the directory collection `coll`, TLP CLEAR.  Results: v[].result and
 * v[].date_added. */
struct wmsg_directory {
	uint32_t coll;
	struct wdir_ident *v; /* owned */
	int n;
};

/* WMSG_PRUNE: trims the publish records up to audit_upto (exported; 0:
 * none), deletes at most max statuses that expired before status_before
 * (0: none) and at most max gone records dated before gone_before (0:
 * none).  Results: statuses and gone, how many went. */
struct wmsg_prune {
	uint64_t audit_upto;
	int64_t status_before;
	int64_t gone_before;
	int max;
	int statuses;
	int gone;
};

/* WMSG_SUB: stores val under name (store_wsub_put), or deletes the name's
 * record with del (store_wsub_del).  It touches no collection. */
#define WSUB_NAME_MAX 200 /* STORE_SUB_NAME_MAX */
struct wmsg_sub {
	char name[WSUB_NAME_MAX + 1];
	void *val; /* owned (hub_malloc); NULL with del */
	size_t len;
	int del;
};

/* WMSG_FEED: a feed's status record (hdr) and, with state_set, its
 * connector's saved state (state, statelen; statelen 0: removed), both in
 * one transaction (store_wfeed_put).  It touches no collection. */
struct wmsg_feed {
	char name[WSUB_NAME_MAX + 1];
	void *hdr; /* owned (hub_malloc) */
	size_t hdrlen;
	int state_set;
	void *state; /* owned (hub_malloc), may be NULL */
	size_t statelen;
};

struct wmsg {
	TAILQ_ENTRY(wmsg) entry; /* the writer's */
	int kind;		 /* enum wmsg_kind */
	union {
		struct wmsg_add add;
		struct wmsg_delete del;
		struct wmsg_release rel;
		struct wmsg_directory dir;
		struct wmsg_prune prune;
		struct wmsg_sub sub;
		struct wmsg_feed feed;
	} u;
	wmsg_done_cb *done;
	void *arg;
};

/* Zeroes the message and sets its kind. */
void wmsg_init(struct wmsg *, int kind);
/* Frees what the message owns (by its kind) and zeroes it. */
void wmsg_clear(struct wmsg *);
/* Objects the message carries (grouping weight, metrics). */
size_t wmsg_objects(const struct wmsg *);

/* One collection a commit touched. */
struct wcommit_coll {
	uint32_t coll;
	/* every entry the transaction added to the collection (a new or
	 * linked object, a release twin) has a date_added in [first, last];
	 * both the added ones' own: (0, 0) when none was added */
	int64_t first, last;
	size_t added;	   /* entries added */
	size_t removed;	   /* versions deleted */
	int64_t gone_last; /* the newest gone record written for it (each
			      version deleted leaves one), 0: none */
};

/*
 * What one committed transaction changed.  Every commit is published once
 * (a group, or one message retried alone), after it is durable; nothing
 * is published of a transaction that was aborted.
 */
struct wcommit {
	const struct wcommit_coll *colls; /* the collections touched */
	int ncolls;
	int64_t first, last; /* over all of them; (0, 0): nothing added */
	size_t added, removed;
	size_t objects;	   /* objects the messages carried */
	int nmsgs;	   /* messages committed */
	int64_t apply_us;  /* begin to the end of the last apply */
	int64_t commit_us; /* the commit and its sync */
	int64_t committed; /* when it was durable (tstamp) */
};

/*
 * The collections of commits, gathered by a subscriber (under its own
 * lock) until its loop takes them: push and the event streams wake what
 * watches those.  Past WCOLLSET_MAX, or for a commit published without
 * its collections, every collection counts.
 */
#define WCOLLSET_MAX 64
struct wcollset {
	uint32_t v[WCOLLSET_MAX];
	int n;
	int all;
};
void wcollset_add(struct wcollset *, const struct wcommit *);
int wcollset_has(const struct wcollset *, uint32_t coll);

/*
 * Called in the writer thread after each commit, before the messages'
 * done; `c` is borrowed for the call.  It holds up the writer: it must be
 * cheap and never block (copy what it needs, wake its own loop), and must
 * not call writer_subscribe or writer_unsubscribe.
 */
typedef void writer_commit_cb(const struct wcommit *c, void *arg);

/* Starts the thread at scheduling niceness `nice` (0: the caller's). */
struct writer *writer_start(struct store *, int nice);
/* Queues a message; returns at once.  Thread-safe. */
void writer_submit(struct writer *, struct wmsg *);
/* Messages waiting for the writer (for metrics and tests).  Thread-safe. */
int writer_queued(struct writer *);
/* 1 while the thread takes messages (for readiness).  Thread-safe. */
int writer_alive(struct writer *);
/* Adds a commit subscriber (at most WRITER_MAX_SUBS); 0 or -1.  Thread-
 * safe; after writer_unsubscribe returns, cb runs no more for arg. */
#define WRITER_MAX_SUBS 8
int writer_subscribe(struct writer *, writer_commit_cb *cb, void *arg);
void writer_unsubscribe(struct writer *, writer_commit_cb *cb, void *arg);
/* How long gone records are kept (seconds; gone_keep): the writer's own
 * prune deletes older ones.  0 keeps them for ever.  Thread-safe. */
#define WRITER_GONE_KEEP (7 * 86400)
void writer_set_gone_keep(struct writer *, int64_t seconds);
/* Finishes the queued messages, then stops the thread. */
void writer_stop(struct writer *);

/*
 * Fault injection, for tests: called in the transaction before each
 * message is applied; a store_err other than STORE_OK fails that attempt
 * as the store would.  Set it before submitting.
 */
typedef int writer_fault_cb(const struct wmsg *, void *arg);
void writer_set_fault(struct writer *, writer_fault_cb *, void *arg);

/* --- between writer.c and writer_apply.c --- */

/* What the transaction being built has changed so far (a wcommit). */
struct wacc {
	struct wcommit c;
	struct wcommit_coll *colls;
	int cap;
	int failed; /* out of memory: the commit is published without
		       collections */
};

void wacc_reset(struct wacc *);
void wacc_free(struct wacc *);
/* Applies one attempt of m in the transaction and adds its effects to
 * acc; returns a store_err. */
int wmsg_apply(struct store_wtxn *, struct wmsg *, struct wacc *);

#endif
