/*
 * taxii_render.h -- the TAXII 2.1 resources of a page of stored objects:
 * the envelope (Get Objects, Get an Object), the manifest and the
 * versions, rendered from the stored bytes inside the caller's read
 * transaction.  Used by the read endpoints (hub/taxii_objects.c) and by
 * whatever else sends pages of objects (push deliveries).  No I/O, no
 * policy: the items are what the reader may see (view.h decided).
 */
#ifndef CTIHUB_TAXII_RENDER_H
#define CTIHUB_TAXII_RENDER_H

#include <stddef.h>

#include "ctihub/buf.h"
#include "ctihub/store.h"
#include "ctihub/tstamp.h"

/* The opening of a resource: '{', "more" and, with more, "next". */
void render_head(struct buf *, int more, const char *next);

/* An envelope being rendered, piece by piece. */
struct render_env {
	const struct store_item *items;
	size_t n;
	size_t i; /* the next item */
	size_t k; /* objects rendered */
	/* each object rendered (for the receive audit record); may be NULL */
	void (*seen)(const struct store_objview *, void *arg);
	void *arg;
};

/*
 * Renders objects from item e->i on into b (after render_head) until b
 * holds `upto` bytes -- at least one item is taken -- reading each with
 * store_obj_of in the caller's read transaction: 1 while items remain, 0
 * once the envelope is closed, -1 when a row is damaged (the answer must
 * be refused: never an altered object).  An item whose object is gone
 * (deleted since the page was computed) is left out.
 */
int render_objects(
    struct store_reader *, struct render_env *, struct buf *b, size_t upto);

/* The rest of a manifest or a versions resource (after render_head) from
 * the page's items, closed: 0, or -1 when a row is damaged. */
int render_manifest(
    struct store_reader *, const struct store_item *, size_t n, struct buf *b);
int render_versions(
    struct store_reader *, const struct store_item *, size_t n, struct buf *b);

/* The "version" of a stored object as TAXII states it (its modified, or
 * its first date_added without one), to the precision producers use. */
void render_version(const struct store_objview *, char out[TSTAMP_LEN]);

#endif
