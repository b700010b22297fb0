/*
 * t_read.c -- the TAXII read endpoints over real TLS: every filter alone
 * and combined, versions first/last/all/specific, spec_version, paging with
 * next (while publishing), tampered and foreign tokens, manifests,
 * versions, get-an-object, delete and its permissions, conditional
 * requests, and members with and without access on each path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctihub/buf.h"
#include "ctihub/tstamp.h"

#include "integ.h"

#define PW    ":integ-pass-1"
#define READS "/api1/collections/reads/"

static const struct opts alice = {.user = "alice" PW};
static const struct opts bob = {.user = "bob" PW};
static const struct opts admin = {.user = "admin" PW};

#define TLP_GREEN "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
#define TLP_AMBER "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"

/* The data set, posted once by load(). */
static char A[64], B[64], D[64], G[64];
static int loaded;

static int
post(const struct opts *who, const char *coll, struct buf *b)
{
	struct resp r;
	struct opts o = *who;
	char path[128];
	int ok;

	snprintf(path, sizeof(path), "/api1/collections/%s/objects/", coll);
	o.body = buf_cstr(b);
	o.bodylen = b->len;
	http("POST", path, &o, &r);
	ok = r.code == 202 &&
	    json_integer_value(json_object_get(r.json, "failure_count")) == 0;
	if (!ok)
		fprintf(stderr, "post: %ld %s\n", r.code, r.body);
	resp_free(&r);
	return ok ? 0 : -1;
}

static int
load(void)
{
	struct buf b = BUF_INIT;
	struct opts carol = {.token = env("HUB_TOKEN_CAROL")};
	char u[37], ind[512];
	const char *pat = ",\"name\":\"x\",\"pattern\":\"[ipv4-addr:value = "
			  "'203.0.113.5']\",\"pattern_type\":\"stix\","
			  "\"valid_from\":\"2024-01-01T00:00:00Z\"";

	if (loaded)
		return 0;
	integ_uuid(u);
	snprintf(A, sizeof(A), "indicator--%s", u);
	integ_uuid(u);
	snprintf(B, sizeof(B), "malware--%s", u);
	integ_uuid(u);
	snprintf(D, sizeof(D), "indicator--%s", u);
	integ_uuid(u);
	snprintf(G, sizeof(G), "malware--%s", u);
	/* A v1 (green), then A v3, then A v2 arriving last */
	snprintf(ind, sizeof(ind), "%s,\"object_marking_refs\":[\"%s\"]", pat,
	    TLP_GREEN);
	buf_adds(&b, "{\"objects\":[");
	integ_object(&b, "indicator", A, "2024-01-01T00:00:00.000Z",
	    "2024-01-01T00:00:00.000Z", ind);
	buf_adds(&b, "]}");
	if (post(&alice, "reads", &b) == -1)
		return -1;
	buf_reset(&b);
	buf_adds(&b, "{\"objects\":[");
	integ_object(&b, "indicator", A, "2024-01-01T00:00:00.000Z",
	    "2024-03-01T00:00:00.000Z", ind);
	buf_addc(&b, ',');
	snprintf(ind, sizeof(ind),
	    ",\"name\":\"m\",\"is_family\":false,"
	    "\"object_marking_refs\":[\"%s\"]",
	    TLP_AMBER);
	integ_object(&b, "malware", B, "2024-01-01T00:00:00.000Z",
	    "2024-01-01T00:00:00.000Z", ind);
	buf_addc(&b, ',');
	/* D is STIX 2.0: no spec_version */
	buf_addf(&b,
	    "{\"type\":\"indicator\",\"id\":\"%s\","
	    "\"created\":\"2017-01-01T00:00:00.000Z\","
	    "\"modified\":\"2017-01-01T00:00:00.000Z\","
	    "\"labels\":[\"malicious-activity\"],"
	    "\"pattern\":\"[ipv4-addr:value = '203.0.113.9']\","
	    "\"valid_from\":\"2017-01-01T00:00:00Z\"}",
	    D);
	buf_adds(&b, "]}");
	if (post(&alice, "reads", &b) == -1)
		return -1;
	buf_reset(&b);
	buf_adds(&b, "{\"objects\":[");
	snprintf(ind, sizeof(ind), "%s,\"object_marking_refs\":[\"%s\"]", pat,
	    TLP_GREEN);
	integ_object(&b, "indicator", A, "2024-01-01T00:00:00.000Z",
	    "2024-02-01T00:00:00.000Z", ind);
	buf_adds(&b, "]}");
	if (post(&alice, "reads", &b) == -1)
		return -1;
	buf_reset(&b);
	buf_adds(&b, "{\"objects\":[");
	snprintf(ind, sizeof(ind),
	    ",\"name\":\"g\",\"is_family\":true,"
	    "\"object_marking_refs\":[\"%s\"]",
	    TLP_GREEN);
	integ_object(&b, "malware", G, "2024-01-01T00:00:00.000Z",
	    "2024-01-01T00:00:00.000Z", ind);
	buf_adds(&b, "]}");
	if (post(&carol, "reads", &b) == -1)
		return -1;
	buf_clear(&b);
	loaded = 1;
	return 0;
}

/* GETs path and returns the ids (and versions via *vers) of "objects". */
static int
ids_of(const struct opts *who, const char *path, struct resp *r, char *out,
    size_t outlen)
{
	json_t *list, *o;
	size_t i;

	http("GET", path, who, r);
	out[0] = '\0';
	list = json_object_get(r->json, "objects");
	json_array_foreach(list, i, o)
	{
		const char *id = json_string_value(json_object_get(o, "id"));
		const char *m =
		    json_string_value(json_object_get(o, "modified"));
		const char *v =
		    json_string_value(json_object_get(o, "version"));

		snprintf(out + strlen(out), outlen - strlen(out), "%s%s@%.10s",
		    i ? " " : "", id == A ? "A" : id,
		    m	    ? m
			: v ? v
			    : "-");
	}
	return (int)json_array_size(list);
}

/* Replaces the long ids in s by their letters, for readable asserts. */
static void
letters(char *s)
{
	const char *ids[] = {A, B, D, G};
	const char *names[] = {"A", "B", "D", "G"};
	char *p;
	int k;

	for (k = 0; k < 4; k++)
		while ((p = strstr(s, ids[k])) != NULL) {
			size_t l = strlen(ids[k]);

			p[0] = names[k][0];
			memmove(p + 1, p + l, strlen(p + l) + 1);
		}
}

static int
got(const struct opts *who, const char *path, const char *want, char *why,
    size_t whylen)
{
	struct resp r;
	char ids[4096];

	ids_of(who, path, &r, ids, sizeof(ids));
	letters(ids);
	EXPECT(r.code == 200, "%s: %ld %s", path, r.code, r.body);
	EXPECT(strcmp(ids, want) == 0, "%s:\n  got  [%s]\n  want [%s]", path,
	    ids, want);
	resp_free(&r);
	return 0;
}

static int
t_filters(char *why, size_t whylen)
{
	char p[512], pp[1024];

	EXPECT(load() == 0, "could not post the data set");
#define GOT(q, w)                                                              \
	do {                                                                   \
		snprintf(pp, sizeof(pp), READS "objects/%s", q);               \
		if (got(&alice, pp, w, why, whylen) == -1)                     \
			return -1;                                             \
	} while (0)
	/* default: the last version of each, in date_added order; the 2.0
	 * object is the latest spec version of itself */
	GOT("", "A@2024-03-01 B@2024-01-01 D@2017-01-01 G@2024-01-01");
	GOT("?match%5Bversion%5D=all",
	    "A@2024-01-01 A@2024-03-01 B@2024-01-01 "
	    "D@2017-01-01 A@2024-02-01 G@2024-01-01");
	GOT("?match%5Bversion%5D=first",
	    "A@2024-01-01 B@2024-01-01 D@2017-01-01 G@2024-01-01");
	GOT("?match%5Bversion%5D=first,last",
	    "A@2024-01-01 A@2024-03-01 B@2024-01-01 D@2017-01-01 G@2024-01-01");
	GOT("?match%5Bversion%5D=2024-02-01T00:00:00Z", "A@2024-02-01");
	GOT("?match%5Bversion%5D=2024-02-01T00:00:00.000Z,first",
	    "A@2024-01-01 B@2024-01-01 D@2017-01-01 A@2024-02-01 G@2024-01-01");
	GOT("?match%5Btype%5D=malware", "B@2024-01-01 G@2024-01-01");
	GOT("?match%5Btype%5D=indicator,malware&match%5Bversion%5D=first",
	    "A@2024-01-01 B@2024-01-01 D@2017-01-01 G@2024-01-01");
	GOT("?match%5Btype%5D=sighting", "");
	GOT("?match%5Bspec_version%5D=2.0", "D@2017-01-01");
	GOT("?match%5Bspec_version%5D=2.1",
	    "A@2024-03-01 B@2024-01-01 "
	    "G@2024-01-01");
	GOT("?match%5Bspec_version%5D=2.0,2.1&match%5Btype%5D=indicator",
	    "A@2024-03-01 D@2017-01-01");
	snprintf(p, sizeof(p), "?match%%5Bid%%5D=%s", A);
	GOT(p, "A@2024-03-01");
	snprintf(p, sizeof(p),
	    "?match%%5Bid%%5D=%s,%s&match%%5Bversion%%5D=all", B, A);
	GOT(p, "A@2024-01-01 A@2024-03-01 B@2024-01-01 A@2024-02-01");
	GOT("?match%5Btlp%5D=green", "A@2024-03-01 G@2024-01-01");
	GOT("?match%5Btlp%5D=amber", "B@2024-01-01 D@2017-01-01");
	GOT("?match%5Btlp%5D=amber%2Bstrict,red", "");
	GOT("?match%5Bproducer%5D=carol", "G@2024-01-01");
	GOT("?match%5Bproducer%5D=alice&match%5Btype%5D=malware",
	    "B@2024-01-01");
	GOT("?match%5Bproducer%5D=nobody", "");
	GOT("?match%5Bunknown%5D=x",
	    "A@2024-03-01 B@2024-01-01 D@2017-01-01 "
	    "G@2024-01-01");
#undef GOT
	return 0;
}

static int
t_bad_filters(char *why, size_t whylen)
{
	const char *bad[] = {"?limit=0", "?limit=abc", "?limit=-3",
	    "?added_after=yesterday", "?match%5Bversion%5D=all,first",
	    "?match%5Bversion%5D=newest", "?match%5Bversion%5D=last,last",
	    "?match%5Bspec_version%5D=3.0", "?match%5Btype%5D=Indicator!",
	    "?match%5Bid%5D=indicator--nope", "?match%5Btlp%5D=purple",
	    "?match%5Btype%5D=indicator&match%5Btype%5D=malware",
	    "?added_after=2024-01-01T00:00:00Z&added_after=2024-01-02T00:00:"
	    "00Z",
	    "?match%5Btype%5D=indicator,,malware", "?next=garbage",
	    "?match%5Btype%5D=%zz", NULL};
	struct resp r;
	char p[256];
	int i;

	for (i = 0; bad[i] != NULL; i++) {
		snprintf(p, sizeof(p), READS "objects/%s", bad[i]);
		http("GET", p, &alice, &r);
		EXPECT(r.code == 400 && r.json != NULL, "%s: %ld %s", bad[i],
		    r.code, r.body);
		resp_free(&r);
	}
	/* a limit above the server's maximum is lowered, not refused */
	http("GET", READS "objects/?limit=100000000", &alice, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	return 0;
}

static int
t_headers_and_empty(char *why, size_t whylen)
{
	struct resp r;
	const char *first, *last;
	char f[64], p[256];

	EXPECT(load() == 0, "data");
	http("GET", READS "objects/?match%5Bversion%5D=all", &alice, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(strcmp(r.ctype, "application/taxii+json;version=2.1") == 0, "%s",
	    r.ctype);
	first = resp_header(&r, "X-TAXII-Date-Added-First");
	EXPECT(first != NULL && strlen(first) == 27 && first[26] == 'Z',
	    "X-TAXII-Date-Added-First with microseconds: %s",
	    first ? first : "none");
	snprintf(f, sizeof(f), "%s", first);
	last = resp_header(&r, "X-TAXII-Date-Added-Last");
	EXPECT(last != NULL && strcmp(f, last) < 0, "first %s, last %s", f,
	    last ? last : "none");
	EXPECT(json_is_false(json_object_get(r.json, "more")), "%s", r.body);
	EXPECT(json_object_get(r.json, "next") == NULL, "next without more");
	/* after the last one: an empty envelope, no date headers */
	snprintf(p, sizeof(p), READS "objects/?added_after=%s", last);
	resp_free(&r);
	http("GET", p, &alice, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(strcmp(r.body, "{}") == 0, "empty envelope: %s", r.body);
	EXPECT(resp_header(&r, "X-TAXII-Date-Added-First") == NULL,
	    "date header on an empty page");
	resp_free(&r);
	/* added_after is exclusive: after the first, all but the first */
	snprintf(p, sizeof(p),
	    READS "objects/?added_after=%s&match%%5Bversion"
		  "%%5D=all",
	    f);
	http("GET", p, &alice, &r);
	EXPECT(json_array_size(json_object_get(r.json, "objects")) == 5,
	    "added_after %s: %s", f, r.body);
	resp_free(&r);
	http("GET", READS "manifest/?match%5Btype%5D=sighting", &alice, &r);
	EXPECT(strcmp(r.body, "{}") == 0, "empty manifest: %s", r.body);
	resp_free(&r);
	return 0;
}

static int
t_object_and_versions(char *why, size_t whylen)
{
	struct resp r;
	char p[512];
	json_t *v;

	EXPECT(load() == 0, "data");
	snprintf(p, sizeof(p), READS "objects/%s/", A);
	if (got(&alice, p, "A@2024-03-01", why, whylen) == -1)
		return -1;
	snprintf(p, sizeof(p), READS "objects/%s/?match%%5Bversion%%5D=all", A);
	if (got(&alice, p, "A@2024-01-01 A@2024-03-01 A@2024-02-01", why,
		whylen) == -1)
		return -1;
	snprintf(
	    p, sizeof(p), READS "objects/%s/?match%%5Bversion%%5D=first", A);
	if (got(&alice, p, "A@2024-01-01", why, whylen) == -1)
		return -1;
	snprintf(p, sizeof(p),
	    READS "objects/%s/?match%%5Bversion%%5D=2023-01-01T00:00:00Z", A);
	http("GET", p, &alice, &r);
	EXPECT(r.code == 200 && strcmp(r.body, "{}") == 0,
	    "existing object, no such version: %ld %s", r.code, r.body);
	resp_free(&r);
	http("GET",
	    READS "objects/indicator--00000000-0000-4000-8000-"
		  "000000000000/",
	    &alice, &r);
	EXPECT_CODE(&r, 404);
	resp_free(&r);
	http("GET", READS "objects/not-an-id/", &alice, &r);
	EXPECT_CODE(&r, 404);
	resp_free(&r);
	/* versions: every version, in the order they were added */
	snprintf(p, sizeof(p), READS "objects/%s/versions/", A);
	http("GET", p, &alice, &r);
	EXPECT_CODE(&r, 200);
	v = json_object_get(r.json, "versions");
	EXPECT(json_array_size(v) == 3 &&
		strncmp(json_string_value(json_array_get(v, 0)), "2024-01-01",
		    10) == 0 &&
		strncmp(json_string_value(json_array_get(v, 1)), "2024-03-01",
		    10) == 0 &&
		strncmp(json_string_value(json_array_get(v, 2)), "2024-02-01",
		    10) == 0,
	    "versions: %s", r.body);
	EXPECT(resp_header(&r, "X-TAXII-Date-Added-Last") != NULL,
	    "versions without date headers");
	resp_free(&r);
	snprintf(p, sizeof(p), READS "objects/%s/versions/?limit=2", A);
	http("GET", p, &alice, &r);
	EXPECT(json_array_size(json_object_get(r.json, "versions")) == 2 &&
		json_is_true(json_object_get(r.json, "more")),
	    "versions page: %s", r.body);
	resp_free(&r);
	snprintf(p, sizeof(p), READS "objects/%s/versions/", D);
	http("GET", p, &alice, &r);
	EXPECT(json_array_size(json_object_get(r.json, "versions")) == 1,
	    "2.0 versions: %s", r.body);
	resp_free(&r);
	return 0;
}

static int
t_manifest(char *why, size_t whylen)
{
	struct resp r;
	json_t *o;
	size_t i;
	int seen_20 = 0;

	EXPECT(load() == 0, "data");
	http("GET", READS "manifest/?match%5Bversion%5D=all", &alice, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(json_array_size(json_object_get(r.json, "objects")) == 6, "%s",
	    r.body);
	json_array_foreach(json_object_get(r.json, "objects"), i, o)
	{
		const char *mt =
		    json_string_value(json_object_get(o, "media_type"));
		const char *da =
		    json_string_value(json_object_get(o, "date_added"));

		EXPECT(json_is_string(json_object_get(o, "id")) &&
			json_is_string(json_object_get(o, "version")) &&
			da != NULL && strlen(da) == 27,
		    "manifest record: %s", r.body);
		if (strcmp(json_string_value(json_object_get(o, "id")), D) ==
		    0) {
			EXPECT(strcmp(mt,
				   "application/stix+json;version=2.0") == 0,
			    "2.0 media type: %s", mt);
			seen_20 = 1;
		} else
			EXPECT(strcmp(mt,
				   "application/stix+json;version=2.1") == 0,
			    "media type: %s", mt);
	}
	EXPECT(seen_20, "no 2.0 record");
	resp_free(&r);
	return 0;
}

struct walked {
	char *ids;
	size_t idslen;
	int (*between)(void);
};

static int
walked_page(const struct resp *r, void *arg)
{
	struct walked *w = arg;

	integ_ids(r, w->ids, w->idslen);
	if (json_is_true(json_object_get(r->json, "more")) &&
	    w->between != NULL)
		return w->between();
	return 0;
}

/* Walks with next at `limit` a page; the ids seen, in order. */
static int
walk(const struct opts *who, const char *coll, const char *filter, int limit,
    char *ids, size_t idslen, int *pages, int (*between)(void))
{
	struct walked w = {ids, idslen, between};
	char p[1024];

	ids[0] = '\0';
	snprintf(p, sizeof(p), "/api1/collections/%s/objects/?limit=%d%s", coll,
	    limit, filter);
	*pages = integ_walk(who, p, walked_page, &w);
	return *pages < 0 ? -1 : 0;
}

static int npaged;

/* Publishes a new object and a new version of a paged one. */
static int
publish_more(void)
{
	struct buf b = BUF_INIT;
	char u[37], id[64];
	int rc;

	integ_uuid(u);
	snprintf(id, sizeof(id), "indicator--%s", u);
	buf_adds(&b, "{\"objects\":[");
	integ_indicator(&b, u, "2024-01-01T00:00:00.000Z",
	    "[ipv4-addr:value = '203.0.113.77']");
	buf_adds(&b, "]}");
	rc = post(&alice, "paging", &b);
	buf_clear(&b);
	npaged++;
	return rc;
}

static int
t_paging_while_writing(char *why, size_t whylen)
{
	static char before[65536], during[65536], after[65536];
	struct buf b = BUF_INIT;
	char u[37], *p, *q;
	int i, pages, n = 0;

	buf_adds(&b, "{\"objects\":[");
	for (i = 0; i < 25; i++) {
		integ_uuid(u);
		if (i)
			buf_addc(&b, ',');
		integ_indicator(&b, u, "2024-01-01T00:00:00.000Z",
		    "[ipv4-addr:value = '203.0.113.66']");
	}
	buf_adds(&b, "]}");
	i = post(&alice, "paging", &b);
	buf_clear(&b);
	EXPECT(i == 0, "post");
	EXPECT(walk(&bob, "paging", "", 1000, before, sizeof(before), &pages,
		   NULL) == 0,
	    "walk");
	EXPECT(walk(&bob, "paging", "", 4, during, sizeof(during), &pages,
		   publish_more) == 0,
	    "walk while publishing");
	EXPECT(pages == 7, "%d pages of 4 for 25 objects", pages);
	/* exactly the objects that existed at the start, each once */
	EXPECT(strcmp(before, during) == 0,
	    "the walk during publishing differs:\n before %s\n during %s",
	    before, during);
	for (p = during; (q = strchr(p, ' ')) != NULL; p = q + 1)
		n++;
	EXPECT(n == 25, "%d objects", n);
	/* and the new ones are there for the next walk */
	EXPECT(walk(&bob, "paging", "", 1000, after, sizeof(after), &pages,
		   NULL) == 0,
	    "walk");
	for (n = 0, p = after; (q = strchr(p, ' ')) != NULL; p = q + 1)
		n++;
	EXPECT(n == 25 + npaged, "%d objects after, want %d", n, 25 + npaged);
	return 0;
}

static int
t_tokens(char *why, size_t whylen)
{
	struct resp r;
	char p[512], next[256];
	size_t l;

	EXPECT(load() == 0, "data");
	http("GET", READS "objects/?limit=1", &alice, &r);
	EXPECT(json_is_true(json_object_get(r.json, "more")), "%s", r.body);
	snprintf(next, sizeof(next), "%s",
	    json_string_value(json_object_get(r.json, "next")));
	resp_free(&r);
	snprintf(p, sizeof(p), READS "objects/?limit=1&next=%s", next);
	http("GET", p, &alice, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	/* OpenCTI sends the original added_after... here none: the same */
	/* the token of another member */
	http("GET", p, &bob, &r);
	EXPECT_CODE(&r, 400);
	resp_free(&r);
	/* with other filters */
	snprintf(p, sizeof(p),
	    READS "objects/?limit=1&match%%5Btype%%5D="
		  "malware&next=%s",
	    next);
	http("GET", p, &alice, &r);
	EXPECT_CODE(&r, 400);
	resp_free(&r);
	/* on another collection */
	snprintf(p, sizeof(p), "/api1/collections/any/objects/?limit=1&next=%s",
	    next);
	http("GET", p, &alice, &r);
	EXPECT_CODE(&r, 400);
	resp_free(&r);
	/* tampered: one character changed */
	l = strlen(next);
	next[l / 2] = next[l / 2] == 'A' ? 'B' : 'A';
	snprintf(p, sizeof(p), READS "objects/?limit=1&next=%s", next);
	http("GET", p, &alice, &r);
	EXPECT_CODE(&r, 400);
	EXPECT(strstr(r.body, "next") != NULL, "%s", r.body);
	resp_free(&r);
	return 0;
}

static int
t_conditional(char *why, size_t whylen)
{
	struct resp r;
	struct opts o = alice;
	char tag[128], h[160];
	struct buf b = BUF_INIT;
	char u[37];

	EXPECT(load() == 0, "data");
	http("GET", READS "objects/", &alice, &r);
	EXPECT(resp_header(&r, "ETag") != NULL, "no ETag");
	snprintf(tag, sizeof(tag), "%s", resp_header(&r, "ETag"));
	resp_free(&r);
	snprintf(h, sizeof(h), "If-None-Match: %s", tag);
	o.header = h;
	http("GET", READS "objects/", &o, &r);
	EXPECT_CODE(&r, 304);
	resp_free(&r);
	/* a write elsewhere: the same answer */
	integ_uuid(u);
	buf_adds(&b, "{\"objects\":[");
	integ_indicator(&b, u, "2024-01-01T00:00:00.000Z",
	    "[ipv4-addr:value = '203.0.113.88']");
	buf_adds(&b, "]}");
	EXPECT(post(&alice, "any", &b) == 0, "post");
	http("GET", READS "objects/", &o, &r);
	EXPECT_CODE(&r, 304);
	resp_free(&r);
	/* something new here: the page changes */
	EXPECT(post(&alice, "reads", &b) == 0, "post");
	buf_clear(&b);
	http("GET", READS "objects/", &o, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	return 0;
}

static int
t_access(char *why, size_t whylen)
{
	struct resp r;
	struct opts dave = {
	    .cert = env("HUB_CERT_DAVE"), .key = env("HUB_KEY_DAVE")};
	const char *paths[] = {"objects/", "manifest/",
	    "objects/indicator--00000000-0000-4000-8000-000000000001/",
	    "objects/indicator--00000000-0000-4000-8000-000000000001/versions/",
	    NULL};
	char p[256];
	int i;

	for (i = 0; paths[i] != NULL; i++) {
		/* dave (US) may not see the BRICS collection: 404 */
		snprintf(p, sizeof(p), "/api1/collections/brics/%s", paths[i]);
		http("GET", p, &dave, &r);
		EXPECT(r.code == 404, "dave %s: %ld", p, r.code);
		resp_free(&r);
		/* bob (IN) may */
		http("GET", p, &bob, &r);
		EXPECT(r.code == 200 || (i >= 2 && r.code == 404),
		    "bob %s: %ld", p, r.code);
		resp_free(&r);
		/* nobody without credentials */
		http("GET", p, NULL, &r);
		EXPECT(r.code == 401, "anonymous %s: %ld", p, r.code);
		resp_free(&r);
	}
	return 0;
}

static int
t_delete(char *why, size_t whylen)
{
	struct resp r;
	struct opts carol = {.token = env("HUB_TOKEN_CAROL")};
	char p[512];

	EXPECT(load() == 0, "data");
	snprintf(p, sizeof(p), READS "objects/%s/", A);
	/* bob may read but not write: 403 */
	http("DELETE", p, &bob, &r);
	EXPECT_CODE(&r, 403);
	resp_free(&r);
	/* carol may write, but A is alice's: 403 */
	http("DELETE", p, &carol, &r);
	EXPECT_CODE(&r, 403);
	resp_free(&r);
	/* match[version] narrows: the first version only */
	snprintf(
	    p, sizeof(p), READS "objects/%s/?match%%5Bversion%%5D=first", A);
	http("DELETE", p, &alice, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(r.len == 0, "a body on DELETE: %s", r.body);
	resp_free(&r);
	snprintf(p, sizeof(p), READS "objects/%s/?match%%5Bversion%%5D=all", A);
	if (got(&alice, p, "A@2024-03-01 A@2024-02-01", why, whylen) == -1)
		return -1;
	/* so does match[spec_version]: A has no STIX 2.0 version */
	snprintf(
	    p, sizeof(p), READS "objects/%s/?match%%5Bspec_version%%5D=2.0", A);
	http("DELETE", p, &alice, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	snprintf(p, sizeof(p), READS "objects/%s/?match%%5Bversion%%5D=all", A);
	if (got(&alice, p, "A@2024-03-01 A@2024-02-01", why, whylen) == -1)
		return -1;
	/* without match[version]: every version, none left to serve */
	snprintf(p, sizeof(p), READS "objects/%s/", A);
	http("DELETE", p, &alice, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	http("GET", p, &alice, &r);
	EXPECT(r.code == 404, "an older version is still served: %ld %s",
	    r.code, r.body);
	resp_free(&r);
	snprintf(p, sizeof(p), READS "objects/%s/versions/", A);
	http("GET", p, &alice, &r);
	EXPECT_CODE(&r, 404);
	resp_free(&r);
	snprintf(p, sizeof(p), READS "manifest/?match%%5Bid%%5D=%s", A);
	http("GET", p, &alice, &r);
	EXPECT(strcmp(r.body, "{}") == 0, "deleted object in the manifest");
	resp_free(&r);
	/* an admin (with write access) may delete what another produced */
	snprintf(p, sizeof(p), READS "objects/%s/", G);
	http("DELETE", p, &admin, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	http("GET", p, &alice, &r);
	EXPECT_CODE(&r, 404);
	resp_free(&r);
	http("DELETE", p, &admin, &r);
	EXPECT_CODE(&r, 404);
	resp_free(&r);
	return 0;
}

/* --- side channels: what a reader learns of objects it may not see --- */

#define TLP_WHITE "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
#define TLP_RED	  "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"

static const struct opts erin = {.user = "erin" PW};
static const struct opts zane = {.user = "zane" PW};

/* Posts n indicators marked `marking` into `coll` as alice, in envelopes
 * of at most 1,000; the ids of the first ones in ids (may be NULL). */
static int
post_marked(
    const char *coll, int n, const char *marking, char (*ids)[64], int nids)
{
	struct buf b = BUF_INIT;
	char u[37];
	int i, k, rc = 0;

	for (i = 0; i < n && rc == 0; i += k) {
		buf_reset(&b);
		buf_adds(&b, "{\"objects\":[");
		for (k = 0; k < 1000 && i + k < n; k++) {
			integ_uuid(u);
			if (ids != NULL && i + k < nids)
				snprintf(ids[i + k], 64, "indicator--%s", u);
			buf_addf(&b,
			    "%s{\"type\":\"indicator\",\"spec_version\":\"2."
			    "1\","
			    "\"id\":\"indicator--%s\",\"created\":"
			    "\"2024-01-01T00:00:00.000Z\",\"modified\":"
			    "\"2024-01-01T00:00:00.000Z\",\"pattern\":"
			    "\"[ipv4-addr:value = '192.0.2.%d']\","
			    "\"pattern_type\":\"stix\",\"valid_from\":"
			    "\"2024-01-01T00:00:00Z\",\"object_marking_refs\":"
			    "[\"%s\"]}",
			    k ? "," : "", u, (i + k) % 250 + 1, marking);
		}
		buf_adds(&b, "]}");
		rc = post(&alice, coll, &b);
	}
	buf_clear(&b);
	return rc;
}

/* The date_added of object `id` in `coll`, as alice sees it; -1 if none. */
static int64_t
date_added_of(const char *coll, const char *id)
{
	struct resp r;
	char p[512];
	const char *da;
	int64_t us = -1;

	snprintf(p, sizeof(p),
	    "/api1/collections/%s/manifest/?match%%5Bid%%5D=%s", coll, id);
	http("GET", p, &alice, &r);
	da = json_string_value(json_object_get(
	    json_array_get(json_object_get(r.json, "objects"), 0),
	    "date_added"));
	if (da == NULL || tstamp_parse(da, strlen(da), &us) != TSTAMP_OK)
		us = -1;
	resp_free(&r);
	return us;
}

static int
audit_has(const char *event, const char *a, const char *b)
{
	char path[1024], line[65536], ev[64];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "%s/state/audit.jsonl", env("HUB_DIR"));
	snprintf(ev, sizeof(ev), "\"event\":\"%s\"", event);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, ev) != NULL && strstr(line, a) != NULL &&
		    (b == NULL || strstr(line, b) != NULL);
	fclose(f);
	return found;
}

/* Waits for the audit log (flushed every second) to hold a line. */
static int
audit_wait(const char *event, const char *a, const char *b)
{
	int i;

	for (i = 0; i < 60; i++) {
		if (audit_has(event, a, b))
			return 1;
		usleep(50000);
	}
	return 0;
}

static size_t
b64url_decode(const char *s, unsigned char *out, size_t max)
{
	static const char al[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	const char *c;

	for (; *s != '\0' && (c = strchr(al, *s)) != NULL; s++) {
		acc = acc << 6 | (uint32_t)(c - al);
		bits += 6;
		if (bits >= 8 && n < max) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

/* A next token tells nothing of the objects a reader may not see. */
static int
t_token_opaque(char *why, size_t whylen)
{
	struct resp r;
	char hidden[1][64], t1[256], t2[256];
	unsigned char raw[256], be[8];
	size_t n, i;
	int64_t da;

	EXPECT(post_marked("quiet", 2, TLP_WHITE, NULL, 0) == 0, "post");
	/* the newest entry of the collection is one erin may not see */
	EXPECT(post_marked("quiet", 1, TLP_RED, hidden, 1) == 0, "post");
	EXPECT((da = date_added_of("quiet", hidden[0])) > 0, "date_added");
	http("GET", "/api1/collections/quiet/objects/?limit=1", &erin, &r);
	EXPECT(json_is_true(json_object_get(r.json, "more")), "%s", r.body);
	snprintf(t1, sizeof(t1), "%s",
	    json_string_value(json_object_get(r.json, "next")));
	resp_free(&r);
	for (i = 0; i < 8; i++)
		be[i] = (unsigned char)((uint64_t)da >> (56 - 8 * i));
	n = b64url_decode(t1, raw, sizeof(raw));
	EXPECT(memmem(raw, n, be, 8) == NULL,
	    "the token carries in clear the date_added of an object erin "
	    "may not see");
	/* the same page twice: two different tokens (a fresh nonce) */
	http("GET", "/api1/collections/quiet/objects/?limit=1", &erin, &r);
	snprintf(t2, sizeof(t2), "%s",
	    json_string_value(json_object_get(r.json, "next")));
	resp_free(&r);
	EXPECT(strcmp(t1, t2) != 0, "the same token twice");
	return 0;
}

/* `more` counts only what the reader may see, on every path. */
static int
t_more_hidden_tail(char *why, size_t whylen)
{
	struct resp r;
	char vis[2][64], hid[1][64], p[1024];
	const char *paths[] = {"objects/?limit=2", "manifest/?limit=2", NULL};
	int i;

	EXPECT(post_marked("tail", 2, TLP_WHITE, vis, 2) == 0, "post");
	/* more hidden objects than a page's lookahead */
	EXPECT(post_marked("tail", 4200, TLP_RED, hid, 1) == 0, "post");
	for (i = 0; paths[i] != NULL; i++) {
		snprintf(p, sizeof(p), "/api1/collections/tail/%s", paths[i]);
		http("GET", p, &erin, &r);
		EXPECT(json_array_size(json_object_get(r.json, "objects")) == 2,
		    "%s: %s", p, r.body);
		EXPECT(json_is_false(json_object_get(r.json, "more")),
		    "%s: more is true when only objects erin may not see "
		    "follow",
		    p);
		resp_free(&r);
	}
	snprintf(p, sizeof(p),
	    "/api1/collections/tail/objects/?limit=2&match%%5Bid%%5D=%s,%s,%s",
	    vis[0], vis[1], hid[0]);
	http("GET", p, &erin, &r);
	EXPECT(json_array_size(json_object_get(r.json, "objects")) == 2 &&
		json_is_false(json_object_get(r.json, "more")),
	    "match[id]: %s", r.body);
	resp_free(&r);
	/* the producer sees them all: more is true for her */
	http("GET", "/api1/collections/tail/objects/?limit=2", &alice, &r);
	EXPECT(json_is_true(json_object_get(r.json, "more")), "%s", r.body);
	resp_free(&r);
	return 0;
}

/* The ETag changes only when what this reader receives changes. */
static int
t_etag_per_reader(char *why, size_t whylen)
{
	struct resp r;
	struct opts o = erin;
	char tag[128], h[160], last[64], p[256];

	EXPECT(post_marked("quiet", 2, TLP_WHITE, NULL, 0) == 0, "post");
	http("GET", "/api1/collections/quiet/objects/", &erin, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(resp_header(&r, "ETag") != NULL, "no ETag");
	snprintf(tag, sizeof(tag), "%s", resp_header(&r, "ETag"));
	snprintf(last, sizeof(last), "%s",
	    resp_header(&r, "X-TAXII-Date-Added-Last"));
	resp_free(&r);
	snprintf(h, sizeof(h), "If-None-Match: %s", tag);
	o.header = h;
	http("GET", "/api1/collections/quiet/objects/", &o, &r);
	EXPECT_CODE(&r, 304);
	resp_free(&r);
	/* a write erin may not see changes nothing for her */
	EXPECT(post_marked("quiet", 1, TLP_RED, NULL, 0) == 0, "post");
	http("GET", "/api1/collections/quiet/objects/", &o, &r);
	EXPECT(r.code == 304,
	    "a hidden write changed erin's ETag: %ld (the ETag tells her "
	    "that someone wrote something she may not see)",
	    r.code);
	resp_free(&r);
	/* nor for her empty answer at the head of the collection */
	snprintf(p, sizeof(p),
	    "/api1/collections/quiet/objects/?added_after=%s", last);
	http("GET", p, &erin, &r);
	EXPECT(r.code == 200 && strcmp(r.body, "{}") == 0, "%ld %s", r.code,
	    r.body);
	EXPECT(resp_header(&r, "ETag") != NULL, "no ETag on {}");
	snprintf(tag, sizeof(tag), "%s", resp_header(&r, "ETag"));
	resp_free(&r);
	snprintf(h, sizeof(h), "If-None-Match: %s", tag);
	http("GET", p, &o, &r);
	EXPECT_CODE(&r, 304);
	resp_free(&r);
	EXPECT(post_marked("quiet", 1, TLP_RED, NULL, 0) == 0, "post");
	http("GET", p, &o, &r);
	EXPECT(r.code == 304, "a hidden write changed erin's ETag of {}: %ld",
	    r.code);
	resp_free(&r);
	/* a write she sees does */
	EXPECT(post_marked("quiet", 1, TLP_WHITE, NULL, 0) == 0, "post");
	http("GET", p, &o, &r);
	EXPECT(r.code == 200 &&
		json_array_size(json_object_get(r.json, "objects")) == 1,
	    "a visible write: %ld %s", r.code, r.body);
	resp_free(&r);
	return 0;
}

/* HEAD delivers no object: no `receive` record. */
static int
t_head_not_audited(char *why, size_t whylen)
{
	struct resp r;
	char id[1][64], p[512], idq[80];

	EXPECT(post_marked("quiet", 1, TLP_WHITE, id, 1) == 0, "post");
	snprintf(p, sizeof(p), "/api1/collections/quiet/objects/%s/", id[0]);
	http("HEAD", p, &zane, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	snprintf(p, sizeof(p),
	    "/api1/collections/quiet/objects/?match%%5Bid%%5D=%s", id[0]);
	http("HEAD", p, &zane, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	http("GET", p, &erin, &r);
	EXPECT(json_array_size(json_object_get(r.json, "objects")) == 1, "%s",
	    r.body);
	resp_free(&r);
	snprintf(idq, sizeof(idq), "\"%s\"", id[0]);
	EXPECT(audit_wait("receive", "\"member\":\"erin\"", idq),
	    "no receive record of erin's GET");
	EXPECT(!audit_has("receive", "\"member\":\"zane\"", idq),
	    "a HEAD request was audited as a reception");
	return 0;
}

/* Deleting needs read and write access, for admins too. */
static int
t_delete_needs_write(char *why, size_t whylen)
{
	struct resp r;
	char id[1][64], p[512];

	EXPECT(post_marked("any", 1, TLP_WHITE, id, 1) == 0, "post");
	snprintf(p, sizeof(p), "/api1/collections/any/objects/%s/", id[0]);
	http("DELETE", p, &admin, &r);
	EXPECT(r.code == 403 && r.json != NULL,
	    "an admin without write access deleted: %ld %s", r.code, r.body);
	resp_free(&r);
	http("GET", p, &alice, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	EXPECT(audit_wait("denied", "\"member\":\"admin\"", id[0]),
	    "no denied record of the admin's attempt");
	return 0;
}

const struct test read_tests[] = {
    {"read: every filter alone and combined", t_filters},
    {"read: malformed or repeated filters get 400", t_bad_filters},
    {"read: headers, empty envelopes, added_after", t_headers_and_empty},
    {"read: get an object, versions", t_object_and_versions},
    {"read: manifest records", t_manifest},
    {"read: paging while publishing sees the start exactly once",
	t_paging_while_writing},
    {"read: next tokens of others, other queries, tampered", t_tokens},
    {"read: ETag and 304", t_conditional},
    {"read: members with and without access on each path", t_access},
    {"read: delete and its permissions", t_delete},
    {"read: ETags change only with what the reader may see", t_etag_per_reader},
    {"read: next tokens are opaque", t_token_opaque},
    {"read: more counts only what the reader may see", t_more_hidden_tail},
    {"read: HEAD is not audited as a reception", t_head_not_audited},
    {"read: delete needs write access, for admins too", t_delete_needs_write},
    {NULL, NULL},
};
