/*
 * uuid.c -- UUIDs as 16 bytes and as text (uuid.h).  Generates random
 * ones from OpenSSL's generator and name-based ones (version 5, SHA-1)
 * with OpenSSL's digest; other derived ones are made by their callers,
 * who set the version here.
 */
#include <stddef.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ctihub/bytes.h"
#include "ctihub/uuid.h"

int
uuid_parse(const char *s, size_t n, unsigned char u[16], int *upper)
{
	unsigned char b[16];
	size_t i, k;
	int up = 0;

	if (n != UUID_LEN)
		return -1;
	for (i = k = 0; i < UUID_LEN; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		if ((hi = hex_digit(s[i])) < 0 ||
		    (lo = hex_digit(s[i + 1])) < 0)
			return -1;
		if ((s[i] >= 'A' && s[i] <= 'F') ||
		    (s[i + 1] >= 'A' && s[i + 1] <= 'F'))
			up = 1;
		b[k++] = (unsigned char)(hi << 4 | lo);
		i++;
	}
	if (u != NULL)
		memcpy(u, b, sizeof(b));
	if (upper != NULL)
		*upper = up;
	return 0;
}

void
uuid_format(const unsigned char u[16], char out[UUID_LEN + 1])
{
	int i;
	char *p = out;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		hex_encode(&u[i], 1, p);
		p += 2;
	}
	*p = '\0';
}

void
uuid_set_version(unsigned char u[16], int version)
{
	u[6] = (unsigned char)((u[6] & 0x0f) | (version & 0x0f) << 4);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
}

int
uuid_random(unsigned char u[16])
{
	if (RAND_bytes(u, 16) != 1)
		return -1;
	uuid_set_version(u, 4);
	return 0;
}

int
uuid_rfc4122(const unsigned char u[16])
{
	int ver = u[6] >> 4;

	return (u[8] & 0xc0) == 0x80 && ver >= 1 && ver <= 8;
}

int
uuid_v5(const unsigned char ns[16], const void *name, size_t len,
    unsigned char u[16])
{
	unsigned char h[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *c;
	int ok;

	if ((c = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(c, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(c, ns, 16) == 1 &&
	    EVP_DigestUpdate(c, name, len) == 1 &&
	    EVP_DigestFinal_ex(c, h, NULL) == 1;
	EVP_MD_CTX_free(c);
	if (!ok)
		return -1;
	memcpy(u, h, 16);
	uuid_set_version(u, 5);
	return 0;
}
