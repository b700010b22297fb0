/*
 * bench_obs.c -- the observable index's write rate: N observable keys
 * (half random IPv4 addresses, half random domain names in reversed-label
 * form) listed one row each as ingest lists a new row's (store_obs_put:
 * into the delta obsnew, merged into obs at commit), in durable
 * transactions of T keys, into a fresh database; printed beside the same
 * count of increasing keys (IPv4 addresses in order: the appended case)
 * measured in the same run, and with each transaction's keys sorted.
 * Also prints the CPU per key and the bytes per entry: the obs table's
 * pages, and the database file, over the entries.
 *
 * With -l L, after the random run, the read side too: L lookups of keys
 * it stored, L of keys it did not, and L IPv4 addresses looked up at
 * every prefix length (the ranges that hold them), in read transactions
 * of 10,000 lookups.
 *
 * Orders D and d are an experiment in plain LMDB (no store, no CRC): the
 * random keys put straight into one table (D), or into a delta table that
 * is moved whole into the main one, in sorted order, whenever it holds
 * max(50,000, 1/16 of the main table) entries (d): whether a delta gives
 * random keys the locality they lack.
 *
 * usage: bench_obs [-n N] [-t T] [-w W] [-o irsDd] [-l L] [-m M] [-d DIR]
 *   N keys (default 1000000), T keys per transaction (default 1000),
 *   W random keys put in first, untimed, in transactions of 100,000 (an
 *   index that already holds W: default 0), the orders to run (i
 *   increasing, r random, s random sorted per transaction: default all),
 *   M the least size of obsnew a merge starts at (store_set_obs_merge_min;
 *   default the store's), DIR where the scratch databases are made
 *   (default /var/tmp)
 */
#include <sys/resource.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "ctihub/store.h"

#include "../../common/store_int.h" /* store_obs_put: ingest's write */
#include "bench.h"

#define KEYLEN 24 /* type, up to 22 bytes, length in the last byte */

enum order { RANDOM, SORTED, INCREASING };

struct run {
	double secs, cpu;
	uint64_t entries, file_bytes, table_bytes;
	size_t nlook;
	double hit_rate, miss_rate, cidr_rate; /* lookups a second */
	uint64_t hits;
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t merge_min; /* 0: the store's default */

static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double
cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Key i of a run: k gets the bytes, k[KEYLEN - 1] the length. */
static void
make_key(unsigned char *k, size_t i, enum order o)
{
	static const char tld[][4] = {"com", "net", "org", "ru", "br", "cn"};
	size_t n, j;

	if (o == INCREASING || i % 2 == 0) {
		uint32_t a = o == INCREASING ? (uint32_t)(0x0a000000u + i)
					     : (uint32_t)next_rand();

		k[0] = 4; /* ipv4 */
		k[1] = (unsigned char)(a >> 24);
		k[2] = (unsigned char)(a >> 16);
		k[3] = (unsigned char)(a >> 8);
		k[4] = (unsigned char)a;
		k[5] = 32;
		k[KEYLEN - 1] = 6;
		return;
	}
	k[0] = 2; /* domain-name, labels reversed: "com.example" */
	memcpy(k + 1, tld[next_rand() % 6], 4);
	n = 1 + strlen((char *)k + 1);
	k[n++] = '.';
	for (j = 6 + next_rand() % 10; j > 0; j--)
		k[n++] = (unsigned char)('a' + next_rand() % 26);
	k[KEYLEN - 1] = (unsigned char)n;
}

static int
cmp_key(const void *a, const void *b)
{
	const unsigned char *x = a, *y = b;
	size_t lx = x[KEYLEN - 1], ly = y[KEYLEN - 1];
	int c = memcmp(x, y, lx < ly ? lx : ly);

	return c != 0 ? c : (lx > ly) - (lx < ly);
}

/* The pages of obs and obsnew, read with LMDB after the store is
 * closed. */
static uint64_t
table_bytes(const char *dir)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat ms;
	uint64_t b = 0;

	if (mdb_env_create(&env) != 0)
		return 0;
	mdb_env_set_maxdbs(env, 16);
	if (mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600) == 0 &&
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
		if (mdb_dbi_open(txn, "obs", 0, &dbi) == 0 &&
		    mdb_stat(txn, dbi, &ms) == 0)
			b = (uint64_t)ms.ms_psize *
			    (ms.ms_branch_pages + ms.ms_leaf_pages +
				ms.ms_overflow_pages);
		if (mdb_dbi_open(txn, "obsnew", 0, &dbi) == 0 &&
		    mdb_stat(txn, dbi, &ms) == 0)
			b += (uint64_t)ms.ms_psize *
			    (ms.ms_branch_pages + ms.ms_leaf_pages +
				ms.ms_overflow_pages);
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return b;
}

/* Keys [from, from + n) of order o, in transactions of t. */
static int
fill(struct store *st, unsigned char (*keys)[KEYLEN], size_t from, size_t n,
    size_t t, enum order o)
{
	struct store_wtxn *w;
	struct store_obs_key ok;
	size_t i, j, m;

	for (i = from; i < from + n; i += m) {
		m = from + n - i < t ? from + n - i : t;
		for (j = 0; j < m; j++)
			make_key(keys[j], i + j, o);
		if (o == SORTED)
			qsort(keys, m, KEYLEN, cmp_key);
		if (store_wbegin(st, &w) != STORE_OK)
			return -1;
		for (j = 0; j < m; j++) {
			ok.key = keys[j];
			ok.len = keys[j][KEYLEN - 1];
			if (store_obs_put(w, i + j + 1, &ok, 1, 17,
				STORE_OBS_F_PATTERN, STORE_OBS_FOREVER) != 0) {
				store_wabort(w);
				return -1;
			}
		}
		if (store_wcommit(w) != STORE_OK)
			return -1;
	}
	return 0;
}

/* Order D (delta 0) or d (delta 1): see the head of the file. */
static int
raw_run(const char *base, size_t warm, size_t n, size_t t, int delta,
    struct run *out)
{
	char dir[4096], cmd[4200];
	unsigned char k[KEYLEN], e[25];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi main_db, delta_db;
	MDB_cursor *c;
	MDB_stat ms, md;
	MDB_val kv, dv;
	size_t i, j, m, tt;
	double t0, c0;
	int rc = 0, timed;

	snprintf(dir, sizeof(dir), "%s/bench_obs.XXXXXX", base);
	if (mkdtemp(dir) == NULL || mdb_env_create(&env) != 0)
		return -1;
	mdb_env_set_mapsize(env, 8ULL << 30);
	mdb_env_set_maxdbs(env, 4);
	if (mdb_env_open(env, dir, MDB_NOTLS, 0600) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, "main", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
		&main_db) != 0 ||
	    mdb_dbi_open(txn, "delta", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
		&delta_db) != 0 ||
	    mdb_txn_commit(txn) != 0)
		return -1;
	memset(e, 0, sizeof(e));
	t0 = c0 = 0;
	for (timed = 0; timed < 2; timed++) {
		size_t from = timed ? warm : 0, cnt = timed ? n : warm;

		tt = timed ? t : 100000;
		if (timed) {
			t0 = bench_now();
			c0 = cpu_now();
		}
		for (i = from; i < from + cnt && rc == 0; i += m) {
			m = from + cnt - i < tt ? from + cnt - i : tt;
			if (mdb_txn_begin(env, NULL, 0, &txn) != 0)
				return -1;
			for (j = 0; j < m && rc == 0; j++) {
				make_key(k, i + j, RANDOM);
				kv.mv_size = k[KEYLEN - 1];
				kv.mv_data = k;
				e[0] = (unsigned char)((i + j) >> 24);
				e[1] = (unsigned char)((i + j) >> 16);
				e[2] = (unsigned char)((i + j) >> 8);
				e[3] = (unsigned char)(i + j);
				dv.mv_size = sizeof(e);
				dv.mv_data = e;
				rc = mdb_put(txn,
				    timed && delta ? delta_db : main_db, &kv,
				    &dv, MDB_NODUPDATA);
				if (rc == MDB_KEYEXIST)
					rc = 0;
			}
			if (rc == 0 && timed && delta &&
			    mdb_stat(txn, main_db, &ms) == 0 &&
			    mdb_stat(txn, delta_db, &md) == 0 &&
			    md.ms_entries >= 50000 &&
			    md.ms_entries >= ms.ms_entries / 16) {
				/* move the delta into the main table in key
				 * order, then empty it */
				if (mdb_cursor_open(txn, delta_db, &c) != 0)
					return -1;
				for (rc =
					 mdb_cursor_get(c, &kv, &dv, MDB_FIRST);
				     rc == 0; rc = mdb_cursor_get(
						  c, &kv, &dv, MDB_NEXT)) {
					rc = mdb_put(txn, main_db, &kv, &dv,
					    MDB_NODUPDATA);
					if (rc != 0 && rc != MDB_KEYEXIST)
						break;
				}
				mdb_cursor_close(c);
				if (rc == MDB_NOTFOUND)
					rc = mdb_drop(txn, delta_db, 0);
			}
			if (rc != 0 || mdb_txn_commit(txn) != 0) {
				fprintf(stderr, "bench_obs: %s\n",
				    mdb_strerror(rc));
				return -1;
			}
		}
	}
	out->secs = bench_now() - t0;
	out->cpu = cpu_now() - c0;
	out->entries = warm + n;
	out->table_bytes = out->file_bytes = 0;
	mdb_env_close(env);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_obs: could not remove %s\n", dir);
	return 0;
}

static int
count_row(const unsigned char *key, size_t len, const struct store_obs_row *row,
    void *arg)
{
	(void)key;
	(void)len;
	(void)row;
	(*(uint64_t *)arg)++;
	return 0;
}

/*
 * L lookups of keys made as make_key makes keys from `from` on, starting
 * from rng state `seed` (kind 0), of fresh random keys (kind 1), or of
 * random IPv4 addresses at each of the 33 prefix lengths (kind 2); a
 * read transaction per 10,000.  Lookups a second, or -1.
 */
static double
lookups(struct store *st, size_t from, size_t l, uint64_t seed, int kind,
    uint64_t *rows)
{
	struct store_reader *r;
	unsigned char k[KEYLEN];
	size_t i;
	uint32_t a, m;
	int p;
	double t0;

	if (store_reader_new(st, &r) != STORE_OK)
		return -1;
	if (kind == 0)
		rng = seed;
	t0 = bench_now();
	for (i = 0; i < l; i++) {
		if (i % 10000 == 0) {
			store_rend(r);
			if (store_rbegin(r) != STORE_OK)
				return -1;
		}
		if (kind != 2) {
			make_key(k, from + i, RANDOM);
			if (store_obs_get(
				r, k, k[KEYLEN - 1], count_row, rows) < 0)
				return -1;
			continue;
		}
		a = (uint32_t)next_rand();
		for (p = 0; p <= 32; p++) {
			m = p == 0 ? 0 : 0xffffffffu << (32 - p);
			k[0] = 4;
			k[1] = (unsigned char)((a & m) >> 24);
			k[2] = (unsigned char)((a & m) >> 16);
			k[3] = (unsigned char)((a & m) >> 8);
			k[4] = (unsigned char)(a & m);
			k[5] = (unsigned char)p;
			if (store_obs_get(r, k, 6, count_row, rows) < 0)
				return -1;
		}
	}
	t0 = bench_now() - t0;
	store_rend(r);
	store_reader_free(r);
	return l / t0;
}

static int
run(const char *base, size_t warm, size_t n, size_t t, enum order o,
    struct run *out)
{
	char dir[4096], err[256], cmd[4200];
	struct store *st;
	struct store_stats ss;
	unsigned char(*keys)[KEYLEN];
	size_t big = t > 100000 ? t : 100000;
	double t0, c0;
	uint64_t seed, after, none = 0;

	snprintf(dir, sizeof(dir), "%s/bench_obs.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return -1;
	}
	if ((keys = malloc(big * KEYLEN)) == NULL ||
	    store_open(&st, dir, 8ULL << 30, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "bench_obs: %s\n", err);
		return -1;
	}
	if (merge_min > 0)
		store_set_obs_merge_min(st, merge_min);
	if (fill(st, keys, 0, warm, 100000, RANDOM) == -1)
		return -1;
	seed = rng;
	t0 = bench_now();
	c0 = cpu_now();
	if (fill(st, keys, warm, n, t, o) == -1)
		return -1;
	out->secs = bench_now() - t0;
	out->cpu = cpu_now() - c0;
	if (out->nlook > 0 && o == RANDOM) {
		after = rng;
		out->hits = 0;
		out->hit_rate = lookups(st, warm,
		    out->nlook < n ? out->nlook : n, seed, 0, &out->hits);
		rng = after;
		out->miss_rate = lookups(st, 0, out->nlook, 0, 1, &none);
		out->cidr_rate = lookups(st, 0, out->nlook, 0, 2, &none);
	}
	store_stats(st, &ss);
	out->entries = ss.obs;
	out->file_bytes = ss.map_used;
	store_close(st);
	out->table_bytes = table_bytes(dir);
	free(keys);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_obs: could not remove %s\n", dir);
	return 0;
}

static void
print_lookups(const struct run *r)
{
	printf("lookups in read transactions of 10,000: %.0f/s of stored "
	       "keys (%llu rows found), %.0f/s of absent keys, %.0f IPv4 "
	       "addresses/s at all 33 prefix lengths\n",
	    r->hit_rate, (unsigned long long)r->hits, r->miss_rate,
	    r->cidr_rate);
}

static void
print(const char *what, size_t n, const struct run *r)
{
	printf("%-36s %9.0f keys/s  %5.2f us CPU/key  %5.1f B/entry in "
	       "the table, %5.1f B/entry in the file (%llu entries)\n",
	    what, n / r->secs, r->cpu * 1e6 / n,
	    (double)r->table_bytes / r->entries,
	    (double)r->file_bytes / r->entries, (unsigned long long)r->entries);
}

int
main(int argc, char **argv)
{
	const char *dir = "/var/tmp", *orders = "irs";
	size_t n = 1000000, t = 1000, warm = 0, nlook = 0;
	struct run r = {0};
	int ch;

	while ((ch = getopt(argc, argv, "n:t:w:o:l:m:d:")) != -1) {
		switch (ch) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 't':
			t = strtoul(optarg, NULL, 10);
			break;
		case 'w':
			warm = strtoul(optarg, NULL, 10);
			break;
		case 'o':
			orders = optarg;
			break;
		case 'l':
			nlook = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			merge_min = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			dir = optarg;
			break;
		default:
			fprintf(stderr,
			    "usage: bench_obs [-n N] [-t T] [-w W] "
			    "[-o irsDd] [-l L] [-m M] [-d DIR]\n");
			return 2;
		}
	}
	if (n == 0 || t == 0)
		return 2;
	printf("observable index: %zu keys, durable transactions of %zu, "
	       "after %zu random keys\n",
	    n, t, warm);
	if (strchr(orders, 'i') != NULL) {
		if (run(dir, warm, n, t, INCREASING, &r) == -1)
			return 1;
		print("increasing IPv4 (reference)", n, &r);
	}
	if (strchr(orders, 'r') != NULL) {
		r.nlook = nlook;
		if (run(dir, warm, n, t, RANDOM, &r) == -1)
			return 1;
		print("random IPv4 and domains", n, &r);
		if (nlook > 0)
			print_lookups(&r);
		r.nlook = 0;
	}
	if (strchr(orders, 'D') != NULL) {
		if (raw_run(dir, warm, n, t, 0, &r) == -1)
			return 1;
		printf("%-36s %9.0f keys/s  %5.2f us CPU/key\n",
		    "plain LMDB, one table", n / r.secs, r.cpu * 1e6 / n);
	}
	if (strchr(orders, 'd') != NULL) {
		if (raw_run(dir, warm, n, t, 1, &r) == -1)
			return 1;
		printf("%-36s %9.0f keys/s  %5.2f us CPU/key\n",
		    "plain LMDB, delta moved at 1/16", n / r.secs,
		    r.cpu * 1e6 / n);
	}
	if (strchr(orders, 's') != NULL) {
		if (run(dir, warm, n, t, SORTED, &r) == -1)
			return 1;
		print("random, sorted per transaction", n, &r);
	}
	return 0;
}
