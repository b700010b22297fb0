/*
 * bench.c -- helpers for the benchmarks (see bench.h).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bench.h"

static size_t
sink(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

void *
bench_post_handle(const char *url, const char *cafile, const char *userpwd,
    struct curl_slist **hdrs)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;

	h = curl_slist_append(h,
	    "Content-Type: application/taxii+json;"
	    "version=2.1");
	h = curl_slist_append(h, "Accept: application/taxii+json;version=2.1");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	*hdrs = h;
	return c;
}

double
bench_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
bench_pct(double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

long
bench_proc_kb(int pid, const char *field)
{
	char path[64], line[256];
	size_t fl = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, fl) == 0 && line[fl] == ':')
			v = atol(line + fl + 1);
	fclose(f);
	return v;
}

double
bench_proc_cpu(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the command name, which may hold spaces */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		&ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct bench_file *)a)->path,
	    ((const struct bench_file *)b)->path);
}

size_t
bench_load_dir(const char *dir, struct bench_file **out)
{
	struct bench_file *v = NULL;
	struct dirent *e;
	size_t n = 0, cap = 0;
	DIR *d = opendir(dir);
	char path[4096];

	if (d == NULL) {
		perror(dir);
		exit(1);
	}
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		FILE *f;
		long sz;

		if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0 ||
		    strcmp(e->d_name, "manifest.json") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((f = fopen(path, "rb")) == NULL)
			continue;
		fseek(f, 0, SEEK_END);
		sz = ftell(f);
		rewind(f);
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = realloc(v, cap * sizeof(*v));
		}
		v[n].path = strdup(path);
		v[n].len = (size_t)sz;
		v[n].data = malloc((size_t)sz + 1);
		v[n].nobjects = 0;
		if (fread(v[n].data, 1, (size_t)sz, f) != (size_t)sz) {
			fclose(f);
			continue;
		}
		v[n].data[sz] = '\0';
		fclose(f);
		n++;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_name);
	*out = v;
	return n;
}

double
bench_jansson_rate(struct bench_file *f, size_t n, double *mbps,
    size_t *objects)
{
	double t0 = bench_now(), dt;
	size_t i, bytes = 0;

	*objects = 0;
	for (i = 0; i < n; i++) {
		json_error_t e;
		json_t *j = json_loadb(f[i].data, f[i].len, 0, &e);

		if (j == NULL) {
			fprintf(stderr, "%s: %s\n", f[i].path, e.text);
			exit(1);
		}
		f[i].nobjects = json_array_size(json_object_get(j, "objects"));
		*objects += f[i].nobjects;
		bytes += f[i].len;
		json_decref(j);
	}
	dt = bench_now() - t0;
	*mbps = (double)bytes / dt / 1e6;
	return (double)*objects / dt;
}
