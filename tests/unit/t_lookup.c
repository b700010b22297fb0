/*
 * t_lookup.c -- lookups over a real store (lookup.h): exact values, IPv4
 * and IPv6 containment both ways, cross-hash, misses and bad values,
 * valid_only and best_only, and the policy: a hidden object (another
 * member's AMBER, a RED one, one in a collection the member may not read,
 * a superseded version) is never returned, never counted, never used to
 * expand hashes and never moves first or last seen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/lookup.h"
#include "ctihub/marking.h"
#include "ctihub/member.h"
#include "ctihub/observable.h"
#include "ctihub/policy.h"
#include "ctihub/stix.h"
#include "ctihub/store.h"
#include "ctihub/tstamp.h"
#include "ctihub/view.h"

#define MEMBER(id, cc)                                                         \
	"member " id " {\n\tname \"" id "\"\n\tcountry " cc                    \
	"\n\troles publisher subscriber\n\ttoken sha256$"                      \
	"00000000000000000000000000000000000000000000000000000000000000aa\n}"  \
	"\n"

static const char members_text[] =
    MEMBER("alice", "BR") MEMBER("erin", "MX") MEMBER("bob", "IN");

#define C_A 100 /* collections erin may read */
#define C_B 101
#define C_X 102 /* one she may not */

static const struct lookup_coll colls[] = {{C_A, "coll-a"}, {C_B, "coll-b"}};

/* One value of a row as indexed: its file group, type hint and text. */
struct val {
	int group;
	int type;
	const char *text;
};

struct fx {
	char dir[64];
	struct store *st;
	struct store_reader *r;
	struct members *ms;
	const struct member *alice, *erin, *bob;
	int64_t clock;
	struct lookup *lk;
};

static int
fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct cfg_errs errs;
	char err[256], db[128];

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/t_lookup.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(db, sizeof(db), "%s/db", fx->dir);
	assert_int_equal(mkdir(db, 0700), 0);
	assert_int_equal(
	    store_open(&fx->st, db, 1ULL << 30, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_reader_new(fx->st, &fx->r), STORE_OK);
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(members_parse("members.conf", members_text,
			     strlen(members_text), &fx->ms, &errs),
	    0);
	fx->alice = members_find(fx->ms, "alice");
	fx->erin = members_find(fx->ms, "erin");
	fx->bob = members_find(fx->ms, "bob");
	fx->clock = INT64_C(1700000000000000);
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	lookup_free(fx->lk);
	members_free(fx->ms);
	store_reader_free(fx->r);
	store_close(fx->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/*
 * Stores one version of `m`'s object number `num` (version `ver`, extra
 * JSON members `extra`) in coll at tlp, and indexes its values; returns
 * its rowid.
 */
static uint64_t
put(struct fx *fx, const struct member *m, uint32_t coll, int tlp, int num,
    int64_t ver, const char *extra, const struct val *vals, int nval,
    uint8_t oflags, int64_t valid_until)
{
	struct store_obj o;
	struct store_wtxn *w;
	struct store_entry e;
	char id[64], js[512];
	uint64_t rowid;
	int i;

	(void)i;
	snprintf(id, sizeof(id), "indicator--%08x-0000-4000-8000-000000000000",
	    (unsigned)num);
	snprintf(js, sizeof(js), "{\"id\":\"%s\"%s%s}", id, extra ? "," : "",
	    extra ? extra : "");
	memset(&o, 0, sizeof(o));
	o.json = js;
	o.jsonlen = strlen(js);
	o.id = id;
	o.idlen = strlen(id);
	assert_int_equal(stix_parse_id(id, NULL, 0, o.uuid), 0);
	o.version = ver;
	o.tlp = (uint8_t)tlp;
	if (oflags & STORE_OBS_F_REVOKED)
		o.flags |= STORE_F_REVOKED;
	assert_int_equal(store_wbegin(fx->st, &w), STORE_OK);
	assert_int_equal(
	    store_wput(w, coll, m->code, &o, 1, ++fx->clock), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(store_rbegin(fx->r), STORE_OK);
	assert_int_equal(
	    store_entry_get(fx->r, coll, o.date_added, &e), STORE_OK);
	store_rend(fx->r);
	rowid = e.rowid;
	assert_int_equal(store_wbegin(fx->st, &w), STORE_OK);
	{
		/* the store's own obsrow (o-write), as ingest writes it */
		static unsigned char keys[8][OBS_KEY_MAX];
		struct store_obs_item items[8];
		struct store_obs_set set;

		assert_true(nval <= 8);
		for (i = 0; i < nval; i++) {
			static struct obs ob;
			char err[OBS_ERRLEN];

			if (obs_normalise(vals[i].type, vals[i].text,
				strlen(vals[i].text), &ob, err,
				sizeof(err)) != 0)
				fail_msg("%s: %s", vals[i].text, err);
			memcpy(keys[i], ob.key, ob.keylen);
			memset(&items[i], 0, sizeof(items[i]));
			items[i].group = (uint8_t)vals[i].group;
			items[i].key = keys[i];
			items[i].keylen = ob.keylen;
		}
		json_t *jo = json_loads(js, 0, NULL), *jv;
		int64_t t;

		memset(&set, 0, sizeof(set));
		set.valid_until = valid_until;
		/* confidence and valid_from as ingest takes them */
		set.confidence = 255;
		set.valid_from = STORE_OBS_ALWAYS;
		assert_non_null(jo);
		jv = json_object_get(jo, "confidence");
		if (json_is_integer(jv))
			set.confidence = (uint8_t)json_integer_value(jv);
		jv = json_object_get(jo, "valid_from");
		if (json_is_string(jv) &&
		    tstamp_parse(
			json_string_value(jv), json_string_length(jv), &t) == 0)
			set.valid_from = t;
		json_decref(jo);
		set.flags = oflags | STORE_OBS_F_PATTERN;
		set.n = nval;
		set.v = items;
		assert_int_equal(
		    store_wobs_row(w, rowid, m->code, &set), STORE_OK);
	}
	assert_int_equal(store_wcommit(w), STORE_OK);
	return rowid;
}

static uint64_t
put1(struct fx *fx, const struct member *m, uint32_t coll, int tlp, int num,
    const char *value)
{
	struct val v = {0, OBS_NONE, value};

	return put(fx, m, coll, tlp, num, 1000, "\"confidence\":50", &v, 1, 0,
	    STORE_OBS_FOREVER);
}

/* Looks values up as `m` with options; the results in fx->lk. */
static const struct lookup_result *
run(struct fx *fx, const struct member *m, const char *const *values, int n,
    int valid_only, int best_only, int ncoll)
{
	struct lookup_in in[16];
	struct lookup_opts o;
	struct view_ctx vc;
	const struct lookup_result *res;
	int i, k;

	assert_true(n <= 16);
	for (i = 0; i < n; i++) {
		in[i].value = values[i];
		in[i].len = strlen(values[i]);
		in[i].type = OBS_NONE;
	}
	memset(&o, 0, sizeof(o));
	o.valid_only = valid_only;
	o.best_only = best_only;
	o.now = fx->clock;
	o.max_matches = 100;
	o.max_scan = 100000;
	o.members = fx->ms;
	memset(&vc, 0, sizeof(vc));
	vc.r = fx->r;
	vc.pol = NULL; /* TLP 2.0 defaults: AMBER for its producer only */
	vc.reader = m;
	lookup_free(fx->lk);
	fx->lk = NULL;
	assert_int_equal(store_rbegin(fx->r), STORE_OK);
	assert_int_equal(
	    lookup_run(&vc, colls, ncoll, in, n, &o, &fx->lk), STORE_OK);
	store_rend(fx->r);
	res = lookup_results(fx->lk, &k);
	assert_int_equal(k, n);
	return res;
}

/* The match of row `rowid` in r, or NULL. */
static const struct lookup_match *
match_of(const struct lookup_result *r, uint64_t rowid)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (r->m[i].row->rowid == rowid)
			return &r->m[i];
	return NULL;
}

static void
t_exact_and_bad(void **state)
{
	struct fx *fx = *state;
	const char *const q[] = {"1.2.3.4", "WWW.Example.COM.", "9.9.9.9",
	    "not a value", "", "010.1.1.1"};
	const struct lookup_result *r;
	uint64_t a, d;
	struct buf b = BUF_INIT;

	a = put1(fx, fx->alice, C_A, TLP_GREEN, 1, "1.2.3.4");
	d = put1(fx, fx->bob, C_B, TLP_CLEAR, 2, "www.example.com");
	r = run(fx, fx->erin, q, 6, 0, 0, 2);
	assert_true(r[0].ok);
	assert_string_equal(obs_type_name(r[0].type), "ipv4");
	assert_int_equal(r[0].n, 1);
	assert_int_equal(r[0].m[0].row->rowid, a);
	assert_int_equal(r[0].m[0].how, LOOKUP_EXACT);
	assert_string_equal(r[0].m[0].key, "1.2.3.4");
	assert_int_equal(r[0].m[0].row->confidence, 50);
	assert_int_equal(r[0].m[0].row->ncoll, 1);
	assert_int_equal(r[0].m[0].row->coll[0], 0);
	assert_int_equal(r[0].count, 1);
	assert_int_equal(r[0].nmembers, 1);
	assert_int_equal(r[0].ncountries, 1);
	assert_string_equal(r[0].countries[0], "BR");
	assert_true(r[1].ok);
	assert_string_equal(r[1].canon, "www.example.com");
	assert_int_equal(r[1].n, 1);
	assert_int_equal(r[1].m[0].row->rowid, d);
	assert_true(r[2].ok);
	assert_int_equal(r[2].n, 0);
	assert_int_equal(r[2].count, 0);
	/* bad values: reported each, the batch goes on */
	assert_false(r[3].ok);
	assert_non_null(r[3].err);
	assert_false(r[4].ok);
	assert_false(r[5].ok);
	lookup_json(fx->lk, &b);
	assert_false(buf_failed(&b));
	assert_non_null(strstr(buf_cstr(&b), "\"how\":\"exact\""));
	assert_non_null(strstr(buf_cstr(&b), "\"producer\":\"alice\""));
	assert_non_null(strstr(buf_cstr(&b), "\"ok\":false,\"error\":"));
	buf_clear(&b);
	/* a member who may read no collection of the root: nothing */
	r = run(fx, fx->erin, q, 6, 0, 0, 0);
	assert_int_equal(r[0].n, 0);
	assert_int_equal(r[0].count, 0);
}

static void
t_ipv4_containment(void **state)
{
	struct fx *fx = *state;
	const char *const q[] = {
	    "10.1.2.3", "10.1.0.0/16", "10.0.0.0/8", "11.0.0.1"};
	const struct lookup_result *r;
	uint64_t rng, host;

	rng = put1(fx, fx->alice, C_A, TLP_GREEN, 1, "10.0.0.0/8");
	host = put1(fx, fx->bob, C_A, TLP_GREEN, 2, "10.1.2.3");
	r = run(fx, fx->erin, q, 4, 0, 0, 2);
	/* an address: the range holding it, and itself */
	assert_int_equal(r[0].n, 2);
	assert_int_equal(match_of(&r[0], rng)->how, LOOKUP_IN_RANGE);
	assert_string_equal(match_of(&r[0], rng)->key, "10.0.0.0/8");
	assert_int_equal(match_of(&r[0], host)->how, LOOKUP_EXACT);
	assert_int_equal(r[0].nmembers, 2);
	assert_int_equal(r[0].ncountries, 2);
	/* a range: the wider range, and the address inside it */
	assert_int_equal(r[1].n, 2);
	assert_int_equal(match_of(&r[1], rng)->how, LOOKUP_IN_RANGE);
	assert_int_equal(match_of(&r[1], host)->how, LOOKUP_CONTAINS);
	assert_string_equal(match_of(&r[1], host)->key, "10.1.2.3");
	/* the range itself, exactly */
	assert_int_equal(r[2].n, 2);
	assert_int_equal(match_of(&r[2], rng)->how, LOOKUP_EXACT);
	assert_int_equal(match_of(&r[2], host)->how, LOOKUP_CONTAINS);
	assert_int_equal(r[3].n, 0);
}

static void
t_ipv6_containment(void **state)
{
	struct fx *fx = *state;
	const char *const q[] = {
	    "2001:DB8::1", "2001:db8::/32", "2001:db8:0:0::/48", "2001:db9::1"};
	const struct lookup_result *r;
	uint64_t rng, host;

	rng = put1(fx, fx->alice, C_A, TLP_GREEN, 1, "2001:db8::/40");
	host = put1(fx, fx->bob, C_B, TLP_GREEN, 2, "2001:db8:0::1");
	r = run(fx, fx->erin, q, 4, 0, 0, 2);
	assert_string_equal(r[0].canon, "2001:db8::1");
	assert_int_equal(r[0].n, 2);
	assert_int_equal(match_of(&r[0], rng)->how, LOOKUP_IN_RANGE);
	assert_string_equal(match_of(&r[0], rng)->key, "2001:db8::/40");
	assert_int_equal(match_of(&r[0], host)->how, LOOKUP_EXACT);
	assert_int_equal(r[1].n, 2);
	assert_int_equal(match_of(&r[1], rng)->how, LOOKUP_CONTAINS);
	assert_int_equal(match_of(&r[1], host)->how, LOOKUP_CONTAINS);
	assert_int_equal(r[2].n, 2);
	assert_int_equal(match_of(&r[2], rng)->how, LOOKUP_IN_RANGE);
	assert_int_equal(r[3].n, 0);
}

#define MD5_A "d41d8cd98f00b204e9800998ecf8427e"
#define SHA_A "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MD5_H "0cc175b9c0f1b6a831c399e269772661"
#define SHA_H "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"

static void
t_cross_hash(void **state)
{
	struct fx *fx = *state;
	const struct val both[] = {
	    {0, OBS_NONE, MD5_A}, {0, OBS_NONE, SHA_A}, {1, OBS_NONE, MD5_H}};
	const struct val sha_only = {0, OBS_NONE, SHA_A};
	const struct val hidden[] = {
	    {0, OBS_NONE, MD5_H}, {0, OBS_NONE, SHA_H}};
	const struct val sha_h = {0, OBS_NONE, SHA_H};
	const char *const q[] = {MD5_A, SHA_A, MD5_H};
	const struct lookup_result *r;
	uint64_t a, b, h, e;

	a = put(fx, fx->alice, C_A, TLP_GREEN, 1, 1000, NULL, both, 3, 0,
	    STORE_OBS_FOREVER);
	b = put(fx, fx->bob, C_A, TLP_GREEN, 2, 1000, NULL, &sha_only, 1, 0,
	    STORE_OBS_FOREVER);
	/* alice's RED object ties MD5_H to SHA_H; bob's gives SHA_H only */
	h = put(fx, fx->alice, C_A, TLP_RED, 3, 1000, NULL, hidden, 2, 0,
	    STORE_OBS_FOREVER);
	e = put(fx, fx->bob, C_A, TLP_GREEN, 4, 1000, NULL, &sha_h, 1, 0,
	    STORE_OBS_FOREVER);
	r = run(fx, fx->erin, q, 3, 0, 0, 2);
	assert_int_equal(r[0].n, 2);
	assert_int_equal(match_of(&r[0], a)->how, LOOKUP_EXACT);
	assert_int_equal(match_of(&r[0], b)->how, LOOKUP_CROSS_HASH);
	assert_int_equal(match_of(&r[0], b)->via, OBS_SHA256);
	assert_string_equal(match_of(&r[0], b)->key, SHA_A);
	assert_int_equal(r[0].nmembers, 2);
	/* SHA_A: both directly; MD5_A only in a (no extra match) */
	assert_int_equal(r[1].n, 2);
	assert_int_equal(match_of(&r[1], a)->how, LOOKUP_EXACT);
	assert_int_equal(match_of(&r[1], b)->how, LOOKUP_EXACT);
	/* MD5_H: a's group 1 (another file) is not crossed to SHA_A; the
	 * RED object's MD5_H is neither returned nor expanded to SHA_H */
	assert_int_equal(r[2].n, 1);
	assert_int_equal(r[2].m[0].row->rowid, a);
	assert_null(match_of(&r[2], h));
	assert_null(match_of(&r[2], e));
	assert_int_equal(r[2].count, 1);
	/* alice sees her RED object, and crosses through it */
	r = run(fx, fx->alice, q, 3, 0, 0, 2);
	assert_non_null(match_of(&r[2], h));
	assert_non_null(match_of(&r[2], e));
	assert_int_equal(match_of(&r[2], e)->how, LOOKUP_CROSS_HASH);
}

static void
t_valid_best(void **state)
{
	struct fx *fx = *state;
	const struct val v = {0, OBS_NONE, "evil.example"};
	const char *const q[] = {"evil.example"};
	const struct lookup_result *r;
	uint64_t rev, old, fut, lo, hi;

	rev = put(fx, fx->alice, C_A, TLP_GREEN, 1, 1000, "\"confidence\":90",
	    &v, 1, STORE_OBS_F_REVOKED, STORE_OBS_FOREVER);
	old = put(fx, fx->alice, C_A, TLP_GREEN, 2, 1000,
	    "\"confidence\":95,\"valid_until\":\"2001-01-01T00:00:00Z\"", &v, 1,
	    0, INT64_C(978307200000000));
	fut = put(fx, fx->bob, C_A, TLP_GREEN, 3, 1000,
	    "\"confidence\":99,\"valid_from\":\"2999-01-01T00:00:00Z\"", &v, 1,
	    0, STORE_OBS_FOREVER);
	lo = put(fx, fx->bob, C_A, TLP_GREEN, 4, 1000, "\"confidence\":20", &v,
	    1, 0, STORE_OBS_FOREVER);
	hi = put(fx, fx->bob, C_B, TLP_GREEN, 5, 1000, "\"confidence\":70", &v,
	    1, 0, STORE_OBS_FOREVER);
	r = run(fx, fx->erin, q, 1, 0, 0, 2);
	assert_int_equal(r[0].n, 5);
	assert_true(match_of(&r[0], rev)->row->revoked);
	r = run(fx, fx->erin, q, 1, 1, 0, 2);
	assert_int_equal(r[0].n, 2);
	assert_null(match_of(&r[0], rev));
	assert_null(match_of(&r[0], old));
	assert_null(match_of(&r[0], fut));
	assert_int_equal(r[0].count, 2);
	assert_int_equal(r[0].nmembers, 1);
	/* best: highest confidence, among the valid ones here */
	r = run(fx, fx->erin, q, 1, 1, 1, 2);
	assert_int_equal(r[0].n, 1);
	assert_int_equal(r[0].m[0].row->rowid, hi);
	assert_int_equal(r[0].count, 2);
	r = run(fx, fx->erin, q, 1, 0, 1, 2);
	assert_int_equal(r[0].n, 1);
	assert_int_equal(r[0].m[0].row->rowid, fut);
	(void)lo;
}

static void
t_hidden(void **state)
{
	struct fx *fx = *state;
	const struct val v = {0, OBS_NONE, "198.51.100.7"};
	const struct val other = {0, OBS_NONE, "198.51.100.8"};
	const char *const q[] = {"198.51.100.7", "198.51.100.0/24"};
	const struct lookup_result *r;
	uint64_t amber, red, xcoll, seen, v1, v2;
	int64_t first, last;

	/* first, hidden ones: they must not move first seen */
	amber = put(fx, fx->alice, C_A, TLP_AMBER, 1, 1000, NULL, &v, 1, 0,
	    STORE_OBS_FOREVER);
	red = put(fx, fx->alice, C_B, TLP_RED, 2, 1000, NULL, &v, 1, 0,
	    STORE_OBS_FOREVER);
	xcoll = put(fx, fx->alice, C_X, TLP_CLEAR, 3, 1000, NULL, &v, 1, 0,
	    STORE_OBS_FOREVER);
	/* an old version that had the value; its newer one does not */
	v1 = put(fx, fx->alice, C_A, TLP_GREEN, 4, 1000, NULL, &v, 1, 0,
	    STORE_OBS_FOREVER);
	v2 = put(fx, fx->alice, C_A, TLP_GREEN, 4, 2000, NULL, &other, 1, 0,
	    STORE_OBS_FOREVER);
	seen = put(fx, fx->bob, C_A, TLP_GREEN, 5, 1000, NULL, &v, 1, 0,
	    STORE_OBS_FOREVER);
	r = run(fx, fx->erin, q, 2, 0, 0, 2);
	assert_int_equal(r[0].n, 1);
	assert_int_equal(r[0].m[0].row->rowid, seen);
	assert_int_equal(r[0].count, 1);
	assert_int_equal(r[0].nmembers, 1);
	assert_int_equal(r[0].members[0], fx->bob->code);
	assert_int_equal(r[0].ncountries, 1);
	assert_string_equal(r[0].countries[0], "IN");
	first = r[0].first_seen;
	last = r[0].last_seen;
	assert_int_equal(first, r[0].m[0].row->first_added);
	assert_int_equal(last, r[0].m[0].row->last_added);
	/* the range: bob's, and v2's .8 (the latest version) */
	assert_int_equal(r[1].n, 2);
	assert_non_null(match_of(&r[1], seen));
	assert_non_null(match_of(&r[1], v2));
	assert_null(match_of(&r[1], v1));
	assert_null(match_of(&r[1], amber));
	assert_null(match_of(&r[1], red));
	assert_null(match_of(&r[1], xcoll));
	/* alice sees her AMBER and RED ones, never the collection she was
	 * not given, nor the superseded version */
	r = run(fx, fx->alice, q, 2, 0, 0, 2);
	assert_int_equal(r[0].n, 3);
	assert_non_null(match_of(&r[0], amber));
	assert_non_null(match_of(&r[0], red));
	assert_null(match_of(&r[0], xcoll));
	assert_null(match_of(&r[0], v1));
	assert_true(r[0].first_seen < first);
}

static void
t_parse(void **state)
{
	struct lookup_req q;
	char err[256];

	(void)state;
	assert_int_equal(lookup_parse_query(&q,
			     "value=1.2.3.4&value=a%2Bb%3D.example&type=domain&"
			     "valid=1&best=false&other=x",
			     10, err, sizeof(err)),
	    0);
	assert_int_equal(q.n, 2);
	assert_int_equal(q.in[0].len, 7);
	assert_memory_equal(q.in[1].value, "a+b=.example", 12);
	assert_int_equal(q.in[1].type, OBS_DOMAIN);
	assert_true(q.valid_only);
	assert_false(q.best_only);
	lookup_req_clear(&q);
	assert_int_equal(
	    lookup_parse_query(&q, "value=a+b&type=nope", 10, err, sizeof(err)),
	    0);
	assert_memory_equal(q.in[0].value, "a+b", 3); /* '+' is a plus */
	assert_int_equal(q.in[0].type, -1);	      /* the value's error */
	lookup_req_clear(&q);
	assert_int_equal(
	    lookup_parse_query(&q, "type=ipv4", 10, err, sizeof(err)), -1);
	assert_int_equal(
	    lookup_parse_query(&q, "value=%4", 10, err, sizeof(err)), -1);
	assert_int_equal(
	    lookup_parse_query(&q, "value=1&valid=yes", 10, err, sizeof(err)),
	    -1);
	assert_int_equal(lookup_parse_query(&q, "value=1&value=2&value=3", 2,
			     err, sizeof(err)),
	    -2);
	assert_int_equal(
	    lookup_parse_query(&q, "a&b&c&value", 10, err, sizeof(err)),
	    0); /* no '=': an empty value (its error is the value's) */
	assert_int_equal(q.n, 1);
	assert_int_equal(q.in[0].len, 0);
	lookup_req_clear(&q);
	{
		const char *b = "{\"values\":[\"x\",{\"value\":\"y\","
				"\"type\":\"md5\"}],\"best_only\":true}";

		assert_int_equal(
		    lookup_parse_body(&q, b, strlen(b), 10, err, sizeof(err)),
		    0);
		assert_int_equal(q.n, 2);
		assert_int_equal(q.in[1].type, OBS_MD5);
		assert_true(q.best_only);
		lookup_req_clear(&q);
	}
	{
		const char *bad[] = {"[]", "{\"values\":[]}",
		    "{\"values\":[1]}",
		    "{\"values\":[\"a\"],"
		    "\"valid_only\":1}",
		    "{\"values\":[\"a\"],\"values\":[]}",
		    "{\"values\":[{\"value\":\"a\",\"type\":4}]}", "{"};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			err[0] = '\0';
			assert_int_equal(
			    lookup_parse_body(&q, bad[i], strlen(bad[i]), 10,
				err, sizeof(err)),
			    -1);
			assert_true(err[0] != '\0');
		}
	}
	{
		const char *b = "{\"values\":[\"a\",\"b\",\"c\"]}";

		assert_int_equal(
		    lookup_parse_body(&q, b, strlen(b), 2, err, sizeof(err)),
		    -2);
	}
}

/* max_matches cuts the list, not the summary; the JSON piece by piece
 * is the JSON whole. */
static void
t_cut_and_pieces(void **state)
{
	struct fx *fx = *state;
	const char *const q[] = {"203.0.113.0/24", "203.0.113.5", "x.example"};
	const struct lookup_result *r;
	struct lookup_in in[3];
	struct lookup_opts o;
	struct view_ctx vc;
	struct buf whole = BUF_INIT, parts = BUF_INIT;
	char addr[32];
	int i, pos = 0, calls = 0;

	for (i = 0; i < 8; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", i + 1);
		put1(fx, fx->bob, C_A, TLP_GREEN, i + 1, addr);
	}
	for (i = 0; i < 3; i++) {
		in[i].value = q[i];
		in[i].len = strlen(q[i]);
		in[i].type = OBS_NONE;
	}
	memset(&o, 0, sizeof(o));
	o.now = fx->clock;
	o.max_matches = 3;
	o.max_scan = 100000;
	o.members = fx->ms;
	memset(&vc, 0, sizeof(vc));
	vc.r = fx->r;
	vc.reader = fx->erin;
	assert_int_equal(store_rbegin(fx->r), STORE_OK);
	assert_int_equal(
	    lookup_run(&vc, colls, 2, in, 3, &o, &fx->lk), STORE_OK);
	store_rend(fx->r);
	r = lookup_results(fx->lk, &i);
	assert_int_equal(r[0].n, 3);
	assert_int_equal(r[0].count, 8);
	assert_true(r[0].truncated);
	assert_int_equal(r[1].n, 1);
	assert_false(r[1].truncated);
	lookup_json(fx->lk, &whole);
	while (lookup_json_piece(fx->lk, &parts, &pos, parts.len + 1) == 1)
		calls++;
	assert_int_equal(calls, 2);
	assert_int_equal(whole.len, parts.len);
	assert_memory_equal(whole.data, parts.data, whole.len);
	buf_clear(&whole);
	buf_clear(&parts);
	/* scanning stops at max_scan: the value says so */
	lookup_free(fx->lk);
	o.max_scan = 4;
	assert_int_equal(store_rbegin(fx->r), STORE_OK);
	assert_int_equal(
	    lookup_run(&vc, colls, 2, in, 1, &o, &fx->lk), STORE_OK);
	store_rend(fx->r);
	r = lookup_results(fx->lk, &i);
	assert_int_equal(r[0].count, 4);
	assert_true(r[0].truncated);
}

/* Every allocation of a lookup failing in turn: STORE_ERR, nothing
 * leaked (the sanitizer build checks), and then the same answer. */
static void
t_oom(void **state)
{
	struct fx *fx = *state;
	const struct val both[] = {{0, OBS_NONE, MD5_A}, {0, OBS_NONE, SHA_A}};
	const struct val sha_only = {0, OBS_NONE, SHA_A};
	const char *const q[] = {
	    MD5_A, "10.1.2.3", "10.0.0.0/8", "bad value", "x.example"};
	struct lookup_in in[5];
	struct lookup_opts o;
	struct view_ctx vc;
	struct buf b = BUF_INIT;
	long n;
	int i, rc;

	put(fx, fx->alice, C_A, TLP_GREEN, 1, 1000, NULL, both, 2, 0,
	    STORE_OBS_FOREVER);
	put(fx, fx->bob, C_A, TLP_GREEN, 2, 1000, NULL, &sha_only, 1, 0,
	    STORE_OBS_FOREVER);
	put1(fx, fx->bob, C_B, TLP_GREEN, 3, "10.0.0.0/8");
	put1(fx, fx->alice, C_A, TLP_GREEN, 4, "10.1.2.3");
	for (i = 0; i < 5; i++) {
		in[i].value = q[i];
		in[i].len = strlen(q[i]);
		in[i].type = OBS_NONE;
	}
	memset(&o, 0, sizeof(o));
	o.now = fx->clock;
	o.max_matches = 100;
	o.max_scan = 100000;
	o.members = fx->ms;
	memset(&vc, 0, sizeof(vc));
	vc.r = fx->r;
	vc.reader = fx->erin;
	for (n = 0;; n++) {
		struct lookup *lk = NULL;

		assert_int_equal(store_rbegin(fx->r), STORE_OK);
		hub_alloc_fail_after(n);
		rc = lookup_run(&vc, colls, 2, in, 5, &o, &lk);
		hub_alloc_fail_after(-1);
		store_rend(fx->r);
		if (rc == STORE_OK) {
			lookup_json(lk, &b);
			assert_non_null(strstr(buf_cstr(&b), "cross-hash"));
			lookup_free(lk);
			break;
		}
		assert_int_equal(rc, STORE_ERR);
		assert_null(lk);
		assert_true(n < 10000);
	}
	buf_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		t_exact_and_bad, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		t_ipv4_containment, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		t_ipv6_containment, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		t_cross_hash, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		t_valid_best, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(t_hidden, fx_setup, fx_teardown),
	    cmocka_unit_test(t_parse),
	    cmocka_unit_test_setup_teardown(t_oom, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		t_cut_and_pieces, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests_name("lookup", tests, NULL, NULL);
}
