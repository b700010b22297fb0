/*
 * t_writer.c -- the writer's group commit with a failing message inside a
 * group (issue #9, item 16), and its commit notifications (issue #10).
 * The group is aborted and every message attempted again alone; each must
 * then be done exactly once, with results from the attempt that
 * committed: an Add Objects status rendered from the results (the bytes
 * stored) and its publish record stored once, a delete's count, a policy
 * release whose event record exists and whose audit line is written once
 * with the right count.  Each committed transaction is published once,
 * after the commit (a reader in the callback sees it), with the ranges of
 * what it added; an aborted group never.  Subscription records
 * (WMSG_SUB), and the gone records of a delete in its notification
 * (gone_last) and in a prune.  Includes hub/release.c to reach its
 * steps.
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
#include "ctihub/taxii_status.h"
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

/* A message (a prune that prunes nothing) that records its attempts and
 * completions; the fault hook fails its first `fail` attempts, and holds
 * a gate's attempt until `open`. */
struct tmsg {
	struct wmsg m;
	int fail;
	int attempts;
	int dones;
	int rc;
	int gate;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int open;
};

#define MAX_TMSG 8
/* registered from the test's thread while the writer's may look them up */
static pthread_mutex_t tmsgs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tmsg *tmsgs[MAX_TMSG];
static int ntmsgs;

static int
fault(const struct wmsg *m, void *arg)
{
	struct tmsg *t = NULL;
	int i;

	(void)arg;
	pthread_mutex_lock(&tmsgs_lock);
	for (i = 0; i < ntmsgs; i++)
		if (&tmsgs[i]->m == m)
			t = tmsgs[i];
	pthread_mutex_unlock(&tmsgs_lock);
	if (t == NULL)
		return STORE_OK;
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
tmsg_done(struct wmsg *m, int rc)
{
	struct tmsg *t = (struct tmsg *)m;

	t->dones++;
	t->rc = rc;
	note_done();
}

static void
tmsg_init(struct tmsg *t, int fail)
{
	memset(t, 0, sizeof(*t));
	wmsg_init(&t->m, WMSG_PRUNE);
	t->m.done = tmsg_done;
	t->fail = fail;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	pthread_mutex_lock(&tmsgs_lock);
	assert_true(ntmsgs < MAX_TMSG);
	tmsgs[ntmsgs++] = t;
	pthread_mutex_unlock(&tmsgs_lock);
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

/* An add of objs[from, from + n) as the message's own batch. */
static void
add_msg(struct tmsg *t, uint32_t producer, int from, int n)
{
	struct wmsg_add *a;
	int i;

	wmsg_clear(&t->m);
	wmsg_init(&t->m, WMSG_ADD);
	t->m.done = tmsg_done;
	a = &t->m.u.add;
	a->coll = COLL;
	a->producer = producer;
	a->now = 1000;
	assert_non_null(a->batch.objs = hub_calloc((size_t)n, sizeof(*objs)));
	assert_non_null(
	    a->batch.meta = hub_calloc((size_t)n, sizeof(*a->batch.meta)));
	for (i = 0; i < n; i++) {
		a->batch.objs[i] = objs[from + i];
		a->batch.meta[i].ok = 1;
		a->batch.meta[i].id = objid[from + i];
	}
	a->batch.n = (size_t)n;
}

/* A delete: the result is m.u.del.removed, read in done. */
struct tdel {
	struct wmsg m;
	int dones;
	int rc;
	int removed;
};

static void
tdel_done(struct wmsg *m, int rc)
{
	struct tdel *d = (struct tdel *)m;

	d->dones++;
	d->rc = rc;
	d->removed = m->u.del.removed;
	note_done();
}

/* The Add Objects shape through the pipeline: one message, its status
 * rendered after the commit from the results, as taxii_add.c does. */
struct tadd {
	struct buf status;
	int batches, docs, rc;
	char status_id[37];
	int64_t status_ts;
	char text[4096];
};

static void
tadd_batch(const struct ingest_batch *b, int rc, void *arg)
{
	struct tadd *a = arg;

	a->batches++;
	a->rc = rc;
	if (rc == STORE_OK)
		taxii_status_render(&a->status, a->status_id, a->status_ts,
		    b->meta, b->objs, b->n);
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

/* --- the commit notifications --- */

#define MAX_SEEN 32

struct seen {
	int nmsgs;
	size_t added, removed;
	int64_t first, last;
	size_t coll_added, coll_removed; /* of COLL */
	int64_t coll_first, coll_last;
	size_t visible; /* entries of COLL from coll_first, read back */
	int beyond;	/* entries of COLL after coll_last */
};

static struct seen seen[MAX_SEEN];
static int nseen;
static struct store_reader *cbr; /* the callback's reader */

/* In the writer thread, after each commit: note it, and read what it
 * says it added (a reader sees it only when it is committed). */
static void
on_commit(const struct wcommit *c, void *arg)
{
	struct seen *s;
	struct store_item it;
	int i;

	(void)arg;
	if (nseen == MAX_SEEN)
		return;
	s = &seen[nseen++];
	memset(s, 0, sizeof(*s));
	s->nmsgs = c->nmsgs;
	s->added = c->added;
	s->removed = c->removed;
	s->first = c->first;
	s->last = c->last;
	for (i = 0; i < c->ncolls; i++)
		if (c->colls[i].coll == COLL) {
			s->coll_added = c->colls[i].added;
			s->coll_removed = c->colls[i].removed;
			s->coll_first = c->colls[i].first;
			s->coll_last = c->colls[i].last;
		}
	if (s->coll_added == 0 || store_rbegin(cbr) != STORE_OK)
		return;
	if (store_walk_start(cbr, COLL, s->coll_first - 1) == STORE_OK)
		while (store_walk_next(cbr, &it) == 1) {
			if (it.date_added > s->coll_last)
				s->beyond++;
			else
				s->visible++;
		}
	store_rend(cbr);
}

static void
t_failing_message_in_a_group(void **state)
{
	struct tmsg gate, fail_once, fail_always, pre;
	struct tdel del;
	struct tadd add;
	struct hub hub;
	struct reljob *r;
	struct wmsg_release *rl;
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
	int i, twins = 0, releases = 0, adds = 0, deletes = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/t_writer.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(
	    store_open(&st, dir, 1ULL << 30, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_reader_new(st, &cbr), STORE_OK);
	assert_non_null(wr = writer_start(st, 0));
	writer_set_fault(wr, fault, NULL);
	assert_int_equal(writer_subscribe(wr, on_commit, NULL), 0);
	assert_non_null(pool = workq_new(2, "parse", 0));
	assert_non_null(pl = pipe_new(pool, wr, st));
	memset(&hub, 0, sizeof(hub));
	hub.writer = wr;
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	assert_non_null(hub.audit = audit_open(path, err, sizeof(err)));

	/* stored first: 3 objects of P1 (one to delete), 5 of P2 (to
	 * release) */
	mkobjs(0, 8);
	tmsg_init(&pre, 0);
	add_msg(&pre, P1, 0, 3);
	writer_submit(wr, &pre.m);
	wait_done(1);
	assert_int_equal(pre.rc, STORE_OK);
	assert_int_equal(pre.m.u.add.batch.objs[2].result, STORE_NEW);
	add_msg(&pre, P2, 3, 5);
	writer_submit(wr, &pre.m);
	wait_done(2);
	assert_int_equal(pre.rc, STORE_OK);
	wmsg_clear(&pre.m);

	/* the gate holds the writer while the group queues up */
	tmsg_init(&gate, 0);
	gate.gate = 1;
	writer_submit(wr, &gate.m);
	for (i = 0; i < 2000 && writer_queued(wr) > 0; i++)
		usleep(1000);

	/* an Add Objects request: 3 objects, one invalid, its status and
	 * its publish record */
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
	snprintf(add.status_id, sizeof(add.status_id), "%s",
	    "11111111-2222-4333-8444-555555555555");
	add.status_ts = 1700000000000000;
	memset(&p, 0, sizeof(p));
	p.coll = COLL;
	p.producer = P1;
	p.max_objects = 100;
	p.max_depth = 32;
	p.in_flight = 1;
	p.status_id = add.status_id;
	p.status_ts = add.status_ts;
	p.status_expires = INT64_MAX / 2;
	p.audit_member = "member-one";
	p.audit_coll = "collection-one";
	p.batch_done = tadd_batch;
	p.doc_done = tadd_doc;
	p.arg = &add;
	assert_int_equal(
	    pipe_start(pl, add.text, strlen(add.text), &p, err, sizeof(err)),
	    0);
	wait_queued(1);

	/* a delete of P1's first object */
	memset(&del, 0, sizeof(del));
	wmsg_init(&del.m, WMSG_DELETE);
	del.m.u.del.coll = COLL;
	memcpy(del.m.u.del.uuid, objs[0].uuid, 16);
	snprintf(del.m.u.del.type, sizeof(del.m.u.del.type), "indicator");
	assert_non_null(del.m.u.del.v = hub_calloc(1, sizeof(*del.m.u.del.v)));
	del.m.u.del.v[0].producer = P1;
	del.m.u.del.v[0].version = objs[0].version;
	del.m.u.del.n = 1;
	del.m.done = tdel_done;
	writer_submit(wr, &del.m);

	/* a release of P2's GREEN objects (release_after_reload's steps) */
	assert_non_null(r = hub_calloc(1, sizeof(*r)));
	wmsg_init(&r->m, WMSG_RELEASE);
	rl = &r->m.u.rel;
	r->hub = &hub;
	r->gen = 7;
	r->state = REL_EVENT;
	assert_non_null(r->old = hub_calloc(1, sizeof(*r->old)));
	atomic_init(&r->old->refs, 1);
	assert_non_null(rl->groups = hub_calloc(1, sizeof(*rl->groups)));
	rl->groups[0].producer = P2;
	rl->groups[0].level = TLP_GREEN;
	rl->ngroups = 1;
	assert_non_null(rl->events = hub_calloc(1, sizeof(*rl->events)));
	assert_non_null(rl->rec = hub_strdup("a release record"));
	rl->reclen = strlen("a release record");
	buf_adds(&r->names, "{\"producer\":\"p2\"}");
	buf_cstr(&r->names);
	r->m.done = release_done;
	release_step(r);

	/* last in the group, so every other message was applied before it */
	tmsg_init(&fail_once, 1);
	writer_submit(wr, &fail_once.m);
	tmsg_init(&fail_always, 1000);
	writer_submit(wr, &fail_always.m);
	wait_queued(5);

	pthread_mutex_lock(&gate.lock);
	gate.open = 1;
	pthread_cond_signal(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
	/* pre twice, gate, add, delete, two failing; the release frees
	 * itself: its done is seen in the audit log */
	wait_done(7);
	writer_stop(wr); /* the queue drained: release_done has run */
	wr = NULL;
	workq_free(pool);
	pipe_free(pl);

	/* the failing messages: the group failed, then each alone */
	assert_int_equal(fail_once.attempts, 2);
	assert_int_equal(fail_once.dones, 1);
	assert_int_equal(fail_once.rc, STORE_OK);
	assert_int_equal(
	    fail_always.attempts, 1); /* not reached in the group */
	assert_int_equal(fail_always.dones, 1);
	assert_int_equal(fail_always.rc, STORE_ERR);
	assert_int_equal(gate.dones, 1);

	/* the status: rendered once after the commit, one JSON document,
	 * the one the writer stored */
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
	    store_status_get(rd, add.status_id, &owner, &expires, &json, &len),
	    STORE_OK);
	assert_int_equal(owner, P1);
	assert_int_equal(len, add.status.len);
	assert_memory_equal(json, add.status.data, len);

	/* the delete */
	assert_int_equal(del.dones, 1);
	assert_int_equal(del.rc, STORE_OK);
	assert_int_equal(del.removed, 1);
	wmsg_clear(&del.m);

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

	/* the publish record: once, from the message's fields */
	audit_flush(hub.audit);
	{
		uint64_t upto;
		int publishes = 0;

		assert_int_equal(store_reader_new(st, &rd), STORE_OK);
		assert_int_equal(audit_export(hub.audit, rd, &upto), 0);
		store_reader_free(rd);
		assert_non_null(f = fopen(path, "r"));
		while (fgets(line, sizeof(line), f) != NULL) {
			if (strstr(line, "\"event\":\"publish\"") == NULL)
				continue;
			publishes++;
			assert_non_null(
			    strstr(line, "\"member\":\"member-one\""));
			assert_non_null(
			    strstr(line, "\"collection\":\"collection-one\""));
			assert_non_null(strstr(line, add.status_id));
			assert_non_null(strstr(
			    line, "\"new\":2,\"duplicate\":0,\"rejected\":1"));
		}
		fclose(f);
		assert_int_equal(publishes, 1);
	}
	/* and the release's audit line, once, with the count */
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "\"event\":\"release\"") == NULL)
			continue;
		releases++;
		assert_non_null(strstr(line, "\"entries\":5,\"ok\":true"));
	}
	fclose(f);
	assert_int_equal(releases, 1);

	/*
	 * The notifications: the writer's prune with pre, pre, the gate,
	 * then the group aborted (none), then alone: add, delete, release
	 * event, fail_once (fail_always: none), then the release's twins.
	 */
	assert_int_equal(nseen, 8);
	for (i = 0; i < nseen; i++) {
		struct seen *s = &seen[i];

		assert_true(s->nmsgs >= 1 && s->nmsgs <= 2);
		/* what it says it added was there, and nothing after it */
		assert_int_equal(s->visible, s->coll_added);
		assert_int_equal(s->beyond, 0);
		assert_int_equal(s->added, s->coll_added);
		if (s->added > 0) {
			assert_true(s->first > 0 && s->first <= s->last);
			assert_int_equal(s->first, s->coll_first);
			assert_int_equal(s->last, s->coll_last);
		} else
			assert_true(s->first == 0 && s->last == 0);
		if (s->added == 2) /* the Add Objects message: once */
			adds++;
		deletes += (int)s->removed;
	}
	assert_int_equal(seen[0].nmsgs, 2); /* the prune went with pre */
	assert_int_equal(seen[0].added, 3);
	assert_int_equal(seen[1].added, 5);
	assert_int_equal(seen[nseen - 1].added, 5); /* the twins */
	assert_int_equal(adds, 1);
	assert_int_equal(deletes, 1);

	audit_close(hub.audit);
	buf_clear(&add.status);
	store_reader_free(cbr);
	store_close(st);
	snprintf(line, sizeof(line), "rm -rf %s", dir);
	assert_int_equal(system(line), 0);
}

static int ncalls;

static void
count_commit(const struct wcommit *c, void *arg)
{
	(void)c;
	(void)arg;
	ncalls++;
}

/* Subscribers: at most WRITER_MAX_SUBS, each called once per commit, none
 * after it unsubscribed. */
static void
t_subscribers(void **state)
{
	struct tmsg t;
	char err[256], cmd[128];
	int i, args[WRITER_MAX_SUBS + 1];

	(void)state;
	pthread_mutex_lock(&tmsgs_lock);
	ntmsgs = 0;
	pthread_mutex_unlock(&tmsgs_lock);
	ndone = 0;
	snprintf(dir, sizeof(dir), "/tmp/t_writer.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(
	    store_open(&st, dir, 1ULL << 30, err, sizeof(err)), STORE_OK);
	assert_non_null(wr = writer_start(st, 0));
	for (i = 0; i < WRITER_MAX_SUBS; i++)
		assert_int_equal(
		    writer_subscribe(wr, count_commit, &args[i]), 0);
	assert_int_equal(
	    writer_subscribe(wr, count_commit, &args[WRITER_MAX_SUBS]), -1);
	tmsg_init(&t, 0);
	writer_submit(wr, &t.m);
	wait_done(1);
	assert_int_equal(ncalls, WRITER_MAX_SUBS);
	for (i = 1; i < WRITER_MAX_SUBS; i++)
		writer_unsubscribe(wr, count_commit, &args[i]);
	writer_submit(wr, &t.m);
	wait_done(2);
	assert_int_equal(ncalls, WRITER_MAX_SUBS + 1);
	writer_stop(wr);
	wr = NULL;
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* --- subscription records, gone records in the notifications --- */

#define COLL2 0x22222222u

struct gseen {
	int ncolls;
	size_t added, removed;
	int64_t first, last;
	int in_coll; /* COLL among colls */
	size_t coll_removed, coll_added;
	int64_t gone_last;   /* of COLL */
	int64_t newest_gone; /* the newest gone record of COLL, read back */
};

static struct gseen gseen[8];
static int ngseen;

static int
newest_gone(const struct store_gone *g, void *arg)
{
	*(int64_t *)arg = g->date;
	return 0;
}

static void
on_commit_gone(const struct wcommit *c, void *arg)
{
	struct gseen *s;
	int i;

	(void)arg;
	if (ngseen == 8)
		return;
	s = &gseen[ngseen++];
	memset(s, 0, sizeof(*s));
	s->ncolls = c->ncolls;
	s->added = c->added;
	s->removed = c->removed;
	s->first = c->first;
	s->last = c->last;
	for (i = 0; i < c->ncolls; i++)
		if (c->colls[i].coll == COLL) {
			s->in_coll = 1;
			s->coll_added = c->colls[i].added;
			s->coll_removed = c->colls[i].removed;
			s->gone_last = c->colls[i].gone_last;
		}
	if (store_rbegin(cbr) != STORE_OK)
		return;
	store_gone_walk(cbr, COLL, 0, INT64_MAX, newest_gone, &s->newest_gone);
	store_rend(cbr);
}

/* A subscription record message: stored or deleted in its transaction,
 * nothing of a failed attempt kept, no collection in the notification. */
static void
sub_msg(struct tmsg *t, const char *name, const char *val, int fail)
{
	tmsg_init(t, fail);
	wmsg_clear(&t->m);
	wmsg_init(&t->m, WMSG_SUB);
	t->m.done = tmsg_done;
	snprintf(t->m.u.sub.name, sizeof(t->m.u.sub.name), "%s", name);
	if (val == NULL)
		t->m.u.sub.del = 1;
	else {
		assert_non_null(t->m.u.sub.val = hub_strdup(val));
		t->m.u.sub.len = strlen(val);
	}
}

static int
sub_value(const char *name, char *out, size_t outlen)
{
	const void *val;
	size_t len;
	int rc;

	assert_int_equal(store_rbegin(cbr), STORE_OK);
	rc = store_sub_get(cbr, name, &val, &len);
	if (rc == STORE_OK)
		snprintf(out, outlen, "%.*s", (int)len, (const char *)val);
	store_rend(cbr);
	return rc;
}

static void
t_sub_and_gone(void **state)
{
	struct tmsg t, s1, s2, s3, pr;
	struct tdel del;
	char err[256], cmd[128], val[64];
	int n;

	(void)state;
	pthread_mutex_lock(&tmsgs_lock);
	ntmsgs = 0;
	pthread_mutex_unlock(&tmsgs_lock);
	ndone = 0;
	snprintf(dir, sizeof(dir), "/tmp/t_writer.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(
	    store_open(&st, dir, 1ULL << 30, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_reader_new(st, &cbr), STORE_OK);
	assert_non_null(wr = writer_start(st, 0));
	writer_set_fault(wr, fault, NULL);
	assert_int_equal(writer_subscribe(wr, on_commit_gone, NULL), 0);

	/* two objects, then a delete of the first: COLL is in the
	 * notification with its deletion and the gone record's date */
	mkobjs(0, 2);
	tmsg_init(&t, 0);
	add_msg(&t, P1, 0, 2);
	writer_submit(wr, &t.m);
	wait_done(1);
	assert_int_equal(t.rc, STORE_OK);
	n = ndone;
	memset(&del, 0, sizeof(del));
	wmsg_init(&del.m, WMSG_DELETE);
	del.m.u.del.coll = COLL;
	memcpy(del.m.u.del.uuid, objs[0].uuid, 16);
	snprintf(del.m.u.del.type, sizeof(del.m.u.del.type), "indicator");
	assert_non_null(del.m.u.del.v = hub_calloc(1, sizeof(*del.m.u.del.v)));
	del.m.u.del.v[0].producer = P1;
	del.m.u.del.v[0].version = objs[0].version;
	del.m.u.del.n = 1;
	del.m.done = tdel_done;
	writer_submit(wr, &del.m);
	wait_done(n + 1);
	assert_int_equal(del.rc, STORE_OK);
	assert_int_equal(del.removed, 1);
	wmsg_clear(&del.m);
	assert_int_equal(ngseen, 2);
	assert_int_equal(gseen[0].gone_last, 0);
	assert_int_equal(gseen[0].coll_added, 2);
	assert_int_equal(gseen[1].ncolls, 1); /* deletions only */
	assert_int_equal(gseen[1].in_coll, 1);
	assert_int_equal(gseen[1].coll_removed, 1);
	assert_int_equal(gseen[1].coll_added, 0);
	assert_int_equal(gseen[1].added, 0);
	assert_int_equal(gseen[1].first, 0);
	assert_int_equal(gseen[1].last, 0);
	assert_true(gseen[1].gone_last > gseen[0].last);
	assert_int_equal(gseen[1].gone_last, gseen[1].newest_gone);

	/* a subscription record: a failed attempt leaves nothing */
	sub_msg(&s1, "hook/coll", "cursor=1", 1);
	writer_submit(wr, &s1.m);
	wait_done(n + 2);
	assert_int_equal(s1.rc, STORE_ERR);
	assert_int_equal(
	    sub_value("hook/coll", val, sizeof(val)), STORE_ENOTFOUND);
	sub_msg(&s2, "hook/coll", "cursor=2", 0);
	writer_submit(wr, &s2.m);
	wait_done(n + 3);
	assert_int_equal(s2.rc, STORE_OK);
	assert_int_equal(sub_value("hook/coll", val, sizeof(val)), STORE_OK);
	assert_string_equal(val, "cursor=2");
	assert_int_equal(ngseen, 3); /* the failed one published nothing */
	assert_int_equal(gseen[2].ncolls, 0);
	assert_int_equal(gseen[2].gone_last, 0);
	sub_msg(&s3, "hook/coll", NULL, 0);
	writer_submit(wr, &s3.m);
	wait_done(n + 4);
	assert_int_equal(s3.rc, STORE_OK);
	assert_int_equal(
	    sub_value("hook/coll", val, sizeof(val)), STORE_ENOTFOUND);

	/* a prune with a gone bound takes the gone record */
	tmsg_init(&pr, 0);
	pr.m.u.prune.gone_before = INT64_MAX;
	writer_submit(wr, &pr.m);
	wait_done(n + 5);
	assert_int_equal(pr.rc, STORE_OK);
	assert_int_equal(pr.m.u.prune.gone, 1);
	assert_int_equal(pr.m.u.prune.statuses, 0);

	writer_stop(wr);
	wr = NULL;
	wmsg_clear(&t.m);
	wmsg_clear(&s1.m);
	wmsg_clear(&s2.m);
	wmsg_clear(&s3.m);
	store_reader_free(cbr);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_failing_message_in_a_group),
	    cmocka_unit_test(t_subscribers),
	    cmocka_unit_test(t_sub_and_gone),
	};

	log_init(LOG_LVL_ERR);
	return cmocka_run_group_tests_name("writer", tests, NULL, NULL);
}
