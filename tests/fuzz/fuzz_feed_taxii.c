/*
 * fuzz_feed_taxii.c -- the upstream TAXII feed's response reader
 * (feeds/feed_taxii.c) over a run of pages.  The input is up to eight
 * pages separated by "\n===\n"; each page is an X-TAXII-Date-Added-Last
 * value on its first line (empty: no header) and the body after it.
 * Invariants: no crash or leak, the cursor never goes backwards, a page
 * read is valid JSON {"objects":[...]} with as many objects as counted and
 * within the output bound, a failed page changes nothing, the next URL is
 * built, and the cursor's state blob reads back to the same cursor.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/buf.h"

#include "../../feeds/feed_taxii.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct feed_taxii_filter filters[] = {
    {"match[type]", "indicator"},
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed_taxii_query q = {
	    .objects_url = "https://up.example/api1/collections/c/objects/",
	    .filters = filters,
	    .nfilters = 1,
	    .limit = 7,
	    .tlp_id = "marking-definition--34098fce-860f-48ae-8e50-"
		      "ebd3cc5e41da",
	    .max_body = 1 << 16,
	    .max_objects = 64,
	    .max_out = 1 << 16,
	    .max_pages = 6,
	};
	struct feed_taxii_run run;
	struct feed_taxii_page pg;
	struct feed_taxii_cursor back;
	struct buf url = BUF_INIT;
	unsigned char blob[FEED_TAXII_STATE_MAX];
	char err[256], *s = malloc(size + 1), *p, *end, *nl, *sep;
	int pages = 0, r;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	feed_taxii_run_init(&run, NULL);
	feed_taxii_page_init(&pg);
	for (p = s, end = s + size; p <= end && pages < 8; pages++) {
		struct feed_taxii_run before = run;
		const char *hdr = NULL;
		size_t blen;

		sep = strstr(p, "\n===\n");
		if (sep != NULL)
			*sep = '\0';
		nl = strchr(p, '\n');
		if (nl != NULL) {
			*nl = '\0';
			if (*p != '\0')
				hdr = p;
			p = nl + 1;
		}
		blen = sep != NULL ? (size_t)(sep - p) : strlen(p);
		r = feed_taxii_read(
		    &q, &run, 200, hdr, p, blen, &pg, err, sizeof(err));
		if (run.cursor.us < before.cursor.us)
			abort(); /* backwards */
		if (r >= 0 || r == FEED_TAXII_ESTUCK) {
			json_t *env =
			    json_loadb(pg.env.data, pg.env.len, 0, NULL);

			if (env == NULL || pg.env.len > q.max_out ||
			    json_array_size(json_object_get(env, "objects")) !=
				pg.nobjects ||
			    json_object_size(env) != 1)
				abort();
			json_decref(env);
		} else if (pg.env.len != 0 || run.pages != before.pages ||
		    run.cursor.us != before.cursor.us ||
		    run.next != before.next)
			abort(); /* a failed page changed something */
		buf_reset(&url);
		if (feed_taxii_url(&q, &run, &url, err, sizeof(err)) != 0)
			abort();
		if (feed_taxii_state_read(&back, blob,
			feed_taxii_state_write(&run.cursor, blob)) != 0 ||
		    back.us != run.cursor.us ||
		    strcmp(back.text, run.cursor.us < 0 ? "" : run.cursor.text))
			abort();
		if (r != FEED_TAXII_MORE || sep == NULL)
			break;
		p = sep + 5;
	}
	buf_clear(&url);
	feed_taxii_page_clear(&pg);
	feed_taxii_run_clear(&run);
	free(s);
	return 0;
}
