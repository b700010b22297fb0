/*
 * view.h -- what a member sees of a collection: the TAXII 2.1 filters
 * (added_after, limit, next, match[id|type|version|spec_version], and the
 * hub's match[tlp] and match[producer]) applied to the collection's
 * date_added index, with the one visibility decision of policy.h on every
 * object version, and paging by stateless tokens.
 *
 * Paging: the first page of a walk fixes a snapshot bound, the newest
 * date_added of the collection at that moment; every page of the walk
 * returns only versions added up to the bound, after the position of the
 * previous page, so a walk during heavy publishing returns every object
 * that existed at its start exactly once and nothing twice.  Both travel in
 * the `next` token with the member it was issued to, a fingerprint of the
 * query's filters and the issue time, under an HMAC keyed with the store's
 * secret: any worker of any hub process sharing the store can continue any
 * walk, and a token that was altered, belongs to another member or another
 * query, or is older than VIEW_TOKEN_TTL is refused.
 *
 * "First" and "last" versions, and the default "latest spec version", are
 * decided among the versions of the object in the collection that the
 * member may see and that are within the snapshot.
 */
#ifndef CTIHUB_VIEW_H
#define CTIHUB_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/member.h"
#include "ctihub/policy.h"
#include "ctihub/store.h"

#define VIEW_MAX_VALUES 64
#define VIEW_TOKEN_MAX	96
#define VIEW_TOKEN_TTL	(7 * 86400) /* seconds a next token stays valid */
#define VIEW_LOOKAHEAD	4096	    /* entries examined to decide `more` */

enum view_endpoint {
	VIEW_OBJECTS = 1,
	VIEW_OBJECT,
	VIEW_VERSIONS,
	VIEW_MANIFEST,
	VIEW_DELETE,
};

enum view_version {
	VIEW_V_FIRST = 1,
	VIEW_V_LAST = 2,
	VIEW_V_ALL = 4,
};

/* An object asked for by id: the type is resolved to its registry code
 * when the page is computed (an unknown type matches nothing). */
struct view_id {
	unsigned char uuid[16];
	const char *type; /* NUL-terminated, within the query */
	uint32_t code;
};

struct view_query {
	int endpoint;
	int64_t added_after; /* -1: none */
	size_t limit;	     /* 0: none given */
	const char *next;    /* the token as given, or NULL */
	int nids;
	struct view_id ids[VIEW_MAX_VALUES];
	int ntypes;
	uint32_t types[VIEW_MAX_VALUES]; /* registry codes, by view_page */
	const char *typename[VIEW_MAX_VALUES];
	char objtype[256]; /* the type of view_set_object's id */
	int vflags; /* VIEW_V_*; 0 with no timestamps: the default, last */
	int nvts;
	int64_t vts[VIEW_MAX_VALUES];
	int specs;	/* 1 << 0: 2.0, 1 << 1: 2.1; 0: the latest of each */
	unsigned tlps;	/* 1 << level; 0: any */
	int nproducers; /* -1 with no known producer: matches nothing */
	uint32_t producers[VIEW_MAX_VALUES];
	uint64_t fingerprint; /* of the filters, not of limit and next */
	char *store;	      /* decoded values; owned */
	/* where the walk stands (from the token, or a new walk) */
	int64_t pos;
	int64_t bound;
	int64_t origin; /* where the walk started: added_after of its first
			   page, -1 for the start of the collection */
};

/*
 * A release event record (store_wrelease): for each (producer, level) of
 * objects some members may newly see, those members' codes.  Encoded as
 * groups of producer (4), level (1: an enum tlp, TLP_NONE for unmarked
 * objects), count (2) and the codes (4 each), little-endian.
 */
int view_release_has(
    const void *rec, size_t len, uint32_t producer, int level, uint32_t member);

/*
 * Parses a raw query string for an endpoint.  Returns 0, or -1 with a
 * sentence for the 400 in err (malformed values, a field given twice, a
 * filter the endpoint does not take).  Unknown parameters and unknown
 * match[] fields are ignored, as TAXII allows.  Free with view_query_clear.
 */
int view_parse(struct view_query *, int endpoint, const char *raw,
    const struct members *, char *err, size_t errlen);
void view_query_clear(struct view_query *);
/* Sets the object of an object, versions or delete request from its path
 * segment; -1 when it is not a STIX id. */
int view_set_object(struct view_query *, const char *id);

/* Checks and applies q->next (pos and bound), for this member and
 * collection; -1 with a reason when refused. */
int view_token_read(struct view_query *, const unsigned char key[32],
    uint32_t member, uint32_t coll, int64_t now, char *err, size_t errlen);
void view_token_make(const struct view_query *, const unsigned char key[32],
    uint32_t member, uint32_t coll, int64_t pos, int64_t bound, int64_t now,
    char out[VIEW_TOKEN_MAX]);

struct view_ctx {
	struct store_reader *r;
	const struct policy *pol;
	const struct member *reader;
	size_t max_scan; /* index entries a walk may examine for one page
			    (max_scan); 0: no cap */
};

struct view_page {
	struct store_item *items;
	size_t n;
	size_t cap;
	int more;
	int exists;    /* VIEW_OBJECT, VIEW_VERSIONS: the object exists for
			   this member in this collection */
	int64_t bound; /* the walk's snapshot bound */
	int64_t last;  /* the next position: date_added of the last item, or
			  of the last entry examined when max_scan stopped
			  the walk; 0 when neither */
};

/*
 * Computes one page of at most `limit` items (inside a read transaction of
 * vc->r).  A walk that has examined vc->max_scan index entries stops
 * there: the page so far (possibly empty) with more set, and `last` past
 * every entry examined.  Returns 0 or a negative store_err.  Free with
 * view_page_clear.
 */
int view_page(const struct view_ctx *, const struct view_query *, uint32_t coll,
    size_t limit, struct view_page *);
void view_page_clear(struct view_page *);

/* The visibility decision for an index entry (reads the object header
 * when the entry carries a releasability list). */
int view_visible(const struct view_ctx *, const struct store_entry *);

#endif
