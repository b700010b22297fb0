/*
 * audit.c -- the append-only JSON-lines audit log (see audit.h): one
 * buffer under a mutex, written with write(2) in whole lines to a file
 * opened O_APPEND.  The write happens outside that mutex (a flush swaps
 * the buffer out under it), so a thread adding a line never waits for
 * the disk; a second mutex keeps flushes, and so lines, in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctihub/alloc.h"
#include "ctihub/audit.h"
#include "ctihub/tstamp.h"

#define AUDIT_BUF (256 * 1024)

struct audit {
	int fd;		       /* -1: off */
	pthread_mutex_t lock;  /* pending */
	pthread_mutex_t wlock; /* the writes, one at a time */
	struct buf pending;
	struct buf spare; /* empty, for the next swap; under wlock */
};

struct audit *
audit_open(const char *path, char *err, size_t errlen)
{
	struct audit *a;

	if ((a = hub_calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->fd = -1;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->wlock, NULL);
	if (strcmp(path, "off") == 0)
		return a;
	a->fd = strcmp(path, "-") == 0
	    ? dup(STDERR_FILENO)
	    : open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (a->fd == -1) {
		snprintf(
		    err, errlen, "audit log %s: %s", path, strerror(errno));
		pthread_mutex_destroy(&a->lock);
		pthread_mutex_destroy(&a->wlock);
		hub_free(a);
		return NULL;
	}
	return a;
}

int
audit_on(const struct audit *a)
{
	return a != NULL && a->fd != -1;
}

void
audit_flush(struct audit *a)
{
	struct buf b;
	size_t off = 0;
	ssize_t w;

	if (a == NULL || a->fd == -1)
		return;
	pthread_mutex_lock(&a->wlock);
	pthread_mutex_lock(&a->lock);
	b = a->pending;
	a->pending = a->spare;
	pthread_mutex_unlock(&a->lock);
	while (off < b.len) {
		w = write(a->fd, b.data + off, b.len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* the disk is full: nothing better to do */
		off += (size_t)w;
	}
	buf_reset(&b);
	a->spare = b;
	pthread_mutex_unlock(&a->wlock);
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	audit_flush(a);
	if (a->fd != -1)
		close(a->fd);
	buf_clear(&a->pending);
	buf_clear(&a->spare);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->wlock);
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
	if (a == NULL || a->fd == -1 || buf_failed(b))
		return;
	pthread_mutex_lock(&a->lock);
	buf_add(&a->pending, b->data, b->len);
	full = a->pending.len >= AUDIT_BUF || buf_failed(&a->pending);
	pthread_mutex_unlock(&a->lock);
	if (full)
		audit_flush(a);
}
