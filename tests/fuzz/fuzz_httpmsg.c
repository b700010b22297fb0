/*
 * fuzz_httpmsg.c -- the request pieces the hub parses itself (httpmsg.h),
 * with their invariants: a split path's segments are non-empty, printable
 * ASCII without '/', never "." or "..", at most HTTPMSG_MAX_SEG, and
 * re-encoding them gives a path that splits the same; a decoded Basic
 * credential has a user without ':' or NUL and fits its buffer; the
 * media-type checks answer 0 or 1 and ignore trailing spaces of a
 * Content-Type parameter list.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/httpmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_path(const char *s)
{
	static struct httpmsg_path p, q;
	char why[256], again[HTTPMSG_PATH_MAX * 3 + 16];
	size_t o = 0;
	int i;

	if (httpmsg_split_path(s, &p, why, sizeof(why)) == -1) {
		if (why[0] == '\0')
			abort(); /* a refusal always says why */
		return;
	}
	if (p.nseg < 0 || p.nseg > HTTPMSG_MAX_SEG)
		abort();
	again[o++] = '/';
	for (i = 0; i < p.nseg; i++) {
		const char *g = p.seg[i];

		if (g[0] == '\0' || strcmp(g, ".") == 0 || strcmp(g, "..") == 0)
			abort();
		for (; *g != '\0'; g++) {
			if (*g < 0x21 || *g > 0x7e || *g == '/')
				abort();
			o += (size_t)snprintf(again + o, sizeof(again) - o,
			    *g == '%' ? "%%25" : "%c", *g);
		}
		again[o++] = '/';
	}
	again[o] = '\0';
	if (o <= HTTPMSG_PATH_MAX) {
		if (httpmsg_split_path(again, &q, why, sizeof(why)) == -1 ||
		    q.nseg != p.nseg)
			abort();
		for (i = 0; i < p.nseg; i++)
			if (strcmp(p.seg[i], q.seg[i]) != 0)
				abort();
	}
}

static void
check_basic(const char *s)
{
	char out[HTTPMSG_BASIC_MAX], why[256];
	size_t ul = 0, pl = 0;

	if (httpmsg_basic_decode(s, out, &ul, &pl, why, sizeof(why)) == -1)
		return;
	if (ul + 1 + pl >= sizeof(out) || memchr(out, ':', ul) != NULL ||
	    strlen(out) != ul || out[ul + 1 + pl] != '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 2);
	const char *param;
	int a, c;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_path(s);
	check_basic(s);
	a = httpmsg_accept_taxii(s);
	c = httpmsg_ctype_taxii(s);
	if ((a != 0 && a != 1) || (c != 0 && c != 1))
		abort();
	if (c && strlen(s) == size) { /* trailing spaces change nothing */
		s[size] = ' ';
		s[size + 1] = '\0';
		if (!httpmsg_ctype_taxii(s))
			abort();
		s[size] = '\0';
	}
	if (httpmsg_auth_scheme(s, &param) != 0 && param == NULL)
		abort();
	free(s);
	return 0;
}
