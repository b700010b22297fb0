/*
 * taxii_misp.c -- the hub as a MISP feed: GET
 * /{api-root}/collections/{id}/misp/manifest.json, .../misp/{uuid}.json
 * and .../misp/hashes.csv, so an unmodified MISP can add a collection as
 * a feed (feed_misp.h's export side renders them).
 *
 * The content is what the member could read through Get Objects on that
 * collection -- the same walk (view_page with match[type]=indicator, the
 * latest visible version of each indicator, the same access rule) -- less
 * what the blocklist exports leave out too: revoked versions, and
 * indicators not valid now (valid_from to come, valid_until passed), read
 * from each version's obsrow record; only the labels come from the JSON,
 * and only for an event (the manifest and hashes.csv do not show them).
 *
 * One event per producer and UTC day of date_added (the attribute and
 * event timestamps are date_added too): the collection index is ordered
 * by it, so an event is served by walking its day only, after finding
 * which (member, day) its uuid is among the days the collection spans.
 * The manifest and hashes.csv walk the whole collection.  Bounds: at
 * most export_max of these run at once (a count of their own), and at
 * most misp_max indicators go into one answer (the rest is left
 * out, a warning logged and X-Ctihub-Truncated set).  The answer is built
 * in memory inside one read transaction.
 *
 * ETag: member, collection, file, the collection's newest date_added and
 * newest gone record, the configuration generation and a 60-second time
 * bucket (expiry), as the exports do, and the coding: Accept-Encoding
 * gzip gives a gzip body (level 1, as the exports); If-None-Match gives
 * 304.
 *
 * Each answer with a body is recorded in the audit log (misp: member,
 * collection, file, indicators, complete).
 *
 * Not here: the MISP format (feeds/feed_misp.c), the walk (view.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "ctihub/alloc.h"
#include "ctihub/audit.h"
#include "ctihub/export.h"
#include "ctihub/hash.h"
#include "ctihub/log.h"
#include "ctihub/marking.h"
#include "ctihub/observable.h"
#include "ctihub/tstamp.h"
#include "ctihub/uuid.h"
#include "ctihub/view.h"

#include "../feeds/feed_misp.h"
#include "hub.h"

#define MISP_PAGE	 1000 /* versions per view_page */
#define MISP_MAX_OBS	 64   /* observables of one indicator exported */
#define MISP_ETAG_BUCKET 60   /* seconds: expiry moves the ETag this often */
#define MISP_DAY	 (86400LL * 1000000)

enum misp_file {
	MISP_MANIFEST = 1,
	MISP_HASHES = 2,
	MISP_EVENT = 3,
};

/* Answers running, in the whole process (every worker). */
static atomic_int misp_running;

struct misp_walk {
	struct view_query q;
	struct feed_misp_export *x;
	int64_t now;
	int64_t to; /* the last date_added to take */
	int labels; /* read each indicator's labels (events: their tags) */
	size_t n, max;
	int truncated;
};

static int misp_add(
    struct request *, struct misp_walk *, const struct store_item *);

/* The file of a name: 0 and *kind (and uuid for an event), or -1. */
static int
misp_name(const char *name, int *kind, char uuid[UUID_LEN + 1])
{
	unsigned char u[16];
	size_t n = strlen(name);

	if (strcmp(name, "manifest.json") == 0)
		*kind = MISP_MANIFEST;
	else if (strcmp(name, "hashes.csv") == 0)
		*kind = MISP_HASHES;
	else if (n == UUID_LEN + 5 && strcmp(name + UUID_LEN, ".json") == 0 &&
	    uuid_parse(name, UUID_LEN, u, NULL) == 0) {
		*kind = MISP_EVENT;
		uuid_format(u, uuid);
	} else
		return -1;
	return 0;
}

static void
misp_etag(struct request *ctx, int kind, int gzip, const char *uuid,
    int64_t head, int64_t gone, int64_t now, char out[40])
{
	uint64_t v[6], h = HASH_FNV1A64_INIT;

	v[0] = (uint64_t)ctx->member->code << 32 | ctx->coll->code;
	v[1] = (uint64_t)kind << 8 | (uint64_t)gzip;
	v[2] = (uint64_t)head;
	v[3] = (uint64_t)gone;
	v[4] = (uint64_t)ctx->rt->gen;
	v[5] = (uint64_t)(now / 1000000 / MISP_ETAG_BUCKET);
	h = hash_fnv1a64(h, v, sizeof(v));
	if (uuid != NULL)
		h = hash_fnv1a64(h, uuid, strlen(uuid));
	snprintf(out, 40, "\"m%016llx\"", (unsigned long long)h);
}

/* The audit record of an answer: who read which file, how much. */
static void
misp_audit(struct request *ctx, const char *name, const struct misp_walk *w)
{
	struct buf au = BUF_INIT;

	if (!audit_on(ctx->svc->audit))
		return;
	audit_begin(&au, "misp");
	audit_str(&au, "member", ctx->member->id);
	audit_str(&au, "collection", ctx->coll->id);
	audit_str(&au, "file", name);
	buf_addf(&au, ",\"indicators\":%zu,\"complete\":%s", w->n,
	    w->truncated ? "false" : "true");
	audit_end(ctx->svc->audit, &au);
	buf_clear(&au);
}

/* The gzip form of in (RFC 1952) into out: 0, or -1. */
static int
misp_gzip(const struct buf *in, struct buf *out)
{
	z_stream z;
	int rc;

	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip wrapper; level 1, as the exports */
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return -1;
	z.next_in = (unsigned char *)in->data;
	z.avail_in = (uInt)in->len;
	do {
		if (buf_reserve(out, 65536) == -1) {
			deflateEnd(&z);
			return -1;
		}
		z.next_out = (unsigned char *)out->data + out->len;
		z.avail_out = (uInt)(out->cap - out->len);
		rc = deflate(&z, Z_FINISH);
		out->len = out->cap - z.avail_out;
	} while (rc == Z_OK || rc == Z_BUF_ERROR);
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

/* The member id of a producer code into out; -1 when unknown. */
static int
misp_producer(struct request *ctx, uint32_t code, char out[MEMBER_ID_MAX])
{
	const char *s;
	size_t len;

	if (store_code_name(ctx->svc->reader, STORE_K_MEMBER, code, &s, &len) !=
		STORE_OK ||
	    len == 0 || len >= MEMBER_ID_MAX)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* One visible version: into the export unless revoked or not valid now.
 * 0, or -1 when out of memory. */
static int
misp_add(struct request *ctx, struct misp_walk *w, const struct store_item *it)
{
	struct feed_misp_obs obs[MISP_MAX_OBS];
	const char *labels[FEED_MISP_MAX_LABELS];
	size_t offs[MISP_MAX_OBS], nobs = 0, nlabels = 0, pos = 0, i;
	struct feed_misp_out_item item;
	char producer[MEMBER_ID_MAX], id[128], text[OBS_TEXT_MAX + 1];
	const struct member *m;
	struct store_obsrow row;
	struct store_obs_item ob;
	struct store_objview ov;
	struct buf texts = BUF_INIT;
	json_t *o = NULL, *l;
	int rc = 0;

	if (it->e.flags & STORE_F_REVOKED)
		return 0;
	if (store_obsrow_get(ctx->svc->reader, it->e.rowid, &row) != STORE_OK)
		return 0; /* no observables, or damaged (logged) */
	if ((row.flags & STORE_OBS_F_REVOKED) || row.valid_until <= w->now ||
	    row.valid_from > w->now)
		return 0;
	if (store_obj_of(ctx->svc->reader, &it->e, &ov) != STORE_OK ||
	    ov.idlen >= sizeof(id) ||
	    misp_producer(ctx, it->e.producer, producer) == -1)
		return 0;
	if (w->n == w->max) {
		w->truncated = 1;
		return 0;
	}
	memcpy(id, ov.id, ov.idlen);
	id[ov.idlen] = '\0';
	while (nobs < MISP_MAX_OBS && store_obsrow_next(&row, &pos, &ob) == 1) {
		const char *v = ob.text;
		size_t vlen = ob.textlen;

		if (v == NULL || vlen == 0) {
			if ((vlen = obs_key_text(ob.key, ob.keylen, text)) == 0)
				continue;
			v = text;
		}
		obs[nobs].type = ob.key[0];
		offs[nobs++] = texts.len;
		buf_add(&texts, v, vlen);
		buf_addc(&texts, '\0');
	}
	if (buf_failed(&texts)) {
		rc = -1;
		goto done;
	}
	for (i = 0; i < nobs; i++)
		obs[i].text = texts.data + offs[i];
	/* the labels: the only thing the obsrow record does not hold, and
	 * only an event shows them (as tags) */
	if (w->labels && (o = json_loadb(ov.json, ov.jsonlen, 0, NULL)) != NULL)
		json_array_foreach(json_object_get(o, "labels"), i, l)
		{
			if (nlabels == FEED_MISP_MAX_LABELS)
				break;
			if (json_is_string(l))
				labels[nlabels++] = json_string_value(l);
		}
	memset(&item, 0, sizeof(item));
	item.id = id;
	item.producer = producer;
	m = members_find(ctx->rt->conf->members, producer);
	item.producer_name = m != NULL ? m->name : NULL;
	{
		/* the level it counts as: unmarked, its producer's default */
		struct policy_obj po = {
		    it->e.producer, it->e.tlp, it->e.flags, NULL, 0};

		item.tlp = (enum tlp)policy_obj_level(ctx->rt->policy, &po);
	}
	item.created = item.modified = it->date_added;
	item.labels = labels;
	item.nlabels = nlabels;
	item.obs = obs;
	item.nobs = nobs;
	if (feed_misp_export_add(w->x, &item) == -1)
		rc = -1;
	else
		w->n++;
done:
	json_decref(o);
	buf_clear(&texts);
	return rc;
}

/*
 * Walks the collection from w->q.pos on (inside a read transaction) up to
 * w->to, adding what the member sees.  0, or -1 (the store, memory).
 */
static int
misp_walk(struct request *ctx, struct misp_walk *w)
{
	struct view_ctx vc;
	struct view_page pg;
	size_t i;
	int rc;

	memset(&vc, 0, sizeof(vc));
	vc.r = ctx->svc->reader;
	vc.pol = ctx->rt->policy;
	vc.reader = ctx->member;
	vc.max_scan = (size_t)ctx->rt->conf->max_scan;
	for (;;) {
		if ((rc = view_page(&vc, &w->q, ctx->coll->code, MISP_PAGE,
			 &pg)) != STORE_OK) {
			log_warnx("misp feed of %s: the walk failed (%d)",
			    ctx->coll->id, rc);
			return -1;
		}
		for (i = 0; i < pg.n; i++) {
			if (pg.items[i].date_added > w->to) {
				view_page_clear(&pg);
				return 0;
			}
			if (misp_add(ctx, w, &pg.items[i]) == -1) {
				view_page_clear(&pg);
				return -1;
			}
		}
		if (!pg.more || (pg.last != 0 && pg.last > w->to)) {
			view_page_clear(&pg);
			return 0;
		}
		if (pg.last != 0)
			w->q.pos = pg.last;
		w->q.bound = pg.bound;
		w->q.relpos = pg.relpos;
		view_page_clear(&pg);
	}
}

/*
 * The day (its first microsecond) of the event `uuid` of this
 * collection, and its producer: the member and day, among the configured
 * members and the days from the collection's first to its newest
 * date_added, whose event uuid it is.  0, or -1 when none.
 */
static int
misp_find_day(struct request *ctx, const char *uuid, int64_t head, int64_t *day)
{
	const struct members *ms = ctx->rt->conf->members;
	struct store_item first;
	char u[UUID_LEN + 1];
	int64_t d;
	int i;

	if (ms == NULL || head <= 0 ||
	    store_walk_start(ctx->svc->reader, ctx->coll->code, 0) !=
		STORE_OK ||
	    store_walk_next(ctx->svc->reader, &first) != 1)
		return -1;
	for (d = first.date_added - first.date_added % MISP_DAY; d <= head;
	     d += MISP_DAY)
		for (i = 0; i < ms->n; i++) {
			feed_misp_export_event_uuid(ms->v[i].id, d, u);
			if (strcmp(u, uuid) == 0) {
				*day = d;
				return 0;
			}
		}
	return -1;
}

/* The body of `kind` into out: 200, 404 (no such event for this member)
 * or 503.  Inside a read transaction. */
static int
misp_build(struct request *ctx, int kind, const char *uuid, int64_t head,
    struct misp_walk *w, struct buf *out)
{
	char err[256];
	int64_t day = 0;

	if (view_parse(&w->q, VIEW_OBJECTS, "match[type]=indicator",
		ctx->rt->conf->members, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", __func__, err);
		return 503;
	}
	w->to = INT64_MAX;
	if (kind == MISP_EVENT) {
		if (misp_find_day(ctx, uuid, head, &day) == -1)
			return 404;
		w->q.pos = day - 1;
		w->to = day + MISP_DAY - 1;
		w->labels = 1;
	}
	if (misp_walk(ctx, w) == -1)
		return 503;
	if (w->truncated)
		log_warnx("misp feed of %s for %s: more than %zu indicators "
			  "(misp_max): the rest left out",
		    ctx->coll->id, ctx->member->id, w->max);
	switch (kind) {
	case MISP_MANIFEST:
		return feed_misp_export_manifest(w->x, out) == 0 ? 200 : 503;
	case MISP_HASHES:
		return feed_misp_export_hashes(w->x, out) == 0 ? 200 : 503;
	default:
		if (feed_misp_export_event(w->x, uuid, out) == -1)
			return buf_failed(out) ? 503 : 404;
		return 200;
	}
}

void
taxii_misp(struct request *ctx)
{
	struct conf *c = ctx->rt->conf;
	const char *name = ctx->path.seg[ctx->path.nseg - 1];
	const char *inm = ctx->if_none_match;
	struct misp_walk w;
	struct buf body = BUF_INIT, gz = BUF_INIT;
	char uuid[UUID_LEN + 1], tag[40];
	int64_t head = 0, gone = 0;
	int kind, status, gzip = export_accepts_gzip(ctx->accept_encoding);

	if (!taxii_can_read(ctx, ctx->coll)) {
		http_audit_denied(
		    ctx, ctx->coll->id, "misp feed without read access");
		taxii_error(ctx, 403, "Forbidden",
		    "%s may add to collection %s but not read it",
		    ctx->member->id, ctx->coll->id);
		return;
	}
	if (misp_name(name, &kind, uuid) == -1) {
		taxii_error(ctx, 404, "Not Found",
		    "no MISP feed file '%s' (manifest.json, hashes.csv or "
		    "UUID.json)",
		    name);
		return;
	}
	if (atomic_fetch_add(&misp_running, 1) >= c->export_max) {
		atomic_fetch_sub(&misp_running, 1);
		res_header(ctx, "Retry-After", "10");
		taxii_error(ctx, 503, "Service Unavailable",
		    "%lld MISP feed answers are running (export_max); try "
		    "again later",
		    c->export_max);
		return;
	}
	memset(&w, 0, sizeof(w));
	w.now = tstamp_now();
	w.max = (size_t)c->misp_max;
	if (store_rbegin(ctx->svc->reader) != STORE_OK) {
		atomic_fetch_sub(&misp_running, 1);
		taxii_error(ctx, 503, "Service Unavailable",
		    "the database cannot be read");
		return;
	}
	if (store_last_added(ctx->svc->reader, ctx->coll->code, &head) !=
		STORE_OK ||
	    store_gone_last(ctx->svc->reader, ctx->coll->code, &gone) !=
		STORE_OK) {
		status = 503;
		goto reply;
	}
	misp_etag(ctx, kind, gzip, kind == MISP_EVENT ? uuid : NULL, head, gone,
	    w.now, tag);
	if (inm != NULL &&
	    (strstr(inm, tag) != NULL || strcmp(inm, "*") == 0)) {
		status = 304;
		goto reply;
	}
	if ((w.x = feed_misp_export_new()) == NULL)
		status = 503;
	else
		status = misp_build(ctx, kind, uuid, head, &w, &body);
reply:
	store_rend(ctx->svc->reader);
	feed_misp_export_free(w.x);
	view_query_clear(&w.q);
	atomic_fetch_sub(&misp_running, 1);
	if (status == 200)
		misp_audit(ctx, name, &w);
	if (status == 200 && gzip) {
		if (misp_gzip(&body, &gz) == -1)
			status = 503;
		else {
			buf_clear(&body);
			body = gz;
			gz = (struct buf)BUF_INIT;
		}
	}
	switch (status) {
	case 200:
	case 304:
		res_header(ctx, "ETag", tag);
		res_header(ctx, "Cache-Control", "private, no-cache");
		res_header(ctx, "Vary", "Accept-Encoding");
		if (gzip && status == 200)
			res_header(ctx, "Content-Encoding", "gzip");
		if (w.truncated)
			res_header(ctx, "X-Ctihub-Truncated", "true");
		if (status == 200)
			res_type(ctx,
			    kind == MISP_HASHES ? "text/csv; charset=utf-8"
						: "application/json");
		http_reply(ctx, status, status == 200 ? &body : NULL);
		break;
	case 404:
		taxii_error(ctx, 404, "Not Found",
		    "no event %s in collection %s", uuid, ctx->coll->id);
		break;
	default:
		taxii_error(ctx, 503, "Service Unavailable",
		    "the MISP feed cannot be built now");
		break;
	}
	buf_clear(&body);
	buf_clear(&gz);
}
