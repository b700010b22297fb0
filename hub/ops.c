/*
 * ops.c -- the operations endpoints, served on metrics_listen (plain
 * HTTP, loopback by default, no TAXII credentials): the Prometheus
 * exposition of the hub's metrics, liveness and readiness for
 * orchestrators and load balancers.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ctihub/metrics.h"
#include "ctihub/store.h"
#include "ctihub/tstamp.h"

#include "hub.h"
#include "route.h"
#include "writer.h"

#define TEXT_MEDIA "text/plain; charset=utf-8"

static void
text_reply(struct request *ctx, int status, const char *text)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, text);
	res_type(ctx, TEXT_MEDIA);
	http_reply(ctx, status, &b);
	buf_clear(&b);
}

void
ops_metrics(struct request *ctx)
{
	struct buf b = BUF_INIT;

	if (ctx->svc->metrics == NULL) {
		text_reply(ctx, 503, "metrics are not collected\n");
		return;
	}
	http_body(ctx, &b, 16384);
	metrics_render(ctx->svc->metrics, &b);
	if (buf_failed(&b)) {
		buf_clear(&b);
		text_reply(ctx, 503, "out of memory\n");
		return;
	}
	res_type(ctx, METRICS_CONTENT_TYPE);
	http_reply(ctx, 200, &b);
	buf_clear(&b);
}

/* A TAXII worker whose loop has not beaten for this long is stuck (it
 * beats once a second; a request never holds a loop for seconds). */
#define BEAT_STALE (10 * INT64_C(1000000))

/* Alive: every TAXII worker's event loop runs (its heartbeat is
 * recent), and this one answers.  503 naming the stuck ones. */
void
ops_healthz(struct request *ctx)
{
	const struct services *s = ctx->svc;
	int64_t now = tstamp_mono(), age;
	struct buf b = BUF_INIT;
	int i, stuck = 0;

	for (i = 0; i < s->nbeats; i++) {
		age = now - atomic_load(&s->beats[i]);
		if (age > BEAT_STALE) {
			buf_addf(&b, "http[%d]: no heartbeat for %lld s\n", i,
			    (long long)(age / 1000000));
			stuck++;
		}
	}
	if (stuck == 0)
		buf_adds(&b, "ok\n");
	res_type(ctx, TEXT_MEDIA);
	http_reply(ctx, stuck ? 503 : 200, &b);
	buf_clear(&b);
}

/*
 * Ready to serve TAXII: the database can be read, the writer thread is
 * running, a policy is loaded.  503 with the reasons otherwise.
 */
void
ops_readyz(struct request *ctx)
{
	const struct services *s = ctx->svc;
	struct buf b = BUF_INIT;
	int ok = 1;

	if (store_rbegin(s->reader) != STORE_OK) {
		buf_adds(&b, "database: cannot be read\n");
		ok = 0;
	} else {
		store_rend(s->reader);
		buf_adds(&b, "database: ok\n");
	}
	if (s->writer == NULL || !writer_alive(s->writer)) {
		buf_adds(&b, "writer: not running\n");
		ok = 0;
	} else
		buf_adds(&b, "writer: ok\n");
	if (ctx->rt->policy == NULL) {
		buf_adds(&b, "policy: not loaded\n");
		ok = 0;
	} else
		buf_addf(&b, "policy: ok (configuration generation %lu)\n",
		    ctx->rt->gen);
	res_type(ctx, TEXT_MEDIA);
	http_reply(ctx, ok ? 200 : 503, &b);
	buf_clear(&b);
}

static const struct route_def ops_rows[] = {
    {"metrics", "/metrics", HTTP_GET, ops_metrics, 0},
    {"healthz", "/healthz", HTTP_GET, ops_healthz, 0},
    {"readyz", "/readyz", HTTP_GET, ops_readyz, 0},
};

const struct route_table ops_routes = {
    ops_rows, (int)(sizeof(ops_rows) / sizeof(ops_rows[0]))};
