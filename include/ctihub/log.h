/*
 * log.h -- operational logging for every process of ctihub: one line per
 * message on stderr, with a timestamp, the process/thread name and the
 * level.  Not the access log (hub/) nor the audit log (audit.h).
 */
#ifndef CTIHUB_LOG_H
#define CTIHUB_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

extern int log_verbosity;

/* Sets the level (LOG_LVL_*) below which messages are printed. */
void log_init(int verbosity);
/* Names the calling thread in its messages ("http[1]", "writer"). */
void log_procinit(const char *name);

void log_emit(int level, int with_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vemit(int level, int with_errno, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
_Noreturn void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* The level is checked before the arguments are evaluated. */
#define LOG_AT(lvl, e, ...)                                                    \
	do {                                                                   \
		if ((lvl) <= log_verbosity)                                    \
			log_emit((lvl), (e), __VA_ARGS__);                     \
	} while (0)
#define log_warn(...)  LOG_AT(LOG_LVL_WARN, 1, __VA_ARGS__)
#define log_warnx(...) LOG_AT(LOG_LVL_WARN, 0, __VA_ARGS__)
#define log_info(...)  LOG_AT(LOG_LVL_INFO, 0, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_LVL_DEBUG, 0, __VA_ARGS__)

#endif
