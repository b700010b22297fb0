/*
 * t_scan.c -- the cap on the work of one read request (max_scan): a reader
 * who may see little of a large collection gets pages that stop after
 * max_scan index entries, with more and next, possibly empty, and the walk
 * still returns every object it may see exactly once.  Prints the time of
 * one such request with the cap and without it (figures, not asserts).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/buf.h"

#include "integ.h"

#define PW	   ":integ-pass-1"
#define SPARSE	   "/api1/collections/sparse/objects/"
#define TLP_GREEN  "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
#define NENV	   7
#define PER_ENV	   3000
#define NVISIBLE   (NENV * 2)
#define SCAN_SMALL 1000

static const struct opts alice = {.user = "alice" PW};
static struct opts dave; /* by client certificate, see t_scan_cap */
static struct opts carol;

/* Sets max_scan by a reload (n = 0: the directive removed). */
static int
set_max_scan(long n)
{
	static long current;
	char path[1024], from[64], to[64];
	int done = log_count("configuration reloaded");

	snprintf(path, sizeof(path), "%s/ctihub.conf", env("HUB_DIR"));
	snprintf(
	    from, sizeof(from), "json_max_depth 32\nmax_scan %ld", current);
	snprintf(to, sizeof(to), "json_max_depth 32\nmax_scan %ld", n);
	if (current == 0)
		snprintf(from, sizeof(from), "json_max_depth 32");
	if (n == 0)
		snprintf(to, sizeof(to), "json_max_depth 32");
	if (file_replace(path, from, to) == -1)
		return -1;
	current = n;
	hub_signal(SIGHUP);
	return log_wait("configuration reloaded", done, 10);
}

/* 21,000 of alice's objects (dave may see none of them: her policy says
 * `never members dave`), and after each 3,000 two GREEN ones of carol's,
 * which dave may see. */
static int
load(char visible[NVISIBLE][64])
{
	struct buf b = BUF_INIT;
	struct resp r;
	struct opts o;
	char u[37];
	int e, i, k = 0, ok = 1;

	for (e = 0; e < NENV && ok; e++) {
		buf_reset(&b);
		buf_adds(&b, "{\"objects\":[");
		for (i = 0; i < PER_ENV; i++) {
			integ_uuid(u);
			if (i)
				buf_addc(&b, ',');
			integ_indicator(&b, u, "2024-01-01T00:00:00.000Z",
			    "[ipv4-addr:value = '203.0.113.2']");
		}
		buf_adds(&b, "]}");
		o = alice;
		o.body = buf_cstr(&b);
		o.bodylen = b.len;
		http("POST", SPARSE, &o, &r);
		ok = r.code == 202 &&
		    json_integer_value(
			json_object_get(r.json, "success_count")) == PER_ENV;
		if (!ok)
			fprintf(stderr, "post: %ld %.300s\n", r.code, r.body);
		resp_free(&r);
		buf_reset(&b);
		buf_adds(&b, "{\"objects\":[");
		for (i = 0; i < 2 && ok; i++) {
			integ_uuid(u);
			snprintf(visible[k++], 64, "indicator--%s", u);
			buf_addf(&b,
			    "%s{\"type\":\"indicator\",\"spec_version\":\"2."
			    "1\","
			    "\"id\":\"indicator--%s\","
			    "\"created\":\"2024-01-01T00:00:00.000Z\","
			    "\"modified\":\"2024-01-01T00:00:00.000Z\","
			    "\"pattern\":\"[ipv4-addr:value = '203.0.113.1']\","
			    "\"pattern_type\":\"stix\","
			    "\"valid_from\":\"2024-01-01T00:00:00Z\","
			    "\"object_marking_refs\":[\"%s\"]}",
			    i ? "," : "", u, TLP_GREEN);
		}
		buf_adds(&b, "]}");
		o = carol;
		o.body = buf_cstr(&b);
		o.bodylen = b.len;
		http("POST", SPARSE, &o, &r);
		ok = ok && r.code == 202 &&
		    json_integer_value(
			json_object_get(r.json, "success_count")) == 2;
		if (!ok)
			fprintf(stderr, "post: %ld %.300s\n", r.code, r.body);
		resp_free(&r);
	}
	buf_clear(&b);
	return ok ? 0 : -1;
}

struct sparse_walk {
	char *ids;
	size_t idslen;
	int empty;
};

static int
sparse_page(const struct resp *r, void *arg)
{
	struct sparse_walk *w = arg;

	if (json_array_size(json_object_get(r->json, "objects")) == 0)
		w->empty++;
	integ_ids(r, w->ids, w->idslen);
	return 0;
}

/* Walks the collection as dave, 100 a page; the ids seen, the pages and
 * the empty pages. */
static int
walk(char *ids, size_t idslen, int *pages, int *empty)
{
	struct sparse_walk w = {ids, idslen, 0};

	ids[0] = '\0';
	*pages = integ_walk(&dave, SPARSE "?limit=100", sparse_page, &w);
	*empty = w.empty;
	return *pages < 0 ? -1 : 0;
}

/* The mean time of a first page, over 5. */
static double
first_page_ms(void)
{
	struct resp r;
	double t, ms = 0;
	int i;

	for (i = 0; i < 5; i++) {
		t = integ_ms();
		http("GET", SPARSE "?limit=100", &dave, &r);
		ms += integ_ms() - t;
		resp_free(&r);
	}
	return ms / 5;
}

static int
t_scan_cap(char *why, size_t whylen)
{
	static char visible[NVISIBLE][64], want[NVISIBLE * 64 + 1],
	    got[NVISIBLE * 64 * 2];
	double capped_ms, whole_ms;
	int i, pages, empty;

	dave.cert = env("HUB_CERT_DAVE");
	dave.key = env("HUB_KEY_DAVE");
	carol.token = env("HUB_TOKEN_CAROL");
	EXPECT(load(visible) == 0, "posting %d objects", NENV * PER_ENV);
	want[0] = '\0';
	for (i = 0; i < NVISIBLE; i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
		    "%s ", visible[i]);
	/* with a small cap: many short pages, most of them empty */
	EXPECT(set_max_scan(SCAN_SMALL) == 0, "reload with max_scan");
	EXPECT(walk(got, sizeof(got), &pages, &empty) == 0,
	    "walk with max_scan %d", SCAN_SMALL);
	EXPECT(strcmp(got, want) == 0,
	    "walk with max_scan %d:\n  got  %s\n  want %s", SCAN_SMALL, got,
	    want);
	EXPECT(pages >= NENV * PER_ENV / SCAN_SMALL,
	    "%d pages: a request examined more than max_scan entries", pages);
	printf("# sparse walk, dave sees %d of %d objects: max_scan %d: %d "
	       "pages (%d empty)\n",
	    NVISIBLE, NENV * PER_ENV, SCAN_SMALL, pages, empty);
	capped_ms = first_page_ms();
	/* without a cap (as large as allowed): one request walks it all */
	EXPECT(set_max_scan(100000000) == 0, "reload with max_scan");
	EXPECT(walk(got, sizeof(got), &pages, &empty) == 0 &&
		strcmp(got, want) == 0,
	    "walk without a cap");
	whole_ms = first_page_ms();
	printf("# one GET ?limit=100 as dave: %.2f ms with max_scan %d, "
	       "%.2f ms examining all %d entries (%d pages)\n",
	    capped_ms, SCAN_SMALL, whole_ms, NENV * PER_ENV, pages);
	EXPECT(set_max_scan(0) == 0, "reload without max_scan");
	return 0;
}

const struct test scan_tests[] = {
    {"scan cap: a sparse walk stops at max_scan with more/next, every "
     "object once",
	t_scan_cap},
    {NULL, NULL},
};
