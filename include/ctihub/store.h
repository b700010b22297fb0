/*
 * store.h -- the LMDB object store: objects by id and version, the
 * per-collection date_added index, the deletions in the same order (gone
 * records), status resources, push subscription state, and the schema
 * version.  One write transaction at a time per process (the hub's writer
 * thread, or the import command); any number of readers, each with its own
 * cached read transaction.  Knows nothing of HTTP, TAXII paging or policy:
 * it stores, finds and walks.
 *
 * Layout (all integers big-endian in keys, so byte order is numeric order):
 *   meta    "schema", "last_added", "last_row", "token_key", "last_code",
 *           "audit_seq", "merge_at", "writer"
 *   reg     'n' kind name                     -> code(4) crc
 *           'c' kind code(4)                  -> name crc
 *   obj     rowid(8)                          -> obj header + id + JSON
 *   ids     uuid(16) type(4) producer(4) version(8) -> rowid(8) +
 *                                                memberships + crc
 *   idsnew  same as ids: the newest entries, merged into ids in bulk
 *   added   coll(4) date_added(8)             -> struct store_entry
 *   pending producer(4) uuid(16)              -> rowid(8) (duplicates)
 *   status  status id (36)                    -> owner, expiry, JSON, crc
 *   statusx expiry(8) status id               -> (empty), for pruning
 *   release event(8)                          -> release record, crc
 *   audit   seq(8)                            -> audit line, crc
 *   gone    coll(4) date(8)                   -> producer(4) type(4)
 *           uuid(16) version(8) tlp(1) flags(1) nrelease(1) release(2n)
 *           idlen(2) id, crc: a version deleted from the collection
 *   subs    name (1..200 bytes)               -> opaque value, crc: push
 *                                                subscription state
 *   feeds   feed name (1..200 bytes) and a    -> opaque value, crc: a
 *           part byte ('h' status, 's' state)    feed's status and its
 *                                                connector's saved state
 *   obs     observable key (1..256 bytes)     -> rowid(8) producer(4)
 *           flags(1) valid_until(8) crc (sorted duplicates, one per
 *           row that holds the observable)
 *   obsnew  as obs: the entries written since the last merge, moved
 *           into obs in key order a slice a commit (store_obs.c)
 *   obsrow  rowid(8)                          -> valid_until(8)
 *           valid_from(8) confidence(1) flags(1) n(2), n items [group(1) keylen(2) key
 *           textlen(2) text], crc: a row's observables
 * Every record carries a CRC-32C of its key and value (crc: 4 bytes,
 * big-endian, after the value; in an object row, the last field of its
 * header; in an index entry, folded to 16 bits in its check field),
 * verified whenever it is read: a record that fails, or whose lengths do
 * not add up, is refused with STORE_ECORRUPT and a log line, never
 * served.  store_verify walks the whole database.
 * Rows are numbered in arrival order, so obj and added are appended to;
 * only the id index takes random keys, and it takes them in a small tree
 * (idsnew) that is merged into the large one (ids) many thousands at a
 * time, so a commit rewrites few pages.  See DESIGN.md "Storage".
 *
 * Identity.  Members, collections and STIX types are numbered by the
 * registry (`reg`) the first time the database meets them: codes are
 * handed out in order, never reused and never derived from a hash, so
 * two names never share a code and a renamed member is a new producer.
 * Every stored version belongs to one producer: the id index is keyed by
 * the full type, the UUID and the producer, so one producer's versions,
 * memberships and limits never mix with another's.  An id of any type
 * but a STIX Cyber-observable (whose ids are derived from their content,
 * so that every producer reporting the same observable has the same id)
 * belongs to the producer that first stored it: another producer's
 * version of it is refused (STORE_OWNED), whatever it holds.
 */
#ifndef CTIHUB_STORE_H
#define CTIHUB_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA	     3
#define STORE_MAX_COUNTRIES  64
#define STORE_MAX_MEMBERSHIP 64 /* collections one version can be in */
#define STORE_NO_VERSION     INT64_MIN
#define STORE_MAX_UNRES	     8	  /* unresolved marking ids kept per object */
#define STORE_MAX_VERSIONS   256  /* versions of one producer's object */
#define STORE_SUB_NAME_MAX   200  /* bytes of a subscription record's name */
#define STORE_SUB_VAL_MAX    4096 /* bytes of its value */
#define STORE_FEED_VAL_MAX   (1u << 30) /* bytes of a feed record's value */

enum store_err {
	STORE_OK = 0,
	STORE_ERR = -1,
	STORE_ENOTFOUND = -2,
	STORE_EFULL = -3,    /* map full: the database reached its map size
			       (store_grow may make room, up to map_max) */
	STORE_ESCHEMA = -4,  /* written by another schema */
	STORE_EDISK = -5,    /* a write could not be made durable: no space
			       left on the device, a quota, an I/O error */
	STORE_ECORRUPT = -6, /* a record fails its checksum or its lengths:
				refused, never served */
};

/* Flags of an object version, in its header and its index entries. */
enum store_flag {
	STORE_F_REVOKED = 1 << 0,
	STORE_F_SPEC20 = 1 << 1,   /* STIX 2.0 content */
	STORE_F_RELEASE = 1 << 2,  /* carries a releasability list */
	STORE_F_FIRST = 1 << 3,	   /* the earliest version in the collection */
	STORE_F_LAST = 1 << 4,	   /* the latest version in the collection */
	STORE_F_RELEASED = 1 << 5, /* a release twin (see store_wtwins) */
	STORE_F_UNRESOLVED = 1 << 6, /* refers to a marking definition its
					producer has not published (yet) */
};

/* What the registry numbers. */
enum store_kind {
	STORE_K_MEMBER = 'm',
	STORE_K_COLL = 'c',
	STORE_K_TYPE = 't',
};
#define STORE_CODE_FIRST 16 /* codes below are the hub's own (policy.h) */

/* One entry of a collection's date_added index, as stored (packed, host
 * byte order: the database is not portable across byte orders). */
struct store_entry {
	uint64_t rowid;
	int64_t version;
	uint32_t producer;
	uint32_t type; /* registry code of the STIX type */
	unsigned char uuid[16];
	uint8_t tlp;
	uint8_t flags;
	uint16_t check; /* CRC-32C of key and value, folded (the store's) */
	int64_t newest; /* not LAST: date_added of the newest version in
			   the collection (a reader skips this one when that
			   one is in its snapshot and visible); else 0 */
} __attribute__((packed));

/* What a walk yields: the entry and where it sits.  A release twin
 * (STORE_F_RELEASED) also names the entry it repeats and the release
 * event that made it. */
struct store_item {
	int64_t date_added;
	uint32_t coll;
	struct store_entry e;
	int64_t orig_added; /* twins: the original's date_added */
	uint64_t event;	    /* twins: the release event */
};

/* An object version as read back; pointers borrowed until store_rend. */
struct store_objview {
	uint64_t rowid;
	int64_t version;
	int64_t first_added;
	uint32_t producer;
	uint32_t type;
	unsigned char uuid[16];
	uint8_t tlp;
	uint8_t flags;
	int nrelease;
	const char *release; /* nrelease pairs of country letters */
	const char *id;
	size_t idlen;
	const char *json;
	size_t jsonlen;
};

/* A deletion, as gone records keep it.  Strings borrowed until store_rend. */
struct store_gone {
	int64_t date; /* from the date_added clock, at the deletion */
	uint32_t coll;
	uint32_t producer;
	uint32_t type;
	unsigned char uuid[16];
	int64_t version;
	uint8_t tlp;
	/* the deleted entry's REVOKED|SPEC20|RELEASE|UNRESOLVED */
	uint8_t flags;
	int nrelease;
	const char *release; /* nrelease pairs of country letters */
	const char *id;	     /* "type--uuid" */
	size_t idlen;
};

/* A collection membership of a version. */
struct store_member {
	uint32_t coll;
	int64_t date_added;
};

/* A version found by id. */
struct store_version {
	uint32_t producer;
	int64_t version;
	uint64_t rowid;
	int nmember;
	struct store_member member[STORE_MAX_MEMBERSHIP];
};

/* One observable of a version, as ingest extracted it (borrowed). */
struct store_obs_item {
	uint8_t group; /* observables of one file (one observation expression
			  of a pattern, one SCO) share a group: hashes of the
			  same file are found by each other (cross-hash) */
	const unsigned char *key; /* observable.h key, 1..STORE_OBS_KEY_MAX */
	size_t keylen;
	const char *text; /* canonical text, or NULL/0 when obs_key_text can
			     rebuild it from the key (short keys, IPs) */
	size_t textlen;
};

/* Every observable of one object version (at most STORE_OBS_MAX_ITEMS). */
#define STORE_OBS_MAX_ITEMS 1024
#define STORE_OBS_TEXT_MAX  4096 /* of an item's text (OBS_TEXT_MAX) */
struct store_obs_set {
	int64_t valid_until; /* indicator valid_until, or STORE_OBS_FOREVER */
	int64_t valid_from;  /* indicator valid_from, or STORE_OBS_ALWAYS */
	uint8_t confidence;  /* 0..100; 255: none given */
	uint8_t flags;	     /* STORE_OBS_F_REVOKED | STORE_OBS_F_PATTERN */
	int n;
	const struct store_obs_item *v;
};

/* One object to add (prepared by ingest.h). */
struct store_obj {
	const char *json; /* compact JSON, served as stored */
	size_t jsonlen;
	const char *id; /* type--uuid: the type is the part before "--" */
	size_t idlen;
	unsigned char uuid[16];
	int64_t version;
	int shared; /* a cyber-observable: an id any producer may report */
	uint8_t tlp;
	uint8_t flags; /* STORE_F_REVOKED | SPEC20 | RELEASE | UNRESOLVED */
	int nrelease;
	char release[STORE_MAX_COUNTRIES][2];
	int nunres; /* the marking definitions it refers to that are not
		       resolved (STORE_F_UNRESOLVED): their UUIDs */
	unsigned char unres[STORE_MAX_UNRES][16];
	const struct store_obs_set *obs; /* its observables (NULL: none),
					    written with a new row */
	/* results, set by store_wput */
	int result;	    /* enum store_result */
	int64_t date_added; /* in this collection */
};

enum store_result {
	STORE_NEW = 1, /* a new version, stored */
	STORE_LINKED,  /* a stored version, newly added to this collection */
	STORE_DUP,     /* already in this collection: nothing written */
	STORE_REFUSED, /* too many versions or collections: not stored */
	STORE_OWNED,   /* the id belongs to another producer: not stored */
};

/* The level and releasability of an object as its markings say (see
 * store_set_remark). */
struct store_mark {
	uint8_t tlp;
	uint8_t flags; /* STORE_F_RELEASE | STORE_F_UNRESOLVED */
	int nrelease;
	char release[STORE_MAX_COUNTRIES][2];
	int nunres;
	unsigned char unres[STORE_MAX_UNRES][16];
};

struct store;
struct store_reader;
struct store_wtxn;

/*
 * Opens (creating when absent) the environment in directory `dir`.  Fails
 * with STORE_ESCHEMA and a message when the database was written by a newer
 * schema.  err gets a sentence on failure.
 */
int store_open(struct store **, const char *dir, uint64_t mapsize, char *err,
    size_t errlen);
void store_close(struct store *);
/*
 * Walks every page of the database in `dir` in a child process, before
 * it is opened: LMDB trusts its pages, and a damaged one can make it
 * fault.  STORE_ECORRUPT (with a message) when the walk failed or the
 * child died; the database is then not opened.  Call it before the
 * process has threads.
 */
int store_check(const char *dir, char *err, size_t errlen);
/*
 * The map: store_open maps `mapsize` bytes (or what the database already
 * holds); on STORE_EFULL the writer calls store_grow, which doubles it up
 * to `max` (map_max) and returns STORE_OK, or STORE_EFULL at the maximum.
 * It waits until no transaction of this process is active.  A map grown
 * by another process is adopted by the next transaction here.
 */
void store_set_map_max(struct store *, uint64_t max);
/* The least number of entries of obsnew (the observable index's delta)
 * a merge into obs starts at (beside obs's size / 16; default
 * OBS_MERGE_MIN, 50,000): for tests and benchmarks. */
void store_set_obs_merge_min(struct store *, uint64_t n);
int store_grow(struct store *);
/* Clears the reader slots of processes that died (a killed import); also
 * done at open and when the reader table is full.  *cleared counts. */
int store_reader_check(struct store *, int *cleared);
/* The schema version recorded in the database. */
int store_schema(struct store *);
/* A 32-byte secret kept in the database (created once), for keyed MACs
 * that every process of the hub must agree on (paging tokens). */
int store_secret(struct store *, unsigned char key[32]);

/*
 * The registry: the codes of names of a kind (enum store_kind), the ones
 * never seen before registered in a write transaction of its own (so never
 * call it from a thread that holds one).  Returns a store_err.
 */
int store_codes(struct store *, int kind, const char *const names[], int n,
    uint32_t codes[]);
/* The code of a name, or STORE_ENOTFOUND when it was never registered
 * (inside a read transaction). */
int store_code_get(struct store_reader *, int kind, const char *name,
    size_t len, uint32_t *code);
/* The name of a code (borrowed until store_rend; not NUL-terminated). */
int store_code_name(struct store_reader *, int kind, uint32_t code,
    const char **name, size_t *len);

/*
 * Re-reading markings.  An object that refers to marking definitions its
 * producer has not published is stored with STORE_F_UNRESOLVED and the
 * missing ids; when that producer later stores one of them, the store calls
 * `cb` inside the write transaction with the object's JSON, and the
 * object's level and releasability become what cb says.  cb reads the
 * producer's definitions with store_wmarking.  Returns 0, or -1 to leave
 * the object as it is.
 */
typedef int store_remark_cb(struct store_wtxn *, uint32_t producer,
    const char *json, size_t len, struct store_mark *out);
void store_set_remark(struct store *, store_remark_cb *);
/* The latest stored version of `producer`'s marking-definition `uuid`, in
 * a write transaction: JSON borrowed until the next write. */
int store_wmarking(struct store_wtxn *, uint32_t producer,
    const unsigned char uuid[16], const char **json, size_t *len);

/* --- writing: one transaction at a time, from one thread --- */

int store_wbegin(struct store *, struct store_wtxn **);
/* A write transaction of the observable index only (ctihub reindex beside
 * a running hub): it leaves the writer's filter of ids alone (neither
 * built here nor made stale for the hub's writer); store_wput and
 * store_wdelete are STORE_ERR in it. */
int store_wbegin_obs(struct store *, struct store_wtxn **);
/*
 * Adds objects to collection `coll` on behalf of producer `producer`
 * (member code).  Sets each object's result and date_added; objects whose
 * json is NULL are skipped.  A failure
 * (STORE_EFULL, STORE_ERR) poisons the transaction: abort it.
 */
int store_wput(struct store_wtxn *, uint32_t coll, uint32_t producer,
    struct store_obj *objs, size_t n, int64_t now);
/* Stores a status resource until `expires`. */
int store_wstatus(struct store_wtxn *, const char *id, uint32_t owner,
    int64_t expires, const char *json, size_t len);
/* Removes from collection `coll` the versions of the object (type name,
 * uuid) that `match` accepts, of `producer` only (0: of every producer);
 * *removed counts them.  Each entry removed leaves a gone record in the
 * same transaction (store_gone_walk), dated by the date_added clock at the
 * wall-clock time of the call, after every date handed out before
 * (store_wlast_added covers it), with the releasability and id of the row
 * as it was. */
typedef int store_match_cb(const struct store_version *, void *arg);
int store_wdelete(struct store_wtxn *, uint32_t coll, const char *type,
    const unsigned char uuid[16], uint32_t producer, store_match_cb *match,
    void *arg, int *removed);
/*
 * Release twins: when a policy reload lets members see objects they could
 * not see before, every such object gets a second index entry, a twin,
 * with a new date_added, so pollers that already walked past the original
 * receive it.  The event record (its id is a date_added-like number from
 * the same clock) says who gained access to what; readers check it.
 * store_wrelease stores the record; store_wtwins scans collection entries
 * from *resume (0 at first) and adds a twin of each regular entry that
 * `want` accepts, stopping after `max` entries examined; *resume is 0 when
 * the scan is done.
 */
typedef int store_entry_cb(
    uint32_t coll, int64_t date_added, const struct store_entry *, void *arg);
int store_wrelease(struct store_wtxn *, uint64_t *event, const void *rec,
    size_t len, int64_t now);
int store_wtwins(struct store_wtxn *, uint64_t event, store_entry_cb *want,
    void *arg, int64_t now, unsigned char resume[12], int max, int *added);
/* The record of a release event (borrowed until store_rend). */
int store_release_get(
    struct store_reader *, uint64_t event, const void **rec, size_t *len);
/* Every release record, oldest first (borrowed until store_rend); stops
 * when cb returns nonzero and returns that, else 0 or a store_err. */
typedef int store_release_cb(
    uint64_t id, const void *rec, size_t len, void *arg);
int store_releases(struct store_reader *, store_release_cb *, void *arg);

/*
 * Audit records: a line stored in the transaction that writes what it
 * records (a publish), so that an acknowledged write always has its
 * record; audit.c exports them to the audit log file, then they are
 * trimmed.  Sequence numbers grow by one per record, never reused.
 */
int store_waudit(struct store_wtxn *, const char *line, size_t len);
/* Deletes the records up to sequence number `upto` (exported). */
int store_waudit_trim(struct store_wtxn *, uint64_t upto);
/* Calls cb with each record after `after`, in order, until cb returns
 * nonzero; a damaged record is passed with line NULL.  In a read txn. */
typedef int store_audit_cb(
    uint64_t seq, const char *line, size_t len, void *arg);
int store_audit_walk(
    struct store_reader *, uint64_t after, store_audit_cb *cb, void *arg);

/* Deletes status resources that expired before `now` (0: none) and gone
 * records dated before `gone_before` (0: none); at most `max` of each.
 * *pruned counts the statuses, *gone the gone records (may be NULL). */
int store_wprune(struct store_wtxn *, int64_t now, int64_t gone_before, int max,
    int *pruned, int *gone);

/*
 * Subscription state: an opaque value per name (the push engine's
 * format), sealed with a CRC like every record.  A name has 1 to
 * STORE_SUB_NAME_MAX bytes, a value at most STORE_SUB_VAL_MAX (else
 * STORE_ERR, the transaction not poisoned).  Deleting an absent name is
 * no error.
 */
int store_wsub_put(
    struct store_wtxn *, const char *name, const void *val, size_t len);
int store_wsub_del(struct store_wtxn *, const char *name);
/* A feed's record: part 'h' (its status) or 's' (its connector's state)
 * under the feed's name (1..STORE_SUB_NAME_MAX bytes), a value of at most
 * STORE_FEED_VAL_MAX bytes; del removes it (absent: no error). */
int store_wfeed_put(struct store_wtxn *, const char *name, char part,
    const void *val, size_t len);
int store_wfeed_del(struct store_wtxn *, const char *name, char part);
/* Commits durably (fsync) and frees the transaction. */
int store_wcommit(struct store_wtxn *);
void store_wabort(struct store_wtxn *);
/* The last date_added (or release id) the transaction handed out: an
 * entry it adds next comes after it (the writer's commit notices). */
int64_t store_wlast_added(const struct store_wtxn *);

/* --- reading: a reader per thread, one read transaction per request --- */

int store_reader_new(struct store *, struct store_reader **);
void store_reader_free(struct store_reader *);
/* Starts a snapshot; everything read is valid until store_rend. */
int store_rbegin(struct store_reader *);
void store_rend(struct store_reader *);

/*
 * Walks collection `coll` in date_added order, from the first entry after
 * `after` (exclusive).  store_walk_next returns 1 with an item, 0 at the
 * end of the collection, or a negative store_err.
 */
int store_walk_start(struct store_reader *, uint32_t coll, int64_t after);
int store_walk_next(struct store_reader *, struct store_item *);
/* The transaction id of the current snapshot: changes with every write. */
uint64_t store_snapshot(struct store_reader *);
/* The newest date_added in `coll` (0 when empty). */
int store_last_added(struct store_reader *, uint32_t coll, int64_t *out);
/* The entry at (coll, date_added). */
int store_entry_get(struct store_reader *, uint32_t coll, int64_t date_added,
    struct store_entry *out);

/* An object version by row: STORE_ECORRUPT (and a log line) when the row
 * fails its checksum or its lengths. */
int store_obj_get(
    struct store_reader *, uint64_t rowid, struct store_objview *);
/* The first row after `after` (0: the first of all), in rowid order:
 * STORE_OK and *rowid, or STORE_ENOTFOUND after the last. */
int store_obj_next(struct store_reader *, uint64_t after, uint64_t *rowid);
/* The object an index entry points to, which must be that entry's
 * (producer, type, uuid, version), else STORE_ECORRUPT. */
int store_obj_of(
    struct store_reader *, const struct store_entry *, struct store_objview *);

/*
 * The stored versions of an object (type code, uuid) of `producer`, or of
 * every producer when it is 0 (producer by producer, in code order), oldest
 * first; calls `cb` for each and stops when it returns nonzero (then
 * returns that value).  Returns 0 after the last, or a negative store_err.
 */
typedef int store_version_cb(const struct store_version *, void *arg);
int store_versions(struct store_reader *, uint32_t type,
    const unsigned char uuid[16], uint32_t producer, store_version_cb *cb,
    void *arg);

/*
 * The latest stored version of `producer`'s object (type name, uuid): the
 * one with the highest version, read as store_obj_get reads it (borrowed
 * until store_rend).  STORE_ENOTFOUND when there is none.  The write
 * side's twin, for marking definitions, is store_wmarking.
 */
int store_latest(struct store_reader *, const char *type,
    const unsigned char uuid[16], uint32_t producer, struct store_objview *);

/*
 * Calls cb for each gone record of coll with after < date <= upto, in
 * date order; cb returns nonzero to stop (that value is returned).
 * Inside a read transaction.  0, a store_err (STORE_ECORRUPT and a log
 * line for a damaged record: the walk stops there), or cb's value.
 */
typedef int store_gone_cb(const struct store_gone *, void *arg);
int store_gone_walk(struct store_reader *, uint32_t coll, int64_t after,
    int64_t upto, store_gone_cb *cb, void *arg);
/* The date of the newest gone record of coll (0 when it has none) in
 * this read transaction: what changes when a version leaves it. */
int store_gone_last(struct store_reader *, uint32_t coll, int64_t *out);
/* The newest value the date_added clock has given (meta last_added), in
 * this read transaction: an entry or gone record written later is after
 * it.  0 in an empty database. */
int store_clock(struct store_reader *, int64_t *out);

/* Subscription state by name: STORE_ENOTFOUND when absent; *val borrowed
 * until store_rend. */
int store_sub_get(
    struct store_reader *, const char *name, const void **val, size_t *len);
/* Every subscription record in name order (name NUL-terminated, valid for
 * the call; val borrowed until store_rend); stops when cb returns nonzero
 * (that value is returned).  STORE_ECORRUPT (and a log line) at a damaged
 * record. */
typedef int store_sub_cb(
    const char *name, const void *val, size_t len, void *arg);
int store_sub_walk(struct store_reader *, store_sub_cb *cb, void *arg);

/* A feed's record (store_wfeed_put): STORE_ENOTFOUND when absent,
 * STORE_ECORRUPT when it fails its checksum; *val borrowed until
 * store_rend. */
int store_feed_get(struct store_reader *, const char *name, char part,
    const void **val, size_t *len);

/* A status resource: the JSON is borrowed until store_rend. */
int store_status_get(struct store_reader *, const char *id, uint32_t *owner,
    int64_t *expires, const char **json, size_t *len);

/*
 * Drops this process's page-table entries for the map (the data stays in
 * the page cache and faults back in on the next access).  The id index
 * moves through the file as LMDB copies pages on write, so without this
 * the resident set of a long-running writer grows to the whole file.
 */
void store_release_pages(struct store *);

/*
 * The observable index (table obs): for each observable, the rows of the
 * object versions that hold it, one list per observable (never pairwise
 * rows), in rowid order.  A key is opaque to the store: 1 to
 * STORE_OBS_KEY_MAX bytes, exactly the key observable.h makes from a
 * normalised value: the type byte, then for IPv4/IPv6 the address bytes
 * (4 or 16, network order) and the prefix length (32/128 for one
 * address), so that the addresses and ranges inside a range are one range
 * of keys and the ranges holding an address are one store_obs_get per
 * prefix length (store_obs_prefixes says which lengths exist); for every
 * other type the canonical text (a long one cut and ended by a NUL and
 * its SHA-256).
 * Each row's entry carries what a lookup filters on before it reads the
 * row: the producer, flags (STORE_OBS_F_*) and valid_until.  A row's
 * entries are written when it is stored (store_obj.obs) and removed when
 * it is deleted; table obsrow keeps, per row, the list of its observables
 * (so a delete knows what to remove and a lookup can find a file's other
 * hashes); ctihub reindex rewrites both (store_wobs_row).
 */
#define STORE_OBS_KEY_MAX 256
#define STORE_OBS_FOREVER INT64_MAX /* valid_until when there is none */
#define STORE_OBS_ALWAYS  INT64_MIN /* valid_from when there is none */

enum store_obs_flag {
	STORE_OBS_F_REVOKED = 1 << 0, /* the version is revoked */
	STORE_OBS_F_PATTERN = 1 << 1, /* from an indicator's pattern (else an
					 SCO or observed-data) */
	/* the other bits are the extraction module's; a range is told by
	 * its key (the prefix length), not by a flag */
};

/* A key as the caller holds it (borrowed for the call). */
struct store_obs_key {
	const unsigned char *key;
	size_t len;
};

/* One row of an observable's list, as read. */
struct store_obs_row {
	uint64_t rowid;
	uint32_t producer;
	uint8_t flags;	     /* enum store_obs_flag */
	int64_t valid_until; /* microseconds since the epoch, or
				STORE_OBS_FOREVER */
};

/*
 * In the writer's transaction: lists row `rowid` (its producer, flags and
 * valid_until) under each of the n keys, or takes it off them.  A key
 * listed twice, a row already listed (with the same metadata) or a row
 * not listed is no error.  A key of 0 or more than STORE_OBS_KEY_MAX bytes
 * is STORE_ERR before anything is written (the transaction not
 * poisoned); an LMDB failure poisons it.
 */
int store_wobs_add(struct store_wtxn *, uint64_t rowid,
    const struct store_obs_key *keys, int n, uint32_t producer, uint8_t flags,
    int64_t valid_until);
int store_wobs_del(struct store_wtxn *, uint64_t rowid,
    const struct store_obs_key *keys, int n);
/*
 * Calls cb with each row listed under the key (store_obs_get), or under
 * every key k with lo <= k <= hi in LMDB's order (bytes compared, then
 * length; store_obs_range), keys in order and each key's rows in rowid
 * order.  key is borrowed until store_rend.  Returns 0 after the last row
 * (none: no error), cb's value when it returns nonzero (and stops), or a
 * store_err: STORE_ECORRUPT (and a log line) at a damaged entry, where it
 * stops.  Inside a read transaction.
 */
typedef int store_obs_cb(const unsigned char *key, size_t len,
    const struct store_obs_row *, void *arg);
int store_obs_get(struct store_reader *, const void *key, size_t len,
    store_obs_cb *cb, void *arg);
int store_obs_range(struct store_reader *, const void *lo, size_t lolen,
    const void *hi, size_t hilen, store_obs_cb *cb, void *arg);

/* A row's observables (table obsrow), borrowed until store_rend. */
struct store_obsrow {
	int64_t valid_until;
	int64_t valid_from;
	uint8_t confidence;
	uint8_t flags;
	int n;
	const unsigned char *items; /* packed as stored */
	size_t len;
};
/* STORE_ENOTFOUND when the row holds no observables; STORE_ECORRUPT (and
 * a log line) when the record fails its checksum or its lengths. */
int store_obsrow_get(
    struct store_reader *, uint64_t rowid, struct store_obsrow *);
/* The next item of a row's list, *pos from 0: 1 with it (pointers into
 * the record), 0 at the end, or STORE_ECORRUPT. */
int store_obsrow_next(
    const struct store_obsrow *, size_t *pos, struct store_obs_item *);
/*
 * The prefix lengths present in the index for `type` (1: IPv4, 2: IPv6,
 * observable.h's OBS_IPV4/OBS_IPV6): bit p of *lo (p < 64) or of *hi (bit
 * p - 64, p < 128) is set when some key of prefix length p may exist.
 * IPv6's 128 has no bit (65 lengths from 64 to 128 do not fit in hi): an
 * address's own key, /32 or /128, is always to be probed.  A damaged
 * bitmap reads as every length.  Bits are
 * only added as keys are written (meta "obs_pfx4"/"obs_pfx6"), so a bit
 * may outlive its last key until store_wobs_prefixes drops it; lookups
 * probe only these lengths.
 */
int store_obs_prefixes(
    struct store_reader *, int type, uint64_t *lo, uint64_t *hi);
/*
 * Reindex (in the writer's transaction): replaces row `rowid`'s
 * observables with `set` (NULL: none): removes the entries its obsrow
 * record lists and writes the new ones and the record.  A row deleted
 * since (no object row) gets nothing: STORE_ENOTFOUND.  STORE_ERR for a
 * set out of bounds (nothing written, the transaction not poisoned); an
 * LMDB failure poisons it.
 */
int store_wobs_row(struct store_wtxn *, uint64_t rowid, uint32_t producer,
    const struct store_obs_set *);
/*
 * Reindex: (lo, hi) are the prefix lengths a walk of the whole index
 * found for `type`; lengths in the stored bitmap and not found are
 * checked against the index in this transaction (keys written since the
 * walk passed count) and dropped when no key has them.
 */
int store_wobs_prefixes(
    struct store_wtxn *, int type, uint64_t lo, uint64_t hi);
/*
 * Reindex, second pass: walks index entries from `resume` (resume_len 0
 * at first) and removes each whose row has no list of observables
 * holding its key (a row gone, an entry left by a crash or a bug),
 * stopping after `max` entries; resume_len is 0 when the walk is done.
 * Counts the entries seen and removed, and adds the IP prefix lengths
 * of the keys kept to pfx[0] (IPv4) and pfx[1] (IPv6) (lo, hi).
 */
struct store_obs_resume {
	unsigned char key[STORE_OBS_KEY_MAX];
	size_t len; /* 0: from the start, or (after a call) done */
	uint64_t rowid;
	int started;
	int in_main; /* walking obs (after obsnew, which goes first) */
};
int store_wobs_prune(struct store_wtxn *, struct store_obs_resume *, int max,
    uint64_t *seen, uint64_t *removed, uint64_t pfx[2][2]);

/* Counts for operators and benchmarks. */
struct store_stats {
	uint64_t objects;  /* stored versions */
	uint64_t ids_main; /* entries in the merged id index */
	uint64_t ids_new;  /* entries waiting to be merged */
	uint64_t statuses;
	uint64_t map_used; /* bytes of the map in use */
	uint64_t map_size; /* bytes of the map now (it grows to map_max) */
	uint64_t audit;	   /* publish records not yet in the audit log */
	uint64_t gone;	   /* deletion records kept for push and streams */
	uint64_t subs;	   /* subscription records */
	uint64_t feeds;	   /* feed records (status and state) */
	uint64_t obs;	   /* observable index entries (key, row) */
	uint64_t obs_new;  /* of which in obsnew, waiting to be merged */
};
int store_stats(struct store *, struct store_stats *);

/* A store_err in words ("the database is full" ...). */
const char *store_strerror(int);

/*
 * Walks the whole database in one read transaction (beside a running
 * hub): every record's checksum and lengths; every id index entry's row
 * and the collection entries it names; every collection entry's row (and
 * a twin's original and release event); the registry both ways; status
 * expiry keys; gone and subscription records; every observable index
 * entry, the row it names (by its producer) and that row's list holding
 * its key; every row's list of observables, its row, and each item's
 * entry; every IP key's prefix length in the bitmap.  Calls `cb` with a
 * sentence for each problem (the first `max` of them; all are counted).
 * Returns STORE_OK when it could walk (problems or not), else a
 * store_err.
 */
struct store_verify {
	uint64_t objects, entries, ids, statuses, releases, names, audit;
	uint64_t gone, subs, feeds;
	uint64_t obs;	  /* observable index entries (key, row) */
	uint64_t obsrows; /* rows' lists of observables */
	uint64_t problems;
};
typedef void store_verify_cb(const char *problem, void *arg);
int store_verify(struct store *, int max, store_verify_cb *cb, void *arg,
    struct store_verify *out);

#endif
