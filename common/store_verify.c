/*
 * store_verify.c -- ctihub verify: one read transaction that walks every
 * table of the store, checks every record's checksum and lengths and
 * that the indexes and the registry name each other, and reports each
 * problem in a sentence (the observable index entries name their rows,
 * which list them back, and every IP key's prefix length is in the
 * bitmap lookups probe).  It repairs nothing: ctihub reindex rebuilds
 * the observable index.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lmdb.h>

#include "ctihub/bytes.h"
#include "ctihub/store.h"
#include "store_int.h"

struct verify {
	struct store *st;
	MDB_txn *txn;
	int max;
	store_verify_cb *cb;
	void *arg;
	struct store_verify *out;
	uint64_t max_row;
	int64_t max_added;
	uint64_t max_code;
	int64_t max_gone;
	MDB_cursor *c_obs; /* for obsrow items' entries, and obsnew's */
	MDB_cursor *c_obsnew;
	uint64_t pfx[2][2]; /* IP prefix lengths of the keys walked */
};

static void problem(struct verify *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
problem(struct verify *v, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (v->out->problems++ >= (uint64_t)v->max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	v->cb(line, v->arg);
}

/* A UUID's bytes as 32 hex digits (as the problems name them). */
static const char *
hex16(const unsigned char *u, char out[33])
{
	hex_encode(u, 16, out);
	return out;
}

/* The row `rowid` exists, is sound, and is the object (producer, type,
 * uuid, version); else a problem about `who`. */
static void
verify_row(struct verify *v, uint64_t rowid, uint32_t producer, uint32_t type,
    const unsigned char uuid[16], int64_t version, const char *who)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d;
	struct obj_hdr h;
	int rc;

	put_be64(kb, rowid);
	if ((rc = mdb_get(v->txn, v->st->dbi[DB_OBJ], &k, &d)) != 0) {
		problem(v, "%s names row %llu: %s", who,
		    (unsigned long long)rowid,
		    rc == MDB_NOTFOUND ? "no such row" : mdb_strerror(rc));
		return;
	}
	if (store_obj_ok(v->st, &k, &d, &h) != 0)
		return; /* reported by the walk of the rows */
	if (h.producer != producer || h.type != type || h.version != version ||
	    memcmp(h.uuid, uuid, 16) != 0)
		problem(v, "%s names row %llu, which holds another object", who,
		    (unsigned long long)rowid);
}

/* One table, record by record; `fn` checks one. */
typedef void verify_fn(struct verify *, const MDB_val *k, const MDB_val *d);

static void
verify_table(struct verify *v, int db, verify_fn *fn, uint64_t *count)
{
	MDB_cursor *c;
	MDB_val k, d;
	int rc;

	if ((rc = mdb_cursor_open(v->txn, v->st->dbi[db], &c)) != 0) {
		problem(
		    v, "table %s: %s", store_db_names[db], mdb_strerror(rc));
		return;
	}
	for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (count != NULL)
			(*count)++;
		fn(v, &k, &d);
	}
	if (rc != MDB_NOTFOUND)
		problem(v, "table %s: cannot be walked to its end: %s",
		    store_db_names[db], mdb_strerror(rc));
	mdb_cursor_close(c);
}

static void
verify_obj(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	struct obj_hdr h;
	uint64_t row = k->mv_size == 8 ? get_be64(k->mv_data) : 0;

	if (store_obj_ok(v->st, k, d, &h) != 0) {
		problem(v, "object row %llu fails its checksum or its lengths",
		    (unsigned long long)row);
		return;
	}
	if (row > v->max_row)
		v->max_row = row;
}

static void
verify_ids(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	const unsigned char *kp = k->mv_data;
	unsigned char ak[ADDKEY_LEN];
	MDB_val ek = {ADDKEY_LEN, ak}, ed;
	struct store_entry e;
	struct found f;
	char u[33], who[96];
	int i, rc;

	if (k->mv_size != IDKEY_LEN ||
	    store_decode_idval(v->st, k, d, &f) != 0) {
		problem(v,
		    "id index entry %s fails its checksum or its lengths",
		    k->mv_size >= 16 ? hex16(kp, u) : "(short key)");
		return;
	}
	snprintf(who, sizeof(who), "the id index entry of %s", hex16(kp, u));
	verify_row(v, f.rowid, get_be32(kp + 20), get_be32(kp + 16), kp,
	    get_version(kp + 24), who);
	for (i = 0; i < f.nmember; i++) {
		addkey(ak, f.member[i].coll, f.member[i].date_added);
		if ((rc = mdb_get(v->txn, v->st->dbi[DB_ADDED], &ek, &ed)) !=
		    0) {
			problem(v,
			    "%s names a collection entry that is not "
			    "there",
			    who);
			continue;
		}
		if (store_entry_ok(v->st, &ek, &ed) != 0)
			continue; /* reported by the walk of the entries */
		memcpy(&e, ed.mv_data, sizeof(e));
		if (e.rowid != f.rowid)
			problem(v,
			    "%s and its collection entry name different "
			    "rows",
			    who);
	}
}

static void
verify_added(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	struct store_item it;
	struct store_entry o;
	unsigned char kb[IDKEY_LEN], ak[ADDKEY_LEN];
	MDB_val ik = {IDKEY_LEN, kb}, id, ok = {ADDKEY_LEN, ak}, od;
	struct found f;
	char who[96];
	int i, rc, member = 0;

	if (store_entry_ok(v->st, k, d) != 0) {
		problem(v,
		    "a collection entry fails its checksum or its "
		    "lengths");
		return;
	}
	if (store_decode_item(v->st, k, d, &it) != STORE_OK)
		return;
	if (it.date_added > v->max_added)
		v->max_added = it.date_added;
	snprintf(who, sizeof(who), "the entry %lld of collection %u",
	    (long long)it.date_added, it.coll);
	verify_row(v, it.e.rowid, it.e.producer, it.e.type, it.e.uuid,
	    it.e.version, who);
	if (it.e.flags & STORE_F_RELEASED) {
		unsigned char rk[8];
		MDB_val k2 = {8, rk}, d2;
		size_t n;

		addkey(ak, it.coll, it.orig_added);
		if (mdb_get(v->txn, v->st->dbi[DB_ADDED], &ok, &od) != 0 ||
		    store_entry_ok(v->st, &ok, &od) != 0 ||
		    (memcpy(&o, od.mv_data, sizeof(o)), o.rowid != it.e.rowid))
			problem(v, "%s, a release twin, has no sound original",
			    who);
		put_be64(rk, it.event);
		if (mdb_get(v->txn, v->st->dbi[DB_RELEASE], &k2, &d2) != 0 ||
		    store_unseal(v->st, &k2, &d2, &n) != 0)
			problem(v,
			    "%s, a release twin, has no sound release "
			    "record",
			    who);
		return;
	}
	/* an original: its version lists it among its memberships */
	idkey(kb, it.e.uuid, it.e.type, it.e.producer, it.e.version);
	rc = mdb_get(v->txn, v->st->dbi[DB_IDSNEW], &ik, &id);
	if (rc == MDB_NOTFOUND)
		rc = mdb_get(v->txn, v->st->dbi[DB_IDS], &ik, &id);
	if (rc != 0 || store_decode_idval(v->st, &ik, &id, &f) != 0) {
		problem(v, "%s has no sound id index entry", who);
		return;
	}
	for (i = 0; i < f.nmember; i++)
		if (f.member[i].coll == it.coll &&
		    f.member[i].date_added == it.date_added)
			member = 1;
	if (!member)
		problem(v, "%s is not among its version's collections", who);
}

static void
verify_sealed(struct verify *v, const MDB_val *k, const MDB_val *d,
    const char *what, size_t min)
{
	size_t n;

	if (store_unseal(v->st, k, d, &n) != 0 || n < min)
		problem(
		    v, "a %s record fails its checksum or its lengths", what);
}

static void
verify_status(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	verify_sealed(v, k, d, "status", 12);
}

static void
verify_statusx(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	MDB_val sk, sd;

	(void)d;
	sk.mv_size = k->mv_size >= 8 ? k->mv_size - 8 : 0;
	sk.mv_data = (unsigned char *)k->mv_data + 8;
	if (sk.mv_size == 0 ||
	    mdb_get(v->txn, v->st->dbi[DB_STATUS], &sk, &sd) != 0)
		problem(v, "a status expiry names no status resource");
}

static void
verify_release(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	verify_sealed(v, k, d, "release", 0);
}

static void
verify_audit(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	verify_sealed(v, k, d, "audit", 2);
}

static void
verify_gone(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	struct store_gone g;

	if (store_decode_gone(v->st, k, d, &g) != 0) {
		problem(v, "a gone record fails its checksum or its lengths");
		return;
	}
	if (g.date > v->max_gone)
		v->max_gone = g.date;
	if (g.idlen <= 2 || memmem(g.id, g.idlen, "--", 2) == NULL)
		problem(v, "the gone record %lld of collection %u has no id",
		    (long long)g.date, g.coll);
}

static void
verify_subs(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	size_t n;

	if (k->mv_size == 0 || k->mv_size > STORE_SUB_NAME_MAX ||
	    store_unseal(v->st, k, d, &n) != 0 || n > STORE_SUB_VAL_MAX)
		problem(v,
		    "a subscription record fails its checksum or its "
		    "lengths");
}

static void
verify_feeds(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	const char *kb = k->mv_data;
	size_t n;

	if (k->mv_size < 3 || k->mv_size > STORE_SUB_NAME_MAX + 2 ||
	    kb[k->mv_size - 2] != '\0' ||
	    (kb[k->mv_size - 1] != 'h' && kb[k->mv_size - 1] != 's') ||
	    store_unseal(v->st, k, d, &n) != 0 || n > STORE_FEED_VAL_MAX)
		problem(v, "a feed record fails its checksum or its lengths");
}

/* An observable index entry: sound, and naming a row of its producer. */
static void
verify_obs(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	const unsigned char *p = d->mv_data;
	unsigned char kb[8];
	MDB_val rk = {8, kb}, rd;
	struct obj_hdr h;
	size_t n;
	int rc, f, pfx;

	if (k->mv_size == 0 || k->mv_size > STORE_OBS_KEY_MAX ||
	    d->mv_size != OBS_ENTRY_LEN || store_unseal(v->st, k, d, &n) != 0) {
		problem(v,
		    "an observable index entry fails its checksum or its "
		    "lengths");
		return;
	}
	memcpy(kb, p, 8);
	if ((rc = mdb_get(v->txn, v->st->dbi[DB_OBJ], &rk, &rd)) != 0) {
		problem(v, "an observable index entry names row %llu: %s",
		    (unsigned long long)get_be64(kb),
		    rc == MDB_NOTFOUND ? "no such row" : mdb_strerror(rc));
		return;
	}
	if (store_obj_ok(v->st, &rk, &rd, &h) != 0)
		return; /* reported by the walk of the rows */
	if (h.producer != get_be32(p + 8))
		problem(v,
		    "an observable index entry names row %llu as of "
		    "producer %u, which holds producer %u's object",
		    (unsigned long long)get_be64(kb), get_be32(p + 8),
		    h.producer);
	if ((f = store_obs_ip_prefix(k->mv_data, k->mv_size, &pfx)) >= 0)
		obs_pfx_mark(v->pfx[f], pfx);
	/* a damaged list is reported by the walk of obsrow */
	if (store_obsrow_lists(v->txn, v->st, kb, k) == 0)
		problem(v,
		    "an observable index entry names row %llu, whose list "
		    "of observables does not hold its key",
		    (unsigned long long)get_be64(kb));
}

/* An entry of obsnew: as one of obs, and not in obs too (a merge moves
 * an entry in one transaction; a write skips one obs holds). */
static void
verify_obsnew(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	MDB_val ik = *k, id = *d;

	verify_obs(v, k, d);
	if (v->c_obs == NULL &&
	    mdb_cursor_open(v->txn, v->st->dbi[DB_OBS], &v->c_obs) != 0) {
		v->c_obs = NULL;
		return;
	}
	if (d->mv_size >= 8 &&
	    mdb_cursor_get(v->c_obs, &ik, &id, MDB_GET_BOTH) == 0)
		problem(v,
		    "an observable index entry of row %llu is in both obs "
		    "and obsnew",
		    (unsigned long long)get_be64(d->mv_data));
}

/* Whether row rb is listed under key k in the table of cursor c. */
static int
verify_listed(MDB_cursor *c, const MDB_val *k, const unsigned char *rb)
{
	MDB_val ik = *k, id = {8, (void *)(uintptr_t)rb};
	int rc;

	rc = mdb_cursor_get(c, &ik, &id, MDB_GET_BOTH_RANGE);
	return rc == 0 && id.mv_size >= 8 && memcmp(id.mv_data, rb, 8) == 0;
}

/* A row's list of observables: sound, its row there, each item listed
 * in the index under its key (in obs or obsnew). */
static void
verify_obsrow(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	struct store_obsrow row;
	struct store_obs_item it;
	unsigned char rb[8];
	MDB_val rk, rd, ik;
	size_t pos = 0;
	uint64_t missing = 0;
	int rc;

	if (store_obsrow_decode(v->st, k, d, &row) != 0) {
		problem(v,
		    "a row's list of observables fails its checksum or its "
		    "lengths");
		return;
	}
	memcpy(rb, k->mv_data, 8);
	rk.mv_size = 8;
	rk.mv_data = rb;
	if ((rc = mdb_get(v->txn, v->st->dbi[DB_OBJ], &rk, &rd)) != 0)
		problem(v, "the list of observables of row %llu: %s",
		    (unsigned long long)get_be64(rb),
		    rc == MDB_NOTFOUND ? "no such row" : mdb_strerror(rc));
	if ((v->c_obs == NULL &&
		mdb_cursor_open(v->txn, v->st->dbi[DB_OBS], &v->c_obs) != 0) ||
	    (v->c_obsnew == NULL &&
		mdb_cursor_open(v->txn, v->st->dbi[DB_OBSNEW], &v->c_obsnew) !=
		    0))
		return; /* closed at the end (a NULL one skipped) */
	while (store_obsrow_next(&row, &pos, &it) == 1) {
		ik.mv_size = it.keylen;
		ik.mv_data = (void *)(uintptr_t)it.key;
		if (!verify_listed(v->c_obsnew, &ik, rb) &&
		    !verify_listed(v->c_obs, &ik, rb))
			missing++;
	}
	if (missing > 0)
		problem(v,
		    "row %llu lists %llu observables that the index does "
		    "not list it under",
		    (unsigned long long)get_be64(rb),
		    (unsigned long long)missing);
}

/* Every IP key's prefix length in the bitmap lookups probe. */
static void
verify_prefixes(struct verify *v)
{
	uint64_t b[2];
	int f, rc;

	for (f = 0; f < 2; f++) {
		if ((rc = store_obs_pfx_get(v->txn, v->st, f, b)) != 0) {
			problem(v, "meta obs_pfx%d is damaged", f == 0 ? 4 : 6);
			continue;
		}
		if ((v->pfx[f][0] & ~b[0]) != 0 || (v->pfx[f][1] & ~b[1]) != 0)
			problem(v,
			    "meta obs_pfx%d lacks prefix lengths the index "
			    "holds: lookups would miss their ranges",
			    f == 0 ? 4 : 6);
	}
}

static void
verify_pending(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	if (k->mv_size != 20 || d->mv_size != 8)
		problem(v, "a pending-marking record has the wrong lengths");
}

static void
verify_reg(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	const unsigned char *kp = k->mv_data;
	unsigned char rk[2 + REG_NAME_MAX];
	MDB_val k2 = {0, rk}, d2;
	size_t n, n2;
	uint32_t code;

	if (k->mv_size < 3 || store_unseal(v->st, k, d, &n) != 0) {
		problem(v,
		    "a registry record fails its checksum or its "
		    "lengths");
		return;
	}
	if (kp[0] == 'n') {
		if (n != 4) {
			problem(
			    v, "a registry name has a code of %zu bytes", n);
			return;
		}
		code = get_be32(d->mv_data);
		if (code > v->max_code)
			v->max_code = code;
		rk[0] = 'c';
		rk[1] = kp[1];
		put_be32(rk + 2, code);
		k2.mv_size = 6;
		if (mdb_get(v->txn, v->st->dbi[DB_REG], &k2, &d2) != 0 ||
		    store_unseal(v->st, &k2, &d2, &n2) != 0 ||
		    n2 != k->mv_size - 2 || memcmp(d2.mv_data, kp + 2, n2) != 0)
			problem(v,
			    "registry: the name %.*s and its code %u do "
			    "not name each other",
			    (int)(k->mv_size - 2), (const char *)kp + 2, code);
	} else if (kp[0] == 'c') {
		if (k->mv_size != 6 || n == 0 || n > REG_NAME_MAX) {
			problem(v, "a registry code has the wrong lengths");
			return;
		}
		rk[0] = 'n';
		rk[1] = kp[1];
		memcpy(rk + 2, d->mv_data, n);
		k2.mv_size = n + 2;
		if (mdb_get(v->txn, v->st->dbi[DB_REG], &k2, &d2) != 0 ||
		    store_unseal(v->st, &k2, &d2, &n2) != 0 || n2 != 4 ||
		    get_be32(d2.mv_data) != get_be32(kp + 2))
			problem(v,
			    "registry: the code %u and its name do not "
			    "name each other",
			    get_be32(kp + 2));
	} else
		problem(v, "a registry record of an unknown kind");
}

static void
verify_meta(struct verify *v)
{
	uint64_t x;

	if (store_meta_get(v->txn, v->st->dbi[DB_META], "last_row", &x) == 0 &&
	    x < v->max_row)
		problem(v, "meta last_row %llu is below row %llu",
		    (unsigned long long)x, (unsigned long long)v->max_row);
	if (store_meta_get(v->txn, v->st->dbi[DB_META], "last_added", &x) ==
		0 &&
	    (int64_t)x < v->max_added)
		problem(v, "meta last_added is below an entry's date_added");
	if (store_meta_get(v->txn, v->st->dbi[DB_META], "last_added", &x) ==
		0 &&
	    (int64_t)x < v->max_gone)
		problem(v, "meta last_added is below a gone record's date");
	if (store_meta_get(v->txn, v->st->dbi[DB_META], "last_code", &x) == 0 &&
	    x < v->max_code)
		problem(v, "meta last_code is below a registered code");
}

int
store_verify(struct store *st, int max, store_verify_cb *cb, void *arg,
    struct store_verify *out)
{
	struct verify v;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&v, 0, sizeof(v));
	v.st = st;
	v.max = max;
	v.cb = cb;
	v.arg = arg;
	v.out = out;
	store_hold(st);
	if ((rc = store_begin(st, MDB_RDONLY, &v.txn)) != 0) {
		store_unhold(st);
		return store_mdb_err(rc, "verify");
	}
	verify_table(&v, DB_OBJ, verify_obj, &out->objects);
	verify_table(&v, DB_IDS, verify_ids, &out->ids);
	verify_table(&v, DB_IDSNEW, verify_ids, &out->ids);
	verify_table(&v, DB_ADDED, verify_added, &out->entries);
	verify_table(&v, DB_STATUS, verify_status, &out->statuses);
	verify_table(&v, DB_STATUSX, verify_statusx, NULL);
	verify_table(&v, DB_RELEASE, verify_release, &out->releases);
	verify_table(&v, DB_REG, verify_reg, &out->names);
	verify_table(&v, DB_AUDIT, verify_audit, &out->audit);
	verify_table(&v, DB_PENDING, verify_pending, NULL);
	verify_table(&v, DB_GONE, verify_gone, &out->gone);
	verify_table(&v, DB_SUBS, verify_subs, &out->subs);
	verify_table(&v, DB_FEEDS, verify_feeds, &out->feeds);
	verify_table(&v, DB_OBS, verify_obs, &out->obs);
	verify_table(&v, DB_OBSNEW, verify_obsnew, &out->obs);
	verify_table(&v, DB_OBSROW, verify_obsrow, &out->obsrows);
	verify_prefixes(&v);
	verify_meta(&v);
	if (v.c_obs != NULL)
		mdb_cursor_close(v.c_obs);
	if (v.c_obsnew != NULL)
		mdb_cursor_close(v.c_obsnew);
	mdb_txn_abort(v.txn);
	store_unhold(st);
	return STORE_OK;
}
