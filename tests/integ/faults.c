/*
 * faults.c -- the clients of the fault tests (tests/integ/faults.sh runs
 * them around the faults it makes: signals, a full file system, flipped
 * bytes, a killed reader).  Each is bounded in time and prints its
 * figures as TAP comments:
 *   --fault load SECS READY     publishers and readers on their own
 *       connections until the hub refuses connections (it was stopped)
 *       or SECS pass; touches READY after the first 202.  Fails when a
 *       request that was sent got no complete answer, or an answer other
 *       than 200, 202 or 503.
 *   --fault publish TAG N PER ACKED   posts N envelopes of PER objects
 *       (ids made of TAG) and writes "n status-id" of each 202 to ACKED;
 *       stops at the first other answer: exit 3 when it is a 507 TAXII
 *       error (the full-disk test), 1 when anything else.
 *   --fault audit ACKED FILE    every publish in ACKED has its record in
 *       the audit log FILE, and every line of FILE is whole JSON.
 *   --fault bundle FILE TAG N   writes a STIX bundle of N indicators.
 *   --fault hold-reader DBDIR READY   takes a reader slot of the database
 *       (a read transaction), touches READY and sleeps 30 s: killed with
 *       -9, it leaves a stale slot as a killed ctihub import does.
 *   --fault flip FILE SEED N    flips N random bytes of FILE (seeded).
 *   --fault snapshot REF        walks the objects, the manifest and each
 *       object of collection "any" and writes every object (canonical
 *       JSON) to REF, one a line.
 *   --fault check REF           the same walk against a damaged copy:
 *       every answer is a TAXII error or valid JSON whose objects are
 *       all in REF (no altered object is ever served).  Prints the
 *       numbers of answers by status.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <lmdb.h>

#include "ctihub/buf.h"

#include "integ.h"

#define OBJS "/api1/collections/any/objects/"

static const struct opts alice = {.user = "alice:integ-pass-1"};

static int cmp_str(const void *, const void *);

/* --- SIGTERM under load ------------------------------------------------- */

#define LOAD_POSTERS	4
#define LOAD_READERS	2
#define LOAD_PER_POST	50
#define LOAD_MAX_ERRORS 5

struct load {
	time_t end;
	const char *ready;
	atomic_int first; /* a 202 was seen */
	pthread_mutex_t lock;
	long ok2xx, ok503, bad, unanswered, refused, sent;
	char errors[LOAD_MAX_ERRORS][300];
	int nerrors;
};

struct loader {
	struct load *ld;
	int index;
	int post;
};

static void load_note(struct load *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
load_note(struct load *ld, const char *fmt, ...)
{
	va_list ap;

	if (ld->nerrors == LOAD_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(ld->errors[ld->nerrors++], sizeof(ld->errors[0]), fmt, ap);
	va_end(ap);
}

static void *
load_thread(void *arg)
{
	struct loader *lr = arg;
	struct load *ld = lr->ld;
	CURL *c = curl_easy_init();
	struct buf b = BUF_INIT;
	struct resp r;
	struct opts o = alice;
	unsigned n, k;
	char u[37], pat[96];

	for (n = 0; time(NULL) < ld->end; n++) {
		if (lr->post) {
			buf_reset(&b);
			buf_adds(&b, "{\"objects\":[");
			for (k = 0; k < LOAD_PER_POST; k++) {
				snprintf(u, sizeof(u),
				    "5e%06x-%04x-4000-8000-%04x%08x",
				    (unsigned)getpid() & 0xffffff, k,
				    (unsigned)lr->index, n);
				snprintf(pat, sizeof(pat),
				    "[ipv4-addr:value = '10.%u.%u.%u']",
				    (unsigned)lr->index, n % 256, k % 256);
				if (k)
					buf_addc(&b, ',');
				integ_indicator(
				    &b, u, "2024-03-01T00:00:00.000Z", pat);
			}
			buf_adds(&b, "]}");
			o.body = buf_cstr(&b);
			o.bodylen = b.len;
			http_on(c, "POST", OBJS, &o, &r);
		} else
			http_on(c, "GET", OBJS "?limit=200", &alice, &r);
		pthread_mutex_lock(&ld->lock);
		if ((r.err == CURLE_COULDNT_CONNECT ||
			r.err == CURLE_SSL_CONNECT_ERROR) &&
		    r.sent == 0) {
			/* refused, or closed before TLS was up: the
			 * request was never sent (curl retries a request
			 * sent on a connection that died on a new one:
			 * then r.sent counts the first try) */
			ld->refused++;
			pthread_mutex_unlock(&ld->lock);
			resp_free(&r);
			break;
		}
		ld->sent++;
		if (r.err != 0) {
			ld->unanswered++;
			load_note(ld,
			    "%s request %u of thread %d: no answer (%s)",
			    lr->post ? "POST" : "GET", n, lr->index, r.ctype);
		} else if (r.code == 200 || r.code == 202) {
			ld->ok2xx++;
			if (r.code == 202 && !atomic_exchange(&ld->first, 1))
				file_write(ld->ready, "ready\n");
		} else if (r.code == 503 && r.json != NULL) {
			ld->ok503++;
		} else {
			ld->bad++;
			load_note(ld, "%s request %u: status %ld: %.200s",
			    lr->post ? "POST" : "GET", n, r.code,
			    r.body ? r.body : "");
		}
		pthread_mutex_unlock(&ld->lock);
		resp_free(&r);
	}
	buf_clear(&b);
	curl_easy_cleanup(c);
	return NULL;
}

static int
fault_load(int secs, const char *ready)
{
	struct load ld;
	struct loader lr[LOAD_POSTERS + LOAD_READERS];
	pthread_t th[LOAD_POSTERS + LOAD_READERS];
	int i, n = LOAD_POSTERS + LOAD_READERS;

	memset(&ld, 0, sizeof(ld));
	ld.end = time(NULL) + secs;
	ld.ready = ready;
	pthread_mutex_init(&ld.lock, NULL);
	for (i = 0; i < n; i++) {
		lr[i].ld = &ld;
		lr[i].index = i;
		lr[i].post = i < LOAD_POSTERS;
		if (pthread_create(&th[i], NULL, load_thread, &lr[i]) != 0)
			return 2;
	}
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	printf("# load: %ld requests sent: %ld answered 200/202, %ld answered "
	       "503, %ld other answers, %ld without an answer; %ld "
	       "connections refused\n",
	    ld.sent, ld.ok2xx, ld.ok503, ld.bad, ld.unanswered, ld.refused);
	for (i = 0; i < ld.nerrors; i++)
		printf("# load: %s\n", ld.errors[i]);
	pthread_mutex_destroy(&ld.lock);
	if (ld.ok2xx == 0)
		return 1;
	return ld.unanswered == 0 && ld.bad == 0 ? 0 : 1;
}

/* --- publishing a known set ---------------------------------------------- */

void
integ_envelope(struct buf *b, unsigned tag, unsigned n, unsigned per)
{
	char u[37], pat[96];
	unsigned k;

	buf_reset(b);
	buf_adds(b, "{\"objects\":[");
	for (k = 0; k < per; k++) {
		snprintf(u, sizeof(u), "%08x-%04x-4000-8000-%012x", tag,
		    n & 0xffff, k & 0xffffff);
		snprintf(pat, sizeof(pat), "[ipv4-addr:value = '10.%u.%u.%u']",
		    tag % 256, n % 256, k % 256);
		if (k)
			buf_addc(b, ',');
		integ_indicator(b, u, "2024-03-01T00:00:00.000Z", pat);
	}
	buf_adds(b, "]}");
}

/*
 * Posts envelopes of `per` objects until one is not acknowledged or `n`
 * were; writes "NUMBER STATUS-ID" of each acknowledged one to ACKED.
 * Prints the answer that stopped it.  Exit 0 when all n were acked, 3
 * when one was refused with a TAXII error (its status in the comment).
 */
static int
fault_publish(unsigned tag, unsigned n, unsigned per, const char *acked)
{
	struct buf b = BUF_INIT;
	struct opts o = alice;
	struct resp r;
	FILE *f = fopen(acked, "w");
	unsigned i;
	int rc = 0;

	if (f == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		integ_envelope(&b, tag, i, per);
		o.body = buf_cstr(&b);
		o.bodylen = b.len;
		if (http("POST", OBJS, &o, &r) == 0 && r.code == 202) {
			fprintf(f, "%u %s\n", i,
			    json_string_value(json_object_get(r.json, "id")));
			fflush(f);
			resp_free(&r);
			continue;
		}
		printf("# publish: envelope %u: status %ld (%s), %s: %.300s\n",
		    i, r.code, r.ctype,
		    r.json != NULL && json_object_get(r.json, "http_status")
			? "a TAXII error"
			: "NOT a TAXII error",
		    r.body ? r.body : "");
		rc = r.json != NULL && json_object_get(r.json, "http_status") &&
			strncmp(r.ctype, "application/taxii+json", 22) == 0
		    ? 3
		    : 1;
		if (r.code != 507)
			rc = 1;
		resp_free(&r);
		break;
	}
	printf("# publish: %u envelopes of %u objects acknowledged\n", i, per);
	fclose(f);
	buf_clear(&b);
	return rc;
}

/*
 * Every publish acknowledged (ACKED: "n status-id" lines) has its record
 * in the audit log, whose every line is whole JSON.
 */
static int
fault_audit(const char *acked, const char *audit)
{
	char buf[1 << 12], *line = buf, **want = NULL, *seen, *big = NULL;
	size_t bigcap = 0;
	size_t nwant = 0, cap = 0, i, found = 0;
	long lines = 0, bad = 0;
	FILE *f;

	if ((f = fopen(acked, "r")) == NULL)
		return 2;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		char *id = strchr(buf, ' ');

		if (id == NULL)
			continue;
		id[strcspn(id, "\n")] = '\0';
		if (nwant == cap) {
			cap = cap ? cap * 2 : 256;
			want = realloc(want, cap * sizeof(*want));
		}
		want[nwant++] = strdup(id + 1);
	}
	fclose(f);
	qsort(want, nwant, sizeof(*want), cmp_str);
	if ((seen = calloc(nwant + 1, 1)) == NULL ||
	    (f = fopen(audit, "r")) == NULL)
		return 1;
	/* lines of any length: a publish record lists every id */
	while (getline(&big, &bigcap, f) != -1) {
		json_t *j = json_loads(line = big, 0, NULL);
		const char *ev = json_string_value(json_object_get(j, "event"));
		const char *st =
		    json_string_value(json_object_get(j, "status"));
		char **hit;

		lines++;
		if (j == NULL || strchr(line, '\n') == NULL) {
			bad++;
			printf("# audit: line %ld is not whole JSON: %.120s\n",
			    lines, line);
		}
		if (ev != NULL && strcmp(ev, "publish") == 0 && st != NULL &&
		    (hit = bsearch(&st, want, nwant, sizeof(*want), cmp_str)) !=
			NULL &&
		    !seen[hit - want]) {
			seen[hit - want] = 1;
			found++;
		}
		json_decref(j);
	}
	fclose(f);
	free(big);
	printf("# audit: %zu of %zu acknowledged publishes have their record "
	       "(%ld lines, %ld not whole JSON)\n",
	    found, nwant, lines, bad);
	for (i = 0; i < nwant; i++)
		free(want[i]);
	free(want);
	free(seen);
	return found == nwant && bad == 0 && nwant > 0 ? 0 : 1;
}

/* --- the map and reader slots ------------------------------------------- */

/* A STIX bundle of n indicators (tag in their ids) for ctihub import. */
static int
fault_bundle(const char *file, unsigned tag, unsigned n)
{
	struct buf b = BUF_INIT;
	FILE *f = fopen(file, "w");
	unsigned i;

	if (f == NULL)
		return 2;
	fputs("{\"type\":\"bundle\",\"id\":\"bundle--"
	      "4b2f8a4e-0000-4000-8000-000000000000\",\"objects\":[",
	    f);
	for (i = 0; i < n; i += 100) {
		integ_envelope(&b, tag, i / 100, 100);
		/* the objects of the envelope, without {"objects":[ ]} */
		fprintf(
		    f, "%s%.*s", i ? "," : "", (int)(b.len - 14), b.data + 12);
	}
	fputs("]}\n", f);
	buf_clear(&b);
	return fclose(f) == 0 ? 0 : 2;
}

/* Holds a read transaction (a reader slot) on the database in dir, as a
 * process that dies with one would; touches READY, then sleeps. */
static int
fault_hold_reader(const char *dir, const char *ready)
{
	MDB_env *env;
	MDB_txn *txn;

	if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 16) != 0 ||
	    mdb_env_set_maxreaders(env, 512) != 0 ||
	    mdb_env_open(env, dir, MDB_NOTLS | MDB_RDONLY, 0600) != 0 ||
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
		return 2;
	file_write(ready, "ready\n");
	sleep(30);
	return 0;
}

/* --- a damaged database ------------------------------------------------- */

#define WALK_PAGES 100
#define WALK_IDS   60

static int
fault_flip(const char *file, unsigned seed, int n)
{
	struct stat sb;
	unsigned char c;
	off_t at;
	int fd, i;

	if ((fd = open(file, O_RDWR)) == -1 || fstat(fd, &sb) == -1 ||
	    sb.st_size == 0)
		return 2;
	srand(seed);
	printf("# flipped bytes at");
	for (i = 0; i < n; i++) {
		at = (off_t)(((unsigned long long)rand() << 16 ^
				 (unsigned long long)rand()) %
		    (unsigned long long)sb.st_size);
		if (pread(fd, &c, 1, at) != 1)
			return 2;
		c ^= (unsigned char)(1u << (rand() % 8));
		if (pwrite(fd, &c, 1, at) != 1)
			return 2;
		printf(" %lld", (long long)at);
	}
	printf("\n");
	close(fd);
	return 0;
}

struct walk {
	FILE *ref;    /* snapshot: written */
	char **known; /* check: the reference, sorted */
	size_t nknown;
	long ok, errors, altered, invalid, objects;
	char ids[WALK_IDS][128];
	int nids;
	char first[300];
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
walk_note(struct walk *wk, const char *what, const char *path, long code)
{
	if (wk->first[0] == '\0')
		snprintf(wk->first, sizeof(wk->first), "%s (%s: %ld)", what,
		    path, code);
}

/* One object as served: recorded, or looked up in the reference. */
static void
walk_object(struct walk *wk, json_t *o, const char *path)
{
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	const char *id = json_string_value(json_object_get(o, "id"));

	if (text == NULL)
		return;
	wk->objects++;
	if (wk->ref != NULL) {
		fprintf(wk->ref, "%s\n", text);
		if (id != NULL && wk->nids < WALK_IDS &&
		    strncmp(id, "indicator--", 11) == 0)
			snprintf(
			    wk->ids[wk->nids++], sizeof(wk->ids[0]), "%s", id);
	} else if (bsearch(&text, wk->known, wk->nknown, sizeof(char *),
		       cmp_str) == NULL) {
		wk->altered++;
		walk_note(
		    wk, "an object not as published was served", path, 200);
	}
	free(text);
}

/* One answer: a TAXII error, or valid JSON (its objects checked). */
static json_t *
walk_get(struct walk *wk, const char *path)
{
	static const struct opts reader = {.user = "alice:integ-pass-1"};
	struct resp r;
	json_t *j = NULL, *a, *o;
	size_t i;

	if (http("GET", path, &reader, &r) != 0) {
		wk->errors++;
		walk_note(wk, "no answer", path, 0);
		return NULL;
	}
	if (r.code == 200 && r.json != NULL) {
		wk->ok++;
		a = json_object_get(r.json, "objects");
		json_array_foreach(a, i, o)
		{
			if (json_object_get(o, "type") != NULL)
				walk_object(wk, o, path);
		}
		j = json_incref(r.json);
	} else if (r.code >= 400 && r.json != NULL &&
	    json_object_get(r.json, "http_status") != NULL)
		wk->errors++; /* a TAXII error: refused, not served */
	else {
		wk->invalid++;
		walk_note(wk,
		    "an answer that is neither valid JSON nor a TAXII "
		    "error",
		    path, r.code);
	}
	resp_free(&r);
	return j;
}

/* The objects of collection "any" page by page, then the manifest, then
 * objects one by one. */
static void
walk_all(struct walk *wk)
{
	char path[1024];
	const char *next = NULL;
	json_t *j = NULL;
	int p, i;

	for (p = 0; p < WALK_PAGES; p++) {
		if (next == NULL)
			snprintf(path, sizeof(path), "%s?limit=50", OBJS);
		else
			snprintf(path, sizeof(path), "%s?limit=50&next=%s",
			    OBJS, next);
		json_decref(j);
		if ((j = walk_get(wk, path)) == NULL ||
		    !json_is_true(json_object_get(j, "more")))
			break;
		next = json_string_value(json_object_get(j, "next"));
		if (next == NULL)
			break;
	}
	json_decref(j);
	json_decref(walk_get(wk, "/api1/collections/any/manifest/?limit=1000"));
	for (i = 0; i < wk->nids; i++) {
		snprintf(path, sizeof(path), "%s%s/", OBJS, wk->ids[i]);
		json_decref(walk_get(wk, path));
	}
}

static int
fault_snapshot(const char *ref)
{
	struct walk wk;
	char path[1024];
	FILE *f;
	int i;

	memset(&wk, 0, sizeof(wk));
	if ((wk.ref = fopen(ref, "w")) == NULL)
		return 2;
	walk_all(&wk);
	fclose(wk.ref);
	/* the ids to ask for one by one, for check */
	snprintf(path, sizeof(path), "%s.ids", ref);
	if ((f = fopen(path, "w")) == NULL)
		return 2;
	for (i = 0; i < wk.nids; i++)
		fprintf(f, "%s\n", wk.ids[i]);
	fclose(f);
	printf(
	    "# snapshot: %ld objects served, %ld answers\n", wk.objects, wk.ok);
	return wk.objects > 0 && wk.errors == 0 && wk.invalid == 0 ? 0 : 1;
}

static int
fault_check(const char *ref)
{
	struct walk wk;
	char line[65536], path[1024];
	FILE *f;
	size_t cap = 0, i;

	memset(&wk, 0, sizeof(wk));
	if ((f = fopen(ref, "r")) == NULL)
		return 2;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (wk.nknown == cap) {
			cap = cap ? cap * 2 : 256;
			wk.known = realloc(wk.known, cap * sizeof(char *));
		}
		wk.known[wk.nknown++] = strdup(line);
	}
	fclose(f);
	qsort(wk.known, wk.nknown, sizeof(char *), cmp_str);
	snprintf(path, sizeof(path), "%s.ids", ref);
	if ((f = fopen(path, "r")) != NULL) {
		while (wk.nids < WALK_IDS &&
		    fgets(wk.ids[wk.nids], sizeof(wk.ids[0]), f) != NULL) {
			wk.ids[wk.nids][strcspn(wk.ids[wk.nids], "\n")] = '\0';
			wk.nids++;
		}
		fclose(f);
	}
	walk_all(&wk);
	printf("# check: %ld answers with %ld objects, %ld refused (TAXII "
	       "errors), %ld altered objects, %ld invalid answers%s%s\n",
	    wk.ok, wk.objects, wk.errors, wk.altered, wk.invalid,
	    wk.first[0] ? "; first: " : "", wk.first);
	for (i = 0; i < wk.nknown; i++)
		free(wk.known[i]);
	free(wk.known);
	return wk.altered == 0 && wk.invalid == 0 ? 0 : 1;
}

int
faults_main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[2], "load") == 0)
		return fault_load(atoi(argv[3]), argv[4]);
	if (argc == 6 && strcmp(argv[2], "flip") == 0)
		return fault_flip(
		    argv[3], (unsigned)atoi(argv[4]), atoi(argv[5]));
	if (argc == 7 && strcmp(argv[2], "publish") == 0)
		return fault_publish((unsigned)strtoul(argv[3], NULL, 16),
		    (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]), argv[6]);
	if (argc == 4 && strcmp(argv[2], "snapshot") == 0)
		return fault_snapshot(argv[3]);
	if (argc == 5 && strcmp(argv[2], "audit") == 0)
		return fault_audit(argv[3], argv[4]);
	if (argc == 6 && strcmp(argv[2], "bundle") == 0)
		return fault_bundle(argv[3],
		    (unsigned)strtoul(argv[4], NULL, 16),
		    (unsigned)atoi(argv[5]));
	if (argc == 5 && strcmp(argv[2], "hold-reader") == 0)
		return fault_hold_reader(argv[3], argv[4]);
	if (argc == 4 && strcmp(argv[2], "check") == 0)
		return fault_check(argv[3]);
	fprintf(stderr,
	    "usage: integ_client --fault load SECS READY | flip FILE SEED N | "
	    "publish TAG N PER ACKED | audit ACKED FILE | bundle FILE TAG N | "
	    "hold-reader DBDIR READY | snapshot REF | check REF\n");
	return 2;
}
