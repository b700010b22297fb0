/*
 * load.c -- bounded load tests of what one client can make the hub hold
 * (issue #9, items 1, 2, 3 and 6), against a hub tests/load/run.sh
 * started on loopback.  Each test prints its figures on "# " lines and
 * ends in TAP lines; nothing asserts a time, only outcomes and memory
 * bounds far from either side.  Every loop is bounded in count and time.
 *
 *   load_client slow     50 heads and 50 authenticated bodies trickled
 *   load_client noread   40 clients that ask for a 16 MB page, never read
 *   load_client unauth   16 unauthenticated 60 MB POSTs
 *   load_client limits   connections per address and in all
 *   load_client fds      accept() out of descriptors (ulimit -n)
 *
 * Environment: LOAD_PORT, LOAD_TOKEN (a member's API token), HUB_PID,
 * HUB_LOG, LOAD_PER_ADDR and LOAD_MAX_CONNS (the hub's limits).
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "../bench/bench.h"

#define MAXC  512
#define TAXII "application/taxii+json;version=2.1"
#define OBJS  "/api1/collections/load/objects/"

struct lc {
	int fd;
	SSL *ssl;
	int state; /* 0 connecting, 1 open, 2 closed by the hub */
	double closed_at;
	char buf[1024];
	size_t n;
	size_t sent;
};

static SSL_CTX *ctx;
static int ntests, nfailed;

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL) {
		fprintf(
		    stderr, "load_client: %s is not set (use run.sh)\n", name);
		exit(2);
	}
	return v;
}

static void
tap(int ok, const char *fmt, ...)
{
	va_list ap;

	ntests++;
	if (!ok)
		nfailed++;
	printf("%s %d - ", ok ? "ok" : "not ok", ntests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* The hub's resident memory, MB. */
static double
hub_rss(void)
{
	return (double)bench_proc_kb(atoi(env("HUB_PID")), "VmRSS") / 1024;
}

static int
log_lines(const char *needle)
{
	FILE *f = fopen(env("HUB_LOG"), "r");
	char line[4096];
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

/* A non-blocking TCP connection from loopback address src. */
static int
tcp_open(const char *src)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	inet_pton(AF_INET, src, &sa.sin_addr);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	sa.sin_port = htons((unsigned short)atoi(env("LOAD_PORT")));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
lc_close(struct lc *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

/*
 * Opens n TLS connections from src, handshakes in parallel for at most
 * ms; counts those open, those the hub closed (refused) and those still
 * waiting (not accepted yet).
 */
static void
open_many(struct lc *c, int n, const char *src, int ms, int *open, int *refused,
    int *waiting)
{
	struct pollfd p[MAXC];
	double end = bench_now() + ms / 1000.0;
	int i, k, left = n, r, e;

	for (i = 0; i < n; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].fd = tcp_open(src);
		c[i].ssl = SSL_new(ctx);
		if (c[i].fd == -1 || c[i].ssl == NULL) {
			c[i].state = 2;
			left--;
			continue;
		}
		SSL_set_fd(c[i].ssl, c[i].fd);
		SSL_set_connect_state(c[i].ssl);
	}
	while (left > 0 && bench_now() < end) {
		for (i = k = 0; i < n; i++) {
			if (c[i].state != 0)
				continue;
			r = SSL_do_handshake(c[i].ssl);
			if (r == 1) {
				c[i].state = 1;
				left--;
				continue;
			}
			e = SSL_get_error(c[i].ssl, r);
			if (e != SSL_ERROR_WANT_READ &&
			    e != SSL_ERROR_WANT_WRITE) {
				c[i].state = 2;
				left--;
				ERR_clear_error();
				continue;
			}
			p[k].fd = c[i].fd;
			p[k].events =
			    e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
			k++;
		}
		if (k > 0)
			poll(p, (nfds_t)k, 50);
	}
	*open = *refused = *waiting = 0;
	for (i = 0; i < n; i++)
		if (c[i].state == 1)
			(*open)++;
		else if (c[i].state == 2)
			(*refused)++;
		else
			(*waiting)++;
}

/* Writes what it can now; -1 when the connection is gone. */
static int
lc_write(struct lc *c, const void *data, size_t len, size_t *done)
{
	int r = SSL_write(c->ssl, data, (int)len), e;

	*done = 0;
	if (r > 0) {
		*done = (size_t)r;
		return 0;
	}
	e = SSL_get_error(c->ssl, r);
	ERR_clear_error();
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/* Reads what is there; marks the connection closed (state 2) when the
 * hub closed it. */
static void
lc_read(struct lc *c, double t0)
{
	char tmp[16384];
	int r, e;

	for (;;) {
		r = SSL_read(c->ssl, tmp, sizeof(tmp));
		if (r > 0) {
			size_t k = (size_t)r;

			if (k > sizeof(c->buf) - 1 - c->n)
				k = sizeof(c->buf) - 1 - c->n;
			memcpy(c->buf + c->n, tmp, k);
			c->n += k;
			c->buf[c->n] = '\0';
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		ERR_clear_error();
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return;
		c->state = 2;
		c->closed_at = bench_now() - t0;
		return;
	}
}

/* Waits up to ms for the hub to answer or close any of the open ones. */
static void
poll_all(struct lc *c, int n, int ms, double t0)
{
	struct pollfd p[MAXC];
	int i, k = 0;

	for (i = 0; i < n; i++)
		if (c[i].state == 1) {
			p[k].fd = c[i].fd;
			p[k].events = POLLIN;
			k++;
		}
	if (k == 0 || poll(p, (nfds_t)k, ms) <= 0)
		return;
	for (i = 0; i < n; i++)
		if (c[i].state == 1)
			lc_read(&c[i], t0);
}

/* Sends a whole request on a fresh connection and reads the whole
 * answer (until Content-Length, chunked end or close; at most secs);
 * returns the status, 0 on failure; body bytes in *bodylen. */
static int
request(const char *req, size_t reqlen, int secs, size_t *bodylen)
{
	struct lc c[1];
	int open, refused, waiting, status = 0;
	double end = bench_now() + secs;
	size_t off = 0, done, total = 0;
	char tmp[65536], head[1024];
	size_t hn = 0;

	*bodylen = 0;
	open_many(c, 1, "127.0.0.9", 3000, &open, &refused, &waiting);
	if (!open) {
		lc_close(c);
		return 0;
	}
	while (off < reqlen && bench_now() < end) {
		struct pollfd p = {c->fd, POLLOUT, 0};

		if (lc_write(c, req + off, reqlen - off, &done) == -1)
			break;
		off += done;
		if (done == 0)
			poll(&p, 1, 100);
	}
	while (bench_now() < end) {
		struct pollfd p = {c->fd, POLLIN, 0};
		int r = SSL_read(c->ssl, tmp, sizeof(tmp)), e;
		char *cl;

		if (r > 0) {
			size_t k = (size_t)r;

			if (hn < sizeof(head) - 1) {
				size_t m = k < sizeof(head) - 1 - hn
				    ? k
				    : sizeof(head) - 1 - hn;

				memcpy(head + hn, tmp, m);
				hn += m;
				head[hn] = '\0';
			}
			total += k;
			if (status == 0)
				sscanf(head, "HTTP/1.1 %d", &status);
			/* a sized answer ends at its length; a chunked one
			 * at "0\r\n\r\n" */
			if ((cl = strstr(head, "Content-Length: ")) != NULL &&
			    strstr(head, "\r\n\r\n") != NULL &&
			    total >=
				(size_t)(strstr(head, "\r\n\r\n") + 4 - head) +
				    strtoul(cl + 16, NULL, 10))
				break;
			if (r >= 5 && memcmp(tmp + r - 5, "0\r\n\r\n", 5) == 0)
				break;
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		ERR_clear_error();
		if (e != SSL_ERROR_WANT_READ)
			break;
		poll(&p, 1, 100);
	}
	if (strstr(head, "\r\n\r\n") != NULL)
		*bodylen =
		    total - (size_t)(strstr(head, "\r\n\r\n") + 4 - head);
	lc_close(c);
	return status;
}

/* --- item 1 --------------------------------------------------------- */

static void
summary(const char *what, struct lc *c, int n)
{
	double lo = 1e9, hi = 0;
	int i, cut = 0, with408 = 0;

	for (i = 0; i < n; i++) {
		if (c[i].state != 2)
			continue;
		cut++;
		if (strncmp(c[i].buf, "HTTP/1.1 408 ", 13) == 0)
			with408++;
		if (c[i].closed_at < lo)
			lo = c[i].closed_at;
		if (c[i].closed_at > hi)
			hi = c[i].closed_at;
	}
	printf("# %s: %d/%d cut off (%d with a 408 TAXII error), after "
	       "%.1f-%.1f s\n",
	    what, cut, n, with408, cut ? lo : 0, hi);
	tap(cut == n, "%s: all %d cut off by the hub", what, n);
}

static int
t_slow(void)
{
	static struct lc h[50], b[50];
	const char trickle[] =
	    "GET /taxii2/ HTTP/1.1\r\nHost: load\r\n"
	    "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
	char head[512];
	int open, refused, waiting, i, tick, left;
	double t0;
	size_t done;

	printf("# item 1: 50 heads trickled a byte a second, 50 "
	       "authenticated bodies the same (request_timeout 3 s, "
	       "header_timeout and body_timeout 2 s)\n");
	open_many(h, 50, "127.0.0.1", 5000, &open, &refused, &waiting);
	if (open != 50) {
		tap(0, "slow: 50 connections (%d open)", open);
		return -1;
	}
	open_many(b, 50, "127.0.0.1", 5000, &open, &refused, &waiting);
	if (open != 50) {
		tap(0, "slow: 50 more connections (%d open)", open);
		return -1;
	}
	snprintf(head, sizeof(head),
	    "POST " OBJS " HTTP/1.1\r\nHost: load\r\n"
	    "Authorization: Bearer %s\r\nContent-Type: " TAXII "\r\n"
	    "Content-Length: 1000\r\n\r\n{",
	    env("LOAD_TOKEN"));
	t0 = bench_now();
	for (i = 0; i < 50; i++)
		lc_write(&b[i], head, strlen(head), &done);
	for (tick = 0; tick < 15; tick++) {
		for (i = 0, left = 0; i < 50; i++) {
			if (h[i].state == 1) {
				if (lc_write(&h[i], trickle + tick, 1, &done) ==
				    -1) {
					h[i].state = 2;
					h[i].closed_at = bench_now() - t0;
				}
				left++;
			}
			if (b[i].state == 1) {
				if (lc_write(&b[i], " ", 1, &done) == -1) {
					b[i].state = 2;
					b[i].closed_at = bench_now() - t0;
				}
				left++;
			}
		}
		if (left == 0)
			break;
		while (bench_now() < t0 + tick + 1) {
			poll_all(h, 50, 50, t0);
			poll_all(b, 50, 50, t0);
		}
	}
	summary("item 1, trickled heads", h, 50);
	summary("item 1, trickled bodies", b, 50);
	for (i = 0; i < 50; i++) {
		lc_close(&h[i]);
		lc_close(&b[i]);
	}
	return 0;
}

/* --- item 2 --------------------------------------------------------- */

static void
uuid(char out[37])
{
	unsigned char r[16];

	RAND_bytes(r, sizeof(r));
	snprintf(out, 37,
	    "%02x%02x%02x%02x-%02x%02x-4%x%02x-8%x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    r[0], r[1], r[2], r[3], r[4], r[5], r[6] & 15, r[7], r[8] & 15,
	    r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

static int
t_noread(void)
{
	static struct lc c[40];
	size_t cap = 18u << 20, len = 0, body;
	char *env_buf = malloc(cap), *req, id[37], desc[16001];
	int i, open, refused, waiting, status;
	double r0, r1 = 0, t;

	printf("# item 2: 40 clients ask for a 16 MB page and never read "
	       "it\n");
	memset(desc, 'x', 16000);
	desc[16000] = '\0';
	len += (size_t)snprintf(env_buf, cap, "{\"objects\":[");
	for (i = 0; i < 1000; i++) {
		uuid(id);
		len += (size_t)snprintf(env_buf + len, cap - len,
		    "%s{\"type\":\"indicator\",\"spec_version\":\"2.1\","
		    "\"id\":\"indicator--%s\","
		    "\"created\":\"2024-01-01T00:00:00.000Z\","
		    "\"modified\":\"2024-01-01T00:00:00.000Z\","
		    "\"pattern\":\"[ipv4-addr:value = '10.1.%d.%d']\","
		    "\"pattern_type\":\"stix\","
		    "\"valid_from\":\"2024-01-01T00:00:00Z\","
		    "\"description\":\"%s\"}",
		    i ? "," : "", id, i / 256, i % 256, desc);
	}
	len += (size_t)snprintf(env_buf + len, cap - len, "]}");
	req = malloc(len + 1024);
	i = snprintf(req, 1024,
	    "POST " OBJS " HTTP/1.1\r\nHost: load\r\n"
	    "Authorization: Bearer %s\r\nContent-Type: " TAXII "\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	    env("LOAD_TOKEN"), len);
	memcpy(req + i, env_buf, len);
	status = request(req, (size_t)i + len, 60, &body);
	free(env_buf);
	if (status != 202) {
		tap(0, "noread: publishing 1,000 objects of 16 KB: %d", status);
		free(req);
		return -1;
	}
	i = snprintf(req, 1024,
	    "GET " OBJS "?limit=1000 HTTP/1.1\r\nHost: load\r\n"
	    "Authorization: Bearer %s\r\nAccept: " TAXII "\r\n"
	    "Connection: close\r\n\r\n",
	    env("LOAD_TOKEN"));
	status = request(req, (size_t)i, 30, &body);
	printf("# the page: %.1f MB (status %d)\n", (double)body / 1048576,
	    status);
	usleep(500000);
	r0 = hub_rss();
	open_many(c, 40, "127.0.0.1", 5000, &open, &refused, &waiting);
	for (i = 0; i < 40; i++) {
		size_t done;

		if (c[i].state == 1)
			lc_write(&c[i], req, strlen(req), &done);
	}
	for (t = bench_now(); bench_now() < t + 3;) {
		double r = hub_rss();

		if (r > r1)
			r1 = r;
		usleep(100000);
	}
	printf("# hub RSS %.0f MB before, %.0f MB at most with the 40 "
	       "readers that do not read: +%.0f MB (%.1f MB a client)\n",
	    r0, r1, r1 - r0, (r1 - r0) / 40);
	tap(open == 40 && r1 - r0 < 160,
	    "item 2: 40 readers that do not read hold less than 160 MB "
	    "(+%.0f MB)",
	    r1 - r0);
	for (i = 0; i < 40; i++)
		lc_close(&c[i]);
	status = request(req, strlen(req), 30, &body);
	tap(status == 200 && body > 16000000,
	    "item 2: the page is served whole afterwards (%d, %zu bytes)",
	    status, body);
	free(req);
	return 0;
}

/* --- item 3 --------------------------------------------------------- */

static int
t_unauth(void)
{
	static struct lc c[16];
	static char chunk[65536];
	const size_t total = 60000000;
	char head[512];
	int i, open, refused, waiting, left, got401 = 0;
	double r0, r1, t0;
	size_t done, sent = 0;

	printf("# item 3: 16 unauthenticated POSTs of 60 MB, sent as fast "
	       "as the hub takes them\n");
	memset(chunk, ' ', sizeof(chunk));
	snprintf(head, sizeof(head),
	    "POST " OBJS " HTTP/1.1\r\nHost: load\r\n"
	    "Authorization: Bearer cth_not-a-token\r\n"
	    "Content-Type: " TAXII "\r\nContent-Length: %zu\r\n\r\n",
	    total);
	r0 = r1 = hub_rss();
	open_many(c, 16, "127.0.0.1", 5000, &open, &refused, &waiting);
	for (i = 0; i < 16; i++)
		if (c[i].state == 1)
			lc_write(&c[i], head, strlen(head), &done);
	t0 = bench_now();
	do {
		struct pollfd p[16];
		int k = 0;

		for (i = left = 0; i < 16; i++) {
			if (c[i].state != 1 || c[i].n > 0)
				continue;
			left++;
			if (c[i].sent < total &&
			    lc_write(&c[i], chunk,
				total - c[i].sent < sizeof(chunk)
				    ? total - c[i].sent
				    : sizeof(chunk),
				&done) == 0) {
				c[i].sent += done;
				sent += done;
			}
			p[k].fd = c[i].fd;
			p[k].events =
			    POLLIN | (c[i].sent < total ? POLLOUT : 0);
			k++;
		}
		if (k > 0)
			poll(p, (nfds_t)k, 20);
		for (i = 0; i < 16; i++)
			if (c[i].state == 1)
				lc_read(&c[i], t0);
		if (hub_rss() > r1)
			r1 = hub_rss();
	} while (left > 0 && bench_now() < t0 + 20);
	for (i = 0; i < 16; i++) {
		if (strncmp(c[i].buf, "HTTP/1.1 401 ", 13) == 0)
			got401++;
		lc_close(&c[i]);
	}
	printf("# %d of 16 answered 401 after %.1f MB of body sent in all, "
	       "in %.1f s; hub RSS %.0f MB before, at most +%.0f MB\n",
	    got401, (double)sent / 1048576, bench_now() - t0, r0, r1 - r0);
	tap(got401 == 16, "item 3: all 16 get a 401");
	tap(r1 - r0 < 64,
	    "item 3: unauthenticated bodies hold less than 64 MB (+%.0f MB)",
	    r1 - r0);
	return 0;
}

static int
t_limits(void)
{
	static struct lc a[MAXC], b[4], m[MAXC];
	int per = atoi(env("LOAD_PER_ADDR")), max = atoi(env("LOAD_MAX_CONNS"));
	int open, refused, waiting, o2, r2, w2, i, n;
	char src[32];
	double t;

	printf("# item 3: max_conns_per_addr %d, max_conns %d\n", per, max);
	open_many(a, per + 10, "127.0.0.2", 3000, &open, &refused, &waiting);
	printf("# %d connections from 127.0.0.2: %d open, %d refused, %d "
	       "waiting\n",
	    per + 10, open, refused, waiting);
	tap(open == per && refused == 10,
	    "item 3: one address keeps at most max_conns_per_addr");
	open_many(b, 1, "127.0.0.3", 3000, &o2, &r2, &w2);
	tap(o2 == 1, "item 3: another address still gets in");
	/* up to the total, and past it, from more addresses */
	n = max - per - 1 + 10;
	for (i = 0; i < n; i += per - 1) {
		snprintf(src, sizeof(src), "127.0.1.%d", i / (per - 1) + 1);
		open_many(m + i, n - i < per - 1 ? n - i : per - 1, src, 2000,
		    &o2, &r2, &w2);
		open += o2;
		refused += r2;
		waiting += w2;
	}
	printf("# %d more from other addresses: in all %d open, %d refused "
	       "or waiting\n",
	    n, open + 1, refused - 10 + waiting);
	tap(open + 1 <= max && open + 1 >= max - 2,
	    "item 3: at most max_conns open in all (%d)", open + 1);
	for (i = 0; i < per + 10; i++)
		lc_close(&a[i]);
	for (i = 0; i < n; i++)
		lc_close(&m[i]);
	lc_close(&b[0]);
	/* accepting resumes once connections close */
	for (t = bench_now(), o2 = 0; !o2 && bench_now() < t + 5;) {
		open_many(b, 1, "127.0.0.4", 1000, &o2, &r2, &w2);
		lc_close(&b[0]);
	}
	printf("# accepting again %.1f s after they closed\n", bench_now() - t);
	tap(o2 == 1, "item 3: accepting resumes below max_conns");
	return 0;
}

/* --- item 6 --------------------------------------------------------- */

static int
t_fds(void)
{
	static int fd[400];
	int i, n = 400, lines0 = log_lines("accept"), lines, status;
	double c0, c1, t, t0;
	char req[512];
	size_t body;

	printf(
	    "# item 6: %d connections to a hub limited to ulimit -n 64\n", n);
	for (i = 0; i < n; i++)
		fd[i] = tcp_open("127.0.0.7");
	usleep(500000);
	c0 = bench_proc_cpu(atoi(env("HUB_PID")));
	t0 = bench_now();
	sleep(3);
	c1 = bench_proc_cpu(atoi(env("HUB_PID")));
	lines = log_lines("accept") - lines0;
	printf("# descriptors used up: hub CPU %.0f%% of a core over %.1f "
	       "s, %d log lines about accept\n",
	    100 * (c1 - c0) / (bench_now() - t0), bench_now() - t0, lines);
	tap(lines <= 4,
	    "item 6: no log flood while out of descriptors "
	    "(%d lines)",
	    lines);
	for (i = 0; i < n; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	snprintf(req, sizeof(req),
	    "GET /taxii2/ HTTP/1.1\r\nHost: load\r\n"
	    "Authorization: Bearer %s\r\nAccept: " TAXII "\r\n"
	    "Connection: close\r\n\r\n",
	    env("LOAD_TOKEN"));
	for (t = bench_now(), status = 0;
	     status != 200 && bench_now() < t + 10;)
		if ((status = request(req, strlen(req), 3, &body)) != 200)
			usleep(200000);
	printf("# serving again %.1f s after the clients closed\n",
	    bench_now() - t);
	tap(status == 200, "item 6: the hub serves again");
	return 0;
}

int
main(int argc, char **argv)
{
	int rc = 2;

	if (argc != 2)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	ctx = SSL_CTX_new(TLS_client_method());
	if (strcmp(argv[1], "slow") == 0)
		rc = t_slow();
	else if (strcmp(argv[1], "noread") == 0)
		rc = t_noread();
	else if (strcmp(argv[1], "unauth") == 0)
		rc = t_unauth();
	else if (strcmp(argv[1], "limits") == 0)
		rc = t_limits();
	else if (strcmp(argv[1], "fds") == 0)
		rc = t_fds();
	SSL_CTX_free(ctx);
	if (rc == 2)
		return 2;
	return nfailed || rc ? 1 : 0;
}
