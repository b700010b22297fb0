/*
 * store_read.c -- the store's readers: one per thread, whose read-only
 * transaction is reset between requests and renewed at the next, so no
 * snapshot outlives a request.  Walks of a collection, entries, object
 * rows (by rowid, and in rowid order), versions by id, status resources, release and audit records,
 * gone records (deletions) and subscription records, the clock.  Nothing
 * here writes.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "ctihub/alloc.h"
#include "ctihub/bytes.h"
#include "ctihub/log.h"
#include "ctihub/store.h"
#include "store_int.h"

int
store_reader_new(struct store *st, struct store_reader **out)
{
	struct store_reader *r;

	if ((r = hub_calloc(1, sizeof(*r))) == NULL)
		return STORE_ERR;
	r->st = st;
	*out = r;
	return STORE_OK;
}

void
store_reader_free(struct store_reader *r)
{
	if (r == NULL)
		return;
	store_rend(r);
	if (r->txn != NULL) {
		mdb_cursor_close(r->c_added);
		mdb_cursor_close(r->c_ids);
		mdb_cursor_close(r->c_new);
		mdb_cursor_close(r->c_obj);
		mdb_cursor_close(r->c_obs);
		mdb_cursor_close(r->c_obsnew);
		mdb_txn_abort(r->txn);
	}
	hub_free(r);
}

/* Renews a reset read transaction, adopting a map another process grew
 * (see begin). */
static int
renew(struct store *st, MDB_txn *txn)
{
	int rc, tries;

	for (tries = 0;; tries++) {
		rc = mdb_txn_renew(txn);
		if (rc != MDB_MAP_RESIZED || tries == 2 || store_adopt(st) != 0)
			break;
	}
	if (rc == 0)
		store_map_extent(st);
	return rc;
}

int
store_rbegin(struct store_reader *r)
{
	int rc;

	if (r->active)
		return STORE_OK;
	store_hold(r->st);
	if (r->txn == NULL) {
		if ((rc = store_begin(r->st, MDB_RDONLY, &r->txn)) != 0) {
			r->txn = NULL;
			store_unhold(r->st);
			return store_mdb_err(rc, "begin read");
		}
		if ((rc = mdb_cursor_open(
			 r->txn, r->st->dbi[DB_ADDED], &r->c_added)) != 0 ||
		    (rc = mdb_cursor_open(
			 r->txn, r->st->dbi[DB_IDS], &r->c_ids)) != 0 ||
		    (rc = mdb_cursor_open(
			 r->txn, r->st->dbi[DB_IDSNEW], &r->c_new)) != 0 ||
		    (rc = mdb_cursor_open(
			 r->txn, r->st->dbi[DB_OBJ], &r->c_obj)) != 0 ||
		    (rc = mdb_cursor_open(
			 r->txn, r->st->dbi[DB_OBS], &r->c_obs)) != 0 ||
		    (rc = mdb_cursor_open(
			 r->txn, r->st->dbi[DB_OBSNEW], &r->c_obsnew)) != 0) {
			mdb_txn_abort(r->txn);
			r->txn = NULL;
			store_unhold(r->st);
			return store_mdb_err(rc, "open cursors");
		}
	} else {
		if ((rc = renew(r->st, r->txn)) != 0) {
			store_unhold(r->st);
			return store_mdb_err(rc, "renew read");
		}
		if ((rc = mdb_cursor_renew(r->txn, r->c_added)) != 0 ||
		    (rc = mdb_cursor_renew(r->txn, r->c_ids)) != 0 ||
		    (rc = mdb_cursor_renew(r->txn, r->c_new)) != 0 ||
		    (rc = mdb_cursor_renew(r->txn, r->c_obj)) != 0 ||
		    (rc = mdb_cursor_renew(r->txn, r->c_obs)) != 0 ||
		    (rc = mdb_cursor_renew(r->txn, r->c_obsnew)) != 0) {
			mdb_txn_reset(r->txn);
			store_unhold(r->st);
			return store_mdb_err(rc, "renew cursors");
		}
	}
	r->active = 1;
	r->obj_row = 0;
	r->walk_pending = 0;
	r->walk_rc = MDB_NOTFOUND;
	return STORE_OK;
}

void
store_rend(struct store_reader *r)
{
	if (r->active) {
		mdb_txn_reset(r->txn);
		r->active = 0;
		store_unhold(r->st);
	}
}

/*
 * Walks read rows in key order, and rows in key order share leaf pages.
 * The first row read from a page asks for the whole page (and the rest of
 * a record that runs past it, up to 16 KiB): the next rows' node headers
 * and bytes then arrive together instead of one cache miss at a time.
 * On a 1,000,000-object collection this took a page of 100 objects from
 * 149 to 125 us of CPU (tests/bench, reads at 1,000,000 objects).  A
 * wrong guess costs a few wasted line fetches, never a fault.
 */
static void
prefetch_page(uintptr_t *last, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)4095, end = (uintptr_t)p + len;

	if (a == *last)
		return;
	*last = a;
	if (end < a + 4096)
		end = a + 4096;
	if (end > a + 16384)
		end = a + 16384;
	for (; a < end; a += 64)
		__builtin_prefetch((const void *)a);
}

int
store_walk_start(struct store_reader *r, uint32_t coll, int64_t after)
{
	unsigned char kb[ADDKEY_LEN];
	MDB_val k = {ADDKEY_LEN, kb}, d;

	r->walk_coll = coll;
	r->walk_pending = 1;
	if (after == INT64_MAX) {
		r->walk_rc = MDB_NOTFOUND;
		return STORE_OK;
	}
	addkey(kb, coll, after < 0 ? 0 : after + 1);
	r->walk_rc = mdb_cursor_get(r->c_added, &k, &d, MDB_SET_RANGE);
	if (r->walk_rc != 0 && r->walk_rc != MDB_NOTFOUND)
		return store_mdb_err(r->walk_rc, "walk");
	return STORE_OK;
}

int
store_walk_next(struct store_reader *r, struct store_item *it)
{
	MDB_val k, d;
	int rc;

	if (r->walk_pending) {
		r->walk_pending = 0;
		rc = r->walk_rc;
		if (rc == 0)
			rc =
			    mdb_cursor_get(r->c_added, &k, &d, MDB_GET_CURRENT);
	} else
		rc = mdb_cursor_get(r->c_added, &k, &d, MDB_NEXT);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_mdb_err(rc, "walk");
	if (k.mv_size != ADDKEY_LEN || get_be32(k.mv_data) != r->walk_coll) {
		r->walk_pending = 1;
		r->walk_rc = MDB_NOTFOUND;
		return 0;
	}
	prefetch_page(&r->walk_page, d.mv_data, d.mv_size);
	if ((rc = store_decode_item(r->st, &k, &d, it)) != STORE_OK)
		return rc;
	return 1;
}

uint64_t
store_snapshot(struct store_reader *r)
{
	return r->active ? (uint64_t)mdb_txn_id(r->txn) : 0;
}

int
store_last_added(struct store_reader *r, uint32_t coll, int64_t *out)
{
	unsigned char kb[ADDKEY_LEN];
	MDB_val k = {ADDKEY_LEN, kb}, d;
	int rc;

	r->walk_pending = 1; /* the walk cursor moves */
	r->walk_rc = MDB_NOTFOUND;
	if (r->last_txn != 0 && r->last_txn == store_snapshot(r) &&
	    r->last_coll == coll) {
		*out = r->last_added;
		return STORE_OK;
	}
	*out = 0;
	if (coll == UINT32_MAX)
		rc = mdb_cursor_get(r->c_added, &k, &d, MDB_LAST);
	else {
		addkey(kb, coll + 1, 0);
		rc = mdb_cursor_get(r->c_added, &k, &d, MDB_SET_RANGE);
		if (rc == 0)
			rc = mdb_cursor_get(r->c_added, &k, &d, MDB_PREV);
		else if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(r->c_added, &k, &d, MDB_LAST);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_err(rc, "last added");
	if (rc == 0 && k.mv_size == ADDKEY_LEN && get_be32(k.mv_data) == coll)
		*out = (int64_t)get_be64((unsigned char *)k.mv_data + 4);
	r->last_txn = store_snapshot(r);
	r->last_coll = coll;
	r->last_added = *out;
	return STORE_OK;
}

int
store_entry_get(struct store_reader *r, uint32_t coll, int64_t date_added,
    struct store_entry *out)
{
	unsigned char kb[ADDKEY_LEN];
	MDB_val k = {ADDKEY_LEN, kb}, d;
	int rc;

	addkey(kb, coll, date_added);
	if ((rc = mdb_get(r->txn, r->st->dbi[DB_ADDED], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, "entry");
	if (store_entry_ok(r->st, &k, &d) != 0)
		return store_mdb_err(BADREC, "index entry");
	memcpy(out, d.mv_data, sizeof(*out));
	return STORE_OK;
}

int
store_obj_next(struct store_reader *r, uint64_t after, uint64_t *rowid)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d;
	int rc;

	if (after == UINT64_MAX)
		return STORE_ENOTFOUND;
	put_be64(kb, after + 1);
	rc = mdb_cursor_get(r->c_obj, &k, &d, MDB_SET_RANGE);
	if (rc == 0 && k.mv_size != 8)
		rc = BADREC;
	if (rc != 0) {
		r->obj_row = 0;
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, "object");
	}
	*rowid = r->obj_row = get_be64(k.mv_data);
	return STORE_OK;
}

int
store_obj_get(struct store_reader *r, uint64_t rowid, struct store_objview *ov)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d;
	struct obj_hdr h;
	const char *p;
	int rc;

	put_be64(kb, rowid);
	/* rows of a walk mostly follow each other: step, do not search */
	rc = MDB_NOTFOUND;
	if (r->obj_row != 0 && rowid > r->obj_row && rowid - r->obj_row <= 8) {
		uint64_t at = r->obj_row;

		while (at < rowid &&
		    (rc = mdb_cursor_get(r->c_obj, &k, &d, MDB_NEXT)) == 0 &&
		    k.mv_size == 8 && (at = get_be64(k.mv_data)) < rowid)
			;
		if (rc == 0 && (k.mv_size != 8 || at != rowid))
			rc = MDB_NOTFOUND;
	}
	if (rc != 0) {
		k.mv_size = 8;
		k.mv_data = kb;
		rc = mdb_cursor_get(r->c_obj, &k, &d, MDB_SET_KEY);
	}
	if (rc != 0) {
		r->obj_row = 0;
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, "object");
	}
	r->obj_row = rowid;
	prefetch_page(&r->obj_page, d.mv_data, d.mv_size);
	if (store_obj_ok(r->st, &k, &d, &h) != 0) {
		log_warnx("store: object row %llu fails its checksum or its "
			  "lengths: refused (the database is damaged: run "
			  "ctihub verify)",
		    (unsigned long long)rowid);
		return STORE_ECORRUPT;
	}
	p = (const char *)d.mv_data + sizeof(h);
	ov->rowid = rowid;
	ov->version = h.version;
	ov->first_added = h.first_added;
	ov->producer = h.producer;
	ov->type = h.type;
	memcpy(ov->uuid, h.uuid, 16);
	ov->tlp = h.tlp;
	ov->flags = h.flags;
	ov->nrelease = h.nrelease;
	ov->release = p;
	ov->id = p + (size_t)h.nrelease * 2;
	ov->idlen = h.idlen;
	ov->json = ov->id + h.idlen;
	ov->jsonlen = h.jsonlen;
	return STORE_OK;
}

int
store_obj_of(struct store_reader *r, const struct store_entry *e,
    struct store_objview *ov)
{
	int rc;

	if ((rc = store_obj_get(r, e->rowid, ov)) != STORE_OK)
		return rc;
	/* a sound row, but is it the entry's? (an entry's check is only
	 * 16 bits) */
	if (ov->producer != e->producer || ov->type != e->type ||
	    ov->version != e->version || memcmp(ov->uuid, e->uuid, 16) != 0) {
		log_warnx("store: the index entry of row %llu names another "
			  "object: refused (the database is damaged: run "
			  "ctihub verify)",
		    (unsigned long long)e->rowid);
		return STORE_ECORRUPT;
	}
	return STORE_OK;
}

/* Calls cb for each version of one producer's object. */
static int
versions_of(struct store_reader *r, uint32_t type, const unsigned char uuid[16],
    uint32_t producer, store_version_cb *cb, void *arg)
{
	static _Thread_local struct found v[MAX_VERSIONS];
	struct store_version sv;
	int n, i, rc;

	if ((rc = store_all_versions(
		 r->st, r->c_ids, r->c_new, uuid, type, producer, v, &n)) != 0)
		return store_mdb_err(rc, "versions");
	for (i = 0; i < n; i++) {
		store_to_version(&v[i], &sv);
		if ((rc = cb(&sv, arg)) != 0)
			return rc;
	}
	return 0;
}

int
store_versions(struct store_reader *r, uint32_t type,
    const unsigned char uuid[16], uint32_t producer, store_version_cb *cb,
    void *arg)
{
	uint32_t p;
	int rc;

	if (producer != 0)
		return versions_of(r, type, uuid, producer, cb, arg);
	for (p = 0; (rc = store_next_producer(
			 r->c_ids, r->c_new, uuid, type, p, &p)) == 0;
	     p++) {
		if ((rc = versions_of(r, type, uuid, p, cb, arg)) != 0)
			return rc;
		if (p == UINT32_MAX)
			return 0;
	}
	return rc == MDB_NOTFOUND ? 0 : store_mdb_err(rc, "versions");
}

int
store_latest(struct store_reader *r, const char *type,
    const unsigned char uuid[16], uint32_t producer, struct store_objview *ov)
{
	struct found f;
	uint32_t tc;
	int rc;

	if ((rc = store_code_get(r, STORE_K_TYPE, type, strlen(type), &tc)) !=
	    STORE_OK)
		return rc;
	rc = store_latest_version(
	    r->st, r->c_ids, r->c_new, uuid, tc, producer, &f);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, "latest version");
	return store_obj_get(r, f.rowid, ov);
}

int
store_status_get(struct store_reader *r, const char *id, uint32_t *owner,
    int64_t *expires, const char **json, size_t *len)
{
	MDB_val k = {strlen(id), (void *)(uintptr_t)id}, d;
	int rc;

	if (k.mv_size == 0 || k.mv_size > 64)
		return STORE_ENOTFOUND;
	if ((rc = store_get_sealed(
		 r->txn, r->st, DB_STATUS, &k, &d, len, "status")) != STORE_OK)
		return rc;
	if (*len < 12)
		return store_mdb_err(BADREC, "status");
	memcpy(owner, d.mv_data, 4);
	memcpy(expires, (const char *)d.mv_data + 4, 8);
	*json = (const char *)d.mv_data + 12;
	*len -= 12;
	return STORE_OK;
}

int
store_release_get(
    struct store_reader *r, uint64_t event, const void **rec, size_t *len)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d;
	int rc;

	put_be64(kb, event);
	if ((rc = store_get_sealed(r->txn, r->st, DB_RELEASE, &k, &d, len,
		 "release")) != STORE_OK)
		return rc;
	*rec = d.mv_data;
	return STORE_OK;
}

int
store_releases(struct store_reader *r, store_release_cb *cb, void *arg)
{
	MDB_cursor *c;
	MDB_val k, d;
	int rc, stop = 0;

	if ((rc = mdb_cursor_open(r->txn, r->st->dbi[DB_RELEASE], &c)) != 0)
		return store_mdb_err(rc, "releases");
	rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
	while (rc == 0) {
		size_t len;

		if (k.mv_size != 8 || store_unseal(r->st, &k, &d, &len) != 0) {
			rc = BADREC; /* a damaged record: refuse the read */
			break;
		}
		if ((stop = cb(get_be64(k.mv_data), d.mv_data, len, arg)) != 0)
			break;
		rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (stop != 0)
		return stop;
	return rc == MDB_NOTFOUND ? 0 : store_mdb_err(rc, "releases");
}

int
store_audit_walk(
    struct store_reader *r, uint64_t after, store_audit_cb *cb, void *arg)
{
	unsigned char kb[8];
	MDB_cursor *c;
	MDB_val k = {8, kb}, d;
	size_t n;
	int rc, stop = 0;

	if ((rc = mdb_cursor_open(r->txn, r->st->dbi[DB_AUDIT], &c)) != 0)
		return store_mdb_err(rc, "audit records");
	put_be64(kb, after + 1);
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0 && !stop;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size != 8) {
			rc = BADREC;
			break;
		}
		if (store_unseal(r->st, &k, &d, &n) != 0) {
			log_warnx(
			    "store: audit record %llu fails its checksum: "
			    "refused",
			    (unsigned long long)get_be64(k.mv_data));
			stop = cb(get_be64(k.mv_data), NULL, 0, arg);
		} else
			stop = cb(get_be64(k.mv_data), d.mv_data, n, arg);
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_err(rc, "audit records");
	return STORE_OK;
}

int
store_gone_last(struct store_reader *r, uint32_t coll, int64_t *out)
{
	unsigned char kb[ADDKEY_LEN];
	MDB_cursor *c;
	MDB_val k = {ADDKEY_LEN, kb}, d;
	int rc;

	*out = 0;
	if ((rc = mdb_cursor_open(r->txn, r->st->dbi[DB_GONE], &c)) != 0)
		return store_mdb_err(rc, "gone records");
	/* the last key before the next collection's first */
	if (coll == UINT32_MAX)
		rc = mdb_cursor_get(c, &k, &d, MDB_LAST);
	else {
		addkey(kb, coll + 1, 0);
		rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
		rc = mdb_cursor_get(
		    c, &k, &d, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
	}
	if (rc == 0 && k.mv_size == ADDKEY_LEN && get_be32(k.mv_data) == coll)
		*out = (int64_t)get_be64((unsigned char *)k.mv_data + 4);
	mdb_cursor_close(c);
	return rc == 0 || rc == MDB_NOTFOUND
	    ? STORE_OK
	    : store_mdb_err(rc, "gone records");
}

int
store_gone_walk(struct store_reader *r, uint32_t coll, int64_t after,
    int64_t upto, store_gone_cb *cb, void *arg)
{
	unsigned char kb[ADDKEY_LEN];
	MDB_cursor *c;
	MDB_val k = {ADDKEY_LEN, kb}, d;
	struct store_gone g;
	int rc, stop = 0;

	if (after >= upto || after == INT64_MAX)
		return STORE_OK;
	if ((rc = mdb_cursor_open(r->txn, r->st->dbi[DB_GONE], &c)) != 0)
		return store_mdb_err(rc, "gone records");
	addkey(kb, coll, after < 0 ? 0 : after + 1);
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size == ADDKEY_LEN &&
		    (get_be32(k.mv_data) != coll ||
			(int64_t)get_be64((unsigned char *)k.mv_data + 4) >
			    upto))
			break;
		if (store_decode_gone(r->st, &k, &d, &g) != 0) {
			log_warnx("store: the gone record %lld of collection "
				  "%u fails its checksum or its lengths: "
				  "refused (the database is damaged: run "
				  "ctihub verify)",
			    k.mv_size == ADDKEY_LEN
				? (long long)get_be64(
				      (unsigned char *)k.mv_data + 4)
				: -1LL,
			    coll);
			rc = BADREC;
			break;
		}
		if ((stop = cb(&g, arg)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (stop != 0)
		return stop;
	if (rc == BADREC)
		return STORE_ECORRUPT;
	return rc == 0 || rc == MDB_NOTFOUND
	    ? STORE_OK
	    : store_mdb_err(rc, "gone records");
}

int
store_clock(struct store_reader *r, int64_t *out)
{
	uint64_t v;
	int rc;

	*out = 0;
	rc = store_meta_get(r->txn, r->st->dbi[DB_META], "last_added", &v);
	if (rc == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return store_mdb_err(rc, "clock");
	*out = (int64_t)v;
	return STORE_OK;
}

int
store_sub_get(
    struct store_reader *r, const char *name, const void **val, size_t *len)
{
	MDB_val k = {strlen(name), (void *)(uintptr_t)name}, d;
	int rc;

	if (k.mv_size == 0 || k.mv_size > STORE_SUB_NAME_MAX)
		return STORE_ENOTFOUND;
	if ((rc = store_get_sealed(r->txn, r->st, DB_SUBS, &k, &d, len,
		 "subscription record")) != STORE_OK)
		return rc;
	*val = d.mv_data;
	return STORE_OK;
}

int
store_feed_get(struct store_reader *r, const char *name, char part,
    const void **val, size_t *len)
{
	char kb[STORE_SUB_NAME_MAX + 2];
	size_t n = strlen(name);
	MDB_val k = {n + 2, kb}, d;
	int rc;

	if (n == 0 || n > STORE_SUB_NAME_MAX)
		return STORE_ENOTFOUND;
	memcpy(kb, name, n);
	kb[n] = '\0';
	kb[n + 1] = part;
	if ((rc = store_get_sealed(r->txn, r->st, DB_FEEDS, &k, &d, len,
		 "feed record")) != STORE_OK)
		return rc;
	*val = d.mv_data;
	return STORE_OK;
}

int
store_sub_walk(struct store_reader *r, store_sub_cb *cb, void *arg)
{
	char name[STORE_SUB_NAME_MAX + 1];
	MDB_cursor *c;
	MDB_val k, d;
	size_t n;
	int rc, stop = 0;

	if ((rc = mdb_cursor_open(r->txn, r->st->dbi[DB_SUBS], &c)) != 0)
		return store_mdb_err(rc, "subscription records");
	for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size == 0 || k.mv_size > STORE_SUB_NAME_MAX ||
		    store_unseal(r->st, &k, &d, &n) != 0 ||
		    n > STORE_SUB_VAL_MAX) {
			rc = BADREC;
			break;
		}
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if ((stop = cb(name, d.mv_data, n, arg)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (stop != 0)
		return stop;
	return rc == MDB_NOTFOUND ? STORE_OK
				  : store_mdb_err(rc, "subscription records");
}
