/*
 * push.h -- delivery of each subscription's filtered collection as it
 * grows: by webhook (Standard Webhooks v1) or into the subscriber's own
 * TAXII 2.1 server.  (Streams, the third mode, are served by the HTTP
 * workers: taxii_stream.c.)
 *
 * Push is a poll the hub makes for the subscriber: from the subscription's
 * cursor, the next events the member may see under the subscription's
 * filters (events.h: view_page and the deletion records, the one policy
 * function, at the moment of sending), rendered into one request.  The
 * cursor moves only when the receiver acknowledged (a 2xx; for TAXII, a
 * complete status resource), and is kept in the database (table `subs`,
 * through the writer), so a restart or a crash resumes where the last
 * acknowledgement left: at least once, in date_added order.
 *
 * All of it runs on the outbound loop (fetch.h): one state machine per
 * (subscription, collection) with its own timer, its own read transaction
 * per batch, and one request in flight at most.  A receiver that fails,
 * hangs or is slow only delays its own subscription.
 */
#ifndef CTIHUB_PUSH_H
#define CTIHUB_PUSH_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

struct hub;
struct runtime;
struct push;
struct fetcher;

/* The state of one (subscription, collection), as kept in `subs` under
 * "<subscription>/<collection id>" (push_state.c: the CLI reads it). */
enum push_susp {
	PUSH_ACTIVE = 0,
	PUSH_SUSPENDED = 1, /* retried for push_retry_for without success */
	PUSH_GONE = 2,	    /* the receiver answered 410 Gone */
};
#define PUSH_ERR_MAX 240
struct push_state {
	int64_t cursor;		/* date_added of the last acknowledged event */
	int64_t last_ok;	/* when the receiver last acknowledged */
	int64_t last_attempt;	/* when a delivery was last tried */
	int64_t first_fail;	/* the first failure of the current run */
	int64_t next_retry;	/* when the next try is due (0: none) */
	uint32_t attempts;	/* failures since the last success */
	int suspended;		/* enum push_susp */
	uint64_t verified;	/* webhook: the target the challenge passed */
	uint64_t delivered;	/* objects acknowledged, in all */
	char err[PUSH_ERR_MAX]; /* the last error, "" none */
};
#define PUSH_STATE_MAX (1 + 8 * 7 + 4 + 1 + 2 + PUSH_ERR_MAX)
#define PUSH_KEY_MAX   128 /* "<subscription>/<collection id>" and NUL */
size_t push_state_encode(const struct push_state *, unsigned char *out);
int push_state_decode(const void *, size_t, struct push_state *);
/* The key of a (subscription, collection) in `subs`. */
void push_state_key(const char *sub, const char *coll, char *out, size_t len);

struct store_reader;
struct wmsg;
/* The state kept under key, inside a read transaction: 1, 0 when there is
 * none, -1 when the record is unreadable (ps zeroed either way). */
int push_state_get(struct store_reader *, const char *key, struct push_state *);
/* Makes m the WMSG_SUB that keeps ps under key: 0, or -1 out of memory
 * (m is then cleared by wmsg_clear as usual). */
int push_state_msg(struct wmsg *m, const char *key, const struct push_state *);
/* Entries of coll after cursor (at most max) and the age in seconds of
 * the oldest of them, inside a read transaction. */
void push_lag(struct store_reader *, uint32_t coll, int64_t cursor, int64_t max,
    int64_t *n, int64_t *secs);

/* Makes the engine (no thread yet). */
struct push *push_new(struct hub *);
/* The outbound address check: public addresses, and the networks of
 * push_allow.  Runs on a push thread (arg: its shard). */
int push_addr_check(const struct sockaddr *, socklen_t, void *shard);
/* Starts push_threads threads, each an outbound loop (fetch.h) with the
 * (subscription, collection) pairs whose key hashes to it; after the
 * writer started. */
int push_start(struct push *, struct runtime *);
/* A reload: the new snapshot's subscriptions and policy. */
void push_reconfigure(struct push *, struct runtime *);
/* After the HTTP workers: stops the threads (deliveries in flight end,
 * cursors not kept yet go to the writer). */
void push_stop(struct push *);
/* After writer_stop: frees the engine. */
void push_free(struct push *);

#endif
