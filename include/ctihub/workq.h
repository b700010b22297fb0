/*
 * workq.h -- a fixed pool of threads running queued tasks, first in first
 * out.  The hub parses and validates posted objects on it, off the HTTP
 * event loops, at a lower scheduling priority than the event loops (so
 * readers keep their share of the CPU while publishers post); the import
 * command uses it the same way.
 */
#ifndef CTIHUB_WORKQ_H
#define CTIHUB_WORKQ_H

typedef void workq_fn(void *arg);

struct workq;

/* Starts n threads, each at scheduling niceness `nice` (0: the caller's;
 * on Linux a thread's own, elsewhere not applied); NULL on failure. */
struct workq *workq_new(int n, const char *name, int nice);
/* Lowers the calling thread's priority to niceness `nice` (Linux: that
 * thread only); 0, or -1 where it cannot. */
int workq_nice(int nice);
/* Queues fn(arg); 0, or -1 when out of memory. */
int workq_push(struct workq *, workq_fn *fn, void *arg);
/* Runs what is queued, then stops and frees the pool. */
void workq_free(struct workq *);

#endif
