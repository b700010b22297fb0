/*
 * feed_misp.c -- the MISP feed format both ways (feed_misp.h): manifest,
 * state blob, event to STIX indicators, hashes.csv, and the export of
 * indicators as a feed.  Pure functions over caller memory; no HTTP, no
 * storage, no policy (the caller exports only what the reader may see).
 * At the end, feed_misp_ops: the connector (feed.h) over them.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ctihub/alloc.h"
#include "ctihub/buf.h"
#include "ctihub/bytes.h"
#include "ctihub/marking.h"
#include "ctihub/observable.h"
#include "ctihub/tstamp.h"
#include "ctihub/uuid.h"

#include "feed.h"
#include "feed_misp.h"

/* The namespace of the ids this module derives (UUIDv5). */
static const unsigned char feed_misp_ns[16] = {0x5b, 0x0e, 0x2c, 0x61, 0x9d,
    0x47, 0x4e, 0x3a, 0xa2, 0x18, 0x6f, 0x41, 0xc7, 0x03, 0x8e, 0x95};

/* MISP's tag for each level, as the tlp taxonomy spells it. */
static const char *const tlp_tags[TLP_NLEVELS] = {
    NULL, "tlp:clear", "tlp:green", "tlp:amber", "tlp:amber+strict", "tlp:red"};

static int dump_cb(const char *, size_t, void *);
static void add_json(struct buf *, const json_t *);
static void uuid5(const unsigned char *, const char *, size_t, const char *,
    size_t, unsigned char[16]);
static int is_identity(const char *);
static int get_int(const json_t *, int64_t *);
static int get_bool(const json_t *);
static json_t *event_of(json_t *);
static enum tlp tag_tlp(const char *);
static size_t utf8_cut(const char *, size_t);
static int parse_time(const char *, int64_t *);

struct conv {
	const struct feed_misp_opts *opts;
	struct feed_misp_result *res;
	struct buf *out;  /* the envelope, written object by object */
	size_t nout;	  /* objects written */
	json_t *refs;	  /* the report's object_refs */
	json_t *evlabels; /* the event's tags, tlp: tags excepted */
	json_t *scos;	  /* the SCOs, in first-seen order, unmarked */
	json_t *scotlp;	  /* SCO id -> the strictest enum tlp of its uses */
	enum tlp evtlp;
	int oom;
};

static int state_valid(const unsigned char *, size_t);
static int rec_cmp(const void *, const void *);
static void pat_esc(struct buf *, const char *, size_t);
static int pat_obs(
    struct buf *, const char *, int, const char *, size_t, char *, size_t);
static void add_opt_labels(json_t *, const struct feed_misp_opts *);
static void bad(struct conv *, const char *, const char *);
static void conv_list(struct conv *, json_t *);
static void put_object(struct conv *, const json_t *);
static void conv_attr(struct conv *, json_t *);
static int attr_pattern(
    const char *, const char *, struct buf *, char *, size_t);
static void add_labels(json_t *, const json_t *, enum tlp *);
static json_t *sco_of(
    int, const char *, size_t, const char *, size_t, char *, size_t);
static int attr_scos(const char *, const char *, json_t *, char *, size_t);
static void conv_scos(struct conv *, const char *, const char *, enum tlp);
static void put_scos(struct conv *);

static int
dump_cb(const char *s, size_t n, void *arg)
{
	buf_add(arg, s, n);
	return 0;
}

static void
add_json(struct buf *b, const json_t *j)
{
	if (json_dump_callback(j, dump_cb, b,
		JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) != 0)
		b->failed = 1;
}

/* 1 when s can be a created_by_ref: an identity id (a member's short
 * id, as the feed engine gives it, names the ids only). */
static int
is_identity(const char *s)
{
	return strncmp(s, "identity--", 10) == 0;
}

/* UUIDv5 in ns (NULL: feed_misp_ns) of a, a NUL, then b. */
static void
uuid5(const unsigned char *ns, const char *a, size_t alen, const char *b,
    size_t blen, unsigned char u[16])
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hl = 0;
	EVP_MD_CTX *c;

	memset(h, 0, sizeof(h));
	if ((c = EVP_MD_CTX_new()) != NULL) {
		EVP_DigestInit_ex(c, EVP_sha1(), NULL);
		EVP_DigestUpdate(c, ns != NULL ? ns : feed_misp_ns, 16);
		EVP_DigestUpdate(c, a, alen);
		EVP_DigestUpdate(c, "", 1);
		EVP_DigestUpdate(c, b, blen);
		EVP_DigestFinal_ex(c, h, &hl);
		EVP_MD_CTX_free(c);
	}
	memcpy(u, h, 16);
	uuid_set_version(u, 5);
}

/* An integer, or a string of 1-18 digits: 0 and *v, else -1. */
static int
get_int(const json_t *j, int64_t *v)
{
	const char *s;
	size_t i, n;

	if (json_is_integer(j)) {
		*v = json_integer_value(j);
		return 0;
	}
	if (!json_is_string(j))
		return -1;
	s = json_string_value(j);
	n = json_string_length(j);
	if (n == 0 || n > 18)
		return -1;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* true, a nonzero integer, or a string other than "", "0", "false". */
static int
get_bool(const json_t *j)
{
	const char *s;

	if (json_is_boolean(j))
		return json_is_true(j);
	if (json_is_integer(j))
		return json_integer_value(j) != 0;
	if (json_is_string(j)) {
		s = json_string_value(j);
		return s[0] != '\0' && strcmp(s, "0") != 0 &&
		    strcmp(s, "false") != 0;
	}
	return 0;
}

static json_t *
event_of(json_t *doc)
{
	json_t *ev;

	if ((ev = json_object_get(doc, "Event")) != NULL)
		return json_is_object(ev) ? ev : NULL;
	return json_is_object(doc) ? doc : NULL;
}

/* The level of a "tlp:..." tag (any case), else TLP_NONE. */
static enum tlp
tag_tlp(const char *name)
{
	if (strncasecmp(name, "tlp:", 4) != 0)
		return TLP_NONE;
	return marking_tlp_parse(name + 4);
}

/* The length of s cut to at most max bytes without splitting a UTF-8
 * sequence (Jansson refuses a string that ends inside one). */
static size_t
utf8_cut(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* An RFC 3339 time in UTC, also as MISP writes first_seen
 * ("...+00:00"): 0 and *us, else -1. */
static int
parse_time(const char *s, int64_t *us)
{
	char tmp[TSTAMP_LEN + 8];
	size_t n = strnlen(s, sizeof(tmp));

	if (tstamp_parse(s, n, us) == TSTAMP_OK)
		return 0;
	if (n >= sizeof(tmp) || n < 7 || strcmp(s + n - 6, "+00:00") != 0)
		return -1;
	memcpy(tmp, s, n - 6);
	tmp[n - 6] = 'Z';
	return tstamp_parse(tmp, n - 5, us) == TSTAMP_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* manifest and state */

int
feed_misp_manifest_parse(const char *text, size_t len,
    struct feed_misp_manifest *m, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc, *e, *tags, *t;
	const char *key, *s;
	struct feed_misp_manifest_entry *ev;
	size_t i, n;
	int64_t ts;

	memset(m, 0, sizeof(*m));
	if (len > FEED_MISP_MAX_DOC) {
		buf_seterr(
		    err, errlen, "manifest: over %u bytes", FEED_MISP_MAX_DOC);
		return -1;
	}
	if ((doc = json_loadb(text, len, 0, &jerr)) == NULL) {
		buf_seterr(
		    err, errlen, "manifest: line %d: %s", jerr.line, jerr.text);
		return -1;
	}
	if (!json_is_object(doc)) {
		buf_seterr(err, errlen, "manifest: not a JSON object");
		goto fail;
	}
	if ((n = json_object_size(doc)) > FEED_MISP_MAX_EVENTS) {
		buf_seterr(err, errlen, "manifest: over %d events",
		    FEED_MISP_MAX_EVENTS);
		goto fail;
	}
	if (n > 0 && (m->ev = hub_calloc(n, sizeof(*m->ev))) == NULL)
		goto oom;
	json_object_foreach(doc, key, e)
	{
		ev = &m->ev[m->n];
		if (uuid_parse(key, strlen(key), ev->uuid, NULL) != 0) {
			if (m->nbad++ == 0)
				buf_seterr(m->firstbad, sizeof(m->firstbad),
				    "key is not a uuid");
			continue;
		}
		if (!json_is_object(e) ||
		    get_int(json_object_get(e, "timestamp"), &ts) != 0 ||
		    ts < 0) {
			if (m->nbad++ == 0)
				snprintf(m->firstbad, sizeof(m->firstbad),
				    "%.36s: no timestamp", key);
			continue;
		}
		uuid_format(ev->uuid, ev->uuid_s);
		ev->timestamp = ts;
		m->n++; /* from here feed_misp_manifest_clear frees it */
		s = json_string_value(json_object_get(e, "info"));
		if ((ev->info = hub_strndup(s != NULL ? s : "",
			 s != NULL ? utf8_cut(s, FEED_MISP_MAX_INFO) : 0)) ==
		    NULL)
			goto oom;
		s = json_string_value(json_object_get(e, "date"));
		if (s != NULL && strlen(s) == 10)
			memcpy(ev->date, s, 11);
		tags = json_object_get(e, "Tag");
		if (json_is_array(tags) && json_array_size(tags) > 0) {
			n = json_array_size(tags);
			if (n > FEED_MISP_MAX_LABELS)
				n = FEED_MISP_MAX_LABELS;
			if ((ev->tags = hub_calloc(n, sizeof(char *))) == NULL)
				goto oom;
			json_array_foreach(tags, i, t)
			{
				if (ev->ntags == n)
					break;
				s = json_string_value(
				    json_object_get(t, "name"));
				if (s == NULL || s[0] == '\0' ||
				    strlen(s) > FEED_MISP_MAX_LABEL)
					continue;
				if ((ev->tags[ev->ntags] = hub_strdup(s)) ==
				    NULL)
					goto oom;
				ev->ntags++;
			}
		}
	}
	json_decref(doc);
	return 0;
oom:
	buf_seterr(err, errlen, "manifest: out of memory");
fail:
	json_decref(doc);
	return -1;
}

void
feed_misp_manifest_clear(struct feed_misp_manifest *m)
{
	size_t i, j;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++) {
		hub_free(m->ev[i].info);
		for (j = 0; j < m->ev[i].ntags; j++)
			hub_free(m->ev[i].tags[j]);
		hub_free(m->ev[i].tags);
	}
	hub_free(m->ev);
	memset(m, 0, sizeof(*m));
}

/* 1 when the blob is whole records in strictly increasing uuid order. */
static int
state_valid(const unsigned char *p, size_t len)
{
	size_t i;

	if (len % FEED_MISP_STATE_REC != 0)
		return 0;
	for (i = FEED_MISP_STATE_REC; i < len; i += FEED_MISP_STATE_REC)
		if (memcmp(p + i - FEED_MISP_STATE_REC, p + i, 16) >= 0)
			return 0;
	return 1;
}

int
feed_misp_state_get(const void *state, size_t statelen,
    const unsigned char uuid[16], int64_t *ts)
{
	const unsigned char *p = state;
	size_t lo = 0, hi, mid;
	int c;

	if (p == NULL || statelen % FEED_MISP_STATE_REC != 0)
		return -1;
	hi = statelen / FEED_MISP_STATE_REC;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(uuid, p + mid * FEED_MISP_STATE_REC, 16);
		if (c == 0) {
			*ts = (int64_t)get_be64(
			    p + mid * FEED_MISP_STATE_REC + 16);
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

size_t
feed_misp_manifest_plan(
    struct feed_misp_manifest *m, const void *state, size_t statelen)
{
	size_t i, n = 0;
	int64_t ts;

	if (state != NULL && !state_valid(state, statelen))
		state = NULL;
	for (i = 0; i < m->n; i++) {
		m->ev[i].fetch = state == NULL ||
		    feed_misp_state_get(state, statelen, m->ev[i].uuid, &ts) !=
			0 ||
		    ts != m->ev[i].timestamp;
		n += m->ev[i].fetch;
	}
	return n;
}

static int
rec_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

int
feed_misp_state_build(const struct feed_misp_manifest *m, const void *old,
    size_t oldlen, struct buf *out)
{
	unsigned char *rec;
	size_t i, n = 0;
	int64_t ts;

	buf_reset(out);
	if (old != NULL && !state_valid(old, oldlen))
		old = NULL;
	if (m->n == 0)
		return 0;
	if ((rec = hub_malloc(m->n * FEED_MISP_STATE_REC)) == NULL)
		return -1;
	for (i = 0; i < m->n; i++) {
		if (m->ev[i].done)
			ts = m->ev[i].timestamp;
		else if (old == NULL ||
		    feed_misp_state_get(old, oldlen, m->ev[i].uuid, &ts) != 0)
			continue;
		memcpy(rec + n * FEED_MISP_STATE_REC, m->ev[i].uuid, 16);
		put_be64(rec + n * FEED_MISP_STATE_REC + 16, (uint64_t)ts);
		n++;
	}
	qsort(rec, n, FEED_MISP_STATE_REC, rec_cmp);
	/* keys differing only in case are one uuid: keep one record */
	for (i = 0; i < n; i++)
		if (i == 0 ||
		    memcmp(rec + (i - 1) * FEED_MISP_STATE_REC,
			rec + i * FEED_MISP_STATE_REC, 16) != 0)
			buf_add(out, rec + i * FEED_MISP_STATE_REC,
			    FEED_MISP_STATE_REC);
	hub_free(rec);
	return buf_failed(out) ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* event -> STIX */

#define MAX_TS 253402300799LL /* 9999-12-31T23:59:59Z */

/* Appends s[0..n) as the inside of a STIX pattern string literal. */
static void
pat_esc(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\'' || s[i] == '\\')
			buf_addc(b, '\\');
		buf_addc(b, s[i]);
	}
}

/*
 * Appends "path = 'canonical'" for the value v[0..n) normalised as hint
 * (OBS_NONE: an IP address or range, whose path is chosen here; path
 * NULL: the path for the type found).  0, or -1 with err set.
 */
static int
pat_obs(struct buf *b, const char *path, int hint, const char *v, size_t n,
    char *err, size_t errlen)
{
	struct obs o;

	if (obs_normalise(hint, v, n, &o, err, errlen) != 0)
		return -1;
	if (hint == OBS_NONE) {
		if (o.type == OBS_IPV4)
			path = path != NULL ? path : "ipv4-addr:value";
		else if (o.type == OBS_IPV6)
			path = path != NULL ? path : "ipv6-addr:value";
		else {
			buf_seterr(err, errlen, "not an IP address");
			return -1;
		}
	}
	buf_adds(b, path);
	if (o.type == OBS_ASN) {
		buf_addf(b, " = %s", o.text);
		return 0;
	}
	buf_adds(b, " = '");
	pat_esc(b, o.text, o.len);
	buf_addc(b, '\'');
	return 0;
}

static const struct {
	const char *misp;
	int type;
	const char *path;
} simple[] = {
    {"domain", OBS_DOMAIN, "domain-name:value"},
    {"hostname", OBS_DOMAIN, "domain-name:value"},
    {"url", OBS_URL, "url:value"},
    {"email", OBS_EMAIL, "email-addr:value"},
    {"email-src", OBS_EMAIL, "email-addr:value"},
    {"email-dst", OBS_EMAIL, "email-addr:value"},
    {"md5", OBS_MD5, "file:hashes.MD5"},
    {"sha1", OBS_SHA1, "file:hashes.'SHA-1'"},
    {"sha256", OBS_SHA256, "file:hashes.'SHA-256'"},
    {"sha512", OBS_SHA512, "file:hashes.'SHA-512'"},
    {"ssdeep", OBS_SSDEEP, "file:hashes.SSDEEP"},
    {"tlsh", OBS_TLSH, "file:hashes.TLSH"},
    {"mac-address", OBS_MAC, "mac-addr:value"},
    {"AS", OBS_ASN, "autonomous-system:number"},
    {"x509-fingerprint-md5", OBS_X509_MD5, "x509-certificate:hashes.MD5"},
    {"x509-fingerprint-sha1", OBS_X509_SHA1, "x509-certificate:hashes.'SHA-1'"},
    {"x509-fingerprint-sha256", OBS_X509_SHA256,
	"x509-certificate:hashes.'SHA-256'"},
};
#define NSIMPLE (sizeof(simple) / sizeof(simple[0]))

static const struct {
	const char *misp;
	int type;
	const char *path;
} fnhash[] = {
    {"filename|md5", OBS_MD5, "file:hashes.MD5"},
    {"filename|sha1", OBS_SHA1, "file:hashes.'SHA-1'"},
    {"filename|sha256", OBS_SHA256, "file:hashes.'SHA-256'"},
    {"filename|sha512", OBS_SHA512, "file:hashes.'SHA-512'"},
};
#define NFNHASH (sizeof(fnhash) / sizeof(fnhash[0]))

/*
 * The STIX pattern of a MISP attribute into b: 1 when built, 0 when the
 * type is not mapped, -1 when the value is malformed (err set).
 */
static int
attr_pattern(
    const char *type, const char *v, struct buf *b, char *err, size_t errlen)
{
	const char *bar = strrchr(v, '|');
	size_t i, n = strlen(v);
	long port;
	char *end;

	for (i = 0; i < NSIMPLE; i++)
		if (strcmp(type, simple[i].misp) == 0) {
			buf_addc(b, '[');
			if (pat_obs(b, simple[i].path, simple[i].type, v, n,
				err, errlen) != 0)
				return -1;
			buf_addc(b, ']');
			return 1;
		}
	if (strcmp(type, "ip-src") == 0 || strcmp(type, "ip-dst") == 0) {
		buf_addc(b, '[');
		if (pat_obs(b, NULL, OBS_NONE, v, n, err, errlen) != 0)
			return -1;
		buf_addc(b, ']');
		return 1;
	}
	if (strcmp(type, "ip-src|port") == 0 ||
	    strcmp(type, "ip-dst|port") == 0) {
		int src = type[3] == 's';

		if (bar == NULL || bar[1] == '\0' ||
		    !isdigit((unsigned char)bar[1]))
			goto nobar;
		port = strtol(bar + 1, &end, 10);
		if (*end != '\0' || port > 65535 || end - bar > 6) {
			buf_seterr(err, errlen, "port: not 0-65535");
			return -1;
		}
		buf_addc(b, '[');
		if (pat_obs(b,
			src ? "network-traffic:src_ref.value"
			    : "network-traffic:dst_ref.value",
			OBS_NONE, v, bar - v, err, errlen) != 0)
			return -1;
		buf_addf(b, " AND network-traffic:%s_port = %ld]",
		    src ? "src" : "dst", port);
		return 1;
	}
	if (strcmp(type, "domain|ip") == 0) {
		if (bar == NULL)
			goto nobar;
		buf_addc(b, '[');
		if (pat_obs(b, "domain-name:value", OBS_DOMAIN, v, bar - v, err,
			errlen) != 0)
			return -1;
		buf_adds(b, " AND ");
		if (pat_obs(b, "domain-name:resolves_to_refs[*].value",
			OBS_NONE, bar + 1, strlen(bar + 1), err, errlen) != 0)
			return -1;
		buf_addc(b, ']');
		return 1;
	}
	for (i = 0; i < NFNHASH; i++)
		if (strcmp(type, fnhash[i].misp) == 0) {
			if (bar == NULL)
				goto nobar;
			if (bar == v || bar - v > 1024) {
				buf_seterr(
				    err, errlen, "filename: empty or long");
				return -1;
			}
			buf_adds(b, "[file:name = '");
			pat_esc(b, v, bar - v);
			buf_adds(b, "' AND ");
			if (pat_obs(b, fnhash[i].path, fnhash[i].type, bar + 1,
				strlen(bar + 1), err, errlen) != 0)
				return -1;
			buf_addc(b, ']');
			return 1;
		}
	return 0;
nobar:
	buf_seterr(err, errlen, "%s: no '|' part", type);
	return -1;
}

/* ------------------------------------------------------------------ */
/* attributes -> SCOs */

/* The namespace of STIX 2.1 deterministic SCO ids (section 2.9). */
static const unsigned char sco_ns[16] = {0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42,
    0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7};

/* The hashing-algorithm-ov name of each hash observable type. */
static const struct {
	int type;
	const char *sco; /* "file" or "x509-certificate" */
	const char *alg;
} sco_hashes[] = {
    {OBS_MD5, "file", "MD5"},
    {OBS_SHA1, "file", "SHA-1"},
    {OBS_SHA256, "file", "SHA-256"},
    {OBS_SHA512, "file", "SHA-512"},
    {OBS_SSDEEP, "file", "SSDEEP"},
    {OBS_TLSH, "file", "TLSH"},
    {OBS_X509_MD5, "x509-certificate", "MD5"},
    {OBS_X509_SHA1, "x509-certificate", "SHA-1"},
    {OBS_X509_SHA256, "x509-certificate", "SHA-256"},
    {OBS_X509_SHA512, "x509-certificate", "SHA-512"},
};
#define NSCO_HASHES (sizeof(sco_hashes) / sizeof(sco_hashes[0]))

/*
 * The SCO ({"type", then only its ID contributing properties}) of the
 * value v[0..n) normalised as hint (OBS_NONE: an IP address or range),
 * with name[0..namelen) as a file's name when name is not NULL.  NULL
 * with err set when the value is malformed, or out of memory (err "").
 */
static json_t *
sco_of(int hint, const char *v, size_t n, const char *name, size_t namelen,
    char *err, size_t errlen)
{
	static const char *const vtypes[OBS_TYPE_MAX + 1] = {
	    [OBS_IPV4] = "ipv4-addr",
	    [OBS_IPV6] = "ipv6-addr",
	    [OBS_DOMAIN] = "domain-name",
	    [OBS_URL] = "url",
	    [OBS_EMAIL] = "email-addr",
	    [OBS_MAC] = "mac-addr",
	};
	struct obs o;
	json_t *nm;
	size_t i, j;

	err[0] = '\0';
	if (obs_normalise(hint, v, n, &o, err, errlen) != 0)
		return NULL;
	if (hint == OBS_NONE && o.type != OBS_IPV4 && o.type != OBS_IPV6) {
		buf_seterr(err, errlen, "not an IP address");
		return NULL;
	}
	if (o.type == OBS_ASN)
		return json_pack("{s:s, s:I}", "type", "autonomous-system",
		    "number", (json_int_t)strtoll(o.text, NULL, 10));
	if (o.type > 0 && o.type <= OBS_TYPE_MAX && vtypes[o.type] != NULL)
		return json_pack("{s:s, s:s%}", "type", vtypes[o.type], "value",
		    o.text, o.len);
	for (i = 0; i < NSCO_HASHES; i++)
		if (sco_hashes[i].type == o.type)
			break;
	if (i == NSCO_HASHES) {
		buf_seterr(err, errlen, "no SCO for this type");
		return NULL;
	}
	if (name == NULL)
		return json_pack("{s:s, s:{s:s%}}", "type", sco_hashes[i].sco,
		    "hashes", sco_hashes[i].alg, o.text, o.len);
	/* a control character would make Jansson's JSON differ from JCS
	 * (\u001F, not \u001f): no deterministic id for such a name */
	for (j = 0; j < namelen; j++)
		if ((unsigned char)name[j] < 0x20) {
			buf_seterr(err, errlen, "filename: control character");
			return NULL;
		}
	/* NULL for a name that is not UTF-8 (or out of memory) */
	if ((nm = json_stringn(name, namelen)) == NULL) {
		buf_seterr(err, errlen, "filename: not UTF-8");
		return NULL;
	}
	return json_pack("{s:s, s:{s:s%}, s:o}", "type", "file", "hashes",
	    sco_hashes[i].alg, o.text, o.len, "name", nm);
}

/*
 * The SCOs of a MISP attribute appended to list: 1 when built, 0 when
 * the type has none, -1 when a value is malformed (err set; list may
 * hold some of them, the caller drops it).  The types are those of
 * attr_pattern; the port of ip-*|port is not an SCO of its own.
 */
static int
attr_scos(
    const char *type, const char *v, json_t *list, char *err, size_t errlen)
{
	const char *bar = strrchr(v, '|');
	size_t i, n = strlen(v);
	json_t *o = NULL;

	for (i = 0; i < NSIMPLE; i++)
		if (strcmp(type, simple[i].misp) == 0) {
			o = sco_of(simple[i].type, v, n, NULL, 0, err, errlen);
			goto one;
		}
	if (strcmp(type, "ip-src") == 0 || strcmp(type, "ip-dst") == 0) {
		o = sco_of(OBS_NONE, v, n, NULL, 0, err, errlen);
		goto one;
	}
	if (strcmp(type, "ip-src|port") == 0 ||
	    strcmp(type, "ip-dst|port") == 0) {
		if (bar == NULL)
			goto nobar;
		o = sco_of(OBS_NONE, v, bar - v, NULL, 0, err, errlen);
		goto one;
	}
	if (strcmp(type, "domain|ip") == 0) {
		if (bar == NULL)
			goto nobar;
		if ((o = sco_of(OBS_DOMAIN, v, bar - v, NULL, 0, err,
			 errlen)) == NULL ||
		    json_array_append_new(list, o) != 0)
			return -1;
		o = sco_of(
		    OBS_NONE, bar + 1, strlen(bar + 1), NULL, 0, err, errlen);
		goto one;
	}
	for (i = 0; i < NFNHASH; i++)
		if (strcmp(type, fnhash[i].misp) == 0) {
			if (bar == NULL)
				goto nobar;
			if (bar == v || bar - v > 1024) {
				buf_seterr(
				    err, errlen, "filename: empty or long");
				return -1;
			}
			o = sco_of(fnhash[i].type, bar + 1, strlen(bar + 1), v,
			    bar - v, err, errlen);
			goto one;
		}
	return 0;
one:
	if (o == NULL || json_array_append_new(list, o) != 0)
		return -1;
	return 1;
nobar:
	buf_seterr(err, errlen, "%s: no '|' part", type);
	return -1;
}

/*
 * Adds the SCOs of an attribute's value to c->scos, each once per event
 * (by its deterministic id), remembering the strictest TLP it is used
 * under.  A value that gives no SCO is not an error here: a to_ids one
 * is reported by its indicator, and context need not be well formed.
 */
static void
conv_scos(struct conv *c, const char *type, const char *value, enum tlp tlp)
{
	char err[OBS_ERRLEN], idbuf[96];
	unsigned char u[16];
	json_t *list, *o, *key, *sco, *t;
	const char *st;
	char *canon;
	size_t i;

	if (value == NULL || value[0] == '\0')
		return;
	if ((list = json_array()) == NULL)
		goto oom;
	if (attr_scos(type, value, list, err, sizeof(err)) <= 0) {
		json_decref(list);
		return;
	}
	json_array_foreach(list, i, o)
	{
		st = json_string_value(json_object_get(o, "type"));
		/* the ID contributing properties: all but the type */
		if ((key = json_copy(o)) == NULL)
			goto oom;
		json_object_del(key, "type");
		canon = json_dumps(key, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(key);
		if (canon == NULL)
			goto oom;
		if (uuid_v5(sco_ns, canon, strlen(canon), u) != 0) {
			free(canon);
			goto oom;
		}
		free(canon);
		snprintf(idbuf, sizeof(idbuf), "%s--", st);
		uuid_format(u, idbuf + strlen(idbuf));
		if ((t = json_object_get(c->scotlp, idbuf)) != NULL) {
			if ((json_int_t)tlp > json_integer_value(t))
				json_integer_set(t, tlp);
			continue;
		}
		sco = json_pack("{s:s, s:s, s:s}", "type", st, "spec_version",
		    "2.1", "id", idbuf);
		if (sco == NULL || json_object_update(sco, o) != 0 ||
		    json_object_set_new(c->scotlp, idbuf, json_integer(tlp)) !=
			0 ||
		    json_array_append_new(c->scos, sco) != 0) {
			json_decref(sco);
			goto oom;
		}
	}
	json_decref(list);
	return;
oom:
	json_decref(list);
	c->oom = 1;
}

/* Writes the SCOs, marked with their strictest TLP, into the envelope
 * and the report's refs. */
static void
put_scos(struct conv *c)
{
	json_t *sco;
	const char *id;
	json_int_t tlp;
	size_t i;

	json_array_foreach(c->scos, i, sco)
	{
		id = json_string_value(json_object_get(sco, "id"));
		tlp = json_integer_value(json_object_get(c->scotlp, id));
		if (tlp > TLP_NONE && tlp < TLP_NLEVELS)
			json_object_set_new(sco, "object_marking_refs",
			    json_pack("[s]", marking_tlp_id((enum tlp)tlp)));
		put_object(c, sco);
		if (json_array_append_new(c->refs, json_string(id)) != 0) {
			c->oom = 1;
			return;
		}
		c->res->nscos++;
	}
}

/* Appends the names of a MISP "Tag" list to labels (tlp: tags raise
 * *tlp instead), without duplicates, at most FEED_MISP_MAX_LABELS. */
static void
add_labels(json_t *labels, const json_t *tags, enum tlp *tlp)
{
	const json_t *t, *l;
	const char *s;
	size_t i, j, n;
	enum tlp lv;
	int dup;

	json_array_foreach(tags, i, t)
	{
		if ((s = json_string_value(json_object_get(t, "name"))) ==
			NULL ||
		    (n = strlen(s)) == 0 || n > FEED_MISP_MAX_LABEL)
			continue;
		if ((lv = tag_tlp(s)) != TLP_NONE) {
			if (lv > *tlp)
				*tlp = lv;
			continue;
		}
		if (json_array_size(labels) >= FEED_MISP_MAX_LABELS)
			continue;
		dup = 0;
		json_array_foreach(labels, j, l) dup |=
		    strcmp(json_string_value(l), s) == 0;
		if (!dup)
			json_array_append_new(labels, json_string(s));
	}
}

static void
add_opt_labels(json_t *labels, const struct feed_misp_opts *o)
{
	json_t *tags = json_array();
	enum tlp dummy = TLP_NONE;
	size_t i;

	for (i = 0; tags != NULL && i < o->nlabels; i++)
		json_array_append_new(
		    tags, json_pack("{s:s}", "name", o->labels[i]));
	if (tags != NULL)
		add_labels(labels, tags, &dummy);
	json_decref(tags);
}

static void
bad(struct conv *c, const char *uuid, const char *why)
{
	if (c->res->nbad++ == 0)
		snprintf(c->res->firstbad, sizeof(c->res->firstbad),
		    "attribute %.36s: %.100s", uuid != NULL ? uuid : "?", why);
}

static void
conv_attr(struct conv *c, json_t *a)
{
	const struct feed_misp_opts *o = c->opts;
	const char *type, *value, *uuid_s, *s;
	char err[OBS_ERRLEN], idbuf[64], ts[TSTAMP_LEN], vf[TSTAMP_LEN];
	unsigned char u[16], id[16];
	struct buf pat = BUF_INIT;
	json_t *ind = NULL, *labels = NULL;
	int64_t t, us;
	enum tlp tlp;
	int r;

	c->res->nattrs++;
	type = json_string_value(json_object_get(a, "type"));
	value = json_string_value(json_object_get(a, "value"));
	uuid_s = json_string_value(json_object_get(a, "uuid"));
	if (get_bool(json_object_get(a, "deleted")) || type == NULL) {
		c->res->nskipped++;
		return;
	}
	if (!get_bool(json_object_get(a, "to_ids"))) {
		/* context, "not for detection" in MISP's words: neither an
		 * indicator nor observables, because the hub's blocklist
		 * exports and lookups take the observables of every object
		 * a member may read (a context domain would be blocked) */
		c->res->nskipped++;
		return;
	}
	if (value == NULL || value[0] == '\0') {
		bad(c, uuid_s, "no value");
		return;
	}
	if (uuid_s == NULL ||
	    uuid_parse(uuid_s, strlen(uuid_s), u, NULL) != 0) {
		bad(c, uuid_s, "no valid uuid");
		return;
	}
	if (get_int(json_object_get(a, "timestamp"), &t) != 0 || t < 0 ||
	    t > MAX_TS) {
		bad(c, uuid_s, "no valid timestamp");
		return;
	}
	if ((r = attr_pattern(type, value, &pat, err, sizeof(err))) <= 0) {
		if (r == 0)
			c->res->nskipped++;
		else
			bad(c, uuid_s, err);
		buf_clear(&pat);
		return;
	}
	if (buf_failed(&pat))
		goto oom;
	uuid5(o->ns, o->producer, strlen(o->producer), (const char *)u, 16, id);
	memcpy(idbuf, "indicator--", 11);
	uuid_format(id, idbuf + 11);
	tstamp_format(t * 1000000, 3, ts);
	memcpy(vf, ts, sizeof(vf));
	s = json_string_value(json_object_get(a, "first_seen"));
	if (s != NULL && parse_time(s, &us) == 0 && us >= 0)
		tstamp_format(us, 3, vf);
	if ((labels = json_deep_copy(c->evlabels)) == NULL)
		goto oom;
	tlp = c->evtlp;
	add_labels(labels, json_object_get(a, "Tag"), &tlp);
	add_opt_labels(labels, o);
	if (tlp == TLP_NONE)
		tlp = o->tlp;
	ind = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s]}",
	    "type", "indicator", "spec_version", "2.1", "id", idbuf, "created",
	    ts, "modified", ts, "created_by_ref", o->producer, "pattern",
	    buf_cstr(&pat), "pattern_type", "stix", "valid_from", vf,
	    "indicator_types", "malicious-activity");
	if (ind == NULL)
		goto oom;
	if (!is_identity(o->producer))
		json_object_del(ind, "created_by_ref");
	if ((s = json_string_value(json_object_get(a, "comment"))) != NULL &&
	    s[0] != '\0')
		json_object_set_new(
		    ind, "description", json_stringn(s, utf8_cut(s, 1024)));
	if (json_array_size(labels) > 0)
		json_object_set(ind, "labels", labels);
	if (o->confidence >= 0 && o->confidence <= 100)
		json_object_set_new(
		    ind, "confidence", json_integer(o->confidence));
	if (tlp > TLP_NONE && tlp < TLP_NLEVELS)
		json_object_set_new(ind, "object_marking_refs",
		    json_pack("[s]", marking_tlp_id(tlp)));
	json_object_set_new(ind, "external_references",
	    json_pack(
		"[{s:s, s:s}]", "source_name", "misp", "external_id", uuid_s));
	put_object(c, ind);
	json_decref(ind);
	conv_scos(c, type, value, tlp);
	if (json_array_append_new(c->refs, json_string(idbuf)) != 0)
		goto oom;
	c->res->nindicators++;
	json_decref(labels);
	buf_clear(&pat);
	return;
oom:
	c->oom = 1;
	json_decref(labels);
	buf_clear(&pat);
}

/* Appends one object to the envelope's list. */
static void
put_object(struct conv *c, const json_t *obj)
{
	if (c->nout++ > 0)
		buf_addc(c->out, ',');
	add_json(c->out, obj);
}

/* Each attribute of a list, while under FEED_MISP_MAX_ATTRS. */
static void
conv_list(struct conv *c, json_t *attrs)
{
	json_t *a;
	size_t i;

	json_array_foreach(attrs, i, a)
	{
		if (c->res->nattrs >= FEED_MISP_MAX_ATTRS) {
			bad(c, NULL, "too many attributes, the rest skipped");
			return;
		}
		if (json_is_object(a))
			conv_attr(c, a);
	}
}

int
feed_misp_event_to_stix(const char *text, size_t len,
    const struct feed_misp_opts *opts, struct buf *out,
    struct feed_misp_result *res, char *err, size_t errlen)
{
	struct conv c;
	json_error_t jerr;
	json_t *doc, *ev, *obj, *rep, *labels;
	const char *uuid_s, *info;
	unsigned char u[16], rid[16];
	char ridbuf[64], ts[TSTAMP_LEN];
	size_t i, mark = out->len, n;
	int64_t t;
	enum tlp tlp;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	if (opts == NULL || opts->producer == NULL) {
		buf_seterr(err, errlen, "event: no producer");
		return -1;
	}
	if (len > FEED_MISP_MAX_DOC) {
		buf_seterr(
		    err, errlen, "event: over %u bytes", FEED_MISP_MAX_DOC);
		return -1;
	}
	if ((doc = json_loadb(text, len, 0, &jerr)) == NULL) {
		buf_seterr(
		    err, errlen, "event: line %d: %s", jerr.line, jerr.text);
		return -1;
	}
	ev = event_of(doc);
	uuid_s = json_string_value(json_object_get(ev, "uuid"));
	if (ev == NULL || uuid_s == NULL ||
	    uuid_parse(uuid_s, strlen(uuid_s), u, NULL) != 0) {
		buf_seterr(err, errlen, "event: no Event object with a uuid");
		json_decref(doc);
		return -1;
	}
	c.opts = opts;
	c.res = res;
	c.out = out;
	c.refs = json_array();
	c.evlabels = json_array();
	c.scos = json_array();
	c.scotlp = json_object();
	if (c.refs == NULL || c.evlabels == NULL || c.scos == NULL ||
	    c.scotlp == NULL)
		goto oom;
	buf_adds(out, "{\"objects\":[");
	add_labels(c.evlabels, json_object_get(ev, "Tag"), &c.evtlp);
	res->tlp = c.evtlp;
	conv_list(&c, json_object_get(ev, "Attribute"));
	json_array_foreach(json_object_get(ev, "Object"), i, obj)
	    conv_list(&c, json_object_get(obj, "Attribute"));
	put_scos(&c);
	if (c.oom)
		goto oom;
	if (opts->report && json_array_size(c.refs) > 0) {
		if (get_int(json_object_get(ev, "timestamp"), &t) != 0 ||
		    t < 0 || t > MAX_TS)
			t = 0;
		tstamp_format(t * 1000000, 3, ts);
		uuid5(opts->ns, opts->producer, strlen(opts->producer),
		    (const char *)u, 16, rid);
		memcpy(ridbuf, "report--", 8);
		uuid_format(rid, ridbuf + 8);
		info = json_string_value(json_object_get(ev, "info"));
		n = info != NULL ? utf8_cut(info, FEED_MISP_MAX_INFO) : 0;
		if ((labels = json_deep_copy(c.evlabels)) == NULL)
			goto oom;
		add_opt_labels(labels, opts);
		rep = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s%, s:s, "
				"s:[s], s:O}",
		    "type", "report", "spec_version", "2.1", "id", ridbuf,
		    "created", ts, "modified", ts, "created_by_ref",
		    opts->producer, "name", n > 0 ? info : "MISP event",
		    n > 0 ? n : strlen("MISP event"), "published", ts,
		    "report_types", "threat-report", "object_refs", c.refs);
		if (rep == NULL) {
			json_decref(labels);
			goto oom;
		}
		if (!is_identity(opts->producer))
			json_object_del(rep, "created_by_ref");
		if (json_array_size(labels) > 0)
			json_object_set(rep, "labels", labels);
		json_decref(labels);
		tlp = c.evtlp != TLP_NONE ? c.evtlp : opts->tlp;
		if (tlp > TLP_NONE && tlp < TLP_NLEVELS)
			json_object_set_new(rep, "object_marking_refs",
			    json_pack("[s]", marking_tlp_id(tlp)));
		if (opts->confidence >= 0 && opts->confidence <= 100)
			json_object_set_new(
			    rep, "confidence", json_integer(opts->confidence));
		put_object(&c, rep);
		json_decref(rep);
	}
	buf_adds(out, "]}");
	if (buf_failed(out))
		goto oom;
	json_decref(c.refs);
	json_decref(c.evlabels);
	json_decref(c.scos);
	json_decref(c.scotlp);
	json_decref(doc);
	return 0;
oom:
	buf_seterr(err, errlen, "event: out of memory");
	out->len = mark;
	json_decref(c.refs);
	json_decref(c.evlabels);
	json_decref(c.scos);
	json_decref(c.scotlp);
	json_decref(doc);
	return -1;
}

/* ------------------------------------------------------------------ */
/* hashes.csv */

int
feed_misp_hashes_parse(const char *text, size_t len, feed_misp_hash_cb *cb,
    void *arg, size_t *nbad, size_t *firstbad)
{
	const char *p = text, *end = text + len, *nl, *comma;
	char md5[33];
	unsigned char u[16];
	size_t line = 0, i, ll, nb = 0;
	int r;

	if (firstbad != NULL)
		*firstbad = 0;
	if (len > FEED_MISP_MAX_DOC)
		return -1;
	for (; p < end; p = nl + 1) {
		line++;
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		ll = nl - p;
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll == 0 || p[0] == '#')
			continue;
		comma = memchr(p, ',', ll);
		if (comma == NULL || comma - p != 32 ||
		    uuid_parse(comma + 1, p + ll - comma - 1, u, NULL) != 0)
			goto badline;
		for (i = 0; i < 32; i++) {
			if (!isxdigit((unsigned char)p[i]))
				goto badline;
			md5[i] = (char)tolower((unsigned char)p[i]);
		}
		md5[32] = '\0';
		if ((r = cb(md5, u, arg)) != 0)
			return r;
		continue;
	badline:
		if (nb++ == 0 && firstbad != NULL)
			*firstbad = line;
	}
	if (nbad != NULL)
		*nbad = nb;
	return 0;
}

/* ------------------------------------------------------------------ */
/* export */

struct feed_misp_xevent {
	unsigned char uuid[16];
	char uuid_s[37];
	char date[11];
	int64_t timestamp; /* seconds, the newest attribute's */
	json_t *event;	   /* {"Event":{...}} */
	json_t *attrs;	   /* borrowed from event */
};

struct feed_misp_export {
	struct feed_misp_xevent *ev; /* sorted by uuid */
	size_t n, cap;
};

static struct feed_misp_xevent *xevent(
    struct feed_misp_export *, const struct feed_misp_out_item *, const char *);

static const struct {
	int type;
	const char *misp;
	const char *category;
} xtypes[] = {
    {OBS_IPV4, "ip-dst", "Network activity"},
    {OBS_IPV6, "ip-dst", "Network activity"},
    {OBS_DOMAIN, "domain", "Network activity"},
    {OBS_URL, "url", "Network activity"},
    {OBS_EMAIL, "email", "Payload delivery"},
    {OBS_MD5, "md5", "Payload delivery"},
    {OBS_SHA1, "sha1", "Payload delivery"},
    {OBS_SHA256, "sha256", "Payload delivery"},
    {OBS_SHA512, "sha512", "Payload delivery"},
    {OBS_SSDEEP, "ssdeep", "Payload delivery"},
    {OBS_TLSH, "tlsh", "Payload delivery"},
    {OBS_MAC, "mac-address", "Network activity"},
    {OBS_ASN, "AS", "Network activity"},
    {OBS_X509_MD5, "x509-fingerprint-md5", "Network activity"},
    {OBS_X509_SHA1, "x509-fingerprint-sha1", "Network activity"},
    {OBS_X509_SHA256, "x509-fingerprint-sha256", "Network activity"},
};
#define NXTYPES (sizeof(xtypes) / sizeof(xtypes[0]))

struct feed_misp_export *
feed_misp_export_new(void)
{
	return hub_calloc(1, sizeof(struct feed_misp_export));
}

void
feed_misp_export_free(struct feed_misp_export *x)
{
	size_t i;

	if (x == NULL)
		return;
	for (i = 0; i < x->n; i++)
		json_decref(x->ev[i].event);
	hub_free(x->ev);
	hub_free(x);
}

/* The event of (producer, date), created if need be; NULL when out of
 * memory. */
static struct feed_misp_xevent *
xevent(struct feed_misp_export *x, const struct feed_misp_out_item *it,
    const char *date)
{
	struct feed_misp_xevent *e, *nev;
	unsigned char u[16], ou[16];
	char ous[37], info[160];
	const char *name;
	size_t lo = 0, hi = x->n, mid, ncap;
	int c;

	uuid5(NULL, it->producer, strlen(it->producer), date, 10, u);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = memcmp(u, x->ev[mid].uuid, 16)) == 0)
			return &x->ev[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (x->n == x->cap) {
		ncap = x->cap ? x->cap * 2 : 16;
		if ((nev = hub_realloc(x->ev, ncap * sizeof(*nev))) == NULL)
			return NULL;
		x->ev = nev;
		x->cap = ncap;
	}
	e = &x->ev[lo];
	memmove(e + 1, e, (x->n - lo) * sizeof(*e));
	memset(e, 0, sizeof(*e));
	x->n++;
	memcpy(e->uuid, u, 16);
	uuid_format(u, e->uuid_s);
	memcpy(e->date, date, 11);
	name = it->producer_name != NULL ? it->producer_name : it->producer;
	uuid5(NULL, "orgc", 4, it->producer, strlen(it->producer), ou);
	uuid_format(ou, ous);
	snprintf(info, sizeof(info), "ctihub: indicators of %.100s on %s", name,
	    date);
	e->attrs = json_array();
	e->event = json_pack("{s:{s:s, s:s, s:s, s:b, s:i, s:i, s:{s:s, s:s}, "
			     "s:[], s:O}}",
	    "Event", "uuid", e->uuid_s, "info", info, "date", date, "published",
	    1, "analysis", 2, "threat_level_id", 4, "Orgc", "name", name,
	    "uuid", ous, "Tag", "Attribute", e->attrs);
	json_decref(e->attrs); /* the event holds it */
	if (e->event == NULL) {
		/* undo: the slot must not stay half-built */
		x->n--;
		memmove(e, e + 1, (x->n - lo) * sizeof(*e));
		return NULL;
	}
	return e;
}

int
feed_misp_export_add(
    struct feed_misp_export *x, const struct feed_misp_out_item *it)
{
	struct feed_misp_xevent *e;
	unsigned char u[16], au[16];
	char date[TSTAMP_LEN], aus[37], idx[24];
	const char *misp, *cat;
	json_t *a, *tags;
	int64_t secs;
	size_t i, j;

	if (it->id == NULL || it->producer == NULL ||
	    strncmp(it->id, "indicator--", 11) != 0 ||
	    uuid_parse(it->id + 11, strlen(it->id + 11), u, NULL) != 0 ||
	    it->modified < 0 || it->modified / 1000000 > MAX_TS)
		return -1;
	tstamp_format(it->modified, 0, date);
	date[10] = '\0';
	secs = it->modified / 1000000;
	if ((e = xevent(x, it, date)) == NULL)
		return -1;
	for (i = 0; i < it->nobs; i++) {
		misp = cat = NULL;
		for (j = 0; j < NXTYPES; j++)
			if (xtypes[j].type == it->obs[i].type) {
				misp = xtypes[j].misp;
				cat = xtypes[j].category;
			}
		if (misp == NULL || it->obs[i].text == NULL)
			continue;
		snprintf(idx, sizeof(idx), "%zu", i);
		uuid5(NULL, it->id, strlen(it->id), idx, strlen(idx), au);
		uuid_format(au, aus);
		if ((tags = json_array()) == NULL)
			return -1;
		if (it->tlp > TLP_NONE && it->tlp < TLP_NLEVELS)
			json_array_append_new(tags,
			    json_pack("{s:s}", "name", tlp_tags[it->tlp]));
		for (j = 0; j < it->nlabels && j < FEED_MISP_MAX_LABELS; j++)
			json_array_append_new(
			    tags, json_pack("{s:s}", "name", it->labels[j]));
		a = json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:s, s:o}",
		    "uuid", aus, "type", misp, "category", cat, "value",
		    it->obs[i].text, "to_ids", 1, "timestamp",
		    json_sprintf("%lld", (long long)secs), "comment", it->id,
		    "Tag", tags);
		if (a == NULL)
			return -1;
		if (json_array_append_new(e->attrs, a) != 0)
			return -1;
	}
	if (secs > e->timestamp)
		e->timestamp = secs;
	return 0;
}

size_t
feed_misp_export_nevents(const struct feed_misp_export *x)
{
	return x->n;
}

const char *
feed_misp_export_uuid(const struct feed_misp_export *x, size_t i)
{
	return i < x->n ? x->ev[i].uuid_s : NULL;
}

int
feed_misp_export_manifest(struct feed_misp_export *x, struct buf *out)
{
	json_t *m, *ev, *e;
	size_t i;

	if ((m = json_object()) == NULL)
		return -1;
	for (i = 0; i < x->n; i++) {
		ev = json_object_get(x->ev[i].event, "Event");
		e = json_pack("{s:O, s:[], s:O, s:s, s:i, s:i, s:I}", "Orgc",
		    json_object_get(ev, "Orgc"), "Tag", "info",
		    json_object_get(ev, "info"), "date", x->ev[i].date,
		    "analysis", 2, "threat_level_id", 4, "timestamp",
		    (json_int_t)x->ev[i].timestamp);
		if (e == NULL || json_object_set_new(m, x->ev[i].uuid_s, e)) {
			json_decref(m);
			return -1;
		}
	}
	add_json(out, m);
	json_decref(m);
	return buf_failed(out) ? -1 : 0;
}

int
feed_misp_export_event(
    struct feed_misp_export *x, const char *uuid, struct buf *out)
{
	size_t i;
	json_t *ev;

	for (i = 0; i < x->n; i++)
		if (strcasecmp(uuid, x->ev[i].uuid_s) == 0)
			break;
	if (i == x->n)
		return -1;
	ev = json_object_get(x->ev[i].event, "Event");
	json_object_set_new(ev, "timestamp",
	    json_sprintf("%lld", (long long)x->ev[i].timestamp));
	json_object_set_new(ev, "publish_timestamp",
	    json_sprintf("%lld", (long long)x->ev[i].timestamp));
	add_json(out, x->ev[i].event);
	return buf_failed(out) ? -1 : 0;
}

int
feed_misp_export_hashes(struct feed_misp_export *x, struct buf *out)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int hl;
	const char *v;
	json_t *a;
	size_t i, j;

	for (i = 0; i < x->n; i++)
		json_array_foreach(x->ev[i].attrs, j, a)
		{
			v = json_string_value(json_object_get(a, "value"));
			if (v == NULL ||
			    !EVP_Digest(v, strlen(v), h, &hl, EVP_md5(), NULL))
				return -1;
			hex_encode(h, hl, hex);
			buf_addf(out, "%s,%s\n", hex, x->ev[i].uuid_s);
		}
	return buf_failed(out) ? -1 : 0;
}

void
feed_misp_export_event_uuid(const char *producer, int64_t us, char out[37])
{
	unsigned char u[16];
	char date[TSTAMP_LEN];

	tstamp_format(us, 0, date);
	uuid5(NULL, producer, strlen(producer), date, 10, u);
	uuid_format(u, out);
}

/* ------------------------------------------------------------------ */
/* the connector (feed.h) */

#define MR_MAX_EVENTS 1000 /* events fetched in one run */

enum { MR_MANIFEST, MR_MANIFEST_ASKED, MR_EVENTS, MR_EVENT_ASKED, MR_DONE };

struct misp_run {
	const struct feed_ctx *ctx;
	struct feed_misp_opts opts;
	unsigned char *saved; /* the state the run started from, or NULL */
	size_t savedlen;
	struct feed_misp_manifest m;
	size_t i;	  /* next manifest entry to consider */
	size_t cur;	  /* the entry asked for */
	unsigned nevents; /* asked for in this run */
	struct buf st;	  /* the state as stored so far */
	int phase;
};

static void mr_free(struct feed_run *);

static struct feed_run *
mr_new(const struct feed_ctx *ctx, const struct feed_state *st, char *err,
    size_t errlen)
{
	const struct feed_def *def = ctx->def;
	struct misp_run *r;

	if (def->url == NULL) {
		buf_seterr(err, errlen, "a MISP feed needs a url");
		return NULL;
	}
	if ((r = hub_calloc(1, sizeof(*r))) == NULL)
		goto oom;
	r->ctx = ctx;
	buf_init(&r->st);
	r->opts.producer = ctx->member;
	r->opts.ns = ctx->ns;
	r->opts.tlp = (enum tlp)def->tlp;
	r->opts.confidence = def->confidence;
	r->opts.labels = (const char *const *)def->labels;
	r->opts.nlabels = def->nlabels > 0 ? (size_t)def->nlabels : 0;
	r->opts.report = 1;
	if (st != NULL && st->len > 0) {
		/* a malformed blob reads as empty (feed_misp_manifest_plan):
		 * everything is fetched again, which the store deduplicates */
		if ((r->saved = hub_malloc(st->len)) == NULL)
			goto oom;
		memcpy(r->saved, st->data, st->len);
		r->savedlen = st->len;
	}
	return (struct feed_run *)r;
oom:
	mr_free((struct feed_run *)r);
	buf_seterr(err, errlen, "out of memory");
	return NULL;
}

/* 1 when an entry at or after r->i is still to fetch. */
static int
mr_more(const struct misp_run *r)
{
	size_t i;

	for (i = r->i; i < r->m.n; i++)
		if (r->m.ev[i].fetch && !r->m.ev[i].done)
			return 1;
	return 0;
}

static int
mr_next(
    struct feed_run *run, struct feed_request *req, char *err, size_t errlen)
{
	struct misp_run *r = (struct misp_run *)run;
	char name[sizeof(r->m.ev[0].uuid_s) + 5];

	memset(req, 0, sizeof(*req));
	if (r->phase == MR_MANIFEST) {
		req->url = feed_url_join(r->ctx->def->url, "manifest.json");
		r->phase = MR_MANIFEST_ASKED;
	} else if (r->phase == MR_EVENTS) {
		while (r->i < r->m.n &&
		    (!r->m.ev[r->i].fetch || r->m.ev[r->i].done))
			r->i++;
		if (r->i == r->m.n || r->nevents == MR_MAX_EVENTS) {
			/* the rest next run: those done are saved */
			r->phase = MR_DONE;
			return FEED_DONE;
		}
		r->nevents++;
		r->cur = r->i++;
		snprintf(name, sizeof(name), "%s.json", r->m.ev[r->cur].uuid_s);
		req->url = feed_url_join(r->ctx->def->url, name);
		r->phase = MR_EVENT_ASKED;
	} else
		return FEED_DONE;
	if (req->url == NULL ||
	    (req->headers[0] = feed_header("Accept", "application/json")) ==
		NULL) {
		feed_request_clear(req);
		return buf_seterr(err, errlen, "out of memory");
	}
	return FEED_OK;
}

/* The run's state (r->st) as a result's. */
static int
mr_state(struct misp_run *r, struct feed_result *out, char *err, size_t errlen)
{
	if (r->st.len == 0)
		return FEED_OK;
	if ((out->state.data = hub_malloc(r->st.len)) == NULL)
		return buf_seterr(err, errlen, "state: out of memory");
	memcpy(out->state.data, r->st.data, r->st.len);
	out->state.len = r->st.len;
	out->has_state = 1;
	return FEED_OK;
}

/*
 * Marks entry ev done in r->st (what feed_misp_state_build gives with
 * the done marks, kept up to date in O(records) an event instead of a
 * rebuild): its record updated, or inserted in order.
 */
static int
mr_done(struct misp_run *r, struct feed_misp_manifest_entry *ev)
{
	size_t lo = 0, hi = r->st.len / FEED_MISP_STATE_REC, mid;
	unsigned char *p;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(
		    ev->uuid, r->st.data + mid * FEED_MISP_STATE_REC, 16);
		if (c == 0) {
			lo = mid;
			goto put;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (buf_reserve(&r->st, FEED_MISP_STATE_REC) != 0)
		return -1;
	p = (unsigned char *)r->st.data + lo * FEED_MISP_STATE_REC;
	memmove(
	    p + FEED_MISP_STATE_REC, p, r->st.len - lo * FEED_MISP_STATE_REC);
	r->st.len += FEED_MISP_STATE_REC;
	memcpy(p, ev->uuid, 16);
put:
	put_be64((unsigned char *)r->st.data + lo * FEED_MISP_STATE_REC + 16,
	    (uint64_t)ev->timestamp);
	ev->done = 1;
	return 0;
}

static int
mr_parse_manifest(struct misp_run *r, const struct feed_response *resp,
    struct feed_result *out, char *err, size_t errlen)
{
	char e[FEED_MISP_ERRLEN];
	size_t planned;

	if (resp->status != 200)
		return buf_seterr(err, errlen, "manifest.json: HTTP status %ld",
		    resp->status);
	if (feed_misp_manifest_parse(resp->body != NULL ? resp->body : "",
		resp->body != NULL ? resp->len : 0, &r->m, e, sizeof(e)) != 0)
		return buf_seterr(err, errlen, "manifest.json: %s", e);
	if (r->m.nbad > 0)
		feed_result_error(out, 0,
		    "manifest.json: %zu entries skipped, the first: %s",
		    r->m.nbad, r->m.firstbad);
	planned = feed_misp_manifest_plan(&r->m, r->saved, r->savedlen);
	/* the state of the events as they are now stored: the saved one,
	 * less the events gone from the manifest */
	if (feed_misp_state_build(&r->m, r->saved, r->savedlen, &r->st) != 0)
		return buf_seterr(err, errlen, "state: out of memory");
	r->phase = MR_EVENTS;
	if (planned > 0) {
		out->more = 1;
		return FEED_OK;
	}
	/* nothing to fetch: a new state only when events left the
	 * manifest (they are forgotten) */
	r->phase = MR_DONE;
	if (r->st.len == r->savedlen &&
	    (r->savedlen == 0 ||
		memcmp(r->st.data, r->saved, r->savedlen) == 0))
		return FEED_OK;
	if (r->st.len == 0) { /* the manifest is empty: forget them all */
		out->has_state = 1;
		return FEED_OK;
	}
	return mr_state(r, out, err, errlen);
}

static int
mr_parse(struct feed_run *run, const struct feed_response *resp,
    struct feed_result *out, char *err, size_t errlen)
{
	struct misp_run *r = (struct misp_run *)run;
	struct feed_misp_manifest_entry *ev;
	struct feed_misp_result res;
	char e[FEED_MISP_ERRLEN];
	long line;

	if (resp == NULL)
		return buf_seterr(err, errlen, "no response to read");
	if (r->phase == MR_MANIFEST_ASKED)
		return mr_parse_manifest(r, resp, out, err, errlen);
	if (r->phase != MR_EVENT_ASKED)
		return buf_seterr(err, errlen, "response to no request");
	/* one event: its failure is its own (an error, not done, so it is
	 * fetched again next run), never the run's */
	r->phase = MR_EVENTS;
	ev = &r->m.ev[r->cur];
	line = (long)r->cur + 1;
	out->more = mr_more(r);
	if (resp->status != 200) {
		feed_result_error(out, line, "%s.json: HTTP status %ld",
		    ev->uuid_s, resp->status);
		return FEED_OK;
	}
	memset(&res, 0, sizeof(res));
	if (feed_misp_event_to_stix(resp->body != NULL ? resp->body : "",
		resp->body != NULL ? resp->len : 0, &r->opts, &out->envelope,
		&res, e, sizeof(e)) != 0) {
		buf_reset(&out->envelope);
		feed_result_error(out, line, "%s.json: %s", ev->uuid_s, e);
		return FEED_OK;
	}
	if (res.nbad > 0)
		feed_result_error(out, line,
		    "%s.json: %zu attributes skipped, the first: %s",
		    ev->uuid_s, res.nbad, res.firstbad);
	/* the indicators, the SCOs, and the report of them when any */
	out->nobjects = res.nindicators + res.nscos;
	out->nobjects += r->opts.report && out->nobjects > 0;
	if (out->nobjects == 0)
		buf_reset(&out->envelope);
	if (mr_done(r, ev) != 0) {
		buf_reset(&out->envelope);
		return buf_seterr(err, errlen, "state: out of memory");
	}
	return mr_state(r, out, err, errlen);
}

static void
mr_free(struct feed_run *run)
{
	struct misp_run *r = (struct misp_run *)run;

	if (r == NULL)
		return;
	feed_misp_manifest_clear(&r->m);
	buf_clear(&r->st);
	hub_free(r->saved);
	hub_free(r);
}

const struct feed_ops feed_misp_ops = {
    .kind = "misp",
    .run_new = mr_new,
    .next = mr_next,
    .parse = mr_parse,
    .run_free = mr_free,
};
