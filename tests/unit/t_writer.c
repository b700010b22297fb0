/*
 * t_writer.c -- the writer's group commit with a failing job inside a
 * group (issue #9, item 16).  The group is aborted and every job attempted
 * again alone; each job must then be done exactly once, with results from
 * the attempt that committed: an Add Objects status rendered once (one
 * JSON document, the one stored), a delete's count, a policy release
 * whose event record exists and whose audit line is written once with
 * the right count.  Includes hub/release.c to reach its writer job.
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

#include "ctihub/audit.h"
#include "ctihub/log.h"
#include "ctihub/workq.h"

#include "../../hub/pipeline.h"
#include "../../hub/release.c"

/* release.c holds the runtime from before the reload until no request
 * runs under it: here a runtime of its own, held by nobody else. */
struct runtime *
runtime_ref(struct runtime *rt)
{
	atomic_fetch_add(&rt->refs, 1);
	return rt;
}

void
runtime_unref(struct runtime *rt)
{
	if (rt != NULL && atomic_fetch_sub(&rt->refs, 1) == 1)
		hub_free(rt);
}

#define COLL 0x11111111u
#define P1   0xaaaa0001u
#define P2   0xaaaa0002u

static char dir[64];
static struct store *st;
static struct writer *wr;

/* A job that records its attempts and completions; fails its first
 * `fail` attempts. */
struct tjob {
	struct wjob wj;
	int fail;
	int attempts;
	int dones;
	int rc;
	/* the gate: its apply waits until `open` */
	int gate;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int open;
};

static int
tjob_apply(struct wjob *wj, struct store_wtxn *w)
{
	struct tjob *t = (struct tjob *)wj;

	(void)w;
	if (t->gate) {
		pthread_mutex_lock(&t->lock);
		while (!t->open)
			pthread_cond_wait(&t->cond, &t->lock);
		pthread_mutex_unlock(&t->lock);
	}
	return t->attempts++ < t->fail ? STORE_ERR : STORE_OK;
}

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int ndone;

static void
note_done(void)
{
	pthread_mutex_lock(&done_lock);
	ndone++;
	pthread_cond_broadcast(&done_cond);
	pthread_mutex_unlock(&done_lock);
}

static void
wait_done(int n)
{
	pthread_mutex_lock(&done_lock);
	while (ndone < n)
		pthread_cond_wait(&done_cond, &done_lock);
	pthread_mutex_unlock(&done_lock);
}

static void
tjob_done(struct wjob *wj, int rc)
{
	struct tjob *t = (struct tjob *)wj;

	t->dones++;
	t->rc = rc;
	note_done();
}

static void
tjob_init(struct tjob *t, int fail)
{
	memset(t, 0, sizeof(*t));
	t->wj.kind = WJOB_CUSTOM;
	t->wj.apply = tjob_apply;
	t->wj.done = tjob_done;
	t->fail = fail;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
}

/* Objects stored by hand: producer, TLP GREEN. */
static char objjson[16][160], objid[16][64];
static struct store_obj objs[16];

static void
mkobjs(int from, int n)
{
	int i;

	for (i = from; i < from + n; i++) {
		struct store_obj *o = &objs[i];

		memset(o, 0, sizeof(*o));
		snprintf(objid[i], sizeof(objid[i]),
		    "indicator--%08x-0000-4000-8000-000000000000", i + 1);
		snprintf(objjson[i], sizeof(objjson[i]), "{\"id\":\"%.60s\"}",
		    objid[i]);
		o->json = objjson[i];
		o->jsonlen = strlen(objjson[i]);
		o->id = objid[i];
		o->idlen = strlen(objid[i]);
		o->uuid[0] = (unsigned char)(i + 1);
		o->version = 1000 + i;
		o->tlp = TLP_GREEN;
	}
}

/* A delete: the result is wj.removed, read in done. */
struct tdel {
	struct wjob wj;
	int dones;
	int rc;
	int removed;
};

static int
match_all(const struct store_version *v, void *arg)
{
	(void)v;
	(void)arg;
	return 1;
}

static void
tdel_done(struct wjob *wj, int rc)
{
	struct tdel *d = (struct tdel *)wj;

	d->dones++;
	d->rc = rc;
	d->removed = wj->removed;
	note_done();
}

/* The Add Objects shape through the pipeline: one job and its status. */
struct tadd {
	struct buf status;
	int batches, docs, rc;
	char text[4096];
};

static void
tadd_batch(const struct ingest_batch *b, int rc, void *arg)
{
	struct tadd *a = arg;

	(void)b;
	a->batches++;
	a->rc = rc;
}

static void
tadd_doc(int rc, void *arg)
{
	struct tadd *a = arg;

	(void)rc;
	a->docs++;
	note_done();
}

static void
wait_queued(int n)
{
	int i;

	for (i = 0; i < 2000 && writer_queued(wr) < n; i++)
		usleep(1000);
	assert_int_equal(writer_queued(wr), n);
}

static void
t_failing_job_in_a_group(void **state)
{
	struct tjob gate, fail_once, fail_always, pre;
	struct tdel del;
	struct tadd add;
	struct hub hub;
	struct reljob *r;
	struct workq *pool;
	struct pipeline *pl;
	struct pipe_params p;
	struct store_reader *rd;
	struct store_item it;
	char err[256], path[128], line[4096];
	const char *json;
	const void *rec;
	size_t len, reclen;
	uint32_t owner;
	int64_t expires;
	json_t *j;
	FILE *f;
	int i, twins = 0, releases = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/t_writer.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(
	    store_open(&st, dir, 1ULL << 30, err, sizeof(err)), STORE_OK);
	assert_non_null(wr = writer_start(st, 0));
	assert_non_null(pool = workq_new(2, "parse", 0));
	assert_non_null(pl = pipe_new(pool, wr, st));
	memset(&hub, 0, sizeof(hub));
	hub.writer = wr;
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	assert_non_null(hub.audit = audit_open(path, err, sizeof(err)));

	/* stored first: 3 objects of P1 (one to delete), 5 of P2 (to
	 * release) */
	mkobjs(0, 8);
	tjob_init(&pre, 0);
	pre.wj.kind = WJOB_ADD;
	pre.wj.coll = COLL;
	pre.wj.producer = P1;
	pre.wj.objs = objs;
	pre.wj.nobjs = 3;
	pre.wj.now = 1000;
	writer_submit(wr, &pre.wj);
	wait_done(1);
	pre.wj.producer = P2;
	pre.wj.objs = objs + 3;
	pre.wj.nobjs = 5;
	writer_submit(wr, &pre.wj);
	wait_done(2);
	assert_int_equal(pre.rc, STORE_OK);

	/* the gate holds the writer while the group queues up */
	tjob_init(&gate, 0);
	gate.gate = 1;
	writer_submit(wr, &gate.wj);
	for (i = 0; i < 2000 && writer_queued(wr) > 0; i++)
		usleep(1000);

	/* an Add Objects request: 3 objects, one invalid, and its status */
	memset(&add, 0, sizeof(add));
	snprintf(add.text, sizeof(add.text),
	    "{\"objects\":[%s,%s,{\"type\":\"indicator\"}]}",
	    "{\"type\":\"indicator\",\"spec_version\":\"2.1\","
	    "\"id\":\"indicator--aaaaaaaa-0000-4000-8000-000000000001\","
	    "\"created\":\"2024-01-01T00:00:00.000Z\","
	    "\"modified\":\"2024-01-01T00:00:00.000Z\","
	    "\"pattern\":\"[ipv4-addr:value = '10.0.0.1']\","
	    "\"pattern_type\":\"stix\","
	    "\"valid_from\":\"2024-01-01T00:00:00Z\"}",
	    "{\"type\":\"indicator\",\"spec_version\":\"2.1\","
	    "\"id\":\"indicator--aaaaaaaa-0000-4000-8000-000000000002\","
	    "\"created\":\"2024-01-01T00:00:00.000Z\","
	    "\"modified\":\"2024-01-01T00:00:00.000Z\","
	    "\"pattern\":\"[ipv4-addr:value = '10.0.0.2']\","
	    "\"pattern_type\":\"stix\","
	    "\"valid_from\":\"2024-01-01T00:00:00Z\"}");
	memset(&p, 0, sizeof(p));
	p.coll = COLL;
	p.producer = P1;
	p.max_objects = 100;
	p.max_depth = 32;
	p.in_flight = 1;
	p.status_id = "11111111-2222-4333-8444-555555555555";
	p.status_ts = 1700000000000000;
	p.status_expires = INT64_MAX / 2;
	p.status = &add.status;
	p.batch_done = tadd_batch;
	p.doc_done = tadd_doc;
	p.arg = &add;
	assert_int_equal(
	    pipe_start(pl, add.text, strlen(add.text), &p, err, sizeof(err)),
	    0);
	wait_queued(1);

	/* a delete of P1's first object */
	memset(&del, 0, sizeof(del));
	del.wj.kind = WJOB_DELETE;
	del.wj.coll = COLL;
	del.wj.uuid = objs[0].uuid;
	del.wj.type = "indicator";
	del.wj.match = match_all;
	del.wj.done = tdel_done;
	writer_submit(wr, &del.wj);

	/* a release of P2's GREEN objects (release_after_reload's job) */
	assert_non_null(r = hub_calloc(1, sizeof(*r)));
	r->hub = &hub;
	r->gen = 7;
	r->state = REL_EVENT;
	assert_non_null(r->old = hub_calloc(1, sizeof(*r->old)));
	atomic_init(&r->old->refs, 1);
	assert_non_null(r->groups = hub_calloc(1, sizeof(*r->groups)));
	r->groups[0].producer = P2;
	r->groups[0].level = TLP_GREEN;
	r->ngroups = 1;
	buf_adds(&r->rec, "a release record");
	buf_adds(&r->names, "{\"producer\":\"p2\"}");
	buf_cstr(&r->names);
	r->wj.kind = WJOB_CUSTOM;
	r->wj.apply = apply_release;
	r->wj.done = release_done;
	writer_submit(wr, &r->wj);

	/* last in the group, so every other job was applied before it */
	tjob_init(&fail_once, 1);
	writer_submit(wr, &fail_once.wj);
	tjob_init(&fail_always, 1000);
	writer_submit(wr, &fail_always.wj);
	wait_queued(5);

	pthread_mutex_lock(&gate.lock);
	gate.open = 1;
	pthread_cond_signal(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
	/* pre twice, gate, add, delete, two failing; the release job frees
	 * itself: its done is seen in the audit log */
	wait_done(7);
	writer_stop(wr); /* the queue drained: release_done has run */
	wr = NULL;
	workq_free(pool);
	pipe_free(pl);

	/* the failing jobs: the group failed, then each job alone */
	assert_int_equal(fail_once.attempts, 2);
	assert_int_equal(fail_once.dones, 1);
	assert_int_equal(fail_once.rc, STORE_OK);
	assert_int_equal(
	    fail_always.attempts, 1); /* not reached in the group */
	assert_int_equal(fail_always.dones, 1);
	assert_int_equal(fail_always.rc, STORE_ERR);
	assert_int_equal(gate.dones, 1);

	/* the status: rendered once, one JSON document, the one stored */
	assert_int_equal(add.batches, 1);
	assert_int_equal(add.docs, 1);
	assert_int_equal(add.rc, STORE_OK);
	j = json_loadb(add.status.data, add.status.len, 0, NULL);
	if (j == NULL)
		fail_msg("the status is not one JSON document: %.*s",
		    (int)add.status.len, add.status.data);
	assert_int_equal(
	    json_integer_value(json_object_get(j, "total_count")), 3);
	assert_int_equal(
	    json_integer_value(json_object_get(j, "success_count")), 2);
	json_decref(j);
	assert_int_equal(store_reader_new(st, &rd), STORE_OK);
	assert_int_equal(store_rbegin(rd), STORE_OK);
	assert_int_equal(
	    store_status_get(rd, p.status_id, &owner, &expires, &json, &len),
	    STORE_OK);
	assert_int_equal(len, add.status.len);
	assert_memory_equal(json, add.status.data, len);

	/* the delete */
	assert_int_equal(del.dones, 1);
	assert_int_equal(del.rc, STORE_OK);
	assert_int_equal(del.removed, 1);

	/* the release: every twin's event is recorded */
	assert_int_equal(store_walk_start(rd, COLL, 0), STORE_OK);
	while (store_walk_next(rd, &it) == 1) {
		if (!(it.e.flags & STORE_F_RELEASED))
			continue;
		twins++;
		assert_int_equal(it.e.producer, P2);
		assert_int_equal(
		    store_release_get(rd, it.event, &rec, &reclen), STORE_OK);
		assert_int_equal(reclen, strlen("a release record"));
	}
	assert_int_equal(twins, 5);
	store_rend(rd);
	store_reader_free(rd);
	/* and its audit line, once, with the count */
	audit_flush(hub.audit);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "\"event\":\"release\"") == NULL)
			continue;
		releases++;
		assert_non_null(strstr(line, "\"entries\":5,\"ok\":true"));
	}
	fclose(f);
	assert_int_equal(releases, 1);
	audit_close(hub.audit);
	buf_clear(&add.status);
	store_close(st);
	snprintf(line, sizeof(line), "rm -rf %s", dir);
	assert_int_equal(system(line), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_failing_job_in_a_group),
	};

	log_init(LOG_LVL_ERR);
	return cmocka_run_group_tests_name("writer", tests, NULL, NULL);
}
