/*
 * feed_list.h -- indicator lists as downloaded (one value a line, CSV with
 * a column mapping, JSON arrays) turned into normalised, de-duplicated
 * entries; the diff of a download against the previous one (a compact
 * sorted snapshot blob the caller stores, which remembers vanished entries
 * for a while); and the STIX indicators of new, vanished and returned
 * entries, rendered as TAXII envelope text.  Pure functions
 * over caller memory: no I/O, no scheduling, no storage, no logging.
 */
#ifndef CTIHUB_FEED_LIST_H
#define CTIHUB_FEED_LIST_H

#include <stddef.h>
#include <stdint.h>

struct buf;

enum feed_list_format {
	FEED_LIST_PLAIN = 0, /* one value a line */
	FEED_LIST_CSV = 1,   /* delimited records, RFC 4180 quoting */
	FEED_LIST_JSON = 2,  /* [ "v", ... ] or [ {"member": "v"}, ... ] */
};

#define FEED_LIST_MAX_ENTRIES 10000000 /* default bound of one download */
#define FEED_LIST_MAX_ERRORS  100      /* error messages kept (all counted) */
#define FEED_LIST_ERRLEN      160      /* one message, "LINE: what" */
#define FEED_LIST_RECORD_MAX  65536    /* longest line or CSV record */
#define FEED_LIST_JSON_DEPTH  64       /* deepest JSON nesting accepted */

/*
 * How to read a download.  Zero-initialised it reads a plain list, type
 * detected per line, comments starting with '#' or ';'.
 *
 * plain: each line is trimmed of blanks; empty lines and lines starting
 *   with a comment character are skipped; the value is the first
 *   blank-delimited word, the rest of the line is ignored (Spamhaus DROP
 *   "1.10.16.0/20 ; SBL256894", ipsum "1.2.3.4<TAB>7").
 * csv: records of fields separated by `delim` (',' when 0); with `quote`,
 *   a field in double quotes may hold the delimiter, newlines and ""
 *   (RFC 4180); `skip` records are skipped first (headers); records whose
 *   first byte is a comment character are skipped.  The value is field
 *   `value_col` (from 0), trimmed of blanks; with `type_col` >= 0 the type
 *   is named by that field (obs_type_from_name names and the aliases ip,
 *   ip-src, ip-dst, hostname, domain, uri, email-src, email-dst, sha-256
 *   ...; an empty or unknown name is a bad record).
 * json: an array whose elements are strings, or objects whose member
 *   `member` is a string (Feodo Tracker's ipblocklist.json: "ip_address");
 *   other elements are bad items, numbered from 1 in place of lines.
 *
 * Settings for the first sources (issue 13):
 *   Spamhaus DROP/EDROP   plain (";" comments, "CIDR ; SBLnnn" lines)
 *   blocklist.de, ipsum   plain
 *   Feodo Tracker         json, member "ip_address"
 *   URLhaus csv dump      csv, quote 1, value_col 2 (a "# id,dateadded,url,
 *                         url_status,..." header is a comment)
 */
struct feed_list_cfg {
	int format;		 /* enum feed_list_format */
	int type;		 /* enum obs_type; OBS_NONE: detect per value */
	const char *comment;	 /* comment characters; NULL: "#;" */
	char delim;		 /* csv */
	int quote;		 /* csv: 1 for RFC 4180 double quotes */
	int value_col;		 /* csv */
	int type_col;		 /* csv: -1 (or 0 with value_col 0): none */
	int skip;		 /* csv: leading records to skip */
	const char *member;	 /* json: NULL for an array of strings */
	const char *type_member; /* json (with member): the member naming
				    the type, as type_col does; NULL: none */
	size_t max_entries;	 /* 0: FEED_LIST_MAX_ENTRIES */
};

/* One entry; key and text point into the list's pool. */
struct feed_entry {
	int type;      /* enum obs_type */
	uint32_t line; /* first line (json: item) it was read from */
	uint16_t keylen;
	uint16_t textlen;
	const unsigned char *key; /* obs_normalise's key */
	const char *text;	  /* canonical text, NUL-terminated */
};

/*
 * A parsed download.  v[0..n) is sorted by key (memcmp, shorter first)
 * and has no two equal keys: a value met again is counted in ndup and
 * keeps its first line.  Errors: nerrors bad lines in all, the first
 * FEED_LIST_MAX_ERRORS of them as "LINE: message" in errors[0..nkept).
 */
struct feed_list {
	struct feed_entry *v;
	size_t n;
	size_t nlines; /* lines (json: items) read */
	size_t ndup;
	size_t nerrors;
	size_t nkept;
	int truncated; /* max_entries reached: the rest was not read */
	char (*errors)[FEED_LIST_ERRLEN];
	/* private */
	size_t cap;
	char *pool;
	size_t poollen, poolcap;
};

void feed_list_init(struct feed_list *);
void feed_list_clear(struct feed_list *);

/*
 * Parses data[0..len) as cfg says into l (feed_list_init'ed; cleared
 * first).  Bad lines are errors in l, never fatal.  Returns 0, or -1 when
 * memory runs out or the configuration is invalid (message in err, if not
 * NULL); l is then empty.  A JSON document that does not parse, is not an
 * array or is nested deeper than FEED_LIST_JSON_DEPTH is one error at
 * line 0 (json: its line) and no entry, not a failure.
 */
int feed_list_parse(const struct feed_list_cfg *cfg, const char *data,
    size_t len, struct feed_list *l, char *err, size_t errlen);

/* A vanished entry, from the previous snapshot. */
struct feed_gone {
	int type;
	int64_t created;  /* when it first appeared (microseconds) */
	int salted;	  /* its id is over the value and created */
	const char *text; /* NUL-terminated, into the diff's pool */
	size_t textlen;
};

/* A returned entry: in the snapshot as gone, in the list again. */
struct feed_back {
	size_t i;	 /* index of l->v */
	int64_t created; /* its first-seen time: its id's created */
	int salted;
	int64_t gone; /* when it vanished */
};

/* Gone entries are kept in the snapshot this long after they vanished
 * (180 days, microseconds), then forgotten: a value back after that is
 * new to the snapshot (its value's id again, with a new created: the one
 * case where a version's created differs from the first's). */
#define FEED_LIST_FORGET (180 * 86400 * 1000000LL)
/* And at most this many gone records are carried from one snapshot to
 * the next (the newest; an IPv4 address takes 26 bytes): a list that
 * churns fast must not grow its state without end.  A value forgotten
 * early is new to the snapshot when it returns, as after
 * FEED_LIST_FORGET. */
#define FEED_LIST_GONE_MAX 1000000

/*
 * The change from the previous snapshot to a list.  added[0..nadded)
 * index l->v in key order: never seen (or forgotten: the value's id), or,
 * in revoke mode or after a revocation, returned (reborn[k] set: a new
 * indicator, its id salted with its first-seen time, now).
 * back[0..nback) are the returned entries of expire mode: a new version
 * of the same id, valid again.  Kept entries keep their first-seen time
 * in the new blob; gone[0..ngone) are the entries of the old snapshot
 * that the list no longer has, in key order.  Entries still gone emit
 * nothing and stay in the blob until FEED_LIST_FORGET after they
 * vanished (or beyond the newest FEED_LIST_GONE_MAX).  blob[0..bloblen) is the new snapshot: store it and pass it
 * next time.
 */
struct feed_diff {
	size_t *added;
	unsigned char *reborn; /* per added entry: 1 when it is an indicator
				  reborn after a revocation (a salted id) */
	size_t nadded;
	struct feed_back *back;
	size_t nback;
	struct feed_gone *gone;
	size_t ngone;
	size_t nold;	 /* present entries of the old snapshot */
	size_t nrecords; /* records of the new blob (present and gone) */
	unsigned char *blob;
	size_t bloblen;
	int64_t now; /* the diff's time: the created of added entries */
	/* private */
	char *pool;
};

/*
 * The snapshot blob, big-endian: "FLS2", the record count (4 bytes), the
 * present count (4), then per record in strictly increasing key order:
 * key length (2), key, text length (2; 0 when obs_key_text recovers the
 * text from the key; bit 15 set when the id is salted, see feed_list_id;
 * bit 14 when it vanished in revoke mode: revoked, its id is never used
 * again, whatever the mode when it returns), text, first-seen time (8, microseconds, 1970 to 9999), gone time (8; 0:
 * present, else when it vanished, not before the first-seen time).  An
 * IPv4 address takes 26 bytes.  A snapshot is checked whole (lengths,
 * order, types, times, texts, counts) before any of it is used.  The
 * older "FLS1" (the entry count, then records without the gone time and
 * flag: all present, ids not salted) is still read; the next diff writes
 * FLS2.
 */
#define FEED_LIST_SALTED  0x8000 /* in a record's text length */
#define FEED_LIST_REVOKED 0x4000

void feed_diff_init(struct feed_diff *);
void feed_diff_clear(struct feed_diff *);

/*
 * Diffs l against the snapshot old[0..oldlen) (oldlen 0: no previous
 * snapshot, everything is new; not d's own blob: d is cleared first) at
 * time now, for mode (enum feed_list_mode: a returned entry's treatment).
 * O(n + m) after the list's sort.  Returns 0, or -1 when memory runs out
 * or the old blob is not a valid snapshot (message in err): the caller
 * then keeps its old blob and expires nothing.
 */
int feed_list_diff(const struct feed_list *l, const void *old, size_t oldlen,
    int64_t now, int mode, struct feed_diff *d, char *err, size_t errlen);

/*
 * The present entries of a snapshot blob (FLS1 or FLS2), read from its
 * header alone: 0, or -1 when it has no valid header.
 */
int feed_list_snap_present(const void *blob, size_t len, size_t *present);

/*
 * What becomes of an entry that vanishes.  STIX: `created` never changes
 * between versions of an object, and a revoked object is never valid
 * again.  So with EXPIRE, an entry that returns is a new version of the
 * same id (created kept, valid_from now, no valid_until); with REVOKE it
 * is a new indicator (an id salted with its new first-seen time).
 */
enum feed_list_mode {
	FEED_LIST_EXPIRE = 0, /* vanished: valid_until = now */
	FEED_LIST_REVOKE = 1, /* vanished: revoked = true */
};

/* What every indicator of a feed carries; strings borrowed. */
struct feed_list_stix {
	const unsigned char *ns;    /* UUIDv5 namespace; NULL: ctihub's feeds */
	const char *producer;	    /* the member's id: names the ids */
	const char *created_by_ref; /* an identity id, or NULL */
	const char *name;	    /* "<name>: <value>"; NULL: the value */
	const char *const *labels;  /* nlabels strings */
	size_t nlabels;
	int confidence;		 /* 0-100; -1: none */
	const char *marking_ref; /* the feed's TLP marking id, or NULL */
	int mode;		 /* enum feed_list_mode */
	int64_t now;		 /* modified (and valid_until) */
};

#define FEED_LIST_ID_LEN (sizeof("indicator--") - 1 + 36)

/*
 * The indicator id of a value: "indicator--" and the UUIDv5, in namespace
 * s->ns, of the producer, a NUL, the type's name (obs_type_name), ':' and
 * the canonical text, then, salted (salt >= 0), a NUL and the salt as 8
 * big-endian bytes.  An entry's id is its value's (salt -1): the same at
 * every run and after a reset of the feed's state; only an indicator
 * reborn after a revocation is salted with its first-seen time (a revoked
 * object is never valid again).  0, or -1 when OpenSSL fails.
 */
int feed_list_id(const struct feed_list_stix *s, int type, const char *text,
    size_t len, int64_t salt, char out[FEED_LIST_ID_LEN + 1]);

/*
 * Appends the STIX pattern of a value ("[ipv4-addr:value = '1.2.3.4']",
 * "[file:hashes.'SHA-256' = '...']", "[autonomous-system:number = 64500]"),
 * quotes and backslashes escaped.  -1 for a type with no pattern.
 */
int feed_list_pattern(struct buf *b, int type, const char *text, size_t len);

/* The version feed_list_indicator writes. */
enum feed_list_ver {
	FEED_LIST_NEW = 0,	/* created = modified = valid_from */
	FEED_LIST_VANISHED = 1, /* modified = now (after created), and
				   valid_until = now or revoked */
	FEED_LIST_BACK = 2,	/* returned: modified = now, after the
				   vanished version's; valid_from = now */
};

/*
 * Appends one indicator object, version ver (enum feed_list_ver) of the
 * entry first seen at created, salted or not (feed_list_id), gone at gone
 * (FEED_LIST_BACK only).  -1 for a type with no pattern or when OpenSSL
 * fails; b's own failure is sticky (buf_failed).
 */
int feed_list_indicator(struct buf *b, const struct feed_list_stix *s, int type,
    const char *text, size_t len, int64_t created, int salted, int ver,
    int64_t gone);

/*
 * Appends a TAXII envelope {"objects":[...]} of at most max objects of the
 * diff's sequence (added entries, created at d->now, then returned ones,
 * then gone ones, ended at s->now: pass the diff's time in both, and the
 * diff's mode), starting at *pos, and advances *pos: call until *pos
 * reaches feed_diff_total(d) to page a large diff into envelopes of
 * bounded size.  Returns the number of objects
 * written, or -1 (see feed_list_indicator).
 */
size_t feed_diff_total(const struct feed_diff *);
long feed_list_envelope(struct buf *b, const struct feed_list_stix *s,
    const struct feed_list *l, const struct feed_diff *d, size_t *pos,
    size_t max);

/*
 * The connector (feed.h) of the list, csv and json kinds: each run one
 * download (conditional on the saved ETag and Last-Modified), diffed
 * against the saved snapshot; new entries and vanished ones (expired or
 * revoked as def->on_vanish says) and returned ones in envelopes of at most
 * FEED_PAGE_OBJECTS, the state (validators and snapshot) with the last.
 * A download with no valid entry where lines failed, an empty one where
 * the snapshot had present entries, an HTML page or one over max entries fails
 * the run: nothing is expired on the word of a broken download.
 */
struct feed_ops;
extern const struct feed_ops feed_list_ops;

#endif
