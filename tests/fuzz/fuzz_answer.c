/*
 * fuzz_answer.c -- what a push receiver answers (push_answer.h) and its
 * webhook challenge echo (webhook.h), with their invariants: a parsed
 * status has counts >= 0, failures at least the failures kept, an id of
 * 1..100 URL-safe characters and printable failure texts, and parses the
 * same twice; Retry-After is -1 or within 0..86400; a challenge answer is
 * accepted only when it holds the challenge.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/push_answer.h"
#include "ctihub/webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s >= 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct push_status a, b;
	char *s;
	long ra;
	int i;

	if (push_status_parse((const char *)data, size, &a) == 0) {
		if (a.total < 0 || a.success < 0 || a.failure < 0 ||
		    a.pending < 0 || a.nfail < 0 ||
		    a.nfail > PUSH_ANSWER_FAILS || a.failure < a.nfail)
			abort();
		if (a.id[0] == '\0' || strlen(a.id) > 100)
			abort();
		for (i = 0; a.id[i] != '\0'; i++)
			if (!isalnum((unsigned char)a.id[i]) &&
			    strchr("-._~", a.id[i]) == NULL)
				abort();
		for (i = 0; i < a.nfail; i++) {
			printable(a.fail[i].id);
			printable(a.fail[i].message);
		}
		if (push_status_parse((const char *)data, size, &b) != 0 ||
		    memcmp(&a, &b, sizeof(a)) != 0)
			abort();
	}
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	ra = push_retry_after(s, 1700000000);
	if (ra < -1 || ra > 86400)
		abort();
	if (webhook_challenge_ok("Zm9vYmFyYmF6cXV4", s, size) &&
	    strstr(s, "Zm9vYmFyYmF6cXV4") == NULL)
		abort();
	free(s);
	return 0;
}
