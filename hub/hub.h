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

#include <openssl/ssl.h>

#include "ctihub/audit.h"
#include "ctihub/authgate.h"
#include "ctihub/buf.h"
#include "ctihub/conf.h"
#include "ctihub/member.h"
#include "ctihub/store.h"

#include "handler.h"

/* The release, in /metrics (ctihub_build_info) and the logs. */
#define CTIHUB_VERSION "0.10.0"

struct pipeline;
struct workq;
struct writer;
struct auth;
struct connlimits;
struct event_base;
struct event;
struct worker;
struct metrics;
struct push;
struct feeds;

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
	/* the access log of the requests served under this snapshot (-1:
	 * none); opened by the daemon before the snapshot is handed out,
	 * closed with the snapshot's last reference */
	int alog_fd;
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
	struct runtime *rt; /* the main thread's; workers get theirs by
			       message (http_reconfigure) */
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
	int mfds[CONF_MAX_LISTEN * 4]; /* metrics_listen's */
	int nmfds;
	struct worker *ops; /* the metrics listener's worker, or NULL */
	/* each TAXII worker's last heartbeat (tstamp_mono), written by
	 * the worker's loop once a second, read by /healthz */
	atomic_llong *beats;
	atomic_llong streams; /* event streams open, on all workers */
	struct push *push;    /* deliveries to subscribers (push.h), each
			      thread an outbound loop (fetch.h) */
	struct feeds *feeds;  /* the feeds' scheduler (feeds.h), an outbound
				loop of its own */
	struct metrics *metrics;
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

/* Answers to an unauthenticated request (route.c, conn.c), and the
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
 * password is checked on the pool, and route_dispatch runs again with the
 * answer, which auth_request then returns. */
int auth_request(
    struct request *, const struct member **, char *why, size_t whylen);
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

/* The TLS session of a request's connection (http.c), for its client
 * certificate. */
SSL *http_tls(struct request *);

/* taxii.c -- the TAXII endpoints of discovery, API roots and collections,
 * and the TAXII route table (route.h); the object endpoints are in
 * taxii_objects.c and taxii_add.c. */
int taxii_can_read(const struct request *, const struct conf_collection *);
int taxii_can_write(const struct request *, const struct conf_collection *);
/* Either: the collection is listed to the member at all. */
int taxii_can_see(const struct request *, const struct conf_collection *);

/* taxii_objects.c -- reading: objects, an object, versions, manifest;
 * deleting an object. */
void taxii_get_objects(struct request *);
void taxii_get_object(struct request *);
void taxii_get_versions(struct request *);
void taxii_get_manifest(struct request *);
void taxii_delete_object(struct request *);

/* taxii_stream.c -- a collection as Server-Sent Events (stream/). */
void taxii_stream(struct request *);
/* taxii_export.c -- blocklists of a collection (export/{type}.txt|csv). */
void taxii_export(struct request *);
/* taxii_misp.c -- the collection as a MISP feed (misp/manifest.json,
 * misp/{uuid}.json, misp/hashes.csv). */
void taxii_misp(struct request *);

/* taxii_lookup.c -- observables looked up (lookup/, GET and POST). */
void taxii_lookup_get(struct request *);
void taxii_lookup_post(struct request *);

/* taxii_add.c -- adding objects and the status resources it leaves. */
void taxii_add_objects(struct request *);
void taxii_get_status(struct request *);

/* ops.c -- the operations endpoints of the metrics listener: /metrics,
 * /healthz, /readyz. */
void ops_metrics(struct request *);
void ops_healthz(struct request *);
void ops_readyz(struct request *);

#endif
