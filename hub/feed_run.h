/*
 * feed_run.h -- one run of one feed (feeds/feed.h's lifecycle) on an
 * outbound loop (fetch.h): the connector's requests fetched with the
 * definition's credentials, CA, limits and gzip (a `file` source read from
 * disk), its results handed to the ingest pipeline as the feed member's
 * publications into the feed's collection, and at the end its status and
 * saved state written in one transaction (table `feeds`), only after the
 * store acknowledged every object produced with that state.
 *
 * Used by the daemon's scheduler (feeds.c) and by `ctihub feed run`
 * (cli_feeds.c, where a dry run stores nothing and shows each result).
 * Everything here runs on the fetcher's thread, except where a callback
 * says otherwise.
 */
#ifndef CTIHUB_FEED_RUN_H
#define CTIHUB_FEED_RUN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "../feeds/feed.h"

struct fetcher;
struct pipeline;
struct store;
struct writer;
struct conf;
struct frun;

enum frun_outcome {
	FRUN_OK = 0,	   /* every step worked (line errors may remain) */
	FRUN_FAILED = 1,   /* fetch, connector, store: nothing more stored,
			      the saved state kept as it was */
	FRUN_CANCELLED = 2 /* the hub is stopping */
};

/* What one run did, also kept in the feed's status record. */
struct frun_report {
	int outcome; /* enum frun_outcome */
	int64_t started, ended;
	uint64_t requests;	      /* fetches (and file reads) */
	uint64_t not_modified;	      /* of which answered 304 */
	uint64_t bytes;		      /* bodies received (decoded) */
	uint64_t objects;	      /* handed to the pipeline (or shown) */
	uint64_t stored;	      /* new versions stored */
	uint64_t duplicate;	      /* already stored */
	uint64_t rejected;	      /* refused by validation or the store */
	uint64_t line_errors;	      /* entries skipped by the connector */
	char error[FEED_ERRLEN + 64]; /* why it failed, "" when it did not */
};

/* The feed's status record ('h' in `feeds`): JSON text, so that
 * `ctihub feeds status` and people can read it. */
struct frun_status {
	int64_t last_start, last_end, last_ok, last_fail;
	uint64_t runs, failures, consecutive;
	uint64_t stored_total, line_errors_total, rejected_total;
	struct frun_report last;
};
int frun_status_decode(const void *, size_t, struct frun_status *);
/* hub_malloc'd JSON text in *out, its length in *len: 0 or -1. */
int frun_status_encode(const struct frun_status *, char **out, size_t *len);
/* Folds a finished run into the status. */
void frun_status_add(struct frun_status *, const struct frun_report *);

/* Whether the fetcher's thread can still be called: the writer thread's
 * completions go back to it through fetcher_call under mu, and once the
 * owner set gone (before fetcher_stop frees it) they leave the run to the
 * owner, who frees it with frun_free after the writer stopped. */
struct frun_gate {
	pthread_mutex_t mu;
	int gone;
};

/* A run's environment.  All borrowed for the run. */
struct frun_env {
	struct fetcher *f;
	struct frun_gate *gate;
	struct store *st;	 /* the saved state and status are read here */
	struct pipeline *pl;	 /* NULL: a dry run (nothing stored or saved) */
	struct writer *w;	 /* the status and state records; NULL: dry */
	const struct conf *conf; /* limits (index_observables ...) */
	const unsigned char *secret; /* the store's, 32 bytes: ids' namespace */
	uint32_t coll, producer;     /* codes of the feed's collection and
					member */
	int audit;		     /* 1: publish records for what is stored */
	/* A dry run: each result as the connector made it, before it would
	 * be stored (the envelope, its errors). */
	void (*show)(
	    const struct feed_def *, const struct feed_result *, void *arg);
	/* The end, once, with the status saved (or its save failed: then
	 * the report says so).  From here the run is gone. */
	void (*done)(
	    const struct feed_def *, const struct frun_report *, void *arg);
	void *arg;
};

/* The UUIDv5 namespace of the ids a feed derives: UUIDv5 (in ctihub's
 * namespace) of the store's secret, the member id and the feed's name --
 * per feed, so that two feeds of one member listing the same value keep
 * two indicators (one feed's list dropping it does not expire the
 * other's, and their runs do not take turns making new versions). */
void frun_namespace(const unsigned char secret[32], const char *member,
    const char *feed, unsigned char ns[16]);

/*
 * Starts a run of def (borrowed until done) on env->f's thread (call it
 * there).  Returns the run, or NULL when no connector exists for the kind
 * (done is then not called).  One run per feed at a time is the caller's
 * rule.
 */
struct frun *frun_start(const struct feed_def *def, const struct frun_env *);

/*
 * The hub is stopping (fetch thread): the run asks for nothing more and
 * ends once its request in flight (cancelled by fetcher_stop) and its
 * documents in the pipeline are done, saving what was acknowledged.  done
 * runs then if the gate is still open; else the run waits for frun_free.
 */
void frun_cancel(struct frun *);

/* Frees a run whose done never ran (the gate closed first), once the
 * writer has stopped. */
void frun_free(struct frun *);

#endif
