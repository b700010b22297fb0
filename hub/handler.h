/*
 * handler.h -- what a route's handler sees and gives back.  The transport
 * (http.c, conn.c) owns connections, TLS, limits, the access log and the
 * one send of each answer; a handler never touches any of them.  It gets
 * a request -- method, decoded path, query, the few headers the hub
 * reads, the member who asks, the configuration snapshot it started
 * under, the worker's services -- and before it returns it has either
 *
 *   answered: http_reply, http_stream or taxii_error set the response
 *             (status, headers, content type, body), which the transport
 *             sends once the handler has returned; or
 *   deferred: http_park (nginx's NGX_AGAIN) -- another thread works on
 *             it and calls http_complete when done, from any thread; the
 *             transport then runs ctx->finish in the worker's thread,
 *             which answers or defers again.
 *
 * A handler that does neither is a bug, answered 500 by the transport.
 * No libevent type is visible here.
 */
#ifndef CTIHUB_HANDLER_H
#define CTIHUB_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/authgate.h"
#include "ctihub/buf.h"
#include "ctihub/httpmsg.h"
#include "ctihub/member.h"

struct runtime;
struct conf_root;
struct conf_collection;
struct store_reader;
struct store;
struct metrics;
struct audit;
struct writer;
struct pipeline;
struct workq;
struct auth;
struct route_def;
struct route_table;
struct request;

/* The methods a route takes (a bit each; HEAD goes with GET). */
enum http_method {
	HTTP_GET = 1,
	HTTP_POST = 2,
	HTTP_DELETE = 4,
	HTTP_HEAD = 8,
	HTTP_OTHER = 16,
};

/* What every handler of a worker may use: set up at start, never
 * changed while requests run (the reader is the worker's own). */
struct services {
	struct store_reader *reader;
	const unsigned char *secret; /* the store's, for paging tokens */
	struct audit *audit;
	struct writer *writer;
	struct pipeline *pipeline;
	struct workq *pool; /* the parser pool */
	struct auth *auth;
	struct store *store;
	struct metrics *metrics;
	/* the TAXII workers' heartbeats (tstamp_mono; read atomically) */
	const _Atomic long long *beats;
	int nbeats;
	/* the event streams open on all workers (taxii_stream.c counts) */
	_Atomic long long *streams;
	int worker; /* the worker's index */
};

/* The answer being built; the transport sends it. */
#define RESPONSE_MAX_HEADERS 8
struct response {
	int set; /* an answer was given */
	int status;
	const char *ctype; /* NULL: the TAXII media type */
	struct buf body;
	int nhdr;
	struct {
		const char *name; /* a string constant */
		char value[192];
	} hdr[RESPONSE_MAX_HEADERS];
	/* a streamed body (http_stream) */
	int (*more)(struct request *, struct buf *, void *);
	void (*more_done)(void *);
	void *more_arg;
	int live; /* a live stream (an event stream): see http_stream */
};

struct request {
	/* what was asked (borrowed from the transport until the answer) */
	int method;		  /* enum http_method */
	const char *method_name;  /* "GET", ... */
	const char *target;	  /* the request target as sent */
	const char *path_raw;	  /* its path, still encoded */
	struct httpmsg_path path; /* ... decoded (route.c) */
	const char *accept, *content_type, *if_none_match, *authorization;
	const char *host;
	const char *accept_encoding; /* exports: gzip */
	int http10; /* an HTTP/1.0 request: a streamed answer is built whole */
	const char *last_event_id; /* an event stream's resumption */
	size_t body_len; /* the request body's length (see http_take_body) */
	char peer[64];
	int64_t t0;
	int gone; /* the client went away: an answer is dropped */
	/* who asks, under which configuration */
	struct runtime *rt; /* the snapshot the request started with */
	const struct member *member;
	const struct conf_root *root;
	const struct conf_collection *coll;
	const struct route_table *table; /* the listener's routes */
	const struct route_def *route;	 /* the one matched, or NULL */
	const struct services *svc;
	/* a deferred request (http_park): run in the worker once completed */
	void (*finish)(struct request *);
	void *job;
	/* a Basic login waiting for its password check (auth.c) */
	struct authgate_wait wait;
	int auth_state;	 /* enum auth_state */
	int retry_after; /* seconds, with AUTH_THROTTLED and AUTH_BUSY */
	char auth_user[MEMBER_ID_MAX];
	struct response res;
};

/* Gives `b` a reusable buffer of at least `size` bytes for a reply body
 * (the transport takes it back once sent). */
void http_body(struct request *, struct buf *b, size_t size);
/* Answers with `status` and the body (taken: b is left empty), in the
 * TAXII media type unless res_type says otherwise. */
void http_reply(struct request *, int status, struct buf *body);
/* The content type of the answer (a string constant). */
void res_type(struct request *, const char *ctype);
/* Adds a header to the answer (name a string constant). */
void res_header(struct request *, const char *name, const char *value);
/*
 * Answers with a body produced piece by piece as the client takes it, so
 * that a reader who does not read holds one piece (send_buffer bytes),
 * not the whole body: `first` goes out at once; then, each time the
 * connection has sent what it had, `more` appends the next piece (about
 * send_buffer bytes) to its buf and returns 1 while more is to come, 0
 * after the last piece, -1 to cut the connection.  `done(arg)` is called
 * exactly once, however the reply ends (complete, cut, or the client
 * gone).
 *
 * A live stream (an event stream: the handler sets res.live after
 * http_stream) may also return HTTP_STREAM_WAIT: what it appended goes
 * out, and the stream sleeps until http_stream_wake calls `more` again.
 * The transport wakes a sleeping stream itself when a writer commit
 * touched its collection (ctx->coll), once it has been silent for
 * stream_heartbeat, and at shutdown (then it ends the stream without
 * calling `more`).  A live stream's connection has no read timeout (the
 * client only listens).
 */
#define HTTP_STREAM_WAIT 2
/* The transport's beat: a stream silent for stream_heartbeat less one
 * beat is woken, so that its keep-alive goes out within the heartbeat. */
#define HTTP_BEAT_US 1000000
void http_stream(struct request *, int status, struct buf *first,
    int (*more)(struct request *, struct buf *, void *), void (*done)(void *),
    void *arg);
/* In the worker's thread: a sleeping stream's `more` runs again (at once,
 * or once the piece being sent is out); nothing for a stream awake. */
void http_stream_wake(struct request *);
/* The worker's configuration snapshot now (a reload may have replaced the
 * request's own, ctx->rt): borrowed, take a reference to keep it. */
struct runtime *http_runtime(struct request *);
/* Answers with a TAXII error resource. */
void taxii_error(struct request *, int status, const char *title,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Defers the request (see above); ctx->finish must be set. */
void http_park(struct request *);
/* From any thread: the deferred request's work is done. */
void http_complete(struct request *);

/* The request body, taken out of the connection without a copy: read it
 * with http_body_copy (any thread) and free it with http_body_free.  NULL
 * when out of memory. */
struct http_body;
struct http_body *http_take_body(struct request *);
int http_body_copy(struct http_body *, char *dst, size_t len);
void http_body_free(struct http_body *);

/* Records a denied attempt on a collection in the audit log. */
void http_audit_denied(
    struct request *, const char *collection, const char *why);
/* Host header (sanitised) or the listen address, for absolute URLs. */
void http_base_url(struct request *, struct buf *);

/* The JSON of a TAXII error resource, into b. */
void taxii_error_json(
    struct buf *b, int status, const char *title, const char *desc);

#define TAXII_MEDIA "application/taxii+json;version=2.1"
#define STIX_MEDIA  "application/stix+json;version=2.1"

#endif
