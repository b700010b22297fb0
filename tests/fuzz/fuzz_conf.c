/*
 * fuzz_conf.c -- ctihub.conf parser (with a fixed members set).
 */
#include <stdint.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char members[] =
    "member cert-br {\n name a\n country BR\n roles publisher\n"
    " token sha256$"
    "0000000000000000000000000000000000000000000000000000000000000001\n}\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct members *m = NULL;
	struct conf *c = NULL;
	struct cfg_errs errs;

	log_init(-1);
	memset(&errs, 0, sizeof(errs));
	if (members_parse("m", members, strlen(members), &m, &errs) == 0 &&
	    conf_parse("fuzz.conf", "/nonexistent", (const char *)data, size, m,
		&c, &errs) == 0)
		conf_free(c);
	cfg_errs_clear(&errs);
	return 0;
}
