/*
 * push.c -- the push engine: one state machine per (subscription,
 * collection) on the outbound loop.  See push.h for what it guarantees.
 *
 *   IDLE --(a commit touched the collection, or a timer)--> walk: the next
 *   events from the cursor (events_next, under the snapshot's policy) -->
 *   none: the cursor moves past what the member may not see, IDLE;
 *   some: one request (push_send.c) --> SENDING --> acknowledged: the
 *   cursor moves to the batch's end (kept in the database, through the
 *   writer), the next batch at once while more wait; failed: WAIT for
 *   the retry (backoff with jitter), or SUSPENDED after push_retry_for,
 *   or at once for 410.
 *
 * Batching: a walk starts at most once per max_delay after the last
 * request, so a busy collection goes out in full batches and a quiet one
 * within max_delay of the commit.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctihub/alloc.h"
#include "ctihub/audit.h"
#include "ctihub/conf.h"
#include "ctihub/hash.h"
#include "ctihub/log.h"
#include "ctihub/marking.h"
#include "ctihub/metrics.h"
#include "ctihub/policy.h"
#include "ctihub/store.h"
#include "ctihub/tstamp.h"

#include "hub.h"
#include "push_int.h"

static void run(struct psub *);
static void schedule(struct psub *, int64_t delay_ms, int what);
static void save(struct psub *);
static int reap(struct psub *);
static void psub_free(struct psub *);
static void render_metrics(struct buf *, void *);

static const double lat_bounds[PUSH_NBUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 60};

/* --- the address check --- */

int
push_addr_check(const struct sockaddr *sa, socklen_t len, void *arg)
{
	struct pshard *p = arg;

	if (fetch_addr_public(sa, len, NULL))
		return 1;
	/* p->rt is the fetch thread's, and this runs there */
	return p != NULL && p->rt != NULL &&
	    conf_push_allowed(p->rt->conf, sa, len);
}

/* --- statistics (read by /metrics on another thread) --- */

static void
stats_state(struct psub *s)
{
	pthread_mutex_lock(&s->p->mu);
	s->stats.st = s->st;
	pthread_mutex_unlock(&s->p->mu);
}

static void
stats_delivered(struct psub *s, int ok)
{
	int64_t now = tstamp_now();
	size_t i;
	int k;

	pthread_mutex_lock(&s->p->mu);
	if (ok) {
		s->stats.ok++;
		for (i = 0; i < s->b.nadded; i++) {
			double d = (double)(now - s->b.added[i]) / 1e6;

			for (k = 0; k < PUSH_NBUCKETS && d > lat_bounds[k]; k++)
				;
			s->stats.lat[k]++;
			s->stats.lat_sum += d < 0 ? 0 : d;
			s->stats.lat_n++;
		}
	} else
		s->stats.failed++;
	s->stats.st = s->st;
	pthread_mutex_unlock(&s->p->mu);
}

/* --- the audit trail --- */

static void
audit_event(struct psub *s, const char *event, const char *why)
{
	struct audit *a = s->p->hub->audit;
	struct buf b = BUF_INIT;

	if (!audit_on(a))
		return;
	audit_begin(&b, event);
	audit_str(&b, "member", s->sub->member);
	audit_str(&b, "subscription", s->sub->name);
	audit_str(&b, "collection", s->sc->id);
	audit_str(&b, "why", why);
	audit_end(a, &b);
}

void
psub_audit_failures(struct psub *s, const char *what)
{
	audit_event(s, "push-failures", what);
}

/* The delivery record: who received which objects, and how. */
static void
audit_delivery(struct psub *s)
{
	struct audit *a = s->p->hub->audit;
	struct buf b = BUF_INIT;

	if (!audit_on(a) || (s->b.ids.len == 0 && !s->b.thin))
		return;
	audit_begin(&b,
	    s->b.kind == EV_DELETE ? "receive-deletions"
		: s->b.thin	   ? "notice"
				   : "receive");
	audit_str(&b, "member", s->sub->member);
	audit_str(&b, "collection", s->sc->id);
	audit_str(&b, "how", s->sub->mode == SUB_TAXII ? "taxii" : "webhook");
	audit_str(&b, "subscription", s->sub->name);
	if (s->b.thin) /* what it announced is read (and audited) later */
		buf_addf(&b, ",\"count\":%zu", s->b.nobj);
	else {
		buf_adds(&b, ",\"ids\":[");
		buf_add(&b, s->b.ids.data, s->b.ids.len);
		buf_addc(&b, ']');
	}
	audit_end(a, &b);
}

/* --- the cursor in the database --- */

/* Runs fn on the shard's loop from another thread; 0 when the loop is
 * stopping (then fn never runs). */
static int
shard_call(struct pshard *p, fetch_call_cb *fn, void *arg)
{
	int ok;

	pthread_mutex_lock(&p->cmu);
	ok = !p->fgone && fetcher_call(p->f, fn, arg) == 0;
	pthread_mutex_unlock(&p->cmu);
	return ok;
}

static void
on_saved_call(struct fetcher *f, void *arg)
{
	struct psub *s = arg;

	(void)f;
	s->saving = 0;
	if (reap(s))
		return;
	if (s->resave && !s->p->stopping) {
		s->resave = 0;
		save(s);
	}
}

static void
on_saved(struct wmsg *m, int rc)
{
	struct psub *s = m->arg;
	struct pshard *p = s->p;

	if (rc != STORE_OK)
		log_warnx("push %s: the state was not saved: %s", s->key,
		    store_strerror(rc));
	wmsg_clear(m);
	/* back to the loop, unless it is stopping (the engine is freed after
	 * the writer, push_free, so the psub is still there) */
	if (!shard_call(p, on_saved_call, s))
		s->saving = 0;
}

/* Writes the state (at most one write in flight; another follows). */
static void
save(struct psub *s)
{
	stats_state(s);
	if (s->saving) {
		s->resave = 1;
		return;
	}
	s->saved_cursor = s->st.cursor;
	s->saved_at = tstamp_mono();
	if (push_state_msg(&s->save, s->key, &s->st) == -1) {
		wmsg_clear(&s->save);
		log_warnx("push %s: out of memory saving the state", s->key);
		return;
	}
	s->save.done = on_saved;
	s->save.arg = s;
	s->saving = 1;
	writer_submit(s->p->hub->writer, &s->save);
}

/* --- outcomes of a delivery --- */

/* Frees a psub a reload removed, once nothing of it is in flight; 1
 * when it is (or will be) gone: the caller leaves it alone. */
static int
reap(struct psub *s)
{
	struct pshard *p = s->p;

	if (!s->dead)
		return 0;
	if (s->phase == PS_SENDING || s->saving)
		return 1;
	pthread_mutex_lock(&p->mu);
	TAILQ_REMOVE(&p->subs, s, entry);
	pthread_mutex_unlock(&p->mu);
	if (s->hold != NULL)
		runtime_unref(s->hold);
	psub_free(s);
	return 1;
}

/* The batch is over; 1 when the psub is gone (reap). */
static int
batch_end(struct psub *s)
{
	batch_clear(&s->b);
	s->phase = PS_IDLE;
	return reap(s);
}

void
psub_ack(struct psub *s)
{
	int64_t now = tstamp_now();

	if (s->b.to > s->st.cursor)
		s->st.cursor = s->b.to;
	s->st.last_ok = now;
	s->st.first_fail = 0;
	s->st.next_retry = 0;
	s->st.attempts = 0;
	if (!s->b.keep_err)
		s->st.err[0] = '\0';
	if (!s->b.thin)
		s->st.delivered += s->b.nobj;
	audit_delivery(s);
	stats_delivered(s, 1);
	/* kept at most every PUSH_SAVE_US (the tick keeps the rest): after a
	 * crash at most that much is delivered again */
	if (tstamp_mono() - s->saved_at >= PUSH_SAVE_US)
		save(s);
	if (batch_end(s))
		return;
	/* more may wait: the next batch at once */
	schedule(s, 0, PT_RUN);
}

/* The delay before retry n (1, 2, ...): doubling from push_backoff_min
 * to push_backoff_max, each drawn in [d/2, d] (jitter). */
static int64_t
backoff_ms(const struct conf *c, uint32_t n)
{
	int64_t d = c->push_backoff_min * 1000,
		max = c->push_backoff_max * 1000;
	uint32_t i;

	if (d < 100)
		d = 100;
	for (i = 1; i < n && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	return d / 2 + (int64_t)(arc4random_uniform((uint32_t)(d / 2 + 1)));
}

static void
suspend(struct psub *s, int how, const char *why)
{
	const struct member *m =
	    members_find(s->p->rt->conf->members, s->sub->member);

	s->st.suspended = how;
	s->st.next_retry = 0;
	s->phase = PS_SUSPENDED;
	log_warnx("push %s: suspended (%s); tell %s's point of contact%s%s%s",
	    s->key, why, s->sub->member,
	    m != NULL && m->email != NULL ? " <" : "",
	    m != NULL && m->email != NULL ? m->email : "",
	    m != NULL && m->email != NULL ? ">" : "");
	audit_event(s, "push-suspended", why);
	save(s);
}

void
psub_fail(struct psub *s, int retry_after, const char *fmt, ...)
{
	const struct conf *c = s->p->rt->conf;
	int64_t now = tstamp_now(), delay;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->st.err, sizeof(s->st.err), fmt, ap);
	va_end(ap);
	s->st.attempts++;
	if (s->st.first_fail == 0)
		s->st.first_fail = now;
	stats_delivered(s, 0);
	if (batch_end(s))
		return;
	if (now - s->st.first_fail >= c->push_retry_for * 1000000) {
		suspend(s, PUSH_SUSPENDED, s->st.err);
		return;
	}
	delay = backoff_ms(c, s->st.attempts);
	if (retry_after > 0 && (int64_t)retry_after * 1000 > delay)
		delay = (int64_t)retry_after * 1000;
	if (delay > c->push_backoff_max * 1000 && retry_after <= 0)
		delay = c->push_backoff_max * 1000;
	s->st.next_retry = now + delay * 1000;
	if (s->st.attempts == 1 || s->st.attempts % 10 == 0)
		log_warnx("push %s: %s (attempt %u; again in %lld ms)", s->key,
		    s->st.err, s->st.attempts, (long long)delay);
	save(s);
	schedule(s, delay, PT_RUN);
}

void
psub_gone(struct psub *s, const char *why)
{
	snprintf(s->st.err, sizeof(s->st.err), "%s", why);
	stats_delivered(s, 0);
	if (!batch_end(s))
		suspend(s, PUSH_GONE, why);
}

void
psub_smaller(struct psub *s)
{
	size_t n = s->b.nobj + s->b.ndel;

	if (n <= 1) {
		psub_fail(s, 0, "413 from the receiver for a single object");
		return;
	}
	s->limit = n / 2;
	log_info("push %s: 413: batches of at most %zu events now", s->key,
	    s->limit);
	if (!batch_end(s))
		schedule(s, 0, PT_RUN);
}

void
psub_poll_later(struct psub *s, int ms)
{
	s->phase = PS_WAIT;
	schedule(s, ms, PT_POLL);
}

void
psub_verified(struct psub *s)
{
	s->st.verified = s->target_hash;
	log_info(
	    "push %s: the webhook endpoint answered the challenge", s->key);
	save(s);
	if (!batch_end(s))
		schedule(s, 0, PT_RUN);
}

/* --- scheduling --- */

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct psub *s = arg;

	(void)fd;
	(void)what;
	if (s->p->stopping || s->phase == PS_SUSPENDED)
		return;
	if (s->timer_for == PT_POLL) {
		s->phase = PS_SENDING;
		send_status_poll(s);
		return;
	}
	s->phase = PS_IDLE;
	run(s);
}

static void
schedule(struct psub *s, int64_t delay_ms, int what)
{
	struct timeval tv;

	if (s->p->stopping || s->phase == PS_SUSPENDED)
		return;
	if (s->phase == PS_WAIT && what == PT_RUN &&
	    evtimer_pending(s->timer, NULL))
		return; /* already waiting (a retry keeps its delay) */
	tv.tv_sec = (time_t)(delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(delay_ms % 1000 * 1000);
	s->timer_for = what;
	s->phase = PS_WAIT;
	evtimer_add(s->timer, &tv);
}

/* A commit touched the collection: walk soon (max_delay after the last
 * request at most), unless busy (the end of the request walks again). */
static void
poke(struct psub *s)
{
	int64_t now = tstamp_mono(), wait;

	s->dirty = 1;
	if (s->phase != PS_IDLE)
		return;
	wait = s->last_send + s->sub->max_delay_ms * 1000 - now;
	schedule(s, wait > 0 ? wait / 1000 : 0, PT_RUN);
}

/* Should the event go to this subscription at all?  Another hub never
 * receives TLP:AMBER+STRICT or TLP:RED, nor objects that came from a hub
 * (its own back, or a third's: no loops in a ring). */
static int
hub_allows(const struct psub *s, const struct event *ev)
{
	const struct pshard *p = s->p;
	const struct subscriptions *subs = p->rt->conf->subs;
	uint32_t producer =
	    ev->kind == EV_DELETE ? ev->producer : ev->item.e.producer;
	int tlp = ev->kind == EV_DELETE ? ev->tlp : ev->item.e.tlp;
	const struct member *m;
	int i, level;

	if (!s->sub->hub)
		return 1;
	level = policy_level(p->rt->policy, producer, tlp);
	if (ev->kind != EV_DELETE && (ev->item.e.flags & STORE_F_UNRESOLVED) &&
	    level < TLP_AMBER)
		level = TLP_AMBER;
	if (level >= TLP_AMBER_STRICT)
		return 0;
	for (i = 0; subs != NULL && i < subs->n; i++) {
		if (!subs->v[i].hub || subs->v[i].peer == NULL)
			continue;
		m = members_find(p->rt->conf->members, subs->v[i].peer);
		if (m != NULL && m->code == producer)
			return 0;
	}
	return 1;
}

/* The next batch: walk from the cursor and send what there is. */
static void
run(struct psub *s)
{
	struct pshard *p = s->p;
	const struct member *m;
	struct event_batch eb;
	struct view_ctx vc;
	size_t i, k;
	int rc;

	if (s->dead || p->stopping || s->phase != PS_IDLE)
		return;
	if (s->st.suspended != PUSH_ACTIVE) {
		s->phase = PS_SUSPENDED;
		return;
	}
	if (!s->qok) {
		psub_fail(s, 0, "the subscription's filters are not valid");
		return;
	}
	if (s->sub->mode == SUB_WEBHOOK && s->st.verified != s->target_hash) {
		s->phase = PS_SENDING;
		s->last_send = tstamp_mono();
		send_challenge(s);
		return;
	}
	if ((m = members_find(p->rt->conf->members, s->sub->member)) == NULL) {
		psub_fail(s, 0, "member %s is not in the members file",
		    s->sub->member);
		return;
	}
	s->dirty = 0;
	memset(&eb, 0, sizeof(eb));
	memset(&vc, 0, sizeof(vc));
	vc.r = p->r;
	vc.pol = p->rt->policy;
	vc.reader = m;
	vc.max_scan = (size_t)p->rt->conf->max_scan;
	if ((rc = store_rbegin(p->r)) != STORE_OK) {
		psub_fail(s, 0, "the database cannot be read: %s",
		    store_strerror(rc));
		return;
	}
	rc = events_next(&vc, &s->q, s->coll, s->st.cursor, s->limit, &eb);
	if (rc != STORE_OK) {
		store_rend(p->r);
		event_batch_clear(&eb);
		psub_fail(s, 0, "reading the collection failed: %s",
		    store_strerror(rc));
		return;
	}
	/* what the subscription's target may not have is left out here,
	 * like the invisible: the cursor passes it */
	for (i = k = 0; i < eb.n; i++)
		if (hub_allows(s, &eb.v[i]))
			eb.v[k++] = eb.v[i];
	eb.n = k;
	if (eb.n == 0) {
		store_rend(p->r);
		if (eb.to > s->st.cursor)
			s->st.cursor = eb.to; /* kept with the next save */
		stats_state(s);
		if (eb.more || s->dirty)
			schedule(s, 0, PT_RUN);
		event_batch_clear(&eb);
		return;
	}
	s->phase = PS_SENDING;
	s->last_send = tstamp_mono();
	s->st.last_attempt = tstamp_now();
	rc = send_batch(s, &eb, eb.n);
	store_rend(p->r);
	event_batch_clear(&eb);
	if (rc == -1)
		psub_fail(s, 0,
		    "the delivery could not be built (out of "
		    "memory)");
}

/* --- commits from the writer (its thread) --- */

static void
on_commits(struct fetcher *f, void *arg)
{
	struct pshard *p = arg;
	struct wcollset pend;
	struct psub *s;

	(void)f;
	pthread_mutex_lock(&p->cmu);
	pend = p->pend;
	p->pend.n = 0;
	p->pend.all = 0;
	p->call_queued = 0;
	pthread_mutex_unlock(&p->cmu);
	if (p->stopping || !p->started)
		return;
	TAILQ_FOREACH(s, &p->subs, entry)
	if (!s->dead && wcollset_has(&pend, s->coll))
		poke(s);
}

static void
shard_commit(struct pshard *p, const struct wcommit *c)
{
	pthread_mutex_lock(&p->cmu);
	wcollset_add(&p->pend, c);
	if (!p->call_queued && !p->fgone)
		p->call_queued = fetcher_call(p->f, on_commits, p) == 0;
	pthread_mutex_unlock(&p->cmu);
}

/* The writer's thread: every shard hears of the collections touched. */
static void
on_commit(const struct wcommit *c, void *arg)
{
	struct push *e = arg;
	int i;

	/* subscription state only (WMSG_SUB): nothing to deliver */
	if (c->ncolls == 0 && c->added == 0 && c->removed == 0)
		return;
	for (i = 0; i < e->n; i++)
		shard_commit(&e->v[i], c);
}

/* --- lags, every few seconds --- */

#define LAG_MAX 100000 /* entries counted at most */

static void
lag(struct psub *s)
{
	push_lag(s->p->r, s->coll, s->st.cursor, LAG_MAX, &s->lag_n, &s->lag_s);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pshard *p = arg;
	struct psub *s;

	(void)fd;
	(void)what;
	if (p->stopping)
		return;
	/* cursors not kept yet (acknowledged within PUSH_SAVE_US of a save,
	 * or moved past what the member may not see) */
	TAILQ_FOREACH(s, &p->subs, entry)
	if (!s->dead && s->saved_cursor != s->st.cursor)
		save(s);
	if (++p->ticks % 5 != 0 || store_rbegin(p->r) != STORE_OK)
		return;
	TAILQ_FOREACH(s, &p->subs, entry)
	if (!s->dead)
		lag(s);
	store_rend(p->r);
	/* never p->mu inside a read transaction (the store's lock is taken
	 * inside p->mu when a reload reads states) */
	pthread_mutex_lock(&p->mu);
	TAILQ_FOREACH(s, &p->subs, entry)
	{
		s->stats.lag_objects = s->lag_n;
		s->stats.lag_seconds = s->lag_s;
	}
	pthread_mutex_unlock(&p->mu);
}

/* --- subscriptions from a snapshot --- */

static uint64_t
target_hash(const struct subscription *sub)
{
	uint64_t h = HASH_FNV1A64_INIT;

	h = hash_fnv1a64(h, sub->target, strlen(sub->target) + 1);
	if (sub->secret != NULL)
		h = hash_fnv1a64(h, sub->secret, sub->secretlen);
	if (sub->sign_key_file != NULL)
		h = hash_fnv1a64(
		    h, sub->sign_key_file, strlen(sub->sign_key_file));
	return h == 0 ? 1 : h;
}

/* The psub's view of a (new) snapshot's subscription. */
static void
bind_sub(struct psub *s, struct runtime *rt, const struct subscription *sub,
    const struct sub_coll *sc)
{
	char err[256];

	s->sub = sub;
	s->sc = sc;
	s->coll = sc->code;
	if (s->qok)
		view_query_clear(&s->q);
	s->qok = view_parse(&s->q, VIEW_OBJECTS, sub->query, rt->conf->members,
		     err, sizeof(err)) == 0;
	if (!s->qok)
		log_warnx("push %s: filters refused: %s", s->key, err);
	webhook_key_free(s->key_sign);
	s->key_sign = NULL;
	if (sub->mode == SUB_WEBHOOK) {
		s->target_hash = target_hash(sub);
		if (sub->sign == SUB_SIGN_ED25519)
			s->key_sign = webhook_key_ed25519(
			    sub->sign_key_file, err, sizeof(err));
		else
			s->key_sign =
			    webhook_key_hmac(sub->secret, sub->secretlen);
		if (s->key_sign == NULL)
			log_warnx("push %s: no signing key: %s", s->key, err);
	}
	if (s->limit == 0 || s->limit > (size_t)sub->batch)
		s->limit = (size_t)sub->batch;
}

static void
load_state(struct psub *s)
{
	memset(&s->st, 0, sizeof(s->st));
	if (store_rbegin(s->p->r) != STORE_OK)
		return;
	if (push_state_get(s->p->r, s->key, &s->st) == -1)
		log_warnx("push %s: unreadable state record: starting from "
			  "the beginning",
		    s->key);
	store_rend(s->p->r);
}

static struct psub *
psub_new(struct pshard *p, const char *key)
{
	struct psub *s = hub_calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->p = p;
	snprintf(s->key, sizeof(s->key), "%s", key);
	if ((s->timer = evtimer_new(p->base, on_timer, s)) == NULL) {
		hub_free(s);
		return NULL;
	}
	buf_init(&s->b.ids);
	s->stats.lag_objects = -1;
	load_state(s);
	s->stats.st = s->st;
	return s;
}

static void
psub_free(struct psub *s)
{
	if (s->timer != NULL)
		event_free(s->timer);
	batch_clear(&s->b);
	if (s->qok)
		view_query_clear(&s->q);
	webhook_key_free(s->key_sign);
	hub_free(s);
}

/* A definition changed in a way that makes a suspension moot: target,
 * credentials, keys. */
static int
changed(const struct subscription *a, const struct subscription *b)
{
#define DIFF(x)                                                                \
	((a->x == NULL) != (b->x == NULL) ||                                   \
	    (a->x != NULL && strcmp(a->x, b->x) != 0))
	return a->mode != b->mode || DIFF(target) || DIFF(user) ||
	    DIFF(password) || DIFF(token) || DIFF(cert_file) ||
	    DIFF(key_file) || DIFF(ca_file) || DIFF(sign_key_file) ||
	    a->secretlen != b->secretlen ||
	    (a->secretlen > 0 &&
		memcmp(a->secret, b->secret, a->secretlen) != 0);
#undef DIFF
}

/* The push thread of a (subscription, collection): a hash of its key,
 * so it stays on one thread across reloads. */
static int
key_shard(const char *key, int n)
{
	return (int)(hash_fnv1a64(HASH_FNV1A64_INIT, key, strlen(key)) %
	    (uint64_t)n);
}

/* A snapshot on its way to the loop. */
struct swap {
	struct pshard *p;
	struct runtime *rt;
};

static void
swap_in(struct fetcher *f, void *arg)
{
	struct swap *sw = arg;
	struct pshard *p = sw->p;
	struct runtime *rt = sw->rt;
	const struct subscriptions *subs = rt->conf->subs;
	struct psub *s, *t;
	char key[PUSH_KEY_MAX];
	int i, j;

	(void)f;
	hub_free(sw);
	if (p->stopping) {
		runtime_unref(rt);
		return;
	}
	/* the operations worker reads the list and each psub's names */
	pthread_mutex_lock(&p->mu);
	TAILQ_FOREACH(s, &p->subs, entry)
	s->dead = 1;
	for (i = 0; subs != NULL && i < subs->n; i++) {
		const struct subscription *sub = &subs->v[i];

		if (sub->mode == SUB_STREAM)
			continue;
		for (j = 0; j < sub->ncolls; j++) {
			push_state_key(
			    sub->name, sub->colls[j].id, key, sizeof(key));
			if (key_shard(key, p->nshards) != p->index)
				continue;
			TAILQ_FOREACH(s, &p->subs, entry)
			if (strcmp(s->key, key) == 0)
				break;
			if (s == NULL) {
				if ((s = psub_new(p, key)) == NULL) {
					log_warnx(
					    "push %s: out of memory", key);
					continue;
				}
				TAILQ_INSERT_TAIL(&p->subs, s, entry);
			} else if (s->phase == PS_SUSPENDED) {
				/* a changed definition, or `ctihub push
				 * resume`, lifts a suspension */
				if (changed(s->sub, sub)) {
					s->st.suspended = PUSH_ACTIVE;
					s->st.attempts = 0;
					s->st.first_fail = 0;
				} else
					load_state(s);
				if (s->st.suspended == PUSH_ACTIVE) {
					s->phase = PS_IDLE;
					log_info("push %s: resumed", key);
				}
			}
			s->dead = 0;
			bind_sub(s, rt, sub, &sub->colls[j]);
		}
	}
	/* the removed ones in flight keep their snapshot until they end */
	TAILQ_FOREACH(s, &p->subs, entry)
	if (s->dead && s->hold == NULL && p->rt != NULL &&
	    (s->phase == PS_SENDING || s->saving))
		s->hold = runtime_ref(p->rt);
	pthread_mutex_unlock(&p->mu);
	if (p->rt != NULL)
		runtime_unref(p->rt);
	p->rt = rt;
	for (s = TAILQ_FIRST(&p->subs); s != NULL; s = t) {
		t = TAILQ_NEXT(s, entry);
		if (reap(s))
			continue;
		if (s->phase == PS_IDLE)
			poke(s); /* the policy may have changed: walk */
	}
}

static int
send_swap(struct pshard *p, struct runtime *rt, fetch_call_cb *fn)
{
	struct swap *sw = hub_malloc(sizeof(*sw));

	if (sw == NULL)
		return -1;
	sw->p = p;
	sw->rt = runtime_ref(rt);
	if (fetcher_call(p->f, fn, sw) == -1) {
		runtime_unref(rt);
		hub_free(sw);
		return -1;
	}
	return 0;
}

/* --- life cycle --- */

struct push *
push_new(struct hub *hub)
{
	struct push *e = hub_calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->hub = hub;
	return e;
}

static void
start_call(struct fetcher *f, void *arg)
{
	struct swap *sw = arg;
	struct pshard *p = sw->p;
	struct timeval second = {1, 0};

	p->base = fetcher_base(p->f);
	if (store_reader_new(p->hub->store, &p->r) != STORE_OK) {
		log_warnx("push: no database reader: push is off");
		runtime_unref(sw->rt);
		hub_free(sw);
		return;
	}
	p->tick = event_new(p->base, -1, EV_PERSIST, on_tick, p);
	if (p->tick != NULL)
		event_add(p->tick, &second);
	p->started = 1;
	swap_in(f, sw);
}

int
push_start(struct push *e, struct runtime *rt)
{
	const struct conf *c = rt->conf;
	struct fetch_opts fo;
	char name[32];
	int i;

	if ((e->n = (int)c->push_threads) == 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		e->n = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (int)ncpu;
	}
	if ((e->v = hub_calloc((size_t)e->n, sizeof(*e->v))) == NULL)
		return -1;
	for (i = 0; i < e->n; i++) {
		struct pshard *p = &e->v[i];

		p->hub = e->hub;
		p->index = i;
		p->nshards = e->n;
		TAILQ_INIT(&p->subs);
		pthread_mutex_init(&p->cmu, NULL);
		pthread_mutex_init(&p->mu, NULL);
		memset(&fo, 0, sizeof(fo));
		snprintf(name, sizeof(name), "push[%d]", i);
		fo.thread_name = name;
		fo.addr_check = push_addr_check;
		fo.addr_arg = p;
		/* one request per subscription at a time, many to one host */
		fo.max_host_conns = 256;
		fo.max_conns = 1024;
		if ((p->f = fetcher_start(&fo)) == NULL)
			return -1;
	}
	if (writer_subscribe(e->hub->writer, on_commit, e) == -1)
		return -1;
	metrics_add_renderer(e->hub->metrics, render_metrics, e);
	for (i = 0; i < e->n; i++)
		if (send_swap(&e->v[i], rt, start_call) == -1)
			return -1;
	return 0;
}

void
push_reconfigure(struct push *e, struct runtime *rt)
{
	int i;

	if (rt->conf->push_threads != 0 && rt->conf->push_threads != e->n)
		log_warnx("reload: push_threads changes only at restart");
	for (i = 0; i < e->n; i++)
		send_swap(&e->v[i], rt, swap_in);
}

static void
stop_call(struct fetcher *f, void *arg)
{
	struct pshard *p = arg;
	struct psub *s;

	(void)f;
	/* the cursors not kept yet go to the writer, which finishes its
	 * queue before it stops */
	TAILQ_FOREACH(s, &p->subs, entry)
	if (!s->dead && !s->saving && s->saved_cursor != s->st.cursor)
		save(s);
	p->stopping = 1;
	if (p->tick != NULL)
		event_free(p->tick);
	p->tick = NULL;
	TAILQ_FOREACH(s, &p->subs, entry)
	{
		if (s->timer != NULL)
			event_free(s->timer);
		s->timer = NULL;
	}
}

void
push_stop(struct push *e)
{
	int i;

	if (e == NULL || e->v == NULL)
		return;
	writer_unsubscribe(e->hub->writer, on_commit, e);
	for (i = 0; i < e->n; i++) {
		struct pshard *p = &e->v[i];

		if (p->f == NULL)
			continue;
		fetcher_call(p->f, stop_call, p);
		/* the writer's completions call the loop no more */
		pthread_mutex_lock(&p->cmu);
		p->fgone = 1;
		pthread_mutex_unlock(&p->cmu);
		fetcher_stop(p->f);
		p->f = NULL;
	}
}

void
push_free(struct push *e)
{
	struct psub *s;
	int i;

	if (e == NULL)
		return;
	/* the writer is stopped: no save is in flight any more */
	for (i = 0; e->v != NULL && i < e->n; i++) {
		struct pshard *p = &e->v[i];

		fetcher_stop(p->f); /* when push_stop was not called */
		while ((s = TAILQ_FIRST(&p->subs)) != NULL) {
			TAILQ_REMOVE(&p->subs, s, entry);
			if (s->hold != NULL)
				runtime_unref(s->hold);
			psub_free(s);
		}
		if (p->r != NULL)
			store_reader_free(p->r);
		if (p->rt != NULL)
			runtime_unref(p->rt);
		pthread_mutex_destroy(&p->cmu);
		pthread_mutex_destroy(&p->mu);
	}
	hub_free(e->v);
	hub_free(e);
}

/* --- /metrics (the operations worker's thread) --- */

static void
labels(struct buf *b, const struct psub *s)
{
	buf_addf(b, "{subscription=\"%s\",collection=\"%s\",mode=\"%s\"}",
	    s->sub->name, s->sc->id,
	    s->sub->mode == SUB_TAXII ? "taxii" : "webhook");
}

/* every psub of every shard */
#define EACH_PSUB(e, i, s)                                                     \
	for ((i) = 0; (i) < (e)->n; (i)++)                                     \
	TAILQ_FOREACH(s, &(e)->v[(i)].subs, entry)

static void
render_metrics(struct buf *b, void *arg)
{
	struct push *e = arg;
	const struct psub *s;
	int i, any = 0;
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
	    {"ctihub_push_cursor_timestamp_seconds", "gauge",
		"date_added of the last event the receiver acknowledged"},
	    {"ctihub_push_lag_objects", "gauge",
		"entries of the collection after the cursor (counted up to "
		"100000)"},
	    {"ctihub_push_lag_seconds", "gauge",
		"age of the oldest entry after the cursor"},
	    {"ctihub_push_last_success_timestamp_seconds", "gauge",
		"when the receiver last acknowledged a delivery"},
	    {"ctihub_push_next_retry_timestamp_seconds", "gauge",
		"when the next retry is due (0: none)"},
	    {"ctihub_push_suspended", "gauge",
		"1 when suspended (retries exhausted), 2 after 410 Gone"},
	    {"ctihub_push_delivered_objects_total", "counter",
		"objects acknowledged by the receiver"},
	    {"ctihub_push_deliveries_total", "counter",
		"delivery requests by result"},
	};
	size_t f;
	int k;

	/* every shard's list held still (only this thread takes more than
	 * one of these locks) */
	for (i = 0; i < e->n; i++) {
		pthread_mutex_lock(&e->v[i].mu);
		any |= !TAILQ_EMPTY(&e->v[i].subs);
	}
	if (!any)
		goto out;
	for (f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		metrics_family(b, fam[f].name, fam[f].type, fam[f].help);
		EACH_PSUB(e, i, s)
		{
			const struct push_stats *x = &s->stats;

			if (s->sub == NULL)
				continue;
			if (f == 7) {
				buf_addf(b,
				    "%s{subscription=\"%s\",collection=\"%s\","
				    "result=\"ok\"} %llu\n",
				    fam[f].name, s->sub->name, s->sc->id,
				    (unsigned long long)x->ok);
				buf_addf(b,
				    "%s{subscription=\"%s\",collection=\"%s\","
				    "result=\"error\"} %llu\n",
				    fam[f].name, s->sub->name, s->sc->id,
				    (unsigned long long)x->failed);
				continue;
			}
			buf_adds(b, fam[f].name);
			labels(b, s);
			switch (f) {
			case 0:
				buf_addf(
				    b, " %.6f\n", (double)x->st.cursor / 1e6);
				break;
			case 1:
				buf_addf(b, " %lld\n",
				    (long long)(x->lag_objects < 0
					    ? 0
					    : x->lag_objects));
				break;
			case 2:
				buf_addf(
				    b, " %lld\n", (long long)x->lag_seconds);
				break;
			case 3:
				buf_addf(
				    b, " %.3f\n", (double)x->st.last_ok / 1e6);
				break;
			case 4:
				buf_addf(b, " %.3f\n",
				    (double)x->st.next_retry / 1e6);
				break;
			case 5:
				buf_addf(b, " %d\n", x->st.suspended);
				break;
			default:
				buf_addf(b, " %llu\n",
				    (unsigned long long)x->st.delivered);
			}
		}
	}
	metrics_family(b, "ctihub_push_delivery_seconds", "histogram",
	    "time from an object's commit to the receiver's acknowledgement");
	EACH_PSUB(e, i, s)
	{
		uint64_t cum = 0;

		if (s->sub == NULL || s->dead)
			continue;
		for (k = 0; k <= PUSH_NBUCKETS; k++) {
			cum += s->stats.lat[k];
			buf_addf(b,
			    "ctihub_push_delivery_seconds_bucket{subscription="
			    "\"%s\",collection=\"%s\",le=\"",
			    s->sub->name, s->sc->id);
			if (k < PUSH_NBUCKETS)
				buf_addf(b, "%g", lat_bounds[k]);
			else
				buf_adds(b, "+Inf");
			buf_addf(b, "\"} %llu\n", (unsigned long long)cum);
		}
		buf_addf(b,
		    "ctihub_push_delivery_seconds_sum{subscription=\"%s\","
		    "collection=\"%s\"} %.6f\n",
		    s->sub->name, s->sc->id, s->stats.lat_sum);
		buf_addf(b,
		    "ctihub_push_delivery_seconds_count{subscription=\"%s\","
		    "collection=\"%s\"} %llu\n",
		    s->sub->name, s->sc->id,
		    (unsigned long long)s->stats.lat_n);
	}
out:
	for (i = 0; i < e->n; i++)
		pthread_mutex_unlock(&e->v[i].mu);
}
