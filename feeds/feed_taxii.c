/*
 * feed_taxii.c -- the upstream TAXII 2.1 connector's pure part (see
 * feed_taxii.h for the paging rules): page URLs, reading a response into
 * a bounded envelope with the feed's TLP on unmarked objects, and the
 * cursor's state blob.  Does no I/O and keeps no global state; the engine
 * does the fetching, the scheduling and the storing.  At the end,
 * feed_taxii_ops: the connector (feed.h) over them.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/buf.h"
#include "ctihub/marking.h"
#include "ctihub/tstamp.h"

#include "feed.h"
#include "feed_taxii.h"

static void pct_add(struct buf *, const char *, int);
static int cursor_set(struct feed_taxii_cursor *, const char *);
static int token_ok(const char *);
static int unmarked(json_t *);
static int dump_cb(const char *, size_t, void *);
static int render(const struct feed_taxii_query *, json_t *,
    struct feed_taxii_page *, char *, size_t);

void
feed_taxii_run_init(
    struct feed_taxii_run *run, const struct feed_taxii_cursor *saved)
{
	struct feed_taxii_cursor c = {.us = -1};

	if (saved != NULL && saved->us >= 0) { /* may point into *run */
		c = *saved;
		c.text[FEED_TAXII_TS_MAX - 1] = '\0';
	}
	memset(run, 0, sizeof(*run));
	run->start = run->cursor = c;
}

void
feed_taxii_run_clear(struct feed_taxii_run *run)
{
	hub_free(run->next);
	run->next = NULL;
}

/* Appends s percent-encoded: RFC 3986 unreserved characters as they are,
 * and '[' ']' too when `brackets` (the names match[type] and so on). */
static void
pct_add(struct buf *b, const char *s, int brackets)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~' ||
		    (brackets && (*p == '[' || *p == ']'))) {
			buf_addc(b, (char)*p);
		} else {
			buf_addc(b, '%');
			buf_addc(b, hex[*p >> 4]);
			buf_addc(b, hex[*p & 15]);
		}
	}
}

int
feed_taxii_url(const struct feed_taxii_query *q,
    const struct feed_taxii_run *run, struct buf *out, char *err, size_t errlen)
{
	char sep;
	size_t i;

	if (q->objects_url == NULL || q->objects_url[0] == '\0') {
		buf_seterr(err, errlen, "no objects URL");
		return -1;
	}
	buf_adds(out, q->objects_url);
	sep = strchr(q->objects_url, '?') != NULL ? '&' : '?';
	for (i = 0; i < q->nfilters; i++) {
		if (q->filters[i].name == NULL || q->filters[i].value == NULL)
			continue;
		buf_addc(out, sep);
		sep = '&';
		pct_add(out, q->filters[i].name, 1);
		buf_addc(out, '=');
		pct_add(out, q->filters[i].value, 0);
	}
	if (run->start.us >= 0) {
		buf_addc(out, sep);
		sep = '&';
		buf_adds(out, "added_after=");
		pct_add(out, run->start.text, 0);
	}
	if (q->limit > 0) {
		buf_addc(out, sep);
		sep = '&';
		buf_addf(out, "limit=%u", q->limit);
	}
	if (run->next != NULL) {
		buf_addc(out, sep);
		buf_adds(out, "next=");
		pct_add(out, run->next, 0);
	}
	if (buf_failed(out)) {
		buf_seterr(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Reads a header timestamp (surrounding blanks ignored) into c: 0, or -1
 * when it is not a UTC timestamp of bounded length. */
static int
cursor_set(struct feed_taxii_cursor *c, const char *s)
{
	size_t n;
	int64_t us;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 &&
	    (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
		s[n - 1] == '\n'))
		n--;
	if (n == 0 || n >= FEED_TAXII_TS_MAX ||
	    tstamp_parse(s, n, &us) != TSTAMP_OK || us < 0)
		return -1;
	c->us = us;
	memcpy(c->text, s, n);
	c->text[n] = '\0';
	return 0;
}

/* A next token is printable ASCII of bounded length (it goes into a URL,
 * percent-encoded, and into no log). */
static int
token_ok(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7e)
			return 0;
	return n > 0 && n < FEED_TAXII_NEXT_MAX;
}

/* 1 when the object carries no marking of its own: no non-empty
 * object_marking_refs and no non-empty granular_markings. */
static int
unmarked(json_t *o)
{
	json_t *refs = json_object_get(o, "object_marking_refs");
	json_t *gran = json_object_get(o, "granular_markings");

	if (refs != NULL &&
	    !(json_is_array(refs) && json_array_size(refs) == 0))
		return 0;
	if (gran != NULL &&
	    !(json_is_array(gran) && json_array_size(gran) == 0))
		return 0;
	return 1;
}

/* Appending Jansson's output to a buf, refusing past a bound (written
 * directly: no allocation through Jansson's allocator to free here). */
struct dumpctx {
	struct buf *b;
	size_t max;
};

static int
dump_cb(const char *s, size_t n, void *arg)
{
	struct dumpctx *dc = arg;

	if (n > dc->max || dc->b->len > dc->max - n)
		return -1;
	buf_add(dc->b, s, n);
	return buf_failed(dc->b) ? -1 : 0;
}

/* Writes the envelope {"objects":[...]} of `objs` into page->env, adding
 * the feed's TLP where nothing marks an object. */
static int
render(const struct feed_taxii_query *q, json_t *objs,
    struct feed_taxii_page *page, char *err, size_t errlen)
{
	struct dumpctx dc;
	json_t *o;
	size_t i;

	buf_adds(&page->env, "{\"objects\":[");
	json_array_foreach(objs, i, o)
	{
		const char *type =
		    json_string_value(json_object_get(o, "type"));

		if (!json_is_object(o) || type == NULL ||
		    !json_is_string(json_object_get(o, "id"))) {
			buf_seterr(
			    err, errlen, "objects[%zu]: not a STIX object", i);
			return FEED_TAXII_EPARSE;
		}
		if (q->tlp_id != NULL &&
		    strcmp(type, "marking-definition") != 0 && unmarked(o)) {
			json_t *refs = json_pack("[s]", q->tlp_id);

			if (refs == NULL ||
			    json_object_set_new(
				o, "object_marking_refs", refs) == -1) {
				buf_seterr(err, errlen, "out of memory");
				return FEED_TAXII_ENOMEM;
			}
			page->nmarked++;
		}
		if (i > 0)
			buf_addc(&page->env, ',');
		dc.b = &page->env;
		dc.max = q->max_out;
		if (json_dump_callback(o, dump_cb, &dc, JSON_COMPACT) == -1 ||
		    page->env.len + 2 > q->max_out) {
			buf_seterr(err, errlen, "page over %zu output bytes",
			    q->max_out);
			return FEED_TAXII_ELIMIT;
		}
		page->nobjects++;
	}
	buf_adds(&page->env, "]}");
	if (buf_failed(&page->env)) {
		buf_seterr(err, errlen, "out of memory");
		return FEED_TAXII_ENOMEM;
	}
	return 0;
}

void
feed_taxii_page_init(struct feed_taxii_page *page)
{
	memset(page, 0, sizeof(*page));
	buf_init(&page->env);
}

void
feed_taxii_page_clear(struct feed_taxii_page *page)
{
	buf_clear(&page->env);
	page->nobjects = page->nmarked = 0;
}

int
feed_taxii_read(const struct feed_taxii_query *q, struct feed_taxii_run *run,
    long status, const char *date_added_last, const char *body, size_t len,
    struct feed_taxii_page *page, char *err, size_t errlen)
{
	struct feed_taxii_cursor last = {.us = -1};
	json_error_t je;
	json_t *root = NULL, *objs, *more, *next;
	const char *tok = NULL;
	char *tokcopy = NULL;
	int r, has_more;

	buf_reset(&page->env);
	page->nobjects = page->nmarked = 0;
	if (status != 200) {
		buf_seterr(err, errlen, "HTTP status %ld", status);
		return FEED_TAXII_EHTTP;
	}
	if (len > q->max_body) {
		buf_seterr(err, errlen, "body of %zu bytes, over %zu", len,
		    q->max_body);
		return FEED_TAXII_ELIMIT;
	}
	if (date_added_last != NULL &&
	    cursor_set(&last, date_added_last) == -1) {
		buf_seterr(err, errlen,
		    "X-TAXII-Date-Added-Last: not a UTC timestamp");
		return FEED_TAXII_EHEADER;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL || !json_is_object(root)) {
		buf_seterr(err, errlen, "not a TAXII envelope: %s",
		    root == NULL ? je.text : "not an object");
		r = FEED_TAXII_EPARSE;
		goto fail;
	}
	objs = json_object_get(root, "objects");
	more = json_object_get(root, "more");
	next = json_object_get(root, "next");
	if ((objs != NULL && !json_is_array(objs)) ||
	    (more != NULL && !json_is_boolean(more)) ||
	    (next != NULL && !json_is_string(next))) {
		buf_seterr(
		    err, errlen, "envelope: objects, more or next mistyped");
		r = FEED_TAXII_EPARSE;
		goto fail;
	}
	if (objs != NULL && json_array_size(objs) > q->max_objects) {
		buf_seterr(err, errlen, "page of %zu objects, over %zu",
		    json_array_size(objs), q->max_objects);
		r = FEED_TAXII_ELIMIT;
		goto fail;
	}
	has_more = json_is_true(more);
	if (has_more && next != NULL) {
		tok = json_string_value(next);
		if (!token_ok(tok)) {
			buf_seterr(
			    err, errlen, "envelope: next token unusable");
			r = FEED_TAXII_EPARSE;
			goto fail;
		}
		if ((tokcopy = hub_strdup(tok)) == NULL) {
			buf_seterr(err, errlen, "out of memory");
			r = FEED_TAXII_ENOMEM;
			goto fail;
		}
	}
	if (objs != NULL) {
		if ((r = render(q, objs, page, err, errlen)) != 0)
			goto fail;
	} else
		buf_adds(&page->env, "{\"objects\":[]}");
	buf_cstr(&page->env);
	if (buf_failed(&page->env)) {
		buf_seterr(err, errlen, "out of memory");
		r = FEED_TAXII_ENOMEM;
		goto fail;
	}
	json_decref(root);

	/* the page is good: advance the run */
	run->pages++;
	if (last.us > run->cursor.us) /* never backwards */
		run->cursor = last;
	hub_free(run->next);
	run->next = tokcopy;
	if (!has_more)
		return FEED_TAXII_DONE;
	if (tokcopy == NULL) {
		/* more without next: a new query from the newest cursor,
		 * which must have moved or the same page would come again */
		if (run->cursor.us <= run->start.us || run->cursor.us < 0) {
			buf_seterr(err, errlen,
			    "more=true without next and no newer "
			    "X-TAXII-Date-Added-Last");
			return FEED_TAXII_ESTUCK;
		}
		run->start = run->cursor;
	}
	if (q->max_pages > 0 && run->pages >= q->max_pages) {
		buf_seterr(err, errlen, "%u pages in this run", run->pages);
		return FEED_TAXII_PAUSE;
	}
	return FEED_TAXII_MORE;

fail:
	hub_free(tokcopy);
	json_decref(root);
	buf_reset(&page->env);
	page->nobjects = page->nmarked = 0;
	return r;
}

size_t
feed_taxii_state_write(
    const struct feed_taxii_cursor *c, unsigned char out[FEED_TAXII_STATE_MAX])
{
	uint64_t v = (uint64_t)(c->us < 0 ? -1 : c->us);
	size_t n = c->us < 0 ? 0 : strnlen(c->text, FEED_TAXII_TS_MAX - 1);
	int i;

	out[0] = FEED_TAXII_STATE_V1;
	for (i = 0; i < 8; i++)
		out[1 + i] = (unsigned char)(v >> (56 - 8 * i));
	out[9] = (unsigned char)n;
	memcpy(out + 10, c->text, n);
	return 10 + n;
}

int
feed_taxii_state_read(struct feed_taxii_cursor *c, const void *blob, size_t len)
{
	const unsigned char *p = blob;
	uint64_t v = 0;
	int64_t us, parsed;
	size_t n;
	int i;

	memset(c, 0, sizeof(*c));
	c->us = -1;
	if (p == NULL || len < 10 || p[0] != FEED_TAXII_STATE_V1)
		return -1;
	for (i = 0; i < 8; i++)
		v = v << 8 | p[1 + i];
	us = (int64_t)v;
	n = p[9];
	if (len != 10 + n || n >= FEED_TAXII_TS_MAX)
		return -1;
	if (us == -1 && n == 0)
		return 0;
	if (us < 0 || n == 0 || memchr(p + 10, '\0', n) != NULL ||
	    tstamp_parse((const char *)p + 10, n, &parsed) != TSTAMP_OK ||
	    parsed != us)
		return -1;
	c->us = us;
	memcpy(c->text, p + 10, n);
	c->text[n] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ */
/* the connector (feed.h) */

#define TR_MAX_FILTERS 16
#define TR_MAX_PAGES   1000	   /* pages of one run, then PAUSE */
#define TR_MAX_BODY    (16u << 20) /* when the definition sets none */

struct taxii_run {
	const struct feed_ctx *ctx;
	struct feed_taxii_query q;
	struct feed_taxii_filter filters[TR_MAX_FILTERS];
	char *url;   /* objects_url */
	char *query; /* the def's query, cut into filters */
	struct feed_taxii_run run;
	unsigned char saved[FEED_TAXII_STATE_MAX]; /* the last state given */
	size_t savedlen;
	int asked, done;
};

static void tr_free(struct feed_run *);

/* Cuts "a=b&c=d" (as the feeds file has it, not encoded) into filters. */
static int
tr_filters(struct taxii_run *r, char *err, size_t errlen)
{
	char *p = r->query, *amp, *eq;

	while (p != NULL && *p != '\0') {
		if ((amp = strchr(p, '&')) != NULL)
			*amp = '\0';
		if (*p != '\0') {
			if (r->q.nfilters == TR_MAX_FILTERS)
				return buf_seterr(err, errlen,
				    "query: more than %d filters",
				    TR_MAX_FILTERS);
			if ((eq = strchr(p, '=')) == NULL)
				return buf_seterr(
				    err, errlen, "query: \"%s\" has no '='", p);
			*eq = '\0';
			r->filters[r->q.nfilters].name = p;
			r->filters[r->q.nfilters].value = eq + 1;
			r->q.nfilters++;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return 0;
}

static struct feed_run *
tr_new(const struct feed_ctx *ctx, const struct feed_state *st, char *err,
    size_t errlen)
{
	const struct feed_def *def = ctx->def;
	struct feed_taxii_cursor c = {.us = -1};
	struct taxii_run *r;

	if (def->url == NULL) {
		buf_seterr(err, errlen, "a TAXII feed needs a url");
		return NULL;
	}
	if (st != NULL && st->len > 0 &&
	    feed_taxii_state_read(&c, st->data, st->len) != 0) {
		buf_seterr(err, errlen,
		    "saved state of %zu bytes is not a TAXII cursor", st->len);
		return NULL;
	}
	if ((r = hub_calloc(1, sizeof(*r))) == NULL ||
	    (r->url = feed_url_join(def->url, "objects/")) == NULL ||
	    (r->query = hub_strdup(def->query != NULL ? def->query : "")) ==
		NULL) {
		buf_seterr(err, errlen, "out of memory");
		goto fail;
	}
	r->ctx = ctx;
	if (tr_filters(r, err, errlen) != 0)
		goto fail;
	r->q.objects_url = r->url;
	r->q.filters = r->filters;
	r->q.limit = def->limit > 0 && def->limit <= UINT32_MAX
	    ? (unsigned)def->limit
	    : 0;
	r->q.tlp_id = marking_tlp_id((enum tlp)def->tlp);
	r->q.max_body = def->max_bytes > 0 && def->max_bytes < SIZE_MAX / 2
	    ? (size_t)def->max_bytes
	    : TR_MAX_BODY;
	/* the TLP added to every object: room for it besides the body */
	r->q.max_out = r->q.max_body * 2 + (1u << 20);
	r->q.max_objects = FEED_PAGE_OBJECTS;
	r->q.max_pages = TR_MAX_PAGES;
	feed_taxii_run_init(&r->run, &c);
	r->savedlen = feed_taxii_state_write(&c, r->saved);
	return (struct feed_run *)r;
fail:
	tr_free((struct feed_run *)r);
	return NULL;
}

static int
tr_next(
    struct feed_run *run, struct feed_request *req, char *err, size_t errlen)
{
	struct taxii_run *r = (struct taxii_run *)run;
	struct buf u;

	if (r->done)
		return FEED_DONE;
	memset(req, 0, sizeof(*req));
	buf_init(&u);
	if (feed_taxii_url(&r->q, &r->run, &u, err, errlen) != 0) {
		buf_clear(&u);
		return FEED_ERR;
	}
	buf_cstr(&u);
	if (buf_failed(&u) || (req->url = buf_detach(&u, NULL)) == NULL ||
	    (req->headers[0] = feed_header(
		 "Accept", "application/taxii+json;version=2.1")) == NULL) {
		buf_clear(&u);
		feed_request_clear(req);
		return buf_seterr(err, errlen, "out of memory");
	}
	r->asked = 1;
	return FEED_OK;
}

static int
tr_parse(struct feed_run *run, const struct feed_response *resp,
    struct feed_result *out, char *err, size_t errlen)
{
	struct taxii_run *r = (struct taxii_run *)run;
	struct feed_taxii_page page;
	unsigned char st[FEED_TAXII_STATE_MAX];
	size_t n;
	int rc;

	if (resp == NULL || !r->asked)
		return buf_seterr(err, errlen, "no response to read");
	r->asked = 0;
	feed_taxii_page_init(&page);
	rc = feed_taxii_read(&r->q, &r->run, resp->status,
	    resp->date_added_last, resp->body != NULL ? resp->body : "",
	    resp->body != NULL ? resp->len : 0, &page, err, errlen);
	switch (rc) {
	case FEED_TAXII_MORE:
		out->more = 1;
		break;
	case FEED_TAXII_DONE:
	case FEED_TAXII_PAUSE: /* resumed from the cursor next run */
		r->done = 1;
		break;
	case FEED_TAXII_ESTUCK:
		/* the page is good, the paging is not: keep the page */
		feed_result_error(out, 0, "%s", err);
		r->done = 1;
		break;
	default:
		feed_taxii_page_clear(&page);
		return FEED_ERR;
	}
	if (page.nobjects > 0) {
		out->envelope = page.env;
		buf_init(&page.env);
		out->nobjects = page.nobjects;
	}
	feed_taxii_page_clear(&page);
	/* the cursor, when it moved (it never goes back) */
	n = feed_taxii_state_write(&r->run.cursor, st);
	if (n != r->savedlen || memcmp(st, r->saved, n) != 0) {
		if ((out->state.data = hub_malloc(n)) == NULL) {
			buf_clear(&out->envelope);
			buf_init(&out->envelope);
			return buf_seterr(err, errlen, "out of memory");
		}
		memcpy(out->state.data, st, n);
		out->state.len = n;
		out->has_state = 1;
		memcpy(r->saved, st, n);
		r->savedlen = n;
	}
	return FEED_OK;
}

static void
tr_free(struct feed_run *run)
{
	struct taxii_run *r = (struct taxii_run *)run;

	if (r == NULL)
		return;
	feed_taxii_run_clear(&r->run);
	hub_free(r->url);
	hub_free(r->query);
	hub_free(r);
}

const struct feed_ops feed_taxii_ops = {
    .kind = "taxii",
    .run_new = tr_new,
    .next = tr_next,
    .parse = tr_parse,
    .run_free = tr_free,
};
