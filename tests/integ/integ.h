/*
 * integ.h -- the integration test client: HTTPS requests with libcurl
 * against a real ctihubd started by run.sh, TAP output, and helpers for
 * the files and signals the reload tests need.
 */
#ifndef CTIHUB_INTEG_H
#define CTIHUB_INTEG_H

#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

struct resp {
	long code;
	char *body;
	size_t len;
	char ctype[256];
	char headers[8192];
	json_t *json; /* parsed body when it is JSON, else NULL */
	int err;      /* the CURLcode of a transport error, else 0 */
	long sent;    /* bytes of request headers sent (retries too) */
};

struct opts {
	const char *user; /* "name:password" */
	const char *token;
	const char *cert; /* client certificate and key (PEM) */
	const char *key;
	const char *accept; /* NULL: the TAXII media type */
	const char *ctype;  /* Content-Type of a body */
	const char *header; /* one extra raw header line */
	const char *body;
	size_t bodylen;
	long tls_max; /* CURL_SSLVERSION_MAX_* or 0 */
	long tls_min;
	int path_as_is;
	const char *from; /* a loopback address to connect from */
	int fresh;	  /* a new connection, closed after */
};

/* Performs a request; returns 0 when an HTTP answer came back (any
 * status), -1 on a transport error (then r->code is 0). */
int http(
    const char *method, const char *path, const struct opts *, struct resp *);
/* The same on a curl easy handle of the caller's (one per thread). */
int http_on(void *curl, const char *method, const char *path,
    const struct opts *, struct resp *);
void resp_free(struct resp *);
/* POSTs the NUL-terminated `body` (a TAXII envelope unless o->ctype says
 * otherwise) as `who`; as http(). */
int integ_post(
    const struct opts *who, const char *path, const char *body, struct resp *r);
/* The string member `key` of `j`, or "" (never NULL). */
const char *integ_jstr(const json_t *j, const char *key);
/* The value of a response header (case-insensitive name), or NULL;
 * static storage, valid until the next call. */
const char *resp_header(const struct resp *, const char *name);

/* A monotonic clock in milliseconds. */
double integ_ms(void);
/* Appends the ids of a page's "objects", each followed by a space. */
void integ_ids(const struct resp *, char *ids, size_t idslen);
/* GETs `first` (a path with its query), then follows `next` while "more"
 * is true, calling page(r, arg) on each page (-1 from it stops the walk).
 * Returns the pages, or -1 on an error (an answer other than 200, "more"
 * without "next"). */
typedef int integ_page_cb(const struct resp *, void *arg);
int integ_walk(
    const struct opts *who, const char *first, integ_page_cb *page, void *arg);
/* Raw TLS, for the tests that need every byte in hand.  A TCP connection
 * to the hub from loopback address `src` (NULL: any), SO_RCVTIMEO 8 s;
 * -1 on failure. */
int hub_connect(const char *src);
typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
/* A client context that checks nothing (the tests read the bytes). */
SSL_CTX *raw_ctx(void);
/* TLS over a new connection (non-blocking once open); NULL when the
 * handshake fails. */
SSL *raw_open(SSL_CTX *, const char *src);
/* Writes it all (waiting at most 5 s at a time); 0 or -1. */
int raw_write(SSL *, const void *, size_t);
void raw_close(SSL *);
/* Reads what the hub sends until it closes the connection or `ms`
 * milliseconds pass; returns the bytes read (NUL-terminated in buf) and
 * sets *closed: 1 when the hub closed it (close_notify, EOF or reset), 0
 * when our time ran out first. */
size_t raw_read(SSL *, char *buf, size_t len, int ms, int *closed);

/* Environment from run.sh. */
const char *env(const char *name);
/* A whole file, NUL-terminated (caller frees with free), or NULL. */
char *file_read(const char *path);
/* Replaces `from` by `to` in a file; 0 or -1. */
int file_replace(const char *path, const char *from, const char *to);
int file_write(const char *path, const char *text);
/* Counts occurrences of `needle` in the daemon's log. */
int log_count(const char *needle);
/* Waits (at most `secs`) until the log holds more than `before`
 * occurrences of `needle`; 0 when it did. */
int log_wait(const char *needle, int before, int secs);
/* Sends a signal to the daemon. */
int hub_signal(int sig);

/* Test registration: each file of tests/integ defines a table. */
typedef int test_fn(char *why, size_t whylen);
struct test {
	const char *name;
	test_fn *fn;
};
extern const struct test foundation_tests[];
extern const struct test add_tests[];
extern const struct test read_tests[];
extern const struct test sharing_tests[];
extern const struct test integrity_tests[];
extern const struct test scan_tests[];
extern const struct test reload_tests[];
extern const struct test stream_tests[];
extern const struct test auth_tests[]; /* last: it floods */
extern const struct test conn_tests[];

/* durability.c: the two halves of the kill -9 test. */
int durability_main(int argc, char **argv);
/* faults.c: the fault tests' clients (run by faults.sh). */
int faults_main(int argc, char **argv);
/* obs_seed.c: --obs-seed DBDIR COLL... (tests/integ/lookup.sh) */
int obs_seed_main(int argc, char **argv);
/* webhook_sign.c: --webhook-sign and --webhook-public (push_rx_test.sh). */
int webhook_sign_main(int argc, char **argv);

/* Test data builders (t_add.c). */
struct buf;
void integ_uuid(char out[37]);
void integ_indicator(
    struct buf *, const char *uuid, const char *modified, const char *pattern);
/* Any STIX 2.1 object: type, spec_version, id, then created and modified
 * unless `modified` is NULL (SCOs have neither), then `extra`: more
 * members, each with its leading comma ("" for none). */
void integ_object(struct buf *, const char *type, const char *id,
    const char *created, const char *modified, const char *extra);

/* Read helpers (t_sharing.c). */
int integ_sees(const struct opts *who, const char *coll, const char *id,
    char *why, size_t whylen);

/* An envelope of `per` indicators, the same for the same (tag, n): ids
 * tag(8 hex)-n-4000-8000-k (faults.c). */
void integ_envelope(struct buf *, unsigned tag, unsigned n, unsigned per);

#define FAIL(...)                                                              \
	do {                                                                   \
		snprintf(why, whylen, __VA_ARGS__);                            \
		return -1;                                                     \
	} while (0)
#define EXPECT(cond, ...)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			snprintf(why, whylen, "%s:%d: ", __FILE__, __LINE__);  \
			snprintf(why + strlen(why), whylen - strlen(why),      \
			    __VA_ARGS__);                                      \
			return -1;                                             \
		}                                                              \
	} while (0)
#define EXPECT_CODE(r, c)                                                      \
	EXPECT((r)->code == (c), "status %ld, expected %d: %.300s", (r)->code, \
	    (c), (r)->body ? (r)->body : "")

#endif
