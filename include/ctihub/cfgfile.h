/*
 * cfgfile.h -- the syntax shared by ctihub.conf and the members file: a
 * tree of statements, each a directive name, its arguments and an optional
 * { block } of nested statements.  Comments run from '#' to the end of the
 * line; arguments are bare words or "quoted strings" (with \" and \\).
 * This module only reads the syntax; conf.c and member.c give it meaning
 * with tables of directives.  Every error is "file:line: message", every
 * warning "file:line: warning: message".
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

/* How serious a finding is: an error keeps the file out; a warning (a
 * rule that is redundant or has no effect) is reported and the file is
 * used all the same. */
enum cfg_sev {
	CFG_ERROR,
	CFG_WARNING,
};

/*
 * The findings of a parse, "file:line: message" (errors) and "file:line:
 * warning: message" (warnings), collected rather than stopping at the
 * first, so an admin sees every mistake in one run.  sev[i] is the enum
 * cfg_sev of v[i].  A parser that succeeds may still leave warnings here:
 * the caller clears the list either way.  When it is full, an error takes
 * the place of the last warning kept, so warnings never hide an error.
 */
struct cfg_errs {
	char *v[CFG_MAX_ERRS];
	unsigned char sev[CFG_MAX_ERRS];
	int n;
	int dropped;  /* errors not kept */
	int wdropped; /* warnings not kept */
};

/* Adds one finding of severity `sev` (enum cfg_sev) at file:line (line
 * 0: the file as a whole). */
void cfg_errs_addsev(struct cfg_errs *, int sev, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define cfg_errs_add(e, file, line, ...)                                       \
	cfg_errs_addsev((e), CFG_ERROR, (file), (line), __VA_ARGS__)
#define cfg_warn_add(e, file, line, ...)                                       \
	cfg_errs_addsev((e), CFG_WARNING, (file), (line), __VA_ARGS__)
void cfg_errs_clear(struct cfg_errs *);
/* How many findings of severity `sev` there were, kept or dropped. */
int cfg_errs_count(const struct cfg_errs *, int sev);

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
/*
 * Parses text (n bytes), or the file itself when text is NULL, hands the
 * tree to `build` and frees it: build's value, or -1 when the syntax is
 * wrong or the file cannot be read (the errors in `errs`).  The one
 * parse-build-free of every configuration file.
 */
typedef int cfg_build_cb(const char *file, const struct cfg_stmt *root,
    void *arg, struct cfg_errs *errs);
int cfg_build(const char *file, const char *text, size_t n, cfg_build_cb *build,
    void *arg, struct cfg_errs *errs);

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

/* Checks shared by the files that name credentials and URLs
 * (subscription.c, feedconf.c).  Each reports what is wrong as an error
 * at file:line in errs and returns NULL (or 0); *oom is set instead when
 * memory ran out. */

/* Resolves `path` against `dir` and checks it is a regular file that can
 * be read; a `secret` one readable by everyone is a warning.  The path
 * (caller frees) or NULL. */
char *cfg_file_check(struct cfg_errs *, const char *file, int line,
    const char *dir, const char *path, int secret, int *oom);
/* The first line of a secret file (password, token) checked as above, of
 * at most `max` bytes in all, without its line end and trailing blanks:
 * caller wipes (explicit_bzero) and frees; NULL when unreadable or
 * empty. */
char *cfg_read_secret(struct cfg_errs *, const char *file, int line,
    const char *dir, const char *path, size_t max, int *oom);

/* Where a block gave its outbound credential directives (0: not given). */
struct cfg_creds_at {
	int user, password_file; /* Basic */
	int token_file;		 /* Bearer */
	int cert, key;		 /* a client certificate */
};
/* Checks they make at most one kind of credentials, each pair complete,
 * reporting at their lines.  0, or -1 when something was reported. */
int cfg_check_creds(
    struct cfg_errs *, const char *file, const struct cfg_creds_at *);

/* 1 to max - 1 of [A-Za-z0-9._-] (names of subscriptions, feeds). */
int cfg_name_valid(const char *s, size_t max);
/* https://host[:port][/path][?query] of printable ASCII, without user
 * information or fragment, a port 1-65535: 1, else 0. */
int cfg_https_url_ok(const char *url);
/* Such a URL whose path ends in /collections/<id>/, without a query (a
 * TAXII collection): 1, else 0. */
int cfg_taxii_coll_url_ok(const char *url);

#endif
