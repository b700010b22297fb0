/*
 * feed_run.c -- one run of one feed (feed_run.h): the connector driven
 * step by step on the outbound loop, its downloads, its results into the
 * ingest pipeline, its status and saved state into the store.
 *
 * The order that makes a failure harmless: a result's state is held, not
 * saved, until every document handed to the pipeline before it was
 * stored; at the end the held state is saved with the status in one
 * transaction, and only when the store refused nothing.  A run that fails
 * later (a download, a document) still saves what was acknowledged before
 * (a TAXII cursor, the MISP events done); a list's snapshot comes only
 * with its last page, so a list run that fails expires nothing.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/ingest.h"
#include "ctihub/log.h"
#include "ctihub/store.h"
#include "ctihub/tstamp.h"
#include "ctihub/uuid.h"

#include "feed_run.h"
#include "fetch.h"
#include "pipeline.h"
#include "writer.h"

#define MAX_DOCS      2	    /* results in the pipeline at once */
#define BATCH	      10000 /* objects per writer message */
#define LOGGED_ERRORS 20    /* per-line errors logged per run (all counted) */
#define CONNECT_MS    10000
#define MAX_OBJECTS   1000000 /* in one result (a MISP event's, say) */

/* ctihub's namespace of feed namespaces (random, fixed) */
static const unsigned char feeds_ns[16] = {0x2f, 0x8e, 0x51, 0xc4, 0x0a, 0x7d,
    0x4b, 0x93, 0x86, 0x1e, 0xd2, 0x45, 0x6c, 0x0f, 0xb7, 0x39};

struct frun {
	const struct feed_def *def;
	struct frun_env env;
	const struct feed_ops *ops;
	struct feed_run *run;
	struct feed_ctx ctx;
	struct frun_report rep;
	struct feed_state held; /* the state to save at the end */
	int has_held;
	int want_next; /* the connector has more: call next */
	int fetching;  /* a request is in flight */
	int pending;   /* documents in the pipeline */
	int failed, cancelled, finishing;
	long logged;
	/* written by the writer thread (batch_done), read at the end */
	pthread_mutex_t mu;
	struct ingest_counts counts;
	int store_rc; /* the first store failure */
	char first_reject[160];
};

/* A result's envelope in the pipeline. */
struct fdoc {
	struct frun *r;
	struct buf text;
	int rc;
};

static void step(struct frun *);
static void finish(struct frun *);

/* --- the status record --- */

int
frun_status_encode(const struct frun_status *s, char **out, size_t *len)
{
	const struct frun_report *l = &s->last;
	json_t *o;

	o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:i,s:I,s:I,"
		      "s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}}",
	    "last_start", (json_int_t)s->last_start, "last_end",
	    (json_int_t)s->last_end, "last_ok", (json_int_t)s->last_ok,
	    "last_fail", (json_int_t)s->last_fail, "runs", (json_int_t)s->runs,
	    "failures", (json_int_t)s->failures, "consecutive",
	    (json_int_t)s->consecutive, "stored_total",
	    (json_int_t)s->stored_total, "line_errors_total",
	    (json_int_t)s->line_errors_total, "rejected_total",
	    (json_int_t)s->rejected_total, "last", "outcome", l->outcome,
	    "started", (json_int_t)l->started, "ended", (json_int_t)l->ended,
	    "requests", (json_int_t)l->requests, "not_modified",
	    (json_int_t)l->not_modified, "bytes", (json_int_t)l->bytes,
	    "objects", (json_int_t)l->objects, "stored", (json_int_t)l->stored,
	    "duplicate", (json_int_t)l->duplicate, "rejected",
	    (json_int_t)l->rejected, "line_errors", (json_int_t)l->line_errors,
	    "error", l->error);
	if (o == NULL)
		return -1;
	*out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (*out == NULL)
		return -1;
	*len = strlen(*out);
	return 0;
}

int
frun_status_decode(const void *v, size_t len, struct frun_status *s)
{
	json_int_t a[10] = {0}, b[10] = {0};
	const char *err = "";
	json_error_t je;
	json_t *o;
	int outcome = 0, rc;

	memset(s, 0, sizeof(*s));
	if ((o = json_loadb(v, len, 0, &je)) == NULL)
		return -1;
	rc = json_unpack(o,
	    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:i,s:I,s:I,s:I,s:I,s:"
	    "I,"
	    "s:I,s:I,s:I,s:I,s:I,s:s}}",
	    "last_start", &a[0], "last_end", &a[1], "last_ok", &a[2],
	    "last_fail", &a[3], "runs", &a[4], "failures", &a[5], "consecutive",
	    &a[6], "stored_total", &a[7], "line_errors_total", &a[8],
	    "rejected_total", &a[9], "last", "outcome", &outcome, "started",
	    &b[0], "ended", &b[1], "requests", &b[2], "not_modified", &b[3],
	    "bytes", &b[4], "objects", &b[5], "stored", &b[6], "duplicate",
	    &b[7], "rejected", &b[8], "line_errors", &b[9], "error", &err);
	if (rc == 0) {
		s->last_start = a[0];
		s->last_end = a[1];
		s->last_ok = a[2];
		s->last_fail = a[3];
		s->runs = (uint64_t)a[4];
		s->failures = (uint64_t)a[5];
		s->consecutive = (uint64_t)a[6];
		s->stored_total = (uint64_t)a[7];
		s->line_errors_total = (uint64_t)a[8];
		s->rejected_total = (uint64_t)a[9];
		s->last.outcome = outcome;
		s->last.started = b[0];
		s->last.ended = b[1];
		s->last.requests = (uint64_t)b[2];
		s->last.not_modified = (uint64_t)b[3];
		s->last.bytes = (uint64_t)b[4];
		s->last.objects = (uint64_t)b[5];
		s->last.stored = (uint64_t)b[6];
		s->last.duplicate = (uint64_t)b[7];
		s->last.rejected = (uint64_t)b[8];
		s->last.line_errors = (uint64_t)b[9];
		snprintf(s->last.error, sizeof(s->last.error), "%s", err);
	}
	json_decref(o);
	if (rc != 0)
		memset(s, 0, sizeof(*s));
	return rc == 0 ? 0 : -1;
}

void
frun_status_add(struct frun_status *s, const struct frun_report *rep)
{
	s->last_start = rep->started;
	s->last_end = rep->ended;
	s->runs++;
	if (rep->outcome == FRUN_OK) {
		s->last_ok = rep->ended;
		s->consecutive = 0;
	} else if (rep->outcome == FRUN_FAILED) {
		s->last_fail = rep->ended;
		s->failures++;
		s->consecutive++;
	}
	s->stored_total += rep->stored;
	s->line_errors_total += rep->line_errors;
	s->rejected_total += rep->rejected;
	s->last = *rep;
}

void
frun_namespace(const unsigned char secret[32], const char *member,
    const char *feed, unsigned char ns[16])
{
	unsigned char name[32 + MEMBER_ID_MAX + 1 + FEED_NAME_MAX];
	size_t m = strnlen(member, MEMBER_ID_MAX),
	       f = strnlen(feed, FEED_NAME_MAX);

	memcpy(name, secret, 32);
	memcpy(name + 32, member, m);
	name[32 + m] = '/';
	memcpy(name + 33 + m, feed, f);
	if (uuid_v5(feeds_ns, name, 33 + m + f, ns) == -1)
		memcpy(ns, feeds_ns, 16); /* OpenSSL out of memory */
}

/* --- failing --- */

static void fail(struct frun *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct frun *r, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return;
	r->failed = 1;
	va_start(ap, fmt);
	vsnprintf(r->rep.error, sizeof(r->rep.error), fmt, ap);
	va_end(ap);
	log_warnx("feed %s: %s", r->def->name, r->rep.error);
}

/* --- the pipeline's side (writer thread), then back on the loop --- */

static void
batch_done(const struct ingest_batch *b, int rc, void *arg)
{
	struct fdoc *d = arg;
	struct frun *r = d->r;
	size_t i;

	pthread_mutex_lock(&r->mu);
	if (rc != STORE_OK) {
		if (r->store_rc == STORE_OK)
			r->store_rc = rc;
	} else {
		struct ingest_counts c;

		ingest_count(b, &c); /* this batch's */
		r->counts.stored += c.stored;
		r->counts.linked += c.linked;
		r->counts.duplicate += c.duplicate;
		r->counts.rejected += c.rejected;
		for (i = 0; i < b->n && r->first_reject[0] == '\0'; i++)
			if (!b->meta[i].ok || ingest_refused(&b->objs[i]))
				snprintf(r->first_reject,
				    sizeof(r->first_reject), "%s: %s",
				    b->meta[i].id ? b->meta[i].id : "?",
				    b->meta[i].msg ? b->meta[i].msg
						   : "refused by the store");
	}
	pthread_mutex_unlock(&r->mu);
}

static void
doc_back(struct fetcher *f, void *arg)
{
	struct fdoc *d = arg;
	struct frun *r = d->r;

	(void)f;
	r->pending--;
	if (d->rc != STORE_OK)
		fail(r, "the store refused a document: %s",
		    store_strerror(d->rc));
	hub_free(d);
	step(r);
}

static void
doc_done(int rc, void *arg)
{
	struct fdoc *d = arg;
	struct frun *r = d->r;
	/* r may be gone as soon as the call is queued */
	struct frun_gate *g = r->env.gate;
	int gone;

	buf_clear(&d->text);
	d->rc = rc;
	pthread_mutex_lock(&g->mu);
	gone = g->gone || fetcher_call(r->env.f, doc_back, d) == -1;
	pthread_mutex_unlock(&g->mu);
	if (gone)
		hub_free(d); /* the run is left to its owner (frun_free) */
}

/* Hands an envelope to the pipeline (taking it). */
static void
hand(struct frun *r, struct buf *env)
{
	const struct conf *c = r->env.conf;
	struct pipe_params p;
	struct fdoc *d;
	char err[256];
	int rc;

	if ((d = hub_calloc(1, sizeof(*d))) == NULL) {
		buf_clear(env);
		fail(r, "out of memory");
		return;
	}
	d->r = r;
	d->text = *env;
	buf_init(env);
	memset(&p, 0, sizeof(p));
	p.coll = r->env.coll;
	p.producer = r->env.producer;
	p.max_objects = MAX_OBJECTS;
	p.max_depth = (int)c->json_max_depth;
	p.index_obs = c->index_observables;
	p.max_obs = (int)c->max_observables;
	p.batch = BATCH;
	p.in_flight = 4;
	if (r->env.audit) {
		p.audit_member = r->def->member;
		p.audit_coll = r->def->coll;
	}
	p.batch_done = batch_done;
	p.doc_done = doc_done;
	p.arg = d;
	r->pending++;
	rc = pipe_start(
	    r->env.pl, d->text.data, d->text.len, &p, err, sizeof(err));
	if (rc != 0) {
		r->pending--;
		buf_clear(&d->text);
		hub_free(d);
		fail(r, "the connector's envelope was refused: %s", err);
	}
}

/* --- results --- */

static void
take(struct frun *r, const struct feed_response *resp)
{
	struct feed_result out;
	char err[FEED_ERRLEN];
	int i, rc;

	feed_result_init(&out);
	err[0] = '\0';
	rc = r->ops->parse(r->run, resp, &out, err, sizeof(err));
	r->rep.line_errors +=
	    (uint64_t)out.nerrors + (uint64_t)out.errors_dropped;
	for (i = 0; i < out.nerrors; i++)
		if (r->logged++ < LOGGED_ERRORS)
			log_warnx("feed %s: %s: line %ld: %s", r->def->name,
			    r->def->url ? r->def->url : r->def->path,
			    out.errors[i].line, out.errors[i].msg);
	if (rc != FEED_OK) {
		fail(r, "%s", err[0] ? err : "the connector failed");
		feed_result_clear(&out);
		return;
	}
	if (out.has_state) {
		feed_state_clear(&r->held);
		r->held = out.state;
		memset(&out.state, 0, sizeof(out.state));
		r->has_held = 1;
	}
	if (r->env.show != NULL)
		r->env.show(r->def, &out, r->env.arg);
	if (out.envelope.len > 0) {
		r->rep.objects += out.nobjects;
		if (r->env.pl != NULL)
			hand(r, &out.envelope);
	}
	r->want_next = out.more;
	feed_result_clear(&out);
}

/* The HTTP-date of an mtime, as Last-Modified gives it. */
static void
http_date(time_t t, char *out, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* The value of a request header, or NULL. */
static const char *
req_header(const struct feed_request *req, const char *name)
{
	size_t n = strlen(name);
	const char *v;
	int i;

	for (i = 0; i < FEED_MAX_HEADERS && req->headers[i] != NULL; i++)
		if (strncasecmp(req->headers[i], name, n) == 0 &&
		    req->headers[i][n] == ':') {
			for (v = req->headers[i] + n + 1; *v == ' '; v++)
				;
			return v;
		}
	return NULL;
}

/* A `file` source: read whole (at most max_bytes).  Its ETag is made of
 * the mtime to the nanosecond, the size and the inode (an edit within the
 * same second as the last run still shows), its Last-Modified is the mtime;
 * 304 when the request's If-None-Match is that ETag or, without one, its
 * If-Modified-Since that Last-Modified. */
static void
read_source(struct frun *r, const struct feed_request *req)
{
	const char *inm = req_header(req, "If-None-Match");
	const char *ims = req_header(req, "If-Modified-Since");
	struct feed_response resp;
	char lm[64], etag[96];
	struct stat sb;
	char *body = NULL;
	size_t got = 0;
	ssize_t n;
	int fd;

	memset(&resp, 0, sizeof(resp));
	r->rep.requests++;
	/* O_NONBLOCK: a FIFO must not hold the loop (refused below) */
	if ((fd = open(r->def->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) ==
		-1 ||
	    fstat(fd, &sb) == -1) {
		fail(r, "%s: %s", r->def->path, strerror(errno));
		if (fd != -1)
			close(fd);
		return;
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > r->def->max_bytes) {
		fail(r, "%s: %s", r->def->path,
		    !S_ISREG(sb.st_mode) ? "not a regular file"
					 : "larger than max_bytes");
		close(fd);
		return;
	}
	http_date(sb.st_mtime, lm, sizeof(lm));
	snprintf(etag, sizeof(etag), "\"%lld.%09ld-%lld-%llu\"",
	    (long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec,
	    (long long)sb.st_size, (unsigned long long)sb.st_ino);
	resp.last_modified = lm;
	resp.etag = etag;
	resp.now = tstamp_now();
	if (inm != NULL ? strcmp(inm, etag) == 0
			: ims != NULL && strcmp(ims, lm) == 0) {
		close(fd);
		resp.status = 304;
		r->rep.not_modified++;
		take(r, &resp);
		return;
	}
	if ((body = hub_malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		fail(r, "%s: out of memory", r->def->path);
		return;
	}
	while (got < (size_t)sb.st_size &&
	    ((n = read(fd, body + got, (size_t)sb.st_size - got)) > 0 ||
		(n == -1 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	close(fd);
	body[got] = '\0';
	r->rep.bytes += got;
	resp.status = 200;
	resp.body = body;
	resp.len = got;
	take(r, &resp);
	hub_free(body);
}

static void
fetched(struct fetch_resp *fr, void *arg)
{
	struct frun *r = arg;
	struct feed_response resp;

	r->fetching = 0;
	if (fr->result == FETCH_ECANCELLED)
		r->cancelled = 1;
	else if (fr->result != FETCH_OK)
		fail(r, "%s",
		    fr->error[0] ? fr->error : fetch_strerror(fr->result));
	else {
		memset(&resp, 0, sizeof(resp));
		resp.status = fr->status;
		resp.body = fr->body;
		resp.len = fr->len;
		resp.content_type = fr->content_type;
		resp.etag = fr->etag;
		resp.last_modified = fr->last_modified;
		resp.date_added_first = fr->date_added_first;
		resp.date_added_last = fr->date_added_last;
		resp.now = tstamp_now();
		r->rep.requests++;
		r->rep.bytes += fr->len;
		if (fr->status == 304)
			r->rep.not_modified++;
		take(r, &resp);
	}
	step(r);
}

static void
submit(struct frun *r, const struct feed_request *req)
{
	const struct feed_def *d = r->def;
	const char *hdrs[FEED_MAX_HEADERS + 2];
	struct fetch_req fq;
	char *auth = NULL;
	int i, n = 0;

	for (i = 0; i < FEED_MAX_HEADERS && req->headers[i] != NULL; i++)
		hdrs[n++] = req->headers[i];
	if (d->token != NULL) {
		size_t len = strlen(d->token) + 64 +
		    (d->token_header ? strlen(d->token_header) : 0);

		if ((auth = hub_malloc(len)) == NULL) {
			fail(r, "out of memory");
			return;
		}
		if (d->token_header != NULL)
			snprintf(
			    auth, len, "%s: %s", d->token_header, d->token);
		else
			snprintf(
			    auth, len, "Authorization: Bearer %s", d->token);
		hdrs[n++] = auth;
	}
	hdrs[n] = NULL;
	memset(&fq, 0, sizeof(fq));
	fq.url = req->url;
	fq.headers = hdrs;
	fq.user = d->user;
	fq.password = d->password;
	fq.ca_file = d->ca_file;
	fq.cert_file = d->cert_file;
	fq.key_file = d->key_file;
	fq.gzip = 1;
	fq.timeout_ms = (int)(d->timeout * 1000);
	fq.connect_timeout_ms =
	    fq.timeout_ms < CONNECT_MS ? fq.timeout_ms : CONNECT_MS;
	fq.max_bytes = (size_t)d->max_bytes;
	fq.done = fetched;
	fq.arg = r;
	r->fetching = 1;
	if (fetch_submit(r->env.f, &fq) == -1) {
		r->fetching = 0;
		fail(r, "the request could not be queued");
	}
	hub_free(auth);
}

/* Drives the connector as far as it can go without waiting. */
static void
step(struct frun *r)
{
	struct feed_request req;
	char err[FEED_ERRLEN];
	int rc;

	while (!r->failed && !r->cancelled && !r->fetching && r->want_next &&
	    r->pending < MAX_DOCS) {
		memset(&req, 0, sizeof(req));
		err[0] = '\0';
		rc = r->ops->next(r->run, &req, err, sizeof(err));
		if (rc == FEED_DONE) {
			r->want_next = 0;
		} else if (rc == FEED_CONT) {
			r->want_next = 0;
			take(r, NULL);
		} else if (rc == FEED_OK && req.url == NULL &&
		    r->def->path != NULL) {
			r->want_next = 0;
			read_source(r, &req);
		} else if (rc == FEED_OK && req.url != NULL) {
			r->want_next = 0;
			submit(r, &req);
		} else
			fail(r, "%s", err[0] ? err : "no request to make");
		feed_request_clear(&req);
	}
	if (!r->fetching && r->pending == 0 && !r->finishing &&
	    (r->failed || r->cancelled || !r->want_next))
		finish(r);
}

/* --- the end --- */

static void
end(struct frun *r)
{
	if (r->env.done != NULL)
		r->env.done(r->def, &r->rep, r->env.arg);
	if (r->ops != NULL && r->run != NULL)
		r->ops->run_free(r->run);
	feed_state_clear(&r->held);
	pthread_mutex_destroy(&r->mu);
	hub_free(r);
}

/* The status and state being saved. */
struct fsave {
	struct wmsg m; /* first: the writer's done gets &m */
	struct frun *r;
	int rc;
};

static void
saved_back(struct fetcher *f, void *arg)
{
	struct fsave *fs = arg;
	struct frun *r = fs->r;

	(void)f;
	if (fs->rc != STORE_OK)
		fail(r, "the feed's status could not be saved: %s",
		    store_strerror(fs->rc));
	if (r->failed && r->rep.outcome == FRUN_OK)
		r->rep.outcome = FRUN_FAILED;
	hub_free(fs);
	end(r);
}

static void
saved(struct wmsg *m, int rc)
{
	struct fsave *fs = (struct fsave *)(void *)m;
	struct frun *r = fs->r;
	/* r may be gone as soon as the call is queued */
	struct frun_gate *g = r->env.gate;
	int gone;

	wmsg_clear(m);
	fs->rc = rc;
	pthread_mutex_lock(&g->mu);
	gone = g->gone || fetcher_call(r->env.f, saved_back, fs) == -1;
	pthread_mutex_unlock(&g->mu);
	if (gone)
		hub_free(fs); /* the owner reaps the run */
}

/* Reads the status record (fetch thread). */
static void
load_status(struct frun *r, struct frun_status *s)
{
	struct store_reader *rd;
	const void *v;
	size_t len;

	memset(s, 0, sizeof(*s));
	if (store_reader_new(r->env.st, &rd) != STORE_OK)
		return;
	if (store_rbegin(rd) == STORE_OK) {
		if (store_feed_get(rd, r->def->name, 'h', &v, &len) == STORE_OK)
			frun_status_decode(v, len, s);
		store_rend(rd);
	}
	store_reader_free(rd);
}

static void
finish(struct frun *r)
{
	struct frun_status s;
	struct fsave *fs;
	struct wmsg *m;
	char *hdr;
	size_t hdrlen;

	r->finishing = 1;
	r->rep.ended = tstamp_now();
	pthread_mutex_lock(&r->mu);
	r->rep.stored = r->counts.stored + r->counts.linked;
	r->rep.duplicate = r->counts.duplicate;
	r->rep.rejected = r->counts.rejected;
	if (r->store_rc != STORE_OK)
		fail(r, "the store refused a batch: %s",
		    store_strerror(r->store_rc));
	pthread_mutex_unlock(&r->mu);
	if (r->rep.rejected > 0)
		log_warnx("feed %s: %llu objects rejected, the first: %s",
		    r->def->name, (unsigned long long)r->rep.rejected,
		    r->first_reject);
	r->rep.outcome = r->failed ? FRUN_FAILED
	    : r->cancelled	   ? FRUN_CANCELLED
				   : FRUN_OK;
	if (r->env.w == NULL) {
		end(r);
		return;
	}
	load_status(r, &s);
	frun_status_add(&s, &r->rep);
	if ((fs = hub_calloc(1, sizeof(*fs))) == NULL ||
	    frun_status_encode(&s, &hdr, &hdrlen) == -1) {
		hub_free(fs);
		fail(r, "out of memory saving the status");
		end(r);
		return;
	}
	fs->r = r;
	m = &fs->m;
	wmsg_init(m, WMSG_FEED);
	snprintf(m->u.feed.name, sizeof(m->u.feed.name), "%s", r->def->name);
	/* json_dumps's memory is malloc's: copy it into the hub's */
	m->u.feed.hdr = hub_malloc(hdrlen);
	if (m->u.feed.hdr != NULL)
		memcpy(m->u.feed.hdr, hdr, hdrlen);
	m->u.feed.hdrlen = hdrlen;
	free(hdr);
	/* the held state was produced with documents all acknowledged
	 * (pending is 0 and the store refused nothing) */
	if (r->has_held && r->store_rc == STORE_OK) {
		m->u.feed.state_set = 1;
		m->u.feed.state = r->held.data;
		m->u.feed.statelen = r->held.len;
		memset(&r->held, 0, sizeof(r->held));
		r->has_held = 0;
	}
	if (m->u.feed.hdr == NULL) {
		wmsg_clear(m);
		hub_free(fs);
		fail(r, "out of memory saving the status");
		end(r);
		return;
	}
	m->done = saved;
	m->arg = fs;
	writer_submit(r->env.w, m);
}

/* --- starting, stopping --- */

struct frun *
frun_start(const struct feed_def *def, const struct frun_env *env)
{
	const struct feed_ops *ops = feed_ops_find(def->kind);
	const struct feed_state *st = NULL;
	struct feed_state saved_st = {0};
	struct store_reader *rd = NULL;
	struct frun *r;
	char err[FEED_ERRLEN];
	const void *v;
	size_t len;

	if (ops == NULL || (r = hub_calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->def = def;
	r->env = *env;
	r->ops = ops;
	pthread_mutex_init(&r->mu, NULL);
	r->rep.started = tstamp_now();
	r->ctx.def = def;
	r->ctx.member = def->member;
	r->ctx.now = r->rep.started;
	frun_namespace(env->secret, def->member, def->name, r->ctx.ns);
	/* the saved state, copied out of the read transaction */
	if (store_reader_new(env->st, &rd) == STORE_OK &&
	    store_rbegin(rd) == STORE_OK) {
		int rc = store_feed_get(rd, def->name, 's', &v, &len);

		if (rc == STORE_OK && len > 0 &&
		    (saved_st.data = hub_malloc(len)) != NULL) {
			memcpy(saved_st.data, v, len);
			saved_st.len = len;
			st = &saved_st;
		} else if (rc != STORE_OK && rc != STORE_ENOTFOUND)
			log_warnx("feed %s: its saved state cannot be read: "
				  "starting from none",
			    def->name);
		store_rend(rd);
	}
	store_reader_free(rd);
	err[0] = '\0';
	r->run = ops->run_new(&r->ctx, st, err, sizeof(err));
	feed_state_clear(&saved_st);
	if (r->run == NULL)
		fail(r, "%s", err[0] ? err : "the connector cannot start");
	else
		r->want_next = 1;
	step(r);
	return r;
}

void
frun_cancel(struct frun *r)
{
	r->cancelled = 1;
}

void
frun_free(struct frun *r)
{
	if (r == NULL)
		return;
	if (r->ops != NULL && r->run != NULL)
		r->ops->run_free(r->run);
	feed_state_clear(&r->held);
	pthread_mutex_destroy(&r->mu);
	hub_free(r);
}
