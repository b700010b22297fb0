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
#include "ctihub/buf.h"
#include "ctihub/conf.h"
#include "ctihub/member.h"
#include "ctihub/store.h"

struct pipeline;
struct workq;
struct writer;
struct authcache;

/* runtime.c -- an immutable snapshot of everything a reload replaces: the
 * configuration, the members, the TLS context.  Reference-counted; each
 * request holds the snapshot it started with. */
struct runtime {
	atomic_int refs;
	unsigned long gen;
	struct conf *conf;
	struct policy *policy;
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
 * pollers past the originals receive them as new. */
struct hub;
void release_after_reload(
    struct hub *, struct runtime *old, struct runtime *rt);

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
	struct pipeline *pipeline; /* the pool and the writer, for ingest */
	struct event_base *base;
	struct worker *workers;
	int nworkers;
	int fds[CONF_MAX_LISTEN * 4];
	int nfds;
	int alog_fd;
	atomic_int stopping;
	unsigned char secret[32]; /* the store's, for paging tokens */
	struct audit *audit;
	char *audit_path;
	struct event *tick; /* once a second: flush the audit log */
	int inotify_fd;
	struct event *inotify_ev;
	struct event *reload_ev; /* a reload, soon after a policy edit */
};

/* Takes a reference to the current runtime (caller unrefs). */
struct runtime *hub_runtime(struct hub *);

/* http.c -- HTTP workers: one thread, event base and evhttp each. */
struct worker {
	struct hub *hub;
	int index;
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	struct store_reader *reader;
	struct authcache *auth;
	struct event *wake;   /* completions from other threads */
	struct event *stopev; /* shutdown request from the main thread */
	struct evhttp_bound_socket *bound[CONF_MAX_LISTEN * 4];
	int nbound;
	pthread_mutex_t lock;
	TAILQ_HEAD(, reqctx) done;
	int inflight;
	int stopping;
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
};

int http_start(struct hub *);
void http_stop(struct hub *);
void http_join(struct hub *);
/* Gives `b` a reusable buffer of at least `size` bytes for a reply body
 * (http_reply returns it to the worker once sent). */
void http_body(struct reqctx *, struct buf *b, size_t size);
/* Sends a JSON body (taxii media type) and ends the request. */
void http_reply(struct reqctx *, int status, struct buf *body);
/* Sends a TAXII error resource and ends the request. */
void taxii_error(struct reqctx *, int status, const char *title,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Parks a request while a job runs on another thread; the job calls
 * http_complete from any thread, which runs ctx->finish in the worker. */
void http_park(struct reqctx *);
void http_complete(struct reqctx *);
/* Records a denied attempt on a collection in the audit log. */
void http_audit_denied(
    struct reqctx *, const char *collection, const char *why);
/* Host header (sanitised) or the listen address, for absolute URLs. */
void http_base_url(struct reqctx *, struct buf *);

/* auth.c -- who is asking: Basic, bearer token or client certificate. */
enum auth_result {
	AUTH_OK = 0,
	AUTH_NONE,	/* no credentials at all */
	AUTH_BAD,	/* wrong password, unknown user or token */
	AUTH_MALFORMED, /* an Authorization header we cannot read */
	AUTH_CERT,	/* a client certificate we do not accept */
};
struct authcache *authcache_new(void);
void authcache_free(struct authcache *);
int auth_request(
    struct reqctx *, const struct member **, char *why, size_t whylen);

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
