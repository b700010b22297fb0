/*
 * feeds.h -- the daemon's feed scheduler: one outbound loop (fetch.h) of
 * its own on which every enabled feed of the feeds file runs on its
 * schedule (every, plus up to jitter at random), never two runs of one feed
 * at once; each run is feed_run.h's.  A failed run is retried sooner
 * (a minute, doubling, never later than its schedule), never stops the
 * hub, and keeps what the store acknowledged.  What each feed did is in
 * its status record (`ctihub feeds status`) and in /metrics.
 */
#ifndef CTIHUB_FEEDS_H
#define CTIHUB_FEEDS_H

#include <sys/socket.h>

struct hub;
struct runtime;
struct feeds;

/* Makes the engine (no thread yet). */
struct feeds *feeds_new(struct hub *);
/* Starts its thread; after the writer and the pipeline.  0 or -1. */
int feeds_start(struct feeds *, struct runtime *);
/* A reload: the new snapshot's feeds (runs under way finish with the
 * definitions they started with). */
void feeds_reconfigure(struct feeds *, struct runtime *);
/* Before the parser pool drains: no run starts or asks for more; the
 * thread stops. */
void feeds_stop(struct feeds *);
/* After writer_stop: frees the engine. */
void feeds_free(struct feeds *);

/* The feeds' outbound address check: public addresses, and the networks
 * of feed_allow (arg: the engine, whose snapshot it reads). */
int feeds_addr_check(const struct sockaddr *, socklen_t, void *feeds);

#endif
