/*
 * httpmsg.h -- the pieces of an HTTP request the hub reads itself, as
 * plain functions of their text: the path (split and percent-decoded,
 * strictly), the Accept and Content-Type media types of TAXII 2.1, and
 * the Authorization header (its scheme, a Basic credential).  No I/O and
 * no state: the transport (hub/http.c) calls them, and so do the unit
 * tests and fuzz_httpmsg.
 */
#ifndef CTIHUB_HTTPMSG_H
#define CTIHUB_HTTPMSG_H

#include <stddef.h>

/* The longest path taken, the most segments in one. */
#define HTTPMSG_PATH_MAX 2048
#define HTTPMSG_MAX_SEG	 8

/* A path split into its decoded segments ("/a/b%20c/" -> "a", "b c"). */
struct httpmsg_path {
	int nseg;
	char *seg[HTTPMSG_MAX_SEG];
	const char *query; /* the raw query string, or NULL */
	/* the segments' bytes, each NUL-terminated */
	char store[HTTPMSG_PATH_MAX + HTTPMSG_MAX_SEG + 2];
};

/*
 * Splits `raw` (the path of a request target, without its query) into
 * `p`.  Returns 0, or -1 with the reason in `why`: no leading '/', longer
 * than HTTPMSG_PATH_MAX, a malformed escape, an escaped '/', a control,
 * space or non-ASCII byte, a "." or ".." segment, an empty segment, more
 * than HTTPMSG_MAX_SEG segments.  A trailing '/' is optional.  p->query
 * is left as it was.
 */
int httpmsg_split_path(
    const char *raw, struct httpmsg_path *p, char *why, size_t whylen);

/* 1 when an Accept header admits a TAXII 2.1 body (application/taxii+json
 * with version 2.1 or none, application/ *, * / *, q > 0); no header or
 * an empty one admits it too. */
int httpmsg_accept_taxii(const char *accept);
/* The same for Server-Sent Events: text/event-stream, text/ *, * / *
 * (q > 0), or no header. */
int httpmsg_accept_sse(const char *accept);

/* 1 when a Content-Type is TAXII 2.1: application/taxii+json, version 2.1
 * (quoted or not) or none, charset utf-8 or none, nothing else. */
int httpmsg_ctype_taxii(const char *ctype);

enum httpmsg_scheme {
	HTTPMSG_AUTH_NONE = 0, /* no header */
	HTTPMSG_AUTH_BASIC,
	HTTPMSG_AUTH_BEARER,
	HTTPMSG_AUTH_OTHER, /* any other scheme */
};
/* The scheme of an Authorization header; *param points at what follows
 * the scheme and its spaces (the credentials). */
int httpmsg_auth_scheme(const char *authorization, const char **param);

/* The longest decoded Basic credential ("user:password"). */
#define HTTPMSG_BASIC_MAX 4096

/*
 * Decodes the base64 `b64` of a Basic credential into `out` (at least
 * HTTPMSG_BASIC_MAX bytes): "user" NUL "password" NUL, with *user_len
 * and *pw_len.  Trailing spaces are ignored.  Returns 0, or -1 with the
 * reason (malformed base64, too long, no ':', a NUL byte).  The caller
 * wipes `out` after use (it holds a password).
 */
int httpmsg_basic_decode(const char *b64, char *out, size_t *user_len,
    size_t *pw_len, char *why, size_t whylen);

#endif
