/*
 * fuzz_query.c -- query strings of the read endpoints (filters and next
 * tokens).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/view.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[32];
	struct view_query q;
	char err[256], *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (view_parse(&q, VIEW_OBJECTS, s, NULL, err, sizeof(err)) == 0 &&
	    q.next != NULL)
		view_token_read(&q, key, 1, 2, 0, err, sizeof(err));
	view_query_clear(&q);
	free(s);
	return 0;
}
