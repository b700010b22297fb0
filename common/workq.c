/*
 * workq.c -- thread pool: a mutex, a condition variable and a list.
 */
#include <sys/resource.h>

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "ctihub/alloc.h"
#include "ctihub/log.h"
#include "ctihub/workq.h"

struct task {
	struct task *next;
	workq_fn *fn;
	void *arg;
};

struct workq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct task *head, *tail;
	int stop;
	int n;
	int nice;
	pthread_t *threads;
	char name[16];
};

static void *
workq_main(void *arg)
{
	struct workq *q = arg;
	struct task *t;
	char name[24];
	static int seq;

	snprintf(name, sizeof(name), "%s[%d]", q->name,
	    __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
	log_procinit(name);
	if (q->nice != 0)
		workq_nice(q->nice);
	for (;;) {
		pthread_mutex_lock(&q->lock);
		while (q->head == NULL && !q->stop)
			pthread_cond_wait(&q->cond, &q->lock);
		if ((t = q->head) == NULL) {
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		q->head = t->next;
		if (q->head == NULL)
			q->tail = NULL;
		pthread_mutex_unlock(&q->lock);
		t->fn(t->arg);
		hub_free(t);
	}
}

int
workq_nice(int nice)
{
#ifdef __linux__
	/* on Linux each thread has its own niceness, set by its tid */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), nice) == -1) {
		log_warn("%s: setpriority %d", __func__, nice);
		return -1;
	}
	return 0;
#else
	(void)nice;
	return -1;
#endif
}

struct workq *
workq_new(int n, const char *name, int nice)
{
	struct workq *q;
	int i;

	if ((q = hub_calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if ((q->threads = hub_calloc((size_t)n, sizeof(pthread_t))) == NULL) {
		hub_free(q);
		return NULL;
	}
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->nice = nice;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	for (i = 0; i < n; i++) {
		if (pthread_create(&q->threads[i], NULL, workq_main, q) != 0)
			break;
		q->n++;
	}
	if (q->n == 0) {
		workq_free(q);
		return NULL;
	}
	return q;
}

int
workq_push(struct workq *q, workq_fn *fn, void *arg)
{
	struct task *t;

	if ((t = hub_malloc(sizeof(*t))) == NULL)
		return -1;
	t->next = NULL;
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_lock(&q->lock);
	if (q->tail != NULL)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

void
workq_free(struct workq *q)
{
	int i;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	for (i = 0; i < q->n; i++)
		pthread_join(q->threads[i], NULL);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	hub_free(q->threads);
	hub_free(q);
}
