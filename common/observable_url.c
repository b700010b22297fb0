/*
 * observable_url.c -- URLs and e-mail addresses (observable.h): scheme,
 * host and port normalised, percent-encoding made canonical; e-mail
 * domains as domain names.  Part of the observable module; domain names
 * and the dispatch are observable_norm.c.
 */
#include <string.h>

#include "ctihub/observable.h"
#include "observable_int.h"

#define EMAIL_LOCAL_MAX 64

static int unreserved(int);
static void pct_norm(const char *, size_t, struct tbuf *);

/* URLs. */

static int
unreserved(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    obs_is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/*
 * %XX of unreserved characters decoded, other %XX in upper case, a '%'
 * not followed by two hex digits, controls, space, non-ASCII and "<>`
 * encoded: a fixed point after one pass.
 */
static void
pct_norm(const char *s, size_t n, struct tbuf *t)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[3];

		if (c == '%' && i + 2 < n && obs_is_hex(s[i + 1]) &&
		    obs_is_hex(s[i + 2])) {
			int v =
			    obs_hexval(s[i + 1]) << 4 | obs_hexval(s[i + 2]);

			i += 2;
			if (unreserved(v)) {
				obs_putc(t, (char)v);
				continue;
			}
			c = (unsigned char)v;
		} else if (!(c <= 0x20 || c >= 0x7f || c == '%' || c == '"' ||
			       c == '<' || c == '>' || c == '`')) {
			obs_putc(t, (char)c);
			continue;
		}
		e[0] = '%';
		e[1] = hx[c >> 4];
		e[2] = hx[c & 15];
		obs_put(t, e, 3);
	}
}

int
obs_norm_url(const char *s, size_t n, struct obs *o, char *err, size_t errlen)
{
	static const struct {
		const char *scheme;
		unsigned port;
	} defports[] = {
	    {"http", 80},
	    {"https", 443},
	    {"ftp", 21},
	    {"ws", 80},
	    {"wss", 443},
	};
	struct tbuf t = {o->text, 0, 0};
	size_t i, sl, a, e, h, hend, ps;
	unsigned long port = 0;
	int has_port = 0;

	o->type = OBS_URL;
	if (memchr(s, '\0', n) != NULL)
		return buf_seterr(err, errlen, "url: NUL byte");
	for (sl = 0; sl < n &&
	     ((s[sl] >= 'a' && s[sl] <= 'z') ||
		 (s[sl] >= 'A' && s[sl] <= 'Z') ||
		 (sl > 0 &&
		     (obs_is_digit(s[sl]) || s[sl] == '+' || s[sl] == '-' ||
			 s[sl] == '.')));
	     sl++)
		;
	if (sl == 0 || n - sl < 3 || memcmp(s + sl, "://", 3) != 0)
		return buf_seterr(err, errlen, "url: expected scheme://");
	for (i = 0; i < sl; i++)
		obs_putc(&t, (char)obs_lower((unsigned char)s[i]));
	obs_put(&t, "://", 3);
	a = sl + 3;
	for (e = a; e < n && s[e] != '/' && s[e] != '?' && s[e] != '#'; e++)
		;
	/* userinfo, kept (its %XX normalised) */
	for (h = e; h > a && s[h - 1] != '@'; h--)
		;
	if (h > a)
		pct_norm(s + a, h - a, &t);
	/* host, then :port */
	if (h < e && s[h] == '[') {
		const char *rb = memchr(s + h, ']', e - h);
		unsigned char b[16];

		if (rb == NULL ||
		    obs_ipv6_parse(s + h + 1, (size_t)(rb - s) - h - 1, b) != 0)
			return buf_seterr(err, errlen, "url: bad IPv6 host");
		obs_putc(&t, '[');
		obs_ipv6_format(b, &t);
		obs_putc(&t, ']');
		ps = (size_t)(rb - s) + 1;
		if (ps < e && s[ps] != ':')
			return buf_seterr(err, errlen, "url: bad IPv6 host");
	} else {
		unsigned char b[4];

		for (hend = e; hend > h && s[hend - 1] != ':'; hend--)
			;
		if (hend == h)
			hend = e;
		else
			hend--;
		ps = hend;
		if (hend == h)
			return buf_seterr(err, errlen, "url: empty host");
		if (obs_ipv4_parse(s + h, hend - h, b) == 0)
			obs_ipv4_format(b, &t);
		else if (obs_domain_canon(s + h, hend - h, &t, err, errlen) !=
		    0)
			return -1;
	}
	if (ps < e) {
		/* s[ps] == ':' */
		for (i = ps + 1; i < e; i++) {
			if (!obs_is_digit(s[i]))
				return buf_seterr(err, errlen, "url: bad port");
			port = port * 10 + (unsigned long)(s[i] - '0');
			if (port > 65535)
				return buf_seterr(err, errlen, "url: bad port");
			has_port = 1;
		}
	}
	if (has_port) {
		for (i = 0; i < sizeof(defports) / sizeof(defports[0]); i++)
			if (strlen(defports[i].scheme) == sl &&
			    memcmp(o->text, defports[i].scheme, sl) == 0 &&
			    defports[i].port == port)
				has_port = 0;
	}
	if (has_port) {
		obs_putc(&t, ':');
		obs_put_dec(&t, port);
	}
	if (e == n || s[e] != '/')
		obs_putc(&t, '/');
	pct_norm(s + e, n - e, &t);
	return obs_finish_text(o, &t, err, errlen);
}

/* E-mail addresses. */

int
obs_norm_email(const char *s, size_t n, struct obs *o, char *err, size_t errlen)
{
	struct tbuf t = {o->text, 0, 0};
	const char *at = memchr(s, '@', n);
	size_t i, ln;

	o->type = OBS_EMAIL;
	if (at == NULL || memchr(at + 1, '@', n - (size_t)(at - s) - 1))
		return buf_seterr(err, errlen, "email: expected one '@'");
	ln = (size_t)(at - s);
	if (ln == 0 || ln > EMAIL_LOCAL_MAX)
		return buf_seterr(err, errlen, "email: bad local part");
	for (i = 0; i < ln; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '(' ||
		    c == ')' || c == ',' || c == ':' || c == ';' || c == '<' ||
		    c == '>' || c == '[' || c == ']' || c == '\\')
			return buf_seterr(err, errlen,
			    "email: byte 0x%02x not allowed", (unsigned)c);
		obs_putc(&t, (char)obs_lower(c));
	}
	obs_putc(&t, '@');
	if (obs_domain_canon(at + 1, n - ln - 1, &t, err, errlen) != 0)
		return -1;
	return obs_finish_text(o, &t, err, errlen);
}
