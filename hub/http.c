/*
 * http.c -- the HTTP workers: each a thread with its own event base and
 * evhttp, accepting on the listening sockets all workers share, speaking
 * TLS through OpenSSL bufferevents.  Owns the request life cycle: context,
 * authentication, dispatch to taxii.c, exactly one reply (whole, or
 * streamed as the client reads it), the access-log line; and the hand-off
 * of requests that wait for another thread.  What happens on a connection
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
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>

#include "ctihub/alloc.h"
#include "ctihub/log.h"
#include "ctihub/tstamp.h"

#include "hub.h"

static void *worker_main(void *);
static void on_request(struct evhttp_request *, void *);
static void on_wake(evutil_socket_t, short, void *);
static void on_stop(evutil_socket_t, short, void *);
static void on_drain(evutil_socket_t, short, void *);
static void on_reconf(evutil_socket_t, short, void *);
static void ctx_free(struct reqctx *);
static void access_log(struct reqctx *, int status, size_t bytes);

/* While stopping, a connection with nothing parked is closed after this
 * long without traffic: a request being sent keeps it open (and gets a
 * 503), an idle keep-alive connection goes.  shutdown_timeout bounds the
 * whole drain. */
#define DRAIN_IDLE_MS 1000
#define DRAIN_TICK_MS 50

static int
method_of(struct evhttp_request *req, const char **name)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	switch (m) {
	case EVHTTP_REQ_GET:
		*name = "GET";
		break;
	case EVHTTP_REQ_POST:
		*name = "POST";
		break;
	case EVHTTP_REQ_DELETE:
		*name = "DELETE";
		break;
	case EVHTTP_REQ_HEAD:
		*name = "HEAD";
		break;
	case EVHTTP_REQ_PUT:
		*name = "PUT";
		break;
	case EVHTTP_REQ_OPTIONS:
		*name = "OPTIONS";
		break;
	case EVHTTP_REQ_PATCH:
		*name = "PATCH";
		break;
	default:
		*name = "OTHER";
		break;
	}
	return (int)m;
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

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	struct reqctx *ctx;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	/* a TLS port must never serve plain text (see conn_new) */
	if (conn_dispatched(req) == -1)
		fatalx("request on a connection without TLS");
	if ((ctx = hub_calloc(1, sizeof(*ctx))) == NULL) {
		evhttp_send_error(req, 503, "out of memory");
		return;
	}
	ctx->req = req;
	ctx->evcon = evcon;
	ctx->w = w;
	ctx->t0 = tstamp_now();
	ctx->rt = hub_runtime(w->hub);
	evhttp_connection_get_peer(evcon, &addr, &port);
	snprintf(ctx->peer, sizeof(ctx->peer), "%s", addr ? addr : "-");
	if (w->stopping) {
		/* shutting down: an answer, not a dropped connection */
		evhttp_add_header(
		    evhttp_request_get_output_headers(req), "Retry-After", "5");
		taxii_error(ctx, 503, "Service Unavailable",
		    "the hub is shutting down; retry in a moment");
		return;
	}
	if (header_bytes(req) > (size_t)ctx->rt->conf->max_header_size) {
		taxii_error(ctx, 431, "Request Header Fields Too Large",
		    "the request headers exceed %lld bytes",
		    ctx->rt->conf->max_header_size);
		return;
	}
	if (length_conflict(req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		taxii_error(ctx, 400, "Bad Request",
		    "Content-Length is given twice with different values");
		return;
	}
	taxii_dispatch(ctx);
}

void
http_access_log(struct worker *w, const char *peer, const char *member,
    const char *method, const char *uri, int status, size_t bytes, int64_t t0)
{
	char ts[TSTAMP_LEN], line[2600];
	int64_t now = tstamp_now();
	int n;

	if (w->hub->alog_fd < 0 || !atomic_load(&w->hub->alog_on))
		return;
	tstamp_format(now, 3, ts);
	n = snprintf(line, sizeof(line), "%s %s %s %s %.2048s %d %zu %.3fms\n",
	    ts, peer, member ? member : "-", method ? method : "-",
	    uri ? uri : "-", status, bytes, (double)(now - t0) / 1000.0);
	if (n > 0 && (size_t)n >= sizeof(line)) {
		line[sizeof(line) - 2] = '\n';
		n = sizeof(line) - 1;
	}
	if (n > 0 && write(w->hub->alog_fd, line, (size_t)n) < 0)
		log_debug("access log: %s", strerror(errno));
}

static void
access_log(struct reqctx *ctx, int status, size_t bytes)
{
	const char *m = NULL, *uri = NULL;

	if (ctx->req != NULL) {
		method_of(ctx->req, &m);
		uri = evhttp_request_get_uri(ctx->req);
	}
	http_access_log(ctx->w, ctx->peer, ctx->member ? ctx->member->id : NULL,
	    m, uri, status, bytes, ctx->t0);
}

static void
ctx_free(struct reqctx *ctx)
{
	runtime_unref(ctx->rt);
	hub_free(ctx);
}

/* The body was sent: back to its worker's pool (or freed). */
static void
free_body(const void *data, size_t len, void *arg)
{
	struct worker *w = arg;
	char *p = (char *)(uintptr_t)data;

	(void)len;
	if (w != NULL && w->npool < 8) {
		w->pool[w->npool] = p;
		w->poolcap[w->npool] = malloc_usable_size(p);
		w->npool++;
		return;
	}
	hub_free(p);
}

void
http_body(struct reqctx *ctx, struct buf *b, size_t size)
{
	struct worker *w = ctx->w;
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

static void
reply_headers(struct reqctx *ctx)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(ctx->req);

	evhttp_add_header(h, "Content-Type", TAXII_MEDIA);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (ctx->w->stopping) /* the last answer on this connection */
		evhttp_add_header(h, "Connection", "close");
}

/* Hands a built body to evbuffer `out` without a copy (the storage goes
 * back to the worker's pool once sent). */
static void
body_out(struct reqctx *ctx, struct evbuffer *out, struct buf *body)
{
	size_t len;
	char *data = buf_detach(body, &len);

	if (evbuffer_add_reference(out, data, len, free_body, ctx->w) == -1) {
		evbuffer_add(out, data, len);
		hub_free(data);
	}
}

void
http_reply(struct reqctx *ctx, int status, struct buf *body)
{
	struct evbuffer *out;
	struct evkeyvalq *h;
	size_t n = body ? body->len : 0;

	if (ctx->req == NULL) { /* the client went away */
		ctx_free(ctx);
		return;
	}
	out = evhttp_request_get_output_buffer(ctx->req);
	h = evhttp_request_get_output_headers(ctx->req);
	reply_headers(ctx);
	if (evhttp_request_get_command(ctx->req) == EVHTTP_REQ_HEAD) {
		/* evhttp would send a body given for HEAD; send the length */
		char len[24];

		snprintf(len, sizeof(len), "%zu", n);
		evhttp_add_header(h, "Content-Length", len);
	} else if (n > 0)
		body_out(ctx, out, body); /* no copy */
	access_log(ctx, status, n);
	conn_park(ctx->evcon, NULL);
	evhttp_send_reply(ctx->req, status, NULL, NULL);
	ctx_free(ctx);
}

/* The end of a streamed reply, however it ends (the request is still
 * valid: evhttp frees it after its close callback); frees ctx. */
static void
stream_end(struct reqctx *ctx)
{
	access_log(ctx, 200, ctx->sent);
	ctx->more_done(ctx->more_arg);
	ctx_free(ctx);
}

/* Cuts a streamed reply short: the connection goes, http_conn_gone ends
 * the reply. */
static void
stream_cut(struct reqctx *ctx)
{
	log_warnx("%s: a streamed reply failed: connection cut", ctx->peer);
	evhttp_connection_free(ctx->evcon);
}

static void on_piece_sent(struct evhttp_connection *, void *);

/* Sends one piece (non-empty) of a streamed reply; on_piece_sent follows
 * once the connection has passed it on.  -1 when it was cut instead. */
static int
stream_piece(struct reqctx *ctx, struct buf *b)
{
	struct evbuffer *evb = evbuffer_new();

	if (evb == NULL) {
		stream_cut(ctx);
		return -1;
	}
	ctx->sent += b->len;
	body_out(ctx, evb, b);
	evhttp_send_reply_chunk_with_cb(ctx->req, evb, on_piece_sent, ctx);
	evbuffer_free(evb);
	return 0;
}

static void
on_piece_sent(struct evhttp_connection *evcon, void *arg)
{
	struct reqctx *ctx = arg;
	struct evhttp_request *req = ctx->req;
	struct buf b = BUF_INIT;
	int rc;

	(void)evcon;
	do {
		http_body(ctx, &b, ctx->rt->conf->send_buffer);
		rc = ctx->more(ctx, &b, ctx->more_arg);
	} while (rc == 1 && b.len == 0);
	if (rc == -1 || buf_failed(&b)) {
		buf_clear(&b);
		stream_cut(ctx);
		return;
	}
	if (b.len > 0 && stream_piece(ctx, &b) == -1) {
		buf_clear(&b);
		return;
	}
	buf_clear(&b);
	if (rc == 0) {
		conn_park(ctx->evcon, NULL);
		stream_end(ctx);
		evhttp_send_reply_end(req);
	}
}

void
http_stream(struct reqctx *ctx, int status, struct buf *first,
    int (*more)(struct reqctx *, struct buf *, void *), void (*done)(void *),
    void *arg)
{
	ctx->more = more;
	ctx->more_done = done;
	ctx->more_arg = arg;
	if (ctx->req == NULL) {
		stream_end(ctx);
		return;
	}
	if (evhttp_request_get_command(ctx->req) == EVHTTP_REQ_HEAD ||
	    conn_http10(ctx->evcon)) {
		/* HEAD: only the length goes out; HTTP/1.0 has no chunks
		 * (and a keep-alive one needs the length): built whole */
		while (more(ctx, first, arg) == 1 && !buf_failed(first))
			;
		ctx->more = NULL;
		http_reply(ctx, status, first);
		done(arg);
		return;
	}
	reply_headers(ctx);
	/* a client that goes away mid-reply ends it (http_conn_gone) */
	conn_park(ctx->evcon, ctx);
	evhttp_send_reply_start(ctx->req, status, NULL);
	if (first->len > 0)
		stream_piece(ctx, first);
	else
		on_piece_sent(ctx->evcon, ctx);
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
    struct reqctx *ctx, int status, const char *title, const char *fmt, ...)
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
	http_reply(ctx, status, &b);
	buf_clear(&b);
}

void
http_conn_gone(struct reqctx *ctx)
{
	struct evhttp_request *req = ctx->req;
	/* a request evhttp failed while we held it (an EOF or a timeout
	 * during a streamed reply) is left to us, detached: free it */
	int ours = req != NULL && evhttp_request_get_connection(req) == NULL;

	if (ctx->more != NULL)
		stream_end(ctx); /* the rest of the reply is not produced */
	else
		ctx->req = NULL; /* the job's reply is dropped */
	if (ours)
		evhttp_request_free(req);
}

void
http_park(struct reqctx *ctx)
{
	ctx->w->inflight++;
	conn_park(ctx->evcon, ctx);
}

void
http_complete(struct reqctx *ctx)
{
	struct worker *w = ctx->w;

	pthread_mutex_lock(&w->lock);
	TAILQ_INSERT_TAIL(&w->done, ctx, entry);
	pthread_mutex_unlock(&w->lock);
	event_active(w->wake, EV_READ, 0);
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct reqctx *ctx;

	(void)fd;
	(void)what;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		if ((ctx = TAILQ_FIRST(&w->done)) != NULL)
			TAILQ_REMOVE(&w->done, ctx, entry);
		pthread_mutex_unlock(&w->lock);
		if (ctx == NULL)
			break;
		w->inflight--;
		ctx->finish(ctx);
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
	struct runtime *rt = hub_runtime(w->hub);
	int i;

	(void)fd;
	(void)what;
	w->stopping = 1;
	w->drain_end = tstamp_now() + rt->conf->shutdown_timeout * 1000000;
	runtime_unref(rt);
	for (i = 0; i < w->nbound; i++)
		evhttp_del_accept_socket(w->http, w->bound[i]);
	w->nbound = 0;
	/* a connection with nothing parked is closed once idle (one with
	 * a parked request is closed after its reply: Connection: close) */
	conn_drain_idle(w, DRAIN_IDLE_MS);
	if (event_add(w->drainev, &tick) == -1)
		event_base_loopexit(w->base, NULL);
}

void
http_audit_denied(struct reqctx *ctx, const char *collection, const char *why)
{
	struct buf au = BUF_INIT;
	const char *m = "-";

	if (ctx->req != NULL)
		method_of(ctx->req, &m);
	audit_begin(&au, "denied");
	audit_str(&au, "member", ctx->member ? ctx->member->id : "-");
	audit_str(&au, "peer", ctx->peer);
	audit_str(&au, "collection", collection);
	audit_str(&au, "method", m);
	audit_str(
	    &au, "path", ctx->req ? evhttp_request_get_uri(ctx->req) : "-");
	audit_str(&au, "reason", why);
	audit_end(ctx->w->hub->audit, &au);
	buf_clear(&au);
}

void
http_base_url(struct reqctx *ctx, struct buf *b)
{
	const char *host = NULL;
	size_t i;

	if (ctx->req != NULL)
		host = evhttp_find_header(
		    evhttp_request_get_input_headers(ctx->req), "Host");
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
		const struct conf_listen *l = &ctx->rt->conf->listen[0];

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
	/* evhttp's own limit is a backstop (it answers with an HTML 400);
	 * max_header_size itself is enforced in on_request with a 431
	 * TAXII error */
	evhttp_set_max_headers_size(
	    w->http, (ev_ssize_t)(c->max_header_size + 65536));
	/* the per-root limit is checked in taxii_add.c, with a TAXII error;
	 * this is the hard cap past which evhttp answers 413 itself */
	evhttp_set_max_body_size(w->http, (ev_ssize_t)(maxbody + 65536));
	evhttp_set_timeout(w->http, (int)c->request_timeout);
}

/* A reload: the new limits, for the connections accepted from now on
 * (evhttp gives each connection the limits in force when it came). */
static void
on_reconf(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct runtime *rt = hub_runtime(w->hub);

	(void)fd;
	(void)what;
	worker_limits(w, rt->conf);
	runtime_unref(rt);
}

static int
worker_init(struct hub *hub, struct worker *w)
{
	struct runtime *rt = hub_runtime(hub);
	struct conf *c = rt->conf;
	int i, rc = -1;

	pthread_mutex_init(&w->lock, NULL);
	TAILQ_INIT(&w->done);
	TAILQ_INIT(&w->conns);
	if ((w->base = event_base_new()) == NULL ||
	    (w->http = evhttp_new(w->base)) == NULL)
		goto out;
	if ((w->wake = event_new(w->base, -1, 0, on_wake, w)) == NULL ||
	    (w->stopev = event_new(w->base, -1, 0, on_stop, w)) == NULL ||
	    (w->drainev = event_new(w->base, -1, EV_PERSIST, on_drain, w)) ==
		NULL ||
	    (w->confev = event_new(w->base, -1, 0, on_reconf, w)) == NULL)
		goto out;
	worker_limits(w, c);
	evhttp_set_allowed_methods(w->http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
		EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
		EVHTTP_REQ_OPTIONS);
	evhttp_set_default_content_type(w->http, TAXII_MEDIA);
	evhttp_set_bevcb(w->http, conn_new, w);
	evhttp_set_gencb(w->http, on_request, w);
	/* each worker its own descriptor of the shared socket: evhttp
	 * closes it when the listener goes */
	for (i = 0; i < hub->nfds; i++) {
		int fd = fcntl(hub->fds[i], F_DUPFD_CLOEXEC, 0);

		if (fd == -1 ||
		    (w->bound[w->nbound++] = evhttp_accept_socket_with_handle(
			 w->http, fd)) == NULL)
			goto out;
	}
	if (conn_listen(w) == -1)
		goto out;
	if (store_reader_new(hub->store, &w->reader) != STORE_OK)
		goto out;
	rc = 0;
out:
	runtime_unref(rt);
	return rc;
}

int
http_start(struct hub *hub)
{
	int i;

	if (conn_init(hub) == -1)
		return -1;
	if ((hub->workers = hub_calloc(
		 (size_t)hub->nworkers, sizeof(*hub->workers))) == NULL)
		return -1;
	for (i = 0; i < hub->nworkers; i++) {
		struct worker *w = &hub->workers[i];

		w->hub = hub;
		w->index = i;
		if (worker_init(hub, w) == -1) {
			log_warnx("cannot set up HTTP worker %d", i);
			return -1;
		}
	}
	for (i = 0; i < hub->nworkers; i++)
		if (pthread_create(&hub->workers[i].thread, NULL, worker_main,
			&hub->workers[i]) != 0) {
			log_warnx("cannot start HTTP worker %d", i);
			return -1;
		}
	return 0;
}

void
http_reconfigure(struct hub *hub)
{
	int i;

	for (i = 0; i < hub->nworkers; i++)
		event_active(hub->workers[i].confev, EV_READ, 0);
}

void
http_stop(struct hub *hub)
{
	int i;

	for (i = 0; i < hub->nworkers; i++)
		event_active(hub->workers[i].stopev, EV_READ, 0);
}

void
http_join(struct hub *hub)
{
	int i;

	for (i = 0; i < hub->nworkers; i++) {
		struct worker *w = &hub->workers[i];

		pthread_join(w->thread, NULL);
		if (w->http != NULL)
			evhttp_free(w->http);
		event_free(w->wake);
		event_free(w->stopev);
		event_free(w->drainev);
		event_free(w->confev);
		if (w->resume != NULL)
			event_free(w->resume);
		/* runs the finalizers of the connections closed above */
		event_base_free(w->base);
		store_reader_free(w->reader);
		while (w->npool > 0)
			hub_free(w->pool[--w->npool]);
		pthread_mutex_destroy(&w->lock);
	}
	hub_free(hub->workers);
	hub->workers = NULL;
	conn_fini(hub);
}
