/*
 * feeds.c -- the daemon's feed scheduler (feeds.h): a slot per feed of
 * the feeds file, each with its timer on the feeds' own outbound loop,
 * its run (feed_run.h) when one is under way, and what /metrics shows of
 * it.  Slots are matched by name across reloads, so a feed keeps its
 * schedule and counters when its file is edited.
 */
#include <sys/queue.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "ctihub/alloc.h"
#include "ctihub/audit.h"
#include "ctihub/conf.h"
#include "ctihub/feedconf.h"
#include "ctihub/log.h"
#include "ctihub/metrics.h"
#include "ctihub/store.h"
#include "ctihub/subscription.h"
#include "ctihub/tstamp.h"

#include "feed_run.h"
#include "feeds.h"
#include "fetch.h"
#include "hub.h"

#define RETRY_FIRST  60 /* seconds before the first retry of a failed run */
#define START_SPREAD 10 /* seconds over which overdue feeds start */

struct fslot {
	TAILQ_ENTRY(fslot) entry;
	struct feeds *e;
	char name[FEED_NAME_MAX];
	const struct feed_def *def; /* in e->rt's conf; NULL: removed */
	struct runtime *hold;	    /* the snapshot the run's def is in */
	struct frun *run;	    /* under way, or NULL */
	struct event *timer;
	int64_t due; /* microseconds */
	/* under e->mu: what /metrics shows */
	struct frun_status st;
	int running;
	int loaded; /* st read from the store */
};

TAILQ_HEAD(fslots, fslot);

struct feeds {
	struct hub *hub;
	struct fetcher *f;
	struct frun_gate gate;
	struct runtime *rt; /* the fetch thread's */
	struct event_base *base;
	struct fslots slots;
	pthread_mutex_t mu; /* the slots' list and stats, for /metrics */
	int stopping;
};

static void arm(struct fslot *, int64_t due);
static void render_metrics(struct buf *, void *);

int
feeds_addr_check(const struct sockaddr *sa, socklen_t len, void *arg)
{
	struct feeds *e = arg;

	if (fetch_addr_public(sa, len, NULL))
		return 1;
	/* e->rt is the fetch thread's, and this runs there */
	return e != NULL && e->rt != NULL &&
	    conf_feed_allowed(e->rt->conf, sa, len);
}

/* --- runs --- */

static int64_t
jitter(const struct feed_def *d)
{
	if (d->jitter <= 0)
		return 0;
	return (int64_t)(random() % (long)(d->jitter * 1000)) * 1000;
}

static void
run_done(const struct feed_def *d, const struct frun_report *rep, void *arg)
{
	struct fslot *s = arg;
	struct feeds *e = s->e;
	int64_t wait;

	(void)d;
	pthread_mutex_lock(&e->mu);
	frun_status_add(&s->st, rep);
	s->running = 0;
	pthread_mutex_unlock(&e->mu);
	s->run = NULL;
	if (rep->outcome == FRUN_OK)
		log_info("feed %s: %llu objects (%llu stored, %llu already "
			 "stored, %llu rejected), %llu line errors, %llu "
			 "requests (%llu not modified) in %.1f s",
		    s->name, (unsigned long long)rep->objects,
		    (unsigned long long)rep->stored,
		    (unsigned long long)rep->duplicate,
		    (unsigned long long)rep->rejected,
		    (unsigned long long)rep->line_errors,
		    (unsigned long long)rep->requests,
		    (unsigned long long)rep->not_modified,
		    (double)(rep->ended - rep->started) / 1e6);
	runtime_unref(s->hold);
	s->hold = NULL;
	if (s->def == NULL && !e->stopping) {
		/* removed from the file while it ran: gone now */
		pthread_mutex_lock(&e->mu);
		TAILQ_REMOVE(&e->slots, s, entry);
		pthread_mutex_unlock(&e->mu);
		if (s->timer != NULL)
			event_free(s->timer);
		hub_free(s);
		return;
	}
	if (e->stopping || s->def == NULL || !s->def->enabled)
		return;
	wait = s->def->every * 1000000 + jitter(s->def);
	if (rep->outcome == FRUN_FAILED) {
		/* a minute, doubling, never later than the schedule */
		uint64_t k = s->st.consecutive > 0 ? s->st.consecutive - 1 : 0;
		int64_t retry = (int64_t)RETRY_FIRST * 1000000
		    << (k > 12 ? 12 : k);

		if (retry < wait)
			wait = retry;
	}
	arm(s, tstamp_now() + wait);
}

static void
start_run(struct fslot *s)
{
	struct feeds *e = s->e;
	const struct conf *c = e->rt->conf;
	const struct conf_collection *k;
	const struct conf_root *root;
	const struct member *m;
	struct frun_env env;
	char why[128];

	if (s->run != NULL || e->stopping || s->def == NULL)
		return;
	m = members_find(c->members, s->def->member);
	k = conf_coll_resolve(c, s->def->coll, &root, why, sizeof(why));
	if (m == NULL || k == NULL) {
		log_warnx("feed %s: its member or collection is gone", s->name);
		return;
	}
	memset(&env, 0, sizeof(env));
	env.f = e->f;
	env.gate = &e->gate;
	env.st = e->hub->store;
	env.pl = e->hub->pipeline;
	env.w = e->hub->writer;
	env.conf = c;
	env.secret = e->hub->secret;
	env.coll = k->code;
	env.producer = m->code;
	env.audit = audit_on(e->hub->audit);
	env.done = run_done;
	env.arg = s;
	s->hold = runtime_ref(e->rt);
	pthread_mutex_lock(&e->mu);
	s->running = 1;
	pthread_mutex_unlock(&e->mu);
	if ((s->run = frun_start(s->def, &env)) == NULL) {
		pthread_mutex_lock(&e->mu);
		s->running = 0;
		pthread_mutex_unlock(&e->mu);
		runtime_unref(s->hold);
		s->hold = NULL;
		log_warnx("feed %s: no connector for kind %s", s->name,
		    feed_kind_name(s->def->kind));
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct fslot *s = arg;

	(void)fd;
	(void)what;
	start_run(s);
}

static void
arm(struct fslot *s, int64_t due)
{
	int64_t now = tstamp_now(), d = due > now ? due - now : 0;
	struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};

	s->due = due;
	if (s->timer == NULL &&
	    (s->timer = evtimer_new(s->e->base, on_timer, s)) == NULL) {
		log_warnx("feed %s: no timer: it will not run", s->name);
		return;
	}
	evtimer_add(s->timer, &tv);
}

/* When a feed should run first: at its schedule after its last run, or
 * soon when that is past (overdue feeds spread over up to START_SPREAD
 * seconds, and no more than their jitter, so that a restart does not
 * start them all at once). */
static int64_t
first_due(struct fslot *s)
{
	int64_t now = tstamp_now(), spread = 0;
	int64_t due = s->st.last_start + s->def->every * 1000000;
	int64_t w =
	    s->def->jitter < START_SPREAD ? s->def->jitter : START_SPREAD;

	if (w > 0)
		spread = (int64_t)(random() % (long)(w * 1000)) * 1000;

	if (s->st.last_start == 0 || due < now + spread)
		return now + spread;
	return due + jitter(s->def);
}

static void
load_status(struct feeds *e, struct fslot *s)
{
	struct store_reader *r;
	const void *v;
	size_t len;

	if (s->loaded || store_reader_new(e->hub->store, &r) != STORE_OK)
		return;
	if (store_rbegin(r) == STORE_OK) {
		pthread_mutex_lock(&e->mu);
		if (store_feed_get(r, s->name, 'h', &v, &len) == STORE_OK &&
		    frun_status_decode(v, len, &s->st) == -1)
			log_warnx("feed %s: its status record is unreadable",
			    s->name);
		pthread_mutex_unlock(&e->mu);
		store_rend(r);
	}
	store_reader_free(r);
	s->loaded = 1;
}

/* --- the set of feeds, at start and at each reload (fetch thread) --- */

struct swap {
	struct feeds *e;
	struct runtime *rt;
};

static void
swap_in(struct fetcher *f, void *arg)
{
	struct swap *sw = arg;
	struct feeds *e = sw->e;
	const struct feedconf *fc = sw->rt->conf->feeds;
	struct fslot *s, *t;
	int i;

	(void)f;
	if (e->stopping) {
		runtime_unref(sw->rt);
		hub_free(sw);
		return;
	}
	if (e->rt != NULL)
		runtime_unref(e->rt);
	e->rt = sw->rt;
	hub_free(sw);
	TAILQ_FOREACH(s, &e->slots, entry)
	s->def = NULL;
	for (i = 0; fc != NULL && i < fc->n; i++) {
		const struct feed_def *d = &fc->v[i];

		TAILQ_FOREACH(s, &e->slots, entry)
		if (strcmp(s->name, d->name) == 0)
			break;
		if (s == NULL) {
			if ((s = hub_calloc(1, sizeof(*s))) == NULL) {
				log_warnx("feed %s: out of memory", d->name);
				continue;
			}
			s->e = e;
			snprintf(s->name, sizeof(s->name), "%s", d->name);
			pthread_mutex_lock(&e->mu);
			TAILQ_INSERT_TAIL(&e->slots, s, entry);
			pthread_mutex_unlock(&e->mu);
		}
		s->def = d;
		load_status(e, s);
	}
	for (s = TAILQ_FIRST(&e->slots); s != NULL; s = t) {
		t = TAILQ_NEXT(s, entry);
		if (s->def == NULL || !s->def->enabled) {
			if (s->timer != NULL)
				evtimer_del(s->timer);
			if (s->def == NULL && s->run == NULL) {
				pthread_mutex_lock(&e->mu);
				TAILQ_REMOVE(&e->slots, s, entry);
				pthread_mutex_unlock(&e->mu);
				if (s->timer != NULL)
					event_free(s->timer);
				hub_free(s);
			}
			continue;
		}
		if (s->run == NULL)
			arm(s, first_due(s));
	}
}

static int
send_swap(struct feeds *e, struct runtime *rt)
{
	struct swap *sw = hub_malloc(sizeof(*sw));

	if (sw == NULL)
		return -1;
	sw->e = e;
	sw->rt = runtime_ref(rt);
	if (fetcher_call(e->f, swap_in, sw) == -1) {
		runtime_unref(rt);
		hub_free(sw);
		return -1;
	}
	return 0;
}

/* --- life cycle --- */

struct feeds *
feeds_new(struct hub *hub)
{
	struct feeds *e = hub_calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->hub = hub;
	TAILQ_INIT(&e->slots);
	pthread_mutex_init(&e->mu, NULL);
	pthread_mutex_init(&e->gate.mu, NULL);
	return e;
}

static void
start_call(struct fetcher *f, void *arg)
{
	struct feeds *e = arg;

	e->base = fetcher_base(f);
}

int
feeds_start(struct feeds *e, struct runtime *rt)
{
	struct fetch_opts fo;

	memset(&fo, 0, sizeof(fo));
	fo.thread_name = "feeds";
	fo.addr_check = feeds_addr_check;
	fo.addr_arg = e;
	fo.max_host_conns = 4;
	fo.max_conns = 64;
	if ((e->f = fetcher_start(&fo)) == NULL ||
	    fetcher_call(e->f, start_call, e) == -1 || send_swap(e, rt) == -1)
		return -1;
	metrics_add_renderer(e->hub->metrics, render_metrics, e);
	return 0;
}

void
feeds_reconfigure(struct feeds *e, struct runtime *rt)
{
	if (e != NULL && e->f != NULL)
		send_swap(e, rt);
}

static void
stop_call(struct fetcher *f, void *arg)
{
	struct feeds *e = arg;
	struct fslot *s;

	(void)f;
	e->stopping = 1;
	TAILQ_FOREACH(s, &e->slots, entry)
	{
		if (s->timer != NULL)
			event_free(s->timer);
		s->timer = NULL;
		if (s->run != NULL)
			frun_cancel(s->run);
	}
}

void
feeds_stop(struct feeds *e)
{
	if (e == NULL || e->f == NULL)
		return;
	fetcher_call(e->f, stop_call, e);
	/* fetcher_stop runs the queued calls (and the runs' ends that can
	 * still happen), then cancels what is in flight; the writer's
	 * completions call the loop no more after it */
	pthread_mutex_lock(&e->gate.mu);
	e->gate.gone = 1;
	pthread_mutex_unlock(&e->gate.mu);
	fetcher_stop(e->f);
	e->f = NULL;
}

void
feeds_free(struct feeds *e)
{
	struct fslot *s;

	if (e == NULL)
		return;
	fetcher_stop(e->f); /* when feeds_stop was not called */
	/* the writer is stopped: nothing completes any more */
	while ((s = TAILQ_FIRST(&e->slots)) != NULL) {
		TAILQ_REMOVE(&e->slots, s, entry);
		frun_free(s->run);
		if (s->hold != NULL)
			runtime_unref(s->hold);
		hub_free(s);
	}
	if (e->rt != NULL)
		runtime_unref(e->rt);
	pthread_mutex_destroy(&e->mu);
	pthread_mutex_destroy(&e->gate.mu);
	hub_free(e);
}

/* --- /metrics (the operations worker's thread) --- */

static void
render_metrics(struct buf *b, void *arg)
{
	struct feeds *e = arg;
	const struct fslot *s;
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
	    {"ctihub_feed_runs_total", "counter",
		"runs of the feed by outcome"},
	    {"ctihub_feed_stored_objects_total", "counter",
		"objects the feed's runs stored (new versions, or new to "
		"the collection)"},
	    {"ctihub_feed_errors_total", "counter",
		"entries skipped as malformed (kind line) and objects "
		"the hub rejected (kind rejected)"},
	    {"ctihub_feed_last_success_timestamp_seconds", "gauge",
		"when a run of the feed last ended well (0: never)"},
	    {"ctihub_feed_last_run_duration_seconds", "gauge",
		"how long the last run took"},
	    {"ctihub_feed_consecutive_failures", "gauge",
		"failed runs since the last good one"},
	    {"ctihub_feed_running", "gauge", "1 while a run is under way"},
	};
	size_t f;

	pthread_mutex_lock(&e->mu);
	if (TAILQ_EMPTY(&e->slots))
		goto out;
	for (f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		metrics_family(b, fam[f].name, fam[f].type, fam[f].help);
		TAILQ_FOREACH(s, &e->slots, entry)
		{
			const struct frun_status *x = &s->st;

			switch (f) {
			case 0:
				buf_addf(b,
				    "%s{feed=\"%s\",outcome=\"ok\"} %llu\n"
				    "%s{feed=\"%s\",outcome=\"failed\"} "
				    "%llu\n",
				    fam[f].name, s->name,
				    (unsigned long long)(x->runs - x->failures),
				    fam[f].name, s->name,
				    (unsigned long long)x->failures);
				break;
			case 1:
				buf_addf(b, "%s{feed=\"%s\"} %llu\n",
				    fam[f].name, s->name,
				    (unsigned long long)x->stored_total);
				break;
			case 2:
				buf_addf(b,
				    "%s{feed=\"%s\",kind=\"line\"} %llu\n"
				    "%s{feed=\"%s\",kind=\"rejected\"} "
				    "%llu\n",
				    fam[f].name, s->name,
				    (unsigned long long)x->line_errors_total,
				    fam[f].name, s->name,
				    (unsigned long long)x->rejected_total);
				break;
			case 3:
				buf_addf(b, "%s{feed=\"%s\"} %.3f\n",
				    fam[f].name, s->name,
				    (double)x->last_ok / 1e6);
				break;
			case 4:
				buf_addf(b, "%s{feed=\"%s\"} %.3f\n",
				    fam[f].name, s->name,
				    (double)(x->last.ended - x->last.started) /
					1e6);
				break;
			case 5:
				buf_addf(b, "%s{feed=\"%s\"} %llu\n",
				    fam[f].name, s->name,
				    (unsigned long long)x->consecutive);
				break;
			default:
				buf_addf(b, "%s{feed=\"%s\"} %d\n", fam[f].name,
				    s->name, s->running);
			}
		}
	}
out:
	pthread_mutex_unlock(&e->mu);
}
