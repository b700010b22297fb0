/*
 * t_feed_taxii.c -- the upstream TAXII connector's pure part
 * (feeds/feed_taxii.c): page URLs with filters and encoding, next/more
 * handling, the X-TAXII-Date-Added-Last header with micro- and
 * millisecond timestamps, the feed's TLP on unmarked objects only, the
 * state blob's round trip and strictness, malformed envelopes and bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ctihub/buf.h"

#include "../../feeds/feed_taxii.h"

#define TLP_GREEN_ID "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
#define T0	     1704067200000000LL /* 2024-01-01T00:00:00Z */
#define TLP_RED_ID   "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"

static const struct feed_taxii_filter filters[] = {
    {"match[type]", "indicator,malware"},
    {"match[spec_version]", "2.1"},
};

static struct feed_taxii_query
query(void)
{
	struct feed_taxii_query q = {
	    .objects_url = "https://up.example/api1/collections/c1/objects/",
	    .filters = filters,
	    .nfilters = 2,
	    .limit = 7,
	    .tlp_id = TLP_GREEN_ID,
	    .max_body = 1 << 20,
	    .max_objects = 100,
	    .max_out = 1 << 20,
	};
	return q;
}

static char *
url_of(const struct feed_taxii_query *q, const struct feed_taxii_run *run)
{
	static char s[2048];
	struct buf b = BUF_INIT;
	char err[128];

	assert_int_equal(feed_taxii_url(q, run, &b, err, sizeof(err)), 0);
	snprintf(s, sizeof(s), "%s", buf_cstr(&b));
	buf_clear(&b);
	return s;
}

static int
rd(const struct feed_taxii_query *q, struct feed_taxii_run *run,
    const char *hdr, const char *body, struct feed_taxii_page *pg)
{
	char err[256];

	return feed_taxii_read(
	    q, run, 200, hdr, body, strlen(body), pg, err, sizeof(err));
}

static void
t_url(void **state)
{
	struct feed_taxii_query q = query();
	struct feed_taxii_run run;
	struct feed_taxii_cursor c = {.us = 0};
	const struct feed_taxii_filter odd[] = {{"match[id]", "a b&c=d/é"}};

	(void)state;
	feed_taxii_run_init(&run, NULL);
	assert_string_equal(url_of(&q, &run),
	    "https://up.example/api1/collections/c1/objects/"
	    "?match[type]=indicator%2Cmalware&match[spec_version]=2.1&limit=7");
	snprintf(c.text, sizeof(c.text), "2024-01-02T03:04:05.123456Z");
	c.us = 1;
	feed_taxii_run_init(&run, &c);
	run.next = strdup("tok+/=");
	assert_string_equal(url_of(&q, &run),
	    "https://up.example/api1/collections/c1/objects/"
	    "?match[type]=indicator%2Cmalware&match[spec_version]=2.1"
	    "&added_after=2024-01-02T03%3A04%3A05.123456Z&limit=7"
	    "&next=tok%2B%2F%3D");
	free(run.next);
	run.next = NULL;
	q.filters = odd;
	q.nfilters = 1;
	q.limit = 0;
	q.objects_url = "https://h/x/?a=1";
	assert_string_equal(url_of(&q, &run),
	    "https://h/x/?a=1&match[id]=a%20b%26c%3Dd%2F%C3%A9"
	    "&added_after=2024-01-02T03%3A04%3A05.123456Z");
	q.objects_url = NULL;
	{
		struct buf b = BUF_INIT;
		char err[64];

		assert_int_equal(feed_taxii_url(&q, &run, &b, err, 64), -1);
		buf_clear(&b);
	}
}

static void
t_next_more(void **state)
{
	struct feed_taxii_query q = query();
	struct feed_taxii_run run;
	struct feed_taxii_page pg;
	const char *s;

	(void)state;
	feed_taxii_page_init(&pg);
	feed_taxii_run_init(&run, NULL);
	/* more with next: the same query plus next, added_after unchanged */
	assert_int_equal(
	    rd(&q, &run, "2024-01-01T00:00:00.000001Z",
		"{\"more\":true,\"next\":\"p2\",\"objects\":[]}", &pg),
	    FEED_TAXII_MORE);
	assert_string_equal(run.next, "p2");
	assert_int_equal(run.start.us, -1);
	assert_int_equal(run.cursor.us, T0 + 1);
	s = url_of(&q, &run);
	assert_non_null(strstr(s, "&next=p2"));
	assert_null(strstr(s, "added_after"));
	/* more without next: a new query from the header */
	assert_int_equal(rd(&q, &run, "2024-01-01T00:00:00.000005Z",
			     "{\"more\":true,\"objects\":[]}", &pg),
	    FEED_TAXII_MORE);
	assert_null(run.next);
	assert_int_equal(run.start.us, T0 + 5);
	s = url_of(&q, &run);
	assert_non_null(
	    strstr(s, "&added_after=2024-01-01T00%3A00%3A00.000005Z&limit=7"));
	assert_null(strstr(s, "next="));
	/* more=true with next after a restart keeps added_after */
	assert_int_equal(rd(&q, &run, "2024-01-01T00:00:00.000009Z",
			     "{\"more\":true,\"next\":\"p4\"}", &pg),
	    FEED_TAXII_MORE);
	s = url_of(&q, &run);
	assert_non_null(
	    strstr(s, "added_after=2024-01-01T00%3A00%3A00.000005Z"));
	assert_non_null(strstr(s, "&next=p4"));
	/* caught up: no more, the token is dropped */
	assert_int_equal(rd(&q, &run, "2024-01-01T00:00:00.000010Z",
			     "{\"more\":false,\"next\":\"zzz\"}", &pg),
	    FEED_TAXII_DONE);
	assert_null(run.next);
	assert_int_equal(run.cursor.us, T0 + 10);
	assert_int_equal(run.pages, 4);
	/* a run is bounded in pages: PAUSE, the cursor is kept */
	feed_taxii_run_clear(&run);
	feed_taxii_run_init(&run, NULL);
	q.max_pages = 2;
	assert_int_equal(rd(&q, &run, "2024-01-01T00:00:00.000011Z",
			     "{\"more\":true,\"next\":\"a\"}", &pg),
	    FEED_TAXII_MORE);
	assert_int_equal(rd(&q, &run, "2024-01-01T00:00:00.000012Z",
			     "{\"more\":true,\"next\":\"b\"}", &pg),
	    FEED_TAXII_PAUSE);
	assert_int_equal(run.cursor.us, T0 + 12);
	q.max_pages = 0;
	/* an empty envelope {} (TAXII's "nothing") is done */
	assert_int_equal(rd(&q, &run, NULL, "{}", &pg), FEED_TAXII_DONE);
	assert_string_equal(pg.env.data, "{\"objects\":[]}");
	feed_taxii_run_clear(&run);
	feed_taxii_page_clear(&pg);
}

static const struct {
	const char *hdr, *want;
} steps[] = {
    /* microseconds: kept as written */
    {" 2024-03-04T05:06:07.654321Z\r\n", "2024-03-04T05:06:07.654321Z"},
    /* milliseconds: newer, kept as written (not reformatted) */
    {"2024-03-04T05:06:08.100Z", "2024-03-04T05:06:08.100Z"},
    /* nanoseconds: value truncated to microseconds, not newer */
    {"2024-03-04T05:06:08.100000900Z", "2024-03-04T05:06:08.100Z"},
    /* nanoseconds: newer, text kept */
    {"2024-03-04T05:06:08.100001900Z", "2024-03-04T05:06:08.100001900Z"},
    /* older: the cursor stays */
    {"2020-01-01T00:00:00Z", "2024-03-04T05:06:08.100001900Z"},
    /* missing: stays too */
    {NULL, "2024-03-04T05:06:08.100001900Z"},
};

static void
t_header(void **state)
{
	struct feed_taxii_query q = query();
	struct feed_taxii_run run;
	struct feed_taxii_page pg;
	char err[128];
	size_t i;

	(void)state;
	feed_taxii_page_init(&pg);
	feed_taxii_run_init(&run, NULL);
	/* each header in turn, and the cursor's text after it */
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_int_equal(
		    rd(&q, &run, steps[i].hdr, "{\"objects\":[]}", &pg),
		    FEED_TAXII_DONE);
		assert_string_equal(run.cursor.text, steps[i].want);
	}
	/* unreadable or not UTC: an error, nothing changes */
	assert_int_equal(feed_taxii_read(&q, &run, 200, "yesterday", "{}", 2,
			     &pg, err, sizeof(err)),
	    FEED_TAXII_EHEADER);
	assert_int_equal(
	    feed_taxii_read(&q, &run, 200, "2024-03-04T05:06:08+01:00", "{}", 2,
		&pg, err, sizeof(err)),
	    FEED_TAXII_EHEADER);
	assert_string_equal(run.cursor.text, "2024-03-04T05:06:08.100001900Z");
	/* more without next and a header that did not move: stuck */
	feed_taxii_run_clear(&run);
	feed_taxii_run_init(&run, &run.cursor);
	assert_int_equal(rd(&q, &run, "2020-01-01T00:00:00Z",
			     "{\"more\":true,\"objects\":[]}", &pg),
	    FEED_TAXII_ESTUCK);
	assert_int_equal(
	    rd(&q, &run, NULL, "{\"more\":true,\"objects\":[]}", &pg),
	    FEED_TAXII_ESTUCK);
	feed_taxii_run_clear(&run);
	feed_taxii_page_clear(&pg);
}

static void
t_tlp(void **state)
{
	struct feed_taxii_query q = query();
	struct feed_taxii_run run;
	struct feed_taxii_page pg;
	json_t *env, *objs;
	const char *body =
	    "{\"objects\":["
	    "{\"type\":\"indicator\",\"id\":\"indicator--1\"},"
	    "{\"type\":\"indicator\",\"id\":\"indicator--2\","
	    "\"object_marking_refs\":[\"" TLP_RED_ID "\"]},"
	    "{\"type\":\"indicator\",\"id\":\"indicator--3\","
	    "\"granular_markings\":[{\"marking_ref\":\"" TLP_RED_ID
	    "\",\"selectors\":[\"name\"]}]},"
	    "{\"type\":\"marking-definition\",\"id\":\"" TLP_RED_ID "\"},"
	    "{\"type\":\"malware\",\"id\":\"malware--5\","
	    "\"object_marking_refs\":[]}"
	    "]}";

	(void)state;
	feed_taxii_page_init(&pg);
	feed_taxii_run_init(&run, NULL);
	assert_int_equal(rd(&q, &run, NULL, body, &pg), FEED_TAXII_DONE);
	assert_int_equal(pg.nobjects, 5);
	assert_int_equal(pg.nmarked, 2);
	env = json_loadb(pg.env.data, pg.env.len, 0, NULL);
	assert_non_null(env);
	objs = json_object_get(env, "objects");
	assert_int_equal(json_array_size(objs), 5);
	assert_string_equal(
	    json_string_value(json_array_get(
		json_object_get(json_array_get(objs, 0), "object_marking_refs"),
		0)),
	    TLP_GREEN_ID);
	assert_string_equal(
	    json_string_value(json_array_get(
		json_object_get(json_array_get(objs, 1), "object_marking_refs"),
		0)),
	    TLP_RED_ID);
	assert_null(
	    json_object_get(json_array_get(objs, 2), "object_marking_refs"));
	assert_null(
	    json_object_get(json_array_get(objs, 3), "object_marking_refs"));
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(objs, 4), "id")),
	    "malware--5");
	assert_string_equal(
	    json_string_value(json_array_get(
		json_object_get(json_array_get(objs, 4), "object_marking_refs"),
		0)),
	    TLP_GREEN_ID);
	json_decref(env);
	/* no TLP configured: nothing added */
	q.tlp_id = NULL;
	assert_int_equal(rd(&q, &run, NULL, body, &pg), FEED_TAXII_DONE);
	assert_int_equal(pg.nmarked, 0);
	assert_null(strstr(pg.env.data, TLP_GREEN_ID));
	feed_taxii_run_clear(&run);
	feed_taxii_page_clear(&pg);
}

static void
t_state(void **state)
{
	struct feed_taxii_cursor c = {.us = -1}, d;
	unsigned char blob[FEED_TAXII_STATE_MAX], bad[FEED_TAXII_STATE_MAX];
	size_t n;

	(void)state;
	n = feed_taxii_state_write(&c, blob);
	assert_int_equal(n, 10);
	assert_int_equal(feed_taxii_state_read(&d, blob, n), 0);
	assert_int_equal(d.us, -1);
	snprintf(c.text, sizeof(c.text), "2024-03-04T05:06:07.654321Z");
	c.us = 1709528767654321LL;
	n = feed_taxii_state_write(&c, blob);
	assert_int_equal(n, 10 + strlen(c.text));
	assert_int_equal(blob[0], FEED_TAXII_STATE_V1);
	assert_int_equal(feed_taxii_state_read(&d, blob, n), 0);
	assert_int_equal(d.us, c.us);
	assert_string_equal(d.text, c.text);
	/* strict: short, long, version, value not matching the text */
	assert_int_equal(feed_taxii_state_read(&d, blob, n - 1), -1);
	assert_int_equal(d.us, -1);
	assert_int_equal(feed_taxii_state_read(&d, blob, n + 1), -1);
	assert_int_equal(feed_taxii_state_read(&d, blob, 0), -1);
	assert_int_equal(feed_taxii_state_read(&d, NULL, 0), -1);
	memcpy(bad, blob, n);
	bad[0] = 2;
	assert_int_equal(feed_taxii_state_read(&d, bad, n), -1);
	memcpy(bad, blob, n);
	bad[8] ^= 1;
	assert_int_equal(feed_taxii_state_read(&d, bad, n), -1);
	memcpy(bad, blob, n);
	bad[12] = 'x';
	assert_int_equal(feed_taxii_state_read(&d, bad, n), -1);
	memcpy(bad, blob, n);
	bad[9] = 0; /* a time without text */
	assert_int_equal(feed_taxii_state_read(&d, bad, 10), -1);
}

static void
t_malformed(void **state)
{
	static const char *const bodies[] = {
	    "",
	    "[]",
	    "null",
	    "{\"objects\":{}}",
	    "{\"objects\":[1]}",
	    "{\"objects\":[{\"type\":\"indicator\"}]}",
	    "{\"objects\":[{\"id\":\"x--1\"}]}",
	    "{\"more\":\"yes\"}",
	    "{\"more\":true,\"next\":5}",
	    "{\"more\":true,\"next\":\"\"}",
	    "{\"more\":true,\"next\":\"a b\"}",
	    "{\"objects\":[],\"objects\":[]}",
	    "{\"objects\":[",
	};
	struct feed_taxii_query q = query();
	struct feed_taxii_run run;
	struct feed_taxii_page pg;
	char err[256], big[4096];
	size_t i;

	(void)state;
	feed_taxii_page_init(&pg);
	feed_taxii_run_init(&run, NULL);
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		assert_int_equal(
		    rd(&q, &run, "2024-01-01T00:00:00Z", bodies[i], &pg),
		    FEED_TAXII_EPARSE);
		assert_int_equal(pg.env.len, 0);
		assert_int_equal(run.cursor.us, -1);
		assert_int_equal(run.pages, 0);
	}
	assert_int_equal(feed_taxii_read(&q, &run, 404, NULL, "{}", 2, &pg, err,
			     sizeof(err)),
	    FEED_TAXII_EHTTP);
	/* bounds: body, objects, output */
	q.max_body = 10;
	assert_int_equal(
	    rd(&q, &run, NULL, "{\"objects\":[  ]}", &pg), FEED_TAXII_ELIMIT);
	q = query();
	q.max_objects = 1;
	assert_int_equal(rd(&q, &run, NULL,
			     "{\"objects\":[{\"type\":\"a\",\"id\":\"a--1\"},"
			     "{\"type\":\"a\",\"id\":\"a--2\"}]}",
			     &pg),
	    FEED_TAXII_ELIMIT);
	q = query();
	q.max_out = 64;
	memset(big, 'x', sizeof(big));
	snprintf(big, sizeof(big),
	    "{\"objects\":[{\"type\":\"a\",\"id\":\"a--1\",\"d\":\"%0200d\"}]}",
	    0);
	assert_int_equal(rd(&q, &run, NULL, big, &pg), FEED_TAXII_ELIMIT);
	assert_int_equal(pg.env.len, 0);
	assert_int_equal(run.pages, 0);
	/* deep nesting is refused by the parser, not the stack */
	{
		size_t d = 100000, k;
		char *deep = malloc(2 * d + 16);

		assert_non_null(deep);
		k = (size_t)sprintf(deep, "{\"objects\":");
		memset(deep + k, '[', d);
		memset(deep + k + d, ']', d);
		deep[k + 2 * d] = '}';
		q = query();
		assert_int_equal(feed_taxii_read(&q, &run, 200, NULL, deep,
				     k + 2 * d + 1, &pg, err, sizeof(err)),
		    FEED_TAXII_EPARSE);
		free(deep);
	}
	feed_taxii_run_clear(&run);
	feed_taxii_page_clear(&pg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_url),
	    cmocka_unit_test(t_next_more),
	    cmocka_unit_test(t_header),
	    cmocka_unit_test(t_tlp),
	    cmocka_unit_test(t_state),
	    cmocka_unit_test(t_malformed),
	};

	return cmocka_run_group_tests_name("feed_taxii", tests, NULL, NULL);
}
