/*
 * member.c -- reads the members file into a set, table-driven like
 * conf.c: one row per directive of a `member <id> { ... }` block.
 *
 *   member cert-br {
 *           name "CERT.br"
 *           country BR
 *           roles publisher subscriber
 *           password scrypt$15$8$1$...      # ctihub member passwd
 *           token sha256$...                # ctihub member token
 *           cert sha256:AB:CD:...           # client certificate
 *   }
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/country.h"
#include "ctihub/member.h"

enum mkind {
	M_STR,	   /* one string into a char * field */
	M_STRLIST, /* one or more words into sectors */
	M_COUNTRY,
	M_ROLES,
	M_PASSWORD,
	M_TOKEN,
	M_CERT,
};

struct mdirective {
	const char *name;
	enum mkind kind;
	size_t off;
	int required;
	int repeat; /* may appear more than once */
};

static const struct mdirective mdirectives[] = {
    {"name", M_STR, offsetof(struct member, name), 1, 0},
    {"description", M_STR, offsetof(struct member, description), 0, 0},
    {"country", M_COUNTRY, 0, 1, 0},
    {"roles", M_ROLES, 0, 1, 0},
    {"sectors", M_STRLIST, 0, 0, 0},
    {"contact", M_STR, offsetof(struct member, contact_name), 0, 0},
    {"email", M_STR, offsetof(struct member, email), 0, 0},
    {"phone", M_STR, offsetof(struct member, phone), 0, 0},
    {"url", M_STR, offsetof(struct member, url), 0, 0},
    {"password", M_PASSWORD, 0, 0, 0},
    {"token", M_TOKEN, 0, 0, 1},
    {"cert", M_CERT, 0, 0, 1},
};
#define NMDIRECTIVES (sizeof(mdirectives) / sizeof(mdirectives[0]))

static int member_read(struct members *, const struct cfg_stmt *,
    struct member *, struct cfg_errs *);

int
member_id_valid(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n >= MEMBER_ID_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = id[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.')))
			return 0;
	}
	return 1;
}

void
member_roles_str(unsigned roles, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s%s",
	    roles & MEMBER_PUBLISHER ? "publisher" : "",
	    (roles & MEMBER_PUBLISHER) && (roles & ~MEMBER_PUBLISHER) ? ","
								      : "",
	    roles & MEMBER_SUBSCRIBER ? "subscriber" : "",
	    roles & MEMBER_ADMIN ? (roles & 3 ? ",admin" : "admin") : "");
}

static int
push_digest(unsigned char (**v)[CRED_DIGEST_LEN], int *n,
    const unsigned char d[CRED_DIGEST_LEN])
{
	unsigned char(*nv)[CRED_DIGEST_LEN];

	nv = hub_realloc(*v, sizeof(*nv) * (size_t)(*n + 1));
	if (nv == NULL)
		return -1;
	memcpy(nv[*n], d, CRED_DIGEST_LEN);
	*v = nv;
	(*n)++;
	return 0;
}

static int
member_read(struct members *set, const struct cfg_stmt *st, struct member *m,
    struct cfg_errs *errs)
{
	int seen[NMDIRECTIVES];
	size_t d;
	int i, j, bad = 0;
	const char *file = set->file;

	memset(seen, 0, sizeof(seen));
	m->line = st->line;
	for (i = 0; i < st->nkids; i++) {
		const struct cfg_stmt *k = &st->kids[i];
		const struct mdirective *md = NULL;
		char err[160];
		unsigned char dig[CRED_DIGEST_LEN];

		for (d = 0; d < NMDIRECTIVES; d++)
			if (strcmp(mdirectives[d].name, k->name) == 0)
				md = &mdirectives[d];
		if (md == NULL) {
			cfg_errs_add(errs, file, k->line,
			    "unknown member directive '%s'", k->name);
			bad = 1;
			continue;
		}
		d = (size_t)(md - mdirectives);
		if (seen[d]++ && !md->repeat) {
			cfg_errs_add(errs, file, k->line,
			    "'%s' given twice for member %s", k->name, m->id);
			bad = 1;
			continue;
		}
		if (k->has_block) {
			cfg_errs_add(errs, file, k->line, "'%s' takes no block",
			    k->name);
			bad = 1;
			continue;
		}
		if (k->nargs == 0 ||
		    (k->nargs > 1 && md->kind != M_ROLES &&
			md->kind != M_STRLIST)) {
			cfg_errs_add(errs, file, k->line, "'%s' takes %s",
			    k->name,
			    md->kind == M_ROLES || md->kind == M_STRLIST
				? "one or more values"
				: "exactly one value (quote it if it has "
				  "spaces)");
			bad = 1;
			continue;
		}
		switch (md->kind) {
		case M_STR: {
			char **f = (char **)(void *)((char *)m + md->off);

			if ((*f = hub_strdup(k->args[0])) == NULL)
				return -1;
			break;
		}
		case M_STRLIST:
			m->sectors =
			    hub_calloc((size_t)k->nargs, sizeof(char *));
			if (m->sectors == NULL)
				return -1;
			for (j = 0; j < k->nargs; j++) {
				m->sectors[j] = hub_strdup(k->args[j]);
				if (m->sectors[j] == NULL)
					return -1;
				m->nsectors++;
			}
			break;
		case M_COUNTRY:
			if (!country_valid(k->args[0])) {
				cfg_errs_add(errs, file, k->line,
				    "'%s' is not an ISO 3166-1 alpha-2 "
				    "country code (upper case, e.g. BR)",
				    k->args[0]);
				bad = 1;
				break;
			}
			memcpy(m->country, k->args[0], 3);
			break;
		case M_ROLES:
			for (j = 0; j < k->nargs; j++) {
				if (strcmp(k->args[j], "publisher") == 0)
					m->roles |= MEMBER_PUBLISHER;
				else if (strcmp(k->args[j], "subscriber") == 0)
					m->roles |= MEMBER_SUBSCRIBER;
				else if (strcmp(k->args[j], "admin") == 0)
					m->roles |= MEMBER_ADMIN;
				else {
					cfg_errs_add(errs, file, k->line,
					    "unknown role '%s' (publisher, "
					    "subscriber or admin)",
					    k->args[j]);
					bad = 1;
				}
			}
			break;
		case M_PASSWORD:
			if (cred_pw_parse(
				k->args[0], &m->pw, err, sizeof(err)) == -1) {
				cfg_errs_add(
				    errs, file, k->line, "password: %s", err);
				bad = 1;
			}
			break;
		case M_TOKEN:
			if (cred_token_parse(k->args[0], dig) == -1) {
				cfg_errs_add(errs, file, k->line,
				    "token: expected sha256$<64 hex digits>, "
				    "as made by 'ctihub member token' (the "
				    "token itself never goes in this file)");
				bad = 1;
			} else if (push_digest(&m->tokens, &m->ntokens, dig) ==
			    -1)
				return -1;
			break;
		case M_CERT:
			if (cred_fp_parse(k->args[0], dig) == -1) {
				cfg_errs_add(errs, file, k->line,
				    "cert: expected a SHA-256 certificate "
				    "fingerprint, sha256:AB:CD:...");
				bad = 1;
			} else if (push_digest(&m->fps, &m->nfps, dig) == -1)
				return -1;
			break;
		}
	}
	for (d = 0; d < NMDIRECTIVES; d++)
		if (mdirectives[d].required && !seen[d]) {
			cfg_errs_add(errs, file, st->line,
			    "member %s has no '%s'", m->id,
			    mdirectives[d].name);
			bad = 1;
		}
	if (!bad && m->pw.kind == CRED_NONE && m->ntokens == 0 &&
	    m->nfps == 0) {
		cfg_errs_add(errs, file, st->line,
		    "member %s has no credential (password, token or cert)",
		    m->id);
		bad = 1;
	}
	return bad;
}

static void
member_clear(struct member *m)
{
	int i;

	hub_free(m->name);
	hub_free(m->description);
	for (i = 0; i < m->nsectors; i++)
		hub_free(m->sectors[i]);
	hub_free(m->sectors);
	hub_free(m->contact_name);
	hub_free(m->email);
	hub_free(m->phone);
	hub_free(m->url);
	hub_free(m->tokens);
	hub_free(m->fps);
	memset(m, 0, sizeof(*m));
}

void
members_free(struct members *set)
{
	int i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		member_clear(&set->v[i]);
	hub_free(set->v);
	hub_free(set->file);
	hub_free(set);
}

/* Interprets a parsed file; frees nothing of root. */
static int
members_build(const char *file, const struct cfg_stmt *root,
    struct members **out, struct cfg_errs *errs)
{
	struct members *set;
	int i, j, r, bad = 0;

	*out = NULL;
	if ((set = hub_calloc(1, sizeof(*set))) == NULL ||
	    (set->file = hub_strdup(file)) == NULL)
		goto oom;
	if (root->nkids > MEMBER_MAX) {
		cfg_errs_add(errs, file, 0, "more than %d members", MEMBER_MAX);
		members_free(set);
		return -1;
	}
	set->v = hub_calloc((size_t)root->nkids, sizeof(*set->v));
	if (set->v == NULL)
		goto oom;
	for (i = 0; i < root->nkids; i++) {
		const struct cfg_stmt *st = &root->kids[i];
		struct member *m = &set->v[set->n];

		if (strcmp(st->name, "member") != 0) {
			cfg_errs_add(errs, file, st->line,
			    "unknown directive '%s' (expected 'member <id> "
			    "{ ... }')",
			    st->name);
			bad = 1;
			continue;
		}
		if (st->nargs != 1 || !st->has_block) {
			cfg_errs_add(errs, file, st->line,
			    "expected 'member <id> { ... }'");
			bad = 1;
			continue;
		}
		if (!member_id_valid(st->args[0])) {
			cfg_errs_add(errs, file, st->line,
			    "invalid member id '%s' (1-63 of A-Z a-z 0-9 . _ "
			    "-, starting with a letter or digit)",
			    st->args[0]);
			bad = 1;
			continue;
		}
		snprintf(m->id, sizeof(m->id), "%s", st->args[0]);
		m->code = MEMBER_CODE_PROVISIONAL | (uint32_t)set->n;
		m->index = set->n;
		set->n++;
		if ((r = member_read(set, st, m, errs)) == -1)
			goto oom;
		bad |= r;
		for (j = 0; j < set->n - 1; j++) {
			if (strcmp(set->v[j].id, m->id) == 0) {
				cfg_errs_add(errs, file, st->line,
				    "member %s already defined at line %d",
				    m->id, set->v[j].line);
				bad = 1;
			}
		}
	}
	if (bad) {
		members_free(set);
		return -1;
	}
	*out = set;
	return 0;
oom:
	cfg_errs_add(errs, file, 0, "out of memory");
	members_free(set);
	return -1;
}

/* cfg_build's callback: the configuration it checks against, if any, and
 * where the set goes. */
struct members_args {
	struct members **out;
};

static int
members_build_cb(const char *file, const struct cfg_stmt *root, void *arg,
    struct cfg_errs *errs)
{
	struct members_args *a = arg;

	return members_build(file, root, a->out, errs);
}

int
members_parse(const char *file, const char *text, size_t n,
    struct members **out, struct cfg_errs *errs)
{
	struct members_args a = {out};

	*out = NULL;
	return cfg_build(file, text, n, members_build_cb, &a, errs);
}

int
members_load(const char *file, struct members **out, struct cfg_errs *errs)
{
	struct members_args a = {out};

	*out = NULL;
	return cfg_build(file, NULL, 0, members_build_cb, &a, errs);
}

const struct member *
members_find(const struct members *set, const char *id)
{
	int i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->v[i].id, id) == 0)
			return &set->v[i];
	return NULL;
}

const struct member *
members_by_code(const struct members *set, uint32_t code)
{
	int i;

	for (i = 0; i < set->n; i++)
		if (set->v[i].code == code)
			return &set->v[i];
	return NULL;
}

const struct member *
members_by_token(
    const struct members *set, const unsigned char digest[CRED_DIGEST_LEN])
{
	const struct member *found = NULL;
	int i, j;

	/* no early exit: the time taken does not depend on which matched */
	for (i = 0; i < set->n; i++)
		for (j = 0; j < set->v[i].ntokens; j++)
			if (cred_equal(
				set->v[i].tokens[j], digest, CRED_DIGEST_LEN))
				found = &set->v[i];
	return found;
}

const struct member *
members_by_fp(
    const struct members *set, const unsigned char fp[CRED_DIGEST_LEN])
{
	int i, j;

	for (i = 0; i < set->n; i++)
		for (j = 0; j < set->v[i].nfps; j++)
			if (cred_equal(set->v[i].fps[j], fp, CRED_DIGEST_LEN))
				return &set->v[i];
	return NULL;
}
