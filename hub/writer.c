/*
 * writer.c -- group commit.  Every write of the daemon goes through this
 * thread: it drains the queue into one LMDB write transaction, commits it
 * with a sync, and calls each job's completion.  A publisher's answer is
 * therefore never sent before its objects are durable, and concurrent
 * publishers share the cost of a sync.  When the map is full it grows
 * (store_grow, up to map_max) and the group runs again; a group that fails
 * otherwise is attempted again job by job, which the job contract
 * (writer.h) makes safe.  Expired status resources are pruned here too,
 * at most once a minute.
 */
#include <errno.h>
#include <pthread.h>
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

struct writer {
	struct store *store;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	TAILQ_HEAD(, wjob) queue;
	int nqueued;
	int nice;
	int stop;
	int64_t last_prune;
};

static void
prune(struct writer *wr, struct store_wtxn *w)
{
	int64_t now = tstamp_now();
	int n = 0;

	if (now - wr->last_prune < PRUNE_EVERY)
		return;
	wr->last_prune = now;
	if (store_wprune(w, now, 10000, &n) == STORE_OK && n > 0)
		log_info("pruned %d expired status resources", n);
}

/* One attempt of a job, in the transaction: the writer's step for its
 * kind, then the job's own (writer.h: may run more than once). */
static int
apply(struct store_wtxn *w, struct wjob *j)
{
	int rc;

	switch (j->kind) {
	case WJOB_ADD:
		rc = store_wput(
		    w, j->coll, j->producer, j->objs, j->nobjs, j->now);
		break;
	case WJOB_DELETE:
		rc = store_wdelete(w, j->coll, j->type, j->uuid, 0, j->match,
		    j->match_arg, &j->removed);
		break;
	case WJOB_CUSTOM:
		rc = STORE_OK;
		break;
	default:
		rc = STORE_ERR;
	}
	if (rc == STORE_OK && j->apply != NULL)
		rc = j->apply(j, w);
	return rc;
}

static void
run_batch(struct writer *wr, struct wjob **jobs, int n)
{
	struct store_wtxn *w;
	int i, rc;

	struct timespec c0, c1, c2;
	int64_t t0 = tstamp_now(), t1 = 0;
	size_t nobj = 0;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	if ((rc = store_wbegin(wr->store, &w)) == STORE_OK) {
		prune(wr, w);
		for (i = 0; i < n && rc == STORE_OK; i++) {
			rc = apply(w, jobs[i]);
			nobj += jobs[i]->nobjs;
		}
		t1 = tstamp_now();
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
		if (rc == STORE_OK)
			rc = store_wcommit(w);
		else
			store_wabort(w);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c2);
	}
	log_debug("batch: %d jobs, %zu objects, apply %.1f ms (cpu %.1f), "
		  "commit %.1f ms (cpu %.1f)",
	    n, nobj, (double)(t1 - t0) / 1000,
	    (double)(c1.tv_sec - c0.tv_sec) * 1000 +
		(double)(c1.tv_nsec - c0.tv_nsec) / 1e6,
	    (double)(tstamp_now() - t1) / 1000,
	    (double)(c2.tv_sec - c1.tv_sec) * 1000 +
		(double)(c2.tv_nsec - c1.tv_nsec) / 1e6);
	if (rc == STORE_EFULL && store_grow(wr->store) == STORE_OK) {
		/* the map grew (up to map_max): the same group again */
		run_batch(wr, jobs, n);
		return;
	}
	if (rc != STORE_OK && n > 1) {
		/* one job's failure must not fail the others: alone, each
		 * commits or fails on its own (its first attempt was rolled
		 * back with the group; it has told nobody of it) */
		for (i = 0; i < n; i++)
			run_batch(wr, &jobs[i], 1);
		return;
	}
	/* the outcome is final: now, and only now, each job's effects */
	for (i = 0; i < n; i++)
		jobs[i]->done(jobs[i], rc);
	/* after every group: the kernel maps whole neighbourhoods of each
	 * page the write touched (fault-around), so the resident set would
	 * otherwise grow by far more than the pages in use */
	store_release_pages(wr->store);
}

static void *
writer_main(void *arg)
{
	struct writer *wr = arg;
	struct wjob **jobs = NULL, *j;
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
		while ((j = TAILQ_FIRST(&wr->queue)) != NULL &&
		    (n == 0 || nobj + j->nobjs <= WRITER_MAX_OBJECTS)) {
			if (n == cap) {
				struct wjob **nj;

				cap = cap ? cap * 2 : 64;
				nj = hub_realloc(
				    jobs, sizeof(*jobs) * (size_t)cap);
				if (nj == NULL)
					fatalx("writer: out of memory");
				jobs = nj;
			}
			TAILQ_REMOVE(&wr->queue, j, entry);
			wr->nqueued--;
			jobs[n++] = j;
			nobj += j->nobjs;
		}
		pthread_mutex_unlock(&wr->lock);
		run_batch(wr, jobs, n);
	}
	hub_free(jobs);
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
	/* objects waiting for a marking definition are read again when
	 * their producer publishes it */
	store_set_remark(st, ingest_remark);
	pthread_mutex_init(&wr->lock, NULL);
	pthread_cond_init(&wr->cond, NULL);
	TAILQ_INIT(&wr->queue);
	if (pthread_create(&wr->thread, NULL, writer_main, wr) != 0) {
		hub_free(wr);
		return NULL;
	}
	return wr;
}

void
writer_submit(struct writer *wr, struct wjob *j)
{
	pthread_mutex_lock(&wr->lock);
	TAILQ_INSERT_TAIL(&wr->queue, j, entry);
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
	pthread_mutex_destroy(&wr->lock);
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
