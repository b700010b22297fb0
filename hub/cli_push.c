/*
 * cli_push.c -- ctihub push status: each push subscription of the
 * configuration with its mode, cursor, lag (entries after the cursor and
 * the age of the oldest), last success, last error, next retry and
 * whether it is suspended, read from the database beside a running hub;
 * ctihub push resume NAME: lifts a suspension (the hub takes it at its
 * next reload).
 */
#include <stdio.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/store.h"
#include "ctihub/subscription.h"
#include "ctihub/tstamp.h"

#include "cli.h"
#include "push.h"

#define LAG_MAX 1000000 /* entries counted at most */

static const char *
mode_name(int mode)
{
	return mode == SUB_TAXII  ? "taxii"
	    : mode == SUB_WEBHOOK ? "webhook"
				  : "stream";
}

static void
jfield(const char *k, const char *v, int comma)
{
	printf("%s\"%s\":\"", comma ? "," : "", k);
	for (; *v != '\0'; v++)
		if (*v == '"' || *v == '\\')
			printf("\\%c", *v);
		else if ((unsigned char)*v < 0x20)
			printf("\\u%04x", *v);
		else
			putchar(*v);
	putchar('"');
}

static int
status(struct conf *c, struct store *st, int json)
{
	const struct subscriptions *subs = c->subs;
	struct store_reader *r;
	int i, j, first = 1;

	if (store_reader_new(st, &r) != STORE_OK ||
	    store_rbegin(r) != STORE_OK) {
		fprintf(stderr, "ctihub push: the database cannot be read\n");
		return 1;
	}
	if (json)
		printf("[");
	else
		printf("%-24s %-7s %-36s %-27s %9s %8s %-20s %-20s %s\n",
		    "SUBSCRIPTION", "MODE", "COLLECTION", "CURSOR", "LAG",
		    "LAG_S", "LAST_OK", "NEXT_RETRY", "STATE / LAST ERROR");
	for (i = 0; subs != NULL && i < subs->n; i++) {
		const struct subscription *sub = &subs->v[i];

		for (j = 0; j < sub->ncolls; j++) {
			char key[PUSH_KEY_MAX], cur[TSTAMP_LEN], ok[TSTAMP_LEN],
			    nx[TSTAMP_LEN];
			struct push_state ps;
			uint32_t code;
			int64_t n = 0, secs = 0;
			const char *state;

			push_state_key(
			    sub->name, sub->colls[j].id, key, sizeof(key));
			if (push_state_get(r, key, &ps) == -1)
				snprintf(ps.err, sizeof(ps.err),
				    "unreadable state record");
			if (store_code_get(r, STORE_K_COLL, sub->colls[j].id,
				strlen(sub->colls[j].id), &code) == STORE_OK)
				push_lag(
				    r, code, ps.cursor, LAG_MAX, &n, &secs);
			if (ps.cursor == 0)
				snprintf(cur, sizeof(cur), "-");
			else
				tstamp_format(ps.cursor, 6, cur);
			cli_when(ps.last_ok, ok);
			cli_when(ps.next_retry, nx);
			state = ps.suspended == PUSH_SUSPENDED ? "suspended"
			    : ps.suspended == PUSH_GONE	       ? "gone (410)"
			    : ps.attempts > 0		       ? "retrying"
							       : "ok";
			if (json) {
				printf("%s{", first ? "" : ",");
				jfield("subscription", sub->name, 0);
				jfield("member", sub->member, 1);
				jfield("mode", mode_name(sub->mode), 1);
				jfield("collection", sub->colls[j].id, 1);
				jfield("cursor", cur, 1);
				printf(",\"lag_objects\":%lld,\"lag_seconds\":"
				       "%lld",
				    (long long)n, (long long)secs);
				jfield("last_success", ok, 1);
				jfield("next_retry", nx, 1);
				jfield("state", state, 1);
				printf(",\"attempts\":%u,\"delivered\":%llu",
				    ps.attempts,
				    (unsigned long long)ps.delivered);
				jfield("last_error", ps.err, 1);
				printf("}");
			} else
				printf("%-24s %-7s %-36s %-27s %8lld%s %8lld "
				       "%-20s %-20s %s%s%s\n",
				    sub->name, mode_name(sub->mode),
				    sub->colls[j].id, cur, (long long)n,
				    n >= LAG_MAX ? "+" : " ", (long long)secs,
				    ok, nx, state, ps.err[0] ? ": " : "",
				    ps.err);
			first = 0;
		}
	}
	if (json)
		printf("]\n");
	store_rend(r);
	store_reader_free(r);
	return 0;
}

/* Clears the suspension of every collection of subscription `name`. */
static int
resume(struct conf *c, struct store *st, const char *name)
{
	const struct subscription *sub = subs_find(c->subs, name);
	struct store_reader *r;
	struct store_wtxn *w;
	int j, rc = STORE_OK;

	if (sub == NULL) {
		fprintf(stderr, "ctihub push: no subscription %s\n", name);
		return 2;
	}
	if (store_reader_new(st, &r) != STORE_OK)
		return 1;
	for (j = 0; j < sub->ncolls && rc == STORE_OK; j++) {
		unsigned char rec[PUSH_STATE_MAX];
		char key[PUSH_KEY_MAX];
		struct push_state ps;
		size_t len;

		push_state_key(sub->name, sub->colls[j].id, key, sizeof(key));
		if ((rc = store_rbegin(r)) != STORE_OK)
			break;
		push_state_get(r, key, &ps);
		store_rend(r);
		ps.suspended = PUSH_ACTIVE;
		ps.attempts = 0;
		ps.first_fail = 0;
		ps.next_retry = 0;
		if ((rc = store_wbegin(st, &w)) != STORE_OK)
			break;
		len = push_state_encode(&ps, rec);
		if ((rc = store_wsub_put(w, key, rec, len)) != STORE_OK) {
			store_wabort(w);
			break;
		}
		rc = store_wcommit(w);
	}
	store_reader_free(r);
	if (rc != STORE_OK) {
		fprintf(stderr, "ctihub push: cannot write the database: %s\n",
		    store_strerror(rc));
		return 1;
	}
	printf("%s: resumed; the hub takes it at its next reload (SIGHUP)\n",
	    name);
	return 0;
}

int
cmd_push(int argc, char **argv)
{
	struct store *st;
	struct conf *c;
	const char *what = argc > 1 ? argv[1] : "";
	const char *name = NULL;
	int i, json = 0, rc;

	for (i = 2; i < argc; i++)
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			i++;
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (name == NULL && argv[i][0] != '-')
			name = argv[i];
		else
			what = "";
	if (!(strcmp(what, "status") == 0 && name == NULL) &&
	    !(strcmp(what, "resume") == 0 && name != NULL && !json)) {
		fprintf(stderr,
		    "usage: ctihub push status [--json] [-c file]\n"
		    "       ctihub push resume NAME [-c file]\n");
		return 2;
	}
	if ((c = cli_load_conf(cli_conf_path(argc, argv))) == NULL)
		return 2;
	if ((st = cli_open_store(c, "push")) == NULL) {
		conf_free(c);
		return 1;
	}
	rc = strcmp(what, "status") == 0 ? status(c, st, json)
					 : resume(c, st, name);
	store_close(st);
	conf_free(c);
	return rc;
}
