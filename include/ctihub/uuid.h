/*
 * uuid.h -- UUIDs as 16 bytes and in their text form (8-4-4-4-12 hex
 * digits, 36 characters): parsing, formatting, random ones (version 4),
 * the version bits of derived ones, and the RFC 4122 layout check.  STIX
 * ids are "<type>--<uuid>": stix.h splits them; this knows only the UUID.
 */
#ifndef CTIHUB_UUID_H
#define CTIHUB_UUID_H

#include <stddef.h>

#define UUID_LEN 36 /* the text form, without its NUL */

/*
 * Parses the n characters at s, which must be a UUID's text form exactly
 * (hex digits of either case).  0 with the bytes in u and, in *upper,
 * whether an upper-case digit was seen (either may be NULL); -1 for
 * anything else.
 */
int uuid_parse(const char *s, size_t n, unsigned char u[16], int *upper);
/* The text form of u, lower case, NUL-terminated. */
void uuid_format(const unsigned char u[16], char out[UUID_LEN + 1]);
/* Sets the version (4: random, 5: name-based, SHA-1) and the RFC 4122
 * variant bits of u. */
void uuid_set_version(unsigned char u[16], int version);
/* A random UUID (version 4): 0, or -1 when there is no randomness. */
int uuid_random(unsigned char u[16]);
/*
 * The name-based UUID (RFC 4122 version 5) of name[0..len) in namespace
 * ns: the first 16 bytes of SHA-1(ns || name) with the version and variant
 * bits set.  0, or -1 when OpenSSL fails (out of memory).
 */
int uuid_v5(const unsigned char ns[16], const void *name, size_t len,
    unsigned char u[16]);
/* 1 when u has the RFC 4122 (and RFC 9562) layout: variant 10xx,
 * version 1 to 8; else 0. */
int uuid_rfc4122(const unsigned char u[16]);

#endif
