/*
 * fuzz_misp_event.c -- libFuzzer target for the MISP event converter
 * (feeds/feed_misp.c): converts the input (a heap copy of exactly `size`
 * bytes) and checks that the envelope is valid JSON, that every object in
 * it passes the STIX validator, and that the counts add up and stay
 * bounded.  The same input is also walked as hashes.csv.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/buf.h"
#include "ctihub/stix.h"

#include "../../feeds/feed_misp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
count_cb(const char *md5, const unsigned char uuid[16], void *arg)
{
	size_t *n = arg;

	if (strlen(md5) != 32)
		abort();
	(void)uuid;
	(*n)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const labels[] = {"feed:fuzz"};
	struct misp_opts o;
	struct misp_result res;
	struct stix_report rep;
	struct buf b = BUF_INIT;
	char err[MISP_ERRLEN], *in;
	json_t *env, *objs, *obj;
	size_t i, nind = 0, nh = 0, nbad = 0, lines = 0;

	if ((in = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(in, data, size);
	memset(&o, 0, sizeof(o));
	o.producer = "identity--0f4b8c3a-5d7e-4f10-9a2b-3c4d5e6f7a8b";
	o.tlp = TLP_GREEN;
	o.confidence = 50;
	o.labels = labels;
	o.nlabels = 1;
	o.report = size % 2;
	if (misp_event_to_stix(in, size, &o, &b, &res, err, sizeof(err)) == 0) {
		if ((env = json_loadb(b.data, b.len, 0, NULL)) == NULL)
			abort();
		objs = json_object_get(env, "objects");
		if (!json_is_array(objs) || json_object_size(env) != 1)
			abort();
		json_array_foreach(objs, i, obj)
		{
			if (stix_validate(obj, NULL, NULL, &rep) != 0)
				abort();
			nind += strcmp(json_string_value(
					   json_object_get(obj, "type")),
				    "indicator") == 0;
		}
		if (nind != res.nindicators || res.nattrs > MISP_MAX_ATTRS ||
		    res.nindicators + res.nskipped + res.nbad >
			res.nattrs + 1 ||
		    json_array_size(objs) > res.nindicators + 1)
			abort();
		json_decref(env);
	} else if (b.len != 0 || strncmp(err, "event: ", 7) != 0)
		abort();
	buf_clear(&b);
	/* the same bytes as hashes.csv */
	for (i = 0; i < size; i++)
		lines += in[i] == '\n';
	if (misp_hashes_parse(in, size, count_cb, &nh, &nbad, NULL) != 0 ||
	    nh + nbad > lines + 1)
		abort();
	free(in);
	return 0;
}
