/*
 * fuzz_envelope.c -- a posted body through the whole ingest front end:
 * framing (jscan), Jansson per object, STIX validation with patterns, the
 * observables of each valid object (at most 3, to reach the limit's
 * warning), and the status resource.
 */
#include <stdint.h>
#include <string.h>

#include "ctihub/buf.h"
#include "ctihub/ingest.h"
#include "ctihub/taxii_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_doc d;
	struct ingest_batch b;
	struct buf status = BUF_INIT;
	char err[256];

	if (ingest_open(
		&d, (const char *)data, size, 1000, 16, err, sizeof(err)) != 0)
		return 0;
	d.index_obs = 1;
	d.max_obs = 3;
	while (ingest_next(&d, &b, 7) > 0) {
		ingest_markings(&b);
		ingest_range(&b, 0, b.n);
		taxii_status_render(&status,
		    "00000000-0000-4000-8000-000000000000", 0, b.meta, b.objs,
		    b.n);
		buf_reset(&status);
		ingest_free(&b);
	}
	buf_clear(&status);
	ingest_close(&d);
	return 0;
}
