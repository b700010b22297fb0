/*
 * export_stub.c -- STUB, to be dropped at the merge with helper A's
 * branch (o-write).  Until the writer stores obsrow records, the stub's
 * store_obsrow_get makes one on the fly from the row's JSON (the pattern
 * of an indicator, else the SCO), into a buffer of the calling thread, so
 * that exports can be tested end to end; the packed items are laid out as
 * the spec says (keylen and textlen little-endian here), and obs_key_text
 * rebuilds the text of short keys and IP keys.  See export_stub.h.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/observable.h"
#include "ctihub/pattern.h"
#include "ctihub/tstamp.h"

#include "../common/observable_int.h" /* STUB: its IP formatting */
#include "export_stub.h"

#define STUB_ROW_MAX (1 << 20)
static _Thread_local unsigned char stub_row[STUB_ROW_MAX];

static int
stub_put(const struct obs *ob, void *arg)
{
	struct store_obsrow *o = arg;
	unsigned char *p = stub_row + o->len;
	size_t tl = ob->keylen >= 64 ? ob->len : 0;

	if (o->n == 1024 || STUB_ROW_MAX - o->len < 5 + ob->keylen + tl)
		return 1;
	p[0] = 0;
	p[1] = (unsigned char)(ob->keylen & 0xff);
	p[2] = (unsigned char)(ob->keylen >> 8);
	memcpy(p + 3, ob->key, ob->keylen);
	p[3 + ob->keylen] = (unsigned char)(tl & 0xff);
	p[4 + ob->keylen] = (unsigned char)(tl >> 8);
	memcpy(p + 5 + ob->keylen, ob->text, tl);
	o->len += 5 + ob->keylen + tl;
	o->n++;
	return 0;
}

int
store_obsrow_get(struct store_reader *r, uint64_t rowid, struct store_obsrow *o)
{
	struct store_objview ov;
	struct pattern *pat;
	json_t *j, *v;
	char err[128];
	int rc;

	memset(o, 0, sizeof(*o));
	o->valid_until = STORE_OBS_FOREVER;
	o->confidence = 255;
	o->items = stub_row;
	if ((rc = store_obj_get(r, rowid, &ov)) != STORE_OK)
		return rc;
	if ((j = json_loadb(ov.json, ov.jsonlen, 0, NULL)) == NULL)
		return STORE_ENOTFOUND;
	if (json_is_true(json_object_get(j, "revoked")))
		o->flags |= STORE_OBS_F_REVOKED;
	if (json_is_integer(v = json_object_get(j, "confidence")))
		o->confidence = (uint8_t)json_integer_value(v);
	if (json_is_string(v = json_object_get(j, "valid_until")))
		tstamp_parse(json_string_value(v), json_string_length(v),
		    &o->valid_until);
	if (json_is_string(v = json_object_get(j, "pattern"))) {
		o->flags |= STORE_OBS_F_PATTERN;
		pat = pattern_parse(json_string_value(v), json_string_length(v),
		    err, sizeof(err));
		if (pat != NULL) {
			obs_from_pattern(pat, stub_put, o);
			pattern_free(pat);
		}
	} else
		obs_from_json(j, stub_put, o);
	json_decref(j);
	return o->n > 0 ? STORE_OK : STORE_ENOTFOUND;
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
	int v6 = key[0] == OBS_IPV6, full = v6 ? 128 : 32;
	size_t alen = v6 ? 16 : 4;
	struct tbuf t = {out, 0, 0};

	if (key[0] == OBS_IPV4 || key[0] == OBS_IPV6) {
		if (len != alen + 2)
			return 0;
		if (v6)
			obs_ipv6_format(key + 1, &t);
		else
			obs_ipv4_format(key + 1, &t);
		if (key[len - 1] != full) {
			obs_putc(&t, '/');
			obs_put_dec(&t, key[len - 1]);
		}
		out[t.len] = '\0';
		return t.len;
	}
	if (len < 2 || memchr(key + 1, '\0', len - 1) != NULL)
		return 0;
	memcpy(out, key + 1, len - 1);
	out[len - 1] = '\0';
	return len - 1;
}
