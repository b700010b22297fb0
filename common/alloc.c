/*
 * alloc.c -- allocation wrappers with a countdown failure hook for OOM
 * tests.  The countdown is off (-1) in normal operation and costs one
 * predictable branch.
 */
#include <stdlib.h>
#include <string.h>

#include "ctihub/alloc.h"

static long alloc_countdown = -1;
static long alloc_attempts;

static int
alloc_fails(void)
{
	if (alloc_countdown < 0)
		return 0;
	alloc_attempts++;
	if (alloc_countdown == 0)
		return 1;
	alloc_countdown--;
	return 0;
}

long
hub_alloc_fail_after(long n)
{
	long a = alloc_attempts;

	alloc_countdown = n;
	alloc_attempts = 0;
	return a;
}

void *
hub_malloc(size_t n)
{
	if (alloc_fails())
		return NULL;
	return malloc(n ? n : 1);
}

void *
hub_calloc(size_t n, size_t sz)
{
	if (alloc_fails())
		return NULL;
	return calloc(n ? n : 1, sz ? sz : 1);
}

void *
hub_realloc(void *p, size_t n)
{
	if (alloc_fails())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *
hub_strndup(const char *s, size_t n)
{
	char *p;

	if ((p = hub_malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
hub_strdup(const char *s)
{
	return hub_strndup(s, strlen(s));
}

void
hub_free(void *p)
{
	free(p);
}
