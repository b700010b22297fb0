/*
 * export_stub.c -- STUB, to be dropped at the merge with helper A's
 * branch (o-write): no row has observables yet (store_obsrow_get says
 * so), the packed items are read as the spec lays them out (keylen and
 * textlen little-endian here), and obs_key_text rebuilds the text of
 * short keys and IP keys.  See export_stub.h.
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "ctihub/observable.h"

#include "export_stub.h"

int
store_obsrow_get(struct store_reader *r, uint64_t rowid, struct store_obsrow *o)
{
	(void)r;
	(void)rowid;
	memset(o, 0, sizeof(*o));
	return STORE_ENOTFOUND;
}

int
store_obsrow_next(
    const struct store_obsrow *o, size_t *pos, struct store_obs_item *it)
{
	const unsigned char *p = o->items;
	size_t at = *pos;

	if (at == o->len)
		return 0;
	if (o->len - at < 3)
		return STORE_ECORRUPT;
	it->group = p[at];
	it->keylen = (size_t)p[at + 1] | (size_t)p[at + 2] << 8;
	at += 3;
	if (it->keylen == 0 || o->len - at < it->keylen + 2)
		return STORE_ECORRUPT;
	it->key = p + at;
	at += it->keylen;
	it->textlen = (size_t)p[at] | (size_t)p[at + 1] << 8;
	at += 2;
	if (o->len - at < it->textlen)
		return STORE_ECORRUPT;
	it->text = it->textlen > 0 ? (const char *)p + at : NULL;
	*pos = at + it->textlen;
	return 1;
}

size_t
obs_key_text(const unsigned char *key, size_t len, char *out)
{
	char a[INET6_ADDRSTRLEN];
	int v6 = key[0] == OBS_IPV6, full = v6 ? 128 : 32;
	size_t alen = v6 ? 16 : 4;

	if (key[0] == OBS_IPV4 || key[0] == OBS_IPV6) {
		if (len != alen + 2 ||
		    inet_ntop(v6 ? AF_INET6 : AF_INET, key + 1, a, sizeof(a)) ==
			NULL)
			return 0;
		if (key[len - 1] == full)
			return (size_t)snprintf(out, OBS_TEXT_MAX + 1, "%s", a);
		return (size_t)snprintf(
		    out, OBS_TEXT_MAX + 1, "%s/%d", a, key[len - 1]);
	}
	if (len < 2 || memchr(key + 1, '\0', len - 1) != NULL)
		return 0;
	memcpy(out, key + 1, len - 1);
	out[len - 1] = '\0';
	return len - 1;
}
