/*
 * taxii_objects.c -- the object read endpoints (issue 4).
 */
#include "hub.h"

void
taxii_get_objects(struct reqctx *ctx, const struct route *rt)
{
	(void)rt;
	taxii_error(ctx, 501, "Not Implemented", "not yet");
}

void
taxii_get_object(struct reqctx *ctx, const struct route *rt)
{
	(void)rt;
	taxii_error(ctx, 501, "Not Implemented", "not yet");
}

void
taxii_get_versions(struct reqctx *ctx, const struct route *rt)
{
	(void)rt;
	taxii_error(ctx, 501, "Not Implemented", "not yet");
}

void
taxii_get_manifest(struct reqctx *ctx, const struct route *rt)
{
	(void)rt;
	taxii_error(ctx, 501, "Not Implemented", "not yet");
}

void
taxii_delete_object(struct reqctx *ctx, const struct route *rt)
{
	(void)rt;
	taxii_error(ctx, 501, "Not Implemented", "not yet");
}
