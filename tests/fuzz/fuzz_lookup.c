/*
 * fuzz_lookup.c -- lookup requests (lookup.h): the first byte chooses the
 * query string parser (even) or the JSON body parser (odd); the rest is
 * the input (a heap copy: a query NUL-terminated, a body of exactly its
 * length).  Invariants on success: between 1 and the maximum values,
 * each with its bytes inside the input or the parser's own storage, and
 * a type that is a known one, detect (0) or unknown (-1).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/lookup.h"
#include "ctihub/observable.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lookup_req q;
	char err[256] = "", *s;
	volatile unsigned sum = 0;
	size_t k;
	int rc, i;

	if (size < 1 || (s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] & 1)
		rc = lookup_parse_body(&q, s, size - 1, MAX, err, sizeof(err));
	else
		rc = lookup_parse_query(&q, s, MAX, err, sizeof(err));
	if (rc == 0) {
		if (q.n < 1 || q.n > MAX)
			abort();
		for (i = 0; i < q.n; i++) {
			if (q.in[i].value == NULL || q.in[i].type < -1 ||
			    q.in[i].type > OBS_TYPE_MAX)
				abort();
			/* every byte readable (the sanitizer checks) */
			for (k = 0; k < q.in[i].len; k++)
				sum += (unsigned char)q.in[i].value[k];
		}
	} else if (rc != -1 && rc != -2 && rc != -3)
		abort();
	else if (err[0] == '\0' && rc != -3)
		abort();
	lookup_req_clear(&q);
	free(s);
	(void)sum;
	return 0;
}
