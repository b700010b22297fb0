/*
 * hash.h -- FNV-1a 64-bit: it fingerprints a query's filters inside
 * paging tokens and the answers behind ETags.  No identity stands on a
 * hash: members, collections and types are numbered by the store's
 * registry.
 * CRC-32C (Castagnoli, hash.c): the checksum of every record the store
 * keeps, to detect corruption (not tampering); the SSE4.2 instruction
 * where the CPU has it, a table elsewhere.
 */
#ifndef CTIHUB_HASH_H
#define CTIHUB_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV1A64_INIT 14695981039346656037ULL

/* Continues a 64-bit FNV-1a hash h (start from HASH_FNV1A64_INIT). */
static inline uint64_t
hash_fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Continues a CRC-32C (start from 0) over n bytes. */
uint32_t hash_crc32c(uint32_t crc, const void *p, size_t n);

#endif
