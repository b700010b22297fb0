/*
 * taxii_status.h -- the TAXII 2.1 status resource (4.3.1) of an Add
 * Objects request, rendered from what the parser said of each object
 * (struct ingest_meta) and what the store did with it (store_obj result
 * and date_added).  One renderer for both uses: the writer stores the
 * document with the objects, in their transaction, and the worker answers
 * the 202 with it after the commit; the same inputs give the same bytes,
 * so the reply is what Get Status returns.  No I/O.
 */
#ifndef CTIHUB_TAXII_STATUS_H
#define CTIHUB_TAXII_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/buf.h"
#include "ctihub/ingest.h"
#include "ctihub/store.h"

/*
 * Appends the status resource `status_id` of a request made at
 * `request_ts` (us) for the n objects meta[] and objs[] (the results of
 * store_wput) to out; an allocation failure is buf_failed(out).
 */
void taxii_status_render(struct buf *out, const char *status_id,
    int64_t request_ts, const struct ingest_meta *meta,
    const struct store_obj *objs, size_t n);

#endif
