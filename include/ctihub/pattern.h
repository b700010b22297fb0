/*
 * pattern.h -- the STIX 2.1 patterning language: a parser of the complete
 * grammar (comparison and observation expressions, AND/OR/FOLLOWEDBY,
 * the qualifiers WITHIN, REPEATS and START/STOP, every comparison operator
 * and literal type) that builds a small tree, and walkers over it for
 * validation and indexing.  Reads untrusted input: bounded in length and
 * nesting, never recursive without a depth limit.
 */
#ifndef CTIHUB_PATTERN_H
#define CTIHUB_PATTERN_H

#include <stddef.h>

#define PATTERN_MAX_LEN	  (256 * 1024)
#define PATTERN_MAX_DEPTH 64
#define PATTERN_ERRLEN	  160 /* room for any message of pattern_parse */

/*
 * Notes on the functions below.  The grammar is STIXPattern.g4 of STIX 2.1
 * (keywords case-sensitive, EXISTS, ISSUBSET, ISSUPERSET, h'', b'', t'',
 * white space and comments anywhere between tokens); besides the grammar
 * only timestamps are checked, as real dates.  PATTERN_MAX_DEPTH counts
 * brackets and parentheses open at once; chains of AND, OR, FOLLOWEDBY and
 * qualifiers may be as long as PATTERN_MAX_LEN allows.  In messages, N is
 * the 1-based byte offset in `s` (patterns are mostly one line), and the
 * token found is quoted in double quotes, e.g.
 * "column 14: expected a literal, found \"]\"".
 * Both walkers report comparisons in source order, with the object type as
 * written and the path in one canonical spelling: names that are plain
 * identifiers unquoted, others in single quotes ('windows-pebinary-ext'),
 * hash names after "hashes" as in hash-algorithm-ov (hashes.MD5,
 * hashes.'SHA-256'), indexes as [0], [-1] and [*].  pattern_foreach_type
 * passes that path too.  Equality values are unescaped.  Hash values are
 * lower-cased, except SSDEEP ones and, for algorithms it does not know,
 * values that are not hex.  Values of domain-name, email-addr and mac-addr,
 * and those behind *_ref.value and *_refs[i].value that look like
 * addresses, are lower-cased.  IPv6 addresses (with an optional /prefix)
 * become RFC 5952 text; url values get a lower-case scheme and host; IPv4
 * addresses and everything else are kept as written.
 */

struct pattern;

/*
 * Parses the pattern `s` (n bytes, need not be NUL-terminated).  On
 * success returns the tree (caller frees with pattern_free).  On failure
 * returns NULL and writes "column N: <what was expected>" into err.
 */
struct pattern *pattern_parse(
    const char *s, size_t n, char *err, size_t errlen);
void pattern_free(struct pattern *);

/* Parses and frees: 0 if `s` is a valid pattern, -1 (err filled) if not. */
int pattern_check(const char *s, size_t n, char *err, size_t errlen);

/*
 * Calls `cb` for every comparison of the form `type:path = 'string'` or
 * `type:path = integer` (operator "=", not negated; an integer as
 * written), with a string's value normalised
 * for matching: domain names, e-mail addresses and hash values in lower
 * case, IPv6 addresses in their canonical RFC 5952 text, hash names such as
 * 'SHA-256', SHA256 and sha256 spelled one way (hashes.'SHA-256').  Stops
 * and returns the callback's value when it is nonzero; returns 0 otherwise.
 * Strings are borrowed for the duration of the call.
 */
typedef int pattern_eq_cb(const char *type, const char *path, const char *value,
    size_t vlen, void *arg);
int pattern_foreach_eq(const struct pattern *, pattern_eq_cb *, void *arg);

/* The same, with the index of the comparison's observation expression
 * (its [...] among the pattern's, in source order, from 0): the
 * comparisons of one [...] are about one observed object. */
typedef int pattern_eq_obs_cb(int obs, const char *type, const char *path,
    const char *value, size_t vlen, void *arg);
int pattern_foreach_eq_obs(
    const struct pattern *, pattern_eq_obs_cb *, void *arg);

/* Calls `cb` with the object type of every comparison (value NULL). */
int pattern_foreach_type(const struct pattern *, pattern_eq_cb *, void *arg);

#endif
