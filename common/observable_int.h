/*
 * observable_int.h -- what the parts of the observable module share, and
 * nothing else includes.  The public API is ctihub/observable.h.
 *
 *   observable_norm.c     detection, dispatch, helpers, domain names,
 *                         hashes, MAC addresses, AS numbers
 *   observable_ip.c       IPv4 and IPv6 addresses and ranges, their keys
 *   observable_url.c      URLs and e-mail addresses
 *   observable_extract.c  observables of patterns, SCOs, observed-data
 */
#ifndef CTIHUB_OBSERVABLE_INT_H
#define CTIHUB_OBSERVABLE_INT_H

#include <stddef.h>

#include "ctihub/buf.h"
#include "ctihub/observable.h"

/* Output under construction: o->text, bounded by OBS_TEXT_MAX. */
struct tbuf {
	char *p;
	size_t len;
	int over; /* something did not fit */
};

static inline int
obs_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static inline int
obs_is_hex(int c)
{
	return obs_is_digit(c) || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

static inline int
obs_hexval(int c)
{
	return obs_is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

static inline int
obs_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Appends to t, or marks it over-full. */
void obs_put(struct tbuf *t, const char *s, size_t n);
void obs_putc(struct tbuf *t, char c);
void obs_put_dec(struct tbuf *t, unsigned long v);
/* Ends o's text (t writes o->text) and builds its text key. */
int obs_finish_text(struct obs *o, struct tbuf *t, char *err, size_t errlen);

/* observable_ip.c */
int obs_ipv4_parse(const char *s, size_t n, unsigned char *a);
int obs_ipv6_parse(const char *s, size_t n, unsigned char *b);
void obs_ipv4_format(const unsigned char *a, struct tbuf *t);
void obs_ipv6_format(const unsigned char *b, struct tbuf *t);
int obs_norm_ip(
    int type, const char *s, size_t n, struct obs *o, char *err, size_t errlen);

/* observable_norm.c: a domain name's canonical text, appended to t */
int obs_domain_canon(
    const char *s, size_t n, struct tbuf *t, char *err, size_t errlen);

/* observable_url.c */
int obs_norm_url(
    const char *s, size_t n, struct obs *o, char *err, size_t errlen);
int obs_norm_email(
    const char *s, size_t n, struct obs *o, char *err, size_t errlen);

#endif
