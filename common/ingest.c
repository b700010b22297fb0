/*
 * ingest.c -- envelope to store objects: framing, Jansson parsing of each
 * object, STIX validation, and the stored form.  The status resource is
 * taxii_status.c's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/ingest.h"
#include "ctihub/obs_set.h"
#include "ctihub/pattern.h"
#include "ctihub/tstamp.h"

/*
 * Jansson allocates a node per value and frees them all when the object is
 * released.  While ingest_one holds an object, its nodes come from a
 * per-thread bump arena that is reset afterwards: no malloc/free per node.
 * Outside ingest_one (and for blocks too large for the arena) Jansson gets
 * the C library's allocator as usual.
 */
#define JARENA_SIZE (256 * 1024)

/* Sanitizer builds keep every node a real allocation, so a use after
 * json_decref is caught. */
#if defined(__SANITIZE_ADDRESS__)
#define JARENA_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JARENA_OFF 1
#endif
#endif

struct jarena {
	char *base;
	size_t used;
	int active;
};

static _Thread_local struct jarena jarena;
static pthread_key_t jarena_key;
static pthread_once_t jarena_once = PTHREAD_ONCE_INIT;

static void *
jarena_malloc(size_t n)
{
	struct jarena *a = &jarena;

	n = (n + 15) & ~(size_t)15;
	if (a->active && a->base != NULL && a->used + n <= JARENA_SIZE) {
		void *p = a->base + a->used;

		a->used += n;
		return p;
	}
	return malloc(n);
}

static void
jarena_free(void *p)
{
	struct jarena *a = &jarena;

	if (a->base != NULL && (char *)p >= a->base &&
	    (char *)p < a->base + JARENA_SIZE)
		return; /* released all at once by jarena_end */
	free(p);
}

static void
jarena_destroy(void *p)
{
	free(p);
}

static void
jarena_setup(void)
{
	pthread_key_create(&jarena_key, jarena_destroy);
	json_set_alloc_funcs(jarena_malloc, jarena_free);
}

static void
jarena_begin(void)
{
	struct jarena *a = &jarena;

#ifdef JARENA_OFF
	return;
#endif
	if (a->base == NULL) {
		if ((a->base = malloc(JARENA_SIZE)) == NULL)
			return;
		pthread_setspecific(jarena_key, a->base);
	}
	a->used = 0;
	a->active = 1;
}

static void
jarena_end(void)
{
	jarena.active = 0;
	jarena.used = 0;
}

/* Room in an object's arena slice beyond its own text: its id (or
 * "objects[<i>]", 40 bytes at most) and its version, neither longer than
 * the object's text (decoding only shortens a JSON string), so tiny
 * objects cost little more than their bytes. */
static size_t
slice_extra(size_t len)
{
	size_t id = len < STIX_ID_MAX - 1 ? len : STIX_ID_MAX - 1;
	size_t version = len < TSTAMP_LEN - 1 ? len : TSTAMP_LEN - 1;

	return (id > 40 ? id : 40) + 1 + version + 1;
}

int
ingest_open(struct ingest_doc *d, const char *text, size_t len,
    size_t max_objects, int max_depth, char *err, size_t errlen)
{
	char why[256];
	int rc;

	pthread_once(&jarena_once, jarena_setup);
	memset(d, 0, sizeof(d[0]));
	d->text = text;
	d->len = len;
	d->max_depth = max_depth;
	/* the framing alone, never a tree of the whole body: a body that is
	 * malformed at its last byte costs nothing more than its bytes */
	if ((rc = jscan_doc(text, len, &d->doc, why, sizeof(why))) != 0) {
		if (rc == -2) {
			snprintf(err, errlen, "out of memory");
			return INGEST_ENOMEM;
		}
		snprintf(err, errlen, "malformed JSON at %s", why);
		return INGEST_EBAD;
	}
	if (!d->doc.has_objects || !d->doc.objects_is_array) {
		snprintf(err, errlen,
		    "%s: the body must be a TAXII envelope "
		    "{\"objects\": [...]} or a STIX bundle",
		    d->doc.has_objects ? "\"objects\" is not a list"
				       : "no \"objects\" list");
		return INGEST_EBAD;
	}
	if (d->doc.nobjects > max_objects) {
		snprintf(err, errlen,
		    "%zu objects in one request; the limit is %zu: split it",
		    d->doc.nobjects, max_objects);
		return INGEST_ETOOMANY;
	}
	jscan_iter_init(&d->it, text, len, &d->doc);
	return 0;
}

long
ingest_next(struct ingest_doc *d, struct ingest_batch *b, size_t max)
{
	size_t i, total = 0, n = d->doc.nobjects - d->taken;

	memset(b, 0, sizeof(*b));
	b->d = d;
	b->first = d->taken;
	if (n > max)
		n = max;
	if (n == 0)
		return 0;
	b->spans = hub_calloc(n, sizeof(*b->spans));
	b->objs = hub_calloc(n, sizeof(*b->objs));
	b->meta = hub_calloc(n, sizeof(*b->meta));
	b->arena_off = hub_calloc(n, sizeof(*b->arena_off));
	if (b->spans == NULL || b->objs == NULL || b->meta == NULL ||
	    b->arena_off == NULL)
		goto oom;
	for (i = 0; i < n && jscan_iter_next(&d->it, &b->spans[i]) == 1; i++) {
		b->arena_off[i] = total;
		total += (b->spans[i].compact ? 0 : b->spans[i].len) +
		    slice_extra(b->spans[i].len);
	}
	b->n = i;
	d->taken += i;
	if (i < n)
		d->taken = d->doc.nobjects; /* the array ended early */
	if (b->n == 0) {
		/* nothing taken: nothing for the caller to free */
		ingest_free(b);
		b->d = d;
		b->first = d->taken;
		return 0;
	}
	if ((b->arena = hub_malloc(total + 1)) == NULL)
		goto oom;
	b->marks = d->marks;
	return (long)b->n;
oom:
	ingest_free(b);
	return -1;
}

void
ingest_free(struct ingest_batch *b)
{
	size_t i;

	if (b->meta != NULL)
		for (i = 0; i < b->n; i++)
			hub_free(b->meta[i].msg);
	if (b->objs != NULL)
		for (i = 0; i < b->n; i++)
			hub_free((void *)(uintptr_t)b->objs[i].obs);
	hub_free(b->spans);
	hub_free(b->objs);
	hub_free(b->meta);
	hub_free(b->arena_off);
	hub_free(b->arena);
	memset(b, 0, sizeof(*b));
}

/* Joins findings into "property: message [rule]; ..." (caller frees). */
static char *
findings_str(const struct stix_report *rep, int severity)
{
	struct buf out = BUF_INIT;
	char one[320];
	int i, n = 0;

	for (i = 0; i < rep->nfindings; i++) {
		if (rep->findings[i].severity != severity)
			continue;
		stix_finding_str(&rep->findings[i], one, sizeof(one));
		if (n++ > 0)
			buf_adds(&out, "; ");
		buf_adds(&out, one);
	}
	if (severity == STIX_ERROR && rep->nerrors > n)
		buf_addf(&out, "; and %d more", rep->nerrors - n);
	if (severity == STIX_WARNING && rep->nwarnings > n)
		buf_addf(&out, "; and %d more", rep->nwarnings - n);
	if (buf_failed(&out)) {
		buf_clear(&out);
		return NULL;
	}
	return buf_detach(&out, NULL);
}

static char *
copy_str(char **at, const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *r = *at;

	memcpy(r, s, n);
	r[n] = '\0';
	*at += n + 1;
	return r;
}

/* Is the span's own "type" marking-definition?  A cheap look for the
 * key at the top level of the object text. */
static int
is_marking_def(const char *p, size_t n)
{
	const char *q = p, *end = p + n;

	while ((q = memmem(q, (size_t)(end - q), "\"type\"", 6)) != NULL) {
		q += 6;
		while (q < end &&
		    (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' ||
			*q == ':'))
			q++;
		if ((size_t)(end - q) >= 20 &&
		    memcmp(q, "\"marking-definition\"", 20) == 0)
			return 1;
	}
	return 0;
}

int
ingest_markings(struct ingest_batch *b)
{
	struct ingest_doc *d = (struct ingest_doc *)(uintptr_t)b->d;
	struct ingest_marks *link = NULL, *v;
	size_t i;

	for (i = 0; i < b->n; i++) {
		const struct jscan_span *sp = &b->spans[i];
		struct marking_class mc;
		json_t *j, *id;
		int n = link ? link->n : 0;

		if (!sp->is_object ||
		    !is_marking_def(d->text + sp->off, sp->len))
			continue;
		/* duplicate keys refuse the definition, as they refuse it as
		 * an object */
		j = json_loadb(
		    d->text + sp->off, sp->len, JSON_REJECT_DUPLICATES, NULL);
		id = json_object_get(j, "id");
		if (j != NULL && json_is_string(id) &&
		    strlen(json_string_value(id)) < sizeof(link->v[0].id) &&
		    marking_classify(j, &mc) == 0) {
			v = hub_realloc(link,
			    sizeof(*v) + sizeof(v->v[0]) * (size_t)(n + 1));
			if (v == NULL) {
				json_decref(j);
				hub_free(link);
				return -1;
			}
			link = v;
			link->n = n;
			snprintf(link->v[n].id, sizeof(link->v[n].id), "%s",
			    json_string_value(id));
			link->v[n].mc = mc;
			link->n++;
		}
		json_decref(j);
	}
	if (link != NULL) {
		/* published whole: batches parsing now hold older links */
		link->prev = d->marks;
		d->marks = link;
	}
	b->marks = d->marks;
	return 0;
}

void
ingest_close(struct ingest_doc *d)
{
	const struct ingest_marks *m, *prev;

	for (m = d->marks; m != NULL; m = prev) {
		prev = m->prev;
		hub_free((void *)(uintptr_t)m);
	}
	d->marks = NULL;
}

static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void
reader_destroy(void *r)
{
	store_reader_free(r);
}

static void
reader_setup(void)
{
	pthread_key_create(&reader_key, reader_destroy);
}

/* The UUID of a marking-definition id; -1 for any other id. */
static int
mdef_uuid(const char *id, unsigned char uuid[16])
{
	char type[32];

	if (stix_parse_id(id, type, sizeof(type), uuid) == -1 ||
	    strcmp(type, "marking-definition") != 0)
		return -1;
	return 0;
}

/* What a stored marking-definition says. */
static int
classify_stored(const char *json, size_t len, struct marking_class *out)
{
	json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	int rc = j != NULL ? marking_classify(j, out) : -1;

	json_decref(j);
	return rc;
}

static int
stored_marking(struct store *st, uint32_t producer, const char *id,
    struct marking_class *out)
{
	static _Thread_local struct store_reader *r;
	static _Thread_local struct store *rs;
	struct store_objview ov;
	unsigned char uuid[16];
	int rc = -1;

	if (r != NULL && rs != st) {
		store_reader_free(r);
		pthread_setspecific(reader_key, NULL);
		r = NULL;
	}
	if (r == NULL) {
		pthread_once(&reader_once, reader_setup);
		if (store_reader_new(st, &r) != STORE_OK)
			return -1;
		pthread_setspecific(reader_key, r);
		rs = st;
	}
	if (mdef_uuid(id, uuid) == -1 || store_rbegin(r) != STORE_OK)
		return -1;
	if (store_latest(r, "marking-definition", uuid, producer, &ov) ==
	    STORE_OK)
		rc = classify_stored(ov.json, ov.jsonlen, out);
	store_rend(r);
	return rc;
}

static int
lookup_marking(const char *id, struct marking_class *out, void *arg)
{
	const struct ingest_batch *b = arg;
	const struct ingest_doc *d = b->d;
	const struct ingest_marks *m;
	int i;

	/* the latest definition in the document first */
	for (m = b->marks; m != NULL; m = m->prev)
		for (i = m->n - 1; i >= 0; i--)
			if (strcmp(m->v[i].id, id) == 0) {
				*out = m->v[i].mc;
				return 0;
			}
	return d->store != NULL ? stored_marking(d->store, d->producer, id, out)
				: -1;
}

/* In a write transaction: the producer's latest definition of `id`. */
struct wlookup {
	struct store_wtxn *w;
	uint32_t producer;
};

static int
wlookup_marking(const char *id, struct marking_class *out, void *arg)
{
	struct wlookup *a = arg;
	unsigned char uuid[16];
	const char *json;
	size_t len;

	if (mdef_uuid(id, uuid) == -1 ||
	    store_wmarking(a->w, a->producer, uuid, &json, &len) != STORE_OK)
		return -1;
	return classify_stored(json, len, out);
}

/* The stored form of what an object's markings say. */
static void
mark_from(const struct stix_info *info, struct store_mark *mk)
{
	int k;

	memset(mk, 0, sizeof(*mk));
	mk->tlp = (uint8_t)info->marking.tlp;
	if (info->marking.has_release) {
		mk->flags |= STORE_F_RELEASE;
		mk->nrelease = info->marking.nrelease;
		if (mk->nrelease > STORE_MAX_COUNTRIES)
			mk->nrelease = STORE_MAX_COUNTRIES;
		for (k = 0; k < mk->nrelease; k++)
			memcpy(mk->release[k], info->marking.release[k], 2);
	}
	if (info->unresolved) {
		mk->flags |= STORE_F_UNRESOLVED;
		mk->nunres = info->nunres < STORE_MAX_UNRES ? info->nunres
							    : STORE_MAX_UNRES;
		memcpy(mk->unres, info->unres, (size_t)mk->nunres * 16);
	}
}

int
ingest_remark(struct store_wtxn *w, uint32_t producer, const char *json,
    size_t len, struct store_mark *out)
{
	struct wlookup a = {w, producer};
	struct stix_ctx sctx;
	struct stix_info info;
	struct stix_report rep;
	json_t *j;
	int rc;

	if ((j = json_loadb(json, len, 0, NULL)) == NULL)
		return -1;
	memset(&sctx, 0, sizeof(sctx));
	sctx.lookup = wlookup_marking;
	sctx.lookup_arg = &a;
	rc = stix_validate(j, &sctx, &info, &rep);
	if (rc == 0)
		mark_from(&info, out);
	json_decref(j);
	return rc == 0 ? 0 : -1;
}

/* A warning that only the first n observables are indexed: 0, or -1
 * when out of memory. */
static int
obs_over(struct ingest_meta *m, int n)
{
	char w[160];
	char *msg;
	size_t len;

	snprintf(w, sizeof(w),
	    "observables: only the first %d are indexed (max_observables) "
	    "[observables]",
	    n);
	len = (m->msg != NULL ? strlen(m->msg) + 2 : 0) + strlen(w) + 1;
	if ((msg = hub_malloc(len)) == NULL)
		return -1;
	snprintf(msg, len, "%s%s%s", m->msg != NULL ? m->msg : "",
	    m->msg != NULL ? "; " : "", w);
	hub_free(m->msg);
	m->msg = msg;
	m->nwarnings++;
	return 0;
}

static void
ingest_one(struct ingest_batch *b, size_t i)
{
	const struct jscan_span *sp = &b->spans[i];
	struct ingest_meta *m = &b->meta[i];
	struct store_obj *o = &b->objs[i];
	char *slice = b->arena + b->arena_off[i];
	char *extra = slice + (sp->compact ? 0 : sp->len), idx[40];
	struct stix_report rep;
	struct stix_info info;
	struct stix_ctx sctx;
	struct store_mark mk;
	json_error_t je;
	json_t *j, *v;

	memset(o, 0, sizeof(*o));
	snprintf(idx, sizeof(idx), "objects[%zu]", b->first + i);
	if (!sp->is_object) {
		m->id = copy_str(&extra, idx, 40);
		m->msg = hub_strdup("not a JSON object [object]");
		m->nerrors = 1;
		return;
	}
	if (sp->depth > b->d->max_depth) {
		m->id = copy_str(&extra, idx, 40);
		m->msg = hub_strdup("JSON nested deeper than the hub accepts "
				    "[json-depth]");
		m->nerrors = 1;
		return;
	}
	jarena_begin();
	j = json_loadb(
	    b->d->text + sp->off, sp->len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		jarena_end();
		char msg[300];

		m->id = copy_str(&extra, idx, 40);
		snprintf(
		    msg, sizeof(msg), "not valid JSON: %s [json]", je.text);
		m->msg = hub_strdup(msg);
		m->nerrors = 1;
		return;
	}
	v = json_object_get(j, "id");
	m->id = copy_str(&extra, json_is_string(v) ? json_string_value(v) : idx,
	    STIX_ID_MAX - 1);
	v = json_object_get(j, "modified");
	if (!json_is_string(v))
		v = json_object_get(j, "created");
	if (json_is_string(v))
		m->version =
		    copy_str(&extra, json_string_value(v), TSTAMP_LEN - 1);
	memset(&sctx, 0, sizeof(sctx));
	sctx.bundle_spec = strcmp(b->d->doc.type, "bundle") == 0 &&
		b->d->doc.spec_version[0] != '\0'
	    ? b->d->doc.spec_version
	    : NULL;
	sctx.lookup = lookup_marking;
	sctx.lookup_arg = b;
	sctx.keep_pattern = b->d->index_obs;
	if (stix_validate(j, &sctx, &info, &rep) == -1) {
		m->nerrors = rep.nerrors;
		m->nwarnings = rep.nwarnings;
		m->msg = findings_str(&rep, STIX_ERROR);
		pattern_free(info.pattern);
		json_decref(j);
		jarena_end();
		return;
	}
	m->ok = 1;
	m->nwarnings = rep.nwarnings;
	if (rep.nwarnings > 0)
		m->msg = findings_str(&rep, STIX_WARNING);
	if (b->d->index_obs) {
		struct store_obs_set *set;
		int rc = obs_set_build(j, info.pattern, b->d->max_obs, &set);

		pattern_free(info.pattern);
		if (rc == 1 && obs_over(m, set->n) == -1) {
			hub_free(set);
			rc = -1;
		}
		if (rc == -1) {
			/* refused: stored unindexed, lookups would miss it */
			m->ok = 0;
			hub_free(m->msg);
			m->msg = hub_strdup("no memory to index its "
					    "observables [internal]");
			m->nerrors = 1;
			json_decref(j);
			jarena_end();
			return;
		}
		o->obs = set;
	}
	if (sp->compact) {
		/* already as compact as it gets: store the posted bytes */
		o->json = b->d->text + sp->off;
		o->jsonlen = sp->len;
	} else {
		o->jsonlen = jscan_minify(b->d->text + sp->off, sp->len, slice);
		o->json = slice;
	}
	o->id = m->id;
	o->idlen = strlen(m->id);
	memcpy(o->uuid, info.uuid, 16);
	o->version = info.version;
	/* ids any producer may report as its own: observables (derived
	 * from their content) and the well-known TLP definitions */
	o->shared =
	    info.category == STIX_SCO || marking_tlp_of_id(m->id) != TLP_NONE;
	if (info.revoked)
		o->flags |= STORE_F_REVOKED;
	if (info.spec == 20)
		o->flags |= STORE_F_SPEC20;
	mark_from(&info, &mk);
	o->tlp = mk.tlp;
	o->flags |= mk.flags;
	o->nrelease = mk.nrelease;
	memcpy(o->release, mk.release, sizeof(o->release));
	o->nunres = mk.nunres;
	memcpy(o->unres, mk.unres, sizeof(o->unres));
	json_decref(j);
	jarena_end();
}

void
ingest_range(struct ingest_batch *b, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to && i < b->n; i++)
		ingest_one(b, i);
}

int
ingest_refused(const struct store_obj *o)
{
	return o->result == STORE_REFUSED || o->result == STORE_OWNED;
}

void
ingest_count(const struct ingest_batch *b, struct ingest_counts *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < b->n; i++) {
		if (!b->meta[i].ok || ingest_refused(&b->objs[i])) {
			c->rejected++;
			continue;
		}
		if (b->meta[i].nwarnings > 0)
			c->warned++;
		switch (b->objs[i].result) {
		case STORE_NEW:
			c->stored++;
			break;
		case STORE_LINKED:
			c->linked++;
			break;
		default:
			c->duplicate++;
			break;
		}
	}
}
