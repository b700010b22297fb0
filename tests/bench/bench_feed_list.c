/*
 * bench_feed_list.c -- the conversion part of a list feed: an N-line IPv4
 * list (random distinct addresses, one a line; default 1,000,000) parsed
 * into entries, diffed against no snapshot, every new entry rendered as an
 * indicator in TAXII envelopes of E objects (default 1,000, the buffer
 * reused as the engine would hand each to the pipeline), printed as
 * entries/s per step and end to end; then the re-run of the same list
 * against the snapshot just made (parse + diff, nothing to render), and
 * an edited list (1% of the lines replaced: parse + diff + the new and
 * expired indicators).  Storing is not included.
 *
 * usage: bench_feed_list [-n N] [-e E]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctihub/buf.h"

#include "../../feeds/feed_list.h"
#include "bench.h"

static char *make_list(size_t, int, size_t *);
static double render(const struct feed_list_stix *, const struct feed_list *,
    const struct feed_diff *, size_t, size_t *);

static char *
make_list(size_t n, int edit, size_t *len)
{
	char *p = malloc(n * 16 + 1), *w = p;
	size_t i;

	if (p == NULL)
		exit(1);
	for (i = 0; i < n; i++) {
		uint32_t a;

		/* distinct: i spread over 1.0.0.0 - 223.x by an odd multiplier */
		a = (uint32_t)(0x01000000u + (i * 2654435761u) % 0xde000000u);
		if (edit && i % 100 == 0) /* 10/8 is not in the first list */
			a = 0x0a000000u | (uint32_t)i;
		else if (a >> 24 == 10)
			a ^= 0x20000000u;
		w += sprintf(w, "%u.%u.%u.%u\n", a >> 24, (a >> 16) & 255,
		    (a >> 8) & 255, a & 255);
	}
	*len = (size_t)(w - p);
	return p;
}

static double
render(const struct feed_list_stix *s, const struct feed_list *l,
    const struct feed_diff *d, size_t per, size_t *bytes)
{
	struct buf b;
	size_t pos = 0;
	double t0 = bench_now();

	buf_init(&b);
	*bytes = 0;
	while (pos < feed_diff_total(d)) {
		buf_reset(&b);
		if (feed_list_envelope(&b, s, l, d, &pos, per) < 0 ||
		    buf_failed(&b)) {
			fprintf(stderr, "render failed\n");
			exit(1);
		}
		*bytes += b.len;
	}
	buf_clear(&b);
	return bench_now() - t0;
}

int
main(int argc, char **argv)
{
	static const char *labels[] = {"malicious-activity"};
	struct feed_list_cfg c = {0};
	struct feed_list_stix s = {0};
	struct feed_list l;
	struct feed_diff d, d2;
	size_t n = 1000000, per = 1000, len, bytes;
	double t0, tp, td, tr, total;
	char *list;
	int ch;

	while ((ch = getopt(argc, argv, "n:e:")) != -1) {
		if (ch == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (ch == 'e')
			per = strtoul(optarg, NULL, 10);
		else {
			fprintf(
			    stderr, "usage: bench_feed_list [-n N] [-e E]\n");
			return 2;
		}
	}
	s.producer = "identity--0f5c7b5e-3c71-4b5e-9f0a-2c1d9f7e6a01";
	s.created_by_ref = s.producer;
	s.name = "bench";
	s.labels = labels;
	s.nlabels = 1;
	s.confidence = 75;
	s.marking_ref =
	    "marking-definition--34098fce-860f-48ae-8d50-ebd3cc5e41da";
	s.now = 1735689600000000;
	list = make_list(n, 0, &len);
	feed_list_init(&l);
	feed_diff_init(&d);
	feed_diff_init(&d2);

	t0 = bench_now();
	if (feed_list_parse(&c, list, len, &l, NULL, 0) != 0)
		return 1;
	tp = bench_now() - t0;
	t0 = bench_now();
	if (feed_list_diff(&l, NULL, 0, s.now, s.mode, &d, NULL, 0) != 0)
		return 1;
	td = bench_now() - t0;
	tr = render(&s, &l, &d, per, &bytes);
	total = tp + td + tr;
	printf("first run: %zu lines (%zu bytes) -> %zu entries, %zu errors\n",
	    n, len, l.n, l.nerrors);
	printf("  parse    %.3f s  %.0f entries/s\n", tp, (double)l.n / tp);
	printf("  diff     %.3f s  %.0f entries/s  (snapshot %zu bytes)\n", td,
	    (double)l.n / td, d.bloblen);
	printf("  render   %.3f s  %.0f entries/s  (%zu bytes of envelopes)\n",
	    tr, (double)d.nadded / tr, bytes);
	printf(
	    "  total    %.3f s  %.0f entries/s\n", total, (double)l.n / total);

	/* the same list again */
	t0 = bench_now();
	if (feed_list_parse(&c, list, len, &l, NULL, 0) != 0 ||
	    feed_list_diff(&l, d.blob, d.bloblen, s.now + 1000000, s.mode, &d2,
		NULL, 0) != 0)
		return 1;
	total = bench_now() - t0;
	printf("unchanged re-run: %.3f s (parse + diff), %zu new, %zu gone\n",
	    total, d2.nadded, d2.ngone);

	/* 1% of the lines replaced */
	free(list);
	list = make_list(n, 1, &len);
	t0 = bench_now();
	if (feed_list_parse(&c, list, len, &l, NULL, 0) != 0 ||
	    feed_list_diff(&l, d.blob, d.bloblen, s.now + 2000000, s.mode, &d2,
		NULL, 0) != 0)
		return 1;
	tr = render(&s, &l, &d2, per, &bytes);
	total = bench_now() - t0;
	printf("edited re-run (1%% of lines): %.3f s, %zu new, %zu gone, "
	       "%zu errors\n",
	    total, d2.nadded, d2.ngone, l.nerrors);

	feed_diff_clear(&d);
	feed_diff_clear(&d2);
	feed_list_clear(&l);
	free(list);
	return 0;
}
