/*
 * observable_norm.c -- canonical text and index keys of observables
 * (observable.h): type detection, then one normaliser per type.  Works in
 * the caller's struct obs and allocates nothing of its own; only libidn2,
 * for non-ASCII domain names, allocates (with malloc, freed at once).
 * Extraction from patterns and SCOs is observable_extract.c.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <idn2.h>
#include <openssl/sha.h>

#include "ctihub/observable.h"

#define DOMAIN_MAX	253
#define LABEL_MAX	63
#define DOMAIN_IN	1024 /* longest input, UTF-8 before IDNA */
#define EMAIL_LOCAL_MAX 64

/* Output under construction: o->text, bounded by OBS_TEXT_MAX. */
struct tbuf {
	char *p;
	size_t len;
	int over;
};

static const char *const type_names[OBS_TYPE_MAX + 1] = {
    [OBS_IPV4] = "ipv4",
    [OBS_IPV6] = "ipv6",
    [OBS_DOMAIN] = "domain",
    [OBS_URL] = "url",
    [OBS_EMAIL] = "email",
    [OBS_MD5] = "md5",
    [OBS_SHA1] = "sha1",
    [OBS_SHA256] = "sha256",
    [OBS_SHA512] = "sha512",
    [OBS_SSDEEP] = "ssdeep",
    [OBS_TLSH] = "tlsh",
    [OBS_MAC] = "mac",
    [OBS_ASN] = "asn",
    [OBS_X509_MD5] = "x509-md5",
    [OBS_X509_SHA1] = "x509-sha1",
    [OBS_X509_SHA256] = "x509-sha256",
    [OBS_X509_SHA512] = "x509-sha512",
};

static int seterr(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int is_hex(int);
static int hexval(int);
static int is_digit(int);
static int lower(int);
static void put(struct tbuf *, const char *, size_t);
static void putc1(struct tbuf *, char);
static int finish_text(struct obs *, struct tbuf *, char *, size_t);
static void text_key(struct obs *);
static int ipv4_parse(const char *, size_t, unsigned char *);
static int ipv6_parse(const char *, size_t, unsigned char *);
static void ipv6_format(const unsigned char *, struct tbuf *);
static int norm_ip(int, const char *, size_t, struct obs *, char *, size_t);
static int domain_ascii(const char *, size_t, struct tbuf *, char *, size_t);
static int domain_canon(const char *, size_t, struct tbuf *, char *, size_t);
static int norm_domain(const char *, size_t, struct obs *, char *, size_t);
static int unreserved(int);
static void pct_norm(const char *, size_t, struct tbuf *);
static int norm_url(const char *, size_t, struct obs *, char *, size_t);
static int norm_email(const char *, size_t, struct obs *, char *, size_t);
static size_t hash_len(int);
static int norm_hex(int, const char *, size_t, struct obs *, char *, size_t);
static int ssdeep_shape(const char *, size_t);
static int norm_ssdeep(const char *, size_t, struct obs *, char *, size_t);
static int norm_tlsh(const char *, size_t, struct obs *, char *, size_t);
static int mac_parse(const char *, size_t, int, unsigned char *);
static int norm_mac(const char *, size_t, struct obs *, char *, size_t);
static int norm_asn(const char *, size_t, struct obs *, char *, size_t);
static int b64(int);
static int detect(const char *, size_t);

static int
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return (c | 0x20) - 'a' + 10;
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static void
put(struct tbuf *t, const char *s, size_t n)
{
	if (t->over || n > OBS_TEXT_MAX - t->len) {
		t->over = 1;
		return;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
}

static void
putc1(struct tbuf *t, char c)
{
	put(t, &c, 1);
}

/* Ends the text and builds the text key; -1 if it did not fit. */
static int
finish_text(struct obs *o, struct tbuf *t, char *err, size_t errlen)
{
	if (t->over)
		return seterr(err, errlen, "%s: longer than %d bytes",
		    type_names[o->type], OBS_TEXT_MAX);
	o->text[t->len] = '\0';
	o->len = t->len;
	text_key(o);
	return 0;
}

/* type, text; or type, a head of the text, NUL, SHA-256 of the text */
static void
text_key(struct obs *o)
{
	o->key[0] = (unsigned char)o->type;
	if (1 + o->len <= OBS_KEY_MAX) {
		memcpy(o->key + 1, o->text, o->len);
		o->keylen = 1 + o->len;
		return;
	}
	memcpy(o->key + 1, o->text, OBS_KEY_MAX - 34);
	o->key[OBS_KEY_MAX - 33] = '\0';
	SHA256(
	    (const unsigned char *)o->text, o->len, o->key + OBS_KEY_MAX - 32);
	o->keylen = OBS_KEY_MAX;
}

/* Types. */

const char *
obs_type_name(int type)
{
	if (type <= OBS_NONE || type > OBS_TYPE_MAX)
		return NULL;
	return type_names[type];
}

int
obs_type_from_name(const char *name)
{
	int t;

	for (t = 1; t <= OBS_TYPE_MAX; t++)
		if (strcmp(type_names[t], name) == 0)
			return t;
	return OBS_NONE;
}

/* IP addresses and ranges. */

/* Dotted quad, decimal, no leading zeros. */
static int
ipv4_parse(const char *s, size_t n, unsigned char *a)
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		unsigned v = 0, nd = 0;

		if (part > 0) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
		if (i < n && s[i] == '0' && i + 1 < n && is_digit(s[i + 1]))
			return -1;
		while (i < n && is_digit(s[i]) && nd < 4) {
			v = v * 10 + (unsigned)(s[i++] - '0');
			nd++;
		}
		if (nd == 0 || nd > 3 || v > 255)
			return -1;
		a[part] = (unsigned char)v;
	}
	return i == n ? 0 : -1;
}

/* RFC 4291 text: groups of 1-4 hex digits, one "::", a trailing IPv4. */
static int
ipv6_parse(const char *s, size_t n, unsigned char *b)
{
	unsigned g[8];
	size_t i = 0;
	int ng = 0, dc = -1, k;

	if (n < 2)
		return -1;
	if (s[0] == ':') {
		if (s[1] != ':')
			return -1;
		dc = 0;
		i = 2;
	}
	while (i < n) {
		size_t st = i;
		unsigned v = 0, nd = 0;

		if (ng == 8)
			return -1;
		for (; i < n && nd < 5 && is_hex(s[i]); i++, nd++)
			v = v * 16 + (unsigned)hexval(s[i]);
		if (i < n && s[i] == '.') {
			unsigned char a[4];

			if (ng > 6 || ipv4_parse(s + st, n - st, a) != 0)
				return -1;
			g[ng++] = (unsigned)a[0] << 8 | a[1];
			g[ng++] = (unsigned)a[2] << 8 | a[3];
			i = n;
			break;
		}
		if (nd == 0 || nd > 4)
			return -1;
		g[ng++] = v;
		if (i == n)
			break;
		if (s[i] != ':')
			return -1;
		if (++i < n && s[i] == ':') {
			if (dc >= 0)
				return -1;
			dc = ng;
			i++;
		} else if (i == n)
			return -1;
	}
	if (dc < 0 && ng != 8)
		return -1;
	if (dc >= 0) {
		int gap;

		if (ng > 7)
			return -1;
		gap = 8 - ng;
		for (k = ng - 1; k >= dc; k--)
			g[k + gap] = g[k];
		for (k = dc; k < dc + gap; k++)
			g[k] = 0;
	}
	for (k = 0; k < 8; k++) {
		b[2 * k] = (unsigned char)(g[k] >> 8);
		b[2 * k + 1] = (unsigned char)(g[k] & 0xff);
	}
	return 0;
}

/* RFC 5952 section 4, and section 5 for IPv4-mapped addresses. */
static void
ipv6_format(const unsigned char *b, struct tbuf *t)
{
	unsigned g[8];
	char tmp[48];
	int k, best = -1, bestlen = 1;

	for (k = 0; k < 8; k++)
		g[k] = (unsigned)b[2 * k] << 8 | b[2 * k + 1];
	for (k = 0; k < 8;) {
		int r = 0;

		while (k + r < 8 && g[k + r] == 0)
			r++;
		if (r > bestlen) {
			best = k;
			bestlen = r;
		}
		k += r > 0 ? r : 1;
	}
	if (best == 0 && bestlen == 5 && g[5] == 0xffff) {
		snprintf(tmp, sizeof(tmp), "::ffff:%u.%u.%u.%u", b[12], b[13],
		    b[14], b[15]);
		put(t, tmp, strlen(tmp));
		return;
	}
	for (k = 0; k < 8; k++) {
		if (k == best) {
			put(t, k == 0 ? "::" : ":", k == 0 ? 2 : 1);
			k += bestlen - 1;
			continue;
		}
		snprintf(tmp, sizeof(tmp), "%x%s", g[k], k < 7 ? ":" : "");
		put(t, tmp, strlen(tmp));
	}
}

static int
norm_ip(
    int type, const char *s, size_t n, struct obs *o, char *err, size_t errlen)
{
	const char *name = type_names[type];
	unsigned char a[16];
	struct tbuf t = {o->text, 0, 0};
	const char *slash;
	size_t alen = n, i, nb = type == OBS_IPV4 ? 4 : 16;
	int prefix, max = (int)nb * 8, changed = 0;

	if ((slash = memchr(s, '/', n)) != NULL)
		alen = (size_t)(slash - s);
	if ((type == OBS_IPV4 ? ipv4_parse(s, alen, a)
			      : ipv6_parse(s, alen, a)) != 0)
		return seterr(err, errlen, "%s: not an address", name);
	prefix = max;
	if (slash != NULL) {
		size_t pn = n - alen - 1;

		if (pn == 0 || pn > 3 || (pn > 1 && slash[1] == '0'))
			return seterr(
			    err, errlen, "%s: bad prefix length", name);
		for (prefix = 0, i = 1; i <= pn; i++) {
			if (!is_digit(slash[i]))
				return seterr(
				    err, errlen, "%s: bad prefix length", name);
			prefix = prefix * 10 + (slash[i] - '0');
		}
		if (prefix > max)
			return seterr(err, errlen, "%s: prefix length over %d",
			    name, max);
	}
	/* zero the host bits */
	for (i = 0; i < nb; i++) {
		int keep = prefix - (int)i * 8;
		unsigned char m = keep >= 8 ? 0xff
		    : keep <= 0		    ? 0
				: (unsigned char)(0xff << (8 - keep));

		if ((a[i] & m) != a[i])
			changed = 1;
		a[i] &= m;
	}
	o->type = type;
	o->prefix = prefix;
	o->flags = changed ? OBS_F_HOSTBITS : 0;
	if (type == OBS_IPV4) {
		char tmp[24];

		snprintf(
		    tmp, sizeof(tmp), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		put(&t, tmp, strlen(tmp));
	} else
		ipv6_format(a, &t);
	if (prefix < max) {
		char tmp[16];

		snprintf(tmp, sizeof(tmp), "/%d", prefix);
		put(&t, tmp, strlen(tmp));
	}
	o->text[t.len] = '\0';
	o->len = t.len;
	o->key[0] = (unsigned char)type;
	memcpy(o->key + 1, a, nb);
	o->key[1 + nb] = (unsigned char)prefix;
	o->keylen = nb + 2;
	return 0;
}

/* Domain names. */

/* Lower-cases and checks an ASCII name (one trailing dot dropped). */
static int
domain_ascii(const char *s, size_t n, struct tbuf *t, char *err, size_t errlen)
{
	size_t i, label = 0;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0)
		return seterr(err, errlen, "domain: empty name");
	if (n > DOMAIN_MAX)
		return seterr(
		    err, errlen, "domain: longer than %d bytes", DOMAIN_MAX);
	for (i = 0; i < n; i++) {
		int c = lower((unsigned char)s[i]);

		if (c == '.') {
			if (label == 0)
				return seterr(
				    err, errlen, "domain: empty label");
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || is_digit(c) || c == '-' ||
		    c == '_') {
			if (++label > LABEL_MAX)
				return seterr(err, errlen,
				    "domain: label longer than %d bytes",
				    LABEL_MAX);
		} else
			return seterr(err, errlen,
			    "domain: byte 0x%02x not allowed", (unsigned)c);
		putc1(t, (char)c);
	}
	if (label == 0)
		return seterr(err, errlen, "domain: empty label");
	return 0;
}

/* Writes the canonical name of s[0..n) to t. */
static int
domain_canon(const char *s, size_t n, struct tbuf *t, char *err, size_t errlen)
{
	char in[DOMAIN_IN + 1], *out = NULL;
	size_t i;
	int rc;

	for (i = 0; i < n && (unsigned char)s[i] < 0x80; i++)
		;
	if (i == n)
		return domain_ascii(s, n, t, err, errlen);
	if (n > DOMAIN_IN || memchr(s, '\0', n) != NULL)
		return seterr(err, errlen, "domain: not a name");
	memcpy(in, s, n);
	in[n] = '\0';
	rc = idn2_to_ascii_8z(in, &out, IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK)
		return seterr(err, errlen, "domain: %s", idn2_strerror(rc));
	for (i = 0; out[i] != '\0' && (unsigned char)out[i] < 0x80; i++)
		;
	if (out[i] != '\0') {
		idn2_free(out);
		return seterr(err, errlen, "domain: not a name");
	}
	rc = domain_ascii(out, i, t, err, errlen);
	idn2_free(out);
	return rc;
}

static int
norm_domain(const char *s, size_t n, struct obs *o, char *err, size_t errlen)
{
	struct tbuf t = {o->text, 0, 0};

	o->type = OBS_DOMAIN;
	if (domain_canon(s, n, &t, err, errlen) != 0)
		return -1;
	return finish_text(o, &t, err, errlen);
}

/* URLs. */

static int
unreserved(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
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

		if (c == '%' && i + 2 < n && is_hex(s[i + 1]) &&
		    is_hex(s[i + 2])) {
			int v = hexval(s[i + 1]) << 4 | hexval(s[i + 2]);

			i += 2;
			if (unreserved(v)) {
				putc1(t, (char)v);
				continue;
			}
			c = (unsigned char)v;
		} else if (!(c <= 0x20 || c >= 0x7f || c == '%' || c == '"' ||
			       c == '<' || c == '>' || c == '`')) {
			putc1(t, (char)c);
			continue;
		}
		e[0] = '%';
		e[1] = hx[c >> 4];
		e[2] = hx[c & 15];
		put(t, e, 3);
	}
}

static int
norm_url(const char *s, size_t n, struct obs *o, char *err, size_t errlen)
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
		return seterr(err, errlen, "url: NUL byte");
	for (sl = 0; sl < n &&
	     ((s[sl] >= 'a' && s[sl] <= 'z') ||
		 (s[sl] >= 'A' && s[sl] <= 'Z') ||
		 (sl > 0 &&
		     (is_digit(s[sl]) || s[sl] == '+' || s[sl] == '-' ||
			 s[sl] == '.')));
	     sl++)
		;
	if (sl == 0 || n - sl < 3 || memcmp(s + sl, "://", 3) != 0)
		return seterr(err, errlen, "url: expected scheme://");
	for (i = 0; i < sl; i++)
		putc1(&t, (char)lower((unsigned char)s[i]));
	put(&t, "://", 3);
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
		    ipv6_parse(s + h + 1, (size_t)(rb - s) - h - 1, b) != 0)
			return seterr(err, errlen, "url: bad IPv6 host");
		putc1(&t, '[');
		ipv6_format(b, &t);
		putc1(&t, ']');
		ps = (size_t)(rb - s) + 1;
		if (ps < e && s[ps] != ':')
			return seterr(err, errlen, "url: bad IPv6 host");
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
			return seterr(err, errlen, "url: empty host");
		if (ipv4_parse(s + h, hend - h, b) == 0) {
			char tmp[24];

			snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u", b[0], b[1],
			    b[2], b[3]);
			put(&t, tmp, strlen(tmp));
		} else if (domain_canon(s + h, hend - h, &t, err, errlen) != 0)
			return -1;
	}
	if (ps < e) {
		/* s[ps] == ':' */
		for (i = ps + 1; i < e; i++) {
			if (!is_digit(s[i]))
				return seterr(err, errlen, "url: bad port");
			port = port * 10 + (unsigned long)(s[i] - '0');
			if (port > 65535)
				return seterr(err, errlen, "url: bad port");
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
		char tmp[16];

		snprintf(tmp, sizeof(tmp), ":%lu", port);
		put(&t, tmp, strlen(tmp));
	}
	if (e == n || s[e] != '/')
		putc1(&t, '/');
	pct_norm(s + e, n - e, &t);
	return finish_text(o, &t, err, errlen);
}

/* E-mail addresses. */

static int
norm_email(const char *s, size_t n, struct obs *o, char *err, size_t errlen)
{
	struct tbuf t = {o->text, 0, 0};
	const char *at = memchr(s, '@', n);
	size_t i, ln;

	o->type = OBS_EMAIL;
	if (at == NULL || memchr(at + 1, '@', n - (size_t)(at - s) - 1))
		return seterr(err, errlen, "email: expected one '@'");
	ln = (size_t)(at - s);
	if (ln == 0 || ln > EMAIL_LOCAL_MAX)
		return seterr(err, errlen, "email: bad local part");
	for (i = 0; i < ln; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '(' ||
		    c == ')' || c == ',' || c == ':' || c == ';' || c == '<' ||
		    c == '>' || c == '[' || c == ']' || c == '\\')
			return seterr(err, errlen,
			    "email: byte 0x%02x not allowed", (unsigned)c);
		putc1(&t, (char)lower(c));
	}
	putc1(&t, '@');
	if (domain_canon(at + 1, n - ln - 1, &t, err, errlen) != 0)
		return -1;
	return finish_text(o, &t, err, errlen);
}

/* Hashes. */

static size_t
hash_len(int type)
{
	switch (type) {
	case OBS_MD5:
	case OBS_X509_MD5:
		return 32;
	case OBS_SHA1:
	case OBS_X509_SHA1:
		return 40;
	case OBS_SHA256:
	case OBS_X509_SHA256:
		return 64;
	case OBS_SHA512:
	case OBS_X509_SHA512:
		return 128;
	}
	return 0;
}

static int
norm_hex(
    int type, const char *s, size_t n, struct obs *o, char *err, size_t errlen)
{
	size_t i;

	o->type = type;
	if (n != hash_len(type))
		return seterr(err, errlen, "%s: expected %zu hex digits",
		    type_names[type], hash_len(type));
	for (i = 0; i < n; i++) {
		if (!is_hex((unsigned char)s[i]))
			return seterr(
			    err, errlen, "%s: not hex", type_names[type]);
		o->text[i] = (char)lower((unsigned char)s[i]);
	}
	o->text[n] = '\0';
	o->len = n;
	text_key(o);
	return 0;
}

static int
b64(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    is_digit(c) || c == '+' || c == '/';
}

/* blocksize:base64:base64 */
static int
ssdeep_shape(const char *s, size_t n)
{
	size_t i = 0, k;
	int part;

	for (; i < n && is_digit(s[i]) && i < 10; i++)
		;
	if (i == 0 || i == n || s[i] != ':')
		return 0;
	for (part = 0; part < 2; part++) {
		i++;
		for (k = i; i < n && b64((unsigned char)s[i]); i++)
			;
		if (i == k || (part == 0 && (i == n || s[i] != ':')))
			return 0;
	}
	return i == n;
}

static int
norm_ssdeep(const char *s, size_t n, struct obs *o, char *err, size_t errlen)
{
	struct tbuf t = {o->text, 0, 0};

	o->type = OBS_SSDEEP;
	if (!ssdeep_shape(s, n))
		return seterr(
		    err, errlen, "ssdeep: expected blocksize:hash:hash");
	put(&t, s, n);
	return finish_text(o, &t, err, errlen);
}

/* t1 + 70 or 134 hex digits, or those without t1; lower case */
static int
norm_tlsh(const char *s, size_t n, struct obs *o, char *err, size_t errlen)
{
	struct tbuf t = {o->text, 0, 0};
	size_t i = 0;

	o->type = OBS_TLSH;
	if (n >= 2 && (s[0] == 'T' || s[0] == 't') && s[1] == '1') {
		put(&t, "t1", 2);
		i = 2;
	}
	if (n - i != 70 && n - i != 134)
		return seterr(err, errlen, "tlsh: expected 70 hex digits");
	for (; i < n; i++) {
		if (!is_hex((unsigned char)s[i]))
			return seterr(err, errlen, "tlsh: not hex");
		putc1(&t, (char)lower((unsigned char)s[i]));
	}
	return finish_text(o, &t, err, errlen);
}

/* MAC addresses. */

/* aa:bb:cc:dd:ee:ff, aa-bb-.., aabb.ccdd.eeff; 12 digits if bare */
static int
mac_parse(const char *s, size_t n, int bare, unsigned char *m)
{
	size_t i, k = 0, step, seplen = 0;
	char sep = 0;

	if (n == 17 && (s[2] == ':' || s[2] == '-')) {
		sep = s[2];
		step = 2;
	} else if (n == 14 && s[4] == '.') {
		sep = '.';
		step = 4;
	} else if (n == 12 && bare)
		step = 12;
	else
		return -1;
	for (i = 0; i < n;) {
		size_t j;

		if (k > 0 && sep != 0 && k % step == 0) {
			if (s[i] != sep)
				return -1;
			i++;
			seplen++;
		}
		for (j = 0; j < 2; j++)
			if (i + j >= n || !is_hex((unsigned char)s[i + j]))
				return -1;
		m[k / 2] =
		    (unsigned char)(hexval(s[i]) << 4 | hexval(s[i + 1]));
		k += 2;
		i += 2;
	}
	return k == 12 ? 0 : -1;
}

static int
norm_mac(const char *s, size_t n, struct obs *o, char *err, size_t errlen)
{
	unsigned char m[6];
	struct tbuf t = {o->text, 0, 0};
	char tmp[24];

	o->type = OBS_MAC;
	if (mac_parse(s, n, 1, m) != 0)
		return seterr(err, errlen, "mac: expected six hex bytes");
	snprintf(tmp, sizeof(tmp), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
	    m[2], m[3], m[4], m[5]);
	put(&t, tmp, strlen(tmp));
	return finish_text(o, &t, err, errlen);
}

/* AS numbers. */

static int
norm_asn(const char *s, size_t n, struct obs *o, char *err, size_t errlen)
{
	struct tbuf t = {o->text, 0, 0};
	unsigned long long v = 0, hi = 0;
	size_t i = 0, nd = 0;
	int dot = 0;
	char tmp[24];

	o->type = OBS_ASN;
	if (n >= 2 && lower((unsigned char)s[0]) == 'a' &&
	    lower((unsigned char)s[1]) == 's')
		i = 2;
	for (; i < n; i++) {
		if (s[i] == '.' && !dot && nd > 0 && i >= 2 &&
		    lower((unsigned char)s[0]) == 'a') {
			if (v > 65535)
				return seterr(err, errlen, "asn: bad asdot");
			hi = v;
			v = 0;
			nd = 0;
			dot = 1;
			continue;
		}
		if (!is_digit(s[i]) || ++nd > 10)
			return seterr(err, errlen, "asn: not a number");
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (nd == 0 || (dot && v > 65535) || v > 4294967295ULL)
		return seterr(err, errlen, "asn: not a number");
	if (dot)
		v = hi << 16 | v;
	snprintf(tmp, sizeof(tmp), "%llu", v);
	put(&t, tmp, strlen(tmp));
	return finish_text(o, &t, err, errlen);
}

/* Detection and dispatch. */

int
obs_hash_type(const char *name, size_t n, int x509)
{
	static const struct {
		const char *sq;
		int file, cert;
	} tab[] = {
	    {"MD5", OBS_MD5, OBS_X509_MD5},
	    {"SHA1", OBS_SHA1, OBS_X509_SHA1},
	    {"SHA256", OBS_SHA256, OBS_X509_SHA256},
	    {"SHA512", OBS_SHA512, OBS_X509_SHA512},
	    {"SSDEEP", OBS_SSDEEP, OBS_NONE},
	    {"TLSH", OBS_TLSH, OBS_NONE},
	};
	char sq[16];
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)name[i];

		if (c == '-' || c == '_')
			continue;
		if (k == sizeof(sq) - 1)
			return OBS_NONE;
		sq[k++] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
	}
	sq[k] = '\0';
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(tab[i].sq, sq) == 0)
			return x509 ? tab[i].cert : tab[i].file;
	return OBS_NONE;
}

/* The type a value looks like, or OBS_NONE. */
static int
detect(const char *s, size_t n)
{
	unsigned char b[16];
	size_t i, hex = 0, v4 = 0;

	if (n >= 3 && memmem(s, n, "://", 3) != NULL)
		return OBS_URL;
	if (memchr(s, '@', n) != NULL)
		return OBS_EMAIL;
	for (i = 0; i < n; i++) {
		hex += is_hex((unsigned char)s[i]) != 0;
		v4 += is_digit(s[i]) || s[i] == '.' || s[i] == '/';
	}
	if (memchr(s, ':', n) != NULL) {
		const char *sl = memchr(s, '/', n);

		if (ipv6_parse(s, sl != NULL ? (size_t)(sl - s) : n, b) == 0)
			return OBS_IPV6;
		if (mac_parse(s, n, 0, b) == 0)
			return OBS_MAC;
		if (ssdeep_shape(s, n))
			return OBS_SSDEEP;
		return OBS_IPV6;
	}
	if (v4 == n && memchr(s, '.', n) != NULL)
		return OBS_IPV4;
	if (n == 17 && mac_parse(s, n, 0, b) == 0)
		return OBS_MAC;
	if (hex == n) {
		switch (n) {
		case 32:
			return OBS_MD5;
		case 40:
			return OBS_SHA1;
		case 64:
			return OBS_SHA256;
		case 128:
			return OBS_SHA512;
		}
	}
	if (n == 72 && hex == 71 && (s[0] == 't' || s[0] == 'T'))
		return OBS_TLSH;
	if (n > 2 && lower((unsigned char)s[0]) == 'a' &&
	    lower((unsigned char)s[1]) == 's' && is_digit(s[2]))
		return OBS_ASN;
	if (memchr(s, '.', n) != NULL)
		return OBS_DOMAIN;
	return OBS_NONE;
}

int
obs_normalise(int type_hint, const char *in, size_t n, struct obs *out,
    char *err, size_t errlen)
{
	int type = type_hint;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	out->type = OBS_NONE;
	out->prefix = -1;
	out->flags = 0;
	out->len = 0;
	out->text[0] = '\0';
	out->keylen = 0;
	if (type < OBS_NONE || type > OBS_TYPE_MAX)
		return seterr(err, errlen, "unknown type %d", type);
	if (n == 0)
		return seterr(err, errlen, "empty value");
	if (n > OBS_TEXT_MAX)
		return seterr(
		    err, errlen, "longer than %d bytes", OBS_TEXT_MAX);
	if (memchr(in, '\0', n) != NULL)
		return seterr(err, errlen, "NUL byte in value");
	if (type == OBS_NONE && (type = detect(in, n)) == OBS_NONE)
		return seterr(err, errlen, "not a known kind of observable");
	switch (type) {
	case OBS_IPV4:
	case OBS_IPV6:
		return norm_ip(type, in, n, out, err, errlen);
	case OBS_DOMAIN:
		return norm_domain(in, n, out, err, errlen);
	case OBS_URL:
		return norm_url(in, n, out, err, errlen);
	case OBS_EMAIL:
		return norm_email(in, n, out, err, errlen);
	case OBS_SSDEEP:
		return norm_ssdeep(in, n, out, err, errlen);
	case OBS_TLSH:
		return norm_tlsh(in, n, out, err, errlen);
	case OBS_MAC:
		return norm_mac(in, n, out, err, errlen);
	case OBS_ASN:
		return norm_asn(in, n, out, err, errlen);
	default:
		return norm_hex(type, in, n, out, err, errlen);
	}
}
