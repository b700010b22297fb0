/*
 * taxii_render.c -- envelopes, manifests and versions from stored
 * objects (taxii_render.h).
 */
#include <string.h>

#include "ctihub/taxii_render.h"

void
render_head(struct buf *b, int more, const char *next)
{
	buf_addc(b, '{');
	buf_adds(b, more ? "\"more\":true" : "\"more\":false");
	if (more && next != NULL) {
		buf_adds(b, ",\"next\":\"");
		buf_adds(b, next);
		buf_addc(b, '"');
	}
}

/* The stored object of an item: 0; -1 when it is gone; -2 when it cannot
 * be read (a damaged row). */
static int
item_object(struct store_reader *r, const struct store_item *it,
    struct store_objview *ov)
{
	int rc = store_obj_of(r, &it->e, ov);

	return rc == STORE_OK ? 0 : rc == STORE_ENOTFOUND ? -1 : -2;
}

/* The end of a resource whose list has k entries. */
static void
close_list(struct buf *b, size_t k)
{
	if (k > 0)
		buf_addc(b, ']');
	buf_addc(b, '}');
}

void
render_version(const struct store_objview *ov, char out[TSTAMP_LEN])
{
	int64_t v =
	    ov->version == STORE_NO_VERSION ? ov->first_added : ov->version;

	/* milliseconds when that is all there is, as producers write */
	tstamp_format(v, v % 1000 == 0 ? 3 : 6, out);
}

int
render_objects(
    struct store_reader *r, struct render_env *e, struct buf *b, size_t upto)
{
	struct store_objview ov;
	int rc;

	for (; e->i < e->n && b->len < upto; e->i++) {
		if ((rc = item_object(r, &e->items[e->i], &ov)) == -2)
			return -1;
		if (rc == -1)
			continue;
		buf_adds(b, e->k == 0 ? ",\"objects\":[" : ",");
		buf_add(b, ov.json, ov.jsonlen);
		if (e->seen != NULL)
			e->seen(&ov, e->arg);
		e->k++;
	}
	if (e->i < e->n)
		return 1;
	close_list(b, e->k);
	return 0;
}

int
render_manifest(struct store_reader *r, const struct store_item *items,
    size_t n, struct buf *b)
{
	struct store_objview ov;
	char da[TSTAMP_LEN], ver[TSTAMP_LEN];
	size_t i, k = 0;
	int rc;

	for (i = 0; i < n; i++) {
		if ((rc = item_object(r, &items[i], &ov)) == -2)
			return -1;
		if (rc == -1)
			continue;
		buf_adds(b, k++ == 0 ? ",\"objects\":[" : ",");
		buf_adds(b, "{\"id\":");
		buf_add_jstr(b, ov.id, ov.idlen);
		tstamp_format(items[i].date_added, 6, da);
		render_version(&ov, ver);
		buf_addf(b,
		    ",\"date_added\":\"%s\",\"version\":\"%s\","
		    "\"media_type\":\"application/stix+json;version=%s\"}",
		    da, ver, ov.flags & STORE_F_SPEC20 ? "2.0" : "2.1");
	}
	close_list(b, k);
	return 0;
}

int
render_versions(struct store_reader *r, const struct store_item *items,
    size_t n, struct buf *b)
{
	struct store_objview ov;
	char ver[TSTAMP_LEN];
	size_t i;

	for (i = 0; i < n; i++) {
		if (store_obj_of(r, &items[i].e, &ov) != STORE_OK)
			return -1;
		render_version(&ov, ver);
		buf_adds(b, i == 0 ? ",\"versions\":[\"" : ",\"");
		buf_adds(b, ver);
		buf_addc(b, '"');
	}
	close_list(b, n);
	return 0;
}
