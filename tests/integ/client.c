/*
 * client.c -- runs the integration tests against the daemon run.sh
 * started, over real TLS with libcurl; prints TAP.  Usage: integ_client
 * [name-substring] (only the matching tests).
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "integ.h"

#define TAXII "application/taxii+json;version=2.1"

static CURL *curl_main; /* one handle: connections are reused (keep-alive) */

const char *
env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL) {
		fprintf(
		    stderr, "integ_client: %s is not set (use run.sh)\n", name);
		exit(2);
	}
	return v;
}

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	char *nb = realloc(r->body, r->len + sz * n + 1);

	if (nb == NULL)
		return 0;
	memcpy(nb + r->len, p, sz * n);
	r->body = nb;
	r->len += sz * n;
	r->body[r->len] = '\0';
	return sz * n;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t have = strlen(r->headers), len = sz * n;

	if (have + len < sizeof(r->headers)) {
		memcpy(r->headers + have, p, len);
		r->headers[have + len] = '\0';
	}
	return len;
}

const char *
resp_header(const struct resp *r, const char *name)
{
	static char val[1024];
	const char *p = r->headers;
	size_t nl = strlen(name);

	while (p != NULL && *p != '\0') {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *e;

			v += strspn(v, " ");
			e = strpbrk(v, "\r\n");
			snprintf(val, sizeof(val), "%.*s",
			    (int)(e ? e - v : (long)strlen(v)), v);
			return val;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

int
http(const char *method, const char *path, const struct opts *o, struct resp *r)
{
	return http_on(curl_main, method, path, o, r);
}

int
http_on(void *curl, const char *method, const char *path, const struct opts *o,
    struct resp *r)
{
	static const struct opts none;
	CURL *c = curl;
	struct curl_slist *h = NULL;
	char url[4096], line[8192];
	char *ct;
	CURLcode rc;

	if (o == NULL)
		o = &none;
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", env("HUB_URL"), path);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, env("HUB_CA"));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (o->path_as_is)
		curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	if (o->from != NULL) {
		snprintf(line, sizeof(line), "host!%s", o->from);
		curl_easy_setopt(c, CURLOPT_INTERFACE, line);
	}
	if (o->fresh) {
		curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	}
	if (o->user != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, o->user);
	}
	if (o->token != NULL) {
		snprintf(
		    line, sizeof(line), "Authorization: Bearer %s", o->token);
		h = curl_slist_append(h, line);
	}
	if (o->cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, o->key);
	}
	if (o->tls_max || o->tls_min)
		curl_easy_setopt(c, CURLOPT_SSLVERSION,
		    (o->tls_min ? o->tls_min : CURL_SSLVERSION_TLSv1) |
			o->tls_max);
	snprintf(
	    line, sizeof(line), "Accept: %s", o->accept ? o->accept : TAXII);
	h = curl_slist_append(h, line);
	if (o->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(o->bodylen ? o->bodylen : strlen(o->body)));
		snprintf(line, sizeof(line), "Content-Type: %s",
		    o->ctype ? o->ctype : TAXII);
		h = curl_slist_append(h, line);
		h = curl_slist_append(h, "Expect:");
	}
	if (o->header != NULL)
		h = curl_slist_append(h, o->header);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &r->sent);
	if (rc != CURLE_OK) {
		snprintf(
		    r->ctype, sizeof(r->ctype), "%s", curl_easy_strerror(rc));
		r->err = (int)rc;
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL)
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
	if (r->body != NULL)
		r->json = json_loadb(r->body, r->len, 0, NULL);
	return 0;
}

int
integ_post(
    const struct opts *who, const char *path, const char *body, struct resp *r)
{
	struct opts o = *who;

	o.body = body;
	o.bodylen = strlen(body);
	return http("POST", path, &o, r);
}

const char *
integ_jstr(const json_t *j, const char *key)
{
	const char *v = json_string_value(json_object_get(j, key));

	return v != NULL ? v : "";
}

void
resp_free(struct resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

double
integ_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void
integ_ids(const struct resp *r, char *ids, size_t idslen)
{
	json_t *o;
	size_t i;

	json_array_foreach(json_object_get(r->json, "objects"), i, o)
	    snprintf(ids + strlen(ids), idslen - strlen(ids), "%s ",
		json_string_value(json_object_get(o, "id")));
}

int
integ_walk(
    const struct opts *who, const char *first, integ_page_cb *page, void *arg)
{
	struct resp r;
	char p[2048], next[256] = "";
	int pages = 0;

	while (pages < 100000) {
		snprintf(p, sizeof(p), "%s%s%s", first, next[0] ? "&next=" : "",
		    next);
		if (http("GET", p, who, &r) != 0 || r.code != 200) {
			fprintf(stderr, "walk: %ld %s\n", r.code, r.body);
			resp_free(&r);
			return -1;
		}
		pages++;
		if (page(&r, arg) != 0) {
			resp_free(&r);
			return -1;
		}
		if (!json_is_true(json_object_get(r.json, "more"))) {
			resp_free(&r);
			return pages;
		}
		if (!json_is_string(json_object_get(r.json, "next"))) {
			fprintf(stderr, "walk: more without next\n");
			resp_free(&r);
			return -1;
		}
		snprintf(next, sizeof(next), "%s",
		    json_string_value(json_object_get(r.json, "next")));
		resp_free(&r);
	}
	return -1;
}

int
file_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

char *
file_read(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = n < 0 ? NULL : calloc(1, (size_t)n + 1);
	if (text != NULL && fread(text, 1, (size_t)n, f) != (size_t)n) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

int
file_replace(const char *path, const char *from, const char *to)
{
	char *text = file_read(path), *at, *out;
	size_t n;
	int rc;

	if (text == NULL)
		return -1;
	if ((at = strstr(text, from)) == NULL) {
		free(text);
		return -1;
	}
	n = strlen(text);
	out = malloc(n + strlen(to) + 1);
	memcpy(out, text, (size_t)(at - text));
	strcpy(out + (at - text), to);
	strcat(out, at + strlen(from));
	rc = file_write(path, out);
	free(text);
	free(out);
	return rc;
}

int
log_count(const char *needle)
{
	FILE *f = fopen(env("HUB_LOG"), "r");
	char line[8192];
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

int
log_wait(const char *needle, int before, int secs)
{
	int i;

	for (i = 0; i < secs * 20; i++) {
		if (log_count(needle) > before)
			return 0;
		usleep(50000);
	}
	return -1;
}

int
hub_signal(int sig)
{
	return kill((pid_t)atoi(env("HUB_PID")), sig);
}

int
hub_connect(const char *src)
{
	const char *url = env("HUB_URL");
	const char *colon = strrchr(url, ':');
	struct sockaddr_in sa;
	struct timeval tv = {8, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	if (src != NULL) {
		inet_pton(AF_INET, src, &sa.sin_addr);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
			close(fd);
			return -1;
		}
	}
	sa.sin_port = htons((unsigned short)atoi(colon + 1));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

SSL_CTX *
raw_ctx(void)
{
	return SSL_CTX_new(TLS_client_method());
}

SSL *
raw_open(SSL_CTX *ctx, const char *src)
{
	SSL *ssl;
	int fd;

	if ((fd = hub_connect(src)) == -1)
		return NULL;
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		close(fd);
		ERR_clear_error();
		return NULL;
	}
	/* from here reads and writes wait in poll, never in a syscall */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return ssl;
}

int
raw_write(SSL *ssl, const void *data, size_t len)
{
	size_t done = 0;
	int n, i, err;

	for (i = 0; done < len && i < 1000; i++) {
		struct pollfd p = {SSL_get_fd(ssl), POLLOUT, 0};

		n = SSL_write(
		    ssl, (const char *)data + done, (int)(len - done));
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		err = SSL_get_error(ssl, n);
		if (err == SSL_ERROR_WANT_READ)
			p.events = POLLIN;
		else if (err != SSL_ERROR_WANT_WRITE) {
			ERR_clear_error();
			return -1;
		}
		if (poll(&p, 1, 5000) <= 0)
			return -1;
	}
	return done == len ? 0 : -1;
}

void
raw_close(SSL *ssl)
{
	int fd;

	if (ssl == NULL)
		return;
	fd = SSL_get_fd(ssl);
	SSL_free(ssl);
	close(fd);
}

size_t
raw_read(SSL *ssl, char *buf, size_t len, int ms, int *closed)
{
	struct timeval t0, t;
	size_t got = 0;
	int n, left;

	*closed = 0;
	gettimeofday(&t0, NULL);
	for (;;) {
		struct pollfd p = {SSL_get_fd(ssl), POLLIN, 0};

		gettimeofday(&t, NULL);
		left = ms -
		    (int)((t.tv_sec - t0.tv_sec) * 1000 +
			(t.tv_usec - t0.tv_usec) / 1000);
		if (left <= 0)
			break;
		if (SSL_pending(ssl) == 0 && poll(&p, 1, left) <= 0)
			continue;
		n = SSL_read(ssl, buf + got, (int)(len - 1 - got));
		if (n > 0) {
			got += (size_t)n;
			if (got == len - 1)
				break;
			continue;
		}
		if (SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ)
			continue;
		*closed = 1; /* close_notify, EOF or a reset */
		ERR_clear_error();
		break;
	}
	buf[got] = '\0';
	return got;
}

int
main(int argc, char **argv)
{
	const struct test *tables[] = {foundation_tests, add_tests, read_tests,
	    sharing_tests, integrity_tests, scan_tests, reload_tests,
	    stream_tests, conn_tests, auth_tests, NULL};
	const struct test *t;
	char why[2048];
	int i, n = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	curl_global_init(CURL_GLOBAL_ALL);
	curl_main = curl_easy_init();
	if (argc > 1 && strcmp(argv[1], "--durability") == 0)
		return durability_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "--fault") == 0)
		return faults_main(argc, argv);
	if (argc > 1 && strncmp(argv[1], "--webhook-", 10) == 0)
		return webhook_sign_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "--obs-seed") == 0)
		return obs_seed_main(argc, argv);
	for (i = 0; tables[i] != NULL; i++)
		for (t = tables[i]; t->name != NULL; t++) {
			if (argc > 1 && strstr(t->name, argv[1]) == NULL)
				continue;
			why[0] = '\0';
			n++;
			int rc = t->fn(why, sizeof(why));

			if (rc == 0)
				printf("ok %d - %s\n", n, t->name);
			else if (rc == 1) /* could not run here */
				printf("ok %d - %s # %s\n", n, t->name, why);
			else {
				printf(
				    "not ok %d - %s # %s\n", n, t->name, why);
				failed++;
			}
		}
	printf("1..%d\n", n);
	curl_easy_cleanup(curl_main);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
