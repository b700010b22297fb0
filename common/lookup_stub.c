/*
 * lookup_stub.c -- STUB until branch o-write lands: the obsrow readers
 * and the prefix bitmap of the issue 12 spec, answering "no row" and
 * "every prefix length", so lookup.c builds and runs (without cross-hash)
 * before the real ones exist.  Compiles to nothing once store.h defines
 * STORE_OBS_MAX_ITEMS; the lead drops this file at the merge.
 */
#include "ctihub/lookup.h"

#ifndef STORE_OBS_MAX_ITEMS
int
store_obsrow_get(
    struct store_reader *r, uint64_t rowid, struct store_obsrow *out)
{
	(void)r;
	(void)rowid;
	(void)out;
	return STORE_ENOTFOUND;
}

int
store_obsrow_next(
    const struct store_obsrow *o, size_t *pos, struct store_obs_item *it)
{
	(void)o;
	(void)pos;
	(void)it;
	return 0;
}

int
store_obs_prefixes(struct store_reader *r, int type, uint64_t *lo, uint64_t *hi)
{
	(void)r;
	(void)type;
	*lo = *hi = ~(uint64_t)0;
	return STORE_OK;
}
#else
typedef int lookup_stub_empty; /* ISO C: a unit must declare something */
#endif
