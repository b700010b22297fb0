/*
 * taxii_export.c -- blocklists of a collection: GET
 * /{api-root}/collections/{id}/export/{type}.txt and .csv (all.txt and
 * all.csv: every type).  The content is the observables of what the member
 * could read through Get Objects on that collection -- the same walk
 * (view_page, default version last, the query's filters), the same access
 * rule -- that are currently valid (valid_from passed, valid_until in the
 * future) and not
 * revoked, read from each version's obsrow record (no JSON is parsed).
 *
 * The body is streamed (http_stream) in pieces of export_buffer bytes as
 * the client takes them; each piece runs in a read transaction of its
 * own and goes on from where the walk stood (the page of items fixed when
 * it was computed, the item, the position in its obsrow), so a slow client
 * pins neither memory nor LMDB pages.  The walk's bound is fixed by its
 * first page: the export is the collection as it was when it started.
 * HEAD gets the headers only and HTTP/1.0 a 505: the transport builds
 * those answers whole.
 *
 * Text: one value a line, each value once, in the order of first
 * appearance in the collection (date_added order): stable, and a new
 * value appears at the end.  CSV (RFC 4180, export.h for the quoting and
 * the formula defusing): one row per (value, producer), first_seen the
 * date_added of the first visible object of that producer holding it.
 * Distinct values are remembered in an export_set of at most
 * export_values_max values (16 bytes each at most); past it, values are
 * no longer remembered and may repeat (a warning is logged), none is
 * lost.
 *
 * Not here: the store's obsrow records (store.h), the walk (view.h), the
 * transport (http.c).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>
#include <zlib.h>

#include "ctihub/alloc.h"
#include "ctihub/audit.h"
#include "ctihub/export.h"
#include "ctihub/hash.h"
#include "ctihub/log.h"
#include "ctihub/marking.h"
#include "ctihub/observable.h"
#include "ctihub/tstamp.h"
#include "ctihub/view.h"

#include "hub.h"

#define EXPORT_PAGE	  1000 /* versions per view_page */
#define EXPORT_PAGES_CALL 8    /* view_pages in one piece, at most */
#define EXPORT_ETAG_BUCKET                                                     \
	60 /* seconds: expiry moves the ETag this often                     \
	    */

/* Exports running, in the whole process (every worker). */
static atomic_int export_running;

struct export
{
	struct view_query q; /* the walk: owns its decoded values */
	struct view_page pg; /* the page being written */
	int started;	     /* pg holds a page */
	int finished;	     /* the walk is over */
	size_t at;	     /* the next item of pg */
	size_t pos;	     /* ... and the position in its obsrow */
	int type;	     /* enum obs_type; OBS_NONE: all */
	int format;	     /* enum export_format */
	int64_t now;	     /* validity is decided at the start */
	struct export_set seen;
	struct export_pipe pipe; /* lines through seen */
	int full_logged;
	/* gzip */
	int gzip;
	int zinit; /* z is set up */
	z_stream z;
	struct buf raw; /* lines before deflate */
	/* for the audit record and the log */
	struct audit *audit;
	char member[MEMBER_ID_MAX];
	char coll[128];
	char file[32];
};

static int export_more(struct request *, struct buf *, void *);
static void export_done(void *);

/*
 * The validator of an export: it changes whenever the body may.  Hashed:
 * member, collection, type, format, coding, the query's filters, the
 * collection's newest date_added (additions, new versions, revocations,
 * release twins) and newest gone record (deletions) -- of this
 * collection only, so writes elsewhere leave it as it was -- the
 * configuration generation (a policy reload), and the time bucket
 * floor(now / 60), for indicators whose valid_until passes: a 304 may
 * hold an expired value for up to a minute.
 */
static void
etag(struct request *ctx, const struct export *e, int64_t head, int64_t gone,
    char out[40])
{
	uint64_t v[7], h = HASH_FNV1A64_INIT;

	v[0] = (uint64_t)ctx->member->code << 32 | ctx->coll->code;
	v[1] = (uint64_t)e->type << 16 | (uint64_t)e->format << 8 |
	    (uint64_t)e->gzip;
	v[2] = e->q.fingerprint;
	v[3] = (uint64_t)head;
	v[4] = (uint64_t)gone;
	v[5] = (uint64_t)ctx->rt->gen;
	v[6] = (uint64_t)(e->now / 1000000 / EXPORT_ETAG_BUCKET);
	h = hash_fnv1a64(h, v, sizeof(v));
	snprintf(out, 40, "\"x%016llx\"", (unsigned long long)h);
}

/* The producer's id (borrowed until store_rend), or "". */
static void
producer_name(struct request *ctx, uint32_t code, const char **s, size_t *len)
{
	if (store_code_name(ctx->svc->reader, STORE_K_MEMBER, code, s, len) !=
	    STORE_OK) {
		*s = "";
		*len = 0;
	}
}

/* One observable of a row: written unless already written. */
static void
emit(struct request *ctx, struct export *e, const struct store_item *it,
    const struct store_obsrow *row, const struct store_obs_item *ob,
    struct buf *out)
{
	unsigned char dk[STORE_OBS_KEY_MAX + 4];
	char text[OBS_TEXT_MAX + 1];
	const char *v = ob->text;
	size_t vlen = ob->textlen, dlen = ob->keylen, start;
	struct export_row r;

	if (e->type != OBS_NONE && ob->key[0] != e->type)
		return;
	if (v == NULL || vlen == 0) {
		if ((vlen = obs_key_text(ob->key, ob->keylen, text)) == 0)
			return; /* a long key without its text: damaged */
		v = text;
	}
	if (ob->keylen > STORE_OBS_KEY_MAX)
		return;
	memcpy(dk, ob->key, ob->keylen);
	start = export_pipe_start(&e->pipe);
	if (e->format == EXPORT_TXT) {
		if (export_txt_line(&e->pipe.pend, v, vlen) == 0)
			export_pipe_push(&e->pipe, start, dk, dlen, out);
		return;
	}
	memcpy(dk + dlen, &it->e.producer, 4);
	dlen += 4;
	r.value = v;
	r.valuelen = vlen;
	r.type = obs_type_name(ob->key[0]);
	if (r.type == NULL)
		r.type = "";
	{
		/* the level it counts as: unmarked, its producer's default */
		struct policy_obj po = {
		    it->e.producer, it->e.tlp, it->e.flags, NULL, 0};

		r.tlp = marking_tlp_name(
		    (enum tlp)policy_obj_level(ctx->rt->policy, &po));
	}
	r.confidence = row->confidence <= 100 ? row->confidence : -1;
	r.first_seen = it->date_added;
	producer_name(ctx, it->e.producer, &r.producer, &r.producerlen);
	export_csv_line(&e->pipe.pend, &r);
	export_pipe_push(&e->pipe, start, dk, dlen, out);
}

/*
 * The observables of item e->at from e->pos on, until out reaches
 * `target`: 1 when the item is done, 0 when out is full (e->pos saved).
 */
static int
emit_item(struct request *ctx, struct export *e, struct buf *out, size_t target)
{
	const struct store_item *it = &e->pg.items[e->at];
	struct store_obsrow row;
	struct store_obs_item ob;
	int rc;

	if (it->e.flags & STORE_F_REVOKED)
		return 1;
	rc = store_obsrow_get(ctx->svc->reader, it->e.rowid, &row);
	if (rc != STORE_OK) /* none, or damaged (logged): never served */
		return 1;
	if ((row.flags & STORE_OBS_F_REVOKED) || row.valid_until <= e->now ||
	    row.valid_from > e->now)
		return 1;
	while ((rc = store_obsrow_next(&row, &e->pos, &ob)) == 1) {
		emit(ctx, e, it, &row, &ob, out);
		if (out->len + export_pipe_pending(&e->pipe) >= target)
			return 0;
	}
	return 1; /* the end, or a damaged record: what it held so far */
}

/*
 * Writes lines into out until it holds `target` bytes or the walk ends
 * (e->finished), inside a read transaction.  0, or -1 when the store
 * cannot be read.
 */
static int
fill(struct request *ctx, struct export *e, struct buf *out, size_t target)
{
	struct view_ctx vc;
	int pages = 0, rc;

	memset(&vc, 0, sizeof(vc));
	vc.r = ctx->svc->reader;
	vc.pol = ctx->rt->policy;
	vc.reader = ctx->member;
	vc.max_scan = (size_t)ctx->rt->conf->max_scan;
	for (;;) {
		if (!e->started || e->at == e->pg.n) {
			if (e->started && !e->pg.more) {
				e->finished = 1;
				return 0;
			}
			if (pages == EXPORT_PAGES_CALL)
				return 0; /* the next piece goes on */
			if (e->started) {
				if (e->pg.last != 0)
					e->q.pos = e->pg.last;
				e->q.bound = e->pg.bound;
				e->q.relpos = e->pg.relpos;
				view_page_clear(&e->pg);
			}
			rc = view_page(
			    &vc, &e->q, ctx->coll->code, EXPORT_PAGE, &e->pg);
			if (rc != STORE_OK) {
				log_warnx("export %s of %s: the walk failed "
					  "(%d)",
				    e->file, e->coll, rc);
				return -1;
			}
			e->started = 1;
			e->at = e->pos = 0;
			pages++;
			continue;
		}
		if (emit_item(ctx, e, out, target) == 0)
			return 0;
		e->at++;
		e->pos = 0;
		if (out->len + export_pipe_pending(&e->pipe) >= target)
			return 0;
	}
}

/* Deflates e->raw into b (all of it; the end of the stream at `last`).
 * 0, or -1. */
static int
deflate_into(struct export *e, struct buf *b, int last)
{
	int rc;

	e->z.next_in = (unsigned char *)e->raw.data;
	e->z.avail_in = (uInt)e->raw.len;
	do {
		if (buf_reserve(b, 16384) == -1)
			return -1;
		e->z.next_out = (unsigned char *)b->data + b->len;
		e->z.avail_out = (uInt)(b->cap - b->len);
		rc = deflate(&e->z, last ? Z_FINISH : Z_NO_FLUSH);
		if (rc == Z_STREAM_ERROR)
			return -1;
		b->len = b->cap - e->z.avail_out;
	} while (e->z.avail_out == 0 || (last && rc != Z_STREAM_END));
	buf_reset(&e->raw);
	return 0;
}

/* The next piece (http_stream): 1 while more is to come, 0 after the
 * last, -1 to cut the connection. */
static int
export_more(struct request *ctx, struct buf *b, void *arg)
{
	struct export *e = arg;
	struct buf *out = e->gzip ? &e->raw : b;
	size_t target = out->len + ctx->rt->conf->export_buffer;
	int rc;

	if (e->finished)
		return 0;
	if (store_rbegin(ctx->svc->reader) != STORE_OK)
		return -1;
	rc = fill(ctx, e, out, target);
	store_rend(ctx->svc->reader);
	export_pipe_flush(&e->pipe, out);
	if (e->pipe.overflow > 0 && !e->full_logged) {
		e->full_logged = 1;
		log_warnx("export %s of %s for %s: more than %zu distinct "
			  "values (export_values_max): later ones may repeat",
		    e->file, e->coll, e->member, e->seen.max);
	}
	if (rc == -1 || buf_failed(out) || buf_failed(&e->pipe.pend))
		return -1;
	if (e->gzip && deflate_into(e, b, e->finished) == -1)
		return -1;
	return e->finished ? 0 : 1;
}

static void
export_done(void *arg)
{
	struct export *e = arg;
	struct buf au = BUF_INIT;

	if (e->audit != NULL) {
		audit_begin(&au, "export");
		audit_str(&au, "member", e->member);
		audit_str(&au, "collection", e->coll);
		audit_str(&au, "file", e->file);
		buf_addf(&au, ",\"values\":%llu,\"complete\":%s",
		    (unsigned long long)e->pipe.written,
		    e->finished ? "true" : "false");
		audit_end(e->audit, &au);
		buf_clear(&au);
	}
	if (e->zinit)
		deflateEnd(&e->z);
	buf_clear(&e->raw);
	export_pipe_clear(&e->pipe);
	export_set_clear(&e->seen);
	view_page_clear(&e->pg);
	view_query_clear(&e->q);
	hub_free(e);
	atomic_fetch_sub(&export_running, 1);
}

/* Access, name, query: 0 with *e, or -1 after the error reply. */
static int
export_prepare(struct request *ctx, struct export **ep)
{
	struct conf *c = ctx->rt->conf;
	const char *name = ctx->path.seg[ctx->path.nseg - 1];
	unsigned char key[16];
	struct export *e;
	char err[256];
	int type, format;

	if (!taxii_can_read(ctx, ctx->coll)) {
		http_audit_denied(
		    ctx, ctx->coll->id, "export without read access");
		taxii_error(ctx, 403, "Forbidden",
		    "%s may add to collection %s but not read it",
		    ctx->member->id, ctx->coll->id);
		return -1;
	}
	if (export_parse_name(name, &type, &format) == -1) {
		taxii_error(ctx, 404, "Not Found",
		    "no export '%s' (TYPE.txt or TYPE.csv, TYPE an "
		    "observable type or all)",
		    name);
		return -1;
	}
	if ((e = hub_calloc(1, sizeof(*e))) == NULL) {
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
		return -1;
	}
	if (view_parse(&e->q, VIEW_OBJECTS, ctx->path.query, c->members, err,
		sizeof(err)) == -1) {
		hub_free(e);
		taxii_error(ctx, 400, "Bad Request", "%s", err);
		return -1;
	}
	/* a whole export: paging parameters are not the client's */
	e->q.next = NULL;
	e->q.limit = 0;
	e->q.pos = e->q.bound = e->q.relpos = 0;
	e->type = type;
	e->format = format;
	e->now = tstamp_now();
	e->gzip = export_accepts_gzip(ctx->accept_encoding);
	if (RAND_bytes(key, sizeof(key)) != 1) {
		view_query_clear(&e->q);
		hub_free(e);
		taxii_error(ctx, 503, "Service Unavailable", "no randomness");
		return -1;
	}
	export_set_init(&e->seen, (size_t)c->export_values_max, key);
	export_pipe_init(&e->pipe, &e->seen);
	snprintf(e->member, sizeof(e->member), "%s", ctx->member->id);
	snprintf(e->coll, sizeof(e->coll), "%s", ctx->coll->id);
	snprintf(e->file, sizeof(e->file), "%s", name);
	*ep = e;
	return 0;
}

void
taxii_export(struct request *ctx)
{
	struct conf *c = ctx->rt->conf;
	struct buf first = BUF_INIT;
	struct export *e;
	int64_t head = 0, gone = 0;
	char tag[40];
	const char *inm = ctx->if_none_match;
	int rc;

	if (ctx->http10 && ctx->method != HTTP_HEAD) {
		/* HTTP/1.0 has no chunks: the transport would build the
		 * whole body in memory; every blocklist fetcher speaks 1.1 */
		taxii_error(ctx, 505, "HTTP Version Not Supported",
		    "exports are streamed: use HTTP/1.1");
		return;
	}
	if (atomic_fetch_add(&export_running, 1) >= c->export_max) {
		atomic_fetch_sub(&export_running, 1);
		res_header(ctx, "Retry-After", "10");
		taxii_error(ctx, 503, "Service Unavailable",
		    "%lld exports are running (export_max); try again later",
		    c->export_max);
		return;
	}
	if (export_prepare(ctx, &e) == -1) {
		atomic_fetch_sub(&export_running, 1);
		return;
	}
	if (store_rbegin(ctx->svc->reader) != STORE_OK ||
	    store_last_added(ctx->svc->reader, ctx->coll->code, &head) !=
		STORE_OK ||
	    store_gone_last(ctx->svc->reader, ctx->coll->code, &gone) !=
		STORE_OK) {
		store_rend(ctx->svc->reader);
		export_done(e);
		taxii_error(ctx, 503, "Service Unavailable",
		    "the database cannot be read");
		return;
	}
	store_rend(ctx->svc->reader);
	etag(ctx, e, head, gone, tag);
	res_header(ctx, "ETag", tag);
	res_header(ctx, "Vary", "Accept-Encoding");
	res_header(ctx, "Cache-Control", "private, no-cache");
	if (inm != NULL &&
	    (strstr(inm, tag) != NULL || strcmp(inm, "*") == 0)) {
		export_done(e);
		http_reply(ctx, 304, NULL);
		return;
	}
	res_type(ctx,
	    e->format == EXPORT_CSV ? "text/csv; charset=utf-8"
				    : "text/plain; charset=utf-8");
	if (e->gzip) {
		res_header(ctx, "Content-Encoding", "gzip");
		/* windowBits 15 + 16: a gzip wrapper; level 1: the export
		 * is CPU-bound, and blocklists compress well at any level */
		if (deflateInit2(&e->z, 1, Z_DEFLATED, 15 + 16, 8,
			Z_DEFAULT_STRATEGY) != Z_OK) {
			export_done(e);
			taxii_error(
			    ctx, 503, "Service Unavailable", "out of memory");
			return;
		}
		e->zinit = 1;
	}
	if (ctx->method == HTTP_HEAD) {
		/* the headers only: the transport would build a streamed
		 * HEAD answer whole to give its length */
		export_done(e);
		http_reply(ctx, 200, NULL);
		return;
	}
	if (e->format == EXPORT_CSV) {
		if (e->gzip) {
			export_csv_header(&e->raw);
			rc = deflate_into(e, &first, 0);
		} else {
			export_csv_header(&first);
			rc = buf_failed(&first) ? -1 : 0;
		}
		if (rc == -1) {
			export_done(e);
			buf_clear(&first);
			taxii_error(
			    ctx, 503, "Service Unavailable", "out of memory");
			return;
		}
	}
	e->audit = audit_on(ctx->svc->audit) ? ctx->svc->audit : NULL;
	http_stream(ctx, 200, &first, export_more, export_done, e);
	buf_clear(&first);
}
