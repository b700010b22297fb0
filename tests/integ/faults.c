/*
 * faults.c -- the clients of the fault tests (tests/integ/faults.sh runs
 * them around the faults it makes: signals, a full file system, flipped
 * bytes, a killed reader).  Each is bounded in time and prints its
 * figures as TAP comments:
 *   --fault load SECS READY     publishers and readers on their own
 *       connections until the hub refuses connections (it was stopped)
 *       or SECS pass; touches READY after the first 202.  Fails when a
 *       request that was sent got no complete answer, or an answer other
 *       than 200, 202 or 503.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ctihub/buf.h"

#include "integ.h"

#define OBJS "/api1/collections/any/objects/"

static const struct opts alice = {.user = "alice:integ-pass-1"};

/* --- SIGTERM under load ------------------------------------------------- */

#define LOAD_POSTERS	4
#define LOAD_READERS	2
#define LOAD_PER_POST	50
#define LOAD_MAX_ERRORS 5

struct load {
	time_t end;
	const char *ready;
	atomic_int first; /* a 202 was seen */
	pthread_mutex_t lock;
	long ok2xx, ok503, bad, unanswered, refused, sent;
	char errors[LOAD_MAX_ERRORS][300];
	int nerrors;
};

struct loader {
	struct load *ld;
	int index;
	int post;
};

static void load_note(struct load *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
load_note(struct load *ld, const char *fmt, ...)
{
	va_list ap;

	if (ld->nerrors == LOAD_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(ld->errors[ld->nerrors++], sizeof(ld->errors[0]), fmt, ap);
	va_end(ap);
}

static void *
load_thread(void *arg)
{
	struct loader *lr = arg;
	struct load *ld = lr->ld;
	CURL *c = curl_easy_init();
	struct buf b = BUF_INIT;
	struct resp r;
	struct opts o = alice;
	unsigned n, k;
	char u[37], pat[96];

	for (n = 0; time(NULL) < ld->end; n++) {
		if (lr->post) {
			buf_reset(&b);
			buf_adds(&b, "{\"objects\":[");
			for (k = 0; k < LOAD_PER_POST; k++) {
				snprintf(u, sizeof(u),
				    "5e%06x-%04x-4000-8000-%04x%08x",
				    (unsigned)getpid() & 0xffffff, k,
				    (unsigned)lr->index, n);
				snprintf(pat, sizeof(pat),
				    "[ipv4-addr:value = '10.%u.%u.%u']",
				    (unsigned)lr->index, n % 256, k % 256);
				if (k)
					buf_addc(&b, ',');
				integ_indicator(
				    &b, u, "2024-03-01T00:00:00.000Z", pat);
			}
			buf_adds(&b, "]}");
			o.body = buf_cstr(&b);
			o.bodylen = b.len;
			http_with(c, "POST", OBJS, &o, &r);
		} else
			http_with(c, "GET", OBJS "?limit=200", &alice, &r);
		pthread_mutex_lock(&ld->lock);
		if ((r.err == CURLE_COULDNT_CONNECT ||
			r.err == CURLE_SSL_CONNECT_ERROR) &&
		    r.sent == 0) {
			/* refused, or closed before TLS was up: the
			 * request was never sent (curl retries a request
			 * sent on a connection that died on a new one:
			 * then r.sent counts the first try) */
			ld->refused++;
			pthread_mutex_unlock(&ld->lock);
			resp_free(&r);
			break;
		}
		ld->sent++;
		if (r.err != 0) {
			ld->unanswered++;
			load_note(ld,
			    "%s request %u of thread %d: no answer (%s)",
			    lr->post ? "POST" : "GET", n, lr->index, r.ctype);
		} else if (r.code == 200 || r.code == 202) {
			ld->ok2xx++;
			if (r.code == 202 && !atomic_exchange(&ld->first, 1))
				file_write(ld->ready, "ready\n");
		} else if (r.code == 503 && r.json != NULL) {
			ld->ok503++;
		} else {
			ld->bad++;
			load_note(ld, "%s request %u: status %ld: %.200s",
			    lr->post ? "POST" : "GET", n, r.code,
			    r.body ? r.body : "");
		}
		pthread_mutex_unlock(&ld->lock);
		resp_free(&r);
	}
	buf_clear(&b);
	curl_easy_cleanup(c);
	return NULL;
}

static int
fault_load(int secs, const char *ready)
{
	struct load ld;
	struct loader lr[LOAD_POSTERS + LOAD_READERS];
	pthread_t th[LOAD_POSTERS + LOAD_READERS];
	int i, n = LOAD_POSTERS + LOAD_READERS;

	memset(&ld, 0, sizeof(ld));
	ld.end = time(NULL) + secs;
	ld.ready = ready;
	pthread_mutex_init(&ld.lock, NULL);
	for (i = 0; i < n; i++) {
		lr[i].ld = &ld;
		lr[i].index = i;
		lr[i].post = i < LOAD_POSTERS;
		if (pthread_create(&th[i], NULL, load_thread, &lr[i]) != 0)
			return 2;
	}
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	printf("# load: %ld requests sent: %ld answered 200/202, %ld answered "
	       "503, %ld other answers, %ld without an answer; %ld "
	       "connections refused\n",
	    ld.sent, ld.ok2xx, ld.ok503, ld.bad, ld.unanswered, ld.refused);
	for (i = 0; i < ld.nerrors; i++)
		printf("# load: %s\n", ld.errors[i]);
	pthread_mutex_destroy(&ld.lock);
	if (ld.ok2xx == 0)
		return 1;
	return ld.unanswered == 0 && ld.bad == 0 ? 0 : 1;
}

int
faults_main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[2], "load") == 0)
		return fault_load(atoi(argv[3]), argv[4]);
	fprintf(stderr, "usage: integ_client --fault load SECS READY\n");
	return 2;
}
