/*
 * t_tstamp.c -- RFC 3339 timestamp parsing and formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/tstamp.h"

static int64_t
parse_ok(const char *s)
{
	int64_t us = 0;

	assert_int_equal(tstamp_parse(s, strlen(s), &us), TSTAMP_OK);
	return us;
}

static void
t_parse_valid(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(parse_ok("1970-01-01T00:00:01.5Z"), 1500000);
	assert_int_equal(
	    parse_ok("2025-01-06T00:00:00.000Z"), INT64_C(1736121600000000));
	assert_int_equal(
	    parse_ok("2016-05-12T08:17:27.000123Z"), INT64_C(1463041047000123));
	/* nanoseconds are truncated to microseconds */
	assert_int_equal(parse_ok("2016-05-12T08:17:27.123456789Z"),
	    INT64_C(1463041047123456));
	assert_int_equal(
	    parse_ok("2000-02-29T23:59:59Z"), INT64_C(951868799000000));
}

static void
t_parse_invalid(void **state)
{
	int64_t us;

	(void)state;
	assert_int_equal(tstamp_parse("2016-05-12", 10, &us), TSTAMP_ESYNTAX);
	assert_int_equal(
	    tstamp_parse("2016-05-12 08:17:27Z", 20, &us), TSTAMP_ESYNTAX);
	assert_int_equal(
	    tstamp_parse("2016-05-12T08:17:27.Z", 21, &us), TSTAMP_ESYNTAX);
	assert_int_equal(
	    tstamp_parse("2016-13-12T08:17:27Z", 20, &us), TSTAMP_ERANGE);
	assert_int_equal(
	    tstamp_parse("2019-02-29T08:17:27Z", 20, &us), TSTAMP_ERANGE);
	assert_int_equal(
	    tstamp_parse("2016-05-12T08:17:27+02:00", 25, &us), TSTAMP_ENOTUTC);
	assert_int_equal(us, INT64_C(1463033847000000));
	assert_int_equal(
	    tstamp_parse("2016-05-12T08:17:27ZZ", 21, &us), TSTAMP_ESYNTAX);
}

static void
t_format(void **state)
{
	char out[TSTAMP_LEN];

	(void)state;
	tstamp_format(INT64_C(1463041047000123), 6, out);
	assert_string_equal(out, "2016-05-12T08:17:27.000123Z");
	tstamp_format(INT64_C(1463041047123456), 3, out);
	assert_string_equal(out, "2016-05-12T08:17:27.123Z");
	tstamp_format(0, 0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	tstamp_format(-1, 6, out);
	assert_string_equal(out, "1969-12-31T23:59:59.999999Z");
}

static void
t_precision(void **state)
{
	(void)state;
	assert_int_equal(tstamp_precision("2016-05-12T08:17:27Z", 20), 0);
	assert_int_equal(tstamp_precision("2016-05-12T08:17:27.123Z", 24), 3);
	assert_int_equal(tstamp_precision("garbage", 7), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_parse_valid),
	    cmocka_unit_test(t_parse_invalid),
	    cmocka_unit_test(t_format),
	    cmocka_unit_test(t_precision),
	};

	return cmocka_run_group_tests_name("tstamp", tests, NULL, NULL);
}
