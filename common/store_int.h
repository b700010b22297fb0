/*
 * store_int.h -- what the parts of the store share, private to
 * common/store_*.c: the record layouts (the tables are listed in store.h),
 * the environment and its table handles, the write transaction and the
 * reader, and the helpers every part uses to begin a transaction and to
 * check a record.  Nothing outside common/store_*.c includes it; the API
 * is include/ctihub/store.h.
 *
 *   store_env.c     the environment: open, close, schema, map growth,
 *                   reader slots, the registry of codes, stats
 *   store_rec.c     records: checksums, bounds, the id index scans
 *   store_write.c   the write transaction: put, delete (and its gone
 *                   records), markings, pending, status, prune, audit,
 *                   release and subscription records
 *   store_read.c    readers: walks, lookups, versions, status, gone
 *                   and subscription records
 *   store_obs.c     the observable index: rows listed under
 *                   observable keys (obs, and its delta obsnew merged
 *                   into it at commit), and lookups of keys and ranges
 *   store_verify.c  ctihub verify: the walk of the whole database
 */
#ifndef CTIHUB_STORE_INT_H
#define CTIHUB_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "ctihub/bytes.h"
#include "ctihub/store.h"

#define STORE_MAXDBS 32 /* mdb_env_set_maxdbs: room for new tables */

#define OBJ_MAGIC 0xC7
#define OBJ_HVER  2 /* 2: the header ends with the row's CRC-32C */
#define CRC_LEN	  4 /* the CRC-32C after a value (big-endian) */

enum {
	DB_META,
	DB_OBJ,
	DB_IDS,
	DB_IDSNEW,
	DB_ADDED,
	DB_STATUS,
	DB_STATUSX,
	DB_RELEASE,
	DB_REG,
	DB_PENDING,
	DB_AUDIT,
	DB_GONE,
	DB_SUBS,
	DB_OBS,
	DB_OBSROW,
	DB_OBSNEW,
	DB_FEEDS,
	DB_COUNT
};

/* The table names, by DB_* (store_env.c). */
extern const char *const store_db_names[DB_COUNT];

/* The writer's memory of type codes (committed ones only: a code handed
 * out in a transaction that is then aborted must not survive it). */
#define TYPES_CACHE 512
struct type_slot {
	char name[64];
	uint32_t code;
};

/* What follows the entry in the value of a release twin. */
struct twin_ext {
	int64_t orig_added;
	uint64_t event;
} __attribute__((packed));

/*
 * A Bloom filter of every (uuid, type) in the id index, kept by the
 * writer: most objects posted are new, and for them the filter answers
 * "not stored" without a search of the id index (a few cache and page
 * misses each).  It only ever errs towards "maybe", which costs the
 * search.  Another process writing the database (an import beside the
 * hub) changes meta "writer"; the filter is then rebuilt from the index.
 */
struct bloom {
	uint64_t *bits;
	uint64_t nbits;
	uint64_t count;
	uint64_t cap;
	int valid;
};

struct store {
	MDB_env *env;
	/* Held shared by every transaction of this process, exclusively
	 * while the map is resized (no transaction may be active then). */
	pthread_rwlock_t quiesce;
	uint64_t map_max;
	char *dir;
	struct bloom bloom;
	struct type_slot types[TYPES_CACHE];
	store_remark_cb *remark;
	uint64_t writer_id; /* this process, in meta "writer" */
	void *map;	    /* the mapping of data.mdb, from /proc/self/maps */
	size_t maplen;
	size_t psize;
	_Atomic uintptr_t map_hi; /* the end of the file's pages in the map */
	MDB_dbi dbi[DB_COUNT];
	uint64_t obs_merge_min; /* obsnew's least size to merge at */
	int schema;
	unsigned char secret[32];
};

/* An object row: this header, then nrelease country pairs, the id and
 * the JSON. */
struct obj_hdr {
	uint8_t magic;
	uint8_t hver;
	uint8_t tlp;
	uint8_t flags;
	uint32_t producer;
	uint32_t type;
	unsigned char uuid[16];
	int64_t version;
	int64_t first_added;
	uint16_t idlen;
	uint8_t nrelease;
	uint8_t pad;
	uint32_t jsonlen;
	uint32_t crc; /* of the key, the header before it, and the rest */
} __attribute__((packed));

/* A membership in an id index value. */
struct member_rec {
	uint32_t coll;
	int64_t date_added;
} __attribute__((packed));

#define IDKEY_LEN    32 /* uuid(16) type(4) producer(4) version(8) */
#define IDPFX_OBJ    20 /* uuid and type: the object, every producer's */
#define IDPFX_PROD   24 /* and the producer: one producer's object */
#define MAX_VERSIONS STORE_MAX_VERSIONS
#define nitems(a)    (sizeof(a) / sizeof((a)[0]))
#define ADDKEY_LEN   12 /* coll(4) date_added(8); a gone record's too */
#define REG_NAME_MAX 256

/* Our own finding of a damaged record (a checksum or lengths that do not
 * add up), beside LMDB's codes. */
#define BADREC (-30700)

struct store_wtxn {
	struct store *st;
	MDB_txn *txn;
	MDB_cursor *c_obj;
	MDB_cursor *c_ids;
	MDB_cursor *c_new;
	MDB_cursor *c_obs;    /* opened at the first observable written */
	MDB_cursor *c_obsnew; /* with c_obs */
	uint64_t obs_added;   /* entries written to obsnew */
	/* IP prefix lengths written in this transaction ([0] IPv4, [1]
	 * IPv6; lo, hi): added to meta obs_pfx4/obs_pfx6 at commit */
	uint64_t pfx[2][2];
	int64_t last_added;
	uint64_t last_row;
	uint64_t last_code;
	uint64_t audit_seq;
	int audit_loaded; /* audit_seq read (and written at commit) */
	int obs_only;	  /* store_wbegin_obs: the observable index only */
	int err;
	/* types registered in this transaction: cached at commit */
	int nnewtypes;
	struct type_slot newtypes[16];
};

struct store_reader {
	struct store *st;
	MDB_txn *txn;
	int active;
	MDB_cursor *c_added;
	MDB_cursor *c_ids;
	MDB_cursor *c_new;
	MDB_cursor *c_obj;
	MDB_cursor *c_obs;
	MDB_cursor *c_obsnew;
	uint64_t obj_row;	       /* where c_obj stands, 0: nowhere */
	uintptr_t obj_page, walk_page; /* pages last prefetched */
	uint64_t last_txn; /* snapshot of the cached last_added, 0: none */
	uint32_t last_coll;
	int64_t last_added;
	uint32_t walk_coll;
	int walk_pending; /* 1: the cursor sits on the next item to yield */
	int walk_rc;
};

/*
 * A gone record's value (integers big-endian): producer(4) type(4)
 * uuid(16) version(8) tlp(1) flags(1) nrelease(1), nrelease country pairs,
 * idlen(2), the id, then the CRC.  GONE_HEAD is what comes before the
 * pairs; GONE_MIN the least value (no pairs, an empty id) before the CRC.
 */
#define GONE_HEAD 35
#define GONE_MIN  (GONE_HEAD + 2)

/*
 * An observable index entry (a duplicate of its key; all the same size,
 * MDB_DUPFIXED): rowid(8) producer(4) flags(1) valid_until(8, signed, its
 * sign bit flipped), then the CRC of key and entry.  Duplicates sort by
 * rowid, the first bytes.
 */
#define OBS_ENTRY     21
#define OBS_ENTRY_LEN (OBS_ENTRY + CRC_LEN)

/*
 * A row's list of observables (obsrow, keyed by rowid(8)):
 * valid_until(8, as an entry's) valid_from(8) confidence(1) flags(1) n(2),
 * then n items
 * group(1) keylen(2) key textlen(2) text, then the CRC.
 */
#define OBSROW_HEAD 20
#define OBSITEM_MIN 5 /* an item's fixed bytes */

/* A version found while scanning the id index, and where it lives. */
struct found {
	uint32_t producer;
	int64_t version;
	int in_new; /* lives in idsnew (else ids) */
	uint64_t rowid;
	int nmember;
	struct member_rec member[STORE_MAX_MEMBERSHIP];
};

/* --- keys --- */

/* Signed versions sort as unsigned once the sign bit is flipped. */
static inline void
put_version(unsigned char *p, int64_t v)
{
	put_be64(p, (uint64_t)v ^ (UINT64_C(1) << 63));
}

static inline int64_t
get_version(const unsigned char *p)
{
	return (int64_t)(get_be64(p) ^ (UINT64_C(1) << 63));
}

static inline void
idkey(unsigned char k[IDKEY_LEN], const unsigned char uuid[16], uint32_t type,
    uint32_t producer, int64_t version)
{
	memcpy(k, uuid, 16);
	put_be32(k + 16, type);
	put_be32(k + 20, producer);
	put_version(k + 24, version);
}

static inline void
addkey(unsigned char k[ADDKEY_LEN], uint32_t coll, int64_t da)
{
	put_be32(k, coll);
	put_be64(k + 4, (uint64_t)da);
}

/* --- the environment (store_env.c) --- */

/* An LMDB code (or BADREC) as a store_err, logged once with `what`. */
int store_mdb_err(int rc, const char *what);
/* Shared hold of the map: every transaction runs under it; it nests. */
void store_hold(struct store *);
void store_unhold(struct store *);
/* Begins a transaction (the caller holds the store), adopting a map
 * another process grew and clearing dead readers' slots when needed. */
int store_begin(struct store *, unsigned int flags, MDB_txn **);
/* Takes the map size another process gave the database. */
int store_adopt(struct store *);
/* Notes where the file's pages end in the map. */
void store_map_extent(struct store *);
int store_meta_get(MDB_txn *, MDB_dbi, const char *key, uint64_t *v);
int store_meta_put(MDB_txn *, MDB_dbi, const char *key, uint64_t v);
/* The registry: a name's code, or a new code for it (write
 * transaction; *last counts the codes handed out). */
int store_reg_get(MDB_txn *, const struct store *, int kind, const char *name,
    size_t len, uint32_t *code);
int store_reg_put(MDB_txn *, const struct store *, int kind, const char *name,
    size_t len, uint64_t *last, uint32_t *code);

/* --- records (store_rec.c) --- */

uint32_t store_kv_crc(const MDB_val *k, const void *v, size_t n);
/* Writes the CRC of key and value after the value (CRC_LEN bytes of room
 * at v + n). */
void store_seal(const MDB_val *k, unsigned char *v, size_t n);
/* A value with its CRC after it: 0 and the length before the CRC, or
 * BADREC. */
int store_unseal(
    const struct store *, const MDB_val *k, const MDB_val *d, size_t *n);
/* Seals an index entry (its check field). */
void store_entry_seal(const unsigned char *key, void *val, size_t len);
/* An index entry as read: 0 when its size and check hold, else BADREC. */
int store_entry_ok(const struct store *, const MDB_val *k, const MDB_val *d);
/* An object row as read: 0 with its header in *h, else BADREC. */
int store_obj_ok(const struct store *, const MDB_val *k, const MDB_val *d,
    struct obj_hdr *h);
/* An id index value: rowid(8), memberships, CRC. */
int store_decode_idval(
    const struct store *, const MDB_val *k, const MDB_val *d, struct found *f);
/* A sealed record by key: STORE_OK with the value in *d and its length
 * before the CRC in *n, STORE_ENOTFOUND, or a logged store_err. */
int store_get_sealed(MDB_txn *, const struct store *, int db, MDB_val *k,
    MDB_val *d, size_t *n, const char *what);
/* An index entry (a twin's too) as a walk yields it. */
int store_decode_item(const struct store *, const MDB_val *k, const MDB_val *d,
    struct store_item *it);
/* The versions of one producer's object across both id indexes, oldest
 * first (v holds MAX_VERSIONS). */
int store_all_versions(const struct store *, MDB_cursor *c_ids,
    MDB_cursor *c_new, const unsigned char uuid[16], uint32_t type,
    uint32_t producer, struct found *v, int *n);
/* The newest version of one producer's object: 0 and *f, or
 * MDB_NOTFOUND. */
int store_latest_version(const struct store *, MDB_cursor *c_ids,
    MDB_cursor *c_new, const unsigned char uuid[16], uint32_t type,
    uint32_t producer, struct found *f);
/* The first producer, from `from` on, that holds versions of the object:
 * 0 and *out, or MDB_NOTFOUND. */
int store_next_producer(MDB_cursor *c_ids, MDB_cursor *c_new,
    const unsigned char uuid[16], uint32_t type, uint32_t from, uint32_t *out);
/* A gone record as read (key and value): 0 with g filled (strings
 * pointing into d), or BADREC. */
int store_decode_gone(const struct store *, const MDB_val *k, const MDB_val *d,
    struct store_gone *g);
/* The public form of a found version. */
void store_to_version(const struct found *, struct store_version *);

/* --- the observable index (store_obs.c) --- */

/* store_wobs_add and store_wobs_del as the write path calls them (from
 * store_wput and store_wdelete): 0, EINVAL for a key out of bounds
 * (nothing written), or an LMDB code, the transaction left to the caller
 * (no sticky error set). */
int store_obs_put(struct store_wtxn *, uint64_t rowid,
    const struct store_obs_key *keys, int n, uint32_t producer, uint8_t flags,
    int64_t valid_until);
int store_obs_remove(struct store_wtxn *, uint64_t rowid,
    const struct store_obs_key *keys, int n);
/* A set within bounds (count, key and text lengths): 0, else EINVAL. */
int store_obs_set_ok(const struct store_obs_set *);
/* Writes a new row's observables: its entries and its obsrow record
 * (append: the row is the newest, its record goes at the end). */
int store_obs_put_row(struct store_wtxn *, uint64_t rowid, uint32_t producer,
    const struct store_obs_set *, int append);
/* Removes a row's entries (those its record lists) and its record; a row
 * without one is no error. */
int store_obs_drop_row(struct store_wtxn *, uint64_t rowid);
/* An obsrow record as read: 0 and *out (every item whole), else BADREC. */
int store_obsrow_decode(const struct store *, const MDB_val *k,
    const MDB_val *d, struct store_obsrow *out);
/* Whether row rk's list holds key k: 1, 0 (no, or no list), or BADREC
 * (a damaged list). */
int store_obsrow_lists(MDB_txn *, const struct store *,
    const unsigned char rk[8], const MDB_val *k);
/* Marks prefix length p in a bitmap (lo, hi): bit p of lo, bit p - 64
 * of hi.  IPv6's 128 has no bit (65 lengths from 64 to 128 do not fit
 * in hi): an address's own key is always probed. */
static inline void
obs_pfx_mark(uint64_t b[2], int p)
{
	if (p >= 0 && p < 128)
		b[p >> 6] |= UINT64_C(1) << (p & 63);
}

/* Which prefix bitmap an IP key marks: 0 (IPv4), 1 (IPv6), else -1; *p
 * its prefix length. */
int store_obs_ip_prefix(const unsigned char *key, size_t len, int *p);
/* The stored bitmap of family f (0 IPv4, 1 IPv6): 0 (zeros when none),
 * BADREC, or an LMDB code. */
int store_obs_pfx_get(MDB_txn *, const struct store *, int f, uint64_t b[2]);
/* At commit: adds the prefix lengths written to meta, and moves a slice
 * of obsnew into obs when a merge is due or under way. */
int store_obs_commit(struct store_wtxn *);
/* Least obsnew size a merge starts at (store_set_obs_merge_min). */
#define OBS_MERGE_MIN 50000

#endif
