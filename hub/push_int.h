/*
 * push_int.h -- the push engine's own parts, shared by push.c (the state
 * machines, scheduling, acknowledgements, retries, metrics) and
 * push_send.c (what one delivery is in each mode: the webhook request and
 * its challenge, TAXII Add Objects, its status resource and DELETE).
 * Everything here lives on the outbound loop's thread.
 */
#ifndef CTIHUB_PUSH_INT_H
#define CTIHUB_PUSH_INT_H

#include <sys/queue.h>

#include <pthread.h>
#include <stdatomic.h>

#include "ctihub/buf.h"
#include "ctihub/events.h"
#include "ctihub/subscription.h"
#include "ctihub/view.h"
#include "ctihub/webhook.h"

#include "fetch.h"
#include "push.h"
#include "writer.h"

/* a psub's state is written at most this often (microseconds) after
 * acknowledgements; the tick writes what is left */
#define PUSH_SAVE_US 250000

/* delivery latency buckets (seconds), commit to acknowledgement */
#define PUSH_NBUCKETS 14

/* What the metrics and `push status` show of one (subscription,
 * collection); under push.mu (the operations worker reads it). */
struct push_stats {
	struct push_state st;
	uint64_t ok, failed; /* deliveries */
	uint64_t lat[PUSH_NBUCKETS + 1];
	double lat_sum;
	uint64_t lat_n;
	int64_t lag_objects; /* -1: not known yet */
	int64_t lag_seconds;
};

/* The delivery in flight. */
struct push_batch {
	int64_t from, to;
	size_t nobj, ndel; /* events carried */
	int kind;	/* EV_OBJECT (objects and revocations) or EV_DELETE */
	int thin;	/* a webhook notice */
	struct buf ids; /* the audit record's ids, JSON strings, ',' */
	int64_t *added; /* the events' date_added (latency), nobj+ndel */
	size_t nadded;
	/* TAXII deletions: one DELETE each, in order */
	char (*del_url)[1024];
	size_t ndone;
	/* TAXII: the status resource being followed */
	char status_url[1024];
	int polls;
	int keep_err; /* acknowledged, but the error stays on record */
};

enum psub_phase {
	PS_IDLE = 0,
	PS_WAIT,      /* the timer runs: max_delay, a retry, a status poll */
	PS_SENDING,   /* a request is in flight */
	PS_SUSPENDED, /* until the admin changes or resumes it */
};

struct pshard;

/* One (subscription, collection). */
struct psub {
	TAILQ_ENTRY(psub) entry;
	struct pshard *p;
	char key[PUSH_KEY_MAX];		/* "<sub>/<coll id>" */
	const struct subscription *sub; /* in p->rt */
	const struct sub_coll *sc;
	uint32_t coll;
	struct view_query q; /* the filters (sub->query), parsed */
	int qok;
	uint64_t target_hash; /* webhook: what `verified` must equal */
	struct webhook_key *key_sign;
	struct push_state st; /* in memory; the database's may lag */
	int phase;
	int dirty;    /* a commit touched the collection since the walk */
	int dead;     /* removed by a reload: freed when idle */
	size_t limit; /* events per batch (halved by 413) */
	int64_t last_send;
	struct event *timer;
	int timer_for; /* what the timer does: enum psub_timer */
	struct push_batch b;
	/* the save of st in flight (one at most; again when resave) */
	struct wmsg save;
	int saving, resave;
	int64_t saved_cursor;	 /* the cursor of the last save */
	int64_t saved_at;	 /* tstamp_mono of the last save */
	int64_t lag_n, lag_s;	 /* the tick's count, before stats */
	struct runtime *hold;	 /* dead: the snapshot of s->sub */
	struct push_stats stats; /* under p->mu */
};

enum psub_timer {
	PT_RUN = 1, /* the next batch */
	PT_POLL,    /* the TAXII status again */
};

/*
 * One push thread: an outbound loop (fetch.h) of its own, a read handle,
 * and the (subscription, collection) pairs whose key hashes to it, so
 * deliveries run on as many cores as push_threads gives them.
 */
struct pshard {
	struct hub *hub;
	int index, nshards;
	struct fetcher *f;
	struct event_base *base; /* the fetcher's */
	struct store_reader *r;
	struct runtime *rt;
	TAILQ_HEAD(, psub) subs;
	struct event *tick; /* every second: cursors to keep; lags */
	unsigned ticks;
	int started;
	int stopping; /* the loop's own */
	/* writer commits, coalesced (any thread) */
	pthread_mutex_t cmu;
	struct wcollset pend;
	int call_queued;
	/* the fetcher is being stopped: no more calls into it (under cmu) */
	int fgone;
	/* stats for /metrics (the operations worker) */
	pthread_mutex_t mu;
};

/* The engine: its threads. */
struct push {
	struct hub *hub;
	struct pshard *v;
	int n;
};

/* push.c, for push_send.c */
void psub_ack(struct psub *);
void psub_fail(struct psub *, int retry_after, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void psub_gone(struct psub *, const char *why);
void psub_smaller(struct psub *);
void psub_poll_later(struct psub *, int ms);
void psub_verified(struct psub *);
void psub_audit_failures(struct psub *, const char *what);

/* push_send.c */
/* Renders the batch's request and submits it; the response goes to
 * psub_ack / psub_fail.  Inside the read transaction of p->r. */
int send_batch(struct psub *, const struct event_batch *, size_t n);
void send_challenge(struct psub *);
void send_status_poll(struct psub *);
void send_next_delete(struct psub *);
void batch_clear(struct push_batch *);

#endif
