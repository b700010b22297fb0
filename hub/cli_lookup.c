/*
 * cli_lookup.c -- ctihub lookup: the lookup API (lookup.h) from the
 * command line, beside a running hub (its own read transactions), as a
 * given member: exactly what that member would get from
 * GET /{root}/lookup/, over the collections it may read in one API root
 * (--root) or in all of them.  There is no "see everything" mode: an
 * operator asks as a member.  Values come from the arguments, or one a
 * line from standard input ("-"), in batches of lookup_max_values.
 * Exit status 0 when every value was looked up (hits or misses), 1 when
 * some value was bad or the database could not be read, 2 on a usage or
 * configuration error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/lookup.h"
#include "ctihub/marking.h"
#include "ctihub/member.h"
#include "ctihub/observable.h"
#include "ctihub/policy.h"
#include "ctihub/tstamp.h"

#include "cli.h"
#include "hub.h"

#define LINE_MAX_LEN (OBS_TEXT_MAX + 2)

struct opts {
	const char *member, *root;
	int type, valid, best, json;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ctihub lookup --member NAME [--root NAME] [--type T] "
	    "[--valid] [--best] [--json] [-c file] VALUE... | -\n");
}

static void
when(int64_t us, char out[TSTAMP_LEN])
{
	tstamp_format(us, 0, out);
}

static void
print_text(const struct lookup *lk, const struct conf *c,
    const struct lookup_coll *colls)
{
	const struct lookup_result *r;
	char a[TSTAMP_LEN], b[TSTAMP_LEN];
	int n, v, k, i;

	r = lookup_results(lk, &n);
	for (v = 0; v < n; v++, r++) {
		printf("%.*s", (int)r->len, r->value);
		if (!r->ok) {
			printf("\terror: %s\n", r->err);
			continue;
		}
		printf("\t%s %s\t", obs_type_name(r->type), r->canon);
		if (r->count == 0) {
			printf("no match\n");
			continue;
		}
		when(r->first_seen, a);
		when(r->last_seen, b);
		printf("%d match%s, %d member%s (", r->count,
		    r->count == 1 ? "" : "es", r->nmembers,
		    r->nmembers == 1 ? "" : "s");
		for (k = 0; k < r->ncountries; k++)
			printf("%s%s", k ? " " : "", r->countries[k]);
		printf("), first seen %s, last seen %s%s\n", a, b,
		    r->truncated ? ", list cut short" : "");
		for (k = 0; k < r->n; k++) {
			const struct lookup_match *m = &r->m[k];
			const struct member *mb =
			    members_by_code(c->members, m->row->producer);

			printf("\t%s %s %s %s %s", m->row->id,
			    mb ? mb->id : "(former member)",
			    marking_tlp_name((enum tlp)m->row->tlp),
			    lookup_how_name(m->how), m->key);
			if (m->how == LOOKUP_CROSS_HASH)
				printf(" via %s", obs_type_name(m->via));
			if (m->row->revoked)
				printf(" revoked");
			for (i = 0; i < m->row->ncoll; i++)
				printf("%s%s", i ? "," : " in ",
				    colls[m->row->coll[i]].id);
			printf("\n");
		}
	}
}

/* Looks up one batch; 0, or 1 when a value was bad or the read failed. */
static int
batch(struct store_reader *r, const struct conf *c, const struct policy *pol,
    const struct member *m, const struct lookup_coll *colls, int ncoll,
    const struct lookup_in *in, int n, const struct opts *op)
{
	const struct lookup_result *res;
	struct lookup_opts o;
	struct view_ctx vc;
	struct lookup *lk;
	struct buf b = BUF_INIT;
	int rc, i, k, bad = 0;

	memset(&o, 0, sizeof(o));
	o.valid_only = op->valid;
	o.best_only = op->best;
	o.now = tstamp_now();
	o.max_matches = (int)c->lookup_max_matches;
	o.max_scan = (size_t)c->lookup_max_scan;
	o.members = c->members;
	memset(&vc, 0, sizeof(vc));
	vc.r = r;
	vc.pol = pol;
	vc.reader = m;
	if (store_rbegin(r) != STORE_OK) {
		fprintf(stderr, "ctihub lookup: the database cannot be read\n");
		return 1;
	}
	rc = lookup_run(&vc, colls, ncoll, in, n, &o, &lk);
	if (rc != STORE_OK) {
		store_rend(r);
		fprintf(stderr, "ctihub lookup: the lookup failed (%d)\n", rc);
		return 1;
	}
	if (op->json) {
		lookup_json(lk, &b);
		printf("%s\n", buf_failed(&b) ? "{}" : buf_cstr(&b));
		buf_clear(&b);
	} else
		print_text(lk, c, colls);
	store_rend(r);
	res = lookup_results(lk, &k);
	for (i = 0; i < k; i++)
		if (!res[i].ok)
			bad = 1;
	lookup_free(lk);
	return bad;
}

int
cmd_lookup(int argc, char **argv)
{
	struct opts op;
	struct conf *c = NULL;
	struct store *st = NULL;
	struct store_reader *r = NULL;
	struct policy *pol = NULL;
	struct lookup_coll *colls = NULL;
	struct lookup_in *in = NULL;
	char **lines = NULL;
	const struct member *m;
	struct cfg_errs errs;
	int i, j, ncoll = 0, nval = 0, from_stdin = 0, max = 0, rc = 2, n, e;
	int *vals;

	memset(&op, 0, sizeof(op));
	if ((vals = hub_calloc((size_t)argc + 1, sizeof(*vals))) == NULL)
		return 2;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			i++;
		else if (strcmp(argv[i], "--member") == 0 && i + 1 < argc)
			op.member = argv[++i];
		else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc)
			op.root = argv[++i];
		else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
			if ((op.type = obs_type_from_name(argv[++i])) ==
			    OBS_NONE) {
				fprintf(stderr,
				    "ctihub lookup: unknown type '%s'\n",
				    argv[i]);
				hub_free(vals);
				return 2;
			}
		} else if (strcmp(argv[i], "--valid") == 0)
			op.valid = 1;
		else if (strcmp(argv[i], "--best") == 0)
			op.best = 1;
		else if (strcmp(argv[i], "--json") == 0)
			op.json = 1;
		else if (strcmp(argv[i], "-") == 0)
			from_stdin = 1;
		else if (argv[i][0] == '-') {
			usage();
			hub_free(vals);
			return 2;
		} else
			vals[nval++] = i;
	}
	if (op.member == NULL || (nval == 0) == (from_stdin == 0)) {
		usage();
		hub_free(vals);
		return 2;
	}
	if ((c = cli_load_conf(cli_conf_path(argc, argv))) == NULL) {
		hub_free(vals);
		return 2;
	}
	if ((m = members_find(c->members, op.member)) == NULL) {
		fprintf(stderr, "ctihub lookup: no member '%s'\n", op.member);
		goto out;
	}
	for (i = 0, n = 0; i < c->nroots; i++)
		n += c->roots[i].ncolls;
	if (op.root != NULL &&
	    conf_root_find(c, op.root, strlen(op.root)) == NULL) {
		fprintf(stderr, "ctihub lookup: no API root '%s'\n", op.root);
		goto out;
	}
	rc = 1;
	if ((st = cli_open_store(c, "lookup")) == NULL)
		goto out;
	/* the database's codes, then the policy compiled with them */
	memset(&errs, 0, sizeof(errs));
	if (runtime_bind(c, st) == -1 ||
	    policy_load(c->policy_dir, c->members, &pol, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i]);
		cfg_errs_clear(&errs);
		fprintf(stderr, "ctihub lookup: the policy cannot be loaded\n");
		goto out;
	}
	cfg_errs_clear(&errs);
	if ((colls = hub_calloc((size_t)n + 1, sizeof(*colls))) == NULL)
		goto out;
	for (i = 0; i < c->nroots; i++) {
		const struct conf_root *rt = &c->roots[i];

		if (op.root != NULL && strcmp(rt->name, op.root) != 0)
			continue;
		for (j = 0; j < rt->ncolls; j++)
			if (acl_allows(&rt->colls[j].read, m)) {
				colls[ncoll].code = rt->colls[j].code;
				colls[ncoll++].id = rt->colls[j].id;
			}
	}
	if (store_reader_new(st, &r) != STORE_OK)
		goto out;
	max = (int)c->lookup_max_values;
	if ((in = hub_calloc((size_t)max, sizeof(*in))) == NULL)
		goto out;
	e = 0;
	if (!from_stdin) {
		for (j = 0, n = 0; j < nval; j++) {
			in[n].value = argv[vals[j]];
			in[n].len = strlen(argv[vals[j]]);
			in[n++].type = op.type;
			if (n == max) {
				e |= batch(
				    r, c, pol, m, colls, ncoll, in, n, &op);
				n = 0;
			}
		}
		if (n > 0)
			e |= batch(r, c, pol, m, colls, ncoll, in, n, &op);
	} else {
		char line[LINE_MAX_LEN + 1];

		if ((lines = hub_calloc((size_t)max, sizeof(*lines))) == NULL)
			goto out;
		for (n = 0;;) {
			int end = fgets(line, sizeof(line), stdin) == NULL;
			size_t len = end ? 0 : strcspn(line, "\r\n");

			if (!end && len > 0) {
				if ((lines[n] = hub_strndup(line, len)) == NULL)
					goto out;
				in[n].value = lines[n];
				in[n].len = len;
				in[n++].type = op.type;
			}
			if (n == max || (end && n > 0)) {
				e |= batch(
				    r, c, pol, m, colls, ncoll, in, n, &op);
				for (i = 0; i < n; i++) {
					hub_free(lines[i]);
					lines[i] = NULL;
				}
				n = 0;
			}
			if (end)
				break;
		}
	}
	rc = e ? 1 : 0;
out:
	if (lines != NULL)
		for (i = 0; i < max; i++)
			hub_free(lines[i]);
	hub_free(lines);
	hub_free(vals);
	hub_free(in);
	hub_free(colls);
	store_reader_free(r);
	policy_free(pol);
	store_close(st);
	conf_free(c);
	return rc;
}
