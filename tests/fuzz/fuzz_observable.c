/*
 * fuzz_observable.c -- libFuzzer target for observables.  The first byte
 * picks a type hint (modulo OBS_TYPE_MAX + 1, 0 = detect); the rest (a heap
 * copy of exactly that many bytes, not NUL-terminated) is normalised, then
 * parsed as a pattern and as JSON, and the observables of both extracted.
 * Invariants, checked on every accepted value: the text is NUL-ended and
 * of its length, the key's first byte is the type, an IP key is address
 * bytes and prefix, a hint is obeyed, and normalising the canonical text
 * again gives the same text, prefix and key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/observable.h"
#include "ctihub/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void check(const struct obs *, int);
static int fuzz_cb(const struct obs *, void *);

static struct obs again; /* large: not on the stack */

static void
check(const struct obs *o, int hint)
{
	if (o->type <= OBS_NONE || o->type > OBS_TYPE_MAX ||
	    obs_type_name(o->type) == NULL)
		abort();
	if (hint != OBS_NONE && o->type != hint)
		abort();
	if (o->len == 0 || o->len > OBS_TEXT_MAX || o->text[o->len] != '\0' ||
	    strlen(o->text) != o->len)
		abort();
	if (o->keylen < 2 || o->keylen > OBS_KEY_MAX || o->key[0] != o->type)
		abort();
	if (o->type == OBS_IPV4 || o->type == OBS_IPV6) {
		size_t nb = o->type == OBS_IPV4 ? 4 : 16;

		if (o->keylen != nb + 2 || o->prefix < 0 ||
		    o->prefix > (int)nb * 8 || o->key[nb + 1] != o->prefix)
			abort();
	} else if (o->prefix != -1 || o->flags != 0)
		abort();
	if (obs_normalise(o->type, o->text, o->len, &again, NULL, 0) != 0)
		abort();
	if (again.len != o->len || memcmp(again.text, o->text, o->len) != 0 ||
	    again.prefix != o->prefix || again.keylen != o->keylen ||
	    memcmp(again.key, o->key, o->keylen) != 0 || again.flags != 0)
		abort();
}

static int
fuzz_cb(const struct obs *o, void *arg)
{
	(void)arg;
	check(o, OBS_NONE);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct obs o;
	struct pattern *pat;
	char err[OBS_ERRLEN], *buf;
	int hint;

	if (size == 0)
		return 0;
	hint = data[0] % (OBS_TYPE_MAX + 1);
	data++;
	size--;
	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	if (obs_normalise(hint, buf, size, &o, err, sizeof(err)) == 0)
		check(&o, hint);
	else if (err[0] == '\0' || strlen(err) >= OBS_ERRLEN || o.keylen != 0)
		abort();
	if ((pat = pattern_parse(buf, size, NULL, 0)) != NULL) {
		if (obs_from_pattern(pat, fuzz_cb, NULL) != 0)
			abort();
		pattern_free(pat);
	}
	(void)obs_from_sco(buf, size, fuzz_cb, NULL);
	free(buf);
	return 0;
}
