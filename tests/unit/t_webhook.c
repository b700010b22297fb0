/*
 * t_webhook.c -- Standard Webhooks signatures: the published vectors of the
 * specification's reference libraries (HMAC "v1" and Ed25519 "v1a"), a
 * vector made with `openssl pkeyutl -sign -rawin`, round trips with fresh
 * keys, altered id/timestamp/body refused, key loading errors, the message
 * id and the challenge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/buf.h"
#include "ctihub/webhook.h"

/* The reference libraries' vectors (standard-webhooks, libraries/go:
 * webhook_test.go TestWebhookSign, webhook_asymmetric_test.go
 * TestAsymmetricWebhookSign). */
#define SW_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_ID	  "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS	  INT64_C(1614265330)
#define SW_BODY	  "{\"test\": 2432232314}"
#define SW_V1	  "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/* The Ed25519 seed "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=" as PKCS#8 */
#define SW_ED_PEM                                                              \
	"-----BEGIN PRIVATE KEY-----\n"                                        \
	"MC4CAQAwBQYDK2VwBCIEIFRFU1RTSUdOSU5HS0VZRE9OT1RVU0VUSElTRk9SQU5Z\n"   \
	"-----END PRIVATE KEY-----\n"
#define SW_V1A                                                                 \
	"v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHe" \
	"YGb7KaaBRdM5WqyeFiL8Ag=="
#define SW_ED_PUB "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g="

/* A key made with `openssl genpkey -algorithm ed25519`, and the signature
 * `openssl pkeyutl -sign -rawin` made of OSSL_MSG. */
#define OSSL_PEM                                                               \
	"-----BEGIN PRIVATE KEY-----\n"                                        \
	"MC4CAQAwBQYDK2VwBCIEIASv3KrkFKvlng+mQhKbT0AZIk0DlWMwcvXPLUXZMbQl\n"   \
	"-----END PRIVATE KEY-----\n"
#define OSSL_ID	  "msg_ctihub"
#define OSSL_TS	  INT64_C(1764896400)
#define OSSL_BODY "{\"type\":\"ctihub.objects\",\"objects\":[]}"
#define OSSL_V1A                                                               \
	"v1a,lf/fIcETrwGbqXHfBJ+UgjPhYwfVH9YLvTcmF77RVliKeDxFSgnAAQTp3sJrHMyU" \
	"8sDIe6Fp/U5rDj9Ka/njAw=="
#define OSSL_PUB "whpk_wDvbybclzOFkfwD5OJebh63jU0pdWtxDEshlWLSDGDY="

/* Writes text to a fresh temporary file; path holds its name. */
static void
tmpfile_with(const char *text, char path[64])
{
	FILE *f;
	int fd;

	snprintf(path, 64, "/tmp/t_webhook.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static struct webhook_key *
ed_key_from(const char *pem)
{
	struct webhook_key *k;
	char path[64], err[256];

	tmpfile_with(pem, path);
	err[0] = '\0';
	k = webhook_key_ed25519(path, err, sizeof(err));
	unlink(path);
	if (k == NULL)
		fail_msg("%s", err);
	return k;
}

static struct webhook_key *
sw_hmac_key(void)
{
	unsigned char s[WEBHOOK_SECRET_MAX];
	size_t n;

	assert_int_equal(webhook_secret_decode(SW_SECRET, s, sizeof(s), &n), 0);
	assert_int_equal(n, 24);
	return webhook_key_hmac(s, n);
}

/* Signs and verifies, then checks that a changed id, timestamp or body
 * (or a signature of the other kind) fails. */
static void
check_alterations(struct webhook_key *k, const char *id, int64_t ts,
    const char *body, const char *sig)
{
	size_t n = strlen(body);
	char *b2 = strdup(body), other[WEBHOOK_SIG_MAX];

	assert_non_null(b2);
	assert_int_equal(webhook_verify(k, id, ts, body, n, sig), 1);
	assert_int_equal(webhook_verify(k, "msg_other", ts, body, n, sig), 0);
	assert_int_equal(webhook_verify(k, id, ts + 1, body, n, sig), 0);
	assert_int_equal(webhook_verify(k, id, ts - 300, body, n, sig), 0);
	b2[n / 2] ^= 1;
	assert_int_equal(webhook_verify(k, id, ts, b2, n, sig), 0);
	assert_int_equal(webhook_verify(k, id, ts, body, n - 1, sig), 0);
	free(b2);
	/* the version is part of the match */
	snprintf(other, sizeof(other), "%s%s",
	    strncmp(sig, "v1a,", 4) == 0 ? "v1," : "v1a,",
	    strchr(sig, ',') + 1);
	assert_int_equal(webhook_verify(k, id, ts, body, n, other), 0);
	snprintf(other, sizeof(other), "v2%s", strchr(sig, ','));
	assert_int_equal(webhook_verify(k, id, ts, body, n, other), 0);
	/* a list: any one that matches is enough */
	snprintf(other, sizeof(other),
	    "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
	    "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=  %s "
	    "v1a,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
	    sig);
	assert_int_equal(webhook_verify(k, id, ts, body, n, other), 1);
	assert_int_equal(
	    webhook_verify(k, id, ts, body, n,
		"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
		"v1a,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="),
	    0);
	/* a truncated one, an empty one, garbage */
	snprintf(other, sizeof(other), "%.*s", (int)strlen(sig) - 4, sig);
	assert_int_equal(webhook_verify(k, id, ts, body, n, other), 0);
	assert_int_equal(webhook_verify(k, id, ts, body, n, "v1,"), 0);
	assert_int_equal(webhook_verify(k, id, ts, body, n, "v1a,"), 0);
	assert_int_equal(webhook_verify(k, id, ts, body, n, ""), 0);
	assert_int_equal(webhook_verify(k, id, ts, body, n, "   "), 0);
	assert_int_equal(webhook_verify(k, id, ts, body, n, "v1,!!!!"), 0);
}

static void
t_secret_decode(void **state)
{
	unsigned char s[WEBHOOK_SECRET_MAX];
	size_t n = 0;

	(void)state;
	assert_int_equal(webhook_secret_decode(SW_SECRET, s, sizeof(s), &n), 0);
	assert_int_equal(n, 24);
	assert_memory_equal(s, "\x31\xf2\x90\xf6\xbf\x06", 6);
	assert_int_equal(webhook_secret_decode("whsec_YWJj", s, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(s, "abc", 3);
	assert_int_equal(webhook_secret_decode("whsec_YWI=", s, 3, &n), 0);
	assert_int_equal(n, 2);
	/* too long for the buffer */
	assert_int_equal(webhook_secret_decode("whsec_YWJj", s, 2, &n), -1);
	assert_int_equal(
	    webhook_secret_decode(
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", s, sizeof(s), &n),
	    -1);
	assert_int_equal(webhook_secret_decode("whsec_", s, sizeof(s), &n), -1);
	assert_int_equal(
	    webhook_secret_decode("whsec_YWJ", s, sizeof(s), &n), -1);
	assert_int_equal(
	    webhook_secret_decode("whsec_YW!j", s, sizeof(s), &n), -1);
	assert_int_equal(
	    webhook_secret_decode("whsec_====", s, sizeof(s), &n), -1);
}

static void
t_hmac_vector(void **state)
{
	struct webhook_key *k;
	char sig[WEBHOOK_SIG_MAX], pub[128];

	(void)state;
	k = sw_hmac_key();
	assert_non_null(k);
	assert_int_equal(
	    webhook_sign(k, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), sig), 0);
	assert_string_equal(sig, SW_V1);
	check_alterations(k, SW_ID, SW_TS, SW_BODY, SW_V1);
	/* the reference tests' "invalid signature" */
	assert_int_equal(
	    webhook_verify(k, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY),
		"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="),
	    0);
	/* no public key to an HMAC secret */
	assert_int_equal(webhook_key_public(k, pub, sizeof(pub)), -1);
	webhook_key_free(k);
	/* another secret does not verify it */
	k = webhook_key_hmac((const unsigned char *)"another secret", 14);
	assert_non_null(k);
	assert_int_equal(
	    webhook_verify(k, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), SW_V1),
	    0);
	webhook_key_free(k);
	assert_null(webhook_key_hmac((const unsigned char *)"", 0));
	webhook_key_free(NULL);
}

static void
t_ed25519_vectors(void **state)
{
	struct webhook_key *k;
	char sig[WEBHOOK_SIG_MAX], pub[128];

	(void)state;
	/* the reference library's vector */
	k = ed_key_from(SW_ED_PEM);
	assert_int_equal(
	    webhook_sign(k, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), sig), 0);
	assert_string_equal(sig, SW_V1A);
	assert_int_equal(webhook_key_public(k, pub, sizeof(pub)), 0);
	assert_string_equal(pub, SW_ED_PUB);
	assert_int_equal(webhook_key_public(k, pub, strlen(SW_ED_PUB)), -1);
	check_alterations(k, SW_ID, SW_TS, SW_BODY, SW_V1A);
	webhook_key_free(k);

	/* the one openssl pkeyutl made */
	k = ed_key_from(OSSL_PEM);
	assert_int_equal(webhook_sign(k, OSSL_ID, OSSL_TS, OSSL_BODY,
			     strlen(OSSL_BODY), sig),
	    0);
	assert_string_equal(sig, OSSL_V1A);
	assert_int_equal(webhook_key_public(k, pub, sizeof(pub)), 0);
	assert_string_equal(pub, OSSL_PUB);
	check_alterations(k, OSSL_ID, OSSL_TS, OSSL_BODY, OSSL_V1A);
	/* another key's signature does not verify */
	assert_int_equal(
	    webhook_verify(k, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), SW_V1A),
	    0);
	webhook_key_free(k);
}

static void
t_round_trip(void **state)
{
	struct webhook_key *k[2];
	EVP_PKEY *pkey;
	BIO *bio;
	char *pem, sig[WEBHOOK_SIG_MAX], id[WEBHOOK_ID_MAX];
	char longid[WEBHOOK_ID_MAX + 40];
	unsigned char secret[32];
	size_t big = 1 << 20, i, j;
	char *body;
	long n;

	(void)state;
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(pkey);
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &pem);
	pem = strndup(pem, (size_t)n);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	k[0] = ed_key_from(pem);
	free(pem);
	for (i = 0; i < sizeof(secret); i++)
		secret[i] = (unsigned char)(i * 7 + 1);
	k[1] = webhook_key_hmac(secret, sizeof(secret));
	assert_non_null(k[1]);

	body = malloc(big + 1);
	assert_non_null(body);
	for (i = 0; i < big; i++)
		body[i] = (char)('a' + i % 26);
	body[big] = '\0';
	webhook_msg_id("sub", "coll", 1, 2, id);
	for (j = 0; j < 2; j++) {
		assert_int_equal(
		    webhook_sign(k[j], id, 1764896400, body, big, sig), 0);
		assert_int_equal(
		    webhook_verify(k[j], id, 1764896400, body, big, sig), 1);
		assert_int_equal(
		    webhook_verify(k[1 - j], id, 1764896400, body, big, sig),
		    0);
		check_alterations(k[j], id, 1764896400, body, sig);
		/* an empty body signs too */
		assert_int_equal(webhook_sign(k[j], id, 0, "", 0, sig), 0);
		assert_int_equal(webhook_verify(k[j], id, 0, "", 0, sig), 1);
		assert_int_equal(webhook_verify(k[j], id, 0, "x", 1, sig), 0);
	}
	/* an id too long to sign */
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(webhook_sign(k[1], longid, 1, "", 0, sig), -1);
	longid[WEBHOOK_ID_MAX] = '\0';
	assert_int_equal(webhook_sign(k[1], longid, 1, "", 0, sig), -1);
	longid[WEBHOOK_ID_MAX - 1] = '\0';
	assert_int_equal(webhook_sign(k[1], longid, 1, "", 0, sig), 0);
	assert_int_equal(webhook_verify(k[1], longid, 1, "", 0, sig), 1);
	free(body);
	webhook_key_free(k[0]);
	webhook_key_free(k[1]);
}

static void
t_key_errors(void **state)
{
	struct webhook_key *k;
	EVP_PKEY *ec;
	BIO *bio;
	char path[64], err[256], *pem;
	long n;

	(void)state;
	k = webhook_key_ed25519("/nonexistent/key.pem", err, sizeof(err));
	assert_null(k);
	assert_non_null(strstr(err, "/nonexistent/key.pem: "));

	tmpfile_with("not a key\n", path);
	assert_null(webhook_key_ed25519(path, err, sizeof(err)));
	assert_non_null(strstr(err, "not a PEM private key"));
	unlink(path);

	/* a public key alone cannot sign */
	tmpfile_with(
	    "-----BEGIN PUBLIC KEY-----\n"
	    "MCowBQYDK2VwAyEAwDvbybclzOFkfwD5OJebh63jU0pdWtxDEshlWLSDGDY=\n"
	    "-----END PUBLIC KEY-----\n",
	    path);
	assert_null(webhook_key_ed25519(path, err, sizeof(err)));
	unlink(path);

	/* an EC key is not Ed25519 */
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(ec);
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(
	    PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &pem);
	pem = strndup(pem, (size_t)n);
	BIO_free(bio);
	EVP_PKEY_free(ec);
	tmpfile_with(pem, path);
	free(pem);
	assert_null(webhook_key_ed25519(path, err, sizeof(err)));
	assert_non_null(strstr(err, "not an Ed25519 key"));
	unlink(path);
}

static void
t_msg_id(void **state)
{
	char a[WEBHOOK_ID_MAX], b[WEBHOOK_ID_MAX];
	size_t i;

	(void)state;
	webhook_msg_id("br-hook", "2bb3c5d4-0000-4000-8000-000000000001",
	    INT64_C(1764896400000000), INT64_C(1764896400123456), a);
	assert_int_equal(strlen(a), 44);
	assert_memory_equal(a, "msg_", 4);
	for (i = 4; i < 44; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	/* stable */
	webhook_msg_id("br-hook", "2bb3c5d4-0000-4000-8000-000000000001",
	    INT64_C(1764896400000000), INT64_C(1764896400123456), b);
	assert_string_equal(a, b);
	/* every field counts */
	webhook_msg_id("br-hook2", "2bb3c5d4-0000-4000-8000-000000000001",
	    INT64_C(1764896400000000), INT64_C(1764896400123456), b);
	assert_string_not_equal(a, b);
	webhook_msg_id("br-hook", "2bb3c5d4-0000-4000-8000-000000000002",
	    INT64_C(1764896400000000), INT64_C(1764896400123456), b);
	assert_string_not_equal(a, b);
	webhook_msg_id("br-hook", "2bb3c5d4-0000-4000-8000-000000000001",
	    INT64_C(1764896400000001), INT64_C(1764896400123456), b);
	assert_string_not_equal(a, b);
	webhook_msg_id("br-hook", "2bb3c5d4-0000-4000-8000-000000000001",
	    INT64_C(1764896400000000), INT64_C(1764896400123457), b);
	assert_string_not_equal(a, b);
	/* names do not run into each other */
	webhook_msg_id("ab", "c", 1, 2, a);
	webhook_msg_id("a", "bc", 1, 2, b);
	assert_string_not_equal(a, b);
}

static void
t_challenge(void **state)
{
	struct buf b = BUF_INIT;
	char c[WEBHOOK_CHALLENGE_MAX], c2[WEBHOOK_CHALLENGE_MAX];
	char answer[256];
	json_t *root;
	int n;

	(void)state;
	webhook_challenge_body(&b, c);
	assert_false(buf_failed(&b));
	assert_true(strlen(c) >= 32);
	root = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "type")),
	    "webhook.challenge");
	assert_string_equal(
	    json_string_value(json_object_get(root, "challenge")), c);
	json_decref(root);
	buf_reset(&b);
	webhook_challenge_body(&b, c2);
	assert_string_not_equal(c, c2);
	buf_clear(&b);

	n = snprintf(answer, sizeof(answer), "{\"challenge\": \"%s\"}", c);
	assert_int_equal(webhook_challenge_ok(c, answer, (size_t)n), 1);
	n = snprintf(answer, sizeof(answer),
	    " {\"type\":\"webhook.challenge\",\"challenge\":\"%s\"}\n", c);
	assert_int_equal(webhook_challenge_ok(c, answer, (size_t)n), 1);
	/* the other challenge, a prefix, a number, an array, not JSON */
	n = snprintf(answer, sizeof(answer), "{\"challenge\":\"%s\"}", c2);
	assert_int_equal(webhook_challenge_ok(c, answer, (size_t)n), 0);
	n = snprintf(answer, sizeof(answer), "{\"challenge\":\"%.10s\"}", c);
	assert_int_equal(webhook_challenge_ok(c, answer, (size_t)n), 0);
	assert_int_equal(webhook_challenge_ok(c, "{\"challenge\":1}", 15), 0);
	n = snprintf(answer, sizeof(answer), "[\"%s\"]", c);
	assert_int_equal(webhook_challenge_ok(c, answer, (size_t)n), 0);
	n = snprintf(answer, sizeof(answer), "%s", c);
	assert_int_equal(webhook_challenge_ok(c, answer, (size_t)n), 0);
	assert_int_equal(webhook_challenge_ok(c, "", 0), 0);
	n = snprintf(answer, sizeof(answer),
	    "{\"challenge\":\"%s\",\"challenge\":\"%s\"}", c, c);
	assert_int_equal(webhook_challenge_ok(c, answer, (size_t)n), 0);
	/* an empty challenge never matches */
	assert_int_equal(
	    webhook_challenge_ok("", "{\"challenge\":\"\"}", 16), 0);
}

/* Every allocation failing in turn: a clean NULL or -1, never a crash or
 * (under ASan) a leak. */
static void
t_oom(void **state)
{
	unsigned char s[32] = {1, 2, 3};
	struct webhook_key *k, *ed;
	char sig[WEBHOOK_SIG_MAX];
	long i, n;
	int rc;

	(void)state;
	ed = ed_key_from(OSSL_PEM);
	for (i = 0;; i++) {
		hub_alloc_fail_after(i);
		k = webhook_key_hmac(s, sizeof(s));
		n = hub_alloc_fail_after(-1);
		if (k != NULL) {
			webhook_key_free(k);
			break;
		}
		assert_true(i < 10 && n > i);
	}
	for (i = 0;; i++) {
		hub_alloc_fail_after(i);
		rc = webhook_sign(
		    ed, OSSL_ID, OSSL_TS, OSSL_BODY, strlen(OSSL_BODY), sig);
		hub_alloc_fail_after(-1);
		if (rc == 0)
			break;
		assert_true(i < 10);
	}
	assert_string_equal(sig, OSSL_V1A);
	webhook_key_free(ed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_secret_decode),
	    cmocka_unit_test(t_hmac_vector),
	    cmocka_unit_test(t_ed25519_vectors),
	    cmocka_unit_test(t_round_trip),
	    cmocka_unit_test(t_key_errors),
	    cmocka_unit_test(t_msg_id),
	    cmocka_unit_test(t_challenge),
	    cmocka_unit_test(t_oom),
	};

	return cmocka_run_group_tests_name("webhook", tests, NULL, NULL);
}
