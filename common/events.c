/*
 * events.c -- the next events of a collection for one reader (see
 * events.h): a page of objects from view_page and the gone records of the
 * same stretch of the date_added clock, filtered alike and merged in
 * order.  Reads only, inside the caller's read transaction; delivering
 * and rendering them is the caller's.
 */
#include <stdint.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/events.h"
#include "ctihub/policy.h"

/* The deletions of a batch, as the gone walk finds them. */
struct gone_arg {
	const struct view_ctx *vc;
	const struct view_query *q;
	uint32_t types[VIEW_MAX_VALUES]; /* q's types, as registry codes */
	struct event *v;
	size_t n, cap, max;
	size_t scanned;
	int64_t last; /* the date of the last record examined */
	int stopped;  /* the walk stopped early (max, max_scan) */
	int rc;
};

static int
batch_grow(struct event **v, size_t *cap, size_t n)
{
	size_t ncap;
	struct event *nv;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 16 : *cap * 2;
	if ((nv = hub_realloc(*v, ncap * sizeof(*nv))) == NULL)
		return -1;
	*v = nv;
	*cap = ncap;
	return 0;
}

static int
spec_of(int flags)
{
	return flags & STORE_F_SPEC20 ? 1 : 2;
}

/* q's filters on a deletion: those of view_page that a gone record can
 * answer (type, producer, TLP, spec version, id), then the visibility. */
static int
gone_wanted(const struct gone_arg *a, const struct store_gone *g)
{
	const struct view_query *q = a->q;
	struct policy_obj po = {
	    g->producer, g->tlp, g->flags, g->release, g->nrelease};
	int i, ok;

	if (q->ntypes > 0) {
		for (i = 0, ok = 0; i < q->ntypes; i++)
			if (a->types[i] != 0 && a->types[i] == g->type)
				ok = 1;
		if (!ok)
			return 0;
	}
	if (q->nproducers != 0) {
		for (i = 0, ok = 0; i < q->nproducers; i++)
			if (q->producers[i] == g->producer)
				ok = 1;
		if (!ok)
			return 0;
	}
	if (q->tlps != 0 &&
	    !(q->tlps & 1u << policy_obj_level(a->vc->pol, &po)))
		return 0;
	if (q->specs != 0 && !(q->specs & spec_of(g->flags)))
		return 0;
	if (q->nids > 0) {
		for (i = 0, ok = 0; i < q->nids; i++)
			if (memcmp(q->ids[i].uuid, g->uuid, 16) == 0 &&
			    q->ids[i].type != NULL && g->id != NULL &&
			    strlen(q->ids[i].type) + 2 < g->idlen &&
			    memcmp(q->ids[i].type, g->id,
				strlen(q->ids[i].type)) == 0 &&
			    g->id[strlen(q->ids[i].type)] == '-')
				ok = 1;
		if (!ok)
			return 0;
	}
	return view_gone_visible(a->vc, g);
}

static int
gone_seen(const struct store_gone *g, void *arg)
{
	struct gone_arg *a = arg;
	struct event *ev;

	if (a->vc->max_scan > 0 && a->scanned == a->vc->max_scan) {
		a->stopped = 1; /* continue after the last one examined */
		return 1;
	}
	a->scanned++;
	a->last = g->date;
	if (!gone_wanted(a, g))
		return 0;
	if (batch_grow(&a->v, &a->cap, a->n) == -1) {
		a->rc = STORE_ERR;
		return 1;
	}
	ev = &a->v[a->n++];
	memset(ev, 0, sizeof(*ev));
	ev->kind = EV_DELETE;
	ev->cursor = g->date;
	ev->producer = g->producer;
	ev->version = g->version;
	ev->tlp = g->tlp;
	ev->item.e.flags = g->flags;
	memcpy(ev->item.e.uuid, g->uuid, 16);
	ev->item.e.type = g->type;
	ev->item.e.producer = g->producer;
	ev->item.e.version = g->version;
	ev->item.e.tlp = g->tlp;
	ev->item.coll = g->coll;
	ev->item.date_added = g->date;
	if (g->idlen < sizeof(ev->id)) {
		memcpy(ev->id, g->id, g->idlen);
		ev->id[g->idlen] = '\0';
	}
	if (a->n == a->max) {
		a->stopped = 1; /* a full batch: nothing past it counts */
		return 1;
	}
	return 0;
}

/* The level an event counts at (for tlp_max). */
static int
event_level(const struct view_ctx *vc, const struct event *ev)
{
	struct policy_obj po = {
	    ev->item.e.producer, ev->item.e.tlp, ev->item.e.flags, NULL, 0};

	return policy_obj_level(vc->pol, &po);
}

static int
batch_add(
    struct event_batch *b, const struct view_ctx *vc, const struct event *ev)
{
	int level;

	if (batch_grow(&b->v, &b->cap, b->n) == -1)
		return -1;
	b->v[b->n++] = *ev;
	level = event_level(vc, ev);
	if (level > b->tlp_max)
		b->tlp_max = (uint8_t)level;
	return 0;
}

int
events_next(const struct view_ctx *vc, const struct view_query *q0,
    uint32_t coll, int64_t cursor, size_t max, struct event_batch *b)
{
	struct view_query q = *q0;
	struct view_page pg;
	struct gone_arg ga;
	struct event ev;
	int64_t end, head;
	size_t i, j;
	int rc, k;

	b->n = 0;
	b->from = b->to = cursor;
	b->more = 0;
	b->tlp_max = 0;
	if (max == 0)
		max = 1;
	/* a fresh walk from the cursor, as a poll with added_after */
	q.added_after = cursor;
	q.pos = cursor;
	q.bound = 0;
	q.relpos = 0;
	q.next = NULL;
	if ((rc = view_page(vc, &q, coll, max, &pg)) != STORE_OK)
		return rc;
	if (pg.more || pg.n == max) {
		/* a full page (view_page's lookahead may have ended it
		 * without `more`): the next batch goes on after it */
		end = pg.last;
		b->more = 1;
	} else {
		if ((rc = store_last_added(vc->r, coll, &head)) != STORE_OK ||
		    (rc = store_clock(vc->r, &end)) != STORE_OK) {
			view_page_clear(&pg);
			return rc;
		}
		if (pg.bound < head)
			end = pg.bound; /* a release in progress */
	}
	if (end < cursor)
		end = cursor;

	memset(&ga, 0, sizeof(ga));
	ga.vc = vc;
	ga.q = &q;
	ga.max = max;
	ga.rc = STORE_OK;
	for (k = 0; k < q.ntypes; k++)
		if (store_code_get(vc->r, STORE_K_TYPE, q.typename[k],
			strlen(q.typename[k]), &ga.types[k]) != STORE_OK)
			ga.types[k] = 0; /* never stored: matches nothing */
	if (q.nproducers >= 0 && end > cursor) {
		rc = store_gone_walk(vc->r, coll, cursor, end, gone_seen, &ga);
		if (rc < 0 || ga.rc != STORE_OK) {
			hub_free(ga.v);
			view_page_clear(&pg);
			return ga.rc != STORE_OK ? ga.rc : rc;
		}
		if (ga.stopped) {
			/* every deletion up to the last examined is known:
			 * the batch ends there */
			end = ga.last;
			b->more = 1;
		}
	}

	/* merged by cursor, up to end and at most max */
	for (i = 0, j = 0; b->n < max;) {
		int obj = i < pg.n && pg.items[i].date_added <= end;
		int del = j < ga.n && ga.v[j].cursor <= end;

		if (!obj && !del)
			break;
		if (obj && (!del || pg.items[i].date_added < ga.v[j].cursor)) {
			memset(&ev, 0, sizeof(ev));
			ev.item = pg.items[i++];
			ev.cursor = ev.item.date_added;
			ev.kind = ev.item.e.flags & STORE_F_REVOKED ? EV_REVOKE
								    : EV_OBJECT;
			ev.producer = ev.item.e.producer;
			ev.version = ev.item.e.version;
			ev.tlp = ev.item.e.tlp;
		} else
			ev = ga.v[j++];
		if (batch_add(b, vc, &ev) == -1) {
			hub_free(ga.v);
			view_page_clear(&pg);
			b->n = 0;
			return STORE_ERR;
		}
	}
	if ((i < pg.n && pg.items[i].date_added <= end) ||
	    (j < ga.n && ga.v[j].cursor <= end)) {
		/* cut at max: the next batch starts after the last one */
		end = b->v[b->n - 1].cursor;
		b->more = 1;
	}
	b->to = end;
	hub_free(ga.v);
	view_page_clear(&pg);
	return STORE_OK;
}

void
event_batch_clear(struct event_batch *b)
{
	hub_free(b->v);
	memset(b, 0, sizeof(*b));
}
