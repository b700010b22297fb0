/*
 * bench_ingest.c -- TAXII Add Objects throughput: C concurrent publishers
 * on HTTPS keep-alive connections post every envelope of a directory
 * (each answer is sent by the hub only after a durable commit), and the
 * figures are printed beside Jansson's parse rate for the same files on
 * this machine, measured first in the same run.  With BENCH_T0_FILE set,
 * the wall-clock time (CLOCK_REALTIME seconds) of the first post is written
 * there (the push benchmark's start).
 *
 * usage: bench_ingest -u URL -k CAFILE -a USER:PASS[,USER:PASS...]
 *            -d DIR [-c CONNECTIONS] [-p HUBPID] [-n MAXFILES]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench.h"

static struct bench_file *files;
static size_t nfiles;
static atomic_size_t next_file;
static const char *url, *cafile;
static char *users[64];
static int nusers;
static double *lat;
static atomic_size_t nlat, failures, objects_done;

static void *
publisher(void *arg)
{
	long id = (long)arg;
	struct curl_slist *h;
	CURL *c = bench_post_handle(url, cafile, users[id % nusers], &h);
	size_t i;

	while ((i = atomic_fetch_add(&next_file, 1)) < nfiles) {
		double t0 = bench_now();
		long code = 0;

		curl_easy_setopt(c, CURLOPT_POSTFIELDS, files[i].data);
		curl_easy_setopt(
		    c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)files[i].len);
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		lat[atomic_fetch_add(&nlat, 1)] = bench_now() - t0;
		if (code != 202)
			atomic_fetch_add(&failures, 1);
		else
			atomic_fetch_add(&objects_done, files[i].nobjects);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *dir = NULL;
	char *auth = NULL, *tok, *save = NULL;
	int conns = 4, pid = 0, ch;
	long maxfiles = 0;
	pthread_t th[256];
	size_t jobjs, i;
	double jrate, jmbps, t0, dt, rate, cpu0, cpu1;
	size_t bytes = 0;

	while ((ch = getopt(argc, argv, "u:k:a:d:c:p:n:")) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'k':
			cafile = optarg;
			break;
		case 'a':
			auth = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'c':
			conns = atoi(optarg);
			break;
		case 'p':
			pid = atoi(optarg);
			break;
		case 'n':
			maxfiles = atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: see the comment at the top\n");
			return 2;
		}
	}
	if (url == NULL || cafile == NULL || auth == NULL || dir == NULL ||
	    conns < 1 || conns > 256)
		return 2;
	for (tok = strtok_r(auth, ",", &save); tok != NULL && nusers < 64;
	     tok = strtok_r(NULL, ",", &save))
		users[nusers++] = tok;
	nfiles = bench_load_dir(dir, &files);
	if (maxfiles > 0 && (size_t)maxfiles < nfiles)
		nfiles = (size_t)maxfiles;
	for (i = 0; i < nfiles; i++)
		bytes += files[i].len;
	jrate = bench_jansson_rate(files, nfiles, &jmbps, &jobjs);
	printf("input: %zu envelopes, %zu objects, %.1f MB\n", nfiles, jobjs,
	    (double)bytes / 1e6);
	printf("jansson parse (json_loadb, 1 core, same files): %.0f "
	       "objects/s, %.1f MB/s\n",
	    jrate, jmbps);
	lat = calloc(nfiles + 1, sizeof(*lat));
	curl_global_init(CURL_GLOBAL_ALL);
	cpu0 = pid > 0 ? bench_proc_cpu(pid) : 0;
	t0 = bench_now();
	if (getenv("BENCH_T0_FILE") != NULL) {
		struct timespec ts;
		FILE *f = fopen(getenv("BENCH_T0_FILE"), "w");

		clock_gettime(CLOCK_REALTIME, &ts);
		if (f != NULL) {
			fprintf(f, "%lld.%09ld\n", (long long)ts.tv_sec,
			    ts.tv_nsec);
			fclose(f);
		}
	}
	for (i = 0; i < (size_t)conns; i++)
		pthread_create(&th[i], NULL, publisher, (void *)(long)i);
	for (i = 0; i < (size_t)conns; i++)
		pthread_join(th[i], NULL);
	dt = bench_now() - t0;
	cpu1 = pid > 0 ? bench_proc_cpu(pid) : 0;
	rate = (double)atomic_load(&objects_done) / dt;
	printf("ingest over HTTPS, %d publishers, keep-alive, durable 202s: "
	       "%.0f objects/s, %.1f requests/s (%.1f s)\n",
	    conns, rate, (double)nfiles / dt, dt);
	{
		/* this machine's speed drifts: measure Jansson again after
		 * the run and compare with the mean of the two */
		double j2 = bench_jansson_rate(files, nfiles, &jmbps, &jobjs);

		printf(
		    "jansson parse again after the run: %.0f objects/s\n", j2);
		jrate = (jrate + j2) / 2;
	}
	printf("ratio to the jansson parse rate (mean of before and after): "
	       "%.2f\n",
	    rate / jrate);
	printf("latency per envelope: p50 %.1f ms, p99 %.1f ms\n",
	    bench_pct(lat, nlat, 50) * 1000, bench_pct(lat, nlat, 99) * 1000);
	printf("failed requests: %zu\n", atomic_load(&failures));
	if (pid > 0)
		printf("daemon CPU: %.1f us per object, %.2f cores busy on "
		       "average\n",
		    (cpu1 - cpu0) * 1e6 / (double)atomic_load(&objects_done),
		    (cpu1 - cpu0) / dt);
	if (pid > 0)
		printf("daemon memory: peak RSS %.1f MB (VmHWM), now RSS %.1f "
		       "MB, private (RssAnon) %.1f MB\n",
		    bench_proc_kb(pid, "VmHWM") / 1024.0,
		    bench_proc_kb(pid, "VmRSS") / 1024.0,
		    bench_proc_kb(pid, "RssAnon") / 1024.0);
	curl_global_cleanup();
	return atomic_load(&failures) ? 1 : 0;
}
