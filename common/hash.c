/*
 * hash.c -- CRC-32C (see hash.h): the crc32 instruction of SSE4.2, eight
 * bytes at a time, when the CPU has it (chosen once, at the first call);
 * otherwise a byte-wise table.  OpenSSL has no CRC, and its digests cost
 * ten times more per object read.
 */
#include <pthread.h>
#include <string.h>

#include "ctihub/hash.h"

#define CRC32C_POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t crc_table[256];
static uint32_t (*crc_fn)(uint32_t, const unsigned char *, size_t);
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static uint32_t
crc_soft(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n-- > 0)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
crc_sse42(uint32_t crc, const unsigned char *p, size_t n)
{
	uint64_t c = crc, v;

	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	crc = (uint32_t)c;
	for (; n > 0; n--)
		crc = __builtin_ia32_crc32qi(crc, *p++);
	return crc;
}
#endif

static void
crc_init(void)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_table[i] = c;
	}
	crc_fn = crc_soft;
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2"))
		crc_fn = crc_sse42;
#endif
}

uint32_t
hash_crc32c(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&crc_once, crc_init);
	return ~crc_fn(~crc, p, n);
}
