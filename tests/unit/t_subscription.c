/*
 * t_subscription.c -- the subscriptions file: a good file (every mode,
 * credentials read from files, aliases resolved, the query built), every
 * error with its "file:line: message", the warning for a secret file
 * readable by everyone, loading through conf_load and binding codes; the
 * push directives of ctihub.conf (defaults, push_allow and
 * conf_push_allowed).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

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
#include "ctihub/member.h"
#include "ctihub/subscription.h"
#include "ctihub/view.h"

#define TOKEN                                                                  \
	"token sha256$"                                                        \
	"0000000000000000000000000000000000000000000000000000000000000001\n"

static const char members_text[] =
    "member cert-br {\n name a\n country BR\n roles publisher subscriber\n"
    " " TOKEN "}\n"
    "member cert-in {\n name b\n country IN\n roles subscriber\n"
    " " TOKEN "}\n"
    "member pub-za {\n name c\n country ZA\n roles publisher\n"
    " " TOKEN "}\n"
    "member hub-asean {\n name d\n country SG\n roles publisher subscriber\n"
    " " TOKEN "}\n";

#define INDICATORS "0c3a0b1e-6d4c-4f7a-9a51-3c2b8f0e7d11"
#define BRICS	   "9f1c2d3e-4b5a-4c6d-8e7f-a0b1c2d3e4f5"
#define OTHER	   "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"

/* Two api roots: "cti" is the default. */
static const char conf_text[] =
    "state_dir /tmp/x\n"
    "default_root cti\n"
    "api_root cti {\n"
    " title t\n"
    " collection " INDICATORS " {\n  title i\n  alias indicators\n"
    "  read any\n }\n"
    " collection " BRICS " {\n  title b\n  alias brics\n"
    "  read country BR IN\n }\n"
    "}\n"
    "api_root other {\n"
    " title o\n"
    " collection " OTHER " {\n  title o\n  alias indicators\n"
    "  read member cert-br hub-asean\n }\n"
    "}\n";

/* A 24-byte key, and the same in a file. */
#define SECRET	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SECRET_LEN  24
#define SECRET_HEAD 0x31 /* its first byte */

static char tmpdir[64];
static char subsfile[128];

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

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/t_subscription.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(subsfile, sizeof(subsfile), "%s/subs.conf", tmpdir);
	write_file("pw", "hunter2 \nsecond line\n", 0600);
	write_file("tok", "cth_abc\n", 0600);
	write_file("whsec", SECRET "\n", 0600);
	write_file("open.pw", "pw\n", 0644);
	write_file("empty", "\n", 0600);
	write_file("cert.pem", "x\n", 0644);
	write_file("key.pem", "x\n", 0600);
	write_file("members.conf", members_text, 0644);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
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

/* Parses good text; every finding is printed and counted into *nwarn. */
static struct subscriptions *
subs_ok(const struct conf *c, const char *text, int *nwarn)
{
	struct subscriptions *s = NULL;
	struct cfg_errs errs;
	int i, rc;

	memset(&errs, 0, sizeof(errs));
	rc = subs_parse(subsfile, text, strlen(text), c, &s, &errs);
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

/* Broken text: one finding must be "subs.conf:<line>: <want>...". */
static void
subs_fail(const struct conf *c, const char *text, int line, const char *want)
{
	struct subscriptions *s = NULL;
	struct cfg_errs errs;
	char full[512];
	int i, found = 0;

	snprintf(full, sizeof(full), "%s:%d: %s", subsfile, line, want);
	memset(&errs, 0, sizeof(errs));
	if (subs_parse(subsfile, text, strlen(text), c, &s, &errs) != -1) {
		print_error("accepted; want: %s\n", full);
		subs_free(s);
		fail();
	}
	assert_null(s);
	for (i = 0; i < errs.n; i++)
		if (strncmp(errs.v[i], full, strlen(full)) == 0)
			found = 1;
	if (!found) {
		print_error("want: %s\n", full);
		for (i = 0; i < errs.n; i++)
			print_error("got:  %s\n", errs.v[i]);
	}
	cfg_errs_clear(&errs);
	assert_true(found);
}

static const char good[] =
    "# every mode\n"
    "subscription br-hook {\n"			   /* 2 */
    "\tmember cert-br\n"			   /* 3 */
    "\tcollection indicators\n"			   /* 4 */
    "\tcollection cti/brics\n"			   /* 5 */
    "\tmode webhook\n"				   /* 6 */
    "\ttarget https://hooks.example:8443/ctihub\n" /* 7 */
    "\tsecret " SECRET "\n"			   /* 8 */
    "\tpayload thin\n"				   /* 9 */
    "\ttypes indicator malware\n"		   /* 10 */
    "\ttlp_min green\n"				   /* 11 */
    "\ttlp_max amber\n"				   /* 12 */
    "\tproducers cert-br pub-za\n"		   /* 13 */
    "\tbatch 100\n"				   /* 14 */
    "\tmax_delay 50ms\n"			   /* 15 */
    "\tca_file cert.pem\n"			   /* 16 */
    "}\n"					   /* 17 */
    "subscription to-asean {\n"			   /* 18 */
    "\tmember hub-asean\n"			   /* 19 */
    "\tcollection other/indicators\n"		   /* 20 */
    "\tmode taxii\n"				   /* 21 */
    "\ttarget https://hub.asean.example/cti/collections/"
    "abc/\n"				     /* 22 */
    "\thub yes\n"			     /* 23 */
    "\tpeer hub-asean\n"		     /* 24 */
    "\tuser ctihub-brics password_file pw\n" /* 25 */
    "\tca_file cert.pem\n"		     /* 26 */
    "\tmax_delay 2s\n"			     /* 27 */
    "}\n"
    "subscription in.stream_1 {\n"
    "\tmember cert-in\n"
    "\tcollection " BRICS "\n"
    "\tmode stream\n"
    "}\n"
    "subscription tok { member cert-in; collection indicators; mode taxii\n"
    "\ttarget https://[::1]:9443/r/collections/x/; token_file tok }\n"
    "subscription crt { member cert-in; collection indicators; mode taxii\n"
    "\ttarget https://127.0.0.1/r/collections/x/\n"
    "\tcert cert.pem key key.pem }\n"
    "subscription ed { member cert-in; collection indicators; mode webhook\n"
    "\ttarget https://h.example/; sign ed25519; sign_key key.pem\n"
    "\tsecret_file whsec }\n";

/* Ed25519 signing takes a key and no secret. */
static void
t_ed25519(void **state)
{
	struct conf *c = load_conf(conf_text);
	struct subscriptions *set;
	const struct subscription *s;
	char path[256];
	int nwarn;

	(void)state;
	set = subs_ok(c,
	    "subscription ed { member cert-in; collection indicators\n"
	    "\tmode webhook; target https://h.example/; sign ed25519\n"
	    "\tsign_key key.pem }\n",
	    &nwarn);
	assert_int_equal(nwarn, 0);
	s = subs_find(set, "ed");
	assert_non_null(s);
	assert_int_equal(s->sign, SUB_SIGN_ED25519);
	snprintf(path, sizeof(path), "%s/key.pem", tmpdir);
	assert_string_equal(s->sign_key_file, path);
	assert_null(s->secret);
	subs_free(set);

	/* the last block of `good` is an error: a secret with ed25519 */
	subs_fail(c, good, 41, "a secret with 'sign ed25519'");
	conf_free(c);
}

#define B64_64 /* 64 bytes, the most */                                        \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
	"AAAAAAAAAAAAAAAAAA"

/* whsec_ keys: 24 to 64 bytes, with or without base64 padding. */
static void
t_secret(void **state)
{
	struct conf *c = load_conf(conf_text);
	struct subscriptions *set;

	(void)state;
	set = subs_ok(c,
	    "subscription a { member cert-br; collection indicators\n"
	    "\tmode webhook; target https://h.example/\n"
	    "\tsecret whsec_" B64_64 "== }\n"
	    "subscription b { member cert-br; collection indicators\n"
	    "\tmode webhook; target https://h.example/\n"
	    "\tsecret whsec_" B64_64 " }\n"
	    "subscription c { member cert-br; collection indicators\n"
	    "\tmode webhook; target https://h.example/\n"
	    "\tsecret whsec_/////////////////////////////////w }\n",
	    NULL);
	assert_int_equal(set->v[0].secretlen, 64);
	assert_int_equal(set->v[1].secretlen, 64);
	assert_int_equal(set->v[2].secretlen, 25);
	assert_int_equal(set->v[2].secret[24], 0xff);
	subs_free(set);
	subs_fail(c,
	    "subscription a { member cert-br; collection indicators\n"
	    "\tmode webhook; target https://h.example/\n"
	    "\tsecret whsec_" B64_64 "A= }\n",
	    3, "secret: not whsec_");
	subs_fail(c,
	    "subscription a { member cert-br; collection indicators\n"
	    "\tmode webhook; target https://h.example/\n"
	    "\tsecret whsec_AAAA=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA }\n",
	    3, "secret: not whsec_");
	conf_free(c);
}

static void
t_modes(void **state)
{
	struct conf *c = load_conf(conf_text);
	struct subscriptions *set;
	const struct subscription *s;
	const char *good_end = strstr(good, "subscription ed {");
	char *text = strndup(good, (size_t)(good_end - good)), path[256];
	int nwarn;

	(void)state;
	set = subs_ok(c, text, &nwarn);
	assert_int_equal(nwarn, 0);
	assert_int_equal(set->n, 5);
	assert_string_equal(set->file, subsfile);

	s = subs_find(set, "br-hook");
	assert_non_null(s);
	assert_int_equal(s->line, 2);
	assert_string_equal(s->file, subsfile);
	assert_string_equal(s->member, "cert-br");
	assert_int_equal(s->ncolls, 2);
	assert_string_equal(s->colls[0].root, "cti");
	assert_string_equal(s->colls[0].id, INDICATORS);
	assert_string_equal(s->colls[1].root, "cti");
	assert_string_equal(s->colls[1].id, BRICS);
	assert_int_equal(s->colls[0].code,
	    conf_coll_find(&c->roots[0], INDICATORS, 36)->code);
	assert_int_equal(s->mode, SUB_WEBHOOK);
	assert_string_equal(s->target, "https://hooks.example:8443/ctihub");
	assert_int_equal(s->sign, SUB_SIGN_HMAC);
	assert_int_equal(s->secretlen, SECRET_LEN);
	assert_int_equal(s->secret[0], SECRET_HEAD);
	assert_int_equal(s->payload, SUB_PAYLOAD_THIN);
	assert_int_equal(s->batch, 100);
	assert_int_equal(s->max_delay_ms, 50);
	assert_string_equal(s->query,
	    "match[type]=indicator,malware&match[tlp]=green,amber&"
	    "match[producer]=cert-br,pub-za");
	snprintf(path, sizeof(path), "%s/cert.pem", tmpdir);
	assert_string_equal(s->ca_file, path);
	assert_false(s->hub);
	assert_null(s->user);
	assert_null(s->token);

	s = subs_find(set, "to-asean");
	assert_non_null(s);
	assert_int_equal(s->mode, SUB_TAXII);
	assert_string_equal(s->colls[0].root, "other");
	assert_string_equal(s->colls[0].id, OTHER);
	assert_true(s->hub);
	assert_string_equal(s->peer, "hub-asean");
	assert_string_equal(s->user, "ctihub-brics");
	assert_string_equal(s->password, "hunter2"); /* first line, trimmed */
	assert_string_equal(s->ca_file, path);
	assert_int_equal(s->max_delay_ms, 2000);
	assert_int_equal(s->batch, 500); /* defaults */
	/* a hub never carries AMBER+STRICT or RED */
	assert_string_equal(s->query, "match[tlp]=clear,green,amber");

	s = subs_find(set, "in.stream_1");
	assert_non_null(s);
	assert_int_equal(s->mode, SUB_STREAM);
	assert_null(s->target);
	assert_string_equal(s->colls[0].id, BRICS);
	assert_string_equal(s->query, "");
	assert_int_equal(s->max_delay_ms, 200);
	assert_int_equal(s->payload, SUB_PAYLOAD_AUTO);

	s = subs_find(set, "tok");
	assert_non_null(s);
	assert_string_equal(s->token, "cth_abc");
	assert_null(s->user);
	assert_string_equal(s->target, "https://[::1]:9443/r/collections/x/");

	s = subs_find(set, "crt");
	assert_non_null(s);
	assert_string_equal(s->cert_file, path);
	snprintf(path, sizeof(path), "%s/key.pem", tmpdir);
	assert_string_equal(s->key_file, path);

	assert_null(subs_find(set, "nope"));
	assert_null(subs_find(NULL, "tok"));
	subs_free(set);
	free(text);
	conf_free(c);
}

/* Every query the module builds is one view_parse takes, with the
 * filters it names. */
static void
t_query(void **state)
{
	struct conf *c = load_conf(conf_text);
	struct subscriptions *set;
	struct view_query q;
	char err[256];

	(void)state;
	set = subs_ok(c,
	    "subscription a { member cert-br; collection indicators\n"
	    "\tmode stream; tlp_min amber+strict }\n"
	    "subscription b { member cert-br; collection indicators\n"
	    "\tmode stream; tlp_max clear; types report }\n"
	    "subscription c { member cert-br; collection indicators\n"
	    "\tmode stream; tlp_min TLP:AMBER; tlp_max amber }\n",
	    NULL);
	assert_string_equal(
	    subs_find(set, "a")->query, "match[tlp]=amber%2Bstrict,red");
	assert_string_equal(
	    subs_find(set, "b")->query, "match[type]=report&match[tlp]=clear");
	assert_string_equal(subs_find(set, "c")->query, "match[tlp]=amber");
	memset(&q, 0, sizeof(q));
	assert_int_equal(
	    view_parse(&q, VIEW_OBJECTS, subs_find(set, "a")->query, c->members,
		err, sizeof(err)),
	    0);
	assert_int_equal(q.tlps, (1u << 4) | (1u << 5));
	view_query_clear(&q);
	subs_free(set);
	conf_free(c);
}

#define HEAD "subscription s {\n\tmember cert-br\n\tcollection indicators\n"
#define WH   HEAD "\tmode webhook\n\ttarget https://h.example/\n"
#define TX   HEAD "\tmode taxii\n\ttarget https://h.example/r/collections/x/\n"

#define A32 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static void
t_errors(void **state)
{
	struct conf *c = load_conf(conf_text);

	(void)state;
	subs_fail(c, "subscriptions s {\n}\n", 1,
	    "unknown directive 'subscriptions' (expected 'subscription");
	subs_fail(c, "subscription s\n", 1, "expected 'subscription <name>");
	subs_fail(c, "subscription a/b {\n}\n", 1, "subscription name 'a/b'");
	subs_fail(c, HEAD "\tmode stream\n\tfoo bar\n}\n", 5,
	    "unknown directive 'foo' in a subscription");
	subs_fail(c,
	    HEAD "\tmode stream\n}\nsubscription s {\n\tmember cert-br\n}\n", 6,
	    "subscription s already defined at line 1");
	/* what is missing */
	subs_fail(c,
	    "subscription s {\n\tcollection indicators\n"
	    "\tmode stream\n}\n",
	    1, "subscription s has no 'member'");
	subs_fail(c, "subscription s {\n\tmember cert-br\n\tmode stream\n}\n",
	    1, "subscription s has no 'collection'");
	subs_fail(c, HEAD "}\n", 1, "subscription s has no 'mode'");
	subs_fail(c, HEAD "\tmode webhook\n\tsecret " SECRET "\n}\n", 1,
	    "subscription s (mode webhook) has no 'target'");
	subs_fail(c, HEAD "\tmode taxii\n}\n", 1,
	    "subscription s (mode taxii) has no 'target'");
	subs_fail(c, WH "}\n", 1,
	    "subscription s (sign hmac) has no 'secret' or 'secret_file'");
	subs_fail(c, WH "\tsign ed25519\n}\n", 1,
	    "subscription s (sign ed25519) has no 'sign_key'");
	/* the member */
	subs_fail(c,
	    "subscription s {\n\tmember nobody\n\tcollection indicators\n"
	    "\tmode stream\n}\n",
	    2, "member: no member 'nobody' in members.conf");
	subs_fail(c,
	    "subscription s {\n\tmember pub-za\n\tcollection indicators\n"
	    "\tmode stream\n}\n",
	    2, "member pub-za does not have the subscriber role");
	subs_fail(c,
	    "subscription s {\n\tmember cert-br\n\tmember cert-in\n"
	    "\tcollection indicators\n\tmode stream\n}\n",
	    3, "'member' given twice");
	/* collections */
	subs_fail(c, HEAD "\tcollection nope\n\tmode stream\n}\n", 4,
	    "collection nope: no such collection in api_root cti");
	subs_fail(c, HEAD "\tcollection zz/x\n\tmode stream\n}\n", 4,
	    "collection zz/x: no api_root 'zz'");
	subs_fail(c, HEAD "\tcollection cti/" INDICATORS "\n\tmode stream\n}\n",
	    4, "collection cti/" INDICATORS " named twice");
	subs_fail(c,
	    "subscription s {\n\tmember cert-in\n\tcollection brics\n"
	    "\tcollection other/indicators\n\tmode stream\n}\n",
	    4, "member cert-in may not read collection " OTHER);
	/* mode and target */
	subs_fail(c, HEAD "\tmode push\n}\n", 4,
	    "mode: 'push' is not webhook, taxii or stream");
	subs_fail(c,
	    HEAD "\tmode webhook\n\tsecret " SECRET
		 "\n\ttarget http://h.example/\n}\n",
	    6, "target 'http://h.example/' is not an https:// URL");
	subs_fail(c,
	    HEAD "\tmode webhook\n\tsecret " SECRET
		 "\n\ttarget https://u:p@h.example/\n}\n",
	    6, "target 'https://u:p@h.example/' is not a usable URL");
	subs_fail(c,
	    HEAD "\tmode webhook\n\tsecret " SECRET
		 "\n\ttarget https://h.example:99999/\n}\n",
	    6, "target 'https://h.example:99999/' is not a usable URL");
	subs_fail(c,
	    HEAD "\tmode webhook\n\tsecret " SECRET
		 "\n\ttarget https:///x\n}\n",
	    6, "target 'https:///x' is not a usable URL");
	subs_fail(c,
	    HEAD
	    "\tmode taxii\n\ttarget https://h.example/r/collections/x\n}\n",
	    5, "target 'https://h.example/r/collections/x': a taxii target");
	subs_fail(c,
	    HEAD "\tmode taxii\n\ttarget https://h.example/r/objects/x/\n}\n",
	    5, "target 'https://h.example/r/objects/x/': a taxii target");
	subs_fail(c,
	    HEAD "\tmode taxii\n\ttarget https://h.example/collections//\n}\n",
	    5, "target 'https://h.example/collections//': a taxii target");
	subs_fail(c,
	    HEAD "\tmode stream\n\ttarget https://h.example/r/collections/x/\n"
		 "}\n",
	    5, "a target ('target') with mode stream");
	/* credentials */
	subs_fail(c, WH "\tsecret " SECRET "\n\ttoken_file tok\n}\n", 7,
	    "credentials ('token_file') with mode webhook");
	subs_fail(c, HEAD "\tmode stream\n\tuser a password_file pw\n}\n", 5,
	    "credentials ('user') with mode stream");
	subs_fail(c, TX "\tsecret " SECRET "\n}\n", 6,
	    "a signing secret ('secret') with mode taxii");
	subs_fail(c, TX "\tpayload full\n}\n", 6,
	    "a payload kind ('payload') with mode taxii");
	subs_fail(c, TX "\tuser a password_file pw\n\ttoken_file tok\n}\n", 7,
	    "two kinds of credentials");
	subs_fail(c, TX "\ttoken_file tok\n\tcert cert.pem key key.pem\n}\n", 7,
	    "two kinds of credentials");
	subs_fail(
	    c, TX "\tuser a\n}\n", 6, "user and password_file go together");
	subs_fail(c, TX "\tkey key.pem\n}\n", 6, "cert and key go together");
	subs_fail(c, TX "\tuser a password_file\n}\n", 6,
	    "'user' takes one value (then, on the same line");
	subs_fail(c, TX "\tuser a types indicator\n}\n", 6,
	    "'types' takes a list: give it a line of its own");
	subs_fail(c, TX "\tuser a passwd pw\n}\n", 6,
	    "unknown directive 'passwd' in a subscription");
	subs_fail(
	    c, TX "\tuser a password_file missing\n}\n", 6, "cannot read ");
	subs_fail(c, TX "\tuser a password_file empty\n}\n", 6, "");
	subs_fail(c, TX "\tuser a:b password_file pw\n}\n", 6,
	    "user: 'a:b' is empty or has a ':'");
	subs_fail(c, TX "\tca_file nope.pem\n}\n", 6, "cannot read ");
	/* the webhook secret and signing */
	subs_fail(c, WH "\tsecret MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n}\n", 6,
	    "secret: not whsec_ and the base64 of 24 to 64 bytes");
	subs_fail(c, WH "\tsecret whsec_MfKQ9r8GKYqrTwjUPD8I\n}\n", 6,
	    "secret: not whsec_ and the base64 of 24 to 64 bytes");
	subs_fail(c, WH "\tsecret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!\n}\n",
	    6, "secret: not whsec_");
	subs_fail(c, WH "\tsecret whsec_" A32 A32 A32 "\n}\n", /* 72 bytes */
	    6, "secret: not whsec_");
	subs_fail(c, WH "\tsecret " SECRET "\n\tsecret_file whsec\n}\n", 7,
	    "secret and secret_file: give one");
	subs_fail(c, WH "\tsecret_file tok\n}\n", 6, "secret_file: not whsec_");
	subs_fail(c, WH "\tsecret " SECRET "\n\tsign rsa\n}\n", 7,
	    "sign: 'rsa' is not hmac or ed25519");
	subs_fail(c, WH "\tsecret " SECRET "\n\tsign_key key.pem\n}\n", 7,
	    "sign_key needs 'sign ed25519'");
	subs_fail(c, WH "\tsecret " SECRET "\n\tpayload fat\n}\n", 7,
	    "payload: 'fat' is not auto, full or thin");
	/* batch and delay */
	subs_fail(c, WH "\tsecret " SECRET "\n\tbatch 0\n}\n", 7,
	    "batch: '0' is not an integer between 1 and 10000");
	subs_fail(c, WH "\tsecret " SECRET "\n\tbatch 10001\n}\n", 7,
	    "batch: '10001' is not an integer between 1 and 10000");
	subs_fail(c, WH "\tsecret " SECRET "\n\tmax_delay 61s\n}\n", 7,
	    "max_delay: '61s' is not a duration between 0 and 60s");
	subs_fail(c, WH "\tsecret " SECRET "\n\tmax_delay 60001ms\n}\n", 7,
	    "max_delay: '60001ms'");
	subs_fail(c, WH "\tsecret " SECRET "\n\tmax_delay -1\n}\n", 7,
	    "max_delay: '-1'");
	/* filters */
	subs_fail(c, HEAD "\tmode stream\n\ttlp_min purple\n}\n", 5,
	    "tlp_min: 'purple' is not clear, green, amber, amber+strict or "
	    "red");
	subs_fail(c, HEAD "\tmode stream\n\ttlp_max x\n}\n", 5, "tlp_max: 'x'");
	subs_fail(c, HEAD "\tmode stream\n\ttlp_min red\n\ttlp_max green\n}\n",
	    5, "tlp_min RED is stricter than tlp_max GREEN");
	subs_fail(c, HEAD "\tmode stream\n\ttypes Indicator\n}\n", 5,
	    "the filters are refused: match[type]: 'Indicator' is not a STIX "
	    "type name");
	subs_fail(c, HEAD "\tmode stream\n\ttypes a&b\n}\n", 5,
	    "types: 'a&b' is not a STIX type name");
	subs_fail(c, HEAD "\tmode stream\n\ttypes a\n\ttypes b\n}\n", 6,
	    "'types' given twice");
	subs_fail(c, HEAD "\tmode stream\n\tproducers cert-br nobody\n}\n", 5,
	    "producers: no member 'nobody' in members.conf");
	/* hubs */
	subs_fail(c, TX "\tpeer hub-asean\n}\n", 6, "peer without 'hub yes'");
	subs_fail(c, TX "\thub yes\n\tpeer nobody\n}\n", 7,
	    "peer: no member 'nobody' in members.conf");
	subs_fail(c, TX "\thub maybe\n}\n", 6, "hub: 'maybe' is not yes or no");
	subs_fail(c, TX "\thub yes\n\ttlp_min amber+strict\n}\n", 7,
	    "a hub subscription never carries AMBER+STRICT or RED");
	/* syntax errors of the file itself */
	subs_fail(
	    c, "subscription s {\n", 1, "block opened here is never closed");
	conf_free(c);
}

/* No default_root and two roots: a collection names its root. */
static void
t_roots(void **state)
{
	const char *p = strstr(conf_text, "api_root");
	struct conf *c = load_conf(p);
	struct subscriptions *set;

	(void)state;
	subs_fail(c, HEAD "\tmode stream\n}\n", 3,
	    "collection indicators: name its api root (root/collection): there "
	    "are 2 and no default_root");
	set = subs_ok(c,
	    "subscription s { member cert-br; collection other/" OTHER
	    "; mode stream }\n",
	    NULL);
	assert_string_equal(set->v[0].colls[0].id, OTHER);
	subs_free(set);
	conf_free(c);
}

/* A secret file anyone may read is used, with a warning. */
static void
t_world_readable(void **state)
{
	struct conf *c = load_conf(conf_text);
	struct subscriptions *set;
	struct cfg_errs errs;
	char want[256];

	(void)state;
	memset(&errs, 0, sizeof(errs));
	snprintf(want, sizeof(want),
	    "%s:6: warning: %s/open.pw is readable by everyone (chmod o-r)",
	    subsfile, tmpdir);
	assert_int_equal(
	    subs_parse(subsfile, TX "\tuser a password_file open.pw\n}\n",
		strlen(TX "\tuser a password_file open.pw\n}\n"), c, &set,
		&errs),
	    0);
	assert_int_equal(errs.n, 1);
	assert_int_equal(errs.sev[0], CFG_WARNING);
	assert_string_equal(errs.v[0], want);
	assert_string_equal(set->v[0].password, "pw");
	cfg_errs_clear(&errs);
	subs_free(set);
	conf_free(c);
}

/* ctihub.conf's push directives: defaults, values, push_allow. */
static void
t_conf_push(void **state)
{
	struct conf *c = load_conf(conf_text);
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;

	(void)state;
	assert_null(c->subs_file);
	assert_null(c->subs);
	assert_int_equal(c->npush_allow, 0);
	assert_int_equal(c->push_retry_for, 3 * 86400);
	assert_int_equal(c->push_backoff_min, 1);
	assert_int_equal(c->push_backoff_max, 3600);
	assert_int_equal(c->push_timeout, 30);
	assert_int_equal(c->push_connect_timeout, 10);
	assert_int_equal(c->push_max_bytes, 8 << 20);
	assert_int_equal(c->stream_heartbeat, 15);
	assert_int_equal(c->max_streams, 1000);
	assert_int_equal(c->gone_keep, 7 * 86400);
	memset(&a4, 0, sizeof(a4));
	a4.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);
	assert_false(conf_push_allowed(
	    c, (struct sockaddr *)&a4, (socklen_t)sizeof(a4)));
	conf_free(c);

	{
		char text[2048];

		snprintf(text, sizeof(text),
		    "push_allow 127.0.0.1/32 10.0.0.0/8\n"
		    "push_allow ::1/128 fd00::/8 192.168.1.128/25\n"
		    "push_retry_for 1h\npush_backoff_min 2s\n"
		    "push_backoff_max 10m\npush_timeout 5s\n"
		    "push_connect_timeout 2s\npush_max_bytes 1M\n"
		    "stream_heartbeat 1s\nmax_streams 0\ngone_keep 1d\n%s",
		    conf_text);
		c = load_conf(text);
	}
	assert_int_equal(c->npush_allow, 5);
	assert_int_equal(c->push_retry_for, 3600);
	assert_int_equal(c->push_backoff_min, 2);
	assert_int_equal(c->push_backoff_max, 600);
	assert_int_equal(c->push_timeout, 5);
	assert_int_equal(c->push_connect_timeout, 2);
	assert_int_equal(c->push_max_bytes, 1 << 20);
	assert_int_equal(c->stream_heartbeat, 1);
	assert_int_equal(c->max_streams, 0);
	assert_int_equal(c->gone_keep, 86400);
#define ALLOWED4(s)                                                            \
	(inet_pton(AF_INET, (s), &a4.sin_addr) == 1 &&                         \
	    conf_push_allowed(                                                 \
		c, (struct sockaddr *)&a4, (socklen_t)sizeof(a4)))
#define ALLOWED6(s)                                                            \
	(inet_pton(AF_INET6, (s), &a6.sin6_addr) == 1 &&                       \
	    conf_push_allowed(                                                 \
		c, (struct sockaddr *)&a6, (socklen_t)sizeof(a6)))
	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	assert_true(ALLOWED4("127.0.0.1"));
	assert_false(ALLOWED4("127.0.0.2"));
	assert_true(ALLOWED4("10.200.3.4"));
	assert_false(ALLOWED4("11.0.0.1"));
	assert_true(ALLOWED4("192.168.1.200"));
	assert_false(ALLOWED4("192.168.1.127"));
	assert_true(ALLOWED6("::1"));
	assert_false(ALLOWED6("::2"));
	assert_true(ALLOWED6("fd12:3456::1"));
	assert_false(ALLOWED6("fe80::1"));
	assert_true(ALLOWED6("::ffff:127.0.0.1")); /* IPv4-mapped */
	assert_false(ALLOWED6("::ffff:127.0.0.2"));
	/* short or unknown addresses are never allowed */
	assert_false(conf_push_allowed(c, (struct sockaddr *)&a4, 4));
	assert_false(conf_push_allowed(c, NULL, 0));
	conf_free(c);
}

static void
conf_fail(const char *text, const char *want)
{
	struct members *m = NULL;
	struct conf *c = NULL;
	struct cfg_errs errs;
	char full[4096];
	int i, found = 0;

	memset(&errs, 0, sizeof(errs));
	assert_int_equal(members_parse("members.conf", members_text,
			     strlen(members_text), &m, &errs),
	    0);
	snprintf(full, sizeof(full), "%s%s", text, conf_text);
	assert_int_equal(
	    conf_parse("ctihub.conf", tmpdir, full, strlen(full), m, &c, &errs),
	    -1);
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
t_conf_push_broken(void **state)
{
	(void)state;
	conf_fail("push_allow 10.0.0.1/8\n",
	    "ctihub.conf:1: push_allow: '10.0.0.1/8' has bits set past its "
	    "prefix length");
	conf_fail("push_allow 10.0.0.0/33\n",
	    "ctihub.conf:1: push_allow: '10.0.0.0/33' is not a network");
	conf_fail("push_allow localhost\n",
	    "ctihub.conf:1: push_allow: 'localhost' is not a network");
	conf_fail("push_allow\n", "ctihub.conf:1: 'push_allow' needs a value");
	conf_fail("push_backoff_min 1m\npush_backoff_max 30s\n",
	    "ctihub.conf:2: push_backoff_max is shorter than push_backoff_min");
	conf_fail("push_timeout 5s\n",
	    "ctihub.conf:1: push_timeout is shorter than push_connect_timeout");
	conf_fail("gone_keep 1s\n",
	    "ctihub.conf:1: gone_keep: '1s' is not a "
	    "duration");
	conf_fail("max_streams -1\n", "ctihub.conf:1: max_streams:");
	conf_fail("push_max_bytes 1k\n", "ctihub.conf:1: push_max_bytes:");
	conf_fail("subscriptions nope.conf\n",
	    "/nope.conf: cannot read: No such file or directory");
}

/* conf_load reads the file the conf names, relative to the conf, and an
 * error in it refuses the configuration. */
static void
t_conf_load(void **state)
{
	struct conf *c = NULL;
	struct cfg_errs errs;
	char path[256], text[4096];
	int i;

	(void)state;
	write_file("s1.conf",
	    "subscription s { member cert-br; collection brics; mode stream "
	    "}\n",
	    0644);
	snprintf(text, sizeof(text), "subscriptions s1.conf\n%s", conf_text);
	write_file("ctihub.conf", text, 0644);
	snprintf(path, sizeof(path), "%s/ctihub.conf", tmpdir);
	memset(&errs, 0, sizeof(errs));
	if (conf_load(path, &c, &errs) == -1)
		for (i = 0; i < errs.n; i++)
			print_error("%s\n", errs.v[i]);
	cfg_errs_clear(&errs);
	assert_non_null(c);
	assert_non_null(c->subs);
	assert_int_equal(c->subs->n, 1);
	assert_string_equal(c->subs->v[0].colls[0].id, BRICS);
	conf_free(c);

	/* an error in the subscriptions refuses the whole configuration */
	write_file("s1.conf",
	    "subscription s { member cert-br; collection brics }\n", 0644);
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(conf_load(path, &c, &errs), -1);
	assert_null(c);
	snprintf(text, sizeof(text),
	    "%s/s1.conf:1: subscription s has no 'mode'", tmpdir);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.v[0], text);
	cfg_errs_clear(&errs);
}

/* Every allocation may fail: a clean -1, no leak. */
static void
t_oom(void **state)
{
	struct conf *c = load_conf(conf_text);
	const char *good_end = strstr(good, "subscription ed {");
	struct subscriptions *set;
	struct cfg_errs errs;
	long n;
	int rc;

	(void)state;
	for (n = 0;; n++) {
		set = NULL;
		memset(&errs, 0, sizeof(errs));
		hub_alloc_fail_after(n);
		rc = subs_parse(
		    subsfile, good, (size_t)(good_end - good), c, &set, &errs);
		hub_alloc_fail_after(-1);
		cfg_errs_clear(&errs);
		if (rc == 0) {
			assert_int_equal(set->n, 5);
			subs_free(set);
			break;
		}
		assert_null(set);
		assert_true(n < 100000);
	}
	assert_true(n > 10);
	conf_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_modes),
	    cmocka_unit_test(t_ed25519),
	    cmocka_unit_test(t_secret),
	    cmocka_unit_test(t_query),
	    cmocka_unit_test(t_errors),
	    cmocka_unit_test(t_roots),
	    cmocka_unit_test(t_world_readable),
	    cmocka_unit_test(t_conf_push),
	    cmocka_unit_test(t_conf_push_broken),
	    cmocka_unit_test(t_conf_load),
	    cmocka_unit_test(t_oom),
	};

	return cmocka_run_group_tests_name(
	    "subscription", tests, setup, teardown);
}
