/*
 * cli_reindex.c -- ctihub reindex: rebuilds the observable index beside a
 * running hub, in short write transactions (LMDB's writer lock takes
 * turns with the hub's writer).  Pass 1 walks the object rows in rowid
 * order, extracts each row's observables again the way ingest does
 * (obs_set_build) and replaces the row's (store_wobs_row); pass 2 walks
 * the index and removes entries no row's list holds; then the IP prefix
 * bitmaps are set to what the index holds.  Rows stored by the hub while
 * it runs are indexed by the hub itself.  Exit status 0 when done, 1 on
 * a database error, 2 on a usage or configuration error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/obs_set.h"
#include "ctihub/store.h"

#include "cli.h"

#define SLICE_DEFAULT 2000
#define SLICE_MAX     1000000

struct row {
	uint64_t rowid;
	uint32_t producer;
	struct store_obs_set *set; /* NULL: none */
};

struct reindex {
	struct store *st;
	struct store_reader *r;
	int slice;
	int max_obs; /* max_observables, as ingest */
	struct row *rows;
	uint64_t nrows, with, items, gone, failed;
};

static int read_slice(struct reindex *, uint64_t *after, int *n, int *end);
static int write_slice(struct reindex *, int n);
static int pass_rows(struct reindex *);
static int pass_index(struct reindex *, uint64_t *seen, uint64_t *removed);

/* Up to `slice` rows after *after, their observables built (outside any
 * write transaction); *end when the last row was read. */
static int
read_slice(struct reindex *ri, uint64_t *after, int *n, int *end)
{
	struct store_objview ov;
	uint64_t rowid;
	json_t *j;
	int rc;

	*n = 0;
	*end = 0;
	if ((rc = store_rbegin(ri->r)) != STORE_OK)
		return rc;
	while (*n < ri->slice &&
	    (rc = store_obj_next(ri->r, *after, &rowid)) == STORE_OK) {
		struct row *w = &ri->rows[*n];

		*after = rowid;
		if ((rc = store_obj_get(ri->r, rowid, &ov)) != STORE_OK) {
			/* damaged: verify reports it; its list stays */
			ri->failed++;
			continue;
		}
		w->rowid = rowid;
		w->producer = ov.producer;
		w->set = NULL;
		j = json_loadb(ov.json, ov.jsonlen, 0, NULL);
		if (j == NULL) {
			ri->failed++;
			continue;
		}
		rc = obs_set_build(j, NULL, ri->max_obs, &w->set);
		json_decref(j);
		if (rc == -1) {
			store_rend(ri->r);
			fprintf(stderr, "ctihub reindex: out of memory\n");
			return STORE_ERR;
		}
		(*n)++;
	}
	store_rend(ri->r);
	if (rc == STORE_ENOTFOUND)
		*end = 1;
	return rc == STORE_ENOTFOUND || rc == STORE_OK ? STORE_OK : rc;
}

static int
write_slice(struct reindex *ri, int n)
{
	struct store_wtxn *w;
	int i, rc = STORE_OK;

	if ((rc = store_wbegin_obs(ri->st, &w)) != STORE_OK)
		return rc;
	for (i = 0; i < n && rc == STORE_OK; i++) {
		rc = store_wobs_row(w, ri->rows[i].rowid, ri->rows[i].producer,
		    ri->rows[i].set);
		if (rc == STORE_ENOTFOUND) {
			ri->gone++; /* deleted since it was read */
			rc = STORE_OK;
			continue;
		}
		if (rc != STORE_OK)
			break;
		ri->nrows++;
		if (ri->rows[i].set != NULL) {
			ri->with++;
			ri->items += (uint64_t)ri->rows[i].set->n;
		}
	}
	if (rc != STORE_OK) {
		store_wabort(w);
		return rc;
	}
	return store_wcommit(w);
}

static int
pass_rows(struct reindex *ri)
{
	uint64_t after = 0;
	int n, i, rc, end;

	do {
		if ((rc = read_slice(ri, &after, &n, &end)) == STORE_OK &&
		    n > 0)
			rc = write_slice(ri, n);
		for (i = 0; i < n; i++)
			hub_free(ri->rows[i].set);
	} while (rc == STORE_OK && !end);
	return rc;
}

static int
pass_index(struct reindex *ri, uint64_t *seen, uint64_t *removed)
{
	struct store_obs_resume at;
	struct store_wtxn *w;
	uint64_t pfx[2][2];
	int rc;

	memset(&at, 0, sizeof(at));
	memset(pfx, 0, sizeof(pfx));
	do {
		if ((rc = store_wbegin_obs(ri->st, &w)) != STORE_OK)
			return rc;
		rc = store_wobs_prune(w, &at, ri->slice, seen, removed, pfx);
		if (rc != STORE_OK) {
			store_wabort(w);
			return rc;
		}
		if ((rc = store_wcommit(w)) != STORE_OK)
			return rc;
	} while (at.len > 0);
	/* the bitmaps: lengths the walk did not meet are checked again
	 * against the index as it is now */
	if ((rc = store_wbegin_obs(ri->st, &w)) != STORE_OK)
		return rc;
	if ((rc = store_wobs_prefixes(w, 1, pfx[0][0], pfx[0][1])) !=
		STORE_OK ||
	    (rc = store_wobs_prefixes(w, 2, pfx[1][0], pfx[1][1])) !=
		STORE_OK) {
		store_wabort(w);
		return rc;
	}
	return store_wcommit(w);
}

int
cmd_reindex(int argc, char **argv)
{
	struct reindex ri;
	struct conf *c;
	uint64_t seen = 0, removed = 0;
	char *end;
	long v;
	int i, rc;

	memset(&ri, 0, sizeof(ri));
	ri.slice = SLICE_DEFAULT;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			i++;
		else if (strcmp(argv[i], "--slice") == 0 && i + 1 < argc) {
			v = strtol(argv[++i], &end, 10);
			if (*end != '\0' || v < 1 || v > SLICE_MAX)
				goto usage;
			ri.slice = (int)v;
		} else
			goto usage;
	}
	if ((c = cli_load_conf(cli_conf_path(argc, argv))) == NULL)
		return 2;
	if (!c->index_observables)
		printf("note: index_observables is no: the hub does not index "
		       "what it stores from now on\n");
	ri.max_obs = (int)c->max_observables;
	if ((ri.st = cli_open_store(c, "reindex")) == NULL) {
		conf_free(c);
		return 1;
	}
	conf_free(c);
	if ((ri.rows = hub_calloc((size_t)ri.slice, sizeof(*ri.rows))) ==
		NULL ||
	    store_reader_new(ri.st, &ri.r) != STORE_OK) {
		fprintf(stderr, "ctihub reindex: out of memory\n");
		rc = STORE_ERR;
	} else if ((rc = pass_rows(&ri)) == STORE_OK)
		rc = pass_index(&ri, &seen, &removed);
	store_reader_free(ri.r);
	hub_free(ri.rows);
	store_close(ri.st);
	printf("%llu rows, %llu with observables (%llu), %llu deleted "
	       "meanwhile, %llu unreadable; %llu index entries checked, "
	       "%llu stale removed\n",
	    (unsigned long long)ri.nrows, (unsigned long long)ri.with,
	    (unsigned long long)ri.items, (unsigned long long)ri.gone,
	    (unsigned long long)ri.failed, (unsigned long long)seen,
	    (unsigned long long)removed);
	if (rc != STORE_OK) {
		fprintf(stderr, "ctihub reindex: stopped: %s\n",
		    rc == STORE_EFULL ? "the database is full" : "store error");
		return 1;
	}
	printf("reindex done\n");
	return 0;
usage:
	fprintf(stderr, "usage: ctihub reindex [-c file] [--slice N]\n");
	return 2;
}
