/*
 * fuzz_members.c -- members file parser.
 */
#include <stdint.h>
#include <string.h>

#include "ctihub/member.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct members *m = NULL;
	struct cfg_errs errs;

	memset(&errs, 0, sizeof(errs));
	if (members_parse("fuzz", (const char *)data, size, &m, &errs) == 0)
		members_free(m);
	cfg_errs_clear(&errs);
	return 0;
}
