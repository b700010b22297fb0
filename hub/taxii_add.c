/*
 * taxii_add.c -- Add Objects and Get Status.  A POST is checked (write
 * access, media type, size), its body copied out of the connection, then
 * framed, parsed and validated on the parser pool in chunks, written by
 * the writer thread in a group commit together with its status resource,
 * and answered with 202 and the status once that commit is durable.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/rand.h>

#include "ctihub/alloc.h"
#include "ctihub/ingest.h"
#include "ctihub/log.h"
#include "ctihub/tstamp.h"
#include "ctihub/workq.h"

#include "hub.h"
#include "writer.h"

#define CHUNK 256 /* objects per parser task */

struct addjob {
	struct wjob wj;
	struct reqctx *ctx;
	struct hub *hub;
	char *body;
	size_t len;
	struct ingest_doc d;
	struct ingest_batch b;
	atomic_size_t chunks_left;
	char status_id[37];
	int64_t t_req;
	int64_t expires;
	size_t max_objects;
	int max_depth;
	int rc;
	struct buf status;
};

static void add_finish(struct reqctx *);

static void
uuid4(char out[37])
{
	unsigned char u[16];

	if (RAND_bytes(u, sizeof(u)) != 1)
		fatalx("no randomness");
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	snprintf(out, 37,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
	    u[11], u[12], u[13], u[14], u[15]);
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

static int
apply_status(struct wjob *wj, struct store_wtxn *w)
{
	struct addjob *a = (struct addjob *)wj;

	ingest_status(&a->b, a->status_id, a->t_req, &a->status);
	if (buf_failed(&a->status))
		return STORE_ERR;
	return store_wstatus(w, a->status_id, a->wj.producer, a->expires,
	    a->status.data, a->status.len);
}

static void
add_done(struct wjob *wj, int rc)
{
	struct addjob *a = (struct addjob *)wj;

	a->rc = rc;
	http_complete(a->ctx);
}

struct chunk {
	struct addjob *a;
	size_t from;
};

static void
submit(struct addjob *a)
{
	a->wj.kind = WJOB_ADD;
	a->wj.objs = a->b.objs;
	a->wj.nobjs = a->b.n;
	a->wj.now = tstamp_now();
	a->wj.apply = apply_status;
	a->wj.done = add_done;
	writer_submit(a->hub->writer, &a->wj);
}

static void
range_task(void *arg)
{
	struct chunk *c = arg;
	struct addjob *a = c->a;

	ingest_range(&a->b, c->from, c->from + CHUNK);
	hub_free(c);
	/* the last parser task hands the batch to the writer */
	if (atomic_fetch_sub(&a->chunks_left, 1) == 1)
		submit(a);
}

static void
fail_job(struct addjob *a, int status, const char *title, const char *why)
{
	struct buf *b = &a->ctx->body;

	buf_reset(b);
	buf_adds(b, "{\"title\":");
	buf_add_jstr(b, title, strlen(title));
	buf_adds(b, ",\"description\":");
	buf_add_jstr(b, why, strlen(why));
	buf_addf(b, ",\"http_status\":\"%d\"}", status);
	a->ctx->status = status;
	a->rc = -1;
	http_complete(a->ctx);
}

static void
frame_task(void *arg)
{
	struct addjob *a = arg;
	int64_t tf = tstamp_now();
	char err[512];
	size_t from, nchunks, n;
	int rc;

	rc = ingest_open(&a->d, a->body, a->len, a->max_objects, a->max_depth,
	    err, sizeof(err));
	a->d.store = a->hub->store;
	a->d.producer = a->wj.producer;
	if (rc == -2) {
		fail_job(a, 413, "Too Many Objects", err);
		return;
	}
	if (rc == -1) {
		fail_job(a, 400, "Bad Request", err);
		return;
	}
	if (ingest_next(&a->d, &a->b, a->d.doc.nobjects) == -1 ||
	    ingest_markings(&a->b) == -1) {
		fail_job(a, 503, "Service Unavailable", "out of memory");
		return;
	}
	log_debug("frame: %zu objects, %.1f ms", a->b.n,
	    (double)(tstamp_now() - tf) / 1000);
	nchunks = (a->b.n + CHUNK - 1) / CHUNK;
	if (nchunks == 0) {
		submit(a);
		return;
	}
	atomic_store(&a->chunks_left, nchunks);
	/* once its last chunk is queued the job may be finished and freed:
	 * the loop reads nothing of it after that */
	n = a->b.n;
	for (from = 0; from < n; from += CHUNK) {
		struct chunk *c = hub_malloc(sizeof(*c));

		if (c == NULL ||
		    (c->a = a, c->from = from,
			workq_push(a->hub->pool, range_task, c)) == -1) {
			/* run it here rather than lose it */
			hub_free(c);
			ingest_range(&a->b, from, from + CHUNK);
			if (atomic_fetch_sub(&a->chunks_left, 1) == 1)
				submit(a);
		}
	}
}

static void
add_free(struct addjob *a)
{
	ingest_free(&a->b);
	ingest_close(&a->d);
	hub_free(a->body);
	buf_clear(&a->status);
	hub_free(a);
}

static void
add_finish(struct reqctx *ctx)
{
	struct addjob *a = ctx->job;
	struct ingest_counts c;

	ctx->job = NULL;
	if (a->rc == -1) {
		http_reply(ctx, ctx->status, &ctx->body);
	} else if (a->rc == STORE_EFULL) {
		log_warnx("add objects: the database is full (map_size)");
		taxii_error(ctx, 507, "Insufficient Storage",
		    "the hub's database is full; nothing of this request was "
		    "stored");
	} else if (a->rc != STORE_OK) {
		taxii_error(ctx, 500, "Internal Server Error",
		    "the objects could not be stored; nothing of this request "
		    "was stored");
	} else {
		struct buf au = BUF_INIT;
		size_t i, k = 0;

		ingest_count(&a->b, &c);
		audit_begin(&au, "publish");
		audit_str(&au, "member", ctx->member->id);
		audit_str(&au, "collection", ctx->coll->id);
		audit_str(&au, "status", a->status_id);
		buf_adds(&au, ",\"ids\":[");
		for (i = 0; i < a->b.n; i++) {
			if (!a->b.meta[i].ok || ingest_refused(&a->b.objs[i]))
				continue;
			if (k++ > 0)
				buf_addc(&au, ',');
			buf_add_jstr(
			    &au, a->b.meta[i].id, strlen(a->b.meta[i].id));
		}
		buf_addf(&au,
		    "],\"new\":%zu,\"duplicate\":%zu,"
		    "\"rejected\":%zu",
		    c.stored + c.linked, c.duplicate, c.rejected);
		audit_end(ctx->w->hub->audit, &au);
		buf_clear(&au);
		log_debug("%s: added %zu new, %zu linked, %zu duplicate, %zu "
			  "rejected to %s",
		    ctx->member->id, c.stored, c.linked, c.duplicate,
		    c.rejected, ctx->coll->id);
		http_reply(ctx, 202, &a->status);
	}
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
	    (a->body = hub_malloc(len + 1)) == NULL) {
		hub_free(a);
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
		return;
	}
	if (evbuffer_remove(in, a->body, len) != (int)len) {
		add_free(a);
		taxii_error(
		    ctx, 500, "Internal Server Error", "cannot read the body");
		return;
	}
	a->body[len] = '\0';
	a->len = len;
	a->ctx = ctx;
	a->hub = ctx->w->hub;
	a->t_req = ctx->t0;
	a->expires = ctx->t0 + c->status_ttl * 1000000;
	a->max_objects = (size_t)c->max_objects;
	a->max_depth = (int)c->json_max_depth;
	a->wj.coll = ctx->coll->code;
	a->wj.producer = ctx->member->code;
	uuid4(a->status_id);
	ctx->job = a;
	ctx->finish = add_finish;
	http_park(ctx);
	if (workq_push(a->hub->pool, frame_task, a) == -1)
		frame_task(a);
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
