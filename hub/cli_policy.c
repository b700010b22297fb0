/*
 * cli_policy.c -- ctihub policy: check the policy files, explain one
 * decision with the rule lines that made it, and show what a change of
 * policy would change for the data stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/marking.h"
#include "ctihub/policy.h"
#include "ctihub/stix.h"
#include "ctihub/store.h"
#include "ctihub/tstamp.h"
#include "ctihub/view.h"

#include "cli.h"
#include "hub.h"

struct conf *
cli_load_conf(const char *path)
{
	struct cfg_errs errs;
	struct conf *c;
	int i;

	memset(&errs, 0, sizeof(errs));
	if (conf_load(path, &c, &errs) == -1) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i]);
		cfg_errs_clear(&errs);
		return NULL;
	}
	return c;
}

/*
 * Loads the policy of `dir`, printing every finding to `out`: the errors
 * when the set is refused, the warnings (redundant rules, rules without
 * effect) whether or not.  *nwarn, when not NULL, gets the number of
 * warnings.
 */
static struct policy *
load_policy(const char *dir, const struct members *ms, FILE *out, int *nwarn)
{
	struct cfg_errs errs;
	struct policy *p;
	int i, rc;

	memset(&errs, 0, sizeof(errs));
	rc = policy_load(dir, ms, &p, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(out, "%s\n", errs.v[i]);
	if (errs.dropped)
		fprintf(out, "(%d more errors)\n", errs.dropped);
	if (errs.wdropped)
		fprintf(out, "(%d more warnings)\n", errs.wdropped);
	if (nwarn != NULL)
		*nwarn = cfg_errs_count(&errs, CFG_WARNING);
	cfg_errs_clear(&errs);
	return rc == 0 ? p : NULL;
}

static void
count_file(const char *file, const char *hex, void *arg)
{
	(void)file;
	(void)hex;
	(*(int *)arg)++;
}

/* Exits 0 when the set loads, warnings or not; 1 when it has errors. */
static int
policy_check(const char *dir, struct conf *c)
{
	const char *d = dir ? dir : c->policy_dir;
	struct policy *p;
	int n = 0, nwarn = 0;

	if ((p = load_policy(d, c->members, stdout, &nwarn)) == NULL)
		return 1;
	policy_files(p, count_file, &n);
	printf("policy OK: %d file%s in %s", n, n == 1 ? "" : "s", d);
	if (nwarn > 0)
		printf(" (%d warning%s)", nwarn, nwarn == 1 ? "" : "s");
	printf("\n");
	policy_free(p);
	return 0;
}

struct store *
cli_open_store(const struct conf *c, const char *cmd)
{
	struct store *st = NULL;
	char err[512], *db = cfg_path(c->state_dir, "db");

	if (db == NULL ||
	    store_open(&st, db, c->map_size, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "ctihub %s: %s\n", cmd, db ? err : "no memory");
		st = NULL;
	} else
		store_set_map_max(st, c->map_max);
	hub_free(db);
	return st;
}

void
cli_when(int64_t us, char *out)
{
	if (us == 0)
		snprintf(out, TSTAMP_LEN, "-");
	else
		tstamp_format(us, 0, out);
}

struct last_version {
	struct store_version v;
	int found;
};

static int
keep_last(const struct store_version *v, void *arg)
{
	struct last_version *l = arg;

	l->v = *v;
	l->found = 1;
	return 0;
}

static int
policy_explain_cmd(struct conf *c, const char *objid, const char *to)
{
	const struct member *m = members_find(c->members, to);
	struct policy *p;
	struct store *st;
	struct store_reader *r;
	struct last_version lv;
	struct store_entry e;
	struct store_objview ov;
	struct policy_obj po;
	unsigned char uuid[16];
	char type[256], out[4096];
	uint32_t tc;
	int i, vis, rc = 1;

	if (m == NULL) {
		fprintf(stderr, "ctihub policy explain: no member '%s'\n", to);
		return 2;
	}
	if (stix_parse_id(objid, type, sizeof(type), uuid) == -1) {
		fprintf(stderr,
		    "ctihub policy explain: '%s' is not a STIX id\n", objid);
		return 2;
	}
	/* the codes of the database, then the policy compiled with them */
	if ((st = cli_open_store(c, "policy")) == NULL)
		return 1;
	if (runtime_bind(c, st) == -1 ||
	    (p = load_policy(c->policy_dir, c->members, stderr, NULL)) ==
		NULL) {
		store_close(st);
		return 1;
	}
	memset(&lv, 0, sizeof(lv));
	r = NULL;
	if (store_reader_new(st, &r) != STORE_OK || store_rbegin(r) != STORE_OK)
		goto out;
	if (store_code_get(r, STORE_K_TYPE, type, strlen(type), &tc) !=
		STORE_OK ||
	    store_versions(r, tc, uuid, 0, keep_last, &lv) < 0 || !lv.found ||
	    lv.v.nmember == 0) {
		fprintf(stderr, "ctihub policy explain: no object %s stored\n",
		    objid);
		goto out;
	}
	if (store_entry_get(r, lv.v.member[0].coll, lv.v.member[0].date_added,
		&e) != STORE_OK ||
	    store_obj_get(r, e.rowid, &ov) != STORE_OK)
		goto out;
	memset(&po, 0, sizeof(po));
	po.producer = e.producer;
	po.tlp = e.tlp;
	po.flags = e.flags;
	po.release = ov.release;
	po.nrelease = ov.nrelease;
	vis = policy_explain(p, m, &po, out, sizeof(out));
	printf("object %s, latest version, produced by %s, marked %s\n", objid,
	    members_by_code(c->members, e.producer)
		? members_by_code(c->members, e.producer)->id
		: e.producer == POLICY_HUB_PRODUCER ? "the hub"
						    : "a former member",
	    e.tlp == TLP_NONE ? "with no TLP marking"
			      : marking_tlp_name(e.tlp));
	printf("to %s (%s):\n%s", m->id, m->country, out);
	for (i = 0; i < lv.v.nmember; i++) {
		const struct conf_root *root;
		const struct conf_collection *k =
		    conf_coll_by_code(c, lv.v.member[i].coll, &root);

		if (k != NULL)
			printf("collection %s/%s: %s may %sread it\n",
			    root->name, k->alias ? k->alias : k->id, m->id,
			    acl_allows(&k->read, m) ? "" : "not ");
	}
	printf("decision: %s\n", vis ? "visible" : "not visible");
	rc = 0;
out:
	if (r != NULL)
		store_rend(r);
	store_reader_free(r);
	store_close(st);
	policy_free(p);
	return rc;
}

static int
policy_diff(struct conf *c, const char *olddir, const char *newdir)
{
	struct policy *po, *pn;
	struct store *st;
	struct store_reader *r;
	struct store_item it;
	long *gain, *loss;
	int i, j, k, any = 0;

	if ((st = cli_open_store(c, "policy")) == NULL)
		return 1;
	if (runtime_bind(c, st) == -1 ||
	    (po = load_policy(olddir, c->members, stderr, NULL)) == NULL) {
		store_close(st);
		return 1;
	}
	if ((pn = load_policy(newdir, c->members, stderr, NULL)) == NULL) {
		policy_free(po);
		store_close(st);
		return 1;
	}
	if (store_reader_new(st, &r) != STORE_OK ||
	    store_rbegin(r) != STORE_OK) {
		policy_free(po);
		policy_free(pn);
		store_reader_free(r);
		store_close(st);
		return 1;
	}
	gain = calloc((size_t)c->members->n + 1, sizeof(long));
	loss = calloc((size_t)c->members->n + 1, sizeof(long));
	for (i = 0; i < c->nroots; i++)
		for (k = 0; k < c->roots[i].ncolls; k++) {
			const struct conf_collection *col =
			    &c->roots[i].colls[k];

			store_walk_start(r, col->code, -1);
			while (store_walk_next(r, &it) == 1) {
				struct policy_obj o;
				struct store_objview ov;

				if (it.e.flags & STORE_F_RELEASED)
					continue;
				memset(&o, 0, sizeof(o));
				o.producer = it.e.producer;
				o.tlp = it.e.tlp;
				o.flags = it.e.flags;
				if ((it.e.flags & STORE_F_RELEASE) &&
				    store_obj_get(r, it.e.rowid, &ov) ==
					STORE_OK) {
					o.release = ov.release;
					o.nrelease = ov.nrelease;
				}
				for (j = 0; j < c->members->n; j++) {
					const struct member *m =
					    &c->members->v[j];
					int a, b;

					if (!acl_allows(&col->read, m))
						continue;
					a = policy_visible(po, m, &o);
					b = policy_visible(pn, m, &o);
					if (b && !a)
						gain[j]++;
					else if (a && !b)
						loss[j]++;
				}
			}
		}
	printf("what %s changes against %s, for the %s objects stored:\n",
	    newdir, olddir, "object versions");
	for (j = 0; j < c->members->n; j++) {
		if (gain[j] == 0 && loss[j] == 0)
			continue;
		any = 1;
		printf("  %-20s gains %ld, loses %ld\n", c->members->v[j].id,
		    gain[j], loss[j]);
	}
	if (!any)
		printf("  no member gains or loses access to anything\n");
	free(gain);
	free(loss);
	store_rend(r);
	store_reader_free(r);
	store_close(st);
	policy_free(po);
	policy_free(pn);
	return 0;
}

int
cmd_policy(int argc, char **argv)
{
	const char *conf_path = cli_conf_path(argc, argv);
	const char *object = NULL, *to = NULL, *pos[2] = {NULL, NULL};
	struct conf *c;
	int i, npos = 0, rc;

	if (argc < 2)
		goto usage;
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			i++;
		else if (strcmp(argv[i], "--object") == 0 && i + 1 < argc)
			object = argv[++i];
		else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			to = argv[++i];
		else if (argv[i][0] != '-' && npos < 2)
			pos[npos++] = argv[i];
		else
			goto usage;
	}
	if ((c = cli_load_conf(conf_path)) == NULL)
		return 2;
	if (strcmp(argv[1], "check") == 0 && npos <= 1)
		rc = policy_check(pos[0], c);
	else if (strcmp(argv[1], "explain") == 0 && object && to && !npos)
		rc = policy_explain_cmd(c, object, to);
	else if (strcmp(argv[1], "diff") == 0 && npos == 2)
		rc = policy_diff(c, pos[0], pos[1]);
	else {
		conf_free(c);
		goto usage;
	}
	conf_free(c);
	return rc;
usage:
	fprintf(stderr,
	    "usage: ctihub policy check [DIR] [-c ctihub.conf]\n"
	    "       ctihub policy explain --object ID --to MEMBER "
	    "[-c ctihub.conf]\n"
	    "       ctihub policy diff OLDDIR NEWDIR [-c ctihub.conf]\n");
	return 2;
}
