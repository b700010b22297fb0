/*
 * cfgfile.h -- the syntax shared by ctihub.conf and the members file: a
 * tree of statements, each a directive name, its arguments and an optional
 * { block } of nested statements.  Comments run from '#' to the end of the
 * line; arguments are bare words or "quoted strings" (with \" and \\).
 * This module only reads the syntax; conf.c and member.c give it meaning
 * with tables of directives.  Every error is "file:line: message".
 */
#ifndef CTIHUB_CFGFILE_H
#define CTIHUB_CFGFILE_H

#include <stddef.h>
#include <stdint.h>

#define CFG_MAX_FILE  (4 * 1024 * 1024)
#define CFG_MAX_DEPTH 8
#define CFG_MAX_ERRS  50

struct cfg_stmt {
	char *name;
	char **args;
	int nargs;
	int line;
	int has_block;
	struct cfg_stmt *kids;
	int nkids;
};

/* A list of "file:line: message" strings, collected rather than stopping
 * at the first, so an admin sees every mistake in one run. */
struct cfg_errs {
	char *v[CFG_MAX_ERRS];
	int n;
	int dropped;
};

void cfg_errs_add(struct cfg_errs *, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void cfg_errs_clear(struct cfg_errs *);

/*
 * Parses text (n bytes) into a statement tree rooted at `root` (a
 * synthetic block holding the top-level statements).  Returns 0, or -1
 * with the syntax errors added to `errs`.  Caller frees with cfg_free.
 */
int cfg_parse(const char *file, const char *text, size_t n,
    struct cfg_stmt *root, struct cfg_errs *errs);
/* Reads and parses a file; a file that cannot be read is one error. */
int cfg_parse_file(
    const char *file, struct cfg_stmt *root, struct cfg_errs *errs);
void cfg_free(struct cfg_stmt *root);

/* Reads a whole file (at most `max` bytes) into a NUL-terminated heap
 * buffer; caller frees with hub_free.  Sets errno and returns NULL on
 * failure (EFBIG when larger than max). */
char *cfg_slurp(const char *path, size_t max, size_t *len);

/* Value parsers for arguments: return 0, or -1 when malformed. */
int cfg_parse_size(const char *s, uint64_t *out);    /* 10M, 4G, 512k, 1000 */
int cfg_parse_duration(const char *s, int64_t *sec); /* 30s, 15m, 24h, 7d */
int cfg_parse_int(const char *s, long long min, long long max, long long *out);

/* Resolves a relative path against `dir` (the config file's directory);
 * caller frees with hub_free. */
char *cfg_path(const char *dir, const char *path);

#endif
