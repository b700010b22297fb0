/*
 * stix.c -- validation of one STIX 2.1 (or 2.0) object: the common
 * properties, then the properties of its type from a table with one row per
 * SDO, SRO, SCO and meta object type, then the rules that tie properties
 * together (valid_until after valid_from, the indicator's pattern, ...).
 * One pass over the object's members and no allocation of its own (the
 * pattern parser allocates its tree).  Does not look at other objects
 * (references are checked for form, not resolved), does not store
 * anything and knows no policy.
 *
 * Severity, in short: an error when the hub could not identify, version,
 * mark, link or index the object correctly, or when a property every
 * consumer needs (a required one) is missing or malformed; a warning for a
 * defect real producers commonly ship that harms neither the hub nor a
 * consumer (an empty optional reference, an upper-case UUID, a descriptive
 * property of the wrong JSON type, a STIX 2.0-only requirement).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ctihub/bytes.h"
#include "ctihub/marking.h"
#include "ctihub/pattern.h"
#include "ctihub/stix.h"
#include "ctihub/tstamp.h"
#include "ctihub/uuid.h"

/* Property kinds of the type tables. */
enum kind {
	K_ANY,
	K_STR,	   /* string */
	K_BOOL,	   /* boolean */
	K_INT,	   /* integer */
	K_NUM,	   /* number */
	K_TS,	   /* timestamp */
	K_STRS,	   /* non-empty list of strings */
	K_LIST,	   /* non-empty list */
	K_OBJ,	   /* dictionary */
	K_OBJS,	   /* non-empty list of objects */
	K_REF,	   /* identifier */
	K_REFS,	   /* non-empty list of identifiers */
	K_KCP,	   /* kill_chain_phases */
	K_HASHES,  /* hashes dictionary */
	K_EXTREFS, /* external_references */
	K_GRAN,	   /* granular_markings */
	K_EXT,	   /* extensions */
	K_CONF,	   /* confidence: integer 0-100 */
	K_SKIP,	   /* checked before the pass (type, id, ...) */
};

/* Flags of the type tables. */
#define F_REQ	 0x01 /* required in 2.0 and 2.1 */
#define F_R21	 0x02 /* required in 2.1 only */
#define F_R20	 0x04 /* required in 2.0 only (missing: a warning) */
#define F_STRICT 0x08 /* malformed is an error even though optional */
#define F_MDEF	 0x10 /* refs: marking-definition, collected as markings */

struct prop {
	const char *name;
	unsigned char kind;
	unsigned char flags;
	/* K_REF/K_REFS: allowed object types separated by spaces, "sdo"
	 * (not an SCO, SRO or meta object) or "!sro"; NULL for any. */
	const char *refto;
};

struct val;
typedef void type_check_fn(struct val *);

struct stix_type {
	const char *name;
	int category;
	const struct prop *props; /* ends with a NULL name */
	type_check_fn *check;	  /* rules across properties, or NULL */
};

/* State of one stix_validate call. */
struct val {
	const json_t *obj;
	const struct stix_ctx *ctx;
	struct stix_info *info;
	struct stix_report *rep;
	const struct stix_type *t;
	int spec;
	int category;
};

static void finding(struct val *, int sev, const char *prop, const char *rule,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---------------------------------------------------------------------- */
/* Findings                                                               */

static void
finding(struct val *v, int sev, const char *prop, const char *rule,
    const char *fmt, ...)
{
	struct stix_report *rep = v->rep;
	struct stix_finding *f;
	va_list ap;
	int nerr = 0, pos;

	if (sev == STIX_ERROR)
		rep->nerrors++;
	else
		rep->nwarnings++;
	while (
	    nerr < rep->nfindings && rep->findings[nerr].severity == STIX_ERROR)
		nerr++;
	if (sev == STIX_ERROR) {
		if (nerr == STIX_MAX_FINDINGS)
			return;
		if (rep->nfindings == STIX_MAX_FINDINGS)
			rep->nfindings--; /* an error displaces a warning */
		pos = nerr;
		memmove(&rep->findings[pos + 1], &rep->findings[pos],
		    (size_t)(rep->nfindings - pos) * sizeof(*f));
	} else {
		if (rep->nfindings == STIX_MAX_FINDINGS)
			return;
		pos = rep->nfindings;
	}
	rep->nfindings++;
	f = &rep->findings[pos];
	f->severity = sev;
	snprintf(f->property, sizeof(f->property), "%s", prop);
	snprintf(f->rule, sizeof(f->rule), "%s", rule);
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
}

/* "name[i]" into buf; only called when a finding is written. */
static const char *
pidx(char *buf, size_t len, const char *name, size_t i)
{
	snprintf(buf, len, "%s[%zu]", name, i);
	return buf;
}

void
stix_finding_str(const struct stix_finding *f, char *out, size_t len)
{
	snprintf(out, len, "%s: %s [%s]", f->property, f->message, f->rule);
}

/* ---------------------------------------------------------------------- */
/* Identifiers                                                            */

/* STIX 2.1 3.1: 3-250 of [a-z0-9-], no "--", no leading/trailing '-'. */
static int
type_ok(const char *s, size_t n)
{
	size_t i;

	if (n < 3 || n > 250 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '-') {
			if (i + 1 < n && s[i + 1] == '-')
				return 0;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

/*
 * Parses "<type>--<uuid>" (n bytes).  Returns 0 and sets *tlen, uuid and
 * *upper (upper-case hex seen), or -1.
 */
static int
id_parse(
    const char *s, size_t n, size_t *tlen, unsigned char uuid[16], int *upper)
{
	const char *u = NULL;
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (s[i] == '-' && s[i + 1] == '-') {
			u = s + i + 2;
			break;
		}
	if (u == NULL || !type_ok(s, i) ||
	    uuid_parse(u, (size_t)(s + n - u), uuid, upper) != 0)
		return -1;
	*tlen = i;
	return 0;
}

int
stix_parse_id(
    const char *id, char *type, size_t typelen, unsigned char uuid[16])
{
	unsigned char tmp[16];
	size_t tl;
	int upper;

	if (id == NULL || id_parse(id, strlen(id), &tl, tmp, &upper) != 0)
		return -1;
	if (type != NULL) {
		if (tl + 1 > typelen)
			return -1;
		memcpy(type, id, tl);
		type[tl] = '\0';
	}
	if (uuid != NULL)
		memcpy(uuid, tmp, 16);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Type tables                                                            */

static int is_sco_type(const char *, size_t);
static void check_campaign(struct val *);
static void check_indicator(struct val *);
static void check_location(struct val *);
static void check_malware(struct val *);
static void check_malware_analysis(struct val *);
static void check_observed_data(struct val *);
static void check_opinion(struct val *);
static void check_relationship(struct val *);
static void check_sighting(struct val *);
static void check_artifact(struct val *);
static void check_email_message(struct val *);
static void check_file(struct val *);
static void check_network_traffic(struct val *);
static void check_one_property(struct val *);
static void check_marking_definition(struct val *);
static void check_extension_definition(struct val *);

/* Properties common to every object, looked up after the type's own. */
static const struct prop common_props[] = {
    {"type", K_SKIP, 0, NULL},
    {"id", K_SKIP, 0, NULL},
    {"spec_version", K_SKIP, 0, NULL},
    {"created", K_SKIP, 0, NULL},
    {"modified", K_SKIP, 0, NULL},
    {"created_by_ref", K_REF, F_STRICT, "identity"},
    {"revoked", K_BOOL, F_STRICT, NULL},
    {"labels", K_STRS, F_STRICT, NULL},
    {"confidence", K_CONF, F_STRICT, NULL},
    {"lang", K_STR, F_STRICT, NULL},
    {"external_references", K_EXTREFS, F_STRICT, NULL},
    {"object_marking_refs", K_REFS, F_STRICT | F_MDEF, "marking-definition"},
    {"granular_markings", K_GRAN, F_STRICT, NULL},
    {"extensions", K_EXT, F_STRICT, NULL},
    {"defanged", K_BOOL, 0, NULL},
    {NULL, 0, 0, NULL},
};

#define NAME_REQ                                                               \
	{                                                                      \
		"name", K_STR, F_REQ, NULL                                     \
	}
#define DESCRIPTION                                                            \
	{                                                                      \
		"description", K_STR, 0, NULL                                  \
	}
#define ALIASES                                                                \
	{                                                                      \
		"aliases", K_STRS, 0, NULL                                     \
	}
#define KCP                                                                    \
	{                                                                      \
		"kill_chain_phases", K_KCP, 0, NULL                            \
	}
#define FIRST_SEEN                                                             \
	{                                                                      \
		"first_seen", K_TS, 0, NULL                                    \
	}
#define LAST_SEEN                                                              \
	{                                                                      \
		"last_seen", K_TS, 0, NULL                                     \
	}
#define LABELS_R20                                                             \
	{                                                                      \
		"labels", K_STRS, F_STRICT | F_R20, NULL                       \
	}
#define OBJECT_REFS                                                            \
	{                                                                      \
		"object_refs", K_REFS, F_REQ, NULL                             \
	}
#define END                                                                    \
	{                                                                      \
		NULL, 0, 0, NULL                                               \
	}
#define SCO_ADDR_REF "ipv4-addr ipv6-addr mac-addr domain-name"

static const struct prop p_attack_pattern[] = {
    NAME_REQ, DESCRIPTION, ALIASES, KCP, END};
static const struct prop p_campaign[] = {NAME_REQ, DESCRIPTION, ALIASES,
    FIRST_SEEN, LAST_SEEN, {"objective", K_STR, 0, NULL}, END};
static const struct prop p_course_of_action[] = {NAME_REQ, DESCRIPTION, END};
static const struct prop p_grouping[] = {{"name", K_STR, 0, NULL}, DESCRIPTION,
    {"context", K_STR, F_REQ, NULL}, OBJECT_REFS, END};
static const struct prop p_identity[] = {NAME_REQ, DESCRIPTION,
    {"roles", K_STRS, 0, NULL}, {"identity_class", K_STR, F_R20, NULL},
    {"sectors", K_STRS, 0, NULL}, {"contact_information", K_STR, 0, NULL}, END};
static const struct prop p_incident[] = {NAME_REQ, DESCRIPTION, KCP, END};
static const struct prop p_indicator[] = {{"name", K_STR, 0, NULL}, DESCRIPTION,
    {"indicator_types", K_STRS, 0, NULL}, {"pattern", K_STR, F_REQ, NULL},
    {"pattern_type", K_STR, F_R21, NULL}, {"pattern_version", K_STR, 0, NULL},
    {"valid_from", K_TS, F_REQ, NULL}, {"valid_until", K_TS, 0, NULL}, KCP,
    LABELS_R20, END};
static const struct prop p_infrastructure[] = {NAME_REQ, DESCRIPTION,
    {"infrastructure_types", K_STRS, 0, NULL}, ALIASES, KCP, FIRST_SEEN,
    LAST_SEEN, END};
static const struct prop p_intrusion_set[] = {NAME_REQ, DESCRIPTION, ALIASES,
    FIRST_SEEN, LAST_SEEN, {"goals", K_STRS, 0, NULL},
    {"resource_level", K_STR, 0, NULL}, {"primary_motivation", K_STR, 0, NULL},
    {"secondary_motivations", K_STRS, 0, NULL}, END};
static const struct prop p_location[] = {{"name", K_STR, 0, NULL}, DESCRIPTION,
    {"latitude", K_NUM, 0, NULL}, {"longitude", K_NUM, 0, NULL},
    {"precision", K_NUM, 0, NULL}, {"region", K_STR, 0, NULL},
    {"country", K_STR, 0, NULL}, {"administrative_area", K_STR, 0, NULL},
    {"city", K_STR, 0, NULL}, {"street_address", K_STR, 0, NULL},
    {"postal_code", K_STR, 0, NULL}, END};
static const struct prop p_malware[] = {{"name", K_STR, F_R20, NULL},
    DESCRIPTION, {"malware_types", K_STRS, 0, NULL},
    {"is_family", K_BOOL, F_R21, NULL}, ALIASES, KCP, FIRST_SEEN, LAST_SEEN,
    {"operating_system_refs", K_REFS, 0, "software"},
    {"architecture_execution_envs", K_STRS, 0, NULL},
    {"implementation_languages", K_STRS, 0, NULL},
    {"capabilities", K_STRS, 0, NULL},
    {"sample_refs", K_REFS, 0, "file artifact"}, LABELS_R20, END};
static const struct prop p_malware_analysis[] = {
    {"product", K_STR, F_REQ, NULL}, {"version", K_STR, 0, NULL},
    {"host_vm_ref", K_REF, 0, "software"},
    {"operating_system_ref", K_REF, 0, "software"},
    {"installed_software_refs", K_REFS, 0, "software"},
    {"configuration_version", K_STR, 0, NULL}, {"modules", K_STRS, 0, NULL},
    {"analysis_engine_version", K_STR, 0, NULL},
    {"analysis_definition_version", K_STR, 0, NULL},
    {"submitted", K_TS, 0, NULL}, {"analysis_started", K_TS, 0, NULL},
    {"analysis_ended", K_TS, 0, NULL}, {"result_name", K_STR, 0, NULL},
    {"result", K_STR, 0, NULL}, {"analysis_sco_refs", K_REFS, 0, NULL},
    {"sample_ref", K_REF, 0, "file artifact network-traffic"}, END};
static const struct prop p_note[] = {{"abstract", K_STR, 0, NULL},
    {"content", K_STR, F_REQ, NULL}, {"authors", K_STRS, 0, NULL}, OBJECT_REFS,
    END};
static const struct prop p_observed_data[] = {
    {"first_observed", K_TS, F_REQ, NULL}, {"last_observed", K_TS, F_REQ, NULL},
    {"number_observed", K_INT, F_REQ, NULL}, {"objects", K_OBJ, F_R20, NULL},
    {"object_refs", K_REFS, 0, NULL}, END};
static const struct prop p_opinion[] = {{"explanation", K_STR, 0, NULL},
    {"authors", K_STRS, 0, NULL}, {"opinion", K_STR, F_REQ, NULL}, OBJECT_REFS,
    END};
static const struct prop p_report[] = {NAME_REQ, DESCRIPTION,
    {"report_types", K_STRS, 0, NULL}, {"published", K_TS, F_REQ, NULL},
    OBJECT_REFS, LABELS_R20, END};
static const struct prop p_threat_actor[] = {NAME_REQ, DESCRIPTION,
    {"threat_actor_types", K_STRS, 0, NULL}, ALIASES, FIRST_SEEN, LAST_SEEN,
    {"roles", K_STRS, 0, NULL}, {"goals", K_STRS, 0, NULL},
    {"sophistication", K_STR, 0, NULL}, {"resource_level", K_STR, 0, NULL},
    {"primary_motivation", K_STR, 0, NULL},
    {"secondary_motivations", K_STRS, 0, NULL},
    {"personal_motivations", K_STRS, 0, NULL}, LABELS_R20, END};
static const struct prop p_tool[] = {NAME_REQ, DESCRIPTION,
    {"tool_types", K_STRS, 0, NULL}, ALIASES, KCP,
    {"tool_version", K_STR, 0, NULL}, LABELS_R20, END};
static const struct prop p_vulnerability[] = {NAME_REQ, DESCRIPTION, END};

static const struct prop p_relationship[] = {
    {"relationship_type", K_STR, F_REQ, NULL}, DESCRIPTION,
    {"source_ref", K_REF, F_REQ, "!sro"}, {"target_ref", K_REF, F_REQ, "!sro"},
    {"start_time", K_TS, 0, NULL}, {"stop_time", K_TS, 0, NULL}, END};
static const struct prop p_sighting[] = {DESCRIPTION, FIRST_SEEN, LAST_SEEN,
    {"count", K_INT, 0, NULL}, {"sighting_of_ref", K_REF, F_REQ, "sdo"},
    {"observed_data_refs", K_REFS, 0, "observed-data"},
    {"where_sighted_refs", K_REFS, 0, "identity location"},
    {"summary", K_BOOL, 0, NULL}, END};

static const struct prop p_artifact[] = {{"mime_type", K_STR, 0, NULL},
    {"payload_bin", K_STR, 0, NULL}, {"url", K_STR, 0, NULL},
    {"hashes", K_HASHES, 0, NULL}, {"encryption_algorithm", K_STR, 0, NULL},
    {"decryption_key", K_STR, 0, NULL}, END};
static const struct prop p_autonomous_system[] = {
    {"number", K_INT, F_REQ, NULL}, {"name", K_STR, 0, NULL},
    {"rir", K_STR, 0, NULL}, END};
static const struct prop p_directory[] = {{"path", K_STR, F_REQ, NULL},
    {"path_enc", K_STR, 0, NULL}, {"ctime", K_TS, 0, NULL},
    {"mtime", K_TS, 0, NULL}, {"atime", K_TS, 0, NULL},
    {"contains_refs", K_REFS, 0, "file directory"}, END};
static const struct prop p_domain_name[] = {{"value", K_STR, F_REQ, NULL},
    {"resolves_to_refs", K_REFS, 0, "ipv4-addr ipv6-addr domain-name"}, END};
static const struct prop p_email_addr[] = {{"value", K_STR, F_REQ, NULL},
    {"display_name", K_STR, 0, NULL},
    {"belongs_to_ref", K_REF, 0, "user-account"}, END};
static const struct prop p_email_message[] = {
    {"is_multipart", K_BOOL, F_REQ, NULL}, {"date", K_TS, 0, NULL},
    {"content_type", K_STR, 0, NULL}, {"from_ref", K_REF, 0, "email-addr"},
    {"sender_ref", K_REF, 0, "email-addr"},
    {"to_refs", K_REFS, 0, "email-addr"}, {"cc_refs", K_REFS, 0, "email-addr"},
    {"bcc_refs", K_REFS, 0, "email-addr"}, {"message_id", K_STR, 0, NULL},
    {"subject", K_STR, 0, NULL}, {"received_lines", K_STRS, 0, NULL},
    {"additional_header_fields", K_OBJ, 0, NULL}, {"body", K_STR, 0, NULL},
    {"body_multipart", K_OBJS, 0, NULL},
    {"raw_email_ref", K_REF, 0, "artifact"}, END};
static const struct prop p_file[] = {{"hashes", K_HASHES, 0, NULL},
    {"size", K_INT, 0, NULL}, {"name", K_STR, 0, NULL},
    {"name_enc", K_STR, 0, NULL}, {"magic_number_hex", K_STR, 0, NULL},
    {"mime_type", K_STR, 0, NULL}, {"ctime", K_TS, 0, NULL},
    {"mtime", K_TS, 0, NULL}, {"atime", K_TS, 0, NULL},
    {"parent_directory_ref", K_REF, 0, "directory"},
    {"contains_refs", K_REFS, 0, NULL}, {"content_ref", K_REF, 0, "artifact"},
    END};
static const struct prop p_ipv4_addr[] = {{"value", K_STR, F_REQ, NULL},
    {"resolves_to_refs", K_REFS, 0, "mac-addr"},
    {"belongs_to_refs", K_REFS, 0, "autonomous-system"}, END};
static const struct prop p_mac_addr[] = {{"value", K_STR, F_REQ, NULL}, END};
static const struct prop p_mutex[] = {{"name", K_STR, F_REQ, NULL}, END};
static const struct prop p_network_traffic[] = {{"start", K_TS, 0, NULL},
    {"end", K_TS, 0, NULL}, {"is_active", K_BOOL, 0, NULL},
    {"src_ref", K_REF, 0, SCO_ADDR_REF}, {"dst_ref", K_REF, 0, SCO_ADDR_REF},
    {"src_port", K_INT, 0, NULL}, {"dst_port", K_INT, 0, NULL},
    {"protocols", K_STRS, F_REQ, NULL}, {"src_byte_count", K_INT, 0, NULL},
    {"dst_byte_count", K_INT, 0, NULL}, {"src_packets", K_INT, 0, NULL},
    {"dst_packets", K_INT, 0, NULL}, {"ipfix", K_OBJ, 0, NULL},
    {"src_payload_ref", K_REF, 0, "artifact"},
    {"dst_payload_ref", K_REF, 0, "artifact"},
    {"encapsulates_refs", K_REFS, 0, "network-traffic"},
    {"encapsulated_by_ref", K_REF, 0, "network-traffic"}, END};
static const struct prop p_process[] = {{"is_hidden", K_BOOL, 0, NULL},
    {"pid", K_INT, 0, NULL}, {"created_time", K_TS, 0, NULL},
    {"cwd", K_STR, 0, NULL}, {"command_line", K_STR, 0, NULL},
    {"environment_variables", K_OBJ, 0, NULL},
    {"opened_connection_refs", K_REFS, 0, "network-traffic"},
    {"creator_user_ref", K_REF, 0, "user-account"},
    {"image_ref", K_REF, 0, "file"}, {"parent_ref", K_REF, 0, "process"},
    {"child_refs", K_REFS, 0, "process"}, END};
static const struct prop p_software[] = {{"name", K_STR, F_REQ, NULL},
    {"cpe", K_STR, 0, NULL}, {"swid", K_STR, 0, NULL},
    {"languages", K_STRS, 0, NULL}, {"vendor", K_STR, 0, NULL},
    {"version", K_STR, 0, NULL}, END};
static const struct prop p_url[] = {{"value", K_STR, F_REQ, NULL}, END};
static const struct prop p_user_account[] = {{"user_id", K_STR, 0, NULL},
    {"credential", K_STR, 0, NULL}, {"account_login", K_STR, 0, NULL},
    {"account_type", K_STR, 0, NULL}, {"display_name", K_STR, 0, NULL},
    {"is_service_account", K_BOOL, 0, NULL}, {"is_privileged", K_BOOL, 0, NULL},
    {"can_escalate_privs", K_BOOL, 0, NULL}, {"is_disabled", K_BOOL, 0, NULL},
    {"account_created", K_TS, 0, NULL}, {"account_expires", K_TS, 0, NULL},
    {"credential_last_changed", K_TS, 0, NULL},
    {"account_first_login", K_TS, 0, NULL},
    {"account_last_login", K_TS, 0, NULL}, END};
static const struct prop p_windows_registry_key[] = {{"key", K_STR, 0, NULL},
    {"values", K_OBJS, 0, NULL}, {"modified_time", K_TS, 0, NULL},
    {"creator_user_ref", K_REF, 0, "user-account"},
    {"number_of_subkeys", K_INT, 0, NULL}, END};
static const struct prop p_x509_certificate[] = {
    {"is_self_signed", K_BOOL, 0, NULL}, {"hashes", K_HASHES, 0, NULL},
    {"version", K_STR, 0, NULL}, {"serial_number", K_STR, 0, NULL},
    {"signature_algorithm", K_STR, 0, NULL}, {"issuer", K_STR, 0, NULL},
    {"validity_not_before", K_TS, 0, NULL},
    {"validity_not_after", K_TS, 0, NULL}, {"subject", K_STR, 0, NULL},
    {"subject_public_key_algorithm", K_STR, 0, NULL},
    {"subject_public_key_modulus", K_STR, 0, NULL},
    {"subject_public_key_exponent", K_INT, 0, NULL},
    {"x509_v3_extensions", K_OBJ, 0, NULL}, END};

static const struct prop p_marking_definition[] = {{"name", K_STR, 0, NULL},
    {"definition_type", K_STR, F_R20, NULL}, {"definition", K_OBJ, F_R20, NULL},
    END};
static const struct prop p_language_content[] = {
    {"object_ref", K_REF, F_REQ, NULL}, {"object_modified", K_TS, 0, NULL},
    {"contents", K_OBJ, F_REQ, NULL}, END};
static const struct prop p_extension_definition[] = {
    {"created_by_ref", K_REF, F_REQ | F_STRICT, "identity"}, NAME_REQ,
    DESCRIPTION, {"schema", K_STR, F_REQ, NULL},
    {"version", K_STR, F_REQ, NULL}, {"extension_types", K_STRS, F_REQ, NULL},
    {"extension_properties", K_STRS, 0, NULL}, END};

/* Sorted by name: looked up by binary search. */
static const struct stix_type types[] = {
    {"artifact", STIX_SCO, p_artifact, check_artifact},
    {"attack-pattern", STIX_SDO, p_attack_pattern, NULL},
    {"autonomous-system", STIX_SCO, p_autonomous_system, NULL},
    {"campaign", STIX_SDO, p_campaign, check_campaign},
    {"course-of-action", STIX_SDO, p_course_of_action, NULL},
    {"directory", STIX_SCO, p_directory, NULL},
    {"domain-name", STIX_SCO, p_domain_name, NULL},
    {"email-addr", STIX_SCO, p_email_addr, NULL},
    {"email-message", STIX_SCO, p_email_message, check_email_message},
    {"extension-definition", STIX_META, p_extension_definition,
	check_extension_definition},
    {"file", STIX_SCO, p_file, check_file},
    {"grouping", STIX_SDO, p_grouping, NULL},
    {"identity", STIX_SDO, p_identity, NULL},
    {"incident", STIX_SDO, p_incident, NULL},
    {"indicator", STIX_SDO, p_indicator, check_indicator},
    {"infrastructure", STIX_SDO, p_infrastructure, check_campaign},
    {"intrusion-set", STIX_SDO, p_intrusion_set, check_campaign},
    {"ipv4-addr", STIX_SCO, p_ipv4_addr, NULL},
    {"ipv6-addr", STIX_SCO, p_ipv4_addr, NULL},
    {"language-content", STIX_META, p_language_content, NULL},
    {"location", STIX_SDO, p_location, check_location},
    {"mac-addr", STIX_SCO, p_mac_addr, NULL},
    {"malware", STIX_SDO, p_malware, check_malware},
    {"malware-analysis", STIX_SDO, p_malware_analysis, check_malware_analysis},
    {"marking-definition", STIX_META, p_marking_definition,
	check_marking_definition},
    {"mutex", STIX_SCO, p_mutex, NULL},
    {"network-traffic", STIX_SCO, p_network_traffic, check_network_traffic},
    {"note", STIX_SDO, p_note, NULL},
    {"observed-data", STIX_SDO, p_observed_data, check_observed_data},
    {"opinion", STIX_SDO, p_opinion, check_opinion},
    {"process", STIX_SCO, p_process, check_one_property},
    {"relationship", STIX_SRO, p_relationship, check_relationship},
    {"report", STIX_SDO, p_report, NULL},
    {"sighting", STIX_SRO, p_sighting, check_sighting},
    {"software", STIX_SCO, p_software, NULL},
    {"threat-actor", STIX_SDO, p_threat_actor, check_campaign},
    {"tool", STIX_SDO, p_tool, NULL},
    {"url", STIX_SCO, p_url, NULL},
    {"user-account", STIX_SCO, p_user_account, check_one_property},
    {"vulnerability", STIX_SDO, p_vulnerability, NULL},
    {"windows-registry-key", STIX_SCO, p_windows_registry_key,
	check_one_property},
    {"x509-certificate", STIX_SCO, p_x509_certificate, check_one_property},
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

static const struct stix_type *
type_find(const char *s, size_t n)
{
	size_t lo = 0, hi = NTYPES;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *name = types[mid].name;
		int c = strncmp(s, name, n);

		if (c == 0)
			c = name[n] == '\0' ? 0 : -1;
		if (c == 0)
			return &types[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int
is_sco_type(const char *s, size_t n)
{
	const struct stix_type *t = type_find(s, n);

	return t != NULL && t->category == STIX_SCO;
}

/* ---------------------------------------------------------------------- */
/* Property checks                                                        */

static const char *
kind_name(int kind)
{
	switch (kind) {
	case K_STR:
		return "a string";
	case K_BOOL:
		return "a boolean";
	case K_INT:
	case K_CONF:
		return "an integer";
	case K_NUM:
		return "a number";
	case K_TS:
		return "a timestamp string";
	case K_STRS:
		return "a non-empty list of strings";
	case K_LIST:
		return "a non-empty list";
	case K_OBJ:
	case K_HASHES:
	case K_EXT:
		return "a dictionary";
	case K_OBJS:
	case K_KCP:
	case K_EXTREFS:
	case K_GRAN:
		return "a non-empty list of objects";
	case K_REF:
		return "an identifier";
	case K_REFS:
		return "a non-empty list of identifiers";
	default:
		return "valid";
	}
}

static int
required(const struct val *v, const struct prop *p)
{
	return (p->flags & F_REQ) || (v->spec == 21 && (p->flags & F_R21)) ||
	    (v->spec == 20 && (p->flags & F_R20));
}

/* Severity of a malformed value of `p`. */
static int
bad_sev(const struct val *v, const struct prop *p)
{
	if (p->flags & (F_STRICT | F_REQ))
		return STIX_ERROR;
	if (v->spec == 21 && (p->flags & F_R21))
		return STIX_ERROR;
	if ((p->kind == K_TS || p->kind == K_REF || p->kind == K_REFS) &&
	    v->category != STIX_SCO)
		return STIX_ERROR;
	return STIX_WARNING;
}

/*
 * Checks timestamp `j`; returns 0 and sets *us when it can be used.  A
 * "+00:00" zone (Python's isoformat) is UTC written another way: a
 * warning.  Other offsets are not UTC and text order would lie: `sev`.
 */
static int
check_ts(struct val *v, const char *prop, const json_t *j, int sev, int64_t *us)
{
	const char *s = json_string_value(j);
	size_t n;
	int r;

	if (s == NULL) {
		finding(v, sev, prop, "timestamp", "not a timestamp string");
		return -1;
	}
	n = json_string_length(j);
	r = tstamp_parse(s, n, us);
	if (r == TSTAMP_OK)
		return 0;
	if (r == TSTAMP_ENOTUTC && n >= 6 &&
	    (memcmp(s + n - 6, "+00:00", 6) == 0 ||
		memcmp(s + n - 6, "-00:00", 6) == 0)) {
		finding(v, STIX_WARNING, prop, "timestamp-zone",
		    "UTC written as an offset instead of \"Z\"");
		return 0;
	}
	finding(v, sev, prop, "timestamp",
	    r == TSTAMP_ENOTUTC ? "not in UTC (must end in \"Z\")"
		: r == TSTAMP_ERANGE
		? "a field of the timestamp is out of range"
		: "not an RFC 3339 timestamp");
	return -1;
}

/* Reads a timestamp property again for a rule across properties. */
static int
get_ts(const struct val *v, const char *name, int64_t *us)
{
	const json_t *j = json_object_get(v->obj, name);
	const char *s = json_string_value(j);
	int r;

	if (s == NULL)
		return -1;
	r = tstamp_parse(s, json_string_length(j), us);
	return r == TSTAMP_OK || r == TSTAMP_ENOTUTC ? 0 : -1;
}

/* 1 if an id of type (t, tl) is allowed by `refto`. */
static int
ref_kind_ok(const char *t, size_t tl, const char *refto)
{
	const char *p = refto;

	if (refto == NULL)
		return 1;
	if (strcmp(refto, "!sro") == 0)
		return !((tl == 12 && memcmp(t, "relationship", 12) == 0) ||
		    (tl == 8 && memcmp(t, "sighting", 8) == 0) ||
		    (tl == 18 && memcmp(t, "marking-definition", 18) == 0));
	if (strcmp(refto, "sdo") == 0) {
		const struct stix_type *ty = type_find(t, tl);

		return ty == NULL || ty->category == STIX_SDO;
	}
	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n == tl && memcmp(p, t, n) == 0)
			return 1;
		p += n;
		while (*p == ' ')
			p++;
	}
	return 0;
}

static void
note_unresolved(struct stix_info *info, const char *id)
{
	char type[32];
	unsigned char u[16];
	int i;

	info->unresolved = 1;
	if (stix_parse_id(id, type, sizeof(type), u) == -1)
		return;
	for (i = 0; i < info->nunres; i++)
		if (memcmp(info->unres[i], u, 16) == 0)
			return;
	if (info->nunres < STIX_MAX_UNRES)
		memcpy(info->unres[info->nunres++], u, 16);
}

static void
apply_marking(struct val *v, const char *id)
{
	struct marking_class mc;
	enum tlp t = marking_tlp_of_id(id);

	if (t != TLP_NONE) {
		if (t > v->info->marking.tlp)
			v->info->marking.tlp = t;
		return;
	}
	/* Not a TLP id: a releasability marking or a producer's own
	 * definition the caller knows.  One it does not know (not
	 * published yet) is listed: the hub then holds the object at its
	 * producer's default level at least, until it is. */
	if (v->ctx != NULL && v->ctx->lookup != NULL &&
	    v->ctx->lookup(id, &mc, v->ctx->lookup_arg) == 0) {
		marking_merge(&v->info->marking, &mc);
		return;
	}
	note_unresolved(v->info, id);
}

/*
 * Checks one reference `r` of property `prop` (already indexed).  An
 * empty string is the common "no value" of producers that serialise
 * null as "": a warning unless the property is a required single
 * reference.
 */
static void
check_ref(struct val *v, const char *prop, const json_t *r,
    const struct prop *p, int single)
{
	const char *s = json_string_value(r);
	unsigned char u[16];
	size_t tl;
	int upper;

	if (s == NULL) {
		finding(v, bad_sev(v, p), prop, "type",
		    "a reference must be an identifier string");
		return;
	}
	if (json_string_length(r) == 0) {
		if (single && required(v, p))
			finding(v, STIX_ERROR, prop, "required",
			    "required reference is empty");
		else if (p->flags & F_MDEF)
			finding(v, STIX_ERROR, prop, "id-format",
			    "empty marking reference");
		else
			finding(v, STIX_WARNING, prop, "empty-reference",
			    "empty optional reference");
		return;
	}
	if (id_parse(s, json_string_length(r), &tl, u, &upper) != 0) {
		finding(v, bad_sev(v, p), prop, "id-format",
		    "not an identifier (<type>--<UUID>)");
		return;
	}
	if (upper)
		finding(v, STIX_WARNING, prop, "uuid-case",
		    "UUID written in upper case");
	if (!ref_kind_ok(s, tl, p->refto)) {
		/* The hub relies on who created an object and on its
		 * markings; other reference kinds are descriptive. */
		int sev = (p->flags & F_STRICT) ? STIX_ERROR : STIX_WARNING;

		finding(v, sev, prop, "ref-type", "must refer to %s%s",
		    strcmp(p->refto, "sdo") == 0	? "a domain object"
			: strcmp(p->refto, "!sro") == 0 ? "an SDO or SCO"
							: p->refto,
		    strchr(p->refto, ' ') != NULL ? " (one of)" : "");
		return;
	}
	if (p->flags & F_MDEF)
		apply_marking(v, s);
}

static void
check_refs(
    struct val *v, const char *name, const json_t *j, const struct prop *p)
{
	char buf[64];
	const json_t *e;
	size_t i;

	if (!json_is_array(j)) {
		finding(v, bad_sev(v, p), name, "type", "must be %s",
		    kind_name(K_REFS));
		return;
	}
	if (json_array_size(j) == 0) {
		finding(v, required(v, p) ? STIX_ERROR : STIX_WARNING, name,
		    required(v, p) ? "required" : "empty-list",
		    "list is empty");
		return;
	}
	json_array_foreach(j, i, e)
	{
		/* The cheap test first: most references are well formed. */
		const char *s = json_string_value(e);
		size_t n = json_string_length(e);
		unsigned char u[16];
		size_t tl;
		int upper;

		if (s != NULL && n > 0 && id_parse(s, n, &tl, u, &upper) == 0 &&
		    !upper && ref_kind_ok(s, tl, p->refto)) {
			if (p->flags & F_MDEF)
				apply_marking(v, s);
			continue;
		}
		check_ref(v, pidx(buf, sizeof(buf), name, i), e, p, 0);
	}
}

static void
check_kcp(
    struct val *v, const char *name, const json_t *j, const struct prop *p)
{
	char buf[64];
	const json_t *e;
	size_t i;

	if (!json_is_array(j) || json_array_size(j) == 0) {
		finding(v, bad_sev(v, p), name, "type", "must be %s",
		    kind_name(K_KCP));
		return;
	}
	json_array_foreach(j, i, e)
	{
		if (!json_is_string(json_object_get(e, "kill_chain_name")) ||
		    !json_is_string(json_object_get(e, "phase_name")))
			finding(v, bad_sev(v, p),
			    pidx(buf, sizeof(buf), name, i), "type",
			    "needs kill_chain_name and phase_name");
	}
}

/* Hex digits of a hash algorithm of the hashing-algorithm-ov, any
 * spelling ("SHA-256", "SHA256", "sha256"); 0 when not fixed or unknown. */
static size_t
hash_hex_len(const char *alg)
{
	static const struct {
		const char *name;
		size_t len;
	} algs[] = {
	    {"MD5", 32},
	    {"SHA1", 40},
	    {"SHA256", 64},
	    {"SHA512", 128},
	    {"SHA3256", 64},
	    {"SHA3512", 128},
	};
	char norm[16];
	size_t i, n = 0;

	for (; *alg != '\0' && n + 1 < sizeof(norm); alg++)
		if (*alg != '-' && *alg != '_')
			norm[n++] =
			    (char)(*alg >= 'a' && *alg <= 'z' ? *alg - 'a' + 'A'
							      : *alg);
	if (*alg != '\0')
		return 0;
	norm[n] = '\0';
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(norm, algs[i].name) == 0)
			return algs[i].len;
	return 0;
}

static void
check_hashes(
    struct val *v, const char *name, const json_t *j, const struct prop *p)
{
	const char *k;
	const json_t *h;

	if (!json_is_object(j) || json_object_size(j) == 0) {
		finding(v, bad_sev(v, p), name, "type",
		    "must be a non-empty dictionary");
		return;
	}
	json_object_foreach((json_t *)(uintptr_t)j, k, h)
	{
		char buf[96];
		size_t i, n, want;

		if (!json_is_string(h)) {
			finding(v, bad_sev(v, p), name, "type",
			    "hash values must be strings");
			return;
		}
		if ((want = hash_hex_len(k)) == 0)
			continue;
		n = json_string_length(h);
		for (i = 0; i < n && hex_digit(json_string_value(h)[i]) >= 0;
		     i++)
			;
		if (n != want || i != n) {
			snprintf(buf, sizeof(buf), "%s.%s", name, k);
			finding(v, STIX_WARNING, buf, "hash-format",
			    "not %zu hexadecimal digits", want);
		}
	}
}

static void
check_extrefs(
    struct val *v, const char *name, const json_t *j, const struct prop *p)
{
	char buf[64];
	const json_t *e;
	size_t i;

	if (!json_is_array(j)) {
		finding(v, bad_sev(v, p), name, "type", "must be %s",
		    kind_name(K_EXTREFS));
		return;
	}
	if (json_array_size(j) == 0) {
		finding(v, STIX_WARNING, name, "empty-list", "list is empty");
		return;
	}
	json_array_foreach(j, i, e)
	{
		const json_t *sn = json_object_get(e, "source_name");
		const json_t *url = json_object_get(e, "url");
		const json_t *desc = json_object_get(e, "description");
		const json_t *xid = json_object_get(e, "external_id");
		const json_t *h = json_object_get(e, "hashes");

		if (!json_is_object(e)) {
			finding(v, STIX_ERROR, pidx(buf, sizeof(buf), name, i),
			    "type", "an external reference must be an object");
			continue;
		}
		/* Descriptive: the hub and access control do not depend on
		 * it, so a malformed entry is worth a warning, no more. */
		if (!json_is_string(sn)) {
			finding(v, STIX_WARNING,
			    pidx(buf, sizeof(buf), name, i), "external-ref",
			    "source_name is missing or not a string");
			continue;
		}
		if ((url != NULL && !json_is_string(url)) ||
		    (desc != NULL && !json_is_string(desc)) ||
		    (xid != NULL && !json_is_string(xid)) ||
		    (h != NULL && !json_is_object(h)))
			finding(v, STIX_WARNING,
			    pidx(buf, sizeof(buf), name, i), "external-ref",
			    "url, description and external_id must be "
			    "strings, hashes a dictionary");
		else if (url == NULL && desc == NULL && xid == NULL)
			finding(v, STIX_WARNING,
			    pidx(buf, sizeof(buf), name, i), "external-ref",
			    "has none of description, url, external_id");
	}
}

/* A granular marking selector must name a property the object has. */
static int
selector_ok(const json_t *obj, const char *sel)
{
	size_t n = strcspn(sel, ".");

	return n > 0 && json_object_getn(obj, sel, n) != NULL;
}

static void
check_gran(struct val *v, const char *name, const json_t *j)
{
	static const struct prop mref = {
	    "marking_ref", K_REF, F_STRICT | F_MDEF, "marking-definition"};
	char buf[64], sub[96];
	const json_t *e, *sels, *ref, *lang, *s;
	size_t i, k;

	if (!json_is_array(j)) {
		finding(v, STIX_ERROR, name, "type", "must be %s",
		    kind_name(K_GRAN));
		return;
	}
	if (json_array_size(j) == 0) {
		finding(v, STIX_WARNING, name, "empty-list", "list is empty");
		return;
	}
	json_array_foreach(j, i, e)
	{
		pidx(buf, sizeof(buf), name, i);
		if (!json_is_object(e)) {
			finding(v, STIX_ERROR, buf, "granular-marking",
			    "a granular marking must be an object");
			continue;
		}
		sels = json_object_get(e, "selectors");
		ref = json_object_get(e, "marking_ref");
		lang = json_object_get(e, "lang");
		if (!json_is_array(sels) || json_array_size(sels) == 0) {
			finding(v, STIX_ERROR, buf, "granular-marking",
			    "selectors must be a non-empty list");
		} else {
			json_array_foreach(sels, k, s)
			{
				if (!json_is_string(s) ||
				    json_string_length(s) == 0)
					finding(v, STIX_ERROR, buf,
					    "granular-marking",
					    "selector %zu is not a string", k);
				else if (!selector_ok(
					     v->obj, json_string_value(s)))
					finding(v, STIX_WARNING, buf,
					    "selector",
					    "selector \"%.60s\" names no "
					    "property of the object",
					    json_string_value(s));
			}
		}
		if ((ref == NULL) == (lang == NULL)) {
			finding(v, STIX_ERROR, buf, "granular-marking",
			    "needs exactly one of marking_ref and lang");
			continue;
		}
		if (lang != NULL) {
			if (!json_is_string(lang))
				finding(v, STIX_ERROR, buf, "granular-marking",
				    "lang must be a string");
			continue;
		}
		snprintf(sub, sizeof(sub), "%s.marking_ref", buf);
		check_ref(v, sub, ref, &mref, 1);
	}
}

static int
is_known_ext_name(const char *k)
{
	static const char *const names[] = {"archive-ext", "http-request-ext",
	    "icmp-ext", "ntfs-ext", "pdf-ext", "raster-image-ext", "socket-ext",
	    "tcp-ext", "unix-account-ext", "windows-pebinary-ext",
	    "windows-process-ext", "windows-service-ext"};
	size_t i, n = strlen(k);

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(k, names[i]) == 0)
			return 1;
	/* custom extensions: "x-..." in 2.0, any "...-ext" name */
	return strncmp(k, "x-", 2) == 0 ||
	    (n > 4 && strcmp(k + n - 4, "-ext") == 0);
}

static void
check_ext(struct val *v, const char *name, const json_t *j)
{
	static const char *const etypes[] = {"new-sdo", "new-sco", "new-sro",
	    "property-extension", "toplevel-property-extension"};
	char buf[96];
	const char *k;
	const json_t *e, *et;
	unsigned char u[16];
	size_t tl, i;
	int upper;

	if (!json_is_object(j)) {
		finding(v, STIX_ERROR, name, "type", "must be a dictionary");
		return;
	}
	if (json_object_size(j) == 0) {
		finding(
		    v, STIX_WARNING, name, "empty-list", "dictionary is empty");
		return;
	}
	json_object_foreach((json_t *)(uintptr_t)j, k, e)
	{
		snprintf(buf, sizeof(buf), "%s.%s", name, k);
		if (!json_is_object(e)) {
			finding(v, STIX_ERROR, buf, "type",
			    "an extension must be an object");
			continue;
		}
		if (strncmp(k, "extension-definition--", 22) != 0) {
			if (!is_known_ext_name(k))
				finding(v, STIX_WARNING, buf, "extension",
				    "neither an extension-definition id nor "
				    "a predefined extension name");
			continue;
		}
		if (id_parse(k, strlen(k), &tl, u, &upper) != 0) {
			finding(v, STIX_WARNING, buf, "id-format",
			    "malformed extension-definition id");
			continue;
		}
		et = json_object_get(e, "extension_type");
		if (et == NULL)
			continue;
		for (i = 0; i < sizeof(etypes) / sizeof(etypes[0]); i++)
			if (json_is_string(et) &&
			    strcmp(json_string_value(et), etypes[i]) == 0)
				break;
		if (i == sizeof(etypes) / sizeof(etypes[0]))
			finding(v, STIX_WARNING, buf, "vocab",
			    "unknown extension_type");
	}
}

/* Checks member `name` = `j` against table row `p`. */
static void
check_prop(
    struct val *v, const char *name, const json_t *j, const struct prop *p)
{
	int64_t us;
	int ok = 1;

	switch (p->kind) {
	case K_ANY:
	case K_SKIP:
		return;
	case K_STR:
		ok = json_is_string(j);
		break;
	case K_BOOL:
		ok = json_is_boolean(j);
		break;
	case K_INT:
		ok = json_is_integer(j);
		break;
	case K_NUM:
		ok = json_is_number(j);
		break;
	case K_CONF:
		if (!json_is_integer(j) || json_integer_value(j) < 0 ||
		    json_integer_value(j) > 100) {
			finding(v, bad_sev(v, p), name, "range",
			    "must be an integer from 0 to 100");
			return;
		}
		return;
	case K_TS:
		check_ts(v, name, j, bad_sev(v, p), &us);
		return;
	case K_STRS:
	case K_LIST:
		if (!json_is_array(j)) {
			ok = 0;
			break;
		}
		if (json_array_size(j) == 0) {
			finding(v, required(v, p) ? STIX_ERROR : STIX_WARNING,
			    name, required(v, p) ? "required" : "empty-list",
			    "list is empty");
			return;
		}
		if (p->kind == K_STRS) {
			const json_t *e;
			size_t i;

			json_array_foreach(j, i, e)
			{
				if (!json_is_string(e)) {
					ok = 0;
					break;
				}
			}
		}
		break;
	case K_OBJ:
		ok = json_is_object(j);
		break;
	case K_OBJS:
		if (!json_is_array(j) || json_array_size(j) == 0) {
			ok = 0;
		} else {
			const json_t *e;
			size_t i;

			json_array_foreach(j, i, e)
			{
				if (!json_is_object(e))
					ok = 0;
			}
		}
		break;
	case K_REF:
		check_ref(v, name, j, p, 1);
		return;
	case K_REFS:
		check_refs(v, name, j, p);
		return;
	case K_KCP:
		check_kcp(v, name, j, p);
		return;
	case K_HASHES:
		check_hashes(v, name, j, p);
		return;
	case K_EXTREFS:
		check_extrefs(v, name, j, p);
		return;
	case K_GRAN:
		check_gran(v, name, j);
		return;
	case K_EXT:
		check_ext(v, name, j);
		return;
	}
	if (!ok)
		finding(v, bad_sev(v, p), name, "type", "must be %s",
		    kind_name(p->kind));
}

/* A custom property: only the reserved _ref/_refs suffixes say a type. */
static void
check_custom(struct val *v, const char *name, size_t n, const json_t *j)
{
	static const struct prop anyref = {"", K_REF, 0, NULL};

	if (n > 4 && memcmp(name + n - 4, "_ref", 4) == 0)
		check_ref(v, name, j, &anyref, 1);
	else if (n > 5 && memcmp(name + n - 5, "_refs", 5) == 0) {
		if (json_is_array(j) && json_array_size(j) == 0)
			finding(v, STIX_WARNING, name, "empty-list",
			    "list is empty");
		else
			check_refs(v, name, j, &anyref);
	}
}

/* ---------------------------------------------------------------------- */
/* Rules across properties, one function per type                        */

/* later >= earlier (or > when strict); `sev` when not. */
static void
order(struct val *v, const char *early, const char *late, int strict, int sev,
    const char *rule)
{
	int64_t a, b;

	if (get_ts(v, early, &a) != 0 || get_ts(v, late, &b) != 0)
		return;
	if (b < a || (strict && b == a))
		finding(v, sev, late, rule, "must be %s %s",
		    strict ? "later than" : "no earlier than", early);
}

static void
check_campaign(struct val *v)
{
	order(v, "first_seen", "last_seen", 0, STIX_WARNING, "time-order");
}

static void
check_indicator(struct val *v)
{
	const json_t *pt = json_object_get(v->obj, "pattern_type");
	const json_t *pat = json_object_get(v->obj, "pattern");
	char err[112];

	order(
	    v, "valid_from", "valid_until", 1, STIX_ERROR, "valid-until-order");
	if (!json_is_string(pat))
		return;
	/* STIX 2.0 has no pattern_type: its patterns are STIX patterns. */
	if (pt == NULL ? v->spec == 20
		       : json_is_string(pt) &&
		    strcasecmp(json_string_value(pt), "stix") == 0) {
		err[0] = '\0';
		if (v->ctx != NULL && v->ctx->keep_pattern) {
			/* the caller indexes its observables: keep the tree */
			pattern_free(v->info->pattern);
			v->info->pattern = pattern_parse(json_string_value(pat),
			    json_string_length(pat), err, sizeof(err));
			if (v->info->pattern == NULL)
				finding(v, STIX_ERROR, "pattern",
				    "pattern-syntax", "not a STIX pattern: %s",
				    err);
		} else if (pattern_check(json_string_value(pat),
			       json_string_length(pat), err, sizeof(err)) != 0)
			finding(v, STIX_ERROR, "pattern", "pattern-syntax",
			    "not a STIX pattern: %s", err);
	}
}

static void
check_location(struct val *v)
{
	const json_t *lat = json_object_get(v->obj, "latitude");
	const json_t *lon = json_object_get(v->obj, "longitude");
	const json_t *cc = json_object_get(v->obj, "country");
	const char *s;

	if ((lat == NULL) != (lon == NULL))
		finding(v, STIX_ERROR, lat ? "longitude" : "latitude",
		    "required", "latitude and longitude go together");
	if (lat == NULL && lon == NULL &&
	    json_object_get(v->obj, "region") == NULL && cc == NULL)
		finding(v, STIX_ERROR, "region", "required",
		    "a location needs region, country or latitude and "
		    "longitude");
	if (json_is_number(lat) &&
	    (json_number_value(lat) < -90 || json_number_value(lat) > 90))
		finding(v, STIX_WARNING, "latitude", "range",
		    "must be from -90.0 to 90.0");
	if (json_is_number(lon) &&
	    (json_number_value(lon) < -180 || json_number_value(lon) > 180))
		finding(v, STIX_WARNING, "longitude", "range",
		    "must be from -180.0 to 180.0");
	if ((s = json_string_value(cc)) != NULL &&
	    !(strlen(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' &&
		s[1] <= 'Z'))
		finding(v, STIX_WARNING, "country", "vocab",
		    "should be an ISO 3166-1 alpha-2 code");
}

static void
check_malware(struct val *v)
{
	const json_t *fam = json_object_get(v->obj, "is_family");

	if (v->spec == 21 && json_is_true(fam) &&
	    json_object_get(v->obj, "name") == NULL)
		finding(v, STIX_ERROR, "name", "required",
		    "required when is_family is true");
	check_campaign(v);
}

static void
check_malware_analysis(struct val *v)
{
	if (json_object_get(v->obj, "result") == NULL &&
	    json_object_get(v->obj, "analysis_sco_refs") == NULL)
		finding(v, STIX_ERROR, "result", "required",
		    "needs result or analysis_sco_refs");
	order(v, "analysis_started", "analysis_ended", 0, STIX_WARNING,
	    "time-order");
}

static void
check_observed_data(struct val *v)
{
	const json_t *n = json_object_get(v->obj, "number_observed");
	const json_t *objs = json_object_get(v->obj, "objects");
	const json_t *refs = json_object_get(v->obj, "object_refs");

	order(v, "first_observed", "last_observed", 0, STIX_WARNING,
	    "time-order");
	if (json_is_integer(n) &&
	    (json_integer_value(n) < 1 || json_integer_value(n) > 999999999))
		finding(v, STIX_ERROR, "number_observed", "range",
		    "must be from 1 to 999,999,999");
	if (v->spec == 21 && objs == NULL && refs == NULL)
		finding(v, STIX_ERROR, "object_refs", "required",
		    "needs object_refs (or the deprecated objects)");
	else if (objs != NULL && refs != NULL)
		finding(v, STIX_WARNING, "objects", "exclusive",
		    "objects and object_refs must not both be present");
}

static void
check_opinion(struct val *v)
{
	static const char *const ov[] = {"strongly-disagree", "disagree",
	    "neutral", "agree", "strongly-agree"};
	const char *s = json_string_value(json_object_get(v->obj, "opinion"));
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < sizeof(ov) / sizeof(ov[0]); i++)
		if (strcmp(s, ov[i]) == 0)
			return;
	finding(v, STIX_ERROR, "opinion", "vocab",
	    "not one of the opinion-enum values");
}

static void
check_relationship(struct val *v)
{
	const char *s =
	    json_string_value(json_object_get(v->obj, "relationship_type"));

	order(v, "start_time", "stop_time", 1, STIX_WARNING, "time-order");
	if (s == NULL)
		return;
	if (*s == '\0')
		finding(
		    v, STIX_ERROR, "relationship_type", "required", "is empty");
	else
		for (; *s != '\0'; s++)
			if (!((*s >= 'a' && *s <= 'z') ||
				(*s >= '0' && *s <= '9') || *s == '-')) {
				finding(v, STIX_WARNING, "relationship_type",
				    "vocab",
				    "should use only a-z, 0-9 and '-'");
				break;
			}
}

static void
check_sighting(struct val *v)
{
	const json_t *c = json_object_get(v->obj, "count");

	order(v, "first_seen", "last_seen", 0, STIX_WARNING, "time-order");
	if (json_is_integer(c) &&
	    (json_integer_value(c) < 0 || json_integer_value(c) > 999999999))
		finding(v, STIX_WARNING, "count", "range",
		    "must be from 0 to 999,999,999");
}

static void
check_artifact(struct val *v)
{
	const json_t *bin = json_object_get(v->obj, "payload_bin");
	const json_t *url = json_object_get(v->obj, "url");

	if (v->spec == 20)
		return;
	if (bin == NULL && url == NULL)
		finding(v, STIX_ERROR, "payload_bin", "required",
		    "needs payload_bin or url");
	else if (bin != NULL && url != NULL)
		finding(v, STIX_ERROR, "url", "exclusive",
		    "must not be present with payload_bin");
	else if (url != NULL && json_object_get(v->obj, "hashes") == NULL)
		finding(v, STIX_WARNING, "hashes", "required",
		    "required when url is present");
}

static void
check_email_message(struct val *v)
{
	const json_t *mp = json_object_get(v->obj, "is_multipart");

	if (json_is_true(mp) && json_object_get(v->obj, "body") != NULL)
		finding(v, STIX_WARNING, "body", "exclusive",
		    "must not be present when is_multipart is true");
	if (json_is_false(mp) &&
	    json_object_get(v->obj, "body_multipart") != NULL)
		finding(v, STIX_WARNING, "body_multipart", "exclusive",
		    "must not be present when is_multipart is false");
}

static void
check_file(struct val *v)
{
	if (json_object_get(v->obj, "hashes") == NULL &&
	    json_object_get(v->obj, "name") == NULL)
		finding(v, STIX_ERROR, "name", "required",
		    "a file needs hashes or name");
}

static void
check_network_traffic(struct val *v)
{
	static const char *const ports[] = {"src_port", "dst_port"};
	size_t i;

	if (json_object_get(v->obj, "src_ref") == NULL &&
	    json_object_get(v->obj, "dst_ref") == NULL)
		finding(v, STIX_ERROR, "src_ref", "required",
		    "needs src_ref or dst_ref");
	for (i = 0; i < 2; i++) {
		const json_t *p = json_object_get(v->obj, ports[i]);

		if (json_is_integer(p) &&
		    (json_integer_value(p) < 0 ||
			json_integer_value(p) > 65535))
			finding(v, STIX_WARNING, ports[i], "range",
			    "must be from 0 to 65535");
	}
	order(v, "start", "end", 0, STIX_WARNING, "time-order");
}

/* Objects whose every property is optional need at least one. */
static void
check_one_property(struct val *v)
{
	const struct prop *p;

	for (p = v->t->props; p->name != NULL; p++)
		if (json_object_get(v->obj, p->name) != NULL)
			return;
	if (json_object_get(v->obj, "extensions") != NULL)
		return;
	finding(v, STIX_WARNING, "type", "required",
	    "has none of the properties of its type");
}

static void
check_extension_definition(struct val *v)
{
	static const char *const etypes[] = {"new-sdo", "new-sco", "new-sro",
	    "property-extension", "toplevel-property-extension"};
	const json_t *l = json_object_get(v->obj, "extension_types"), *e;
	char buf[64];
	size_t i, k;

	json_array_foreach(l, i, e)
	{
		const char *s = json_string_value(e);

		for (k = 0; s != NULL && k < sizeof(etypes) / sizeof(etypes[0]);
		     k++)
			if (strcmp(s, etypes[k]) == 0)
				break;
		if (s != NULL && k == sizeof(etypes) / sizeof(etypes[0]))
			finding(v, STIX_ERROR,
			    pidx(buf, sizeof(buf), "extension_types", i),
			    "vocab", "not an extension type");
	}
}

/* The TLP level a marking-definition's content states, or TLP_NONE. */
static enum tlp
content_tlp(const json_t *obj, int *has_tlp_content)
{
	const json_t *dt = json_object_get(obj, "definition_type");
	const json_t *ext = json_object_get(obj, "extensions");
	const json_t *t2 = json_object_get(ext, MARKING_TLP2_EXT);
	enum tlp t = TLP_NONE;

	*has_tlp_content = 0;
	if (json_is_string(dt) &&
	    strcasecmp(json_string_value(dt), "tlp") == 0) {
		*has_tlp_content = 1;
		t = marking_tlp_parse(json_string_value(json_object_get(
		    json_object_get(obj, "definition"), "tlp")));
	}
	if (t2 != NULL) {
		enum tlp t2l = marking_tlp_parse(
		    json_string_value(json_object_get(t2, "tlp_2_0")));

		*has_tlp_content = 1;
		if (t == TLP_NONE || t2l != t)
			t = t == TLP_NONE ? t2l : TLP_NONE;
	}
	return t;
}

static void
check_marking_definition(struct val *v)
{
	const json_t *dt = json_object_get(v->obj, "definition_type");
	const json_t *def = json_object_get(v->obj, "definition");
	const json_t *name = json_object_get(v->obj, "name");
	enum tlp want = marking_tlp_of_id(v->info->id), got;
	int has_tlp;

	got = content_tlp(v->obj, &has_tlp);
	if (v->spec == 21 && dt == NULL &&
	    json_object_get(v->obj, "extensions") == NULL)
		finding(v, STIX_ERROR, "definition_type", "required",
		    "needs definition_type and definition, or extensions");
	if (dt != NULL && def == NULL)
		finding(v, STIX_ERROR, "definition", "required",
		    "required with definition_type");
	if (json_is_string(dt) &&
	    strcasecmp(json_string_value(dt), "statement") == 0 &&
	    !json_is_string(json_object_get(def, "statement")))
		finding(v, STIX_ERROR, "definition", "marking-definition",
		    "a statement marking needs definition.statement");
	if (has_tlp && got == TLP_NONE && want == TLP_NONE)
		/* Objects marked with it could not be protected. */
		finding(v, STIX_ERROR, "definition", "marking-definition",
		    "TLP marking without a recognisable level");
	if (want != TLP_NONE) {
		/* Recognised by id whatever it says (DESIGN.md); a copy
		 * whose content disagrees with the id is worth a look.
		 * WHITE and CLEAR are one level, so OpenCTI's CLEAR on
		 * WHITE's id passes; extra properties (x_opencti_*) too. */
		enum tlp named = json_is_string(name)
		    ? marking_tlp_parse(json_string_value(name))
		    : want;

		if (got != want || named != want)
			finding(v, STIX_WARNING, "definition", "tlp-altered",
			    "content differs from the TLP:%s definition "
			    "its id stands for",
			    marking_tlp_name(want));
	}
}

/* ---------------------------------------------------------------------- */
/* Common properties                                                      */

static int
spec_of(struct val *v, const json_t *sv, const char *type, size_t tl)
{
	const char *bs = v->ctx != NULL ? v->ctx->bundle_spec : NULL;
	const char *s;

	if (sv != NULL) {
		s = json_string_value(sv);
		if (s != NULL && strcmp(s, "2.1") == 0)
			return 21;
		if (s != NULL && strcmp(s, "2.0") == 0)
			return 20;
		finding(v, STIX_ERROR, "spec_version", "spec-version",
		    "must be \"2.1\" or \"2.0\"");
		return -1;
	}
	/* spec_version is optional on 2.1 SCOs, and 2.0 has no top-level
	 * SCOs: an SCO without it is 2.1 unless the bundle says 2.0. */
	if (is_sco_type(type, tl))
		return bs != NULL && strcmp(bs, "2.0") == 0 ? 20 : 21;
	if (bs != NULL && strcmp(bs, "2.1") == 0)
		finding(v, STIX_WARNING, "spec_version", "spec-version",
		    "missing in a bundle declared 2.1: taken as STIX 2.0");
	return 20;
}

static void
check_created_modified(struct val *v, const json_t *cr, const json_t *mo)
{
	struct stix_info *info = v->info;
	int need_c = v->category == STIX_SDO || v->category == STIX_SRO ||
	    v->category == STIX_META;
	int need_m = v->category == STIX_SDO || v->category == STIX_SRO ||
	    (v->category == STIX_META &&
		strcmp(info->type, "marking-definition") != 0);
	int64_t us;

	if (v->category == STIX_SCO)
		return; /* SCOs have neither (extra ones are custom) */
	if (cr == NULL) {
		if (need_c)
			finding(v, STIX_ERROR, "created", "required",
			    "required property is missing");
	} else if (check_ts(v, "created", cr, STIX_ERROR, &us) == 0)
		info->created = us;
	if (mo == NULL) {
		if (need_m)
			finding(v, STIX_ERROR, "modified", "required",
			    "required property is missing");
	} else if (check_ts(v, "modified", mo, STIX_ERROR, &us) == 0)
		info->modified = us;
	if (info->created != STIX_NO_TIME && info->modified != STIX_NO_TIME &&
	    info->modified < info->created)
		finding(v, STIX_ERROR, "modified", "time-order",
		    "must be no earlier than created");
	/* 2.1 (3.2): created and modified are precise to the millisecond
	 * at least. */
	if (v->spec == 21) {
		if (info->created != STIX_NO_TIME &&
		    tstamp_precision(
			json_string_value(cr), json_string_length(cr)) < 3)
			finding(v, STIX_WARNING, "created",
			    "timestamp-precision",
			    "should have millisecond precision");
		if (info->modified != STIX_NO_TIME &&
		    tstamp_precision(
			json_string_value(mo), json_string_length(mo)) < 3)
			finding(v, STIX_WARNING, "modified",
			    "timestamp-precision",
			    "should have millisecond precision");
	}
	info->version =
	    info->modified != STIX_NO_TIME ? info->modified : info->created;
}

int
stix_validate(const json_t *obj, const struct stix_ctx *ctx,
    struct stix_info *info, struct stix_report *rep)
{
	struct stix_info tmpinfo;
	struct val v;
	const json_t *jt, *jid, *m;
	const char *type, *id, *key;
	size_t tl, idtl, kl;
	uint64_t seen = 0;
	const struct prop *p;
	void *it;
	int upper, i;

	if (info == NULL)
		info = &tmpinfo;
	memset(rep, 0, sizeof(*rep));
	memset(info, 0, sizeof(*info));
	info->created = info->modified = info->version = STIX_NO_TIME;
	memset(&v, 0, sizeof(v));
	v.obj = obj;
	v.ctx = ctx;
	v.info = info;
	v.rep = rep;

	if (!json_is_object(obj)) {
		finding(&v, STIX_ERROR, "", "type", "not a JSON object");
		return -1;
	}
	jt = json_object_get(obj, "type");
	jid = json_object_get(obj, "id");
	if ((type = json_string_value(jt)) == NULL) {
		finding(&v, STIX_ERROR, "type", jt ? "type" : "required",
		    jt ? "must be a string" : "required property is missing");
		return -1;
	}
	tl = json_string_length(jt);
	if (!type_ok(type, tl) || strlen(type) != tl) {
		finding(&v, STIX_ERROR, "type", "type-format",
		    "3-250 characters of a-z, 0-9 and '-', no \"--\", no "
		    "'-' at either end");
		return -1;
	}
	if (tl == 6 && memcmp(type, "bundle", 6) == 0) {
		finding(&v, STIX_ERROR, "type", "type",
		    "a bundle is a container, not an object");
		return -1;
	}
	info->type = type;
	v.t = type_find(type, tl);
	v.category = v.t != NULL ? v.t->category : STIX_CUSTOM;
	info->category = v.category;
	if ((id = json_string_value(jid)) == NULL) {
		finding(&v, STIX_ERROR, "id", jid ? "type" : "required",
		    jid ? "must be a string" : "required property is missing");
		return -1;
	}
	if (id_parse(id, json_string_length(jid), &idtl, info->uuid, &upper) !=
		0 ||
	    strlen(id) != json_string_length(jid)) {
		finding(&v, STIX_ERROR, "id", "id-format",
		    "not an identifier (<type>--<UUID>)");
		return -1;
	}
	if (idtl != tl || memcmp(id, type, tl) != 0) {
		finding(&v, STIX_ERROR, "id", "id-format",
		    "the type part of the id is not the object's type");
		return -1;
	}
	info->id = id;
	if (upper)
		finding(&v, STIX_WARNING, "id", "uuid-case",
		    "UUID written in upper case");
	if (!uuid_rfc4122(info->uuid))
		finding(&v, STIX_WARNING, "id", "uuid-version",
		    "UUID is not in the RFC 4122 layout (version, variant)");

	if ((v.spec = spec_of(
		 &v, json_object_get(obj, "spec_version"), type, tl)) < 0)
		return -1;
	info->spec = v.spec;
	check_created_modified(&v, json_object_get(obj, "created"),
	    json_object_get(obj, "modified"));

	/* One pass over the members. */
	for (it = json_object_iter((json_t *)(uintptr_t)obj); it != NULL;
	     it = json_object_iter_next((json_t *)(uintptr_t)obj, it)) {
		key = json_object_iter_key(it);
		kl = json_object_iter_key_len(it);
		m = json_object_iter_value(it);
		p = NULL;
		if (v.t != NULL)
			for (i = 0; v.t->props[i].name != NULL; i++)
				if (v.t->props[i].name[0] == key[0] &&
				    strcmp(v.t->props[i].name, key) == 0) {
					p = &v.t->props[i];
					seen |= UINT64_C(1) << i;
					break;
				}
		if (p == NULL)
			for (i = 0; common_props[i].name != NULL; i++)
				if (common_props[i].name[0] == key[0] &&
				    strcmp(common_props[i].name, key) == 0) {
					p = &common_props[i];
					break;
				}
		if (p != NULL)
			check_prop(&v, key, m, p);
		else
			check_custom(&v, key, kl, m);
	}
	if (json_is_true(json_object_get(obj, "revoked")))
		info->revoked = 1;

	if (v.t != NULL) {
		for (i = 0; v.t->props[i].name != NULL; i++) {
			p = &v.t->props[i];
			if ((seen & (UINT64_C(1) << i)) || !required(&v, p))
				continue;
			if (p->flags & (F_REQ | F_R21))
				finding(&v, STIX_ERROR, p->name, "required",
				    "required property is missing");
			else
				finding(&v, STIX_WARNING, p->name, "required",
				    "required in STIX 2.0, missing");
		}
		if (v.t->check != NULL)
			v.t->check(&v);
	}
	if (info == &tmpinfo)
		pattern_free(tmpinfo.pattern); /* nobody to hand it to */
	return rep->nerrors > 0 ? -1 : 0;
}
