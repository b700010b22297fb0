/*
 * marking.c -- data markings: well-known TLP marking-definition ids (TLP 1.0
 * as predefined by STIX 2.1, the OASIS TLP 2.0 extension, OpenCTI's
 * AMBER+STRICT id) to one internal level, classification of
 * marking-definition objects (TLP 1.0, TLP 2.0, the AIS "ais" definition
 * type, the ISA ACS 3.0 marking extension and its STIX 2.0 forms), and the
 * merge of several markings into the strictest.  Does not validate marking
 * definitions (stix.c does) and does not decide who may see what
 * (the policy module, policy_*.c, does).
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ctihub/country.h"
#include "ctihub/marking.h"

#define MDEF_PREFIX	"marking-definition--"
#define MDEF_PREFIX_LEN (sizeof(MDEF_PREFIX) - 1)

/* The UUID part of every well-known TLP marking-definition id. */
static const struct {
	const char *uuid;
	enum tlp tlp;
} tlp_ids[] = {
    /* TLP 1.0, predefined by STIX 2.1 section 7.2.1.4 */
    {"613f2e26-407d-48c7-9eca-b8e91df99dc9", TLP_CLEAR}, /* WHITE */
    {"34098fce-860f-48ae-8e50-ebd3cc5e41da", TLP_GREEN},
    {"f88d31f6-486f-44da-b317-01333bde0b82", TLP_AMBER},
    {"5e57c739-391a-4eb3-b6be-7d15ca92d5ed", TLP_RED},
    /* TLP 2.0, OASIS extension-definition--60a3c5c5-... */
    {"94868c89-83c2-464b-929b-a1a8aa3c8487", TLP_CLEAR},
    {"bab4a63c-aed9-4cf5-a766-dfca5abac2bb", TLP_GREEN},
    {"55d920b0-5e8b-4f79-9ee9-91f868d9b421", TLP_AMBER},
    {"939a9414-2ddd-4d32-a0cd-375ea402b003", TLP_AMBER_STRICT},
    {"e828b379-4e03-4974-9ac4-e53a884c97c1", TLP_RED},
    /* OpenCTI's AMBER+STRICT (it uses WHITE's id for CLEAR) */
    {"826578e1-40ad-459f-bc73-ede076f81f37", TLP_AMBER_STRICT},
};
#define NTLP_IDS (sizeof(tlp_ids) / sizeof(tlp_ids[0]))

static const char *tlp_names[TLP_NLEVELS] = {
    "NONE", "CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"};

/* The TLP 2.0 entries of tlp_ids, by level (marking_tlp_id). */
static const char *const tlp2_ids[TLP_NLEVELS] = {NULL,
    MDEF_PREFIX "94868c89-83c2-464b-929b-a1a8aa3c8487",
    MDEF_PREFIX "bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    MDEF_PREFIX "55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    MDEF_PREFIX "939a9414-2ddd-4d32-a0cd-375ea402b003",
    MDEF_PREFIX "e828b379-4e03-4974-9ac4-e53a884c97c1"};

static void restrict_to(struct marking_class *, const json_t *list);
static void acs_classify(const json_t *body, struct marking_class *);
static enum tlp tlp_of_json(const json_t *);

enum tlp
marking_tlp_of_id(const char *id)
{
	size_t i;

	if (id == NULL || strncmp(id, MDEF_PREFIX, MDEF_PREFIX_LEN) != 0)
		return TLP_NONE;
	id += MDEF_PREFIX_LEN;
	/* Ids are compared exactly: an upper-case spelling is a different
	 * string and stix.c reports it; look it up case-insensitively so
	 * that such a producer's markings still count. */
	for (i = 0; i < NTLP_IDS; i++)
		if (tolower((unsigned char)id[0]) == tlp_ids[i].uuid[0] &&
		    strcasecmp(id, tlp_ids[i].uuid) == 0)
			return tlp_ids[i].tlp;
	return TLP_NONE;
}

enum tlp
marking_tlp_parse(const char *name)
{
	static const struct {
		const char *name;
		enum tlp tlp;
	} names[] = {
	    {"clear", TLP_CLEAR},
	    {"white", TLP_CLEAR},
	    {"green", TLP_GREEN},
	    {"amber", TLP_AMBER},
	    {"amber+strict", TLP_AMBER_STRICT},
	    {"red", TLP_RED},
	};
	size_t i;

	if (name == NULL)
		return TLP_NONE;
	if (strncasecmp(name, "TLP:", 4) == 0)
		name += 4;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i].name) == 0)
			return names[i].tlp;
	return TLP_NONE;
}

const char *
marking_tlp_name(enum tlp t)
{
	if ((int)t < 0 || (int)t >= TLP_NLEVELS)
		return "NONE";
	return tlp_names[t];
}

const char *
marking_tlp_id(enum tlp t)
{
	if ((int)t <= TLP_NONE || (int)t >= TLP_NLEVELS)
		return NULL;
	return tlp2_ids[t];
}

static enum tlp
tlp_of_json(const json_t *s)
{
	return json_is_string(s) ? marking_tlp_parse(json_string_value(s))
				 : TLP_NONE;
}

/* Index of `cc` in out->release, or -1. */
static int
release_find(const struct marking_class *m, const char *cc)
{
	int i;

	for (i = 0; i < m->nrelease; i++)
		if (m->release[i][0] == cc[0] && m->release[i][1] == cc[1])
			return i;
	return -1;
}

/*
 * Reads one permitted-nationalities list (JSON array of strings): ISO
 * 3166-1 alpha-2 codes, alpha-3 codes (ACS uses GENC, whose country codes
 * are the ISO alpha-3 ones) or "ALL".  Returns 1 with `set` filled when the
 * list restricts, 0 when it does not (it holds "ALL", or is not a list).
 * Codes that are not countries are dropped: nothing can be released to
 * them, so dropping only narrows.
 */
static int
read_countries(const json_t *list, struct marking_class *set)
{
	size_t i;
	const json_t *e;

	memset(set, 0, sizeof(*set));
	if (!json_is_array(list))
		return 0;
	json_array_foreach(list, i, e)
	{
		const char *s = json_string_value(e), *a2 = NULL;
		char up[3];

		if (s == NULL)
			continue;
		if (strcasecmp(s, "ALL") == 0)
			return 0;
		if (strlen(s) == 2) {
			up[0] = (char)toupper((unsigned char)s[0]);
			up[1] = (char)toupper((unsigned char)s[1]);
			up[2] = '\0';
			if (country_valid(up))
				a2 = up;
		} else if (strlen(s) == 3)
			a2 = country_from_alpha3(s);
		if (a2 == NULL || release_find(set, a2) >= 0 ||
		    set->nrelease == MARKING_MAX_COUNTRIES)
			continue;
		memcpy(set->release[set->nrelease++], a2, 3);
	}
	set->has_release = 1;
	return 1;
}

/* Narrows `m` to the countries of `list` (when the list restricts). */
static void
restrict_to(struct marking_class *m, const json_t *list)
{
	struct marking_class set;

	if (read_countries(list, &set))
		marking_merge(m, &set);
}

/*
 * The ISA ACS 3.0 marking (STIX 2.1 extension-definition--3a65884d-...,
 * or the same properties in a STIX 2.0 definition): releasability comes
 * from control_set.permitted_nationalities (the "REL TO" list) and from
 * the privilege scopes of the permitted access privileges (a country with
 * no permitted privilege may not receive the object).  further_sharing
 * scopes name organisations ("USA.USG"), not countries, and are left to
 * the sharing policy.  Flat "permitted_nationalities"/"releasable_to"
 * lists, seen in hand-made STIX 2.0 ISA definitions, are read too.
 */
static void
acs_classify(const json_t *body, struct marking_class *out)
{
	const json_t *ap, *e, *cs;
	struct marking_class any, one;
	size_t i;
	int restricts = 1, nlists = 0;

	if (!json_is_object(body))
		return;
	if ((cs = json_object_get(body, "control_set")) != NULL) {
		restrict_to(
		    out, json_object_get(cs, "permitted_nationalities"));
		restrict_to(out, json_object_get(cs, "releasable_to"));
	}
	restrict_to(out, json_object_get(body, "permitted_nationalities"));
	restrict_to(out, json_object_get(body, "releasable_to"));

	/* The union over permitted privileges of their nationalities. */
	memset(&any, 0, sizeof(any));
	any.has_release = 1;
	ap = json_object_get(body, "access_privilege");
	json_array_foreach(ap, i, e)
	{
		const json_t *eff = json_object_get(e, "rule_effect");
		const json_t *scope = json_object_get(e, "privilege_scope");
		const json_t *pn =
		    json_object_get(scope, "permitted_nationalities");
		int k;

		if (json_is_string(eff) &&
		    strcasecmp(json_string_value(eff), "permit") != 0)
			continue; /* a deny only narrows what a permit grants */
		if (pn == NULL)
			continue;
		nlists++;
		if (!read_countries(pn, &one)) {
			restricts = 0; /* "ALL" */
			continue;
		}
		for (k = 0; k < one.nrelease; k++)
			if (release_find(&any, one.release[k]) < 0 &&
			    any.nrelease < MARKING_MAX_COUNTRIES)
				memcpy(any.release[any.nrelease++],
				    one.release[k], 3);
	}
	if (nlists > 0 && restricts)
		marking_merge(out, &any);
}

int
marking_classify(const json_t *mdef, struct marking_class *out)
{
	const json_t *type, *ext, *dt, *def;
	const char *id, *dts;
	const char *key;
	const json_t *val;
	enum tlp t;

	memset(out, 0, sizeof(*out));
	type = json_object_get(mdef, "type");
	if (!json_is_string(type) ||
	    strcmp(json_string_value(type), "marking-definition") != 0)
		return -1;
	id = json_string_value(json_object_get(mdef, "id"));

	/* A well-known id decides the level whatever the content says
	 * (stix.c warns when the content was altered). */
	if ((t = marking_tlp_of_id(id)) != TLP_NONE) {
		out->tlp = t;
		return 0;
	}
	dt = json_object_get(mdef, "definition_type");
	def = json_object_get(mdef, "definition");
	dts = json_string_value(dt);
	if (dts != NULL) {
		if (strcasecmp(dts, "tlp") == 0 || strcasecmp(dts, "ais") == 0)
			out->tlp = tlp_of_json(json_object_get(def, "tlp"));
		else if (strncasecmp(dts, "isa", 3) == 0 ||
		    strncasecmp(dts, "acs", 3) == 0)
			acs_classify(def, out);
	}
	ext = json_object_get(mdef, "extensions");
	json_object_foreach((json_t *)(uintptr_t)ext, key, val)
	{
		if (strcmp(key, MARKING_TLP2_EXT) == 0) {
			t = tlp_of_json(json_object_get(val, "tlp_2_0"));
			if (t > out->tlp)
				out->tlp = t;
		} else if (strcmp(key, MARKING_ACS_EXT) == 0 ||
		    strncmp(key, "isa-marking", 11) == 0 ||
		    strncmp(key, "x-isa-marking", 13) == 0)
			acs_classify(val, out);
	}
	return 0;
}

void
marking_merge(struct marking_class *acc, const struct marking_class *m)
{
	int i, n;

	if (m->tlp > acc->tlp)
		acc->tlp = m->tlp;
	if (!m->has_release)
		return;
	if (!acc->has_release) {
		acc->has_release = 1;
		acc->nrelease = m->nrelease;
		memcpy(acc->release, m->release, sizeof(acc->release));
		return;
	}
	for (i = n = 0; i < acc->nrelease; i++)
		if (release_find(m, acc->release[i]) >= 0)
			memmove(acc->release[n++], acc->release[i], 3);
	acc->nrelease = n;
}

int
marking_releasable_to(const struct marking_class *m, const char *cc)
{
	return !m->has_release || release_find(m, cc) >= 0;
}
