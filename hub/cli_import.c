/*
 * cli_import.c -- ctihub import: loads STIX bundles or TAXII envelopes
 * from files (hundreds of MB are fine: files are mapped, not read into
 * memory, and processed in batches) into a collection, on behalf of a
 * member.  Objects go through the same ingest pipeline as TAXII posts
 * (pipeline.h): parsed on one thread per CPU, committed in groups.  Shows
 * progress on a terminal and ends with a summary: stored, duplicate,
 * rejected (with reasons).  Safe while ctihubd runs: LMDB serialises the
 * two writers.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/ingest.h"
#include "ctihub/log.h"
#include "ctihub/store.h"
#include "ctihub/tstamp.h"
#include "ctihub/workq.h"

#include "cli.h"
#include "hub.h"
#include "pipeline.h"
#include "writer.h"

#define BATCH	   20000 /* objects per batch */
#define IN_FLIGHT  4	 /* batches parsed or waiting for the writer */
#define MAX_REASON 64

struct reason {
	char rule[48];
	size_t count;
	char example[400]; /* the first object rejected for it */
};

struct import {
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;
	struct pipeline *pl;
	uint32_t coll, producer;
	int max_depth;
	int index_obs;
	int max_obs;
	int failed;	   /* a batch could not be stored */
	int file_done;	   /* the current file is through the pipeline */
	size_t file_total; /* its objects */
	struct ingest_counts total;
	size_t done;
	struct reason reasons[MAX_REASON];
	int nreasons;
};

/* The rule name of the first finding: "...[rule]..." */
static void
first_rule(const char *msg, char *out, size_t len)
{
	const char *lb = msg ? strchr(msg, '[') : NULL, *rb;

	if (lb == NULL || (rb = strchr(lb, ']')) == NULL) {
		snprintf(out, len, "other");
		return;
	}
	snprintf(out, len, "%.*s", (int)(rb - lb - 1), lb + 1);
}

static void
tally(struct import *im, const struct ingest_batch *b)
{
	struct ingest_counts c;
	size_t i;
	int k;

	ingest_count(b, &c);
	im->total.stored += c.stored;
	im->total.linked += c.linked;
	im->total.duplicate += c.duplicate;
	im->total.rejected += c.rejected;
	im->total.warned += c.warned;
	im->done += b->n;
	for (i = 0; i < b->n; i++) {
		const struct ingest_meta *m = &b->meta[i];
		char rule[48];

		if (m->ok && !ingest_refused(&b->objs[i]))
			continue;
		if (m->ok)
			snprintf(rule, sizeof(rule), "%s",
			    b->objs[i].result == STORE_OWNED
				? "ownership"
				: "too-many-versions");
		else
			first_rule(m->msg, rule, sizeof(rule));
		for (k = 0; k < im->nreasons; k++)
			if (strcmp(im->reasons[k].rule, rule) == 0)
				break;
		if (k == im->nreasons) {
			if (k == MAX_REASON)
				continue;
			im->nreasons++;
			snprintf(im->reasons[k].rule,
			    sizeof(im->reasons[k].rule), "%s", rule);
			snprintf(im->reasons[k].example,
			    sizeof(im->reasons[k].example), "%s: %s", m->id,
			    m->msg ? m->msg : "refused by the store");
		}
		im->reasons[k].count++;
	}
}

/* In the writer thread, after each batch's commit. */
static void
batch_done(const struct ingest_batch *b, int rc, void *arg)
{
	struct import *im = arg;

	pthread_mutex_lock(&im->lock);
	im->file_total = b->d->doc.nobjects;
	if (rc != STORE_OK)
		im->failed = rc;
	else
		tally(im, b);
	pthread_cond_signal(&im->cond);
	pthread_mutex_unlock(&im->lock);
}

static void
file_done(int rc, void *arg)
{
	struct import *im = arg;

	pthread_mutex_lock(&im->lock);
	if (rc != STORE_OK && im->failed == 0)
		im->failed = rc;
	im->file_done = 1;
	pthread_cond_signal(&im->cond);
	pthread_mutex_unlock(&im->lock);
}

static void
progress(
    struct import *im, const char *file, size_t total, double t0, int final)
{
	double dt = (double)(tstamp_now() - (int64_t)t0) / 1e6;

	fprintf(stderr, "\r%s: %zu/%zu objects (%.0f%%), %.0f objects/s%s",
	    file, im->done, total,
	    total ? 100.0 * (double)im->done / (double)total : 100.0,
	    dt > 0 ? (double)im->done / dt : 0.0, final ? "\n" : "   ");
}

static int
import_file(struct import *im, const char *path, int tty)
{
	struct pipe_params p;
	struct stat st;
	char err[512];
	void *map;
	int fd;
	size_t before = im->done;
	double t0 = (double)tstamp_now();

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		fprintf(
		    stderr, "ctihub import: %s: %s\n", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		fprintf(stderr, "ctihub import: %s: empty file\n", path);
		close(fd);
		return -1;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		fprintf(
		    stderr, "ctihub import: %s: %s\n", path, strerror(errno));
		return -1;
	}
	madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
	memset(&p, 0, sizeof(p));
	p.coll = im->coll;
	p.producer = im->producer;
	p.max_objects = SIZE_MAX;
	p.max_depth = im->max_depth;
	p.index_obs = im->index_obs;
	p.max_obs = im->max_obs;
	p.batch = BATCH;
	p.in_flight = IN_FLIGHT;
	p.batch_done = batch_done;
	p.doc_done = file_done;
	p.arg = im;
	im->file_done = 0;
	im->file_total = 0;
	if (pipe_start(im->pl, map, (size_t)st.st_size, &p, err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "ctihub import: %s: %s\n", path, err);
		munmap(map, (size_t)st.st_size);
		return -1;
	}
	pthread_mutex_lock(&im->lock);
	while (!im->file_done) {
		pthread_cond_wait(&im->cond, &im->lock);
		if (tty)
			progress(im, path, before + im->file_total, t0, 0);
	}
	if (tty)
		progress(im, path, before + im->file_total, t0, 1);
	pthread_mutex_unlock(&im->lock);
	munmap(map, (size_t)st.st_size);
	return 0;
}

static const struct conf_collection *
find_collection(const struct conf *c, const char *id)
{
	const struct conf_collection *found = NULL, *k;
	int i;

	for (i = 0; i < c->nroots; i++)
		if ((k = conf_coll_find(&c->roots[i], id, strlen(id))) !=
		    NULL) {
			if (found != NULL && found != k) {
				fprintf(stderr,
				    "ctihub import: alias '%s' is used in "
				    "several API roots: give the collection "
				    "id\n",
				    id);
				return NULL;
			}
			found = k;
		}
	if (found == NULL)
		fprintf(stderr, "ctihub import: no collection '%s' in %s\n", id,
		    c->file);
	return found;
}

int
cmd_import(int argc, char **argv)
{
	const char *as = NULL, *collid = NULL, *conf_path = NULL;
	const char *files[1024];
	const struct conf_collection *k;
	const struct member *m;
	struct cfg_errs errs;
	struct conf *c = NULL;
	struct store *st = NULL;
	struct writer *writer;
	struct workq *pool;
	struct import im;
	char err[512], *dbdir = NULL;
	int i, nfiles = 0, rc = 0, quiet = 0, tty, r;
	double t0, dt;
	long ncpu;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--as") == 0 && i + 1 < argc)
			as = argv[++i];
		else if (strcmp(argv[i], "--collection") == 0 && i + 1 < argc)
			collid = argv[++i];
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf_path = argv[++i];
		else if (strcmp(argv[i], "-q") == 0 ||
		    strcmp(argv[i], "--quiet") == 0)
			quiet = 1;
		else if (argv[i][0] == '-' || nfiles == 1024)
			goto usage;
		else
			files[nfiles++] = argv[i];
	}
	if (as == NULL || collid == NULL || nfiles == 0)
		goto usage;
	memset(&errs, 0, sizeof(errs));
	if (conf_load(conf_path ? conf_path : "/etc/ctihub/ctihub.conf", &c,
		&errs) == -1) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i]);
		cfg_errs_clear(&errs);
		return 2;
	}
	if ((m = members_find(c->members, as)) == NULL) {
		fprintf(stderr, "ctihub import: no member '%s' in %s\n", as,
		    c->members->file);
		conf_free(c);
		return 2;
	}
	if ((k = find_collection(c, collid)) == NULL) {
		conf_free(c);
		return 2;
	}
	if (!acl_allows(&k->write, m))
		fprintf(stderr,
		    "ctihub import: note: %s may not add to %s over TAXII; "
		    "importing on its behalf anyway\n",
		    m->id, k->id);
	if (mkdir(c->state_dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "ctihub import: %s: %s\n", c->state_dir,
		    strerror(errno));
		conf_free(c);
		return 1;
	}
	dbdir = cfg_path(c->state_dir, "db");
	if (dbdir == NULL ||
	    (r = store_open(&st, dbdir, c->map_size, err, sizeof(err))) !=
		STORE_OK) {
		fprintf(
		    stderr, "ctihub import: %s\n", dbdir ? err : "no memory");
		hub_free(dbdir);
		conf_free(c);
		return 1;
	}
	hub_free(dbdir);
	store_set_map_max(st, c->map_max);
	if (runtime_bind(c, st) == -1) {
		store_close(st);
		conf_free(c);
		return 1;
	}
	memset(&im, 0, sizeof(im));
	pthread_mutex_init(&im.lock, NULL);
	pthread_cond_init(&im.cond, NULL);
	im.coll = k->code;
	im.producer = m->code;
	im.max_depth = (int)c->json_max_depth;
	im.index_obs = c->index_observables;
	im.max_obs = (int)c->max_observables;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if ((writer = writer_start(st, 0)) == NULL ||
	    (pool = workq_new(ncpu > 0 ? (int)ncpu : 1, "parse", 0)) == NULL ||
	    (im.pl = pipe_new(pool, writer, st)) == NULL)
		fatalx("cannot start threads");
	tty = !quiet && isatty(STDERR_FILENO);
	t0 = (double)tstamp_now();
	for (i = 0; i < nfiles; i++)
		if (import_file(&im, files[i], tty) == -1)
			rc = 1;
	workq_free(pool);
	pipe_free(im.pl);
	writer_stop(writer);
	dt = ((double)tstamp_now() - t0) / 1e6;
	if (im.failed) {
		fprintf(stderr,
		    "ctihub import: the database refused a batch "
		    "(%s); that batch was not stored\n",
		    im.failed == STORE_EFULL ? "database full: raise map_max"
			: im.failed == STORE_EDISK
			? "the disk is full or failing"
			: "see the messages above");
		rc = 1;
	}
	printf("imported %zu objects from %d file%s into %s as %s in %.1f s "
	       "(%.0f objects/s)\n",
	    im.done, nfiles, nfiles == 1 ? "" : "s", k->id, m->id, dt,
	    dt > 0 ? (double)im.done / dt : 0.0);
	printf("  stored %zu new, %zu already stored (added to this "
	       "collection), %zu duplicate, %zu rejected, %zu with warnings\n",
	    im.total.stored, im.total.linked, im.total.duplicate,
	    im.total.rejected, im.total.warned);
	for (i = 0; i < im.nreasons; i++)
		printf("  rejected %zu for %s, e.g. %s\n", im.reasons[i].count,
		    im.reasons[i].rule, im.reasons[i].example);
	store_close(st);
	conf_free(c);
	pthread_mutex_destroy(&im.lock);
	pthread_cond_destroy(&im.cond);
	return rc;
usage:
	fprintf(stderr,
	    "usage: ctihub import FILE... --as MEMBER "
	    "--collection ID [-c ctihub.conf] [--quiet]\n");
	return 2;
}
