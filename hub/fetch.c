/*
 * fetch.c -- the outbound event loop (fetch.h): one thread, one event
 * base, one curl multi handle driven through the multi-socket API
 * (CURLMOPT_SOCKETFUNCTION and CURLMOPT_TIMERFUNCTION on libevent, as
 * curl's hiperfifo.c and multi-event.c do).  Other threads hand requests
 * and calls over through a locked queue and an eventfd; everything curl
 * touches lives on the fetch thread.  Connections stay in the multi
 * handle's cache between requests.  Not here: what a response means
 * (push and the feed connectors decide), retries, anything LMDB.
 */
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "ctihub/alloc.h"
#include "ctihub/buf.h"
#include "ctihub/log.h"

#include "fetch.h"

#define FETCH_DEF_HOST_CONNS 4
#define FETCH_DEF_CONNS	     64
#define FETCH_DEF_CONNECT_MS 10000
#define FETCH_DEF_TIMEOUT_MS 60000
#define FETCH_DEF_MAX_BYTES  (16 * 1024 * 1024)

/* A socket curl asked us to watch. */
struct fsock {
	struct event ev;
};

/* One request, from fetch_submit to its completion. */
struct xfer {
	TAILQ_ENTRY(xfer) entry;
	struct fetcher *f;
	CURL *easy; /* while on the multi handle */
	const char *method;
	char *url;
	struct curl_slist *hdrs;
	char *body;
	size_t body_len;
	char *user;
	char *password;
	char *ca_file; /* NULL: the fetcher's */
	char *cert_file;
	char *key_file;
	int connect_timeout_ms;
	int timeout_ms;
	size_t max_bytes;
	int gzip;
	fetch_done_cb *done;
	void *arg;
	/* filled in by the transfer */
	struct buf resp;
	int toobig;
	char refused[FETCH_ERRLEN]; /* why the address check said no */
	char errbuf[CURL_ERROR_SIZE];
};
TAILQ_HEAD(xferq, xfer);

struct fcall {
	TAILQ_ENTRY(fcall) entry;
	fetch_call_cb *fn;
	void *arg;
};
TAILQ_HEAD(fcallq, fcall);

struct fetcher {
	pthread_t thread;
	int wakefd; /* eventfd: something is queued */

	pthread_mutex_t lock; /* the three fields below */
	struct xferq queue;   /* submitted, not yet on the loop */
	struct fcallq calls;
	int stopping;

	/* the fetch thread's own */
	struct event_base *base;
	struct event *wake_ev;
	struct event *timer; /* the multi handle's one timer */
	CURLM *multi;
	struct xferq active; /* on the multi handle */

	/* options, copied */
	char *ca_file;
	char *ca_dir;
	char *cert_file;
	char *key_file;
	char *user_agent;
	char *thread_name;
	int max_host_conns;
	int max_conns;
	int connect_timeout_ms;
	int timeout_ms;
	size_t max_bytes;
	fetch_addr_cb *addr_check;
	void *addr_arg;
};

static void *fetch_main(void *);
static void on_wake(evutil_socket_t, short, void *);
static void on_timeout(evutil_socket_t, short, void *);
static void on_socket(evutil_socket_t, short, void *);
static int on_sockset(CURL *, curl_socket_t, int, void *, void *);
static int on_timerset(CURLM *, long, void *);
static size_t on_data(char *, size_t, size_t, void *);
static curl_socket_t on_opensocket(
    void *, curlsocktype, struct curl_sockaddr *);
static int multi_open(struct fetcher *);
static void multi_action(struct fetcher *, curl_socket_t, int);
static void check_multi_info(struct fetcher *);
static void xfer_start(struct fetcher *, struct xfer *);
static void xfer_fail(struct xfer *, int, const char *);
static void xfer_finish(struct xfer *, struct fetch_resp *);
static void xfer_free(struct xfer *);
static void fail_active(struct fetcher *, int, const char *);

/* The methods a request may use, and whether they may carry a body. */
static const struct {
	const char *name;
	int body;
} methods[] = {
    {"GET", 0},
    {"HEAD", 0},
    {"POST", 1},
    {"PUT", 1},
    {"PATCH", 1},
    {"DELETE", 1},
};

static char *
opt_strdup(const char *s, int *failed)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = hub_strdup(s)) == NULL)
		*failed = 1;
	return d;
}

/* A file option must be readable now, so a typo fails at start, not at
 * the first connection. */
static int
opt_readable(const char *what, const char *path)
{
	if (path != NULL && access(path, R_OK) == -1) {
		log_warn("fetcher: %s %s", what, path);
		return -1;
	}
	return 0;
}

static void
fetcher_free(struct fetcher *f)
{
	if (f == NULL)
		return;
	if (f->wakefd != -1)
		close(f->wakefd);
	pthread_mutex_destroy(&f->lock);
	hub_free(f->ca_file);
	hub_free(f->ca_dir);
	hub_free(f->cert_file);
	hub_free(f->key_file);
	hub_free(f->user_agent);
	hub_free(f->thread_name);
	hub_free(f);
}

struct fetcher *
fetcher_start(const struct fetch_opts *o)
{
	static const struct fetch_opts none;
	struct fetcher *f;
	int failed = 0, rc;

	if (o == NULL)
		o = &none;
	if ((o->cert_file == NULL) != (o->key_file == NULL)) {
		log_warnx("fetcher: a client certificate needs its key");
		return NULL;
	}
	if (opt_readable("CA file", o->ca_file) == -1 ||
	    opt_readable("CA directory", o->ca_dir) == -1 ||
	    opt_readable("client certificate", o->cert_file) == -1 ||
	    opt_readable("client key", o->key_file) == -1)
		return NULL;
	if ((f = hub_calloc(1, sizeof(*f))) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return NULL;
	}
	f->wakefd = -1;
	pthread_mutex_init(&f->lock, NULL);
	TAILQ_INIT(&f->queue);
	TAILQ_INIT(&f->calls);
	TAILQ_INIT(&f->active);
	f->ca_file = opt_strdup(o->ca_file, &failed);
	f->ca_dir = opt_strdup(o->ca_dir, &failed);
	f->cert_file = opt_strdup(o->cert_file, &failed);
	f->key_file = opt_strdup(o->key_file, &failed);
	f->user_agent = opt_strdup(
	    o->user_agent != NULL ? o->user_agent : "ctihub", &failed);
	f->thread_name = opt_strdup(
	    o->thread_name != NULL ? o->thread_name : "fetch", &failed);
	if (failed) {
		log_warnx("%s: out of memory", __func__);
		goto fail;
	}
	f->max_host_conns =
	    o->max_host_conns > 0 ? o->max_host_conns : FETCH_DEF_HOST_CONNS;
	f->max_conns = o->max_conns > 0 ? o->max_conns : FETCH_DEF_CONNS;
	f->connect_timeout_ms = o->connect_timeout_ms > 0
	    ? o->connect_timeout_ms
	    : FETCH_DEF_CONNECT_MS;
	f->timeout_ms =
	    o->timeout_ms > 0 ? o->timeout_ms : FETCH_DEF_TIMEOUT_MS;
	f->max_bytes = o->max_bytes > 0 ? o->max_bytes : FETCH_DEF_MAX_BYTES;
	f->addr_check =
	    o->addr_check != NULL ? o->addr_check : fetch_addr_public;
	f->addr_arg = o->addr_arg;

	if ((f->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		log_warn("%s: eventfd", __func__);
		goto fail;
	}
	if ((f->base = event_base_new()) == NULL ||
	    (f->wake_ev = event_new(f->base, f->wakefd, EV_READ | EV_PERSIST,
		 on_wake, f)) == NULL ||
	    event_add(f->wake_ev, NULL) == -1 ||
	    (f->timer = evtimer_new(f->base, on_timeout, f)) == NULL) {
		log_warnx("%s: libevent setup failed", __func__);
		goto fail;
	}
	if (multi_open(f) == -1)
		goto fail;
	if ((rc = pthread_create(&f->thread, NULL, fetch_main, f)) != 0) {
		errno = rc;
		log_warn("%s: pthread_create", __func__);
		goto fail;
	}
	return f;
fail:
	if (f->multi != NULL)
		curl_multi_cleanup(f->multi);
	if (f->timer != NULL)
		event_free(f->timer);
	if (f->wake_ev != NULL)
		event_free(f->wake_ev);
	if (f->base != NULL)
		event_base_free(f->base);
	fetcher_free(f);
	return NULL;
}

/* The multi handle and its limits.  0 or -1 (logged). */
static int
multi_open(struct fetcher *f)
{
	CURLM *m;
	CURLMcode mc = CURLM_OK;

	if ((m = curl_multi_init()) == NULL) {
		log_warnx("%s: curl_multi_init failed", __func__);
		return -1;
	}
#define MSET(opt, val)                                                         \
	do {                                                                   \
		if (mc == CURLM_OK)                                            \
			mc = curl_multi_setopt(m, (opt), (val));               \
	} while (0)
	MSET(CURLMOPT_SOCKETFUNCTION, on_sockset);
	MSET(CURLMOPT_SOCKETDATA, f);
	MSET(CURLMOPT_TIMERFUNCTION, on_timerset);
	MSET(CURLMOPT_TIMERDATA, f);
	MSET(CURLMOPT_MAX_HOST_CONNECTIONS, (long)f->max_host_conns);
	MSET(CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)f->max_conns);
	MSET(CURLMOPT_MAXCONNECTS, (long)f->max_conns);
#undef MSET
	if (mc != CURLM_OK) {
		log_warnx("%s: %s", __func__, curl_multi_strerror(mc));
		curl_multi_cleanup(m);
		return -1;
	}
	f->multi = m;
	return 0;
}

static void
wake(struct fetcher *f)
{
	uint64_t one = 1;

	/* EAGAIN only when the counter is full: it is being woken anyway */
	if (write(f->wakefd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("%s: write", __func__);
}

/* The copy of a request that the fetcher owns; NULL (logged) when it is
 * not acceptable or memory is short. */
static struct xfer *
xfer_new(struct fetcher *f, const struct fetch_req *r)
{
	struct curl_slist *l;
	struct xfer *x;
	const char *m = r->method != NULL ? r->method : "GET";
	size_t i;
	int body = -1, failed = 0;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i].name) == 0) {
			m = methods[i].name;
			body = methods[i].body;
		}
	if (body == -1 || r->url == NULL || r->done == NULL ||
	    (r->user == NULL) != (r->password == NULL) ||
	    (r->cert_file == NULL) != (r->key_file == NULL) ||
	    (r->body_len > 0 && (r->body == NULL && r->body_owned == NULL)) ||
	    (r->body_len > 0 && !body)) {
		log_warnx("fetch_submit: invalid request (method %s)", m);
		hub_free(r->body_owned);
		return NULL;
	}
	if ((x = hub_calloc(1, sizeof(*x))) == NULL) {
		hub_free(r->body_owned);
		goto oom;
	}
	x->f = f;
	x->method = m;
	buf_init(&x->resp);
	x->url = opt_strdup(r->url, &failed);
	x->user = opt_strdup(r->user, &failed);
	x->password = opt_strdup(r->password, &failed);
	x->ca_file = opt_strdup(r->ca_file, &failed);
	x->cert_file = opt_strdup(r->cert_file, &failed);
	x->key_file = opt_strdup(r->key_file, &failed);
	if (r->body_owned != NULL) {
		x->body = r->body_owned; /* ours now */
		x->body_len = r->body_len;
	}
	if (failed)
		goto oom;
	if (body) {
		if (r->body_owned == NULL) {
			if ((x->body = hub_malloc(r->body_len + 1)) == NULL)
				goto oom;
			if (r->body_len > 0)
				memcpy(x->body, r->body, r->body_len);
			x->body[r->body_len] = '\0';
			x->body_len = r->body_len;
		}
		/* no 100-continue round trip before large bodies */
		if ((l = curl_slist_append(x->hdrs, "Expect:")) == NULL)
			goto oom;
		x->hdrs = l;
	}
	for (i = 0; r->headers != NULL && r->headers[i] != NULL; i++) {
		if (strpbrk(r->headers[i], "\r\n") != NULL ||
		    strchr(r->headers[i], ':') == NULL) {
			log_warnx("fetch_submit: invalid header line");
			xfer_free(x);
			return NULL;
		}
		if ((l = curl_slist_append(x->hdrs, r->headers[i])) == NULL)
			goto oom;
		x->hdrs = l;
	}
	x->connect_timeout_ms = r->connect_timeout_ms > 0
	    ? r->connect_timeout_ms
	    : f->connect_timeout_ms;
	x->timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : f->timeout_ms;
	x->max_bytes = r->max_bytes > 0 ? r->max_bytes : f->max_bytes;
	x->gzip = r->gzip != 0;
	x->done = r->done;
	x->arg = r->arg;
	return x;
oom:
	log_warnx("fetch_submit: out of memory");
	xfer_free(x);
	return NULL;
}

static void
xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	if (x->password != NULL) {
		explicit_bzero(x->password, strlen(x->password));
		hub_free(x->password);
	}
	hub_free(x->user);
	hub_free(x->url);
	hub_free(x->ca_file);
	hub_free(x->cert_file);
	hub_free(x->key_file);
	hub_free(x->body);
	curl_slist_free_all(x->hdrs);
	buf_clear(&x->resp);
	hub_free(x);
}

int
fetch_submit(struct fetcher *f, const struct fetch_req *r)
{
	struct xfer *x;

	if ((x = xfer_new(f, r)) == NULL)
		return -1;
	pthread_mutex_lock(&f->lock);
	if (f->stopping) {
		pthread_mutex_unlock(&f->lock);
		xfer_free(x);
		return -1;
	}
	TAILQ_INSERT_TAIL(&f->queue, x, entry);
	pthread_mutex_unlock(&f->lock);
	wake(f);
	return 0;
}

int
fetcher_call(struct fetcher *f, fetch_call_cb *fn, void *arg)
{
	struct fcall *c;

	if ((c = hub_malloc(sizeof(*c))) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return -1;
	}
	c->fn = fn;
	c->arg = arg;
	pthread_mutex_lock(&f->lock);
	if (f->stopping) {
		pthread_mutex_unlock(&f->lock);
		hub_free(c);
		return -1;
	}
	TAILQ_INSERT_TAIL(&f->calls, c, entry);
	pthread_mutex_unlock(&f->lock);
	wake(f);
	return 0;
}

struct event_base *
fetcher_base(struct fetcher *f)
{
	return f->base;
}

void
fetcher_stop(struct fetcher *f)
{
	int rc;

	if (f == NULL)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = 1;
	pthread_mutex_unlock(&f->lock);
	wake(f);
	if ((rc = pthread_join(f->thread, NULL)) != 0)
		fatalx("%s: pthread_join: %s", __func__, strerror(rc));
	fetcher_free(f);
}

static void *
fetch_main(void *arg)
{
	struct fetcher *f = arg;

	log_procinit(f->thread_name);
	if (event_base_dispatch(f->base) == -1)
		fatalx("%s: event_base_dispatch failed", __func__);
	/* on_wake cancelled every transfer; the multi handle goes first,
	 * while the events its socket callback may still touch exist */
	curl_multi_cleanup(f->multi);
	event_free(f->timer);
	event_free(f->wake_ev);
	event_base_free(f->base);
	return NULL;
}

/* Something was queued: calls run first, in order, then the requests
 * go on the multi handle.  When stopping, the queued requests and those
 * in flight are cancelled instead and the loop ends. */
static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *f = arg;
	struct xferq q = TAILQ_HEAD_INITIALIZER(q);
	struct fcallq calls = TAILQ_HEAD_INITIALIZER(calls);
	struct xfer *x;
	struct fcall *c;
	uint64_t n;
	int stopping;

	(void)what;
	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("%s: read", __func__);
	pthread_mutex_lock(&f->lock);
	TAILQ_CONCAT(&q, &f->queue, entry);
	TAILQ_CONCAT(&calls, &f->calls, entry);
	stopping = f->stopping;
	pthread_mutex_unlock(&f->lock);

	while ((c = TAILQ_FIRST(&calls)) != NULL) {
		TAILQ_REMOVE(&calls, c, entry);
		c->fn(f, c->arg);
		hub_free(c);
	}
	while ((x = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, x, entry);
		if (stopping)
			xfer_fail(x, FETCH_ECANCELLED, "the fetcher stopped");
		else
			xfer_start(f, x);
	}
	if (!stopping)
		return;
	/* the queues were closed when stopping was read with them: nothing
	 * more comes (what the calls above submitted was refused) */
	fail_active(f, FETCH_ECANCELLED, "the fetcher stopped");
	event_base_loopbreak(f->base);
}

/* Takes every transfer off the multi handle and completes it. */
static void
fail_active(struct fetcher *f, int result, const char *why)
{
	struct xfer *x;

	while ((x = TAILQ_FIRST(&f->active)) != NULL) {
		TAILQ_REMOVE(&f->active, x, entry);
		curl_multi_remove_handle(f->multi, x->easy);
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
		xfer_fail(x, result, why);
	}
}

static void
xfer_start(struct fetcher *f, struct xfer *x)
{
	CURL *e;
	CURLcode rc = CURLE_OK;
	CURLMcode mc;

	if ((e = curl_easy_init()) == NULL) {
		xfer_fail(x, FETCH_ERR, "curl_easy_init failed");
		return;
	}
#define ESET(opt, val)                                                         \
	do {                                                                   \
		if (rc == CURLE_OK)                                            \
			rc = curl_easy_setopt(e, (opt), (val));                \
	} while (0)
	ESET(CURLOPT_URL, x->url);
	ESET(CURLOPT_PRIVATE, x);
	ESET(CURLOPT_ERRORBUFFER, x->errbuf);
	ESET(CURLOPT_NOSIGNAL, 1L);
	ESET(CURLOPT_PROTOCOLS_STR, "https");
	ESET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	ESET(CURLOPT_FOLLOWLOCATION, 0L);
	ESET(CURLOPT_PROXY, ""); /* none, whatever the environment says */
	ESET(CURLOPT_SSL_VERIFYPEER, 1L);
	ESET(CURLOPT_SSL_VERIFYHOST, 2L);
	ESET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (x->ca_file != NULL) {
		ESET(CURLOPT_CAINFO, x->ca_file);
		ESET(CURLOPT_CAPATH, (char *)NULL);
	} else if (f->ca_file != NULL || f->ca_dir != NULL) {
		/* the given CAs only, not the system's besides */
		ESET(CURLOPT_CAINFO, f->ca_file);
		ESET(CURLOPT_CAPATH, f->ca_dir);
	}
	if (x->cert_file != NULL) {
		ESET(CURLOPT_SSLCERT, x->cert_file);
		ESET(CURLOPT_SSLKEY, x->key_file);
	} else if (f->cert_file != NULL) {
		ESET(CURLOPT_SSLCERT, f->cert_file);
		ESET(CURLOPT_SSLKEY, f->key_file);
	}
	ESET(CURLOPT_USERAGENT, f->user_agent);
	ESET(CURLOPT_TCP_KEEPALIVE, 1L);
	ESET(CURLOPT_CONNECTTIMEOUT_MS, (long)x->connect_timeout_ms);
	ESET(CURLOPT_TIMEOUT_MS, (long)x->timeout_ms);
	/* with gzip, this bounds the compressed length and on_data the
	 * decoded body (curl hands it over in pieces of at most
	 * CURL_MAX_WRITE_SIZE, so a bomb stops at the cap) */
	ESET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_bytes);
	if (x->gzip)
		ESET(CURLOPT_ACCEPT_ENCODING, "gzip, deflate");
	ESET(CURLOPT_WRITEFUNCTION, on_data);
	ESET(CURLOPT_WRITEDATA, x);
	ESET(CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
	ESET(CURLOPT_OPENSOCKETDATA, x);
	ESET(CURLOPT_HTTPHEADER, x->hdrs);
	if (x->user != NULL) {
		ESET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		ESET(CURLOPT_USERNAME, x->user);
		ESET(CURLOPT_PASSWORD, x->password);
	}
	if (strcmp(x->method, "HEAD") == 0)
		ESET(CURLOPT_NOBODY, 1L);
	else if (strcmp(x->method, "GET") == 0)
		ESET(CURLOPT_HTTPGET, 1L);
	else if (strcmp(x->method, "POST") != 0)
		ESET(CURLOPT_CUSTOMREQUEST, x->method);
	if (x->body != NULL) {
		ESET(CURLOPT_POSTFIELDS, x->body);
		ESET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
	}
#undef ESET
	if (rc != CURLE_OK) {
		curl_easy_cleanup(e);
		xfer_fail(x, FETCH_ERR, curl_easy_strerror(rc));
		return;
	}
	/* the multi handle's timer callback starts it */
	if ((mc = curl_multi_add_handle(f->multi, e)) != CURLM_OK) {
		curl_easy_cleanup(e);
		xfer_fail(x, FETCH_ERR, curl_multi_strerror(mc));
		return;
	}
	x->easy = e;
	TAILQ_INSERT_TAIL(&f->active, x, entry);
}

/* CURLMOPT_TIMERFUNCTION: (re)arms the one timer; never calls curl. */
static int
on_timerset(CURLM *m, long ms, void *arg)
{
	struct fetcher *f = arg;
	struct timeval tv;

	(void)m;
	if (ms < 0) {
		evtimer_del(f->timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return evtimer_add(f->timer, &tv) == 0 ? 0 : -1;
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl wants, or stop. */
static int
on_sockset(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct fetcher *f = arg;
	struct fsock *fs = sockp;
	short ev = EV_PERSIST;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		/* sockp may be NULL, and s closed already (curl#14976) */
		if (fs != NULL) {
			event_del(&fs->ev);
			hub_free(fs);
			curl_multi_assign(f->multi, s, NULL);
		}
		return 0;
	}
	if (fs == NULL) {
		if ((fs = hub_calloc(1, sizeof(*fs))) == NULL) {
			log_warnx("%s: out of memory", __func__);
			return -1;
		}
		curl_multi_assign(f->multi, s, fs);
	} else
		event_del(&fs->ev);
	if (what & CURL_POLL_IN)
		ev |= EV_READ;
	if (what & CURL_POLL_OUT)
		ev |= EV_WRITE;
	if (event_assign(&fs->ev, f->base, s, ev, on_socket, f) == -1 ||
	    event_add(&fs->ev, NULL) == -1) {
		log_warnx("%s: cannot watch socket %d", __func__, (int)s);
		return -1;
	}
	return 0;
}

static void
on_socket(evutil_socket_t fd, short what, void *arg)
{
	int flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	multi_action(arg, fd, flags);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	multi_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void
multi_action(struct fetcher *f, curl_socket_t s, int flags)
{
	CURLMcode mc;
	char why[FETCH_ERRLEN];
	int running;

	mc = curl_multi_socket_action(f->multi, s, flags, &running);
	if (mc != CURLM_OK && mc != CURLM_BAD_SOCKET) {
		/* the handle is not to be trusted any more: fail what it
		 * holds and start a fresh one */
		snprintf(why, sizeof(why), "curl multi handle: %s",
		    curl_multi_strerror(mc));
		log_warnx("%s: %s", __func__, why);
		fail_active(f, FETCH_ERR, why);
		curl_multi_cleanup(f->multi);
		f->multi = NULL;
		if (multi_open(f) == -1)
			fatalx("%s: cannot replace the multi handle", __func__);
		return;
	}
	check_multi_info(f);
}

static char *
header_dup(CURL *e, const char *name)
{
	struct curl_header *h;

	if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return NULL;
	return hub_strdup(h->value);
}

static int64_t
info_us(CURL *e, CURLINFO what)
{
	curl_off_t v = 0;

	return curl_easy_getinfo(e, what, &v) == CURLE_OK ? (int64_t)v : 0;
}

/* Completed transfers: what the caller needs is copied out of the easy
 * handle, the handle goes, and then the completion runs. */
static void
check_multi_info(struct fetcher *f)
{
	struct fetch_resp resp;
	CURLMsg *msg;
	CURL *e;
	CURLcode rc;
	struct xfer *x;
	/* the last response's headers that are copied out, by name */
	const struct {
		const char *name;
		const char **slot;
	} hdr[] = {
	    {"Content-Type", &resp.content_type},
	    {"Retry-After", &resp.retry_after},
	    {"Location", &resp.location},
	    {"ETag", &resp.etag},
	    {"Last-Modified", &resp.last_modified},
	    {"X-TAXII-Date-Added-First", &resp.date_added_first},
	    {"X-TAXII-Date-Added-Last", &resp.date_added_last},
	};
	char *h[sizeof(hdr) / sizeof(hdr[0])], *ip = NULL;
	long port = 0;
	int left;
	size_t i;

	while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		e = msg->easy_handle;
		rc = msg->data.result;
		x = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
		memset(&resp, 0, sizeof(resp));
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp.status);
		curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &resp.new_conns);
		if (curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip) ==
			CURLE_OK &&
		    ip != NULL && ip[0] != '\0') {
			curl_easy_getinfo(e, CURLINFO_PRIMARY_PORT, &port);
			snprintf(resp.peer, sizeof(resp.peer),
			    strchr(ip, ':') != NULL ? "[%s]:%ld" : "%s:%ld", ip,
			    port);
		}
		resp.connect_us = info_us(e, CURLINFO_CONNECT_TIME_T);
		resp.tls_us = info_us(e, CURLINFO_APPCONNECT_TIME_T);
		resp.first_byte_us = info_us(e, CURLINFO_STARTTRANSFER_TIME_T);
		resp.total_us = info_us(e, CURLINFO_TOTAL_TIME_T);
		for (i = 0; i < sizeof(h) / sizeof(h[0]); i++)
			h[i] = header_dup(e, hdr[i].name);

		TAILQ_REMOVE(&f->active, x, entry);
		curl_multi_remove_handle(f->multi, e);
		curl_easy_cleanup(e);
		x->easy = NULL;

		for (i = 0; i < sizeof(h) / sizeof(h[0]); i++)
			*hdr[i].slot = h[i];
		resp.result = fetch_curl_err(rc);
		if (x->toobig ||
		    (rc == CURLE_WRITE_ERROR && x->resp.len >= x->max_bytes))
			resp.result = FETCH_ETOOBIG;
		if (resp.result == FETCH_ECONNECT && x->refused[0] != '\0')
			resp.result = FETCH_EREFUSED;
		if (rc == CURLE_WRITE_ERROR && !x->toobig &&
		    buf_failed(&x->resp))
			snprintf(resp.error, sizeof(resp.error),
			    "out of memory for the response");
		else if (resp.result == FETCH_ETOOBIG)
			snprintf(resp.error, sizeof(resp.error),
			    "the response is larger than %zu bytes",
			    x->max_bytes);
		else if (resp.result == FETCH_EREFUSED)
			snprintf(
			    resp.error, sizeof(resp.error), "%s", x->refused);
		else if (rc != CURLE_OK)
			snprintf(resp.error, sizeof(resp.error), "%s: %s",
			    fetch_strerror(resp.result),
			    x->errbuf[0] != '\0' ? x->errbuf
						 : curl_easy_strerror(rc));
		xfer_finish(x, &resp);
		for (i = 0; i < sizeof(h) / sizeof(h[0]); i++)
			hub_free(h[i]);
	}
}

/* Completes a transfer that got no response. */
static void
xfer_fail(struct xfer *x, int result, const char *why)
{
	struct fetch_resp resp;

	memset(&resp, 0, sizeof(resp));
	resp.result = result;
	snprintf(resp.error, sizeof(resp.error), "%s", why);
	xfer_finish(x, &resp);
}

/* Runs the completion, then frees the transfer. */
static void
xfer_finish(struct xfer *x, struct fetch_resp *resp)
{
	if (x->resp.len > 0) {
		buf_cstr(&x->resp); /* the NUL, which may fail */
		if (!buf_failed(&x->resp))
			resp->body = buf_detach(&x->resp, &resp->len);
	}
	x->done(resp, x->arg);
	hub_free(resp->body);
	xfer_free(x);
}

/* CURLOPT_WRITEFUNCTION: keeps the body, up to max_bytes (a response
 * without Content-Length is cut off here; one with it is refused before
 * by CURLOPT_MAXFILESIZE_LARGE). */
static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (len > x->max_bytes - x->resp.len) {
		x->toobig = 1;
		return 0;
	}
	buf_add(&x->resp, p, len);
	return buf_failed(&x->resp) ? 0 : len;
}

static void
addr_str(const struct sockaddr *sa, char *s, size_t n)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, s, (socklen_t)n) == NULL)
		snprintf(s, n, "(address family %d)", (int)sa->sa_family);
}

/* CURLOPT_OPENSOCKETFUNCTION: the address check, on every address curl
 * is about to connect to, after resolution (so a name that resolves to a
 * refused address is caught, whatever the URL says). */
static curl_socket_t
on_opensocket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = arg;
	struct fetcher *f = x->f;
	const struct sockaddr *sa = &a->addr;
	char s[INET6_ADDRSTRLEN + 32];
	int fd;

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    !f->addr_check(sa, (socklen_t)a->addrlen, f->addr_arg)) {
		addr_str(sa, s, sizeof(s));
		snprintf(x->refused, sizeof(x->refused),
		    "refused: %s is not an address this hub may connect to", s);
		return CURL_SOCKET_BAD;
	}
	if ((fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol)) ==
	    -1) {
		snprintf(x->errbuf, sizeof(x->errbuf), "socket: %s",
		    strerror(errno));
		return CURL_SOCKET_BAD;
	}
	return fd;
}

/* Ranges that are not public unicast.  IPv4 ones apply to the IPv4
 * address inside ::ffff:0:0/96, ::/96 and 64:ff9b::/96 too. */
static const struct {
	uint8_t len;
	uint8_t addr[4];
} v4_refused[] = {
    {8, {0, 0, 0, 0}},	     /* "this network", unspecified */
    {8, {10, 0, 0, 0}},	     /* private */
    {10, {100, 64, 0, 0}},   /* shared address space */
    {8, {127, 0, 0, 0}},     /* loopback */
    {16, {169, 254, 0, 0}},  /* link-local */
    {12, {172, 16, 0, 0}},   /* private */
    {24, {192, 0, 0, 0}},    /* IETF protocol assignments */
    {24, {192, 0, 2, 0}},    /* documentation */
    {24, {192, 88, 99, 0}},  /* 6to4 relay anycast */
    {16, {192, 168, 0, 0}},  /* private */
    {15, {198, 18, 0, 0}},   /* benchmarking */
    {24, {198, 51, 100, 0}}, /* documentation */
    {24, {203, 0, 113, 0}},  /* documentation */
    {4, {224, 0, 0, 0}},     /* multicast */
    {4, {240, 0, 0, 0}},     /* reserved, broadcast */
};

static const struct {
	uint8_t len;
	uint8_t addr[16];
} v6_refused[] = {
    {128, {0}},						     /* unspecified */
    {128, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}, /* loopback */
    {64, {0x01, 0x00}},					     /* discard */
    {32, {0x20, 0x01, 0x0d, 0xb8}},			     /* documentation */
    {7, {0xfc}},					     /* unique local */
    {10, {0xfe, 0x80}},					     /* link-local */
    {10, {0xfe, 0xc0}},					     /* site-local */
    {8, {0xff}},					     /* multicast */
};

static int
prefix_match(const uint8_t *a, const uint8_t *p, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, p, whole) != 0)
		return 0;
	return rest == 0 ||
	    ((a[whole] ^ p[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static int
v4_public(const uint8_t *a)
{
	size_t i;

	for (i = 0; i < sizeof(v4_refused) / sizeof(v4_refused[0]); i++)
		if (prefix_match(a, v4_refused[i].addr, v4_refused[i].len))
			return 0;
	return 1;
}

int
fetch_addr_public(const struct sockaddr *sa, socklen_t len, void *arg)
{
	static const uint8_t mapped[12] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t compat[12] = {0};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const uint8_t *a;
	size_t i;

	(void)arg;
	if (sa->sa_family == AF_INET && len >= sizeof(sin)) {
		memcpy(&sin, sa, sizeof(sin));
		return v4_public((const uint8_t *)&sin.sin_addr);
	}
	if (sa->sa_family != AF_INET6 || len < sizeof(sin6))
		return 0;
	memcpy(&sin6, sa, sizeof(sin6));
	a = sin6.sin6_addr.s6_addr;
	for (i = 0; i < sizeof(v6_refused) / sizeof(v6_refused[0]); i++)
		if (prefix_match(a, v6_refused[i].addr, v6_refused[i].len))
			return 0;
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, compat, 12) == 0 ||
	    memcmp(a, nat64, 12) == 0)
		return v4_public(a + 12);
	return 1;
}

int
fetch_curl_err(int code)
{
	switch ((CURLcode)code) {
	case CURLE_OK:
		return FETCH_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
		return FETCH_ERESOLVE;
	case CURLE_COULDNT_CONNECT:
		return FETCH_ECONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return FETCH_ETIMEOUT;
	case CURLE_FILESIZE_EXCEEDED:
		return FETCH_ETOOBIG;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return FETCH_EURL;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
		return FETCH_ETLS;
	default:
		return FETCH_ERR;
	}
}

const char *
fetch_strerror(int e)
{
	switch (e) {
	case FETCH_OK:
		return "ok";
	case FETCH_ERESOLVE:
		return "name not resolved";
	case FETCH_ECONNECT:
		return "cannot connect";
	case FETCH_EREFUSED:
		return "address refused";
	case FETCH_ETLS:
		return "TLS";
	case FETCH_ETIMEOUT:
		return "timeout";
	case FETCH_ETOOBIG:
		return "response too large";
	case FETCH_ECANCELLED:
		return "cancelled";
	case FETCH_EURL:
		return "bad URL";
	default:
		return "error";
	}
}
