/*
 * t_httpmsg.c -- the request pieces the hub parses itself: paths, the
 * TAXII media types of Accept and Content-Type, Authorization.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/httpmsg.h"

static struct httpmsg_path p;
static char why[256];

static int
split(const char *raw)
{
	why[0] = '\0';
	return httpmsg_split_path(raw, &p, why, sizeof(why));
}

static void
t_path_ok(void **state)
{
	(void)state;
	assert_int_equal(split("/"), 0);
	assert_int_equal(p.nseg, 0);
	assert_int_equal(split("/taxii2/"), 0);
	assert_int_equal(p.nseg, 1);
	assert_string_equal(p.seg[0], "taxii2");
	/* the trailing '/' is optional */
	assert_int_equal(split("/api1/collections"), 0);
	assert_int_equal(p.nseg, 2);
	assert_string_equal(p.seg[1], "collections");
	/* escapes decoded, case of hex digits either */
	assert_int_equal(split("/a%2Db/c%2dd/"), 0);
	assert_string_equal(p.seg[0], "a-b");
	assert_string_equal(p.seg[1], "c-d");
	assert_int_equal(split("/1/2/3/4/5/6/7/8/"), 0);
	assert_int_equal(p.nseg, 8);
	assert_string_equal(p.seg[7], "8");
}

static void
t_path_refused(void **state)
{
	static const struct {
		const char *path, *why;
	} bad[] = {
	    {"", "must start with '/'"},
	    {"taxii2/", "must start with '/'"},
	    {"/a%2fb/", "encoded '/'"},
	    {"/a%2/", "malformed percent-encoding"},
	    {"/a%zz/", "malformed percent-encoding"},
	    {"/a%00b/", "byte 0x00"},
	    {"/a%20b/", "byte 0x20"},
	    {"/a\x7f/", "byte 0x7f"},
	    {"/a%c3%a9/", "byte 0xc3"},
	    {"/a//b/", "empty segment"},
	    {"//", "empty segment"},
	    {"/./", "'.' segments"},
	    {"/a/../b/", "'..' segments"},
	    {"/a/%2e%2e/", "'..' segments"},
	    {"/1/2/3/4/5/6/7/8/9/", "too many segments"},
	};
	char longp[HTTPMSG_PATH_MAX + 8];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(split(bad[i].path), -1);
		if (strstr(why, bad[i].why) == NULL)
			fail_msg("%s: '%s' does not say '%s'", bad[i].path, why,
			    bad[i].why);
	}
	longp[0] = '/';
	memset(longp + 1, 'a', sizeof(longp) - 2);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(split(longp), -1);
	assert_non_null(strstr(why, "longer than"));
	assert_int_equal(split(NULL), -1);
}

static void
t_accept(void **state)
{
	(void)state;
	assert_true(httpmsg_accept_taxii(NULL));
	assert_true(httpmsg_accept_taxii(""));
	assert_true(httpmsg_accept_taxii("  "));
	assert_true(httpmsg_accept_taxii("application/taxii+json"));
	assert_true(httpmsg_accept_taxii("application/taxii+json;version=2.1"));
	assert_true(
	    httpmsg_accept_taxii("Application/TAXII+JSON ; version = \"2.1\""));
	assert_true(httpmsg_accept_taxii("*/*"));
	assert_true(httpmsg_accept_taxii("application/*;q=0.5"));
	assert_true(
	    httpmsg_accept_taxii("text/html, application/taxii+json;q=0.9"));
	assert_false(httpmsg_accept_taxii("application/json"));
	assert_false(
	    httpmsg_accept_taxii("application/taxii+json;version=2.0"));
	assert_false(httpmsg_accept_taxii("application/taxii+json;q=0"));
	assert_false(httpmsg_accept_taxii("*/*;q=0.0, text/html"));
	assert_false(httpmsg_accept_taxii("text/*"));
	assert_false(httpmsg_accept_taxii("text/event-stream"));
	/* an event stream (the stream/ endpoint) */
	assert_true(httpmsg_accept_sse(NULL));
	assert_true(httpmsg_accept_sse("text/event-stream"));
	assert_true(httpmsg_accept_sse(" Text/Event-Stream ; charset=utf-8"));
	assert_true(httpmsg_accept_sse("*/*"));
	assert_true(httpmsg_accept_sse("text/*;q=0.2"));
	assert_true(httpmsg_accept_sse("application/json, text/event-stream"));
	assert_false(httpmsg_accept_sse("application/taxii+json;version=2.1"));
	assert_false(httpmsg_accept_sse("application/*"));
	assert_false(httpmsg_accept_sse("text/event-stream;q=0"));
	assert_false(httpmsg_accept_sse("text/html"));
}

static void
t_ctype(void **state)
{
	(void)state;
	assert_true(httpmsg_ctype_taxii("application/taxii+json"));
	assert_true(httpmsg_ctype_taxii("application/taxii+json;version=2.1"));
	assert_true(httpmsg_ctype_taxii(
	    " application/TAXII+json ; version=\"2.1\" ; charset=UTF-8"));
	assert_true(httpmsg_ctype_taxii(
	    "application/taxii+json;charset=\"utf-8\";version=2.1"));
	assert_false(httpmsg_ctype_taxii(NULL));
	assert_false(httpmsg_ctype_taxii("application/json"));
	assert_false(httpmsg_ctype_taxii("application/taxii+jsonx"));
	assert_false(httpmsg_ctype_taxii("application/taxii+json;version=2.0"));
	assert_false(
	    httpmsg_ctype_taxii("application/taxii+json;version=2.10"));
	assert_false(
	    httpmsg_ctype_taxii("application/taxii+json;version=\"2.1"));
	assert_false(
	    httpmsg_ctype_taxii("application/taxii+json;charset=latin1"));
	assert_false(httpmsg_ctype_taxii("application/taxii+json;boundary=x"));
	assert_false(httpmsg_ctype_taxii("application/taxii+json;"));
}

static void
t_auth(void **state)
{
	const char *param;
	char out[HTTPMSG_BASIC_MAX];
	size_t ul, pl;

	(void)state;
	assert_int_equal(httpmsg_auth_scheme(NULL, &param), HTTPMSG_AUTH_NONE);
	assert_int_equal(
	    httpmsg_auth_scheme("Basic  YTpi", &param), HTTPMSG_AUTH_BASIC);
	assert_string_equal(param, "YTpi");
	assert_int_equal(
	    httpmsg_auth_scheme("bearer tok", &param), HTTPMSG_AUTH_BEARER);
	assert_string_equal(param, "tok");
	assert_int_equal(
	    httpmsg_auth_scheme("Digest x", &param), HTTPMSG_AUTH_OTHER);
	assert_int_equal(
	    httpmsg_auth_scheme("Basic", &param), HTTPMSG_AUTH_OTHER);

	/* "alice:pa:ss" */
	assert_int_equal(httpmsg_basic_decode("YWxpY2U6cGE6c3M=", out, &ul, &pl,
			     why, sizeof(why)),
	    0);
	assert_int_equal(ul, 5);
	assert_int_equal(pl, 5);
	assert_string_equal(out, "alice");
	assert_memory_equal(out + ul + 1, "pa:ss", 6);
	/* an empty password, trailing spaces ignored */
	assert_int_equal(
	    httpmsg_basic_decode("Yjo=  ", out, &ul, &pl, why, sizeof(why)), 0);
	assert_string_equal(out, "b");
	assert_int_equal(pl, 0);
	/* refused: no ':', a NUL, bad base64, bad length */
	assert_int_equal(
	    httpmsg_basic_decode("YWJj", out, &ul, &pl, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "no ':'"));
	assert_int_equal(
	    httpmsg_basic_decode("YQBiOmM=", out, &ul, &pl, why, sizeof(why)),
	    -1);
	assert_int_equal(
	    httpmsg_basic_decode("YW*i", out, &ul, &pl, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "base64"));
	assert_int_equal(
	    httpmsg_basic_decode("YWI", out, &ul, &pl, why, sizeof(why)), -1);
	assert_int_equal(
	    httpmsg_basic_decode("", out, &ul, &pl, why, sizeof(why)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_path_ok),
	    cmocka_unit_test(t_path_refused),
	    cmocka_unit_test(t_accept),
	    cmocka_unit_test(t_ctype),
	    cmocka_unit_test(t_auth),
	};

	return cmocka_run_group_tests_name("httpmsg", tests, NULL, NULL);
}
