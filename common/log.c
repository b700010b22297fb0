/*
 * log.c -- operational messages on stderr.  Each message is formatted into
 * one buffer and written with a single write(2), so lines from different
 * threads never interleave.  Saves and restores errno.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctihub/log.h"

int log_verbosity = LOG_LVL_INFO;
static _Thread_local char log_name[24] = "main";

static const char *const log_lvlname[] = {"error", "warn", "info", "debug"};

void
log_init(int verbosity)
{
	log_verbosity = verbosity;
}

void
log_procinit(const char *name)
{
	char comm[16];

	snprintf(log_name, sizeof(log_name), "%s", name);
	/* the same name for ps, top and perf (15 characters at most) */
	snprintf(comm, sizeof(comm), "%s", name);
	pthread_setname_np(pthread_self(), comm);
}

void
log_vemit(int level, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n,
	    ".%03ldZ %s %s: ", ts.tv_nsec / 1000000, log_name,
	    log_lvlname[level < 0 ? 0
		    : level > 3	  ? 3
				  : level]);
	if (r > 0)
		n += (size_t)r;
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (r > 0)
			n += (size_t)r;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	if (with_errno && n < sizeof(line) - 2) {
		r = snprintf(
		    line + n, sizeof(line) - n, ": %s", strerror(saved));
		if (r > 0)
			n += (size_t)r;
		if (n >= sizeof(line) - 1)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
	errno = saved;
}

void
log_emit(int level, int with_errno, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(level, with_errno, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
