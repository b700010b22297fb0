/*
 * pipeline.h -- the one ingest pipeline: a document in (a posted TAXII
 * envelope, a bundle file, a feed's download), its objects durably stored
 * out.  Add Objects (taxii_add.c), ctihub import (cli_import.c) and the
 * feed connectors all go through it:
 *
 *   frame  on the caller's thread: the whole document is framed
 *          (ingest_open) before any per-object state exists, and refused
 *          at once when it is not an envelope or bundle;
 *   parse  the document is cut into batches; each batch is parsed and
 *          validated in chunks on the parser pool (fan-out), at most
 *          `in_flight` batches at a time;
 *   write  the chunk that finishes a batch last hands it to the writer as
 *          one message (WMSG_ADD, owning the batch: fan-in), committed in
 *          a group with other messages;
 *   done   the source hears of each batch after its commit, then of the
 *          document once.
 *
 * Ownership and lifetime (why no thread can use what another freed):
 *   - pipe_start returning 0 hands the document to the pipeline.  From
 *     then on the caller touches neither the pipeline's state nor `arg`:
 *     the callbacks may already have run, and freed `arg`, on another
 *     thread or inside pipe_start itself.  Whatever the caller needs back
 *     comes through the callbacks.
 *   - A document is reference-counted: one reference for the dispatcher
 *     that is cutting batches, one per batch not yet done.  Whoever drops
 *     the last one calls doc_done and frees the document; `text` is
 *     borrowed until doc_done is called (which may free it).
 *   - A batch counts its chunks still to parse plus one for the dispatcher
 *     while it queues them.  Whoever brings the count to zero owns the
 *     batch and hands it to the writer; nobody touches a batch after
 *     dropping their count.
 * No I/O of its own.
 */
#ifndef CTIHUB_PIPELINE_H
#define CTIHUB_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/buf.h"
#include "ctihub/ingest.h"
#include "ctihub/store.h"

struct pipeline;
struct workq;
struct writer;

/* In the writer thread, once per batch, after its commit (rc STORE_OK) or
 * failure (nothing of the batch stored): the batch's results (objs[]
 * result and date_added, with meta[], as taxii_status_render takes them)
 * are final here and freed when it returns. */
typedef void pipe_batch_cb(const struct ingest_batch *, int rc, void *arg);
/* Once per started document, after its last batch_done: rc is STORE_OK
 * when every batch was stored, else the first failure (STORE_ERR when the
 * pipeline itself ran out of memory). */
typedef void pipe_doc_cb(int rc, void *arg);

struct pipe_params {
	uint32_t coll;
	uint32_t producer;
	size_t max_objects; /* more is refused (INGEST_ETOOMANY) */
	int max_depth;
	int index_obs; /* 1: index each object's observables (ingest_doc) */
	int max_obs;   /* at most this many each (max_observables) */
	/* objects per writer message; 0: the whole document in one (all or
	 * nothing, with one status: a TAXII request) */
	size_t batch;
	int in_flight; /* batches between framing and done (>= 1) */
	/* with a status_id (and batch 0): the TAXII status resource of the
	 * document, stored by the writer in the transaction that stores its
	 * objects, for the producer, until status_expires (writer.h
	 * WMSG_ADD); batch_done renders the same from the batch */
	const char *status_id;
	int64_t status_ts; /* the request's time */
	int64_t status_expires;
	/* with audit_member: each batch's publish record (member, collection
	 * id, status id), stored by the writer with its objects */
	const char *audit_member;
	const char *audit_coll;
	pipe_batch_cb *batch_done; /* may be NULL */
	pipe_doc_cb *doc_done;
	void *arg;
};

/* Shares a parser pool, a writer and the store they write (all borrowed;
 * free the pipeline after draining the pool and before stopping the
 * writer). */
struct pipeline *pipe_new(struct workq *, struct writer *, struct store *);
void pipe_free(struct pipeline *);

/*
 * Frames `text` on the calling thread and starts it through the pipeline.
 * Returns 0 (the document now belongs to the pipeline: see above; it has
 * at least one batch, empty for an empty document, unless the pipeline
 * runs out of memory), or an ingest_err with the reason in err: then
 * nothing started and no callback runs.
 */
int pipe_start(struct pipeline *, const char *text, size_t len,
    const struct pipe_params *, char *err, size_t errlen);

#endif
