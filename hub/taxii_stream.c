/*
 * taxii_stream.c -- GET /{root}/collections/{coll}/stream/: the
 * collection as Server-Sent Events, for members that cannot open an
 * inbound port.  Each event is an object version entering the collection
 * for this member (event: object), a revocation (revoke) or a deletion
 * (delete), in date_added order, exactly what polling objects/ with
 * added_after and the same filters gives (events.h); its id is the cursor
 * (a timestamp), so a reconnection with Last-Event-ID resumes right after
 * it.  The stream sleeps between commits (HTTP_STREAM_WAIT: the transport
 * wakes it when a commit touches the collection, and for a keep-alive
 * comment every stream_heartbeat); each piece is read in a read
 * transaction of its own, under the worker's newest configuration and
 * policy, and ends the stream when the member may no longer read.
 * Streams are counted hub-wide against max_streams.  The transport
 * (http.c) owns the connection.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/events.h"
#include "ctihub/log.h"
#include "ctihub/subscription.h"
#include "ctihub/taxii_render.h"
#include "ctihub/tstamp.h"
#include "ctihub/view.h"

#include "hub.h"
#include "push.h"
#include "writer.h"

#define SSE_MEDIA "text/event-stream"

/* One open stream. */
struct sse {
	struct view_query q; /* the filters (owns its decoded values) */
	int64_t cursor;	     /* the last event sent, or past it */
	int64_t last;	     /* tstamp_mono of the last piece */
	_Atomic long long *count;
};

static void
sse_done(void *arg)
{
	struct sse *s = arg;

	atomic_fetch_sub(s->count, 1);
	view_query_clear(&s->q);
	hub_free(s);
}

/*
 * A reload since the last piece: the member, root and collection again
 * from the worker's new snapshot, which the request then holds.  -1 when
 * the member is gone or may no longer read the collection (the stream
 * ends).
 */
static int
sse_renew(struct request *ctx)
{
	struct runtime *now = http_runtime(ctx);
	const struct conf_root *root;
	const struct conf_collection *coll;
	const struct member *m;
	struct request probe;

	if (now == ctx->rt)
		return 0;
	if ((m = members_find(now->conf->members, ctx->member->id)) == NULL ||
	    (root = conf_root_find(now->conf, ctx->root->name,
		 strlen(ctx->root->name))) == NULL ||
	    (coll = conf_coll_find(
		 root, ctx->coll->id, strlen(ctx->coll->id))) == NULL)
		return -1;
	memset(&probe, 0, sizeof(probe));
	probe.member = m;
	if (!taxii_can_read(&probe, coll))
		return -1;
	runtime_ref(now);
	runtime_unref(ctx->rt);
	ctx->rt = now;
	ctx->member = m;
	ctx->root = root;
	ctx->coll = coll;
	return 0;
}

/* One event into b: 0, or -1 when its stored object is damaged (never
 * served: the stream is cut, as a poll would answer 500). */
static int
sse_event(struct request *ctx, const struct event *ev, struct buf *b,
    struct buf *au, int *nids)
{
	struct store_objview ov;
	char ts[TSTAMP_LEN];
	int rc;

	tstamp_format(ev->cursor, 6, ts);
	if (ev->kind == EV_DELETE) {
		buf_addf(b, "id: %s\nevent: delete\ndata: {\"id\":", ts);
		buf_add_jstr(b, ev->id, strlen(ev->id));
		if (ev->version != STORE_NO_VERSION) {
			tstamp_format(
			    ev->version, ev->version % 1000 == 0 ? 3 : 6, ts);
			buf_addf(b, ",\"version\":\"%s\"", ts);
		}
		buf_adds(b, "}\n\n");
		return 0;
	}
	rc = store_obj_of(ctx->svc->reader, &ev->item.e, &ov);
	if (rc == STORE_ENOTFOUND)
		return 0; /* deleted meanwhile: its deletion follows */
	if (rc != STORE_OK)
		return -1;
	buf_addf(b, "id: %s\nevent: %s\ndata: ", ts,
	    ev->kind == EV_REVOKE ? "revoke" : "object");
	buf_add(b, ov.json, ov.jsonlen);
	buf_adds(b, "\n\n");
	if (au != NULL) {
		if ((*nids)++ > 0)
			buf_addc(au, ',');
		buf_add_jstr(au, ov.id, ov.idlen);
	}
	return 0;
}

/* The next piece: the events after the cursor, at most about send_buffer
 * bytes; a keep-alive comment when there is nothing and the stream would
 * be silent for stream_heartbeat by the transport's next beat. */
static int
sse_more(struct request *ctx, struct buf *b, void *arg)
{
	struct sse *s = arg;
	const struct conf *c;
	struct event_batch eb;
	struct view_ctx vc;
	struct buf au = BUF_INIT, *aup = NULL;
	size_t i;
	int partial = 0, more, nids = 0, rc;
	int64_t now;

	if (sse_renew(ctx) == -1) {
		log_info("%s: stream of %s ends: %s may no longer read it",
		    ctx->peer, ctx->coll->id, ctx->member->id);
		return 0;
	}
	c = ctx->rt->conf;
	if (store_rbegin(ctx->svc->reader) != STORE_OK)
		return -1;
	memset(&vc, 0, sizeof(vc));
	vc.r = ctx->svc->reader;
	vc.pol = ctx->rt->policy;
	vc.reader = ctx->member;
	vc.max_scan = (size_t)c->max_scan;
	memset(&eb, 0, sizeof(eb));
	rc = events_next(&vc, &s->q, ctx->coll->code, s->cursor,
	    (size_t)c->max_page_size, &eb);
	if (rc != STORE_OK) {
		store_rend(ctx->svc->reader);
		event_batch_clear(&eb);
		return -1;
	}
	if (eb.n > 0 && audit_on(ctx->svc->audit)) {
		aup = &au;
		audit_begin(&au, "receive");
		audit_str(&au, "member", ctx->member->id);
		audit_str(&au, "collection", ctx->coll->id);
		audit_str(&au, "how", "stream");
		buf_adds(&au, ",\"ids\":[");
	}
	for (i = 0; i < eb.n; i++) {
		if (b->len >= c->send_buffer) {
			partial = 1; /* the rest in the next piece */
			break;
		}
		if (sse_event(ctx, &eb.v[i], b, aup, &nids) == -1) {
			log_warnx("%s: stream of %s cut: a stored object "
				  "failed its integrity check",
			    ctx->peer, ctx->coll->id);
			store_rend(ctx->svc->reader);
			event_batch_clear(&eb);
			buf_clear(&au);
			return -1;
		}
		s->cursor = eb.v[i].cursor;
	}
	if (!partial)
		s->cursor = eb.to; /* past what this member may not see */
	more = partial || eb.more;
	store_rend(ctx->svc->reader);
	event_batch_clear(&eb);
	if (aup != NULL && nids > 0) {
		buf_addc(&au, ']');
		audit_end(ctx->svc->audit, &au);
	}
	buf_clear(&au);
	now = tstamp_mono();
	if (b->len > 0) {
		s->last = now;
		return more ? 1 : HTTP_STREAM_WAIT;
	}
	if (more)
		return 1;
	if (now - s->last + HTTP_BEAT_US >=
	    (int64_t)c->stream_heartbeat * 1000000) {
		buf_adds(b, ": keep-alive\n\n");
		s->last = now;
	}
	return HTTP_STREAM_WAIT;
}

/*
 * A `mode stream` subscription of the member to this collection keeps
 * the stream's cursor in the database like push's (push_state, table
 * subs): a stream opened without Last-Event-ID or added_after starts
 * there, and a Last-Event-ID the client sends acknowledges everything up
 * to it (the cursor moves there).  Without a subscription a stream
 * starts now.
 */
static const struct subscription *
stream_sub(const struct request *ctx, const struct sub_coll **sc)
{
	const struct subscriptions *subs = ctx->rt->conf->subs;
	int i, j;

	for (i = 0; subs != NULL && i < subs->n; i++) {
		const struct subscription *sub = &subs->v[i];

		if (sub->mode != SUB_STREAM ||
		    strcmp(sub->member, ctx->member->id) != 0)
			continue;
		for (j = 0; j < sub->ncolls; j++)
			if (strcmp(sub->colls[j].id, ctx->coll->id) == 0) {
				*sc = &sub->colls[j];
				return sub;
			}
	}
	return NULL;
}

/* The subscription's state as stored (zero when none). */
static void
sub_state(struct request *ctx, const char *key, struct push_state *ps)
{
	memset(ps, 0, sizeof(*ps));
	if (store_rbegin(ctx->svc->reader) != STORE_OK)
		return;
	push_state_get(ctx->svc->reader, key, ps);
	store_rend(ctx->svc->reader);
}

static void
ack_done(struct wmsg *m, int rc)
{
	if (rc != STORE_OK)
		log_warnx(
		    "stream: the cursor of %s was not saved", m->u.sub.name);
	wmsg_clear(m);
	hub_free(m);
}

/* The client acknowledged up to `cursor` (its Last-Event-ID). */
static void
sub_ack(
    struct request *ctx, const char *key, struct push_state *ps, int64_t cursor)
{
	struct wmsg *m;

	if (cursor <= ps->cursor || (m = hub_malloc(sizeof(*m))) == NULL)
		return;
	ps->cursor = cursor;
	ps->last_ok = tstamp_now();
	if (push_state_msg(m, key, ps) == -1) {
		wmsg_clear(m);
		hub_free(m);
		return;
	}
	m->done = ack_done;
	writer_submit(ctx->svc->writer, m);
}

void
taxii_stream(struct request *ctx)
{
	const struct sub_coll *sc = NULL;
	const struct subscription *sub = stream_sub(ctx, &sc);
	struct push_state ps;
	char key[PUSH_KEY_MAX];
	const struct conf *c = ctx->rt->conf;
	struct view_query q;
	struct buf first = BUF_INIT;
	struct sse *s;
	int64_t cursor = 0;
	char err[256];

	if (!taxii_can_read(ctx, ctx->coll)) {
		http_audit_denied(
		    ctx, ctx->coll->id, "stream without read access");
		taxii_error(ctx, 403, "Forbidden",
		    "%s may add to collection %s but not read it",
		    ctx->member->id, ctx->coll->id);
		return;
	}
	/* a subscriber's stream takes its subscription's filters unless it
	 * gives its own */
	if (view_parse(&q, VIEW_OBJECTS,
		sub != NULL &&
			(ctx->path.query == NULL || ctx->path.query[0] == '\0')
		    ? sub->query
		    : ctx->path.query,
		c->members, err, sizeof(err)) == -1) {
		view_query_clear(&q);
		taxii_error(ctx, 400, "Bad Request", "%s", err);
		return;
	}
	if (sub != NULL) {
		push_state_key(sub->name, sc->id, key, sizeof(key));
		sub_state(ctx, key, &ps);
	}
	if (q.next != NULL) {
		view_query_clear(&q);
		taxii_error(ctx, 400, "Bad Request",
		    "next: a stream has no pages; resume with Last-Event-ID "
		    "or added_after");
		return;
	}
	/* where it starts: after Last-Event-ID, else after added_after,
	 * else now (a live tail) */
	if (ctx->last_event_id != NULL) {
		if (tstamp_parse(ctx->last_event_id, strlen(ctx->last_event_id),
			&cursor) != 0 ||
		    cursor < 0) {
			view_query_clear(&q);
			taxii_error(ctx, 400, "Bad Request",
			    "Last-Event-ID: '%.64s' is not an event id of "
			    "this stream (a timestamp)",
			    ctx->last_event_id);
			return;
		}
		if (sub != NULL)
			sub_ack(ctx, key, &ps, cursor);
	} else if (q.added_after >= 0)
		cursor = q.added_after;
	else if (sub != NULL)
		cursor = ps.cursor; /* from the beginning when it has none */
	else {
		int rc = store_rbegin(ctx->svc->reader);

		if (rc == STORE_OK)
			rc = store_clock(ctx->svc->reader, &cursor);
		store_rend(ctx->svc->reader);
		if (rc != STORE_OK) {
			view_query_clear(&q);
			taxii_error(ctx, 503, "Service Unavailable",
			    "the database cannot be read");
			return;
		}
	}
	res_type(ctx, SSE_MEDIA);
	res_header(ctx, "X-Accel-Buffering", "no");
	if (ctx->method == HTTP_HEAD) {
		view_query_clear(&q);
		http_reply(ctx, 200, NULL);
		return;
	}
	if (atomic_fetch_add(ctx->svc->streams, 1) >= c->max_streams) {
		atomic_fetch_sub(ctx->svc->streams, 1);
		view_query_clear(&q);
		res_header(ctx, "Retry-After", "30");
		taxii_error(ctx, 503, "Service Unavailable",
		    "too many event streams are open (max_streams %lld); "
		    "retry later or poll objects/",
		    c->max_streams);
		return;
	}
	if ((s = hub_calloc(1, sizeof(*s))) == NULL) {
		atomic_fetch_sub(ctx->svc->streams, 1);
		view_query_clear(&q);
		taxii_error(ctx, 503, "Service Unavailable", "out of memory");
		return;
	}
	s->q = q; /* takes its values */
	s->cursor = cursor;
	s->last = tstamp_mono();
	s->count = ctx->svc->streams;
	http_stream(ctx, 200, &first, sse_more, sse_done, s);
	ctx->res.live = 1;
}
