/*
 * t_push.c -- push's pure parts: the state record of a subscription
 * (hub/push_state.c, what `ctihub push status` reads) and what receivers
 * answer (push_answer.h: the TAXII status resource, Retry-After).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/push_answer.h"
#include "ctihub/store.h"

#include "../../hub/push.h"

static void
t_state_roundtrip(void **state)
{
	struct push_state a, b;
	unsigned char rec[PUSH_STATE_MAX];
	size_t n;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.cursor = 1764892800123456;
	a.last_ok = 1764892801000000;
	a.last_attempt = -5;
	a.first_fail = 42;
	a.next_retry = INT64_MAX;
	a.attempts = 0x01020304;
	a.suspended = PUSH_GONE;
	a.verified = UINT64_MAX;
	a.delivered = 123456789;
	strcpy(a.err, "webhook: 500 from the receiver");
	n = push_state_encode(&a, rec);
	assert_true(n <= PUSH_STATE_MAX);
	assert_int_equal(push_state_decode(rec, n, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* the longest error fits */
	memset(a.err, 'x', sizeof(a.err) - 1);
	a.err[sizeof(a.err) - 1] = '\0';
	n = push_state_encode(&a, rec);
	assert_true(n < PUSH_STATE_MAX);
	assert_int_equal(push_state_decode(rec, n, &b), 0);
	assert_string_equal(a.err, b.err);
}

static void
t_state_refused(void **state)
{
	struct push_state a, b;
	unsigned char rec[PUSH_STATE_MAX];
	size_t n, i;

	(void)state;
	memset(&a, 0, sizeof(a));
	strcpy(a.err, "e");
	n = push_state_encode(&a, rec);
	for (i = 0; i < n; i++) /* every truncation */
		assert_int_equal(push_state_decode(rec, i, &b), -1);
	assert_int_equal(push_state_decode(rec, n + 1, &b), -1);
	rec[0] = 2; /* an unknown version */
	assert_int_equal(push_state_decode(rec, n, &b), -1);
	rec[0] = 1;
	rec[1 + 56 + 4] = 9; /* an unknown suspension */
	assert_int_equal(push_state_decode(rec, n, &b), -1);
}

static void
t_state_key(void **state)
{
	char k[PUSH_KEY_MAX];

	(void)state;
	push_state_key(
	    "br-hook", "0c3a0b1e-6d4c-4f7a-9a51-3c2b8f0e7d11", k, sizeof(k));
	assert_string_equal(k, "br-hook/0c3a0b1e-6d4c-4f7a-9a51-3c2b8f0e7d11");
}

static int
parse(const char *s, struct push_status *st)
{
	return push_status_parse(s, strlen(s), st);
}

static void
t_status(void **state)
{
	struct push_status st;

	(void)state;
	assert_int_equal(parse("{\"id\":\"a-1\",\"status\":\"complete\","
			       "\"total_count\":3,\"success_count\":3,"
			       "\"failure_count\":0,\"pending_count\":0}",
			     &st),
	    0);
	assert_true(st.complete);
	assert_string_equal(st.id, "a-1");
	assert_int_equal(st.total, 3);
	assert_int_equal(st.failure, 0);
	assert_int_equal(parse("{\"id\":\"b\",\"status\":\"pending\","
			       "\"pending_count\":-4}",
			     &st),
	    0);
	assert_false(st.complete);
	assert_int_equal(st.pending, 0); /* never negative */
	/* failures listed count even when failure_count says less */
	assert_int_equal(parse("{\"id\":\"c\",\"status\":\"complete\","
			       "\"failure_count\":0,\"failures\":[{\"id\":"
			       "\"indicator--1\",\"message\":\"bad\\u0001\"}]}",
			     &st),
	    0);
	assert_int_equal(st.failure, 1);
	assert_int_equal(st.nfail, 1);
	assert_string_equal(st.fail[0].id, "indicator--1");
	assert_string_equal(st.fail[0].message, "bad?");
}

static void
t_status_refused(void **state)
{
	static const char *bad[] = {
	    "",
	    "[]",
	    "{\"status\":\"complete\"}",
	    "{\"id\":\"x\"}",
	    "{\"id\":7,\"status\":\"complete\"}",
	    "{\"id\":\"../../admin\",\"status\":\"pending\"}",
	    "{\"id\":\"a/b\",\"status\":\"pending\"}",
	    "{\"id\":\"a?next=1\",\"status\":\"pending\"}",
	    "{\"id\":\"\",\"status\":\"pending\"}",
	    "{\"id\":\"a\",\"id\":\"b\",\"status\":\"complete\"}",
	    "{\"id\":\"a\",\"status\":\"complete\"",
	};
	struct push_status st;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], &st), -1);
	assert_int_equal(push_status_parse(NULL, 0, &st), -1);
}

static void
t_retry_after(void **state)
{
	time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

	(void)state;
	assert_int_equal(push_retry_after("120", now), 120);
	assert_int_equal(push_retry_after(" 0 ", now), 0);
	assert_int_equal(push_retry_after("99999999999999999999", now), 86400);
	assert_int_equal(
	    push_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now), 60);
	assert_int_equal(
	    push_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), 0);
	assert_int_equal(
	    push_retry_after("Mon, 06 Nov 2094 08:00:00 GMT", now), 86400);
	assert_int_equal(push_retry_after("12s", now), -1);
	assert_int_equal(push_retry_after("-5", now), -1);
	assert_int_equal(push_retry_after("", now), -1);
	assert_int_equal(push_retry_after(NULL, now), -1);
	assert_int_equal(
	    push_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_state_roundtrip),
	    cmocka_unit_test(t_state_refused),
	    cmocka_unit_test(t_state_key),
	    cmocka_unit_test(t_status),
	    cmocka_unit_test(t_status_refused),
	    cmocka_unit_test(t_retry_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
