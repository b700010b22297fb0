/*
 * member.h -- the member CERTs of the community, read from the members
 * file (cfgfile.h syntax): identity, country, roles, points of contact and
 * credentials (hashes only, see cred.h).  Lookup by id, by the producer
 * code stored with every object, by API token digest and by
 * client certificate fingerprint.  Does not authenticate requests (the
 * hub does, with these lookups) nor decide sharing (policy.h).
 */
#ifndef CTIHUB_MEMBER_H
#define CTIHUB_MEMBER_H

#include <stdint.h>

#include "ctihub/cfgfile.h"
#include "ctihub/cred.h"

#define MEMBER_ID_MAX 64
#define MEMBER_MAX    4096

enum member_role {
	MEMBER_PUBLISHER = 1 << 0,
	MEMBER_SUBSCRIBER = 1 << 1,
	MEMBER_ADMIN = 1 << 2,
};

struct member {
	char id[MEMBER_ID_MAX];
	char country[3];
	unsigned roles;
	char *name; /* organisation name */
	char *description;
	char **sectors; /* STIX industry-sector-ov values */
	int nsectors;
	char *contact_name; /* point of contact */
	char *email;
	char *phone;
	char *url;
	struct cred_pw pw; /* kind CRED_NONE: no password login */
	unsigned char (*tokens)[CRED_DIGEST_LEN];
	int ntokens;
	unsigned char (*fps)[CRED_DIGEST_LEN];
	int nfps;
	uint32_t code; /* producer code: the database's registry number
			  for the id once the hub has bound the set to its
			  store (store_codes); until then a provisional one
			  (MEMBER_CODE_PROVISIONAL | index) */
	int index;     /* position in the set, 0..n-1 */
	int line;      /* where it is defined */
};

struct members {
	char *file;
	struct member *v;
	int n;
};

/*
 * Reads the members file.  Returns 0 and a new set (caller frees with
 * members_free), or -1 with every problem in `errs` as "file:line: msg".
 */
int members_load(const char *file, struct members **out, struct cfg_errs *errs);
/* The same from text already in memory (tests, fuzzing). */
int members_parse(const char *file, const char *text, size_t n,
    struct members **out, struct cfg_errs *errs);
void members_free(struct members *);

/* Borrowed pointers, valid as long as the set. NULL when not found. */
const struct member *members_find(const struct members *, const char *id);
const struct member *members_by_code(const struct members *, uint32_t code);
const struct member *members_by_token(
    const struct members *, const unsigned char digest[CRED_DIGEST_LEN]);
const struct member *members_by_fp(
    const struct members *, const unsigned char fp[CRED_DIGEST_LEN]);

#define MEMBER_CODE_PROVISIONAL 0x80000000u
/* "publisher,subscriber" for logs and listings. */
void member_roles_str(unsigned roles, char *out, size_t len);
/* A valid member id: 1-63 of [A-Za-z0-9._-], starting with a letter or
 * digit. */
int member_id_valid(const char *id);

#endif
