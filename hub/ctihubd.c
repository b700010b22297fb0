/*
 * ctihubd.c -- the daemon: reads the configuration, opens the store, binds
 * the listening sockets, starts the HTTP workers (and the writer and the
 * parser pool), then turns signals into events: SIGTERM/SIGINT shut down
 * cleanly, SIGHUP (or an edit in the policy directory) reloads the
 * configuration and keeps the running one when the new one has an error;
 * policy warnings are logged and do not keep a reload out.  Stays in the
 * foreground; logs to stderr.
 */
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>

#include "ctihub/alloc.h"
#include "ctihub/cred.h"
#include "ctihub/log.h"
#include "ctihub/metrics.h"
#include "ctihub/policy.h"
#include "ctihub/workq.h"

#include "hub.h"
#include "feeds.h"
#include "push.h"
#include "route.h"
#include "transport.h"
#include "pipeline.h"
#include "writer.h"

static struct hub the_hub;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ctihubd [-nv] [-c file]\n"
	    "  -c file  configuration (default /etc/ctihub/ctihub.conf)\n"
	    "  -n       check the configuration, print \"configuration OK\" "
	    "and exit\n"
	    "  -v       debug logging\n");
	exit(2);
}

/*
 * Opens the access log of snapshot `rt` (access_log: a path, "-" for
 * stderr, "off" for none).  Each snapshot has its own descriptor, closed
 * with the snapshot's last reference: a request logs to the file of the
 * configuration it started under, and a reload reopens the file (for
 * rotation) without touching a descriptor a worker may be writing to.
 * When the file cannot be opened, the snapshot keeps logging where `old`
 * did.
 */
static void
alog_open(struct runtime *rt, const struct runtime *old)
{
	const char *path = rt->conf->access_log;
	int fd;

	if (strcmp(path, "off") == 0)
		fd = -1;
	else if (strcmp(path, "-") == 0)
		fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
	else if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		      0640)) == -1) {
		log_warn("cannot open access log %s", path);
		if (old != NULL && old->alog_fd >= 0)
			fd = fcntl(old->alog_fd, F_DUPFD_CLOEXEC, 0);
	}
	rt->alog_fd = fd;
}

/*
 * Binds the addresses of one listen directive (`what`: "listen" or
 * "metrics_listen") into fds.  0, or -1 once one cannot be bound.
 */
/* At each scrape: the gauges read from their owners. */
static void
metrics_scrape(struct metrics *m, void *arg)
{
	struct hub *hub = arg;
	struct store_stats st;

	if (store_stats(hub->store, &st) == STORE_OK) {
		metrics_set(m, METRICS_DB_SIZE, (int64_t)st.map_used);
		metrics_set(m, METRICS_DB_MAP_SIZE, (int64_t)st.map_size);
		metrics_set(m, METRICS_AUDIT_BACKLOG, (int64_t)st.audit);
	}
	if (hub->writer != NULL)
		metrics_set(
		    m, METRICS_WRITER_QUEUE, writer_queued(hub->writer));
}

/* Each commit of the writer, in its thread: counted (lock-free). */
static void
metrics_on_commit(const struct wcommit *c, void *arg)
{
	metrics_commit(arg, (uint64_t)c->nmsgs, (uint64_t)c->objects,
	    c->apply_us + c->commit_us);
}

/* The registry, before the workers start (they count into it). */
static void
metrics_start(struct hub *hub)
{
	const char *const *names;
	int n;

	names = route_names(&n);
	if ((hub->metrics = metrics_new(names, (size_t)n, CTIHUB_VERSION)) ==
	    NULL)
		fatalx("out of memory");
	metrics_set_scrape_cb(hub->metrics, metrics_scrape, hub);
	metrics_set(hub->metrics, METRICS_CONFIG_GENERATION, (int64_t)hub->gen);
	metrics_set(
	    hub->metrics, METRICS_POLICY_WARNINGS, hub->rt->policy_warnings);
}

static int
bind_listeners(const struct conf *c, const struct conf_listen *ls, int n,
    const char *what, const char *scheme, int *fds, int *nfds, int maxfds)
{
	int i, fd, one = 1;

	for (i = 0; i < n; i++) {
		const struct conf_listen *l = &ls[i];
		struct addrinfo hints, *res, *ai;
		int rc, bound = 0;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		rc = getaddrinfo(strcmp(l->host, "*") == 0 ? NULL : l->host,
		    l->port, &hints, &res);
		if (rc != 0) {
			log_warnx("%s:%d: %s %s: %s", c->file, l->line, what,
			    l->host, gai_strerror(rc));
			return -1;
		}
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);
			char host[NI_MAXHOST], port[NI_MAXSERV];

			if (*nfds >= maxfds)
				break;
			fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd == -1)
				continue;
			setsockopt(
			    fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (ai->ai_family == AF_INET6)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				    sizeof(one));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
			    listen(fd, 1024) == -1) {
				log_warn("%s:%d: cannot listen on %s port %s",
				    c->file, l->line, l->host, l->port);
				close(fd);
				freeaddrinfo(res);
				return -1;
			}
			getsockname(fd, (struct sockaddr *)&ss, &sl);
			getnameinfo((struct sockaddr *)&ss, sl, host,
			    sizeof(host), port, sizeof(port),
			    NI_NUMERICHOST | NI_NUMERICSERV);
			log_info("%s on %s://%s%s%s:%s/",
			    strcmp(what, "listen") == 0 ? "listening"
							: "metrics",
			    scheme, ss.ss_family == AF_INET6 ? "[" : "", host,
			    ss.ss_family == AF_INET6 ? "]" : "", port);
			fds[(*nfds)++] = fd;
			bound = 1;
		}
		freeaddrinfo(res);
		if (!bound) {
			log_warnx("%s:%d: nothing to listen on for %s:%s",
			    c->file, l->line, l->host, l->port);
			return -1;
		}
	}
	return 0;
}

static void
audit_policy_file(const char *file, const char *hex, void *arg)
{
	struct buf *b = arg;

	if (b->data[b->len - 1] != '[')
		buf_addc(b, ',');
	buf_adds(b, "{\"file\":");
	buf_add_jstr(b, file, strlen(file));
	buf_addf(b, ",\"sha256\":\"%s\"}", hex);
}

/* Records the policy in force: every file and its SHA-256. */
static void
audit_policy(struct hub *hub, const struct runtime *rt, const char *why)
{
	struct buf b = BUF_INIT;

	audit_begin(&b, "policy");
	audit_str(&b, "reason", why);
	buf_addf(&b, ",\"generation\":%lu,\"files\":[", rt->gen);
	policy_files(rt->policy, audit_policy_file, &b);
	buf_addc(&b, ']');
	audit_end(hub->audit, &b);
	buf_clear(&b);
	audit_flush(hub->audit);
}

static void
print_cert(const struct runtime *rt)
{
	char fp[96];

	cred_fp_format(rt->cert_fp, fp);
	log_info("TLS certificate %s", rt->cert_path);
	log_info("TLS certificate SHA-256 fingerprint %s", fp);
}

/* Do two lists of listen addresses name the same sockets? */
static int
same_listen(
    const struct conf_listen *a, int na, const struct conf_listen *b, int nb)
{
	int i, same = na == nb;

	for (i = 0; same && i < na; i++)
		same = strcmp(a[i].host, b[i].host) == 0 &&
		    strcmp(a[i].port, b[i].port) == 0;
	return same;
}

/* Settings a reload cannot change while running. */
static void
warn_restart_only(const struct conf *o, const struct conf *n)
{
	if (!same_listen(o->listen, o->nlisten, n->listen, n->nlisten))
		log_warnx("reload: listen addresses change only at restart");
	if (!same_listen(o->metrics_listen, o->nmetrics_listen,
		n->metrics_listen, n->nmetrics_listen))
		log_warnx("reload: metrics_listen changes only at restart");
	if (strcmp(o->state_dir, n->state_dir) != 0)
		log_warnx("reload: state_dir changes only at restart");
	if (o->map_size != n->map_size || o->map_max != n->map_max)
		log_warnx("reload: map_size and map_max change only at "
			  "restart");
	if (o->workers != n->workers)
		log_warnx("reload: workers changes only at restart");
	if (o->auth_threads != n->auth_threads)
		log_warnx("reload: auth_threads changes only at restart");
	if (o->ingest_threads != n->ingest_threads ||
	    o->ingest_nice != n->ingest_nice)
		log_warnx("reload: ingest_threads and ingest_nice change only "
			  "at restart");
}

static void
reload(struct hub *hub, const char *why)
{
	struct runtime *rt, *old;

	log_info("%s: reloading %s", why, hub->conf_path);
	if (runtime_new(hub->conf_path, hub->gen + 1, 0, hub->store, &rt) ==
	    -1) {
		log_warnx("reload failed: keeping the previous configuration");
		metrics_reload(hub->metrics, 0);
		return;
	}
	hub->gen++;
	warn_restart_only(hub->rt->conf, rt->conf);
	/* what the new policy releases is recorded before it is in force */
	release_after_reload(hub, hub->rt, rt);
	old = hub->rt;
	hub->rt = rt;
	/* the access log reopened, for rotation; then every worker gets
	 * the new snapshot by message */
	alog_open(rt, old);
	http_reconfigure(hub, rt);
	push_reconfigure(hub->push, rt);
	feeds_reconfigure(hub->feeds, rt);
	writer_set_gone_keep(hub->writer, rt->conf->gone_keep);
	metrics_reload(hub->metrics, 1);
	metrics_set(hub->metrics, METRICS_CONFIG_GENERATION, (int64_t)hub->gen);
	metrics_set(hub->metrics, METRICS_POLICY_WARNINGS, rt->policy_warnings);
	if (memcmp(old->cert_fp, rt->cert_fp, sizeof(rt->cert_fp)) != 0)
		print_cert(rt);
	if (strcmp(old->conf->audit_log, rt->conf->audit_log) != 0)
		log_warnx("reload: audit_log changes only at restart");
	audit_policy(hub, rt, why);
	directory_publish(hub, rt);
	runtime_unref(old);
	log_info("configuration reloaded (generation %lu)", hub->gen);
}

/* The writer trims the publish records the audit log holds. */
static struct trimjob {
	struct wmsg m; /* WMSG_PRUNE */
	atomic_int busy;
} trim;

static void
trim_done(struct wmsg *m, int rc)
{
	(void)rc; /* trimmed next time */
	atomic_store(&((struct trimjob *)m)->busy, 0);
}

/*
 * Copies the publish records committed since the last call from the
 * database to the audit log (synced), then lets them go: through the
 * writer while it runs, directly once it has stopped.
 */
static void
audit_sync(struct hub *hub, int writer_stopped)
{
	struct store_wtxn *w;
	uint64_t upto;

	if (audit_export(hub->audit, hub->areader, &upto) == -1 || upto == 0)
		return;
	if (writer_stopped) {
		if (store_wbegin(hub->store, &w) == STORE_OK &&
		    store_waudit_trim(w, upto) == STORE_OK)
			store_wcommit(w);
		else
			store_wabort(w);
	} else if (!atomic_exchange(&trim.busy, 1)) {
		wmsg_init(&trim.m, WMSG_PRUNE);
		trim.m.u.prune.audit_upto = upto;
		trim.m.done = trim_done;
		writer_submit(hub->writer, &trim.m);
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct hub *hub = arg;
	int dead;

	(void)fd;
	(void)what;
	audit_flush(hub->audit);
	audit_sync(hub, 0);
	/* reader slots of processes that died (a killed ctihub import) */
	store_reader_check(hub->store, &dead);
}

static void
on_reload_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reload(arg, "policy files changed");
}

/* A policy file was written, renamed or removed: reload once the edits
 * settle (editors write a file in several steps). */
static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct hub *hub = arg;
	struct timeval settle = {0, 300000};
	char buf[4096];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	event_add(hub->reload_ev, &settle);
}

static void
watch_policy(struct hub *hub, const char *dir)
{
	hub->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (hub->inotify_fd == -1 ||
	    inotify_add_watch(hub->inotify_fd, dir,
		IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
		    IN_CREATE) == -1) {
		log_warn("cannot watch %s for policy changes (SIGHUP still "
			 "reloads)",
		    dir);
		if (hub->inotify_fd != -1)
			close(hub->inotify_fd);
		hub->inotify_fd = -1;
		return;
	}
	hub->inotify_ev = event_new(
	    hub->base, hub->inotify_fd, EV_READ | EV_PERSIST, on_inotify, hub);
	hub->reload_ev = evtimer_new(hub->base, on_reload_timer, hub);
	if (hub->inotify_ev == NULL || hub->reload_ev == NULL ||
	    event_add(hub->inotify_ev, NULL) == -1)
		fatalx("cannot watch the policy directory");
}

static void
close_listeners(struct hub *hub)
{
	int i;

	for (i = 0; i < hub->nfds; i++)
		close(hub->fds[i]);
	hub->nfds = 0;
	for (i = 0; i < hub->nmfds; i++)
		close(hub->mfds[i]);
	hub->nmfds = 0;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct hub *hub = arg;

	(void)what;
	if (sig == SIGHUP) {
		reload(hub, "SIGHUP");
		return;
	}
	if (atomic_exchange(&hub->stopping, 1))
		return;
	log_info("%s: shutting down (finishing requests in flight)",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT");
	/* the workers drain (http.c); with the last descriptor of each
	 * listening socket closed, new clients are refused at once instead
	 * of waiting in the backlog for an accept that never comes */
	http_stop(hub);
	close_listeners(hub);
	event_base_loopexit(hub->base, NULL);
}

int
main(int argc, char **argv)
{
	struct hub *hub = &the_hub;
	struct event *sigs[3];
	const int signos[3] = {SIGTERM, SIGINT, SIGHUP};
	const char *conf_path = "/etc/ctihub/ctihub.conf";
	char err[512], *dbdir;
	struct conf *c;
	int ch, check = 0, i;
	long ncpu;

	log_init(LOG_LVL_INFO);
	/* before any event base exists: libevent gives locks only to the
	 * bases made after it */
	if (evthread_use_pthreads() == -1)
		fatalx("evthread_use_pthreads failed");
	/* request bodies and write transactions come and go in large
	 * blocks: give them back to the system when freed, and keep the
	 * number of per-thread heaps small */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
	mallopt(M_ARENA_MAX, 4);
	while ((ch = getopt(argc, argv, "c:dnv")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'd': /* always in the foreground; kept for habit */
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			log_init(LOG_LVL_DEBUG);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	/* before any thread: libcurl's global state (the fetch thread) */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	hub->conf_path = conf_path;
	hub->gen = 1;
	if (runtime_new(conf_path, hub->gen, check ? RUNTIME_CHECK : 0, NULL,
		&hub->rt) == -1) {
		log_warnx("%s: configuration not loaded", conf_path);
		return 2;
	}
	c = hub->rt->conf;
	if (check) {
		printf("configuration OK\n");
		runtime_unref(hub->rt);
		return 0;
	}
	print_cert(hub->rt);
	if (mkdir(c->state_dir, 0700) == -1 && errno != EEXIST)
		fatal("cannot create state_dir %s", c->state_dir);
	if ((dbdir = cfg_path(c->state_dir, "db")) == NULL)
		fatalx("out of memory");
	if (store_check(dbdir, err, sizeof(err)) != STORE_OK ||
	    store_open(&hub->store, dbdir, c->map_size, err, sizeof(err)) !=
		STORE_OK)
		fatalx("%s", err);
	store_set_map_max(hub->store, c->map_max);
	if (store_reader_new(hub->store, &hub->areader) != STORE_OK)
		fatalx("out of memory");
	log_info("database %s (schema %d)", dbdir, store_schema(hub->store));
	store_secret(hub->store, hub->secret);
	hub_free(dbdir);
	/* again, with the members and collections numbered by the
	 * database's registry (the policy is compiled with their codes) */
	runtime_unref(hub->rt);
	if (runtime_new(
		conf_path, hub->gen, RUNTIME_QUIET, hub->store, &hub->rt) == -1)
		fatalx("%s: configuration not loaded", conf_path);
	c = hub->rt->conf;
	alog_open(hub->rt, NULL);
	if ((hub->audit = audit_open(c->audit_log, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if (bind_listeners(c, c->listen, c->nlisten, "listen", "https",
		hub->fds, &hub->nfds, CONF_MAX_LISTEN * 4) == -1)
		return 1;
	/* the operations listener is not worth refusing to serve TAXII:
	 * without its socket, the hub runs without /metrics */
	if (bind_listeners(c, c->metrics_listen, c->nmetrics_listen,
		"metrics_listen", "http", hub->mfds, &hub->nmfds,
		CONF_MAX_LISTEN * 4) == -1) {
		log_warnx("metrics_listen: not listening; /metrics, /healthz "
			  "and /readyz are off");
		for (i = 0; i < hub->nmfds; i++)
			close(hub->mfds[i]);
		hub->nmfds = 0;
	}
	metrics_start(hub);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	hub->nworkers =
	    c->workers > 0 ? (int)c->workers : (int)(ncpu > 0 ? ncpu : 1);
	if ((hub->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(hub->base, signos[i], on_signal, hub);
		if (sigs[i] == NULL || event_add(sigs[i], NULL) == -1)
			fatalx("cannot watch signal %d", signos[i]);
	}
	/* publishing yields to reading: the parsers and the writer run at a
	 * lower priority than the HTTP event loops (ingest_nice) */
	if ((hub->writer = writer_start(hub->store, (int)c->ingest_nice)) ==
		NULL ||
	    (hub->pool = workq_new(c->ingest_threads > 0
		     ? (int)c->ingest_threads
		     : (int)(ncpu > 0 ? ncpu : 1),
		 "parse", (int)c->ingest_nice)) == NULL ||
	    (hub->pipeline = pipe_new(hub->pool, hub->writer, hub->store)) ==
		NULL ||
	    auth_start(hub) == -1 ||
	    writer_subscribe(hub->writer, metrics_on_commit, hub->metrics) ==
		-1)
		fatalx("cannot start the writer, parser and password threads");
	/* deletion records kept for push and streams */
	writer_set_gone_keep(hub->writer, c->gone_keep);
	release_recover(hub);
	/* push deliveries: threads of their own, each an outbound loop */
	if ((hub->push = push_new(hub)) == NULL ||
	    push_start(hub->push, hub->rt) == -1)
		fatalx("cannot start the push threads");
	/* feeds: a thread of their own, an outbound loop */
	if ((hub->feeds = feeds_new(hub)) == NULL ||
	    feeds_start(hub->feeds, hub->rt) == -1)
		fatalx("cannot start the feeds thread");
	/* publish records a crash kept from the audit log */
	audit_sync(hub, 0);
	if (http_start(hub) == -1)
		return 1;
	hub->inotify_fd = -1;
	watch_policy(hub, c->policy_dir);
	{
		struct timeval second = {1, 0};

		hub->tick = event_new(hub->base, -1, EV_PERSIST, on_tick, hub);
		if (hub->tick == NULL || event_add(hub->tick, &second) == -1)
			fatalx("cannot start the audit timer");
	}
	audit_policy(hub, hub->rt, "start");
	directory_publish(hub, hub->rt);
	log_info("ctihubd ready: %d HTTP workers", hub->nworkers);
	event_base_dispatch(hub->base);

	/* stopping: the workers drain, then the parsers and the writer
	 * finish what was queued, then the database closes */
	if (!atomic_exchange(&hub->stopping, 1)) {
		http_stop(hub);
		close_listeners(hub);
	}
	http_join(hub);
	push_stop(hub->push);
	feeds_stop(hub->feeds);
	auth_stop(hub);
	workq_free(hub->pool);
	pipe_free(hub->pipeline);
	writer_stop(hub->writer);
	push_free(hub->push);
	feeds_free(hub->feeds);
	audit_sync(hub, 1);
	event_free(hub->tick);
	if (hub->inotify_ev != NULL) {
		event_free(hub->inotify_ev);
		event_free(hub->reload_ev);
		close(hub->inotify_fd);
	}
	audit_close(hub->audit);
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	event_base_free(hub->base);
	store_reader_free(hub->areader);
	store_close(hub->store);
	runtime_unref(hub->rt);
	metrics_free(hub->metrics);
	curl_global_cleanup();
	log_info("stopped");
	return 0;
}
