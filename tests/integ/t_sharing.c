/*
 * t_sharing.c -- sharing policies over real TLS: the matrix of every TLP
 * level x every relation of reader to producer x every read path,
 * releasability, counts and headers over visible objects only, a reload
 * that widens access (and releases objects to pollers past them), a
 * broken policy kept out, a reload that revokes with a never rule beside
 * the grant it cancels (accepted, with a warning), the points-of-contact
 * directory, the audit log, and the policy tools.
 */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctihub/buf.h"
#include "ctihub/tstamp.h"

#include "integ.h"

#define PW     ":integ-pass-1"
#define SHARED "/api1/collections/shared/"

enum { L_CLEAR, L_GREEN, L_AMBER, L_STRICT, L_RED, L_NONE, NLEVELS };

static const char *const marks[NLEVELS] = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", NULL};
static const char *const lname[NLEVELS] = {
    "CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED", "unmarked"};

/* every level's object holds it too: a value reported at every level */
#define MATRIX_DOMAIN "matrix-shared.example"

static char ids[NLEVELS][64];
static char rel_id[64]; /* AMBER, releasable to India only */
static int loaded;

static const struct opts alice = {.user = "alice" PW};

struct reader {
	const char *name;
	struct opts o;
	int see[NLEVELS];
};

static struct reader readers[] = {
    {"alice (the producer)", {.user = "alice" PW}, {1, 1, 1, 1, 1, 1}},
    {"admin (same country BR)", {.user = "admin" PW}, {1, 1, 0, 0, 0, 0}},
    {"bob (granted country IN)", {.user = "bob" PW}, {1, 1, 1, 0, 0, 1}},
    {"carol (granted member)", {0}, {1, 1, 1, 1, 1, 1}},
    {"zane (group southern)", {.user = "zane" PW}, {1, 1, 1, 0, 0, 1}},
    {"erin (ordinary member)", {.user = "erin" PW}, {1, 1, 0, 0, 0, 0}},
    {"dave (never-listed)", {0}, {0, 0, 0, 0, 0, 0}},
};
#define NREADERS (int)(sizeof(readers) / sizeof(readers[0]))

static void
readers_init(void)
{
	readers[3].o.token = env("HUB_TOKEN_CAROL");
	readers[6].o.cert = env("HUB_CERT_DAVE");
	readers[6].o.key = env("HUB_KEY_DAVE");
}

static int
post(const struct opts *who, const char *path, struct buf *b, int *fails)
{
	struct resp r;
	struct opts o = *who;
	int ok;

	o.body = buf_cstr(b);
	o.bodylen = b->len;
	http("POST", path, &o, &r);
	ok = r.code == 202;
	*fails =
	    (int)json_integer_value(json_object_get(r.json, "failure_count"));
	if (!ok || *fails)
		fprintf(stderr, "post: %ld %s\n", r.code, r.body);
	resp_free(&r);
	return ok && *fails == 0 ? 0 : -1;
}

#define ACS_ID "marking-definition--7b2f0e46-1c3a-4d5e-8f90-1a2b3c4d5e6f"

static int
load(void)
{
	struct buf b = BUF_INIT;
	char u[37], extra[512];
	int i, fails;

	if (loaded)
		return 0;
	readers_init();
	buf_adds(&b, "{\"objects\":[");
	for (i = 0; i < NLEVELS; i++) {
		integ_uuid(u);
		snprintf(ids[i], sizeof(ids[i]), "indicator--%s", u);
		if (i)
			buf_addc(&b, ',');
		if (marks[i])
			snprintf(extra, sizeof(extra),
			    ",\"object_marking_refs\":[\"%s\"]", marks[i]);
		else
			extra[0] = '\0';
		buf_addf(&b,
		    "{\"type\":\"indicator\",\"spec_version\":\"2.1\","
		    "\"id\":\"%s\",\"created\":\"2024-01-01T00:00:00.000Z\","
		    "\"modified\":\"2024-01-01T00:00:00.000Z\","
		    "\"name\":\"%s\",\"pattern\":\"[ipv4-addr:value = "
		    "'198.18.0.%d'] OR [domain-name:value = '" MATRIX_DOMAIN
		    "']\",\"pattern_type\":\"stix\","
		    "\"valid_from\":\"2024-01-01T00:00:00Z\"%s}",
		    ids[i], lname[i], i + 1, extra);
	}
	/* an ISA ACS 3.0 marking permitting India only, and an AMBER
	 * object carrying it */
	buf_adds(&b,
	    ",{\"type\":\"marking-definition\",\"spec_version\":\"2.1\","
	    "\"id\":\"" ACS_ID "\",\"created\":\"2024-01-01T00:00:00Z\","
	    "\"extensions\":{\"extension-definition--3a65884d-005a-4290-8335-"
	    "cb2d778a83ce\":{\"extension_type\":\"property-extension\","
	    "\"identifier\":\"isa:guide.19001.ACS3-test\","
	    "\"create_date_time\":\"2024-01-01T00:00:00Z\","
	    "\"responsible_entity_custodian\":\"BRA.CERT\","
	    "\"policy_reference\":\"urn:isa:policy:acs:ns:v3.0?privdefault="
	    "deny&sharedefault=deny\",\"control_set\":{\"classification\":"
	    "\"U\",\"permitted_nationalities\":[\"IND\"]}}}}");
	integ_uuid(u);
	snprintf(rel_id, sizeof(rel_id), "indicator--%s", u);
	buf_addf(&b,
	    ",{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"%s\","
	    "\"created\":\"2024-01-01T00:00:00.000Z\","
	    "\"modified\":\"2024-01-01T00:00:00.000Z\",\"name\":\"rel\","
	    "\"pattern\":\"[ipv4-addr:value = '198.51.100.99']\","
	    "\"pattern_type\":\"stix\",\"valid_from\":\"2024-01-01T00:00:00Z\","
	    "\"object_marking_refs\":[\"%s\",\"%s\"]}",
	    rel_id, marks[L_AMBER], ACS_ID);
	buf_adds(&b, "]}");
	if (post(&alice, SHARED "objects/", &b, &fails) == -1) {
		buf_clear(&b);
		return -1;
	}
	buf_clear(&b);
	loaded = 1;
	return 0;
}

/* Does `who` see object `id` in collection `coll` (its path, ending in
 * '/') on each read path?  All four must agree: 1 or 0, or -1 (and why). */
int
integ_sees(const struct opts *who, const char *coll, const char *id, char *why,
    size_t whylen)
{
	struct resp r;
	char p[512];
	int a, b2, c, d;

	snprintf(p, sizeof(p), "%sobjects/?match%%5Bid%%5D=%s", coll, id);
	http("GET", p, who, &r);
	if (r.code != 200) {
		snprintf(why, whylen, "%s: %ld", p, r.code);
		resp_free(&r);
		return -1;
	}
	a = json_array_size(json_object_get(r.json, "objects")) == 1;
	resp_free(&r);
	snprintf(p, sizeof(p), "%sobjects/%s/", coll, id);
	http("GET", p, who, &r);
	b2 = r.code == 200;
	if (r.code != 200 && r.code != 404) {
		snprintf(why, whylen, "%s: %ld (a hidden object is a 404)", p,
		    r.code);
		resp_free(&r);
		return -1;
	}
	resp_free(&r);
	snprintf(p, sizeof(p), "%sobjects/%s/versions/", coll, id);
	http("GET", p, who, &r);
	c = r.code == 200;
	resp_free(&r);
	snprintf(p, sizeof(p), "%smanifest/?match%%5Bid%%5D=%s", coll, id);
	http("GET", p, who, &r);
	d = json_array_size(json_object_get(r.json, "objects")) == 1;
	resp_free(&r);
	if (a != b2 || a != c || a != d) {
		snprintf(why, whylen,
		    "paths disagree on %s: objects %d, object %d, versions %d, "
		    "manifest %d",
		    id, a, b2, c, d);
		return -1;
	}
	return a;
}

static int
sees(const struct opts *who, const char *id, char *why, size_t whylen)
{
	return integ_sees(who, SHARED, id, why, whylen);
}

/* The level of one of the matrix objects by id, or -1. */
static int
level_of(const char *id)
{
	int l;

	for (l = 0; l < NLEVELS; l++)
		if (strcmp(id, ids[l]) == 0)
			return l;
	return -1;
}

/* The date_added of each matrix object, as the producer sees them. */
static int
dates_added(int64_t added[NLEVELS], char *why, size_t whylen)
{
	struct resp r;
	char p[1024];
	size_t i, n = 0;
	json_t *o;
	int l;

	n = (size_t)snprintf(p, sizeof(p), SHARED "manifest/?match%%5Bid%%5D=");
	for (l = 0; l < NLEVELS; l++)
		n += (size_t)snprintf(
		    p + n, sizeof(p) - n, "%s%s", l ? "," : "", ids[l]);
	http("GET", p, &alice, &r);
	EXPECT_CODE(&r, 200);
	json_array_foreach(json_object_get(r.json, "objects"), i, o)
	{
		const char *da = integ_jstr(o, "date_added");

		l = level_of(integ_jstr(o, "id"));
		EXPECT(l >= 0 && tstamp_parse(da, strlen(da), &added[l]) == 0,
		    "manifest: %.300s", r.body);
	}
	EXPECT(json_array_size(json_object_get(r.json, "objects")) == NLEVELS,
	    "manifest: %.300s", r.body);
	resp_free(&r);
	return 0;
}

/*
 * Lookups and exports in the matrix: the reader's lookup of each level's
 * address finds that object exactly when its reads do, the value every
 * level's object holds returns and counts only the objects it may read
 * (its first and last seen theirs), and the collection's ipv4.txt export
 * lists exactly the addresses of the objects it may read.
 */
static int
matrix_obs(const struct reader *rd, const int64_t added[NLEVELS], char *why,
    size_t whylen)
{
	struct opts o = rd->o;
	struct resp r;
	char body[512], want[32];
	size_t n, i, k;
	json_t *res, *m;
	int l, got[NLEVELS] = {0}, nsee = 0;
	int64_t first = INT64_MAX, last = INT64_MIN, t;

	n = (size_t)snprintf(body, sizeof(body), "{\"values\":[");
	for (l = 0; l < NLEVELS; l++)
		n += (size_t)snprintf(
		    body + n, sizeof(body) - n, "\"198.18.0.%d\",", l + 1);
	snprintf(body + n, sizeof(body) - n, "\"" MATRIX_DOMAIN "\"]}");
	o.body = body;
	o.bodylen = strlen(body);
	o.ctype = "application/json";
	o.accept = "application/json";
	http("POST", "/api1/lookup/", &o, &r);
	if (r.code == 401) { /* no credentials the hub takes: nothing */
		for (l = 0; l < NLEVELS; l++)
			EXPECT(!rd->see[l], "%s: lookup 401", rd->name);
		resp_free(&r);
		return 0;
	}
	EXPECT_CODE(&r, 200);
	res = json_object_get(r.json, "results");
	EXPECT(json_array_size(res) == NLEVELS + 1, "%.300s", r.body);
	for (l = 0; l < NLEVELS; l++) {
		int found = 0;

		json_array_foreach(
		    json_object_get(json_array_get(res, (size_t)l), "matches"),
		    i, m)
		{
			k = (size_t)level_of(integ_jstr(m, "id"));
			EXPECT((int)k == l,
			    "%s: lookup of level %s's address "
			    "returned another object: %.300s",
			    rd->name, lname[l], r.body);
			/* its level as marked, or unmarked: the default's */
			EXPECT(l == L_NONE
				? json_is_true(json_object_get(m, "unmarked"))
				: strcmp(integ_jstr(m, "tlp"), lname[l]) == 0 &&
				    json_object_get(m, "unmarked") == NULL,
			    "%s: level %s answered as tlp %s", rd->name,
			    lname[l], integ_jstr(m, "tlp"));
			found = 1;
		}
		EXPECT(found == rd->see[l],
		    "%s: the lookup %s the %s object (its reads: %s)", rd->name,
		    found ? "finds" : "does not find", lname[l],
		    rd->see[l] ? "seen" : "hidden");
	}
	m = json_array_get(res, NLEVELS);
	json_array_foreach(json_object_get(m, "matches"), i, res)
	{
		l = level_of(integ_jstr(res, "id"));
		EXPECT(l >= 0 && rd->see[l],
		    "%s: the shared value returns a hidden object: %.300s",
		    rd->name, r.body);
		got[l] = 1;
	}
	for (l = 0; l < NLEVELS; l++) {
		EXPECT(got[l] == rd->see[l], "%s: shared value: %s %s",
		    rd->name, got[l] ? "returns the hidden" : "misses the",
		    lname[l]);
		if (!rd->see[l])
			continue;
		nsee++;
		first = added[l] < first ? added[l] : first;
		last = added[l] > last ? added[l] : last;
	}
	m = json_object_get(m, "summary");
	EXPECT(json_integer_value(json_object_get(m, "count")) == nsee,
	    "%s: the shared value counts %lld objects, it may see %d: %.300s",
	    rd->name,
	    (long long)json_integer_value(json_object_get(m, "count")), nsee,
	    r.body);
	if (nsee > 0) {
		const char *f = integ_jstr(m, "first_seen"),
			   *la = integ_jstr(m, "last_seen");

		EXPECT(tstamp_parse(la, strlen(la), &t) == 0 && t == last,
		    "%s: last_seen %s is not its newest visible object's",
		    rd->name, la);
		EXPECT(tstamp_parse(f, strlen(f), &t) == 0 && t <= first,
		    "%s: first_seen %s after its first visible object",
		    rd->name, f);
	}
	resp_free(&r);

	/* the collection's blocklist: its addresses, and no other */
	o = rd->o;
	o.accept = "text/plain";
	http("GET", SHARED "export/ipv4.txt", &o, &r);
	EXPECT(r.code == 200, "%s: export %ld", rd->name, r.code);
	for (l = 0; l < NLEVELS; l++) {
		snprintf(want, sizeof(want), "198.18.0.%d\n", l + 1);
		k = strlen(want);
		got[l] = 0;
		for (i = 0; i + k <= r.len; i++)
			if ((i == 0 || r.body[i - 1] == '\n') &&
			    memcmp(r.body + i, want, k) == 0)
				got[l] = 1;
		EXPECT(got[l] == rd->see[l], "%s: ipv4.txt %s the %s address",
		    rd->name, got[l] ? "lists" : "misses", lname[l]);
	}
	resp_free(&r);
	return 0;
}

/*
 * The MISP feed of the collection (misp/manifest.json, then every event):
 * exactly the addresses of the objects the reader may read, each marked
 * with its own level's tlp: tag (the unmarked one: a tag of the level it
 * counts as, or none), and hashes.csv one line per attribute.
 */
static int
matrix_misp(const struct reader *rd, char *why, size_t whylen)
{
	struct opts o = rd->o;
	struct resp r, e;
	char p[256], want[32], tag[32];
	const char *uuid, *v;
	json_t *ev, *a, *t;
	size_t i, j, nattrs = 0, nlines = 0;
	int l, k, tagged, got[NLEVELS] = {0};

	o.accept = "application/json";
	http("GET", SHARED "misp/manifest.json", &o, &r);
	if (r.code == 401) { /* no credentials the hub takes: nothing */
		for (l = 0; l < NLEVELS; l++)
			EXPECT(!rd->see[l], "%s: misp 401", rd->name);
		resp_free(&r);
		return 0;
	}
	EXPECT(r.code == 200 && json_is_object(r.json), "%s: misp manifest %ld",
	    rd->name, r.code);
	json_object_foreach(r.json, uuid, ev)
	{
		snprintf(p, sizeof(p), SHARED "misp/%s.json", uuid);
		http("GET", p, &o, &e);
		EXPECT(e.code == 200 && e.json != NULL,
		    "%s: misp event %s: %ld", rd->name, uuid, e.code);
		json_array_foreach(
		    json_object_get(
			json_object_get(e.json, "Event"), "Attribute"),
		    i, a)
		{
			nattrs++;
			v = integ_jstr(a, "value");
			for (l = -1, k = 0; k < NLEVELS; k++) {
				snprintf(
				    want, sizeof(want), "198.18.0.%d", k + 1);
				if (v != NULL && strcmp(v, want) == 0)
					l = k;
			}
			if (l < 0)
				continue;
			got[l] = 1;
			if (l == L_NONE)
				continue;
			snprintf(tag, sizeof(tag), "tlp:%s", lname[l]);
			for (j = 0; tag[j] != '\0'; j++)
				tag[j] = (char)tolower((unsigned char)tag[j]);
			tagged = 0;
			json_array_foreach(json_object_get(a, "Tag"), j, t)
			{
				v = integ_jstr(t, "name");
				tagged |= v != NULL && strcmp(v, tag) == 0;
			}
			EXPECT(tagged, "%s: misp attribute of %s without %s",
			    rd->name, lname[l], tag);
		}
		resp_free(&e);
	}
	resp_free(&r);
	for (l = 0; l < NLEVELS; l++)
		EXPECT(got[l] == rd->see[l],
		    "%s: the MISP feed %s the %s address", rd->name,
		    got[l] ? "holds" : "misses", lname[l]);
	o.accept = "text/csv";
	http("GET", SHARED "misp/hashes.csv", &o, &r);
	EXPECT(r.code == 200, "%s: misp hashes.csv %ld", rd->name, r.code);
	for (i = 0; i < r.len; i++)
		nlines += r.body[i] == '\n';
	resp_free(&r);
	EXPECT(nlines == nattrs, "%s: hashes.csv %zu lines, %zu attributes",
	    rd->name, nlines, nattrs);
	return 0;
}

static int
t_matrix(char *why, size_t whylen)
{
	int64_t added[NLEVELS];
	int i, l, s;

	EXPECT(load() == 0, "could not post the test objects");
	for (i = 0; i < NREADERS; i++)
		for (l = 0; l < NLEVELS; l++) {
			s = sees(&readers[i].o, ids[l], why, whylen);
			if (s < 0)
				return -1;
			EXPECT(s == readers[i].see[l], "%s %s %s object",
			    readers[i].name,
			    s ? "sees the" : "does not see the", lname[l]);
		}
	if (dates_added(added, why, whylen) != 0)
		return -1;
	for (i = 0; i < NREADERS; i++)
		if (matrix_obs(&readers[i], added, why, whylen) != 0)
			return -1;
	for (i = 0; i < NREADERS; i++)
		if (matrix_misp(&readers[i], why, whylen) != 0)
			return -1;
	return 0;
}

static int
t_unauthenticated(char *why, size_t whylen)
{
	const char *paths[] = {
	    "objects/", "manifest/", "objects/", "objects/", NULL};
	const char *tails[] = {"", "", "/", "/versions/"};
	struct resp r;
	char p[1024];
	int i;

	EXPECT(load() == 0, "data");
	for (i = 0; paths[i] != NULL; i++) {
		snprintf(p, sizeof(p), SHARED "%s%s%s", paths[i],
		    i >= 2 ? ids[L_CLEAR] : "", tails[i]);
		http("GET", p, NULL, &r);
		EXPECT(r.code == 401, "unauthenticated %s: %ld", p, r.code);
		resp_free(&r);
	}
	return 0;
}

static int
t_releasability(char *why, size_t whylen)
{
	struct opts bob = {.user = "bob" PW}, zane = {.user = "zane" PW};

	EXPECT(load() == 0, "data");
	/* AMBER goes to IN and ZA, but the object itself is releasable
	 * to India only */
	EXPECT(sees(&bob, rel_id, why, whylen) == 1,
	    "bob (IN) does not see "
	    "it");
	EXPECT(sees(&zane, rel_id, why, whylen) == 0,
	    "zane (ZA) sees an object releasable to IN only");
	EXPECT(sees(&alice, rel_id, why, whylen) == 1,
	    "the producer does not see its own");
	return 0;
}

/* Counts and date headers cover only what the reader may see. */
static int
t_counts_and_headers(char *why, size_t whylen)
{
	struct opts erin = {.user = "erin" PW};
	struct resp r, m;
	const char *first, *last;
	char f[64], l[64], p[512];
	json_t *o;
	size_t i;

	EXPECT(load() == 0, "data");
	http("GET", SHARED "objects/?match%5Btype%5D=indicator", &erin, &r);
	EXPECT_CODE(&r, 200);
	EXPECT(json_array_size(json_object_get(r.json, "objects")) == 2,
	    "erin sees CLEAR and GREEN only: %s", r.body);
	first = resp_header(&r, "X-TAXII-Date-Added-First");
	EXPECT(first != NULL, "no header");
	snprintf(f, sizeof(f), "%s", first);
	last = resp_header(&r, "X-TAXII-Date-Added-Last");
	snprintf(l, sizeof(l), "%s", last ? last : "");
	resp_free(&r);
	/* the dates are those of erin's objects, from the producer's view */
	snprintf(p, sizeof(p), SHARED "manifest/?match%%5Bid%%5D=%s,%s",
	    ids[L_CLEAR], ids[L_GREEN]);
	http("GET", p, &alice, &m);
	EXPECT(json_array_size(json_object_get(m.json, "objects")) == 2, "%s",
	    m.body);
	json_array_foreach(json_object_get(m.json, "objects"), i, o)
	{
		const char *da =
		    json_string_value(json_object_get(o, "date_added"));

		EXPECT(strcmp(da, i == 0 ? f : l) == 0,
		    "header %s is not the date of a visible object (%s)",
		    i == 0 ? f : l, da);
	}
	resp_free(&m);
	/* one object a page: more and next skip what erin may not see */
	http("GET", SHARED "objects/?match%5Btype%5D=indicator&limit=1", &erin,
	    &r);
	EXPECT(json_is_true(json_object_get(r.json, "more")), "%s", r.body);
	resp_free(&r);
	return 0;
}

static int
erin_cursor(char *out, size_t len)
{
	struct opts erin = {.user = "erin" PW};
	struct resp r;
	const char *last;

	http("GET", SHARED "objects/", &erin, &r);
	last = resp_header(&r, "X-TAXII-Date-Added-Last");
	snprintf(out, len, "%s", last ? last : "");
	resp_free(&r);
	return out[0] ? 0 : -1;
}

/* Like count_ids, and the page's X-TAXII-Date-Added-Last in last ("" when
 * none): where the poller asks from next time. */
static int
count_ids_last(const struct opts *who, const char *path, const char *id,
    char *last, size_t len)
{
	struct resp r;
	const char *h;
	json_t *o;
	size_t i;
	int n = 0;

	http("GET", path, who, &r);
	json_array_foreach(json_object_get(r.json, "objects"), i, o)
	{
		if (id == NULL ||
		    strcmp(json_string_value(json_object_get(o, "id")), id) ==
			0)
			n++;
	}
	h = resp_header(&r, "X-TAXII-Date-Added-Last");
	snprintf(last, len, "%s", h ? h : "");
	resp_free(&r);
	return n;
}

/* Replaces `from` by `to` in alice.policy (an edit, no signal: the hub
 * watches the directory) and waits until the log shows `await` once more:
 * 0, or -1 when the edit failed or the line did not come. */
static int
alice_edit(const char *from, const char *to, const char *await)
{
	char path[1024];
	int before = log_count(await);

	snprintf(path, sizeof(path), "%s/policy/alice.policy", env("HUB_DIR"));
	if (file_replace(path, from, to) == -1)
		return -1;
	return log_wait(await, before, 10);
}

static int
count_ids(const struct opts *who, const char *path, const char *id)
{
	char last[64];

	return count_ids_last(who, path, id, last, sizeof(last));
}

/* Edits a policy file (no signal: the hub watches the directory) and
 * waits for the reload, and for the release it makes when `release`. */
static int
policy_edit(const char *file, const char *from, const char *to, int release,
    char *why, size_t whylen)
{
	char path[1024];
	int done = log_count("configuration reloaded");
	int released = log_count("released");

	snprintf(path, sizeof(path), "%s/policy/%s", env("HUB_DIR"), file);
	EXPECT(file_replace(path, from, to) == 0, "edit %s", file);
	EXPECT(log_wait("configuration reloaded", done, 10) == 0,
	    "the edit of %s was not picked up", file);
	EXPECT(!release || log_wait("released", released, 10) == 0,
	    "nothing was released after the reload");
	return 0;
}

/* A reload that widens access: the newly visible objects reach a poller
 * that is past them, once; a fresh walk gets them once too. */
static int
t_reload_widens(char *why, size_t whylen)
{
	struct opts erin = {.user = "erin" PW};
	char cursor[64], p[512], last[64], before[512];

	EXPECT(load() == 0, "data");
	/* a poller whose cursor is just before the test objects */
	{
		struct resp m;
		const char *da;
		int64_t us;
		char ts[64];

		snprintf(p, sizeof(p), SHARED "manifest/?match%%5Bid%%5D=%s",
		    ids[L_CLEAR]);
		http("GET", p, &alice, &m);
		da = json_string_value(json_object_get(
		    json_array_get(json_object_get(m.json, "objects"), 0),
		    "date_added"));
		EXPECT(da != NULL && tstamp_parse(da, strlen(da), &us) == 0,
		    "%s", m.body);
		resp_free(&m);
		tstamp_format(us - 1, 6, ts);
		snprintf(before, sizeof(before),
		    SHARED "objects/?added_after=%s", ts);
	}
	/* something new erin sees: her poller's cursor moves past the
	 * objects she may not see yet */
	{
		struct buf b = BUF_INIT;
		char u[37];
		int fails;

		integ_uuid(u);
		buf_addf(&b,
		    "{\"objects\":[{\"type\":\"indicator\",\"spec_version\":"
		    "\"2.1\",\"id\":\"indicator--%s\",\"created\":"
		    "\"2024-01-01T00:00:00.000Z\",\"modified\":"
		    "\"2024-01-01T00:00:00.000Z\",\"name\":\"new\","
		    "\"pattern\":\"[ipv4-addr:value = '198.51.100.200']\","
		    "\"pattern_type\":\"stix\",\"valid_from\":"
		    "\"2024-01-01T00:00:00Z\",\"object_marking_refs\":"
		    "[\"%s\"]}]}",
		    u, marks[L_CLEAR]);
		EXPECT(
		    post(&alice, SHARED "objects/", &b, &fails) == 0, "post");
		buf_clear(&b);
	}
	EXPECT(erin_cursor(cursor, sizeof(cursor)) == 0, "no cursor");
	EXPECT(sees(&erin, ids[L_AMBER], why, whylen) == 0,
	    "erin sees AMBER before the change");
	if (policy_edit("alice.policy", "share amber with countries IN",
		"share amber with countries IN MX", 1, why, whylen) == -1)
		return -1;
	EXPECT(sees(&erin, ids[L_AMBER], why, whylen) == 1,
	    "erin does not see AMBER after the change");
	/* her poller, past those objects, gets them now, once */
	snprintf(p, sizeof(p), SHARED "objects/?added_after=%s", cursor);
	EXPECT(count_ids_last(&erin, p, ids[L_AMBER], last, sizeof(last)) == 1,
	    "the poller did not get the newly released AMBER object once");
	/* and not again from where that poll left off */
	snprintf(p, sizeof(p), SHARED "objects/?added_after=%s", last);
	EXPECT(last[0] != '\0' && count_ids(&erin, p, ids[L_AMBER]) == 0,
	    "the poller got the released AMBER object a second time");
	snprintf(p, sizeof(p), SHARED "objects/?added_after=%s", cursor);
	EXPECT(count_ids(&erin, p, ids[L_NONE]) == 1,
	    "the poller did not get the newly released unmarked object");
	EXPECT(count_ids(&erin, p, ids[L_CLEAR]) == 0,
	    "the poller got an object it already had");
	EXPECT(count_ids(&erin, p, rel_id) == 0,
	    "an object releasable to IN only reached MX");
	/* a fresh walk: once, and not again from where it left off */
	EXPECT(count_ids_last(&erin, SHARED "objects/", ids[L_AMBER], last,
		   sizeof(last)) == 1,
	    "a fresh walk does not get the AMBER object exactly once");
	snprintf(p, sizeof(p), SHARED "objects/?added_after=%s", last);
	EXPECT(count_ids(&erin, p, ids[L_AMBER]) == 0 &&
		count_ids(&erin, p, ids[L_NONE]) == 0,
	    "the poll after a fresh walk got a released object again");
	/* a poller that had not reached them yet: once, and not again */
	EXPECT(count_ids_last(
		   &erin, before, ids[L_AMBER], last, sizeof(last)) == 1,
	    "a poller before the objects does not get the AMBER object once");
	snprintf(p, sizeof(p), SHARED "objects/?added_after=%s", last);
	EXPECT(count_ids(&erin, p, ids[L_AMBER]) == 0,
	    "the poller before the objects got the AMBER object twice");
	/* bob had it all along: nothing new for him */
	snprintf(p, sizeof(p), SHARED "objects/?added_after=%s", cursor);
	if (count_ids(&readers[2].o, p, ids[L_AMBER]) != 0) {
		struct resp r;

		http("GET", p, &readers[2].o, &r);
		snprintf(why, whylen,
		    "bob got a release he did not need: %s %.2000s", p, r.body);
		resp_free(&r);
		return -1;
	}
	return 0;
}

static int
t_reload_broken(char *why, size_t whylen)
{
	struct opts erin = {.user = "erin" PW};

	EXPECT(load() == 0, "data");
	EXPECT(alice_edit("never members dave",
		   "never members dave\nshare red with countries ZZ",
		   "reload failed") == 0,
	    "the broken policy was not refused");
	EXPECT(log_count("alice.policy:") > 0,
	    "the error is not logged as file:line: message");
	/* the previous policy stays in force */
	EXPECT(sees(&erin, ids[L_AMBER], why, whylen) == 1,
	    "the previous policy was dropped");
	EXPECT(sees(&readers[6].o, ids[L_CLEAR], why, whylen) == 0,
	    "dave is no longer never-listed");
	/* mend it for the tests that follow, and let the reload finish */
	EXPECT(alice_edit("\nshare red with countries ZZ", "",
		   "configuration reloaded") == 0,
	    "the mended policy was not reloaded");
	return 0;
}

static int
t_directory(char *why, size_t whylen)
{
	struct opts erin = {.user = "erin" PW};
	struct resp r;
	json_t *o;
	size_t i;
	int found = 0, n;

	/* published at start; give the writer a moment */
	for (n = 0; n < 50; n++) {
		http("GET", "/api1/collections/directory/objects/", &erin, &r);
		if (json_array_size(json_object_get(r.json, "objects")) >= 10)
			break;
		resp_free(&r);
		usleep(100000);
	}
	EXPECT_CODE(&r, 200);
	json_array_foreach(json_object_get(r.json, "objects"), i, o)
	{
		const char *m =
		    json_string_value(json_object_get(o, "x_ctihub_member"));

		EXPECT(strcmp(json_string_value(json_object_get(o, "type")),
			   "identity") == 0,
		    "%s", r.body);
		if (m != NULL && strcmp(m, "erin") == 0) {
			found = 1;
			EXPECT(strcmp(json_string_value(json_object_get(
					  o, "x_ctihub_country")),
				   "MX") == 0,
			    "country");
			EXPECT(strstr(json_string_value(json_object_get(
					  o, "contact_information")),
				   "erin@mx.example") != NULL,
			    "contact");
		}
	}
	EXPECT(found, "no identity for erin: %s", r.body);
	resp_free(&r);
	/* read-only */
	{
		struct opts o2 = alice;

		o2.body = "{\"objects\":[]}";
		http("POST", "/api1/collections/directory/objects/", &o2, &r);
		EXPECT_CODE(&r, 403);
		resp_free(&r);
	}
	return 0;
}

/* The points-of-contact directory: a reload that lets a member see it
 * again reaches a poller past the identities, once; and a fresh walk,
 * once. */
static int
t_directory_release(char *why, size_t whylen)
{
	struct opts erin = {.user = "erin" PW};
	char p[512], last[64], cursor[64];
	int n, want;

	/* how many identities alice sees, and a cursor past them */
	want = count_ids_last(&alice, "/api1/collections/directory/objects/",
	    NULL, cursor, sizeof(cursor));
	EXPECT(want >= 7 && cursor[0] != '\0', "directory: %d", want);
	if (policy_edit("hub.policy", "share directory with community",
		"share directory with members alice", 0, why, whylen) == -1)
		return -1;
	n = count_ids_last(&erin, "/api1/collections/directory/objects/", NULL,
	    last, sizeof(last));
	EXPECT(n == 0, "erin still sees %d identities", n);
	if (policy_edit("hub.policy", "share directory with members alice",
		"share directory with community", 1, why, whylen) == -1)
		return -1;
	/* the poller past them: each identity once, then nothing */
	snprintf(p, sizeof(p),
	    "/api1/collections/directory/objects/?added_after=%s", cursor);
	n = count_ids_last(&erin, p, NULL, last, sizeof(last));
	EXPECT(n == want, "the poller got %d identities, want %d", n, want);
	snprintf(p, sizeof(p),
	    "/api1/collections/directory/objects/?added_after=%s", last);
	n = count_ids_last(&erin, p, NULL, last, sizeof(last));
	EXPECT(n == 0, "the poller got %d identities a second time", n);
	/* a fresh walk: each once, then nothing */
	n = count_ids_last(&erin, "/api1/collections/directory/objects/", NULL,
	    last, sizeof(last));
	EXPECT(n == want, "a fresh walk got %d identities, want %d", n, want);
	snprintf(p, sizeof(p),
	    "/api1/collections/directory/objects/?added_after=%s", last);
	n = count_ids_last(&erin, p, NULL, last, sizeof(last));
	EXPECT(
	    n == 0, "the poll after a fresh walk got %d identities again", n);
	return 0;
}

static int
t_audit(char *why, size_t whylen)
{
	char path[1024], line[65536];
	FILE *f;
	int publish = 0, receive = 0, policy = 0, denied = 0, release = 0;

	struct resp r;

	EXPECT(load() == 0, "data");
	/* a denied attempt: alice on bob's collection */
	http("GET",
	    "/api1/collections/8b1fa07e-6e8c-4cad-9c32-3b4c5d6e7f80/"
	    "objects/",
	    &alice, &r);
	EXPECT_CODE(&r, 404);
	resp_free(&r);
	sleep(2); /* flushed every second */
	snprintf(path, sizeof(path), "%s/state/audit.jsonl", env("HUB_DIR"));
	EXPECT((f = fopen(path, "r")) != NULL, "no audit log at %s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *j = json_loads(line, 0, NULL);
		const char *ev = json_string_value(json_object_get(j, "event"));

		EXPECT(
		    j != NULL && ev != NULL, "not a JSON line: %.200s", line);
		if (strcmp(ev, "publish") == 0 && strstr(line, ids[L_RED]))
			publish = 1;
		if (strcmp(ev, "receive") == 0 && strstr(line, ids[L_RED]) &&
		    strstr(line, "\"carol\""))
			receive = 1;
		if (strcmp(ev, "policy") == 0 &&
		    strstr(line, "alice.policy") != NULL &&
		    strstr(line, "\"sha256\":\"") != NULL)
			policy = 1;
		if (strcmp(ev, "denied") == 0)
			denied = 1;
		if (strcmp(ev, "release") == 0 && strstr(line, "\"erin\""))
			release = 1;
		json_decref(j);
	}
	fclose(f);
	EXPECT(publish, "no publish line with the RED object");
	EXPECT(receive, "no receive line of carol with the RED object");
	EXPECT(policy, "no policy line with file hashes");
	EXPECT(denied, "no denied line");
	EXPECT(release, "no release line for erin");
	return 0;
}

static int
run_cli(const char *args, char *out, size_t len)
{
	char cmd[2048];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "cd %s && %s/ctihub %s 2>&1", env("HUB_DIR"),
	    env("HUB_BIN"), args);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return WEXITSTATUS(pclose(p));
}

/* Issue #8: `never members carol` added to alice.policy, which still
 * grants carol AMBER, AMBER+STRICT and RED by name.  That was refused
 * ("unreachable"), and carol kept her access; now the reload is accepted,
 * each cancelled grant logged as a warning, and carol loses everything of
 * alice's at once. */
static int
t_reload_revokes(char *why, size_t whylen)
{
	static char out[65536];
	const struct opts *carol = &readers[3].o;
	const char *warning = "warning: unreachable: TLP:AMBER to member carol";
	int warned = log_count(warning);
	int l, rc;

	EXPECT(load() == 0, "data");
	EXPECT(sees(carol, ids[L_AMBER], why, whylen) == 1,
	    "carol does not see AMBER before the change");
	EXPECT(alice_edit("never members dave",
		   "never members dave\nnever members carol",
		   "configuration reloaded") == 0,
	    "the revoking edit was not loaded (%d reloads refused)",
	    log_count("reload failed"));
	EXPECT(log_count(warning) > warned,
	    "the reload did not log '%s' as file:line: warning: message",
	    warning);
	EXPECT(log_count("alice.policy:4: warning: unreachable") > 0,
	    "the warning does not name alice.policy:4");
	for (l = 0; l < NLEVELS; l++)
		EXPECT(sees(carol, ids[l], why, whylen) == 0,
		    "carol still sees the %s object after 'never members "
		    "carol'",
		    lname[l]);
	EXPECT(sees(&readers[2].o, ids[L_AMBER], why, whylen) == 1,
	    "bob lost AMBER too");
	/* the tools agree: warnings, and exit status 0 */
	rc = run_cli("policy check -c ctihub.conf", out, sizeof(out));
	EXPECT(rc == 0 && strstr(out, "alice.policy:4: warning: ") != NULL &&
		strstr(out, "policy OK: ") != NULL &&
		strstr(out, " files in policy (3 warnings)") != NULL,
	    "policy check: %d %s", rc, out);
	rc = run_cli("check -c ctihub.conf", out, sizeof(out));
	EXPECT(rc == 0 && strstr(out, "configuration OK") != NULL &&
		strstr(out, "(3 warnings)") != NULL,
	    "ctihub check: %d %s", rc, out);
	/* put it back for the tests that follow */
	EXPECT(alice_edit(
		   "\nnever members carol", "", "configuration reloaded") == 0,
	    "the policy was not reloaded");
	EXPECT(sees(carol, ids[L_AMBER], why, whylen) == 1,
	    "carol does not see AMBER again");
	return 0;
}

static int
t_policy_tools(char *why, size_t whylen)
{
	static char out[65536];
	char args[512];
	int rc;

	EXPECT(load() == 0, "data");
	rc = run_cli("policy check -c ctihub.conf", out, sizeof(out));
	EXPECT(rc == 0 && strstr(out, "policy OK") != NULL, "check: %d %s", rc,
	    out);
	EXPECT(system("cd $HUB_DIR && rm -rf badpol && cp -r policy badpol && "
		      "echo 'share amber with countries QQ' >>"
		      " badpol/alice.policy") == 0,
	    "copy");
	rc = run_cli("policy check badpol -c ctihub.conf", out, sizeof(out));
	EXPECT(rc != 0 && strstr(out, "alice.policy:") != NULL &&
		strstr(out, "QQ") != NULL,
	    "a broken policy: %d %s", rc, out);
	snprintf(args, sizeof(args),
	    "policy explain --object %s --to zane -c ctihub.conf",
	    ids[L_AMBER]);
	rc = run_cli(args, out, sizeof(out));
	EXPECT(rc == 0 && strstr(out, "alice.policy:") != NULL &&
		strstr(out, "visible") != NULL,
	    "explain: %d %s", rc, out);
	snprintf(args, sizeof(args),
	    "policy explain --object %s --to dave -c ctihub.conf",
	    ids[L_CLEAR]);
	rc = run_cli(args, out, sizeof(out));
	EXPECT(rc == 0 && strstr(out, "never") != NULL &&
		strstr(out, "not visible") != NULL,
	    "explain a never rule: %d %s", rc, out);
	EXPECT(system("cd $HUB_DIR && rm -rf widepol && cp -r policy widepol "
		      "&& sed -i 's/^share amber with countries IN MX$/share "
		      "amber with countries IN MX RU/' widepol/alice.policy && "
		      "sed -i 's/^share amber with members carol$/share amber "
		      "with members carol admin/' widepol/alice.policy") == 0,
	    "copy");
	rc = run_cli(
	    "policy diff policy widepol -c ctihub.conf", out, sizeof(out));
	EXPECT(rc == 0 && strstr(out, "admin") != NULL &&
		strstr(out, "gains") != NULL,
	    "diff: %d %s", rc, out);
	return 0;
}

const struct test sharing_tests[] = {
    {"policy: every TLP level x every reader x every read path, lookups "
     "and exports",
	t_matrix},
    {"policy: unauthenticated callers get 401 on every path",
	t_unauthenticated},
    {"policy: a releasability marking narrows the audience", t_releasability},
    {"policy: counts and date headers over visible objects only",
	t_counts_and_headers},
    {"policy: an edit that widens access reaches pollers past it",
	t_reload_widens},
    {"policy: a broken policy is refused, the old one stays", t_reload_broken},
    {"policy: a never rule beside the grant it cancels revokes on reload",
	t_reload_revokes},
    {"policy: points-of-contact directory", t_directory},
    {"policy: the directory released again reaches pollers once",
	t_directory_release},
    {"policy: audit log", t_audit},
    {"policy: check, explain and diff", t_policy_tools},
    {NULL, NULL},
};
