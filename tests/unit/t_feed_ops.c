/*
 * t_feed_ops.c -- the connectors as the engine runs them (feed.h): each
 * struct feed_ops driven through scripted runs with canned responses, the
 * state saved after each result as the engine would once the store has
 * acknowledged it.  Lists: first run, unchanged re-runs (304, 200 alike),
 * an edit (new and vanished, expired or revoked), pages over
 * FEED_PAGE_OBJECTS with the state on the last only (vanished and
 * returned alike), entries that vanish and return (same id and created,
 * or a new id when revoked), FLS1 snapshots, broken downloads that must
 * expire nothing.  MISP: only new or changed events, a failed
 * event fetched again next run, ids in the hub's namespace.  TAXII: the
 * cursor moving forward, never backwards, and the feed's TLP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/buf.h"
#include "ctihub/marking.h"
#include "ctihub/observable.h"
#include "ctihub/stix.h"
#include "ctihub/uuid.h"

#include "../../feeds/feed.h"
#include "../../feeds/feed_list.h"
#include "../../feeds/feed_misp.h"

#define MISP_DIR "tests/fixtures/misp/"
#define EV1	 "5a3c1d0e-8b9f-4c21-a3d4-0e1f2a3b4c5d"
#define EV2	 "7d8e9f00-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
#define MEMBER	 "identity--0c5b7c34-3d1b-4f43-9f6c-1f4e7b0a9d21"
#define T0	 1735689600000000LL /* 2025-01-01T00:00:00Z */

/* One canned response: for the first request whose URL ends in suffix
 * (NULL: a file source's, url NULL). */
struct canned {
	const char *suffix;
	long status;
	const char *body;
	const char *etag;
	const char *lm;
	const char *dal; /* X-TAXII-Date-Added-Last */
	const char *ctype;
};

#define MAX_REQ 64

/* What a run did. */
struct drive {
	int rc; /* FEED_OK, or FEED_ERR where it failed */
	char err[FEED_ERRLEN];
	int nreq;
	char urls[MAX_REQ + 1][512]; /* the first MAX_REQ, then the last */
	char hdrs[MAX_REQ + 1][512]; /* header lines, joined by '|' */
	int nresults;
	char states[MAX_REQ + 8]; /* per result: 'S' with a state, '.' */
	json_t *objects;	  /* every object stored */
	int nerrors;
	long lines[256];
	char msgs[256][FEED_ERRLEN];
};

/* A string constant where the definition holds char * (never written). */
static char *
S(const char *s)
{
	return (char *)(uintptr_t)s;
}

/* The time of the next run; each run an hour after the last. */
static int64_t g_now = T0;

static unsigned char ns_a[16] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static unsigned char ns_b[16] = {
    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

static const struct canned *
find(const struct canned *c, size_t n, const char *url)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (c[i].suffix == NULL && url == NULL)
			return &c[i];
		if (c[i].suffix != NULL && url != NULL &&
		    strlen(url) >= strlen(c[i].suffix) &&
		    strcmp(url + strlen(url) - strlen(c[i].suffix),
			c[i].suffix) == 0)
			return &c[i];
	}
	return NULL;
}

/* Runs def once from *st, as the engine does; *st becomes the saved
 * state.  d->objects must be freed by the caller (drive_clear). */
static void
drive(const struct feed_def *def, const unsigned char ns[16],
    struct feed_state *st, const struct canned *c, size_t nc, struct drive *d)
{
	const struct feed_ops *ops = feed_ops_find(def->kind);
	struct feed_ctx ctx;
	struct feed_run *run;
	int cont = 0, rc, i;

	memset(d, 0, sizeof(*d));
	d->objects = json_array();
	assert_non_null(ops);
	memset(&ctx, 0, sizeof(ctx));
	ctx.def = def;
	memcpy(ctx.ns, ns, 16);
	ctx.member = def->member; /* as the engine does */
	ctx.now = g_now;
	g_now += 3600000000LL;
	run =
	    ops->run_new(&ctx, st->len > 0 ? st : NULL, d->err, sizeof(d->err));
	if (run == NULL) {
		d->rc = FEED_ERR;
		return;
	}
	for (;;) {
		struct feed_request req;
		struct feed_response resp;
		struct feed_result out;
		const struct canned *k = NULL;

		memset(&req, 0, sizeof(req));
		rc = ops->next(run, &req, d->err, sizeof(d->err));
		if (rc == FEED_DONE)
			break;
		if (rc == FEED_ERR) {
			d->rc = FEED_ERR;
			break;
		}
		cont = rc == FEED_CONT;
		memset(&resp, 0, sizeof(resp));
		if (!cont) {
			int at = d->nreq < MAX_REQ ? d->nreq : MAX_REQ;

			snprintf(d->urls[at], sizeof(d->urls[0]), "%s",
			    req.url != NULL ? req.url : "(file)");
			d->hdrs[at][0] = '\0';
			for (i = 0; req.headers[i] != NULL; i++) {
				assert_null(strpbrk(req.headers[i], "\r\n"));
				strncat(d->hdrs[at], req.headers[i],
				    sizeof(d->hdrs[0]) - strlen(d->hdrs[at]) -
					2);
				strcat(d->hdrs[at], "|");
			}
			d->nreq++;
			k = find(c, nc, req.url);
			if (k == NULL) {
				resp.status = 404;
			} else {
				resp.status = k->status;
				resp.body = k->body;
				resp.len =
				    k->body != NULL ? strlen(k->body) : 0;
				resp.etag = k->etag;
				resp.last_modified = k->lm;
				resp.date_added_last = k->dal;
				resp.content_type = k->ctype;
			}
			resp.now = ctx.now;
		}
		feed_request_clear(&req);
		feed_result_init(&out);
		rc = ops->parse(
		    run, cont ? NULL : &resp, &out, d->err, sizeof(d->err));
		for (i = 0; i < out.nerrors && d->nerrors < 256; i++) {
			d->lines[d->nerrors] = out.errors[i].line;
			memcpy(d->msgs[d->nerrors++], out.errors[i].msg,
			    FEED_ERRLEN);
		}
		if (rc != FEED_OK) {
			assert_int_equal(rc, FEED_ERR);
			d->rc = FEED_ERR;
			feed_result_clear(&out);
			break;
		}
		if (d->nresults < MAX_REQ)
			d->states[d->nresults] = out.has_state ? 'S' : '.';
		d->nresults++;
		if (out.envelope.len > 0) {
			json_error_t je;
			json_t *env = json_loadb(
			    out.envelope.data, out.envelope.len, 0, &je);

			assert_non_null(env);
			assert_int_equal(
			    json_array_size(json_object_get(env, "objects")),
			    out.nobjects);
			json_array_extend(
			    d->objects, json_object_get(env, "objects"));
			json_decref(env);
		} else
			assert_int_equal(out.nobjects, 0);
		if (out.has_state) { /* "acknowledged": saved */
			feed_state_clear(st);
			*st = out.state;
			out.state.data = NULL;
			out.state.len = 0;
		}
		if (!out.more) {
			feed_result_clear(&out);
			break;
		}
		feed_result_clear(&out);
	}
	ops->run_free(run);
}

static void
drive_clear(struct drive *d)
{
	json_decref(d->objects);
	d->objects = NULL;
}

/* The object of objects whose pattern holds `value`, or NULL. */
static json_t *
obj_with(json_t *objects, const char *value)
{
	size_t i;
	json_t *o;

	json_array_foreach(objects, i, o)
	{
		const char *p =
		    json_string_value(json_object_get(o, "pattern"));

		if (p != NULL && strstr(p, value) != NULL)
			return o;
	}
	return NULL;
}

/* Every object passes the STIX validator without a warning. */
static void
validate(json_t *objects)
{
	struct stix_report rep;
	json_t *o;
	size_t i;

	json_array_foreach(objects, i, o)
	{
		int r = stix_validate(o, NULL, NULL, &rep);

		if (r != 0 || rep.nwarnings != 0) {
			char s[256];

			stix_finding_str(&rep.findings[0], s, sizeof(s));
			print_message("%s\n", s);
		}
		assert_int_equal(r, 0);
		assert_int_equal(rep.nwarnings, 0);
	}
}

static void
list_def(struct feed_def *def, int kind)
{
	static char *labels[1];

	labels[0] = S("blocklist");

	memset(def, 0, sizeof(*def));
	snprintf(def->name, sizeof(def->name), "t");
	def->kind = kind;
	def->enabled = 1;
	def->url = S("https://lists.example/drop.txt");
	snprintf(def->member, sizeof(def->member), "%s", MEMBER);
	def->tlp = TLP_GREEN;
	def->labels = labels;
	def->nlabels = 1;
	def->confidence = 70;
	def->obs_type = OBS_NONE;
	def->on_vanish = FEED_VANISH_EXPIRE;
}

static void
t_registry(void **unused)
{
	(void)unused;
	assert_non_null(feed_ops_find(FEED_TAXII));
	assert_non_null(feed_ops_find(FEED_MISP));
	assert_ptr_equal(feed_ops_find(FEED_LIST), feed_ops_find(FEED_CSV));
	assert_ptr_equal(feed_ops_find(FEED_LIST), feed_ops_find(FEED_JSON));
	assert_null(feed_ops_find(0));
	assert_null(feed_ops_find(FEED_KIND_MAX + 1));
}

static void
t_list_runs(void **unused)
{
	struct feed_def def;
	struct feed_state st = {0};
	struct drive d;
	struct canned c1[] = {{".txt", 200,
	    "# a list\n1.2.3.4\n5.6.7.8 ; SBL1\nnot/an/ip!\n9.9.9.0/24\n",
	    "\"e1\"", "Wed, 01 Jan 2025 00:00:00 GMT", NULL, "text/plain"}};
	struct canned c304[] = {{".txt", 304, NULL, NULL, NULL, NULL, NULL}};
	struct canned c2[] = {{".txt", 200,
	    "# a list\n1.2.3.4\n5.6.7.8 ; SBL1\nnot/an/ip!\n9.9.9.0/24\n",
	    "\"e2\"", "Wed, 01 Jan 2025 00:00:00 GMT", NULL, NULL}};
	struct canned c3[] = {
	    {".txt", 200, "1.2.3.4\n9.9.9.0/24\n10.0.0.1\nevil.example\n",
		"\"e3\"", NULL, NULL, NULL}};
	unsigned char *snap;
	size_t snaplen;
	char id[FEED_LIST_ID_LEN + 1];
	struct feed_list_stix s = {.ns = ns_a, .producer = MEMBER};
	json_t *o;

	(void)unused;
	list_def(&def, FEED_LIST);
	/* first run: three indicators, the bad line reported with its
	 * number, a state */
	drive(&def, ns_a, &st, c1, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(d.nreq, 1);
	assert_string_equal(d.hdrs[0], ""); /* nothing to be conditional on */
	assert_int_equal(json_array_size(d.objects), 3);
	assert_string_equal(d.states, "S");
	assert_int_equal(d.nerrors, 1);
	assert_int_equal(d.lines[0], 4);
	o = obj_with(d.objects, "'1.2.3.4'");
	assert_non_null(o);
	assert_int_equal(feed_list_id(&s, OBS_IPV4, "1.2.3.4", 7, -1, id), 0);
	assert_string_equal(json_string_value(json_object_get(o, "id")), id);
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(o, "object_marking_refs"), 0)),
	    marking_tlp_id(TLP_GREEN));
	assert_int_equal(
	    json_integer_value(json_object_get(o, "confidence")), 70);
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(o, "labels"), 0)),
	    "blocklist");
	assert_null(json_object_get(o, "valid_until"));
	drive_clear(&d);
	snaplen = st.len;
	snap = malloc(snaplen);
	memcpy(snap, st.data, snaplen);

	/* 304: conditional request, nothing stored, state kept */
	drive(&def, ns_a, &st, c304, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_non_null(strstr(d.hdrs[0], "If-None-Match: \"e1\"|"));
	assert_non_null(strstr(
	    d.hdrs[0], "If-Modified-Since: Wed, 01 Jan 2025 00:00:00 GMT|"));
	assert_int_equal(json_array_size(d.objects), 0);
	assert_string_equal(d.states, ".");
	drive_clear(&d);

	/* 200, the same list, the same ETag: nothing at all */
	drive(&def, ns_a, &st, c1, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(json_array_size(d.objects), 0);
	assert_string_equal(d.states, ".");
	assert_true(st.len == snaplen && memcmp(st.data, snap, snaplen) == 0);
	drive_clear(&d);

	/* 200, the same list, a new ETag: only the state */
	drive(&def, ns_a, &st, c2, 1, &d);
	assert_int_equal(json_array_size(d.objects), 0);
	assert_string_equal(d.states, "S");
	drive_clear(&d);

	/* an edit: 5.6.7.8 gone (expired), two new */
	g_now = T0 + 2 * 86400000000LL;
	drive(&def, ns_a, &st, c3, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_non_null(strstr(d.hdrs[0], "If-None-Match: \"e2\""));
	assert_int_equal(json_array_size(d.objects), 3);
	assert_string_equal(d.states, "S");
	assert_non_null(obj_with(d.objects, "'10.0.0.1'"));
	assert_non_null(obj_with(d.objects, "'evil.example'"));
	assert_null(obj_with(d.objects, "'1.2.3.4'"));
	o = obj_with(d.objects, "'5.6.7.8'");
	assert_non_null(o);
	assert_string_equal(
	    json_string_value(json_object_get(o, "valid_until")),
	    "2025-01-03T00:00:00.000Z");
	assert_null(json_object_get(o, "revoked"));
	validate(d.objects);
	drive_clear(&d);

	/* revoke mode: 10.0.0.1 and evil.example gone, revoked */
	def.on_vanish = FEED_VANISH_REVOKE;
	drive(&def, ns_a, &st, c1, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(json_array_size(d.objects), 3); /* 5.6.7.8 back */
	o = obj_with(d.objects, "'evil.example'");
	assert_non_null(o);
	assert_true(json_is_true(json_object_get(o, "revoked")));
	validate(d.objects);
	assert_null(
	    json_object_get(obj_with(d.objects, "'5.6.7.8'"), "revoked"));
	drive_clear(&d);

	/* another namespace: other ids */
	feed_state_clear(&st);
	drive(&def, ns_b, &st, c1, 1, &d);
	o = obj_with(d.objects, "'1.2.3.4'");
	assert_string_not_equal(
	    json_string_value(json_object_get(o, "id")), id);
	drive_clear(&d);
	feed_state_clear(&st);
	free(snap);
}

static void
t_list_broken(void **unused)
{
	struct feed_def def;
	struct feed_state st = {0}, keep;
	struct drive d;
	struct canned good[] = {{NULL, 200, "1.2.3.4\n5.6.7.8\n", NULL,
	    "Wed, 01 Jan 2025 00:00:00 GMT", NULL, NULL}};
	struct canned bad[][1] = {
	    {{NULL, 200, "", NULL, "Thu, 02 Jan 2025 00:00:00 GMT", NULL,
		NULL}},
	    {{NULL, 200, NULL, NULL, NULL, NULL, NULL}},
	    {{NULL, 200, "# only comments now\n", NULL, NULL, NULL, NULL}},
	    {{NULL, 200, "<html><body>1.2.3.4</body></html>\n", NULL, NULL,
		NULL, "text/html; charset=utf-8"}},
	    {{NULL, 200, "\n  <!DOCTYPE html>\n<p>5.6.7.8</p>\n", NULL, NULL,
		NULL, "text/plain"}},
	    {{NULL, 200, "Service Unavailable!\nTry later: soon\n", NULL, NULL,
		NULL, NULL}},
	    {{NULL, 500, "1.2.3.4\n", NULL, NULL, NULL, NULL}},
	};
	size_t i;

	(void)unused;
	list_def(&def, FEED_LIST);
	def.url = NULL;
	def.path = S("/nonexistent/list.txt");
	drive(&def, ns_a, &st, good, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_string_equal(d.urls[0], "(file)");
	assert_int_equal(json_array_size(d.objects), 2);
	drive_clear(&d);
	keep.len = st.len;
	keep.data = malloc(st.len);
	memcpy(keep.data, st.data, st.len);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		drive(&def, ns_a, &st, bad[i], 1, &d);
		assert_int_equal(d.rc, FEED_ERR);
		assert_true(d.err[0] != '\0');
		assert_int_equal(json_array_size(d.objects), 0);
		assert_int_equal(d.nresults, 0);
		assert_true(
		    st.len == keep.len && !memcmp(st.data, keep.data, st.len));
		drive_clear(&d);
	}
	/* a file source's mtime works as Last-Modified */
	drive(&def, ns_a, &st, good, 1, &d);
	assert_non_null(strstr(
	    d.hdrs[0], "If-Modified-Since: Wed, 01 Jan 2025 00:00:00 GMT"));
	drive_clear(&d);
	/* a validator that would split the request is not kept */
	good[0].etag = "\"a\"\r\nX-Evil: 1";
	drive(&def, ns_a, &st, good, 1, &d);
	assert_string_equal(d.states, "."); /* dropped: unchanged */
	drive_clear(&d);
	drive(&def, ns_a, &st, good, 1, &d);
	assert_string_equal(
	    d.hdrs[0], "If-Modified-Since: Wed, 01 Jan 2025 00:00:00 GMT|");
	assert_string_equal(d.states, "."); /* nothing new to save */
	drive_clear(&d);
	good[0].etag = NULL;
	/* a state that is not a list's */
	{
		struct feed_state junk = {S("FLH1\xff\xff"), 6};

		drive(&def, ns_a, &junk, good, 1, &d);
		assert_int_equal(d.rc, FEED_ERR);
		assert_int_equal(d.nreq, 0);
		drive_clear(&d);
	}
	free(keep.data);
	feed_state_clear(&st);
}

static void
t_list_pages(void **unused)
{
	struct feed_def def;
	struct feed_state st = {0};
	struct drive d;
	struct canned c[1] = {{".txt", 200, NULL, "\"big\"", NULL, NULL, NULL}};
	struct buf b;
	size_t n = 2 * FEED_PAGE_OBJECTS + 5000, i;

	(void)unused;
	list_def(&def, FEED_LIST);
	buf_init(&b);
	for (i = 0; i < n; i++)
		buf_addf(
		    &b, "5.%zu.%zu.%zu\n", i >> 16, (i >> 8) & 255, i & 255);
	c[0].body = buf_cstr(&b);
	drive(&def, ns_a, &st, c, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(d.nreq, 1);
	assert_string_equal(d.states, "..S");
	assert_int_equal(json_array_size(d.objects), n);
	drive_clear(&d);
	/* all but 10 vanish: 10 more than a page of expired versions */
	buf_reset(&b);
	for (i = 0; i < 10; i++)
		buf_addf(&b, "5.0.0.%zu\n", i);
	c[0].body = buf_cstr(&b);
	c[0].etag = "\"small\"";
	drive(&def, ns_a, &st, c, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_string_equal(d.states, "..S");
	assert_int_equal(json_array_size(d.objects), n - 10);
	assert_non_null(
	    json_object_get(json_array_get(d.objects, 0), "valid_until"));
	drive_clear(&d);
	/* and again: nothing */
	drive(&def, ns_a, &st, c, 1, &d);
	assert_string_equal(d.states, ".");
	assert_int_equal(json_array_size(d.objects), 0);
	drive_clear(&d);
	/* all back: returned versions over pages, the state on the last */
	buf_reset(&b);
	for (i = 0; i < n; i++)
		buf_addf(
		    &b, "5.%zu.%zu.%zu\n", i >> 16, (i >> 8) & 255, i & 255);
	c[0].body = buf_cstr(&b);
	c[0].etag = "\"big\"";
	drive(&def, ns_a, &st, c, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_string_equal(d.states, "..S");
	assert_int_equal(json_array_size(d.objects), n - 10);
	assert_null(
	    json_object_get(json_array_get(d.objects, 0), "valid_until"));
	/* created kept from the first run, two runs before */
	assert_true(strcmp(json_string_value(json_object_get(
			       json_array_get(d.objects, 0), "created")),
			json_string_value(json_object_get(
			    json_array_get(d.objects, 0), "modified"))) < 0);
	drive_clear(&d);
	buf_clear(&b);
	feed_state_clear(&st);
}

/* Entries that vanish and return: expire mode, a new version of the same
 * id with the first version's created, valid again; revoke mode, a new
 * indicator; the snapshot's checks count present entries only; an FLS1
 * state is read and rewritten as FLS2 on the next run. */
static void
t_list_return(void **unused)
{
	struct feed_def def;
	struct feed_state st = {0}, rv = {0};
	struct drive d;
	struct canned ab[] = {
	    {".txt", 200, "1.2.3.4\n5.6.7.8\n", NULL, NULL, NULL, NULL}};
	struct canned b[] = {
	    {".txt", 200, "5.6.7.8\n", NULL, NULL, NULL, NULL}};
	struct canned c[] = {
	    {".txt", 200, "9.9.9.9\n", NULL, NULL, NULL, NULL}};
	struct canned empty[] = {{".txt", 200, "", NULL, NULL, NULL, NULL}};
	char id[64], created[64], expired[64];
	json_t *o;

	(void)unused;
	list_def(&def, FEED_LIST);
	drive(&def, ns_a, &st, ab, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	o = obj_with(d.objects, "'1.2.3.4'");
	snprintf(
	    id, sizeof(id), "%s", json_string_value(json_object_get(o, "id")));
	snprintf(created, sizeof(created), "%s",
	    json_string_value(json_object_get(o, "created")));
	drive_clear(&d);
	/* 1.2.3.4 vanishes: expired */
	drive(&def, ns_a, &st, b, 1, &d);
	assert_int_equal(json_array_size(d.objects), 1);
	o = obj_with(d.objects, "'1.2.3.4'");
	assert_string_equal(json_string_value(json_object_get(o, "id")), id);
	snprintf(expired, sizeof(expired), "%s",
	    json_string_value(json_object_get(o, "modified")));
	drive_clear(&d);
	rv.len = st.len;
	rv.data = malloc(st.len);
	memcpy(rv.data, st.data, st.len);
	/* still gone: nothing, no new state */
	drive(&def, ns_a, &st, b, 1, &d);
	assert_int_equal(json_array_size(d.objects), 0);
	assert_string_equal(d.states, ".");
	drive_clear(&d);
	/* back: the same id, the same created, modified after the expired
	 * version's, valid again */
	drive(&def, ns_a, &st, ab, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(json_array_size(d.objects), 1);
	o = obj_with(d.objects, "'1.2.3.4'");
	assert_string_equal(json_string_value(json_object_get(o, "id")), id);
	assert_string_equal(
	    json_string_value(json_object_get(o, "created")), created);
	assert_true(strcmp(json_string_value(json_object_get(o, "modified")),
			expired) > 0);
	assert_null(json_object_get(o, "valid_until"));
	assert_null(json_object_get(o, "revoked"));
	assert_string_equal(json_string_value(json_object_get(o, "valid_from")),
	    json_string_value(json_object_get(o, "modified")));
	validate(d.objects);
	drive_clear(&d);
	/* revoke mode: back as a new indicator */
	def.on_vanish = FEED_VANISH_REVOKE;
	drive(&def, ns_a, &rv, ab, 1, &d);
	assert_int_equal(json_array_size(d.objects), 1);
	o = obj_with(d.objects, "'1.2.3.4'");
	assert_string_not_equal(
	    json_string_value(json_object_get(o, "id")), id);
	assert_string_not_equal(
	    json_string_value(json_object_get(o, "created")), created);
	validate(d.objects);
	drive_clear(&d);
	def.on_vanish = FEED_VANISH_EXPIRE;
	/* the empty-download check counts present entries: 2 records, 1
	 * present (then 3 records, 1 present) */
	drive(&def, ns_a, &st, b, 1, &d); /* 1.2.3.4 gone again */
	drive_clear(&d);
	drive(&def, ns_a, &st, empty, 1, &d);
	assert_int_equal(d.rc, FEED_ERR);
	assert_non_null(strstr(d.err, "had 1 entries"));
	drive_clear(&d);
	drive(&def, ns_a, &st, c, 1, &d);
	assert_int_equal(json_array_size(d.objects), 2); /* 1 new, 1 gone */
	drive_clear(&d);
	drive(&def, ns_a, &st, empty, 1, &d);
	assert_non_null(strstr(d.err, "had 1 entries"));
	drive_clear(&d);
	feed_state_clear(&st);
	feed_state_clear(&rv);
	/* a state whose snapshot has gone records only: an empty download
	 * is no longer suspicious */
	{
		struct feed_list_cfg lc = {0};
		struct feed_list l, none;
		struct feed_diff d1, d2;
		struct buf sb;

		feed_list_init(&l);
		feed_list_init(&none);
		feed_diff_init(&d1);
		feed_diff_init(&d2);
		buf_init(&sb);
		assert_int_equal(
		    feed_list_parse(&lc, "1.2.3.4\n", 8, &l, NULL, 0), 0);
		assert_int_equal(
		    feed_list_diff(&l, NULL, 0, T0, 0, &d1, NULL, 0), 0);
		assert_int_equal(feed_list_diff(&none, d1.blob, d1.bloblen,
				     T0 + 1, 0, &d2, NULL, 0),
		    0);
		buf_add(&sb, "FLH1\0\0\0\0", 8);
		buf_add(&sb, d2.blob, d2.bloblen);
		st.data = buf_detach(&sb, &st.len);
		drive(&def, ns_a, &st, empty, 1, &d);
		assert_int_equal(d.rc, FEED_OK);
		assert_int_equal(json_array_size(d.objects), 0);
		drive_clear(&d);
		feed_state_clear(&st);

		/* an FLS1 snapshot: read, its entries present with unsalted
		 * ids, rewritten as FLS2 by a run that changes nothing */
		{
			struct feed_list_stix s = {
			    .ns = ns_a, .producer = MEMBER};
			char uid[FEED_LIST_ID_LEN + 1];
			unsigned char rec[64];
			size_t kl = l.v[0].keylen, i;

			buf_add(&sb, "FLH1\0\0\0\0FLS1\0\0\0\1", 16);
			rec[0] = 0;
			rec[1] = (unsigned char)kl;
			memcpy(rec + 2, l.v[0].key, kl);
			rec[2 + kl] = rec[3 + kl] = 0;
			for (i = 0; i < 8; i++)
				rec[4 + kl + i] =
				    (unsigned char)((uint64_t)T0 >>
					(56 - 8 * i));
			buf_add(&sb, rec, 12 + kl);
			st.data = buf_detach(&sb, &st.len);
			drive(&def, ns_a, &st, ab, 1, &d);
			assert_int_equal(d.rc, FEED_OK);
			assert_int_equal(json_array_size(d.objects), 1);
			assert_null(obj_with(d.objects, "'1.2.3.4'"));
			assert_string_equal(d.states, "S");
			assert_memory_equal((char *)st.data + 8, "FLS2", 4);
			drive_clear(&d);
			drive(&def, ns_a, &st, b, 1, &d);
			o = obj_with(d.objects, "'1.2.3.4'");
			assert_non_null(o);
			assert_int_equal(
			    feed_list_id(&s, OBS_IPV4, "1.2.3.4", 7, -1, uid),
			    0);
			assert_string_equal(
			    json_string_value(json_object_get(o, "id")), uid);
			assert_string_equal(
			    json_string_value(json_object_get(o, "created")),
			    "2025-01-01T00:00:00.000Z");
			drive_clear(&d);
			feed_state_clear(&st);
		}
		buf_clear(&sb);
		feed_diff_clear(&d1);
		feed_diff_clear(&d2);
		feed_list_clear(&l);
	}
}

static void
t_list_csv_json(void **unused)
{
	struct feed_def def;
	struct feed_state st = {0};
	struct drive d;
	struct canned csv[] = {{".txt", 200,
	    "id;type;value\n1;ip-dst;1.2.3.4\n2;domain;evil.example\n3;bogus;"
	    "x\n",
	    NULL, NULL, NULL, NULL}};
	struct canned js[] = {{".txt", 200,
	    "[{\"v\":\"1.2.3.4\",\"t\":\"ip\"},{\"v\":\"evil.example\","
	    "\"t\":\"domain\"},{\"v\":\"x\"},7]",
	    NULL, NULL, NULL, NULL}};

	(void)unused;
	list_def(&def, FEED_CSV);
	def.delimiter = ';';
	def.col_value = 3;
	def.col_type = 2;
	def.skip = 1;
	drive(&def, ns_a, &st, csv, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(json_array_size(d.objects), 2);
	assert_int_equal(d.nerrors, 1);
	assert_int_equal(d.lines[0], 4);
	drive_clear(&d);
	feed_state_clear(&st);

	list_def(&def, FEED_JSON);
	def.field = S("v");
	def.type_field = S("t");
	drive(&def, ns_a, &st, js, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(json_array_size(d.objects), 2);
	assert_int_equal(d.nerrors, 2);
	assert_int_equal(d.lines[0], 3);
	assert_int_equal(d.lines[1], 4);
	drive_clear(&d);
	feed_state_clear(&st);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

static char *
manifest(long ts1, long ts2)
{
	static char m[1024];

	snprintf(m, sizeof(m),
	    "{\"" EV1 "\":{\"info\":\"one\",\"timestamp\":%ld},"
	    "\"" EV2 "\":{\"info\":\"two\",\"timestamp\":\"%ld\"}}",
	    ts1, ts2);
	return m;
}

static void
t_misp(void **unused)
{
	struct feed_def def;
	struct feed_state st = {0};
	struct drive d;
	char *e1 = slurp(MISP_DIR EV1 ".json"),
	     *e2 = slurp(MISP_DIR EV2 ".json");
	struct canned c[] = {
	    {"/misp/manifest.json", 200, NULL, NULL, NULL, NULL, NULL},
	    {"/misp/" EV1 ".json", 200, e1, NULL, NULL, NULL, NULL},
	    {"/misp/" EV2 ".json", 200, e2, NULL, NULL, NULL, NULL},
	};
	size_t n1, i, nsco;
	json_t *o;
	const char *t;
	char id1[128];

	(void)unused;
	list_def(&def, FEED_MISP);
	def.url = S("https://misp.example/misp/");
	def.tlp = TLP_AMBER;
	c[0].body = manifest(1710172800, 1710259200);

	/* first run: the manifest, then both events, a state after each */
	drive(&def, ns_a, &st, c, 3, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(d.nreq, 3);
	assert_string_equal(
	    d.urls[0], "https://misp.example/misp/manifest.json");
	assert_string_equal(d.states, ".SS");
	n1 = json_array_size(d.objects);
	assert_true(n1 > 2);
	o = json_array_get(d.objects, 0);
	snprintf(id1, sizeof(id1), "%s",
	    json_string_value(json_object_get(o, "id")));
	/* indicators, reports, and SCOs, which have no creator */
	nsco = 0;
	json_array_foreach(d.objects, i, o)
	{
		t = json_string_value(json_object_get(o, "type"));
		if (strcmp(t, "indicator") == 0 || strcmp(t, "report") == 0)
			assert_string_equal(json_string_value(json_object_get(
						o, "created_by_ref")),
			    MEMBER);
		else {
			assert_null(json_object_get(o, "created_by_ref"));
			nsco++;
		}
	}
	assert_true(nsco > 0);
	drive_clear(&d);

	/* unchanged: the manifest only */
	drive(&def, ns_a, &st, c, 3, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(d.nreq, 1);
	assert_string_equal(d.states, ".");
	drive_clear(&d);

	/* event 2 changed: only it */
	c[0].body = manifest(1710172800, 1710259300);
	drive(&def, ns_a, &st, c, 3, &d);
	assert_int_equal(d.nreq, 2);
	assert_non_null(strstr(d.urls[1], EV2 ".json"));
	assert_string_equal(d.states, ".S");
	drive_clear(&d);

	/* both changed, event 1 fails (500, then malformed): an error with
	 * its index, event 2 stored, event 1 fetched again next run */
	c[0].body = manifest(1710172900, 1710259400);
	c[1].status = 500;
	drive(&def, ns_a, &st, c, 3, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(d.nreq, 3);
	assert_string_equal(d.states, "..S");
	assert_int_equal(d.nerrors, 1);
	assert_int_equal(d.lines[0], 1);
	assert_non_null(strstr(d.msgs[0], "500"));
	drive_clear(&d);
	c[1].status = 200;
	c[1].body = "{\"Event\": [1, 2";
	drive(&def, ns_a, &st, c, 3, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(d.nreq, 2);
	assert_non_null(strstr(d.urls[1], EV1 ".json"));
	assert_string_equal(d.states, "..");
	assert_int_equal(d.nerrors, 1);
	drive_clear(&d);
	c[1].body = e1;
	drive(&def, ns_a, &st, c, 3, &d);
	assert_int_equal(d.nreq, 2);
	assert_string_equal(d.states, ".S");
	drive_clear(&d);
	drive(&def, ns_a, &st, c, 3, &d);
	assert_int_equal(d.nreq, 1);
	drive_clear(&d);

	/* a manifest that is not one fails the run, state kept */
	c[0].body = "<html>oops</html>";
	drive(&def, ns_a, &st, c, 3, &d);
	assert_int_equal(d.rc, FEED_ERR);
	drive_clear(&d);

	/* ids are in the hub's namespace */
	feed_state_clear(&st);
	c[0].body = manifest(1710172800, 1710259200);
	drive(&def, ns_b, &st, c, 3, &d);
	assert_int_equal(json_array_size(d.objects), n1);
	json_array_foreach(d.objects, i, o) assert_string_not_equal(
	    json_string_value(json_object_get(o, "id")), id1);
	drive_clear(&d);
	feed_state_clear(&st);
	free(e1);
	free(e2);
}

/* A manifest of 1500 events that all fail: 1000 asked for in a run, each
 * an error of its own, the run ends well; nothing is saved. */
static void
t_misp_bound(void **unused)
{
	struct feed_def def;
	struct feed_state st = {0};
	struct drive d;
	struct canned c[] = {
	    {"/manifest.json", 200, NULL, NULL, NULL, NULL, NULL}};
	struct buf b;
	int i;

	(void)unused;
	list_def(&def, FEED_MISP);
	def.url = S("https://misp.example/");
	buf_init(&b);
	buf_addc(&b, '{');
	for (i = 0; i < 1500; i++)
		buf_addf(&b,
		    "%s\"%08x-0000-4000-8000-000000000000\":"
		    "{\"timestamp\":%d}",
		    i > 0 ? "," : "", i, 1700000000 + i);
	buf_addc(&b, '}');
	c[0].body = buf_cstr(&b);
	drive(&def, ns_a, &st, c, 1, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(d.nreq, 1001);
	assert_int_equal(d.nresults, 1001);
	assert_int_equal(d.nerrors, 256);
	assert_int_equal(d.lines[1], 2);
	assert_int_equal(st.len, 0);
	drive_clear(&d);
	buf_clear(&b);
}

static void
t_taxii(void **unused)
{
	struct feed_def def;
	struct feed_state st = {0};
	struct drive d;
	const char *p1 =
	    "{\"more\":true,\"next\":\"tok1\",\"objects\":[{\"type\":"
	    "\"indicator\",\"id\":\"indicator--8e2e2d2b-17d4-4cbf-938f-"
	    "98ee46b3cd3f\",\"spec_version\":\"2.1\"}]}";
	const char *p2 =
	    "{\"more\":false,\"objects\":[{\"type\":\"indicator\",\"id\":"
	    "\"indicator--9e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\","
	    "\"spec_version\":\"2.1\",\"object_marking_refs\":["
	    "\"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1\"]}]}";
	struct canned c[] = {
	    {"next=tok1", 200, p2, NULL, NULL, "2025-01-01T00:00:02.123456Z",
		NULL},
	    {"limit=50", 200, p1, NULL, NULL, "2025-01-01T00:00:01.000001Z",
		NULL},
	};
	json_t *o;

	(void)unused;
	list_def(&def, FEED_TAXII);
	def.url = S("https://up.example/api/collections/c1/");
	def.query = S("match[type]=indicator&match[spec_version]=2.1");
	def.limit = 50;
	def.tlp = TLP_AMBER;
	drive(&def, ns_a, &st, c, 2, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(d.nreq, 2);
	assert_string_equal(d.urls[0],
	    "https://up.example/api/collections/c1/objects/?match[type]="
	    "indicator&match[spec_version]=2.1&limit=50");
	assert_null(strstr(d.urls[0], "added_after"));
	assert_non_null(strstr(d.urls[1], "next=tok1"));
	assert_string_equal(
	    d.hdrs[0], "Accept: application/taxii+json;version=2.1|");
	assert_string_equal(d.states, "SS");
	assert_int_equal(json_array_size(d.objects), 2);
	o = json_array_get(d.objects, 0); /* unmarked: the feed's TLP */
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(o, "object_marking_refs"), 0)),
	    marking_tlp_id(TLP_AMBER));
	o = json_array_get(d.objects, 1); /* marked: left as it is */
	assert_int_equal(
	    json_array_size(json_object_get(o, "object_marking_refs")), 1);
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(o, "object_marking_refs"), 0)),
	    marking_tlp_id(TLP_RED));
	drive_clear(&d);

	/* next run: from the cursor, kept to the microsecond; an older
	 * header does not move it back (no state) */
	c[1].body = "{\"objects\":[]}";
	c[1].dal = "2024-12-31T00:00:00.000000Z";
	drive(&def, ns_a, &st, c, 2, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(d.nreq, 1);
	assert_non_null(
	    strstr(d.urls[0], "added_after=2025-01-01T00%3A00%3A02.123456Z"));
	assert_string_equal(d.states, ".");
	drive_clear(&d);
	drive(&def, ns_a, &st, c, 2, &d);
	assert_non_null(
	    strstr(d.urls[0], "added_after=2025-01-01T00%3A00%3A02.123456Z"));
	drive_clear(&d);

	/* an error page fails the run and keeps the cursor */
	c[1].status = 503;
	drive(&def, ns_a, &st, c, 2, &d);
	assert_int_equal(d.rc, FEED_ERR);
	drive_clear(&d);
	c[1].status = 200;
	c[1].body = "not json";
	drive(&def, ns_a, &st, c, 2, &d);
	assert_int_equal(d.rc, FEED_ERR);
	drive_clear(&d);
	c[1].body = "{\"objects\":[]}";
	drive(&def, ns_a, &st, c, 2, &d);
	assert_non_null(strstr(d.urls[0], "02.123456Z"));
	drive_clear(&d);
	feed_state_clear(&st);

	/* an upstream that never ends: 1000 pages, then the run ends with
	 * the cursor saved and the next run starts from it */
	c[0].body = c[1].body = p1;
	c[0].dal = c[1].dal = "2025-02-01T00:00:00Z";
	drive(&def, ns_a, &st, c, 2, &d);
	assert_int_equal(d.rc, FEED_OK);
	assert_int_equal(d.nreq, 1000);
	assert_int_equal(d.nresults, 1000);
	assert_string_equal(d.states,
	    "S...............................................................");
	drive_clear(&d);
	drive(&def, ns_a, &st, c, 2, &d);
	assert_non_null(
	    strstr(d.urls[0], "added_after=2025-02-01T00%3A00%3A00Z"));
	assert_null(strstr(d.urls[0], "next="));
	drive_clear(&d);
	feed_state_clear(&st);
}

/* Runs def from a copy of *base with the n-th allocation failing, for
 * every n until a run allocates no more: a clean FEED_ERR or a whole run,
 * never a crash or (under ASan) a leak. */
static void
oom_runs(const struct feed_def *def, const struct feed_state *base,
    const struct canned *c, size_t nc)
{
	struct feed_state st;
	struct drive d;
	long n, used;
	int ok = 0;

	for (n = 0; n < 10000; n++) {
		st.len = base->len;
		st.data = base->len > 0 ? hub_malloc(base->len) : NULL;
		if (base->len > 0)
			memcpy(st.data, base->data, base->len);
		hub_alloc_fail_after(n);
		drive(def, ns_a, &st, c, nc, &d);
		used = hub_alloc_fail_after(-1);
		drive_clear(&d);
		feed_state_clear(&st);
		if (getenv("OOM_DEBUG"))
			fprintf(stderr, "n %ld used %ld rc %d %s\n", n, used,
			    d.rc, d.err);
		if (d.rc == FEED_OK && used <= n) {
			ok = 1;
			break;
		}
	}
	assert_true(ok);
}

static void
t_oom(void **unused)
{
	struct feed_def def;
	struct feed_state st = {0};
	struct drive d;
	struct canned l1[] = {{".txt", 200, "1.2.3.4\n5.6.7.8\nbad!\n",
	    "\"e1\"", "Wed, 01 Jan 2025 00:00:00 GMT", NULL, NULL}};
	struct canned l2[] = {
	    {".txt", 200, "1.2.3.4\n9.9.9.9\n", "\"e2\"", NULL, NULL, NULL}};
	char *e2 = slurp(MISP_DIR EV2 ".json");
	struct canned m[] = {
	    {"/misp/manifest.json", 200, NULL, NULL, NULL, NULL, NULL},
	    {"/misp/" EV2 ".json", 200, e2, NULL, NULL, NULL, NULL}};
	struct canned t[] = {
	    {"next=a", 200, "{\"objects\":[{\"type\":\"x\",\"id\":\"x--1\"}]}",
		NULL, NULL, "2025-01-01T00:00:02Z", NULL},
	    {"match[type]=x", 200,
		"{\"more\":true,\"next\":\"a\",\"objects\":[]}", NULL, NULL,
		"2025-01-01T00:00:01Z", NULL}};

	(void)unused;
	list_def(&def, FEED_LIST);
	oom_runs(&def, &st, l1, 1);
	drive(&def, ns_a, &st, l1, 1, &d);
	drive_clear(&d);
	oom_runs(&def, &st, l2, 1); /* new, gone, conditional headers */
	feed_state_clear(&st);

	list_def(&def, FEED_MISP);
	def.url = S("https://misp.example/misp/");
	m[0].body = manifest(1710172800, 1710259200); /* EV1: 404 */
	oom_runs(&def, &st, m, 2);

	list_def(&def, FEED_TAXII);
	def.url = S("https://up.example/api/collections/c1/");
	def.query = S("match[type]=x");
	oom_runs(&def, &st, t, 2);
	free(e2);
}

static void
t_taxii_bad(void **unused)
{
	struct feed_def def;
	struct feed_state st = {S("\x01junk"), 5};
	struct drive d;

	(void)unused;
	list_def(&def, FEED_TAXII);
	def.url = S("https://up.example/api/collections/c1/");
	drive(&def, ns_a, &st, NULL, 0, &d); /* a state not a cursor's */
	assert_int_equal(d.rc, FEED_ERR);
	assert_int_equal(d.nreq, 0);
	drive_clear(&d);
	st.len = 0;
	def.query = S("match[type]");
	drive(&def, ns_a, &st, NULL, 0, &d);
	assert_int_equal(d.rc, FEED_ERR);
	assert_non_null(strstr(d.err, "no '='"));
	drive_clear(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_registry),
	    cmocka_unit_test(t_list_runs),
	    cmocka_unit_test(t_list_broken),
	    cmocka_unit_test(t_list_pages),
	    cmocka_unit_test(t_list_return),
	    cmocka_unit_test(t_list_csv_json),
	    cmocka_unit_test(t_misp),
	    cmocka_unit_test(t_misp_bound),
	    cmocka_unit_test(t_taxii),
	    cmocka_unit_test(t_taxii_bad),
	    cmocka_unit_test(t_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
