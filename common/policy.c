/*
 * policy.c -- the visibility decision (see policy.h).  The sharing-policy
 * files come with the next change; until then the built-in FIRST TLP 2.0
 * defaults apply to every producer.
 */
#include "ctihub/marking.h"
#include "ctihub/policy.h"

int
policy_level(const struct policy *pol, uint32_t producer, int tlp)
{
	(void)pol;
	(void)producer;
	return tlp == TLP_NONE ? TLP_AMBER : tlp;
}

int
policy_visible(const struct policy *pol, const struct member *reader,
    const struct policy_obj *o)
{
	(void)pol;
	(void)o;
	if (reader == NULL)
		return 0;
	return 1;
}
