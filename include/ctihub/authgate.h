/*
 * authgate.h -- the gate in front of the slow password check of HTTP
 * Basic logins.  It decides, cheaply and without the check, what to do
 * with a credential, and remembers what the checks answered:
 *
 *   - a credential that passed is cached (keyed by a digest of the
 *     Authorization header under a per-process random key) for a TTL and
 *     one configuration generation; a cached credential is never delayed;
 *   - failures are counted per (address, account), per address (all
 *     accounts) and per account (all addresses).  Past `fail_free`
 *     failures an (address, account) pair, and past `fail_free_addr` an
 *     address, must wait `fail_delay`, doubled by each further failure up
 *     to `fail_max_delay`, before its next check (the caller answers 429
 *     with Retry-After).  Past `fail_free_account` an account is checked
 *     at most once per `fail_delay` from anywhere: a distributed guesser
 *     gets one guess a second per account, and never a lock-out;
 *   - the credential that last passed for an account bypasses every one
 *     of those rules and has its own queue, served first: a member who
 *     knows its password is not locked out by someone guessing it, from
 *     any address, its own included;
 *   - at most `queue` checks wait or run at once per class (that bypass,
 *     and everything else); beyond it the caller answers 503;
 *   - requests that carry the same credential while it is being checked
 *     wait for that one check.
 * Counts are forgotten 2 * fail_max_delay after the last failure, and at
 * most `track` addresses, accounts and pairs are remembered (the least
 * recently used go first; those holding a last good credential last).
 * Attempts the gate turns away are not failures: they cost nothing.
 *
 * The check itself (cred_pw_verify) is the caller's, run on a thread pool
 * with the job it gave authgate_admit.  Thread-safe (one mutex, never held
 * across a check or a callback); times are passed in, in microseconds, so
 * the rules are tested without a clock.
 */
#ifndef CTIHUB_AUTHGATE_H
#define CTIHUB_AUTHGATE_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/member.h"

#define AUTHGATE_DIGEST	  32
#define AUTHGATE_ADDR_MAX 64

struct authgate_limits {
	int64_t cache_ttl; /* us; 0: nothing cached */
	int fail_free;
	int fail_free_addr;
	int fail_free_account;
	int64_t fail_delay; /* us */
	int64_t fail_max_delay;
	int queue;
	int track;
};

/* A request waiting for a check, embedded in the caller's request
 * context; `ok` is set before authgate_done hands it back. */
struct authgate_wait {
	struct authgate_wait *next;
	int ok;
};

enum authgate_verdict {
	AUTHGATE_QUEUED = 1, /* a new check: run it on the pool */
	AUTHGATE_JOINED,     /* the same credential is being checked */
	AUTHGATE_THROTTLED,  /* too many failures: retry later (429) */
	AUTHGATE_BUSY,	     /* too many checks in flight (503) */
};

struct authgate;
struct authgate_check;

/* NULL when out of memory or without randomness. */
struct authgate *authgate_new(void);
/* Every check must be done first. */
void authgate_free(struct authgate *);

/* The digest of an Authorization header under the gate's key. */
void authgate_digest(const struct authgate *, const char *hdr, size_t len,
    unsigned char d[AUTHGATE_DIGEST]);
/* The key failures of `peer` (a numeric address) count under: the address
 * itself, or its /64 for IPv6 (one host holds a whole /64). */
void authgate_addr(const char *peer, char out[AUTHGATE_ADDR_MAX]);

/* 1 and the member id in `id` when the credential passed within the
 * cache TTL under configuration generation `gen`; else 0. */
int authgate_cached(struct authgate *, const unsigned char d[AUTHGATE_DIGEST],
    unsigned long gen, int64_t now, char id[MEMBER_ID_MAX]);

/*
 * What to do with a credential that is not cached: `addr` from
 * authgate_addr, `account` the user name given.  AUTHGATE_QUEUED: a check
 * was queued with `job` and `w` waits for it; the caller runs one
 * authgate_next on its pool.  AUTHGATE_JOINED: `w` waits for the check
 * already queued for the same credential; the caller keeps `job`.
 * AUTHGATE_THROTTLED and AUTHGATE_BUSY: *retry is the seconds to wait; the
 * caller keeps `job`.
 */
int authgate_admit(struct authgate *, const struct authgate_limits *,
    const char *addr, const char *account,
    const unsigned char d[AUTHGATE_DIGEST], unsigned long gen, void *job,
    struct authgate_wait *w, int64_t now, int *retry);

/* Takes the next check to run (the bypass class first) and returns its
 * job; NULL when none is queued. */
void *authgate_next(struct authgate *, struct authgate_check **);

typedef void authgate_wake_cb(struct authgate_wait *, void *arg);
/* Records the answer of a check taken with authgate_next (ok: the
 * password matched a member's hash) and calls wake(w, arg) for each
 * request that waited for it, outside the lock.  Frees the check. */
void authgate_done(struct authgate *, struct authgate_check *, int ok,
    int64_t now, authgate_wake_cb *wake, void *arg);

/* Addresses, accounts and pairs remembered (for tests and metrics). */
size_t authgate_tracked(struct authgate *);

#endif
