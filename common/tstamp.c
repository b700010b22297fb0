/*
 * tstamp.c -- RFC 3339 timestamps <-> microseconds since the epoch, without
 * the C library's time zone machinery (timegm is not in C11 and mktime
 * reads TZ).
 */
#include <time.h>

#include "ctihub/tstamp.h"

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static int
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
tstamp_parse(const char *s, size_t n, int64_t *us)
{
	static const unsigned mdays[] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, frac = 0, fd = 0, off = 0;
	size_t i;
	int64_t t;

	if (n < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return TSTAMP_ESYNTAX;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
	    digits(s + 17, 2, &sec))
		return TSTAMP_ESYNTAX;
	i = 19;
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return TSTAMP_ESYNTAX;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, fd++)
			if (fd < 6)
				frac = frac * 10 + (s[i] - '0');
		for (int k = fd; k < 6; k++)
			frac *= 10;
	}
	if (i == n)
		return TSTAMP_ESYNTAX;
	if (s[i] == 'Z' || s[i] == 'z') {
		if (i + 1 != n)
			return TSTAMP_ESYNTAX;
	} else if (s[i] == '+' || s[i] == '-') {
		int oh, om;

		if (n - i != 6 || s[i + 3] != ':' ||
		    digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) ||
		    oh > 23 || om > 59)
			return TSTAMP_ESYNTAX;
		off = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
	} else
		return TSTAMP_ESYNTAX;
	if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
		return TSTAMP_ERANGE;
	if ((unsigned)d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return TSTAMP_ERANGE;
	if (sec == 60) { /* a leap second: hold it at the end of :59 */
		sec = 59;
		frac = 999999;
	}
	t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
	    mi * 60 + sec - off * 60;
	*us = t * 1000000 + frac;
	return off != 0 || s[i] != 'Z' ? TSTAMP_ENOTUTC : TSTAMP_OK;
}

int
tstamp_precision(const char *s, size_t n)
{
	int64_t us;
	size_t i;
	int r = tstamp_parse(s, n, &us);

	if (r == TSTAMP_ESYNTAX || r == TSTAMP_ERANGE)
		return -1;
	if (s[19] != '.')
		return 0;
	for (i = 20; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		;
	return (int)(i - 20);
}

static char *
put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/* Hand-rolled rather than snprintf: it runs for every object served. */
void
tstamp_format(int64_t us, int ndigits, char out[TSTAMP_LEN])
{
	int64_t secs = us / 1000000, days;
	long frac = (long)(us % 1000000);
	unsigned m, d, sod, yy;
	int y, i;
	char *p = out;

	if (frac < 0) {
		frac += 1000000;
		secs--;
	}
	days = secs / 86400;
	if (secs % 86400 < 0)
		days--;
	sod = (unsigned)(secs - days * 86400);
	civil_from_days(days, &y, &m, &d);
	yy = y < 0 ? 0 : y > 9999 ? 9999 : (unsigned)y;
	p = put2(p, yy / 100);
	p = put2(p, yy % 100);
	*p++ = '-';
	p = put2(p, m);
	*p++ = '-';
	p = put2(p, d);
	*p++ = 'T';
	p = put2(p, sod / 3600);
	*p++ = ':';
	p = put2(p, sod / 60 % 60);
	*p++ = ':';
	p = put2(p, sod % 60);
	if (ndigits > 6)
		ndigits = 6;
	if (ndigits > 0) {
		*p++ = '.';
		for (i = 0; i < ndigits; i++) {
			static const long pow10[] = {
			    100000, 10000, 1000, 100, 10, 1};
			*p++ = (char)('0' + frac / pow10[i] % 10);
		}
	}
	*p++ = 'Z';
	*p = '\0';
}

int64_t
tstamp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
tstamp_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
