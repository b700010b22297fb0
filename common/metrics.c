/*
 * metrics.c -- the daemon's metrics: fixed families of relaxed atomic
 * counters updated from any thread without locks or allocation, and the
 * Prometheus text exposition (0.0.4) written at scrape time.  Holds no
 * clock or database handle of its own: gauges read at scrape time come from
 * the caller's scrape callback.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctihub/alloc.h"
#include "ctihub/buf.h"
#include "ctihub/metrics.h"

/* Histogram buckets: upper bounds in microseconds and as exposed. */
static const struct {
	int64_t us;
	const char *le;
} bounds[] = {
    {500, "0.0005"},
    {1000, "0.001"},
    {2500, "0.0025"},
    {5000, "0.005"},
    {10000, "0.01"},
    {25000, "0.025"},
    {50000, "0.05"},
    {100000, "0.1"},
    {250000, "0.25"},
    {500000, "0.5"},
    {1000000, "1"},
    {2500000, "2.5"},
    {5000000, "5"},
    {10000000, "10"},
};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

/* Status codes 100..599 by exact code; the last slot counts the rest. */
#define CODE_MIN 100
#define CODE_MAX 599
#define NCODES	 (CODE_MAX - CODE_MIN + 2)

static const char *const method_names[METRICS_NMETHODS] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "other"};
static const char *const auth_names[METRICS_NAUTH] = {
    "none", "bad", "malformed", "cert", "throttled", "busy"};

struct hist {
	/* per bucket, not cumulative; the last one is the +Inf bucket */
	_Atomic uint64_t n[NBOUNDS + 1];
	_Atomic uint64_t sum_us;
};

struct route {
	char *label; /* route="name", escaped */
	struct hist latency;
	_Atomic uint64_t in_bytes;
	_Atomic uint64_t out_bytes;
	_Atomic uint64_t req[METRICS_NMETHODS][NCODES];
};

struct metrics {
	struct route *routes;
	int nroutes;
	int other;		 /* index of the route "other" */
	char *version;		 /* escaped */
	_Atomic uint64_t tls[2]; /* failed, ok */
	_Atomic uint64_t auth[METRICS_NAUTH];
	_Atomic uint64_t commits;
	_Atomic uint64_t jobs;
	_Atomic uint64_t objects;
	struct hist commit;
	_Atomic uint64_t reloads[2]; /* failed, ok */
	_Atomic int64_t gauge[METRICS_NGAUGES];
	pthread_mutex_t lock; /* scrapes */
	metrics_scrape_cb *scrape;
	void *scrape_arg;
	struct {
		metrics_render_cb *fn;
		void *arg;
	} extra[METRICS_MAX_RENDERERS];
	int nextra;
};

static char *escape_new(const char *prefix, const char *s, const char *suffix);
static int64_t now_s(void);
static void hist_observe(struct hist *, int64_t us);
static void sample(struct buf *, const char *name, const char *labels,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void counter1(
    struct buf *, const char *name, const char *help, _Atomic uint64_t *);
static void gauge1(struct buf *, struct metrics *, const char *name,
    const char *help, enum metrics_gauge);
static void hist_render(
    struct buf *, const char *name, const char *labels, struct hist *);
static void render_http(struct metrics *, struct buf *);
static void render_auth(struct metrics *, struct buf *);
static void render_writer(struct metrics *, struct buf *);
static void render_state(struct metrics *, struct buf *);

#define LOAD(p)	  atomic_load_explicit((p), memory_order_relaxed)
#define ADD(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)

/*
 * prefix, then `s` escaped as a label value (backslash, double quote and
 * line feed), then suffix, in one allocation (caller frees with hub_free).
 */
static char *
escape_new(const char *prefix, const char *s, const char *suffix)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, prefix);
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			buf_adds(&b, "\\\\");
		else if (*s == '"')
			buf_adds(&b, "\\\"");
		else if (*s == '\n')
			buf_adds(&b, "\\n");
		else
			buf_addc(&b, *s);
	}
	buf_adds(&b, suffix);
	buf_cstr(&b);
	if (buf_failed(&b)) {
		buf_clear(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

static int64_t
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

struct metrics *
metrics_new(const char *const *routes, size_t nroutes, const char *version)
{
	struct metrics *m;
	size_t i, n = nroutes;
	size_t other = nroutes;

	for (i = 0; i < nroutes; i++)
		if (strcmp(routes[i], METRICS_ROUTE_OTHER) == 0)
			other = i;
	if (other == nroutes)
		n++;
	if (n > INT32_MAX)
		return NULL;
	if ((m = hub_calloc(1, sizeof(*m))) == NULL)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	if ((m->routes = hub_calloc(n, sizeof(*m->routes))) == NULL)
		goto fail;
	m->nroutes = (int)n;
	m->other = (int)other;
	for (i = 0; i < n; i++) {
		m->routes[i].label = escape_new("route=\"",
		    i < nroutes ? routes[i] : METRICS_ROUTE_OTHER, "\"");
		if (m->routes[i].label == NULL)
			goto fail;
	}
	if ((m->version = escape_new("version=\"", version, "\"")) == NULL)
		goto fail;
	m->gauge[METRICS_START_TIME] = now_s();
	m->gauge[METRICS_LAST_RELOAD] = m->gauge[METRICS_START_TIME];
	return m;
fail:
	metrics_free(m);
	return NULL;
}

void
metrics_free(struct metrics *m)
{
	int i;

	if (m == NULL)
		return;
	if (m->routes != NULL)
		for (i = 0; i < m->nroutes; i++)
			hub_free(m->routes[i].label);
	hub_free(m->routes);
	hub_free(m->version);
	pthread_mutex_destroy(&m->lock);
	hub_free(m);
}

int
metrics_route(const struct metrics *m, const char *name)
{
	int i, found = m->other;
	char *want;

	/* compare with the stored label, so "other" added here is found */
	if ((want = escape_new("route=\"", name, "\"")) == NULL)
		return found;
	for (i = 0; i < m->nroutes; i++)
		if (strcmp(m->routes[i].label, want) == 0) {
			found = i;
			break;
		}
	hub_free(want);
	return found;
}

enum metrics_method
metrics_method_of(const char *name)
{
	int i;

	for (i = 0; i < METRICS_OTHER; i++)
		if (strcmp(name, method_names[i]) == 0)
			return (enum metrics_method)i;
	return METRICS_OTHER;
}

void
metrics_set_scrape_cb(struct metrics *m, metrics_scrape_cb *cb, void *arg)
{
	pthread_mutex_lock(&m->lock);
	m->scrape = cb;
	m->scrape_arg = arg;
	pthread_mutex_unlock(&m->lock);
}

static void
hist_observe(struct hist *h, int64_t us)
{
	size_t i;

	if (us < 0)
		us = 0;
	for (i = 0; i < NBOUNDS; i++)
		if (us <= bounds[i].us)
			break;
	ADD(&h->n[i], 1);
	ADD(&h->sum_us, (uint64_t)us);
}

void
metrics_request(struct metrics *m, int route, enum metrics_method method,
    int status, int64_t usec, uint64_t in_bytes, uint64_t out_bytes)
{
	struct route *r;
	int code;

	if (route < 0 || route >= m->nroutes)
		route = m->other;
	if ((unsigned)method >= METRICS_NMETHODS)
		method = METRICS_OTHER;
	code = status >= CODE_MIN && status <= CODE_MAX ? status - CODE_MIN
							: NCODES - 1;
	r = &m->routes[route];
	ADD(&r->req[method][code], 1);
	hist_observe(&r->latency, usec);
	if (in_bytes != 0)
		ADD(&r->in_bytes, in_bytes);
	if (out_bytes != 0)
		ADD(&r->out_bytes, out_bytes);
}

void
metrics_tls_handshake(struct metrics *m, int ok)
{
	ADD(&m->tls[ok != 0], 1);
}

void
metrics_auth_failure(struct metrics *m, enum metrics_auth kind)
{
	if ((unsigned)kind < METRICS_NAUTH)
		ADD(&m->auth[kind], 1);
}

void
metrics_commit(struct metrics *m, uint64_t jobs, uint64_t objects, int64_t usec)
{
	ADD(&m->commits, 1);
	ADD(&m->jobs, jobs);
	ADD(&m->objects, objects);
	hist_observe(&m->commit, usec);
}

void
metrics_reload(struct metrics *m, int ok)
{
	ADD(&m->reloads[ok != 0], 1);
	if (ok)
		metrics_set(m, METRICS_LAST_RELOAD, now_s());
}

void
metrics_set(struct metrics *m, enum metrics_gauge g, int64_t v)
{
	if ((unsigned)g < METRICS_NGAUGES)
		atomic_store_explicit(&m->gauge[g], v, memory_order_relaxed);
}

void
metrics_add(struct metrics *m, enum metrics_gauge g, int64_t delta)
{
	if ((unsigned)g < METRICS_NGAUGES)
		ADD(&m->gauge[g], delta);
}

int64_t
metrics_get(struct metrics *m, enum metrics_gauge g)
{
	return (unsigned)g < METRICS_NGAUGES ? LOAD(&m->gauge[g]) : 0;
}

/* Rendering.  HELP texts are constants without backslash or line feed,
 * so they need no escaping (t_metrics checks). */

void
metrics_family(
    struct buf *b, const char *name, const char *type, const char *help)
{
	buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
sample(
    struct buf *b, const char *name, const char *labels, const char *fmt, ...)
{
	va_list ap;
	char v[64];

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	if (labels != NULL && *labels != '\0')
		buf_addf(b, "%s{%s} %s\n", name, labels, v);
	else
		buf_addf(b, "%s %s\n", name, v);
}

static void
counter1(struct buf *b, const char *name, const char *help, _Atomic uint64_t *c)
{
	metrics_family(b, name, "counter", help);
	sample(b, name, NULL, "%" PRIu64, LOAD(c));
}

static void
gauge1(struct buf *b, struct metrics *m, const char *name, const char *help,
    enum metrics_gauge g)
{
	metrics_family(b, name, "gauge", help);
	sample(b, name, NULL, "%" PRId64, metrics_get(m, g));
}

/* The series of one histogram; `labels` (escaped, may be "") precede le. */
static void
hist_render(struct buf *b, const char *name, const char *labels, struct hist *h)
{
	uint64_t cum = 0, sum;
	const char *sep = *labels != '\0' ? "," : "";
	size_t i;

	sum = LOAD(&h->sum_us);
	for (i = 0; i <= NBOUNDS; i++) {
		cum += LOAD(&h->n[i]);
		buf_addf(b, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name,
		    labels, sep, i < NBOUNDS ? bounds[i].le : "+Inf", cum);
	}
	buf_addf(b, "%s_sum%s%s%s %" PRIu64 ".%06" PRIu64 "\n", name,
	    *labels != '\0' ? "{" : "", labels, *labels != '\0' ? "}" : "",
	    sum / 1000000, sum % 1000000);
	buf_addf(b, "%s_count%s%s%s %" PRIu64 "\n", name,
	    *labels != '\0' ? "{" : "", labels, *labels != '\0' ? "}" : "",
	    cum);
}

static void
render_http(struct metrics *m, struct buf *b)
{
	static const char req[] = "ctihub_http_requests_total";
	static const char dur[] = "ctihub_http_request_duration_seconds";
	static const char in[] = "ctihub_http_request_body_bytes_total";
	static const char out[] = "ctihub_http_response_bytes_total";
	struct route *r;
	uint64_t n;
	char code[16];
	int i, j, k;

	metrics_family(b, req, "counter",
	    "HTTP requests answered, by route, method and status code.");
	for (i = 0; i < m->nroutes; i++) {
		r = &m->routes[i];
		for (j = 0; j < METRICS_NMETHODS; j++)
			for (k = 0; k < NCODES; k++) {
				if ((n = LOAD(&r->req[j][k])) == 0)
					continue;
				if (k < NCODES - 1)
					snprintf(code, sizeof(code), "%d",
					    k + CODE_MIN);
				else
					strcpy(code, "other");
				buf_addf(b,
				    "%s{%s,method=\"%s\",code=\"%s\"} %" PRIu64
				    "\n",
				    req, r->label, method_names[j], code, n);
			}
	}
	metrics_family(b, dur, "histogram",
	    "Time from a request's arrival to its last byte sent, by route.");
	for (i = 0; i < m->nroutes; i++)
		hist_render(b, dur, m->routes[i].label, &m->routes[i].latency);
	metrics_family(
	    b, in, "counter", "Bytes of request bodies read, by route.");
	for (i = 0; i < m->nroutes; i++)
		sample(b, in, m->routes[i].label, "%" PRIu64,
		    LOAD(&m->routes[i].in_bytes));
	metrics_family(
	    b, out, "counter", "Bytes of response bodies sent, by route.");
	for (i = 0; i < m->nroutes; i++)
		sample(b, out, m->routes[i].label, "%" PRIu64,
		    LOAD(&m->routes[i].out_bytes));
	gauge1(b, m, "ctihub_http_open_connections",
	    "Client connections open now.", METRICS_CONNECTIONS);
	metrics_family(b, "ctihub_tls_handshakes_total", "counter",
	    "TLS handshakes, by result.");
	sample(b, "ctihub_tls_handshakes_total", "result=\"ok\"", "%" PRIu64,
	    LOAD(&m->tls[1]));
	sample(b, "ctihub_tls_handshakes_total", "result=\"failed\"",
	    "%" PRIu64, LOAD(&m->tls[0]));
}

static void
render_auth(struct metrics *m, struct buf *b)
{
	static const char name[] = "ctihub_auth_failures_total";
	char labels[32];
	int i;

	metrics_family(b, name, "counter",
	    "Requests refused for their credentials, by kind.");
	for (i = 0; i < METRICS_NAUTH; i++) {
		snprintf(labels, sizeof(labels), "kind=\"%s\"", auth_names[i]);
		sample(b, name, labels, "%" PRIu64, LOAD(&m->auth[i]));
	}
}

static void
render_writer(struct metrics *m, struct buf *b)
{
	counter1(b, "ctihub_writer_commits_total",
	    "Write transactions committed.", &m->commits);
	counter1(b, "ctihub_writer_jobs_total",
	    "Writer jobs in committed transactions.", &m->jobs);
	counter1(b, "ctihub_writer_objects_total",
	    "Objects in committed writer jobs.", &m->objects);
	metrics_family(b, "ctihub_writer_commit_duration_seconds", "histogram",
	    "Time from a write transaction's start to its durable commit.");
	hist_render(b, "ctihub_writer_commit_duration_seconds", "", &m->commit);
	gauge1(b, m, "ctihub_writer_queue", "Writer jobs waiting now.",
	    METRICS_WRITER_QUEUE);
}

static void
render_state(struct metrics *m, struct buf *b)
{
	int64_t used, map;

	used = metrics_get(m, METRICS_DB_SIZE);
	map = metrics_get(m, METRICS_DB_MAP_SIZE);
	gauge1(b, m, "ctihub_db_size_bytes",
	    "Bytes of the database in use (its pages).", METRICS_DB_SIZE);
	gauge1(b, m, "ctihub_db_map_size_bytes",
	    "Bytes of the database's memory map (its maximum size now).",
	    METRICS_DB_MAP_SIZE);
	metrics_family(b, "ctihub_db_map_used_ratio", "gauge",
	    "Share of the memory map in use (db_size / map_size).");
	sample(b, "ctihub_db_map_used_ratio", NULL, "%.9g",
	    map > 0 ? (double)used / (double)map : 0.0);
	metrics_family(b, "ctihub_reloads_total", "counter",
	    "Configuration reloads, by result (failed: the running one kept).");
	sample(b, "ctihub_reloads_total", "result=\"ok\"", "%" PRIu64,
	    LOAD(&m->reloads[1]));
	sample(b, "ctihub_reloads_total", "result=\"failed\"", "%" PRIu64,
	    LOAD(&m->reloads[0]));
	gauge1(b, m, "ctihub_policy_warnings",
	    "Warnings of the running sharing policy's lint.",
	    METRICS_POLICY_WARNINGS);
	gauge1(b, m, "ctihub_config_generation",
	    "Generation of the running configuration.",
	    METRICS_CONFIG_GENERATION);
	gauge1(b, m, "ctihub_last_reload_timestamp_seconds",
	    "When the running configuration was loaded (unix time).",
	    METRICS_LAST_RELOAD);
	gauge1(b, m, "ctihub_audit_backlog_records",
	    "Audit records waiting to be written.", METRICS_AUDIT_BACKLOG);
	gauge1(b, m, "ctihub_start_time_seconds",
	    "When the hub started (unix time).", METRICS_START_TIME);
	metrics_family(b, "ctihub_build_info", "gauge",
	    "Always 1; the label says which build runs.");
	sample(b, "ctihub_build_info", m->version, "1");
}

int
metrics_add_renderer(struct metrics *m, metrics_render_cb *fn, void *arg)
{
	int rc = -1;

	pthread_mutex_lock(&m->lock);
	if (m->nextra < METRICS_MAX_RENDERERS) {
		m->extra[m->nextra].fn = fn;
		m->extra[m->nextra].arg = arg;
		m->nextra++;
		rc = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void
metrics_render(struct metrics *m, struct buf *out)
{
	int i;

	pthread_mutex_lock(&m->lock);
	if (m->scrape != NULL)
		m->scrape(m, m->scrape_arg);
	buf_reserve(out, 64 * 1024);
	render_http(m, out);
	render_auth(m, out);
	render_writer(m, out);
	render_state(m, out);
	for (i = 0; i < m->nextra; i++)
		m->extra[i].fn(out, m->extra[i].arg);
	pthread_mutex_unlock(&m->lock);
}
