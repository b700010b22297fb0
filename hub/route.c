/*
 * route.c -- the front of every request (route.h): path, authentication,
 * the table's row, method and Accept, then the handler.
 */
#include <stdio.h>
#include <string.h>

#include "ctihub/log.h"
#include "ctihub/metrics.h"

#include "hub.h"
#include "route.h"

/* Segment i of a pattern ("/a/{b}/c/"): its start and length, or NULL
 * past the last. */
static const char *
pattern_seg(const char *pat, int i, size_t *len)
{
	const char *p = pat + (*pat == '/');

	for (; i > 0 && *p != '\0'; i--) {
		p += strcspn(p, "/");
		if (*p == '/')
			p++;
	}
	if (*p == '\0')
		return NULL;
	*len = strcspn(p, "/");
	return p;
}

static int
pattern_nseg(const char *pat)
{
	size_t len;
	int n = 0;

	while (pattern_seg(pat, n, &len) != NULL)
		n++;
	return n;
}

static int
is_placeholder(const char *s, size_t len)
{
	return len >= 2 && s[0] == '{' && s[len - 1] == '}';
}

static int
seg_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* Do the literal segments of row `r` before segment `upto` match the
 * path?  (All of them, with upto = the row's length.) */
static int
literals_match(
    const struct route_def *r, const struct httpmsg_path *p, int upto)
{
	const char *s;
	size_t len;
	int i;

	for (i = 0; i < upto; i++) {
		if ((s = pattern_seg(r->pattern, i, &len)) == NULL ||
		    i >= p->nseg)
			return 0;
		if (!is_placeholder(s, len) && !seg_is(s, len, p->seg[i]))
			return 0;
	}
	return 1;
}

static int
row_matches(const struct route_def *r, const struct httpmsg_path *p)
{
	return pattern_nseg(r->pattern) == p->nseg &&
	    literals_match(r, p, p->nseg);
}

static void
not_found(struct request *ctx)
{
	taxii_error(ctx, 404, "Not Found", "no such TAXII resource at %s",
	    ctx->path_raw ? ctx->path_raw : "-");
}

/*
 * Binds the placeholder {name} of segment i, the path so far matching a
 * row that has it there.  0, or -1 after a 404.
 */
static int
bind(struct request *ctx, const char *name, size_t len, int i)
{
	const struct conf *c = ctx->rt->conf;
	const char *s = ctx->path.seg[i];

	if (seg_is(name, len, "{root}")) {
		ctx->root = conf_root_find(c, s, strlen(s));
		if (ctx->root == NULL) {
			not_found(ctx);
			return -1;
		}
	} else if (seg_is(name, len, "{coll}") && ctx->root != NULL) {
		ctx->coll = conf_coll_find(ctx->root, s, strlen(s));
		if (ctx->coll == NULL || !taxii_can_see(ctx, ctx->coll)) {
			if (ctx->coll != NULL) {
				log_info("%s: %s denied collection %s",
				    ctx->peer, ctx->member->id, ctx->coll->id);
				http_audit_denied(ctx, ctx->coll->id,
				    "no access to the collection");
			}
			taxii_error(ctx, 404, "Not Found",
			    "no collection '%s' in API root '%s'", s,
			    ctx->path.seg[0]);
			ctx->coll = NULL;
			return -1;
		}
	}
	return 0;
}

/* Binds, segment by segment, each placeholder some row has there while
 * the path matches that row's words before it.  0, or -1 after a 404. */
static int
bind_all(struct request *ctx, const struct route_table *t)
{
	const char *s;
	size_t len;
	int i, k;

	for (i = 0; i < ctx->path.nseg; i++)
		for (k = 0; k < t->n; k++) {
			const struct route_def *r = &t->rows[k];

			if ((s = pattern_seg(r->pattern, i, &len)) == NULL ||
			    !is_placeholder(s, len) ||
			    !literals_match(r, &ctx->path, i))
				continue;
			if (bind(ctx, s, len, i) == -1)
				return -1;
			break; /* bound: one placeholder per segment */
		}
	return 0;
}

/* enum auth_result -> the metrics' kind of failure */
static enum metrics_auth
auth_kind(int res)
{
	switch (res) {
	case AUTH_NONE:
		return METRICS_AUTH_NONE;
	case AUTH_BAD:
		return METRICS_AUTH_BAD;
	case AUTH_CERT:
		return METRICS_AUTH_CERT;
	case AUTH_THROTTLED:
		return METRICS_AUTH_THROTTLED;
	case AUTH_BUSY:
		return METRICS_AUTH_BUSY;
	default:
		return METRICS_AUTH_MALFORMED;
	}
}

static void
unauthorized(struct request *ctx, int res, const char *why)
{
	char secs[16];

	if (ctx->svc->metrics != NULL)
		metrics_auth_failure(ctx->svc->metrics, auth_kind(res));
	if (res == AUTH_THROTTLED || res == AUTH_BUSY) {
		/* turned away before any check: cheap, and logged only in
		 * debug, so that a flood of them floods nothing */
		log_debug("%s: login refused: %s", ctx->peer, why);
		snprintf(secs, sizeof(secs), "%d", ctx->retry_after);
		res_header(ctx, "Retry-After", secs);
		if (res == AUTH_THROTTLED)
			taxii_error(ctx, 429, "Too Many Requests", "%s", why);
		else
			taxii_error(ctx, 503, "Service Unavailable", "%s", why);
		return;
	}
	res_header(ctx, "WWW-Authenticate", HTTP_AUTH_BASIC);
	res_header(ctx, "WWW-Authenticate", HTTP_AUTH_BEARER);
	if (res != AUTH_NONE)
		log_info("%s: authentication failed: %s", ctx->peer, why);
	taxii_error(ctx, 401, "Unauthorized", "%s",
	    res == AUTH_NONE ? HTTP_AUTH_REQUIRED : why);
}

static void
method_not_allowed(struct request *ctx, int allowed)
{
	char allow[64];

	snprintf(allow, sizeof(allow), "%s%s%s",
	    allowed & HTTP_GET ? "GET, HEAD" : "",
	    allowed & HTTP_POST ? (allowed & HTTP_GET ? ", POST" : "POST") : "",
	    allowed & HTTP_DELETE
		? (allowed & ~HTTP_DELETE ? ", DELETE" : "DELETE")
		: "");
	res_header(ctx, "Allow", allow);
	taxii_error(
	    ctx, 405, "Method Not Allowed", "this resource supports %s", allow);
}

/* 1 when the member must authenticate before anything else is said
 * about the path: a table with rows that need it, and no row that does
 * not has the path's shape. */
static int
must_authenticate(const struct route_table *t, const struct httpmsg_path *p)
{
	int k, any = 0;

	for (k = 0; k < t->n; k++) {
		if (t->rows[k].flags & ROUTE_AUTH)
			any = 1;
		else if (row_matches(&t->rows[k], p))
			return 0;
	}
	return any;
}

/* Literal-only rows first (discovery wins over an API root of the same
 * name), then the rows with placeholders, bound. */
static int
literal_only(const struct route_def *r)
{
	return strchr(r->pattern, '{') == NULL;
}

void
route_dispatch(struct request *ctx)
{
	const struct route_table *t = ctx->table;
	const struct route_def *shape = NULL;
	char why[256];
	int k, res, allowed = 0, m;

	ctx->route = NULL;
	ctx->root = NULL;
	ctx->coll = NULL;
	if (httpmsg_split_path(ctx->path_raw, &ctx->path, why, sizeof(why)) ==
	    -1) {
		taxii_error(ctx, 400, "Bad Request", "%s", why);
		return;
	}
	if (must_authenticate(t, &ctx->path)) {
		res = auth_request(ctx, &ctx->member, why, sizeof(why));
		if (res == AUTH_PENDING)
			return; /* parked: dispatched again with the answer */
		if (res != AUTH_OK) {
			unauthorized(ctx, res, why);
			return;
		}
	}
	for (k = 0; k < t->n && shape == NULL; k++)
		if (literal_only(&t->rows[k]) &&
		    row_matches(&t->rows[k], &ctx->path))
			shape = &t->rows[k];
	if (shape == NULL) {
		if (ctx->path.nseg == 0) {
			not_found(ctx);
			return;
		}
		if (bind_all(ctx, t) == -1)
			return;
	}
	/* the rows of this shape: their methods, and the one asked for */
	m = ctx->method == HTTP_HEAD ? HTTP_GET : ctx->method;
	for (k = 0; k < t->n; k++) {
		const struct route_def *r = &t->rows[k];

		if ((shape != NULL && r != shape) ||
		    (shape == NULL && literal_only(r)) ||
		    !row_matches(r, &ctx->path))
			continue;
		allowed |= r->methods;
		if ((r->methods & m) && ctx->route == NULL)
			ctx->route = r;
	}
	if (allowed == 0) {
		not_found(ctx);
		return;
	}
	if (ctx->route == NULL) {
		method_not_allowed(ctx, allowed);
		return;
	}
	if ((ctx->route->flags & ROUTE_SSE) &&
	    !httpmsg_accept_sse(ctx->accept)) {
		taxii_error(ctx, 406, "Not Acceptable",
		    "this endpoint answers with text/event-stream; the Accept "
		    "header does not admit it");
		return;
	}
	if ((ctx->route->flags & (ROUTE_TAXII | ROUTE_SSE)) == ROUTE_TAXII &&
	    !httpmsg_accept_taxii(ctx->accept)) {
		taxii_error(ctx, 406, "Not Acceptable",
		    "this server answers with %s; the Accept header does not "
		    "admit it",
		    TAXII_MEDIA);
		return;
	}
	ctx->route->handler(ctx);
}

int
route_index(const struct route_table *t, const struct route_def *r)
{
	if (t == NULL || r == NULL)
		return -1;
	return (int)(r - t->rows) + (t == &ops_routes ? taxii_routes.n : 0);
}

const char *const *
route_names(int *n)
{
	static const char *names[64];
	static int nnames;
	int k;

	if (nnames == 0) {
		for (k = 0; k < taxii_routes.n && nnames < 64; k++)
			names[nnames++] = taxii_routes.rows[k].name;
		for (k = 0; k < ops_routes.n && nnames < 64; k++)
			names[nnames++] = ops_routes.rows[k].name;
	}
	*n = nnames;
	return names;
}
