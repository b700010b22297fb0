/*
 * push_state.c -- the record of a push subscription's state in the
 * database (table `subs`): version 1, little-endian, fixed fields and the
 * last error's text.  Shared by the daemon and `ctihub push`.
 */
#include <stdio.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/store.h"
#include "ctihub/tstamp.h"

#include "push.h"
#include "writer.h"

#define PUSH_STATE_V1 1

static unsigned char *
put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

size_t
push_state_encode(const struct push_state *s, unsigned char *out)
{
	unsigned char *p = out;
	size_t n = strnlen(s->err, PUSH_ERR_MAX - 1);

	*p++ = PUSH_STATE_V1;
	p = put64(p, (uint64_t)s->cursor);
	p = put64(p, (uint64_t)s->last_ok);
	p = put64(p, (uint64_t)s->last_attempt);
	p = put64(p, (uint64_t)s->first_fail);
	p = put64(p, (uint64_t)s->next_retry);
	p = put64(p, s->verified);
	p = put64(p, s->delivered);
	p[0] = (unsigned char)s->attempts;
	p[1] = (unsigned char)(s->attempts >> 8);
	p[2] = (unsigned char)(s->attempts >> 16);
	p[3] = (unsigned char)(s->attempts >> 24);
	p += 4;
	*p++ = (unsigned char)s->suspended;
	*p++ = (unsigned char)n;
	*p++ = (unsigned char)(n >> 8);
	memcpy(p, s->err, n);
	return (size_t)(p - out) + n;
}

int
push_state_decode(const void *v, size_t len, struct push_state *s)
{
	const unsigned char *p = v;
	size_t n, fixed = 1 + 7 * 8 + 4 + 1 + 2;

	memset(s, 0, sizeof(*s));
	if (len < fixed || p[0] != PUSH_STATE_V1)
		return -1;
	p++;
	s->cursor = (int64_t)get64(p);
	s->last_ok = (int64_t)get64(p + 8);
	s->last_attempt = (int64_t)get64(p + 16);
	s->first_fail = (int64_t)get64(p + 24);
	s->next_retry = (int64_t)get64(p + 32);
	s->verified = get64(p + 40);
	s->delivered = get64(p + 48);
	p += 56;
	s->attempts = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	p += 4;
	s->suspended = *p++;
	n = (size_t)p[0] | (size_t)p[1] << 8;
	p += 2;
	if (n >= PUSH_ERR_MAX || len != fixed + n || s->suspended > PUSH_GONE)
		return -1;
	memcpy(s->err, p, n);
	s->err[n] = '\0';
	return 0;
}

void
push_state_key(const char *sub, const char *coll, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", sub, coll);
}

int
push_state_get(struct store_reader *r, const char *key, struct push_state *ps)
{
	const void *v;
	size_t len;

	memset(ps, 0, sizeof(*ps));
	if (store_sub_get(r, key, &v, &len) != STORE_OK)
		return 0;
	return push_state_decode(v, len, ps) == 0 ? 1 : -1;
}

int
push_state_msg(struct wmsg *m, const char *key, const struct push_state *ps)
{
	unsigned char rec[PUSH_STATE_MAX];
	size_t n = push_state_encode(ps, rec);

	wmsg_init(m, WMSG_SUB);
	snprintf(m->u.sub.name, sizeof(m->u.sub.name), "%s", key);
	if ((m->u.sub.val = hub_malloc(n)) == NULL)
		return -1;
	memcpy(m->u.sub.val, rec, n);
	m->u.sub.len = n;
	return 0;
}

void
push_lag(struct store_reader *r, uint32_t coll, int64_t cursor, int64_t max,
    int64_t *n, int64_t *secs)
{
	struct store_item it;
	int64_t first = 0;

	*n = *secs = 0;
	if (store_walk_start(r, coll, cursor) != STORE_OK)
		return;
	while (*n < max && store_walk_next(r, &it) == 1) {
		if (*n == 0)
			first = it.date_added;
		(*n)++;
	}
	if (*n > 0)
		*secs = (tstamp_now() - first) / 1000000;
}
