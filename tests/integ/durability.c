/*
 * durability.c -- the kill -9 test, in two halves run by run.sh around a
 * kill -9 of the daemon:
 *   integ_client --durability post ACKED   posts envelopes of fresh
 *       objects as fast as it can and appends the number and status id
 *       of every envelope acknowledged (202) to ACKED, until killed (or
 *       60 s) (integ_client --fault audit then checks their records);
 *   integ_client --durability verify ACKED  re-posts every acknowledged
 *       envelope to the restarted daemon: each object must come back as
 *       "already in this collection" -- nothing acknowledged was lost.
 * Envelopes are a function of their number, so the verifier rebuilds
 * them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctihub/buf.h"

#include "integ.h"

#define PER_ENVELOPE 200
#define OBJS	     "/api1/collections/any/objects/"

static const struct opts alice = {.user = "alice:integ-pass-1"};

/* Envelope n: the same at both halves of the test. */
static void
envelope(struct buf *b, unsigned n)
{
	integ_envelope(b, 0xd0d0, n, PER_ENVELOPE);
}

static int
post_loop(const char *acked)
{
	struct buf b = BUF_INIT;
	struct resp r;
	struct opts o = alice;
	FILE *f = fopen(acked, "w");
	time_t end = time(NULL) + 60;
	unsigned n;

	if (f == NULL)
		return 2;
	for (n = 0; time(NULL) < end; n++) {
		envelope(&b, n);
		o.body = buf_cstr(&b);
		o.bodylen = b.len;
		if (http("POST", OBJS, &o, &r) == 0 && r.code == 202) {
			/* the status id: its audit record is looked for */
			fprintf(f, "%u %s\n", n,
			    json_string_value(json_object_get(r.json, "id")));
			fflush(f);
		}
		resp_free(&r);
	}
	fclose(f);
	buf_clear(&b);
	return 0;
}

static int
verify(const char *acked)
{
	struct buf b = BUF_INIT;
	struct resp r;
	struct opts o = alice;
	FILE *f = fopen(acked, "r");
	unsigned n, count = 0, lost = 0;
	char line[64];

	if (f == NULL) {
		printf("not ok - durability: no list of acknowledged posts\n");
		return 1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *s, *e;
		size_t i;

		n = (unsigned)strtoul(line, NULL, 10);
		envelope(&b, n);
		o.body = buf_cstr(&b);
		o.bodylen = b.len;
		if (http("POST", OBJS, &o, &r) != 0 || r.code != 202) {
			printf("not ok - durability: re-post of envelope %u "
			       "failed (%ld)\n",
			    n, r.code);
			resp_free(&r);
			fclose(f);
			return 1;
		}
		s = json_object_get(r.json, "successes");
		json_array_foreach(s, i, e)
		{
			const char *m =
			    json_string_value(json_object_get(e, "message"));

			if (m == NULL ||
			    strstr(m, "already in this collection") == NULL)
				lost++;
		}
		if (json_array_size(s) != PER_ENVELOPE)
			lost += PER_ENVELOPE - (unsigned)json_array_size(s);
		count++;
		resp_free(&r);
	}
	fclose(f);
	buf_clear(&b);
	if (count == 0) {
		printf("not ok - durability: nothing was acknowledged before "
		       "the kill\n");
		return 1;
	}
	if (lost > 0) {
		printf("not ok - durability: %u acknowledged objects were lost "
		       "(of %u envelopes)\n",
		    lost, count);
		return 1;
	}
	printf("ok - durability: all %u objects of %u acknowledged envelopes "
	       "survived kill -9\n",
	    count * PER_ENVELOPE, count);
	return 0;
}

int
durability_main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[2], "post") == 0)
		return post_loop(argv[3]);
	if (argc == 4 && strcmp(argv[2], "verify") == 0)
		return verify(argv[3]);
	fprintf(stderr, "usage: integ_client --durability post|verify FILE\n");
	return 2;
}
