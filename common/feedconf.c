/*
 * feedconf.c -- reads the feeds file against a loaded configuration,
 * table-driven like conf.c and subscription.c: one row per directive of a
 * `feed <name> { ... }` block, with the kinds it applies to.  A line may
 * chain one-value directives ("every 1h jitter 5m", "user U password_file
 * F").  Checks every value and every combination, reporting each problem
 * as "file:line: message", and builds a taxii feed's filters into a query
 * string.  Reads the password and token files it names (first line);
 * certificate, key and CA files are only checked to be readable, and a
 * `file` source not at all (it is data, read at run time).  Does not
 * fetch, convert or store anything (feeds/, the feed engine).
 */
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/buf.h"
#include "ctihub/feedconf.h"
#include "ctihub/marking.h"
#include "ctihub/observable.h"

#define FEED_EVERY_MIN	   60 /* seconds */
#define FEED_EVERY_MAX	   (30LL * 86400)
#define FEED_TIMEOUT_DEF   "60s"
#define FEED_TIMEOUT_MAX   3600
#define FEED_BYTES_DEF	   "64M"
#define FEED_BYTES_MIN	   1024
#define FEED_BYTES_MAX	   (1ULL << 31)
#define FEED_LIMIT_MAX	   10000
#define FEED_SECRET_MAX	   4096 /* a password or token file */
#define FEED_MATCH_MAX	   16	/* values of one match filter */
#define FEED_MATCH_VAL_MAX 128	/* bytes of one of them */

enum fkind {
	F_KIND,
	F_ENABLED,
	F_URL,
	F_FILE,
	F_EVERY,
	F_JITTER,
	F_MEMBER,
	F_COLLECTION,
	F_TLP,
	F_LABELS,
	F_CONFIDENCE,
	F_USER,
	F_PASSWORD_FILE,
	F_TOKEN_FILE,
	F_TOKEN_HEADER,
	F_CERT,
	F_KEY,
	F_CA_FILE,
	F_MAX_BYTES,
	F_TIMEOUT,
	F_TYPE,
	F_COMMENT,
	F_ON_VANISH,
	F_DELIMITER,
	F_COLUMN,
	F_SKIP,
	F_FIELD,
	F_TYPE_FIELD,
	F_MATCH,
	F_LIMIT,
	F_COUNT
};

#define K_ALL	   0
#define K_TAXII	   (1u << FEED_TAXII)
#define K_MISP	   (1u << FEED_MISP)
#define K_LIST	   (1u << FEED_LIST)
#define K_CSV	   (1u << FEED_CSV)
#define K_JSON	   (1u << FEED_JSON)
#define K_SNAPSHOT (K_LIST | K_CSV | K_JSON)

/* How a row takes its values. */
enum fargs {
	A_ONE,	/* exactly one (chainable: "every 1h jitter 5m") */
	A_LIST, /* one or more, on a line of its own */
	A_PAIR, /* a key and values, on a line of its own; repeatable */
};

struct fdirective {
	const char *name;
	int args;	/* enum fargs */
	unsigned kinds; /* the kinds it applies to (1 << kind); K_ALL: all */
};

static const struct fdirective fdirectives[F_COUNT] = {
    [F_KIND] = {"kind", A_ONE, K_ALL},
    [F_ENABLED] = {"enabled", A_ONE, K_ALL},
    [F_URL] = {"url", A_ONE, K_ALL},
    [F_FILE] = {"file", A_ONE, K_SNAPSHOT},
    [F_EVERY] = {"every", A_ONE, K_ALL},
    [F_JITTER] = {"jitter", A_ONE, K_ALL},
    [F_MEMBER] = {"member", A_ONE, K_ALL},
    [F_COLLECTION] = {"collection", A_ONE, K_ALL},
    [F_TLP] = {"tlp", A_ONE, K_ALL},
    [F_LABELS] = {"labels", A_LIST, K_ALL},
    [F_CONFIDENCE] = {"confidence", A_ONE, K_ALL},
    [F_USER] = {"user", A_ONE, K_ALL},
    [F_PASSWORD_FILE] = {"password_file", A_ONE, K_ALL},
    [F_TOKEN_FILE] = {"token_file", A_ONE, K_ALL},
    [F_TOKEN_HEADER] = {"token_header", A_ONE, K_ALL},
    [F_CERT] = {"cert", A_ONE, K_ALL},
    [F_KEY] = {"key", A_ONE, K_ALL},
    [F_CA_FILE] = {"ca_file", A_ONE, K_ALL},
    [F_MAX_BYTES] = {"max_bytes", A_ONE, K_ALL},
    [F_TIMEOUT] = {"timeout", A_ONE, K_ALL},
    [F_TYPE] = {"type", A_ONE, K_SNAPSHOT},
    [F_COMMENT] = {"comment", A_ONE, K_LIST | K_CSV},
    [F_ON_VANISH] = {"on_vanish", A_ONE, K_SNAPSHOT},
    [F_DELIMITER] = {"delimiter", A_ONE, K_CSV},
    [F_COLUMN] = {"column", A_PAIR, K_CSV},
    [F_SKIP] = {"skip", A_ONE, K_CSV},
    [F_FIELD] = {"field", A_ONE, K_JSON},
    [F_TYPE_FIELD] = {"type_field", A_ONE, K_JSON},
    [F_MATCH] = {"match", A_PAIR, K_TAXII},
    [F_LIMIT] = {"limit", A_ONE, K_TAXII},
};

static const char *const kind_names[FEED_KIND_MAX + 1] = {
    [FEED_TAXII] = "taxii",
    [FEED_MISP] = "misp",
    [FEED_LIST] = "list",
    [FEED_CSV] = "csv",
    [FEED_JSON] = "json",
};

/* The TAXII 2.1 filters a `match` may name (TAXII 2.1, 3.5.1). */
static const char *const match_fields[] = {
    "id", "type", "version", "spec_version", NULL};

struct floader {
	const char *file;
	char *dir; /* of the file: relative paths resolve against it */
	const struct conf *conf;
	struct cfg_errs *errs;
	int bad;
	int oom;
};

/* What one block says beyond the feed's own fields, until the whole
 * block is read. */
struct fpending {
	int line[F_COUNT]; /* where each directive was seen; 0: not */
	const struct conf_collection *coll;
	int match_line[4]; /* per match_fields[] */
	struct buf query;
	int col_line[2]; /* column value, column type */
};

#define ERR(ld, line, ...)                                                     \
	do {                                                                   \
		cfg_errs_add((ld)->errs, (ld)->file, (line), __VA_ARGS__);     \
		(ld)->bad = 1;                                                 \
	} while (0)

static int printable(const char *);
static int find_fdirective(const char *);
static char *feed_path(struct floader *, int, const char *, int);
static char *read_secret(struct floader *, int, const char *);
static void read_coll(
    struct floader *, struct feed_def *, struct fpending *, int, const char *);
static void read_match(struct floader *, struct fpending *, int, char **, int);
static void read_column(
    struct floader *, struct feed_def *, struct fpending *, int, char **, int);
static void set_value(struct floader *, struct feed_def *, struct fpending *,
    int, int, char **, int);
static void feed_finish(struct floader *, struct feed_def *, struct fpending *,
    const struct cfg_stmt *);
static int feed_read(
    struct floader *, struct feed_def *, const struct cfg_stmt *);
static void feed_clear(struct feed_def *);

const char *
feed_kind_name(int kind)
{
	if (kind < FEED_TAXII || kind > FEED_KIND_MAX)
		return "?";
	return kind_names[kind];
}

int
feed_kind_from_name(const char *name)
{
	int k;

	for (k = FEED_TAXII; k <= FEED_KIND_MAX; k++)
		if (strcmp(kind_names[k], name) == 0)
			return k;
	return 0;
}

/* No control characters (a label or header name goes into JSON and HTTP
 * as it is). */
static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return 0;
	return 1;
}

static int
find_fdirective(const char *name)
{
	int i;

	for (i = 0; i < F_COUNT; i++)
		if (strcmp(fdirectives[i].name, name) == 0)
			return i;
	return -1;
}

/* A file named at `line`, resolved and checked (cfg_file_check). */
static char *
feed_path(struct floader *ld, int line, const char *path, int secret)
{
	char *p = cfg_file_check(
	    ld->errs, ld->file, line, ld->dir, path, secret, &ld->oom);

	if (p == NULL && !ld->oom)
		ld->bad = 1;
	return p;
}

/* The first line of a password or token file (cfg_read_secret), which
 * goes into an HTTP header: no control characters.  Caller wipes and
 * frees. */
static char *
read_secret(struct floader *ld, int line, const char *path)
{
	char *r = cfg_read_secret(
	    ld->errs, ld->file, line, ld->dir, path, FEED_SECRET_MAX, &ld->oom);

	if (r == NULL) {
		ld->bad |= !ld->oom;
		return NULL;
	}
	if (!printable(r)) {
		char *p = cfg_path(ld->dir, path);

		if (p == NULL)
			ld->oom = 1;
		else
			ERR(ld, line,
			    "%s: control characters in the first line", p);
		hub_free(p);
		explicit_bzero(r, strlen(r));
		hub_free(r);
		return NULL;
	}
	return r;
}

/* "[api-root/]id-or-alias". */
static void
read_coll(struct floader *ld, struct feed_def *f, struct fpending *fp, int line,
    const char *v)
{
	const struct conf_root *r = NULL;
	const struct conf_collection *k;
	char why[256];

	if ((k = conf_coll_resolve(ld->conf, v, &r, why, sizeof(why))) ==
	    NULL) {
		ERR(ld, line, "%s", why);
		return;
	}
	if (k->directory) {
		ERR(ld, line,
		    "collection %s is the generated directory: feeds cannot "
		    "write it",
		    v);
		return;
	}
	if (strlen(r->name) >= sizeof(f->root)) {
		ERR(ld, line, "collection %s: api root name too long", v);
		return;
	}
	snprintf(f->root, sizeof(f->root), "%s", r->name);
	memcpy(f->coll, k->id, CONF_ID_LEN);
	fp->coll = k;
}

/* "match <field> <value>...": a TAXII filter, into the query. */
static void
read_match(
    struct floader *ld, struct fpending *fp, int line, char **args, int nargs)
{
	const char *field = args[0];
	int i, j;

	for (i = 0; match_fields[i] != NULL; i++)
		if (strcmp(match_fields[i], field) == 0)
			break;
	if (match_fields[i] == NULL) {
		ERR(ld, line,
		    "match: '%s' is not a TAXII filter (id, type, version, "
		    "spec_version)",
		    field);
		return;
	}
	if (fp->match_line[i]) {
		ERR(ld, line, "match %s given twice (first at line %d)", field,
		    fp->match_line[i]);
		return;
	}
	fp->match_line[i] = line;
	if (nargs < 2) {
		ERR(ld, line, "match %s needs one or more values", field);
		return;
	}
	if (nargs - 1 > FEED_MATCH_MAX) {
		ERR(ld, line, "match %s: at most %d values", field,
		    FEED_MATCH_MAX);
		return;
	}
	for (j = 1; j < nargs; j++) {
		const char *v = args[j], *p;

		for (p = v; *p != '\0'; p++)
			if (!((*p >= 'a' && *p <= 'z') ||
				(*p >= 'A' && *p <= 'Z') ||
				(*p >= '0' && *p <= '9') || *p == '-' ||
				*p == '.' || *p == ':' || *p == '_'))
				break;
		if (*p != '\0' || p == v || p - v > FEED_MATCH_VAL_MAX) {
			ERR(ld, line,
			    "match %s: '%s' is not a filter value (1-%d of "
			    "A-Z a-z 0-9 - . : _)",
			    field, v, FEED_MATCH_VAL_MAX);
			return;
		}
	}
	buf_addf(
	    &fp->query, "%smatch[%s]=", fp->query.len > 0 ? "&" : "", field);
	for (j = 1; j < nargs; j++)
		buf_addf(&fp->query, "%s%s", j > 1 ? "," : "", args[j]);
}

/* "column value N" or "column type N" (csv). */
static void
read_column(struct floader *ld, struct feed_def *f, struct fpending *fp,
    int line, char **args, int nargs)
{
	long long n;
	int which;

	if (strcmp(args[0], "value") == 0)
		which = 0;
	else if (strcmp(args[0], "type") == 0)
		which = 1;
	else {
		ERR(ld, line, "column: '%s' is not value or type", args[0]);
		return;
	}
	if (fp->col_line[which]) {
		ERR(ld, line, "column %s given twice (first at line %d)",
		    args[0], fp->col_line[which]);
		return;
	}
	fp->col_line[which] = line;
	if (nargs != 2 ||
	    cfg_parse_int(args[1], 1, FEED_MAX_COLUMN, &n) == -1) {
		ERR(ld, line, "column %s: expected one column number, 1 to %d",
		    args[0], FEED_MAX_COLUMN);
		return;
	}
	if (which == 0)
		f->col_value = (int)n;
	else
		f->col_type = (int)n;
}

/* One directive and its values. */
static void
set_value(struct floader *ld, struct feed_def *f, struct fpending *fp, int kind,
    int line, char **args, int nargs)
{
	const struct members *ms = ld->conf->members;
	const struct member *m;
	const char *v = args[0];
	char **dst = NULL;
	long long ll;
	int64_t sec;
	int i;

	switch (kind) {
	case F_KIND:
		if ((f->kind = feed_kind_from_name(v)) == 0)
			ERR(ld, line,
			    "kind: '%s' is not taxii, misp, list, csv or json",
			    v);
		return;
	case F_ENABLED:
		if (strcmp(v, "yes") == 0)
			f->enabled = 1;
		else if (strcmp(v, "no") == 0)
			f->enabled = 0;
		else
			ERR(ld, line, "enabled: '%s' is not yes or no", v);
		return;
	case F_URL:
		if (!cfg_https_url_ok(v))
			ERR(ld, line,
			    "url '%s' is not a usable https:// URL "
			    "(https://host[:port]/path, without user "
			    "information or fragment)",
			    v);
		else
			dst = &f->url;
		break;
	case F_FILE:
		if (v[0] == '\0')
			ERR(ld, line, "file: empty file name");
		else if ((f->path = cfg_path(ld->dir, v)) == NULL)
			ld->oom = 1;
		return;
	case F_EVERY:
	case F_JITTER:
		if (cfg_parse_duration(v, &sec) == -1 ||
		    sec < (kind == F_EVERY ? FEED_EVERY_MIN : 0) ||
		    sec > FEED_EVERY_MAX)
			ERR(ld, line,
			    "%s: '%s' is not a duration between %s and 30d "
			    "(5m, 1h, 1d)",
			    fdirectives[kind].name, v,
			    kind == F_EVERY ? "1m" : "0s");
		else if (kind == F_EVERY)
			f->every = sec;
		else
			f->jitter = sec;
		return;
	case F_MEMBER:
		if ((m = members_find(ms, v)) == NULL)
			ERR(ld, line, "member: no member '%s' in %s", v,
			    ms->file);
		else if (!(m->roles & MEMBER_PUBLISHER))
			ERR(ld, line,
			    "member %s does not have the publisher role", v);
		else
			snprintf(f->member, sizeof(f->member), "%s", v);
		return;
	case F_COLLECTION:
		read_coll(ld, f, fp, line, v);
		return;
	case F_TLP:
		if ((f->tlp = marking_tlp_parse(v)) == TLP_NONE)
			ERR(ld, line,
			    "tlp: '%s' is not clear, green, amber, "
			    "amber+strict or red",
			    v);
		return;
	case F_LABELS:
		if (nargs > FEED_MAX_LABELS) {
			ERR(ld, line, "labels: at most %d", FEED_MAX_LABELS);
			return;
		}
		for (i = 0; i < nargs; i++)
			if (args[i][0] == '\0' ||
			    strlen(args[i]) >= FEED_LABEL_MAX ||
			    !printable(args[i])) {
				ERR(ld, line,
				    "labels: '%s' is empty, longer than %d "
				    "bytes or has control characters",
				    args[i], FEED_LABEL_MAX - 1);
				return;
			}
		if ((f->labels = hub_calloc((size_t)nargs, sizeof(char *))) ==
		    NULL) {
			ld->oom = 1;
			return;
		}
		for (i = 0; i < nargs; i++, f->nlabels++)
			if ((f->labels[i] = hub_strdup(args[i])) == NULL) {
				ld->oom = 1;
				return;
			}
		return;
	case F_CONFIDENCE:
		if (cfg_parse_int(v, 0, 100, &ll) == -1)
			ERR(ld, line,
			    "confidence: '%s' is not an integer between 0 "
			    "and 100",
			    v);
		else
			f->confidence = (int)ll;
		return;
	case F_USER:
		if (v[0] == '\0' || strchr(v, ':') != NULL || !printable(v))
			ERR(ld, line,
			    "user: '%s' is empty, has a ':' or control "
			    "characters",
			    v);
		else
			dst = &f->user;
		break;
	case F_PASSWORD_FILE:
		f->password = read_secret(ld, line, v);
		return;
	case F_TOKEN_FILE:
		f->token = read_secret(ld, line, v);
		return;
	case F_TOKEN_HEADER:
		if (!cfg_name_valid(v, 64) || strchr(v, '.') != NULL)
			ERR(ld, line,
			    "token_header: '%s' is not a header name (1-63 of "
			    "A-Z a-z 0-9 - _)",
			    v);
		else
			dst = &f->token_header;
		break;
	case F_CERT:
		f->cert_file = feed_path(ld, line, v, 0);
		return;
	case F_KEY:
		f->key_file = feed_path(ld, line, v, 1);
		return;
	case F_CA_FILE:
		f->ca_file = feed_path(ld, line, v, 0);
		return;
	case F_MAX_BYTES: {
		uint64_t b;

		if (cfg_parse_size(v, &b) == -1 || b < FEED_BYTES_MIN ||
		    b > FEED_BYTES_MAX)
			ERR(ld, line,
			    "max_bytes: '%s' is not a size between 1k and 2G",
			    v);
		else
			f->max_bytes = b;
		return;
	}
	case F_TIMEOUT:
		if (cfg_parse_duration(v, &sec) == -1 || sec < 1 ||
		    sec > FEED_TIMEOUT_MAX)
			ERR(ld, line,
			    "timeout: '%s' is not a duration between 1s and "
			    "1h",
			    v);
		else
			f->timeout = sec;
		return;
	case F_TYPE:
		if (strcmp(v, "detect") == 0)
			f->obs_type = OBS_NONE;
		else if ((f->obs_type = obs_type_from_name(v)) == OBS_NONE)
			ERR(ld, line,
			    "type: '%s' is not detect or an observable type "
			    "(ipv4, ipv6, domain, url, email, md5, sha1, "
			    "sha256, ...)",
			    v);
		return;
	case F_COMMENT:
		if (v[0] == '\0' || strlen(v) >= FEED_COMMENT_MAX ||
		    strpbrk(v, " \t") != NULL || !printable(v))
			ERR(ld, line,
			    "comment: '%s' is not 1-%d printable characters "
			    "without blanks",
			    v, FEED_COMMENT_MAX - 1);
		else {
			hub_free(f->comment);
			dst = &f->comment;
		}
		break;
	case F_ON_VANISH:
		if (strcmp(v, "expire") == 0)
			f->on_vanish = FEED_VANISH_EXPIRE;
		else if (strcmp(v, "revoke") == 0)
			f->on_vanish = FEED_VANISH_REVOKE;
		else
			ERR(ld, line, "on_vanish: '%s' is not expire or revoke",
			    v);
		return;
	case F_DELIMITER:
		if (strcmp(v, "tab") == 0)
			f->delimiter = '\t';
		else if (strlen(v) == 1 && v[0] > ' ' && v[0] < 0x7f &&
		    v[0] != '"')
			f->delimiter = v[0];
		else
			ERR(ld, line,
			    "delimiter: '%s' is not one printable character "
			    "(other than '\"') or tab",
			    v);
		return;
	case F_COLUMN:
		read_column(ld, f, fp, line, args, nargs);
		return;
	case F_SKIP:
		if (cfg_parse_int(v, 0, FEED_MAX_SKIP, &ll) == -1)
			ERR(ld, line,
			    "skip: '%s' is not a number of lines between 0 "
			    "and %d",
			    v, FEED_MAX_SKIP);
		else
			f->skip = (int)ll;
		return;
	case F_FIELD:
	case F_TYPE_FIELD:
		if (v[0] == '\0' || strlen(v) >= FEED_FIELD_MAX ||
		    !printable(v))
			ERR(ld, line,
			    "%s: '%s' is not a JSON member name (1-%d "
			    "printable bytes)",
			    fdirectives[kind].name, v, FEED_FIELD_MAX - 1);
		else
			dst = kind == F_FIELD ? &f->field : &f->type_field;
		break;
	case F_MATCH:
		read_match(ld, fp, line, args, nargs);
		return;
	case F_LIMIT:
		if (cfg_parse_int(v, 1, FEED_LIMIT_MAX, &ll) == -1)
			ERR(ld, line,
			    "limit: '%s' is not a page size between 1 and %d",
			    v, FEED_LIMIT_MAX);
		else
			f->limit = ll;
		return;
	}
	if (dst != NULL && (*dst = hub_strdup(v)) == NULL)
		ld->oom = 1;
}

/* The checks that need the whole block. */
static void
feed_finish(struct floader *ld, struct feed_def *f, struct fpending *fp,
    const struct cfg_stmt *st)
{
	const int *at = fp->line;
	const struct cfg_creds_at ca = {at[F_USER], at[F_PASSWORD_FILE],
	    at[F_TOKEN_FILE], at[F_CERT], at[F_KEY]};
	const struct member *m;
	int i;

	if (!at[F_KIND]) {
		ERR(ld, st->line, "feed %s has no 'kind'", f->name);
		return;
	}
	if (f->kind == 0)
		return; /* reported */
	for (i = 0; i < F_COUNT; i++)
		if (at[i] && fdirectives[i].kinds != K_ALL &&
		    !(fdirectives[i].kinds & (1u << f->kind)))
			ERR(ld, at[i], "'%s' does not apply to a %s feed",
			    fdirectives[i].name, feed_kind_name(f->kind));
	if (!at[F_URL] && !at[F_FILE])
		ERR(ld, st->line, "feed %s has no 'url'%s", f->name,
		    (1u << f->kind) & K_SNAPSHOT ? " or 'file'" : "");
	if (at[F_URL] && at[F_FILE])
		ERR(ld, at[F_URL] > at[F_FILE] ? at[F_URL] : at[F_FILE],
		    "url and file: give one");
	if (!at[F_EVERY])
		ERR(ld, st->line, "feed %s has no 'every'", f->name);
	else if (at[F_JITTER] && f->jitter >= f->every)
		ERR(ld, at[F_JITTER], "jitter is not shorter than every");
	if (!at[F_MEMBER])
		ERR(ld, st->line, "feed %s has no 'member'", f->name);
	if (!at[F_COLLECTION])
		ERR(ld, st->line, "feed %s has no 'collection'", f->name);
	/* the member publishes there: the collection's write rules */
	m = f->member[0] ? members_find(ld->conf->members, f->member) : NULL;
	if (m != NULL && fp->coll != NULL && !acl_allows(&fp->coll->write, m))
		ERR(ld, at[F_COLLECTION],
		    "member %s may not write collection %s", m->id, f->coll);
	if (f->url != NULL && f->kind == FEED_TAXII &&
	    !cfg_taxii_coll_url_ok(f->url))
		ERR(ld, at[F_URL],
		    "url '%s': a taxii feed's url is a collection's URL, "
		    "ending in /collections/<id>/",
		    f->url);
	if (f->url != NULL && f->kind == FEED_MISP &&
	    (strchr(f->url, '?') != NULL || f->url[strlen(f->url) - 1] != '/'))
		ERR(ld, at[F_URL],
		    "url '%s': a misp feed's url is its directory, ending "
		    "in / (manifest.json is under it)",
		    f->url);
	/* credentials */
	if (at[F_FILE]) {
		static const int net[] = {F_USER, F_PASSWORD_FILE, F_TOKEN_FILE,
		    F_TOKEN_HEADER, F_CERT, F_KEY, F_CA_FILE};

		for (i = 0; i < (int)(sizeof(net) / sizeof(net[0])); i++)
			if (at[net[i]])
				ERR(ld, at[net[i]],
				    "'%s' with a file source (only for url)",
				    fdirectives[net[i]].name);
	}
	if (cfg_check_creds(ld->errs, ld->file, &ca) == -1)
		ld->bad = 1;
	if (at[F_TOKEN_HEADER] && !at[F_TOKEN_FILE])
		ERR(ld, at[F_TOKEN_HEADER], "token_header without token_file");
	/* how entries are read */
	if (f->kind == FEED_CSV) {
		if (!fp->col_line[0])
			ERR(ld, st->line, "csv feed %s has no 'column value N'",
			    f->name);
		else if (f->col_type != 0 && f->col_type == f->col_value)
			ERR(ld, fp->col_line[1],
			    "column type %d is the value's column",
			    f->col_type);
		if (f->col_type != 0 && at[F_TYPE])
			ERR(ld, at[F_TYPE], "type and 'column type': give one");
	}
	if (at[F_TYPE_FIELD] && !at[F_FIELD])
		ERR(ld, at[F_TYPE_FIELD],
		    "type_field without field (the elements are objects "
		    "only with field)");
	if (f->field != NULL && f->type_field != NULL &&
	    strcmp(f->field, f->type_field) == 0)
		ERR(ld, at[F_TYPE_FIELD], "type_field is the same as field");
	if (f->type_field != NULL && at[F_TYPE])
		ERR(ld, at[F_TYPE], "type and type_field: give one");
	if (f->kind == FEED_TAXII && at[F_LABELS])
		ERR(ld, at[F_LABELS],
		    "labels with a taxii feed (objects keep their producer's "
		    "labels)");
	if (f->kind == FEED_TAXII && at[F_CONFIDENCE])
		ERR(ld, at[F_CONFIDENCE],
		    "confidence with a taxii feed (objects keep their "
		    "producer's confidence)");
	if (buf_failed(&fp->query) ||
	    (f->query = fp->query.len > 0 ? buf_detach(&fp->query, NULL)
					  : hub_strdup("")) == NULL)
		ld->oom = 1;
}

/* Reads one block into f (name already set); 0, or -1 out of memory. */
static int
feed_read(struct floader *ld, struct feed_def *f, const struct cfg_stmt *st)
{
	struct fpending fp;
	uint64_t b;
	int i, j;

	memset(&fp, 0, sizeof(fp));
	buf_init(&fp.query);
	f->line = st->line;
	f->enabled = 1;
	f->confidence = -1;
	f->on_vanish = FEED_VANISH_EXPIRE;
	f->delimiter = ',';
	if (cfg_parse_size(FEED_BYTES_DEF, &b) == -1 ||
	    cfg_parse_duration(FEED_TIMEOUT_DEF, &f->timeout) == -1)
		return -1; /* can't happen */
	f->max_bytes = b;
	if ((f->file = hub_strdup(ld->file)) == NULL ||
	    (f->comment = hub_strdup("#")) == NULL)
		ld->oom = 1;
	for (i = 0; i < st->nkids && !ld->oom; i++) {
		const struct cfg_stmt *k = &st->kids[i];
		int kind = find_fdirective(k->name);

		if (kind == -1) {
			ERR(ld, k->line, "unknown directive '%s' in a feed",
			    k->name);
			continue;
		}
		if (k->has_block) {
			ERR(ld, k->line, "'%s' takes no block", k->name);
			continue;
		}
		if (k->nargs == 0) {
			ERR(ld, k->line, "'%s' needs a value", k->name);
			continue;
		}
		if (fdirectives[kind].args != A_ONE) {
			if (fdirectives[kind].args == A_LIST) {
				if (fp.line[kind]) {
					ERR(ld, k->line,
					    "'%s' given twice (first at line "
					    "%d)",
					    k->name, fp.line[kind]);
					continue;
				}
			}
			if (!fp.line[kind])
				fp.line[kind] = k->line;
			set_value(ld, f, &fp, kind, k->line, k->args, k->nargs);
			continue;
		}
		/* one value, maybe followed by more one-value directives on
		 * the line: "every 1h jitter 5m" */
		if (k->nargs % 2 == 0) {
			ERR(ld, k->line,
			    "'%s' takes one value (then, on the same line, "
			    "more 'directive value' pairs)",
			    k->name);
			continue;
		}
		for (j = -1; j < k->nargs - 1; j += 2) {
			int kk = j < 0 ? kind : find_fdirective(k->args[j]);

			if (kk == -1 || fdirectives[kk].args != A_ONE) {
				ERR(ld, k->line,
				    kk == -1 ? "unknown directive '%s' in a "
					       "feed"
					     : "'%s' takes a list: give it a "
					       "line of its own",
				    k->args[j]);
				break;
			}
			if (fp.line[kk]) {
				ERR(ld, k->line,
				    "'%s' given twice (first at line %d)",
				    fdirectives[kk].name, fp.line[kk]);
				continue;
			}
			fp.line[kk] = k->line;
			set_value(ld, f, &fp, kk, k->line, &k->args[j + 1], 1);
		}
	}
	if (!ld->oom)
		feed_finish(ld, f, &fp, st);
	buf_clear(&fp.query);
	return ld->oom ? -1 : 0;
}

static void
feed_clear(struct feed_def *f)
{
	int i;

	hub_free(f->url);
	hub_free(f->path);
	for (i = 0; i < f->nlabels; i++)
		hub_free(f->labels[i]);
	hub_free(f->labels);
	hub_free(f->user);
	if (f->password != NULL)
		explicit_bzero(f->password, strlen(f->password));
	hub_free(f->password);
	if (f->token != NULL)
		explicit_bzero(f->token, strlen(f->token));
	hub_free(f->token);
	hub_free(f->token_header);
	hub_free(f->cert_file);
	hub_free(f->key_file);
	hub_free(f->ca_file);
	hub_free(f->comment);
	hub_free(f->field);
	hub_free(f->type_field);
	hub_free(f->query);
	hub_free(f->file);
	memset(f, 0, sizeof(*f));
}

void
feedconf_free(struct feedconf *set)
{
	int i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		feed_clear(&set->v[i]);
	hub_free(set->v);
	hub_free(set->file);
	hub_free(set);
}

/* Interprets a parsed file; frees nothing of root. */
static int
feedconf_build(const char *file, const struct cfg_stmt *root,
    const struct conf *c, struct feedconf **out, struct cfg_errs *errs)
{
	struct floader ld;
	struct feedconf *set;
	char *copy = NULL;
	int i, j;

	*out = NULL;
	memset(&ld, 0, sizeof(ld));
	ld.file = file;
	ld.conf = c;
	ld.errs = errs;
	if ((set = hub_calloc(1, sizeof(*set))) == NULL ||
	    (set->file = hub_strdup(file)) == NULL ||
	    (copy = hub_strdup(file)) == NULL ||
	    (root->nkids > 0 &&
		(set->v = hub_calloc((size_t)root->nkids, sizeof(*set->v))) ==
		    NULL))
		goto oom;
	ld.dir = dirname(copy);
	for (i = 0; i < root->nkids; i++) {
		const struct cfg_stmt *st = &root->kids[i];
		struct feed_def *f = &set->v[set->n];

		if (strcmp(st->name, "feed") != 0) {
			ERR(&ld, st->line,
			    "unknown directive '%s' (expected 'feed <name> { "
			    "... }')",
			    st->name);
			continue;
		}
		if (st->nargs != 1 || !st->has_block) {
			ERR(&ld, st->line, "expected 'feed <name> { ... }'");
			continue;
		}
		if (!cfg_name_valid(st->args[0], FEED_NAME_MAX)) {
			ERR(&ld, st->line,
			    "feed name '%s' must be 1-%d of A-Z a-z 0-9 . _ -",
			    st->args[0], FEED_NAME_MAX - 1);
			continue;
		}
		for (j = 0; j < set->n; j++)
			if (strcmp(set->v[j].name, st->args[0]) == 0) {
				ERR(&ld, st->line,
				    "feed %s already defined at line %d",
				    st->args[0], set->v[j].line);
				break;
			}
		if (j < set->n)
			continue;
		snprintf(f->name, sizeof(f->name), "%s", st->args[0]);
		set->n++;
		if (feed_read(&ld, f, st) == -1)
			goto oom;
		set->nenabled += f->enabled;
	}
	hub_free(copy);
	if (ld.bad) {
		feedconf_free(set);
		return -1;
	}
	*out = set;
	return 0;
oom:
	cfg_errs_add(errs, file, 0, "out of memory");
	hub_free(copy);
	feedconf_free(set);
	return -1;
}

/* cfg_build's callback: the configuration it checks against, if any, and
 * where the set goes. */
struct feedconf_args {
	const struct conf *c;
	struct feedconf **out;
};

static int
feedconf_build_cb(const char *file, const struct cfg_stmt *root, void *arg,
    struct cfg_errs *errs)
{
	struct feedconf_args *a = arg;

	return feedconf_build(file, root, a->c, a->out, errs);
}

int
feedconf_parse(const char *file, const char *text, size_t n,
    const struct conf *c, struct feedconf **out, struct cfg_errs *errs)
{
	struct feedconf_args a = {c, out};

	*out = NULL;
	return cfg_build(file, text, n, feedconf_build_cb, &a, errs);
}

int
feedconf_load(const char *file, const struct conf *c, struct feedconf **out,
    struct cfg_errs *errs)
{
	struct feedconf_args a = {c, out};

	*out = NULL;
	return cfg_build(file, NULL, 0, feedconf_build_cb, &a, errs);
}

const struct feed_def *
feedconf_find(const struct feedconf *set, const char *name)
{
	int i;

	if (set == NULL)
		return NULL;
	for (i = 0; i < set->n; i++)
		if (strcmp(set->v[i].name, name) == 0)
			return &set->v[i];
	return NULL;
}
