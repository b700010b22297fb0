/*
 * t_pattern.c -- the STIX 2.1 pattern parser: the specification's examples
 * and grammar corners (tests/suites/pattern-valid/<case>: the pattern),
 * rejected patterns with their messages (tests/suites/pattern-invalid/
 * <case>: the expected message, or part of it, on the first line, the
 * pattern after it), normalisation for pattern_foreach_eq, the depth and
 * length limits, truncated input and allocation failure.  Run from the
 * repository root.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/alloc.h"
#include "ctihub/pattern.h"

#define SUITE_VALID   "tests/suites/pattern-valid"
#define SUITE_INVALID "tests/suites/pattern-invalid"
#define ERRLEN	      256

struct seen {
	int n;
	char type[8][64];
	char path[8][128];
	char value[8][128];
	size_t vlen[8];
};

static char *read_file(const char *, size_t *);
static int list_dir(const char *, char ***);
static void free_list(char **, int);
static struct pattern *parse_copy(const char *, size_t, char *);
static void expect_valid(const char *, size_t, const char *);
static void expect_invalid(const char *, size_t, const char *, const char *);
static int record(const char *, const char *, const char *, size_t, void *);
static void first_eq(const char *, struct seen *);
static void check_eq(const char *, const char *, const char *, const char *);

/* Reads a whole file; drops one trailing newline. */
static char *
read_file(const char *path, size_t *lenp)
{
	FILE *f;
	char *buf;
	long n;

	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((n = ftell(f)) >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	assert_non_null(buf = malloc((size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	*lenp = (size_t)n;
	return buf;
}

static int
list_dir(const char *dir, char ***names)
{
	struct dirent **ents;
	int i, n, k = 0;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		fail_msg("%s: cannot read (run the tests from the repository "
			 "root)",
		    dir);
		return 0;
	}
	assert_non_null(*names = calloc((size_t)n + 1, sizeof(char *)));
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			char path[1024];

			snprintf(
			    path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
			assert_non_null((*names)[k++] = strdup(path));
		}
		free(ents[i]);
	}
	free(ents);
	return k;
}

static void
free_list(char **names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Parses from a heap copy of exactly n bytes, so ASan sees overreads. */
static struct pattern *
parse_copy(const char *s, size_t n, char *err)
{
	struct pattern *pat;
	char *buf;

	assert_non_null(buf = malloc(n > 0 ? n : 1));
	memcpy(buf, s, n);
	pat = pattern_parse(buf, n, err, ERRLEN);
	free(buf);
	return pat;
}

static void
expect_valid(const char *s, size_t n, const char *name)
{
	struct pattern *pat;
	char err[ERRLEN];

	if ((pat = parse_copy(s, n, err)) == NULL)
		fail_msg("%s: rejected: %s\n\t%s", name, err, s);
	pattern_free(pat);
	assert_int_equal(pattern_check(s, n, NULL, 0), 0);
}

static void
expect_invalid(const char *s, size_t n, const char *want, const char *name)
{
	struct pattern *pat;
	char err[ERRLEN];

	if ((pat = parse_copy(s, n, err)) != NULL) {
		pattern_free(pat);
		fail_msg("%s: accepted\n\t%s", name, s);
	}
	if (strncmp(err, "column ", 7) != 0 || strstr(err, want) == NULL ||
	    strlen(err) >= PATTERN_ERRLEN)
		fail_msg("%s: error \"%s\"\n\twanted \"%s\"\n\t%s", name, err,
		    want, s);
	assert_int_equal(pattern_check(s, n, err, sizeof(err)), -1);
}

static int
record(const char *type, const char *path, const char *value, size_t vlen,
    void *arg)
{
	struct seen *sn = arg;

	if (sn->n == 8)
		return 0;
	assert_true(strlen(type) < sizeof(sn->type[0]));
	assert_true(strlen(path) < sizeof(sn->path[0]));
	strcpy(sn->type[sn->n], type);
	strcpy(sn->path[sn->n], path);
	sn->value[sn->n][0] = '\0';
	sn->vlen[sn->n] = vlen;
	if (value != NULL) {
		assert_true(vlen < sizeof(sn->value[0]));
		assert_int_equal(value[vlen], '\0');
		memcpy(sn->value[sn->n], value, vlen + 1);
	}
	sn->n++;
	return 0;
}

static void
first_eq(const char *s, struct seen *sn)
{
	struct pattern *pat;
	char err[ERRLEN];

	memset(sn, 0, sizeof(*sn));
	if ((pat = parse_copy(s, strlen(s), err)) == NULL)
		fail_msg("rejected: %s\n\t%s", err, s);
	assert_int_equal(pattern_foreach_eq(pat, record, sn), 0);
	pattern_free(pat);
}

static void
check_eq(const char *s, const char *type, const char *path, const char *value)
{
	struct seen sn;

	first_eq(s, &sn);
	if (sn.n != 1)
		fail_msg("%d equality values, wanted 1\n\t%s", sn.n, s);
	assert_string_equal(sn.type[0], type);
	assert_string_equal(sn.path[0], path);
	assert_string_equal(sn.value[0], value);
	assert_int_equal(sn.vlen[0], strlen(value));
}

static void
t_suite_valid(void **state)
{
	char **names, *s;
	size_t n;
	int i, k;

	(void)state;
	k = list_dir(SUITE_VALID, &names);
	assert_true(k >= 50);
	for (i = 0; i < k; i++) {
		s = read_file(names[i], &n);
		expect_valid(s, n, names[i]);
		free(s);
	}
	free_list(names, k);
}

static void
t_suite_invalid(void **state)
{
	char **names, *s, *nl;
	size_t n;
	int i, k;

	(void)state;
	k = list_dir(SUITE_INVALID, &names);
	assert_true(k >= 50);
	for (i = 0; i < k; i++) {
		s = read_file(names[i], &n);
		if ((nl = strchr(s, '\n')) == NULL)
			fail_msg("%s: no message line", names[i]);
		*nl = '\0';
		expect_invalid(nl + 1, n - (size_t)(nl + 1 - s), s, names[i]);
		free(s);
	}
	free_list(names, k);
}

/* Whitespace, comments, NUL bytes and lengths the files cannot show. */
static void
t_bytes(void **state)
{
	static const char nul[] = "[a:b = 'x\0y']";
	static const char nulout[] = "[a:b = 'x']\0";
	static const char ws[] =
	    "\xc2\x85[\xc2\xa0"
	    "a\xe1\x9a\x80:\xe2\x80\x80"
	    "b\xe2\x80\x8a=\xe2\x80\xa8"
	    "1\xe2\x80\xa9]\xe2\x80\xaf\xe2\x81\x9f\xe3\x80\x80"
	    "\v\f";
	static const char zwsp[] = "[a:b =\xe2\x80\x8b"
				   "1]";
	struct seen sn;
	struct pattern *pat;
	char err[ERRLEN];

	(void)state;
	/* a NUL inside a string is a character like any other */
	assert_non_null(pat = parse_copy(nul, sizeof(nul) - 1, err));
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(pattern_foreach_eq(pat, record, &sn), 0);
	assert_int_equal(sn.n, 1);
	assert_int_equal(sn.vlen[0], 3);
	assert_memory_equal(sn.value[0], "x\0y", 4);
	pattern_free(pat);
	/* outside one it is not */
	expect_invalid(nulout, sizeof(nulout) - 1, "found \"\\x00\"", "nul");
	/* the length is n, whatever follows */
	expect_valid("[a:b = 1]garbage", 9, "prefix");
	expect_invalid(
	    "[a:b = 1]", 8, "expected AND, OR or ']', found end", "cut");
	/* every WS character of the grammar, U+0085 to U+3000 */
	expect_valid(ws, sizeof(ws) - 1, "unicode space");
	/* a look-alike is not white space */
	expect_invalid(zwsp, sizeof(zwsp) - 1, "found \"\\xe2\\x80\\x8b\"",
	    "zero width space");
	expect_valid("//x\n[a:b=1]//", 13, "line comments");
	expect_valid("[a:b=1]/**/", 11, "empty comment");
	expect_invalid("[a:b=1]/*/", 10, "found \"/\"", "half comment");
	/* comments are not comments inside strings */
	check_eq("[a:b = '/* x */']", "a", "b", "/* x */");
}

static void
t_normalise(void **state)
{
	static const char md5[] = "cead3f77f6cda6ec00f57d76c9a6879f";
	static const char sha[] =
	    "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f";

	(void)state;
	/* hash names: every spelling the same */
	check_eq("[file:hashes.MD5 = 'CEAD3F77F6CDA6EC00F57D76C9A6879F']",
	    "file", "hashes.MD5", md5);
	check_eq("[file:hashes.'md5'='cead3f77f6cda6ec00f57d76c9a6879f']",
	    "file", "hashes.MD5", md5);
	check_eq("[file:hashes.'MD5' = 'cead3f77f6cda6ec00f57d76c9a6879f']",
	    "file", "hashes.MD5", md5);
	check_eq("[file:hashes.'SHA-256' = 'AEC070645FE53EE3B3763059376134F0"
		 "58CC337247C978ADD178B6CCDFB0019F']",
	    "file", "hashes.'SHA-256'", sha);
	check_eq("[file:hashes.SHA256 = 'aec070645fe53ee3b3763059376134f058cc"
		 "337247c978add178b6ccdfb0019f']",
	    "file", "hashes.'SHA-256'", sha);
	check_eq("[file:hashes.sha256 = 'aec070645fe53ee3b3763059376134f058cc"
		 "337247c978add178b6ccdfb0019f']",
	    "file", "hashes.'SHA-256'", sha);
	check_eq("[file:hashes.'sha_256' = 'aec070645fe53ee3b3763059376134f058"
		 "cc337247c978add178b6ccdfb0019f']",
	    "file", "hashes.'SHA-256'", sha);
	check_eq("[ file : hashes . 'SHA-256' = 'aec070645fe53ee3b3763059376134"
		 "f058cc337247c978add178b6ccdfb0019f' ]",
	    "file", "hashes.'SHA-256'", sha);
	check_eq("[file:hashes.SHA1 = 'AB']", "file", "hashes.'SHA-1'", "ab");
	check_eq(
	    "[file:hashes.'sha-512' = 'AB']", "file", "hashes.'SHA-512'", "ab");
	check_eq(
	    "[file:hashes.SHA3_256 = 'AB']", "file", "hashes.'SHA3-256'", "ab");
	check_eq("[file:hashes.'SHA3-512' = 'AB']", "file", "hashes.'SHA3-512'",
	    "ab");
	check_eq("[file:hashes.tlsh = 'T1AB']", "file", "hashes.TLSH", "t1ab");
	/* ssdeep is base64: its case matters */
	check_eq("[file:hashes.ssdeep = '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhx']",
	    "file", "hashes.SSDEEP", "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhx");
	/* an unknown algorithm: lower case only when it is hex */
	check_eq("[file:hashes.'x-custom' = 'ABCD']", "file",
	    "hashes.'x-custom'", "abcd");
	check_eq("[file:hashes.'x-custom' = 'ABCZ']", "file",
	    "hashes.'x-custom'", "ABCZ");
	/* deeper hashes, x509 and artifacts too */
	check_eq("[file:extensions.'windows-pebinary-ext'.sections[*].hashes."
		 "'sha256' = 'AB']",
	    "file",
	    "extensions.'windows-pebinary-ext'.sections[*].hashes.'SHA-256'",
	    "ab");
	check_eq("[x509-certificate:hashes.'SHA-1' = 'AB']", "x509-certificate",
	    "hashes.'SHA-1'", "ab");
	/* only after "hashes" */
	check_eq("[x-foo:md5 = 'AB']", "x-foo", "md5", "AB");

	/* domains, e-mail and MAC addresses */
	check_eq("[domain-name:value = 'WWW.Example.COM']", "domain-name",
	    "value", "www.example.com");
	check_eq("[email-addr:value = 'John.Doe@Example.COM']", "email-addr",
	    "value", "john.doe@example.com");
	check_eq("[mac-addr:value = 'D2:FB:49:24:37:18']", "mac-addr", "value",
	    "d2:fb:49:24:37:18");
	check_eq("[email-message:from_ref.value = 'Jdoe@Example.com']",
	    "email-message", "from_ref.value", "jdoe@example.com");
	check_eq("[email-message:to_refs[*].value = 'A@B.C']", "email-message",
	    "to_refs[*].value", "a@b.c");
	check_eq("[network-traffic:dst_ref.value = 'Example.COM']",
	    "network-traffic", "dst_ref.value", "example.com");
	check_eq("[network-traffic:dst_ref.value = '2001:DB8::0:1']",
	    "network-traffic", "dst_ref.value", "2001:db8::1");
	check_eq("[domain-name:resolves_to_refs[0].value = '198.51.100.1/32']",
	    "domain-name", "resolves_to_refs[0].value", "198.51.100.1/32");
	/* not an address: left alone */
	check_eq("[x-foo:bar_ref.value = 'Some Thing']", "x-foo",
	    "bar_ref.value", "Some Thing");

	/* IPv6: RFC 5952 */
	check_eq(
	    "[ipv6-addr:value = '2001:0DB8:0000:0000:0000:0000:0000:0001']",
	    "ipv6-addr", "value", "2001:db8::1");
	check_eq("[ipv6-addr:value = '2001:db8:0:0:1:0:0:1']", "ipv6-addr",
	    "value", "2001:db8::1:0:0:1");
	check_eq("[ipv6-addr:value = '2001:db8:0:1:1:1:1:1']", "ipv6-addr",
	    "value", "2001:db8:0:1:1:1:1:1");
	check_eq("[ipv6-addr:value = '2001:0:0:1:0:0:0:1']", "ipv6-addr",
	    "value", "2001:0:0:1::1");
	check_eq("[ipv6-addr:value = '0:0:0:0:0:0:0:0']", "ipv6-addr", "value",
	    "::");
	check_eq("[ipv6-addr:value = '0::1']", "ipv6-addr", "value", "::1");
	check_eq(
	    "[ipv6-addr:value = 'FE80::']", "ipv6-addr", "value", "fe80::");
	check_eq("[ipv6-addr:value = '2001:db8::/064']", "ipv6-addr", "value",
	    "2001:db8::/64");
	check_eq("[ipv6-addr:value = '2001:0db8:dead:beef:0000:0000:0000:0000"
		 "/64']",
	    "ipv6-addr", "value", "2001:db8:dead:beef::/64");
	check_eq("[ipv6-addr:value = '::FFFF:c000:0201']", "ipv6-addr", "value",
	    "::ffff:192.0.2.1");
	check_eq("[ipv6-addr:value = '::ffff:192.0.2.1']", "ipv6-addr", "value",
	    "::ffff:192.0.2.1");
	check_eq("[ipv6-addr:value = '64:ff9b::192.0.2.33']", "ipv6-addr",
	    "value", "64:ff9b::c000:221");
	/* not IPv6: as written */
	check_eq("[ipv6-addr:value = '1:2:3:4:5:6:7:8:9']", "ipv6-addr",
	    "value", "1:2:3:4:5:6:7:8:9");
	check_eq(
	    "[ipv6-addr:value = '1::2::3']", "ipv6-addr", "value", "1::2::3");
	check_eq(
	    "[ipv6-addr:value = 'GGGG::1']", "ipv6-addr", "value", "GGGG::1");
	check_eq(
	    "[ipv6-addr:value = '::1/129']", "ipv6-addr", "value", "::1/129");
	/* IPv4 as written */
	check_eq("[ipv4-addr:value = '010.001.002.003']", "ipv4-addr", "value",
	    "010.001.002.003");

	/* URLs: scheme and host only */
	check_eq("[url:value = 'HTTP://User:PW@Example.COM:8080/A?B=C#D']",
	    "url", "value", "http://User:PW@example.com:8080/A?B=C#D");
	check_eq("[url:value = 'https://[2001:DB8::1]/X']", "url", "value",
	    "https://[2001:db8::1]/X");

	/* unescaping; other types as written */
	check_eq("[file:name = 'it\\'s']", "file", "name", "it's");
	check_eq("[file:parent_directory_ref.path = 'C:\\\\Windows']", "file",
	    "parent_directory_ref.path", "C:\\Windows");
	check_eq("[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Foo']",
	    "windows-registry-key", "key", "HKEY_LOCAL_MACHINE\\Foo");
	/* path spelling: quoted plain names unquoted, others escaped */
	check_eq("[file:'name' = 'x']", "file", "name", "x");
	check_eq("[x-a:'AND'.'b\\'c'.'d\\\\e'.f_1[+1][-2][*] = 'x']", "x-a",
	    "'AND'.'b\\'c'.'d\\\\e'.f_1[1][-2][*]", "x");
	check_eq("[x-a:b[-0] = 'x']", "x-a", "b[0]", "x");
}

/* Only positive "=" against a string or an integer is reported; all
 * types are. */
static void
t_walkers(void **state)
{
	static const char s[] =
	    "[file:name != 'a' AND file:name NOT = 'b' AND file:size = 5 AND "
	    "file:name LIKE 'c%' AND file:name IN ('d') AND file:name = 'e' "
	    "AND file:x = true AND file:y = h'00' AND EXISTS x-t:z] "
	    "FOLLOWEDBY ([domain-name:value == 'F.example' OR "
	    "(email-addr:value = 'g@h')]) WITHIN 1 SECONDS";
	struct seen sn;
	struct pattern *pat;
	char err[ERRLEN];

	(void)state;
	assert_non_null(pat = parse_copy(s, sizeof(s) - 1, err));
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(pattern_foreach_eq(pat, record, &sn), 0);
	assert_int_equal(sn.n, 4);
	assert_string_equal(sn.value[0], "5"); /* file:size, as written */
	assert_string_equal(sn.value[1], "e");
	assert_string_equal(sn.type[2], "domain-name");
	assert_string_equal(sn.value[2], "f.example");
	assert_string_equal(sn.value[3], "g@h");
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(pattern_foreach_type(pat, record, &sn), 0);
	assert_int_equal(sn.n, 8); /* record keeps the first 8 of 11 */
	assert_string_equal(sn.type[0], "file");
	assert_string_equal(sn.path[2], "size");
	assert_int_equal(sn.vlen[0], 0);
	pattern_free(pat);

	assert_int_equal(pattern_foreach_eq(NULL, record, &sn), 0);
	assert_int_equal(pattern_foreach_type(NULL, record, &sn), 0);
	pattern_free(NULL);
}

static int
stop_at_second(const char *type, const char *path, const char *value,
    size_t vlen, void *arg)
{
	int *calls = arg;

	(void)type;
	(void)path;
	(void)value;
	(void)vlen;
	return ++*calls == 2 ? 42 : 0;
}

static int
count_calls(const char *type, const char *path, const char *value, size_t vlen,
    void *arg)
{
	(void)type;
	(void)path;
	(void)value;
	(void)vlen;
	++*(int *)arg;
	return 0;
}

static void
t_walker_stops(void **state)
{
	static const char s[] = "[a:b = 'x' AND c:d = 'y' AND e:f = 'z']";
	struct pattern *pat;
	char err[ERRLEN];
	int calls = 0;

	(void)state;
	assert_non_null(pat = parse_copy(s, sizeof(s) - 1, err));
	assert_int_equal(pattern_foreach_eq(pat, stop_at_second, &calls), 42);
	assert_int_equal(calls, 2);
	calls = 0;
	assert_int_equal(pattern_foreach_type(pat, stop_at_second, &calls), 42);
	assert_int_equal(calls, 2);
	pattern_free(pat);
}

static char *
nest(const char *open, const char *mid, const char *close, int depth,
    size_t *lenp)
{
	size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close), o = 0;
	char *s;
	int i;

	assert_non_null(s = malloc((lo + lc) * (size_t)depth + lm + 1));
	for (i = 0; i < depth; i++, o += lo)
		memcpy(s + o, open, lo);
	memcpy(s + o, mid, lm);
	o += lm;
	for (i = 0; i < depth; i++, o += lc)
		memcpy(s + o, close, lc);
	s[o] = '\0';
	*lenp = o;
	return s;
}

static void
t_depth(void **state)
{
	size_t n;
	char *s;

	(void)state;
	/* the brackets count as one level */
	s = nest("(", "[a:b = 1]", ")", PATTERN_MAX_DEPTH - 1, &n);
	expect_valid(s, n, "max observation depth");
	free(s);
	s = nest("(", "[a:b = 1]", ")", PATTERN_MAX_DEPTH, &n);
	expect_invalid(s, n, "expected at most 64 nested", "too deep");
	free(s);
	s = nest("(", "[a:b = 1] WITHIN 1 SECONDS", ") WITHIN 1 SECONDS",
	    PATTERN_MAX_DEPTH - 1, &n);
	expect_valid(s, n, "max depth with qualifiers");
	free(s);
	s = nest("[", "a:b = 1", "]", 2, &n);
	expect_invalid(s, n, "column 2: expected an object path", "[[");
	free(s);
	s = nest("(", "a:b = 1", ")", PATTERN_MAX_DEPTH, &n);
	s[0] = '[';
	s[n - 1] = ']';
	expect_valid(s, n, "max comparison depth");
	free(s);
	s = nest("(", "a:b = 1", ")", PATTERN_MAX_DEPTH + 1, &n);
	s[0] = '[';
	s[n - 1] = ']';
	expect_invalid(s, n, "column 65: expected at most 64 nested",
	    "comparisons too deep");
	free(s);
	/* far deeper input stops at the limit, not at the stack's */
	s = nest("(", "[a:b = 1]", ")", 100000, &n);
	expect_invalid(s, n, "column 65: expected at most 64 nested", "deep");
	free(s);
	s = nest("([", "a:b = 1", "])", 50000, &n);
	expect_invalid(s, n, "expected an object path", "interleaved");
	free(s);
}

/* Long flat chains are lists, not deep trees. */
static void
t_long_chains(void **state)
{
	struct pattern *pat;
	char err[ERRLEN], *s;
	size_t o = 0, k;
	int i, count = 0;

	(void)state;
	assert_non_null(s = malloc(PATTERN_MAX_LEN));
	for (i = 0; o + 64 < PATTERN_MAX_LEN; i++) {
		k = (size_t)sprintf(s + o, "%s[a:b = 'v%d']",
		    i == 0	     ? ""
			: i % 3 == 0 ? " AND "
			: i % 3 == 1 ? " OR "
				     : " FOLLOWEDBY ",
		    i);
		o += k;
	}
	assert_non_null(pat = parse_copy(s, o, err));
	assert_int_equal(pattern_foreach_eq(pat, count_calls, &count), 0);
	assert_int_equal(count, i);
	pattern_free(pat);

	/* the length limit */
	memset(s + o, ' ', PATTERN_MAX_LEN - o);
	expect_valid(s, PATTERN_MAX_LEN, "at the limit");
	free(s);
	assert_null(pattern_parse("[", PATTERN_MAX_LEN + 1, err, sizeof(err)));
	assert_string_equal(
	    err, "column 262145: expected at most 262144 bytes");
}

/* Every cut of a pattern with no valid prefix fails cleanly. */
static void
t_truncated(void **state)
{
	static const char s[] =
	    "[file:hashes.'SHA-256' = 'aec0706' AND file:x IN (1, h'00', "
	    "b'AAAA', t'2016-01-01T00:00:00.5Z', -.5) OR (EXISTS a:b[*] AND "
	    "a:c NOT LIKE 'x\\'y')] REPEATS 2 TIMES START "
	    "t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z' "
	    "FOLLOWEDBY ([d:e = 1]) WITHIN 1.5 SECONDS";
	struct pattern *pat;
	char err[ERRLEN];
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(s) - 1; k++) {
		pat = parse_copy(s, k, err);
		if (pat != NULL) {
			/* valid prefixes end after an observation expression */
			size_t e = k;

			pattern_free(pat);
			while (e > 0 && s[e - 1] == ' ')
				e--;
			assert_non_null(strchr("]S')", s[e - 1]));
			continue;
		}
		assert_true(strncmp(err, "column ", 7) == 0);
	}
	assert_non_null(pat = parse_copy(s, k, err));
	pattern_free(pat);
}

/* Fails the 1st, 2nd, ... allocation until the parse succeeds. */
static void
t_oom(void **state)
{
	struct pattern *pat;
	struct seen sn;
	char err[ERRLEN], *s;
	size_t o = 0;
	long i;
	int k, fails = 0;

	(void)state;
	/* dense enough to need several arena chunks */
	assert_non_null(s = malloc(65536));
	o = (size_t)sprintf(s, "[file:hashes.MD5 = 'AB' AND x:y IN (");
	for (k = 0; k < 10000; k++)
		o += (size_t)sprintf(s + o, "%s%d", k ? "," : "", k % 10);
	o += (size_t)sprintf(s + o, ")] AND [ipv6-addr:value = '1:0:0::1']");
	for (i = 0; i < 1000; i++) {
		hub_alloc_fail_after(i);
		pat = pattern_parse(s, o, err, sizeof(err));
		hub_alloc_fail_after(-1);
		if (pat != NULL)
			break;
		assert_non_null(strstr(err, "out of memory"));
		assert_true(strncmp(err, "column ", 7) == 0);
		fails++;
	}
	assert_non_null(pat);
	assert_true(fails >= 3);
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(pattern_foreach_eq(pat, record, &sn), 0);
	assert_int_equal(sn.n, 2);
	assert_string_equal(sn.value[0], "ab");
	assert_string_equal(sn.value[1], "1::1");
	pattern_free(pat);
	free(s);

	/* the small common case: one allocation */
	hub_alloc_fail_after(0);
	assert_null(pattern_parse("[a:b = 'c']", 11, err, sizeof(err)));
	hub_alloc_fail_after(-1);
	assert_string_equal(err, "column 1: out of memory");
	hub_alloc_fail_after(1);
	assert_non_null(pat = pattern_parse("[a:b = 'c']", 11, NULL, 0));
	hub_alloc_fail_after(-1);
	pattern_free(pat);
}

/* The error buffer may be small or absent. */
static void
t_error_buffer(void **state)
{
	char small[12];

	(void)state;
	memset(small, 'x', sizeof(small));
	assert_null(pattern_parse("[a:b = ]", 8, small, sizeof(small)));
	assert_string_equal(small, "column 8: e");
	assert_null(pattern_parse("[a:b = ]", 8, small, 1));
	assert_string_equal(small, "");
	assert_null(pattern_parse("[a:b = ]", 8, NULL, 0));
	assert_null(pattern_parse(NULL, 0, small, sizeof(small)));
	assert_int_equal(pattern_check(NULL, 1, NULL, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_suite_valid),
	    cmocka_unit_test(t_suite_invalid),
	    cmocka_unit_test(t_bytes),
	    cmocka_unit_test(t_normalise),
	    cmocka_unit_test(t_walkers),
	    cmocka_unit_test(t_walker_stops),
	    cmocka_unit_test(t_depth),
	    cmocka_unit_test(t_long_chains),
	    cmocka_unit_test(t_truncated),
	    cmocka_unit_test(t_oom),
	    cmocka_unit_test(t_error_buffer),
	};

	return cmocka_run_group_tests_name("pattern", tests, NULL, NULL);
}
