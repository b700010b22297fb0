/*
 * tstamp.h -- RFC 3339 UTC timestamps as STIX and TAXII write them
 * ("2025-01-06T00:00:00.000Z"), held as microseconds since the Unix epoch.
 * Fractions finer than a microsecond are truncated.
 */
#ifndef CTIHUB_TSTAMP_H
#define CTIHUB_TSTAMP_H

#include <stddef.h>
#include <stdint.h>

#define TSTAMP_LEN 32 /* room for any formatted timestamp and the NUL */

enum tstamp_err {
	TSTAMP_OK = 0,
	TSTAMP_ESYNTAX = -1, /* not YYYY-MM-DDTHH:MM:SS[.frac]<zone> */
	TSTAMP_ERANGE = -2,  /* a field out of range (month 13, Feb 30) */
	TSTAMP_ENOTUTC = -3, /* well-formed, but the zone is not "Z" */
};

/* Parses `s` (n bytes); returns TSTAMP_OK or a negative tstamp_err. */
int tstamp_parse(const char *s, size_t n, int64_t *us);
/* Number of fraction digits written in `s` (0 when none), for checks of
 * required precision; -1 when `s` is not a timestamp. */
int tstamp_precision(const char *s, size_t n);
/* Writes `us` with `digits` fraction digits (0, 3 or 6) and "Z". */
void tstamp_format(int64_t us, int digits, char out[TSTAMP_LEN]);
/* The current time in microseconds. */
int64_t tstamp_now(void);
/* Microseconds of a clock that never jumps (for deadlines and ages). */
int64_t tstamp_mono(void);

#endif
