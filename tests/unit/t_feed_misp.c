/*
 * t_feed_misp.c -- the MISP feed format (feeds/feed_misp.c): the
 * manifest and the state blob (new or changed events only), events to
 * STIX indicators checked by the validator (stix.h), hashes.csv,
 * malformed input reported and not fatal, and the export parsed back by
 * the importer (same observables, same TLP).  Fixtures in
 * tests/fixtures/misp/ follow the feed layout PyMISP writes; the two
 * versions of a clean feed tree in tests/fixtures/misp-feed{,-v2}/ (the
 * feed integration tests serve them) are checked to parse, and that only
 * the changed and the new event are planned for v2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/buf.h"
#include "ctihub/marking.h"
#include "ctihub/observable.h"
#include "ctihub/pattern.h"
#include "ctihub/stix.h"

#include "../../feeds/feed_misp.h"

#define DIR	 "tests/fixtures/misp/"
#define EV1	 "5a3c1d0e-8b9f-4c21-a3d4-0e1f2a3b4c5d"
#define EV2	 "7d8e9f00-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
#define PRODUCER "identity--0f4b8c3a-5d7e-4f10-9a2b-3c4d5e6f7a8b"

static char *
slurp(const char *path, size_t *len)
{
	FILE *f;
	char *s;
	long n;

	assert_non_null(f = fopen(path, "rb"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	assert_non_null(s = malloc((size_t)n + 1));
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return s;
}

static struct feed_misp_opts
opts(void)
{
	static const char *const labels[] = {"feed:circl"};
	struct feed_misp_opts o;

	memset(&o, 0, sizeof(o));
	o.producer = PRODUCER;
	o.tlp = TLP_AMBER;
	o.confidence = 70;
	o.labels = labels;
	o.nlabels = 1;
	o.report = 1;
	return o;
}

/* Converts a fixture event; the envelope is returned parsed and every
 * object in it has passed the validator. */
static json_t *
convert(const char *file, struct feed_misp_result *res)
{
	struct feed_misp_opts o = opts();
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	struct stix_report rep;
	struct stix_info info;
	char err[FEED_MISP_ERRLEN], fs[160];
	json_t *env, *obj;
	size_t len, i;
	char *text = slurp(file, &len);

	assert_int_equal(
	    feed_misp_event_to_stix(text, len, &o, &b, res, err, sizeof(err)),
	    0);
	/* deterministic: the same bytes twice */
	assert_int_equal(
	    feed_misp_event_to_stix(text, len, &o, &b2, res, err, sizeof(err)),
	    0);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	assert_non_null(env = json_loadb(b.data, b.len, 0, NULL));
	json_array_foreach(json_object_get(env, "objects"), i, obj)
	{
		memset(&info, 0, sizeof(info));
		if (stix_validate(obj, NULL, &info, &rep) != 0) {
			stix_finding_str(&rep.findings[0], fs, sizeof(fs));
			fail_msg("%s: %s",
			    json_string_value(json_object_get(obj, "id")), fs);
		}
		assert_int_equal(rep.nwarnings, 0);
	}
	buf_clear(&b);
	buf_clear(&b2);
	free(text);
	return env;
}

static const char *
pattern_of(json_t *env, const char *needle)
{
	json_t *obj;
	const char *p;
	size_t i;

	json_array_foreach(json_object_get(env, "objects"), i, obj)
	{
		p = json_string_value(json_object_get(obj, "pattern"));
		if (p != NULL && strstr(p, needle) != NULL)
			return p;
	}
	return NULL;
}

static json_t *
object_with(json_t *env, const char *needle)
{
	json_t *obj;
	const char *p;
	size_t i;

	json_array_foreach(json_object_get(env, "objects"), i, obj)
	{
		p = json_string_value(json_object_get(obj, "pattern"));
		if (p != NULL && strstr(p, needle) != NULL)
			return obj;
	}
	return NULL;
}

static enum tlp
tlp_of(json_t *obj)
{
	json_t *m = json_object_get(obj, "object_marking_refs");

	return marking_tlp_of_id(json_string_value(json_array_get(m, 0)));
}

static void
t_manifest(void **state)
{
	struct feed_misp_manifest m;
	char err[FEED_MISP_ERRLEN];
	size_t len, i;
	char *text = slurp(DIR "manifest.json", &len);
	int seen = 0;

	(void)state;
	assert_int_equal(
	    feed_misp_manifest_parse(text, len, &m, err, sizeof(err)), 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.nbad, 2);
	for (i = 0; i < m.n; i++) {
		if (strcmp(m.ev[i].uuid_s, EV1) == 0) {
			assert_int_equal(m.ev[i].timestamp, 1710172800);
			assert_string_equal(m.ev[i].info,
			    "OSINT - Phishing campaign against banks");
			assert_string_equal(m.ev[i].date, "2024-03-11");
			assert_int_equal(m.ev[i].ntags, 2);
			assert_string_equal(m.ev[i].tags[0], "tlp:green");
			seen |= 1;
		} else if (strcmp(m.ev[i].uuid_s, EV2) == 0) {
			/* timestamp as a string, as MISP writes it too */
			assert_int_equal(m.ev[i].timestamp, 1710259200);
			seen |= 2;
		}
	}
	assert_int_equal(seen, 3);
	feed_misp_manifest_clear(&m);
	feed_misp_manifest_clear(&m);

	/* not fatal to the caller: an error message, nothing kept */
	assert_int_equal(
	    feed_misp_manifest_parse("[1,2]", 5, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a JSON object"));
	feed_misp_manifest_clear(&m);
	assert_int_equal(
	    feed_misp_manifest_parse("{\"a\":", 5, &m, err, sizeof(err)), -1);
	assert_int_equal(strncmp(err, "manifest: line 1", 16), 0);
	feed_misp_manifest_clear(&m);
	free(text);
}

static void
t_plan_state(void **state)
{
	struct feed_misp_manifest m;
	struct buf st = BUF_INIT, st2 = BUF_INIT;
	char err[FEED_MISP_ERRLEN];
	size_t len, i;
	int64_t ts;
	char *text = slurp(DIR "manifest.json", &len);

	(void)state;
	assert_int_equal(
	    feed_misp_manifest_parse(text, len, &m, err, sizeof(err)), 0);
	/* first run: everything */
	assert_int_equal(feed_misp_manifest_plan(&m, NULL, 0), 2);
	/* only the first one stored: the state holds only it */
	m.ev[0].done = 1;
	assert_int_equal(feed_misp_state_build(&m, NULL, 0, &st), 0);
	assert_int_equal(st.len, FEED_MISP_STATE_REC);
	assert_int_equal(
	    feed_misp_state_get(st.data, st.len, m.ev[0].uuid, &ts), 0);
	assert_int_equal(ts, m.ev[0].timestamp);
	assert_int_equal(
	    feed_misp_state_get(st.data, st.len, m.ev[1].uuid, &ts), -1);
	/* second run: the other one only */
	assert_int_equal(feed_misp_manifest_plan(&m, st.data, st.len), 1);
	assert_false(m.ev[0].fetch);
	assert_true(m.ev[1].fetch);
	/* a failed run (nothing done) keeps the old progress */
	for (i = 0; i < m.n; i++)
		m.ev[i].done = 0;
	assert_int_equal(feed_misp_state_build(&m, st.data, st.len, &st2), 0);
	assert_int_equal(st2.len, st.len);
	assert_memory_equal(st2.data, st.data, st.len);
	m.ev[1].done = 1;
	assert_int_equal(feed_misp_state_build(&m, st.data, st.len, &st2), 0);
	assert_int_equal(st2.len, 2 * FEED_MISP_STATE_REC);
	assert_int_equal(feed_misp_manifest_plan(&m, st2.data, st2.len), 0);
	/* an event changed upstream: fetched again */
	m.ev[1].timestamp++;
	assert_int_equal(feed_misp_manifest_plan(&m, st2.data, st2.len), 1);
	assert_true(m.ev[1].fetch);
	/* a corrupt blob: everything again, never a crash */
	assert_int_equal(feed_misp_manifest_plan(&m, st2.data, st2.len - 1), 2);
	feed_misp_manifest_clear(&m);
	buf_clear(&st);
	buf_clear(&st2);
	free(text);
}

static void
t_event1(void **state)
{
	struct feed_misp_result res;
	json_t *env, *obj, *rep = NULL;
	const char *p;
	size_t i, nind = 0;

	(void)state;
	env = convert(DIR EV1 ".json", &res);
	assert_int_equal(res.nattrs, 16);
	/* ip domain url md5 filename|sha1 ip|port domain|ip AS email mac
	 * and the object's sha256 */
	assert_int_equal(res.nindicators, 11);
	/* text (not to_ids), deleted, yara (not mapped), object filename */
	assert_int_equal(res.nskipped, 4);
	assert_int_equal(res.nbad, 1); /* 999.1.1.1 */
	assert_non_null(strstr(res.firstbad, "1b2c3d4e-000c"));
	assert_int_equal(res.tlp, TLP_GREEN);

	assert_string_equal(pattern_of(env, "198.51.100.23"),
	    "[ipv4-addr:value = '198.51.100.23']");
	assert_string_equal(pattern_of(env, "login-secure-bank.example'"),
	    "[domain-name:value = 'login-secure-bank.example']");
	p = pattern_of(env, "url:value");
	assert_non_null(p);
	assert_non_null(strstr(p, "it\\'s"));
	assert_string_equal(pattern_of(env, "file:name"),
	    "[file:name = 'inv\\'oice.exe' AND file:hashes.'SHA-1' = "
	    "'da39a3ee5e6b4b0d3255bfef95601890afd80709']");
	assert_string_equal(pattern_of(env, "hashes.MD5"),
	    "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']");
	assert_string_equal(pattern_of(env, "dst_port"),
	    "[network-traffic:dst_ref.value = '203.0.113.9' AND "
	    "network-traffic:dst_port = 8443]");
	assert_string_equal(pattern_of(env, "resolves_to"),
	    "[domain-name:value = 'cdn.bad.example' AND "
	    "domain-name:resolves_to_refs[*].value = '2001:db8::1']");
	assert_string_equal(pattern_of(env, "autonomous"),
	    "[autonomous-system:number = 64500]");
	assert_string_equal(pattern_of(env, "mac-addr"),
	    "[mac-addr:value = '00:1a:2b:3c:4d:5e']");
	assert_string_equal(pattern_of(env, "email-addr"),
	    "[email-addr:value = 'phisher@bad.example']");

	/* labels: event tags (not tlp:), attribute tags, the feed's */
	obj = object_with(env, "hashes.MD5");
	assert_int_equal(json_array_size(json_object_get(obj, "labels")), 4);
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(obj, "labels"), 2)),
	    "malware:emotet");
	assert_int_equal(tlp_of(obj), TLP_GREEN);
	assert_int_equal(
	    json_integer_value(json_object_get(obj, "confidence")), 70);
	assert_string_equal(json_string_value(json_object_get(obj, "created")),
	    "2024-03-11T15:46:43.000Z");
	obj = object_with(env, "url:value");
	assert_string_equal(
	    json_string_value(json_object_get(obj, "valid_from")),
	    "2024-03-01T08:00:00.000Z");

	/* the SCOs: ip (x2), domain (x2), url, files (x3), AS, email,
	 * mac and the ipv6 of domain|ip */
	assert_int_equal(res.nscos, 12);
	/* the report references every indicator and SCO */
	json_array_foreach(json_object_get(env, "objects"), i, obj)
	{
		if (strcmp(json_string_value(json_object_get(obj, "type")),
			"indicator") == 0)
			nind++;
		else if (strcmp(json_string_value(json_object_get(obj, "type")),
			     "report") == 0)
			rep = obj;
	}
	assert_int_equal(nind, 11);
	assert_string_equal(
	    json_string_value(json_object_get(rep, "type")), "report");
	assert_int_equal(
	    json_array_size(json_object_get(rep, "object_refs")), 23);
	assert_int_equal(tlp_of(rep), TLP_GREEN);
	json_decref(env);
}

static void
t_event2(void **state)
{
	struct feed_misp_result res;
	json_t *env;

	(void)state;
	env = convert(DIR EV2 ".json", &res);
	assert_int_equal(res.nindicators, 4);
	assert_int_equal(res.nbad, 0);
	assert_int_equal(res.tlp, TLP_CLEAR); /* tlp:white */
	assert_string_equal(
	    pattern_of(env, "192.0.2"), "[ipv4-addr:value = '192.0.2.0/24']");
	/* the attribute's stricter tag wins over the event's */
	assert_int_equal(
	    tlp_of(object_with(env, "scan.example.net")), TLP_AMBER_STRICT);
	assert_int_equal(tlp_of(object_with(env, "192.0.2")), TLP_CLEAR);
	assert_non_null(pattern_of(env, "SSDEEP"));
	assert_non_null(pattern_of(env, "'SHA-512'"));
	json_decref(env);
}

/* The SCOs of an event: one per mapped type, the deterministic ids of
 * STIX 2.1 section 2.9 (computed independently with Python's uuid5 over
 * the sorted compact JSON), context (not to_ids) attributes giving SCOs
 * but no indicator, one SCO per id under the strictest TLP of its uses,
 * all referenced by the report, and values that give no SCO ignored. */
/* an attribute, its uuid made of the line it is written on */
#define A_STR(x)  #x
#define A_LINE(x) A_STR(x)
#define A(type, val, ids, tag)                                                 \
	"{\"type\":\"" type "\",\"value\":\"" val "\",\"to_ids\":" ids         \
	",\"uuid\":\"5f0c0000-0000-4000-8000-000000000" A_LINE(                \
	    __LINE__) "\",\"timestamp\":1710172800,\"Tag\":[" tag "]}"

static void
t_scos(void **state)
{
	static const struct {
		const char *id;
		const char *prop; /* a property, and its value as JSON */
		const char *json;
		enum tlp tlp;
	} want[] = {
	    {"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "value",
		"\"198.51.100.3\"", TLP_AMBER},
	    {"domain-name--3b96539c-807f-59c9-b4df-fe1865757b1e", "value",
		"\"www.example.com\"", TLP_CLEAR},
	    {"domain-name--064f846b-2bd3-5015-8d6f-d260dbda99c1", "value",
		"\"a.example\"", TLP_AMBER},
	    {"ipv6-addr--6469e3a9-b053-5e34-a025-9396ae051d26", "value",
		"\"2001:db8::1\"", TLP_AMBER},
	    {"ipv4-addr--39090fdc-366e-571f-ab5b-d05e2918f88f", "value",
		"\"203.0.113.9\"", TLP_AMBER},
	    {"url--5cfdfcec-13e5-535f-bc5c-b601d5839acb", "value",
		"\"http://example.com/x\"", TLP_AMBER},
	    {"email-addr--20f95e88-019c-5ac7-a027-aba10fdcb3ca", "value",
		"\"a@b.example\"", TLP_AMBER},
	    {"mac-addr--8bbba7bb-0054-556b-a740-4d38221678a8", "value",
		"\"00:1a:2b:3c:4d:5e\"", TLP_AMBER},
	    {"autonomous-system--0a5f7072-df00-5729-9f0a-4eb18631a446",
		"number", "64500", TLP_AMBER},
	    {"file--02fff920-f614-527c-81d1-6353633a6d21", "hashes",
		"{\"MD5\":\"d41d8cd98f00b204e9800998ecf8427e\"}", TLP_AMBER},
	    {"file--d58dbf63-889d-5fb8-ade0-c1c2739483e1", "name",
		"\"a\xc3\xa9.exe\"", TLP_AMBER},
	    {"x509-certificate--fa6e66a5-f019-51f9-8ab5-812023e58c6e", "hashes",
		"{\"SHA-1\":\"da39a3ee5e6b4b0d3255bfef95601890afd80709\"}",
		TLP_AMBER},
	};
	struct feed_misp_opts o = opts();
	struct feed_misp_result res;
	struct buf in = BUF_INIT, b = BUF_INIT;
	struct stix_report rep;
	struct stix_info info;
	char err[FEED_MISP_ERRLEN], fs[160];
	json_t *env, *objs, *obj, *refs = NULL, *v, *w;
	size_t i, j, nind = 0, nsco = 0;
	const char *type;

	(void)state;
	buf_adds(&in, "{\"Event\":{\"uuid\":\"" EV1 "\",\"Attribute\":[");
	buf_adds(&in, A("ip-dst", "198.51.100.3", "true", ""));
	/* the same address as context, under a stricter TLP: context
	 * ("not for detection") gives nothing, not even its SCO */
	buf_adds(&in,
	    "," A("ip-src", "198.51.100.3", "false", "{\"name\":\"tlp:red\"}"));
	buf_adds(&in,
	    "," A("hostname", "WWW.Example.COM", "true",
		"{\"name\":\"tlp:clear\"}"));
	buf_adds(&in, "," A("domain|ip", "a.example|2001:DB8::1", "\"1\"", ""));
	buf_adds(&in, "," A("ip-src|port", "203.0.113.9|443", "true", ""));
	buf_adds(&in, "," A("url", "http://Example.com/x", "true", ""));
	buf_adds(&in, "," A("email-dst", "A@B.example", "true", ""));
	buf_adds(&in, "," A("mac-address", "00-1A-2B-3C-4D-5E", "true", ""));
	buf_adds(&in, "," A("AS", "AS64500", "true", ""));
	buf_adds(
	    &in, "," A("md5", "D41D8CD98F00B204E9800998ECF8427E", "true", ""));
	buf_adds(&in,
	    "," A("filename|sha256",
		"a\\u00e9.exe|e3b0c44298fc1c149afbf4c8996fb92427ae"
		"41e4649b934ca495991b7852b855",
		"true", ""));
	buf_adds(&in,
	    "," A("x509-fingerprint-sha1",
		"da39a3ee5e6b4b0d3255bfef95601890afd80709", "true", ""));
	buf_adds(&in,
	    "," A("ssdeep", "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C", "true",
		""));
	/* the same file again (dedupe), and nothing from these */
	buf_adds(
	    &in, "," A("md5", "d41d8cd98f00b204e9800998ecf8427e", "true", ""));
	buf_adds(&in, "," A("text", "notes", "false", ""));
	buf_adds(&in, "," A("ip-dst", "999.1.1.1", "false", ""));
	buf_adds(&in,
	    "," A("filename|md5", "x\\u0001y|d41d8cd98f00b204e9800998ecf8427e",
		"false", ""));
	buf_adds(&in,
	    ",{\"type\":\"ip-dst\",\"value\":\"192.0.2.99\","
	    "\"deleted\":true}");
	buf_adds(&in, "," A("domain", "context.example", "false", ""));
	buf_adds(&in, "]}}");
	assert_false(buf_failed(&in));
	if (feed_misp_event_to_stix(
		buf_cstr(&in), in.len, &o, &b, &res, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(res.nattrs, 19);
	assert_int_equal(res.nindicators, 13);
	assert_int_equal(res.nscos, 13);
	assert_int_equal(res.nskipped, 6);
	assert_null(strstr(buf_cstr(&b), "context.example"));
	assert_int_equal(res.nbad, 0);
	assert_non_null(env = json_loadb(b.data, b.len, 0, NULL));
	objs = json_object_get(env, "objects");
	json_array_foreach(objs, i, obj)
	{
		memset(&info, 0, sizeof(info));
		if (stix_validate(obj, NULL, &info, &rep) != 0) {
			stix_finding_str(&rep.findings[0], fs, sizeof(fs));
			fail_msg("%s: %s",
			    json_string_value(json_object_get(obj, "id")), fs);
		}
		assert_int_equal(rep.nwarnings, 0);
		type = json_string_value(json_object_get(obj, "type"));
		if (strcmp(type, "indicator") == 0)
			nind++;
		else if (strcmp(type, "report") == 0)
			refs = json_object_get(obj, "object_refs");
		else {
			nsco++;
			assert_string_equal(json_string_value(json_object_get(
						obj, "spec_version")),
			    "2.1");
			assert_null(json_object_get(obj, "created"));
			assert_null(json_object_get(obj, "labels"));
		}
	}
	assert_int_equal(nind, 13);
	assert_int_equal(nsco, 13);
	/* every object but the report, once */
	assert_int_equal(json_array_size(refs), 26);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		obj = NULL;
		json_array_foreach(objs, j,
		    w) if (strcmp(json_string_value(json_object_get(w, "id")),
			       want[i].id) == 0) obj = w;
		if (obj == NULL)
			fail_msg("no %s", want[i].id);
		assert_non_null(
		    v = json_loads(want[i].json, JSON_DECODE_ANY, NULL));
		if (!json_equal(json_object_get(obj, want[i].prop), v))
			fail_msg("%s: %s", want[i].id, want[i].prop);
		json_decref(v);
		assert_int_equal(tlp_of(obj), want[i].tlp);
		for (j = 0; j < json_array_size(refs); j++)
			if (strcmp(json_string_value(json_array_get(refs, j)),
				want[i].id) == 0)
				break;
		assert_true(j < json_array_size(refs));
	}
	json_decref(env);

	/* no report: the SCOs all the same, and an SCO-only event */
	o.report = 0;
	buf_reset(&b);
	assert_int_equal(feed_misp_event_to_stix(buf_cstr(&in), in.len, &o, &b,
			     &res, err, sizeof(err)),
	    0);
	assert_non_null(env = json_loadb(b.data, b.len, 0, NULL));
	assert_int_equal(json_array_size(json_object_get(env, "objects")), 26);
	json_decref(env);
	buf_clear(&in);
	buf_clear(&b);
}

static void
check_malformed(const char *text, int want)
{
	struct feed_misp_opts o = opts();
	struct feed_misp_result res;
	struct buf b = BUF_INIT;
	char err[FEED_MISP_ERRLEN];
	json_t *env;

	err[0] = '\0';
	assert_int_equal(feed_misp_event_to_stix(text, strlen(text), &o, &b,
			     &res, err, sizeof(err)),
	    want);
	if (want == 0) {
		assert_non_null(env = json_loadb(b.data, b.len, 0, NULL));
		assert_true(json_is_array(json_object_get(env, "objects")));
		json_decref(env);
	} else {
		assert_int_equal(b.len, 0);
		assert_true(err[0] != '\0');
	}
	buf_clear(&b);
}

static void
t_malformed(void **state)
{
	char *deep;
	size_t i;

	(void)state;
	check_malformed("", -1);
	check_malformed("[]", -1);
	check_malformed("{\"Event\":[]}", -1);
	check_malformed("{\"Event\":{\"uuid\":\"x\"}}", -1);
	check_malformed("{\"Event\":{\"uuid\":\"5a3c1d0e-8b9f-4c21-a3d4-"
			"0e1f2a3b4c5d\",\"Attribute\":7,\"Object\":[1,{}]}}",
	    0);
	check_malformed("{\"Event\":{\"uuid\":\"5a3c1d0e-8b9f-4c21-a3d4-"
			"0e1f2a3b4c5d\",\"Tag\":[{\"name\":7},3],"
			"\"Attribute\":[{\"type\":\"ip-dst\",\"to_ids\":true,"
			"\"value\":\"1.2.3.4\",\"uuid\":\"u\"},{\"type\":"
			"\"ip-dst|port\",\"to_ids\":true,\"value\":\"1.2.3.4|"
			"99999\",\"uuid\":\"5a3c1d0e-8b9f-4c21-a3d4-"
			"0e1f2a3b4c5d\",\"timestamp\":1},null]}}",
	    0);
	/* nesting far deeper than Jansson's limit: an error, no crash */
	assert_non_null(deep = malloc(100001));
	for (i = 0; i < 50000; i++)
		deep[i] = '[';
	for (; i < 100000; i++)
		deep[i] = ']';
	deep[i] = '\0';
	check_malformed(deep, -1);
	free(deep);
}

/* A long non-ASCII info is cut between characters, and MISP's own
 * "+00:00" first_seen is read as UTC. */
static void
t_edges(void **state)
{
	struct feed_misp_opts o = opts();
	struct feed_misp_result res;
	struct buf in = BUF_INIT, b = BUF_INIT;
	char err[FEED_MISP_ERRLEN];
	json_t *env, *obj;
	const char *name;
	size_t i;

	(void)state;
	buf_adds(&in, "{\"Event\":{\"uuid\":\"" EV1 "\",\"info\":\"");
	for (i = 0; i < 1500; i++)
		buf_adds(&in, "\xc3\xa9");
	buf_adds(&in,
	    "\",\"timestamp\":\"1710172800\",\"Attribute\":["
	    "{\"type\":\"ip-dst\",\"to_ids\":true,\"value\":"
	    "\"192.0.2.1\",\"uuid\":\"" EV2 "\",\"timestamp\":"
	    "1710172800,\"first_seen\":"
	    "\"2024-03-01T08:00:00.000000+00:00\"}]}}");
	assert_int_equal(feed_misp_event_to_stix(buf_cstr(&in), in.len, &o, &b,
			     &res, err, sizeof(err)),
	    0);
	assert_int_equal(res.nindicators, 1);
	assert_non_null(env = json_loadb(b.data, b.len, 0, NULL));
	obj = json_array_get(json_object_get(env, "objects"), 0);
	assert_string_equal(
	    json_string_value(json_object_get(obj, "valid_from")),
	    "2024-03-01T08:00:00.000Z");
	/* then its ipv4-addr, then the report */
	obj = json_array_get(json_object_get(env, "objects"), 1);
	assert_string_equal(
	    json_string_value(json_object_get(obj, "type")), "ipv4-addr");
	obj = json_array_get(json_object_get(env, "objects"), 2);
	assert_non_null(name = json_string_value(json_object_get(obj, "name")));
	assert_int_equal(strlen(name), FEED_MISP_MAX_INFO);
	json_decref(env);
	buf_clear(&in);
	buf_clear(&b);
}

static int
hash_cb(const char *md5, const unsigned char uuid[16], void *arg)
{
	size_t *n = arg;

	assert_int_equal(strlen(md5), 32);
	(void)uuid;
	(*n)++;
	return 0;
}

static void
t_hashes(void **state)
{
	size_t len, n = 0, nbad, firstbad;
	char *text = slurp(DIR "hashes.csv", &len);

	(void)state;
	assert_int_equal(
	    feed_misp_hashes_parse(text, len, hash_cb, &n, &nbad, &firstbad),
	    0);
	assert_int_equal(n, 23);
	assert_int_equal(nbad, 1);
	assert_int_equal(firstbad, 4);
	free(text);
}

/* The clean feed trees: each event of the manifest (uuid, indicators,
 * attributes, TLP of the event). */
struct tree_ev {
	const char *uuid;
	size_t nind, nattrs;
	enum tlp tlp;
};

#define FEED1 "tests/fixtures/misp-feed/"
#define FEED2 "tests/fixtures/misp-feed-v2/"
#define FE(n) "a1b2c3d4-000" #n "-4a00-8000-00000000e00" #n

/* Parses dir's manifest (every entry of evs, nothing else), converts each
 * event (all objects valid, none malformed) and walks hashes.csv (nhashes
 * lines, each naming an event of the manifest). */
static void
check_tree(const char *dir, const struct tree_ev *evs, size_t nev,
    size_t nhashes, struct feed_misp_manifest *m)
{
	struct feed_misp_result res;
	char err[FEED_MISP_ERRLEN], path[160];
	size_t len, i, j, n = 0, nbad = 0, firstbad = 0;
	char *text;
	json_t *env;

	snprintf(path, sizeof(path), "%smanifest.json", dir);
	text = slurp(path, &len);
	if (feed_misp_manifest_parse(text, len, m, err, sizeof(err)) != 0)
		fail_msg("%s: %s", path, err);
	free(text);
	assert_int_equal(m->n, nev);
	assert_int_equal(m->nbad, 0);
	for (i = 0; i < nev; i++) {
		for (j = 0; j < m->n; j++)
			if (strcmp(m->ev[j].uuid_s, evs[i].uuid) == 0)
				break;
		if (j == m->n)
			fail_msg(
			    "%s: %s not in the manifest", dir, evs[i].uuid);
		assert_true(m->ev[j].ntags >= 1);
		assert_int_equal(strncmp(m->ev[j].tags[0], "tlp:", 4), 0);
		snprintf(path, sizeof(path), "%s%s.json", dir, evs[i].uuid);
		env = convert(path, &res);
		if (res.nbad != 0)
			fail_msg("%s: %s", path, res.firstbad);
		assert_int_equal(res.nindicators, evs[i].nind);
		assert_int_equal(res.nattrs, evs[i].nattrs);
		assert_int_equal(res.nskipped, evs[i].nattrs - evs[i].nind);
		assert_int_equal(res.tlp, evs[i].tlp);
		/* the indicators, their SCOs and the report */
		assert_true(res.nscos > 0);
		assert_int_equal(
		    json_array_size(json_object_get(env, "objects")),
		    evs[i].nind + res.nscos + 1);
		json_decref(env);
	}
	snprintf(path, sizeof(path), "%shashes.csv", dir);
	text = slurp(path, &len);
	assert_int_equal(
	    feed_misp_hashes_parse(text, len, hash_cb, &n, &nbad, &firstbad),
	    0);
	assert_int_equal(n, nhashes);
	assert_int_equal(nbad, 0);
	free(text);
}

static void
t_feed_tree(void **state)
{
	static const struct tree_ev v1[] = {
	    {FE(1), 6, 7, TLP_GREEN},
	    {FE(2), 5, 8, TLP_AMBER},
	    {FE(3), 4, 5, TLP_GREEN},
	};
	static const struct tree_ev v2[] = {
	    {FE(1), 6, 7, TLP_GREEN},
	    {FE(2), 6, 9, TLP_AMBER},
	    {FE(3), 4, 5, TLP_GREEN},
	    {FE(4), 2, 2, TLP_GREEN},
	};
	struct feed_misp_manifest m1, m2;
	struct feed_misp_result res;
	struct buf st = BUF_INIT;
	json_t *env;
	size_t i;

	(void)state;
	check_tree(FEED1, v1, 3, 22, &m1);
	check_tree(FEED2, v2, 4, 25, &m2);

	/* the attribute's own tlp:amber on an event that is green */
	env = convert(FEED1 FE(3) ".json", &res);
	assert_int_equal(tlp_of(object_with(env, "dst_port = 443")), TLP_AMBER);
	assert_int_equal(
	    tlp_of(object_with(env, "login-portal.example'")), TLP_GREEN);
	json_decref(env);

	/* v1 all stored, then v2: the changed event and the new one only */
	assert_int_equal(feed_misp_manifest_plan(&m1, NULL, 0), 3);
	for (i = 0; i < m1.n; i++)
		m1.ev[i].done = 1;
	assert_int_equal(feed_misp_state_build(&m1, NULL, 0, &st), 0);
	assert_int_equal(feed_misp_manifest_plan(&m2, st.data, st.len), 2);
	for (i = 0; i < m2.n; i++)
		assert_int_equal(m2.ev[i].fetch,
		    strcmp(m2.ev[i].uuid_s, FE(2)) == 0 ||
			strcmp(m2.ev[i].uuid_s, FE(4)) == 0);
	feed_misp_manifest_clear(&m1);
	feed_misp_manifest_clear(&m2);
	buf_clear(&st);
}

/* "type text tlp" lines of an envelope's indicators, sorted. */
struct obsset {
	char *v[64];
	size_t n;
	enum tlp tlp;
};

static int
obs_collect(const struct obs *o, void *arg)
{
	struct obsset *s = arg;
	char line[OBS_TEXT_MAX + 64];

	assert_true(s->n < 64);
	snprintf(line, sizeof(line), "%s %s %d", obs_type_name(o->type),
	    o->text, (int)s->tlp);
	s->v[s->n++] = strdup(line);
	return 0;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
collect(json_t *env, struct obsset *s)
{
	struct pattern *pat;
	json_t *obj;
	const char *p;
	size_t i;

	json_array_foreach(json_object_get(env, "objects"), i, obj)
	{
		if ((p = json_string_value(json_object_get(obj, "pattern"))) ==
		    NULL)
			continue;
		assert_non_null(pat = pattern_parse(p, strlen(p), NULL, 0));
		s->tlp = tlp_of(obj);
		obs_from_pattern(pat, obs_collect, s);
		pattern_free(pat);
	}
	qsort(s->v, s->n, sizeof(char *), cmpstr);
}

/* Adds each indicator of env to the export, as the hub would from its
 * store: its id, producer, TLP, modified and pattern observables. */
static int
export_cb(const struct obs *o, void *arg)
{
	struct feed_misp_obs *mo = arg;
	size_t i;

	for (i = 0; mo[i].text != NULL; i++)
		;
	mo[i].type = o->type;
	mo[i].text = strdup(o->text);
	return 0;
}

static void
export_env(struct feed_misp_export *x, json_t *env)
{
	struct feed_misp_out_item it;
	struct feed_misp_obs mo[8];
	struct pattern *pat;
	json_t *obj;
	const char *p;
	size_t i, j;

	json_array_foreach(json_object_get(env, "objects"), i, obj)
	{
		if ((p = json_string_value(json_object_get(obj, "pattern"))) ==
		    NULL)
			continue;
		memset(mo, 0, sizeof(mo));
		assert_non_null(pat = pattern_parse(p, strlen(p), NULL, 0));
		obs_from_pattern(pat, export_cb, mo);
		pattern_free(pat);
		memset(&it, 0, sizeof(it));
		it.id = json_string_value(json_object_get(obj, "id"));
		it.producer = PRODUCER;
		it.producer_name = "CIRCL";
		it.tlp = tlp_of(obj);
		it.created = it.modified = 1710172800000000LL + (int64_t)i;
		for (it.nobs = 0; mo[it.nobs].text != NULL; it.nobs++)
			;
		it.obs = mo;
		assert_int_equal(feed_misp_export_add(x, &it), 0);
		for (j = 0; j < it.nobs; j++)
			free((char *)(uintptr_t)mo[j].text);
	}
}

static void
t_roundtrip(void **state)
{
	struct feed_misp_result res;
	struct feed_misp_manifest m;
	struct feed_misp_export *x;
	struct obsset a, b;
	struct buf mb = BUF_INIT, eb = BUF_INIT, hb = BUF_INIT, sb = BUF_INIT;
	struct feed_misp_opts o = opts();
	char err[FEED_MISP_ERRLEN];
	json_t *env1, *env2, *back;
	size_t i, n = 0, nbad;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	env1 = convert(DIR EV1 ".json", &res);
	env2 = convert(DIR EV2 ".json", &res);
	collect(env1, &a);
	collect(env2, &a);
	qsort(a.v, a.n, sizeof(char *), cmpstr);

	assert_non_null(x = feed_misp_export_new());
	export_env(x, env1);
	export_env(x, env2);
	/* one producer, one day: one event */
	assert_int_equal(feed_misp_export_nevents(x), 1);
	assert_int_equal(feed_misp_export_manifest(x, &mb), 0);
	assert_int_equal(feed_misp_export_hashes(x, &hb), 0);
	assert_int_equal(
	    feed_misp_manifest_parse(mb.data, mb.len, &m, err, sizeof(err)), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.nbad, 0);
	assert_string_equal(m.ev[0].uuid_s, feed_misp_export_uuid(x, 0));
	{
		/* the server's way to the day of an event: any time of the
		 * day gives its uuid, the next day another */
		char u[37];

		feed_misp_export_event_uuid(PRODUCER, 1710115200000000LL, u);
		assert_string_equal(u, m.ev[0].uuid_s);
		feed_misp_export_event_uuid(
		    PRODUCER, 1710115200000000LL + 86399999999LL, u);
		assert_string_equal(u, m.ev[0].uuid_s);
		feed_misp_export_event_uuid(
		    PRODUCER, 1710115200000000LL + 86400000000LL, u);
		assert_string_not_equal(u, m.ev[0].uuid_s);
	}
	assert_int_equal(feed_misp_export_event(x, "no-such-uuid", &eb), -1);
	assert_int_equal(feed_misp_export_event(x, m.ev[0].uuid_s, &eb), 0);
	assert_int_equal(feed_misp_event_to_stix(
			     eb.data, eb.len, &o, &sb, &res, err, sizeof(err)),
	    0);
	assert_int_equal(res.nbad, 0);
	assert_int_equal(res.nskipped, 0);
	assert_int_equal(res.nindicators, a.n);
	assert_int_equal(
	    feed_misp_hashes_parse(hb.data, hb.len, hash_cb, &n, &nbad, NULL),
	    0);
	assert_int_equal(n, a.n);
	assert_int_equal(nbad, 0);
	assert_non_null(back = json_loadb(sb.data, sb.len, 0, NULL));
	collect(back, &b);
	/* same observables with the same TLP, nothing more */
	assert_int_equal(a.n, b.n);
	for (i = 0; i < a.n; i++)
		assert_string_equal(a.v[i], b.v[i]);
	for (i = 0; i < a.n; i++) {
		free(a.v[i]);
		free(b.v[i]);
	}
	json_decref(back);
	json_decref(env1);
	json_decref(env2);
	feed_misp_manifest_clear(&m);
	feed_misp_export_free(x);
	feed_misp_export_free(NULL);
	buf_clear(&mb);
	buf_clear(&eb);
	buf_clear(&hb);
	buf_clear(&sb);
}

/* Each allocation failing in turn: a clean -1, never a crash or leak. */
static void
t_oom(void **state)
{
	struct feed_misp_opts o = opts();
	struct feed_misp_result res;
	struct buf b = BUF_INIT;
	char err[FEED_MISP_ERRLEN];
	size_t len;
	char *text = slurp(DIR EV1 ".json", &len);
	long n;
	int r;

	(void)state;
	for (n = 0; n < 5000; n++) {
		hub_alloc_fail_after(n);
		r = feed_misp_event_to_stix(
		    text, len, &o, &b, &res, err, sizeof(err));
		hub_alloc_fail_after(-1);
		buf_clear(&b);
		if (r == 0)
			break;
	}
	assert_true(n < 5000);
	free(text);

	/* the manifest and the state blob */
	text = slurp(DIR "manifest.json", &len);
	for (n = 0; n < 5000; n++) {
		struct feed_misp_manifest m;
		struct buf st = BUF_INIT;

		hub_alloc_fail_after(n);
		r = feed_misp_manifest_parse(text, len, &m, err, sizeof(err));
		if (r == 0) {
			m.ev[0].done = 1;
			r = feed_misp_state_build(&m, NULL, 0, &st);
		} else
			assert_non_null(strstr(err, "out of memory"));
		hub_alloc_fail_after(-1);
		feed_misp_manifest_clear(&m);
		buf_clear(&st);
		if (r == 0)
			break;
	}
	assert_true(n < 5000);
	free(text);

	/* the export */
	for (n = 0; n < 5000; n++) {
		static const struct feed_misp_obs obs[] = {
		    {OBS_IPV4, "192.0.2.1"}};
		struct feed_misp_out_item it = {"indicator--" EV1, PRODUCER,
		    NULL, TLP_GREEN, 1710172800000000LL, 1710172800000000LL,
		    NULL, 0, obs, 1};
		struct feed_misp_export *x;
		struct buf out = BUF_INIT;

		hub_alloc_fail_after(n);
		r = -1;
		if ((x = feed_misp_export_new()) != NULL &&
		    feed_misp_export_add(x, &it) == 0 &&
		    feed_misp_export_manifest(x, &out) == 0 &&
		    feed_misp_export_hashes(x, &out) == 0)
			r = feed_misp_export_event(
			    x, feed_misp_export_uuid(x, 0), &out);
		hub_alloc_fail_after(-1);
		feed_misp_export_free(x);
		buf_clear(&out);
		if (r == 0)
			break;
	}
	assert_true(n < 5000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_manifest),
	    cmocka_unit_test(t_plan_state),
	    cmocka_unit_test(t_event1),
	    cmocka_unit_test(t_event2),
	    cmocka_unit_test(t_scos),
	    cmocka_unit_test(t_malformed),
	    cmocka_unit_test(t_edges),
	    cmocka_unit_test(t_hashes),
	    cmocka_unit_test(t_feed_tree),
	    cmocka_unit_test(t_roundtrip),
	    cmocka_unit_test(t_oom),
	};

	return cmocka_run_group_tests_name("feed_misp", tests, NULL, NULL);
}
