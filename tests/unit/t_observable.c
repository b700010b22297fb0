/*
 * t_observable.c -- observables: canonical forms and keys of every type
 * (IPv6 forms, CIDR edges and host bits, IDN with a TR46 mapping, URL
 * forms, hash case and lengths, MAC and AS forms), type detection, and
 * extraction from every kind of pattern path, from SCOs, observed-data
 * objects and bundles.  Every accepted value is also normalised again
 * from its canonical text, which must give the same text and key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/alloc.h"
#include "ctihub/obs_set.h"
#include "ctihub/observable.h"
#include "ctihub/pattern.h"

#define MAXSEEN 16

struct seen {
	int n;
	int type[MAXSEEN];
	int group[MAXSEEN];
	char text[MAXSEEN][256];
};

static void ok(int, const char *, int, const char *);
static void bad(int, const char *, const char *);
static int record(const struct obs *, void *);
static void from_pattern(const char *, struct seen *);
static void seen_is(const struct seen *, int, int, const char *);
static int inside(int, const char *, const char *);

static struct obs o, o2; /* large: not on the stack */
static char ktext[OBS_TEXT_MAX + 1];

/* `in` as hint normalises to text `want` of type `type`, idempotently. */
static void
ok(int hint, const char *in, int type, const char *want)
{
	char err[OBS_ERRLEN];

	if (obs_normalise(hint, in, strlen(in), &o, err, sizeof(err)) != 0)
		fail_msg("%s: %s", in, err);
	assert_string_equal(o.text, want);
	assert_int_equal(o.len, strlen(want));
	assert_int_equal(o.type, type);
	assert_int_equal(o.key[0], type);
	assert_int_equal(
	    obs_normalise(type, o.text, o.len, &o2, err, sizeof(err)), 0);
	assert_string_equal(o2.text, o.text);
	assert_int_equal(o2.keylen, o.keylen);
	assert_memory_equal(o2.key, o.key, o.keylen);
	assert_int_equal(o2.prefix, o.prefix);
	/* the key gives the text back, unless it holds only its hash */
	if (o.keylen == o.len + 1 || type == OBS_IPV4 || type == OBS_IPV6) {
		assert_int_equal(obs_key_text(o.key, o.keylen, ktext), o.len);
		assert_string_equal(ktext, o.text);
	} else
		assert_int_equal(obs_key_text(o.key, o.keylen, ktext), 0);
}

/* `in` is refused, with `part` in the message. */
static void
bad(int hint, const char *in, const char *part)
{
	char err[OBS_ERRLEN];

	if (obs_normalise(hint, in, strlen(in), &o, err, sizeof(err)) == 0)
		fail_msg("%s: accepted as %s", in, o.text);
	if (strstr(err, part) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", in, err, part);
	assert_int_equal(o.keylen, 0);
}

static int
record(const struct obs *ob, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < MAXSEEN);
	s->type[s->n] = ob->type;
	s->group[s->n] = ob->group;
	assert_true(ob->len < sizeof(s->text[0]));
	memcpy(s->text[s->n], ob->text, ob->len + 1);
	s->n++;
	return 0;
}

static void
from_pattern(const char *p, struct seen *s)
{
	struct pattern *pat;
	char err[PATTERN_ERRLEN];

	memset(s, 0, sizeof(*s));
	if ((pat = pattern_parse(p, strlen(p), err, sizeof(err))) == NULL)
		fail_msg("%s: %s", p, err);
	assert_int_equal(obs_from_pattern(pat, record, s), 0);
	pattern_free(pat);
}

static void
seen_is(const struct seen *s, int i, int type, const char *text)
{
	assert_true(i < s->n);
	assert_string_equal(obs_type_name(s->type[i]), obs_type_name(type));
	assert_string_equal(s->text[i], text);
}

static void
t_ipv4(void **state)
{
	(void)state;
	ok(OBS_NONE, "192.0.2.1", OBS_IPV4, "192.0.2.1");
	assert_int_equal(o.prefix, 32);
	assert_int_equal(o.keylen, 6);
	assert_memory_equal(o.key, "\x01\xc0\x00\x02\x01\x20", 6);
	ok(OBS_IPV4, "192.0.2.1/32", OBS_IPV4, "192.0.2.1");
	ok(OBS_IPV4, "0.0.0.0/0", OBS_IPV4, "0.0.0.0/0");
	assert_int_equal(o.prefix, 0);
	ok(OBS_IPV4, "255.255.255.255/0", OBS_IPV4, "0.0.0.0/0");
	assert_int_equal(o.flags, OBS_F_HOSTBITS);
	ok(OBS_NONE, "10.1.2.3/8", OBS_IPV4, "10.0.0.0/8");
	assert_int_equal(o.flags, OBS_F_HOSTBITS);
	ok(OBS_NONE, "10.0.0.0/8", OBS_IPV4, "10.0.0.0/8");
	assert_int_equal(o.flags, 0);
	assert_memory_equal(o.key, "\x01\x0a\x00\x00\x00\x08", 6);
	ok(OBS_IPV4, "192.0.2.129/25", OBS_IPV4, "192.0.2.128/25");
	ok(OBS_IPV4, "192.0.2.1/31", OBS_IPV4, "192.0.2.0/31");
	bad(OBS_IPV4, "192.0.2.1/33", "prefix length over 32");
	bad(OBS_IPV4, "192.0.2.1/", "bad prefix");
	ok(OBS_IPV4, "192.0.2.1/08", OBS_IPV4, "192.0.0.0/8");
	bad(OBS_IPV4, "192.0.2.1/0008", "bad prefix");
	bad(OBS_IPV4, "192.0.2.1/x", "bad prefix");
	bad(OBS_IPV4, "192.0.2.01", "not an address");
	bad(OBS_IPV4, "192.0.2.256", "not an address");
	bad(OBS_IPV4, "192.0.2", "not an address");
	bad(OBS_IPV4, " 192.0.2.1", "not an address");
	bad(OBS_NONE, "1.2.3.4.5", "ipv4");
	bad(OBS_IPV4, "::1", "not an address");
}

static void
t_ipv6(void **state)
{
	(void)state;
	ok(OBS_NONE, "2001:DB8:0:0:0:0:0:1", OBS_IPV6, "2001:db8::1");
	assert_int_equal(o.prefix, 128);
	assert_int_equal(o.keylen, 18);
	ok(OBS_IPV6, "2001:0db8:0000:0000:0001:0000:0000:0001", OBS_IPV6,
	    "2001:db8::1:0:0:1");
	ok(OBS_IPV6, "2001:db8:0:1:1:1:1:1", OBS_IPV6, "2001:db8:0:1:1:1:1:1");
	ok(OBS_IPV6, "2001:db8:0:0:1:0:0:1", OBS_IPV6, "2001:db8::1:0:0:1");
	ok(OBS_IPV6, "::", OBS_IPV6, "::");
	ok(OBS_IPV6, "::1", OBS_IPV6, "::1");
	ok(OBS_IPV6, "1::", OBS_IPV6, "1::");
	ok(OBS_NONE, "::FFFF:1.2.3.4", OBS_IPV6, "::ffff:1.2.3.4");
	ok(OBS_IPV6, "0:0:0:0:0:ffff:0102:0304", OBS_IPV6, "::ffff:1.2.3.4");
	ok(OBS_IPV6, "::1.2.3.4", OBS_IPV6, "::102:304");
	ok(OBS_IPV6, "::/0", OBS_IPV6, "::/0");
	ok(OBS_IPV6, "2001:db8::1/128", OBS_IPV6, "2001:db8::1");
	ok(OBS_IPV6, "2001:db8::1/64", OBS_IPV6, "2001:db8::/64");
	assert_int_equal(o.flags, OBS_F_HOSTBITS);
	assert_int_equal(o.key[17], 64);
	ok(OBS_IPV6, "2001:db8:1234:5678::/63", OBS_IPV6,
	    "2001:db8:1234:5678::/63");
	ok(OBS_IPV6, "2001:db8:1234:5679::/63", OBS_IPV6,
	    "2001:db8:1234:5678::/63");
	bad(OBS_IPV6, "::1/129", "prefix length over 128");
	bad(OBS_IPV6, "1:2:3:4:5:6:7:8:9", "not an address");
	bad(OBS_IPV6, "1::2::3", "not an address");
	bad(OBS_IPV6, "fe80::1%eth0", "not an address");
	bad(OBS_IPV6, "12345::", "not an address");
	bad(OBS_IPV6, "1:2:3:4:5:6:7", "not an address");
	bad(OBS_NONE, "1:2:3:4", "ipv6");
	ok(OBS_NONE, "1:2:3", OBS_SSDEEP, "1:2:3"); /* ssdeep first */
}

/* Whether `in` lies inside `range` by the key bounds. */
static int
inside(int type, const char *range, const char *in)
{
	unsigned char lo[OBS_IP_KEYLEN_MAX], hi[OBS_IP_KEYLEN_MAX];
	size_t n;

	assert_int_equal(
	    obs_normalise(type, range, strlen(range), &o, NULL, 0), 0);
	n = obs_ip_bounds(&o, lo, hi);
	assert_int_equal(n, o.keylen);
	assert_int_equal(obs_normalise(type, in, strlen(in), &o2, NULL, 0), 0);
	assert_int_equal(o2.keylen, n);
	return memcmp(lo, o2.key, n) <= 0 && memcmp(o2.key, hi, n) <= 0;
}

static void
t_ip_keys(void **state)
{
	static const unsigned char v6zero[18] = {OBS_IPV6};
	unsigned char k[OBS_IP_KEYLEN_MAX];
	int p, found = -1;

	(void)state;
	assert_true(inside(OBS_IPV4, "10.0.0.0/8", "10.0.0.0/8"));
	assert_true(inside(OBS_IPV4, "10.0.0.0/8", "10.0.0.0"));
	assert_true(inside(OBS_IPV4, "10.0.0.0/8", "10.0.0.0/9"));
	assert_true(inside(OBS_IPV4, "10.0.0.0/8", "10.128.0.0/9"));
	assert_true(inside(OBS_IPV4, "10.0.0.0/8", "10.255.255.255"));
	assert_true(inside(OBS_IPV4, "10.0.0.0/8", "10.1.2.3"));
	assert_false(inside(OBS_IPV4, "10.0.0.0/8", "10.0.0.0/7"));
	assert_false(inside(OBS_IPV4, "10.0.0.0/8", "11.0.0.0"));
	assert_false(inside(OBS_IPV4, "10.0.0.0/8", "9.255.255.255"));
	assert_false(inside(OBS_IPV4, "10.0.0.0/8", "0.0.0.0/0"));
	assert_true(inside(OBS_IPV4, "0.0.0.0/0", "255.255.255.255"));
	assert_true(inside(OBS_IPV4, "1.2.3.4", "1.2.3.4"));
	assert_false(inside(OBS_IPV4, "1.2.3.4", "1.2.3.5"));
	assert_true(inside(OBS_IPV6, "2001:db8::/32", "2001:db8:ffff::1"));
	assert_true(inside(OBS_IPV6, "2001:db8::/32", "2001:db8::/48"));
	assert_false(inside(OBS_IPV6, "2001:db8::/32", "2001:db9::"));
	assert_false(inside(OBS_IPV6, "2001:db8::/32", "2001:db8::/31"));
	/* the ranges containing 10.1.2.3 are its networks, one per prefix */
	assert_int_equal(
	    obs_normalise(OBS_IPV4, "10.0.0.0/8", 10, &o2, NULL, 0), 0);
	assert_int_equal(
	    obs_normalise(OBS_IPV4, "10.1.2.3", 8, &o, NULL, 0), 0);
	for (p = 0; p <= 32; p++) {
		assert_int_equal(obs_ip_key(&o, p, k), 6);
		if (memcmp(k, o2.key, 6) == 0)
			found = p;
	}
	assert_int_equal(found, 8);
	assert_int_equal(obs_ip_key(&o, 33, k), 0);
	assert_int_equal(obs_ip_key(&o2, 9, k), 0);
	assert_int_equal(obs_ip_key(&o2, -1, k), 0);
	assert_int_equal(obs_normalise(OBS_IPV6, "::1", 3, &o, NULL, 0), 0);
	assert_int_equal(obs_ip_key(&o, 0, k), 18);
	assert_memory_equal(k, v6zero, 18);
	assert_int_equal(obs_normalise(OBS_DOMAIN, "a.b", 3, &o, NULL, 0), 0);
	assert_int_equal(obs_ip_key(&o, 0, k), 0);
	assert_int_equal(obs_ip_bounds(&o, k, k), 0);
}

static void
t_domain(void **state)
{
	char err[OBS_ERRLEN];
	char longname[300];

	(void)state;
	ok(OBS_NONE, "Example.COM.", OBS_DOMAIN, "example.com");
	assert_int_equal(o.prefix, -1);
	assert_int_equal(o.keylen, 1 + 11);
	assert_memory_equal(o.key,
	    "\x03"
	    "example.com",
	    12);
	ok(OBS_DOMAIN, "localhost", OBS_DOMAIN, "localhost");
	ok(OBS_NONE, "_dmarc.example.com", OBS_DOMAIN, "_dmarc.example.com");
	ok(OBS_NONE, "bücher.example", OBS_DOMAIN, "xn--bcher-kva.example");
	ok(OBS_NONE, "XN--BCHER-KVA.example", OBS_DOMAIN,
	    "xn--bcher-kva.example");
	/* TR46 non-transitional: ß kept (transitional would give fass.de) */
	ok(OBS_NONE, "Faß.de", OBS_DOMAIN, "xn--fa-hia.de");
	/* TR46 mapping: full-width letters and the ideographic full stop */
	ok(OBS_DOMAIN,
	    "\xef\xbc\xa5\xef\xbc\xb8\xef\xbd\x81mple\xe3\x80\x82"
	    "com",
	    OBS_DOMAIN, "example.com");
	ok(OBS_NONE, "пример.рф", OBS_DOMAIN, "xn--e1afmkfd.xn--p1ai");
	bad(OBS_DOMAIN, "a..b", "empty label");
	bad(OBS_DOMAIN, "1.2.3.4", "numeric top-level");
	bad(OBS_DOMAIN, "example.123", "numeric top-level");
	bad(OBS_DOMAIN, "123", "numeric top-level");
	ok(OBS_DOMAIN, "123.example", OBS_DOMAIN, "123.example");
	ok(OBS_DOMAIN, "example.c0m", OBS_DOMAIN, "example.c0m");
	bad(OBS_DOMAIN, ".", "empty name");
	bad(OBS_DOMAIN, "a.example..", "empty label");
	bad(OBS_DOMAIN, "a\xc3\x9f..", "empty label");
	bad(OBS_DOMAIN, "a b.com", "not allowed");
	bad(OBS_DOMAIN, "exa$mple.com", "not allowed");
	memset(longname, 'a', 64);
	strcpy(longname + 64, ".com");
	bad(OBS_DOMAIN, longname, "label longer than 63");
	memset(longname, 'a', 260);
	for (int i = 50; i < 260; i += 50)
		longname[i] = '.';
	longname[260] = '\0';
	bad(OBS_DOMAIN, longname, "longer than 253");
	assert_int_equal(
	    obs_normalise(OBS_DOMAIN, "\xff\xfe.com", 6, &o, err, sizeof(err)),
	    -1);
	bad(OBS_NONE, "nodots", "not a known kind");
}

static void
t_url(void **state)
{
	char big[OBS_TEXT_MAX + 100];
	size_t n;

	(void)state;
	ok(OBS_NONE, "HTTP://WWW.Example.COM", OBS_URL,
	    "http://www.example.com/");
	ok(OBS_NONE, "http://example.com:80/a", OBS_URL,
	    "http://example.com/a");
	ok(OBS_NONE, "https://example.com:443?q=1", OBS_URL,
	    "https://example.com/?q=1");
	ok(OBS_NONE, "https://example.com:0443#frag", OBS_URL,
	    "https://example.com/#frag");
	ok(OBS_NONE, "http://example.com:8080/", OBS_URL,
	    "http://example.com:8080/");
	ok(OBS_NONE, "https://example.com:80/", OBS_URL,
	    "https://example.com:80/");
	ok(OBS_NONE, "http://example.com:/x", OBS_URL, "http://example.com/x");
	ok(OBS_NONE, "http://example.com/%7euser/%41%2f%2F%3a", OBS_URL,
	    "http://example.com/~user/A%2F%2F%3A");
	ok(OBS_NONE, "http://example.com/a b\"<>%zz%4", OBS_URL,
	    "http://example.com/a%20b%22%3C%3E%25zz%254");
	ok(OBS_NONE, "http://example.com/caf\xc3\xa9", OBS_URL,
	    "http://example.com/caf%C3%A9");
	ok(OBS_NONE, "http://User:Pa%73s@Example.com/Path", OBS_URL,
	    "http://User:Pass@example.com/Path");
	ok(OBS_NONE, "http://[2001:DB8::0:1]:80/", OBS_URL,
	    "http://[2001:db8::1]/");
	ok(OBS_NONE, "http://[::1]:8443", OBS_URL, "http://[::1]:8443/");
	ok(OBS_NONE, "http://192.0.2.1:81/x?y#z", OBS_URL,
	    "http://192.0.2.1:81/x?y#z");
	ok(OBS_NONE, "http://bücher.example./", OBS_URL,
	    "http://xn--bcher-kva.example/");
	ok(OBS_NONE, "FTP://ftp.example.com:21", OBS_URL,
	    "ftp://ftp.example.com/");
	ok(OBS_URL, "hxxp+x.y-z://a.example", OBS_URL,
	    "hxxp+x.y-z://a.example/");
	bad(OBS_URL, "example.com/x", "expected scheme://");
	bad(OBS_URL, "http:///x", "empty host");
	bad(OBS_URL, "http://a.example:65536/", "bad port");
	bad(OBS_URL, "http://a.example:8x/", "bad port");
	bad(OBS_URL, "http://[::1/", "bad IPv6 host");
	bad(OBS_URL, "http://[::1]x/", "bad IPv6 host");
	bad(OBS_URL, "http://ex ample.com/", "not allowed");
	/* grows past OBS_TEXT_MAX when encoded */
	n = snprintf(big, sizeof(big), "http://a.example/");
	memset(big + n, ' ', OBS_TEXT_MAX - n);
	big[OBS_TEXT_MAX] = '\0';
	bad(OBS_URL, big, "longer than");
}

static void
t_long_key(void **state)
{
	char big[OBS_TEXT_MAX + 1];
	size_t n;

	(void)state;
	n = snprintf(big, sizeof(big), "http://a.example/");
	memset(big + n, 'x', 1000);
	big[n + 1000] = '\0';
	ok(OBS_URL, big, OBS_URL, big);
	assert_int_equal(o.keylen, OBS_KEY_MAX);
	assert_int_equal(o.key[OBS_KEY_MAX - 33], 0);
	/* another tail, the same head: another key */
	big[n + 999] = 'y';
	assert_int_equal(
	    obs_normalise(OBS_URL, big, strlen(big), &o2, NULL, 0), 0);
	assert_memory_equal(o.key, o2.key, OBS_KEY_MAX - 32);
	assert_memory_not_equal(o.key, o2.key, OBS_KEY_MAX);
	assert_int_equal(obs_key_text(o.key, o.keylen, ktext), 0);
	/* not keys */
	assert_int_equal(obs_key_text((const unsigned char *)"", 0, ktext), 0);
	assert_int_equal(
	    obs_key_text((const unsigned char *)"\001\001\002", 3, ktext), 0);
	assert_int_equal(
	    obs_key_text((const unsigned char *)"\x63xy", 3, ktext), 0);
	assert_int_equal(
	    obs_key_text((const unsigned char *)"\001\012\0\0\1\041", 6, ktext),
	    0);
}

static void
t_email(void **state)
{
	(void)state;
	ok(OBS_NONE, "John.Doe@Example.COM.", OBS_EMAIL,
	    "john.doe@example.com");
	ok(OBS_NONE, "a+b@bücher.example", OBS_EMAIL,
	    "a+b@xn--bcher-kva.example");
	bad(OBS_EMAIL, "a@b@c.com", "one '@'");
	bad(OBS_EMAIL, "@example.com", "local part");
	bad(OBS_EMAIL, "a b@example.com", "not allowed");
	bad(OBS_EMAIL, "a@", "empty name");
	bad(OBS_EMAIL, "example.com", "one '@'");
}

static void
t_hashes(void **state)
{
	(void)state;
	ok(OBS_NONE, "D41D8CD98F00B204E9800998ECF8427E", OBS_MD5,
	    "d41d8cd98f00b204e9800998ecf8427e");
	ok(OBS_NONE, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", OBS_SHA1,
	    "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	ok(OBS_NONE,
	    "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	    OBS_SHA256,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ok(OBS_NONE,
	    "CF83E1357EEFB8BDF1542850D66D8007D620E4050B5715DC83F4A921D36CE9CE"
	    "47D0D13C5D85F2B0FF8318D2877EEC2F63B931BD47417A81A538327AF927DA3E",
	    OBS_SHA512,
	    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
	ok(OBS_X509_SHA1, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
	    OBS_X509_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	bad(OBS_MD5, "d41d8cd98f00b204e9800998ecf8427", "expected 32 hex");
	bad(OBS_SHA1, "d41d8cd98f00b204e9800998ecf8427e", "expected 40 hex");
	bad(OBS_SHA256, "da39a3ee5e6b4b0d3255bfef95601890afd80709",
	    "expected 64 hex");
	bad(OBS_MD5, "g41d8cd98f00b204e9800998ecf8427e", "not hex");
	ok(OBS_NONE, "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C", OBS_SSDEEP,
	    "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C");
	bad(OBS_SSDEEP, "3:abc", "blocksize:hash:hash");
	bad(OBS_SSDEEP, "x:abc:def", "blocksize:hash:hash");
	ok(OBS_NONE,
	    "T1A3B2C1D0E9F8A7B6C5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2"
	    "C1D0E9",
	    OBS_TLSH,
	    "t1a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2"
	    "c1d0e9");
	bad(OBS_TLSH, "T1A3B2", "expected 70 hex");
	assert_int_equal(obs_hash_type("SHA-256", 7, 0), OBS_SHA256);
	assert_int_equal(obs_hash_type("sha256", 6, 0), OBS_SHA256);
	assert_int_equal(obs_hash_type("Sha_256", 7, 1), OBS_X509_SHA256);
	assert_int_equal(obs_hash_type("SHA-1", 5, 1), OBS_X509_SHA1);
	assert_int_equal(obs_hash_type("SHA3-256", 8, 0), OBS_NONE);
	assert_int_equal(obs_hash_type("SSDEEP", 6, 1), OBS_NONE);
	assert_int_equal(obs_hash_type("ssdeep", 6, 0), OBS_SSDEEP);
	assert_int_equal(obs_hash_type("", 0, 0), OBS_NONE);
}

static void
t_mac_asn(void **state)
{
	(void)state;
	ok(OBS_NONE, "AA:BB:CC:DD:EE:0F", OBS_MAC, "aa:bb:cc:dd:ee:0f");
	ok(OBS_NONE, "aa-bb-cc-dd-ee-0f", OBS_MAC, "aa:bb:cc:dd:ee:0f");
	ok(OBS_MAC, "aabb.ccdd.ee0f", OBS_MAC, "aa:bb:cc:dd:ee:0f");
	ok(OBS_MAC, "AABBCCDDEE0F", OBS_MAC, "aa:bb:cc:dd:ee:0f");
	bad(OBS_MAC, "aa:bb:cc:dd:ee", "six hex bytes");
	bad(OBS_MAC, "aa:bb-cc:dd:ee:ff", "six hex bytes");
	bad(OBS_MAC, "ga:bb:cc:dd:ee:ff", "six hex bytes");
	ok(OBS_NONE, "AS64500", OBS_ASN, "64500");
	ok(OBS_ASN, "as64500", OBS_ASN, "64500");
	/* detected: AS + digits (or asdot); else a domain that starts so */
	ok(OBS_NONE, "AS1.10", OBS_ASN, "65546");
	ok(OBS_NONE, "as2njw.example.com", OBS_DOMAIN, "as2njw.example.com");
	ok(OBS_NONE, "as1.example", OBS_DOMAIN, "as1.example");
	ok(OBS_ASN, "0064500", OBS_ASN, "64500");
	ok(OBS_ASN, "AS1.10", OBS_ASN, "65546");
	ok(OBS_ASN, "4294967295", OBS_ASN, "4294967295");
	bad(OBS_ASN, "4294967296", "not a number");
	bad(OBS_ASN, "AS", "not a number");
	bad(OBS_ASN, "AS1.65536", "not a number");
	bad(OBS_ASN, "1.10", "not a number");
	bad(OBS_ASN, "-1", "not a number");
}

static void
t_misc(void **state)
{
	char err[OBS_ERRLEN];
	int t;

	(void)state;
	bad(OBS_NONE, "", "empty value");
	bad(OBS_TYPE_MAX + 1, "x", "unknown type");
	bad(-1, "x", "unknown type");
	assert_int_equal(
	    obs_normalise(OBS_DOMAIN, "a\0b.com", 7, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NUL"));
	/* no error buffer */
	assert_int_equal(obs_normalise(OBS_IPV4, "x", 1, &o, NULL, 0), -1);
	for (t = 1; t <= OBS_TYPE_MAX; t++) {
		assert_non_null(obs_type_name(t));
		assert_int_equal(obs_type_from_name(obs_type_name(t)), t);
	}
	assert_null(obs_type_name(0));
	assert_null(obs_type_name(OBS_TYPE_MAX + 1));
	assert_int_equal(obs_type_from_name("nope"), OBS_NONE);
}

static void
t_pattern(void **state)
{
	struct seen s;

	(void)state;
	from_pattern("[ipv4-addr:value = '198.51.100.7/24'] AND "
		     "[ipv6-addr:value = '2001:DB8::1'] OR "
		     "[domain-name:value = 'Evil.Example.'] AND "
		     "[url:value = 'HTTP://Evil.Example:80']",
	    &s);
	assert_int_equal(s.n, 4);
	seen_is(&s, 0, OBS_IPV4, "198.51.100.0/24");
	seen_is(&s, 1, OBS_IPV6, "2001:db8::1");
	seen_is(&s, 2, OBS_DOMAIN, "evil.example");
	seen_is(&s, 3, OBS_URL, "http://evil.example/");
	from_pattern("[email-addr:value = 'Bad@Evil.Example' AND "
		     "mac-addr:value = 'AA-BB-CC-DD-EE-FF' AND "
		     "autonomous-system:number = 'AS64500' AND "
		     "autonomous-system:number = 64501]",
	    &s);
	assert_int_equal(s.n, 4);
	seen_is(&s, 0, OBS_EMAIL, "bad@evil.example");
	seen_is(&s, 1, OBS_MAC, "aa:bb:cc:dd:ee:ff");
	seen_is(&s, 2, OBS_ASN, "64500");
	/* an integer, as STIX types the number */
	seen_is(&s, 3, OBS_ASN, "64501");
	from_pattern(
	    "[file:hashes.'SHA-256' = "
	    "'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7"
	    "852B855' OR file:hashes.MD5 = "
	    "'D41D8CD98F00B204E9800998ECF8427E' OR "
	    "file:hashes.sha1 = "
	    "'da39a3ee5e6b4b0d3255bfef95601890afd80709' OR "
	    "file:hashes.SHA512 = 'abc' OR "
	    "file:hashes.'SHA3-256' = "
	    "'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7"
	    "852b855' OR "
	    "file:hashes.SSDEEP = '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsN' OR "
	    "artifact:hashes.'MD5' = "
	    "'d41d8cd98f00b204e9800998ecf8427e']",
	    &s);
	assert_int_equal(s.n, 5);
	seen_is(&s, 0, OBS_SHA256,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	seen_is(&s, 1, OBS_MD5, "d41d8cd98f00b204e9800998ecf8427e");
	seen_is(&s, 2, OBS_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	seen_is(&s, 3, OBS_SSDEEP, "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsN");
	seen_is(&s, 4, OBS_MD5, "d41d8cd98f00b204e9800998ecf8427e");
	from_pattern(
	    "[x509-certificate:hashes.'SHA-1' = "
	    "'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709' AND "
	    "x509-certificate:hashes.'SHA-256' = "
	    "'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7"
	    "852b855' AND x509-certificate:serial_number = '01']",
	    &s);
	assert_int_equal(s.n, 2);
	seen_is(
	    &s, 0, OBS_X509_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	seen_is(&s, 1, OBS_X509_SHA256,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	from_pattern("[network-traffic:dst_ref.value = '203.0.113.9' AND "
		     "network-traffic:src_ref.value = 'fe80::A' AND "
		     "network-traffic:dst_port = 443 AND "
		     "network-traffic:dst_ref.value = 'C2.Example' AND "
		     "email-message:from_ref.value = 'X@Evil.Example' AND "
		     "email-message:to_refs[*].value = 'y@evil.example' AND "
		     "domain-name:resolves_to_refs[0].value = '192.0.2.5' AND "
		     "network-traffic:src_ref.value = 'AABBCCDDEEFF' AND "
		     "network-traffic:dst_ref.type = 'ipv4-addr']",
	    &s);
	assert_int_equal(s.n, 6);
	seen_is(&s, 0, OBS_IPV4, "203.0.113.9");
	seen_is(&s, 1, OBS_IPV6, "fe80::a");
	seen_is(&s, 2, OBS_DOMAIN, "c2.example");
	seen_is(&s, 3, OBS_EMAIL, "x@evil.example");
	seen_is(&s, 4, OBS_EMAIL, "y@evil.example");
	seen_is(&s, 5, OBS_IPV4, "192.0.2.5");
	/* not equality, negated, not indexed, or not normalising */
	from_pattern("[ipv4-addr:value != '1.2.3.4' OR "
		     "ipv4-addr:value NOT = '1.2.3.5' OR "
		     "ipv4-addr:value ISSUBSET '10.0.0.0/8' OR "
		     "ipv4-addr:value = '1.2.3' OR "
		     "file:name = 'evil.exe' OR "
		     "url:value LIKE 'http://%' OR "
		     "domain-name:value IN ('a.example', 'b.example')]",
	    &s);
	assert_int_equal(s.n, 0);
	/* a NULL tree has nothing */
	assert_int_equal(obs_from_pattern(NULL, record, &s), 0);
}

static int
stop_second(const struct obs *ob, void *arg)
{
	int *n = arg;

	(void)ob;
	return ++*n == 2 ? 7 : 0;
}

static void
t_stop(void **state)
{
	struct pattern *pat;
	const char *p = "[ipv4-addr:value = '1.2.3.4' OR "
			"ipv4-addr:value = '1.2.3.5' OR "
			"ipv4-addr:value = '1.2.3.6']";
	const char *j = "{\"type\":\"bundle\",\"objects\":["
			"{\"type\":\"ipv4-addr\",\"value\":\"1.2.3.4\"},"
			"{\"type\":\"ipv4-addr\",\"value\":\"1.2.3.5\"},"
			"{\"type\":\"ipv4-addr\",\"value\":\"1.2.3.6\"}]}";
	int n = 0;

	(void)state;
	assert_non_null(pat = pattern_parse(p, strlen(p), NULL, 0));
	assert_int_equal(obs_from_pattern(pat, stop_second, &n), 7);
	assert_int_equal(n, 2);
	pattern_free(pat);
	n = 0;
	assert_int_equal(obs_from_sco(j, strlen(j), stop_second, &n), 7);
	assert_int_equal(n, 2);
}

static void
sco(const char *j, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(obs_from_sco(j, strlen(j), record, s), 0);
}

static void
t_sco(void **state)
{
	struct seen s;

	(void)state;
	sco("{\"type\":\"ipv4-addr\",\"id\":\"ipv4-addr--1\","
	    "\"value\":\"192.0.2.0/24\"}",
	    &s);
	assert_int_equal(s.n, 1);
	seen_is(&s, 0, OBS_IPV4, "192.0.2.0/24");
	sco("{\"type\":\"ipv6-addr\",\"value\":\"2001:0DB8::0001\"}", &s);
	seen_is(&s, 0, OBS_IPV6, "2001:db8::1");
	sco("{\"type\":\"domain-name\",\"value\":\"B\xc3\xbc"
	    "cher.Example\"}",
	    &s);
	seen_is(&s, 0, OBS_DOMAIN, "xn--bcher-kva.example");
	sco("{\"type\":\"url\",\"value\":\"https://A.Example:443\"}", &s);
	seen_is(&s, 0, OBS_URL, "https://a.example/");
	sco("{\"type\":\"email-addr\",\"value\":\"A@B.Example\"}", &s);
	seen_is(&s, 0, OBS_EMAIL, "a@b.example");
	sco("{\"type\":\"mac-addr\",\"value\":\"AA:BB:CC:DD:EE:FF\"}", &s);
	seen_is(&s, 0, OBS_MAC, "aa:bb:cc:dd:ee:ff");
	sco("{\"type\":\"autonomous-system\",\"number\":15169}", &s);
	seen_is(&s, 0, OBS_ASN, "15169");
	sco("{\"type\":\"autonomous-system\",\"number\":-1}", &s);
	assert_int_equal(s.n, 0);
	sco("{\"type\":\"file\",\"name\":\"x\",\"hashes\":{"
	    "\"MD5\":\"D41D8CD98F00B204E9800998ECF8427E\","
	    "\"SHA-256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca"
	    "495991b7852b855\","
	    "\"SHA3-256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca"
	    "495991b7852b855\",\"SHA-1\":\"short\",\"TLSH\":42}}",
	    &s);
	assert_int_equal(s.n, 2);
	seen_is(&s, 0, OBS_MD5, "d41d8cd98f00b204e9800998ecf8427e");
	seen_is(&s, 1, OBS_SHA256,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sco("{\"type\":\"x509-certificate\",\"hashes\":{"
	    "\"sha1\":\"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709\"}}",
	    &s);
	seen_is(
	    &s, 0, OBS_X509_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	/* observed-data, STIX 2.0 style, inside a bundle */
	sco("{\"type\":\"bundle\",\"objects\":["
	    "{\"type\":\"indicator\",\"pattern\":\"[ipv4-addr:value = "
	    "'9.9.9.9']\"},"
	    "{\"type\":\"observed-data\",\"objects\":{"
	    "\"0\":{\"type\":\"ipv4-addr\",\"value\":\"198.51.100.3\"},"
	    "\"1\":{\"type\":\"network-traffic\",\"dst_ref\":\"0\"},"
	    "\"2\":{\"type\":\"observed-data\",\"objects\":{"
	    "\"0\":{\"type\":\"ipv4-addr\",\"value\":\"10.0.0.1\"}}}}},"
	    "{\"type\":\"domain-name\",\"value\":\"bad..example\"},"
	    "{\"type\":\"url\",\"value\":7},"
	    "{\"value\":\"1.2.3.4\"},"
	    "{\"type\":\"file\",\"hashes\":[]},"
	    "42,"
	    "{\"type\":\"email-addr\",\"value\":\"c@d.example\"}]}",
	    &s);
	assert_int_equal(s.n, 2);
	seen_is(&s, 0, OBS_IPV4, "198.51.100.3");
	seen_is(&s, 1, OBS_EMAIL, "c@d.example");
	assert_int_equal(obs_from_sco("[1]", 3, record, &s), -1);
	assert_int_equal(obs_from_sco("{", 1, record, &s), -1);
	assert_int_equal(obs_from_sco("", 0, record, &s), -1);
}

/* Groups: a pattern's observation expressions, an observed-data's SCOs;
 * the set the store gets: one item per (group, key), a long key's text
 * beside it, the indicator's valid_until, confidence and revocation. */
static void
t_groups(void **state)
{
	struct store_obs_set *set;
	struct seen s;
	json_t *j;
	const char *md5 = "d41d8cd98f00b204e9800998ecf8427e";
	const char *sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495"
			  "991b7852b855";
	char pat[600], big[700];

	(void)state;
	snprintf(pat, sizeof(pat),
	    "[file:hashes.MD5 = '%s' AND file:hashes.'SHA-256' = '%s'] AND "
	    "([ipv4-addr:value = '10.0.0.1'] OR [ipv4-addr:value = "
	    "'10.0.0.1'] FOLLOWEDBY [file:hashes.MD5 = '%s' OR "
	    "file:hashes.MD5 = '%s'])",
	    md5, sha, md5, md5);
	from_pattern(pat, &s);
	assert_int_equal(s.n, 6);
	assert_int_equal(s.group[0], 0);
	assert_int_equal(s.group[1], 0);
	assert_int_equal(s.group[2], 1);
	assert_int_equal(s.group[3], 2);
	assert_int_equal(s.group[4], 3);
	assert_int_equal(s.group[5], 3);

	j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:b}", "type", "indicator",
	    "pattern_type", "stix", "pattern", pat, "valid_until",
	    "2030-01-01T00:00:00Z", "confidence", 70, "revoked", 1);
	assert_int_equal(obs_set_build(j, NULL, 1024, &set), 0);
	assert_non_null(set);
	/* repeats within a group dropped: 10.0.0.1 twice, md5 twice */
	assert_int_equal(set->n, 5);
	assert_int_equal(set->v[0].group, 0);
	assert_int_equal(set->v[1].group, 0);
	assert_int_equal(set->v[2].group, 1);
	assert_int_equal(set->v[3].group, 2);
	assert_int_equal(set->v[4].group, 3);
	assert_int_equal(set->v[0].keylen, 33);
	assert_int_equal(set->v[0].textlen, 0);
	assert_int_equal(set->v[2].keylen, 6);
	assert_int_equal(set->flags, STORE_OBS_F_PATTERN | STORE_OBS_F_REVOKED);
	assert_int_equal(set->confidence, 70);
	assert_true(set->valid_until == INT64_C(1893456000000000));
	hub_free(set);
	json_decref(j);

	/* the limit: the first ones kept, and said */
	j = json_pack("{s:s, s:s}", "type", "indicator", "pattern", pat);
	assert_int_equal(obs_set_build(j, NULL, 2, &set), 1);
	assert_non_null(set);
	assert_int_equal(set->n, 2);
	assert_int_equal(set->v[1].group, 0);
	hub_free(set);
	json_decref(j);

	/* no valid_until, confidence out of range; a long URL's text */
	snprintf(
	    big, sizeof(big), "[url:value = 'http://a.example/%0600d']", 1);
	j = json_pack("{s:s, s:s, s:i}", "type", "indicator", "pattern", big,
	    "confidence", 101);
	assert_int_equal(obs_set_build(j, NULL, 1024, &set), 0);
	assert_non_null(set);
	assert_int_equal(set->n, 1);
	assert_int_equal(set->v[0].keylen, OBS_KEY_MAX);
	assert_int_equal(set->v[0].textlen, strlen("http://a.example/") + 600);
	assert_memory_equal(set->v[0].text, "http://a.example/000", 20);
	assert_true(set->valid_until == STORE_OBS_FOREVER);
	assert_int_equal(set->confidence, 255);
	hub_free(set);
	json_decref(j);

	/* another pattern language, a report: nothing */
	j = json_pack("{s:s, s:s, s:s}", "type", "indicator", "pattern_type",
	    "sigma", "pattern", "[ipv4-addr:value = '1.2.3.4']");
	assert_int_equal(obs_set_build(j, NULL, 1024, &set), 0);
	assert_null(set);
	json_decref(j);
	j = json_pack("{s:s, s:s}", "type", "report", "value", "1.2.3.4");
	assert_int_equal(obs_set_build(j, NULL, 1024, &set), 0);
	assert_null(set);
	json_decref(j);

	/* observed-data: one group per SCO, no PATTERN flag */
	j = json_loads("{\"type\":\"observed-data\",\"objects\":{"
		       "\"0\":{\"type\":\"ipv4-addr\",\"value\":\"10.0.0.1\"},"
		       "\"1\":{\"type\":\"file\",\"hashes\":{\"MD5\":"
		       "\"d41d8cd98f00b204e9800998ecf8427e\",\"SHA-256\":"
		       "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495"
		       "991b7852b855\"}}}}",
	    0, NULL);
	assert_non_null(j);
	assert_int_equal(obs_set_build(j, NULL, 1024, &set), 0);
	assert_non_null(set);
	assert_int_equal(set->n, 3);
	assert_int_equal(set->v[0].group, 0);
	assert_int_equal(set->v[1].group, 1);
	assert_int_equal(set->v[2].group, 1);
	assert_int_equal(set->flags, 0);
	hub_free(set);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_ipv4),
	    cmocka_unit_test(t_ipv6),
	    cmocka_unit_test(t_ip_keys),
	    cmocka_unit_test(t_domain),
	    cmocka_unit_test(t_url),
	    cmocka_unit_test(t_long_key),
	    cmocka_unit_test(t_email),
	    cmocka_unit_test(t_hashes),
	    cmocka_unit_test(t_mac_asn),
	    cmocka_unit_test(t_misc),
	    cmocka_unit_test(t_pattern),
	    cmocka_unit_test(t_stop),
	    cmocka_unit_test(t_sco),
	    cmocka_unit_test(t_groups),
	};

	return cmocka_run_group_tests_name("observable", tests, NULL, NULL);
}
