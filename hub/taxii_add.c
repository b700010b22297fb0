/*
 * taxii_add.c -- adding objects and status resources (issue 3).
 */
#include "hub.h"

void
taxii_add_objects(struct reqctx *ctx, const struct route *rt)
{
	(void)rt;
	taxii_error(ctx, 501, "Not Implemented", "not yet");
}

void
taxii_get_status(struct reqctx *ctx, const struct route *rt)
{
	(void)rt;
	taxii_error(ctx, 501, "Not Implemented", "not yet");
}
