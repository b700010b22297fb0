/*
 * hash.h -- the 32-bit FNV-1a hash that turns member ids, collection ids
 * and STIX types into the fixed-width codes stored in LMDB keys and index
 * entries.  Not a secret-keyed hash: codes are checked for collisions
 * where they are assigned (members, collections) or confirmed against
 * the stored text where they are matched (types).
 */
#ifndef CTIHUB_HASH_H
#define CTIHUB_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t
hash_fnv1a32(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

#endif
