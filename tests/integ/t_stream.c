/*
 * t_stream.c -- the event stream (GET .../stream/, Server-Sent Events)
 * over real TLS: objects posted after connecting arrive as events, a
 * reconnection with Last-Event-ID resumes without a loss or a repeat,
 * the filters of objects/ apply, a deletion arrives as `event: delete`,
 * heartbeats keep an idle stream open past request_timeout, Accept and
 * access are checked as for objects/ (406, 403, 404), and max_streams
 * answers 503 past it; a commit wakes a stream at once, and a reload
 * that takes the member's read access away ends its stream.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "ctihub/buf.h"

#include "integ.h"

#define PW	"integ-pass-1"
#define SCOLL	"/api1/collections/stream/"
#define SSE	"text/event-stream"
#define SSE_MAX (256 * 1024)

/* An open stream: the bytes so far. */
struct sse {
	SSL *ssl;
	char buf[SSE_MAX];
	size_t len;
	int closed;
};

static SSL_CTX *sse_ctx;
/* the streams open, closed by the next test when a failure left them */
static struct sse *sse_open_list[8];

static void
sse_close(struct sse *s)
{
	int i;

	for (i = 0; i < 8; i++)
		if (sse_open_list[i] == s)
			sse_open_list[i] = NULL;
	raw_close(s->ssl);
	s->ssl = NULL;
}

/* Closes what a failed test left open, and gives the hub a moment to
 * count them gone. */
static void
sse_leftovers(void)
{
	int i, n = 0;

	for (i = 0; i < 8; i++)
		if (sse_open_list[i] != NULL) {
			sse_close(sse_open_list[i]);
			n++;
		}
	if (n > 0)
		usleep(300000);
}

/* Opens path as `user` (extra: header lines, each ending in \r\n). */
static int
sse_open(struct sse *s, const char *user, const char *path, const char *extra)
{
	char req[1024], cred[64];
	unsigned char b64[128];
	int i;

	memset(s, 0, sizeof(*s));
	if (sse_ctx == NULL && (sse_ctx = raw_ctx()) == NULL)
		return -1;
	snprintf(cred, sizeof(cred), "%s:%s", user, PW);
	EVP_EncodeBlock(b64, (const unsigned char *)cred, (int)strlen(cred));
	snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic "
	    "%s\r\nAccept: " SSE "\r\n%s\r\n",
	    path, b64, extra ? extra : "");
	if ((s->ssl = raw_open(sse_ctx, NULL)) == NULL)
		return -1;
	for (i = 0; i < 8; i++)
		if (sse_open_list[i] == NULL) {
			sse_open_list[i] = s;
			break;
		}
	return raw_write(s->ssl, req, strlen(req));
}

/* Reads until `needle` is in the bytes (1) or ms pass (0). */
static int
sse_wait(struct sse *s, const char *needle, int ms)
{
	double end = integ_ms() + ms;

	while (strstr(s->buf, needle) == NULL) {
		if (s->closed || integ_ms() >= end ||
		    s->len >= sizeof(s->buf) - 1)
			return 0;
		s->len += raw_read(s->ssl, s->buf + s->len,
		    sizeof(s->buf) - s->len, 100, &s->closed);
	}
	return 1;
}

/* Counts the occurrences of needle in the bytes. */
static int
sse_count(const struct sse *s, const char *needle)
{
	const char *p = s->buf;
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* The id: of the last event received, into out. */
static void
sse_last_id(const struct sse *s, char *out, size_t outlen)
{
	const char *p = s->buf, *q, *last = NULL;

	while ((q = strstr(p, "\nid: ")) != NULL) {
		last = q + 5;
		p = q + 1;
	}
	out[0] = '\0';
	if (last != NULL)
		snprintf(out, outlen, "%.*s", (int)strcspn(last, "\r\n"), last);
}

/* Posts one indicator (or malware) as alice into coll; its id. */
static int
post_one(const char *coll, const char *type, char id[80])
{
	static const struct opts alice = {.user = "alice:" PW};
	struct buf b = BUF_INIT;
	struct resp r;
	char u[37], path[128];
	int ok;

	integ_uuid(u);
	snprintf(id, 80, "%s--%s", type, u);
	buf_adds(&b, "{\"objects\":[");
	if (strcmp(type, "indicator") == 0)
		integ_indicator(&b, u, "2024-01-01T00:00:00.000Z",
		    "[ipv4-addr:value = "
		    "'198.51.100.7']");
	else
		integ_object(&b, type, id, "2024-01-01T00:00:00.000Z",
		    "2024-01-01T00:00:00.000Z",
		    ",\"name\":\"m\",\"is_family\":false");
	buf_adds(&b, "]}");
	snprintf(path, sizeof(path), "/api1/collections/%s/objects/", coll);
	integ_post(&alice, path, buf_cstr(&b), &r);
	ok = r.code == 202 &&
	    json_integer_value(json_object_get(r.json, "success_count")) == 1;
	resp_free(&r);
	buf_clear(&b);
	return ok ? 0 : -1;
}

static int
t_stream_live(char *why, size_t whylen)
{
	static struct sse s;
	char ids[3][80], last[64], hdr[160];
	int i;

	sse_leftovers();
	EXPECT(sse_open(&s, "bob", SCOLL "stream/", NULL) == 0, "connect");
	EXPECT(sse_wait(&s, "\r\n\r\n", 3000), "no headers: %s", s.buf);
	EXPECT(
	    strncmp(s.buf, "HTTP/1.1 200", 12) == 0, "status: %.200s", s.buf);
	EXPECT(
	    strstr(s.buf, "Content-Type: " SSE) != NULL, "type: %.400s", s.buf);
	EXPECT(strstr(s.buf, "Cache-Control: no-store") != NULL, "cache");
	EXPECT(strstr(s.buf, "X-Accel-Buffering: no") != NULL, "buffering");
	EXPECT(strstr(s.buf, "Transfer-Encoding: chunked") != NULL, "chunks");
	for (i = 0; i < 3; i++)
		EXPECT(post_one("stream", "indicator", ids[i]) == 0, "post");
	for (i = 0; i < 3; i++)
		EXPECT(sse_wait(&s, ids[i], 3000), "event %d (%s) missing: %s",
		    i, ids[i], s.buf);
	EXPECT(sse_count(&s, "event: object\ndata: {") == 3,
	    "three object events: %s", s.buf);
	/* in order */
	EXPECT(strstr(s.buf, ids[0]) < strstr(s.buf, ids[1]) &&
		strstr(s.buf, ids[1]) < strstr(s.buf, ids[2]),
	    "order: %s", s.buf);
	sse_last_id(&s, last, sizeof(last));
	EXPECT(strlen(last) == 27 && last[26] == 'Z', "id: '%s'", last);
	sse_close(&s);

	/* two more while away; the reconnection gets exactly those */
	EXPECT(post_one("stream", "indicator", ids[0]) == 0, "post");
	EXPECT(post_one("stream", "indicator", ids[1]) == 0, "post");
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s\r\n", last);
	EXPECT(sse_open(&s, "bob", SCOLL "stream/", hdr) == 0, "reconnect");
	EXPECT(sse_wait(&s, ids[1], 3000), "resumed events missing: %s", s.buf);
	EXPECT(sse_count(&s, "event: object") == 2,
	    "exactly the two after the cursor: %s", s.buf);
	EXPECT(strstr(s.buf, ids[0]) < strstr(s.buf, ids[1]), "order");
	sse_close(&s);
	return 0;
}

/* A backlog larger than send_buffer (16k) comes in pieces as the client
 * reads: every object once, in order. */
static int
t_stream_backlog(char *why, size_t whylen)
{
	static const struct opts alice = {.user = "alice:" PW};
	static struct sse s;
	struct buf b = BUF_INIT;
	struct resp r;
	char id[80], last[64], hdr[160], want[64];
	unsigned tag = (unsigned)rand() | 0x80000000u, n, k;
	const char *p;

	sse_leftovers();
	EXPECT(sse_open(&s, "bob", SCOLL "stream/", NULL) == 0, "connect");
	EXPECT(sse_wait(&s, "\r\n\r\n", 3000), "headers");
	EXPECT(post_one("stream", "indicator", id) == 0, "post");
	EXPECT(sse_wait(&s, id, 3000), "first event: %s", s.buf);
	sse_last_id(&s, last, sizeof(last));
	sse_close(&s);
	for (n = 0; n < 2; n++) {
		integ_envelope(&b, tag, n, 100);
		integ_post(&alice, SCOLL "objects/", buf_cstr(&b), &r);
		EXPECT_CODE(&r, 202);
		resp_free(&r);
	}
	buf_clear(&b);
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s\r\n", last);
	EXPECT(sse_open(&s, "bob", SCOLL "stream/", hdr) == 0, "reconnect");
	snprintf(want, sizeof(want), "%08x-0001-4000-8000-%012x", tag, 99);
	EXPECT(sse_wait(&s, want, 5000),
	    "the last of 200 missing (%d "
	    "events): %.300s",
	    sse_count(&s, "event: object"), s.buf);
	EXPECT(sse_count(&s, "event: object") == 200, "%d events, not 200",
	    sse_count(&s, "event: object"));
	/* each once, in the order posted */
	p = s.buf;
	for (n = 0; n < 2; n++)
		for (k = 0; k < 100; k++) {
			snprintf(want, sizeof(want),
			    "%08x-%04x-4000-8000-%012x", tag, n, k);
			EXPECT((p = strstr(p, want)) != NULL,
			    "object %u/%u out of order or missing", n, k);
		}
	sse_close(&s);
	return 0;
}

/* match[type] applies; added_after starts after a cursor. */
static int
t_stream_filters(char *why, size_t whylen)
{
	static struct sse s, a;
	char ind[80], mal[80], last[64], path[256];

	sse_leftovers();
	EXPECT(
	    sse_open(&s, "bob", SCOLL "stream/?match[type]=malware", NULL) == 0,
	    "connect");
	EXPECT(sse_wait(&s, "\r\n\r\n", 3000), "headers");
	EXPECT(post_one("stream", "indicator", ind) == 0, "post");
	EXPECT(post_one("stream", "malware", mal) == 0, "post");
	EXPECT(sse_wait(&s, mal, 3000), "malware missing: %s", s.buf);
	EXPECT(strstr(s.buf, ind) == NULL, "indicator filtered out: %s", s.buf);
	sse_last_id(&s, last, sizeof(last));
	sse_close(&s);
	/* from the malware on: nothing of before */
	EXPECT(post_one("stream", "indicator", ind) == 0, "post");
	snprintf(path, sizeof(path), SCOLL "stream/?added_after=%s", last);
	EXPECT(sse_open(&a, "bob", path, NULL) == 0, "connect");
	EXPECT(sse_wait(&a, ind, 3000), "indicator after: %s", a.buf);
	EXPECT(strstr(a.buf, mal) == NULL, "nothing before: %s", a.buf);
	sse_close(&a);
	return 0;
}

static int
t_stream_delete(char *why, size_t whylen)
{
	static const struct opts alice = {.user = "alice:" PW};
	static struct sse s;
	struct resp r;
	char id[80], path[256];

	sse_leftovers();
	EXPECT(post_one("stream", "indicator", id) == 0, "post");
	EXPECT(sse_open(&s, "bob", SCOLL "stream/", NULL) == 0, "connect");
	EXPECT(sse_wait(&s, "\r\n\r\n", 3000), "headers");
	snprintf(path, sizeof(path), SCOLL "objects/%s/", id);
	http("DELETE", path, &alice, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	EXPECT(sse_wait(&s, "event: delete\ndata: {\"id\":\"", 3000),
	    "no delete event: %s", s.buf);
	EXPECT(sse_wait(&s, "\",\"version\":\"2024-01-01T00:00:00.000Z\"}\n\n",
		   1000),
	    "the deleted version: %s", s.buf);
	EXPECT(strstr(s.buf, id) != NULL, "the deleted id: %s", s.buf);
	EXPECT(sse_count(&s, "event: object") == 0, "%s", s.buf);
	sse_close(&s);
	return 0;
}

/* A quiet stream gets keep-alive comments (stream_heartbeat 1s) and
 * outlives request_timeout (2s): its client only listens. */
static int
t_stream_heartbeat(char *why, size_t whylen)
{
	static struct sse s;

	sse_leftovers();
	EXPECT(
	    sse_open(&s, "bob", "/api1/collections/quiet/stream/", NULL) == 0,
	    "connect");
	EXPECT(sse_wait(&s, "\r\n\r\n", 3000), "headers");
	EXPECT(
	    sse_wait(&s, ": keep-alive\n\n", 3000), "no heartbeat: %s", s.buf);
	sleep(3); /* past request_timeout */
	s.len += raw_read(
	    s.ssl, s.buf + s.len, sizeof(s.buf) - s.len, 500, &s.closed);
	EXPECT(!s.closed, "the stream was cut after %d heartbeats: %s",
	    sse_count(&s, ": keep-alive"), s.buf);
	EXPECT(sse_count(&s, ": keep-alive") >= 3, "heartbeats: %s", s.buf);
	sse_close(&s);
	return 0;
}

static int
t_stream_refused(char *why, size_t whylen)
{
	struct opts bob = {.user = "bob:" PW, .accept = SSE};
	struct opts alice = {.user = "alice:" PW, .accept = SSE};
	struct opts taxii = {.user = "bob:" PW};
	struct resp r;

	sse_leftovers();
	/* the TAXII media type is not what a stream answers with */
	http("GET", SCOLL "stream/", &taxii, &r);
	EXPECT_CODE(&r, 406);
	resp_free(&r);
	/* write access only: 403, as objects/ */
	http("GET", "/api1/collections/dropbox/stream/", &alice, &r);
	EXPECT_CODE(&r, 403);
	resp_free(&r);
	/* a collection alice may not see: 404 */
	http("GET",
	    "/api1/collections/8b1fa07e-6e8c-4cad-9c32-3b4c5d6e7f80/"
	    "stream/",
	    &alice, &r);
	EXPECT_CODE(&r, 404);
	resp_free(&r);
	http("GET", "/api1/collections/nope/stream/", &bob, &r);
	EXPECT_CODE(&r, 404);
	resp_free(&r);
	/* no credentials: 401 */
	bob.user = NULL;
	http("GET", SCOLL "stream/", &bob, &r);
	EXPECT_CODE(&r, 401);
	resp_free(&r);
	/* a Last-Event-ID that is no cursor */
	bob.user = "bob:" PW;
	bob.header = "Last-Event-ID: yesterday";
	http("GET", SCOLL "stream/", &bob, &r);
	EXPECT_CODE(&r, 400);
	resp_free(&r);
	return 0;
}

/* max_streams 4 in the test configuration: the fifth is refused. */
static int
t_stream_max(char *why, size_t whylen)
{
	struct opts bob = {.user = "bob:" PW, .accept = SSE, .fresh = 1};
	static struct sse s[4];
	struct resp r;
	int i;

	sse_leftovers();
	for (i = 0; i < 4; i++) {
		EXPECT(sse_open(&s[i], "bob", SCOLL "stream/", NULL) == 0,
		    "connect %d", i);
		EXPECT(sse_wait(&s[i], "\r\n\r\n", 3000), "headers %d", i);
		EXPECT(strncmp(s[i].buf, "HTTP/1.1 200", 12) == 0,
		    "stream %d: %.100s", i, s[i].buf);
	}
	http("GET", SCOLL "stream/", &bob, &r);
	EXPECT_CODE(&r, 503);
	EXPECT(strstr(r.body, "max_streams") != NULL, "%s", r.body);
	resp_free(&r);
	for (i = 0; i < 4; i++)
		sse_close(&s[i]);
	/* the hub notices them gone: streams may open again */
	for (i = 0; i < 50; i++) {
		static struct sse t;
		int ok;

		usleep(100000);
		EXPECT(
		    sse_open(&t, "bob", SCOLL "stream/", NULL) == 0, "again");
		ok = sse_wait(&t, "\r\n\r\n", 3000) &&
		    strncmp(t.buf, "HTTP/1.1 200", 12) == 0;
		sse_close(&t);
		if (ok)
			return 0;
	}
	FAIL("streams stay counted after their clients left");
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Waits for the next keep-alive comment: 1, or 0 after ms. */
static int
sse_next_beat(struct sse *s, int ms)
{
	int k = sse_count(s, ": keep-alive");
	double end = integ_ms() + ms;

	while (sse_count(s, ": keep-alive") == k) {
		if (s->closed || integ_ms() >= end ||
		    s->len >= sizeof(s->buf) - 1)
			return 0;
		s->len += raw_read(s->ssl, s->buf + s->len,
		    sizeof(s->buf) - s->len, 50, &s->closed);
	}
	return 1;
}

/* A commit wakes the stream of its collection at once, not at the next
 * beat (a second: the keep-alives show when): posted right after a
 * keep-alive, the median object arrives well before the next one. */
static int
t_stream_wake(char *why, size_t whylen)
{
	static struct sse s;
	double t[5];
	char id[80];
	int i;

	sse_leftovers();
	EXPECT(sse_open(&s, "bob", SCOLL "stream/", NULL) == 0, "connect");
	EXPECT(sse_wait(&s, "\r\n\r\n", 3000), "headers");
	for (i = 0; i < 5; i++) {
		EXPECT(sse_next_beat(&s, 3000), "no keep-alive: %s", s.buf);
		t[i] = integ_ms();
		EXPECT(post_one("stream", "indicator", id) == 0, "post");
		EXPECT(
		    sse_wait(&s, id, 3000), "event %d missing: %s", i, s.buf);
		t[i] = integ_ms() - t[i];
	}
	sse_close(&s);
	qsort(t, 5, sizeof(t[0]), cmp_double);
	EXPECT(t[2] < 600,
	    "median %.0f ms from a beat to the event "
	    "(%.0f..%.0f)",
	    t[2], t[0], t[4]);
	return 0;
}

/* Takes `from` out of ctihub.conf for `to` and reloads; 0 once done. */
static int
conf_edit(const char *from, const char *to)
{
	char path[1024];
	int done = log_count("configuration reloaded");

	snprintf(path, sizeof(path), "%s/ctihub.conf", env("HUB_DIR"));
	if (file_replace(path, from, to) == -1)
		return -1;
	hub_signal(SIGHUP);
	return log_wait("configuration reloaded", done, 10);
}

#define READ_ANY   "alias stream\n\t\tread any"
#define READ_ALICE "alias stream\n\t\tread member alice"

/* A reload that takes bob's read access away ends bob's stream before it
 * sends anything more; alice's goes on. */
static int
t_stream_reload(char *why, size_t whylen)
{
	static struct sse b, a;
	char id[80];
	int ended, seen;

	sse_leftovers();
	EXPECT(sse_open(&b, "bob", SCOLL "stream/", NULL) == 0, "connect");
	EXPECT(sse_wait(&b, "\r\n\r\n", 3000), "headers");
	EXPECT(sse_open(&a, "alice", SCOLL "stream/", NULL) == 0, "connect");
	EXPECT(sse_wait(&a, "\r\n\r\n", 3000), "headers");
	EXPECT(conf_edit(READ_ANY, READ_ALICE) == 0, "reload");
	EXPECT(post_one("stream", "indicator", id) == 0, "post");
	EXPECT(sse_wait(&a, id, 3000), "alice's stream: %s", a.buf);
	/* the last chunk, or the connection closed */
	ended = sse_wait(&b, "\r\n0\r\n\r\n", 3000) || b.closed;
	seen = strstr(b.buf, id) != NULL;
	sse_close(&b);
	sse_close(&a);
	EXPECT(conf_edit(READ_ALICE, READ_ANY) == 0, "reload back");
	EXPECT(!seen, "bob received an object after losing access: %s", b.buf);
	EXPECT(ended, "bob's stream did not end: %s", b.buf);
	return 0;
}

const struct test stream_tests[] = {
    {"stream: objects posted after connecting arrive, in order; "
     "Last-Event-ID resumes without loss or repeat",
	t_stream_live},
    {"stream: match[type] and added_after", t_stream_filters},
    {"stream: a backlog larger than send_buffer, once and in order",
	t_stream_backlog},
    {"stream: a deletion arrives as event: delete", t_stream_delete},
    {"stream: heartbeats keep an idle stream open past request_timeout",
	t_stream_heartbeat},
    {"stream: 406, 403, 404, 401 and 400 as for objects/", t_stream_refused},
    {"stream: max_streams answers 503 past it", t_stream_max},
    {"stream: a commit wakes the streams of its collection at once",
	t_stream_wake},
    {"stream: a reload that takes read access away ends the stream",
	t_stream_reload},
    {NULL, NULL},
};
