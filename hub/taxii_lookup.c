/*
 * taxii_lookup.c -- GET and POST /{api-root}/lookup/: values looked up in
 * the observable index (lookup.h) as the member who asks, among the API
 * root's collections it may read, in one read transaction on the worker,
 * and audited like a read (event "lookup": who, how many values, the
 * first of them, the object ids returned).  Parsing of the query and the
 * body, the lookup and its JSON are lookup.c's; this file checks the
 * media types and limits, and answers: a large answer (10,000 values)
 * piece by piece as the client takes it (send_buffer ahead), from the
 * results, which hold no LMDB memory.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ctihub/alloc.h"
#include "ctihub/audit.h"
#include "ctihub/lookup.h"
#include "ctihub/tstamp.h"
#include "ctihub/view.h"

#include "hub.h"

#define AUDIT_VALUES	64  /* values listed in an audit line */
#define AUDIT_VALUE_MAX 256 /* bytes of each */
#define AUDIT_IDS	256 /* object ids listed */

/* application/json (with parameters or not) somewhere in s. */
static int
has_json(const char *s)
{
	size_t n = strlen("application/json");

	for (; s != NULL && *s != '\0'; s++)
		if (strncasecmp(s, "application/json", n) == 0 &&
		    (s[n] == '\0' || s[n] == ';' || s[n] == ',' || s[n] == ' '))
			return 1;
	return 0;
}

static void
audit_lookup(
    struct request *ctx, const struct lookup_req *q, const struct lookup *lk)
{
	struct buf au = BUF_INIT;
	int i;

	/* a HEAD answer carries no result: nothing was learnt */
	if (!audit_on(ctx->svc->audit) || ctx->method == HTTP_HEAD)
		return;
	audit_begin(&au, "lookup");
	audit_str(&au, "member", ctx->member->id);
	audit_str(&au, "root", ctx->root->name);
	buf_addf(&au, ",\"values\":%d,\"asked\":[", q->n);
	for (i = 0; i < q->n && i < AUDIT_VALUES; i++) {
		size_t n = q->in[i].len;

		if (i > 0)
			buf_addc(&au, ',');
		buf_add_jstr(&au, q->in[i].value,
		    n > AUDIT_VALUE_MAX ? AUDIT_VALUE_MAX : n);
	}
	buf_addf(
	    &au, "],\"matches\":%d,\"ids\":[", lookup_matches_returned(lk));
	lookup_audit_ids(lk, &au, AUDIT_IDS);
	buf_addc(&au, ']');
	audit_end(ctx->svc->audit, &au);
	buf_clear(&au);
}

/* A lookup's answer on its way out: what its JSON still refers to. */
struct lkstream {
	struct lookup_req q; /* the values asked */
	struct lookup_coll *colls;
	struct lookup *lk;
	int pos; /* the next value to render */
};

static void
lk_done(void *arg)
{
	struct lkstream *s = arg;

	lookup_free(s->lk);
	lookup_req_clear(&s->q);
	hub_free(s->colls);
	hub_free(s);
}

static int
lk_more(struct request *ctx, struct buf *b, void *arg)
{
	struct lkstream *s = arg;

	return lookup_json_piece(
	    s->lk, b, &s->pos, b->len + ctx->rt->conf->send_buffer);
}

/*
 * Looks the request's values up and answers, taking q's values (q is
 * left empty).  The answer is rendered piece by piece as the client
 * takes it (send_buffer bytes ahead), from the results, after the read
 * transaction has ended.
 */
static void
answer(struct request *ctx, struct lookup_req *q)
{
	const struct conf *c = ctx->rt->conf;
	const struct conf_root *root = ctx->root;
	struct lookup_opts o;
	struct view_ctx vc;
	struct lkstream *s;
	struct buf b = BUF_INIT;
	char timing[64];
	int64_t t0 = tstamp_mono();
	int i, n = 0, rc;

	if ((s = hub_calloc(1, sizeof(*s))) == NULL ||
	    (s->colls = hub_calloc(
		 (size_t)root->ncolls + 1, sizeof(*s->colls))) == NULL) {
		hub_free(s);
		lookup_req_clear(q);
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
		return;
	}
	s->q = *q;
	memset(q, 0, sizeof(*q));
	/* the collections it may read; none: every value a miss, as the
	 * objects endpoint would show it nothing */
	for (i = 0; i < root->ncolls; i++)
		if (taxii_can_read(ctx, &root->colls[i])) {
			s->colls[n].code = root->colls[i].code;
			s->colls[n++].id = root->colls[i].id;
		}
	memset(&o, 0, sizeof(o));
	o.valid_only = s->q.valid_only;
	o.best_only = s->q.best_only;
	o.now = tstamp_now();
	o.max_matches = (int)c->lookup_max_matches;
	o.max_scan = (size_t)c->lookup_max_scan;
	o.members = c->members;
	memset(&vc, 0, sizeof(vc));
	vc.r = ctx->svc->reader;
	vc.pol = ctx->rt->policy;
	vc.reader = ctx->member;
	if (store_rbegin(ctx->svc->reader) != STORE_OK) {
		lk_done(s);
		taxii_error(ctx, 503, "Service Unavailable",
		    "the database cannot be read");
		return;
	}
	rc = lookup_run(&vc, s->colls, n, s->q.in, s->q.n, &o, &s->lk);
	store_rend(ctx->svc->reader);
	if (rc != STORE_OK) {
		lk_done(s);
		taxii_error(ctx, rc == STORE_ECORRUPT ? 500 : 503,
		    rc == STORE_ECORRUPT ? "Internal Server Error"
					 : "Service Unavailable",
		    "the lookup could not be made (the hub's log says why)");
		return;
	}
	audit_lookup(ctx, &s->q, s->lk);
	/* the hub's own time for the lookup (W3C Server-Timing), in ms */
	snprintf(timing, sizeof(timing), "lookup;dur=%.3f",
	    (double)(tstamp_mono() - t0) / 1000.0);
	res_header(ctx, "Server-Timing", timing);
	if (has_json(ctx->accept) &&
	    (ctx->accept == NULL || strstr(ctx->accept, "taxii") == NULL))
		res_type(ctx, "application/json");
	/* no send_buffer reserved: most answers are a few hundred bytes,
	 * and a pooled 256k body a request churned the allocator */
	rc = lookup_json_piece(s->lk, &b, &s->pos, c->send_buffer);
	if (buf_failed(&b)) {
		lk_done(s);
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
	} else if (rc == 0) {
		http_reply(ctx, 200, &b); /* the whole answer in one piece */
		lk_done(s);
	} else
		http_stream(ctx, 200, &b, lk_more, lk_done, s);
	buf_clear(&b);
}

static int
parse_error(struct request *ctx, int rc, const char *err)
{
	if (rc == -2)
		taxii_error(ctx, 413, "Payload Too Large",
		    "%s (lookup_max_values)", err);
	else if (rc == -3)
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
	else
		taxii_error(ctx, 400, "Bad Request", "%s", err);
	return -1;
}

static int
accept_ok(struct request *ctx)
{
	if (httpmsg_accept_taxii(ctx->accept) || has_json(ctx->accept))
		return 1;
	taxii_error(ctx, 406, "Not Acceptable",
	    "lookups answer in %s or application/json", TAXII_MEDIA);
	return 0;
}

void
taxii_lookup_get(struct request *ctx)
{
	struct lookup_req q;
	char err[256];
	int rc;

	if (!accept_ok(ctx))
		return;
	rc = lookup_parse_query(&q, ctx->path.query,
	    (int)ctx->rt->conf->lookup_max_values, err, sizeof(err));
	if (rc != 0) {
		parse_error(ctx, rc, err);
		return;
	}
	answer(ctx, &q);
}

void
taxii_lookup_post(struct request *ctx)
{
	const struct conf *c = ctx->rt->conf;
	const char *ct = ctx->content_type;
	struct http_body *hb;
	struct lookup_req q;
	size_t len = ctx->body_len;
	char err[256], *body;
	int rc;

	if (!accept_ok(ctx))
		return;
	if (!httpmsg_ctype_taxii(ct) && !has_json(ct)) {
		taxii_error(ctx, 415, "Unsupported Media Type",
		    "a lookup body is JSON: Content-Type %s or "
		    "application/json (got %s)",
		    TAXII_MEDIA, ct ? ct : "none");
		return;
	}
	if (len > c->lookup_max_body) {
		taxii_error(ctx, 413, "Payload Too Large",
		    "%zu bytes; a lookup takes at most %llu (lookup_max_body)",
		    len, (unsigned long long)c->lookup_max_body);
		return;
	}
	if ((body = hub_malloc(len + 1)) == NULL) {
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
		return;
	}
	if ((hb = http_take_body(ctx)) == NULL ||
	    (len > 0 && http_body_copy(hb, body, len) == -1)) {
		http_body_free(hb);
		hub_free(body);
		taxii_error(
		    ctx, 500, "Internal Server Error", "cannot read the body");
		return;
	}
	http_body_free(hb);
	rc = lookup_parse_body(
	    &q, body, len, (int)c->lookup_max_values, err, sizeof(err));
	hub_free(body);
	if (rc != 0) {
		parse_error(ctx, rc, err);
		return;
	}
	answer(ctx, &q);
}
