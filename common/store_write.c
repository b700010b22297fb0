/*
 * store_write.c -- the store's write transaction: adding objects
 * (versions, memberships, first/last flags), deleting them, markings read
 * again when their definitions arrive (pending), status resources and
 * their pruning, audit records, release records and twins, the gone
 * records deletions leave (and their pruning), subscription records, and
 * the merge of the id delta index at commit; a new row's observables and
 * a deleted row's go with it (store_obs.c).  One write transaction at a
 * time, with a sticky error checked at commit.  Reads are in
 * store_read.c.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "ctihub/alloc.h"
#include "ctihub/bytes.h"
#include "ctihub/hash.h"
#include "ctihub/store.h"
#include "ctihub/tstamp.h"
#include "store_int.h"

/* Minimum size of the id delta index before it is merged into the main
 * one; it also grows with the main index (1/16 of it) so the cost of a
 * merge per merged entry stays flat as the store grows. */
#define IDS_MERGE_MIN 50000

static struct type_slot *
type_slot(struct store *st, const char *name, size_t len, int for_insert)
{
	uint64_t h = UINT64_C(14695981039346656037);
	size_t i, j;

	if (len >= sizeof(st->types[0].name))
		return NULL;
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * UINT64_C(1099511628211);
	for (i = 0; i < 8; i++) {
		struct type_slot *t = &st->types[(h + i) % TYPES_CACHE];

		if (t->code == 0)
			return for_insert ? t : NULL;
		if (strncmp(t->name, name, len) == 0 && t->name[len] == '\0')
			return t;
	}
	j = h % TYPES_CACHE;
	return for_insert ? &st->types[j] : NULL;
}

static void
type_remember(struct store *st, const char *name, size_t len, uint32_t code)
{
	struct type_slot *t = type_slot(st, name, len, 1);

	if (t == NULL)
		return;
	memcpy(t->name, name, len);
	t->name[len] = '\0';
	t->code = code;
}

/* The code of a STIX type in a write transaction, registered when new
 * (create) or STORE_ENOTFOUND-like MDB_NOTFOUND when not. */
static int
wtype(struct store_wtxn *w, const char *name, size_t len, int create,
    uint32_t *code)
{
	struct type_slot *t = type_slot(w->st, name, len, 0);
	int rc, i;

	if (t != NULL) {
		*code = t->code;
		return 0;
	}
	rc = store_reg_get(w->txn, w->st, STORE_K_TYPE, name, len, code);
	if (rc == 0) {
		for (i = 0; i < w->nnewtypes; i++)
			if (w->newtypes[i].code == *code)
				return 0; /* ours, not committed yet */
		if (w->nnewtypes <= (int)nitems(w->newtypes))
			type_remember(w->st, name, len, *code);
		return 0;
	}
	if (rc != MDB_NOTFOUND || !create)
		return rc;
	if ((rc = store_reg_put(w->txn, w->st, STORE_K_TYPE, name, len,
		 &w->last_code, code)) != 0)
		return rc;
	if (w->nnewtypes < (int)nitems(w->newtypes) &&
	    len < sizeof(w->newtypes[0].name)) {
		memcpy(w->newtypes[w->nnewtypes].name, name, len);
		w->newtypes[w->nnewtypes].name[len] = '\0';
		w->newtypes[w->nnewtypes].code = *code;
		w->nnewtypes++;
	} else
		w->nnewtypes = (int)nitems(w->newtypes) + 1; /* cache no more */
	return 0;
}

/* --- the Bloom filter of stored ids --- */

#define BLOOM_BITS_PER_ID 10
#define BLOOM_PROBES	  7

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static void
bloom_hash(const unsigned char *key20, uint64_t *h1, uint64_t *h2)
{
	uint64_t a, b;
	uint32_t t;

	memcpy(&a, key20, 8);
	memcpy(&b, key20 + 8, 8);
	memcpy(&t, key20 + 16, 4);
	*h1 = mix64(a ^ t);
	*h2 = mix64(b + t) | 1;
}

static int
bloom_maybe(const struct bloom *bl, const unsigned char *key20)
{
	uint64_t h1, h2, bit;
	int i;

	bloom_hash(key20, &h1, &h2);
	for (i = 0; i < BLOOM_PROBES; i++) {
		bit = (h1 + (uint64_t)i * h2) % bl->nbits;
		if (!(bl->bits[bit / 64] & UINT64_C(1) << (bit % 64)))
			return 0;
	}
	return 1;
}

static void
bloom_add(struct bloom *bl, const unsigned char *key20)
{
	uint64_t h1, h2, bit;
	int i;

	bloom_hash(key20, &h1, &h2);
	for (i = 0; i < BLOOM_PROBES; i++) {
		bit = (h1 + (uint64_t)i * h2) % bl->nbits;
		bl->bits[bit / 64] |= UINT64_C(1) << (bit % 64);
	}
	if (++bl->count > bl->cap)
		bl->valid = 0; /* too full to be useful: rebuilt bigger */
}

/* Fills the filter from both id indexes (inside a write transaction). */
static int
bloom_build(struct store_wtxn *w)
{
	struct bloom *bl = &w->st->bloom;
	MDB_stat sm, sn;
	MDB_cursor *cs[2];
	MDB_val k, d;
	uint64_t cap;
	int i, rc = MDB_NOTFOUND;

	cs[0] = w->c_ids;
	cs[1] = w->c_new;
	bl->valid = 0;
	if ((rc = mdb_stat(w->txn, w->st->dbi[DB_IDS], &sm)) != 0 ||
	    (rc = mdb_stat(w->txn, w->st->dbi[DB_IDSNEW], &sn)) != 0)
		return rc;
	cap = (sm.ms_entries + sn.ms_entries) * 2;
	if (cap < 1000000)
		cap = 1000000;
	hub_free(bl->bits);
	bl->nbits = (cap * BLOOM_BITS_PER_ID + 63) / 64 * 64;
	if ((bl->bits = hub_calloc(bl->nbits / 64, 8)) == NULL) {
		bl->nbits = 0;
		return 0; /* no filter: every object is searched */
	}
	bl->cap = cap;
	bl->count = 0;
	for (i = 0; i < 2; i++) {
		for (rc = mdb_cursor_get(cs[i], &k, &d, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cs[i], &k, &d, MDB_NEXT))
			if (k.mv_size == IDKEY_LEN)
				bloom_add(bl, k.mv_data);
		if (rc != MDB_NOTFOUND)
			return rc;
	}
	bl->valid = bl->count <= bl->cap;
	return 0;
}

/* --- write transactions --- */

static int wbegin(struct store *, struct store_wtxn **, int);

int
store_wbegin(struct store *st, struct store_wtxn **out)
{
	return wbegin(st, out, 0);
}

int
store_wbegin_obs(struct store *st, struct store_wtxn **out)
{
	return wbegin(st, out, 1);
}

static int
wbegin(struct store *st, struct store_wtxn **out, int obs_only)
{
	struct store_wtxn *w;
	uint64_t v;
	int rc;

	*out = NULL;
	if ((w = hub_calloc(1, sizeof(*w))) == NULL)
		return STORE_ERR;
	w->st = st;
	w->obs_only = obs_only;
	store_hold(st);
	if ((rc = store_begin(st, 0, &w->txn)) != 0)
		goto fail;
	if ((rc = mdb_cursor_open(w->txn, st->dbi[DB_OBJ], &w->c_obj)) != 0 ||
	    (rc = mdb_cursor_open(w->txn, st->dbi[DB_IDS], &w->c_ids)) != 0 ||
	    (rc = mdb_cursor_open(w->txn, st->dbi[DB_IDSNEW], &w->c_new)) != 0)
		goto fail;
	rc = store_meta_get(w->txn, st->dbi[DB_META], "last_added", &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	w->last_added = rc == 0 ? (int64_t)v : 0;
	rc = store_meta_get(w->txn, st->dbi[DB_META], "last_row", &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	w->last_row = rc == 0 ? v : 0;
	rc = store_meta_get(w->txn, st->dbi[DB_META], "last_code", &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	w->last_code = rc == 0 ? v : 0;
	rc = store_meta_get(w->txn, st->dbi[DB_META], "writer", &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	/* the index alone changes no id: the filter neither needed nor
	 * made stale */
	if (!obs_only &&
	    (!st->bloom.valid || (rc == 0 && v != st->writer_id))) {
		/* first write here, or another process wrote meanwhile */
		if ((rc = bloom_build(w)) != 0)
			goto fail;
	}
	*out = w;
	return STORE_OK;
fail:
	rc = store_mdb_err(rc, "begin write");
	if (w->txn != NULL)
		mdb_txn_abort(w->txn);
	store_unhold(st);
	hub_free(w);
	return rc;
}

void
store_wabort(struct store_wtxn *w)
{
	if (w == NULL)
		return;
	mdb_txn_abort(w->txn); /* closes the write cursors too */
	store_unhold(w->st);
	hub_free(w);
}

/* 1 when a producer other than `producer` holds versions of the object,
 * 0 when none does, or an LMDB error. */
static int
other_producer(MDB_cursor *c_ids, MDB_cursor *c_new,
    const unsigned char uuid[16], uint32_t type, uint32_t producer)
{
	uint32_t p;
	int rc;

	rc = store_next_producer(c_ids, c_new, uuid, type, 0, &p);
	if (rc == 0 && p == producer) {
		if (producer == UINT32_MAX)
			return 0;
		rc = store_next_producer(
		    c_ids, c_new, uuid, type, producer + 1, &p);
	}
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc == 0 ? 1 : rc;
}

static int
member_index(const struct found *f, uint32_t coll)
{
	int i;

	for (i = 0; i < f->nmember; i++)
		if (f->member[i].coll == coll)
			return i;
	return -1;
}

static int
put_idval(struct store_wtxn *w, const struct found *f,
    const unsigned char uuid[16], uint32_t type)
{
	unsigned char kb[IDKEY_LEN];
	unsigned char
	    vb[8 + STORE_MAX_MEMBERSHIP * sizeof(struct member_rec) + CRC_LEN];
	MDB_val k = {IDKEY_LEN, kb}, d;
	size_t n = 8 + (size_t)f->nmember * sizeof(struct member_rec);

	idkey(kb, uuid, type, f->producer, f->version);
	memcpy(vb, &f->rowid, 8);
	memcpy(
	    vb + 8, f->member, (size_t)f->nmember * sizeof(struct member_rec));
	store_seal(&k, vb, n);
	d.mv_size = n + CRC_LEN;
	d.mv_data = vb;
	if (f->nmember == 0)
		return mdb_del(w->txn,
		    w->st->dbi[f->in_new ? DB_IDSNEW : DB_IDS], &k, NULL);
	return mdb_put(
	    w->txn, w->st->dbi[f->in_new ? DB_IDSNEW : DB_IDS], &k, &d, 0);
}

/* Sets and clears flags of the index entry at (coll, da), and records in
 * it the date_added of the newest version (0 for the newest itself). */
static int
update_entry_flags(struct store_wtxn *w, uint32_t coll, int64_t da, uint8_t set,
    uint8_t clear, int64_t newest)
{
	unsigned char kb[ADDKEY_LEN];
	MDB_val k = {ADDKEY_LEN, kb}, d;
	struct store_entry e;
	int rc;

	addkey(kb, coll, da);
	if ((rc = mdb_get(w->txn, w->st->dbi[DB_ADDED], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	if (d.mv_size != sizeof(e) || store_entry_ok(w->st, &k, &d) != 0)
		return BADREC;
	memcpy(&e, d.mv_data, sizeof(e));
	if (((e.flags | set) & (uint8_t)~clear) == e.flags &&
	    e.newest == newest)
		return 0;
	e.flags = (uint8_t)((e.flags | set) & ~clear);
	e.newest = newest;
	store_entry_seal(kb, &e, sizeof(e));
	d.mv_size = sizeof(e);
	d.mv_data = &e;
	return mdb_put(w->txn, w->st->dbi[DB_ADDED], &k, &d, 0);
}

/*
 * Gives FIRST to the oldest and LAST to the newest version of the object
 * in `coll`, and takes them from every other version there, which learn
 * the newest one's date_added.  `v` holds all versions, oldest first, with
 * memberships up to date; `skip_da` is an entry not yet written (its flags
 * and newest are returned in *newflags and *newnewest).
 */
static int
fix_first_last(struct store_wtxn *w, uint32_t coll, struct found *v, int n,
    int64_t skip_da, uint8_t *newflags, int64_t *newnewest)
{
	int i, m, first = -1, last = -1, rc;
	int64_t newest = 0;

	for (i = 0; i < n; i++)
		if (member_index(&v[i], coll) >= 0) {
			if (first < 0)
				first = i;
			last = i;
		}
	if (last >= 0)
		newest =
		    v[last].member[member_index(&v[last], coll)].date_added;
	for (i = 0; i < n; i++) {
		uint8_t set = 0, clear = 0;
		int64_t da;

		if ((m = member_index(&v[i], coll)) < 0)
			continue;
		da = v[i].member[m].date_added;
		(i == first ? &set : &clear)[0] |= STORE_F_FIRST;
		(i == last ? &set : &clear)[0] |= STORE_F_LAST;
		if (da == skip_da) {
			*newflags = (uint8_t)((*newflags | set) & ~clear);
			*newnewest = i == last ? 0 : newest;
			continue;
		}
		if ((rc = update_entry_flags(
			 w, coll, da, set, clear, i == last ? 0 : newest)) != 0)
			return rc;
	}
	return 0;
}

static int
put_entry(
    struct store_wtxn *w, uint32_t coll, int64_t da, struct store_entry *e)
{
	unsigned char kb[ADDKEY_LEN];
	MDB_val k = {ADDKEY_LEN, kb}, d = {sizeof(*e), e};

	addkey(kb, coll, da);
	store_entry_seal(kb, e, sizeof(*e));
	/* date_added only grows, so this appends (MDB_APPEND would refuse
	 * entries of a collection whose code sorts before another's) */
	return mdb_put(w->txn, w->st->dbi[DB_ADDED], &k, &d, 0);
}

/* The object header and what follows it, for a new row or a rewrite. */
static int
put_obj(struct store_wtxn *w, const struct obj_hdr *h, const char *release,
    const char *id, const char *json, uint64_t rowid, int append)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d;
	unsigned char *p;
	size_t rel = (size_t)h->nrelease * 2;
	uint32_t crc;
	int rc;

	put_be64(kb, rowid);
	d.mv_size = sizeof(*h) + rel + h->idlen + h->jsonlen;
	d.mv_data = NULL;
	if ((rc = mdb_cursor_put(w->c_obj, &k, &d,
		 MDB_RESERVE | (append ? MDB_APPEND : 0))) != 0)
		return rc;
	p = d.mv_data;
	memcpy(p, h, sizeof(*h));
	memcpy(p + sizeof(*h), release, rel);
	memcpy(p + sizeof(*h) + rel, id, h->idlen);
	memcpy(p + sizeof(*h) + rel + h->idlen, json, h->jsonlen);
	crc = store_kv_crc(&k, p, offsetof(struct obj_hdr, crc));
	crc = hash_crc32c(crc, p + sizeof(*h), d.mv_size - sizeof(*h));
	memcpy(p + offsetof(struct obj_hdr, crc), &crc, sizeof(crc));
	return 0;
}

/* The type of an id: its part before "--"; 0 when there is none. */
static size_t
id_type_len(const char *id, size_t idlen)
{
	const char *p = idlen >= 2 ? memmem(id, idlen, "--", 2) : NULL;

	return p == NULL ? 0 : (size_t)(p - id);
}

/* Remembers that row `rowid` of `producer` waits for the definitions of
 * the marking ids in mk. */
static int
put_pending(struct store_wtxn *w, uint32_t producer,
    const struct store_mark *mk, uint64_t rowid)
{
	unsigned char kb[20], vb[8];
	MDB_val k = {20, kb}, d = {8, vb};
	int i, rc;

	put_be32(kb, producer);
	put_be64(vb, rowid);
	for (i = 0; i < mk->nunres && i < STORE_MAX_UNRES; i++) {
		memcpy(kb + 4, mk->unres[i], 16);
		if ((rc = mdb_put(w->txn, w->st->dbi[DB_PENDING], &k, &d, 0)) !=
		    0)
			return rc;
	}
	return 0;
}

/* The marking of a new object as ingest saw it. */
static void
mark_of(const struct store_obj *o, struct store_mark *mk)
{
	memset(mk, 0, sizeof(*mk));
	mk->tlp = o->tlp;
	mk->flags = o->flags & (STORE_F_RELEASE | STORE_F_UNRESOLVED);
	mk->nrelease = o->nrelease;
	memcpy(mk->release, o->release, (size_t)o->nrelease * 2);
	mk->nunres = o->nunres < STORE_MAX_UNRES ? o->nunres : STORE_MAX_UNRES;
	memcpy(mk->unres, o->unres, (size_t)mk->nunres * 16);
}

/* Sets the level and releasability of every index entry of a version. */
static int
retag_entries(struct store_wtxn *w, const struct obj_hdr *h)
{
	unsigned char kb[IDKEY_LEN], ak[ADDKEY_LEN];
	MDB_val k = {IDKEY_LEN, kb}, d, ek = {ADDKEY_LEN, ak};
	struct found f;
	struct store_entry e;
	int i, rc;

	idkey(kb, h->uuid, h->type, h->producer, h->version);
	rc = mdb_get(w->txn, w->st->dbi[DB_IDSNEW], &k, &d);
	if (rc == MDB_NOTFOUND)
		rc = mdb_get(w->txn, w->st->dbi[DB_IDS], &k, &d);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	if (store_decode_idval(w->st, &k, &d, &f) != 0)
		return BADREC;
	for (i = 0; i < f.nmember; i++) {
		addkey(ak, f.member[i].coll, f.member[i].date_added);
		if ((rc = mdb_get(w->txn, w->st->dbi[DB_ADDED], &ek, &d)) != 0)
			continue;
		if (d.mv_size != sizeof(e) ||
		    store_entry_ok(w->st, &ek, &d) != 0)
			return BADREC;
		memcpy(&e, d.mv_data, sizeof(e));
		e.tlp = h->tlp;
		e.flags =
		    (uint8_t)((e.flags &
				  ~(STORE_F_RELEASE | STORE_F_UNRESOLVED)) |
			(h->flags & (STORE_F_RELEASE | STORE_F_UNRESOLVED)));
		store_entry_seal(ak, &e, sizeof(e));
		d.mv_size = sizeof(e);
		d.mv_data = &e;
		if ((rc = mdb_put(w->txn, w->st->dbi[DB_ADDED], &ek, &d, 0)) !=
		    0)
			return rc;
	}
	return 0;
}

/* Reads the markings of a stored row again (its producer published a
 * definition it was waiting for) and applies what they now say. */
static int
retag_row(struct store_wtxn *w, uint64_t rowid)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d;
	struct obj_hdr h;
	struct store_mark mk;
	char *copy;
	const char *p;
	size_t rel;
	int rc;

	put_be64(kb, rowid);
	if ((rc = mdb_get(w->txn, w->st->dbi[DB_OBJ], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc; /* deleted since */
	if (store_obj_ok(w->st, &k, &d, &h) != 0)
		return BADREC;
	rel = (size_t)h.nrelease * 2;
	if (!(h.flags & STORE_F_UNRESOLVED))
		return 0;
	/* the row moves when rewritten: work on a copy */
	if ((copy = hub_malloc(h.idlen + h.jsonlen + 1)) == NULL)
		return ENOMEM;
	p = (const char *)d.mv_data + sizeof(h) + rel;
	memcpy(copy, p, h.idlen + h.jsonlen);
	copy[h.idlen + h.jsonlen] = '\0';
	if (w->st->remark(w, h.producer, copy + h.idlen, h.jsonlen, &mk) != 0) {
		hub_free(copy);
		return 0;
	}
	h.tlp = mk.tlp;
	h.flags =
	    (uint8_t)((h.flags & ~(STORE_F_RELEASE | STORE_F_UNRESOLVED)) |
		(mk.flags & (STORE_F_RELEASE | STORE_F_UNRESOLVED)));
	h.nrelease = (uint8_t)(mk.flags & STORE_F_RELEASE ? mk.nrelease : 0);
	rc = put_obj(w, &h, mk.release[0], copy, copy + h.idlen, rowid, 0);
	hub_free(copy);
	if (rc != 0 || (rc = retag_entries(w, &h)) != 0)
		return rc;
	return (h.flags & STORE_F_UNRESOLVED)
	    ? put_pending(w, h.producer, &mk, rowid)
	    : 0;
}

/* A producer stored a marking definition: the rows of that producer that
 * were waiting for it read their markings again. */
static int
remark_pending(
    struct store_wtxn *w, uint32_t producer, const unsigned char uuid[16])
{
	unsigned char kb[20];
	MDB_val k = {20, kb}, d;
	MDB_cursor *c;
	uint64_t *rows = NULL, *nr;
	size_t n = 0, cap = 0, i;
	int rc;

	put_be32(kb, producer);
	memcpy(kb + 4, uuid, 16);
	if ((rc = mdb_cursor_open(w->txn, w->st->dbi[DB_PENDING], &c)) != 0)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_KEY); rc == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_DUP)) {
		if (d.mv_size != 8)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nr = hub_realloc(rows, cap * sizeof(*rows))) ==
			    NULL) {
				rc = ENOMEM;
				break;
			}
			rows = nr;
		}
		rows[n++] = get_be64(d.mv_data);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND) {
		hub_free(rows);
		return rc;
	}
	rc = 0;
	if (n > 0) {
		k.mv_size = 20;
		k.mv_data = kb;
		rc = mdb_del(w->txn, w->st->dbi[DB_PENDING], &k, NULL);
	}
	for (i = 0; rc == 0 && i < n; i++)
		rc = retag_row(w, rows[i]);
	hub_free(rows);
	return rc;
}

void
store_set_remark(struct store *st, store_remark_cb *cb)
{
	st->remark = cb;
}

int
store_wmarking(struct store_wtxn *w, uint32_t producer,
    const unsigned char uuid[16], const char **json, size_t *len)
{
	unsigned char rk[8];
	MDB_val k = {8, rk}, d;
	struct found f;
	struct obj_hdr h;
	uint32_t type;
	int rc;

	if ((rc = wtype(w, "marking-definition", 18, 0, &type)) == 0)
		rc = store_latest_version(
		    w->st, w->c_ids, w->c_new, uuid, type, producer, &f);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, "marking");
	put_be64(rk, f.rowid);
	if ((rc = mdb_get(w->txn, w->st->dbi[DB_OBJ], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, "marking");
	if (store_obj_ok(w->st, &k, &d, &h) != 0)
		return store_mdb_err(BADREC, "marking");
	*json = (const char *)d.mv_data + sizeof(h) + (size_t)h.nrelease * 2 +
	    h.idlen;
	*len = h.jsonlen;
	return STORE_OK;
}

/*
 * The stored versions of producer's object o (oldest first, into v), or
 * none when the Bloom filter says it was never stored.  1 (and o's result
 * STORE_OWNED) when the id belongs to another producer.
 */
static int
stored_versions(struct store_wtxn *w, uint32_t producer, uint32_t type,
    struct store_obj *o, const unsigned char key20[IDPFX_OBJ], struct found *v,
    int *n)
{
	int rc;

	*n = 0;
	if (w->st->bloom.valid && !bloom_maybe(&w->st->bloom, key20))
		return 0; /* never stored: no search */
	if (!o->shared &&
	    (rc = other_producer(
		 w->c_ids, w->c_new, o->uuid, type, producer)) != 0) {
		if (rc != 1)
			return rc;
		/* another producer's object: say nothing of it */
		o->result = STORE_OWNED;
		o->date_added = 0;
		return 1;
	}
	return store_all_versions(
	    w->st, w->c_ids, w->c_new, o->uuid, type, producer, v, n);
}

/* The entry of a stored version newly linked into a collection: it
 * describes the stored object (whose markings may have been read again
 * since), not the post. */
static int
link_stored(struct store_wtxn *w, const struct found *f, struct store_entry *e)
{
	unsigned char rk[8];
	MDB_val k = {8, rk}, d;
	struct obj_hdr h;
	int rc;

	put_be64(rk, f->rowid);
	if ((rc = mdb_get(w->txn, w->st->dbi[DB_OBJ], &k, &d)) != 0)
		return rc;
	if (store_obj_ok(w->st, &k, &d, &h) != 0)
		return BADREC;
	e->tlp = h.tlp;
	e->flags = h.flags &
	    (STORE_F_REVOKED | STORE_F_SPEC20 | STORE_F_RELEASE |
		STORE_F_UNRESOLVED);
	e->rowid = f->rowid;
	return 0;
}

/* Writes a new version's row (and its pending markings), first added at
 * da; fills the level, flags and row of its entry e. */
static int
put_new_row(struct store_wtxn *w, uint32_t producer, uint32_t type,
    const struct store_obj *o, int64_t da, struct store_entry *e)
{
	struct store_mark mk;
	struct obj_hdr h;
	int rc;

	mark_of(o, &mk);
	/* a definition it waits for may have been committed since it was
	 * parsed: read its markings again, here */
	if ((mk.flags & STORE_F_UNRESOLVED) && w->st->remark != NULL &&
	    w->st->remark(w, producer, o->json, o->jsonlen, &mk) != 0)
		mark_of(o, &mk);
	memset(&h, 0, sizeof(h));
	h.magic = OBJ_MAGIC;
	h.hver = OBJ_HVER;
	h.tlp = mk.tlp;
	h.flags = (uint8_t)((o->flags & (STORE_F_REVOKED | STORE_F_SPEC20)) |
	    (mk.flags & (STORE_F_RELEASE | STORE_F_UNRESOLVED)));
	h.producer = producer;
	h.type = type;
	memcpy(h.uuid, o->uuid, 16);
	h.version = o->version;
	h.first_added = da;
	h.idlen = (uint16_t)o->idlen;
	h.nrelease = (uint8_t)(mk.flags & STORE_F_RELEASE ? mk.nrelease : 0);
	h.jsonlen = (uint32_t)o->jsonlen;
	e->tlp = h.tlp;
	e->flags = h.flags;
	e->rowid = ++w->last_row;
	if ((rc = put_obj(w, &h, mk.release[0], o->id, o->json, e->rowid, 1)) !=
	    0)
		return rc;
	if ((h.flags & STORE_F_UNRESOLVED) &&
	    (rc = put_pending(w, producer, &mk, e->rowid)) != 0)
		return rc;
	return store_obs_put_row(w, e->rowid, producer, o->obs, 1);
}

/* Adds one object to coll: a new version, a stored one linked, or
 * nothing (a duplicate, another producer's id); EINVAL refuses it. */
static int
wput_one(struct store_wtxn *w, uint32_t coll, uint32_t producer,
    struct store_obj *o, int64_t now)
{
	static _Thread_local struct found v[MAX_VERSIONS];
	struct store_entry e;
	unsigned char kb[IDKEY_LEN];
	uint32_t type;
	size_t tlen = id_type_len(o->id, o->idlen);
	int n, i, rc, self = -1;
	int64_t da;

	if (o->idlen > UINT16_MAX || o->jsonlen > UINT32_MAX ||
	    o->nrelease > STORE_MAX_COUNTRIES || o->nrelease > 255 ||
	    tlen == 0 || (o->obs != NULL && store_obs_set_ok(o->obs) != 0))
		return EINVAL;
	if ((rc = wtype(w, o->id, tlen, 1, &type)) != 0)
		return rc;
	idkey(kb, o->uuid, type, producer, 0);
	if ((rc = stored_versions(w, producer, type, o, kb, v, &n)) != 0)
		return rc == 1 ? 0 : rc;
	for (i = 0; i < n; i++)
		if (v[i].version == o->version)
			self = i;
	if (self >= 0) {
		int m = member_index(&v[self], coll);

		if (m >= 0) {
			o->result = STORE_DUP;
			o->date_added = v[self].member[m].date_added;
			return 0;
		}
		if (v[self].nmember == STORE_MAX_MEMBERSHIP)
			return EINVAL;
	} else if (n == MAX_VERSIONS)
		return EINVAL;
	da = now > w->last_added ? now : w->last_added + 1;
	w->last_added = da;
	memset(&e, 0, sizeof(e));
	e.version = o->version;
	e.producer = producer;
	e.type = type;
	memcpy(e.uuid, o->uuid, 16);
	if (self >= 0) {
		if ((rc = link_stored(w, &v[self], &e)) != 0)
			return rc;
		o->result = STORE_LINKED;
	} else {
		if ((rc = put_new_row(w, producer, type, o, da, &e)) != 0)
			return rc;
		if (w->st->bloom.valid)
			bloom_add(&w->st->bloom, kb);
		/* keep v sorted: insert the new version in place */
		for (i = n; i > 0 && v[i - 1].version > o->version; i--)
			v[i] = v[i - 1];
		self = i;
		n++;
		memset(&v[self], 0, sizeof(v[self]));
		v[self].producer = producer;
		v[self].version = o->version;
		v[self].in_new = 1;
		v[self].rowid = e.rowid;
		o->result = STORE_NEW;
	}
	v[self].member[v[self].nmember].coll = coll;
	v[self].member[v[self].nmember].date_added = da;
	v[self].nmember++;
	if ((rc = put_idval(w, &v[self], o->uuid, type)) != 0)
		return rc;
	if (n > 1) {
		int64_t newest = 0;

		if ((rc = fix_first_last(
			 w, coll, v, n, da, &e.flags, &newest)) != 0)
			return rc;
		e.newest = newest;
	}
	if (n == 1)
		e.flags |= STORE_F_FIRST | STORE_F_LAST;
	if ((rc = put_entry(w, coll, da, &e)) != 0)
		return rc;
	o->date_added = da;
	if (o->result == STORE_NEW && w->st->remark != NULL && tlen == 18 &&
	    memcmp(o->id, "marking-definition", 18) == 0)
		return remark_pending(w, producer, o->uuid);
	return 0;
}

int
store_wput(struct store_wtxn *w, uint32_t coll, uint32_t producer,
    struct store_obj *objs, size_t n, int64_t now)
{
	size_t i;
	int rc;

	if (w->err != 0)
		return w->err;
	if (w->obs_only)
		return STORE_ERR;
	for (i = 0; i < n; i++) {
		if (objs[i].json == NULL)
			continue; /* rejected before it got here */
		rc = wput_one(w, coll, producer, &objs[i], now);
		if (rc == EINVAL) {
			/* this object only: the others go on */
			objs[i].result = STORE_REFUSED;
			continue;
		}
		if (rc != 0) {
			w->err = store_mdb_err(rc, "add object");
			return w->err;
		}
	}
	return STORE_OK;
}

int
store_wstatus(struct store_wtxn *w, const char *id, uint32_t owner,
    int64_t expires, const char *json, size_t len)
{
	unsigned char xk[8 + 64];
	size_t idlen = strlen(id);
	MDB_val k = {idlen, (void *)(uintptr_t)id}, d;
	unsigned char *p;
	int rc;

	if (w->err != 0)
		return w->err;
	if (idlen > 64)
		return STORE_ERR;
	d.mv_size = 12 + len + CRC_LEN;
	d.mv_data = NULL;
	if ((rc = mdb_put(
		 w->txn, w->st->dbi[DB_STATUS], &k, &d, MDB_RESERVE)) != 0)
		goto fail;
	p = d.mv_data;
	memcpy(p, &owner, 4);
	memcpy(p + 4, &expires, 8);
	memcpy(p + 12, json, len);
	store_seal(&k, p, 12 + len);
	put_be64(xk, (uint64_t)expires);
	memcpy(xk + 8, id, idlen);
	k.mv_size = 8 + idlen;
	k.mv_data = xk;
	d.mv_size = 0;
	d.mv_data = NULL;
	if ((rc = mdb_put(w->txn, w->st->dbi[DB_STATUSX], &k, &d, 0)) != 0)
		goto fail;
	return STORE_OK;
fail:
	w->err = store_mdb_err(rc, "store status");
	return w->err;
}

int
store_wrelease(struct store_wtxn *w, uint64_t *event, const void *rec,
    size_t len, int64_t now)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d = {len + CRC_LEN, NULL};
	int64_t id;
	int rc;

	if (w->err != 0)
		return w->err;
	id = now > w->last_added ? now : w->last_added + 1;
	w->last_added = id;
	put_be64(kb, (uint64_t)id);
	if ((rc = mdb_put(
		 w->txn, w->st->dbi[DB_RELEASE], &k, &d, MDB_RESERVE)) != 0) {
		w->err = store_mdb_err(rc, "release");
		return w->err;
	}
	memcpy(d.mv_data, rec, len);
	store_seal(&k, d.mv_data, len);
	*event = (uint64_t)id;
	return STORE_OK;
}

int
store_wtwins(struct store_wtxn *w, uint64_t event, store_entry_cb *want,
    void *arg, int64_t now, unsigned char resume[12], int max, int *added)
{
	static const unsigned char zero[12];
	MDB_cursor *c;
	MDB_val k, d;
	unsigned char kb[ADDKEY_LEN], last[ADDKEY_LEN];
	unsigned char vb[sizeof(struct store_entry) + sizeof(struct twin_ext)];
	struct store_entry e;
	struct twin_ext x;
	int64_t limit_da;
	int rc, n = 0;

	*added = 0;
	if (w->err != 0)
		return w->err;
	/* entries made by this scan come after its start: not rescanned */
	limit_da = w->last_added;
	if ((rc = mdb_cursor_open(w->txn, w->st->dbi[DB_ADDED], &c)) != 0)
		goto fail;
	memcpy(kb, resume, ADDKEY_LEN);
	k.mv_size = ADDKEY_LEN;
	k.mv_data = kb;
	rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	if (rc == 0 && memcmp(resume, zero, 12) != 0 &&
	    memcmp(k.mv_data, resume, ADDKEY_LEN) == 0)
		rc = mdb_cursor_get(c, &k, &d, MDB_NEXT); /* already done */
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		uint32_t coll;
		int64_t da, nda;

		if (k.mv_size != ADDKEY_LEN || d.mv_size != sizeof(e))
			continue; /* a twin, not an original */
		if (store_entry_ok(w->st, &k, &d) != 0) {
			rc = BADREC;
			break;
		}
		memcpy(last, k.mv_data, ADDKEY_LEN);
		coll = get_be32(k.mv_data);
		da = (int64_t)get_be64((unsigned char *)k.mv_data + 4);
		if (da > limit_da)
			continue;
		memcpy(&e, d.mv_data, sizeof(e));
		if (want(coll, da, &e, arg)) {
			nda = now > w->last_added ? now : w->last_added + 1;
			w->last_added = nda;
			e.flags = (uint8_t)((e.flags | STORE_F_RELEASED) &
			    ~(STORE_F_FIRST | STORE_F_LAST));
			e.newest = 0;
			x.orig_added = da;
			x.event = event;
			memcpy(vb, &e, sizeof(e));
			memcpy(vb + sizeof(e), &x, sizeof(x));
			addkey(kb, coll, nda);
			store_entry_seal(kb, vb, sizeof(vb));
			k.mv_size = ADDKEY_LEN;
			k.mv_data = kb;
			d.mv_size = sizeof(vb);
			d.mv_data = vb;
			/* a put moves the cursor's page under it: put
			 * through the txn, then find our place again */
			if ((rc = mdb_put(
				 w->txn, w->st->dbi[DB_ADDED], &k, &d, 0)) != 0)
				break;
			(*added)++;
			k.mv_size = ADDKEY_LEN;
			k.mv_data = last;
			if ((rc = mdb_cursor_get(c, &k, &d, MDB_SET_KEY)) != 0)
				break;
		}
		if (++n == max) {
			memcpy(resume, last, ADDKEY_LEN);
			mdb_cursor_close(c);
			return STORE_OK;
		}
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		goto fail;
	memset(resume, 0, 12);
	return STORE_OK;
fail:
	w->err = store_mdb_err(rc, "release twins");
	return w->err;
}

/*
 * Deletes at most `max` gone records dated before `before`: in each
 * collection the oldest come first, so the walk deletes from the start of
 * a collection's range and jumps to the next collection at the first
 * record it keeps.
 */
static int
prune_gone(struct store_wtxn *w, int64_t before, int max, int *pruned)
{
	unsigned char kb[ADDKEY_LEN];
	MDB_cursor *c;
	MDB_val k, d;
	uint32_t coll = 0;
	int rc;

	if ((rc = mdb_cursor_open(w->txn, w->st->dbi[DB_GONE], &c)) != 0)
		return rc;
	addkey(kb, 0, 0);
	k.mv_size = ADDKEY_LEN;
	k.mv_data = kb;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	     rc == 0 && *pruned < max;
	     rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE)) {
		if (k.mv_size != ADDKEY_LEN) {
			rc = BADREC;
			break;
		}
		coll = get_be32(k.mv_data);
		if ((int64_t)get_be64((unsigned char *)k.mv_data + 4) <
		    before) {
			if ((rc = mdb_cursor_del(c, 0)) != 0)
				break;
			(*pruned)++;
			addkey(kb, coll, 0);
		} else if (coll == UINT32_MAX) {
			rc = MDB_NOTFOUND;
			break;
		} else
			addkey(kb, coll + 1, 0);
		k.mv_size = ADDKEY_LEN;
		k.mv_data = kb;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
store_wprune(struct store_wtxn *w, int64_t now, int64_t gone_before, int max,
    int *pruned, int *gone)
{
	MDB_cursor *c;
	MDB_val k, d, sk;
	int rc, ngone = 0;

	*pruned = 0;
	if (gone != NULL)
		*gone = 0;
	if (w->err != 0)
		return w->err;
	if (gone_before != 0 &&
	    (rc = prune_gone(w, gone_before, max, &ngone)) != 0) {
		w->err = store_mdb_err(rc, "prune gone records");
		return w->err;
	}
	if (gone != NULL)
		*gone = ngone;
	if (now == 0)
		return STORE_OK;
	if ((rc = mdb_cursor_open(w->txn, w->st->dbi[DB_STATUSX], &c)) != 0)
		goto fail;
	while (
	    *pruned < max && (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST)) == 0) {
		if (k.mv_size < 8 || (int64_t)get_be64(k.mv_data) >= now)
			break;
		sk.mv_size = k.mv_size - 8;
		sk.mv_data = (unsigned char *)k.mv_data + 8;
		rc = mdb_del(w->txn, w->st->dbi[DB_STATUS], &sk, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		(*pruned)++;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	return STORE_OK;
fail:
	w->err = store_mdb_err(rc, "prune statuses");
	return w->err;
}

/* --- subscription records --- */

static int
sub_key(const char *name, MDB_val *k)
{
	size_t len = strlen(name);

	if (len == 0 || len > STORE_SUB_NAME_MAX)
		return -1;
	k->mv_size = len;
	k->mv_data = (void *)(uintptr_t)name;
	return 0;
}

int
store_wsub_put(
    struct store_wtxn *w, const char *name, const void *val, size_t len)
{
	MDB_val k, d;
	int rc;

	if (w->err != 0)
		return w->err;
	if (sub_key(name, &k) == -1 || len > STORE_SUB_VAL_MAX ||
	    (len > 0 && val == NULL))
		return STORE_ERR;
	d.mv_size = len + CRC_LEN;
	d.mv_data = NULL;
	if ((rc = mdb_put(w->txn, w->st->dbi[DB_SUBS], &k, &d, MDB_RESERVE)) !=
	    0) {
		w->err = store_mdb_err(rc, "subscription record");
		return w->err;
	}
	if (len > 0)
		memcpy(d.mv_data, val, len);
	store_seal(&k, d.mv_data, len);
	return STORE_OK;
}

/* The key of a feed's record: its name, NUL, the part. */
static int
feed_key(
    const char *name, char part, char buf[STORE_SUB_NAME_MAX + 2], MDB_val *k)
{
	size_t len = strlen(name);

	if (len == 0 || len > STORE_SUB_NAME_MAX)
		return -1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	buf[len + 1] = part;
	k->mv_size = len + 2;
	k->mv_data = buf;
	return 0;
}

int
store_wfeed_put(struct store_wtxn *w, const char *name, char part,
    const void *val, size_t len)
{
	char kb[STORE_SUB_NAME_MAX + 2];
	MDB_val k, d;
	int rc;

	if (w->err != 0)
		return w->err;
	if (feed_key(name, part, kb, &k) == -1 || len > STORE_FEED_VAL_MAX ||
	    (len > 0 && val == NULL))
		return STORE_ERR;
	d.mv_size = len + CRC_LEN;
	d.mv_data = NULL;
	if ((rc = mdb_put(w->txn, w->st->dbi[DB_FEEDS], &k, &d, MDB_RESERVE)) !=
	    0) {
		w->err = store_mdb_err(rc, "feed record");
		return w->err;
	}
	if (len > 0)
		memcpy(d.mv_data, val, len);
	store_seal(&k, d.mv_data, len);
	return STORE_OK;
}

int
store_wfeed_del(struct store_wtxn *w, const char *name, char part)
{
	char kb[STORE_SUB_NAME_MAX + 2];
	MDB_val k;
	int rc;

	if (w->err != 0)
		return w->err;
	if (feed_key(name, part, kb, &k) == -1)
		return STORE_ERR;
	rc = mdb_del(w->txn, w->st->dbi[DB_FEEDS], &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		w->err = store_mdb_err(rc, "feed record");
		return w->err;
	}
	return STORE_OK;
}

int
store_wsub_del(struct store_wtxn *w, const char *name)
{
	MDB_val k;
	int rc;

	if (w->err != 0)
		return w->err;
	if (sub_key(name, &k) == -1)
		return STORE_ERR;
	rc = mdb_del(w->txn, w->st->dbi[DB_SUBS], &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		w->err = store_mdb_err(rc, "subscription record");
		return w->err;
	}
	return STORE_OK;
}

/* --- audit records --- */

int
store_waudit(struct store_wtxn *w, const char *line, size_t len)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d = {len + CRC_LEN, NULL};
	int rc;

	if (w->err != 0)
		return w->err;
	if (!w->audit_loaded) {
		rc = store_meta_get(
		    w->txn, w->st->dbi[DB_META], "audit_seq", &w->audit_seq);
		if (rc == MDB_NOTFOUND)
			w->audit_seq = 0;
		else if (rc != 0)
			goto fail;
		w->audit_loaded = 1;
	}
	put_be64(kb, ++w->audit_seq);
	if ((rc = mdb_put(w->txn, w->st->dbi[DB_AUDIT], &k, &d,
		 MDB_APPEND | MDB_RESERVE)) != 0)
		goto fail;
	memcpy(d.mv_data, line, len);
	store_seal(&k, d.mv_data, len);
	return STORE_OK;
fail:
	w->err = store_mdb_err(rc, "audit record");
	return w->err;
}

int
store_waudit_trim(struct store_wtxn *w, uint64_t upto)
{
	MDB_cursor *c;
	MDB_val k, d;
	int rc;

	if (w->err != 0)
		return w->err;
	if ((rc = mdb_cursor_open(w->txn, w->st->dbi[DB_AUDIT], &c)) != 0)
		goto fail;
	while ((rc = mdb_cursor_get(c, &k, &d, MDB_FIRST)) == 0 &&
	    (k.mv_size != 8 || get_be64(k.mv_data) <= upto))
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	return STORE_OK;
fail:
	w->err = store_mdb_err(rc, "audit trim");
	return w->err;
}

/*
 * The gone record of the entry at (coll, da) of the version f, about to be
 * removed: its level and flags from the entry, its releasability and id
 * from the row, dated by the clock (after every date handed out before,
 * at the wall-clock time `now` at the earliest).  MDB_NOTFOUND when the
 * entry is not there (nothing is removed, nothing recorded).
 */
static int
put_gone(struct store_wtxn *w, uint32_t coll, int64_t da, const struct found *f,
    int64_t now)
{
	unsigned char kb[ADDKEY_LEN], rk[8], *vb;
	MDB_val k = {ADDKEY_LEN, kb}, d;
	struct store_entry e;
	struct obj_hdr h;
	size_t rel, n;
	int64_t date;
	int rc;

	addkey(kb, coll, da);
	if ((rc = mdb_get(w->txn, w->st->dbi[DB_ADDED], &k, &d)) != 0)
		return rc;
	if (d.mv_size != sizeof(e) || store_entry_ok(w->st, &k, &d) != 0)
		return BADREC;
	memcpy(&e, d.mv_data, sizeof(e));
	put_be64(rk, f->rowid);
	k.mv_size = 8;
	k.mv_data = rk;
	if ((rc = mdb_get(w->txn, w->st->dbi[DB_OBJ], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? BADREC : rc; /* an entry's row */
	if (store_obj_ok(w->st, &k, &d, &h) != 0)
		return BADREC;
	rel = (e.flags & STORE_F_RELEASE) ? (size_t)h.nrelease * 2 : 0;
	n = GONE_MIN + rel + h.idlen;
	/* copied out before the put: a write may move the row's page */
	if ((vb = hub_malloc(n + CRC_LEN)) == NULL)
		return ENOMEM;
	put_be32(vb, e.producer);
	put_be32(vb + 4, e.type);
	memcpy(vb + 8, e.uuid, 16);
	put_be64(vb + 24, (uint64_t)e.version);
	vb[32] = e.tlp;
	vb[33] = e.flags &
	    (STORE_F_REVOKED | STORE_F_SPEC20 | STORE_F_RELEASE |
		STORE_F_UNRESOLVED);
	vb[34] = (uint8_t)(rel / 2);
	memcpy(vb + GONE_HEAD, (const char *)d.mv_data + sizeof(h), rel);
	vb[GONE_HEAD + rel] = (unsigned char)(h.idlen >> 8);
	vb[GONE_HEAD + rel + 1] = (unsigned char)h.idlen;
	memcpy(vb + GONE_MIN + rel,
	    (const char *)d.mv_data + sizeof(h) + (size_t)h.nrelease * 2,
	    h.idlen);
	date = now > w->last_added ? now : w->last_added + 1;
	addkey(kb, coll, date);
	k.mv_size = ADDKEY_LEN;
	k.mv_data = kb;
	store_seal(&k, vb, n);
	d.mv_size = n + CRC_LEN;
	d.mv_data = vb;
	rc = mdb_put(w->txn, w->st->dbi[DB_GONE], &k, &d, 0);
	hub_free(vb);
	if (rc == 0)
		w->last_added = date;
	return rc;
}

/* Removes the matching versions of one producer's object from `coll`,
 * each leaving a gone record dated at `now` or after. */
static int
wdelete_one(struct store_wtxn *w, uint32_t coll, const unsigned char uuid[16],
    uint32_t type, uint32_t producer, store_match_cb *match, void *arg,
    int64_t now, int *removed)
{
	static _Thread_local struct found v[MAX_VERSIONS];
	struct store_version sv;
	unsigned char kb[ADDKEY_LEN], rk[8];
	MDB_val k;
	int n, i, m, rc, before = *removed;
	uint8_t dummy = 0;
	int64_t dummy_newest = 0;

	if ((rc = store_all_versions(
		 w->st, w->c_ids, w->c_new, uuid, type, producer, v, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if ((m = member_index(&v[i], coll)) < 0)
			continue;
		store_to_version(&v[i], &sv);
		if (!match(&sv, arg))
			continue;
		rc = put_gone(w, coll, v[i].member[m].date_added, &v[i], now);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return rc;
		addkey(kb, coll, v[i].member[m].date_added);
		k.mv_size = ADDKEY_LEN;
		k.mv_data = kb;
		rc = mdb_del(w->txn, w->st->dbi[DB_ADDED], &k, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return rc;
		memmove(&v[i].member[m], &v[i].member[m + 1],
		    (size_t)(v[i].nmember - m - 1) * sizeof(struct member_rec));
		v[i].nmember--;
		if ((rc = put_idval(w, &v[i], uuid, type)) != 0)
			return rc;
		if (v[i].nmember == 0) {
			put_be64(rk, v[i].rowid);
			k.mv_size = 8;
			k.mv_data = rk;
			rc = mdb_del(w->txn, w->st->dbi[DB_OBJ], &k, NULL);
			if (rc != 0 && rc != MDB_NOTFOUND)
				return rc;
			if ((rc = store_obs_drop_row(w, v[i].rowid)) != 0 &&
			    rc != MDB_NOTFOUND)
				return rc;
		}
		(*removed)++;
	}
	if (*removed > before &&
	    (rc = fix_first_last(w, coll, v, n, -1, &dummy, &dummy_newest)) !=
		0)
		return rc;
	return 0;
}

int
store_wdelete(struct store_wtxn *w, uint32_t coll, const char *typename,
    const unsigned char uuid[16], uint32_t producer, store_match_cb *match,
    void *arg, int *removed)
{
	uint32_t type, p;
	int64_t now = tstamp_now();
	int rc;

	*removed = 0;
	if (w->obs_only)
		return STORE_ERR;
	if (w->err != 0)
		return w->err;
	rc = wtype(w, typename, strlen(typename), 0, &type);
	if (rc == MDB_NOTFOUND || rc == EINVAL)
		return STORE_OK; /* a type never stored: nothing to remove */
	if (rc != 0)
		goto fail;
	if (producer != 0) {
		if ((rc = wdelete_one(w, coll, uuid, type, producer, match, arg,
			 now, removed)) != 0)
			goto fail;
		return STORE_OK;
	}
	for (p = 0; (rc = store_next_producer(
			 w->c_ids, w->c_new, uuid, type, p, &p)) == 0;
	     p++) {
		if ((rc = wdelete_one(w, coll, uuid, type, p, match, arg, now,
			 removed)) != 0)
			goto fail;
		if (p == UINT32_MAX)
			break;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	return STORE_OK;
fail:
	w->err = store_mdb_err(rc, "delete object");
	return w->err;
}

/*
 * Moves the delta id index into the main one, a sixteenth at a time.  Once
 * the delta is big enough, each of the next sixteen commits moves the
 * entries whose uuid starts in the next 1/16 of the key space ("merge_at"
 * in meta counts them): a slice touches about 1/16 of the main index's
 * pages, so no transaction rewrites the whole index (bounded dirty memory,
 * no latency spike), and after the sixteenth the delta starts again from
 * nearly empty, so new ids keep going into a small tree.
 */
static int
merge_ids(struct store_wtxn *w)
{
	MDB_stat sn, sm;
	MDB_cursor *c;
	MDB_val k, d;
	unsigned char lo[1];
	uint64_t threshold, slice = 16, n = 0;
	int rc;

	rc = store_meta_get(w->txn, w->st->dbi[DB_META], "merge_at", &slice);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (rc == MDB_NOTFOUND || slice >= 16) {
		/* not merging: start when the delta is big enough */
		if ((rc = mdb_stat(w->txn, w->st->dbi[DB_IDSNEW], &sn)) != 0 ||
		    (rc = mdb_stat(w->txn, w->st->dbi[DB_IDS], &sm)) != 0)
			return rc;
		threshold = sm.ms_entries / 16;
		if (threshold < IDS_MERGE_MIN)
			threshold = IDS_MERGE_MIN;
		if (sn.ms_entries < threshold)
			return 0;
		slice = 0;
	}
	if ((rc = mdb_cursor_open(w->txn, w->st->dbi[DB_IDSNEW], &c)) != 0)
		return rc;
	lo[0] = (unsigned char)(slice << 4);
	k.mv_size = 1;
	k.mv_data = lo;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;) {
		if (((const unsigned char *)k.mv_data)[0] >> 4 != slice)
			break;
		if ((rc = mdb_cursor_put(w->c_ids, &k, &d, 0)) != 0 ||
		    (rc = mdb_cursor_del(c, 0)) != 0)
			break;
		if (++n % 4096 == 0)
			store_release_pages(w->st);
		/* EINVAL: that was the last entry of idsnew */
		if ((rc = mdb_cursor_get(c, &k, &d, MDB_GET_CURRENT)) == EINVAL)
			rc = MDB_NOTFOUND;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	return store_meta_put(
	    w->txn, w->st->dbi[DB_META], "merge_at", slice + 1);
}

int
store_wcommit(struct store_wtxn *w)
{
	int rc;

	if (w->err != 0) {
		rc = w->err;
		store_wabort(w);
		return rc;
	}
	if ((rc = store_meta_put(w->txn, w->st->dbi[DB_META], "last_added",
		 (uint64_t)w->last_added)) != 0 ||
	    (rc = store_meta_put(
		 w->txn, w->st->dbi[DB_META], "last_row", w->last_row)) != 0 ||
	    (!w->obs_only &&
		(rc = store_meta_put(w->txn, w->st->dbi[DB_META], "writer",
		     w->st->writer_id)) != 0) ||
	    (w->audit_loaded &&
		(rc = store_meta_put(w->txn, w->st->dbi[DB_META], "audit_seq",
		     w->audit_seq)) != 0) ||
	    (rc = store_obs_commit(w)) != 0 || (rc = merge_ids(w)) != 0) {
		rc = store_mdb_err(rc, "commit");
		store_wabort(w);
		return rc;
	}
	rc = mdb_txn_commit(w->txn);
	if (rc == 0 && w->nnewtypes <= (int)nitems(w->newtypes)) {
		int i;

		for (i = 0; i < w->nnewtypes; i++)
			type_remember(w->st, w->newtypes[i].name,
			    strlen(w->newtypes[i].name), w->newtypes[i].code);
	}
	store_unhold(w->st);
	hub_free(w);
	return store_mdb_err(rc, "commit");
}

int64_t
store_wlast_added(const struct store_wtxn *w)
{
	return w->last_added;
}
