/*
 * feed_taxii_client.c -- the integration client of tests/integ/
 * feed_taxii.sh: pages an upstream ctihub's collection with the feed
 * connector's functions (feeds/feed_taxii.h) over libcurl easy,
 * synchronously, as the feed engine will; and publishes the objects it
 * is tested with.  Not a test by itself: the script checks what it wrote.
 *
 *   feed_taxii_client post FROM COUNT
 *	publishes indicators FROM..FROM+COUNT-1 (odd ones marked AMBER,
 *	even ones unmarked), three and a malware object (filtered out by
 *	match[type]=indicator) a request, 10 ms apart
 *   feed_taxii_client pull STATE IDS
 *	one run from the cursor saved in STATE (none: from the beginning)
 *	until caught up, limit=7; appends every object's id to IDS and
 *	saves the cursor after each page.  Exits 1 on any failure, or when
 *	a page breaks the rules: a page without the filter or added_after,
 *	a non-indicator, an unmarked object without the feed's TLP, a
 *	marked one with it.
 *
 * Environment: FEED_URL (the collection's objects URL), FEED_CA,
 * FEED_USER ("name:password").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ctihub/buf.h"

#include "../../feeds/feed_taxii.h"

#define TAXII	 "application/taxii+json;version=2.1"
#define GREEN_ID "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
#define AMBER_ID "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
#define MAX_BODY (4 << 20)

struct reply {
	struct buf body;
	char last[FEED_TAXII_TS_MAX + 8];
	int has_last;
	int over;
};

static const char *
need(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL) {
		fprintf(stderr, "feed_taxii_client: %s is not set\n", name);
		exit(2);
	}
	return v;
}

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct reply *r = arg;

	if (r->body.len + sz * n > MAX_BODY) {
		r->over = 1;
		return 0;
	}
	buf_add(&r->body, p, sz * n);
	return buf_failed(&r->body) ? 0 : sz * n;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
	static const char name[] = "X-TAXII-Date-Added-Last:";
	struct reply *r = arg;
	size_t len = sz * n, k = sizeof(name) - 1;

	if (len > k && strncasecmp(p, name, k) == 0 &&
	    len - k < sizeof(r->last)) {
		memcpy(r->last, p + k, len - k);
		r->last[len - k] = '\0';
		r->has_last = 1;
	}
	return len;
}

static int
request(CURL *c, const char *url, const char *post, struct reply *r, long *code)
{
	struct curl_slist *h = NULL;
	CURLcode rc;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, need("FEED_CA"));
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
	curl_easy_setopt(c, CURLOPT_USERPWD, need("FEED_USER"));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MAX_BODY);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	h = curl_slist_append(h, "Accept: " TAXII);
	if (post != NULL) {
		h = curl_slist_append(h, "Content-Type: " TAXII);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		fprintf(stderr, "# %s: %s\n", url, curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	return 0;
}

static int
post(CURL *c, int from, int count)
{
	struct buf b = BUF_INIT;
	struct timespec pause = {0, 10 * 1000 * 1000};
	int i, k, rc = 0;
	long code;

	for (i = from; i < from + count && rc == 0; i += 3) {
		struct reply r = {.body = BUF_INIT};

		buf_reset(&b);
		buf_adds(&b, "{\"objects\":[");
		for (k = i; k < i + 3 && k < from + count; k++)
			buf_addf(&b,
			    "{\"type\":\"indicator\",\"spec_version\":\"2.1\","
			    "\"id\":\"indicator--%08d-0000-4000-8000-"
			    "000000000000\",\"created\":\"2024-01-01T00:00:00."
			    "000Z\",\"modified\":\"2024-01-01T00:00:00.000Z\","
			    "\"pattern\":\"[ipv4-addr:value = '198.51.%d.%d']"
			    "\",\"pattern_type\":\"stix\",\"valid_from\":"
			    "\"2024-01-01T00:00:00Z\"%s},",
			    k, k / 250, k % 250,
			    k % 2 ? ",\"object_marking_refs\":[\"" AMBER_ID
				    "\"]"
				  : "");
		buf_addf(&b,
		    "{\"type\":\"malware\",\"spec_version\":\"2.1\","
		    "\"id\":\"malware--%08d-0000-4000-8000-000000000000\","
		    "\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":"
		    "\"2024-01-01T00:00:00.000Z\",\"name\":\"m%d\","
		    "\"is_family\":false}]}",
		    i, i);
		if (request(c, need("FEED_URL"), buf_cstr(&b), &r, &code) ==
			-1 ||
		    code != 202) {
			fprintf(stderr, "# post %d: status %ld\n", i, code);
			rc = -1;
		}
		buf_clear(&r.body);
		nanosleep(&pause, NULL); /* let the reader interleave */
	}
	buf_clear(&b);
	return rc;
}

/* Checks one object of a page and appends its id to ids. */
static int
check_object(json_t *o, FILE *ids)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	json_t *refs = json_object_get(o, "object_marking_refs");
	const char *m0 = json_string_value(json_array_get(refs, 0));
	int n;

	if (id == NULL || strncmp(id, "indicator--", 11) != 0) {
		fprintf(stderr, "# not an indicator: %s\n", id ? id : "?");
		return -1;
	}
	n = atoi(id + 11);
	if (json_array_size(refs) != 1 || m0 == NULL ||
	    strcmp(m0, n % 2 ? AMBER_ID : GREEN_ID) != 0) {
		fprintf(stderr, "# %s: markings %s\n", id, m0 ? m0 : "none");
		return -1;
	}
	fprintf(ids, "%s\n", id);
	return 0;
}

static int
pull(CURL *c, const char *state, const char *idsfile)
{
	static const struct feed_taxii_filter f[] = {
	    {"match[type]", "indicator"},
	};
	struct feed_taxii_query q = {
	    .objects_url = need("FEED_URL"),
	    .filters = f,
	    .nfilters = 1,
	    .limit = 7,
	    .tlp_id = GREEN_ID,
	    .max_body = MAX_BODY,
	    .max_objects = 1000,
	    .max_out = MAX_BODY,
	};
	struct feed_taxii_cursor saved;
	struct feed_taxii_run run;
	struct feed_taxii_page pg;
	unsigned char blob[FEED_TAXII_STATE_MAX];
	struct buf url = BUF_INIT;
	char err[256];
	size_t n, nobj = 0, i;
	FILE *fp, *ids;
	int r = FEED_TAXII_MORE, rc = 0;
	long code;

	saved.us = -1;
	if ((fp = fopen(state, "rb")) != NULL) {
		n = fread(blob, 1, sizeof(blob), fp);
		fclose(fp);
		if (feed_taxii_state_read(&saved, blob, n) == -1) {
			fprintf(stderr, "# %s: bad state\n", state);
			return -1;
		}
	}
	if ((ids = fopen(idsfile, "a")) == NULL)
		return -1;
	feed_taxii_run_init(&run, &saved);
	feed_taxii_page_init(&pg);
	while (r == FEED_TAXII_MORE && rc == 0 && run.pages < 1000) {
		struct reply rep = {.body = BUF_INIT};
		json_t *env;

		buf_reset(&url);
		if (feed_taxii_url(&q, &run, &url, err, sizeof(err)) == -1 ||
		    strstr(buf_cstr(&url), "match[type]=indicator") == NULL ||
		    (run.start.us >= 0 &&
			strstr(buf_cstr(&url), "added_after=") == NULL)) {
			fprintf(stderr, "# bad URL %s\n", buf_cstr(&url));
			rc = -1;
			break;
		}
		if (request(c, buf_cstr(&url), NULL, &rep, &code) == -1) {
			rc = -1;
			buf_clear(&rep.body);
			break;
		}
		r = feed_taxii_read(&q, &run, code,
		    rep.has_last ? rep.last : NULL, rep.body.data, rep.body.len,
		    &pg, err, sizeof(err));
		buf_clear(&rep.body);
		if (r < 0) {
			fprintf(stderr, "# page %u: %s\n", run.pages + 1, err);
			rc = -1;
			break;
		}
		/* the "pipeline": the page's objects, then the cursor */
		env = json_loadb(pg.env.data, pg.env.len, 0, NULL);
		if (env == NULL) {
			rc = -1;
			break;
		}
		for (i = 0; i < pg.nobjects && rc == 0; i++)
			rc = check_object(
			    json_array_get(json_object_get(env, "objects"), i),
			    ids);
		json_decref(env);
		nobj += pg.nobjects;
		fflush(ids);
		n = feed_taxii_state_write(&run.cursor, blob);
		if ((fp = fopen(state, "wb")) == NULL ||
		    fwrite(blob, 1, n, fp) != n || fclose(fp) != 0)
			rc = -1;
	}
	printf("# pull: %u pages, %zu objects, cursor %s\n", run.pages, nobj,
	    run.cursor.us < 0 ? "none" : run.cursor.text);
	if (r == FEED_TAXII_MORE && rc == 0)
		rc = -1; /* never caught up */
	feed_taxii_run_clear(&run);
	feed_taxii_page_clear(&pg);
	buf_clear(&url);
	fclose(ids);
	return rc;
}

int
main(int argc, char **argv)
{
	CURL *c;
	int rc = -1;

	curl_global_init(CURL_GLOBAL_ALL);
	if ((c = curl_easy_init()) == NULL)
		return 1;
	if (argc == 4 && strcmp(argv[1], "post") == 0)
		rc = post(c, atoi(argv[2]), atoi(argv[3]));
	else if (argc == 4 && strcmp(argv[1], "pull") == 0)
		rc = pull(c, argv[2], argv[3]);
	else
		fprintf(stderr,
		    "usage: feed_taxii_client post FROM COUNT | "
		    "pull STATE IDS\n");
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return rc == 0 ? 0 : 1;
}
