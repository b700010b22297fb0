/*
 * pattern.c -- the STIX 2.1 patterning language (STIX 2.1 section 9, the
 * STIXPattern.g4 grammar): an on-demand lexer that follows the grammar's
 * longest-match rules, a recursive-descent parser whose only recursion is
 * through brackets and parentheses (bounded by PATTERN_MAX_DEPTH), a tree
 * allocated from one arena per pattern, and the walkers.  Equality values
 * are normalised while parsing, so the walkers never allocate.
 * It does not evaluate patterns against observed data, and it checks no
 * semantics beyond the grammar except that timestamps are real dates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/pattern.h"
#include "ctihub/tstamp.h"

/* Tokens of the grammar.  The order of TK_AND..TK_TIMES is kwtab's. */
enum tk {
	TK_EOF,
	TK_LBRACK,
	TK_RBRACK,
	TK_LPAREN,
	TK_RPAREN,
	TK_COLON,
	TK_DOT,
	TK_COMMA,
	TK_STAR,
	TK_EQ,
	TK_NEQ,
	TK_LT,
	TK_LE,
	TK_GT,
	TK_GE,
	TK_IDENT,	 /* [a-zA-Z_][a-zA-Z0-9_]* */
	TK_IDENT_HYPHEN, /* [a-zA-Z_][a-zA-Z0-9_-]* with a '-' */
	TK_INT,
	TK_FLOAT,
	TK_STRING,
	TK_BOOL,
	TK_HEX,
	TK_BINARY,
	TK_TIMESTAMP,
	TK_AND,
	TK_OR,
	TK_NOT,
	TK_FOLLOWEDBY,
	TK_LIKE,
	TK_MATCHES,
	TK_ISSUPERSET,
	TK_ISSUBSET,
	TK_EXISTS,
	TK_LAST,
	TK_IN,
	TK_START,
	TK_STOP,
	TK_SECONDS,
	TK_WITHIN,
	TK_REPEATS,
	TK_TIMES,
	TK_INVALID, /* a character no token starts with */
};

struct token {
	enum tk kind;
	size_t off;
	size_t len;
	int neg; /* numbers: a leading '-' */
	int esc; /* strings: has \' or \\ */
	int64_t ts;
};

/* Tree. */
enum pn_kind {
	PN_OBS = 1,    /* [ comparison expression ] qualifiers */
	PN_GROUP,      /* ( observation expressions ) qualifiers */
	PN_OBS_AND,    /* list */
	PN_OBS_OR,     /* list */
	PN_FOLLOWEDBY, /* list */
	PN_CMP_AND,    /* list */
	PN_CMP_OR,     /* list */
	PN_CMP,	       /* a comparison */
};

enum pl_kind {
	PL_INT = 1,
	PL_FLOAT,
	PL_STRING,
	PL_BOOL,
	PL_HEX,
	PL_BINARY,
	PL_TIMESTAMP,
};

enum pop {
	POP_EQ = 1,
	POP_NEQ,
	POP_LT,
	POP_LE,
	POP_GT,
	POP_GE,
	POP_IN,
	POP_LIKE,
	POP_MATCHES,
	POP_ISSUBSET,
	POP_ISSUPERSET,
	POP_EXISTS,
};

struct plit {
	int kind;
	const char *s; /* decoded string, or the literal's text; NUL-ended */
	size_t len;
	int64_t ts;	   /* PL_TIMESTAMP */
	struct plit *next; /* in a set */
};

enum ps_kind {
	PS_KEY = 1,
	PS_INDEX,
	PS_STAR,
};

struct pstep {
	int kind;
	const char *key; /* PS_KEY: decoded name; PS_INDEX: digits */
	size_t len;
	int neg;	  /* PS_INDEX */
	const char *hash; /* PS_KEY after "hashes": the algorithm, or NULL */
	struct pstep *next;
};

struct pqual {
	enum tk kind; /* TK_WITHIN, TK_REPEATS or TK_START */
	double seconds;
	uint64_t times;
	int64_t start, stop;
	struct pqual *next;
};

struct pcmp {
	const char *type;
	const char *path; /* canonical text, e.g. hashes.'SHA-256' */
	struct pstep *steps;
	int op;
	int negated;
	struct plit *lit;  /* NULL for EXISTS; a list for IN */
	const char *eqval; /* normalised, for pattern_foreach_eq, or NULL */
	size_t eqlen;
	struct pnode *cmp_next; /* every comparison, in source order */
	int obs;		/* its observation expression: the index of
				   its [...] in source order, from 0 */
};

struct pnode {
	int kind;
	size_t off;
	struct pnode *next; /* sibling in a list */
	union {
		struct pnode *first; /* lists */
		struct {
			struct pnode *expr; /* PN_OBS: comparisons */
			struct pqual *quals;
		} obs;
		struct pcmp cmp;
	} u;
};

struct chunk {
	struct chunk *next;
	max_align_t data[];
};

struct pattern {
	struct pnode *root;
	struct pnode *cmps;
	struct pnode **cmptail;
	struct chunk *chunks; /* beyond the first, which follows this */
	char *cur;	      /* arena */
	size_t left;
	size_t lastcap;
	max_align_t first[];
};

struct parser {
	const char *s;
	size_t n;
	size_t pos; /* where the lexer goes on */
	struct token tok;
	int depth;
	int nobs; /* [...] met so far */
	struct pattern *pat;
	char *err;
	size_t errlen;
};

#define ARENA_ALIGN 8
#define SNIPPET_MAX 40
#define IPV6_BUFLEN 64

static void perr(struct parser *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int expected(struct parser *, const char *);
static void snippet(const char *, size_t, char *, size_t);
static void *arena_alloc(struct pattern *, size_t);
static char *arena_strndup(struct pattern *, const char *, size_t);
static int oom(struct parser *);
static size_t uspace(const unsigned char *, size_t);
static size_t skip_space(const char *, size_t, size_t);
static enum tk keyword(const char *, size_t);
static int is_ident_start(int);
static int is_ident_char(int);
static int is_digit(int);
static int is_hex(int);
static int is_b64(int);
static int lex_string(struct parser *, size_t);
static int lex_prefixed(struct parser *, size_t);
static int lex_number(struct parser *, size_t);
static int lex(struct parser *);
static struct pnode *node_new(struct parser *, int, size_t);
static struct pnode *parse_list(
    struct parser *, enum tk, int, struct pnode *(*)(struct parser *));
static struct pnode *parse_obs_expr(struct parser *);
static struct pnode *parse_obs_or(struct parser *);
static struct pnode *parse_obs_and(struct parser *);
static struct pnode *parse_obs_unit(struct parser *);
static int parse_qualifiers(struct parser *, struct pnode *);
static struct pnode *parse_cmp_or(struct parser *);
static struct pnode *parse_cmp_and(struct parser *);
static struct pnode *parse_cmp_unit(struct parser *);
static int parse_path(struct parser *, struct pcmp *);
static int parse_literal(struct parser *, int, struct plit **);
static int parse_set(struct parser *, struct plit **);
static int parse_op(struct parser *, struct pcmp *);
static char *decode_string(struct parser *, const struct token *, size_t *);
static const char *hash_name(const char *, size_t);
static int needs_quotes(const char *, size_t);
static size_t render_key(char *, const char *, size_t);
static int render_path(struct parser *, struct pcmp *);
static int ipv4_parse(const char *, size_t, uint32_t *);
static size_t ipv6_canon(const char *, size_t, char *);
static void lower_ascii(char *, size_t);
static void lower_url(char *, size_t);
static int normalise_eq(struct parser *, struct pcmp *);

/* Errors. */

static void
perr(struct parser *p, size_t off, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (p->err == NULL || p->errlen == 0)
		return;
	k = snprintf(p->err, p->errlen, "column %zu: ", off + 1);
	if (k < 0 || (size_t)k >= p->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
	va_end(ap);
}

/* Quotes the start of s for an error message: at most SNIPPET_MAX
 * characters, non-printable bytes as \xNN. */
static void
snippet(const char *s, size_t n, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	out[o++] = '"';
	for (i = 0; i < n && o < SNIPPET_MAX && o + 9 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* "column N: expected <what>, found <the current token>"; returns -1. */
static int
expected(struct parser *p, const char *what)
{
	char found[SNIPPET_MAX + 16];

	if (p->tok.kind == TK_EOF)
		snprintf(found, sizeof(found), "end of input");
	else
		snippet(p->s + p->tok.off, p->tok.len, found, sizeof(found));
	perr(p, p->tok.off, "expected %s, found %s", what, found);
	return -1;
}

static int
oom(struct parser *p)
{
	perr(p, p->tok.off, "out of memory");
	return -1;
}

/* Arena: the first chunk comes with the pattern, more are chained. */

static void *
arena_alloc(struct pattern *pat, size_t sz)
{
	struct chunk *c;
	size_t cap;
	void *r;

	sz = (sz + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (sz > pat->left) {
		cap = pat->lastcap * 2;
		if (cap < sz)
			cap = sz;
		if ((c = hub_malloc(sizeof(*c) + cap)) == NULL)
			return NULL;
		c->next = pat->chunks;
		pat->chunks = c;
		pat->cur = (char *)c->data;
		pat->left = cap;
		pat->lastcap = cap;
	}
	r = pat->cur;
	pat->cur += sz;
	pat->left -= sz;
	return r;
}

static char *
arena_strndup(struct pattern *pat, const char *s, size_t n)
{
	char *r;

	if ((r = arena_alloc(pat, n + 1)) == NULL)
		return NULL;
	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

/* Lexer. */

/* Length of the UTF-8 white space (WS of the grammar) at s, or 0. */
static size_t
uspace(const unsigned char *s, size_t n)
{
	if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
		return 2;
	if (n < 3)
		return 0;
	if (s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80)
		return 3;
	if (s[0] == 0xe2 && s[1] == 0x80 &&
	    ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 ||
		s[2] == 0xaf))
		return 3;
	if (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f)
		return 3;
	if (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80)
		return 3;
	return 0;
}

/* Skips white space and comments; an unclosed comment is left as is. */
static size_t
skip_space(const char *s, size_t n, size_t i)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t j, w;

	while (i < n) {
		if (u[i] == ' ' || (u[i] >= '\t' && u[i] <= '\r')) {
			i++;
			continue;
		}
		if (u[i] == '/' && i + 1 < n && u[i + 1] == '*') {
			for (j = i + 2; j + 1 < n; j++)
				if (u[j] == '*' && u[j + 1] == '/')
					break;
			if (j + 1 >= n)
				return i;
			i = j + 2;
			continue;
		}
		if (u[i] == '/' && i + 1 < n && u[i + 1] == '/') {
			for (i += 2; i < n && u[i] != '\n' && u[i] != '\r'; i++)
				;
			continue;
		}
		if (u[i] >= 0xc2 && (w = uspace(u + i, n - i)) != 0) {
			i += w;
			continue;
		}
		break;
	}
	return i;
}

static const struct kw {
	const char *name;
	size_t len;
	enum tk kind;
} kwtab[] = {
    {"AND", 3, TK_AND},
    {"OR", 2, TK_OR},
    {"NOT", 3, TK_NOT},
    {"FOLLOWEDBY", 10, TK_FOLLOWEDBY},
    {"LIKE", 4, TK_LIKE},
    {"MATCHES", 7, TK_MATCHES},
    {"ISSUPERSET", 10, TK_ISSUPERSET},
    {"ISSUBSET", 8, TK_ISSUBSET},
    {"EXISTS", 6, TK_EXISTS},
    {"LAST", 4, TK_LAST},
    {"IN", 2, TK_IN},
    {"START", 5, TK_START},
    {"STOP", 4, TK_STOP},
    {"SECONDS", 7, TK_SECONDS},
    {"WITHIN", 6, TK_WITHIN},
    {"REPEATS", 7, TK_REPEATS},
    {"TIMES", 5, TK_TIMES},
    {"true", 4, TK_BOOL},
    {"false", 5, TK_BOOL},
};

/* Keywords are case-sensitive, as in the grammar. */
static enum tk
keyword(const char *s, size_t n)
{
	size_t i;

	if (n < 2 || n > 10)
		return TK_IDENT;
	for (i = 0; i < sizeof(kwtab) / sizeof(kwtab[0]); i++)
		if (kwtab[i].len == n && kwtab[i].name[0] == s[0] &&
		    memcmp(kwtab[i].name, s, n) == 0)
			return kwtab[i].kind;
	return TK_IDENT;
}

static int
is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int
is_ident_char(int c)
{
	return is_ident_start(c) || is_digit(c) || c == '-';
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
is_b64(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '+' || c == '/';
}

/* 'chars', where a backslash escapes only ' and \. */
static int
lex_string(struct parser *p, size_t i)
{
	const char *s = p->s, *q, *b;
	size_t j = i + 1, n = p->n;
	char buf[SNIPPET_MAX + 16];

	p->tok.kind = TK_STRING;
	p->tok.esc = 0;
	for (q = s + i;;) {
		/* the closing quote, unless a backslash comes first; both
		 * searches only go forward, so the scan stays linear */
		if (q < s + j && (q = memchr(s + j, '\'', n - j)) == NULL)
			q = s + n;
		if ((b = memchr(s + j, '\\', (size_t)(q - (s + j)))) == NULL) {
			if (q == s + n) {
				perr(p, i,
				    "expected a closing ' for this "
				    "string, found end of input");
				return -1;
			}
			j = (size_t)(q - s);
			break;
		}
		j = (size_t)(b - s);
		if (j + 1 < n && (s[j + 1] == '\'' || s[j + 1] == '\\')) {
			p->tok.esc = 1;
			j += 2;
			continue;
		}
		if (j + 1 >= n) {
			perr(p, i,
			    "expected a closing ' for this string, "
			    "found end of input");
			return -1;
		}
		snippet(s + j, 2, buf, sizeof(buf));
		perr(p, j,
		    "expected \\' or \\\\ (the only escapes in a string), "
		    "found %s",
		    buf);
		return -1;
	}
	p->tok.len = j + 1 - i;
	p->pos = j + 1;
	return 0;
}

/* h'hex', b'base64' and t'timestamp' (s[i + 1] is the quote). */
static int
lex_prefixed(struct parser *p, size_t i)
{
	const char *s = p->s;
	size_t j = i + 2, n = p->n, k, pad = 0;
	char c = s[i], buf[SNIPPET_MAX + 16];
	const char *what;

	for (k = j; k < n && s[k] != '\''; k++)
		;
	if (k == n) {
		perr(p, i,
		    "expected a closing ' for this %c'' literal, "
		    "found end of input",
		    c);
		return -1;
	}
	if (c == 'h') {
		what = "an even number of hex digits in h'...'";
		if ((k - j) % 2 != 0)
			goto bad;
		for (; j < k; j++)
			if (!is_hex(s[j]))
				goto bad;
		p->tok.kind = TK_HEX;
	} else if (c == 'b') {
		what = "base64 (groups of 4, '=' padded) in b'...'";
		for (; j < k && is_b64(s[j]); j++)
			;
		for (; j < k && s[j] == '=' && pad < 2; j++)
			pad++;
		if (j != k || k - (i + 2) == 0 || (k - (i + 2)) % 4 != 0)
			goto bad;
		p->tok.kind = TK_BINARY;
	} else {
		static const char shape[] = "dddd-dd-ddTdd:dd:dd";
		size_t m;

		what = "a timestamp t'YYYY-MM-DDThh:mm:ss[.s+]Z'";
		if (k - j < sizeof(shape))
			goto bad;
		for (m = 0; m < sizeof(shape) - 1; m++)
			if (shape[m] == 'd' ? !is_digit(s[j + m])
					    : s[j + m] != shape[m])
				goto bad;
		m = j + sizeof(shape) - 1;
		if (s[m] == '.') {
			if (!is_digit(s[++m]))
				goto bad;
			while (is_digit(s[m]))
				m++;
		}
		if (s[m] != 'Z' || m + 1 != k)
			goto bad;
		what = "a valid date and time in t'...'";
		if (tstamp_parse(s + j, k - j, &p->tok.ts) != TSTAMP_OK)
			goto bad;
		p->tok.kind = TK_TIMESTAMP;
	}
	p->tok.len = k + 1 - i;
	p->pos = k + 1;
	return 0;
bad:
	snippet(s + i, k + 1 - i, buf, sizeof(buf));
	perr(p, i, "expected %s, found %s", what, buf);
	return -1;
}

/* IntPos/IntNeg/FloatPos/FloatNeg, or a lone sign (TK_INVALID). */
static int
lex_number(struct parser *p, size_t i)
{
	const char *s = p->s;
	size_t j = i, n = p->n, d0;
	char buf[SNIPPET_MAX + 16];

	p->tok.neg = 0;
	if (s[j] == '+' || s[j] == '-') {
		p->tok.neg = s[j] == '-';
		j++;
	}
	for (d0 = j; j < n && is_digit(s[j]); j++)
		;
	if (j + 1 < n && s[j] == '.' && is_digit(s[j + 1])) {
		for (j++; j < n && is_digit(s[j]); j++)
			;
		p->tok.kind = TK_FLOAT;
	} else if (j == d0) {
		p->tok.kind = TK_INVALID;
		j = i + 1;
	} else if (s[d0] == '0' && j - d0 > 1) {
		snippet(s + i, j - i, buf, sizeof(buf));
		perr(p, i, "expected a number without leading zeros, found %s",
		    buf);
		return -1;
	} else
		p->tok.kind = TK_INT;
	p->tok.len = j - i;
	p->pos = j;
	return 0;
}

static int
lex(struct parser *p)
{
	const char *s = p->s;
	size_t i, n = p->n, j;
	int c;

	i = skip_space(s, n, p->pos);
	p->tok.off = i;
	p->tok.len = 1;
	p->pos = i + 1;
	if (i >= n) {
		p->tok.kind = TK_EOF;
		p->tok.len = 0;
		p->pos = n;
		return 0;
	}
	c = (unsigned char)s[i];
	switch (c) {
	case '[':
		p->tok.kind = TK_LBRACK;
		return 0;
	case ']':
		p->tok.kind = TK_RBRACK;
		return 0;
	case '(':
		p->tok.kind = TK_LPAREN;
		return 0;
	case ')':
		p->tok.kind = TK_RPAREN;
		return 0;
	case ':':
		p->tok.kind = TK_COLON;
		return 0;
	case ',':
		p->tok.kind = TK_COMMA;
		return 0;
	case '*':
		p->tok.kind = TK_STAR;
		return 0;
	case '=':
		p->tok.kind = TK_EQ;
		if (i + 1 < n && s[i + 1] == '=')
			p->tok.len = 2;
		break;
	case '!':
		p->tok.kind = TK_INVALID;
		if (i + 1 < n && s[i + 1] == '=') {
			p->tok.kind = TK_NEQ;
			p->tok.len = 2;
		}
		break;
	case '<':
		p->tok.kind = TK_LT;
		if (i + 1 < n && s[i + 1] == '=') {
			p->tok.kind = TK_LE;
			p->tok.len = 2;
		} else if (i + 1 < n && s[i + 1] == '>') {
			p->tok.kind = TK_NEQ;
			p->tok.len = 2;
		}
		break;
	case '>':
		p->tok.kind = TK_GT;
		if (i + 1 < n && s[i + 1] == '=') {
			p->tok.kind = TK_GE;
			p->tok.len = 2;
		}
		break;
	case '\'':
		return lex_string(p, i);
	case '.':
		if (i + 1 < n && is_digit(s[i + 1]))
			return lex_number(p, i);
		p->tok.kind = TK_DOT;
		return 0;
	case '+':
	case '-':
		return lex_number(p, i);
	default:
		if (is_digit(c))
			return lex_number(p, i);
		if (!is_ident_start(c)) {
			/* one whole UTF-8 sequence, for the message */
			p->tok.kind = TK_INVALID;
			if (c >= 0xc0)
				while (p->tok.len < 4 && i + p->tok.len < n &&
				    ((unsigned char)s[i + p->tok.len] & 0xc0) ==
					0x80)
					p->tok.len++;
			p->pos = i + p->tok.len;
			return 0;
		}
		if ((c == 'h' || c == 'b' || c == 't') && i + 1 < n &&
		    s[i + 1] == '\'')
			return lex_prefixed(p, i);
		p->tok.kind = TK_IDENT;
		for (j = i + 1; j < n && is_ident_char(s[j]); j++)
			if (s[j] == '-')
				p->tok.kind = TK_IDENT_HYPHEN;
		p->tok.len = j - i;
		p->pos = j;
		if (p->tok.kind == TK_IDENT)
			p->tok.kind = keyword(s + i, j - i);
		return 0;
	}
	p->pos = i + p->tok.len;
	return 0;
}

/* Parser. */

static struct pnode *
node_new(struct parser *p, int kind, size_t off)
{
	struct pnode *nd;

	if ((nd = arena_alloc(p->pat, sizeof(*nd))) == NULL) {
		oom(p);
		return NULL;
	}
	memset(nd, 0, sizeof(*nd));
	nd->kind = kind;
	nd->off = off;
	return nd;
}

/* sub (op sub)*, as one n-ary node: long chains make flat lists. */
static struct pnode *
parse_list(struct parser *p, enum tk op, int kind,
    struct pnode *(*sub)(struct parser *))
{
	struct pnode *first, *nd, *tail, *c;

	if ((first = sub(p)) == NULL)
		return NULL;
	if (p->tok.kind != op)
		return first;
	if ((nd = node_new(p, kind, first->off)) == NULL)
		return NULL;
	nd->u.first = tail = first;
	while (p->tok.kind == op) {
		if (lex(p) != 0 || (c = sub(p)) == NULL)
			return NULL;
		tail->next = c;
		tail = c;
	}
	return nd;
}

static struct pnode *
parse_obs_expr(struct parser *p)
{
	return parse_list(p, TK_FOLLOWEDBY, PN_FOLLOWEDBY, parse_obs_or);
}

static struct pnode *
parse_obs_or(struct parser *p)
{
	return parse_list(p, TK_OR, PN_OBS_OR, parse_obs_and);
}

static struct pnode *
parse_obs_and(struct parser *p)
{
	return parse_list(p, TK_AND, PN_OBS_AND, parse_obs_unit);
}

/* [ comparisons ] or ( observation expressions ), then qualifiers. */
static struct pnode *
parse_obs_unit(struct parser *p)
{
	struct pnode *nd, *e;
	size_t off = p->tok.off;

	if (p->tok.kind != TK_LBRACK && p->tok.kind != TK_LPAREN) {
		expected(p, "'[' or '('");
		return NULL;
	}
	if (++p->depth > PATTERN_MAX_DEPTH) {
		perr(p, off,
		    "expected at most %d nested brackets and "
		    "parentheses",
		    PATTERN_MAX_DEPTH);
		return NULL;
	}
	if (p->tok.kind == TK_LBRACK) {
		p->nobs++;
		if ((nd = node_new(p, PN_OBS, off)) == NULL || lex(p) != 0 ||
		    (nd->u.obs.expr = parse_cmp_or(p)) == NULL)
			return NULL;
		if (p->tok.kind != TK_RBRACK) {
			expected(p, "AND, OR or ']'");
			return NULL;
		}
	} else {
		if (lex(p) != 0 || (nd = parse_obs_expr(p)) == NULL)
			return NULL;
		if (p->tok.kind != TK_RPAREN) {
			expected(p, "AND, OR, FOLLOWEDBY, a qualifier or ')'");
			return NULL;
		}
		/* ([...]) is [...]; anything else gets a node for its
		 * qualifiers */
		if (nd->kind != PN_OBS || nd->u.obs.quals != NULL) {
			if ((e = node_new(p, PN_GROUP, off)) == NULL)
				return NULL;
			e->u.obs.expr = nd;
			nd = e;
		}
	}
	p->depth--;
	if (lex(p) != 0 || parse_qualifiers(p, nd) != 0)
		return NULL;
	return nd;
}

/* WITHIN n SECONDS, REPEATS n TIMES, START t'' STOP t'', any number. */
static int
parse_qualifiers(struct parser *p, struct pnode *nd)
{
	struct pqual *q, **tail;
	size_t i;

	tail = &nd->u.obs.quals; /* a new node: none yet */
	while (p->tok.kind == TK_WITHIN || p->tok.kind == TK_REPEATS ||
	    p->tok.kind == TK_START) {
		if ((q = arena_alloc(p->pat, sizeof(*q))) == NULL)
			return oom(p);
		memset(q, 0, sizeof(*q));
		q->kind = p->tok.kind;
		if (lex(p) != 0)
			return -1;
		if (q->kind == TK_WITHIN) {
			double v = 0, scale = 1;
			int frac = 0;

			if ((p->tok.kind != TK_INT &&
				p->tok.kind != TK_FLOAT) ||
			    p->tok.neg)
				return expected(
				    p, "a positive number of seconds");
			for (i = 0; i < p->tok.len; i++) {
				char c = p->s[p->tok.off + i];

				if (c == '.')
					frac = 1;
				else if (is_digit(c)) {
					if (frac)
						scale /= 10;
					v = v * 10 + (c - '0');
				}
			}
			q->seconds = v * scale;
			if (lex(p) != 0)
				return -1;
			if (p->tok.kind != TK_SECONDS)
				return expected(p, "SECONDS");
		} else if (q->kind == TK_REPEATS) {
			if (p->tok.kind != TK_INT || p->tok.neg)
				return expected(p, "a positive integer");
			for (i = 0; i < p->tok.len; i++) {
				char c = p->s[p->tok.off + i];

				if (is_digit(c) && q->times < UINT64_MAX / 10)
					q->times =
					    q->times * 10 + (uint64_t)(c - '0');
			}
			if (lex(p) != 0)
				return -1;
			if (p->tok.kind != TK_TIMES)
				return expected(p, "TIMES");
		} else {
			if (p->tok.kind != TK_TIMESTAMP)
				return expected(p, "a timestamp t'...'");
			q->start = p->tok.ts;
			if (lex(p) != 0)
				return -1;
			if (p->tok.kind != TK_STOP)
				return expected(p, "STOP");
			if (lex(p) != 0)
				return -1;
			if (p->tok.kind != TK_TIMESTAMP)
				return expected(p, "a timestamp t'...'");
			q->stop = p->tok.ts;
		}
		if (lex(p) != 0)
			return -1;
		*tail = q;
		tail = &q->next;
	}
	return 0;
}

static struct pnode *
parse_cmp_or(struct parser *p)
{
	return parse_list(p, TK_OR, PN_CMP_OR, parse_cmp_and);
}

static struct pnode *
parse_cmp_and(struct parser *p)
{
	return parse_list(p, TK_AND, PN_CMP_AND, parse_cmp_unit);
}

/* ( comparisons ), EXISTS path, or path [NOT] operator literal. */
static struct pnode *
parse_cmp_unit(struct parser *p)
{
	struct pnode *nd;
	size_t off = p->tok.off;

	if (p->tok.kind == TK_LPAREN) {
		if (++p->depth > PATTERN_MAX_DEPTH) {
			perr(p, off,
			    "expected at most %d nested brackets and "
			    "parentheses",
			    PATTERN_MAX_DEPTH);
			return NULL;
		}
		if (lex(p) != 0 || (nd = parse_cmp_or(p)) == NULL)
			return NULL;
		if (p->tok.kind != TK_RPAREN) {
			expected(p, "AND, OR or ')'");
			return NULL;
		}
		p->depth--;
		if (lex(p) != 0)
			return NULL;
		return nd;
	}
	if (p->tok.kind != TK_EXISTS && p->tok.kind != TK_IDENT &&
	    p->tok.kind != TK_IDENT_HYPHEN) {
		expected(p, "an object path, EXISTS or '('");
		return NULL;
	}
	if ((nd = node_new(p, PN_CMP, off)) == NULL)
		return NULL;
	if (p->tok.kind == TK_EXISTS) {
		nd->u.cmp.op = POP_EXISTS;
		if (lex(p) != 0 || parse_path(p, &nd->u.cmp) != 0)
			return NULL;
	} else if (parse_path(p, &nd->u.cmp) != 0 ||
	    parse_op(p, &nd->u.cmp) != 0)
		return NULL;
	nd->u.cmp.obs = p->nobs - 1;
	*p->pat->cmptail = nd;
	p->pat->cmptail = &nd->u.cmp.cmp_next;
	return nd;
}

/* type ':' first ( '.' key | '[' index ']' )* */
static int
parse_path(struct parser *p, struct pcmp *cmp)
{
	struct pstep *st, **tail = &cmp->steps;
	int first = 1;

	if (p->tok.kind != TK_IDENT && p->tok.kind != TK_IDENT_HYPHEN)
		return expected(p, "an object type");
	if ((cmp->type = arena_strndup(
		 p->pat, p->s + p->tok.off, p->tok.len)) == NULL)
		return oom(p);
	if (lex(p) != 0)
		return -1;
	if (p->tok.kind != TK_COLON)
		return expected(p, "':' after the object type");
	if (lex(p) != 0)
		return -1;
	for (;;) {
		int kind;

		if (first || p->tok.kind == TK_DOT) {
			if (!first && lex(p) != 0)
				return -1;
			if (p->tok.kind == TK_IDENT_HYPHEN)
				return expected(p,
				    "a property name (a name "
				    "with '-' must be quoted)");
			if (p->tok.kind != TK_IDENT && p->tok.kind != TK_STRING)
				return expected(p, "a property name");
			kind = PS_KEY;
		} else if (p->tok.kind == TK_LBRACK) {
			if (lex(p) != 0)
				return -1;
			if (p->tok.kind != TK_INT && p->tok.kind != TK_STAR)
				return expected(p, "an integer index or '*'");
			kind = p->tok.kind == TK_STAR ? PS_STAR : PS_INDEX;
		} else
			break;
		if ((st = arena_alloc(p->pat, sizeof(*st))) == NULL)
			return oom(p);
		memset(st, 0, sizeof(*st));
		st->kind = kind;
		if (kind == PS_KEY && p->tok.kind == TK_STRING) {
			if ((st->key = decode_string(p, &p->tok, &st->len)) ==
			    NULL)
				return oom(p);
		} else if (kind == PS_KEY) {
			st->key = p->s + p->tok.off;
			st->len = p->tok.len;
		} else if (kind == PS_INDEX) {
			st->key = p->s + p->tok.off;
			st->len = p->tok.len;
			if (*st->key == '+' || *st->key == '-') {
				st->neg = *st->key == '-';
				st->key++;
				st->len--;
			}
			if (st->len == 1 && *st->key == '0')
				st->neg = 0;
		}
		if (lex(p) != 0)
			return -1;
		if (kind != PS_KEY) {
			if (p->tok.kind != TK_RBRACK)
				return expected(p, "']'");
			if (lex(p) != 0)
				return -1;
		}
		*tail = st;
		tail = &st->next;
		first = 0;
	}
	return render_path(p, cmp);
}

/* [NOT] operator literal */
static int
parse_op(struct parser *p, struct pcmp *cmp)
{
	if (p->tok.kind == TK_NOT) {
		cmp->negated = 1;
		if (lex(p) != 0)
			return -1;
	}
	switch (p->tok.kind) {
	case TK_EQ:
		cmp->op = POP_EQ;
		break;
	case TK_NEQ:
		cmp->op = POP_NEQ;
		break;
	case TK_LT:
		cmp->op = POP_LT;
		break;
	case TK_LE:
		cmp->op = POP_LE;
		break;
	case TK_GT:
		cmp->op = POP_GT;
		break;
	case TK_GE:
		cmp->op = POP_GE;
		break;
	case TK_IN:
		cmp->op = POP_IN;
		break;
	case TK_LIKE:
		cmp->op = POP_LIKE;
		break;
	case TK_MATCHES:
		cmp->op = POP_MATCHES;
		break;
	case TK_ISSUBSET:
		cmp->op = POP_ISSUBSET;
		break;
	case TK_ISSUPERSET:
		cmp->op = POP_ISSUPERSET;
		break;
	default:
		return expected(p,
		    cmp->negated ? "a comparison operator after NOT"
				 : "a comparison operator");
	}
	if (lex(p) != 0)
		return -1;
	switch (cmp->op) {
	case POP_EQ:
	case POP_NEQ:
		if (parse_literal(p, 1, &cmp->lit) != 0)
			return -1;
		break;
	case POP_LT:
	case POP_LE:
	case POP_GT:
	case POP_GE:
		if (parse_literal(p, 0, &cmp->lit) != 0)
			return -1;
		break;
	case POP_IN:
		if (parse_set(p, &cmp->lit) != 0)
			return -1;
		break;
	default:
		if (p->tok.kind != TK_STRING)
			return expected(p, "a string");
		if (parse_literal(p, 0, &cmp->lit) != 0)
			return -1;
	}
	if (cmp->op == POP_EQ && !cmp->negated && cmp->lit->kind == PL_STRING)
		return normalise_eq(p, cmp);
	if (cmp->op == POP_EQ && !cmp->negated && cmp->lit->kind == PL_INT) {
		/* an integer as written (autonomous-system:number = 15169):
		 * the observable walkers decide which paths they index */
		cmp->eqval = cmp->lit->s;
		cmp->eqlen = cmp->lit->len;
	}
	return 0;
}

/* A primitive literal (bool allowed) or an orderable one. */
static int
parse_literal(struct parser *p, int boolok, struct plit **lp)
{
	struct plit *l;

	switch (p->tok.kind) {
	case TK_INT:
	case TK_FLOAT:
	case TK_STRING:
	case TK_HEX:
	case TK_BINARY:
	case TK_TIMESTAMP:
		break;
	case TK_BOOL:
		if (boolok)
			break;
		/* FALLTHROUGH */
	default:
		return expected(p,
		    boolok ? "a literal"
			   : "a number, string, h'', b'' or "
			     "t'' literal");
	}
	if ((l = arena_alloc(p->pat, sizeof(*l))) == NULL)
		return oom(p);
	memset(l, 0, sizeof(*l));
	switch (p->tok.kind) {
	case TK_INT:
		l->kind = PL_INT;
		break;
	case TK_FLOAT:
		l->kind = PL_FLOAT;
		break;
	case TK_STRING:
		l->kind = PL_STRING;
		break;
	case TK_BOOL:
		l->kind = PL_BOOL;
		break;
	case TK_HEX:
		l->kind = PL_HEX;
		break;
	case TK_BINARY:
		l->kind = PL_BINARY;
		break;
	default:
		l->kind = PL_TIMESTAMP;
		l->ts = p->tok.ts;
		break;
	}
	if (l->kind == PL_STRING)
		l->s = decode_string(p, &p->tok, &l->len);
	else if (l->kind == PL_HEX || l->kind == PL_BINARY ||
	    l->kind == PL_TIMESTAMP) {
		l->len = p->tok.len - 3;
		l->s = arena_strndup(p->pat, p->s + p->tok.off + 2, l->len);
	} else {
		l->len = p->tok.len;
		l->s = arena_strndup(p->pat, p->s + p->tok.off, l->len);
	}
	if (l->s == NULL)
		return oom(p);
	*lp = l;
	return lex(p);
}

/* ( ) or ( literal (, literal)* ) */
static int
parse_set(struct parser *p, struct plit **lp)
{
	if (p->tok.kind != TK_LPAREN)
		return expected(p, "'(' to open a set");
	if (lex(p) != 0)
		return -1;
	if (p->tok.kind == TK_RPAREN)
		return lex(p);
	for (;;) {
		if (parse_literal(p, 1, lp) != 0)
			return -1;
		lp = &(*lp)->next;
		if (p->tok.kind == TK_RPAREN)
			return lex(p);
		if (p->tok.kind != TK_COMMA)
			return expected(p, "',' or ')'");
		if (lex(p) != 0)
			return -1;
	}
}

/* The string literal's contents with \' and \\ undone, NUL-ended. */
static char *
decode_string(struct parser *p, const struct token *t, size_t *lenp)
{
	const char *s = p->s + t->off + 1;
	size_t n = t->len - 2, i, o;
	char *r;

	if (!t->esc) {
		*lenp = n;
		return arena_strndup(p->pat, s, n);
	}
	if ((r = arena_alloc(p->pat, n + 1)) == NULL)
		return NULL;
	for (i = o = 0; i < n; i++) {
		if (s[i] == '\\')
			i++;
		r[o++] = s[i];
	}
	r[o] = '\0';
	*lenp = o;
	return r;
}

/* Normalisation. */

static const struct hashname {
	const char *squashed; /* upper case, no '-' or '_' */
	size_t len;
	const char *name; /* hash-algorithm-ov spelling */
} hashtab[] = {
    {"MD5", 3, "MD5"},
    {"MD6", 3, "MD6"},
    {"SHA1", 4, "SHA-1"},
    {"SHA224", 6, "SHA-224"},
    {"SHA256", 6, "SHA-256"},
    {"SHA384", 6, "SHA-384"},
    {"SHA512", 6, "SHA-512"},
    {"SHA3224", 7, "SHA3-224"},
    {"SHA3256", 7, "SHA3-256"},
    {"SHA3384", 7, "SHA3-384"},
    {"SHA3512", 7, "SHA3-512"},
    {"SSDEEP", 6, "SSDEEP"},
    {"TLSH", 4, "TLSH"},
    {"RIPEMD160", 9, "RIPEMD-160"},
    {"WHIRLPOOL", 9, "WHIRLPOOL"},
};

/* The canonical name of a hash algorithm however spelled, or NULL. */
static const char *
hash_name(const char *s, size_t n)
{
	char sq[16];
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '-' || c == '_')
			continue;
		if (k == sizeof(sq) - 1)
			return NULL;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		sq[k++] = c;
	}
	for (i = 0; i < sizeof(hashtab) / sizeof(hashtab[0]); i++)
		if (hashtab[i].len == k &&
		    memcmp(hashtab[i].squashed, sq, k) == 0)
			return hashtab[i].name;
	return NULL;
}

/* Whether a property name must be written 'quoted' to parse back. */
static int
needs_quotes(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !is_ident_start((unsigned char)s[0]))
		return 1;
	for (i = 1; i < n; i++)
		if (!is_ident_start((unsigned char)s[i]) && !is_digit(s[i]))
			return 1;
	return keyword(s, n) != TK_IDENT;
}

/* Writes the key (at most 2 * n + 2 bytes) to out if not NULL; returns
 * its length. */
static size_t
render_key(char *out, const char *s, size_t n)
{
	size_t i, o = 0;

	if (!needs_quotes(s, n)) {
		if (out != NULL)
			memcpy(out, s, n);
		return n;
	}
	if (out != NULL)
		out[o] = '\'';
	o++;
	for (i = 0; i < n; i++) {
		if (s[i] == '\'' || s[i] == '\\') {
			if (out != NULL)
				out[o] = '\\';
			o++;
		}
		if (out != NULL)
			out[o] = s[i];
		o++;
	}
	if (out != NULL)
		out[o] = '\'';
	return o + 1;
}

/* The path as text, hash names canonical: name.sub[*].x or hashes.MD5. */
static int
render_path(struct parser *p, struct pcmp *cmp)
{
	struct pstep *st, *prev;
	size_t len, o;
	char *out;
	int pass;

	for (pass = 0, out = NULL, len = 0; pass < 2; pass++) {
		o = 0;
		for (prev = NULL, st = cmp->steps; st != NULL;
		     prev = st, st = st->next) {
			const char *k = st->key;
			size_t kn = st->len;

			if (st->kind != PS_KEY) {
				if (out != NULL)
					out[o] = '[';
				o++;
				if (st->kind == PS_STAR) {
					if (out != NULL)
						out[o] = '*';
					o++;
				} else {
					if (st->neg && out != NULL)
						out[o] = '-';
					o += (size_t)st->neg;
					if (out != NULL)
						memcpy(out + o, k, kn);
					o += kn;
				}
				if (out != NULL)
					out[o] = ']';
				o++;
				continue;
			}
			if (pass == 0 && prev != NULL && prev->kind == PS_KEY &&
			    prev->len == 6 &&
			    memcmp(prev->key, "hashes", 6) == 0)
				st->hash = hash_name(k, kn);
			if (st->hash != NULL) {
				k = st->hash;
				kn = strlen(k);
			}
			if (prev != NULL) {
				if (out != NULL)
					out[o] = '.';
				o++;
			}
			o += render_key(out != NULL ? out + o : NULL, k, kn);
		}
		if (pass == 0) {
			len = o;
			if ((out = arena_alloc(p->pat, len + 1)) == NULL)
				return oom(p);
		}
	}
	out[len] = '\0';
	cmp->path = out;
	return 0;
}

static int
ipv4_parse(const char *s, size_t n, uint32_t *a)
{
	size_t i = 0;
	int part;

	*a = 0;
	for (part = 0; part < 4; part++) {
		unsigned v = 0, nd = 0;

		if (part > 0) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
		while (i < n && is_digit(s[i]) && nd < 4) {
			v = v * 10 + (unsigned)(s[i++] - '0');
			nd++;
		}
		if (nd == 0 || nd > 3 || v > 255)
			return -1;
		*a = *a << 8 | v;
	}
	return i == n ? 0 : -1;
}

/*
 * Writes the RFC 5952 text of the IPv6 address in s[0..n), with its
 * "/prefix" if any, to out (IPV6_BUFLEN bytes); returns the length, or 0
 * when s is not an IPv6 address.
 */
static size_t
ipv6_canon(const char *s, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint16_t g[8];
	const char *slash;
	size_t i = 0, end = n, o = 0;
	int ng = 0, dc = -1, k, best = -1, bestlen = 1, prefix = -1;

	if ((slash = memchr(s, '/', n)) != NULL) {
		end = (size_t)(slash - s);
		if (n - end < 2 || n - end > 4)
			return 0;
		for (prefix = 0, i = end + 1; i < n; i++) {
			if (!is_digit(s[i]))
				return 0;
			prefix = prefix * 10 + (s[i] - '0');
		}
		if (prefix > 128)
			return 0;
		i = 0;
	}
	if (end < 2)
		return 0;
	if (s[0] == ':') {
		if (s[1] != ':')
			return 0;
		dc = 0;
		i = 2;
	}
	while (i < end) {
		size_t st = i;
		unsigned v = 0, nd = 0;

		if (ng == 8)
			return 0;
		for (; i < end && nd < 5 && is_hex(s[i]); i++, nd++)
			v = v * 16 +
			    (unsigned)(is_digit(s[i])
				    ? s[i] - '0'
				    : (s[i] | 0x20) - 'a' + 10);
		if (i < end && s[i] == '.') {
			uint32_t a;

			if (ng > 6 || ipv4_parse(s + st, end - st, &a) != 0)
				return 0;
			g[ng++] = (uint16_t)(a >> 16);
			g[ng++] = (uint16_t)(a & 0xffff);
			break;
		}
		if (nd == 0 || nd > 4)
			return 0;
		g[ng++] = (uint16_t)v;
		if (i == end)
			break;
		if (s[i] != ':')
			return 0;
		if (++i < end && s[i] == ':') {
			if (dc >= 0)
				return 0;
			dc = ng;
			i++;
		} else if (i == end)
			return 0;
	}
	if (dc < 0 && ng != 8)
		return 0;
	if (dc >= 0) {
		int gap;

		if (ng > 7)
			return 0;
		gap = 8 - ng;
		for (k = ng - 1; k >= dc; k--)
			g[k + gap] = g[k];
		for (k = dc; k < dc + gap; k++)
			g[k] = 0;
	}
	/* the longest run of two or more zero groups, the first if tied */
	for (k = 0; k < 8;) {
		int r = 0;

		while (k + r < 8 && g[k + r] == 0)
			r++;
		if (r > bestlen) {
			best = k;
			bestlen = r;
		}
		k += r > 0 ? r : 1;
	}
	if (best == 0 && bestlen == 5 && g[5] == 0xffff) {
		/* IPv4-mapped: ::ffff:192.0.2.1 (RFC 5952 section 5) */
		o = (size_t)snprintf(out, IPV6_BUFLEN, "::ffff:%u.%u.%u.%u",
		    g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff);
	} else {
		for (k = 0; k < 8; k++) {
			int shift, started = 0;

			if (k == best) {
				out[o++] = ':';
				if (k == 0)
					out[o++] = ':';
				k += bestlen - 1;
				continue;
			}
			for (shift = 12; shift >= 0; shift -= 4) {
				unsigned d = (g[k] >> shift) & 15;

				if (d != 0 || started || shift == 0) {
					out[o++] = hex[d];
					started = 1;
				}
			}
			if (k < 7)
				out[o++] = ':';
		}
	}
	if (prefix >= 0)
		o += (size_t)snprintf(out + o, IPV6_BUFLEN - o, "/%d", prefix);
	return o;
}

static void
lower_ascii(char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
}

/* Lower-cases a URL's scheme and host, the parts that ignore case. */
static void
lower_url(char *s, size_t n)
{
	size_t i, a, e, h;

	for (i = 0; i < n &&
	     (is_ident_start((unsigned char)s[i]) || is_digit(s[i]) ||
		 s[i] == '+' || s[i] == '.' || s[i] == '-');
	     i++)
		;
	if (i == 0 || i + 3 > n || memcmp(s + i, "://", 3) != 0)
		return;
	lower_ascii(s, i);
	a = i + 3;
	for (e = a; e < n && s[e] != '/' && s[e] != '?' && s[e] != '#'; e++)
		;
	for (h = e; h > a && s[h - 1] != '@'; h--)
		;
	for (i = h; i < e; i++) {
		if (s[i] == '[') {
			for (; i < e && s[i] != ']'; i++)
				if (s[i] >= 'A' && s[i] <= 'Z')
					s[i] = (char)(s[i] - 'A' + 'a');
			continue;
		}
		if (s[i] == ':')
			break;
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
	}
}

enum norm {
	NORM_NONE,
	NORM_LOWER,
	NORM_HASH,     /* a known hex hash: lower case */
	NORM_HASH_HEX, /* an unknown hash: lower case if all hex */
	NORM_IPV6,
	NORM_URL,
	NORM_REF, /* x_ref.value: IPv6, or lower case if address-like */
};

/* Sets cmp->eqval to the value as matched across producers. */
static int
normalise_eq(struct parser *p, struct pcmp *cmp)
{
	struct pstep *st, *last = NULL, *prev = NULL, *pprev = NULL;
	const char *v = cmp->lit->s, *t = cmp->type;
	size_t n = cmp->lit->len, i, nsteps = 0;
	enum norm how = NORM_NONE;
	char buf[IPV6_BUFLEN], *r;

	for (st = cmp->steps; st != NULL; st = st->next) {
		pprev = prev;
		prev = last;
		last = st;
		nsteps++;
	}
	if (last != NULL && last->kind == PS_KEY) {
		if (prev != NULL && prev->kind == PS_KEY && prev->len == 6 &&
		    memcmp(prev->key, "hashes", 6) == 0) {
			if (last->hash == NULL)
				how = NORM_HASH_HEX;
			else if (strcmp(last->hash, "SSDEEP") != 0) /* base64 */
				how = NORM_HASH;
		} else if (last->len == 5 &&
		    memcmp(last->key, "value", 5) == 0) {
			if (nsteps == 1) {
				if (strcmp(t, "domain-name") == 0 ||
				    strcmp(t, "email-addr") == 0 ||
				    strcmp(t, "mac-addr") == 0)
					how = NORM_LOWER;
				else if (strcmp(t, "ipv6-addr") == 0)
					how = NORM_IPV6;
				else if (strcmp(t, "url") == 0)
					how = NORM_URL;
			} else if (prev->kind == PS_KEY && prev->len > 4 &&
			    memcmp(prev->key + prev->len - 4, "_ref", 4) == 0)
				how = NORM_REF;
			else if (prev->kind != PS_KEY && pprev != NULL &&
			    pprev->kind == PS_KEY && pprev->len > 5 &&
			    memcmp(pprev->key + pprev->len - 5, "_refs", 5) ==
				0)
				how = NORM_REF;
		}
	}
	cmp->eqval = v;
	cmp->eqlen = n;
	if (how == NORM_IPV6 || how == NORM_REF) {
		size_t k = ipv6_canon(v, n, buf);

		if (k != 0) {
			if ((r = arena_strndup(p->pat, buf, k)) == NULL)
				return oom(p);
			cmp->eqval = r;
			cmp->eqlen = k;
			return 0;
		}
		if (how == NORM_IPV6)
			return 0;
		/* a domain, e-mail or MAC address; IPv4 has no letters */
		if (memchr(v, '@', n) == NULL)
			for (i = 0; i < n; i++)
				if (!is_ident_char((unsigned char)v[i]) &&
				    v[i] != '.' && v[i] != ':')
					return 0;
		how = NORM_LOWER;
	}
	if (how == NORM_HASH_HEX) {
		for (i = 0; i < n; i++)
			if (!is_hex(v[i]))
				return 0;
		how = NORM_HASH;
	}
	if (how == NORM_NONE)
		return 0;
	/* copy only when something changes; most values are lower case */
	for (i = 0; i < n && !(v[i] >= 'A' && v[i] <= 'Z'); i++)
		;
	if (i == n)
		return 0;
	if ((r = arena_strndup(p->pat, v, n)) == NULL)
		return oom(p);
	if (how == NORM_URL)
		lower_url(r, n);
	else
		lower_ascii(r, n);
	cmp->eqval = r;
	return 0;
}

/* API. */

struct pattern *
pattern_parse(const char *s, size_t n, char *err, size_t errlen)
{
	struct parser p;
	struct pattern *pat;
	size_t cap;

	memset(&p, 0, sizeof(p));
	p.s = s;
	p.n = n;
	p.err = err;
	p.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (n > PATTERN_MAX_LEN) {
		perr(&p, PATTERN_MAX_LEN, "expected at most %d bytes",
		    PATTERN_MAX_LEN);
		return NULL;
	}
	if (s == NULL && n > 0) {
		perr(&p, 0, "expected a pattern, found a NULL pointer");
		return NULL;
	}
	cap = (512 + 6 * n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if ((pat = hub_malloc(sizeof(*pat) + cap)) == NULL) {
		oom(&p);
		return NULL;
	}
	pat->root = NULL;
	pat->cmps = NULL;
	pat->cmptail = &pat->cmps;
	pat->chunks = NULL;
	pat->cur = (char *)pat->first;
	pat->left = cap;
	pat->lastcap = cap;
	p.pat = pat;
	if (lex(&p) != 0 || (pat->root = parse_obs_expr(&p)) == NULL)
		goto fail;
	if (p.tok.kind != TK_EOF) {
		expected(
		    &p, "AND, OR, FOLLOWEDBY, a qualifier or end of input");
		goto fail;
	}
	return pat;
fail:
	pattern_free(pat);
	return NULL;
}

void
pattern_free(struct pattern *pat)
{
	struct chunk *c, *next;

	if (pat == NULL)
		return;
	for (c = pat->chunks; c != NULL; c = next) {
		next = c->next;
		hub_free(c);
	}
	hub_free(pat);
}

int
pattern_check(const char *s, size_t n, char *err, size_t errlen)
{
	struct pattern *pat;

	if ((pat = pattern_parse(s, n, err, errlen)) == NULL)
		return -1;
	pattern_free(pat);
	return 0;
}

/* pattern_foreach_eq's callback, called by pattern_foreach_eq_obs. */
struct eq_plain {
	pattern_eq_cb *cb;
	void *arg;
};

static int
eq_plain(int obs, const char *type, const char *path, const char *value,
    size_t vlen, void *arg)
{
	const struct eq_plain *p = arg;

	(void)obs;
	return p->cb(type, path, value, vlen, p->arg);
}

int
pattern_foreach_eq(const struct pattern *pat, pattern_eq_cb *cb, void *arg)
{
	struct eq_plain p = {cb, arg};

	return pattern_foreach_eq_obs(pat, eq_plain, &p);
}

int
pattern_foreach_eq_obs(
    const struct pattern *pat, pattern_eq_obs_cb *cb, void *arg)
{
	const struct pnode *nd;
	int r;

	if (pat == NULL)
		return 0;
	for (nd = pat->cmps; nd != NULL; nd = nd->u.cmp.cmp_next)
		if (nd->u.cmp.eqval != NULL &&
		    (r = cb(nd->u.cmp.obs, nd->u.cmp.type, nd->u.cmp.path,
			 nd->u.cmp.eqval, nd->u.cmp.eqlen, arg)) != 0)
			return r;
	return 0;
}

int
pattern_foreach_type(const struct pattern *pat, pattern_eq_cb *cb, void *arg)
{
	const struct pnode *nd;
	int r;

	if (pat == NULL)
		return 0;
	for (nd = pat->cmps; nd != NULL; nd = nd->u.cmp.cmp_next)
		if ((r = cb(nd->u.cmp.type, nd->u.cmp.path, NULL, 0, arg)) != 0)
			return r;
	return 0;
}
