/*
 * t_cred.c -- password hashes, API tokens, fingerprints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/cred.h"

static void
t_scrypt_roundtrip(void **state)
{
	char line[256], err[128];
	struct cred_pw c;

	(void)state;
	assert_int_equal(
	    cred_pw_hash("correct horse", 13, 10, line, sizeof(line)), 0);
	assert_memory_equal(line, "scrypt$10$8$1$", 14);
	assert_int_equal(cred_pw_parse(line, &c, err, sizeof(err)), 0);
	assert_int_equal(c.kind, CRED_SCRYPT);
	assert_int_equal(c.n, 1024);
	assert_int_equal(cred_pw_verify(&c, "correct horse", 13), 1);
	assert_int_equal(cred_pw_verify(&c, "correct horsf", 13), 0);
	assert_int_equal(cred_pw_verify(&c, "correct hors", 12), 0);
}

/* PBKDF2-HMAC-SHA256("password", "saltsalt", 1000) from Python's
 * hashlib.pbkdf2_hmac, so hashes made by other tools verify here. */
static void
t_pbkdf2_known(void **state)
{
	struct cred_pw c;
	char err[128];

	(void)state;
	assert_int_equal(cred_pw_parse("pbkdf2-sha256$1000$c2FsdHNhbHQ=$"
				       "E196ZhRPzw+wA84EjzHwJO1cv/MFJdO6C/sxmUe"
				       "TYqY=",
			     &c, err, sizeof(err)),
	    0);
	assert_int_equal(c.kind, CRED_PBKDF2_SHA256);
	assert_int_equal(cred_pw_verify(&c, "password", 8), 1);
	assert_int_equal(cred_pw_verify(&c, "passwore", 8), 0);
}

static void
t_parse_errors(void **state)
{
	struct cred_pw c;
	char err[128];

	(void)state;
	assert_int_equal(cred_pw_parse("md5$abc", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a password hash"));
	assert_int_equal(cred_pw_parse("scrypt$40$8$1$AAAAAAAAAAA=$AAAA", &c,
			     err, sizeof(err)),
	    -1);
	assert_string_equal(err, "scrypt log2(N) must be 10..22");
	assert_int_equal(
	    cred_pw_parse("scrypt$14$8$1$AA==$AAAA", &c, err, sizeof(err)), -1);
	assert_string_equal(err, "bad salt (base64, 8 to 32 bytes)");
	assert_int_equal(cred_pw_parse("scrypt$14$8$1$c2FsdHNhbHQ=$AAAA", &c,
			     err, sizeof(err)),
	    -1);
	assert_string_equal(err, "bad hash (base64 of 32 bytes)");
}

static void
t_tokens(void **state)
{
	char tok[128], stored[128], tok2[128], stored2[128];
	unsigned char a[32], b[32];

	(void)state;
	assert_int_equal(
	    cred_token_new(tok, sizeof(tok), stored, sizeof(stored)), 0);
	assert_memory_equal(tok, "cth_", 4);
	assert_int_equal(strlen(tok), 4 + 43);
	assert_int_equal(cred_token_parse(stored, a), 0);
	cred_token_digest(tok, strlen(tok), b);
	assert_true(cred_equal(a, b, 32));
	assert_int_equal(
	    cred_token_new(tok2, sizeof(tok2), stored2, sizeof(stored2)), 0);
	assert_string_not_equal(tok, tok2);
	cred_token_digest(tok2, strlen(tok2), b);
	assert_false(cred_equal(a, b, 32));
	assert_int_equal(cred_token_parse("sha256$00", a), -1);
	assert_int_equal(cred_token_parse(tok, a), -1);
}

static void
t_fingerprints(void **state)
{
	unsigned char fp[32], fp2[32];
	char s[96];
	int i;

	(void)state;
	for (i = 0; i < 32; i++)
		fp[i] = (unsigned char)(i * 7);
	cred_fp_format(fp, s);
	assert_int_equal(strlen(s), 95);
	assert_memory_equal(s, "00:07:0E:15", 11);
	assert_int_equal(cred_fp_parse(s, fp2), 0);
	assert_memory_equal(fp, fp2, 32);
	assert_int_equal(cred_fp_parse("sha256:00070e151c232a31383f464d545b"
				       "626970777e858c939aa1a8afb6bdc4cbd2d9",
			     fp2),
	    0);
	assert_memory_equal(fp, fp2, 32);
	assert_int_equal(cred_fp_parse("sha256:00:07", fp2), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_scrypt_roundtrip),
	    cmocka_unit_test(t_pbkdf2_known),
	    cmocka_unit_test(t_parse_errors),
	    cmocka_unit_test(t_tokens),
	    cmocka_unit_test(t_fingerprints),
	};

	return cmocka_run_group_tests_name("cred", tests, NULL, NULL);
}
