/*
 * t_view.c -- query strings of the read endpoints, paging tokens, and
 * pages over a real store: `more` over what the reader may see, objects a
 * policy reload releases reaching each poller exactly once, the cap on
 * the index entries one page may examine (max_scan), and the decision on
 * a deletion from its gone record (view_gone_visible).
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

#include "ctihub/marking.h"
#include "ctihub/member.h"
#include "ctihub/policy.h"
#include "ctihub/stix.h"
#include "ctihub/store.h"
#include "ctihub/tstamp.h"
#include "ctihub/view.h"

static void
parse_ok(struct view_query *q, const char *raw)
{
	char err[256] = "";

	if (view_parse(q, VIEW_OBJECTS, raw, NULL, err, sizeof(err)) != 0)
		fail_msg("%s: %s", raw, err);
}

static void
parse_fail(const char *raw, const char *want)
{
	struct view_query q;
	char err[256] = "";

	assert_int_equal(
	    view_parse(&q, VIEW_OBJECTS, raw, NULL, err, sizeof(err)), -1);
	view_query_clear(&q);
	if (strstr(err, want) == NULL)
		fail_msg("%s: got \"%s\", want \"%s\"", raw, err, want);
}

static void
t_parse(void **state)
{
	struct view_query q;

	(void)state;
	parse_ok(&q,
	    "added_after=2024-01-02T03:04:05.123456Z&limit=50&"
	    "match%5Btype%5D=indicator,x-mitre-tactic&"
	    "match%5Bversion%5D=first,2024-01-01T00:00:00Z&"
	    "match%5Bspec_version%5D=2.0&match%5Btlp%5D=amber%2Bstrict,"
	    "green&foo=bar&match%5Bsomething%5D=x");
	assert_int_equal(q.added_after, INT64_C(1704164645123456));
	assert_int_equal(q.pos, q.added_after);
	assert_int_equal(q.limit, 50);
	assert_int_equal(q.ntypes, 2);
	assert_string_equal(q.typename[1], "x-mitre-tactic");
	assert_int_equal(q.vflags, VIEW_V_FIRST);
	assert_int_equal(q.nvts, 1);
	assert_int_equal(q.specs, 1);
	assert_int_equal(q.tlps, 1u << TLP_AMBER_STRICT | 1u << TLP_GREEN);
	view_query_clear(&q);
	parse_ok(
	    &q, "match[id]=indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
	assert_int_equal(q.nids, 1);
	assert_int_equal(q.added_after, -1);
	view_query_clear(&q);
	parse_ok(&q, "");
	view_query_clear(&q);
	parse_ok(&q, NULL);
	view_query_clear(&q);
}

static void
t_parse_errors(void **state)
{
	(void)state;
	parse_fail("limit=0", "limit: '0' is not a positive integer");
	parse_fail("limit=1x", "limit: '1x'");
	parse_fail("added_after=2024-13-01T00:00:00Z", "added_after:");
	parse_fail("match%5Btype%5D=a&match%5Btype%5D=b",
	    "match[type] given more than once");
	parse_fail("match[version]=all,last", "'all' cannot be combined");
	parse_fail("match[version]=last,last", "'last' given twice");
	parse_fail(
	    "match[version]=2024-01-01T00:00:00Z,2024-01-01T00:00:00.000Z",
	    "given twice");
	parse_fail("match[spec_version]=2.2", "not 2.0 or 2.1");
	parse_fail("match[id]=malware", "not a STIX identifier");
	parse_fail("match[type]=a,,b", "an empty item");
	parse_fail("match[type]=%4", "malformed percent-encoding");
	parse_fail("match[tlp]=blue", "match[tlp]: 'blue'");
	parse_fail("match[producer]=-x", "not a member id");
}

static void
t_tokens(void **state)
{
	unsigned char key[32], other[32];
	struct view_query q, r;
	struct view_page pg;
	char tok[VIEW_TOKEN_MAX], err[256];
	int64_t now = INT64_C(1700000000000000);

	(void)state;
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	parse_ok(&q, "match[type]=indicator");
	memset(&pg, 0, sizeof(pg));
	pg.bound = 5678;
	pg.relpos = 91011;
	q.pos = 1234; /* an empty page: the walk goes on from here */
	assert_int_equal(view_token_make(&q, &pg, key, 11, 22, now, tok), 0);
	assert_true(strlen(tok) < VIEW_TOKEN_MAX);
	/* the same filters (another limit): accepted */
	parse_ok(&r, "limit=5&match[type]=indicator");
	r.next = tok;
	assert_int_equal(
	    view_token_read(&r, key, 11, 22, now + 1000, err, sizeof(err)), 0);
	assert_int_equal(r.pos, 1234);
	assert_int_equal(r.bound, 5678);
	assert_int_equal(r.relpos, 91011);
	/* another member, collection, key, query; expired; altered */
	assert_int_equal(
	    view_token_read(&r, key, 12, 22, now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "another collection or member"));
	assert_int_equal(
	    view_token_read(&r, key, 11, 23, now, err, sizeof(err)), -1);
	assert_int_equal(
	    view_token_read(&r, other, 11, 22, now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a token this hub issued"));
	assert_int_equal(
	    view_token_read(&r, key, 11, 22,
		now + (int64_t)VIEW_TOKEN_TTL * 1000000 + 1, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "expired"));
	view_query_clear(&r);
	parse_ok(&r, "match[type]=malware");
	r.next = tok;
	assert_int_equal(
	    view_token_read(&r, key, 11, 22, now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "other filters"));
	view_query_clear(&r);
	parse_ok(&r, "match[type]=indicator");
	tok[10] = tok[10] == 'A' ? 'B' : 'A';
	r.next = tok;
	assert_int_equal(
	    view_token_read(&r, key, 11, 22, now, err, sizeof(err)), -1);
	r.next = "not/a+token";
	assert_int_equal(
	    view_token_read(&r, key, 11, 22, now, err, sizeof(err)), -1);
	view_query_clear(&r);
	view_query_clear(&q);
}

/* The bytes of a token, base64url-decoded. */
static size_t
token_bytes(const char *tok, unsigned char *out, size_t max)
{
	static const char al[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (; *tok != '\0'; tok++) {
		acc = acc << 6 | (uint32_t)(strchr(al, *tok) - al);
		bits += 6;
		if (bits >= 8 && n < max) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

/* A token says nothing in clear: not the walk's bound (the newest
 * date_added of the collection, maybe of an object the reader may not
 * see), and never the same bytes twice. */
static void
t_tokens_opaque(void **state)
{
	unsigned char key[32], raw[VIEW_TOKEN_MAX], be[8];
	struct view_query q;
	struct view_page pg;
	char t1[VIEW_TOKEN_MAX], t2[VIEW_TOKEN_MAX];
	int64_t now = INT64_C(1700000000000000);
	int64_t bound = INT64_C(0x0123456789abcdef);
	size_t n;
	int i;

	(void)state;
	memset(key, 7, sizeof(key));
	parse_ok(&q, "match[type]=indicator");
	memset(&pg, 0, sizeof(pg));
	pg.bound = bound;
	assert_int_equal(view_token_make(&q, &pg, key, 11, 22, now, t1), 0);
	assert_int_equal(view_token_make(&q, &pg, key, 11, 22, now, t2), 0);
	for (i = 0; i < 8; i++)
		be[i] = (unsigned char)((uint64_t)bound >> (56 - 8 * i));
	n = token_bytes(t1, raw, sizeof(raw));
	assert_null(memmem(raw, n, be, 8));
	for (i = 0; i < 8; i++)
		be[7 - i] = (unsigned char)((uint64_t)bound >> (56 - 8 * i));
	assert_null(memmem(raw, n, be, 8));
	assert_string_not_equal(t1, t2);
	view_query_clear(&q);
}

/* --- pages over a store ------------------------------------------------ */

#define COLL  0x0c0c0001u
#define TAILC 0x0c0c0002u

#define MEMBER(id, cc)                                                         \
	"member " id " {\n\tname \"" id "\"\n\tcountry " cc                    \
	"\n\troles publisher subscriber\n\ttoken sha256$"                      \
	"00000000000000000000000000000000000000000000000000000000000000aa\n}"  \
	"\n"

static const char members_text[] =
    MEMBER("alice", "BR") MEMBER("erin", "MX") MEMBER("bob", "IN");

struct fx {
	char dir[64];
	struct store *st;
	struct store_reader *r;
	struct members *ms;
	struct policy *oldp, *newp;
	const struct member *alice, *erin;
	int64_t clock;
	unsigned seq;
};

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static struct policy *
load_policy(struct fx *fx, const char *name, const char *alice_rules)
{
	struct policy *pol = NULL;
	struct cfg_errs errs;
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/%s", fx->dir, name);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file(dir, "hub.policy", "share directory with community\n");
	write_file(dir, "alice.policy", alice_rules);
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(policy_load(dir, fx->ms, &pol, &errs), 0);
	cfg_errs_clear(&errs); /* warnings */
	return pol;
}

static int
fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct cfg_errs errs;
	char err[256], db[128];

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/t_view.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(db, sizeof(db), "%s/db", fx->dir);
	assert_int_equal(mkdir(db, 0700), 0);
	assert_int_equal(
	    store_open(&fx->st, db, 1ULL << 30, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_reader_new(fx->st, &fx->r), STORE_OK);
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(members_parse("members.conf", members_text,
			     strlen(members_text), &fx->ms, &errs),
	    0);
	fx->alice = members_find(fx->ms, "alice");
	fx->erin = members_find(fx->ms, "erin");
	/* erin (MX) may not see alice's AMBER objects, then she may */
	fx->oldp = load_policy(fx, "old", "share amber with countries IN\n");
	fx->newp = load_policy(fx, "new", "share amber with countries IN MX\n");
	fx->clock = INT64_C(1700000000000000);
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	policy_free(fx->oldp);
	policy_free(fx->newp);
	members_free(fx->ms);
	store_reader_free(fx->r);
	store_close(fx->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* Posts n objects of alice at `tlp` into coll; their rowids in rows. */
static void
fx_put(struct fx *fx, uint32_t coll, int tlp, int n, uint64_t *rows)
{
	struct store_wtxn *w;
	struct store_obj *o = calloc((size_t)n, sizeof(*o));
	char(*js)[96] = calloc((size_t)n, 96);
	char(*ids)[64] = calloc((size_t)n, 64);
	struct store_reader *r;
	int i;

	assert_true(o != NULL && js != NULL && ids != NULL);
	for (i = 0; i < n; i++) {
		unsigned u = ++fx->seq;

		snprintf(ids[i], 64,
		    "indicator--%08x-0000-4000-8000-000000000000", u);
		snprintf(js[i], 96, "{\"id\":\"%s\"}", ids[i]);
		o[i].json = js[i];
		o[i].jsonlen = strlen(js[i]);
		o[i].id = ids[i];
		o[i].idlen = strlen(ids[i]);
		assert_int_equal(stix_parse_id(ids[i], NULL, 0, o[i].uuid), 0);
		o[i].version = 1000;
		o[i].tlp = (uint8_t)tlp;
	}
	assert_int_equal(store_wbegin(fx->st, &w), STORE_OK);
	assert_int_equal(
	    store_wput(w, coll, fx->alice->code, o, (size_t)n, ++fx->clock),
	    STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	fx->clock += n;
	if (rows != NULL) {
		assert_int_equal(store_reader_new(fx->st, &r), STORE_OK);
		assert_int_equal(store_rbegin(r), STORE_OK);
		for (i = 0; i < n; i++) {
			struct store_entry e;

			assert_int_equal(
			    store_entry_get(r, coll, o[i].date_added, &e),
			    STORE_OK);
			rows[i] = e.rowid;
		}
		store_rend(r);
		store_reader_free(r);
	}
	free(o);
	free(js);
	free(ids);
}

/* One page for erin under `pol`, from `after` ("" for none) or a token;
 * the page's rows and where a poller would ask from next. */
struct got {
	int n;
	uint64_t rows[64];
	int more;
	int64_t last; /* X-TAXII-Date-Added-Last; 0 when none */
	char next[VIEW_TOKEN_MAX];
};

static void
fx_page(struct fx *fx, const struct policy *pol, uint32_t coll, const char *raw,
    size_t limit, struct got *g)
{
	static const unsigned char key[32] = {1};
	struct view_query q;
	struct view_page pg;
	struct view_ctx vc;
	char err[256];
	size_t i;

	memset(g, 0, sizeof(*g));
	assert_int_equal(
	    view_parse(&q, VIEW_OBJECTS, raw, fx->ms, err, sizeof(err)), 0);
	if (q.next != NULL)
		assert_int_equal(view_token_read(&q, key, fx->erin->code, coll,
				     fx->clock, err, sizeof(err)),
		    0);
	assert_int_equal(store_rbegin(fx->r), STORE_OK);
	vc.r = fx->r;
	vc.pol = pol;
	vc.reader = fx->erin;
	vc.rel = NULL;
	vc.max_scan = 0; /* no cap */
	assert_int_equal(view_page(&vc, &q, coll, limit, &pg), STORE_OK);
	for (i = 0; i < pg.n && i < 64; i++)
		g->rows[g->n++] = pg.items[i].e.rowid;
	g->more = pg.more;
	g->last = pg.n > 0 ? pg.items[pg.n - 1].date_added : 0;
	if (pg.more)
		assert_int_equal(view_token_make(&q, &pg, key, fx->erin->code,
				     coll, fx->clock, g->next),
		    0);
	store_rend(fx->r);
	view_page_clear(&pg);
	view_query_clear(&q);
}

/* A poller: asks from its cursor (0: a fresh walk), follows `next` to the
 * end of the walk, and moves its cursor to each page's
 * X-TAXII-Date-Added-Last; counts the copies of a watched row received. */
struct poller {
	int64_t cursor;
	char base[64]; /* the walk's added_after, while it lasts */
	char next[VIEW_TOKEN_MAX];
	int got;
	int total;
};

/* One page of the poller's walk; 1 while the walk goes on. */
static int
fx_step(struct fx *fx, const struct policy *pol, struct poller *p, uint64_t row,
    size_t limit)
{
	struct got g;
	char raw[512], ts[32];
	int i;

	if (p->next[0] == '\0') {
		p->base[0] = '\0';
		if (p->cursor > 0) {
			tstamp_format(p->cursor, 6, ts);
			snprintf(
			    p->base, sizeof(p->base), "added_after=%s", ts);
		}
		snprintf(raw, sizeof(raw), "%s", p->base);
	} else
		snprintf(raw, sizeof(raw), "%s%snext=%s", p->base,
		    p->base[0] ? "&" : "", p->next);
	fx_page(fx, pol, COLL, raw, limit, &g);
	for (i = 0; i < g.n; i++) {
		p->got += g.rows[i] == row;
		p->total++;
	}
	if (g.last != 0)
		p->cursor = g.last;
	snprintf(p->next, sizeof(p->next), "%s", g.more ? g.next : "");
	return g.more;
}

static void
fx_poll(struct fx *fx, const struct policy *pol, struct poller *p, uint64_t row,
    size_t limit)
{
	int pages = 0;

	while (fx_step(fx, pol, p, row, limit) && ++pages < 1000)
		;
}

/* What release.c does after a reload that lets erin see alice's AMBER
 * objects: the event record first (before the new policy is in force),
 * then twins in slices, then the record that the release is done. */
static uint64_t
fx_release_event(struct fx *fx)
{
	struct store_wtxn *w;
	unsigned char rec[11];
	uint32_t producer = fx->alice->code, code = fx->erin->code;
	uint16_t n = 1;
	uint64_t event;

	memcpy(rec, &producer, 4);
	rec[4] = TLP_AMBER;
	memcpy(rec + 5, &n, 2);
	memcpy(rec + 7, &code, 4);
	assert_int_equal(store_wbegin(fx->st, &w), STORE_OK);
	assert_int_equal(
	    store_wrelease(w, &event, rec, sizeof(rec), ++fx->clock), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	return event;
}

static int
want_amber(uint32_t coll, int64_t da, const struct store_entry *e, void *arg)
{
	struct fx *fx = arg;

	(void)coll;
	(void)da;
	return e->producer == fx->alice->code && e->tlp == TLP_AMBER;
}

/* One slice of twins (at most `max` entries examined); 1 while more
 * remain. */
static int
fx_twins(struct fx *fx, uint64_t event, unsigned char resume[12], int max)
{
	static const unsigned char zero[12];
	struct store_wtxn *w;
	int added;

	assert_int_equal(store_wbegin(fx->st, &w), STORE_OK);
	assert_int_equal(store_wtwins(w, event, want_amber, fx, ++fx->clock,
			     resume, max, &added),
	    STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
	fx->clock += added;
	return memcmp(resume, zero, 12) != 0;
}

/* The record that closes an event: producer 0, the kind (1: done, 2:
 * failed), no members, the event id. */
static void
fx_release_close(struct fx *fx, uint64_t event, int kind)
{
	struct store_wtxn *w;
	unsigned char rec[15] = {0};
	uint64_t id;

	rec[4] = (unsigned char)kind;
	memcpy(rec + 7, &event, 8);
	assert_int_equal(store_wbegin(fx->st, &w), STORE_OK);
	assert_int_equal(
	    store_wrelease(w, &id, rec, sizeof(rec), ++fx->clock), STORE_OK);
	assert_int_equal(store_wcommit(w), STORE_OK);
}

/*
 * An object released by a reload reaches every poller of erin exactly
 * once, however its cursor stood and whenever it polled: before the
 * object, past it, during the release (twins half written), across pages
 * of one walk that spans the end of the release, of one begun before the
 * reload, and a fresh walk.  Lookups by id see the original at once.
 */
static void
t_release_once(void **state)
{
	struct fx *fx = *state;
	struct poller before, past, win_before, win_past, paged, pre, fresh;
	unsigned char resume[12] = {0};
	uint64_t o[1], y[1], event;
	unsigned ou;
	char byid[128];
	struct got g;
	int more, i;

	memset(&before, 0, sizeof(before));
	fx_put(fx, COLL, TLP_CLEAR, 3, NULL);
	fx_poll(fx, fx->oldp, &before, 0, 100);
	assert_int_equal(before.total, 3);
	fx_put(fx, COLL, TLP_AMBER, 1, o); /* the object to be released */
	ou = fx->seq;
	fx_put(fx, COLL, TLP_CLEAR, 2, NULL);
	past = before;
	fx_poll(fx, fx->oldp, &past, o[0], 100);
	assert_int_equal(past.got, 0); /* not yet: hidden */
	assert_int_equal(past.total, 5);
	win_before = before;
	win_past = past;
	paged = before;
	pre = before;
	memset(&fresh, 0, sizeof(fresh));
	fx_step(fx, fx->oldp, &pre, o[0], 1); /* a walk begun before */
	snprintf(byid, sizeof(byid),
	    "match%%5Bid%%5D=indicator--%08x-0000-4000-8000-000000000000", ou);

	/* the reload: the event recorded, then the new policy in force */
	event = fx_release_event(fx);
	fx_page(fx, fx->newp, COLL, byid, 10, &g);
	assert_int_equal(g.n, 1); /* by id: the original, at once */
	assert_int_equal(g.rows[0], o[0]);
	fx_step(fx, fx->newp, &pre, o[0], 1);
	fx_poll(fx, fx->newp, &win_before, o[0], 100);
	fx_poll(fx, fx->newp, &win_past, o[0], 100);
	fx_step(fx, fx->newp, &paged, o[0], 1); /* a walk of pages of 1 */
	/* published during the release */
	fx_put(fx, COLL, TLP_CLEAR, 1, y);
	/* twins one entry a slice, pollers asking in between */
	for (i = 0, more = 1; more; i++) {
		more = fx_twins(fx, event, resume, 1);
		fx_poll(fx, fx->newp, &win_before, o[0], 100);
		fx_poll(fx, fx->newp, &win_past, o[0], 100);
		fx_step(fx, fx->newp, &paged, o[0], 1);
		fx_step(fx, fx->newp, &pre, o[0], 1);
	}
	fx_release_close(fx, event, 1);
	/* everyone polls twice after the release; the paged walk ends */
	fx_poll(fx, fx->newp, &paged, o[0], 1);
	fx_poll(fx, fx->newp, &pre, o[0], 1);
	fx_page(fx, fx->newp, COLL, byid, 10, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.rows[0], o[0]);
	for (i = 0; i < 2; i++) {
		fx_poll(fx, fx->newp, &before, o[0], 100);
		fx_poll(fx, fx->newp, &past, o[0], 100);
		fx_poll(fx, fx->newp, &win_before, o[0], 100);
		fx_poll(fx, fx->newp, &win_past, o[0], 100);
		fx_poll(fx, fx->newp, &paged, o[0], 1);
		fx_poll(fx, fx->newp, &pre, o[0], 1);
		fx_poll(fx, fx->newp, &fresh, o[0], 100);
	}
	assert_int_equal(before.got, 1);
	assert_int_equal(past.got, 1);
	assert_int_equal(win_before.got, 1);
	assert_int_equal(win_past.got, 1);
	assert_int_equal(paged.got, 1);
	assert_int_equal(pre.got, 1);
	assert_int_equal(fresh.got, 1);
	/* and nothing else twice: the 6 CLEAR objects, the released one */
	assert_int_equal(before.total, 3 + 2 + 1 + 1);
	assert_int_equal(past.total, 5 + 1 + 1);
	assert_int_equal(win_before.total, 3 + 2 + 1 + 1);
	assert_int_equal(win_past.total, 5 + 1 + 1);
	assert_int_equal(paged.total, 3 + 2 + 1 + 1);
	assert_int_equal(pre.total, 3 + 2 + 1 + 1);
	(void)y;
}

/*
 * A release that fails counts for nothing: a fresh walk gets the object
 * once, from the original; its twins never count; a poller past it does
 * not get it (it reaches pollers from the start only).
 */
static void
t_release_failed(void **state)
{
	struct fx *fx = *state;
	struct poller past, fresh;
	unsigned char resume[12] = {0};
	uint64_t o[1], event;

	memset(&past, 0, sizeof(past));
	fx_put(fx, COLL, TLP_AMBER, 1, o);
	fx_put(fx, COLL, TLP_CLEAR, 1, NULL);
	fx_poll(fx, fx->oldp, &past, o[0], 100);
	event = fx_release_event(fx);
	while (fx_twins(fx, event, resume, 1))
		;
	fx_release_close(fx, event, 2);
	memset(&fresh, 0, sizeof(fresh));
	fx_poll(fx, fx->newp, &fresh, o[0], 100);
	fx_poll(fx, fx->newp, &fresh, o[0], 100);
	fx_poll(fx, fx->newp, &past, o[0], 100);
	assert_int_equal(fresh.got, 1);
	assert_int_equal(fresh.total, 2);
	assert_int_equal(past.got, 0);
}

/* A marking read again: the definition alice's object waited for says
 * RED once it arrives (the store's remark callback, as ingest_remark). */
static const unsigned char mark_uuid[16] = {0x4d, 1, 2, 3, 0, 0, 0x40, 0, 0x80};

static int
remark_red(struct store_wtxn *w, uint32_t producer, const char *json,
    size_t len, struct store_mark *out)
{
	const char *mj;
	size_t ml;

	(void)json;
	(void)len;
	memset(out, 0, sizeof(*out));
	if (store_wmarking(w, producer, mark_uuid, &mj, &ml) == STORE_OK) {
		out->tlp = TLP_RED;
		return 0;
	}
	out->tlp = TLP_AMBER;
	out->flags = STORE_F_UNRESOLVED;
	out->nunres = 1;
	memcpy(out->unres[0], mark_uuid, 16);
	return 0;
}

/*
 * An object released at AMBER whose producer then publishes the marking
 * definition it waited for, which makes it RED: its twin, a copy of the
 * entry as it was at the release, must not show it any more.
 */
static void
t_twin_after_remark(void **state)
{
	struct fx *fx = *state;
	struct poller fresh;
	unsigned char resume[12] = {0};
	struct store_obj o;
	struct store_wtxn *w;
	char js[128], id[80];
	uint64_t event;
	int step;

	store_set_remark(fx->st, remark_red);
	for (step = 0; step < 2; step++) {
		memset(&o, 0, sizeof(o));
		if (step == 0)
			snprintf(id, sizeof(id),
			    "indicator--%08x-0000-4000-"
			    "8000-000000000000",
			    ++fx->seq);
		else
			snprintf(id, sizeof(id),
			    "marking-definition--4d010203"
			    "-0000-4000-8000-000000000000");
		snprintf(js, sizeof(js), "{\"id\":\"%s\"}", id);
		o.json = js;
		o.jsonlen = strlen(js);
		o.id = id;
		o.idlen = strlen(id);
		assert_int_equal(stix_parse_id(id, NULL, 0, o.uuid), 0);
		o.version = 1000;
		o.tlp = TLP_AMBER;
		if (step == 0) {
			o.flags = STORE_F_UNRESOLVED;
			o.nunres = 1;
			memcpy(o.unres[0], mark_uuid, 16);
		}
		assert_int_equal(store_wbegin(fx->st, &w), STORE_OK);
		assert_int_equal(store_wput(w, step == 0 ? COLL : TAILC,
				     fx->alice->code, &o, 1, ++fx->clock),
		    STORE_OK);
		assert_int_equal(store_wcommit(w), STORE_OK);
		if (step > 0)
			break;
		/* released to erin at AMBER */
		event = fx_release_event(fx);
		while (fx_twins(fx, event, resume, 10))
			;
		fx_release_close(fx, event, 1);
		memset(&fresh, 0, sizeof(fresh));
		fx_poll(fx, fx->newp, &fresh, 0, 100);
		assert_int_equal(fresh.total, 1); /* the twin */
	}
	/* now RED: neither the original nor the twin reaches erin */
	memset(&fresh, 0, sizeof(fresh));
	fx_poll(fx, fx->newp, &fresh, 0, 100);
	assert_int_equal(fresh.total, 0);
}

/* `more` is true only when an object the reader may see follows. */
static void
t_more_visible_only(void **state)
{
	struct fx *fx = *state;
	struct got g;

	fx_put(fx, TAILC, TLP_CLEAR, 2, NULL);
	fx_put(fx, TAILC, TLP_AMBER, VIEW_LOOKAHEAD + 5, NULL);
	fx_page(fx, fx->oldp, TAILC, "", 2, &g);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.more, 0); /* only hidden objects follow */
	fx_page(fx, fx->oldp, TAILC, "", 1, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.more, 1); /* a visible one follows */
}

/* --- the scan cap ------------------------------------------------------ */

#define SCAN_COLL  0x11111111u
#define SCAN_OWN   0xaaaa0001u /* the reader, who sees its own objects */
#define SCAN_OTHER 0xaaaa0002u /* AMBER objects nobody else may see */
#define SCAN_N	   303

static int64_t scan_dates[SCAN_N];

/* 300 objects the reader may not see, and 3 of its own at 50, 150 and
 * 302; their date_added in scan_dates. */
static struct store *
scan_store(char *dir)
{
	static char json[SCAN_N][128], ids[SCAN_N][64];
	struct store_obj o[SCAN_N];
	struct store_wtxn *w;
	struct store *st = NULL;
	char err[256];
	int i;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(
	    store_open(&st, dir, 1ULL << 28, err, sizeof(err)), STORE_OK);
	memset(o, 0, sizeof(o));
	assert_int_equal(store_wbegin(st, &w), STORE_OK);
	for (i = 0; i < SCAN_N; i++) {
		unsigned u = (unsigned)i + 1;
		int own = i == 50 || i == 150 || i == SCAN_N - 1;

		snprintf(ids[i], sizeof(ids[i]),
		    "indicator--%08x-0000-4000-8000-000000000000", u);
		snprintf(json[i], sizeof(json[i]), "{\"id\":\"%s\"}", ids[i]);
		o[i].json = json[i];
		o[i].jsonlen = strlen(json[i]);
		o[i].id = ids[i];
		o[i].idlen = strlen(ids[i]);
		memcpy(o[i].uuid, &u, sizeof(u));
		o[i].version = 1000;
		o[i].tlp = TLP_AMBER;
		/* one object a call keeps their order in the collection */
		assert_int_equal(
		    store_wput(w, SCAN_COLL, own ? SCAN_OWN : SCAN_OTHER, &o[i],
			1, INT64_C(1700000000000000)),
		    STORE_OK);
		scan_dates[i] = o[i].date_added;
	}
	assert_int_equal(store_wcommit(w), STORE_OK);
	return st;
}

static int
scan_index(int64_t date)
{
	int i;

	for (i = 0; i < SCAN_N; i++)
		if (scan_dates[i] == date)
			return i;
	return -1;
}

/* Walks the collection as the reader, `limit` a page, with a cap;
 * returns the pages, the items seen in `seen`. */
static int
scan_walk(struct store *st, size_t cap, size_t limit, int64_t *seen, int *n)
{
	struct member reader;
	struct view_ctx vc;
	struct view_query q;
	struct view_page pg;
	struct store_reader *r;
	int64_t pos = 0, bound = 0;
	int pages = 0, from = -1, to;
	size_t i;

	memset(&reader, 0, sizeof(reader));
	reader.code = SCAN_OWN;
	assert_int_equal(store_reader_new(st, &r), STORE_OK);
	vc.r = r;
	vc.pol = NULL;
	vc.reader = &reader;
	vc.max_scan = cap;
	vc.rel = NULL;
	*n = 0;
	for (;;) {
		parse_ok(&q, "");
		if (pages > 0) {
			q.pos = pos;
			q.bound = bound;
		}
		assert_int_equal(store_rbegin(r), STORE_OK);
		assert_int_equal(
		    view_page(&vc, &q, SCAN_COLL, limit, &pg), STORE_OK);
		store_rend(r);
		view_query_clear(&q);
		pages++;
		for (i = 0; i < pg.n; i++)
			seen[(*n)++] = pg.items[i].date_added;
		if (!pg.more) {
			view_page_clear(&pg);
			break;
		}
		/* the next position is past every entry examined, and no
		 * page examined more than the cap */
		assert_true(pg.last > pos);
		to = scan_index(pg.last);
		assert_true(to >= 0);
		if (cap > 0)
			assert_true((size_t)(to - from) <= cap);
		from = to;
		pos = pg.last;
		bound = pg.bound;
		view_page_clear(&pg);
		assert_true(pages < 1000);
	}
	store_reader_free(r);
	return pages;
}

static void
t_scan_cap(void **state)
{
	char dir[] = "/tmp/t_view.XXXXXX", cmd[64];
	struct store *st;
	int64_t seen[SCAN_N];
	int n, pages;

	(void)state;
	st = scan_store(dir);
	/* no cap: one page holds the reader's three objects */
	pages = scan_walk(st, 0, 10, seen, &n);
	assert_int_equal(pages, 1);
	assert_int_equal(n, 3);
	/* a cap of 40: pages stop after 40 entries, most of them empty,
	 * and the walk returns the same three, once each, in order */
	pages = scan_walk(st, 40, 10, seen, &n);
	assert_int_equal(pages, (SCAN_N + 39) / 40);
	assert_int_equal(n, 3);
	assert_int_equal(seen[0], scan_dates[50]);
	assert_int_equal(seen[1], scan_dates[150]);
	assert_int_equal(seen[2], scan_dates[SCAN_N - 1]);
	/* a cap of one entry still makes progress */
	pages = scan_walk(st, 1, 10, seen, &n);
	assert_int_equal(pages, SCAN_N);
	assert_int_equal(n, 3);
	/* a full page and a cap together: two of the three a page */
	pages = scan_walk(st, 1000, 2, seen, &n);
	assert_int_equal(n, 3);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* --- deletions ------------------------------------------------------- */

#define GONE_COLL 0x33333333u
#define GONE_N	  8

struct gone_case {
	int tlp;
	int flags;
	const char *release; /* country pairs, with STORE_F_RELEASE */
	unsigned char uuid[16];
	int vis[3][3]; /* [policy][reader] before the delete */
	int seen;
};

static int
gone_check(const struct store_gone *g, void *arg)
{
	void **a = arg;
	struct gone_case *cs = a[0];
	struct view_ctx *vc = a[1];
	const struct member **readers = a[2];
	const struct policy **pols = a[3];
	int i, p, m;

	for (i = 0; i < GONE_N; i++)
		if (memcmp(cs[i].uuid, g->uuid, 16) == 0)
			break;
	assert_true(i < GONE_N);
	cs[i].seen++;
	for (p = 0; p < 3; p++)
		for (m = 0; m < 3; m++) {
			vc->pol = pols[p];
			vc->reader = readers[m];
			if (view_gone_visible(vc, g) != cs[i].vis[p][m])
				fail_msg("case %d, policy %d, reader %d: "
					 "gone %d, entry %d",
				    i, p, m, view_gone_visible(vc, g),
				    cs[i].vis[p][m]);
		}
	return 0;
}

static int
match_any(const struct store_version *v, void *arg)
{
	(void)v;
	(void)arg;
	return 1;
}

/* The decision on a deletion, from its gone record, is the one
 * view_visible made on the entry before it was deleted: for every level,
 * a releasability list, an unresolved marking, under three policies and
 * for three readers (the producer, and two countries). */
static void
t_gone_visible(void **state)
{
	struct fx *fx = *state;
	struct gone_case cs[GONE_N] = {
	    {TLP_CLEAR, 0, NULL, {0}, {{0}}, 0},
	    {TLP_GREEN, 0, NULL, {0}, {{0}}, 0},
	    {TLP_AMBER, 0, NULL, {0}, {{0}}, 0},
	    {TLP_AMBER_STRICT, 0, NULL, {0}, {{0}}, 0},
	    {TLP_RED, 0, NULL, {0}, {{0}}, 0},
	    {TLP_NONE, 0, NULL, {0}, {{0}}, 0},
	    {TLP_AMBER, STORE_F_RELEASE, "MXBR", {0}, {{0}}, 0},
	    {TLP_GREEN, STORE_F_RELEASE | STORE_F_UNRESOLVED, "IN", {0}, {{0}},
		0},
	};
	const struct member *readers[3];
	const struct policy *pols[3];
	struct store_obj o;
	struct store_wtxn *w;
	struct store_reader *r = fx->r;
	struct store_entry e;
	struct view_ctx vc;
	struct policy *never;
	char js[GONE_N][96], ids[GONE_N][64];
	int64_t da[GONE_N];
	void *arg[4];
	int i, p, m, removed, differs = 0;

	readers[0] = fx->alice;
	readers[1] = fx->erin;
	readers[2] = members_find(fx->ms, "bob");
	assert_non_null(readers[2]);
	never = load_policy(fx, "never",
	    "share amber with countries IN MX\nnever countries IN\n");
	pols[0] = fx->oldp;
	pols[1] = fx->newp;
	pols[2] = never;
	for (i = 0; i < GONE_N; i++) {
		memset(&o, 0, sizeof(o));
		snprintf(ids[i], 64,
		    "indicator--%08x-0000-4000-8000-00000000000%d", 0x600 + i,
		    i);
		snprintf(js[i], 96, "{\"id\":\"%s\"}", ids[i]);
		o.json = js[i];
		o.jsonlen = strlen(js[i]);
		o.id = ids[i];
		o.idlen = strlen(ids[i]);
		assert_int_equal(stix_parse_id(ids[i], NULL, 0, o.uuid), 0);
		memcpy(cs[i].uuid, o.uuid, 16);
		o.version = 1000;
		o.tlp = (uint8_t)cs[i].tlp;
		o.flags = (uint8_t)cs[i].flags;
		if (cs[i].release != NULL) {
			o.nrelease = (int)strlen(cs[i].release) / 2;
			memcpy(o.release, cs[i].release, strlen(cs[i].release));
		}
		assert_int_equal(store_wbegin(fx->st, &w), STORE_OK);
		assert_int_equal(store_wput(w, GONE_COLL, fx->alice->code, &o,
				     1, ++fx->clock),
		    STORE_OK);
		assert_int_equal(store_wcommit(w), STORE_OK);
		da[i] = o.date_added;
	}
	memset(&vc, 0, sizeof(vc));
	vc.r = r;
	assert_int_equal(store_rbegin(r), STORE_OK);
	for (i = 0; i < GONE_N; i++) {
		assert_int_equal(
		    store_entry_get(r, GONE_COLL, da[i], &e), STORE_OK);
		for (p = 0; p < 3; p++)
			for (m = 0; m < 3; m++) {
				vc.pol = pols[p];
				vc.reader = readers[m];
				cs[i].vis[p][m] = view_visible(&vc, &e);
				differs |= cs[i].vis[p][m] != cs[0].vis[p][m];
			}
	}
	store_rend(r);
	assert_true(differs); /* the cases tell the decisions apart */
	assert_int_equal(cs[4].vis[0][1], 0); /* RED: not erin's */
	assert_int_equal(cs[4].vis[0][0], 1); /* but its producer's */
	assert_int_equal(store_wbegin(fx->st, &w), STORE_OK);
	for (i = 0; i < GONE_N; i++) {
		assert_int_equal(store_wdelete(w, GONE_COLL, "indicator",
				     cs[i].uuid, 0, match_any, NULL, &removed),
		    STORE_OK);
		assert_int_equal(removed, 1);
	}
	assert_int_equal(store_wcommit(w), STORE_OK);
	arg[0] = cs;
	arg[1] = &vc;
	arg[2] = readers;
	arg[3] = pols;
	assert_int_equal(store_rbegin(r), STORE_OK);
	assert_int_equal(
	    store_gone_walk(r, GONE_COLL, 0, INT64_MAX, gone_check, arg),
	    STORE_OK);
	store_rend(r);
	for (i = 0; i < GONE_N; i++)
		assert_int_equal(cs[i].seen, 1);
	policy_free(never);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_parse),
	    cmocka_unit_test(t_parse_errors),
	    cmocka_unit_test(t_tokens),
	    cmocka_unit_test(t_tokens_opaque),
	    cmocka_unit_test_setup_teardown(
		t_more_visible_only, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		t_release_once, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		t_release_failed, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		t_twin_after_remark, fx_setup, fx_teardown),
	    cmocka_unit_test(t_scan_cap),
	    cmocka_unit_test_setup_teardown(
		t_gone_visible, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests_name("view", tests, NULL, NULL);
}
