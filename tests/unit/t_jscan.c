/*
 * t_jscan.c -- framing of envelopes and bundles: structure checks with
 * line and column, top-level members, element spans, minifying.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/buf.h"
#include "ctihub/jscan.h"

static void
doc_fail(const char *text, const char *want)
{
	struct jscan_doc d;
	char err[256];

	assert_int_equal(
	    jscan_doc(text, strlen(text), &d, err, sizeof(err)), -1);
	if (strcmp(err, want) != 0)
		fail_msg("got \"%s\", want \"%s\"", err, want);
}

static void
t_doc_valid(void **state)
{
	const char *t = "{\"type\": \"bundle\", \"id\": \"bundle--1\",\n"
			"  \"spec_version\": \"2.0\",\n"
			"  \"objects\": [ {\"a\": [1, 2.5e3, -0, true]},\n"
			"    {\"b\": {\"c\": null, \"d\": \"x\\\"y\\u00e9\"}},"
			"{\"e\":false} ]}\n";
	struct jscan_doc d;
	struct jscan_iter it;
	struct jscan_span sp;
	char err[256];
	int n = 0;

	(void)state;
	assert_int_equal(jscan_doc(t, strlen(t), &d, err, sizeof(err)), 0);
	assert_true(d.has_objects);
	assert_true(d.objects_is_array);
	assert_int_equal(d.nobjects, 3);
	assert_string_equal(d.type, "bundle");
	assert_string_equal(d.spec_version, "2.0");
	jscan_iter_init(&it, t, strlen(t), &d);
	while (jscan_iter_next(&it, &sp) == 1) {
		assert_int_equal(t[sp.off], '{');
		assert_int_equal(t[sp.off + sp.len - 1], '}');
		assert_true(sp.is_object);
		if (n == 0) {
			assert_int_equal(sp.depth, 2);
			assert_false(sp.compact);
		}
		if (n == 2)
			assert_true(sp.compact);
		n++;
	}
	assert_int_equal(n, 3);
	assert_int_equal(jscan_doc("{}", 2, &d, err, sizeof(err)), 0);
	assert_false(d.has_objects);
	assert_int_equal(
	    jscan_doc("{\"objects\":[]}", 14, &d, err, sizeof(err)), 0);
	assert_int_equal(d.nobjects, 0);
	assert_int_equal(
	    jscan_doc("{\"objects\":{}}", 14, &d, err, sizeof(err)), 0);
	assert_false(d.objects_is_array);
}

static void
t_doc_invalid(void **state)
{
	(void)state;
	doc_fail("", "line 1, column 1: empty body (expected a JSON object)");
	doc_fail("[1]", "line 1, column 1: expected a JSON object");
	doc_fail("{\"objects\": [\n  {\"a\": 1,}\n]}",
	    "line 2, column 11: expected a string key");
	doc_fail("{\"objects\": [\n  {\"a\": tru}\n]}",
	    "line 2, column 9: invalid literal (expected a value)");
	doc_fail("{\"a\": \"x\ty\"}",
	    "line 1, column 9: control character in a string");
	doc_fail(
	    "{\"a\": \"\\q\"}", "line 1, column 8: invalid escape in a string");
	doc_fail("{\"a\": 01}", "line 1, column 8: expected ',' or '}'");
	doc_fail("{\"a\": 1.}", "line 1, column 9: invalid number");
	doc_fail("{\"a\": 1} x",
	    "line 1, column 10: text after the end of the JSON object");
	doc_fail("{\"objects\": [1, 2",
	    "line 1, column 18: unexpected end "
	    "of input");
	doc_fail("{\"a\": \"abc", "line 1, column 11: unterminated string");
	doc_fail("{\"a\" 1}", "line 1, column 6: expected ':' after a key");
}

/* Top-level keys are unique, compared decoded as Jansson would (issue #9,
 * item 14: the objects of the first of two "objects" arrays were dropped
 * without a word). */
static void
t_duplicate_keys(void **state)
{
	struct buf b = BUF_INIT;
	struct jscan_doc d;
	const char *t;
	char err[256];
	int i;

	(void)state;
	doc_fail("{\"objects\":[{}],\"objects\":[]}",
	    "line 1, column 17: duplicate key \"objects\"");
	doc_fail("{\"a\": 1,\n \"b\": 2,\n \"\\u0061\": 3}",
	    "line 3, column 2: duplicate key \"\\u0061\"");
	doc_fail("{\"\\ud83d\\ude00\": 1, \"\xf0\x9f\x98\x80\": 2}",
	    "line 1, column 21: duplicate key \"\xf0\x9f\x98\x80\"");
	doc_fail("{\"\\/\\n\": 1, \"/\\u000a\": 2}",
	    "line 1, column 13: duplicate key \"/\\u000a\"");
	/* distinct keys that only look alike, and keys inside values */
	t = "{\"a\":1,\"A\":2,\"a \":3,\"\\u00e9\":4,\"\\u00e8\":5,"
	    "\"x\":{\"a\":1,\"a\":2}}";
	assert_int_equal(jscan_doc(t, strlen(t), &d, err, sizeof(err)), 0);
	/* many keys (past the ones kept on the stack), the last a repeat */
	buf_addc(&b, '{');
	for (i = 0; i < 100; i++)
		buf_addf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
	buf_adds(&b, "}");
	assert_int_equal(jscan_doc(b.data, b.len, &d, err, sizeof(err)), 0);
	b.len--;
	buf_adds(&b, ",\"k42\":0}");
	assert_int_equal(jscan_doc(b.data, b.len, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "duplicate key \"k42\""));
	buf_clear(&b);
}

static void
t_deep(void **state)
{
	size_t n = 100000, i;
	char *t = malloc(2 * n + 16);
	struct jscan_doc d;
	char err[256];

	(void)state;
	memcpy(t, "{\"a\":", 5);
	for (i = 0; i < n; i++)
		t[5 + i] = '[';
	for (i = 0; i < n; i++)
		t[5 + n + i] = ']';
	t[5 + 2 * n] = '}';
	assert_int_equal(jscan_doc(t, 6 + 2 * n, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nesting too deep"));
	free(t);
}

static void
t_minify(void **state)
{
	const char *in = "{ \"a\" : [ 1 , \"b c\\\" d\" ],\n\t\"e\":{} }";
	char out[64];
	size_t n;

	(void)state;
	n = jscan_minify(in, strlen(in), out);
	out[n] = '\0';
	assert_string_equal(out, "{\"a\":[1,\"b c\\\" d\"],\"e\":{}}");
}

static void
t_linecol(void **state)
{
	const char *t = "ab\ncd\n\nef";
	int line, col;

	(void)state;
	jscan_linecol(t, 0, &line, &col);
	assert_int_equal(line, 1);
	assert_int_equal(col, 1);
	jscan_linecol(t, 4, &line, &col);
	assert_int_equal(line, 2);
	assert_int_equal(col, 2);
	jscan_linecol(t, 8, &line, &col);
	assert_int_equal(line, 4);
	assert_int_equal(col, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_doc_valid),
	    cmocka_unit_test(t_doc_invalid),
	    cmocka_unit_test(t_duplicate_keys),
	    cmocka_unit_test(t_deep),
	    cmocka_unit_test(t_minify),
	    cmocka_unit_test(t_linecol),
	};

	return cmocka_run_group_tests_name("jscan", tests, NULL, NULL);
}
