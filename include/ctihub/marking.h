/*
 * marking.h -- data markings: the TLP level and the releasability (the
 * countries an object may be released to) of STIX objects.  Maps the three
 * families of TLP marking-definition ids that circulate (STIX 2.1's TLP 1.0
 * definitions, the OASIS TLP 2.0 extension, OpenCTI's ids) to one internal
 * level, and classifies marking-definition objects.  Does not decide who
 * may see what: that is the sharing policy's job (policy.h).
 */
#ifndef CTIHUB_MARKING_H
#define CTIHUB_MARKING_H

#include <jansson.h>

/* Ordered from least to most restrictive; TLP_NONE means "unmarked". */
enum tlp {
	TLP_NONE = 0,
	TLP_CLEAR = 1, /* also TLP 1.0 WHITE */
	TLP_GREEN = 2,
	TLP_AMBER = 3,
	TLP_AMBER_STRICT = 4,
	TLP_RED = 5,
};
#define TLP_NLEVELS 6

#define MARKING_MAX_COUNTRIES 64

/* The OASIS TLP 2.0 extension and the ISA ACS 3.0 marking extension. */
#define MARKING_TLP2_EXT                                                       \
	"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
#define MARKING_ACS_EXT                                                        \
	"extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce"

/*
 * What a marking-definition (or a set of them) says about an object.
 * `release` holds ISO 3166-1 alpha-2 codes (upper case, NUL-terminated);
 * has_release = 0 means no releasability restriction at all, whereas
 * has_release = 1 with nrelease = 0 means "releasable to nobody".
 */
struct marking_class {
	enum tlp tlp;
	int has_release;
	int nrelease;
	char release[MARKING_MAX_COUNTRIES][3];
};

/* The level of a well-known TLP marking-definition id, or TLP_NONE. */
enum tlp marking_tlp_of_id(const char *id);
/* "clear", "white", "green", "amber", "amber+strict", "red" (any case,
 * with or without a "TLP:" prefix) -> level; TLP_NONE if unknown. */
enum tlp marking_tlp_parse(const char *name);
/* "CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED", or "NONE". */
const char *marking_tlp_name(enum tlp);
/* The TLP 2.0 marking-definition id of a level (the OASIS extension's),
 * or NULL for TLP_NONE and anything out of range.  Static. */
const char *marking_tlp_id(enum tlp);

/*
 * Classifies a marking-definition object: a TLP 1.0 definition
 * (definition_type "tlp"), a TLP 2.0 one (the OASIS extension), a
 * releasability marking (ISA ACS 3.0 marking extension and its STIX 2.0
 * form), or anything else (statement, custom: tlp TLP_NONE, no release).
 * Returns 0 when the object is a marking-definition, -1 otherwise.
 */
int marking_classify(const json_t *mdef, struct marking_class *out);

/* Narrows `acc` by `m`: the stricter TLP wins; releasability intersects. */
void marking_merge(struct marking_class *acc, const struct marking_class *m);

/* 1 if `m` lets the object go to country `cc` (alpha-2, upper case): no
 * releasability restriction, or `cc` is in the list. */
int marking_releasable_to(const struct marking_class *m, const char *cc);

#endif
