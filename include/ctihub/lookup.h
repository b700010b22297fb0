/*
 * lookup.h -- "has anyone in the community seen this?": a batch of values
 * (IP addresses and ranges, domains, URLs, hashes ...) looked up in the
 * observable index (store.h, table obs) under the sharing policy.  Pure
 * over a store reader in a read transaction, the policy and the member
 * who asks: no HTTP, no audit, no I/O besides the store's reads.
 *
 * A match counts only when the member could read that object version
 * through TAXII as the latest version visible to it in one of the
 * collections it is given (the API root's collections it may read):
 * anything else is not returned, not counted in the summary, and never
 * used to find further hashes (cross-hash).
 *
 * How a value matches:
 *   exact       the same observable
 *   in-range    an address (or range) inside a range the index holds
 *   contains    the value is a range holding the indexed address/range
 *   cross-hash  a file hash found through another hash of the same file
 *               that a visible object gives beside the one asked (one
 *               level: the hash asked, its siblings, no further)
 */
#ifndef CTIHUB_LOOKUP_H
#define CTIHUB_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/buf.h"
#include "ctihub/store.h"
#include "ctihub/view.h"

struct json_t;

/* How a match was found (the names are lookup_how_name's). */
enum lookup_how {
	LOOKUP_EXACT = 0,
	LOOKUP_IN_RANGE = 1,
	LOOKUP_CONTAINS = 2,
	LOOKUP_CROSS_HASH = 3,
};

/* A value asked: borrowed for the call (and by the result after it). */
struct lookup_in {
	const char *value;
	size_t len;
	int type; /* enum obs_type; OBS_NONE: detect; -1: an unknown type
		     name was given (the value's error) */
};

/* A collection the member may read (borrowed). */
struct lookup_coll {
	uint32_t code;
	const char *id;
};

struct lookup_opts {
	int valid_only;	 /* not revoked, valid_from <= now < valid_until */
	int best_only;	 /* one match per value: highest confidence, then
			   newest version */
	int64_t now;	 /* microseconds since the epoch */
	int max_matches; /* matches returned per value (the summary
				counts them all) */
	size_t max_scan; /* index rows examined per value (range
				lookups: 10.0.0.0/8 may hold millions) */
	const struct members *members; /* producer names and countries */
};

/* An object version that matched (shared by the values it matched). */
struct lookup_row {
	uint64_t rowid;
	int visible;
	uint32_t producer;
	uint8_t tlp;  /* the level it counts as (policy_obj_level) */
	int unmarked; /* no TLP marking: tlp is its producer's default */
	int revoked;
	int64_t version;     /* modified */
	int64_t first_added; /* its earliest and newest date_added in the */
	int64_t last_added;  /* collections where it counts */
	/* from its obsrow: set in the rows of returned matches (and all
	 * that count when valid_only or best_only weighed them) */
	int confidence;	     /* -1: none given */
	int64_t valid_from;  /* 0: none */
	int64_t valid_until; /* STORE_OBS_FOREVER: none */
	char *id;	     /* "type--uuid" */
	int ncoll;
	int *coll;   /* indexes into the collections given */
	int pending; /* lookup.c's own: its obsrow not read yet */
};

struct lookup_match {
	const struct lookup_row *row;
	int how;   /* enum lookup_how */
	int via;   /* cross-hash: the obs_type of the hash asked */
	char *key; /* the indexed observable's canonical text */
};

struct lookup_result {
	const char *value; /* as given (borrowed from the input) */
	size_t len;
	int ok;	     /* 0: err says why (the value, not the batch) */
	char *err;   /* NULL when ok */
	int type;    /* enum obs_type detected or given */
	char *canon; /* canonical text */
	int n;	     /* matches returned */
	struct lookup_match *m;
	/* summary of every visible match (not only those returned) */
	int count;
	int nmembers;
	uint32_t *members; /* producer codes */
	int ncountries;
	char (*countries)[3];
	int64_t first_seen, last_seen; /* 0 when no match */
	int truncated; /* max_scan or max_matches cut the list */
};

struct lookup;

/*
 * Looks up n values (n >= 0) for vc->reader under vc->pol, inside the
 * read transaction of vc->r, among the collections colls[0..ncoll).
 * Returns 0 and *out (free with lookup_free; its results borrow the
 * inputs' values and point into it), or a negative store_err (the
 * database could not be read, or out of memory: STORE_ERR).  Bad values
 * are results with ok 0, never a failure of the batch.
 */
int lookup_run(const struct view_ctx *vc, const struct lookup_coll *colls,
    int ncoll, const struct lookup_in *in, int n, const struct lookup_opts *,
    struct lookup **out);
void lookup_free(struct lookup *);

/* The results, in the order of the inputs (borrowed from the lookup). */
const struct lookup_result *lookup_results(const struct lookup *, int *n);
/* The matches returned, all values together (for the audit). */
int lookup_matches_returned(const struct lookup *);

/*
 * A lookup request as the API takes it (hub/taxii_lookup.c):
 *   query  value=V (repeatable), type=T, valid=1|true, best=1|true;
 *          percent-decoded ('+' is a plus sign, not a space)
 *   body   {"values":["V", {"value":"V","type":"T"}, ...],
 *           "valid_only":bool, "best_only":bool} (Jansson)
 * An unknown type name is the value's error, not the request's (its
 * type is then -1, which lookup_run reports).  Returns 0; -1 with a
 * sentence in err for a 400; -2 when there are more than max values
 * (413); -3 out of memory.  Clear with lookup_req_clear.
 */
struct lookup_req {
	struct lookup_in *in;
	int n;
	int valid_only;
	int best_only;
	char *store;	    /* decoded query values; owned */
	struct json_t *doc; /* the body's document; owned */
};
int lookup_parse_query(
    struct lookup_req *, const char *raw, int max, char *err, size_t errlen);
int lookup_parse_body(struct lookup_req *, const char *body, size_t len,
    int max, char *err, size_t errlen);
void lookup_req_clear(struct lookup_req *);

/* "exact", "in-range", "contains", "cross-hash". */
const char *lookup_how_name(int how);

/*
 * The JSON of the results: {"results":[...]} (README "Lookups" gives the
 * shape), member names and countries from opts->members.
 */
void lookup_json(const struct lookup *, struct buf *);
/*
 * The same piece by piece: from value *pos (0 at first: the head too),
 * values until b holds `upto` bytes (at least one value a call); returns
 * 1 with *pos moved while values remain, 0 once the document is closed.
 * The lookup need not be in its read transaction any more (it copied
 * what it read), but the inputs, the collections and opts->members it
 * was given must still be there.
 */
int lookup_json_piece(
    const struct lookup *, struct buf *, int *pos, size_t upto);
/* For the audit: the ids returned (a row matched by several values
 * appears once per value), as JSON strings separated by commas, at most
 * `max` of them. */
void lookup_audit_ids(const struct lookup *, struct buf *, size_t max);

#endif
