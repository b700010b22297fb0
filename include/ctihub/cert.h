/*
 * cert.h -- the hub's own TLS certificate when none is configured: a
 * self-signed ECDSA P-256 certificate for localhost, 127.0.0.1 and ::1
 * (plus the host name), made with the OpenSSL API, SHA-256 fingerprints
 * of certificates for display and client-certificate login, and the check
 * of a certificate's validity dates.
 */
#ifndef CTIHUB_CERT_H
#define CTIHUB_CERT_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "ctihub/cred.h"

/*
 * Writes a new key (mode 0600) and self-signed certificate to the two
 * paths, replacing nothing: fails if either exists.  Returns 0, or -1
 * with a reason in err.
 */
int cert_generate(const char *certpath, const char *keypath,
    const char *hostname, int days, char *err, size_t errlen);
/* SHA-256 over the DER form of the certificate. */
int cert_fingerprint(X509 *, unsigned char fp[CRED_DIGEST_LEN]);
/* The same for the first certificate of a PEM file; 0 or -1. */
int cert_fingerprint_file(const char *path, unsigned char fp[CRED_DIGEST_LEN],
    char *err, size_t errlen);
/* 0 when `now` is within the certificate's notBefore..notAfter, else -1
 * with "expired on ..." or "not valid before ..." in err. */
int cert_check_dates(X509 *, time_t now, char *err, size_t errlen);

#endif
