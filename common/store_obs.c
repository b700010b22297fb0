/*
 * store_obs.c -- the observable index (table obs): rows listed under
 * observable keys in the writer's transaction, and the lookups of a key
 * and of a range of keys in a reader's.  Keys come already normalised
 * (the extraction module makes them; the store only bounds their length);
 * each (key, row) is one sorted duplicate, sealed with a CRC like every
 * record.  Deciding what a caller may see is not done here.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "ctihub/bytes.h"
#include "ctihub/store.h"
#include "store_int.h"

static int keys_ok(const struct store_obs_key *, int);
static int obs_cursor(struct store_wtxn *);
static int obs_result(struct store_wtxn *, int);
static int obs_decode(const struct store *, const MDB_val *, const MDB_val *,
    struct store_obs_row *);
static int obs_each(struct store_reader *, MDB_cursor *, MDB_val *, MDB_val *,
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

/* The transaction's cursor on obs, opened at its first use. */
static int
obs_cursor(struct store_wtxn *w)
{
	int rc;

	if (w->c_obs != NULL)
		return 0;
	if ((rc = mdb_cursor_open(w->txn, w->st->dbi[DB_OBS], &w->c_obs)) != 0)
		w->c_obs = NULL;
	return rc;
}

int
store_obs_put(struct store_wtxn *w, uint64_t rowid,
    const struct store_obs_key *keys, int n, uint32_t producer, uint8_t flags,
    int64_t valid_until)
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
		rc = mdb_cursor_put(w->c_obs, &k, &d, MDB_NODUPDATA);
		if (rc != 0 && rc != MDB_KEYEXIST)
			return rc;
	}
	return 0;
}

int
store_obs_remove(struct store_wtxn *w, uint64_t rowid,
    const struct store_obs_key *keys, int n)
{
	unsigned char rb[8];
	MDB_val k, d;
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
		/* the row's entry is the first at or after its rowid (a
		 * shorter value sorts first): a damaged one goes too */
		d.mv_size = sizeof(rb);
		d.mv_data = rb;
		rc = mdb_cursor_get(w->c_obs, &k, &d, MDB_GET_BOTH_RANGE);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc == 0 && (d.mv_size < 8 || memcmp(d.mv_data, rb, 8) != 0))
			continue;
		if (rc == 0)
			rc = mdb_cursor_del(w->c_obs, 0);
		if (rc != 0)
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
	    w, store_obs_put(w, rowid, keys, n, producer, flags, valid_until));
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
 * From the entry the cursor stands on (k, d), each entry up to `hi`
 * (inclusive; NULL: this key's entries only) to cb.  0 at the end, cb's
 * nonzero value, or a store_err.
 */
static int
obs_each(struct store_reader *r, MDB_cursor *c, MDB_val *k, MDB_val *d,
    const MDB_val *hi, store_obs_cb *cb, void *arg)
{
	struct store_obs_row row;
	MDB_dbi dbi = r->st->dbi[DB_OBS];
	int rc = 0, stop;

	while (rc == 0) {
		if (hi != NULL && mdb_cmp(r->txn, dbi, k, hi) > 0)
			return STORE_OK;
		if (obs_decode(r->st, k, d, &row) != 0)
			return store_mdb_err(BADREC, "observable index");
		if ((stop = cb(k->mv_data, k->mv_size, &row, arg)) != 0)
			return stop;
		rc = mdb_cursor_get(
		    c, k, d, hi != NULL ? MDB_NEXT : MDB_NEXT_DUP);
	}
	return rc == MDB_NOTFOUND ? STORE_OK
				  : store_mdb_err(rc, "observable index");
}

int
store_obs_get(struct store_reader *r, const void *key, size_t len,
    store_obs_cb *cb, void *arg)
{
	MDB_val k = {len, (void *)(uintptr_t)key}, d;
	int rc;

	if (len == 0 || len > STORE_OBS_KEY_MAX)
		return STORE_OK; /* never a key: listed under nothing */
	rc = mdb_cursor_get(r->c_obs, &k, &d, MDB_SET_KEY);
	if (rc == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return store_mdb_err(rc, "observable index");
	return obs_each(r, r->c_obs, &k, &d, NULL, cb, arg);
}

int
store_obs_range(struct store_reader *r, const void *lo, size_t lolen,
    const void *hi, size_t hilen, store_obs_cb *cb, void *arg)
{
	MDB_val k = {lolen, (void *)(uintptr_t)lo}, d;
	MDB_val h = {hilen, (void *)(uintptr_t)hi};
	int rc;

	if (lolen > STORE_OBS_KEY_MAX || hilen == 0 ||
	    hilen > STORE_OBS_KEY_MAX)
		return STORE_OK;
	if (lolen == 0)
		rc = mdb_cursor_get(r->c_obs, &k, &d, MDB_FIRST);
	else
		rc = mdb_cursor_get(r->c_obs, &k, &d, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return store_mdb_err(rc, "observable index");
	return obs_each(r, r->c_obs, &k, &d, &h, cb, arg);
}
