/*
 * t_policy.c -- sharing policies: visibility for every TLP level against
 * every relation of reader to producer, unmarked objects, releasability,
 * the directory, the built-in defaults; broken files with each message
 * asserted; redundant rules, which load with a warning; revoking with a
 * never rule, which always loads and only narrows; the explanations; the file hashes; policy_load on a real
 * directory; the data-driven cases of tests/suites/policy/<case>/ (the
 * *.policy files and `expected`: every error and warning, in order, file
 * names without the directory; a set whose `expected` has warnings only,
 * or nothing, loads); allocation failure.
 * Run from the repository root.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
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
#include "ctihub/marking.h"
#include "ctihub/member.h"
#include "ctihub/policy.h"

#define SUITE "tests/suites/policy"

#define TOKEN                                                                  \
	"\ttoken sha256$"                                                      \
	"00000000000000000000000000000000000000000000000000000000000000aa\n"
#define MEMBER(id, cc)                                                         \
	"member " id " {\n\tname \"" id "\"\n\tcountry " cc                    \
	"\n\troles publisher subscriber\n" TOKEN "}\n"

/* Every relation a reader can have to the producer cert-br. */
static const char members_text[] = MEMBER("cert-br", "BR") /* the producer */
    MEMBER("cert-br2", "BR") /* same country as the producer */
    MEMBER("cert-in", "IN")  /* a granted country */
    MEMBER("cert-za", "ZA")  /* a granted member */
    MEMBER("cert-id", "ID")  /* a member of a granted group */
    MEMBER("cert-jp", "JP")  /* an ordinary member */
    MEMBER("cert-ru", "RU")  /* never-listed by member */
    MEMBER("cert-cn", "CN")  /* never-listed by country */
    MEMBER("cert-ir", "IR")  /* never-listed by group */
    MEMBER("cert-us", "US")  /* never-listed hub-wide */
    MEMBER("cert-mx", "MX"); /* a producer without a policy file */

static const char hub_ok[] = "# hub-wide rules\n"
			     "group asean = ID MY TH VN SG PH\n"
			     "group rogue = KP IR\n"
			     "never members cert-us\n"
			     "share directory with community\n";

static const char br_ok[] = "# cert-br: what we share with whom\n"
			    "default amber\n"
			    "share clear with everyone\n"
			    "share green with community\n"
			    "share amber with countries IN\n"
			    "share amber with members cert-za\n"
			    "share amber with groups asean\n"
			    "share amber+strict with members cert-za\n"
			    "share red with members cert-za   # only them\n"
			    "never members cert-ru\n"
			    "never countries CN\n"
			    "never groups rogue\n";

static const char in_ok[] = "default green\n"
			    "share amber with members cert-br\n";

static struct members *ms;

static int
setup(void **state)
{
	struct cfg_errs errs;
	int i;

	(void)state;
	memset(&errs, 0, sizeof(errs));
	if (members_parse("members.conf", members_text, strlen(members_text),
		&ms, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i]);
		cfg_errs_clear(&errs);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	members_free(ms);
	return 0;
}

static const struct member *
M(const char *id)
{
	const struct member *m = members_find(ms, id);

	if (m == NULL)
		fail_msg("no test member %s", id);
	return m;
}

/* A member's producer code; an id outside the set gets one no member
 * has (a former member). */
static uint32_t
code(const char *id)
{
	const struct member *m = members_find(ms, id);

	return m != NULL ? m->code : 0x40000000u | (uint32_t)strlen(id);
}

/* Parses n (name, text) pairs; prints the errors when it fails. */
static int
parse(int n, const char *const files[][2], struct policy **out,
    struct cfg_errs *errs)
{
	const char *names[8], *texts[8];
	size_t lens[8];
	int i, rc;

	assert_true(n <= 8);
	for (i = 0; i < n; i++) {
		names[i] = files[i][0];
		texts[i] = files[i][1];
		lens[i] = strlen(files[i][1]);
	}
	memset(errs, 0, sizeof(*errs));
	rc = policy_parse(n, names, texts, lens, ms, out, errs);
	return rc;
}

static struct policy *
parse_ok(int n, const char *const files[][2])
{
	struct policy *pol = NULL;
	struct cfg_errs errs;
	int i;

	if (parse(n, files, &pol, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			print_error("%s\n", errs.v[i]);
		cfg_errs_clear(&errs);
		fail_msg("policy rejected");
	}
	assert_int_equal(errs.n, 0);
	assert_non_null(pol);
	cfg_errs_clear(&errs);
	return pol;
}

static struct policy *
fixture(void)
{
	const char *const files[][2] = {
	    {"hub.policy", hub_ok},
	    {"cert-br.policy", br_ok},
	    {"cert-in.policy", in_ok},
	};

	return parse_ok(3, files);
}

/* 1 if every finding in errs is a warning ("file:line: warning: ..."). */
static int
warnings_only(const struct cfg_errs *errs)
{
	int i;

	for (i = 0; i < errs->n; i++)
		if (strstr(errs->v[i], ": warning: ") == NULL)
			return 0;
	return errs->dropped == 0;
}

/* Parses hub.policy (when hub is not NULL) and one more file of `len`
 * bytes; asserts that the set loads (rc 0: with warnings only) or is
 * rejected (rc -1), and that one finding is exactly `want`. */
static void
policy_expect(const char *hub, const char *name, const char *text, size_t len,
    int rc, const char *want)
{
	const char *names[] = {name, "hub.policy"}, *texts[] = {text, hub};
	size_t lens[] = {len, hub ? strlen(hub) : 0};
	struct policy *pol = (struct policy *)1;
	struct cfg_errs errs;
	int i, found = 0, got;

	memset(&errs, 0, sizeof(errs));
	got = policy_parse(hub ? 2 : 1, names, texts, lens, ms, &pol, &errs);
	for (i = 0; i < errs.n; i++)
		if (strcmp(errs.v[i], want) == 0)
			found = 1;
	if (!found || got != rc) {
		for (i = 0; i < errs.n; i++)
			print_error("got:  %s\n", errs.v[i]);
		print_error("want: %s\n", want);
	}
	assert_int_equal(got, rc);
	if (rc == 0) {
		assert_non_null(pol);
		assert_true(warnings_only(&errs));
		policy_free(pol);
	} else
		assert_null(pol);
	cfg_errs_clear(&errs);
	assert_true(found);
}

static void
policy_fail_len(const char *hub, const char *name, const char *text, size_t len,
    const char *want)
{
	policy_expect(hub, name, text, len, -1, want);
}

static void
policy_fail(
    const char *hub, const char *name, const char *text, const char *want)
{
	policy_expect(hub, name, text, strlen(text), -1, want);
}

/* The set loads, with the warning `want` among its findings. */
static void
policy_warn(
    const char *hub, const char *name, const char *text, const char *want)
{
	policy_expect(hub, name, text, strlen(text), 0, want);
}

static int
vis(const struct policy *pol, const char *reader, const char *producer, int tlp)
{
	struct policy_obj o = {code(producer), tlp, 0, NULL, 0};

	return policy_visible(pol, reader ? M(reader) : NULL, &o);
}

static int
vis_rel(const struct policy *pol, const char *reader, const char *producer,
    int tlp, const char *release)
{
	struct policy_obj o = {code(producer), tlp, STORE_F_RELEASE, release,
	    (int)strlen(release) / 2};

	return policy_visible(pol, M(reader), &o);
}

/* --- visibility --- */

struct expect {
	const char *reader;
	const char *levels; /* clear green amber amber+strict red: 1 or 0 */
};

static void
check_matrix(const struct policy *pol, const char *producer,
    const struct expect *e, size_t n)
{
	size_t i;
	int l;

	for (i = 0; i < n; i++)
		for (l = TLP_CLEAR; l <= TLP_RED; l++) {
			int want = e[i].levels[l - 1] == '1';
			int got = vis(pol, e[i].reader, producer, l);

			if (got != want)
				fail_msg("%s reading %s at TLP:%s: got %d, "
					 "want %d",
				    e[i].reader, producer, marking_tlp_name(l),
				    got, want);
		}
}

static void
t_levels_relations(void **state)
{
	static const struct expect br[] = {
	    {"cert-br", "11111"},  /* the producer itself */
	    {"cert-br2", "11000"}, /* same country */
	    {"cert-in", "11100"},  /* granted country */
	    {"cert-za", "11111"},  /* granted member */
	    {"cert-id", "11100"},  /* member of a granted group */
	    {"cert-jp", "11000"},  /* ordinary member */
	    {"cert-ru", "00000"},  /* never by member */
	    {"cert-cn", "00000"},  /* never by country */
	    {"cert-ir", "00000"},  /* never by group */
	    {"cert-us", "00000"},  /* never hub-wide */
	};
	static const struct expect mx[] = {
	    /* no policy file: built-in defaults minus hub-wide nevers */
	    {"cert-mx", "11111"},
	    {"cert-br", "11000"},
	    {"cert-za", "11000"},
	    {"cert-ru", "11000"},
	    {"cert-us", "00000"},
	};
	struct policy *pol = fixture();
	int l;

	(void)state;
	check_matrix(pol, "cert-br", br, sizeof(br) / sizeof(br[0]));
	check_matrix(pol, "cert-mx", mx, sizeof(mx) / sizeof(mx[0]));
	/* a producer that is not a member (any more): its never rules left
	 * with it, so nobody sees its objects, CLEAR included, but admins */
	{
		static const struct expect none[] = {{"cert-br", "00000"},
		    {"cert-in", "00000"}, {"cert-za", "00000"},
		    {"cert-us", "00000"}, {"cert-mx", "00000"}};
		struct member adm = *M("cert-us");
		struct policy_obj g = {
		    code("cert-gone"), TLP_CLEAR, 0, NULL, 0};

		check_matrix(pol, "cert-gone", none, 5);
		adm.roles |= MEMBER_ADMIN;
		assert_int_equal(policy_visible(pol, &adm, &g), 1);
		g.tlp = TLP_RED;
		assert_int_equal(policy_visible(pol, &adm, &g), 1);
		/* an admin sees a member's objects by the rules, though */
		g.producer = code("cert-br");
		assert_int_equal(policy_visible(pol, &adm, &g), 0);
	}
	/* a marking its producer has not defined: at least the default */
	{
		struct policy_obj u = {
		    code("cert-in"), TLP_CLEAR, STORE_F_UNRESOLVED, NULL, 0};

		assert_int_equal(policy_visible(pol, M("cert-br"), &u), 1);
		u.flags = 0;
		assert_int_equal(policy_obj_level(pol, &u), TLP_CLEAR);
		u.producer = code("cert-br"); /* default amber */
		u.flags = STORE_F_UNRESOLVED;
		assert_int_equal(policy_obj_level(pol, &u), TLP_AMBER);
		assert_int_equal(policy_visible(pol, M("cert-br2"), &u), 0);
		assert_int_equal(policy_visible(NULL, M("cert-br2"), &u), 0);
		u.flags = 0;
		assert_int_equal(policy_visible(pol, M("cert-br2"), &u), 1);
	}
	for (l = TLP_NONE; l <= TLP_RED; l++)
		assert_int_equal(vis(pol, NULL, "cert-br", l), 0);
	/* a stored level out of range counts as RED */
	assert_int_equal(vis(pol, "cert-za", "cert-br", 9), 1);
	assert_int_equal(vis(pol, "cert-in", "cert-br", 9), 0);
	assert_int_equal(vis(pol, "cert-in", "cert-br", -1), 0);
	policy_free(pol);
}

static void
t_defaults_null(void **state)
{
	static const struct expect e[] = {
	    {"cert-br", "11111"},
	    {"cert-in", "11000"},
	    {"cert-us", "11000"},
	};
	struct policy_obj dir = {POLICY_HUB_PRODUCER, TLP_RED, 0, NULL, 0};
	struct policy *empty;

	(void)state;
	check_matrix(NULL, "cert-br", e, 3);
	assert_int_equal(vis(NULL, "cert-in", "cert-br", TLP_NONE), 0);
	assert_int_equal(vis(NULL, "cert-br", "cert-br", TLP_NONE), 1);
	assert_int_equal(vis(NULL, NULL, "cert-br", TLP_CLEAR), 0);
	assert_int_equal(
	    policy_level(NULL, code("cert-br"), TLP_NONE), TLP_AMBER);
	assert_int_equal(
	    policy_level(NULL, code("cert-br"), TLP_GREEN), TLP_GREEN);
	assert_int_equal(policy_visible(NULL, M("cert-us"), &dir), 1);
	assert_null(policy_audience(NULL, code("cert-br"), TLP_CLEAR));
	assert_int_equal(policy_everyone(NULL, code("cert-br"), TLP_CLEAR), 1);
	assert_int_equal(policy_everyone(NULL, code("cert-br"), TLP_GREEN), 0);
	/* no files at all: the same as NULL */
	empty = parse_ok(0, NULL);
	check_matrix(empty, "cert-br", e, 3);
	assert_int_equal(policy_visible(empty, M("cert-us"), &dir), 1);
	policy_free(empty);
}

static void
t_unmarked(void **state)
{
	struct policy *pol = fixture();

	(void)state;
	/* cert-br: default amber (explicit) */
	assert_int_equal(
	    policy_level(pol, code("cert-br"), TLP_NONE), TLP_AMBER);
	assert_int_equal(vis(pol, "cert-in", "cert-br", TLP_NONE), 1);
	assert_int_equal(vis(pol, "cert-jp", "cert-br", TLP_NONE), 0);
	/* cert-in: default green */
	assert_int_equal(
	    policy_level(pol, code("cert-in"), TLP_NONE), TLP_GREEN);
	assert_int_equal(policy_level(pol, code("cert-in"), TLP_RED), TLP_RED);
	assert_int_equal(vis(pol, "cert-jp", "cert-in", TLP_NONE), 1);
	assert_int_equal(vis(pol, "cert-us", "cert-in", TLP_NONE), 0);
	assert_int_equal(vis(pol, "cert-br", "cert-in", TLP_AMBER), 1);
	assert_int_equal(vis(pol, "cert-jp", "cert-in", TLP_AMBER), 0);
	/* cert-mx has no file: the built-in AMBER */
	assert_int_equal(
	    policy_level(pol, code("cert-mx"), TLP_NONE), TLP_AMBER);
	assert_int_equal(vis(pol, "cert-jp", "cert-mx", TLP_NONE), 0);
	assert_int_equal(vis(pol, "cert-mx", "cert-mx", TLP_NONE), 1);
	assert_int_equal(policy_level(pol, code("cert-br"), 77), TLP_RED);
	policy_free(pol);
}

static void
t_release(void **state)
{
	struct policy *pol = fixture();
	struct policy_obj none = {
	    code("cert-br"), TLP_CLEAR, STORE_F_RELEASE, NULL, 0};

	(void)state;
	assert_int_equal(
	    vis_rel(pol, "cert-in", "cert-br", TLP_GREEN, "IN"), 1);
	assert_int_equal(
	    vis_rel(pol, "cert-jp", "cert-br", TLP_GREEN, "IN"), 0);
	assert_int_equal(
	    vis_rel(pol, "cert-br", "cert-br", TLP_GREEN, "IN"), 1);
	assert_int_equal(
	    vis_rel(pol, "cert-jp", "cert-br", TLP_GREEN, "INJPZA"), 1);
	/* narrows, never widens */
	assert_int_equal(
	    vis_rel(pol, "cert-jp", "cert-br", TLP_AMBER, "INJP"), 0);
	assert_int_equal(
	    vis_rel(pol, "cert-us", "cert-br", TLP_CLEAR, "US"), 0);
	/* the flag with no country: nobody but the producer */
	assert_int_equal(policy_visible(pol, M("cert-in"), &none), 0);
	assert_int_equal(policy_visible(pol, M("cert-br"), &none), 1);
	assert_int_equal(policy_visible(NULL, M("cert-in"), &none), 0);
	assert_int_equal(
	    vis_rel(NULL, "cert-in", "cert-br", TLP_GREEN, "IN"), 1);
	assert_int_equal(
	    vis_rel(NULL, "cert-jp", "cert-br", TLP_GREEN, "IN"), 0);
	policy_free(pol);
}

static void
t_directory(void **state)
{
	const char *const files[][2] = {
	    {"hub.policy",
		"group asean = ID MY\n"
		"share directory with countries BR\n"
		"share directory with groups asean\n"
		"share directory with members cert-za\n"},
	};
	const char *const nobody[][2] = {
	    {"hub.policy", "share directory with nobody\n"},
	};
	struct policy_obj dir = {POLICY_HUB_PRODUCER, TLP_NONE, 0, NULL, 0};
	struct policy *pol = fixture();
	int l;

	(void)state;
	/* community minus the hub-wide never; the level does not matter */
	for (l = TLP_NONE; l <= TLP_RED; l++) {
		dir.tlp = l;
		assert_int_equal(policy_visible(pol, M("cert-jp"), &dir), 1);
		assert_int_equal(policy_visible(pol, M("cert-ru"), &dir), 1);
		assert_int_equal(policy_visible(pol, M("cert-us"), &dir), 0);
		assert_int_equal(policy_visible(pol, NULL, &dir), 0);
	}
	policy_free(pol);
	pol = parse_ok(1, files);
	dir.tlp = TLP_CLEAR;
	assert_int_equal(policy_visible(pol, M("cert-br2"), &dir), 1);
	assert_int_equal(policy_visible(pol, M("cert-id"), &dir), 1);
	assert_int_equal(policy_visible(pol, M("cert-za"), &dir), 1);
	assert_int_equal(policy_visible(pol, M("cert-in"), &dir), 0);
	assert_int_equal(policy_visible(pol, M("cert-jp"), &dir), 0);
	/* releasability narrows the directory too */
	dir.flags = STORE_F_RELEASE;
	dir.release = "ZA";
	dir.nrelease = 1;
	assert_int_equal(policy_visible(pol, M("cert-za"), &dir), 1);
	assert_int_equal(policy_visible(pol, M("cert-br2"), &dir), 0);
	policy_free(pol);
	pol = parse_ok(1, nobody);
	dir.flags = 0;
	assert_int_equal(policy_visible(pol, M("cert-br"), &dir), 0);
	policy_free(pol);
}

static void
t_audience(void **state)
{
	struct policy *pol = fixture();
	const unsigned char *bm;
	const struct member *za = M("cert-za"), *br = M("cert-br"),
			    *in = M("cert-in");
	struct members *other = NULL;
	struct cfg_errs errs;
	int i;
	static const char one[] =
	    MEMBER("cert-jp", "JP") MEMBER("cert-in", "IN");

	(void)state;
	bm = policy_audience(pol, code("cert-br"), TLP_RED);
	assert_non_null(bm);
	assert_true(bm[za->index / 8] & (1 << za->index % 8));
	assert_true(bm[br->index / 8] & (1 << br->index % 8));
	assert_false(bm[in->index / 8] & (1 << in->index % 8));
	assert_ptr_equal(policy_audience(pol, code("cert-br"), TLP_NONE),
	    policy_audience(pol, code("cert-br"), TLP_AMBER));
	assert_null(policy_audience(pol, code("cert-br"), 6));
	assert_int_equal(policy_everyone(pol, code("cert-br"), TLP_CLEAR), 1);
	assert_int_equal(policy_everyone(pol, code("cert-br"), TLP_GREEN), 0);
	assert_int_equal(policy_everyone(pol, code("cert-in"), TLP_CLEAR), 1);
	assert_int_equal(policy_everyone(pol, code("cert-in"), TLP_NONE), 0);
	assert_int_equal(policy_everyone(pol, code("cert-in"), 9), 0);
	/* a reader from another member set (its index means someone else
	 * here): never visible, except its own objects */
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(
	    members_parse("other.conf", one, strlen(one), &other, &errs), 0);
	/* bound to the same registry: the same name has the same code */
	for (i = 0; i < other->n; i++)
		other->v[i].code = code(other->v[i].id);
	assert_int_equal(vis(pol, "cert-in", "cert-br", TLP_AMBER), 1);
	{
		struct policy_obj o = {code("cert-br"), TLP_AMBER, 0, NULL, 0};
		struct policy_obj own = {code("cert-in"), TLP_RED, 0, NULL, 0};

		/* other's cert-in has index 1 (cert-br2's here) */
		assert_int_equal(
		    policy_visible(pol, members_find(other, "cert-in"), &o), 0);
		assert_int_equal(
		    policy_visible(pol, members_find(other, "cert-in"), &own),
		    1);
	}
	members_free(other);
	policy_free(pol);
}

/* --- broken files: one case per check --- */

static void
t_broken(void **state)
{
	const char *hub = hub_ok;

	(void)state;
	/* directives and keywords */
	policy_fail(hub, "cert-br.policy", "shar amber with community\n",
	    "cert-br.policy:1: unknown directive 'shar' (a producer's file "
	    "has 'default', 'share' and 'never' rules)");
	policy_fail(hub, "cert-br.policy", "\n\nShare amber with community\n",
	    "cert-br.policy:3: keywords are lower case: write 'share'");
	policy_fail(hub, "cert-br.policy", "share amber to countries IN\n",
	    "cert-br.policy:1: expected 'with' after 'share amber', not 'to'");
	policy_fail(hub, "cert-br.policy", "share amber with country IN\n",
	    "cert-br.policy:1: unknown target 'country' in 'share amber "
	    "with': write 'countries' (plural, also for one value)");
	policy_fail(hub, "cert-br.policy", "share amber with friends\n",
	    "cert-br.policy:1: unknown target 'friends' in 'share amber "
	    "with' (everyone, community, countries, members, groups or "
	    "nobody)");
	policy_fail(hub, "cert-br.policy", "share amber with Community\n",
	    "cert-br.policy:1: keywords are lower case: write 'community'");
	/* malformed rules */
	policy_fail(hub, "cert-br.policy", "share amber with countries\n",
	    "cert-br.policy:1: 'share amber with countries' names no country: "
	    "add at least one");
	policy_fail(hub, "cert-br.policy", "share amber\n",
	    "cert-br.policy:1: incomplete rule: expected 'share <level> with "
	    "<target>', e.g. 'share amber with countries BR IN'");
	policy_fail(hub, "cert-br.policy", "share directory\n",
	    "cert-br.policy:1: 'share directory' belongs in hub.policy: who "
	    "sees the points-of-contact directory is decided for the whole "
	    "hub");
	policy_fail(hub, "cert-br.policy", "default\n",
	    "cert-br.policy:1: expected 'default <level>' (clear, green, "
	    "amber, amber+strict or red)");
	policy_fail(hub, "cert-br.policy", "share clear with everyone BR\n",
	    "cert-br.policy:1: 'everyone' takes no value: remove 'BR' (or "
	    "write 'share clear with countries|members|groups ...')");
	policy_fail(hub, "cert-br.policy", "never countries\n",
	    "cert-br.policy:1: 'never countries' names no country: add at "
	    "least one");
	policy_fail(hub, "cert-br.policy", "never everyone\n",
	    "cert-br.policy:1: 'never everyone': never takes countries, "
	    "members or groups (to keep a level from every member, write "
	    "'share <level> with nobody')");
	policy_fail("group asean ID MY\n", "cert-br.policy", "",
	    "hub.policy:1: expected 'group NAME = CC [CC...]', e.g. 'group "
	    "asean = ID MY SG TH'");
	policy_fail("group Asean = ID\n", "cert-br.policy", "",
	    "hub.policy:1: group name 'Asean': use lower-case letters, "
	    "digits, '_' and '-' only");
	policy_fail(hub, "cert-br.policy",
	    "share TLP:Amber+Strict with everyone\n",
	    "cert-br.policy:1: TLP:AMBER+STRICT goes only to named member "
	    "organisations (FIRST TLP 2.0), not to everyone: write 'share "
	    "amber+strict with members <id>...' or 'share amber+strict with "
	    "nobody'");
	/* rules in the wrong file */
	policy_fail(hub, "cert-br.policy", "group g = BR\n",
	    "cert-br.policy:1: 'group' belongs in hub.policy: groups are "
	    "defined there and can be used in every file");
	policy_fail("default amber\n", "cert-br.policy", "",
	    "hub.policy:1: 'default' belongs in a producer's file "
	    "(<member-id>.policy): hub.policy has no default level");
	policy_fail("share amber with community\n", "cert-br.policy", "",
	    "hub.policy:1: hub.policy shares only the directory ('share "
	    "directory with <target>'): put 'share amber with community' in "
	    "the producer's file, <member-id>.policy");
	policy_fail(hub, "cert-br.policy", "share directory with community\n",
	    "cert-br.policy:1: 'share directory' belongs in hub.policy: who "
	    "sees the points-of-contact directory is decided for the whole "
	    "hub");
	policy_fail("frobnicate\n", "cert-br.policy", "",
	    "hub.policy:1: unknown directive 'frobnicate' (hub.policy has "
	    "'group', 'never' and 'share directory with' rules)");
	/* values */
	policy_fail(hub, "cert-br.policy", "share orange with community\n",
	    "cert-br.policy:1: unknown TLP level 'orange' (clear, white, "
	    "green, amber, amber+strict or red)");
	policy_fail(hub, "cert-br.policy", "share amber with countries XX\n",
	    "cert-br.policy:1: 'XX' is not an ISO 3166-1 alpha-2 country "
	    "code (two upper-case letters, e.g. BR)");
	policy_fail(hub, "cert-br.policy", "share amber with countries br\n",
	    "cert-br.policy:1: 'br' is not a country code: codes are upper "
	    "case, write 'BR'");
	policy_fail(hub, "cert-br.policy", "share amber with members cert-xx\n",
	    "cert-br.policy:1: no member 'cert-xx' in members.conf (member "
	    "ids are case-sensitive)");
	policy_fail(hub, "cert-br.policy", "share amber with groups brics\n",
	    "cert-br.policy:1: no group 'brics' (define it in hub.policy: "
	    "group brics = CC [CC...])");
	policy_fail("group asean = ID\ngroup asean = MY\n", "cert-br.policy",
	    "",
	    "hub.policy:2: group asean already defined at line 1: merge the "
	    "two or rename one");
	policy_fail(hub, "cert-br.txt", "default amber\n",
	    "cert-br.txt: not a policy file (expected hub.policy or "
	    "<member-id>.policy)");
	policy_fail_len(hub, "cert-br.policy", "default amber\n\0default red\n",
	    26,
	    "cert-br.policy:2: NUL byte in the policy text (is this a text "
	    "file?)");
	/* given twice, differently: which one is meant? (the same twice is
	 * a warning, t_warnings) */
	policy_fail(hub, "cert-br.policy", "default amber\ndefault green\n",
	    "cert-br.policy:2: 'default' given twice (first at line 1); keep "
	    "one");
	/* contradictions */
	policy_fail(hub, "cert-br.policy",
	    "share amber with nobody\nshare amber with countries IN\n",
	    "cert-br.policy:2: contradictory: TLP:AMBER goes to nobody (line "
	    "1) and is shared by line 2; remove one of them");
	policy_fail(hub, "cert-br.policy",
	    "share amber+strict with countries IN\n",
	    "cert-br.policy:1: TLP:AMBER+STRICT goes only to named member "
	    "organisations (FIRST TLP 2.0), not to countries: write 'share "
	    "amber+strict with members <id>...' or 'share amber+strict with "
	    "nobody'");
	policy_fail(hub, "cert-br.policy", "share red with community\n",
	    "cert-br.policy:1: TLP:RED goes only to named member "
	    "organisations (FIRST TLP 2.0), not to community: write 'share "
	    "red with members <id>...' or 'share red with nobody'");
	policy_fail(hub, "cert-br.policy",
	    "share green with countries BR IN\nshare amber with countries "
	    "IN ZA\n",
	    "cert-br.policy:2: contradictory: TLP:AMBER reaches cert-za but "
	    "TLP:GREEN does not (lines 2 and 1); a more restrictive level "
	    "must not reach further: add cert-za to TLP:GREEN or remove it "
	    "from TLP:AMBER");
	policy_fail(hub, "cert-br.policy", "share red with members cert-za\n",
	    "cert-br.policy:1: contradictory: TLP:RED reaches cert-za but "
	    "TLP:AMBER+STRICT does not (line 1, and TLP:AMBER+STRICT has no "
	    "share rule, so it goes to nobody); add 'share amber+strict with "
	    "members cert-za' or remove cert-za from TLP:RED");
	policy_fail(hub, "cert-br.policy", "share clear with countries BR\n",
	    "cert-br.policy:1: contradictory: TLP:GREEN reaches cert-in but "
	    "TLP:CLEAR does not (line 1, and TLP:GREEN has no share rule, so "
	    "it goes to the community) (and 7 more members); add a 'share "
	    "green' rule no wider than TLP:CLEAR, or widen TLP:CLEAR");
	policy_fail(hub, "cert-br.policy",
	    "share clear with community\nshare green with everyone\n",
	    "cert-br.policy:2: contradictory: TLP:GREEN goes to everyone but "
	    "TLP:CLEAR only to the community (lines 2 and 1); everyone will "
	    "also take in peer hubs: give TLP:CLEAR to everyone too, or "
	    "TLP:GREEN to the community");
	policy_fail(hub, "cert-br.policy", "share amber with everyone\n",
	    "cert-br.policy:1: contradictory: TLP:AMBER goes to everyone "
	    "(line 1) but TLP:GREEN only to the community (it has no share "
	    "rule, so the built-in applies); everyone will also take in peer "
	    "hubs: add 'share green with everyone', or give TLP:AMBER to the "
	    "community");
}

/* Redundant rules and rules without effect: warnings, and the set loads
 * (each of these was an error once, and kept a wider policy in force). */
static void
t_warnings(void **state)
{
	const char *hub = hub_ok;

	(void)state;
	/* a file of a member that left: ignored, its objects go to admins
	 * (removing a member narrows: never refused) */
	policy_warn(hub, "cert-xx.policy", "default amber\n",
	    "cert-xx.policy: warning: no member 'cert-xx': this file is "
	    "ignored (a policy file is named after its producer: "
	    "<member-id>.policy, with an id from members.conf; a producer "
	    "that is not a member is seen by admins only)");
	/* duplicates */
	policy_warn("group asean = ID MY ID\n", "cert-br.policy", "",
	    "hub.policy:1: warning: duplicate: ID is listed twice in group "
	    "asean; "
	    "remove one");
	policy_warn(hub, "cert-br.policy",
	    "share amber with countries IN\nshare amber with countries ZA IN\n",
	    "cert-br.policy:2: warning: duplicate: TLP:AMBER already goes to "
	    "country "
	    "IN (first at line 1); remove one");
	policy_warn(hub, "cert-br.policy",
	    "share amber with members cert-za cert-za\n",
	    "cert-br.policy:1: warning: duplicate: TLP:AMBER already goes to "
	    "member "
	    "cert-za (first at line 1); remove one");
	policy_warn(hub, "cert-br.policy",
	    "share clear with everyone\nshare clear with everyone\n",
	    "cert-br.policy:2: warning: duplicate: 'share clear with everyone' "
	    "(first "
	    "at line 1); remove one");
	policy_warn(hub, "cert-br.policy",
	    "never countries US\n# again\nnever countries FR US\n",
	    "cert-br.policy:3: warning: duplicate: never countries US (first "
	    "at line "
	    "1); remove one");
	policy_warn("share directory with community\nshare directory with "
		    "community\n",
	    "cert-br.policy", "",
	    "hub.policy:2: warning: duplicate: 'share directory with "
	    "community' "
	    "(first at line 1); remove one");
	/* unreachable grants */
	policy_warn(hub, "cert-br.policy",
	    "share amber with countries US\nnever countries US\n",
	    "cert-br.policy:1: warning: unreachable: TLP:AMBER to country US "
	    "is "
	    "removed by a never rule (never at cert-br.policy:2); remove US "
	    "here or drop the never rule");
	policy_warn(hub, "cert-br.policy",
	    "share amber with members cert-ru\nnever members cert-ru\n",
	    "cert-br.policy:1: warning: unreachable: TLP:AMBER to member "
	    "cert-ru is "
	    "removed by a never rule (never at cert-br.policy:2); remove "
	    "cert-ru here or drop the never rule");
	policy_warn(hub, "cert-br.policy",
	    "share amber with members cert-cn\nnever countries CN\n",
	    "cert-br.policy:1: warning: unreachable: TLP:AMBER to member "
	    "cert-cn "
	    "(country CN) is removed by a never rule (never at "
	    "cert-br.policy:2); remove cert-cn here or drop the never rule");
	policy_warn(hub, "cert-br.policy",
	    "never groups rogue\nshare amber with members cert-ir\n",
	    "cert-br.policy:2: warning: unreachable: TLP:AMBER to member "
	    "cert-ir "
	    "(country IR) is removed by a never rule (never at "
	    "cert-br.policy:1); remove cert-ir here or drop the never rule");
	policy_warn(hub, "cert-br.policy", "share amber with members cert-us\n",
	    "cert-br.policy:1: warning: unreachable: TLP:AMBER to member "
	    "cert-us is "
	    "removed by a never rule (never at hub.policy:4); remove cert-us "
	    "here or drop the never rule");
	policy_warn(hub, "cert-br.policy",
	    "share amber with groups rogue\nnever countries KP IR\n",
	    "cert-br.policy:1: warning: unreachable: TLP:AMBER to group rogue "
	    "is "
	    "removed whole by never rules (never at cert-br.policy:2); "
	    "remove rogue here or drop the never rules");
	policy_warn("never members cert-us\nshare directory with members "
		    "cert-us cert-in\n",
	    "cert-br.policy", "",
	    "hub.policy:2: warning: unreachable: the directory to member "
	    "cert-us is "
	    "removed by a never rule (never at hub.policy:1); remove cert-us "
	    "here or drop the never rule");
	/* grants without effect */
	policy_warn(hub, "cert-br.policy",
	    "share amber with community\nshare amber with countries BR IN\n",
	    "cert-br.policy:2: warning: has no effect: TLP:AMBER already goes "
	    "to the "
	    "community (line 1); remove 'share amber with countries BR IN'");
	policy_warn(hub, "cert-br.policy",
	    "share clear with everyone\nshare clear with community\n",
	    "cert-br.policy:2: warning: has no effect: TLP:CLEAR already goes "
	    "to "
	    "everyone (line 1), which includes the community; remove this "
	    "rule");
	policy_warn(hub, "cert-br.policy",
	    "share amber with countries IN\nshare amber with members "
	    "cert-in\n",
	    "cert-br.policy:2: warning: has no effect: member cert-in is in "
	    "country "
	    "IN, which line 1 already gives TLP:AMBER; remove cert-in here");
	policy_warn(hub, "cert-br.policy",
	    "share amber with groups asean\nshare amber with countries MY\n",
	    "cert-br.policy:2: warning: has no effect: country MY is in group "
	    "asean, "
	    "which line 1 already gives TLP:AMBER; remove MY here");
	policy_warn(hub, "cert-br.policy",
	    "share amber with members cert-id\nshare amber with groups "
	    "asean\n",
	    "cert-br.policy:1: warning: has no effect: member cert-id (country "
	    "ID) is "
	    "in group asean, which line 2 already gives TLP:AMBER; remove "
	    "cert-id here");
	policy_warn(hub, "cert-br.policy", "share amber with members cert-br\n",
	    "cert-br.policy:1: warning: has no effect: cert-br is this file's "
	    "producer, which always sees its own objects; remove it");
	policy_warn(hub, "cert-br.policy", "never members cert-br\n",
	    "cert-br.policy:1: warning: has no effect: cert-br is this file's "
	    "producer, which always sees its own objects; remove it");
	/* the same again: redundant, not ambiguous */
	policy_warn("group asean = ID MY\ngroup asean = MY ID\n",
	    "cert-br.policy", "share amber with groups asean\n",
	    "hub.policy:2: warning: duplicate: group asean is defined the "
	    "same at line 1; remove one");
	policy_warn(hub, "cert-br.policy", "default amber\ndefault amber\n",
	    "cert-br.policy:2: warning: duplicate: 'default amber' (first at "
	    "line 1); remove one");
	policy_warn(hub, "cert-br.policy",
	    "share amber with nobody\nshare amber with nobody\n",
	    "cert-br.policy:2: warning: duplicate: 'share amber with nobody' "
	    "(first at line 1); remove one");
}

/* Every mistake in one run, and the set rejected whole. */
static void
t_all_errors(void **state)
{
	const char *const files[][2] = {
	    {"hub.policy", "group g = BR XX\nnever members nobody-here\n"},
	    {"cert-br.policy",
		"default orange\n"
		"share amber with countries IN IN\n"
		"share red with countries IN\n"
		"never groups nope\n"},
	    {"cert-in.policy", "default amber\n"}, /* fine on its own */
	};
	static const char *const want[] = {
	    "hub.policy:1: 'XX' is not an ISO 3166-1 alpha-2 country code "
	    "(two upper-case letters, e.g. BR)",
	    "hub.policy:2: no member 'nobody-here' in members.conf (member "
	    "ids are case-sensitive)",
	};
	struct policy *pol = (struct policy *)1;
	struct cfg_errs errs;
	int i;

	(void)state;
	assert_int_equal(parse(3, files, &pol, &errs), -1);
	assert_null(pol);
	if (errs.n != 6)
		for (i = 0; i < errs.n; i++)
			print_error("got: %s\n", errs.v[i]);
	assert_int_equal(errs.n, 6);
	/* by file, then by line */
	assert_string_equal(errs.v[0], want[0]);
	assert_string_equal(errs.v[1], want[1]);
	assert_string_equal(errs.v[2],
	    "cert-br.policy:1: unknown TLP level 'orange' (clear, white, "
	    "green, amber, amber+strict or red)");
	assert_string_equal(errs.v[3],
	    "cert-br.policy:2: warning: duplicate: TLP:AMBER already goes to "
	    "country IN (first at line 2); remove one");
	assert_string_equal(errs.v[4],
	    "cert-br.policy:3: TLP:RED goes only to named member "
	    "organisations (FIRST TLP 2.0), not to countries: write 'share "
	    "red with members <id>...' or 'share red with nobody'");
	assert_string_equal(errs.v[5],
	    "cert-br.policy:4: no group 'nope' (define it in hub.policy: "
	    "group nope = CC [CC...])");
	cfg_errs_clear(&errs);
}

/* --- explanations --- */

static void
explain_is(const struct policy *pol, const char *reader, struct policy_obj *o,
    const char *want)
{
	char out[1024];
	int v;

	memset(out, 'x', sizeof(out));
	v = policy_explain(pol, reader ? M(reader) : NULL, o, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("explain differs\n--- got\n%s--- want\n%s", out, want);
	assert_int_equal(v, policy_visible(pol, reader ? M(reader) : NULL, o));
}

static void
t_explain(void **state)
{
	const char *const files[][2] = {
	    {"hub.policy",
		"# hub\n"
		"group asean = ID MY\n"
		"group rogue = KP IR\n"
		"\n"
		"# community-wide\n"
		"never countries US\n"},
	    {"cert-br.policy",
		"default amber\n"
		"share clear with everyone\n"
		"share green with community\n"
		"share amber with countries BR IN\n"
		"share amber with members cert-za\n"
		"share amber+strict with members cert-za\n"
		"share red with members cert-za\n"
		"never members cert-ru  # not them\n"},
	};
	struct policy *pol = parse_ok(2, files);
	struct policy_obj o = {code("cert-br"), TLP_NONE, 0, NULL, 0};
	char small[16];

	(void)state;
	explain_is(pol, "cert-us", &o,
	    "visible: no\n"
	    "level: AMBER (unmarked; cert-br.policy:1: default amber)\n"
	    "cert-br.policy:4: share amber with countries BR IN\n"
	    "cert-br.policy:5: share amber with members cert-za\n"
	    "hub.policy:6: never countries US\n");
	explain_is(pol, "cert-in", &o,
	    "visible: yes\n"
	    "level: AMBER (unmarked; cert-br.policy:1: default amber)\n"
	    "cert-br.policy:4: share amber with countries BR IN\n");
	o.tlp = TLP_GREEN;
	explain_is(pol, "cert-ru", &o,
	    "visible: no\n"
	    "level: GREEN\n"
	    "cert-br.policy:3: share green with community\n"
	    "cert-br.policy:8: never members cert-ru\n");
	o.tlp = TLP_RED;
	explain_is(pol, "cert-br", &o,
	    "visible: yes\n"
	    "the reader is the producer: a producer always sees its own "
	    "objects\n");
	explain_is(pol, NULL, &o,
	    "visible: no\n"
	    "no reader: a request that is not authenticated sees nothing\n");
	/* the built-in defaults */
	o.producer = code("cert-mx");
	o.tlp = TLP_AMBER;
	explain_is(pol, "cert-in", &o,
	    "visible: no\n"
	    "level: AMBER\n"
	    "the producer has no policy file: the built-in defaults apply\n"
	    "built-in: amber goes to nobody but the producer\n");
	o.tlp = TLP_NONE;
	explain_is(pol, "cert-jp", &o,
	    "visible: no\n"
	    "level: AMBER (unmarked; built-in default amber)\n"
	    "the producer has no policy file: the built-in defaults apply\n"
	    "built-in: amber goes to nobody but the producer\n");
	o.producer = code("cert-gone");
	o.tlp = TLP_GREEN;
	explain_is(pol, "cert-jp", &o,
	    "visible: no\n"
	    "level: GREEN\n"
	    "the producer is no longer a member: its objects go to admins "
	    "only until it has a policy again\n");
	explain_is(NULL, "cert-jp", &o,
	    "visible: yes\n"
	    "no policy loaded: the built-in defaults apply\n"
	    "level: GREEN\n"
	    "built-in: green goes to the community\n");
	/* releasability */
	o.producer = code("cert-br");
	o.flags = STORE_F_RELEASE;
	o.release = "INZA";
	o.nrelease = 2;
	explain_is(pol, "cert-jp", &o,
	    "visible: no\n"
	    "level: GREEN\n"
	    "cert-br.policy:3: share green with community\n"
	    "releasable to: IN ZA (the object's marking; the reader's "
	    "country JP is not among them)\n");
	explain_is(pol, "cert-in", &o,
	    "visible: yes\n"
	    "level: GREEN\n"
	    "cert-br.policy:3: share green with community\n"
	    "releasable to: IN ZA (the object's marking; the reader's "
	    "country IN is among them)\n");
	o.nrelease = 0;
	explain_is(pol, "cert-in", &o,
	    "visible: no\n"
	    "level: GREEN\n"
	    "cert-br.policy:3: share green with community\n"
	    "releasable to: nobody (the object's marking names no country)\n");
	/* the directory */
	o.producer = POLICY_HUB_PRODUCER;
	o.flags = 0;
	o.tlp = TLP_RED;
	explain_is(pol, "cert-us", &o,
	    "visible: no\n"
	    "directory: an object of the hub's points-of-contact directory "
	    "(its level does not matter)\n"
	    "built-in: the directory goes to the community\n"
	    "hub.policy:6: never countries US\n");
	explain_is(pol, "cert-ru", &o,
	    "visible: yes\n"
	    "directory: an object of the hub's points-of-contact directory "
	    "(its level does not matter)\n"
	    "built-in: the directory goes to the community\n");
	/* a short buffer is cut, NUL-terminated */
	memset(small, 'x', sizeof(small));
	assert_int_equal(
	    policy_explain(pol, M("cert-ru"), &o, small, sizeof(small)), 1);
	assert_string_equal(small, "visible: yes\ndi");
	assert_int_equal(policy_explain(pol, M("cert-ru"), &o, NULL, 0), 1);
	policy_free(pol);
}

/* The example of the design notes, to the letter. */
static void
t_explain_example(void **state)
{
	const char *const files[][2] = {
	    {"hub.policy",
		"# hub\n"
		"group asean = ID MY\n"
		"group rogue = KP IR\n"
		"\n"
		"# community-wide\n"
		"never countries US\n"},
	    {"cert-br.policy",
		"default amber\n"
		"share clear with everyone\n"
		"share green with community\n"
		"share amber with countries BR IN\n"},
	};
	struct policy *pol = parse_ok(2, files);
	struct policy_obj o = {code("cert-br"), TLP_NONE, 0, NULL, 0};

	(void)state;
	explain_is(pol, "cert-us", &o,
	    "visible: no\n"
	    "level: AMBER (unmarked; cert-br.policy:1: default amber)\n"
	    "cert-br.policy:4: share amber with countries BR IN\n"
	    "hub.policy:6: never countries US\n");
	policy_free(pol);
}

static void
t_directory_explain(void **state)
{
	const char *const files[][2] = {
	    {"hub.policy",
		"share directory with countries BR\n"
		"share directory with members cert-za\n"},
	};
	struct policy *pol = parse_ok(1, files);
	struct policy_obj o = {POLICY_HUB_PRODUCER, TLP_CLEAR, 0, NULL, 0};

	(void)state;
	explain_is(pol, "cert-za", &o,
	    "visible: yes\n"
	    "directory: an object of the hub's points-of-contact directory "
	    "(its level does not matter)\n"
	    "hub.policy:2: share directory with members cert-za\n");
	explain_is(pol, "cert-jp", &o,
	    "visible: no\n"
	    "directory: an object of the hub's points-of-contact directory "
	    "(its level does not matter)\n"
	    "hub.policy:1: share directory with countries BR\n"
	    "hub.policy:2: share directory with members cert-za\n");
	policy_free(pol);
}

/* --- file hashes --- */

struct seen_files {
	int n;
	char name[4][32];
	char hex[4][65];
};

static void
files_cb(const char *file, const char *hex, void *arg)
{
	struct seen_files *s = arg;

	assert_true(s->n < 4);
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", file);
	snprintf(s->hex[s->n], sizeof(s->hex[0]), "%s", hex);
	s->n++;
}

static void
t_files(void **state)
{
	const char *const files[][2] = {
	    {"hub.policy", "never countries US\n"},
	    {"cert-br.policy", "default amber\n"},
	    {"cert-in.policy", ""},
	};
	struct policy *pol = parse_ok(3, files);
	struct seen_files s;

	(void)state;
	memset(&s, 0, sizeof(s));
	policy_files(pol, files_cb, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.name[0], "hub.policy");
	assert_string_equal(s.hex[0],
	    "21bf4c102146fdd05916375dc1f33df3ef53e3"
	    "693eb37ef418d0f675441aaa79");
	assert_string_equal(s.name[1], "cert-br.policy");
	assert_string_equal(s.hex[1],
	    "57534e78e4ad8ea18df58c56aaee988e8ed7fd"
	    "da74ba459cf56fe95642d2de4b");
	assert_string_equal(s.name[2], "cert-in.policy");
	assert_string_equal(s.hex[2],
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41"
	    "e4649b934ca495991b7852b855");
	policy_free(pol);
	memset(&s, 0, sizeof(s));
	policy_files(NULL, files_cb, &s);
	assert_int_equal(s.n, 0);
	policy_free(NULL);
}

/* --- from a directory --- */

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
rm_tree(const char *dir)
{
	DIR *d;
	struct dirent *de;
	char path[512];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) != 0)
			rmdir(path);
	}
	closedir(d);
	rmdir(dir);
}

static int
has_error(const struct cfg_errs *errs, const char *want)
{
	int i;

	for (i = 0; i < errs->n; i++)
		if (strcmp(errs->v[i], want) == 0)
			return 1;
	for (i = 0; i < errs->n; i++)
		print_error("got:  %s\n", errs->v[i]);
	print_error("want: %s\n", want);
	return 0;
}

static void
t_load(void **state)
{
	char dir[] = "/tmp/t_policy.XXXXXX", path[512], want[600];
	struct policy *pol = NULL;
	struct cfg_errs errs;
	struct seen_files s;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "hub.policy", hub_ok);
	write_file(dir, "cert-br.policy", br_ok);
	write_file(dir, "README", "not a policy\n");
	write_file(dir, ".cert-in.policy.swp", "garbage\n");
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(policy_load(dir, ms, &pol, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(vis(pol, "cert-id", "cert-br", TLP_AMBER), 1);
	assert_int_equal(vis(pol, "cert-jp", "cert-br", TLP_AMBER), 0);
	memset(&s, 0, sizeof(s));
	policy_files(pol, files_cb, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.name[0], "cert-br.policy");
	assert_string_equal(s.name[1], "hub.policy");
	policy_free(pol);

	/* errors name the file with its directory */
	write_file(dir, "cert-in.policy", "share amber with countries XX\n");
	assert_int_equal(policy_load(dir, ms, &pol, &errs), -1);
	assert_null(pol);
	snprintf(want, sizeof(want),
	    "%s/cert-in.policy:1: 'XX' is not an ISO 3166-1 alpha-2 country "
	    "code (two upper-case letters, e.g. BR)",
	    dir);
	assert_true(has_error(&errs, want));
	cfg_errs_clear(&errs);
	write_file(dir, "cert-in.policy", in_ok);

	/* an unreadable file, a file too large, a stray member */
	snprintf(path, sizeof(path), "%s/cert-za.policy", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/cert-jp.policy", dir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0);
	assert_int_equal(ftruncate(fd, CFG_MAX_FILE + 1), 0);
	close(fd);
	write_file(dir, "cert-old.policy", "default amber\n");
	assert_int_equal(policy_load(dir, ms, &pol, &errs), -1);
	assert_null(pol);
	snprintf(want, sizeof(want),
	    "%s/cert-za.policy: cannot read: Is a "
	    "directory",
	    dir);
	assert_true(has_error(&errs, want));
	snprintf(want, sizeof(want),
	    "%s/cert-jp.policy: cannot read: file too large (the limit is 4 "
	    "MiB)",
	    dir);
	assert_true(has_error(&errs, want));
	snprintf(want, sizeof(want),
	    "%s/cert-old.policy: warning: no member 'cert-old': this file is "
	    "ignored (a policy file is named after its producer: "
	    "<member-id>.policy, with an id from members.conf; a producer "
	    "that is not a member is seen by admins only)",
	    dir);
	assert_true(has_error(&errs, want));
	cfg_errs_clear(&errs);
	rm_tree(dir);

	/* a missing directory: the defaults */
	assert_int_equal(policy_load(dir, ms, &pol, &errs), 0);
	assert_non_null(pol);
	assert_int_equal(errs.n, 0);
	assert_int_equal(vis(pol, "cert-jp", "cert-br", TLP_GREEN), 1);
	assert_int_equal(vis(pol, "cert-jp", "cert-br", TLP_AMBER), 0);
	assert_int_equal(vis(pol, "cert-us", "cert-br", TLP_CLEAR), 1);
	policy_free(pol);

	/* not a directory */
	assert_int_equal(policy_load("/dev/null", ms, &pol, &errs), -1);
	assert_null(pol);
	assert_true(has_error(&errs,
	    "/dev/null: cannot read the policy "
	    "directory: Not a directory"));
	cfg_errs_clear(&errs);
}

/* --- revoking: a never rule always loads, and only narrows --- */

/* Fails when `after` lets any reader of `set` see anything `before` does
 * not: objects of every member, of the hub (the directory) and of a
 * former member, at every level. */
static void
assert_narrower(const struct members *set, const struct policy *before,
    const struct policy *after, const char *what)
{
	int p, r, l;

	for (p = 0; p <= set->n + 1; p++) {
		uint32_t producer = p < set->n ? set->v[p].code
		    : p == set->n	       ? POLICY_HUB_PRODUCER
					       : 0x7ffffff0u;

		for (r = 0; r < set->n; r++)
			for (l = TLP_NONE; l <= TLP_RED; l++) {
				struct policy_obj o = {producer, l, 0, NULL, 0};

				if (policy_visible(after, &set->v[r], &o) &&
				    !policy_visible(before, &set->v[r], &o))
					fail_msg("%s: %s gains level %d of "
						 "producer %d",
					    what, set->v[r].id, l, p);
			}
	}
}

/* Issue #8: adding `never members bob` while `share amber with members
 * bob` stays in the same file was refused ("unreachable"), so a reload
 * kept bob's access.  It loads now, with a warning, and bob loses it. */
static void
t_revoke_bob(void **state)
{
	static const char set_text[] =
	    MEMBER("alice", "BR") MEMBER("bob", "IN") MEMBER("carol", "SG");
	char dir[] = "/tmp/t_policy.XXXXXX", want[600];
	struct members *set = NULL;
	struct policy *before = NULL, *after = NULL;
	struct cfg_errs errs;
	struct policy_obj o = {0, TLP_AMBER, 0, NULL, 0};
	const struct member *bob, *carol;
	int l;

	(void)state;
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(members_parse("members.conf", set_text,
			     strlen(set_text), &set, &errs),
	    0);
	bob = members_find(set, "bob");
	carol = members_find(set, "carol");
	o.producer = members_find(set, "alice")->code;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "alice.policy",
	    "share amber with members bob\n"
	    "share amber with members carol\n");
	assert_int_equal(policy_load(dir, set, &before, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(policy_visible(before, bob, &o), 1);

	write_file(dir, "alice.policy",
	    "share amber with members bob\n"
	    "share amber with members carol\n"
	    "never members bob\n");
	assert_int_equal(policy_load(dir, set, &after, &errs), 0);
	assert_non_null(after);
	snprintf(want, sizeof(want),
	    "%s/alice.policy:1: warning: unreachable: TLP:AMBER to member "
	    "bob is removed by a never rule (never at alice.policy:3); "
	    "remove bob here or drop the never rule",
	    dir);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.v[0], want);
	cfg_errs_clear(&errs);
	/* bob sees nothing of alice's any more, carol keeps AMBER */
	for (l = TLP_NONE; l <= TLP_RED; l++) {
		o.tlp = l;
		assert_int_equal(policy_visible(after, bob, &o), 0);
	}
	o.tlp = TLP_AMBER;
	assert_int_equal(policy_visible(after, carol, &o), 1);
	assert_narrower(set, before, after, "never members bob");
	policy_free(before);
	policy_free(after);
	rm_tree(dir);
	members_free(set);
}

/* Fails when reader r of the fixture's members sees any object of
 * `producer` (of every producer but itself, the hub included, when NULL). */
static void
assert_excluded(
    const struct policy *pol, int r, const char *producer, const char *what)
{
	int p, l;

	for (p = 0; p <= ms->n; p++) {
		uint32_t code = p < ms->n ? ms->v[p].code : POLICY_HUB_PRODUCER;

		if (p == r ||
		    (producer != NULL &&
			code != members_find(ms, producer)->code))
			continue;
		for (l = TLP_NONE; l <= TLP_RED; l++) {
			struct policy_obj o = {code, l, 0, NULL, 0};

			if (policy_visible(pol, &ms->v[r], &o))
				fail_msg("%s: %s still sees level %d of "
					 "producer %d",
				    what, ms->v[r].id, l, p);
		}
	}
}

/* For the fixture's every file, appending `never members ID` (every
 * member) or `never countries CC` (every member's country, and one with
 * no member) still loads, only with warnings, and narrows: the member
 * (or country) excluded sees nothing of that producer (of anyone, from
 * hub.policy), and nobody sees anything new. */
static void
t_never_narrows(void **state)
{
	const char *names[] = {
	    "hub.policy", "cert-br.policy", "cert-in.policy"};
	const char *base[] = {hub_ok, br_ok, in_ok};
	const char *prods[] = {NULL, "cert-br", "cert-in"};
	struct policy *before = fixture();
	int f, k, r;

	(void)state;
	for (f = 0; f < 3; f++)
		for (k = 0; k <= 2 * ms->n; k++) {
			const char *texts[3];
			size_t lens[3];
			char text[2048], what[128];
			const char *cc = k < ms->n ? NULL
			    : k < 2 * ms->n	   ? ms->v[k - ms->n].country
						   : "FR";
			struct policy *after = NULL;
			struct cfg_errs errs;
			int i;

			if (cc == NULL)
				snprintf(what, sizeof(what), "never members %s",
				    ms->v[k].id);
			else
				snprintf(what, sizeof(what),
				    "never countries %s", cc);
			for (i = 0; i < 3; i++) {
				texts[i] = base[i];
				lens[i] = strlen(base[i]);
			}
			snprintf(text, sizeof(text), "%s%s\n", base[f], what);
			texts[f] = text;
			lens[f] = strlen(text);
			memset(&errs, 0, sizeof(errs));
			if (policy_parse(3, names, texts, lens, ms, &after,
				&errs) != 0 ||
			    !warnings_only(&errs)) {
				for (i = 0; i < errs.n; i++)
					print_error("%s\n", errs.v[i]);
				fail_msg(
				    "%s: '%s' added: refused", names[f], what);
			}
			cfg_errs_clear(&errs);
			assert_narrower(ms, before, after, what);
			for (r = 0; r < ms->n; r++)
				if (cc == NULL
					? r == k
					: strcmp(ms->v[r].country, cc) == 0)
					assert_excluded(
					    after, r, prods[f], what);
			policy_free(after);
		}
	policy_free(before);
}

/* --- data-driven cases --- */

static char *
slurp(const char *path)
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
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* 1 if every line of text is a warning (or there is none). */
static int
lines_all_warnings(const char *text)
{
	const char *nl;

	for (; *text != '\0'; text = nl + 1) {
		if ((nl = strchr(text, '\n')) == NULL)
			nl = text + strlen(text) - 1;
		if (memmem(text, (size_t)(nl - text), ": warning: ", 11) ==
		    NULL)
			return 0;
	}
	return 1;
}

static void
t_suites(void **state)
{
	struct dirent **ents;
	int i, n, e, ncases = 0;

	(void)state;
	n = scandir(SUITE, &ents, NULL, alphasort);
	if (n < 0)
		fail_msg("%s: cannot read (run the tests from the repository "
			 "root)",
		    SUITE);
	for (i = 0; i < n; i++) {
		char dir[512], path[600], got[8192];
		struct policy *pol = NULL;
		struct cfg_errs errs;
		char *want;
		size_t off = 0, dlen;
		int rc;

		if (ents[i]->d_name[0] == '.') {
			free(ents[i]);
			continue;
		}
		snprintf(dir, sizeof(dir), "%s/%s", SUITE, ents[i]->d_name);
		snprintf(path, sizeof(path), "%s/expected", dir);
		want = slurp(path);
		memset(&errs, 0, sizeof(errs));
		rc = policy_load(dir, ms, &pol, &errs);
		dlen = strlen(dir) + 1;
		got[0] = '\0';
		for (e = 0; e < errs.n; e++) {
			const char *m = errs.v[e];

			if (strncmp(m, dir, dlen - 1) == 0 &&
			    m[dlen - 1] == '/')
				m += dlen;
			off += (size_t)snprintf(
			    got + off, sizeof(got) - off, "%s\n", m);
			assert_true(off < sizeof(got));
		}
		if (strcmp(got, want) != 0)
			fail_msg("%s: errors differ\n--- got\n%s--- want\n%s",
			    dir, got, want);
		/* a set with warnings only loads */
		assert_int_equal(rc, lines_all_warnings(want) ? 0 : -1);
		assert_true((pol != NULL) == (rc == 0));
		policy_free(pol);
		cfg_errs_clear(&errs);
		free(want);
		free(ents[i]);
		ncases++;
	}
	free(ents);
	assert_true(ncases >= 3);
}

/* --- allocation failure --- */

static void
t_oom(void **state)
{
	const char *names[] = {
	    "hub.policy", "cert-br.policy", "cert-in.policy", "cert-za.policy"};
	const char *texts[] = {hub_ok, br_ok, in_ok, "frobnicate\n"};
	size_t lens[4];
	struct policy *pol;
	struct cfg_errs errs;
	long n;
	int i, rc, nfiles;

	(void)state;
	for (i = 0; i < 4; i++)
		lens[i] = strlen(texts[i]);
	/* a valid set, then one with an error: both fail cleanly */
	for (nfiles = 3; nfiles <= 4; nfiles++) {
		for (n = 0;; n++) {
			memset(&errs, 0, sizeof(errs));
			pol = (struct policy *)1;
			hub_alloc_fail_after(n);
			rc = policy_parse(
			    nfiles, names, texts, lens, ms, &pol, &errs);
			hub_alloc_fail_after(-1);
			if (rc == 0) {
				assert_int_equal(nfiles, 3);
				assert_non_null(pol);
				assert_int_equal(
				    vis(pol, "cert-id", "cert-br", TLP_AMBER),
				    1);
				policy_free(pol);
				cfg_errs_clear(&errs);
				break;
			}
			assert_null(pol);
			assert_true(errs.n + errs.dropped > 0);
			if (nfiles == 4 && errs.n == 1 && errs.dropped == 0 &&
			    strstr(errs.v[0], "out of memory") == NULL) {
				cfg_errs_clear(&errs);
				break; /* the real error, reached */
			}
			cfg_errs_clear(&errs);
			assert_true(n < 100000);
		}
		assert_true(n > 10);
	}
}

static void
t_oom_load(void **state)
{
	char dir[] = "/tmp/t_policy.XXXXXX";
	struct policy *pol;
	struct cfg_errs errs;
	long n;
	int rc;

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "hub.policy", hub_ok);
	write_file(dir, "cert-br.policy", br_ok);
	for (n = 0;; n++) {
		memset(&errs, 0, sizeof(errs));
		pol = (struct policy *)1;
		hub_alloc_fail_after(n);
		rc = policy_load(dir, ms, &pol, &errs);
		hub_alloc_fail_after(-1);
		cfg_errs_clear(&errs);
		if (rc == 0) {
			assert_non_null(pol);
			policy_free(pol);
			break;
		}
		assert_null(pol);
		assert_true(n < 100000);
	}
	assert_true(n > 10);
	rm_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_levels_relations),
	    cmocka_unit_test(t_defaults_null),
	    cmocka_unit_test(t_unmarked),
	    cmocka_unit_test(t_release),
	    cmocka_unit_test(t_directory),
	    cmocka_unit_test(t_audience),
	    cmocka_unit_test(t_broken),
	    cmocka_unit_test(t_warnings),
	    cmocka_unit_test(t_all_errors),
	    cmocka_unit_test(t_explain),
	    cmocka_unit_test(t_explain_example),
	    cmocka_unit_test(t_directory_explain),
	    cmocka_unit_test(t_files),
	    cmocka_unit_test(t_load),
	    cmocka_unit_test(t_revoke_bob),
	    cmocka_unit_test(t_never_narrows),
	    cmocka_unit_test(t_suites),
	    cmocka_unit_test(t_oom),
	    cmocka_unit_test(t_oom_load),
	};

	return cmocka_run_group_tests_name("policy", tests, setup, teardown);
}
