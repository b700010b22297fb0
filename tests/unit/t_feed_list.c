/*
 * t_feed_list.c -- feeds/feed_list.c: plain lists (comments, Spamhaus DROP
 * lines, line numbers of bad lines), CSV quoting (RFC 4180 edge cases,
 * type columns), JSON lists (Feodo Tracker's shape), the real lists of
 * ../shared/data/ioc with their counts, snapshot diffs of an edited list,
 * entries that vanish and return (the same id and created, or a new id
 * when revoked or forgotten), FLS1 snapshots read, and indicators that
 * pass the STIX validator.
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

#include "ctihub/buf.h"
#include "ctihub/observable.h"
#include "ctihub/stix.h"

#include "../../feeds/feed_list.h"

#define IOC "../shared/data/ioc/"

static int
parse(const struct feed_list_cfg *c, const char *s, struct feed_list *l)
{
	char err[128];

	return feed_list_parse(c, s, strlen(s), l, err, sizeof(err));
}

static int
has(const struct feed_list *l, const char *text)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].text, text) == 0)
			return (int)l->v[i].line;
	return 0;
}

static void
t_plain(void **state)
{
	struct feed_list_cfg c = {0};
	struct feed_list l;

	(void)state;
	feed_list_init(&l);
	assert_int_equal(parse(&c,
			     "# header\n"
			     "; Spamhaus DROP\n"
			     "\n"
			     "1.10.16.0/20 ; SBL256894\r\n"
			     "  evil.EXAMPLE.com.  \n"
			     "not a value\n"
			     "1.2.3.4\t7\n"
			     "999.1.1.1\n"
			     "1.2.3.4\n"
			     "http://Evil.example/a?b\n"
			     "44d88612fea8a8f36de82e1278abb02f",
			     &l),
	    0);
	assert_int_equal(l.n, 5);
	assert_int_equal(l.nlines, 11);
	assert_int_equal(l.ndup, 1);
	assert_int_equal(has(&l, "1.10.16.0/20"), 4);
	assert_int_equal(has(&l, "evil.example.com"), 5);
	assert_int_equal(has(&l, "1.2.3.4"), 7); /* the first line kept */
	assert_int_equal(has(&l, "http://evil.example/a?b"), 10);
	assert_int_equal(has(&l, "44d88612fea8a8f36de82e1278abb02f"), 11);
	assert_int_equal(l.nerrors, 2);
	assert_int_equal(l.nkept, 2);
	assert_true(strncmp(l.errors[0], "6: ", 3) == 0);
	assert_true(strncmp(l.errors[1], "8: ipv4", 7) == 0);
	/* sorted by key, strictly */
	for (size_t i = 1; i < l.n; i++)
		assert_true(memcmp(l.v[i - 1].key, l.v[i].key, 1) <= 0);
	/* a configured type */
	c.type = OBS_DOMAIN;
	assert_int_equal(parse(&c, "example.org\n1.2.3.4\n", &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.nerrors, 1);
	/* the entry bound */
	c.type = OBS_NONE;
	c.max_entries = 2;
	assert_int_equal(parse(&c, "1.1.1.1\n2.2.2.2\n3.3.3.3\n", &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.truncated, 1);
	assert_true(strncmp(l.errors[0], "3: more than 2", 14) == 0);
	feed_list_clear(&l);
	feed_list_clear(&l);
}

static void
t_csv(void **state)
{
	struct feed_list_cfg c = {0};
	struct feed_list l;

	(void)state;
	feed_list_init(&l);
	c.format = FEED_LIST_CSV;
	c.quote = 1;
	c.value_col = 2;
	c.type_col = -1;
	/* URLhaus's shape: a '#' header, every field quoted */
	assert_int_equal(
	    parse(&c,
		"# id,dateadded,url,url_status\n"
		"\"1\",\"2025-01-01\",\"http://a.example/x,y\","
		"\"online\"\r\n"
		"\"2\",\"2025\",\"http://b.example/\"\"q\"\"\",\"x\"\n"
		"\"3\",\"multi\nline\",\"http://c.example/\",\"\"\n"
		"\"4\",\"unterminated,\"http://d.example/\n"
		"5,plain,http://e.example/\n"
		"6,short\n"
		"\"7\"x,\"y\",\"http://f.example/\"\n"
		"8,,  http://g.example/  \n"
		"9,x,\"http://h.example/\n\n",
		&l),
	    0);
	assert_int_equal(has(&l, "http://a.example/x,y"), 2);
	assert_int_equal(has(&l, "http://b.example/%22q%22"), 3);
	assert_int_equal(has(&l, "http://c.example/"), 4);
	assert_int_equal(has(&l, "http://e.example/"), 7);
	assert_int_equal(has(&l, "http://g.example/"), 10);
	assert_int_equal(l.n, 5);
	assert_int_equal(l.nerrors, 4);
	assert_true(strncmp(l.errors[0], "6: text after", 13) == 0);
	assert_true(strncmp(l.errors[1], "8: no column 3", 14) == 0);
	assert_true(strncmp(l.errors[2], "9: text after", 13) == 0);
	assert_true(strncmp(l.errors[3], "11: unterminated quote", 22) == 0);
	/* a header to skip, a type column, another delimiter */
	c.value_col = 0;
	c.type_col = 1;
	c.delim = ';';
	c.comment = "#";
	c.skip = 1;
	assert_int_equal(parse(&c,
			     "value;type\n"
			     "1.2.3.4;ip-dst\n"
			     "example.com;hostname\n"
			     "example.net;md5\n"
			     "x;bogus\n"
			     "ab:cd;\n",
			     &l),
	    0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.nerrors, 3);
	assert_true(strncmp(l.errors[0], "4: md5", 6) == 0);
	assert_true(strncmp(l.errors[1], "5: unknown type", 15) == 0);
	feed_list_clear(&l);
}

static void
t_json(void **state)
{
	struct feed_list_cfg c = {0};
	struct feed_list l;
	char deep[300];

	(void)state;
	feed_list_init(&l);
	c.format = FEED_LIST_JSON;
	c.member = "ip_address";
	assert_int_equal(
	    parse(&c,
		"[{\"ip_address\":\"162.243.103.246\",\"port\":8080,"
		"\"status\":\"offline\",\"hostname\":null,"
		"\"as_number\":14061,\"malware\":\"Emotet\"},"
		"{\"ip_address\":\"50.16.16.211\",\"port\":8080},"
		"{\"port\":1},\"9.9.9.9\",{\"ip_address\":\"x\"}]",
		&l),
	    0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.nlines, 5);
	assert_int_equal(l.nerrors, 3);
	assert_true(strncmp(l.errors[0], "3: not an object", 16) == 0);
	c.member = NULL;
	assert_int_equal(parse(&c, "[\"1.2.3.4\", \"example.com\", 5]", &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.nerrors, 1);
	assert_int_equal(parse(&c, "{\"a\":1}", &l), 0);
	assert_int_equal(l.nerrors, 1);
	assert_int_equal(parse(&c, "[\"1.2.3.4\"", &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(l.nerrors, 1);
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	assert_int_equal(parse(&c, deep, &l), 0);
	assert_int_equal(l.nerrors, 1);
	assert_non_null(strstr(l.errors[0], "nested deeper"));
	feed_list_clear(&l);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	p = malloc((size_t)n + 1);
	*len = fread(p, 1, (size_t)n, f);
	fclose(f);
	return p;
}

static void
real(const char *path, int type, size_t expect)
{
	struct feed_list_cfg c = {0};
	struct feed_list l;
	struct feed_diff d, d2;
	size_t len, i;
	char *p = slurp(path, &len);

	if (p == NULL) {
		print_message("skipped: %s not found\n", path);
		return;
	}
	feed_list_init(&l);
	feed_diff_init(&d);
	feed_diff_init(&d2);
	assert_int_equal(feed_list_parse(&c, p, len, &l, NULL, 0), 0);
	assert_int_equal(l.n + l.ndup, expect);
	assert_int_equal(l.nerrors, 0);
	for (i = 0; i < l.n; i++)
		assert_int_equal(l.v[i].type, type);
	assert_int_equal(
	    feed_list_diff(&l, NULL, 0, 1000, FEED_LIST_EXPIRE, &d, NULL, 0),
	    0);
	assert_int_equal(d.nadded, l.n);
	assert_int_equal(feed_list_diff(&l, d.blob, d.bloblen, 2000,
			     FEED_LIST_EXPIRE, &d2, NULL, 0),
	    0);
	assert_int_equal(d2.nadded, 0);
	assert_int_equal(d2.ngone, 0);
	assert_int_equal(d2.bloblen, d.bloblen);
	assert_memory_equal(d2.blob, d.blob, d.bloblen);
	print_message("%s: %zu entries, %zu duplicates, snapshot %zu bytes\n",
	    path, l.n, l.ndup, d.bloblen);
	feed_diff_clear(&d);
	feed_diff_clear(&d2);
	feed_list_clear(&l);
	free(p);
}

static void
t_real(void **state)
{
	(void)state;
	real(IOC "ip/ipsum-level3.txt", OBS_IPV4, 14217);
	real(IOC "domain/maltrail-interlock-2.txt", OBS_DOMAIN, 24691);
	real(IOC "hash/eset-nukesped_lazarus-samples.sha256", OBS_SHA256, 555);
}

static void
t_diff(void **state)
{
	struct feed_list_cfg c = {0};
	struct feed_list l;
	struct feed_diff d, d2;
	static const char long_url[] =
	    "http://long.example/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "a";
	char v1[1024], v2[1024];
	char err[64];

	(void)state;
	feed_list_init(&l);
	feed_diff_init(&d);
	feed_diff_init(&d2);
	snprintf(v1, sizeof(v1),
	    "1.1.1.1\n2.2.2.2\nexample.com\n%s\n2001:db8::1\n", long_url);
	snprintf(
	    v2, sizeof(v2), "2.2.2.2\n3.3.3.3\n2001:DB8::1\nexample.org\n");
	assert_int_equal(parse(&c, v1, &l), 0);
	assert_int_equal(l.n, 5);
	assert_int_equal(
	    feed_list_diff(&l, NULL, 0, 1000000, FEED_LIST_EXPIRE, &d, NULL, 0),
	    0);
	assert_int_equal(d.nadded, 5);
	assert_int_equal(parse(&c, v2, &l), 0);
	assert_int_equal(feed_list_diff(&l, d.blob, d.bloblen, 5000000,
			     FEED_LIST_EXPIRE, &d2, NULL, 0),
	    0);
	/* new: 3.3.3.3 and example.org; gone: 1.1.1.1, example.com, the URL */
	assert_int_equal(d2.nadded, 2);
	assert_string_equal(l.v[d2.added[0]].text, "3.3.3.3");
	assert_string_equal(l.v[d2.added[1]].text, "example.org");
	assert_int_equal(d2.ngone, 3);
	assert_string_equal(d2.gone[0].text, "1.1.1.1");
	assert_int_equal(d2.gone[0].created, 1000000);
	assert_string_equal(d2.gone[1].text, "example.com");
	assert_string_equal(d2.gone[2].text, long_url);
	assert_int_equal(d2.gone[2].type, OBS_URL);
	/* a broken snapshot is refused, not half-trusted */
	assert_int_equal(feed_list_diff(&l, d.blob, d.bloblen - 1, 1,
			     FEED_LIST_EXPIRE, &d2, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "snapshot: truncated record");
	assert_int_equal(feed_list_diff(&l, d.blob, d.bloblen + 0, 1,
			     FEED_LIST_EXPIRE, &d2, err, sizeof(err)),
	    0);
	d.blob[41] = 0; /* 2.2.2.2 -> 0.2.2.2, before 1.1.1.1 */
	assert_int_equal(feed_list_diff(&l, d.blob, d.bloblen, 1,
			     FEED_LIST_EXPIRE, &d2, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "snapshot: keys out of order");
	d.blob[41] = 2;
	assert_int_equal(feed_list_diff(&l, "FLS1\0\0\0\1", 8, 1,
			     FEED_LIST_EXPIRE, &d2, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "snapshot: truncated record");
	/* a hostile first-seen time or type */
	memcpy(d.blob + 14, "\x01", 1);
	assert_int_equal(feed_list_diff(&l, d.blob, d.bloblen, 1,
			     FEED_LIST_EXPIRE, &d2, NULL, 0),
	    0);
	memset(d.blob + 22, 0x7f, 1); /* created */
	assert_int_equal(feed_list_diff(&l, d.blob, d.bloblen, 1,
			     FEED_LIST_EXPIRE, &d2, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "snapshot: bad entry");
	memset(d.blob + 22, 0, 1);
	memcpy(d.blob + 14, "\x00", 1);
	assert_int_equal(feed_list_diff(&l, d.blob, d.bloblen, 1,
			     FEED_LIST_EXPIRE, &d2, err, sizeof(err)),
	    -1);
	feed_diff_clear(&d);
	feed_diff_clear(&d2);
	feed_list_clear(&l);
}

static void
validate(const char *env, size_t expect)
{
	json_error_t je;
	json_t *doc = json_loads(env, 0, &je), *o;
	struct stix_report rep;
	size_t i;

	assert_non_null(doc);
	assert_int_equal(
	    json_array_size(json_object_get(doc, "objects")), expect);
	json_array_foreach(json_object_get(doc, "objects"), i, o)
	{
		int r = stix_validate(o, NULL, NULL, &rep);

		if (r != 0 || rep.nwarnings != 0) {
			char s[256];

			stix_finding_str(&rep.findings[0], s, sizeof(s));
			print_message("%s\n", s);
		}
		assert_int_equal(r, 0);
		assert_int_equal(rep.nwarnings, 0);
	}
	json_decref(doc);
}

/*
 * One run of a list: l parsed from text, diffed at now against *blob
 * (replaced by the new one), every object of the diff rendered and
 * validated; returns the objects (caller decrefs), the diff in *d.
 */
static json_t *
step(const char *text, int64_t now, int mode, unsigned char **blob,
    size_t *bloblen, struct feed_diff *d)
{
	struct feed_list_cfg c = {0};
	struct feed_list_stix s = {0};
	struct feed_list l;
	struct buf b;
	size_t pos = 0;
	json_t *doc, *objs;

	s.producer = "identity--0f5c7b5e-3c71-4b5e-9f0a-2c1d9f7e6a01";
	s.mode = mode;
	s.now = now;
	feed_list_init(&l);
	buf_init(&b);
	assert_int_equal(parse(&c, text, &l), 0);
	assert_int_equal(
	    feed_list_diff(&l, *blob, *bloblen, now, mode, d, NULL, 0), 0);
	assert_true(feed_list_envelope(&b, &s, &l, d, &pos, 1000) >= 0);
	assert_int_equal(pos, feed_diff_total(d));
	validate(buf_cstr(&b), feed_diff_total(d));
	doc = json_loads(buf_cstr(&b), 0, NULL);
	objs = json_incref(json_object_get(doc, "objects"));
	json_decref(doc);
	free(*blob);
	*blob = malloc(d->bloblen);
	memcpy(*blob, d->blob, d->bloblen);
	*bloblen = d->bloblen;
	buf_clear(&b);
	feed_list_clear(&l);
	return objs;
}

static const char *
member(json_t *objs, size_t i, const char *name)
{
	return json_string_value(
	    json_object_get(json_array_get(objs, i), name));
}

#define T1   1735689600000000LL /* 2025-01-01 */
#define HOUR 3600000000LL

static void
t_return(void **state)
{
	struct feed_list_stix s = {0};
	struct feed_diff d;
	unsigned char *blob = NULL, *keep;
	size_t bloblen = 0, keeplen, present;
	char id[FEED_LIST_ID_LEN + 1], id2[FEED_LIST_ID_LEN + 1];
	json_t *o;

	(void)state;
	s.producer = "identity--0f5c7b5e-3c71-4b5e-9f0a-2c1d9f7e6a01";
	feed_diff_init(&d);
	/* new: the id of the value alone (a salted id, with a first-seen
	 * time, is only for an indicator reborn after a revocation) */
	o = step(
	    "1.1.1.1\n2.2.2.2\n", T1, FEED_LIST_EXPIRE, &blob, &bloblen, &d);
	assert_int_equal(d.nadded, 2);
	assert_int_equal(feed_list_id(&s, OBS_IPV4, "1.1.1.1", 7, -1, id), 0);
	assert_string_equal(member(o, 0, "id"), id);
	assert_int_equal(feed_list_id(&s, OBS_IPV4, "1.1.1.1", 7, T1, id2), 0);
	assert_string_not_equal(id, id2);
	assert_int_equal(
	    feed_list_id(&s, OBS_IPV4, "1.1.1.1", 7, T1 + 1, id2), 0);
	assert_string_not_equal(id, id2);
	json_decref(o);
	/* vanished: expired, kept in the snapshot as gone */
	o = step("2.2.2.2\n", T1 + HOUR, FEED_LIST_EXPIRE, &blob, &bloblen, &d);
	assert_int_equal(d.ngone, 1);
	assert_int_equal(d.nrecords, 2);
	assert_int_equal(feed_list_snap_present(blob, bloblen, &present), 0);
	assert_int_equal(present, 1);
	assert_string_equal(member(o, 0, "id"), id);
	assert_string_equal(
	    member(o, 0, "valid_until"), "2025-01-01T01:00:00.000Z");
	json_decref(o);
	keeplen = bloblen;
	keep = malloc(bloblen);
	memcpy(keep, blob, bloblen);
	/* still gone: nothing */
	o = step(
	    "2.2.2.2\n", T1 + 2 * HOUR, FEED_LIST_EXPIRE, &blob, &bloblen, &d);
	assert_int_equal(json_array_size(o), 0);
	assert_int_equal(d.nold, 1);
	assert_int_equal(d.nrecords, 2);
	assert_true(bloblen == keeplen && memcmp(blob, keep, keeplen) == 0);
	json_decref(o);
	/* back (expire): the same id and created, valid again */
	o = step("1.1.1.1\n2.2.2.2\n", T1 + 3 * HOUR, FEED_LIST_EXPIRE, &blob,
	    &bloblen, &d);
	assert_int_equal(d.nadded, 0);
	assert_int_equal(d.nback, 1);
	assert_int_equal(json_array_size(o), 1);
	assert_string_equal(member(o, 0, "id"), id);
	assert_string_equal(
	    member(o, 0, "created"), "2025-01-01T00:00:00.000Z");
	assert_string_equal(
	    member(o, 0, "modified"), "2025-01-01T03:00:00.000Z");
	assert_string_equal(
	    member(o, 0, "valid_from"), "2025-01-01T03:00:00.000Z");
	assert_null(json_object_get(json_array_get(o, 0), "valid_until"));
	assert_null(json_object_get(json_array_get(o, 0), "revoked"));
	json_decref(o);
	/* gone and back within a millisecond: modified still after the
	 * expired version's */
	json_decref(step(
	    "2.2.2.2\n", T1 + 4 * HOUR, FEED_LIST_EXPIRE, &blob, &bloblen, &d));
	o = step("1.1.1.1\n2.2.2.2\n", T1 + 4 * HOUR + 200, FEED_LIST_EXPIRE,
	    &blob, &bloblen, &d);
	assert_int_equal(d.nback, 1);
	assert_string_equal(member(o, 0, "id"), id);
	assert_string_equal(
	    member(o, 0, "modified"), "2025-01-01T04:00:00.001Z");
	json_decref(o);

	/* back (revoke): a new indicator, first seen now */
	free(blob);
	blob = malloc(keeplen);
	memcpy(blob, keep, keeplen);
	bloblen = keeplen;
	o = step("1.1.1.1\n2.2.2.2\n", T1 + 3 * HOUR, FEED_LIST_REVOKE, &blob,
	    &bloblen, &d);
	assert_int_equal(d.nadded, 1);
	assert_int_equal(d.nback, 0);
	assert_int_equal(
	    feed_list_id(&s, OBS_IPV4, "1.1.1.1", 7, T1 + 3 * HOUR, id2), 0);
	assert_string_equal(member(o, 0, "id"), id2);
	assert_string_not_equal(id, id2);
	assert_string_equal(
	    member(o, 0, "created"), "2025-01-01T03:00:00.000Z");
	json_decref(o);
	/* and revoked again: the new id */
	o = step(
	    "2.2.2.2\n", T1 + 5 * HOUR, FEED_LIST_REVOKE, &blob, &bloblen, &d);
	assert_int_equal(d.ngone, 1);
	assert_string_equal(member(o, 0, "id"), id2);
	assert_string_equal(
	    member(o, 0, "created"), "2025-01-01T03:00:00.000Z");
	assert_true(
	    json_is_true(json_object_get(json_array_get(o, 0), "revoked")));
	json_decref(o);
	/* revoked stays revoked: back in expire mode, still a new id */
	o = step("1.1.1.1\n2.2.2.2\n", T1 + 6 * HOUR, FEED_LIST_EXPIRE, &blob,
	    &bloblen, &d);
	assert_int_equal(d.nadded, 1);
	assert_int_equal(d.nback, 0);
	assert_string_not_equal(member(o, 0, "id"), id2);
	assert_string_not_equal(member(o, 0, "id"), id);
	assert_string_equal(
	    member(o, 0, "created"), "2025-01-01T06:00:00.000Z");
	json_decref(o);

	/* forgotten FEED_LIST_FORGET after it vanished; back after that:
	 * a new id */
	free(blob);
	blob = malloc(keeplen);
	memcpy(blob, keep, keeplen);
	bloblen = keeplen;
	json_decref(step("2.2.2.2\n", T1 + HOUR + FEED_LIST_FORGET - 1,
	    FEED_LIST_EXPIRE, &blob, &bloblen, &d));
	assert_int_equal(d.nrecords, 2);
	json_decref(step("2.2.2.2\n", T1 + HOUR + FEED_LIST_FORGET,
	    FEED_LIST_EXPIRE, &blob, &bloblen, &d));
	assert_int_equal(d.nrecords, 1);
	/* forgotten, then back: new to the snapshot, the value's id (a new
	 * version with a new created: the one case left, after 180 days) */
	o = step("1.1.1.1\n2.2.2.2\n", T1 + HOUR + FEED_LIST_FORGET + 1,
	    FEED_LIST_EXPIRE, &blob, &bloblen, &d);
	assert_int_equal(d.nadded, 1);
	assert_int_equal(d.nback, 0);
	assert_string_equal(member(o, 0, "id"), id);
	json_decref(o);
	/* a record still held, however old: back with its created */
	free(blob);
	blob = malloc(keeplen);
	memcpy(blob, keep, keeplen);
	bloblen = keeplen;
	o = step("1.1.1.1\n2.2.2.2\n", T1 + HOUR + FEED_LIST_FORGET,
	    FEED_LIST_EXPIRE, &blob, &bloblen, &d);
	assert_int_equal(d.nadded, 0);
	assert_int_equal(d.nback, 1);
	assert_string_equal(member(o, 0, "id"), id);
	assert_string_equal(
	    member(o, 0, "created"), "2025-01-01T00:00:00.000Z");
	json_decref(o);

	/* an empty list: everything gone, all records kept */
	o = step("", T1 + 2 * HOUR + FEED_LIST_FORGET, FEED_LIST_EXPIRE, &blob,
	    &bloblen, &d);
	assert_int_equal(d.ngone, 2);
	assert_int_equal(d.nrecords, 2);
	assert_int_equal(feed_list_snap_present(blob, bloblen, &present), 0);
	assert_int_equal(present, 0);
	json_decref(o);
	/* a present count that does not match is refused */
	{
		char err[64];
		struct feed_list l;
		struct feed_list_cfg c = {0};

		feed_list_init(&l);
		blob[11] = 1;
		assert_int_equal(parse(&c, "", &l), 0);
		assert_int_equal(feed_list_diff(&l, blob, bloblen, T1,
				     FEED_LIST_EXPIRE, &d, err, sizeof(err)),
		    -1);
		assert_string_equal(err, "snapshot: bad present count");
		feed_list_clear(&l);
	}
	free(keep);
	free(blob);
	feed_diff_clear(&d);
}

/* An FLS1 snapshot (before the gone records) is read: its entries are
 * present, with unsalted ids; the next blob is FLS2. */
static void
t_fls1(void **state)
{
	struct feed_list_stix s = {0};
	struct feed_list_cfg c = {0};
	struct feed_list l;
	struct feed_diff d;
	unsigned char *blob;
	size_t bloblen, present;
	char id[FEED_LIST_ID_LEN + 1];
	json_t *o;
	int64_t t = T1 - 86400000000LL;
	int i;

	(void)state;
	s.producer = "identity--0f5c7b5e-3c71-4b5e-9f0a-2c1d9f7e6a01";
	feed_list_init(&l);
	feed_diff_init(&d);
	assert_int_equal(parse(&c, "1.1.1.1\n", &l), 0);
	bloblen = 8 + 2 + l.v[0].keylen + 2 + 8;
	blob = malloc(bloblen);
	memcpy(blob, "FLS1\0\0\0\1", 8);
	blob[8] = 0;
	blob[9] = (unsigned char)l.v[0].keylen;
	memcpy(blob + 10, l.v[0].key, l.v[0].keylen);
	blob[10 + l.v[0].keylen] = 0;
	blob[11 + l.v[0].keylen] = 0;
	for (i = 0; i < 8; i++)
		blob[12 + l.v[0].keylen + i] =
		    (unsigned char)((uint64_t)t >> (56 - 8 * i));
	assert_int_equal(feed_list_snap_present(blob, bloblen, &present), 0);
	assert_int_equal(present, 1);
	feed_list_clear(&l);
	o = step(
	    "1.1.1.1\n3.3.3.3\n", T1, FEED_LIST_EXPIRE, &blob, &bloblen, &d);
	assert_int_equal(d.nadded, 1);
	assert_int_equal(d.nold, 1);
	assert_memory_equal(blob, "FLS2", 4);
	json_decref(o);
	o = step("3.3.3.3\n", T1 + HOUR, FEED_LIST_EXPIRE, &blob, &bloblen, &d);
	assert_int_equal(d.ngone, 1);
	assert_int_equal(feed_list_id(&s, OBS_IPV4, "1.1.1.1", 7, -1, id), 0);
	assert_string_equal(member(o, 0, "id"), id);
	assert_string_equal(
	    member(o, 0, "created"), "2024-12-31T00:00:00.000Z");
	json_decref(o);
	o = step("1.1.1.1\n3.3.3.3\n", T1 + 2 * HOUR, FEED_LIST_EXPIRE, &blob,
	    &bloblen, &d);
	assert_int_equal(d.nback, 1);
	assert_string_equal(member(o, 0, "id"), id);
	assert_string_equal(
	    member(o, 0, "created"), "2024-12-31T00:00:00.000Z");
	json_decref(o);
	free(blob);
	feed_diff_clear(&d);
}

/* A list that churns: at most FEED_LIST_GONE_MAX gone records are
 * carried on, the oldest forgotten first. */
static void
t_gone_max(void **state)
{
	struct feed_list_cfg c = {0};
	struct feed_list l;
	struct feed_diff d, d2;
	struct buf b;
	size_t n = FEED_LIST_GONE_MAX + 10, i, present;

	(void)state;
	feed_list_init(&l);
	feed_diff_init(&d);
	feed_diff_init(&d2);
	buf_init(&b);
	for (i = 0; i < n; i++)
		buf_addf(
		    &b, "10.%zu.%zu.%zu\n", i >> 16, (i >> 8) & 255, i & 255);
	buf_adds(&b, "1.1.1.1\n");
	assert_int_equal(parse(&c, buf_cstr(&b), &l), 0);
	assert_int_equal(
	    feed_list_diff(&l, NULL, 0, T1, FEED_LIST_EXPIRE, &d, NULL, 0), 0);
	/* the first 10 vanish an hour later, the rest an hour after that */
	buf_reset(&b);
	for (i = 10; i < n; i++)
		buf_addf(
		    &b, "10.%zu.%zu.%zu\n", i >> 16, (i >> 8) & 255, i & 255);
	buf_adds(&b, "1.1.1.1\n");
	assert_int_equal(parse(&c, buf_cstr(&b), &l), 0);
	assert_int_equal(feed_list_diff(&l, d.blob, d.bloblen, T1 + HOUR,
			     FEED_LIST_EXPIRE, &d2, NULL, 0),
	    0);
	assert_int_equal(d2.ngone, 10);
	assert_int_equal(parse(&c, "1.1.1.1\n", &l), 0);
	assert_int_equal(feed_list_diff(&l, d2.blob, d2.bloblen, T1 + 2 * HOUR,
			     FEED_LIST_EXPIRE, &d, NULL, 0),
	    0);
	assert_int_equal(d.ngone, n - 10);
	assert_int_equal(d.nrecords, n + 1); /* all kept: just vanished */
	/* next time, over the bound: the 10 oldest forgotten */
	assert_int_equal(parse(&c, "1.1.1.1\n10.0.0.0\n10.0.0.10\n", &l), 0);
	assert_int_equal(feed_list_diff(&l, d.blob, d.bloblen, T1 + 3 * HOUR,
			     FEED_LIST_EXPIRE, &d2, NULL, 0),
	    0);
	assert_int_equal(d2.nrecords, FEED_LIST_GONE_MAX + 1 + 1);
	/* 10.0.0.0 is one of the 10 oldest, but back in this very run:
	 * its record is still at hand, so it keeps its created; 10.0.0.10
	 * is still known */
	assert_int_equal(d2.nadded, 0);
	assert_int_equal(d2.nback, 2);
	assert_int_equal(
	    feed_list_snap_present(d2.blob, d2.bloblen, &present), 0);
	assert_int_equal(present, 3);
	buf_clear(&b);
	feed_diff_clear(&d);
	feed_diff_clear(&d2);
	feed_list_clear(&l);
}

static void
t_stix(void **state)
{
	static const char *labels[] = {"malicious-activity", "feed:test"};
	struct feed_list_stix s = {0};
	struct feed_list_cfg c = {0};
	struct feed_list l;
	struct feed_diff d, d2;
	struct buf b;
	char id[FEED_LIST_ID_LEN + 1], id2[FEED_LIST_ID_LEN + 1];
	size_t pos = 0;
	long k;

	(void)state;
	s.producer = "identity--0f5c7b5e-3c71-4b5e-9f0a-2c1d9f7e6a01";
	s.created_by_ref = s.producer;
	s.name = "test feed";
	s.labels = labels;
	s.nlabels = 2;
	s.confidence = 70;
	s.marking_ref =
	    "marking-definition--34098fce-860f-48ae-8d50-ebd3cc5e41da";
	s.now = 1735689600000000; /* 2025-01-01 */
	feed_list_init(&l);
	feed_diff_init(&d);
	feed_diff_init(&d2);
	buf_init(&b);
	assert_int_equal(
	    parse(&c,
		"1.2.3.4\n2001:db8::/32\nexample.com\n"
		"http://x.example/it's\\here\nfoo@example.com\n"
		"44d88612fea8a8f36de82e1278abb02f\n"
		"3395856ce81f2b7382dee72602f798b642f14140\n"
		"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4"
		"538aabf651fd0f\nAS64500\naa:bb:cc:dd:ee:ff\n",
		&l),
	    0);
	assert_int_equal(l.n, 10);
	assert_int_equal(
	    feed_list_diff(&l, NULL, 0, s.now, FEED_LIST_EXPIRE, &d, NULL, 0),
	    0);
	k = feed_list_envelope(&b, &s, &l, &d, &pos, 1000);
	assert_int_equal(k, 10);
	assert_int_equal(buf_failed(&b), 0);
	validate(buf_cstr(&b), 10);
	assert_non_null(strstr(buf_cstr(&b),
	    "[url:value = 'http://x.example/it\\\\'s\\\\\\\\here']"));
	assert_non_null(strstr(buf_cstr(&b),
	    "\"pattern\":\"[autonomous-system:number = 64500]\""));
	assert_non_null(strstr(buf_cstr(&b), "[file:hashes.'SHA-256' = '275a"));
	/* paging: 4 + 4 + 2 */
	pos = 0;
	buf_reset(&b);
	assert_int_equal(feed_list_envelope(&b, &s, &l, &d, &pos, 4), 4);
	buf_reset(&b);
	assert_int_equal(feed_list_envelope(&b, &s, &l, &d, &pos, 4), 4);
	buf_reset(&b);
	assert_int_equal(feed_list_envelope(&b, &s, &l, &d, &pos, 4), 2);
	validate(buf_cstr(&b), 2);
	/* deterministic ids: producer and value */
	assert_int_equal(feed_list_id(&s, OBS_IPV4, "1.2.3.4", 7, -1, id), 0);
	assert_int_equal(feed_list_id(&s, OBS_IPV4, "1.2.3.4", 7, -1, id2), 0);
	assert_string_equal(id, id2);
	assert_non_null(strstr(buf_cstr(&b), ""));
	s.producer = "identity--00000000-0000-4000-8000-000000000000";
	assert_int_equal(feed_list_id(&s, OBS_IPV4, "1.2.3.4", 7, -1, id2), 0);
	assert_string_not_equal(id, id2);
	/* vanished: expire, then revoke, with the same ids */
	s.producer = "identity--0f5c7b5e-3c71-4b5e-9f0a-2c1d9f7e6a01";
	assert_int_equal(parse(&c, "example.com\n", &l), 0);
	s.now += 3600000000;
	assert_int_equal(feed_list_diff(&l, d.blob, d.bloblen, s.now,
			     FEED_LIST_EXPIRE, &d2, NULL, 0),
	    0);
	assert_int_equal(d2.nadded, 0);
	assert_int_equal(d2.ngone, 9);
	pos = 0;
	buf_reset(&b);
	assert_int_equal(feed_list_envelope(&b, &s, &l, &d2, &pos, 100), 9);
	validate(buf_cstr(&b), 9);
	assert_non_null(strstr(buf_cstr(&b), id));
	assert_non_null(strstr(
	    buf_cstr(&b), "\"valid_until\":\"2025-01-01T01:00:00.000Z\""));
	assert_non_null(
	    strstr(buf_cstr(&b), "\"created\":\"2025-01-01T00:00:00.000Z\""));
	s.mode = FEED_LIST_REVOKE;
	pos = 0;
	buf_reset(&b);
	assert_int_equal(feed_list_envelope(&b, &s, &l, &d2, &pos, 100), 9);
	validate(buf_cstr(&b), 9);
	assert_non_null(strstr(buf_cstr(&b), "\"revoked\":true"));
	assert_null(strstr(buf_cstr(&b), "valid_until"));
	buf_clear(&b);
	feed_diff_clear(&d);
	feed_diff_clear(&d2);
	feed_list_clear(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_plain),
	    cmocka_unit_test(t_csv),
	    cmocka_unit_test(t_json),
	    cmocka_unit_test(t_real),
	    cmocka_unit_test(t_diff),
	    cmocka_unit_test(t_stix),
	    cmocka_unit_test(t_return),
	    cmocka_unit_test(t_fls1),
	    cmocka_unit_test(t_gone_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
