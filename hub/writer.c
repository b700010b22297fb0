/*
 * writer.c -- group commit.  Every write of the daemon goes through this
 * thread: it drains the queue of messages into one LMDB write
 * transaction, applies each (writer_apply.c), commits it with a sync,
 * tells the commit's subscribers what changed, and calls each message's
 * completion.  A publisher's answer is therefore never sent before its
 * objects are durable, and concurrent publishers share the cost of a
 * sync.  When the map is full it grows (store_grow, up to map_max) and the
 * group runs again; a group that fails otherwise is attempted again
 * message by message, which the message contract (writer.h) makes safe.
 * Expired status resources and gone records older than gone_keep are
 * pruned by a message of the writer's own, at most once a minute (at the
 * next group while a prune finds more than it may delete at once).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "ctihub/alloc.h"
#include "ctihub/ingest.h"
#include "ctihub/log.h"
#include "ctihub/tstamp.h"
#include "ctihub/workq.h"

#include "writer.h"

/* How much one transaction may take before the rest waits for the next:
 * large groups amortise the sync, but a group is answered only when its
 * transaction commits. */
#define WRITER_MAX_OBJECTS 40000
#define PRUNE_EVERY	   (60 * INT64_C(1000000))
#define PRUNE_SLICE	   10000 /* records of each kind one prune deletes */

struct writer_sub {
	writer_commit_cb *cb;
	void *arg;
};

struct writer {
	struct store *store;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	TAILQ_HEAD(, wmsg) queue;
	int nqueued;
	int nice;
	int stop;
	/* the writer thread's own */
	struct wmsg prune; /* expired statuses, in a group now and then */
	int prune_busy;
	int64_t last_prune;
	_Atomic int64_t gone_keep; /* seconds; 0: for ever */
	struct wacc acc; /* what the transaction being built changed */
	writer_fault_cb *fault;
	void *fault_arg;
	/* commit subscribers, under sublock (held while they run) */
	pthread_mutex_t sublock;
	struct writer_sub subs[WRITER_MAX_SUBS];
	int nsubs;
};

static void
prune_done(struct wmsg *m, int rc)
{
	struct writer *wr = m->arg;

	if (rc == STORE_OK && m->u.prune.statuses > 0)
		log_info(
		    "pruned %d expired status resources", m->u.prune.statuses);
	if (rc == STORE_OK && m->u.prune.gone > 0)
		log_info("pruned %d deletion records older than gone_keep",
		    m->u.prune.gone);
	/* a full prune leaves more: due again at the next group */
	if (rc == STORE_OK &&
	    (m->u.prune.statuses >= m->u.prune.max ||
		m->u.prune.gone >= m->u.prune.max))
		wr->last_prune = 0;
	wr->prune_busy = 0;
}

/* The writer's prune, when it is due: first in the next group. */
static struct wmsg *
prune_due(struct writer *wr)
{
	int64_t now = tstamp_now(), keep;

	if (wr->prune_busy || now - wr->last_prune < PRUNE_EVERY)
		return NULL;
	wr->last_prune = now;
	wr->prune_busy = 1;
	keep = atomic_load(&wr->gone_keep);
	wmsg_init(&wr->prune, WMSG_PRUNE);
	wr->prune.u.prune.status_before = now;
	wr->prune.u.prune.gone_before =
	    keep > 0 && now > keep * 1000000 ? now - keep * 1000000 : 0;
	wr->prune.u.prune.max = PRUNE_SLICE;
	wr->prune.done = prune_done;
	wr->prune.arg = wr;
	return &wr->prune;
}

/* One attempt of a message, in the transaction (writer.h: may run more
 * than once). */
static int
attempt(struct writer *wr, struct store_wtxn *w, struct wmsg *m)
{
	int rc;

	if (wr->fault != NULL && (rc = wr->fault(m, wr->fault_arg)) != STORE_OK)
		return rc;
	return wmsg_apply(w, m, &wr->acc);
}

/* After a commit: what it changed, to every subscriber. */
static void
publish(struct writer *wr, int n, size_t nobj, int64_t apply_us,
    int64_t commit_us, int64_t now)
{
	struct wcommit *c = &wr->acc.c;
	int i;

	c->colls = wr->acc.colls;
	c->nmsgs = n;
	c->objects = nobj;
	c->apply_us = apply_us;
	c->commit_us = commit_us;
	c->committed = now;
	pthread_mutex_lock(&wr->sublock);
	for (i = 0; i < wr->nsubs; i++)
		wr->subs[i].cb(c, wr->subs[i].arg);
	pthread_mutex_unlock(&wr->sublock);
}

static void
run_batch(struct writer *wr, struct wmsg **msgs, int n)
{
	struct store_wtxn *w;
	int i, rc;

	struct timespec c0, c1, c2;
	int64_t t0 = tstamp_now(), t1 = 0, t2;
	size_t nobj = 0;

	wacc_reset(&wr->acc);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	if ((rc = store_wbegin(wr->store, &w)) == STORE_OK) {
		for (i = 0; i < n && rc == STORE_OK; i++) {
			rc = attempt(wr, w, msgs[i]);
			nobj += wmsg_objects(msgs[i]);
		}
		t1 = tstamp_now();
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
		if (rc == STORE_OK)
			rc = store_wcommit(w);
		else
			store_wabort(w);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c2);
	}
	t2 = tstamp_now();
	log_debug("batch: %d messages, %zu objects, apply %.1f ms (cpu %.1f), "
		  "commit %.1f ms (cpu %.1f)",
	    n, nobj, (double)(t1 - t0) / 1000,
	    (double)(c1.tv_sec - c0.tv_sec) * 1000 +
		(double)(c1.tv_nsec - c0.tv_nsec) / 1e6,
	    (double)(t2 - t1) / 1000,
	    (double)(c2.tv_sec - c1.tv_sec) * 1000 +
		(double)(c2.tv_nsec - c1.tv_nsec) / 1e6);
	if (rc == STORE_EFULL && store_grow(wr->store) == STORE_OK) {
		/* the map grew (up to map_max): the same group again */
		run_batch(wr, msgs, n);
		return;
	}
	if (rc != STORE_OK && n > 1) {
		/* one message's failure must not fail the others: alone, each
		 * commits or fails on its own (its first attempt was rolled
		 * back with the group; it has told nobody of it) */
		for (i = 0; i < n; i++)
			run_batch(wr, &msgs[i], 1);
		return;
	}
	/* the outcome is final: now, and only now, its effects */
	if (rc == STORE_OK)
		publish(wr, n, nobj, t1 - t0, t2 - t1, t2);
	for (i = 0; i < n; i++)
		if (msgs[i]->done != NULL)
			msgs[i]->done(msgs[i], rc);
	/* after every group: the kernel maps whole neighbourhoods of each
	 * page the write touched (fault-around), so the resident set would
	 * otherwise grow by far more than the pages in use */
	store_release_pages(wr->store);
}

static void *
writer_main(void *arg)
{
	struct writer *wr = arg;
	struct wmsg **msgs = NULL, *m;
	int cap = 0, n;
	size_t nobj;

	log_procinit("writer");
	if (wr->nice != 0)
		workq_nice(wr->nice);
	for (;;) {
		pthread_mutex_lock(&wr->lock);
		while (TAILQ_EMPTY(&wr->queue) && !wr->stop)
			pthread_cond_wait(&wr->cond, &wr->lock);
		if (TAILQ_EMPTY(&wr->queue)) {
			pthread_mutex_unlock(&wr->lock);
			break;
		}
		n = 0;
		nobj = 0;
		/* the prune weighs nothing: the first queued goes with it */
		m = prune_due(wr);
		while (m != NULL ||
		    ((m = TAILQ_FIRST(&wr->queue)) != NULL &&
			(nobj == 0 ||
			    nobj + wmsg_objects(m) <= WRITER_MAX_OBJECTS))) {
			if (n == cap) {
				struct wmsg **nm;

				cap = cap ? cap * 2 : 64;
				nm = hub_realloc(
				    msgs, sizeof(*msgs) * (size_t)cap);
				if (nm == NULL)
					fatalx("writer: out of memory");
				msgs = nm;
			}
			if (m != &wr->prune) {
				TAILQ_REMOVE(&wr->queue, m, entry);
				wr->nqueued--;
			}
			msgs[n++] = m;
			nobj += wmsg_objects(m);
			m = NULL;
		}
		pthread_mutex_unlock(&wr->lock);
		run_batch(wr, msgs, n);
	}
	hub_free(msgs);
	return NULL;
}

struct writer *
writer_start(struct store *st, int nice)
{
	struct writer *wr;

	if ((wr = hub_calloc(1, sizeof(*wr))) == NULL)
		return NULL;
	wr->store = st;
	wr->nice = nice;
	atomic_init(&wr->gone_keep, WRITER_GONE_KEEP);
	/* objects waiting for a marking definition are read again when
	 * their producer publishes it */
	store_set_remark(st, ingest_remark);
	pthread_mutex_init(&wr->lock, NULL);
	pthread_mutex_init(&wr->sublock, NULL);
	pthread_cond_init(&wr->cond, NULL);
	TAILQ_INIT(&wr->queue);
	if (pthread_create(&wr->thread, NULL, writer_main, wr) != 0) {
		pthread_mutex_destroy(&wr->lock);
		pthread_mutex_destroy(&wr->sublock);
		pthread_cond_destroy(&wr->cond);
		hub_free(wr);
		return NULL;
	}
	return wr;
}

void
writer_submit(struct writer *wr, struct wmsg *m)
{
	pthread_mutex_lock(&wr->lock);
	TAILQ_INSERT_TAIL(&wr->queue, m, entry);
	wr->nqueued++;
	pthread_cond_signal(&wr->cond);
	pthread_mutex_unlock(&wr->lock);
}

int
writer_queued(struct writer *wr)
{
	int n;

	pthread_mutex_lock(&wr->lock);
	n = wr->nqueued;
	pthread_mutex_unlock(&wr->lock);
	return n;
}

int
writer_subscribe(struct writer *wr, writer_commit_cb *cb, void *arg)
{
	int rc = -1;

	pthread_mutex_lock(&wr->sublock);
	if (wr->nsubs < WRITER_MAX_SUBS) {
		wr->subs[wr->nsubs].cb = cb;
		wr->subs[wr->nsubs].arg = arg;
		wr->nsubs++;
		rc = 0;
	}
	pthread_mutex_unlock(&wr->sublock);
	if (rc == -1)
		log_warnx(
		    "%s: more than %d subscribers", __func__, WRITER_MAX_SUBS);
	return rc;
}

void
writer_unsubscribe(struct writer *wr, writer_commit_cb *cb, void *arg)
{
	int i;

	pthread_mutex_lock(&wr->sublock);
	for (i = 0; i < wr->nsubs; i++)
		if (wr->subs[i].cb == cb && wr->subs[i].arg == arg) {
			wr->subs[i] = wr->subs[--wr->nsubs];
			break;
		}
	pthread_mutex_unlock(&wr->sublock);
}

void
writer_set_fault(struct writer *wr, writer_fault_cb *cb, void *arg)
{
	pthread_mutex_lock(&wr->lock);
	wr->fault = cb;
	wr->fault_arg = arg;
	pthread_mutex_unlock(&wr->lock);
}

void
wcollset_add(struct wcollset *set, const struct wcommit *c)
{
	int i, j;

	if (c->ncolls == 0) /* published without its collections */
		set->all = 1;
	for (i = 0; i < c->ncolls && !set->all; i++) {
		for (j = 0; j < set->n && set->v[j] != c->colls[i].coll; j++)
			;
		if (j < set->n)
			continue;
		if (set->n == WCOLLSET_MAX)
			set->all = 1;
		else
			set->v[set->n++] = c->colls[i].coll;
	}
}

int
wcollset_has(const struct wcollset *set, uint32_t coll)
{
	int i;

	if (set->all)
		return 1;
	for (i = 0; i < set->n; i++)
		if (set->v[i] == coll)
			return 1;
	return 0;
}

void
writer_set_gone_keep(struct writer *wr, int64_t seconds)
{
	atomic_store(&wr->gone_keep, seconds > 0 ? seconds : 0);
}

void
writer_stop(struct writer *wr)
{
	if (wr == NULL)
		return;
	pthread_mutex_lock(&wr->lock);
	wr->stop = 1;
	pthread_cond_signal(&wr->cond);
	pthread_mutex_unlock(&wr->lock);
	pthread_join(wr->thread, NULL);
	wacc_free(&wr->acc);
	pthread_mutex_destroy(&wr->lock);
	pthread_mutex_destroy(&wr->sublock);
	pthread_cond_destroy(&wr->cond);
	hub_free(wr);
}

int
writer_alive(struct writer *wr)
{
	int alive;

	pthread_mutex_lock(&wr->lock);
	alive = !wr->stop;
	pthread_mutex_unlock(&wr->lock);
	return alive;
}
