/*
 * load_ingest.c -- the publishing side of the ingest load tests
 * (tests/load/t_ingest.sh): posts generated envelopes over HTTPS with
 * libcurl and prints what came back.  Bounded: every mode stops after a
 * count of requests or a number of seconds.
 *
 * usage: load_ingest -u URL -k CAFILE -a USER:PASS [-c CONNECTIONS] MODE
 *   publish -n OBJECTS -t SECONDS [-e ENVELOPES]
 *                                   each connection posts fresh envelopes
 *                                   of OBJECTS indicators until SECONDS
 *                                   have passed (or it posted ENVELOPES);
 *                                   prints objects/s
 *   tiny -s BYTES                   each connection posts, all at once, one
 *                                   envelope of BYTES of tiny objects whose
 *                                   last byte is malformed; prints codes
 *   valid -s BYTES -n OBJECTS       each connection posts one envelope of
 *                                   OBJECTS indicators padded to BYTES
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../bench/bench.h"

static const char *url, *cafile, *user;
static size_t nobjects, size;
static double seconds;
static long maxenv;
static atomic_size_t objects_done, requests, failures, seq;
static atomic_long codes[600];
static double *lat;
static atomic_size_t nlat;
static size_t maxlat;

/* A fresh envelope of n indicators, each padded with `pad` bytes of
 * description; caller frees. */
static char *
envelope(size_t n, size_t pad, size_t *len)
{
	size_t cap = 64 + n * (420 + pad), o, i;
	char *b = malloc(cap);

	if (b == NULL)
		return NULL;
	o = (size_t)snprintf(b, cap, "{\"objects\":[");
	for (i = 0; i < n; i++) {
		size_t s = atomic_fetch_add(&seq, 1);
		unsigned long r = (unsigned long)rand();

		o += (size_t)snprintf(b + o, cap - o,
		    "%s{\"type\":\"indicator\",\"spec_version\":\"2.1\","
		    "\"id\":\"indicator--%08lx-%04zx-4000-8000-%012zx\","
		    "\"created\":\"2024-01-01T00:00:00.000Z\","
		    "\"modified\":\"2024-01-01T00:00:00.000Z\","
		    "\"name\":\"load\",\"pattern_type\":\"stix\","
		    "\"pattern\":\"[ipv4-addr:value = '10.%zu.%zu.%zu']\","
		    "\"valid_from\":\"2024-01-01T00:00:00Z\","
		    "\"description\":\"",
		    i ? "," : "", r & 0xffffffffUL, (size_t)getpid() & 0xffff,
		    s, (s >> 16) & 255, (s >> 8) & 255, s & 255);
		memset(b + o, 'x', pad);
		o += pad;
		o += (size_t)snprintf(b + o, cap - o, "\"}");
	}
	o += (size_t)snprintf(b + o, cap - o, "]}");
	*len = o;
	return b;
}

/* BYTES of tiny objects, the last byte malformed ('}' becomes ','). */
static char *
tiny(size_t bytes, size_t *len)
{
	static const char one[] = "{\"type\":\"x-t\",\"id\":\"x-t--1\"}";
	size_t o, k = sizeof(one) - 1;
	char *b = malloc(bytes + k + 16);

	if (b == NULL)
		return NULL;
	o = (size_t)sprintf(b, "{\"objects\":[");
	while (o + k + 3 < bytes) {
		memcpy(b + o, one, k);
		o += k;
		b[o++] = ',';
	}
	memcpy(b + o, one, k);
	o += k;
	b[o++] = ']';
	b[o++] = ','; /* should be '}' */
	*len = o;
	return b;
}

static long
post(CURL *c, const char *body, size_t len)
{
	double t0 = bench_now();
	long code = 0;
	size_t k;

	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if ((k = atomic_fetch_add(&nlat, 1)) < maxlat)
		lat[k] = bench_now() - t0;
	atomic_fetch_add(&requests, 1);
	atomic_fetch_add(&codes[code >= 0 && code < 600 ? code : 0], 1);
	return code;
}

static const char *mode;
static pthread_barrier_t start;

static void *
conn(void *arg)
{
	struct curl_slist *h;
	CURL *c = bench_post_handle(url, cafile, user, &h);
	char *body;
	size_t len;
	double t0;
	long k;

	(void)arg;
	if (strcmp(mode, "publish") == 0) {
		pthread_barrier_wait(&start);
		t0 = bench_now();
		for (k = 0;
		     bench_now() - t0 < seconds && (maxenv == 0 || k < maxenv);
		     k++) {
			if ((body = envelope(nobjects, 0, &len)) == NULL)
				break;
			if (post(c, body, len) == 202)
				atomic_fetch_add(&objects_done, nobjects);
			else
				atomic_fetch_add(&failures, 1);
			free(body);
		}
	} else {
		size_t pad = 0;

		if (strcmp(mode, "valid") == 0 && nobjects > 0 &&
		    size / nobjects > 420)
			pad = size / nobjects - 420;
		body = strcmp(mode, "tiny") == 0
		    ? tiny(size, &len)
		    : envelope(nobjects, pad, &len);
		pthread_barrier_wait(&start);
		if (body != NULL)
			post(c, body, len);
		free(body);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

int
main(int argc, char **argv)
{
	int conns = 1, ch, i;
	pthread_t th[64];
	double t0, dt;

	while ((ch = getopt(argc, argv, "u:k:a:c:e:n:s:t:")) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'k':
			cafile = optarg;
			break;
		case 'a':
			user = optarg;
			break;
		case 'c':
			conns = atoi(optarg);
			break;
		case 'e':
			maxenv = atol(optarg);
			break;
		case 'n':
			nobjects = (size_t)atol(optarg);
			break;
		case 's':
			size = (size_t)atol(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || url == NULL || cafile == NULL ||
	    user == NULL || conns < 1 || conns > 64)
		goto usage;
	mode = argv[optind];
	if ((strcmp(mode, "publish") == 0 &&
		(nobjects == 0 || seconds <= 0 || seconds > 600)) ||
	    (strcmp(mode, "tiny") == 0 && size < 64) ||
	    (strcmp(mode, "valid") == 0 && nobjects == 0) ||
	    (strcmp(mode, "publish") && strcmp(mode, "tiny") &&
		strcmp(mode, "valid")))
		goto usage;
	maxlat = 100000;
	lat = calloc(maxlat, sizeof(*lat));
	curl_global_init(CURL_GLOBAL_ALL);
	pthread_barrier_init(&start, NULL, (unsigned)conns);
	t0 = bench_now();
	for (i = 0; i < conns; i++)
		pthread_create(&th[i], NULL, conn, NULL);
	for (i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	dt = bench_now() - t0;
	if (strcmp(mode, "publish") == 0)
		printf("published %zu objects in %zu envelopes of %zu "
		       "(%d connections, %.1f s): %.0f objects/s, p50 %.1f "
		       "ms, p99 %.1f ms per envelope, %zu failed\n",
		    atomic_load(&objects_done), atomic_load(&requests),
		    nobjects, conns, dt,
		    (double)atomic_load(&objects_done) / dt,
		    bench_pct(lat, nlat < maxlat ? nlat : maxlat, 50) * 1000,
		    bench_pct(lat, nlat < maxlat ? nlat : maxlat, 99) * 1000,
		    atomic_load(&failures));
	else {
		printf("%d request%s in %.1f s:", conns, conns == 1 ? "" : "s",
		    dt);
		for (i = 0; i < 600; i++)
			if (atomic_load(&codes[i]) > 0)
				printf(" %ld x %d", atomic_load(&codes[i]), i);
		printf("\n");
	}
	curl_global_cleanup();
	free(lat);
	return 0;
usage:
	fprintf(stderr, "usage: see the comment at the top of load_ingest.c\n");
	return 2;
}
