/*
 * obs_seed.c -- integ_client --obs-seed DBDIR COLL-ID...: indexes the
 * observables of every object in those collections (pattern or SCO) in
 * the observable index, beside the running hub, the way ingest will once
 * it writes them itself (branch o-write; then this does nothing).
 * For tests/integ/lookup.sh only.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/lookup.h" /* STORE_OBS_MAX_ITEMS, once o-write lands */
#include "ctihub/observable.h"
#include "ctihub/pattern.h"
#include "ctihub/store.h"

#include "integ.h"

#ifdef STORE_OBS_MAX_ITEMS
/* ingest writes the index itself (o-write): nothing to seed */
int
obs_seed_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("indexed by ingest\n");
	return 0;
}
#else
struct seed {
	struct store_wtxn *w;
	uint64_t rowid;
	uint32_t producer;
	uint8_t flags;
	int n;
};

static int
seed_one(const struct obs *o, void *arg)
{
	struct seed *s = arg;
	struct store_obs_key k = {o->key, o->keylen};

	if (store_wobs_add(s->w, s->rowid, &k, 1, s->producer, s->flags,
		STORE_OBS_FOREVER) != STORE_OK)
		return -1;
	s->n++;
	return 0;
}

int
obs_seed_main(int argc, char **argv)
{
	struct store *st;
	struct store_reader *r;
	struct seed s;
	char err[256];
	int i, total = 0;

	if (argc < 4) {
		fprintf(
		    stderr, "usage: integ_client --obs-seed DBDIR COLL...\n");
		return 2;
	}
	if (store_open(&st, argv[2], (uint64_t)1 << 30, err, sizeof(err)) !=
		STORE_OK ||
	    store_reader_new(st, &r) != STORE_OK) {
		fprintf(stderr, "obs-seed: %s\n", err);
		return 1;
	}
	memset(&s, 0, sizeof(s));
	if (store_wbegin(st, &s.w) != STORE_OK || store_rbegin(r) != STORE_OK)
		return 1;
	for (i = 3; i < argc; i++) {
		struct store_item it;
		uint32_t code;

		if (store_code_get(r, STORE_K_COLL, argv[i], strlen(argv[i]),
			&code) != STORE_OK ||
		    store_walk_start(r, code, 0) != STORE_OK)
			continue;
		while (store_walk_next(r, &it) == 1) {
			struct store_objview ov;
			json_t *o, *p;
			json_error_t je;

			if (store_obj_of(r, &it.e, &ov) != STORE_OK ||
			    (o = json_loadb(ov.json, ov.jsonlen, 0, &je)) ==
				NULL)
				continue;
			s.rowid = it.e.rowid;
			s.producer = it.e.producer;
			s.flags = it.e.flags & STORE_F_REVOKED
			    ? STORE_OBS_F_REVOKED
			    : 0;
			if (json_is_string(p = json_object_get(o, "pattern"))) {
				struct pattern *pt = pattern_parse(
				    json_string_value(p), json_string_length(p),
				    err, sizeof(err));

				s.flags |= STORE_OBS_F_PATTERN;
				if (pt != NULL)
					obs_from_pattern(pt, seed_one, &s);
				pattern_free(pt);
			} else
				obs_from_json(o, seed_one, &s);
			json_decref(o);
		}
	}
	store_rend(r);
	total = s.n;
	if (store_wcommit(s.w) != STORE_OK) {
		fprintf(stderr, "obs-seed: commit failed\n");
		return 1;
	}
	store_reader_free(r);
	store_close(st);
	printf("%d observables indexed\n", total);
	return 0;
}
#endif
