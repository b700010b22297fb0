/*
 * ingest.h -- from a posted envelope (or a bundle file) to objects ready
 * for the store: frames the body (jscan.h), parses each object with
 * Jansson, validates it (stix.h), and keeps it as received, minus
 * insignificant whitespace, with its observables (obs_set.h) when the
 * document asks for them.  Work on ranges of objects can run on several
 * threads at once.  What becomes of each object (the store's results)
 * is rendered as a status resource by taxii_status.h.  No I/O.
 */
#ifndef CTIHUB_INGEST_H
#define CTIHUB_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/buf.h"
#include "ctihub/jscan.h"
#include "ctihub/stix.h"
#include "ctihub/store.h"

/* What the status resource needs of one object. */
struct ingest_meta {
	int ok;	       /* valid: so.json is set */
	char *id;      /* the object's id, or "objects[<i>]" */
	char *version; /* its modified (or created) as published */
	char *msg;     /* findings: errors when !ok, else warnings */
	int nerrors;
	int nwarnings;
};

/* A marking-definition met in the document, by id. */
struct ingest_marking {
	char id[80];
	struct marking_class mc;
};

/* The definitions one batch added (ingest_markings): a chain, newest
 * first, each link immutable once made, so a batch reads the links made
 * up to it while later batches add theirs. */
struct ingest_marks {
	const struct ingest_marks *prev;
	int n;
	struct ingest_marking v[];
};

/* A framed document: a posted envelope or a bundle file. */
struct ingest_doc {
	const char *text; /* not owned */
	size_t len;
	struct jscan_doc doc;
	struct jscan_iter it;
	size_t taken; /* objects handed out in batches so far */
	int max_depth;
	/* marking-definitions of the document (ingest_markings), then the
	 * producer's own in the store, resolve markings that are not
	 * well-known TLP ids; never another producer's */
	struct store *store; /* may be NULL */
	uint32_t producer;   /* who posts the document */
	/* 1: each valid object's observables go with it (store_obj.obs,
	 * obs_set.h), freed by ingest_free */
	int index_obs;
	int max_obs; /* observables indexed per object (max_observables) */
	const struct ingest_marks *marks; /* every link so far */
};

/* A run of consecutive objects of a document, ready for the store. */
struct ingest_batch {
	const struct ingest_doc *d;
	size_t first; /* index of spans[0] in the document */
	struct jscan_span *spans;
	size_t n;
	struct store_obj *objs;	  /* n entries; json NULL when rejected */
	struct ingest_meta *meta; /* n entries */
	char *arena;		  /* minified objects, ids, versions */
	size_t *arena_off;	  /* each object's slice of the arena */
	const struct ingest_marks *marks; /* what its objects may refer to */
};

enum ingest_err {
	INGEST_EBAD = -1,     /* not an envelope or bundle: 400 */
	INGEST_ETOOMANY = -2, /* more than max_objects objects: 413 */
	INGEST_ENOMEM = -3,
};

/*
 * Frames `text`: checks it is one JSON object, its top-level keys unique,
 * with an "objects" array of at most max_objects elements, before any
 * per-object state exists (it costs one offset per top-level key).
 * Returns 0, or an ingest_err with a message ("malformed JSON at line L,
 * column C: ..." for a body that is not JSON).
 */
int ingest_open(struct ingest_doc *, const char *text, size_t len,
    size_t max_objects, int max_depth, char *err, size_t errlen);
/* Takes the next `max` objects (or fewer at the end) into `b`; returns the
 * number taken, 0 at the end (then `b` holds nothing to free), or -1 when
 * out of memory (idem). */
long ingest_next(struct ingest_doc *, struct ingest_batch *b, size_t max);
/* Reads the marking-definitions of a batch, so that the objects of this
 * batch and of the later ones that refer to them get their releasability
 * and level; call after ingest_next and before ingest_range, from the
 * thread that calls ingest_next.  Returns 0 or -1 (no memory). */
int ingest_markings(struct ingest_batch *);
/* Parses and validates objects [from, to) of a batch; thread-safe for
 * disjoint ranges of one batch. */
void ingest_range(struct ingest_batch *, size_t from, size_t to);
void ingest_free(struct ingest_batch *);
/* Frees what the document gathered (its markings), once no batch of it
 * is parsed any more. */
void ingest_close(struct ingest_doc *);

/*
 * The store's remark callback (store_set_remark): reads the markings of a
 * stored object of `producer` again, resolving marking ids among that
 * producer's definitions in the write transaction.  Call
 * store_set_remark(st, ingest_remark) on every store that is written to.
 */
int ingest_remark(struct store_wtxn *, uint32_t producer, const char *json,
    size_t len, struct store_mark *out);

/* Counts: accepted objects (stored or duplicate) and rejected ones. */
struct ingest_counts {
	size_t stored;	  /* new versions */
	size_t linked;	  /* stored before, new to this collection */
	size_t duplicate; /* already in this collection */
	size_t rejected;
	size_t warned;
};
void ingest_count(const struct ingest_batch *, struct ingest_counts *);
/* 1 when the store refused a valid object (too many versions, or an id
 * of another producer). */
int ingest_refused(const struct store_obj *);

#endif
