/*
 * fuzz_misp_manifest.c -- libFuzzer target for the MISP manifest parser
 * and the state blob (feeds/feed_misp.c): parses the input, plans against
 * a blob made of the input's own bytes (malformed as often as not),
 * builds the next state and checks that it is well formed, bounded by the
 * manifest, and that planning against it after a complete run fetches
 * nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/buf.h"

#include "../../feeds/feed_misp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed_misp_manifest m;
	struct buf st = BUF_INIT;
	char err[FEED_MISP_ERRLEN], *in;
	size_t i, nf, blen;
	int64_t ts;

	if ((in = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(in, data, size);
	if (feed_misp_manifest_parse(in, size, &m, err, sizeof(err)) == 0) {
		if (m.n > FEED_MISP_MAX_EVENTS)
			abort();
		/* any bytes as an old state: never trusted blindly */
		blen = size - size % FEED_MISP_STATE_REC;
		nf = feed_misp_manifest_plan(&m, in, blen);
		if (nf > m.n)
			abort();
		for (i = 0; i < m.n; i++) {
			if (strlen(m.ev[i].uuid_s) != 36 ||
			    m.ev[i].ntags > FEED_MISP_MAX_LABELS)
				abort();
			m.ev[i].done = m.ev[i].fetch;
		}
		if (feed_misp_state_build(&m, in, blen, &st) != 0 ||
		    st.len % FEED_MISP_STATE_REC != 0 ||
		    st.len > m.n * FEED_MISP_STATE_REC)
			abort();
		for (i = 0; i + FEED_MISP_STATE_REC < st.len;
		     i += FEED_MISP_STATE_REC)
			if (memcmp(st.data + i,
				st.data + i + FEED_MISP_STATE_REC, 16) >= 0)
				abort();
		for (i = 0; i < m.n; i++)
			if (feed_misp_state_get(
				st.data, st.len, m.ev[i].uuid, &ts) != 0)
				abort();
		/* everything stored: nothing to fetch next time, unless two
		 * keys name one uuid with different timestamps */
		nf = feed_misp_manifest_plan(&m, st.data, st.len);
		if (nf > 0 && st.len == m.n * FEED_MISP_STATE_REC)
			abort();
		buf_clear(&st);
	} else if (strncmp(err, "manifest: ", 10) != 0)
		abort();
	feed_misp_manifest_clear(&m);
	free(in);
	return 0;
}
