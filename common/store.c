/*
 * store.c -- the LMDB object store (layout in store.h).  Writes go through
 * one write transaction with a sticky error; reads through a reader per
 * thread whose read-only transaction is reset between requests and renewed
 * at the next, so no snapshot outlives a request.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/rand.h>

#include "ctihub/alloc.h"
#include "ctihub/bytes.h"
#include "ctihub/hash.h"
#include "ctihub/log.h"
#include "ctihub/store.h"

#define OBJ_MAGIC 0xC7
#define OBJ_HVER  2 /* 2: the header ends with the row's CRC-32C */
#define CRC_LEN	  4 /* the CRC-32C after a value (big-endian) */

/* Minimum size of the id delta index before it is merged into the main
 * one; it also grows with the main index (1/16 of it) so the cost of a
 * merge per merged entry stays flat as the store grows. */
#define IDS_MERGE_MIN 50000

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
	DB_COUNT
};

static const char *const db_names[DB_COUNT] = {"meta", "obj", "ids", "idsnew",
    "added", "status", "statusx", "release", "reg", "pending", "audit"};

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
	int schema;
	unsigned char secret[32];
};

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

struct member_rec {
	uint32_t coll;
	int64_t date_added;
} __attribute__((packed));

#define IDKEY_LEN    32 /* uuid(16) type(4) producer(4) version(8) */
#define IDPFX_OBJ    20 /* uuid and type: the object, every producer's */
#define IDPFX_PROD   24 /* and the producer: one producer's object */
#define MAX_VERSIONS STORE_MAX_VERSIONS
#define nitems(a)    (sizeof(a) / sizeof((a)[0]))
#define ADDKEY_LEN   12 /* coll(4) date_added(8) */

struct store_wtxn {
	struct store *st;
	MDB_txn *txn;
	MDB_cursor *c_obj;
	MDB_cursor *c_ids;
	MDB_cursor *c_new;
	int64_t last_added;
	uint64_t last_row;
	uint64_t last_code;
	uint64_t audit_seq;
	int audit_loaded; /* audit_seq read (and written at commit) */
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
	uint64_t obj_row;	       /* where c_obj stands, 0: nowhere */
	uintptr_t obj_page, walk_page; /* pages last prefetched */
	uint64_t last_txn; /* snapshot of the cached last_added, 0: none */
	uint32_t last_coll;
	int64_t last_added;
	uint32_t walk_coll;
	int walk_pending; /* 1: the cursor sits on the next item to yield */
	int walk_rc;
};

static int store_mdb_err(int rc, const char *what);

/*
 * LMDB writes each run of contiguous dirty pages with one writev(2).  On
 * Linux ext4 the page cache then holds those pages in large folios, and a
 * later rewrite of any 4 KiB page in such a folio (the id index rewrites
 * pages all over the file) makes writeback send the whole folio to disk
 * again: measured here, 8 bytes reached the disk for every byte written,
 * and every commit's fsync waited for them.  Writing the data file page by
 * page keeps its cache in 4 KiB folios (MDB_NORDAHEAD does the same for
 * pages read through the map).  This writev stands in for the C library's
 * for the LMDB data file only; any other descriptor goes straight to the
 * system call, as the C library's writev does.
 */
static int store_data_fd = -1;

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	off_t off;
	ssize_t total = 0, w;
	size_t done, len;
	int i;

	if (fd != store_data_fd || fd < 0)
		return syscall(SYS_writev, fd, iov, n);
	if ((off = lseek(fd, 0, SEEK_CUR)) == -1)
		return -1;
	for (i = 0; i < n; i++)
		for (done = 0; done < iov[i].iov_len; done += (size_t)w) {
			len = iov[i].iov_len - done;
			if (len > 4096)
				len = 4096;
			w = pwrite(
			    fd, (const char *)iov[i].iov_base + done, len, off);
			if (w <= 0) {
				/* LMDB takes a short write for EIO: say
				 * why (ENOSPC) instead */
				if (w == 0)
					errno = ENOSPC;
				return -1;
			}
			off += w;
			total += w;
		}
	if (lseek(fd, off, SEEK_SET) == -1)
		return -1;
	return total;
}
static void find_map(struct store *);

/* --- encoding --- */

/* Signed versions sort as unsigned once the sign bit is flipped. */
static void
put_version(unsigned char *p, int64_t v)
{
	put_be64(p, (uint64_t)v ^ (UINT64_C(1) << 63));
}

static int64_t
get_version(const unsigned char *p)
{
	return (int64_t)(get_be64(p) ^ (UINT64_C(1) << 63));
}

static void
idkey(unsigned char k[IDKEY_LEN], const unsigned char uuid[16], uint32_t type,
    uint32_t producer, int64_t version)
{
	memcpy(k, uuid, 16);
	put_be32(k + 16, type);
	put_be32(k + 20, producer);
	put_version(k + 24, version);
}

static void
addkey(unsigned char k[ADDKEY_LEN], uint32_t coll, int64_t da)
{
	put_be32(k, coll);
	put_be64(k + 4, (uint64_t)da);
}

/* Our own finding of a damaged record (a checksum or lengths that do not
 * add up), beside LMDB's codes. */
#define BADREC (-30700)

static int
store_mdb_err(int rc, const char *what)
{
	switch (rc) {
	case 0:
		return STORE_OK;
	case MDB_NOTFOUND:
		return STORE_ENOTFOUND;
	case MDB_MAP_FULL:
		/* the writer grows the map (store_grow) and says so */
		log_debug("store: %s: the map is full", what);
		return STORE_EFULL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
	case EIO:
		log_warnx("store: %s: %s: the write could not be made durable "
			  "(nothing of it was committed)",
		    what, strerror(rc));
		return STORE_EDISK;
	case BADREC:
		log_warnx("store: %s: a record fails its checksum or its "
			  "lengths: the database is damaged (run ctihub "
			  "verify)",
		    what);
		return STORE_ECORRUPT;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
		log_warnx("store: %s: %s: the database is damaged (run ctihub "
			  "verify)",
		    what, mdb_strerror(rc));
		return STORE_ECORRUPT;
	default:
		log_warnx("store: %s: %s", what, mdb_strerror(rc));
		return STORE_ERR;
	}
}

/* --- checksums and bounds --- */

/*
 * A length read from the map is checked before anything is read through
 * it: a value in the map must end within the pages the file holds (past
 * them a read faults), and no value is larger than STORE_VAL_MAX.  A
 * value outside the map sits in a dirty page of this process's write
 * transaction.
 */
#define STORE_VAL_MAX (UINT64_C(1) << 31)

static int
in_bounds(const struct store *st, const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)st->map;
	uintptr_t hi = atomic_load_explicit(&st->map_hi, memory_order_relaxed);

	if (n > STORE_VAL_MAX)
		return 0;
	if (lo == 0 || a < lo || a >= lo + st->maplen)
		return 1;
	return a < hi && n <= hi - a;
}

/* Notes where the file's pages end in the map (they only ever grow). */
static void
map_extent(struct store *st)
{
	MDB_envinfo ei;
	uintptr_t hi, cur;

	if (st->map == NULL || mdb_env_info(st->env, &ei) != 0)
		return;
	hi = (uintptr_t)st->map + (uintptr_t)(ei.me_last_pgno + 1) * st->psize;
	cur = atomic_load(&st->map_hi);
	while (hi > cur && !atomic_compare_exchange_weak(&st->map_hi, &cur, hi))
		;
}

static uint32_t
kv_crc(const MDB_val *k, const void *v, size_t n)
{
	return hash_crc32c(hash_crc32c(0, k->mv_data, k->mv_size), v, n);
}

/* Writes the CRC of key and value after the value (CRC_LEN bytes of room
 * at v + n). */
static void
seal(const MDB_val *k, unsigned char *v, size_t n)
{
	put_be32(v + n, kv_crc(k, v, n));
}

/* A value with its CRC after it: 0 and the length before the CRC, or
 * BADREC. */
static int
unseal(const struct store *st, const MDB_val *k, const MDB_val *d, size_t *n)
{
	if (d->mv_size < CRC_LEN || !in_bounds(st, d->mv_data, d->mv_size))
		return BADREC;
	*n = d->mv_size - CRC_LEN;
	if (get_be32((const unsigned char *)d->mv_data + *n) !=
	    kv_crc(k, d->mv_data, *n))
		return BADREC;
	return 0;
}

/* The check of an index entry (a twin's extension included): the CRC of
 * key and value with the check field zero, folded to 16 bits. */
static uint16_t
entry_check(const unsigned char *key, const void *val, size_t len)
{
	unsigned char v[sizeof(struct store_entry) + sizeof(struct twin_ext)];
	MDB_val k = {ADDKEY_LEN, (void *)(uintptr_t)key};
	uint32_t c;

	memcpy(v, val, len);
	memset(v + offsetof(struct store_entry, check), 0, 2);
	c = kv_crc(&k, v, len);
	return (uint16_t)(c ^ c >> 16);
}

static void
entry_seal(const unsigned char *key, void *val, size_t len)
{
	uint16_t c = entry_check(key, val, len);

	memcpy(
	    (unsigned char *)val + offsetof(struct store_entry, check), &c, 2);
}

/* An index entry as read: 0 when its size and check hold, else BADREC. */
static int
entry_ok(const struct store *st, const MDB_val *k, const MDB_val *d)
{
	uint16_t c;

	if (k->mv_size != ADDKEY_LEN ||
	    (d->mv_size != sizeof(struct store_entry) &&
		d->mv_size !=
		    sizeof(struct store_entry) + sizeof(struct twin_ext)) ||
	    !in_bounds(st, d->mv_data, d->mv_size))
		return BADREC;
	memcpy(&c,
	    (const unsigned char *)d->mv_data +
		offsetof(struct store_entry, check),
	    2);
	return c == entry_check(k->mv_data, d->mv_data, d->mv_size) ? 0
								    : BADREC;
}

/*
 * An object row as read: 0 with its header in *h when the lengths add up
 * and the CRC holds, else BADREC.  The CRC covers the key, the header up
 * to the CRC, and the release list, id and JSON after it.
 */
static int
obj_ok(const struct store *st, const MDB_val *k, const MDB_val *d,
    struct obj_hdr *h)
{
	size_t head = offsetof(struct obj_hdr, crc);
	uint32_t c;

	if (k->mv_size != 8 || d->mv_size < sizeof(*h) ||
	    !in_bounds(st, d->mv_data, d->mv_size))
		return BADREC;
	memcpy(h, d->mv_data, sizeof(*h));
	if (h->magic != OBJ_MAGIC || h->hver != OBJ_HVER ||
	    h->nrelease > STORE_MAX_COUNTRIES ||
	    d->mv_size !=
		sizeof(*h) + (size_t)h->nrelease * 2 + h->idlen + h->jsonlen)
		return BADREC;
	c = kv_crc(k, d->mv_data, head);
	c = hash_crc32c(c, (const unsigned char *)d->mv_data + sizeof(*h),
	    d->mv_size - sizeof(*h));
	return c == h->crc ? 0 : BADREC;
}

/* --- open, close, meta --- */

static int
meta_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t *v)
{
	MDB_val k = {strlen(key), (void *)(uintptr_t)key}, d;
	int rc;

	if ((rc = mdb_get(txn, dbi, &k, &d)) != 0)
		return rc;
	if (d.mv_size != 8)
		return MDB_CORRUPTED;
	*v = get_be64(d.mv_data);
	return 0;
}

static int
meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t v)
{
	MDB_val k = {strlen(key), (void *)(uintptr_t)key}, d;
	unsigned char b[8];

	put_be64(b, v);
	d.mv_size = 8;
	d.mv_data = b;
	return mdb_put(txn, dbi, &k, &d, 0);
}

/*
 * The file must hold every page its meta page names: a read past the end
 * of the file faults, and LMDB trusts the meta page.  A meta page damaged
 * that way refuses the start, with a message, instead.
 */
static int
check_extent(struct store *st, const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	MDB_envinfo ei;
	MDB_stat ms;
	struct stat sb;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (mdb_env_info(st->env, &ei) != 0 ||
	    mdb_env_stat(st->env, &ms) != 0 || stat(path, &sb) == -1)
		return 0;
	st->psize = ms.ms_psize;
	if ((uint64_t)sb.st_size <
	    (uint64_t)(ei.me_last_pgno + 1) * ms.ms_psize) {
		snprintf(err, errlen,
		    "the database in %s is damaged: its meta page names page "
		    "%zu, the file holds %lld bytes (restore a copy, or move "
		    "it aside)",
		    dir, ei.me_last_pgno, (long long)sb.st_size);
		return -1;
	}
	return 0;
}

/* Begins a transaction (the caller holds st->quiesce shared).  When
 * another process grew the map, adopts its size (store_adopt) and tries
 * again; when the reader table is full, clears the slots of dead
 * processes and tries again. */
static int store_adopt(struct store *);

static int
begin(struct store *st, unsigned int flags, MDB_txn **txn)
{
	int rc, tries, dead;

	for (tries = 0;; tries++) {
		rc = mdb_txn_begin(st->env, NULL, flags, txn);
		if (rc == 0 || tries == 2)
			break;
		if (rc == MDB_MAP_RESIZED) {
			if (store_adopt(st) != 0)
				break;
		} else if (rc == MDB_READERS_FULL) {
			if (mdb_reader_check(st->env, &dead) != 0 || dead == 0)
				break;
			log_info("store: cleared %d stale reader slots (the "
				 "reader table was full)",
			    dead);
		} else
			break;
	}
	if (rc == 0)
		map_extent(st);
	return rc;
}

/* Shared hold of the map: every transaction runs under it; it nests. */
static _Thread_local int held;

static void
hold(struct store *st)
{
	if (held++ == 0)
		pthread_rwlock_rdlock(&st->quiesce);
}

static void
unhold(struct store *st)
{
	if (--held == 0)
		pthread_rwlock_unlock(&st->quiesce);
}

/* Walks every record of one tree (duplicates too). */
static int
walk_tree(MDB_txn *txn, MDB_dbi dbi)
{
	MDB_cursor *c;
	MDB_val k, d;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT))
		;
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The walk of store_check, in the child: every tree LMDB keeps (the free
 * list, the main tree and each named table).  Exit status 0 or 1. */
static void
check_child(const char *dir)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int i, rc, fd;

	/* a fault here is the finding, reported by the parent: die of it
	 * quietly (no handler, a sanitizer's either) */
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	if ((fd = open("/dev/null", O_WRONLY)) != -1)
		dup2(fd, STDERR_FILENO);
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 16)) != 0 ||
	    (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0)
		_exit(rc == ENOENT ? 0 : 1); /* none yet: made by store_open */
	/* 0: the free list (as mdb_stat -f reads it); 1: the main tree */
	if ((rc = walk_tree(txn, 0)) != 0 || (rc = walk_tree(txn, 1)) != 0)
		_exit(1);
	for (i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, db_names[i], 0, &dbi);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc != 0 || (rc = walk_tree(txn, dbi)) != 0)
			_exit(1);
	}
	_exit(0);
}

int
store_check(const char *dir, char *err, size_t errlen)
{
	int status;
	pid_t pid;

	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "cannot check the database: fork: %s",
		    strerror(errno));
		return STORE_ERR;
	}
	if (pid == 0)
		check_child(dir);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			snprintf(err, errlen, "cannot check the database: %s",
			    strerror(errno));
			return STORE_ERR;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return STORE_OK;
	if (WIFSIGNALED(status))
		snprintf(err, errlen,
		    "the database in %s is damaged: walking its pages failed "
		    "(signal %d in the checking process); restore a copy, or "
		    "move it aside",
		    dir, WTERMSIG(status));
	else
		snprintf(err, errlen,
		    "the database in %s is damaged: its pages cannot be "
		    "walked; restore a copy, or move it aside",
		    dir);
	return STORE_ECORRUPT;
}

int
store_open(struct store **out, const char *dir, uint64_t mapsize, char *err,
    size_t errlen)
{
	struct store *st;
	MDB_txn *txn = NULL;
	MDB_val k, d;
	pthread_rwlockattr_t ra;
	uint64_t schema;
	int rc, i, dead = 0;

	*out = NULL;
	if ((st = hub_calloc(1, sizeof(*st))) == NULL ||
	    (st->dir = hub_strdup(dir)) == NULL) {
		if (st != NULL)
			hub_free(st);
		snprintf(err, errlen, "out of memory");
		return STORE_ERR;
	}
	st->map_max = mapsize;
	pthread_rwlockattr_init(&ra);
	/* a resize waiting for readers goes before new ones */
	pthread_rwlockattr_setkind_np(
	    &ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&st->quiesce, &ra);
	pthread_rwlockattr_destroy(&ra);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(
		    err, errlen, "cannot create %s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((rc = mdb_env_create(&st->env)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, (size_t)mapsize)) != 0 ||
	    (rc = mdb_env_set_maxdbs(st->env, 16)) != 0 ||
	    (rc = mdb_env_set_maxreaders(st->env, 512)) != 0 ||
	    (rc = mdb_env_open(
		 st->env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0600)) != 0) {
		snprintf(err, errlen, "cannot open the database in %s: %s", dir,
		    mdb_strerror(rc));
		goto fail;
	}
	if (check_extent(st, dir, err, errlen) == -1)
		goto fail;
	/* the slots of readers that died (a killed ctihub import) */
	if (mdb_reader_check(st->env, &dead) == 0 && dead > 0)
		log_info("store: cleared %d stale reader slots", dead);
	hold(st); /* no other thread has the store yet */
	rc = begin(st, 0, &txn);
	unhold(st);
	if (rc != 0)
		goto mdbfail;
	for (i = 0; i < DB_COUNT; i++)
		if ((rc = mdb_dbi_open(txn, db_names[i],
			 MDB_CREATE | (i == DB_PENDING ? MDB_DUPSORT : 0),
			 &st->dbi[i])) != 0)
			goto mdbfail;
	rc = meta_get_u64(txn, st->dbi[DB_META], "schema", &schema);
	if (rc == MDB_NOTFOUND) {
		schema = STORE_SCHEMA;
		if ((rc = meta_put_u64(
			 txn, st->dbi[DB_META], "schema", schema)) != 0)
			goto mdbfail;
	} else if (rc != 0)
		goto mdbfail;
	if (schema != STORE_SCHEMA) {
		/* schema 1 told producers, collections and types apart by
		 * 32-bit hashes of their names: what it stored cannot be
		 * given back to its owners with certainty; schema 2 had no
		 * checksums to tell damaged records from sound ones */
		snprintf(err, errlen,
		    schema < STORE_SCHEMA
			? "the database in %s has schema version %llu, "
			  "written by an earlier ctihub (%s; this one: %d): "
			  "move it aside and import the members' bundles "
			  "again (ctihub import)"
			: "the database in %s has schema version %llu, newer "
			  "than this ctihub understands (%s%d): run a newer "
			  "ctihub, or point state_dir elsewhere",
		    dir, (unsigned long long)schema,
		    schema == 1 ? "its identities were hashes of names"
			: schema < STORE_SCHEMA
			? "its records have no checksums"
			: "",
		    STORE_SCHEMA);
		mdb_txn_abort(txn);
		mdb_env_close(st->env);
		pthread_rwlock_destroy(&st->quiesce);
		hub_free(st->dir);
		hub_free(st);
		return STORE_ESCHEMA;
	}
	st->schema = (int)schema;
	k.mv_size = 9;
	k.mv_data = (void *)(uintptr_t) "token_key";
	rc = mdb_get(txn, st->dbi[DB_META], &k, &d);
	if (rc == 0 && d.mv_size == sizeof(st->secret))
		memcpy(st->secret, d.mv_data, sizeof(st->secret));
	else if (rc == MDB_NOTFOUND) {
		if (RAND_bytes(st->secret, sizeof(st->secret)) != 1) {
			snprintf(err, errlen, "no randomness for the secret");
			goto fail;
		}
		d.mv_size = sizeof(st->secret);
		d.mv_data = st->secret;
		if ((rc = mdb_put(txn, st->dbi[DB_META], &k, &d, 0)) != 0)
			goto mdbfail;
	} else {
		if (rc == 0)
			rc = MDB_CORRUPTED;
		goto mdbfail;
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto mdbfail;
	find_map(st);
	map_extent(st);
	mdb_env_get_fd(st->env, &store_data_fd);
	if (RAND_bytes(
		(unsigned char *)&st->writer_id, sizeof(st->writer_id)) != 1)
		st->writer_id = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	*out = st;
	return STORE_OK;
mdbfail:
	snprintf(err, errlen, "database %s: %s", dir, mdb_strerror(rc));
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (st->env != NULL)
		mdb_env_close(st->env);
	pthread_rwlock_destroy(&st->quiesce);
	hub_free(st->dir);
	hub_free(st);
	return STORE_ERR;
}

void
store_close(struct store *st)
{
	int fd;

	if (st == NULL)
		return;
	if (mdb_env_get_fd(st->env, &fd) == 0 && fd == store_data_fd)
		store_data_fd = -1;
	mdb_env_close(st->env);
	pthread_rwlock_destroy(&st->quiesce);
	hub_free(st->bloom.bits);
	hub_free(st->dir);
	explicit_bzero(st->secret, sizeof(st->secret));
	hub_free(st);
}

void
store_set_map_max(struct store *st, uint64_t max)
{
	st->map_max = max;
}

/* Takes the map size another process gave the database (no transaction
 * of this process may be active meanwhile). */
static int
store_adopt(struct store *st)
{
	int rc;

	if (held != 1)
		return MDB_MAP_RESIZED; /* this thread is inside another */
	unhold(st);
	pthread_rwlock_wrlock(&st->quiesce);
	rc = mdb_env_set_mapsize(st->env, 0);
	find_map(st);
	pthread_rwlock_unlock(&st->quiesce);
	hold(st);
	if (rc == 0)
		log_info("store: the database map grew (another process): "
			 "now %zu MB",
		    st->maplen >> 20);
	return rc;
}

int
store_grow(struct store *st)
{
	MDB_envinfo ei;
	size_t cur, want;
	int rc;

	pthread_rwlock_wrlock(&st->quiesce);
	if ((rc = mdb_env_info(st->env, &ei)) != 0) {
		pthread_rwlock_unlock(&st->quiesce);
		return store_mdb_err(rc, "grow");
	}
	cur = ei.me_mapsize;
	if (cur >= st->map_max) {
		pthread_rwlock_unlock(&st->quiesce);
		log_warnx("store: the database is full: its map reached "
			  "map_max (%llu MB); raise map_max",
		    (unsigned long long)(st->map_max >> 20));
		return STORE_EFULL;
	}
	want = cur > st->map_max / 2 ? (size_t)st->map_max : cur * 2;
	want = want / st->psize * st->psize;
	rc = mdb_env_set_mapsize(st->env, want);
	find_map(st);
	pthread_rwlock_unlock(&st->quiesce);
	if (rc != 0)
		return store_mdb_err(rc, "grow");
	log_info("store: the database map grew from %zu to %zu MB (map_max "
		 "%llu MB)",
	    cur >> 20, want >> 20, (unsigned long long)(st->map_max >> 20));
	return STORE_OK;
}

int
store_reader_check(struct store *st, int *cleared)
{
	int rc;

	*cleared = 0;
	if ((rc = mdb_reader_check(st->env, cleared)) != 0)
		return store_mdb_err(rc, "reader check");
	if (*cleared > 0)
		log_info("store: cleared %d stale reader slots (left by a "
			 "process that died)",
		    *cleared);
	return STORE_OK;
}

int
store_schema(struct store *st)
{
	return st->schema;
}

int
store_secret(struct store *st, unsigned char key[32])
{
	memcpy(key, st->secret, 32);
	return 0;
}

/* --- the registry of codes --- */

#define REG_NAME_MAX 256

static size_t
regkey(unsigned char *k, int kind, const char *name, size_t len)
{
	k[0] = 'n';
	k[1] = (unsigned char)kind;
	memcpy(k + 2, name, len);
	return len + 2;
}

static int
reg_get(MDB_txn *txn, const struct store *st, int kind, const char *name,
    size_t len, uint32_t *code)
{
	unsigned char kb[2 + REG_NAME_MAX];
	MDB_val k, d;
	size_t n;
	int rc;

	if (len == 0 || len > REG_NAME_MAX)
		return EINVAL;
	k.mv_size = regkey(kb, kind, name, len);
	k.mv_data = kb;
	if ((rc = mdb_get(txn, st->dbi[DB_REG], &k, &d)) != 0)
		return rc;
	if (unseal(st, &k, &d, &n) != 0 || n != 4)
		return BADREC;
	*code = get_be32(d.mv_data);
	return 0;
}

/* Gives a name the next code (in a write transaction); *last counts. */
static int
reg_put(MDB_txn *txn, const struct store *st, int kind, const char *name,
    size_t len, uint64_t *last, uint32_t *code)
{
	unsigned char kb[2 + REG_NAME_MAX], ck[6], cb[4 + CRC_LEN];
	unsigned char nb[REG_NAME_MAX + CRC_LEN];
	MDB_val k, d;
	int rc;

	if (len == 0 || len > REG_NAME_MAX)
		return EINVAL;
	if (*last < STORE_CODE_FIRST - 1)
		*last = STORE_CODE_FIRST - 1;
	if (*last >= UINT32_MAX - 1)
		return MDB_MAP_FULL; /* four billion names: full */
	*code = (uint32_t)++ * last;
	k.mv_size = regkey(kb, kind, name, len);
	k.mv_data = kb;
	put_be32(cb, *code);
	seal(&k, cb, 4);
	d.mv_size = sizeof(cb);
	d.mv_data = cb;
	if ((rc = mdb_put(txn, st->dbi[DB_REG], &k, &d, MDB_NOOVERWRITE)) != 0)
		return rc;
	ck[0] = 'c';
	ck[1] = (unsigned char)kind;
	put_be32(ck + 2, *code);
	k.mv_size = 6;
	k.mv_data = ck;
	memcpy(nb, name, len);
	seal(&k, nb, len);
	d.mv_size = len + CRC_LEN;
	d.mv_data = nb;
	if ((rc = mdb_put(txn, st->dbi[DB_REG], &k, &d, MDB_NOOVERWRITE)) != 0)
		return rc;
	return meta_put_u64(txn, st->dbi[DB_META], "last_code", *last);
}

int
store_codes(struct store *st, int kind, const char *const names[], int n,
    uint32_t codes[])
{
	MDB_txn *txn = NULL;
	uint64_t last = 0;
	int i, rc, missing = 0;

	hold(st);
	if ((rc = begin(st, MDB_RDONLY, &txn)) != 0)
		goto done;
	for (i = 0; i < n; i++) {
		rc = reg_get(
		    txn, st, kind, names[i], strlen(names[i]), &codes[i]);
		if (rc == MDB_NOTFOUND)
			missing++;
		else if (rc != 0)
			break;
	}
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc != 0 || missing == 0)
		goto done;
	/* some are new: number them in a write transaction (another
	 * process may have numbered them meanwhile: look again there) */
	if ((rc = begin(st, 0, &txn)) != 0)
		goto done;
	rc = meta_get_u64(txn, st->dbi[DB_META], "last_code", &last);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	for (i = 0; rc == 0 && i < n; i++) {
		size_t len = strlen(names[i]);

		rc = reg_get(txn, st, kind, names[i], len, &codes[i]);
		if (rc == MDB_NOTFOUND)
			rc = reg_put(
			    txn, st, kind, names[i], len, &last, &codes[i]);
	}
	if (rc != 0)
		mdb_txn_abort(txn);
	else
		rc = mdb_txn_commit(txn);
done:
	unhold(st);
	return store_mdb_err(rc, "registry");
}

int
store_code_get(struct store_reader *r, int kind, const char *name, size_t len,
    uint32_t *code)
{
	int rc = reg_get(r->txn, r->st, kind, name, len, code);

	if (rc == MDB_NOTFOUND || rc == EINVAL)
		return STORE_ENOTFOUND;
	return store_mdb_err(rc, "registry");
}

int
store_code_name(struct store_reader *r, int kind, uint32_t code,
    const char **name, size_t *len)
{
	unsigned char ck[6];
	MDB_val k = {6, ck}, d;
	int rc;

	ck[0] = 'c';
	ck[1] = (unsigned char)kind;
	put_be32(ck + 2, code);
	if ((rc = mdb_get(r->txn, r->st->dbi[DB_REG], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, "registry");
	if (unseal(r->st, &k, &d, len) != 0)
		return store_mdb_err(BADREC, "registry");
	*name = d.mv_data;
	return STORE_OK;
}

static struct type_slot *
type_slot(struct store *st, const char *name, size_t len, int for_insert)
{
	uint64_t h = UINT64_C(14695981039346656037);
	size_t i, j;

	if (len >= sizeof(st->types[0].name))
		return NULL;
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * UINT64_C(1099511628211);
	for (i = 0; i < 8; i++) {
		struct type_slot *t = &st->types[(h + i) % TYPES_CACHE];

		if (t->code == 0)
			return for_insert ? t : NULL;
		if (strncmp(t->name, name, len) == 0 && t->name[len] == '\0')
			return t;
	}
	j = h % TYPES_CACHE;
	return for_insert ? &st->types[j] : NULL;
}

static void
type_remember(struct store *st, const char *name, size_t len, uint32_t code)
{
	struct type_slot *t = type_slot(st, name, len, 1);

	if (t == NULL)
		return;
	memcpy(t->name, name, len);
	t->name[len] = '\0';
	t->code = code;
}

/* The code of a STIX type in a write transaction, registered when new
 * (create) or STORE_ENOTFOUND-like MDB_NOTFOUND when not. */
static int
wtype(struct store_wtxn *w, const char *name, size_t len, int create,
    uint32_t *code)
{
	struct type_slot *t = type_slot(w->st, name, len, 0);
	int rc, i;

	if (t != NULL) {
		*code = t->code;
		return 0;
	}
	rc = reg_get(w->txn, w->st, STORE_K_TYPE, name, len, code);
	if (rc == 0) {
		for (i = 0; i < w->nnewtypes; i++)
			if (w->newtypes[i].code == *code)
				return 0; /* ours, not committed yet */
		if (w->nnewtypes <= (int)nitems(w->newtypes))
			type_remember(w->st, name, len, *code);
		return 0;
	}
	if (rc != MDB_NOTFOUND || !create)
		return rc;
	if ((rc = reg_put(w->txn, w->st, STORE_K_TYPE, name, len, &w->last_code,
		 code)) != 0)
		return rc;
	if (w->nnewtypes < (int)nitems(w->newtypes) &&
	    len < sizeof(w->newtypes[0].name)) {
		memcpy(w->newtypes[w->nnewtypes].name, name, len);
		w->newtypes[w->nnewtypes].name[len] = '\0';
		w->newtypes[w->nnewtypes].code = *code;
		w->nnewtypes++;
	} else
		w->nnewtypes = (int)nitems(w->newtypes) + 1; /* cache no more */
	return 0;
}

/* --- the Bloom filter of stored ids --- */

#define BLOOM_BITS_PER_ID 10
#define BLOOM_PROBES	  7

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static void
bloom_hash(const unsigned char *key20, uint64_t *h1, uint64_t *h2)
{
	uint64_t a, b;
	uint32_t t;

	memcpy(&a, key20, 8);
	memcpy(&b, key20 + 8, 8);
	memcpy(&t, key20 + 16, 4);
	*h1 = mix64(a ^ t);
	*h2 = mix64(b + t) | 1;
}

static int
bloom_maybe(const struct bloom *bl, const unsigned char *key20)
{
	uint64_t h1, h2, bit;
	int i;

	bloom_hash(key20, &h1, &h2);
	for (i = 0; i < BLOOM_PROBES; i++) {
		bit = (h1 + (uint64_t)i * h2) % bl->nbits;
		if (!(bl->bits[bit / 64] & UINT64_C(1) << (bit % 64)))
			return 0;
	}
	return 1;
}

static void
bloom_add(struct bloom *bl, const unsigned char *key20)
{
	uint64_t h1, h2, bit;
	int i;

	bloom_hash(key20, &h1, &h2);
	for (i = 0; i < BLOOM_PROBES; i++) {
		bit = (h1 + (uint64_t)i * h2) % bl->nbits;
		bl->bits[bit / 64] |= UINT64_C(1) << (bit % 64);
	}
	if (++bl->count > bl->cap)
		bl->valid = 0; /* too full to be useful: rebuilt bigger */
}

/* Fills the filter from both id indexes (inside a write transaction). */
static int
bloom_build(struct store_wtxn *w)
{
	struct bloom *bl = &w->st->bloom;
	MDB_stat sm, sn;
	MDB_cursor *cs[2];
	MDB_val k, d;
	uint64_t cap;
	int i, rc = MDB_NOTFOUND;

	cs[0] = w->c_ids;
	cs[1] = w->c_new;
	bl->valid = 0;
	if ((rc = mdb_stat(w->txn, w->st->dbi[DB_IDS], &sm)) != 0 ||
	    (rc = mdb_stat(w->txn, w->st->dbi[DB_IDSNEW], &sn)) != 0)
		return rc;
	cap = (sm.ms_entries + sn.ms_entries) * 2;
	if (cap < 1000000)
		cap = 1000000;
	hub_free(bl->bits);
	bl->nbits = (cap * BLOOM_BITS_PER_ID + 63) / 64 * 64;
	if ((bl->bits = hub_calloc(bl->nbits / 64, 8)) == NULL) {
		bl->nbits = 0;
		return 0; /* no filter: every object is searched */
	}
	bl->cap = cap;
	bl->count = 0;
	for (i = 0; i < 2; i++) {
		for (rc = mdb_cursor_get(cs[i], &k, &d, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cs[i], &k, &d, MDB_NEXT))
			if (k.mv_size == IDKEY_LEN)
				bloom_add(bl, k.mv_data);
		if (rc != MDB_NOTFOUND)
			return rc;
	}
	bl->valid = bl->count <= bl->cap;
	return 0;
}

/* --- write transactions --- */

int
store_wbegin(struct store *st, struct store_wtxn **out)
{
	struct store_wtxn *w;
	uint64_t v;
	int rc;

	*out = NULL;
	if ((w = hub_calloc(1, sizeof(*w))) == NULL)
		return STORE_ERR;
	w->st = st;
	hold(st);
	if ((rc = begin(st, 0, &w->txn)) != 0)
		goto fail;
	if ((rc = mdb_cursor_open(w->txn, st->dbi[DB_OBJ], &w->c_obj)) != 0 ||
	    (rc = mdb_cursor_open(w->txn, st->dbi[DB_IDS], &w->c_ids)) != 0 ||
	    (rc = mdb_cursor_open(w->txn, st->dbi[DB_IDSNEW], &w->c_new)) != 0)
		goto fail;
	rc = meta_get_u64(w->txn, st->dbi[DB_META], "last_added", &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	w->last_added = rc == 0 ? (int64_t)v : 0;
	rc = meta_get_u64(w->txn, st->dbi[DB_META], "last_row", &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	w->last_row = rc == 0 ? v : 0;
	rc = meta_get_u64(w->txn, st->dbi[DB_META], "last_code", &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	w->last_code = rc == 0 ? v : 0;
	rc = meta_get_u64(w->txn, st->dbi[DB_META], "writer", &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	if (!st->bloom.valid || (rc == 0 && v != st->writer_id)) {
		/* first write here, or another process wrote meanwhile */
		if ((rc = bloom_build(w)) != 0)
			goto fail;
	}
	*out = w;
	return STORE_OK;
fail:
	rc = store_mdb_err(rc, "begin write");
	if (w->txn != NULL)
		mdb_txn_abort(w->txn);
	unhold(st);
	hub_free(w);
	return rc;
}

void
store_wabort(struct store_wtxn *w)
{
	if (w == NULL)
		return;
	mdb_txn_abort(w->txn); /* closes the write cursors too */
	unhold(w->st);
	hub_free(w);
}

/* A version found while scanning the id index, and where it lives. */
struct found {
	uint32_t producer;
	int64_t version;
	int in_new; /* lives in idsnew (else ids) */
	uint64_t rowid;
	int nmember;
	struct member_rec member[STORE_MAX_MEMBERSHIP];
};

/* An id index value: rowid(8), memberships, CRC. */
static int
decode_idval(
    const struct store *st, const MDB_val *k, const MDB_val *d, struct found *f)
{
	const unsigned char *p = d->mv_data;
	size_t n;

	if (unseal(st, k, d, &n) != 0 || n < 8 ||
	    (n - 8) % sizeof(struct member_rec) != 0 ||
	    (n - 8) / sizeof(struct member_rec) > STORE_MAX_MEMBERSHIP)
		return BADREC;
	memcpy(&f->rowid, p, 8);
	n = (n - 8) / sizeof(struct member_rec);
	f->nmember = (int)n;
	memcpy(f->member, p + 8, n * sizeof(struct member_rec));
	return 0;
}

/* Scans one id index for the versions of one producer's object; appends
 * them to v. */
static int
scan_versions(const struct store *st, MDB_cursor *c,
    const unsigned char uuid[16], uint32_t type, uint32_t producer, int in_new,
    struct found *v, int max, int *n)
{
	unsigned char kb[IDKEY_LEN];
	MDB_val k, d;
	int rc;

	idkey(kb, uuid, type, producer, INT64_MIN);
	k.mv_size = IDKEY_LEN;
	k.mv_data = kb;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size != IDKEY_LEN ||
		    memcmp(k.mv_data, kb, IDPFX_PROD) != 0)
			break;
		if (*n == max)
			return 0; /* more than the limit: cannot happen */
		v[*n].producer = producer;
		v[*n].version = get_version((unsigned char *)k.mv_data + 24);
		v[*n].in_new = in_new;
		if (decode_idval(st, &k, &d, &v[*n]) != 0)
			return BADREC;
		(*n)++;
	}
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

/* The versions of one producer's object across both id indexes, oldest
 * first. */
static int
all_versions(const struct store *st, MDB_cursor *c_ids, MDB_cursor *c_new,
    const unsigned char uuid[16], uint32_t type, uint32_t producer,
    struct found *v, int *n)
{
	int rc, i, j;

	*n = 0;
	if ((rc = scan_versions(st, c_ids, uuid, type, producer, 0, v,
		 MAX_VERSIONS, n)) != 0 ||
	    (rc = scan_versions(
		 st, c_new, uuid, type, producer, 1, v, MAX_VERSIONS, n)) != 0)
		return rc;
	/* insertion sort: there are few versions */
	for (i = 1; i < *n; i++) {
		struct found t = v[i];

		for (j = i; j > 0 && v[j - 1].version > t.version; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
	return 0;
}

/*
 * The first producer, from `from` on, that holds versions of the object
 * (uuid, type) in either id index: 0 and *out set, or MDB_NOTFOUND.
 */
static int
next_producer(MDB_cursor *c_ids, MDB_cursor *c_new,
    const unsigned char uuid[16], uint32_t type, uint32_t from, uint32_t *out)
{
	unsigned char kb[IDKEY_LEN];
	MDB_cursor *cs[2];
	MDB_val k, d;
	int i, rc, found = 0;

	cs[0] = c_ids;
	cs[1] = c_new;
	for (i = 0; i < 2; i++) {
		uint32_t p;

		idkey(kb, uuid, type, from, INT64_MIN);
		k.mv_size = IDKEY_LEN;
		k.mv_data = kb;
		rc = mdb_cursor_get(cs[i], &k, &d, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		if (k.mv_size != IDKEY_LEN ||
		    memcmp(k.mv_data, kb, IDPFX_OBJ) != 0)
			continue;
		p = get_be32((unsigned char *)k.mv_data + IDPFX_OBJ);
		if (!found || p < *out)
			*out = p;
		found = 1;
	}
	return found ? 0 : MDB_NOTFOUND;
}

/* 1 when a producer other than `producer` holds versions of the object,
 * 0 when none does, or an LMDB error. */
static int
other_producer(MDB_cursor *c_ids, MDB_cursor *c_new,
    const unsigned char uuid[16], uint32_t type, uint32_t producer)
{
	uint32_t p;
	int rc;

	rc = next_producer(c_ids, c_new, uuid, type, 0, &p);
	if (rc == 0 && p == producer) {
		if (producer == UINT32_MAX)
			return 0;
		rc = next_producer(c_ids, c_new, uuid, type, producer + 1, &p);
	}
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc == 0 ? 1 : rc;
}

/* The public form of a found version (store_member is not packed). */
static void
to_version(const struct found *f, struct store_version *sv)
{
	int i;

	sv->producer = f->producer;
	sv->version = f->version;
	sv->rowid = f->rowid;
	sv->nmember = f->nmember;
	for (i = 0; i < f->nmember; i++) {
		sv->member[i].coll = f->member[i].coll;
		sv->member[i].date_added = f->member[i].date_added;
	}
}

static int
member_index(const struct found *f, uint32_t coll)
{
	int i;

	for (i = 0; i < f->nmember; i++)
		if (f->member[i].coll == coll)
			return i;
	return -1;
}

static int
put_idval(struct store_wtxn *w, const struct found *f,
    const unsigned char uuid[16], uint32_t type)
{
	unsigned char kb[IDKEY_LEN];
	unsigned char
	    vb[8 + STORE_MAX_MEMBERSHIP * sizeof(struct member_rec) + CRC_LEN];
	MDB_val k = {IDKEY_LEN, kb}, d;
	size_t n = 8 + (size_t)f->nmember * sizeof(struct member_rec);

	idkey(kb, uuid, type, f->producer, f->version);
	memcpy(vb, &f->rowid, 8);
	memcpy(
	    vb + 8, f->member, (size_t)f->nmember * sizeof(struct member_rec));
	seal(&k, vb, n);
	d.mv_size = n + CRC_LEN;
	d.mv_data = vb;
	if (f->nmember == 0)
		return mdb_del(w->txn,
		    w->st->dbi[f->in_new ? DB_IDSNEW : DB_IDS], &k, NULL);
	return mdb_put(
	    w->txn, w->st->dbi[f->in_new ? DB_IDSNEW : DB_IDS], &k, &d, 0);
}

/* Sets and clears flags of the index entry at (coll, da), and records in
 * it the date_added of the newest version (0 for the newest itself). */
static int
update_entry_flags(struct store_wtxn *w, uint32_t coll, int64_t da, uint8_t set,
    uint8_t clear, int64_t newest)
{
	unsigned char kb[ADDKEY_LEN];
	MDB_val k = {ADDKEY_LEN, kb}, d;
	struct store_entry e;
	int rc;

	addkey(kb, coll, da);
	if ((rc = mdb_get(w->txn, w->st->dbi[DB_ADDED], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	if (d.mv_size != sizeof(e) || entry_ok(w->st, &k, &d) != 0)
		return BADREC;
	memcpy(&e, d.mv_data, sizeof(e));
	if (((e.flags | set) & (uint8_t)~clear) == e.flags &&
	    e.newest == newest)
		return 0;
	e.flags = (uint8_t)((e.flags | set) & ~clear);
	e.newest = newest;
	entry_seal(kb, &e, sizeof(e));
	d.mv_size = sizeof(e);
	d.mv_data = &e;
	return mdb_put(w->txn, w->st->dbi[DB_ADDED], &k, &d, 0);
}

/*
 * Gives FIRST to the oldest and LAST to the newest version of the object
 * in `coll`, and takes them from every other version there, which learn
 * the newest one's date_added.  `v` holds all versions, oldest first, with
 * memberships up to date; `skip_da` is an entry not yet written (its flags
 * and newest are returned in *newflags and *newnewest).
 */
static int
fix_first_last(struct store_wtxn *w, uint32_t coll, struct found *v, int n,
    int64_t skip_da, uint8_t *newflags, int64_t *newnewest)
{
	int i, m, first = -1, last = -1, rc;
	int64_t newest = 0;

	for (i = 0; i < n; i++)
		if (member_index(&v[i], coll) >= 0) {
			if (first < 0)
				first = i;
			last = i;
		}
	if (last >= 0)
		newest =
		    v[last].member[member_index(&v[last], coll)].date_added;
	for (i = 0; i < n; i++) {
		uint8_t set = 0, clear = 0;
		int64_t da;

		if ((m = member_index(&v[i], coll)) < 0)
			continue;
		da = v[i].member[m].date_added;
		(i == first ? &set : &clear)[0] |= STORE_F_FIRST;
		(i == last ? &set : &clear)[0] |= STORE_F_LAST;
		if (da == skip_da) {
			*newflags = (uint8_t)((*newflags | set) & ~clear);
			*newnewest = i == last ? 0 : newest;
			continue;
		}
		if ((rc = update_entry_flags(
			 w, coll, da, set, clear, i == last ? 0 : newest)) != 0)
			return rc;
	}
	return 0;
}

static int
put_entry(
    struct store_wtxn *w, uint32_t coll, int64_t da, struct store_entry *e)
{
	unsigned char kb[ADDKEY_LEN];
	MDB_val k = {ADDKEY_LEN, kb}, d = {sizeof(*e), e};

	addkey(kb, coll, da);
	entry_seal(kb, e, sizeof(*e));
	/* date_added only grows, so this appends (MDB_APPEND would refuse
	 * entries of a collection whose code sorts before another's) */
	return mdb_put(w->txn, w->st->dbi[DB_ADDED], &k, &d, 0);
}

/* The object header and what follows it, for a new row or a rewrite. */
static int
put_obj(struct store_wtxn *w, const struct obj_hdr *h, const char *release,
    const char *id, const char *json, uint64_t rowid, int append)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d;
	unsigned char *p;
	size_t rel = (size_t)h->nrelease * 2;
	uint32_t crc;
	int rc;

	put_be64(kb, rowid);
	d.mv_size = sizeof(*h) + rel + h->idlen + h->jsonlen;
	d.mv_data = NULL;
	if ((rc = mdb_cursor_put(w->c_obj, &k, &d,
		 MDB_RESERVE | (append ? MDB_APPEND : 0))) != 0)
		return rc;
	p = d.mv_data;
	memcpy(p, h, sizeof(*h));
	memcpy(p + sizeof(*h), release, rel);
	memcpy(p + sizeof(*h) + rel, id, h->idlen);
	memcpy(p + sizeof(*h) + rel + h->idlen, json, h->jsonlen);
	crc = kv_crc(&k, p, offsetof(struct obj_hdr, crc));
	crc = hash_crc32c(crc, p + sizeof(*h), d.mv_size - sizeof(*h));
	memcpy(p + offsetof(struct obj_hdr, crc), &crc, sizeof(crc));
	return 0;
}

/* The type of an id: its part before "--"; 0 when there is none. */
static size_t
id_type_len(const char *id, size_t idlen)
{
	const char *p = idlen >= 2 ? memmem(id, idlen, "--", 2) : NULL;

	return p == NULL ? 0 : (size_t)(p - id);
}

/* Remembers that row `rowid` of `producer` waits for the definitions of
 * the marking ids in mk. */
static int
put_pending(struct store_wtxn *w, uint32_t producer,
    const struct store_mark *mk, uint64_t rowid)
{
	unsigned char kb[20], vb[8];
	MDB_val k = {20, kb}, d = {8, vb};
	int i, rc;

	put_be32(kb, producer);
	put_be64(vb, rowid);
	for (i = 0; i < mk->nunres && i < STORE_MAX_UNRES; i++) {
		memcpy(kb + 4, mk->unres[i], 16);
		if ((rc = mdb_put(w->txn, w->st->dbi[DB_PENDING], &k, &d, 0)) !=
		    0)
			return rc;
	}
	return 0;
}

/* The marking of a new object as ingest saw it. */
static void
mark_of(const struct store_obj *o, struct store_mark *mk)
{
	memset(mk, 0, sizeof(*mk));
	mk->tlp = o->tlp;
	mk->flags = o->flags & (STORE_F_RELEASE | STORE_F_UNRESOLVED);
	mk->nrelease = o->nrelease;
	memcpy(mk->release, o->release, (size_t)o->nrelease * 2);
	mk->nunres = o->nunres < STORE_MAX_UNRES ? o->nunres : STORE_MAX_UNRES;
	memcpy(mk->unres, o->unres, (size_t)mk->nunres * 16);
}

/* Sets the level and releasability of every index entry of a version. */
static int
retag_entries(struct store_wtxn *w, const struct obj_hdr *h)
{
	unsigned char kb[IDKEY_LEN], ak[ADDKEY_LEN];
	MDB_val k = {IDKEY_LEN, kb}, d, ek = {ADDKEY_LEN, ak};
	struct found f;
	struct store_entry e;
	int i, rc;

	idkey(kb, h->uuid, h->type, h->producer, h->version);
	rc = mdb_get(w->txn, w->st->dbi[DB_IDSNEW], &k, &d);
	if (rc == MDB_NOTFOUND)
		rc = mdb_get(w->txn, w->st->dbi[DB_IDS], &k, &d);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	if (decode_idval(w->st, &k, &d, &f) != 0)
		return BADREC;
	for (i = 0; i < f.nmember; i++) {
		addkey(ak, f.member[i].coll, f.member[i].date_added);
		if ((rc = mdb_get(w->txn, w->st->dbi[DB_ADDED], &ek, &d)) != 0)
			continue;
		if (d.mv_size != sizeof(e) || entry_ok(w->st, &ek, &d) != 0)
			return BADREC;
		memcpy(&e, d.mv_data, sizeof(e));
		e.tlp = h->tlp;
		e.flags =
		    (uint8_t)((e.flags &
				  ~(STORE_F_RELEASE | STORE_F_UNRESOLVED)) |
			(h->flags & (STORE_F_RELEASE | STORE_F_UNRESOLVED)));
		entry_seal(ak, &e, sizeof(e));
		d.mv_size = sizeof(e);
		d.mv_data = &e;
		if ((rc = mdb_put(w->txn, w->st->dbi[DB_ADDED], &ek, &d, 0)) !=
		    0)
			return rc;
	}
	return 0;
}

/* Reads the markings of a stored row again (its producer published a
 * definition it was waiting for) and applies what they now say. */
static int
retag_row(struct store_wtxn *w, uint64_t rowid)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d;
	struct obj_hdr h;
	struct store_mark mk;
	char *copy;
	const char *p;
	size_t rel;
	int rc;

	put_be64(kb, rowid);
	if ((rc = mdb_get(w->txn, w->st->dbi[DB_OBJ], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc; /* deleted since */
	if (obj_ok(w->st, &k, &d, &h) != 0)
		return BADREC;
	rel = (size_t)h.nrelease * 2;
	if (!(h.flags & STORE_F_UNRESOLVED))
		return 0;
	/* the row moves when rewritten: work on a copy */
	if ((copy = hub_malloc(h.idlen + h.jsonlen + 1)) == NULL)
		return ENOMEM;
	p = (const char *)d.mv_data + sizeof(h) + rel;
	memcpy(copy, p, h.idlen + h.jsonlen);
	copy[h.idlen + h.jsonlen] = '\0';
	if (w->st->remark(w, h.producer, copy + h.idlen, h.jsonlen, &mk) != 0) {
		hub_free(copy);
		return 0;
	}
	h.tlp = mk.tlp;
	h.flags =
	    (uint8_t)((h.flags & ~(STORE_F_RELEASE | STORE_F_UNRESOLVED)) |
		(mk.flags & (STORE_F_RELEASE | STORE_F_UNRESOLVED)));
	h.nrelease = (uint8_t)(mk.flags & STORE_F_RELEASE ? mk.nrelease : 0);
	rc = put_obj(w, &h, mk.release[0], copy, copy + h.idlen, rowid, 0);
	hub_free(copy);
	if (rc != 0 || (rc = retag_entries(w, &h)) != 0)
		return rc;
	return (h.flags & STORE_F_UNRESOLVED)
	    ? put_pending(w, h.producer, &mk, rowid)
	    : 0;
}

/* A producer stored a marking definition: the rows of that producer that
 * were waiting for it read their markings again. */
static int
remark_pending(
    struct store_wtxn *w, uint32_t producer, const unsigned char uuid[16])
{
	unsigned char kb[20];
	MDB_val k = {20, kb}, d;
	MDB_cursor *c;
	uint64_t *rows = NULL, *nr;
	size_t n = 0, cap = 0, i;
	int rc;

	put_be32(kb, producer);
	memcpy(kb + 4, uuid, 16);
	if ((rc = mdb_cursor_open(w->txn, w->st->dbi[DB_PENDING], &c)) != 0)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_KEY); rc == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_DUP)) {
		if (d.mv_size != 8)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nr = hub_realloc(rows, cap * sizeof(*rows))) ==
			    NULL) {
				rc = ENOMEM;
				break;
			}
			rows = nr;
		}
		rows[n++] = get_be64(d.mv_data);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND) {
		hub_free(rows);
		return rc;
	}
	rc = 0;
	if (n > 0) {
		k.mv_size = 20;
		k.mv_data = kb;
		rc = mdb_del(w->txn, w->st->dbi[DB_PENDING], &k, NULL);
	}
	for (i = 0; rc == 0 && i < n; i++)
		rc = retag_row(w, rows[i]);
	hub_free(rows);
	return rc;
}

void
store_set_remark(struct store *st, store_remark_cb *cb)
{
	st->remark = cb;
}

int
store_wmarking(struct store_wtxn *w, uint32_t producer,
    const unsigned char uuid[16], const char **json, size_t *len)
{
	unsigned char kb[IDKEY_LEN], rk[8];
	MDB_cursor *cs[2];
	MDB_val k, d;
	struct found f;
	struct obj_hdr h;
	int64_t best = INT64_MIN;
	uint64_t row = 0;
	uint32_t type;
	int i, rc;

	if ((rc = wtype(w, "marking-definition", 18, 0, &type)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, "marking");
	cs[0] = w->c_ids;
	cs[1] = w->c_new;
	for (i = 0; i < 2; i++) {
		idkey(kb, uuid, type, producer, INT64_MIN);
		k.mv_size = IDKEY_LEN;
		k.mv_data = kb;
		for (rc = mdb_cursor_get(cs[i], &k, &d, MDB_SET_RANGE); rc == 0;
		     rc = mdb_cursor_get(cs[i], &k, &d, MDB_NEXT)) {
			int64_t v;

			if (k.mv_size != IDKEY_LEN ||
			    memcmp(k.mv_data, kb, IDPFX_PROD) != 0)
				break;
			v = get_version((unsigned char *)k.mv_data + 24);
			if (decode_idval(w->st, &k, &d, &f) != 0)
				return store_mdb_err(BADREC, "marking");
			if (row == 0 || v > best) {
				best = v;
				row = f.rowid;
			}
		}
		if (rc != 0 && rc != MDB_NOTFOUND)
			return store_mdb_err(rc, "marking");
	}
	if (row == 0)
		return STORE_ENOTFOUND;
	put_be64(rk, row);
	k.mv_size = 8;
	k.mv_data = rk;
	if ((rc = mdb_get(w->txn, w->st->dbi[DB_OBJ], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, "marking");
	if (obj_ok(w->st, &k, &d, &h) != 0)
		return store_mdb_err(BADREC, "marking");
	*json = (const char *)d.mv_data + sizeof(h) + (size_t)h.nrelease * 2 +
	    h.idlen;
	*len = h.jsonlen;
	return STORE_OK;
}

static int
wput_one(struct store_wtxn *w, uint32_t coll, uint32_t producer,
    struct store_obj *o, int64_t now)
{
	static _Thread_local struct found v[MAX_VERSIONS];
	struct store_entry e;
	struct store_mark mk;
	unsigned char kb[IDKEY_LEN];
	uint32_t type;
	size_t tlen = id_type_len(o->id, o->idlen);
	int n, i, rc, self = -1;
	int64_t da;

	if (o->idlen > UINT16_MAX || o->jsonlen > UINT32_MAX ||
	    o->nrelease > STORE_MAX_COUNTRIES || o->nrelease > 255 || tlen == 0)
		return EINVAL;
	if ((rc = wtype(w, o->id, tlen, 1, &type)) != 0)
		return rc;
	idkey(kb, o->uuid, type, producer, 0);
	if (w->st->bloom.valid && !bloom_maybe(&w->st->bloom, kb))
		n = 0; /* never stored: no search */
	else {
		if (!o->shared &&
		    (rc = other_producer(
			 w->c_ids, w->c_new, o->uuid, type, producer)) != 0) {
			if (rc != 1)
				return rc;
			/* another producer's object: say nothing of it */
			o->result = STORE_OWNED;
			o->date_added = 0;
			return 0;
		}
		if ((rc = all_versions(w->st, w->c_ids, w->c_new, o->uuid, type,
			 producer, v, &n)) != 0)
			return rc;
	}
	for (i = 0; i < n; i++)
		if (v[i].version == o->version)
			self = i;
	if (self >= 0) {
		int m = member_index(&v[self], coll);

		if (m >= 0) {
			o->result = STORE_DUP;
			o->date_added = v[self].member[m].date_added;
			return 0;
		}
		if (v[self].nmember == STORE_MAX_MEMBERSHIP)
			return EINVAL;
	} else if (n == MAX_VERSIONS)
		return EINVAL;
	da = now > w->last_added ? now : w->last_added + 1;
	w->last_added = da;
	memset(&e, 0, sizeof(e));
	e.version = o->version;
	e.producer = producer;
	e.type = type;
	memcpy(e.uuid, o->uuid, 16);
	if (self >= 0) {
		/* a stored version of this producer: link it into this
		 * collection; the entry describes the stored object (whose
		 * markings may have been read again since), not the post */
		MDB_val k, d;
		unsigned char rk[8];
		struct obj_hdr h;

		put_be64(rk, v[self].rowid);
		k.mv_size = 8;
		k.mv_data = rk;
		if ((rc = mdb_get(w->txn, w->st->dbi[DB_OBJ], &k, &d)) != 0)
			return rc;
		if (obj_ok(w->st, &k, &d, &h) != 0)
			return BADREC;
		e.tlp = h.tlp;
		e.flags = h.flags &
		    (STORE_F_REVOKED | STORE_F_SPEC20 | STORE_F_RELEASE |
			STORE_F_UNRESOLVED);
		e.rowid = v[self].rowid;
		o->result = STORE_LINKED;
	} else {
		struct obj_hdr h;

		mark_of(o, &mk);
		/* a definition it waits for may have been committed since
		 * it was parsed: read its markings again, here */
		if ((mk.flags & STORE_F_UNRESOLVED) && w->st->remark != NULL &&
		    w->st->remark(w, producer, o->json, o->jsonlen, &mk) != 0)
			mark_of(o, &mk);
		memset(&h, 0, sizeof(h));
		h.magic = OBJ_MAGIC;
		h.hver = OBJ_HVER;
		h.tlp = mk.tlp;
		h.flags =
		    (uint8_t)((o->flags & (STORE_F_REVOKED | STORE_F_SPEC20)) |
			(mk.flags & (STORE_F_RELEASE | STORE_F_UNRESOLVED)));
		h.producer = producer;
		h.type = type;
		memcpy(h.uuid, o->uuid, 16);
		h.version = o->version;
		h.first_added = da;
		h.idlen = (uint16_t)o->idlen;
		h.nrelease =
		    (uint8_t)(mk.flags & STORE_F_RELEASE ? mk.nrelease : 0);
		h.jsonlen = (uint32_t)o->jsonlen;
		e.tlp = h.tlp;
		e.flags = h.flags;
		e.rowid = ++w->last_row;
		if ((rc = put_obj(w, &h, mk.release[0], o->id, o->json, e.rowid,
			 1)) != 0)
			return rc;
		if ((h.flags & STORE_F_UNRESOLVED) &&
		    (rc = put_pending(w, producer, &mk, e.rowid)) != 0)
			return rc;
		if (w->st->bloom.valid)
			bloom_add(&w->st->bloom, kb);
		/* keep v sorted: insert the new version in place */
		for (i = n; i > 0 && v[i - 1].version > o->version; i--)
			v[i] = v[i - 1];
		self = i;
		n++;
		memset(&v[self], 0, sizeof(v[self]));
		v[self].producer = producer;
		v[self].version = o->version;
		v[self].in_new = 1;
		v[self].rowid = e.rowid;
		o->result = STORE_NEW;
	}
	v[self].member[v[self].nmember].coll = coll;
	v[self].member[v[self].nmember].date_added = da;
	v[self].nmember++;
	if ((rc = put_idval(w, &v[self], o->uuid, type)) != 0)
		return rc;
	if (n > 1) {
		int64_t newest = 0;

		if ((rc = fix_first_last(
			 w, coll, v, n, da, &e.flags, &newest)) != 0)
			return rc;
		e.newest = newest;
	}
	if (n == 1)
		e.flags |= STORE_F_FIRST | STORE_F_LAST;
	if ((rc = put_entry(w, coll, da, &e)) != 0)
		return rc;
	o->date_added = da;
	if (o->result == STORE_NEW && w->st->remark != NULL && tlen == 18 &&
	    memcmp(o->id, "marking-definition", 18) == 0)
		return remark_pending(w, producer, o->uuid);
	return 0;
}

int
store_wput(struct store_wtxn *w, uint32_t coll, uint32_t producer,
    struct store_obj *objs, size_t n, int64_t now)
{
	size_t i;
	int rc;

	if (w->err != 0)
		return w->err;
	for (i = 0; i < n; i++) {
		if (objs[i].json == NULL)
			continue; /* rejected before it got here */
		rc = wput_one(w, coll, producer, &objs[i], now);
		if (rc == EINVAL) {
			/* this object only: the others go on */
			objs[i].result = STORE_REFUSED;
			continue;
		}
		if (rc != 0) {
			w->err = store_mdb_err(rc, "add object");
			return w->err;
		}
	}
	return STORE_OK;
}

int
store_wstatus(struct store_wtxn *w, const char *id, uint32_t owner,
    int64_t expires, const char *json, size_t len)
{
	unsigned char xk[8 + 64];
	size_t idlen = strlen(id);
	MDB_val k = {idlen, (void *)(uintptr_t)id}, d;
	unsigned char *p;
	int rc;

	if (w->err != 0)
		return w->err;
	if (idlen > 64)
		return STORE_ERR;
	d.mv_size = 12 + len + CRC_LEN;
	d.mv_data = NULL;
	if ((rc = mdb_put(
		 w->txn, w->st->dbi[DB_STATUS], &k, &d, MDB_RESERVE)) != 0)
		goto fail;
	p = d.mv_data;
	memcpy(p, &owner, 4);
	memcpy(p + 4, &expires, 8);
	memcpy(p + 12, json, len);
	seal(&k, p, 12 + len);
	put_be64(xk, (uint64_t)expires);
	memcpy(xk + 8, id, idlen);
	k.mv_size = 8 + idlen;
	k.mv_data = xk;
	d.mv_size = 0;
	d.mv_data = NULL;
	if ((rc = mdb_put(w->txn, w->st->dbi[DB_STATUSX], &k, &d, 0)) != 0)
		goto fail;
	return STORE_OK;
fail:
	w->err = store_mdb_err(rc, "store status");
	return w->err;
}

int
store_wrelease(struct store_wtxn *w, uint64_t *event, const void *rec,
    size_t len, int64_t now)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d = {len + CRC_LEN, NULL};
	int64_t id;
	int rc;

	if (w->err != 0)
		return w->err;
	id = now > w->last_added ? now : w->last_added + 1;
	w->last_added = id;
	put_be64(kb, (uint64_t)id);
	if ((rc = mdb_put(
		 w->txn, w->st->dbi[DB_RELEASE], &k, &d, MDB_RESERVE)) != 0) {
		w->err = store_mdb_err(rc, "release");
		return w->err;
	}
	memcpy(d.mv_data, rec, len);
	seal(&k, d.mv_data, len);
	*event = (uint64_t)id;
	return STORE_OK;
}

int
store_wtwins(struct store_wtxn *w, uint64_t event, store_entry_cb *want,
    void *arg, int64_t now, unsigned char resume[12], int max, int *added)
{
	static const unsigned char zero[12];
	MDB_cursor *c;
	MDB_val k, d;
	unsigned char kb[ADDKEY_LEN], last[ADDKEY_LEN];
	unsigned char vb[sizeof(struct store_entry) + sizeof(struct twin_ext)];
	struct store_entry e;
	struct twin_ext x;
	int64_t limit_da;
	int rc, n = 0;

	*added = 0;
	if (w->err != 0)
		return w->err;
	/* entries made by this scan come after its start: not rescanned */
	limit_da = w->last_added;
	if ((rc = mdb_cursor_open(w->txn, w->st->dbi[DB_ADDED], &c)) != 0)
		goto fail;
	memcpy(kb, resume, ADDKEY_LEN);
	k.mv_size = ADDKEY_LEN;
	k.mv_data = kb;
	rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	if (rc == 0 && memcmp(resume, zero, 12) != 0 &&
	    memcmp(k.mv_data, resume, ADDKEY_LEN) == 0)
		rc = mdb_cursor_get(c, &k, &d, MDB_NEXT); /* already done */
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		uint32_t coll;
		int64_t da, nda;

		if (k.mv_size != ADDKEY_LEN || d.mv_size != sizeof(e))
			continue; /* a twin, not an original */
		if (entry_ok(w->st, &k, &d) != 0) {
			rc = BADREC;
			break;
		}
		memcpy(last, k.mv_data, ADDKEY_LEN);
		coll = get_be32(k.mv_data);
		da = (int64_t)get_be64((unsigned char *)k.mv_data + 4);
		if (da > limit_da)
			continue;
		memcpy(&e, d.mv_data, sizeof(e));
		if (want(coll, da, &e, arg)) {
			nda = now > w->last_added ? now : w->last_added + 1;
			w->last_added = nda;
			e.flags = (uint8_t)((e.flags | STORE_F_RELEASED) &
			    ~(STORE_F_FIRST | STORE_F_LAST));
			e.newest = 0;
			x.orig_added = da;
			x.event = event;
			memcpy(vb, &e, sizeof(e));
			memcpy(vb + sizeof(e), &x, sizeof(x));
			addkey(kb, coll, nda);
			entry_seal(kb, vb, sizeof(vb));
			k.mv_size = ADDKEY_LEN;
			k.mv_data = kb;
			d.mv_size = sizeof(vb);
			d.mv_data = vb;
			/* a put moves the cursor's page under it: put
			 * through the txn, then find our place again */
			if ((rc = mdb_put(
				 w->txn, w->st->dbi[DB_ADDED], &k, &d, 0)) != 0)
				break;
			(*added)++;
			k.mv_size = ADDKEY_LEN;
			k.mv_data = last;
			if ((rc = mdb_cursor_get(c, &k, &d, MDB_SET_KEY)) != 0)
				break;
		}
		if (++n == max) {
			memcpy(resume, last, ADDKEY_LEN);
			mdb_cursor_close(c);
			return STORE_OK;
		}
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		goto fail;
	memset(resume, 0, 12);
	return STORE_OK;
fail:
	w->err = store_mdb_err(rc, "release twins");
	return w->err;
}

int
store_release_get(
    struct store_reader *r, uint64_t event, const void **rec, size_t *len)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d;
	int rc;

	put_be64(kb, event);
	if ((rc = mdb_get(r->txn, r->st->dbi[DB_RELEASE], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, "release");
	if (unseal(r->st, &k, &d, len) != 0)
		return store_mdb_err(BADREC, "release");
	*rec = d.mv_data;
	return STORE_OK;
}

int
store_releases(struct store_reader *r, store_release_cb *cb, void *arg)
{
	MDB_cursor *c;
	MDB_val k, d;
	int rc, stop = 0;

	if ((rc = mdb_cursor_open(r->txn, r->st->dbi[DB_RELEASE], &c)) != 0)
		return store_mdb_err(rc, "releases");
	rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
	while (rc == 0) {
		size_t len;

		if (k.mv_size != 8 || unseal(r->st, &k, &d, &len) != 0) {
			rc = BADREC; /* a damaged record: refuse the read */
			break;
		}
		if ((stop = cb(get_be64(k.mv_data), d.mv_data, len, arg)) != 0)
			break;
		rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (stop != 0)
		return stop;
	return rc == MDB_NOTFOUND ? 0 : store_mdb_err(rc, "releases");
}

int
store_wprune(struct store_wtxn *w, int64_t now, int max, int *pruned)
{
	MDB_cursor *c;
	MDB_val k, d, sk;
	int rc;

	*pruned = 0;
	if (w->err != 0)
		return w->err;
	if ((rc = mdb_cursor_open(w->txn, w->st->dbi[DB_STATUSX], &c)) != 0)
		goto fail;
	while (
	    *pruned < max && (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST)) == 0) {
		if (k.mv_size < 8 || (int64_t)get_be64(k.mv_data) >= now)
			break;
		sk.mv_size = k.mv_size - 8;
		sk.mv_data = (unsigned char *)k.mv_data + 8;
		rc = mdb_del(w->txn, w->st->dbi[DB_STATUS], &sk, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		(*pruned)++;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	return STORE_OK;
fail:
	w->err = store_mdb_err(rc, "prune statuses");
	return w->err;
}

/* --- audit records --- */

int
store_waudit(struct store_wtxn *w, const char *line, size_t len)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d = {len + CRC_LEN, NULL};
	int rc;

	if (w->err != 0)
		return w->err;
	if (!w->audit_loaded) {
		rc = meta_get_u64(
		    w->txn, w->st->dbi[DB_META], "audit_seq", &w->audit_seq);
		if (rc == MDB_NOTFOUND)
			w->audit_seq = 0;
		else if (rc != 0)
			goto fail;
		w->audit_loaded = 1;
	}
	put_be64(kb, ++w->audit_seq);
	if ((rc = mdb_put(w->txn, w->st->dbi[DB_AUDIT], &k, &d,
		 MDB_APPEND | MDB_RESERVE)) != 0)
		goto fail;
	memcpy(d.mv_data, line, len);
	seal(&k, d.mv_data, len);
	return STORE_OK;
fail:
	w->err = store_mdb_err(rc, "audit record");
	return w->err;
}

int
store_waudit_trim(struct store_wtxn *w, uint64_t upto)
{
	MDB_cursor *c;
	MDB_val k, d;
	int rc;

	if (w->err != 0)
		return w->err;
	if ((rc = mdb_cursor_open(w->txn, w->st->dbi[DB_AUDIT], &c)) != 0)
		goto fail;
	while ((rc = mdb_cursor_get(c, &k, &d, MDB_FIRST)) == 0 &&
	    (k.mv_size != 8 || get_be64(k.mv_data) <= upto))
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	return STORE_OK;
fail:
	w->err = store_mdb_err(rc, "audit trim");
	return w->err;
}

int
store_audit_walk(
    struct store_reader *r, uint64_t after, store_audit_cb *cb, void *arg)
{
	unsigned char kb[8];
	MDB_cursor *c;
	MDB_val k = {8, kb}, d;
	size_t n;
	int rc, stop = 0;

	if ((rc = mdb_cursor_open(r->txn, r->st->dbi[DB_AUDIT], &c)) != 0)
		return store_mdb_err(rc, "audit records");
	put_be64(kb, after + 1);
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0 && !stop;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size != 8) {
			rc = BADREC;
			break;
		}
		if (unseal(r->st, &k, &d, &n) != 0) {
			log_warnx(
			    "store: audit record %llu fails its checksum: "
			    "refused",
			    (unsigned long long)get_be64(k.mv_data));
			stop = cb(get_be64(k.mv_data), NULL, 0, arg);
		} else
			stop = cb(get_be64(k.mv_data), d.mv_data, n, arg);
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_err(rc, "audit records");
	return STORE_OK;
}

/* Removes the matching versions of one producer's object from `coll`. */
static int
wdelete_one(struct store_wtxn *w, uint32_t coll, const unsigned char uuid[16],
    uint32_t type, uint32_t producer, store_match_cb *match, void *arg,
    int *removed)
{
	static _Thread_local struct found v[MAX_VERSIONS];
	struct store_version sv;
	unsigned char kb[ADDKEY_LEN], rk[8];
	MDB_val k;
	int n, i, m, rc, before = *removed;
	uint8_t dummy = 0;
	int64_t dummy_newest = 0;

	if ((rc = all_versions(
		 w->st, w->c_ids, w->c_new, uuid, type, producer, v, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if ((m = member_index(&v[i], coll)) < 0)
			continue;
		to_version(&v[i], &sv);
		if (!match(&sv, arg))
			continue;
		addkey(kb, coll, v[i].member[m].date_added);
		k.mv_size = ADDKEY_LEN;
		k.mv_data = kb;
		rc = mdb_del(w->txn, w->st->dbi[DB_ADDED], &k, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return rc;
		memmove(&v[i].member[m], &v[i].member[m + 1],
		    (size_t)(v[i].nmember - m - 1) * sizeof(struct member_rec));
		v[i].nmember--;
		if ((rc = put_idval(w, &v[i], uuid, type)) != 0)
			return rc;
		if (v[i].nmember == 0) {
			put_be64(rk, v[i].rowid);
			k.mv_size = 8;
			k.mv_data = rk;
			rc = mdb_del(w->txn, w->st->dbi[DB_OBJ], &k, NULL);
			if (rc != 0 && rc != MDB_NOTFOUND)
				return rc;
		}
		(*removed)++;
	}
	if (*removed > before &&
	    (rc = fix_first_last(w, coll, v, n, -1, &dummy, &dummy_newest)) !=
		0)
		return rc;
	return 0;
}

int
store_wdelete(struct store_wtxn *w, uint32_t coll, const char *typename,
    const unsigned char uuid[16], uint32_t producer, store_match_cb *match,
    void *arg, int *removed)
{
	uint32_t type, p;
	int rc;

	*removed = 0;
	if (w->err != 0)
		return w->err;
	rc = wtype(w, typename, strlen(typename), 0, &type);
	if (rc == MDB_NOTFOUND || rc == EINVAL)
		return STORE_OK; /* a type never stored: nothing to remove */
	if (rc != 0)
		goto fail;
	if (producer != 0) {
		if ((rc = wdelete_one(w, coll, uuid, type, producer, match, arg,
			 removed)) != 0)
			goto fail;
		return STORE_OK;
	}
	for (p = 0;
	     (rc = next_producer(w->c_ids, w->c_new, uuid, type, p, &p)) == 0;
	     p++) {
		if ((rc = wdelete_one(
			 w, coll, uuid, type, p, match, arg, removed)) != 0)
			goto fail;
		if (p == UINT32_MAX)
			break;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	return STORE_OK;
fail:
	w->err = store_mdb_err(rc, "delete object");
	return w->err;
}

/*
 * Moves the delta id index into the main one, a sixteenth at a time.  Once
 * the delta is big enough, each of the next sixteen commits moves the
 * entries whose uuid starts in the next 1/16 of the key space ("merge_at"
 * in meta counts them): a slice touches about 1/16 of the main index's
 * pages, so no transaction rewrites the whole index (bounded dirty memory,
 * no latency spike), and after the sixteenth the delta starts again from
 * nearly empty, so new ids keep going into a small tree.
 */
static int
merge_ids(struct store_wtxn *w)
{
	MDB_stat sn, sm;
	MDB_cursor *c;
	MDB_val k, d;
	unsigned char lo[1];
	uint64_t threshold, slice = 16, n = 0;
	int rc;

	rc = meta_get_u64(w->txn, w->st->dbi[DB_META], "merge_at", &slice);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (rc == MDB_NOTFOUND || slice >= 16) {
		/* not merging: start when the delta is big enough */
		if ((rc = mdb_stat(w->txn, w->st->dbi[DB_IDSNEW], &sn)) != 0 ||
		    (rc = mdb_stat(w->txn, w->st->dbi[DB_IDS], &sm)) != 0)
			return rc;
		threshold = sm.ms_entries / 16;
		if (threshold < IDS_MERGE_MIN)
			threshold = IDS_MERGE_MIN;
		if (sn.ms_entries < threshold)
			return 0;
		slice = 0;
	}
	if ((rc = mdb_cursor_open(w->txn, w->st->dbi[DB_IDSNEW], &c)) != 0)
		return rc;
	lo[0] = (unsigned char)(slice << 4);
	k.mv_size = 1;
	k.mv_data = lo;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;) {
		if (((const unsigned char *)k.mv_data)[0] >> 4 != slice)
			break;
		if ((rc = mdb_cursor_put(w->c_ids, &k, &d, 0)) != 0 ||
		    (rc = mdb_cursor_del(c, 0)) != 0)
			break;
		if (++n % 4096 == 0)
			store_release_pages(w->st);
		/* EINVAL: that was the last entry of idsnew */
		if ((rc = mdb_cursor_get(c, &k, &d, MDB_GET_CURRENT)) == EINVAL)
			rc = MDB_NOTFOUND;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	return meta_put_u64(w->txn, w->st->dbi[DB_META], "merge_at", slice + 1);
}

int
store_wcommit(struct store_wtxn *w)
{
	int rc;

	if (w->err != 0) {
		rc = w->err;
		store_wabort(w);
		return rc;
	}
	if ((rc = meta_put_u64(w->txn, w->st->dbi[DB_META], "last_added",
		 (uint64_t)w->last_added)) != 0 ||
	    (rc = meta_put_u64(
		 w->txn, w->st->dbi[DB_META], "last_row", w->last_row)) != 0 ||
	    (rc = meta_put_u64(w->txn, w->st->dbi[DB_META], "writer",
		 w->st->writer_id)) != 0 ||
	    (w->audit_loaded &&
		(rc = meta_put_u64(w->txn, w->st->dbi[DB_META], "audit_seq",
		     w->audit_seq)) != 0) ||
	    (rc = merge_ids(w)) != 0) {
		rc = store_mdb_err(rc, "commit");
		store_wabort(w);
		return rc;
	}
	rc = mdb_txn_commit(w->txn);
	if (rc == 0 && w->nnewtypes <= (int)nitems(w->newtypes)) {
		int i;

		for (i = 0; i < w->nnewtypes; i++)
			type_remember(w->st, w->newtypes[i].name,
			    strlen(w->newtypes[i].name), w->newtypes[i].code);
	}
	unhold(w->st);
	hub_free(w);
	return store_mdb_err(rc, "commit");
}

/* --- readers --- */

int
store_reader_new(struct store *st, struct store_reader **out)
{
	struct store_reader *r;

	if ((r = hub_calloc(1, sizeof(*r))) == NULL)
		return STORE_ERR;
	r->st = st;
	*out = r;
	return STORE_OK;
}

void
store_reader_free(struct store_reader *r)
{
	if (r == NULL)
		return;
	store_rend(r);
	if (r->txn != NULL) {
		mdb_cursor_close(r->c_added);
		mdb_cursor_close(r->c_ids);
		mdb_cursor_close(r->c_new);
		mdb_cursor_close(r->c_obj);
		mdb_txn_abort(r->txn);
	}
	hub_free(r);
}

/* Renews a reset read transaction, adopting a map another process grew
 * (see begin). */
static int
renew(struct store *st, MDB_txn *txn)
{
	int rc, tries;

	for (tries = 0;; tries++) {
		rc = mdb_txn_renew(txn);
		if (rc != MDB_MAP_RESIZED || tries == 2 || store_adopt(st) != 0)
			break;
	}
	if (rc == 0)
		map_extent(st);
	return rc;
}

int
store_rbegin(struct store_reader *r)
{
	int rc;

	if (r->active)
		return STORE_OK;
	hold(r->st);
	if (r->txn == NULL) {
		if ((rc = begin(r->st, MDB_RDONLY, &r->txn)) != 0) {
			r->txn = NULL;
			unhold(r->st);
			return store_mdb_err(rc, "begin read");
		}
		if ((rc = mdb_cursor_open(
			 r->txn, r->st->dbi[DB_ADDED], &r->c_added)) != 0 ||
		    (rc = mdb_cursor_open(
			 r->txn, r->st->dbi[DB_IDS], &r->c_ids)) != 0 ||
		    (rc = mdb_cursor_open(
			 r->txn, r->st->dbi[DB_IDSNEW], &r->c_new)) != 0 ||
		    (rc = mdb_cursor_open(
			 r->txn, r->st->dbi[DB_OBJ], &r->c_obj)) != 0) {
			mdb_txn_abort(r->txn);
			r->txn = NULL;
			unhold(r->st);
			return store_mdb_err(rc, "open cursors");
		}
	} else {
		if ((rc = renew(r->st, r->txn)) != 0) {
			unhold(r->st);
			return store_mdb_err(rc, "renew read");
		}
		if ((rc = mdb_cursor_renew(r->txn, r->c_added)) != 0 ||
		    (rc = mdb_cursor_renew(r->txn, r->c_ids)) != 0 ||
		    (rc = mdb_cursor_renew(r->txn, r->c_new)) != 0 ||
		    (rc = mdb_cursor_renew(r->txn, r->c_obj)) != 0) {
			mdb_txn_reset(r->txn);
			unhold(r->st);
			return store_mdb_err(rc, "renew cursors");
		}
	}
	r->active = 1;
	r->obj_row = 0;
	r->walk_pending = 0;
	r->walk_rc = MDB_NOTFOUND;
	return STORE_OK;
}

void
store_rend(struct store_reader *r)
{
	if (r->active) {
		mdb_txn_reset(r->txn);
		r->active = 0;
		unhold(r->st);
	}
}

static int
decode_item(const struct store *st, const MDB_val *k, const MDB_val *d,
    struct store_item *it)
{
	struct twin_ext x;

	if (entry_ok(st, k, d) != 0)
		return store_mdb_err(BADREC, "index entry");
	it->coll = get_be32(k->mv_data);
	it->date_added = (int64_t)get_be64((unsigned char *)k->mv_data + 4);
	memcpy(&it->e, d->mv_data, sizeof(it->e));
	it->orig_added = 0;
	it->event = 0;
	if (d->mv_size > sizeof(it->e)) {
		memcpy(&x, (const char *)d->mv_data + sizeof(it->e), sizeof(x));
		it->orig_added = x.orig_added;
		it->event = x.event;
	}
	return STORE_OK;
}

/*
 * Walks read rows in key order, and rows in key order share leaf pages.
 * The first row read from a page asks for the whole page (and the rest of
 * a record that runs past it, up to 16 KiB): the next rows' node headers
 * and bytes then arrive together instead of one cache miss at a time.
 * On a 1,000,000-object collection this took a page of 100 objects from
 * 149 to 125 us of CPU (tests/bench, reads at 1,000,000 objects).  A
 * wrong guess costs a few wasted line fetches, never a fault.
 */
static void
prefetch_page(uintptr_t *last, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)4095, end = (uintptr_t)p + len;

	if (a == *last)
		return;
	*last = a;
	if (end < a + 4096)
		end = a + 4096;
	if (end > a + 16384)
		end = a + 16384;
	for (; a < end; a += 64)
		__builtin_prefetch((const void *)a);
}

int
store_walk_start(struct store_reader *r, uint32_t coll, int64_t after)
{
	unsigned char kb[ADDKEY_LEN];
	MDB_val k = {ADDKEY_LEN, kb}, d;

	r->walk_coll = coll;
	r->walk_pending = 1;
	if (after == INT64_MAX) {
		r->walk_rc = MDB_NOTFOUND;
		return STORE_OK;
	}
	addkey(kb, coll, after < 0 ? 0 : after + 1);
	r->walk_rc = mdb_cursor_get(r->c_added, &k, &d, MDB_SET_RANGE);
	if (r->walk_rc != 0 && r->walk_rc != MDB_NOTFOUND)
		return store_mdb_err(r->walk_rc, "walk");
	return STORE_OK;
}

int
store_walk_next(struct store_reader *r, struct store_item *it)
{
	MDB_val k, d;
	int rc;

	if (r->walk_pending) {
		r->walk_pending = 0;
		rc = r->walk_rc;
		if (rc == 0)
			rc =
			    mdb_cursor_get(r->c_added, &k, &d, MDB_GET_CURRENT);
	} else
		rc = mdb_cursor_get(r->c_added, &k, &d, MDB_NEXT);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_mdb_err(rc, "walk");
	if (k.mv_size != ADDKEY_LEN || get_be32(k.mv_data) != r->walk_coll) {
		r->walk_pending = 1;
		r->walk_rc = MDB_NOTFOUND;
		return 0;
	}
	prefetch_page(&r->walk_page, d.mv_data, d.mv_size);
	if ((rc = decode_item(r->st, &k, &d, it)) != STORE_OK)
		return rc;
	return 1;
}

uint64_t
store_snapshot(struct store_reader *r)
{
	return r->active ? (uint64_t)mdb_txn_id(r->txn) : 0;
}

int
store_last_added(struct store_reader *r, uint32_t coll, int64_t *out)
{
	unsigned char kb[ADDKEY_LEN];
	MDB_val k = {ADDKEY_LEN, kb}, d;
	int rc;

	r->walk_pending = 1; /* the walk cursor moves */
	r->walk_rc = MDB_NOTFOUND;
	if (r->last_txn != 0 && r->last_txn == store_snapshot(r) &&
	    r->last_coll == coll) {
		*out = r->last_added;
		return STORE_OK;
	}
	*out = 0;
	if (coll == UINT32_MAX)
		rc = mdb_cursor_get(r->c_added, &k, &d, MDB_LAST);
	else {
		addkey(kb, coll + 1, 0);
		rc = mdb_cursor_get(r->c_added, &k, &d, MDB_SET_RANGE);
		if (rc == 0)
			rc = mdb_cursor_get(r->c_added, &k, &d, MDB_PREV);
		else if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(r->c_added, &k, &d, MDB_LAST);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_err(rc, "last added");
	if (rc == 0 && k.mv_size == ADDKEY_LEN && get_be32(k.mv_data) == coll)
		*out = (int64_t)get_be64((unsigned char *)k.mv_data + 4);
	r->last_txn = store_snapshot(r);
	r->last_coll = coll;
	r->last_added = *out;
	return STORE_OK;
}

int
store_entry_get(struct store_reader *r, uint32_t coll, int64_t date_added,
    struct store_entry *out)
{
	unsigned char kb[ADDKEY_LEN];
	MDB_val k = {ADDKEY_LEN, kb}, d;
	int rc;

	addkey(kb, coll, date_added);
	if ((rc = mdb_get(r->txn, r->st->dbi[DB_ADDED], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, "entry");
	if (entry_ok(r->st, &k, &d) != 0)
		return store_mdb_err(BADREC, "index entry");
	memcpy(out, d.mv_data, sizeof(*out));
	return STORE_OK;
}

int
store_obj_get(struct store_reader *r, uint64_t rowid, struct store_objview *ov)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d;
	struct obj_hdr h;
	const char *p;
	int rc;

	put_be64(kb, rowid);
	/* rows of a walk mostly follow each other: step, do not search */
	rc = MDB_NOTFOUND;
	if (r->obj_row != 0 && rowid > r->obj_row && rowid - r->obj_row <= 8) {
		uint64_t at = r->obj_row;

		while (at < rowid &&
		    (rc = mdb_cursor_get(r->c_obj, &k, &d, MDB_NEXT)) == 0 &&
		    k.mv_size == 8 && (at = get_be64(k.mv_data)) < rowid)
			;
		if (rc == 0 && (k.mv_size != 8 || at != rowid))
			rc = MDB_NOTFOUND;
	}
	if (rc != 0) {
		k.mv_size = 8;
		k.mv_data = kb;
		rc = mdb_cursor_get(r->c_obj, &k, &d, MDB_SET_KEY);
	}
	if (rc != 0) {
		r->obj_row = 0;
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, "object");
	}
	r->obj_row = rowid;
	prefetch_page(&r->obj_page, d.mv_data, d.mv_size);
	if (obj_ok(r->st, &k, &d, &h) != 0) {
		log_warnx("store: object row %llu fails its checksum or its "
			  "lengths: refused (the database is damaged: run "
			  "ctihub verify)",
		    (unsigned long long)rowid);
		return STORE_ECORRUPT;
	}
	p = (const char *)d.mv_data + sizeof(h);
	ov->rowid = rowid;
	ov->version = h.version;
	ov->first_added = h.first_added;
	ov->producer = h.producer;
	ov->type = h.type;
	memcpy(ov->uuid, h.uuid, 16);
	ov->tlp = h.tlp;
	ov->flags = h.flags;
	ov->nrelease = h.nrelease;
	ov->release = p;
	ov->id = p + (size_t)h.nrelease * 2;
	ov->idlen = h.idlen;
	ov->json = ov->id + h.idlen;
	ov->jsonlen = h.jsonlen;
	return STORE_OK;
}

int
store_obj_of(struct store_reader *r, const struct store_entry *e,
    struct store_objview *ov)
{
	int rc;

	if ((rc = store_obj_get(r, e->rowid, ov)) != STORE_OK)
		return rc;
	/* a sound row, but is it the entry's? (an entry's check is only
	 * 16 bits) */
	if (ov->producer != e->producer || ov->type != e->type ||
	    ov->version != e->version || memcmp(ov->uuid, e->uuid, 16) != 0) {
		log_warnx("store: the index entry of row %llu names another "
			  "object: refused (the database is damaged: run "
			  "ctihub verify)",
		    (unsigned long long)e->rowid);
		return STORE_ECORRUPT;
	}
	return STORE_OK;
}

/* Calls cb for each version of one producer's object. */
static int
versions_of(struct store_reader *r, uint32_t type, const unsigned char uuid[16],
    uint32_t producer, store_version_cb *cb, void *arg)
{
	static _Thread_local struct found v[MAX_VERSIONS];
	struct store_version sv;
	int n, i, rc;

	if ((rc = all_versions(
		 r->st, r->c_ids, r->c_new, uuid, type, producer, v, &n)) != 0)
		return store_mdb_err(rc, "versions");
	for (i = 0; i < n; i++) {
		to_version(&v[i], &sv);
		if ((rc = cb(&sv, arg)) != 0)
			return rc;
	}
	return 0;
}

int
store_versions(struct store_reader *r, uint32_t type,
    const unsigned char uuid[16], uint32_t producer, store_version_cb *cb,
    void *arg)
{
	uint32_t p;
	int rc;

	if (producer != 0)
		return versions_of(r, type, uuid, producer, cb, arg);
	for (p = 0;
	     (rc = next_producer(r->c_ids, r->c_new, uuid, type, p, &p)) == 0;
	     p++) {
		if ((rc = versions_of(r, type, uuid, p, cb, arg)) != 0)
			return rc;
		if (p == UINT32_MAX)
			return 0;
	}
	return rc == MDB_NOTFOUND ? 0 : store_mdb_err(rc, "versions");
}

int
store_status_get(struct store_reader *r, const char *id, uint32_t *owner,
    int64_t *expires, const char **json, size_t *len)
{
	MDB_val k = {strlen(id), (void *)(uintptr_t)id}, d;
	int rc;

	if (k.mv_size == 0 || k.mv_size > 64)
		return STORE_ENOTFOUND;
	if ((rc = mdb_get(r->txn, r->st->dbi[DB_STATUS], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND
					  : store_mdb_err(rc, "status");
	if (unseal(r->st, &k, &d, len) != 0 || *len < 12)
		return store_mdb_err(BADREC, "status");
	memcpy(owner, d.mv_data, 4);
	memcpy(expires, (const char *)d.mv_data + 4, 8);
	*json = (const char *)d.mv_data + 12;
	*len -= 12;
	return STORE_OK;
}

/* LMDB reports the map address only for fixed maps: find the mapping of
 * data.mdb among this process's mappings instead. */
static void
find_map(struct store *st)
{
	char want[PATH_MAX + 16], real[PATH_MAX], line[PATH_MAX + 128];
	unsigned long lo, hi;
	FILE *f;

	st->map = NULL;
	st->maplen = 0;
	atomic_store(&st->map_hi, 0);
	if (realpath(st->dir, real) == NULL)
		return;
	snprintf(want, sizeof(want), "%s/data.mdb", real);
	if ((f = fopen("/proc/self/maps", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *path = strchr(line, '/');

		if (path == NULL)
			continue;
		path[strcspn(path, "\n")] = '\0';
		if (strcmp(path, want) == 0 &&
		    sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			st->map = (void *)lo;
			st->maplen = hi - lo;
			break;
		}
	}
	fclose(f);
	map_extent(st);
}

void
store_release_pages(struct store *st)
{
	/* held: a resize moves the map (and the old range may be reused) */
	hold(st);
	if (st->map != NULL)
		madvise(st->map, st->maplen, MADV_DONTNEED);
	unhold(st);
}

int
store_stats(struct store *st, struct store_stats *s)
{
	MDB_txn *txn;
	MDB_stat ms;
	MDB_envinfo ei;
	int rc;

	memset(s, 0, sizeof(*s));
	hold(st);
	if ((rc = begin(st, MDB_RDONLY, &txn)) != 0) {
		unhold(st);
		return store_mdb_err(rc, "stats");
	}
	if (mdb_stat(txn, st->dbi[DB_OBJ], &ms) == 0)
		s->objects = ms.ms_entries;
	if (mdb_stat(txn, st->dbi[DB_IDS], &ms) == 0)
		s->ids_main = ms.ms_entries;
	if (mdb_stat(txn, st->dbi[DB_IDSNEW], &ms) == 0)
		s->ids_new = ms.ms_entries;
	if (mdb_stat(txn, st->dbi[DB_STATUS], &ms) == 0)
		s->statuses = ms.ms_entries;
	if (mdb_stat(txn, st->dbi[DB_AUDIT], &ms) == 0)
		s->audit = ms.ms_entries;
	mdb_txn_abort(txn);
	unhold(st);
	if (mdb_env_info(st->env, &ei) == 0 &&
	    mdb_env_stat(st->env, &ms) == 0) {
		s->map_used = (uint64_t)(ei.me_last_pgno + 1) * ms.ms_psize;
		s->map_size = (uint64_t)ei.me_mapsize;
	}
	return STORE_OK;
}

/* --- verify --- */

struct verify {
	struct store *st;
	MDB_txn *txn;
	int max;
	store_verify_cb *cb;
	void *arg;
	struct store_verify *out;
	uint64_t max_row;
	int64_t max_added;
	uint64_t max_code;
};

static void problem(struct verify *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
problem(struct verify *v, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (v->out->problems++ >= (uint64_t)v->max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	v->cb(line, v->arg);
}

static const char *
hex16(const unsigned char *u, char out[33])
{
	int i;

	for (i = 0; i < 16; i++)
		snprintf(out + i * 2, 3, "%02x", u[i]);
	return out;
}

/* The row `rowid` exists, is sound, and is the object (producer, type,
 * uuid, version); else a problem about `who`. */
static void
verify_row(struct verify *v, uint64_t rowid, uint32_t producer, uint32_t type,
    const unsigned char uuid[16], int64_t version, const char *who)
{
	unsigned char kb[8];
	MDB_val k = {8, kb}, d;
	struct obj_hdr h;
	int rc;

	put_be64(kb, rowid);
	if ((rc = mdb_get(v->txn, v->st->dbi[DB_OBJ], &k, &d)) != 0) {
		problem(v, "%s names row %llu: %s", who,
		    (unsigned long long)rowid,
		    rc == MDB_NOTFOUND ? "no such row" : mdb_strerror(rc));
		return;
	}
	if (obj_ok(v->st, &k, &d, &h) != 0)
		return; /* reported by the walk of the rows */
	if (h.producer != producer || h.type != type || h.version != version ||
	    memcmp(h.uuid, uuid, 16) != 0)
		problem(v, "%s names row %llu, which holds another object", who,
		    (unsigned long long)rowid);
}

/* One table, record by record; `fn` checks one. */
typedef void verify_fn(struct verify *, const MDB_val *k, const MDB_val *d);

static void
verify_table(struct verify *v, int db, verify_fn *fn, uint64_t *count)
{
	MDB_cursor *c;
	MDB_val k, d;
	int rc;

	if ((rc = mdb_cursor_open(v->txn, v->st->dbi[db], &c)) != 0) {
		problem(v, "table %s: %s", db_names[db], mdb_strerror(rc));
		return;
	}
	for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (count != NULL)
			(*count)++;
		fn(v, &k, &d);
	}
	if (rc != MDB_NOTFOUND)
		problem(v, "table %s: cannot be walked to its end: %s",
		    db_names[db], mdb_strerror(rc));
	mdb_cursor_close(c);
}

static void
verify_obj(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	struct obj_hdr h;
	uint64_t row = k->mv_size == 8 ? get_be64(k->mv_data) : 0;

	if (obj_ok(v->st, k, d, &h) != 0) {
		problem(v, "object row %llu fails its checksum or its lengths",
		    (unsigned long long)row);
		return;
	}
	if (row > v->max_row)
		v->max_row = row;
}

static void
verify_ids(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	const unsigned char *kp = k->mv_data;
	unsigned char ak[ADDKEY_LEN];
	MDB_val ek = {ADDKEY_LEN, ak}, ed;
	struct store_entry e;
	struct found f;
	char u[33], who[96];
	int i, rc;

	if (k->mv_size != IDKEY_LEN || decode_idval(v->st, k, d, &f) != 0) {
		problem(v,
		    "id index entry %s fails its checksum or its lengths",
		    k->mv_size >= 16 ? hex16(kp, u) : "(short key)");
		return;
	}
	snprintf(who, sizeof(who), "the id index entry of %s", hex16(kp, u));
	verify_row(v, f.rowid, get_be32(kp + 20), get_be32(kp + 16), kp,
	    get_version(kp + 24), who);
	for (i = 0; i < f.nmember; i++) {
		addkey(ak, f.member[i].coll, f.member[i].date_added);
		if ((rc = mdb_get(v->txn, v->st->dbi[DB_ADDED], &ek, &ed)) !=
		    0) {
			problem(v,
			    "%s names a collection entry that is not "
			    "there",
			    who);
			continue;
		}
		if (entry_ok(v->st, &ek, &ed) != 0)
			continue; /* reported by the walk of the entries */
		memcpy(&e, ed.mv_data, sizeof(e));
		if (e.rowid != f.rowid)
			problem(v,
			    "%s and its collection entry name different "
			    "rows",
			    who);
	}
}

static void
verify_added(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	struct store_item it;
	struct store_entry o;
	unsigned char kb[IDKEY_LEN], ak[ADDKEY_LEN];
	MDB_val ik = {IDKEY_LEN, kb}, id, ok = {ADDKEY_LEN, ak}, od;
	struct found f;
	char who[96];
	int i, rc, member = 0;

	if (entry_ok(v->st, k, d) != 0) {
		problem(v,
		    "a collection entry fails its checksum or its "
		    "lengths");
		return;
	}
	if (decode_item(v->st, k, d, &it) != STORE_OK)
		return;
	if (it.date_added > v->max_added)
		v->max_added = it.date_added;
	snprintf(who, sizeof(who), "the entry %lld of collection %u",
	    (long long)it.date_added, it.coll);
	verify_row(v, it.e.rowid, it.e.producer, it.e.type, it.e.uuid,
	    it.e.version, who);
	if (it.e.flags & STORE_F_RELEASED) {
		unsigned char rk[8];
		MDB_val k2 = {8, rk}, d2;
		size_t n;

		addkey(ak, it.coll, it.orig_added);
		if (mdb_get(v->txn, v->st->dbi[DB_ADDED], &ok, &od) != 0 ||
		    entry_ok(v->st, &ok, &od) != 0 ||
		    (memcpy(&o, od.mv_data, sizeof(o)), o.rowid != it.e.rowid))
			problem(v, "%s, a release twin, has no sound original",
			    who);
		put_be64(rk, it.event);
		if (mdb_get(v->txn, v->st->dbi[DB_RELEASE], &k2, &d2) != 0 ||
		    unseal(v->st, &k2, &d2, &n) != 0)
			problem(v,
			    "%s, a release twin, has no sound release "
			    "record",
			    who);
		return;
	}
	/* an original: its version lists it among its memberships */
	idkey(kb, it.e.uuid, it.e.type, it.e.producer, it.e.version);
	rc = mdb_get(v->txn, v->st->dbi[DB_IDSNEW], &ik, &id);
	if (rc == MDB_NOTFOUND)
		rc = mdb_get(v->txn, v->st->dbi[DB_IDS], &ik, &id);
	if (rc != 0 || decode_idval(v->st, &ik, &id, &f) != 0) {
		problem(v, "%s has no sound id index entry", who);
		return;
	}
	for (i = 0; i < f.nmember; i++)
		if (f.member[i].coll == it.coll &&
		    f.member[i].date_added == it.date_added)
			member = 1;
	if (!member)
		problem(v, "%s is not among its version's collections", who);
}

static void
verify_sealed(struct verify *v, const MDB_val *k, const MDB_val *d,
    const char *what, size_t min)
{
	size_t n;

	if (unseal(v->st, k, d, &n) != 0 || n < min)
		problem(
		    v, "a %s record fails its checksum or its lengths", what);
}

static void
verify_status(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	verify_sealed(v, k, d, "status", 12);
}

static void
verify_statusx(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	MDB_val sk, sd;

	(void)d;
	sk.mv_size = k->mv_size >= 8 ? k->mv_size - 8 : 0;
	sk.mv_data = (unsigned char *)k->mv_data + 8;
	if (sk.mv_size == 0 ||
	    mdb_get(v->txn, v->st->dbi[DB_STATUS], &sk, &sd) != 0)
		problem(v, "a status expiry names no status resource");
}

static void
verify_release(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	verify_sealed(v, k, d, "release", 0);
}

static void
verify_audit(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	verify_sealed(v, k, d, "audit", 2);
}

static void
verify_pending(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	if (k->mv_size != 20 || d->mv_size != 8)
		problem(v, "a pending-marking record has the wrong lengths");
}

static void
verify_reg(struct verify *v, const MDB_val *k, const MDB_val *d)
{
	const unsigned char *kp = k->mv_data;
	unsigned char rk[2 + REG_NAME_MAX];
	MDB_val k2 = {0, rk}, d2;
	size_t n, n2;
	uint32_t code;

	if (k->mv_size < 3 || unseal(v->st, k, d, &n) != 0) {
		problem(v,
		    "a registry record fails its checksum or its "
		    "lengths");
		return;
	}
	if (kp[0] == 'n') {
		if (n != 4) {
			problem(
			    v, "a registry name has a code of %zu bytes", n);
			return;
		}
		code = get_be32(d->mv_data);
		if (code > v->max_code)
			v->max_code = code;
		rk[0] = 'c';
		rk[1] = kp[1];
		put_be32(rk + 2, code);
		k2.mv_size = 6;
		if (mdb_get(v->txn, v->st->dbi[DB_REG], &k2, &d2) != 0 ||
		    unseal(v->st, &k2, &d2, &n2) != 0 || n2 != k->mv_size - 2 ||
		    memcmp(d2.mv_data, kp + 2, n2) != 0)
			problem(v,
			    "registry: the name %.*s and its code %u do "
			    "not name each other",
			    (int)(k->mv_size - 2), (const char *)kp + 2, code);
	} else if (kp[0] == 'c') {
		if (k->mv_size != 6 || n == 0 || n > REG_NAME_MAX) {
			problem(v, "a registry code has the wrong lengths");
			return;
		}
		rk[0] = 'n';
		rk[1] = kp[1];
		memcpy(rk + 2, d->mv_data, n);
		k2.mv_size = n + 2;
		if (mdb_get(v->txn, v->st->dbi[DB_REG], &k2, &d2) != 0 ||
		    unseal(v->st, &k2, &d2, &n2) != 0 || n2 != 4 ||
		    get_be32(d2.mv_data) != get_be32(kp + 2))
			problem(v,
			    "registry: the code %u and its name do not "
			    "name each other",
			    get_be32(kp + 2));
	} else
		problem(v, "a registry record of an unknown kind");
}

static void
verify_meta(struct verify *v)
{
	uint64_t x;

	if (meta_get_u64(v->txn, v->st->dbi[DB_META], "last_row", &x) == 0 &&
	    x < v->max_row)
		problem(v, "meta last_row %llu is below row %llu",
		    (unsigned long long)x, (unsigned long long)v->max_row);
	if (meta_get_u64(v->txn, v->st->dbi[DB_META], "last_added", &x) == 0 &&
	    (int64_t)x < v->max_added)
		problem(v, "meta last_added is below an entry's date_added");
	if (meta_get_u64(v->txn, v->st->dbi[DB_META], "last_code", &x) == 0 &&
	    x < v->max_code)
		problem(v, "meta last_code is below a registered code");
}

int
store_verify(struct store *st, int max, store_verify_cb *cb, void *arg,
    struct store_verify *out)
{
	struct verify v;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&v, 0, sizeof(v));
	v.st = st;
	v.max = max;
	v.cb = cb;
	v.arg = arg;
	v.out = out;
	hold(st);
	if ((rc = begin(st, MDB_RDONLY, &v.txn)) != 0) {
		unhold(st);
		return store_mdb_err(rc, "verify");
	}
	verify_table(&v, DB_OBJ, verify_obj, &out->objects);
	verify_table(&v, DB_IDS, verify_ids, &out->ids);
	verify_table(&v, DB_IDSNEW, verify_ids, &out->ids);
	verify_table(&v, DB_ADDED, verify_added, &out->entries);
	verify_table(&v, DB_STATUS, verify_status, &out->statuses);
	verify_table(&v, DB_STATUSX, verify_statusx, NULL);
	verify_table(&v, DB_RELEASE, verify_release, &out->releases);
	verify_table(&v, DB_REG, verify_reg, &out->names);
	verify_table(&v, DB_AUDIT, verify_audit, &out->audit);
	verify_table(&v, DB_PENDING, verify_pending, NULL);
	verify_meta(&v);
	mdb_txn_abort(v.txn);
	unhold(st);
	return STORE_OK;
}

int64_t
store_wlast_added(const struct store_wtxn *w)
{
	return w->last_added;
}
