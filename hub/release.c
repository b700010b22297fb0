/*
 * release.c -- what a policy reload newly releases.  The reload compares
 * the old and new policies for every producer, level and member; when
 * some member may now see objects it could not see before, a release
 * event records who gained what, and the writer gives every stored object
 * of those producers and levels a twin entry in its collections with a new
 * date_added (store_wtwins), in slices of 50,000 entries per transaction
 * so publishing goes on meanwhile.
 *
 * The order is what makes a released object reach each poller once (the
 * rule is view.h's): the event is committed before the new policy is in
 * force (release_after_reload waits for it), then the twins are written,
 * and the event is closed DONE in the transaction of its last twins, but
 * only once no request still runs under the policy from before the
 * reload.  Until a walk knows the event closed, it serves neither the
 * originals nor the twins to the members who gained them; after, the
 * twins stand for the originals.  A release that fails, or that a restart
 * interrupts (release_recover), is closed FAILED: its originals are served
 * as before, from the start of the collection, and its twins never.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "ctihub/alloc.h"
#include "ctihub/audit.h"
#include "ctihub/log.h"
#include "ctihub/marking.h"
#include "ctihub/policy.h"
#include "ctihub/tstamp.h"
#include "ctihub/view.h"

#include "hub.h"
#include "writer.h"

#define SLICE	  50000
#define DRAIN_MAX (10 * INT64_C(1000000)) /* us to wait for old requests */
#define MAX_STALE 256			  /* open events closed at start */

enum relstate {
	REL_EVENT = 1, /* record the event */
	REL_TWINS,     /* write twins, a slice per transaction */
	REL_DRAIN,     /* twins written: close once the old policy is gone */
	REL_CLOSE,     /* closed (DONE, or FAILED after an error) */
};

struct relgroup {
	uint32_t producer;
	uint8_t level;
};

/* The reload waits here (on its own stack) for the event's commit. */
struct relwait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
	int rc;
};

struct reljob {
	struct wjob wj;
	struct hub *hub;
	struct runtime *old; /* held: requests under it end before DONE */
	struct relwait *wait;
	struct buf rec;	  /* the event record */
	struct buf names; /* for the audit line: the gains, as JSON */
	struct relgroup *groups;
	int ngroups;
	/* as committed */
	int state;
	uint64_t event;
	unsigned char resume[12];
	long twins;
	/* as applied in the transaction now running: a failed batch is
	 * retried job by job, so apply starts from the committed state */
	int next_state;
	uint64_t next_event;
	unsigned char next_resume[12];
	int added;
	int fail; /* the release failed: close it FAILED */
	int64_t drain_since;
	unsigned long gen;
};

static int
want_entry(uint32_t coll, int64_t da, const struct store_entry *e, void *arg)
{
	struct reljob *r = arg;
	int i;

	(void)coll;
	if (da >= (int64_t)r->event)
		return 0; /* added under the new policy: nothing to release */
	for (i = 0; i < r->ngroups; i++)
		if (r->groups[i].producer == e->producer &&
		    r->groups[i].level == e->tlp)
			return 1;
	return 0;
}

/* No request runs under the policy from before the reload any more. */
static int
drained(struct reljob *r)
{
	return atomic_load(&r->old->refs) == 1; /* ours */
}

static int
close_event(struct store_wtxn *w, uint64_t event, int kind)
{
	unsigned char m[VIEW_REL_MARKER_LEN];
	uint64_t id;

	view_release_marker(m, kind, event);
	return store_wrelease(w, &id, m, sizeof(m), tstamp_now());
}

static int
apply_release(struct wjob *wj, struct store_wtxn *w)
{
	static const unsigned char zero[12];
	struct reljob *r = (struct reljob *)wj;
	int rc = STORE_OK;

	r->next_state = r->state;
	r->next_event = r->event;
	memcpy(r->next_resume, r->resume, 12);
	r->added = 0;
	if (r->fail)
		return r->event == 0
		    ? STORE_OK
		    : close_event(w, r->event, VIEW_REL_FAILED);
	switch (r->state) {
	case REL_EVENT:
		rc = store_wrelease(
		    w, &r->next_event, r->rec.data, r->rec.len, tstamp_now());
		r->next_state = REL_TWINS;
		return rc;
	case REL_TWINS:
		rc = store_wtwins(w, r->event, want_entry, r, tstamp_now(),
		    r->next_resume, SLICE, &r->added);
		if (rc != STORE_OK || memcmp(r->next_resume, zero, 12) != 0)
			return rc;
		r->next_state = REL_DRAIN;
		/* FALLTHROUGH */
	case REL_DRAIN:
		if (!drained(r)) {
			if (r->drain_since == 0 ||
			    tstamp_now() - r->drain_since < DRAIN_MAX)
				return STORE_OK;
			log_warnx("release %llu: requests under the policy "
				  "before reload %lu still run after 10 s; "
				  "closing it anyway",
			    (unsigned long long)r->event, r->gen);
		}
		/* the DONE record after the last twins, in their
		 * transaction when it can be */
		r->next_state = REL_CLOSE;
		return close_event(w, r->event, VIEW_REL_DONE);
	}
	return STORE_ERR;
}

static void
release_free(struct reljob *r)
{
	runtime_unref(r->old);
	buf_clear(&r->rec);
	buf_clear(&r->names);
	hub_free(r->groups);
	hub_free(r);
}

static void
wake(struct reljob *r, int rc)
{
	struct relwait *wt = r->wait;

	if (wt == NULL)
		return;
	r->wait = NULL;
	pthread_mutex_lock(&wt->lock);
	wt->rc = rc;
	wt->done = 1;
	pthread_cond_signal(&wt->cond);
	pthread_mutex_unlock(&wt->lock);
}

static void
release_end(struct reljob *r, int ok)
{
	struct buf au = BUF_INIT;

	if (!ok)
		log_warnx("release after reload %lu failed: the newly visible "
			  "objects reach pollers only from the start",
		    r->gen);
	else
		log_info("reload %lu released %ld object entries to members "
			 "who may now see them",
		    r->gen, r->twins);
	audit_begin(&au, "release");
	buf_addf(&au,
	    ",\"generation\":%lu,\"gained\":[%s],\"entries\":%ld,"
	    "\"ok\":%s",
	    r->gen, r->names.data ? r->names.data : "", r->twins,
	    ok ? "true" : "false");
	audit_end(r->hub->audit, &au);
	buf_clear(&au);
	release_free(r);
}

static void
release_done(struct wjob *wj, int rc)
{
	struct reljob *r = (struct reljob *)wj;

	if (r->fail) {
		/* the FAILED record is written, or could not be: a restart
		 * writes it (release_recover) */
		release_end(r, 0);
		return;
	}
	if (rc != STORE_OK) {
		wake(r, rc);
		if (r->event == 0) {
			release_end(r, 0);
			return;
		}
		r->fail = 1;
		writer_submit(r->hub->writer, &r->wj);
		return;
	}
	r->state = r->next_state;
	r->event = r->next_event;
	memcpy(r->resume, r->next_resume, 12);
	r->twins += r->added;
	if (r->state == REL_TWINS && r->wait != NULL) {
		wake(r, STORE_OK); /* the event is in: the reload goes on */
	} else if (r->state == REL_DRAIN) {
		/* requests under the old policy end within moments */
		struct timespec ts = {0, 2000000};

		if (r->drain_since == 0)
			r->drain_since = tstamp_now();
		nanosleep(&ts, NULL);
	} else if (r->state == REL_CLOSE) {
		release_end(r, 1);
		return;
	}
	/* the next step, after whatever publishers queued meanwhile */
	writer_submit(r->hub->writer, &r->wj);
}

static const char *
member_name(const struct members *ms, uint32_t code)
{
	const struct member *m = members_by_code(ms, code);

	return code == POLICY_HUB_PRODUCER ? "(hub)" : m ? m->id : "?";
}

/* Adds the gains of one producer and level to the record. */
static void
gains(struct reljob *r, const struct runtime *old, const struct runtime *rt,
    uint32_t producer, int level)
{
	const struct members *ms = rt->conf->members;
	struct policy_obj o;
	uint32_t codes[MEMBER_MAX];
	int i, n = 0;
	uint16_t cnt;
	struct relgroup *g;

	memset(&o, 0, sizeof(o));
	o.producer = producer;
	o.tlp = level;
	for (i = 0; i < ms->n; i++) {
		const struct member *now = &ms->v[i];
		const struct member *then =
		    members_find(old->conf->members, now->id);

		/* a new member has no cursor to move past anything */
		if (then == NULL || now->code == producer)
			continue;
		if (policy_visible(rt->policy, now, &o) &&
		    !policy_visible(old->policy, then, &o))
			codes[n++] = now->code;
	}
	if (n == 0)
		return;
	g = hub_realloc(r->groups, sizeof(*g) * (size_t)(r->ngroups + 1));
	if (g == NULL)
		return;
	r->groups = g;
	g[r->ngroups].producer = producer;
	g[r->ngroups].level = (uint8_t)level;
	r->ngroups++;
	cnt = (uint16_t)n;
	buf_add(&r->rec, &producer, 4);
	buf_addc(&r->rec, (char)level);
	buf_add(&r->rec, &cnt, 2);
	buf_add(&r->rec, codes, (size_t)n * 4);
	if (r->names.len > 0)
		buf_addc(&r->names, ',');
	buf_adds(&r->names, "{\"producer\":");
	buf_add_jstr(&r->names, member_name(ms, producer),
	    strlen(member_name(ms, producer)));
	buf_addf(&r->names, ",\"level\":\"%s\",\"members\":[",
	    level == TLP_NONE ? "unmarked" : marking_tlp_name(level));
	for (i = 0; i < n; i++) {
		const char *id = member_name(ms, codes[i]);

		if (i > 0)
			buf_addc(&r->names, ',');
		buf_add_jstr(&r->names, id, strlen(id));
	}
	buf_adds(&r->names, "]}");
}

void
release_after_reload(struct hub *hub, struct runtime *old, struct runtime *rt)
{
	const struct members *ms = rt->conf->members;
	struct relwait wt;
	struct reljob *r;
	int i, level;

	if ((r = hub_calloc(1, sizeof(*r))) == NULL)
		return;
	r->hub = hub;
	r->old = runtime_ref(old);
	r->gen = rt->gen;
	for (i = -1; i < ms->n; i++) {
		uint32_t producer = i < 0 ? POLICY_HUB_PRODUCER : ms->v[i].code;

		for (level = TLP_NONE; level <= TLP_RED; level++)
			gains(r, old, rt, producer, level);
	}
	if (r->ngroups == 0 || buf_failed(&r->rec) || buf_failed(&r->names)) {
		release_free(r);
		return;
	}
	buf_cstr(&r->names);
	log_info("reload %lu lets members see more: releasing (%s)", r->gen,
	    r->names.data);
	r->state = REL_EVENT;
	r->wj.kind = WJOB_CUSTOM;
	r->wj.apply = apply_release;
	r->wj.done = release_done;
	/* the event is in the database before the new policy is in force:
	 * no walk under the new policy misses it */
	memset(&wt, 0, sizeof(wt));
	pthread_mutex_init(&wt.lock, NULL);
	pthread_cond_init(&wt.cond, NULL);
	r->wait = &wt;
	writer_submit(hub->writer, &r->wj);
	pthread_mutex_lock(&wt.lock);
	while (!wt.done)
		pthread_cond_wait(&wt.cond, &wt.lock);
	pthread_mutex_unlock(&wt.lock);
	pthread_cond_destroy(&wt.cond);
	pthread_mutex_destroy(&wt.lock);
	if (wt.rc != STORE_OK)
		log_warnx(
		    "reload %lu: the release could not be recorded", rt->gen);
}

/* --- at start: events a restart left open --- */

struct stale {
	struct wjob wj;
	uint64_t events[MAX_STALE];
	int n;
};

static int
find_open(uint64_t id, const void *rec, size_t len, void *arg)
{
	struct stale *s = arg;
	uint64_t event;
	int i, kind = view_release_kind(rec, len, &event);

	if (kind == VIEW_REL_EVENT) {
		if (s->n < MAX_STALE)
			s->events[s->n++] = id;
		return 0;
	}
	for (i = 0; i < s->n; i++)
		if (s->events[i] == event)
			s->events[i--] = s->events[--s->n];
	return 0;
}

static int
apply_stale(struct wjob *wj, struct store_wtxn *w)
{
	struct stale *s = (struct stale *)wj;
	int i, rc = STORE_OK;

	for (i = 0; i < s->n && rc == STORE_OK; i++)
		rc = close_event(w, s->events[i], VIEW_REL_FAILED);
	return rc;
}

static void
stale_done(struct wjob *wj, int rc)
{
	struct stale *s = (struct stale *)wj;

	if (rc != STORE_OK)
		log_warnx("could not close the interrupted releases");
	hub_free(s);
}

void
release_recover(struct hub *hub)
{
	struct store_reader *rd;
	struct stale *s;
	int i;

	if ((s = hub_calloc(1, sizeof(*s))) == NULL)
		return;
	if (store_reader_new(hub->store, &rd) != STORE_OK) {
		hub_free(s);
		return;
	}
	if (store_rbegin(rd) == STORE_OK) {
		if (store_releases(rd, find_open, s) < 0)
			s->n = 0;
		store_rend(rd);
	}
	store_reader_free(rd);
	if (s->n == 0) {
		hub_free(s);
		return;
	}
	for (i = 0; i < s->n; i++)
		log_warnx("release %llu was interrupted: the objects it had "
			  "not released reach pollers only from the start",
		    (unsigned long long)s->events[i]);
	s->wj.kind = WJOB_CUSTOM;
	s->wj.apply = apply_stale;
	s->wj.done = stale_done;
	writer_submit(hub->writer, &s->wj);
}
