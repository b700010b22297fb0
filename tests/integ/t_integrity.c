/*
 * t_integrity.c -- sharing integrity over real TLS, as hostile members
 * (issue #8): each producer's objects, markings and limits belong to that
 * producer alone.  mallory (FR) attacks; victor (BR, AMBER to BRICS only),
 * trent (IN, keeps erin out) and alice are attacked.  After each attack
 * every member reads every path: nothing leaks, nothing of one producer is
 * altered or displaced by another, the owner keeps control, and what a
 * poster is told does not depend on what it may not see.  The contract
 * items (C1..C7) are those of the issue; side channels and delete are
 * tested elsewhere.  The members, their policies and the "integrity"
 * collection are written by run.sh.  Every request is on loopback with
 * curl's timeout, and every loop is bounded.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ctihub/buf.h"

#include "integ.h"

#define PW   ":integ-pass-1"
#define API  "/api1/collections/"
#define COLL "integrity" /* read any, write role publisher */

#define CREATED "2023-01-01T00:00:00.000Z" /* of every SDO here */
#define V1	"2024-01-01T00:00:00.000Z"
#define V2	"2024-03-01T00:00:00.000Z"
#define VLATER	"2024-06-01T00:00:00.000Z"
#define VEARLY	"2023-06-01T00:00:00.000Z"

#define M_CLEAR "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
#define M_GREEN "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
#define M_AMBER "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
#define M_RED	"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"

/* The custom type whose 32-bit FNV-1a equals that of "indicator". */
#define TWIN "xqr8tzad8o"

enum {
	VICTOR,
	MALLORY,
	TRENT,
	ALICE,
	BOB,
	ZANE,
	CAROL,
	DAVE,
	ERIN,
	ADMIN,
	NWHO
};

static struct who {
	const char *name;
	struct opts o;
} who[NWHO] = {
    {"victor", {.user = "victor" PW}},
    {"mallory", {.user = "mallory" PW}},
    {"trent", {.user = "trent" PW}},
    {"alice", {.user = "alice" PW}},
    {"bob", {.user = "bob" PW}},
    {"zane", {.user = "zane" PW}},
    {"carol", {0}},
    {"dave", {0}},
    {"erin", {.user = "erin" PW}},
    {"admin", {.user = "admin" PW}},
};

#define AS(k) (&who[k].o)

static void
who_init(void)
{
	who[CAROL].o.token = env("HUB_TOKEN_CAROL");
	who[DAVE].o.cert = env("HUB_CERT_DAVE");
	who[DAVE].o.key = env("HUB_KEY_DAVE");
}

/* --- building objects --- */

static void
newid(char *out, size_t len, const char *type)
{
	char u[37];

	integ_uuid(u);
	snprintf(out, len, "%s--%s", type, u);
}

/* Envelopes: open, separate, close. */
static void
env_open(struct buf *b)
{
	buf_reset(b);
	buf_adds(b, "{\"objects\":[");
}

static void
env_sep(struct buf *b)
{
	if (b->len > 0 && b->data[b->len - 1] != '[')
		buf_addc(b, ',');
}

static const char *
env_close(struct buf *b)
{
	buf_adds(b, "]}");
	return buf_cstr(b);
}

/* ",\"object_marking_refs\":[...]" for m1 and m2 (each may be NULL). */
static void
marks(char *out, size_t len, const char *m1, const char *m2)
{
	out[0] = '\0';
	if (m1 == NULL)
		return;
	if (m2 == NULL)
		snprintf(out, len, ",\"object_marking_refs\":[\"%s\"]", m1);
	else
		snprintf(out, len, ",\"object_marking_refs\":[\"%s\",\"%s\"]",
		    m1, m2);
}

/* An indicator version; `name` tells versions and authors apart. */
static void
indicator(struct buf *b, const char *id, const char *modified, const char *m1,
    const char *m2, const char *name)
{
	char extra[1024];
	int n;

	n = snprintf(extra, sizeof(extra),
	    ",\"name\":\"%s\",\"pattern\":\"[ipv4-addr:value = "
	    "'203.0.113.10']\",\"pattern_type\":\"stix\","
	    "\"valid_from\":\"2024-01-01T00:00:00Z\"",
	    name);
	marks(extra + n, sizeof(extra) - (size_t)n, m1, m2);
	integ_object(b, "indicator", id, CREATED, modified, extra);
}

/* An envelope of one indicator version (see indicator()). */
static const char *
ind1(struct buf *b, const char *id, const char *modified, const char *m1,
    const char *m2, const char *name)
{
	env_open(b);
	indicator(b, id, modified, m1, m2, name);
	return env_close(b);
}

/* A marking-definition: `body` is its definition members (with their
 * leading comma); `created` is its version. */
static void
mdef(struct buf *b, const char *id, const char *created, const char *body,
    const char *m1)
{
	char extra[2048];
	int n;

	n = snprintf(
	    extra, sizeof(extra), ",\"created\":\"%s\"%s", created, body);
	marks(extra + n, sizeof(extra) - (size_t)n, m1, NULL);
	integ_object(b, "marking-definition", id, NULL, NULL, extra);
}

#define TLP_BODY(level)                                                        \
	",\"definition_type\":\"tlp\",\"definition\":{\"tlp\":\"" level "\"}"

/* An ISA ACS 3.0 marking permitting the nationalities in `nats` (a JSON
 * list of GENC codes), as tests/unit/t_marking.c classifies them. */
static void
acs_body(char *out, size_t len, const char *created, const char *nats)
{
	snprintf(out, len,
	    ",\"extensions\":{\"extension-definition--3a65884d-005a-4290-"
	    "8335-cb2d778a83ce\":{\"extension_type\":\"property-extension\","
	    "\"identifier\":\"isa:guide.19001.ACS3-integrity\","
	    "\"create_date_time\":\"%s\","
	    "\"responsible_entity_custodian\":\"BRA.CERT\","
	    "\"policy_reference\":\"urn:isa:policy:acs:ns:v3.0?privdefault="
	    "deny&sharedefault=deny\",\"control_set\":{\"classification\":"
	    "\"U\",\"permitted_nationalities\":%s}}}",
	    created, nats);
}

/* The deterministic id of an ipv4-addr (STIX 2.1 3.4: UUIDv5 in the SCO
 * namespace, of the canonical {"value": ...}), on a fresh address. */
static void
new_ipv4(char *id, size_t idlen, char *value, size_t vlen)
{
	static const unsigned char ns[16] = {0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42,
	    0x5b, 0x12, 0x8a, 0x19, 0x07, 0xc7, 0xd5, 0xad, 0xb9, 0xb3};
	static int seq;
	unsigned char in[16 + 64], md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	int n;

	seq++;
	snprintf(value, vlen, "198.19.%d.%d", (seq >> 8) & 255, seq & 255);
	memcpy(in, ns, 16);
	n = snprintf((char *)in + 16, 64, "{\"value\":\"%s\"}", value);
	EVP_Digest(in, 16 + (size_t)n, md, &mdlen, EVP_sha1(), NULL);
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	snprintf(id, idlen,
	    "ipv4-addr--%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8],
	    md[9], md[10], md[11], md[12], md[13], md[14], md[15]);
}

static void
ipv4(struct buf *b, const char *id, const char *value, const char *m1,
    const char *more)
{
	char extra[512];
	int n;

	n = snprintf(extra, sizeof(extra), ",\"value\":\"%s\"%s", value, more);
	marks(extra + n, sizeof(extra) - (size_t)n, m1, NULL);
	integ_object(b, "ipv4-addr", id, NULL, NULL, extra);
}

/* --- posting --- */

/* What status `r` says of `id`: 1 refused (listed under failures), 0
 * stored (under successes), -1 not named at all; its message in msg. */
static int
outcome(const struct resp *r, const char *id, char *msg, size_t len)
{
	const char *lists[] = {"successes", "failures"};
	json_t *e;
	size_t i;
	int l;

	msg[0] = '\0';
	for (l = 1; l >= 0; l--)
		json_array_foreach(json_object_get(r->json, lists[l]), i, e)
		{
			if (strcmp(integ_jstr(e, "id"), id) != 0)
				continue;
			snprintf(msg, len, "%s", integ_jstr(e, "message"));
			return l;
		}
	return -1;
}

/* Posts envelope `body` as member k into collection `coll`; returns the
 * outcome for `id`, or -1 (with why) when the answer is no status that
 * names it.  The answer stays in r (the caller frees it). */
static int
attempt(int k, const char *coll, const char *body, const char *id,
    struct resp *r, char *msg, size_t msglen, char *why, size_t whylen)
{
	char path[256];
	int rc;

	snprintf(path, sizeof(path), API "%s/objects/", coll);
	if (integ_post(AS(k), path, body, r) != 0) {
		snprintf(why, whylen, "%s posting %s to %s: %s", who[k].name,
		    id, coll, r->ctype);
		return -1;
	}
	rc = r->code == 202 ? outcome(r, id, msg, msglen) : -1;
	if (rc < 0)
		snprintf(why, whylen,
		    "%s posting %s to %s: no status naming it: %ld %.300s",
		    who[k].name, id, coll, r->code, r->body ? r->body : "");
	return rc;
}

/* As attempt, for a post that must be stored (the owner's own). */
static int
publish(int k, const char *coll, const char *body, const char *id,
    struct resp *r, char *why, size_t whylen)
{
	char msg[1024];
	int rc = attempt(k, coll, body, id, r, msg, sizeof(msg), why, whylen);

	if (rc == 1)
		snprintf(why, whylen,
		    "%s could not publish its own %s in %s: %s", who[k].name,
		    id, coll, msg);
	return rc == 0 ? 0 : -1;
}

/* An attack whose answer this test does not judge (the ownership tests
 * do): posted, the answer dropped. */
static void
try_post(int k, const char *coll, const char *body, const char *id)
{
	struct resp r;
	char msg[1024], why[512];

	attempt(k, coll, body, id, &r, msg, sizeof(msg), why, sizeof(why));
	resp_free(&r);
}

/* Publishes, keeps nothing of the answer. */
static int
put(int k, const char *coll, const char *body, const char *id, char *why,
    size_t whylen)
{
	struct resp r;
	int rc = publish(k, coll, body, id, &r, why, whylen);

	resp_free(&r);
	return rc;
}

/* A post that must be refused: 0 when it was (its message in msg); -1
 * with why naming the defect when it was not. */
static int
refused(int k, const char *coll, const char *body, const char *id,
    const char *what, char *msg, size_t msglen, char *why, size_t whylen)
{
	struct resp r;
	int rc = attempt(k, coll, body, id, &r, msg, msglen, why, whylen);

	resp_free(&r);
	if (rc == 0)
		snprintf(why, whylen,
		    "%s's %s into %s was accepted (%s): an id belongs to its "
		    "first producer, another member's post of it must be "
		    "refused",
		    who[k].name, what, coll,
		    msg[0] ? msg : "stored, no message");
	else if (rc == 1 && msg[0] == '\0') {
		snprintf(why, whylen,
		    "%s's %s into %s was refused without a message",
		    who[k].name, what, coll);
		rc = -1;
	}
	return rc == 1 ? 0 : -1;
}

/* Replaces every `from` in s (of size cap) by `to`. */
static void
replace_all(char *s, size_t cap, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to);
	char *p = s;

	if (fl == 0)
		return;
	while ((p = strstr(p, from)) != NULL) {
		if (strlen(s) - fl + tl + 1 > cap)
			return;
		memmove(p + tl, p + fl, strlen(p + fl) + 1);
		memcpy(p, to, tl);
		p += tl;
	}
}

/*
 * The status resource of a one-object post without what differs from any
 * post to the next (the status id, the request time, the object's own id
 * and its version; every version when `version` is NULL): what must be
 * the same whatever hidden object shares the id.
 */
static void
shape(const struct resp *r, const char *id, const char *version, char *out,
    size_t len)
{
	const char *lists[] = {"successes", "failures"};
	char msg[1024];
	json_t *c, *e;
	size_t i;
	char *d;
	int l;

	if (r->json == NULL) {
		snprintf(
		    out, len, "%ld %.300s", r->code, r->body ? r->body : "");
		return;
	}
	c = json_deep_copy(r->json);
	json_object_del(c, "id");
	json_object_del(c, "request_timestamp");
	for (l = 0; l < 2; l++)
		json_array_foreach(json_object_get(c, lists[l]), i, e)
		{
			if (strcmp(integ_jstr(e, "id"), id) == 0)
				json_object_set_new(
				    e, "id", json_string("<id>"));
			if (version == NULL ||
			    strcmp(integ_jstr(e, "version"), version) == 0)
				json_object_set_new(
				    e, "version", json_string("<version>"));
			if (json_object_get(e, "message") == NULL)
				continue;
			snprintf(
			    msg, sizeof(msg), "%s", integ_jstr(e, "message"));
			replace_all(msg, sizeof(msg), id, "<id>");
			if (version != NULL)
				replace_all(
				    msg, sizeof(msg), version, "<version>");
			json_object_set_new(e, "message", json_string(msg));
		}
	d = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
	snprintf(out, len, "%s", d ? d : "?");
	free(d);
	json_decref(c);
}

/* --- reading --- */

/*
 * Appends to `out` what member `o` gets at `path`: the status code and the
 * members of `key` ("objects" or "versions") whose id is `id` (every one
 * when id is NULL), canonical, over at most 20 pages.  Returns how many
 * were there, plus one for an object path (`idpath`) that is no 404.
 */
static int
collect(const struct opts *o, const char *path, const char *key, const char *id,
    int idpath, struct buf *out)
{
	struct resp r;
	char p[2048], next[1024] = "";
	json_t *e;
	size_t i;
	int page, n = 0, more;

	buf_addf(out, "%s:", path);
	for (page = 0; page < 20; page++) {
		snprintf(p, sizeof(p), "%s%s%s", path,
		    next[0] == '\0'	    ? ""
			: strchr(path, '?') ? "&next="
					    : "?next=",
		    next);
		http("GET", p, o, &r);
		if (page == 0) {
			buf_addf(out, " %ld", r.code);
			if (idpath && r.code != 404)
				n++;
		}
		if (r.code != 200) {
			resp_free(&r);
			break;
		}
		json_array_foreach(json_object_get(r.json, key), i, e)
		{
			char *d;

			if (id != NULL && strcmp(integ_jstr(e, "id"), id) != 0)
				continue;
			d = json_dumps(
			    e, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
			buf_addf(out, " %s", d ? d : "?");
			free(d);
			n++;
		}
		more = json_is_true(json_object_get(r.json, "more")) &&
		    json_is_string(json_object_get(r.json, "next"));
		snprintf(next, sizeof(next), "%s", integ_jstr(r.json, "next"));
		resp_free(&r);
		if (!more)
			break;
	}
	buf_addc(out, '\n');
	return n;
}

/*
 * Everything member `o` gets of object `id` in collection `coll`, on every
 * read path, one line a path: objects with match[id] and each version
 * filter and spec_version, the object and its versions, the manifest, and
 * the collection walked with match[type], added_after (when `after` is
 * not NULL) and no filter.  Returns how much of it there was (0: nothing
 * on any path); `where` gets the first path that had something.
 */
static int
view_of(const struct opts *o, const char *coll, const char *id,
    const char *after, struct buf *out, char *where, size_t wlen)
{
	static const char *const byid[] = {"", "&match%5Bversion%5D=all",
	    "&match%5Bversion%5D=first", "&match%5Bversion%5D=last",
	    "&match%5Bspec_version%5D=2.1&match%5Bversion%5D=all"};
	char p[1024], type[128];
	const char *dash = strstr(id, "--");
	size_t i, mark;
	int n = 0, got;

	snprintf(type, sizeof(type), "%.*s",
	    (int)(dash ? (size_t)(dash - id) : strlen(id)), id);
	if (where != NULL)
		where[0] = '\0';
#define LOOK(key, filter, idpath)                                              \
	do {                                                                   \
		mark = out->len;                                               \
		got = collect(o, p, key, filter, idpath, out);                 \
		if (got > 0 && n == 0 && where != NULL)                        \
			snprintf(where, wlen, "%.*s", (int)(out->len - mark),  \
			    out->data + mark);                                 \
		n += got;                                                      \
	} while (0)
	for (i = 0; i < sizeof(byid) / sizeof(byid[0]); i++) {
		snprintf(p, sizeof(p), API "%s/objects/?match%%5Bid%%5D=%s%s",
		    coll, id, byid[i]);
		LOOK("objects", NULL, 0);
	}
	snprintf(p, sizeof(p), API "%s/objects/%s/", coll, id);
	LOOK("objects", NULL, 1);
	snprintf(p, sizeof(p), API "%s/objects/%s/?match%%5Bversion%%5D=all",
	    coll, id);
	LOOK("objects", NULL, 1);
	snprintf(p, sizeof(p), API "%s/objects/%s/versions/", coll, id);
	LOOK("versions", NULL, 1);
	snprintf(p, sizeof(p),
	    API "%s/manifest/?match%%5Bid%%5D=%s&match%%5Bversion%%5D=all",
	    coll, id);
	LOOK("objects", NULL, 0);
	snprintf(p, sizeof(p),
	    API "%s/objects/?match%%5Btype%%5D=%s&match%%5Bversion%%5D=all",
	    coll, type);
	LOOK("objects", id, 0);
	if (after != NULL) {
		snprintf(p, sizeof(p),
		    API "%s/objects/?added_after=%s&match%%5Bversion%%5D=all",
		    coll, after);
		LOOK("objects", id, 0);
	}
	snprintf(p, sizeof(p), API "%s/objects/", coll);
	LOOK("objects", id, 0);
	snprintf(p, sizeof(p), API "%s/manifest/", coll);
	LOOK("objects", id, 0);
#undef LOOK
	return n;
}

/* What every member gets of one object: taken before an attack and
 * after, it must not change. */
struct snap {
	struct buf v[NWHO];
	int n[NWHO]; /* how much of it each member gets */
};

static struct snap snap0, snap1; /* before the attacks, after */

static void
snap_take(struct snap *s, const char *coll, const char *id, const char *from)
{
	int k;

	for (k = 0; k < NWHO; k++) {
		buf_reset(&s->v[k]);
		s->n[k] = view_of(AS(k), coll, id, from, &s->v[k], NULL, 0);
		buf_cstr(&s->v[k]);
	}
}

/* The first line where a and b differ, into la and lb. */
static void
first_diff(const char *a, const char *b, char *la, char *lb, size_t len)
{
	const char *ea, *eb;

	for (;;) {
		ea = strchr(a, '\n');
		eb = strchr(b, '\n');
		if (ea == NULL || eb == NULL || ea - a != eb - b ||
		    memcmp(a, b, (size_t)(ea - a)) != 0)
			break;
		a = ea + 1;
		b = eb + 1;
	}
	snprintf(la, len, "%.*s", (int)(ea ? ea - a : (long)strlen(a)), a);
	snprintf(lb, len, "%.*s", (int)(eb ? eb - b : (long)strlen(b)), b);
}

/* 0 when every member reads the same before and after what was done
 * `by` someone; else -1 and why says who sees what change, on which path. */
static int
snap_same(const struct snap *s0, const struct snap *s1, const char *id,
    const char *by, char *why, size_t whylen)
{
	char la[700], lb[700];
	int k;

	for (k = 0; k < NWHO; k++) {
		if (strcmp(s0->v[k].data, s1->v[k].data) == 0)
			continue;
		first_diff(s0->v[k].data, s1->v[k].data, la, lb, sizeof(la));
		snprintf(why, whylen,
		    "%s changed %s for %s:\n  before: %.600s\n  after:  %.600s",
		    by, id, who[k].name, la, lb);
		return -1;
	}
	return 0;
}

/* 0 when member k gets nothing at all of `id` in `coll` on any path; else
 * -1 and why (`what` says what it is). */
static int
nothing(int k, const char *coll, const char *id, const char *what, char *why,
    size_t whylen)
{
	struct buf b = BUF_INIT;
	char where[1024];
	int n = view_of(AS(k), coll, id, NULL, &b, where, sizeof(where));

	buf_clear(&b);
	if (n == 0)
		return 0;
	snprintf(why, whylen, "%s gets %s (%s) in %s: %.240s", who[k].name,
	    what, id, coll, where);
	return -1;
}

/* nothing() for each member of ks (n of them; NULL: every member). */
static int
none_of(const int *ks, size_t n, const char *coll, const char *id,
    const char *what, char *why, size_t whylen)
{
	size_t i;

	for (i = 0; i < (ks != NULL ? n : (size_t)NWHO); i++)
		if (nothing(ks != NULL ? ks[i] : (int)i, coll, id, what, why,
			whylen) == -1)
			return -1;
	return 0;
}

/* 1 when member k sees `id` in `coll` (every path agreeing), 0 when not;
 * -1 with why when the paths disagree. */
static int
sees(int k, const char *coll, const char *id, char *why, size_t whylen)
{
	char path[256];

	snprintf(path, sizeof(path), API "%s/", coll);
	return integ_sees(AS(k), path, id, why, whylen);
}

/* The objects member k gets at path (0 for a 404; -1 for anything else
 * but a 200); *first gets the first one's "name" or "value". */
static int
nobjs(int k, const char *path, char *first, size_t flen)
{
	struct resp r;
	json_t *o;
	int n;

	http("GET", path, AS(k), &r);
	n = r.code == 200
	    ? (int)json_array_size(json_object_get(r.json, "objects"))
	    : r.code == 404 ? 0
			    : -1;
	if (first != NULL) {
		o = json_array_get(json_object_get(r.json, "objects"), 0);
		snprintf(first, flen, "%s",
		    json_object_get(o, "name") ? integ_jstr(o, "name")
					       : integ_jstr(o, "value"));
	}
	resp_free(&r);
	return n;
}

static char snap_from[64]; /* added_after of both snapshots */

/* Posts the owner's first version and takes the snapshot of every member,
 * with added_after the time of that request (before it was added). */
static int
owned(int owner, const char *coll, const char *body, const char *id, char *why,
    size_t whylen)
{
	struct resp r;

	if (publish(owner, coll, body, id, &r, why, whylen) == -1) {
		resp_free(&r);
		return -1;
	}
	snprintf(snap_from, sizeof(snap_from), "%s",
	    integ_jstr(r.json, "request_timestamp"));
	resp_free(&r);
	snap_take(&snap0, coll, id, snap_from[0] ? snap_from : NULL);
	if (snap0.n[owner] == 0) {
		snprintf(why, whylen, "%s does not see its own %s",
		    who[owner].name, id);
		return -1;
	}
	return 0;
}

/* After the attacks: every member reads what it read before. */
static int
unchanged(
    const char *coll, const char *id, const char *by, char *why, size_t whylen)
{
	snap_take(&snap1, coll, id, snap_from[0] ? snap_from : NULL);
	return snap_same(&snap0, &snap1, id, by, why, whylen);
}

static int inited;

static void
init(void)
{
	if (!inited)
		who_init();
	inited = 1;
}

/* --- C1 ownership --- */

/* One post by mallory of victor's indicator: which version, victor's very
 * bytes or hers, into which collection. */
struct attack {
	const char *modified;
	int victors_bytes;
	const char *coll;
	const char *what;
};

/* Victor publishes an indicator (TLP:CLEAR: mallory sees what she
 * attacks); each attack is refused, every member reads the same as
 * before, and nothing of it is in the other collections. */
static int
attacks_refused(const struct attack *a, size_t n, const char *what, char *why,
    size_t whylen)
{
	struct buf b = BUF_INIT, mine = BUF_INIT;
	char id[80], msg[1024];
	size_t i;

	init();
	newid(id, sizeof(id), "indicator");
	ind1(&mine, id, V1, M_CLEAR, NULL, "victor v1");
	if (owned(VICTOR, COLL, buf_cstr(&mine), id, why, whylen) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (refused(MALLORY, a[i].coll,
			a[i].victors_bytes
			    ? buf_cstr(&mine)
			    : ind1(&b, id, a[i].modified, M_CLEAR, NULL,
				  "mallory was here"),
			id, a[i].what, msg, sizeof(msg), why, whylen) == -1)
			return -1;
	buf_clear(&b);
	buf_clear(&mine);
	if (unchanged(COLL, id, what, why, whylen) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(a[i].coll, COLL) != 0 &&
		    none_of(NULL, 0, a[i].coll, id,
			"victor's indicator, posted there by mallory", why,
			whylen) == -1)
			return -1;
	return 0;
}

static int
t_owner_later(char *why, size_t whylen)
{
	static const struct attack a[] = {
	    {VLATER, 0, COLL, "later version of victor's indicator"},
	    {VLATER, 0, "any", "later version of victor's indicator"},
	    {VLATER, 0, "shared", "later version of victor's indicator"},
	};

	return attacks_refused(a, sizeof(a) / sizeof(a[0]),
	    "mallory's later version", why, whylen);
}

static int
t_owner_same(char *why, size_t whylen)
{
	static const struct attack a[] = {
	    {V1, 1, COLL,
		"re-post of victor's indicator (same modified, identical "
		"bytes)"},
	    {V1, 1, "any",
		"re-post of victor's indicator (same modified, identical "
		"bytes)"},
	    {V1, 0, COLL,
		"post of victor's indicator (same modified, other bytes)"},
	};

	return attacks_refused(a, sizeof(a) / sizeof(a[0]),
	    "mallory's post of the same version", why, whylen);
}

static int
t_owner_earlier(char *why, size_t whylen)
{
	static const struct attack a[] = {
	    {VEARLY, 0, COLL, "earlier version of victor's indicator"},
	};

	return attacks_refused(a, sizeof(a) / sizeof(a[0]),
	    "mallory's earlier version", why, whylen);
}

/* Every kind of object but SCOs is owned: SDOs, SROs, marking
 * definitions, custom objects. */
static int
t_owner_types(char *why, size_t whylen)
{
	enum { MAL, IDN, REL, MDEF, CUST, NT };
	static const char *const types[NT] = {"malware", "identity",
	    "relationship", "marking-definition", "x-victor-note"};
	char ids[NT][80], extra[512], msg[1024], what[128];
	struct buf b = BUF_INIT;
	int i, pass;

	init();
	for (i = 0; i < NT; i++)
		newid(ids[i], sizeof(ids[i]), types[i]);
	for (i = 0; i < NT; i++) {
		/* pass 0: victor's, then pass 1: mallory's later version */
		for (pass = 0; pass < 2; pass++) {
			const char *mod = pass ? VLATER : V1;
			const char *who_ = pass ? "mallory" : "victor";

			env_open(&b);
			switch (i) {
			case MAL:
				snprintf(extra, sizeof(extra),
				    ",\"name\":\"%s\",\"is_family\":false,"
				    "\"object_marking_refs\":[\"" M_CLEAR "\"]",
				    who_);
				break;
			case IDN:
				snprintf(extra, sizeof(extra),
				    ",\"name\":\"%s\",\"identity_class\":"
				    "\"organization\",\"object_marking_refs\":"
				    "[\"" M_GREEN "\"]",
				    who_);
				break;
			case REL:
				snprintf(extra, sizeof(extra),
				    ",\"relationship_type\":\"attributed-to\","
				    "\"source_ref\":\"%s\",\"target_ref\":"
				    "\"%s\",\"description\":\"%s\","
				    "\"object_marking_refs\":[\"" M_CLEAR "\"]",
				    ids[MAL], ids[IDN], who_);
				break;
			case CUST:
				snprintf(extra, sizeof(extra),
				    ",\"x_text\":\"%s\","
				    "\"object_marking_refs\":[\"" M_CLEAR "\"]",
				    who_);
				break;
			}
			if (i == MDEF) {
				snprintf(extra, sizeof(extra),
				    ",\"definition_type\":\"statement\","
				    "\"definition\":{\"statement\":\"(c) %s\"}",
				    who_);
				mdef(&b, ids[i], mod, extra, NULL);
			} else
				integ_object(
				    &b, types[i], ids[i], CREATED, mod, extra);
			env_close(&b);
			if (pass == 0) {
				if (owned(VICTOR, COLL, buf_cstr(&b), ids[i],
					why, whylen) == -1)
					return -1;
				continue;
			}
			snprintf(what, sizeof(what), "later version of %s's %s",
			    "victor", types[i]);
			if (refused(MALLORY, COLL, buf_cstr(&b), ids[i], what,
				msg, sizeof(msg), why, whylen) == -1 ||
			    unchanged(COLL, ids[i], what, why, whylen) == -1)
				return -1;
		}
	}
	buf_clear(&b);
	return 0;
}

/*
 * The answer to a refused post is one answer: the same whatever the TLP
 * of the object already there, its versions, its producer, and whether
 * the poster may see it; and the same for a later, the same (identical
 * or not) and an earlier version.  Otherwise the answer tells what the
 * poster may not see.
 */
static int
t_owner_one_answer(char *why, size_t whylen)
{
	static const struct {
		int owner;
		const char *mark;
		int versions;
		const char *what;
	} held[] = {
	    {VICTOR, M_RED, 1, "victor's hidden TLP:RED indicator"},
	    {VICTOR, M_CLEAR, 1, "victor's visible TLP:CLEAR indicator"},
	    {VICTOR, M_CLEAR, 3, "victor's TLP:CLEAR indicator, 3 versions"},
	    {VICTOR, M_AMBER, 3, "victor's hidden AMBER indicator, 3 versions"},
	    {ALICE, M_GREEN, 1, "alice's visible TLP:GREEN indicator"},
	    {TRENT, M_RED, 2, "trent's hidden TLP:RED indicator, 2 versions"},
	};
	static const char *const vnames[] = {"2024-01-01T00:00:00.000Z",
	    "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"};
	struct buf b = BUF_INIT, last = BUF_INIT;
	char id[80], first[4096], got[4096], firstwhat[256], what[256];
	char msg[1024], stat[4096], path[256], accepted[1536] = "";
	struct resp r, s;
	size_t h;
	int v, rc, attack;

	init();
	first[0] = '\0';
	for (h = 0; h < sizeof(held) / sizeof(held[0]); h++) {
		newid(id, sizeof(id), "indicator");
		for (v = 0; v < held[h].versions; v++) {
			env_open(&last);
			indicator(&last, id, vnames[v], held[h].mark, NULL,
			    "the owner's");
			env_close(&last);
			if (put(held[h].owner, COLL, buf_cstr(&last), id, why,
				whylen) == -1)
				return -1;
		}
		for (attack = 0; attack < 4; attack++) {
			static const char *const anames[] = {"a later version",
			    "the same version, identical bytes",
			    "the same version, other bytes",
			    "an earlier version"};

			env_open(&b);
			if (attack == 0)
				indicator(&b, id, VLATER, M_CLEAR, NULL,
				    "mallory was here");
			else if (attack == 2)
				indicator(&b, id, vnames[held[h].versions - 1],
				    M_CLEAR, NULL, "mallory was here");
			else if (attack == 3)
				indicator(&b, id, VEARLY, M_CLEAR, NULL,
				    "mallory was here");
			env_close(&b);
			rc = attempt(MALLORY, COLL,
			    attack == 1 ? buf_cstr(&last) : buf_cstr(&b), id,
			    &r, msg, sizeof(msg), why, whylen);
			if (rc == -1) {
				resp_free(&r);
				return -1;
			}
			shape(&r, id,
			    attack == 0	      ? VLATER
				: attack == 3 ? VEARLY
					      : vnames[held[h].versions - 1],
			    got, sizeof(got));
			snprintf(what, sizeof(what), "%s of %s", anames[attack],
			    held[h].what);
			if (first[0] == '\0') {
				snprintf(first, sizeof(first), "%s", got);
				snprintf(
				    firstwhat, sizeof(firstwhat), "%s", what);
				/* the status resource says the same again */
				snprintf(path, sizeof(path), "/api1/status/%s/",
				    integ_jstr(r.json, "id"));
				http("GET", path, AS(MALLORY), &s);
				shape(&s, id, VLATER, stat, sizeof(stat));
				resp_free(&s);
				EXPECT(strcmp(first, stat) == 0,
				    "mallory's status resource differs from "
				    "the answer to her post:\n  %.700s\n  "
				    "%.700s",
				    first, stat);
			}
			resp_free(&r);
			EXPECT(strcmp(first, got) == 0,
			    "mallory gets another answer for %s than for %s: "
			    "the answer tells what she may not see\n  %s: "
			    "%.700s\n  %s: %.700s",
			    what, firstwhat, firstwhat, first, what, got);
			if (rc == 0 && accepted[0] == '\0')
				snprintf(accepted, sizeof(accepted), "%s (%s)",
				    what, msg[0] ? msg : "no message");
		}
	}
	buf_clear(&b);
	buf_clear(&last);
	/* one answer, and the right one */
	EXPECT(accepted[0] == '\0',
	    "mallory's post of %s was accepted: an id belongs to its first "
	    "producer",
	    accepted);
	return 0;
}

/* After every kind of attack the owner still adds versions and deletes
 * its object, and every member reads the owner's latest. */
static int
t_owner_keeps_control(char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	char id[80], name[128], p[512];
	const char *first;
	struct resp r;
	json_t *v;
	int k, n;

	init();
	newid(id, sizeof(id), "indicator");
	if (put(VICTOR, COLL, ind1(&b, id, V1, M_CLEAR, NULL, "victor v1"), id,
		why, whylen) == -1)
		return -1;
	env_open(&b);
	indicator(&b, id, VLATER, M_CLEAR, NULL, "mallory was here");
	env_sep(&b);
	indicator(&b, id, VEARLY, M_CLEAR, NULL, "mallory was here");
	env_sep(&b);
	indicator(&b, id, V1, M_CLEAR, NULL, "mallory was here");
	try_post(MALLORY, COLL, env_close(&b), id);
	if (put(VICTOR, COLL, ind1(&b, id, V2, M_CLEAR, NULL, "victor v2"), id,
		why, whylen) == -1)
		return -1;
	buf_clear(&b);
	for (k = 0; k < NWHO; k++) {
		snprintf(p, sizeof(p), API COLL "/objects/%s/", id);
		n = nobjs(k, p, name, sizeof(name));
		EXPECT(n == 1 && strcmp(name, "victor v2") == 0,
		    "after mallory's attacks %s gets %d object(s) for victor's "
		    "%s, the latest named '%s', not victor's new version "
		    "'victor v2'",
		    who[k].name, n, id, name);
	}
	snprintf(p, sizeof(p), API COLL "/objects/%s/versions/", id);
	http("GET", p, AS(VICTOR), &r);
	v = json_object_get(r.json, "versions");
	first = json_string_value(json_array_get(v, 0));
	EXPECT(json_array_size(v) == 2 && first != NULL &&
		strncmp(first, V1, 10) == 0,
	    "victor's versions of %s are not his two: %.500s", id,
	    r.body ? r.body : "");
	resp_free(&r);
	snprintf(
	    p, sizeof(p), API COLL "/objects/%s/?match%%5Bversion%%5D=all", id);
	http("DELETE", p, AS(VICTOR), &r);
	EXPECT(r.code == 200,
	    "victor cannot delete his own %s after mallory's attacks: %ld "
	    "%.300s",
	    id, r.code, r.body ? r.body : "");
	resp_free(&r);
	for (k = 0; k < NWHO; k++)
		if (nothing(k, COLL, id, "victor's deleted indicator", why,
			whylen) == -1)
			return -1;
	return 0;
}

/* --- C2 the full type in identity --- */

static int
twin_attack(const char *vmod, const char *mmod, char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	char id[80], twin[80], msg[1024], p[512];
	struct resp r;
	json_t *o;
	size_t i;
	int k, rc, n;

	newid(id, sizeof(id), "indicator");
	snprintf(twin, sizeof(twin), TWIN "%s", strstr(id, "--"));
	if (owned(VICTOR, COLL, ind1(&b, id, vmod, M_CLEAR, NULL, "victor's"),
		id, why, whylen) == -1)
		return -1;
	env_open(&b);
	integ_object(&b, TWIN, twin, CREATED, mmod,
	    ",\"object_marking_refs\":[\"" M_CLEAR "\"]");
	rc = attempt(MALLORY, COLL, env_close(&b), twin, &r, msg, sizeof(msg),
	    why, whylen);
	resp_free(&r);
	buf_clear(&b);
	if (rc == -1)
		return -1;
	/* first the plainest symptom: the indicator's own path */
	snprintf(
	    p, sizeof(p), API COLL "/objects/%s/?match%%5Bversion%%5D=all", id);
	http("GET", p, AS(VICTOR), &r);
	json_array_foreach(json_object_get(r.json, "objects"), i, o)
	    EXPECT(strcmp(integ_jstr(o, "id"), id) == 0,
		"GET objects/%s/ gives victor mallory's %s: the type is not "
		"part of the identity (\"indicator\" and \"" TWIN "\" share "
		"their 32-bit FNV-1a)",
		id, integ_jstr(o, "id"));
	resp_free(&r);
	if (unchanged(COLL, id, "mallory's " TWIN " object with its UUID", why,
		whylen) == -1)
		return -1;
	EXPECT(rc == 0 && strstr(msg, "already") == NULL,
	    "mallory's new object %s was %s (%s): taken for victor's %s", twin,
	    rc ? "refused" : "accepted", msg[0] ? msg : "no message", id);
	for (k = 0; k < NWHO; k++) {
		snprintf(p, sizeof(p), API COLL "/objects/%s/", twin);
		http("GET", p, AS(k), &r);
		n = (int)json_array_size(json_object_get(r.json, "objects"));
		o = json_array_get(json_object_get(r.json, "objects"), 0);
		EXPECT(n == 1 && strcmp(integ_jstr(o, "id"), twin) == 0,
		    "GET objects/%s/ as %s: %ld, %d object(s), the first %s; "
		    "want mallory's object only",
		    twin, who[k].name, r.code, n,
		    n ? integ_jstr(o, "id") : "none");
		resp_free(&r);
	}
	/* the type filters tell the two apart */
	snprintf(p, sizeof(p),
	    API COLL "/objects/?match%%5Btype%%5D=" TWIN
		     "&match%%5Bversion%%5D=all");
	http("GET", p, AS(VICTOR), &r);
	json_array_foreach(json_object_get(r.json, "objects"), i, o)
	    EXPECT(strcmp(integ_jstr(o, "type"), TWIN) == 0,
		"match[type]=" TWIN " gives victor a %s (%s)",
		integ_jstr(o, "type"), integ_jstr(o, "id"));
	resp_free(&r);
	snprintf(p, sizeof(p),
	    API COLL "/objects/?match%%5Btype%%5D=indicator"
		     "&match%%5Bversion%%5D=all");
	http("GET", p, AS(BOB), &r);
	json_array_foreach(json_object_get(r.json, "objects"), i, o)
	    EXPECT(strcmp(integ_jstr(o, "type"), "indicator") == 0,
		"match[type]=indicator gives bob a %s (%s)",
		integ_jstr(o, "type"), integ_jstr(o, "id"));
	resp_free(&r);
	return 0;
}

static int
t_type_in_identity(char *why, size_t whylen)
{
	init();
	/* a later modified would displace victor's indicator; the same one
	 * would be swallowed as a duplicate of it */
	if (twin_attack(V1, VLATER, why, whylen) == -1)
		return -1;
	return twin_attack(V1, V1, why, whylen);
}

/* --- C3 markings per producer --- */

/* Every member but victor. */
static const int others[] = {
    MALLORY, TRENT, ALICE, BOB, ZANE, CAROL, DAVE, ERIN, ADMIN};
#define NOTHERS (sizeof(others) / sizeof(others[0]))

/* Readers that victor's policy does not give AMBER: no BRICS country. */
static const int outside[] = {MALLORY, ERIN, DAVE, CAROL};
#define NOUTSIDE (sizeof(outside) / sizeof(outside[0]))

/* An envelope of one marking-definition (see mdef()). */
static const char *
mdef1(struct buf *b, const char *id, const char *created, const char *body,
    const char *m1)
{
	env_open(b);
	mdef(b, id, created, body, m1);
	return env_close(b);
}

/* A marking-definition of victor's and an indicator marked with it (and
 * with m2) in one envelope. */
static int
marked_pair(struct buf *b, const char *mid, const char *body, const char *ind,
    const char *m2, char *why, size_t whylen)
{
	env_open(b);
	mdef(b, mid, V1, body, NULL);
	env_sep(b);
	indicator(b, ind, V1, m2 ? m2 : mid, m2 ? mid : NULL, "victor's");
	return put(VICTOR, COLL, env_close(b), ind, why, whylen);
}

static int
t_marking_own_definition(char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	char m[80], m2[80], i1[80], i2[80], what[256];

	init();
	newid(m, sizeof(m), "marking-definition");
	newid(m2, sizeof(m2), "marking-definition");
	newid(i1, sizeof(i1), "indicator");
	newid(i2, sizeof(i2), "indicator");
	/* victor's own TLP:RED definition and an indicator marked with it */
	if (marked_pair(&b, m, TLP_BODY("red"), i1, NULL, why, whylen) == -1 ||
	    none_of(others, NOTHERS, COLL, i1,
		"victor's indicator marked with his own TLP:RED definition",
		why, whylen) == -1)
		return -1;
	/* mallory redefines victor's id as white (C1 refuses it; asserted
	 * in the ownership tests) and defines her own white marking */
	try_post(
	    MALLORY, COLL, mdef1(&b, m, VLATER, TLP_BODY("white"), NULL), m);
	try_post(MALLORY, COLL, mdef1(&b, m2, V1, TLP_BODY("white"), NULL), m2);
	/* victor's next indicator marked with his definition: still RED */
	if (put(VICTOR, COLL, ind1(&b, i2, V1, m, NULL, "victor's, later"), i2,
		why, whylen) == -1)
		return -1;
	buf_clear(&b);
	snprintf(what, sizeof(what),
	    "victor's indicator marked with his own TLP:RED definition %s, "
	    "after mallory re-posted that id as white (the marking was "
	    "resolved from another producer's definition)",
	    m);
	if (none_of(others, NOTHERS, COLL, i2, what, why, whylen) == -1 ||
	    none_of(others, NOTHERS, COLL, i1, what, why, whylen) == -1)
		return -1;
	EXPECT(sees(VICTOR, COLL, i2, why, whylen) == 1,
	    "victor does not see his own %s", i2);
	return 0;
}

static int
t_marking_foreign_definition(char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	char m2[80], id[80], what[256];

	init();
	newid(m2, sizeof(m2), "marking-definition");
	newid(id, sizeof(id), "indicator");
	if (put(MALLORY, COLL, mdef1(&b, m2, V1, TLP_BODY("white"), NULL), m2,
		why, whylen) == -1)
		return -1;
	/* victor marks an indicator with an id he never defined: only
	 * mallory did; it counts as victor's default, AMBER (BRICS) */
	if (put(VICTOR, COLL,
		ind1(&b, id, V1, m2, NULL, "victor's, foreign marking"), id,
		why, whylen) == -1)
		return -1;
	buf_clear(&b);
	snprintf(what, sizeof(what),
	    "victor's indicator marked with %s, which only mallory defined "
	    "(as white): a marking its producer never defined must count as "
	    "the producer's default (AMBER to BRICS)",
	    m2);
	return none_of(outside, NOUTSIDE, COLL, id, what, why, whylen);
}

static int
t_marking_releasability(char *why, size_t whylen)
{
	static const int nor_za[] = {ZANE, MALLORY};
	struct buf b = BUF_INIT;
	char a[80], i1[80], i2[80], body[2048], what[512];
	int s;

	init();
	newid(a, sizeof(a), "marking-definition");
	newid(i1, sizeof(i1), "indicator");
	newid(i2, sizeof(i2), "indicator");
	/* AMBER goes to BRICS; victor's ACS marking narrows it to India */
	acs_body(body, sizeof(body), V1, "[\"IND\"]");
	if (marked_pair(&b, a, body, i1, M_AMBER, why, whylen) == -1)
		return -1;
	EXPECT((s = sees(BOB, COLL, i1, why, whylen)) == 1,
	    "bob (IN) does not see victor's AMBER object releasable to IND "
	    "(%d)",
	    s);
	EXPECT((s = sees(ZANE, COLL, i1, why, whylen)) == 0,
	    "zane (ZA) sees victor's object releasable to IND only (%d)", s);
	/* mallory re-posts the marking's id, later, permitting more */
	acs_body(body, sizeof(body), VLATER, "[\"IND\",\"ZAF\",\"FRA\"]");
	try_post(MALLORY, COLL, mdef1(&b, a, VLATER, body, NULL), a);
	if (put(VICTOR, COLL,
		ind1(&b, i2, V1, M_AMBER, a, "victor's, India only, later"), i2,
		why, whylen) == -1)
		return -1;
	buf_clear(&b);
	snprintf(what, sizeof(what),
	    "victor's AMBER object marked releasable to IND only by his ACS "
	    "marking %s, after mallory re-posted that id permitting ZAF and "
	    "FRA (resolved from another producer's definition)",
	    a);
	if (none_of(nor_za, 2, COLL, i2, what, why, whylen) == -1 ||
	    none_of(nor_za, 2, COLL, i1, what, why, whylen) == -1)
		return -1;
	EXPECT((s = sees(BOB, COLL, i2, why, whylen)) == 1,
	    "bob (IN) does not see victor's object releasable to IND (%d)", s);
	return 0;
}

static int
t_marking_unresolved(char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	char m[80], id[80], what[256];
	int s = 0, tries;
	size_t k;

	init();
	newid(m, sizeof(m), "marking-definition");
	newid(id, sizeof(id), "indicator");
	if (put(VICTOR, COLL,
		ind1(&b, id, V1, m, NULL, "victor's, marking not yet defined"),
		id, why, whylen) == -1)
		return -1;
	snprintf(what, sizeof(what),
	    "victor's indicator marked with %s, which nobody defined (it "
	    "must count as victor's default, AMBER to BRICS)",
	    m);
	if (none_of(outside, NOUTSIDE, COLL, id, what, why, whylen) == -1)
		return -1;
	/* victor defines it as white: the indicator is white now, for
	 * everyone, without being posted again */
	if (put(VICTOR, COLL, mdef1(&b, m, V1, TLP_BODY("white"), NULL), m, why,
		whylen) == -1)
		return -1;
	buf_clear(&b);
	for (k = 0; k < NOUTSIDE; k++) {
		for (tries = 0; tries < 20; tries++) {
			if ((s = sees(outside[k], COLL, id, why, whylen)) != 0)
				break;
			usleep(100000);
		}
		EXPECT(s == 1,
		    "%s does not see victor's indicator after victor defined "
		    "its marking %s as TLP:WHITE (%d): the level was fixed "
		    "when the indicator was stored, not re-evaluated",
		    who[outside[k]].name, m, s);
	}
	return 0;
}

static int
t_marking_definition_marked(char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	char m[80];

	init();
	newid(m, sizeof(m), "marking-definition");
	if (put(VICTOR, COLL, mdef1(&b, m, V1, TLP_BODY("amber"), M_RED), m,
		why, whylen) == -1)
		return -1;
	buf_clear(&b);
	if (none_of(others, NOTHERS, COLL, m,
		"victor's TLP marking-definition, itself marked TLP:RED "
		"(served as CLEAR whatever marks it)",
		why, whylen) == -1)
		return -1;
	EXPECT(sees(VICTOR, COLL, m, why, whylen) == 1,
	    "victor does not see his own marking-definition %s", m);
	return 0;
}

/* --- C4 no re-share --- */

static int
t_no_reshare(char *why, size_t whylen)
{
	static const int brics[] = {VICTOR, BOB, TRENT, ZANE, ALICE, ADMIN};
	struct buf b = BUF_INIT;
	char id[80], msg[1024];
	const char *body;

	init();
	newid(id, sizeof(id), "indicator");
	body = ind1(&b, id, V1, M_AMBER, NULL, "victor's, BRICS only");
	if (owned(VICTOR, "brics", body, id, why, whylen) == -1)
		return -1;
	/* trent (IN) got it through brics; mallory has the bytes anyway */
	try_post(TRENT, "shared", body, id);
	try_post(MALLORY, "shared", body, id);
	if (none_of(outside, NOUTSIDE, "shared", id,
		"victor's BRICS-only AMBER indicator, re-posted into shared",
		why, whylen) == -1 ||
	    none_of(brics, sizeof(brics) / sizeof(brics[0]), "shared", id,
		"victor's BRICS-only indicator placed into shared by trent's "
		"and mallory's re-posts",
		why, whylen) == -1)
		return -1;
	if (refused(TRENT, "shared", body, id,
		"re-post of victor's BRICS-only indicator", msg, sizeof(msg),
		why, whylen) == -1 ||
	    refused(MALLORY, "shared", body, id,
		"re-post of victor's BRICS-only indicator", msg, sizeof(msg),
		why, whylen) == -1)
		return -1;
	buf_clear(&b);
	return unchanged("brics", id, "re-posts into shared", why, whylen);
}

/* --- C5 no oracle --- */

/* Objects member k gets at `coll`'s objects for `id` from `producer`
 * (NULL: any producer, on the object's own path). */
static int
copies(int k, const char *coll, const char *id, const char *producer)
{
	char p[512];

	if (producer == NULL)
		snprintf(p, sizeof(p), API "%s/objects/%s/", coll, id);
	else
		snprintf(p, sizeof(p),
		    API "%s/objects/?match%%5Bid%%5D=%s&match%%5Bproducer%%5D="
			"%s",
		    coll, id, producer);
	return nobjs(k, p, NULL, 0);
}

static int
t_sco_no_oracle(char *why, size_t whylen)
{
	/* integrity last: the checks after the loop read its copies */
	static const char *const colls[] = {"any", COLL};
	struct buf b = BUF_INIT;
	char s1[80], v1[32], s2[80], v2[32], s3[80], v3[32];
	char hidden[64], base[4096], got[4096], msg[1024], sid[64], p[256];
	struct resp r, st;
	size_t c;
	int n;

	init();
	for (c = 0; c < sizeof(colls) / sizeof(colls[0]); c++) {
		/* victor's TLP:RED address, in integrity; mallory posts it
		 * into colls[c] (her first copy of it each time) */
		new_ipv4(s1, sizeof(s1), v1, sizeof(v1));
		env_open(&b);
		ipv4(&b, s1, v1, M_RED, "");
		if (publish(VICTOR, COLL, env_close(&b), s1, &r, why, whylen) ==
		    -1)
			return -1;
		snprintf(hidden, sizeof(hidden), "%s",
		    integ_jstr(
			json_array_get(json_object_get(r.json, "successes"), 0),
			"version"));
		resp_free(&r);
		/* what mallory is told for an address nobody holds */
		new_ipv4(s2, sizeof(s2), v2, sizeof(v2));
		env_open(&b);
		ipv4(&b, s2, v2, M_RED, "");
		if (attempt(MALLORY, colls[c], env_close(&b), s2, &r, msg,
			sizeof(msg), why, whylen) == -1)
			return -1;
		shape(&r, s2, NULL, base, sizeof(base));
		resp_free(&r);
		/* and for the one victor holds at TLP:RED, the same bytes */
		env_open(&b);
		ipv4(&b, s1, v1, M_RED, "");
		if (attempt(MALLORY, colls[c], env_close(&b), s1, &r, msg,
			sizeof(msg), why, whylen) == -1)
			return -1;
		shape(&r, s1, NULL, got, sizeof(got));
		EXPECT(strcmp(base, got) == 0,
		    "posting into %s an ipv4-addr that victor holds at "
		    "TLP:RED, mallory is told something else than for one "
		    "nobody holds: the answer reveals the hidden copy\n  "
		    "held:   %.600s\n  unheld: %.600s",
		    colls[c], got, base);
		EXPECT(strcmp(integ_jstr(
				  json_array_get(
				      json_object_get(r.json, "successes"), 0),
				  "version"),
			   hidden) != 0,
		    "mallory is told the date_added of victor's hidden copy "
		    "(%s)",
		    hidden);
		/* the status resource: the poster's only */
		snprintf(sid, sizeof(sid), "%s", integ_jstr(r.json, "id"));
		snprintf(p, sizeof(p), "/api1/status/%s/", sid);
		http("GET", p, AS(MALLORY), &st);
		shape(&st, s1, NULL, base, sizeof(base));
		resp_free(&st);
		EXPECT(strcmp(base, got) == 0,
		    "the status resource tells mallory more than "
		    "the answer to her post:\n  %.600s\n  %.600s",
		    base, got);
		http("GET", p, AS(VICTOR), &st);
		EXPECT(st.code == 404,
		    "victor reads mallory's status resource: %ld", st.code);
		resp_free(&st);
		http("GET", p, AS(ADMIN), &st);
		EXPECT(st.code == 404,
		    "admin reads mallory's status resource: %ld", st.code);
		resp_free(&st);
		resp_free(&r);
	}
	/* each copy under its own producer and policy: mallory's RED goes
	 * to zane; victor's RED to nobody */
	EXPECT((n = copies(MALLORY, COLL, s1, "mallory")) == 1,
	    "mallory's copy of %s is not stored as hers (%d with "
	    "match[producer]=mallory)",
	    s1, n);
	EXPECT((n = copies(ZANE, COLL, s1, "mallory")) == 1,
	    "zane, granted RED by mallory, does not get her copy of %s (%d)",
	    s1, n);
	EXPECT((n = copies(ZANE, COLL, s1, "victor")) == 0,
	    "zane gets victor's hidden TLP:RED copy of %s (%d)", s1, n);
	EXPECT((n = copies(MALLORY, COLL, s1, "victor")) == 0,
	    "mallory gets victor's hidden TLP:RED copy of %s (%d)", s1, n);
	EXPECT((n = copies(MALLORY, COLL, s1, NULL)) == 1,
	    "mallory gets %d copies of %s on its own path, want hers only", n,
	    s1);
	EXPECT((n = copies(VICTOR, COLL, s1, "victor")) == 1,
	    "victor's own copy of %s: %d", s1, n);
	EXPECT((n = copies(BOB, COLL, s1, NULL)) == 0,
	    "bob gets %d copies of %s (both are RED, neither for him)", n, s1);
	/* two GREEN copies: a reader gets each it may see */
	new_ipv4(s3, sizeof(s3), v3, sizeof(v3));
	env_open(&b);
	ipv4(&b, s3, v3, M_GREEN, "");
	env_close(&b);
	if (put(VICTOR, COLL, buf_cstr(&b), s3, why, whylen) == -1)
		return -1;
	if (publish(TRENT, COLL, buf_cstr(&b), s3, &r, why, whylen) == -1)
		return -1;
	EXPECT(outcome(&r, s3, msg, sizeof(msg)) == 0 && msg[0] == '\0',
	    "trent's copy of an ipv4-addr victor also holds: '%s'", msg);
	resp_free(&r);
	buf_clear(&b);
	EXPECT((n = copies(BOB, COLL, s3, NULL)) == 2,
	    "bob gets %d copies of %s, want victor's and trent's", n, s3);
	EXPECT(copies(BOB, COLL, s3, "trent") == 1 &&
		copies(BOB, COLL, s3, "victor") == 1,
	    "bob does not get one copy of %s from each producer", s3);
	EXPECT((n = copies(ERIN, COLL, s3, NULL)) == 1 &&
		copies(ERIN, COLL, s3, "trent") == 0,
	    "erin, kept out by trent, gets %d copies of %s (want victor's "
	    "only)",
	    n, s3);
	return 0;
}

/* --- C6 per-producer limits --- */

static int
t_limits_per_producer(char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	char id[80], sco[80], val[32], ts[40], more[64], msg[1024], p[512];
	struct resp r;
	int i, n, rc;

	init();
	newid(id, sizeof(id), "indicator");
	if (put(VICTOR, COLL, ind1(&b, id, V1, M_CLEAR, NULL, "victor v1"), id,
		why, whylen) == -1)
		return -1;
	/* mallory spends the 256 versions of victor's id */
	env_open(&b);
	for (i = 0; i < 256; i++) {
		snprintf(ts, sizeof(ts), "2024-02-01T%02d:%02d:00.000Z", i / 60,
		    i % 60);
		env_sep(&b);
		indicator(&b, id, ts, M_CLEAR, NULL, "mallory was here");
	}
	try_post(MALLORY, COLL, env_close(&b), id);
	rc = attempt(VICTOR, COLL,
	    ind1(
		&b, id, "2025-01-01T00:00:00.000Z", M_CLEAR, NULL, "victor v2"),
	    id, &r, msg, sizeof(msg), why, whylen);
	resp_free(&r);
	if (rc == -1)
		return -1;
	EXPECT(rc == 0,
	    "victor's second version of his own %s was refused after "
	    "mallory posted 256 versions of it: '%s' (the version limit "
	    "counts another producer's versions)",
	    id, msg);
	snprintf(p, sizeof(p), API COLL "/objects/%s/versions/", id);
	http("GET", p, AS(BOB), &r);
	n = (int)json_array_size(json_object_get(r.json, "versions"));
	resp_free(&r);
	EXPECT(n == 2, "bob counts %d versions of victor's %s, want 2", n, id);
	/* an SCO: 256 copies by mallory, then victor's own */
	new_ipv4(sco, sizeof(sco), val, sizeof(val));
	env_open(&b);
	for (i = 0; i < 256; i++) {
		env_sep(&b);
		snprintf(more, sizeof(more), ",\"x_seq\":%d", i);
		ipv4(&b, sco, val, NULL, more);
	}
	try_post(MALLORY, COLL, env_close(&b), sco);
	env_open(&b);
	ipv4(&b, sco, val, M_GREEN, "");
	rc = attempt(VICTOR, COLL, env_close(&b), sco, &r, msg, sizeof(msg),
	    why, whylen);
	resp_free(&r);
	buf_clear(&b);
	if (rc == -1)
		return -1;
	EXPECT(rc == 0 && msg[0] == '\0',
	    "victor's copy of ipv4-addr %s after mallory's 256 copies: %s "
	    "('%s')",
	    sco, rc ? "refused" : "accepted", msg);
	EXPECT((n = copies(VICTOR, COLL, sco, "victor")) == 1,
	    "victor's copy of %s is not stored as his (%d)", sco, n);
	snprintf(p, sizeof(p), API COLL "/objects/%s/versions/", sco);
	http("GET", p, AS(BOB), &r);
	n = (int)json_array_size(json_object_get(r.json, "versions"));
	EXPECT(n == 1,
	    "bob counts %d versions of %s, want victor's one: %ld %.300s", n,
	    sco, r.code, r.body ? r.body : "");
	resp_free(&r);
	return 0;
}

/* --- C7 departed producer --- */

/* With trent gone: nobody but admins gets its objects, least of all the
 * member it kept out. */
static int
departed_checks(const char *c, const char *g, char *why, size_t whylen)
{
	static const int order[] = {
	    ERIN, DAVE, BOB, ALICE, VICTOR, CAROL, MALLORY, ZANE};
	size_t i;
	int s;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (nothing(order[i], COLL, c,
			order[i] == ERIN
			    ? "the TLP:CLEAR object of departed trent, who "
			      "kept erin out with `never`"
			    : "the TLP:CLEAR object of departed trent",
			why, whylen) == -1 ||
		    nothing(order[i], COLL, g,
			"the TLP:GREEN object of departed trent", why,
			whylen) == -1)
			return -1;
	}
	EXPECT((s = sees(ADMIN, COLL, c, why, whylen)) == 1 &&
		(s = sees(ADMIN, COLL, g, why, whylen)) == 1,
	    "admin does not see departed trent's objects (%d)", s);
	return 0;
}

static int
t_departed(char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	char c[80], g[80], mpath[1024];
	char *members = NULL, *cut = NULL, *at, *end;
	int rc = -1, done, s, tries;
	struct resp r;

	init();
	newid(c, sizeof(c), "indicator");
	newid(g, sizeof(g), "indicator");
	env_open(&b);
	indicator(&b, c, V1, M_CLEAR, NULL, "trent's clear");
	env_sep(&b);
	indicator(&b, g, V1, M_GREEN, NULL, "trent's green");
	if (put(TRENT, COLL, env_close(&b), c, why, whylen) == -1)
		return -1;
	buf_clear(&b);
	EXPECT((s = sees(BOB, COLL, c, why, whylen)) == 1,
	    "bob does not see trent's CLEAR object (%d)", s);
	EXPECT((s = sees(ERIN, COLL, c, why, whylen)) == 0,
	    "erin sees the CLEAR object of trent, who keeps her out (%d)", s);
	/* trent leaves: out of members.conf, its policy file left behind
	 * (an admin's oversight must not keep trent's rules in force: the
	 * file is ignored with a warning), then a reload */
	snprintf(mpath, sizeof(mpath), "%s/members.conf", env("HUB_DIR"));
	EXPECT((members = file_read(mpath)) != NULL, "cannot read %s", mpath);
	if ((at = strstr(members, "member trent {")) == NULL ||
	    (end = strstr(at, "\n}\n")) == NULL) {
		free(members);
		FAIL("no block of trent in %s", mpath);
	}
	cut = malloc(strlen(members) + 1);
	snprintf(cut, strlen(members) + 1, "%.*s%s", (int)(at - members),
	    members, end + 3);
	done = log_count("configuration reloaded");
	if (file_write(mpath, cut) != 0) {
		snprintf(why, whylen, "cannot remove trent");
		goto restore;
	}
	hub_signal(SIGHUP);
	if (log_wait("configuration reloaded", done, 10) != 0) {
		snprintf(why, whylen, "the hub did not reload without trent");
		goto restore;
	}
	if (log_count("trent.policy: warning: no member 'trent'") == 0) {
		snprintf(why, whylen,
		    "the reload did not warn of trent's left-over policy");
		goto restore;
	}
	rc = departed_checks(c, g, why, whylen);
restore:
	/* trent comes back whatever happened, and a reload */
	done = log_count("configuration reloaded");
	file_write(mpath, members);
	hub_signal(SIGHUP);
	log_wait("configuration reloaded", done, 10);
	for (tries = 0; tries < 50; tries++) {
		http("GET", "/taxii2/", AS(TRENT), &r);
		s = (int)r.code;
		resp_free(&r);
		if (s == 200)
			break;
		usleep(200000);
	}
	free(members);
	free(cut);
	if (rc == -1)
		return -1;
	EXPECT(s == 200, "trent is not back after the reload: %d", s);
	EXPECT((s = sees(BOB, COLL, c, why, whylen)) == 1,
	    "bob does not see trent's CLEAR object after trent came back "
	    "(%d)",
	    s);
	EXPECT((s = sees(ERIN, COLL, c, why, whylen)) == 0,
	    "erin sees trent's CLEAR object after trent came back (%d)", s);
	return 0;
}

const struct test integrity_tests[] = {
    {"integrity C1: a later version by another member is refused, the "
     "owner's object unchanged on every path",
	t_owner_later},
    {"integrity C1: the same version by another member (identical bytes "
     "or not) is refused",
	t_owner_same},
    {"integrity C1: an earlier version by another member is refused",
	t_owner_earlier},
    {"integrity C1: every type but SCOs is owned", t_owner_types},
    {"integrity C1: one answer whatever the hidden object and the version",
	t_owner_one_answer},
    {"integrity C1: the owner keeps adding versions and deletes",
	t_owner_keeps_control},
    {"integrity C2: the full type is part of the identity", t_type_in_identity},
    {"integrity C3: a re-post of a producer's marking id changes nothing",
	t_marking_own_definition},
    {"integrity C3: a marking only another member defined is unresolved",
	t_marking_foreign_definition},
    {"integrity C3: releasability markings per producer",
	t_marking_releasability},
    {"integrity C3: an unresolved marking takes its level once defined",
	t_marking_unresolved},
    {"integrity C3: a marking-definition is served by its own markings",
	t_marking_definition_marked},
    {"integrity C4: no re-share into another collection", t_no_reshare},
    {"integrity C5: no oracle in SCO posts or status resources",
	t_sco_no_oracle},
    {"integrity C6: version limits count one producer's versions",
	t_limits_per_producer},
    {"integrity C7: a departed producer's objects go to admins only",
	t_departed},
    {NULL, NULL},
};
