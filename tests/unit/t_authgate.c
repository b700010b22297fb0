/*
 * t_authgate.c -- the gate in front of password checks: the cache of good
 * credentials, backoff per (address, account), per address and per
 * account, the bypass for an account's last good credential and its
 * priority, the bound on checks in flight, one check per credential, the
 * forgetting of old failures, the bound on what is remembered, and the
 * address key.  Time is passed in: no clock, no sleeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctihub/authgate.h"

#define SEC   INT64_C(1000000)
#define T0    (INT64_C(1700000000) * SEC)
#define GEN   1UL
#define ALICE "alice"

static struct authgate_limits lim;
static int woken, woken_ok;

static void
defaults(void)
{
	memset(&lim, 0, sizeof(lim));
	lim.cache_ttl = 300 * SEC;
	lim.fail_free = 3;
	lim.fail_free_addr = 100;
	lim.fail_free_account = 1000;
	lim.fail_delay = 1 * SEC;
	lim.fail_max_delay = 8 * SEC;
	lim.queue = 10;
	lim.track = 1000;
}

static void
wake(struct authgate_wait *w, void *arg)
{
	(void)arg;
	woken++;
	woken_ok += w->ok;
}

/* A credential: its digest, from a password. */
static void
digest(struct authgate *g, const char *pw, unsigned char d[AUTHGATE_DIGEST])
{
	char hdr[128];

	snprintf(hdr, sizeof(hdr), "Basic %s", pw);
	authgate_digest(g, hdr, strlen(hdr), d);
}

/* One attempt that is admitted, checked at once and answered `ok`.
 * Returns the verdict; on AUTHGATE_THROTTLED/BUSY the seconds in *retry. */
static int
attempt(struct authgate *g, const char *addr, const char *account,
    const char *pw, int ok, int64_t now, int *retry)
{
	unsigned char d[AUTHGATE_DIGEST];
	struct authgate_wait w;
	struct authgate_check *c;
	int job = 7, v, r = 0;

	digest(g, pw, d);
	v = authgate_admit(g, &lim, addr, account, d, GEN, &job, &w, now, &r);
	if (retry != NULL)
		*retry = r;
	if (v == AUTHGATE_QUEUED) {
		assert_ptr_equal(authgate_next(g, &c), &job);
		authgate_done(g, c, ok, now, wake, NULL);
	}
	return v;
}

/* n failed checks of `account` from `addr`, none of them turned away. */
static void
fail_n(struct authgate *g, const char *addr, const char *account,
    const char *prefix, int n, int64_t now)
{
	char pw[64];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(pw, sizeof(pw), "%s%d", prefix, i);
		assert_int_equal(attempt(g, addr, account, pw, 0, now, NULL),
		    AUTHGATE_QUEUED);
	}
}

static void
t_cache(void **state)
{
	struct authgate *g = authgate_new();
	unsigned char d[AUTHGATE_DIGEST];
	char id[MEMBER_ID_MAX];

	(void)state;
	defaults();
	digest(g, "good", d);
	assert_int_equal(authgate_cached(g, d, GEN, T0, id), 0);
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "good", 1, T0, NULL),
	    AUTHGATE_QUEUED);
	assert_int_equal(authgate_cached(g, d, GEN, T0 + SEC, id), 1);
	assert_string_equal(id, ALICE);
	/* another configuration generation, or past the TTL: checked again */
	assert_int_equal(authgate_cached(g, d, GEN + 1, T0 + SEC, id), 0);
	assert_int_equal(authgate_cached(g, d, GEN, T0 + 301 * SEC, id), 0);
	/* a failure is never cached */
	digest(g, "bad", d);
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "bad", 0, T0, NULL),
	    AUTHGATE_QUEUED);
	assert_int_equal(authgate_cached(g, d, GEN, T0 + SEC, id), 0);
	/* no TTL, no cache */
	lim.cache_ttl = 0;
	assert_int_equal(attempt(g, "192.0.2.1", "bob", "bobs", 1, T0, NULL),
	    AUTHGATE_QUEUED);
	digest(g, "bobs", d);
	assert_int_equal(authgate_cached(g, d, GEN, T0 + SEC, id), 0);
	authgate_free(g);
}

static void
t_pair_backoff(void **state)
{
	struct authgate *g = authgate_new();
	const int64_t want[] = {1, 2, 4, 8, 8};
	int64_t now = T0;
	char pw[32];
	int i, retry, n = 0;

	(void)state;
	defaults();
	for (i = 0; i < 3; i++) {
		snprintf(pw, sizeof(pw), "guess%d", n++);
		assert_int_equal(
		    attempt(g, "192.0.2.1", ALICE, pw, 0, now, NULL),
		    AUTHGATE_QUEUED);
	}
	/* past fail_free: a delay that doubles with each failure, up to
	 * fail_max_delay */
	for (i = 0; i < 5; i++) {
		snprintf(pw, sizeof(pw), "guess%d", n++);
		assert_int_equal(
		    attempt(g, "192.0.2.1", ALICE, pw, 0, now, &retry),
		    AUTHGATE_THROTTLED);
		assert_int_equal(retry, want[i]);
		/* half-way: still waiting, the rest of the delay */
		assert_int_equal(attempt(g, "192.0.2.1", ALICE, pw, 0,
				     now + want[i] * SEC / 2, &retry),
		    AUTHGATE_THROTTLED);
		assert_int_equal(retry, (want[i] + 1) / 2);
		now += want[i] * SEC;
		assert_int_equal(
		    attempt(g, "192.0.2.1", ALICE, pw, 0, now, NULL),
		    AUTHGATE_QUEUED);
	}
	/* the same account from another address, and another account from
	 * this one, are not slowed down by this pair */
	assert_int_equal(
	    attempt(g, "192.0.2.2", ALICE, "x", 0, now, NULL), AUTHGATE_QUEUED);
	assert_int_equal(
	    attempt(g, "192.0.2.1", "bob", "y", 0, now, NULL), AUTHGATE_QUEUED);
	/* forgotten 2 * fail_max_delay after the last failure */
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "z", 0, now, NULL),
	    AUTHGATE_THROTTLED);
	now += 16 * SEC;
	fail_n(g, "192.0.2.1", ALICE, "later", 3, now);
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "z", 0, now, NULL),
	    AUTHGATE_THROTTLED);
	authgate_free(g);
}

static void
t_success_resets_pair(void **state)
{
	struct authgate *g = authgate_new();

	(void)state;
	defaults();
	/* a member who mistypes twice, then gets it right */
	fail_n(g, "192.0.2.1", ALICE, "typo", 2, T0);
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "good", 1, T0, NULL),
	    AUTHGATE_QUEUED);
	fail_n(g, "192.0.2.1", ALICE, "typo", 3, T0);
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "f", 0, T0, NULL),
	    AUTHGATE_THROTTLED);
	authgate_free(g);
}

static void
t_addr_backoff(void **state)
{
	struct authgate *g = authgate_new();
	char account[32];
	int i, retry;

	(void)state;
	defaults();
	lim.fail_free_addr = 5;
	/* one address trying many accounts, a guess each */
	for (i = 0; i < 5; i++) {
		snprintf(account, sizeof(account), "user%d", i);
		assert_int_equal(
		    attempt(g, "192.0.2.9", account, "pw", 0, T0, NULL),
		    AUTHGATE_QUEUED);
	}
	assert_int_equal(attempt(g, "192.0.2.9", "user9", "pw", 0, T0, &retry),
	    AUTHGATE_THROTTLED);
	assert_int_equal(retry, 1);
	/* other addresses are not concerned */
	assert_int_equal(attempt(g, "192.0.2.10", "user9", "pw", 0, T0, NULL),
	    AUTHGATE_QUEUED);
	authgate_free(g);
}

static void
t_account_limit(void **state)
{
	struct authgate *g = authgate_new();
	unsigned char d[AUTHGATE_DIGEST];
	struct authgate_wait w;
	struct authgate_check *c;
	char addr[32];
	int i, job = 1, retry;

	(void)state;
	defaults();
	lim.fail_free_account = 4;
	/* a guesser spread over many addresses, one guess from each */
	for (i = 0; i < 4; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", i);
		assert_int_equal(attempt(g, addr, ALICE, addr, 0, T0, NULL),
		    AUTHGATE_QUEUED);
	}
	/* past the account's limit: one check at a time, one a second;
	 * never refused for longer than that */
	digest(g, "next", d);
	assert_int_equal(authgate_admit(g, &lim, "198.51.100.50", ALICE, d, GEN,
			     &job, &w, T0, &retry),
	    AUTHGATE_QUEUED);
	assert_int_equal(
	    attempt(g, "198.51.100.51", ALICE, "other", 0, T0, &retry),
	    AUTHGATE_THROTTLED);
	assert_int_equal(retry, 1);
	assert_non_null(authgate_next(g, &c));
	authgate_done(g, c, 0, T0, wake, NULL);
	assert_int_equal(
	    attempt(g, "198.51.100.51", ALICE, "other", 0, T0 + SEC / 2, NULL),
	    AUTHGATE_THROTTLED);
	assert_int_equal(
	    attempt(g, "198.51.100.51", ALICE, "other", 0, T0 + SEC, NULL),
	    AUTHGATE_QUEUED);
	assert_int_equal(
	    attempt(g, "198.51.100.52", ALICE, "other2", 0, T0 + 2 * SEC, NULL),
	    AUTHGATE_QUEUED);
	authgate_free(g);
}

static void
t_good_credential(void **state)
{
	struct authgate *g = authgate_new();
	unsigned char d[AUTHGATE_DIGEST], gd[AUTHGATE_DIGEST];
	struct authgate_wait w1, w2;
	struct authgate_check *c;
	int job1 = 1, job2 = 2, i, retry;
	char pw[32];

	(void)state;
	defaults();
	lim.fail_free_account = 5;
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "good", 1, T0, NULL),
	    AUTHGATE_QUEUED);
	/* someone guesses alice's password from her own address and from
	 * many others: pair, address and account are all past their limits */
	for (i = 0; i < 20; i++) {
		snprintf(pw, sizeof(pw), "guess%d", i);
		attempt(g, i < 10 ? "192.0.2.1" : pw, ALICE, pw, 0, T0, NULL);
	}
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "guess", 0, T0, &retry),
	    AUTHGATE_THROTTLED);
	/* her own credential is never delayed, from anywhere */
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "good", 1, T0, NULL),
	    AUTHGATE_QUEUED);
	assert_int_equal(attempt(g, "203.0.113.7", ALICE, "good", 1, T0, NULL),
	    AUTHGATE_QUEUED);
	/* and is checked before the others waiting */
	digest(g, "someone", d);
	assert_int_equal(authgate_admit(g, &lim, "203.0.113.8", "bob", d, GEN,
			     &job1, &w1, T0, &retry),
	    AUTHGATE_QUEUED);
	digest(g, "good", gd);
	assert_int_equal(authgate_admit(g, &lim, "192.0.2.1", ALICE, gd, GEN,
			     &job2, &w2, T0, &retry),
	    AUTHGATE_QUEUED);
	assert_ptr_equal(authgate_next(g, &c), &job2);
	authgate_done(g, c, 1, T0, wake, NULL);
	assert_ptr_equal(authgate_next(g, &c), &job1);
	authgate_done(g, c, 0, T0, wake, NULL);
	/* a password change: the old credential fails, and loses its pass */
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "good", 0, T0, NULL),
	    AUTHGATE_QUEUED);
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "good", 0, T0, NULL),
	    AUTHGATE_THROTTLED);
	authgate_free(g);
}

static void
t_queue_bound(void **state)
{
	struct authgate *g = authgate_new();
	unsigned char d[AUTHGATE_DIGEST];
	struct authgate_wait w[4];
	struct authgate_check *c;
	int job[4] = {0, 1, 2, 3}, i, retry;
	char pw[32];

	(void)state;
	defaults();
	lim.queue = 2;
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "good", 1, T0, NULL),
	    AUTHGATE_QUEUED);
	for (i = 0; i < 3; i++) {
		snprintf(pw, sizeof(pw), "pw%d", i);
		digest(g, pw, d);
		assert_int_equal(authgate_admit(g, &lim, "192.0.2.2", "bob", d,
				     GEN, &job[i], &w[i], T0, &retry),
		    i < 2 ? AUTHGATE_QUEUED : AUTHGATE_BUSY);
	}
	assert_int_equal(retry, 1);
	/* the bypass class has its own room */
	digest(g, "good", d);
	assert_int_equal(authgate_admit(g, &lim, "192.0.2.1", ALICE, d, GEN,
			     &job[3], &w[3], T0, &retry),
	    AUTHGATE_QUEUED);
	for (i = 0; i < 3; i++) {
		assert_non_null(authgate_next(g, &c));
		authgate_done(g, c, 0, T0, wake, NULL);
	}
	assert_null(authgate_next(g, &c));
	authgate_free(g);
}

static void
t_one_check_per_credential(void **state)
{
	struct authgate *g = authgate_new();
	unsigned char d[AUTHGATE_DIGEST];
	struct authgate_wait w[5], other;
	struct authgate_check *c;
	int job = 1, job2 = 2, i, retry;

	(void)state;
	defaults();
	digest(g, "good", d);
	for (i = 0; i < 5; i++)
		assert_int_equal(authgate_admit(g, &lim, "192.0.2.1", ALICE, d,
				     GEN, &job, &w[i], T0, &retry),
		    i == 0 ? AUTHGATE_QUEUED : AUTHGATE_JOINED);
	/* under another configuration generation: a check of its own */
	assert_int_equal(authgate_admit(g, &lim, "192.0.2.1", ALICE, d, GEN + 1,
			     &job2, &other, T0, &retry),
	    AUTHGATE_QUEUED);
	woken = woken_ok = 0;
	assert_ptr_equal(authgate_next(g, &c), &job);
	authgate_done(g, c, 1, T0, wake, NULL);
	assert_int_equal(woken, 5);
	assert_int_equal(woken_ok, 5);
	assert_ptr_equal(authgate_next(g, &c), &job2);
	authgate_done(g, c, 0, T0, wake, NULL);
	assert_int_equal(woken, 6);
	assert_int_equal(woken_ok, 5);
	assert_null(authgate_next(g, &c));
	authgate_free(g);
}

static void
t_bounded_memory(void **state)
{
	struct authgate *g = authgate_new();
	char addr[32];
	int i;

	(void)state;
	defaults();
	lim.track = 100;
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "good", 1, T0, NULL),
	    AUTHGATE_QUEUED);
	/* many addresses, each a pair and an address of its own */
	for (i = 0; i < 1000; i++) {
		snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
		attempt(g, addr, "bob", "guess", 0, T0, NULL);
		assert_true(authgate_tracked(g) <= 100);
	}
	/* what alice's good credential earned is kept the longest */
	lim.fail_free = 1;
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "bad", 0, T0, NULL),
	    AUTHGATE_QUEUED);
	assert_int_equal(attempt(g, "192.0.2.1", ALICE, "good", 1, T0, NULL),
	    AUTHGATE_QUEUED);
	authgate_free(g);
}

static void
t_addr_key(void **state)
{
	char k[AUTHGATE_ADDR_MAX];

	(void)state;
	authgate_addr("192.0.2.1", k);
	assert_string_equal(k, "192.0.2.1");
	authgate_addr("2001:db8:1:2:3:4:5:6", k);
	assert_string_equal(k, "2001:db8:1:2::/64");
	authgate_addr("::ffff:192.0.2.7", k);
	assert_string_equal(k, "192.0.2.7");
	authgate_addr("-", k);
	assert_string_equal(k, "-");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_cache),
	    cmocka_unit_test(t_pair_backoff),
	    cmocka_unit_test(t_success_resets_pair),
	    cmocka_unit_test(t_addr_backoff),
	    cmocka_unit_test(t_account_limit),
	    cmocka_unit_test(t_good_credential),
	    cmocka_unit_test(t_queue_bound),
	    cmocka_unit_test(t_one_check_per_credential),
	    cmocka_unit_test(t_bounded_memory),
	    cmocka_unit_test(t_addr_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
