/*
 * t_fetch.c -- the outbound event loop (hub/fetch.c) against a small
 * HTTPS server inside the test: evhttp over OpenSSL on its own thread,
 * on a loopback port, with a certificate made for the run (cert_generate).
 * Covers Basic auth, a body and headers sent and received, connection
 * reuse, redirects not followed, Retry-After, ETag, Last-Modified and
 * the TAXII date headers, the response size cap (with and without
 * Content-Length), gzip and deflate bodies decoded (and a decompression
 * bomb stopped at the cap, a corrupt one refused), an untrusted certificate, the total
 * timeout against a server that never answers, a refused port, the
 * address check, plain http refused, calls and timers on the fetch
 * thread, many requests from two threads over a few connections, and
 * fetcher_stop with requests in flight and queued (each completion
 * exactly once).  Every wait is bounded.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include "ctihub/alloc.h"
#include "ctihub/cert.h"
#include "ctihub/log.h"

#include "../../hub/fetch.h"

#define WAIT_S 15 /* the longest any completion may take here */
#define AUTH   "Basic dXNlcjpzZWNyZXQ=" /* user:secret */

/* ---- the server ---- */

static struct {
	char dir[64];
	char cert[96];
	char key[96];
	SSL_CTX *ctx;
	struct event_base *base;
	struct evhttp *http;
	pthread_t thread;
	int port;
	atomic_int hung; /* /hang requests received */
	char ae[64];	 /* the last Accept-Encoding received, "" if none */
	/* gzip bodies: GZ_TEXT a few times over, and a bomb */
	unsigned char *gz, *zz, *bomb;
	size_t gz_len, zz_len, bomb_len;
} srv;

#define GZ_TEXT	   "{\"type\":\"bundle\",\"objects\":[]}\n"
#define GZ_TIMES   100
#define BOMB_BYTES (64u << 20) /* decoded: 64 MiB of zeros, ~64 KiB sent */

static struct bufferevent *
srv_bevcb(struct event_base *base, void *arg)
{
	struct bufferevent *bev;

	bev = bufferevent_openssl_socket_new(base, -1, SSL_new(arg),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static void
reply(struct evhttp_request *req, int code, const char *ctype, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(
	    evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, code, "", b);
	evbuffer_free(b);
}

static void
srv_handle(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *path = evhttp_request_get_uri(req), *v;
	struct evbuffer *b;
	char loc[128], chunk[1024];
	int i;

	(void)arg;
	if (strcmp(path, "/hello") == 0) {
		v = evhttp_find_header(in, "Authorization");
		if (v == NULL || strcmp(v, AUTH) != 0) {
			evhttp_add_header(out, "WWW-Authenticate", "Basic");
			reply(req, 401, "text/plain", "who?");
		} else
			reply(req, 200, "text/plain", "hello, user");
	} else if (strcmp(path, "/echo") == 0) {
		/* the method, a header and the body back */
		v = evhttp_find_header(in, "X-Test");
		evhttp_add_header(out, "X-Test", v != NULL ? v : "");
		b = evbuffer_new();
		evbuffer_add_printf(
		    b, "%d:", (int)evhttp_request_get_command(req));
		evbuffer_add_buffer(b, evhttp_request_get_input_buffer(req));
		v = evhttp_find_header(in, "Content-Type");
		evhttp_add_header(out, "Content-Type", v != NULL ? v : "none");
		evhttp_send_reply(req, 201, "Created", b);
		evbuffer_free(b);
	} else if (strcmp(path, "/redirect") == 0) {
		snprintf(
		    loc, sizeof(loc), "https://127.0.0.1:%d/hello", srv.port);
		evhttp_add_header(out, "Location", loc);
		reply(req, 302, "text/plain", "elsewhere");
	} else if (strcmp(path, "/busy") == 0) {
		evhttp_add_header(out, "Retry-After", "7");
		reply(req, 503, "text/plain", "later");
	} else if (strcmp(path, "/big") == 0) {
		/* with Content-Length */
		b = evbuffer_new();
		memset(chunk, 'x', sizeof(chunk));
		for (i = 0; i < 64; i++)
			evbuffer_add(b, chunk, sizeof(chunk));
		evhttp_send_reply(req, 200, "OK", b);
		evbuffer_free(b);
	} else if (strcmp(path, "/bigchunked") == 0) {
		/* without: chunked */
		evhttp_send_reply_start(req, 200, "OK");
		b = evbuffer_new();
		memset(chunk, 'y', sizeof(chunk));
		for (i = 0; i < 64; i++) {
			evbuffer_add(b, chunk, sizeof(chunk));
			evhttp_send_reply_chunk(req, b);
		}
		evhttp_send_reply_end(req);
		evbuffer_free(b);
	} else if (strcmp(path, "/meta") == 0) {
		evhttp_add_header(out, "ETag", "\"v1-abc\"");
		evhttp_add_header(
		    out, "Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT");
		evhttp_add_header(out, "X-TAXII-Date-Added-First",
		    "2024-01-02T03:04:05.000Z");
		evhttp_add_header(
		    out, "X-TAXII-Date-Added-Last", "2024-02-03T04:05:06.789Z");
		v = evhttp_find_header(in, "If-None-Match");
		if (v != NULL && strcmp(v, "\"v1-abc\"") == 0)
			evhttp_send_reply(req, 304, "Not Modified", NULL);
		else
			reply(req, 200, "application/taxii+json;version=2.1",
			    "{}");
	} else if (strcmp(path, "/gz") == 0 || strcmp(path, "/zz") == 0 ||
	    strcmp(path, "/gzignore") == 0 || strcmp(path, "/bomb") == 0 ||
	    strcmp(path, "/badgz") == 0) {
		v = evhttp_find_header(in, "Accept-Encoding");
		snprintf(srv.ae, sizeof(srv.ae), "%s", v != NULL ? v : "");
		b = evbuffer_new();
		if (v == NULL || strcmp(path, "/gzignore") == 0) {
			/* plain, as a server that ignores the header */
			for (i = 0; i < GZ_TIMES; i++)
				evbuffer_add(b, GZ_TEXT, strlen(GZ_TEXT));
		} else if (strcmp(path, "/zz") == 0) {
			evhttp_add_header(out, "Content-Encoding", "deflate");
			evbuffer_add(b, srv.zz, srv.zz_len);
		} else {
			evhttp_add_header(out, "Content-Encoding", "gzip");
			if (strcmp(path, "/gz") == 0)
				evbuffer_add(b, srv.gz, srv.gz_len);
			else if (strcmp(path, "/bomb") == 0)
				evbuffer_add(b, srv.bomb, srv.bomb_len);
			else /* a gzip header, then garbage */
				evbuffer_add(b,
				    "\x1f\x8b\x08\0\0\0\0\0\0\x03"
				    "garbage, not deflate",
				    30);
		}
		evhttp_send_reply(req, 200, "OK", b);
		evbuffer_free(b);
	} else if (strcmp(path, "/hang") == 0) {
		/* accepted, read, never answered (freed with the server or
		 * when the client goes) */
		atomic_fetch_add(&srv.hung, 1);
	} else
		reply(req, 404, "text/plain", "no such thing");
}

static void *
srv_main(void *arg)
{
	(void)arg;
	event_base_dispatch(srv.base);
	return NULL;
}

/* unit, times times over, compressed (wbits 31: gzip, 15: zlib); the
 * output, malloc'd, in *out. */
static int
deflate_make(const void *unit, size_t unitlen, size_t times, int wbits,
    unsigned char **out, size_t *outlen)
{
	z_stream z;
	size_t cap = unitlen * times / 100 + 4096, i;
	int rc;

	memset(&z, 0, sizeof(z));
	if ((*out = malloc(cap)) == NULL ||
	    deflateInit2(&z, 9, Z_DEFLATED, wbits, 9, Z_DEFAULT_STRATEGY) !=
		Z_OK)
		return -1;
	z.next_out = *out;
	z.avail_out = (uInt)cap;
	for (i = 0; i <= times; i++) {
		z.next_in = (unsigned char *)(uintptr_t)unit;
		z.avail_in = i < times ? (uInt)unitlen : 0;
		rc = deflate(&z, i < times ? Z_NO_FLUSH : Z_FINISH);
		if (z.avail_in != 0 || (i == times && rc != Z_STREAM_END)) {
			deflateEnd(&z);
			return -1; /* cap too small */
		}
	}
	*outlen = z.total_out;
	deflateEnd(&z);
	return 0;
}

static int
srv_start(void)
{
	static const char zeros[1 << 20];
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char err[256];

	if (deflate_make(GZ_TEXT, strlen(GZ_TEXT), GZ_TIMES, 31, &srv.gz,
		&srv.gz_len) == -1 ||
	    deflate_make(GZ_TEXT, strlen(GZ_TEXT), GZ_TIMES, 15, &srv.zz,
		&srv.zz_len) == -1 ||
	    deflate_make(zeros, sizeof(zeros), BOMB_BYTES / sizeof(zeros), 31,
		&srv.bomb, &srv.bomb_len) == -1)
		return -1;
	snprintf(srv.dir, sizeof(srv.dir), "/tmp/ctihub-t_fetch.XXXXXX");
	if (mkdtemp(srv.dir) == NULL)
		return -1;
	snprintf(srv.cert, sizeof(srv.cert), "%s/cert.pem", srv.dir);
	snprintf(srv.key, sizeof(srv.key), "%s/key.pem", srv.dir);
	if (cert_generate(
		srv.cert, srv.key, "localhost", 2, err, sizeof(err)) == -1) {
		fprintf(stderr, "cert_generate: %s\n", err);
		return -1;
	}
	srv.ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_options(srv.ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (SSL_CTX_use_certificate_chain_file(srv.ctx, srv.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(srv.ctx, srv.key, SSL_FILETYPE_PEM) !=
		1)
		return -1;
	srv.base = event_base_new();
	srv.http = evhttp_new(srv.base);
	evhttp_set_bevcb(srv.http, srv_bevcb, srv.ctx);
	evhttp_set_gencb(srv.http, srv_handle, NULL);
	evhttp_set_allowed_methods(srv.http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
		EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD | EVHTTP_REQ_PATCH);
	if ((bs = evhttp_bind_socket_with_handle(srv.http, "127.0.0.1", 0)) ==
	    NULL)
		return -1;
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin,
		&len) == -1)
		return -1;
	srv.port = ntohs(sin.sin_port);
	return pthread_create(&srv.thread, NULL, srv_main, NULL) == 0 ? 0 : -1;
}

static void
srv_stop(void)
{
	event_base_loopexit(srv.base, NULL);
	pthread_join(srv.thread, NULL);
	evhttp_free(srv.http);
	event_base_free(srv.base);
	SSL_CTX_free(srv.ctx);
	free(srv.gz);
	free(srv.zz);
	free(srv.bomb);
	unlink(srv.cert);
	unlink(srv.key);
	rmdir(srv.dir);
}

/* ---- completions ---- */

struct result {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ndone;
	pthread_t thread; /* where the completion ran */
	int result;
	long status;
	char error[FETCH_ERRLEN];
	char *body;
	size_t len;
	char *ctype, *retry_after, *location;
	char *etag, *last_modified, *first, *last;
	long new_conns;
	int64_t total_us;
};

static void
result_init(struct result *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
}

static void
result_clear(struct result *r)
{
	free(r->ctype);
	free(r->retry_after);
	free(r->location);
	free(r->etag);
	free(r->last_modified);
	free(r->first);
	free(r->last);
	hub_free(r->body);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void
on_done(struct fetch_resp *resp, void *arg)
{
	struct result *r = arg;

	if (getenv("T_FETCH_VERBOSE") != NULL)
		fprintf(stderr,
		    "# %s: status %ld, %zu bytes, %ld new, %lld us: %s\n",
		    fetch_strerror(resp->result), resp->status, resp->len,
		    resp->new_conns, (long long)resp->total_us, resp->error);
	pthread_mutex_lock(&r->lock);
	if (r->ndone++ == 0) {
		r->thread = pthread_self();
		r->result = resp->result;
		r->status = resp->status;
		snprintf(r->error, sizeof(r->error), "%s", resp->error);
		r->body = resp->body; /* taken */
		r->len = resp->len;
		resp->body = NULL;
		r->ctype = dup_or_null(resp->content_type);
		r->retry_after = dup_or_null(resp->retry_after);
		r->location = dup_or_null(resp->location);
		r->etag = dup_or_null(resp->etag);
		r->last_modified = dup_or_null(resp->last_modified);
		r->first = dup_or_null(resp->date_added_first);
		r->last = dup_or_null(resp->date_added_last);
		r->new_conns = resp->new_conns;
		r->total_us = resp->total_us;
	}
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Waits (bounded) for the first completion of r. */
static void
wait_done(struct result *r)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_S;
	pthread_mutex_lock(&r->lock);
	while (r->ndone == 0 && rc == 0)
		rc = pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	pthread_mutex_unlock(&r->lock);
	assert_int_equal(rc, 0);
}

static int
allow_loopback(const struct sockaddr *sa, socklen_t len, void *arg)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

	(void)arg;
	return sa->sa_family == AF_INET && len >= sizeof(*sin) &&
	    ntohl(sin->sin_addr.s_addr) == INADDR_LOOPBACK;
}

static struct fetcher *
start(const char *ca, fetch_addr_cb *check)
{
	struct fetch_opts o = {
	    .ca_file = ca,
	    .addr_check = check,
	    .connect_timeout_ms = 5000,
	    .timeout_ms = 10000,
	};
	struct fetcher *f;

	assert_non_null(f = fetcher_start(&o));
	return f;
}

static void
url(char *buf, size_t n, const char *path)
{
	snprintf(buf, n, "https://127.0.0.1:%d%s", srv.port, path);
}

/* One request to a URL on f, waited for; the result in r (result_clear
 * after). */
static void
fetch_url(
    struct fetcher *f, struct fetch_req *req, const char *u, struct result *r)
{
	req->url = u;
	req->done = on_done;
	req->arg = r;
	result_init(r);
	assert_int_equal(fetch_submit(f, req), 0);
	wait_done(r);
}

/* The same to a path on the test server. */
static void
fetch(struct fetcher *f, struct fetch_req *req, const char *path,
    struct result *r)
{
	char u[128];

	url(u, sizeof(u), path);
	fetch_url(f, req, u, r);
}

/* ---- tests ---- */

static void
t_addr_public(void **state)
{
	static const struct {
		const char *a;
		int public;
	} cases[] = {
	    {"8.8.8.8", 1},
	    {"1.1.1.1", 1},
	    {"127.0.0.1", 0},
	    {"127.255.0.9", 0},
	    {"10.1.2.3", 0},
	    {"172.16.0.1", 0},
	    {"172.31.255.255", 0},
	    {"172.32.0.1", 1},
	    {"192.168.1.1", 0},
	    {"169.254.169.254", 0},
	    {"100.64.0.1", 0},
	    {"100.128.0.1", 1},
	    {"0.0.0.0", 0},
	    {"224.0.0.1", 0},
	    {"255.255.255.255", 0},
	    {"198.51.100.7", 0},
	    {"2001:4860:4860::8888", 1},
	    {"::1", 0},
	    {"::", 0},
	    {"fe80::1", 0},
	    {"fd00::1", 0},
	    {"fc12::1", 0},
	    {"ff02::1", 0},
	    {"2001:db8::1", 0},
	    {"::ffff:127.0.0.1", 0},
	    {"::ffff:10.0.0.1", 0},
	    {"::ffff:8.8.8.8", 1},
	    {"::127.0.0.1", 0},
	    {"64:ff9b::a00:1", 0},
	    {"64:ff9b::808:808", 1},
	};
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&sin, 0, sizeof(sin));
		memset(&sin6, 0, sizeof(sin6));
		if (inet_pton(AF_INET, cases[i].a, &sin.sin_addr) == 1) {
			sin.sin_family = AF_INET;
			got = fetch_addr_public(
			    (struct sockaddr *)&sin, sizeof(sin), NULL);
		} else {
			assert_int_equal(
			    inet_pton(AF_INET6, cases[i].a, &sin6.sin6_addr),
			    1);
			sin6.sin6_family = AF_INET6;
			got = fetch_addr_public(
			    (struct sockaddr *)&sin6, sizeof(sin6), NULL);
		}
		if (got != cases[i].public)
			fail_msg("%s: public %d, expected %d", cases[i].a, got,
			    cases[i].public);
	}
}

/* Basic auth, then the same connection again; without credentials a 401
 * is a response, not an error. */
static void
t_get_auth_and_reuse(void **state)
{
	struct fetcher *f = start(srv.cert, allow_loopback);
	struct fetch_req req = {.user = "user", .password = "secret"};
	struct fetch_req anon = {0};
	struct result r1, r2, r3;

	(void)state;
	fetch(f, &req, "/hello", &r1);
	assert_int_equal(r1.result, FETCH_OK);
	assert_string_equal(r1.error, "");
	assert_int_equal(r1.status, 200);
	assert_int_equal(r1.len, strlen("hello, user"));
	assert_string_equal(r1.body, "hello, user");
	assert_string_equal(r1.ctype, "text/plain");
	assert_int_equal(r1.new_conns, 1);
	assert_true(pthread_equal(r1.thread, pthread_self()) == 0);

	fetch(f, &req, "/hello", &r2);
	assert_int_equal(r2.result, FETCH_OK);
	assert_int_equal(r2.status, 200);
	assert_int_equal(r2.new_conns, 0); /* kept alive, reused */

	fetch(f, &anon, "/hello", &r3);
	assert_int_equal(r3.result, FETCH_OK);
	assert_int_equal(r3.status, 401);
	assert_string_equal(r3.body, "who?");
	fetcher_stop(f);
	result_clear(&r1);
	result_clear(&r2);
	result_clear(&r3);
}

/* A body and a header go out (copied at submission), the method is the
 * one asked for; HEAD gets no body. */
static void
t_methods_body_headers(void **state)
{
	struct fetcher *f = start(srv.cert, allow_loopback);
	char body[] = "{\"a\":1}";
	const char *hdrs[] = {
	    "Content-Type: application/json", "X-Test: forty-two", NULL};
	struct fetch_req post = {
	    .method = "POST",
	    .headers = hdrs,
	    .body = body,
	    .body_len = strlen(body),
	};
	struct fetch_req put = post, head = {.method = "HEAD"};
	struct result r1, r2, r3;
	char expect[64];

	(void)state;
	fetch(f, &post, "/echo", &r1);
	memset(body, 0, sizeof(body)); /* the fetcher has its own copy */
	assert_int_equal(r1.result, FETCH_OK);
	assert_int_equal(r1.status, 201);
	snprintf(expect, sizeof(expect), "%d:{\"a\":1}", EVHTTP_REQ_POST);
	assert_string_equal(r1.body, expect);
	assert_string_equal(r1.ctype, "application/json");

	put.method = "PUT";
	put.body = "x";
	put.body_len = 1;
	fetch(f, &put, "/echo", &r2);
	assert_int_equal(r2.status, 201);
	snprintf(expect, sizeof(expect), "%d:x", EVHTTP_REQ_PUT);
	assert_string_equal(r2.body, expect);

	fetch(f, &head, "/hello", &r3);
	assert_int_equal(r3.result, FETCH_OK);
	assert_int_equal(r3.status, 401);
	assert_null(r3.body);
	assert_int_equal(r3.len, 0);
	fetcher_stop(f);
	result_clear(&r1);
	result_clear(&r2);
	result_clear(&r3);
}

/* Requests that are refused at submission: done never runs. */
static void
t_invalid(void **state)
{
	struct fetcher *f = start(srv.cert, allow_loopback);
	const char *bad[] = {"X-A: 1\r\nX-B: 2", NULL};
	const char *nocolon[] = {"X-A 1", NULL};
	struct result r;
	struct fetch_req reqs[] = {
	    {.url = "https://127.0.0.1/", .done = NULL},
	    {.url = NULL, .done = on_done, .arg = &r},
	    {.url = "https://127.0.0.1/",
		.method = "TRACE",
		.done = on_done,
		.arg = &r},
	    {.url = "https://127.0.0.1/",
		.body = "x",
		.body_len = 1,
		.done = on_done,
		.arg = &r},
	    {.url = "https://127.0.0.1/",
		.headers = bad,
		.done = on_done,
		.arg = &r},
	    {.url = "https://127.0.0.1/",
		.headers = nocolon,
		.done = on_done,
		.arg = &r},
	    {.url = "https://127.0.0.1/",
		.user = "u",
		.done = on_done,
		.arg = &r},
	};
	size_t i;

	(void)state;
	result_init(&r);
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		assert_int_equal(fetch_submit(f, &reqs[i]), -1);
	fetcher_stop(f);
	assert_int_equal(r.ndone, 0);
	result_clear(&r);
}

/* 3xx comes back with its Location, not followed; 503 with Retry-After;
 * plain http is refused. */
static void
t_redirect_retry_http(void **state)
{
	struct fetcher *f = start(srv.cert, allow_loopback);
	struct fetch_req req = {0};
	struct result r1, r2, r3;
	char loc[128];

	(void)state;
	fetch(f, &req, "/redirect", &r1);
	assert_int_equal(r1.result, FETCH_OK);
	assert_int_equal(r1.status, 302);
	url(loc, sizeof(loc), "/hello");
	assert_string_equal(r1.location, loc);
	assert_string_equal(r1.body, "elsewhere");

	fetch(f, &req, "/busy", &r2);
	assert_int_equal(r2.status, 503);
	assert_string_equal(r2.retry_after, "7");
	assert_null(r2.location);

	snprintf(loc, sizeof(loc), "http://127.0.0.1:%d/hello", srv.port);
	fetch_url(f, &req, loc, &r3);
	assert_int_equal(r3.result, FETCH_EURL);
	assert_int_equal(r3.status, 0);
	assert_non_null(strstr(r3.error, "http"));
	fetcher_stop(f);
	result_clear(&r1);
	result_clear(&r2);
	result_clear(&r3);
}

/* The size cap, with Content-Length (refused up front) and without. */
static void
t_too_big(void **state)
{
	struct fetcher *f = start(srv.cert, allow_loopback);
	struct fetch_req req = {.max_bytes = 1000}, all = {0};
	struct result r1, r2, r3;

	(void)state;
	fetch(f, &req, "/big", &r1);
	assert_int_equal(r1.result, FETCH_ETOOBIG);
	assert_non_null(strstr(r1.error, "larger than 1000 bytes"));
	fetch(f, &req, "/bigchunked", &r2);
	assert_int_equal(r2.result, FETCH_ETOOBIG);
	fetch(f, &all, "/bigchunked", &r3);
	assert_int_equal(r3.result, FETCH_OK);
	assert_int_equal(r3.len, 64 * 1024);
	fetcher_stop(f);
	result_clear(&r1);
	result_clear(&r2);
	result_clear(&r3);
}

/* ETag, Last-Modified and the TAXII date headers come back, also with a
 * 304 to a conditional request; absent ones are NULL. */
static void
t_resp_headers(void **state)
{
	struct fetcher *f = start(srv.cert, allow_loopback);
	const char *inm[] = {"If-None-Match: \"v1-abc\"", NULL};
	struct fetch_req req = {0}, cond = {.headers = inm, .gzip = 1};
	struct result r1, r2, r3;

	(void)state;
	fetch(f, &req, "/meta", &r1);
	assert_int_equal(r1.result, FETCH_OK);
	assert_int_equal(r1.status, 200);
	assert_string_equal(r1.etag, "\"v1-abc\"");
	assert_string_equal(r1.last_modified, "Wed, 21 Oct 2015 07:28:00 GMT");
	assert_string_equal(r1.first, "2024-01-02T03:04:05.000Z");
	assert_string_equal(r1.last, "2024-02-03T04:05:06.789Z");
	assert_string_equal(r1.ctype, "application/taxii+json;version=2.1");
	assert_null(r1.location);

	/* a conditional request (the caller's header): 304, no body, the
	 * validators still there */
	fetch(f, &cond, "/meta", &r3);
	assert_int_equal(r3.result, FETCH_OK);
	assert_int_equal(r3.status, 304);
	assert_null(r3.body);
	assert_int_equal(r3.len, 0);
	assert_string_equal(r3.etag, "\"v1-abc\"");
	assert_string_equal(r3.last_modified, "Wed, 21 Oct 2015 07:28:00 GMT");

	fetch(f, &req, "/busy", &r2);
	assert_null(r2.etag);
	assert_null(r2.last_modified);
	assert_null(r2.first);
	assert_null(r2.last);
	fetcher_stop(f);
	result_clear(&r1);
	result_clear(&r2);
	result_clear(&r3);
}

/* The body GZ_TEXT, GZ_TIMES times over, in r. */
static void
assert_gz_text(const struct result *r)
{
	size_t n = strlen(GZ_TEXT), i;

	assert_int_equal(r->result, FETCH_OK);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->len, n * GZ_TIMES);
	for (i = 0; i < GZ_TIMES; i++)
		assert_memory_equal(r->body + i * n, GZ_TEXT, n);
	assert_int_equal(r->body[r->len], '\0');
}

/* gzip asked for: gzip and deflate bodies decoded, a server that ignores
 * the header still works; not asked for: no Accept-Encoding goes out; a
 * corrupt body is an error. */
static void
t_gzip(void **state)
{
	struct fetcher *f = start(srv.cert, allow_loopback);
	struct fetch_req gz = {.gzip = 1}, plain = {0};
	struct result r1, r2, r3, r4, r5;

	(void)state;
	assert_true(srv.gz_len < strlen(GZ_TEXT) * GZ_TIMES / 4);
	fetch(f, &gz, "/gz", &r1);
	assert_string_equal(srv.ae, "gzip, deflate");
	assert_gz_text(&r1);

	fetch(f, &gz, "/zz", &r2);
	assert_gz_text(&r2);

	fetch(f, &gz, "/gzignore", &r3);
	assert_string_equal(srv.ae, "gzip, deflate");
	assert_gz_text(&r3);

	/* the next request on the same connection does not ask */
	fetch(f, &plain, "/gz", &r4);
	assert_string_equal(srv.ae, "");
	assert_gz_text(&r4);

	fetch(f, &gz, "/badgz", &r5);
	assert_int_equal(r5.result, FETCH_ERR);
	assert_true(r5.error[0] != '\0');
	fetcher_stop(f);
	result_clear(&r1);
	result_clear(&r2);
	result_clear(&r3);
	result_clear(&r4);
	result_clear(&r5);
}

static long
maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* A decompression bomb (64 KiB that decode to 64 MiB) against a 1 MiB
 * cap: FETCH_ETOOBIG, at most the cap kept, and the process never holds
 * the decoded whole (its peak resident size grows by far less). */
static void
t_gzip_bomb(void **state)
{
	struct fetcher *f = start(srv.cert, allow_loopback);
	struct fetch_req req = {.gzip = 1, .max_bytes = 1 << 20};
	struct result r;
	long before;

	(void)state;
	assert_true(srv.bomb_len < req.max_bytes);
	before = maxrss_kib();
	fetch(f, &req, "/bomb", &r);
	assert_int_equal(r.result, FETCH_ETOOBIG);
	assert_non_null(strstr(r.error, "larger than 1048576 bytes"));
	assert_true(r.len <= req.max_bytes);
	assert_true(maxrss_kib() - before < 16 * 1024);
	fetcher_stop(f);
	result_clear(&r);
}

/* No CA given: the system's store, which does not know this one. */
static void
t_untrusted(void **state)
{
	struct fetcher *f = start(NULL, allow_loopback);
	struct fetch_req req = {0};
	struct result r;

	(void)state;
	fetch(f, &req, "/hello", &r);
	assert_int_equal(r.result, FETCH_ETLS);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.error, "certificate"));
	fetcher_stop(f);
	result_clear(&r);
}

/* A server that takes the request and never answers: the total timeout. */
static void
t_timeout(void **state)
{
	struct fetcher *f = start(srv.cert, allow_loopback);
	struct fetch_req req = {.timeout_ms = 300};
	struct result r;

	(void)state;
	fetch(f, &req, "/hang", &r);
	assert_int_equal(r.result, FETCH_ETIMEOUT);
	assert_true(r.total_us >= 250000);
	assert_true(r.total_us < 5000000);
	assert_non_null(strstr(r.error, "timeout"));
	fetcher_stop(f);
	result_clear(&r);
}

/* A port nobody listens on. */
static void
t_refused_port(void **state)
{
	struct fetcher *f = start(srv.cert, allow_loopback);
	struct fetch_req req = {0};
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	struct result r;
	char u[64];
	int s;

	(void)state;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((s = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	close(s); /* bound, never listening: refused */
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/", ntohs(sin.sin_port));
	fetch_url(f, &req, u, &r);
	assert_int_equal(r.result, FETCH_ECONNECT);
	assert_string_not_equal(r.error, "");
	fetcher_stop(f);
	result_clear(&r);
}

/* The default address check refuses loopback, by address: the name
 * "localhost" resolves to it and is refused too. */
static void
t_address_refused(void **state)
{
	struct fetcher *f = start(srv.cert, NULL);
	struct fetch_req req = {0};
	struct result r1, r2;
	char u[64];

	(void)state;
	fetch(f, &req, "/hello", &r1);
	assert_int_equal(r1.result, FETCH_EREFUSED);
	assert_non_null(strstr(r1.error, "127.0.0.1"));

	snprintf(u, sizeof(u), "https://localhost:%d/hello", srv.port);
	fetch_url(f, &req, u, &r2);
	assert_int_equal(r2.result, FETCH_EREFUSED);
	fetcher_stop(f);
	result_clear(&r1);
	result_clear(&r2);
}

static void
on_call(struct fetcher *f, void *arg)
{
	struct result *r = arg;

	(void)f;
	pthread_mutex_lock(&r->lock);
	r->ndone++;
	r->thread = pthread_self();
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* fetcher_stop with one request in flight (the server holds it), one
 * queued and a call queued: each completion once, the call once. */
static void
t_stop_in_flight(void **state)
{
	struct fetcher *f = start(srv.cert, allow_loopback);
	struct fetch_req req = {.timeout_ms = 60000};
	struct result r1, r2, c, late;
	struct timespec ts = {0, 10 * 1000 * 1000};
	char u[128];
	int hung = atomic_load(&srv.hung), i;

	(void)state;
	url(u, sizeof(u), "/hang");
	req.url = u;
	req.done = on_done;
	result_init(&r1);
	result_init(&r2);
	result_init(&c);
	result_init(&late);
	req.arg = &r1;
	assert_int_equal(fetch_submit(f, &req), 0);
	for (i = 0; i < WAIT_S * 100 && atomic_load(&srv.hung) == hung; i++)
		nanosleep(&ts, NULL);
	assert_int_equal(atomic_load(&srv.hung), hung + 1);

	/* a call runs on the fetch thread */
	assert_int_equal(fetcher_call(f, on_call, &c), 0);
	wait_done(&c);
	assert_true(pthread_equal(c.thread, pthread_self()) == 0);

	req.arg = &r2;
	assert_int_equal(fetch_submit(f, &req), 0);
	assert_int_equal(fetcher_call(f, on_call, &late), 0);
	fetcher_stop(f);
	assert_int_equal(r1.ndone, 1);
	assert_int_equal(r1.result, FETCH_ECANCELLED);
	assert_string_not_equal(r1.error, "");
	assert_int_equal(r2.ndone, 1);
	assert_int_equal(r2.result, FETCH_ECANCELLED);
	assert_int_equal(late.ndone, 1);
	assert_true(pthread_equal(r1.thread, late.thread));
	result_clear(&r1);
	result_clear(&r2);
	result_clear(&c);
	result_clear(&late);
}

/* Many requests at once from two threads, more than the connections a
 * host may have: all answered, over at most that many connections. */
struct many {
	struct fetcher *f;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, ok;
	long conns;
};

#define MANY_PER_THREAD 40

static void
on_many(struct fetch_resp *resp, void *arg)
{
	struct many *m = arg;

	pthread_mutex_lock(&m->lock);
	m->done++;
	if (resp->result == FETCH_OK && resp->status == 200 &&
	    resp->len == strlen("hello, user"))
		m->ok++;
	m->conns += resp->new_conns;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static void *
many_submit(void *arg)
{
	struct many *m = arg;
	struct fetch_req req = {.user = "user", .password = "secret"};
	static char failed[] = "fetch_submit failed";
	char u[128];
	int i;

	url(u, sizeof(u), "/hello");
	req.url = u;
	req.done = on_many;
	req.arg = m;
	for (i = 0; i < MANY_PER_THREAD; i++)
		if (fetch_submit(m->f, &req) == -1)
			return failed;
	return NULL;
}

static void
t_many(void **state)
{
	struct fetch_opts o = {
	    .ca_file = srv.cert,
	    .addr_check = allow_loopback,
	    .max_host_conns = 3,
	};
	struct many m = {.done = 0};
	struct timespec ts;
	pthread_t t1, t2;
	void *r1, *r2;
	int rc = 0;

	(void)state;
	assert_non_null(m.f = fetcher_start(&o));
	pthread_mutex_init(&m.lock, NULL);
	pthread_cond_init(&m.cond, NULL);
	assert_int_equal(pthread_create(&t1, NULL, many_submit, &m), 0);
	assert_int_equal(pthread_create(&t2, NULL, many_submit, &m), 0);
	pthread_join(t1, &r1);
	pthread_join(t2, &r2);
	assert_null(r1);
	assert_null(r2);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_S;
	pthread_mutex_lock(&m.lock);
	while (m.done < 2 * MANY_PER_THREAD && rc == 0)
		rc = pthread_cond_timedwait(&m.cond, &m.lock, &ts);
	pthread_mutex_unlock(&m.lock);
	assert_int_equal(m.done, 2 * MANY_PER_THREAD);
	assert_int_equal(m.ok, 2 * MANY_PER_THREAD);
	assert_true(m.conns >= 1 && m.conns <= 3);
	fetcher_stop(m.f);
	pthread_mutex_destroy(&m.lock);
	pthread_cond_destroy(&m.cond);
}

/* Code on the fetch thread may use its event base for timers. */
static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	on_call(NULL, arg);
}

static void
arm_timer(struct fetcher *f, void *arg)
{
	struct timeval tv = {0, 20 * 1000};

	if (event_base_once(
		fetcher_base(f), -1, EV_TIMEOUT, on_timer, arg, &tv) == -1)
		abort();
}

static void
t_call_timer(void **state)
{
	struct fetcher *f = start(srv.cert, allow_loopback);
	struct result r;

	(void)state;
	result_init(&r);
	assert_int_equal(fetcher_call(f, arm_timer, &r), 0);
	wait_done(&r);
	assert_int_equal(r.ndone, 1);
	assert_true(pthread_equal(r.thread, pthread_self()) == 0);
	fetcher_stop(f);
	result_clear(&r);
}

/* Unreadable option files fail at start, not at the first request. */
static void
t_bad_opts(void **state)
{
	struct fetch_opts o = {.ca_file = "/nonexistent/ca.pem"};
	struct fetch_opts o2 = {.cert_file = "/tmp/x.pem"};

	(void)state;
	assert_null(fetcher_start(&o));
	assert_null(fetcher_start(&o2));
	fetcher_stop(NULL);
}

static int
setup(void **state)
{
	(void)state;
	return srv_start();
}

static int
teardown(void **state)
{
	(void)state;
	srv_stop();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_addr_public),
	    cmocka_unit_test(t_get_auth_and_reuse),
	    cmocka_unit_test(t_methods_body_headers),
	    cmocka_unit_test(t_invalid),
	    cmocka_unit_test(t_redirect_retry_http),
	    cmocka_unit_test(t_too_big),
	    cmocka_unit_test(t_resp_headers),
	    cmocka_unit_test(t_gzip),
	    cmocka_unit_test(t_gzip_bomb),
	    cmocka_unit_test(t_untrusted),
	    cmocka_unit_test(t_timeout),
	    cmocka_unit_test(t_refused_port),
	    cmocka_unit_test(t_address_refused),
	    cmocka_unit_test(t_stop_in_flight),
	    cmocka_unit_test(t_many),
	    cmocka_unit_test(t_call_timer),
	    cmocka_unit_test(t_bad_opts),
	};

	log_init(LOG_LVL_ERR);
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() == -1 ||
	    curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		return 1;
	return cmocka_run_group_tests_name("fetch", tests, setup, teardown);
}
