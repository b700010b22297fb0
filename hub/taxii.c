/*
 * taxii.c -- the front of every request: path decoding (strict: no "..",
 * no malformed or control-character escapes), authentication, routing to
 * the endpoint, method and Accept checks; and the endpoints that describe
 * the server: discovery, API roots, collections.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "ctihub/alloc.h"
#include "ctihub/bytes.h"
#include "ctihub/log.h"

#include "hub.h"

#define PATH_MAX_LEN 2048

static int split_path(const char *raw, struct route *rt, char *store,
    size_t storelen, char *why, size_t whylen);

/*
 * Splits "/a/b%20c/" into decoded segments stored in `store`.  Returns 0,
 * or -1 with the reason: a malformed escape, an escaped '/', a control
 * character, a "." or ".." segment, an empty segment, too many segments.
 */
static int
split_path(const char *raw, struct route *rt, char *store, size_t storelen,
    char *why, size_t whylen)
{
	const char *p = raw;
	size_t o = 0;

	rt->nseg = 0;
	if (raw == NULL || raw[0] != '/') {
		snprintf(why, whylen, "the path must start with '/'");
		return -1;
	}
	if (strlen(raw) > PATH_MAX_LEN) {
		snprintf(
		    why, whylen, "path longer than %d bytes", PATH_MAX_LEN);
		return -1;
	}
	p++;
	while (*p != '\0') {
		char *seg = store + o;
		size_t start = o;

		while (*p != '\0' && *p != '/') {
			int c = (unsigned char)*p, hi, lo;

			if (c == '%') {
				if ((hi = hex_digit(p[1])) < 0 ||
				    (lo = hex_digit(p[2])) < 0) {
					snprintf(why, whylen,
					    "malformed percent-encoding in "
					    "the path");
					return -1;
				}
				c = hi << 4 | lo;
				if (c == '/') {
					snprintf(why, whylen,
					    "an encoded '/' in a path "
					    "segment");
					return -1;
				}
				p += 3;
			} else
				p++;
			if (c < 0x21 || c > 0x7e) {
				snprintf(why, whylen,
				    "control, space or non-ASCII byte 0x%02x "
				    "in the path",
				    c);
				return -1;
			}
			if (o + 2 >= storelen)
				return -1;
			store[o++] = (char)c;
		}
		store[o++] = '\0';
		if (o - start == 1) {
			if (*p == '/') {
				snprintf(why, whylen,
				    "empty segment ('//') in the path");
				return -1;
			}
			break;
		}
		if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0) {
			snprintf(why, whylen,
			    "'%s' segments are not allowed in the path", seg);
			return -1;
		}
		if (rt->nseg == ROUTE_MAX_SEG) {
			snprintf(why, whylen, "path has too many segments");
			return -1;
		}
		rt->seg[rt->nseg++] = seg;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* Does one media range of an Accept header admit a TAXII 2.1 body? */
static int
accept_range_ok(const char *r, size_t n)
{
	char buf[256], *params, *t, *save = NULL;
	int taxii = 0, any = 0, version_ok = 1;

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, r, n);
	buf[n] = '\0';
	if ((params = strchr(buf, ';')) != NULL)
		*params++ = '\0';
	for (t = buf + strlen(buf); t > buf && isspace((unsigned char)t[-1]);
	     t--)
		t[-1] = '\0';
	t = buf + strspn(buf, " \t");
	if (strcasecmp(t, "*/*") == 0 || strcasecmp(t, "application/*") == 0)
		any = 1;
	else if (strcasecmp(t, "application/taxii+json") == 0)
		taxii = 1;
	else
		return 0;
	for (t = params ? strtok_r(params, ";", &save) : NULL; t != NULL;
	     t = strtok_r(NULL, ";", &save)) {
		char *eq, *k = t + strspn(t, " \t"), *v;

		if ((eq = strchr(k, '=')) == NULL)
			continue;
		*eq = '\0';
		v = eq + 1 + strspn(eq + 1, " \t\"");
		v[strcspn(v, " \t\"")] = '\0';
		for (char *e = eq; e > k && isspace((unsigned char)e[-1]); e--)
			e[-1] = '\0';
		if (strcasecmp(k, "q") == 0 && strtod(v, NULL) <= 0.0)
			return 0;
		if (taxii && strcasecmp(k, "version") == 0 &&
		    strcmp(v, "2.1") != 0)
			version_ok = 0;
	}
	return any || (taxii && version_ok);
}

int
taxii_accept_ok(struct reqctx *ctx)
{
	const char *h = evhttp_find_header(
	    evhttp_request_get_input_headers(ctx->req), "Accept");
	const char *p, *comma;

	if (h == NULL || h[strspn(h, " \t")] == '\0')
		return 1;
	for (p = h;; p = comma + 1) {
		comma = strchr(p, ',');
		if (accept_range_ok(p, comma ? (size_t)(comma - p) : strlen(p)))
			return 1;
		if (comma == NULL)
			return 0;
	}
}

int
taxii_can_read(const struct reqctx *ctx, const struct conf_collection *k)
{
	return acl_allows(&k->read, ctx->member);
}

int
taxii_can_write(const struct reqctx *ctx, const struct conf_collection *k)
{
	return acl_allows(&k->write, ctx->member);
}

static void
add_root_url(struct reqctx *ctx, struct buf *b, const struct conf_root *r)
{
	struct buf u = BUF_INIT;

	http_base_url(ctx, &u);
	buf_addf(&u, "/%s/", r->name);
	buf_add_jstr(b, u.data ? u.data : "", u.len);
	buf_clear(&u);
}

static void
get_discovery(struct reqctx *ctx)
{
	struct conf *c = ctx->rt->conf;
	struct buf b = BUF_INIT;
	const struct conf_root *def = c->default_root
	    ? conf_root_find(c, c->default_root, strlen(c->default_root))
	    : &c->roots[0];
	int i;

	buf_adds(&b, "{\"title\":");
	buf_add_jstr(&b, c->title, strlen(c->title));
	if (c->description != NULL) {
		buf_adds(&b, ",\"description\":");
		buf_add_jstr(&b, c->description, strlen(c->description));
	}
	if (c->contact != NULL) {
		buf_adds(&b, ",\"contact\":");
		buf_add_jstr(&b, c->contact, strlen(c->contact));
	}
	buf_adds(&b, ",\"default\":");
	add_root_url(ctx, &b, def);
	buf_adds(&b, ",\"api_roots\":[");
	for (i = 0; i < c->nroots; i++) {
		if (i > 0)
			buf_addc(&b, ',');
		add_root_url(ctx, &b, &c->roots[i]);
	}
	buf_adds(&b, "]}");
	http_reply(ctx, 200, &b);
	buf_clear(&b);
}

static void
get_api_root(struct reqctx *ctx)
{
	const struct conf_root *r = ctx->root;
	struct buf b = BUF_INIT;

	buf_adds(&b, "{\"title\":");
	buf_add_jstr(&b, r->title, strlen(r->title));
	if (r->description != NULL) {
		buf_adds(&b, ",\"description\":");
		buf_add_jstr(&b, r->description, strlen(r->description));
	}
	buf_addf(&b, ",\"versions\":[\"%s\"],\"max_content_length\":%llu}",
	    TAXII_MEDIA, (unsigned long long)r->max_content_length);
	http_reply(ctx, 200, &b);
	buf_clear(&b);
}

static void
add_collection(
    struct reqctx *ctx, struct buf *b, const struct conf_collection *k)
{
	int i;

	buf_adds(b, "{\"id\":");
	buf_add_jstr(b, k->id, strlen(k->id));
	buf_adds(b, ",\"title\":");
	buf_add_jstr(b, k->title, strlen(k->title));
	if (k->description != NULL) {
		buf_adds(b, ",\"description\":");
		buf_add_jstr(b, k->description, strlen(k->description));
	}
	if (k->alias != NULL) {
		buf_adds(b, ",\"alias\":");
		buf_add_jstr(b, k->alias, strlen(k->alias));
	}
	buf_addf(b, ",\"can_read\":%s,\"can_write\":%s,\"media_types\":[",
	    taxii_can_read(ctx, k) ? "true" : "false",
	    taxii_can_write(ctx, k) ? "true" : "false");
	for (i = 0; i < k->nmedia; i++) {
		if (i > 0)
			buf_addc(b, ',');
		buf_add_jstr(b, k->media_types[i], strlen(k->media_types[i]));
	}
	buf_adds(b, "]}");
}

static int
coll_visible(const struct reqctx *ctx, const struct conf_collection *k)
{
	return taxii_can_read(ctx, k) || taxii_can_write(ctx, k);
}

static void
get_collections(struct reqctx *ctx)
{
	const struct conf_root *r = ctx->root;
	struct buf b = BUF_INIT;
	int i, n = 0;

	buf_addc(&b, '{');
	for (i = 0; i < r->ncolls; i++) {
		if (!coll_visible(ctx, &r->colls[i]))
			continue;
		buf_adds(&b, n++ == 0 ? "\"collections\":[" : ",");
		add_collection(ctx, &b, &r->colls[i]);
	}
	buf_adds(&b, n > 0 ? "]}" : "}");
	http_reply(ctx, 200, &b);
	buf_clear(&b);
}

static void
get_collection(struct reqctx *ctx)
{
	struct buf b = BUF_INIT;

	add_collection(ctx, &b, ctx->coll);
	http_reply(ctx, 200, &b);
	buf_clear(&b);
}

static void
unauthorized(struct reqctx *ctx, int res, const char *why)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(ctx->req);
	char secs[16];

	if (res == AUTH_THROTTLED || res == AUTH_BUSY) {
		/* turned away before any check: cheap, and logged only in
		 * debug, so that a flood of them floods nothing */
		log_debug("%s: login refused: %s", ctx->peer, why);
		snprintf(secs, sizeof(secs), "%d", ctx->retry_after);
		evhttp_add_header(h, "Retry-After", secs);
		if (res == AUTH_THROTTLED)
			taxii_error(ctx, 429, "Too Many Requests", "%s", why);
		else
			taxii_error(ctx, 503, "Service Unavailable", "%s", why);
		return;
	}
	evhttp_add_header(h, "WWW-Authenticate", HTTP_AUTH_BASIC);
	evhttp_add_header(h, "WWW-Authenticate", HTTP_AUTH_BEARER);
	if (res != AUTH_NONE)
		log_info("%s: authentication failed: %s", ctx->peer, why);
	taxii_error(ctx, 401, "Unauthorized", "%s",
	    res == AUTH_NONE ? HTTP_AUTH_REQUIRED : why);
}

/* The methods each route takes, for 405 and its Allow header. */
enum {
	M_GET = 1,
	M_POST = 2,
	M_DELETE = 4,
};

static int
method_bit(struct reqctx *ctx)
{
	switch (evhttp_request_get_command(ctx->req)) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		return M_GET;
	case EVHTTP_REQ_POST:
		return M_POST;
	case EVHTTP_REQ_DELETE:
		return M_DELETE;
	default:
		return 0;
	}
}

static int
check_method(struct reqctx *ctx, int allowed)
{
	char allow[64];

	if (method_bit(ctx) & allowed)
		return 0;
	snprintf(allow, sizeof(allow), "%s%s%s",
	    allowed & M_GET ? "GET, HEAD" : "",
	    allowed & M_POST ? (allowed & M_GET ? ", POST" : "POST") : "",
	    allowed & M_DELETE ? (allowed & ~M_DELETE ? ", DELETE" : "DELETE")
			       : "");
	evhttp_add_header(
	    evhttp_request_get_output_headers(ctx->req), "Allow", allow);
	taxii_error(
	    ctx, 405, "Method Not Allowed", "this resource supports %s", allow);
	return -1;
}

static void
not_found(struct reqctx *ctx)
{
	taxii_error(ctx, 404, "Not Found", "no such TAXII resource at %s",
	    evhttp_uri_get_path(evhttp_request_get_evhttp_uri(ctx->req)));
}

void
taxii_dispatch(struct reqctx *ctx)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ctx->req);
	struct conf *c = ctx->rt->conf;
	char store[PATH_MAX_LEN + ROUTE_MAX_SEG + 2], why[256];
	struct route rt;
	char **s;
	int res, allowed;

	memset(&rt, 0, sizeof(rt));
	if (split_path(evhttp_uri_get_path(uri), &rt, store, sizeof(store), why,
		sizeof(why)) == -1) {
		taxii_error(ctx, 400, "Bad Request", "%s", why);
		return;
	}
	rt.query = evhttp_uri_get_query(uri);
	if ((res = auth_request(ctx, &ctx->member, why, sizeof(why))) ==
	    AUTH_PENDING)
		return; /* parked: dispatched again with the answer */
	if (res != AUTH_OK) {
		unauthorized(ctx, res, why);
		return;
	}
	s = rt.seg;
	if (rt.nseg == 1 && strcmp(s[0], "taxii2") == 0) {
		if (check_method(ctx, M_GET) == 0) {
			if (!taxii_accept_ok(ctx))
				goto not_acceptable;
			get_discovery(ctx);
		}
		return;
	}
	if (rt.nseg == 0 ||
	    (ctx->root = conf_root_find(c, s[0], strlen(s[0]))) == NULL) {
		not_found(ctx);
		return;
	}
	if (rt.nseg >= 3 && strcmp(s[1], "collections") == 0) {
		ctx->coll = conf_coll_find(ctx->root, s[2], strlen(s[2]));
		if (ctx->coll == NULL || !coll_visible(ctx, ctx->coll)) {
			if (ctx->coll != NULL) {
				log_info("%s: %s denied collection %s",
				    ctx->peer, ctx->member->id, ctx->coll->id);
				http_audit_denied(ctx, ctx->coll->id,
				    "no access to the collection");
			}
			taxii_error(ctx, 404, "Not Found",
			    "no collection '%s' in API root '%s'", s[2], s[0]);
			return;
		}
	}
	/* route table: segment count and fixed words -> handler */
	allowed = M_GET;
	if (rt.nseg == 1)
		;
	else if (rt.nseg == 2 && strcmp(s[1], "collections") == 0)
		;
	else if (rt.nseg == 3 && strcmp(s[1], "collections") == 0)
		;
	else if (rt.nseg == 3 && strcmp(s[1], "status") == 0)
		;
	else if (rt.nseg == 4 && strcmp(s[3], "objects") == 0)
		allowed = M_GET | M_POST;
	else if (rt.nseg == 4 && strcmp(s[3], "manifest") == 0)
		;
	else if (rt.nseg == 5 && strcmp(s[3], "objects") == 0)
		allowed = M_GET | M_DELETE;
	else if (rt.nseg == 6 && strcmp(s[3], "objects") == 0 &&
	    strcmp(s[5], "versions") == 0)
		;
	else {
		not_found(ctx);
		return;
	}
	if (check_method(ctx, allowed) == -1)
		return;
	if (!taxii_accept_ok(ctx))
		goto not_acceptable;
	switch (rt.nseg) {
	case 1:
		get_api_root(ctx);
		return;
	case 2:
		get_collections(ctx);
		return;
	case 3:
		if (s[1][0] == 's')
			taxii_get_status(ctx, &rt);
		else
			get_collection(ctx);
		return;
	case 4:
		if (s[3][0] == 'm')
			taxii_get_manifest(ctx, &rt);
		else if (method_bit(ctx) == M_POST)
			taxii_add_objects(ctx, &rt);
		else
			taxii_get_objects(ctx, &rt);
		return;
	case 5:
		if (method_bit(ctx) == M_DELETE)
			taxii_delete_object(ctx, &rt);
		else
			taxii_get_object(ctx, &rt);
		return;
	default:
		taxii_get_versions(ctx, &rt);
		return;
	}
not_acceptable:
	taxii_error(ctx, 406, "Not Acceptable",
	    "this server answers with %s; the Accept header does not admit "
	    "it",
	    TAXII_MEDIA);
}
