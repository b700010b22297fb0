/*
 * lookup.c -- a batch of values looked up in the observable index under
 * the sharing policy (lookup.h): normalise each value, make its probes
 * (its key; for IP addresses the ranges that may hold it, one per prefix
 * length the index holds; for ranges the keys inside), read them in key
 * order, decide each row found once per batch (the latest version the
 * member may see in a collection it may read), expand file hashes through
 * the rows it may see (cross-hash), and assemble the results in input
 * order; their JSON, whole or piece by piece.  Also the API's requests:
 * the query string and the JSON body (Jansson), parsed into values.  No
 * HTTP, no audit: hub/taxii_lookup.c and hub/cli_lookup.c.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/log.h"
#include "ctihub/lookup.h"
#include "ctihub/marking.h"
#include "ctihub/member.h"
#include "ctihub/observable.h"
#include "ctihub/tstamp.h"

/* arena chunks: the first small (one value's lookup needs a few hundred
 * bytes), each next twice the last, up to CHUNK */
#define CHUNK_FIRST 2048
#define CHUNK	    65536

struct chunk {
	struct chunk *next;
	size_t used, size;
	unsigned char data[];
};

/* A key to read: one key, or the keys lo..hi (range). */
struct probe {
	const unsigned char *key, *hi;
	uint16_t keylen, hilen;
	int vi;	     /* the value it is for */
	uint8_t how; /* enum lookup_how of what it finds */
	uint8_t via; /* cross-hash: the type of the key */
	uint8_t range;
	const char *text; /* cross-hash: the key's text when given */
	uint16_t textlen;
};

struct hit {
	int vi;
	int row; /* index into rows, once decided */
	uint64_t rowid;
	uint8_t how, via;
	const unsigned char *key; /* borrowed until store_rend */
	uint16_t keylen;
	const char *text; /* cross-hash: the key's text */
	uint16_t textlen;
};

struct lookup {
	const struct view_ctx *vc;
	const struct lookup_coll *colls;
	int ncoll;
	const struct lookup_opts *o;
	const struct members *members;
	struct obs *obs; /* normalisation scratch (4 KB) */
	struct chunk *chunks;
	struct lookup_result *res;
	int n;
	const unsigned char **vkey; /* each value's own key */
	uint16_t *vkeylen;
	struct probe *pr;
	size_t npr, cappr;
	struct hit *hits;
	size_t nhits, caphits;
	struct lookup_row *rows;
	size_t nrows, caprows;
	int *slot; /* rowid hash -> rows index + 1 */
	size_t nslot;
	size_t scanned;
	int rc;
	/* per-collection scratch of the row decision */
	int64_t *max21, *max20, *own;
};

static void *a_alloc(struct lookup *, size_t);
static char *a_strndup(struct lookup *, const char *, size_t);
static int add_probe(struct lookup *, const struct probe *);
static int add_hit(struct lookup *, const struct hit *);
static int value_probes(struct lookup *, int, uint64_t[2][2]);
static int cmp_probe(const void *, const void *);
static int on_row(
    const unsigned char *, size_t, const struct store_obs_row *, void *);
static int run_probes(struct lookup *, size_t);
static int row_of(struct lookup *, uint64_t);
static int row_decide(struct lookup *, struct lookup_row *);
static int vers_cb(const struct store_version *, void *);
static void row_extra(struct lookup *, struct lookup_row *);
static int is_hash(int);
static int cross_hash(struct lookup *);
static int cmp_hit(const void *, const void *);
static int assemble(struct lookup *);
static char *key_text(struct lookup *, const unsigned char *, size_t);
static int valid_now(const struct lookup *, const struct lookup_row *);

static void *
a_alloc(struct lookup *lk, size_t n)
{
	struct chunk *c = lk->chunks;
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (c == NULL || c->size - c->used < n) {
		size_t sz = c == NULL  ? CHUNK_FIRST
		    : c->size >= CHUNK ? CHUNK
				       : c->size * 2;

		if (sz < n)
			sz = n;

		if ((c = hub_malloc(sizeof(*c) + sz)) == NULL)
			return NULL;
		c->size = sz;
		c->used = 0;
		c->next = lk->chunks;
		lk->chunks = c;
	}
	p = c->data + c->used;
	c->used += n;
	return p;
}

static char *
a_strndup(struct lookup *lk, const char *s, size_t n)
{
	char *p = a_alloc(lk, n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static int
add_probe(struct lookup *lk, const struct probe *p)
{
	if (lk->npr == lk->cappr) {
		size_t cap = lk->cappr ? lk->cappr * 2 : 16;
		struct probe *v = hub_realloc(lk->pr, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		lk->pr = v;
		lk->cappr = cap;
	}
	lk->pr[lk->npr++] = *p;
	return 0;
}

static int
add_hit(struct lookup *lk, const struct hit *h)
{
	if (lk->nhits == lk->caphits) {
		size_t cap = lk->caphits ? lk->caphits * 2 : 16;
		struct hit *v = hub_realloc(lk->hits, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		lk->hits = v;
		lk->caphits = cap;
	}
	lk->hits[lk->nhits++] = *h;
	return 0;
}

/* A copy of a key in the arena, as a probe of value vi. */
static int
probe_key(struct lookup *lk, int vi, const unsigned char *k, size_t len,
    const unsigned char *hi, size_t hilen, int how)
{
	struct probe p;
	unsigned char *c;

	memset(&p, 0, sizeof(p));
	if ((c = a_alloc(lk, len + hilen)) == NULL)
		return -1;
	memcpy(c, k, len);
	p.key = c;
	p.keylen = (uint16_t)len;
	if (hi != NULL) {
		memcpy(c + len, hi, hilen);
		p.hi = c + len;
		p.hilen = (uint16_t)hilen;
		p.range = 1;
	}
	p.vi = vi;
	p.how = (uint8_t)how;
	return add_probe(lk, &p);
}

/* Normalises value vi and adds its probes; a bad value is a result. */
static int
value_probes(struct lookup *lk, int vi, uint64_t pfx[2][2])
{
	struct lookup_result *r = &lk->res[vi];
	struct obs *o = lk->obs;
	unsigned char lo[OBS_IP_KEYLEN_MAX], hi[OBS_IP_KEYLEN_MAX], *c;
	char err[OBS_ERRLEN];
	int p, v6;
	size_t kl;

	if (r->type < 0 || r->type > OBS_TYPE_MAX) {
		r->ok = 0;
		r->type = OBS_NONE;
		r->err = a_strndup(lk, "unknown type", 12);
		return r->err == NULL ? -1 : 0;
	}
	if (obs_normalise(r->type, r->value, r->len, o, err, sizeof(err)) ==
	    -1) {
		r->ok = 0;
		r->err = a_strndup(lk, err, strlen(err));
		return r->err == NULL ? -1 : 0;
	}
	r->ok = 1;
	r->type = o->type;
	if ((r->canon = a_strndup(lk, o->text, o->len)) == NULL ||
	    (c = a_alloc(lk, o->keylen)) == NULL)
		return -1;
	memcpy(c, o->key, o->keylen);
	lk->vkey[vi] = c;
	lk->vkeylen[vi] = (uint16_t)o->keylen;
	if (o->type != OBS_IPV4 && o->type != OBS_IPV6)
		return probe_key(
		    lk, vi, o->key, o->keylen, NULL, 0, LOOKUP_EXACT);
	v6 = o->type == OBS_IPV6;
	if (o->prefix == (v6 ? 128 : 32)) {
		if (probe_key(
			lk, vi, o->key, o->keylen, NULL, 0, LOOKUP_EXACT) == -1)
			return -1;
	} else {
		/* itself and every address and range inside it */
		kl = obs_ip_bounds(o, lo, hi);
		if (probe_key(lk, vi, lo, kl, hi, kl, LOOKUP_CONTAINS) == -1)
			return -1;
	}
	/* the ranges that may hold it: the prefix lengths the index has */
	for (p = 0; p < o->prefix; p++) {
		if (!(pfx[v6][p >> 6] >> (p & 63) & 1))
			continue;
		kl = obs_ip_key(o, p, lo);
		if (kl > 0 &&
		    probe_key(lk, vi, lo, kl, NULL, 0, LOOKUP_IN_RANGE) == -1)
			return -1;
	}
	return 0;
}

static int
cmp_probe(const void *a, const void *b)
{
	const struct probe *x = a, *y = b;
	size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	return x->keylen < y->keylen ? -1 : x->keylen > y->keylen ? 1 : 0;
}

struct scan {
	struct lookup *lk;
	const struct probe *p;
};

/* Each row under a probed key. */
static int
on_row(const unsigned char *key, size_t len, const struct store_obs_row *row,
    void *arg)
{
	struct scan *s = arg;
	struct lookup *lk = s->lk;
	const struct probe *p = s->p;
	struct hit h;

	if (lk->scanned >= lk->o->max_scan) {
		lk->res[p->vi].truncated = 1;
		return 1;
	}
	lk->scanned++;
	if (lk->o->valid_only &&
	    ((row->flags & STORE_OBS_F_REVOKED) ||
		row->valid_until <= lk->o->now))
		return 0; /* what the index says is enough to pass it by */
	memset(&h, 0, sizeof(h));
	h.vi = p->vi;
	h.row = -1;
	h.rowid = row->rowid;
	h.how = p->how;
	h.via = p->via;
	h.key = key;
	h.keylen = (uint16_t)len;
	h.text = p->text;
	h.textlen = p->textlen;
	if (p->range)
		h.how = len == lk->vkeylen[p->vi] &&
			memcmp(key, lk->vkey[p->vi], len) == 0
		    ? LOOKUP_EXACT
		    : LOOKUP_CONTAINS;
	if (add_hit(lk, &h) == -1) {
		lk->rc = STORE_ERR;
		return -1;
	}
	return 0;
}

/* Reads the probes from `from` on, in key order. */
static int
run_probes(struct lookup *lk, size_t from)
{
	struct store_reader *r = lk->vc->r;
	struct scan s;
	size_t i;
	int rc;

	if (lk->npr - from > 1)
		qsort(
		    lk->pr + from, lk->npr - from, sizeof(*lk->pr), cmp_probe);
	s.lk = lk;
	for (i = from; i < lk->npr; i++) {
		s.p = &lk->pr[i];
		rc = s.p->range
		    ? store_obs_range(r, s.p->key, s.p->keylen, s.p->hi,
			  s.p->hilen, on_row, &s)
		    : store_obs_get(r, s.p->key, s.p->keylen, on_row, &s);
		if (lk->rc != STORE_OK)
			return lk->rc;
		if (rc < 0)
			return rc;
	}
	return STORE_OK;
}

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* The index of row `rowid` in rows, decided on first sight; -1 when out
 * of memory or the database fails (lk->rc). */
static int
row_of(struct lookup *lk, uint64_t rowid)
{
	size_t i, mask;
	int k;

	if (lk->nrows * 2 >= lk->nslot) {
		size_t ns = lk->nslot ? lk->nslot * 2 : 64;
		int *sl = hub_calloc(ns, sizeof(*sl));
		size_t j;

		if (sl == NULL)
			goto oom;
		for (j = 0; j < lk->nrows; j++) {
			i = mix(lk->rows[j].rowid) & (ns - 1);
			while (sl[i] != 0)
				i = (i + 1) & (ns - 1);
			sl[i] = (int)j + 1;
		}
		hub_free(lk->slot);
		lk->slot = sl;
		lk->nslot = ns;
	}
	mask = lk->nslot - 1;
	for (i = mix(rowid) & mask; lk->slot[i] != 0; i = (i + 1) & mask)
		if (lk->rows[lk->slot[i] - 1].rowid == rowid)
			return lk->slot[i] - 1;
	if (lk->nrows == lk->caprows) {
		size_t cap = lk->caprows ? lk->caprows * 2 : 16;
		struct lookup_row *v = hub_realloc(lk->rows, cap * sizeof(*v));

		if (v == NULL)
			goto oom;
		lk->rows = v;
		lk->caprows = cap;
	}
	k = (int)lk->nrows;
	memset(&lk->rows[k], 0, sizeof(lk->rows[k]));
	lk->rows[k].rowid = rowid;
	if (row_decide(lk, &lk->rows[k]) == -1)
		return -1;
	lk->nrows++;
	lk->slot[i] = k + 1;
	return k;
oom:
	lk->rc = STORE_ERR;
	return -1;
}

struct vers {
	struct lookup *lk;
	uint64_t rowid;
};

/* Each stored version of the row's object: its visible memberships in
 * the collections given. */
static int
vers_cb(const struct store_version *v, void *arg)
{
	struct vers *va = arg;
	struct lookup *lk = va->lk;
	struct store_entry e;
	int i, c;

	for (i = 0; i < v->nmember; i++) {
		for (c = 0; c < lk->ncoll; c++)
			if (lk->colls[c].code == v->member[i].coll)
				break;
		if (c == lk->ncoll)
			continue;
		if (store_entry_get(lk->vc->r, v->member[i].coll,
			v->member[i].date_added, &e) != STORE_OK ||
		    !view_visible(lk->vc, &e))
			continue;
		if (e.flags & STORE_F_SPEC20) {
			if (v->version > lk->max20[c])
				lk->max20[c] = v->version;
		} else if (v->version > lk->max21[c])
			lk->max21[c] = v->version;
		if (v->rowid == va->rowid &&
		    v->member[i].date_added > lk->own[c])
			lk->own[c] = v->member[i].date_added;
	}
	return 0;
}

/*
 * Is the row the latest version the member sees in a collection it may
 * read?  As view_page decides for GET .../objects/{id}/ (the default
 * filters: the last version, a STIX 2.0 version giving way to a 2.1 one).
 * Fills rw; -1 only when out of memory or the database fails.
 */
static int
row_decide(struct lookup *lk, struct lookup_row *rw)
{
	struct store_objview ov;
	struct vers va;
	int c, n = 0, spec20, rc;

	rw->visible = 0;
	rc = store_obj_get(lk->vc->r, rw->rowid, &ov);
	if (rc == STORE_ENOTFOUND || rc == STORE_ECORRUPT)
		return 0; /* gone, or damaged: never served */
	if (rc != STORE_OK) {
		lk->rc = rc;
		return -1;
	}
	for (c = 0; c < lk->ncoll; c++) {
		lk->max20[c] = lk->max21[c] = INT64_MIN;
		lk->own[c] = 0;
	}
	va.lk = lk;
	va.rowid = rw->rowid;
	/* this producer's versions: another's report is another object */
	rc = store_versions(
	    lk->vc->r, ov.type, ov.uuid, ov.producer, vers_cb, &va);
	if (rc < 0) {
		if (rc == STORE_ECORRUPT)
			return 0;
		lk->rc = rc;
		return -1;
	}
	spec20 = (ov.flags & STORE_F_SPEC20) != 0;
	for (c = 0; c < lk->ncoll; c++) {
		if (lk->own[c] == 0)
			continue;
		if (spec20
			? lk->max21[c] != INT64_MIN || lk->max20[c] > ov.version
			: lk->max21[c] > ov.version) {
			lk->own[c] = 0;
			continue;
		}
		n++;
	}
	if (n == 0)
		return 0;
	/* only now is the row read: the member may see it */
	if ((rw->coll = a_alloc(lk, (size_t)n * sizeof(int))) == NULL ||
	    (rw->id = a_strndup(lk, ov.id, ov.idlen)) == NULL) {
		lk->rc = STORE_ERR;
		return -1;
	}
	for (c = 0; c < lk->ncoll; c++)
		if (lk->own[c] != 0) {
			rw->coll[rw->ncoll++] = c;
			if (lk->own[c] > rw->last_added)
				rw->last_added = lk->own[c];
			if (rw->first_added == 0 ||
			    lk->own[c] < rw->first_added)
				rw->first_added = lk->own[c];
		}
	rw->visible = 1;
	rw->producer = ov.producer;
	{
		/* the level it counts as: an unmarked object (or one whose
		 * marking is not resolved) its producer's default */
		struct policy_obj po = {ov.producer, ov.tlp, ov.flags, NULL, 0};

		rw->unmarked = ov.tlp == TLP_NONE;
		rw->tlp = (uint8_t)policy_obj_level(lk->vc->pol, &po);
	}
	rw->revoked = (ov.flags & STORE_F_REVOKED) != 0;
	rw->version = ov.version;
	/* its obsrow is read only for the rows that need it (returned, or
	 * weighed by valid_only or best_only): most rows of a wide range
	 * are only counted */
	rw->confidence = -1;
	rw->valid_until = STORE_OBS_FOREVER;
	rw->pending = 1;
	return 0;
}

/* Confidence and validity, from the row's obsrow record (no JSON is
 * parsed); once, inside the read transaction. */
static void
row_extra(struct lookup *lk, struct lookup_row *rw)
{
	struct store_obsrow o;

	if (!rw->pending)
		return;
	rw->pending = 0;
	if (store_obsrow_get(lk->vc->r, rw->rowid, &o) != STORE_OK)
		return; /* none (a damaged record is logged): unknown */
	rw->confidence = o.confidence <= 100 ? o.confidence : -1;
	rw->valid_from = o.valid_from == STORE_OBS_ALWAYS ? 0 : o.valid_from;
	rw->valid_until = o.valid_until;
}

/* 1: a file hash, 2: a certificate hash, 0: neither. */
static int
is_hash(int t)
{
	switch (t) {
	case OBS_MD5:
	case OBS_SHA1:
	case OBS_SHA256:
	case OBS_SHA512:
	case OBS_SSDEEP:
	case OBS_TLSH:
		return 1;
	case OBS_X509_MD5:
	case OBS_X509_SHA1:
	case OBS_X509_SHA256:
	case OBS_X509_SHA512:
		return 2;
	}
	return 0;
}

/*
 * For each hash value found exactly in a row the member sees, the other
 * hashes of the same file (group) in that row become probes of the
 * value; read them.  One level only, and only through visible rows.
 */
static int
cross_hash(struct lookup *lk)
{
	size_t i, nh = lk->nhits, from = lk->npr;
	struct store_obsrow orow;
	struct store_obs_item it;
	int rc, fam, vi;

	for (i = 0; i < nh; i++) {
		struct hit *h = &lk->hits[i];
		uint8_t groups[32];
		int ng = 0, g;
		size_t pos;

		vi = h->vi;
		fam = is_hash(lk->res[vi].type);
		if (fam == 0 || h->how != LOOKUP_EXACT || h->row < 0 ||
		    !lk->rows[h->row].visible)
			continue;
		row_extra(lk, &lk->rows[h->row]);
		if (lk->o->valid_only && !valid_now(lk, &lk->rows[h->row]))
			continue;
		rc = store_obsrow_get(lk->vc->r, h->rowid, &orow);
		if (rc == STORE_ENOTFOUND || rc == STORE_ECORRUPT)
			continue;
		if (rc != STORE_OK)
			return rc;
		/* the groups (files) that hold the value asked */
		for (pos = 0; (rc = store_obsrow_next(&orow, &pos, &it)) == 1;)
			if (it.keylen == lk->vkeylen[vi] &&
			    memcmp(it.key, lk->vkey[vi], it.keylen) == 0 &&
			    ng < (int)sizeof(groups))
				groups[ng++] = it.group;
		if (rc < 0)
			continue;
		for (pos = 0; store_obsrow_next(&orow, &pos, &it) == 1;) {
			for (g = 0; g < ng; g++)
				if (groups[g] == it.group)
					break;
			if (g == ng || it.keylen < 2 ||
			    is_hash(it.key[0]) != fam ||
			    (it.keylen == lk->vkeylen[vi] &&
				memcmp(it.key, lk->vkey[vi], it.keylen) == 0))
				continue;
			if (probe_key(lk, vi, it.key, it.keylen, NULL, 0,
				LOOKUP_CROSS_HASH) == -1)
				return STORE_ERR;
			lk->pr[lk->npr - 1].via = it.key[0];
			if (it.text != NULL && it.textlen > 0) {
				char *t = a_strndup(lk, it.text, it.textlen);

				if (t == NULL)
					return STORE_ERR;
				lk->pr[lk->npr - 1].text = t;
				lk->pr[lk->npr - 1].textlen =
				    (uint16_t)it.textlen;
			}
		}
	}
	if (lk->npr == from)
		return STORE_OK;
	/* the same sibling from several rows: read once */
	{
		size_t w = from, j;

		qsort(
		    lk->pr + from, lk->npr - from, sizeof(*lk->pr), cmp_probe);
		for (j = from; j < lk->npr; j++) {
			size_t k;
			int dup = 0;

			for (k = w; k > from; k--) {
				if (cmp_probe(&lk->pr[k - 1], &lk->pr[j]) != 0)
					break;
				if (lk->pr[k - 1].vi == lk->pr[j].vi) {
					dup = 1;
					break;
				}
			}
			if (!dup)
				lk->pr[w++] = lk->pr[j];
		}
		lk->npr = w;
	}
	nh = lk->nhits;
	if ((rc = run_probes(lk, from)) != STORE_OK)
		return rc;
	for (i = nh; i < lk->nhits; i++)
		if ((lk->hits[i].row = row_of(lk, lk->hits[i].rowid)) < 0)
			return lk->rc;
	return STORE_OK;
}

static int
cmp_hit(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	if (x->vi != y->vi)
		return x->vi < y->vi ? -1 : 1;
	if (x->rowid != y->rowid)
		return x->rowid < y->rowid ? -1 : 1;
	return (int)x->how - (int)y->how;
}

static int
valid_now(const struct lookup *lk, const struct lookup_row *rw)
{
	return !rw->revoked && rw->valid_until > lk->o->now &&
	    rw->valid_from <= lk->o->now;
}

/* The canonical text of an index key (obs_key_text); a hashed long key
 * without its text: the head it keeps. */
static char *
key_text(struct lookup *lk, const unsigned char *k, size_t len)
{
	char t[OBS_TEXT_MAX + 1];
	const unsigned char *nul;
	size_t n;

	if ((n = obs_key_text(k, len, t)) > 0)
		return a_strndup(lk, t, n);
	if (len < 1)
		return a_strndup(lk, "", 0);
	nul = memchr(k + 1, '\0', len - 1);
	return a_strndup(
	    lk, (const char *)k + 1, nul ? (size_t)(nul - (k + 1)) : len - 1);
}

static int
better(const struct lookup_row *a, const struct lookup_row *b)
{
	if (a->confidence != b->confidence)
		return a->confidence > b->confidence;
	if (a->version != b->version)
		return a->version > b->version;
	return a->rowid > b->rowid;
}

/* The results of the values, from the hits (sorted by value, row). */
static int
assemble(struct lookup *lk)
{
	size_t i = 0, j, k;

	if (lk->nhits > 1)
		qsort(lk->hits, lk->nhits, sizeof(*lk->hits), cmp_hit);
	while (i < lk->nhits) {
		int vi = lk->hits[i].vi, best = -1, nm = 0;
		struct lookup_result *r = &lk->res[vi];
		size_t end;
		int max = lk->o->best_only ? 1 : lk->o->max_matches;

		for (end = i; end < lk->nhits && lk->hits[end].vi == vi; end++)
			;
		/* the distinct rows that count, first how for each */
		r->m = a_alloc(lk, (end - i) * sizeof(*r->m));
		r->members = a_alloc(lk, (end - i) * sizeof(*r->members));
		r->countries = a_alloc(lk, (end - i) * sizeof(*r->countries));
		if (r->m == NULL || r->members == NULL || r->countries == NULL)
			return STORE_ERR;
		for (j = i; j < end; j++) {
			const struct hit *h = &lk->hits[j];
			struct lookup_row *rw;
			const struct member *mb;

			if (j > i && h->rowid == lk->hits[j - 1].rowid)
				continue; /* a lesser way to the same row */
			if (h->row < 0 || !(rw = &lk->rows[h->row])->visible)
				continue;
			if (lk->o->valid_only || lk->o->best_only)
				row_extra(lk, rw);
			if (lk->o->valid_only && !valid_now(lk, rw))
				continue;
			r->count++;
			if (r->first_seen == 0 ||
			    rw->first_added < r->first_seen)
				r->first_seen = rw->first_added;
			if (rw->last_added > r->last_seen)
				r->last_seen = rw->last_added;
			for (k = 0; k < (size_t)r->nmembers; k++)
				if (r->members[k] == rw->producer)
					break;
			if (k == (size_t)r->nmembers) {
				r->members[r->nmembers++] = rw->producer;
				mb = lk->members
				    ? members_by_code(lk->members, rw->producer)
				    : NULL;
				for (k = 0;
				     mb != NULL && k < (size_t)r->ncountries;
				     k++)
					if (strcmp(r->countries[k],
						mb->country) == 0)
						break;
				if (mb != NULL && k == (size_t)r->ncountries &&
				    mb->country[0] != '\0')
					memcpy(r->countries[r->ncountries++],
					    mb->country, 3);
			}
			if (lk->o->best_only) {
				if (best < 0 ||
				    better(rw, &lk->rows[lk->hits[best].row]))
					best = (int)j;
				continue;
			}
			if (nm >= max) {
				r->truncated = 1;
				continue;
			}
			row_extra(lk, rw);
			r->m[nm].row = rw;
			r->m[nm].how = h->how;
			r->m[nm].via = h->via;
			r->m[nm].key = h->how == LOOKUP_EXACT ? r->canon
			    : h->text != NULL
			    ? a_strndup(lk, h->text, h->textlen)
			    : key_text(lk, h->key, h->keylen);
			if (r->m[nm].key == NULL)
				return STORE_ERR;
			nm++;
		}
		if (best >= 0) {
			const struct hit *h = &lk->hits[best];

			r->m[0].row = &lk->rows[h->row];
			r->m[0].how = h->how;
			r->m[0].via = h->via;
			r->m[0].key = h->how == LOOKUP_EXACT ? r->canon
			    : h->text != NULL
			    ? a_strndup(lk, h->text, h->textlen)
			    : key_text(lk, h->key, h->keylen);
			if (r->m[0].key == NULL)
				return STORE_ERR;
			nm = 1;
		}
		r->n = nm;
		i = end;
	}
	return STORE_OK;
}

int
lookup_run(const struct view_ctx *vc, const struct lookup_coll *colls,
    int ncoll, const struct lookup_in *in, int n,
    const struct lookup_opts *opts, struct lookup **out)
{
	static const uint64_t all = ~(uint64_t)0;
	struct lookup *lk;
	uint64_t pfx[2][2] = {{all, all}, {all, all}};
	size_t i;
	int rc, v;

	*out = NULL;
	if ((lk = hub_calloc(1, sizeof(*lk))) == NULL)
		return STORE_ERR;
	lk->vc = vc;
	lk->colls = colls;
	lk->ncoll = ncoll;
	lk->o = opts;
	lk->members = opts->members;
	lk->n = n;
	lk->res = hub_calloc(n > 0 ? (size_t)n : 1, sizeof(*lk->res));
	lk->vkey = hub_calloc(n > 0 ? (size_t)n : 1, sizeof(*lk->vkey));
	lk->vkeylen = hub_calloc(n > 0 ? (size_t)n : 1, sizeof(*lk->vkeylen));
	lk->max21 = hub_calloc((size_t)ncoll + 1, sizeof(int64_t));
	lk->max20 = hub_calloc((size_t)ncoll + 1, sizeof(int64_t));
	lk->own = hub_calloc((size_t)ncoll + 1, sizeof(int64_t));
	lk->obs = hub_malloc(sizeof(*lk->obs));
	if (lk->obs == NULL || lk->res == NULL || lk->vkey == NULL ||
	    lk->vkeylen == NULL || lk->max21 == NULL || lk->max20 == NULL ||
	    lk->own == NULL) {
		lookup_free(lk);
		return STORE_ERR;
	}
	/* the prefix lengths the index holds (else all) */
	if (store_obs_prefixes(vc->r, OBS_IPV4, &pfx[0][0], &pfx[0][1]) !=
	    STORE_OK)
		pfx[0][0] = pfx[0][1] = all;
	if (store_obs_prefixes(vc->r, OBS_IPV6, &pfx[1][0], &pfx[1][1]) !=
	    STORE_OK)
		pfx[1][0] = pfx[1][1] = all;
	for (v = 0; v < n; v++) {
		lk->res[v].value = in[v].value;
		lk->res[v].len = in[v].len;
		lk->res[v].type = in[v].type;
		if (value_probes(lk, v, pfx) == -1) {
			lookup_free(lk);
			return STORE_ERR;
		}
	}
	/* a member who may read no collection finds nothing, as TAXII
	 * would show it nothing: no read at all */
	if (ncoll > 0 && (rc = run_probes(lk, 0)) != STORE_OK)
		goto fail;
	for (i = 0; i < lk->nhits; i++)
		if ((lk->hits[i].row = row_of(lk, lk->hits[i].rowid)) < 0) {
			rc = lk->rc;
			goto fail;
		}
	if (ncoll > 0 && (rc = cross_hash(lk)) != STORE_OK)
		goto fail;
	if ((rc = assemble(lk)) != STORE_OK)
		goto fail;
	*out = lk;
	return STORE_OK;
fail:
	lookup_free(lk);
	return rc != STORE_OK ? rc : STORE_ERR;
}

void
lookup_free(struct lookup *lk)
{
	struct chunk *c, *next;

	if (lk == NULL)
		return;
	for (c = lk->chunks; c != NULL; c = next) {
		next = c->next;
		hub_free(c);
	}
	hub_free(lk->res);
	hub_free(lk->vkey);
	hub_free(lk->vkeylen);
	hub_free(lk->pr);
	hub_free(lk->hits);
	hub_free(lk->rows);
	hub_free(lk->slot);
	hub_free(lk->max21);
	hub_free(lk->max20);
	hub_free(lk->own);
	hub_free(lk->obs);
	hub_free(lk);
}

const struct lookup_result *
lookup_results(const struct lookup *lk, int *n)
{
	*n = lk->n;
	return lk->res;
}

const char *
lookup_how_name(int how)
{
	static const char *const names[] = {
	    "exact", "in-range", "contains", "cross-hash"};

	return how >= 0 && how < 4 ? names[how] : "?";
}

/* A value as given: JSON-escaped, bytes that are not UTF-8 as \u00XX. */
static void
add_value(struct buf *b, const char *s, size_t n)
{
	size_t i, k, len;
	unsigned char c;

	for (i = 0; i < n; i += len) {
		c = (unsigned char)s[i];
		len = c < 0x80		     ? 1
		    : c >= 0xc2 && c <= 0xdf ? 2
		    : c >= 0xe0 && c <= 0xef ? 3
		    : c >= 0xf0 && c <= 0xf4 ? 4
					     : 0;
		for (k = 1; len > 1 && k < len; k++)
			if (i + k >= n || (s[i + k] & 0xc0) != 0x80)
				len = 0;
		if (len == 0)
			break;
	}
	if (i >= n) {
		buf_add_jstr(b, s, n);
		return;
	}
	buf_addc(b, '"');
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf_addc(b, (char)c);
		else
			buf_addf(b, "\\u%04x", c);
	}
	buf_addc(b, '"');
}

static void
add_time(struct buf *b, const char *name, int64_t us)
{
	char ts[TSTAMP_LEN];

	/* exact: a date_added keeps its microseconds (an added_after) */
	tstamp_format(us, us % 1000 == 0 ? 3 : 6, ts);
	buf_addf(b, ",\"%s\":\"%s\"", name, ts);
}

static void
add_member(struct buf *b, const struct lookup *lk, uint32_t code)
{
	const struct member *m =
	    lk->members ? members_by_code(lk->members, code) : NULL;

	if (m != NULL)
		buf_add_jstr(b, m->id, strlen(m->id));
	else
		buf_addf(b, "\"#%u\"", (unsigned)code);
}

static void
add_match(struct buf *b, const struct lookup *lk, const struct lookup_match *m)
{
	const struct lookup_row *rw = m->row;
	const char *dash = strstr(rw->id, "--");
	int c;

	buf_adds(b, "{\"id\":");
	buf_add_jstr(b, rw->id, strlen(rw->id));
	buf_adds(b, ",\"type\":");
	buf_add_jstr(b, rw->id, dash ? (size_t)(dash - rw->id) : 0);
	add_time(b, "version", rw->version);
	buf_adds(b, ",\"producer\":");
	add_member(b, lk, rw->producer);
	buf_addf(b, ",\"tlp\":\"%s\"", marking_tlp_name((enum tlp)rw->tlp));
	if (rw->unmarked)
		buf_adds(b, ",\"unmarked\":true");
	if (rw->confidence >= 0)
		buf_addf(b, ",\"confidence\":%d", rw->confidence);
	if (rw->valid_from != 0)
		add_time(b, "valid_from", rw->valid_from);
	if (rw->valid_until != STORE_OBS_FOREVER)
		add_time(b, "valid_until", rw->valid_until);
	buf_addf(b, ",\"revoked\":%s", rw->revoked ? "true" : "false");
	add_time(b, "first_seen", rw->first_added);
	buf_adds(b, ",\"collections\":[");
	for (c = 0; c < rw->ncoll; c++) {
		const char *id = lk->colls[rw->coll[c]].id;

		if (c > 0)
			buf_addc(b, ',');
		buf_add_jstr(b, id, strlen(id));
	}
	buf_adds(b, "],\"matched\":");
	buf_add_jstr(b, m->key, strlen(m->key));
	buf_addf(b, ",\"how\":\"%s\"", lookup_how_name(m->how));
	if (m->how == LOOKUP_CROSS_HASH && obs_type_name(m->via) != NULL)
		buf_addf(b, ",\"via\":\"%s\"", obs_type_name(m->via));
	buf_addc(b, '}');
}

int
lookup_json_piece(const struct lookup *lk, struct buf *b, int *pos, size_t upto)
{
	int v = *pos, k;

	if (v == 0)
		buf_adds(b, "{\"results\":[");
	for (; v < lk->n && (v == *pos || b->len < upto); v++) {
		const struct lookup_result *r = &lk->res[v];

		if (v > 0)
			buf_addc(b, ',');
		buf_adds(b, "{\"value\":");
		add_value(b, r->value, r->len);
		if (!r->ok) {
			buf_adds(b, ",\"ok\":false,\"error\":");
			buf_add_jstr(b, r->err, strlen(r->err));
			buf_addc(b, '}');
			continue;
		}
		buf_addf(b, ",\"ok\":true,\"type\":\"%s\",\"canonical\":",
		    obs_type_name(r->type));
		buf_add_jstr(b, r->canon, strlen(r->canon));
		buf_adds(b, ",\"matches\":[");
		for (k = 0; k < r->n; k++) {
			if (k > 0)
				buf_addc(b, ',');
			add_match(b, lk, &r->m[k]);
		}
		buf_addf(
		    b, "],\"summary\":{\"count\":%d,\"members\":[", r->count);
		for (k = 0; k < r->nmembers; k++) {
			if (k > 0)
				buf_addc(b, ',');
			add_member(b, lk, r->members[k]);
		}
		buf_adds(b, "],\"countries\":[");
		for (k = 0; k < r->ncountries; k++)
			buf_addf(
			    b, "%s\"%s\"", k > 0 ? "," : "", r->countries[k]);
		buf_addc(b, ']');
		if (r->count > 0) {
			add_time(b, "first_seen", r->first_seen);
			add_time(b, "last_seen", r->last_seen);
		}
		buf_addf(
		    b, "},\"truncated\":%s}", r->truncated ? "true" : "false");
	}
	*pos = v;
	if (v < lk->n)
		return 1;
	buf_adds(b, "]}");
	return 0;
}

void
lookup_json(const struct lookup *lk, struct buf *b)
{
	int pos = 0;

	while (lookup_json_piece(lk, b, &pos, (size_t)-1) == 1)
		;
}

void
lookup_audit_ids(const struct lookup *lk, struct buf *b, size_t max)
{
	size_t shown = 0;
	int v, k;

	for (v = 0; v < lk->n; v++)
		for (k = 0; k < lk->res[v].n; k++) {
			const char *id = lk->res[v].m[k].row->id;

			if (shown >= max)
				return;
			if (shown++ > 0)
				buf_addc(b, ',');
			buf_add_jstr(b, id, strlen(id));
		}
}

int
lookup_matches_returned(const struct lookup *lk)
{
	int v, n = 0;

	for (v = 0; v < lk->n; v++)
		n += lk->res[v].n;
	return n;
}

/* --- requests --- */

static int
hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0'
	    : c >= 'a' && c <= 'f'  ? c - 'a' + 10
	    : c >= 'A' && c <= 'F'  ? c - 'A' + 10
				    : -1;
}

/* Decodes s[0..n) into out (room for n + 1); its length, or -1. */
static long
pct_decode(const char *s, size_t n, char *out)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[k++] = s[i];
			continue;
		}
		if (i + 2 >= n || hexval((unsigned char)s[i + 1]) < 0 ||
		    hexval((unsigned char)s[i + 2]) < 0)
			return -1;
		out[k++] = (char)(hexval((unsigned char)s[i + 1]) << 4 |
		    hexval((unsigned char)s[i + 2]));
		i += 2;
	}
	out[k] = '\0';
	return (long)k;
}

static int
flag_value(const char *v)
{
	return strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ? 1
	    : strcmp(v, "0") == 0 || strcmp(v, "false") == 0 ? 0
							     : -1;
}

int
lookup_parse_query(
    struct lookup_req *q, const char *raw, int max, char *err, size_t errlen)
{
	size_t len = raw ? strlen(raw) : 0, off = 0, i;
	int type = OBS_NONE, ntype = 0, nv = 0, pass;

	memset(q, 0, sizeof(*q));
	/* each parameter decodes to its key and value, each NUL-ended:
	 * at most two bytes more than its text */
	if ((q->store = hub_malloc(2 * len + 2)) == NULL)
		return -3;
	/* pass 0 decodes and counts, pass 1 fills */
	for (pass = 0; pass < 2; pass++) {
		const char *s = raw ? raw : "";

		off = 0;
		nv = 0;
		while (*s != '\0') {
			const char *amp = strchr(s, '&'), *eq;
			size_t n = amp ? (size_t)(amp - s) : strlen(s);
			long kl, vl;
			char *k, *v;

			eq = memchr(s, '=', n);
			if (n == 0)
				goto next;
			k = q->store + off;
			kl = pct_decode(s, eq ? (size_t)(eq - s) : n, k);
			v = k + (kl < 0 ? 0 : kl) + 1;
			vl = eq
			    ? pct_decode(eq + 1, n - (size_t)(eq - s) - 1, v)
			    : (v[0] = '\0', 0);
			if (kl < 0 || vl < 0) {
				snprintf(
				    err, errlen, "malformed percent-encoding");
				goto bad;
			}
			if (pass == 0)
				off += (size_t)kl + (size_t)vl + 2;
			if (strcmp(k, "value") == 0) {
				if (pass == 1) {
					q->in[nv].value = v;
					q->in[nv].len = (size_t)vl;
				}
				if (++nv > max) {
					snprintf(err, errlen,
					    "more than %d values", max);
					lookup_req_clear(q);
					return -2;
				}
			} else if (pass == 1)
				; /* decided in pass 0 */
			else if (strcmp(k, "type") == 0) {
				if (ntype++ > 0) {
					snprintf(err, errlen,
					    "type given more than once");
					goto bad;
				}
				type = obs_type_from_name(v);
				if (type == OBS_NONE)
					type = -1;
			} else if (strcmp(k, "valid") == 0 ||
			    strcmp(k, "best") == 0) {
				int f = flag_value(v);

				if (f < 0) {
					snprintf(err, errlen,
					    "%s: '%s' is not 1, 0, true or "
					    "false",
					    k, v);
					goto bad;
				}
				if (k[0] == 'v')
					q->valid_only = f;
				else
					q->best_only = f;
			}
			/* other parameters are ignored, as TAXII does */
			if (pass == 1)
				off += (size_t)kl + (size_t)vl + 2;
		next:
			s += n;
			if (*s == '&')
				s++;
		}
		if (pass == 0) {
			if (nv == 0) {
				snprintf(err, errlen, "no value= given");
				goto bad;
			}
			if ((q->in = hub_calloc((size_t)nv, sizeof(*q->in))) ==
			    NULL) {
				lookup_req_clear(q);
				return -3;
			}
		}
	}
	for (i = 0; i < (size_t)nv; i++)
		q->in[i].type = type;
	q->n = nv;
	return 0;
bad:
	lookup_req_clear(q);
	return -1;
}

int
lookup_parse_body(struct lookup_req *q, const char *body, size_t len, int max,
    char *err, size_t errlen)
{
	json_t *vals, *v, *f;
	json_error_t je;
	size_t i, n;

	memset(q, 0, sizeof(*q));
	q->doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (q->doc == NULL) {
		snprintf(
		    err, errlen, "not JSON: line %d: %s", je.line, je.text);
		return -1;
	}
	if (!json_is_object(q->doc) ||
	    !json_is_array(vals = json_object_get(q->doc, "values"))) {
		snprintf(err, errlen, "the body is not {\"values\":[...]}");
		goto bad;
	}
	if ((n = json_array_size(vals)) == 0) {
		snprintf(err, errlen, "values is empty");
		goto bad;
	}
	if (n > (size_t)max) {
		snprintf(err, errlen, "%zu values; at most %d", n, max);
		lookup_req_clear(q);
		return -2;
	}
	if ((f = json_object_get(q->doc, "valid_only")) != NULL) {
		if (!json_is_boolean(f)) {
			snprintf(err, errlen, "valid_only is not a boolean");
			goto bad;
		}
		q->valid_only = json_is_true(f);
	}
	if ((f = json_object_get(q->doc, "best_only")) != NULL) {
		if (!json_is_boolean(f)) {
			snprintf(err, errlen, "best_only is not a boolean");
			goto bad;
		}
		q->best_only = json_is_true(f);
	}
	if ((q->in = hub_calloc(n, sizeof(*q->in))) == NULL) {
		lookup_req_clear(q);
		return -3;
	}
	for (i = 0; i < n; i++) {
		json_t *t = NULL;

		v = json_array_get(vals, i);
		if (json_is_object(v)) {
			t = json_object_get(v, "type");
			v = json_object_get(v, "value");
		}
		if (!json_is_string(v) || (t != NULL && !json_is_string(t))) {
			snprintf(err, errlen,
			    "values[%zu]: not a string nor "
			    "{\"value\":string,\"type\":string}",
			    i);
			goto bad;
		}
		q->in[i].value = json_string_value(v);
		q->in[i].len = json_string_length(v);
		q->in[i].type = OBS_NONE;
		if (t != NULL &&
		    (q->in[i].type = obs_type_from_name(
			 json_string_value(t))) == OBS_NONE)
			q->in[i].type = -1;
	}
	q->n = (int)n;
	return 0;
bad:
	lookup_req_clear(q);
	return -1;
}

void
lookup_req_clear(struct lookup_req *q)
{
	hub_free(q->in);
	hub_free(q->store);
	if (q->doc != NULL)
		json_decref(q->doc);
	memset(q, 0, sizeof(*q));
}
