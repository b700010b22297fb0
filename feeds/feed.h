/*
 * feed.h -- the connector interface: what the feed engine asks of a source
 * kind (upstream TAXII, MISP feed, list, CSV, JSON list).  A connector is
 * one file in feeds/ exporting one `struct feed_ops` (a table of function
 * pointers, like Redis's ConnectionType); feed_ops_find() picks it by the
 * definition's kind (feedconf.h).
 *
 * A connector does no I/O.  It says what to fetch next and turns what was
 * fetched into STIX; the engine does the rest: the schedule on the
 * outbound loop (hub/fetch.h), the transfer with the definition's
 * credentials and limits, the hand-off to the ingest pipeline
 * (hub/pipeline.h, as the feed's member into its collection), the saved
 * state in LMDB, counting and logging failures with the feed's name.
 *
 * Lifecycle of one run:
 *
 *   st = the saved state (NULL the first time)
 *   run = ops->run_new(&ctx, st)
 *   loop:
 *       ops->next(run, &req)             what to fetch (FEED_DONE: no more;
 *                                        FEED_CONT: nothing, parse again)
 *       the engine fetches req           (transport failure: the run fails)
 *       ops->parse(run, &resp, &out)     the objects, the errors, the state
 *                                        (resp NULL after FEED_CONT)
 *       the engine stores out.envelope   (pipe_start; failure: run fails)
 *       once the store acknowledged all of it (pipe_doc_cb STORE_OK):
 *           the engine saves out.state (if set) in place of st
 *       out.more ? loop : end
 *   ops->run_free(run)
 *
 * The rule that makes failures harmless: state is saved only after the
 * store acknowledged every object produced with it, and a connector
 * never expires or revokes anything except through the objects of a
 * result (a new version with valid_until or revoked set), so a failed run
 * (network, TLS, HTTP error, malformed document, store failure, hub
 * stopping) loses no cursor progress already acknowledged and expires
 * nothing: the next run starts from the last saved state.  A connector
 * must therefore derive everything it needs from (definition, saved
 * state, responses of this run); nothing survives a run in memory.
 * A document that fails whole (FEED_ERR from parse) fails the run; lines
 * that fail alone are reported in out.errors and skipped.
 *
 * Threads: every call of a run happens on the fetch thread, one at a time;
 * runs of different feeds are independent.  Calls must not block: parse
 * may be given tens of megabytes, and should stay linear in them.
 */
#ifndef CTIHUB_FEED_H
#define CTIHUB_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/buf.h"
#include "ctihub/feedconf.h"

/* Return codes of the operations. */
enum feed_rc {
	FEED_OK = 0,   /* done what was asked */
	FEED_DONE = 1, /* next: the run has nothing more to fetch */
	FEED_ERR = -1, /* the run fails (the reason in err); nothing of
			  this step is stored or saved */
	FEED_CONT = 2, /* next: nothing to fetch; parse again with resp
			  NULL, to produce the next part of what the last
			  response held (a list's next page of indicators) */
};

/* Indicators (objects) in one result, at most: a connector that turns one
 * response into more splits them over results (more set, next answering
 * FEED_CONT), and saves the state with the last one only. */
#define FEED_PAGE_OBJECTS 10000

#define FEED_MAX_HEADERS 8   /* request header lines a connector adds */
#define FEED_ERRLEN	 256 /* room for an operation's reason */
#define FEED_MAX_ERRORS	 100 /* per-line errors kept per result */

/* A saved state: opaque bytes the connector alone reads and writes (JSON
 * text by convention, for `ctihub feeds status` and debugging).  The
 * engine stores them whole under the feed's name and gives them back
 * unchanged.  Examples: list, csv, json: the ETag, Last-Modified and the
 * snapshot's entries (to find what vanished); taxii: the added_after
 * cursor (X-TAXII-Date-Added-Last, microseconds kept); misp: each event's
 * timestamp from the last manifest. */
struct feed_state {
	void *data; /* hub_malloc'd */
	size_t len;
};

/* The next request of a run.  The engine adds the definition's
 * credentials (Basic, token, client certificate), CA, timeout and
 * max_bytes, and asks for gzip; the connector adds what depends on the
 * state (conditional headers) or the protocol (Accept). */
struct feed_request {
	char *url; /* https://..., hub_malloc'd (the engine frees); for a
		      `file` source, NULL: the engine reads def->path */
	/* "Name: value" lines, hub_malloc'd, NULL-terminated: If-None-Match,
	 * If-Modified-Since, Accept ... (no CR or LF) */
	char *headers[FEED_MAX_HEADERS + 1];
};

/* What came back, as the engine gives it to parse (borrowed, valid
 * during the call). */
struct feed_response {
	long status;	  /* 200, 304 ...; a file source: 200, or 304
				 when the request had "If-Modified-Since: X"
				 and X is exactly the file's mtime as
				 Last-Modified gives it */
	const char *body; /* decompressed, NUL-terminated; NULL if none */
	size_t len;	  /* at most def->max_bytes */
	const char *content_type;     /* NULL when absent, as the next ones */
	const char *etag;	      /* ETag */
	const char *last_modified;    /* Last-Modified (a file source: its
				      mtime, in the same format) */
	const char *date_added_first; /* X-TAXII-Date-Added-First */
	const char *date_added_last;  /* X-TAXII-Date-Added-Last */
	int64_t now;		      /* microseconds since the epoch, when the
					 response was received */
};

/* One entry that could not be used (a malformed line, a value of no known
 * type): skipped, counted and logged with the feed's name. */
struct feed_error {
	long line; /* 1-based line (list, csv) or element (json, taxii,
		      misp: the object's index), 0: the document */
	char msg[FEED_ERRLEN];
};

/* What a response turned into. */
struct feed_result {
	/* a TAXII envelope, {"objects":[...]}, for pipe_start: new
	 * indicators and SCOs, new versions (expired, revoked), upstream
	 * objects as they are (TLP applied to unmarked ones); empty (len
	 * 0): nothing to store */
	struct buf envelope;
	size_t nobjects;
	struct feed_error errors[FEED_MAX_ERRORS];
	int nerrors;
	long errors_dropped; /* beyond FEED_MAX_ERRORS */
	/* the state to save once the envelope is stored; has_state 0:
	 * keep the saved one (a 304, say) */
	int has_state;
	struct feed_state state;
	int more; /* 1: the run goes on (the next TAXII page, the next MISP
		     event): call next again */
};

struct feed_run; /* a connector's context of one run, opaque */

/* What the engine tells a run besides the definition. */
struct feed_ctx {
	const struct feed_def *def; /* borrowed, valid during the run */
	/* The UUIDv5 namespace of every id the feed derives (indicators of
	 * list entries, of MISP attributes, reports): the hub's own, derived
	 * from the store's secret and the feed's member, so that ids are
	 * stable for this hub and this member yet unpredictable to anyone
	 * else (ids belong to the producer that first publishes them: a
	 * predictable id could be taken first by another member, and the
	 * feed's objects refused). */
	unsigned char ns[16];
	/* The publishing member's id (def->member). */
	const char *member;
	int64_t now; /* microseconds since the epoch: the run's start */
};

struct feed_ops {
	const char *kind; /* feed_kind_name(): "taxii", "list" ... */
	/* Starts a run of ctx->def (ctx borrowed, valid during the run)
	 * from the saved state (borrowed, valid during this call only; NULL
	 * the first time).  The run, or NULL with the reason in err (a state
	 * it cannot read: the engine reports it and may start again from
	 * NULL when the admin resets the feed). */
	struct feed_run *(*run_new)(const struct feed_ctx *ctx,
	    const struct feed_state *state, char *err, size_t errlen);
	/* Fills req with the next request: FEED_OK, FEED_DONE (nothing more
	 * to fetch: the run ends), FEED_CONT (nothing to fetch: parse is
	 * called again with resp NULL) or FEED_ERR.  Called first after
	 * run_new and after each parse whose result had `more` set. */
	int (*next)(struct feed_run *, struct feed_request *req, char *err,
	    size_t errlen);
	/* Turns the response to the last request (NULL after FEED_CONT)
	 * into out (zeroed by the
	 * engine, buf_init'd; cleared with feed_result_clear): FEED_OK or
	 * FEED_ERR (the whole response is unusable: an HTTP error, not the
	 * expected format, over a limit).  A 304 is FEED_OK with nothing to
	 * store and no new state. */
	int (*parse)(struct feed_run *, const struct feed_response *resp,
	    struct feed_result *out, char *err, size_t errlen);
	/* Ends the run, done or failed; NULL is a no-op. */
	void (*run_free)(struct feed_run *);
};

/* The connector of a kind (enum feed_kind), or NULL when no connector for
 * it is built yet.  Borrowed, static. */
const struct feed_ops *feed_ops_find(int kind);

/* Helpers for the engine and connectors. */
void feed_request_clear(struct feed_request *);
void feed_result_init(struct feed_result *);
void feed_result_clear(struct feed_result *);
/* Adds a per-line error (printf-style), counting it in errors_dropped when
 * errors[] is full. */
void feed_result_error(struct feed_result *, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void feed_state_clear(struct feed_state *);
/* A request header line "name: value", hub_malloc'd (caller frees), or
 * NULL when value holds a CR, LF or NUL-less control byte, is longer than
 * FEED_HEADER_MAX, or memory runs out. */
#define FEED_HEADER_MAX 1024
char *feed_header(const char *name, const char *value);
/* base and then suffix, hub_malloc'd (caller frees), or NULL. */
char *feed_url_join(const char *base, const char *suffix);

#endif
