/*
 * conn.c -- every connection under evhttp: the TLS bufferevent evhttp
 * reads and writes, and what evhttp 2.1 does not do by itself.
 *
 * evhttp's timeout is one of inactivity: a client that trickles a byte now
 * and then keeps its connection forever.  Here a request's head must
 * arrive within header_timeout (from the connection, or from the first
 * byte of a later request) and its body within body_timeout, or the
 * client gets a 408 TAXII error and the connection closes.
 *
 * evhttp reads a whole body before anyone sees the request.  Here the head
 * is watched as it arrives (request line, Authorization, Content-Length,
 * Transfer-Encoding, nothing else) and a request that announces a body
 * without valid credentials is answered 401 before any of its body is
 * kept.  What evhttp has not parsed yet is bounded by a read watermark
 * outside the body, so a client cannot pile up input while its answer is
 * written either.
 *
 * evhttp answers a malformed request, an oversized or broken body with an
 * HTML page: here that page becomes a TAXII error resource on its way out
 * (any output while no handler owns the request is evhttp's own).
 *
 * Connections are limited per address (max_conns_per_addr: refused) and
 * in all (max_conns: the worker stops accepting for a while), and when
 * accept() runs out of descriptors the worker pauses instead of spinning,
 * sheds the waiting connection with one spare descriptor, and says so
 * once.
 *
 * The connection is evhttp's: it frees it and tells us through the close
 * callback.  To answer ourselves (408, early 401) we take the
 * bufferevent's callbacks over from evhttp, write the answer, close the
 * TLS session, drop what the client still sends for a moment (so that a
 * reset does not destroy the answer), then free it with
 * evhttp_connection_free.  Our state lives in the SSL's ex_data and is
 * freed with it.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "ctihub/alloc.h"
#include "ctihub/hash.h"
#include "ctihub/log.h"
#include "ctihub/metrics.h"
#include "ctihub/tstamp.h"

#include "transport.h"

#define CONN_NAME_MAX	  20  /* longer field names are none we watch */
#define CONN_REQLINE_MAX  256 /* of the request line, for the access log */
#define CONN_LINGER	  2   /* seconds to deliver our answer and close */
#define CONN_BACKOFF_MS	  250 /* accepting pauses this long when short */
#define CONN_PEER_BUCKETS 4096

enum conn_state {
	CONN_NEW,     /* accepted: conn_start is due */
	CONN_HEAD,    /* a request's head is arriving: header_timeout */
	CONN_BODY,    /* its body: body_timeout */
	CONN_BUSY,    /* evhttp handed the request over: a handler answers */
	CONN_IDLE,    /* between requests (evhttp's request_timeout) */
	CONN_EVHTTP,  /* evhttp answers an error itself, then closes */
	CONN_CLOSING, /* we answer (conn->answer), then close */
	CONN_DEAD,    /* evhttp freed the connection */
};

/* What the head of the current request says, as far as we look. */
enum scan_field {
	F_REQLINE = 1,
	F_NAME,	 /* a field name, up to its ':' */
	F_AUTHZ, /* the value of the first Authorization */
	F_AUTHZ_FOLD,
	F_CLEN, /* the value of the first Content-Length */
	F_OTHER,
};

struct scan {
	int nlines;	/* complete lines of this head */
	size_t linelen; /* bytes of the current line */
	char lastc;
	int field;
	int prev_authz; /* the last field line was the first Authorization */
	char name[CONN_NAME_MAX];
	size_t namelen;
	int nauthz;
	char *authz; /* its value, NUL-terminated; NULL until seen */
	size_t authzlen;
	int authz_lead; /* still skipping the value's leading blanks */
	int ncl;
	int cl_body; /* the first Content-Length is not 0 */
	int te;	     /* a Transfer-Encoding line */
	char reqline[CONN_REQLINE_MAX];
	size_t reqlen;
	int http10; /* the request line ends in HTTP/1.0 */
};

struct conn {
	TAILQ_ENTRY(conn) entry; /* in the worker's conns */
	struct worker *w;
	struct bufferevent *bev;	 /* TLS over the socket; evhttp's */
	struct evhttp_connection *evcon; /* NULL before conn_start, after */
	struct event *timer;
	enum conn_state state;
	int started;	/* conn_start ran */
	int counted;	/* in the per-address and total counts */
	int taken;	/* we hold the bufferevent's callbacks */
	int shut;	/* our answer is out, the TLS session closed */
	int own;	/* we are changing a buffer: our callbacks stand by */
	int answer;	/* the status we answer with (CONN_CLOSING) */
	int http10;	/* the request handed over is HTTP/1.0 */
	int unverified; /* its body counts in limits->unverified */
	int secured;	/* its TLS handshake completed (metrics) */
	char why[256];
	int64_t t0;	  /* wall clock, microseconds: the access log */
	int64_t born;	  /* monotonic, microseconds */
	int64_t deadline; /* monotonic, microseconds */
	size_t rbuf;	  /* read watermark outside a body */
	size_t vetted;	  /* output bytes already let through (non-BUSY) */
	int family;
	unsigned char addr[16];
	char peer[64];
	struct xfer *parked; /* told when the connection goes */
	struct evbuffer_cb_entry *incb, *outcb;
	struct scan sc;
};

struct peer {
	struct peer *next;
	int family;
	unsigned char addr[16];
	long long n;
};

/* Process-wide: what all workers' connections add up to. */
struct connlimits {
	pthread_mutex_t lock;
	struct peer *bucket[CONN_PEER_BUCKETS];
	long long total;
	int spare; /* a descriptor kept to shed a connection when short */
	/* out of descriptors: since when (monotonic us, 0: not short), how
	 * often since the last line about it, and when the lines were */
	atomic_llong short_since;
	atomic_llong short_count;
	atomic_llong short_said, again_said;
	atomic_llong noted; /* since the last line about them (conn_note) */
	/* bodies being read whose Basic password is not checked yet */
	atomic_llong unverified;
	atomic_llong noted_at;
};

static int conn_idx = -1;    /* the SSL ex_data index of our state */
static struct hub *conn_hub; /* the listeners' error callback's way back */

static void conn_timer(evutil_socket_t, short, void *);
static void conn_input(
    struct evbuffer *, const struct evbuffer_cb_info *, void *);
static void conn_output(
    struct evbuffer *, const struct evbuffer_cb_info *, void *);
static void conn_closed(struct evhttp_connection *, void *);
static void conn_close(struct conn *);
static void conn_refuse(struct conn *, int status, const char *why);
static void conn_answer(struct conn *);
static void conn_complete(struct evhttp_request *, void *);

static void conn_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp);

/* --- limits per address and in all ---------------------------------- */

static struct peer **
peer_slot(struct connlimits *l, const struct conn *c)
{
	uint64_t h = hash_fnv1a64(HASH_FNV1A64_INIT, c->addr, sizeof(c->addr));
	struct peer **pp = &l->bucket[h % CONN_PEER_BUCKETS];

	/* the whole address decides, never its hash */
	while (*pp != NULL &&
	    ((*pp)->family != c->family ||
		memcmp((*pp)->addr, c->addr, 16) != 0))
		pp = &(*pp)->next;
	return pp;
}

/* 0, or -1 over the per-address limit, -2 over the total. */
static int
limits_add(struct connlimits *l, struct conn *c, long long per, long long all)
{
	struct peer **pp, *p;
	int rc = 0;

	pthread_mutex_lock(&l->lock);
	pp = peer_slot(l, c);
	if (l->total >= all)
		rc = -2;
	else if (*pp != NULL && (*pp)->n >= per)
		rc = -1;
	else if (*pp == NULL) {
		if ((p = hub_calloc(1, sizeof(*p))) == NULL)
			rc = -2;
		else {
			p->family = c->family;
			memcpy(p->addr, c->addr, 16);
			*pp = p;
		}
	}
	if (rc == 0) {
		(*pp)->n++;
		l->total++;
		c->counted = 1;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

static void
limits_del(struct connlimits *l, struct conn *c)
{
	struct peer **pp, *p;

	if (!c->counted)
		return;
	c->counted = 0;
	pthread_mutex_lock(&l->lock);
	pp = peer_slot(l, c);
	if ((p = *pp) != NULL && --p->n == 0) {
		*pp = p->next;
		hub_free(p);
	}
	l->total--;
	pthread_mutex_unlock(&l->lock);
}

static long long
limits_total(struct connlimits *l)
{
	long long n;

	pthread_mutex_lock(&l->lock);
	n = l->total;
	pthread_mutex_unlock(&l->lock);
	return n;
}

/* One log line a second at most about connections refused or cut off:
 * under attack they come by the thousand. */
static void
conn_note(struct connlimits *l, const char *peer, const char *what)
{
	long long now = (long long)time(NULL), n;

	n = atomic_fetch_add(&l->noted, 1) + 1;
	if (atomic_exchange(&l->noted_at, now) == now)
		return;
	atomic_store(&l->noted, 0);
	if (n > 1)
		log_warnx("%s: %s (and %lld more since the last such line)",
		    peer, what, n - 1);
	else
		log_warnx("%s: %s", peer, what);
}

int
conn_init(struct hub *hub)
{
	struct connlimits *l;

	if (conn_idx == -1 &&
	    (conn_idx = SSL_get_ex_new_index(
		 0, NULL, NULL, NULL, conn_ex_free)) == -1)
		return -1;
	if ((l = hub_calloc(1, sizeof(*l))) == NULL)
		return -1;
	pthread_mutex_init(&l->lock, NULL);
	l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	hub->limits = l;
	conn_hub = hub;
	return 0;
}

void
conn_fini(struct hub *hub)
{
	struct connlimits *l = hub->limits;
	struct peer *p;
	int i;

	if (l == NULL)
		return;
	for (i = 0; i < CONN_PEER_BUCKETS; i++)
		while ((p = l->bucket[i]) != NULL) {
			l->bucket[i] = p->next;
			hub_free(p);
		}
	if (l->spare >= 0)
		close(l->spare);
	pthread_mutex_destroy(&l->lock);
	hub_free(l);
	hub->limits = NULL;
	conn_hub = NULL;
}

/* --- accepting: pauses ---------------------------------------------- */

static void
conn_pause(struct worker *w)
{
	struct timeval tv = {0, CONN_BACKOFF_MS * 1000};
	int i;

	if (w->stopping)
		return;
	if (!w->paused)
		for (i = 0; i < w->nbound; i++)
			evconnlistener_disable(
			    evhttp_bound_socket_get_listener(w->bound[i]));
	w->paused = 1;
	evtimer_add(w->resume, &tv);
}

static void
conn_resume(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct runtime *rt;
	long long max;
	int i;

	(void)fd;
	(void)what;
	if (!w->paused || w->stopping)
		return;
	rt = runtime_ref(w->rt);
	max = rt->conf->max_conns;
	runtime_unref(rt);
	if (limits_total(w->hub->limits) >= max) {
		conn_pause(w); /* again, a while later */
		return;
	}
	w->paused = 0;
	for (i = 0; i < w->nbound; i++)
		evconnlistener_enable(
		    evhttp_bound_socket_get_listener(w->bound[i]));
}

/* Accepts the connection that waits with the spare descriptor and closes
 * it at once: better than leaving it in the backlog with nobody to
 * serve it. */
static void
conn_shed(struct connlimits *l, evutil_socket_t lfd)
{
	int fd;

	pthread_mutex_lock(&l->lock);
	if (l->spare >= 0) {
		close(l->spare);
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
			close(fd);
		l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	pthread_mutex_unlock(&l->lock);
}

static void
conn_accept_error(struct evconnlistener *lis, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR(), i;
	struct hub *hub = conn_hub;
	struct worker *w = NULL;

	for (i = 0; hub != NULL && i < hub->nworkers; i++)
		if (hub->workers[i].http == arg)
			w = &hub->workers[i];
	if (w == NULL)
		return;
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		struct connlimits *l = hub->limits;
		long long t = (long long)time(NULL), n;

		conn_shed(l, evconnlistener_get_fd(lis));
		atomic_store(&l->short_since, tstamp_mono());
		n = atomic_fetch_add(&l->short_count, 1) + 1;
		/* a line a minute at most, however often it pauses */
		if (t - atomic_load(&l->short_said) >= 60 &&
		    atomic_exchange(&l->short_said, t) != t) {
			atomic_store(&l->short_count, 0);
			log_warnx("accept: %s: new connections paused until "
				  "descriptors are free (raise ulimit -n or "
				  "lower max_conns); %lld pause%s since the "
				  "last such line",
			    strerror(err), n, n > 1 ? "s" : "");
		}
	} else
		log_warnx("accept: %s", strerror(err));
	conn_pause(w);
}

int
conn_listen(struct worker *w)
{
	int i;

	if ((w->resume = evtimer_new(w->base, conn_resume, w)) == NULL)
		return -1;
	for (i = 0; i < w->nbound; i++)
		evconnlistener_set_error_cb(
		    evhttp_bound_socket_get_listener(w->bound[i]),
		    conn_accept_error);
	return 0;
}

/* --- the connection ------------------------------------------------- */

static struct conn *
conn_of(struct evhttp_connection *evcon)
{
	SSL *ssl = conn_ssl(evcon);

	return ssl != NULL ? SSL_get_ex_data(ssl, conn_idx) : NULL;
}

SSL *
conn_ssl(struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);

	return bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
}

static void
conn_arm(struct conn *c)
{
	int64_t left = c->deadline - tstamp_mono();
	struct timeval tv;

	if (left < 0)
		left = 0;
	tv.tv_sec = left / 1000000;
	tv.tv_usec = left % 1000000;
	evtimer_add(c->timer, &tv);
}

static void
conn_read_limit(struct conn *c, int on)
{
	bufferevent_setwatermark(c->bev, EV_READ, 0, on ? c->rbuf : 0);
}

struct bufferevent *
conn_new(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	struct runtime *rt = runtime_ref(w->rt);
	struct conn *c;
	SSL *ssl;

	if ((c = hub_calloc(1, sizeof(*c))) == NULL ||
	    (ssl = SSL_new(rt->ssl)) == NULL)
		fatalx("out of memory for a connection");
	/* evhttp's own limit on a head, plus a TLS record */
	c->rbuf = (size_t)rt->conf->max_header_size + 65536 + 16384;
	runtime_unref(rt); /* the SSL holds its own reference to the ctx */
	/* from here the SSL owns c (conn_ex_free) */
	SSL_set_ex_data(ssl, conn_idx, c);
	c->w = w;
	TAILQ_INSERT_TAIL(&w->conns, c, entry);
	w->nconns++;
	metrics_add(w->hub->metrics, METRICS_CONNECTIONS, 1);
	c->state = CONN_NEW;
	c->t0 = tstamp_now();
	c->born = tstamp_mono();
	c->bev = bufferevent_openssl_socket_new(
	    base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	/* never return NULL: evhttp would fall back to plain text */
	if (c->bev == NULL ||
	    (c->timer = evtimer_new(base, conn_timer, c)) == NULL ||
	    (c->incb = evbuffer_add_cb(
		 bufferevent_get_input(c->bev), conn_input, c)) == NULL ||
	    (c->outcb = evbuffer_add_cb(
		 bufferevent_get_output(c->bev), conn_output, c)) == NULL)
		fatalx("out of memory for a connection");
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	conn_read_limit(c, 1);
	/* evhttp sets the descriptor once this returns: look then */
	event_active(c->timer, EV_TIMEOUT, 0);
	return c->bev;
}

/* The SSL is freed (the bufferevent's last act): so is our state. */
static void
conn_ex_free(
    void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct conn *c = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (c == NULL)
		return;
	if (!c->secured) /* gone before a byte came through TLS */
		metrics_tls_handshake(c->w->hub->metrics, 0);
	metrics_add(c->w->hub->metrics, METRICS_CONNECTIONS, -1);
	if (c->counted && conn_hub != NULL)
		limits_del(conn_hub->limits, c);
	if (c->unverified && conn_hub != NULL)
		atomic_fetch_sub(&conn_hub->limits->unverified, 1);
	/* the worker's thread, or the main thread once it has stopped */
	TAILQ_REMOVE(&c->w->conns, c, entry);
	c->w->nconns--;
	if (c->timer != NULL)
		event_free(c->timer);
	hub_free(c->sc.authz);
	hub_free(c);
}

/* Just accepted: count it, or refuse it. */
static void
conn_start(struct conn *c)
{
	struct worker *w = c->w;
	struct connlimits *l = w->hub->limits;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct runtime *rt;
	void *evcon = NULL;
	evutil_socket_t fd;
	int one = 1, rc;

	c->started = 1;
	bufferevent_getcb(c->bev, NULL, NULL, NULL, &evcon);
	if (evcon == NULL)
		return; /* evhttp gave up on it already */
	c->evcon = evcon;
	evhttp_connection_set_closecb(c->evcon, conn_closed, c);
	fd = bufferevent_getfd(c->bev);
	/* evhttp does not set it; without it small replies wait for the
	 * peer's delayed ACK */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		c->family = AF_INET6;
		memcpy(c->addr, &s6->sin6_addr, 16);
	} else if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		c->family = AF_INET;
		memcpy(c->addr, &s4->sin_addr, 4);
	}
	if (c->family == 0 ||
	    inet_ntop(c->family, c->addr, c->peer, sizeof(c->peer)) == NULL)
		snprintf(c->peer, sizeof(c->peer), "-");
	rt = runtime_ref(w->rt);
	rc =
	    limits_add(l, c, rt->conf->max_conns_per_addr, rt->conf->max_conns);
	if (rc == 0 && c->state == CONN_NEW)
		c->state = CONN_HEAD;
	if (rc == 0 && c->state == CONN_HEAD) {
		/* the first head's time runs from the accept: the TLS
		 * handshake is part of it */
		c->deadline = c->born + rt->conf->header_timeout * 1000000;
		conn_arm(c);
	}
	runtime_unref(rt);
	if (rc == 0) {
		long long since = atomic_load(&l->short_since);
		long long t = (long long)time(NULL);

		/* accepted after a pause: a line a minute at most too */
		if (since != 0 && c->born > since &&
		    atomic_compare_exchange_strong(
			&l->short_since, &since, 0) &&
		    t - atomic_load(&l->again_said) >= 60) {
			atomic_store(&l->again_said, t);
			log_info("accepting connections again");
		}
		return;
	}
	conn_note(l, c->peer,
	    rc == -1 ? "connection refused: max_conns_per_addr reached"
		     : "connection refused: max_conns reached, pausing "
		       "new connections");
	if (rc == -2)
		conn_pause(w);
	conn_close(c);
}

static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;
	struct worker *w = c->w;
	struct xfer *parked = c->parked;

	(void)evcon;
	if (!c->secured &&
	    SSL_is_init_finished(bufferevent_openssl_get_ssl(c->bev))) {
		c->secured = 1; /* a session that carried nothing */
		metrics_tls_handshake(w->hub->metrics, 1);
	}
	c->evcon = NULL;
	c->state = CONN_DEAD;
	c->parked = NULL;
	evtimer_del(c->timer);
	/* the bufferevent goes next; nothing of ours may run on it */
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->incb);
	evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->outcb);
	c->incb = c->outcb = NULL;
	limits_del(w->hub->limits, c);
	if (w->paused)
		event_active(w->resume, EV_TIMEOUT, 0);
	if (parked != NULL)
		http_conn_gone(parked);
}

static void
conn_close(struct conn *c)
{
	if (c->evcon != NULL)
		evhttp_connection_free(c->evcon); /* conn_closed follows */
}

int
conn_http10(struct evhttp_connection *evcon)
{
	struct conn *c = conn_of(evcon);

	return c != NULL && c->http10;
}

void
conn_park(struct evhttp_connection *evcon, struct xfer *ctx)
{
	struct conn *c = conn_of(evcon);

	if (c != NULL)
		c->parked = ctx;
}

/* --- the head of a request ------------------------------------------ */

static void
scan_reset(struct scan *s)
{
	hub_free(s->authz);
	memset(s, 0, sizeof(*s));
}

static void
authz_add(struct scan *s, char ch)
{
	/* one byte over the most auth.c reads: it refuses it as too long */
	if (s->authz == NULL &&
	    (s->authz = hub_calloc(1, HTTP_AUTH_MAX + 2)) == NULL)
		return;
	if (s->authzlen <= HTTP_AUTH_MAX)
		s->authz[s->authzlen++] = ch;
}

/* evhttp's value: leading spaces (of a folded line: and tabs) dropped,
 * trailing blanks and CR too (evutil_rtrim_lws_). */
static void
authz_trim(struct scan *s)
{
	while (s->authzlen > 0 &&
	    strchr(" \t\r\n", s->authz[s->authzlen - 1]) != NULL)
		s->authzlen--;
	s->authz[s->authzlen] = '\0';
}

static void
scan_name_end(struct scan *s)
{
	s->name[s->namelen] = '\0';
	s->prev_authz = 0;
	if (strcasecmp(s->name, "authorization") == 0 && s->nauthz++ == 0) {
		s->field = F_AUTHZ;
		s->authz_lead = 1;
		s->prev_authz = 1;
		authz_add(s, '\0');
		s->authzlen = 0;
	} else if (strcasecmp(s->name, "content-length") == 0 && s->ncl++ == 0)
		s->field = F_CLEN;
	else {
		if (strcasecmp(s->name, "transfer-encoding") == 0)
			s->te = 1;
		s->field = F_OTHER;
	}
}

/* One byte of a head; 1 when it ends the head (the empty line). */
static int
scan_byte(struct scan *s, char ch)
{
	if (ch == '\n') {
		int empty =
		    s->linelen == 0 || (s->linelen == 1 && s->lastc == '\r');

		if (s->field == F_AUTHZ || s->field == F_AUTHZ_FOLD)
			authz_trim(s);
		if (s->field == F_REQLINE && s->reqlen > 0 &&
		    s->reqline[s->reqlen - 1] == '\r')
			s->reqlen--;
		if (s->field == F_REQLINE)
			s->http10 = s->reqlen >= 9 &&
			    memcmp(s->reqline + s->reqlen - 9, " HTTP/1.0",
				9) == 0;
		s->linelen = 0;
		s->field = 0;
		if (empty)
			return s->nlines > 0; /* blank lines before: none */
		s->nlines++;
		return 0;
	}
	s->lastc = ch;
	if (s->linelen++ == 0) {
		if (s->nlines == 0)
			s->field = F_REQLINE;
		else if (ch == ' ' || ch == '\t') {
			/* a folded line continues the field before */
			s->field = s->prev_authz ? F_AUTHZ_FOLD : F_OTHER;
			if (s->prev_authz && s->authzlen > 0)
				authz_add(s, ' ');
			s->authz_lead = 1;
			return 0;
		} else {
			s->field = F_NAME;
			s->namelen = 0;
			s->prev_authz = 0;
		}
	}
	switch (s->field) {
	case F_REQLINE:
		if (s->reqlen < sizeof(s->reqline) - 1)
			s->reqline[s->reqlen++] = ch;
		break;
	case F_NAME:
		if (ch == ':')
			scan_name_end(s);
		else if (s->namelen < sizeof(s->name) - 1)
			s->name[s->namelen++] = ch;
		else
			s->field = F_OTHER;
		break;
	case F_AUTHZ:
	case F_AUTHZ_FOLD:
		if (s->authz_lead &&
		    (ch == ' ' || (s->field == F_AUTHZ_FOLD && ch == '\t')))
			break;
		s->authz_lead = 0;
		authz_add(s, ch);
		break;
	case F_CLEN:
		if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '0')
			s->cl_body = 1; /* a length, or garbage: a body */
		break;
	default:
		break;
	}
	return 0;
}

static void
conn_head_begin(struct conn *c)
{
	struct runtime *rt = runtime_ref(c->w->rt);

	scan_reset(&c->sc);
	c->state = CONN_HEAD;
	c->t0 = tstamp_now();
	c->deadline = tstamp_mono() + rt->conf->header_timeout * 1000000;
	runtime_unref(rt);
	conn_arm(c);
}

/* The head is in.  A body announced without valid credentials is refused
 * here, before a byte of it is kept; anything else is evhttp's to read
 * (and taxii.c's to judge, with the same auth_check). */
static void
conn_head_done(struct conn *c)
{
	struct runtime *rt = runtime_ref(c->w->rt);
	char why[256];
	int res;

	if (c->sc.cl_body || c->sc.te) {
		res = auth_precheck(c->w->hub, rt,
		    bufferevent_openssl_get_ssl(c->bev),
		    c->sc.nauthz > 0 ? (c->sc.authz ? c->sc.authz : "") : NULL,
		    why, sizeof(why));
		if (res == AUTH_PENDING) {
			/* a Basic password not checked yet: its body is read
			 * first, so such bodies are bounded in all */
			struct connlimits *l = c->w->hub->limits;

			if (atomic_fetch_add(&l->unverified, 1) >=
			    rt->conf->max_unverified_bodies) {
				atomic_fetch_sub(&l->unverified, 1);
				runtime_unref(rt);
				conn_note(l, c->peer,
				    "upload refused: too many bodies with "
				    "unchecked passwords");
				conn_refuse(c, 503,
				    "too many uploads whose password is not "
				    "checked yet; retry in a moment");
				return;
			}
			c->unverified = 1;
			res = AUTH_OK;
		}
		if (res != AUTH_OK) {
			runtime_unref(rt);
			if (res != AUTH_NONE)
				log_info("%s: authentication failed: %s",
				    c->peer, why);
			conn_refuse(c, 401,
			    res == AUTH_NONE ? HTTP_AUTH_REQUIRED : why);
			return;
		}
	}
	hub_free(c->sc.authz);
	c->sc.authz = NULL;
	c->state = CONN_BODY;
	c->deadline = tstamp_mono() + rt->conf->body_timeout * 1000000;
	runtime_unref(rt);
	conn_arm(c);
	conn_read_limit(c, 0); /* evhttp bounds a body itself */
}

/* Scans the input from `off` for the end of the head. */
static void
conn_scan(struct conn *c, struct evbuffer *in, size_t off)
{
	size_t len = evbuffer_get_length(in), i;
	struct evbuffer_iovec v[8];
	struct evbuffer_ptr p;
	int n, k;

	while (off < len && c->state == CONN_HEAD) {
		if (evbuffer_ptr_set(in, &p, off, EVBUFFER_PTR_SET) == -1 ||
		    (n = evbuffer_peek(
			 in, (ev_ssize_t)(len - off), &p, v, 8)) <= 0)
			return;
		for (k = 0; k < n && k < 8 && off < len; k++)
			for (i = 0; i < v[k].iov_len && off < len; i++, off++)
				if (scan_byte(&c->sc,
					((const char *)v[k].iov_base)[i])) {
					conn_head_done(c);
					return;
				}
	}
}

static void
conn_drop_input(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	c->own = 1;
	evbuffer_drain(in, evbuffer_get_length(in));
	c->own = 0;
}

static void
conn_input(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	if (c->own || info->n_added == 0)
		return;
	if (!c->secured) { /* plain text arrives: the handshake is done */
		c->secured = 1;
		metrics_tls_handshake(c->w->hub->metrics, 1);
	}
	switch (c->state) {
	case CONN_CLOSING:
		conn_drop_input(c);
		break;
	case CONN_IDLE:
		conn_head_begin(c);
		/* FALLTHROUGH */
	case CONN_NEW:
	case CONN_HEAD:
		if (c->state == CONN_NEW)
			c->state = CONN_HEAD; /* conn_start keeps it */
		conn_scan(c, in, evbuffer_get_length(in) - info->n_added);
		break;
	default:
		break;
	}
}

int
conn_dispatched(struct evhttp_request *req)
{
	struct conn *c = conn_of(evhttp_request_get_connection(req));

	if (c == NULL)
		return -1;
	if (c->state == CONN_BODY)
		conn_read_limit(c, 1);
	if (c->unverified) { /* the body is in: the check comes next */
		atomic_fetch_sub(&c->w->hub->limits->unverified, 1);
		c->unverified = 0;
	}
	c->state = CONN_BUSY;
	evtimer_del(c->timer);
	c->http10 = c->sc.http10;
	scan_reset(&c->sc);
	evhttp_request_set_on_complete_cb(req, conn_complete, c);
	return 0;
}

/* The answer is out (evhttp's on_complete): what the client sent after
 * this request is the head of the next one. */
static void
conn_complete(struct evhttp_request *req, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(c->bev);

	(void)req;
	if (c->state != CONN_BUSY)
		return;
	c->state = CONN_IDLE;
	c->vetted = 0;
	if (evbuffer_get_length(in) > 0) {
		conn_head_begin(c);
		conn_scan(c, in, 0);
	}
}

/* --- our own answers ------------------------------------------------ */

static const char *
status_title(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 417:
		return "Expectation Failed";
	case 501:
		return "Not Implemented";
	default:
		return "Error";
	}
}

/* A complete HTTP/1.1 answer with a TAXII error body, into out. */
static size_t
conn_error_reply(struct evbuffer *out, int status, const char *why)
{
	struct buf b = BUF_INIT;
	size_t n;

	taxii_error_json(&b, status, status_title(status), why);
	if (buf_failed(&b))
		buf_reset(&b);
	evbuffer_add_printf(out,
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: " TAXII_MEDIA "\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "%s"
	    "Connection: close\r\n\r\n",
	    status, status_title(status), b.len,
	    status == 401 ? "WWW-Authenticate: " HTTP_AUTH_BASIC "\r\n"
			    "WWW-Authenticate: " HTTP_AUTH_BEARER "\r\n"
			  : "");
	evbuffer_add(out, b.data, b.len);
	n = b.len;
	buf_clear(&b);
	return n;
}

/* The access-log line of an answer no handler gave. */
static void
conn_log(struct conn *c, int status, size_t bytes)
{
	char line[CONN_REQLINE_MAX], *uri, *sp;
	size_t i;

	memcpy(line, c->sc.reqline, c->sc.reqlen);
	line[c->sc.reqlen] = '\0';
	for (i = 0; i < c->sc.reqlen; i++)
		if ((unsigned char)line[i] < 0x20 ||
		    (unsigned char)line[i] >= 0x7f)
			line[i] = '?';
	uri = strchr(line, ' ');
	if (uri != NULL) {
		*uri++ = '\0';
		if ((sp = strchr(uri, ' ')) != NULL)
			*sp = '\0';
	}
	http_access_log(c->w, c->peer, NULL, line[0] ? line : NULL, uri, status,
	    bytes, c->t0);
}

/* Answers `status` ourselves, soon: from the timer, once evhttp has
 * returned from whatever it is doing. */
static void
conn_refuse(struct conn *c, int status, const char *why)
{
	c->answer = status;
	snprintf(c->why, sizeof(c->why), "%s", why);
	c->state = CONN_CLOSING;
	conn_drop_input(c);
	event_active(c->timer, EV_TIMEOUT, 0);
}

static void
conn_drained(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->shut || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	c->shut = 1;
	/* a clean end for the client: close_notify, then FIN; what it
	 * still sends is read and dropped until it closes too */
	SSL_shutdown(bufferevent_openssl_get_ssl(bev));
	shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	conn_close(arg);
}

/* Takes the connection over from evhttp and writes our answer. */
static void
conn_answer(struct conn *c)
{
	struct timeval linger = {CONN_LINGER, 0};
	size_t n;

	c->taken = 1;
	bufferevent_setcb(c->bev, NULL, conn_drained, conn_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->own = 1;
	n = conn_error_reply(bufferevent_get_output(c->bev), c->answer, c->why);
	c->own = 0;
	conn_log(c, c->answer, n);
	evtimer_add(c->timer, &linger);
}

static void
conn_expired(struct conn *c)
{
	struct runtime *rt = runtime_ref(c->w->rt);
	int head = c->state == CONN_HEAD;
	long long secs =
	    head ? rt->conf->header_timeout : rt->conf->body_timeout;
	char why[160];

	runtime_unref(rt);
	snprintf(why, sizeof(why),
	    "the request %s did not arrive within %llds (%s)",
	    head ? "headers" : "body", secs,
	    head ? "header_timeout" : "body_timeout");
	conn_note(c->w->hub->limits, c->peer, why);
	if (!SSL_is_init_finished(bufferevent_openssl_get_ssl(c->bev))) {
		conn_close(c); /* no TLS session to answer in */
		return;
	}
	c->answer = 408;
	snprintf(c->why, sizeof(c->why), "%s", why);
	c->state = CONN_CLOSING;
	conn_drop_input(c);
	conn_answer(c);
}

static void
conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (!c->started) {
		conn_start(c); /* refused or counted; maybe armed */
		if (c->state != CONN_CLOSING || c->evcon == NULL)
			return;
	}
	switch (c->state) {
	case CONN_HEAD:
	case CONN_BODY:
		if (tstamp_mono() < c->deadline)
			conn_arm(c);
		else
			conn_expired(c);
		break;
	case CONN_CLOSING:
		if (!c->taken)
			conn_answer(c);
		else
			conn_close(c); /* lingered long enough */
		break;
	default:
		break;
	}
}

/* --- evhttp's own error pages --------------------------------------- */

static const char *
evhttp_error_why(int status)
{
	switch (status) {
	case 400:
		return "the request is not valid HTTP/1.1 (request line, "
		       "header fields, body length or chunked encoding)";
	case 413:
		return "the request body is larger than this hub accepts";
	case 417:
		return "the Expect header field asks for something other "
		       "than 100-continue";
	case 501:
		return "this method is not implemented";
	default:
		return "the request could not be processed";
	}
}

/* Output while no handler owns the request is evhttp's: an interim 100,
 * let through, or an HTML error page (head and Content-Length body),
 * replaced by the same error as a TAXII resource. */
static void
conn_vet(struct conn *c, struct evbuffer *out)
{
	char head[2048], *cl;
	struct evbuffer_ptr p, e;
	struct evbuffer *pre, *post;
	size_t len, hlen;
	long long clen;
	int status;

	for (;;) {
		len = evbuffer_get_length(out);
		if (c->vetted >= len ||
		    evbuffer_ptr_set(out, &p, c->vetted, EVBUFFER_PTR_SET) ==
			-1)
			return;
		e = evbuffer_search(out, "\r\n\r\n", 4, &p);
		if (e.pos < 0)
			return; /* the rest of the head is to come */
		hlen = (size_t)e.pos + 4 - c->vetted;
		if (hlen >= sizeof(head))
			goto foreign;
		evbuffer_copyout_from(out, &p, head, hlen);
		head[hlen] = '\0';
		if (sscanf(head, "HTTP/1.%*1[01] %3d ", &status) != 1)
			goto foreign;
		if (status >= 100 && status < 200) {
			c->vetted += hlen; /* 100 Continue */
			continue;
		}
		if ((cl = strstr(head, "\r\nContent-Length: ")) == NULL ||
		    sscanf(cl + 18, "%lld", &clen) != 1 || clen < 0)
			goto foreign;
		if (len - c->vetted < hlen + (size_t)clen)
			return; /* the body is to come */
		break;
	}
	pre = evbuffer_new();
	post = evbuffer_new();
	c->own = 1;
	if (pre != NULL && post != NULL) {
		evbuffer_remove_buffer(out, pre, c->vetted);
		evbuffer_drain(out, hlen + (size_t)clen);
		evbuffer_add_buffer(post, out); /* what followed, if any */
		conn_log(c, status,
		    conn_error_reply(out, status, evhttp_error_why(status)));
		evbuffer_add_buffer(out, post);
		evbuffer_prepend_buffer(out, pre);
	}
	c->own = 0;
	if (pre != NULL)
		evbuffer_free(pre);
	if (post != NULL)
		evbuffer_free(post);
foreign:
	c->state = CONN_EVHTTP; /* evhttp closes it after its answer */
	evtimer_del(c->timer);
}

static void
conn_output(
    struct evbuffer *out, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	if (c->own)
		return;
	c->vetted -= c->vetted < info->n_deleted ? c->vetted : info->n_deleted;
	if (info->n_added == 0)
		return;
	switch (c->state) {
	case CONN_NEW:
	case CONN_HEAD:
	case CONN_BODY:
	case CONN_IDLE:
		conn_vet(c, out);
		break;
	default:
		break;
	}
}

void
conn_drain_idle(struct worker *w, int ms)
{
	struct timeval idle = {ms / 1000, (ms % 1000) * 1000};
	struct conn *c;

	TAILQ_FOREACH(c, &w->conns, entry)
	if (c->parked == NULL && c->bev != NULL)
		bufferevent_set_timeouts(c->bev, &idle, &idle);
}

void
conn_stream(struct evhttp_connection *evcon, int on)
{
	struct conn *c = conn_of(evcon);
	struct runtime *rt;
	struct timeval tv;

	if (c == NULL || c->bev == NULL)
		return;
	rt = runtime_ref(c->w->rt);
	tv.tv_sec = (time_t)rt->conf->request_timeout;
	tv.tv_usec = 0;
	runtime_unref(rt);
	/* the client of a stream only listens: silence is not idleness */
	bufferevent_set_timeouts(c->bev, on ? NULL : &tv, &tv);
}
