/*
 * cfgfile.c -- reads the statement-tree syntax of ctihub.conf and the
 * members file.  A hand-written lexer of a dozen lines of grammar; it
 * knows no directive, only words, strings, braces and newlines.  Also
 * the list of findings (errors and warnings) every parser reports into,
 * and the checks of values several files share (names, https URLs, the
 * files holding secrets).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctihub/alloc.h"
#include "ctihub/buf.h"
#include "ctihub/cfgfile.h"

struct lexer {
	const char *file;
	const char *p, *end;
	int line;
	struct cfg_errs *errs;
	int failed;
};

enum tok {
	T_EOF,
	T_WORD,
	T_LBRACE,
	T_RBRACE,
	T_EOL,
	T_ERR,
};

static void errs_drop(struct cfg_errs *, int);
static int lex(struct lexer *, struct buf *);
static int parse_block(
    struct lexer *, struct cfg_stmt *, int depth, int open_line);
static int add_kid(struct cfg_stmt *, struct cfg_stmt **);

static void
errs_drop(struct cfg_errs *e, int sev)
{
	if (sev == CFG_WARNING)
		e->wdropped++;
	else
		e->dropped++;
}

void
cfg_errs_addsev(struct cfg_errs *e, int sev, const char *file, int line,
    const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	char msg[512];
	int i;

	if (e->n >= CFG_MAX_ERRS) {
		/* full: an error takes the place of the last warning */
		for (i = e->n - 1; sev == CFG_ERROR && i >= 0; i--)
			if (e->sev[i] == CFG_WARNING)
				break;
		if (sev == CFG_WARNING || i < 0) {
			errs_drop(e, sev);
			return;
		}
		hub_free(e->v[i]);
		memmove(&e->v[i], &e->v[i + 1],
		    sizeof(e->v[0]) * (size_t)(e->n - i - 1));
		memmove(&e->sev[i], &e->sev[i + 1], (size_t)(e->n - i - 1));
		e->n--;
		e->wdropped++;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		buf_addf(&b, "%s:%d: %s%s", file, line,
		    sev == CFG_WARNING ? "warning: " : "", msg);
	else
		buf_addf(&b, "%s: %s%s", file,
		    sev == CFG_WARNING ? "warning: " : "", msg);
	if (buf_failed(&b)) {
		errs_drop(e, sev);
		buf_clear(&b);
		return;
	}
	e->sev[e->n] = (unsigned char)sev;
	e->v[e->n++] = buf_detach(&b, NULL);
}

void
cfg_errs_clear(struct cfg_errs *e)
{
	int i;

	for (i = 0; i < e->n; i++)
		hub_free(e->v[i]);
	memset(e, 0, sizeof(*e));
}

int
cfg_errs_count(const struct cfg_errs *e, int sev)
{
	int i, n = sev == CFG_WARNING ? e->wdropped : e->dropped;

	for (i = 0; i < e->n; i++)
		if (e->sev[i] == sev)
			n++;
	return n;
}

static int
is_word_char(char c)
{
	return c != '\0' && c != ' ' && c != '\t' && c != '\r' && c != '\n' &&
	    c != '#' && c != '{' && c != '}' && c != '"' && c != ';';
}

/* Returns the next token; words and strings land in `out`. */
static int
lex(struct lexer *lx, struct buf *out)
{
	buf_reset(out);
	for (;;) {
		if (lx->p >= lx->end)
			return T_EOF;
		if (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r') {
			lx->p++;
			continue;
		}
		if (*lx->p == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
			continue;
		}
		break;
	}
	switch (*lx->p) {
	case '\n':
		lx->p++;
		lx->line++;
		return T_EOL;
	case ';':
		lx->p++;
		return T_EOL;
	case '{':
		lx->p++;
		return T_LBRACE;
	case '}':
		lx->p++;
		return T_RBRACE;
	case '"':
		lx->p++;
		while (lx->p < lx->end && *lx->p != '"') {
			if (*lx->p == '\n' || *lx->p == '\0') {
				cfg_errs_add(lx->errs, lx->file, lx->line,
				    "unterminated quoted string");
				return T_ERR;
			}
			if (*lx->p == '\\' && lx->p + 1 < lx->end &&
			    (lx->p[1] == '"' || lx->p[1] == '\\'))
				lx->p++;
			buf_addc(out, *lx->p++);
		}
		if (lx->p >= lx->end) {
			cfg_errs_add(lx->errs, lx->file, lx->line,
			    "unterminated quoted string");
			return T_ERR;
		}
		lx->p++;
		buf_cstr(out);
		return buf_failed(out) ? T_ERR : T_WORD;
	case '\0':
		cfg_errs_add(lx->errs, lx->file, lx->line,
		    "NUL byte in configuration text");
		return T_ERR;
	default:
		while (lx->p < lx->end && is_word_char(*lx->p))
			buf_addc(out, *lx->p++);
		buf_cstr(out);
		return buf_failed(out) ? T_ERR : T_WORD;
	}
}

static int
add_kid(struct cfg_stmt *parent, struct cfg_stmt **kid)
{
	struct cfg_stmt *v;

	v = hub_realloc(parent->kids, sizeof(*v) * (size_t)(parent->nkids + 1));
	if (v == NULL)
		return -1;
	parent->kids = v;
	*kid = &v[parent->nkids++];
	memset(*kid, 0, sizeof(**kid));
	return 0;
}

static int
add_arg(struct cfg_stmt *st, const char *s)
{
	char **v;

	v = hub_realloc(st->args, sizeof(*v) * (size_t)(st->nargs + 1));
	if (v == NULL)
		return -1;
	st->args = v;
	if ((v[st->nargs] = hub_strdup(s)) == NULL)
		return -1;
	st->nargs++;
	return 0;
}

/* Skips to the end of the line after an error, to report the next one. */
static void
skip_line(struct lexer *lx)
{
	while (lx->p < lx->end && *lx->p != '\n')
		lx->p++;
}

static int
parse_block(struct lexer *lx, struct cfg_stmt *blk, int depth, int open_line)
{
	struct buf tok = BUF_INIT;
	struct cfg_stmt *st = NULL;
	int t, rc = 0;

	for (;;) {
		t = lex(lx, &tok);
		if (t == T_ERR) {
			lx->failed = 1;
			if (buf_failed(&tok)) {
				rc = -1;
				break;
			}
			skip_line(lx);
			st = NULL;
			continue;
		}
		if (t == T_EOF) {
			if (depth > 0) {
				cfg_errs_add(lx->errs, lx->file, open_line,
				    "block opened here is never closed "
				    "(missing '}')");
				lx->failed = 1;
			}
			break;
		}
		if (t == T_EOL) {
			st = NULL;
			continue;
		}
		if (t == T_RBRACE) {
			if (depth == 0) {
				cfg_errs_add(lx->errs, lx->file, lx->line,
				    "'}' without a block to close");
				lx->failed = 1;
				continue;
			}
			break;
		}
		if (t == T_LBRACE) {
			if (st == NULL) {
				cfg_errs_add(lx->errs, lx->file, lx->line,
				    "'{' must follow a directive on the "
				    "same line");
				lx->failed = 1;
				st = NULL;
				if (add_kid(blk, &st) == -1) {
					rc = -1;
					break;
				}
				st->line = lx->line;
				if ((st->name = hub_strdup("")) == NULL) {
					rc = -1;
					break;
				}
			}
			if (depth + 1 >= CFG_MAX_DEPTH) {
				cfg_errs_add(lx->errs, lx->file, lx->line,
				    "blocks nested too deeply");
				lx->failed = 1;
				rc = -1;
				break;
			}
			st->has_block = 1;
			if (parse_block(lx, st, depth + 1, st->line) == -1) {
				rc = -1;
				break;
			}
			st = NULL;
			continue;
		}
		/* T_WORD */
		if (st == NULL) {
			if (add_kid(blk, &st) == -1 ||
			    (st->name = hub_strdup(tok.data)) == NULL) {
				rc = -1;
				break;
			}
			st->line = lx->line;
		} else if (st->has_block) {
			cfg_errs_add(lx->errs, lx->file, lx->line,
			    "unexpected '%s' after '}' (start a new line)",
			    tok.data);
			lx->failed = 1;
		} else if (add_arg(st, tok.data) == -1) {
			rc = -1;
			break;
		}
	}
	buf_clear(&tok);
	return rc;
}

int
cfg_parse(const char *file, const char *text, size_t n, struct cfg_stmt *root,
    struct cfg_errs *errs)
{
	struct lexer lx;

	memset(root, 0, sizeof(*root));
	memset(&lx, 0, sizeof(lx));
	lx.file = file;
	lx.p = text;
	lx.end = text + n;
	lx.line = 1;
	lx.errs = errs;
	if (n > CFG_MAX_FILE) {
		cfg_errs_add(
		    errs, file, 0, "file larger than %d bytes", CFG_MAX_FILE);
		return -1;
	}
	if (parse_block(&lx, root, 0, 0) == -1) {
		cfg_errs_add(errs, file, lx.line, "out of memory");
		return -1;
	}
	return lx.failed ? -1 : 0;
}

char *
cfg_slurp(const char *path, size_t max, size_t *len)
{
	struct stat st;
	char *data = NULL;
	size_t got = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if ((size_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	if ((data = hub_malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	while (got < (size_t)st.st_size) {
		r = read(fd, data + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			goto fail;
		}
		got += (size_t)r;
	}
	data[got] = '\0';
	close(fd);
	if (len != NULL)
		*len = got;
	return data;
fail:
	r = errno;
	hub_free(data);
	close(fd);
	errno = (int)r;
	return NULL;
}

int
cfg_build(const char *file, const char *text, size_t n, cfg_build_cb *build,
    void *arg, struct cfg_errs *errs)
{
	struct cfg_stmt root;
	int rc;

	rc = text != NULL ? cfg_parse(file, text, n, &root, errs)
			  : cfg_parse_file(file, &root, errs);
	if (rc != -1)
		rc = build(file, &root, arg, errs);
	cfg_free(&root);
	return rc;
}

int
cfg_parse_file(const char *file, struct cfg_stmt *root, struct cfg_errs *errs)
{
	size_t n;
	char *text;
	int rc;

	memset(root, 0, sizeof(*root));
	if ((text = cfg_slurp(file, CFG_MAX_FILE, &n)) == NULL) {
		cfg_errs_add(errs, file, 0, "cannot read: %s",
		    errno == EFBIG ? "file too large" : strerror(errno));
		return -1;
	}
	rc = cfg_parse(file, text, n, root, errs);
	hub_free(text);
	return rc;
}

static void
stmt_free(struct cfg_stmt *st)
{
	int i;

	for (i = 0; i < st->nargs; i++)
		hub_free(st->args[i]);
	hub_free(st->args);
	for (i = 0; i < st->nkids; i++)
		stmt_free(&st->kids[i]);
	hub_free(st->kids);
	hub_free(st->name);
}

void
cfg_free(struct cfg_stmt *root)
{
	stmt_free(root);
	memset(root, 0, sizeof(*root));
}

int
cfg_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
cfg_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 'k':
		case 'K':
			mul = 1024;
			break;
		case 'm':
		case 'M':
			mul = 1024 * 1024;
			break;
		case 'g':
		case 'G':
			mul = 1024ULL * 1024 * 1024;
			break;
		case 't':
		case 'T':
			mul = 1024ULL * 1024 * 1024 * 1024;
			break;
		default:
			return -1;
		}
		if (end[1] != '\0' &&
		    !((end[1] == 'B' || end[1] == 'b') && end[2] == '\0'))
			return -1;
	}
	if (v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int
cfg_parse_duration(const char *s, int64_t *sec)
{
	char *end;
	long long v;
	int64_t mul = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0')
			return -1;
		switch (*end) {
		case 's':
			break;
		case 'm':
			mul = 60;
			break;
		case 'h':
			mul = 3600;
			break;
		case 'd':
			mul = 86400;
			break;
		default:
			return -1;
		}
	}
	if (v > INT64_MAX / mul / 1000000)
		return -1;
	*sec = v * mul;
	return 0;
}

/* Removes "./" segments and "name/.." pairs without touching the file
 * system, so messages show "var/db" rather than "conf/../var/db". */
static void
path_clean(char *p)
{
	char *seg[256];
	char *s, *save = NULL, *out;
	int n = 0, i, abs = p[0] == '/';
	size_t len = strlen(p);
	char *copy = hub_strndup(p, len);

	if (copy == NULL)
		return;
	for (s = strtok_r(copy, "/", &save); s != NULL;
	     s = strtok_r(NULL, "/", &save)) {
		if (strcmp(s, ".") == 0)
			continue;
		if (strcmp(s, "..") == 0 && n > 0 &&
		    strcmp(seg[n - 1], "..") != 0) {
			n--;
			continue;
		}
		if (strcmp(s, "..") == 0 && n == 0 && abs)
			continue;
		if (n == 256)
			goto out;
		seg[n++] = s;
	}
	out = p;
	if (abs)
		*out++ = '/';
	for (i = 0; i < n; i++) {
		size_t sl = strlen(seg[i]);

		memmove(out, seg[i], sl);
		out += sl;
		if (i + 1 < n)
			*out++ = '/';
	}
	if (out == p)
		*out++ = '.';
	*out = '\0';
out:
	hub_free(copy);
}

char *
cfg_path(const char *dir, const char *path)
{
	struct buf b = BUF_INIT;
	char *r;

	if (path[0] == '/' || dir == NULL || dir[0] == '\0')
		buf_adds(&b, path);
	else
		buf_addf(&b, "%s/%s", dir, path);
	if (buf_failed(&b)) {
		buf_clear(&b);
		return NULL;
	}
	r = buf_detach(&b, NULL);
	path_clean(r);
	return r;
}

char *
cfg_file_check(struct cfg_errs *errs, const char *file, int line,
    const char *dir, const char *path, int secret, int *oom)
{
	struct stat st;
	char *p;
	int fd;

	if (path[0] == '\0') {
		cfg_errs_add(errs, file, line, "empty file name");
		return NULL;
	}
	if ((p = cfg_path(dir, path)) == NULL) {
		*oom = 1;
		return NULL;
	}
	memset(&st, 0, sizeof(st));
	if ((fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1 ||
	    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		cfg_errs_add(errs, file, line, "cannot read %s: %s", p,
		    fd == -1 || S_ISREG(st.st_mode) ? strerror(errno)
						    : "not a regular file");
		if (fd != -1)
			close(fd);
		hub_free(p);
		return NULL;
	}
	close(fd);
	if (secret && (st.st_mode & S_IROTH))
		cfg_warn_add(errs, file, line,
		    "%s is readable by everyone (chmod o-r)", p);
	return p;
}

char *
cfg_read_secret(struct cfg_errs *errs, const char *file, int line,
    const char *dir, const char *path, size_t max, int *oom)
{
	char *p, *text, *r = NULL;
	size_t n, len;

	if ((p = cfg_file_check(errs, file, line, dir, path, 1, oom)) == NULL)
		return NULL;
	if ((text = cfg_slurp(p, max, &len)) == NULL) {
		if (errno == EFBIG)
			cfg_errs_add(errs, file, line,
			    "cannot read %s: more than %zu bytes", p, max);
		else
			cfg_errs_add(errs, file, line, "cannot read %s: %s", p,
			    strerror(errno));
		hub_free(p);
		return NULL;
	}
	n = strcspn(text, "\r\n");
	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
		n--;
	if (n == 0)
		cfg_errs_add(
		    errs, file, line, "%s: the first line is empty", p);
	else if ((r = hub_strndup(text, n)) == NULL)
		*oom = 1;
	explicit_bzero(text, len);
	hub_free(text);
	hub_free(p);
	return r;
}

int
cfg_name_valid(const char *s, size_t max)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= max)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '.' || c == '_' ||
			c == '-'))
			return 0;
	}
	return 1;
}

int
cfg_https_url_ok(const char *url)
{
	const char *host, *end, *p;
	long long port;

	if (strncmp(url, "https://", 8) != 0)
		return 0;
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return 0;
	host = url + 8;
	end = host + strcspn(host, "/?#");
	if (end == host || memchr(host, '@', (size_t)(end - host)) ||
	    strchr(url, '#') != NULL)
		return 0;
	if (host[0] == '[') {
		p = memchr(host, ']', (size_t)(end - host));
		if (p == NULL || p == host + 1)
			return 0;
		p++;
	} else if ((p = memchr(host, ':', (size_t)(end - host))) == NULL)
		p = end;
	else if (p == host)
		return 0;
	if (p != end) {
		char num[8];
		size_t n = (size_t)(end - p - 1);

		if (*p != ':' || n == 0 || n >= sizeof(num))
			return 0;
		memcpy(num, p + 1, n);
		num[n] = '\0';
		if (cfg_parse_int(num, 1, 65535, &port) == -1)
			return 0;
	}
	return 1;
}

int
cfg_taxii_coll_url_ok(const char *url)
{
	const char *path, *p;
	size_t n = strlen(url);

	if (!cfg_https_url_ok(url) || (path = strchr(url + 8, '/')) == NULL ||
	    strchr(url, '?') != NULL || url[n - 1] != '/')
		return 0;
	p = url + n - 1; /* the last '/' */
	while (p > path && p[-1] != '/')
		p--;
	/* p: the <id>, after "/collections/" */
	return p < url + n - 1 && (size_t)(p - path) >= 13 &&
	    strncmp(p - 13, "/collections/", 13) == 0;
}

int
cfg_check_creds(
    struct cfg_errs *errs, const char *file, const struct cfg_creds_at *at)
{
	int n = cfg_errs_count(errs, CFG_ERROR);

	if ((at->user || at->password_file) + !!at->token_file +
		(at->cert || at->key) >
	    1) {
		const int v[] = {at->user, at->password_file, at->token_file,
		    at->cert, at->key};
		int i, last = 0;

		/* reported where the second kind is given */
		for (i = 0; i < (int)(sizeof(v) / sizeof(v[0])); i++)
			if (v[i] > last)
				last = v[i];
		cfg_errs_add(errs, file, last,
		    "two kinds of credentials (user and password_file, "
		    "token_file, or cert and key): give one");
	}
	if (!!at->user != !!at->password_file)
		cfg_errs_add(errs, file,
		    at->user ? at->user : at->password_file,
		    "user and password_file go together");
	if (!!at->cert != !!at->key)
		cfg_errs_add(errs, file, at->cert ? at->cert : at->key,
		    "cert and key go together");
	return cfg_errs_count(errs, CFG_ERROR) == n ? 0 : -1;
}
