/*
 * t_feedconf.c -- the feeds file: a good file (every kind, credentials
 * read from files, aliases and relative paths resolved, the taxii query
 * built), every error with its "file:line: message", the warning for a
 * token file readable by everyone, the `feeds` directive of ctihub.conf
 * (its default file absent, present, a named file missing), and the
 * connector registry of feeds/feed.h.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/feedconf.h"
#include "ctihub/marking.h"
#include "ctihub/member.h"
#include "ctihub/observable.h"

#include "../../feeds/feed.h"

#define TOKEN                                                                  \
	"token sha256$"                                                        \
	"0000000000000000000000000000000000000000000000000000000000000001\n"

static const char members_text[] =
    "member cert-br {\n name a\n country BR\n roles publisher subscriber\n"
    " " TOKEN "}\n"
    "member cert-in {\n name b\n country IN\n roles subscriber\n"
    " " TOKEN "}\n"
    "member pub-za {\n name c\n country ZA\n roles publisher\n"
    " " TOKEN "}\n";

#define INDICATORS "0c3a0b1e-6d4c-4f7a-9a51-3c2b8f0e7d11"
#define BRICS	   "9f1c2d3e-4b5a-4c6d-8e7f-a0b1c2d3e4f5"
#define DIRECTORY  "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
#define OTHER	   "1b2c3d4e-5f60-4172-8394-a5b6c7d8e9f0"

static const char conf_text[] =
    "state_dir /tmp/x\n"
    "default_root cti\n"
    "api_root cti {\n"
    " title t\n"
    " collection " INDICATORS " {\n  title i\n  alias indicators\n"
    "  read any\n  write role publisher\n }\n"
    " collection " BRICS " {\n  title b\n  alias brics\n"
    "  read country BR IN\n  write country BR IN\n }\n"
    " collection " DIRECTORY " {\n  title d\n  alias directory\n"
    "  directory\n  read any\n }\n"
    "}\n"
    "api_root other {\n"
    " title o\n"
    " collection " OTHER " {\n  title o\n  alias indicators\n"
    "  read any\n  write member pub-za\n }\n"
    "}\n";

static char tmpdir[64];
static char feedsfile[128];
static struct conf *conf;

static void
write_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static struct conf *
load_conf(const char *text)
{
	struct members *m = NULL;
	struct conf *c = NULL;
	struct cfg_errs errs;
	int i;

	memset(&errs, 0, sizeof(errs));
	assert_int_equal(members_parse("members.conf", members_text,
			     strlen(members_text), &m, &errs),
	    0);
	if (conf_parse(
		"ctihub.conf", tmpdir, text, strlen(text), m, &c, &errs) == -1)
		for (i = 0; i < errs.n; i++)
			print_error("%s\n", errs.v[i]);
	cfg_errs_clear(&errs);
	assert_non_null(c);
	return c;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/t_feedconf.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(feedsfile, sizeof(feedsfile), "%s/feeds.conf", tmpdir);
	write_file("pw", "hunter2 \nsecond line\n", 0600);
	write_file("tok", "cth_abc\n", 0600);
	write_file("open.tok", "tok\n", 0644);
	write_file("empty", "\n", 0600);
	write_file("ctl", "a\001b\n", 0600);
	write_file("cert.pem", "x\n", 0644);
	write_file("key.pem", "x\n", 0600);
	write_file("ca.pem", "x\n", 0644);
	conf = load_conf(conf_text);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	conf_free(conf);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Parses good text; every finding is printed and counted into *nwarn. */
static struct feedconf *
feeds_ok(const char *text, int *nwarn)
{
	struct feedconf *s = NULL;
	struct cfg_errs errs;
	int i, rc;

	memset(&errs, 0, sizeof(errs));
	rc = feedconf_parse(feedsfile, text, strlen(text), conf, &s, &errs);
	for (i = 0; i < errs.n; i++)
		print_error("%s\n", errs.v[i]);
	if (nwarn != NULL)
		*nwarn = cfg_errs_count(&errs, CFG_WARNING);
	assert_int_equal(cfg_errs_count(&errs, CFG_ERROR), 0);
	cfg_errs_clear(&errs);
	assert_int_equal(rc, 0);
	assert_non_null(s);
	return s;
}

/* Broken text: one finding must start "feeds.conf:<line>: <want>". */
static void
feeds_fail(const char *text, int line, const char *want)
{
	struct feedconf *s = NULL;
	struct cfg_errs errs;
	char full[512];
	int i, found = 0;

	snprintf(full, sizeof(full), "%s:%d: %s", feedsfile, line, want);
	memset(&errs, 0, sizeof(errs));
	if (feedconf_parse(feedsfile, text, strlen(text), conf, &s, &errs) !=
	    -1) {
		print_error("accepted; want: %s\n", full);
		feedconf_free(s);
		fail();
	}
	assert_null(s);
	for (i = 0; i < errs.n; i++)
		if (strncmp(errs.v[i], full, strlen(full)) == 0)
			found = 1;
	if (!found) {
		print_error("text:\n%s\nwant: %s\n", text, full);
		for (i = 0; i < errs.n; i++)
			print_error("got:  %s\n", errs.v[i]);
	}
	cfg_errs_clear(&errs);
	assert_true(found);
}

/*
 * A feed block with its lines fixed: 1 feed f {, 2 kind, 3 the source,
 * 4 member, 5 collection, 6... extra; "every 1h" after the extra lines
 * unless they give every.
 */
static void
feed_text(char *out, size_t len, const char *kind, const char *src,
    const char *member, const char *coll, const char *extra)
{
	snprintf(out, len,
	    "feed f {\n\tkind %s\n\t%s\n\tmember %s\n\tcollection "
	    "%s\n%s%s}\n",
	    kind, src, member, coll, extra,
	    strstr(extra, "\tevery ") != NULL ? "" : "\tevery 1h\n");
}

static void
fail_kind(const char *kind, const char *src, const char *extra, int line,
    const char *want)
{
	char text[2048];

	feed_text(
	    text, sizeof(text), kind, src, "cert-br", "indicators", extra);
	feeds_fail(text, line, want);
}

#define URL  "url https://lists.example/l.txt"
#define FILE "file local.txt"

/* Every kind, every directive. */
static const char good[] =
    "# every kind\n"
    "feed up {\n"
    "\tkind taxii\n"
    "\turl https://hub.example:8443/cti/collections/" INDICATORS "/\n"
    "\tevery 15m jitter 1m\n"
    "\tmember cert-br\n"
    "\tcollection cti/brics\n"
    "\ttlp amber\n"
    "\tuser bob password_file pw\n"
    "\tca_file ca.pem\n"
    "\tmatch type indicator malware\n"
    "\tmatch spec_version 2.1\n"
    "\tlimit 500\n"
    "\ttimeout 2m max_bytes 16M\n"
    "}\n"
    "feed circl {\n kind misp\n url https://misp.example/feed/\n"
    " every 6h\n member pub-za\n collection other/indicators\n"
    " tlp green\n labels osint circl\n confidence 60\n"
    " cert cert.pem key key.pem\n}\n"
    "feed drop {\n kind list\n url https://www.spamhaus.org/drop/"
    "drop.txt\n every 12h\n member cert-br\n collection "
    "indicators\n comment \";\"\n type ipv4\n on_vanish revoke\n"
    " token_file tok\n token_header Auth-Key\n enabled no\n}\n"
    "feed urlhaus {\n kind csv\n url https://urlhaus.example/csv/\n"
    " every 1h\n member cert-br\n collection indicators\n"
    " column value 3\n column type 4\n delimiter tab\n skip 1\n}\n"
    "feed feodo {\n kind json\n file data/feodo.json\n every 1d\n"
    " member cert-br\n collection indicators\n field ip_address\n"
    " type_field kind\n}\n";

static void
t_good(void **state)
{
	struct feedconf *s;
	const struct feed_def *f;
	int nwarn;

	(void)state;
	s = feeds_ok(good, &nwarn);
	assert_int_equal(nwarn, 0);
	assert_int_equal(s->n, 5);
	assert_int_equal(s->nenabled, 4);
	assert_string_equal(s->file, feedsfile);

	f = feedconf_find(s, "up");
	assert_non_null(f);
	assert_ptr_equal(f, &s->v[0]);
	assert_int_equal(f->kind, FEED_TAXII);
	assert_int_equal(f->line, 2);
	assert_int_equal(f->enabled, 1);
	assert_int_equal(f->every, 900);
	assert_int_equal(f->jitter, 60);
	assert_string_equal(f->member, "cert-br");
	assert_string_equal(f->root, "cti");
	assert_string_equal(f->coll, BRICS);
	assert_int_equal(f->tlp, TLP_AMBER);
	assert_string_equal(f->user, "bob");
	assert_string_equal(f->password, "hunter2");
	assert_null(f->token);
	assert_non_null(f->ca_file);
	assert_non_null(strstr(f->ca_file, "/ca.pem"));
	assert_string_equal(
	    f->query, "match[type]=indicator,malware&match[spec_version]=2.1");
	assert_int_equal(f->limit, 500);
	assert_int_equal(f->timeout, 120);
	assert_int_equal(f->max_bytes, 16 << 20);
	assert_int_equal(f->confidence, -1);
	assert_null(f->path);

	f = feedconf_find(s, "circl");
	assert_int_equal(f->kind, FEED_MISP);
	assert_string_equal(f->root, "other");
	assert_string_equal(f->coll, OTHER);
	assert_int_equal(f->nlabels, 2);
	assert_string_equal(f->labels[0], "osint");
	assert_string_equal(f->labels[1], "circl");
	assert_int_equal(f->confidence, 60);
	assert_non_null(f->cert_file);
	assert_non_null(f->key_file);
	assert_string_equal(f->query, "");
	assert_int_equal(f->timeout, 60);	  /* the default */
	assert_int_equal(f->max_bytes, 64 << 20); /* the default */

	f = feedconf_find(s, "drop");
	assert_int_equal(f->kind, FEED_LIST);
	assert_int_equal(f->enabled, 0);
	assert_string_equal(f->comment, ";");
	assert_int_equal(f->obs_type, OBS_IPV4);
	assert_int_equal(f->on_vanish, FEED_VANISH_REVOKE);
	assert_string_equal(f->token, "cth_abc");
	assert_string_equal(f->token_header, "Auth-Key");
	assert_int_equal(f->tlp, TLP_NONE);

	f = feedconf_find(s, "urlhaus");
	assert_int_equal(f->kind, FEED_CSV);
	assert_int_equal(f->col_value, 3);
	assert_int_equal(f->col_type, 4);
	assert_int_equal(f->delimiter, '\t');
	assert_int_equal(f->skip, 1);
	assert_string_equal(f->comment, "#"); /* the default */
	assert_int_equal(f->obs_type, OBS_NONE);
	assert_int_equal(f->on_vanish, FEED_VANISH_EXPIRE);

	f = feedconf_find(s, "feodo");
	assert_int_equal(f->kind, FEED_JSON);
	assert_null(f->url);
	assert_non_null(f->path);
	assert_int_equal(strncmp(f->path, tmpdir, strlen(tmpdir)), 0);
	assert_string_equal(f->path + strlen(tmpdir), "/data/feodo.json");
	assert_string_equal(f->field, "ip_address");
	assert_string_equal(f->type_field, "kind");

	assert_null(feedconf_find(s, "nope"));
	assert_null(feedconf_find(NULL, "up"));
	feedconf_free(s);
	feedconf_free(NULL);

	/* an empty file is no feeds */
	s = feeds_ok("# nothing yet\n", NULL);
	assert_int_equal(s->n, 0);
	feedconf_free(s);
}

static void
t_errors(void **state)
{
	char want[512], labels[256];
	int i;

	(void)state;
	/* the file */
	feeds_fail("subscription x {\n}\n", 1,
	    "unknown directive 'subscription' (expected 'feed <name> { ... "
	    "}')");
	feeds_fail("feed f\n", 1, "expected 'feed <name> { ... }'");
	feeds_fail("feed a/b {\n}\n", 1,
	    "feed name 'a/b' must be 1-63 of A-Z a-z 0-9 . _ -");
	feeds_fail("feed f {\n kind list\n}\nfeed f {\n}\n", 4,
	    "feed f already defined at line 1");
	feeds_fail("feed f {\n}\n", 1, "feed f has no 'kind'");
	feeds_fail(
	    "feed f {\n kind list\n}\n", 1, "feed f has no 'url' or 'file'");
	feeds_fail("feed f {\n kind taxii\n}\n", 1, "feed f has no 'url'");
	feeds_fail("feed f {\n kind list\n}\n", 1, "feed f has no 'every'");
	feeds_fail("feed f {\n kind list\n}\n", 1, "feed f has no 'member'");
	feeds_fail(
	    "feed f {\n kind list\n}\n", 1, "feed f has no 'collection'");
	/* directives */
	fail_kind("list", URL, "\tbogus 1\n", 6,
	    "unknown directive 'bogus' in a feed");
	fail_kind("list", URL, "\tenabled yes {\n\t}\n", 6,
	    "'enabled' takes no block");
	fail_kind("list", URL, "\tlabels\n", 6, "'labels' needs a value");
	fail_kind("list", URL, "\tevery 1h jitter\n", 6,
	    "'every' takes one value (then, on the same line, more "
	    "'directive value' pairs)");
	fail_kind("list", URL, "\tevery 1h labels a\n", 6,
	    "'labels' takes a list: give it a line of its own");
	fail_kind("list", URL, "\tevery 1h\n\tevery 2h\n", 7,
	    "'every' given twice (first at line 6)");
	fail_kind("rss", URL, "", 2,
	    "kind: 'rss' is not taxii, misp, list, csv or json");
	fail_kind("list", URL, "\tenabled maybe\n", 6,
	    "enabled: 'maybe' is not yes or no");
	fail_kind("list", "url http://lists.example/l.txt", "", 3,
	    "url 'http://lists.example/l.txt' is not a usable https:// URL");
	fail_kind("list", "url https://u:p@lists.example/", "", 3,
	    "url 'https://u:p@lists.example/' is not a usable");
	fail_kind("list", "url https://lists.example:99999/", "", 3,
	    "url 'https://lists.example:99999/' is not a usable");
	fail_kind("list", "url \"https://lists.example/#top\"", "", 3,
	    "url 'https://lists.example/#top' is not a usable");
	fail_kind("list", URL, "\tfile x.txt\n", 6, "url and file: give one");
	fail_kind("list", URL, "\tevery 30s\n", 6,
	    "every: '30s' is not a duration between 1m and 30d");
	fail_kind("list", URL, "\tevery 1h jitter 2h\n", 6,
	    "jitter is not shorter than every");
	fail_kind("list", URL, "\ttlp purple\n", 6,
	    "tlp: 'purple' is not clear, green, amber, amber+strict or red");
	fail_kind("list", URL, "\tconfidence 101\n", 6,
	    "confidence: '101' is not an integer between 0 and 100");
	fail_kind("list", URL, "\tlabels a\n\tlabels b\n", 7,
	    "'labels' given twice (first at line 6)");
	snprintf(labels, sizeof(labels), "\tlabels");
	for (i = 0; i <= FEED_MAX_LABELS; i++)
		strcat(labels, " l");
	strcat(labels, "\n");
	fail_kind("list", URL, labels, 6, "labels: at most 16");
	fail_kind("list", URL, "\tlabels \"a\tb\"\n", 6,
	    "labels: 'a\tb' is empty, longer than 63 bytes or has control "
	    "characters");
	/* members and collections */
	{
		char text[1024];

		feed_text(text, sizeof(text), "list", URL, "nobody",
		    "indicators", "");
		feeds_fail(
		    text, 4, "member: no member 'nobody' in members.conf");
		feed_text(text, sizeof(text), "list", URL, "cert-in",
		    "indicators", "");
		feeds_fail(
		    text, 4, "member cert-in does not have the publisher role");
		feed_text(
		    text, sizeof(text), "list", URL, "pub-za", "brics", "");
		feeds_fail(
		    text, 5, "member pub-za may not write collection " BRICS);
		feed_text(text, sizeof(text), "list", URL, "cert-br",
		    "other/indicators", "");
		feeds_fail(
		    text, 5, "member cert-br may not write collection " OTHER);
		feed_text(
		    text, sizeof(text), "list", URL, "cert-br", "nope", "");
		feeds_fail(text, 5,
		    "collection nope: no such collection in api_root cti");
		feed_text(text, sizeof(text), "list", URL, "cert-br",
		    "zz/indicators", "");
		feeds_fail(
		    text, 5, "collection zz/indicators: no api_root 'zz'");
		feed_text(text, sizeof(text), "list", URL, "cert-br",
		    "directory", "");
		feeds_fail(text, 5,
		    "collection directory is the generated directory: feeds "
		    "cannot write it");
	}
	/* credentials */
	fail_kind("list", URL, "\tuser bob\n", 6,
	    "user and password_file go together");
	fail_kind("list", URL, "\tuser a:b password_file pw\n", 6,
	    "user: 'a:b' is empty, has a ':' or control characters");
	fail_kind("list", URL,
	    "\tuser bob password_file pw\n\ttoken_file tok\n", 7,
	    "two kinds of credentials (user and password_file, token_file, "
	    "or cert and key): give one");
	fail_kind(
	    "list", URL, "\tcert cert.pem\n", 6, "cert and key go together");
	fail_kind("list", URL, "\ttoken_header Auth-Key\n", 6,
	    "token_header without token_file");
	fail_kind("list", URL, "\ttoken_file tok\n\ttoken_header \"a b\"\n", 7,
	    "token_header: 'a b' is not a header name");
	snprintf(want, sizeof(want),
	    "cannot read %s/missing: No such file or directory", tmpdir);
	fail_kind("list", URL, "\ttoken_file missing\n", 6, want);
	snprintf(
	    want, sizeof(want), "%s/empty: the first line is empty", tmpdir);
	fail_kind("list", URL, "\ttoken_file empty\n", 6, want);
	snprintf(want, sizeof(want),
	    "%s/ctl: control characters in the first line", tmpdir);
	fail_kind("list", URL, "\ttoken_file ctl\n", 6, want);
	snprintf(
	    want, sizeof(want), "cannot read %s: not a regular file", tmpdir);
	fail_kind("list", URL, "\tca_file .\n", 6, want);
	fail_kind("list", FILE, "\ttoken_file tok\n", 6,
	    "'token_file' with a file source (only for url)");
	/* limits */
	fail_kind("list", URL, "\tmax_bytes 10\n", 6,
	    "max_bytes: '10' is not a size between 1k and 2G");
	fail_kind("list", URL, "\ttimeout 2h\n", 6,
	    "timeout: '2h' is not a duration between 1s and 1h");
	/* lists */
	fail_kind("list", URL, "\ttype ipv5\n", 6,
	    "type: 'ipv5' is not detect or an observable type");
	fail_kind("list", URL, "\tcomment \"a b\"\n", 6,
	    "comment: 'a b' is not 1-7 printable characters without blanks");
	fail_kind("list", URL, "\ton_vanish delete\n", 6,
	    "on_vanish: 'delete' is not expire or revoke");
	fail_kind("list", URL, "\tcolumn value 2\n", 6,
	    "'column' does not apply to a list feed");
	fail_kind("list", URL, "\tlimit 10\n", 6,
	    "'limit' does not apply to a list feed");
	fail_kind("misp", "url https://misp.example/feed/", "\ttype ipv4\n", 6,
	    "'type' does not apply to a misp feed");
	/* csv */
	fail_kind("csv", URL, "", 1, "csv feed f has no 'column value N'");
	fail_kind("csv", URL, "\tcolumn value 2\n\tcolumn type 2\n", 7,
	    "column type 2 is the value's column");
	fail_kind("csv", URL, "\tcolumn value 0\n", 6,
	    "column value: expected one column number, 1 to 256");
	fail_kind("csv", URL, "\tcolumn value 1 2\n", 6,
	    "column value: expected one column number, 1 to 256");
	fail_kind("csv", URL, "\tcolumn width 2\n", 6,
	    "column: 'width' is not value or type");
	fail_kind("csv", URL, "\tcolumn value 1\n\tcolumn value 2\n", 7,
	    "column value given twice (first at line 6)");
	fail_kind("csv", URL, "\tcolumn value 2\n\tdelimiter ab\n", 7,
	    "delimiter: 'ab' is not one printable character");
	fail_kind("csv", URL, "\tcolumn value 2\n\tskip 101\n", 7,
	    "skip: '101' is not a number of lines between 0 and 100");
	fail_kind("csv", URL,
	    "\tcolumn value 2\n\tcolumn type 3\n\ttype ipv4\n", 8,
	    "type and 'column type': give one");
	/* json */
	fail_kind(
	    "json", URL, "\ttype_field t\n", 6, "type_field without field");
	fail_kind("json", URL, "\tfield v\n\ttype_field v\n", 7,
	    "type_field is the same as field");
	fail_kind("json", URL, "\tcomment \";\"\n", 6,
	    "'comment' does not apply to a json feed");
	/* taxii */
	fail_kind(
	    "taxii", FILE, "", 3, "'file' does not apply to a taxii feed");
	fail_kind("taxii", "url https://hub.example/api/", "", 3,
	    "url 'https://hub.example/api/': a taxii feed's url is a "
	    "collection's URL, ending in /collections/<id>/");
	fail_kind("misp", "url https://misp.example/feed", "", 3,
	    "url 'https://misp.example/feed': a misp feed's url is its "
	    "directory, ending in /");
	fail_kind("taxii", "url https://h.example/r/collections/c/",
	    "\tmatch colour red\n", 6,
	    "match: 'colour' is not a TAXII filter (id, type, version, "
	    "spec_version)");
	fail_kind("taxii", "url https://h.example/r/collections/c/",
	    "\tmatch type a&b\n", 6, "match type: 'a&b' is not a filter value");
	fail_kind("taxii", "url https://h.example/r/collections/c/",
	    "\tmatch type a\n\tmatch type b\n", 7,
	    "match type given twice (first at line 6)");
	fail_kind("taxii", "url https://h.example/r/collections/c/",
	    "\tmatch type\n", 6, "match type needs one or more values");
	fail_kind("taxii", "url https://h.example/r/collections/c/",
	    "\tlimit 0\n", 6,
	    "limit: '0' is not a page size between 1 and 10000");
	fail_kind("taxii", "url https://h.example/r/collections/c/",
	    "\tlabels x\n", 6, "labels with a taxii feed");
	fail_kind("taxii", "url https://h.example/r/collections/c/",
	    "\tconfidence 5\n", 6, "confidence with a taxii feed");
}

static void
t_world_readable(void **state)
{
	struct feedconf *s = NULL;
	struct cfg_errs errs;
	char text[1024], want[256];

	(void)state;
	feed_text(text, sizeof(text), "list", URL, "cert-br", "indicators",
	    "\ttoken_file open.tok\n");
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(
	    feedconf_parse(feedsfile, text, strlen(text), conf, &s, &errs), 0);
	assert_int_equal(errs.n, 1);
	snprintf(want, sizeof(want),
	    "%s:6: warning: %s/open.tok is readable by everyone (chmod o-r)",
	    feedsfile, tmpdir);
	assert_string_equal(errs.v[0], want);
	assert_string_equal(s->v[0].token, "tok");
	cfg_errs_clear(&errs);
	feedconf_free(s);
}

/* The feeds directive: the default file absent (no feeds) or present
 * (loaded), a named file missing (an error), an error in the file. */
static void
t_conf_load(void **state)
{
	struct conf *c;
	struct cfg_errs errs;
	char path[256], want[512];
	int i, found;

	(void)state;
	c = load_conf(conf_text); /* no feeds.conf in tmpdir yet */
	assert_null(c->feeds);
	assert_non_null(c->feeds_file);
	snprintf(path, sizeof(path), "%s/feeds.conf", tmpdir);
	assert_string_equal(c->feeds_file, path);
	conf_free(c);

	write_file("feeds.conf",
	    "feed f {\n kind list\n file l.txt\n every 1h\n member cert-br\n"
	    " collection indicators\n}\n",
	    0644);
	c = load_conf(conf_text);
	assert_non_null(c->feeds);
	assert_int_equal(c->feeds->n, 1);
	assert_int_equal(c->feeds->nenabled, 1);
	conf_free(c);

	/* a named file must exist */
	{
		char text[2048];
		struct members *m = NULL;

		snprintf(text, sizeof(text), "feeds other.conf\n%s", conf_text);
		memset(&errs, 0, sizeof(errs));
		assert_int_equal(members_parse("members.conf", members_text,
				     strlen(members_text), &m, &errs),
		    0);
		c = NULL;
		assert_int_equal(conf_parse("ctihub.conf", tmpdir, text,
				     strlen(text), m, &c, &errs),
		    -1);
		assert_null(c);
		snprintf(want, sizeof(want), "%s/other.conf", tmpdir);
		for (i = 0, found = 0; i < errs.n; i++)
			if (strstr(errs.v[i], want) != NULL)
				found = 1;
		assert_true(found);
		cfg_errs_clear(&errs);
	}

	/* an error in the default file fails the conf */
	write_file("feeds.conf", "feed f {\n kind rss\n}\n", 0644);
	{
		struct members *m = NULL;

		memset(&errs, 0, sizeof(errs));
		assert_int_equal(members_parse("members.conf", members_text,
				     strlen(members_text), &m, &errs),
		    0);
		c = NULL;
		assert_int_equal(conf_parse("ctihub.conf", tmpdir, conf_text,
				     strlen(conf_text), m, &c, &errs),
		    -1);
		snprintf(want, sizeof(want),
		    "%s/feeds.conf:2: kind: 'rss' is not taxii, misp, list, "
		    "csv or json",
		    tmpdir);
		for (i = 0, found = 0; i < errs.n; i++)
			if (strcmp(errs.v[i], want) == 0)
				found = 1;
		if (!found)
			for (i = 0; i < errs.n; i++)
				print_error("got: %s\n", errs.v[i]);
		assert_true(found);
		cfg_errs_clear(&errs);
	}
	assert_int_equal(unlink(path), 0);
}

/* feeds/feed.h: every kind has its connector, nothing else; the helpers. */
static void
t_registry(void **state)
{
	struct feed_result *r;
	struct feed_request req;
	int k;

	(void)state;
	for (k = -1; k <= FEED_KIND_MAX + 1; k++)
		if (k >= FEED_TAXII && k <= FEED_KIND_MAX)
			assert_non_null(feed_ops_find(k));
		else
			assert_null(feed_ops_find(k));
	for (k = FEED_TAXII; k <= FEED_KIND_MAX; k++)
		assert_int_equal(feed_kind_from_name(feed_kind_name(k)), k);
	assert_string_equal(feed_kind_name(0), "?");
	assert_string_equal(feed_kind_name(FEED_KIND_MAX + 1), "?");
	assert_int_equal(feed_kind_from_name("rss"), 0);

	r = hub_malloc(sizeof(*r));
	assert_non_null(r);
	feed_result_init(r);
	for (k = 0; k < FEED_MAX_ERRORS + 5; k++)
		feed_result_error(r, k + 1, "line %d: bad", k + 1);
	assert_int_equal(r->nerrors, FEED_MAX_ERRORS);
	assert_int_equal(r->errors_dropped, 5);
	assert_int_equal(r->errors[2].line, 3);
	assert_string_equal(r->errors[2].msg, "line 3: bad");
	buf_adds(&r->envelope, "{\"objects\":[]}");
	r->state.data = hub_strdup("{}");
	r->state.len = 2;
	r->has_state = 1;
	feed_result_clear(r);
	assert_int_equal(r->nerrors, 0);
	assert_null(r->state.data);
	assert_int_equal(r->envelope.len, 0);
	hub_free(r);

	memset(&req, 0, sizeof(req));
	req.url = hub_strdup("https://x.example/");
	req.headers[0] = hub_strdup("If-None-Match: \"abc\"");
	feed_request_clear(&req);
	assert_null(req.url);
	assert_null(req.headers[0]);
}

/* Every allocation of a good file failing in turn: a clean -1, nothing
 * leaked (under ASan). */
static void
t_oom(void **state)
{
	struct feedconf *set;
	struct cfg_errs errs;
	long n;
	int rc;

	(void)state;
	for (n = 0;; n++) {
		set = NULL;
		memset(&errs, 0, sizeof(errs));
		hub_alloc_fail_after(n);
		rc = feedconf_parse(
		    feedsfile, good, strlen(good), conf, &set, &errs);
		hub_alloc_fail_after(-1);
		cfg_errs_clear(&errs);
		if (rc == 0) {
			assert_int_equal(set->n, 5);
			feedconf_free(set);
			break;
		}
		assert_null(set);
		assert_true(n < 100000);
	}
	assert_true(n > 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_good),
	    cmocka_unit_test(t_errors),
	    cmocka_unit_test(t_world_readable),
	    cmocka_unit_test(t_conf_load),
	    cmocka_unit_test(t_registry),
	    cmocka_unit_test(t_oom),
	};

	return cmocka_run_group_tests_name("feedconf", tests, setup, teardown);
}
