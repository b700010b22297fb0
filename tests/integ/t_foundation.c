/*
 * t_foundation.c -- discovery, API roots, collections per member,
 * authentication (Basic, token, client certificates), error statuses,
 * hostile paths and headers, TLS versions and abrupt clients, reload.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "integ.h"

#define TAXII "application/taxii+json;version=2.1"
#define PW    ":integ-pass-1"

static const struct opts alice = {.user = "alice" PW};
static const struct opts bob = {.user = "bob" PW};

/* Collection ids as run.sh writes them. */
#define C_ANY	"6f9d8f5e-4e6c-4a8b-9a10-1f2e3d4c5b6a"
#define C_BRICS "7a0e9f6d-5d7b-4b9c-8b21-2a3b4c5d6e7f"
#define C_BOB	"8b1fa07e-6e8c-4cad-9c32-3b4c5d6e7f80"

static int
has_collection(const json_t *doc, const char *id)
{
	json_t *list = json_object_get(doc, "collections"), *c;
	size_t i;

	json_array_foreach(list, i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "id")), id) ==
		    0)
			return 1;
	}
	return 0;
}

static int
t_discovery(char *why, size_t whylen)
{
	struct resp r;
	char want[512];
	json_t *roots;

	http("GET", "/taxii2/", &alice, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(strcmp(r.ctype, TAXII) == 0, "content type %s", r.ctype);
	EXPECT(r.json != NULL, "body is not JSON");
	EXPECT(json_is_string(json_object_get(r.json, "title")), "no title");
	snprintf(want, sizeof(want), "%s/api1/", env("HUB_URL"));
	EXPECT(strcmp(json_string_value(json_object_get(r.json, "default")),
		   want) == 0,
	    "default is not %s: %s", want, r.body);
	roots = json_object_get(r.json, "api_roots");
	EXPECT(json_array_size(roots) == 2, "two api roots: %s", r.body);
	resp_free(&r);
	return 0;
}

static int
t_api_root(char *why, size_t whylen)
{
	struct resp r;
	json_t *v;

	http("GET", "/api1/", &alice, &r);
	EXPECT_CODE(&r, 200);
	v = json_object_get(r.json, "versions");
	EXPECT(json_array_size(v) == 1 &&
		strcmp(json_string_value(json_array_get(v, 0)), TAXII) == 0,
	    "versions: %s", r.body);
	EXPECT(json_integer_value(
		   json_object_get(r.json, "max_content_length")) == 1048576,
	    "max_content_length: %s", r.body);
	resp_free(&r);
	/* the same without the trailing slash */
	http("GET", "/api1", &alice, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	return 0;
}

static int
t_collections_per_member(char *why, size_t whylen)
{
	struct resp r;
	json_t *c;
	struct opts dave = {
	    .cert = env("HUB_CERT_DAVE"), .key = env("HUB_KEY_DAVE")};

	http("GET", "/api1/collections/", &alice, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(has_collection(r.json, C_ANY) &&
		has_collection(r.json, C_BRICS) &&
		!has_collection(r.json, C_BOB),
	    "alice (BR) sees any+brics: %s", r.body);
	c = json_array_get(json_object_get(r.json, "collections"), 0);
	EXPECT(json_is_true(json_object_get(c, "can_read")) &&
		json_is_true(json_object_get(c, "can_write")),
	    "alice can read and write 'any': %s", r.body);
	resp_free(&r);
	http("GET", "/api1/collections/", &bob, &r);
	EXPECT(has_collection(r.json, C_ANY) &&
		has_collection(r.json, C_BRICS) &&
		has_collection(r.json, C_BOB),
	    "bob (IN) sees all three: %s", r.body);
	c = json_array_get(json_object_get(r.json, "collections"), 0);
	EXPECT(json_is_false(json_object_get(c, "can_write")),
	    "bob (subscriber) cannot write 'any'");
	resp_free(&r);
	http("GET", "/api1/collections/", &dave, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(has_collection(r.json, C_ANY) &&
		!has_collection(r.json, C_BRICS) &&
		!has_collection(r.json, C_BOB),
	    "dave (US, certificate) sees only 'any': %s", r.body);
	resp_free(&r);
	/* an API root with no collection this member may see: {} */
	http("GET", "/api2/collections/", &alice, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(strcmp(r.body, "{}") == 0, "empty collections: %s", r.body);
	resp_free(&r);
	return 0;
}

static int
t_collection(char *why, size_t whylen)
{
	struct resp r;

	http("GET", "/api1/collections/" C_BRICS "/", &alice, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(strcmp(json_string_value(json_object_get(r.json, "alias")),
		   "brics") == 0,
	    "alias: %s", r.body);
	EXPECT(json_array_size(json_object_get(r.json, "media_types")) == 1,
	    "media_types");
	resp_free(&r);
	http("GET", "/api1/collections/brics/", &alice, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	/* a collection alice may not read does not exist for her */
	http("GET", "/api1/collections/" C_BOB "/", &alice, &r);
	EXPECT_CODE(&r, 404);
	EXPECT(strcmp(r.ctype, TAXII) == 0, "error content type %s", r.ctype);
	EXPECT(strcmp(json_string_value(json_object_get(r.json, "http_status")),
		   "404") == 0,
	    "error resource: %s", r.body);
	resp_free(&r);
	http("GET", "/api1/collections/" C_BOB "/", &bob, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	return 0;
}

static int
t_unauthorized(char *why, size_t whylen)
{
	struct resp r;
	struct opts o;

	http("GET", "/taxii2/", NULL, &r);
	EXPECT_CODE(&r, 401);
	EXPECT(resp_header(&r, "WWW-Authenticate") != NULL,
	    "401 without WWW-Authenticate");
	EXPECT(json_is_string(json_object_get(r.json, "title")),
	    "401 is a TAXII error: %s", r.body);
	resp_free(&r);
	memset(&o, 0, sizeof(o));
	o.user = "alice:wrong-password";
	http("GET", "/api1/", &o, &r);
	EXPECT_CODE(&r, 401);
	EXPECT(strstr(r.body, "wrong password") != NULL, "%s", r.body);
	resp_free(&r);
	o.user = "nobody" PW;
	http("GET", "/api1/", &o, &r);
	EXPECT_CODE(&r, 401);
	resp_free(&r);
	memset(&o, 0, sizeof(o));
	o.token = "cth_not-a-token";
	http("GET", "/api1/", &o, &r);
	EXPECT_CODE(&r, 401);
	EXPECT(strstr(r.body, "unknown API token") != NULL, "%s", r.body);
	resp_free(&r);
	memset(&o, 0, sizeof(o));
	o.header = "Authorization: Digest username=alice";
	http("GET", "/api1/", &o, &r);
	EXPECT_CODE(&r, 401);
	EXPECT(strstr(r.body, "unsupported authorization scheme") != NULL, "%s",
	    r.body);
	resp_free(&r);
	o.header = "Authorization: Basic !!!!";
	http("GET", "/api1/", &o, &r);
	EXPECT_CODE(&r, 401);
	resp_free(&r);
	/* a good request right after: the daemon still serves */
	http("GET", "/api1/", &alice, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	return 0;
}

static int
t_token_login(char *why, size_t whylen)
{
	struct resp r;
	struct opts carol = {.token = env("HUB_TOKEN_CAROL")};

	http("GET", "/api1/collections/", &carol, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(has_collection(r.json, C_ANY), "carol sees 'any'");
	resp_free(&r);
	return 0;
}

static int
t_client_certificates(char *why, size_t whylen)
{
	struct resp r;
	struct opts o = {
	    .cert = env("HUB_CERT_DAVE"), .key = env("HUB_KEY_DAVE")};

	http("GET", "/taxii2/", &o, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	/* signed by the client CA but registered to nobody */
	o.cert = env("HUB_CERT_STRAY");
	o.key = env("HUB_KEY_STRAY");
	http("GET", "/taxii2/", &o, &r);
	EXPECT_CODE(&r, 401);
	EXPECT(strstr(r.body, "is not registered to a member") != NULL, "%s",
	    r.body);
	resp_free(&r);
	/* pinned to a member, but not issued by the client CA */
	o.cert = env("HUB_CERT_ROGUE");
	o.key = env("HUB_KEY_ROGUE");
	http("GET", "/taxii2/", &o, &r);
	EXPECT_CODE(&r, 401);
	EXPECT(strstr(r.body, "client certificate not trusted") != NULL, "%s",
	    r.body);
	resp_free(&r);
	return 0;
}

static int
t_not_found_and_methods(char *why, size_t whylen)
{
	struct resp r;

	http("GET", "/nosuchroot/", &alice, &r);
	EXPECT_CODE(&r, 404);
	resp_free(&r);
	http("GET", "/api1/collections/" C_ANY "/nothing/", &alice, &r);
	EXPECT_CODE(&r, 404);
	resp_free(&r);
	http("GET", "/", &alice, &r);
	EXPECT_CODE(&r, 404);
	resp_free(&r);
	http("PUT", "/api1/", &alice, &r);
	EXPECT_CODE(&r, 405);
	EXPECT(resp_header(&r, "Allow") != NULL, "405 without Allow");
	resp_free(&r);
	http("DELETE", "/taxii2/", &alice, &r);
	EXPECT_CODE(&r, 405);
	resp_free(&r);
	http("HEAD", "/api1/", &alice, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(r.len == 0, "HEAD with a body");
	resp_free(&r);
	return 0;
}

static int
t_accept(char *why, size_t whylen)
{
	struct resp r;
	struct opts o = alice;
	const char *ok[] = {"application/taxii+json",
	    "application/taxii+json; version=2.1", "*/*",
	    "text/html, application/taxii+json;version=2.1;q=0.5", NULL};
	const char *bad[] = {"text/html", "application/json",
	    "application/taxii+json;version=2.0", "application/taxii+json;q=0",
	    NULL};
	int i;

	for (i = 0; ok[i] != NULL; i++) {
		o.accept = ok[i];
		http("GET", "/api1/", &o, &r);
		EXPECT(r.code == 200, "Accept %s: %ld", ok[i], r.code);
		resp_free(&r);
	}
	for (i = 0; bad[i] != NULL; i++) {
		o.accept = bad[i];
		http("GET", "/api1/", &o, &r);
		EXPECT(r.code == 406, "Accept %s: %ld", bad[i], r.code);
		EXPECT(strcmp(r.ctype, TAXII) == 0, "406 content type %s",
		    r.ctype);
		resp_free(&r);
	}
	return 0;
}

static int
t_hostile_paths(char *why, size_t whylen)
{
	struct resp r;
	struct opts o = alice;
	const char *bad[] = {"/api1/../taxii2/", "/api1/%2e%2e/x/",
	    "/api1/collections/%zz/", "/api1/collections/%00/",
	    "/api1/collections/a%2fb/", "/api1//collections/",
	    "/api1/collections/%C3%A9/", NULL};
	int i;

	o.path_as_is = 1;
	for (i = 0; bad[i] != NULL; i++) {
		http("GET", bad[i], &o, &r);
		EXPECT(r.code == 400, "%s: %ld %s", bad[i], r.code, r.body);
		EXPECT(r.json != NULL, "%s: not a TAXII error", bad[i]);
		resp_free(&r);
	}
	http("GET", "/api1/", &alice, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	return 0;
}

static int
t_long_header(char *why, size_t whylen)
{
	struct resp r;
	struct opts o = alice;
	static char h[40000];

	memcpy(h, "X-Filler: ", 10);
	memset(h + 10, 'a', 20000);
	h[20010] = '\0';
	o.header = h;
	http("GET", "/api1/", &o, &r);
	EXPECT_CODE(&r, 431);
	EXPECT(r.json != NULL, "431 is a TAXII error: %s", r.body);
	resp_free(&r);
	/* far past evhttp's own limit: refused, and nothing breaks */
	memset(h + 10, 'a', sizeof(h) - 11);
	h[sizeof(h) - 1] = '\0';
	http("GET", "/api1/", &o, &r);
	EXPECT(r.code == 400 || r.code == 431 || r.code == 0,
	    "huge header: %ld", r.code);
	resp_free(&r);
	http("GET", "/api1/", &alice, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	return 0;
}

/* TLS 1.0 and 1.1 are refused by the server: the client below offers
 * TLS 1.1 only, with its own security level lowered so that OpenSSL lets
 * it, and must get the server's protocol_version alert. */
static int
t_tls_versions(char *why, size_t whylen)
{
	struct resp r;
	struct opts o = alice;
	SSL_CTX *ctx = raw_ctx();
	unsigned long e;
	SSL *ssl;
	int fd, rc;

	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
	/* the client can speak TLS 1.2: the handshake machinery works */
	SSL_CTX_set_min_proto_version(ctx, TLS1_1_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	ssl = raw_open(ctx, NULL);
	EXPECT(ssl != NULL && SSL_version(ssl) == TLS1_2_VERSION,
	    "a TLS 1.1-1.2 client does not get TLS 1.2");
	raw_close(ssl);
	SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
	EXPECT((fd = hub_connect(NULL)) >= 0, "connect");
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	ERR_clear_error();
	rc = SSL_connect(ssl);
	e = ERR_peek_last_error();
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	EXPECT(rc != 1, "the server accepted TLS 1.1");
	EXPECT(ERR_GET_REASON(e) == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION,
	    "TLS 1.1 failed, but not by the server's protocol_version "
	    "alert: %s",
	    ERR_reason_error_string(e));
	o.tls_max = CURL_SSLVERSION_MAX_TLSv1_2;
	o.tls_min = CURL_SSLVERSION_TLSv1_2;
	http("GET", "/api1/", &o, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	o.tls_max = CURL_SSLVERSION_MAX_TLSv1_3;
	o.tls_min = CURL_SSLVERSION_TLSv1_3;
	http("GET", "/api1/", &o, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	return 0;
}

static int
t_abrupt_clients(char *why, size_t whylen)
{
	const char req[] = "GET /taxii2/ HTTP/1.1\r\nHost: x\r\n\r\n";
	struct resp r;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	char buf[512];
	ssize_t n;
	int fd, i;

	/* TLS, half a request, then the TCP connection drops with no
	 * close_notify */
	for (i = 0; i < 5; i++) {
		EXPECT((fd = hub_connect(NULL)) >= 0, "connect");
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		EXPECT(SSL_connect(ssl) == 1, "handshake");
		SSL_write(ssl, "GET /taxii2/ HTTP/1.1\r\nHo", 25);
		SSL_free(ssl);
		close(fd);
	}
	/* plain text on the TLS port never gets a plain-text answer */
	EXPECT((fd = hub_connect(NULL)) >= 0, "connect");
	EXPECT(write(fd, req, sizeof(req) - 1) > 0, "write");
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	EXPECT(n <= 0 || strncmp(buf, "HTTP/", 5) != 0,
	    "plain-text answer on the TLS port: %s", buf);
	close(fd);
	SSL_CTX_free(ctx);
	http("GET", "/taxii2/", &alice, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	return 0;
}

/* A client that trickles its request head, a byte every 0.5 s (well
 * within request_timeout, 2 s in the test configuration, which only
 * times inactivity), is cut off at header_timeout (3 s) with a 408 TAXII
 * error; if the hub keeps it, the client gives up after 20 bytes (10 s)
 * and the test fails. */
static int
t_slow_client(char *why, size_t whylen)
{
	const char head[] =
	    "GET /taxii2/ HTTP/1.1\r\nHost: x\r\n"
	    "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
	SSL_CTX *ctx = raw_ctx();
	SSL *ssl = raw_open(ctx, NULL);
	struct timeval t0, t1;
	char buf[2048];
	json_t *j = NULL;
	size_t i, n = 0;
	int closed = 0;
	double secs;

	EXPECT(ssl != NULL, "handshake");
	gettimeofday(&t0, NULL);
	/* what the hub sends is gathered across reads: its answer and its
	 * close may arrive apart */
	for (i = 0; i < 20 && !closed; i++) {
		if (raw_write(ssl, head + i, 1) == -1)
			break;
		n += raw_read(ssl, buf + n, sizeof(buf) - n, 500, &closed);
	}
	if (!closed)
		n += raw_read(ssl, buf + n, sizeof(buf) - n, 500, &closed);
	gettimeofday(&t1, NULL);
	raw_close(ssl);
	SSL_CTX_free(ctx);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_usec - t0.tv_usec) / 1e6;
	EXPECT(closed, "still connected after %.1f s of trickling", secs);
	EXPECT(n > 0 && strncmp(buf, "HTTP/1.1 408 ", 13) == 0,
	    "cut off after %.1f s without a 408: %.200s", secs, buf);
	EXPECT(strstr(buf, "Content-Type: " TAXII "\r\n") != NULL &&
		strstr(buf, "\r\n\r\n") != NULL &&
		(j = json_loads(strstr(buf, "\r\n\r\n") + 4, 0, NULL)) != NULL,
	    "the 408 is not a TAXII error: %.300s", buf);
	EXPECT(strcmp(json_string_value(json_object_get(j, "http_status")),
		   "408") == 0,
	    "http_status: %.300s", buf);
	json_decref(j);
	return 0;
}

static int
t_reload(char *why, size_t whylen)
{
	char path[1024];
	struct resp r;
	int failed = log_count("reload failed");
	int done = log_count("configuration reloaded");

	snprintf(path, sizeof(path), "%s/ctihub.conf", env("HUB_DIR"));
	/* a broken file: rejected whole, the old configuration serves */
	EXPECT(file_replace(path, "title \"Integration hub\"",
		   "title \"Broken hub\"\nstatus_ttl lots") == 0,
	    "edit");
	hub_signal(SIGHUP);
	EXPECT(log_wait("reload failed", failed, 10) == 0,
	    "no 'reload failed' in the log");
	EXPECT(log_count(
		   "ctihub.conf:9: status_ttl: 'lots' is not a duration") > 0,
	    "the error is not logged as file:line: message");
	http("GET", "/taxii2/", &alice, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(strcmp(json_string_value(json_object_get(r.json, "title")),
		   "Integration hub") == 0,
	    "the broken configuration took effect: %s", r.body);
	resp_free(&r);
	/* a good change takes effect at once */
	EXPECT(file_replace(path, "title \"Broken hub\"\nstatus_ttl lots",
		   "title \"Renamed hub\"") == 0,
	    "edit");
	hub_signal(SIGHUP);
	EXPECT(log_wait("configuration reloaded", done, 10) == 0,
	    "no 'configuration reloaded' in the log");
	http("GET", "/taxii2/", &alice, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(strcmp(json_string_value(json_object_get(r.json, "title")),
		   "Renamed hub") == 0,
	    "the new title is not served: %s", r.body);
	resp_free(&r);
	return 0;
}

static int
t_access_log(char *why, size_t whylen)
{
	char path[1024], line[4096];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "%s/state/access.log", env("HUB_DIR"));
	EXPECT((f = fopen(path, "r")) != NULL, "no access log at %s", path);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, " alice GET /api1/collections/ 200 ") !=
			NULL &&
		    strstr(line, "ms\n") != NULL)
			found = 1;
	fclose(f);
	EXPECT(found, "no access-log line for alice's collections request");
	return 0;
}

const struct test foundation_tests[] = {
    {"discovery", t_discovery},
    {"api root", t_api_root},
    {"collections differ per member", t_collections_per_member},
    {"collection by id and alias, hidden ones 404", t_collection},
    {"401 for missing or wrong credentials", t_unauthorized},
    {"bearer token login", t_token_login},
    {"client certificate login", t_client_certificates},
    {"404 and 405", t_not_found_and_methods},
    {"Accept negotiation and 406", t_accept},
    {"hostile paths get 400", t_hostile_paths},
    {"over-long header gets 431", t_long_header},
    {"TLS 1.2 and 1.3 only", t_tls_versions},
    {"abrupt and plain-text clients", t_abrupt_clients},
    {"slow client cut off", t_slow_client},
    {"SIGHUP: broken config kept out, good one taken", t_reload},
    {"access log", t_access_log},
    {NULL, NULL},
};
