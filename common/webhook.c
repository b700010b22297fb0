/*
 * webhook.c -- Standard Webhooks v1 signatures (HMAC-SHA256 "v1",
 * Ed25519 "v1a"), the stable message id of a delivery and the endpoint
 * challenge.  Formats, parses and compares; the cryptography is OpenSSL's
 * (EVP_MAC, EVP_DigestSign, RAND_bytes).  It sends nothing and reads no
 * clock: hub/push_webhook.c does that.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <jansson.h>

#include "ctihub/alloc.h"
#include "ctihub/buf.h"
#include "ctihub/bytes.h"
#include "ctihub/webhook.h"

enum { WH_HMAC = 1, WH_ED25519 };

#define WH_MAC_LEN   32 /* HMAC-SHA256 */
#define WH_ED_SIGLEN 64
#define WH_ED_PUBLEN 32
#define WH_B64_MAX   128 /* the longest base64 field read: a signature */

struct webhook_key {
	int kind;
	unsigned char *secret; /* WH_HMAC */
	size_t len;
	EVP_MAC *mac;	/* WH_HMAC: fetched once */
	EVP_PKEY *pkey; /* WH_ED25519 */
};

static int wh_b64_decode(
    const char *s, size_t n, unsigned char *out, size_t max, size_t *outlen);
static int wh_prefix(
    const char *msg_id, int64_t ts, char *out, size_t outlen, size_t *len);
static int wh_hmac(const struct webhook_key *, const char *pre, size_t prelen,
    const void *body, size_t len, unsigned char mac[WH_MAC_LEN]);
static int wh_ed_sign(const struct webhook_key *, const char *pre,
    size_t prelen, const void *body, size_t len,
    unsigned char sig[WH_ED_SIGLEN]);
static int wh_ed_verify(const struct webhook_key *, const char *pre,
    size_t prelen, const void *body, size_t len, const unsigned char *sig,
    size_t siglen);

/* Standard base64, padded, n a multiple of 4; at most max bytes out. */
static int
wh_b64_decode(
    const char *s, size_t n, unsigned char *out, size_t max, size_t *outlen)
{
	unsigned char tmp[WH_B64_MAX];
	size_t pad = 0, i;
	int got;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof(tmp))
		return -1;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	/* EVP_DecodeBlock takes '=' anywhere and skips blanks: not here */
	for (i = 0; i < n - pad; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '+' ||
			s[i] == '/'))
			return -1;
	got = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got < pad || (size_t)got - pad > max ||
	    (size_t)got == pad) {
		OPENSSL_cleanse(tmp, sizeof(tmp));
		return -1;
	}
	*outlen = (size_t)got - pad;
	memcpy(out, tmp, *outlen);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return 0;
}

int
webhook_secret_decode(
    const char *s, unsigned char *out, size_t outlen, size_t *len)
{
	size_t pl = strlen(WEBHOOK_SECRET_PFX);

	if (strncmp(s, WEBHOOK_SECRET_PFX, pl) != 0)
		return -1;
	s += pl;
	return wh_b64_decode(s, strlen(s), out, outlen, len);
}

struct webhook_key *
webhook_key_hmac(const unsigned char *secret, size_t len)
{
	struct webhook_key *k;

	if (len == 0 || (k = hub_calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->kind = WH_HMAC;
	if ((k->secret = hub_malloc(len)) == NULL)
		goto fail;
	memcpy(k->secret, secret, len);
	k->len = len;
	if ((k->mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL)) == NULL)
		goto fail;
	return k;
fail:
	webhook_key_free(k);
	return NULL;
}

struct webhook_key *
webhook_key_ed25519(const char *pem_file, char *err, size_t errlen)
{
	struct webhook_key *k = NULL;
	EVP_PKEY *pkey;
	FILE *f;

	if ((f = fopen(pem_file, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", pem_file, strerror(errno));
		return NULL;
	}
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL) {
		snprintf(err, errlen, "%s: not a PEM private key (%s)",
		    pem_file, ERR_reason_error_string(ERR_peek_last_error()));
		ERR_clear_error();
		return NULL;
	}
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
		snprintf(err, errlen, "%s: not an Ed25519 key", pem_file);
		goto fail;
	}
	if ((k = hub_calloc(1, sizeof(*k))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", pem_file);
		goto fail;
	}
	k->kind = WH_ED25519;
	k->pkey = pkey;
	return k;
fail:
	EVP_PKEY_free(pkey);
	return NULL;
}

void
webhook_key_free(struct webhook_key *k)
{
	if (k == NULL)
		return;
	if (k->secret != NULL) {
		OPENSSL_cleanse(k->secret, k->len);
		hub_free(k->secret);
	}
	EVP_MAC_free(k->mac);
	EVP_PKEY_free(k->pkey);
	hub_free(k);
}

int
webhook_key_public(const struct webhook_key *k, char *out, size_t outlen)
{
	unsigned char pub[WH_ED_PUBLEN];
	size_t n = sizeof(pub), pl = strlen(WEBHOOK_PUBLIC_PFX);

	if (k->kind != WH_ED25519 || outlen < pl + 4 * ((n + 2) / 3) + 1 ||
	    EVP_PKEY_get_raw_public_key(k->pkey, pub, &n) != 1 ||
	    n != WH_ED_PUBLEN) {
		ERR_clear_error();
		return -1;
	}
	memcpy(out, WEBHOOK_PUBLIC_PFX, pl);
	EVP_EncodeBlock((unsigned char *)out + pl, pub, (int)n);
	return 0;
}

void
webhook_msg_id(const char *sub, const char *coll, int64_t from, int64_t to,
    char out[WEBHOOK_ID_MAX])
{
	/* SHA-256 of each name (so no pair of names runs into another),
	 * then of both digests and the two cursors */
	unsigned char in[2 * SHA256_DIGEST_LENGTH + 16];
	unsigned char md[SHA256_DIGEST_LENGTH];

	out[0] = '\0';
	if (SHA256((const unsigned char *)sub, strlen(sub), in) == NULL ||
	    SHA256((const unsigned char *)coll, strlen(coll),
		in + SHA256_DIGEST_LENGTH) == NULL)
		return;
	put_be64(in + 2 * SHA256_DIGEST_LENGTH, (uint64_t)from);
	put_be64(in + 2 * SHA256_DIGEST_LENGTH + 8, (uint64_t)to);
	if (SHA256(in, sizeof(in), md) == NULL)
		return;
	memcpy(out, "msg_", 4);
	hex_encode(md, 20, out + 4);
}

/* "msg_id.ts." into out: the part of the signed content before the body. */
static int
wh_prefix(const char *msg_id, int64_t ts, char *out, size_t outlen, size_t *len)
{
	int n;

	if (strlen(msg_id) >= WEBHOOK_ID_MAX)
		return -1;
	n = snprintf(out, outlen, "%s.%" PRId64 ".", msg_id, ts);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	*len = (size_t)n;
	return 0;
}

static int
wh_hmac(const struct webhook_key *k, const char *pre, size_t prelen,
    const void *body, size_t len, unsigned char mac[WH_MAC_LEN])
{
	static char digest[] = "SHA256";
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	size_t n = 0;
	int rc = -1;

	params[0] =
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(k->mac)) == NULL)
		goto done;
	if (EVP_MAC_init(ctx, k->secret, k->len, params) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)pre, prelen) == 1 &&
	    EVP_MAC_update(ctx, body, len) == 1 &&
	    EVP_MAC_final(ctx, mac, &n, WH_MAC_LEN) == 1 && n == WH_MAC_LEN)
		rc = 0;
	EVP_MAC_CTX_free(ctx);
done:
	ERR_clear_error();
	return rc;
}

/* Ed25519 signs the whole message at once: prefix and body, copied. */
static unsigned char *
wh_message(const char *pre, size_t prelen, const void *body, size_t len)
{
	unsigned char *m;

	if ((m = hub_malloc(prelen + len + 1)) == NULL)
		return NULL;
	memcpy(m, pre, prelen);
	if (len > 0)
		memcpy(m + prelen, body, len);
	return m;
}

static int
wh_ed_sign(const struct webhook_key *k, const char *pre, size_t prelen,
    const void *body, size_t len, unsigned char sig[WH_ED_SIGLEN])
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char *m;
	size_t n = WH_ED_SIGLEN;
	int rc = -1;

	if ((m = wh_message(pre, prelen, body, len)) == NULL)
		return -1;
	if ((ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestSign(ctx, sig, &n, m, prelen + len) == 1 &&
	    n == WH_ED_SIGLEN)
		rc = 0;
	EVP_MD_CTX_free(ctx);
	hub_free(m);
	ERR_clear_error();
	return rc;
}

static int
wh_ed_verify(const struct webhook_key *k, const char *pre, size_t prelen,
    const void *body, size_t len, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char *m;
	int ok = 0;

	if ((m = wh_message(pre, prelen, body, len)) == NULL)
		return 0;
	if ((ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, m, prelen + len) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	hub_free(m);
	ERR_clear_error();
	return ok;
}

int
webhook_sign(const struct webhook_key *k, const char *msg_id, int64_t ts,
    const void *body, size_t len, char out[WEBHOOK_SIG_MAX])
{
	char pre[WEBHOOK_ID_MAX + 32];
	unsigned char sig[WH_ED_SIGLEN];
	size_t prelen, siglen;
	const char *ver;

	if (wh_prefix(msg_id, ts, pre, sizeof(pre), &prelen) == -1)
		return -1;
	if (k->kind == WH_HMAC) {
		if (wh_hmac(k, pre, prelen, body, len, sig) == -1)
			return -1;
		ver = "v1,";
		siglen = WH_MAC_LEN;
	} else {
		if (wh_ed_sign(k, pre, prelen, body, len, sig) == -1)
			return -1;
		ver = "v1a,";
		siglen = WH_ED_SIGLEN;
	}
	/* "v1a," and 88 base64 digits fit WEBHOOK_SIG_MAX */
	snprintf(out, WEBHOOK_SIG_MAX, "%s", ver);
	EVP_EncodeBlock((unsigned char *)out + strlen(ver), sig, (int)siglen);
	return 0;
}

int
webhook_verify(const struct webhook_key *k, const char *msg_id, int64_t ts,
    const void *body, size_t len, const char *sigheader)
{
	char pre[WEBHOOK_ID_MAX + 32];
	unsigned char mac[WH_MAC_LEN], got[WH_B64_MAX];
	const char *p = sigheader, *ver, *end;
	size_t prelen, n, vl, gotlen;
	int ok = 0;

	if (wh_prefix(msg_id, ts, pre, sizeof(pre), &prelen) == -1)
		return 0;
	if (k->kind == WH_HMAC) {
		ver = "v1,";
		if (wh_hmac(k, pre, prelen, body, len, mac) == -1)
			return 0;
	} else
		ver = "v1a,";
	vl = strlen(ver);
	while (!ok && *p != '\0') {
		while (*p == ' ')
			p++;
		if ((end = strchr(p, ' ')) == NULL)
			end = p + strlen(p);
		n = (size_t)(end - p);
		if (n > vl && strncmp(p, ver, vl) == 0 &&
		    wh_b64_decode(p + vl, n - vl, got, sizeof(got), &gotlen) ==
			0) {
			if (k->kind == WH_HMAC)
				ok = gotlen == WH_MAC_LEN &&
				    CRYPTO_memcmp(got, mac, WH_MAC_LEN) == 0;
			else
				ok = gotlen == WH_ED_SIGLEN &&
				    wh_ed_verify(
					k, pre, prelen, body, len, got, gotlen);
		}
		p = end;
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	return ok;
}

void
webhook_challenge_body(struct buf *b, char challenge[WEBHOOK_CHALLENGE_MAX])
{
	unsigned char raw[32];
	char b64[4 * ((sizeof(raw) + 2) / 3) + 1];
	size_t i, j;

	challenge[0] = '\0';
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		ERR_clear_error();
		b->failed = 1;
		return;
	}
	EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
	/* base64url, unpadded: nothing in it needs escaping anywhere */
	for (i = j = 0; b64[i] != '\0' && j < WEBHOOK_CHALLENGE_MAX - 1; i++) {
		if (b64[i] == '=')
			continue;
		challenge[j++] = b64[i] == '+' ? '-'
		    : b64[i] == '/'	       ? '_'
					       : b64[i];
	}
	challenge[j] = '\0';
	buf_adds(b, "{\"type\":\"webhook.challenge\",\"challenge\":");
	buf_add_jstr(b, challenge, j);
	buf_addc(b, '}');
}

int
webhook_challenge_ok(const char *challenge, const char *body, size_t len)
{
	json_t *root, *v;
	int ok;

	if (challenge[0] == '\0' ||
	    (root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)) ==
		NULL)
		return 0;
	v = json_object_get(root, "challenge");
	ok = json_is_string(v) && json_string_length(v) == strlen(challenge) &&
	    memcmp(json_string_value(v), challenge, strlen(challenge)) == 0;
	json_decref(root);
	return ok;
}
