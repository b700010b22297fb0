/*
 * export.c -- the pure parts of blocklist exports (export.h): file names,
 * text and CSV lines, the set of values written.  The walk of the
 * collection, the policy and the transport are hub/taxii_export.c's.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "ctihub/alloc.h"
#include "ctihub/export.h"
#include "ctihub/observable.h"
#include "ctihub/tstamp.h"

int
export_parse_name(const char *name, int *type, int *format)
{
	const char *dot = strrchr(name, '.');
	char tname[32];
	size_t n;

	if (dot == NULL || (n = (size_t)(dot - name)) == 0 ||
	    n >= sizeof(tname))
		return -1;
	if (strcmp(dot, ".txt") == 0)
		*format = EXPORT_TXT;
	else if (strcmp(dot, ".csv") == 0)
		*format = EXPORT_CSV;
	else
		return -1;
	memcpy(tname, name, n);
	tname[n] = '\0';
	if (strcmp(tname, "all") == 0)
		*type = OBS_NONE;
	else if ((*type = obs_type_from_name(tname)) == OBS_NONE)
		return -1;
	return 0;
}

void
export_csv_header(struct buf *b)
{
	buf_adds(b, "value,type,tlp,confidence,first_seen,producer\r\n");
}

void
export_csv_field(struct buf *b, const char *s, size_t n)
{
	int formula = n > 0 && strchr("=+-@\t\r", s[0]) != NULL;
	size_t i, from;

	if (!formula && memchr(s, ',', n) == NULL &&
	    memchr(s, '"', n) == NULL && memchr(s, '\r', n) == NULL &&
	    memchr(s, '\n', n) == NULL) {
		buf_add(b, s, n);
		return;
	}
	buf_adds(b, formula ? "\"'" : "\"");
	for (i = from = 0; i < n; i++)
		if (s[i] == '"') {
			buf_add(b, s + from, i + 1 - from);
			buf_addc(b, '"');
			from = i + 1;
		}
	buf_add(b, s + from, n - from);
	buf_addc(b, '"');
}

void
export_csv_line(struct buf *b, const struct export_row *r)
{
	char ts[TSTAMP_LEN];

	export_csv_field(b, r->value, r->valuelen);
	buf_addc(b, ',');
	export_csv_field(b, r->type, strlen(r->type));
	buf_addc(b, ',');
	export_csv_field(b, r->tlp, strlen(r->tlp));
	buf_addc(b, ',');
	if (r->confidence >= 0)
		buf_addf(b, "%d", r->confidence);
	buf_addc(b, ',');
	tstamp_format(r->first_seen, 6, ts);
	buf_adds(b, ts);
	buf_addc(b, ',');
	export_csv_field(b, r->producer, r->producerlen);
	buf_adds(b, "\r\n");
}

int
export_txt_line(struct buf *b, const char *value, size_t n)
{
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)value[i] < 0x20 ||
		    (unsigned char)value[i] == 0x7f)
			return -1;
	buf_add(b, value, n);
	buf_addc(b, '\n');
	return 0;
}

/* The q of a coding's parameters p[0..n) (";q=0.5"): 0 for q=0,
 * q=0.0..., else 1. */
static int
coding_q(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		while (i < n && (p[i] == ';' || p[i] == ' ' || p[i] == '\t'))
			i++;
		if (n - i >= 2 && (p[i] == 'q' || p[i] == 'Q') &&
		    p[i + 1] == '=') {
			for (i += 2; i < n && (p[i] == '0' || p[i] == '.'); i++)
				;
			return i < n && p[i] >= '1' && p[i] <= '9';
		}
		while (i < n && p[i] != ';')
			i++;
	}
	return 1;
}

int
export_accepts_gzip(const char *ae)
{
	int gzip = -1, star = 0;
	size_t n, name;

	if (ae == NULL)
		return 0;
	while (*ae != '\0') {
		ae += strspn(ae, " \t,");
		n = strcspn(ae, ",");
		name = strcspn(ae, "; \t");
		if (name > n)
			name = n;
		if ((name == 4 && strncasecmp(ae, "gzip", 4) == 0) ||
		    (name == 6 && strncasecmp(ae, "x-gzip", 6) == 0))
			gzip = coding_q(ae + name, n - name);
		else if (name == 1 && ae[0] == '*')
			star = coding_q(ae + name, n - name);
		ae += n;
	}
	return gzip == -1 ? star : gzip;
}

/* --- SipHash-2-4 (Aumasson and Bernstein), little-endian words --- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = ROTL(v1, 13);                                             \
		v1 ^= v0;                                                      \
		v0 = ROTL(v0, 32);                                             \
		v2 += v3;                                                      \
		v3 = ROTL(v3, 16);                                             \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = ROTL(v3, 21);                                             \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = ROTL(v1, 17);                                             \
		v1 ^= v2;                                                      \
		v2 = ROTL(v2, 32);                                             \
	} while (0)

static uint64_t
le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t
export_siphash(uint64_t k0, uint64_t k1, const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t m, last = (uint64_t)n << 56;
	size_t i, tail = n & 7;

	for (i = 0; i + 8 <= n; i += 8) {
		m = le64(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	while (tail > 0) {
		tail--;
		last |= (uint64_t)p[i + tail] << (8 * tail);
	}
	v3 ^= last;
	SIPROUND;
	SIPROUND;
	v0 ^= last;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* --- the set of values written --- */

void
export_set_init(struct export_set *s, size_t max, const unsigned char key[16])
{
	memset(s, 0, sizeof(*s));
	s->max = max;
	s->k0 = le64(key);
	s->k1 = le64(key + 8);
}

void
export_set_clear(struct export_set *s)
{
	hub_free(s->slot);
	s->slot = NULL;
	s->cap = s->n = 0;
}

static void
set_put(uint64_t *slot, size_t cap, uint64_t h)
{
	size_t i = (size_t)h & (cap - 1);

	while (slot[i] != 0)
		i = (i + 1) & (cap - 1);
	slot[i] = h;
}

static int
set_grow(struct export_set *s)
{
	size_t cap = s->cap == 0 ? 1024 : s->cap * 2, i;
	uint64_t *slot;

	if (cap / 2 > SIZE_MAX / 16 ||
	    (slot = hub_calloc(cap, sizeof(*slot))) == NULL)
		return -1;
	for (i = 0; i < s->cap; i++)
		if (s->slot[i] != 0)
			set_put(slot, cap, s->slot[i]);
	hub_free(s->slot);
	s->slot = slot;
	s->cap = cap;
	return 0;
}

uint64_t
export_set_hash(const struct export_set *s, const void *p, size_t n)
{
	uint64_t h = export_siphash(s->k0, s->k1, p, n);

	return h == 0 ? 1 : h; /* 0 marks an empty slot */
}

void
export_set_prefetch(const struct export_set *s, uint64_t h)
{
	if (s->cap > 0)
		__builtin_prefetch(&s->slot[(size_t)h & (s->cap - 1)]);
}

int
export_set_add(struct export_set *s, const void *p, size_t n)
{
	return export_set_add_hash(s, export_set_hash(s, p, n));
}

int
export_set_add_hash(struct export_set *s, uint64_t h)
{
	size_t i;

	if (s->cap > 0)
		for (i = (size_t)h & (s->cap - 1); s->slot[i] != 0;
		     i = (i + 1) & (s->cap - 1))
			if (s->slot[i] == h)
				return 0;
	if (s->n >= s->max)
		return -1;
	if ((s->n + 1) * 2 > s->cap && set_grow(s) == -1)
		return -1;
	set_put(s->slot, s->cap, h);
	s->n++;
	return 1;
}

/* --- lines through the set --- */

void
export_pipe_init(struct export_pipe *p, struct export_set *set)
{
	memset(p, 0, sizeof(*p));
	p->set = set;
	buf_init(&p->pend);
}

void
export_pipe_clear(struct export_pipe *p)
{
	buf_clear(&p->pend);
	p->head = p->n = 0;
	p->done = 0;
}

size_t
export_pipe_start(struct export_pipe *p)
{
	return p->pend.len;
}

/* The oldest pending line: out, unless its value was written before. */
static void
pipe_pop(struct export_pipe *p, struct buf *out)
{
	int k = p->head;
	int rc = export_set_add_hash(p->set, p->ring[k].h);

	if (rc != 0) {
		buf_add(out, p->pend.data + p->ring[k].off, p->ring[k].len);
		p->written++;
		p->overflow += rc == -1;
	}
	p->done = p->ring[k].off + p->ring[k].len;
	p->head = (p->head + 1) % EXPORT_LAG;
	p->n--;
}

void
export_pipe_push(struct export_pipe *p, size_t start, const void *v, size_t n,
    struct buf *out)
{
	uint64_t h = export_set_hash(p->set, v, n);
	int k, i;

	if (p->n == EXPORT_LAG)
		pipe_pop(p, out);
	/* what left is dropped from the front of pend once it is large */
	if (p->done >= 4096) {
		memmove(p->pend.data, p->pend.data + p->done,
		    p->pend.len - p->done);
		p->pend.len -= p->done;
		start -= p->done;
		for (i = 0; i < p->n; i++)
			p->ring[(p->head + i) % EXPORT_LAG].off -= p->done;
		p->done = 0;
	}
	k = (p->head + p->n) % EXPORT_LAG;
	p->ring[k].h = h;
	p->ring[k].off = start;
	p->ring[k].len = p->pend.len - start;
	p->n++;
	export_set_prefetch(p->set, h);
}

void
export_pipe_flush(struct export_pipe *p, struct buf *out)
{
	while (p->n > 0)
		pipe_pop(p, out);
	buf_reset(&p->pend);
	p->done = 0;
}

size_t
export_pipe_pending(const struct export_pipe *p)
{
	return p->pend.len - p->done;
}
