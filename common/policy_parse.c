/*
 * policy_parse.c -- reading sharing policies (see policy.h): the policy
 * directory, then each file, one rule a line, by a table with one row per
 * directive; then the values the rules name (countries, members, groups).
 * Every finding is reported as "file:line: message" through the builder
 * (policy_lint.c); compiling the rules is policy_compile.c's job.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "ctihub/alloc.h"
#include "ctihub/country.h"
#include "ctihub/marking.h"
#include "ctihub/policy.h"

#include "policy_int.h"

#define IN_HUB	    1
#define IN_PRODUCER 2

struct pdirective;

/* Checks the words of a rule of directive d and fills r (kind, level,
 * target, name).  Returns the index of its first value word, or -1 when
 * the rule is malformed (the error is reported). */
typedef int pdirective_parse_cb(struct builder *, struct pfile *,
    struct prule *, char **tok, int ntok, const struct pdirective *d);

/* One row per directive: where it may appear and how it reads. */
struct pdirective {
	const char *name;
	int where;
	const char *usage;
	const char *misplaced; /* the error where it may not appear */
	pdirective_parse_cb *parse;
};

static int cmp_member_id(const void *, const void *);
static int cmp_group(const void *, const void *);
static int cmp_group_name(const void *, const void *);
static int cmp_str(const void *, const void *);
static const struct pgroup *group_find(const struct policy *, const char *);
static int is_blank(char);
static int level_parse(struct builder *, struct pfile *, int, const char *);
static int target_parse(
    struct builder *, struct pfile *, int, const char *, const char *);
static pdirective_parse_cb default_parse;
static pdirective_parse_cb share_parse;
static pdirective_parse_cb never_parse;
static pdirective_parse_cb group_parse;
static int share_head(struct builder *, struct pfile *, struct prule *, char **,
    int, const struct pdirective *);
static int share_target(
    struct builder *, struct pfile *, struct prule *, char **, int);
static const struct pdirective *directive_find(
    struct builder *, struct pfile *, int, const char *);
static void rule_syntax(
    struct builder *, struct pfile *, struct prule *, char **, int);
static int rule_words(struct prule *, const char *, size_t);
static int rules_push(struct pfile *, const struct prule *);
static int rule_add(
    struct builder *, struct pfile *, const char *, size_t, int);
static void file_read(struct builder *, struct pfile *, const char *, size_t);
static int file_identify(struct builder *, struct pfile *);
static int sha256_hex(const char *, size_t, char[65]);
static int resolve_country(struct builder *, struct pfile *, int, const char *);
static int resolve_member(struct builder *, struct pfile *, int, const char *);
static int resolve_group(struct builder *, struct pfile *, int, const char *);
static void groups_build(struct builder *, struct pfile *);
static void values_resolve(struct builder *, struct pfile *);

static const struct pdirective pdirectives[] = {
    {"default", IN_PRODUCER,
	"'default <level>' (clear, green, amber, amber+strict or red)",
	"'default' belongs in a producer's file (<member-id>.policy): "
	"hub.policy has no default level",
	default_parse},
    {"share", IN_HUB | IN_PRODUCER,
	"'share <level> with <target>', e.g. 'share amber with countries "
	"BR IN'",
	NULL, share_parse},
    {"never", IN_HUB | IN_PRODUCER,
	"'never countries|members|groups <value>...', e.g. 'never countries "
	"US'",
	NULL, never_parse},
    {"group", IN_HUB,
	"'group NAME = CC [CC...]', e.g. 'group asean = ID MY SG TH'",
	"'group' belongs in hub.policy: groups are defined there and can be "
	"used in every file",
	group_parse},
    {NULL, 0, NULL, NULL, NULL},
};

const struct ptarget pol_targets[T_NTARGETS] = {
    [T_EVERYONE] = {"everyone", NULL, 0},
    [T_COMMUNITY] = {"community", NULL, 0},
    [T_NOBODY] = {"nobody", NULL, 0},
    [T_COUNTRIES] = {"countries", "country", 1},
    [T_MEMBERS] = {"members", "member", 1},
    [T_GROUPS] = {"groups", "group", 1},
};

const char *const pol_level_words[TLP_NLEVELS] = {
    "none", "clear", "green", "amber", "amber+strict", "red"};

/* How each kind of value of a share or never rule resolves to its index
 * (-1, reported, when it names nothing). */
typedef int value_resolve_cb(
    struct builder *, struct pfile *, int line, const char *);

static value_resolve_cb *const value_resolvers[T_NTARGETS] = {
    [T_COUNTRIES] = resolve_country,
    [T_MEMBERS] = resolve_member,
    [T_GROUPS] = resolve_group,
};

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

static int
cmp_str(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
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

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

int
pol_cc_index(const char *s)
{
	if (s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' ||
	    s[2] != '\0')
		return -1;
	return (s[0] - 'A') * 26 + (s[1] - 'A');
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
		if (strcmp(w, pol_targets[t].name) == 0)
			return t;
	for (t = 0; t < T_NTARGETS; t++) {
		if (strcasecmp(w, pol_targets[t].name) == 0) {
			ERR(b, f, line, "keywords are lower case: write '%s'",
			    pol_targets[t].name);
			return -1;
		}
		if (pol_targets[t].singular != NULL &&
		    strcasecmp(w, pol_targets[t].singular) == 0) {
			ERR(b, f, line,
			    "unknown target '%.80s' in '%s': write '%s' "
			    "(plural, also for one value)",
			    w, rule, pol_targets[t].name);
			return -1;
		}
	}
	ERR(b, f, line,
	    "unknown target '%.80s' in '%s' (everyone, community, countries, "
	    "members, groups or nobody)",
	    w, rule);
	return -1;
}

/* default <level> */
static int
default_parse(struct builder *b, struct pfile *f, struct prule *r, char **tok,
    int ntok, const struct pdirective *d)
{
	if (ntok != 2) {
		ERR(b, f, r->line, "expected %s", d->usage);
		return -1;
	}
	if ((r->level = level_parse(b, f, r->line, tok[1])) == TLP_NONE)
		return -1;
	r->kind = R_DEFAULT;
	return ntok;
}

/* group NAME = CC [CC...] */
static int
group_parse(struct builder *b, struct pfile *f, struct prule *r, char **tok,
    int ntok, const struct pdirective *d)
{
	size_t i;

	if (ntok < 4 || strcmp(tok[2], "=") != 0) {
		ERR(b, f, r->line, "expected %s", d->usage);
		return -1;
	}
	for (i = 0; tok[1][i] != '\0'; i++)
		if (!((tok[1][i] >= 'a' && tok[1][i] <= 'z') ||
			(tok[1][i] >= '0' && tok[1][i] <= '9') ||
			tok[1][i] == '_' || tok[1][i] == '-'))
			break;
	if (tok[1][i] != '\0') {
		ERR(b, f, r->line,
		    "group name '%.80s': use lower-case letters, digits, '_' "
		    "and '-' only",
		    tok[1]);
		return -1;
	}
	r->kind = R_GROUP;
	r->name = tok[1];
	return 3;
}

/* never countries|members|groups <value>... */
static int
never_parse(struct builder *b, struct pfile *f, struct prule *r, char **tok,
    int ntok, const struct pdirective *d)
{
	int t;

	if (ntok < 2) {
		ERR(b, f, r->line, "incomplete rule: expected %s", d->usage);
		return -1;
	}
	if ((t = target_parse(b, f, r->line, tok[1], "never")) == -1)
		return -1;
	if (!pol_targets[t].list) {
		ERR(b, f, r->line,
		    "'never %s': never takes countries, members or groups (to "
		    "keep a level from every member, write 'share <level> "
		    "with nobody')",
		    pol_targets[t].name);
		return -1;
	}
	if (ntok == 2) {
		ERR(b, f, r->line, "'never %s' names no %s: add at least one",
		    pol_targets[t].name, pol_targets[t].singular);
		return -1;
	}
	r->kind = R_NEVER;
	r->target = t;
	return 2;
}

/* The words before the target: 'share <level> with' in a producer's file,
 * 'share directory with' in hub.policy. */
static int
share_head(struct builder *b, struct pfile *f, struct prule *r, char **tok,
    int ntok, const struct pdirective *d)
{
	int line = r->line;

	if (ntok >= 2 && strcasecmp(tok[1], "directory") == 0) {
		if (strcmp(tok[1], "directory") != 0) {
			ERR(b, f, line,
			    "keywords are lower case: write 'directory'");
			return -1;
		}
		if (!f->hub) {
			ERR(b, f, line,
			    "'share directory' belongs in hub.policy: who sees "
			    "the points-of-contact directory is decided for "
			    "the whole hub");
			return -1;
		}
		r->kind = R_DIRECTORY;
	} else if (f->hub) {
		ERR(b, f, line,
		    "hub.policy shares only the directory ('share directory "
		    "with <target>'): put '%.80s' in the producer's file, "
		    "<member-id>.policy",
		    r->text);
		return -1;
	}
	if (ntok < 4) {
		ERR(b, f, line, "incomplete rule: expected %s",
		    f->hub ? "'share directory with <target>', e.g. 'share "
			     "directory with community'"
			   : d->usage);
		return -1;
	}
	if (r->kind != R_DIRECTORY &&
	    (r->level = level_parse(b, f, line, tok[1])) == TLP_NONE)
		return -1;
	if (strcmp(tok[2], "with") != 0) {
		if (strcasecmp(tok[2], "with") == 0)
			ERR(b, f, line,
			    "keywords are lower case: write 'with'");
		else
			ERR(b, f, line,
			    "expected 'with' after 'share %.80s', not '%.80s'",
			    tok[1], tok[2]);
		return -1;
	}
	return 0;
}

/* The target of a share rule and whether it fits the level and the
 * values; the target, or -1. */
static int
share_target(
    struct builder *b, struct pfile *f, struct prule *r, char **tok, int ntok)
{
	int line = r->line, t;
	char what[64];

	snprintf(what, sizeof(what), "share %.40s with", tok[1]);
	if ((t = target_parse(b, f, line, tok[3], what)) == -1)
		return -1;
	if (!pol_targets[t].list && ntok > 4) {
		ERR(b, f, line,
		    "'%s' takes no value: remove '%.80s' (or write 'share "
		    "%.40s with countries|members|groups ...')",
		    pol_targets[t].name, tok[4], tok[1]);
		return -1;
	}
	if (pol_targets[t].list && ntok == 4) {
		ERR(b, f, line,
		    "'share %.40s with %s' names no %s: add at least one",
		    tok[1], pol_targets[t].name, pol_targets[t].singular);
		return -1;
	}
	if (r->kind != R_DIRECTORY &&
	    (r->level == TLP_AMBER_STRICT || r->level == TLP_RED) &&
	    t != T_MEMBERS && t != T_NOBODY) {
		ERR(b, f, line,
		    "TLP:%s goes only to named member organisations (FIRST "
		    "TLP 2.0), not to %s: write 'share %s with members "
		    "<id>...' or 'share %s with nobody'",
		    marking_tlp_name(r->level), pol_targets[t].name,
		    pol_level_words[r->level], pol_level_words[r->level]);
		return -1;
	}
	return t;
}

/* share <level>|directory with <target> [values] */
static int
share_parse(struct builder *b, struct pfile *f, struct prule *r, char **tok,
    int ntok, const struct pdirective *d)
{
	int t;

	if (share_head(b, f, r, tok, ntok, d) == -1 ||
	    (t = share_target(b, f, r, tok, ntok)) == -1)
		return -1;
	if (r->kind != R_DIRECTORY)
		r->kind = R_SHARE;
	r->target = t;
	return 4;
}

/* The row of the directive w; NULL when there is none (reported). */
static const struct pdirective *
directive_find(struct builder *b, struct pfile *f, int line, const char *w)
{
	const struct pdirective *d;

	for (d = pdirectives; d->name != NULL; d++)
		if (strcmp(d->name, w) == 0)
			return d;
	for (d = pdirectives; d->name != NULL; d++)
		if (strcasecmp(d->name, w) == 0) {
			ERR(b, f, line, "keywords are lower case: write '%s'",
			    d->name);
			return NULL;
		}
	ERR(b, f, line, "unknown directive '%.80s' (%s)", w,
	    f->hub ? "hub.policy has 'group', 'never' and 'share directory "
		     "with' rules"
		   : "a producer's file has 'default', 'share' and 'never' "
		     "rules");
	return NULL;
}

/* Checks the words of one rule and fills r; r->kind is -1 when the rule
 * is malformed (the error is reported). */
static void
rule_syntax(
    struct builder *b, struct pfile *f, struct prule *r, char **tok, int ntok)
{
	const struct pdirective *d;
	int voff;

	r->kind = -1;
	if ((d = directive_find(b, f, r->line, tok[0])) == NULL)
		return;
	if (!(d->where & (f->hub ? IN_HUB : IN_PRODUCER))) {
		ERR(b, f, r->line, "%s", d->misplaced);
		return;
	}
	if ((voff = d->parse(b, f, r, tok, ntok, d)) < 0) {
		r->kind = -1; /* a malformed rule is dropped whole */
		return;
	}
	r->vals = tok + voff;
	r->nvals = ntok - voff;
}

/*
 * Splits the len bytes at s (no comment, no outer blanks) into words, in
 * one allocation r->mem: the word pointers (the rule's tokens), r->ids,
 * r->text and the words.  Returns the number of words, or -1 on
 * allocation failure.
 */
static int
rule_words(struct prule *r, const char *s, size_t len)
{
	char *text, *words, **tok;
	size_t i;
	int ntok, k, inword;

	for (i = 0, ntok = 0, inword = 0; i < len; i++) {
		if (is_blank(s[i]))
			inword = 0;
		else if (!inword) {
			inword = 1;
			ntok++;
		}
	}
	r->mem = hub_malloc(
	    (size_t)ntok * (sizeof(char *) + sizeof(int)) + 2 * (len + 1));
	if (r->mem == NULL)
		return -1;
	tok = r->mem;
	r->ids = (int *)(void *)(tok + ntok);
	text = (char *)(r->ids + ntok);
	words = text + len + 1;
	memcpy(text, s, len);
	text[len] = '\0';
	memcpy(words, s, len);
	words[len] = '\0';
	r->text = text;
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
		r->ids[k] = -1;
	return ntok;
}

/* Appends r to the rules of f; -1 on allocation failure. */
static int
rules_push(struct pfile *f, const struct prule *r)
{
	struct prule *v;

	if (f->nrules == f->cap) {
		int cap = f->cap ? f->cap * 2 : 16;

		v = hub_realloc(f->rules, sizeof(*v) * (size_t)cap);
		if (v == NULL)
			return -1;
		f->rules = v;
		f->cap = cap;
	}
	f->rules[f->nrules++] = *r;
	return 0;
}

/* Reads one line (n bytes, no newline).  Returns -1 on allocation
 * failure. */
static int
rule_add(struct builder *b, struct pfile *f, const char *p, size_t n, int line)
{
	struct prule r;
	const char *hash, *s, *e;
	int ntok;

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
	memset(&r, 0, sizeof(r));
	r.line = line;
	if ((ntok = rule_words(&r, s, (size_t)(e - s))) == -1)
		return -1;
	rule_syntax(b, f, &r, r.mem, ntok);
	if (r.kind == -1) {
		hub_free(r.mem);
		return 0;
	}
	if (rules_push(f, &r) == -1) {
		hub_free(r.mem);
		return -1;
	}
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

/* What file f is by its name: hub.policy, or the file of a member;
 * -1 (reported) when it is to be left unread. */
static int
file_identify(struct builder *b, struct pfile *f)
{
	struct policy *pol = b->pol;
	const struct members *ms = b->ms;
	const struct member *mem = NULL;
	size_t blen = strlen(f->name);
	char id[MEMBER_ID_MAX];
	int j;

	for (j = 0; j < pol->nfiles - 1; j++)
		if (strcmp(pol->files[j].name, f->name) == 0) {
			ERR(b, f, 0, "file given twice");
			return -1;
		}
	if (strcmp(f->name, HUB_FILE) == 0) {
		f->hub = 1;
		pol->hubfile = pol->nfiles - 1;
		return 0;
	}
	if (blen <= strlen(SUFFIX) ||
	    strcmp(f->name + blen - strlen(SUFFIX), SUFFIX) != 0) {
		ERR(b, f, 0,
		    "not a policy file (expected hub.policy or "
		    "<member-id>.policy)");
		return -1;
	}
	blen -= strlen(SUFFIX);
	if (blen < sizeof(id)) {
		memcpy(id, f->name, blen);
		id[blen] = '\0';
		mem = members_find(ms, id);
	}
	if (mem == NULL) {
		/* a member removed from the members file: removing
		 * narrows, so never refuse it; its objects go to admins
		 * only */
		WARN(b, f, 0,
		    "no member '%.*s': this file is ignored (a policy file "
		    "is named after its producer: <member-id>.policy, with an "
		    "id from %s; a producer that is not a member is seen by "
		    "admins only)",
		    (int)(blen > 80 ? 80 : blen), f->name,
		    ms->file ? ms->file : "the members file");
		return -1;
	}
	f->member = mem->index;
	return 0;
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

/*
 * Adds a file to b->pol and reads its rules: `name` is what explain and
 * policy_files show (its last component), `path` what error messages
 * show.  Sets b->oom on allocation failure.
 */
void
pol_file_add(struct builder *b, const char *name, const char *path,
    const char *text, size_t len)
{
	struct policy *pol = b->pol;
	struct pfile *f = &pol->files[pol->nfiles];
	const char *base = strrchr(name, '/');

	base = base ? base + 1 : name;
	if ((f->name = hub_strdup(base)) == NULL ||
	    (f->path = hub_strdup(path)) == NULL) {
		hub_free(f->name);
		f->name = NULL;
		b->oom = 1;
		return;
	}
	pol->nfiles++;
	f->member = -1;
	if (sha256_hex(text ? text : "", len, f->sha256) == -1) {
		ERR(b, f, 0, "cannot compute the SHA-256 of the file");
		return;
	}
	if (file_identify(b, f) == -1)
		return;
	if (text != NULL)
		file_read(b, f, text, len);
}

/* --- values: countries, members, groups --- */

static int
resolve_country(struct builder *b, struct pfile *f, int line, const char *s)
{
	char up[3];

	if (country_valid(s))
		return pol_cc_index(s);
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

static int
resolve_member(struct builder *b, struct pfile *f, int line, const char *v)
{
	const struct members *ms = b->ms;
	struct member key;
	const struct member *kp = &key, *const * m;

	snprintf(key.id, sizeof(key.id), "%s", v);
	m = ms->n == 0 || strlen(v) >= MEMBER_ID_MAX
	    ? NULL
	    : bsearch(
		  &kp, b->byid, (size_t)ms->n, sizeof(*b->byid), cmp_member_id);
	if (m == NULL) {
		ERR(b, f, line,
		    "no member '%.80s' in %s (member ids are case-sensitive)",
		    v, ms->file ? ms->file : "members");
		return -1;
	}
	return (*m)->index;
}

static int
resolve_group(struct builder *b, struct pfile *f, int line, const char *v)
{
	const struct pgroup *g = group_find(b->pol, v);

	if (g == NULL) {
		ERR(b, f, line,
		    "no group '%.80s' (define it in hub.policy: group %.80s = "
		    "CC [CC...])",
		    v, v);
		return -1;
	}
	return (int)(g - b->pol->groups);
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
			if (group_has(g, c)) {
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
	int i, k;

	for (i = 0; i < f->nrules; i++) {
		struct prule *r = &f->rules[i];
		value_resolve_cb *resolve;

		if (r->kind != R_SHARE && r->kind != R_NEVER &&
		    r->kind != R_DIRECTORY)
			continue;
		if ((resolve = value_resolvers[r->target]) == NULL)
			continue;
		for (k = 0; k < r->nvals; k++) {
			int id = resolve(b, f, r->line, r->vals[k]);

			if (id >= 0)
				r->ids[k] = id;
		}
	}
}

/*
 * The groups of hub.policy, then every value every rule names.  Sorts
 * b->byid by id; allocates b->sg (one slot a group).  Sets b->oom on
 * allocation failure.
 */
void
pol_values_resolve(struct builder *b)
{
	struct policy *pol = b->pol;
	int i;

	if (b->ms->n > 0)
		qsort(
		    b->byid, (size_t)b->ms->n, sizeof(*b->byid), cmp_member_id);
	if (pol->hubfile >= 0)
		groups_build(b, &pol->files[pol->hubfile]);
	if (b->oom ||
	    (b->sg = hub_calloc((size_t)pol->ngroups + 1, sizeof(int))) ==
		NULL) {
		b->oom = 1;
		return;
	}
	for (i = 0; i < pol->nfiles; i++)
		values_resolve(b, &pol->files[i]);
}

/* --- the entry points --- */

int
policy_parse(int n, const char *const names[], const char *const texts[],
    const size_t lens[], const struct members *ms, struct policy **out,
    struct cfg_errs *errs)
{
	return pol_build(n, names, names, texts, lens, ms, out, errs);
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
			return pol_build(
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
	rc =
	    pol_build(k, (const char *const *)names, (const char *const *)paths,
		(const char *const *)texts, lens, ms, out, errs);
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
