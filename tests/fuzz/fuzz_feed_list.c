/*
 * fuzz_feed_list.c -- libFuzzer target for feeds/feed_list.c.  The first
 * byte picks the reader (plain, CSV with or without quotes, JSON array of
 * strings or of objects) and the type hint; the rest (a heap copy of
 * exactly that many bytes, not NUL-terminated) is parsed.  Invariants:
 * entries are sorted with no repeated key, every entry normalises again to
 * its own text and key, errors are counted and bounded, the diff of the
 * list against its own snapshot is empty and gives the same snapshot, the
 * input read as a (hostile) previous snapshot is refused or gives gone
 * entries with a text, a blob it writes reads back with consistent
 * counts (an empty list against it: every present entry gone, records
 * kept; again much later: all forgotten), and the envelope of the first
 * entries is JSON with one object each.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/buf.h"
#include "ctihub/observable.h"

#include "../../feeds/feed_list.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct obs again; /* large: not on the stack */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *labels[] = {"fuzz"};
	struct feed_list_cfg c = {0};
	struct feed_list_stix s = {0};
	struct feed_list l;
	struct feed_diff d, d2, d3;
	struct feed_list empty;
	size_t present;
	struct buf b;
	size_t i, pos = 0;
	char *p;
	long k;
	int mode;

	if (size < 1)
		return 0;
	switch (data[0] & 7) {
	case 0:
	case 1:
		c.format = FEED_LIST_PLAIN;
		break;
	case 2:
		c.format = FEED_LIST_CSV;
		c.quote = 1;
		c.value_col = (data[0] >> 6) & 1;
		c.type_col = (data[0] >> 7) ? 2 : -1; /* overrides c.type */
		break;
	case 3:
		c.format = FEED_LIST_CSV;
		c.delim = ';';
		c.skip = 1;
		c.type_col = -1;
		break;
	case 4:
	case 5:
		c.format = FEED_LIST_JSON;
		break;
	case 6:
		c.format = FEED_LIST_JSON;
		c.member = "ip_address";
		break;
	default:
		c.format = FEED_LIST_JSON;
		c.member = "v";
		c.type_member = "t"; /* the feeds file's type_field */
		break;
	}
	c.type = (data[0] >> 3) & 1 ? ((data[0] >> 4) % (OBS_TYPE_MAX + 1))
				    : OBS_NONE;
	c.type_col = c.format == FEED_LIST_CSV ? c.type_col : -1;
	c.max_entries = 5000;
	mode = (data[0] >> 5) & 1 ? FEED_LIST_REVOKE : FEED_LIST_EXPIRE;
	data++;
	size--;
	if ((p = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(p, data, size);
	feed_list_init(&l);
	feed_diff_init(&d);
	feed_diff_init(&d2);
	feed_diff_init(&d3);
	feed_list_init(&empty);
	if (feed_list_parse(&c, p, size, &l, NULL, 0) != 0)
		goto out;
	if (l.nkept > FEED_LIST_MAX_ERRORS || l.nkept > l.nerrors ||
	    l.n > c.max_entries)
		abort();
	for (i = 0; i < l.nkept; i++)
		if (memchr(l.errors[i], '\0', FEED_LIST_ERRLEN) == NULL)
			abort();
	for (i = 0; i < l.n; i++) {
		const struct feed_entry *e = &l.v[i];

		if (i > 0) {
			const struct feed_entry *f = &l.v[i - 1];
			size_t m =
			    f->keylen < e->keylen ? f->keylen : e->keylen;
			int cmp = memcmp(f->key, e->key, m);

			if (cmp > 0 || (cmp == 0 && f->keylen >= e->keylen))
				abort();
		}
		if (c.type != OBS_NONE && c.type_col < 0 && e->type != c.type)
			abort();
		if (strlen(e->text) != e->textlen ||
		    obs_normalise(
			e->type, e->text, e->textlen, &again, NULL, 0) != 0 ||
		    again.len != e->textlen ||
		    memcmp(again.text, e->text, e->textlen) != 0 ||
		    again.keylen != e->keylen ||
		    memcmp(again.key, e->key, e->keylen) != 0)
			abort();
	}
	if (feed_list_diff(&l, NULL, 0, 1000, mode, &d, NULL, 0) != 0)
		goto out;
	if (d.nadded != l.n || d.ngone != 0 || d.nback != 0 ||
	    d.nrecords != l.n ||
	    feed_list_snap_present(d.blob, d.bloblen, &present) != 0 ||
	    present != l.n)
		abort();
	if (feed_list_diff(&l, d.blob, d.bloblen, 2000, mode, &d2, NULL, 0) !=
	    0)
		goto out;
	if (d2.nadded != 0 || d2.ngone != 0 || d2.bloblen != d.bloblen ||
	    d2.nold != l.n || memcmp(d2.blob, d.blob, d.bloblen) != 0)
		abort();
	/* all gone, then back, then forgotten */
	if (feed_list_diff(
		&empty, d.blob, d.bloblen, 3000, mode, &d3, NULL, 0) == 0) {
		if (d3.ngone != l.n || d3.nrecords != l.n ||
		    feed_list_snap_present(d3.blob, d3.bloblen, &present) !=
			0 ||
		    present != 0)
			abort();
		feed_diff_clear(&d2);
		if (feed_list_diff(&l, d3.blob, d3.bloblen, 4000, mode, &d2,
			NULL, 0) != 0 ||
		    d2.ngone != 0 || d2.nadded + d2.nback != l.n ||
		    d2.nrecords != l.n ||
		    (mode == FEED_LIST_REVOKE && d2.nback != 0))
			abort();
		feed_diff_clear(&d2);
		if (feed_list_diff(&empty, d3.blob, d3.bloblen,
			3000 + FEED_LIST_FORGET, mode, &d2, NULL, 0) != 0 ||
		    d2.ngone != 0 || d2.nrecords != 0)
			abort();
	}
	/* the input itself as a hostile previous snapshot */
	feed_diff_clear(&d2);
	if (feed_list_diff(&l, p, size, 3000, mode, &d2, NULL, 0) == 0) {
		struct feed_diff d4;

		feed_diff_init(&d4);
		if (d2.nadded + d2.nback > l.n ||
		    feed_list_snap_present(d2.blob, d2.bloblen, &present) !=
			0 ||
		    present != l.n || d2.nrecords < l.n ||
		    feed_list_diff(&l, d2.blob, d2.bloblen, 4000, mode, &d4,
			NULL, 0) != 0 ||
		    d4.nadded + d4.nback + d4.ngone != 0 ||
		    d4.nrecords != d2.nrecords)
			abort();
		feed_diff_clear(&d4);
		for (i = 0; i < d2.ngone; i++)
			if (d2.gone[i].text == NULL ||
			    strlen(d2.gone[i].text) != d2.gone[i].textlen ||
			    d2.gone[i].textlen == 0)
				abort();
	}
	s.producer = "identity--00000000-0000-4000-8000-000000000000";
	s.labels = labels;
	s.nlabels = 1;
	s.confidence = 50;
	s.now = 1735689600000000;
	s.mode = mode;
	buf_init(&b);
	k = feed_list_envelope(&b, &s, &l, &d, &pos, 16);
	if (k >= 0 && !buf_failed(&b)) {
		json_t *j = json_loadb(b.data, b.len, 0, NULL);

		if (j == NULL ||
		    json_array_size(json_object_get(j, "objects")) != (size_t)k)
			abort();
		json_decref(j);
	}
	buf_clear(&b);
out:
	feed_diff_clear(&d);
	feed_diff_clear(&d2);
	feed_diff_clear(&d3);
	feed_list_clear(&l);
	free(p);
	return 0;
}
