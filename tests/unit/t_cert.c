/*
 * t_cert.c -- certificates: a generated self-signed one, its fingerprint,
 * and the check of its validity dates against a given time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ctihub/cert.h"

static X509 *
generated(void)
{
	char dir[] = "/tmp/ctihub-t_cert.XXXXXX", cert[64], key[64], err[256];
	unsigned char fp[CRED_DIGEST_LEN], fp2[CRED_DIGEST_LEN];
	X509 *x;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	assert_int_equal(
	    cert_generate(cert, key, "localhost", 10, err, sizeof(err)), 0);
	/* never replaces a file */
	assert_int_equal(
	    cert_generate(cert, key, "localhost", 10, err, sizeof(err)), -1);
	assert_non_null(f = fopen(cert, "r"));
	assert_non_null(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	assert_int_equal(cert_fingerprint(x, fp), 0);
	assert_int_equal(cert_fingerprint_file(cert, fp2, err, sizeof(err)), 0);
	assert_memory_equal(fp, fp2, sizeof(fp));
	unlink(cert);
	unlink(key);
	rmdir(dir);
	return x;
}

/* cert_generate makes it valid from an hour ago for `days` days. */
static void
t_dates(void **state)
{
	X509 *x = generated();
	time_t now = time(NULL);
	char err[128];

	(void)state;
	assert_int_equal(cert_check_dates(x, now, err, sizeof(err)), 0);
	assert_int_equal(
	    cert_check_dates(x, now + 11 * 86400, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "expired on "));
	assert_non_null(strstr(err, " UTC"));
	assert_int_equal(cert_check_dates(x, now - 7200, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not valid before "));
	X509_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_dates),
	};

	return cmocka_run_group_tests_name("cert", tests, NULL, NULL);
}
