/*
 * t_audit.c -- the audit log's locking: a thread adding a line never
 * waits for another thread's write(2) (here a write into a full pipe that
 * nobody reads until the test says so), and lines come out whole and in
 * order.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctihub/audit.h"

static struct audit *log_;
static atomic_int flushed, added;

static void *
flusher(void *arg)
{
	(void)arg;
	audit_flush(log_);
	atomic_store(&flushed, 1);
	return NULL;
}

static void *
adder(void *arg)
{
	struct buf b = BUF_INIT;

	(void)arg;
	audit_begin(&b, "second");
	audit_end(log_, &b);
	buf_clear(&b);
	atomic_store(&added, 1);
	return NULL;
}

/* Reads what the pipe holds now. */
static size_t
drain(int fd, char *out, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap && (r = read(fd, out + n, cap - n)) > 0)
		n += (size_t)r;
	return n;
}

static void
t_no_lock_across_write(void **state)
{
	static char junk[1 << 16], got[1 << 20];
	struct buf b = BUF_INIT;
	pthread_t tf, ta;
	char path[64], err[128];
	int p[2], i, added_while_blocked;
	size_t n = 0;

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	snprintf(path, sizeof(path), "/dev/fd/%d", p[1]);
	log_ = audit_open(path, err, sizeof(err)); /* a blocking descriptor */
	assert_non_null(log_);
	/* fill the pipe: the audit log's next write(2) blocks */
	memset(junk, 'x', sizeof(junk));
	while (write(p[1], junk, sizeof(junk)) > 0 || errno == EINTR)
		;
	while (write(p[1], junk, 1) == 1 || errno == EINTR)
		; /* the last page too */
	audit_begin(&b, "first");
	audit_end(log_, &b);
	buf_clear(&b);
	assert_int_equal(pthread_create(&tf, NULL, flusher, NULL), 0);
	usleep(100000); /* the flusher is in write(2) by now */
	assert_int_equal(atomic_load(&flushed), 0);
	assert_int_equal(pthread_create(&ta, NULL, adder, NULL), 0);
	for (i = 0; i < 200 && !atomic_load(&added); i++)
		usleep(10000);
	added_while_blocked = atomic_load(&added);
	/* let everything through, then check */
	for (i = 0; i < 500 && !atomic_load(&flushed); i++) {
		n += drain(p[0], got + n, sizeof(got) - n - 1);
		usleep(10000);
	}
	pthread_join(tf, NULL);
	pthread_join(ta, NULL);
	audit_flush(log_);
	n += drain(p[0], got + n, sizeof(got) - n - 1);
	got[n] = '\0';
	audit_close(log_);
	close(p[0]);
	close(p[1]);
	assert_true(added_while_blocked);
	{
		char *first = strstr(got, "\"event\":\"first\"}\n");
		char *second = strstr(got, "\"event\":\"second\"}\n");

		assert_non_null(first);
		assert_non_null(second);
		assert_true(first < second);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_no_lock_across_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
