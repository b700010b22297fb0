/*
 * feed_misp.h -- the MISP feed format, both ways, as pure functions over
 * caller memory: no HTTP, no LMDB, no event loop.
 *
 * A MISP feed is a directory: manifest.json (an object keyed by event
 * uuid: {"Orgc":{"name","uuid"},"Tag":[{"name"}],"info","date",
 * "analysis","threat_level_id","timestamp"}), one <uuid>.json per event
 * ({"Event":{...,"Attribute":[...],"Object":[{...,"Attribute":[...]}],
 * "Tag":[...]}}) and hashes.csv (one "md5-of-value,event-uuid" a line,
 * a composite value "a|b" giving one line per part), as PyMISP's feed
 * generator writes it.
 *
 * In:  feed_misp_manifest_parse, then feed_misp_manifest_plan against
 *      the stored state blob (new or changed events get `fetch` set),
 *      then for each fetched event feed_misp_event_to_stix (a TAXII
 *      envelope of indicators, and optionally a report), then
 *      feed_misp_state_build for the new blob.
 * Out: feed_misp_export_new, feed_misp_export_add per indicator, then
 *      the manifest, the events and hashes.csv.
 *
 * Every parser is bounded (FEED_MISP_MAX_*): larger inputs and counts are
 * reported, never followed.
 */
#ifndef CTIHUB_FEED_MISP_H
#define CTIHUB_FEED_MISP_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/buf.h"
#include "ctihub/marking.h"

#define FEED_MISP_MAX_DOC    (64u << 20) /* bytes of one manifest or event */
#define FEED_MISP_MAX_EVENTS 100000	 /* entries of one manifest */
#define FEED_MISP_MAX_ATTRS  100000	 /* attributes of one event */
#define FEED_MISP_MAX_LABELS 32		 /* labels on one object */
#define FEED_MISP_MAX_LABEL  256	 /* bytes of a tag name */
#define FEED_MISP_MAX_INFO   1024	 /* info bytes kept */
#define FEED_MISP_STATE_REC  24		 /* bytes per state record */
#define FEED_MISP_ERRLEN     160

/* One manifest entry.  Strings are owned by the manifest. */
struct feed_misp_manifest_entry {
	unsigned char uuid[16];
	char uuid_s[37];   /* lower case, for the <uuid>.json URL */
	int64_t timestamp; /* seconds since the epoch */
	char *info;	   /* may be "" */
	char date[11];	   /* YYYY-MM-DD, or "" */
	char **tags;	   /* ntags tag names */
	size_t ntags;
	int fetch; /* set by feed_misp_manifest_plan: new or changed */
	int done;  /* set by the caller once the event is stored */
};

struct feed_misp_manifest {
	struct feed_misp_manifest_entry *ev;
	size_t n;
	size_t nbad;			 /* entries skipped as malformed */
	char firstbad[FEED_MISP_ERRLEN]; /* why the first one was */
};

/*
 * Parses manifest.json text[0..len).  Entries whose key is not a UUID or
 * whose timestamp (an integer, or a string of digits, as MISP writes
 * both) is missing are skipped and counted in nbad; duplicate uuids keep
 * the last.  Returns 0, or -1 with a message in err (not JSON, not an
 * object, over FEED_MISP_MAX_DOC or FEED_MISP_MAX_EVENTS, out of
 * memory).  Caller frees with feed_misp_manifest_clear (also after a
 * failure).
 */
int feed_misp_manifest_parse(const char *text, size_t len,
    struct feed_misp_manifest *m, char *err, size_t errlen);
void feed_misp_manifest_clear(struct feed_misp_manifest *);

/*
 * Sets `fetch` on each entry that is absent from the state blob or whose
 * timestamp differs from the stored one, and returns how many.  A blob
 * that is malformed (not a whole number of records, or not sorted) is
 * treated as empty: everything is fetched again, which the ingest path
 * deduplicates.
 */
size_t feed_misp_manifest_plan(
    struct feed_misp_manifest *m, const void *state, size_t statelen);

/*
 * The stored timestamp of `uuid` in the blob: 0 and *ts, or -1.
 */
int feed_misp_state_get(const void *state, size_t statelen,
    const unsigned char uuid[16], int64_t *ts);

/*
 * The state after a run, in out (reset first): for each manifest entry,
 * its timestamp when `done` is set, else the one in the old blob when it
 * has one, else nothing.  Events gone from the manifest are forgotten, so
 * the blob never outgrows the manifest.  The blob is a sorted array of
 * FEED_MISP_STATE_REC-byte records (16 uuid bytes, 8 bytes big-endian
 * timestamp).  Returns 0, or -1 when out of memory.
 */
int feed_misp_state_build(const struct feed_misp_manifest *m, const void *old,
    size_t oldlen, struct buf *out);

/* How an event becomes STIX. */
struct feed_misp_opts {
	/* the producer: names the derived ids, and is their created_by_ref
	 * when it is an identity id (a member's short id is not: then none);
	 * required */
	const char *producer;
	/* UUIDv5 namespace of the derived ids (the hub's, feed.h feed_ctx);
	 * NULL: the module's own */
	const unsigned char *ns;
	/* marking when neither the event nor the attribute has a tlp: tag
	 * (TLP_NONE: leave unmarked) */
	enum tlp tlp;
	int confidence;		   /* 0-100, or -1 for none */
	const char *const *labels; /* added to every object */
	size_t nlabels;
	int report; /* 1: add a report of the event referencing them */
};

struct feed_misp_result {
	size_t nattrs;	    /* attributes seen (objects' included) */
	size_t nindicators; /* indicators written */
	size_t nscos;	    /* cyber-observables written (once each) */
	size_t nskipped;    /* no indicator: not to_ids, deleted, or a type
			       not mapped (a not to_ids one may give SCOs) */
	size_t nbad;	    /* to_ids but malformed (value, uuid, time) */
	int tlp;	    /* enum tlp of the event's own tags */
	char firstbad[FEED_MISP_ERRLEN];
};

/*
 * Converts one event (text[0..len), {"Event":{...}} or the bare event
 * object) to a TAXII envelope {"objects":[...]} appended to out.
 *
 * Decisions:
 *   - only attributes with to_ids true (or "1") and not deleted become
 *     indicators; the others are context and are skipped (counted);
 *   - attributes inside MISP objects are taken one by one, like
 *     top-level ones (the object's grouping is not kept);
 *   - the indicator id is a UUIDv5 (in opts->ns) of the producer and the attribute
 *     uuid, so two feeds cannot claim each other's ids, and an edited
 *     attribute (same uuid, newer timestamp) is a new version of the
 *     same indicator: created = modified = the attribute timestamp,
 *     valid_from = first_seen when valid, else the attribute timestamp;
 *   - values are normalised (observable.h) and the pattern is built from
 *     the canonical text, quotes and backslashes escaped;
 *   - labels: the event's and the attribute's tags other than tlp:*,
 *     then opts->labels (at most FEED_MISP_MAX_LABELS, longer ones dropped);
 *   - TLP: the strictest tlp:* tag of the event and the attribute
 *     (clear/white, green, amber, amber+strict, red -> the TLP 2.0
 *     marking-definition ids), else opts->tlp;
 *   - every to_ids attribute whose type maps also gives the STIX 2.1
 *     cyber-observable(s) of its value(s) (context attributes give
 *     nothing: the hub's blocklist exports and lookups take the
 *     observables of every object a member may read): ipv4-addr,
 *     ipv6-addr, domain-name, url, email-addr, mac-addr {"value"},
 *     autonomous-system {"number"}, file {"hashes"(, "name" of
 *     filename|hash)}, x509-certificate {"hashes"}; the canonical text
 *     (observable.h); ids the deterministic ones of STIX 2.1 section 2.9
 *     (UUIDv5 in 00abedb4-aa42-466c-9c01-fed23315a9b7 of the JCS JSON of
 *     those properties), so the same value is the same SCO whoever sends
 *     it; each once per event, after the indicators, marked with the
 *     strictest TLP of the attributes that give it (as their indicators
 *     would be); ip-*|port gives the address only, domain|ip both; a
 *     to_ids attribute that is bad gives none;
 *   - with opts->report, a report whose id is the UUIDv5 of the producer
 *     and the event uuid, name the event info, published the event
 *     timestamp, referencing every indicator and SCO (none when there is
 *     none).
 * Mapped types: ip-src ip-dst (address or CIDR), ip-src|port
 * ip-dst|port, domain hostname, domain|ip, url, md5 sha1 sha256
 * sha512 ssdeep tlsh, filename|md5 filename|sha1 filename|sha256
 * filename|sha512, email email-src email-dst, AS, mac-address,
 * x509-fingerprint-md5/sha1/sha256.
 *
 * Malformed attributes are counted in res->nbad and skipped; the
 * envelope is always valid JSON.  Returns 0, or -1 with err set when the
 * event itself is unusable (not JSON, no uuid, over the bounds, out of
 * memory), in which case out holds nothing new.
 */
int feed_misp_event_to_stix(const char *text, size_t len,
    const struct feed_misp_opts *opts, struct buf *out,
    struct feed_misp_result *res, char *err, size_t errlen);

/* A callback per hashes.csv line: md5 (32 lower-case hex digits, NUL
 * terminated) and event uuid; nonzero stops the walk. */
typedef int feed_misp_hash_cb(
    const char *md5, const unsigned char uuid[16], void *arg);

/*
 * Walks hashes.csv text[0..len): blank lines and "#" comments skipped,
 * malformed lines counted in *nbad (may be NULL) with the first one's
 * line number in *firstbad.  Returns 0, the callback's value, or -1 when
 * over FEED_MISP_MAX_DOC.
 */
int feed_misp_hashes_parse(const char *text, size_t len, feed_misp_hash_cb *cb,
    void *arg, size_t *nbad, size_t *firstbad);

/* One observable of an indicator to export: an enum obs_type and its
 * canonical text (obs_from_pattern gives both). */
struct feed_misp_obs {
	int type;
	const char *text;
};

/* One indicator to export.  All borrowed for the call. */
struct feed_misp_out_item {
	const char *id;		   /* indicator--<uuid> */
	const char *producer;	   /* the producer's identity id */
	const char *producer_name; /* Orgc name, or NULL for the id */
	enum tlp tlp;
	int64_t created;  /* microseconds */
	int64_t modified; /* microseconds: picks the day and version */
	const char *const *labels;
	size_t nlabels;
	const struct feed_misp_obs *obs;
	size_t nobs;
};

struct feed_misp_export;

/* A new, empty export (NULL when out of memory); caller frees with
 * feed_misp_export_free. */
struct feed_misp_export *feed_misp_export_new(void);
void feed_misp_export_free(struct feed_misp_export *);

/*
 * Adds an indicator to the event of (producer, UTC day of modified),
 * whose uuid is a UUIDv5 of both, so the same indicators always give the
 * same feed.  Each observable becomes one attribute (to_ids, with the
 * item's TLP as a tlp: tag and its labels as tags) whose uuid is a UUIDv5
 * of the indicator id and the observable's index.  Observable types MISP
 * has no attribute for (x509-sha512) are skipped; TLP_NONE gives no tlp:
 * tag, so the reader's own default applies.  The caller adds only what
 * the reading member may see, one version (the latest) per id.  Returns
 * 0, or -1 (bad id or time, out of memory: the item may then be in part,
 * discard the export).
 */
int feed_misp_export_add(
    struct feed_misp_export *, const struct feed_misp_out_item *);

/* The number of events, and the uuid (text) of the i-th, in uuid order. */
size_t feed_misp_export_nevents(const struct feed_misp_export *);
const char *feed_misp_export_uuid(const struct feed_misp_export *, size_t i);

/* manifest.json, hashes.csv and one event ({"Event":{...}}; -1 when no
 * event has that uuid), appended to out.  0, or -1 (out of memory). */
int feed_misp_export_manifest(struct feed_misp_export *, struct buf *out);
int feed_misp_export_hashes(struct feed_misp_export *, struct buf *out);
int feed_misp_export_event(
    struct feed_misp_export *, const char *uuid, struct buf *out);

/*
 * The uuid (text, lower case) of the event feed_misp_export_add files an
 * item of `producer` under when its modified is `us` (microseconds): the
 * same for every time of that UTC day.  Lets a server find the (producer,
 * day) of a requested event without building the feed.
 */
void feed_misp_export_event_uuid(
    const char *producer, int64_t us, char out[37]);

/*
 * The connector (feed.h) of the misp kind: manifest.json, then each new
 * or changed event (<uuid>.json) in turn, one result each, ids in the
 * hub's namespace (feed_ctx.ns), the state after every stored event so
 * that a failed run resumes.  An event that cannot be fetched or read is
 * an error of that event (line: its manifest index, from 1), skipped and
 * fetched again next run; it does not fail the run.
 */
struct feed_ops;
extern const struct feed_ops feed_misp_ops;

#endif
