/*
 * t_view.c -- query strings of the read endpoints and paging tokens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/marking.h"
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_parse),
	    cmocka_unit_test(t_parse_errors),
	    cmocka_unit_test(t_tokens),
	};

	return cmocka_run_group_tests_name("view", tests, NULL, NULL);
}
