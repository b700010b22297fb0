/*
 * t_view.c -- query strings of the read endpoints and paging tokens; the
 * cap on the index entries one page may examine (max_scan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/marking.h"
#include "ctihub/store.h"
#include "ctihub/view.h"

static void
parse_ok(struct view_query *q, const char *raw)
{
	char err[256] = "";

	if (view_parse(q, VIEW_OBJECTS, raw, NULL, err, sizeof(err)) != 0)
		fail_msg("%s: %s", raw, err);
}

static void
parse_fail(const char *raw, const char *want)
{
	struct view_query q;
	char err[256] = "";

	assert_int_equal(
	    view_parse(&q, VIEW_OBJECTS, raw, NULL, err, sizeof(err)), -1);
	view_query_clear(&q);
	if (strstr(err, want) == NULL)
		fail_msg("%s: got \"%s\", want \"%s\"", raw, err, want);
}

static void
t_parse(void **state)
{
	struct view_query q;

	(void)state;
	parse_ok(&q,
	    "added_after=2024-01-02T03:04:05.123456Z&limit=50&"
	    "match%5Btype%5D=indicator,x-mitre-tactic&"
	    "match%5Bversion%5D=first,2024-01-01T00:00:00Z&"
	    "match%5Bspec_version%5D=2.0&match%5Btlp%5D=amber%2Bstrict,"
	    "green&foo=bar&match%5Bsomething%5D=x");
	assert_int_equal(q.added_after, INT64_C(1704164645123456));
	assert_int_equal(q.pos, q.added_after);
	assert_int_equal(q.limit, 50);
	assert_int_equal(q.ntypes, 2);
	assert_string_equal(q.typename[1], "x-mitre-tactic");
	assert_int_equal(q.vflags, VIEW_V_FIRST);
	assert_int_equal(q.nvts, 1);
	assert_int_equal(q.specs, 1);
	assert_int_equal(q.tlps, 1u << TLP_AMBER_STRICT | 1u << TLP_GREEN);
	view_query_clear(&q);
	parse_ok(
	    &q, "match[id]=indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
	assert_int_equal(q.nids, 1);
	assert_int_equal(q.added_after, -1);
	view_query_clear(&q);
	parse_ok(&q, "");
	view_query_clear(&q);
	parse_ok(&q, NULL);
	view_query_clear(&q);
}

static void
t_parse_errors(void **state)
{
	(void)state;
	parse_fail("limit=0", "limit: '0' is not a positive integer");
	parse_fail("limit=1x", "limit: '1x'");
	parse_fail("added_after=2024-13-01T00:00:00Z", "added_after:");
	parse_fail("match%5Btype%5D=a&match%5Btype%5D=b",
	    "match[type] given more than once");
	parse_fail("match[version]=all,last", "'all' cannot be combined");
	parse_fail("match[version]=last,last", "'last' given twice");
	parse_fail(
	    "match[version]=2024-01-01T00:00:00Z,2024-01-01T00:00:00.000Z",
	    "given twice");
	parse_fail("match[spec_version]=2.2", "not 2.0 or 2.1");
	parse_fail("match[id]=malware", "not a STIX identifier");
	parse_fail("match[type]=a,,b", "an empty item");
	parse_fail("match[type]=%4", "malformed percent-encoding");
	parse_fail("match[tlp]=blue", "match[tlp]: 'blue'");
	parse_fail("match[producer]=-x", "not a member id");
}

static void
t_tokens(void **state)
{
	unsigned char key[32], other[32];
	struct view_query q, r;
	char tok[VIEW_TOKEN_MAX], err[256];
	int64_t now = INT64_C(1700000000000000);

	(void)state;
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	parse_ok(&q, "match[type]=indicator");
	view_token_make(&q, key, 11, 22, 1234, 5678, now, tok);
	assert_true(strlen(tok) < VIEW_TOKEN_MAX);
	/* the same filters (another limit): accepted */
	parse_ok(&r, "limit=5&match[type]=indicator");
	r.next = tok;
	assert_int_equal(
	    view_token_read(&r, key, 11, 22, now + 1000, err, sizeof(err)), 0);
	assert_int_equal(r.pos, 1234);
	assert_int_equal(r.bound, 5678);
	/* another member, collection, key, query; expired; altered */
	assert_int_equal(
	    view_token_read(&r, key, 12, 22, now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "another collection or member"));
	assert_int_equal(
	    view_token_read(&r, key, 11, 23, now, err, sizeof(err)), -1);
	assert_int_equal(
	    view_token_read(&r, other, 11, 22, now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a token this hub issued"));
	assert_int_equal(
	    view_token_read(&r, key, 11, 22,
		now + (int64_t)VIEW_TOKEN_TTL * 1000000 + 1, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "expired"));
	view_query_clear(&r);
	parse_ok(&r, "match[type]=malware");
	r.next = tok;
	assert_int_equal(
	    view_token_read(&r, key, 11, 22, now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "other filters"));
	view_query_clear(&r);
	parse_ok(&r, "match[type]=indicator");
	tok[10] = tok[10] == 'A' ? 'B' : 'A';
	r.next = tok;
	assert_int_equal(
	    view_token_read(&r, key, 11, 22, now, err, sizeof(err)), -1);
	r.next = "not/a+token";
	assert_int_equal(
	    view_token_read(&r, key, 11, 22, now, err, sizeof(err)), -1);
	view_query_clear(&r);
	view_query_clear(&q);
}

/* --- the scan cap ------------------------------------------------------ */

#define SCAN_COLL  0x11111111u
#define SCAN_OWN   0xaaaa0001u /* the reader, who sees its own objects */
#define SCAN_OTHER 0xaaaa0002u /* AMBER objects nobody else may see */
#define SCAN_N	   303

static int64_t scan_dates[SCAN_N];

/* 300 objects the reader may not see, and 3 of its own at 50, 150 and
 * 302; their date_added in scan_dates. */
static struct store *
scan_store(char *dir)
{
	static char json[SCAN_N][128], ids[SCAN_N][64];
	struct store_obj o[SCAN_N];
	struct store_wtxn *w;
	struct store *st = NULL;
	char err[256];
	int i;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(
	    store_open(&st, dir, 1ULL << 28, err, sizeof(err)), STORE_OK);
	memset(o, 0, sizeof(o));
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	for (i = 0; i < SCAN_N; i++) {
		unsigned u = (unsigned)i + 1;
		int own = i == 50 || i == 150 || i == SCAN_N - 1;

		snprintf(ids[i], sizeof(ids[i]),
		    "indicator--%08x-0000-4000-8000-000000000000", u);
		snprintf(json[i], sizeof(json[i]), "{\"id\":\"%s\"}", ids[i]);
		o[i].json = json[i];
		o[i].jsonlen = strlen(json[i]);
		o[i].id = ids[i];
		o[i].idlen = strlen(ids[i]);
		memcpy(o[i].uuid, &u, sizeof(u));
		o[i].version = 1000;
		o[i].tlp = TLP_AMBER;
		/* one object a call keeps their order in the collection */
		assert_int_equal(
		    store_wput(w, SCAN_COLL, own ? SCAN_OWN : SCAN_OTHER, &o[i],
			1, INT64_C(1700000000000000)),
		    STORE_OK);
		scan_dates[i] = o[i].date_added;
	}
	assert_int_equal(store_wcommit(w), STORE_OK);
	return st;
}

static int
scan_index(int64_t date)
{
	int i;

	for (i = 0; i < SCAN_N; i++)
		if (scan_dates[i] == date)
			return i;
	return -1;
}

/* Walks the collection as the reader, `limit` a page, with a cap;
 * returns the pages, the items seen in `seen`. */
static int
scan_walk(struct store *st, size_t cap, size_t limit, int64_t *seen, int *n)
{
	struct member reader;
	struct view_ctx vc;
	struct view_query q;
	struct view_page pg;
	struct store_reader *r;
	int64_t pos = 0, bound = 0;
	int pages = 0, from = -1, to;
	size_t i;

	memset(&reader, 0, sizeof(reader));
	reader.code = SCAN_OWN;
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	vc.r = r;
	vc.pol = NULL;
	vc.reader = &reader;
	vc.max_scan = cap;
	*n = 0;
	for (;;) {
		parse_ok(&q, "");
		if (pages > 0) {
			q.pos = pos;
			q.bound = bound;
		}
		assert_int_equal(store_rbegin(r), STORE_OK);
		assert_int_equal(
		    view_page(&vc, &q, SCAN_COLL, limit, &pg), STORE_OK);
		store_rend(r);
		view_query_clear(&q);
		pages++;
		for (i = 0; i < pg.n; i++)
			seen[(*n)++] = pg.items[i].date_added;
		if (!pg.more) {
			view_page_clear(&pg);
			break;
		}
		/* the next position is past every entry examined, and no
		 * page examined more than the cap */
		assert_true(pg.last > pos);
		to = scan_index(pg.last);
		assert_true(to >= 0);
		if (cap > 0)
			assert_true((size_t)(to - from) <= cap);
		from = to;
		pos = pg.last;
		bound = pg.bound;
		view_page_clear(&pg);
		assert_true(pages < 1000);
	}
	store_reader_free(r);
	return pages;
}

static void
t_scan_cap(void **state)
{
	char dir[] = "/tmp/t_view.XXXXXX", cmd[64];
	struct store *st;
	int64_t seen[SCAN_N];
	int n, pages;

	(void)state;
	st = scan_store(dir);
	/* no cap: one page holds the reader's three objects */
	pages = scan_walk(st, 0, 10, seen, &n);
	assert_int_equal(pages, 1);
	assert_int_equal(n, 3);
	/* a cap of 40: pages stop after 40 entries, most of them empty,
	 * and the walk returns the same three, once each, in order */
	pages = scan_walk(st, 40, 10, seen, &n);
	assert_int_equal(pages, (SCAN_N + 39) / 40);
	assert_int_equal(n, 3);
	assert_int_equal(seen[0], scan_dates[50]);
	assert_int_equal(seen[1], scan_dates[150]);
	assert_int_equal(seen[2], scan_dates[SCAN_N - 1]);
	/* a cap of one entry still makes progress */
	pages = scan_walk(st, 1, 10, seen, &n);
	assert_int_equal(pages, SCAN_N);
	assert_int_equal(n, 3);
	/* a full page and a cap together: two of the three a page */
	pages = scan_walk(st, 1000, 2, seen, &n);
	assert_int_equal(n, 3);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_parse),
	    cmocka_unit_test(t_parse_errors),
	    cmocka_unit_test(t_tokens),
	    cmocka_unit_test(t_scan_cap),
	};

	return cmocka_run_group_tests_name("view", tests, NULL, NULL);
}
