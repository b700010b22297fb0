/*
 * fuzz_stix.c -- libFuzzer target for stix_validate: the input is parsed
 * as JSON (duplicate keys rejected, as the hub does), then validated as
 * one object, or element by element when it is an array or a bundle.
 * Also classifies marking-definitions (marking.c), formats findings, and
 * builds a valid object's observable set from the pattern tree the
 * validator kept (obs_set.h), as ingest does.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/marking.h"
#include "ctihub/obs_set.h"
#include "ctihub/pattern.h"
#include "ctihub/stix.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Every id is "known" to exercise the lookup path. */
static int
lookup(const char *id, struct marking_class *out, void *arg)
{
	(void)arg;
	memset(out, 0, sizeof(*out));
	if (strlen(id) % 2 == 0)
		return -1;
	out->tlp = TLP_GREEN;
	out->has_release = 1;
	out->nrelease = 1;
	memcpy(out->release[0], "BR", 3);
	return 0;
}

static void
one(const json_t *o, const char *bspec)
{
	struct stix_ctx ctx = {bspec, lookup, NULL, 1};
	struct store_obs_set *set = NULL;
	struct stix_info info;
	struct stix_report rep;
	struct marking_class mc;
	char s[300];
	int i;

	if (stix_validate(o, &ctx, &info, &rep) == 0 &&
	    obs_set_build((json_t *)(uintptr_t)o, info.pattern, 3, &set) >= 0)
		hub_free(set);
	pattern_free(info.pattern);
	for (i = 0; i < rep.nfindings; i++)
		stix_finding_str(&rep.findings[i], s, sizeof(s));
	marking_classify(o, &mc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t e;
	json_t *j, *objs, *o;
	size_t i;

	j = json_loadb((const char *)data, size,
	    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (j == NULL)
		return 0;
	objs = json_is_array(j) ? j : json_object_get(j, "objects");
	if (json_is_array(objs)) {
		const char *bs =
		    json_string_value(json_object_get(j, "spec_version"));

		json_array_foreach(objs, i, o)
		{
			one(o, bs);
		}
	} else
		one(j, NULL);
	json_decref(j);
	return 0;
}
