/*
 * fuzz_feedconf.c -- the feeds file parser, against a fixed members set
 * and configuration.  Invariants of any file that loads: every feed has a
 * kind, exactly one source (an https URL, or a file for the snapshot
 * kinds), a schedule with jitter shorter than it, a publishing member and
 * a collection, values within their bounds, a query (taxii) made of
 * match[...] filters; feedconf_find finds each; and parsing the same text
 * again gives the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/feedconf.h"
#include "ctihub/log.h"
#include "ctihub/marking.h"
#include "ctihub/observable.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char members[] =
    "member cert-br {\n name a\n country BR\n roles publisher subscriber\n"
    " token sha256$"
    "0000000000000000000000000000000000000000000000000000000000000001\n}\n"
    "member cert-in {\n name b\n country IN\n roles subscriber\n"
    " token sha256$"
    "0000000000000000000000000000000000000000000000000000000000000002\n}\n";

static const char conf_text[] =
    "state_dir /nonexistent\n"
    "api_root cti {\n title t\n"
    " collection 0c3a0b1e-6d4c-4f7a-9a51-3c2b8f0e7d11 {\n title i\n"
    "  alias indicators\n  read any\n  write role publisher\n }\n"
    " collection 9f1c2d3e-4b5a-4c6d-8e7f-a0b1c2d3e4f5 {\n title b\n"
    "  alias brics\n  read country BR\n  write country IN\n }\n"
    "}\n";

static struct conf *conf;

static void
check(int ok)
{
	if (!ok)
		abort();
}

static int
str_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int
feed_same(const struct feed_def *a, const struct feed_def *b)
{
	int i;

	if (a->nlabels != b->nlabels)
		return 0;
	for (i = 0; i < a->nlabels; i++)
		if (strcmp(a->labels[i], b->labels[i]) != 0)
			return 0;
	return strcmp(a->name, b->name) == 0 && a->kind == b->kind &&
	    a->enabled == b->enabled && str_same(a->url, b->url) &&
	    str_same(a->path, b->path) && a->every == b->every &&
	    a->jitter == b->jitter && strcmp(a->member, b->member) == 0 &&
	    strcmp(a->root, b->root) == 0 && strcmp(a->coll, b->coll) == 0 &&
	    a->tlp == b->tlp && a->confidence == b->confidence &&
	    str_same(a->user, b->user) && str_same(a->password, b->password) &&
	    str_same(a->token, b->token) &&
	    str_same(a->token_header, b->token_header) &&
	    str_same(a->cert_file, b->cert_file) &&
	    str_same(a->key_file, b->key_file) &&
	    str_same(a->ca_file, b->ca_file) && a->max_bytes == b->max_bytes &&
	    a->timeout == b->timeout && a->obs_type == b->obs_type &&
	    str_same(a->comment, b->comment) && a->on_vanish == b->on_vanish &&
	    a->delimiter == b->delimiter && a->col_value == b->col_value &&
	    a->col_type == b->col_type && a->skip == b->skip &&
	    str_same(a->field, b->field) &&
	    str_same(a->type_field, b->type_field) &&
	    str_same(a->query, b->query) && a->limit == b->limit &&
	    a->line == b->line;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feedconf *s = NULL, *again = NULL;
	struct cfg_errs errs;
	int i, j, enabled;

	log_init(-1);
	memset(&errs, 0, sizeof(errs));
	if (conf == NULL) {
		struct members *m = NULL;

		if (members_parse("m", members, strlen(members), &m, &errs) ==
			-1 ||
		    conf_parse("c", "/nonexistent", conf_text,
			strlen(conf_text), m, &conf, &errs) == -1)
			abort();
		cfg_errs_clear(&errs);
	}
	if (feedconf_parse("/nonexistent/feeds.conf", (const char *)data, size,
		conf, &s, &errs) == 0) {
		for (i = 0, enabled = 0; i < s->n; i++) {
			const struct feed_def *f = &s->v[i];
			int snapshot = f->kind == FEED_LIST ||
			    f->kind == FEED_CSV || f->kind == FEED_JSON;

			check(
			    f->kind >= FEED_TAXII && f->kind <= FEED_KIND_MAX);
			check((f->url == NULL) != (f->path == NULL));
			check(f->url == NULL ||
			    strncmp(f->url, "https://", 8) == 0);
			check(f->path == NULL || snapshot);
			check(f->every >= 60 && f->jitter >= 0 &&
			    f->jitter < f->every);
			check(f->member[0] != '\0' && f->coll[0] != '\0' &&
			    f->root[0] != '\0');
			check(f->tlp >= TLP_NONE && f->tlp <= TLP_RED);
			check(f->confidence >= -1 && f->confidence <= 100);
			check(f->nlabels >= 0 && f->nlabels <= FEED_MAX_LABELS);
			for (j = 0; j < f->nlabels; j++)
				check(f->labels[j][0] != '\0');
			check(f->max_bytes >= 1024 && f->timeout >= 1);
			check(f->obs_type >= OBS_NONE &&
			    f->obs_type <= OBS_TYPE_MAX);
			check(f->comment != NULL && f->comment[0] != '\0');
			check(f->kind != FEED_CSV ||
			    (f->col_value >= 1 && f->col_type != f->col_value));
			check(f->query != NULL);
			check(f->query[0] == '\0' ||
			    (f->kind == FEED_TAXII &&
				strncmp(f->query, "match[", 6) == 0 &&
				strpbrk(f->query, " #%+\"") == NULL));
			check((f->user == NULL) == (f->password == NULL));
			check((f->cert_file == NULL) == (f->key_file == NULL));
			check(f->token_header == NULL || f->token != NULL);
			check(feedconf_find(s, f->name) == f);
			enabled += f->enabled;
		}
		check(enabled == s->nenabled);
		cfg_errs_clear(&errs);
		check(feedconf_parse("/nonexistent/feeds.conf",
			  (const char *)data, size, conf, &again, &errs) == 0);
		check(again->n == s->n);
		for (i = 0; i < s->n; i++)
			check(feed_same(&s->v[i], &again->v[i]));
		feedconf_free(again);
		feedconf_free(s);
	}
	cfg_errs_clear(&errs);
	return 0;
}
