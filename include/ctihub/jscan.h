/*
 * jscan.h -- finds the objects of a TAXII envelope or STIX bundle without
 * building a tree: one pass checks the JSON structure and finds the
 * top-level "objects" array, an iterator then yields each element's byte
 * span.  Each span is parsed on its own by Jansson (in parallel, by the
 * ingest pool) and stored as received, minus insignificant whitespace.
 * This is framing, not parsing: values are validated by Jansson.
 */
#ifndef CTIHUB_JSCAN_H
#define CTIHUB_JSCAN_H

#include <stddef.h>

#define JSCAN_HARD_DEPTH 4096 /* beyond this the document is refused */

struct jscan_doc {
	int has_objects;      /* a top-level "objects" member exists */
	int objects_is_array; /* ... and it is an array */
	size_t objects_off;   /* offset of its '[' */
	size_t nobjects;
	char type[32];	       /* top-level "type" (bundles), or "" */
	char spec_version[16]; /* top-level "spec_version", or "" */
};

struct jscan_span {
	size_t off;
	size_t len;
	int depth; /* nesting depth inside the element (1 for {}) */
	int is_object;
	int compact; /* no whitespace outside strings: store as is */
};

/*
 * Checks that p[0..n) is one JSON object (structure, strings, numbers,
 * literals; not UTF-8, which Jansson checks) whose keys are unique, and
 * describes it.  Returns 0, or -1 with "line L, column C: what" in err
 * (-2 when out of memory).  Memory: one offset per top-level key.
 */
int jscan_doc(
    const char *p, size_t n, struct jscan_doc *, char *err, size_t errlen);

struct jscan_iter {
	const char *p;
	size_t n;
	size_t pos;
	int done;
};

/* Iterates the elements of the objects array that jscan_doc found. */
void jscan_iter_init(
    struct jscan_iter *, const char *p, size_t n, const struct jscan_doc *);
/* 1 with the next element, 0 at the end. */
int jscan_iter_next(struct jscan_iter *, struct jscan_span *);

/* Copies JSON text without whitespace outside strings; returns the
 * length written (at most n).  The input must be valid JSON. */
size_t jscan_minify(const char *in, size_t n, char *out);

/* 1-based line and column of byte offset `off`. */
void jscan_linecol(const char *p, size_t off, int *line, int *col);

#endif
