/*
 * transport.h -- the transport's own parts, shared by http.c (workers,
 * the request life cycle, the one send) and conn.c (connections, TLS,
 * deadlines, limits) and started by the daemon (ctihubd.c).  Handlers
 * never include it (handler.h is theirs).
 */
#ifndef CTIHUB_TRANSPORT_H
#define CTIHUB_TRANSPORT_H

#include <sys/queue.h>

#include <pthread.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "hub.h"
#include "route.h"
#include "writer.h"

struct conn; /* an open connection of a worker (conn.c) */

/* An HTTP worker: one thread, event base and evhttp each.  The TAXII
 * workers share the TLS listening sockets; the operations worker (ops)
 * serves metrics_listen in plain HTTP. */
struct worker {
	struct hub *hub;
	int index;
	int ops; /* the metrics listener's (plain HTTP, ops_routes) */
	const struct route_table *table;
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	struct services svc; /* the handlers' (svc.reader is the worker's) */
	/* the configuration snapshot: only this thread reads it; a reload
	 * sends the next one (http_reconfigure) */
	struct runtime *rt;
	struct runtime *next_rt; /* under lock, until confev runs */
	struct event *wake;	 /* completions from other threads */
	struct event *stopev;	 /* shutdown request from the main thread */
	struct event *confev;	 /* a reload: the new snapshot */
	struct event *beat;	 /* once a second: the heartbeat */
	struct evhttp_bound_socket *bound[CONF_MAX_LISTEN * 4];
	int nbound;
	pthread_mutex_t lock;
	TAILQ_HEAD(, xfer) done;
	int inflight;
	int stopping;
	/* shutdown: the open connections, and the drain that waits for
	 * them (requests in flight finish, the rest get a 503) */
	TAILQ_HEAD(, conn) conns;
	int nconns;
	struct event *drainev;
	int64_t drain_end;
	int paused;	      /* conn.c: the listeners wait (limits) */
	struct event *resume; /* ... until this fires */
	/* live event streams: those asleep (HTTP_STREAM_WAIT), woken by a
	 * commit that touched their collection (streamev, the collections
	 * in touched under lock), by the heartbeat (on_beat) or the stop */
	TAILQ_HEAD(, xfer) sleepers;
	atomic_int nstreams; /* streamed answers of this worker (any may
				go live) */
	struct event *streamev;
	struct wcollset touched;
	/* response bodies, reused: a fresh buffer per reply costs page
	 * faults and zeroing for every page of it */
	int npool;
	char *pool[8];
	size_t poolcap[8];
};

/* One request in the transport: the handler's view first. */
struct xfer {
	struct request r;
	TAILQ_ENTRY(xfer) entry;
	struct evhttp_request *req; /* NULL once the client went away */
	struct evhttp_connection *evcon;
	struct worker *w;
	int parked; /* deferred (http_park), not yet completed */
	size_t sent;
	/* a streamed answer: a piece is being sent; a live stream (it has
	 * waited once) is asleep in w->sleepers, woken while a piece was
	 * out; when its last piece went */
	int piece;
	int live, sleeping, woken;
	int64_t last_out; /* tstamp_mono */
	TAILQ_ENTRY(xfer) sleep_entry;
	struct event *yield; /* the next piece, after the loop's other work
				(a piece that came out empty); NULL until used */
};

/* Starts the workers (and the operations worker when metrics_listen has
 * sockets). */
int http_start(struct hub *);
/* A reload: hands each worker its new snapshot (a reference each), which
 * it takes in its own thread with the new evhttp limits. */
void http_reconfigure(struct hub *, struct runtime *);
void http_stop(struct hub *);
void http_join(struct hub *);
/* One access-log line (method and uri "-" when unknown), into the
 * worker's snapshot's log. */
void http_access_log(struct worker *, const char *peer, const char *member,
    const char *method, const char *uri, int status, size_t bytes, int64_t t0);
/* conn.c: the connection of a parked request went away. */
void http_conn_gone(struct xfer *);

/* conn.c -- each connection under evhttp: the TLS bufferevent evhttp
 * reads and writes, the deadlines of a request's head and body, the
 * refusal of a body whose sender has not authenticated (before it is
 * read), evhttp's own error pages turned into TAXII errors, connection
 * limits per address and in all, and the pause of accepting when
 * descriptors run out. */
int conn_init(struct hub *);
void conn_fini(struct hub *);
/* evhttp's bufferevent callback (evhttp_set_bevcb). */
struct bufferevent *conn_new(struct event_base *, void *worker);
/* Watches the worker's listeners (after they are bound). */
int conn_listen(struct worker *);
/* evhttp handed the request over: it is the handler's to answer.  -1 for
 * a connection that is not ours (no TLS). */
int conn_dispatched(struct evhttp_request *);
/* Who to tell when the connection goes away: a request waiting on its
 * answer (NULL: nobody). */
void conn_park(struct evhttp_connection *, struct xfer *);
/* The connection's TLS session. */
SSL *conn_ssl(struct evhttp_connection *);
/* 1 when the request handed over last is HTTP/1.0 (no chunked replies). */
int conn_http10(struct evhttp_connection *);
/* A live stream's connection (on 1): no read timeout, the write timeout
 * of request_timeout; off 0: evhttp's timeouts again. */
void conn_stream(struct evhttp_connection *, int on);
/* Stopping: the worker's connections with no parked request close after
 * `ms` without traffic.  The worker keeps its open connections in
 * w->conns (w->nconns), so that the drain knows when they are gone. */
void conn_drain_idle(struct worker *, int ms);

#endif
