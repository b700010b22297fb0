/*
 * bench_walk.c -- a full walk of a collection in pages, following `next`
 * the way a poller does, over one HTTPS keep-alive connection; prints the
 * objects delivered per second.  With -o FILE it walks the manifest
 * instead and writes every 100th date_added (inputs for the random-page
 * read benchmark).
 *
 * usage: bench_walk -u URL -k CAFILE -a USER:PASS [-l LIMIT] [-o FILE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ctihub/jscan.h"

#include "bench.h"

#define HEAD_MORE "{\"more\":true,\"next\":\""

struct body {
	char *p;
	size_t n;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct body *b = arg;

	b->p = realloc(b->p, b->n + sz * n + 1);
	memcpy(b->p + b->n, p, sz * n);
	b->n += sz * n;
	b->p[b->n] = '\0';
	return sz * n;
}

int
main(int argc, char **argv)
{
	const char *url = NULL, *ca = NULL, *auth = NULL, *out = NULL;
	char full[4096], *next = NULL;
	long limit = 1000;
	size_t total = 0, bytes = 0, pages = 0;
	double t0;
	FILE *dates = NULL;
	CURL *c;
	int ch;

	while ((ch = getopt(argc, argv, "u:k:a:l:o:")) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'k':
			ca = optarg;
			break;
		case 'a':
			auth = optarg;
			break;
		case 'l':
			limit = atol(optarg);
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return 2;
		}
	}
	if (url == NULL || ca == NULL || auth == NULL)
		return 2;
	if (out != NULL && (dates = fopen(out, "w")) == NULL)
		return 1;
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_USERPWD, auth);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	t0 = bench_now();
	for (;;) {
		struct body b = {NULL, 0};
		json_t *j, *objs, *o;
		size_t i;
		long code = 0;

		snprintf(full, sizeof(full), "%s%climit=%ld%s%s", url,
		    strchr(url, '?') != NULL ? '&' : '?', limit,
		    next ? "&next=" : "", next ? next : "");
		curl_easy_setopt(c, CURLOPT_URL, full);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
		if (curl_easy_perform(c) != CURLE_OK)
			return 1;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		bytes += b.n;
		pages++;
		if (dates == NULL && code == 200) {
			/* throughput: frame the page (count its objects) and
			 * read more/next from its head, as a streaming
			 * client would; Jansson here would measure the
			 * client */
			struct jscan_doc d;
			char err[128], *nx;

			if (jscan_doc(b.p, b.n, &d, err, sizeof(err)) != 0) {
				fprintf(stderr, "walk: %s\n", err);
				return 1;
			}
			total += d.nobjects;
			free(next);
			next = NULL;
			if (strncmp(b.p, HEAD_MORE, sizeof(HEAD_MORE) - 1) ==
			    0) {
				nx = b.p + sizeof(HEAD_MORE) - 1;
				next = strndup(nx, strcspn(nx, "\""));
			}
			free(b.p);
			if (next == NULL)
				break;
			continue;
		}
		if (code != 200 ||
		    (j = json_loadb(b.p, b.n, 0, NULL)) == NULL) {
			fprintf(stderr, "walk: %ld %.200s\n", code, b.p);
			return 1;
		}
		objs = json_object_get(j, "objects");
		json_array_foreach(objs, i, o)
		{
			if (dates != NULL && (total + i) % 100 == 0)
				fprintf(dates, "%s\n",
				    json_string_value(
					json_object_get(o, "date_added")));
		}
		total += json_array_size(objs);
		free(next);
		next = json_is_true(json_object_get(j, "more"))
		    ? strdup(json_string_value(json_object_get(j, "next")))
		    : NULL;
		json_decref(j);
		free(b.p);
		if (next == NULL)
			break;
	}
	t0 = bench_now() - t0;
	if (dates != NULL)
		fclose(dates);
	printf("walk: %zu objects in %zu pages of %ld, %.1f MB, %.2f s: "
	       "%.0f objects/s delivered\n",
	    total, pages, limit, (double)bytes / 1e6, t0, (double)total / t0);
	curl_easy_cleanup(c);
	return 0;
}
