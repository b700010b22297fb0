/*
 * observable.h -- observables (IP addresses and ranges, domain names, URLs,
 * e-mail addresses, hashes, MAC addresses, AS numbers): their canonical
 * text and a binary key for an LMDB index, and their extraction from
 * indicator patterns (the parsed tree of pattern.h) and from SCOs and
 * observed-data objects.  Pure functions over caller memory; no index, no
 * policy, no I/O.
 */
#ifndef CTIHUB_OBSERVABLE_H
#define CTIHUB_OBSERVABLE_H

#include <stddef.h>

struct json_t;
struct pattern;

/*
 * Types.  The numbers are the first byte of every key, so they are stored
 * on disk: never renumber, only add.  OBS_NONE as a hint means "detect".
 */
enum obs_type {
	OBS_NONE = 0,
	OBS_IPV4 = 1, /* address or CIDR range */
	OBS_IPV6 = 2, /* address or CIDR range */
	OBS_DOMAIN = 3,
	OBS_URL = 4,
	OBS_EMAIL = 5,
	OBS_MD5 = 6, /* file (and artifact) hashes */
	OBS_SHA1 = 7,
	OBS_SHA256 = 8,
	OBS_SHA512 = 9,
	OBS_SSDEEP = 10,
	OBS_TLSH = 11,
	OBS_MAC = 12,
	OBS_ASN = 13,
	OBS_X509_MD5 = 14, /* x509-certificate hashes, by algorithm */
	OBS_X509_SHA1 = 15,
	OBS_X509_SHA256 = 16,
	OBS_X509_SHA512 = 17,
	OBS_TYPE_MAX = 17
};

#define OBS_TEXT_MAX 4096 /* longest canonical text (URLs mostly) */
#define OBS_KEY_MAX  256  /* longest key; LMDB's default limit is 511 */
#define OBS_ERRLEN   128  /* room for any message of obs_normalise */

/*
 * One observable, in caller memory (no allocation).
 *
 * text: the canonical form, NUL-terminated:
 *   ipv4    dotted quad, decimal without leading zeros ("010.1.1.1" is
 *           refused: octal or decimal is ambiguous); a range as a.b.c.d/N
 *           with its host bits ZEROED (1.2.3.4/24 -> 1.2.3.0/24, flagged
 *           with OBS_F_HOSTBITS); /32 is dropped (a host is its /32)
 *   ipv6    RFC 5952 (lower case, longest run of two or more zero groups
 *           compressed, the first if tied, ::ffff:1.2.3.4 for IPv4-mapped);
 *           ranges as for IPv4, /128 dropped; zone ids refused.  A prefix
 *           length is 1-3 decimal digits (leading zeros allowed: /064)
 *   domain  lower case, no trailing dot, IDNA A-labels (libidn2, TR46
 *           non-transitional: Faß.de -> xn--fa-hia.de); labels of 1-63
 *           bytes of letters, digits, '-' and '_', at most 253 bytes; an
 *           all-numeric last label is refused (1.2.3.4 is no domain), but
 *           not in URL hosts, which are kept as browsers would send them
 *   url     scheme://[userinfo@]host[:port]/path[?query][#fragment] with
 *           scheme and host lower case (host as a domain, IPv4 or [IPv6]),
 *           the scheme's default port and an empty port dropped, leading
 *           zeros of the port dropped, an empty path written "/", %XX of
 *           unreserved characters (ALPHA DIGIT - . _ ~) decoded, other %XX
 *           hex in upper case, bytes outside printable ASCII and spaces
 *           percent-encoded; dot segments are kept
 *   email   local@domain, the domain as a domain and the local part in
 *           lower case too (as pattern.h matches e-mail addresses)
 *   hashes  lower-case hex of the algorithm's length (MD5 32, SHA-1 40,
 *           SHA-256 64, SHA-512 128); TLSH lower case (t1 + 70 hex, or 70
 *           hex); SSDEEP as written (blocksize:base64:base64)
 *   mac     six bytes, lower-case hex, colon separated (from aa:bb:..,
 *           aa-bb-.., aabb.ccdd.eeff, or 12 hex digits with a hint)
 *   asn     the decimal number, 0-4294967295 (from 64500, AS64500, as64500
 *           or asdot AS1.10)
 *
 * key: what an index stores it under.  The first byte is the type.
 *   ipv4/6  type, the network's address bytes (4 or 16, network order),
 *           the prefix length (one byte; 32 or 128 for an address).  Keys
 *           sort by address first, so the addresses and ranges inside a
 *           range are one contiguous key range, and the ranges containing
 *           an address are found by masking it at each prefix length.
 *   others  type, then the canonical text (no NUL in it).  A text too
 *           long for OBS_KEY_MAX becomes type, its first
 *           OBS_KEY_MAX - 34 bytes, a NUL, and the SHA-256 of the whole
 *           text: distinct from every short key, which has no NUL.
 */
#define OBS_F_HOSTBITS 0x01 /* a CIDR range had host bits set (zeroed) */

struct obs {
	int type;  /* enum obs_type */
	int group; /* from the walkers: the observation expression ([...]
		       of a pattern, from 0) or the SCO (from 0, in walk
		       order) it came from; obs_normalise leaves it */
	int prefix; /* ipv4/ipv6: prefix length (32 or 128 for a host); else -1 */
	int flags;  /* OBS_F_* */
	size_t len; /* of text */
	char text[OBS_TEXT_MAX + 1];
	size_t keylen;
	unsigned char key[OBS_KEY_MAX];
};

/*
 * Normalises the value in[0..n) (need not be NUL-terminated) as type
 * `type_hint`, or detects its type when the hint is OBS_NONE, by shape,
 * in this order: URL ("scheme://"), e-mail ('@'); with a ':', IPv6 if it
 * parses, else a MAC (aa:bb:..), else SSDEEP (so "1:2:3" is SSDEEP),
 * else IPv6 (to report why not); only digits, dots and '/', with a dot:
 * IPv4; aa-bb-cc-dd-ee-ff: MAC; hex of 32, 40, 64 or 128 digits: MD5,
 * SHA-1, SHA-256, SHA-512; t1 + 70 hex: TLSH; "AS" + digits: ASN; with a
 * dot: a domain name.  The x509 hash types, undotted domains, bare AS
 * numbers, dotted and undotted MACs are only taken with a hint.
 * Surrounding spaces are not trimmed: they make the value invalid.
 * Returns 0 and fills *out, or -1 with a message in err (if not NULL)
 * that starts with the type tried, e.g. "ipv4: prefix length over 32",
 * and out->keylen 0.  Reentrant; allocates nothing but what libidn2
 * allocates and frees for a non-ASCII domain name.
 */
int obs_normalise(int type_hint, const char *in, size_t n, struct obs *out,
    char *err, size_t errlen);

#define OBS_IP_KEYLEN_MAX 18 /* type, 16 address bytes, prefix length */

/*
 * Containment, for IP observables (both return 0 for other types).
 * obs_ip_key writes the key of the network of o's address at a shorter
 * prefix length (0 to o->prefix) and returns its length: the ranges that
 * may contain o are these keys, one per prefix length.  obs_ip_bounds
 * writes lo and hi (each OBS_IP_KEYLEN_MAX bytes at most) such that the
 * keys from lo to hi inclusive, in memcmp order (LMDB's default), are
 * exactly o itself and every range and address inside o; it returns
 * their length.
 */
size_t obs_ip_key(const struct obs *o, int prefix, unsigned char *key);
size_t obs_ip_bounds(const struct obs *o, unsigned char *lo, unsigned char *hi);

/*
 * The canonical text of a key made by obs_normalise into out (room for
 * OBS_TEXT_MAX + 1 bytes, NUL-terminated), and its length; 0 (out "")
 * when the key is a hashed long key, whose text is not in it, or not a
 * key at all.
 */
size_t obs_key_text(const unsigned char *key, size_t len, char *out);

/* The type's name ("ipv4", "sha256", "x509-sha1" ...), or NULL. */
const char *obs_type_name(int type);

/* The type for a name of obs_type_name, or OBS_NONE. */
int obs_type_from_name(const char *name);

/*
 * The observable type of a STIX hash name however spelled ('SHA-256',
 * SHA256, sha_256 ...) for a file (x509 = 0) or a certificate (x509 = 1);
 * OBS_NONE for algorithms not indexed (SHA-224, SHA3-*, ...).
 */
int obs_hash_type(const char *name, size_t n, int x509);

/*
 * Called once per observable found; `o` is borrowed for the call.  A
 * nonzero return stops the walk and is returned by the walker.
 */
typedef int obs_cb(const struct obs *o, void *arg);

/*
 * Calls `cb` for each equality observable of a parsed pattern
 * (pattern_foreach_eq), in source order, duplicates included:
 *   ipv4-addr:value ipv6-addr:value domain-name:value url:value
 *   email-addr:value mac-addr:value autonomous-system:number (an integer, or a
 *   string as some producers write it) file:hashes.X artifact:hashes.X
 *   x509-certificate:hashes.X, and every X:..._ref.value and
 *   X:..._refs[i].value (network-traffic:dst_ref.value,
 *   email-message:from_ref.value, domain-name:resolves_to_refs[*].value
 *   ...) whose value is an IP address or range, a MAC, an e-mail address
 *   or a domain name.  Values that do not normalise are skipped.  o->group
 *   is the index of the value's observation expression ([...]).  Returns
 *   0, or the callback's nonzero value.
 */
int obs_from_pattern(const struct pattern *, obs_cb *cb, void *arg);

/*
 * Calls `cb` for each observable of the JSON text json[0..len): an SCO
 * (ipv4-addr, ipv6-addr, domain-name, url, email-addr, mac-addr: value;
 * autonomous-system: number; file, artifact, x509-certificate: hashes),
 * an observed-data object (its embedded "objects" map, STIX 2.0 style),
 * or a bundle of such objects.  Other objects, and values that do not
 * normalise, are skipped.  o->group numbers the SCOs met, from 0.
 * Returns 0, the callback's nonzero value, or -1 if the text is not a
 * JSON object.
 */
int obs_from_sco(const char *json, size_t len, obs_cb *cb, void *arg);

/* The same over an object already parsed by Jansson (borrowed, not
 * modified; not const only because Jansson's iterators are not). */
int obs_from_json(struct json_t *obj, obs_cb *cb, void *arg);

#endif
