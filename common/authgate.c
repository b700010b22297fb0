/*
 * authgate.c -- the gate in front of the slow password check (see
 * authgate.h): the cache of good credentials, failure counts per
 * (address, account), address and account with their backoff, the last
 * good credential of each account, the bounded queues of checks and the
 * sharing of one check between requests with the same credential.  Does
 * not check passwords itself: the caller runs the check with the job it
 * queued.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ctihub/alloc.h"
#include "ctihub/authgate.h"

#define CACHE_SLOTS 4096
#define BUCKETS	    16384

enum kind { K_PAIR, K_ADDR, K_ACCOUNT, K_COUNT };

/* What the gate remembers of a pair, an address or an account. */
struct ent {
	struct ent *hnext;
	TAILQ_ENTRY(ent) lru;
	uint64_t h;
	int kind;
	char addr[AUTHGATE_ADDR_MAX];
	char account[MEMBER_ID_MAX];
	int fails;	   /* since the last success (pairs) or forgetting */
	int inflight;	   /* checks queued or running that count here */
	int64_t last_fail; /* us */
	int64_t last_try;  /* accounts: last check admitted past the limit */
	int hasgood;	   /* accounts: `good` holds the last good digest */
	unsigned char good[AUTHGATE_DIGEST];
};

TAILQ_HEAD(entlist, ent);

struct authgate_check {
	TAILQ_ENTRY(authgate_check) entry;
	unsigned char d[AUTHGATE_DIGEST];
	unsigned long gen;
	int cls; /* 0: an account's last good credential; 1: others */
	void *job;
	struct ent *e[K_COUNT];
	char account[MEMBER_ID_MAX];
	int64_t cache_ttl;
	int64_t forget; /* us: failures older than this are forgotten */
	struct authgate_wait *waiters;
};

TAILQ_HEAD(checklist, authgate_check);

struct cslot {
	unsigned char d[AUTHGATE_DIGEST];
	char id[MEMBER_ID_MAX];
	unsigned long gen;
	int64_t expires;
};

struct authgate {
	pthread_mutex_t lock;
	unsigned char key[32];
	struct ent *bucket[BUCKETS];
	struct entlist plain; /* least recently used last */
	struct entlist good;  /* accounts holding a good digest */
	size_t count;
	struct checklist queued[2];
	struct checklist running;
	int pending[2];
	struct cslot cache[CACHE_SLOTS];
};

static int
dequal(const unsigned char *a, const unsigned char *b)
{
	return CRYPTO_memcmp(a, b, AUTHGATE_DIGEST) == 0;
}

struct authgate *
authgate_new(void)
{
	struct authgate *g;
	int i;

	if ((g = hub_calloc(1, sizeof(*g))) == NULL)
		return NULL;
	if (RAND_bytes(g->key, sizeof(g->key)) != 1) {
		hub_free(g);
		return NULL;
	}
	pthread_mutex_init(&g->lock, NULL);
	TAILQ_INIT(&g->plain);
	TAILQ_INIT(&g->good);
	for (i = 0; i < 2; i++)
		TAILQ_INIT(&g->queued[i]);
	TAILQ_INIT(&g->running);
	return g;
}

void
authgate_free(struct authgate *g)
{
	struct ent *e;
	int i;

	if (g == NULL)
		return;
	for (i = 0; i < BUCKETS; i++)
		while ((e = g->bucket[i]) != NULL) {
			g->bucket[i] = e->hnext;
			hub_free(e);
		}
	pthread_mutex_destroy(&g->lock);
	OPENSSL_cleanse(g, sizeof(*g));
	hub_free(g);
}

void
authgate_digest(const struct authgate *g, const char *hdr, size_t len,
    unsigned char d[AUTHGATE_DIGEST])
{
	unsigned int n = AUTHGATE_DIGEST;

	HMAC(EVP_sha256(), g->key, sizeof(g->key), (const unsigned char *)hdr,
	    len, d, &n);
}

void
authgate_addr(const char *peer, char out[AUTHGATE_ADDR_MAX])
{
	struct in6_addr a6;
	char s[INET6_ADDRSTRLEN];

	if (strchr(peer, ':') == NULL || inet_pton(AF_INET6, peer, &a6) != 1) {
		snprintf(out, AUTHGATE_ADDR_MAX, "%s", peer);
		return;
	}
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		inet_ntop(AF_INET, &a6.s6_addr[12], s, sizeof(s));
		snprintf(out, AUTHGATE_ADDR_MAX, "%s", s);
		return;
	}
	memset(&a6.s6_addr[8], 0, 8);
	inet_ntop(AF_INET6, &a6, s, sizeof(s));
	snprintf(out, AUTHGATE_ADDR_MAX, "%s/64", s);
}

int
authgate_cached(struct authgate *g, const unsigned char d[AUTHGATE_DIGEST],
    unsigned long gen, int64_t now, char id[MEMBER_ID_MAX])
{
	struct cslot *s = &g->cache[(d[0] | (unsigned)d[1] << 8) % CACHE_SLOTS];
	int hit;

	pthread_mutex_lock(&g->lock);
	hit = s->gen == gen && s->expires > now && dequal(s->d, d);
	if (hit)
		memcpy(id, s->id, MEMBER_ID_MAX);
	pthread_mutex_unlock(&g->lock);
	return hit;
}

/* A keyed hash of an entry's key: the names come from the network. */
static uint64_t
ent_hash(
    const struct authgate *g, int kind, const char *addr, const char *account)
{
	unsigned char in[1 + AUTHGATE_ADDR_MAX + MEMBER_ID_MAX + 2];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = sizeof(md);
	size_t n = 0, l;
	uint64_t h;

	in[n++] = (unsigned char)kind;
	l = strlen(addr);
	memcpy(in + n, addr, l + 1);
	n += l + 1;
	l = strlen(account);
	memcpy(in + n, account, l + 1);
	n += l + 1;
	HMAC(EVP_sha256(), g->key, sizeof(g->key), in, n, md, &mdlen);
	memcpy(&h, md, sizeof(h));
	return h;
}

static struct entlist *
lru_of(struct authgate *g, const struct ent *e)
{
	return e->hasgood ? &g->good : &g->plain;
}

/* Finds or makes the entry; NULL when out of memory.  Moves it to the
 * front of its LRU list. */
static struct ent *
ent_get(struct authgate *g, uint64_t h, int kind, const char *addr,
    const char *account)
{
	struct ent **b = &g->bucket[h % BUCKETS], *e;

	for (e = *b; e != NULL; e = e->hnext)
		if (e->h == h && e->kind == kind &&
		    strcmp(e->addr, addr) == 0 &&
		    strcmp(e->account, account) == 0) {
			TAILQ_REMOVE(lru_of(g, e), e, lru);
			TAILQ_INSERT_HEAD(lru_of(g, e), e, lru);
			return e;
		}
	if ((e = hub_calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->h = h;
	e->kind = kind;
	snprintf(e->addr, sizeof(e->addr), "%s", addr);
	snprintf(e->account, sizeof(e->account), "%s", account);
	e->hnext = *b;
	*b = e;
	TAILQ_INSERT_HEAD(&g->plain, e, lru);
	g->count++;
	return e;
}

static void
ent_drop(struct authgate *g, struct ent *e)
{
	struct ent **p = &g->bucket[e->h % BUCKETS];

	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
	TAILQ_REMOVE(lru_of(g, e), e, lru);
	g->count--;
	hub_free(e);
}

/* Forgets the least recently used entries beyond `track`: plain ones
 * first, never one a check counts on or one of `keep`. */
static void
trim(struct authgate *g, size_t track, struct ent *const keep[K_COUNT])
{
	struct entlist *lists[2] = {&g->plain, &g->good};
	struct ent *e, *prev;
	int i;

	for (i = 0; i < 2 && g->count > track; i++)
		for (e = TAILQ_LAST(lists[i], entlist);
		     e != NULL && g->count > track; e = prev) {
			prev = TAILQ_PREV(e, entlist, lru);
			if (e->inflight > 0 || e == keep[0] || e == keep[1] ||
			    e == keep[2])
				continue;
			ent_drop(g, e);
		}
}

static void
forget(struct ent *e, int64_t now, int64_t after)
{
	if (e->fails > 0 && now - e->last_fail >= after)
		e->fails = 0;
}

/* Microseconds before the next check may count on `e`, 0 for now: none
 * while fewer than `free` failures (counting checks in flight), then
 * fail_delay after the last failure, doubled by each further failure up
 * to fail_max_delay, one check at a time. */
static int64_t
backoff(const struct ent *e, int free, const struct authgate_limits *lim,
    int64_t now)
{
	int64_t d = lim->fail_delay, t;
	int k;

	if (e->fails + e->inflight < free)
		return 0;
	if (e->inflight > 0)
		return lim->fail_delay;
	for (k = free; k < e->fails && d < lim->fail_max_delay; k++)
		d *= 2;
	if (d > lim->fail_max_delay)
		d = lim->fail_max_delay;
	t = e->last_fail + d;
	return t > now ? t - now : 0;
}

/* An account past its limit: one check at a time, one per fail_delay. */
static int64_t
account_wait(
    const struct ent *m, const struct authgate_limits *lim, int64_t now)
{
	int64_t t;

	if (m->fails < lim->fail_free_account)
		return 0;
	if (m->inflight > 0)
		return lim->fail_delay;
	t = m->last_try + lim->fail_delay;
	return t > now ? t - now : 0;
}

static struct authgate_check *
find_check(struct authgate *g, const unsigned char *d, unsigned long gen)
{
	struct checklist *lists[3] = {
	    &g->queued[0], &g->queued[1], &g->running};
	struct authgate_check *c;
	int i;

	for (i = 0; i < 3; i++)
		for (c = TAILQ_FIRST(lists[i]); c != NULL;
		     c = TAILQ_NEXT(c, entry))
			if (c->gen == gen && dequal(c->d, d))
				return c;
	return NULL;
}

static int
seconds(int64_t us)
{
	int64_t s = (us + 999999) / 1000000;

	return s < 1 ? 1 : s > INT_MAX ? INT_MAX : (int)s;
}

int
authgate_admit(struct authgate *g, const struct authgate_limits *lim,
    const char *addr, const char *account,
    const unsigned char d[AUTHGATE_DIGEST], unsigned long gen, void *job,
    struct authgate_wait *w, int64_t now, int *retry)
{
	struct authgate_check *c;
	struct ent *e[K_COUNT] = {NULL, NULL, NULL};
	uint64_t h[K_COUNT];
	int64_t wait = 0, t, forget_after = 2 * lim->fail_max_delay;
	int i, trusted, rc;

	h[K_PAIR] = ent_hash(g, K_PAIR, addr, account);
	h[K_ADDR] = ent_hash(g, K_ADDR, addr, "");
	h[K_ACCOUNT] = ent_hash(g, K_ACCOUNT, "", account);
	*retry = 1;
	w->next = NULL;
	w->ok = 0;
	pthread_mutex_lock(&g->lock);
	if ((c = find_check(g, d, gen)) != NULL) {
		w->next = c->waiters;
		c->waiters = w;
		pthread_mutex_unlock(&g->lock);
		return AUTHGATE_JOINED;
	}
	rc = AUTHGATE_BUSY; /* out of memory reads as busy */
	if ((e[K_PAIR] = ent_get(g, h[K_PAIR], K_PAIR, addr, account)) ==
		NULL ||
	    (e[K_ADDR] = ent_get(g, h[K_ADDR], K_ADDR, addr, "")) == NULL ||
	    (e[K_ACCOUNT] = ent_get(g, h[K_ACCOUNT], K_ACCOUNT, "", account)) ==
		NULL)
		goto out;
	trusted = e[K_ACCOUNT]->hasgood && dequal(e[K_ACCOUNT]->good, d);
	if (!trusted) {
		for (i = 0; i < K_COUNT; i++)
			forget(e[i], now, forget_after);
		if ((t = backoff(e[K_PAIR], lim->fail_free, lim, now)) > wait)
			wait = t;
		if ((t = backoff(e[K_ADDR], lim->fail_free_addr, lim, now)) >
		    wait)
			wait = t;
		if ((t = account_wait(e[K_ACCOUNT], lim, now)) > wait)
			wait = t;
		if (wait > 0) {
			*retry = seconds(wait);
			rc = AUTHGATE_THROTTLED;
			goto out;
		}
	}
	if (g->pending[!trusted] >= lim->queue ||
	    (c = hub_calloc(1, sizeof(*c))) == NULL)
		goto out;
	if (!trusted && e[K_ACCOUNT]->fails >= lim->fail_free_account)
		e[K_ACCOUNT]->last_try = now;
	memcpy(c->d, d, AUTHGATE_DIGEST);
	c->gen = gen;
	c->cls = !trusted;
	c->job = job;
	snprintf(c->account, sizeof(c->account), "%s", account);
	c->cache_ttl = lim->cache_ttl;
	c->forget = forget_after;
	c->waiters = w;
	for (i = 0; i < K_COUNT; i++) {
		c->e[i] = e[i];
		e[i]->inflight++;
	}
	TAILQ_INSERT_TAIL(&g->queued[c->cls], c, entry);
	g->pending[c->cls]++;
	rc = AUTHGATE_QUEUED;
out:
	trim(g, (size_t)lim->track, e);
	pthread_mutex_unlock(&g->lock);
	return rc;
}

void *
authgate_next(struct authgate *g, struct authgate_check **out)
{
	struct authgate_check *c;

	pthread_mutex_lock(&g->lock);
	if ((c = TAILQ_FIRST(&g->queued[0])) == NULL)
		c = TAILQ_FIRST(&g->queued[1]);
	if (c != NULL) {
		TAILQ_REMOVE(&g->queued[c->cls], c, entry);
		TAILQ_INSERT_TAIL(&g->running, c, entry);
	}
	pthread_mutex_unlock(&g->lock);
	*out = c;
	return c != NULL ? c->job : NULL;
}

static void
set_good(struct authgate *g, struct ent *m, const unsigned char *d)
{
	if (d != NULL) {
		memcpy(m->good, d, AUTHGATE_DIGEST);
		if (m->hasgood)
			return;
	} else if (!m->hasgood)
		return;
	TAILQ_REMOVE(lru_of(g, m), m, lru);
	m->hasgood = d != NULL;
	TAILQ_INSERT_HEAD(lru_of(g, m), m, lru);
}

void
authgate_done(struct authgate *g, struct authgate_check *c, int ok, int64_t now,
    authgate_wake_cb *wake, void *arg)
{
	struct authgate_wait *w, *next;
	struct ent *m = c->e[K_ACCOUNT];
	int i;

	pthread_mutex_lock(&g->lock);
	TAILQ_REMOVE(&g->running, c, entry);
	g->pending[c->cls]--;
	for (i = 0; i < K_COUNT; i++)
		c->e[i]->inflight--;
	if (ok) {
		c->e[K_PAIR]->fails = 0;
		set_good(g, m, c->d);
		if (c->cache_ttl > 0) {
			struct cslot *s =
			    &g->cache[(c->d[0] | (unsigned)c->d[1] << 8) %
				CACHE_SLOTS];

			memcpy(s->d, c->d, AUTHGATE_DIGEST);
			memcpy(s->id, c->account, MEMBER_ID_MAX);
			s->gen = c->gen;
			s->expires = now + c->cache_ttl;
		}
	} else {
		for (i = 0; i < K_COUNT; i++) {
			forget(c->e[i], now, c->forget);
			if (c->e[i]->fails < INT_MAX / 2)
				c->e[i]->fails++;
			c->e[i]->last_fail = now;
		}
		if (m->hasgood && dequal(m->good, c->d))
			set_good(g, m, NULL);
	}
	w = c->waiters;
	OPENSSL_cleanse(c, sizeof(*c));
	hub_free(c);
	pthread_mutex_unlock(&g->lock);
	for (; w != NULL; w = next) {
		next = w->next; /* wake may free w */
		w->ok = ok;
		wake(w, arg);
	}
}

size_t
authgate_tracked(struct authgate *g)
{
	size_t n;

	pthread_mutex_lock(&g->lock);
	n = g->count;
	pthread_mutex_unlock(&g->lock);
	return n;
}
