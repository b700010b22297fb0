/*
 * push_answer.h -- what a push receiver answers, read by the hub: a TAXII
 * 2.1 status resource (after Add Objects, or Get Status) and a
 * Retry-After header (delta seconds or an HTTP date).  Outside input:
 * bounded, never trusted for more than it says.  No I/O.
 */
#ifndef CTIHUB_PUSH_ANSWER_H
#define CTIHUB_PUSH_ANSWER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PUSH_ANSWER_FAILS 16 /* failures kept of a status (all counted) */

struct push_status {
	int complete; /* "status": "complete" */
	char id[101]; /* the status id: safe in a URL path segment */
	long long total, success, failure, pending; /* >= 0 */
	int nfail; /* failures kept, at most PUSH_ANSWER_FAILS */
	struct {
		char id[128];	   /* printable, "" when absent */
		char message[200]; /* printable, "" when absent */
	} fail[PUSH_ANSWER_FAILS];
};

/* Reads a status resource: 0, or -1 when it is not one (not JSON, no
 * "status" or "id" string, an id that cannot name a URL segment). */
int push_status_parse(const char *body, size_t len, struct push_status *);

/* A Retry-After value in seconds from now (0..86400), or -1 when it is
 * neither delta-seconds nor an IMF-fixdate. */
long push_retry_after(const char *value, time_t now);

#endif
