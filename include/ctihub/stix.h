/*
 * stix.h -- STIX 2.1 (and 2.0) object validation: common properties, the
 * required properties of every SDO, SRO, SCO and meta object type, property
 * formats, markings, and the indicator pattern (pattern.h).  Findings come
 * in two levels: an error makes the object unsafe to store or serve and
 * rejects it; a warning records a defect common in real producers' data
 * and lets the object through.  Each finding names the property and rule.
 * Custom properties and custom (x-) objects are kept as published.
 * Knows nothing about storage, TAXII or sharing policy.
 */
#ifndef CTIHUB_STIX_H
#define CTIHUB_STIX_H

#include <stdint.h>

#include <jansson.h>

#include "ctihub/marking.h"

#define STIX_ID_MAX	  300 /* "type--uuid": type is at most 250 */
#define STIX_MAX_FINDINGS 8
#define STIX_NO_TIME	  INT64_MIN

enum stix_severity {
	STIX_WARNING = 1,
	STIX_ERROR = 2,
};

struct pattern;

struct stix_finding {
	int severity;
	char property[64]; /* "pattern", "object_marking_refs[1]" ... */
	char rule[32];	   /* "required", "timestamp", "pattern-syntax" ... */
	char message[160]; /* one human sentence, no object id in it */
};

struct stix_report {
	int nerrors;
	int nwarnings;
	int nfindings; /* kept in findings[], at most STIX_MAX_FINDINGS;
			  errors are kept before warnings */
	struct stix_finding findings[STIX_MAX_FINDINGS];
};

#define STIX_MAX_UNRES 8

enum stix_category {
	STIX_SDO = 1,
	STIX_SRO,
	STIX_SCO,
	STIX_META, /* marking-definition, language-content, extension-definition */
	STIX_CUSTOM, /* x- types and types this validator does not know */
};

/* Resolves a marking-definition id that is not a well-known TLP id (an
 * ISA releasability marking published earlier, a producer's own TLP
 * definition).  Returns 0 and fills `out` when known, -1 when not. */
typedef int stix_marking_lookup_cb(
    const char *id, struct marking_class *out, void *arg);

struct stix_ctx {
	/* the enclosing bundle's spec_version, or NULL */
	const char *bundle_spec;
	stix_marking_lookup_cb *lookup; /* may be NULL */
	void *lookup_arg;
	/* 1: keep an indicator's parsed STIX pattern in info->pattern */
	int keep_pattern;
};

/* What storage and policy need of an object; strings are borrowed from
 * the json_t and live as long as it does. */
struct stix_info {
	const char *type;
	const char *id;
	unsigned char uuid[16];
	int spec;	  /* 20 or 21 */
	int category;	  /* enum stix_category */
	int64_t created;  /* microseconds, or STIX_NO_TIME */
	int64_t modified; /* microseconds, or STIX_NO_TIME */
	int64_t version;  /* modified, else created, else STIX_NO_TIME */
	int revoked;
	struct marking_class marking; /* the strictest of all its markings */
	/* marking ids that are not well-known TLP ids and that ctx->lookup
	 * did not know: the object's level is not fully known */
	int unresolved;
	int nunres; /* the first STIX_MAX_UNRES of them, as UUIDs */
	unsigned char unres[STIX_MAX_UNRES][16];
	/* with ctx->keep_pattern, an indicator's STIX pattern as parsed,
	 * whatever stix_validate returns (NULL: none, or not valid); caller
	 * frees with pattern_free */
	struct pattern *pattern;
};

/*
 * Validates one object.  Returns 0 when it may be stored (warnings are
 * allowed) and -1 when it has at least one error; `rep` is filled either
 * way, and `info` whenever the returned value is 0.  `ctx` and `info` may
 * be NULL.
 *
 * STIX 2.0: an object without spec_version is 2.0 (info->spec = 20),
 * except an SCO outside a bundle declared "2.0" (spec_version is optional
 * on 2.1 SCOs and 2.0 has no top-level SCO).  Requirements that only 2.0
 * has (labels on indicator, malware, report, threat-actor and tool,
 * identity_class, observed-data objects, marking definition) are warnings.
 *
 * info->marking merges every object_marking_refs and granular_markings
 * marking_ref: a well-known TLP id by its level, any other id through
 * ctx->lookup; ids it does not know are listed in info->unres (the hub
 * then counts the object at least at its producer's default level until
 * the producer publishes them).  A marking-definition carries the merge
 * of its own markings like any object (a TLP definition is not public
 * because of what it defines: its producer decides, as for the rest).
 *
 * Rules (property, rule, severity):
 *   errors -- the hub could not identify, version, mark, link or index
 *   the object, or a property every consumer needs is missing/malformed:
 *     type (required, type-format; type: a bundle), id (required,
 *     id-format: type--UUID with the object's type), spec_version
 *     (spec-version: not "2.0"/"2.1"), created/modified (required,
 *     timestamp: not RFC 3339 or not UTC, time-order: modified before
 *     created), required (a required property of the type missing or
 *     empty, or a rule such as "hashes or name" broken), type (a
 *     required property, or one of created_by_ref, revoked, labels,
 *     lang, external_references (list of objects), object_marking_refs,
 *     granular_markings, extensions, of the wrong JSON type), range
 *     (confidence 0-100, number_observed), id-format (a non-empty
 *     reference that is not an identifier), ref-type (created_by_ref not
 *     an identity, a marking reference not a marking-definition),
 *     granular-marking (selectors, marking_ref xor lang), timestamp (any
 *     SDO/SRO/meta timestamp property), pattern-syntax (pattern_type
 *     "stix", or a 2.0 indicator, and pattern_check rejects it),
 *     valid-until-order (valid_until not after valid_from), vocab
 *     (opinion, extension_types), exclusive (artifact payload_bin with
 *     url), marking-definition (a TLP definition without a known level,
 *     a statement without text).
 *   warnings -- defects real producers ship that harm neither the hub nor
 *   a consumer:
 *     empty-reference (an optional *_ref "" or "" in a *_refs list),
 *     uuid-case (upper-case hex), uuid-version (not the RFC 4122 layout),
 *     hash-format (an MD5/SHA-1/SHA-256/SHA-512/SHA3 value of the wrong
 *     length or not hex),
 *     timestamp-zone ("+00:00" for "Z"), timestamp-precision (2.1
 *     created/modified under a millisecond), spec-version (no
 *     spec_version in a bundle declared 2.1), required (2.0-only
 *     requirements, artifact hashes with url, an SCO with no property),
 *     type (a descriptive optional property of the wrong JSON type, SCO
 *     properties), empty-list, ref-type (other references of the wrong
 *     kind), external-ref (no source_name, or none of url, description,
 *     external_id), selector (names no property), extension (unknown
 *     extension name), vocab (relationship_type characters, country not
 *     alpha-2, extension_type), range (count, ports, latitude,
 *     longitude), exclusive (email body with body_multipart, objects
 *     with object_refs), time-order (descriptive times: last_seen before
 *     first_seen, stop_time not after start_time, last_observed before
 *     first_observed, SCO times), tlp-altered (a well-known TLP id whose
 *     content states another level or name).
 */
int stix_validate(const json_t *obj, const struct stix_ctx *ctx,
    struct stix_info *info, struct stix_report *rep);

/* "indicator--<uuid>" -> 16 bytes; 0 on success, -1 if not a type--UUID. */
int stix_parse_id(
    const char *id, char *type, size_t typelen, unsigned char uuid[16]);

/* Formats a finding as "<property>: <message> [<rule>]". */
void stix_finding_str(const struct stix_finding *, char *out, size_t len);

#endif
