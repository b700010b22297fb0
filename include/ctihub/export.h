/*
 * export.h -- the pure parts of blocklist exports (hub/taxii_export.c):
 * the name of an export file, the lines of its text and CSV forms, and the
 * bounded set that keeps its values distinct.  No store, no policy, no
 * I/O: the hub walks the collection and feeds these.
 */
#ifndef CTIHUB_EXPORT_H
#define CTIHUB_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/buf.h"

enum export_format {
	EXPORT_TXT = 1, /* one value a line (LF), distinct */
	EXPORT_CSV = 2, /* RFC 4180 (CRLF), a header line, one row per
			   (value, producer) */
};

/*
 * "ipv4.txt", "sha256.csv", "all.csv" (every type) ... -> *type (an enum
 * obs_type; OBS_NONE for "all") and *format.  0, or -1 for a name that is
 * no export.
 */
int export_parse_name(const char *name, int *type, int *format);

/*
 * The header line of the CSV form:
 * value,type,tlp,confidence,first_seen,producer CRLF
 */
void export_csv_header(struct buf *);

/* One row of the CSV form (strings borrowed, not NUL-terminated). */
struct export_row {
	const char *value;
	size_t valuelen;
	const char *type;     /* obs_type_name */
	const char *tlp;      /* marking_tlp_name */
	int confidence;	      /* 0..100, or -1: none given (empty field) */
	int64_t first_seen;   /* microseconds since the epoch */
	const char *producer; /* the member's id */
	size_t producerlen;
};

/*
 * One field as RFC 4180 wants it: bare when it holds no comma, quote, CR
 * or LF and cannot start a formula; else between double quotes, each
 * quote doubled.  Against CSV formula injection (OWASP), a field that
 * starts with = + - @ TAB or CR is written quoted with a leading
 * apostrophe ("'=1+1"): a spreadsheet shows it as text; a program that
 * reads the file must drop a leading ' from such fields (no canonical
 * value of ctihub starts with one, so the apostrophe is never part of a
 * value).
 */
void export_csv_field(struct buf *, const char *s, size_t n);
/* A row of the CSV form, CRLF-terminated. */
void export_csv_line(struct buf *, const struct export_row *);
/*
 * A line of the text form: the value and LF.  -1 (nothing written) for a
 * value that is empty or holds a control byte (a line break would split
 * it into two entries of a blocklist).
 */
int export_txt_line(struct buf *, const char *value, size_t n);

/*
 * The set of what an export has written: 8 bytes a value (the SipHash-2-4
 * of its bytes under a random key of the export, so that no member can
 * pick values that collide with another's), in an open-addressing table
 * at most half full that grows by doubling: at most 16 * max bytes (max
 * rounded up to a power of two).  Two distinct values share a hash with
 * probability about n^2 / 2^65 (1e-7 at 2,000,000 values): the second
 * would be left out.
 */
struct export_set {
	uint64_t *slot; /* 0: empty */
	size_t cap;	/* a power of two, or 0 */
	size_t n;
	size_t max;
	uint64_t k0, k1;
};

/* An empty set of at most `max` values, keyed by key[16].  No allocation
 * until the first add. */
void export_set_init(
    struct export_set *, size_t max, const unsigned char key[16]);
void export_set_clear(struct export_set *);
/*
 * Adds the value p[0..n): 1 when it is new (now in the set), 0 when it
 * was there, -1 when the set is full (max values) or out of memory: the
 * value is not remembered (the caller writes it, and may write it again).
 */
int export_set_add(struct export_set *, const void *p, size_t n);

/*
 * 1 when an Accept-Encoding header (NULL: none) admits gzip: a "gzip",
 * "x-gzip" or "*" coding whose q is not 0 (RFC 9110 12.5.3; a gzip;q=0
 * refuses it even after a "*").
 */
int export_accepts_gzip(const char *accept_encoding);

/* The same in steps, for export_pipe: the hash of a value, a hint to
 * load its slot, and the add of a hash. */
uint64_t export_set_hash(const struct export_set *, const void *p, size_t n);
void export_set_prefetch(const struct export_set *, uint64_t h);
int export_set_add_hash(struct export_set *, uint64_t h);

/*
 * Lines on their way out through the set, EXPORT_LAG at a time: each
 * line's slot in the set is loaded (prefetched) when the line comes in
 * and probed EXPORT_LAG lines later, so that the set's cache misses
 * overlap instead of costing one each (a table of 1,000,000 values is
 * 16 MiB: every probe misses).  Lines leave in the order they came, each
 * unless its value was written before.  The caller renders a line at the
 * end of `pend` (export_pipe_start gives where it starts), then pushes it
 * with its value's bytes; export_pipe_flush writes what is pending.
 * pend holds the pending lines only (compacted as they leave).
 */
#define EXPORT_LAG 16
struct export_pipe {
	struct export_set *set;
	struct buf pend;
	struct {
		uint64_t h;
		size_t off, len;
	} ring[EXPORT_LAG];
	int head, n;
	size_t done;	   /* bytes of pend already gone */
	uint64_t written;  /* lines written */
	uint64_t overflow; /* of them, lines the full set did not remember */
};
void export_pipe_init(struct export_pipe *, struct export_set *);
void export_pipe_clear(struct export_pipe *);
size_t export_pipe_start(struct export_pipe *);
/* Pushes the line pend[start..] of the value p[0..n); may write the
 * oldest pending line to out. */
void export_pipe_push(struct export_pipe *, size_t start, const void *p,
    size_t n, struct buf *out);
void export_pipe_flush(struct export_pipe *, struct buf *out);
/* Bytes in out and pending: what a piece holds so far. */
size_t export_pipe_pending(const struct export_pipe *);

/* SipHash-2-4 of p[0..n) under (k0, k1). */
uint64_t export_siphash(uint64_t k0, uint64_t k1, const void *p, size_t n);

#endif
