/*
 * fuzz_misp_event.c -- libFuzzer target for the MISP event converter
 * (feeds/feed_misp.c): converts the input (a heap copy of exactly `size`
 * bytes) and checks that the envelope is valid JSON, that every object in
 * it passes the STIX validator, and that the counts add up and stay
 * bounded.  The indicators are then exported as a MISP feed and the
 * feed's event converted back: every exported attribute must come back
 * as an indicator (canonical values re-normalise, quotes survive).  The
 * same input is also walked as hashes.csv.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/buf.h"
#include "ctihub/observable.h"
#include "ctihub/pattern.h"
#include "ctihub/stix.h"

#include "../../feeds/feed_misp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAXOBS 16

struct obsbuf {
	struct feed_misp_obs o[MAXOBS];
	size_t n;
};

static int collect_obs(const struct obs *, void *);
static void roundtrip(json_t *, const struct feed_misp_opts *);
static int count_cb(const char *, const unsigned char[16], void *);

static int
collect_obs(const struct obs *o, void *arg)
{
	struct obsbuf *ob = arg;

	if (ob->n < MAXOBS) {
		ob->o[ob->n].type = o->type;
		if ((ob->o[ob->n].text = strdup(o->text)) != NULL)
			ob->n++;
	}
	return 0;
}

/* Exports the envelope's indicators and reads the feed back. */
static void
roundtrip(json_t *objs, const struct feed_misp_opts *o)
{
	struct stix_ctx ctx = {NULL, NULL, NULL, 1};
	struct feed_misp_out_item it;
	struct feed_misp_result res;
	struct stix_report rep;
	struct stix_info info;
	struct feed_misp_export *x;
	struct buf b = BUF_INIT, s = BUF_INIT;
	struct obsbuf ob;
	char err[FEED_MISP_ERRLEN];
	json_t *obj, *ev;
	size_t i, j, nattrs;

	if ((x = feed_misp_export_new()) == NULL)
		return;
	json_array_foreach(objs, i, obj)
	{
		memset(&info, 0, sizeof(info));
		if (stix_validate(obj, &ctx, &info, &rep) != 0)
			abort();
		if (info.pattern == NULL)
			continue;
		ob.n = 0;
		obs_from_pattern(info.pattern, collect_obs, &ob);
		pattern_free(info.pattern);
		memset(&it, 0, sizeof(it));
		it.id = info.id;
		it.producer = o->producer;
		it.tlp = info.marking.tlp;
		it.created = info.created;
		it.modified = info.modified;
		it.obs = ob.o;
		it.nobs = ob.n;
		if (feed_misp_export_add(x, &it) != 0)
			abort();
		for (j = 0; j < ob.n; j++)
			free((char *)(uintptr_t)ob.o[j].text);
	}
	if (feed_misp_export_manifest(x, &b) != 0 ||
	    feed_misp_export_hashes(x, &b) != 0)
		abort();
	for (i = 0; i < feed_misp_export_nevents(x); i++) {
		buf_reset(&b);
		buf_reset(&s);
		if (feed_misp_export_event(
			x, feed_misp_export_uuid(x, i), &b) != 0 ||
		    feed_misp_event_to_stix(
			b.data, b.len, o, &s, &res, err, sizeof(err)) != 0)
			abort();
		if ((ev = json_loadb(b.data, b.len, 0, NULL)) == NULL)
			abort();
		nattrs = json_array_size(
		    json_object_get(json_object_get(ev, "Event"), "Attribute"));
		json_decref(ev);
		if (res.nbad != 0 || res.nskipped != 0 ||
		    res.nindicators != nattrs)
			abort();
	}
	buf_clear(&b);
	buf_clear(&s);
	feed_misp_export_free(x);
}

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
	struct feed_misp_opts o;
	struct feed_misp_result res;
	struct stix_report rep;
	struct buf b = BUF_INIT;
	char err[FEED_MISP_ERRLEN], *in;
	json_t *env, *objs, *obj;
	size_t i, nind = 0, nsco = 0, nh = 0, nbad = 0, lines = 0;
	const char *t;

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
	if (feed_misp_event_to_stix(in, size, &o, &b, &res, err, sizeof(err)) ==
	    0) {
		if ((env = json_loadb(b.data, b.len, 0, NULL)) == NULL)
			abort();
		objs = json_object_get(env, "objects");
		if (!json_is_array(objs) || json_object_size(env) != 1)
			abort();
		json_array_foreach(objs, i, obj)
		{
			if (stix_validate(obj, NULL, NULL, &rep) != 0)
				abort();
			t = json_string_value(json_object_get(obj, "type"));
			if (strcmp(t, "indicator") == 0)
				nind++;
			else if (strcmp(t, "report") != 0) {
				/* an SCO: no creator, and in the report */
				if (json_object_get(obj, "created_by_ref") !=
				    NULL)
					abort();
				nsco++;
			}
		}
		if (nind != res.nindicators || nsco != res.nscos ||
		    res.nscos > 2 * res.nattrs ||
		    res.nattrs > FEED_MISP_MAX_ATTRS ||
		    res.nindicators + res.nskipped + res.nbad >
			res.nattrs + 1 ||
		    json_array_size(objs) > res.nindicators + res.nscos + 1)
			abort();
		roundtrip(objs, &o);
		json_decref(env);
	} else if (b.len != 0 || strncmp(err, "event: ", 7) != 0)
		abort();
	buf_clear(&b);
	/* the same bytes as hashes.csv */
	for (i = 0; i < size; i++)
		lines += in[i] == '\n';
	if (feed_misp_hashes_parse(in, size, count_cb, &nh, &nbad, NULL) != 0 ||
	    nh + nbad > lines + 1)
		abort();
	free(in);
	return 0;
}
