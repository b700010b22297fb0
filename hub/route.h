/*
 * route.h -- routing by table.  A listener serves one table; each row
 * names a path pattern, the methods it takes and its handler:
 *
 *   {"objects", "/{root}/collections/{coll}/objects/", HTTP_GET,
 *       taxii_get_objects, ROUTE_AUTH | ROUTE_TAXII}
 *
 * A pattern's segments are literal words or placeholders: {root} (an API
 * root of the configuration: ctx->root), {coll} (a collection of that
 * root the member may see at all: ctx->coll, else 404 and a "denied"
 * audit record), or any other {name} (any segment, read by the handler
 * from ctx->path.seg).  Dispatch, in this order, the answers of TAXII 2.1:
 * the path is split (400); the member authenticated when the table's rows
 * need it (401, 429, 503; parked while a password is checked); then the
 * placeholders along the path are bound (404); the row of the path's
 * shape found (404); its method checked (405 with Allow); a TAXII row's
 * Accept checked (406; an event stream's row: text/event-stream); and the
 * handler runs.  A new route is one row
 * and one handler function.
 */
#ifndef CTIHUB_ROUTE_H
#define CTIHUB_ROUTE_H

#include "handler.h"

enum route_flag {
	ROUTE_AUTH = 1,	 /* only for an authenticated member */
	ROUTE_TAXII = 2, /* the Accept header must admit TAXII 2.1 */
	ROUTE_SSE = 4,	 /* ... text/event-stream instead (a stream) */
};

struct route_def {
	const char *name; /* for metrics and logs */
	const char *pattern;
	int methods; /* enum http_method bits; GET takes HEAD too */
	void (*handler)(struct request *);
	int flags; /* enum route_flag */
};

struct route_table {
	const struct route_def *rows;
	int n;
};

/* Routes a request of the transport (ctx->table) to its handler, which
 * answers or defers it (handler.h); again after an authentication that
 * was parked. */
void route_dispatch(struct request *);

/* A route's number among all the tables' rows (TAXII's, then the
 * operations'), for metrics; -1 for NULL (no route matched). */
int route_index(const struct route_table *, const struct route_def *);
/* The names of all rows, in that order (static storage). */
const char *const *route_names(int *n);

/* The tables: TAXII (taxii.c) and operations (ops.c). */
extern const struct route_table taxii_routes;
extern const struct route_table ops_routes;

#endif
