/*
 * audit.c -- the append-only JSON-lines audit log (see audit.h).  Lines
 * of most events gather in a buffer (under `lock`, which is never held
 * across I/O) and are written whole; publish records come from the
 * store, where they were committed with the objects they record, and
 * are exported in sequence order and synced before the store may forget
 * them.  Writes go through one writer at a time (`io`): a write that
 * fails half way is cut back to the last whole line, so the file never
 * holds a truncated line, and what could not be written is counted and
 * said in the log.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctihub/alloc.h"
#include "ctihub/audit.h"
#include "ctihub/log.h"
#include "ctihub/tstamp.h"

#define AUDIT_BUF	(256 * 1024)
#define AUDIT_KEEP	(4 * AUDIT_BUF)	   /* unwritten lines kept to retry */
#define AUDIT_EXPORT	(1024 * 1024)	   /* bytes of records per write */
#define AUDIT_TAIL_MAX	(64 * 1024 * 1024) /* read back for the last seq */
#define AUDIT_SEQ_FIELD "{\"seq\":"

struct audit {
	int fd; /* -1: off */
	int regular;
	char *path;
	pthread_mutex_t lock; /* pending */
	struct buf pending;
	pthread_mutex_t io; /* the file: one writer at a time */
	int failing;	    /* the last write failed (said once) */
	/* the exporter's (one thread exports) */
	uint64_t exported; /* the last record in the file; see seq_known */
	int seq_known;
	struct audit_stats stats;
};

static int write_lines(struct audit *, const char *, size_t);

/* Counters change under `lock` (audit_stats reads them there). */
static void
count(struct audit *a, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&a->lock);
	*field += n;
	pthread_mutex_unlock(&a->lock);
}

/* A line cut short by a crash or a full disk ends the file: cut it off. */
static void
repair_tail(struct audit *a)
{
	char c, buf[4096];
	off_t end, at;
	ssize_t n, i;

	if ((end = lseek(a->fd, 0, SEEK_END)) <= 0 ||
	    pread(a->fd, &c, 1, end - 1) != 1 || c == '\n')
		return;
	for (at = end; at > 0;) {
		n = at > (off_t)sizeof(buf) ? (ssize_t)sizeof(buf)
					    : (ssize_t)at;
		at -= n;
		if (pread(a->fd, buf, (size_t)n, at) != n)
			return;
		for (i = n - 1; i >= 0; i--)
			if (buf[i] == '\n') {
				at += i + 1;
				goto cut;
			}
	}
cut:
	if (ftruncate(a->fd, at) == 0)
		log_warnx("audit log %s: its last line was incomplete (%lld "
			  "bytes, from a crash or a full disk): removed",
		    a->path, (long long)(end - at));
}

struct audit *
audit_open(const char *path, char *err, size_t errlen)
{
	struct audit *a;
	struct stat sb;

	if ((a = hub_calloc(1, sizeof(*a))) == NULL ||
	    (a->path = hub_strdup(path)) == NULL) {
		hub_free(a);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->fd = -1;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->io, NULL);
	if (strcmp(path, "off") == 0)
		return a;
	a->fd = strcmp(path, "-") == 0
	    ? dup(STDERR_FILENO)
	    : open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (a->fd == -1) {
		snprintf(
		    err, errlen, "audit log %s: %s", path, strerror(errno));
		audit_close(a);
		return NULL;
	}
	a->regular = fstat(a->fd, &sb) == 0 && S_ISREG(sb.st_mode);
	if (a->regular)
		repair_tail(a);
	return a;
}

int
audit_on(const struct audit *a)
{
	return a != NULL && a->fd != -1;
}

/* Counts the lines in b (each ends with a newline). */
static uint64_t
count_lines(const char *b, size_t n)
{
	uint64_t k = 0;

	while (n > 0) {
		const char *nl = memchr(b, '\n', n);

		if (nl == NULL)
			break;
		k++;
		n -= (size_t)(nl + 1 - b);
		b = nl + 1;
	}
	return k;
}

/*
 * Appends whole lines; 0, or -1 (errno set) with nothing of them left in
 * the file.  Called with `io` held.
 */
static int
write_lines(struct audit *a, const char *p, size_t n)
{
	off_t before = -1;
	size_t off = 0;
	ssize_t w;
	int e;

	if (a->regular && (before = lseek(a->fd, 0, SEEK_END)) == -1)
		return -1;
	while (off < n) {
		w = write(a->fd, p + off, n - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = w == 0 ? ENOSPC : errno;
			/* no partial line stays behind */
			if (off > 0 && before != -1 &&
			    ftruncate(a->fd, before) == -1)
				log_warn("audit log %s: cannot cut back a "
					 "partial write",
				    a->path);
			errno = e;
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

/* Says once when writing starts to fail, and once when it works again. */
static void
note_write(struct audit *a, int ok, const char *what)
{
	if (!ok && !a->failing) {
		a->failing = 1;
		count(a, &a->stats.failures, 1);
		log_warnx("audit log %s: cannot write (%s): %s", a->path,
		    strerror(errno), what);
	} else if (ok && a->failing) {
		a->failing = 0;
		log_info("audit log %s: writing again", a->path);
	}
}

void
audit_flush(struct audit *a)
{
	struct buf out = BUF_INIT;
	int ok;

	if (a == NULL || a->fd == -1)
		return;
	pthread_mutex_lock(&a->io);
	pthread_mutex_lock(&a->lock);
	out = a->pending;
	memset(&a->pending, 0, sizeof(a->pending));
	pthread_mutex_unlock(&a->lock);
	if (out.len > 0) {
		ok = write_lines(a, out.data, out.len) == 0;
		note_write(a, ok,
		    "lines wait in memory, up to 1 MB, then are lost (each "
		    "counted)");
		if (ok)
			buf_reset(&out);
		else if (out.len > AUDIT_KEEP) {
			uint64_t n = count_lines(out.data, out.len);

			count(a, &a->stats.lost, n);
			log_warnx("audit log %s: %" PRIu64 " lines lost (the "
				  "file cannot be written)",
			    a->path, n);
			buf_reset(&out);
		}
		if (out.len > 0) {
			/* put them back, before what came meanwhile */
			pthread_mutex_lock(&a->lock);
			buf_add(&out, a->pending.data, a->pending.len);
			buf_clear(&a->pending);
			a->pending = out;
			memset(&out, 0, sizeof(out));
			pthread_mutex_unlock(&a->lock);
		}
	}
	buf_clear(&out);
	pthread_mutex_unlock(&a->io);
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	audit_flush(a);
	if (a->stats.lost > 0)
		log_warnx("audit log %s: %" PRIu64 " lines could not be "
			  "written",
		    a->path, a->stats.lost);
	if (a->fd != -1)
		close(a->fd);
	buf_clear(&a->pending);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->io);
	hub_free(a->path);
	hub_free(a);
}

void
audit_begin(struct buf *b, const char *event)
{
	char ts[TSTAMP_LEN];

	tstamp_format(tstamp_now(), 6, ts);
	buf_reset(b);
	buf_addf(b, "{\"time\":\"%s\",\"event\":\"%s\"", ts, event);
}

void
audit_str(struct buf *b, const char *key, const char *value)
{
	buf_addf(b, ",\"%s\":", key);
	buf_add_jstr(b, value, strlen(value));
}

void
audit_end(struct audit *a, struct buf *b)
{
	int full;

	buf_add(b, "}\n", 2);
	if (a == NULL || a->fd == -1)
		return;
	if (buf_failed(b)) {
		count(a, &a->stats.lost, 1);
		return;
	}
	pthread_mutex_lock(&a->lock);
	buf_add(&a->pending, b->data, b->len);
	full = a->pending.len >= AUDIT_BUF || buf_failed(&a->pending);
	pthread_mutex_unlock(&a->lock);
	if (full)
		audit_flush(a);
}

void
audit_record(struct buf *b)
{
	buf_addc(b, '}');
}

/* --- publish records, exported from the store --- */

/*
 * The sequence number of the last record in the file: the last line that
 * starts with {"seq":, read backwards from the end (at most
 * AUDIT_TAIL_MAX bytes).  Records are exported in order and whole, so
 * every record up to it is in the file.  0 when there is none.
 */
static uint64_t
tail_seq(struct audit *a)
{
	static const size_t fl = sizeof(AUDIT_SEQ_FIELD) - 1;
	char buf[65536 + 64 + 1];
	struct stat sb;
	off_t end, at;
	size_t n, keep = 0, total;
	ssize_t i;

	if (!a->regular || fstat(a->fd, &sb) == -1 || (end = sb.st_size) <= 0)
		return 0;
	for (at = end; at > 0 && end - at < AUDIT_TAIL_MAX;) {
		n = at > 65536 ? 65536 : (size_t)at;
		at -= (off_t)n;
		/* the first bytes of the later chunk follow this one */
		memmove(buf + n, buf, keep);
		if (pread(a->fd, buf, n, at) != (ssize_t)n)
			return 0;
		total = n + keep;
		buf[total] = '\0';
		/* a line starts at buf[i] (i == n: the later chunk's) */
		for (i = (ssize_t)n; i >= 0; i--)
			if ((i == 0 ? at == 0 : buf[i - 1] == '\n') &&
			    total - (size_t)i >= fl &&
			    memcmp(buf + i, AUDIT_SEQ_FIELD, fl) == 0)
				return strtoull(buf + i + fl, NULL, 10);
		keep = total < 64 ? total : 64;
	}
	if (at > 0)
		log_warnx("audit log %s: no exported record in its last %d "
			  "MB: the records the database still holds are "
			  "written again",
		    a->path, AUDIT_TAIL_MAX >> 20);
	return 0;
}

struct export
{
	struct audit *a;
	struct buf out;
	uint64_t last;
	int full; /* out holds AUDIT_EXPORT bytes: write, then go on */
};

static int
export_one(uint64_t seq, const char *line, size_t len, void *arg)
{
	struct export *x = arg;

	x->last = seq;
	if (line == NULL || len < 2 || line[0] != '{') {
		/* damaged in the database (the store said so): counted */
		count(x->a, &x->a->stats.lost, 1);
		return 0;
	}
	buf_addf(&x->out, AUDIT_SEQ_FIELD "%" PRIu64 ",", seq);
	buf_add(&x->out, line + 1, len - 1);
	buf_addc(&x->out, '\n');
	if (x->out.len >= AUDIT_EXPORT) {
		x->full = 1;
		return 1;
	}
	return 0;
}

static int
any_record(uint64_t seq, const char *line, size_t len, void *arg)
{
	(void)seq;
	(void)line;
	(void)len;
	*(int *)arg = 1;
	return 1;
}

/* Where the file stands: read back from its end, once, and only when the
 * database holds records (after a crash, or at the first publish). */
static int
find_exported(struct audit *a, struct store_reader *r)
{
	int any = 0, rc;

	if (a->seq_known)
		return 1;
	if (store_rbegin(r) != STORE_OK)
		return -1;
	rc = store_audit_walk(r, 0, any_record, &any);
	store_rend(r);
	if (rc != STORE_OK)
		return -1;
	if (!any)
		return 0;
	a->exported = tail_seq(a);
	a->seq_known = 1;
	return 1;
}

int
audit_export(struct audit *a, struct store_reader *r, uint64_t *upto)
{
	struct export x;
	int rc, ok;

	*upto = 0;
	if (a == NULL || a->fd == -1)
		return 0;
	memset(&x, 0, sizeof(x));
	x.a = a;
	/* `io` is taken for the write only, never around a transaction:
	 * a worker may wait for `io` (audit_end) inside one, and a resize
	 * of the map waits for every transaction */
	if ((rc = find_exported(a, r)) <= 0)
		goto out;
	rc = 0;
	do {
		buf_reset(&x.out);
		x.full = 0;
		x.last = a->exported;
		if (store_rbegin(r) != STORE_OK) {
			rc = -1;
			break;
		}
		if (store_audit_walk(r, a->exported, export_one, &x) !=
		    STORE_OK)
			rc = -1;
		store_rend(r);
		if (rc == -1 || buf_failed(&x.out) || x.last == a->exported)
			break;
		pthread_mutex_lock(&a->io);
		ok = (x.out.len == 0 ||
			 write_lines(a, x.out.data, x.out.len) == 0) &&
		    (fdatasync(a->fd) == 0 || errno == EINVAL);
		note_write(a, ok,
		    "publish records wait in the database and are written "
		    "when it can be");
		pthread_mutex_unlock(&a->io);
		if (!ok) {
			rc = -1;
			break;
		}
		count(a, &a->stats.exported, x.last - a->exported);
		a->exported = x.last;
		*upto = x.last;
	} while (x.full);
out:
	buf_clear(&x.out);
	return rc < 0 ? -1 : 0;
}

void
audit_stats(struct audit *a, struct audit_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	*s = a->stats;
	pthread_mutex_unlock(&a->lock);
}
