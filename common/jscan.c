/*
 * jscan.c -- a skimming JSON structure checker and splitter (see jscan.h).
 * Iterative, with an explicit stack of container kinds, so hostile nesting
 * costs memory proportional to JSCAN_HARD_DEPTH at most and no recursion.
 * The only allocation is the list of top-level keys (one offset each),
 * sorted to find a key given twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/jscan.h"

struct skim {
	const char *p;
	size_t n;
	size_t i;
	const char *what; /* the error, when one was found */
	int ws;		  /* whitespace was skipped */
};

static int skim_value(struct skim *, int *maxdepth);

static void
ws(struct skim *s)
{
	while (s->i < s->n) {
		char c = s->p[s->i];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		s->i++;
		s->ws = 1;
	}
}

/* A string starting at s->i ('"'); leaves s->i after the closing quote. */
static int
skim_string(struct skim *s)
{
	size_t i = s->i + 1;
	const char *p = s->p;

	for (;;) {
		/* the common case: a run of plain bytes */
		while (i < s->n && p[i] != '"' && p[i] != '\\' &&
		    (unsigned char)p[i] >= 0x20)
			i++;
		if (i >= s->n) {
			s->i = i;
			s->what = "unterminated string";
			return -1;
		}
		if (p[i] == '"')
			break;
		if ((unsigned char)p[i] < 0x20) {
			s->i = i;
			s->what = "control character in a string";
			return -1;
		}
		/* backslash */
		if (i + 1 >= s->n) {
			s->i = i;
			s->what = "unterminated string";
			return -1;
		}
		switch (p[i + 1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			i += 2;
			break;
		case 'u': {
			int k;

			for (k = 2; k < 6; k++) {
				char c = i + (size_t)k < s->n ? p[i + k] : 0;

				if (!((c >= '0' && c <= '9') ||
					(c >= 'a' && c <= 'f') ||
					(c >= 'A' && c <= 'F'))) {
					s->i = i;
					s->what = "invalid \\u escape";
					return -1;
				}
			}
			i += 6;
			break;
		}
		default:
			s->i = i;
			s->what = "invalid escape in a string";
			return -1;
		}
	}
	s->i = i + 1;
	return 0;
}

static int
skim_number(struct skim *s)
{
	size_t i = s->i, start;
	const char *p = s->p;

	if (i < s->n && p[i] == '-')
		i++;
	if (i < s->n && p[i] == '0')
		i++;
	else if (i < s->n && p[i] >= '1' && p[i] <= '9')
		while (i < s->n && p[i] >= '0' && p[i] <= '9')
			i++;
	else
		goto bad;
	if (i < s->n && p[i] == '.') {
		start = ++i;
		while (i < s->n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == start)
			goto bad;
	}
	if (i < s->n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < s->n && (p[i] == '+' || p[i] == '-'))
			i++;
		start = i;
		while (i < s->n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == start)
			goto bad;
	}
	s->i = i;
	return 0;
bad:
	s->i = i;
	s->what = "invalid number";
	return -1;
}

static int
skim_literal(struct skim *s, const char *lit)
{
	size_t l = strlen(lit);

	if (s->n - s->i < l || memcmp(s->p + s->i, lit, l) != 0) {
		s->what = "invalid literal (expected a value)";
		return -1;
	}
	s->i += l;
	return 0;
}

/*
 * Skims one value at s->i.  *maxdepth gets the deepest nesting inside it.
 * Containers are walked with an explicit stack: a bit per level,
 * 1 = object, 0 = array.
 */
static int
skim_value(struct skim *s, int *maxdepth)
{
	static _Thread_local unsigned char stack[JSCAN_HARD_DEPTH / 8 + 1];
	int depth = 0;
	char c;

	*maxdepth = 0;
	for (;;) {
		/* a value */
		ws(s);
		if (s->i >= s->n) {
			s->what = "unexpected end of input (expected a value)";
			return -1;
		}
		c = s->p[s->i];
		if (c == '{' || c == '[') {
			if (depth == JSCAN_HARD_DEPTH) {
				s->what = "nesting too deep";
				return -1;
			}
			if (c == '{')
				stack[depth / 8] |=
				    (unsigned char)(1 << (depth % 8));
			else
				stack[depth / 8] &=
				    (unsigned char)~(1 << (depth % 8));
			depth++;
			if (depth > *maxdepth)
				*maxdepth = depth;
			s->i++;
			ws(s);
			if (s->i < s->n &&
			    s->p[s->i] == (c == '{' ? '}' : ']')) {
				s->i++;
				depth--;
				goto after_value;
			}
			if (c == '{')
				goto key;
			continue;
		} else if (c == '"') {
			if (skim_string(s) == -1)
				return -1;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			if (skim_number(s) == -1)
				return -1;
		} else if (c == 't') {
			if (skim_literal(s, "true") == -1)
				return -1;
		} else if (c == 'f') {
			if (skim_literal(s, "false") == -1)
				return -1;
		} else if (c == 'n') {
			if (skim_literal(s, "null") == -1)
				return -1;
		} else {
			s->what = "unexpected character (expected a value)";
			return -1;
		}
	after_value:
		for (;;) {
			int is_obj;

			if (depth == 0)
				return 0;
			ws(s);
			if (s->i >= s->n) {
				s->what = "unexpected end of input";
				return -1;
			}
			is_obj =
			    stack[(depth - 1) / 8] >> ((depth - 1) % 8) & 1;
			c = s->p[s->i];
			if (c == ',') {
				s->i++;
				if (is_obj)
					goto key;
				break; /* next array element */
			}
			if (c == (is_obj ? '}' : ']')) {
				s->i++;
				depth--;
				continue;
			}
			s->what = is_obj ? "expected ',' or '}'"
					 : "expected ',' or ']'";
			return -1;
		}
		continue;
	key:
		ws(s);
		if (s->i >= s->n || s->p[s->i] != '"') {
			s->what = "expected a string key";
			return -1;
		}
		if (skim_string(s) == -1)
			return -1;
		ws(s);
		if (s->i >= s->n || s->p[s->i] != ':') {
			s->what = "expected ':' after a key";
			return -1;
		}
		s->i++;
	}
}

/* An array at s->i, element by element; counts the elements. */
static int
skim_array(struct skim *s, size_t *count)
{
	int depth;

	s->i++; /* '[' */
	ws(s);
	if (s->i < s->n && s->p[s->i] == ']') {
		s->i++;
		return 0;
	}
	for (;;) {
		if (skim_value(s, &depth) == -1)
			return -1;
		(*count)++;
		ws(s);
		if (s->i < s->n && s->p[s->i] == ',') {
			s->i++;
			continue;
		}
		if (s->i < s->n && s->p[s->i] == ']') {
			s->i++;
			return 0;
		}
		s->what = s->i < s->n ? "expected ',' or ']'"
				      : "unexpected end of input";
		return -1;
	}
}

void
jscan_linecol(const char *p, size_t off, int *line, int *col)
{
	size_t i, bol = 0;

	*line = 1;
	for (i = 0; i < off; i++)
		if (p[i] == '\n') {
			(*line)++;
			bol = i + 1;
		}
	*col = (int)(off - bol) + 1;
}

static void
fail(const struct skim *s, char *err, size_t errlen)
{
	int line, col;

	jscan_linecol(s->p, s->i < s->n ? s->i : s->n, &line, &col);
	snprintf(err, errlen, "line %d, column %d: %s", line, col, s->what);
}

/* Copies a short string value (without its quotes) into out when it has
 * no escapes and fits; "" otherwise. */
static void
short_string(const char *p, size_t start, size_t end, char *out, size_t len)
{
	size_t n = end - start - 2;

	out[0] = '\0';
	if (n + 1 > len || memchr(p + start + 1, '\\', n) != NULL)
		return;
	memcpy(out, p + start + 1, n);
	out[n] = '\0';
}

/* The decoded bytes of a checked JSON string, one at a time: keys are
 * compared as Jansson would store them ("a" and "\u0061" are the same). */
struct jstr {
	const char *p; /* after the opening quote */
	unsigned char pend[4];
	int npend, ipend;
};

static unsigned
hex4(const char *p)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v = v << 4 |
		    (unsigned)(c <= '9' ? c - '0'
			    : c <= 'F'	? c - 'A' + 10
					: c - 'a' + 10);
	}
	return v;
}

/* The next byte, or -1 at the closing quote. */
static int
jstr_next(struct jstr *s)
{
	unsigned cp, lo;
	char c;

	if (s->ipend < s->npend)
		return s->pend[s->ipend++];
	if ((c = *s->p) == '"')
		return -1;
	s->p++;
	if (c != '\\')
		return (unsigned char)c;
	c = *s->p++;
	switch (c) {
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'u':
		break;
	default: /* '"', '\\', '/' */
		return (unsigned char)c;
	}
	cp = hex4(s->p);
	s->p += 4;
	if (cp >= 0xd800 && cp < 0xdc00 && s->p[0] == '\\' && s->p[1] == 'u' &&
	    (lo = hex4(s->p + 2)) >= 0xdc00 && lo < 0xe000) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		s->p += 6;
	}
	s->ipend = 1;
	if (cp < 0x80) {
		s->npend = 1;
		s->pend[0] = (unsigned char)cp;
	} else if (cp < 0x800) {
		s->npend = 2;
		s->pend[0] = (unsigned char)(0xc0 | cp >> 6);
		s->pend[1] = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		s->npend = 3;
		s->pend[0] = (unsigned char)(0xe0 | cp >> 12);
		s->pend[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		s->pend[2] = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		s->npend = 4;
		s->pend[0] = (unsigned char)(0xf0 | cp >> 18);
		s->pend[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		s->pend[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		s->pend[3] = (unsigned char)(0x80 | (cp & 0x3f));
	}
	return s->pend[0];
}

/* Orders two keys (offsets of their opening quotes) by decoded bytes. */
static int
key_cmp(const void *a, const void *b, void *arg)
{
	const char *p = arg;
	struct jstr x = {p + *(const size_t *)a + 1, {0}, 0, 0};
	struct jstr y = {p + *(const size_t *)b + 1, {0}, 0, 0};
	int cx, cy;

	do {
		cx = jstr_next(&x);
		cy = jstr_next(&y);
	} while (cx == cy && cx != -1);
	return cx < cy ? -1 : cx > cy;
}

/* The list of top-level keys: a few on the stack, more on the heap. */
struct keys {
	size_t *v;
	size_t n, cap;
	size_t small[16];
};

static int
keys_add(struct keys *k, size_t off)
{
	if (k->n == k->cap) {
		size_t cap = k->cap * 2, *v;

		if (k->v == k->small) {
			if ((v = hub_calloc(cap, sizeof(*v))) != NULL)
				memcpy(v, k->small, sizeof(k->small));
		} else
			v = hub_realloc(k->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n++] = off;
	return 0;
}

/* A key given twice: s->i at its second occurrence, s->what naming it. */
static int
keys_unique(struct skim *s, struct keys *k, char *what, size_t len)
{
	size_t i, off, klen;

	if (k->n < 2)
		return 0;
	qsort_r(k->v, k->n, sizeof(*k->v), key_cmp, (void *)(uintptr_t)s->p);
	for (i = 1; i < k->n; i++) {
		if (key_cmp(&k->v[i - 1], &k->v[i], (void *)(uintptr_t)s->p))
			continue;
		off = k->v[i - 1] > k->v[i] ? k->v[i - 1] : k->v[i];
		s->i = off;
		/* the key as written, up to its closing quote */
		s->i++;
		skim_string(s);
		klen = s->i - off;
		s->i = off;
		snprintf(what, len, "duplicate key %.*s%s",
		    (int)(klen > 64 ? 64 : klen), s->p + off,
		    klen > 64 ? "...\"" : "");
		s->what = what;
		return -1;
	}
	return 0;
}

int
jscan_doc(
    const char *p, size_t n, struct jscan_doc *doc, char *err, size_t errlen)
{
	struct skim s = {p, n, 0, NULL, 0};
	struct keys keys;
	char dup[96];
	int depth, rc = -1;

	memset(doc, 0, sizeof(*doc));
	keys.v = keys.small;
	keys.n = 0;
	keys.cap = sizeof(keys.small) / sizeof(keys.small[0]);
	ws(&s);
	if (s.i >= n || p[s.i] != '{') {
		s.what = s.i >= n ? "empty body (expected a JSON object)"
				  : "expected a JSON object";
		fail(&s, err, errlen);
		return -1;
	}
	s.i++;
	ws(&s);
	if (s.i < n && p[s.i] == '}') {
		s.i++;
		goto end;
	}
	for (;;) {
		size_t kstart, kend, vstart;

		ws(&s);
		if (s.i >= n || p[s.i] != '"') {
			s.what = "expected a string key";
			goto bad;
		}
		kstart = s.i;
		if (skim_string(&s) == -1)
			goto bad;
		kend = s.i;
		if (keys_add(&keys, kstart) == -1) {
			s.what = "out of memory";
			rc = -2;
			goto bad;
		}
		ws(&s);
		if (s.i >= n || p[s.i] != ':') {
			s.what = "expected ':' after a key";
			goto bad;
		}
		s.i++;
		ws(&s);
		vstart = s.i;
		if (kend - kstart == 9 &&
		    memcmp(p + kstart, "\"objects\"", 9) == 0 && vstart < n) {
			doc->has_objects = 1;
			doc->objects_is_array = p[vstart] == '[';
			doc->objects_off = vstart;
			if (doc->objects_is_array) {
				/* element by element, counting them */
				if (skim_array(&s, &doc->nobjects) == -1)
					goto bad;
				goto next;
			}
		}
		if (skim_value(&s, &depth) == -1)
			goto bad;
		if (p[vstart] == '"') {
			if (kend - kstart == 6 &&
			    memcmp(p + kstart, "\"type\"", 6) == 0)
				short_string(p, vstart, s.i, doc->type,
				    sizeof(doc->type));
			else if (kend - kstart == 14 &&
			    memcmp(p + kstart, "\"spec_version\"", 14) == 0)
				short_string(p, vstart, s.i, doc->spec_version,
				    sizeof(doc->spec_version));
		}
	next:
		ws(&s);
		if (s.i < n && p[s.i] == ',') {
			s.i++;
			continue;
		}
		if (s.i < n && p[s.i] == '}') {
			s.i++;
			break;
		}
		s.what = "expected ',' or '}'";
		goto bad;
	}
end:
	ws(&s);
	if (s.i != n) {
		s.what = "text after the end of the JSON object";
		goto bad;
	}
	if (keys_unique(&s, &keys, dup, sizeof(dup)) == -1)
		goto bad;
	rc = 0;
	goto out;
bad:
	fail(&s, err, errlen);
out:
	if (keys.v != keys.small)
		hub_free(keys.v);
	return rc;
}

void
jscan_iter_init(
    struct jscan_iter *it, const char *p, size_t n, const struct jscan_doc *doc)
{
	it->p = p;
	it->n = n;
	it->pos = doc->objects_off + 1;
	it->done = !(doc->has_objects && doc->objects_is_array);
}

int
jscan_iter_next(struct jscan_iter *it, struct jscan_span *sp)
{
	struct skim s = {it->p, it->n, it->pos, NULL, 0};

	if (it->done)
		return 0;
	ws(&s);
	if (s.i < s.n && it->p[s.i] == ',') {
		s.i++;
		ws(&s);
	}
	if (s.i >= s.n || it->p[s.i] == ']') {
		it->done = 1;
		return 0;
	}
	sp->off = s.i;
	sp->is_object = it->p[s.i] == '{';
	s.ws = 0;
	/* the document was checked: this cannot fail */
	if (skim_value(&s, &sp->depth) == -1) {
		it->done = 1;
		return 0;
	}
	sp->len = s.i - sp->off;
	sp->compact = !s.ws;
	it->pos = s.i;
	return 1;
}

size_t
jscan_minify(const char *in, size_t n, char *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		char c = in[i];

		if (c == '"') {
			size_t start = i++;

			while (i < n && in[i] != '"')
				i += in[i] == '\\' ? 2 : 1;
			i++;
			if (i > n)
				i = n;
			memcpy(out + o, in + start, i - start);
			o += i - start;
			continue;
		}
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			out[o++] = c;
		i++;
	}
	return o;
}
