/*
 * auth.c -- authenticates a request: HTTP Basic against the member's
 * salted scrypt/PBKDF2 hash, a bearer API token against stored SHA-256
 * digests, or the TLS client certificate by its fingerprint.  The slow
 * hash is paid once: a successful Basic credential is remembered, keyed by
 * an HMAC of the header under a per-process random key, for
 * auth_cache_ttl and only for the configuration it was checked against.
 * Failures are never remembered.  One cache per worker thread, no locks.
 * A client certificate must also be within its validity dates, whether it
 * is checked against tls_client_ca or only pinned by its fingerprint.
 * auth_check decides from the Authorization header and the TLS session
 * alone, so conn.c can refuse a request before its body is read.
 */
#include <string.h>
#include <strings.h>

#include <time.h>

#include <event2/http.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ctihub/alloc.h"
#include "ctihub/cert.h"
#include "ctihub/cred.h"
#include "ctihub/log.h"
#include "ctihub/tstamp.h"

#include "hub.h"

#define AUTHCACHE_SLOTS 1024

struct authslot {
	unsigned char key[32];
	char id[MEMBER_ID_MAX];
	unsigned long gen;
	int64_t expires;
};

struct authcache {
	unsigned char hkey[32];
	struct authslot slot[AUTHCACHE_SLOTS];
};

/* A hash of a password nobody has, checked when the user is unknown so
 * that a wrong user name costs as long as a wrong password. */
static const char dummy_hash[] = "scrypt$14$8$1$AAAAAAAAAAAAAAAAAAAAAA==$"
				 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

struct authcache *
authcache_new(void)
{
	struct authcache *ac;

	if ((ac = hub_calloc(1, sizeof(*ac))) == NULL)
		return NULL;
	if (RAND_bytes(ac->hkey, sizeof(ac->hkey)) != 1) {
		hub_free(ac);
		return NULL;
	}
	return ac;
}

void
authcache_free(struct authcache *ac)
{
	if (ac == NULL)
		return;
	explicit_bzero(ac, sizeof(*ac));
	hub_free(ac);
}

static struct authslot *
cache_slot(struct authcache *ac, const char *hdr, unsigned char key[32])
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), ac->hkey, sizeof(ac->hkey),
	    (const unsigned char *)hdr, strlen(hdr), key, &n);
	return &ac->slot[(key[0] | (unsigned)key[1] << 8) % AUTHCACHE_SLOTS];
}

static int
auth_basic(struct authcache *ac, const struct runtime *rt, const char *hdr,
    const char *b64, const struct member **out, char *why, size_t whylen)
{
	struct conf *c = rt->conf;
	unsigned char key[32], dec[HTTP_AUTH_MAX];
	struct authslot *s;
	const struct member *m;
	struct cred_pw dummy;
	char err[64], *colon;
	size_t n = strlen(b64);
	int len, ok;

	s = cache_slot(ac, hdr, key);
	if (s->gen == rt->gen && s->expires > tstamp_now() &&
	    cred_equal(s->key, key, sizeof(key)) &&
	    (m = members_find(c->members, s->id)) != NULL) {
		*out = m;
		return AUTH_OK;
	}
	while (n > 0 && b64[n - 1] == ' ')
		n--;
	if (n == 0 || n % 4 != 0 || n / 4 * 3 >= sizeof(dec)) {
		snprintf(why, whylen, "malformed Basic credentials");
		return AUTH_MALFORMED;
	}
	len = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n);
	if (len < 0) {
		snprintf(why, whylen, "malformed Basic credentials (base64)");
		return AUTH_MALFORMED;
	}
	while (len > 0 && b64[n - 1] == '=' && n-- > 0)
		len--;
	dec[len] = '\0';
	if ((colon = memchr(dec, ':', (size_t)len)) == NULL ||
	    memchr(dec, '\0', (size_t)len) != NULL) {
		snprintf(why, whylen, "malformed Basic credentials (no ':')");
		explicit_bzero(dec, sizeof(dec));
		return AUTH_MALFORMED;
	}
	*colon = '\0';
	m = members_find(c->members, (char *)dec);
	if (m == NULL || m->pw.kind == CRED_NONE) {
		if (cred_pw_parse(dummy_hash, &dummy, err, sizeof(err)) == 0)
			cred_pw_verify(&dummy, colon + 1,
			    (size_t)len - (size_t)(colon + 1 - (char *)dec));
		ok = 0;
	} else
		ok = cred_pw_verify(&m->pw, colon + 1,
		    (size_t)len - (size_t)(colon + 1 - (char *)dec));
	explicit_bzero(dec, sizeof(dec));
	if (ok != 1) {
		snprintf(why, whylen, "unknown user or wrong password");
		return AUTH_BAD;
	}
	if (c->auth_cache_ttl > 0) {
		memcpy(s->key, key, sizeof(key));
		snprintf(s->id, sizeof(s->id), "%s", m->id);
		s->gen = rt->gen;
		s->expires = tstamp_now() + c->auth_cache_ttl * 1000000;
	}
	*out = m;
	return AUTH_OK;
}

static int
auth_cert(const struct runtime *rt, SSL *ssl, const struct member **out,
    char *why, size_t whylen)
{
	unsigned char fp[CRED_DIGEST_LEN];
	char fps[96], err[96];
	X509 *x;
	long vr;
	int dates;

	if (ssl == NULL || (x = SSL_get1_peer_certificate(ssl)) == NULL)
		return AUTH_NONE;
	if (cert_fingerprint(x, fp) == -1) {
		X509_free(x);
		snprintf(why, whylen, "cannot read the client certificate");
		return AUTH_CERT;
	}
	/* the verify callback accepts every certificate (runtime.c): the
	 * dates are checked here for pinned ones too */
	dates = cert_check_dates(x, time(NULL), err, sizeof(err));
	X509_free(x);
	if (rt->conf->tls_client_ca != NULL &&
	    (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(why, whylen, "client certificate not trusted: %s",
		    X509_verify_cert_error_string(vr));
		return AUTH_CERT;
	}
	if (dates == -1) {
		snprintf(why, whylen, "client certificate %s", err);
		return AUTH_CERT;
	}
	if ((*out = members_by_fp(rt->conf->members, fp)) == NULL) {
		cred_fp_format(fp, fps);
		snprintf(why, whylen,
		    "client certificate sha256:%s is not registered to a "
		    "member",
		    fps);
		return AUTH_CERT;
	}
	return AUTH_OK;
}

int
auth_check(struct authcache *ac, const struct runtime *rt, SSL *ssl,
    const char *hdr, const struct member **out, char *why, size_t whylen)
{
	unsigned char d[CRED_DIGEST_LEN];
	size_t n;

	*out = NULL;
	if (hdr == NULL)
		return auth_cert(rt, ssl, out, why, whylen);
	if ((n = strlen(hdr)) > HTTP_AUTH_MAX) {
		snprintf(why, whylen, "Authorization header too long");
		return AUTH_MALFORMED;
	}
	if (strncasecmp(hdr, "Basic ", 6) == 0)
		return auth_basic(ac, rt, hdr, hdr + 6 + strspn(hdr + 6, " "),
		    out, why, whylen);
	if (strncasecmp(hdr, "Bearer ", 7) == 0) {
		const char *tok = hdr + 7 + strspn(hdr + 7, " ");

		cred_token_digest(tok, strlen(tok), d);
		if ((*out = members_by_token(rt->conf->members, d)) == NULL) {
			snprintf(why, whylen, "unknown API token");
			return AUTH_BAD;
		}
		return AUTH_OK;
	}
	snprintf(why, whylen,
	    "unsupported authorization scheme (use Basic or Bearer)");
	return AUTH_MALFORMED;
}

int
auth_request(
    struct reqctx *ctx, const struct member **out, char *why, size_t whylen)
{
	return auth_check(ctx->w->auth, ctx->rt, conn_ssl(ctx->evcon),
	    evhttp_find_header(
		evhttp_request_get_input_headers(ctx->req), "Authorization"),
	    out, why, whylen);
}
