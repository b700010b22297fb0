/*
 * policy_compile.c -- compiling sharing policies (see policy.h) into one
 * bitmap of readers per producer and TLP level, and the decision per
 * object, which is then a hash probe and a bit test.  Does not read
 * objects or markings: the caller passes what policy_visible needs in a
 * struct policy_obj.  Reading the files is policy_parse.c's job; the
 * checks that only report are policy_lint.c's.
 *
 * A never rule takes its members out of every level of its file alike
 * (every file's, for one in hub.policy); a level with no share rule keeps
 * the built-in audience of FIRST TLP 2.0 (CLEAR and GREEN to every
 * member, the rest to nobody); the producer always sees its own objects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/country.h"
#include "ctihub/marking.h"
#include "ctihub/policy.h"

#include "policy_int.h"

static void bm_all(unsigned char *, size_t, int);
static void bm_mask_nevers(const struct builder *, unsigned char *);
static int builder_alloc(struct builder *, int);
static void builder_clear(struct builder *);
static void members_index(struct builder *);
static void prods_init(struct policy *);
static void nevers_read(
    struct builder *, struct pfile *, int, struct ref *, struct ref *);
static void nevers_in_force(struct builder *, struct pfile *, int);
static void groups_cover(struct builder *, const struct pfile *, int);
static void scope_audience(
    const struct builder *, const struct pscope *, unsigned char *);
static void scope_compile(
    struct builder *, struct pfile *, int, int, unsigned char *, unsigned *);
static void defaults_read(struct builder *, struct pfile *, struct pol_prod *);
static void hub_compile(struct builder *);
static void producer_compile(struct builder *, struct pfile *);
static void prods_finish(struct builder *);
static int slots_build(struct policy *, const struct members *);
static void policy_clear_files(struct policy *);

/* All n bits set, the padding clear. */
static void
bm_all(unsigned char *bm, size_t len, int n)
{
	memset(bm, 0, len);
	memset(bm, 0xff, (size_t)n / 8);
	if (n % 8)
		bm[n / 8] = (unsigned char)((1u << (n % 8)) - 1);
}

/* Takes out of bm the members the never rules in force exclude. */
static void
bm_mask_nevers(const struct builder *b, unsigned char *bm)
{
	size_t j;

	for (j = 0; j < b->pol->bmlen; j++)
		bm[j] &= (unsigned char)~b->nevbm[j];
}

/* 1 if rule r (share, never or directory) takes in member m of country
 * cc. */
int
pol_rule_covers(const struct policy *pol, const struct prule *r, int m, int cc)
{
	int k;

	switch (r->target) {
	case T_EVERYONE:
	case T_COMMUNITY:
		return 1;
	case T_NOBODY:
		return 0;
	}
	for (k = 0; k < r->nvals; k++) {
		int id = r->ids[k];

		if (id < 0)
			continue;
		if (r->target == T_COUNTRIES && id == cc)
			return 1;
		if (r->target == T_MEMBERS && id == m)
			return 1;
		if (r->target == T_GROUPS && cc >= 0 &&
		    group_has(&pol->groups[id], cc))
			return 1;
	}
	return 0;
}

/* --- the builder --- */

/* A new policy for n files and the members of b->ms, and the builder's
 * tables; -1 when out of memory (what was allocated is in b). */
static int
builder_alloc(struct builder *b, int n)
{
	struct policy *pol;
	int nm = b->ms->n;

	if ((pol = hub_calloc(1, sizeof(*pol))) == NULL)
		return -1;
	b->pol = pol;
	pol->n = nm;
	pol->hubfile = -1;
	pol->bmlen = ((size_t)nm + 7) / 8;
	if (pol->bmlen == 0)
		pol->bmlen = 1;
	if ((pol->files = hub_calloc((size_t)n + 1, sizeof(*pol->files))) ==
		NULL ||
	    (pol->codes = hub_calloc((size_t)nm + 1, sizeof(*pol->codes))) ==
		NULL ||
	    (pol->prods = hub_calloc((size_t)nm + 2, sizeof(*pol->prods))) ==
		NULL ||
	    (pol->bits = hub_calloc(((size_t)nm + 1) * (TLP_NLEVELS - 1) + 1,
		 pol->bmlen)) == NULL ||
	    (b->byid = hub_calloc((size_t)nm + 1, sizeof(*b->byid))) == NULL ||
	    (b->mcc = hub_calloc((size_t)nm + 1, sizeof(int))) == NULL ||
	    (b->ccnext = hub_calloc((size_t)nm + 1, sizeof(int))) == NULL ||
	    (b->cchead = hub_calloc(NCC, sizeof(int))) == NULL ||
	    (b->sc = hub_calloc(NCC, sizeof(int))) == NULL ||
	    (b->sm = hub_calloc((size_t)nm + 1, sizeof(int))) == NULL ||
	    (b->gcov = hub_calloc(NCC, sizeof(int))) == NULL ||
	    (b->gcovg = hub_calloc(NCC, sizeof(int))) == NULL ||
	    (b->hnc = hub_calloc(NCC, sizeof(*b->hnc))) == NULL ||
	    (b->hnm = hub_calloc((size_t)nm + 1, sizeof(*b->hnm))) == NULL ||
	    (b->nc = hub_calloc(NCC, sizeof(*b->nc))) == NULL ||
	    (b->nm = hub_calloc((size_t)nm + 1, sizeof(*b->nm))) == NULL ||
	    (b->nevbm = hub_calloc(1, pol->bmlen)) == NULL)
		return -1;
	return 0;
}

static void
builder_clear(struct builder *b)
{
	int i;

	hub_free(b->byid);
	hub_free(b->mcc);
	hub_free(b->cchead);
	hub_free(b->ccnext);
	hub_free(b->sc);
	hub_free(b->sm);
	hub_free(b->sg);
	hub_free(b->gcov);
	hub_free(b->gcovg);
	hub_free(b->hnc);
	hub_free(b->hnm);
	hub_free(b->nc);
	hub_free(b->nm);
	hub_free(b->nevbm);
	for (i = 0; i < b->nev; i++)
		hub_free(b->ev[i].msg);
	hub_free(b->ev);
}

/* The members by index: their codes, their countries and the members of
 * each country; a member with the hub's own producer code is an error. */
static void
members_index(struct builder *b)
{
	const struct members *ms = b->ms;
	struct policy *pol = b->pol;
	int i, m;

	for (i = 0; i < NCC; i++)
		b->cchead[i] = -1;
	for (m = ms->n - 1; m >= 0; m--) {
		pol->codes[m] = ms->v[m].code;
		b->byid[m] = &ms->v[m];
		b->mcc[m] = country_valid(ms->v[m].country)
		    ? pol_cc_index(ms->v[m].country)
		    : -1;
		if (b->mcc[m] >= 0) {
			b->ccnext[m] = b->cchead[b->mcc[m]];
			b->cchead[b->mcc[m]] = m;
		}
		if (ms->v[m].code == POLICY_HUB_PRODUCER) {
			cfg_errs_add(b->errs, ms->file ? ms->file : "members",
			    ms->v[m].line,
			    "member %s has the producer code of the hub "
			    "itself; rename it",
			    ms->v[m].id);
			b->bad = 1;
		}
	}
}

/* Every producer at the built-in defaults: the members, then one for
 * producers that are not members, then the hub. */
static void
prods_init(struct policy *pol)
{
	int m, nm = pol->n;

	for (m = 0; m <= nm + 1; m++) {
		pol->prods[m].code = m < nm ? pol->codes[m] : 0;
		pol->prods[m].deflevel = TLP_AMBER;
		pol->prods[m].file = -1;
		pol->prods[m].defrule = -1;
	}
	pol->prods[nm + 1].code = POLICY_HUB_PRODUCER;
}

/* --- never rules --- */

/*
 * The never rules of file f into nc (countries) and nm (members), keeping
 * the first rule that excludes each; `producer` is the file's member
 * index (-1 for hub.policy).
 */
static void
nevers_read(struct builder *b, struct pfile *f, int producer, struct ref *nc,
    struct ref *nm)
{
	const struct policy *pol = b->pol;
	int i, k, c, first;

	pol_scope_clear(b);
	for (i = 0; i < f->nrules; i++) {
		struct prule *r = &f->rules[i];

		if (r->kind != R_NEVER)
			continue;
		for (k = 0; k < r->nvals; k++) {
			int id = r->ids[k];

			if (id < 0)
				continue;
			if ((first = pol_value_seen(b, r, k)) > 0) {
				WARN(b, f, r->line,
				    "duplicate: never %s %s (first at line "
				    "%d); remove one",
				    pol_targets[r->target].name, r->vals[k],
				    first);
				continue;
			}
			switch (r->target) {
			case T_COUNTRIES:
				if (nc[id].line == 0)
					nc[id] = (struct ref){f->name, r->line};
				break;
			case T_MEMBERS:
				if (id == producer) {
					pol_lint_own_producer(
					    b, f, r->line, r->vals[k]);
					r->ids[k] = -1;
					break;
				}
				if (nm[id].line == 0)
					nm[id] = (struct ref){f->name, r->line};
				break;
			case T_GROUPS:
				for (c = 0; c < NCC; c++)
					if (group_has(&pol->groups[id], c) &&
					    nc[c].line == 0)
						nc[c] = (struct ref){
						    f->name, r->line};
				break;
			}
		}
	}
}

/*
 * The never rules in force: hub.policy's, and file f's (of member
 * `producer`) when f is not NULL, into b->nc and b->nm; the members they
 * exclude into b->nevbm.
 */
static void
nevers_in_force(struct builder *b, struct pfile *f, int producer)
{
	int m;

	memcpy(b->nc, b->hnc, sizeof(*b->nc) * NCC);
	memcpy(b->nm, b->hnm, sizeof(*b->nm) * (size_t)(b->ms->n + 1));
	if (f != NULL)
		nevers_read(b, f, producer, b->nc, b->nm);
	memset(b->nevbm, 0, b->pol->bmlen);
	for (m = 0; m < b->ms->n; m++)
		if (b->nm[m].line || (b->mcc[m] >= 0 && b->nc[b->mcc[m]].line))
			bm_set(b->nevbm, m);
}

/* --- one scope: a level of a producer, or the directory --- */

/* The countries of the groups the scope grants, into b->gcov (the first
 * line granting each) and b->gcovg (the group). */
static void
groups_cover(struct builder *b, const struct pfile *f, int level)
{
	int i, k, c;

	memset(b->gcov, 0, sizeof(*b->gcov) * NCC);
	for (i = 0; i < f->nrules; i++) {
		const struct prule *r = &f->rules[i];

		if (!rule_in_scope(r, level) || r->target != T_GROUPS)
			continue;
		for (k = 0; k < r->nvals; k++) {
			if (r->ids[k] < 0)
				continue;
			for (c = 0; c < NCC; c++)
				if (group_has(&b->pol->groups[r->ids[k]], c) &&
				    b->gcov[c] == 0) {
					b->gcov[c] = r->line;
					b->gcovg[c] = r->ids[k];
				}
		}
	}
}

/* The audience of scope s into out: who its rules name (or the built-in
 * when it has none), less the never rules, plus the producer. */
static void
scope_audience(
    const struct builder *b, const struct pscope *s, unsigned char *out)
{
	const struct policy *pol = b->pol;
	int c, m;

	if (!s->any ? s->level <= TLP_GREEN
		    : (s->kl[T_EVERYONE] || s->kl[T_COMMUNITY]))
		bm_all(out, pol->bmlen, b->ms->n);
	else {
		memset(out, 0, pol->bmlen);
		for (c = 0; c < NCC; c++)
			if (b->sc[c] || b->gcov[c])
				for (m = b->cchead[c]; m >= 0; m = b->ccnext[m])
					bm_set(out, m);
		for (m = 0; m < b->ms->n; m++)
			if (b->sm[m])
				bm_set(out, m);
	}
	bm_mask_nevers(b, out);
	if (s->producer >= 0)
		bm_set(out, s->producer);
}

/*
 * One level of a producer's file (level 1..5), or the directory rules of
 * hub.policy (level 0): checks the grants against each other and against
 * the never rules in force (b->nc, b->nm, b->nevbm), and fills `out` with
 * the audience (the producer included).  Sets bit `level` of *everyone
 * when the level goes to everyone.
 */
static void
scope_compile(struct builder *b, struct pfile *f, int level, int producer,
    unsigned char *out, unsigned *everyone)
{
	struct pscope s;

	memset(&s, 0, sizeof(s));
	s.level = level;
	s.producer = producer;
	s.nobody_rule = -1;
	if (level == 0)
		snprintf(s.what, sizeof(s.what), "the directory");
	else
		snprintf(
		    s.what, sizeof(s.what), "TLP:%s", marking_tlp_name(level));
	pol_scope_collect(b, f, &s);
	groups_cover(b, f, level);
	pol_lint_grants(b, f, &s);
	scope_audience(b, &s, out);
	if (s.kl[T_EVERYONE] || (!s.any && level == TLP_CLEAR))
		*everyone |= 1u << level;
}

/* --- producers --- */

/* The `default` rule of a producer's file: the first one; the same again
 * is a duplicate, another level an error. */
static void
defaults_read(struct builder *b, struct pfile *f, struct pol_prod *pp)
{
	int i;

	for (i = 0; i < f->nrules; i++) {
		struct prule *r = &f->rules[i];

		if (r->kind != R_DEFAULT)
			continue;
		if (pp->defrule >= 0 && r->level == pp->deflevel) {
			WARN(b, f, r->line,
			    "duplicate: '%s' (first at line %d); remove one",
			    r->text, f->rules[pp->defrule].line);
			continue;
		}
		if (pp->defrule >= 0) {
			ERR(b, f, r->line,
			    "'default' given twice (first at line %d); keep "
			    "one",
			    f->rules[pp->defrule].line);
			continue;
		}
		pp->defrule = i;
		pp->deflevel = r->level;
	}
}

/* hub.policy: the hub-wide never rules, and the directory. */
static void
hub_compile(struct builder *b)
{
	struct policy *pol = b->pol;
	struct pfile *hf;

	if (pol->hubfile < 0) {
		bm_all(bm_of(pol, 0, 0), pol->bmlen, pol->n);
		return;
	}
	hf = &pol->files[pol->hubfile];
	nevers_read(b, hf, -1, b->hnc, b->hnm);
	nevers_in_force(b, NULL, -1);
	scope_compile(
	    b, hf, 0, -1, bm_of(pol, 0, 0), &pol->prods[pol->n + 1].everyone);
	pol->prods[pol->n + 1].file = pol->hubfile;
}

static void
producer_compile(struct builder *b, struct pfile *f)
{
	struct policy *pol = b->pol;
	struct pol_prod *pp = &pol->prods[f->member];
	int l, p = f->member;

	nevers_in_force(b, f, p);
	pp->file = (int)(f - pol->files);
	defaults_read(b, f, pp);
	for (l = TLP_CLEAR; l < TLP_NLEVELS; l++)
		scope_compile(b, f, l, p, bm_of(pol, p, l), &pp->everyone);
	pol_lint_order(b, f, p, pp->everyone);
}

/* Every producer without a file: the built-in levels minus the hub-wide
 * never rules; then the pointers of every producer. */
static void
prods_finish(struct builder *b)
{
	struct policy *pol = b->pol;
	int p, l;

	nevers_in_force(b, NULL, -1);
	for (p = 0; p <= pol->n; p++) {
		struct pol_prod *pp = &pol->prods[p];

		if (pp->file >= 0)
			continue;
		pp->everyone = 1u << TLP_CLEAR;
		for (l = TLP_CLEAR; l < TLP_NLEVELS; l++) {
			unsigned char *bm = bm_of(pol, p, l);

			if (l <= TLP_GREEN) {
				bm_all(bm, pol->bmlen, pol->n);
				bm_mask_nevers(b, bm);
			}
			if (p < pol->n)
				bm_set(bm, p);
		}
	}
	for (p = 0; p <= pol->n + 1; p++) {
		struct pol_prod *pp = &pol->prods[p];

		for (l = TLP_CLEAR; l < TLP_NLEVELS; l++)
			pp->aud[l] = bm_of(pol, p == pol->n + 1 ? 0 : p,
			    p == pol->n + 1 ? 0 : l);
		pp->aud[TLP_NONE] = pp->aud[pp->deflevel];
	}
}

/* The hash table from producer code to compiled producer (prod_find). */
static int
slots_build(struct policy *pol, const struct members *ms)
{
	uint32_t size = 8, i;
	unsigned bits = 3;
	int p;

	while (size < 2 * (uint32_t)(ms->n + 1)) {
		size <<= 1;
		bits++;
	}
	if ((pol->slots = hub_calloc(size, sizeof(*pol->slots))) == NULL)
		return -1;
	for (i = 0; i < size; i++)
		pol->slots[i].prod = -1;
	pol->mask = size - 1;
	pol->shift = 32 - bits;
	for (p = 0; p <= ms->n; p++) {
		uint32_t code = p < ms->n ? ms->v[p].code : POLICY_HUB_PRODUCER;

		i = (code * 0x9e3779b1u) >> pol->shift;
		while (pol->slots[i].prod >= 0)
			i = (i + 1) & pol->mask;
		pol->slots[i].code = code;
		pol->slots[i].prod = p < ms->n ? p : ms->n + 1;
	}
	return 0;
}

/*
 * Everything from texts: names are what explain and policy_files show,
 * paths what error messages show.  Reads every file, resolves the values,
 * compiles hub.policy, then each producer's file, then the producers
 * without one; the findings go to errs in file and line order.
 */
int
pol_build(int n, const char *const names[], const char *const paths[],
    const char *const texts[], const size_t lens[], const struct members *ms,
    struct policy **out, struct cfg_errs *errs)
{
	struct builder b;
	struct policy *pol;
	int i;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	b.ms = ms;
	b.errs = errs;
	if (builder_alloc(&b, n) == -1)
		goto oom;
	pol = b.pol;
	members_index(&b);
	prods_init(pol);
	for (i = 0; i < n && !b.oom; i++)
		pol_file_add(&b, names[i], paths[i], texts[i], lens[i]);
	if (!b.oom)
		pol_values_resolve(&b);
	if (b.oom)
		goto oom;
	hub_compile(&b);
	for (i = 0; i < pol->nfiles; i++)
		if (pol->files[i].member >= 0)
			producer_compile(&b, &pol->files[i]);
	prods_finish(&b);
	if (slots_build(pol, ms) == -1 || b.oom)
		goto oom;
	pol_err_flush(&b);
	builder_clear(&b);
	if (b.bad) {
		policy_free(pol);
		return -1;
	}
	*out = pol;
	return 0;
oom:
	if (b.pol != NULL && b.pol->files != NULL)
		pol_err_flush(&b);
	cfg_errs_add(errs, n > 0 ? paths[0] : "policy", 0, "out of memory");
	builder_clear(&b);
	policy_free(b.pol);
	return -1;
}

static void
policy_clear_files(struct policy *pol)
{
	int i, k;

	for (i = 0; i < pol->nfiles; i++) {
		struct pfile *f = &pol->files[i];

		for (k = 0; k < f->nrules; k++)
			hub_free(f->rules[k].mem);
		hub_free(f->rules);
		hub_free(f->name);
		hub_free(f->path);
	}
	hub_free(pol->files);
	pol->files = NULL;
	pol->nfiles = 0;
}

void
policy_free(struct policy *pol)
{
	if (pol == NULL)
		return;
	policy_clear_files(pol);
	hub_free(pol->groups);
	hub_free(pol->slots);
	hub_free(pol->codes);
	hub_free(pol->bits);
	hub_free(pol->prods);
	hub_free(pol);
}

/* --- the decision --- */

int
policy_level(const struct policy *pol, uint32_t producer, int tlp)
{
	if ((unsigned)tlp >= TLP_NLEVELS)
		return TLP_RED;
	if (tlp != TLP_NONE)
		return tlp;
	if (pol == NULL)
		return TLP_AMBER;
	return prod_find(pol, producer)->deflevel;
}

int
policy_obj_level(const struct policy *pol, const struct policy_obj *o)
{
	int level = policy_level(pol, o->producer, o->tlp), def;

	if (o->flags & STORE_F_UNRESOLVED) {
		def = policy_level(pol, o->producer, TLP_NONE);
		if (def > level)
			level = def;
	}
	return level;
}

int
policy_visible(const struct policy *pol, const struct member *reader,
    const struct policy_obj *o)
{
	unsigned tlp = (unsigned)o->tlp, i;
	int k;

	if (reader == NULL)
		return 0;
	if (reader->code == o->producer)
		return 1;
	if (tlp >= TLP_NLEVELS)
		tlp = TLP_RED;
	if (pol != NULL) {
		const struct pol_prod *p = prod_find(pol, o->producer);
		const unsigned char *bm;

		i = (unsigned)reader->index;
		if (i >= (unsigned)pol->n || pol->codes[i] != reader->code)
			return 0;
		/* a producer that is no longer a member: its rules left
		 * with it, so nobody but the admins sees its objects until
		 * it has a policy again */
		if (p == &pol->prods[pol->n])
			return (reader->roles & MEMBER_ADMIN) != 0;
		/* a marking its producer has not defined (yet) never makes
		 * an object more visible than the producer's default */
		if ((o->flags & STORE_F_UNRESOLVED) &&
		    (tlp == TLP_NONE || (int)tlp < p->deflevel))
			tlp = (unsigned)p->deflevel;
		bm = p->aud[tlp];
		if (!(bm[i >> 3] & (1u << (i & 7))))
			return 0;
	} else if (o->producer != POLICY_HUB_PRODUCER &&
	    (tlp == TLP_NONE || tlp >= TLP_AMBER ||
		(o->flags & STORE_F_UNRESOLVED)))
		return 0;
	if (o->flags & STORE_F_RELEASE) {
		for (k = 0; k < o->nrelease; k++)
			if (o->release[2 * k] == reader->country[0] &&
			    o->release[2 * k + 1] == reader->country[1])
				return 1;
		return 0;
	}
	return 1;
}

const unsigned char *
policy_audience(const struct policy *pol, uint32_t producer, int level)
{
	if (pol == NULL || level < 0 || level >= TLP_NLEVELS)
		return NULL;
	return prod_find(pol, producer)->aud[level];
}

int
policy_everyone(const struct policy *pol, uint32_t producer, int level)
{
	const struct pol_prod *p;

	if (level < 0 || level >= TLP_NLEVELS)
		return 0;
	if (pol == NULL)
		return level == TLP_CLEAR;
	p = prod_find(pol, producer);
	if (level == TLP_NONE)
		level = p->deflevel;
	return p->everyone >> level & 1;
}

void
policy_files(const struct policy *pol,
    void (*cb)(const char *file, const char *sha256hex, void *), void *arg)
{
	int i;

	if (pol == NULL)
		return;
	for (i = 0; i < pol->nfiles; i++)
		cb(pol->files[i].name, pol->files[i].sha256, arg);
}
