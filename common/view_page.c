/*
 * view_page.c -- one page of what a member sees of a collection (see
 * view.h): the walk over the collection's date_added index within the
 * walk's snapshot, the filters and the version semantics on each entry,
 * the visibility decision, release twins, and the sealed `next` tokens
 * that carry a walk from one page to the next.  Parsing the query string
 * is view_query.c's job.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ctihub/alloc.h"
#include "ctihub/bytes.h"
#include "ctihub/policy.h"
#include "ctihub/store.h"
#include "ctihub/view.h"

/* A next token: version (1, in clear), nonce, then sealed: collection and
 * member (8), filter fingerprint (8), position (8), bound (8), issue time
 * (8), release position (8); then the GCM tag. */
#define TOKEN_VERSION 3
#define TOKEN_NONCE   16
#define TOKEN_PLAIN   48
#define TOKEN_TAG     16
#define TOKEN_BYTES   (1 + TOKEN_NONCE + TOKEN_PLAIN + TOKEN_TAG)

struct cand_arg;
struct id_arg;
struct view_rel;

static int token_seal(const unsigned char[32], int,
    const unsigned char[TOKEN_NONCE], const unsigned char *, size_t,
    unsigned char *, size_t, unsigned char[TOKEN_TAG]);
static int spec_of(const struct store_entry *);
static int gather_cand(const struct store_version *, void *);
static int spec_ok(const struct view_query *, int, const struct cand_arg *);
static int extreme(
    const struct view_query *, const struct cand_arg *, int64_t, int);
static void *grow(void *, size_t *, size_t, size_t, size_t);
static int rel_add(struct view_rel *, int64_t, uint32_t, int);
static int rel_scan(uint64_t, const void *, size_t, void *);
static int rel_load(const struct view_ctx *, int64_t, struct view_rel *);
static void rel_clear(struct view_rel *);
static int release_counts(const struct view_ctx *, const struct store_item *);
static int type_ok(const struct view_query *, uint32_t);
static int twin_current(const struct view_ctx *, const struct store_item *);
static int keep(const struct view_ctx *, const struct view_query *, uint32_t,
    int64_t, const struct store_item *);
static int page_add(struct view_page *, const struct store_item *);
static int cmp_item(const void *, const void *);
static int gather_items(const struct store_version *, void *);
static uint32_t type_code(const struct view_ctx *, const char *);
static int page_by_ids(const struct view_ctx *, const struct view_query *,
    uint32_t, int64_t, size_t, struct view_page *);
static int page_walk(const struct view_ctx *, const struct view_query *,
    uint32_t, int64_t, size_t, struct view_page *, int *, int64_t *);

/* --- tokens --- */

/*
 * A token is sealed with AES-256-GCM: nothing in it can be read or
 * changed without the store's secret.  Each token draws a random 16-byte
 * nonce and is sealed under its own key, HMAC-SHA256(secret, label |
 * nonce), so no two tokens share a key and GCM's bound on random nonces
 * under one key does not apply however many tokens a hub issues.
 */
static const char token_label[] = "ctihub next token, AES-256-GCM";

/* Seals (enc 1) or opens (enc 0) n bytes in place; the tag is written,
 * or checked.  0, or -1 when the tag does not match or OpenSSL fails. */
static int
token_seal(const unsigned char secret[32], int enc,
    const unsigned char nonce[TOKEN_NONCE], const unsigned char *aad,
    size_t aadlen, unsigned char *p, size_t n, unsigned char tag[TOKEN_TAG])
{
	unsigned char in[sizeof(token_label) - 1 + TOKEN_NONCE], key[32];
	unsigned int keylen = sizeof(key);
	EVP_CIPHER_CTX *c = NULL;
	int len, rc = -1;

	memcpy(in, token_label, sizeof(token_label) - 1);
	memcpy(in + sizeof(token_label) - 1, nonce, TOKEN_NONCE);
	if (HMAC(EVP_sha256(), secret, 32, in, sizeof(in), key, &keylen) ==
	    NULL)
		goto fail;
	/* the key is this token's alone: the nonce's first 12 bytes will
	 * do as the IV */
	if ((c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) != 1)
		goto fail;
	if (!enc &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TOKEN_TAG, tag) != 1)
		goto fail;
	if (EVP_CipherUpdate(c, NULL, &len, aad, (int)aadlen) != 1 ||
	    EVP_CipherUpdate(c, p, &len, p, (int)n) != 1 ||
	    EVP_CipherFinal_ex(c, p + len, &len) != 1)
		goto fail; /* opening: the tag does not match */
	if (enc &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TOKEN_TAG, tag) != 1)
		goto fail;
	rc = 0;
fail:
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
view_token_make(const struct view_query *q, const struct view_page *pg,
    const unsigned char key[32], uint32_t member, uint32_t coll, int64_t now,
    char out[VIEW_TOKEN_MAX])
{
	unsigned char t[TOKEN_BYTES], *pt = t + 1 + TOKEN_NONCE;
	size_t i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	out[0] = '\0';
	t[0] = TOKEN_VERSION;
	if (RAND_bytes(t + 1, TOKEN_NONCE) != 1)
		return -1;
	put_be64(pt, (uint64_t)coll << 32 | member);
	put_be64(pt + 8, q->fingerprint);
	/* the next position: after the last item, or the last entry examined
	 * when max_scan cut the page short */
	put_be64(pt + 16, (uint64_t)(pg->last != 0 ? pg->last : q->pos));
	put_be64(pt + 24, (uint64_t)pg->bound);
	put_be64(pt + 32, (uint64_t)now);
	put_be64(pt + 40, (uint64_t)pg->relpos);
	if (token_seal(
		key, 1, t + 1, t, 1, pt, TOKEN_PLAIN, pt + TOKEN_PLAIN) == -1)
		return -1;
	for (i = 0; i < TOKEN_BYTES; i++) {
		acc = acc << 8 | t[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64url[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = b64url[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return 0;
}

int
view_token_read(struct view_query *q, const unsigned char key[32],
    uint32_t member, uint32_t coll, int64_t now, char *err, size_t errlen)
{
	unsigned char t[TOKEN_BYTES + 2], *pt = t + 1 + TOKEN_NONCE;
	const char *s = q->next;
	size_t i, n = 0;
	uint32_t acc = 0;
	int bits = 0;
	int64_t issued;

	for (i = 0; s[i] != '\0'; i++) {
		const char *c = strchr(b64url, s[i]);

		if (c == NULL || n >= sizeof(t))
			goto bad;
		acc = acc << 6 | (uint32_t)(c - b64url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			t[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (n != TOKEN_BYTES || t[0] != TOKEN_VERSION ||
	    token_seal(
		key, 0, t + 1, t, 1, pt, TOKEN_PLAIN, pt + TOKEN_PLAIN) == -1)
		goto bad;
	if (get_be64(pt) != ((uint64_t)coll << 32 | member)) {
		snprintf(err, errlen,
		    "next: this token belongs to another collection or member");
		return -1;
	}
	if (get_be64(pt + 8) != q->fingerprint) {
		snprintf(err, errlen,
		    "next: this token belongs to a query with other filters "
		    "(send the same filters with it)");
		return -1;
	}
	issued = (int64_t)get_be64(pt + 32);
	if (now - issued > (int64_t)VIEW_TOKEN_TTL * 1000000 || issued > now) {
		snprintf(err, errlen,
		    "next: this token has expired (tokens last %d hours)",
		    VIEW_TOKEN_TTL / 3600);
		return -1;
	}
	q->pos = (int64_t)get_be64(pt + 16);
	q->bound = (int64_t)get_be64(pt + 24);
	q->relpos = (int64_t)get_be64(pt + 40);
	return 0;
bad:
	snprintf(err, errlen, "next: not a token this hub issued");
	return -1;
}

/* --- the page --- */

/* The one decision, from what the index keeps of an object version. */
static int
visible(const struct view_ctx *vc, uint32_t producer, uint8_t tlp,
    uint8_t flags, const char *release, int nrelease)
{
	struct policy_obj po;

	po.producer = producer;
	po.tlp = tlp;
	po.flags = flags;
	po.release = release;
	po.nrelease = nrelease;
	return policy_visible(vc->pol, vc->reader, &po);
}

int
view_visible(const struct view_ctx *vc, const struct store_entry *e)
{
	struct store_objview ov;

	if (!(e->flags & STORE_F_RELEASE))
		return visible(vc, e->producer, e->tlp, e->flags, NULL, 0);
	if (store_obj_of(vc->r, e, &ov) != STORE_OK)
		return 0; /* a damaged row is never served */
	return visible(
	    vc, e->producer, e->tlp, e->flags, ov.release, ov.nrelease);
}

int
view_gone_visible(const struct view_ctx *vc, const struct store_gone *g)
{
	int rel = (g->flags & STORE_F_RELEASE) != 0;

	return visible(vc, g->producer, g->tlp, g->flags,
	    rel ? g->release : NULL, rel ? g->nrelease : 0);
}

static int
spec_of(const struct store_entry *e)
{
	return e->flags & STORE_F_SPEC20 ? 1 : 2;
}

/* The versions of an object that count for first/last/latest-spec: in
 * the collection, within the snapshot, visible, of an asked spec. */
struct cand {
	int64_t version;
	int spec;
};

struct cand_arg {
	const struct view_ctx *vc;
	uint32_t coll;
	int64_t bound;
	struct cand c[256];
	int n;
};

static int
gather_cand(const struct store_version *v, void *arg)
{
	struct cand_arg *a = arg;
	struct store_entry e;
	int i;

	for (i = 0; i < v->nmember; i++) {
		if (v->member[i].coll != a->coll ||
		    v->member[i].date_added > a->bound)
			continue;
		if (store_entry_get(a->vc->r, a->coll, v->member[i].date_added,
			&e) != STORE_OK ||
		    !view_visible(a->vc, &e))
			continue;
		if (a->n < 256) {
			a->c[a->n].version = v->version;
			a->c[a->n].spec = spec_of(&e);
			a->n++;
		}
	}
	return 0;
}

static int
spec_ok(const struct view_query *q, int spec, const struct cand_arg *ca)
{
	int i;

	if (q->specs != 0)
		return (q->specs & spec) != 0;
	if (spec == 2)
		return 1; /* 2.1 is the latest there is */
	for (i = 0; i < ca->n; i++)
		if (ca->c[i].spec > spec)
			return 0;
	return 1;
}

/* Is the item the first (want_last 0) or last version among candidates? */
static int
extreme(const struct view_query *q, const struct cand_arg *ca, int64_t v,
    int want_last)
{
	int i;

	for (i = 0; i < ca->n; i++) {
		if (!spec_ok(q, ca->c[i].spec, ca))
			continue;
		if (want_last ? ca->c[i].version > v : ca->c[i].version < v)
			return 0;
	}
	return 1;
}

int
view_release_kind(const void *rec, size_t len, uint64_t *event)
{
	const unsigned char *p = rec;

	if (len == VIEW_REL_MARKER_LEN && p[5] == 0 && p[6] == 0 &&
	    (p[4] == VIEW_REL_DONE || p[4] == VIEW_REL_FAILED)) {
		memcpy(event, p + 7, 8);
		return p[4];
	}
	return VIEW_REL_EVENT;
}

void
view_release_marker(
    unsigned char out[VIEW_REL_MARKER_LEN], int kind, uint64_t event)
{
	memset(out, 0, VIEW_REL_MARKER_LEN);
	out[4] = (unsigned char)kind;
	memcpy(out + 7, &event, 8);
}

/*
 * What a walk knows of the release events that gained its member (see
 * view.h): one row per (event, producer, level).
 */
struct relrow {
	int64_t event;
	uint32_t producer;
	int level;
	int released; /* closed DONE at the walk's relpos */
	int failed;   /* closed FAILED at the walk's relpos */
};

struct view_rel {
	struct relrow *v;
	size_t n, cap;
	int64_t relpos; /* the walk's: given, or the newest record now */
	int64_t newest; /* the newest record of the snapshot */
};

/* Room for element n of a growing array v of *cap (first: the first
 * capacity): v, moved perhaps, or NULL when out of memory. */
static void *
grow(void *v, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t c = *cap ? *cap * 2 : first;

	if (n < *cap)
		return v;
	if ((v = hub_realloc(v, c * size)) != NULL)
		*cap = c;
	return v;
}

static int
rel_add(struct view_rel *rel, int64_t event, uint32_t producer, int level)
{
	struct relrow *v = grow(rel->v, &rel->cap, rel->n, sizeof(*v), 8);

	if (v == NULL)
		return STORE_ERR;
	rel->v = v;
	rel->v[rel->n].event = event;
	rel->v[rel->n].producer = producer;
	rel->v[rel->n].level = level;
	rel->v[rel->n].released = 0;
	rel->v[rel->n].failed = 0;
	rel->n++;
	return STORE_OK;
}

struct relscan {
	struct view_rel *rel;
	uint32_t member;
};

static int
rel_scan(uint64_t id, const void *rec, size_t len, void *arg)
{
	struct relscan *a = arg;
	struct view_rel *rel = a->rel;
	const unsigned char *p = rec, *end = p + len;
	uint64_t event;
	uint32_t pr, code;
	unsigned n, i;
	size_t k;
	int kind = view_release_kind(rec, len, &event);

	rel->newest = (int64_t)id;
	if (kind != VIEW_REL_EVENT) {
		/* a marker the walk knows closes its event for it */
		if ((int64_t)id > rel->relpos)
			return 0;
		for (k = 0; k < rel->n; k++)
			if (rel->v[k].event == (int64_t)event) {
				rel->v[k].released = kind == VIEW_REL_DONE;
				rel->v[k].failed = kind == VIEW_REL_FAILED;
			}
		return 0;
	}
	while (end - p >= 7) {
		memcpy(&pr, p, 4);
		n = (unsigned)p[5] | (unsigned)p[6] << 8;
		if ((size_t)(end - p - 7) < (size_t)n * 4)
			break;
		for (i = 0; i < n; i++) {
			memcpy(&code, p + 7 + 4 * i, 4);
			if (code == a->member &&
			    rel_add(rel, (int64_t)id, pr, p[4]) != STORE_OK)
				return STORE_ERR;
		}
		p += 7 + (size_t)n * 4;
	}
	return 0;
}

/* The release rows of the reader for this walk (relpos: the token's, or
 * INT64_MAX for a new walk, which then knows every record). */
static int
rel_load(const struct view_ctx *vc, int64_t relpos, struct view_rel *rel)
{
	struct relscan a;
	size_t i, o;
	int rc;

	memset(rel, 0, sizeof(*rel));
	rel->relpos = relpos;
	a.rel = rel;
	a.member = vc->reader->code;
	if ((rc = store_releases(vc->r, rel_scan, &a)) != 0)
		return rc < 0 ? rc : STORE_ERR;
	if (relpos == INT64_MAX)
		rel->relpos = rel->newest;
	/* a failed event counts for nothing */
	for (i = o = 0; i < rel->n; i++)
		if (!rel->v[i].failed)
			rel->v[o++] = rel->v[i];
	rel->n = o;
	return STORE_OK;
}

static void
rel_clear(struct view_rel *rel)
{
	hub_free(rel->v);
	memset(rel, 0, sizeof(*rel));
}

/*
 * Whether an entry counts as regards the release events of the walk's
 * member (view.h): an original of a (producer, level) that an event gained
 * does not once the walk knows the event done, nor while it does not; a
 * release twin counts only as the twin of the newest event the walk knows
 * done, while its original is still there.
 */
static int
release_counts(const struct view_ctx *vc, const struct store_item *it)
{
	const struct view_rel *rel = vc->rel;
	int twin = (it->e.flags & STORE_F_RELEASED) != 0;
	int64_t orig = twin ? it->orig_added : it->date_added, best = 0;
	struct store_entry e;
	size_t i;

	if (rel == NULL || rel->n == 0)
		return !twin;
	for (i = 0; i < rel->n; i++) {
		const struct relrow *w = &rel->v[i];

		if (w->producer != it->e.producer || w->level != it->e.tlp ||
		    w->event <= orig)
			continue; /* added after that event: not its concern */
		if (!w->released)
			return 0; /* the release is not done for this walk */
		if (w->event > best)
			best = w->event;
	}
	if (best == 0)
		return !twin;
	if (!twin || (int64_t)it->event != best)
		return 0; /* the twin of the newest release stands for it */
	return store_entry_get(vc->r, it->coll, it->orig_added, &e) == STORE_OK;
}

static int
type_ok(const struct view_query *q, uint32_t th)
{
	int i;

	if (q->ntypes == 0)
		return 1;
	for (i = 0; i < q->ntypes; i++)
		if (q->types[i] == th)
			return 1;
	return 0;
}

/*
 * A twin copies its original's entry as it was at the release.  When the
 * object's markings were read again since (its producer published a
 * definition it waited for), the twin no longer stands for it: it must
 * not show the object at the level it had then.
 */
static int
twin_current(const struct view_ctx *vc, const struct store_item *it)
{
	struct store_entry o;

	if (store_entry_get(vc->r, it->coll, it->orig_added, &o) != STORE_OK)
		return 0;
	return o.tlp == it->e.tlp &&
	    ((o.flags ^ it->e.flags) &
		(STORE_F_UNRESOLVED | STORE_F_RELEASE)) == 0;
}

/*
 * The filters on one entry of the walk.  Cheap tests first; the object's
 * other versions are looked up only when the entry's own first/last flags
 * cannot settle the question (a newer version came after the snapshot or
 * is not visible to this member), or when a STIX 2.0 entry must give way
 * to a 2.1 version of the same object (the default spec_version filter).
 */
static int
keep(const struct view_ctx *vc, const struct view_query *q, uint32_t coll,
    int64_t bound, const struct store_item *it)
{
	const struct store_entry *e = &it->e;
	struct cand_arg ca;
	int i, spec = spec_of(e), vf, ts_hit = 0, ok;

	if (!type_ok(q, e->type))
		return 0;
	if (q->nproducers != 0) {
		for (i = 0, ok = 0; i < q->nproducers; i++)
			if (q->producers[i] == e->producer)
				ok = 1;
		if (!ok)
			return 0;
	}
	if (q->tlps != 0) {
		struct policy_obj po = {e->producer, e->tlp, e->flags, NULL, 0};

		if (!(q->tlps & 1u << policy_obj_level(vc->pol, &po)))
			return 0;
	}
	if (q->specs != 0 && !(q->specs & spec))
		return 0;
	if ((e->flags & STORE_F_RELEASED) && !twin_current(vc, it))
		return 0;
	if (!view_visible(vc, e))
		return 0;
	if (!release_counts(vc, it))
		return 0;
	vf = q->vflags;
	if (vf == 0 && q->nvts == 0)
		vf = VIEW_V_LAST; /* TAXII's default */
	if (q->endpoint == VIEW_VERSIONS)
		vf = VIEW_V_ALL;
	for (i = 0; i < q->nvts; i++)
		if (q->vts[i] == e->version)
			ts_hit = 1;
	if (!(q->specs == 0 && spec == 1)) {
		if ((vf & VIEW_V_ALL) || ts_hit)
			return 1;
		/* a flag that holds among all versions holds among the
		 * candidates, which are some of them */
		if ((vf & VIEW_V_LAST) && (e->flags & STORE_F_LAST))
			return 1;
		if ((vf & VIEW_V_FIRST) && (e->flags & STORE_F_FIRST))
			return 1;
		if (!(vf & (VIEW_V_FIRST | VIEW_V_LAST)))
			return 0;
		/* superseded: skipped at once when the newest version is
		 * in the snapshot and this member sees it */
		if (vf == VIEW_V_LAST && e->newest != 0 && e->newest <= bound) {
			struct store_entry ne;

			if (store_entry_get(vc->r, coll, e->newest, &ne) ==
				STORE_OK &&
			    (q->specs == 0 ? spec_of(&ne) >= spec
					   : (q->specs & spec_of(&ne)) != 0) &&
			    view_visible(vc, &ne))
				return 0;
		}
	}
	memset(&ca, 0, sizeof(ca));
	ca.vc = vc;
	ca.coll = coll;
	ca.bound = bound;
	/* the versions of this producer's object: another producer's
	 * report of the same id is another object */
	if (store_versions(
		vc->r, e->type, e->uuid, e->producer, gather_cand, &ca) < 0)
		return 0;
	if (!spec_ok(q, spec, &ca))
		return 0;
	if ((vf & VIEW_V_ALL) || ts_hit)
		return 1;
	if ((vf & VIEW_V_LAST) && extreme(q, &ca, e->version, 1))
		return 1;
	if ((vf & VIEW_V_FIRST) && extreme(q, &ca, e->version, 0))
		return 1;
	return 0;
}

static int
page_add(struct view_page *pg, const struct store_item *it)
{
	struct store_item *v = grow(pg->items, &pg->cap, pg->n, sizeof(*v), 64);

	if (v == NULL)
		return STORE_ERR;
	pg->items = v;
	pg->items[pg->n++] = *it;
	return STORE_OK;
}

static int
cmp_item(const void *a, const void *b)
{
	const struct store_item *x = a, *y = b;

	return x->date_added < y->date_added ? -1
	    : x->date_added > y->date_added  ? 1
					     : 0;
}

struct id_arg {
	const struct view_ctx *vc;
	uint32_t coll;
	struct view_page *all;
	int rc;
};

/* Collects every version of an object that is in the collection. */
static int
gather_items(const struct store_version *v, void *arg)
{
	struct id_arg *a = arg;
	struct store_item it;
	int i;

	for (i = 0; i < v->nmember; i++) {
		if (v->member[i].coll != a->coll)
			continue;
		it.coll = a->coll;
		it.date_added = v->member[i].date_added;
		if (store_entry_get(a->vc->r, a->coll, it.date_added, &it.e) !=
		    STORE_OK)
			continue;
		if ((a->rc = page_add(a->all, &it)) != STORE_OK)
			return -1;
	}
	return 0;
}

/* The registry code of a type name; 0 (no type has it) when unknown. */
static uint32_t
type_code(const struct view_ctx *vc, const char *name)
{
	uint32_t code;

	if (name == NULL ||
	    store_code_get(vc->r, STORE_K_TYPE, name, strlen(name), &code) !=
		STORE_OK)
		return 0;
	return code;
}

/* A few objects asked for by id: their versions in this collection, in
 * date_added order, through the same filters. */
static int
page_by_ids(const struct view_ctx *vc, const struct view_query *q,
    uint32_t coll, int64_t bound, size_t limit, struct view_page *pg)
{
	struct view_page all;
	struct id_arg a;
	size_t i;
	int rc, k;

	memset(&all, 0, sizeof(all));
	a.vc = vc;
	a.coll = coll;
	a.all = &all;
	a.rc = STORE_OK;
	for (k = 0; k < q->nids; k++) {
		size_t before = all.n;

		if (q->ids[k].code == 0)
			continue; /* a type never stored */
		rc = store_versions(
		    vc->r, q->ids[k].code, q->ids[k].uuid, 0, gather_items, &a);
		if (rc < 0 || a.rc != STORE_OK) {
			view_page_clear(&all);
			return a.rc != STORE_OK ? a.rc : rc;
		}
		for (i = before; i < all.n; i++)
			if (view_visible(vc, &all.items[i].e))
				pg->exists = 1;
	}
	if (all.n > 1)
		qsort(all.items, all.n, sizeof(*all.items), cmp_item);
	rc = STORE_OK;
	for (i = 0; i < all.n; i++) {
		const struct store_item *x = &all.items[i];

		if (x->date_added <= q->pos || x->date_added > bound)
			continue;
		if (!keep(vc, q, coll, bound, x))
			continue;
		if (pg->n == limit) {
			pg->more = 1;
			break;
		}
		if ((rc = page_add(pg, x)) != STORE_OK)
			break;
	}
	view_page_clear(&all);
	return rc;
}

/*
 * The walk of the collection's index from q->pos up to bound.  When
 * vc->max_scan stops it, sets *capped and *scanned_last (the date_added
 * of the last entry examined).
 */
static int
page_walk(const struct view_ctx *vc, const struct view_query *q, uint32_t coll,
    int64_t bound, size_t limit, struct view_page *pg, int *capped,
    int64_t *scanned_last)
{
	struct store_item it;
	size_t looked = 0, scanned = 0;
	int64_t last = 0;
	int rc;

	if ((rc = store_walk_start(vc->r, coll, q->pos)) != STORE_OK)
		return rc;
	while ((rc = store_walk_next(vc->r, &it)) == 1) {
		if (it.date_added > bound)
			break;
		if (vc->max_scan > 0 && scanned == vc->max_scan) {
			/* the cap on work per request: continue after the
			 * last entry examined (next page, next request) */
			pg->more = 1;
			*capped = 1;
			*scanned_last = last;
			break;
		}
		scanned++;
		last = it.date_added;
		/* `more` only for an object this member may see: none
		 * within the lookahead ends the walk here, so a full page
		 * is never followed by an empty one that would tell of
		 * hidden objects; the next poll, from this page's last
		 * item, goes on */
		if (pg->n == limit && ++looked > VIEW_LOOKAHEAD)
			break;
		if (!keep(vc, q, coll, bound, &it))
			continue;
		if (pg->n == limit) {
			pg->more = 1;
			break;
		}
		if ((rc = page_add(pg, &it)) != STORE_OK)
			return rc;
	}
	return rc > 0 ? STORE_OK : rc;
}

int
view_page(const struct view_ctx *vc0, const struct view_query *q0,
    uint32_t coll, size_t limit, struct view_page *pg)
{
	struct view_ctx walk = *vc0, *vc = &walk;
	struct view_query rq = *q0, *q = &rq;
	struct view_rel rel;
	int64_t bound = q->bound, scanned_last = 0;
	size_t i;
	int capped = 0;
	int rc, k;

	memset(pg, 0, sizeof(*pg));
	memset(&rel, 0, sizeof(rel));
	walk.rel = NULL;
	for (k = 0; k < q->ntypes; k++)
		q->types[k] = type_code(vc, q->typename[k]);
	for (k = 0; k < q->nids; k++)
		q->ids[k].code = type_code(vc, q->ids[k].type);
	if (bound == 0 &&
	    (rc = store_last_added(vc->r, coll, &bound)) != STORE_OK)
		return rc;
	pg->relpos = q->relpos;
	if (q->nids == 0 && vc->reader != NULL) {
		/* a walk: what it knows of the releases to its member */
		if ((rc = rel_load(vc, q->bound == 0 ? INT64_MAX : q->relpos,
			 &rel)) != STORE_OK)
			return rc;
		walk.rel = &rel;
		pg->relpos = rel.relpos;
		/* a new walk while a release is open stops before it */
		for (i = 0; q->bound == 0 && i < rel.n; i++)
			if (!rel.v[i].released && bound >= rel.v[i].event)
				bound = rel.v[i].event - 1;
	}
	pg->bound = bound;
	if (q->nproducers < 0)
		rc = STORE_OK; /* only unknown producers were asked for */
	else if (q->nids > 0)
		rc = page_by_ids(vc, q, coll, bound, limit, pg);
	else
		rc = page_walk(
		    vc, q, coll, bound, limit, pg, &capped, &scanned_last);
	rel_clear(&rel);
	if (rc != STORE_OK)
		view_page_clear(pg);
	else if (capped)
		pg->last = scanned_last;
	else if (pg->n > 0)
		pg->last = pg->items[pg->n - 1].date_added;
	return rc;
}

void
view_page_clear(struct view_page *pg)
{
	hub_free(pg->items);
	memset(pg, 0, sizeof(*pg));
}
