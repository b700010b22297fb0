/*
 * obs_set.c -- builds the store's set of an object's observables (see
 * obs_set.h): walks the pattern tree or the SCO with observable.h's
 * walkers, drops repeats, and packs items, keys and texts into one
 * allocation.  Small objects build on the stack; only what does not fit
 * grows on the heap.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/obs_set.h"
#include "ctihub/observable.h"
#include "ctihub/pattern.h"
#include "ctihub/tstamp.h"

#define SMALL_ITEMS 16
#define SMALL_BYTES 1024

/* An item while building: offsets into the byte buffer. */
struct item_at {
	uint8_t group;
	uint16_t keylen, textlen;
	size_t keyoff, textoff;
};

struct build {
	struct item_at *v;
	int n, cap;
	unsigned char *b;
	size_t len, bcap;
	int max;
	int oom, over;
	struct item_at small_v[SMALL_ITEMS];
	unsigned char small_b[SMALL_BYTES];
};

static int grow(void **, void *, size_t *, size_t, size_t);
static int add(const struct obs *, void *);
static int pattern_kind(json_t *);
static struct store_obs_set *pack(const struct build *, json_t *, int);

/* Room for `need` elements of `size` in *p (at first the caller's small
 * array): 0, or -1 when out of memory. */
static int
grow(void **p, void *small, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap * 2;
	void *q;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (*p == small) {
		if ((q = hub_malloc(ncap * size)) == NULL)
			return -1;
		memcpy(q, small, *cap * size);
	} else if ((q = hub_realloc(*p, ncap * size)) == NULL)
		return -1;
	*p = q;
	*cap = ncap;
	return 0;
}

static int
add(const struct obs *o, void *arg)
{
	struct build *b = arg;
	uint8_t group = o->group > 255 ? 255 : (uint8_t)o->group;
	/* a short key is the type and the text: the text is in it, as it
	 * is in an IP key; a long key keeps it beside */
	size_t textlen = o->type != OBS_IPV4 && o->type != OBS_IPV6 &&
		o->keylen != o->len + 1
	    ? o->len
	    : 0;
	size_t cap = (size_t)b->cap;
	struct item_at *it;
	int i;

	for (i = 0; i < b->n; i++)
		if (b->v[i].group == group && b->v[i].keylen == o->keylen &&
		    memcmp(b->b + b->v[i].keyoff, o->key, o->keylen) == 0)
			return 0;
	if (b->n == b->max) {
		b->over = 1;
		return 1;
	}
	if (grow((void **)&b->v, b->small_v, &cap, (size_t)b->n + 1,
		sizeof(*b->v)) != 0 ||
	    grow((void **)&b->b, b->small_b, &b->bcap,
		b->len + o->keylen + textlen, 1) != 0) {
		b->oom = 1;
		return 1;
	}
	b->cap = (int)cap;
	it = &b->v[b->n++];
	it->group = group;
	it->keylen = (uint16_t)o->keylen;
	it->textlen = (uint16_t)textlen;
	it->keyoff = b->len;
	memcpy(b->b + b->len, o->key, o->keylen);
	b->len += o->keylen;
	it->textoff = b->len;
	memcpy(b->b + b->len, o->text, textlen);
	b->len += textlen;
	return 0;
}

/* 1: an indicator with a STIX pattern; 0: another object. */
static int
pattern_kind(json_t *obj)
{
	const char *type = json_string_value(json_object_get(obj, "type"));
	json_t *pt;

	if (type == NULL || strcmp(type, "indicator") != 0 ||
	    !json_is_string(json_object_get(obj, "pattern")))
		return 0;
	/* STIX 2.0 has no pattern_type: its patterns are STIX patterns */
	pt = json_object_get(obj, "pattern_type");
	return pt == NULL ||
	    (json_is_string(pt) &&
		strcasecmp(json_string_value(pt), "stix") == 0);
}

/* The set in one block: the header, the items, the bytes. */
static struct store_obs_set *
pack(const struct build *b, json_t *obj, int from_pattern)
{
	struct store_obs_set *set;
	struct store_obs_item *v;
	unsigned char *bytes;
	json_t *j;
	int64_t t;
	int i;

	set = hub_malloc(sizeof(*set) + (size_t)b->n * sizeof(*v) + b->len);
	if (set == NULL)
		return NULL;
	v = (struct store_obs_item *)(set + 1);
	bytes = (unsigned char *)(v + b->n);
	memcpy(bytes, b->b, b->len);
	for (i = 0; i < b->n; i++) {
		v[i].group = b->v[i].group;
		v[i].key = bytes + b->v[i].keyoff;
		v[i].keylen = b->v[i].keylen;
		v[i].text = b->v[i].textlen > 0
		    ? (const char *)bytes + b->v[i].textoff
		    : NULL;
		v[i].textlen = b->v[i].textlen;
	}
	set->n = b->n;
	set->v = v;
	set->flags = from_pattern ? STORE_OBS_F_PATTERN : 0;
	if (json_is_true(json_object_get(obj, "revoked")))
		set->flags |= STORE_OBS_F_REVOKED;
	set->valid_until = STORE_OBS_FOREVER;
	j = json_object_get(obj, "valid_until");
	if (from_pattern && json_is_string(j) &&
	    tstamp_parse(json_string_value(j), json_string_length(j), &t) == 0)
		set->valid_until = t;
	set->valid_from = STORE_OBS_ALWAYS;
	j = json_object_get(obj, "valid_from");
	if (from_pattern && json_is_string(j) &&
	    tstamp_parse(json_string_value(j), json_string_length(j), &t) == 0)
		set->valid_from = t;
	j = json_object_get(obj, "confidence");
	set->confidence = json_is_integer(j) && json_integer_value(j) >= 0 &&
		json_integer_value(j) <= 100
	    ? (uint8_t)json_integer_value(j)
	    : 255;
	return set;
}

int
obs_set_build(
    json_t *obj, const struct pattern *pat, int max, struct store_obs_set **out)
{
	struct pattern *own = NULL;
	struct build b;
	json_t *p;
	int from_pattern = pattern_kind(obj);

	*out = NULL;
	b.v = b.small_v;
	b.cap = SMALL_ITEMS;
	b.n = 0;
	b.b = b.small_b;
	b.bcap = SMALL_BYTES;
	b.len = 0;
	b.max =
	    max >= 1 && max <= STORE_OBS_MAX_ITEMS ? max : STORE_OBS_MAX_ITEMS;
	b.oom = b.over = 0;
	if (from_pattern) {
		if (pat == NULL) {
			p = json_object_get(obj, "pattern");
			pat = own = pattern_parse(json_string_value(p),
			    json_string_length(p), NULL, 0);
		}
		if (pat != NULL)
			obs_from_pattern(pat, add, &b);
		pattern_free(own);
	} else
		obs_from_json(obj, add, &b);
	if (!b.oom && b.n > 0 && (*out = pack(&b, obj, from_pattern)) == NULL)
		b.oom = 1;
	if (b.v != b.small_v)
		hub_free(b.v);
	if (b.b != b.small_b)
		hub_free(b.b);
	return b.oom ? -1 : b.over;
}
