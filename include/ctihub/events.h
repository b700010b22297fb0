/*
 * events.h -- what a subscriber receives next from a collection, as events
 * in the collection's date_added order: object versions entering it for
 * the subscriber (new versions, linked objects, release twins),
 * revocations, and deletions (the store's gone records).  The objects are
 * exactly what the same member would get polling objects/ with
 * added_after set to the cursor and the same filters (view_page, the same
 * policy decision, at the moment of asking); the deletions are those it
 * could see, under the same filters.  Used by the SSE streams
 * (hub/taxii_stream.c) and the push engine.  No I/O; rendering is the
 * caller's.
 */
#ifndef CTIHUB_EVENTS_H
#define CTIHUB_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/store.h"
#include "ctihub/view.h"

#ifndef STORE_ID_MAX
#define STORE_ID_MAX 300 /* "type--uuid", NUL included */
#endif

enum event_kind {
	EV_OBJECT = 1,
	EV_REVOKE,
	EV_DELETE,
};

struct event {
	int kind;		/* enum event_kind */
	int64_t cursor;		/* the date_added, or the gone record's date */
	struct store_item item; /* EV_OBJECT, EV_REVOKE */
	/* EV_DELETE: copied out of the gone record */
	uint32_t producer;
	char id[STORE_ID_MAX]; /* "type--uuid" */
	int64_t version;
	uint8_t tlp;
};

struct event_batch {
	struct event *v;
	size_t n, cap;
	int64_t from;	 /* the cursor it started after */
	int64_t to;	 /* the cursor after it: may pass entries the reader
			    may not see, even with n == 0; == from when
			    nothing new */
	int more;	 /* events may follow at once (a full batch or
			    max_scan) */
	uint8_t tlp_max; /* the strictest level (policy_obj_level) among its
			    events; 0 with none */
};

/*
 * Inside a read transaction of vc->r: the next events after `cursor` in
 * coll that vc->reader may see under q's filters, at most max.  Objects
 * come from view_page (added_after = cursor, q's filters, limit max), so
 * polling and push agree; deletions from store_gone_walk, filtered by q's
 * types, producers, tlps, spec versions and ids and view_gone_visible, up
 * to the batch's end; the two merged by cursor.  The end is the page's
 * `last` when it is full or has more; otherwise store_clock, unless the
 * page's bound stopped before the collection's newest entry (a release
 * in progress): then the bound.  q's own position, bound and token are
 * ignored.  b is reset first (its storage reused).  0 or a store_err.
 */
int events_next(const struct view_ctx *, const struct view_query *q,
    uint32_t coll, int64_t cursor, size_t max, struct event_batch *b);
void event_batch_clear(struct event_batch *);

#endif
