/*
 * taxii_add.c -- Add Objects and Get Status.  The worker checks a POST
 * (write access, media type, size) and moves its body out of the
 * connection without copying; on the parser pool the body is copied into
 * one piece and given to the ingest pipeline (pipeline.h) as one writer
 * job, whose status resource is written in the same transaction as its
 * objects.  The audit record is rendered after the commit, in the writer
 * thread, and the body freed there; the worker only sends the 202 and the
 * status once the commit is durable.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "ctihub/alloc.h"
#include "ctihub/ingest.h"
#include "ctihub/log.h"
#include "ctihub/tstamp.h"
#include "ctihub/uuid.h"
#include "ctihub/workq.h"

#include "hub.h"
#include "pipeline.h"

struct addjob {
	struct reqctx *ctx; /* parked: only its worker touches it */
	struct hub *hub;
	const char *member; /* ids, borrowed from the request's runtime */
	const char *coll;
	struct evbuffer *in; /* the body, until it is copied */
	char *body;
	size_t len;
	struct pipe_params p;
	char status_id[37];
	/* refused before the pipeline: the TAXII error to send */
	int err_status;
	const char *err_title;
	char err[512];
	/* the outcome */
	int stored; /* the batch was done (committed or failed) */
	int rc;
	struct buf status; /* the status resource (pipe_params), then the
			      reply */
};

static void add_finish(struct reqctx *);

static void
uuid4(char out[37])
{
	unsigned char u[16];

	if (uuid_random(u) == -1)
		fatalx("no randomness");
	uuid_format(u, out);
}

/* TAXII 2.1, with the version or without it, charset allowed. */
static int
content_type_ok(const char *ct)
{
	const char *p;

	if (ct == NULL)
		return 0;
	ct += strspn(ct, " \t");
	if (strncasecmp(ct, "application/taxii+json", 22) != 0)
		return 0;
	p = ct + 22;
	while (*p != '\0') {
		p += strspn(p, " \t");
		if (*p != ';')
			return 0;
		p++;
		p += strspn(p, " \t");
		if (strncasecmp(p, "version=", 8) == 0) {
			p += 8;
			if (strncmp(p, "2.1", 3) != 0 &&
			    strncmp(p, "\"2.1\"", 5))
				return 0;
			p += *p == '"' ? 5 : 3;
		} else if (strncasecmp(p, "charset=", 8) == 0) {
			p += 8;
			if (strncasecmp(p, "utf-8", 5) != 0 &&
			    strncasecmp(p, "\"utf-8\"", 7) != 0)
				return 0;
			p += *p == '"' ? 7 : 5;
		} else
			return 0;
		p += strspn(p, " \t");
	}
	return 1;
}

/* In the writer's transaction, at each attempt: the publish record,
 * stored with the objects it records, so that an acknowledged publish is
 * in the audit trail whatever happens next (audit.h exports it). */
static int
add_batch_apply(const struct ingest_batch *b, struct store_wtxn *w, void *arg)
{
	struct addjob *a = arg;
	struct ingest_counts c;
	struct buf au = BUF_INIT;
	size_t i, k = 0;
	int rc;

	if (!audit_on(a->hub->audit))
		return STORE_OK;
	ingest_count(b, &c);
	audit_begin(&au, "publish");
	audit_str(&au, "member", a->member);
	audit_str(&au, "collection", a->coll);
	audit_str(&au, "status", a->status_id);
	buf_adds(&au, ",\"ids\":[");
	for (i = 0; i < b->n; i++) {
		if (!b->meta[i].ok || ingest_refused(&b->objs[i]))
			continue;
		if (k++ > 0)
			buf_addc(&au, ',');
		buf_add_jstr(&au, b->meta[i].id, strlen(b->meta[i].id));
	}
	buf_addf(&au,
	    "],\"new\":%zu,\"duplicate\":%zu,"
	    "\"rejected\":%zu",
	    c.stored + c.linked, c.duplicate, c.rejected);
	audit_record(&au);
	rc = buf_failed(&au) ? STORE_ERR : store_waudit(w, au.data, au.len);
	buf_clear(&au);
	return rc;
}

/* In the writer thread, once, after the commit or the failure. */
static void
add_batch_done(const struct ingest_batch *b, int rc, void *arg)
{
	struct addjob *a = arg;
	struct ingest_counts c;

	a->stored = 1;
	a->rc = rc;
	if (rc != STORE_OK)
		return;
	ingest_count(b, &c);
	log_debug("%s: added %zu new, %zu linked, %zu duplicate, %zu "
		  "rejected to %s",
	    a->member, c.stored, c.linked, c.duplicate, c.rejected, a->coll);
}

/* Once the pipeline is done with the body: back to the worker. */
static void
add_doc_done(int rc, void *arg)
{
	struct addjob *a = arg;

	if (!a->stored)
		a->rc = rc;
	hub_free(a->body);
	a->body = NULL;
	http_complete(a->ctx);
}

static void
add_free(struct addjob *a)
{
	if (a->in != NULL)
		evbuffer_free(a->in);
	hub_free(a->body);
	buf_clear(&a->status);
	hub_free(a);
}

/* On the parser pool: the body in one piece, then the pipeline. */
static void
add_start(void *arg)
{
	struct addjob *a = arg;
	int rc;

	if ((a->body = hub_malloc(a->len + 1)) == NULL ||
	    evbuffer_remove(a->in, a->body, a->len) != (int)a->len) {
		a->err_status = 503;
		a->err_title = "Service Unavailable";
		snprintf(a->err, sizeof(a->err), "out of memory");
		http_complete(a->ctx);
		return;
	}
	evbuffer_free(a->in);
	a->in = NULL;
	a->body[a->len] = '\0';
	rc = pipe_start(
	    a->hub->pipeline, a->body, a->len, &a->p, a->err, sizeof(a->err));
	if (rc == 0)
		return; /* `a` is the pipeline's callbacks' now */
	a->err_status = rc == INGEST_ETOOMANY ? 413
	    : rc == INGEST_EBAD		      ? 400
					      : 503;
	a->err_title = rc == INGEST_ETOOMANY ? "Too Many Objects"
	    : rc == INGEST_EBAD		     ? "Bad Request"
					     : "Service Unavailable";
	hub_free(a->body);
	a->body = NULL;
	http_complete(a->ctx);
}

/* In the worker: the answer. */
static void
add_finish(struct reqctx *ctx)
{
	struct addjob *a = ctx->job;

	ctx->job = NULL;
	if (a->err_status != 0)
		taxii_error(ctx, a->err_status, a->err_title, "%s", a->err);
	else if (!a->stored)
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
	else if (a->rc == STORE_EFULL || a->rc == STORE_EDISK) {
		log_warnx("add objects from %s to %s: %s: answered 507",
		    ctx->member->id, ctx->coll->id,
		    a->rc == STORE_EFULL ? "the database is full (map_max)"
					 : "the write could not be made "
					   "durable (disk full or failing)");
		taxii_error(ctx, 507, "Insufficient Storage",
		    "the hub cannot store this now (%s); nothing of this "
		    "request was stored",
		    a->rc == STORE_EFULL ? "its database is full"
					 : "its disk is full or failing");
	} else if (a->rc != STORE_OK)
		taxii_error(ctx, 500, "Internal Server Error",
		    "the objects could not be stored; nothing of this request "
		    "was stored");
	else
		http_reply(ctx, 202, &a->status);
	add_free(a);
}

void
taxii_add_objects(struct reqctx *ctx, const struct route *rt)
{
	struct evhttp_request *req = ctx->req;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ct = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Content-Type");
	struct addjob *a;
	size_t len = evbuffer_get_length(in);
	struct conf *c = ctx->rt->conf;

	(void)rt;
	if (ctx->coll->directory) {
		taxii_error(ctx, 403, "Forbidden",
		    "collection %s is the points-of-contact directory, "
		    "generated from the members file",
		    ctx->coll->id);
		return;
	}
	if (!taxii_can_write(ctx, ctx->coll)) {
		http_audit_denied(
		    ctx, ctx->coll->id, "add without write access");
		taxii_error(ctx, 403, "Forbidden",
		    "%s may read but not add to collection %s", ctx->member->id,
		    ctx->coll->id);
		return;
	}
	if (!content_type_ok(ct)) {
		taxii_error(ctx, 415, "Unsupported Media Type",
		    "add objects in a TAXII envelope with Content-Type %s "
		    "(got %s)",
		    TAXII_MEDIA, ct ? ct : "none");
		return;
	}
	if (len > ctx->root->max_content_length) {
		taxii_error(ctx, 413, "Payload Too Large",
		    "%zu bytes; this API root takes at most %llu "
		    "(max_content_length)",
		    len, (unsigned long long)ctx->root->max_content_length);
		return;
	}
	if ((a = hub_calloc(1, sizeof(*a))) == NULL ||
	    (a->in = evbuffer_new()) == NULL) {
		hub_free(a);
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
		return;
	}
	/* moves the chains, copies nothing: the copy is the pool's work */
	if (evbuffer_add_buffer(a->in, in) == -1) {
		add_free(a);
		taxii_error(
		    ctx, 500, "Internal Server Error", "cannot read the body");
		return;
	}
	a->len = len;
	a->ctx = ctx;
	a->hub = ctx->w->hub;
	a->member = ctx->member->id;
	a->coll = ctx->coll->id;
	a->p.coll = ctx->coll->code;
	a->p.producer = ctx->member->code;
	a->p.max_objects = (size_t)c->max_objects;
	a->p.max_depth = (int)c->json_max_depth;
	a->p.batch = 0; /* all or nothing, with its status */
	a->p.in_flight = 1;
	a->p.status_id = a->status_id;
	a->p.status_ts = ctx->t0;
	a->p.status_expires = ctx->t0 + c->status_ttl * 1000000;
	a->p.status = &a->status;
	a->p.batch_apply = add_batch_apply;
	a->p.batch_done = add_batch_done;
	a->p.doc_done = add_doc_done;
	a->p.arg = a;
	uuid4(a->status_id);
	ctx->job = a;
	ctx->finish = add_finish;
	http_park(ctx);
	if (workq_push(a->hub->pool, add_start, a) == -1)
		add_start(a);
}

void
taxii_get_status(struct reqctx *ctx, const struct route *rt)
{
	struct store_reader *r = ctx->w->reader;
	const char *id = rt->seg[2], *json;
	struct buf b = BUF_INIT;
	uint32_t owner;
	int64_t expires;
	size_t len;
	int rc;

	if (store_rbegin(r) != STORE_OK) {
		taxii_error(ctx, 503, "Service Unavailable",
		    "the database cannot be read");
		return;
	}
	rc = store_status_get(r, id, &owner, &expires, &json, &len);
	/* someone else's status does not exist for this member */
	if (rc == STORE_OK &&
	    (owner != ctx->member->code || expires < tstamp_now()))
		rc = STORE_ENOTFOUND;
	if (rc == STORE_OK)
		buf_add(&b, json, len);
	store_rend(r);
	if (rc == STORE_ENOTFOUND) {
		taxii_error(ctx, 404, "Not Found",
		    "no status resource %s (statuses are kept for %lld s)", id,
		    (long long)ctx->rt->conf->status_ttl);
		return;
	}
	if (rc != STORE_OK || buf_failed(&b)) {
		buf_clear(&b);
		taxii_error(ctx, 500, "Internal Server Error",
		    "cannot read the status");
		return;
	}
	http_reply(ctx, 200, &b);
	buf_clear(&b);
}
