/*
 * t_uuid.c -- UUIDs: parsing (case, dashes, lengths), formatting, random
 * and derived versions, the RFC 4122 layout check; and hex_encode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/bytes.h"
#include "ctihub/uuid.h"

static const unsigned char tlp_green[16] = {0x34, 0x09, 0x8f, 0xce, 0x86, 0x0f,
    0x48, 0xae, 0x8d, 0x50, 0xeb, 0xd3, 0xcc, 0x5e, 0x41, 0xda};

static int
parse(const char *s, unsigned char u[16], int *upper)
{
	return uuid_parse(s, strlen(s), u, upper);
}

static void
t_parse(void **state)
{
	unsigned char u[16];
	int upper = -1;

	(void)state;
	assert_int_equal(
	    parse("34098fce-860f-48ae-8d50-ebd3cc5e41da", u, &upper), 0);
	assert_memory_equal(u, tlp_green, 16);
	assert_int_equal(upper, 0);
	assert_int_equal(
	    parse("34098FCE-860f-48ae-8d50-ebd3cc5e41dA", u, &upper), 0);
	assert_memory_equal(u, tlp_green, 16);
	assert_int_equal(upper, 1);
	/* the bytes and the case are optional */
	assert_int_equal(
	    parse("34098fce-860f-48ae-8d50-ebd3cc5e41da", NULL, NULL), 0);
	/* wrong lengths, dashes, digits */
	assert_int_equal(
	    parse("34098fce-860f-48ae-8d50-ebd3cc5e41d", u, NULL), -1);
	assert_int_equal(
	    parse("34098fce-860f-48ae-8d50-ebd3cc5e41daa", u, NULL), -1);
	assert_int_equal(
	    parse("34098fce0860f-48ae-8d50-ebd3cc5e41da", u, NULL), -1);
	assert_int_equal(
	    parse("34098fce-860f-48ae-8d50ebd3cc5e41da0", u, NULL), -1);
	assert_int_equal(
	    parse("34098fce-860f-48ae-8d50-ebd3cc5e41dg", u, NULL), -1);
	assert_int_equal(
	    parse("3-098fce-860f-48ae-8d50-ebd3cc5e41da", u, NULL), -1);
	assert_int_equal(uuid_parse("", 0, u, NULL), -1);
	/* n counts, not the NUL */
	assert_int_equal(
	    uuid_parse("34098fce-860f-48ae-8d50-ebd3cc5e41da-", 36, u, NULL),
	    0);
}

static void
t_format(void **state)
{
	unsigned char u[16], back[16];
	char s[UUID_LEN + 1];

	(void)state;
	uuid_format(tlp_green, s);
	assert_string_equal(s, "34098fce-860f-48ae-8d50-ebd3cc5e41da");
	memset(u, 0xff, sizeof(u));
	uuid_format(u, s);
	assert_string_equal(s, "ffffffff-ffff-ffff-ffff-ffffffffffff");
	assert_int_equal(uuid_random(u), 0);
	uuid_format(u, s);
	assert_int_equal(strlen(s), UUID_LEN);
	assert_int_equal(parse(s, back, NULL), 0);
	assert_memory_equal(u, back, 16);
}

static void
t_versions(void **state)
{
	unsigned char u[16], v[16];

	(void)state;
	assert_int_equal(uuid_random(u), 0);
	assert_int_equal(uuid_random(v), 0);
	assert_memory_not_equal(u, v, 16);
	assert_int_equal(u[6] >> 4, 4);
	assert_int_equal(u[8] & 0xc0, 0x80);
	assert_true(uuid_rfc4122(u));
	memset(u, 0, sizeof(u));
	assert_false(uuid_rfc4122(u));
	uuid_set_version(u, 5);
	assert_int_equal(u[6], 0x50);
	assert_int_equal(u[8], 0x80);
	assert_true(uuid_rfc4122(u));
	u[8] = 0xc0; /* Microsoft's variant */
	assert_false(uuid_rfc4122(u));
	assert_true(uuid_rfc4122(tlp_green));
}

static void
t_hex(void **state)
{
	static const unsigned char d[] = {0x00, 0x0f, 0xa5, 0xff};
	char out[2 * sizeof(d) + 1];

	(void)state;
	memset(out, 'x', sizeof(out));
	hex_encode(d, sizeof(d), out);
	assert_string_equal(out, "000fa5ff");
	hex_encode(d, 0, out);
	assert_string_equal(out, "");
}

/* RFC 4122 appendix B (errata 1352): www.example.com in the DNS namespace */
static void
t_v5(void **state)
{
	static const unsigned char dns[16] = {0x6b, 0xa7, 0xb8, 0x10, 0x9d,
	    0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
	unsigned char u[16], w[16];
	char s[UUID_LEN + 1];

	(void)state;
	assert_int_equal(uuid_v5(dns, "www.example.com", 15, u), 0);
	uuid_format(u, s);
	assert_string_equal(s, "2ed6657d-e927-568b-95e1-2665a8aea6a2");
	assert_int_equal(uuid_rfc4122(u), 1);
	/* deterministic; another name, another id */
	assert_int_equal(uuid_v5(dns, "www.example.com", 15, w), 0);
	assert_memory_equal(u, w, 16);
	assert_int_equal(uuid_v5(dns, "www.example.org", 15, w), 0);
	assert_memory_not_equal(u, w, 16);
	assert_int_equal(uuid_v5(dns, "", 0, w), 0);
	assert_int_equal(w[6] >> 4, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_parse),
	    cmocka_unit_test(t_format),
	    cmocka_unit_test(t_versions),
	    cmocka_unit_test(t_v5),
	    cmocka_unit_test(t_hex),
	};

	return cmocka_run_group_tests_name("uuid", tests, NULL, NULL);
}
