/*
 * feed_list.c -- plain, CSV and JSON indicator lists to normalised
 * entries, snapshot diffs and STIX indicators (feed_list.h).  Every
 * reader is bounded (record length, entries, JSON depth) and reports a bad
 * line as an error, never a failure.  Does no I/O and keeps no state
 * between calls: the engine fetches, stores the snapshot blob and hands
 * the envelopes to the pipeline.  At the end, feed_list_ops: the connector
 * (feed.h) of the list, csv and json kinds over those functions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/buf.h"
#include "ctihub/marking.h"
#include "ctihub/observable.h"
#include "ctihub/tstamp.h"
#include "ctihub/uuid.h"

#include "feed.h"
#include "feed_list.h"

/* ctihub's namespace of feed indicator ids (a random v4 UUID) */
static const unsigned char feed_ns[16] = {0x5b, 0x0e, 0x9c, 0x3a, 0x71, 0xd2,
    0x4e, 0x08, 0xa6, 0x4f, 0x1d, 0x93, 0xc2, 0x57, 0xe0, 0x6b};

#define BLOB_MAGIC    "FLS2"
#define SNAP_TIME_MAX 253402300799999999LL /* 9999-12-31T23:59:59.999999Z */

/* the parse in progress: entries hold pool offsets until it ends */
struct parse {
	const struct feed_list_cfg *cfg;
	struct feed_list *l;
	size_t *off;
	size_t max;
	int oom;
	struct obs o;
};

static void add_error(struct feed_list *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int add_value(struct parse *, size_t, int, const char *, size_t);
static int is_comment(const struct feed_list_cfg *, char);
static int type_alias(const char *, size_t);
static int parse_plain(struct parse *, const char *, size_t);
static int parse_csv(struct parse *, const char *, size_t);
static int parse_json(struct parse *, const char *, size_t);
static int json_depth_ok(const char *, size_t, size_t *);
static int entry_cmp(const void *, const void *);
static int key_cmp(
    const unsigned char *, size_t, const unsigned char *, size_t);
static int finish(struct parse *);
static void put16(unsigned char *, size_t);
static void put64(unsigned char *, int64_t);
static size_t get16(const unsigned char *);
static int64_t get64(const unsigned char *);
static const char *pattern_path(int);
static int indicator(struct buf *, const struct feed_list_stix *, int,
    const char *, size_t, int64_t, int, int, int64_t, struct buf *);

void
feed_list_init(struct feed_list *l)
{
	memset(l, 0, sizeof(*l));
}

void
feed_list_clear(struct feed_list *l)
{
	hub_free(l->v);
	hub_free(l->pool);
	hub_free(l->errors);
	feed_list_init(l);
}

static void
add_error(struct feed_list *l, size_t line, const char *fmt, ...)
{
	va_list ap;
	int k;

	l->nerrors++;
	if (l->nkept >= FEED_LIST_MAX_ERRORS)
		return;
	if (l->errors == NULL &&
	    (l->errors = hub_calloc(FEED_LIST_MAX_ERRORS, FEED_LIST_ERRLEN)) ==
		NULL)
		return;
	k = snprintf(l->errors[l->nkept], FEED_LIST_ERRLEN, "%zu: ", line);
	if (k < 0 || k >= FEED_LIST_ERRLEN)
		k = 0;
	va_start(ap, fmt);
	vsnprintf(
	    l->errors[l->nkept] + k, FEED_LIST_ERRLEN - (size_t)k, fmt, ap);
	va_end(ap);
	l->nkept++;
}

static int
is_comment(const struct feed_list_cfg *c, char ch)
{
	const char *set = c->comment != NULL ? c->comment : "#;";

	return ch != '\0' && strchr(set, ch) != NULL;
}

/*
 * Normalises one value and appends it.  0, 1 when the entry bound is
 * reached (stop), -1 when memory runs out.
 */
static int
add_value(struct parse *p, size_t line, int type, const char *v, size_t n)
{
	struct feed_list *l = p->l;
	char msg[OBS_ERRLEN];
	size_t need;

	if (obs_normalise(type, v, n, &p->o, msg, sizeof(msg)) != 0) {
		add_error(l, line, "%s", msg);
		return 0;
	}
	if (l->n >= p->max) {
		add_error(l, line, "more than %zu entries: the rest is ignored",
		    p->max);
		l->truncated = 1;
		return 1;
	}
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 1024;
		struct feed_entry *nv;
		size_t *noff;

		if ((nv = hub_realloc(l->v, ncap * sizeof(*nv))) == NULL)
			return -1;
		l->v = nv;
		if ((noff = hub_realloc(p->off, ncap * sizeof(*noff))) == NULL)
			return -1;
		p->off = noff;
		l->cap = ncap;
	}
	need = p->o.len + 1 + p->o.keylen;
	if (l->poolcap - l->poollen < need) {
		size_t ncap = l->poolcap ? l->poolcap : 16384;
		char *np;

		while (ncap - l->poollen < need)
			ncap *= 2;
		if ((np = hub_realloc(l->pool, ncap)) == NULL)
			return -1;
		l->pool = np;
		l->poolcap = ncap;
	}
	p->off[l->n] = l->poollen;
	memcpy(l->pool + l->poollen, p->o.text, p->o.len + 1);
	memcpy(l->pool + l->poollen + p->o.len + 1, p->o.key, p->o.keylen);
	l->poollen += need;
	l->v[l->n].type = p->o.type;
	l->v[l->n].line = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
	l->v[l->n].textlen = (uint16_t)p->o.len;
	l->v[l->n].keylen = (uint16_t)p->o.keylen;
	l->v[l->n].key = NULL;
	l->v[l->n].text = NULL;
	l->n++;
	return 0;
}

static int
parse_plain(struct parse *p, const char *d, size_t n)
{
	size_t i = 0, line = 0;
	int r;

	while (i < n) {
		const char *nl = memchr(d + i, '\n', n - i);
		size_t e = nl != NULL ? (size_t)(nl - d) : n, s = i, t;

		line++;
		i = e + 1;
		if (e - s > FEED_LIST_RECORD_MAX) {
			add_error(p->l, line, "line longer than %d bytes",
			    FEED_LIST_RECORD_MAX);
			continue;
		}
		while (s < e && (d[s] == ' ' || d[s] == '\t' || d[s] == '\r'))
			s++;
		if (s == e || is_comment(p->cfg, d[s]))
			continue;
		for (t = s;
		     t < e && d[t] != ' ' && d[t] != '\t' && d[t] != '\r'; t++)
			;
		if ((r = add_value(p, line, p->cfg->type, d + s, t - s)) != 0)
			return r < 0 ? -1 : 0;
	}
	p->l->nlines = line;
	return 0;
}

/* a type column's name: obs_type_from_name's names and common aliases */
static int
type_alias(const char *s, size_t n)
{
	static const struct {
		const char *name;
		int type;
	} alias[] = {
	    {"ip", OBS_NONE},
	    {"ip-src", OBS_NONE},
	    {"ip-dst", OBS_NONE},
	    {"ipv4-addr", OBS_IPV4},
	    {"ipv6-addr", OBS_IPV6},
	    {"hostname", OBS_DOMAIN},
	    {"domain-name", OBS_DOMAIN},
	    {"uri", OBS_URL},
	    {"email-src", OBS_EMAIL},
	    {"email-dst", OBS_EMAIL},
	    {"email-addr", OBS_EMAIL},
	    {"sha-1", OBS_SHA1},
	    {"sha-256", OBS_SHA256},
	    {"sha-512", OBS_SHA512},
	};
	char name[32];
	size_t i;
	int t;

	if (n == 0 || n >= sizeof(name))
		return -1;
	for (i = 0; i < n; i++)
		name[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	name[n] = '\0';
	if ((t = obs_type_from_name(name)) != OBS_NONE)
		return t;
	for (i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (strcmp(alias[i].name, name) == 0)
			return alias[i].type;
	return -1;
}

/* a CSV field being collected (only the value and type columns are) */
struct fld {
	size_t len;
	int over;
	int seen;
	char s[OBS_TEXT_MAX + 2];
};

static void
fld_add(struct fld *f, char c)
{
	if (f == NULL)
		return;
	if (f->len >= sizeof(f->s) - 1) {
		f->over = 1;
		return;
	}
	f->s[f->len++] = c;
}

static int
parse_csv(struct parse *p, const char *d, size_t n)
{
	const struct feed_list_cfg *c = p->cfg;
	char delim = c->delim != 0 ? c->delim : ',';
	int tcol = c->type_col;
	size_t i = 0, line = 1, skipped = 0;
	struct fld *val, *typ;
	int r = 0;

	if (tcol == c->value_col)
		tcol = -1;
	if ((val = hub_malloc(sizeof(*val) * 2)) == NULL)
		return -1;
	typ = val + 1;
	while (i < n) {
		size_t start = i, first = line, col = 0;
		const char *why = NULL;
		struct fld *f;
		int type;

		if (d[i] == '\n' ||
		    (d[i] == '\r' && i + 1 < n &&
			d[i + 1] == '\n')) { /* blank line */
			i += d[i] == '\r' ? 2 : 1;
			line++;
			continue;
		}
		if (is_comment(c, d[i])) {
			const char *nl = memchr(d + i, '\n', n - i);

			i = nl != NULL ? (size_t)(nl - d) + 1 : n;
			line++;
			continue;
		}
		val->len = typ->len = 0;
		val->over = typ->over = val->seen = typ->seen = 0;
		for (;;) { /* one field per turn */
			f = (int)col == c->value_col ? val
			    : (int)col == tcol	     ? typ
						     : NULL;
			if (f != NULL)
				f->seen = 1;
			if (c->quote && i < n && d[i] == '"') {
				i++;
				for (;;) {
					if (i >= n) {
						why = "unterminated quote";
						break;
					}
					if (d[i] == '"') {
						if (i + 1 < n &&
						    d[i + 1] == '"') {
							fld_add(f, '"');
							i += 2;
							continue;
						}
						i++;
						break;
					}
					if (d[i] == '\n')
						line++;
					fld_add(f, d[i++]);
					if (i - start > FEED_LIST_RECORD_MAX) {
						why = "record too long";
						break;
					}
				}
				if (why == NULL && i < n && d[i] != delim &&
				    d[i] != '\n' && d[i] != '\r')
					why = "text after a closing quote";
			} else {
				while (i < n && d[i] != delim && d[i] != '\n') {
					if (d[i] != '\r' ||
					    (i + 1 < n && d[i + 1] != '\n'))
						fld_add(f, d[i]);
					i++;
					if (i - start > FEED_LIST_RECORD_MAX) {
						why = "record too long";
						break;
					}
				}
			}
			if (why != NULL)
				break;
			if (i < n && d[i] == '\r')
				i++;
			if (i < n && d[i] == delim) {
				i++;
				col++;
				continue;
			}
			break; /* newline or end */
		}
		if (why != NULL) { /* resynchronise at the next newline */
			const char *nl =
			    i < n ? memchr(d + i, '\n', n - i) : NULL;

			i = nl != NULL ? (size_t)(nl - d) + 1 : n;
			add_error(p->l, first, "%s", why);
			line++;
			continue;
		}
		if (i < n && d[i] == '\n')
			i++;
		line++;
		if (skipped < (size_t)(c->skip > 0 ? c->skip : 0)) {
			skipped++;
			continue;
		}
		if (!val->seen) {
			add_error(
			    p->l, first, "no column %d", c->value_col + 1);
			continue;
		}
		if (val->over || typ->over) {
			add_error(p->l, first, "field too long");
			continue;
		}
		type = c->type;
		if (tcol >= 0) {
			if (!typ->seen) {
				add_error(
				    p->l, first, "no column %d", tcol + 1);
				continue;
			}
			if ((type = type_alias(typ->s, typ->len)) < 0) {
				add_error(p->l, first, "unknown type \"%.*s\"",
				    (int)(typ->len > 32 ? 32 : typ->len),
				    typ->s);
				continue;
			}
		}
		{
			size_t s = 0, e = val->len;

			while (s < e && (val->s[s] == ' ' || val->s[s] == '\t'))
				s++;
			while (e > s &&
			    (val->s[e - 1] == ' ' || val->s[e - 1] == '\t'))
				e--;
			if (s == e) {
				add_error(p->l, first, "empty value");
				continue;
			}
			if ((r = add_value(
				 p, first, type, val->s + s, e - s)) != 0)
				break;
		}
	}
	p->l->nlines = line - 1;
	hub_free(val);
	return r < 0 ? -1 : 0;
}

/*
 * 1 when the brackets of d[0..n) (outside strings) nest at most
 * FEED_LIST_JSON_DEPTH deep, else 0 with the line of the excess.
 */
static int
json_depth_ok(const char *d, size_t n, size_t *line)
{
	size_t i, depth = 0;
	int instr = 0;

	*line = 1;
	for (i = 0; i < n; i++) {
		char ch = d[i];

		if (ch == '\n')
			(*line)++;
		if (instr) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				instr = 0;
			continue;
		}
		if (ch == '"')
			instr = 1;
		else if (ch == '[' || ch == '{') {
			if (++depth > FEED_LIST_JSON_DEPTH)
				return 0;
		} else if ((ch == ']' || ch == '}') && depth > 0)
			depth--;
	}
	return 1;
}

static int
parse_json(struct parse *p, const char *d, size_t n)
{
	json_error_t je;
	json_t *a, *e;
	size_t i, line;
	int r = 0, type;

	if (!json_depth_ok(d, n, &line)) {
		add_error(p->l, line, "JSON nested deeper than %d",
		    FEED_LIST_JSON_DEPTH);
		return 0;
	}
	if ((a = json_loadb(d, n, 0, &je)) == NULL) {
		add_error(p->l, (size_t)(je.line > 0 ? je.line : 0), "JSON: %s",
		    je.text);
		return 0;
	}
	if (!json_is_array(a)) {
		add_error(p->l, 1, "JSON: not an array");
		json_decref(a);
		return 0;
	}
	json_array_foreach(a, i, e)
	{
		json_t *v = e;

		if (p->cfg->member != NULL && json_is_object(e))
			v = json_object_get(e, p->cfg->member);
		if (!json_is_string(v) || (p->cfg->member != NULL && v == e)) {
			add_error(p->l, i + 1,
			    p->cfg->member != NULL
				? "not an object with a string \"%s\""
				: "not a string%s",
			    p->cfg->member != NULL ? p->cfg->member : "");
			continue;
		}
		type = p->cfg->type;
		if (p->cfg->type_member != NULL) {
			json_t *t = json_object_get(e, p->cfg->type_member);

			if (!json_is_string(t) ||
			    (type = type_alias(json_string_value(t),
				 json_string_length(t))) < 0) {
				add_error(p->l, i + 1,
				    "no known type in \"%s\"",
				    p->cfg->type_member);
				continue;
			}
		}
		if ((r = add_value(p, i + 1, type, json_string_value(v),
			 json_string_length(v))) != 0)
			break;
	}
	p->l->nlines = json_array_size(a);
	json_decref(a);
	return r < 0 ? -1 : 0;
}

static int
key_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl;
}

static int
entry_cmp(const void *x, const void *y)
{
	const struct feed_entry *a = x, *b = y;
	int c = key_cmp(a->key, a->keylen, b->key, b->keylen);

	if (c != 0)
		return c;
	return a->line < b->line ? -1 : a->line > b->line;
}

/* pool offsets to pointers, sort, drop repeated keys */
static int
finish(struct parse *p)
{
	struct feed_list *l = p->l;
	size_t i, k;

	for (i = 0; i < l->n; i++) {
		l->v[i].text = l->pool + p->off[i];
		l->v[i].key = (const unsigned char *)l->pool + p->off[i] +
		    l->v[i].textlen + 1;
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), entry_cmp);
	for (i = k = 0; i < l->n; i++) {
		if (k > 0 &&
		    key_cmp(l->v[k - 1].key, l->v[k - 1].keylen, l->v[i].key,
			l->v[i].keylen) == 0) {
			l->ndup++;
			continue;
		}
		l->v[k++] = l->v[i];
	}
	l->n = k;
	return 0;
}

int
feed_list_parse(const struct feed_list_cfg *cfg, const char *data, size_t len,
    struct feed_list *l, char *err, size_t errlen)
{
	struct parse *p;
	int r = -1;

	feed_list_clear(l);
	if (cfg->format == FEED_LIST_CSV &&
	    (cfg->value_col < 0 || cfg->value_col > 1000 ||
		cfg->type_col > 1000 || cfg->delim == '"' ||
		cfg->delim == '\n')) {
		if (err != NULL)
			snprintf(err, errlen, "csv: bad column or delimiter");
		return -1;
	}
	if ((cfg->format == FEED_LIST_JSON && cfg->member != NULL &&
		cfg->member[0] == '\0') ||
	    cfg->format < FEED_LIST_PLAIN || cfg->format > FEED_LIST_JSON ||
	    cfg->type < OBS_NONE || cfg->type > OBS_TYPE_MAX) {
		if (err != NULL)
			snprintf(err, errlen, "bad format, type or member");
		return -1;
	}
	if ((p = hub_calloc(1, sizeof(*p))) == NULL)
		goto oom;
	p->cfg = cfg;
	p->l = l;
	p->max = cfg->max_entries ? cfg->max_entries : FEED_LIST_MAX_ENTRIES;
	if (cfg->format == FEED_LIST_PLAIN)
		r = parse_plain(p, data, len);
	else if (cfg->format == FEED_LIST_CSV)
		r = parse_csv(p, data, len);
	else
		r = parse_json(p, data, len);
	if (r == 0)
		r = finish(p);
	hub_free(p->off);
	hub_free(p);
	if (r == 0)
		return 0;
oom:
	feed_list_clear(l);
	if (err != NULL)
		snprintf(err, errlen, "out of memory");
	return -1;
}

/* ---- snapshots ---- */

static void
put16(unsigned char *b, size_t v)
{
	b[0] = (unsigned char)(v >> 8);
	b[1] = (unsigned char)v;
}

static void
put64(unsigned char *b, int64_t v)
{
	uint64_t u = (uint64_t)v;
	int i;

	for (i = 7; i >= 0; i--, u >>= 8)
		b[i] = (unsigned char)u;
}

static size_t
get16(const unsigned char *b)
{
	return (size_t)b[0] << 8 | b[1];
}

static int64_t
get64(const unsigned char *b)
{
	uint64_t u = 0;
	int i;

	for (i = 0; i < 8; i++)
		u = u << 8 | b[i];
	return (int64_t)u;
}

/* one record of an old snapshot */
struct rec {
	const unsigned char *key;
	size_t keylen;
	const char *text; /* NULL: in the key */
	size_t textlen;
	int salted;
	int revoked; /* gone in revoke mode */
	int64_t created;
	int64_t gone; /* 0: present */
	size_t at;    /* offset of the record */
	size_t next;  /* offset of the next record */
};

/* a snapshot's header: its version (1, 2), records, present ones */
static int
snap_head(
    const unsigned char *b, size_t n, int *ver, size_t *nrec, size_t *npresent)
{
	if (n >= 8 && memcmp(b, "FLS1", 4) == 0) {
		*ver = 1;
		*nrec = *npresent = (size_t)get16(b + 4) << 16 | get16(b + 6);
		return 8;
	}
	if (n >= 12 && memcmp(b, BLOB_MAGIC, 4) == 0) {
		*ver = 2;
		*nrec = (size_t)get16(b + 4) << 16 | get16(b + 6);
		*npresent = (size_t)get16(b + 8) << 16 | get16(b + 10);
		return 12;
	}
	return -1;
}

int
feed_list_snap_present(const void *blob, size_t len, size_t *present)
{
	size_t nrec;
	int ver;

	return snap_head(blob, len, &ver, &nrec, present) < 0 ? -1 : 0;
}

static int
rec_read(const unsigned char *b, size_t n, size_t off, int ver, struct rec *r)
{
	size_t tail = ver == 1 ? 8 : 16, tl;

	r->at = off;
	if (n - off < 2 || (r->keylen = get16(b + off)) < 2 ||
	    r->keylen > OBS_KEY_MAX || n - off - 2 < r->keylen + 2)
		return -1;
	r->key = b + off + 2;
	off += 2 + r->keylen;
	tl = get16(b + off);
	r->salted = ver == 2 && (tl & FEED_LIST_SALTED) != 0;
	r->revoked = ver == 2 && (tl & FEED_LIST_REVOKED) != 0;
	r->textlen = ver == 2
	    ? tl & ~(size_t)(FEED_LIST_SALTED | FEED_LIST_REVOKED)
	    : tl;
	if (r->textlen > OBS_TEXT_MAX || n - off - 2 < r->textlen + tail)
		return -1;
	r->text = r->textlen ? (const char *)b + off + 2 : NULL;
	off += 2 + r->textlen;
	r->created = get64(b + off);
	r->gone = ver == 1 ? 0 : get64(b + off + 8);
	r->next = off + tail;
	return 0;
}

void
feed_diff_init(struct feed_diff *d)
{
	memset(d, 0, sizeof(*d));
}

void
feed_diff_clear(struct feed_diff *d)
{
	hub_free(d->added);
	hub_free(d->reborn);
	hub_free(d->back);
	hub_free(d->gone);
	hub_free(d->blob);
	hub_free(d->pool);
	feed_diff_init(d);
}

size_t
feed_diff_total(const struct feed_diff *d)
{
	return d->nadded + d->nback + d->ngone;
}

/* 1 when the text of an entry must be stored beside its key */
static int
text_needed(const unsigned char *key, size_t keylen, const char *text,
    size_t len, char *tmp)
{
	size_t k = obs_key_text(key, keylen, tmp);

	return k != len || memcmp(tmp, text, len) != 0;
}

/* appends one record; flags: FEED_LIST_SALTED, FEED_LIST_REVOKED */
static unsigned char *
put_rec(unsigned char *w, const unsigned char *key, size_t keylen,
    const char *text, size_t tl, int flags, int64_t created, int64_t gone)
{
	put16(w, keylen);
	memcpy(w + 2, key, keylen);
	w += 2 + keylen;
	put16(w, tl | (size_t)flags);
	if (tl > 0)
		memcpy(w + 2, text, tl);
	w += 2 + tl;
	put64(w, created);
	put64(w + 8, gone);
	return w + 16;
}

static int
time_desc(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return a > b ? -1 : a < b;
}

/*
 * The gone time before which gone records are forgotten so that at most
 * FEED_LIST_GONE_MAX of a checked snapshot's are kept (the newest; ties
 * kept).  0, or -1 when memory runs out.
 */
static int
gone_cut(const unsigned char *ob, size_t oldlen, size_t off, int ver,
    size_t nold, int64_t *cut)
{
	int64_t *t;
	size_t j, k = 0;
	struct rec r;

	if ((t = hub_malloc(nold * sizeof(*t))) == NULL)
		return -1;
	for (j = 0; j < nold; j++, off = r.next) {
		rec_read(ob, oldlen, off, ver, &r);
		if (r.gone != 0)
			t[k++] = r.gone;
	}
	qsort(t, k, sizeof(*t), time_desc);
	*cut = t[FEED_LIST_GONE_MAX - 1];
	hub_free(t);
	return 0;
}

int
feed_list_diff(const struct feed_list *l, const void *old, size_t oldlen,
    int64_t now, int mode, struct feed_diff *d, char *err, size_t errlen)
{
	const unsigned char *ob = old;
	size_t nold = 0, npresent = 0, np, first = 0, off, i, j, size;
	size_t gpool = 0, gp = 0, nrec = 0;
	char *tmp = NULL;
	unsigned char *w, *w0;
	struct rec r = {0}, prev = {0};
	const char *why = "out of memory";
	int64_t cut = 0; /* gone before it: forgotten (GONE_MAX) */
	int ver = 2, h;

	feed_diff_clear(d);
	if ((tmp = hub_malloc(OBS_TEXT_MAX + 1)) == NULL)
		goto fail;
	/* check the old snapshot whole before trusting any of it */
	if (oldlen > 0) {
		why = "snapshot: bad header";
		if ((h = snap_head(ob, oldlen, &ver, &nold, &npresent)) < 0)
			goto fail;
		first = (size_t)h;
		for (off = first, j = np = 0; j < nold; j++, off = r.next) {
			why = "snapshot: truncated record";
			if (rec_read(ob, oldlen, off, ver, &r) != 0)
				goto fail;
			why = "snapshot: keys out of order";
			if (j > 0 &&
			    key_cmp(prev.key, prev.keylen, r.key, r.keylen) >=
				0)
				goto fail;
			why = "snapshot: bad entry";
			if (r.key[0] == OBS_NONE || r.key[0] > OBS_TYPE_MAX ||
			    r.created < 0 || r.created > SNAP_TIME_MAX ||
			    (r.gone != 0 &&
				(r.gone < r.created ||
				    r.gone > SNAP_TIME_MAX)) ||
			    (r.gone == 0 && r.revoked) ||
			    (r.text == NULL &&
				obs_key_text(r.key, r.keylen, tmp) == 0) ||
			    (r.text != NULL &&
				memchr(r.text, '\0', r.textlen) != NULL))
				goto fail;
			np += r.gone == 0;
			prev = r;
		}
		why = "snapshot: trailing bytes";
		if (off != oldlen)
			goto fail;
		why = "snapshot: bad present count";
		if (np != npresent)
			goto fail;
		why = "out of memory";
		if (nold - npresent > FEED_LIST_GONE_MAX &&
		    gone_cut(ob, oldlen, first, ver, nold, &cut) != 0)
			goto fail;
	}
	why = "out of memory";
	/* the new blob's bound: every list entry with its text, every old
	 * record grown by the gone time (FLS1); shrunk at the end */
	size = 12 + 20 * l->n + l->poollen + oldlen + 8 * nold;
	if ((d->added = hub_calloc(l->n + 1, sizeof(*d->added))) == NULL ||
	    (d->reborn = hub_calloc(l->n + 1, 1)) == NULL ||
	    (d->back = hub_calloc((npresent < nold ? nold - npresent : 0) + 1,
		 sizeof(*d->back))) == NULL ||
	    (d->gone = hub_calloc(npresent + 1, sizeof(*d->gone))) == NULL ||
	    (d->blob = hub_malloc(size)) == NULL)
		goto fail;
	w = d->blob + 12;
	/* merge: added, returned, kept (first-seen time carried over),
	 * vanished, still gone and forgotten, writing the new blob */
	for (i = 0, j = 0, off = first; i < l->n || j < nold;) {
		const struct feed_entry *e;
		int64_t cr;
		int c, salted, reborn = 0;

		if (j < nold)
			rec_read(ob, oldlen, off, ver, &r);
		c = i >= l->n ? 1
		    : j >= nold
		    ? -1
		    : key_cmp(l->v[i].key, l->v[i].keylen, r.key, r.keylen);
		if (c >= 0) {
			off = r.next;
			j++;
		}
		if (c > 0) { /* only in the old snapshot */
			if (r.gone != 0 &&
			    (now - r.gone >= FEED_LIST_FORGET || r.gone < cut))
				continue; /* forgotten */
			if (r.gone == 0) {
				struct feed_gone *g = &d->gone[d->ngone++];

				g->type = r.key[0];
				g->text = (const char *)ob + r.at;
				g->created = r.created;
				g->salted = r.salted;
				g->textlen = r.text != NULL
				    ? r.textlen
				    : obs_key_text(r.key, r.keylen, tmp);
				gpool += g->textlen + 1;
			}
			/* gone now, never before it was first seen (a clock
			 * set back): the blob must read back */
			w = put_rec(w, r.key, r.keylen, r.text, r.textlen,
			    (r.salted ? FEED_LIST_SALTED : 0) |
				(r.revoked ||
					    (r.gone == 0 &&
						mode == FEED_LIST_REVOKE)
					? FEED_LIST_REVOKED
					: 0),
			    r.created,
			    r.gone != 0		  ? r.gone
				: now > r.created ? now
						  : r.created);
			nrec++;
			continue;
		}
		e = &l->v[i];
		/* a revoked indicator never comes back: a new one, its id
		 * salted with its first-seen time.  A value never seen (or
		 * forgotten) gets the id of the value alone, as before: the
		 * same after a lost state, not a duplicate */
		if (c == 0 && r.gone != 0 &&
		    (r.revoked || mode == FEED_LIST_REVOKE)) {
			c = -1;
			reborn = 1;
		}
		if (c < 0) {
			cr = now;
			salted = reborn;
			d->reborn[d->nadded] = (unsigned char)reborn;
			d->added[d->nadded++] = i;
		} else {
			cr = r.created;
			salted = r.salted;
			if (r.gone != 0) {
				struct feed_back *k = &d->back[d->nback++];

				k->i = i;
				k->created = r.created;
				k->salted = r.salted;
				k->gone = r.gone;
			}
		}
		w = put_rec(w, e->key, e->keylen, e->text,
		    text_needed(e->key, e->keylen, e->text, e->textlen, tmp)
			? e->textlen
			: 0,
		    salted ? FEED_LIST_SALTED : 0, cr, 0);
		nrec++;
		i++;
	}
	why = "snapshot: too many records";
	if (nrec > UINT32_MAX)
		goto fail;
	why = "out of memory";
	w0 = d->blob;
	memcpy(w0, BLOB_MAGIC, 4);
	put16(w0 + 4, (nrec >> 16) & 0xffff);
	put16(w0 + 6, nrec & 0xffff);
	put16(w0 + 8, (l->n >> 16) & 0xffff);
	put16(w0 + 10, l->n & 0xffff);
	size = (size_t)(w - w0);
	if ((w0 = hub_realloc(d->blob, size)) != NULL)
		d->blob = w0;
	/* the texts of gone entries (g->text held their record) */
	if ((d->pool = hub_malloc(gpool + 1)) == NULL)
		goto fail;
	for (i = 0; i < d->ngone; i++) {
		struct feed_gone *g = &d->gone[i];

		rec_read(ob, oldlen,
		    (size_t)((const unsigned char *)g->text - ob), ver, &r);
		if (r.text != NULL)
			memcpy(d->pool + gp, r.text, r.textlen);
		else
			obs_key_text(r.key, r.keylen, d->pool + gp);
		d->pool[gp + g->textlen] = '\0';
		g->text = d->pool + gp;
		gp += g->textlen + 1;
	}
	d->bloblen = size;
	d->nold = npresent;
	d->nrecords = nrec;
	d->now = now;
	hub_free(tmp);
	return 0;
fail:
	if (err != NULL)
		snprintf(err, errlen, "%s", why);
	hub_free(tmp);
	feed_diff_clear(d);
	return -1;
}

/* ---- STIX ---- */

static const char *
pattern_path(int type)
{
	switch (type) {
	case OBS_IPV4:
		return "ipv4-addr:value";
	case OBS_IPV6:
		return "ipv6-addr:value";
	case OBS_DOMAIN:
		return "domain-name:value";
	case OBS_URL:
		return "url:value";
	case OBS_EMAIL:
		return "email-addr:value";
	case OBS_MAC:
		return "mac-addr:value";
	case OBS_ASN:
		return "autonomous-system:number";
	case OBS_MD5:
		return "file:hashes.MD5";
	case OBS_SHA1:
		return "file:hashes.'SHA-1'";
	case OBS_SHA256:
		return "file:hashes.'SHA-256'";
	case OBS_SHA512:
		return "file:hashes.'SHA-512'";
	case OBS_SSDEEP:
		return "file:hashes.SSDEEP";
	case OBS_TLSH:
		return "file:hashes.TLSH";
	case OBS_X509_MD5:
		return "x509-certificate:hashes.MD5";
	case OBS_X509_SHA1:
		return "x509-certificate:hashes.'SHA-1'";
	case OBS_X509_SHA256:
		return "x509-certificate:hashes.'SHA-256'";
	case OBS_X509_SHA512:
		return "x509-certificate:hashes.'SHA-512'";
	}
	return NULL;
}

int
feed_list_pattern(struct buf *b, int type, const char *text, size_t len)
{
	const char *path = pattern_path(type);
	size_t i;

	if (path == NULL)
		return -1;
	buf_addc(b, '[');
	buf_adds(b, path);
	buf_adds(b, " = ");
	if (type == OBS_ASN) {
		for (i = 0; i < len; i++)
			if (text[i] < '0' || text[i] > '9')
				return -1;
		buf_add(b, text, len);
	} else {
		buf_addc(b, '\'');
		for (i = 0; i < len; i++) {
			if (text[i] == '\'' || text[i] == '\\')
				buf_addc(b, '\\');
			buf_addc(b, text[i]);
		}
		buf_addc(b, '\'');
	}
	buf_addc(b, ']');
	return 0;
}

int
feed_list_id(const struct feed_list_stix *s, int type, const char *text,
    size_t len, int64_t salt, char out[FEED_LIST_ID_LEN + 1])
{
	const char *tn = obs_type_name(type);
	size_t pl = s->producer != NULL ? strlen(s->producer) : 0;
	size_t tl = tn != NULL ? strlen(tn) : 0;
	char stack[512], *name = stack;
	unsigned char u[16];
	size_t n = pl + 1 + tl + 1 + len + (salt >= 0 ? 9 : 0);
	int r;

	if (n > sizeof(stack) && (name = hub_malloc(n)) == NULL)
		return -1;
	memcpy(name, s->producer != NULL ? s->producer : "", pl);
	name[pl] = '\0';
	memcpy(name + pl + 1, tn != NULL ? tn : "", tl);
	name[pl + 1 + tl] = ':';
	memcpy(name + pl + 2 + tl, text, len);
	if (salt >= 0) {
		name[pl + 2 + tl + len] = '\0';
		put64((unsigned char *)name + pl + 3 + tl + len, salt);
	}
	r = uuid_v5(s->ns != NULL ? s->ns : feed_ns, name, n, u);
	if (name != stack)
		hub_free(name);
	if (r != 0)
		return -1;
	memcpy(out, "indicator--", 11);
	uuid_format(u, out + 11);
	return 0;
}

static void
add_member(struct buf *b, const char *k, const char *v, size_t n)
{
	buf_addf(b, ",\"%s\":", k);
	buf_add_jstr(b, v, n);
}

/* feed_list_indicator with a scratch buffer the caller reuses */
static int
indicator(struct buf *b, const struct feed_list_stix *s, int type,
    const char *text, size_t len, int64_t created, int salted, int ver,
    int64_t gone, struct buf *pat)
{
	char id[FEED_LIST_ID_LEN + 1], tc[TSTAMP_LEN], tm[TSTAMP_LEN];
	char tv[TSTAMP_LEN];
	int64_t mod = created, vanish;
	int vanished = ver == FEED_LIST_VANISHED;
	size_t i;

	if (feed_list_id(s, type, text, len, salted ? created : -1, id) != 0)
		return -1;
	buf_reset(pat);
	if (feed_list_pattern(pat, type, text, len) != 0 || buf_failed(pat))
		return -1;
	if (vanished)
		mod = s->now > created + 1000 ? s->now : created + 1000;
	else if (ver == FEED_LIST_BACK) {
		/* after the vanished version's modified (as written above
		 * when it vanished at gone), each a millisecond apart */
		vanish = gone > created + 1000 ? gone : created + 1000;
		mod = s->now > vanish + 1000 ? s->now : vanish + 1000;
	}
	tstamp_format(created, 3, tc);
	tstamp_format(mod, 3, tm);
	tstamp_format(ver == FEED_LIST_BACK ? s->now : created, 3, tv);
	buf_adds(b, "{\"type\":\"indicator\",\"spec_version\":\"2.1\"");
	add_member(b, "id", id, strlen(id));
	add_member(b, "created", tc, strlen(tc));
	add_member(b, "modified", tm, strlen(tm));
	if (s->created_by_ref != NULL)
		add_member(b, "created_by_ref", s->created_by_ref,
		    strlen(s->created_by_ref));
	buf_adds(b, ",\"name\":");
	if (s->name != NULL) {
		size_t at = pat->len; /* after the pattern */

		buf_adds(pat, s->name);
		buf_adds(pat, ": ");
		buf_add(pat, text, len);
		if (buf_failed(pat))
			return -1;
		buf_add_jstr(b, pat->data + at, pat->len - at);
		pat->len = at;
	} else
		buf_add_jstr(b, text, len);
	add_member(b, "pattern", pat->data, pat->len);
	buf_adds(b, ",\"pattern_type\":\"stix\",\"pattern_version\":\"2.1\"");
	add_member(b, "valid_from", tv, strlen(tv));
	if (vanished && s->mode == FEED_LIST_REVOKE)
		buf_adds(b, ",\"revoked\":true");
	else if (vanished)
		add_member(b, "valid_until", tm, strlen(tm));
	if (s->nlabels > 0) {
		buf_adds(b, ",\"labels\":[");
		for (i = 0; i < s->nlabels; i++) {
			if (i > 0)
				buf_addc(b, ',');
			buf_add_jstr(b, s->labels[i], strlen(s->labels[i]));
		}
		buf_addc(b, ']');
	}
	if (s->confidence >= 0 && s->confidence <= 100)
		buf_addf(b, ",\"confidence\":%d", s->confidence);
	if (s->marking_ref != NULL) {
		buf_adds(b, ",\"object_marking_refs\":[");
		buf_add_jstr(b, s->marking_ref, strlen(s->marking_ref));
		buf_addc(b, ']');
	}
	buf_addc(b, '}');
	return 0;
}

int
feed_list_indicator(struct buf *b, const struct feed_list_stix *s, int type,
    const char *text, size_t len, int64_t created, int salted, int ver,
    int64_t gone)
{
	struct buf pat;
	int r;

	buf_init(&pat);
	r = indicator(b, s, type, text, len, created, salted, ver, gone, &pat);
	buf_clear(&pat);
	return r;
}

long
feed_list_envelope(struct buf *b, const struct feed_list_stix *s,
    const struct feed_list *l, const struct feed_diff *d, size_t *pos,
    size_t max)
{
	size_t total = feed_diff_total(d);
	struct buf pat;
	long k = 0;

	buf_init(&pat);
	buf_adds(b, "{\"objects\":[");
	for (; *pos < total && (size_t)k < max; (*pos)++) {
		size_t p = *pos;
		int r;

		if (k > 0)
			buf_addc(b, ',');
		if (p < d->nadded) {
			const struct feed_entry *e = &l->v[d->added[p]];

			r = indicator(b, s, e->type, e->text, e->textlen,
			    d->now, d->reborn[p], FEED_LIST_NEW, 0, &pat);
		} else if (p < d->nadded + d->nback) {
			const struct feed_back *bk = &d->back[p - d->nadded];
			const struct feed_entry *e = &l->v[bk->i];

			r = indicator(b, s, e->type, e->text, e->textlen,
			    bk->created, bk->salted, FEED_LIST_BACK, bk->gone,
			    &pat);
		} else {
			const struct feed_gone *g =
			    &d->gone[p - d->nadded - d->nback];

			r = indicator(b, s, g->type, g->text, g->textlen,
			    g->created, g->salted, FEED_LIST_VANISHED, 0, &pat);
		}
		if (r != 0) {
			buf_clear(&pat);
			return -1;
		}
		k++;
	}
	buf_clear(&pat);
	buf_adds(b, "]}");
	return k;
}

/*
 * The connector (feed.h) of the list, csv and json kinds: one download a
 * run, with the conditional headers of the saved state; its diff against
 * the saved snapshot, paged into envelopes of FEED_PAGE_OBJECTS; the new
 * state with the last page.
 *
 * State: "FLH1", the ETag and the Last-Modified (each a 2-byte length and
 * the text, 0 for none), then the snapshot (feed_list_diff's blob, FLS2;
 * an FLS1 one saved before is read and replaced by the next diff; empty
 * before the first download).  The snapshot's checks ("an empty download
 * where the last one had N entries") count its present entries only:
 * gone ones are kept for a while but are not on the list.
 */
#define STATE_MAGIC "FLH1"

enum { LR_ASK, LR_ASKED, LR_PAGING, LR_DONE };

struct list_run {
	const struct feed_ctx *ctx;
	struct feed_list_cfg cfg;
	struct feed_list_stix stix;
	char *etag, *lm;     /* saved, or NULL */
	unsigned char *snap; /* saved snapshot, or NULL */
	size_t snaplen;
	size_t snapn; /* its present entries */
	int phase;
	struct feed_list l;
	struct feed_diff d;
	size_t pos, total;
	struct buf state; /* the new state, for the last page */
};

static char *
lr_str(const unsigned char *p, size_t n)
{
	return n > 0 ? hub_strndup((const char *)p, n) : NULL;
}

/* s when it can be kept and sent back as a header value, else NULL: one
 * too long or with a control byte is better forgotten than sent broken. */
static const char *
lr_keep(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0, i;

	if (n == 0 || n > FEED_HEADER_MAX)
		return NULL;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return NULL;
	return s;
}

/* Appends a 2-byte length and s (0 and nothing for NULL). */
static void
lr_put_str(struct buf *b, const char *s)
{
	unsigned char h[2];
	size_t n = s != NULL ? strlen(s) : 0;

	put16(h, n);
	buf_add(b, h, 2);
	buf_add(b, s, n);
}

/* 1 when the saved validator a is what b would be saved as. */
static int
lr_same(const char *a, const char *b)
{
	b = lr_keep(b);
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void lr_free(struct feed_run *);

static struct feed_run *
lr_new(const struct feed_ctx *ctx, const struct feed_state *st, char *err,
    size_t errlen)
{
	const struct feed_def *def = ctx->def;
	struct list_run *r;

	if ((r = hub_calloc(1, sizeof(*r))) == NULL) {
		buf_seterr(err, errlen, "out of memory");
		return NULL;
	}
	r->ctx = ctx;
	feed_list_init(&r->l);
	feed_diff_init(&r->d);
	buf_init(&r->state);
	switch (def->kind) {
	case FEED_LIST:
		r->cfg.format = FEED_LIST_PLAIN;
		break;
	case FEED_CSV:
		r->cfg.format = FEED_LIST_CSV;
		r->cfg.quote = 1;
		r->cfg.delim = def->delimiter;
		r->cfg.value_col = def->col_value > 0 ? def->col_value - 1 : 0;
		r->cfg.type_col = def->col_type > 0 ? def->col_type - 1 : -1;
		r->cfg.skip = def->skip;
		break;
	case FEED_JSON:
		r->cfg.format = FEED_LIST_JSON;
		r->cfg.member = def->field;
		r->cfg.type_member =
		    def->field != NULL ? def->type_field : NULL;
		break;
	default:
		buf_seterr(err, errlen, "not a list kind: %s",
		    feed_kind_name(def->kind));
		goto fail;
	}
	r->cfg.type = def->obs_type;
	r->cfg.comment = def->comment;
	r->stix.ns = ctx->ns;
	r->stix.producer = ctx->member;
	r->stix.name = def->name;
	r->stix.labels = (const char *const *)def->labels;
	r->stix.nlabels = def->nlabels > 0 ? (size_t)def->nlabels : 0;
	r->stix.confidence = def->confidence;
	r->stix.marking_ref = marking_tlp_id(def->tlp);
	r->stix.mode = def->on_vanish == FEED_VANISH_REVOKE ? FEED_LIST_REVOKE
							    : FEED_LIST_EXPIRE;
	r->stix.now = ctx->now;
	if (st != NULL && st->len > 0) {
		const unsigned char *p = st->data;
		size_t n = st->len, el, ll;

		if (n < 8 || memcmp(p, STATE_MAGIC, 4) != 0)
			goto bad;
		el = get16(p + 4);
		if (n < 8 + el)
			goto bad;
		ll = get16(p + 6 + el);
		if (n < 8 + el + ll)
			goto bad;
		r->snaplen = n - 8 - el - ll;
		if ((el > 0 && (r->etag = lr_str(p + 6, el)) == NULL) ||
		    (ll > 0 && (r->lm = lr_str(p + 8 + el, ll)) == NULL) ||
		    (r->snaplen > 0 &&
			(r->snap = hub_malloc(r->snaplen)) == NULL)) {
			buf_seterr(err, errlen, "out of memory");
			goto fail;
		}
		if (r->snaplen > 0) {
			memcpy(r->snap, p + 8 + el + ll, r->snaplen);
			if (feed_list_snap_present(
				r->snap, r->snaplen, &r->snapn) != 0)
				goto bad;
		}
	}
	return (struct feed_run *)r;
bad:
	buf_seterr(
	    err, errlen, "saved state of %zu bytes is not a list's", st->len);
fail:
	lr_free((struct feed_run *)r);
	return NULL;
}

static int
lr_next(
    struct feed_run *run, struct feed_request *req, char *err, size_t errlen)
{
	struct list_run *r = (struct list_run *)run;
	const struct feed_def *def = r->ctx->def;
	int h = 0;

	if (r->phase == LR_PAGING)
		return FEED_CONT;
	if (r->phase != LR_ASK)
		return FEED_DONE;
	memset(req, 0, sizeof(*req));
	if (def->url != NULL && (req->url = hub_strdup(def->url)) == NULL)
		goto oom;
	/* only with a snapshot to compare against: without one, a 304
	 * would leave the feed empty for good */
	if (r->snap != NULL) {
		if (r->etag != NULL &&
		    (req->headers[h++] =
			    feed_header("If-None-Match", r->etag)) == NULL)
			goto oom;
		if (r->lm != NULL &&
		    (req->headers[h++] =
			    feed_header("If-Modified-Since", r->lm)) == NULL)
			goto oom;
	}
	r->phase = LR_ASKED;
	return FEED_OK;
oom:
	feed_request_clear(req);
	return buf_seterr(err, errlen, "out of memory");
}

/* The next page of the diff into out; the state with the last one. */
static int
lr_page(struct list_run *r, struct feed_result *out, char *err, size_t errlen)
{
	long k;

	k = feed_list_envelope(
	    &out->envelope, &r->stix, &r->l, &r->d, &r->pos, FEED_PAGE_OBJECTS);
	if (k < 0 || buf_failed(&out->envelope)) {
		buf_reset(&out->envelope);
		return buf_seterr(err, errlen, "indicators: out of memory");
	}
	out->nobjects = (size_t)k;
	out->more = r->pos < r->total;
	if (!out->more) {
		out->state.data = buf_detach(&r->state, &out->state.len);
		out->has_state = 1;
		r->phase = LR_DONE;
	} else
		r->phase = LR_PAGING;
	return FEED_OK;
}

/* 1 when the body looks like an HTML page rather than a list. */
static int
lr_html(const struct feed_response *resp)
{
	const char *b = resp->body;
	size_t i = 0;

	if (resp->content_type != NULL &&
	    strncasecmp(resp->content_type, "text/html", 9) == 0)
		return 1;
	while (i < resp->len &&
	    (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
		i++;
	return (resp->len - i >= 5 && strncasecmp(b + i, "<html", 5) == 0) ||
	    (resp->len - i >= 9 && strncasecmp(b + i, "<!doctype", 9) == 0);
}

static int
lr_parse(struct feed_run *run, const struct feed_response *resp,
    struct feed_result *out, char *err, size_t errlen)
{
	struct list_run *r = (struct list_run *)run;
	const char *kind = feed_kind_name(r->ctx->def->kind);
	size_t i;

	if (resp == NULL) {
		if (r->phase != LR_PAGING)
			return buf_seterr(err, errlen, "no response to read");
		return lr_page(r, out, err, errlen);
	}
	if (r->phase != LR_ASKED)
		return buf_seterr(err, errlen, "response to no request");
	r->phase = LR_DONE;
	if (resp->status == 304)
		return FEED_OK;
	if (resp->status != 200)
		return buf_seterr(err, errlen, "HTTP status %ld", resp->status);
	if (resp->body != NULL && resp->len > 0 && lr_html(resp))
		return buf_seterr(err, errlen,
		    "an HTML page, not a %s list: nothing stored or expired",
		    kind);
	if (feed_list_parse(&r->cfg, resp->body != NULL ? resp->body : "",
		resp->body != NULL ? resp->len : 0, &r->l, err, errlen) != 0)
		return FEED_ERR;
	for (i = 0; i < r->l.nkept; i++) {
		char *e;
		long line = strtol(r->l.errors[i], &e, 10);

		if (e[0] == ':' && e[1] == ' ')
			e += 2;
		else {
			line = 0;
			e = r->l.errors[i];
		}
		feed_result_error(out, line, "%s", e);
	}
	out->errors_dropped += (long)(r->l.nerrors - r->l.nkept);
	if (r->l.truncated)
		return buf_seterr(err, errlen,
		    "more than %zu entries: nothing stored or expired", r->l.n);
	if (r->l.n == 0 && r->l.nerrors > 0)
		return buf_seterr(err, errlen,
		    "no valid entry in %zu lines (%zu bad): not a %s list; "
		    "nothing stored or expired",
		    r->l.nlines, r->l.nerrors, kind);
	if (r->l.n == 0 && r->snapn > 0)
		return buf_seterr(err, errlen,
		    "an empty download where the last one had %zu entries: "
		    "nothing expired",
		    r->snapn);
	if (feed_list_diff(&r->l, r->snap, r->snaplen, r->ctx->now,
		r->stix.mode, &r->d, err, errlen) != 0)
		return FEED_ERR;
	buf_adds(&r->state, STATE_MAGIC);
	lr_put_str(&r->state, lr_keep(resp->etag));
	lr_put_str(&r->state, lr_keep(resp->last_modified));
	buf_add(&r->state, r->d.blob, r->d.bloblen);
	if (buf_failed(&r->state))
		return buf_seterr(err, errlen, "state: out of memory");
	r->total = feed_diff_total(&r->d);
	if (r->total == 0) {
		/* nothing new, nothing gone: a state only for new validators,
		 * the first snapshot or a changed one (an FLS1 one rewritten
		 * as FLS2, gone entries forgotten) */
		if (r->snap == NULL || !lr_same(r->etag, resp->etag) ||
		    !lr_same(r->lm, resp->last_modified) ||
		    r->d.bloblen != r->snaplen ||
		    memcmp(r->d.blob, r->snap, r->snaplen) != 0) {
			out->state.data =
			    buf_detach(&r->state, &out->state.len);
			out->has_state = 1;
		}
		return FEED_OK;
	}
	return lr_page(r, out, err, errlen);
}

static void
lr_free(struct feed_run *run)
{
	struct list_run *r = (struct list_run *)run;

	if (r == NULL)
		return;
	hub_free(r->etag);
	hub_free(r->lm);
	hub_free(r->snap);
	feed_list_clear(&r->l);
	feed_diff_clear(&r->d);
	buf_clear(&r->state);
	hub_free(r);
}

const struct feed_ops feed_list_ops = {
    .kind = "list",
    .run_new = lr_new,
    .next = lr_next,
    .parse = lr_parse,
    .run_free = lr_free,
};
