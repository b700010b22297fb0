/*
 * feed.c -- the registry of connectors (feed_ops_find) and the helpers
 * around the types of feed.h.  No connector lives here: each is a file of
 * its own in feeds/, added to the table below when it is built.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctihub/alloc.h"

#include "feed.h"
#include "feed_list.h"
#include "feed_misp.h"
#include "feed_taxii.h"

/* Indexed by enum feed_kind; NULL: not built yet.  One connector serves
 * the three snapshot kinds (it reads def->kind). */
static const struct feed_ops *const feed_registry[FEED_KIND_MAX + 1] = {
    [FEED_TAXII] = &feed_taxii_ops,
    [FEED_MISP] = &feed_misp_ops,
    [FEED_LIST] = &feed_list_ops,
    [FEED_CSV] = &feed_list_ops,
    [FEED_JSON] = &feed_list_ops,
};

const struct feed_ops *
feed_ops_find(int kind)
{
	if (kind < FEED_TAXII || kind > FEED_KIND_MAX)
		return NULL;
	return feed_registry[kind];
}

void
feed_request_clear(struct feed_request *req)
{
	int i;

	hub_free(req->url);
	for (i = 0; i < FEED_MAX_HEADERS && req->headers[i] != NULL; i++)
		hub_free(req->headers[i]);
	memset(req, 0, sizeof(*req));
}

void
feed_state_clear(struct feed_state *st)
{
	hub_free(st->data);
	st->data = NULL;
	st->len = 0;
}

void
feed_result_init(struct feed_result *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->envelope);
}

void
feed_result_clear(struct feed_result *r)
{
	buf_clear(&r->envelope);
	feed_state_clear(&r->state);
	feed_result_init(r);
}

void
feed_result_error(struct feed_result *r, long line, const char *fmt, ...)
{
	va_list ap;

	if (r->nerrors == FEED_MAX_ERRORS) {
		r->errors_dropped++;
		return;
	}
	r->errors[r->nerrors].line = line;
	va_start(ap, fmt);
	vsnprintf(r->errors[r->nerrors].msg, sizeof(r->errors[0].msg), fmt, ap);
	va_end(ap);
	r->nerrors++;
}

char *
feed_header(const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value), i;
	char *h;

	if (vl > FEED_HEADER_MAX)
		return NULL;
	for (i = 0; i < vl; i++)
		if ((unsigned char)value[i] < 0x20 && value[i] != '\t')
			return NULL;
	if ((h = hub_malloc(nl + 2 + vl + 1)) == NULL)
		return NULL;
	memcpy(h, name, nl);
	memcpy(h + nl, ": ", 2);
	memcpy(h + nl + 2, value, vl + 1);
	return h;
}

char *
feed_url_join(const char *base, const char *suffix)
{
	size_t bl = strlen(base), sl = strlen(suffix);
	char *u;

	if ((u = hub_malloc(bl + sl + 1)) == NULL)
		return NULL;
	memcpy(u, base, bl);
	memcpy(u + bl, suffix, sl + 1);
	return u;
}
