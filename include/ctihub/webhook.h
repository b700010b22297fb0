/*
 * webhook.h -- Standard Webhooks v1 (standardwebhooks.com): the signature
 * a push delivery carries in its webhook-signature header, over
 * "<webhook-id>.<webhook-timestamp>.<body>", with an HMAC-SHA256 secret
 * ("v1,<base64>", secrets written "whsec_<base64>") or an Ed25519 private
 * key ("v1a,<base64>", the receiver's public key written
 * "whpk_<base64 of the 32 raw bytes>"); the stable message id of a
 * delivery; and the challenge a webhook endpoint answers before it is
 * first used.  Keys, hashes and randomness are OpenSSL's.  No sockets, no
 * clock: the caller gives the timestamp and checks its freshness.
 */
#ifndef CTIHUB_WEBHOOK_H
#define CTIHUB_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_ID_MAX	      64
#define WEBHOOK_SIG_MAX	      256
#define WEBHOOK_SECRET_MIN    24 /* bytes of a whsec_ secret, decoded */
#define WEBHOOK_SECRET_MAX    64
#define WEBHOOK_SECRET_PFX    "whsec_"
#define WEBHOOK_PUBLIC_PFX    "whpk_"
#define WEBHOOK_CHALLENGE_MAX 64 /* with its NUL */

struct buf;
struct webhook_key; /* opaque: an HMAC secret or an Ed25519 private key */

/* Decodes "whsec_<base64>" (standard alphabet, padded) into out, at most
 * outlen bytes: 0 and *len, or -1 (no prefix, bad base64, too long or
 * empty).  The caller checks the length it requires
 * (WEBHOOK_SECRET_MIN..WEBHOOK_SECRET_MAX for subscriptions). */
int webhook_secret_decode(
    const char *s, unsigned char *out, size_t outlen, size_t *len);
/* An HMAC-SHA256 key from the decoded secret bytes (copied): NULL when
 * len is 0 or memory runs out.  Caller frees with webhook_key_free. */
struct webhook_key *webhook_key_hmac(const unsigned char *secret, size_t len);
/* An Ed25519 private key from a PEM file (PKCS#8, as `openssl genpkey
 * -algorithm ed25519` writes it); NULL with a reason in err.  Caller
 * frees with webhook_key_free. */
struct webhook_key *webhook_key_ed25519(
    const char *pem_file, char *err, size_t errlen);
/* Wipes and frees; NULL is a no-op. */
void webhook_key_free(struct webhook_key *);
/* The public key as "whpk_<base64>" (Ed25519 only, for the README and the
 * command line): 0, or -1 for an HMAC key or a short buffer. */
int webhook_key_public(const struct webhook_key *, char *out, size_t outlen);
/* A message id stable across retries of one delivery: "msg_" + 40 hex
 * digits of SHA-256 over (subscription name, collection id, cursor_from,
 * cursor_to). */
void webhook_msg_id(const char *sub, const char *coll, int64_t from, int64_t to,
    char out[WEBHOOK_ID_MAX]);
/* The webhook-signature value for "msg_id.ts.body": "v1,<base64
 * HMAC-SHA256>" or "v1a,<base64 Ed25519 signature>".  0, or -1 (msg_id
 * of WEBHOOK_ID_MAX characters or more, OpenSSL failed or memory ran out).
 * A key may sign in several threads at once.  Ed25519 signs the message
 * whole: it is copied once (id, timestamp and body). */
int webhook_sign(const struct webhook_key *, const char *msg_id, int64_t ts,
    const void *body, size_t len, char out[WEBHOOK_SIG_MAX]);
/* Verifies a webhook-signature header (a space-separated list of
 * "version,signature"; any one that matches this key is enough): 1 good,
 * 0 not.  The timestamp's freshness is the caller's to check.  For tests
 * and the `ctihub push verify` helper. */
int webhook_verify(const struct webhook_key *, const char *msg_id, int64_t ts,
    const void *body, size_t len, const char *sigheader);
/* The challenge: appends the body {"type":"webhook.challenge",
 * "challenge":"<random>"} to b and writes the random value (base64url,
 * NUL-terminated) to challenge.  A failure shows in buf_failed(b) (and
 * leaves challenge empty when randomness failed). */
void webhook_challenge_body(
    struct buf *b, char challenge[WEBHOOK_CHALLENGE_MAX]);
/* Is the endpoint's answer a JSON object whose "challenge" member equals
 * challenge?  1 yes, 0 no. */
int webhook_challenge_ok(const char *challenge, const char *body, size_t len);

#endif
