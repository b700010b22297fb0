/*
 * t_ops.c -- the operations endpoints' handlers (hub/ops.c) with stubs
 * of the transport: /healthz names a TAXII worker whose loop stopped
 * beating, /metrics answers the exposition in its content type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/metrics.h"
#include "ctihub/tstamp.h"

#include "../../hub/hub.h"
#include "../../hub/writer.h"

/* --- stubs of the transport and the writer --------------------------- */

void
http_body(struct request *r, struct buf *b, size_t size)
{
	(void)r;
	buf_reserve(b, size);
}

void
http_reply(struct request *r, int status, struct buf *body)
{
	assert_false(r->res.set);
	r->res.set = 1;
	r->res.status = status;
	if (body != NULL) {
		r->res.body = *body;
		memset(body, 0, sizeof(*body));
	}
}

void
res_type(struct request *r, const char *ctype)
{
	r->res.ctype = ctype;
}

int
writer_alive(struct writer *w)
{
	(void)w;
	return 1;
}

static atomic_llong beats[3];
static struct services svc = {.beats = beats, .nbeats = 3};
static struct request req;

static const char *
call(void (*h)(struct request *))
{
	buf_clear(&req.res.body);
	memset(&req, 0, sizeof(req));
	req.svc = &svc;
	h(&req);
	assert_true(req.res.set);
	return buf_cstr(&req.res.body);
}

static void
t_healthz(void **state)
{
	int64_t now = tstamp_mono();
	const char *text;

	(void)state;
	atomic_store(&beats[0], now);
	atomic_store(&beats[1], now - 500000);
	atomic_store(&beats[2], now);
	assert_string_equal(call(ops_healthz), "ok\n");
	assert_int_equal(req.res.status, 200);
	/* the second worker's loop stopped 30 s ago */
	atomic_store(&beats[1], now - 30 * INT64_C(1000000));
	text = call(ops_healthz);
	assert_int_equal(req.res.status, 503);
	assert_non_null(strstr(text, "http[1]: no heartbeat for 30 s"));
	assert_null(strstr(text, "http[0]"));
	assert_null(strstr(text, "ok"));
	buf_clear(&req.res.body);
}

static void
t_metrics(void **state)
{
	const char *names[] = {"objects"};
	struct metrics *m = metrics_new(names, 1, "test");
	const char *text;

	(void)state;
	assert_non_null(m);
	svc.metrics = NULL;
	call(ops_metrics);
	assert_int_equal(req.res.status, 503);
	svc.metrics = m;
	metrics_request(m, 0, METRICS_GET, 200, 1500, 0, 10);
	text = call(ops_metrics);
	assert_int_equal(req.res.status, 200);
	assert_string_equal(req.res.ctype, METRICS_CONTENT_TYPE);
	assert_non_null(strstr(text,
	    "ctihub_http_requests_total{route="
	    "\"objects\",method=\"GET\",code=\"200\"} 1"));
	buf_clear(&req.res.body);
	svc.metrics = NULL;
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_healthz),
	    cmocka_unit_test(t_metrics),
	};

	return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
