/*
 * obs_set.h -- an object's observables as the store indexes them (struct
 * store_obs_set): extracted (observable.h) from an indicator's STIX
 * pattern or from an SCO or observed-data object, with the indicator's
 * valid_until, its confidence and whether it is revoked.  The one
 * function ingest and ctihub reindex both call, so that a reindex
 * rebuilds exactly what ingest wrote.  No store access, no I/O.
 */
#ifndef CTIHUB_OBS_SET_H
#define CTIHUB_OBS_SET_H

#include <jansson.h>

#include "ctihub/store.h"

struct pattern;

/*
 * The observables of `obj` (a validated STIX object, borrowed), in one
 * block the caller frees with hub_free, into *out; *out is NULL when it
 * has none (an object that is neither an indicator with a STIX pattern,
 * an SCO nor observed-data, or one whose values do not normalise).
 * `pat` is the indicator's pattern as the validator parsed it
 * (stix_ctx.keep_pattern), or NULL to have it parsed here.  Items are
 * in source order, one per (group, key): the group is the observation
 * expression of the pattern, or the SCO in an observed-data object (from
 * 0; beyond 255 they share 255); a text is kept only for a long key that
 * holds a hash of it.  At most `max` items (1..STORE_OBS_MAX_ITEMS, the
 * directive max_observables): the rest are dropped.  Returns 0, 1 when
 * some were dropped, or -1 when out of memory (*out NULL).
 */
int obs_set_build(json_t *obj, const struct pattern *pat, int max,
    struct store_obs_set **out);

#endif
