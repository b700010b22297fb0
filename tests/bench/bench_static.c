/*
 * bench_static.c -- the reference for the read benchmark: the same stack
 * as ctihubd (libevent evhttp, OpenSSL bufferevents, TLS, one event loop
 * per thread on a shared listening socket, TCP_NODELAY) serving one fixed
 * page from memory for every request.  Whatever ctihubd does beyond this
 * is the cost of the hub.
 *
 * usage: bench_static PORT CERT KEY PAGEFILE THREADS
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>

static SSL_CTX *ctx;
static char *page;
static size_t pagelen;
static int lfd;

static struct bufferevent *
bevcb(struct event_base *base, void *arg)
{
	(void)arg;
	return bufferevent_openssl_socket_new(base, -1, SSL_new(ctx),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static void
serve(struct evhttp_request *req, void *arg)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	int one = 1;

	(void)arg;
	setsockopt(bufferevent_getfd(evhttp_connection_get_bufferevent(c)),
	    IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/taxii+json;version=2.1");
	evbuffer_add(evhttp_request_get_output_buffer(req), page, pagelen);
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void *
loop(void *arg)
{
	struct event_base *base = event_base_new();
	struct evhttp *http = evhttp_new(base);

	(void)arg;
	evhttp_set_bevcb(http, bevcb, NULL);
	evhttp_set_gencb(http, serve, NULL);
	evhttp_accept_socket_with_handle(http, dup(lfd));
	event_base_dispatch(base);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	pthread_t th[16];
	FILE *f;
	int i, n, one = 1;

	if (argc != 6)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (SSL_CTX_use_certificate_chain_file(ctx, argv[2]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1)
		return 1;
	if ((f = fopen(argv[4], "rb")) == NULL)
		return 1;
	fseek(f, 0, SEEK_END);
	pagelen = (size_t)ftell(f);
	rewind(f);
	page = malloc(pagelen);
	if (fread(page, 1, pagelen, f) != pagelen)
		return 1;
	fclose(f);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 1024) == -1)
		return 1;
	n = atoi(argv[5]);
	if (n < 1 || n > 16)
		n = 2;
	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, loop, NULL);
	{
		socklen_t sl = sizeof(sa);

		getsockname(lfd, (struct sockaddr *)&sa, &sl);
		fprintf(stderr, "ready %d\n", ntohs(sa.sin_port));
	}
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	return 0;
}
