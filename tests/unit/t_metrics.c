/*
 * t_metrics.c -- the metrics registry and its Prometheus exposition:
 * totals exact when threads update at once, histogram buckets cumulative
 * with _count equal to the +Inf bucket, label escaping, every line
 * well-formed (checked here), and the whole exposition accepted without a
 * complaint by the real parser and linter (tests/promcheck.sh, promtool
 * check metrics; installed by make deps, so its absence fails).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctihub/alloc.h"
#include "ctihub/buf.h"
#include "ctihub/metrics.h"

#define PROMCHECK "tests/promcheck.sh"

static const char *const routes[] = {"discovery", "api_root", "collections",
    "collection", "objects", "object", "versions", "manifest", "status",
    "metrics", "healthz", "readyz"};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static const char *
render(struct metrics *m, struct buf *b)
{
	buf_reset(b);
	metrics_render(m, b);
	assert_false(buf_failed(b));
	return buf_cstr(b);
}

/* Where the line of `text` that starts with `prefix` followed by `next`
 * continues (past the prefix), or NULL. */
static const char *
line_at(const char *text, const char *prefix, char next)
{
	size_t n = strlen(prefix);
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, n) == 0 && p[n] == next)
			return p + n;
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return NULL;
}

/* The value of the sample `series` (name and labels exactly as rendered);
 * fails the test when there is no such line. */
static double
value(const char *text, const char *series)
{
	const char *p;

	if ((p = line_at(text, series, ' ')) == NULL)
		fail_msg("no sample %s in:\n%s", series, text);
	return strtod(p + 1, NULL);
}

static int
has_line(const char *text, const char *line)
{
	return line_at(text, line, '\n') != NULL;
}

/* The exposition written to a temporary file and checked by promtool;
 * returns promcheck.sh's exit status.  quiet: its complaint, expected,
 * is not shown. */
static int
promcheck(const char *text, int quiet)
{
	char path[] = "/tmp/t_metrics.XXXXXX", cmd[128];
	size_t n = strlen(text);
	int fd, rc;

	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	snprintf(cmd, sizeof(cmd), PROMCHECK " %s%s", path,
	    quiet ? " 2>/dev/null" : "");
	rc = system(cmd);
	unlink(path);
	return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

/* Threads hammering every kind of update: each iteration's parameters are
 * a function of i, so a single-threaded model gives the exact totals. */

#define NTHREADS 8
#define NITER	 40000

static void
iteration(
    int i, int *route, enum metrics_method *method, int *status, int64_t *us)
{
	*route = i % (int)NROUTES;
	*method = (i / (int)NROUTES) % 2 ? METRICS_POST : METRICS_GET;
	*status = i % 3 == 0 ? 404 : 200;
	*us = (int64_t)(i % 7) * 3000;
}

static void *
hammer(void *arg)
{
	struct metrics *m = arg;
	enum metrics_method method;
	int i, route, status;
	int64_t us;

	for (i = 0; i < NITER; i++) {
		iteration(i, &route, &method, &status, &us);
		metrics_add(m, METRICS_CONNECTIONS, 1);
		metrics_request(m, route, method, status, us, 3, 5);
		metrics_tls_handshake(m, i & 1);
		metrics_auth_failure(m, (enum metrics_auth)(i % METRICS_NAUTH));
		metrics_commit(m, 2, 3, us);
		metrics_add(m, METRICS_CONNECTIONS, -1);
	}
	return NULL;
}

static void
t_threads(void **state)
{
	static uint64_t req[NROUTES][2][2]; /* route, GET/POST, 200/404 */
	pthread_t th[NTHREADS];
	struct buf b = BUF_INIT;
	struct metrics *m;
	enum metrics_method method;
	uint64_t sum_us = 0, total = (uint64_t)NTHREADS * NITER;
	const char *text;
	char series[160];
	int i, j, k, route, status;
	int64_t us;

	(void)state;
	memset(req, 0, sizeof(req));
	for (i = 0; i < NITER; i++) {
		iteration(i, &route, &method, &status, &us);
		req[route][method == METRICS_POST][status == 404] += NTHREADS;
		sum_us += (uint64_t)us * NTHREADS;
	}
	assert_non_null(m = metrics_new(routes, NROUTES, "test"));
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, m), 0);
	/* scrapes while the threads run must not disturb them */
	for (i = 0; i < 20; i++)
		render(m, &b);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	text = render(m, &b);

	for (i = 0; i < (int)NROUTES; i++)
		for (j = 0; j < 2; j++)
			for (k = 0; k < 2; k++) {
				snprintf(series, sizeof(series),
				    "ctihub_http_requests_total{route=\"%s\","
				    "method=\"%s\",code=\"%s\"}",
				    routes[i], j ? "POST" : "GET",
				    k ? "404" : "200");
				/* series never counted are not exposed */
				if (req[i][j][k] == 0)
					assert_null(strstr(text, series));
				else
					assert_int_equal(
					    (uint64_t)value(text, series),
					    req[i][j][k]);
			}
	assert_int_equal((uint64_t)value(text,
			     "ctihub_writer_commit_duration_seconds_count"),
	    total);
	assert_int_equal((uint64_t)(value(text,
					"ctihub_writer_commit_duration_seconds_"
					"sum") *
				 1e6 +
			     0.5),
	    sum_us);
	assert_int_equal(
	    (uint64_t)value(text, "ctihub_writer_commits_total"), total);
	assert_int_equal(
	    (uint64_t)value(text, "ctihub_writer_jobs_total"), 2 * total);
	assert_int_equal(
	    (uint64_t)value(text, "ctihub_writer_objects_total"), 3 * total);
	assert_int_equal(
	    (uint64_t)value(text, "ctihub_tls_handshakes_total{result=\"ok\"}"),
	    total / 2);
	assert_int_equal((uint64_t)value(text,
			     "ctihub_tls_handshakes_total{result=\"failed\"}"),
	    total / 2);
	assert_int_equal(
	    (uint64_t)value(text, "ctihub_auth_failures_total{kind=\"bad\"}"),
	    (uint64_t)NTHREADS * ((NITER + METRICS_NAUTH - 2) / METRICS_NAUTH));
	assert_int_equal(
	    (int64_t)value(text, "ctihub_http_open_connections"), 0);
	/* per route: requests, bytes and the latency histogram agree */
	for (i = 0; i < (int)NROUTES; i++) {
		uint64_t n =
		    req[i][0][0] + req[i][0][1] + req[i][1][0] + req[i][1][1];

		snprintf(series, sizeof(series),
		    "ctihub_http_request_duration_seconds_count{route=\"%s\"}",
		    routes[i]);
		assert_int_equal((uint64_t)value(text, series), n);
		snprintf(series, sizeof(series),
		    "ctihub_http_request_body_bytes_total{route=\"%s\"}",
		    routes[i]);
		assert_int_equal((uint64_t)value(text, series), 3 * n);
		snprintf(series, sizeof(series),
		    "ctihub_http_response_bytes_total{route=\"%s\"}",
		    routes[i]);
		assert_int_equal((uint64_t)value(text, series), 5 * n);
	}
	buf_clear(&b);
	metrics_free(m);
}

static void
t_histogram(void **state)
{
	static const int64_t obs[] = {
	    0, 500, -5, 501, 1000, 10000000, 10000001, 2500000};
	static const struct {
		const char *le;
		int n;
	} want[] = {
	    {"0.0005", 3},
	    {"0.001", 5},
	    {"0.0025", 5},
	    {"1", 5},
	    {"2.5", 6},
	    {"5", 6},
	    {"10", 7},
	    {"+Inf", 8},
	};
	const char *const one[] = {"objects"};
	struct buf b = BUF_INIT;
	struct metrics *m;
	const char *text, *p;
	char series[160];
	double prev = 0, v;
	size_t i;

	(void)state;
	assert_non_null(m = metrics_new(one, 1, "test"));
	for (i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
		metrics_request(m, 0, METRICS_GET, 200, obs[i], 0, 0);
	text = render(m, &b);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(series, sizeof(series),
		    "ctihub_http_request_duration_seconds_bucket{route="
		    "\"objects\",le=\"%s\"}",
		    want[i].le);
		assert_int_equal((int)value(text, series), want[i].n);
	}
	assert_true(has_line(text,
	    "ctihub_http_request_duration_seconds_count"
	    "{route=\"objects\"} 8"));
	/* 500 + 501 + 1000 + 10000000 + 10000001 + 2500000 microseconds */
	assert_true(has_line(text,
	    "ctihub_http_request_duration_seconds_sum"
	    "{route=\"objects\"} 22.502002"));
	/* cumulative: never decreasing, the +Inf bucket last */
	for (p = text;
	     (p = strstr(p, "_seconds_bucket{route=\"objects\"")) != NULL;
	     p++) {
		v = strtod(strchr(p, ' ') + 1, NULL);
		assert_true(v >= prev);
		prev = v;
	}
	assert_int_equal((int)prev, 8);
	/* the route "other" was added, and takes indexes out of range */
	assert_int_equal(metrics_route(m, "objects"), 0);
	assert_int_equal(metrics_route(m, "other"), 1);
	assert_int_equal(metrics_route(m, "nope"), 1);
	metrics_request(m, 7, METRICS_OTHER, 600, 0, 0, 0);
	metrics_request(m, -1, METRICS_DELETE, 99, 0, 0, 0);
	text = render(m, &b);
	assert_true(has_line(text,
	    "ctihub_http_requests_total{route=\"other\","
	    "method=\"other\",code=\"other\"} 1"));
	assert_true(has_line(text,
	    "ctihub_http_requests_total{route=\"other\","
	    "method=\"DELETE\",code=\"other\"} 1"));
	assert_int_equal(metrics_method_of("GET"), METRICS_GET);
	assert_int_equal(metrics_method_of("DELETE"), METRICS_DELETE);
	assert_int_equal(metrics_method_of("get"), METRICS_OTHER);
	assert_int_equal(metrics_method_of("PATCH"), METRICS_OTHER);
	buf_clear(&b);
	metrics_free(m);
}

static void
t_escape(void **state)
{
	const char *const odd[] = {"a\\b\"c\nd", "other", "objects"};
	struct buf b = BUF_INIT;
	struct metrics *m;
	const char *text;

	(void)state;
	assert_non_null(m = metrics_new(odd, 3, "1.0 \"x\\y\nz\""));
	/* "other" was given: not added a second time */
	assert_int_equal(metrics_route(m, "nope"), 1);
	assert_int_equal(metrics_route(m, "a\\b\"c\nd"), 0);
	metrics_request(m, 0, METRICS_GET, 200, 0, 0, 0);
	text = render(m, &b);
	assert_true(has_line(text,
	    "ctihub_http_requests_total{route="
	    "\"a\\\\b\\\"c\\nd\",method=\"GET\","
	    "code=\"200\"} 1"));
	assert_true(has_line(
	    text, "ctihub_build_info{version=\"1.0 \\\"x\\\\y\\nz\\\"\"} 1"));
	/* the real parser reads the escapes back */
	assert_int_equal(promcheck(text, 0), 0);
	buf_clear(&b);
	metrics_free(m);
}

/* Well-formedness, checked here line by line (promtool checks it again):
 * HELP then TYPE once per family, before its samples; samples of the
 * family just declared (histograms: _bucket with le, _sum, _count);
 * names, labels and escapes valid; a number as value; no series twice;
 * counters named *_total; the text ends with a line feed. */

static const char *
name_end(const char *p)
{
	if (!(*p == '_' || *p == ':' ||
		((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')))
		return NULL;
	for (p++; *p == '_' || *p == ':' || (*p >= '0' && *p <= '9') ||
	     ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z');
	     p++)
		;
	return p;
}

/* Labels from '{' to past '}'; *le set when one is named le. */
static const char *
labels_end(const char *p, int *le)
{
	const char *q;

	*le = 0;
	assert_true(*p++ == '{');
	for (;;) {
		assert_non_null(q = name_end(p));
		if (q - p == 2 && strncmp(p, "le", 2) == 0)
			*le = 1;
		p = q;
		assert_true(*p++ == '=');
		assert_true(*p++ == '"');
		for (; *p != '"'; p++) {
			assert_true(*p != '\n' && *p != '\0');
			if (*p == '\\') {
				p++;
				assert_true(
				    *p == '\\' || *p == '"' || *p == 'n');
			}
		}
		p++;
		if (*p == '}')
			return p + 1;
		assert_true(*p++ == ',');
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
check_wellformed(const char *text)
{
	char fam[128] = "", type[16] = "", helped[128] = "", sname[160];
	char *series[4096], fams[64][128];
	const char *p, *e, *nl, *suffix;
	size_t n, nseries = 0, nfams = 0, i;
	int le;
	char *end;

	n = strlen(text);
	assert_true(n > 0 && text[n - 1] == '\n');
	for (p = text; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (strncmp(p, "# HELP ", 7) == 0) {
			assert_non_null(e = name_end(p + 7));
			assert_true(*e == ' ' && e + 1 < nl);
			snprintf(helped, sizeof(helped), "%.*s",
			    (int)(e - p - 7), p + 7);
			for (; e < nl; e++)
				assert_true(*e != '\\');
			continue;
		}
		if (strncmp(p, "# TYPE ", 7) == 0) {
			assert_non_null(e = name_end(p + 7));
			snprintf(
			    fam, sizeof(fam), "%.*s", (int)(e - p - 7), p + 7);
			assert_string_equal(fam, helped);
			assert_true(*e == ' ');
			snprintf(type, sizeof(type), "%.*s", (int)(nl - e - 1),
			    e + 1);
			assert_true(strcmp(type, "counter") == 0 ||
			    strcmp(type, "gauge") == 0 ||
			    strcmp(type, "histogram") == 0);
			if (strcmp(type, "counter") == 0)
				assert_true(strlen(fam) > 6 &&
				    strcmp(fam + strlen(fam) - 6, "_total") ==
					0);
			/* each family declared once */
			for (i = 0; i < nfams; i++)
				assert_string_not_equal(fams[i], fam);
			assert_true(nfams < sizeof(fams) / sizeof(fams[0]));
			snprintf(fams[nfams++], sizeof(fams[0]), "%s", fam);
			continue;
		}
		assert_true(*p != '#' && *fam != '\0');
		assert_non_null(e = name_end(p));
		snprintf(sname, sizeof(sname), "%.*s", (int)(e - p), p);
		le = 0;
		if (*e == '{')
			e = labels_end(e, &le);
		assert_true(*e == ' ');
		assert_true(nseries < sizeof(series) / sizeof(series[0]));
		assert_non_null(
		    series[nseries++] = strndup(p, (size_t)(e - p)));
		/* the value: a number, whole line */
		strtod(e + 1, &end);
		assert_true(end == nl && end > e + 1);
		if (strcmp(type, "histogram") != 0) {
			assert_string_equal(sname, fam);
			assert_false(le);
			continue;
		}
		assert_true(strncmp(sname, fam, strlen(fam)) == 0);
		suffix = sname + strlen(fam);
		if (strcmp(suffix, "_bucket") == 0)
			assert_true(le);
		else
			assert_true(!le &&
			    (strcmp(suffix, "_sum") == 0 ||
				strcmp(suffix, "_count") == 0));
	}
	qsort(series, nseries, sizeof(series[0]), cmp_str);
	for (i = 0; i < nseries; i++) {
		if (i > 0)
			assert_string_not_equal(series[i - 1], series[i]);
	}
	for (i = 0; i < nseries; i++)
		free(series[i]);
}

static void
scrape(struct metrics *m, void *arg)
{
	int *calls = arg;

	(*calls)++;
	metrics_set(m, METRICS_DB_SIZE, 25 << 20);
	metrics_set(m, METRICS_DB_MAP_SIZE, 100 << 20);
	metrics_set(m, METRICS_AUDIT_BACKLOG, 7);
}

/* A registry with every family populated. */
static struct metrics *
populated(int *calls)
{
	struct metrics *m;
	size_t i;
	int code;

	assert_non_null(m = metrics_new(routes, NROUTES, "0.10.0"));
	for (i = 0; i < NROUTES + 1; i++)
		for (code = 100; code <= 700; code += 101)
			metrics_request(m, (int)i, (enum metrics_method)(i % 7),
			    code, (int64_t)i * 12345, i, 2 * i);
	for (i = 0; i < METRICS_NAUTH; i++)
		metrics_auth_failure(m, (enum metrics_auth)i);
	metrics_tls_handshake(m, 1);
	metrics_tls_handshake(m, 0);
	metrics_commit(m, 3, 40, 2200);
	metrics_set(m, METRICS_WRITER_QUEUE, 2);
	metrics_add(m, METRICS_CONNECTIONS, 5);
	metrics_set(m, METRICS_POLICY_WARNINGS, 1);
	metrics_set(m, METRICS_CONFIG_GENERATION, 3);
	metrics_reload(m, 1);
	metrics_reload(m, 0);
	metrics_set_scrape_cb(m, scrape, calls);
	return m;
}

static void
t_wellformed(void **state)
{
	struct buf b = BUF_INIT;
	struct metrics *m;
	const char *text;
	int calls = 0;

	(void)state;
	m = populated(&calls);
	text = render(m, &b);
	assert_int_equal(calls, 1);
	check_wellformed(text);
	assert_true(has_line(text, "ctihub_db_map_used_ratio 0.25"));
	assert_true(has_line(text, "ctihub_db_size_bytes 26214400"));
	assert_true(has_line(text, "ctihub_audit_backlog_records 7"));
	assert_true(has_line(text, "ctihub_reloads_total{result=\"ok\"} 1"));
	assert_true(
	    has_line(text, "ctihub_reloads_total{result=\"failed\"} 1"));
	assert_true(has_line(text, "ctihub_build_info{version=\"0.10.0\"} 1"));
	assert_true(value(text, "ctihub_start_time_seconds") > 1.7e9);
	assert_true(value(text, "ctihub_last_reload_timestamp_seconds") >=
	    value(text, "ctihub_start_time_seconds"));
	assert_true(has_line(text,
	    "ctihub_writer_commit_duration_seconds_sum "
	    "0.002200"));
	assert_true(has_line(text,
	    "ctihub_http_requests_total{route=\"other\","
	    "method=\"OPTIONS\",code=\"other\"} 1"));
	/* an empty registry is well-formed too */
	metrics_free(m);
	assert_non_null(m = metrics_new(NULL, 0, ""));
	check_wellformed(render(m, &b));
	assert_int_equal(promcheck(buf_cstr(&b), 0), 0);
	buf_clear(&b);
	metrics_free(m);
}

static void
t_promtool(void **state)
{
	struct buf b = BUF_INIT;
	struct metrics *m;
	int calls = 0;

	(void)state;
	m = populated(&calls);
	assert_int_equal(promcheck(render(m, &b), 0), 0);
	/* and the check does catch a complaint: a counter without _total,
	 * and a line the parser cannot read */
	assert_int_not_equal(promcheck("# HELP x_seconds d\n"
				       "# TYPE x_seconds counter\n"
				       "x_seconds 1\n",
				 1),
	    0);
	assert_int_not_equal(promcheck("x{a=\"b} 1\n", 1), 0);
	buf_clear(&b);
	metrics_free(m);
}

/* Out of memory in metrics_new: NULL, nothing leaked (ASan). */
static void
t_oom(void **state)
{
	struct metrics *m;
	long k;

	(void)state;
	for (k = 0;; k++) {
		hub_alloc_fail_after(k);
		m = metrics_new(routes, NROUTES, "v");
		hub_alloc_fail_after(-1);
		if (m != NULL)
			break;
		assert_true(k < 100);
	}
	assert_true(k > 0);
	metrics_free(m);
	metrics_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_threads),
	    cmocka_unit_test(t_histogram),
	    cmocka_unit_test(t_escape),
	    cmocka_unit_test(t_wellformed),
	    cmocka_unit_test(t_promtool),
	    cmocka_unit_test(t_oom),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
