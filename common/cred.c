/*
 * cred.c -- password hashes, API tokens and certificate fingerprints.
 * Hashing and randomness are OpenSSL's (EVP_KDF scrypt, PKCS5_PBKDF2_HMAC,
 * RAND_bytes); this file only formats, parses and compares.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "ctihub/bytes.h"
#include "ctihub/cred.h"

static int b64_decode(
    const char *s, size_t n, unsigned char *out, size_t max, size_t *outlen);
static int b64_encode(
    const unsigned char *in, size_t n, char *out, size_t outlen);

static int
b64_encode(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	if (outlen < 4 * ((n + 2) / 3) + 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return 0;
}

static int
b64_decode(
    const char *s, size_t n, unsigned char *out, size_t max, size_t *outlen)
{
	unsigned char tmp[96];
	int len, pad = 0;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof(tmp))
		return -1;
	len = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	if (len < 0)
		return -1;
	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	len -= pad;
	if (len <= 0 || (size_t)len > max)
		return -1;
	memcpy(out, tmp, (size_t)len);
	*outlen = (size_t)len;
	return 0;
}

/* Splits s at '$' into at most max fields (pointers and lengths). */
static int
split(const char *s, const char **f, size_t *fl, int max)
{
	int n = 0;
	const char *p = s, *q;

	for (;;) {
		if (n == max)
			return -1;
		q = strchr(p, '$');
		f[n] = p;
		fl[n] = q ? (size_t)(q - p) : strlen(p);
		n++;
		if (q == NULL)
			return n;
		p = q + 1;
	}
}

static int
field_u64(const char *s, size_t n, uint64_t *v)
{
	size_t i;

	if (n == 0 || n > 12)
		return -1;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

int
cred_pw_parse(const char *s, struct cred_pw *out, char *err, size_t errlen)
{
	const char *f[7];
	size_t fl[7], hl;
	uint64_t v;
	int n;

	memset(out, 0, sizeof(*out));
	n = split(s, f, fl, 7);
	if (n == 6 && fl[0] == 6 && strncmp(f[0], "scrypt", 6) == 0) {
		out->kind = CRED_SCRYPT;
		if (field_u64(f[1], fl[1], &v) || v < 10 || v > 22) {
			snprintf(err, errlen, "scrypt log2(N) must be 10..22");
			return -1;
		}
		out->n = 1ULL << v;
		if (field_u64(f[2], fl[2], &v) || v < 1 || v > 32) {
			snprintf(err, errlen, "scrypt r must be 1..32");
			return -1;
		}
		out->r = (uint32_t)v;
		if (field_u64(f[3], fl[3], &v) || v < 1 || v > 16) {
			snprintf(err, errlen, "scrypt p must be 1..16");
			return -1;
		}
		out->p = (uint32_t)v;
		f[1] = f[4], fl[1] = fl[4], f[2] = f[5], fl[2] = fl[5];
	} else if (n == 4 && fl[0] == 13 &&
	    strncmp(f[0], "pbkdf2-sha256", 13) == 0) {
		out->kind = CRED_PBKDF2_SHA256;
		if (field_u64(f[1], fl[1], &v) || v < 1000 || v > 10000000) {
			snprintf(err, errlen,
			    "pbkdf2 iterations must be 1000..10000000");
			return -1;
		}
		out->n = v;
		f[1] = f[2], fl[1] = fl[2], f[2] = f[3], fl[2] = fl[3];
	} else {
		snprintf(err, errlen,
		    "not a password hash (expected scrypt$... or "
		    "pbkdf2-sha256$..., as made by 'ctihub member passwd')");
		return -1;
	}
	if (b64_decode(f[1], fl[1], out->salt, sizeof(out->salt),
		&out->saltlen) == -1 ||
	    out->saltlen < 8) {
		snprintf(err, errlen, "bad salt (base64, 8 to 32 bytes)");
		return -1;
	}
	if (b64_decode(f[2], fl[2], out->hash, sizeof(out->hash), &hl) == -1 ||
	    hl != CRED_DIGEST_LEN) {
		snprintf(err, errlen, "bad hash (base64 of 32 bytes)");
		return -1;
	}
	return 0;
}

static int
derive(const struct cred_pw *c, const char *pw, size_t pwlen,
    unsigned char out[CRED_DIGEST_LEN])
{
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx;
	OSSL_PARAM params[6], *p = params;
	uint64_t n = c->n;
	uint32_t r = c->r, par = c->p;
	int rc;

	if (c->kind == CRED_PBKDF2_SHA256)
		return PKCS5_PBKDF2_HMAC(pw, (int)pwlen, c->salt,
			   (int)c->saltlen, (int)c->n, EVP_sha256(),
			   CRED_DIGEST_LEN, out) == 1
		    ? 0
		    : -1;
	if ((kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL)) == NULL)
		return -1;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return -1;
	*p++ = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_PASSWORD, (void *)(uintptr_t)pw, pwlen);
	*p++ = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)c->salt, c->saltlen);
	*p++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	*p++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	*p++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &par);
	*p = OSSL_PARAM_construct_end();
	rc = EVP_KDF_derive(kctx, out, CRED_DIGEST_LEN, params) == 1 ? 0 : -1;
	EVP_KDF_CTX_free(kctx);
	return rc;
}

int
cred_pw_verify(const struct cred_pw *c, const char *pw, size_t pwlen)
{
	unsigned char got[CRED_DIGEST_LEN];
	int ok;

	if (c->kind == CRED_NONE)
		return 0;
	if (derive(c, pw, pwlen, got) == -1)
		return -1;
	ok = CRYPTO_memcmp(got, c->hash, CRED_DIGEST_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

int
cred_pw_hash(const char *pw, size_t pwlen, int logn, char *out, size_t outlen)
{
	struct cred_pw c;
	char salt[64], hash[64];

	memset(&c, 0, sizeof(c));
	c.kind = CRED_SCRYPT;
	c.n = 1ULL << logn;
	c.r = 8;
	c.p = 1;
	c.saltlen = 16;
	if (logn < 10 || logn > 22 || RAND_bytes(c.salt, 16) != 1 ||
	    derive(&c, pw, pwlen, c.hash) == -1)
		return -1;
	if (b64_encode(c.salt, c.saltlen, salt, sizeof(salt)) == -1 ||
	    b64_encode(c.hash, CRED_DIGEST_LEN, hash, sizeof(hash)) == -1)
		return -1;
	if ((size_t)snprintf(out, outlen, "scrypt$%d$%u$%u$%s$%s", logn, c.r,
		c.p, salt, hash) >= outlen)
		return -1;
	OPENSSL_cleanse(&c, sizeof(c));
	return 0;
}

void
cred_token_digest(
    const char *tok, size_t n, unsigned char digest[CRED_DIGEST_LEN])
{
	SHA256((const unsigned char *)tok, n, digest);
}

int
cred_token_new(char *token, size_t toklen, char *stored, size_t storedlen)
{
	unsigned char raw[32], d[CRED_DIGEST_LEN];
	char b64[64], hx[2 * CRED_DIGEST_LEN + 1];
	size_t i, j;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
	/* base64url, unpadded */
	for (i = j = 0; b64[i] != '\0'; i++) {
		if (b64[i] == '=')
			break;
		b64[j++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	}
	b64[j] = '\0';
	if ((size_t)snprintf(token, toklen, "%s%s", CRED_TOKEN_PREFIX, b64) >=
	    toklen)
		return -1;
	cred_token_digest(token, strlen(token), d);
	hex_encode(d, sizeof(d), hx);
	if ((size_t)snprintf(stored, storedlen, "sha256$%s", hx) >= storedlen)
		return -1;
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

static int
parse_hex32(const char *s, int colons_ok, unsigned char out[32])
{
	int i, hi, lo;

	for (i = 0; i < 32; i++) {
		if (colons_ok && i > 0 && *s == ':')
			s++;
		if ((hi = hex_digit(s[0])) < 0 || (lo = hex_digit(s[1])) < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
		s += 2;
	}
	return *s == '\0' ? 0 : -1;
}

int
cred_token_parse(const char *s, unsigned char digest[CRED_DIGEST_LEN])
{
	if (strncmp(s, "sha256$", 7) != 0)
		return -1;
	return parse_hex32(s + 7, 0, digest);
}

int
cred_fp_parse(const char *s, unsigned char fp[CRED_DIGEST_LEN])
{
	if (strncasecmp(s, "sha256:", 7) == 0)
		s += 7;
	else if (strncasecmp(s, "sha256=", 7) == 0)
		s += 7;
	return parse_hex32(s, 1, fp);
}

void
cred_fp_format(const unsigned char fp[CRED_DIGEST_LEN], char out[96])
{
	static const char x[] = "0123456789ABCDEF";
	int i;

	for (i = 0; i < CRED_DIGEST_LEN; i++) {
		out[3 * i] = x[fp[i] >> 4];
		out[3 * i + 1] = x[fp[i] & 15];
		out[3 * i + 2] = i + 1 < CRED_DIGEST_LEN ? ':' : '\0';
	}
}

int
cred_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
