/*
 * feed_taxii.h -- pulling an upstream TAXII 2.1 collection ("Get Objects"),
 * as pure functions: the URL of the next page, reading one response into
 * a bounded envelope for the pipeline, and the cursor as a state blob for
 * LMDB.  No event loop, no I/O, no logging: the feed engine fetches (hub/
 * fetch.h), hands the envelope to hub/pipeline.h and stores the state.
 *
 * Paging (TAXII 2.1 section 5.3 "Get Objects", 3.4 "Pagination"): every
 * page of a run repeats the feed's filters, its `limit` and `added_after`.
 * When a page says more=true with a `next` token, the next page adds
 * next=TOKEN to the same original query (added_after unchanged).  When it
 * says more=true without `next`, the next page is a fresh query whose
 * added_after is the X-TAXII-Date-Added-Last just received.  more=false
 * (or absent) ends the run: caught up.
 *
 * The cursor is the newest X-TAXII-Date-Added-Last seen, kept as the text
 * the upstream wrote (its microseconds, or nanoseconds, are sent back
 * exactly) and as microseconds for comparisons.  It never goes backwards:
 * a header older than the cursor, or a missing one, leaves it where it
 * is.  The goal is no gap; a duplicate is harmless (the store
 * deduplicates by id and modified), so every doubtful case re-reads:
 *  - a page without the header keeps the cursor, so the next run asks
 *    again from the old cursor (duplicates);
 *  - more=true without `next` and without a header newer than the cursor
 *    cannot make progress: the run stops with FEED_TAXII_ESTUCK, cursor
 *    unchanged (the page's objects are still handed over);
 *  - a server that truncates date_added in the header (milliseconds)
 *    re-sends the objects of that last millisecond (duplicates, no gap).
 * What no client can repair: a server whose date_added ties across a page
 * boundary when paging by added_after alone (TAXII's added_after is
 * strictly "after"); ctihub's own date_added is unique per collection.
 */
#ifndef CTIHUB_FEED_TAXII_H
#define CTIHUB_FEED_TAXII_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/buf.h"

#define FEED_TAXII_TS_MAX    40	  /* longest header timestamp kept, + NUL */
#define FEED_TAXII_NEXT_MAX  1024 /* longest `next` token accepted */
#define FEED_TAXII_STATE_MAX (10 + FEED_TAXII_TS_MAX)
#define FEED_TAXII_STATE_V1  1

enum feed_taxii_err {
	FEED_TAXII_DONE = 0,	 /* caught up: the run ends */
	FEED_TAXII_MORE = 1,	 /* fetch feed_taxii_url() again */
	FEED_TAXII_PAUSE = 2,	 /* more to read, but max_pages reached: end
				    the run, resume from the cursor later */
	FEED_TAXII_EHTTP = -1,	 /* status other than 200 */
	FEED_TAXII_EPARSE = -2,	 /* not a TAXII envelope */
	FEED_TAXII_ELIMIT = -3,	 /* body, objects or output over a bound */
	FEED_TAXII_ESTUCK = -4,	 /* more=true but no way to progress */
	FEED_TAXII_EHEADER = -5, /* X-TAXII-Date-Added-Last unreadable */
	FEED_TAXII_ENOMEM = -6,
};

/* Where the collection was read up to.  us = -1: from the beginning. */
struct feed_taxii_cursor {
	int64_t us;
	char text[FEED_TAXII_TS_MAX]; /* as the upstream wrote it; "" if none */
};

/* One filter of the feed, e.g. {"match[type]", "indicator,malware"}.
 * Both are percent-encoded by feed_taxii_url(). */
struct feed_taxii_filter {
	const char *name;
	const char *value;
};

/* The feed's definition, as far as paging and output go (borrowed). */
struct feed_taxii_query {
	const char *objects_url; /* .../collections/{id}/objects/ */
	const struct feed_taxii_filter *filters;
	size_t nfilters;
	unsigned limit;	    /* 0: the server's default page size */
	const char *tlp_id; /* TLP for unmarked objects, or NULL */
	size_t max_body;    /* bytes of one response body */
	size_t max_objects; /* objects in one page */
	size_t max_out;	    /* bytes of one output envelope */
	unsigned max_pages; /* pages in one run (0: no bound) */
};

/* The state of one run, from a saved cursor until caught up. */
struct feed_taxii_run {
	struct feed_taxii_cursor start;	 /* added_after of this query */
	struct feed_taxii_cursor cursor; /* newest seen: save this */
	char *next;			 /* token for the next page, or NULL */
	unsigned pages;			 /* pages read so far */
};

/* What one response gave. */
struct feed_taxii_page {
	struct buf env;	 /* {"objects":[...]}, NUL-terminated */
	size_t nobjects; /* objects in env */
	size_t nmarked;	 /* of which the feed's TLP was added to */
};

/* Starts a run from `saved` (NULL: from the beginning). */
void feed_taxii_run_init(
    struct feed_taxii_run *, const struct feed_taxii_cursor *saved);
/* Frees the run's token; the run may be initialised again. */
void feed_taxii_run_clear(struct feed_taxii_run *);

/*
 * Appends to `out` the URL of the run's next page: objects_url, then the
 * filters, added_after (run->start, sent as written), limit and next, each
 * name and value percent-encoded (unreserved characters and the brackets
 * of match[...] left as they are).  Returns 0, or -1 with a reason in err
 * (no URL, or out of memory).
 */
int feed_taxii_url(const struct feed_taxii_query *,
    const struct feed_taxii_run *, struct buf *out, char *err, size_t errlen);

void feed_taxii_page_init(struct feed_taxii_page *);
void feed_taxii_page_clear(struct feed_taxii_page *);

/*
 * Reads one response: the HTTP status, the X-TAXII-Date-Added-Last header
 * value (NULL when absent) and the body (not NUL-terminated; len bytes).
 * On FEED_TAXII_MORE, FEED_TAXII_PAUSE or FEED_TAXII_DONE, `page` holds
 * the envelope text for the pipeline (reset first) and the run has
 * advanced (cursor, next, start); save run->cursor once the pipeline has taken the page.  On
 * FEED_TAXII_ESTUCK the page is filled too but the run cannot go on.  On
 * any other (negative) result the page is empty, the run is unchanged,
 * and err says why.  Objects keep their ids and markings; q->tlp_id is
 * added as object_marking_refs to objects with neither
 * object_marking_refs nor granular_markings; marking-definitions pass
 * unchanged.
 */
int feed_taxii_read(const struct feed_taxii_query *, struct feed_taxii_run *,
    long status, const char *date_added_last, const char *body, size_t len,
    struct feed_taxii_page *page, char *err, size_t errlen);

/*
 * The cursor as a state blob: version byte (FEED_TAXII_STATE_V1), the
 * microseconds (8 bytes, big-endian, -1 for none), the text's length (one
 * byte) and the text.  Writes at most FEED_TAXII_STATE_MAX bytes and
 * returns the length.
 */
size_t feed_taxii_state_write(
    const struct feed_taxii_cursor *, unsigned char out[FEED_TAXII_STATE_MAX]);
/* Parses a blob strictly (version, exact length, text a UTC timestamp
 * equal to the microseconds); 0, or -1 leaving the cursor "none". */
int feed_taxii_state_read(
    struct feed_taxii_cursor *, const void *blob, size_t len);

/*
 * The connector (feed.h) of the taxii kind: pages from the saved cursor
 * (def->url "objects/", def->query's filters, def->limit), Accept
 * application/taxii+json;version=2.1, the feed's TLP on unmarked objects,
 * the cursor as the state of each page that moved it; at most 1000 pages
 * a run (then it ends, and the next resumes from the cursor).
 */
struct feed_ops;
extern const struct feed_ops feed_taxii_ops;

#endif
