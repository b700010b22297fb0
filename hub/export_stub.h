/*
 * export_stub.h -- STUB, to be dropped at the merge with helper A's
 * branch (o-write): the store and observable interfaces of the issue 12
 * spec that taxii_export.c codes against, declared here until store.h and
 * observable.h have them.  Remove this file, export_stub.c and the
 * include in taxii_export.c.
 */
#ifndef CTIHUB_EXPORT_STUB_H
#define CTIHUB_EXPORT_STUB_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/store.h"

struct store_obs_item {
	uint8_t group;
	const unsigned char *key;
	size_t keylen;
	const char *text;
	size_t textlen;
};

struct store_obsrow {
	int64_t valid_until;
	uint8_t confidence;
	uint8_t flags;
	int n;
	const unsigned char *items;
	size_t len;
};

int store_obsrow_get(
    struct store_reader *, uint64_t rowid, struct store_obsrow *);
int store_obsrow_next(
    const struct store_obsrow *, size_t *pos, struct store_obs_item *);
size_t obs_key_text(const unsigned char *key, size_t len, char *out);

#endif
