/*
 * observable_extract.c -- finds the observables of an indicator pattern
 * (walking the tree pattern_parse built, never parsing again) and of SCOs,
 * observed-data objects and bundles (Jansson), and hands each one,
 * normalised by observable_norm.c, to a callback.  Values that do not
 * normalise are skipped silently: a pattern or SCO is validated elsewhere.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/observable.h"
#include "ctihub/pattern.h"

#define OBS_REF	      (-2) /* an X_ref.value: IP, MAC, e-mail or domain */
#define SCO_MAX_DEPTH 2	   /* bundle > observed-data > SCO */

struct walk {
	obs_cb *cb;
	void *arg;
	int group; /* of the values emitted now (struct obs.group) */
	int nsco;  /* SCOs met so far */
	struct obs o;
};

static const struct {
	const char *type;
	int obs;
} value_types[] = {
    {"ipv4-addr", OBS_IPV4},
    {"ipv6-addr", OBS_IPV6},
    {"domain-name", OBS_DOMAIN},
    {"url", OBS_URL},
    {"email-addr", OBS_EMAIL},
    {"mac-addr", OBS_MAC},
};

static int value_type(const char *);
static int hashes_owner(const char *);
static int ref_value(const char *);
static int path_type(const char *, const char *);
static int emit(struct walk *, int, const char *, size_t);
static int pattern_eq(
    int, const char *, const char *, const char *, size_t, void *);
static int sco_hashes(struct walk *, json_t *, int);
static int sco_walk(struct walk *, json_t *, int);

/* The observable type of a SCO type's "value", or OBS_NONE. */
static int
value_type(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof(value_types) / sizeof(value_types[0]); i++)
		if (strcmp(value_types[i].type, type) == 0)
			return value_types[i].obs;
	return OBS_NONE;
}

/* -1 if the type has no indexed hashes, else whether a certificate's. */
static int
hashes_owner(const char *type)
{
	if (strcmp(type, "file") == 0 || strcmp(type, "artifact") == 0)
		return 0;
	if (strcmp(type, "x509-certificate") == 0)
		return 1;
	return -1;
}

/* Whether the path is ..._ref.value or ..._refs[i].value. */
static int
ref_value(const char *path)
{
	size_t n = strlen(path);

	if (n < 6 || strcmp(path + n - 6, ".value") != 0)
		return 0;
	n -= 6;
	if (n > 0 && path[n - 1] == ']') {
		while (n > 0 && path[n - 1] != '[')
			n--;
		if (n == 0)
			return 0;
		n--;
		return n >= 5 && memcmp(path + n - 5, "_refs", 5) == 0;
	}
	return n >= 4 && memcmp(path + n - 4, "_ref", 4) == 0;
}

/*
 * The hint for a comparison's value: an obs type, OBS_REF, or OBS_NONE
 * for paths not indexed.  pattern.h writes hash names one way, quoted
 * when not identifiers: hashes.MD5, hashes.'SHA-256'.
 */
static int
path_type(const char *type, const char *path)
{
	int owner;

	if (strcmp(path, "value") == 0)
		return value_type(type);
	if (strcmp(path, "number") == 0)
		return strcmp(type, "autonomous-system") == 0 ? OBS_ASN
							      : OBS_NONE;
	if (strncmp(path, "hashes.", 7) == 0 &&
	    (owner = hashes_owner(type)) >= 0) {
		const char *h = path + 7;
		size_t n = strlen(h);

		if (n >= 2 && h[0] == '\'' && h[n - 1] == '\'') {
			h++;
			n -= 2;
		}
		return obs_hash_type(h, n, owner);
	}
	if (ref_value(path))
		return OBS_REF;
	return OBS_NONE;
}

/* Normalises and reports one value; 0 when it does not normalise. */
static int
emit(struct walk *w, int hint, const char *v, size_t n)
{
	if (hint == OBS_REF) {
		if (obs_normalise(OBS_NONE, v, n, &w->o, NULL, 0) != 0)
			return 0;
		switch (w->o.type) {
		case OBS_IPV4:
		case OBS_IPV6:
		case OBS_MAC:
		case OBS_EMAIL:
		case OBS_DOMAIN:
			break;
		default:
			return 0;
		}
	} else if (obs_normalise(hint, v, n, &w->o, NULL, 0) != 0)
		return 0;
	w->o.group = w->group;
	return w->cb(&w->o, w->arg);
}

static int
pattern_eq(int obs, const char *type, const char *path, const char *value,
    size_t vlen, void *arg)
{
	struct walk *w = arg;
	int hint = path_type(type, path);

	if (hint == OBS_NONE)
		return 0;
	w->group = obs;
	return emit(w, hint, value, vlen);
}

int
obs_from_pattern(const struct pattern *pat, obs_cb *cb, void *arg)
{
	struct walk w;

	w.cb = cb;
	w.arg = arg;
	w.group = w.nsco = 0;
	return pattern_foreach_eq_obs(pat, pattern_eq, &w);
}

/* SCOs. */

static int
sco_hashes(struct walk *w, json_t *hashes, int x509)
{
	const char *k;
	json_t *v;
	int t, r;

	if (!json_is_object(hashes))
		return 0;
	json_object_foreach(hashes, k, v)
	{
		if (!json_is_string(v) ||
		    (t = obs_hash_type(k, strlen(k), x509)) == OBS_NONE)
			continue;
		if ((r = emit(w, t, json_string_value(v),
			 json_string_length(v))) != 0)
			return r;
	}
	return 0;
}

static int
sco_walk(struct walk *w, json_t *obj, int depth)
{
	const char *type, *k;
	json_t *v, *objs;
	size_t i;
	int t, r;

	if (!json_is_object(obj) ||
	    (type = json_string_value(json_object_get(obj, "type"))) == NULL)
		return 0;
	objs = json_object_get(obj, "objects");
	if (strcmp(type, "bundle") == 0 || strcmp(type, "observed-data") == 0) {
		if (depth >= SCO_MAX_DEPTH)
			return 0;
		if (json_is_array(objs)) {
			json_array_foreach(objs, i, v)
			{
				if ((r = sco_walk(w, v, depth + 1)) != 0)
					return r;
			}
		} else if (json_is_object(objs)) {
			json_object_foreach(objs, k, v)
			{
				if ((r = sco_walk(w, v, depth + 1)) != 0)
					return r;
			}
		}
		return 0;
	}
	w->group = w->nsco++;
	if ((t = value_type(type)) != OBS_NONE) {
		v = json_object_get(obj, "value");
		if (!json_is_string(v))
			return 0;
		return emit(w, t, json_string_value(v), json_string_length(v));
	}
	if (strcmp(type, "autonomous-system") == 0) {
		char num[24];

		v = json_object_get(obj, "number");
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return 0;
		snprintf(
		    num, sizeof(num), "%lld", (long long)json_integer_value(v));
		return emit(w, OBS_ASN, num, strlen(num));
	}
	if ((t = hashes_owner(type)) >= 0)
		return sco_hashes(w, json_object_get(obj, "hashes"), t);
	return 0;
}

int
obs_from_json(struct json_t *obj, obs_cb *cb, void *arg)
{
	struct walk w;

	w.cb = cb;
	w.arg = arg;
	w.group = w.nsco = 0;
	return sco_walk(&w, obj, 0);
}

int
obs_from_sco(const char *json, size_t len, obs_cb *cb, void *arg)
{
	json_error_t jerr;
	json_t *root;
	int r;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		return -1;
	}
	r = obs_from_json(root, cb, arg);
	json_decref(root);
	return r;
}
