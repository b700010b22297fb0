/*
 * writer_apply.c -- what each kind of writer message does inside the
 * write transaction (writer.h): the store calls of the kind, the status
 * resource and publish record stored with an add, the twins of a
 * release, subscription records, and what the commit notification will
 * say of it (deletions and their gone records included).  Runs in the
 * writer thread only, and reads nothing but the message and the
 * transaction, so that an attempt can be made again.  The queue, the
 * groups and the commit are writer.c's.
 */
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/audit.h"
#include "ctihub/marking.h"
#include "ctihub/policy.h"
#include "ctihub/taxii_status.h"
#include "ctihub/tstamp.h"
#include "ctihub/view.h"

#include "writer.h"

/* statuses, and gone records, deleted per message at most */
#define PRUNE_MAX 10000

void
wmsg_init(struct wmsg *m, int kind)
{
	memset(m, 0, sizeof(*m));
	m->kind = kind;
}

void
wmsg_clear(struct wmsg *m)
{
	int i;

	switch (m->kind) {
	case WMSG_ADD:
		ingest_free(&m->u.add.batch);
		break;
	case WMSG_DELETE:
		hub_free(m->u.del.v);
		break;
	case WMSG_RELEASE:
		hub_free(m->u.rel.rec);
		hub_free(m->u.rel.groups);
		hub_free(m->u.rel.events);
		break;
	case WMSG_DIRECTORY:
		for (i = 0; i < m->u.dir.n; i++)
			hub_free(m->u.dir.v[i].json);
		hub_free(m->u.dir.v);
		break;
	case WMSG_SUB:
		hub_free(m->u.sub.val);
		break;
	case WMSG_FEED:
		hub_free(m->u.feed.hdr);
		hub_free(m->u.feed.state);
		break;
	}
	memset(m, 0, sizeof(*m));
}

size_t
wmsg_objects(const struct wmsg *m)
{
	if (m->kind == WMSG_ADD)
		return m->u.add.batch.n;
	if (m->kind == WMSG_DIRECTORY)
		return (size_t)m->u.dir.n;
	return 0;
}

/* --- what the transaction changed --- */

void
wacc_reset(struct wacc *a)
{
	memset(&a->c, 0, sizeof(a->c));
}

void
wacc_free(struct wacc *a)
{
	hub_free(a->colls);
	memset(a, 0, sizeof(*a));
}

static struct wcommit_coll *
acc_coll(struct wacc *a, uint32_t coll)
{
	struct wcommit_coll *c;
	int i;

	for (i = a->c.ncolls - 1; i >= 0; i--)
		if (a->colls[i].coll == coll)
			return &a->colls[i];
	if (a->c.ncolls == a->cap) {
		int cap = a->cap ? a->cap * 2 : 16;

		c = hub_realloc(a->colls, sizeof(*c) * (size_t)cap);
		if (c == NULL)
			return NULL;
		a->colls = c;
		a->cap = cap;
	}
	c = &a->colls[a->c.ncolls++];
	memset(c, 0, sizeof(*c));
	c->coll = coll;
	return c;
}

static void
widen(int64_t *first, int64_t *last, int64_t da)
{
	if (*first == 0 || da < *first)
		*first = da;
	if (da > *last)
		*last = da;
}

/* An entry added to coll at date_added da; -1 when out of memory (the
 * attempt fails: a commit is never published short of a collection). */
static int
acc_added(struct wacc *a, uint32_t coll, int64_t da)
{
	struct wcommit_coll *c;

	if ((c = acc_coll(a, coll)) == NULL)
		return -1;
	c->added++;
	widen(&c->first, &c->last, da);
	a->c.added++;
	widen(&a->c.first, &a->c.last, da);
	return 0;
}

/* n versions deleted from coll, the last gone record dated `gone`. */
static int
acc_removed(struct wacc *a, uint32_t coll, int n, int64_t gone)
{
	struct wcommit_coll *c;

	if (n == 0)
		return 0;
	if ((c = acc_coll(a, coll)) == NULL)
		return -1;
	c->removed += (size_t)n;
	if (gone > c->gone_last)
		c->gone_last = gone;
	a->c.removed += (size_t)n;
	return 0;
}

static int
acc_objects(struct wacc *a, uint32_t coll, const struct store_obj *o)
{
	if (o->json == NULL ||
	    (o->result != STORE_NEW && o->result != STORE_LINKED))
		return 0;
	return acc_added(a, coll, o->date_added);
}

/* --- WMSG_ADD --- */

/* The status resource, rendered from this attempt's results. */
static int
put_status(struct store_wtxn *w, const struct wmsg_add *a)
{
	const struct ingest_batch *b = &a->batch;
	struct buf st = BUF_INIT;
	int rc;

	taxii_status_render(
	    &st, a->status_id, a->status_ts, b->meta, b->objs, b->n);
	rc = buf_failed(&st) ? STORE_ERR
			     : store_wstatus(w, a->status_id, a->producer,
				   a->status_expires, st.data, st.len);
	buf_clear(&st);
	return rc;
}

/* The publish record, stored with the objects it records, so that an
 * acknowledged publish is in the audit trail whatever happens next
 * (audit.h exports it). */
static int
put_publish(struct store_wtxn *w, const struct wmsg_add *a)
{
	const struct ingest_batch *b = &a->batch;
	struct ingest_counts c;
	struct buf au = BUF_INIT;
	size_t i, k = 0;
	int rc;

	ingest_count(b, &c);
	audit_begin(&au, "publish");
	audit_str(&au, "member", a->member);
	audit_str(&au, "collection", a->coll_id);
	if (a->status_id[0] != '\0')
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

static int
apply_add(struct store_wtxn *w, struct wmsg_add *a, struct wacc *acc)
{
	struct ingest_batch *b = &a->batch;
	size_t i;
	int rc;

	if ((rc = store_wput(w, a->coll, a->producer, b->objs, b->n, a->now)) !=
	    STORE_OK)
		return rc;
	if (a->status_id[0] != '\0' && (rc = put_status(w, a)) != STORE_OK)
		return rc;
	if (a->audit && (rc = put_publish(w, a)) != STORE_OK)
		return rc;
	for (i = 0; i < b->n; i++)
		if (acc_objects(acc, a->coll, &b->objs[i]) == -1)
			return STORE_ERR;
	return STORE_OK;
}

/* --- WMSG_DELETE --- */

static int
del_listed(const struct store_version *v, void *arg)
{
	const struct wmsg_delete *d = arg;
	int i;

	for (i = 0; i < d->n; i++)
		if (d->v[i].version == v->version &&
		    d->v[i].producer == v->producer)
			return 1;
	return 0;
}

static int
apply_delete(struct store_wtxn *w, struct wmsg_delete *d, struct wacc *acc)
{
	int rc;

	rc = store_wdelete(
	    w, d->coll, d->type, d->uuid, 0, del_listed, d, &d->removed);
	/* each version deleted left a gone record, the last of them dated
	 * by the clock's latest value */
	if (rc == STORE_OK &&
	    acc_removed(acc, d->coll, d->removed, store_wlast_added(w)) == -1)
		rc = STORE_ERR;
	return rc;
}

/* --- WMSG_RELEASE --- */

/* A twin scan: the twin `want` accepted last is written by the time the
 * store asks again (or returns), and its date_added is then the last the
 * transaction handed out. */
struct twins {
	const struct wmsg_release *r;
	struct store_wtxn *w;
	struct wacc *acc;
	int pending;
	uint32_t coll;
	int err;
};

static void
twin_written(struct twins *t)
{
	if (!t->pending)
		return;
	t->pending = 0;
	if (acc_added(t->acc, t->coll, store_wlast_added(t->w)) == -1)
		t->err = 1;
}

static int
want_twin(uint32_t coll, int64_t da, const struct store_entry *e, void *arg)
{
	struct twins *t = arg;
	const struct wmsg_release *r = t->r;
	int i;

	twin_written(t);
	if (da >= (int64_t)r->event)
		return 0; /* added under the new policy: nothing to release */
	for (i = 0; i < r->ngroups; i++)
		if (r->groups[i].producer == e->producer &&
		    r->groups[i].level == e->tlp) {
			t->pending = 1;
			t->coll = coll;
			return 1;
		}
	return 0;
}

static int
close_event(struct store_wtxn *w, uint64_t event, int kind)
{
	unsigned char m[VIEW_REL_MARKER_LEN];
	uint64_t id;

	view_release_marker(m, kind, event);
	return store_wrelease(w, &id, m, sizeof(m), tstamp_now());
}

static int
apply_release(struct store_wtxn *w, struct wmsg_release *r, struct wacc *acc)
{
	static const unsigned char zero[12];
	struct twins t;
	int i, rc;

	r->new_event = 0;
	memcpy(r->next, r->resume, sizeof(r->next));
	r->added = 0;
	r->closed = 0;
	switch (r->op) {
	case WREL_EVENT:
		return store_wrelease(
		    w, &r->new_event, r->rec, r->reclen, tstamp_now());
	case WREL_TWINS:
		memset(&t, 0, sizeof(t));
		t.r = r;
		t.w = w;
		t.acc = acc;
		rc = store_wtwins(w, r->event, want_twin, &t, tstamp_now(),
		    r->next, r->slice, &r->added);
		if (rc == STORE_OK)
			twin_written(&t);
		if (rc != STORE_OK || t.err)
			return rc != STORE_OK ? rc : STORE_ERR;
		if (r->close == 0 || memcmp(r->next, zero, 12) != 0)
			return STORE_OK;
		/* the close after the last twins, in their transaction */
		if ((rc = close_event(w, r->event, r->close)) == STORE_OK)
			r->closed = 1;
		return rc;
	case WREL_CLOSE:
		for (i = 0; i < r->nevents; i++) {
			if ((rc = close_event(w, r->events[i], r->close)) !=
			    STORE_OK)
				return rc;
			r->closed++;
		}
		return STORE_OK;
	}
	return STORE_ERR;
}

/* --- WMSG_DIRECTORY --- */

static int
apply_directory(
    struct store_wtxn *w, struct wmsg_directory *d, struct wacc *acc)
{
	struct store_obj *objs;
	int i, rc;

	if (d->n == 0)
		return STORE_OK;
	if ((objs = hub_calloc((size_t)d->n, sizeof(*objs))) == NULL)
		return STORE_ERR;
	for (i = 0; i < d->n; i++) {
		const struct wdir_ident *v = &d->v[i];
		struct store_obj *o = &objs[i];

		o->json = v->json;
		o->jsonlen = strlen(v->json);
		o->id = v->id;
		o->idlen = strlen(v->id);
		memcpy(o->uuid, v->uuid, 16);
		o->version = v->modified;
		o->tlp = TLP_CLEAR;
		if (v->revoked)
			o->flags |= STORE_F_REVOKED;
	}
	rc = store_wput(
	    w, d->coll, POLICY_HUB_PRODUCER, objs, (size_t)d->n, tstamp_now());
	for (i = 0; i < d->n && rc == STORE_OK; i++) {
		d->v[i].result = objs[i].result;
		d->v[i].date_added = objs[i].date_added;
		if (acc_objects(acc, d->coll, &objs[i]) == -1)
			rc = STORE_ERR;
	}
	hub_free(objs);
	return rc;
}

/* --- WMSG_PRUNE --- */

static int
apply_prune(struct store_wtxn *w, struct wmsg_prune *p)
{
	int rc;

	p->statuses = 0;
	p->gone = 0;
	if (p->audit_upto != 0 &&
	    (rc = store_waudit_trim(w, p->audit_upto)) != STORE_OK)
		return rc;
	if (p->status_before == 0 && p->gone_before == 0)
		return STORE_OK;
	return store_wprune(w, p->status_before, p->gone_before,
	    p->max > 0 ? p->max : PRUNE_MAX, &p->statuses, &p->gone);
}

/* --- WMSG_SUB --- */

static int
apply_sub(struct store_wtxn *w, struct wmsg_sub *s)
{
	if (s->del)
		return store_wsub_del(w, s->name);
	return store_wsub_put(w, s->name, s->val, s->len);
}

/* --- WMSG_FEED --- */

static int
apply_feed(struct store_wtxn *w, struct wmsg_feed *f)
{
	int rc;

	if ((rc = store_wfeed_put(w, f->name, 'h', f->hdr, f->hdrlen)) !=
	    STORE_OK)
		return rc;
	if (!f->state_set)
		return STORE_OK;
	if (f->statelen == 0)
		return store_wfeed_del(w, f->name, 's');
	return store_wfeed_put(w, f->name, 's', f->state, f->statelen);
}

int
wmsg_apply(struct store_wtxn *w, struct wmsg *m, struct wacc *acc)
{
	switch (m->kind) {
	case WMSG_ADD:
		return apply_add(w, &m->u.add, acc);
	case WMSG_DELETE:
		return apply_delete(w, &m->u.del, acc);
	case WMSG_RELEASE:
		return apply_release(w, &m->u.rel, acc);
	case WMSG_DIRECTORY:
		return apply_directory(w, &m->u.dir, acc);
	case WMSG_PRUNE:
		return apply_prune(w, &m->u.prune);
	case WMSG_SUB:
		return apply_sub(w, &m->u.sub);
	case WMSG_FEED:
		return apply_feed(w, &m->u.feed);
	}
	return STORE_ERR;
}
