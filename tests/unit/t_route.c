/*
 * t_route.c -- routing by table (hub/route.c) against a table of its own
 * and stubs of what route.c calls (authentication, access, answers): the
 * order of TAXII's answers (400 path, 401, 404 root, 404 collection with a
 * denied record, 404 shape, 405 with Allow, 406), placeholders bound for
 * the handler, literal rows before placeholders, and a table whose rows
 * need no login asking for none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../hub/hub.h"
#include "../../hub/route.h"

/* --- stubs ----------------------------------------------------------- */

static int auth_answer; /* what auth_request returns */
static int auth_calls, denied_calls, handled;
static const char *handler_name;
static struct member alice = {.id = "alice"};

int
auth_request(
    struct request *ctx, const struct member **out, char *why, size_t whylen)
{
	(void)ctx;
	auth_calls++;
	snprintf(why, whylen, "stub");
	*out = auth_answer == AUTH_OK ? &alice : NULL;
	return auth_answer;
}

int
taxii_can_see(const struct request *ctx, const struct conf_collection *k)
{
	(void)ctx;
	return strcmp(k->title, "hidden") != 0;
}

void
http_audit_denied(struct request *r, const char *coll, const char *why)
{
	(void)r;
	(void)coll;
	(void)why;
	denied_calls++;
}

void
res_header(struct request *r, const char *name, const char *value)
{
	struct response *res = &r->res;

	if (res->nhdr < RESPONSE_MAX_HEADERS) {
		res->hdr[res->nhdr].name = name;
		snprintf(res->hdr[res->nhdr].value, sizeof(res->hdr[0].value),
		    "%s", value);
		res->nhdr++;
	}
}

void
taxii_error(
    struct request *r, int status, const char *title, const char *fmt, ...)
{
	(void)title;
	(void)fmt;
	assert_false(r->res.set); /* one answer per request */
	r->res.set = 1;
	r->res.status = status;
}

/* --- the table ------------------------------------------------------- */

static void
h_named(struct request *ctx)
{
	handler_name = ctx->route->name;
	handled++;
	ctx->res.set = 1;
	ctx->res.status = 200;
}

static const struct route_def rows[] = {
    {"discovery", "/taxii2/", HTTP_GET, h_named, ROUTE_AUTH | ROUTE_TAXII},
    {"root", "/{root}/", HTTP_GET, h_named, ROUTE_AUTH | ROUTE_TAXII},
    {"objects", "/{root}/collections/{coll}/objects/", HTTP_GET, h_named,
	ROUTE_AUTH | ROUTE_TAXII},
    {"add", "/{root}/collections/{coll}/objects/", HTTP_POST, h_named,
	ROUTE_AUTH | ROUTE_TAXII},
    {"object", "/{root}/collections/{coll}/objects/{id}/",
	HTTP_GET | HTTP_DELETE, h_named, ROUTE_AUTH | ROUTE_TAXII},
    {"status", "/{root}/status/{id}/", HTTP_GET, h_named,
	ROUTE_AUTH | ROUTE_TAXII},
};
const struct route_table taxii_routes = {rows, 6};

static const struct route_def open_rows[] = {
    {"health", "/healthz", HTTP_GET, h_named, 0},
};
const struct route_table ops_routes = {open_rows, 1};

static char s_open[] = "open", s_hidden[] = "hidden", s_api1[] = "api1";
static struct conf_collection colls[] = {
    {.id = "6f9d8f5e-4e6c-4a8b-9a10-1f2e3d4c5b6a",
	.title = s_open,
	.alias = s_open},
    {.id = "7a0e9f6d-5d7b-4b9c-8b21-2a3b4c5d6e7f",
	.title = s_hidden,
	.alias = s_hidden},
};
static struct conf_root roots[] = {
    {.name = s_api1, .colls = colls, .ncolls = 2},
};
static struct conf conf = {.roots = roots, .nroots = 1};
static struct runtime rt = {.conf = &conf};
static struct services svc;

static struct request req;

/* Dispatches METHOD PATH (Accept optional); the status answered. */
static int
dispatch(const struct route_table *t, int method, const char *path,
    const char *accept)
{
	memset(&req, 0, sizeof(req));
	req.rt = &rt;
	req.svc = &svc;
	req.table = t;
	req.method = method;
	req.method_name = "M";
	req.path_raw = path;
	req.accept = accept;
	handler_name = NULL;
	route_dispatch(&req);
	assert_true(req.res.set);
	return req.res.status;
}

static const char *
header(const char *name)
{
	int i;

	for (i = 0; i < req.res.nhdr; i++)
		if (strcmp(req.res.hdr[i].name, name) == 0)
			return req.res.hdr[i].value;
	return NULL;
}

static int
setup(void **state)
{
	(void)state;
	auth_answer = AUTH_OK;
	auth_calls = denied_calls = handled = 0;
	return 0;
}

static void
t_found(void **state)
{
	(void)state;
	assert_int_equal(
	    dispatch(&taxii_routes, HTTP_GET, "/taxii2/", NULL), 200);
	assert_string_equal(handler_name, "discovery");
	assert_int_equal(
	    dispatch(&taxii_routes, HTTP_GET, "/api1/", NULL), 200);
	assert_string_equal(handler_name, "root");
	assert_ptr_equal(req.root, &roots[0]);
	assert_int_equal(dispatch(&taxii_routes, HTTP_POST,
			     "/api1/collections/open/objects/", NULL),
	    200);
	assert_string_equal(handler_name, "add");
	assert_ptr_equal(req.coll, &colls[0]);
	/* by id, any case of its hex digits; HEAD goes with GET */
	assert_int_equal(dispatch(&taxii_routes, HTTP_HEAD,
			     "/api1/collections/6F9D8F5E-4E6C-4A8B-9A10-"
			     "1F2E3D4C5B6A/objects/x--1/",
			     "application/taxii+json;version=2.1"),
	    200);
	assert_string_equal(handler_name, "object");
	assert_string_equal(req.path.seg[4], "x--1");
	assert_int_equal(
	    dispatch(&taxii_routes, HTTP_GET, "/api1/status/abc/", NULL), 200);
	assert_string_equal(handler_name, "status");
	assert_int_equal(auth_calls, 5);
}

static void
t_refused_in_order(void **state)
{
	(void)state;
	/* a path that cannot be read: 400, before authentication */
	assert_int_equal(
	    dispatch(&taxii_routes, HTTP_GET, "/api1/../x/", NULL), 400);
	assert_int_equal(auth_calls, 0);
	/* unauthenticated: 401 for any path, existing or not */
	auth_answer = AUTH_NONE;
	assert_int_equal(
	    dispatch(&taxii_routes, HTTP_GET, "/nope/", NULL), 401);
	assert_non_null(header("WWW-Authenticate"));
	auth_answer = AUTH_THROTTLED;
	assert_int_equal(
	    dispatch(&taxii_routes, HTTP_GET, "/api1/", NULL), 429);
	assert_non_null(header("Retry-After"));
	auth_answer = AUTH_OK;
	/* an unknown root, a path with no row */
	assert_int_equal(
	    dispatch(&taxii_routes, HTTP_GET, "/api2/collections/", NULL), 404);
	assert_int_equal(dispatch(&taxii_routes, HTTP_GET, "/", NULL), 404);
	assert_int_equal(
	    dispatch(&taxii_routes, HTTP_GET, "/api1/other/", NULL), 404);
	/* a collection the member may not see: 404 and a denied record,
	 * whatever follows it in the path */
	assert_int_equal(dispatch(&taxii_routes, HTTP_GET,
			     "/api1/collections/hidden/objects/", NULL),
	    404);
	assert_int_equal(dispatch(&taxii_routes, HTTP_GET,
			     "/api1/collections/hidden/junk/", NULL),
	    404);
	assert_int_equal(denied_calls, 2);
	assert_int_equal(dispatch(&taxii_routes, HTTP_GET,
			     "/api1/collections/none/objects/", NULL),
	    404);
	assert_int_equal(denied_calls, 2); /* no such collection at all */
	/* the methods of the path's rows, together */
	assert_int_equal(dispatch(&taxii_routes, HTTP_DELETE,
			     "/api1/collections/open/objects/", NULL),
	    405);
	assert_string_equal(header("Allow"), "GET, HEAD, POST");
	assert_int_equal(dispatch(&taxii_routes, HTTP_OTHER,
			     "/api1/collections/open/objects/x/", NULL),
	    405);
	assert_string_equal(header("Allow"), "GET, HEAD, DELETE");
	/* the Accept of a TAXII row */
	assert_int_equal(
	    dispatch(&taxii_routes, HTTP_GET, "/taxii2/", "application/json"),
	    406);
	assert_int_equal(handled, 0);
}

static void
t_open_table(void **state)
{
	(void)state;
	auth_answer = AUTH_NONE;
	assert_int_equal(
	    dispatch(&ops_routes, HTTP_GET, "/healthz", NULL), 200);
	assert_int_equal(
	    dispatch(&ops_routes, HTTP_GET, "/taxii2/", NULL), 404);
	assert_int_equal(
	    dispatch(&ops_routes, HTTP_POST, "/healthz/", NULL), 405);
	assert_int_equal(auth_calls, 0);
	/* every row has a number, TAXII's first */
	assert_int_equal(route_index(&taxii_routes, &rows[2]), 2);
	assert_int_equal(route_index(&ops_routes, &open_rows[0]), 6);
	assert_int_equal(route_index(&ops_routes, NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(t_found, setup),
	    cmocka_unit_test_setup(t_refused_in_order, setup),
	    cmocka_unit_test_setup(t_open_table, setup),
	};

	return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
