/*
 * t_auth.c -- failed logins: the slow password check runs off the event
 * loops and repeated failures are throttled per (address, account) and per
 * address with 429 and Retry-After, while members are never locked out:
 * a cached credential, an account's last good credential, a bearer token
 * and a client certificate all get through.  Ends with a bounded load
 * test: a member's latency alone and during a flood of wrong passwords
 * against its own account from its own address (figures printed, not
 * asserted).  Source addresses are loopback aliases (127.0.0.x).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include <curl/curl.h>
#include <jansson.h>

#include "integ.h"

#define PW	 ":integ-pass-1"
#define FLOODERS 32
#define FLOOD	 1000
#define NMEMBER	 20000

static long
get(const struct opts *o, struct resp *r)
{
	if (http("GET", "/taxii2/", o, r) != 0)
		return 0;
	return r->code;
}

static int
t_throttle(char *why, size_t whylen)
{
	struct opts o = {.from = "127.0.0.3"};
	struct resp r;
	char user[64];
	const char *ra;
	int i;

	/* bob has logged in before (from elsewhere) */
	o.user = "bob" PW;
	o.from = "127.0.0.1";
	EXPECT(get(&o, &r) == 200, "bob: %ld", r.code);
	resp_free(&r);
	o.from = "127.0.0.3";
	/* five wrong passwords for bob from one address: each checked */
	for (i = 0; i < 5; i++) {
		snprintf(user, sizeof(user), "bob:wrong-%d", i);
		o.user = user;
		EXPECT(get(&o, &r) == 401, "guess %d: %ld %.200s", i, r.code,
		    r.body ? r.body : "");
		resp_free(&r);
	}
	/* the sixth is turned away before any check */
	o.user = "bob:wrong-5";
	EXPECT(get(&o, &r) == 429, "sixth guess: %ld %.200s", r.code,
	    r.body ? r.body : "");
	ra = resp_header(&r, "Retry-After");
	EXPECT(ra != NULL && atoi(ra) >= 1, "429 without Retry-After");
	EXPECT(json_is_string(json_object_get(r.json, "title")) &&
		strstr(r.body, "retry in") != NULL,
	    "429 is not a TAXII error: %s", r.body);
	resp_free(&r);
	/* bob himself, from that address: not locked out (his credential
	 * is cached, and it is his account's last good one) */
	o.user = "bob" PW;
	EXPECT(get(&o, &r) == 200, "bob from the guessing address: %ld %.200s",
	    r.code, r.body ? r.body : "");
	resp_free(&r);
	/* others from that address: a password, a token, a certificate */
	o.user = "zane" PW;
	EXPECT(get(&o, &r) == 200, "zane: %ld", r.code);
	resp_free(&r);
	memset(&o, 0, sizeof(o));
	o.from = "127.0.0.3";
	o.token = env("HUB_TOKEN_CAROL");
	EXPECT(get(&o, &r) == 200, "carol's token: %ld", r.code);
	resp_free(&r);
	memset(&o, 0, sizeof(o));
	o.from = "127.0.0.3";
	o.cert = env("HUB_CERT_DAVE");
	o.key = env("HUB_KEY_DAVE");
	EXPECT(get(&o, &r) == 200, "dave's certificate: %ld", r.code);
	resp_free(&r);
	/* one address trying many accounts: throttled past 20 failures */
	memset(&o, 0, sizeof(o));
	o.from = "127.0.0.4";
	for (i = 0; i < 20; i++) {
		snprintf(user, sizeof(user), "nobody%d:pw", i);
		o.user = user;
		EXPECT(get(&o, &r) == 401, "user %d: %ld", i, r.code);
		resp_free(&r);
	}
	o.user = "nobody20:pw";
	EXPECT(
	    get(&o, &r) == 429, "21st account from one address: %ld", r.code);
	resp_free(&r);
	return 0;
}

struct flood {
	int spread; /* 0: alice's account from her address; 1: many */
	atomic_int stop;
	atomic_int sent, answered; /* read by the member's thread */
	int n401, n429, n503, nother;
	long other;
};

static size_t
sink(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

static void
flood_attempt(struct flood *f, CURL *h)
{
	char user[64];

	int k = atomic_fetch_add(&f->sent, 1);

	if (f->spread)
		snprintf(user, sizeof(user), "nobody-%d:pw", k);
	else
		snprintf(user, sizeof(user), "alice:wrong-%d", k);
	curl_easy_setopt(h, CURLOPT_USERPWD, user);
}

/* FLOODERS keep-alive connections sending GETs with a new wrong password
 * each, until told to stop (at most 50,000 attempts or 60 s): from the
 * member's own address for her account, or (spread) each connection from
 * an address of its own (127.0.1.x) for ever new user names, which keeps
 * the password checks busy. */
static void *
flood_main(void *arg)
{
	struct flood *f = arg;
	CURLM *m = curl_multi_init();
	CURL *h[FLOODERS];
	char url[256], from[64];
	double deadline = integ_ms() + 60000;
	int i, still = 0;

	snprintf(url, sizeof(url), "%s/taxii2/", env("HUB_URL"));
	for (i = 0; i < FLOODERS; i++) {
		h[i] = curl_easy_init();
		snprintf(from, sizeof(from), "host!127.0.%s%d",
		    f->spread ? "1." : "0.", f->spread ? i + 1 : 1);
		curl_easy_setopt(h[i], CURLOPT_URL, url);
		curl_easy_setopt(h[i], CURLOPT_CAINFO, env("HUB_CA"));
		curl_easy_setopt(h[i], CURLOPT_INTERFACE, from);
		curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 30L);
		curl_easy_setopt(h[i], CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h[i], CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, sink);
		flood_attempt(f, h[i]);
		curl_multi_add_handle(m, h[i]);
	}
	do {
		CURLMsg *msg;
		int q;

		curl_multi_perform(m, &still);
		while ((msg = curl_multi_info_read(m, &q)) != NULL) {
			CURL *e = msg->easy_handle;
			long code = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
			atomic_fetch_add(&f->answered, 1);
			if (code == 401)
				f->n401++;
			else if (code == 429)
				f->n429++;
			else if (code == 503)
				f->n503++;
			else {
				f->nother++;
				f->other = code;
			}
			curl_multi_remove_handle(m, e);
			if (!atomic_load(&f->stop) && f->sent < 50000 &&
			    integ_ms() < deadline) {
				flood_attempt(f, e);
				curl_multi_add_handle(m, e);
				still++;
			}
		}
		if (still > 0)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	} while (still > 0);
	for (i = 0; i < FLOODERS; i++)
		curl_easy_cleanup(h[i]);
	curl_multi_cleanup(m);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* GETs as alice on one keep-alive connection for `ms` (at most NMEMBER
 * requests); their count, p50 and p99, and the failures in *bad. */
static int
member_run(double ms, double *p50, double *p99, int *bad)
{
	static double lat[NMEMBER];
	struct opts o = {.user = "alice" PW};
	struct resp r;
	double end = integ_ms() + ms;
	int n;

	*bad = 0;
	for (n = 0; n < NMEMBER && integ_ms() < end; n++) {
		double t = integ_ms();

		if (get(&o, &r) != 200)
			(*bad)++;
		lat[n] = integ_ms() - t;
		resp_free(&r);
	}
	qsort(lat, (size_t)n, sizeof(lat[0]), cmp_double);
	*p50 = lat[n / 2];
	*p99 = lat[n * 99 / 100];
	return n;
}

/* The member's figures during one kind of flood. */
static int
flooded(struct flood *f, const char *what, char *why, size_t whylen)
{
	pthread_t t;
	double p50, p99, t0, secs;
	int i, n, bad;

	t0 = integ_ms();
	if (pthread_create(&t, NULL, flood_main, f) != 0)
		FAIL("pthread_create");
	/* the member's run starts with the flood under way */
	for (i = 0; i < 500 && atomic_load(&f->answered) < FLOODERS; i++)
		usleep(10000);
	n = member_run(2000, &p50, &p99, &bad);
	while (!f->spread && f->sent < FLOOD && integ_ms() - t0 < 30000)
		usleep(10000);
	atomic_store(&f->stop, 1);
	pthread_join(t, NULL);
	secs = (integ_ms() - t0) / 1e3;
	printf("# alice during %d wrong passwords (%.0f/s) %s, %d "
	       "connections: %d requests, p50 %.2f ms, p99 %.2f ms; "
	       "answers to the flood: %d 401 (checked), %d 429 (throttled), "
	       "%d 503 (busy), %d other\n",
	    atomic_load(&f->sent), atomic_load(&f->sent) / secs, what, FLOODERS,
	    n, p50, p99, f->n401, f->n429, f->n503, f->nother);
	EXPECT(bad == 0, "%d of alice's requests failed during the flood", bad);
	EXPECT(f->nother == 0,
	    "%d flood answers were neither 401, 429 nor 503 (e.g. %ld)",
	    f->nother, f->other);
	return 0;
}

static int
t_flood(char *why, size_t whylen)
{
	static struct flood one, many;
	struct opts alice = {.user = "alice" PW};
	struct resp r;
	double p50, p99;
	int n, bad, done;

	EXPECT(get(&alice, &r) == 200, "alice: %ld", r.code);
	resp_free(&r);
	n = member_run(2000, &p50, &p99, &bad);
	printf("# alice alone: %d requests, p50 %.2f ms, p99 %.2f ms\n", n, p50,
	    p99);
	EXPECT(bad == 0, "%d of alice's requests failed, alone", bad);
	/* her account, from her own address: throttled */
	memset(&one, 0, sizeof(one));
	if (flooded(&one, "for her account from her address", why, whylen) ==
	    -1)
		return -1;
	EXPECT(one.n429 > 0 && one.n401 <= 20,
	    "the flood was not throttled: %d passwords checked", one.n401);
	/* from 32 addresses, new user names: the checks run flat out, on
	 * their own threads, not on the loops serving alice */
	memset(&many, 0, sizeof(many));
	many.spread = 1;
	if (flooded(&many, "for other accounts from 32 other addresses", why,
		whylen) == -1)
		return -1;
	EXPECT(many.n401 > 0, "no password checked");
	/* a reload empties the cache (new generation): alice's next login
	 * is checked again, past the throttle on her own address and
	 * account, because it is her last good credential */
	done = log_count("configuration reloaded");
	hub_signal(SIGHUP);
	EXPECT(log_wait("configuration reloaded", done, 10) == 0, "reload");
	EXPECT(get(&alice, &r) == 200, "alice after the flood: %ld %.200s",
	    r.code, r.body ? r.body : "");
	resp_free(&r);
	return 0;
}

const struct test auth_tests[] = {
    {"auth: repeated failures get 429, nobody else is locked out", t_throttle},
    {"auth: a member's latency alone and during a wrong-password flood",
	t_flood},
    {NULL, NULL},
};
