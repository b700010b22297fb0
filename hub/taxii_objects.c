/*
 * taxii_objects.c -- the object endpoints that read (Get Objects, Get an
 * Object, Get Object Versions, Get Object Manifests) and Delete an Object.
 * The filters, version rules, paging and the visibility decision are
 * view.h's; this file checks access, renders envelopes from the stored
 * bytes inside one read transaction, and sets the TAXII headers.  A page
 * of objects larger than send_buffer is streamed as the client takes it:
 * its items are fixed when the page is computed, and each further piece
 * re-reads its objects by row in a read transaction of its own (an
 * object deleted meanwhile is left out).
 */
#include <stdio.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/hash.h"
#include "ctihub/log.h"
#include "ctihub/marking.h"
#include "ctihub/taxii_render.h"
#include "ctihub/tstamp.h"
#include "ctihub/view.h"

#include "hub.h"
#include "writer.h"

/* Access, query, token: 0, or -1 after an error reply. */
static int
prepare(struct request *ctx, int endpoint, struct view_query *q, size_t *limit)
{
	struct conf *c = ctx->rt->conf;
	char err[256];

	if (!taxii_can_read(ctx, ctx->coll)) {
		http_audit_denied(
		    ctx, ctx->coll->id, "read without read access");
		taxii_error(ctx, 403, "Forbidden",
		    "%s may add to collection %s but not read it",
		    ctx->member->id, ctx->coll->id);
		return -1;
	}
	if (view_parse(q, endpoint, ctx->path.query, c->members, err,
		sizeof(err)) == -1) {
		view_query_clear(q);
		taxii_error(ctx, 400, "Bad Request", "%s", err);
		return -1;
	}
	if (endpoint != VIEW_OBJECTS && endpoint != VIEW_MANIFEST &&
	    view_set_object(q, ctx->path.seg[4]) == -1) {
		view_query_clear(q);
		taxii_error(ctx, 404, "Not Found",
		    "'%s' is not a STIX object id", ctx->path.seg[4]);
		return -1;
	}
	if (q->next != NULL &&
	    view_token_read(q, ctx->svc->secret, ctx->member->code,
		ctx->coll->code, tstamp_now(), err, sizeof(err)) == -1) {
		view_query_clear(q);
		taxii_error(ctx, 400, "Bad Request", "%s", err);
		return -1;
	}
	*limit = q->limit == 0 || q->limit > (size_t)c->max_page_size
	    ? (size_t)c->max_page_size
	    : q->limit;
	return 0;
}

static void
vctx(struct request *ctx, struct view_ctx *vc)
{
	memset(vc, 0, sizeof(*vc));
	vc->r = ctx->svc->reader;
	vc->pol = ctx->rt->policy;
	vc->reader = ctx->member;
	vc->rel = NULL;
	vc->max_scan = (size_t)ctx->rt->conf->max_scan;
}

/*
 * Weak validator of an answer, per member: it changes exactly when what
 * this member receives changes (the page's entries, named by their
 * date_added in the collection, which fixes their stored bytes, and
 * `more`), and never with a write it may not see.  Everything hashed is
 * known to the member already.
 */
static void
etag(struct request *ctx, const struct view_query *q,
    const struct view_page *pg, char out[40])
{
	uint64_t v[4], h = HASH_FNV1A64_INIT;
	size_t i;

	v[0] = (uint64_t)ctx->member->code << 32 | ctx->coll->code;
	v[1] = q->fingerprint;
	v[2] = (uint64_t)q->pos;
	v[3] = (uint64_t)pg->n << 1 | (pg->more != 0);
	h = hash_fnv1a64(h, v, sizeof(v));
	for (i = 0; i < pg->n; i++)
		h = hash_fnv1a64(h, &pg->items[i].date_added,
		    sizeof(pg->items[i].date_added));
	snprintf(out, 40, "W/\"%016llx\"", (unsigned long long)h);
}

/* Sets the ETag of the answer; 1 when the client has it already
 * (If-None-Match): then answer 304. */
static int
not_modified(
    struct request *ctx, const struct view_query *q, const struct view_page *pg)
{
	const char *inm = ctx->if_none_match;
	char tag[40];

	etag(ctx, q, pg, tag);
	res_header(ctx, "ETag", tag);
	return inm != NULL && strstr(inm, tag + 2) != NULL;
}

static void
date_headers(struct request *ctx, const struct view_page *pg)
{
	char ts[TSTAMP_LEN];

	if (pg->n == 0)
		return; /* nothing to date: the headers are left out */
	tstamp_format(pg->items[0].date_added, 6, ts);
	res_header(ctx, "X-TAXII-Date-Added-First", ts);
	tstamp_format(pg->items[pg->n - 1].date_added, 6, ts);
	res_header(ctx, "X-TAXII-Date-Added-Last", ts);
}

/* The head of an envelope, manifest or versions resource: '{', "more"
 * and, with more, the sealed token of the next page. */
static void
paging(struct request *ctx, const struct view_query *q,
    const struct view_page *pg, struct buf *b)
{
	char tok[VIEW_TOKEN_MAX];

	if (pg->more &&
	    view_token_make(q, pg, ctx->svc->secret, ctx->member->code,
		ctx->coll->code, tstamp_now(), tok) == -1) {
		b->failed = 1; /* answered 503 */
		tok[0] = '\0';
	}
	render_head(b, pg->more, tok);
}

/* Sends a built page (200, or 503 when building it ran out of memory),
 * ending the read transaction first; frees the body. */
static void
page_reply(struct request *ctx, const struct view_page *pg, struct buf *b)
{
	date_headers(ctx, pg);
	store_rend(ctx->svc->reader);
	if (buf_failed(b))
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
	else
		http_reply(ctx, 200, b);
	buf_clear(b);
}

/* A row of the page failed its checksum (the store logged it): no
 * altered object is ever served, the whole page is refused. */
static void
damaged_reply(struct request *ctx, struct buf *b)
{
	store_rend(ctx->svc->reader);
	buf_clear(b);
	taxii_error(ctx, 500, "Internal Server Error",
	    "a stored object failed its integrity check; the operators are "
	    "told (the hub's log)");
}

/* A page of objects on its way out (http_stream). */
struct objstream {
	struct view_query q; /* owns its decoded values */
	struct view_page pg;
	struct render_env env;
	struct audit *audit; /* NULL: nothing recorded */
	struct buf au;	     /* the receive record, with the ids so far */
};

/* Each object sent: its id into the receive record. */
static void
objects_seen(const struct store_objview *ov, void *arg)
{
	struct objstream *s = arg;

	if (s->env.k > 0)
		buf_addc(&s->au, ',');
	buf_add_jstr(&s->au, ov->id, ov->idlen);
}

static int
objects_more(struct request *ctx, struct buf *b, void *arg)
{
	struct objstream *s = arg;
	int rc;

	if (store_rbegin(ctx->svc->reader) != STORE_OK)
		return -1;
	rc = render_objects(
	    ctx->svc->reader, &s->env, b, b->len + ctx->rt->conf->send_buffer);
	store_rend(ctx->svc->reader);
	return rc;
}

/* Records what was rendered and frees the stream. */
static void
objects_done(void *arg)
{
	struct objstream *s = arg;

	if (s->audit != NULL && s->env.k > 0) {
		buf_addc(&s->au, ']');
		audit_end(s->audit, &s->au);
	}
	buf_clear(&s->au);
	view_page_clear(&s->pg);
	view_query_clear(&s->q);
	hub_free(s);
}

/* Takes q's values and pg's items (both left empty). */
static void
send_objects(struct request *ctx, struct view_query *q, struct view_page *pg)
{
	size_t piece = ctx->rt->conf->send_buffer;
	struct buf b = BUF_INIT;
	struct objstream *s;
	int rc;

	if (pg->n == 0 && !pg->more) {
		buf_adds(&b, "{}");
		page_reply(ctx, pg, &b);
		return;
	}
	if ((s = hub_calloc(1, sizeof(*s))) == NULL) {
		store_rend(ctx->svc->reader);
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
		return;
	}
	s->q = *q;
	if (q->nids > 0 && q->ids[0].type == q->objtype)
		s->q.ids[0].type = s->q.objtype;
	q->store = NULL;
	s->pg = *pg;
	memset(pg, 0, sizeof(*pg));
	s->env.items = s->pg.items;
	s->env.n = s->pg.n;
	/* a HEAD answer carries no object: nothing was received */
	if (audit_on(ctx->svc->audit) && ctx->method != HTTP_HEAD) {
		s->audit = ctx->svc->audit;
		s->env.seen = objects_seen;
		s->env.arg = s;
		audit_begin(&s->au, "receive");
		audit_str(&s->au, "member", ctx->member->id);
		audit_str(&s->au, "collection", ctx->coll->id);
		audit_str(&s->au, "how", "poll");
		buf_adds(&s->au, ",\"ids\":[");
	}
	http_body(ctx, &b,
	    s->pg.n * 1024 + 256 < piece ? s->pg.n * 1024 + 256 : piece);
	paging(ctx, &s->q, &s->pg, &b);
	if ((rc = render_objects(ctx->svc->reader, &s->env, &b, piece)) == -1) {
		s->env.k = 0; /* nothing was received */
		objects_done(s);
		damaged_reply(ctx, &b);
		return;
	}
	date_headers(ctx, &s->pg);
	store_rend(ctx->svc->reader);
	if (buf_failed(&b)) {
		objects_done(s);
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
	} else if (rc == 0) {
		http_reply(ctx, 200, &b); /* the whole page in one piece */
		objects_done(s);
	} else
		http_stream(ctx, 200, &b, objects_more, objects_done, s);
	buf_clear(&b);
}

/* A manifest or versions resource, whole. */
static void
send_list(struct request *ctx, const struct view_query *q,
    const struct view_page *pg, int endpoint)
{
	struct buf b = BUF_INIT;
	int rc;

	if (pg->n == 0 && !pg->more)
		buf_adds(&b, "{}");
	else {
		paging(ctx, q, pg, &b);
		rc = endpoint == VIEW_MANIFEST
		    ? render_manifest(ctx->svc->reader, pg->items, pg->n, &b)
		    : render_versions(ctx->svc->reader, pg->items, pg->n, &b);
		if (rc == -1) {
			damaged_reply(ctx, &b);
			return;
		}
	}
	page_reply(ctx, pg, &b);
}

/* The common body of the four read endpoints. */
static void
read_endpoint(struct request *ctx, int endpoint)
{
	struct view_query q;
	struct view_page pg;
	struct view_ctx vc;
	size_t limit;
	int64_t head;
	int rc;

	if (prepare(ctx, endpoint, &q, &limit) == -1)
		return;
	if (store_rbegin(ctx->svc->reader) != STORE_OK) {
		view_query_clear(&q);
		taxii_error(ctx, 503, "Service Unavailable",
		    "the database cannot be read");
		return;
	}
	/* a poller at the head of the collection: nothing new, no walk */
	if ((endpoint == VIEW_OBJECTS || endpoint == VIEW_MANIFEST) &&
	    q.next == NULL && q.added_after >= 0 &&
	    store_last_added(ctx->svc->reader, ctx->coll->code, &head) ==
		STORE_OK &&
	    q.added_after >= head) {
		struct buf b = BUF_INIT;

		memset(&pg, 0, sizeof(pg)); /* the answer of an empty page */
		store_rend(ctx->svc->reader);
		if (not_modified(ctx, &q, &pg)) {
			view_query_clear(&q);
			http_reply(ctx, 304, NULL); /* frees ctx */
			return;
		}
		view_query_clear(&q);
		buf_adds(&b, "{}");
		http_reply(ctx, 200, &b);
		buf_clear(&b);
		return;
	}
	vctx(ctx, &vc);
	rc = view_page(&vc, &q, ctx->coll->code, limit, &pg);
	if (rc == STORE_ECORRUPT) {
		store_rend(ctx->svc->reader);
		view_query_clear(&q);
		view_page_clear(&pg);
		taxii_error(ctx, 500, "Internal Server Error",
		    "a stored record failed its integrity check; the "
		    "operators are told (the hub's log)");
		return;
	}
	if (rc != STORE_OK) {
		store_rend(ctx->svc->reader);
		view_query_clear(&q);
		view_page_clear(&pg);
		taxii_error(ctx, 503, "Service Unavailable",
		    "the database cannot be read");
		return;
	}
	if ((endpoint == VIEW_OBJECT || endpoint == VIEW_VERSIONS) &&
	    !pg.exists) {
		store_rend(ctx->svc->reader);
		taxii_error(ctx, 404, "Not Found",
		    "no object %s in collection %s", ctx->path.seg[4],
		    ctx->coll->id);
	} else if (not_modified(ctx, &q, &pg)) {
		store_rend(ctx->svc->reader);
		http_reply(ctx, 304, NULL); /* frees ctx */
	} else if (endpoint == VIEW_MANIFEST || endpoint == VIEW_VERSIONS)
		send_list(ctx, &q, &pg, endpoint);
	else
		send_objects(ctx, &q, &pg);
	view_page_clear(&pg);
	view_query_clear(&q);
}

void
taxii_get_objects(struct request *ctx)
{
	read_endpoint(ctx, VIEW_OBJECTS);
}

void
taxii_get_object(struct request *ctx)
{
	read_endpoint(ctx, VIEW_OBJECT);
}

void
taxii_get_versions(struct request *ctx)
{
	read_endpoint(ctx, VIEW_VERSIONS);
}

void
taxii_get_manifest(struct request *ctx)
{
	read_endpoint(ctx, VIEW_MANIFEST);
}

/* --- delete --- */

#define DEL_MAX 1024

struct deljob {
	struct wmsg m; /* WMSG_DELETE: the versions to remove */
	struct request *ctx;
	int rc;
	char id[STORE_MAX_COUNTRIES + 300];
};

static void
del_free(struct deljob *d)
{
	wmsg_clear(&d->m);
	hub_free(d);
}

static void
del_done(struct wmsg *m, int rc)
{
	struct deljob *d = (struct deljob *)m;

	d->rc = rc;
	http_complete(d->ctx);
}

static void
del_finish(struct request *ctx)
{
	struct deljob *d = ctx->job;

	ctx->job = NULL;
	if (d->rc != STORE_OK)
		taxii_error(ctx, 500, "Internal Server Error",
		    "the object could not be deleted");
	else {
		struct buf au = BUF_INIT;

		log_info("%s deleted %d version%s of %s from collection %s",
		    ctx->member->id, d->m.u.del.removed,
		    d->m.u.del.removed == 1 ? "" : "s", d->id, ctx->coll->id);
		audit_begin(&au, "delete");
		audit_str(&au, "member", ctx->member->id);
		audit_str(&au, "collection", ctx->coll->id);
		audit_str(&au, "id", d->id);
		buf_addf(&au, ",\"versions\":%d", d->m.u.del.removed);
		audit_end(ctx->svc->audit, &au);
		buf_clear(&au);
		http_reply(ctx, 200, NULL);
	}
	del_free(d);
}

void
taxii_delete_object(struct request *ctx)
{
	struct view_query q;
	struct view_page pg;
	struct view_ctx vc;
	struct deljob *d;
	struct wmsg_delete *del;
	size_t limit, i;
	int admin = (ctx->member->roles & MEMBER_ADMIN) != 0;

	/* TAXII 2.1 5.7: read and write access, else 403 (404 when the
	 * collection is not visible at all, decided by the router); for
	 * admins too: being an admin decides whose objects one may delete,
	 * not in which collections */
	if (!taxii_can_read(ctx, ctx->coll) ||
	    !taxii_can_write(ctx, ctx->coll)) {
		http_audit_denied(ctx, ctx->coll->id, "delete without write");
		taxii_error(ctx, 403, "Forbidden",
		    "deleting needs read and write access to collection %s",
		    ctx->coll->id);
		return;
	}
	memset(&q, 0, sizeof(q));
	if (prepare(ctx, VIEW_DELETE, &q, &limit) == -1)
		return;
	/* without match[version], every version; without
	 * match[spec_version], every spec version: they only narrow */
	if (q.vflags == 0 && q.nvts == 0)
		q.vflags = VIEW_V_ALL;
	if (q.specs == 0)
		q.specs = 1 | 2;
	if (store_rbegin(ctx->svc->reader) != STORE_OK) {
		view_query_clear(&q);
		taxii_error(ctx, 503, "Service Unavailable",
		    "the database cannot be read");
		return;
	}
	vctx(ctx, &vc);
	if (view_page(&vc, &q, ctx->coll->code, DEL_MAX, &pg) != STORE_OK) {
		store_rend(ctx->svc->reader);
		view_query_clear(&q);
		taxii_error(ctx, 503, "Service Unavailable",
		    "the database cannot be read");
		return;
	}
	store_rend(ctx->svc->reader);
	if (!pg.exists) {
		view_page_clear(&pg);
		view_query_clear(&q);
		taxii_error(ctx, 404, "Not Found",
		    "no object %s in collection %s", ctx->path.seg[4],
		    ctx->coll->id);
		return;
	}
	if ((d = hub_calloc(1, sizeof(*d))) != NULL) {
		wmsg_init(&d->m, WMSG_DELETE);
		d->m.u.del.v = hub_calloc(pg.n + 1, sizeof(*d->m.u.del.v));
	}
	if (d == NULL || d->m.u.del.v == NULL) {
		if (d != NULL)
			del_free(d);
		view_page_clear(&pg);
		view_query_clear(&q);
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
		return;
	}
	/* of the chosen versions, those this member may delete: its own
	 * reports, or any an admin sees (an observable may have several
	 * producers) */
	del = &d->m.u.del;
	for (i = 0; i < pg.n; i++)
		if (admin || pg.items[i].e.producer == ctx->member->code) {
			del->v[del->n].version = pg.items[i].e.version;
			del->v[del->n++].producer = pg.items[i].e.producer;
		}
	if (pg.n > 0 && del->n == 0) {
		del_free(d);
		view_page_clear(&pg);
		view_query_clear(&q);
		taxii_error(ctx, 403, "Forbidden",
		    "only the producer of %s or an admin may delete it",
		    ctx->path.seg[4]);
		return;
	}
	memcpy(del->uuid, q.ids[0].uuid, 16);
	snprintf(del->type, sizeof(del->type), "%s", q.ids[0].type);
	del->coll = ctx->coll->code;
	snprintf(d->id, sizeof(d->id), "%s", ctx->path.seg[4]);
	d->ctx = ctx;
	d->m.done = del_done;
	view_page_clear(&pg);
	view_query_clear(&q);
	if (del->n == 0) {
		/* nothing matched the filters: nothing to do */
		del_free(d);
		http_reply(ctx, 200, NULL);
		return;
	}
	ctx->job = d;
	ctx->finish = del_finish;
	http_park(ctx);
	writer_submit(ctx->svc->writer, &d->m);
}
