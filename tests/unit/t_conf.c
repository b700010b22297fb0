/*
 * t_conf.c -- the configuration and members parsers: valid files, and a
 * set of broken ones, each with its "file:line: message" asserted; the
 * list of findings they report into (errors and warnings).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/member.h"

/* A hash of "ctihub-demo" (logN 10 to keep the tests fast). */
#define PW                                                                     \
	"scrypt$10$8$1$c2FsdHNhbHRzYWx0c2FsdA==$"                              \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static const char members_ok[] =
    "# two members\n"
    "member cert-br {\n"
    "\tname \"CERT.br\"\n"
    "\tcountry BR\n"
    "\troles publisher subscriber\n"
    "\tsectors government\n"
    "\temail cert@cert.br\n"
    "\tpassword " PW "\n"
    "}\n"
    "member cert-in {\n"
    "\tname \"CERT-In\"; country IN\n"
    "\troles subscriber\n"
    "\ttoken sha256$"
    "0000000000000000000000000000000000000000000000000000000000000001\n"
    "\tcert sha256:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:"
    "EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\n"
    "}\n";

static struct members *
load_members(const char *text)
{
	struct members *m = NULL;
	struct cfg_errs errs;
	int i;

	memset(&errs, 0, sizeof(errs));
	if (members_parse("members.conf", text, strlen(text), &m, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			print_error("%s\n", errs.v[i]);
	}
	cfg_errs_clear(&errs);
	return m;
}

/* Parses broken members text and asserts one error message contains
 * `want` (the full "file:line: message"). */
static void
members_fail(const char *text, const char *want)
{
	struct members *m = NULL;
	struct cfg_errs errs;
	int i, found = 0;

	memset(&errs, 0, sizeof(errs));
	assert_int_equal(
	    members_parse("members.conf", text, strlen(text), &m, &errs), -1);
	assert_null(m);
	for (i = 0; i < errs.n; i++)
		if (strstr(errs.v[i], want) != NULL)
			found = 1;
	if (!found)
		for (i = 0; i < errs.n; i++)
			print_error("got: %s\n", errs.v[i]);
	cfg_errs_clear(&errs);
	assert_true(found);
}

static void
t_members_valid(void **state)
{
	struct members *m = load_members(members_ok);
	const struct member *br, *in;
	unsigned char d[32];

	(void)state;
	assert_non_null(m);
	assert_int_equal(m->n, 2);
	br = members_find(m, "cert-br");
	in = members_find(m, "cert-in");
	assert_non_null(br);
	assert_non_null(in);
	assert_string_equal(br->name, "CERT.br");
	assert_string_equal(br->country, "BR");
	assert_int_equal(br->roles, MEMBER_PUBLISHER | MEMBER_SUBSCRIBER);
	assert_int_equal(br->pw.kind, CRED_SCRYPT);
	assert_int_equal(br->nsectors, 1);
	assert_string_equal(in->country, "IN");
	assert_int_equal(in->ntokens, 1);
	assert_int_equal(in->nfps, 1);
	assert_ptr_equal(members_by_code(m, in->code), in);
	assert_int_not_equal(in->code, br->code);
	memset(d, 0, sizeof(d));
	d[31] = 1;
	assert_ptr_equal(members_by_token(m, d), in);
	d[31] = 2;
	assert_null(members_by_token(m, d));
	assert_null(members_find(m, "nobody"));
	members_free(m);
}

static void
t_members_broken(void **state)
{
	(void)state;
	members_fail("member x {\n\tname a\n\tcountry XX\n\troles publisher\n"
		     "\tpassword " PW "\n}\n",
	    "members.conf:3: 'XX' is not an ISO 3166-1 alpha-2 country code");
	members_fail("member x {\n\tname a\n\tcountry BR\n\troles boss\n"
		     "\tpassword " PW "\n}\n",
	    "members.conf:4: unknown role 'boss'");
	members_fail("member x {\n\tname a\n\tcountry BR\n"
		     "\tpassword " PW "\n}\n",
	    "members.conf:1: member x has no 'roles'");
	members_fail(
	    "member x {\n\tname a\n\tcountry BR\n\troles publisher\n}\n",
	    "members.conf:1: member x has no credential");
	members_fail("member x {\n\tname a\n\tcountry BR\n\troles publisher\n"
		     "\tpassword hunter2\n}\n",
	    "members.conf:5: password: not a password hash");
	members_fail("member x {\n\tname a\n\tcountry BR\n\troles publisher\n"
		     "\ttoken cth_abc\n}\n",
	    "members.conf:5: token: expected sha256$<64 hex digits>");
	members_fail("member x {\n\tname a\n\tcountry BR\n\troles publisher\n"
		     "\tcert sha256:AB\n}\n",
	    "members.conf:5: cert: expected a SHA-256 certificate fingerprint");
	members_fail("member x {\n\tname a\n\tname b\n\tcountry BR\n"
		     "\troles publisher\n\tpassword " PW "\n}\n",
	    "members.conf:3: 'name' given twice for member x");
	members_fail("member x {\n\tnmae a\n}\n",
	    "members.conf:2: unknown member directive 'nmae'");
	members_fail("member x {\n\tname \"a\n}\n",
	    "members.conf:2: unterminated quoted string");
	members_fail("member x {\n\tname a\n",
	    "members.conf:1: block opened here is never closed");
	members_fail("}\n", "members.conf:1: '}' without a block to close");
	members_fail(
	    "member -x {\n}\n", "members.conf:1: invalid member id '-x'");
	members_fail("member x {\n\tname a\n\tcountry BR\n\troles publisher\n"
		     "\tpassword " PW
		     "\n}\nmember x {\n\tname a\n\tcountry BR\n"
		     "\troles publisher\n\tpassword " PW "\n}\n",
	    "members.conf:7: member x already defined at line 1");
	members_fail("users {\n}\n",
	    "members.conf:1: unknown directive 'users' (expected 'member <id> "
	    "{ ... }')");
}

static const char conf_ok[] =
    "listen 127.0.0.1:0\n"
    "listen [::1]:8443\n"
    "state_dir /tmp/x\n"
    "map_size 1G\n"
    "title \"Test hub\"\n"
    "status_ttl 2h\n"
    "api_root api1 {\n"
    "\ttitle \"Root one\"\n"
    "\tmax_content_length 1M\n"
    "\tcollection 91a7b528-80eb-42ed-a74d-c6fbd5a26116 {\n"
    "\t\ttitle \"All\"\n"
    "\t\talias all\n"
    "\t\tread any\n"
    "\t\twrite role publisher\n"
    "\t}\n"
    "\tcollection 52892447-4d7e-4f70-b94d-d7f22742ff63 {\n"
    "\t\ttitle \"India only\"\n"
    "\t\tread country IN\n"
    "\t\twrite member cert-in\n"
    "\t}\n"
    "}\n";

static struct conf *
load_conf(const char *text, struct cfg_errs *errs)
{
	struct conf *c = NULL;

	memset(errs, 0, sizeof(*errs));
	conf_parse("ctihub.conf", "/etc/ctihub", text, strlen(text),
	    load_members(members_ok), &c, errs);
	return c;
}

static void
conf_fail(const char *text, const char *want)
{
	struct cfg_errs errs;
	struct conf *c = load_conf(text, &errs);
	int i, found = 0;

	assert_null(c);
	for (i = 0; i < errs.n; i++)
		if (strstr(errs.v[i], want) != NULL)
			found = 1;
	if (!found)
		for (i = 0; i < errs.n; i++)
			print_error("got: %s\n", errs.v[i]);
	cfg_errs_clear(&errs);
	assert_true(found);
}

/* Every row of a long directive table counts its own uses: the table
 * outgrew a fixed array of 32 counters once (a stack overflow, and
 * directives past the 32nd reported "given twice" at their first use). */
static void
t_directive_table(void **state)
{
	static const char text[] = "audit_log off\naccess_log off\n"
				   "policy_dir pol\nmembers m.conf\n"
				   "api_root r {\n\ttitle t\n}\n";
	struct cfg_errs errs;
	struct conf *c;

	(void)state;
	c = load_conf(text, &errs);
	if (c == NULL)
		print_error("got: %s\n", errs.n ? errs.v[0] : "?");
	assert_non_null(c);
	conf_free(c);
	cfg_errs_clear(&errs);
	conf_fail("audit_log off\naudit_log off\napi_root r {\n\ttitle t\n"
		  "}\n",
	    "ctihub.conf:2: 'audit_log' given twice");
}

/* index_observables is yes or no (yes when absent); max_observables is
 * bounded by what the store keeps. */
static void
t_observables(void **state)
{
	static const char tail[] = "api_root r {\n\ttitle t\n}\n";
	char text[256];
	struct cfg_errs errs;
	struct conf *c;

	(void)state;
	c = load_conf(tail, &errs);
	assert_non_null(c);
	assert_int_equal(c->index_observables, 1);
	assert_int_equal(c->max_observables, 1024);
	conf_free(c);
	cfg_errs_clear(&errs);
	snprintf(text, sizeof(text),
	    "index_observables no\nmax_observables 5\n%s", tail);
	c = load_conf(text, &errs);
	assert_non_null(c);
	assert_int_equal(c->index_observables, 0);
	assert_int_equal(c->max_observables, 5);
	conf_free(c);
	cfg_errs_clear(&errs);
	snprintf(text, sizeof(text), "index_observables maybe\n%s", tail);
	conf_fail(text, "'maybe' is not yes or no");
	snprintf(text, sizeof(text), "max_observables 1025\n%s", tail);
	conf_fail(text, "max_observables");
}

static void
t_conf_valid(void **state)
{
	struct cfg_errs errs;
	struct conf *c = load_conf(conf_ok, &errs);
	const struct conf_root *r;
	const struct conf_collection *k;
	const struct member *br, *in;

	(void)state;
	assert_int_equal(errs.n, 0);
	assert_non_null(c);
	assert_int_equal(c->nlisten, 2);
	assert_string_equal(c->listen[1].host, "::1");
	assert_string_equal(c->listen[1].port, "8443");
	assert_int_equal(c->map_size, 1ULL << 30);
	assert_int_equal(c->map_max, 64ULL << 30);
	assert_int_equal(c->shutdown_timeout, 10);
	assert_int_equal(c->status_ttl, 7200);
	/* defaults come from the table */
	assert_int_equal(c->max_page_size, 1000);
	assert_int_equal(c->max_content_length, 64ULL << 20);
	assert_int_equal(c->ingest_threads, 0);
	assert_int_equal(c->ingest_nice, 15);
	assert_string_equal(c->members_file, "/etc/ctihub/members.conf");
	assert_string_equal(c->policy_dir, "/etc/ctihub/policy");
	assert_string_equal(c->access_log, "/tmp/x/access.log");
	assert_int_equal(c->max_scan, 20000);
	assert_int_equal(c->auth_threads, 1);
	assert_int_equal(c->auth_queue, 32);
	assert_int_equal(c->auth_fail_free, 5);
	assert_int_equal(c->auth_fail_free_addr, 20);
	assert_int_equal(c->auth_fail_free_account, 100);
	assert_int_equal(c->auth_fail_delay, 1);
	assert_int_equal(c->auth_fail_max_delay, 600);
	assert_int_equal(c->auth_track, 10000);
	r = conf_root_find(c, "api1", 4);
	assert_non_null(r);
	assert_int_equal(r->max_content_length, 1 << 20);
	assert_int_equal(r->ncolls, 2);
	k = conf_coll_find(r, "all", 3);
	assert_non_null(k);
	assert_ptr_equal(
	    conf_coll_find(r, "91A7B528-80EB-42ED-A74D-C6FBD5A26116", 36), k);
	assert_string_equal(
	    k->media_types[0], "application/stix+json;version=2.1");
	br = members_find(c->members, "cert-br");
	in = members_find(c->members, "cert-in");
	assert_true(acl_allows(&k->read, br));
	assert_true(acl_allows(&k->write, br));
	assert_false(acl_allows(&k->write, in));
	k = &r->colls[1];
	assert_false(acl_allows(&k->read, br));
	assert_true(acl_allows(&k->read, in));
	assert_true(acl_allows(&k->write, in));
	assert_false(acl_allows(&k->read, NULL));
	conf_free(c);
}

static void
t_conf_broken(void **state)
{
	(void)state;
	conf_fail("listen 127.0.0.1\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:1: listen: '127.0.0.1' is not address:port");
	conf_fail("map_size lots\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:1: map_size: 'lots' is not a size");
	conf_fail("map_size 2G\nmap_max 1G\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:2: map_max is below map_size");
	conf_fail("shutdown_timeout 0s\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:1: shutdown_timeout:");
	conf_fail("status_ttl 3x\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:1: status_ttl: '3x' is not a duration");
	conf_fail("workers 1000\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:1: workers: '1000' is not an integer between 0 and "
	    "64");
	conf_fail("\ningest_nice 20\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:2: ingest_nice: '20' is not an integer between 0 and "
	    "19");
	conf_fail("titel x\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:1: unknown directive 'titel'");
	conf_fail("title\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:1: 'title' needs a value");
	conf_fail("title a b\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:1: 'title' takes one value");
	conf_fail("title a\n", "ctihub.conf: no api_root defined");
	conf_fail(
	    "api_root a {\n}\n", "ctihub.conf:1: api_root a has no title");
	conf_fail("api_root a/b {\n\ttitle t\n}\n",
	    "ctihub.conf:1: api_root name 'a/b' must be");
	conf_fail("api_root a {\n\ttitle t\n\tcollection 1234 {\n"
		  "\t\ttitle t\n\t}\n}\n",
	    "ctihub.conf:3: collection id '1234' is not a UUID");
	conf_fail("api_root a {\n\ttitle t\n"
		  "\tcollection 91a7b528-80eb-42ed-a74d-c6fbd5a26116 {\n"
		  "\t\tread member nobody\n\t}\n}\n",
	    "ctihub.conf:4: read member: no member 'nobody'");
	conf_fail("api_root a {\n\ttitle t\n"
		  "\tcollection 91a7b528-80eb-42ed-a74d-c6fbd5a26116 {\n"
		  "\t\ttitle t\n\t\tread country ZZ\n\t}\n}\n",
	    "ctihub.conf:5: read country: 'ZZ' is not an ISO 3166-1 alpha-2");
	conf_fail("api_root a {\n\ttitle t\n"
		  "\tcollection 91a7b528-80eb-42ed-a74d-c6fbd5a26116 {\n"
		  "\t\ttitle t\n\t\twrite everybody\n\t}\n}\n",
	    "ctihub.conf:5: write: expected 'any'");
	conf_fail("api_root a {\n\ttitle t\n"
		  "\tcollection 91a7b528-80eb-42ed-a74d-c6fbd5a26116 {\n"
		  "\t\ttitle t\n\t}\n"
		  "\tcollection 91a7b528-80eb-42ed-a74d-c6fbd5a26116 {\n"
		  "\t\ttitle u\n\t}\n}\n",
	    "ctihub.conf:6: collection 91a7b528-80eb-42ed-a74d-c6fbd5a26116 "
	    "already defined at line 3");
	conf_fail("tls_cert /x.pem\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:1: tls_cert and tls_key go together");
	conf_fail("default_root b\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:1: default_root 'b' is not a defined api_root");
	conf_fail("api_root a {\n\ttitle t\n}\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:4: api_root a already defined at line 1");
	conf_fail("max_scan 0\napi_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:1: max_scan: '0' is not an integer between 1 and");
	conf_fail("auth_fail_delay 1m\nauth_fail_max_delay 30s\n"
		  "api_root a {\n\ttitle t\n}\n",
	    "ctihub.conf:2: auth_fail_max_delay is shorter than "
	    "auth_fail_delay");
}

static void
t_members_file_missing(void **state)
{
	struct conf *c = NULL;
	struct cfg_errs errs;
	const char *text = "members /nonexistent/m.conf\n"
			   "api_root a {\n\ttitle t\n}\n";

	(void)state;
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(conf_parse("ctihub.conf", "/tmp", text, strlen(text),
			     NULL, &c, &errs),
	    -1);
	assert_true(errs.n >= 1);
	assert_string_equal(errs.v[0],
	    "/nonexistent/m.conf: cannot read: No such file or directory");
	cfg_errs_clear(&errs);
}

static void
t_values(void **state)
{
	uint64_t u;
	int64_t d;
	char *p;

	(void)state;
	assert_int_equal(cfg_parse_size("512k", &u), 0);
	assert_int_equal(u, 512 * 1024);
	assert_int_equal(cfg_parse_size("16G", &u), 0);
	assert_int_equal(u, 16ULL << 30);
	assert_int_equal(cfg_parse_size("10MB", &u), 0);
	assert_int_equal(cfg_parse_size("-1", &u), -1);
	assert_int_equal(cfg_parse_size("99999999999999999999", &u), -1);
	assert_int_equal(cfg_parse_duration("24h", &d), 0);
	assert_int_equal(d, 86400);
	assert_int_equal(cfg_parse_duration("90", &d), 0);
	assert_int_equal(d, 90);
	assert_int_equal(cfg_parse_duration("1w", &d), -1);
	p = cfg_path("conf", "../var/db");
	assert_string_equal(p, "var/db");
	hub_free(p);
	p = cfg_path("/etc/ctihub", "./members.conf");
	assert_string_equal(p, "/etc/ctihub/members.conf");
	hub_free(p);
	p = cfg_path("conf", "/abs/x");
	assert_string_equal(p, "/abs/x");
	hub_free(p);
	p = cfg_path("a", "../../b");
	assert_string_equal(p, "../b");
	hub_free(p);
}

/* Every allocation of the parsers may fail: a clean -1, no leak. */
static void
t_oom(void **state)
{
	struct conf *c;
	struct cfg_errs errs;
	long n;
	int rc;

	(void)state;
	for (n = 0;; n++) {
		struct members *m = NULL;

		memset(&errs, 0, sizeof(errs));
		hub_alloc_fail_after(n);
		rc = members_parse(
		    "m", members_ok, strlen(members_ok), &m, &errs);
		c = NULL;
		if (rc == 0)
			rc = conf_parse(
			    "c", "/x", conf_ok, strlen(conf_ok), m, &c, &errs);
		hub_alloc_fail_after(-1);
		cfg_errs_clear(&errs);
		if (rc == 0) {
			assert_non_null(c);
			conf_free(c);
			break;
		}
		assert_null(c);
		assert_true(n < 100000);
	}
	assert_true(n > 10);
}

/* The list of findings: a warning says so, and a full list makes room
 * for an error by dropping the last warning, never the other way. */
static void
t_findings(void **state)
{
	struct cfg_errs errs;
	int i;

	(void)state;
	memset(&errs, 0, sizeof(errs));
	cfg_errs_add(&errs, "a.conf", 3, "bad %s", "thing");
	cfg_warn_add(&errs, "a.conf", 4, "odd %s", "thing");
	cfg_warn_add(&errs, "a.conf", 0, "odd file");
	assert_int_equal(errs.n, 3);
	assert_string_equal(errs.v[0], "a.conf:3: bad thing");
	assert_int_equal(errs.sev[0], CFG_ERROR);
	assert_string_equal(errs.v[1], "a.conf:4: warning: odd thing");
	assert_int_equal(errs.sev[1], CFG_WARNING);
	assert_string_equal(errs.v[2], "a.conf: warning: odd file");
	assert_int_equal(cfg_errs_count(&errs, CFG_ERROR), 1);
	assert_int_equal(cfg_errs_count(&errs, CFG_WARNING), 2);
	for (i = 3; i < CFG_MAX_ERRS; i++)
		cfg_warn_add(&errs, "a.conf", 10 + i, "odd");
	assert_int_equal(errs.n, CFG_MAX_ERRS);
	/* full: a warning is dropped, an error replaces the last warning */
	cfg_warn_add(&errs, "a.conf", 100, "odd");
	assert_int_equal(errs.wdropped, 1);
	cfg_errs_add(&errs, "a.conf", 101, "bad");
	assert_int_equal(errs.n, CFG_MAX_ERRS);
	assert_int_equal(errs.wdropped, 2);
	assert_int_equal(errs.dropped, 0);
	assert_string_equal(errs.v[CFG_MAX_ERRS - 1], "a.conf:101: bad");
	assert_string_equal(
	    errs.v[CFG_MAX_ERRS - 2], "a.conf:58: warning: odd");
	assert_int_equal(cfg_errs_count(&errs, CFG_ERROR), 2);
	assert_int_equal(cfg_errs_count(&errs, CFG_WARNING), CFG_MAX_ERRS);
	/* only errors left: one more is counted, not kept */
	for (i = 0; i < CFG_MAX_ERRS; i++)
		cfg_errs_add(&errs, "a.conf", 200 + i, "bad");
	assert_int_equal(errs.n, CFG_MAX_ERRS);
	for (i = 0; i < errs.n; i++)
		assert_int_equal(errs.sev[i], CFG_ERROR);
	assert_int_equal(errs.dropped, 2);
	assert_int_equal(cfg_errs_count(&errs, CFG_ERROR), CFG_MAX_ERRS + 2);
	cfg_errs_clear(&errs);
	assert_int_equal(errs.n + errs.dropped + errs.wdropped, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_members_valid),
	    cmocka_unit_test(t_members_broken),
	    cmocka_unit_test(t_conf_valid),
	    cmocka_unit_test(t_observables),
	    cmocka_unit_test(t_directive_table),
	    cmocka_unit_test(t_conf_broken),
	    cmocka_unit_test(t_members_file_missing),
	    cmocka_unit_test(t_values),
	    cmocka_unit_test(t_findings),
	    cmocka_unit_test(t_oom),
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
