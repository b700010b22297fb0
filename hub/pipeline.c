/*
 * pipeline.c -- the ingest pipeline (see pipeline.h for the stages and
 * the ownership rules): framing on the caller's thread, batches parsed in
 * chunks on the parser pool, each batch one writer message, the source told
 * after each commit and once at the end.  The only state shared between
 * threads is a document's reference count, its count of batches in
 * flight (under its lock), and each batch's count of chunks to go.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/ingest.h"
#include "ctihub/log.h"
#include "ctihub/tstamp.h"
#include "ctihub/workq.h"

#include "pipeline.h"
#include "writer.h"

#define PIPE_CHUNK 256 /* objects per parser task */

struct pipeline {
	struct workq *pool;
	struct writer *writer;
	struct store *store;
};

struct pipe_doc {
	struct pipeline *pl;
	struct pipe_params p; /* its strings point into the copies below */
	char status_id[CONF_ID_LEN];
	char member[MEMBER_ID_MAX];
	char coll[CONF_ID_LEN];
	struct ingest_doc d;
	atomic_int refs;
	pthread_mutex_t lock; /* the fields below */
	int in_flight;	      /* batches cut and not yet done */
	int pumping;	      /* a dispatcher is cutting batches */
	int exhausted;	      /* every object is in a batch */
	int batches;	      /* cut so far */
	int rc;		      /* the first failure */
};

struct pipe_batch {
	struct wmsg m; /* first: the writer hands it back; it owns the
			  batch (m.u.add.batch) */
	struct pipe_doc *doc;
	atomic_size_t pending; /* chunks to parse, +1 while queuing them */
};

struct pipe_chunk {
	struct pipe_batch *pb;
	size_t from;
};

static void pump(struct pipe_doc *);

struct pipeline *
pipe_new(struct workq *pool, struct writer *wr, struct store *st)
{
	struct pipeline *pl;

	if ((pl = hub_calloc(1, sizeof(*pl))) == NULL)
		return NULL;
	pl->pool = pool;
	pl->writer = wr;
	pl->store = st;
	return pl;
}

void
pipe_free(struct pipeline *pl)
{
	hub_free(pl);
}

/* Drops a reference; the last one tells the source and frees. */
static void
doc_unref(struct pipe_doc *pd)
{
	if (atomic_fetch_sub(&pd->refs, 1) != 1)
		return;
	pd->p.doc_done(pd->rc, pd->p.arg);
	ingest_close(&pd->d);
	pthread_mutex_destroy(&pd->lock);
	hub_free(pd);
}

static void
pump_task(void *arg)
{
	pump(arg);
}

/* In the writer thread, once, after the batch's commit or failure. */
static void
batch_done(struct wmsg *m, int rc)
{
	struct pipe_batch *pb = (struct pipe_batch *)m;
	struct pipe_doc *pd = pb->doc;
	int more;

	if (pd->p.batch_done != NULL)
		pd->p.batch_done(&m->u.add.batch, rc, pd->p.arg);
	wmsg_clear(m);
	hub_free(pb);
	pthread_mutex_lock(&pd->lock);
	if (rc != STORE_OK && pd->rc == STORE_OK)
		pd->rc = rc;
	pd->in_flight--;
	/* room for another batch: cut it on the pool, not here */
	more = !pd->exhausted && !pd->pumping;
	if (more) {
		pd->pumping = 1;
		atomic_fetch_add(&pd->refs, 1); /* the dispatcher's */
	}
	pthread_mutex_unlock(&pd->lock);
	if (more && workq_push(pd->pl->pool, pump_task, pd) == -1)
		pump(pd);
	doc_unref(pd); /* the batch's */
}

/* Drops one count of a batch; the last one hands it to the writer, as a
 * message that refers to nothing of the document's text. */
static void
batch_release(struct pipe_batch *pb)
{
	struct pipe_doc *pd;
	struct wmsg_add *a = &pb->m.u.add;

	if (atomic_fetch_sub(&pb->pending, 1) != 1)
		return;
	pd = pb->doc;
	hub_free(a->batch.spans); /* slices of the text, parsed now */
	a->batch.spans = NULL;
	a->batch.marks = NULL;
	a->coll = pd->p.coll;
	a->producer = pd->p.producer;
	a->now = tstamp_now();
	if (pd->p.status_id != NULL) {
		memcpy(a->status_id, pd->status_id, sizeof(a->status_id));
		a->status_ts = pd->p.status_ts;
		a->status_expires = pd->p.status_expires;
	}
	if (pd->p.audit_member != NULL) {
		a->audit = 1;
		memcpy(a->member, pd->member, sizeof(a->member));
		memcpy(a->coll_id, pd->coll, sizeof(a->coll_id));
	}
	pb->m.done = batch_done;
	writer_submit(pd->pl->writer, &pb->m);
}

static void
chunk_task(void *arg)
{
	struct pipe_chunk *c = arg;
	struct pipe_batch *pb = c->pb;

	ingest_range(&pb->m.u.add.batch, c->from, c->from + PIPE_CHUNK);
	hub_free(c);
	batch_release(pb);
}

/* Queues the chunks of a batch, holding the batch's extra count until
 * the last one is queued. */
static void
fan_out(struct pipeline *pl, struct pipe_batch *pb)
{
	size_t from, n = pb->m.u.add.batch.n;

	atomic_store(&pb->pending, (n + PIPE_CHUNK - 1) / PIPE_CHUNK + 1);
	for (from = 0; from < n; from += PIPE_CHUNK) {
		struct pipe_chunk *c = hub_malloc(sizeof(*c));

		if (c != NULL) {
			c->pb = pb;
			c->from = from;
		}
		if (c == NULL || workq_push(pl->pool, chunk_task, c) == -1) {
			/* run it here rather than lose it */
			hub_free(c);
			ingest_range(
			    &pb->m.u.add.batch, from, from + PIPE_CHUNK);
			batch_release(pb);
		}
	}
	batch_release(pb); /* the dispatcher's count: the last use of pb */
}

/*
 * The dispatcher: cuts batches while fewer than in_flight are under way,
 * then stops; batch_done starts it again.  Called holding a reference to
 * the document, which it drops.
 */
static void
pump(struct pipe_doc *pd)
{
	size_t max = pd->p.batch > 0 ? pd->p.batch : pd->d.doc.nobjects;
	struct pipe_batch *pb;
	long n;

	for (;;) {
		pthread_mutex_lock(&pd->lock);
		if (pd->exhausted || pd->in_flight >= pd->p.in_flight) {
			pd->pumping = 0;
			pthread_mutex_unlock(&pd->lock);
			break;
		}
		pd->in_flight++;
		pthread_mutex_unlock(&pd->lock);
		if ((pb = hub_calloc(1, sizeof(*pb))) != NULL)
			wmsg_init(&pb->m, WMSG_ADD);
		if (pb == NULL ||
		    (n = ingest_next(&pd->d, &pb->m.u.add.batch, max)) == -1 ||
		    ingest_markings(&pb->m.u.add.batch) == -1) {
			log_warnx("ingest: out of memory");
			if (pb != NULL)
				wmsg_clear(&pb->m);
			hub_free(pb);
			n = -1;
		}
		pthread_mutex_lock(&pd->lock);
		/* the end; but a document always has a batch (its status) */
		if (n <= 0 && (n == -1 || pd->batches > 0)) {
			pd->exhausted = 1;
			pd->in_flight--;
			pd->pumping = 0;
			if (n == -1 && pd->rc == STORE_OK)
				pd->rc = STORE_ERR;
			pthread_mutex_unlock(&pd->lock);
			if (n == 0) {
				wmsg_clear(&pb->m);
				hub_free(pb);
			}
			break;
		}
		pd->batches++;
		if (n < (long)max || pd->d.taken == pd->d.doc.nobjects)
			pd->exhausted = 1;
		pthread_mutex_unlock(&pd->lock);
		pb->doc = pd;
		atomic_fetch_add(&pd->refs, 1); /* the batch's */
		fan_out(pd->pl, pb);
	}
	doc_unref(pd); /* the dispatcher's */
}

int
pipe_start(struct pipeline *pl, const char *text, size_t len,
    const struct pipe_params *p, char *err, size_t errlen)
{
	struct pipe_doc *pd;
	int rc;

	if ((pd = hub_calloc(1, sizeof(*pd))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return INGEST_ENOMEM;
	}
	rc = ingest_open(
	    &pd->d, text, len, p->max_objects, p->max_depth, err, errlen);
	if (rc != 0) {
		hub_free(pd);
		return rc;
	}
	pd->pl = pl;
	pd->p = *p;
	/* the strings are the document's own: the caller's may go */
	if (p->status_id != NULL) {
		snprintf(
		    pd->status_id, sizeof(pd->status_id), "%s", p->status_id);
		pd->p.status_id = pd->status_id;
	}
	if (p->audit_member != NULL) {
		snprintf(pd->member, sizeof(pd->member), "%s", p->audit_member);
		snprintf(pd->coll, sizeof(pd->coll), "%s",
		    p->audit_coll != NULL ? p->audit_coll : "");
		pd->p.audit_member = pd->member;
		pd->p.audit_coll = pd->coll;
	}
	if (pd->p.in_flight < 1)
		pd->p.in_flight = 1;
	pd->d.store = pl->store;
	pd->d.producer = p->producer;
	pd->d.index_obs = p->index_obs;
	pd->d.max_obs = p->max_obs;
	pthread_mutex_init(&pd->lock, NULL);
	atomic_init(&pd->refs, 1); /* the dispatcher's */
	pd->pumping = 1;
	pump(pd);
	return 0;
}
