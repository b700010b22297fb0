/*
 * bench.h -- small helpers shared by the benchmarks: clocks, percentiles,
 * the daemon's memory from /proc, loading input files, and Jansson's own
 * parse rate over the same input (the reference every ingest figure is
 * printed against).
 */
#ifndef CTIHUB_BENCH_H
#define CTIHUB_BENCH_H

#include <stddef.h>

struct curl_slist;

struct bench_file {
	char *path;
	char *data;
	size_t len;
	size_t nobjects;
};

double bench_now(void);
/* Sorts v and returns the p-th percentile (0..100). */
double bench_pct(double *v, size_t n, double p);
/* VmHWM / VmRSS / RssAnon of a process in kB, or -1. */
long bench_proc_kb(int pid, const char *field);
/* CPU seconds (user + system) a process has used so far, or -1. */
double bench_proc_cpu(int pid);
/* A libcurl handle for TAXII Add Objects posts to url, keep-alive,
 * verified against cafile, with Basic credentials "user:pass"; the
 * headers go to *hdrs (free with curl_slist_free_all), the answer's body
 * is dropped. */
void *bench_post_handle(const char *url, const char *cafile,
    const char *userpwd, struct curl_slist **hdrs);
/* Loads every *.json file of dir, sorted by name; returns the count. */
size_t bench_load_dir(const char *dir, struct bench_file **out);
/* Parses each file with json_loadb on this one thread; returns
 * objects/s and sets *mbps and *objects (and each file's nobjects). */
double bench_jansson_rate(struct bench_file *, size_t n, double *mbps,
    size_t *objects);

#endif
