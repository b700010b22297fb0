/*
 * runtime.c -- builds the snapshot a reload swaps in: configuration,
 * members, the sharing policy and a fresh TLS context (TLS 1.2 and 1.3
 * only, no compression, no renegotiation, no 0-RTT).  Generates the
 * self-signed certificate on first start when none is configured.
 * Anything that fails leaves the caller's current snapshot untouched;
 * policy warnings are logged and do not fail it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ctihub/alloc.h"
#include "ctihub/cert.h"
#include "ctihub/log.h"
#include "ctihub/policy.h"
#include "ctihub/subscription.h"

#include "hub.h"

/* Logs every finding of the configuration and the policy, errors and
 * warnings, each as "file:line: [warning: ]message". */
static void
log_findings(const struct cfg_errs *errs)
{
	int i;

	for (i = 0; i < errs->n; i++)
		log_warnx("%s", errs->v[i]);
	if (errs->dropped)
		log_warnx("(%d more errors not shown)", errs->dropped);
	if (errs->wdropped)
		log_warnx("(%d more warnings not shown)", errs->wdropped);
}

static int
tls_fail(const char *what, const char *path)
{
	char e[256];
	unsigned long code = ERR_get_error();

	ERR_error_string_n(code, e, sizeof(e));
	log_warnx("TLS: %s %s: %s", what, path ? path : "", e);
	ERR_clear_error();
	return -1;
}

/* Accepts every client certificate at the TLS layer; auth.c decides, so
 * an untrusted certificate gets a TAXII 401 that says why instead of an
 * opaque handshake failure. */
static int
verify_any(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

static int
ensure_cert(struct conf *c, char **certp, char **keyp, int flags)
{
	char *dir, *cert, *key, err[256];
	struct stat st;
	char host[256] = "localhost";

	if (c->tls_cert != NULL) {
		*certp = hub_strdup(c->tls_cert);
		*keyp = hub_strdup(c->tls_key);
		return *certp && *keyp ? 0 : -1;
	}
	dir = cfg_path(c->state_dir, "tls");
	cert = cfg_path(dir, "cert.pem");
	key = cfg_path(dir, "key.pem");
	if (dir == NULL || cert == NULL || key == NULL)
		goto fail;
	if (mkdir(c->state_dir, 0700) == -1 && errno != EEXIST) {
		log_warn("cannot create state_dir %s", c->state_dir);
		goto fail;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("cannot create %s", dir);
		goto fail;
	}
	if ((flags & RUNTIME_CHECK) &&
	    (stat(cert, &st) == -1 || stat(key, &st) == -1)) {
		/* a check creates nothing: no certificate to test yet */
		hub_free(dir);
		*certp = cert;
		*keyp = key;
		return 1;
	}
	if (stat(cert, &st) == -1 || stat(key, &st) == -1) {
		if (stat(cert, &st) == 0 || stat(key, &st) == 0) {
			log_warnx("only one of %s and %s exists: remove it to "
				  "generate a new certificate",
			    cert, key);
			goto fail;
		}
		gethostname(host, sizeof(host) - 1);
		if (cert_generate(cert, key, host, 825, err, sizeof(err)) ==
		    -1) {
			log_warnx(
			    "generating a self-signed certificate: %s", err);
			goto fail;
		}
		if (!(flags & RUNTIME_QUIET))
			log_info("generated a self-signed certificate: %s "
				 "(key %s)",
			    cert, key);
	}
	hub_free(dir);
	*certp = cert;
	*keyp = key;
	return 0;
fail:
	hub_free(dir);
	hub_free(cert);
	hub_free(key);
	return -1;
}

/*
 * OpenSSL decodes a certificate's extensions (key identifiers among them)
 * the first time it needs them, under the certificate's lock, and later
 * readers test a flag without the lock.  The CA certificates are shared by
 * every worker: decode theirs now, before the context is published, so
 * that no worker writes them while another reads them (ThreadSanitizer
 * cannot see OpenSSL's flag and reports that as a race).
 */
static void
cache_ca_extensions(SSL_CTX *ctx)
{
	STACK_OF(X509_OBJECT) *objs =
	    X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
	X509 *x;
	int i;

	for (i = 0; i < sk_X509_OBJECT_num(objs); i++)
		if ((x = X509_OBJECT_get0_X509(
			 sk_X509_OBJECT_value(objs, i))) != NULL)
			X509_check_purpose(x, -1, 0);
}

static SSL_CTX *
tls_build(struct runtime *rt, const char *cert, const char *key)
{
	struct conf *c = rt->conf;
	SSL_CTX *ctx;
	int i;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_fail("SSL_CTX_new", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
		SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF |
		SSL_OP_NO_TICKET);
	SSL_CTX_set_max_early_data(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx,
		"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20") != 1) {
		tls_fail("cipher list", NULL);
		goto fail;
	}
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"ctihub", 6);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_fail("cannot load certificate", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_fail("cannot load private key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_fail("private key does not match the certificate", key);
		goto fail;
	}
	for (i = 0; i < c->members->n; i++)
		if (c->members->v[i].nfps > 0)
			rt->want_client_cert = 1;
	if (c->tls_client_ca != NULL) {
		STACK_OF(X509_NAME) * names;

		if (SSL_CTX_load_verify_locations(
			ctx, c->tls_client_ca, NULL) != 1) {
			tls_fail("cannot load client CA", c->tls_client_ca);
			goto fail;
		}
		if ((names = SSL_load_client_CA_file(c->tls_client_ca)) ==
		    NULL) {
			tls_fail("no CA names in", c->tls_client_ca);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		rt->want_client_cert = 1;
		cache_ca_extensions(ctx);
	}
	if (rt->want_client_cert)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_any);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
runtime_bind(struct conf *c, struct store *st)
{
	const char **names;
	uint32_t *codes;
	int i, j, n = 0, rc = -1;

	for (i = 0; i < c->nroots; i++)
		n += c->roots[i].ncolls;
	if (c->members->n > n)
		n = c->members->n;
	names = hub_calloc((size_t)n + 1, sizeof(*names));
	codes = hub_calloc((size_t)n + 1, sizeof(*codes));
	if (names == NULL || codes == NULL)
		goto done;
	for (i = 0; i < c->members->n; i++)
		names[i] = c->members->v[i].id;
	if (store_codes(st, STORE_K_MEMBER, names, c->members->n, codes) !=
	    STORE_OK)
		goto done;
	for (i = 0; i < c->members->n; i++)
		c->members->v[i].code = codes[i];
	for (i = 0, n = 0; i < c->nroots; i++)
		for (j = 0; j < c->roots[i].ncolls; j++)
			names[n++] = c->roots[i].colls[j].id;
	if (store_codes(st, STORE_K_COLL, names, n, codes) != STORE_OK)
		goto done;
	for (i = 0, n = 0; i < c->nroots; i++)
		for (j = 0; j < c->roots[i].ncolls; j++)
			c->roots[i].colls[j].code = codes[n++];
	/* and the subscriptions' copies of them */
	for (i = 0; c->subs != NULL && i < c->subs->n; i++)
		for (j = 0; j < c->subs->v[i].ncolls; j++) {
			struct sub_coll *sc = &c->subs->v[i].colls[j];
			const struct conf_root *r =
			    conf_root_find(c, sc->root, strlen(sc->root));
			const struct conf_collection *k = r == NULL
			    ? NULL
			    : conf_coll_find(r, sc->id, strlen(sc->id));

			sc->code = k != NULL ? k->code : 0;
		}
	rc = 0;
done:
	if (rc == -1)
		log_warnx("cannot number the members and collections in the "
			  "database");
	hub_free(names);
	hub_free(codes);
	return rc;
}

int
runtime_new(const char *conf_path, unsigned long gen, int flags,
    struct store *st, struct runtime **out)
{
	struct runtime *rt;
	struct cfg_errs errs;
	char *cert = NULL, *key = NULL, err[256];
	int r;

	*out = NULL;
	memset(&errs, 0, sizeof(errs));
	if ((rt = hub_calloc(1, sizeof(*rt))) == NULL)
		return -1;
	atomic_init(&rt->refs, 1);
	rt->gen = gen;
	if (conf_load(conf_path, &rt->conf, &errs) == -1 ||
	    (st != NULL && runtime_bind(rt->conf, st) == -1) ||
	    policy_load(rt->conf->policy_dir, rt->conf->members, &rt->policy,
		&errs) == -1) {
		log_findings(&errs);
		cfg_errs_clear(&errs);
		conf_free(rt->conf);
		hub_free(rt);
		return -1;
	}
	/* warnings: reported, and the policy is used all the same */
	rt->policy_warnings = cfg_errs_count(&errs, CFG_WARNING);
	log_findings(&errs);
	cfg_errs_clear(&errs);
	if (rt->policy_warnings > 0 && !(flags & RUNTIME_QUIET))
		log_warnx("%s: %d warning%s; the policy is in force all the "
			  "same",
		    rt->conf->policy_dir, rt->policy_warnings,
		    rt->policy_warnings == 1 ? "" : "s");
	if ((r = ensure_cert(rt->conf, &cert, &key, flags)) == -1)
		goto fail;
	if (r == 1) {
		log_info("no certificate yet: one will be generated at %s "
			 "on first start",
		    cert);
		hub_free(cert);
		hub_free(key);
		*out = rt;
		return 0;
	}
	if (cert_fingerprint_file(cert, rt->cert_fp, err, sizeof(err)) == -1) {
		log_warnx("TLS certificate: %s", err);
		goto fail;
	}
	if ((rt->ssl = tls_build(rt, cert, key)) == NULL)
		goto fail;
	rt->cert_path = cert;
	hub_free(key);
	*out = rt;
	return 0;
fail:
	hub_free(cert);
	hub_free(key);
	policy_free(rt->policy);
	conf_free(rt->conf);
	hub_free(rt);
	return -1;
}

struct runtime *
runtime_ref(struct runtime *rt)
{
	atomic_fetch_add(&rt->refs, 1);
	return rt;
}

void
runtime_unref(struct runtime *rt)
{
	if (rt == NULL || atomic_fetch_sub(&rt->refs, 1) != 1)
		return;
	SSL_CTX_free(rt->ssl);
	policy_free(rt->policy);
	conf_free(rt->conf);
	hub_free(rt->cert_path);
	hub_free(rt);
}
