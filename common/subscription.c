/*
 * subscription.c -- reads the push subscriptions file against a loaded
 * configuration, table-driven like conf.c and member.c: one row per
 * directive of a `subscription <name> { ... }` block, with the modes it
 * applies to.  A line may chain one-value directives ("user U
 * password_file F", "cert F key F").  Checks every value and every
 * combination, reporting each problem as "file:line: message", and builds
 * the filters into a query string that view_parse accepts.  Reads the
 * secret, password and token files it names (first line); other files
 * (certificates, keys) are only checked to be readable.  Does not deliver
 * anything (hub/push*.c) nor load keys (webhook.h, fetch).
 */
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "ctihub/alloc.h"
#include "ctihub/buf.h"
#include "ctihub/marking.h"
#include "ctihub/subscription.h"
#include "ctihub/view.h"

#define SUB_BATCH_DEF	  500
#define SUB_BATCH_MAX	  10000
#define SUB_DELAY_DEF	  200	/* milliseconds */
#define SUB_DELAY_MAX	  60000 /* milliseconds */
#define SUB_SECRET_MIN	  24	/* bytes of a whsec_ key */
#define SUB_SECRET_MAX	  64
#define SUB_FILE_MAX	  4096 /* a secret, password or token file */
#define SUB_TYPES_MAX	  VIEW_MAX_VALUES
#define SUB_PRODUCERS_MAX VIEW_MAX_VALUES

enum skind {
	S_MEMBER,
	S_COLLECTION,
	S_MODE,
	S_TARGET,
	S_HUB,
	S_PEER,
	S_USER,
	S_PASSWORD_FILE,
	S_TOKEN_FILE,
	S_CERT,
	S_KEY,
	S_CA_FILE,
	S_SECRET,
	S_SECRET_FILE,
	S_SIGN,
	S_SIGN_KEY,
	S_PAYLOAD,
	S_TYPES,
	S_TLP_MIN,
	S_TLP_MAX,
	S_PRODUCERS,
	S_BATCH,
	S_MAX_DELAY,
	S_COUNT
};

#define M_ALL	  0
#define M_TAXII	  (1u << SUB_TAXII)
#define M_WEBHOOK (1u << SUB_WEBHOOK)

struct sdirective {
	const char *name;
	int list;	  /* one or more values (otherwise exactly one) */
	int repeat;	  /* may appear more than once */
	unsigned modes;	  /* the modes it applies to (1 << mode); M_ALL: all */
	const char *what; /* how an error names it, for mode mismatches */
};

static const struct sdirective sdirectives[S_COUNT] = {
    [S_MEMBER] = {"member", 0, 0, M_ALL, NULL},
    [S_COLLECTION] = {"collection", 0, 1, M_ALL, NULL},
    [S_MODE] = {"mode", 0, 0, M_ALL, NULL},
    [S_TARGET] = {"target", 0, 0, M_TAXII | M_WEBHOOK, "a target"},
    [S_HUB] = {"hub", 0, 0, M_ALL, NULL},
    [S_PEER] = {"peer", 0, 0, M_ALL, NULL},
    [S_USER] = {"user", 0, 0, M_TAXII, "credentials"},
    [S_PASSWORD_FILE] = {"password_file", 0, 0, M_TAXII, "credentials"},
    [S_TOKEN_FILE] = {"token_file", 0, 0, M_TAXII, "credentials"},
    [S_CERT] = {"cert", 0, 0, M_TAXII, "credentials"},
    [S_KEY] = {"key", 0, 0, M_TAXII, "credentials"},
    [S_CA_FILE] = {"ca_file", 0, 0, M_TAXII | M_WEBHOOK, "a CA file"},
    [S_SECRET] = {"secret", 0, 0, M_WEBHOOK, "a signing secret"},
    [S_SECRET_FILE] = {"secret_file", 0, 0, M_WEBHOOK, "a signing secret"},
    [S_SIGN] = {"sign", 0, 0, M_WEBHOOK, "signing"},
    [S_SIGN_KEY] = {"sign_key", 0, 0, M_WEBHOOK, "a signing key"},
    [S_PAYLOAD] = {"payload", 0, 0, M_WEBHOOK, "a payload kind"},
    [S_TYPES] = {"types", 1, 0, M_ALL, NULL},
    [S_TLP_MIN] = {"tlp_min", 0, 0, M_ALL, NULL},
    [S_TLP_MAX] = {"tlp_max", 0, 0, M_ALL, NULL},
    [S_PRODUCERS] = {"producers", 1, 0, M_ALL, NULL},
    [S_BATCH] = {"batch", 0, 0, M_ALL, NULL},
    [S_MAX_DELAY] = {"max_delay", 0, 0, M_ALL, NULL},
};

static const char *const mode_names[] = {
    [SUB_TAXII] = "taxii", [SUB_WEBHOOK] = "webhook", [SUB_STREAM] = "stream"};

struct sloader {
	const char *file;
	char *dir; /* of the file: relative paths resolve against it */
	const struct conf *conf;
	struct cfg_errs *errs;
	int bad;
	int oom;
};

/* What one block says beyond the subscription's own fields, until the
 * whole block is read. */
struct spending {
	int line[S_COUNT]; /* where each directive was seen; 0: not */
	const struct conf_collection *coll[SUB_MAX_COLLS];
	int coll_line[SUB_MAX_COLLS];
	int tlp_min, tlp_max; /* enum tlp; TLP_NONE: not given */
	struct buf types;     /* "a,b" */
	struct buf producers; /* "a,b" */
};

#define ERR(ld, line, ...)                                                     \
	do {                                                                   \
		cfg_errs_add((ld)->errs, (ld)->file, (line), __VA_ARGS__);     \
		(ld)->bad = 1;                                                 \
	} while (0)

static int find_sdirective(const char *);
static int parse_delay_ms(const char *, int64_t *);
static int secret_decode(const char *, unsigned char **, size_t *);
static char *sub_path(struct sloader *, int, const char *, int);
static char *read_first_line(struct sloader *, int, const char *, size_t *);
static int check_target(struct sloader *, int, const char *);
static void read_coll(struct sloader *, struct subscription *,
    struct spending *, int, const char *);
static void set_value(struct sloader *, struct subscription *,
    struct spending *, int, int, char **, int);
static void sub_finish(struct sloader *, struct subscription *,
    struct spending *, const struct cfg_stmt *);
static int sub_read(
    struct sloader *, struct subscription *, const struct cfg_stmt *);
static void sub_clear(struct subscription *);

static int
find_sdirective(const char *name)
{
	int i;

	for (i = 0; i < S_COUNT; i++)
		if (strcmp(sdirectives[i].name, name) == 0)
			return i;
	return -1;
}

/* "200ms", "2s", "1m", or seconds alone ("1"). */
static int
parse_delay_ms(const char *s, int64_t *ms)
{
	size_t n = strlen(s);
	long long v;
	int64_t sec;

	if (n > 2 && strcmp(s + n - 2, "ms") == 0) {
		char num[32];

		if (n - 2 >= sizeof(num))
			return -1;
		memcpy(num, s, n - 2);
		num[n - 2] = '\0';
		if (cfg_parse_int(num, 0, SUB_DELAY_MAX, &v) == -1)
			return -1;
		*ms = v;
		return 0;
	}
	if (cfg_parse_duration(s, &sec) == -1 || sec > SUB_DELAY_MAX / 1000)
		return -1;
	*ms = sec * 1000;
	return 0;
}

/* "whsec_" and the standard base64 (padding optional) of 24 to 64 bytes;
 * *out (caller frees, wiped) holds the decoded key. */
static int
secret_decode(const char *s, unsigned char **out, size_t *outlen)
{
	char b64[4 * ((SUB_SECRET_MAX + 2) / 3) + 1];
	unsigned char raw[sizeof(b64)];
	size_t i, n, pad;
	int len;

	*out = NULL;
	if (strncmp(s, "whsec_", 6) != 0)
		return -1;
	s += 6;
	n = strlen(s);
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '+' || c == '/' ||
			(c == '=' && i + 2 >= n)))
			return -1;
	}
	if (n == 0 || n % 4 == 1 || (n + 3) / 4 * 4 >= sizeof(b64))
		return -1;
	memcpy(b64, s, n);
	while (n % 4 != 0)
		b64[n++] = '=';
	b64[n] = '\0';
	pad = (b64[n - 1] == '=') + (b64[n - 2] == '=');
	if (b64[n - 1] != '=' && b64[n - 2] == '=')
		return -1;
	len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	explicit_bzero(b64, sizeof(b64));
	if (len < 0 || (size_t)len < pad) {
		explicit_bzero(raw, sizeof(raw));
		return -1;
	}
	len -= (int)pad;
	if (len < SUB_SECRET_MIN || len > SUB_SECRET_MAX ||
	    (*out = hub_malloc((size_t)len)) == NULL) {
		explicit_bzero(raw, sizeof(raw));
		return len < SUB_SECRET_MIN || len > SUB_SECRET_MAX ? -1 : -2;
	}
	memcpy(*out, raw, (size_t)len);
	*outlen = (size_t)len;
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/*
 * Resolves a file named at `line` and checks it can be read; a secret
 * file readable by everyone is a warning.  The path (caller frees) or
 * NULL (reported).
 */
static char *
sub_path(struct sloader *ld, int line, const char *path, int secret)
{
	char *p = cfg_file_check(
	    ld->errs, ld->file, line, ld->dir, path, secret, &ld->oom);

	if (p == NULL && !ld->oom)
		ld->bad = 1;
	return p;
}

/* The first line of a secret file, without its line end and trailing
 * blanks; NULL (reported) when unreadable or empty.  Caller wipes and
 * frees. */
static char *
read_first_line(struct sloader *ld, int line, const char *path, size_t *len)
{
	char *r = cfg_read_secret(
	    ld->errs, ld->file, line, ld->dir, path, SUB_FILE_MAX, &ld->oom);

	if (r == NULL && !ld->oom)
		ld->bad = 1;
	*len = r != NULL ? strlen(r) : 0;
	return r;
}

/* https://host[:port][/path]: no user information, no fragment. */
static int
check_target(struct sloader *ld, int line, const char *url)
{
	if (strncmp(url, "https://", 8) != 0) {
		ERR(ld, line, "target '%s' is not an https:// URL", url);
		return -1;
	}
	if (!cfg_https_url_ok(url)) {
		ERR(ld, line,
		    "target '%s' is not a usable URL "
		    "(https://host[:port]/path, "
		    "without user information or fragment)",
		    url);
		return -1;
	}
	return 0;
}

/* "[api-root/]id-or-alias". */
static void
read_coll(struct sloader *ld, struct subscription *s, struct spending *sp,
    int line, const char *v)
{
	const struct conf_root *r = NULL;
	const struct conf_collection *k;
	char why[256];
	int i;

	if ((k = conf_coll_resolve(ld->conf, v, &r, why, sizeof(why))) ==
	    NULL) {
		ERR(ld, line, "%s", why);
		return;
	}
	for (i = 0; i < s->ncolls; i++)
		if (strcmp(s->colls[i].id, k->id) == 0) {
			ERR(ld, line, "collection %s named twice", v);
			return;
		}
	if (s->ncolls == SUB_MAX_COLLS) {
		ERR(ld, line, "at most %d collections a subscription",
		    SUB_MAX_COLLS);
		return;
	}
	snprintf(
	    s->colls[s->ncolls].root, sizeof(s->colls[0].root), "%s", r->name);
	memcpy(s->colls[s->ncolls].id, k->id, CONF_ID_LEN);
	s->colls[s->ncolls].code = k->code;
	sp->coll[s->ncolls] = k;
	sp->coll_line[s->ncolls] = line;
	s->ncolls++;
}

/* One directive and its values (one unless the row takes a list). */
static void
set_value(struct sloader *ld, struct subscription *s, struct spending *sp,
    int kind, int line, char **args, int nargs)
{
	const struct members *ms = ld->conf->members;
	const struct member *m;
	const char *v = args[0];
	char **f = NULL;
	long long ll;
	int i, r;

	switch (kind) {
	case S_MEMBER:
		if ((m = members_find(ms, v)) == NULL)
			ERR(ld, line, "member: no member '%s' in %s", v,
			    ms->file);
		else if (!(m->roles & MEMBER_SUBSCRIBER))
			ERR(ld, line,
			    "member %s does not have the subscriber role", v);
		else
			snprintf(s->member, sizeof(s->member), "%s", v);
		return;
	case S_COLLECTION:
		read_coll(ld, s, sp, line, v);
		return;
	case S_MODE:
		for (i = SUB_TAXII; i <= SUB_STREAM; i++)
			if (strcmp(v, mode_names[i]) == 0)
				s->mode = i;
		if (s->mode == 0)
			ERR(ld, line,
			    "mode: '%s' is not webhook, taxii or stream", v);
		return;
	case S_TARGET:
		if (check_target(ld, line, v) == 0)
			f = &s->target;
		break;
	case S_HUB:
		if (strcmp(v, "yes") == 0)
			s->hub = 1;
		else if (strcmp(v, "no") != 0)
			ERR(ld, line, "hub: '%s' is not yes or no", v);
		return;
	case S_PEER:
		if (members_find(ms, v) == NULL)
			ERR(ld, line, "peer: no member '%s' in %s", v,
			    ms->file);
		else
			f = &s->peer;
		break;
	case S_USER:
		if (strchr(v, ':') != NULL || v[0] == '\0')
			ERR(ld, line, "user: '%s' is empty or has a ':'", v);
		else
			f = &s->user;
		break;
	case S_PASSWORD_FILE:
	case S_TOKEN_FILE: {
		char **dst = kind == S_TOKEN_FILE ? &s->token : &s->password;
		size_t n;

		*dst = read_first_line(ld, line, v, &n);
		return;
	}
	case S_SECRET_FILE:
	case S_SECRET: {
		char *text = NULL;
		size_t n = 0;

		if (sp->line[S_SECRET] && sp->line[S_SECRET_FILE]) {
			ERR(ld, line, "secret and secret_file: give one");
			return;
		}
		if (kind == S_SECRET_FILE &&
		    (text = read_first_line(ld, line, v, &n)) == NULL)
			return;
		r = secret_decode(text ? text : v, &s->secret, &s->secretlen);
		if (text != NULL) {
			explicit_bzero(text, n);
			hub_free(text);
		}
		if (r == -2)
			ld->oom = 1;
		else if (r == -1)
			ERR(ld, line,
			    "%s: not whsec_ and the base64 of %d to %d "
			    "bytes",
			    sdirectives[kind].name, SUB_SECRET_MIN,
			    SUB_SECRET_MAX);
		return;
	}
	case S_CERT:
	case S_CA_FILE:
		f = kind == S_CERT ? &s->cert_file : &s->ca_file;
		*f = sub_path(ld, line, v, 0);
		return;
	case S_KEY:
	case S_SIGN_KEY:
		f = kind == S_KEY ? &s->key_file : &s->sign_key_file;
		*f = sub_path(ld, line, v, 1);
		return;
	case S_SIGN:
		if (strcmp(v, "hmac") == 0)
			s->sign = SUB_SIGN_HMAC;
		else if (strcmp(v, "ed25519") == 0)
			s->sign = SUB_SIGN_ED25519;
		else
			ERR(ld, line, "sign: '%s' is not hmac or ed25519", v);
		return;
	case S_PAYLOAD:
		if (strcmp(v, "auto") == 0)
			s->payload = SUB_PAYLOAD_AUTO;
		else if (strcmp(v, "full") == 0)
			s->payload = SUB_PAYLOAD_FULL;
		else if (strcmp(v, "thin") == 0)
			s->payload = SUB_PAYLOAD_THIN;
		else
			ERR(ld, line, "payload: '%s' is not auto, full or thin",
			    v);
		return;
	case S_TYPES:
	case S_PRODUCERS: {
		struct buf *b = kind == S_TYPES ? &sp->types : &sp->producers;

		if (nargs > VIEW_MAX_VALUES) {
			ERR(ld, line, "%s: at most %d values",
			    sdirectives[kind].name, VIEW_MAX_VALUES);
			return;
		}
		for (i = 0; i < nargs; i++) {
			if (kind == S_PRODUCERS &&
			    members_find(ms, args[i]) == NULL) {
				ERR(ld, line, "producers: no member '%s' in %s",
				    args[i], ms->file);
				continue;
			}
			/* view_parse checks the type names (the query) */
			if (strpbrk(args[i], ",&=%") != NULL) {
				ERR(ld, line, "%s: '%s' is not a %s",
				    sdirectives[kind].name, args[i],
				    kind == S_TYPES ? "STIX type name"
						    : "member id");
				continue;
			}
			if (b->len > 0)
				buf_addc(b, ',');
			buf_adds(b, args[i]);
		}
		return;
	}
	case S_TLP_MIN:
	case S_TLP_MAX: {
		enum tlp t = marking_tlp_parse(v);

		if (t == TLP_NONE)
			ERR(ld, line,
			    "%s: '%s' is not clear, green, amber, "
			    "amber+strict or red",
			    sdirectives[kind].name, v);
		else if (kind == S_TLP_MIN)
			sp->tlp_min = t;
		else
			sp->tlp_max = t;
		return;
	}
	case S_BATCH:
		if (cfg_parse_int(v, 1, SUB_BATCH_MAX, &ll) == -1)
			ERR(ld, line,
			    "batch: '%s' is not an integer between 1 and %d", v,
			    SUB_BATCH_MAX);
		else
			s->batch = ll;
		return;
	case S_MAX_DELAY:
		if (parse_delay_ms(v, &s->max_delay_ms) == -1)
			ERR(ld, line,
			    "max_delay: '%s' is not a duration between 0 and "
			    "60s (200ms, 2s)",
			    v);
		return;
	}
	if (f != NULL && (*f = hub_strdup(v)) == NULL)
		ld->oom = 1;
}

/* The checks that need the whole block, and the query. */
static void
sub_finish(struct sloader *ld, struct subscription *s, struct spending *sp,
    const struct cfg_stmt *st)
{
	const int *at = sp->line;
	const struct member *m;
	struct view_query q;
	struct buf b = BUF_INIT;
	char err[256];
	int i, lo, hi;

	if (!at[S_MEMBER])
		ERR(ld, st->line, "subscription %s has no 'member'", s->name);
	if (!at[S_COLLECTION])
		ERR(ld, st->line, "subscription %s has no 'collection'",
		    s->name);
	if (!at[S_MODE]) {
		ERR(ld, st->line, "subscription %s has no 'mode'", s->name);
		return;
	}
	if (s->mode == 0)
		return; /* reported */
	/* what the collections' read rules let the member see */
	m = s->member[0] ? members_find(ld->conf->members, s->member) : NULL;
	for (i = 0; m != NULL && i < s->ncolls; i++)
		if (!acl_allows(&sp->coll[i]->read, m))
			ERR(ld, sp->coll_line[i],
			    "member %s may not read collection %s", m->id,
			    s->colls[i].id);
	for (i = 0; i < S_COUNT; i++)
		if (at[i] && sdirectives[i].modes != M_ALL &&
		    !(sdirectives[i].modes & (1u << s->mode)))
			ERR(ld, at[i], "%s ('%s') with mode %s",
			    sdirectives[i].what, sdirectives[i].name,
			    mode_names[s->mode]);
	if (s->mode != SUB_STREAM && !at[S_TARGET])
		ERR(ld, st->line, "subscription %s (mode %s) has no 'target'",
		    s->name, mode_names[s->mode]);
	if (s->mode == SUB_TAXII && s->target != NULL &&
	    !cfg_taxii_coll_url_ok(s->target))
		ERR(ld, at[S_TARGET],
		    "target '%s': a taxii target is a collection's "
		    "URL, ending in /collections/<id>/",
		    s->target);
	if (s->mode == SUB_WEBHOOK) {
		if (s->sign == SUB_SIGN_HMAC && !at[S_SECRET] &&
		    !at[S_SECRET_FILE])
			ERR(ld, st->line,
			    "subscription %s (sign hmac) has no 'secret' or "
			    "'secret_file'",
			    s->name);
		if (s->sign == SUB_SIGN_HMAC && at[S_SIGN_KEY])
			ERR(ld, at[S_SIGN_KEY],
			    "sign_key needs 'sign ed25519'");
		if (s->sign == SUB_SIGN_ED25519 && !at[S_SIGN_KEY])
			ERR(ld, st->line,
			    "subscription %s (sign ed25519) has no 'sign_key'",
			    s->name);
		if (s->sign == SUB_SIGN_ED25519 &&
		    (at[S_SECRET] || at[S_SECRET_FILE]))
			ERR(ld, at[S_SECRET] ? at[S_SECRET] : at[S_SECRET_FILE],
			    "a secret with 'sign ed25519' (it signs with "
			    "sign_key)");
	}
	if (s->mode == SUB_TAXII) {
		struct cfg_creds_at ca = {at[S_USER], at[S_PASSWORD_FILE],
		    at[S_TOKEN_FILE], at[S_CERT], at[S_KEY]};

		if (cfg_check_creds(ld->errs, ld->file, &ca) == -1)
			ld->bad = 1;
	}
	if (at[S_PEER] && !s->hub)
		ERR(ld, at[S_PEER], "peer without 'hub yes'");
	/* the filters, as a query */
	lo = sp->tlp_min ? sp->tlp_min : TLP_CLEAR;
	hi = sp->tlp_max ? sp->tlp_max : TLP_RED;
	if (lo > hi) {
		ERR(ld, at[S_TLP_MIN], "tlp_min %s is stricter than tlp_max %s",
		    marking_tlp_name(lo), marking_tlp_name(hi));
		return;
	}
	if (s->hub && lo > TLP_AMBER) {
		ERR(ld, at[S_TLP_MIN],
		    "a hub subscription never carries AMBER+STRICT or RED "
		    "(tlp_min %s)",
		    marking_tlp_name(lo));
		return;
	}
	if (s->hub && hi > TLP_AMBER)
		hi = TLP_AMBER;
	if (sp->types.len > 0)
		buf_addf(&b, "match[type]=%s", buf_cstr(&sp->types));
	if (lo > TLP_CLEAR || hi < TLP_RED) {
		buf_adds(&b, b.len > 0 ? "&match[tlp]=" : "match[tlp]=");
		for (i = lo; i <= hi; i++) {
			char name[16];
			size_t j;

			/* lower case, '+' encoded: amber%2Bstrict */
			snprintf(name, sizeof(name), "%s", marking_tlp_name(i));
			if (i > lo)
				buf_addc(&b, ',');
			for (j = 0; name[j] != '\0'; j++)
				if (name[j] == '+')
					buf_adds(&b, "%2B");
				else
					buf_addc(&b, (char)(name[j] | 0x20));
		}
	}
	if (sp->producers.len > 0)
		buf_addf(&b, "%smatch[producer]=%s", b.len > 0 ? "&" : "",
		    buf_cstr(&sp->producers));
	if (buf_failed(&b) || buf_failed(&sp->types) ||
	    buf_failed(&sp->producers) ||
	    (s->query = buf_detach(&b, NULL)) == NULL) {
		buf_clear(&b);
		ld->oom = 1;
		return;
	}
	memset(&q, 0, sizeof(q));
	if (view_parse(&q, VIEW_OBJECTS, s->query, ld->conf->members, err,
		sizeof(err)) == -1)
		ERR(ld,
		    at[S_TYPES]		  ? at[S_TYPES]
			: at[S_PRODUCERS] ? at[S_PRODUCERS]
					  : st->line,
		    "the filters are refused: %s", err);
	view_query_clear(&q);
}

/* Reads one block into s (name already set); 0, or -1 out of memory. */
static int
sub_read(struct sloader *ld, struct subscription *s, const struct cfg_stmt *st)
{
	struct spending sp;
	int i, j;

	memset(&sp, 0, sizeof(sp));
	buf_init(&sp.types);
	buf_init(&sp.producers);
	s->line = st->line;
	s->sign = SUB_SIGN_HMAC;
	s->payload = SUB_PAYLOAD_AUTO;
	s->batch = SUB_BATCH_DEF;
	s->max_delay_ms = SUB_DELAY_DEF;
	if ((s->file = hub_strdup(ld->file)) == NULL)
		ld->oom = 1;
	for (i = 0; i < st->nkids && !ld->oom; i++) {
		const struct cfg_stmt *k = &st->kids[i];
		int kind = find_sdirective(k->name);

		if (kind == -1) {
			ERR(ld, k->line,
			    "unknown directive '%s' in a subscription",
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
		if (sdirectives[kind].list) {
			if (sp.line[kind]) {
				ERR(ld, k->line, "'%s' given twice", k->name);
				continue;
			}
			sp.line[kind] = k->line;
			set_value(ld, s, &sp, kind, k->line, k->args, k->nargs);
			continue;
		}
		/* one value, maybe followed by more one-value directives on
		 * the line: "user U password_file F" */
		if (k->nargs % 2 == 0) {
			ERR(ld, k->line,
			    "'%s' takes one value (then, on the same line, "
			    "more 'directive value' pairs)",
			    k->name);
			continue;
		}
		for (j = -1; j < k->nargs - 1; j += 2) {
			int kk = j < 0 ? kind : find_sdirective(k->args[j]);

			if (kk == -1 || sdirectives[kk].list) {
				ERR(ld, k->line,
				    kk == -1
					? "unknown directive '%s' in a "
					  "subscription"
					: "'%s' takes a list: give it a line "
					  "of its own",
				    k->args[j]);
				break;
			}
			if (sp.line[kk] && !sdirectives[kk].repeat) {
				ERR(ld, k->line, "'%s' given twice",
				    sdirectives[kk].name);
				continue;
			}
			sp.line[kk] = k->line;
			set_value(ld, s, &sp, kk, k->line, &k->args[j + 1], 1);
		}
	}
	if (!ld->oom)
		sub_finish(ld, s, &sp, st);
	buf_clear(&sp.types);
	buf_clear(&sp.producers);
	return ld->oom ? -1 : 0;
}

static void
sub_clear(struct subscription *s)
{
	hub_free(s->query);
	hub_free(s->target);
	hub_free(s->peer);
	hub_free(s->user);
	if (s->password != NULL)
		explicit_bzero(s->password, strlen(s->password));
	hub_free(s->password);
	if (s->token != NULL)
		explicit_bzero(s->token, strlen(s->token));
	hub_free(s->token);
	hub_free(s->cert_file);
	hub_free(s->key_file);
	hub_free(s->ca_file);
	if (s->secret != NULL)
		explicit_bzero(s->secret, s->secretlen);
	hub_free(s->secret);
	hub_free(s->sign_key_file);
	hub_free(s->file);
	memset(s, 0, sizeof(*s));
}

void
subs_free(struct subscriptions *set)
{
	int i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		sub_clear(&set->v[i]);
	hub_free(set->v);
	hub_free(set->file);
	hub_free(set);
}

/* Interprets a parsed file; frees nothing of root. */
static int
subs_build(const char *file, const struct cfg_stmt *root, const struct conf *c,
    struct subscriptions **out, struct cfg_errs *errs)
{
	struct sloader ld;
	struct subscriptions *set;
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
		struct subscription *s = &set->v[set->n];

		if (strcmp(st->name, "subscription") != 0) {
			ERR(&ld, st->line,
			    "unknown directive '%s' (expected 'subscription "
			    "<name> { ... }')",
			    st->name);
			continue;
		}
		if (st->nargs != 1 || !st->has_block) {
			ERR(&ld, st->line,
			    "expected 'subscription <name> { ... }'");
			continue;
		}
		if (!cfg_name_valid(st->args[0], SUB_NAME_MAX)) {
			ERR(&ld, st->line,
			    "subscription name '%s' must be 1-%d of A-Z a-z "
			    "0-9 . _ -",
			    st->args[0], SUB_NAME_MAX - 1);
			continue;
		}
		for (j = 0; j < set->n; j++)
			if (strcmp(set->v[j].name, st->args[0]) == 0) {
				ERR(&ld, st->line,
				    "subscription %s already defined at line "
				    "%d",
				    st->args[0], set->v[j].line);
				break;
			}
		if (j < set->n)
			continue;
		snprintf(s->name, sizeof(s->name), "%s", st->args[0]);
		set->n++;
		if (sub_read(&ld, s, st) == -1)
			goto oom;
	}
	hub_free(copy);
	if (ld.bad) {
		subs_free(set);
		return -1;
	}
	*out = set;
	return 0;
oom:
	cfg_errs_add(errs, file, 0, "out of memory");
	hub_free(copy);
	subs_free(set);
	return -1;
}

/* cfg_build's callback: the configuration it checks against, if any, and
 * where the set goes. */
struct subs_args {
	const struct conf *c;
	struct subscriptions **out;
};

static int
subs_build_cb(const char *file, const struct cfg_stmt *root, void *arg,
    struct cfg_errs *errs)
{
	struct subs_args *a = arg;

	return subs_build(file, root, a->c, a->out, errs);
}

int
subs_parse(const char *file, const char *text, size_t n, const struct conf *c,
    struct subscriptions **out, struct cfg_errs *errs)
{
	struct subs_args a = {c, out};

	*out = NULL;
	return cfg_build(file, text, n, subs_build_cb, &a, errs);
}

int
subs_load(const char *file, const struct conf *c, struct subscriptions **out,
    struct cfg_errs *errs)
{
	struct subs_args a = {c, out};

	*out = NULL;
	return cfg_build(file, NULL, 0, subs_build_cb, &a, errs);
}

const struct subscription *
subs_find(const struct subscriptions *set, const char *name)
{
	int i;

	if (set == NULL)
		return NULL;
	for (i = 0; i < set->n; i++)
		if (strcmp(set->v[i].name, name) == 0)
			return &set->v[i];
	return NULL;
}
