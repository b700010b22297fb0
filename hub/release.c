/*
 * release.c -- what a policy reload newly releases.  The reload compares
 * the old and new policies for every producer, level and member; when
 * some member may now see objects it could not see before, a release
 * event records who gained what, and the writer gives every stored object
 * of those producers and levels a twin entry in its collections with a new
 * date_added (store_wtwins), in slices of 50,000 entries per transaction
 * so publishing goes on meanwhile.  Each step is one WMSG_RELEASE message
 * (writer.h); this file decides the next step from the results of the
 * last, after its commit.
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

/* The reload waits here (on its own stack) for the event's commit. */
struct relwait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
	int rc;
};

struct reljob {
	struct wmsg m; /* WMSG_RELEASE, one step at a time: it holds the
			  record, the groups, and the event to close */
	struct hub *hub;
	struct runtime *old; /* held: requests under it end before DONE */
	struct relwait *wait;
	struct buf rec;	  /* the event record, until it is the message's */
	struct buf names; /* for the audit line: the gains, as JSON */
	/* as committed */
	int state;
	uint64_t event;
	unsigned char resume[12];
	long twins;
	int fail; /* the release failed: close it FAILED */
	int64_t drain_since;
	unsigned long gen;
};

/* No request runs under the policy from before the reload any more. */
static int
drained(struct reljob *r)
{
	return atomic_load(&r->old->refs) == 1; /* ours */
}

/* The event may be closed DONE: no request still runs under the policy
 * from before the reload, or they have had long enough.  Once true, true
 * for good (the old runtime only loses references). */
static int
may_close(struct reljob *r)
{
	if (drained(r))
		return 1;
	if (r->drain_since == 0 || tstamp_now() - r->drain_since < DRAIN_MAX)
		return 0;
	log_warnx("release %llu: requests under the policy before reload "
		  "%lu still run after 10 s; closing it anyway",
	    (unsigned long long)r->event, r->gen);
	return 1;
}

/* The next step, from the committed state, to the writer. */
static void
release_step(struct reljob *r)
{
	struct wmsg_release *rl = &r->m.u.rel;

	rl->nevents = 0;
	rl->close = 0;
	if (r->fail) {
		rl->op = WREL_CLOSE;
		rl->close = VIEW_REL_FAILED;
		rl->events[0] = r->event;
		rl->nevents = 1;
	} else if (r->state == REL_EVENT)
		rl->op = WREL_EVENT;
	else if (r->state == REL_TWINS) {
		rl->op = WREL_TWINS;
		rl->event = r->event;
		memcpy(rl->resume, r->resume, sizeof(rl->resume));
		rl->slice = SLICE;
		/* the DONE record after the last twins, in their
		 * transaction when it can be */
		rl->close = may_close(r) ? VIEW_REL_DONE : 0;
	} else {
		/* REL_DRAIN: closes once it may; until then, a round that
		 * writes nothing, after whatever publishers queued */
		rl->op = WREL_CLOSE;
		rl->close = VIEW_REL_DONE;
		rl->events[0] = r->event;
		rl->nevents = may_close(r) ? 1 : 0;
	}
	writer_submit(r->hub->writer, &r->m);
}

static void
release_free(struct reljob *r)
{
	runtime_unref(r->old);
	wmsg_clear(&r->m);
	buf_clear(&r->rec);
	buf_clear(&r->names);
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
release_done(struct wmsg *m, int rc)
{
	static const unsigned char zero[12];
	struct reljob *r = (struct reljob *)m;
	const struct wmsg_release *rl = &m->u.rel;

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
		release_step(r);
		return;
	}
	switch (rl->op) {
	case WREL_EVENT:
		r->event = rl->new_event;
		r->state = REL_TWINS;
		break;
	case WREL_TWINS:
		memcpy(r->resume, rl->next, sizeof(r->resume));
		r->twins += rl->added;
		if (rl->closed)
			r->state = REL_CLOSE;
		else if (memcmp(rl->next, zero, sizeof(zero)) == 0)
			r->state = REL_DRAIN;
		break;
	case WREL_CLOSE:
		if (rl->closed)
			r->state = REL_CLOSE;
		break;
	}
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
	release_step(r);
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
	struct wmsg_release *rl = &r->m.u.rel;
	struct wrel_group *g;

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
	g = hub_realloc(rl->groups, sizeof(*g) * (size_t)(rl->ngroups + 1));
	if (g == NULL)
		return;
	rl->groups = g;
	g[rl->ngroups].producer = producer;
	g[rl->ngroups].level = (uint8_t)level;
	rl->ngroups++;
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
	struct wmsg_release *rl;
	int i, level;

	if ((r = hub_calloc(1, sizeof(*r))) == NULL)
		return;
	wmsg_init(&r->m, WMSG_RELEASE);
	rl = &r->m.u.rel;
	r->hub = hub;
	r->old = runtime_ref(old);
	r->gen = rt->gen;
	for (i = -1; i < ms->n; i++) {
		uint32_t producer = i < 0 ? POLICY_HUB_PRODUCER : ms->v[i].code;

		for (level = TLP_NONE; level <= TLP_RED; level++)
			gains(r, old, rt, producer, level);
	}
	if (rl->ngroups == 0 || buf_failed(&r->rec) || buf_failed(&r->names) ||
	    (rl->events = hub_calloc(1, sizeof(*rl->events))) == NULL) {
		release_free(r);
		return;
	}
	rl->rec = buf_detach(&r->rec, &rl->reclen);
	buf_cstr(&r->names);
	log_info("reload %lu lets members see more: releasing (%s)", r->gen,
	    r->names.data);
	r->state = REL_EVENT;
	r->m.done = release_done;
	/* the event is in the database before the new policy is in force:
	 * no walk under the new policy misses it */
	memset(&wt, 0, sizeof(wt));
	pthread_mutex_init(&wt.lock, NULL);
	pthread_cond_init(&wt.cond, NULL);
	r->wait = &wt;
	release_step(r);
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

static int
find_open(uint64_t id, const void *rec, size_t len, void *arg)
{
	struct wmsg_release *rl = arg;
	uint64_t event;
	int i, kind = view_release_kind(rec, len, &event);

	if (kind == VIEW_REL_EVENT) {
		if (rl->nevents < MAX_STALE)
			rl->events[rl->nevents++] = id;
		return 0;
	}
	for (i = 0; i < rl->nevents; i++)
		if (rl->events[i] == event)
			rl->events[i--] = rl->events[--rl->nevents];
	return 0;
}

static void
stale_done(struct wmsg *m, int rc)
{
	if (rc != STORE_OK)
		log_warnx("could not close the interrupted releases");
	wmsg_clear(m);
	hub_free(m);
}

void
release_recover(struct hub *hub)
{
	struct store_reader *rd;
	struct wmsg *m;
	struct wmsg_release *rl;
	int i;

	if ((m = hub_calloc(1, sizeof(*m))) == NULL)
		return;
	wmsg_init(m, WMSG_RELEASE);
	rl = &m->u.rel;
	if ((rl->events = hub_calloc(MAX_STALE, sizeof(*rl->events))) == NULL ||
	    store_reader_new(hub->store, &rd) != STORE_OK) {
		wmsg_clear(m);
		hub_free(m);
		return;
	}
	if (store_rbegin(rd) == STORE_OK) {
		if (store_releases(rd, find_open, rl) < 0)
			rl->nevents = 0;
		store_rend(rd);
	}
	store_reader_free(rd);
	if (rl->nevents == 0) {
		wmsg_clear(m);
		hub_free(m);
		return;
	}
	for (i = 0; i < rl->nevents; i++)
		log_warnx("release %llu was interrupted: the objects it had "
			  "not released reach pollers only from the start",
		    (unsigned long long)rl->events[i]);
	rl->op = WREL_CLOSE;
	rl->close = VIEW_REL_FAILED;
	m->done = stale_done;
	writer_submit(hub->writer, m);
}
