/*
 * taxii_add.c -- Add Objects and Get Status.  The worker checks a POST
 * (write access, media type, size) and moves its body out of the
 * connection without copying; on the parser pool the body is copied into
 * one piece and given to the ingest pipeline (pipeline.h) as one writer
 * message, whose status resource and publish record the writer stores in
 * the same transaction as its objects.  After the commit, in the writer
 * thread, the status is rendered again from the same results for the
 * reply (taxii_status.h: the same bytes) and the body freed; the worker
 * only sends the 202 and the status once the commit is durable.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ctihub/alloc.h"
#include "ctihub/ingest.h"
#include "ctihub/log.h"
#include "ctihub/taxii_status.h"
#include "ctihub/tstamp.h"
#include "ctihub/uuid.h"
#include "ctihub/workq.h"

#include "hub.h"
#include "pipeline.h"

struct addjob {
	struct request *ctx; /* parked: only its worker touches it */
	const struct services *svc;
	const char *member; /* ids, borrowed from the request's runtime */
	const char *coll;
	struct http_body *in; /* the body, until it is copied */
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
	struct buf status; /* the reply: the status resource, rendered after
			      the commit */
};

static void add_finish(struct request *);

static void
uuid4(char out[37])
{
	unsigned char u[16];

	if (uuid_random(u) == -1)
		fatalx("no randomness");
	uuid_format(u, out);
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
	/* the reply: what the writer stored, from the same results */
	taxii_status_render(
	    &a->status, a->status_id, a->p.status_ts, b->meta, b->objs, b->n);
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
	http_body_free(a->in);
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
	    http_body_copy(a->in, a->body, a->len) == -1) {
		a->err_status = 503;
		a->err_title = "Service Unavailable";
		snprintf(a->err, sizeof(a->err), "out of memory");
		http_complete(a->ctx);
		return;
	}
	http_body_free(a->in);
	a->in = NULL;
	a->body[a->len] = '\0';
	rc = pipe_start(
	    a->svc->pipeline, a->body, a->len, &a->p, a->err, sizeof(a->err));
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
add_finish(struct request *ctx)
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
	else if (buf_failed(&a->status))
		taxii_error(ctx, 503, "Service Unavailable",
		    "the objects were stored, but their status could not be "
		    "rendered (out of memory): get status %s",
		    a->status_id);
	else
		http_reply(ctx, 202, &a->status);
	add_free(a);
}

void
taxii_add_objects(struct request *ctx)
{
	const char *ct = ctx->content_type;
	struct addjob *a;
	size_t len = ctx->body_len;
	struct conf *c = ctx->rt->conf;

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
	if (!httpmsg_ctype_taxii(ct)) {
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
	if ((a = hub_calloc(1, sizeof(*a))) == NULL) {
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
		return;
	}
	/* copies nothing: the copy is the pool's work */
	if ((a->in = http_take_body(ctx)) == NULL) {
		add_free(a);
		taxii_error(
		    ctx, 500, "Internal Server Error", "cannot read the body");
		return;
	}
	a->len = len;
	a->ctx = ctx;
	a->svc = ctx->svc;
	a->member = ctx->member->id;
	a->coll = ctx->coll->id;
	a->p.coll = ctx->coll->code;
	a->p.producer = ctx->member->code;
	a->p.max_objects = (size_t)c->max_objects;
	a->p.max_depth = (int)c->json_max_depth;
	a->p.index_obs = c->index_observables;
	a->p.max_obs = (int)c->max_observables;
	a->p.batch = 0; /* all or nothing, with its status */
	a->p.in_flight = 1;
	a->p.status_id = a->status_id;
	a->p.status_ts = ctx->t0;
	a->p.status_expires = ctx->t0 + c->status_ttl * 1000000;
	if (audit_on(a->svc->audit)) {
		a->p.audit_member = a->member;
		a->p.audit_coll = a->coll;
	}
	a->p.batch_done = add_batch_done;
	a->p.doc_done = add_doc_done;
	a->p.arg = a;
	uuid4(a->status_id);
	ctx->job = a;
	ctx->finish = add_finish;
	http_park(ctx);
	if (workq_push(a->svc->pool, add_start, a) == -1)
		add_start(a);
}

void
taxii_get_status(struct request *ctx)
{
	struct store_reader *r = ctx->svc->reader;
	const char *id = ctx->path.seg[2], *json;
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
