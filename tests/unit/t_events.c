/*
 * t_events.c -- the events a subscriber receives next (events.h) over a
 * real store: objects in date_added order as a poll would give them,
 * the cursor carried past what the reader may not see, full batches,
 * filters, a release in progress, and deletions merged in order and
 * filtered like objects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctihub/events.h"
#include "ctihub/marking.h"
#include "ctihub/member.h"
#include "ctihub/policy.h"
#include "ctihub/stix.h"
#include "ctihub/store.h"
#include "ctihub/view.h"

#define COLL  0x0e0e0001u
#define OTHER 0x0e0e0002u

#define SUB(id, cc)                                                            \
	"member " id " {\n\tname \"" id "\"\n\tcountry " cc                    \
	"\n\troles publisher subscriber\n\ttoken sha256$"                      \
	"00000000000000000000000000000000000000000000000000000000000000bb\n}"  \
	"\n"

/* alice (BR) publishes; erin (MX) subscribes and sees CLEAR and GREEN
 * of alice, not AMBER */
static const char members_text[] = SUB("alice", "BR") SUB("erin", "MX");

struct ev_fx {
	char dir[64];
	struct store *st;
	struct store_reader *r;
	struct members *ms;
	struct policy *pol;
	const struct member *alice, *erin;
	int64_t clock;
	unsigned seq;
};

static int
ev_setup(void **state)
{
	struct ev_fx *fx = calloc(1, sizeof(*fx));
	struct cfg_errs errs;
	char err[256], path[160];
	FILE *f;

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/t_events.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(path, sizeof(path), "%s/db", fx->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(
	    store_open(&fx->st, path, 1ULL << 30, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_reader_new(fx->st, &fx->r), STORE_OK);
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(members_parse("members.conf", members_text,
			     strlen(members_text), &fx->ms, &errs),
	    0);
	fx->alice = members_find(fx->ms, "alice");
	fx->erin = members_find(fx->ms, "erin");
	snprintf(path, sizeof(path), "%s/policy", fx->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/policy/alice.policy", fx->dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("share amber with countries IN\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/policy", fx->dir);
	assert_int_equal(policy_load(path, fx->ms, &fx->pol, &errs), 0);
	fx->clock = INT64_C(1800000000000000);
	*state = fx;
	return 0;
}

static int
ev_teardown(void **state)
{
	struct ev_fx *fx = *state;
	char cmd[128];

	policy_free(fx->pol);
	members_free(fx->ms);
	store_reader_free(fx->r);
	store_close(fx->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* One object of alice of `type` at `tlp` into coll; its date_added. */
static int64_t
put1(struct ev_fx *fx, uint32_t coll, const char *type, int tlp, int revoked,
    unsigned *seq)
{
	struct store_wtxn *w;
	struct store_obj o;
	char id[96], js[160];

	memset(&o, 0, sizeof(o));
	*seq = ++fx->seq;
	snprintf(
	    id, sizeof(id), "%s--%08x-0000-4000-8000-000000000000", type, *seq);
	snprintf(js, sizeof(js), "{\"id\":\"%s\"}", id);
	o.json = js;
	o.jsonlen = strlen(js);
	o.id = id;
	o.idlen = strlen(id);
	assert_int_equal(stix_parse_id(id, NULL, 0, o.uuid), 0);
	o.version = 1000;
	o.tlp = (uint8_t)tlp;
	o.flags = revoked ? STORE_F_REVOKED : 0;
	assert_int_equal(store_wbegin(fx->st, &w), STORE_OK);
	assert_int_equal(
	    store_wput(w, coll, fx->alice->code, &o, 1, ++fx->clock), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	fx->clock++;
	return o.date_added;
}

static int
match_all(const struct store_version *v, void *arg)
{
	(void)v;
	(void)arg;
	return 1;
}

/* Deletes alice's object seq of `type` from coll. */
static void
del1(struct ev_fx *fx, uint32_t coll, const char *type, unsigned seq)
{
	struct store_wtxn *w;
	unsigned char uuid[16];
	char id[96];
	int removed = 0;

	snprintf(
	    id, sizeof(id), "%s--%08x-0000-4000-8000-000000000000", type, seq);
	assert_int_equal(stix_parse_id(id, NULL, 0, uuid), 0);
	assert_int_equal(store_wbegin(fx->st, &w), STORE_OK);
	assert_int_equal(store_wdelete(w, coll, type, uuid, fx->alice->code,
			     match_all, NULL, &removed),
	    STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	assert_int_equal(removed, 1);
}

/* The next batch for erin under the query `raw`, from cursor. */
static void
next(struct ev_fx *fx, const char *raw, int64_t cursor, size_t max,
    struct event_batch *b)
{
	struct view_query q;
	struct view_ctx vc;
	char err[256];

	assert_int_equal(
	    view_parse(&q, VIEW_OBJECTS, raw, fx->ms, err, sizeof(err)), 0);
	memset(&vc, 0, sizeof(vc));
	vc.r = fx->r;
	vc.pol = fx->pol;
	vc.reader = fx->erin;
	assert_int_equal(store_rbegin(fx->r), STORE_OK);
	assert_int_equal(events_next(&vc, &q, COLL, cursor, max, b), STORE_OK);
	store_rend(fx->r);
	view_query_clear(&q);
	assert_int_equal(b->from, cursor);
	assert_true(b->to >= b->from);
}

/* Objects come in order, revoked ones as revocations; the cursor moves to
 * the clock, past AMBER objects erin may not see and past another
 * collection's writes; from there, nothing. */
static void
t_objects_in_order(void **state)
{
	struct ev_fx *fx = *state;
	struct event_batch b;
	int64_t d1, d2, d3, clock;
	unsigned s;

	memset(&b, 0, sizeof(b));
	d1 = put1(fx, COLL, "indicator", TLP_CLEAR, 0, &s);
	put1(fx, COLL, "indicator", TLP_AMBER, 0, &s); /* not for erin */
	d2 = put1(fx, COLL, "malware", TLP_GREEN, 0, &s);
	d3 = put1(fx, COLL, "indicator", TLP_GREEN, 1, &s);
	put1(fx, OTHER, "indicator", TLP_CLEAR, 0, &s);
	put1(fx, COLL, "indicator", TLP_AMBER, 0, &s); /* not for erin */
	next(fx, "", 0, 100, &b);
	assert_int_equal(b.n, 3);
	assert_int_equal(b.v[0].cursor, d1);
	assert_int_equal(b.v[0].kind, EV_OBJECT);
	assert_int_equal(b.v[1].cursor, d2);
	assert_int_equal(b.v[2].cursor, d3);
	assert_int_equal(b.v[2].kind, EV_REVOKE);
	assert_int_equal(b.more, 0);
	assert_int_equal(b.tlp_max, TLP_GREEN);
	assert_int_equal(store_rbegin(fx->r), STORE_OK);
	assert_int_equal(store_clock(fx->r, &clock), STORE_OK);
	store_rend(fx->r);
	assert_true(b.to >= d3);
	assert_int_equal(b.to, clock);
	/* from there: nothing, and the cursor stays */
	next(fx, "", b.to, 100, &b);
	assert_int_equal(b.n, 0);
	assert_int_equal(b.to, b.from);
	/* only invisible news: nothing, but the cursor passes them */
	clock = put1(fx, COLL, "indicator", TLP_AMBER, 0, &s);
	next(fx, "", b.to, 100, &b);
	assert_int_equal(b.n, 0);
	assert_true(b.to >= clock);
	event_batch_clear(&b);
}

/* A full batch stops at its last event (more); the next one goes on
 * after it, without a loss or a repeat. */
static void
t_full_batches(void **state)
{
	struct ev_fx *fx = *state;
	struct event_batch b;
	int64_t d[7], cursor = 0;
	size_t got = 0, i;
	unsigned s;
	int rounds = 0;

	memset(&b, 0, sizeof(b));
	for (i = 0; i < 7; i++)
		d[i] = put1(fx, COLL, "indicator", TLP_CLEAR, 0, &s);
	next(fx, "", 0, 3, &b);
	assert_int_equal(b.n, 3);
	assert_int_equal(b.more, 1);
	assert_int_equal(b.to, d[2]);
	do {
		next(fx, "", cursor, 3, &b);
		for (i = 0; i < b.n; i++) {
			assert_true(got < 7);
			assert_int_equal(b.v[i].cursor, d[got]);
			got++;
		}
		cursor = b.to;
	} while (b.more && ++rounds < 10);
	assert_int_equal(got, 7);
	event_batch_clear(&b);
}

/* match[type], match[tlp] and match[producer] narrow the objects. */
static void
t_filters(void **state)
{
	struct ev_fx *fx = *state;
	struct event_batch b;
	int64_t dm;
	unsigned s;

	memset(&b, 0, sizeof(b));
	put1(fx, COLL, "indicator", TLP_CLEAR, 0, &s);
	dm = put1(fx, COLL, "malware", TLP_GREEN, 0, &s);
	next(fx, "match[type]=malware", 0, 100, &b);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.v[0].cursor, dm);
	next(fx, "match[tlp]=clear", 0, 100, &b);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.v[0].item.e.tlp, TLP_CLEAR);
	next(fx, "match[producer]=erin", 0, 100, &b);
	assert_int_equal(b.n, 0);
	assert_int_equal(b.to, dm); /* filtered out, yet passed */
	next(fx, "match[type]=never-stored", 0, 100, &b);
	assert_int_equal(b.n, 0);
	event_batch_clear(&b);
}

/* While a release is open, a batch ends before it (the bound), so the
 * twins that follow are not passed; once it is closed they arrive. */
static void
t_release_in_progress(void **state)
{
	struct ev_fx *fx = *state;
	struct store_wtxn *w;
	struct event_batch b;
	unsigned char rec[11], close[15] = {0};
	uint32_t producer = fx->alice->code, code = fx->erin->code;
	uint16_t one = 1;
	uint64_t event, id;
	int64_t d1;
	unsigned s;

	memset(&b, 0, sizeof(b));
	d1 = put1(fx, COLL, "indicator", TLP_CLEAR, 0, &s);
	memcpy(rec, &producer, 4);
	rec[4] = TLP_AMBER;
	memcpy(rec + 5, &one, 2);
	memcpy(rec + 7, &code, 4);
	assert_int_equal(store_wbegin(fx->st, &w), STORE_OK);
	assert_int_equal(
	    store_wrelease(w, &event, rec, sizeof(rec), ++fx->clock), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	put1(fx, COLL, "indicator", TLP_CLEAR, 0, &s); /* after the event */
	next(fx, "", 0, 100, &b);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.v[0].cursor, d1);
	assert_int_equal(b.to, (int64_t)event - 1);
	close[4] = VIEW_REL_DONE;
	memcpy(close + 7, &event, 8);
	assert_int_equal(store_wbegin(fx->st, &w), STORE_OK);
	assert_int_equal(
	    store_wrelease(w, &id, close, sizeof(close), ++fx->clock),
	    STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	next(fx, "", b.to, 100, &b);
	assert_int_equal(b.n, 1);
	assert_true(b.v[0].cursor > (int64_t)event);
	event_batch_clear(&b);
}

/* Deletions arrive in order among the objects, with the object's id and
 * version; those of objects erin may not see or that the filters leave
 * out do not, but the cursor passes them. */
static void
t_deletions(void **state)
{
	struct ev_fx *fx = *state;
	struct event_batch b;
	int64_t d1, d2, cur;
	unsigned s1, s2, sa, sm;

	memset(&b, 0, sizeof(b));
	d1 = put1(fx, COLL, "indicator", TLP_CLEAR, 0, &s1);
	put1(fx, COLL, "indicator", TLP_AMBER, 0, &sa);
	put1(fx, COLL, "malware", TLP_GREEN, 0, &sm);
	next(fx, "", 0, 100, &b);
	assert_int_equal(b.n, 2);
	cur = b.to;
	del1(fx, COLL, "indicator", s1);
	del1(fx, COLL, "indicator", sa); /* not visible to erin */
	d2 = put1(fx, COLL, "indicator", TLP_GREEN, 0, &s2);
	del1(fx, COLL, "malware", sm);
	next(fx, "", cur, 100, &b);
	assert_int_equal(b.n, 3);
	assert_int_equal(b.v[0].kind, EV_DELETE);
	assert_true(b.v[0].cursor > cur);
	assert_int_equal(b.v[0].version, 1000);
	assert_non_null(strstr(b.v[0].id, "indicator--"));
	assert_int_equal(b.v[1].kind, EV_OBJECT);
	assert_int_equal(b.v[1].cursor, d2);
	assert_int_equal(b.v[2].kind, EV_DELETE);
	assert_non_null(strstr(b.v[2].id, "malware--"));
	assert_true(b.v[0].cursor < b.v[1].cursor);
	assert_true(b.v[1].cursor < b.v[2].cursor);
	/* the type filter applies to deletions */
	next(fx, "match[type]=indicator", cur, 100, &b);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.v[0].kind, EV_DELETE);
	assert_int_equal(b.v[1].kind, EV_OBJECT);
	/* a full batch cut between an object and a deletion */
	next(fx, "", cur, 2, &b);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.more, 1);
	assert_int_equal(b.to, d2);
	next(fx, "", b.to, 2, &b);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.v[0].kind, EV_DELETE);
	(void)d1;
	event_batch_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		t_objects_in_order, ev_setup, ev_teardown),
	    cmocka_unit_test_setup_teardown(
		t_full_batches, ev_setup, ev_teardown),
	    cmocka_unit_test_setup_teardown(t_filters, ev_setup, ev_teardown),
	    cmocka_unit_test_setup_teardown(
		t_release_in_progress, ev_setup, ev_teardown),
	    cmocka_unit_test_setup_teardown(t_deletions, ev_setup, ev_teardown),
	};

	return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
