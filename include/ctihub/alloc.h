/*
 * alloc.h -- the one allocation hook of common/.  Every allocation in
 * common/ goes through these so tests can fail the n-th one (t_oom.c) and
 * check that each parser reports a clean error.  common/ never aborts on
 * allocation failure: it returns NULL or -1 to its caller.
 */
#ifndef CTIHUB_ALLOC_H
#define CTIHUB_ALLOC_H

#include <stddef.h>

void *hub_malloc(size_t);
void *hub_calloc(size_t, size_t);
void *hub_realloc(void *, size_t);
char *hub_strdup(const char *);
char *hub_strndup(const char *, size_t);
void hub_free(void *);

/*
 * Fails every allocation after the next `n` ones (n < 0: never fail).
 * Returns how many allocations were attempted since the last call.
 * For tests only; not thread-safe.
 */
long hub_alloc_fail_after(long n);

#endif
