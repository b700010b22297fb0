/*
 * http.c -- the HTTP workers: each a thread with its own event base and
 * evhttp, accepting on the listening sockets all workers share, speaking
 * TLS through OpenSSL bufferevents (the operations worker: plain HTTP on
 * metrics_listen).  Owns the request life cycle: the request handlers see
 * (handler.h), its dispatch through the listener's route table (route.c),
 * exactly one send of the answer the handler set (whole, or streamed as
 * the client reads it), the access-log line and the request metrics; the
 * hand-off of requests deferred to another thread; and the configuration
 * snapshot each worker receives by message.  What happens on a connection
 * before and around a request (TLS, deadlines, limits) is conn.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>

#include "ctihub/alloc.h"
#include "ctihub/log.h"
#include "ctihub/metrics.h"
#include "ctihub/tstamp.h"

#include "transport.h"
#include "writer.h"

static void *worker_main(void *);
static void on_request(struct evhttp_request *, void *);
static void on_wake(evutil_socket_t, short, void *);
static void on_stop(evutil_socket_t, short, void *);
static void on_drain(evutil_socket_t, short, void *);
static void on_reconf(evutil_socket_t, short, void *);
static void settle(struct xfer *);
static void on_streams(evutil_socket_t, short, void *);
static void stream_produce(struct xfer *);

/* While stopping, a connection with nothing parked is closed after this
 * long without traffic: a request being sent keeps it open (and gets a
 * 503), an idle keep-alive connection goes.  shutdown_timeout bounds the
 * whole drain. */
#define DRAIN_IDLE_MS 1000
/* seconds of silence after which the operations listener closes a
 * connection (at most request_timeout) */
#define OPS_TIMEOUT   10
#define DRAIN_TICK_MS 50

#define X(r) ((struct xfer *)(void *)(r))

static int
method_of(struct evhttp_request *req, const char **name)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		*name = "GET";
		return HTTP_GET;
	case EVHTTP_REQ_POST:
		*name = "POST";
		return HTTP_POST;
	case EVHTTP_REQ_DELETE:
		*name = "DELETE";
		return HTTP_DELETE;
	case EVHTTP_REQ_HEAD:
		*name = "HEAD";
		return HTTP_HEAD;
	case EVHTTP_REQ_PUT:
		*name = "PUT";
		return HTTP_OTHER;
	case EVHTTP_REQ_OPTIONS:
		*name = "OPTIONS";
		return HTTP_OTHER;
	case EVHTTP_REQ_PATCH:
		*name = "PATCH";
		return HTTP_OTHER;
	default:
		*name = "OTHER";
		return HTTP_OTHER;
	}
}

static size_t
header_bytes(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evkeyval *kv;
	size_t n = strlen(evhttp_request_get_uri(req));

	TAILQ_FOREACH(kv, h, next)
	n += strlen(kv->key) + strlen(kv->value) + 4;
	return n;
}

/* Two Content-Length fields that disagree: the length evhttp read by
 * (the first) is not the one a proxy in front may have used (RFC 9112
 * 6.3), so the request is refused and the connection closed. */
static int
length_conflict(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evkeyval *kv;
	const char *first = NULL;

	TAILQ_FOREACH(kv, h, next)
	{
		if (strcasecmp(kv->key, "Content-Length") != 0)
			continue;
		if (first == NULL)
			first = kv->value;
		else if (strcmp(first, kv->value) != 0)
			return 1;
	}
	return 0;
}

/* The request as handlers see it (handler.h), from evhttp's. */
static void
request_init(struct xfer *x, struct worker *w, struct evhttp_request *req)
{
	struct request *r = &x->r;
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	x->req = req;
	x->evcon = evhttp_request_get_connection(req);
	x->w = w;
	r->t0 = tstamp_now();
	r->rt = runtime_ref(w->rt);
	r->svc = &w->svc;
	r->table = w->table;
	r->method = method_of(req, &r->method_name);
	r->target = evhttp_request_get_uri(req);
	r->path_raw = uri ? evhttp_uri_get_path(uri) : NULL;
	r->path.query = uri ? evhttp_uri_get_query(uri) : NULL;
	r->accept = evhttp_find_header(h, "Accept");
	r->content_type = evhttp_find_header(h, "Content-Type");
	r->if_none_match = evhttp_find_header(h, "If-None-Match");
	r->authorization = evhttp_find_header(h, "Authorization");
	r->host = evhttp_find_header(h, "Host");
	r->last_event_id = evhttp_find_header(h, "Last-Event-ID");
	r->accept_encoding = evhttp_find_header(h, "Accept-Encoding");
	r->http10 = conn_http10(x->evcon);
	r->body_len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	evhttp_connection_get_peer(x->evcon, &addr, &port);
	snprintf(r->peer, sizeof(r->peer), "%s", addr ? addr : "-");
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	struct xfer *x;
	struct request *r;

	/* a TLS port must never serve plain text (see conn_new) */
	if (!w->ops && conn_dispatched(req) == -1)
		fatalx("request on a connection without TLS");
	if ((x = hub_calloc(1, sizeof(*x))) == NULL) {
		evhttp_send_error(req, 503, "out of memory");
		return;
	}
	request_init(x, w, req);
	r = &x->r;
	if (w->stopping) {
		/* shutting down: an answer, not a dropped connection */
		res_header(r, "Retry-After", "5");
		taxii_error(r, 503, "Service Unavailable",
		    "the hub is shutting down; retry in a moment");
	} else if (header_bytes(req) > (size_t)r->rt->conf->max_header_size)
		taxii_error(r, 431, "Request Header Fields Too Large",
		    "the request headers exceed %lld bytes",
		    r->rt->conf->max_header_size);
	else if (length_conflict(req)) {
		res_header(r, "Connection", "close");
		taxii_error(r, 400, "Bad Request",
		    "Content-Length is given twice with different values");
	} else
		route_dispatch(r);
	settle(x);
}

void
http_access_log(struct worker *w, const char *peer, const char *member,
    const char *method, const char *uri, int status, size_t bytes, int64_t t0)
{
	char ts[TSTAMP_LEN], line[2600];
	int64_t now = tstamp_now();
	int n, fd = w->rt->alog_fd;

	if (fd < 0)
		return;
	tstamp_format(now, 3, ts);
	n = snprintf(line, sizeof(line), "%s %s %s %s %.2048s %d %zu %.3fms\n",
	    ts, peer, member ? member : "-", method ? method : "-",
	    uri ? uri : "-", status, bytes, (double)(now - t0) / 1000.0);
	if (n > 0 && (size_t)n >= sizeof(line)) {
		line[sizeof(line) - 2] = '\n';
		n = sizeof(line) - 1;
	}
	if (n > 0 && write(fd, line, (size_t)n) < 0)
		log_debug("access log: %s", strerror(errno));
}

/* The answer went out (or its client went away): the log line and the
 * metrics of the request. */
static void
observe(struct xfer *x, int status, size_t bytes)
{
	struct request *r = &x->r;

	http_access_log(x->w, r->peer, r->member ? r->member->id : NULL,
	    r->method_name, r->target, status, bytes, r->t0);
	if (r->svc->metrics != NULL)
		metrics_request(r->svc->metrics,
		    route_index(r->table, r->route),
		    metrics_method_of(r->method_name), status,
		    tstamp_now() - r->t0, r->body_len, bytes);
}

static void
xfer_free(struct xfer *x)
{
	if (x->yield != NULL)
		event_free(x->yield);
	buf_clear(&x->r.res.body);
	runtime_unref(x->r.rt);
	hub_free(x);
}

/* A body's storage into the worker's pool: 1, or 0 when it is full. */
static int
pool_put(struct worker *w, char *p)
{
	if (w->npool == 8)
		return 0;
	w->pool[w->npool] = p;
	w->poolcap[w->npool] = malloc_usable_size(p);
	w->npool++;
	return 1;
}

/* The body was sent: back to its worker's pool (or freed). */
static void
free_body(const void *data, size_t len, void *arg)
{
	struct worker *w = arg;
	char *p = (char *)(uintptr_t)data;

	(void)len;
	if (w == NULL || !pool_put(w, p))
		hub_free(p);
}

void
http_body(struct request *r, struct buf *b, size_t size)
{
	struct worker *w = X(r)->w;
	int i;

	for (i = 0; i < w->npool; i++)
		if (w->poolcap[i] > size) {
			buf_clear(b);
			b->data = w->pool[i];
			b->cap = w->poolcap[i];
			w->npool--;
			w->pool[i] = w->pool[w->npool];
			w->poolcap[i] = w->poolcap[w->npool];
			return;
		}
	buf_reserve(b, size);
}

/* A body buffer reserved but left empty: back to the pool (or freed). */
static void
body_back(struct worker *w, struct buf *b)
{
	if (b->data != NULL && b->len == 0 && !buf_failed(b) &&
	    pool_put(w, b->data)) {
		memset(b, 0, sizeof(*b));
		return;
	}
	buf_clear(b);
}

/* --- the answer, as handlers give it -------------------------------- */

/* A second answer to one request is a bug of the handler: the first
 * stands. */
static int
answered(struct request *r)
{
	if (!r->res.set)
		return 0;
	log_warnx("bug: a second answer (%d) to %s %s", r->res.status,
	    r->method_name, r->target ? r->target : "-");
	return 1;
}

void
http_reply(struct request *r, int status, struct buf *body)
{
	if (answered(r))
		return;
	r->res.set = 1;
	r->res.status = status;
	if (body != NULL) {
		buf_clear(&r->res.body);
		r->res.body = *body;
		memset(body, 0, sizeof(*body));
	}
}

void
res_type(struct request *r, const char *ctype)
{
	r->res.ctype = ctype;
}

void
res_header(struct request *r, const char *name, const char *value)
{
	struct response *res = &r->res;

	if (res->nhdr == RESPONSE_MAX_HEADERS) {
		log_warnx("bug: more than %d headers in an answer",
		    RESPONSE_MAX_HEADERS);
		return;
	}
	res->hdr[res->nhdr].name = name;
	snprintf(
	    res->hdr[res->nhdr].value, sizeof(res->hdr[0].value), "%s", value);
	res->nhdr++;
}

void
http_stream(struct request *r, int status, struct buf *first,
    int (*more)(struct request *, struct buf *, void *), void (*done)(void *),
    void *arg)
{
	if (answered(r)) {
		done(arg);
		return;
	}
	http_reply(r, status, first);
	r->res.more = more;
	r->res.more_done = done;
	r->res.more_arg = arg;
}

void
taxii_error_json(struct buf *b, int status, const char *title, const char *desc)
{
	buf_adds(b, "{\"title\":");
	buf_add_jstr(b, title, strlen(title));
	buf_adds(b, ",\"description\":");
	buf_add_jstr(b, desc, strlen(desc));
	buf_addf(b, ",\"http_status\":\"%d\"}", status);
}

void
taxii_error(
    struct request *r, int status, const char *title, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	char desc[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	taxii_error_json(&b, status, title, desc);
	if (buf_failed(&b))
		buf_reset(&b);
	res_type(r, TAXII_MEDIA);
	http_reply(r, status, &b);
	buf_clear(&b);
}

void
http_park(struct request *r)
{
	struct xfer *x = X(r);

	x->parked = 1;
	x->w->inflight++;
	if (x->req != NULL)
		conn_park(x->evcon, x);
}

void
http_complete(struct request *r)
{
	struct xfer *x = X(r);
	struct worker *w = x->w;

	pthread_mutex_lock(&w->lock);
	TAILQ_INSERT_TAIL(&w->done, x, entry);
	pthread_mutex_unlock(&w->lock);
	event_active(w->wake, EV_READ, 0);
}

struct http_body *
http_take_body(struct request *r)
{
	struct xfer *x = X(r);
	struct evbuffer *b;

	if (x->req == NULL || (b = evbuffer_new()) == NULL)
		return NULL;
	/* moves the chains, copies nothing */
	if (evbuffer_add_buffer(b, evhttp_request_get_input_buffer(x->req)) ==
	    -1) {
		evbuffer_free(b);
		return NULL;
	}
	return (struct http_body *)(void *)b;
}

int
http_body_copy(struct http_body *hb, char *dst, size_t len)
{
	return evbuffer_remove((struct evbuffer *)(void *)hb, dst, len) ==
		(int)len
	    ? 0
	    : -1;
}

void
http_body_free(struct http_body *hb)
{
	if (hb != NULL)
		evbuffer_free((struct evbuffer *)(void *)hb);
}

SSL *
http_tls(struct request *r)
{
	struct xfer *x = X(r);

	if (x->w->ops || x->evcon == NULL)
		return NULL;
	return bufferevent_openssl_get_ssl(
	    evhttp_connection_get_bufferevent(x->evcon));
}

/* --- the one send ---------------------------------------------------- */

static void
send_headers(struct xfer *x)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(x->req);
	const struct response *res = &x->r.res;
	int i;

	evhttp_add_header(
	    h, "Content-Type", res->ctype ? res->ctype : TAXII_MEDIA);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	for (i = 0; i < res->nhdr; i++)
		evhttp_add_header(h, res->hdr[i].name, res->hdr[i].value);
	if (x->w->stopping) /* the last answer on this connection */
		evhttp_add_header(h, "Connection", "close");
}

/* Hands a built body to evbuffer `out` without a copy (the storage goes
 * back to the worker's pool once sent). */
static void
body_out(struct worker *w, struct evbuffer *out, struct buf *body)
{
	size_t len;
	char *data = buf_detach(body, &len);

	if (evbuffer_add_reference(out, data, len, free_body, w) == -1) {
		evbuffer_add(out, data, len);
		hub_free(data);
	}
}

/* A whole answer. */
static void
send_whole(struct xfer *x)
{
	struct response *res = &x->r.res;
	size_t n = res->body.len;

	send_headers(x);
	if (x->r.method == HTTP_HEAD) {
		/* evhttp would send a body given for HEAD; send the length */
		char len[24];

		snprintf(len, sizeof(len), "%zu", n);
		evhttp_add_header(evhttp_request_get_output_headers(x->req),
		    "Content-Length", len);
	} else if (n > 0)
		body_out(x->w, evhttp_request_get_output_buffer(x->req),
		    &res->body); /* no copy */
	observe(x, res->status, n);
	conn_park(x->evcon, NULL);
	evhttp_send_reply(x->req, res->status, NULL, NULL);
	xfer_free(x);
}

/* The end of a streamed answer, however it ends (the request is still
 * valid: evhttp frees it after its close callback); frees x. */
static void
stream_end(struct xfer *x)
{
	struct worker *w = x->w;

	if (x->sleeping)
		TAILQ_REMOVE(&w->sleepers, x, sleep_entry);
	x->sleeping = 0;
	atomic_fetch_sub(&w->nstreams, 1);
	observe(x, x->r.res.status, x->sent);
	x->r.res.more_done(x->r.res.more_arg);
	xfer_free(x);
}

/* Cuts a streamed answer short: the connection goes, http_conn_gone
 * ends the answer. */
static void
stream_cut(struct xfer *x)
{
	log_warnx("%s: a streamed reply failed: connection cut", x->r.peer);
	evhttp_connection_free(x->evcon);
}

static void on_piece_sent(struct evhttp_connection *, void *);

/* Sends one piece (non-empty) of a streamed answer; on_piece_sent
 * follows once the connection has passed it on.  -1 when it was cut
 * instead. */
static int
stream_piece(struct xfer *x, struct buf *b)
{
	struct evbuffer *evb = evbuffer_new();

	if (evb == NULL) {
		stream_cut(x);
		return -1;
	}
	x->sent += b->len;
	x->piece = 1;
	x->last_out = tstamp_mono();
	body_out(x->w, evb, b);
	evhttp_send_reply_chunk_with_cb(x->req, evb, on_piece_sent, x);
	evbuffer_free(evb);
	return 0;
}

/* A live stream waits for news (HTTP_STREAM_WAIT). */
static void
stream_sleep(struct xfer *x)
{
	if (!x->live) {
		x->live = 1;
		conn_stream(x->evcon, 1);
	}
	if (!x->sleeping) {
		x->sleeping = 1;
		x->woken = 0;
		TAILQ_INSERT_TAIL(&x->w->sleepers, x, sleep_entry);
	}
}

static void
on_yield(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stream_produce(arg);
}

/* `more` made progress but no bytes (a walk past entries the member may
 * not see): the next call comes after the loop has served its other
 * connections, so one answer never holds the worker for a whole walk.
 * -1 when the event could not be made (the answer is cut). */
static int
stream_yield(struct xfer *x)
{
	static const struct timeval now = {0, 0};

	if (x->yield == NULL &&
	    (x->yield = evtimer_new(x->w->base, on_yield, x)) == NULL)
		return -1;
	return evtimer_add(x->yield, &now);
}

/*
 * The next piece of a streamed answer: `more` appends it (a live stream
 * ended instead while stopping), it goes out, and on_piece_sent follows
 * once the connection has passed it on -- unless the stream waits for
 * news (asleep until http_stream_wake), it was the last, or it came out
 * empty (stream_yield).
 */
static void
stream_produce(struct xfer *x)
{
	struct evhttp_request *req = x->req;
	struct response *res = &x->r.res;
	struct worker *w = x->w;
	struct buf b = BUF_INIT;
	int rc;

	if (x->live && w->stopping)
		rc = 0; /* shutting down: the stream ends here */
	else {
		http_body(&x->r, &b, x->r.rt->conf->send_buffer);
		rc = res->more(&x->r, &b, res->more_arg);
		if (rc == 1 && b.len == 0 && !buf_failed(&b)) {
			body_back(w, &b);
			if (stream_yield(x) == -1)
				stream_cut(x);
			return;
		}
	}
	if (rc == -1 || buf_failed(&b)) {
		buf_clear(&b);
		stream_cut(x);
		return;
	}
	if (rc == HTTP_STREAM_WAIT && w->stopping)
		rc = 0; /* no news will be waited for */
	else if (rc == HTTP_STREAM_WAIT)
		stream_sleep(x);
	if (b.len > 0 && stream_piece(x, &b) == -1) {
		buf_clear(&b);
		return;
	}
	body_back(w, &b);
	if (rc == 0) {
		if (x->live)
			conn_stream(x->evcon, 0);
		conn_park(x->evcon, NULL);
		stream_end(x);
		evhttp_send_reply_end(req);
		if (w->stopping) /* its connection goes once idle */
			conn_drain_idle(w, DRAIN_IDLE_MS);
	}
}

static void
on_piece_sent(struct evhttp_connection *evcon, void *arg)
{
	struct xfer *x = arg;

	(void)evcon;
	x->piece = 0;
	if (x->sleeping && !x->woken)
		return; /* it waits for news */
	if (x->sleeping) {
		TAILQ_REMOVE(&x->w->sleepers, x, sleep_entry);
		x->sleeping = 0;
	}
	stream_produce(x);
}

void
http_stream_wake(struct request *r)
{
	struct xfer *x = X(r);

	if (!x->sleeping)
		return; /* awake: `more` runs again anyway */
	if (x->piece) {
		x->woken = 1; /* once the piece is out */
		return;
	}
	TAILQ_REMOVE(&x->w->sleepers, x, sleep_entry);
	x->sleeping = 0;
	stream_produce(x);
}

/* Wakes the sleeping streams `want` picks (all with NULL). */
static void
streams_wake(
    struct worker *w, int (*want)(const struct xfer *, void *), void *arg)
{
	TAILQ_HEAD(, xfer) due = TAILQ_HEAD_INITIALIZER(due);
	struct xfer *x, *nx;

	for (x = TAILQ_FIRST(&w->sleepers); x != NULL; x = nx) {
		nx = TAILQ_NEXT(x, sleep_entry);
		if (want != NULL && !want(x, arg))
			continue;
		if (x->piece) {
			x->woken = 1;
			continue;
		}
		TAILQ_REMOVE(&w->sleepers, x, sleep_entry);
		x->sleeping = 0;
		TAILQ_INSERT_TAIL(&due, x, sleep_entry);
	}
	/* producing one stream frees none but itself */
	while ((x = TAILQ_FIRST(&due)) != NULL) {
		TAILQ_REMOVE(&due, x, sleep_entry);
		stream_produce(x);
	}
}

static int
touched_want(const struct xfer *x, void *arg)
{
	return x->r.coll != NULL && wcollset_has(arg, x->r.coll->code);
}

/* A commit touched collections (http_on_commit): the streams of those
 * collections look for news. */
static void
on_streams(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct wcollset t;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->lock);
	t = w->touched;
	w->touched.n = 0;
	w->touched.all = 0;
	pthread_mutex_unlock(&w->lock);
	streams_wake(w, touched_want, &t);
}

/* In the writer's thread, after each commit: tells each worker with
 * streams which collections changed (cheap, never blocks for long). */
static void
http_on_commit(const struct wcommit *c, void *arg)
{
	struct hub *hub = arg;
	int i;

	if (c->ncolls == 0 && c->added == 0 && c->removed == 0)
		return;
	for (i = 0; i < hub->nworkers; i++) {
		struct worker *w = &hub->workers[i];

		if (atomic_load(&w->nstreams) == 0)
			continue;
		pthread_mutex_lock(&w->lock);
		wcollset_add(&w->touched, c);
		pthread_mutex_unlock(&w->lock);
		event_active(w->streamev, EV_READ, 0);
	}
}

static int
idle_want(const struct xfer *x, void *arg)
{
	return x->last_out <= *(const int64_t *)arg;
}

static int
live_want(const struct xfer *x, void *arg)
{
	(void)arg;
	return x->live;
}

struct runtime *
http_runtime(struct request *r)
{
	return X(r)->w->rt;
}

static void
send_stream(struct xfer *x)
{
	struct response *res = &x->r.res;

	if (x->r.method == HTTP_HEAD || conn_http10(x->evcon)) {
		/* HEAD: only the length goes out; HTTP/1.0 has no chunks
		 * (and a keep-alive one needs the length): built whole */
		void (*done)(void *) = res->more_done;
		void *arg = res->more_arg;

		while (res->more(&x->r, &res->body, arg) == 1 &&
		    !buf_failed(&res->body))
			;
		res->more = NULL;
		send_whole(x);
		done(arg);
		return;
	}
	send_headers(x);
	/* a client that goes away mid-answer ends it (http_conn_gone) */
	conn_park(x->evcon, x);
	/* counted before `more` first reads: a commit after that read
	 * wakes it (http_on_commit) */
	atomic_fetch_add(&x->w->nstreams, 1);
	x->last_out = tstamp_mono();
	if (res->live) { /* its client only listens, from the start */
		x->live = 1;
		conn_stream(x->evcon, 1);
	}
	evhttp_send_reply_start(x->req, res->status, NULL);
	if (res->body.len > 0)
		stream_piece(x, &res->body);
	else
		stream_produce(x);
}

/*
 * After a handler (or a deferred request's finish) returned: a deferred
 * request waits; an answer is sent, once; a request its client left is
 * freed; a handler that gave nothing is answered 500.
 */
static void
settle(struct xfer *x)
{
	struct response *res = &x->r.res;

	if (x->parked)
		return;
	if (!res->set) {
		log_warnx("bug: no answer to %s %s", x->r.method_name,
		    x->r.target ? x->r.target : "-");
		taxii_error(&x->r, 500, "Internal Server Error",
		    "the hub gave no answer");
	}
	if (x->req == NULL) { /* the client went away */
		if (res->more != NULL)
			res->more_done(res->more_arg);
		xfer_free(x);
		return;
	}
	if (res->more != NULL)
		send_stream(x);
	else
		send_whole(x);
}

void
http_conn_gone(struct xfer *x)
{
	struct evhttp_request *req = x->req;
	/* a request evhttp failed while we held it (an EOF or a timeout
	 * during a streamed answer) is left to us, detached: free it */
	int ours = req != NULL && evhttp_request_get_connection(req) == NULL;

	if (!x->parked && x->r.res.more != NULL)
		stream_end(x); /* the rest of the answer is not produced */
	else {
		x->req = NULL; /* the deferred answer is dropped */
		x->r.gone = 1;
	}
	if (ours)
		evhttp_request_free(req);
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct xfer *x;

	(void)fd;
	(void)what;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		if ((x = TAILQ_FIRST(&w->done)) != NULL)
			TAILQ_REMOVE(&w->done, x, entry);
		pthread_mutex_unlock(&w->lock);
		if (x == NULL)
			break;
		w->inflight--;
		x->parked = 0;
		x->r.finish(&x->r);
		settle(x);
	}
}
/*
 * Every DRAIN_TICK_MS while stopping: the worker leaves its loop once no
 * request waits for another thread (those always finish: their jobs hold
 * the worker) and every connection is closed -- replies sent while
 * stopping close theirs, idle ones time out -- or once shutdown_timeout
 * has passed (evhttp_free then closes what is left).
 */
static void
on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (w->inflight == 0 &&
	    (w->nconns == 0 || tstamp_now() >= w->drain_end)) {
		if (w->nconns > 0)
			log_warnx("shutdown: closing %d connections still open "
				  "after shutdown_timeout",
			    w->nconns);
		event_base_loopexit(w->base, NULL);
	}
}

/* Shutdown: stop accepting, let requests in flight finish, answer new
 * ones with 503, close idle connections, then leave (on_drain). */
static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval tick = {0, DRAIN_TICK_MS * 1000};
	int i;

	(void)fd;
	(void)what;
	w->stopping = 1;
	w->drain_end = tstamp_now() + w->rt->conf->shutdown_timeout * 1000000;
	for (i = 0; i < w->nbound; i++)
		evhttp_del_accept_socket(w->http, w->bound[i]);
	w->nbound = 0;
	/* live streams end (their last piece out first) */
	streams_wake(w, live_want, NULL);
	/* a connection with nothing parked is closed once idle (one with
	 * a parked request is closed after its reply: Connection: close) */
	conn_drain_idle(w, DRAIN_IDLE_MS);
	if (event_add(w->drainev, &tick) == -1)
		event_base_loopexit(w->base, NULL);
}

void
http_audit_denied(struct request *r, const char *collection, const char *why)
{
	struct buf au = BUF_INIT;

	audit_begin(&au, "denied");
	audit_str(&au, "member", r->member ? r->member->id : "-");
	audit_str(&au, "peer", r->peer);
	audit_str(&au, "collection", collection);
	audit_str(&au, "method", r->method_name ? r->method_name : "-");
	audit_str(&au, "path", r->target && !r->gone ? r->target : "-");
	audit_str(&au, "reason", why);
	audit_end(r->svc->audit, &au);
	buf_clear(&au);
}

void
http_base_url(struct request *r, struct buf *b)
{
	const char *host = r->gone ? NULL : r->host;
	size_t i;

	if (host != NULL) {
		for (i = 0; host[i] != '\0'; i++) {
			char c = host[i];

			if (!((c >= 'a' && c <= 'z') ||
				(c >= 'A' && c <= 'Z') ||
				(c >= '0' && c <= '9') || c == '.' ||
				c == '-' || c == ':' || c == '[' || c == ']'))
				break;
		}
		if (host[i] != '\0' || i == 0 || i > 255)
			host = NULL;
	}
	buf_adds(b, "https://");
	if (host != NULL)
		buf_adds(b, host);
	else {
		const struct conf_listen *l = &r->rt->conf->listen[0];

		if (strchr(l->host, ':') != NULL)
			buf_addf(b, "[%s]:%s", l->host, l->port);
		else
			buf_addf(b, "%s:%s", l->host, l->port);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];

	if (w->ops)
		snprintf(name, sizeof(name), "ops");
	else
		snprintf(name, sizeof(name), "http[%d]", w->index);
	log_procinit(name);
	event_base_dispatch(w->base);
	return NULL;
}

/* The evhttp limits of the configuration; in the worker's own thread
 * once it runs (evhttp is not shared between threads). */
static void
worker_limits(struct worker *w, const struct conf *c)
{
	uint64_t maxbody = c->max_content_length;
	int i;

	for (i = 0; i < c->nroots; i++)
		if (c->roots[i].max_content_length > maxbody)
			maxbody = c->roots[i].max_content_length;
	if (c->lookup_max_body > maxbody)
		maxbody = c->lookup_max_body; /* checked in taxii_lookup.c */
	/* evhttp's own limit is a backstop (it answers with an HTML 400);
	 * max_header_size itself is enforced in on_request with a 431
	 * TAXII error */
	evhttp_set_max_headers_size(
	    w->http, (ev_ssize_t)(c->max_header_size + 65536));
	/* the per-root limit is checked in taxii_add.c, with a TAXII error;
	 * this is the hard cap past which evhttp answers 413 itself; the
	 * operations listener takes no body at all */
	evhttp_set_max_body_size(
	    w->http, w->ops ? 0 : (ev_ssize_t)(maxbody + 65536));
	/* a scrape is one short request: the operations listener lets an
	 * idle or trickling connection go sooner */
	evhttp_set_timeout(w->http,
	    w->ops && c->request_timeout > OPS_TIMEOUT
		? OPS_TIMEOUT
		: (int)c->request_timeout);
}

/* A reload: the new snapshot, for the requests from now on, and the new
 * limits, for the connections accepted from now on (evhttp gives each
 * connection the limits in force when it came). */
static void
on_reconf(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct runtime *rt;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->lock);
	rt = w->next_rt;
	w->next_rt = NULL;
	pthread_mutex_unlock(&w->lock);
	if (rt == NULL)
		return;
	runtime_unref(w->rt);
	w->rt = rt;
	worker_limits(w, rt->conf);
}

/* Once a second: this loop runs (/healthz reads it). */
static void
on_beat(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	atomic_store(&w->hub->beats[w->index], tstamp_mono());
	if (!TAILQ_EMPTY(&w->sleepers)) {
		/* streams that would be silent for stream_heartbeat by the
		 * next beat send a keep-alive */
		int64_t cut = tstamp_mono() + HTTP_BEAT_US -
		    (int64_t)w->rt->conf->stream_heartbeat * 1000000;

		streams_wake(w, idle_want, &cut);
	}
}

static int
worker_init(struct hub *hub, struct worker *w, const int *fds, int nfds)
{
	struct conf *c = hub->rt->conf;
	int i;

	pthread_mutex_init(&w->lock, NULL);
	TAILQ_INIT(&w->done);
	TAILQ_INIT(&w->conns);
	TAILQ_INIT(&w->sleepers);
	w->rt = runtime_ref(hub->rt);
	w->table = w->ops ? &ops_routes : &taxii_routes;
	w->svc.secret = hub->secret;
	w->svc.audit = hub->audit;
	w->svc.writer = hub->writer;
	w->svc.pipeline = hub->pipeline;
	w->svc.pool = hub->pool;
	w->svc.auth = hub->auth;
	w->svc.store = hub->store;
	w->svc.metrics = hub->metrics;
	w->svc.beats = hub->beats;
	w->svc.nbeats = hub->nworkers;
	w->svc.streams = &hub->streams;
	w->svc.worker = w->index;
	if ((w->base = event_base_new()) == NULL ||
	    (w->http = evhttp_new(w->base)) == NULL)
		return -1;
	if ((w->wake = event_new(w->base, -1, 0, on_wake, w)) == NULL ||
	    (w->stopev = event_new(w->base, -1, 0, on_stop, w)) == NULL ||
	    (w->drainev = event_new(w->base, -1, EV_PERSIST, on_drain, w)) ==
		NULL ||
	    (w->confev = event_new(w->base, -1, 0, on_reconf, w)) == NULL ||
	    (w->streamev = event_new(w->base, -1, 0, on_streams, w)) == NULL)
		return -1;
	if (!w->ops) {
		struct timeval second = {1, 0};

		atomic_store(&hub->beats[w->index], tstamp_mono());
		if ((w->beat = event_new(
			 w->base, -1, EV_PERSIST, on_beat, w)) == NULL ||
		    event_add(w->beat, &second) == -1)
			return -1;
	}
	worker_limits(w, c);
	evhttp_set_allowed_methods(w->http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
		EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
		EVHTTP_REQ_OPTIONS);
	evhttp_set_default_content_type(w->http, TAXII_MEDIA);
	if (!w->ops)
		evhttp_set_bevcb(w->http, conn_new, w);
	evhttp_set_gencb(w->http, on_request, w);
	/* each worker its own descriptor of the shared socket: evhttp
	 * closes it when the listener goes */
	for (i = 0; i < nfds; i++) {
		int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);

		if (fd == -1 ||
		    (w->bound[w->nbound++] = evhttp_accept_socket_with_handle(
			 w->http, fd)) == NULL)
			return -1;
	}
	if (!w->ops && conn_listen(w) == -1)
		return -1;
	if (store_reader_new(hub->store, &w->svc.reader) != STORE_OK)
		return -1;
	return 0;
}

int
http_start(struct hub *hub)
{
	int i, n;

	if (conn_init(hub) == -1)
		return -1;
	n = hub->nworkers + (hub->nmfds > 0);
	if ((hub->workers = hub_calloc((size_t)n, sizeof(*hub->workers))) ==
		NULL ||
	    (hub->beats = hub_calloc(
		 (size_t)hub->nworkers, sizeof(*hub->beats))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		struct worker *w = &hub->workers[i];
		int ops = i == hub->nworkers;

		w->hub = hub;
		w->index = i;
		w->ops = ops;
		if (worker_init(hub, w, ops ? hub->mfds : hub->fds,
			ops ? hub->nmfds : hub->nfds) == -1) {
			log_warnx("cannot set up HTTP worker %d", i);
			return -1;
		}
	}
	hub->ops = hub->nmfds > 0 ? &hub->workers[hub->nworkers] : NULL;
	/* event streams wait for commits to their collections */
	if (hub->writer != NULL &&
	    writer_subscribe(hub->writer, http_on_commit, hub) == -1) {
		log_warnx("cannot subscribe to the writer's commits");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (pthread_create(&hub->workers[i].thread, NULL, worker_main,
			&hub->workers[i]) != 0) {
			log_warnx("cannot start HTTP worker %d", i);
			return -1;
		}
	return 0;
}

static int
nworkers_all(const struct hub *hub)
{
	return hub->nworkers + (hub->ops != NULL);
}

void
http_reconfigure(struct hub *hub, struct runtime *rt)
{
	int i;

	for (i = 0; i < nworkers_all(hub); i++) {
		struct worker *w = &hub->workers[i];
		struct runtime *old;

		pthread_mutex_lock(&w->lock);
		old = w->next_rt;
		w->next_rt = runtime_ref(rt);
		pthread_mutex_unlock(&w->lock);
		if (old != NULL)
			runtime_unref(old); /* never taken: a newer one came */
		event_active(w->confev, EV_READ, 0);
	}
}

void
http_stop(struct hub *hub)
{
	int i;

	for (i = 0; i < nworkers_all(hub); i++)
		event_active(hub->workers[i].stopev, EV_READ, 0);
}

void
http_join(struct hub *hub)
{
	int i;

	if (hub->writer != NULL && hub->workers != NULL)
		writer_unsubscribe(hub->writer, http_on_commit, hub);
	for (i = 0; i < nworkers_all(hub); i++) {
		struct worker *w = &hub->workers[i];

		pthread_join(w->thread, NULL);
		if (w->http != NULL)
			evhttp_free(w->http);
		event_free(w->wake);
		event_free(w->stopev);
		event_free(w->drainev);
		event_free(w->confev);
		event_free(w->streamev);
		if (w->beat != NULL)
			event_free(w->beat);
		if (w->resume != NULL)
			event_free(w->resume);
		/* runs the finalizers of the connections closed above */
		event_base_free(w->base);
		store_reader_free(w->svc.reader);
		while (w->npool > 0)
			hub_free(w->pool[--w->npool]);
		if (w->next_rt != NULL)
			runtime_unref(w->next_rt);
		runtime_unref(w->rt);
		pthread_mutex_destroy(&w->lock);
	}
	hub_free(hub->workers);
	hub->workers = NULL;
	hub->ops = NULL;
	hub_free(hub->beats);
	hub->beats = NULL;
	conn_fini(hub);
}
