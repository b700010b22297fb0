/*
 * auth.c -- authenticates a request: HTTP Basic against the member's
 * salted scrypt/PBKDF2 hash, a bearer API token against stored SHA-256
 * digests, or the TLS client certificate by its fingerprint.  Tokens and
 * certificates are checked at once, on the worker.  The slow hash of a
 * Basic password never runs on an event loop: the request is parked and
 * the check runs on a small pool of its own (auth_threads), behind the
 * gate of authgate.h, which caches good credentials (auth_cache_ttl, one
 * configuration generation; failures are never cached), throttles
 * repeated failures per address, account and pair, and bounds the checks
 * in flight.  The request is then dispatched anew, with the answer.
 */
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ctihub/alloc.h"
#include "ctihub/authgate.h"
#include "ctihub/cert.h"
#include "ctihub/cred.h"
#include "ctihub/log.h"
#include "ctihub/tstamp.h"
#include "ctihub/workq.h"

#include "hub.h"
#include "route.h"

#define AUTH_MAX_HEADER 4096

/* The password-check pool and the gate in front of it. */
struct auth {
	struct authgate *gate;
	struct workq *pool;
	struct cred_pw dummy;
};

/* One check, run on the pool: the password given and the hash to check
 * it against (the dummy's when the user is unknown). */
struct auth_job {
	struct cred_pw hash;
	int known; /* 0: an unknown user, which always fails */
	size_t pwlen;
	char pw[AUTH_MAX_HEADER];
};

/* A hash of a password nobody has, checked when the user is unknown so
 * that a wrong user name costs as long as a wrong password. */
static const char dummy_hash[] = "scrypt$14$8$1$AAAAAAAAAAAAAAAAAAAAAA==$"
				 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

int
auth_start(struct hub *hub)
{
	struct runtime *rt = runtime_ref(hub->rt);
	struct auth *a;
	char err[64];
	int rc = -1;

	if ((a = hub_calloc(1, sizeof(*a))) == NULL)
		goto out;
	hub->auth = a;
	if (cred_pw_parse(dummy_hash, &a->dummy, err, sizeof(err)) == -1 ||
	    (a->gate = authgate_new()) == NULL ||
	    (a->pool = workq_new((int)rt->conf->auth_threads, "auth", 0)) ==
		NULL)
		goto out;
	rc = 0;
out:
	runtime_unref(rt);
	return rc;
}

void
auth_stop(struct hub *hub)
{
	struct auth *a = hub->auth;

	if (a == NULL)
		return;
	workq_free(a->pool);
	authgate_free(a->gate);
	hub_free(a);
	hub->auth = NULL;
}

static void
auth_limits(const struct conf *c, struct authgate_limits *lim)
{
	lim->cache_ttl = c->auth_cache_ttl * 1000000;
	lim->fail_free = (int)c->auth_fail_free;
	lim->fail_free_addr = (int)c->auth_fail_free_addr;
	lim->fail_free_account = (int)c->auth_fail_free_account;
	lim->fail_delay = c->auth_fail_delay * 1000000;
	lim->fail_max_delay = c->auth_fail_max_delay * 1000000;
	lim->queue = (int)c->auth_queue;
	lim->track = (int)c->auth_track;
}

/* A request whose check answered: back to its worker (any thread). */
static void
auth_wake(struct authgate_wait *w, void *arg)
{
	struct request *ctx = (struct request *)(void *)((char *)w -
	    offsetof(struct request, wait));

	(void)arg;
	http_complete(ctx);
}

/* Runs on the pool: the next check the gate gives, the slow hash. */
static void
auth_task(void *arg)
{
	struct auth *a = arg;
	struct authgate_check *chk;
	struct auth_job *j;
	int ok;

	if ((j = authgate_next(a->gate, &chk)) == NULL)
		return;
	ok = cred_pw_verify(&j->hash, j->pw, j->pwlen) == 1 && j->known;
	explicit_bzero(j, sizeof(*j));
	hub_free(j);
	authgate_done(a->gate, chk, ok, tstamp_now(), auth_wake, NULL);
}

/* In the worker again, with the answer: dispatch the request anew
 * (auth_request now returns the answer). */
static void
auth_finish(struct request *ctx)
{
	ctx->auth_state = AUTH_ANSWERED;
	if (ctx->gone) { /* the client went away */
		http_reply(ctx, 0, NULL);
		return;
	}
	route_dispatch(ctx);
}

/* The member of a Basic header the gate remembers as good (for this
 * configuration generation), or NULL; `key` gets the header's digest. */
static const struct member *
auth_cached(struct auth *a, const struct runtime *rt, const char *hdr,
    unsigned char key[AUTHGATE_DIGEST])
{
	char id[MEMBER_ID_MAX];

	authgate_digest(a->gate, hdr, strlen(hdr), key);
	if (!authgate_cached(a->gate, key, rt->gen, tstamp_now(), id))
		return NULL;
	return members_find(rt->conf->members, id);
}

static int
auth_basic(struct request *ctx, const char *hdr, const char *b64,
    const struct member **out, char *why, size_t whylen)
{
	struct auth *a = ctx->svc->auth;
	struct conf *c = ctx->rt->conf;
	unsigned char key[AUTHGATE_DIGEST];
	char dec[HTTPMSG_BASIC_MAX];
	struct authgate_limits lim;
	const struct member *m;
	struct auth_job *j;
	char addr[AUTHGATE_ADDR_MAX];
	size_t ulen, pwlen;
	int v, retry;

	if ((m = auth_cached(a, ctx->rt, hdr, key)) != NULL) {
		*out = m;
		return AUTH_OK;
	}
	if (httpmsg_basic_decode(b64, dec, &ulen, &pwlen, why, whylen) == -1) {
		explicit_bzero(dec, sizeof(dec));
		return AUTH_MALFORMED;
	}
	if ((j = hub_calloc(1, sizeof(*j))) == NULL) {
		explicit_bzero(dec, sizeof(dec));
		snprintf(why, whylen, "out of memory");
		return AUTH_BUSY;
	}
	m = members_find(c->members, dec);
	j->known = m != NULL && m->pw.kind != CRED_NONE;
	j->hash = j->known ? m->pw : a->dummy;
	j->pwlen = pwlen;
	memcpy(j->pw, dec + ulen + 1, pwlen);
	snprintf(ctx->auth_user, sizeof(ctx->auth_user), "%.*s",
	    MEMBER_ID_MAX - 1, dec);
	explicit_bzero(dec, sizeof(dec));
	auth_limits(c, &lim);
	authgate_addr(ctx->peer, addr);
	ctx->finish = auth_finish;
	v = authgate_admit(a->gate, &lim, addr, ctx->auth_user, key,
	    ctx->rt->gen, j, &ctx->wait, tstamp_now(), &retry);
	if (v == AUTHGATE_QUEUED) {
		ctx->auth_state = AUTH_ASKED;
		http_park(ctx);
		if (workq_push(a->pool, auth_task, a) == -1)
			auth_task(a); /* out of memory: check it here */
		return AUTH_PENDING;
	}
	explicit_bzero(j, sizeof(*j));
	hub_free(j);
	if (v == AUTHGATE_JOINED) {
		ctx->auth_state = AUTH_ASKED;
		http_park(ctx);
		return AUTH_PENDING;
	}
	ctx->retry_after = retry;
	if (v == AUTHGATE_THROTTLED) {
		snprintf(why, whylen,
		    "too many failed logins from this address or for this "
		    "account: retry in %d s",
		    retry);
		return AUTH_THROTTLED;
	}
	snprintf(
	    why, whylen, "too many logins being checked: retry in %d s", retry);
	return AUTH_BUSY;
}

/* A client certificate: registered to a member, within its validity
 * dates (pinned by fingerprint too, not only when a CA checked it). */
static int
auth_cert(const struct runtime *rt, SSL *ssl, const struct member **out,
    char *why, size_t whylen)
{
	unsigned char fp[CRED_DIGEST_LEN];
	char fps[96], err[160];
	X509 *x;
	long vr;

	if (ssl == NULL || (x = SSL_get1_peer_certificate(ssl)) == NULL)
		return AUTH_NONE;
	if (cert_fingerprint(x, fp) == -1) {
		X509_free(x);
		snprintf(why, whylen, "cannot read the client certificate");
		return AUTH_CERT;
	}
	if (cert_check_dates(x, time(NULL), err, sizeof(err)) == -1) {
		X509_free(x);
		snprintf(why, whylen, "client certificate refused: %s", err);
		return AUTH_CERT;
	}
	X509_free(x);
	if (rt->conf->tls_client_ca != NULL &&
	    (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(why, whylen, "client certificate not trusted: %s",
		    X509_verify_cert_error_string(vr));
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

/* A bearer token, decided at once (a digest lookup); any other scheme
 * but Basic is refused. */
static int
auth_other(const struct runtime *rt, const char *hdr, const struct member **out,
    char *why, size_t whylen)
{
	unsigned char d[CRED_DIGEST_LEN];
	const char *tok;

	if (httpmsg_auth_scheme(hdr, &tok) == HTTPMSG_AUTH_BEARER) {
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
    struct request *ctx, const struct member **out, char *why, size_t whylen)
{
	const char *hdr, *b64;
	size_t n;

	*out = NULL;
	if (ctx->auth_state == AUTH_ANSWERED) {
		if (ctx->wait.ok &&
		    (*out = members_find(
			 ctx->rt->conf->members, ctx->auth_user)) != NULL)
			return AUTH_OK;
		snprintf(why, whylen, "unknown user or wrong password");
		return AUTH_BAD;
	}
	hdr = ctx->authorization;
	if (hdr == NULL)
		return auth_cert(ctx->rt, http_tls(ctx), out, why, whylen);
	if ((n = strlen(hdr)) > AUTH_MAX_HEADER) {
		snprintf(why, whylen, "Authorization header too long");
		return AUTH_MALFORMED;
	}
	if (httpmsg_auth_scheme(hdr, &b64) == HTTPMSG_AUTH_BASIC)
		return auth_basic(ctx, hdr, b64, out, why, whylen);
	return auth_other(ctx->rt, hdr, out, why, whylen);
}

int
auth_precheck(struct hub *hub, const struct runtime *rt, SSL *ssl,
    const char *hdr, char *why, size_t whylen)
{
	const struct member *m;
	unsigned char key[AUTHGATE_DIGEST];
	const char *param;

	if (hdr == NULL)
		return auth_cert(rt, ssl, &m, why, whylen);
	if (strlen(hdr) > AUTH_MAX_HEADER) {
		snprintf(why, whylen, "Authorization header too long");
		return AUTH_MALFORMED;
	}
	if (httpmsg_auth_scheme(hdr, &param) == HTTPMSG_AUTH_BASIC) {
		/* a credential checked before passes; any other is checked
		 * by auth_request, off the loop, once its body is in */
		return auth_cached(hub->auth, rt, hdr, key) != NULL
		    ? AUTH_OK
		    : AUTH_PENDING;
	}
	return auth_other(rt, hdr, &m, why, whylen);
}
