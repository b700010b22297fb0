/*
 * t_store.c -- the LMDB store: adding, deduplicating, versions and their
 * first/last flags per collection, walking by date_added, deleting, the
 * id index merge, status resources, the schema check; damaged records
 * refused, the map grown (here and by another process), stale reader
 * slots cleared, audit records; gone records (deletions) and subscription
 * records, and a database made before their tables; the observable
 * index (lists in rowid order, ranges, deletes, damage, verify), the
 * observables written with a new row and removed with a deleted one, each
 * row's list of them (obsrow), reindex's replace, the IP prefix bitmaps.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "ctihub/hash.h"
#include "ctihub/store.h"

#define C1 0x11111111u
#define C2 0x22222222u
#define P1 0xaaaa0001u
#define P2 0xaaaa0002u

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/t_store.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct store *
open_store(void)
{
	struct store *st = NULL;
	char err[256];

	assert_int_equal(
	    store_open(&st, dir, 1ULL << 30, err, sizeof(err)), STORE_OK);
	return st;
}

/* An indicator-like object with uuid byte `u` and version `v`. */
static void
mkobj(struct store_obj *o, char *json, size_t jlen, unsigned u, int64_t v)
{
	static char ids[64][64];
	char *id = ids[u % 64];

	memset(o, 0, sizeof(*o));
	snprintf(id, 64, "indicator--%08x-0000-4000-8000-000000000000", u);
	snprintf(json, jlen, "{\"id\":\"%s\",\"v\":%lld}", id, (long long)v);
	o->json = json;
	o->jsonlen = strlen(json);
	o->id = id;
	o->idlen = strlen(id);
	memset(o->uuid, 0, 16);
	memcpy(o->uuid, &u, sizeof(u));
	o->version = v;
	o->tlp = 2;
}

static int
put_as(struct store *st, uint32_t producer, uint32_t coll,
    struct store_obj *objs, size_t n, int64_t now)
{
	struct store_wtxn *w;

	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wput(w, coll, producer, objs, n, now), STORE_OK);
	return store_wcommit(w);
}

static int
put(struct store *st, uint32_t coll, struct store_obj *objs, size_t n,
    int64_t now)
{
	return put_as(st, P1, coll, objs, n, now);
}

/* The registry code of a type (in an open read transaction). */
static uint32_t
tcode(struct store_reader *r, const char *type)
{
	uint32_t c = 0;

	assert_int_equal(
	    store_code_get(r, STORE_K_TYPE, type, strlen(type), &c), STORE_OK);
	return c;
}

struct walked {
	int n;
	struct store_item it[64];
};

static void
walk(struct store *st, uint32_t coll, int64_t after, struct walked *out)
{
	struct store_reader *r;
	int rc;

	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_walk_start(r, coll, after), STORE_OK);
	out->n = 0;
	while ((rc = store_walk_next(r, &out->it[out->n])) == 1)
		if (++out->n == 64)
			break;
	assert_true(rc >= 0);
	store_rend(r);
	store_reader_free(r);
}

static void
t_add_and_walk(void **state)
{
	struct store *st = open_store();
	struct store_obj o[3];
	char js[3][128];
	struct walked wk;
	struct store_reader *r;
	struct store_objview ov;
	int64_t last;
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		mkobj(&o[i], js[i], sizeof(js[i]), (unsigned)i + 1, 1000 + i);
	/* same clock for all: date_added still strictly increases */
	assert_int_equal(put(st, C1, o, 3, 5000), STORE_OK);
	for (i = 0; i < 3; i++) {
		assert_int_equal(o[i].result, STORE_NEW);
		assert_int_equal(o[i].date_added, 5000 + i);
	}
	walk(st, C1, 0, &wk);
	assert_int_equal(wk.n, 3);
	assert_int_equal(wk.it[0].date_added, 5000);
	assert_int_equal(wk.it[2].date_added, 5002);
	assert_int_equal(wk.it[1].e.flags & (STORE_F_FIRST | STORE_F_LAST),
	    STORE_F_FIRST | STORE_F_LAST);
	assert_int_equal(wk.it[1].e.producer, P1);
	/* added_after is exclusive */
	walk(st, C1, 5000, &wk);
	assert_int_equal(wk.n, 2);
	walk(st, C1, 5002, &wk);
	assert_int_equal(wk.n, 0);
	walk(st, C2, 0, &wk);
	assert_int_equal(wk.n, 0);
	/* the stored bytes come back as they went in */
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	walk(st, C1, 0, &wk);
	assert_int_equal(store_obj_get(r, wk.it[1].e.rowid, &ov), STORE_OK);
	assert_int_equal(ov.jsonlen, o[1].jsonlen);
	assert_memory_equal(ov.json, js[1], ov.jsonlen);
	assert_memory_equal(ov.id, o[1].id, ov.idlen);
	assert_int_equal(ov.version, 1001);
	assert_int_equal(ov.first_added, 5001);
	assert_int_equal(store_last_added(r, C1, &last), STORE_OK);
	assert_int_equal(last, 5002);
	assert_int_equal(store_last_added(r, C2, &last), STORE_OK);
	assert_int_equal(last, 0);
	assert_int_equal(store_last_added(r, C1, &last), STORE_OK);
	assert_int_equal(last, 5002); /* asked again, same snapshot */
	/* a later clock going backwards never reorders date_added */
	store_rend(r);
	mkobj(&o[0], js[0], sizeof(js[0]), 9, 1);
	assert_int_equal(put(st, C1, o, 1, 10), STORE_OK);
	assert_int_equal(o[0].date_added, 5003);
	/* the same reader, a new snapshot: the new head, not a kept one */
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_last_added(r, C1, &last), STORE_OK);
	assert_int_equal(last, 5003);
	store_rend(r);
	store_reader_free(r);
	store_close(st);
}

static void
t_dedup_and_collections(void **state)
{
	struct store *st = open_store();
	struct store_obj o[2];
	char js[2][128];
	struct store_stats s;
	struct walked wk;

	(void)state;
	mkobj(&o[0], js[0], sizeof(js[0]), 7, 100);
	mkobj(&o[1], js[1], sizeof(js[1]), 7, 100); /* the same, twice */
	assert_int_equal(put(st, C1, o, 2, 1000), STORE_OK);
	assert_int_equal(o[0].result, STORE_NEW);
	assert_int_equal(o[1].result, STORE_DUP);
	assert_int_equal(o[1].date_added, o[0].date_added);
	/* re-posted later: still a duplicate, nothing written */
	mkobj(&o[0], js[0], sizeof(js[0]), 7, 100);
	assert_int_equal(put(st, C1, o, 1, 2000), STORE_OK);
	assert_int_equal(o[0].result, STORE_DUP);
	assert_int_equal(o[0].date_added, 1000);
	/* another collection: linked, stored once */
	mkobj(&o[0], js[0], sizeof(js[0]), 7, 100);
	assert_int_equal(put(st, C2, o, 1, 3000), STORE_OK);
	assert_int_equal(o[0].result, STORE_LINKED);
	assert_int_equal(store_stats(st, &s), STORE_OK);
	assert_int_equal(s.objects, 1);
	walk(st, C2, 0, &wk);
	assert_int_equal(wk.n, 1);
	walk(st, C1, 0, &wk);
	assert_int_equal(wk.n, 1);
	store_close(st);
}

static int
count_version(const struct store_version *v, void *arg)
{
	int64_t *seen = arg;

	seen[seen[0] + 1] = v->version;
	seen[0]++;
	return 0;
}

static uint8_t
flags_of(const struct walked *wk, int64_t version)
{
	int i;

	for (i = 0; i < wk->n; i++)
		if (wk->it[i].e.version == version)
			return wk->it[i].e.flags &
			    (STORE_F_FIRST | STORE_F_LAST);
	fail_msg("version %lld not walked", (long long)version);
	return 0;
}

static void
t_versions(void **state)
{
	struct store *st = open_store();
	struct store_obj o;
	char js[128];
	struct walked wk;
	struct store_reader *r;
	int64_t seen[8] = {0};

	(void)state;
	mkobj(&o, js, sizeof(js), 42, 200);
	put(st, C1, &o, 1, 1000);
	mkobj(&o, js, sizeof(js), 42, 300); /* newer */
	put(st, C1, &o, 1, 1001);
	mkobj(&o, js, sizeof(js), 42, 100); /* older, arriving last */
	put(st, C1, &o, 1, 1002);
	walk(st, C1, 0, &wk);
	assert_int_equal(wk.n, 3);
	assert_int_equal(flags_of(&wk, 100), STORE_F_FIRST);
	assert_int_equal(flags_of(&wk, 200), 0);
	assert_int_equal(flags_of(&wk, 300), STORE_F_LAST);
	/* only version 200 in C2: first and last there */
	mkobj(&o, js, sizeof(js), 42, 200);
	put(st, C2, &o, 1, 1003);
	walk(st, C2, 0, &wk);
	assert_int_equal(flags_of(&wk, 200), STORE_F_FIRST | STORE_F_LAST);
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_versions(r, tcode(r, "indicator"), o.uuid, 0,
			     count_version, seen),
	    0);
	assert_int_equal(seen[0], 3);
	assert_int_equal(seen[1], 100);
	assert_int_equal(seen[3], 300);
	store_rend(r);
	store_reader_free(r);
	store_close(st);
}

static int
match_version(const struct store_version *v, void *arg)
{
	return v->version == *(int64_t *)arg;
}

static int
match_all(const struct store_version *v, void *arg)
{
	(void)v;
	(void)arg;
	return 1;
}

static void
t_delete(void **state)
{
	struct store *st = open_store();
	struct store_obj o;
	struct store_wtxn *w;
	struct store_stats s;
	struct walked wk;
	char js[128];
	int64_t v = 300;
	int removed;

	(void)state;
	mkobj(&o, js, sizeof(js), 5, 200);
	put(st, C1, &o, 1, 1000);
	mkobj(&o, js, sizeof(js), 5, 300);
	put(st, C1, &o, 1, 1001);
	put(st, C2, &o, 1, 1002);
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wdelete(w, C1, "indicator", o.uuid, 0,
			     match_version, &v, &removed),
	    STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(removed, 1);
	walk(st, C1, 0, &wk);
	assert_int_equal(wk.n, 1);
	/* the remaining version became the last one */
	assert_int_equal(flags_of(&wk, 200), STORE_F_FIRST | STORE_F_LAST);
	/* still in C2, so still stored */
	assert_int_equal(store_stats(st, &s), STORE_OK);
	assert_int_equal(s.objects, 2);
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wdelete(w, C2, "indicator", o.uuid, 0, match_all,
			     NULL, &removed),
	    STORE_OK);
	assert_int_equal(store_wdelete(w, C1, "indicator", o.uuid, 0, match_all,
			     NULL, &removed),
	    STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(store_stats(st, &s), STORE_OK);
	assert_int_equal(s.objects, 0);
	walk(st, C1, 0, &wk);
	assert_int_equal(wk.n, 0);
	store_close(st);
}

/* Puts objects 0..n-1, each with uuid uuid_of(i), in commits of 5,000;
 * each must come back with result `want`. */
static void
put_series(
    struct store *st, unsigned n, unsigned (*uuid_of)(unsigned), int want)
{
	enum { B = 5000 };
	static struct store_obj o[B];
	static char js[B][96];
	unsigned i, k;

	for (i = 0; i < n; i += B) {
		for (k = 0; k < B && i + k < n; k++)
			mkobj(&o[k], js[k], sizeof(js[k]), uuid_of(i + k), 1);
		assert_int_equal(put(st, C1, o, k, 1000), STORE_OK);
		while (k-- > 0)
			assert_int_equal(o[k].result, want);
	}
}

static unsigned
spread(unsigned i)
{
	return i * 2654435761u;
}

/* the first uuid byte is the low byte: 0, one sixteenth of the space */
static unsigned
clustered(unsigned i)
{
	return i << 8;
}

/* Enough objects to merge the delta id index into the main one; every
 * object must still be found (as a duplicate) afterwards. */
static void
t_id_index_merge(void **state)
{
	struct store *st = open_store();
	struct store_stats s;
	int k;

	(void)state;
	put_series(st, 60000, spread, STORE_NEW);
	/* sixteen more commits: each moves another slice of the delta */
	for (k = 0; k < 16; k++)
		assert_int_equal(put(st, C1, NULL, 0, 1000), STORE_OK);
	assert_int_equal(store_stats(st, &s), STORE_OK);
	assert_int_equal(s.objects, 60000);
	assert_true(s.ids_main > 50000);
	assert_true(s.ids_new < 10000);
	assert_int_equal(s.ids_main + s.ids_new, 60000);
	put_series(st, 60000, spread, STORE_DUP);
	store_close(st);
}

/* A merge that moves the last entries of the delta (all its ids in one
 * sixteenth of the key space) empties it without an error. */
static void
t_id_index_merge_all(void **state)
{
	struct store *st = open_store();
	struct store_stats s;

	(void)state;
	put_series(st, 52000, clustered, STORE_NEW);
	assert_int_equal(put(st, C1, NULL, 0, 1000), STORE_OK);
	assert_int_equal(store_stats(st, &s), STORE_OK);
	assert_int_equal(s.ids_main, 50000); /* all the delta held then */
	assert_int_equal(s.ids_new, 2000);
	store_close(st);
}

static void
t_status(void **state)
{
	struct store *st = open_store();
	struct store_wtxn *w;
	struct store_reader *r;
	const char *json;
	size_t len;
	uint32_t owner;
	int64_t exp;
	int n;

	(void)state;
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(
	    store_wstatus(w, "s-old", 7, 100, "{\"a\":1}", 7), STORE_OK);
	assert_int_equal(
	    store_wstatus(w, "s-new", 8, 900, "{\"b\":2}", 7), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(
	    store_status_get(r, "s-new", &owner, &exp, &json, &len), STORE_OK);
	assert_int_equal(owner, 8);
	assert_int_equal(exp, 900);
	assert_memory_equal(json, "{\"b\":2}", len);
	store_rend(r);
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wprune(w, 500, 0, 100, &n, NULL), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(
	    store_status_get(r, "s-old", &owner, &exp, &json, &len),
	    STORE_ENOTFOUND);
	assert_int_equal(
	    store_status_get(r, "s-new", &owner, &exp, &json, &len), STORE_OK);
	store_rend(r);
	store_reader_free(r);
	store_close(st);
}

/* Writes schema version `v` into the database in dir. */
static void
set_schema(unsigned char v)
{
	unsigned char b[8] = {0, 0, 0, 0, 0, 0, 0, v};
	MDB_val k = {6, (void *)(uintptr_t) "schema"}, d = {8, b};
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 16);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &d, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* A database written by a newer ctihub is refused, not opened; so is
 * one of schema 1, which told producers apart by hashes of names. */
static void
t_schema(void **state)
{
	struct store *st = open_store();
	unsigned char k1[32], k2[32];
	char err[512];

	(void)state;
	assert_int_equal(store_schema(st), STORE_SCHEMA);
	store_secret(st, k1);
	store_close(st);
	st = open_store();
	store_secret(st, k2);
	assert_memory_equal(k1, k2, 32); /* the secret persists */
	store_close(st);
	set_schema(99);
	st = NULL;
	assert_int_equal(
	    store_open(&st, dir, 1ULL << 30, err, sizeof(err)), STORE_ESCHEMA);
	assert_null(st);
	assert_non_null(strstr(err,
	    "schema version 99, newer than this "
	    "ctihub understands (3)"));
	set_schema(1);
	assert_int_equal(
	    store_open(&st, dir, 1ULL << 30, err, sizeof(err)), STORE_ESCHEMA);
	assert_non_null(strstr(err, "schema version 1, written by an earlier"));
}

/* Codes come from the registry: distinct, stable across opens, never
 * shared between names (not even names whose hashes collide). */
static void
t_registry(void **state)
{
	struct store *st = open_store();
	const char *names[] = {"cert-br", "cert-in", "xqr8tzad8o", "indicator"};
	uint32_t a[4], b[4], c[4];
	struct store_reader *r;
	const char *nm;
	size_t len;
	int i, j;

	(void)state;
	assert_int_equal(
	    store_codes(st, STORE_K_MEMBER, names, 4, a), STORE_OK);
	for (i = 0; i < 4; i++) {
		assert_true(a[i] >= STORE_CODE_FIRST);
		for (j = 0; j < i; j++)
			assert_int_not_equal(a[i], a[j]);
	}
	store_close(st);
	st = open_store();
	assert_int_equal(
	    store_codes(st, STORE_K_MEMBER, names, 4, b), STORE_OK);
	assert_memory_equal(a, b, sizeof(a));
	/* another kind: its own names */
	assert_int_equal(store_codes(st, STORE_K_COLL, names, 2, c), STORE_OK);
	assert_int_not_equal(c[0], a[0]);
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(
	    store_code_name(r, STORE_K_MEMBER, a[1], &nm, &len), STORE_OK);
	assert_int_equal(len, 7);
	assert_memory_equal(nm, "cert-in", 7);
	assert_int_equal(store_code_get(r, STORE_K_MEMBER, "nobody", 6, &c[0]),
	    STORE_ENOTFOUND);
	store_rend(r);
	store_reader_free(r);
	store_close(st);
}

/* An object with this type name, uuid byte u, version v. */
static void
mkobj_t(struct store_obj *o, char *json, size_t jlen, const char *type,
    unsigned u, int64_t v, int shared)
{
	static char ids[8][128];
	static int next;
	char *id = ids[next++ % 8];

	memset(o, 0, sizeof(*o));
	snprintf(id, 128, "%s--%08x-0000-4000-8000-000000000000", type, u);
	snprintf(json, jlen, "{\"id\":\"%s\",\"v\":%lld}", id, (long long)v);
	o->json = json;
	o->jsonlen = strlen(json);
	o->id = id;
	o->idlen = strlen(id);
	memcpy(o->uuid, &u, sizeof(u));
	o->version = v;
	o->shared = shared;
	o->tlp = 2;
}

/* An id belongs to the producer that stored it first; an observable's id
 * is every producer's own; a type is told apart by its whole name. */
static void
t_ownership(void **state)
{
	struct store *st = open_store();
	struct store_obj o;
	struct store_reader *r;
	struct walked wk;
	char js[256];
	int64_t seen[8] = {0};

	(void)state;
	mkobj_t(&o, js, sizeof(js), "indicator", 77, 100, 0);
	assert_int_equal(put_as(st, P1, C1, &o, 1, 1000), STORE_OK);
	assert_int_equal(o.result, STORE_NEW);
	/* a later version from another producer: refused, told nothing */
	mkobj_t(&o, js, sizeof(js), "indicator", 77, 200, 0);
	assert_int_equal(put_as(st, P2, C1, &o, 1, 1001), STORE_OK);
	assert_int_equal(o.result, STORE_OWNED);
	assert_int_equal(o.date_added, 0);
	/* the same version again, into another collection: refused too */
	mkobj_t(&o, js, sizeof(js), "indicator", 77, 100, 0);
	assert_int_equal(put_as(st, P2, C2, &o, 1, 1002), STORE_OK);
	assert_int_equal(o.result, STORE_OWNED);
	walk(st, C2, 0, &wk);
	assert_int_equal(wk.n, 0);
	/* the owner goes on */
	mkobj_t(&o, js, sizeof(js), "indicator", 77, 300, 0);
	assert_int_equal(put_as(st, P1, C1, &o, 1, 1003), STORE_OK);
	assert_int_equal(o.result, STORE_NEW);
	/* a type whose 32-bit FNV-1a equals indicator's, same uuid: another
	 * object, which neither displaces nor is refused by it */
	mkobj_t(&o, js, sizeof(js), "xqr8tzad8o", 77, 999, 0);
	assert_int_equal(put_as(st, P2, C1, &o, 1, 1004), STORE_OK);
	assert_int_equal(o.result, STORE_NEW);
	walk(st, C1, 0, &wk);
	assert_int_equal(wk.n, 3);
	assert_int_equal(flags_of(&wk, 300), STORE_F_LAST);
	assert_int_equal(flags_of(&wk, 999), STORE_F_FIRST | STORE_F_LAST);
	/* an observable: each producer's report is its own object */
	mkobj_t(&o, js, sizeof(js), "ipv4-addr", 5, 100, 1);
	assert_int_equal(put_as(st, P1, C1, &o, 1, 2000), STORE_OK);
	assert_int_equal(o.result, STORE_NEW);
	mkobj_t(&o, js, sizeof(js), "ipv4-addr", 5, 100, 1);
	assert_int_equal(put_as(st, P2, C1, &o, 1, 2001), STORE_OK);
	assert_int_equal(o.result, STORE_NEW); /* not "already there" */
	assert_int_equal(o.date_added, 2001);
	walk(st, C1, 1999, &wk);
	assert_int_equal(wk.n, 2);
	assert_int_equal(wk.it[0].e.producer, P1);
	assert_int_equal(wk.it[1].e.producer, P2);
	/* both are first and last: two objects, not two versions */
	assert_int_equal(wk.it[0].e.flags & (STORE_F_FIRST | STORE_F_LAST),
	    STORE_F_FIRST | STORE_F_LAST);
	assert_int_equal(wk.it[1].e.flags & (STORE_F_FIRST | STORE_F_LAST),
	    STORE_F_FIRST | STORE_F_LAST);
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_versions(r, tcode(r, "ipv4-addr"), o.uuid, P2,
			     count_version, seen),
	    0);
	assert_int_equal(seen[0], 1);
	seen[0] = 0;
	assert_int_equal(store_versions(r, tcode(r, "ipv4-addr"), o.uuid, 0,
			     count_version, seen),
	    0);
	assert_int_equal(seen[0], 2);
	seen[0] = 0;
	assert_int_equal(store_versions(r, tcode(r, "indicator"), o.uuid, 0,
			     count_version, seen),
	    0);
	assert_int_equal(seen[0], 0);
	store_rend(r);
	store_reader_free(r);
	store_close(st);
}

/* The version limit is per producer: another producer's reports of an
 * observable do not use the owner's. */
static void
t_limits_per_producer(void **state)
{
	struct store *st = open_store();
	static struct store_obj o[STORE_MAX_VERSIONS + 1];
	static char js[STORE_MAX_VERSIONS + 1][128];
	int i;

	(void)state;
	for (i = 0; i < STORE_MAX_VERSIONS + 1; i++)
		mkobj_t(
		    &o[i], js[i], sizeof(js[i]), "ipv4-addr", 9, 100 + i, 1);
	assert_int_equal(
	    put_as(st, P2, C1, o, STORE_MAX_VERSIONS + 1, 1000), STORE_OK);
	assert_int_equal(o[STORE_MAX_VERSIONS - 1].result, STORE_NEW);
	assert_int_equal(o[STORE_MAX_VERSIONS].result, STORE_REFUSED);
	mkobj_t(&o[0], js[0], sizeof(js[0]), "ipv4-addr", 9, 100, 1);
	assert_int_equal(put_as(st, P1, C1, o, 1, 5000), STORE_OK);
	assert_int_equal(o[0].result, STORE_NEW);
	store_close(st);
}

/* Unresolved markings: the object is read again when its producer (and
 * only its producer) stores the definition it waits for. */
static int remarks;

static int
fake_remark(struct store_wtxn *w, uint32_t producer, const char *json,
    size_t len, struct store_mark *out)
{
	const char *mj;
	size_t ml;
	unsigned char u[16] = {0};
	unsigned m = 0x4d;

	(void)json;
	(void)len;
	remarks++;
	memset(out, 0, sizeof(*out));
	memcpy(u, &m, sizeof(m));
	if (store_wmarking(w, producer, u, &mj, &ml) == STORE_OK) {
		out->tlp = 5; /* the definition says red */
		return 0;
	}
	out->tlp = 0;
	out->flags = STORE_F_UNRESOLVED;
	out->nunres = 1;
	memcpy(out->unres[0], u, 16);
	return 0;
}

static void
t_remark(void **state)
{
	struct store *st = open_store();
	struct store_obj o;
	struct walked wk;
	char js[256];
	unsigned m = 0x4d;

	(void)state;
	store_set_remark(st, fake_remark);
	mkobj_t(&o, js, sizeof(js), "indicator", 1, 100, 0);
	o.flags = STORE_F_UNRESOLVED;
	o.tlp = 0;
	o.nunres = 1;
	memset(o.unres[0], 0, 16);
	memcpy(o.unres[0], &m, sizeof(m));
	assert_int_equal(put_as(st, P1, C1, &o, 1, 1000), STORE_OK);
	walk(st, C1, 0, &wk);
	assert_int_equal(
	    wk.it[0].e.flags & STORE_F_UNRESOLVED, STORE_F_UNRESOLVED);
	/* P2 has an object waiting for the same id */
	mkobj_t(&o, js, sizeof(js), "indicator", 2, 100, 0);
	o.flags = STORE_F_UNRESOLVED;
	o.nunres = 1;
	memset(o.unres[0], 0, 16);
	memcpy(o.unres[0], &m, sizeof(m));
	assert_int_equal(put_as(st, P2, C1, &o, 1, 1500), STORE_OK);
	assert_int_equal(remarks, 2); /* each read again as it was stored */
	/* P1 publishes the definition: P1's object is read again and takes
	 * its level; P2's is not (P1's definitions judge P1's objects) */
	mkobj_t(&o, js, sizeof(js), "marking-definition", m, 100, 0);
	assert_int_equal(put_as(st, P1, C2, &o, 1, 2000), STORE_OK);
	assert_int_equal(o.result, STORE_NEW);
	assert_int_equal(remarks, 3);
	walk(st, C1, 0, &wk);
	assert_int_equal(wk.n, 2);
	assert_int_equal(wk.it[0].e.tlp, 5);
	assert_int_equal(wk.it[0].e.flags & STORE_F_UNRESOLVED, 0);
	assert_int_equal(wk.it[1].e.tlp, 0);
	assert_int_equal(
	    wk.it[1].e.flags & STORE_F_UNRESOLVED, STORE_F_UNRESOLVED);
	/* the id is P1's: P2 cannot define it for its own objects */
	mkobj_t(&o, js, sizeof(js), "marking-definition", m, 100, 0);
	assert_int_equal(put_as(st, P2, C1, &o, 1, 3000), STORE_OK);
	assert_int_equal(o.result, STORE_OWNED);
	store_close(st);
}

/* --- damage, the map, reader slots, audit records --- */

/* Opens the database of dir with plain LMDB (the store closed) and calls
 * fn on the first record of table `db` whose key is `key` (NULL: the
 * first record); fn changes a copy of the value, which is put back. */
static void
tamper(const char *db, const void *key, size_t klen,
    void (*fn)(unsigned char *v, size_t n, const MDB_val *k))
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, d, nd;
	unsigned char *copy;

	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 16);
	mdb_env_set_maxreaders(env, 512);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
	if (key != NULL) {
		k.mv_size = klen;
		k.mv_data = (void *)(uintptr_t)key;
		assert_int_equal(mdb_cursor_get(c, &k, &d, MDB_SET_KEY), 0);
	} else
		assert_int_equal(mdb_cursor_get(c, &k, &d, MDB_FIRST), 0);
	copy = malloc(d.mv_size);
	memcpy(copy, d.mv_data, d.mv_size);
	fn(copy, d.mv_size, &k);
	nd.mv_size = d.mv_size;
	nd.mv_data = copy;
	assert_int_equal(mdb_cursor_put(c, &k, &nd, MDB_CURRENT), 0);
	mdb_cursor_close(c);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(copy);
}

static void
flip_last(unsigned char *v, size_t n, const MDB_val *k)
{
	(void)k;
	v[n - 6] ^= 0x20; /* in the JSON of a row, in the data of others */
}

/* An index entry pointed at row 2, its check made good again. */
static void
point_at_row2(unsigned char *v, size_t n, const MDB_val *k)
{
	struct store_entry e;
	uint32_t c;

	assert_int_equal(n, sizeof(e));
	memcpy(&e, v, sizeof(e));
	e.rowid = 2;
	e.check = 0;
	c = hash_crc32c(hash_crc32c(0, k->mv_data, k->mv_size), &e, sizeof(e));
	e.check = (uint16_t)(c ^ c >> 16);
	memcpy(v, &e, sizeof(e));
}

struct problems {
	int n;
	char first[512];
};

static void
on_problem(const char *what, void *arg)
{
	struct problems *p = arg;

	if (p->n++ == 0)
		snprintf(p->first, sizeof(p->first), "%s", what);
}

static uint64_t
verify_count(void)
{
	struct store *st = open_store();
	struct store_verify v;
	struct problems p = {0, ""};

	assert_int_equal(store_verify(st, 100, on_problem, &p, &v), STORE_OK);
	store_close(st);
	assert_int_equal((uint64_t)p.n, v.problems);
	return v.problems;
}

/* The same, on a store already open. */
static uint64_t
verify_count_open(struct store *st)
{
	struct store_verify v;
	struct problems p = {0, ""};

	assert_int_equal(store_verify(st, 100, on_problem, &p, &v), STORE_OK);
	if (p.n > 0)
		print_message("verify: %s\n", p.first);
	return v.problems;
}

/* A byte flipped anywhere in a record: the record is refused
 * (STORE_ECORRUPT), never given back altered; store_verify finds it. */
static void
t_damage(void **state)
{
	struct store *st = open_store();
	struct store_obj o[2];
	char js[2][128];
	struct store_reader *r;
	struct store_objview ov;
	struct store_item it;
	unsigned char row1[8] = {0, 0, 0, 0, 0, 0, 0, 1};

	(void)state;
	mkobj(&o[0], js[0], sizeof(js[0]), 1, 1000);
	mkobj(&o[1], js[1], sizeof(js[1]), 2, 1000);
	assert_int_equal(put(st, C1, o, 2, 5000), STORE_OK);
	store_close(st);
	assert_int_equal(verify_count(), 0);
	/* the JSON of row 1 */
	tamper("obj", row1, 8, flip_last);
	st = open_store();
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_obj_get(r, 1, &ov), STORE_ECORRUPT);
	assert_int_equal(store_obj_get(r, 2, &ov), STORE_OK);
	store_rend(r);
	store_reader_free(r);
	store_close(st);
	assert_true(verify_count() >= 1);
	/* an id index value */
	tamper("idsnew", NULL, 0, flip_last);
	assert_true(verify_count() >= 2);
	/* an index entry: the walk stops with an error */
	tamper("added", NULL, 0, flip_last);
	st = open_store();
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_walk_start(r, C1, 0), STORE_OK);
	assert_int_equal(store_walk_next(r, &it), STORE_ECORRUPT);
	store_rend(r);
	store_reader_free(r);
	store_close(st);
}

/* An entry whose check holds but which names another row: store_obj_of
 * refuses it. */
static void
t_damage_entry_row(void **state)
{
	struct store *st = open_store();
	struct store_obj o[2];
	char js[2][128];
	struct store_reader *r;
	struct store_objview ov;
	struct store_item it;

	(void)state;
	mkobj(&o[0], js[0], sizeof(js[0]), 1, 1000);
	mkobj(&o[1], js[1], sizeof(js[1]), 2, 1000);
	assert_int_equal(put(st, C1, o, 2, 5000), STORE_OK);
	store_close(st);
	tamper("added", NULL, 0, point_at_row2);
	st = open_store();
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_walk_start(r, C1, 0), STORE_OK);
	assert_int_equal(store_walk_next(r, &it), 1);
	assert_int_equal(it.e.rowid, 2);
	assert_int_equal(store_obj_of(r, &it.e, &ov), STORE_ECORRUPT);
	assert_int_equal(store_walk_next(r, &it), 1);
	assert_int_equal(store_obj_of(r, &it.e, &ov), STORE_OK);
	store_rend(r);
	store_reader_free(r);
	store_close(st);
	assert_true(verify_count() >= 1);
}

/* Objects of about 1 KB, n of them from uuid `from` on. */
static int
put_big(struct store *st, unsigned from, int n)
{
	static char js[64][1200];
	struct store_obj o[64];
	struct store_wtxn *w;
	int i, rc;

	for (i = 0; i < n && i < 64; i++) {
		mkobj(&o[i], js[i], sizeof(js[i]), from + (unsigned)i, 1);
		memset(js[i] + o[i].jsonlen - 1, ' ', 1000);
		js[i][o[i].jsonlen + 999] = '}';
		js[i][o[i].jsonlen + 1000] = '\0';
		o[i].jsonlen += 1000;
	}
	if ((rc = store_wbegin(st, &w)) != STORE_OK)
		return rc;
	if ((rc = store_wput(w, C1, P1, o, (size_t)i, 1000 + from)) !=
	    STORE_OK) {
		store_wabort(w);
		return rc;
	}
	return store_wcommit(w);
}

/* A full map grows up to map_max, then stays full. */
static void
t_map_growth(void **state)
{
	struct store *st = NULL;
	struct store_stats ss;
	char err[256];
	unsigned u = 1;
	int rc, grown = 0;

	(void)state;
	assert_int_equal(
	    store_open(&st, dir, 1 << 20, err, sizeof(err)), STORE_OK);
	store_set_map_max(st, 4 << 20);
	for (;;) {
		rc = put_big(st, u, 64);
		if (rc == STORE_EFULL) {
			if (store_grow(st) != STORE_OK)
				break;
			grown++;
			continue; /* the same objects again */
		}
		assert_int_equal(rc, STORE_OK);
		u += 64;
		assert_true(u < 100000);
	}
	assert_int_equal(grown, 2); /* 1 -> 2 -> 4 MB */
	assert_true(u > 2000);	    /* more than 1 MB went in */
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_true(ss.map_used <= 4 << 20);
	store_close(st);
}

/* Another process grew the map: this one adopts it at its next
 * transaction instead of failing with MDB_MAP_RESIZED. */
static void
t_map_resized_elsewhere(void **state)
{
	struct store *st = NULL, *other = NULL;
	struct store_reader *r;
	struct walked wk;
	char err[256];
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(
	    store_open(&st, dir, 1 << 20, err, sizeof(err)), STORE_OK);
	assert_int_equal(put_big(st, 1, 8), STORE_OK);
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	store_rend(r);
	if ((pid = fork()) == 0) {
		unsigned u;

		if (store_open(&other, dir, 8 << 20, err, sizeof(err)) !=
		    STORE_OK)
			_exit(1);
		for (u = 100; u < 100 + 64 * 48; u += 64)
			if (put_big(other, u, 64) != STORE_OK)
				_exit(2);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(store_rbegin(r), STORE_OK);
	store_rend(r);
	walk(st, C1, 0, &wk);
	assert_int_equal(wk.n, 64);
	assert_int_equal(put_big(st, 10000, 8), STORE_OK);
	store_reader_free(r);
	store_close(st);
}

/* Reader slots of a process that was killed are cleared: by a check,
 * and when the reader table is full. */
static void
t_stale_readers(void **state)
{
	struct store *st = open_store();
	struct store_reader *r;
	int fds[2], cleared = 0, status;
	char c;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		/* take every free slot, then wait to be killed */
		MDB_env *env;
		MDB_txn *txn;

		if (mdb_env_create(&env) != 0 ||
		    mdb_env_set_maxdbs(env, 16) != 0 ||
		    mdb_env_set_maxreaders(env, 512) != 0 ||
		    mdb_env_open(env, dir, MDB_NOTLS, 0600) != 0)
			_exit(1);
		while (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0)
			;
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(read(fds[0], &c, 1), 1);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* the table is full of the dead process's slots */
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	store_rend(r);
	store_reader_free(r);
	assert_int_equal(store_reader_check(st, &cleared), STORE_OK);
	assert_int_equal(cleared, 0); /* already cleared by rbegin */
	close(fds[0]);
	close(fds[1]);
	store_close(st);
}

struct seen {
	int n;
	uint64_t seq[8];
	char line[8][64];
};

static int
on_record(uint64_t seq, const char *line, size_t len, void *arg)
{
	struct seen *s = arg;

	assert_non_null(line);
	s->seq[s->n] = seq;
	snprintf(s->line[s->n], sizeof(s->line[0]), "%.*s", (int)len, line);
	return ++s->n == 8;
}

/* Audit records commit with their transaction, come back in order, and
 * are numbered on after a trim. */
static void
t_audit_records(void **state)
{
	struct store *st = open_store();
	struct store_wtxn *w;
	struct store_reader *r;
	struct seen s;

	(void)state;
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_waudit(w, "{\"a\":1}", 7), STORE_OK);
	assert_int_equal(store_waudit(w, "{\"a\":2}", 7), STORE_OK);
	store_wabort(w); /* gone with its transaction */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_waudit(w, "{\"a\":1}", 7), STORE_OK);
	assert_int_equal(store_waudit(w, "{\"a\":2}", 7), STORE_OK);
	assert_int_equal(store_waudit(w, "{\"a\":3}", 7), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_audit_walk(r, 0, on_record, &s), STORE_OK);
	store_rend(r);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seq[0], 1);
	assert_int_equal(s.seq[2], 3);
	assert_string_equal(s.line[1], "{\"a\":2}");
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_waudit_trim(w, 2), STORE_OK);
	assert_int_equal(store_waudit(w, "{\"a\":4}", 7), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_audit_walk(r, 0, on_record, &s), STORE_OK);
	store_rend(r);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 3);
	assert_int_equal(s.seq[1], 4);
	store_reader_free(r);
	store_close(st);
}

/* --- gone records, subscription records --- */

struct gones {
	int n;
	int stop_at; /* 0: never */
	struct store_gone g[16];
	char id[16][96];
	char rel[16][16];
};

static int
on_gone(const struct store_gone *g, void *arg)
{
	struct gones *gs = arg;

	assert_true(gs->n < 16);
	gs->g[gs->n] = *g;
	assert_true(g->idlen < sizeof(gs->id[0]));
	memcpy(gs->id[gs->n], g->id, g->idlen);
	gs->id[gs->n][g->idlen] = '\0';
	assert_true(g->nrelease * 2 < (int)sizeof(gs->rel[0]));
	memcpy(gs->rel[gs->n], g->release, (size_t)g->nrelease * 2);
	gs->rel[gs->n][g->nrelease * 2] = '\0';
	gs->n++;
	return gs->stop_at != 0 && gs->n == gs->stop_at ? 42 : 0;
}

/* The gone records of coll in (after, upto]; the walk's return in *rc. */
static void
gone_walk(struct store *st, uint32_t coll, int64_t after, int64_t upto,
    struct gones *gs, int stop_at, int *rc)
{
	struct store_reader *r;

	memset(gs, 0, sizeof(*gs));
	gs->stop_at = stop_at;
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	*rc = store_gone_walk(r, coll, after, upto, on_gone, gs);
	store_rend(r);
	store_reader_free(r);
}

static int64_t
clock_now(struct store *st)
{
	struct store_reader *r;
	int64_t c = -1;

	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_clock(r, &c), STORE_OK);
	store_rend(r);
	store_reader_free(r);
	return c;
}

/* A deletion leaves one gone record per entry it removes, with the
 * deleted entry's fields and the row's releasability and id, dated by the
 * date_added clock after everything before it; walks keep their bounds
 * and stop when told; the clock covers the records; verify counts them. */
static void
t_gone_records(void **state)
{
	struct store *st = open_store();
	struct store_obj o;
	struct store_wtxn *w;
	struct gones gs;
	struct store_verify v;
	struct problems p = {0, ""};
	char js[128];
	int64_t v300 = 300, before, d1, d2, d3;
	int removed, rc;

	(void)state;
	assert_int_equal(clock_now(st), 0);
	mkobj(&o, js, sizeof(js), 5, 200);
	o.flags = STORE_F_REVOKED | STORE_F_RELEASE;
	o.tlp = 3;
	o.nrelease = 2;
	memcpy(o.release[0], "BR", 2);
	memcpy(o.release[1], "IN", 2);
	put(st, C1, &o, 1, 1000);
	mkobj(&o, js, sizeof(js), 5, 300);
	put(st, C1, &o, 1, 1001);
	put(st, C2, &o, 1, 1002);
	before = clock_now(st);
	assert_int_equal(before, 1002);
	/* a version of C1 only: one record, in C1 */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wdelete(w, C1, "indicator", o.uuid, 0,
			     match_version, &v300, &removed),
	    STORE_OK);
	assert_int_equal(removed, 1);
	d1 = store_wlast_added(w);
	assert_true(d1 > before);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(clock_now(st), d1);
	gone_walk(st, C1, 0, INT64_MAX, &gs, 0, &rc);
	assert_int_equal(rc, STORE_OK);
	assert_int_equal(gs.n, 1);
	assert_int_equal(gs.g[0].date, d1);
	assert_int_equal(gs.g[0].coll, C1);
	assert_int_equal(gs.g[0].producer, P1);
	assert_int_equal(gs.g[0].version, 300);
	assert_int_equal(gs.g[0].tlp, 2);
	assert_int_equal(gs.g[0].flags, 0);
	assert_int_equal(gs.g[0].nrelease, 0);
	assert_memory_equal(gs.g[0].uuid, o.uuid, 16);
	assert_string_equal(gs.id[0], o.id);
	gone_walk(st, C2, 0, INT64_MAX, &gs, 0, &rc);
	assert_int_equal(gs.n, 0);
	/* the rest: the released, revoked version of C1, and C2's */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wdelete(w, C1, "indicator", o.uuid, 0, match_all,
			     NULL, &removed),
	    STORE_OK);
	assert_int_equal(removed, 1);
	d2 = store_wlast_added(w);
	assert_int_equal(store_wdelete(w, C2, "indicator", o.uuid, 0, match_all,
			     NULL, &removed),
	    STORE_OK);
	assert_int_equal(removed, 1);
	assert_true(d2 > d1);
	assert_true(store_wlast_added(w) > d2);
	/* nothing there: nothing removed, nothing recorded */
	assert_int_equal(store_wdelete(w, C2, "indicator", o.uuid, 0, match_all,
			     NULL, &removed),
	    STORE_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(store_wcommit(w), STORE_OK);
	gone_walk(st, C1, 0, INT64_MAX, &gs, 0, &rc);
	assert_int_equal(gs.n, 2);
	assert_int_equal(gs.g[1].date, d2);
	assert_int_equal(gs.g[1].version, 200);
	assert_int_equal(gs.g[1].tlp, 3);
	assert_int_equal(gs.g[1].flags, STORE_F_REVOKED | STORE_F_RELEASE);
	assert_int_equal(gs.g[1].nrelease, 2);
	assert_string_equal(gs.rel[1], "BRIN");
	assert_string_equal(gs.id[1], o.id);
	gone_walk(st, C2, 0, INT64_MAX, &gs, 0, &rc);
	assert_int_equal(gs.n, 1);
	assert_true(gs.g[0].date > d2);
	d3 = gs.g[0].date;
	assert_int_equal(clock_now(st), d3);
	/* bounds: after exclusive, upto inclusive */
	gone_walk(st, C1, d1, INT64_MAX, &gs, 0, &rc);
	assert_int_equal(gs.n, 1);
	assert_int_equal(gs.g[0].date, d2);
	gone_walk(st, C1, 0, d1, &gs, 0, &rc);
	assert_int_equal(gs.n, 1);
	assert_int_equal(gs.g[0].date, d1);
	gone_walk(st, C1, d1 - 1, d2 - 1, &gs, 0, &rc);
	assert_int_equal(gs.n, 1);
	gone_walk(st, C1, d2, d2, &gs, 0, &rc);
	assert_int_equal(gs.n, 0);
	gone_walk(st, C1, d2, INT64_MAX, &gs, 0, &rc);
	assert_int_equal(gs.n, 0);
	/* the callback stops the walk with its value */
	gone_walk(st, C1, 0, INT64_MAX, &gs, 1, &rc);
	assert_int_equal(rc, 42);
	assert_int_equal(gs.n, 1);
	/* later adds come after the deletions */
	mkobj(&o, js, sizeof(js), 6, 1);
	put(st, C1, &o, 1, 1003);
	assert_true(o.date_added > d3);
	assert_int_equal(clock_now(st), o.date_added);
	assert_int_equal(store_verify(st, 100, on_problem, &p, &v), STORE_OK);
	assert_int_equal(v.problems, 0);
	assert_int_equal(v.gone, 3);
	store_close(st);
}

/* Pruning deletes the records dated before the bound, in every
 * collection, at most max at a time; statuses are pruned beside them. */
static void
t_gone_prune(void **state)
{
	struct store *st = open_store();
	struct store_obj o;
	struct store_wtxn *w;
	struct store_stats ss;
	struct gones gs;
	char js[128];
	int64_t mid;
	int i, removed, rc, n, ng;

	(void)state;
	for (i = 0; i < 3; i++) {
		mkobj(&o, js, sizeof(js), 10 + (unsigned)i, 1);
		put(st, C1, &o, 1, 1000 + i);
		put(st, C2, &o, 1, 1100 + i);
	}
	/* three deletions in each collection, C1's first */
	for (i = 0; i < 6; i++) {
		mkobj(&o, js, sizeof(js), 10 + (unsigned)(i % 3), 1);
		assert_int_equal(store_wbegin(st, &w), STORE_OK);
		assert_int_equal(store_wdelete(w, i < 3 ? C1 : C2, "indicator",
				     o.uuid, 0, match_all, NULL, &removed),
		    STORE_OK);
		assert_int_equal(removed, 1);
		if (i == 1)
			assert_int_equal(
			    store_wstatus(w, "s1", 7, 100, "{}", 2), STORE_OK);
		assert_int_equal(store_wcommit(w), STORE_OK);
	}
	gone_walk(st, C2, 0, INT64_MAX, &gs, 0, &rc);
	assert_int_equal(gs.n, 3);
	mid = gs.g[1].date; /* C1's three and C2's first are before it */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wprune(w, 0, mid, 2, &n, &ng), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(ng, 2);
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_int_equal(ss.gone, 4);
	assert_int_equal(ss.statuses, 1);
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wprune(w, 500, mid, 100, &n, &ng), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ng, 2);
	gone_walk(st, C1, 0, INT64_MAX, &gs, 0, &rc);
	assert_int_equal(gs.n, 0);
	gone_walk(st, C2, 0, INT64_MAX, &gs, 0, &rc);
	assert_int_equal(gs.n, 2);
	assert_int_equal(gs.g[0].date, mid);
	/* no bound: none go */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wprune(w, 0, 0, 100, &n, &ng), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(ng, 0);
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_int_equal(ss.gone, 2);
	store_close(st);
}

struct subseen {
	int n;
	char name[4][32];
	char val[4][32];
};

static int
on_sub(const char *name, const void *val, size_t len, void *arg)
{
	struct subseen *s = arg;

	assert_true(s->n < 4 && len < 32);
	snprintf(s->name[s->n], 32, "%s", name);
	memcpy(s->val[s->n], val, len);
	s->val[s->n][len] = '\0';
	s->n++;
	return 0;
}

/* Subscription records: put, overwrite, get, walk in name order, delete;
 * limits refused without poisoning the transaction; kept across a
 * reopen. */
static void
t_subs(void **state)
{
	struct store *st = open_store();
	struct store_wtxn *w;
	struct store_reader *r;
	struct subseen ss;
	struct store_verify v;
	struct problems p = {0, ""};
	static char big[STORE_SUB_VAL_MAX + 1];
	char name[STORE_SUB_NAME_MAX + 2];
	const void *val;
	size_t len;

	(void)state;
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wsub_put(w, "b-hook/coll", "one", 3), STORE_OK);
	assert_int_equal(store_wsub_put(w, "a-taxii/coll", "two", 3), STORE_OK);
	assert_int_equal(
	    store_wsub_put(w, "b-hook/coll", "three", 5), STORE_OK);
	assert_int_equal(store_wsub_put(w, "empty", NULL, 0), STORE_OK);
	assert_int_equal(store_wsub_put(w, "", "x", 1), STORE_ERR);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(store_wsub_put(w, name, "x", 1), STORE_ERR);
	name[STORE_SUB_NAME_MAX] = '\0';
	assert_int_equal(store_wsub_put(w, name, big, sizeof(big)), STORE_ERR);
	assert_int_equal(
	    store_wsub_put(w, name, big, STORE_SUB_VAL_MAX), STORE_OK);
	assert_int_equal(store_wsub_del(w, "never"), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	store_close(st);
	st = open_store();
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_sub_get(r, "b-hook/coll", &val, &len), STORE_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(val, "three", 5);
	assert_int_equal(store_sub_get(r, name, &val, &len), STORE_OK);
	assert_int_equal(len, STORE_SUB_VAL_MAX);
	assert_int_equal(
	    store_sub_get(r, "b-hook", &val, &len), STORE_ENOTFOUND);
	assert_int_equal(store_sub_get(r, "", &val, &len), STORE_ENOTFOUND);
	store_rend(r);
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wsub_del(w, name), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	memset(&ss, 0, sizeof(ss));
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_sub_walk(r, on_sub, &ss), STORE_OK);
	store_rend(r);
	assert_int_equal(ss.n, 3);
	assert_string_equal(ss.name[0], "a-taxii/coll");
	assert_string_equal(ss.val[0], "two");
	assert_string_equal(ss.name[1], "b-hook/coll");
	assert_string_equal(ss.val[1], "three");
	assert_string_equal(ss.name[2], "empty");
	assert_string_equal(ss.val[2], "");
	store_reader_free(r);
	assert_int_equal(store_verify(st, 100, on_problem, &p, &v), STORE_OK);
	assert_int_equal(v.problems, 0);
	assert_int_equal(v.subs, 3);
	store_close(st);
}

/* Drops a table with plain LMDB (the store closed): a schema-3 database
 * made before the table existed. */
static void
drop_table(const char *db)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 16);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	assert_int_equal(mdb_drop(txn, dbi, 1), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), MDB_NOTFOUND);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* A database without the gone and subs tables gets them at open; a
 * damaged gone or subscription record is refused and verify finds it. */
static void
t_gone_subs_tables(void **state)
{
	struct store *st = open_store();
	struct store_obj o;
	struct store_wtxn *w;
	struct store_reader *r;
	struct gones gs;
	struct subseen ss;
	const void *val;
	size_t len;
	char js[128];
	int removed, rc;

	(void)state;
	mkobj(&o, js, sizeof(js), 5, 1);
	put(st, C1, &o, 1, 1000);
	store_close(st);
	drop_table("gone");
	drop_table("subs");
	assert_int_equal(verify_count(), 0);
	st = open_store();
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wdelete(w, C1, "indicator", o.uuid, 0, match_all,
			     NULL, &removed),
	    STORE_OK);
	assert_int_equal(store_wsub_put(w, "s/c", "state", 5), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	gone_walk(st, C1, 0, INT64_MAX, &gs, 0, &rc);
	assert_int_equal(gs.n, 1);
	store_close(st);
	assert_int_equal(verify_count(), 0);
	tamper("gone", NULL, 0, flip_last);
	tamper("subs", NULL, 0, flip_last);
	st = open_store();
	gone_walk(st, C1, 0, INT64_MAX, &gs, 0, &rc);
	assert_int_equal(rc, STORE_ECORRUPT);
	assert_int_equal(gs.n, 0);
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_sub_get(r, "s/c", &val, &len), STORE_ECORRUPT);
	memset(&ss, 0, sizeof(ss));
	assert_int_equal(store_sub_walk(r, on_sub, &ss), STORE_ECORRUPT);
	assert_int_equal(ss.n, 0);
	store_rend(r);
	store_reader_free(r);
	store_close(st);
	assert_int_equal(verify_count(), 2);
}

/* --- the observable index --- */

struct obsseen {
	int n;
	int stop_at; /* 0: never */
	size_t klen[32];
	unsigned char key[32][16];
	struct store_obs_row row[32];
};

static int
on_obs(const unsigned char *key, size_t len, const struct store_obs_row *row,
    void *arg)
{
	struct obsseen *os = arg;

	assert_true(os->n < 32);
	assert_true(len <= 16);
	memcpy(os->key[os->n], key, len);
	os->klen[os->n] = len;
	os->row[os->n] = *row;
	if (++os->n == os->stop_at)
		return 7;
	return 0;
}

/* An IPv4 key: type 4, the address, the prefix length. */
static struct store_obs_key
ip4(unsigned char k[6], unsigned a, unsigned b, unsigned c, unsigned d,
    unsigned prefix)
{
	struct store_obs_key ok = {k, 6};

	k[0] = 4;
	k[1] = (unsigned char)a;
	k[2] = (unsigned char)b;
	k[3] = (unsigned char)c;
	k[4] = (unsigned char)d;
	k[5] = (unsigned char)prefix;
	return ok;
}

static int
obs_get(struct store *st, const struct store_obs_key *k, struct obsseen *os)
{
	struct store_reader *r;
	int rc;

	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	os->n = 0;
	rc = store_obs_get(r, k->key, k->len, on_obs, os);
	store_rend(r);
	store_reader_free(r);
	return rc;
}

static int
obs_range(struct store *st, const struct store_obs_key *lo,
    const struct store_obs_key *hi, struct obsseen *os)
{
	struct store_reader *r;
	int rc;

	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	os->n = 0;
	rc = store_obs_range(r, lo->key, lo->len, hi->key, hi->len, on_obs, os);
	store_rend(r);
	store_reader_free(r);
	return rc;
}

/* Row `rowid`'s observables become the n keys (group 0, no text). */
static int
row_keys(struct store_wtxn *w, uint64_t rowid, uint32_t producer,
    const struct store_obs_key *keys, int n)
{
	struct store_obs_item it[8];
	struct store_obs_set set;
	int i;

	assert_true(n <= 8);
	memset(&set, 0, sizeof(set));
	memset(it, 0, sizeof(it));
	for (i = 0; i < n; i++) {
		it[i].key = keys[i].key;
		it[i].keylen = keys[i].len;
	}
	set.valid_until = STORE_OBS_FOREVER;
	set.confidence = 255;
	set.n = n;
	set.v = it;
	return store_wobs_row(w, rowid, producer, &set);
}

/* Three stored objects (rows 1, 2, 3 of P1) for the index to name. */
static struct store *
obs_store(void)
{
	struct store *st = open_store();
	struct store_obj o[3];
	char js[3][128];
	int i;

	for (i = 0; i < 3; i++)
		mkobj(&o[i], js[i], sizeof(js[i]), (unsigned)i + 1, 1);
	assert_int_equal(put(st, C1, o, 3, 1000), STORE_OK);
	return st;
}

/* Rows listed under keys come back in rowid order with their metadata;
 * a range of addresses finds what lies inside it, a lookup per prefix
 * length the ranges holding an address; deleting takes a row off. */
static void
t_obs_index(void **state)
{
	struct store *st = obs_store();
	struct store_wtxn *w;
	struct store_verify v;
	struct problems p = {0, ""};
	unsigned char ka[6], kr[6], kb[6], kc[6], lo[6], hi[6], kq[6];
	unsigned char dom[] = "\002com.example.www", big[STORE_OBS_KEY_MAX + 1];
	struct store_obs_key a, r24, b, c, keys[3], d = {dom, sizeof(dom) - 1};
	struct store_obs_key bad[2];
	struct obsseen os = {0};
	int i, found;

	(void)state;
	a = ip4(ka, 10, 0, 0, 1, 32);
	r24 = ip4(kr, 10, 0, 0, 0, 24);
	b = ip4(kb, 10, 0, 1, 7, 32);
	c = ip4(kc, 192, 168, 1, 1, 32);
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	/* row 2 first: the list is in rowid order whatever the order of
	 * the writes */
	keys[0] = a;
	keys[1] = d;
	keys[2] = a; /* twice in one call: once in the index */
	assert_int_equal(
	    store_wobs_add(w, 2, keys, 3, P1, STORE_OBS_F_PATTERN, 5000),
	    STORE_OK);
	assert_int_equal(
	    store_wobs_add(w, 1, &a, 1, P1, 0, STORE_OBS_FOREVER), STORE_OK);
	keys[0] = r24;
	keys[1] = b;
	keys[2] = c;
	assert_int_equal(
	    store_wobs_add(w, 3, keys, 3, P1, STORE_OBS_F_REVOKED | 0x80, -1),
	    STORE_OK);
	assert_int_equal(store_wobs_add(w, 3, &a, 1, P1, 0, 7), STORE_OK);
	/* keys out of bounds: refused before anything is written, the
	 * transaction still good */
	memset(big, 4, sizeof(big));
	bad[0] = a;
	bad[1].key = big;
	bad[1].len = sizeof(big);
	assert_int_equal(store_wobs_add(w, 9, bad, 2, P1, 0, 0), STORE_ERR);
	bad[1].len = 0;
	assert_int_equal(store_wobs_del(w, 1, bad, 2), STORE_ERR);
	assert_int_equal(store_wobs_add(w, 9, bad, -1, P1, 0, 0), STORE_ERR);
	assert_int_equal(store_wcommit(w), STORE_OK);
	/* again, with the same metadata: nothing new */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(
	    store_wobs_add(w, 1, &a, 1, P1, 0, STORE_OBS_FOREVER), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);

	assert_int_equal(obs_get(st, &a, &os), STORE_OK);
	assert_int_equal(os.n, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(os.row[i].rowid, i + 1);
		assert_int_equal(os.row[i].producer, P1);
		assert_int_equal(os.klen[i], 6);
		assert_memory_equal(os.key[i], ka, 6);
	}
	assert_int_equal(os.row[0].flags, 0);
	assert_true(os.row[0].valid_until == STORE_OBS_FOREVER);
	assert_int_equal(os.row[1].flags, STORE_OBS_F_PATTERN);
	assert_int_equal(os.row[1].valid_until, 5000);
	assert_int_equal(os.row[2].valid_until, 7);
	assert_int_equal(obs_get(st, &d, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	assert_int_equal(os.row[0].rowid, 2);
	assert_int_equal(obs_get(st, &c, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	assert_int_equal(os.row[0].flags, STORE_OBS_F_REVOKED | 0x80);
	assert_int_equal(os.row[0].valid_until, -1);
	/* a miss, and keys that can never be */
	ip4(kq, 10, 0, 0, 2, 32);
	assert_int_equal(
	    obs_get(st, &(struct store_obs_key){kq, 6}, &os), STORE_OK);
	assert_int_equal(os.n, 0);
	assert_int_equal(
	    obs_get(st, &(struct store_obs_key){kq, 0}, &os), STORE_OK);
	assert_int_equal(obs_get(st, &bad[1], &os), STORE_OK);
	assert_int_equal(os.n, 0);
	/* the callback stops the walk with its value */
	os.stop_at = 2;
	assert_int_equal(obs_get(st, &a, &os), 7);
	assert_int_equal(os.n, 2);
	os.stop_at = 0;

	/* inside 10.0.0.0/24: the range itself and 10.0.0.1 (three rows),
	 * not 10.0.1.7 nor 192.168.1.1 */
	ip4(lo, 10, 0, 0, 0, 0);
	ip4(hi, 10, 0, 0, 255, 255);
	assert_int_equal(obs_range(st, &(struct store_obs_key){lo, 6},
			     &(struct store_obs_key){hi, 6}, &os),
	    STORE_OK);
	assert_int_equal(os.n, 4);
	assert_memory_equal(os.key[0], kr, 6);
	assert_int_equal(os.row[0].rowid, 3);
	for (i = 1; i < 4; i++) {
		assert_memory_equal(os.key[i], ka, 6);
		assert_int_equal(os.row[i].rowid, (uint64_t)i);
	}
	/* inside 10.0.0.0/8: one more; inclusive of hi, from lo of 0
	 * bytes (the first key) */
	ip4(hi, 10, 255, 255, 255, 255);
	assert_int_equal(obs_range(st, &(struct store_obs_key){lo, 0},
			     &(struct store_obs_key){hi, 6}, &os),
	    STORE_OK);
	assert_int_equal(os.n, 6); /* the domain (type 2) sorts first */
	assert_int_equal(os.klen[0], sizeof(dom) - 1);
	assert_memory_equal(os.key[5], kb, 6);
	assert_int_equal(obs_range(st, &(struct store_obs_key){kb, 6},
			     &(struct store_obs_key){kb, 6}, &os),
	    STORE_OK);
	assert_int_equal(os.n, 1);
	assert_int_equal(obs_range(st, &(struct store_obs_key){hi, 6},
			     &(struct store_obs_key){lo, 6}, &os),
	    STORE_OK);
	assert_int_equal(os.n, 0);
	/* the ranges holding 10.0.0.1: one lookup per prefix length */
	found = 0;
	for (i = 0; i <= 32; i++) {
		uint32_t m = i == 0 ? 0 : 0xffffffffu << (32 - i);
		uint32_t x = (10u << 24 | 1u) & m;

		ip4(kq, x >> 24, x >> 16 & 0xff, x >> 8 & 0xff, x & 0xff,
		    (unsigned)i);
		assert_int_equal(
		    obs_get(st, &(struct store_obs_key){kq, 6}, &os), STORE_OK);
		if (os.n > 0)
			found |= i == 24 ? 1 : i == 32 ? 2 : 4;
	}
	assert_int_equal(found, 3);

	/* deleting: one row off one key; an absent row, an absent key */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wobs_del(w, 2, &a, 1), STORE_OK);
	assert_int_equal(store_wobs_del(w, 5, &a, 1), STORE_OK);
	assert_int_equal(store_wobs_del(w, 2, &c, 1), STORE_OK);
	assert_int_equal(
	    store_wobs_del(w, 2, &(struct store_obs_key){kq, 6}, 1), STORE_OK);
	keys[0] = r24;
	keys[1] = b;
	keys[2] = c;
	assert_int_equal(store_wobs_del(w, 3, keys, 3), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(obs_get(st, &a, &os), STORE_OK);
	assert_int_equal(os.n, 2);
	assert_int_equal(os.row[0].rowid, 1);
	assert_int_equal(os.row[1].rowid, 3);
	assert_int_equal(obs_get(st, &c, &os), STORE_OK);
	assert_int_equal(os.n, 0);
	assert_int_equal(obs_get(st, &d, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	store_close(st);

	/* kept across a reopen; verify counts every entry */
	st = open_store();
	assert_int_equal(obs_get(st, &a, &os), STORE_OK);
	assert_int_equal(os.n, 2);
	assert_int_equal(store_verify(st, 100, on_problem, &p, &v), STORE_OK);
	/* written with store_wobs_add alone: no row's list holds them */
	assert_int_equal(v.problems, 3);
	assert_int_equal(v.obs, 3);
	store_close(st);
}

/* Moves every entry of obsnew into obs: empty commits, a merge (of at
 * least one entry) each, until obsnew is empty. */
static void
merge_all(struct store *st)
{
	struct store_wtxn *w;
	struct store_stats ss;
	int i;

	store_set_obs_merge_min(st, 1);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(store_stats(st, &ss), STORE_OK);
		if (ss.obs_new == 0)
			break;
		assert_int_equal(store_wbegin(st, &w), STORE_OK);
		assert_int_equal(store_wcommit(w), STORE_OK);
	}
	assert_int_equal(ss.obs_new, 0);
	store_set_obs_merge_min(st, 50000);
}

/* Damages the first entry of table `db` (obs or obsnew): deleted and
 * written back altered (a duplicate is rewritten whole, never in place). */
static void
tamper_obs(
    const char *db, void (*fn)(unsigned char *v, size_t n, const MDB_val *k))
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, d, nd;
	unsigned char key[STORE_OBS_KEY_MAX], val[64];

	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 16);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
	assert_int_equal(mdb_cursor_get(c, &k, &d, MDB_FIRST), 0);
	assert_true(d.mv_size <= sizeof(val));
	memcpy(key, k.mv_data, k.mv_size);
	memcpy(val, d.mv_data, d.mv_size);
	k.mv_data = key;
	nd.mv_size = d.mv_size;
	nd.mv_data = val;
	fn(val, d.mv_size, &k);
	assert_int_equal(mdb_cursor_del(c, 0), 0);
	assert_int_equal(mdb_cursor_put(c, &k, &nd, 0), 0);
	mdb_cursor_close(c);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* A damaged entry is refused (STORE_ECORRUPT) by a lookup and a range,
 * and verify finds it; verify finds an entry naming no row, and one
 * naming another producer's row. */
static void
obs_damage(int merged)
{
	struct store *st = obs_store();
	struct store_wtxn *w;
	unsigned char ka[6], kb[6];
	struct store_obs_key a, b;
	struct obsseen os = {0};

	a = ip4(ka, 10, 0, 0, 1, 32);
	b = ip4(kb, 10, 0, 0, 2, 32);
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(row_keys(w, 1, P1, &a, 1), STORE_OK);
	assert_int_equal(row_keys(w, 2, P1, &a, 1), STORE_OK);
	assert_int_equal(row_keys(w, 3, P1, &b, 1), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	if (merged)
		merge_all(st);
	store_close(st);
	assert_int_equal(verify_count(), 0);
	/* row 1 under a: its valid_until */
	tamper_obs(merged ? "obs" : "obsnew", flip_last);
	st = open_store();
	memset(&os, 0, sizeof(os));
	assert_int_equal(obs_get(st, &a, &os), STORE_ECORRUPT);
	assert_int_equal(os.n, 0);
	assert_int_equal(obs_range(st, &a, &b, &os), STORE_ECORRUPT);
	assert_int_equal(os.n, 0);
	/* the other key is sound */
	assert_int_equal(obs_get(st, &b, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	/* no row 99; row 3 is P1's, not P2's */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wobs_add(w, 99, &b, 1, P1, 0, 0), STORE_OK);
	assert_int_equal(store_wobs_add(w, 3, &a, 1, P2, 0, 0), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	store_close(st);
	/* the damaged entry; row 99 (none); row 3 (another producer's, and
	 * not in its list) */
	assert_int_equal(verify_count(), 4);
	/* deleting takes the damaged entry too */
	st = open_store();
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wobs_row(w, 1, P1, NULL), STORE_OK);
	assert_int_equal(store_wobs_del(w, 99, &b, 1), STORE_OK);
	assert_int_equal(store_wobs_del(w, 3, &a, 1), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(obs_get(st, &a, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	assert_int_equal(os.row[0].rowid, 2);
	store_close(st);
	assert_int_equal(verify_count(), 0);
}

static void
t_obs_damage(void **state)
{
	(void)state;
	obs_damage(0);
}

/* The same, the entries merged into obs. */
static void
t_obs_damage_merged(void **state)
{
	(void)state;
	obs_damage(1);
}

/* An IPv4 key as observable.h makes it: type 1, address, prefix. */
static struct store_obs_key
v4(unsigned char k[6], unsigned a, unsigned b, unsigned c, unsigned d,
    unsigned prefix)
{
	struct store_obs_key ok = ip4(k, a, b, c, d, prefix);

	k[0] = 1;
	return ok;
}

/* A row's list as read: its items' keys and groups. */
struct rowlist {
	int rc, n;
	struct store_obsrow head;
	uint8_t group[8];
	size_t keylen[8], textlen[8];
	unsigned char key[8][STORE_OBS_KEY_MAX];
};

static void
row_list(struct store *st, uint64_t rowid, struct rowlist *rl)
{
	struct store_reader *r;
	struct store_obs_item it;
	size_t pos = 0;
	int rc;

	memset(rl, 0, sizeof(*rl));
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	rl->rc = store_obsrow_get(r, rowid, &rl->head);
	while (rl->rc == STORE_OK &&
	    (rc = store_obsrow_next(&rl->head, &pos, &it)) == 1) {
		assert_true(rl->n < 8);
		rl->group[rl->n] = it.group;
		rl->keylen[rl->n] = it.keylen;
		rl->textlen[rl->n] = it.textlen;
		memcpy(rl->key[rl->n], it.key, it.keylen);
		rl->n++;
	}
	store_rend(r);
	store_reader_free(r);
}

static void
prefixes(struct store *st, int type, uint64_t *lo, uint64_t *hi)
{
	struct store_reader *r;

	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_obs_prefixes(r, type, lo, hi), STORE_OK);
	store_rend(r);
	store_reader_free(r);
}

/* A new version's observables go in with its row (entries and list);
 * a revoked version's entries say so; a duplicate adds nothing; deleting
 * a version takes its entries and list; store_wobs_row replaces a row's;
 * the IP prefix lengths are kept, and dropped by store_wobs_prefixes
 * only when no key has them. */
static void
t_obs_rows(void **state)
{
	struct store *st = open_store();
	struct store_obj o;
	struct store_wtxn *w;
	struct obsseen os = {0};
	struct rowlist rl;
	struct store_obs_item it[3], it2[1], bad[1];
	struct store_obs_set set, set2, badset;
	unsigned char ka[6], kr[6], kd[12] = "\003example.com";
	unsigned char kl[STORE_OBS_KEY_MAX];
	struct store_obs_key a = v4(ka, 10, 0, 0, 1, 32);
	struct store_obs_key r24 = v4(kr, 10, 0, 0, 0, 24);
	struct store_obs_key d = {kd, 12}, l = {kl, sizeof(kl)};
	const char *longtext = "http://example.com/a-long-url";
	char js[128];
	int64_t ver = 100;
	uint64_t lo, hi;
	int removed;

	(void)state;
	memset(kl, 'x', sizeof(kl));
	kl[0] = 4;
	kl[sizeof(kl) - 33] = '\0';
	memset(it, 0, sizeof(it));
	it[0].key = a.key;
	it[0].keylen = a.len;
	it[1].key = d.key;
	it[1].keylen = d.len;
	it[1].group = 1;
	it[2].key = kl;
	it[2].keylen = sizeof(kl);
	it[2].text = longtext;
	it[2].textlen = strlen(longtext);
	it[2].group = 2;
	set.valid_until = 5000;
	set.confidence = 80;
	set.flags = STORE_OBS_F_PATTERN;
	set.n = 3;
	set.v = it;

	mkobj(&o, js, sizeof(js), 7, 100);
	o.obs = &set;
	assert_int_equal(put(st, C1, &o, 1, 1000), STORE_OK);
	assert_int_equal(o.result, STORE_NEW);
	assert_int_equal(obs_get(st, &a, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	assert_int_equal(os.row[0].rowid, 1);
	assert_int_equal(os.row[0].producer, P1);
	assert_int_equal(os.row[0].flags, STORE_OBS_F_PATTERN);
	assert_int_equal(os.row[0].valid_until, 5000);
	row_list(st, 1, &rl);
	assert_int_equal(rl.rc, STORE_OK);
	assert_int_equal(rl.n, 3);
	assert_int_equal(rl.head.valid_until, 5000);
	assert_int_equal(rl.head.confidence, 80);
	assert_int_equal(rl.head.flags, STORE_OBS_F_PATTERN);
	assert_int_equal(rl.group[1], 1);
	assert_int_equal(rl.keylen[1], 12);
	assert_memory_equal(rl.key[1], kd, 12);
	assert_int_equal(rl.textlen[0], 0);
	assert_int_equal(rl.textlen[2], strlen(longtext));

	/* the same version again, in another collection: nothing new */
	assert_int_equal(put(st, C2, &o, 1, 1001), STORE_OK);
	assert_int_equal(o.result, STORE_LINKED);
	assert_int_equal(obs_get(st, &a, &os), STORE_OK);
	assert_int_equal(os.n, 1);

	/* a revoked version: its own row, its entries flagged */
	mkobj(&o, js, sizeof(js), 7, 200);
	o.flags = STORE_F_REVOKED;
	set2 = set;
	set2.flags = STORE_OBS_F_PATTERN | STORE_OBS_F_REVOKED;
	set2.n = 1;
	memset(it2, 0, sizeof(it2));
	it2[0].key = r24.key;
	it2[0].keylen = r24.len;
	set2.v = it2;
	o.obs = &set2;
	assert_int_equal(put(st, C1, &o, 1, 1002), STORE_OK);
	assert_int_equal(obs_get(st, &r24, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	assert_int_equal(os.row[0].rowid, 2);
	assert_int_equal(
	    os.row[0].flags, STORE_OBS_F_PATTERN | STORE_OBS_F_REVOKED);
	prefixes(st, 1, &lo, &hi);
	assert_true(lo == ((UINT64_C(1) << 32) | (UINT64_C(1) << 24)));
	assert_true(hi == 0);
	prefixes(st, 2, &lo, &hi);
	assert_true(lo == 0 && hi == 0);

	/* a set out of bounds refuses its object, nothing written */
	mkobj(&o, js, sizeof(js), 8, 100);
	memset(bad, 0, sizeof(bad));
	bad[0].key = kl;
	bad[0].keylen = 0;
	badset = set;
	badset.n = 1;
	badset.v = bad;
	o.obs = &badset;
	assert_int_equal(put(st, C1, &o, 1, 1003), STORE_OK);
	assert_int_equal(o.result, STORE_REFUSED);
	assert_int_equal(verify_count_open(st), 0);

	/* version 100 deleted from one collection: still in the other */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	mkobj(&o, js, sizeof(js), 7, 100);
	assert_int_equal(store_wdelete(w, C2, "indicator", o.uuid, 0,
			     match_version, &ver, &removed),
	    STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(obs_get(st, &a, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	/* and from the last: its entries and list go */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wdelete(w, C1, "indicator", o.uuid, 0,
			     match_version, &ver, &removed),
	    STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(removed, 1);
	assert_int_equal(obs_get(st, &a, &os), STORE_OK);
	assert_int_equal(os.n, 0);
	assert_int_equal(obs_get(st, &d, &os), STORE_OK);
	assert_int_equal(os.n, 0);
	assert_int_equal(obs_get(st, &l, &os), STORE_OK);
	assert_int_equal(os.n, 0);
	row_list(st, 1, &rl);
	assert_int_equal(rl.rc, STORE_ENOTFOUND);
	assert_int_equal(obs_get(st, &r24, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	assert_int_equal(verify_count_open(st), 0);

	/* reindex: row 2's list replaced; the /24 gone, the domain in */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	it2[0].key = d.key;
	it2[0].keylen = d.len;
	assert_int_equal(store_wobs_row(w, 2, P1, &set2), STORE_OK);
	badset.v = bad;
	assert_int_equal(store_wobs_row(w, 2, P1, &badset), STORE_ERR);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(obs_get(st, &r24, &os), STORE_OK);
	assert_int_equal(os.n, 0);
	assert_int_equal(obs_get(st, &d, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	assert_int_equal(os.row[0].rowid, 2);
	assert_int_equal(verify_count_open(st), 0);

	/* the bits stay until a reindex finds no key of theirs */
	prefixes(st, 1, &lo, &hi);
	assert_true(lo == ((UINT64_C(1) << 32) | (UINT64_C(1) << 24)));
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(row_keys(w, 2, P1, &r24, 1), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	/* the walk saw nothing, but the /24 is there: kept */
	assert_int_equal(store_wobs_prefixes(w, 1, 0, 0), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	prefixes(st, 1, &lo, &hi);
	assert_true(lo == UINT64_C(1) << 24);
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wobs_row(w, 2, P1, NULL), STORE_OK);
	assert_int_equal(store_wobs_prefixes(w, 1, 0, 0), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	prefixes(st, 1, &lo, &hi);
	assert_true(lo == 0 && hi == 0);
	assert_int_equal(verify_count_open(st), 0);
	store_close(st);
}

/* A damaged list of observables is refused and verify finds it; a
 * list naming an entry the index lacks, too. */
static void
t_obs_rows_damage(void **state)
{
	struct store *st = open_store();
	struct store_obj o;
	struct store_wtxn *w;
	struct rowlist rl;
	struct store_obs_item it[1];
	struct store_obs_set set;
	unsigned char ka[6], rk[8] = {0, 0, 0, 0, 0, 0, 0, 1};
	struct store_obs_key a = v4(ka, 10, 0, 0, 1, 32);
	char js[128];

	(void)state;
	memset(it, 0, sizeof(it));
	it[0].key = a.key;
	it[0].keylen = a.len;
	memset(&set, 0, sizeof(set));
	set.valid_until = STORE_OBS_FOREVER;
	set.confidence = 255;
	set.n = 1;
	set.v = it;
	mkobj(&o, js, sizeof(js), 7, 100);
	o.obs = &set;
	assert_int_equal(put(st, C1, &o, 1, 1000), STORE_OK);
	/* the entry alone taken off: the list names what is not there */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wobs_del(w, 1, &a, 1), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	store_close(st);
	assert_int_equal(verify_count(), 1);
	tamper("obsrow", rk, 8, flip_last);
	st = open_store();
	row_list(st, 1, &rl);
	assert_int_equal(rl.rc, STORE_ECORRUPT);
	store_close(st);
	assert_int_equal(verify_count(), 1);
	/* reindex makes it good */
	st = open_store();
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wobs_row(w, 1, P1, &set), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	row_list(st, 1, &rl);
	assert_int_equal(rl.rc, STORE_OK);
	assert_int_equal(rl.n, 1);
	store_close(st);
	assert_int_equal(verify_count(), 0);
}

/* Reindex's second pass: entries no row's list holds are removed, slice
 * by slice; the prefix lengths of the keys kept are gathered. */
static void
t_obs_prune(void **state)
{
	struct store *st = obs_store();
	struct store_wtxn *w;
	struct store_obs_resume at;
	struct obsseen os = {0};
	unsigned char ka[6], kb[6], kc[6];
	struct store_obs_key a = v4(ka, 10, 0, 0, 1, 32);
	struct store_obs_key b = v4(kb, 10, 0, 0, 0, 24);
	struct store_obs_key c = v4(kc, 10, 0, 0, 9, 32);
	uint64_t seen = 0, removed = 0, pfx[2][2], lo, hi;
	unsigned char ka16[16] = {0}, k6[2][18];
	struct store_obs_key six[2] = {{k6[0], 18}, {k6[1], 18}};
	int slices = 0, nrem;

	(void)state;
	/* IPv6: an address (128: no bit) and a /100 (bit 36 of hi) */
	memset(k6, 0, sizeof(k6));
	k6[0][0] = k6[1][0] = 2;
	k6[0][1] = k6[1][1] = 0x20;
	k6[0][16] = 1;
	k6[0][17] = 128;
	k6[1][17] = 100;
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(row_keys(w, 1, P1, six, 2), STORE_OK);
	assert_int_equal(row_keys(w, 2, P1, &a, 1), STORE_OK);
	assert_int_equal(row_keys(w, 3, P1, &b, 1), STORE_OK);
	/* stale: in no list (rows 1 and 3), of no row (99) */
	assert_int_equal(store_wobs_add(w, 1, &a, 1, P1, 0, 0), STORE_OK);
	assert_int_equal(store_wobs_add(w, 3, &a, 1, P1, 0, 0), STORE_OK);
	assert_int_equal(store_wobs_add(w, 99, &c, 1, P1, 0, 0), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(verify_count_open(st), 3);
	memset(&at, 0, sizeof(at));
	memset(pfx, 0, sizeof(pfx));
	/* an index-only transaction adds and deletes no object */
	assert_int_equal(store_wbegin_obs(st, &w), STORE_OK);
	assert_int_equal(store_wput(w, C1, P1, NULL, 0, 1), STORE_ERR);
	assert_int_equal(
	    store_wdelete(w, C1, "indicator", ka16, 0, match_all, NULL, &nrem),
	    STORE_ERR);
	store_wabort(w);
	do {
		assert_int_equal(store_wbegin_obs(st, &w), STORE_OK);
		assert_int_equal(
		    store_wobs_prune(w, &at, 1, &seen, &removed, pfx),
		    STORE_OK);
		assert_int_equal(store_wcommit(w), STORE_OK);
		assert_true(++slices < 10);
	} while (at.len > 0);
	assert_int_equal(seen, 7);
	assert_int_equal(removed, 3);
	assert_true(pfx[0][0] == (UINT64_C(1) << 32 | UINT64_C(1) << 24));
	assert_true(pfx[0][1] == 0);
	assert_true(pfx[1][0] == 0 && pfx[1][1] == UINT64_C(1) << 36);
	prefixes(st, 2, &lo, &hi);
	assert_true(lo == 0 && hi == UINT64_C(1) << 36);
	assert_int_equal(obs_get(st, &a, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	assert_int_equal(os.row[0].rowid, 2);
	assert_int_equal(obs_get(st, &c, &os), STORE_OK);
	assert_int_equal(os.n, 0);
	assert_int_equal(verify_count_open(st), 0);
	store_close(st);
}

/* A database made before the obs table gets it at open. */
static void
t_obs_table(void **state)
{
	struct store *st = obs_store();
	struct store_wtxn *w;
	unsigned char ka[6];
	struct store_obs_key a = ip4(ka, 10, 0, 0, 1, 32);
	struct obsseen os = {0};

	(void)state;
	store_close(st);
	drop_table("obs");
	drop_table("obsrow");
	assert_int_equal(verify_count(), 0);
	st = open_store();
	assert_int_equal(obs_get(st, &a, &os), STORE_OK);
	assert_int_equal(os.n, 0);
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(row_keys(w, 1, P1, &a, 1), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(obs_get(st, &a, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	store_close(st);
	assert_int_equal(verify_count(), 0);
}

/* --- the delta (obsnew) and its merge into obs --- */

/* A walk of a range: entries counted, each after the one before it. */
struct obswalk {
	int n;
	int disorder;
	size_t len;
	unsigned char key[16];
	uint64_t rowid;
};

static int
on_walk(const unsigned char *key, size_t len, const struct store_obs_row *row,
    void *arg)
{
	struct obswalk *ow = arg;
	int c;

	assert_true(len <= sizeof(ow->key));
	if (ow->n > 0) {
		c = memcmp(ow->key, key, len < ow->len ? len : ow->len);
		if (c == 0)
			c = ow->len < len ? -1 : ow->len > len ? 1 : 0;
		if (c > 0 || (c == 0 && ow->rowid >= row->rowid))
			ow->disorder++;
	}
	memcpy(ow->key, key, len);
	ow->len = len;
	ow->rowid = row->rowid;
	ow->n++;
	return 0;
}

/* Row `rowid` holds 10.0.<rowid>.0 to .39 and 10.9.9.9: 41 entries. */
#define DELTA_KEYS 41
static int
many_keys(struct store_wtxn *w, uint64_t rowid)
{
	static unsigned char kb[DELTA_KEYS][6];
	struct store_obs_item it[DELTA_KEYS];
	struct store_obs_set set;
	int i;

	memset(&set, 0, sizeof(set));
	memset(it, 0, sizeof(it));
	for (i = 0; i < DELTA_KEYS; i++) {
		if (i < DELTA_KEYS - 1)
			v4(kb[i], 10, 0, (unsigned)rowid, (unsigned)i, 32);
		else
			v4(kb[i], 10, 9, 9, 9, 32);
		it[i].key = kb[i];
		it[i].keylen = 6;
	}
	set.valid_until = STORE_OBS_FOREVER;
	set.confidence = 255;
	set.n = DELTA_KEYS;
	set.v = it;
	return store_wobs_row(w, rowid, P1, &set);
}

/* Exactly rows[0..n-1] (in order) hold the shared key, each its own keys
 * once; the whole index is their entries, in order; verify is clean. */
static void
delta_check(struct store *st, const uint64_t *rows, int n)
{
	struct store_stats ss;
	struct obsseen os = {0};
	struct obswalk ow;
	unsigned char kb[6], lo[6], hi[6];
	struct store_obs_key k = v4(kb, 10, 9, 9, 9, 32);
	struct store_obs_key klo = v4(lo, 0, 0, 0, 0, 0);
	struct store_obs_key khi = v4(hi, 255, 255, 255, 255, 32);
	int i, j;

	assert_int_equal(obs_get(st, &k, &os), STORE_OK);
	assert_int_equal(os.n, n);
	for (i = 0; i < n; i++)
		assert_int_equal(os.row[i].rowid, rows[i]);
	for (i = 0; i < n; i++)
		for (j = 0; j < DELTA_KEYS - 1; j += 13) {
			k = v4(kb, 10, 0, (unsigned)rows[i], (unsigned)j, 32);
			assert_int_equal(obs_get(st, &k, &os), STORE_OK);
			assert_int_equal(os.n, 1);
			assert_int_equal(os.row[0].rowid, rows[i]);
		}
	memset(&ow, 0, sizeof(ow));
	{
		struct store_reader *r;

		assert_int_equal(store_reader_new(st, &r), STORE_OK);
		assert_int_equal(store_rbegin(r), STORE_OK);
		assert_int_equal(store_obs_range(r, klo.key, klo.len, khi.key,
				     khi.len, on_walk, &ow),
		    STORE_OK);
		store_rend(r);
		store_reader_free(r);
	}
	assert_int_equal(ow.n, n * DELTA_KEYS);
	assert_int_equal(ow.disorder, 0);
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_int_equal(ss.obs, (uint64_t)n * DELTA_KEYS);
	assert_int_equal(verify_count_open(st), 0);
}

/* Entries are found, in order, wherever they live: obsnew, obs, or a
 * merge half done; a row's entries are removed from either table. */
static void
t_obs_delta(void **state)
{
	static const uint64_t all[3] = {1, 2, 3}, odd[2] = {1, 3};
	struct store *st = obs_store();
	struct store_wtxn *w;
	struct store_stats ss;
	unsigned char kb[6];
	struct store_obs_key shared = v4(kb, 10, 9, 9, 9, 32);
	uint64_t r;

	(void)state;
	/* at 123 entries a merge starts, and moves twice what the commit
	 * wrote (82): the third row's entries stay in obsnew */
	store_set_obs_merge_min(st, 100);
	for (r = 1; r <= 3; r++) {
		assert_int_equal(store_wbegin(st, &w), STORE_OK);
		assert_int_equal(many_keys(w, r), STORE_OK);
		assert_int_equal(store_wcommit(w), STORE_OK);
		delta_check(st, all, (int)r);
	}
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_int_equal(ss.obs_new, DELTA_KEYS);
	merge_all(st);
	delta_check(st, all, 3);
	/* row 2 off obs, then back into obsnew: the shared key's rows
	 * come from both tables, in rowid order */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wobs_row(w, 2, P1, NULL), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	delta_check(st, odd, 2);
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(many_keys(w, 2), STORE_OK);
	/* an entry obs holds already is not written again */
	assert_int_equal(
	    store_wobs_add(w, 3, &shared, 1, P1, 0, STORE_OBS_FOREVER),
	    STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_int_equal(ss.obs_new, DELTA_KEYS);
	delta_check(st, all, 3);
	/* rows 1 (in obs) and 2 (in obsnew) removed together */
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(store_wobs_row(w, 1, P1, NULL), STORE_OK);
	assert_int_equal(store_wobs_row(w, 2, P1, NULL), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	delta_check(st, all + 2, 1);
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_int_equal(ss.obs_new, 0);
	store_close(st);
	/* the merge's position survives a reopen */
	st = open_store();
	delta_check(st, all + 2, 1);
	store_close(st);
}

/* Reindex's prune walks both tables while merges move entries between
 * its slices: every stray entry goes, every sound one stays. */
static void
t_obs_delta_prune(void **state)
{
	static const uint64_t all[3] = {1, 2, 3};
	struct store *st = obs_store();
	struct store_wtxn *w;
	struct store_obs_resume at;
	struct store_stats ss;
	unsigned char kb[6];
	struct store_obs_key k;
	uint64_t seen = 0, removed = 0, pfx[2][2];
	int i, slices = 0;

	(void)state;
	store_set_obs_merge_min(st, 1000);
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	for (i = 1; i <= 3; i++)
		assert_int_equal(many_keys(w, (uint64_t)i), STORE_OK);
	/* strays: row 1 under row 2's keys, row 99 (none) */
	for (i = 0; i < 5; i++) {
		k = v4(kb, 10, 0, 2, (unsigned)i, 32);
		assert_int_equal(
		    store_wobs_add(w, 1, &k, 1, P1, 0, 0), STORE_OK);
	}
	k = v4(kb, 10, 0, 3, 200, 32);
	assert_int_equal(store_wobs_add(w, 99, &k, 1, P1, 0, 0), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	/* 129 entries, 9 an empty commit: three of row 1's strays into obs,
	 * two and row 99's not */
	store_set_obs_merge_min(st, 16);
	for (i = 0; i < 5; i++) {
		assert_int_equal(store_wbegin(st, &w), STORE_OK);
		assert_int_equal(store_wcommit(w), STORE_OK);
	}
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_int_equal(ss.obs_new, 3 * DELTA_KEYS + 6 - 45);
	assert_int_equal(verify_count_open(st), 6);
	memset(&at, 0, sizeof(at));
	memset(pfx, 0, sizeof(pfx));
	do {
		assert_int_equal(store_wbegin_obs(st, &w), STORE_OK);
		assert_int_equal(
		    store_wobs_prune(w, &at, 7, &seen, &removed, pfx),
		    STORE_OK);
		assert_int_equal(store_wcommit(w), STORE_OK);
		assert_true(++slices < 100);
	} while (at.len > 0);
	assert_int_equal(removed, 6);
	assert_true(seen >= 3 * DELTA_KEYS + 6);
	assert_true(pfx[0][0] == UINT64_C(1) << 32);
	delta_check(st, all, 3);
	store_close(st);
}

/* An entry in both tables (none of the store's writes makes one): verify
 * reports it, a lookup lists it once, the merge folds the two. */
static void
t_obs_both(void **state)
{
	struct store *st = obs_store();
	struct store_wtxn *w;
	struct store_stats ss;
	struct obsseen os = {0};
	unsigned char ka[6];
	struct store_obs_key a = v4(ka, 10, 0, 0, 1, 32);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dnew, dmain;
	MDB_val k, d;

	(void)state;
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	assert_int_equal(row_keys(w, 1, P1, &a, 1), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	store_close(st);
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 16);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "obsnew", 0, &dnew), 0);
	assert_int_equal(mdb_dbi_open(txn, "obs", 0, &dmain), 0);
	k.mv_size = a.len;
	k.mv_data = ka;
	assert_int_equal(mdb_get(txn, dnew, &k, &d), 0);
	assert_int_equal(mdb_put(txn, dmain, &k, &d, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(verify_count(), 1);
	st = open_store();
	assert_int_equal(obs_get(st, &a, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	assert_int_equal(os.row[0].rowid, 1);
	merge_all(st);
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_int_equal(ss.obs, 1);
	assert_int_equal(obs_get(st, &a, &os), STORE_OK);
	assert_int_equal(os.n, 1);
	assert_int_equal(verify_count_open(st), 0);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(t_add_and_walk, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		t_dedup_and_collections, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_versions, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_id_index_merge, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		t_id_index_merge_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_status, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_registry, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_ownership, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		t_limits_per_producer, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_remark, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_damage, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		t_damage_entry_row, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_map_growth, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		t_map_resized_elsewhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_stale_readers, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_audit_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_gone_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_gone_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_subs, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		t_gone_subs_tables, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_obs_index, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_obs_damage, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		t_obs_damage_merged, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_obs_delta, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_obs_delta_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_obs_both, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_obs_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_obs_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_obs_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_obs_rows_damage, setup, teardown),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
