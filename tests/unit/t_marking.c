/*
 * t_marking.c -- TLP ids and names, classification of marking-definition
 * objects (TLP 1.0, TLP 2.0, AIS, ISA ACS 3.0 and its STIX 2.0 forms),
 * releasability and the merge of markings.  The OASIS TLP 2.0 files of
 * ../shared/data are classified too when present.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "ctihub/marking.h"

#define TLP_DIR "../shared/data/stix21/tlp-markings"

static int
classify(const char *text, struct marking_class *out)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	int r;

	if (j == NULL)
		fail_msg("bad test JSON: %s", e.text);
	r = marking_classify(j, out);
	json_decref(j);
	return r;
}

/* "US GB" -> release list check, order included */
static void
assert_release(const struct marking_class *m, const char *list)
{
	char got[3 * MARKING_MAX_COUNTRIES + 1] = "";
	int i;

	assert_int_equal(m->has_release, 1);
	for (i = 0; i < m->nrelease; i++) {
		if (i > 0)
			strcat(got, " ");
		strcat(got, m->release[i]);
	}
	assert_string_equal(got, list);
}

static void
t_tlp_of_id(void **state)
{
	static const struct {
		const char *id;
		enum tlp tlp;
	} ids[] = {
	    {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
		TLP_CLEAR},
	    {"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
		TLP_GREEN},
	    {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
		TLP_AMBER},
	    {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
		TLP_RED},
	    {"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
		TLP_CLEAR},
	    {"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
		TLP_GREEN},
	    {"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
		TLP_AMBER},
	    {"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
		TLP_AMBER_STRICT},
	    {"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
		TLP_RED},
	    {"marking-definition--826578e1-40ad-459f-bc73-ede076f81f37",
		TLP_AMBER_STRICT},
	    /* upper-case hex: the same UUID */
	    {"marking-definition--5E57C739-391A-4EB3-B6BE-7D15CA92D5ED",
		TLP_RED},
	    {"marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168",
		TLP_NONE},
	    {"identity--613f2e26-407d-48c7-9eca-b8e91df99dc9", TLP_NONE},
	    {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc",
		TLP_NONE},
	    {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9x",
		TLP_NONE},
	    {"", TLP_NONE},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		assert_int_equal(marking_tlp_of_id(ids[i].id), ids[i].tlp);
	assert_int_equal(marking_tlp_of_id(NULL), TLP_NONE);
}

static void
t_tlp_names(void **state)
{
	(void)state;
	assert_int_equal(marking_tlp_parse("white"), TLP_CLEAR);
	assert_int_equal(marking_tlp_parse("TLP:CLEAR"), TLP_CLEAR);
	assert_int_equal(marking_tlp_parse("Green"), TLP_GREEN);
	assert_int_equal(marking_tlp_parse("tlp:amber"), TLP_AMBER);
	assert_int_equal(marking_tlp_parse("AMBER+STRICT"), TLP_AMBER_STRICT);
	assert_int_equal(marking_tlp_parse("TLP:RED"), TLP_RED);
	assert_int_equal(marking_tlp_parse("orange"), TLP_NONE);
	assert_int_equal(marking_tlp_parse("TLP:"), TLP_NONE);
	assert_int_equal(marking_tlp_parse(""), TLP_NONE);
	assert_int_equal(marking_tlp_parse(NULL), TLP_NONE);
	assert_string_equal(marking_tlp_name(TLP_NONE), "NONE");
	assert_string_equal(marking_tlp_name(TLP_CLEAR), "CLEAR");
	assert_string_equal(marking_tlp_name(TLP_AMBER_STRICT), "AMBER+STRICT");
	assert_string_equal(marking_tlp_name(TLP_RED), "RED");
	assert_string_equal(marking_tlp_name((enum tlp)42), "NONE");
	/* the order is the order of restriction */
	assert_true(TLP_NONE < TLP_CLEAR && TLP_CLEAR < TLP_GREEN &&
	    TLP_GREEN < TLP_AMBER && TLP_AMBER < TLP_AMBER_STRICT &&
	    TLP_AMBER_STRICT < TLP_RED);
}

static void
t_classify_tlp(void **state)
{
	struct marking_class m;

	(void)state;
	/* TLP 1.0 */
	assert_int_equal(classify("{\"type\":\"marking-definition\",\"id\":"
				  "\"marking-definition--f88d31f6-486f-44da-"
				  "b317-01333bde0b82\",\"created\":\"2017-01-"
				  "20T00:00:00.000Z\",\"definition_type\":"
				  "\"tlp\",\"definition\":{\"tlp\":"
				  "\"amber\"}}",
			     &m),
	    0);
	assert_int_equal(m.tlp, TLP_AMBER);
	assert_int_equal(m.has_release, 0);
	/* TLP 2.0 by content, under a producer's own id */
	assert_int_equal(classify("{\"type\":\"marking-definition\",\"id\":"
				  "\"marking-definition--11111111-2222-4333-"
				  "8444-555555555555\",\"extensions\":{"
				  "\"extension-definition--60a3c5c5-0d10-413e-"
				  "aab3-9e08dde9e88d\":{\"extension_type\":"
				  "\"property-extension\",\"tlp_2_0\":"
				  "\"amber+strict\"}}}",
			     &m),
	    0);
	assert_int_equal(m.tlp, TLP_AMBER_STRICT);
	/* a producer's TLP 1.0-style definition, OpenCTI spelling */
	assert_int_equal(classify("{\"type\":\"marking-definition\",\"id\":"
				  "\"marking-definition--11111111-2222-4333-"
				  "8444-555555555555\",\"definition_type\":"
				  "\"TLP\",\"definition\":{\"tlp\":"
				  "\"TLP:RED\"}}",
			     &m),
	    0);
	assert_int_equal(m.tlp, TLP_RED);
	/* a well-known id wins over altered content */
	assert_int_equal(classify("{\"type\":\"marking-definition\",\"id\":"
				  "\"marking-definition--613f2e26-407d-48c7-"
				  "9eca-b8e91df99dc9\",\"definition_type\":"
				  "\"tlp\",\"definition\":{\"tlp\":\"red\"}}",
			     &m),
	    0);
	assert_int_equal(m.tlp, TLP_CLEAR);
	/* AIS (STIX 2.0 elevator output): the TLP it names */
	assert_int_equal(classify("{\"type\":\"marking-definition\",\"id\":"
				  "\"marking-definition--f0185abf-3b5d-478c-"
				  "a72d-60e9f7d53d33\",\"definition_type\":"
				  "\"ais\",\"definition\":{\"consent\":"
				  "\"everyone\",\"is_proprietary\":\"false\","
				  "\"tlp\":\"green\"}}",
			     &m),
	    0);
	assert_int_equal(m.tlp, TLP_GREEN);
	/* a statement: no level, no release */
	assert_int_equal(classify("{\"type\":\"marking-definition\",\"id\":"
				  "\"marking-definition--d81f86b9-975b-4c0b-"
				  "875e-810c5ad45a4f\",\"definition_type\":"
				  "\"statement\",\"definition\":{"
				  "\"statement\":\"(c) Stark\"}}",
			     &m),
	    0);
	assert_int_equal(m.tlp, TLP_NONE);
	assert_int_equal(m.has_release, 0);
	/* not a marking-definition */
	assert_int_equal(classify("{\"type\":\"indicator\"}", &m), -1);
	assert_int_equal(classify("[]", &m), -1);
}

#define ACS_HEAD                                                               \
	"{\"type\":\"marking-definition\",\"spec_version\":\"2.1\",\"id\":"    \
	"\"marking-definition--20864905-06a0-47be-a04c-2164af17d635\","        \
	"\"created\":\"2020-06-18T00:00:00Z\",\"extensions\":{"                \
	"\"extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce\":{"     \
	"\"extension_type\":\"property-extension\",\"identifier\":"            \
	"\"isa:guide.19001.ACS3-3bda2f6e\",\"create_date_time\":"              \
	"\"2018-05-27T14:10:26.723Z\",\"responsible_entity_custodian\":"       \
	"\"USA.DHS\",\"policy_reference\":\"urn:isa:policy:acs:ns:v3.0?"       \
	"privdefault=deny&sharedefault=deny\","
#define ACS_TAIL "}}}"

static void
t_classify_acs(void **state)
{
	struct marking_class m;

	(void)state;
	/* control_set.permitted_nationalities: GENC (ISO alpha-3) codes */
	assert_int_equal(
	    classify(ACS_HEAD "\"control_set\":{"
			      "\"classification\":\"U\","
			      "\"permitted_nationalities\":"
			      "[\"USA\",\"GBR\",\"CAN\",\"gbr\"]}" ACS_TAIL,
		&m),
	    0);
	assert_int_equal(m.tlp, TLP_NONE);
	assert_release(&m, "US GB CA");
	/* access privileges: the union of the permitted ones, intersected
	 * with the control set; unknown codes are dropped (only narrows) */
	assert_int_equal(
	    classify(ACS_HEAD "\"control_set\":{"
			      "\"classification\":\"U\","
			      "\"permitted_nationalities\":"
			      "[\"USA\",\"AUS\",\"NZL\",\"FRA\"]},"
			      "\"access_privilege\":[{"
			      "\"privilege_action\":\"CISAUSES\","
			      "\"privilege_scope\":{"
			      "\"permitted_nationalities\":["
			      "\"USA\",\"AUS\",\"XYZ\"]},"
			      "\"rule_effect\":\"permit\"},{"
			      "\"privilege_action\":\"DSPLY\","
			      "\"privilege_scope\":{"
			      "\"permitted_nationalities\":["
			      "\"NZ\"]},\"rule_effect\":\"permit\"},"
			      "{\"privilege_action\":\"LEGAL\","
			      "\"privilege_scope\":{"
			      "\"permitted_nationalities\":["
			      "\"FRA\"]},\"rule_effect\":\"deny\"}]" ACS_TAIL,
		&m),
	    0);
	assert_release(&m, "US AU NZ");
	/* "ALL" restricts nothing */
	assert_int_equal(
	    classify(ACS_HEAD "\"control_set\":{"
			      "\"classification\":\"U\","
			      "\"formal_determination\":[\"FOUO\","
			      "\"AIS\"]},\"access_privilege\":[{"
			      "\"privilege_action\":\"CISAUSES\","
			      "\"privilege_scope\":{"
			      "\"permitted_nationalities\":["
			      "\"ALL\"],\"permitted_organizations\":"
			      "[\"ALL\"],\"shareability\":[\"ALL\"],"
			      "\"entity\":[\"ALL\"]},"
			      "\"rule_effect\":\"permit\"}],"
			      "\"further_sharing\":[{"
			      "\"sharing_scope\":[\"USA.USG\"],"
			      "\"rule_effect\":\"permit\"}]" ACS_TAIL,
		&m),
	    0);
	assert_int_equal(m.has_release, 0);
	/* organisations only: no country restriction (policy's job) */
	assert_int_equal(classify(ACS_HEAD "\"control_set\":{"
					   "\"classification\":\"U\","
					   "\"permitted_organizations\":["
					   "\"USA.USG\"]}" ACS_TAIL,
			     &m),
	    0);
	assert_int_equal(m.has_release, 0);
	/* a list of nothing known: releasable to nobody */
	assert_int_equal(classify(ACS_HEAD "\"control_set\":{"
					   "\"classification\":\"U\","
					   "\"permitted_nationalities\":"
					   "[\"XXX\"]}" ACS_TAIL,
			     &m),
	    0);
	assert_int_equal(m.has_release, 1);
	assert_int_equal(m.nrelease, 0);
	assert_false(marking_releasable_to(&m, "US"));
}

static void
t_classify_isa20(void **state)
{
	struct marking_class m;

	(void)state;
	/* STIX 2.0 definition_type "isa..." with the ACS properties */
	assert_int_equal(classify("{\"type\":\"marking-definition\",\"id\":"
				  "\"marking-definition--3d8a7c60-3a46-4b43-"
				  "9b59-f6b0f1ad7b27\",\"created\":\"2018-01-"
				  "01T00:00:00.000Z\",\"definition_type\":"
				  "\"isa-marking\",\"definition\":{"
				  "\"control_set\":{\"classification\":\"U\","
				  "\"permitted_nationalities\":[\"USA\","
				  "\"DEU\"]}}}",
			     &m),
	    0);
	assert_release(&m, "US DE");
	/* STIX 2.0 extension keyed by name, flat releasable_to list */
	assert_int_equal(classify("{\"type\":\"marking-definition\",\"id\":"
				  "\"marking-definition--3d8a7c60-3a46-4b43-"
				  "9b59-f6b0f1ad7b27\",\"created\":\"2018-01-"
				  "01T00:00:00.000Z\",\"definition_type\":"
				  "\"statement\",\"definition\":{"
				  "\"statement\":\"ISA\"},\"extensions\":{"
				  "\"isa-marking-extension\":{"
				  "\"releasable_to\":[\"US\",\"JP\"]}}}",
			     &m),
	    0);
	assert_release(&m, "US JP");
}

static void
t_merge(void **state)
{
	struct marking_class acc, m;

	(void)state;
	memset(&acc, 0, sizeof(acc));
	memset(&m, 0, sizeof(m));
	m.tlp = TLP_GREEN;
	marking_merge(&acc, &m);
	assert_int_equal(acc.tlp, TLP_GREEN);
	m.tlp = TLP_CLEAR; /* a laxer marking does not loosen */
	marking_merge(&acc, &m);
	assert_int_equal(acc.tlp, TLP_GREEN);
	assert_int_equal(acc.has_release, 0);
	assert_true(marking_releasable_to(&acc, "FR"));

	m.has_release = 1;
	m.nrelease = 3;
	memcpy(m.release[0], "BR", 3);
	memcpy(m.release[1], "IN", 3);
	memcpy(m.release[2], "ZA", 3);
	marking_merge(&acc, &m);
	assert_release(&acc, "BR IN ZA");

	memset(&m, 0, sizeof(m));
	m.tlp = TLP_AMBER;
	m.has_release = 1;
	m.nrelease = 2;
	memcpy(m.release[0], "ZA", 3);
	memcpy(m.release[1], "BR", 3);
	marking_merge(&acc, &m);
	assert_int_equal(acc.tlp, TLP_AMBER);
	assert_release(&acc, "BR ZA");
	assert_true(marking_releasable_to(&acc, "ZA"));
	assert_false(marking_releasable_to(&acc, "IN"));

	memset(&m, 0, sizeof(m));
	m.has_release = 1; /* releasable to nobody */
	marking_merge(&acc, &m);
	assert_int_equal(acc.has_release, 1);
	assert_int_equal(acc.nrelease, 0);
	assert_false(marking_releasable_to(&acc, "BR"));
}

static void
t_oasis_tlp2_files(void **state)
{
	static const struct {
		const char *file;
		enum tlp tlp;
	} files[] = {
	    {"tlp-clear.json", TLP_CLEAR},
	    {"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb.json",
		TLP_GREEN},
	    {"tlp-amber.json", TLP_AMBER},
	    {"tlp-amber+strict.json", TLP_AMBER_STRICT},
	    {"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1.json",
		TLP_RED},
	};
	struct marking_class m;
	char path[256];
	json_error_t e;
	json_t *doc, *o, *id;
	size_t i;

	(void)state;
	if (access(TLP_DIR, R_OK) != 0) {
		print_message("# " TLP_DIR " not found: skipped\n");
		skip();
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), TLP_DIR "/%s", files[i].file);
		doc = json_load_file(path, 0, &e);
		assert_non_null(doc);
		o = json_array_get(json_object_get(doc, "objects"), 0);
		assert_int_equal(marking_classify(o, &m), 0);
		assert_int_equal(m.tlp, files[i].tlp);
		/* by id and, under another id, by content */
		assert_int_equal(marking_tlp_of_id(json_string_value(
				     json_object_get(o, "id"))),
		    files[i].tlp);
		id = json_string("marking-definition--11111111-2222-4333-"
				 "8444-555555555555");
		json_object_set_new(o, "id", id);
		assert_int_equal(marking_classify(o, &m), 0);
		assert_int_equal(m.tlp, files[i].tlp);
		json_decref(doc);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_tlp_of_id),
	    cmocka_unit_test(t_tlp_names),
	    cmocka_unit_test(t_classify_tlp),
	    cmocka_unit_test(t_classify_acs),
	    cmocka_unit_test(t_classify_isa20),
	    cmocka_unit_test(t_merge),
	    cmocka_unit_test(t_oasis_tlp2_files),
	};

	return cmocka_run_group_tests_name("marking", tests, NULL, NULL);
}
