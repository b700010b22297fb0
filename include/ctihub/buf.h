/*
 * buf.h -- growable byte buffer for building documents (TAXII envelopes,
 * status resources, audit lines) without a round trip through a JSON tree.
 * An allocation failure is sticky: later appends are no-ops and buf_failed()
 * reports it once at the end, so builders check one flag instead of every
 * call.
 */
#ifndef CTIHUB_BUF_H
#define CTIHUB_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	int failed;
};

#define BUF_INIT                                                               \
	{                                                                      \
		NULL, 0, 0, 0                                                  \
	}

void buf_init(struct buf *);
/* Frees the storage; the buf is empty and usable again. */
void buf_clear(struct buf *);
/* Forgets the contents, keeps the storage. */
void buf_reset(struct buf *);
int buf_reserve(struct buf *, size_t more);
void buf_add(struct buf *, const void *, size_t);
void buf_adds(struct buf *, const char *);
void buf_addc(struct buf *, char);
void buf_addf(struct buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends `s` as a quoted, escaped JSON string. */
void buf_add_jstr(struct buf *, const char *s, size_t n);
/* NUL-terminates and returns data (borrowed; valid until the next append). */
const char *buf_cstr(struct buf *);
/* Nonzero once any append has failed for lack of memory. */
int buf_failed(const struct buf *);
/* Hands the storage to the caller (caller frees with hub_free). */
char *buf_detach(struct buf *, size_t *len);

/* Writes a formatted message into the caller's err[errlen] (when err is
 * not NULL and errlen not 0), for functions that report why they failed;
 * returns -1, so `return buf_seterr(err, errlen, ...);` fails. */
int buf_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
