/*
 * push_answer.c -- a push receiver's answers: the TAXII status resource
 * and Retry-After (push_answer.h).
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctihub/push_answer.h"

/* Copies a string with every byte outside printable ASCII replaced. */
static void
printable(char *out, size_t size, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i + 1 < size; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[i] = '\0';
}

static long long
count(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v < 0 ? 0 : (long long)v;
}

/* A status id that can go into a URL path as it is. */
static int
id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 100)
		return 0;
	for (; *id != '\0'; id++)
		if (!isalnum((unsigned char)*id) && strchr("-._~", *id) == NULL)
			return 0;
	return 1;
}

int
push_status_parse(const char *body, size_t len, struct push_status *st)
{
	json_t *j, *f, *x;
	const char *s, *id;
	size_t i;

	memset(st, 0, sizeof(*st));
	if (body == NULL ||
	    (j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return -1;
	if (!json_is_object(j) ||
	    (s = json_string_value(json_object_get(j, "status"))) == NULL ||
	    (id = json_string_value(json_object_get(j, "id"))) == NULL ||
	    !id_ok(id)) {
		json_decref(j);
		return -1;
	}
	st->complete = strcmp(s, "complete") == 0;
	memcpy(st->id, id, strlen(id) + 1);
	st->total = count(j, "total_count");
	st->success = count(j, "success_count");
	st->failure = count(j, "failure_count");
	st->pending = count(j, "pending_count");
	f = json_object_get(j, "failures");
	json_array_foreach(f, i, x)
	{
		if (st->nfail == PUSH_ANSWER_FAILS)
			break;
		printable(st->fail[st->nfail].id, sizeof(st->fail[0].id),
		    json_string_value(json_object_get(x, "id")));
		printable(st->fail[st->nfail].message,
		    sizeof(st->fail[0].message),
		    json_string_value(json_object_get(x, "message")));
		st->nfail++;
	}
	/* a failure listed counts, whatever failure_count says */
	if (st->failure < st->nfail)
		st->failure = st->nfail;
	json_decref(j);
	return 0;
}

long
push_retry_after(const char *v, time_t now)
{
	struct tm tm;
	const char *end;
	long long n = 0;
	time_t t;

	if (v == NULL)
		return -1;
	while (*v == ' ')
		v++;
	if (isdigit((unsigned char)*v)) {
		for (; isdigit((unsigned char)*v); v++)
			if ((n = n * 10 + (*v - '0')) > 86400)
				n = 86400;
		while (*v == ' ')
			v++;
		return *v == '\0' ? (long)n : -1;
	}
	/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL)
		return -1;
	while (*end == ' ')
		end++;
	if (*end != '\0' || (t = timegm(&tm)) == (time_t)-1)
		return -1;
	if (t <= now)
		return 0;
	return t - now > 86400 ? 86400 : (long)(t - now);
}
