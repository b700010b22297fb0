/*
 * misp_feed_client.c -- the integration client of tests/integ/
 * misp_export.sh: reads a MISP feed the script downloaded from the hub
 * (misp/manifest.json, each misp/<uuid>.json, misp/hashes.csv) back with
 * the MISP feed connector's parsers (feeds/feed_misp.h), as a MISP
 * subscriber would.  Not a test by itself: the script checks what it
 * prints.
 *
 *   misp_feed_client uuids DIR
 *	prints the uuid of each manifest entry of DIR/manifest.json, a line
 *	each (exit 1 when the manifest does not parse or has a bad entry)
 *   misp_feed_client stix DIR
 *	converts every event of the manifest (DIR/<uuid>.json) to STIX and
 *	prints one line per indicator: "PATTERN TLP" (the TLP name of its
 *	marking, or "none"); exits 1 when an event is missing or unusable,
 *	an attribute was malformed, or hashes.csv names an event that is
 *	not in the manifest, or holds another number of lines than there
 *	are attributes
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/buf.h"
#include "ctihub/marking.h"
#include "ctihub/uuid.h"

#include "../../feeds/feed_misp.h"

static int
slurp(const char *dir, const char *name, struct buf *b)
{
	char path[4096], chunk[65536];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "misp_feed_client: cannot open %s\n", path);
		return -1;
	}
	buf_reset(b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(b, chunk, n);
	fclose(f);
	return buf_failed(b) ? -1 : 0;
}

struct hashes {
	const struct feed_misp_manifest *m;
	size_t n, unknown;
};

static int
on_hash(const char *md5, const unsigned char uuid[16], void *arg)
{
	struct hashes *h = arg;
	size_t i;

	(void)md5;
	h->n++;
	for (i = 0; i < h->m->n; i++)
		if (memcmp(h->m->ev[i].uuid, uuid, 16) == 0)
			return 0;
	h->unknown++;
	return 0;
}

/* Prints the indicators of an envelope. */
static int
print_objects(const struct buf *env)
{
	json_t *root, *o, *refs;
	size_t i;
	const char *tlp;

	if ((root = json_loadb(env->data, env->len, 0, NULL)) == NULL)
		return -1;
	json_array_foreach(json_object_get(root, "objects"), i, o)
	{
		/* the indicators only (the SCOs and the report come too) */
		if (json_object_get(o, "pattern") == NULL)
			continue;
		refs = json_object_get(o, "object_marking_refs");
		tlp = "none";
		if (json_array_size(refs) > 0)
			tlp = marking_tlp_name(marking_tlp_of_id(
			    json_string_value(json_array_get(refs, 0))));
		printf("%s %s\n",
		    json_string_value(json_object_get(o, "pattern")), tlp);
	}
	json_decref(root);
	return 0;
}

int
main(int argc, char **argv)
{
	struct feed_misp_manifest m;
	struct feed_misp_result res;
	struct feed_misp_opts opts;
	struct buf text = BUF_INIT, env = BUF_INIT;
	struct hashes h;
	char err[FEED_MISP_ERRLEN], name[64];
	size_t i, nattrs = 0, nbad = 0, firstbad = 0;
	int rc = 0;

	if (argc != 3 ||
	    (strcmp(argv[1], "uuids") != 0 && strcmp(argv[1], "stix") != 0)) {
		fprintf(stderr, "usage: misp_feed_client uuids|stix DIR\n");
		return 2;
	}
	memset(&m, 0, sizeof(m));
	if (slurp(argv[2], "manifest.json", &text) == -1 ||
	    feed_misp_manifest_parse(
		text.data, text.len, &m, err, sizeof(err)) == -1 ||
	    m.nbad > 0) {
		fprintf(stderr, "misp_feed_client: manifest: %s\n",
		    m.nbad > 0 ? m.firstbad : err);
		rc = 1;
		goto done;
	}
	if (strcmp(argv[1], "uuids") == 0) {
		for (i = 0; i < m.n; i++)
			printf("%s\n", m.ev[i].uuid_s);
		goto done;
	}
	memset(&opts, 0, sizeof(opts));
	opts.producer = "identity--00000000-0000-4000-8000-00000000cafe";
	opts.tlp = TLP_NONE;
	opts.confidence = -1;
	for (i = 0; i < m.n; i++) {
		snprintf(name, sizeof(name), "%s.json", m.ev[i].uuid_s);
		memset(&res, 0, sizeof(res));
		buf_reset(&env);
		if (slurp(argv[2], name, &text) == -1 ||
		    feed_misp_event_to_stix(text.data, text.len, &opts, &env,
			&res, err, sizeof(err)) == -1 ||
		    res.nbad > 0 || print_objects(&env) == -1) {
			fprintf(stderr, "misp_feed_client: event %s: %s\n",
			    name, res.nbad > 0 ? res.firstbad : err);
			rc = 1;
		}
		nattrs += res.nattrs;
	}
	memset(&h, 0, sizeof(h));
	h.m = &m;
	if (slurp(argv[2], "hashes.csv", &text) == -1 ||
	    feed_misp_hashes_parse(
		text.data, text.len, on_hash, &h, &nbad, &firstbad) != 0 ||
	    nbad > 0 || h.unknown > 0 || h.n != nattrs) {
		fprintf(stderr,
		    "misp_feed_client: hashes.csv: %zu lines (%zu bad, "
		    "%zu of unknown events), %zu attributes\n",
		    h.n, nbad, h.unknown, nattrs);
		rc = 1;
	}
done:
	feed_misp_manifest_clear(&m);
	buf_clear(&text);
	buf_clear(&env);
	return rc;
}
