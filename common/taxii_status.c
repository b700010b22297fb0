/*
 * taxii_status.c -- the status resource of an Add Objects request, from
 * each object's parse findings and store result (taxii_status.h).  Used
 * by the writer, which stores it, and by the worker's 202 reply; it reads
 * nothing but its arguments.
 */
#include <string.h>

#include "ctihub/taxii_status.h"
#include "ctihub/tstamp.h"

static int
failed(const struct ingest_meta *m, const struct store_obj *o)
{
	return !(m->ok && !ingest_refused(o));
}

static void
detail(struct buf *out, const struct ingest_meta *m, const struct store_obj *o,
    const char *req_ts, int failure)
{
	char ts[TSTAMP_LEN];
	const char *version = m->version, *what = NULL;

	if (version == NULL) {
		/* no modified or created (SCOs): the date it was added */
		if (m->ok && o->date_added != 0) {
			tstamp_format(o->date_added, 6, ts);
			version = ts;
		} else
			version = req_ts;
	}
	buf_adds(out, "{\"id\":");
	buf_add_jstr(out, m->id, strlen(m->id));
	buf_adds(out, ",\"version\":");
	buf_add_jstr(out, version, strlen(version));
	if (!failure) {
		if (o->result == STORE_DUP)
			what = "already in this collection";
		else if (o->result == STORE_LINKED)
			what = "already stored; added to this collection";
	} else if (m->ok && o->result == STORE_OWNED)
		what = "refused: this id belongs to another producer (only "
		       "the producer that first published an id adds versions "
		       "of it) [ownership]";
	else if (m->ok)
		what = "refused: too many versions of this object or too many "
		       "collections holding it";
	if (what != NULL || m->msg != NULL) {
		struct buf msg = BUF_INIT;

		if (what != NULL)
			buf_adds(&msg, what);
		if (m->msg != NULL) {
			if (what != NULL)
				buf_adds(&msg, "; ");
			buf_adds(&msg, m->ok ? "warnings: " : "");
			buf_adds(&msg, m->msg);
		}
		if (buf_failed(&msg))
			out->failed = 1;
		buf_adds(out, ",\"message\":");
		buf_add_jstr(out, msg.data ? msg.data : "", msg.len);
		buf_clear(&msg);
	}
	buf_addc(out, '}');
}

void
taxii_status_render(struct buf *out, const char *status_id, int64_t request_ts,
    const struct ingest_meta *meta, const struct store_obj *objs, size_t n)
{
	char ts[TSTAMP_LEN];
	size_t i, nok = 0, nfail = 0;
	int pass;

	tstamp_format(request_ts, 6, ts);
	for (i = 0; i < n; i++) {
		if (!failed(&meta[i], &objs[i]))
			nok++;
		else
			nfail++;
	}
	buf_addf(out,
	    "{\"id\":\"%s\",\"status\":\"complete\",\"request_timestamp\":"
	    "\"%s\",\"total_count\":%zu,\"success_count\":%zu",
	    status_id, ts, n, nok);
	for (pass = 0; pass < 2; pass++) {
		size_t want = pass == 0 ? nok : nfail, k = 0;

		if (pass == 1)
			buf_addf(out, ",\"failure_count\":%zu", nfail);
		if (want == 0)
			continue;
		buf_adds(
		    out, pass == 0 ? ",\"successes\":[" : ",\"failures\":[");
		for (i = 0; i < n; i++) {
			int f = failed(&meta[i], &objs[i]);

			if (f != pass)
				continue;
			if (k++ > 0)
				buf_addc(out, ',');
			detail(out, &meta[i], &objs[i], ts, f);
		}
		buf_addc(out, ']');
	}
	buf_adds(out, ",\"pending_count\":0}");
}
