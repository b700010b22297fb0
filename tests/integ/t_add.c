/*
 * t_add.c -- Add Objects and status resources over real TLS: posting,
 * duplicates, versions, partial failure, every kind of refused body,
 * write permission, status visibility, and real published bundles.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ctihub/buf.h"

#include "integ.h"

#define PW   ":integ-pass-1"
#define OBJS "/api1/collections/any/objects/"

static const struct opts alice = {.user = "alice" PW};
static const struct opts bob = {.user = "bob" PW};

void
integ_uuid(char out[37])
{
	static unsigned long long seq;
	unsigned long long r = ((unsigned long long)rand() << 32) ^
	    (unsigned long long)rand() ^ (++seq << 20);

	snprintf(out, 37, "%08llx-%04llx-4%03llx-8%03llx-%012llx",
	    r & 0xffffffffULL, (r >> 32) & 0xffff, seq & 0xfff,
	    (r >> 8) & 0xfff, (seq * 2654435761ULL + r) & 0xffffffffffffULL);
}

void
integ_object(struct buf *b, const char *type, const char *id,
    const char *created, const char *modified, const char *extra)
{
	buf_addf(b, "{\"type\":\"%s\",\"spec_version\":\"2.1\",\"id\":\"%s\"",
	    type, id);
	if (modified != NULL)
		buf_addf(b, ",\"created\":\"%s\",\"modified\":\"%s\"", created,
		    modified);
	buf_addf(b, "%s}", extra);
}

/* An indicator; `modified` picks the version. */
void
integ_indicator(
    struct buf *b, const char *uuid, const char *modified, const char *pattern)
{
	char id[64], extra[512];

	snprintf(id, sizeof(id), "indicator--%s", uuid);
	snprintf(extra, sizeof(extra),
	    ",\"name\":\"test indicator\",\"pattern\":\"%s\","
	    "\"pattern_type\":\"stix\",\"valid_from\":\"2024-01-01T00:00:00Z\"",
	    pattern);
	integ_object(
	    b, "indicator", id, "2024-01-01T00:00:00.000Z", modified, extra);
}

static long
jint(const json_t *j, const char *k)
{
	return (long)json_integer_value(json_object_get(j, k));
}

static int
t_post_and_status(char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	struct resp r, s;
	char u[3][37], path[128];
	const char *sid;
	int i;

	buf_adds(&b, "{\"objects\":[");
	for (i = 0; i < 3; i++) {
		integ_uuid(u[i]);
		if (i)
			buf_addc(&b, ',');
		integ_indicator(&b, u[i], "2024-01-01T00:00:00.000Z",
		    "[ipv4-addr:value = '198.51.100.1']");
	}
	buf_adds(&b, "]}");
	integ_post(&alice, OBJS, buf_cstr(&b), &r);
	EXPECT_CODE(&r, 202);
	EXPECT(strcmp(r.ctype, "application/taxii+json;version=2.1") == 0,
	    "content type %s", r.ctype);
	EXPECT(strcmp(json_string_value(json_object_get(r.json, "status")),
		   "complete") == 0,
	    "status: %s", r.body);
	EXPECT(jint(r.json, "total_count") == 3 &&
		jint(r.json, "success_count") == 3 &&
		jint(r.json, "failure_count") == 0 &&
		jint(r.json, "pending_count") == 0,
	    "counts: %s", r.body);
	EXPECT(json_array_size(json_object_get(r.json, "successes")) == 3,
	    "successes: %s", r.body);
	EXPECT(json_object_get(r.json, "failures") == NULL,
	    "empty failures must be omitted: %s", r.body);
	sid = json_string_value(json_object_get(r.json, "id"));
	EXPECT(sid != NULL && strlen(sid) == 36 && sid[14] == '4',
	    "status id is not a UUIDv4: %s", r.body);
	snprintf(path, sizeof(path), "/api1/status/%s/", sid);
	http("GET", path, &alice, &s);
	EXPECT_CODE(&s, 200);
	EXPECT(jint(s.json, "success_count") == 3, "status: %s", s.body);
	resp_free(&s);
	/* someone else's status does not exist for bob */
	http("GET", path, &bob, &s);
	EXPECT_CODE(&s, 404);
	resp_free(&s);
	http("GET", "/api1/status/00000000-0000-4000-8000-000000000000/",
	    &alice, &s);
	EXPECT_CODE(&s, 404);
	resp_free(&s);
	/* the same envelope again: successes, not stored twice */
	resp_free(&r);
	integ_post(&alice, OBJS, buf_cstr(&b), &r);
	EXPECT_CODE(&r, 202);
	EXPECT(jint(r.json, "success_count") == 3, "%s", r.body);
	EXPECT(strstr(r.body, "already in this collection") != NULL,
	    "duplicates are not reported: %s", r.body);
	resp_free(&r);
	/* the same objects to another collection: stored once, linked */
	integ_post(
	    &alice, "/api1/collections/brics/objects/", buf_cstr(&b), &r);
	EXPECT_CODE(&r, 202);
	EXPECT(
	    strstr(r.body, "already stored; added to this collection") != NULL,
	    "%s", r.body);
	resp_free(&r);
	buf_clear(&b);
	return 0;
}

static int
t_versions(char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	struct resp r;
	char u[37];
	json_t *v;

	integ_uuid(u);
	buf_adds(&b, "{\"objects\":[");
	integ_indicator(&b, u, "2024-01-01T00:00:00.000Z",
	    "[domain-name:value = 'a.example']");
	buf_addc(&b, ',');
	integ_indicator(&b, u, "2024-02-01T00:00:00.000Z",
	    "[domain-name:value = 'a.example']");
	buf_adds(&b, "]}");
	integ_post(&alice, OBJS, buf_cstr(&b), &r);
	EXPECT_CODE(&r, 202);
	EXPECT(jint(r.json, "success_count") == 2, "%s", r.body);
	v = json_array_get(json_object_get(r.json, "successes"), 1);
	EXPECT(strcmp(json_string_value(json_object_get(v, "version")),
		   "2024-02-01T00:00:00.000Z") == 0,
	    "the version is the object's modified: %s", r.body);
	EXPECT(json_object_get(v, "message") == NULL,
	    "a new version is not a duplicate: %s", r.body);
	resp_free(&r);
	buf_clear(&b);
	return 0;
}

static int
t_partial_failure(char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	struct resp r;
	char u[4][37];
	json_t *f;
	int i;

	for (i = 0; i < 4; i++)
		integ_uuid(u[i]);
	buf_adds(&b, "{\"objects\":[");
	integ_indicator(&b, u[0], "2024-01-01T00:00:00.000Z",
	    "[ipv4-addr:value = '198.51.100.7']");
	buf_addc(&b, ',');
	integ_indicator(
	    &b, u[1], "2024-01-01T00:00:00.000Z", "[ipv4-addr:value = ");
	buf_adds(&b,
	    ",{\"type\":\"indicator\",\"spec_version\":\"2.1\","
	    "\"created\":\"2024-01-01T00:00:00Z\"},42,");
	integ_indicator(&b, u[2], "2023-01-01T00:00:00.000Z",
	    "[url:value = 'http://x.example/']");
	buf_addc(&b, ',');
	integ_indicator(&b, u[3], "2024-01-01T00:00:00.000Z",
	    "[file:hashes.MD5 = '0123456789abcdef0123456789abcdef']");
	buf_adds(&b, "]}");
	integ_post(&alice, OBJS, buf_cstr(&b), &r);
	EXPECT_CODE(&r, 202);
	EXPECT(jint(r.json, "total_count") == 6 &&
		jint(r.json, "success_count") == 2 &&
		jint(r.json, "failure_count") == 4,
	    "2 good, 4 bad: %s", r.body);
	f = json_object_get(r.json, "failures");
	EXPECT(json_array_size(f) == 4, "%s", r.body);
	/* each failure names the object, the property and the rule */
	EXPECT(strstr(json_string_value(
			  json_object_get(json_array_get(f, 0), "message")),
		   "pattern") != NULL,
	    "bad pattern: %s", r.body);
	EXPECT(strstr(json_string_value(
			  json_object_get(json_array_get(f, 0), "id")),
		   u[1]) != NULL,
	    "failure id: %s", r.body);
	EXPECT(strstr(json_string_value(
			  json_object_get(json_array_get(f, 1), "message")),
		   "id") != NULL,
	    "missing id: %s", r.body);
	EXPECT(strcmp(json_string_value(
			  json_object_get(json_array_get(f, 2), "id")),
		   "objects[3]") == 0,
	    "a non-object is named by position: %s", r.body);
	EXPECT(strstr(json_string_value(
			  json_object_get(json_array_get(f, 3), "message")),
		   "modified") != NULL,
	    "modified before created: %s", r.body);
	resp_free(&r);
	buf_clear(&b);
	return 0;
}

static int
t_refused_bodies(char *why, size_t whylen)
{
	struct resp r;
	struct opts o = alice;
	static char big[1100000];
	struct buf b = BUF_INIT;
	int i;

	integ_post(
	    &alice, OBJS, "{\"objects\": [\n  {\"type\": \"x\",}\n]}", &r);
	EXPECT_CODE(&r, 400);
	EXPECT(strstr(r.body, "line 2") != NULL &&
		strstr(r.body, "column") != NULL,
	    "malformed JSON without line and column: %s", r.body);
	resp_free(&r);
	integ_post(&alice, OBJS, "[{\"type\":\"indicator\"}]", &r);
	EXPECT_CODE(&r, 400);
	resp_free(&r);
	/* two "objects" arrays: the first was dropped without a word */
	{
		char u[37], path[160];

		integ_uuid(u);
		buf_adds(&b, "{\"objects\": [");
		integ_indicator(&b, u, "2024-01-01T00:00:00.000Z",
		    "[ipv4-addr:value = '198.51.100.7']");
		buf_adds(&b, "],\n \"objects\": []}");
		integ_post(&alice, OBJS, buf_cstr(&b), &r);
		EXPECT_CODE(&r, 400);
		EXPECT(r.json != NULL &&
			strstr(r.body, "duplicate key \\\"objects\\\"") !=
			    NULL &&
			strstr(r.body, "line 2") != NULL,
		    "a duplicate key is a TAXII 400 naming it: %s", r.body);
		resp_free(&r);
		buf_reset(&b);
		snprintf(path, sizeof(path), "%sindicator--%s/", OBJS, u);
		http("GET", path, &alice, &r);
		EXPECT_CODE(&r, 404);
		resp_free(&r);
	}
	integ_post(&alice, OBJS, "{\"type\":\"indicator\"}", &r);
	EXPECT_CODE(&r, 400);
	EXPECT(strstr(r.body, "objects") != NULL, "%s", r.body);
	resp_free(&r);
	o.ctype = "application/json";
	o.body = "{\"objects\":[]}";
	http("POST", OBJS, &o, &r);
	EXPECT_CODE(&r, 415);
	resp_free(&r);
	o.ctype = "application/taxii+json;version=2.0";
	http("POST", OBJS, &o, &r);
	EXPECT_CODE(&r, 415);
	resp_free(&r);
	o.ctype = "application/taxii+json";
	http("POST", OBJS, &o, &r);
	EXPECT_CODE(&r, 202);
	EXPECT(jint(r.json, "total_count") == 0, "%s", r.body);
	resp_free(&r);
	/* over max_content_length (1M on api1): a TAXII 413 */
	memset(big, ' ', sizeof(big) - 1);
	memcpy(big, "{\"objects\":[", 12);
	memcpy(big + sizeof(big) - 3, "]}", 2);
	integ_post(&alice, OBJS, big, &r);
	EXPECT_CODE(&r, 413);
	EXPECT(r.json != NULL, "413 is a TAXII error: %s", r.body);
	resp_free(&r);
	/* more objects than max_objects (5000 in the test configuration) */
	buf_adds(&b, "{\"objects\":[");
	for (i = 0; i < 5001; i++)
		buf_adds(&b, i ? ",{}" : "{}");
	buf_adds(&b, "]}");
	integ_post(&alice, OBJS, buf_cstr(&b), &r);
	EXPECT_CODE(&r, 413);
	EXPECT(strstr(r.body, "5001 objects") != NULL, "%s", r.body);
	resp_free(&r);
	/* nesting deeper than json_max_depth: that object fails alone */
	buf_reset(&b);
	buf_adds(&b, "{\"objects\":[{\"x_deep\":");
	for (i = 0; i < 40; i++)
		buf_addc(&b, '[');
	for (i = 0; i < 40; i++)
		buf_addc(&b, ']');
	buf_adds(&b, "},");
	{
		char u[37];

		integ_uuid(u);
		integ_indicator(&b, u, "2024-01-01T00:00:00.000Z",
		    "[ipv4-addr:value = '198.51.100.9']");
	}
	buf_adds(&b, "]}");
	integ_post(&alice, OBJS, buf_cstr(&b), &r);
	EXPECT_CODE(&r, 202);
	EXPECT(jint(r.json, "success_count") == 1 &&
		jint(r.json, "failure_count") == 1 &&
		strstr(r.body, "json-depth") != NULL,
	    "%s", r.body);
	resp_free(&r);
	buf_clear(&b);
	return 0;
}

static int
t_write_permission(char *why, size_t whylen)
{
	struct resp r;

	/* bob may read "any" but not add to it */
	integ_post(&bob, OBJS, "{\"objects\":[]}", &r);
	EXPECT_CODE(&r, 403);
	resp_free(&r);
	/* alice may neither read nor write "Bob only": it does not exist */
	integ_post(&alice,
	    "/api1/collections/8b1fa07e-6e8c-4cad-9c32-3b4c5d6e7f80/objects/",
	    "{\"objects\":[]}", &r);
	EXPECT_CODE(&r, 404);
	resp_free(&r);
	return 0;
}

/* Every real published bundle: each object accepted or refused as the
 * validator decides (the reasons are asserted in t_stix.c; here the
 * whole path over HTTPS must agree with it and never lose an object). */
static int
t_real_bundles(char *why, size_t whylen)
{
	const char *root = getenv("SHARED_DATA");
	const char *sub[] = {"stix21/oasis-examples", "stix21/amnesty",
	    "stix21/mvt", "stix21/attack-flow", "stix21/tlp-markings",
	    "stix20/unit42", NULL};
	char dir[1024], path[2048];
	int i, files = 0;

	struct stat st;

	if (root == NULL || root[0] == '\0' || stat(root, &st) != 0) {
		snprintf(why, whylen, "SKIP no shared data at %s",
		    root ? root : "(unset)");
		return 1;
	}
	for (i = 0; sub[i] != NULL; i++) {
		DIR *d;
		struct dirent *e;

		snprintf(dir, sizeof(dir), "%s/%s", root, sub[i]);
		if ((d = opendir(dir)) == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			FILE *f;
			char *text;
			long n;
			struct resp r;
			json_t *j;
			size_t total;

			if (strstr(e->d_name, ".json") == NULL &&
			    strstr(e->d_name, ".stix2") == NULL)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if ((f = fopen(path, "rb")) == NULL)
				continue;
			fseek(f, 0, SEEK_END);
			n = ftell(f);
			rewind(f);
			text = calloc(1, (size_t)n + 1);
			if (fread(text, 1, (size_t)n, f) != (size_t)n)
				n = 0;
			fclose(f);
			j = json_loads(text, 0, NULL);
			total = json_array_size(json_object_get(j, "objects"));
			json_decref(j);
			integ_post(
			    &alice, "/api1/collections/any/objects/", text, &r);
			free(text);
			files++;
			EXPECT(r.code == 202, "%s: %ld %.300s", path, r.code,
			    r.body);
			EXPECT((size_t)jint(r.json, "total_count") == total,
			    "%s: total %ld of %zu", path,
			    jint(r.json, "total_count"), total);
			EXPECT(jint(r.json, "success_count") +
				    jint(r.json, "failure_count") ==
				jint(r.json, "total_count"),
			    "%s: counts do not add up", path);
			resp_free(&r);
		}
		closedir(d);
	}
	EXPECT(files >= 10, "only %d real bundles found under %s", files, root);
	return 0;
}

/* ctihub import goes through the same pipeline while the hub runs: a
 * bundle, its refusals counted, its objects served at once by the hub;
 * and a file with two "objects" lists is refused whole. */
static int
t_import(char *why, size_t whylen)
{
	const char *dir = env("HUB_DIR"), *bin = env("HUB_BIN");
	char path[1024], cmd[4096], out[4096], u[37], first[37] = "";
	struct buf b = BUF_INIT;
	struct resp r;
	size_t n;
	FILE *f;
	int i, rc;

	snprintf(path, sizeof(path), "%s/import.json", dir);
	buf_adds(&b,
	    "{\"type\": \"bundle\", \"id\": \"bundle--"
	    "0f4c1e5a-0000-4000-8000-000000000001\", \"objects\": [");
	for (i = 0; i < 2500; i++) {
		integ_uuid(u);
		if (i == 0)
			snprintf(first, sizeof(first), "%s", u);
		if (i > 0)
			buf_adds(&b, ",\n");
		if (i % 1000 == 999)
			buf_adds(&b, "{\"type\": \"indicator\"}");
		else
			integ_indicator(&b, u, "2024-01-01T00:00:00.000Z",
			    "[ipv4-addr:value = '203.0.113.5']");
	}
	buf_adds(&b, "]}");
	EXPECT(file_write(path, buf_cstr(&b)) == 0, "cannot write %s", path);
	buf_clear(&b);
	snprintf(cmd, sizeof(cmd),
	    "'%s/ctihub' import '%s' --as alice --collection any -c "
	    "'%s/ctihub.conf' --quiet 2>&1",
	    bin, path, dir);
	EXPECT((f = popen(cmd, "r")) != NULL, "cannot run %s", cmd);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	rc = pclose(f);
	EXPECT(rc == 0 && strstr(out, "imported 2500 objects") != NULL &&
		strstr(out, "stored 2498 new") != NULL &&
		strstr(out, "2 rejected") != NULL,
	    "import: status %d: %s", rc, out);
	snprintf(cmd, sizeof(cmd), "%sindicator--%s/", OBJS, first);
	http("GET", cmd, &alice, &r);
	EXPECT_CODE(&r, 200);
	resp_free(&r);
	/* two "objects" lists: refused whole */
	EXPECT(file_write(path, "{\"objects\": [{}], \"objects\": []}") == 0,
	    "cannot write %s", path);
	snprintf(cmd, sizeof(cmd),
	    "'%s/ctihub' import '%s' --as alice --collection any -c "
	    "'%s/ctihub.conf' --quiet 2>&1",
	    bin, path, dir);
	EXPECT((f = popen(cmd, "r")) != NULL, "cannot run %s", cmd);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	rc = pclose(f);
	EXPECT(rc != 0 && strstr(out, "duplicate key \"objects\"") != NULL,
	    "import of two objects lists: status %d: %s", rc, out);
	return 0;
}

const struct test add_tests[] = {
    {"add objects, status, duplicates, another collection", t_post_and_status},
    {"new versions are stored", t_versions},
    {"ctihub import while the hub runs", t_import},
    {"a bad object never blocks the good ones", t_partial_failure},
    {"400 / 413 / 415 and depth limits", t_refused_bodies},
    {"403 and 404 on add without write access", t_write_permission},
    {"real published bundles over HTTPS", t_real_bundles},
    {NULL, NULL},
};
