/*
 * t_pipeline.c -- the ingest pipeline (hub/pipeline.c) over a real store,
 * writer and parser pool: documents cut into batches, bounded batches in
 * flight, the callbacks each once and in order, refusals before anything
 * starts, markings across batches, the status resource, and many
 * documents at once on a pool of one or several threads (the lifetime
 * rules under ASan and TSan: issue #9, item 15).  The status is rendered
 * after the commit from the batch's results, as Add Objects does, and
 * must be the bytes the writer stored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>

#include "ctihub/buf.h"
#include "ctihub/ingest.h"
#include "ctihub/log.h"
#include "ctihub/store.h"
#include "ctihub/taxii_status.h"
#include "ctihub/workq.h"

#include "../../hub/pipeline.h"
#include "../../hub/writer.h"

#define COLL	  0x11111111u
#define PRODUCER  0xaaaa0001u
#define STATUS_TS 1700000000000000

static char dir[64];
static struct store *st;
static struct writer *wr;
static struct workq *pool;
static struct pipeline *pl;

static void
start(int threads)
{
	char err[256];

	snprintf(dir, sizeof(dir), "/tmp/t_pipeline.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(
	    store_open(&st, dir, 1ULL << 30, err, sizeof(err)), STORE_OK);
	assert_non_null(wr = writer_start(st, 0));
	assert_non_null(pool = workq_new(threads, "parse", 0));
	assert_non_null(pl = pipe_new(pool, wr, st));
}

static void
stop(void)
{
	char cmd[128];

	workq_free(pool);
	pipe_free(pl);
	writer_stop(wr);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* An envelope of n objects; every `bad`-th one (from 1) invalid. */
static char *
envelope(size_t n, size_t bad, unsigned seed, size_t *len)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_adds(&b, "{\"objects\": [");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_adds(&b, ",\n  ");
		if (bad > 0 && (i + 1) % bad == 0) {
			buf_addf(
			    &b, "{\"type\": \"indicator\", \"n\": %zu}", i);
			continue;
		}
		buf_addf(&b,
		    "{\"type\":\"indicator\",\"spec_version\":\"2.1\","
		    "\"id\":\"indicator--%08x-%04zx-4000-8000-000000000000\","
		    "\"created\":\"2024-01-01T00:00:00.000Z\","
		    "\"modified\":\"2024-01-01T00:00:00.000Z\","
		    "\"pattern\":\"[ipv4-addr:value = '10.0.%zu.%zu']\","
		    "\"pattern_type\":\"stix\","
		    "\"valid_from\":\"2024-01-01T00:00:00Z\"}",
		    seed, i, i / 256, i % 256);
	}
	buf_adds(&b, "]}");
	assert_false(buf_failed(&b));
	return buf_detach(&b, len);
}

/* What the callbacks saw of one document. */
struct seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int batches;	/* batch_done calls */
	int docs;	/* doc_done calls */
	int after_done; /* batch_done after doc_done: never */
	int rc;
	size_t objects, ok;
	size_t first[64]; /* each batch's first index, in done order */
	struct buf status;
	char status_id[37];
	char *text; /* freed by doc_done */
};

static void
seen_init(struct seen *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
}

static void
seen_wait(struct seen *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->docs == 0)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

static void
seen_clear(struct seen *s)
{
	buf_clear(&s->status);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
}

static void
on_batch(const struct ingest_batch *b, int rc, void *arg)
{
	struct seen *s = arg;
	struct ingest_counts c;

	pthread_mutex_lock(&s->lock);
	if (s->docs > 0)
		s->after_done++;
	if (s->batches < 64)
		s->first[s->batches] = b->first;
	s->batches++;
	if (rc != STORE_OK && s->rc == STORE_OK)
		s->rc = rc;
	ingest_count(b, &c);
	/* the status, as taxii_add.c renders the reply: from the results,
	 * after the commit, by the function the writer stored it with */
	if (s->status_id[0] != '\0' && rc == STORE_OK)
		taxii_status_render(&s->status, s->status_id, STATUS_TS,
		    b->meta, b->objs, b->n);
	s->objects += b->n;
	s->ok += c.stored + c.linked + c.duplicate;
	pthread_mutex_unlock(&s->lock);
}

static void
on_doc(int rc, void *arg)
{
	struct seen *s = arg;

	free(s->text);
	s->text = NULL;
	pthread_mutex_lock(&s->lock);
	s->docs++;
	if (rc != STORE_OK && s->rc == STORE_OK)
		s->rc = rc;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static struct pipe_params
params(struct seen *s, size_t batch, int in_flight)
{
	struct pipe_params p;

	memset(&p, 0, sizeof(p));
	p.coll = COLL;
	p.producer = PRODUCER;
	p.max_objects = 100000;
	p.max_depth = 32;
	p.batch = batch;
	p.in_flight = in_flight;
	p.batch_done = on_batch;
	p.doc_done = on_doc;
	p.arg = s;
	return p;
}

/* Entries in the collection. */
static size_t
stored(void)
{
	struct store_reader *r;
	struct store_item it;
	size_t n = 0;

	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_walk_start(r, COLL, 0), STORE_OK);
	while (store_walk_next(r, &it) == 1)
		n++;
	store_rend(r);
	store_reader_free(r);
	return n;
}

/* A document in batches: each batch once, every object once, doc_done
 * last; a pool of one thread with several batches in flight. */
static void
t_batches(void **state)
{
	struct seen s;
	struct pipe_params p;
	char err[256];
	size_t len, i;
	int k;

	(void)state;
	start(1);
	seen_init(&s);
	s.text = envelope(1000, 10, 1, &len);
	p = params(&s, 64, 3);
	assert_int_equal(pipe_start(pl, s.text, len, &p, err, sizeof(err)), 0);
	seen_wait(&s);
	assert_int_equal(s.docs, 1);
	assert_int_equal(s.after_done, 0);
	assert_int_equal(s.rc, STORE_OK);
	assert_int_equal(s.batches, 16); /* 15 of 64 and one of 40 */
	assert_int_equal(s.objects, 1000);
	assert_int_equal(s.ok, 900);
	/* every batch, each once */
	for (i = 0; i < 1000; i += 64) {
		int found = 0;

		for (k = 0; k < s.batches; k++)
			found += s.first[k] == i;
		assert_int_equal(found, 1);
	}
	assert_int_equal(stored(), 900);
	seen_clear(&s);
	stop();
}

/* Refused at framing: an error, no callback, nothing stored. */
static void
t_refused(void **state)
{
	static const char *bad[] = {
	    "{\"objects\": [{}], \"objects\": []}",
	    "{\"objects\": [{}, {}",
	    "{\"objects\": 3}",
	    "[]",
	};
	struct seen s;
	struct pipe_params p;
	char err[256], *t;
	size_t i, len;

	(void)state;
	start(2);
	seen_init(&s);
	p = params(&s, 0, 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pipe_start(pl, bad[i], strlen(bad[i]), &p, err,
				     sizeof(err)),
		    INGEST_EBAD);
	assert_int_equal(
	    pipe_start(pl, bad[0], strlen(bad[0]), &p, err, sizeof(err)),
	    INGEST_EBAD);
	assert_non_null(strstr(err, "duplicate key \"objects\""));
	t = envelope(11, 0, 2, &len);
	p.max_objects = 10;
	assert_int_equal(
	    pipe_start(pl, t, len, &p, err, sizeof(err)), INGEST_ETOOMANY);
	assert_non_null(strstr(err, "11 objects"));
	free(t);
	usleep(50000);
	assert_int_equal(s.batches + s.docs, 0);
	assert_int_equal(stored(), 0);
	seen_clear(&s);
	stop();
}

/* One job with its status: an empty document too. */
static void
t_status(void **state)
{
	struct seen s;
	struct pipe_params p;
	struct store_reader *r;
	const char *json;
	size_t len, jlen;
	uint32_t owner;
	int64_t expires;
	char err[256];
	json_t *j;
	int n;

	(void)state;
	start(2);
	for (n = 0; n <= 300; n += 300) {
		seen_init(&s);
		s.text = envelope((size_t)n, 7, 3, &len);
		p = params(&s, 0, 1);
		snprintf(s.status_id, sizeof(s.status_id),
		    "00000000-0000-4000-8000-%012d", n);
		p.status_id = s.status_id;
		p.status_ts = STATUS_TS;
		p.status_expires = INT64_MAX / 2;
		assert_int_equal(
		    pipe_start(pl, s.text, len, &p, err, sizeof(err)), 0);
		seen_wait(&s);
		assert_int_equal(s.batches, 1);
		assert_int_equal(s.rc, STORE_OK);
		j = json_loadb(s.status.data, s.status.len, 0, NULL);
		assert_non_null(j);
		assert_int_equal(
		    json_integer_value(json_object_get(j, "total_count")), n);
		assert_int_equal(
		    json_integer_value(json_object_get(j, "success_count")),
		    n - n / 7);
		json_decref(j);
		assert_int_equal(store_reader_new(st, &r), STORE_OK);
		assert_int_equal(store_rbegin(r), STORE_OK);
		assert_int_equal(store_status_get(r, s.status_id, &owner,
				     &expires, &json, &jlen),
		    STORE_OK);
		assert_int_equal(owner, PRODUCER);
		assert_int_equal(jlen, s.status.len);
		assert_memory_equal(json, s.status.data, jlen);
		store_rend(r);
		store_reader_free(r);
		seen_clear(&s);
	}
	stop();
}

/* A marking-definition in one batch marks the objects of later batches. */
static void
t_markings_across_batches(void **state)
{
	struct seen s;
	struct pipe_params p;
	struct store_reader *r;
	struct store_item it;
	struct buf b = BUF_INIT;
	char err[256];
	int i, red = 0, n = 0;

	(void)state;
	start(2);
	seen_init(&s);
	buf_adds(&b,
	    "{\"objects\":[{\"type\":\"marking-definition\","
	    "\"spec_version\":\"2.1\",\"id\":\"marking-definition--"
	    "11111111-2222-4333-8444-555555555555\",\"created\":"
	    "\"2024-01-01T00:00:00.000Z\",\"definition_type\":\"tlp\","
	    "\"definition\":{\"tlp\":\"red\"}}");
	for (i = 0; i < 40; i++)
		buf_addf(&b,
		    ",{\"type\":\"indicator\",\"spec_version\":\"2.1\","
		    "\"id\":\"indicator--%08x-0000-4000-8000-000000000000\","
		    "\"created\":\"2024-01-01T00:00:00.000Z\","
		    "\"modified\":\"2024-01-01T00:00:00.000Z\","
		    "\"pattern\":\"[ipv4-addr:value = '10.1.1.1']\","
		    "\"pattern_type\":\"stix\","
		    "\"valid_from\":\"2024-01-01T00:00:00Z\","
		    "\"object_marking_refs\":[\"marking-definition--"
		    "11111111-2222-4333-8444-555555555555\"]}",
		    i);
	buf_adds(&b, "]}");
	s.text = buf_detach(&b, NULL);
	p = params(&s, 8, 2);
	assert_int_equal(
	    pipe_start(pl, s.text, strlen(s.text), &p, err, sizeof(err)), 0);
	seen_wait(&s);
	assert_int_equal(s.batches, 6);
	assert_int_equal(s.ok, 41);
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(store_walk_start(r, COLL, 0), STORE_OK);
	while (store_walk_next(r, &it) == 1) {
		n++;
		red += it.e.tlp == TLP_RED;
	}
	store_rend(r);
	store_reader_free(r);
	assert_int_equal(n, 41);
	assert_int_equal(red, 40);
	seen_clear(&s);
	stop();
}

/* Many documents at once, started from several threads, each one job
 * with its status (the Add Objects shape): every callback once, every
 * status whole.  Under ASan or TSan this is the lifetime test. */
#define NDOCS	 24
#define NSTARTER 4

static struct seen many[NDOCS];

static void *
starter(void *arg)
{
	long t = (long)arg;
	struct pipe_params p;
	char err[256];
	size_t len;
	int i;

	for (i = (int)t; i < NDOCS; i += NSTARTER) {
		struct seen *s = &many[i];

		s->text =
		    envelope(257 + (size_t)i * 13, 5, 100 + (unsigned)i, &len);
		p = params(s, 0, 1);
		snprintf(s->status_id, sizeof(s->status_id),
		    "00000000-0000-4000-8000-%012d", i);
		p.status_id = s->status_id;
		p.status_ts = STATUS_TS;
		p.status_expires = INT64_MAX / 2;
		assert_int_equal(
		    pipe_start(pl, s->text, len, &p, err, sizeof(err)), 0);
	}
	return NULL;
}

static void
run_many(int threads)
{
	pthread_t th[NSTARTER];
	size_t total = 0;
	long t;
	int i;

	start(threads);
	for (i = 0; i < NDOCS; i++)
		seen_init(&many[i]);
	for (t = 0; t < NSTARTER; t++)
		assert_int_equal(
		    pthread_create(&th[t], NULL, starter, (void *)t), 0);
	for (t = 0; t < NSTARTER; t++)
		pthread_join(th[t], NULL);
	for (i = 0; i < NDOCS; i++) {
		struct seen *s = &many[i];
		size_t n = 257 + (size_t)i * 13;
		json_error_t je;
		json_t *j;

		seen_wait(s);
		assert_int_equal(s->docs, 1);
		assert_int_equal(s->batches, 1);
		assert_int_equal(s->rc, STORE_OK);
		assert_int_equal(s->objects, n);
		j = json_loadb(s->status.data, s->status.len, 0, &je);
		if (j == NULL)
			fail_msg("status %d: %s", i, je.text);
		assert_int_equal(
		    json_integer_value(json_object_get(j, "total_count")),
		    (long long)n);
		json_decref(j);
		total += n - n / 5;
		seen_clear(s);
	}
	assert_int_equal(stored(), total);
	stop();
}

static void
t_many_one_thread(void **state)
{
	(void)state;
	run_many(1);
}

static void
t_many_threads(void **state)
{
	(void)state;
	run_many(4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_batches),
	    cmocka_unit_test(t_refused),
	    cmocka_unit_test(t_status),
	    cmocka_unit_test(t_markings_across_batches),
	    cmocka_unit_test(t_many_one_thread),
	    cmocka_unit_test(t_many_threads),
	};

	log_init(LOG_LVL_WARN);
	return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
