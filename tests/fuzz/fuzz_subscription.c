/*
 * fuzz_subscription.c -- the subscriptions file parser, against a fixed
 * members set and configuration.  Invariants of any file that loads:
 * every subscription has a member, collections and a mode, an https
 * target exactly when it is not a stream, a query view_parse accepts;
 * and parsing the same text again gives the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/log.h"
#include "ctihub/subscription.h"
#include "ctihub/view.h"

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
    "  alias indicators\n  read any\n }\n"
    " collection 9f1c2d3e-4b5a-4c6d-8e7f-a0b1c2d3e4f5 {\n title b\n"
    "  alias brics\n  read country BR\n }\n"
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
sub_same(const struct subscription *a, const struct subscription *b)
{
	return strcmp(a->name, b->name) == 0 &&
	    strcmp(a->member, b->member) == 0 && a->ncolls == b->ncolls &&
	    memcmp(a->colls, b->colls, sizeof(a->colls)) == 0 &&
	    str_same(a->query, b->query) && a->mode == b->mode &&
	    str_same(a->target, b->target) && a->hub == b->hub &&
	    str_same(a->peer, b->peer) && str_same(a->user, b->user) &&
	    str_same(a->password, b->password) &&
	    str_same(a->token, b->token) &&
	    str_same(a->cert_file, b->cert_file) &&
	    str_same(a->key_file, b->key_file) &&
	    str_same(a->ca_file, b->ca_file) && a->sign == b->sign &&
	    a->secretlen == b->secretlen &&
	    (a->secretlen == 0 ||
		memcmp(a->secret, b->secret, a->secretlen) == 0) &&
	    str_same(a->sign_key_file, b->sign_key_file) &&
	    a->payload == b->payload && a->batch == b->batch &&
	    a->max_delay_ms == b->max_delay_ms && a->line == b->line;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct subscriptions *s = NULL, *again = NULL;
	struct cfg_errs errs;
	int i;

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
	if (subs_parse("/nonexistent/subs.conf", (const char *)data, size, conf,
		&s, &errs) == 0) {
		for (i = 0; i < s->n; i++) {
			const struct subscription *v = &s->v[i];
			struct view_query q;
			char err[256];

			check(v->member[0] != '\0' && v->ncolls > 0 &&
			    v->ncolls <= SUB_MAX_COLLS);
			check(v->mode >= SUB_TAXII && v->mode <= SUB_STREAM);
			check(v->mode == SUB_STREAM ? v->target == NULL
						    : v->target != NULL &&
				    strncmp(v->target, "https://", 8) == 0);
			check(v->query != NULL);
			check(v->batch >= 1 && v->batch <= 10000);
			check(v->max_delay_ms >= 0 && v->max_delay_ms <= 60000);
			check(subs_find(s, v->name) == v);
			memset(&q, 0, sizeof(q));
			check(view_parse(&q, VIEW_OBJECTS, v->query,
				  conf->members, err, sizeof(err)) == 0);
			view_query_clear(&q);
		}
		cfg_errs_clear(&errs);
		check(subs_parse("/nonexistent/subs.conf", (const char *)data,
			  size, conf, &again, &errs) == 0);
		check(again->n == s->n);
		for (i = 0; i < s->n; i++)
			check(sub_same(&s->v[i], &again->v[i]));
		subs_free(again);
		subs_free(s);
	}
	cfg_errs_clear(&errs);
	return 0;
}
