/*
 * observable_norm.c -- canonical text and index keys of observables
 * (observable.h): type detection and dispatch, the shared helpers, domain
 * names, hashes, MAC addresses and AS numbers.  Works in
 * the caller's struct obs and allocates nothing of its own; only libidn2,
 * for non-ASCII domain names, allocates (with malloc, freed at once).
 * IP addresses are observable_ip.c, URLs and e-mail addresses
 * observable_url.c, extraction from patterns and SCOs observable_extract.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <idn2.h>
#include <openssl/sha.h>

#include "ctihub/observable.h"
#include "observable_int.h"

#define DOMAIN_MAX 253
#define LABEL_MAX  63
#define DOMAIN_IN  1024 /* longest input, UTF-8 before IDNA */

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

static void text_key(struct obs *);
static int domain_ascii(const char *, size_t, struct tbuf *, char *, size_t);
static int norm_domain(const char *, size_t, struct obs *, char *, size_t);
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

void
obs_put(struct tbuf *t, const char *s, size_t n)
{
	if (t->over || n > OBS_TEXT_MAX - t->len) {
		t->over = 1;
		return;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
}

void
obs_putc(struct tbuf *t, char c)
{
	obs_put(t, &c, 1);
}

void
obs_put_dec(struct tbuf *t, unsigned long v)
{
	char d[24];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	obs_put(t, d + i, sizeof(d) - i);
}

/* Ends the text and builds the text key; -1 if it did not fit. */
int
obs_finish_text(struct obs *o, struct tbuf *t, char *err, size_t errlen)
{
	if (t->over)
		return buf_seterr(err, errlen, "%s: longer than %d bytes",
		    obs_type_name(o->type), OBS_TEXT_MAX);
	o->text[t->len] = '\0';
	o->len = t->len;
	text_key(o);
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
		return buf_seterr(err, errlen, "domain: empty name");
	if (n > DOMAIN_MAX)
		return buf_seterr(
		    err, errlen, "domain: longer than %d bytes", DOMAIN_MAX);
	for (i = 0; i < n; i++) {
		int c = obs_lower((unsigned char)s[i]);

		if (c == '.') {
			if (label == 0)
				return buf_seterr(
				    err, errlen, "domain: empty label");
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || obs_is_digit(c) ||
		    c == '-' || c == '_') {
			if (++label > LABEL_MAX)
				return buf_seterr(err, errlen,
				    "domain: label longer than %d bytes",
				    LABEL_MAX);
		} else
			return buf_seterr(err, errlen,
			    "domain: byte 0x%02x not allowed", (unsigned)c);
		obs_putc(t, (char)c);
	}
	if (label == 0)
		return buf_seterr(err, errlen, "domain: empty label");
	return 0;
}

/* Writes the canonical name of s[0..n) to t. */
int
obs_domain_canon(
    const char *s, size_t n, struct tbuf *t, char *err, size_t errlen)
{
	char in[DOMAIN_IN + 1], *out = NULL;
	size_t i;
	int rc;

	for (i = 0; i < n && (unsigned char)s[i] < 0x80; i++)
		;
	if (i == n)
		return domain_ascii(s, n, t, err, errlen);
	if (n > DOMAIN_IN || memchr(s, '\0', n) != NULL)
		return buf_seterr(err, errlen, "domain: not a name");
	memcpy(in, s, n);
	in[n] = '\0';
	rc = idn2_to_ascii_8z(in, &out, IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK)
		return buf_seterr(err, errlen, "domain: %s", idn2_strerror(rc));
	for (i = 0; out[i] != '\0' && (unsigned char)out[i] < 0x80; i++)
		;
	if (out[i] != '\0') {
		idn2_free(out);
		return buf_seterr(err, errlen, "domain: not a name");
	}
	rc = domain_ascii(out, i, t, err, errlen);
	idn2_free(out);
	return rc;
}

static int
norm_domain(const char *s, size_t n, struct obs *o, char *err, size_t errlen)
{
	struct tbuf t = {o->text, 0, 0};
	size_t i;

	o->type = OBS_DOMAIN;
	if (obs_domain_canon(s, n, &t, err, errlen) != 0)
		return -1;
	/* an all-numeric last label would be an IP address (RFC 3696 2) */
	for (i = t.len; i > 0 && obs_is_digit(o->text[i - 1]); i--)
		;
	if (i == 0 || o->text[i - 1] == '.')
		return buf_seterr(
		    err, errlen, "domain: numeric top-level label");
	return obs_finish_text(o, &t, err, errlen);
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
		return buf_seterr(err, errlen, "%s: expected %zu hex digits",
		    type_names[type], hash_len(type));
	for (i = 0; i < n; i++) {
		if (!obs_is_hex((unsigned char)s[i]))
			return buf_seterr(
			    err, errlen, "%s: not hex", type_names[type]);
		o->text[i] = (char)obs_lower((unsigned char)s[i]);
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
	    obs_is_digit(c) || c == '+' || c == '/';
}

/* blocksize:base64:base64 */
static int
ssdeep_shape(const char *s, size_t n)
{
	size_t i = 0, k;
	int part;

	for (; i < n && obs_is_digit(s[i]) && i < 10; i++)
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
		return buf_seterr(
		    err, errlen, "ssdeep: expected blocksize:hash:hash");
	obs_put(&t, s, n);
	return obs_finish_text(o, &t, err, errlen);
}

/* t1 + 70 or 134 hex digits, or those without t1; lower case */
static int
norm_tlsh(const char *s, size_t n, struct obs *o, char *err, size_t errlen)
{
	struct tbuf t = {o->text, 0, 0};
	size_t i = 0;

	o->type = OBS_TLSH;
	if (n >= 2 && (s[0] == 'T' || s[0] == 't') && s[1] == '1') {
		obs_put(&t, "t1", 2);
		i = 2;
	}
	if (n - i != 70 && n - i != 134)
		return buf_seterr(err, errlen, "tlsh: expected 70 hex digits");
	for (; i < n; i++) {
		if (!obs_is_hex((unsigned char)s[i]))
			return buf_seterr(err, errlen, "tlsh: not hex");
		obs_putc(&t, (char)obs_lower((unsigned char)s[i]));
	}
	return obs_finish_text(o, &t, err, errlen);
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
			if (i + j >= n || !obs_is_hex((unsigned char)s[i + j]))
				return -1;
		m[k / 2] = (unsigned char)(obs_hexval(s[i]) << 4 |
		    obs_hexval(s[i + 1]));
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
		return buf_seterr(err, errlen, "mac: expected six hex bytes");
	snprintf(tmp, sizeof(tmp), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
	    m[2], m[3], m[4], m[5]);
	obs_put(&t, tmp, strlen(tmp));
	return obs_finish_text(o, &t, err, errlen);
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
	if (n >= 2 && obs_lower((unsigned char)s[0]) == 'a' &&
	    obs_lower((unsigned char)s[1]) == 's')
		i = 2;
	for (; i < n; i++) {
		if (s[i] == '.' && !dot && nd > 0 && i >= 2 &&
		    obs_lower((unsigned char)s[0]) == 'a') {
			if (v > 65535)
				return buf_seterr(
				    err, errlen, "asn: bad asdot");
			hi = v;
			v = 0;
			nd = 0;
			dot = 1;
			continue;
		}
		if (!obs_is_digit(s[i]) || ++nd > 10)
			return buf_seterr(err, errlen, "asn: not a number");
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (nd == 0 || (dot && v > 65535) || v > 4294967295ULL)
		return buf_seterr(err, errlen, "asn: not a number");
	if (dot)
		v = hi << 16 | v;
	snprintf(tmp, sizeof(tmp), "%llu", v);
	obs_put(&t, tmp, strlen(tmp));
	return obs_finish_text(o, &t, err, errlen);
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
/* AS numbers as detected: digits, or asdot digits.digits ("AS1.10"); so
 * "as2x.example" is a domain name, not a bad AS number. */
static int
asn_shape(const char *s, size_t n)
{
	size_t i, dots = 0;

	for (i = 0; i < n; i++)
		if (s[i] == '.' && i > 0 && i + 1 < n && dots++ == 0)
			continue;
		else if (!obs_is_digit(s[i]))
			return 0;
	return 1;
}

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
		hex += obs_is_hex((unsigned char)s[i]) != 0;
		v4 += obs_is_digit(s[i]) || s[i] == '.' || s[i] == '/';
	}
	if (memchr(s, ':', n) != NULL) {
		const char *sl = memchr(s, '/', n);

		if (obs_ipv6_parse(s, sl != NULL ? (size_t)(sl - s) : n, b) ==
		    0)
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
	if (n > 2 && obs_lower((unsigned char)s[0]) == 'a' &&
	    obs_lower((unsigned char)s[1]) == 's' && asn_shape(s + 2, n - 2))
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
		return buf_seterr(err, errlen, "unknown type %d", type);
	if (n == 0)
		return buf_seterr(err, errlen, "empty value");
	if (n > OBS_TEXT_MAX)
		return buf_seterr(
		    err, errlen, "longer than %d bytes", OBS_TEXT_MAX);
	if (memchr(in, '\0', n) != NULL)
		return buf_seterr(err, errlen, "NUL byte in value");
	if (type == OBS_NONE && (type = detect(in, n)) == OBS_NONE)
		return buf_seterr(
		    err, errlen, "not a known kind of observable");
	switch (type) {
	case OBS_IPV4:
	case OBS_IPV6:
		return obs_norm_ip(type, in, n, out, err, errlen);
	case OBS_DOMAIN:
		return norm_domain(in, n, out, err, errlen);
	case OBS_URL:
		return obs_norm_url(in, n, out, err, errlen);
	case OBS_EMAIL:
		return obs_norm_email(in, n, out, err, errlen);
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
