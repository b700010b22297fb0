/*
 * release.c -- what a policy reload newly releases.  The reload compares
 * the old and new policies for every producer, level and member; when
 * some member may now see objects it could not see before, a release
 * event records who gained what, and the writer gives every stored object
 * of those producers and levels a twin entry in its collections with a new
 * date_added (store_wtwins), in slices of 50,000 entries per transaction
 * so publishing goes on meanwhile.  Readers count a twin only for members
 * of the event, and only in walks that started after the original
 * (view.c), so a poller gets each newly released object once, and a new
 * walk gets it once, from the original.
 */
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/audit.h"
#include "ctihub/log.h"
#include "ctihub/marking.h"
#include "ctihub/policy.h"
#include "ctihub/tstamp.h"
#include "ctihub/view.h"

#include "hub.h"
#include "writer.h"

#define SLICE 50000

struct relgroup {
	uint32_t producer;
	uint8_t level;
};

struct reljob {
	struct wjob wj;
	struct hub *hub;
	struct buf rec;	  /* the event record */
	struct buf names; /* for the audit line: the gains, as JSON */
	struct relgroup *groups;
	int ngroups;
	unsigned long gen;
	/* what the committed slices made durable: the event (0 before the
	 * first commit), where the next slice starts, twins so far */
	uint64_t event;
	unsigned char resume[12];
	long twins;
	/* the results of this slice's attempt, set afresh at each attempt
	 * (writer.h), kept by release_done once committed */
	uint64_t try_event;
	unsigned char try_resume[12];
	int try_added;
};

static int
want_entry(uint32_t coll, int64_t da, const struct store_entry *e, void *arg)
{
	struct reljob *r = arg;
	int i;

	(void)coll;
	(void)da;
	for (i = 0; i < r->ngroups; i++)
		if (r->groups[i].producer == e->producer &&
		    r->groups[i].level == e->tlp)
			return 1;
	return 0;
}

/* One attempt at a slice: from the committed state, into try_*. */
static int
apply_release(struct wjob *wj, struct store_wtxn *w)
{
	struct reljob *r = (struct reljob *)wj;
	int rc;

	r->try_event = r->event;
	memcpy(r->try_resume, r->resume, sizeof(r->resume));
	r->try_added = 0;
	if (r->try_event == 0 &&
	    (rc = store_wrelease(w, &r->try_event, r->rec.data, r->rec.len,
		 tstamp_now())) != STORE_OK)
		return rc;
	return store_wtwins(w, r->try_event, want_entry, r, tstamp_now(),
	    r->try_resume, SLICE, &r->try_added);
}

static void
release_free(struct reljob *r)
{
	buf_clear(&r->rec);
	buf_clear(&r->names);
	hub_free(r->groups);
	hub_free(r);
}

static void
release_done(struct wjob *wj, int rc)
{
	static const unsigned char zero[12];
	struct reljob *r = (struct reljob *)wj;
	struct buf au = BUF_INIT;

	if (rc == STORE_OK) {
		/* the slice is durable: its results become the state */
		r->event = r->try_event;
		memcpy(r->resume, r->try_resume, sizeof(r->resume));
		r->twins += r->try_added;
	}
	if (rc == STORE_OK && memcmp(r->resume, zero, 12) != 0) {
		/* more entries to scan: the next slice, after whatever
		 * publishers queued meanwhile */
		writer_submit(r->hub->writer, &r->wj);
		return;
	}
	if (rc != STORE_OK)
		log_warnx("release after reload %lu failed: the newly visible "
			  "objects reach pollers only from the start",
		    r->gen);
	else
		log_info("reload %lu released %ld object entries to members "
			 "who may now see them",
		    r->gen, r->twins);
	audit_begin(&au, "release");
	buf_addf(&au,
	    ",\"generation\":%lu,\"gained\":[%s],\"entries\":%ld,"
	    "\"ok\":%s",
	    r->gen, r->names.data ? r->names.data : "", r->twins,
	    rc == STORE_OK ? "true" : "false");
	audit_end(r->hub->audit, &au);
	buf_clear(&au);
	release_free(r);
}

static const char *
member_name(const struct members *ms, uint32_t code)
{
	const struct member *m = members_by_code(ms, code);

	return code == POLICY_HUB_PRODUCER ? "(hub)" : m ? m->id : "?";
}

/* Adds the gains of one producer and level to the record. */
static void
gains(struct reljob *r, const struct runtime *old, const struct runtime *rt,
    uint32_t producer, int level)
{
	const struct members *ms = rt->conf->members;
	struct policy_obj o;
	uint32_t codes[MEMBER_MAX];
	int i, n = 0;
	uint16_t cnt;
	struct relgroup *g;

	memset(&o, 0, sizeof(o));
	o.producer = producer;
	o.tlp = level;
	for (i = 0; i < ms->n; i++) {
		const struct member *now = &ms->v[i];
		const struct member *then =
		    members_find(old->conf->members, now->id);

		/* a new member has no cursor to move past anything */
		if (then == NULL || now->code == producer)
			continue;
		if (policy_visible(rt->policy, now, &o) &&
		    !policy_visible(old->policy, then, &o))
			codes[n++] = now->code;
	}
	if (n == 0)
		return;
	g = hub_realloc(r->groups, sizeof(*g) * (size_t)(r->ngroups + 1));
	if (g == NULL)
		return;
	r->groups = g;
	g[r->ngroups].producer = producer;
	g[r->ngroups].level = (uint8_t)level;
	r->ngroups++;
	cnt = (uint16_t)n;
	buf_add(&r->rec, &producer, 4);
	buf_addc(&r->rec, (char)level);
	buf_add(&r->rec, &cnt, 2);
	buf_add(&r->rec, codes, (size_t)n * 4);
	if (r->names.len > 0)
		buf_addc(&r->names, ',');
	buf_adds(&r->names, "{\"producer\":");
	buf_add_jstr(&r->names, member_name(ms, producer),
	    strlen(member_name(ms, producer)));
	buf_addf(&r->names, ",\"level\":\"%s\",\"members\":[",
	    level == TLP_NONE ? "unmarked" : marking_tlp_name(level));
	for (i = 0; i < n; i++) {
		const char *id = member_name(ms, codes[i]);

		if (i > 0)
			buf_addc(&r->names, ',');
		buf_add_jstr(&r->names, id, strlen(id));
	}
	buf_adds(&r->names, "]}");
}

void
release_after_reload(struct hub *hub, struct runtime *old, struct runtime *rt)
{
	const struct members *ms = rt->conf->members;
	struct reljob *r;
	int i, level;

	if ((r = hub_calloc(1, sizeof(*r))) == NULL)
		return;
	r->hub = hub;
	r->gen = rt->gen;
	for (i = -1; i < ms->n; i++) {
		uint32_t producer = i < 0 ? POLICY_HUB_PRODUCER : ms->v[i].code;

		for (level = TLP_NONE; level <= TLP_RED; level++)
			gains(r, old, rt, producer, level);
	}
	if (r->ngroups == 0 || buf_failed(&r->rec) || buf_failed(&r->names)) {
		release_free(r);
		return;
	}
	buf_cstr(&r->names);
	log_info("reload %lu lets members see more: releasing (%s)", r->gen,
	    r->names.data);
	r->wj.kind = WJOB_CUSTOM;
	r->wj.apply = apply_release;
	r->wj.done = release_done;
	writer_submit(hub->writer, &r->wj);
}
