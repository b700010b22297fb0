/*
 * cred.h -- member credentials: salted slow password hashes (scrypt, or
 * PBKDF2-SHA256 for hashes made elsewhere), bearer API tokens stored as
 * SHA-256 digests, and TLS client certificate fingerprints.  Only the
 * hashes are ever stored; every comparison is constant-time.  Uses
 * OpenSSL for all of it.
 */
#ifndef CTIHUB_CRED_H
#define CTIHUB_CRED_H

#include <stddef.h>
#include <stdint.h>

#define CRED_DIGEST_LEN	  32
#define CRED_SALT_MAX	  32
#define CRED_TOKEN_PREFIX "cth_"
/* scrypt cost for new hashes: N = 2^14, r = 8 (16 MiB, about 70 ms on
 * the reference machine); verified once per credential thanks to the
 * hub's cache, so the cost is paid by guessers, not by pollers. */
#define CRED_SCRYPT_LOGN 14

enum cred_kind {
	CRED_NONE = 0,
	CRED_SCRYPT,
	CRED_PBKDF2_SHA256,
};

/* A parsed password hash, as stored in the members file:
 *   scrypt$<logN>$<r>$<p>$<salt, base64>$<hash, base64>
 *   pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64> */
struct cred_pw {
	int kind;
	uint64_t n;    /* scrypt N or PBKDF2 iterations */
	uint32_t r, p; /* scrypt block size and parallelism */
	size_t saltlen;
	unsigned char salt[CRED_SALT_MAX];
	unsigned char hash[CRED_DIGEST_LEN];
};

/* Parses a stored hash; returns 0, or -1 with a reason in err. */
int cred_pw_parse(const char *s, struct cred_pw *out, char *err, size_t errlen);
/* Hashes `pw` with a fresh random salt (scrypt, N=2^logn, r=8, p=1) and
 * writes the stored form into out.  Returns 0 or -1. */
int cred_pw_hash(
    const char *pw, size_t pwlen, int logn, char *out, size_t outlen);
/* The slow check: 1 if `pw` matches, 0 if not, -1 on internal error. */
int cred_pw_verify(const struct cred_pw *, const char *pw, size_t pwlen);

/* Makes a new random API token ("cth_" + 43 base64url characters) and the
 * line to store ("sha256$<hex>").  Returns 0 or -1. */
int cred_token_new(char *token, size_t toklen, char *stored, size_t storedlen);
/* Parses "sha256$<64 hex>" into a digest; 0 or -1. */
int cred_token_parse(const char *s, unsigned char digest[CRED_DIGEST_LEN]);
/* SHA-256 of a presented token. */
void cred_token_digest(
    const char *tok, size_t n, unsigned char digest[CRED_DIGEST_LEN]);

/* Parses a certificate fingerprint, "sha256:AB:CD:..." or 64 hex digits
 * with or without colons; 0 or -1. */
int cred_fp_parse(const char *s, unsigned char fp[CRED_DIGEST_LEN]);
/* Formats a fingerprint as "AB:CD:...:EF" (96 bytes with the NUL). */
void cred_fp_format(const unsigned char fp[CRED_DIGEST_LEN], char out[96]);

/* Constant-time equality of two digests. */
int cred_equal(const unsigned char *a, const unsigned char *b, size_t n);

#endif
