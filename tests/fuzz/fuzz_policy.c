/*
 * fuzz_policy.c -- sharing policy parser and compiler.  The input is two
 * files, hub.policy then cert-br.policy, split at the first NUL byte or
 * the first "\n---\n" (no separator: all of it is cert-br.policy), read
 * against a fixed set of members.  When the set is accepted, checks what
 * must hold of any valid policy: a producer sees its own objects, nobody
 * sees more of a level than of every less restrictive one, and
 * policy_explain decides as policy_visible does; and of marking
 * resolution: an object whose markings are not all resolved is seen
 * exactly as one at its producer's default level (or its own, if
 * stricter), a releasability list only ever narrows, and the objects of a
 * producer that is not a member go to admins only.
 *
 * And that revoking is never refused (issue #8): appending `never members
 * ID` or `never countries CC` (a known name) to either file of a set that
 * loads still loads, with warnings at most; the member or country named
 * then sees nothing of that file's producer (of anyone but itself, from
 * hub.policy), and no reader sees anything it did not see before.
 * Any violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/marking.h"
#include "ctihub/member.h"
#include "ctihub/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define TOKEN                                                                  \
	"\ttoken sha256$"                                                      \
	"00000000000000000000000000000000000000000000000000000000000000aa\n"
#define MEMBER(id, cc)                                                         \
	"member " id " {\n\tname \"" id "\"\n\tcountry " cc                    \
	"\n\troles publisher subscriber\n" TOKEN "}\n"

static const char members_text[] = MEMBER("cert-br", "BR")
    MEMBER("cert-br2", "BR") MEMBER("cert-in", "IN") MEMBER("cert-za", "ZA")
	MEMBER("cert-id", "ID") MEMBER("cert-us", "US") MEMBER(
	    "cert-ru", "RU") "member cert-adm {\n\tname \"adm\"\n\tcountry BR\n"
			     "\troles admin subscriber\n" TOKEN "}\n";

/* A code no member has: a producer that left. */
#define GONE 0x7ffffff0u

static struct members *ms;

static void
check(const struct policy *pol)
{
	static const uint32_t hub = POLICY_HUB_PRODUCER;
	char out[4096];
	int r, p, l, v, prev;

	for (p = 0; p <= ms->n; p++) {
		uint32_t producer = p < ms->n ? ms->v[p].code : hub;

		for (r = 0; r < ms->n; r++) {
			const struct member *m = &ms->v[r];

			prev = 1;
			for (l = TLP_NONE; l < TLP_NLEVELS; l++) {
				struct policy_obj o = {producer, l, 0, NULL, 0};

				v = policy_visible(pol, m, &o);
				if (policy_explain(
					pol, m, &o, out, sizeof(out)) != v)
					abort();
				if (p == r && !v)
					abort();
				if (l == TLP_NONE)
					continue;
				if (v && !prev && producer != hub)
					abort();
				prev = v;
			}
		}
	}
}

static void
check_markings(const struct policy *pol)
{
	static const char *const lists[] = {"", "BR", "INZA", "USRUBRID"};
	int r, p, l, k, v;

	for (p = 0; p <= ms->n; p++) {
		uint32_t producer = p < ms->n ? ms->v[p].code : GONE;
		int def = policy_level(pol, producer, TLP_NONE);

		for (l = TLP_NONE; l < TLP_NLEVELS; l++) {
			struct policy_obj u = {
			    producer, l, STORE_F_UNRESOLVED, NULL, 0};
			struct policy_obj w = {producer, l, 0, NULL, 0};
			int ul = policy_obj_level(pol, &u);

			/* unresolved: the stricter of its level and the
			 * default, never less */
			if (ul < def || ul < policy_obj_level(pol, &w))
				abort();
			w.tlp = ul;
			for (r = 0; r < ms->n; r++) {
				const struct member *m = &ms->v[r];

				v = policy_visible(pol, m, &u);
				if (v != policy_visible(pol, m, &w))
					abort();
				if (p == ms->n &&
				    v != ((m->roles & MEMBER_ADMIN) != 0))
					abort();
				for (k = 0; k < 4; k++) {
					struct policy_obj x = {producer, l,
					    STORE_F_RELEASE, lists[k],
					    (int)strlen(lists[k]) / 2};
					struct policy_obj y = {
					    producer, l, 0, NULL, 0};
					int in = strstr(lists[k], m->country) !=
						NULL &&
					    (strstr(lists[k], m->country) -
						lists[k]) %
						    2 ==
						0;
					int vx = policy_visible(pol, m, &x);

					/* narrows, never widens; outside
					 * the list only the producer (and
					 * admins for a producer gone) */
					if (vx && !policy_visible(pol, m, &y))
						abort();
					if (vx && !in && p != r && p != ms->n)
						abort();
				}
			}
		}
	}
}

/* The producer of objects number p: each member, the hub (the
 * directory), and one that is no member. */
static uint32_t
producer_of(int p)
{
	if (p < ms->n)
		return ms->v[p].code;
	return p == ms->n ? POLICY_HUB_PRODUCER : GONE;
}

/*
 * Appends `rule` to file f of the set (texts, lens) that compiled to
 * `before`; aborts unless the result loads, with warnings only, and
 * narrows.  `who`/`cc`: the member index or the country the rule names
 * (-1 / NULL for the other kind).
 */
static void
never_check(const char *const names[], const char *const texts[],
    const size_t lens[], const struct policy *before, int f, const char *rule,
    int who, const char *cc)
{
	const char *t2[2] = {texts[0], texts[1]};
	size_t l2[2] = {lens[0], lens[1]}, rlen = strlen(rule);
	struct policy *after = NULL;
	struct cfg_errs errs;
	char *text;
	int p, r, l, i;

	if ((text = malloc(lens[f] + rlen + 2)) == NULL)
		abort();
	memcpy(text, texts[f], lens[f]);
	text[lens[f]] = '\n';
	memcpy(text + lens[f] + 1, rule, rlen);
	text[lens[f] + 1 + rlen] = '\n';
	t2[f] = text;
	l2[f] = lens[f] + rlen + 2;
	memset(&errs, 0, sizeof(errs));
	if (policy_parse(2, names, t2, l2, ms, &after, &errs) != 0)
		abort();
	for (i = 0; i < errs.n; i++)
		if (errs.sev[i] != CFG_WARNING)
			abort();
	if (errs.dropped)
		abort();
	cfg_errs_clear(&errs);
	check(after);
	for (p = 0; p <= ms->n + 1; p++) {
		uint32_t producer = producer_of(p);
		/* whose objects the rule keeps from the named: everyone's
		 * from hub.policy, cert-br's (member 0) from its file */
		int scope = f == 0 || p == 0;

		for (l = TLP_NONE; l < TLP_NLEVELS; l++) {
			if (policy_everyone(after, producer, l) &&
			    !policy_everyone(before, producer, l))
				abort();
			for (r = 0; r < ms->n; r++) {
				const struct member *m = &ms->v[r];
				struct policy_obj o = {producer, l, 0, NULL, 0};
				int v = policy_visible(after, m, &o);

				if (v && !policy_visible(before, m, &o))
					abort();
				/* (admins alone see a departed producer's
				 * objects, whatever the rules) */
				if (v && scope && p != r &&
				    !(p == ms->n + 1 &&
					(m->roles & MEMBER_ADMIN)) &&
				    (r == who ||
					(cc != NULL &&
					    strcmp(m->country, cc) == 0)))
					abort();
			}
		}
	}
	policy_free(after);
	free(text);
}

/* Every `never` rule naming a known member or country, in either file. */
static void
revoke_check(const char *const names[], const char *const texts[],
    const size_t lens[], const struct policy *before)
{
	char rule[MEMBER_ID_MAX + 32];
	int f, k;

	for (f = 0; f < 2; f++) {
		for (k = 0; k < ms->n; k++) {
			snprintf(rule, sizeof(rule), "never members %s",
			    ms->v[k].id);
			never_check(
			    names, texts, lens, before, f, rule, k, NULL);
			snprintf(rule, sizeof(rule), "never countries %s",
			    ms->v[k].country);
			never_check(names, texts, lens, before, f, rule, -1,
			    ms->v[k].country);
		}
		/* a country with no member */
		never_check(names, texts, lens, before, f, "never countries FR",
		    -1, "FR");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *names[] = {"hub.policy", "cert-br.policy"};
	const char *texts[2];
	size_t lens[2], i, cut = size, skip = 0;
	struct policy *pol = NULL;
	struct cfg_errs errs;

	if (ms == NULL) {
		memset(&errs, 0, sizeof(errs));
		if (members_parse("members.conf", members_text,
			strlen(members_text), &ms, &errs) != 0)
			abort();
	}
	for (i = 0; i < size; i++) {
		if (data[i] == '\0') {
			cut = i;
			skip = 1;
			break;
		}
		if (i + 5 <= size && memcmp(data + i, "\n---\n", 5) == 0) {
			cut = i + 1;
			skip = 4;
			break;
		}
	}
	if (cut == size) {
		texts[0] = "";
		lens[0] = 0;
		texts[1] = (const char *)data;
		lens[1] = size;
	} else {
		texts[0] = (const char *)data;
		lens[0] = cut;
		texts[1] = (const char *)data + cut + skip;
		lens[1] = size - cut - skip;
	}
	memset(&errs, 0, sizeof(errs));
	if (policy_parse(2, names, texts, lens, ms, &pol, &errs) == 0) {
		check(pol);
		check_markings(pol);
		revoke_check(names, texts, lens, pol);
		policy_free(pol);
	}
	cfg_errs_clear(&errs);
	return 0;
}
