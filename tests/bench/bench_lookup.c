/*
 * bench_lookup.c -- the lookup core's batch time (lookup.h): a store of R
 * indicator rows (GREEN, one collection) and N observable keys in the
 * index (half random IPv4 addresses, half random domain names, each
 * listed under a row), then batches of B values (a tenth of them stored,
 * the rest misses; half addresses, half domains) looked up as a member,
 * each batch in one read transaction.  Printed beside the reference
 * measured in the same run: the same B keys read with store_obs_get
 * alone (one probe each, no policy).  The prefix lengths probed for an
 * address are store_obs_prefixes' (every length, 33, until the index
 * keeps its bitmap; then the lengths present).
 *
 * usage: bench_lookup [-n N] [-r R] [-b B] [-k K] [-d DIR] [-v V] [-s S]
 *   N keys (default 1000000), R rows (default 100000), B values a batch
 *   (default 10000), K batches (default 5), DIR for the scratch database
 *   (default /var/tmp); every value V instead (-b 1 -v 0.0.0.0/1: the
 *   most rows one request may make it decide), max_scan S (50000, the default)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctihub/lookup.h"
#include "ctihub/marking.h"
#include "ctihub/member.h"
#include "ctihub/observable.h"
#include "ctihub/stix.h"
#include "ctihub/store.h"
#include "ctihub/view.h"

#include "bench.h"

#define TOK "00000000000000000000000000000000000000000000000000000000000000aa"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Value i's text (i even: an address, odd: a domain), from seed s. */
static void
value_text(char *out, size_t len, uint64_t s, size_t i)
{
	uint64_t save = rng;

	rng = s * 0x9e3779b97f4a7c15ULL + i + 1;
	next_rand();
	if (i % 2 == 0) {
		uint32_t a = (uint32_t)next_rand();

		snprintf(out, len, "%u.%u.%u.%u", 1 + (a >> 24) % 223,
		    (a >> 16) & 255, (a >> 8) & 255, a & 255);
	} else
		snprintf(out, len, "h%llx.example%u.com",
		    (unsigned long long)(next_rand() & 0xffffffffffULL),
		    (unsigned)(next_rand() % 1000));
	rng = save;
}

static int
count_row(const unsigned char *key, size_t len, const struct store_obs_row *row,
    void *arg)
{
	(void)key;
	(void)len;
	(void)row;
	(*(size_t *)arg)++;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct obs o;
	const char *dir = "/var/tmp", *only = NULL;
	size_t n = 1000000, rows = 100000, batch = 10000, k = 5, i, j;
	char path[256], err[256], cmd[300], txt[128];
	struct store *st;
	struct store_reader *r;
	struct store_wtxn *w;
	struct members *ms;
	struct cfg_errs errs;
	uint64_t *rowid;
	struct lookup_in *in;
	char(*vals)[128];
	double t0, best = 1e9, ref = 1e9, sum = 0;
	size_t nref = 0, scan = 50000;
	int c, hits = 0;
	static const char mtext[] =
	    "member alice {\n\tname \"a\"\n\tcountry BR\n\troles publisher "
	    "subscriber\n\ttoken sha256$" TOK "\n}\nmember erin {\n\tname "
	    "\"e\"\n\tcountry MX\n\troles subscriber\n\ttoken sha256$" TOK
	    "\n}\n";
	const struct lookup_coll coll = {100, "bench"};

	while ((c = getopt(argc, argv, "n:r:b:k:d:v:s:")) != -1)
		switch (c) {
		case 'n':
			n = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			rows = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			batch = strtoull(optarg, NULL, 10);
			break;
		case 'k':
			k = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'v':
			only = optarg;
			break;
		case 's':
			scan = strtoull(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
			    "usage: bench_lookup [-n N] [-r R] "
			    "[-b B] [-k K] [-d DIR]\n");
			return 2;
		}
	if (rows == 0 || batch == 0)
		return 2;
	snprintf(path, sizeof(path), "%s/bench_lookup.XXXXXX", dir);
	if (mkdtemp(path) == NULL ||
	    store_open(&st, path, 1ULL << 36, err, sizeof(err)) != STORE_OK ||
	    store_reader_new(st, &r) != STORE_OK) {
		fprintf(stderr, "bench_lookup: %s: cannot open\n", path);
		return 1;
	}
	memset(&errs, 0, sizeof(errs));
	if (members_parse("m", mtext, strlen(mtext), &ms, &errs) != 0) {
		fprintf(stderr, "bench_lookup: %s\n",
		    errs.n > 0 ? errs.v[0] : "members");
		return 1;
	}
	rowid = calloc(rows, sizeof(*rowid));
	in = calloc(batch, sizeof(*in));
	vals = calloc(batch, sizeof(*vals));
	if (rowid == NULL || in == NULL || vals == NULL)
		return 1;
	/* the rows */
	for (i = 0; i < rows; i += 10000) {
		size_t m = rows - i < 10000 ? rows - i : 10000;
		struct store_obj *ob = calloc(m, sizeof(*ob));
		char(*js)[160] = calloc(m, 160), (*ids)[64] = calloc(m, 64);

		if (ob == NULL || js == NULL || ids == NULL ||
		    store_wbegin(st, &w) != STORE_OK)
			return 1;
		for (j = 0; j < m; j++) {
			snprintf(ids[j], 64,
			    "indicator--%08zx-0000-4000-8000-000000000000",
			    i + j);
			snprintf(js[j], 160,
			    "{\"id\":\"%s\",\"confidence\":%zu,"
			    "\"valid_from\":\"2024-01-01T00:00:00Z\"}",
			    ids[j], (i + j) % 101);
			ob[j].json = js[j];
			ob[j].jsonlen = strlen(js[j]);
			ob[j].id = ids[j];
			ob[j].idlen = strlen(ids[j]);
			stix_parse_id(ids[j], NULL, 0, ob[j].uuid);
			ob[j].version = 1000;
			ob[j].tlp = TLP_GREEN;
		}
		if (store_wput(w, coll.code, members_find(ms, "alice")->code,
			ob, m, (int64_t)(1700000000000000 + i)) != STORE_OK ||
		    store_wcommit(w) != STORE_OK)
			return 1;
		store_rbegin(r);
		for (j = 0; j < m; j++) {
			struct store_entry e;

			if (store_entry_get(
				r, coll.code, ob[j].date_added, &e) == STORE_OK)
				rowid[i + j] = e.rowid;
		}
		store_rend(r);
		free(ob);
		free(js);
		free(ids);
	}
	/* the index, in transactions of 100,000 */
	t0 = bench_now();
	for (i = 0; i < n; i++) {
		struct store_obs_key key;

		if (i % 100000 == 0 && store_wbegin(st, &w) != STORE_OK)
			return 1;
		value_text(txt, sizeof(txt), 1, i);
		if (obs_normalise(OBS_NONE, txt, strlen(txt), &o, NULL, 0) != 0)
			continue;
		key.key = o.key;
		key.len = o.keylen;
		if (store_wobs_add(w, rowid[i % rows], &key, 1,
			members_find(ms, "alice")->code, STORE_OBS_F_PATTERN,
			STORE_OBS_FOREVER) != STORE_OK)
			return 1;
		if ((i + 1) % 100000 == 0 || i + 1 == n)
			if (store_wcommit(w) != STORE_OK)
				return 1;
	}
	printf("bench_lookup: %zu keys over %zu rows indexed in %.1f s\n", n,
	    rows, bench_now() - t0);
	for (c = 0; c < (int)k; c++) {
		struct lookup_opts op;
		struct view_ctx vc;
		struct lookup *lk;
		const struct lookup_result *res;
		int nr;

		for (i = 0; i < batch; i++) {
			/* a tenth stored (keys < n), the rest misses */
			size_t at = next_rand() % 10 == 0
			    ? (size_t)(next_rand() % (n ? n : 1))
			    : n + (size_t)(next_rand() % 1000000000);

			value_text(vals[i], sizeof(vals[i]), 1, at);
			if (only != NULL)
				snprintf(vals[i], sizeof(vals[i]), "%s", only);
			in[i].value = vals[i];
			in[i].len = strlen(vals[i]);
			in[i].type = OBS_NONE;
		}
		memset(&op, 0, sizeof(op));
		op.now = 1800000000000000;
		op.max_matches = 100;
		op.max_scan = scan;
		op.members = ms;
		memset(&vc, 0, sizeof(vc));
		vc.r = r;
		vc.reader = members_find(ms, "erin");
		store_rbegin(r);
		t0 = bench_now();
		if (lookup_run(&vc, &coll, 1, in, (int)batch, &op, &lk) !=
		    STORE_OK)
			return 1;
		t0 = bench_now() - t0;
		res = lookup_results(lk, &nr);
		for (i = 0, hits = 0; i < (size_t)nr; i++)
			hits += res[i].count > 0;
		lookup_free(lk);
		store_rend(r);
		sum += t0;
		if (t0 < best)
			best = t0;
		/* the reference: one store_obs_get per value, nothing else */
		store_rbegin(r);
		{
			double t1 = bench_now();

			for (i = 0; i < batch; i++)
				if (obs_normalise(OBS_NONE, in[i].value,
					in[i].len, &o, NULL, 0) == 0)
					store_obs_get(r, o.key, o.keylen,
					    count_row, &nref);
			t1 = bench_now() - t1;
			if (t1 < ref)
				ref = t1;
		}
		store_rend(r);
	}
	printf("bench_lookup: batch of %zu values (%d found): best %.1f ms, "
	       "mean %.1f ms; reference (normalise + one store_obs_get "
	       "each): %.1f ms\n",
	    batch, hits, best * 1000, sum / (double)k * 1000, ref * 1000);
	store_reader_free(r);
	store_close(st);
	members_free(ms);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", path);
	if (system(cmd) != 0)
		return 1;
	free(rowid);
	free(in);
	free(vals);
	return 0;
}
