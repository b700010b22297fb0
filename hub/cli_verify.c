/*
 * cli_verify.c -- ctihub verify: walks the pages of the database in a
 * child process (store_check), then the whole database in one read
 * transaction (safe beside a running hub), and reports every record that
 * fails its checksum or its lengths and every index entry whose row or
 * counterpart is missing (store_verify).  Exit status 0 when the
 * database is sound, 1 when it is damaged (or cannot be opened), 2 on a
 * usage or configuration error.
 */
#include <stdio.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/store.h"

#include "cli.h"

#define SHOWN 50 /* problems printed; all are counted */

static void
print_problem(const char *what, void *arg)
{
	(void)arg;
	printf("damaged: %s\n", what);
}

int
cmd_verify(int argc, char **argv)
{
	struct store_verify v;
	struct store *st;
	struct conf *c;
	char err[512], *db;
	int i, rc;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			i++;
		else {
			fprintf(stderr, "usage: ctihub verify [-c file]\n");
			return 2;
		}
	if ((c = cli_load_conf(cli_conf_path(argc, argv))) == NULL)
		return 2;
	/* the pages first, in a child process: a broken page can make
	 * LMDB fault */
	if ((db = cfg_path(c->state_dir, "db")) == NULL ||
	    store_check(db, err, sizeof(err)) != STORE_OK) {
		printf("damaged: %s\n", db ? err : "out of memory");
		hub_free(db);
		conf_free(c);
		return 1;
	}
	hub_free(db);
	if ((st = cli_open_store(c, "verify")) == NULL) {
		conf_free(c);
		return 1;
	}
	rc = store_verify(st, SHOWN, print_problem, NULL, &v);
	store_close(st);
	conf_free(c);
	if (rc != STORE_OK) {
		fprintf(stderr, "ctihub verify: the database cannot be read\n");
		return 1;
	}
	printf("%llu objects, %llu collection entries, %llu id entries, "
	       "%llu statuses, %llu release records, %llu names, %llu audit "
	       "records waiting, %llu gone records, %llu subscription "
	       "records, %llu feed records, %llu observable index entries, "
	       "%llu rows' lists "
	       "of observables\n",
	    (unsigned long long)v.objects, (unsigned long long)v.entries,
	    (unsigned long long)v.ids, (unsigned long long)v.statuses,
	    (unsigned long long)v.releases, (unsigned long long)v.names,
	    (unsigned long long)v.audit, (unsigned long long)v.gone,
	    (unsigned long long)v.subs, (unsigned long long)v.feeds,
	    (unsigned long long)v.obs, (unsigned long long)v.obsrows);
	if (v.problems == 0) {
		printf("database OK\n");
		return 0;
	}
	printf("database damaged: %llu problems%s\n",
	    (unsigned long long)v.problems,
	    v.problems > SHOWN ? " (the first 50 shown)" : "");
	return 1;
}
