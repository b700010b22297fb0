/*
 * policy_int.h -- what the parts of the policy module share, and nothing
 * else includes: the rules as read, the compiled policy, and the builder
 * that turns one into the other.  The public API is ctihub/policy.h.
 *
 *   policy_parse.c    files and text -> rules (syntax, names, values)
 *   policy_lint.c     findings: errors and warnings, in file:line order
 *   policy_compile.c  rules -> bitmaps of readers; the decision per object
 *   policy_explain.c  why a reader may or may not see an object
 */
#ifndef CTIHUB_POLICY_INT_H
#define CTIHUB_POLICY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/marking.h"
#include "ctihub/policy.h"

#define NCC	 (26 * 26) /* two upper-case letters */
#define HUB_FILE "hub.policy"
#define SUFFIX	 ".policy"

enum rkind {
	R_DEFAULT,   /* default <level> */
	R_SHARE,     /* share <level> with <target> [values] */
	R_NEVER,     /* never <target> values */
	R_GROUP,     /* group NAME = CC... */
	R_DIRECTORY, /* share directory with <target> [values] */
};

enum target {
	T_EVERYONE,
	T_COMMUNITY,
	T_NOBODY,
	T_COUNTRIES,
	T_MEMBERS,
	T_GROUPS,
	T_NTARGETS,
};

/* One row per target of share and never. */
struct ptarget {
	const char *name;
	const char *singular; /* a likely misspelling, and the unit */
	int list;	      /* takes values */
};

extern const struct ptarget pol_targets[T_NTARGETS];
/* The level as a policy file writes it ("amber+strict"). */
extern const char *const pol_level_words[TLP_NLEVELS];

/* A rule as read: one line of a file.  Everything points into `mem`, one
 * allocation per rule. */
struct prule {
	int line;
	int kind;   /* enum rkind */
	int level;  /* R_DEFAULT, R_SHARE: enum tlp */
	int target; /* R_SHARE, R_NEVER, R_DIRECTORY: enum target */
	int nvals;
	const char *text; /* as written, without comment and outer blanks */
	char **vals;	  /* R_GROUP: the countries */
	int *ids;	  /* country, member or group index of each; -1 */
	const char *name; /* R_GROUP */
	int dup;	  /* a duplicate of an earlier rule: ignored */
	void *mem;
};

struct pfile {
	char *name; /* as in the directory: explain, policy_files */
	char *path; /* in error messages */
	char sha256[65];
	int hub;
	int member; /* producer's member index; -1 */
	struct prule *rules;
	int nrules, cap;
};

struct pgroup {
	const char *name; /* in the hub file's rule */
	int line;
	int ncc;
	unsigned char cc[(NCC + 7) / 8];
};

/* The compiled policy of one producer.  aud[TLP_NONE] is the audience of
 * the default level, so an unmarked object costs nothing more. */
struct pol_prod {
	const unsigned char *aud[TLP_NLEVELS];
	uint32_t code;
	int deflevel;
	int file;	   /* index in files; -1: the built-in defaults */
	int defrule;	   /* the `default` rule's index in the file; -1 */
	unsigned everyone; /* bit L: level L goes to everyone */
};

struct pol_slot {
	uint32_t code;
	int32_t prod; /* index in prods; -1: empty */
};

struct policy {
	struct pol_slot *slots; /* open addressing, linear probing */
	uint32_t mask;
	unsigned shift;
	int n;		 /* members */
	uint32_t *codes; /* member codes by index, to check readers */
	size_t bmlen;	 /* bytes of one bitmap */
	unsigned char *bits;
	struct pol_prod *prods; /* n members, then other producers, the hub */
	struct pfile *files;
	int nfiles;
	int hubfile;	       /* index in files; -1 */
	struct pgroup *groups; /* sorted by name */
	int ngroups;
};

/* An error or a warning, kept until the end so that they come out in
 * file and line order rather than in the order of the checks. */
struct perr {
	int file, line, seq;
	int sev; /* enum cfg_sev */
	char *msg;
};

#define PERR_MAX 1000

/* Where a never rule is, to cite it (by the file's name: every file is
 * in the same directory). */
struct ref {
	const char *file;
	int line;
};

struct builder {
	const struct members *ms;
	struct cfg_errs *errs;
	struct policy *pol;
	const struct member **byid; /* by id, once values resolve */
	int *mcc;		    /* country index of each member; -1 */
	int *cchead, *ccnext;	    /* the members of each country */
	int *sc, *sm, *sg;	    /* first line of a value in one scope */
	int *gcov, *gcovg;	    /* countries of granted groups */
	struct ref *hnc, *hnm;	    /* hub-wide never rules */
	struct ref *nc, *nm;	    /* never rules in force for a producer */
	unsigned char *nevbm;
	struct perr *ev;
	int nev, dropped, wdropped;
	int bad, oom;
};

/*
 * One scope: one level of a producer's file (level 1..5), or the
 * directory rules of hub.policy (level 0), as the checks and the
 * audience of that scope see it.
 */
struct pscope {
	int level;
	int producer;	 /* the file's member index; -1 for hub.policy */
	char what[32];	 /* "TLP:AMBER", "the directory" */
	int kl[3];	 /* line of the everyone, community, nobody rule */
	int any;	 /* the scope has a rule */
	int other;	 /* line of the first rule that shares with someone */
	int nobody_rule; /* index of the `share ... with nobody` rule; -1 */
};

/* An error keeps the whole set out; a warning is reported only. */
#define ERR(b, f, line, ...)                                                   \
	pol_err_add(                                                           \
	    (b), CFG_ERROR, (int)((f) - (b)->pol->files), (line), __VA_ARGS__)
#define WARN(b, f, line, ...)                                                  \
	pol_err_add((b), CFG_WARNING, (int)((f) - (b)->pol->files), (line),    \
	    __VA_ARGS__)

/* The bitmap of readers of (prod, level); level 0 is the directory. */
static inline unsigned char *
bm_of(const struct policy *pol, int prod, int level)
{
	if (level == 0)
		return pol->bits +
		    ((size_t)(pol->n + 1) * (TLP_NLEVELS - 1)) * pol->bmlen;
	return pol->bits +
	    ((size_t)prod * (TLP_NLEVELS - 1) + (size_t)(level - 1)) *
	    pol->bmlen;
}

static inline void
bm_set(unsigned char *bm, int i)
{
	bm[i >> 3] |= (unsigned char)(1u << (i & 7));
}

static inline int
bm_get(const unsigned char *bm, int i)
{
	return bm[i >> 3] >> (i & 7) & 1;
}

/* 1 if country index c is in group g. */
static inline int
group_has(const struct pgroup *g, int c)
{
	return (g->cc[c >> 3] & (1u << (c & 7))) != 0;
}

/* 1 if rule r belongs to the scope of `level`: a share rule of that
 * level, or (level 0) a directory rule. */
static inline int
rule_in_scope(const struct prule *r, int level)
{
	return level == 0 ? r->kind == R_DIRECTORY
			  : r->kind == R_SHARE && r->level == level;
}

/* The compiled policy of a producer: the built-in defaults (no file) for
 * one that is not a member. */
static inline const struct pol_prod *
prod_find(const struct policy *pol, uint32_t code)
{
	uint32_t i = (code * 0x9e3779b1u) >> pol->shift;

	for (;;) {
		const struct pol_slot *s = &pol->slots[i];

		if (s->prod < 0)
			return &pol->prods[pol->n];
		if (s->code == code)
			return &pol->prods[s->prod];
		i = (i + 1) & pol->mask;
	}
}

/* policy_lint.c */
void pol_err_add(struct builder *, int, int, int, const char *, ...)
    __attribute__((format(printf, 5, 6)));
void pol_err_flush(struct builder *);
void pol_scope_clear(struct builder *);
int pol_value_seen(struct builder *, struct prule *, int);
void pol_lint_own_producer(struct builder *, struct pfile *, int, const char *);
void pol_scope_collect(struct builder *, struct pfile *, struct pscope *);
void pol_lint_grants(struct builder *, struct pfile *, const struct pscope *);
void pol_lint_order(struct builder *, struct pfile *, int, unsigned);

/* policy_parse.c */
int pol_cc_index(const char *);
void pol_file_add(struct builder *, const char *name, const char *path,
    const char *text, size_t len);
void pol_values_resolve(struct builder *);

/* policy_compile.c */
int pol_rule_covers(const struct policy *, const struct prule *, int, int);
int pol_build(int, const char *const[], const char *const[],
    const char *const[], const size_t[], const struct members *,
    struct policy **, struct cfg_errs *);

#endif
