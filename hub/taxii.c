/*
 * taxii.c -- the TAXII 2.1 route table, and the endpoints that describe
 * the server: discovery, API roots, collections.  The object endpoints
 * are in taxii_objects.c and taxii_add.c; the front of every request
 * (path, authentication, routing) is route.c's.
 */
#include <stdio.h>
#include <string.h>

#include "hub.h"
#include "route.h"

int
taxii_can_read(const struct request *ctx, const struct conf_collection *k)
{
	return acl_allows(&k->read, ctx->member);
}

int
taxii_can_write(const struct request *ctx, const struct conf_collection *k)
{
	return acl_allows(&k->write, ctx->member);
}

static void
add_root_url(struct request *ctx, struct buf *b, const struct conf_root *r)
{
	struct buf u = BUF_INIT;

	http_base_url(ctx, &u);
	buf_addf(&u, "/%s/", r->name);
	buf_add_jstr(b, u.data ? u.data : "", u.len);
	buf_clear(&u);
}

static void
get_discovery(struct request *ctx)
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
get_api_root(struct request *ctx)
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
    struct request *ctx, struct buf *b, const struct conf_collection *k)
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

int
taxii_can_see(const struct request *ctx, const struct conf_collection *k)
{
	return taxii_can_read(ctx, k) || taxii_can_write(ctx, k);
}

static void
get_collections(struct request *ctx)
{
	const struct conf_root *r = ctx->root;
	struct buf b = BUF_INIT;
	int i, n = 0;

	buf_addc(&b, '{');
	for (i = 0; i < r->ncolls; i++) {
		if (!taxii_can_see(ctx, &r->colls[i]))
			continue;
		buf_adds(&b, n++ == 0 ? "\"collections\":[" : ",");
		add_collection(ctx, &b, &r->colls[i]);
	}
	buf_adds(&b, n > 0 ? "]}" : "}");
	http_reply(ctx, 200, &b);
	buf_clear(&b);
}

static void
get_collection(struct request *ctx)
{
	struct buf b = BUF_INIT;

	add_collection(ctx, &b, ctx->coll);
	http_reply(ctx, 200, &b);
	buf_clear(&b);
}

static const struct route_def taxii_rows[] = {
    {"discovery", "/taxii2/", HTTP_GET, get_discovery,
	ROUTE_AUTH | ROUTE_TAXII},
    {"api_root", "/{root}/", HTTP_GET, get_api_root, ROUTE_AUTH | ROUTE_TAXII},
    {"collections", "/{root}/collections/", HTTP_GET, get_collections,
	ROUTE_AUTH | ROUTE_TAXII},
    {"collection", "/{root}/collections/{coll}/", HTTP_GET, get_collection,
	ROUTE_AUTH | ROUTE_TAXII},
    {"status", "/{root}/status/{status-id}/", HTTP_GET, taxii_get_status,
	ROUTE_AUTH | ROUTE_TAXII},
    {"objects", "/{root}/collections/{coll}/objects/", HTTP_GET,
	taxii_get_objects, ROUTE_AUTH | ROUTE_TAXII},
    {"add_objects", "/{root}/collections/{coll}/objects/", HTTP_POST,
	taxii_add_objects, ROUTE_AUTH | ROUTE_TAXII},
    {"manifest", "/{root}/collections/{coll}/manifest/", HTTP_GET,
	taxii_get_manifest, ROUTE_AUTH | ROUTE_TAXII},
    {"object", "/{root}/collections/{coll}/objects/{object-id}/", HTTP_GET,
	taxii_get_object, ROUTE_AUTH | ROUTE_TAXII},
    {"delete_object", "/{root}/collections/{coll}/objects/{object-id}/",
	HTTP_DELETE, taxii_delete_object, ROUTE_AUTH | ROUTE_TAXII},
    {"versions", "/{root}/collections/{coll}/objects/{object-id}/versions/",
	HTTP_GET, taxii_get_versions, ROUTE_AUTH | ROUTE_TAXII},
    {"stream", "/{root}/collections/{coll}/stream/", HTTP_GET, taxii_stream,
	ROUTE_AUTH | ROUTE_SSE},
    /* Accept and Content-Type (TAXII or application/json): the handler's */
    {"lookup", "/{root}/lookup/", HTTP_GET, taxii_lookup_get, ROUTE_AUTH},
    {"lookup_post", "/{root}/lookup/", HTTP_POST, taxii_lookup_post,
	ROUTE_AUTH},
    {"export", "/{root}/collections/{coll}/export/{file}", HTTP_GET,
	taxii_export, ROUTE_AUTH},
    {"misp", "/{root}/collections/{coll}/misp/{file}", HTTP_GET, taxii_misp,
	ROUTE_AUTH},
};

const struct route_table taxii_routes = {
    taxii_rows, (int)(sizeof(taxii_rows) / sizeof(taxii_rows[0]))};
