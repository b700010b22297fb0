/*
 * store_rec.c -- the store's records as read and written: the CRC-32C
 * that seals every record, the bounds a length read from the map must
 * keep, the decoding of object rows, index entries, id index values and
 * gone records, and the scans of the id index (the versions of an object, its
 * producers).  Shared by store_write.c, store_read.c and store_verify.c;
 * no transaction begins here.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "ctihub/bytes.h"
#include "ctihub/hash.h"
#include "ctihub/store.h"
#include "store_int.h"

/*
 * A length read from the map is checked before anything is read through
 * it: a value in the map must end within the pages the file holds (past
 * them a read faults), and no value is larger than STORE_VAL_MAX.  A
 * value outside the map sits in a dirty page of this process's write
 * transaction.
 */
#define STORE_VAL_MAX (UINT64_C(1) << 31)

static int
in_bounds(const struct store *st, const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)st->map;
	uintptr_t hi = atomic_load_explicit(&st->map_hi, memory_order_relaxed);

	if (n > STORE_VAL_MAX)
		return 0;
	if (lo == 0 || a < lo || a >= lo + st->maplen)
		return 1;
	return a < hi && n <= hi - a;
}

uint32_t
store_kv_crc(const MDB_val *k, const void *v, size_t n)
{
	return hash_crc32c(hash_crc32c(0, k->mv_data, k->mv_size), v, n);
}

/* Writes the CRC of key and value after the value (CRC_LEN bytes of room
 * at v + n). */
void
store_seal(const MDB_val *k, unsigned char *v, size_t n)
{
	put_be32(v + n, store_kv_crc(k, v, n));
}

/* A value with its CRC after it: 0 and the length before the CRC, or
 * BADREC. */
int
store_unseal(
    const struct store *st, const MDB_val *k, const MDB_val *d, size_t *n)
{
	if (d->mv_size < CRC_LEN || !in_bounds(st, d->mv_data, d->mv_size))
		return BADREC;
	*n = d->mv_size - CRC_LEN;
	if (get_be32((const unsigned char *)d->mv_data + *n) !=
	    store_kv_crc(k, d->mv_data, *n))
		return BADREC;
	return 0;
}

/* The check of an index entry (a twin's extension included): the CRC of
 * key and value with the check field zero, folded to 16 bits. */
static uint16_t
entry_check(const unsigned char *key, const void *val, size_t len)
{
	unsigned char v[sizeof(struct store_entry) + sizeof(struct twin_ext)];
	MDB_val k = {ADDKEY_LEN, (void *)(uintptr_t)key};
	uint32_t c;

	memcpy(v, val, len);
	memset(v + offsetof(struct store_entry, check), 0, 2);
	c = store_kv_crc(&k, v, len);
	return (uint16_t)(c ^ c >> 16);
}

void
store_entry_seal(const unsigned char *key, void *val, size_t len)
{
	uint16_t c = entry_check(key, val, len);

	memcpy(
	    (unsigned char *)val + offsetof(struct store_entry, check), &c, 2);
}

/* An index entry as read: 0 when its size and check hold, else BADREC. */
int
store_entry_ok(const struct store *st, const MDB_val *k, const MDB_val *d)
{
	uint16_t c;

	if (k->mv_size != ADDKEY_LEN ||
	    (d->mv_size != sizeof(struct store_entry) &&
		d->mv_size !=
		    sizeof(struct store_entry) + sizeof(struct twin_ext)) ||
	    !in_bounds(st, d->mv_data, d->mv_size))
		return BADREC;
	memcpy(&c,
	    (const unsigned char *)d->mv_data +
		offsetof(struct store_entry, check),
	    2);
	return c == entry_check(k->mv_data, d->mv_data, d->mv_size) ? 0
								    : BADREC;
}

/*
 * An object row as read: 0 with its header in *h when the lengths add up
 * and the CRC holds, else BADREC.  The CRC covers the key, the header up
 * to the CRC, and the release list, id and JSON after it.
 */
int
store_obj_ok(const struct store *st, const MDB_val *k, const MDB_val *d,
    struct obj_hdr *h)
{
	size_t head = offsetof(struct obj_hdr, crc);
	uint32_t c;

	if (k->mv_size != 8 || d->mv_size < sizeof(*h) ||
	    !in_bounds(st, d->mv_data, d->mv_size))
		return BADREC;
	memcpy(h, d->mv_data, sizeof(*h));
	if (h->magic != OBJ_MAGIC || h->hver != OBJ_HVER ||
	    h->nrelease > STORE_MAX_COUNTRIES ||
	    d->mv_size !=
		sizeof(*h) + (size_t)h->nrelease * 2 + h->idlen + h->jsonlen)
		return BADREC;
	c = store_kv_crc(k, d->mv_data, head);
	c = hash_crc32c(c, (const unsigned char *)d->mv_data + sizeof(*h),
	    d->mv_size - sizeof(*h));
	return c == h->crc ? 0 : BADREC;
}

/* An id index value: rowid(8), memberships, CRC. */
int
store_decode_idval(
    const struct store *st, const MDB_val *k, const MDB_val *d, struct found *f)
{
	const unsigned char *p = d->mv_data;
	size_t n;

	if (store_unseal(st, k, d, &n) != 0 || n < 8 ||
	    (n - 8) % sizeof(struct member_rec) != 0 ||
	    (n - 8) / sizeof(struct member_rec) > STORE_MAX_MEMBERSHIP)
		return BADREC;
	memcpy(&f->rowid, p, 8);
	n = (n - 8) / sizeof(struct member_rec);
	f->nmember = (int)n;
	memcpy(f->member, p + 8, n * sizeof(struct member_rec));
	return 0;
}

int
store_decode_item(const struct store *st, const MDB_val *k, const MDB_val *d,
    struct store_item *it)
{
	struct twin_ext x;

	if (store_entry_ok(st, k, d) != 0)
		return store_mdb_err(BADREC, "index entry");
	it->coll = get_be32(k->mv_data);
	it->date_added = (int64_t)get_be64((unsigned char *)k->mv_data + 4);
	memcpy(&it->e, d->mv_data, sizeof(it->e));
	it->orig_added = 0;
	it->event = 0;
	if (d->mv_size > sizeof(it->e)) {
		memcpy(&x, (const char *)d->mv_data + sizeof(it->e), sizeof(x));
		it->orig_added = x.orig_added;
		it->event = x.event;
	}
	return STORE_OK;
}

/*
 * The id index entries of one producer's object, in one index: prod_first
 * puts c on the first (kb gets the key prefix), prod_next on the next; 0
 * on an entry of the object, MDB_NOTFOUND past its last, or an LMDB code.
 */
static int
prod_check(int rc, const unsigned char kb[IDKEY_LEN], const MDB_val *k)
{
	if (rc == 0 &&
	    (k->mv_size != IDKEY_LEN ||
		memcmp(k->mv_data, kb, IDPFX_PROD) != 0))
		return MDB_NOTFOUND;
	return rc;
}

static int
prod_first(MDB_cursor *c, const unsigned char uuid[16], uint32_t type,
    uint32_t producer, unsigned char kb[IDKEY_LEN], MDB_val *k, MDB_val *d)
{
	idkey(kb, uuid, type, producer, INT64_MIN);
	k->mv_size = IDKEY_LEN;
	k->mv_data = kb;
	return prod_check(mdb_cursor_get(c, k, d, MDB_SET_RANGE), kb, k);
}

static int
prod_next(
    MDB_cursor *c, const unsigned char kb[IDKEY_LEN], MDB_val *k, MDB_val *d)
{
	return prod_check(mdb_cursor_get(c, k, d, MDB_NEXT), kb, k);
}

/* A version as its id index entry says: 0, or BADREC. */
static int
decode_version(const struct store *st, const MDB_val *k, const MDB_val *d,
    uint32_t producer, int in_new, struct found *f)
{
	f->producer = producer;
	f->version = get_version((const unsigned char *)k->mv_data + 24);
	f->in_new = in_new;
	return store_decode_idval(st, k, d, f);
}

/* Scans one id index for the versions of one producer's object; appends
 * them to v. */
static int
scan_versions(const struct store *st, MDB_cursor *c,
    const unsigned char uuid[16], uint32_t type, uint32_t producer, int in_new,
    struct found *v, int max, int *n)
{
	unsigned char kb[IDKEY_LEN];
	MDB_val k, d;
	int rc;

	for (rc = prod_first(c, uuid, type, producer, kb, &k, &d); rc == 0;
	     rc = prod_next(c, kb, &k, &d)) {
		if (*n == max)
			return 0; /* more than the limit: cannot happen */
		if (decode_version(st, &k, &d, producer, in_new, &v[*n]) != 0)
			return BADREC;
		(*n)++;
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
store_latest_version(const struct store *st, MDB_cursor *c_ids,
    MDB_cursor *c_new, const unsigned char uuid[16], uint32_t type,
    uint32_t producer, struct found *f)
{
	unsigned char kb[IDKEY_LEN];
	MDB_cursor *cs[2];
	MDB_val k, d;
	struct found t;
	int i, rc, found = 0;

	cs[0] = c_ids;
	cs[1] = c_new;
	for (i = 0; i < 2; i++) {
		for (rc = prod_first(cs[i], uuid, type, producer, kb, &k, &d);
		     rc == 0; rc = prod_next(cs[i], kb, &k, &d)) {
			if (decode_version(st, &k, &d, producer, i, &t) != 0)
				return BADREC;
			if (!found || t.version > f->version)
				*f = t;
			found = 1;
		}
		if (rc != MDB_NOTFOUND)
			return rc;
	}
	return found ? 0 : MDB_NOTFOUND;
}

/* The versions of one producer's object across both id indexes, oldest
 * first. */
int
store_all_versions(const struct store *st, MDB_cursor *c_ids, MDB_cursor *c_new,
    const unsigned char uuid[16], uint32_t type, uint32_t producer,
    struct found *v, int *n)
{
	int rc, i, j;

	*n = 0;
	if ((rc = scan_versions(st, c_ids, uuid, type, producer, 0, v,
		 MAX_VERSIONS, n)) != 0 ||
	    (rc = scan_versions(
		 st, c_new, uuid, type, producer, 1, v, MAX_VERSIONS, n)) != 0)
		return rc;
	/* insertion sort: there are few versions */
	for (i = 1; i < *n; i++) {
		struct found t = v[i];

		for (j = i; j > 0 && v[j - 1].version > t.version; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
	return 0;
}

/*
 * The first producer, from `from` on, that holds versions of the object
 * (uuid, type) in either id index: 0 and *out set, or MDB_NOTFOUND.
 */
int
store_next_producer(MDB_cursor *c_ids, MDB_cursor *c_new,
    const unsigned char uuid[16], uint32_t type, uint32_t from, uint32_t *out)
{
	unsigned char kb[IDKEY_LEN];
	MDB_cursor *cs[2];
	MDB_val k, d;
	int i, rc, found = 0;

	cs[0] = c_ids;
	cs[1] = c_new;
	for (i = 0; i < 2; i++) {
		uint32_t p;

		idkey(kb, uuid, type, from, INT64_MIN);
		k.mv_size = IDKEY_LEN;
		k.mv_data = kb;
		rc = mdb_cursor_get(cs[i], &k, &d, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		if (k.mv_size != IDKEY_LEN ||
		    memcmp(k.mv_data, kb, IDPFX_OBJ) != 0)
			continue;
		p = get_be32((unsigned char *)k.mv_data + IDPFX_OBJ);
		if (!found || p < *out)
			*out = p;
		found = 1;
	}
	return found ? 0 : MDB_NOTFOUND;
}

/*
 * A gone record as read: the key names the collection and the date, the
 * value's lengths must add up exactly (pairs and id within it, a
 * non-empty id), and the CRC hold.  0 with g filled, else BADREC.
 */
int
store_decode_gone(const struct store *st, const MDB_val *k, const MDB_val *d,
    struct store_gone *g)
{
	const unsigned char *p = d->mv_data;
	size_t n, rel, idlen;

	if (k->mv_size != ADDKEY_LEN || store_unseal(st, k, d, &n) != 0 ||
	    n < GONE_MIN)
		return BADREC;
	rel = (size_t)p[34] * 2;
	if (p[34] > STORE_MAX_COUNTRIES || n < GONE_MIN + rel)
		return BADREC;
	idlen = (size_t)p[GONE_HEAD + rel] << 8 | p[GONE_HEAD + rel + 1];
	if (idlen == 0 || n != GONE_MIN + rel + idlen)
		return BADREC;
	g->coll = get_be32(k->mv_data);
	g->date = (int64_t)get_be64((const unsigned char *)k->mv_data + 4);
	g->producer = get_be32(p);
	g->type = get_be32(p + 4);
	memcpy(g->uuid, p + 8, 16);
	g->version = (int64_t)get_be64(p + 24);
	g->tlp = p[32];
	g->flags = p[33];
	g->nrelease = p[34];
	g->release = (const char *)p + GONE_HEAD;
	g->id = (const char *)p + GONE_MIN + rel;
	g->idlen = idlen;
	return 0;
}

/* The public form of a found version (store_member is not packed). */
void
store_to_version(const struct found *f, struct store_version *sv)
{
	int i;

	sv->producer = f->producer;
	sv->version = f->version;
	sv->rowid = f->rowid;
	sv->nmember = f->nmember;
	for (i = 0; i < f->nmember; i++) {
		sv->member[i].coll = f->member[i].coll;
		sv->member[i].date_added = f->member[i].date_added;
	}
}

int
store_get_sealed(MDB_txn *txn, const struct store *st, int db, MDB_val *k,
    MDB_val *d, size_t *n, const char *what)
{
	int rc;

	if ((rc = mdb_get(txn, st->dbi[db], k, d)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, what);
	if (store_unseal(st, k, d, n) != 0)
		return store_mdb_err(BADREC, what);
	return STORE_OK;
}
