/*
 * cert.c -- self-signed certificate generation, fingerprints and validity
 * dates, all with the OpenSSL API (no shell-out to the openssl command).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ctihub/cert.h"

static void
ssl_err(char *err, size_t errlen, const char *what)
{
	char e[200];

	ERR_error_string_n(ERR_get_error(), e, sizeof(e));
	snprintf(err, errlen, "%s: %s", what, e);
	ERR_clear_error();
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int rc;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

/* Opens path for writing, refusing to replace an existing file. */
static FILE *
create_excl(const char *path, mode_t mode)
{
	int fd;
	FILE *f;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) ==
	    -1)
		return NULL;
	if ((f = fdopen(fd, "w")) == NULL)
		close(fd);
	return f;
}

int
cert_generate(const char *certpath, const char *keypath, const char *hostname,
    int days, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	FILE *f = NULL;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char san[512];
	int rc = -1;

	if ((key = EVP_EC_gen("P-256")) == NULL) {
		ssl_err(err, errlen, "generating the key");
		goto fail;
	}
	if ((x = X509_new()) == NULL || X509_set_version(x, 2) != 1) {
		ssl_err(err, errlen, "X509_new");
		goto fail;
	}
	if (RAND_bytes(serial, sizeof(serial)) != 1) {
		ssl_err(err, errlen, "RAND_bytes");
		goto fail;
	}
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
		ssl_err(err, errlen, "serial number");
		goto fail;
	}
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"ctihub (self-signed)", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)(hostname && *hostname ? hostname
							  : "localhost"),
	    -1, -1, 0);
	X509_set_issuer_name(x, name);
	snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1%s%s",
	    hostname && *hostname && strcmp(hostname, "localhost") != 0
		? ",DNS:"
		: "",
	    hostname && *hostname && strcmp(hostname, "localhost") != 0
		? hostname
		: "");
	if (add_ext(x, NID_subject_alt_name, san) == -1 ||
	    add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature") == -1 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") == -1 ||
	    add_ext(x, NID_subject_key_identifier, "hash") == -1) {
		ssl_err(err, errlen, "certificate extensions");
		goto fail;
	}
	if (X509_sign(x, key, EVP_sha256()) == 0) {
		ssl_err(err, errlen, "signing");
		goto fail;
	}
	if ((f = create_excl(keypath, 0600)) == NULL) {
		snprintf(err, errlen, "%s: %s", keypath, strerror(errno));
		goto fail;
	}
	if (PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fflush(f) != 0 || fsync(fileno(f)) != 0) {
		snprintf(err, errlen, "writing %s failed", keypath);
		goto fail;
	}
	fclose(f);
	if ((f = create_excl(certpath, 0644)) == NULL) {
		snprintf(err, errlen, "%s: %s", certpath, strerror(errno));
		unlink(keypath);
		goto fail;
	}
	if (PEM_write_X509(f, x) != 1 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		snprintf(err, errlen, "writing %s failed", certpath);
		goto fail;
	}
	rc = 0;
fail:
	if (f != NULL)
		fclose(f);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int
cert_fingerprint(X509 *x, unsigned char fp[CRED_DIGEST_LEN])
{
	unsigned int n = 0;

	if (X509_digest(x, EVP_sha256(), fp, &n) != 1 || n != CRED_DIGEST_LEN)
		return -1;
	return 0;
}

int
cert_fingerprint_file(const char *path, unsigned char fp[CRED_DIGEST_LEN],
    char *err, size_t errlen)
{
	FILE *f;
	X509 *x;
	int rc;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		ssl_err(err, errlen, path);
		return -1;
	}
	rc = cert_fingerprint(x, fp);
	X509_free(x);
	if (rc == -1)
		snprintf(err, errlen, "%s: cannot compute the digest", path);
	return rc;
}

/* "2024-01-02 00:00:00 UTC" for an ASN.1 time, or "?" */
static void
time_str(const ASN1_TIME *t, char *out, size_t outlen)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, outlen, "?");
}

int
cert_check_dates(X509 *x, time_t now, char *err, size_t errlen)
{
	const ASN1_TIME *nb = X509_get0_notBefore(x);
	const ASN1_TIME *na = X509_get0_notAfter(x);
	char when[64];

	/* X509_cmp_time: -1 when the time is before now, 1 after, 0 on a
	 * malformed time (refused too) */
	if (nb == NULL || X509_cmp_time(nb, &now) >= 0) {
		time_str(nb, when, sizeof(when));
		snprintf(err, errlen, "not valid before %s", when);
		return -1;
	}
	if (na == NULL || X509_cmp_time(na, &now) <= 0) {
		time_str(na, when, sizeof(when));
		snprintf(err, errlen, "expired on %s", when);
		return -1;
	}
	return 0;
}
