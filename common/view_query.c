/*
 * view_query.c -- the query string of the TAXII read endpoints (see
 * view.h) into a struct view_query: one row per filter field with its
 * parser, and the fingerprint of the filters that a `next` token is bound
 * to.  Computing pages and reading tokens is view_page.c's job.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctihub/alloc.h"
#include "ctihub/bytes.h"
#include "ctihub/hash.h"
#include "ctihub/marking.h"
#include "ctihub/member.h"
#include "ctihub/stix.h"
#include "ctihub/tstamp.h"
#include "ctihub/view.h"

/* The fields, in the order of the table (the index is part of the
 * fingerprint of a query: keep it). */
enum field {
	F_ADDED_AFTER,
	F_LIMIT,
	F_NEXT,
	F_ID,
	F_TYPE,
	F_VERSION,
	F_SPEC,
	F_TLP,
	F_PRODUCER,
	F_COUNT
};

/* Parses a field's value (or, for a list, one item) into q; -1 with a
 * sentence for the 400 in err. */
typedef int field_parse_cb(struct view_query *, char *v, const struct members *,
    char *err, size_t errlen);
/* Checks a list field once all its n items are parsed. */
typedef int field_end_cb(struct view_query *, int n, char *err, size_t errlen);

/* One row per field of the query string. */
struct qfield {
	const char *name;
	int fingerprint; /* a filter: part of the fingerprint */
	int list;	 /* a comma list: parse takes each item */
	field_parse_cb *parse;
	field_end_cb *end; /* after a list's items; NULL */
};

static int pct_decode(const char *, size_t, char *);
static int split_list(char *, char **, int);
static int type_name_ok(const char *);
static field_parse_cb added_after_parse;
static field_parse_cb limit_parse;
static field_parse_cb next_parse;
static field_parse_cb id_parse;
static field_parse_cb type_parse;
static field_parse_cb version_parse;
static field_parse_cb spec_parse;
static field_parse_cb tlp_parse;
static field_parse_cb producer_parse;
static field_end_cb version_end;
static field_end_cb producer_end;
static int field_find(const char *);
static int parse_field(
    struct view_query *, int, char *, const struct members *, char *, size_t);

static const struct qfield qfields[F_COUNT] = {
    [F_ADDED_AFTER] = {"added_after", 1, 0, added_after_parse, NULL},
    [F_LIMIT] = {"limit", 0, 0, limit_parse, NULL},
    [F_NEXT] = {"next", 0, 0, next_parse, NULL},
    [F_ID] = {"match[id]", 1, 1, id_parse, NULL},
    [F_TYPE] = {"match[type]", 1, 1, type_parse, NULL},
    [F_VERSION] = {"match[version]", 1, 1, version_parse, version_end},
    [F_SPEC] = {"match[spec_version]", 1, 1, spec_parse, NULL},
    [F_TLP] = {"match[tlp]", 1, 1, tlp_parse, NULL},
    [F_PRODUCER] = {"match[producer]", 1, 1, producer_parse, producer_end},
};

/* Percent-decodes s[0..n) into out (NUL-terminated); '+' stays '+'. */
static int
pct_decode(const char *s, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n || (hi = hex_digit(s[i + 1])) < 0 ||
			    (lo = hex_digit(s[i + 2])) < 0)
				return -1;
			out[o] = (char)(hi << 4 | lo);
			if (out[o] == '\0')
				return -1;
			o++;
			i += 2;
		} else
			out[o++] = s[i];
	}
	out[o] = '\0';
	return 0;
}

/* Splits a comma list in place; returns the count or -1 (empty item). */
static int
split_list(char *v, char **items, int max)
{
	int n = 0;
	char *p = v, *c;

	for (;;) {
		if (n == max)
			return -1;
		c = strchr(p, ',');
		if (c != NULL)
			*c = '\0';
		if (*p == '\0')
			return -1;
		items[n++] = p;
		if (c == NULL)
			return n;
		p = c + 1;
	}
}

static int
type_name_ok(const char *t)
{
	size_t i, n = strlen(t);

	if (n < 1 || n > 250)
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)t[i]) ||
			isdigit((unsigned char)t[i]) || t[i] == '-'))
			return 0;
	return 1;
}

/* --- one parser a field --- */

static int
added_after_parse(struct view_query *q, char *v, const struct members *ms,
    char *err, size_t errlen)
{
	int r = tstamp_parse(v, strlen(v), &q->added_after);

	(void)ms;
	if (r != TSTAMP_OK && r != TSTAMP_ENOTUTC) {
		snprintf(err, errlen,
		    "added_after: '%s' is not a timestamp "
		    "(YYYY-MM-DDTHH:MM:SS[.ssssss]Z)",
		    v);
		return -1;
	}
	return 0;
}

static int
limit_parse(struct view_query *q, char *v, const struct members *ms, char *err,
    size_t errlen)
{
	char *end;
	unsigned long long l;

	(void)ms;
	if (!isdigit((unsigned char)v[0]) || (l = strtoull(v, &end, 10)) == 0 ||
	    *end != '\0') {
		snprintf(
		    err, errlen, "limit: '%s' is not a positive integer", v);
		return -1;
	}
	q->limit = l > 1000000000ULL ? 1000000000ULL : (size_t)l;
	return 0;
}

static int
next_parse(struct view_query *q, char *v, const struct members *ms, char *err,
    size_t errlen)
{
	(void)ms;
	if (v[0] == '\0') {
		snprintf(err, errlen, "next: empty");
		return -1;
	}
	q->next = v;
	return 0;
}

static int
id_parse(struct view_query *q, char *v, const struct members *ms, char *err,
    size_t errlen)
{
	char type[256];

	(void)ms;
	if (stix_parse_id(v, type, sizeof(type), q->ids[q->nids].uuid) == -1) {
		snprintf(
		    err, errlen, "match[id]: '%s' is not a STIX identifier", v);
		return -1;
	}
	v[strlen(type)] = '\0'; /* type--uuid: type */
	q->ids[q->nids++].type = v;
	return 0;
}

static int
type_parse(struct view_query *q, char *v, const struct members *ms, char *err,
    size_t errlen)
{
	(void)ms;
	if (!type_name_ok(v)) {
		snprintf(err, errlen,
		    "match[type]: '%s' is not a STIX type name", v);
		return -1;
	}
	q->typename[q->ntypes++] = v;
	return 0;
}

/* first, last, all, or a version's timestamp; each at most once. */
static int
version_parse(struct view_query *q, char *v, const struct members *ms,
    char *err, size_t errlen)
{
	int bit = strcmp(v, "first") == 0 ? VIEW_V_FIRST
	    : strcmp(v, "last") == 0	  ? VIEW_V_LAST
	    : strcmp(v, "all") == 0	  ? VIEW_V_ALL
					  : 0;
	int64_t ts;
	int j;

	(void)ms;
	if (bit != 0) {
		if (q->vflags & bit)
			goto twice;
		q->vflags |= bit;
		return 0;
	}
	if (tstamp_parse(v, strlen(v), &ts) != TSTAMP_OK) {
		snprintf(err, errlen,
		    "match[version]: '%s' is not first, last, all or a "
		    "timestamp",
		    v);
		return -1;
	}
	for (j = 0; j < q->nvts; j++)
		if (q->vts[j] == ts)
			goto twice;
	q->vts[q->nvts++] = ts;
	return 0;
twice:
	snprintf(err, errlen, "match[version]: '%s' given twice", v);
	return -1;
}

static int
version_end(struct view_query *q, int n, char *err, size_t errlen)
{
	if ((q->vflags & VIEW_V_ALL) && n > 1) {
		snprintf(err, errlen,
		    "match[version]: 'all' cannot be combined with other "
		    "values");
		return -1;
	}
	return 0;
}

static int
spec_parse(struct view_query *q, char *v, const struct members *ms, char *err,
    size_t errlen)
{
	(void)ms;
	if (strcmp(v, "2.0") == 0)
		q->specs |= 1;
	else if (strcmp(v, "2.1") == 0)
		q->specs |= 2;
	else {
		snprintf(err, errlen,
		    "match[spec_version]: '%s' is not 2.0 or 2.1", v);
		return -1;
	}
	return 0;
}

static int
tlp_parse(struct view_query *q, char *v, const struct members *ms, char *err,
    size_t errlen)
{
	enum tlp t = marking_tlp_parse(v);

	(void)ms;
	if (t == TLP_NONE && strcasecmp(v, "amber strict") == 0)
		t = TLP_AMBER_STRICT; /* '+' sent unencoded */
	if (t == TLP_NONE) {
		snprintf(err, errlen,
		    "match[tlp]: '%s' is not clear, white, green, amber, "
		    "amber+strict or red",
		    v);
		return -1;
	}
	q->tlps |= 1u << t;
	return 0;
}

/* A member id; one that is no member matches nothing. */
static int
producer_parse(struct view_query *q, char *v, const struct members *ms,
    char *err, size_t errlen)
{
	const struct member *m;

	if (!member_id_valid(v)) {
		snprintf(
		    err, errlen, "match[producer]: '%s' is not a member id", v);
		return -1;
	}
	m = ms ? members_find(ms, v) : NULL;
	if (m != NULL)
		q->producers[q->nproducers++] = m->code;
	return 0;
}

static int
producer_end(struct view_query *q, int n, char *err, size_t errlen)
{
	(void)n;
	(void)err;
	(void)errlen;
	if (q->nproducers == 0)
		q->nproducers = -1; /* only unknown members: nothing */
	return 0;
}

/* --- the query string --- */

/* The field named key; F_COUNT when it is not one of ours. */
static int
field_find(const char *key)
{
	int f;

	for (f = 0; f < F_COUNT; f++)
		if (strcmp(key, qfields[f].name) == 0)
			break;
	return f;
}

/* Parses the decoded value v of field f into q (a list is split in
 * place). */
static int
parse_field(struct view_query *q, int f, char *v, const struct members *ms,
    char *err, size_t errlen)
{
	const struct qfield *qf = &qfields[f];
	char *items[VIEW_MAX_VALUES];
	int n, i;

	if (!qf->list)
		return qf->parse(q, v, ms, err, errlen);
	if ((n = split_list(v, items, VIEW_MAX_VALUES)) < 0) {
		snprintf(err, errlen,
		    "%s: an empty item or more than %d values in the list",
		    qf->name, VIEW_MAX_VALUES);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (qf->parse(q, items[i], ms, err, errlen) == -1)
			return -1;
	return qf->end != NULL ? qf->end(q, n, err, errlen) : 0;
}

int
view_parse(struct view_query *q, int endpoint, const char *raw,
    const struct members *ms, char *err, size_t errlen)
{
	int seen[F_COUNT] = {0};
	const char *p;
	char *o;
	size_t len, vlen;
	uint64_t fp = HASH_FNV1A64_INIT;
	int f;

	memset(q, 0, sizeof(*q));
	q->endpoint = endpoint;
	q->added_after = -1;
	len = raw ? strlen(raw) : 0;
	if (len > 16384) {
		snprintf(err, errlen, "query string too long");
		return -1;
	}
	if ((q->store = hub_malloc(len + 2)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	o = q->store;
	for (p = raw; p != NULL && *p != '\0';) {
		const char *amp = strchr(p, '&'), *eq;
		size_t plen = amp ? (size_t)(amp - p) : strlen(p);
		char key[64];

		eq = memchr(p, '=', plen);
		if (plen == 0) {
			p = amp ? amp + 1 : p + plen;
			continue;
		}
		/* not one of ours: TAXII lets servers ignore it */
		if (eq == NULL || (size_t)(eq - p) >= sizeof(key) ||
		    pct_decode(p, (size_t)(eq - p), key) == -1 ||
		    (f = field_find(key)) == F_COUNT) {
			p = amp ? amp + 1 : p + plen;
			continue;
		}
		if (seen[f]++) {
			snprintf(err, errlen, "%s given more than once",
			    qfields[f].name);
			return -1;
		}
		if (pct_decode(eq + 1, plen - (size_t)(eq + 1 - p), o) == -1) {
			snprintf(err, errlen, "%s: malformed percent-encoding",
			    qfields[f].name);
			return -1;
		}
		vlen = strlen(o);
		if (qfields[f].fingerprint) {
			fp = hash_fnv1a64(fp, &f, sizeof(f));
			fp = hash_fnv1a64(fp, o, vlen + 1);
		}
		/* parse_field splits lists in place: step over the whole */
		if (parse_field(q, f, o, ms, err, errlen) == -1)
			return -1;
		o += vlen + 1;
		p = amp ? amp + 1 : p + plen;
	}
	fp = hash_fnv1a64(fp, &endpoint, sizeof(endpoint));
	q->fingerprint = fp;
	q->pos = q->added_after;
	return 0;
}

void
view_query_clear(struct view_query *q)
{
	hub_free(q->store);
	q->store = NULL;
}

int
view_set_object(struct view_query *q, const char *id)
{
	char type[256];

	if (stix_parse_id(id, type, sizeof(type), q->ids[0].uuid) == -1 ||
	    strlen(type) >= sizeof(q->objtype))
		return -1;
	memcpy(q->objtype, type, strlen(type) + 1);
	q->ids[0].type = q->objtype;
	q->nids = 1;
	q->fingerprint = hash_fnv1a64(q->fingerprint, id, strlen(id));
	return 0;
}
