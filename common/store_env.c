/*
 * store_env.c -- the store's environment: open (with the page walk of
 * store_check before it), close, the schema and the secret in meta, map
 * growth and adoption, reader slots, the registry of codes, the mapping
 * and its stats.  Every transaction of the store begins here
 * (store_begin, under store_hold); what is written and read is in
 * store_write.c and store_read.c.  The layout is in store.h.
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
#include "ctihub/log.h"
#include "ctihub/store.h"
#include "store_int.h"

const char *const store_db_names[DB_COUNT] = {"meta", "obj", "ids", "idsnew",
    "added", "status", "statusx", "release", "reg", "pending", "audit", "gone",
    "subs", "obs", "obsrow", "obsnew", "feeds"};

/* every table, in the count env_open and check_child give LMDB */
_Static_assert(DB_COUNT <= STORE_MAXDBS, "raise STORE_MAXDBS");

static void find_map(struct store *);
static unsigned int table_flags(int);

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

int
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

/* Notes where the file's pages end in the map (they only ever grow). */
void
store_map_extent(struct store *st)
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

int
store_meta_get(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t *v)
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

int
store_meta_put(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t v)
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
int
store_begin(struct store *st, unsigned int flags, MDB_txn **txn)
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
		store_map_extent(st);
	return rc;
}

/* Shared hold of the map: every transaction runs under it; it nests. */
static _Thread_local int held;

void
store_hold(struct store *st)
{
	if (held++ == 0)
		pthread_rwlock_rdlock(&st->quiesce);
}

void
store_unhold(struct store *st)
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
	    (rc = mdb_env_set_maxdbs(env, STORE_MAXDBS)) != 0 ||
	    (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0)
		_exit(rc == ENOENT ? 0 : 1); /* none yet: made by store_open */
	/* 0: the free list (as mdb_stat -f reads it); 1: the main tree */
	if ((rc = walk_tree(txn, 0)) != 0 || (rc = walk_tree(txn, 1)) != 0)
		_exit(1);
	for (i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, store_db_names[i], 0, &dbi);
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

/* The environment of `dir`, created when absent, and its map. */
static int
env_open(struct store *st, const char *dir, uint64_t mapsize, char *err,
    size_t errlen)
{
	int rc;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(
		    err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if ((rc = mdb_env_create(&st->env)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, (size_t)mapsize)) != 0 ||
	    (rc = mdb_env_set_maxdbs(st->env, STORE_MAXDBS)) != 0 ||
	    (rc = mdb_env_set_maxreaders(st->env, 512)) != 0 ||
	    (rc = mdb_env_open(
		 st->env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0600)) != 0) {
		snprintf(err, errlen, "cannot open the database in %s: %s", dir,
		    mdb_strerror(rc));
		return -1;
	}
	return check_extent(st, dir, err, errlen);
}

/*
 * The schema in meta (recorded when the database is new): 0 when it is
 * this one's, MDB codes, or STORE_ESCHEMA with a message.  Schema 1 told
 * producers, collections and types apart by 32-bit hashes of their
 * names: what it stored cannot be given back to its owners with
 * certainty; schema 2 had no checksums to tell damaged records from
 * sound ones.
 */
static int
check_schema(
    struct store *st, MDB_txn *txn, const char *dir, char *err, size_t errlen)
{
	uint64_t schema;
	int rc;

	rc = store_meta_get(txn, st->dbi[DB_META], "schema", &schema);
	if (rc == MDB_NOTFOUND) {
		schema = STORE_SCHEMA;
		if ((rc = store_meta_put(
			 txn, st->dbi[DB_META], "schema", schema)) != 0)
			return rc;
	} else if (rc != 0)
		return rc;
	if (schema != STORE_SCHEMA) {
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
		return STORE_ESCHEMA;
	}
	st->schema = (int)schema;
	return 0;
}

/* The secret in meta "token_key", made when there is none: 0, -1 with a
 * message, or an MDB code. */
static int
load_secret(struct store *st, MDB_txn *txn, char *err, size_t errlen)
{
	MDB_val k = {9, (void *)(uintptr_t) "token_key"}, d;
	int rc;

	rc = mdb_get(txn, st->dbi[DB_META], &k, &d);
	if (rc == 0 && d.mv_size == sizeof(st->secret)) {
		memcpy(st->secret, d.mv_data, sizeof(st->secret));
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		return rc == 0 ? MDB_CORRUPTED : rc;
	if (RAND_bytes(st->secret, sizeof(st->secret)) != 1) {
		snprintf(err, errlen, "no randomness for the secret");
		return -1;
	}
	d.mv_size = sizeof(st->secret);
	d.mv_data = st->secret;
	return mdb_put(txn, st->dbi[DB_META], &k, &d, 0);
}

/* What a table's values are: pending, obs and obsnew list several per
 * key (obs entries all of one size). */
static unsigned int
table_flags(int db)
{
	if (db == DB_PENDING)
		return MDB_DUPSORT;
	if (db == DB_OBS || db == DB_OBSNEW)
		return MDB_DUPSORT | MDB_DUPFIXED;
	return 0;
}

/* The tables, the schema and the secret, in the first transaction. */
static int
open_tables(
    struct store *st, MDB_txn *txn, const char *dir, char *err, size_t errlen)
{
	int rc, i;

	for (i = 0; i < DB_COUNT; i++)
		if ((rc = mdb_dbi_open(txn, store_db_names[i],
			 MDB_CREATE | table_flags(i), &st->dbi[i])) != 0)
			return rc;
	if ((rc = check_schema(st, txn, dir, err, errlen)) != 0)
		return rc;
	return load_secret(st, txn, err, errlen);
}

int
store_open(struct store **out, const char *dir, uint64_t mapsize, char *err,
    size_t errlen)
{
	struct store *st;
	MDB_txn *txn = NULL;
	pthread_rwlockattr_t ra;
	int rc, dead = 0;

	*out = NULL;
	if ((st = hub_calloc(1, sizeof(*st))) == NULL ||
	    (st->dir = hub_strdup(dir)) == NULL) {
		if (st != NULL)
			hub_free(st);
		snprintf(err, errlen, "out of memory");
		return STORE_ERR;
	}
	st->obs_merge_min = OBS_MERGE_MIN;
	st->map_max = mapsize;
	pthread_rwlockattr_init(&ra);
	/* a resize waiting for readers goes before new ones */
	pthread_rwlockattr_setkind_np(
	    &ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&st->quiesce, &ra);
	pthread_rwlockattr_destroy(&ra);
	if (env_open(st, dir, mapsize, err, errlen) == -1) {
		rc = -1;
		goto fail;
	}
	/* the slots of readers that died (a killed ctihub import) */
	if (mdb_reader_check(st->env, &dead) == 0 && dead > 0)
		log_info("store: cleared %d stale reader slots", dead);
	store_hold(st); /* no other thread has the store yet */
	rc = store_begin(st, 0, &txn);
	store_unhold(st);
	if (rc != 0 || (rc = open_tables(st, txn, dir, err, errlen)) != 0)
		goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto fail;
	find_map(st);
	store_map_extent(st);
	mdb_env_get_fd(st->env, &store_data_fd);
	if (RAND_bytes(
		(unsigned char *)&st->writer_id, sizeof(st->writer_id)) != 1)
		st->writer_id = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	*out = st;
	return STORE_OK;
fail:
	/* -1 and STORE_ESCHEMA come with their message; an MDB code
	 * gets one here */
	if (rc != -1 && rc != STORE_ESCHEMA)
		snprintf(err, errlen, "database %s: %s", dir, mdb_strerror(rc));
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (st->env != NULL)
		mdb_env_close(st->env);
	pthread_rwlock_destroy(&st->quiesce);
	hub_free(st->dir);
	hub_free(st);
	return rc == STORE_ESCHEMA ? STORE_ESCHEMA : STORE_ERR;
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
int
store_adopt(struct store *st)
{
	int rc;

	if (held != 1)
		return MDB_MAP_RESIZED; /* this thread is inside another */
	store_unhold(st);
	pthread_rwlock_wrlock(&st->quiesce);
	rc = mdb_env_set_mapsize(st->env, 0);
	find_map(st);
	pthread_rwlock_unlock(&st->quiesce);
	store_hold(st);
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

static size_t
regkey(unsigned char *k, int kind, const char *name, size_t len)
{
	k[0] = 'n';
	k[1] = (unsigned char)kind;
	memcpy(k + 2, name, len);
	return len + 2;
}

int
store_reg_get(MDB_txn *txn, const struct store *st, int kind, const char *name,
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
	if (store_unseal(st, &k, &d, &n) != 0 || n != 4)
		return BADREC;
	*code = get_be32(d.mv_data);
	return 0;
}

/* Gives a name the next code (in a write transaction); *last counts. */
int
store_reg_put(MDB_txn *txn, const struct store *st, int kind, const char *name,
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
	store_seal(&k, cb, 4);
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
	store_seal(&k, nb, len);
	d.mv_size = len + CRC_LEN;
	d.mv_data = nb;
	if ((rc = mdb_put(txn, st->dbi[DB_REG], &k, &d, MDB_NOOVERWRITE)) != 0)
		return rc;
	return store_meta_put(txn, st->dbi[DB_META], "last_code", *last);
}

int
store_codes(struct store *st, int kind, const char *const names[], int n,
    uint32_t codes[])
{
	MDB_txn *txn = NULL;
	uint64_t last = 0;
	int i, rc, missing = 0;

	store_hold(st);
	if ((rc = store_begin(st, MDB_RDONLY, &txn)) != 0)
		goto done;
	for (i = 0; i < n; i++) {
		rc = store_reg_get(
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
	if ((rc = store_begin(st, 0, &txn)) != 0)
		goto done;
	rc = store_meta_get(txn, st->dbi[DB_META], "last_code", &last);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	for (i = 0; rc == 0 && i < n; i++) {
		size_t len = strlen(names[i]);

		rc = store_reg_get(txn, st, kind, names[i], len, &codes[i]);
		if (rc == MDB_NOTFOUND)
			rc = store_reg_put(
			    txn, st, kind, names[i], len, &last, &codes[i]);
	}
	if (rc != 0)
		mdb_txn_abort(txn);
	else
		rc = mdb_txn_commit(txn);
done:
	store_unhold(st);
	return store_mdb_err(rc, "registry");
}

int
store_code_get(struct store_reader *r, int kind, const char *name, size_t len,
    uint32_t *code)
{
	int rc = store_reg_get(r->txn, r->st, kind, name, len, code);

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
	if ((rc = store_get_sealed(
		 r->txn, r->st, DB_REG, &k, &d, len, "registry")) != STORE_OK)
		return rc;
	*name = d.mv_data;
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
	store_map_extent(st);
}

void
store_set_obs_merge_min(struct store *st, uint64_t n)
{
	st->obs_merge_min = n > 0 ? n : 1;
}

void
store_release_pages(struct store *st)
{
	/* held: a resize moves the map (and the old range may be reused) */
	store_hold(st);
	if (st->map != NULL)
		madvise(st->map, st->maplen, MADV_DONTNEED);
	store_unhold(st);
}

int
store_stats(struct store *st, struct store_stats *s)
{
	MDB_txn *txn;
	MDB_stat ms;
	MDB_envinfo ei;
	int rc;

	memset(s, 0, sizeof(*s));
	store_hold(st);
	if ((rc = store_begin(st, MDB_RDONLY, &txn)) != 0) {
		store_unhold(st);
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
	if (mdb_stat(txn, st->dbi[DB_GONE], &ms) == 0)
		s->gone = ms.ms_entries;
	if (mdb_stat(txn, st->dbi[DB_SUBS], &ms) == 0)
		s->subs = ms.ms_entries;
	if (mdb_stat(txn, st->dbi[DB_FEEDS], &ms) == 0)
		s->feeds = ms.ms_entries;
	if (mdb_stat(txn, st->dbi[DB_OBS], &ms) == 0)
		s->obs = ms.ms_entries;
	if (mdb_stat(txn, st->dbi[DB_OBSNEW], &ms) == 0) {
		s->obs_new = ms.ms_entries;
		s->obs += ms.ms_entries;
	}
	mdb_txn_abort(txn);
	store_unhold(st);
	if (mdb_env_info(st->env, &ei) == 0 &&
	    mdb_env_stat(st->env, &ms) == 0) {
		s->map_used = (uint64_t)(ei.me_last_pgno + 1) * ms.ms_psize;
		s->map_size = (uint64_t)ei.me_mapsize;
	}
	return STORE_OK;
}

const char *
store_strerror(int rc)
{
	switch (rc) {
	case STORE_OK:
		return "ok";
	case STORE_ENOTFOUND:
		return "not found";
	case STORE_EFULL:
		return "the database is full";
	case STORE_EDISK:
		return "the disk refused the write";
	case STORE_ECORRUPT:
		return "a record failed its integrity check";
	default:
		return "database error";
	}
}
