/*
 * t_reload.c -- reloads under way: the evhttp limits of a new configuration
 * take effect (each worker applies them in its own thread), and a burst of
 * SIGHUPs while clients keep connecting loses no access-log line and
 * breaks no answer (the access log's descriptor is swapped in place, never
 * closed under a worker; the ThreadSanitizer build reports any race on it
 * and run.sh fails on any report).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "integ.h"

#define PW	":integ-pass-1"
#define ANCHOR	"json_max_depth 32"
#define NLOAD	4
#define NHUP	20
#define MAXREQS 20000

static const struct opts alice = {.user = "alice" PW};

/* Adds `line` after the anchor line of ctihub.conf (or takes it out) and
 * reloads; 0 once the reload is done. */
static int
conf_line(const char *line, int add)
{
	char path[1024], with[256];
	int done = log_count("configuration reloaded");

	snprintf(path, sizeof(path), "%s/ctihub.conf", env("HUB_DIR"));
	snprintf(with, sizeof(with), "%s\n%s", ANCHOR, line);
	if (file_replace(path, add ? ANCHOR : with, add ? with : ANCHOR) == -1)
		return -1;
	hub_signal(SIGHUP);
	return log_wait("configuration reloaded", done, 10);
}

static int
t_reload_limits(char *why, size_t whylen)
{
	static char hdr[100 * 1024 + 16];
	struct resp r;
	struct opts o = alice;
	int rc;

	memcpy(hdr, "X-Big: ", 7);
	memset(hdr + 7, 'a', 100 * 1024);
	hdr[7 + 100 * 1024] = '\0';
	o.header = hdr;
	o.fresh = 1;
	/* 100 KB of headers: past the default max_header_size (16k) and
	 * past evhttp's own cap, which the worker sets 64k above it */
	rc = http("GET", "/taxii2/", &o, &r);
	EXPECT(rc == -1 || r.code != 200, "a 100 KB header was taken");
	resp_free(&r);
	EXPECT(conf_line("max_header_size 256k", 1) == 0, "reload");
	/* a new connection gets the new limits */
	rc = http("GET", "/taxii2/", &o, &r);
	EXPECT(rc == 0 && r.code == 200,
	    "after max_header_size 256k and a reload: %s %ld %.200s",
	    rc ? r.ctype : "", r.code, r.body ? r.body : "");
	resp_free(&r);
	EXPECT(conf_line("max_header_size 256k", 0) == 0, "reload");
	return 0;
}

struct loader {
	pthread_t thread;
	int index;
	atomic_int *stop;
	int sent;
	int bad;
	char first_bad[512];
};

/* One client: GETs, every other one on a new connection (so descriptor
 * numbers come and go while the hub reloads).  With a bearer token: a
 * reload empties the password cache, and the load is not about that. */
static void *
load_main(void *arg)
{
	struct loader *l = arg;
	CURL *h = curl_easy_init();
	struct opts o = {.token = env("HUB_TOKEN_CAROL")};
	struct resp r;
	char path[64];

	snprintf(path, sizeof(path), "/taxii2/?hup=%d", l->index);
	while (!atomic_load(l->stop) && l->sent < MAXREQS) {
		o.fresh = l->sent % 2;
		if (http_on(h, "GET", path, &o, &r) != 0 || r.code != 200) {
			if (l->bad++ == 0)
				snprintf(l->first_bad, sizeof(l->first_bad),
				    "%.200s %ld %.100s", r.ctype, r.code,
				    r.body ? r.body : "");
		}
		resp_free(&r);
		l->sent++;
	}
	curl_easy_cleanup(h);
	return NULL;
}

/* Access-log lines of the loaders' requests. */
static int
alog_lines(void)
{
	char path[1024], line[4096];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/state/access.log", env("HUB_DIR"));
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, " carol GET /taxii2/?hup=") != NULL &&
		    strstr(line, " 200 ") != NULL)
			n++;
	fclose(f);
	return n;
}

static int
t_sighup_burst(char *why, size_t whylen)
{
	struct loader l[NLOAD];
	atomic_int stop = 0;
	int i, sent = 0, bad = 0, reloads = 0, before, lines;

	before = alog_lines();
	for (i = 0; i < NLOAD; i++) {
		memset(&l[i], 0, sizeof(l[i]));
		l[i].index = i;
		l[i].stop = &stop;
		if (pthread_create(&l[i].thread, NULL, load_main, &l[i]) != 0)
			FAIL("pthread_create");
	}
	for (i = 0; i < NHUP; i++) {
		int done = log_count("configuration reloaded");

		hub_signal(SIGHUP);
		if (log_wait("configuration reloaded", done, 10) == 0)
			reloads++;
		usleep(50000); /* the clients work between reloads too */
	}
	atomic_store(&stop, 1);
	for (i = 0; i < NLOAD; i++) {
		pthread_join(l[i].thread, NULL);
		sent += l[i].sent;
		bad += l[i].bad;
	}
	lines = alog_lines() - before;
	printf("# %d reloads while %d clients sent %d requests (half on new "
	       "connections): %d failed, %d access-log lines\n",
	    reloads, NLOAD, sent, bad, lines);
	EXPECT(reloads == NHUP, "%d of %d reloads done", reloads, NHUP);
	for (i = 0; i < NLOAD; i++)
		EXPECT(l[i].bad == 0,
		    "client %d: %d requests failed, first: %s", i, l[i].bad,
		    l[i].first_bad);
	EXPECT(lines == sent, "%d requests answered, %d access-log lines", sent,
	    lines);
	return 0;
}

const struct test reload_tests[] = {
    {"reload: new evhttp limits reach every worker", t_reload_limits},
    {"reload: a burst of SIGHUPs under load, access log whole", t_sighup_burst},
    {NULL, NULL},
};
