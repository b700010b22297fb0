/*
 * push_rx.c -- the receiving end of the push benchmark, on one thread and
 * one libevent loop so that it takes as little of the machine as it can
 * from the hub it measures:
 *   - an HTTPS server (evhttp + OpenSSL) that is at once
 *       a webhook receiver at /hook/NAME: answers the challenge, counts
 *       the elements of the payload's "objects" array, top-level or the
 *       first one nested (framing only, with jscan and a byte scan: no
 *       tree is built, no signature is checked), answers 200;
 *       a TAXII 2.1 Add Objects receiver at /taxii/NAME/...: POST
 *       .../objects/ answers 202 with a complete status resource, GET
 *       .../status/ID/ serves it again (the count is kept in the id),
 *       DELETE .../objects/ID/ answers 200, GET of a collection, an API
 *       root or the discovery answers a minimal resource;
 *   - SSE clients (-t NAME=URL): each holds GET URL with Accept:
 *     text/event-stream to the hub over TLS, Basic credentials from the
 *     URL's user:pass (or -a), and counts "event: object", "revoke" and
 *     "delete" lines, reconnecting with Last-Event-ID ("stream NAME open"
 *     on stderr at each 200);
 *   - idle connections (-n N -u URL): N streams held without counting,
 *     or with -i N TLS connections that send nothing (for the hub's memory
 *     per stream beside per plain connection), opened 64 at a time; the
 *     stats file's last line is "idle N open K closed C".
 * All streams go to one hub (the host of the last URL parsed).
 * Counts per subscriber (NAME) are rewritten every 200 ms to -o FILE, one
 * line each: "NAME KIND OBJECTS DELETES REQUESTS BYTES FIRST LAST" (times:
 * CLOCK_REALTIME seconds of the first and last counted event, 0 none).
 * On exit it prints them, and the commit -> delivery it saw (now minus the
 * cursor, a date_added) per event of a stream and per webhook batch (its
 * newest event, "to"; the batch's older events waited longer).
 * It checks nothing a receiver should check (signatures, TAXII media
 * types, credentials): tests/integ/push_rx.py does that.
 *
 * A second mode measures push_rx's own ceiling: -L URL -b FILE posts FILE
 * to URL over C keep-alive connections (libcurl multi) for D seconds and
 * prints posts/s and objects/s (the receiver runs as its own process).
 *
 * usage: push_rx [-p PORT] [-c CERT -k KEY] [-o STATS] [-K HUBCA]
 *            [-a USER:PASS] [-t NAME=URL]... [-n N -u URL [-i]]
 *        push_rx -L URL -b FILE [-K CA] [-C CONNS] [-d SECONDS]
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ctihub/jscan.h"

#include "bench.h"

#define NAME_MAX_LEN 64
#define MAX_SUBS     256
#define HANDSHAKES   64 /* idle connections opening at once, at most */

enum kind { K_HOOK, K_TAXII, K_STREAM };
static const char *kind_names[] = {"hook", "taxii", "stream"};

struct sub {
	char name[NAME_MAX_LEN];
	int kind;
	uint64_t objects, deletes, requests, bytes;
	double first, last;
};

enum sstate {
	S_CONNECTING,
	S_HEAD,
	S_CHUNK_SIZE,
	S_CHUNK_DATA,
	S_CHUNK_END,
	S_RAW
};

struct stream {
	struct sub *sub; /* NULL: an idle one, not counted */
	struct bufferevent *bev;
	struct evbuffer *sse; /* body bytes not yet cut into lines */
	struct event *retry;
	int state;
	int chunked;
	int plain; /* -i: TLS only, no request */
	int open;  /* got its 200 (or, plain, its handshake) */
	size_t chunk_left;
	char last_id[80];
	char *auth; /* base64 of user:pass */
	uint64_t heartbeats, reconnects;
};

static struct event_base *base;
static SSL_CTX *srv_ctx, *cli_ctx;
static struct sub subs[MAX_SUBS];
static int nsubs;
static struct stream *streams;
static int nstreams, nidle, idle_next, idle_pending, idle_open, idle_closed;
static const char *stats_file;
static const struct timeval ms200 = {0, 200000};
static struct sockaddr_storage hub_sa;
static socklen_t hub_salen;
static char hub_host[300], hub_ip[64], hub_path[1024];
static char (*stream_paths)[1024];
/* commit -> delivery seen here, per kind: now - the event's cursor */
static double *lat[3];
static size_t nlat[3], caplat[3];

static double
wall(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct sub *
sub_get(const char *name, size_t len, int kind)
{
	int i;

	if (len == 0 || len >= NAME_MAX_LEN)
		return NULL;
	for (i = 0; i < nsubs; i++)
		if (subs[i].kind == kind &&
		    strncmp(subs[i].name, name, len) == 0 &&
		    subs[i].name[len] == '\0')
			return &subs[i];
	if (nsubs == MAX_SUBS)
		return NULL;
	memcpy(subs[nsubs].name, name, len);
	subs[nsubs].name[len] = '\0';
	subs[nsubs].kind = kind;
	return &subs[nsubs++];
}

/* A cursor, "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" at p (n bytes), in
 * CLOCK_REALTIME seconds; 0 when it is not one. */
static double
cursor_time(const char *p, size_t n)
{
	char buf[40];
	struct tm tm;
	double frac = 0, scale = 0.1;
	size_t i;

	if (n < 20 || n >= sizeof(buf))
		return 0;
	memcpy(buf, p, n);
	buf[n] = '\0';
	memset(&tm, 0, sizeof(tm));
	if (sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
		&tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if (buf[19] == '.')
		for (i = 20; i < n && isdigit((unsigned char)buf[i]); i++) {
			frac += (buf[i] - '0') * scale;
			scale /= 10;
		}
	return (double)timegm(&tm) + frac;
}

/* One commit -> delivery sample for kind, from the cursor at p. */
static void
lat_add(int kind, const char *p, size_t n)
{
	double t = cursor_time(p, n);

	if (t == 0)
		return;
	if (nlat[kind] == caplat[kind]) {
		caplat[kind] = caplat[kind] ? caplat[kind] * 2 : 4096;
		lat[kind] = realloc(lat[kind], caplat[kind] * sizeof(double));
	}
	lat[kind][nlat[kind]++] = wall() - t;
}

static void
sub_count(struct sub *s, uint64_t objects, uint64_t deletes)
{
	double now;

	if (objects + deletes == 0)
		return;
	now = wall();
	if (s->first == 0)
		s->first = now;
	s->last = now;
	s->objects += objects;
	s->deletes += deletes;
}

static void
stats_write(void)
{
	char tmp[4096];
	FILE *f;
	int i;

	if (stats_file == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", stats_file);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	for (i = 0; i < nsubs; i++)
		fprintf(f, "%s %s %llu %llu %llu %llu %.6f %.6f\n",
		    subs[i].name, kind_names[subs[i].kind],
		    (unsigned long long)subs[i].objects,
		    (unsigned long long)subs[i].deletes,
		    (unsigned long long)subs[i].requests,
		    (unsigned long long)subs[i].bytes, subs[i].first,
		    subs[i].last);
	if (nidle > 0)
		fprintf(f, "idle %d open %d closed %d\n", nidle, idle_open,
		    idle_closed);
	fclose(f);
	rename(tmp, stats_file);
}

/* The server side. */

static struct bufferevent *
srv_bevcb(struct event_base *b, void *arg)
{
	(void)arg;
	return bufferevent_openssl_socket_new(b, -1, SSL_new(srv_ctx),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static void
reply(struct evhttp_request *req, int code, const char *ctype, const char *body,
    size_t len)
{
	if (ctype != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", ctype);
	if (len > 0)
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	evhttp_send_reply(req, code, code == 202 ? "Accepted" : "OK", NULL);
}

#define TAXII_TYPE "application/taxii+json;version=2.1"

/* A complete status resource for n objects; the id carries n. */
static void
reply_status(struct evhttp_request *req, int code, uint64_t n)
{
	char body[512];
	int len;

	len = snprintf(body, sizeof(body),
	    "{\"id\":\"00000000-0000-4000-8000-%012llx\","
	    "\"status\":\"complete\",\"request_timestamp\":"
	    "\"2026-01-01T00:00:00.000000Z\",\"total_count\":%llu,"
	    "\"success_count\":%llu,\"failure_count\":0,"
	    "\"pending_count\":0}",
	    (unsigned long long)n, (unsigned long long)n,
	    (unsigned long long)n);
	reply(req, code, TAXII_TYPE, body, (size_t)len);
}

/* A webhook batch's end ("to", in its first KiB): its newest event. */
static void
hook_latency(const char *p, size_t n)
{
	const char *to, *end;

	if ((to = memmem(p, n < 1024 ? n : 1024, "\"to\":\"", 6)) == NULL)
		return;
	to += 6;
	if ((end = memchr(to, '"', (size_t)(p + n - to))) != NULL)
		lat_add(K_HOOK, to, (size_t)(end - to));
}

/* Echoes {"challenge": ...} of a webhook.challenge body; 0 when the body is
 * not one. */
static int
hook_challenge(struct evhttp_request *req, const char *p, size_t n)
{
	json_t *j, *a;
	char *out;

	if (n > 4096 || memmem(p, n, "webhook.challenge", 17) == NULL)
		return 0;
	if ((j = json_loadb(p, n, 0, NULL)) == NULL)
		return 0;
	a = json_pack("{sO?}", "challenge", json_object_get(j, "challenge"));
	json_decref(j);
	if (a == NULL || !json_is_string(json_object_get(a, "challenge"))) {
		json_decref(a);
		return 0;
	}
	out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	reply(req, 200, "application/json", out, strlen(out));
	free(out);
	return 1;
}

/* The elements of the array whose '[' is at p[0], or 0. */
static uint64_t
array_count(const char *p, const char *end)
{
	uint64_t n = 0;
	int depth = 0, instr = 0, any = 0;

	for (p++; p < end; p++) {
		if (instr) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				instr = 0;
			continue;
		}
		switch (*p) {
		case '"':
			instr = 1;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth-- == 0)
				return any ? n + 1 : 0;
			break;
		case ',':
			if (depth == 0)
				n++;
			break;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			continue;
		}
		any = 1;
	}
	return 0;
}

/* The elements of the payload's "objects" array: the top-level one found
 * by framing (a TAXII envelope), or else the first member named "objects"
 * at any depth (an envelope wrapped in a webhook's {"data": ...}). */
static int
payload_count(const char *p, size_t n, uint64_t *out)
{
	struct jscan_doc d;
	const char *k, *end = p + n;
	char err[128];

	if (jscan_doc(p, n, &d, err, sizeof(err)) != 0) {
		fprintf(stderr, "push_rx: payload: %s\n", err);
		return -1;
	}
	*out = 0;
	if (d.objects_is_array) {
		*out = d.nobjects;
		return 0;
	}
	for (k = p;
	     (k = memmem(k, (size_t)(end - k), "\"objects\"", 9)) != NULL;
	     k += 9) {
		const char *v = k + 9;

		while (v < end && isspace((unsigned char)*v))
			v++;
		if (v == end || *v++ != ':')
			continue;
		while (v < end && isspace((unsigned char)*v))
			v++;
		if (v < end && *v == '[') {
			*out = array_count(v, end);
			break;
		}
	}
	return 0;
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *uri = evhttp_request_get_uri(req), *name, *rest;
	size_t len = evbuffer_get_length(in), nl;
	const char *body;
	struct sub *s;
	uint64_t n = 0;
	int one = 1, kind;

	(void)arg;
	setsockopt(bufferevent_getfd(evhttp_connection_get_bufferevent(c)),
	    IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (strncmp(uri, "/hook/", 6) == 0)
		kind = K_HOOK, name = uri + 6;
	else if (strncmp(uri, "/taxii/", 7) == 0)
		kind = K_TAXII, name = uri + 7;
	else if (strcmp(uri, "/taxii2/") == 0) {
		static const char d[] = "{\"title\":\"push_rx\"}";

		reply(req, 200, TAXII_TYPE, d, sizeof(d) - 1);
		return;
	} else {
		evhttp_send_error(req, 404, NULL);
		return;
	}
	nl = strcspn(name, "/?");
	rest = name + nl;
	if ((s = sub_get(name, nl, kind)) == NULL) {
		evhttp_send_error(req, 404, NULL);
		return;
	}
	s->requests++;
	s->bytes += len;
	body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	if (kind == K_HOOK) {
		if (m != EVHTTP_REQ_POST) {
			evhttp_send_error(req, 405, NULL);
			return;
		}
		if (hook_challenge(req, body, len))
			return;
		if (payload_count(body, len, &n) != 0) {
			evhttp_send_error(req, 400, NULL);
			return;
		}
		sub_count(s, n, 0);
		if (n > 0)
			hook_latency(body, len);
		reply(req, 200, NULL, NULL, 0);
		return;
	}
	/* TAXII: by the path's last segments */
	if (m == EVHTTP_REQ_POST && strstr(rest, "/objects/") != NULL) {
		if (payload_count(body, len, &n) != 0) {
			evhttp_send_error(req, 400, NULL);
			return;
		}
		sub_count(s, n, 0);
		reply_status(req, 202, n);
	} else if (m == EVHTTP_REQ_DELETE &&
	    strstr(rest, "/objects/") != NULL) {
		sub_count(s, 0, 1);
		reply(req, 200, NULL, NULL, 0);
	} else if (m == EVHTTP_REQ_GET &&
	    (body = strstr(rest, "/status/")) != NULL) {
		n = strtoull(body + 8 + 24, NULL, 16);
		reply_status(req, 200, n);
	} else if (m == EVHTTP_REQ_GET && strstr(rest, "/collections/")) {
		static const char col[] =
		    "{\"id\":\"push-rx\",\"title\":\"push_rx\","
		    "\"can_read\":true,\"can_write\":true,"
		    "\"media_types\":[\"application/stix+json;version=2.1\"]}";

		reply(req, 200, TAXII_TYPE, col, sizeof(col) - 1);
	} else if (m == EVHTTP_REQ_GET) {
		static const char root[] =
		    "{\"title\":\"push_rx\",\"versions\":"
		    "[\"application/taxii+json;version=2.1\"],"
		    "\"max_content_length\":104857600}";

		reply(req, 200, TAXII_TYPE, root, sizeof(root) - 1);
	} else
		evhttp_send_error(req, 405, NULL);
}

/* The SSE clients. */

static void stream_connect(struct stream *);
static char *base64(const char *);
static void idle_more(void);

static void
stream_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stream_connect(arg);
}

static void
stream_close(struct stream *st, const char *why)
{
	int was_open = st->open;

	if (st->bev != NULL)
		bufferevent_free(st->bev);
	st->bev = NULL;
	st->open = 0;
	if (st->sub == NULL) {
		if (!was_open)
			idle_pending--;
		else
			idle_open--;
		idle_closed++;
		fprintf(stderr, "push_rx: idle connection closed: %s\n", why);
		idle_more();
		return;
	}
	fprintf(stderr, "push_rx: stream %s closed (%s), reconnecting\n",
	    st->sub->name, why);
	st->reconnects++;
	if (st->retry == NULL)
		st->retry = evtimer_new(base, stream_retry_cb, st);
	evtimer_add(st->retry, &ms200);
}

/* One SSE line (without its end). */
static void
sse_line(struct stream *st, const char *l, size_t n)
{
	if (st->sub == NULL)
		return;
	if (n >= 7 && memcmp(l, "event: ", 7) == 0) {
		l += 7, n -= 7;
		if ((n == 6 && memcmp(l, "object", 6) == 0) ||
		    (n == 6 && memcmp(l, "revoke", 6) == 0))
			sub_count(st->sub, 1, 0);
		else if (n == 6 && memcmp(l, "delete", 6) == 0)
			sub_count(st->sub, 0, 1);
		else
			return;
		lat_add(K_STREAM, st->last_id, strlen(st->last_id));
	} else if (n >= 4 && memcmp(l, "id: ", 4) == 0) {
		n -= 4;
		if (n >= sizeof(st->last_id))
			n = sizeof(st->last_id) - 1;
		memcpy(st->last_id, l + 4, n);
		st->last_id[n] = '\0';
	} else if (n > 0 && l[0] == ':')
		st->heartbeats++;
}

/* Cuts the body bytes gathered so far into lines: only each line's head
 * is copied out (a data line, the object itself, is skipped). */
static void
sse_lines(struct stream *st)
{
	struct evbuffer_ptr p;
	size_t eol, n;
	char head[96];

	for (;;) {
		p = evbuffer_search_eol(st->sse, NULL, &eol, EVBUFFER_EOL_LF);
		if (p.pos < 0)
			return;
		n = (size_t)p.pos < sizeof(head) ? (size_t)p.pos : sizeof(head);
		evbuffer_copyout(st->sse, head, n);
		if (n > 0 && head[n - 1] == '\r' && (size_t)p.pos == n)
			n--;
		sse_line(st, head, n);
		evbuffer_drain(st->sse, (size_t)p.pos + eol);
	}
}

/* The response head: 1 when complete and good, 0 for more, -1 bad. */
static int
stream_head(struct stream *st, struct evbuffer *in)
{
	char *l;
	size_t n;

	while ((l = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		if (st->state == S_CONNECTING) {
			/* the status line */
			if (strncmp(l, "HTTP/1.1 200", 12) != 0) {
				fprintf(stderr, "push_rx: stream: %s\n", l);
				free(l);
				return -1;
			}
			st->state = S_HEAD;
		} else if (n == 0) {
			free(l);
			st->state = st->chunked ? S_CHUNK_SIZE : S_RAW;
			return 1;
		} else if (strncasecmp(l, "transfer-encoding:", 18) == 0 &&
		    strstr(l + 18, "chunked") != NULL)
			st->chunked = 1;
		free(l);
	}
	return 0;
}

static void
stream_read(struct bufferevent *bev, void *arg)
{
	struct stream *st = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *l;
	size_t n;
	int r;

	if (st->plain) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (st->state == S_CONNECTING || st->state == S_HEAD) {
		if ((r = stream_head(st, in)) < 0) {
			stream_close(st, "bad response");
			return;
		}
		if (r == 0)
			return;
		if (st->sub == NULL) {
			idle_pending--;
			idle_open++;
			idle_more();
		} else
			fprintf(stderr, "stream %s open\n", st->sub->name);
		st->open = 1;
	}
	for (;;) {
		switch (st->state) {
		case S_RAW:
			evbuffer_add_buffer(st->sse, in);
			sse_lines(st);
			return;
		case S_CHUNK_SIZE:
			if ((l = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) ==
			    NULL)
				return;
			st->chunk_left = strtoul(l, NULL, 16);
			free(l);
			if (st->chunk_left == 0) {
				stream_close(st, "end of stream");
				return;
			}
			st->state = S_CHUNK_DATA;
			break;
		case S_CHUNK_DATA:
			if ((n = evbuffer_get_length(in)) == 0)
				return;
			if (n > st->chunk_left)
				n = st->chunk_left;
			evbuffer_remove_buffer(in, st->sse, n);
			st->chunk_left -= n;
			sse_lines(st);
			if (st->chunk_left == 0)
				st->state = S_CHUNK_END;
			break;
		case S_CHUNK_END:
			if ((l = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) ==
			    NULL)
				return;
			free(l);
			st->state = S_CHUNK_SIZE;
			break;
		}
	}
}

static void
stream_event(struct bufferevent *bev, short what, void *arg)
{
	struct stream *st = arg;
	struct evbuffer *out = bufferevent_get_output(bev);
	const char *path;

	if (what & BEV_EVENT_CONNECTED) {
		if (st->plain) {
			idle_pending--;
			idle_open++;
			st->open = 1;
			idle_more();
			return;
		}
		path = st->sub != NULL ? stream_paths[st - streams] : hub_path;
		evbuffer_add_printf(out,
		    "GET %s HTTP/1.1\r\nHost: %s\r\n"
		    "Accept: text/event-stream\r\n"
		    "Authorization: Basic %s\r\n",
		    path, hub_host, st->auth);
		if (st->last_id[0] != '\0')
			evbuffer_add_printf(
			    out, "Last-Event-ID: %s\r\n", st->last_id);
		evbuffer_add(out, "\r\n", 2);
		return;
	}
	stream_close(st, (what & BEV_EVENT_EOF) ? "EOF" : "error");
}

static void
stream_connect(struct stream *st)
{
	SSL *ssl = SSL_new(cli_ctx);
	int one = 1;

	st->state = S_CONNECTING;
	st->chunked = 0;
	st->open = 0;
	if (st->sse == NULL)
		st->sse = evbuffer_new();
	evbuffer_drain(st->sse, evbuffer_get_length(st->sse));
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), hub_ip);
	st->bev = bufferevent_openssl_socket_new(
	    base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(st->bev, 1);
	bufferevent_setcb(st->bev, stream_read, NULL, stream_event, st);
	bufferevent_enable(st->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(
		st->bev, (struct sockaddr *)&hub_sa, (int)hub_salen) != 0) {
		stream_close(st, "connect");
		return;
	}
	setsockopt(bufferevent_getfd(st->bev), IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one));
}

/* Opens idle connections, HANDSHAKES at a time, until nidle are open. */
static void
idle_more(void)
{
	while (idle_next < nstreams && idle_pending < HANDSHAKES) {
		idle_pending++;
		stream_connect(&streams[idle_next++]);
	}
}

/* URL -> hub_sa, hub_host, the path (with its query) in path, and the
 * base64 of the URL's user:pass (or else of dflt), caller frees. */
static int
parse_url(
    const char *url, char *path, size_t pathlen, const char *dflt, char **auth)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	const char *h, *p, *q, *ui;
	char ip[64];
	struct sockaddr_in *s4 = (struct sockaddr_in *)&hub_sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&hub_sa;
	int port;

	if (u == NULL || (h = evhttp_uri_get_host(u)) == NULL ||
	    (port = evhttp_uri_get_port(u)) <= 0) {
		fprintf(stderr, "push_rx: bad URL %s\n", url);
		return -1;
	}
	memset(&hub_sa, 0, sizeof(hub_sa));
	snprintf(hub_ip, sizeof(hub_ip), "%s", h + (*h == '['));
	hub_ip[strcspn(hub_ip, "]")] = '\0';
	snprintf(ip, sizeof(ip), "%s", hub_ip);
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		hub_salen = sizeof(*s4);
		snprintf(hub_host, sizeof(hub_host), "%s:%d", h, port);
	} else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		hub_salen = sizeof(*s6);
		snprintf(hub_host, sizeof(hub_host), "[%s]:%d", ip, port);
	} else {
		fprintf(stderr, "push_rx: %s: an IP address, please\n", h);
		return -1;
	}
	p = evhttp_uri_get_path(u);
	q = evhttp_uri_get_query(u);
	snprintf(path, pathlen, "%s%s%s", p != NULL && *p ? p : "/",
	    q != NULL ? "?" : "", q != NULL ? q : "");
	ui = evhttp_uri_get_userinfo(u);
	*auth = base64(ui != NULL ? ui : dflt);
	evhttp_uri_free(u);
	return 0;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	stats_write();
}

static void
on_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

/* The load loop: -L URL -b FILE. */

struct poster {
	CURL *c;
	struct curl_slist *h;
};

static int
load(const char *url, const char *file, const char *ca, int conns, double secs)
{
	struct bench_file bf;
	struct poster *p = calloc((size_t)conns, sizeof(*p));
	CURLM *m = curl_multi_init();
	uint64_t posts = 0, fails = 0, nobj;
	double t0, dt;
	FILE *f;
	int i, running;
	long sz;

	if ((f = fopen(file, "rb")) == NULL) {
		perror(file);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	bf.len = (size_t)sz;
	bf.data = malloc(bf.len + 1);
	if (fread(bf.data, 1, bf.len, f) != bf.len)
		return 1;
	fclose(f);
	if (payload_count(bf.data, bf.len, &nobj) != 0)
		return 1;
	for (i = 0; i < conns; i++) {
		p[i].c = bench_post_handle(url, ca, "push:rx", &p[i].h);
		curl_easy_setopt(p[i].c, CURLOPT_POSTFIELDS, bf.data);
		curl_easy_setopt(
		    p[i].c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bf.len);
		curl_easy_setopt(p[i].c, CURLOPT_PRIVATE, &p[i]);
		curl_multi_add_handle(m, p[i].c);
	}
	t0 = bench_now();
	do {
		CURLMsg *msg;
		int left;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			long code = 0;
			CURL *c = msg->easy_handle;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result == CURLE_OK && code / 100 == 2)
				posts++;
			else
				fails++;
			curl_multi_remove_handle(m, c);
			if (bench_now() - t0 < secs)
				curl_multi_add_handle(m, c);
		}
		curl_multi_poll(m, NULL, 0, 100, NULL);
	} while (running > 0 || bench_now() - t0 < secs);
	dt = bench_now() - t0;
	printf("push_rx ceiling: %.0f posts/s, %.0f objects/s, %.1f MB/s "
	       "(%d connections, %llu posts of %llu objects, %zu bytes "
	       "each, in %.2f s, %llu failed)\n",
	    (double)posts / dt, (double)(posts * nobj) / dt,
	    (double)(posts * bf.len) / dt / 1e6, conns,
	    (unsigned long long)posts, (unsigned long long)nobj, bf.len, dt,
	    (unsigned long long)fails);
	for (i = 0; i < conns; i++) {
		curl_easy_cleanup(p[i].c);
		curl_slist_free_all(p[i].h);
	}
	curl_multi_cleanup(m);
	free(p);
	free(bf.data);
	return fails > 0;
}

static char *
base64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

int
main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL, *hubca = NULL, *auth = "";
	const char *idle_url = NULL, *load_url = NULL, *load_file = NULL;
	const char *tnames[MAX_SUBS], *turls[MAX_SUBS];
	struct evhttp *http = NULL;
	struct evhttp_bound_socket *bs;
	struct event *ev_tick, *ev_int, *ev_term;
	char *a, *idle_auth = NULL;
	int ch, port = 0, nt = 0, plain = 0, conns = 8, i;
	double secs = 5;

	while ((ch = getopt(argc, argv, "p:c:k:o:K:a:t:n:u:iL:b:C:d:")) != -1) {
		switch (ch) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'o':
			stats_file = optarg;
			break;
		case 'K':
			hubca = optarg;
			break;
		case 'a':
			auth = optarg;
			break;
		case 't':
			if (nt == MAX_SUBS || strchr(optarg, '=') == NULL)
				return 2;
			tnames[nt] = optarg;
			turls[nt++] = strchr(optarg, '=') + 1;
			break;
		case 'n':
			nidle = atoi(optarg);
			break;
		case 'u':
			idle_url = optarg;
			break;
		case 'i':
			plain = 1;
			break;
		case 'L':
			load_url = optarg;
			break;
		case 'b':
			load_file = optarg;
			break;
		case 'C':
			conns = atoi(optarg);
			break;
		case 'd':
			secs = atof(optarg);
			break;
		default:
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (load_url != NULL) {
		if (load_file == NULL || conns < 1)
			return 2;
		curl_global_init(CURL_GLOBAL_ALL);
		return load(load_url, load_file, hubca, conns, secs);
	}
	if ((nidle > 0) != (idle_url != NULL) ||
	    (cert == NULL) != (key == NULL))
		return 2;
	base = event_base_new();
	if (cert != NULL) {
		srv_ctx = SSL_CTX_new(TLS_server_method());
		SSL_CTX_set_min_proto_version(srv_ctx, TLS1_2_VERSION);
		SSL_CTX_set_options(srv_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
		if (SSL_CTX_use_certificate_chain_file(srv_ctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(
			srv_ctx, key, SSL_FILETYPE_PEM) != 1) {
			ERR_print_errors_fp(stderr);
			return 1;
		}
		http = evhttp_new(base);
		evhttp_set_bevcb(http, srv_bevcb, NULL);
		evhttp_set_gencb(http, on_request, NULL);
		evhttp_set_max_body_size(http, 256 << 20);
		evhttp_set_allowed_methods(
		    http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
		if ((bs = evhttp_bind_socket_with_handle(
			 http, "127.0.0.1", (uint16_t)port)) == NULL) {
			fprintf(stderr, "push_rx: cannot listen on %d\n", port);
			return 1;
		}
		{
			struct sockaddr_in sa;
			socklen_t sl = sizeof(sa);

			getsockname(evhttp_bound_socket_get_fd(bs),
			    (struct sockaddr *)&sa, &sl);
			port = ntohs(sa.sin_port);
		}
	}
	if (nt > 0 || nidle > 0) {
		cli_ctx = SSL_CTX_new(TLS_client_method());
		SSL_CTX_set_options(cli_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
		if (hubca != NULL) {
			if (SSL_CTX_load_verify_locations(
				cli_ctx, hubca, NULL) != 1) {
				ERR_print_errors_fp(stderr);
				return 1;
			}
			SSL_CTX_set_verify(cli_ctx, SSL_VERIFY_PEER, NULL);
		}
		nstreams = nt + nidle;
		streams = calloc((size_t)nstreams, sizeof(*streams));
		stream_paths = calloc((size_t)nt + 1, sizeof(*stream_paths));
		for (i = 0; i < nt; i++) {
			if (parse_url(turls[i], stream_paths[i],
				sizeof(stream_paths[i]), auth, &a) != 0)
				return 2;
			streams[i].auth = a;
			streams[i].sub = sub_get(tnames[i],
			    (size_t)(turls[i] - 1 - tnames[i]), K_STREAM);
			if (streams[i].sub == NULL)
				return 2;
			stream_connect(&streams[i]);
		}
		if (nidle > 0) {
			/* all streams go to one hub: the last URL wins */
			if (parse_url(idle_url, hub_path, sizeof(hub_path),
				auth, &idle_auth) != 0)
				return 2;
			for (i = nt; i < nstreams; i++) {
				streams[i].plain = plain;
				streams[i].auth = idle_auth;
			}
			idle_next = nt;
			idle_more();
		}
	}
	ev_tick = event_new(base, -1, EV_PERSIST, tick, NULL);
	event_add(ev_tick, &ms200);
	ev_int = evsignal_new(base, SIGINT, on_signal, NULL);
	ev_term = evsignal_new(base, SIGTERM, on_signal, NULL);
	event_add(ev_int, NULL);
	event_add(ev_term, NULL);
	fprintf(stderr, "ready %d\n", port);
	event_base_dispatch(base);
	stats_write();
	for (i = 0; i < nsubs; i++)
		printf("%s %s: %llu objects, %llu deletions, %llu requests, "
		       "%.1f MB\n",
		    subs[i].name, kind_names[subs[i].kind],
		    (unsigned long long)subs[i].objects,
		    (unsigned long long)subs[i].deletes,
		    (unsigned long long)subs[i].requests,
		    (double)subs[i].bytes / 1e6);
	for (i = 0; i < 3; i++) {
		if (nlat[i] > 0)
			printf("latency %s: commit -> delivery seen here, %zu "
			       "samples: p50 %.3f s, p99 %.3f s, max %.3f s\n",
			    kind_names[i], nlat[i],
			    bench_pct(lat[i], nlat[i], 50),
			    bench_pct(lat[i], nlat[i], 99),
			    bench_pct(lat[i], nlat[i], 100));
		free(lat[i]);
	}
	for (i = 0; i < nstreams; i++) {
		if (i < nt)
			free(streams[i].auth);
		if (streams[i].bev != NULL)
			bufferevent_free(streams[i].bev);
		if (streams[i].sse != NULL)
			evbuffer_free(streams[i].sse);
		if (streams[i].retry != NULL)
			event_free(streams[i].retry);
	}
	free(streams);
	free(stream_paths);
	event_free(ev_tick);
	event_free(ev_int);
	event_free(ev_term);
	if (http != NULL)
		evhttp_free(http);
	SSL_CTX_free(srv_ctx);
	SSL_CTX_free(cli_ctx);
	free(idle_auth);
	event_base_free(base);
	return 0;
}
