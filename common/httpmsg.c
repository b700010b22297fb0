/*
 * httpmsg.c -- the request pieces the hub parses itself (httpmsg.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "ctihub/bytes.h"
#include "ctihub/httpmsg.h"

/* One segment from *pp up to '/' or the end, decoded into p->store at
 * *o.  0, or -1 with the reason. */
static int
split_segment(const char **pp, struct httpmsg_path *p, size_t *o, char *why,
    size_t whylen)
{
	const char *s = *pp;

	while (*s != '\0' && *s != '/') {
		int c = (unsigned char)*s, hi, lo;

		if (c == '%') {
			if ((hi = hex_digit(s[1])) < 0 ||
			    (lo = hex_digit(s[2])) < 0) {
				snprintf(why, whylen,
				    "malformed percent-encoding in the path");
				return -1;
			}
			c = hi << 4 | lo;
			if (c == '/') {
				snprintf(why, whylen,
				    "an encoded '/' in a path segment");
				return -1;
			}
			s += 3;
		} else
			s++;
		if (c < 0x21 || c > 0x7e) {
			snprintf(why, whylen,
			    "control, space or non-ASCII byte 0x%02x in the "
			    "path",
			    c);
			return -1;
		}
		if (*o + 2 >= sizeof(p->store)) {
			snprintf(why, whylen, "path too long");
			return -1;
		}
		p->store[(*o)++] = (char)c;
	}
	p->store[(*o)++] = '\0';
	*pp = s;
	return 0;
}

int
httpmsg_split_path(
    const char *raw, struct httpmsg_path *p, char *why, size_t whylen)
{
	const char *s = raw;
	size_t o = 0;

	p->nseg = 0;
	if (raw == NULL || raw[0] != '/') {
		snprintf(why, whylen, "the path must start with '/'");
		return -1;
	}
	if (strlen(raw) > HTTPMSG_PATH_MAX) {
		snprintf(
		    why, whylen, "path longer than %d bytes", HTTPMSG_PATH_MAX);
		return -1;
	}
	s++;
	while (*s != '\0') {
		char *seg = p->store + o;
		size_t start = o;

		if (split_segment(&s, p, &o, why, whylen) == -1)
			return -1;
		if (o - start == 1) {
			if (*s == '/') {
				snprintf(why, whylen,
				    "empty segment ('//') in the path");
				return -1;
			}
			break;
		}
		if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0) {
			snprintf(why, whylen,
			    "'%s' segments are not allowed in the path", seg);
			return -1;
		}
		if (p->nseg == HTTPMSG_MAX_SEG) {
			snprintf(why, whylen, "path has too many segments");
			return -1;
		}
		p->seg[p->nseg++] = seg;
		if (*s == '/')
			s++;
	}
	return 0;
}

/* Does one media range of an Accept header admit a TAXII 2.1 body (sse
 * 0), or an event stream (sse 1)? */
static int
accept_range_ok(const char *r, size_t n, int sse)
{
	char buf[256], *params, *t, *save = NULL;
	int taxii = 0, any = 0, version_ok = 1;

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, r, n);
	buf[n] = '\0';
	if ((params = strchr(buf, ';')) != NULL)
		*params++ = '\0';
	for (t = buf + strlen(buf); t > buf && isspace((unsigned char)t[-1]);
	     t--)
		t[-1] = '\0';
	t = buf + strspn(buf, " \t");
	if (strcasecmp(t, "*/*") == 0 ||
	    strcasecmp(t, sse ? "text/*" : "application/*") == 0 ||
	    (sse && strcasecmp(t, "text/event-stream") == 0))
		any = 1;
	else if (!sse && strcasecmp(t, "application/taxii+json") == 0)
		taxii = 1;
	else
		return 0;
	for (t = params ? strtok_r(params, ";", &save) : NULL; t != NULL;
	     t = strtok_r(NULL, ";", &save)) {
		char *eq, *k = t + strspn(t, " \t"), *v;

		if ((eq = strchr(k, '=')) == NULL)
			continue;
		*eq = '\0';
		v = eq + 1 + strspn(eq + 1, " \t\"");
		v[strcspn(v, " \t\"")] = '\0';
		for (char *e = eq; e > k && isspace((unsigned char)e[-1]); e--)
			e[-1] = '\0';
		if (strcasecmp(k, "q") == 0 && strtod(v, NULL) <= 0.0)
			return 0;
		if (taxii && strcasecmp(k, "version") == 0 &&
		    strcmp(v, "2.1") != 0)
			version_ok = 0;
	}
	return any || (taxii && version_ok);
}

static int
accept_ok(const char *h, int sse)
{
	const char *p, *comma;

	if (h == NULL || h[strspn(h, " \t")] == '\0')
		return 1;
	for (p = h;; p = comma + 1) {
		comma = strchr(p, ',');
		if (accept_range_ok(
			p, comma ? (size_t)(comma - p) : strlen(p), sse))
			return 1;
		if (comma == NULL)
			return 0;
	}
}

int
httpmsg_accept_taxii(const char *h)
{
	return accept_ok(h, 0);
}

int
httpmsg_accept_sse(const char *h)
{
	return accept_ok(h, 1);
}

/* One parameter value at p, bare or quoted: its length past p, or 0 when
 * it is not `want` (case-insensitively when `icase`). */
static size_t
param_is(const char *p, const char *want, int icase)
{
	size_t n = strlen(want);
	int q = *p == '"';

	if ((icase ? strncasecmp(p + q, want, n) : strncmp(p + q, want, n)) !=
	    0)
		return 0;
	if (q && p[1 + n] != '"')
		return 0;
	return n + 2 * (size_t)q;
}

int
httpmsg_ctype_taxii(const char *ct)
{
	const char *p;
	size_t n;

	if (ct == NULL)
		return 0;
	ct += strspn(ct, " \t");
	if (strncasecmp(ct, "application/taxii+json", 22) != 0)
		return 0;
	p = ct + 22;
	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		if (*p != ';')
			return 0;
		p++;
		p += strspn(p, " \t");
		if (strncasecmp(p, "version=", 8) == 0)
			n = param_is(p + 8, "2.1", 0);
		else if (strncasecmp(p, "charset=", 8) == 0)
			n = param_is(p + 8, "utf-8", 1);
		else
			return 0;
		if (n == 0)
			return 0;
		p += 8 + n;
	}
	return 1;
}

int
httpmsg_auth_scheme(const char *h, const char **param)
{
	*param = NULL;
	if (h == NULL)
		return HTTPMSG_AUTH_NONE;
	if (strncasecmp(h, "Basic ", 6) == 0) {
		*param = h + 6 + strspn(h + 6, " ");
		return HTTPMSG_AUTH_BASIC;
	}
	if (strncasecmp(h, "Bearer ", 7) == 0) {
		*param = h + 7 + strspn(h + 7, " ");
		return HTTPMSG_AUTH_BEARER;
	}
	*param = h;
	return HTTPMSG_AUTH_OTHER;
}

int
httpmsg_basic_decode(const char *b64, char *out, size_t *user_len,
    size_t *pw_len, char *why, size_t whylen)
{
	size_t n = strlen(b64);
	char *colon;
	int len;

	while (n > 0 && b64[n - 1] == ' ')
		n--;
	if (n == 0 || n % 4 != 0 || n / 4 * 3 >= HTTPMSG_BASIC_MAX) {
		snprintf(why, whylen, "malformed Basic credentials");
		return -1;
	}
	len = EVP_DecodeBlock(
	    (unsigned char *)out, (const unsigned char *)b64, (int)n);
	if (len < 0) {
		snprintf(why, whylen, "malformed Basic credentials (base64)");
		return -1;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes */
	while (len > 0 && b64[n - 1] == '=' && n-- > 0)
		len--;
	out[len] = '\0';
	if ((colon = memchr(out, ':', (size_t)len)) == NULL ||
	    memchr(out, '\0', (size_t)len) != NULL) {
		snprintf(why, whylen, "malformed Basic credentials (no ':')");
		return -1;
	}
	*colon = '\0';
	*user_len = (size_t)(colon - out);
	*pw_len = (size_t)len - *user_len - 1;
	return 0;
}
