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
 * that existed at its start exactly once and nothing twice.  `more` is set
 * only for an object the member may see: a full page followed by no such
 * object within VIEW_LOOKAHEAD entries ends the walk, and the next poll
 * goes on from its last object.  Position and bound travel in
 * the `next` token with the member it was issued to, a fingerprint of the
 * query's filters and the issue time, sealed with AES-256-GCM under a key
 * derived from the store's secret and a random nonce of the token: the
 * token is opaque (the bound, the date_added of the newest write, maybe
 * one the member may not see, is not readable in it), any worker of any
 * hub process sharing the store can continue any walk, and a token that
 * was altered, belongs to another member or another query, or is older
 * than VIEW_TOKEN_TTL is refused.
 *
 * "First" and "last" versions, and the default "latest spec version", are
 * decided among the versions of the object in the collection that the
 * member may see and that are within the snapshot.
 *
 * Released objects reach each poller once.  When a policy reload lets a
 * member see objects it could not, a poller that already walked past them
 * would never ask for them again; so release.c records a release event
 * (who gained which producer's level) before the new policy is in force,
 * gives every such object a twin entry with a new date_added in its
 * collections (in slices), and closes the event with a DONE record once
 * the last twins are written and no request runs under the older policy.
 * Each walk fixes at its first page the newest release record it knows
 * (relpos, sealed in its token with the bound).  For a member an event
 * gained, and an object of that producer and level added before the
 * event:
 *  - a walk that knows the event closed (its DONE at or before relpos)
 *    takes the twin for the original: the original does not count, and
 *    of its twins only that of the newest such event does (and only while
 *    the original is still there);
 *  - any other walk (the event open at relpos, or after it) counts
 *    neither, as under the policy before the reload; a walk that starts
 *    while an event is open stops its bound before the event, so it
 *    never passes a twin it may not count.
 * A poller's position is therefore before the twins until its first walk
 * after the release, which meets the twin (and never the original): the
 * object arrives once, whether the poller stood before the object, past
 * it, polled during the release, or walks afresh.  (The earlier rule, a
 * twin counts in walks that start after its original, gave a walk that
 * met the original, and then polled from where it stopped, the twin
 * too.)  An event closed FAILED counts for nothing: its originals are
 * served as before and its twins never.  Lookups by id (match[id], an
 * object, its versions) see the originals only, as ever.
 */
#ifndef CTIHUB_VIEW_H
#define CTIHUB_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/member.h"
#include "ctihub/policy.h"
#include "ctihub/store.h"

#define VIEW_MAX_VALUES 64
#define VIEW_TOKEN_MAX	128
#define VIEW_TOKEN_TTL	(7 * 86400) /* seconds a next token stays valid */
/* entries examined past a full page for one the member may see (`more`) */
#define VIEW_LOOKAHEAD 4096

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
	/* where the walk stands (from the token, or a new walk: 0) */
	int64_t pos;
	int64_t bound;
	int64_t relpos; /* the newest release record at its first page */
};

/*
 * Release records (store_wrelease), in the order of their ids, which come
 * from the clock of date_added:
 *  - an event: for each (producer, level) of objects some members may
 *    newly see, those members' codes, as groups of producer (4), level (1:
 *    an enum tlp, TLP_NONE for unmarked objects), count (2, at least 1)
 *    and the codes (4 each);
 *  - a marker that closes an event: producer 0 (4), its kind (1:
 *    VIEW_REL_DONE or VIEW_REL_FAILED), count 0 (2), the event's id (8).
 * Little-endian.
 */
enum view_rel_kind {
	VIEW_REL_EVENT = 0,
	VIEW_REL_DONE = 1,   /* every twin written: the release holds */
	VIEW_REL_FAILED = 2, /* stopped: the event counts for nothing */
};
#define VIEW_REL_MARKER_LEN 15
/* The kind of a record; for a marker, the event it closes. */
int view_release_kind(const void *rec, size_t len, uint64_t *event);
void view_release_marker(
    unsigned char out[VIEW_REL_MARKER_LEN], int kind, uint64_t event);

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

/* Checks and applies q->next (pos, bound, relpos), for this member and
 * collection; -1 with a reason when refused (altered, sealed under
 * another key, another member, collection or query, expired). */
int view_token_read(struct view_query *, const unsigned char key[32],
    uint32_t member, uint32_t coll, int64_t now, char *err, size_t errlen);

struct view_rel;

struct view_ctx {
	struct store_reader *r;
	const struct policy *pol;
	const struct member *reader;
	const struct view_rel *rel; /* set by view_page for its walk */
	size_t max_scan; /* index entries a walk may examine for one page
			    (max_scan); 0: no cap */
};

struct view_page {
	struct store_item *items;
	size_t n;
	size_t cap;
	int more;
	int exists;	/* VIEW_OBJECT, VIEW_VERSIONS: the object exists for
			   this member in this collection */
	int64_t bound;	/* the walk's snapshot bound */
	int64_t last;	/* the next position: date_added of the last item,
			   or of the last entry examined when max_scan
			   stopped the walk; 0 when neither */
	int64_t relpos; /* the walk's newest release record */
};

/* Makes the token that continues the walk of q after page pg; 0, or -1
 * (with out empty) when OpenSSL fails. */
int view_token_make(const struct view_query *, const struct view_page *,
    const unsigned char key[32], uint32_t member, uint32_t coll, int64_t now,
    char out[VIEW_TOKEN_MAX]);

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
/* The same decision for a deletion, from its gone record alone (which
 * keeps the deleted entry's level, flags and releasability): what
 * view_visible said of the entry before it was deleted. */
int view_gone_visible(const struct view_ctx *, const struct store_gone *);

#endif
