/*
 * cli_feeds.c -- ctihub feeds status: each feed of the feeds file with
 * its kind, schedule, last run (outcome, what it stored, its errors) and
 * totals, read from the database beside a running hub; ctihub feed run
 * NAME: one run of one feed in the foreground, the same run as the hub's
 * (feed_run.h), printing what it would store (each object, each skipped
 * line with its number) and storing nothing -- or, with --store, storing
 * it and saving the feed's state as the hub would.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/feedconf.h"
#include "ctihub/log.h"
#include "ctihub/store.h"
#include "ctihub/subscription.h"
#include "ctihub/tstamp.h"
#include "ctihub/workq.h"

#include "cli.h"
#include "feed_run.h"
#include "fetch.h"
#include "hub.h"
#include "pipeline.h"
#include "writer.h"

static const char *
outcome_name(int o)
{
	return o == FRUN_OK ? "ok" : o == FRUN_FAILED ? "failed" : "cancelled";
}

/* --- feeds status --- */

static int
status(const struct conf *c, struct store *st, int json)
{
	const struct feedconf *fc = c->feeds;
	struct store_reader *r;
	json_t *all = json ? json_array() : NULL;
	int i;

	if (store_reader_new(st, &r) != STORE_OK ||
	    store_rbegin(r) != STORE_OK) {
		fprintf(stderr, "ctihub feeds: the database cannot be read\n");
		return 1;
	}
	if (!json)
		printf("%-20s %-5s %-7s %-8s %-20s %-9s %-20s %10s %8s %s\n",
		    "FEED", "KIND", "ENABLED", "EVERY", "LAST_RUN", "OUTCOME",
		    "LAST_OK", "STORED", "ERRORS", "LAST ERROR");
	for (i = 0; fc != NULL && i < fc->n; i++) {
		const struct feed_def *d = &fc->v[i];
		struct frun_status s;
		char last[TSTAMP_LEN], ok[TSTAMP_LEN], next[TSTAMP_LEN];
		const void *v;
		size_t len;
		int have = 0;

		memset(&s, 0, sizeof(s));
		if (store_feed_get(r, d->name, 'h', &v, &len) == STORE_OK) {
			if (frun_status_decode(v, len, &s) == 0)
				have = 1;
			else
				snprintf(s.last.error, sizeof(s.last.error),
				    "unreadable status record");
		}
		cli_when(s.last_start, last);
		cli_when(s.last_ok, ok);
		cli_when(d->enabled && s.last_start != 0
			? s.last_start + d->every * 1000000
			: 0,
		    next);
		if (json) {
			json_t *o = json_pack(
			    "{s:s,s:s,s:b,s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,"
			    "s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}}",
			    "feed", d->name, "kind", feed_kind_name(d->kind),
			    "enabled", d->enabled, "every",
			    (json_int_t)d->every, "last_run", last, "outcome",
			    have ? outcome_name(s.last.outcome) : "never",
			    "last_success", ok, "last_error", s.last.error,
			    "runs", (json_int_t)s.runs, "failures",
			    (json_int_t)s.failures, "consecutive_failures",
			    (json_int_t)s.consecutive, "stored_total",
			    (json_int_t)s.stored_total, "errors_total",
			    (json_int_t)(s.line_errors_total +
				s.rejected_total),
			    "last", "objects", (json_int_t)s.last.objects,
			    "stored", (json_int_t)s.last.stored, "duplicate",
			    (json_int_t)s.last.duplicate, "rejected",
			    (json_int_t)s.last.rejected, "line_errors",
			    (json_int_t)s.last.line_errors, "requests",
			    (json_int_t)s.last.requests, "not_modified",
			    (json_int_t)s.last.not_modified, "seconds",
			    (double)(s.last.ended - s.last.started) / 1e6);
			if (o != NULL)
				json_array_append_new(all, o);
			continue;
		}
		printf("%-20s %-5s %-7s %-8lld %-20s %-9s %-20s %10llu %8llu "
		       "%s\n",
		    d->name, feed_kind_name(d->kind), d->enabled ? "yes" : "no",
		    (long long)d->every, last,
		    have ? outcome_name(s.last.outcome) : "never", ok,
		    (unsigned long long)s.stored_total,
		    (unsigned long long)(s.line_errors_total +
			s.rejected_total),
		    s.last.error);
	}
	store_rend(r);
	store_reader_free(r);
	if (json) {
		json_dumpf(all, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(all);
	}
	return 0;
}

int
cmd_feeds(int argc, char **argv)
{
	struct store *st;
	struct conf *c;
	int i, json = 0, rc;

	for (i = 2; i < argc; i++)
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			i++;
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else
			break;
	if (argc < 2 || strcmp(argv[1], "status") != 0 || i < argc) {
		fprintf(
		    stderr, "usage: ctihub feeds status [--json] [-c file]\n");
		return 2;
	}
	if ((c = cli_load_conf(cli_conf_path(argc, argv))) == NULL)
		return 2;
	if ((st = cli_open_store(c, "feeds")) == NULL) {
		conf_free(c);
		return 1;
	}
	rc = status(c, st, json);
	store_close(st);
	conf_free(c);
	return rc;
}

/* --- feed run NAME --- */

struct one {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int done;
	int json;
	struct frun_report rep;
	struct frun_env env;
	const struct feed_def *def;
	const struct conf *conf;
	uint64_t shown_new, shown_gone;
};

/* What a result would store: one line per object (or the JSON). */
static void
show(const struct feed_def *d, const struct feed_result *res, void *arg)
{
	struct one *o = arg;
	json_t *env, *objs, *x;
	json_error_t je;
	size_t i;
	int k;

	for (k = 0; k < res->nerrors; k++)
		fprintf(stderr, "%s: line %ld: %s\n", d->url ? d->url : d->path,
		    res->errors[k].line, res->errors[k].msg);
	if (res->errors_dropped > 0)
		fprintf(stderr, "%s: %ld more lines skipped\n",
		    d->url ? d->url : d->path, res->errors_dropped);
	if (res->envelope.len == 0)
		return;
	if (o->json) {
		fwrite(res->envelope.data, 1, res->envelope.len, stdout);
		putchar('\n');
	}
	env = json_loadb(res->envelope.data, res->envelope.len, 0, &je);
	objs = json_object_get(env, "objects");
	json_array_foreach(objs, i, x)
	{
		const char *id = json_string_value(json_object_get(x, "id"));
		const char *pat =
		    json_string_value(json_object_get(x, "pattern"));
		const char *vu =
		    json_string_value(json_object_get(x, "valid_until"));
		const char *mod =
		    json_string_value(json_object_get(x, "modified"));
		const char *type =
		    json_string_value(json_object_get(x, "type"));
		int revoked = json_is_true(json_object_get(x, "revoked"));
		/* a vanished entry's version ends at its own modified */
		int gone = revoked ||
		    (vu != NULL && mod != NULL && strcmp(vu, mod) <= 0);

		if (gone)
			o->shown_gone++;
		else
			o->shown_new++;
		if (!o->json)
			printf("%-7s %s %s\n",
			    revoked    ? "revoke"
				: gone ? "expire"
				       : "store",
			    id ? id : "?",
			    pat	       ? pat
				: type ? type
				       : "");
	}
	json_decref(env);
}

static void
one_done(const struct feed_def *d, const struct frun_report *rep, void *arg)
{
	struct one *o = arg;

	(void)d;
	pthread_mutex_lock(&o->mu);
	o->rep = *rep;
	o->done = 1;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->mu);
}

static void
one_start(struct fetcher *f, void *arg)
{
	struct one *o = arg;

	(void)f;
	if (frun_start(o->def, &o->env) == NULL) {
		struct frun_report rep;

		memset(&rep, 0, sizeof(rep));
		rep.outcome = FRUN_FAILED;
		snprintf(rep.error, sizeof(rep.error),
		    "no connector for kind %s", feed_kind_name(o->def->kind));
		one_done(o->def, &rep, o);
	}
}

static int
addr_check(const struct sockaddr *sa, socklen_t len, void *arg)
{
	return fetch_addr_public(sa, len, NULL) ||
	    conf_feed_allowed(arg, sa, len);
}

int
cmd_feed(int argc, char **argv)
{
	const char *name = NULL;
	const struct conf_collection *k;
	const struct conf_root *root;
	const struct member *m;
	struct fetch_opts fo;
	struct frun_gate gate;
	struct fetcher *f;
	struct writer *w = NULL;
	struct workq *pool = NULL;
	struct pipeline *pl = NULL;
	struct store *st;
	struct conf *c;
	struct one o;
	unsigned char secret[32];
	char why[128];
	int i, store = 0, rc;
	long ncpu;

	memset(&o, 0, sizeof(o));
	for (i = 2; i < argc; i++)
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			i++;
		else if (strcmp(argv[i], "--json") == 0)
			o.json = 1;
		else if (strcmp(argv[i], "--store") == 0)
			store = 1;
		else if (name == NULL && argv[i][0] != '-')
			name = argv[i];
		else
			break;
	if (argc < 2 || strcmp(argv[1], "run") != 0 || name == NULL ||
	    i < argc) {
		fprintf(stderr,
		    "usage: ctihub feed run NAME [--store] "
		    "[--json] [-c file]\n");
		return 2;
	}
	if ((c = cli_load_conf(cli_conf_path(argc, argv))) == NULL)
		return 2;
	if ((o.def = feedconf_find(c->feeds, name)) == NULL) {
		fprintf(stderr, "ctihub feed: no feed '%s' in %s\n", name,
		    c->feeds != NULL ? c->feeds->file : c->feeds_file);
		conf_free(c);
		return 2;
	}
	if ((mkdir(c->state_dir, 0700) == -1 && errno != EEXIST) ||
	    (st = cli_open_store(c, "feed")) == NULL) {
		if (errno != 0 && errno != EEXIST)
			fprintf(stderr, "ctihub feed: %s: %s\n", c->state_dir,
			    strerror(errno));
		conf_free(c);
		return 1;
	}
	m = members_find(c->members, o.def->member);
	k = conf_coll_resolve(c, o.def->coll, &root, why, sizeof(why));
	if (runtime_bind(c, st) == -1 || m == NULL || k == NULL ||
	    store_secret(st, secret) != STORE_OK) {
		fprintf(stderr, "ctihub feed: cannot bind %s to the database\n",
		    name);
		store_close(st);
		conf_free(c);
		return 1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	pthread_mutex_init(&o.mu, NULL);
	pthread_cond_init(&o.cond, NULL);
	pthread_mutex_init(&gate.mu, NULL);
	gate.gone = 0;
	memset(&fo, 0, sizeof(fo));
	fo.thread_name = "feed";
	fo.addr_check = addr_check;
	fo.addr_arg = c;
	if ((f = fetcher_start(&fo)) == NULL)
		fatalx("cannot start the outbound loop");
	if (store) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		if ((w = writer_start(st, 0)) == NULL ||
		    (pool = workq_new(ncpu > 0 ? (int)ncpu : 1, "parse", 0)) ==
			NULL ||
		    (pl = pipe_new(pool, w, st)) == NULL)
			fatalx("cannot start threads");
	}
	o.env.f = f;
	o.env.gate = &gate;
	o.env.st = st;
	o.env.pl = pl;
	o.env.w = w;
	o.env.conf = c;
	o.env.secret = secret;
	o.env.coll = k->code;
	o.env.producer = m->code;
	o.env.show = store ? NULL : show;
	o.env.done = one_done;
	o.env.arg = &o;
	if (fetcher_call(f, one_start, &o) == -1)
		fatalx("cannot start the run");
	pthread_mutex_lock(&o.mu);
	while (!o.done)
		pthread_cond_wait(&o.cond, &o.mu);
	pthread_mutex_unlock(&o.mu);
	fetcher_stop(f);
	if (store) {
		workq_free(pool);
		pipe_free(pl);
		writer_stop(w);
	}
	if (store)
		printf("feed %s: %s: %llu objects, %llu stored, %llu already "
		       "stored, %llu rejected, %llu lines skipped, %llu "
		       "requests (%llu not modified) in %.2f s%s%s\n",
		    name, outcome_name(o.rep.outcome),
		    (unsigned long long)o.rep.objects,
		    (unsigned long long)o.rep.stored,
		    (unsigned long long)o.rep.duplicate,
		    (unsigned long long)o.rep.rejected,
		    (unsigned long long)o.rep.line_errors,
		    (unsigned long long)o.rep.requests,
		    (unsigned long long)o.rep.not_modified,
		    (double)(o.rep.ended - o.rep.started) / 1e6,
		    o.rep.error[0] ? ": " : "", o.rep.error);
	else
		fprintf(o.json ? stderr : stdout,
		    "feed %s: %s: would store %llu objects (%llu new or "
		    "changed, %llu expired or revoked), %llu lines skipped, "
		    "%llu requests (%llu not modified); dry run: nothing "
		    "stored%s%s\n",
		    name, outcome_name(o.rep.outcome),
		    (unsigned long long)o.rep.objects,
		    (unsigned long long)o.shown_new,
		    (unsigned long long)o.shown_gone,
		    (unsigned long long)o.rep.line_errors,
		    (unsigned long long)o.rep.requests,
		    (unsigned long long)o.rep.not_modified,
		    o.rep.error[0] ? ": " : "", o.rep.error);
	rc = o.rep.outcome == FRUN_OK ? 0 : 1;
	pthread_mutex_destroy(&o.mu);
	pthread_cond_destroy(&o.cond);
	pthread_mutex_destroy(&gate.mu);
	store_close(st);
	conf_free(c);
	curl_global_cleanup();
	return rc;
}
