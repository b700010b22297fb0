/*
 * http.c -- the HTTP workers: each a thread with its own event base and
 * evhttp, accepting on the listening sockets all workers share, speaking
 * TLS through OpenSSL bufferevents.  Owns the request life cycle: context,
 * authentication, dispatch to taxii.c, exactly one reply, the access-log
 * line; and the hand-off of requests that wait for another thread.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <openssl/ssl.h>

#include "ctihub/alloc.h"
#include "ctihub/log.h"
#include "ctihub/tstamp.h"

#include "hub.h"

static void *worker_main(void *);
static void on_request(struct evhttp_request *, void *);
static struct bufferevent *on_bev(struct event_base *, void *);
static void on_wake(evutil_socket_t, short, void *);
static void on_stop(evutil_socket_t, short, void *);
static void ctx_free(struct reqctx *);
static void worker_exit(struct worker *);
static void access_log(struct reqctx *, int status, size_t bytes);

/* evhttp calls this for every accepted connection; fd is set later. */
static struct bufferevent *
on_bev(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	struct runtime *rt = hub_runtime(w->hub);
	struct bufferevent *bev;
	SSL *ssl;

	ssl = SSL_new(rt->ssl);
	runtime_unref(rt); /* the SSL holds its own reference to the ctx */
	if (ssl == NULL)
		fatalx("SSL_new failed: out of memory");
	bev = bufferevent_openssl_socket_new(
	    base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	/* never return NULL: evhttp would fall back to plain text */
	if (bev == NULL)
		fatalx("bufferevent_openssl_socket_new failed");
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

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

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	struct reqctx *ctx;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	evutil_socket_t fd = bufferevent_getfd(bev);
	char *addr = NULL;
	ev_uint16_t port = 0;
	int one = 1;

	/* a TLS port must never serve plain text (see on_bev) */
	if (bufferevent_openssl_get_ssl(bev) == NULL)
		fatalx("request on a connection without TLS");
	/* evhttp does not set it; without it small replies wait for the
	 * peer's delayed ACK */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
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
	if (header_bytes(req) > (size_t)ctx->rt->conf->max_header_size) {
		taxii_error(ctx, 431, "Request Header Fields Too Large",
		    "the request headers exceed %lld bytes",
		    ctx->rt->conf->max_header_size);
		return;
	}
	taxii_dispatch(ctx);
}

static void
access_log(struct reqctx *ctx, int status, size_t bytes)
{
	char ts[TSTAMP_LEN], line[2600];
	const char *m = "-", *uri = "-";
	int64_t now = tstamp_now();
	int n;

	if (ctx->w->hub->alog_fd < 0)
		return;
	tstamp_format(now, 3, ts);
	if (ctx->req != NULL) {
		method_of(ctx->req, &m);
		uri = evhttp_request_get_uri(ctx->req);
	}
	n = snprintf(line, sizeof(line), "%s %s %s %s %.2048s %d %zu %.3fms\n",
	    ts, ctx->peer, ctx->member ? ctx->member->id : "-", m, uri, status,
	    bytes, (double)(now - ctx->t0) / 1000.0);
	if (n > 0 && (size_t)n >= sizeof(line)) {
		line[sizeof(line) - 2] = '\n';
		n = sizeof(line) - 1;
	}
	if (n > 0 && write(ctx->w->hub->alog_fd, line, (size_t)n) < 0)
		log_debug("access log: %s", strerror(errno));
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
	evhttp_add_header(h, "Content-Type", TAXII_MEDIA);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (evhttp_request_get_command(ctx->req) == EVHTTP_REQ_HEAD) {
		/* evhttp would send a body given for HEAD; send the length */
		char len[24];

		snprintf(len, sizeof(len), "%zu", n);
		evhttp_add_header(h, "Content-Length", len);
	} else if (n > 0) {
		/* hand the built body to the connection, no copy */
		size_t len;
		char *data = buf_detach(body, &len);

		if (evbuffer_add_reference(out, data, len, free_body, ctx->w) ==
		    -1) {
			evbuffer_add(out, data, len);
			hub_free(data);
		}
	}
	access_log(ctx, status, n);
	evhttp_connection_set_closecb(ctx->evcon, NULL, NULL);
	evhttp_send_reply(ctx->req, status, NULL, NULL);
	ctx_free(ctx);
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
	buf_adds(&b, "{\"title\":");
	buf_add_jstr(&b, title, strlen(title));
	buf_adds(&b, ",\"description\":");
	buf_add_jstr(&b, desc, strlen(desc));
	buf_addf(&b, ",\"http_status\":\"%d\"}", status);
	if (buf_failed(&b))
		buf_reset(&b);
	http_reply(ctx, status, &b);
	buf_clear(&b);
}

static void
on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct reqctx *ctx = arg;

	(void)evcon;
	ctx->req = NULL; /* evhttp frees it; the job's reply is dropped */
}

void
http_park(struct reqctx *ctx)
{
	ctx->w->inflight++;
	evhttp_connection_set_closecb(ctx->evcon, on_conn_close, ctx);
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
	if (w->stopping && w->inflight == 0)
		worker_exit(w);
}

/* Leaves the loop after a grace period that lets the last replies
 * drain to their sockets. */
static void
worker_exit(struct worker *w)
{
	struct timeval grace = {0, 300000};

	event_base_loopexit(w->base, &grace);
}

/* Shutdown: stop accepting, let parked requests finish, then leave. */
static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	int i;

	(void)fd;
	(void)what;
	w->stopping = 1;
	for (i = 0; i < w->nbound; i++)
		evhttp_del_accept_socket(w->http, w->bound[i]);
	w->nbound = 0;
	if (w->inflight == 0)
		worker_exit(w);
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

static int
worker_init(struct hub *hub, struct worker *w)
{
	struct runtime *rt = hub_runtime(hub);
	struct conf *c = rt->conf;
	uint64_t maxbody = c->max_content_length;
	int i, rc = -1;

	pthread_mutex_init(&w->lock, NULL);
	TAILQ_INIT(&w->done);
	if ((w->base = event_base_new()) == NULL ||
	    (w->http = evhttp_new(w->base)) == NULL)
		goto out;
	if ((w->wake = event_new(w->base, -1, 0, on_wake, w)) == NULL ||
	    (w->stopev = event_new(w->base, -1, 0, on_stop, w)) == NULL)
		goto out;
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
	evhttp_set_allowed_methods(w->http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
		EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
		EVHTTP_REQ_OPTIONS);
	evhttp_set_default_content_type(w->http, TAXII_MEDIA);
	evhttp_set_bevcb(w->http, on_bev, w);
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
	if (store_reader_new(hub->store, &w->reader) != STORE_OK ||
	    (w->auth = authcache_new()) == NULL)
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

	evthread_use_pthreads();
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
		event_base_free(w->base);
		store_reader_free(w->reader);
		authcache_free(w->auth);
		while (w->npool > 0)
			hub_free(w->pool[--w->npool]);
		pthread_mutex_destroy(&w->lock);
	}
	hub_free(hub->workers);
	hub->workers = NULL;
}
