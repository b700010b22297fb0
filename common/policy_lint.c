/*
 * policy_lint.c -- the findings on a set of policy files (see policy.h):
 * collecting errors and warnings and handing them out in file and line
 * order, and the checks that compare rules with each other.  Reading the
 * rules is policy_parse.c's job, building the audiences policy_compile.c's.
 *
 * Errors (ERR) keep the whole set out: syntax, unknown keywords and
 * names, rules FIRST TLP 2.0 forbids (AMBER+STRICT or RED beyond named
 * members), and true contradictions, where the meaning is ambiguous: a
 * level shared with nobody and with someone, a `default` or a group given
 * twice differently, a more restrictive level reaching a member a less
 * restrictive one does not, a level going to everyone while a less
 * restrictive one goes to the community only.  Findings that leave the
 * meaning clear are warnings (WARN) and the set is used: duplicates,
 * grants that change nothing, grants a never rule cancels.  A never rule
 * takes its members out of every level alike, so it can only add
 * warnings: appending one to a set that loads always loads, and narrows.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/marking.h"
#include "ctihub/policy.h"

#include "policy_int.h"

/* Checks one value of a grant (rule r, value k) against the never rules
 * and the wider grants of its scope. */
typedef void grant_lint_cb(struct builder *, struct pfile *,
    const struct pscope *, struct prule *, int k);

static int cmp_perr(const void *, const void *);
static int *scope_seen(const struct builder *, int target);
static void scope_nobody_check(
    struct builder *, struct pfile *, const struct pscope *);
static grant_lint_cb grant_lint_country;
static grant_lint_cb grant_lint_member;
static grant_lint_cb grant_lint_group;
static int first_grant(const struct builder *, const struct pfile *, int, int);
static int first_share(const struct pfile *, int);
static void everyone_check(
    struct builder *, struct pfile *, int, int, unsigned);
static void order_error(struct builder *, struct pfile *, int, int, int, int);

static grant_lint_cb *const grant_lints[T_NTARGETS] = {
    [T_COUNTRIES] = grant_lint_country,
    [T_MEMBERS] = grant_lint_member,
    [T_GROUPS] = grant_lint_group,
};

/* --- findings --- */

void
pol_err_add(
    struct builder *b, int sev, int file, int line, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	if (sev == CFG_ERROR)
		b->bad = 1;
	if (b->nev == PERR_MAX) {
		if (sev == CFG_ERROR)
			b->dropped++;
		else
			b->wdropped++;
		return;
	}
	if (b->ev == NULL &&
	    (b->ev = hub_calloc(PERR_MAX, sizeof(*b->ev))) == NULL) {
		b->oom = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((b->ev[b->nev].msg = hub_strdup(msg)) == NULL) {
		b->oom = 1;
		return;
	}
	b->ev[b->nev].file = file;
	b->ev[b->nev].sev = sev;
	b->ev[b->nev].line = line;
	b->ev[b->nev].seq = b->nev;
	b->nev++;
}

static int
cmp_perr(const void *a, const void *b)
{
	const struct perr *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hands the errors and warnings to the caller, by file and line. */
void
pol_err_flush(struct builder *b)
{
	int i;

	if (b->nev > 0)
		qsort(b->ev, (size_t)b->nev, sizeof(*b->ev), cmp_perr);
	for (i = 0; i < b->nev; i++) {
		cfg_errs_addsev(b->errs, b->ev[i].sev,
		    b->pol->files[b->ev[i].file].path, b->ev[i].line, "%s",
		    b->ev[i].msg);
		hub_free(b->ev[i].msg);
	}
	b->errs->dropped += b->dropped;
	b->errs->wdropped += b->wdropped;
	hub_free(b->ev);
	b->ev = NULL;
	b->nev = 0;
}

/* --- duplicates within one scope --- */

/* Forgets which values the rules of one scope have named so far. */
void
pol_scope_clear(struct builder *b)
{
	memset(b->sc, 0, sizeof(*b->sc) * NCC);
	memset(b->sm, 0, sizeof(*b->sm) * (size_t)(b->ms->n + 1));
	memset(b->sg, 0, sizeof(*b->sg) * (size_t)(b->pol->ngroups + 1));
}

/* The first line naming each value of a target kind in this scope. */
static int *
scope_seen(const struct builder *b, int target)
{
	return target == T_COUNTRIES ? b->sc
	    : target == T_MEMBERS    ? b->sm
				     : b->sg;
}

/*
 * Value k of rule r (one that names something, r->ids[k] >= 0) in the
 * current scope: the line that named it first, and then r->ids[k] becomes
 * -1 (the caller warns of the duplicate); or 0, and it is recorded.
 */
int
pol_value_seen(struct builder *b, struct prule *r, int k)
{
	int *seen = scope_seen(b, r->target), id = r->ids[k];

	if (seen[id]) {
		r->ids[k] = -1;
		return seen[id];
	}
	seen[id] = r->line;
	return 0;
}

/* A member rule naming the file's own producer. */
void
pol_lint_own_producer(
    struct builder *b, struct pfile *f, int line, const char *v)
{
	WARN(b, f, line,
	    "has no effect: %s is this file's producer, which always sees "
	    "its own objects; remove it",
	    v);
}

/* --- one scope: the grants of a level, or of the directory --- */

/*
 * Who the rules of scope s name (b->sc, b->sm, b->sg, and the lines of
 * the everyone, community and nobody rules), warning of duplicates; an
 * error when the scope goes to nobody and to someone.
 */
void
pol_scope_collect(struct builder *b, struct pfile *f, struct pscope *s)
{
	int i, k, first;

	pol_scope_clear(b);
	for (i = 0; i < f->nrules; i++) {
		struct prule *r = &f->rules[i];

		if (!rule_in_scope(r, s->level))
			continue;
		s->any = 1;
		if (!pol_targets[r->target].list) {
			if (s->kl[r->target]) {
				WARN(b, f, r->line,
				    "duplicate: '%s' (first at line %d); "
				    "remove one",
				    r->text, s->kl[r->target]);
				r->dup = 1;
				continue;
			}
			s->kl[r->target] = r->line;
			if (r->target == T_NOBODY)
				s->nobody_rule = i;
			else if (s->other == 0)
				s->other = r->line;
			continue;
		}
		for (k = 0; k < r->nvals; k++) {
			if (r->ids[k] < 0)
				continue;
			if ((first = pol_value_seen(b, r, k)) > 0) {
				WARN(b, f, r->line,
				    "duplicate: %s already goes to %s %s "
				    "(first at line %d); remove one",
				    s->what, pol_targets[r->target].singular,
				    r->vals[k], first);
				continue;
			}
			if (s->other == 0)
				s->other = r->line;
		}
	}
	scope_nobody_check(b, f, s);
}

static void
scope_nobody_check(struct builder *b, struct pfile *f, const struct pscope *s)
{
	int nl;

	if (s->nobody_rule < 0 || !s->other)
		return;
	nl = f->rules[s->nobody_rule].line;
	ERR(b, f, nl > s->other ? nl : s->other,
	    "contradictory: %s goes to nobody (line %d) and is shared by line "
	    "%d; remove one of them",
	    s->what, nl, s->other);
}

static void
grant_lint_country(struct builder *b, struct pfile *f, const struct pscope *s,
    struct prule *r, int k)
{
	int id = r->ids[k];
	const char *v = r->vals[k];

	if (b->nc[id].line)
		WARN(b, f, r->line,
		    "unreachable: %s to country %s is removed by a never "
		    "rule (never at %s:%d); remove %s here or drop the never "
		    "rule",
		    s->what, v, b->nc[id].file, b->nc[id].line, v);
	else if (b->gcov[id])
		WARN(b, f, r->line,
		    "has no effect: country %s is in group %s, which line %d "
		    "already gives %s; remove %s here",
		    v, b->pol->groups[b->gcovg[id]].name, b->gcov[id], s->what,
		    v);
}

static void
grant_lint_member(struct builder *b, struct pfile *f, const struct pscope *s,
    struct prule *r, int k)
{
	const struct members *ms = b->ms;
	int id = r->ids[k], c = b->mcc[id];
	const char *v = r->vals[k];

	if (id == s->producer)
		pol_lint_own_producer(b, f, r->line, v);
	else if (b->nm[id].line)
		WARN(b, f, r->line,
		    "unreachable: %s to member %s is removed by a never rule "
		    "(never at %s:%d); remove %s here or drop the never rule",
		    s->what, v, b->nm[id].file, b->nm[id].line, v);
	else if (c >= 0 && b->nc[c].line)
		WARN(b, f, r->line,
		    "unreachable: %s to member %s (country %s) is removed by "
		    "a never rule (never at %s:%d); remove %s here or drop the "
		    "never rule",
		    s->what, v, ms->v[id].country, b->nc[c].file, b->nc[c].line,
		    v);
	else if (c >= 0 && b->sc[c])
		WARN(b, f, r->line,
		    "has no effect: member %s is in country %s, which line %d "
		    "already gives %s; remove %s here",
		    v, ms->v[id].country, b->sc[c], s->what, v);
	else if (c >= 0 && b->gcov[c])
		WARN(b, f, r->line,
		    "has no effect: member %s (country %s) is in group %s, "
		    "which line %d already gives %s; remove %s here",
		    v, ms->v[id].country, b->pol->groups[b->gcovg[c]].name,
		    b->gcov[c], s->what, v);
}

static void
grant_lint_group(struct builder *b, struct pfile *f, const struct pscope *s,
    struct prule *r, int k)
{
	const struct pgroup *g = &b->pol->groups[r->ids[k]];
	const char *v = r->vals[k];
	int c, first = -1, all = g->ncc > 0;

	for (c = 0; c < NCC && all; c++)
		if (group_has(g, c)) {
			if (b->nc[c].line == 0)
				all = 0;
			else if (first < 0)
				first = c;
		}
	if (all && first >= 0)
		WARN(b, f, r->line,
		    "unreachable: %s to group %s is removed whole by never "
		    "rules (never at %s:%d); remove %s here or drop the never "
		    "rules",
		    s->what, v, b->nc[first].file, b->nc[first].line, v);
}

/*
 * The grants of scope s that cannot apply (a never rule removes them) or
 * add nothing (a wider grant of the scope covers them).  Needs what
 * pol_scope_collect found and the countries of granted groups (b->gcov).
 */
void
pol_lint_grants(struct builder *b, struct pfile *f, const struct pscope *s)
{
	int broad = s->kl[T_EVERYONE] ? T_EVERYONE
	    : s->kl[T_COMMUNITY]      ? T_COMMUNITY
				      : -1;
	int i, k;

	for (i = 0; i < f->nrules; i++) {
		struct prule *r = &f->rules[i];

		if (!rule_in_scope(r, s->level) || r->dup)
			continue;
		if (r->target == T_COMMUNITY && s->kl[T_EVERYONE]) {
			WARN(b, f, r->line,
			    "has no effect: %s already goes to everyone (line "
			    "%d), which includes the community; remove this "
			    "rule",
			    s->what, s->kl[T_EVERYONE]);
			continue;
		}
		if (!pol_targets[r->target].list)
			continue;
		if (broad >= 0) {
			WARN(b, f, r->line,
			    "has no effect: %s already goes to %s (line %d); "
			    "remove '%s'",
			    s->what,
			    broad == T_EVERYONE ? "everyone" : "the community",
			    s->kl[broad], r->text);
			continue;
		}
		for (k = 0; k < r->nvals; k++)
			if (r->ids[k] >= 0)
				grant_lints[r->target](b, f, s, r, k);
	}
}

/* --- the order of the levels --- */

/* The first share rule of `level` in f that takes in member m; -1. */
static int
first_grant(const struct builder *b, const struct pfile *f, int level, int m)
{
	int i;

	for (i = 0; i < f->nrules; i++) {
		const struct prule *r = &f->rules[i];

		if (r->kind == R_SHARE && r->level == level &&
		    pol_rule_covers(b->pol, r, m, b->mcc[m]))
			return r->line;
	}
	return -1;
}

static int
first_share(const struct pfile *f, int level)
{
	int i;

	for (i = 0; i < f->nrules; i++)
		if (f->rules[i].kind == R_SHARE && f->rules[i].level == level)
			return f->rules[i].line;
	return -1;
}

/* `everyone` will reach peer hubs too: a level that goes to everyone
 * needs every less restrictive level to go to everyone as well. */
static void
everyone_check(
    struct builder *b, struct pfile *f, int l, int l2, unsigned everyone)
{
	int i, la = -1, lb;

	if (!(everyone >> l & 1) || (everyone >> l2 & 1))
		return;
	for (i = 0; i < f->nrules && la < 0; i++)
		if (f->rules[i].kind == R_SHARE && f->rules[i].level == l &&
		    f->rules[i].target == T_EVERYONE)
			la = f->rules[i].line;
	lb = first_share(f, l2);
	if (lb > 0)
		ERR(b, f, la,
		    "contradictory: TLP:%s goes to everyone but TLP:%s only "
		    "to the community (lines %d and %d); everyone will also "
		    "take in peer hubs: give TLP:%s to everyone too, or "
		    "TLP:%s to the community",
		    marking_tlp_name(l), marking_tlp_name(l2), la, lb,
		    marking_tlp_name(l2), marking_tlp_name(l));
	else
		ERR(b, f, la,
		    "contradictory: TLP:%s goes to everyone (line %d) but "
		    "TLP:%s only to the community (it has no share rule, so "
		    "the built-in applies); everyone will also take in peer "
		    "hubs: add 'share %s with everyone', or give TLP:%s to "
		    "the community",
		    marking_tlp_name(l), la, marking_tlp_name(l2),
		    pol_level_words[l2], marking_tlp_name(l));
}

/* Level l reaches member x, and `more` other members, that the less
 * restrictive level l2 does not. */
static void
order_error(struct builder *b, struct pfile *f, int l, int l2, int x, int more)
{
	const struct members *ms = b->ms;
	char more_s[48] = "";
	int la, lb;

	if (more)
		snprintf(more_s, sizeof(more_s), " (and %d more member%s)",
		    more, more == 1 ? "" : "s");
	la = first_grant(b, f, l, x);
	lb = first_share(f, l2);
	if (la > 0 && lb > 0)
		ERR(b, f, la,
		    "contradictory: TLP:%s reaches %s but TLP:%s does not "
		    "(lines %d and %d)%s; a more restrictive level must not "
		    "reach further: add %s to TLP:%s or remove it from TLP:%s",
		    marking_tlp_name(l), ms->v[x].id, marking_tlp_name(l2), la,
		    lb, more_s, ms->v[x].id, marking_tlp_name(l2),
		    marking_tlp_name(l));
	else if (la > 0)
		ERR(b, f, la,
		    "contradictory: TLP:%s reaches %s but TLP:%s does not "
		    "(line %d, and TLP:%s has no share rule, so it goes to "
		    "nobody)%s; add 'share %s with members %s' or remove %s "
		    "from TLP:%s",
		    marking_tlp_name(l), ms->v[x].id, marking_tlp_name(l2), la,
		    marking_tlp_name(l2), more_s, pol_level_words[l2],
		    ms->v[x].id, ms->v[x].id, marking_tlp_name(l));
	else
		ERR(b, f, lb > 0 ? lb : 0,
		    "contradictory: TLP:%s reaches %s but TLP:%s does not "
		    "(line %d, and TLP:%s has no share rule, so it goes to "
		    "%s)%s; add a 'share %s' rule no wider than TLP:%s, or "
		    "widen TLP:%s",
		    marking_tlp_name(l), ms->v[x].id, marking_tlp_name(l2), lb,
		    marking_tlp_name(l),
		    l == TLP_GREEN ? "the community" : "everyone", more_s,
		    pol_level_words[l], marking_tlp_name(l2),
		    marking_tlp_name(l2));
}

/*
 * Each level of producer p (file f) must reach no one that a less
 * restrictive level does not: CLEAR >= GREEN >= AMBER >= AMBER+STRICT >=
 * RED; and one that goes to everyone needs the less restrictive ones to
 * go to everyone too.  Runs on the compiled audiences.
 */
void
pol_lint_order(struct builder *b, struct pfile *f, int p, unsigned everyone)
{
	int l, l2, x, more;
	size_t j;

	for (l = TLP_GREEN; l < TLP_NLEVELS; l++) {
		const unsigned char *a = bm_of(b->pol, p, l);

		for (l2 = TLP_CLEAR; l2 < l; l2++) {
			const unsigned char *a2 = bm_of(b->pol, p, l2);

			for (j = 0, x = -1, more = 0; j < b->pol->bmlen; j++) {
				unsigned d = a[j] & ~a2[j] & 0xffu;

				if (d == 0)
					continue;
				if (x < 0)
					x = (int)j * 8 + __builtin_ctz(d);
				more += __builtin_popcount(d);
			}
			if (x < 0)
				everyone_check(b, f, l, l2, everyone);
			else
				order_error(b, f, l, l2, x, more - 1);
		}
	}
}
