/*
 * push_send.c -- what one push delivery is, in each mode, and what the
 * receiver's answer means.
 *
 * Webhook (Standard Webhooks v1): a POST of one JSON document,
 *   {"type": "ctihub.objects" | "ctihub.notice" | "ctihub.deletions",
 *    "timestamp": ..., "data": {subscription, api_root, collection, from,
 *    to, count, and: envelope (objects) | added_after (a notice: fetch
 *    through the read API) | deleted [{id, version}]}}
 * signed with webhook-id (stable across the retries of one batch: it
 * names the subscription, collection and cursor range), webhook-timestamp
 * and webhook-signature.  Before the first delivery to a target, a
 * challenge the endpoint must echo.
 *
 * TAXII: objects go to <target>objects/ as one envelope (Add Objects);
 * the status resource is followed at <api root>status/<id>/ until it is
 * complete; failures in it are retried (the batch again, a duplicate is
 * a success in TAXII) and, after three rounds, reported (log, audit) and
 * passed.  Deletions go as DELETE <target>objects/<id>/?match[version]=,
 * one after the other; 404 counts as done.
 *
 * Every batch carries events of one kind, objects (with revocations) or
 * deletions, so the receiver applies them in order.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/log.h"
#include "ctihub/marking.h"
#include "ctihub/policy.h"
#include "ctihub/push_answer.h"
#include "ctihub/taxii_render.h"
#include "ctihub/tstamp.h"

#include "handler.h"
#include "hub.h"
#include "push_int.h"

#define TAXII_ROUNDS 3 /* status failures re-sent before they are reported */

void
batch_clear(struct push_batch *b)
{
	buf_clear(&b->ids);
	hub_free(b->added);
	hub_free(b->del_url);
	memset(b, 0, sizeof(*b));
	buf_init(&b->ids);
}

static void
ts(int64_t v, char out[TSTAMP_LEN])
{
	tstamp_format(v, 6, out);
}

/* The version of a deleted object as producers write it. */
static void
version_ts(int64_t v, char out[TSTAMP_LEN])
{
	tstamp_format(v, v % 1000 == 0 ? 3 : 6, out);
}

/* The answers every mode reads the same way; 1 when handled. */
static int
outcome(struct psub *s, struct fetch_resp *r, const char *what)
{
	long st = r->status;

	if (r->result != FETCH_OK) {
		psub_fail(s, 0, "%s: %s: %s", what, fetch_strerror(r->result),
		    r->error);
		return 1;
	}
	if (st == 410) {
		psub_gone(s, "410 Gone from the receiver");
		return 1;
	}
	if (st == 413) {
		psub_smaller(s);
		return 1;
	}
	if (st == 429 || st == 503) {
		long ra = push_retry_after(r->retry_after, time(NULL));

		psub_fail(s, (int)ra, "%s: %ld from the receiver%s", what, st,
		    r->retry_after != NULL ? " (Retry-After)" : "");
		return 1;
	}
	if (st >= 300 && st < 400) {
		psub_fail(s, 0, "%s: %ld redirect to %s not followed", what, st,
		    r->location != NULL ? r->location : "-");
		return 1;
	}
	if (st < 200 || st >= 300) {
		psub_fail(s, 0, "%s: HTTP %ld from the receiver", what, st);
		return 1;
	}
	return 0;
}

/* A request that ended after the engine stopped: nothing more to do
 * (the engine is freed after the fetcher). */
static int
stale(struct psub *s)
{
	return s->p->stopping;
}

/* --- webhook --- */

static void
wh_headers(struct psub *s, const char *msgid, const struct buf *body,
    char h[4][WEBHOOK_SIG_MAX + 32])
{
	char sig[WEBHOOK_SIG_MAX];
	int64_t now = tstamp_now() / 1000000;

	if (s->key_sign == NULL ||
	    webhook_sign(s->key_sign, msgid, now, body->data, body->len, sig) ==
		-1)
		sig[0] = '\0';
	snprintf(h[0], sizeof(h[0]), "webhook-id: %s", msgid);
	snprintf(h[1], sizeof(h[1]), "webhook-timestamp: %lld", (long long)now);
	snprintf(h[2], sizeof(h[2]), "webhook-signature: %s", sig);
	snprintf(h[3], sizeof(h[3]), "Content-Type: application/json");
}

static int
wh_submit(
    struct psub *s, const char *msgid, struct buf *body, fetch_done_cb *done)
{
	const struct conf *c = s->p->rt->conf;
	char h[4][WEBHOOK_SIG_MAX + 32];
	const char *hv[5];
	struct fetch_req fr;
	size_t len;
	char *data;

	wh_headers(s, msgid, body, h);
	hv[0] = h[0];
	hv[1] = h[1];
	hv[2] = h[2];
	hv[3] = h[3];
	hv[4] = NULL;
	memset(&fr, 0, sizeof(fr));
	fr.method = "POST";
	fr.url = s->sub->target;
	fr.headers = hv;
	fr.ca_file = s->sub->ca_file;
	fr.connect_timeout_ms = (int)(c->push_connect_timeout * 1000);
	fr.timeout_ms = (int)(c->push_timeout * 1000);
	fr.max_bytes = (size_t)c->push_max_response;
	fr.done = done;
	fr.arg = s;
	if ((data = buf_detach(body, &len)) == NULL)
		return -1;
	fr.body_owned = data;
	fr.body_len = len;
	return fetch_submit(s->p->f, &fr);
}

static void
on_webhook(struct fetch_resp *r, void *arg)
{
	struct psub *s = arg;

	if (stale(s))
		return;
	if (outcome(s, r, "webhook"))
		return;
	psub_ack(s);
}

static void
on_challenge(struct fetch_resp *r, void *arg)
{
	struct psub *s = arg;

	if (stale(s))
		return;
	if (outcome(s, r, "challenge"))
		return;
	if (!webhook_challenge_ok(s->b.status_url, r->body, r->len)) {
		psub_fail(s, 0, "challenge: the endpoint did not echo it");
		return;
	}
	psub_verified(s);
}

void
send_challenge(struct psub *s)
{
	struct buf body = BUF_INIT;
	char chal[64], msgid[WEBHOOK_ID_MAX];

	webhook_challenge_body(&body, chal);
	/* the challenge is kept where the status URL goes (unused here) */
	snprintf(s->b.status_url, sizeof(s->b.status_url), "%s", chal);
	snprintf(msgid, sizeof(msgid), "msg_challenge_%.40s", chal);
	if (buf_failed(&body) ||
	    wh_submit(s, msgid, &body, on_challenge) == -1) {
		buf_clear(&body);
		psub_fail(s, 0, "challenge: the request could not be made");
		return;
	}
}

/* The opening of a webhook payload. */
static void
wh_open(struct psub *s, struct buf *b, const char *type)
{
	char t[TSTAMP_LEN];

	buf_adds(b, "{\"type\":\"");
	buf_adds(b, type);
	buf_adds(b, "\",\"timestamp\":\"");
	ts(tstamp_now(), t);
	buf_adds(b, t);
	buf_adds(b, "\",\"data\":{\"subscription\":");
	buf_add_jstr(b, s->sub->name, strlen(s->sub->name));
	buf_adds(b, ",\"api_root\":");
	buf_add_jstr(b, s->sc->root, strlen(s->sc->root));
	buf_adds(b, ",\"collection\":\"");
	buf_adds(b, s->sc->id);
	buf_adds(b, "\"");
}

/* The end of a webhook payload: the cursor range and the count (known
 * once the body was cut to push_max_bytes). */
static void
wh_close(struct psub *s, struct buf *b, size_t count)
{
	char t[TSTAMP_LEN];

	buf_adds(b, ",\"from\":\"");
	ts(s->b.from, t);
	buf_adds(b, t);
	buf_adds(b, "\",\"to\":\"");
	ts(s->b.to, t);
	buf_adds(b, t);
	buf_addf(b, "\",\"count\":%zu}}", count);
}

/* Should this batch go as a notice? */
static int
thin(const struct psub *s, const struct event_batch *eb, size_t n)
{
	const struct policy *pol = s->p->rt->policy;
	size_t i;
	int level;

	if (s->sub->payload == SUB_PAYLOAD_THIN)
		return 1;
	if (s->sub->payload == SUB_PAYLOAD_FULL)
		return 0;
	for (i = 0; i < n; i++) {
		const struct store_entry *e = &eb->v[i].item.e;

		level = policy_level(pol, e->producer, e->tlp);
		if (level > TLP_GREEN || (e->flags & STORE_F_UNRESOLVED))
			return 1;
	}
	return 0;
}

/* --- the batch --- */

static void
seen(const struct store_objview *ov, void *arg)
{
	struct psub *s = arg;

	if (s->b.ids.len > 0)
		buf_addc(&s->b.ids, ',');
	buf_add_jstr(&s->b.ids, ov->id, ov->idlen);
}

/* Objects (and revocations) eb->v[0..n): the envelope into b, at most
 * push_max_bytes (one object at least); the batch ends where it stopped.
 * 0, or -1 when a row is damaged. */
static int
envelope(struct psub *s, const struct event_batch *eb, size_t n, struct buf *b,
    size_t *taken)
{
	struct store_item *items = hub_calloc(n, sizeof(*items));
	struct render_env env;
	size_t i, max = (size_t)s->p->rt->conf->push_max_bytes;
	int rc;

	if (items == NULL)
		return -2;
	for (i = 0; i < n; i++)
		items[i] = eb->v[i].item;
	memset(&env, 0, sizeof(env));
	env.items = items;
	env.n = n;
	env.seen = seen;
	env.arg = s;
	render_head(b, 0, NULL);
	rc = render_objects(s->p->r, &env, b, b->len + max);
	if (rc == 1) { /* cut at push_max_bytes: close it here */
		if (env.k > 0)
			buf_addc(b, ']');
		buf_addc(b, '}');
	}
	*taken = rc == 1 ? env.i : n;
	s->b.nobj = env.k;
	hub_free(items);
	return rc == -1 ? -1 : 0;
}

static void on_taxii_post(struct fetch_resp *, void *);
static void on_delete(struct fetch_resp *, void *);

/* The common part of a TAXII request (ctype: a Content-Type line, or
 * NULL). */
static void
taxii_req(struct psub *s, struct fetch_req *fr, const char *hv[4],
    char auth[1100], const char *ctype)
{
	const struct conf *c = s->p->rt->conf;
	const struct subscription *sub = s->sub;
	int n = 0;

	memset(fr, 0, sizeof(*fr));
	hv[n++] = "Accept: " TAXII_MEDIA;
	if (ctype != NULL)
		hv[n++] = ctype;
	if (sub->token != NULL) {
		snprintf(auth, 1100, "Authorization: Bearer %s", sub->token);
		hv[n++] = auth;
	}
	hv[n] = NULL;
	fr->headers = hv;
	fr->user = sub->user;
	fr->password = sub->password;
	fr->cert_file = sub->cert_file;
	fr->key_file = sub->key_file;
	fr->ca_file = sub->ca_file;
	fr->connect_timeout_ms = (int)(c->push_connect_timeout * 1000);
	fr->timeout_ms = (int)(c->push_timeout * 1000);
	fr->max_bytes = (size_t)c->push_max_response;
	fr->arg = s;
}

int
send_batch(struct psub *s, const struct event_batch *eb, size_t n)
{
	struct push_batch *b = &s->b;
	struct buf body = BUF_INIT;
	char msgid[WEBHOOK_ID_MAX], t[TSTAMP_LEN];
	int del = eb->v[0].kind == EV_DELETE;
	size_t i, k, taken;
	int rc;

	batch_clear(b);
	/* one kind per batch: objects, or deletions */
	for (k = 1; k < n && (eb->v[k].kind == EV_DELETE) == del; k++)
		;
	b->from = s->st.cursor;
	b->kind = del ? EV_DELETE : EV_OBJECT;
	if ((b->added = hub_calloc(k, sizeof(*b->added))) == NULL)
		return -1;
	taken = k;
	if (del) {
		for (i = 0; i < k; i++) {
			if (b->ids.len > 0)
				buf_addc(&b->ids, ',');
			buf_add_jstr(&b->ids, eb->v[i].id, strlen(eb->v[i].id));
		}
		b->ndel = k;
	} else if (s->sub->mode == SUB_WEBHOOK &&
	    (b->thin = thin(s, eb, k)) != 0)
		b->nobj = k;
	if (!del && !b->thin) {
		if (s->sub->mode == SUB_WEBHOOK)
			wh_open(s, &body, "ctihub.objects");
		if (s->sub->mode == SUB_WEBHOOK)
			buf_adds(&body, ",\"envelope\":");
		if ((rc = envelope(s, eb, k, &body, &taken)) != 0) {
			buf_clear(&body);
			if (rc == -1)
				psub_audit_failures(s,
				    "a stored row failed "
				    "its integrity check");
			return -1;
		}
	}
	b->to = taken == n ? eb->to : eb->v[taken - 1].cursor;
	for (i = 0; i < taken; i++)
		b->added[i] = eb->v[i].cursor;
	b->nadded = taken;
	if (del)
		b->ndel = taken;
	if (s->sub->mode == SUB_WEBHOOK) {
		if (b->thin) {
			wh_open(s, &body, "ctihub.notice");
			buf_adds(&body, ",\"added_after\":\"");
			ts(b->from, t);
			buf_adds(&body, t);
			buf_addc(&body, '"');
			wh_close(s, &body, taken);
		} else if (del) {
			wh_open(s, &body, "ctihub.deletions");
			buf_adds(&body, ",\"deleted\":[");
			for (i = 0; i < taken; i++) {
				buf_adds(
				    &body, i > 0 ? ",{\"id\":" : "{\"id\":");
				buf_add_jstr(
				    &body, eb->v[i].id, strlen(eb->v[i].id));
				version_ts(eb->v[i].version, t);
				buf_adds(&body, ",\"version\":\"");
				buf_adds(&body, t);
				buf_adds(&body, "\"}");
			}
			buf_addc(&body, ']');
			wh_close(s, &body, taken);
		} else
			wh_close(s, &body, b->nobj);
		if (buf_failed(&body)) {
			buf_clear(&body);
			return -1;
		}
		webhook_msg_id(s->sub->name, s->sc->id, b->from, b->to, msgid);
		return wh_submit(s, msgid, &body, on_webhook);
	}
	/* TAXII */
	if (del) {
		if ((b->del_url = hub_calloc(taken, sizeof(*b->del_url))) ==
		    NULL)
			return -1;
		for (i = 0; i < taken; i++) {
			version_ts(eb->v[i].version, t);
			snprintf(b->del_url[i], sizeof(b->del_url[i]),
			    "%sobjects/%s/?match%%5Bversion%%5D=%s",
			    s->sub->target, eb->v[i].id, t);
		}
		send_next_delete(s);
		return 0;
	}
	{
		struct fetch_req fr;
		const char *hv[4];
		char auth[1100], url[1100];
		size_t len;
		char *data;

		if (buf_failed(&body)) {
			buf_clear(&body);
			return -1;
		}
		taxii_req(s, &fr, hv, auth, "Content-Type: " TAXII_MEDIA);
		snprintf(url, sizeof(url), "%sobjects/", s->sub->target);
		fr.method = "POST";
		fr.url = url;
		fr.done = on_taxii_post;
		data = buf_detach(&body, &len);
		if (data == NULL)
			return -1;
		fr.body_owned = data;
		fr.body_len = len;
		return fetch_submit(s->p->f, &fr);
	}
}

void
send_next_delete(struct psub *s)
{
	struct fetch_req fr;
	const char *hv[4];
	char auth[1100];

	taxii_req(s, &fr, hv, auth, NULL);
	fr.method = "DELETE";
	fr.url = s->b.del_url[s->b.ndone];
	fr.done = on_delete;
	if (fetch_submit(s->p->f, &fr) == -1)
		psub_fail(s, 0, "the deletion could not be sent");
}

static void
on_delete(struct fetch_resp *r, void *arg)
{
	struct psub *s = arg;

	if (stale(s))
		return;
	/* gone already is as good as deleted */
	if (!(r->result == FETCH_OK && r->status == 404) &&
	    outcome(s, r, "TAXII delete"))
		return;
	if (++s->b.ndone < s->b.ndel) {
		send_next_delete(s);
		return;
	}
	psub_ack(s);
}

/* The TAXII status resource: complete (with or without failures) or
 * pending. */
static void
status(struct psub *s, const char *body, size_t len)
{
	struct push_status st;
	char root[1024], *p;
	int i;

	if (push_status_parse(body, len, &st) == -1) {
		psub_fail(s, 0,
		    "TAXII: the receiver's answer is not a status "
		    "resource");
		return;
	}
	if (!st.complete) {
		/* the API root is the target up to "collections/" */
		snprintf(root, sizeof(root), "%s", s->sub->target);
		if ((p = strstr(root, "/collections/")) != NULL)
			p[1] = '\0';
		if (snprintf(s->b.status_url, sizeof(s->b.status_url),
			"%.900sstatus/%s/", root, st.id) < 0 ||
		    ++s->b.polls > 10000) {
			psub_fail(s, 0, "TAXII: the status stayed pending");
			return;
		}
		psub_poll_later(s, s->b.polls < 5 ? 200 * s->b.polls : 2000);
		return;
	}
	if (st.failure == 0) {
		psub_ack(s);
		return;
	}
	if (s->st.attempts + 1 < TAXII_ROUNDS) {
		psub_fail(s, 0,
		    "TAXII: %lld objects failed at the receiver (%s)",
		    st.failure, st.nfail > 0 ? st.fail[0].message : "-");
		return;
	}
	/* reported, then passed: never silently */
	for (i = 0; i < st.nfail; i++)
		log_warnx("push %s: the receiver refused %s: %s", s->key,
		    st.fail[i].id, st.fail[i].message);
	snprintf(s->st.err, sizeof(s->st.err),
	    "TAXII: %lld objects refused by the receiver after %d rounds "
	    "(%.120s)",
	    st.failure, TAXII_ROUNDS, st.nfail > 0 ? st.fail[0].message : "-");
	psub_audit_failures(s, s->st.err);
	s->b.keep_err = 1;
	psub_ack(s);
}

static void
on_taxii_post(struct fetch_resp *r, void *arg)
{
	struct psub *s = arg;

	if (stale(s))
		return;
	if (outcome(s, r, "TAXII add objects"))
		return;
	status(s, r->body, r->len);
}

static void
on_status(struct fetch_resp *r, void *arg)
{
	struct psub *s = arg;

	if (stale(s))
		return;
	if (outcome(s, r, "TAXII status"))
		return;
	status(s, r->body, r->len);
}

void
send_status_poll(struct psub *s)
{
	struct fetch_req fr;
	const char *hv[4];
	char auth[1100];

	taxii_req(s, &fr, hv, auth, NULL);
	fr.method = "GET";
	fr.url = s->b.status_url;
	fr.done = on_status;
	if (fetch_submit(s->p->f, &fr) == -1)
		psub_fail(s, 0, "the status poll could not be sent");
}
