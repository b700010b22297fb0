/*
 * fuzz_pattern.c -- libFuzzer target for the STIX pattern parser: parses
 * the input (a heap copy of exactly `size` bytes, not NUL-terminated, so
 * a read past the end is caught), walks the tree with both walkers,
 * checks what they report and frees it.  An accepted pattern is parsed
 * again with its second allocation failing, which must fail cleanly or
 * succeed (when one allocation was enough).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int fuzz_cb(const char *, const char *, const char *, size_t, void *);

static int
fuzz_cb(const char *type, const char *path, const char *value, size_t vlen,
    void *arg)
{
	size_t *sum = arg;

	/* borrowed strings are NUL-ended; every byte must be readable */
	*sum += strlen(type) + strlen(path);
	if (type[0] == '\0' || path[0] == '\0')
		abort();
	if (value != NULL) {
		if (value[vlen] != '\0')
			abort();
		if (vlen > 0)
			*sum += (unsigned char)value[vlen - 1];
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pattern *pat;
	char err[256], *buf;
	size_t sum = 0;
	int ok;

	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	pat = pattern_parse(buf, size, err, sizeof(err));
	ok = pat != NULL;
	if (pat == NULL) {
		/* "column N: ...", and never longer than PATTERN_ERRLEN */
		if (strncmp(err, "column ", 7) != 0 ||
		    strlen(err) >= PATTERN_ERRLEN)
			abort();
	} else {
		if (pattern_foreach_eq(pat, fuzz_cb, &sum) != 0 ||
		    pattern_foreach_type(pat, fuzz_cb, &sum) != 0)
			abort();
		pattern_free(pat);
		/* fail the second allocation, if there is one */
		hub_alloc_fail_after(1);
		pat = pattern_parse(buf, size, err, sizeof(err));
		hub_alloc_fail_after(-1);
		if (pat == NULL && strstr(err, "out of memory") == NULL)
			abort();
		pattern_free(pat);
	}
	/* the same answer without an error buffer */
	if ((pattern_check(buf, size, NULL, 0) == 0) != ok)
		abort();
	free(buf);
	return 0;
}
