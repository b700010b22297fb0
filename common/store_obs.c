/*
 * store_obs.c -- the observable index (tables obs and obsnew): rows listed
 * under observable keys in the writer's transaction, and the lookups of a
 * key and of a range of keys in a reader's; each row's list of its
 * observables (table obsrow), written and removed with the row, and the
 * IP prefix lengths present (meta obs_pfx4/obs_pfx6).  Keys come already
 * normalised (the extraction module makes them; the store only bounds
 * their length); each (key, row) is one sorted duplicate, sealed with a
 * CRC like every record.  Deciding what a caller may see is not done here.
 *
 * New entries go to obsnew, a delta small enough to stay in the cache;
 * a merge at commit moves them into obs in key order, a slice a commit
 * (obs_merge), so that each page of the big table is rewritten once for
 * many entries rather than once for each.  Readers see the union of the
 * two, in order; an entry lives in one of them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "ctihub/alloc.h"
#include "ctihub/bytes.h"
#include "ctihub/observable.h"
#include "ctihub/store.h"
#include "store_int.h"

static int keys_ok(const struct store_obs_key *, int);
static int obs_cursor(struct store_wtxn *);
static int obs_put(struct store_wtxn *, uint64_t, const struct store_obs_key *,
    int, uint32_t, uint8_t, int64_t, int);
static int obs_unlist(MDB_cursor *, const MDB_val *, const unsigned char *);
static int obs_seek(
    MDB_cursor *, const struct store_obs_resume *, MDB_val *, MDB_val *);
static int obs_merge(struct store_wtxn *);
static int obs_result(struct store_wtxn *, int);
static int obs_decode(const struct store *, const MDB_val *, const MDB_val *,
    struct store_obs_row *);
static int obs_each(struct store_reader *, MDB_val[2], MDB_val[2], int[2],
    const MDB_val *, store_obs_cb *, void *);

/* Every key of the call within bounds: 0, else -1. */
static int
keys_ok(const struct store_obs_key *keys, int n)
{
	int i;

	if (n < 0 || (n > 0 && keys == NULL))
		return -1;
	for (i = 0; i < n; i++)
		if (keys[i].key == NULL || keys[i].len == 0 ||
		    keys[i].len > STORE_OBS_KEY_MAX)
			return -1;
	return 0;
}

/* The transaction's cursors on obs and obsnew, opened at their first
 * use (a write transaction frees them at its end). */
static int
obs_cursor(struct store_wtxn *w)
{
	int rc;

	if (w->c_obsnew != NULL)
		return 0;
	if (w->c_obs == NULL &&
	    (rc = mdb_cursor_open(w->txn, w->st->dbi[DB_OBS], &w->c_obs)) !=
		0) {
		w->c_obs = NULL;
		return rc;
	}
	if ((rc = mdb_cursor_open(
		 w->txn, w->st->dbi[DB_OBSNEW], &w->c_obsnew)) != 0)
		w->c_obsnew = NULL;
	return rc;
}

int
store_obs_put(struct store_wtxn *w, uint64_t rowid,
    const struct store_obs_key *keys, int n, uint32_t producer, uint8_t flags,
    int64_t valid_until)
{
	return obs_put(w, rowid, keys, n, producer, flags, valid_until, 0);
}

/*
 * Lists the row under each key in obsnew; `check`: not when obs holds
 * the same entry already (a row written again without its entries
 * removed), so that an entry lives in one table.  A new row (the ingest
 * path) cannot be listed yet, and is spared the search of obs.
 */
static int
obs_put(struct store_wtxn *w, uint64_t rowid, const struct store_obs_key *keys,
    int n, uint32_t producer, uint8_t flags, int64_t valid_until, int check)
{
	unsigned char e[OBS_ENTRY_LEN];
	MDB_val k, d;
	int i, rc;

	if (keys_ok(keys, n) == -1)
		return EINVAL;
	if (n == 0)
		return 0;
	if ((rc = obs_cursor(w)) != 0)
		return rc;
	put_be64(e, rowid);
	put_be32(e + 8, producer);
	e[12] = flags;
	put_version(e + 13, valid_until);
	for (i = 0; i < n; i++) {
		k.mv_size = keys[i].len;
		k.mv_data = (void *)(uintptr_t)keys[i].key;
		store_seal(&k, e, OBS_ENTRY);
		d.mv_size = sizeof(e);
		d.mv_data = e;
		if (check) {
			rc = mdb_cursor_get(w->c_obs, &k, &d, MDB_GET_BOTH);
			if (rc == 0)
				continue;
			if (rc != MDB_NOTFOUND)
				return rc;
			d.mv_size = sizeof(e);
			d.mv_data = e;
		}
		rc = mdb_cursor_put(w->c_obsnew, &k, &d, MDB_NODUPDATA);
		if (rc == 0)
			w->obs_added++;
		else if (rc != MDB_KEYEXIST)
			return rc;
	}
	return 0;
}

/* Takes row rb's entry off key k in one table: 0 (or none there), else
 * an LMDB code. */
static int
obs_unlist(MDB_cursor *c, const MDB_val *key, const unsigned char *rb)
{
	MDB_val k = *key, d = {8, (void *)(uintptr_t)rb};
	int rc;

	/* the row's entry is the first at or after its rowid (a shorter
	 * value sorts first): a damaged one goes too */
	rc = mdb_cursor_get(c, &k, &d, MDB_GET_BOTH_RANGE);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc == 0 && (d.mv_size < 8 || memcmp(d.mv_data, rb, 8) != 0))
		return 0;
	if (rc == 0)
		rc = mdb_cursor_del(c, 0);
	return rc;
}

int
store_obs_remove(struct store_wtxn *w, uint64_t rowid,
    const struct store_obs_key *keys, int n)
{
	unsigned char rb[8];
	MDB_val k;
	int i, rc;

	if (keys_ok(keys, n) == -1)
		return EINVAL;
	if (n == 0)
		return 0;
	if ((rc = obs_cursor(w)) != 0)
		return rc;
	put_be64(rb, rowid);
	for (i = 0; i < n; i++) {
		k.mv_size = keys[i].len;
		k.mv_data = (void *)(uintptr_t)keys[i].key;
		/* the entry lives in either table */
		if ((rc = obs_unlist(w->c_obsnew, &k, rb)) != 0 ||
		    (rc = obs_unlist(w->c_obs, &k, rb)) != 0)
			return rc;
	}
	return 0;
}

/* The public forms: a store_err, the transaction poisoned by a failure
 * of LMDB's (not by keys out of bounds). */
static int
obs_result(struct store_wtxn *w, int rc)
{
	if (rc == EINVAL)
		return STORE_ERR;
	if (rc != 0)
		w->err = store_mdb_err(rc, "observable index");
	return w->err;
}

int
store_wobs_add(struct store_wtxn *w, uint64_t rowid,
    const struct store_obs_key *keys, int n, uint32_t producer, uint8_t flags,
    int64_t valid_until)
{
	if (w->err != 0)
		return w->err;
	return obs_result(
	    w, obs_put(w, rowid, keys, n, producer, flags, valid_until, 1));
}

int
store_wobs_del(struct store_wtxn *w, uint64_t rowid,
    const struct store_obs_key *keys, int n)
{
	if (w->err != 0)
		return w->err;
	return obs_result(w, store_obs_remove(w, rowid, keys, n));
}

/* An entry as read (key and duplicate): 0 and *row, else BADREC. */
static int
obs_decode(const struct store *st, const MDB_val *k, const MDB_val *d,
    struct store_obs_row *row)
{
	const unsigned char *p = d->mv_data;
	size_t n;

	if (k->mv_size == 0 || k->mv_size > STORE_OBS_KEY_MAX ||
	    d->mv_size != OBS_ENTRY_LEN || store_unseal(st, k, d, &n) != 0 ||
	    n != OBS_ENTRY)
		return BADREC;
	row->rowid = get_be64(p);
	row->producer = get_be32(p + 8);
	row->flags = p[12];
	row->valid_until = get_version(p + 13);
	return 0;
}

/*
 * From the entries the cursors on obs and obsnew stand on (k[t], d[t],
 * where rc[t] is 0), each entry up to `hi` (inclusive; NULL: this key's
 * entries only) to cb, the two tables' merged in order (key, then
 * rowid; an entry in both once).  0 at the end, cb's nonzero value, or a
 * store_err.
 */
static int
obs_each(struct store_reader *r, MDB_val k[2], MDB_val d[2], int rc[2],
    const MDB_val *hi, store_obs_cb *cb, void *arg)
{
	struct store_obs_row row;
	MDB_cursor *c[2] = {r->c_obs, r->c_obsnew};
	MDB_dbi dbi = r->st->dbi[DB_OBS];
	MDB_cursor_op op = hi != NULL ? MDB_NEXT : MDB_NEXT_DUP;
	int t, cmp, stop;

	for (;;) {
		for (t = 0; t < 2; t++) {
			if (rc[t] == 0 && hi != NULL &&
			    mdb_cmp(r->txn, dbi, &k[t], hi) > 0)
				rc[t] = MDB_NOTFOUND;
			if (rc[t] != 0 && rc[t] != MDB_NOTFOUND)
				return store_mdb_err(rc[t], "observable index");
		}
		if (rc[0] != 0 && rc[1] != 0)
			return STORE_OK;
		cmp = rc[0] != 0 ? 1 : rc[1] != 0 ? -1 : 0;
		if (cmp == 0 && (cmp = mdb_cmp(r->txn, dbi, &k[0], &k[1])) == 0)
			cmp = mdb_dcmp(r->txn, dbi, &d[0], &d[1]);
		t = cmp <= 0 ? 0 : 1;
		if (obs_decode(r->st, &k[t], &d[t], &row) != 0)
			return store_mdb_err(BADREC, "observable index");
		if ((stop = cb(k[t].mv_data, k[t].mv_size, &row, arg)) != 0)
			return stop;
		if (cmp == 0) /* the same entry in both: once */
			rc[1] = mdb_cursor_get(c[1], &k[1], &d[1], op);
		rc[t] = mdb_cursor_get(c[t], &k[t], &d[t], op);
	}
}

int
store_obs_get(struct store_reader *r, const void *key, size_t len,
    store_obs_cb *cb, void *arg)
{
	MDB_val k[2], d[2];
	int rc[2];

	if (len == 0 || len > STORE_OBS_KEY_MAX)
		return STORE_OK; /* never a key: listed under nothing */
	k[0].mv_size = k[1].mv_size = len;
	k[0].mv_data = k[1].mv_data = (void *)(uintptr_t)key;
	rc[0] = mdb_cursor_get(r->c_obs, &k[0], &d[0], MDB_SET_KEY);
	rc[1] = mdb_cursor_get(r->c_obsnew, &k[1], &d[1], MDB_SET_KEY);
	return obs_each(r, k, d, rc, NULL, cb, arg);
}

int
store_obs_range(struct store_reader *r, const void *lo, size_t lolen,
    const void *hi, size_t hilen, store_obs_cb *cb, void *arg)
{
	MDB_val k[2], d[2];
	MDB_val h = {hilen, (void *)(uintptr_t)hi};
	MDB_cursor_op op = lolen == 0 ? MDB_FIRST : MDB_SET_RANGE;
	int rc[2];

	if (lolen > STORE_OBS_KEY_MAX || hilen == 0 ||
	    hilen > STORE_OBS_KEY_MAX)
		return STORE_OK;
	k[0].mv_size = k[1].mv_size = lolen;
	k[0].mv_data = k[1].mv_data = (void *)(uintptr_t)lo;
	rc[0] = mdb_cursor_get(r->c_obs, &k[0], &d[0], op);
	rc[1] = mdb_cursor_get(r->c_obsnew, &k[1], &d[1], op);
	return obs_each(r, k, d, rc, &h, cb, arg);
}

/* --- a row's list of observables (obsrow) --- */

int
store_obs_ip_prefix(const unsigned char *key, size_t len, int *p)
{
	if (len == 6 && key[0] == OBS_IPV4 && key[5] <= 32) {
		*p = key[5];
		return 0;
	}
	if (len == 18 && key[0] == OBS_IPV6 && key[17] <= 128) {
		*p = key[17];
		return 1;
	}
	return -1;
}

int
store_obs_set_ok(const struct store_obs_set *set)
{
	int i;

	if (set->n < 0 || set->n > STORE_OBS_MAX_ITEMS ||
	    (set->n > 0 && set->v == NULL))
		return EINVAL;
	for (i = 0; i < set->n; i++) {
		const struct store_obs_item *it = &set->v[i];

		if (it->key == NULL || it->keylen == 0 ||
		    it->keylen > STORE_OBS_KEY_MAX ||
		    it->textlen > STORE_OBS_TEXT_MAX ||
		    (it->textlen > 0 && it->text == NULL))
			return EINVAL;
	}
	return 0;
}

/* The record's bytes before the CRC. */
static size_t
obsrow_len(const struct store_obs_set *set)
{
	size_t len = OBSROW_HEAD;
	int i;

	for (i = 0; i < set->n; i++)
		len += OBSITEM_MIN + set->v[i].keylen + set->v[i].textlen;
	return len;
}

int
store_obs_put_row(struct store_wtxn *w, uint64_t rowid, uint32_t producer,
    const struct store_obs_set *set, int append)
{
	struct store_obs_key one;
	unsigned char kb[8], *p;
	MDB_val k = {8, kb}, d;
	size_t len;
	int i, f, pfx, rc;

	if (set == NULL || set->n == 0)
		return 0;
	if (store_obs_set_ok(set) != 0)
		return EINVAL;
	for (i = 0; i < set->n; i++) {
		one.key = set->v[i].key;
		one.len = set->v[i].keylen;
		if ((rc = obs_put(w, rowid, &one, 1, producer, set->flags,
			 set->valid_until, !append)) != 0)
			return rc;
		if ((f = store_obs_ip_prefix(one.key, one.len, &pfx)) >= 0)
			obs_pfx_mark(w->pfx[f], pfx);
	}
	len = obsrow_len(set);
	put_be64(kb, rowid);
	d.mv_size = len + CRC_LEN;
	d.mv_data = NULL;
	if ((rc = mdb_put(w->txn, w->st->dbi[DB_OBSROW], &k, &d,
		 MDB_RESERVE | (append ? MDB_APPEND : 0))) != 0)
		return rc;
	p = d.mv_data;
	put_version(p, set->valid_until);
	put_version(p + 8, set->valid_from);
	p[16] = set->confidence;
	p[17] = set->flags;
	put_be16(p + 18, (uint16_t)set->n);
	p += OBSROW_HEAD;
	for (i = 0; i < set->n; i++) {
		const struct store_obs_item *it = &set->v[i];

		*p++ = it->group;
		put_be16(p, (uint16_t)it->keylen);
		memcpy(p + 2, it->key, it->keylen);
		p += 2 + it->keylen;
		put_be16(p, (uint16_t)it->textlen);
		if (it->textlen > 0)
			memcpy(p + 2, it->text, it->textlen);
		p += 2 + it->textlen;
	}
	store_seal(&k, d.mv_data, len);
	return 0;
}

int
store_obsrow_decode(const struct store *st, const MDB_val *k, const MDB_val *d,
    struct store_obsrow *out)
{
	const unsigned char *p = d->mv_data;
	struct store_obs_item it;
	size_t n, pos = 0;
	int i, rc;

	if (k->mv_size != 8 || store_unseal(st, k, d, &n) != 0 ||
	    n < OBSROW_HEAD)
		return BADREC;
	out->valid_until = get_version(p);
	out->valid_from = get_version(p + 8);
	out->confidence = p[16];
	out->flags = p[17];
	out->n = get_be16(p + 18);
	out->items = p + OBSROW_HEAD;
	out->len = n - OBSROW_HEAD;
	if (out->n > STORE_OBS_MAX_ITEMS)
		return BADREC;
	/* every item whole, and nothing after the last */
	for (i = 0; i < out->n; i++)
		if ((rc = store_obsrow_next(out, &pos, &it)) != 1)
			return BADREC;
	return pos == out->len ? 0 : BADREC;
}

int
store_obsrow_next(
    const struct store_obsrow *r, size_t *pos, struct store_obs_item *it)
{
	const unsigned char *p = r->items + *pos;
	size_t left = r->len - *pos;

	if (*pos >= r->len)
		return *pos == r->len ? 0 : STORE_ECORRUPT;
	if (left < OBSITEM_MIN)
		return STORE_ECORRUPT;
	it->group = p[0];
	it->keylen = get_be16(p + 1);
	if (it->keylen == 0 || it->keylen > STORE_OBS_KEY_MAX ||
	    left < OBSITEM_MIN + it->keylen)
		return STORE_ECORRUPT;
	it->key = p + 3;
	it->textlen = get_be16(p + 3 + it->keylen);
	if (it->textlen > STORE_OBS_TEXT_MAX ||
	    left < OBSITEM_MIN + it->keylen + it->textlen)
		return STORE_ECORRUPT;
	it->text = it->textlen > 0 ? (const char *)p + 5 + it->keylen : NULL;
	*pos += OBSITEM_MIN + it->keylen + it->textlen;
	return 1;
}

int
store_obsrow_get(
    struct store_reader *r, uint64_t rowid, struct store_obsrow *out)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d;
	int rc;

	put_be64(kb, rowid);
	rc = mdb_get(r->txn, r->st->dbi[DB_OBSROW], &k, &d);
	if (rc == MDB_NOTFOUND)
		return STORE_ENOTFOUND;
	if (rc == 0 && store_obsrow_decode(r->st, &k, &d, out) != 0)
		rc = BADREC;
	return rc == 0 ? STORE_OK : store_mdb_err(rc, "observables of a row");
}

int
store_obs_drop_row(struct store_wtxn *w, uint64_t rowid)
{
	struct store_obsrow row;
	struct store_obs_item it;
	struct store_obs_key one;
	unsigned char kb[8], small[1024], *copy = small;
	MDB_val k = {8, kb}, d;
	size_t pos = 0;
	int rc;

	put_be64(kb, rowid);
	rc = mdb_get(w->txn, w->st->dbi[DB_OBSROW], &k, &d);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	/* a copy: a dirty page of this transaction may be spilled (and its
	 * buffer freed) while the entries are removed */
	if (d.mv_size > sizeof(small) && (copy = hub_malloc(d.mv_size)) == NULL)
		return ENOMEM;
	memcpy(copy, d.mv_data, d.mv_size);
	d.mv_data = copy;
	/* a damaged record cannot say which entries are the row's: they
	 * stay, for verify to report and reindex to remove */
	if (store_obsrow_decode(w->st, &k, &d, &row) == 0)
		while (rc == 0 && store_obsrow_next(&row, &pos, &it) == 1) {
			one.key = it.key;
			one.len = it.keylen;
			rc = store_obs_remove(w, rowid, &one, 1);
		}
	if (copy != small)
		hub_free(copy);
	if (rc != 0)
		return rc;
	return mdb_del(w->txn, w->st->dbi[DB_OBSROW], &k, NULL);
}

int
store_wobs_row(struct store_wtxn *w, uint64_t rowid, uint32_t producer,
    const struct store_obs_set *set)
{
	int rc;

	unsigned char kb[8];
	MDB_val k = {8, kb}, d;

	if (w->err != 0)
		return w->err;
	if (set != NULL && store_obs_set_ok(set) != 0)
		return STORE_ERR;
	put_be64(kb, rowid);
	rc = mdb_get(w->txn, w->st->dbi[DB_OBJ], &k, &d);
	if (rc == MDB_NOTFOUND) {
		/* deleted since it was read: a list left behind goes */
		if ((rc = store_obs_drop_row(w, rowid)) != 0)
			return obs_result(w, rc);
		return STORE_ENOTFOUND;
	}
	if (rc != 0)
		return obs_result(w, rc);
	if ((rc = store_obs_drop_row(w, rowid)) == 0)
		rc = store_obs_put_row(w, rowid, producer, set, 0);
	return obs_result(w, rc);
}

/* --- the IP prefix lengths present (meta obs_pfx4, obs_pfx6) --- */

static const char *const pfx_name[2] = {"obs_pfx4", "obs_pfx6"};

int
store_obs_pfx_get(MDB_txn *txn, const struct store *st, int f, uint64_t b[2])
{
	MDB_val k = {8, (void *)(uintptr_t)pfx_name[f]}, d;
	int rc;

	b[0] = b[1] = 0;
	if ((rc = mdb_get(txn, st->dbi[DB_META], &k, &d)) == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (d.mv_size != 16)
		return BADREC;
	b[0] = get_be64(d.mv_data);
	b[1] = get_be64((const unsigned char *)d.mv_data + 8);
	return 0;
}

static int
pfx_put(MDB_txn *txn, const struct store *st, int f, const uint64_t b[2])
{
	unsigned char v[16];
	MDB_val k = {8, (void *)(uintptr_t)pfx_name[f]}, d = {16, v};

	put_be64(v, b[0]);
	put_be64(v + 8, b[1]);
	return mdb_put(txn, st->dbi[DB_META], &k, &d, 0);
}

int
store_obs_commit(struct store_wtxn *w)
{
	uint64_t b[2];
	int f, rc;

	for (f = 0; f < 2; f++) {
		if ((w->pfx[f][0] | w->pfx[f][1]) == 0)
			continue;
		/* a damaged value is rewritten whole (verify reports it) */
		if ((rc = store_obs_pfx_get(w->txn, w->st, f, b)) != 0 &&
		    rc != BADREC)
			return rc;
		if ((b[0] | w->pfx[f][0]) == b[0] &&
		    (b[1] | w->pfx[f][1]) == b[1])
			continue;
		b[0] |= w->pfx[f][0];
		b[1] |= w->pfx[f][1];
		if ((rc = pfx_put(w->txn, w->st, f, b)) != 0)
			return rc;
	}
	return obs_merge(w);
}

int
store_obs_prefixes(struct store_reader *r, int type, uint64_t *lo, uint64_t *hi)
{
	uint64_t b[2];
	int rc;

	*lo = *hi = 0;
	if (type != OBS_IPV4 && type != OBS_IPV6)
		return STORE_ERR;
	if ((rc = store_obs_pfx_get(r->txn, r->st, type - OBS_IPV4, b)) ==
	    BADREC) {
		/* damaged: every length, so no lookup misses a range */
		b[0] =
		    type == OBS_IPV4 ? (UINT64_C(1) << 33) - 1 : ~UINT64_C(0);
		b[1] = type == OBS_IPV6 ? ~UINT64_C(0) : 0;
		rc = 0;
	}
	if (rc != 0)
		return store_mdb_err(rc, "observable prefixes");
	*lo = b[0];
	*hi = b[1];
	return STORE_OK;
}

/* Every prefix length family f's keys hold, by a walk of them. */
static int
pfx_scan(struct store_wtxn *w, int f, uint64_t b[2])
{
	unsigned char first = (unsigned char)(OBS_IPV4 + f);
	MDB_cursor *c;
	MDB_val k, d;
	int rc, p, t;

	b[0] = b[1] = 0;
	if ((rc = obs_cursor(w)) != 0)
		return rc;
	for (t = 0; t < 2; t++) {
		c = t == 0 ? w->c_obs : w->c_obsnew;
		k.mv_size = 1;
		k.mv_data = &first;
		rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
		while (
		    rc == 0 && ((const unsigned char *)k.mv_data)[0] == first) {
			if (store_obs_ip_prefix(k.mv_data, k.mv_size, &p) == f)
				obs_pfx_mark(b, p);
			rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_NODUP);
		}
		if (rc != 0 && rc != MDB_NOTFOUND)
			return rc;
	}
	return 0;
}

int
store_wobs_prefixes(struct store_wtxn *w, int type, uint64_t lo, uint64_t hi)
{
	uint64_t b[2], found[2];
	int f, rc;

	if (w->err != 0)
		return w->err;
	if (type != OBS_IPV4 && type != OBS_IPV6)
		return STORE_ERR;
	f = type - OBS_IPV4;
	if ((rc = store_obs_pfx_get(w->txn, w->st, f, b)) != 0 && rc != BADREC)
		return obs_result(w, rc);
	/* nothing to drop (the usual case): the bitmap stays */
	if (rc == 0 && (b[0] & ~lo) == 0 && (b[1] & ~hi) == 0)
		return STORE_OK;
	/* a key may have been written behind the walk: decide from the
	 * index as it is now */
	if ((rc = pfx_scan(w, f, found)) == 0)
		rc = pfx_put(w->txn, w->st, f, found);
	return obs_result(w, rc);
}

int
store_obsrow_lists(MDB_txn *txn, const struct store *st,
    const unsigned char rk[8], const MDB_val *k)
{
	struct store_obsrow row;
	struct store_obs_item it;
	MDB_val rkv = {8, (void *)(uintptr_t)rk}, d;
	size_t pos = 0;

	if (mdb_get(txn, st->dbi[DB_OBSROW], &rkv, &d) != 0)
		return 0;
	if (store_obsrow_decode(st, &rkv, &d, &row) != 0)
		return BADREC;
	while (store_obsrow_next(&row, &pos, &it) == 1)
		if (it.keylen == k->mv_size &&
		    memcmp(it.key, k->mv_data, it.keylen) == 0)
			return 1;
	return 0;
}

/* Cursor c to the entry at `at` (key, rowid) or the first after it:
 * 0, or MDB_NOTFOUND at the end. */
static int
obs_seek(
    MDB_cursor *c, const struct store_obs_resume *at, MDB_val *k, MDB_val *d)
{
	unsigned char rb[8];
	int rc;

	k->mv_size = at->len;
	k->mv_data = (void *)(uintptr_t)at->key;
	put_be64(rb, at->rowid);
	d->mv_size = 8;
	d->mv_data = rb;
	rc = mdb_cursor_get(c, k, d, MDB_GET_BOTH_RANGE);
	if (rc != MDB_NOTFOUND)
		return rc;
	/* no entry of the key from that row on: the next key */
	k->mv_size = at->len;
	k->mv_data = (void *)(uintptr_t)at->key;
	rc = mdb_cursor_get(c, k, d, MDB_SET_RANGE);
	if (rc == 0 && k->mv_size == at->len &&
	    memcmp(k->mv_data, at->key, at->len) == 0)
		rc = mdb_cursor_get(c, k, d, MDB_NEXT_NODUP);
	return rc;
}

/* Notes the entry (k, d) as where to go on from. */
static void
obs_mark(struct store_obs_resume *at, const MDB_val *k, const MDB_val *d)
{
	memmove(at->key, k->mv_data, k->mv_size);
	at->len = k->mv_size;
	at->rowid = d->mv_size >= 8 ? get_be64(d->mv_data) : 0;
}

/*
 * obsnew is walked first, then obs: a merge between two calls moves
 * entries from obsnew into obs, never back, so every entry present when
 * the walk began is met in one table or the other.
 */
int
store_wobs_prune(struct store_wtxn *w, struct store_obs_resume *at, int max,
    uint64_t *seen, uint64_t *removed, uint64_t pfx[2][2])
{
	MDB_cursor *c;
	MDB_val k, d;
	int rc, f, p, n = 0;

	if (w->err != 0)
		return w->err;
	if ((rc = obs_cursor(w)) != 0)
		return obs_result(w, rc);
	c = at->in_main ? w->c_obs : w->c_obsnew;
	if (!at->started) {
		at->started = 1;
		rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
	} else
		rc = obs_seek(c, at, &k, &d);
	for (;;) {
		if (rc == MDB_NOTFOUND && !at->in_main) {
			at->in_main = 1; /* obsnew done: obs */
			c = w->c_obs;
			rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
		}
		if (rc != 0)
			break;
		if (n++ == max) {
			obs_mark(at, &k, &d); /* resume here */
			return STORE_OK;
		}
		(*seen)++;
		/* a damaged list cannot vouch for it: removed (pass 1 has
		 * rewritten every row's list) */
		if (d.mv_size >= 8 &&
		    store_obsrow_lists(w->txn, w->st, d.mv_data, &k) == 1) {
			f = store_obs_ip_prefix(k.mv_data, k.mv_size, &p);
			if (f >= 0)
				obs_pfx_mark(pfx[f], p);
			rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
			continue;
		}
		(*removed)++;
		obs_mark(at, &k, &d);
		if ((rc = mdb_cursor_del(c, 0)) == 0)
			rc = obs_seek(c, at, &k, &d);
	}
	if (rc != MDB_NOTFOUND)
		return obs_result(w, rc);
	at->len = 0; /* done */
	return STORE_OK;
}

/* --- the merge of obsnew into obs --- */

/*
 * Meta "obs_merge" while a merge is under way: slice(8) rowid(8) key,
 * the entries to move a commit and the first entry not moved yet.
 */
#define MERGE_HEAD 16

/*
 * Once obsnew holds obs_merge_min entries, or obs's size / 16 if more, a
 * merge starts: each commit then moves the next slice (1/16 of obsnew's
 * size when it started, or twice what the commit wrote if more) of
 * obsnew's entries, in key order from where the last one stopped, into
 * obs, until it reaches obsnew's end.  Entries written meanwhile before
 * that point wait for the next merge; those after it are met, and the
 * slice outpaces them, so the merge ends.  The pages of obs a slice
 * rewrites are few for the entries it takes: its keys are dense in the
 * key space, as dense as obsnew is large.
 */
static int
obs_merge(struct store_wtxn *w)
{
	static const char name[] = "obs_merge";
	unsigned char pos[MERGE_HEAD + STORE_OBS_KEY_MAX];
	unsigned char kb[STORE_OBS_KEY_MAX], db[OBS_ENTRY_LEN];
	struct store_obs_resume at;
	MDB_val mk = {sizeof(name) - 1, (void *)(uintptr_t)name}, md;
	MDB_val k, d;
	MDB_stat sn, sm;
	uint64_t slice, threshold, lim, n = 0;
	int rc;

	rc = mdb_get(w->txn, w->st->dbi[DB_META], &mk, &md);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	/* a damaged position: the merge starts again */
	if (rc == 0 && md.mv_size > MERGE_HEAD && md.mv_size <= sizeof(pos)) {
		memcpy(pos, md.mv_data, md.mv_size);
		slice = get_be64(pos);
		at.rowid = get_be64(pos + 8);
		at.len = md.mv_size - MERGE_HEAD;
		memcpy(at.key, pos + MERGE_HEAD, at.len);
	} else {
		if ((rc = mdb_stat(w->txn, w->st->dbi[DB_OBSNEW], &sn)) != 0 ||
		    (rc = mdb_stat(w->txn, w->st->dbi[DB_OBS], &sm)) != 0)
			return rc;
		threshold = sm.ms_entries / 16;
		if (threshold < w->st->obs_merge_min)
			threshold = w->st->obs_merge_min;
		if (sn.ms_entries < threshold)
			return 0;
		slice = (sn.ms_entries + 15) / 16;
		at.len = 0;
	}
	if (slice == 0)
		slice = 1;
	if ((rc = obs_cursor(w)) != 0)
		return rc;
	lim = slice > 2 * w->obs_added ? slice : 2 * w->obs_added;
	if (at.len == 0)
		rc = mdb_cursor_get(w->c_obsnew, &k, &d, MDB_FIRST);
	else
		rc = obs_seek(w->c_obsnew, &at, &k, &d);
	while (rc == 0 && n < lim) {
		if (k.mv_size == 0 || k.mv_size > sizeof(kb) ||
		    d.mv_size > sizeof(db)) {
			rc = BADREC; /* LMDB bounds keys; entries are fixed */
			break;
		}
		/* copies: k and d point into a page of obsnew, which the
		 * put and the delete may change */
		memcpy(kb, k.mv_data, k.mv_size);
		memcpy(db, d.mv_data, d.mv_size);
		k.mv_data = kb;
		d.mv_data = db;
		/* the same entry in obs already: one copy is enough */
		rc = mdb_cursor_put(w->c_obs, &k, &d, MDB_NODUPDATA);
		if (rc != 0 && rc != MDB_KEYEXIST)
			break;
		obs_mark(&at, &k, &d);
		if ((rc = mdb_cursor_del(w->c_obsnew, 0)) != 0)
			break;
		n++;
		rc = obs_seek(w->c_obsnew, &at, &k, &d);
	}
	/* once: each call drops the whole map's page-table entries, which
	 * the next accesses fault back in */
	if (n >= 4096)
		store_release_pages(w->st);
	if (rc == MDB_NOTFOUND) { /* obsnew's end: done */
		rc = mdb_del(w->txn, w->st->dbi[DB_META], &mk, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	if (rc != 0)
		return rc;
	/* the first entry not moved */
	obs_mark(&at, &k, &d);
	put_be64(pos, slice);
	put_be64(pos + 8, at.rowid);
	memcpy(pos + MERGE_HEAD, at.key, at.len);
	md.mv_size = MERGE_HEAD + at.len;
	md.mv_data = pos;
	return mdb_put(w->txn, w->st->dbi[DB_META], &mk, &md, 0);
}
