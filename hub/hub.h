/*
 * hub.h -- the daemon's internal interfaces, one section per file of hub/.
 * The daemon runs in one process whose parts are cut along the lines of the
 * intended process model (DESIGN.md "Processes"): HTTP workers (one
 * event loop each, sharing the listening sockets), a pool of parser
 * threads, and one writer thread that owns every LMDB write.  The parts
 * talk through the queues declared here, never through shared mutable
 * state, so they can become processes later.
 */
#ifndef CTIHUB_HUB_H
#define CTIHUB_HUB_H

#include <sys/queue.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "ctihub/audit.h"
#include "ctihub/authgate.h"
#include "ctihub/buf.h"
#include "ctihub/conf.h"
#include "ctihub/member.h"
#include "ctihub/store.h"

struct pipeline;
struct workq;
struct writer;
struct auth;
struct connlimits;
struct evconnlistener;

/* runtime.c -- an immutable snapshot of everything a reload replaces: the
 * configuration, the members, the TLS context.  Reference-counted; each
 * request holds the snapshot it started with. */
struct runtime {
	atomic_int refs;
	unsigned long gen;
	struct conf *conf;
	struct policy *policy;
	int policy_warnings; /* how many the policy was loaded with */
	SSL_CTX *ssl;
	int want_client_cert;
	char *cert_path;
	unsigned char cert_fp[32];
};

enum runtime_flag {
	RUNTIME_QUIET = 1, /* no informational messages */
	RUNTIME_CHECK = 2, /* a check: create no file (certificate) */
};
/* Loads the configuration, members and policy; with a store, binds the
 * members' and collections' codes to its registry first (runtime_bind).
 * Without one (checks) the codes are provisional. */
int runtime_new(const char *conf_path, unsigned long gen, int flags,
    struct store *, struct runtime **out);
/* Gives every member and collection of `c` its code from the store's
 * registry (registering new names): call before compiling a policy. */
int runtime_bind(struct conf *c, struct store *);
struct runtime *runtime_ref(struct runtime *);
void runtime_unref(struct runtime *);

/* release.c -- after a reload that lets members see objects they could
 * not see before, makes release twins of those objects (view.h), so that
 * pollers past the originals receive them as new.  Call it before the new
 * runtime is in force: it returns once the release event is recorded.
 * release_recover closes, at start, the releases a restart interrupted. */
struct hub;
void release_after_reload(
    struct hub *, struct runtime *old, struct runtime *rt);
void release_recover(struct hub *);

/* directory.c -- publishes the members' identities into every directory
 * collection (at start and after each reload). */
void directory_publish(struct hub *, struct runtime *);

/* ctihubd.c -- the process: startup, signals, reload, shutdown. */
struct hub {
	const char *conf_path;
	pthread_mutex_t rt_lock;
	struct runtime *rt;
	unsigned long gen;
	struct store *store;
	struct writer *writer;
	struct workq *pool;
	struct auth *auth;	   /* password checks (auth.c) */
	struct pipeline *pipeline; /* the pool and the writer, for ingest */
	struct event_base *base;
	struct worker *workers;
	int nworkers;
	int fds[CONF_MAX_LISTEN * 4];
	int nfds;
	int alog_fd;	    /* one number for the process (alog_open) */
	atomic_int alog_on; /* 0: access_log off (alog_fd is /dev/null) */
	atomic_int stopping;
	unsigned char secret[32]; /* the store's, for paging tokens */
	struct audit *audit;
	struct store_reader *areader; /* the audit export's */
	char *audit_path;
	struct event *tick; /* once a second: the audit log, reader slots */
	int inotify_fd;
	struct event *inotify_ev;
	struct event *reload_ev;   /* a reload, soon after a policy edit */
	struct connlimits *limits; /* conn.c: connections per address */
};

/* Takes a reference to the current runtime (caller unrefs). */
struct runtime *hub_runtime(struct hub *);

/* http.c -- HTTP workers: one thread, event base and evhttp each. */
struct conn; /* an open connection of a worker (conn.c) */
struct worker {
	struct hub *hub;
	int index;
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	struct store_reader *reader;
	struct event *wake;   /* completions from other threads */
	struct event *stopev; /* shutdown request from the main thread */
	struct event *confev; /* a reload: apply the new limits */
	struct evhttp_bound_socket *bound[CONF_MAX_LISTEN * 4];
	int nbound;
	pthread_mutex_t lock;
	TAILQ_HEAD(, reqctx) done;
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
	/* response bodies, reused: a fresh buffer per reply costs page
	 * faults and zeroing for every page of it */
	int npool;
	char *pool[8];
	size_t poolcap[8];
};

/* Everything one request needs; lives until its reply is sent. */
struct reqctx {
	TAILQ_ENTRY(reqctx) entry;
	struct evhttp_request *req; /* NULL once the client went away */
	struct evhttp_connection *evcon;
	struct worker *w;
	struct runtime *rt;
	const struct member *member;
	int64_t t0;
	int method;
	char peer[64];
	const char *path; /* decoded path, borrowed from the uri */
	const struct conf_root *root;
	const struct conf_collection *coll;
	/* async work (add objects, delete): the job's, answered by finish */
	void (*finish)(struct reqctx *); /* runs in the worker thread */
	void *job;
	/* a Basic login waiting for its password check (auth.c) */
	struct authgate_wait wait;
	int auth_state;	 /* enum auth_state */
	int retry_after; /* seconds, with AUTH_THROTTLED and AUTH_BUSY */
	char auth_user[MEMBER_ID_MAX];
	/* a streamed reply (http_stream) */
	int (*more)(struct reqctx *, struct buf *, void *);
	void (*more_done)(void *);
	void *more_arg;
	size_t sent;
};

int http_start(struct hub *);
/* After a reload: each worker applies the new evhttp limits in its own
 * thread. */
void http_reconfigure(struct hub *);
void http_stop(struct hub *);
void http_join(struct hub *);
/* Gives `b` a reusable buffer of at least `size` bytes for a reply body
 * (http_reply returns it to the worker once sent). */
void http_body(struct reqctx *, struct buf *b, size_t size);
/* Sends a JSON body (taxii media type) and ends the request. */
void http_reply(struct reqctx *, int status, struct buf *body);
/*
 * Sends a reply whose body is produced piece by piece as the client takes
 * it, so that a reader who does not read holds one piece (send_buffer
 * bytes), not the whole body: `first` goes out at once; then, each time
 * the connection has sent what it had, `more` appends the next piece
 * (about send_buffer bytes) to its buf and returns 1 while more is to
 * come, 0 after the last piece, -1 to cut the connection.  `done(arg)` is
 * called exactly once, however the reply ends (complete, cut, or the
 * client gone); the request ends with it.
 */
void http_stream(struct reqctx *, int status, struct buf *first,
    int (*more)(struct reqctx *, struct buf *, void *), void (*done)(void *),
    void *arg);
/* Sends a TAXII error resource and ends the request. */
void taxii_error(struct reqctx *, int status, const char *title,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The JSON of a TAXII error resource, into b. */
void taxii_error_json(
    struct buf *b, int status, const char *title, const char *desc);
/* One access-log line (method and uri "-" when unknown). */
void http_access_log(struct worker *, const char *peer, const char *member,
    const char *method, const char *uri, int status, size_t bytes, int64_t t0);
/* conn.c: the connection of a parked request went away. */
void http_conn_gone(struct reqctx *);
/* Parks a request while a job runs on another thread; the job calls
 * http_complete from any thread, which runs ctx->finish in the worker. */
void http_park(struct reqctx *);
void http_complete(struct reqctx *);
/* Records a denied attempt on a collection in the audit log. */
void http_audit_denied(
    struct reqctx *, const char *collection, const char *why);
/* Host header (sanitised) or the listen address, for absolute URLs. */
void http_base_url(struct reqctx *, struct buf *);

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
void conn_park(struct evhttp_connection *, struct reqctx *);
/* The connection's TLS session. */
SSL *conn_ssl(struct evhttp_connection *);
/* 1 when the request handed over last is HTTP/1.0 (no chunked replies). */
int conn_http10(struct evhttp_connection *);
/* Stopping: the worker's connections with no parked request close after
 * `ms` without traffic.  The worker keeps its open connections in
 * w->conns (w->nconns), so that the drain knows when they are gone. */
void conn_drain_idle(struct worker *, int ms);

/* Answers to an unauthenticated request (taxii.c, conn.c), and the
 * longest Authorization value read. */
#define HTTP_AUTH_MAX	 4096
#define HTTP_AUTH_BASIC	 "Basic realm=\"ctihub\", charset=\"UTF-8\""
#define HTTP_AUTH_BEARER "Bearer realm=\"ctihub\""
#define HTTP_AUTH_REQUIRED                                                     \
	"authentication required: HTTP Basic, a bearer API token or a "        \
	"client certificate"

/* auth.c -- who is asking: Basic, bearer token or client certificate. */
enum auth_result {
	AUTH_OK = 0,
	AUTH_NONE,	/* no credentials at all */
	AUTH_BAD,	/* wrong password, unknown user or token */
	AUTH_MALFORMED, /* an Authorization header we cannot read */
	AUTH_CERT,	/* a client certificate we do not accept */
	AUTH_PENDING,	/* parked for its password check: see auth_request */
	AUTH_THROTTLED, /* too many failures: 429, ctx->retry_after */
	AUTH_BUSY,	/* too many checks in flight: 503, ctx->retry_after */
};
enum auth_state {
	AUTH_UNASKED = 0,
	AUTH_ASKED,    /* the password check runs */
	AUTH_ANSWERED, /* ctx->wait.ok holds its answer */
};
/* The password-check threads and their gate (auth_threads). */
int auth_start(struct hub *);
/* After the HTTP workers are joined. */
void auth_stop(struct hub *);
/* Who sent the request.  AUTH_PENDING: the request is parked while its
 * password is checked on the pool, and taxii_dispatch runs again with the
 * answer, which auth_request then returns. */
int auth_request(
    struct reqctx *, const struct member **, char *why, size_t whylen);
/*
 * Before a request's body is read (conn.c): 0 when its credentials may be
 * good, else an enum auth_result with a reason, for a 401 sent before a
 * byte of the body is kept.  No slow hash runs here: a bearer token and a
 * client certificate are decided at once, a malformed header refused; a
 * Basic credential remembered as good passes, any other gives AUTH_PENDING
 * (its password is checked, off the loop, by auth_request once the body
 * is in: conn.c bounds such bodies, max_unverified_bodies).
 */
int auth_precheck(struct hub *, const struct runtime *, SSL *,
    const char *authorization, char *why, size_t whylen);

/* taxii.c -- routing and the TAXII endpoints of discovery, API roots and
 * collections; the object endpoints are in taxii_objects.c and
 * taxii_add.c. */
void taxii_dispatch(struct reqctx *);
int taxii_accept_ok(struct reqctx *);
int taxii_can_read(const struct reqctx *, const struct conf_collection *);
int taxii_can_write(const struct reqctx *, const struct conf_collection *);

/* The path of a request, split and percent-decoded by taxii.c. */
#define ROUTE_MAX_SEG 8
struct route {
	int nseg;
	char *seg[ROUTE_MAX_SEG];
	const char *query; /* raw query string, or NULL */
};

/* taxii_objects.c -- reading: objects, an object, versions, manifest;
 * deleting an object. */
void taxii_get_objects(struct reqctx *, const struct route *);
void taxii_get_object(struct reqctx *, const struct route *);
void taxii_get_versions(struct reqctx *, const struct route *);
void taxii_get_manifest(struct reqctx *, const struct route *);
void taxii_delete_object(struct reqctx *, const struct route *);

/* taxii_add.c -- adding objects and the status resources it leaves. */
void taxii_add_objects(struct reqctx *, const struct route *);
void taxii_get_status(struct reqctx *, const struct route *);

#define TAXII_MEDIA "application/taxii+json;version=2.1"
#define STIX_MEDIA  "application/stix+json;version=2.1"

#endif
