/*
 * webhook_sign.c -- integ_client --webhook-sign KEY ID TS FILE: prints the
 * webhook-signature common/webhook.c makes for FILE's bytes, so that
 * push_rx_test.sh can check it against push_rx.py's own implementation.
 * KEY is a whsec_ secret or the path of an Ed25519 PEM key.
 *   integ_client --webhook-public PEM: prints the key's whpk_ value.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctihub/webhook.h"

#include "integ.h"

static struct webhook_key *
key_of(const char *arg)
{
	unsigned char s[WEBHOOK_SECRET_MAX];
	char err[256];
	struct webhook_key *k;
	size_t n;

	if (strncmp(arg, WEBHOOK_SECRET_PFX, strlen(WEBHOOK_SECRET_PFX)) == 0) {
		if (webhook_secret_decode(arg, s, sizeof(s), &n) == -1) {
			fprintf(stderr, "webhook-sign: bad secret\n");
			return NULL;
		}
		return webhook_key_hmac(s, n);
	}
	if ((k = webhook_key_ed25519(arg, err, sizeof(err))) == NULL)
		fprintf(stderr, "webhook-sign: %s\n", err);
	return k;
}

int
webhook_sign_main(int argc, char **argv)
{
	struct webhook_key *k;
	char sig[WEBHOOK_SIG_MAX], pub[128];
	char *body = NULL;
	size_t len = 0;
	FILE *f;
	int rc = 2;

	if (argc == 3 && strcmp(argv[1], "--webhook-public") == 0) {
		if ((k = key_of(argv[2])) == NULL)
			return 2;
		if (webhook_key_public(k, pub, sizeof(pub)) == 0) {
			printf("%s\n", pub);
			rc = 0;
		}
		webhook_key_free(k);
		return rc;
	}
	if (argc != 6) {
		fprintf(stderr,
		    "usage: integ_client --webhook-sign KEY ID TS "
		    "FILE\n");
		return 2;
	}
	if ((k = key_of(argv[2])) == NULL)
		return 2;
	if ((f = fopen(argv[5], "rb")) != NULL) {
		body = malloc(1 << 20);
		if (body != NULL)
			len = fread(body, 1, 1 << 20, f);
		fclose(f);
	}
	if (body != NULL &&
	    webhook_sign(
		k, argv[3], strtoll(argv[4], NULL, 10), body, len, sig) == 0) {
		printf("%s\n", sig);
		rc = 0;
	}
	free(body);
	webhook_key_free(k);
	return rc;
}
