/*
 * observable_ip.c -- IPv4 and IPv6 addresses and CIDR ranges: strict
 * parsers, RFC 5952 text, host bits zeroed, and the keys that make
 * containment a key range (observable.h).  Part of the observable module;
 * the dispatch is observable_norm.c.
 */
#include <string.h>

#include "ctihub/observable.h"
#include "observable_int.h"

static unsigned char mask_byte(int, size_t);

/* Byte i of the netmask of a prefix length. */
static unsigned char
mask_byte(int prefix, size_t i)
{
	int keep = prefix - (int)i * 8;

	if (keep >= 8)
		return 0xff;
	if (keep <= 0)
		return 0;
	return (unsigned char)(0xff << (8 - keep));
}

/* Dotted quad, decimal, no leading zeros. */
int
obs_ipv4_parse(const char *s, size_t n, unsigned char *a)
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
		if (i < n && s[i] == '0' && i + 1 < n && obs_is_digit(s[i + 1]))
			return -1;
		while (i < n && obs_is_digit(s[i]) && nd < 4) {
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
int
obs_ipv6_parse(const char *s, size_t n, unsigned char *b)
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
		for (; i < n && nd < 5 && obs_is_hex(s[i]); i++, nd++)
			v = v * 16 + (unsigned)obs_hexval(s[i]);
		if (i < n && s[i] == '.') {
			unsigned char a[4];

			if (ng > 6 || obs_ipv4_parse(s + st, n - st, a) != 0)
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

void
obs_ipv4_format(const unsigned char *a, struct tbuf *t)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (i > 0)
			obs_putc(t, '.');
		obs_put_dec(t, a[i]);
	}
}

/* RFC 5952 section 4, and section 5 for IPv4-mapped addresses. */
void
obs_ipv6_format(const unsigned char *b, struct tbuf *t)
{
	unsigned g[8];
	static const char hx[] = "0123456789abcdef";
	int k, shift, best = -1, bestlen = 1;

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
		obs_put(t, "::ffff:", 7);
		obs_ipv4_format(b + 12, t);
		return;
	}
	for (k = 0; k < 8; k++) {
		if (k == best) {
			obs_put(t, k == 0 ? "::" : ":", k == 0 ? 2 : 1);
			k += bestlen - 1;
			continue;
		}
		for (shift = 12; shift > 0 && (g[k] >> shift) == 0; shift -= 4)
			;
		for (; shift >= 0; shift -= 4)
			obs_putc(t, hx[(g[k] >> shift) & 15]);
		if (k < 7)
			obs_putc(t, ':');
	}
}

int
obs_norm_ip(
    int type, const char *s, size_t n, struct obs *o, char *err, size_t errlen)
{
	const char *name = obs_type_name(type);
	unsigned char a[16];
	struct tbuf t = {o->text, 0, 0};
	const char *slash;
	size_t alen = n, i, nb = type == OBS_IPV4 ? 4 : 16;
	int prefix, max = (int)nb * 8, changed = 0;

	if ((slash = memchr(s, '/', n)) != NULL)
		alen = (size_t)(slash - s);
	if ((type == OBS_IPV4 ? obs_ipv4_parse(s, alen, a)
			      : obs_ipv6_parse(s, alen, a)) != 0)
		return buf_seterr(err, errlen, "%s: not an address", name);
	prefix = max;
	if (slash != NULL) {
		size_t pn = n - alen - 1;

		if (pn == 0 || pn > 3)
			return buf_seterr(
			    err, errlen, "%s: bad prefix length", name);
		for (prefix = 0, i = 1; i <= pn; i++) {
			if (!obs_is_digit(slash[i]))
				return buf_seterr(
				    err, errlen, "%s: bad prefix length", name);
			prefix = prefix * 10 + (slash[i] - '0');
		}
		if (prefix > max)
			return buf_seterr(err, errlen,
			    "%s: prefix length over %d", name, max);
	}
	/* zero the host bits */
	for (i = 0; i < nb; i++) {
		unsigned char m = mask_byte(prefix, i);

		if ((a[i] & m) != a[i])
			changed = 1;
		a[i] &= m;
	}
	o->type = type;
	o->prefix = prefix;
	o->flags = changed ? OBS_F_HOSTBITS : 0;
	if (type == OBS_IPV4) {
		obs_ipv4_format(a, &t);
	} else
		obs_ipv6_format(a, &t);
	if (prefix < max) {
		obs_putc(&t, '/');
		obs_put_dec(&t, (unsigned long)prefix);
	}
	o->text[t.len] = '\0';
	o->len = t.len;
	o->key[0] = (unsigned char)type;
	memcpy(o->key + 1, a, nb);
	o->key[1 + nb] = (unsigned char)prefix;
	o->keylen = nb + 2;
	return 0;
}

size_t
obs_ip_key(const struct obs *o, int prefix, unsigned char *key)
{
	size_t i, nb;

	if (o->type != OBS_IPV4 && o->type != OBS_IPV6)
		return 0;
	if (prefix < 0 || prefix > o->prefix)
		return 0;
	nb = o->type == OBS_IPV4 ? 4 : 16;
	key[0] = o->key[0];
	for (i = 0; i < nb; i++)
		key[1 + i] = o->key[1 + i] & mask_byte(prefix, i);
	key[1 + nb] = (unsigned char)prefix;
	return nb + 2;
}

size_t
obs_ip_bounds(const struct obs *o, unsigned char *lo, unsigned char *hi)
{
	size_t i, nb;

	if (o->type != OBS_IPV4 && o->type != OBS_IPV6)
		return 0;
	nb = o->type == OBS_IPV4 ? 4 : 16;
	memcpy(lo, o->key, nb + 2);
	hi[0] = o->key[0];
	for (i = 0; i < nb; i++)
		hi[1 + i] =
		    o->key[1 + i] | (unsigned char)~mask_byte(o->prefix, i);
	hi[1 + nb] = 0xff;
	return nb + 2;
}

size_t
obs_key_text(const unsigned char *key, size_t len, char *out)
{
	struct tbuf t = {out, 0, 0};
	size_t nb;

	out[0] = '\0';
	if (len < 2 || key[0] == OBS_NONE || key[0] > OBS_TYPE_MAX)
		return 0;
	if (key[0] == OBS_IPV4 || key[0] == OBS_IPV6) {
		nb = key[0] == OBS_IPV4 ? 4 : 16;
		if (len != nb + 2 || key[len - 1] > nb * 8)
			return 0;
		if (nb == 4)
			obs_ipv4_format(key + 1, &t);
		else
			obs_ipv6_format(key + 1, &t);
		if (key[len - 1] < nb * 8) {
			obs_putc(&t, '/');
			obs_put_dec(&t, key[len - 1]);
		}
	} else {
		/* a hashed long key holds a NUL: its text is not in it */
		if (memchr(key + 1, '\0', len - 1) != NULL)
			return 0;
		obs_put(&t, (const char *)key + 1, len - 1);
	}
	if (t.over)
		return 0;
	out[t.len] = '\0';
	return t.len;
}
