/*
 * metrics.h -- the daemon's counters, gauges and histograms, and their
 * Prometheus text exposition (format 0.0.4) for GET /metrics.
 *
 * The families are fixed (listed in the README, "Metrics and health"); the
 * one thing chosen at run time is the list of route names, given once to
 * metrics_new() (the route table's names).  Routes are then named by their
 * index in that list, so recording a request is one call with small
 * integers and no string work:
 *
 *	metrics_request(m, route, METRICS_GET, 200, usec, in, out);
 *
 * Every update function is lock-free and allocation-free (relaxed C11
 * atomics on storage allocated by metrics_new), so any thread may call it
 * on a hot path, concurrently with other updates and with a scrape.  A
 * scrape (metrics_render) takes a mutex, only to serialize scrapes and the
 * scrape callback; it never blocks an update.  The values of one scrape are
 * read one by one, not as a snapshot: a request counted during the scrape
 * may show in one family and not yet in another.  Within one histogram
 * series, _count is the sum of the buckets read, so it always equals the
 * +Inf bucket.
 *
 * Durations are given in microseconds (the hub's monotonic clock unit) and
 * exposed in seconds.  Does not listen, parse HTTP or read the database;
 * of the updates, only metrics_reload() reads the clock.
 */
#ifndef CTIHUB_METRICS_H
#define CTIHUB_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct metrics;

/* The Content-Type of what metrics_render() writes. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The route name every index outside the list given to metrics_new() is
 * counted under; metrics_new() adds it unless the list has it. */
#define METRICS_ROUTE_OTHER "other"

enum metrics_method {
	METRICS_GET = 0,
	METRICS_HEAD,
	METRICS_POST,
	METRICS_PUT,
	METRICS_DELETE,
	METRICS_OPTIONS,
	METRICS_OTHER, /* any other method, exposed as method="other" */
	METRICS_NMETHODS
};

/* Why a request was refused before its handler ran (hub.h enum
 * auth_result, less AUTH_OK and AUTH_PENDING). */
enum metrics_auth {
	METRICS_AUTH_NONE = 0, /* no credentials */
	METRICS_AUTH_BAD,      /* wrong password, unknown user or token */
	METRICS_AUTH_MALFORMED,
	METRICS_AUTH_CERT,	/* a client certificate not accepted */
	METRICS_AUTH_THROTTLED, /* too many failures: 429 */
	METRICS_AUTH_BUSY,	/* too many password checks in flight: 503 */
	METRICS_NAUTH
};

/* Gauges set (metrics_set) or moved (metrics_add) by their owner, or set
 * from the scrape callback.  All are integers. */
enum metrics_gauge {
	METRICS_CONNECTIONS = 0, /* ctihub_http_open_connections */
	METRICS_WRITER_QUEUE,	 /* ctihub_writer_queue: jobs waiting */
	METRICS_DB_SIZE,	 /* ctihub_db_size_bytes: pages in use */
	METRICS_DB_MAP_SIZE,	 /* ctihub_db_map_size_bytes */
	METRICS_AUDIT_BACKLOG,	 /* ctihub_audit_backlog_records */
	METRICS_POLICY_WARNINGS, /* ctihub_policy_warnings */
	METRICS_CONFIG_GENERATION,
	METRICS_LAST_RELOAD, /* unix seconds; metrics_reload() sets it */
	METRICS_START_TIME,  /* unix seconds; metrics_new() sets it */
	METRICS_NGAUGES
};

/* Called by metrics_render() before it writes anything, under the scrape
 * lock, to set the gauges read at scrape time (database size, audit
 * backlog) with metrics_set(). */
typedef void metrics_scrape_cb(struct metrics *, void *arg);

/*
 * A registry for the routes named routes[0 .. nroutes-1] (copied; label
 * values, escaped here once), and the build `version` (copied) exposed as
 * ctihub_build_info.  Sets METRICS_START_TIME and METRICS_LAST_RELOAD to
 * now.  NULL when out of memory.  Caller frees with metrics_free().
 */
struct metrics *metrics_new(
    const char *const *routes, size_t nroutes, const char *version);
void metrics_free(struct metrics *);

/* Index of the route named `name`; the index of "other" if none is.  For
 * set-up, not for a hot path. */
int metrics_route(const struct metrics *, const char *name);
/* METRICS_GET ... for an HTTP method name; METRICS_OTHER for the rest. */
enum metrics_method metrics_method_of(const char *name);

/* Registers the scrape callback (NULL: none). */
void metrics_set_scrape_cb(struct metrics *, metrics_scrape_cb *, void *arg);

/*
 * One answered request: its route index (any other index counts as
 * "other"), method, status code (100..599 by exact code; any other as
 * code="other"), time from arrival to the last byte sent in microseconds,
 * request body bytes read and response body bytes sent.
 */
void metrics_request(struct metrics *, int route, enum metrics_method,
    int status, int64_t usec, uint64_t in_bytes, uint64_t out_bytes);
/* One TLS handshake that completed (ok != 0) or failed. */
void metrics_tls_handshake(struct metrics *, int ok);
/* One request refused for `kind`. */
void metrics_auth_failure(struct metrics *, enum metrics_auth kind);
/* One writer transaction committed: the jobs and objects it held, and how
 * long it took (begin to durable commit) in microseconds. */
void metrics_commit(
    struct metrics *, uint64_t jobs, uint64_t objects, int64_t usec);
/* One configuration reload, applied (ok != 0, also sets
 * METRICS_LAST_RELOAD to now) or refused. */
void metrics_reload(struct metrics *, int ok);

void metrics_set(struct metrics *, enum metrics_gauge, int64_t);
void metrics_add(struct metrics *, enum metrics_gauge, int64_t delta);
int64_t metrics_get(struct metrics *, enum metrics_gauge);

/*
 * Appends the exposition of every family to `out` (runs the scrape
 * callback first).  An allocation failure is left in `out` (buf_failed).
 */
void metrics_render(struct metrics *, struct buf *out);

/* Families of another module (push, streams), appended to each scrape
 * under the scrape lock: fn writes complete families (HELP, TYPE,
 * samples) in the exposition format.  0, or -1 when
 * METRICS_MAX_RENDERERS are registered already. */
#define METRICS_MAX_RENDERERS 4
typedef void metrics_render_cb(struct buf *out, void *arg);
/* A family's HELP and TYPE lines (help: a constant without backslash or
 * line feed), for renderers. */
void metrics_family(
    struct buf *out, const char *name, const char *type, const char *help);
int metrics_add_renderer(struct metrics *, metrics_render_cb *, void *arg);

#endif
