/*
 * fetch.h -- the outbound event loop: one thread with its own event base
 * running libcurl's multi-socket API, for push deliveries and feed
 * connectors.  Any thread submits a request (copied whole at submission)
 * and gets its response in a completion callback that runs on the fetch
 * thread, exactly once per accepted submission.  Connections are kept
 * alive and reused across requests to the same host.
 *
 * What it always does, whatever the options: TLS with the peer's
 * certificate and host name verified (a CA bundle option for private CAs;
 * verification cannot be turned off), https:// only, redirects not
 * followed (a 3xx comes back with its Location), no proxy from the
 * environment, no signals, a cap on the response size, connect and total
 * timeouts, and every resolved address checked before it is connected to
 * (by default only public unicast addresses pass: see fetch_addr_public).
 *
 * What it does not do: retries, backoff, parsing bodies, or anything with
 * LMDB; callers decide what a response means.
 */
#ifndef CTIHUB_FETCH_H
#define CTIHUB_FETCH_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct fetcher;
struct fetch_resp;

/* Errors, in fetch_resp.result.  An HTTP error status (4xx, 5xx) is not
 * one: the exchange worked, the result is FETCH_OK and status says. */
enum fetch_err {
	FETCH_OK = 0,
	FETCH_ERR = -1,	       /* anything else (the text says) */
	FETCH_ERESOLVE = -2,   /* the host name did not resolve */
	FETCH_ECONNECT = -3,   /* no connection (refused, unreachable) */
	FETCH_EREFUSED = -4,   /* the address check refused every address */
	FETCH_ETLS = -5,       /* TLS handshake or certificate verification */
	FETCH_ETIMEOUT = -6,   /* the connect or total timeout */
	FETCH_ETOOBIG = -7,    /* the response passed max_bytes */
	FETCH_ECANCELLED = -8, /* fetcher_stop before it completed */
	FETCH_EURL = -9,       /* malformed URL, or a scheme other than https */
};

#define FETCH_ERRLEN 320 /* curl's 256 and a prefix */

struct fetch_resp {
	int result;  /* FETCH_OK or a fetch_err */
	long status; /* HTTP status; 0 when no response came */
	/* The last response's headers of these names, NUL-terminated, or
	 * NULL when absent.  Borrowed: valid during the callback. */
	const char *content_type;
	const char *retry_after;
	const char *location; /* redirects are not followed */
	const char *etag;
	const char *last_modified;
	const char *date_added_first; /* X-TAXII-Date-Added-First */
	const char *date_added_last;  /* X-TAXII-Date-Added-Last */
	/* The body, NUL-terminated (len excludes the NUL), or NULL when
	 * empty.  The callback may take it: set body to NULL, then free it
	 * with hub_free.  Otherwise it is freed when the callback returns. */
	char *body;
	size_t len;
	char error[FETCH_ERRLEN]; /* "" on FETCH_OK, else why, in words */
	char peer[64];		  /* the address connected to, "" if none */
	long new_conns; /* connections this request opened: 0 when it reused
			   one kept alive */
	/* Microseconds from the start of the transfer to: the TCP connection,
	 * the TLS handshake done, the first response byte, the end. */
	int64_t connect_us, tls_us, first_byte_us, total_us;
};

/* The completion.  Runs on the fetch thread, once per request accepted
 * by fetch_submit: when the response is complete, when the request fails,
 * or with FETCH_ECANCELLED from fetcher_stop.  It must not block: it may
 * submit requests and queue calls (they run after it returns) but must not
 * call fetcher_stop.  resp is valid only during the call. */
typedef void fetch_done_cb(struct fetch_resp *resp, void *arg);

/* Decides on a resolved address before a connection to it is made:
 * nonzero allows it.  Runs on the fetch thread. */
typedef int fetch_addr_cb(const struct sockaddr *, socklen_t, void *arg);

/* Runs on the fetch thread (fetcher_call). */
typedef void fetch_call_cb(struct fetcher *, void *arg);

struct fetch_opts {
	/* Trusted CAs, PEM: a bundle file and/or an OpenSSL hashed directory.
	 * Both NULL: the system's store.  Read at each new connection. */
	const char *ca_file;
	const char *ca_dir;
	/* A client certificate and its key (PEM files), or both NULL. */
	const char *cert_file;
	const char *key_file;
	const char *user_agent;	   /* NULL: "ctihub" */
	const char *thread_name;   /* in log lines; NULL: "fetch" */
	int max_host_conns;	   /* per host at once; 0: 4 */
	int max_conns;		   /* at once in all, and kept alive; 0: 64 */
	int connect_timeout_ms;	   /* default per request; 0: 10 s */
	int timeout_ms;		   /* total, default per request; 0: 60 s */
	size_t max_bytes;	   /* response body, default; 0: 16 MiB */
	fetch_addr_cb *addr_check; /* NULL: fetch_addr_public */
	void *addr_arg;
};

/* One request.  fetch_submit copies every field and string: the caller's
 * structure and buffers may go as soon as it returns. */
struct fetch_req {
	const char *method; /* GET (also NULL), HEAD, POST, PUT, PATCH,
			       DELETE */
	const char *url;    /* https://... */
	/* Extra header lines "Name: value", NULL-terminated array, or NULL.
	 * A line with CR or LF is refused. */
	const char *const *headers;
	const void *body; /* POST, PUT, PATCH, DELETE; may be NULL */
	size_t body_len;
	/* HTTP Basic credentials, both or neither (never logged). */
	const char *user;
	const char *password;
	/* Per request, instead of the fetcher's (NULL: the fetcher's): the
	 * CA bundle that verifies this peer, and a client certificate and
	 * its key (both or neither).  Read when a connection is made. */
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
	/* Instead of body: a hub_malloc'd body of body_len bytes that the
	 * fetcher takes (no copy) and frees, whatever fetch_submit returns. */
	char *body_owned;
	/* 1: asks for a compressed body (Accept-Encoding: gzip, deflate)
	 * and decodes it; max_bytes then bounds the decoded body (a
	 * decompression bomb stops at the cap with FETCH_ETOOBIG) */
	int gzip;
	int connect_timeout_ms; /* 0: the fetcher's default */
	int timeout_ms;		/* total; 0: the fetcher's default */
	size_t max_bytes;	/* 0: the fetcher's default */
	fetch_done_cb *done;	/* required */
	void *arg;
};

/*
 * Starts the fetch thread.  The process must have called
 * curl_global_init() before (once, in main, before any thread).  Strings
 * in opts are copied.  Returns NULL, with the reason logged, when an option
 * is unusable (a CA file that cannot be read, a certificate without its
 * key) or a resource is missing.
 */
struct fetcher *fetcher_start(const struct fetch_opts *);

/*
 * Queues a request; returns at once.  Thread-safe, also from a completion
 * or a call on the fetch thread.  Returns 0 when the request is taken: its
 * done callback will then run exactly once.  Returns -1 when it is not
 * (invalid, out of memory, or the fetcher is stopping): done never runs.
 */
int fetch_submit(struct fetcher *, const struct fetch_req *);

/*
 * Runs fn(fetcher, arg) on the fetch thread, after what is queued before
 * it.  Thread-safe.  0 when queued (fn runs exactly once, also when
 * fetcher_stop comes first), -1 when not (out of memory, or stopping).
 */
int fetcher_call(struct fetcher *, fetch_call_cb *fn, void *arg);

/*
 * The fetch thread's event base, for timers and events of code that runs
 * there (push retries).  Only to be used on the fetch thread, from calls
 * and completions; events on it must be gone before fetcher_stop returns
 * (free them in a call queued before it).
 */
struct event_base *fetcher_base(struct fetcher *);

/*
 * Stops the thread: calls queued before it run, requests in flight or
 * still queued complete with FETCH_ECANCELLED (each completion exactly
 * once, on the fetch thread), submissions and calls from those
 * completions and calls are refused; then joins the thread and frees
 * everything.  Not from the fetch thread; other threads must have stopped
 * using the fetcher (their submissions racing with it are refused only
 * until it frees the fetcher).  fetcher_stop(NULL) does nothing.
 */
void fetcher_stop(struct fetcher *);

/* The default address check: allows only public unicast addresses --
 * refuses loopback, private (RFC 1918, unique local), link-local, shared
 * (100.64/10), unspecified, multicast, broadcast, documentation and
 * reserved ranges, and IPv4-mapped, -compatible and NAT64 forms of those.
 * arg is unused. */
int fetch_addr_public(const struct sockaddr *, socklen_t, void *arg);

/* The fetch_err for a CURLcode (an int here so that callers need not
 * include curl.h). */
int fetch_curl_err(int curlcode);

/* A short name for a fetch_err ("timeout", "tls", ...). */
const char *fetch_strerror(int);

#endif
