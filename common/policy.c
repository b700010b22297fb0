/*
 * policy.c -- sharing policies (see policy.h): reads hub.policy and the
 * <member-id>.policy files, checks them (every finding as "file:line:
 * message", all of them in one run), and compiles them into one bitmap of
 * readers per producer and TLP level, so that policy_visible is a hash
 * probe and a bit test.  Does not read objects or markings: the caller
 * passes what policy_visible needs in a struct policy_obj.
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
 *
 *   # hub.policy
 *   group asean = BN KH ID LA MY MM PH SG TH VN
 *   never members cert-xx
 *   share directory with community
 *
 *   # cert-br.policy
 *   default amber
 *   share amber with countries IN ZA
 *   share amber with groups asean
 *   share amber+strict with members cert-in
 *   never countries US
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "ctihub/alloc.h"
#include "ctihub/country.h"
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

#define IN_HUB	    1
#define IN_PRODUCER 2

/* One row per directive: where it may appear and how it reads. */
struct pdirective {
	const char *name;
	enum rkind kind;
	int where;
	const char *usage;
};

static const struct pdirective pdirectives[] = {
    {"default", R_DEFAULT, IN_PRODUCER,
	"'default <level>' (clear, green, amber, amber+strict or red)"},
    {"share", R_SHARE, IN_HUB | IN_PRODUCER,
	"'share <level> with <target>', e.g. 'share amber with countries "
	"BR IN'"},
    {"never", R_NEVER, IN_HUB | IN_PRODUCER,
	"'never countries|members|groups <value>...', e.g. 'never countries "
	"US'"},
    {"group", R_GROUP, IN_HUB,
	"'group NAME = CC [CC...]', e.g. 'group asean = ID MY SG TH'"},
    {NULL, 0, 0, NULL},
};

/* One row per target of share and never. */
struct ptarget {
	const char *name;
	const char *singular; /* a likely misspelling, and the unit */
	int list;	      /* takes values */
};

static const struct ptarget ptargets[T_NTARGETS] = {
    [T_EVERYONE] = {"everyone", NULL, 0},
    [T_COMMUNITY] = {"community", NULL, 0},
    [T_NOBODY] = {"nobody", NULL, 0},
    [T_COUNTRIES] = {"countries", "country", 1},
    [T_MEMBERS] = {"members", "member", 1},
    [T_GROUPS] = {"groups", "group", 1},
};

static const char *const level_words[TLP_NLEVELS] = {
    "none", "clear", "green", "amber", "amber+strict", "red"};

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
	const struct member **byid; /* sorted by id */
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

/* An error keeps the whole set out; a warning is reported only. */
#define ERR(b, f, line, ...)                                                   \
	perr_add(                                                              \
	    (b), CFG_ERROR, (int)((f) - (b)->pol->files), (line), __VA_ARGS__)
#define WARN(b, f, line, ...)                                                  \
	perr_add((b), CFG_WARNING, (int)((f) - (b)->pol->files), (line),       \
	    __VA_ARGS__)

static void perr_add(struct builder *, int, int, int, const char *, ...)
    __attribute__((format(printf, 5, 6)));
static int cmp_perr(const void *, const void *);
static void perr_flush(struct builder *);
static int is_blank(char);
static int cc_index(const char *);
static int cmp_member_id(const void *, const void *);
static int cmp_group(const void *, const void *);
static int cmp_group_name(const void *, const void *);
static const struct pgroup *group_find(const struct policy *, const char *);
static int level_parse(struct builder *, struct pfile *, int, const char *);
static int target_parse(
    struct builder *, struct pfile *, int, const char *, const char *);
static int rule_add(
    struct builder *, struct pfile *, const char *, size_t, int);
static void rule_syntax(
    struct builder *, struct pfile *, struct prule *, char **, int);
static void file_read(struct builder *, struct pfile *, const char *, size_t);
static int resolve_country(struct builder *, struct pfile *, int, const char *);
static void groups_build(struct builder *, struct pfile *);
static void values_resolve(struct builder *, struct pfile *);
static int rule_covers(const struct policy *, const struct prule *, int, int);
static void scope_clear(struct builder *);
static int *scope_seen(const struct builder *, int target);
static void nevers_read(
    struct builder *, struct pfile *, int, struct ref *, struct ref *);
static void nevers_bitmap(
    struct builder *, const struct ref *, const struct ref *);
static void scope_run(
    struct builder *, struct pfile *, int, int, unsigned char *, unsigned *);
static int first_grant(const struct builder *, const struct pfile *, int, int);
static int first_share(const struct pfile *, int);
static void everyone_check(
    struct builder *, struct pfile *, int, int, unsigned);
static void order_check(struct builder *, struct pfile *, int, unsigned);
static void producer_compile(struct builder *, struct pfile *);
static void builder_clear(struct builder *);
static int sha256_hex(const char *, size_t, char[65]);
static int cmp_str(const void *, const void *);
static void prods_finish(struct builder *);
static int slots_build(struct policy *, const struct members *);
static void policy_clear_files(struct policy *);
static int policy_build(int, const char *const[], const char *const[],
    const char *const[], const size_t[], const struct members *,
    struct policy **, struct cfg_errs *);

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

/* All n bits set, the padding clear. */
static void
bm_all(unsigned char *bm, size_t len, int n)
{
	memset(bm, 0, len);
	memset(bm, 0xff, (size_t)n / 8);
	if (n % 8)
		bm[n / 8] = (unsigned char)((1u << (n % 8)) - 1);
}

static void
perr_add(struct builder *b, int sev, int file, int line, const char *fmt, ...)
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
static void
perr_flush(struct builder *b)
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

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int
cc_index(const char *s)
{
	if (s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' ||
	    s[2] != '\0')
		return -1;
	return (s[0] - 'A') * 26 + (s[1] - 'A');
}

static int
cmp_member_id(const void *a, const void *b)
{
	const struct member *const *x = a, *const *y = b;

	return strcmp((*x)->id, (*y)->id);
}

static int
cmp_group(const void *a, const void *b)
{
	const struct pgroup *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int
cmp_group_name(const void *a, const void *b)
{
	const struct pgroup *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static const struct pgroup *
group_find(const struct policy *pol, const char *name)
{
	struct pgroup key;

	if (pol->ngroups == 0)
		return NULL;
	key.name = name;
	return bsearch(&key, pol->groups, (size_t)pol->ngroups,
	    sizeof(*pol->groups), cmp_group_name);
}

/* --- reading: one rule a line --- */

static int
level_parse(struct builder *b, struct pfile *f, int line, const char *w)
{
	int t = marking_tlp_parse(w);

	if (t == TLP_NONE)
		ERR(b, f, line,
		    "unknown TLP level '%.80s' (clear, white, green, amber, "
		    "amber+strict or red)",
		    w);
	return t;
}

static int
target_parse(struct builder *b, struct pfile *f, int line, const char *w,
    const char *rule)
{
	int t;

	for (t = 0; t < T_NTARGETS; t++)
		if (strcmp(w, ptargets[t].name) == 0)
			return t;
	for (t = 0; t < T_NTARGETS; t++) {
		if (strcasecmp(w, ptargets[t].name) == 0) {
			ERR(b, f, line, "keywords are lower case: write '%s'",
			    ptargets[t].name);
			return -1;
		}
		if (ptargets[t].singular != NULL &&
		    strcasecmp(w, ptargets[t].singular) == 0) {
			ERR(b, f, line,
			    "unknown target '%.80s' in '%s': write '%s' "
			    "(plural, also for one value)",
			    w, rule, ptargets[t].name);
			return -1;
		}
	}
	ERR(b, f, line,
	    "unknown target '%.80s' in '%s' (everyone, community, countries, "
	    "members, groups or nobody)",
	    w, rule);
	return -1;
}

/* Checks the words of one rule and fills r; leaves r->kind -1 when the
 * rule is malformed (the error is reported). */
static void
rule_syntax(
    struct builder *b, struct pfile *f, struct prule *r, char **tok, int ntok)
{
	const struct pdirective *d;
	int line = r->line, voff = 0, t;
	char what[64];

	r->kind = -1;
	for (d = pdirectives; d->name != NULL; d++)
		if (strcmp(d->name, tok[0]) == 0)
			break;
	if (d->name == NULL) {
		for (d = pdirectives; d->name != NULL; d++)
			if (strcasecmp(d->name, tok[0]) == 0) {
				ERR(b, f, line,
				    "keywords are lower case: write '%s'",
				    d->name);
				return;
			}
		ERR(b, f, line, "unknown directive '%.80s' (%s)", tok[0],
		    f->hub ? "hub.policy has 'group', 'never' and 'share "
			     "directory with' rules"
			   : "a producer's file has 'default', 'share' and "
			     "'never' rules");
		return;
	}
	if (!(d->where & (f->hub ? IN_HUB : IN_PRODUCER))) {
		if (d->kind == R_GROUP)
			ERR(b, f, line,
			    "'group' belongs in hub.policy: groups are "
			    "defined there and can be used in every file");
		else
			ERR(b, f, line,
			    "'default' belongs in a producer's file "
			    "(<member-id>.policy): hub.policy has no default "
			    "level");
		return;
	}
	switch (d->kind) {
	case R_DEFAULT:
		if (ntok != 2) {
			ERR(b, f, line, "expected %s", d->usage);
			return;
		}
		if ((r->level = level_parse(b, f, line, tok[1])) == TLP_NONE)
			return;
		r->kind = R_DEFAULT;
		return;
	case R_GROUP: {
		size_t i;

		if (ntok < 4 || strcmp(tok[2], "=") != 0) {
			ERR(b, f, line, "expected %s", d->usage);
			return;
		}
		for (i = 0; tok[1][i] != '\0'; i++)
			if (!((tok[1][i] >= 'a' && tok[1][i] <= 'z') ||
				(tok[1][i] >= '0' && tok[1][i] <= '9') ||
				tok[1][i] == '_' || tok[1][i] == '-'))
				break;
		if (tok[1][i] != '\0') {
			ERR(b, f, line,
			    "group name '%.80s': use lower-case letters, "
			    "digits, '_' and '-' only",
			    tok[1]);
			return;
		}
		r->kind = R_GROUP;
		r->name = tok[1];
		voff = 3;
		break;
	}
	case R_NEVER:
		if (ntok < 2) {
			ERR(b, f, line, "incomplete rule: expected %s",
			    d->usage);
			return;
		}
		if ((t = target_parse(b, f, line, tok[1], "never")) == -1)
			return;
		if (!ptargets[t].list) {
			ERR(b, f, line,
			    "'never %s': never takes countries, members or "
			    "groups (to keep a level from every member, write "
			    "'share <level> with nobody')",
			    ptargets[t].name);
			return;
		}
		if (ntok == 2) {
			ERR(b, f, line,
			    "'never %s' names no %s: add at least one",
			    ptargets[t].name, ptargets[t].singular);
			return;
		}
		r->kind = R_NEVER;
		r->target = t;
		voff = 2;
		break;
	case R_SHARE:
		if (ntok >= 2 && strcasecmp(tok[1], "directory") == 0) {
			if (strcmp(tok[1], "directory") != 0) {
				ERR(b, f, line,
				    "keywords are lower case: write "
				    "'directory'");
				return;
			}
			if (!f->hub) {
				ERR(b, f, line,
				    "'share directory' belongs in hub.policy: "
				    "who sees the points-of-contact directory "
				    "is decided for the whole hub");
				return;
			}
			r->kind = R_DIRECTORY;
		} else if (f->hub) {
			ERR(b, f, line,
			    "hub.policy shares only the directory ('share "
			    "directory with <target>'): put '%.80s' in the "
			    "producer's file, <member-id>.policy",
			    r->text);
			return;
		}
		if (ntok < 4) {
			ERR(b, f, line, "incomplete rule: expected %s",
			    f->hub ? "'share directory with <target>', e.g. "
				     "'share directory with community'"
				   : d->usage);
			return;
		}
		if (r->kind != R_DIRECTORY &&
		    (r->level = level_parse(b, f, line, tok[1])) == TLP_NONE)
			return;
		if (strcmp(tok[2], "with") != 0) {
			if (strcasecmp(tok[2], "with") == 0)
				ERR(b, f, line,
				    "keywords are lower case: write 'with'");
			else
				ERR(b, f, line,
				    "expected 'with' after 'share %.80s', not "
				    "'%.80s'",
				    tok[1], tok[2]);
			return;
		}
		snprintf(what, sizeof(what), "share %.40s with", tok[1]);
		if ((t = target_parse(b, f, line, tok[3], what)) == -1)
			return;
		if (!ptargets[t].list && ntok > 4) {
			ERR(b, f, line,
			    "'%s' takes no value: remove '%.80s' (or write "
			    "'share %.40s with countries|members|groups ...')",
			    ptargets[t].name, tok[4], tok[1]);
			return;
		}
		if (ptargets[t].list && ntok == 4) {
			ERR(b, f, line,
			    "'share %.40s with %s' names no %s: add at least "
			    "one",
			    tok[1], ptargets[t].name, ptargets[t].singular);
			return;
		}
		if (r->kind != R_DIRECTORY &&
		    (r->level == TLP_AMBER_STRICT || r->level == TLP_RED) &&
		    t != T_MEMBERS && t != T_NOBODY) {
			ERR(b, f, line,
			    "TLP:%s goes only to named member organisations "
			    "(FIRST TLP 2.0), not to %s: write 'share %s with "
			    "members <id>...' or 'share %s with nobody'",
			    marking_tlp_name(r->level), ptargets[t].name,
			    level_words[r->level], level_words[r->level]);
			return;
		}
		if (r->kind != R_DIRECTORY)
			r->kind = R_SHARE;
		r->target = t;
		voff = 4;
		break;
	case R_DIRECTORY:
		break;
	}
	r->vals = tok + voff;
	r->nvals = ntok - voff;
}

/* Reads one line (n bytes, no newline).  Returns -1 on allocation
 * failure. */
static int
rule_add(struct builder *b, struct pfile *f, const char *p, size_t n, int line)
{
	struct prule r, *v;
	const char *hash, *s, *e;
	char *text, *words, **tok;
	size_t len, i;
	int ntok, k, inword;

	if (memchr(p, '\0', n) != NULL) {
		ERR(b, f, line,
		    "NUL byte in the policy text (is this a text "
		    "file?)");
		return 0;
	}
	if ((hash = memchr(p, '#', n)) != NULL)
		n = (size_t)(hash - p);
	s = p;
	e = p + n;
	while (s < e && is_blank(*s))
		s++;
	while (e > s && is_blank(e[-1]))
		e--;
	if (s == e)
		return 0;
	len = (size_t)(e - s);
	for (i = 0, ntok = 0, inword = 0; i < len; i++) {
		if (is_blank(s[i]))
			inword = 0;
		else if (!inword) {
			inword = 1;
			ntok++;
		}
	}
	memset(&r, 0, sizeof(r));
	r.line = line;
	r.mem = hub_malloc(
	    (size_t)ntok * (sizeof(char *) + sizeof(int)) + 2 * (len + 1));
	if (r.mem == NULL)
		return -1;
	tok = r.mem;
	r.ids = (int *)(void *)(tok + ntok);
	text = (char *)(r.ids + ntok);
	words = text + len + 1;
	memcpy(text, s, len);
	text[len] = '\0';
	memcpy(words, s, len);
	words[len] = '\0';
	r.text = text;
	for (i = 0, k = 0, inword = 0; i < len; i++) {
		if (is_blank(words[i])) {
			words[i] = '\0';
			inword = 0;
		} else if (!inword) {
			inword = 1;
			tok[k++] = words + i;
		}
	}
	for (k = 0; k < ntok; k++)
		r.ids[k] = -1;
	rule_syntax(b, f, &r, tok, ntok);
	if (r.kind == -1) {
		hub_free(r.mem);
		return 0;
	}
	if (f->nrules == f->cap) {
		int cap = f->cap ? f->cap * 2 : 16;

		v = hub_realloc(f->rules, sizeof(*v) * (size_t)cap);
		if (v == NULL) {
			hub_free(r.mem);
			return -1;
		}
		f->rules = v;
		f->cap = cap;
	}
	f->rules[f->nrules++] = r;
	return 0;
}

static void
file_read(struct builder *b, struct pfile *f, const char *text, size_t len)
{
	size_t i = 0, s;
	int line = 0;

	while (i < len && !b->oom) {
		s = i;
		line++;
		while (i < len && text[i] != '\n')
			i++;
		if (rule_add(b, f, text + s, i - s, line) == -1)
			b->oom = 1;
		if (i < len)
			i++;
	}
}

/* --- values: countries, members, groups --- */

static int
resolve_country(struct builder *b, struct pfile *f, int line, const char *s)
{
	char up[3];

	if (country_valid(s))
		return cc_index(s);
	if (strlen(s) == 2) {
		up[0] = (char)(s[0] >= 'a' && s[0] <= 'z' ? s[0] - 32 : s[0]);
		up[1] = (char)(s[1] >= 'a' && s[1] <= 'z' ? s[1] - 32 : s[1]);
		up[2] = '\0';
		if (country_valid(up)) {
			ERR(b, f, line,
			    "'%s' is not a country code: codes are upper "
			    "case, write '%s'",
			    s, up);
			return -1;
		}
	}
	ERR(b, f, line,
	    "'%.80s' is not an ISO 3166-1 alpha-2 country code (two "
	    "upper-case letters, e.g. BR)",
	    s);
	return -1;
}

/* The groups of hub.policy, sorted by name. */
static void
groups_build(struct builder *b, struct pfile *f)
{
	struct policy *pol = b->pol;
	struct pgroup *g;
	int i, k, n = 0;

	for (i = 0; i < f->nrules; i++)
		if (f->rules[i].kind == R_GROUP)
			n++;
	if (n == 0)
		return;
	if ((pol->groups = hub_calloc((size_t)n, sizeof(*g))) == NULL) {
		b->oom = 1;
		return;
	}
	for (i = 0; i < f->nrules; i++) {
		struct prule *r = &f->rules[i];

		if (r->kind != R_GROUP)
			continue;
		g = &pol->groups[pol->ngroups++];
		g->name = r->name;
		g->line = r->line;
		for (k = 0; k < r->nvals; k++) {
			int c = resolve_country(b, f, r->line, r->vals[k]);

			if (c < 0)
				continue;
			if (g->cc[c >> 3] & (1u << (c & 7))) {
				WARN(b, f, r->line,
				    "duplicate: %s is listed twice in group "
				    "%s; remove one",
				    r->vals[k], g->name);
				continue;
			}
			g->cc[c >> 3] |= (unsigned char)(1u << (c & 7));
			g->ncc++;
			r->ids[k] = c;
		}
	}
	/* by name, then line: a name defined again follows its first;
	 * the same countries again is redundant, others ambiguous */
	qsort(
	    pol->groups, (size_t)pol->ngroups, sizeof(*pol->groups), cmp_group);
	for (i = 1, k = 1; i < pol->ngroups; i++) {
		g = &pol->groups[k - 1];
		if (strcmp(pol->groups[i].name, g->name) != 0)
			pol->groups[k++] = pol->groups[i];
		else if (memcmp(pol->groups[i].cc, g->cc, sizeof(g->cc)) == 0)
			WARN(b, f, pol->groups[i].line,
			    "duplicate: group %s is defined the same at line "
			    "%d; remove one",
			    g->name, g->line);
		else
			ERR(b, f, pol->groups[i].line,
			    "group %s already defined at line %d: merge the "
			    "two or rename one",
			    g->name, g->line);
	}
	pol->ngroups = k;
}

static void
values_resolve(struct builder *b, struct pfile *f)
{
	const struct members *ms = b->ms;
	int i, k;

	for (i = 0; i < f->nrules; i++) {
		struct prule *r = &f->rules[i];

		if (r->kind != R_SHARE && r->kind != R_NEVER &&
		    r->kind != R_DIRECTORY)
			continue;
		for (k = 0; k < r->nvals; k++) {
			const char *v = r->vals[k];

			switch (r->target) {
			case T_COUNTRIES:
				r->ids[k] = resolve_country(b, f, r->line, v);
				break;
			case T_MEMBERS: {
				struct member key;
				const struct member *kp = &key, *const * m;

				snprintf(key.id, sizeof(key.id), "%s", v);
				m = ms->n == 0 || strlen(v) >= MEMBER_ID_MAX
				    ? NULL
				    : bsearch(&kp, b->byid, (size_t)ms->n,
					  sizeof(*b->byid), cmp_member_id);
				if (m == NULL)
					ERR(b, f, r->line,
					    "no member '%.80s' in %s (member "
					    "ids are case-sensitive)",
					    v, ms->file ? ms->file : "members");
				else
					r->ids[k] = (*m)->index;
				break;
			}
			case T_GROUPS: {
				const struct pgroup *g = group_find(b->pol, v);

				if (g == NULL)
					ERR(b, f, r->line,
					    "no group '%.80s' (define it in "
					    "hub.policy: group %.80s = CC "
					    "[CC...])",
					    v, v);
				else
					r->ids[k] = (int)(g - b->pol->groups);
				break;
			}
			}
		}
	}
}

/* 1 if rule r (share, never or directory) takes in member m of country
 * cc. */
static int
rule_covers(const struct policy *pol, const struct prule *r, int m, int cc)
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
		    (pol->groups[id].cc[cc >> 3] & (1u << (cc & 7))))
			return 1;
	}
	return 0;
}

/* --- compiling --- */

/* Forgets which values the rules of one scope have named so far. */
static void
scope_clear(struct builder *b)
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
 * The never rules of file f into nc (countries) and nm (members), keeping
 * the first rule that excludes each; `producer` is the file's member
 * index (-1 for hub.policy).
 */
static void
nevers_read(struct builder *b, struct pfile *f, int producer, struct ref *nc,
    struct ref *nm)
{
	const struct policy *pol = b->pol;
	int i, k, c;

	scope_clear(b);
	for (i = 0; i < f->nrules; i++) {
		struct prule *r = &f->rules[i];

		if (r->kind != R_NEVER)
			continue;
		for (k = 0; k < r->nvals; k++) {
			int id = r->ids[k];
			int *seen = scope_seen(b, r->target);

			if (id < 0)
				continue;
			if (seen[id]) {
				WARN(b, f, r->line,
				    "duplicate: never %s %s (first at line "
				    "%d); remove one",
				    ptargets[r->target].name, r->vals[k],
				    seen[id]);
				r->ids[k] = -1;
				continue;
			}
			seen[id] = r->line;
			switch (r->target) {
			case T_COUNTRIES:
				if (nc[id].line == 0)
					nc[id] = (struct ref){f->name, r->line};
				break;
			case T_MEMBERS:
				if (id == producer) {
					WARN(b, f, r->line,
					    "has no effect: %s is this file's "
					    "producer, which always sees its "
					    "own objects; remove it",
					    r->vals[k]);
					r->ids[k] = -1;
					break;
				}
				if (nm[id].line == 0)
					nm[id] = (struct ref){f->name, r->line};
				break;
			case T_GROUPS:
				for (c = 0; c < NCC; c++)
					if ((pol->groups[id].cc[c >> 3] &
						(1u << (c & 7))) &&
					    nc[c].line == 0)
						nc[c] = (struct ref){
						    f->name, r->line};
				break;
			}
		}
	}
}

/* The members the never rules nc/nm exclude, into b->nevbm. */
static void
nevers_bitmap(struct builder *b, const struct ref *nc, const struct ref *nm)
{
	int m;

	memset(b->nevbm, 0, b->pol->bmlen);
	for (m = 0; m < b->ms->n; m++)
		if (nm[m].line || (b->mcc[m] >= 0 && nc[b->mcc[m]].line))
			bm_set(b->nevbm, m);
}

/*
 * One level of a producer's file (level 1..5), or the directory rules of
 * hub.policy (level 0): checks the grants against each other and against
 * the never rules in b->nc/b->nm (and b->nevbm), and fills `out` with the
 * audience (the producer included).  Sets bit `level` of *everyone when
 * the level goes to everyone.
 */
static void
scope_run(struct builder *b, struct pfile *f, int level, int producer,
    unsigned char *out, unsigned *everyone)
{
	const struct policy *pol = b->pol;
	const struct members *ms = b->ms;
	int kl[3] = {0, 0, 0}; /* everyone, community, nobody */
	int i, k, c, m, any = 0, other = 0, nobody_rule = -1;
	char what[32];
	size_t j;

	if (level == 0)
		snprintf(what, sizeof(what), "the directory");
	else
		snprintf(what, sizeof(what), "TLP:%s", marking_tlp_name(level));
	scope_clear(b);
	memset(b->gcov, 0, sizeof(*b->gcov) * NCC);
	/* duplicates, and who is named */
	for (i = 0; i < f->nrules; i++) {
		struct prule *r = &f->rules[i];

		if (level == 0 ? r->kind != R_DIRECTORY
			       : r->kind != R_SHARE || r->level != level)
			continue;
		any = 1;
		if (!ptargets[r->target].list) {
			if (kl[r->target]) {
				WARN(b, f, r->line,
				    "duplicate: '%s' (first at line %d); "
				    "remove one",
				    r->text, kl[r->target]);
				r->dup = 1;
				continue;
			}
			kl[r->target] = r->line;
			if (r->target == T_NOBODY)
				nobody_rule = i;
			else if (other == 0)
				other = r->line;
			continue;
		}
		for (k = 0; k < r->nvals; k++) {
			int id = r->ids[k];
			int *seen = scope_seen(b, r->target);

			if (id < 0)
				continue;
			if (seen[id]) {
				WARN(b, f, r->line,
				    "duplicate: %s already goes to %s %s "
				    "(first at line %d); remove one",
				    what, ptargets[r->target].singular,
				    r->vals[k], seen[id]);
				r->ids[k] = -1;
				continue;
			}
			seen[id] = r->line;
			if (other == 0)
				other = r->line;
		}
	}
	if (nobody_rule >= 0 && other) {
		int nl = f->rules[nobody_rule].line;

		ERR(b, f, nl > other ? nl : other,
		    "contradictory: %s goes to nobody (line %d) and is "
		    "shared by line %d; remove one of them",
		    what, nl, other);
	}
	for (i = 0; i < f->nrules; i++) {
		const struct prule *r = &f->rules[i];

		if ((level == 0 ? r->kind != R_DIRECTORY
				: r->kind != R_SHARE || r->level != level) ||
		    r->target != T_GROUPS)
			continue;
		for (k = 0; k < r->nvals; k++) {
			const struct pgroup *g;

			if (r->ids[k] < 0)
				continue;
			g = &pol->groups[r->ids[k]];
			for (c = 0; c < NCC; c++)
				if ((g->cc[c >> 3] & (1u << (c & 7))) &&
				    b->gcov[c] == 0) {
					b->gcov[c] = r->line;
					b->gcovg[c] = r->ids[k];
				}
		}
	}
	/* grants that cannot apply, or add nothing */
	for (i = 0; i < f->nrules; i++) {
		struct prule *r = &f->rules[i];
		int broad = kl[T_EVERYONE] ? T_EVERYONE
		    : kl[T_COMMUNITY]	   ? T_COMMUNITY
					   : -1;

		if (level == 0 ? r->kind != R_DIRECTORY
			       : r->kind != R_SHARE || r->level != level)
			continue;
		if (r->dup)
			continue;
		if (r->target == T_COMMUNITY && kl[T_EVERYONE]) {
			WARN(b, f, r->line,
			    "has no effect: %s already goes to everyone (line "
			    "%d), which includes the community; remove this "
			    "rule",
			    what, kl[T_EVERYONE]);
			continue;
		}
		if (!ptargets[r->target].list)
			continue;
		if (broad >= 0) {
			WARN(b, f, r->line,
			    "has no effect: %s already goes to %s (line %d); "
			    "remove '%s'",
			    what,
			    broad == T_EVERYONE ? "everyone" : "the community",
			    kl[broad], r->text);
			continue;
		}
		for (k = 0; k < r->nvals; k++) {
			int id = r->ids[k];
			const char *v = r->vals[k];

			if (id < 0)
				continue;
			switch (r->target) {
			case T_COUNTRIES:
				if (b->nc[id].line)
					WARN(b, f, r->line,
					    "unreachable: %s to country %s is "
					    "removed by a never rule (never at "
					    "%s:%d); remove %s here or drop "
					    "the never rule",
					    what, v, b->nc[id].file,
					    b->nc[id].line, v);
				else if (b->gcov[id])
					WARN(b, f, r->line,
					    "has no effect: country %s is in "
					    "group %s, which line %d already "
					    "gives %s; remove %s here",
					    v, pol->groups[b->gcovg[id]].name,
					    b->gcov[id], what, v);
				break;
			case T_MEMBERS:
				c = b->mcc[id];
				if (id == producer)
					WARN(b, f, r->line,
					    "has no effect: %s is this file's "
					    "producer, which always sees its "
					    "own objects; remove it",
					    v);
				else if (b->nm[id].line)
					WARN(b, f, r->line,
					    "unreachable: %s to member %s is "
					    "removed by a never rule (never at "
					    "%s:%d); remove %s here or drop "
					    "the never rule",
					    what, v, b->nm[id].file,
					    b->nm[id].line, v);
				else if (c >= 0 && b->nc[c].line)
					WARN(b, f, r->line,
					    "unreachable: %s to member %s "
					    "(country %s) is removed by a "
					    "never rule (never at %s:%d); "
					    "remove %s here or drop the never "
					    "rule",
					    what, v, ms->v[id].country,
					    b->nc[c].file, b->nc[c].line, v);
				else if (c >= 0 && b->sc[c])
					WARN(b, f, r->line,
					    "has no effect: member %s is in "
					    "country %s, which line %d already "
					    "gives %s; remove %s here",
					    v, ms->v[id].country, b->sc[c],
					    what, v);
				else if (c >= 0 && b->gcov[c])
					WARN(b, f, r->line,
					    "has no effect: member %s (country "
					    "%s) is in group %s, which line %d "
					    "already gives %s; remove %s here",
					    v, ms->v[id].country,
					    pol->groups[b->gcovg[c]].name,
					    b->gcov[c], what, v);
				break;
			case T_GROUPS: {
				const struct pgroup *g = &pol->groups[id];
				int first = -1, all = g->ncc > 0;

				for (c = 0; c < NCC && all; c++)
					if (g->cc[c >> 3] & (1u << (c & 7))) {
						if (b->nc[c].line == 0)
							all = 0;
						else if (first < 0)
							first = c;
					}
				if (all && first >= 0)
					WARN(b, f, r->line,
					    "unreachable: %s to group %s is "
					    "removed whole by never rules "
					    "(never at %s:%d); remove %s here "
					    "or drop the never rules",
					    what, v, b->nc[first].file,
					    b->nc[first].line, v);
				break;
			}
			}
		}
	}
	/* the audience */
	if (!any ? level <= TLP_GREEN : (kl[T_EVERYONE] || kl[T_COMMUNITY]))
		bm_all(out, pol->bmlen, ms->n);
	else {
		memset(out, 0, pol->bmlen);
		for (c = 0; c < NCC; c++)
			if (b->sc[c] || b->gcov[c])
				for (m = b->cchead[c]; m >= 0; m = b->ccnext[m])
					bm_set(out, m);
		for (m = 0; m < ms->n; m++)
			if (b->sm[m])
				bm_set(out, m);
	}
	for (j = 0; j < pol->bmlen; j++)
		out[j] &= (unsigned char)~b->nevbm[j];
	if (producer >= 0)
		bm_set(out, producer);
	if (kl[T_EVERYONE] || (!any && level == TLP_CLEAR))
		*everyone |= 1u << level;
}

/* The first share rule of `level` in f that takes in member m; -1. */
static int
first_grant(const struct builder *b, const struct pfile *f, int level, int m)
{
	int i;

	for (i = 0; i < f->nrules; i++) {
		const struct prule *r = &f->rules[i];

		if (r->kind == R_SHARE && r->level == level &&
		    rule_covers(b->pol, r, m, b->mcc[m]))
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

/* Each level must reach no one that a less restrictive level does not:
 * CLEAR >= GREEN >= AMBER >= AMBER+STRICT >= RED. */
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
		    level_words[l2], marking_tlp_name(l));
}

static void
order_check(struct builder *b, struct pfile *f, int p, unsigned everyone)
{
	const struct members *ms = b->ms;
	int l, l2, x, more;
	size_t j;

	for (l = TLP_GREEN; l < TLP_NLEVELS; l++) {
		const unsigned char *a = bm_of(b->pol, p, l);

		for (l2 = TLP_CLEAR; l2 < l; l2++) {
			const unsigned char *a2 = bm_of(b->pol, p, l2);
			int la, lb;
			char more_s[48] = "";

			for (j = 0, x = -1, more = 0; j < b->pol->bmlen; j++) {
				unsigned d = a[j] & ~a2[j] & 0xffu;

				if (d == 0)
					continue;
				if (x < 0)
					x = (int)j * 8 + __builtin_ctz(d);
				more += __builtin_popcount(d);
			}
			more--;
			if (x < 0) {
				everyone_check(b, f, l, l2, everyone);
				continue;
			}
			if (more)
				snprintf(more_s, sizeof(more_s),
				    " (and %d more member%s)", more,
				    more == 1 ? "" : "s");
			la = first_grant(b, f, l, x);
			lb = first_share(f, l2);
			if (la > 0 && lb > 0)
				ERR(b, f, la,
				    "contradictory: TLP:%s reaches %s but "
				    "TLP:%s does not (lines %d and %d)%s; a "
				    "more restrictive level must not reach "
				    "further: add %s to TLP:%s or remove it "
				    "from TLP:%s",
				    marking_tlp_name(l), ms->v[x].id,
				    marking_tlp_name(l2), la, lb, more_s,
				    ms->v[x].id, marking_tlp_name(l2),
				    marking_tlp_name(l));
			else if (la > 0)
				ERR(b, f, la,
				    "contradictory: TLP:%s reaches %s but "
				    "TLP:%s does not (line %d, and TLP:%s has "
				    "no share rule, so it goes to nobody)%s; "
				    "add 'share %s with members %s' or remove "
				    "%s from TLP:%s",
				    marking_tlp_name(l), ms->v[x].id,
				    marking_tlp_name(l2), la,
				    marking_tlp_name(l2), more_s,
				    level_words[l2], ms->v[x].id, ms->v[x].id,
				    marking_tlp_name(l));
			else
				ERR(b, f, lb > 0 ? lb : 0,
				    "contradictory: TLP:%s reaches %s but "
				    "TLP:%s does not (line %d, and TLP:%s has "
				    "no share rule, so it goes to %s)%s; add "
				    "a 'share %s' rule no wider than TLP:%s, "
				    "or widen TLP:%s",
				    marking_tlp_name(l), ms->v[x].id,
				    marking_tlp_name(l2), lb,
				    marking_tlp_name(l),
				    l == TLP_GREEN ? "the community"
						   : "everyone",
				    more_s, level_words[l],
				    marking_tlp_name(l2), marking_tlp_name(l2));
		}
	}
}

static void
producer_compile(struct builder *b, struct pfile *f)
{
	struct policy *pol = b->pol;
	struct pol_prod *pp = &pol->prods[f->member];
	int i, l, p = f->member;

	memcpy(b->nc, b->hnc, sizeof(*b->nc) * NCC);
	memcpy(b->nm, b->hnm, sizeof(*b->nm) * (size_t)(b->ms->n + 1));
	nevers_read(b, f, p, b->nc, b->nm);
	nevers_bitmap(b, b->nc, b->nm);
	pp->file = (int)(f - pol->files);
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
	for (l = TLP_CLEAR; l < TLP_NLEVELS; l++)
		scope_run(b, f, l, p, bm_of(pol, p, l), &pp->everyone);
	order_check(b, f, p, pp->everyone);
}

/* Every producer without a file: the built-in levels minus the hub-wide
 * never rules; then the pointers of every producer. */
static void
prods_finish(struct builder *b)
{
	struct policy *pol = b->pol;
	int p, l;

	nevers_bitmap(b, b->hnc, b->hnm);
	for (p = 0; p <= pol->n; p++) {
		struct pol_prod *pp = &pol->prods[p];

		if (pp->file >= 0)
			continue;
		pp->everyone = 1u << TLP_CLEAR;
		for (l = TLP_CLEAR; l < TLP_NLEVELS; l++) {
			unsigned char *bm = bm_of(pol, p, l);
			size_t j;

			if (l <= TLP_GREEN) {
				bm_all(bm, pol->bmlen, pol->n);
				for (j = 0; j < pol->bmlen; j++)
					bm[j] &= (unsigned char)~b->nevbm[j];
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

static int
sha256_hex(const char *text, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	for (i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* Everything from texts: names are what explain and policy_files show,
 * paths what error messages show. */
static int
policy_build(int n, const char *const names[], const char *const paths[],
    const char *const texts[], const size_t lens[], const struct members *ms,
    struct policy **out, struct cfg_errs *errs)
{
	struct builder b;
	struct policy *pol;
	int i, j, m, nm = ms->n;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	b.ms = ms;
	b.errs = errs;
	if ((pol = hub_calloc(1, sizeof(*pol))) == NULL)
		goto oom;
	b.pol = pol;
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
	    (b.byid = hub_calloc((size_t)nm + 1, sizeof(*b.byid))) == NULL ||
	    (b.mcc = hub_calloc((size_t)nm + 1, sizeof(int))) == NULL ||
	    (b.ccnext = hub_calloc((size_t)nm + 1, sizeof(int))) == NULL ||
	    (b.cchead = hub_calloc(NCC, sizeof(int))) == NULL ||
	    (b.sc = hub_calloc(NCC, sizeof(int))) == NULL ||
	    (b.sm = hub_calloc((size_t)nm + 1, sizeof(int))) == NULL ||
	    (b.gcov = hub_calloc(NCC, sizeof(int))) == NULL ||
	    (b.gcovg = hub_calloc(NCC, sizeof(int))) == NULL ||
	    (b.hnc = hub_calloc(NCC, sizeof(*b.hnc))) == NULL ||
	    (b.hnm = hub_calloc((size_t)nm + 1, sizeof(*b.hnm))) == NULL ||
	    (b.nc = hub_calloc(NCC, sizeof(*b.nc))) == NULL ||
	    (b.nm = hub_calloc((size_t)nm + 1, sizeof(*b.nm))) == NULL ||
	    (b.nevbm = hub_calloc(1, pol->bmlen)) == NULL)
		goto oom;
	for (i = 0; i < NCC; i++)
		b.cchead[i] = -1;
	for (m = nm - 1; m >= 0; m--) {
		pol->codes[m] = ms->v[m].code;
		b.byid[m] = &ms->v[m];
		b.mcc[m] = country_valid(ms->v[m].country)
		    ? cc_index(ms->v[m].country)
		    : -1;
		if (b.mcc[m] >= 0) {
			b.ccnext[m] = b.cchead[b.mcc[m]];
			b.cchead[b.mcc[m]] = m;
		}
		if (ms->v[m].code == POLICY_HUB_PRODUCER) {
			cfg_errs_add(errs, ms->file ? ms->file : "members",
			    ms->v[m].line,
			    "member %s has the producer code of the hub "
			    "itself; rename it",
			    ms->v[m].id);
			b.bad = 1;
		}
	}
	if (nm > 0)
		qsort(b.byid, (size_t)nm, sizeof(*b.byid), cmp_member_id);
	for (m = 0; m <= nm + 1; m++) {
		pol->prods[m].code = m < nm ? ms->v[m].code : 0;
		pol->prods[m].deflevel = TLP_AMBER;
		pol->prods[m].file = -1;
		pol->prods[m].defrule = -1;
	}
	pol->prods[nm + 1].code = POLICY_HUB_PRODUCER;

	/* read every file */
	for (i = 0; i < n && !b.oom; i++) {
		struct pfile *f = &pol->files[pol->nfiles];
		const char *base = strrchr(names[i], '/');
		char id[MEMBER_ID_MAX];
		size_t blen;
		const struct member *mem = NULL;

		base = base ? base + 1 : names[i];
		blen = strlen(base);
		if ((f->name = hub_strdup(base)) == NULL ||
		    (f->path = hub_strdup(paths[i])) == NULL) {
			hub_free(f->name);
			f->name = NULL;
			b.oom = 1;
			break;
		}
		pol->nfiles++;
		f->member = -1;
		if (sha256_hex(texts[i] ? texts[i] : "", lens[i], f->sha256) ==
		    -1) {
			ERR(&b, f, 0, "cannot compute the SHA-256 of the file");
			continue;
		}
		for (j = 0; j < pol->nfiles - 1; j++)
			if (strcmp(pol->files[j].name, f->name) == 0)
				break;
		if (j < pol->nfiles - 1) {
			ERR(&b, f, 0, "file given twice");
			continue;
		}
		if (strcmp(base, HUB_FILE) == 0) {
			f->hub = 1;
			pol->hubfile = pol->nfiles - 1;
		} else if (blen <= strlen(SUFFIX) ||
		    strcmp(base + blen - strlen(SUFFIX), SUFFIX) != 0) {
			ERR(&b, f, 0,
			    "not a policy file (expected hub.policy or "
			    "<member-id>.policy)");
			continue;
		} else {
			blen -= strlen(SUFFIX);
			if (blen < sizeof(id)) {
				memcpy(id, base, blen);
				id[blen] = '\0';
				mem = members_find(ms, id);
			}
			if (mem == NULL) {
				/* a member removed from the members file:
				 * removing narrows, so never refuse it; its
				 * objects go to admins only */
				WARN(&b, f, 0,
				    "no member '%.*s': this file is ignored "
				    "(a policy file is named after its "
				    "producer: <member-id>.policy, with an id "
				    "from %s; a producer that is not a member "
				    "is seen by admins only)",
				    (int)(blen > 80 ? 80 : blen), base,
				    ms->file ? ms->file : "the members file");
				continue;
			} else
				f->member = mem->index;
		}
		if (texts[i] != NULL)
			file_read(&b, f, texts[i], lens[i]);
	}
	if (b.oom)
		goto oom;

	/* groups, then every value */
	if (pol->hubfile >= 0)
		groups_build(&b, &pol->files[pol->hubfile]);
	if (b.oom ||
	    (b.sg = hub_calloc((size_t)pol->ngroups + 1, sizeof(int))) == NULL)
		goto oom;
	for (i = 0; i < pol->nfiles; i++)
		values_resolve(&b, &pol->files[i]);

	/* hub-wide never rules and the directory, then each producer */
	if (pol->hubfile >= 0) {
		struct pfile *hf = &pol->files[pol->hubfile];

		nevers_read(&b, hf, -1, b.hnc, b.hnm);
		memcpy(b.nc, b.hnc, sizeof(*b.nc) * NCC);
		memcpy(b.nm, b.hnm, sizeof(*b.nm) * (size_t)(nm + 1));
		nevers_bitmap(&b, b.hnc, b.hnm);
		scope_run(&b, hf, 0, -1, bm_of(pol, 0, 0),
		    &pol->prods[nm + 1].everyone);
		pol->prods[nm + 1].file = pol->hubfile;
	} else
		bm_all(bm_of(pol, 0, 0), pol->bmlen, nm);
	for (i = 0; i < pol->nfiles; i++)
		if (pol->files[i].member >= 0)
			producer_compile(&b, &pol->files[i]);
	prods_finish(&b);
	if (slots_build(pol, ms) == -1)
		goto oom;
	if (b.oom)
		goto oom;
	perr_flush(&b);
	builder_clear(&b);
	if (b.bad) {
		policy_free(pol);
		return -1;
	}
	*out = pol;
	return 0;
oom:
	if (pol != NULL && pol->files != NULL)
		perr_flush(&b);
	cfg_errs_add(errs, n > 0 ? paths[0] : "policy", 0, "out of memory");
	builder_clear(&b);
	policy_free(pol);
	return -1;
}

int
policy_parse(int n, const char *const names[], const char *const texts[],
    const size_t lens[], const struct members *ms, struct policy **out,
    struct cfg_errs *errs)
{
	return policy_build(n, names, names, texts, lens, ms, out, errs);
}

static int
cmp_str(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

int
policy_load(const char *dir, const struct members *ms, struct policy **out,
    struct cfg_errs *errs)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL, **paths = NULL, **texts = NULL, **v;
	size_t *lens = NULL;
	int n = 0, cap = 0, i, rc = -1, bad = 0, k;

	*out = NULL;
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return policy_build(
			    0, NULL, NULL, NULL, NULL, ms, out, errs);
		cfg_errs_add(errs, dir, 0,
		    "cannot read the policy directory: %s", strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len <= strlen(SUFFIX) ||
		    strcmp(de->d_name + len - strlen(SUFFIX), SUFFIX) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((v = hub_realloc(
				 names, sizeof(*v) * (size_t)cap)) == NULL)
				goto oom;
			names = v;
		}
		if ((names[n] = hub_strdup(de->d_name)) == NULL)
			goto oom;
		n++;
	}
	closedir(d);
	d = NULL;
	if (n > 0)
		qsort(names, (size_t)n, sizeof(*names), cmp_str);
	if ((paths = hub_calloc((size_t)n + 1, sizeof(*paths))) == NULL ||
	    (texts = hub_calloc((size_t)n + 1, sizeof(*texts))) == NULL ||
	    (lens = hub_calloc((size_t)n + 1, sizeof(*lens))) == NULL)
		goto oom;
	for (i = 0, k = 0; i < n; i++) {
		size_t plen = strlen(dir) + strlen(names[i]) + 2;

		if ((paths[i] = hub_malloc(plen)) == NULL)
			goto oom;
		snprintf(paths[i], plen, "%s/%s", dir, names[i]);
		errno = 0;
		if ((texts[i] = cfg_slurp(paths[i], CFG_MAX_FILE, &lens[i])) ==
		    NULL) {
			if (errno == 0 || errno == ENOMEM)
				goto oom;
			cfg_errs_add(errs, paths[i], 0, "cannot read: %s",
			    errno == EFBIG ? "file too large (the limit is 4 "
					     "MiB)"
					   : strerror(errno));
			bad = 1;
			continue;
		}
		/* keep only the files read, in order */
		if (k != i) {
			char *t;

			t = names[k];
			names[k] = names[i];
			names[i] = t;
			t = paths[k];
			paths[k] = paths[i];
			paths[i] = t;
			texts[k] = texts[i];
			texts[i] = NULL;
			lens[k] = lens[i];
		}
		k++;
	}
	rc = policy_build(k, (const char *const *)names,
	    (const char *const *)paths, (const char *const *)texts, lens, ms,
	    out, errs);
	if (rc == 0 && bad) {
		policy_free(*out);
		*out = NULL;
		rc = -1;
	}
	goto done;
oom:
	cfg_errs_add(errs, dir, 0, "out of memory");
	rc = -1;
done:
	if (d != NULL)
		closedir(d);
	for (i = 0; i < n; i++) {
		hub_free(names[i]);
		if (paths != NULL)
			hub_free(paths[i]);
		if (texts != NULL)
			hub_free(texts[i]);
	}
	hub_free(names);
	hub_free(paths);
	hub_free(texts);
	hub_free(lens);
	return rc;
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

/* --- why --- */

struct outb {
	char *p;
	size_t len, off;
};

static void put(struct outb *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct outb *w, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (w->p == NULL || w->off + 1 >= w->len)
		return;
	va_start(ap, fmt);
	r = vsnprintf(w->p + w->off, w->len - w->off, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	w->off += (size_t)r;
	if (w->off >= w->len)
		w->off = w->len - 1;
}

static void
put_rule(struct outb *w, const struct pfile *f, const struct prule *r)
{
	put(w, "%s:%d: %s\n", f->name, r->line, r->text);
}

/* The never rules of f that exclude the reader. */
static void
put_nevers(struct outb *w, const struct policy *pol, const struct pfile *f,
    int m, int cc)
{
	int i;

	for (i = 0; f != NULL && i < f->nrules; i++)
		if (f->rules[i].kind == R_NEVER &&
		    rule_covers(pol, &f->rules[i], m, cc))
			put_rule(w, f, &f->rules[i]);
}

/*
 * The share rules of one scope (level 1..5 of a producer's file, or the
 * directory: level 0): those that take the reader in when `in`, all of
 * them otherwise.  Returns how many there are in the scope.
 */
static int
put_grants(struct outb *w, const struct policy *pol, const struct pfile *f,
    int level, int in, int m, int cc)
{
	int i, n = 0;

	for (i = 0; f != NULL && i < f->nrules; i++) {
		const struct prule *r = &f->rules[i];

		if (level == 0 ? r->kind != R_DIRECTORY
			       : r->kind != R_SHARE || r->level != level)
			continue;
		n++;
		if (!in || rule_covers(pol, r, m, cc))
			put_rule(w, f, r);
	}
	return n;
}

int
policy_explain(const struct policy *pol, const struct member *reader,
    const struct policy_obj *o, char *out, size_t outlen)
{
	struct outb w = {out, outlen, 0};
	const struct pol_prod *p = NULL;
	const struct pfile *f = NULL, *hf = NULL;
	int vis, level, in, m = -1, cc, k;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	vis = policy_visible(pol, reader, o);
	put(&w, "visible: %s\n", vis ? "yes" : "no");
	if (reader == NULL) {
		put(&w,
		    "no reader: a request that is not authenticated sees "
		    "nothing\n");
		return vis;
	}
	if (reader->code == o->producer) {
		put(&w,
		    "the reader is the producer: a producer always sees "
		    "its own objects\n");
		return vis;
	}
	cc = cc_index(reader->country);
	if (pol != NULL) {
		m = reader->index;
		if (m < 0 || m >= pol->n || pol->codes[m] != reader->code) {
			put(&w,
			    "reader %s is not a member of the set this "
			    "policy was read with\n",
			    reader->id);
			return vis;
		}
		p = prod_find(pol, o->producer);
		if (p->file >= 0 && o->producer != POLICY_HUB_PRODUCER)
			f = &pol->files[p->file];
		if (pol->hubfile >= 0)
			hf = &pol->files[pol->hubfile];
	} else
		put(&w, "no policy loaded: the built-in defaults apply\n");
	level = policy_obj_level(pol, o);
	if (o->producer == POLICY_HUB_PRODUCER) {
		put(&w,
		    "directory: an object of the hub's points-of-contact "
		    "directory (its level does not matter)\n");
		in = pol == NULL || bm_get(p->aud[0], m);
		if (put_grants(&w, pol, hf, 0, in, m, cc) == 0)
			put(&w,
			    "built-in: the directory goes to the "
			    "community\n");
	} else {
		if (o->tlp != TLP_NONE && (unsigned)o->tlp < TLP_NLEVELS)
			put(&w, "level: %s\n", marking_tlp_name(level));
		else if (o->tlp != TLP_NONE)
			put(&w,
			    "level: %s (an unknown level %d counts as "
			    "the most restrictive)\n",
			    marking_tlp_name(level), o->tlp);
		else if (f != NULL && p->defrule >= 0)
			put(&w, "level: %s (unmarked; %s:%d: %s)\n",
			    marking_tlp_name(level), f->name,
			    f->rules[p->defrule].line,
			    f->rules[p->defrule].text);
		else
			put(&w,
			    "level: %s (unmarked; built-in default "
			    "amber)\n",
			    marking_tlp_name(level));
		if (o->flags & STORE_F_UNRESOLVED)
			put(&w,
			    "it refers to a marking definition its producer "
			    "has not published: it counts at least at the "
			    "producer's default level until then\n");
		if (pol != NULL && p == &pol->prods[pol->n]) {
			put(&w,
			    "the producer is no longer a member: its objects "
			    "go to admins only until it has a policy "
			    "again\n");
			return vis;
		} else if (pol != NULL && f == NULL)
			put(&w,
			    "the producer has no policy file: the "
			    "built-in defaults apply\n");
		in =
		    pol != NULL ? bm_get(p->aud[level], m) : level <= TLP_GREEN;
		if (put_grants(&w, pol, f, level, in, m, cc) == 0)
			put(&w, "built-in: %s goes to %s\n", level_words[level],
			    level == TLP_CLEAR ? "everyone"
				: level == TLP_GREEN
				? "the community"
				: "nobody but the producer");
	}
	if (!in && pol != NULL) {
		put_nevers(&w, pol, f, m, cc);
		put_nevers(&w, pol, hf, m, cc);
	}
	if (o->flags & STORE_F_RELEASE) {
		if (o->nrelease <= 0)
			put(&w,
			    "releasable to: nobody (the object's marking "
			    "names no country)\n");
		else {
			int among = 0;

			put(&w, "releasable to:");
			for (k = 0; k < o->nrelease; k++) {
				put(&w, " %.2s", o->release + 2 * k);
				if (memcmp(o->release + 2 * k, reader->country,
					2) == 0)
					among = 1;
			}
			put(&w,
			    " (the object's marking; the reader's country "
			    "%s is %s)\n",
			    reader->country,
			    among ? "among them" : "not among them");
		}
	}
	return vis;
}
