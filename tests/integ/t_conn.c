/*
 * t_conn.c -- the connection layer under evhttp, over raw TLS where
 * every byte matters: a body trickled past body_timeout, a body refused
 * before it is read when its sender has not authenticated, evhttp's own
 * errors (bad request line, oversized and chunked bodies) as TAXII error
 * resources, two different Content-Length values, client certificates
 * pinned without a CA that are out of their validity dates, and pages
 * larger than send_buffer (16k in the test configuration) streamed.
 */
#include <sys/time.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "ctihub/buf.h"

#include "integ.h"

#define TAXII "application/taxii+json;version=2.1"
#define OBJS  "/api1/collections/any/objects/"

/* "Authorization: Basic ..." for alice. */
static const char *
alice_basic(void)
{
	static char line[128];
	unsigned char b64[64];

	EVP_EncodeBlock(b64, (const unsigned char *)"alice:integ-pass-1", 18);
	snprintf(line, sizeof(line), "Authorization: Basic %s\r\n", b64);
	return line;
}

/* Sends `req` on a new TLS connection and reads the answer for at most
 * `ms`; the bytes in buf, *closed as raw_read. */
static size_t
exchange(
    const char *req, size_t reqlen, char *buf, size_t len, int ms, int *closed)
{
	SSL_CTX *ctx = raw_ctx();
	SSL *ssl = raw_open(ctx, NULL);
	size_t n = 0;

	*closed = 0;
	buf[0] = '\0';
	if (ssl != NULL && raw_write(ssl, req, reqlen) == 0)
		n = raw_read(ssl, buf, len, ms, closed);
	raw_close(ssl);
	SSL_CTX_free(ctx);
	return n;
}

/* The answer in buf is `status`, a TAXII error resource with that
 * http_status; 0 or -1 with a reason. */
static int
taxii_answer(const char *buf, int status, char *why, size_t whylen)
{
	char line[32];
	const char *body = strstr(buf, "\r\n\r\n");
	json_t *j, *hs;
	int ok;

	snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
	EXPECT(strncmp(buf, line, strlen(line)) == 0, "not a %d: %.200s",
	    status, buf);
	EXPECT(strstr(buf, "\r\nContent-Type: " TAXII "\r\n") != NULL,
	    "the %d is not application/taxii+json: %.300s", status, buf);
	EXPECT(body != NULL && (j = json_loads(body + 4, 0, NULL)) != NULL,
	    "the %d has no JSON body: %.300s", status, buf);
	hs = json_object_get(j, "http_status");
	ok = json_is_string(hs) && atoi(json_string_value(hs)) == status &&
	    json_is_string(json_object_get(j, "title"));
	json_decref(j);
	EXPECT(ok, "the %d is not a TAXII error resource: %.300s", status,
	    body + 4);
	return 0;
}

/* An authenticated POST whose body trickles, a byte every 0.5 s, gets a
 * 408 at body_timeout (3 s in the test configuration). */
static int
t_body_trickle(char *why, size_t whylen)
{
	char head[512], buf[2048];
	SSL_CTX *ctx = raw_ctx();
	SSL *ssl = raw_open(ctx, NULL);
	size_t n = 0;
	int i, closed = 0;

	EXPECT(ssl != NULL, "handshake");
	snprintf(head, sizeof(head),
	    "POST " OBJS " HTTP/1.1\r\nHost: x\r\n%sContent-Type: " TAXII
	    "\r\nContent-Length: 100\r\n\r\n{",
	    alice_basic());
	raw_write(ssl, head, strlen(head));
	/* the answer and the close may come in separate reads, and a write
	 * may fail once the hub has answered: gather what comes */
	buf[0] = '\0';
	for (i = 0; i < 20 && !closed; i++) {
		if (raw_write(ssl, " ", 1) == -1)
			break;
		n += raw_read(ssl, buf + n, sizeof(buf) - n, 500, &closed);
	}
	if (!closed)
		n += raw_read(ssl, buf + n, sizeof(buf) - n, 1000, &closed);
	raw_close(ssl);
	SSL_CTX_free(ctx);
	EXPECT(closed, "still connected after 10 s of a trickled body");
	EXPECT(n > 0, "cut off without an answer");
	if (taxii_answer(buf, 408, why, whylen) == -1)
		return -1;
	EXPECT(strstr(buf, "body_timeout") != NULL, "%.300s", buf);
	return 0;
}

/* A body whose sender has not authenticated is answered 401 as soon as
 * the head is in: no byte of the body is sent here, and the answer still
 * comes.  An authenticated one is read (100 Continue). */
static int
t_early_401(char *why, size_t whylen)
{
	char req[512], buf[2048];
	int closed;

	snprintf(req, sizeof(req),
	    "POST " OBJS " HTTP/1.1\r\nHost: x\r\nContent-Type: " TAXII
	    "\r\nContent-Length: 50000000\r\n\r\n");
	exchange(req, strlen(req), buf, sizeof(buf), 3000, &closed);
	if (taxii_answer(buf, 401, why, whylen) == -1)
		return -1;
	EXPECT(strstr(buf, "\r\nWWW-Authenticate: Basic") != NULL,
	    "no WWW-Authenticate: %.300s", buf);
	EXPECT(closed, "the connection stays open after the early 401");
	snprintf(req, sizeof(req),
	    "POST " OBJS " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
	    "cth_nope\r\nTransfer-Encoding: chunked\r\n\r\n");
	exchange(req, strlen(req), buf, sizeof(buf), 3000, &closed);
	if (taxii_answer(buf, 401, why, whylen) == -1)
		return -1;
	EXPECT(strstr(buf, "unknown API token") != NULL, "%.300s", buf);
	snprintf(req, sizeof(req),
	    "POST " OBJS " HTTP/1.1\r\nHost: x\r\n%sContent-Type: " TAXII
	    "\r\nExpect: 100-continue\r\nContent-Length: 50000\r\n\r\n",
	    alice_basic());
	exchange(req, strlen(req), buf, sizeof(buf), 1000, &closed);
	EXPECT(strncmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0 &&
		buf[25] == '\0',
	    "an authenticated body is not awaited: %.300s", buf);
	return 0;
}

/* Sets max_unverified_bodies by a reload (0: the directive removed). */
static int
set_unverified(int n)
{
	char path[1024], with[128];
	int done = log_count("configuration reloaded");

	snprintf(path, sizeof(path), "%s/ctihub.conf", env("HUB_DIR"));
	snprintf(
	    with, sizeof(with), "json_max_depth 32\nmax_unverified_bodies 1");
	if (file_replace(path, n ? "json_max_depth 32" : with,
		n ? with : "json_max_depth 32") == -1)
		return -1;
	hub_signal(SIGHUP);
	return log_wait("configuration reloaded", done, 10);
}

/* Bodies sent with a Basic password not checked yet are read before the
 * check (it runs off the loops), so they are bounded in all: with
 * max_unverified_bodies 1, a second such upload while the first is still
 * being sent gets a 503 before its body is read; once the first is gone,
 * another is awaited again.  A credential checked before passes. */
static int
t_unverified_bodies(char *why, size_t whylen)
{
	static const char head[] =
	    "POST " OBJS " HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
	    "YWxpY2U6d3JvbmctcGFzc3dvcmQ=\r\nContent-Type: " TAXII
	    "\r\nContent-Length: 100000\r\n\r\n";
	char req[512], buf[2048];
	SSL_CTX *ctx = raw_ctx();
	SSL *first;
	struct resp r;
	int closed, rc = -1;

	if (set_unverified(1) != 0) {
		SSL_CTX_free(ctx);
		FAIL("the reload with max_unverified_bodies 1 did not come");
	}
	/* alice's credential, checked and remembered (a reload forgets) */
	http("GET", "/taxii2/", &(struct opts){.user = "alice:integ-pass-1"},
	    &r);
	resp_free(&r);
	first = raw_open(ctx, NULL);
	if (first == NULL || raw_write(first, head, strlen(head)) != 0) {
		snprintf(why, whylen, "the first upload could not start");
		goto out;
	}
	usleep(300000);
	exchange(head, strlen(head), buf, sizeof(buf), 3000, &closed);
	if (taxii_answer(buf, 503, why, whylen) == -1)
		goto out;
	/* a remembered credential is not held back */
	snprintf(req, sizeof(req),
	    "POST " OBJS " HTTP/1.1\r\nHost: x\r\n%sContent-Type: " TAXII
	    "\r\nExpect: 100-continue\r\nContent-Length: 50000\r\n\r\n",
	    alice_basic());
	exchange(req, strlen(req), buf, sizeof(buf), 1000, &closed);
	if (strncmp(buf, "HTTP/1.1 100 Continue\r\n", 23) != 0) {
		snprintf(why, whylen,
		    "a remembered credential was held back: %.200s", buf);
		goto out;
	}
	raw_close(first);
	first = NULL;
	usleep(300000);
	/* the first upload gone: another is awaited (no answer yet) */
	exchange(head, strlen(head), buf, sizeof(buf), 700, &closed);
	if (buf[0] != '\0' || closed) {
		snprintf(why, whylen,
		    "an upload is refused after the first went away: %.200s",
		    buf);
		goto out;
	}
	rc = 0;
out:
	raw_close(first);
	SSL_CTX_free(ctx);
	if (set_unverified(0) != 0 && rc == 0)
		FAIL("the reload without max_unverified_bodies did not come");
	return rc;
}

/* What evhttp refuses by itself comes back as TAXII error resources. */
static int
t_evhttp_errors(char *why, size_t whylen)
{
	static const struct {
		const char *head; /* after the request line, Authorization
				     (alice's) prepended; NULL: raw */
		const char *raw;
		int status;
	} cases[] = {
	    {NULL, "NONSENSE\r\n\r\n", 400},
	    {NULL, "GET /taxii2/ HTTP/1.1\r\nHost: x\r\nBad Line\r\n\r\n", 400},
	    {"Content-Length: 1000000000\r\n\r\n", NULL, 413},
	    /* one chunk past the limit */
	    {"Transfer-Encoding: chunked\r\n\r\n8000000\r\n{", NULL, 413},
	    /* a chunk size that is not one (evhttp calls it too large) */
	    {"Transfer-Encoding: chunked\r\n\r\nzz\r\n{", NULL, 413},
	};
	char req[512], buf[2048];
	size_t i;
	int closed;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].raw != NULL)
			snprintf(req, sizeof(req), "%s", cases[i].raw);
		else
			snprintf(req, sizeof(req),
			    "POST " OBJS " HTTP/1.1\r\nHost: x\r\n%s"
			    "Content-Type: " TAXII "\r\n%s",
			    alice_basic(), cases[i].head);
		exchange(req, strlen(req), buf, sizeof(buf), 3000, &closed);
		if (taxii_answer(buf, cases[i].status, why, whylen) == -1)
			return -1;
	}
	return 0;
}

/* Two Content-Length fields that disagree: 400, and the connection
 * closes (what follows cannot be trusted to start a request). */
static int
t_two_lengths(char *why, size_t whylen)
{
	char req[1024], buf[4096];
	int closed;

	snprintf(req, sizeof(req),
	    "POST " OBJS " HTTP/1.1\r\nHost: x\r\n%sContent-Type: " TAXII
	    "\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}"
	    "GET /taxii2/ HTTP/1.1\r\nHost: x\r\n%s\r\n",
	    alice_basic(), alice_basic());
	exchange(req, strlen(req), buf, sizeof(buf), 3000, &closed);
	if (taxii_answer(buf, 400, why, whylen) == -1)
		return -1;
	EXPECT(strstr(buf, "Content-Length") != NULL, "%.300s", buf);
	EXPECT(closed && strstr(buf + 12, "HTTP/1.1 ") == NULL,
	    "the connection went on after conflicting lengths: %.600s", buf);
	/* the same value twice is one length */
	snprintf(req, sizeof(req),
	    "GET /taxii2/ HTTP/1.1\r\nHost: x\r\n%sContent-Length: 0\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n",
	    alice_basic());
	exchange(req, strlen(req), buf, sizeof(buf), 3000, &closed);
	EXPECT(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "%.300s", buf);
	return 0;
}

/* Without tls_client_ca, certificates are pinned by fingerprint alone:
 * one that expired, or is not valid yet, is refused all the same. */
static int
t_pinned_dates(char *why, size_t whylen)
{
	static const struct {
		const char *cert, *key;
		long code;
		const char *says;
	} cases[] = {
	    /* pinned, self-signed, valid */
	    {"HUB_CERT_ROGUE", "HUB_KEY_ROGUE", 200, "api_roots"},
	    {"HUB_CERT_EXPIRED", "HUB_KEY_EXPIRED", 401,
		"expired on 2024-01-02"},
	    {"HUB_CERT_FUTURE", "HUB_KEY_FUTURE", 401, "not valid before"},
	};
	char path[1024];
	struct opts o = {0};
	struct resp r;
	int done = log_count("configuration reloaded");
	int rc = -1, ok;
	size_t i;

	snprintf(path, sizeof(path), "%s/ctihub.conf", env("HUB_DIR"));
	EXPECT(file_replace(path, "tls_client_ca ca.pem\n", "") == 0, "edit");
	hub_signal(SIGHUP);
	if (log_wait("configuration reloaded", done, 10) == -1) {
		snprintf(why, whylen, "no reload");
		goto out;
	}
	done++;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o.cert = env(cases[i].cert);
		o.key = env(cases[i].key);
		http("GET", "/taxii2/", &o, &r);
		ok = r.code == cases[i].code &&
		    strstr(r.body ? r.body : "", cases[i].says) != NULL;
		if (!ok)
			snprintf(why, whylen, "%s: %ld %.200s", cases[i].cert,
			    r.code, r.body ? r.body : "");
		resp_free(&r);
		if (!ok)
			goto out;
	}
	rc = 0;
out:
	/* the client CA back, as the other tests expect */
	if (file_replace(path, "tls_key server.key\n",
		"tls_key server.key\ntls_client_ca ca.pem\n") == 0) {
		hub_signal(SIGHUP);
		if (log_wait("configuration reloaded", done, 10) == -1 &&
		    rc == 0) {
			snprintf(why, whylen, "no reload back");
			rc = -1;
		}
	}
	return rc;
}

/* A page larger than send_buffer goes out in pieces (chunked) and is
 * whole: the same objects as HTTP/1.0 gets without chunks, and HEAD
 * announces its length. */
static int
t_streamed_page(char *why, size_t whylen)
{
	static char raw[8 << 20];
	const char *page = "/api1/collections/any/objects/?limit=1000";
	struct opts o = {.user = "alice:integ-pass-1"};
	struct buf b = BUF_INIT;
	struct resp r, h;
	char u[37], req[512], desc[1100];
	const char *body, *cl;
	json_t *j;
	size_t n;
	int i, closed, ok;

	memset(desc, 'd', 1000);
	desc[1000] = '\0';
	buf_adds(&b, "{\"objects\":[");
	for (i = 0; i < 60; i++) {
		integ_uuid(u);
		buf_addf(&b,
		    "%s{\"type\":\"indicator\",\"spec_version\":\"2.1\","
		    "\"id\":\"indicator--%s\","
		    "\"created\":\"2024-01-01T00:00:00.000Z\","
		    "\"modified\":\"2024-01-01T00:00:00.000Z\","
		    "\"description\":\"%s\","
		    "\"pattern\":\"[ipv4-addr:value = '203.0.113.%d']\","
		    "\"pattern_type\":\"stix\","
		    "\"valid_from\":\"2024-01-01T00:00:00Z\"}",
		    i ? "," : "", u, desc, i);
	}
	buf_adds(&b, "]}");
	o.body = buf_cstr(&b);
	o.bodylen = b.len;
	http("POST", OBJS, &o, &r);
	buf_clear(&b);
	EXPECT_CODE(&r, 202);
	resp_free(&r);
	o.body = NULL;
	o.bodylen = 0;
	http("GET", page, &o, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(r.len > 60000 && r.json != NULL,
	    "the page is not whole JSON (%zu bytes)", r.len);
	EXPECT(resp_header(&r, "Transfer-Encoding") != NULL &&
		strcmp(resp_header(&r, "Transfer-Encoding"), "chunked") == 0,
	    "a %zu-byte page is not streamed", r.len);
	http("HEAD", page, &o, &h);
	cl = resp_header(&h, "Content-Length");
	ok = h.code == 200 && cl != NULL && strtoul(cl, NULL, 10) == r.len;
	resp_free(&h);
	EXPECT(ok, "HEAD does not announce the page's %zu bytes", r.len);
	snprintf(req, sizeof(req),
	    "GET %s HTTP/1.0\r\n%sAccept: " TAXII "\r\n\r\n", page,
	    alice_basic());
	n = exchange(req, strlen(req), raw, sizeof(raw), 10000, &closed);
	body = strstr(raw, "\r\n\r\n");
	/* no chunks for HTTP/1.0: the length, or the end of the
	 * connection, delimits the body */
	ok = n > 0 && closed && body != NULL &&
	    strstr(raw, "\r\nTransfer-Encoding: ") == NULL &&
	    (j = json_loads(body + 4, 0, NULL)) != NULL;
	if (ok) {
		ok = json_array_size(json_object_get(j, "objects")) ==
		    json_array_size(json_object_get(r.json, "objects"));
		json_decref(j);
	}
	resp_free(&r);
	EXPECT(ok, "HTTP/1.0 does not get the same page whole: %.200s", raw);
	return 0;
}

const struct test conn_tests[] = {
    {"conn: a trickled body is cut off at body_timeout", t_body_trickle},
    {"conn: a body without credentials gets 401 before it is read",
	t_early_401},
    {"conn: uploads with unchecked passwords are bounded in all "
     "(max_unverified_bodies)",
	t_unverified_bodies},
    {"conn: evhttp's own 400 and 413 are TAXII errors", t_evhttp_errors},
    {"conn: two different Content-Length values get 400 and close",
	t_two_lengths},
    {"conn: pinned certificates out of their dates are refused",
	t_pinned_dates},
    {"conn: a page larger than send_buffer is streamed, and whole",
	t_streamed_page},
    {NULL, NULL},
};
