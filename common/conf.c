/*
 * conf.c -- ctihub.conf: one table of directives per block (top level,
 * api_root, collection), each row with its type, bounds, default and the
 * field it sets.  Defaults come from the tables and nowhere else.
 * Loads the members file and then, once members and collections are
 * known, the subscriptions file (subscription.c) and the feeds file
 * (feedconf.c).
 * Collects every error as "file:line: message"; a configuration with any
 * error is rejected whole.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ctihub/alloc.h"
#include "ctihub/conf.h"
#include "ctihub/country.h"
#include "ctihub/feedconf.h"
#include "ctihub/subscription.h"
#include "ctihub/uuid.h"

enum dkind {
	D_STR,
	D_PATH,
	D_SIZE,
	D_INT,
	D_DURATION,
	D_LISTEN,
	D_BLOCK,
	D_LIST,
	D_ACL,
	D_FLAG,	 /* no value: sets an int to 1 */
	D_YESNO, /* yes or no: an int 1 or 0 */
	D_CIDR,	 /* networks: push_allow */
};

struct directive {
	const char *name;
	enum dkind kind;
	size_t off;
	const char *def; /* default, parsed like a value; NULL: none */
	long long min, max;
	int repeat;
};

#define C(f) offsetof(struct conf, f)
#define R(f) offsetof(struct conf_root, f)
#define K(f) offsetof(struct conf_collection, f)

static const struct directive top_directives[] = {
    {"listen", D_LISTEN, 0, NULL, 0, 0, 1},
    {"metrics_listen", D_LISTEN, 0, NULL, 0, 0, 1},
    {"tls_cert", D_PATH, C(tls_cert), NULL, 0, 0, 0},
    {"tls_key", D_PATH, C(tls_key), NULL, 0, 0, 0},
    {"tls_client_ca", D_PATH, C(tls_client_ca), NULL, 0, 0, 0},
    {"state_dir", D_PATH, C(state_dir), "/var/lib/ctihub", 0, 0, 0},
    {"map_size", D_SIZE, C(map_size), "16G", 1 << 20, 1LL << 42, 0},
    {"map_max", D_SIZE, C(map_max), "64G", 1 << 20, 1LL << 42, 0},
    {"workers", D_INT, C(workers), "0", 0, 64, 0},
    {"ingest_threads", D_INT, C(ingest_threads), "0", 0, 64, 0},
    {"ingest_nice", D_INT, C(ingest_nice), "15", 0, 19, 0},
    {"title", D_STR, C(title), "ctihub", 0, 0, 0},
    {"description", D_STR, C(description), NULL, 0, 0, 0},
    {"contact", D_STR, C(contact), NULL, 0, 0, 0},
    {"default_root", D_STR, C(default_root), NULL, 0, 0, 0},
    {"max_content_length", D_SIZE, C(max_content_length), "64M", 1024,
	1LL << 31, 0},
    {"max_page_size", D_INT, C(max_page_size), "1000", 1, 100000, 0},
    {"max_objects", D_INT, C(max_objects), "50000", 1, 10000000, 0},
    {"json_max_depth", D_INT, C(json_max_depth), "64", 8, 1024, 0},
    {"status_ttl", D_DURATION, C(status_ttl), "24h", 60, 365LL * 86400, 0},
    {"request_timeout", D_DURATION, C(request_timeout), "60s", 1, 3600, 0},
    {"shutdown_timeout", D_DURATION, C(shutdown_timeout), "10s", 1, 3600, 0},
    {"header_timeout", D_DURATION, C(header_timeout), "20s", 1, 3600, 0},
    {"body_timeout", D_DURATION, C(body_timeout), "120s", 1, 86400, 0},
    {"max_conns", D_INT, C(max_conns), "1024", 1, 1000000, 0},
    {"max_conns_per_addr", D_INT, C(max_conns_per_addr), "64", 1, 1000000, 0},
    {"max_unverified_bodies", D_INT, C(max_unverified_bodies), "8", 1, 100000,
	0},
    {"send_buffer", D_SIZE, C(send_buffer), "256k", 16384, 1LL << 28, 0},
    {"auth_cache_ttl", D_DURATION, C(auth_cache_ttl), "5m", 0, 86400, 0},
    {"max_header_size", D_SIZE, C(max_header_size), "16k", 1024, 1 << 20, 0},
    {"max_scan", D_INT, C(max_scan), "20000", 1, 100000000, 0},
    {"auth_threads", D_INT, C(auth_threads), "1", 1, 64, 0},
    {"auth_queue", D_INT, C(auth_queue), "32", 1, 10000, 0},
    {"auth_fail_free", D_INT, C(auth_fail_free), "5", 1, 1000, 0},
    {"auth_fail_free_addr", D_INT, C(auth_fail_free_addr), "20", 1, 100000, 0},
    {"auth_fail_free_account", D_INT, C(auth_fail_free_account), "100", 1,
	1000000, 0},
    {"auth_fail_delay", D_DURATION, C(auth_fail_delay), "1s", 1, 3600, 0},
    {"auth_fail_max_delay", D_DURATION, C(auth_fail_max_delay), "10m", 1, 86400,
	0},
    {"auth_track", D_INT, C(auth_track), "10000", 100, 10000000, 0},
    {"members", D_PATH, C(members_file), "members.conf", 0, 0, 0},
    {"policy_dir", D_PATH, C(policy_dir), "policy", 0, 0, 0},
    {"access_log", D_PATH, C(access_log), NULL, 0, 0, 0},
    {"audit_log", D_PATH, C(audit_log), NULL, 0, 0, 0},
    {"subscriptions", D_PATH, C(subs_file), NULL, 0, 0, 0},
    {"feeds", D_PATH, C(feeds_file), "feeds.conf", 0, 0, 0},
    {"push_allow", D_CIDR, 0, NULL, 0, 0, 1},
    {"feed_allow", D_CIDR, 0, NULL, 0, 0, 1},
    {"push_retry_for", D_DURATION, C(push_retry_for), "3d", 60, 365LL * 86400,
	0},
    {"push_backoff_min", D_DURATION, C(push_backoff_min), "1s", 1, 3600, 0},
    {"push_backoff_max", D_DURATION, C(push_backoff_max), "1h", 1, 86400, 0},
    {"push_timeout", D_DURATION, C(push_timeout), "30s", 1, 3600, 0},
    {"push_connect_timeout", D_DURATION, C(push_connect_timeout), "10s", 1, 600,
	0},
    {"push_max_bytes", D_SIZE, C(push_max_bytes), "8M", 16384, 1LL << 31, 0},
    {"push_max_response", D_SIZE, C(push_max_response), "1M", 4096, 1LL << 30,
	0},
    {"stream_heartbeat", D_DURATION, C(stream_heartbeat), "15s", 1, 3600, 0},
    {"max_streams", D_INT, C(max_streams), "1000", 0, 1000000, 0},
    {"push_threads", D_INT, C(push_threads), "0", 0, 64, 0},
    {"export_max", D_INT, C(export_max), "4", 0, 1000, 0},
    {"export_buffer", D_SIZE, C(export_buffer), "64k", 4096, 1LL << 26, 0},
    {"export_values_max", D_INT, C(export_values_max), "2000000", 1024,
	1LL << 30, 0},
    {"misp_max", D_INT, C(misp_max), "100000", 1, 10000000, 0},
    {"gone_keep", D_DURATION, C(gone_keep), "7d", 60, 3650LL * 86400, 0},
    {"index_observables", D_YESNO, C(index_observables), "yes", 0, 0, 0},
    {"max_observables", D_INT, C(max_observables), "1024", 1, 1024, 0},
    {"lookup_max_values", D_INT, C(lookup_max_values), "10000", 1, 1000000, 0},
    {"lookup_max_body", D_SIZE, C(lookup_max_body), "4M", 1024, 1LL << 31, 0},
    {"lookup_max_matches", D_INT, C(lookup_max_matches), "100", 1, 100000, 0},
    {"lookup_max_scan", D_INT, C(lookup_max_scan), "50000", 1, 100000000, 0},
    {"api_root", D_BLOCK, 0, NULL, 0, 0, 1},
    {NULL, 0, 0, NULL, 0, 0, 0},
};

static const struct directive root_directives[] = {
    {"title", D_STR, R(title), NULL, 0, 0, 0},
    {"description", D_STR, R(description), NULL, 0, 0, 0},
    {"max_content_length", D_SIZE, R(max_content_length), NULL, 1024, 1LL << 31,
	0},
    {"collection", D_BLOCK, 0, NULL, 0, 0, 1},
    {NULL, 0, 0, NULL, 0, 0, 0},
};

static const struct directive coll_directives[] = {
    {"title", D_STR, K(title), NULL, 0, 0, 0},
    {"description", D_STR, K(description), NULL, 0, 0, 0},
    {"alias", D_STR, K(alias), NULL, 0, 0, 0},
    {"media_types", D_LIST, 0, NULL, 0, 0, 0},
    {"read", D_ACL, K(read), NULL, 0, 0, 1},
    {"write", D_ACL, K(write), NULL, 0, 0, 1},
    {"directory", D_FLAG, K(directory), NULL, 0, 0, 0},
    {NULL, 0, 0, NULL, 0, 0, 0},
};

struct loader {
	const char *file;
	const char *dir;
	struct conf *conf;
	struct cfg_errs *errs;
	int bad;
	int oom;
	int ncoll; /* collections read so far: provisional codes */
};

#define ERR(ld, line, ...)                                                     \
	do {                                                                   \
		cfg_errs_add((ld)->errs, (ld)->file, (line), __VA_ARGS__);     \
		(ld)->bad = 1;                                                 \
	} while (0)

static int set_value(struct loader *, const struct directive *, void *base,
    const char *val, int line);

int
conf_is_uuid(const char *s, size_t n)
{
	return uuid_parse(s, n, NULL, NULL) == 0;
}

static const struct directive *
find_directive(const struct directive *tab, const char *name)
{
	for (; tab->name != NULL; tab++)
		if (strcmp(tab->name, name) == 0)
			return tab;
	return NULL;
}

static int
set_value(struct loader *ld, const struct directive *d, void *base,
    const char *val, int line)
{
	char *p = (char *)base + d->off;
	long long ll;
	uint64_t u;
	int64_t secs;

	switch (d->kind) {
	case D_STR:
		hub_free(*(char **)(void *)p);
		if ((*(char **)(void *)p = hub_strdup(val)) == NULL)
			ld->oom = 1;
		return 0;
	case D_PATH:
		if (val[0] == '\0') {
			ERR(ld, line, "%s: empty path", d->name);
			return -1;
		}
		hub_free(*(char **)(void *)p);
		if ((*(char **)(void *)p = cfg_path(ld->dir, val)) == NULL)
			ld->oom = 1;
		return 0;
	case D_SIZE:
		if (cfg_parse_size(val, &u) == -1 || u < (uint64_t)d->min ||
		    u > (uint64_t)d->max) {
			ERR(ld, line,
			    "%s: '%s' is not a size between %lld and %lld "
			    "bytes (suffixes k, M, G)",
			    d->name, val, d->min, d->max);
			return -1;
		}
		*(uint64_t *)(void *)p = u;
		return 0;
	case D_YESNO:
		if (strcmp(val, "yes") != 0 && strcmp(val, "no") != 0) {
			ERR(ld, line, "%s: '%s' is not yes or no", d->name,
			    val);
			return -1;
		}
		*(int *)(void *)p = strcmp(val, "yes") == 0;
		return 0;
	case D_INT:
		if (cfg_parse_int(val, d->min, d->max, &ll) == -1) {
			ERR(ld, line,
			    "%s: '%s' is not an integer between %lld and "
			    "%lld",
			    d->name, val, d->min, d->max);
			return -1;
		}
		*(long long *)(void *)p = ll;
		return 0;
	case D_DURATION:
		if (cfg_parse_duration(val, &secs) == -1 || secs < d->min ||
		    secs > d->max) {
			ERR(ld, line,
			    "%s: '%s' is not a duration between %lld and "
			    "%lld seconds (suffixes s, m, h, d)",
			    d->name, val, d->min, d->max);
			return -1;
		}
		*(int64_t *)(void *)p = secs;
		return 0;
	default:
		return 0;
	}
}

static void
apply_defaults(struct loader *ld, const struct directive *tab, void *base)
{
	for (; tab->name != NULL; tab++)
		if (tab->def != NULL)
			set_value(ld, tab, base, tab->def, 0);
}

static void
read_listen(struct loader *ld, const struct cfg_stmt *st)
{
	struct conf *c = ld->conf;
	int metrics = strcmp(st->name, "metrics_listen") == 0;
	struct conf_listen *l, *tab = metrics ? c->metrics_listen : c->listen;
	int *n = metrics ? &c->nmetrics_listen : &c->nlisten;
	const char *a = st->args[0], *colon;
	char host[256];

	if (metrics && strcmp(a, "off") == 0) {
		c->metrics_off = 1;
		return;
	}
	if (*n == CONF_MAX_LISTEN) {
		ERR(ld, st->line, "%s: at most %d addresses", st->name,
		    CONF_MAX_LISTEN);
		return;
	}
	if (a[0] == '[') {
		const char *rb = strchr(a, ']');

		if (rb == NULL || rb[1] != ':' || rb == a + 1) {
			ERR(ld, st->line,
			    "listen: '%s' is not [ipv6-address]:port", a);
			return;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(rb - a - 1), a + 1);
		colon = rb + 1;
	} else {
		colon = strrchr(a, ':');
		if (colon == NULL || colon == a ||
		    memchr(a, ':', (size_t)(colon - a)) != NULL) {
			ERR(ld, st->line,
			    "listen: '%s' is not address:port (IPv6 in "
			    "brackets: [::1]:8443)",
			    a);
			return;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(colon - a), a);
	}
	long long port;
	if (cfg_parse_int(colon + 1, 0, 65535, &port) == -1) {
		ERR(ld, st->line, "listen: '%s' is not a port number",
		    colon + 1);
		return;
	}
	l = &tab[(*n)++];
	l->line = st->line;
	if ((l->host = hub_strdup(host)) == NULL ||
	    (l->port = hub_strdup(colon + 1)) == NULL)
		ld->oom = 1;
}

/* "10.0.0.0/8", "::1/128", or an address alone (all its bits). */
static int
parse_cidr(const char *s, struct push_net *n)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	long long bits;
	int i, max;

	if (len == 0 || len >= sizeof(host))
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, host, n->addr) == 1)
		n->af = AF_INET;
	else if (inet_pton(AF_INET6, host, n->addr) == 1)
		n->af = AF_INET6;
	else
		return -1;
	max = n->af == AF_INET ? 32 : 128;
	if (slash == NULL)
		bits = max;
	else if (cfg_parse_int(slash + 1, 0, max, &bits) == -1)
		return -1;
	n->bits = (int)bits;
	/* no bits set past the prefix: "10.0.0.1/8" is a typing mistake */
	for (i = n->bits; i < max; i++)
		if (n->addr[i / 8] & (0x80 >> (i % 8)))
			return -2;
	return 0;
}

static void
read_cidr(struct loader *ld, const struct cfg_stmt *st)
{
	struct conf *c = ld->conf;
	int feed = strcmp(st->name, "feed_allow") == 0;
	struct push_net *v, **list = feed ? &c->feed_allow : &c->push_allow;
	int *n_in = feed ? &c->nfeed_allow : &c->npush_allow;
	int i, r;

	for (i = 0; i < st->nargs; i++) {
		struct push_net n;

		if ((r = parse_cidr(st->args[i], &n)) != 0) {
			ERR(ld, st->line,
			    r == -2 ? "%s: '%s' has bits set past its prefix "
				      "length"
				    : "%s: '%s' is not a network "
				      "(ADDRESS/BITS: 127.0.0.1/32, ::1/128, "
				      "10.0.0.0/8)",
			    st->name, st->args[i]);
			continue;
		}
		v = hub_realloc(*list, sizeof(*v) * (size_t)(*n_in + 1));
		if (v == NULL) {
			ld->oom = 1;
			return;
		}
		*list = v;
		v[(*n_in)++] = n;
	}
}

static int
net_allowed(const struct push_net *nets, int nnets, const struct sockaddr *sa,
    socklen_t salen)
{
	static const unsigned char mapped[12] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	const unsigned char *a;
	int af, i;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET &&
	    salen >= (socklen_t)sizeof(struct sockaddr_in)) {
		af = AF_INET;
		a = (const unsigned char *)&(
		    (const struct sockaddr_in *)(const void *)sa)
			->sin_addr;
	} else if (sa->sa_family == AF_INET6 &&
	    salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		af = AF_INET6;
		a = ((const struct sockaddr_in6 *)(const void *)sa)
			->sin6_addr.s6_addr;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			af = AF_INET;
			a += sizeof(mapped);
		}
	} else
		return 0;
	for (i = 0; i < nnets; i++) {
		const struct push_net *n = &nets[i];
		int full = n->bits / 8, rest = n->bits % 8;

		if (n->af != af || memcmp(n->addr, a, (size_t)full) != 0)
			continue;
		if (rest == 0 ||
		    ((n->addr[full] ^ a[full]) & (0xff << (8 - rest))) == 0)
			return 1;
	}
	return 0;
}

int
conf_push_allowed(
    const struct conf *c, const struct sockaddr *sa, socklen_t salen)
{
	return net_allowed(c->push_allow, c->npush_allow, sa, salen);
}

int
conf_feed_allowed(
    const struct conf *c, const struct sockaddr *sa, socklen_t salen)
{
	return net_allowed(c->feed_allow, c->nfeed_allow, sa, salen);
}

static void
read_acl(struct loader *ld, const struct cfg_stmt *st, struct acl *acl)
{
	const char *what = st->args[0];
	struct acl_rule *v;
	int i, kind;

	if (strcmp(what, "any") == 0) {
		if (st->nargs != 1) {
			ERR(ld, st->line, "%s any: takes no further value",
			    st->name);
			return;
		}
		kind = ACL_ANY;
	} else if (strcmp(what, "member") == 0)
		kind = ACL_MEMBER;
	else if (strcmp(what, "role") == 0)
		kind = ACL_ROLE;
	else if (strcmp(what, "country") == 0)
		kind = ACL_COUNTRY;
	else {
		ERR(ld, st->line,
		    "%s: expected 'any', 'member <id>...', 'role <role>...' "
		    "or 'country <CC>...', not '%s'",
		    st->name, what);
		return;
	}
	if (kind != ACL_ANY && st->nargs < 2) {
		ERR(ld, st->line, "%s %s: name at least one %s", st->name, what,
		    what);
		return;
	}
	for (i = kind == ACL_ANY ? 0 : 1; i < st->nargs; i++) {
		const char *val = kind == ACL_ANY ? "" : st->args[i];

		if (kind == ACL_MEMBER && ld->conf->members != NULL &&
		    members_find(ld->conf->members, val) == NULL) {
			ERR(ld, st->line, "%s member: no member '%s' in %s",
			    st->name, val, ld->conf->members->file);
			continue;
		}
		if (kind == ACL_ROLE && strcmp(val, "publisher") != 0 &&
		    strcmp(val, "subscriber") != 0 &&
		    strcmp(val, "admin") != 0) {
			ERR(ld, st->line,
			    "%s role: unknown role '%s' (publisher, "
			    "subscriber or admin)",
			    st->name, val);
			continue;
		}
		if (kind == ACL_COUNTRY && !country_valid(val)) {
			ERR(ld, st->line,
			    "%s country: '%s' is not an ISO 3166-1 alpha-2 "
			    "code",
			    st->name, val);
			continue;
		}
		v = hub_realloc(acl->v, sizeof(*v) * (size_t)(acl->n + 1));
		if (v == NULL) {
			ld->oom = 1;
			return;
		}
		acl->v = v;
		v[acl->n].kind = kind;
		snprintf(v[acl->n].value, sizeof(v[acl->n].value), "%s", val);
		acl->n++;
		if (kind == ACL_ANY)
			break;
	}
}

int
acl_allows(const struct acl *acl, const struct member *m)
{
	int i;

	if (m == NULL)
		return 0;
	for (i = 0; i < acl->n; i++) {
		const struct acl_rule *r = &acl->v[i];

		switch (r->kind) {
		case ACL_ANY:
			return 1;
		case ACL_MEMBER:
			if (strcmp(r->value, m->id) == 0)
				return 1;
			break;
		case ACL_ROLE:
			if ((strcmp(r->value, "publisher") == 0 &&
				(m->roles & MEMBER_PUBLISHER)) ||
			    (strcmp(r->value, "subscriber") == 0 &&
				(m->roles & MEMBER_SUBSCRIBER)) ||
			    (strcmp(r->value, "admin") == 0 &&
				(m->roles & MEMBER_ADMIN)))
				return 1;
			break;
		case ACL_COUNTRY:
			if (strcmp(r->value, m->country) == 0)
				return 1;
			break;
		}
	}
	return 0;
}

/*
 * Walks the statements of one block against a table; calls `sub` for
 * nested blocks.  `seen` counts each row's uses.
 */
static void
read_block(struct loader *ld, const struct cfg_stmt *blk,
    const struct directive *tab, void *base, const char *where,
    void (*sub)(struct loader *, const struct cfg_stmt *, void *), void *subarg)
{
	int *seen;
	size_t nrows = 0;
	int i;

	while (tab[nrows].name != NULL)
		nrows++;
	/* one count per row of the table, however long it grows */
	if ((seen = hub_calloc(nrows + 1, sizeof(*seen))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (i = 0; i < blk->nkids; i++) {
		const struct cfg_stmt *st = &blk->kids[i];
		const struct directive *d = find_directive(tab, st->name);

		if (d == NULL) {
			ERR(ld, st->line, "unknown directive '%s'%s%s",
			    st->name, where[0] ? " in " : "", where);
			continue;
		}
		if (seen[d - tab]++ && !d->repeat) {
			ERR(ld, st->line, "'%s' given twice", st->name);
			continue;
		}
		if (d->kind == D_BLOCK) {
			if (!st->has_block || st->nargs != 1) {
				ERR(ld, st->line,
				    "expected '%s <name> { ... }'", st->name);
				continue;
			}
			sub(ld, st, subarg);
			continue;
		}
		if (st->has_block) {
			ERR(ld, st->line, "'%s' takes no block", st->name);
			continue;
		}
		if (d->kind == D_FLAG) {
			if (st->nargs != 0)
				ERR(ld, st->line, "'%s' takes no value",
				    st->name);
			else
				*(int *)(void *)((char *)base + d->off) = 1;
			continue;
		}
		if (st->nargs == 0) {
			ERR(ld, st->line, "'%s' needs a value", st->name);
			continue;
		}
		if (d->kind == D_LISTEN) {
			if (st->nargs != 1)
				ERR(ld, st->line,
				    "%s: one address:port per line", st->name);
			else
				read_listen(ld, st);
			continue;
		}
		if (d->kind == D_CIDR) {
			read_cidr(ld, st);
			continue;
		}
		if (d->kind == D_ACL) {
			read_acl(ld, st,
			    (struct acl *)(void *)((char *)base + d->off));
			continue;
		}
		if (d->kind == D_LIST) {
			struct conf_collection *k = base;
			int j;

			k->media_types =
			    hub_calloc((size_t)st->nargs, sizeof(char *));
			if (k->media_types == NULL) {
				ld->oom = 1;
				continue;
			}
			for (j = 0; j < st->nargs; j++)
				if ((k->media_types[k->nmedia++] =
					    hub_strdup(st->args[j])) == NULL)
					ld->oom = 1;
			continue;
		}
		if (st->nargs != 1) {
			ERR(ld, st->line,
			    "'%s' takes one value (quote it if it has spaces)",
			    st->name);
			continue;
		}
		set_value(ld, d, base, st->args[0], st->line);
	}
	hub_free(seen);
}

static void
read_collection(struct loader *ld, const struct cfg_stmt *st, void *arg)
{
	struct conf_root *r = arg;
	struct conf_collection *k, *v;
	const char *id = st->args[0];
	int i, j;

	if (!conf_is_uuid(id, strlen(id))) {
		ERR(ld, st->line,
		    "collection id '%s' is not a UUID "
		    "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
		    id);
		return;
	}
	v = hub_realloc(r->colls, sizeof(*v) * (size_t)(r->ncolls + 1));
	if (v == NULL) {
		ld->oom = 1;
		return;
	}
	r->colls = v;
	k = &v[r->ncolls++];
	memset(k, 0, sizeof(*k));
	for (i = 0; i < 36; i++)
		k->id[i] = (char)tolower((unsigned char)id[i]);
	k->code = MEMBER_CODE_PROVISIONAL | (uint32_t)ld->ncoll++;
	k->line = st->line;
	read_block(ld, st, coll_directives, k, "a collection", NULL, NULL);
	if (k->title == NULL)
		ERR(ld, st->line, "collection %s has no title", k->id);
	if (k->directory && k->write.n > 0)
		ERR(ld, st->line,
		    "collection %s is the generated directory: it takes no "
		    "'write' (members cannot add to it)",
		    k->id);
	if (k->nmedia == 0) {
		if ((k->media_types = hub_calloc(1, sizeof(char *))) == NULL ||
		    (k->media_types[0] = hub_strdup(
			 "application/stix+json;version=2.1")) == NULL)
			ld->oom = 1;
		else
			k->nmedia = 1;
	}
	if (k->alias != NULL &&
	    (conf_is_uuid(k->alias, strlen(k->alias)) ||
		strchr(k->alias, '/') != NULL || k->alias[0] == '\0')) {
		ERR(ld, st->line,
		    "alias '%s' must not be a UUID, empty or contain '/'",
		    k->alias);
	}
	/* ids and aliases are unique across the whole hub: the storage
	 * index is keyed by the collection, not by the API root */
	for (i = 0; i < ld->conf->nroots; i++) {
		struct conf_root *o = &ld->conf->roots[i];

		for (j = 0; j < o->ncolls; j++) {
			struct conf_collection *p = &o->colls[j];

			if (p == k)
				continue;
			if (strcmp(p->id, k->id) == 0)
				ERR(ld, st->line,
				    "collection %s already defined at line %d",
				    k->id, p->line);
			if (o == r && k->alias != NULL && p->alias != NULL &&
			    strcmp(p->alias, k->alias) == 0)
				ERR(ld, st->line,
				    "alias '%s' already used at line %d",
				    k->alias, p->line);
		}
	}
}

static void
read_root(struct loader *ld, const struct cfg_stmt *st, void *arg)
{
	struct conf *c = ld->conf;
	struct conf_root *r, *v;
	const char *name = st->args[0];
	size_t i;
	int j;

	(void)arg;
	for (i = 0; name[i] != '\0'; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' &&
		    name[i] != '_' && name[i] != '.')
			break;
	if (name[i] != '\0' || i == 0 || i > 64 || name[0] == '.' ||
	    strcmp(name, "taxii2") == 0) {
		ERR(ld, st->line,
		    "api_root name '%s' must be 1-64 of A-Z a-z 0-9 - _ . "
		    "(a URL path segment, not 'taxii2')",
		    name);
		return;
	}
	for (j = 0; j < c->nroots; j++)
		if (strcmp(c->roots[j].name, name) == 0) {
			ERR(ld, st->line,
			    "api_root %s already defined at "
			    "line %d",
			    name, c->roots[j].line);
			return;
		}
	v = hub_realloc(c->roots, sizeof(*v) * (size_t)(c->nroots + 1));
	if (v == NULL) {
		ld->oom = 1;
		return;
	}
	c->roots = v;
	r = &v[c->nroots++];
	memset(r, 0, sizeof(*r));
	r->line = st->line;
	r->max_content_length = c->max_content_length;
	if ((r->name = hub_strdup(name)) == NULL) {
		ld->oom = 1;
		return;
	}
	read_block(
	    ld, st, root_directives, r, "an api_root", read_collection, r);
	if (r->title == NULL)
		ERR(ld, st->line, "api_root %s has no title", name);
}

static void
acl_clear(struct acl *a)
{
	hub_free(a->v);
}

void
conf_free(struct conf *c)
{
	int i, j, k;

	if (c == NULL)
		return;
	for (i = 0; i < c->nroots; i++) {
		struct conf_root *r = &c->roots[i];

		for (j = 0; j < r->ncolls; j++) {
			struct conf_collection *col = &r->colls[j];

			hub_free(col->title);
			hub_free(col->description);
			hub_free(col->alias);
			for (k = 0; k < col->nmedia; k++)
				hub_free(col->media_types[k]);
			hub_free(col->media_types);
			acl_clear(&col->read);
			acl_clear(&col->write);
		}
		hub_free(r->colls);
		hub_free(r->name);
		hub_free(r->title);
		hub_free(r->description);
	}
	hub_free(c->roots);
	for (i = 0; i < c->nlisten; i++) {
		hub_free(c->listen[i].host);
		hub_free(c->listen[i].port);
	}
	for (i = 0; i < c->nmetrics_listen; i++) {
		hub_free(c->metrics_listen[i].host);
		hub_free(c->metrics_listen[i].port);
	}
	hub_free(c->file);
	hub_free(c->dir);
	hub_free(c->tls_cert);
	hub_free(c->tls_key);
	hub_free(c->tls_client_ca);
	hub_free(c->state_dir);
	hub_free(c->title);
	hub_free(c->description);
	hub_free(c->contact);
	hub_free(c->default_root);
	hub_free(c->members_file);
	hub_free(c->policy_dir);
	hub_free(c->access_log);
	hub_free(c->audit_log);
	hub_free(c->subs_file);
	subs_free(c->subs);
	hub_free(c->feeds_file);
	feedconf_free(c->feeds);
	hub_free(c->push_allow);
	hub_free(c->feed_allow);
	members_free(c->members);
	hub_free(c);
}

/* Finds the top-level statement `name` (the members file must be read
 * before the collections that name members). */
static const struct cfg_stmt *
find_stmt(const struct cfg_stmt *root, const char *name)
{
	int i;

	for (i = 0; i < root->nkids; i++)
		if (strcmp(root->kids[i].name, name) == 0)
			return &root->kids[i];
	return NULL;
}

static int
conf_build(const char *file, const char *dir, const struct cfg_stmt *root,
    struct members *members, struct conf **out, struct cfg_errs *errs)
{
	struct loader ld;
	struct conf *c;
	int i;

	*out = NULL;
	memset(&ld, 0, sizeof(ld));
	ld.file = file;
	ld.dir = dir;
	ld.errs = errs;
	if ((c = hub_calloc(1, sizeof(*c))) == NULL) {
		members_free(members);
		goto oom;
	}
	ld.conf = c;
	c->members = members;
	if ((c->file = hub_strdup(file)) == NULL ||
	    (c->dir = hub_strdup(dir)) == NULL)
		goto oom;
	apply_defaults(&ld, top_directives, c);
	/* the scalar directives first, so members and limits are known
	 * before the api roots that use them */
	{
		struct cfg_stmt flat = *root;
		struct cfg_stmt *kids;
		int n = 0;

		kids = hub_calloc((size_t)root->nkids + 1, sizeof(*kids));
		if (kids == NULL)
			goto oom;
		for (i = 0; i < root->nkids; i++)
			if (strcmp(root->kids[i].name, "api_root") != 0)
				kids[n++] = root->kids[i];
		flat.kids = kids;
		flat.nkids = n;
		read_block(&ld, &flat, top_directives, c, "", NULL, NULL);
		hub_free(kids);
	}
	if (c->members == NULL && !ld.oom) {
		const struct cfg_stmt *ms = find_stmt(root, "members");

		if (members_load(c->members_file, &c->members, errs) == -1) {
			if (ms == NULL)
				cfg_errs_add(errs, file, 0,
				    "(the members file defaults to %s)",
				    c->members_file);
			ld.bad = 1;
		}
	}
	for (i = 0; i < root->nkids; i++) {
		const struct cfg_stmt *st = &root->kids[i];

		if (strcmp(st->name, "api_root") != 0)
			continue;
		if (!st->has_block || st->nargs != 1) {
			ERR(&ld, st->line,
			    "expected 'api_root <name> { ... }'");
			continue;
		}
		read_root(&ld, st, NULL);
	}
	if (c->nlisten == 0) {
		c->listen[0].host = hub_strdup("127.0.0.1");
		c->listen[0].port = hub_strdup("8443");
		c->nlisten = 1;
		if (c->listen[0].host == NULL || c->listen[0].port == NULL)
			ld.oom = 1;
	}
	if (c->metrics_off) /* "off" wins over addresses */
		for (; c->nmetrics_listen > 0; c->nmetrics_listen--) {
			hub_free(
			    c->metrics_listen[c->nmetrics_listen - 1].host);
			hub_free(
			    c->metrics_listen[c->nmetrics_listen - 1].port);
		}
	else if (c->nmetrics_listen == 0) {
		struct conf_listen *l = &c->metrics_listen[0];

		l->host = hub_strdup("127.0.0.1");
		l->port = hub_strdup("9464");
		c->nmetrics_listen = 1;
		if (l->host == NULL || l->port == NULL)
			ld.oom = 1;
	}
	if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
		const struct cfg_stmt *st =
		    find_stmt(root, c->tls_cert ? "tls_cert" : "tls_key");

		ERR(&ld, st ? st->line : 0,
		    "tls_cert and tls_key go together (leave both out to "
		    "use a generated self-signed certificate)");
	}
	if (c->nroots == 0)
		ERR(&ld, 0, "no api_root defined");
	if (c->map_max < c->map_size) {
		const struct cfg_stmt *st = find_stmt(root, "map_max");

		if (st == NULL)
			c->map_max = c->map_size; /* a large map_size alone */
		else
			ERR(&ld, st->line, "map_max is below map_size");
	}
	if (c->default_root != NULL &&
	    conf_root_find(c, c->default_root, strlen(c->default_root)) ==
		NULL) {
		const struct cfg_stmt *st = find_stmt(root, "default_root");

		ERR(&ld, st ? st->line : 0,
		    "default_root '%s' is not a defined api_root",
		    c->default_root);
	}
	if (c->auth_fail_max_delay < c->auth_fail_delay) {
		const struct cfg_stmt *st =
		    find_stmt(root, "auth_fail_max_delay");

		ERR(&ld, st ? st->line : 0,
		    "auth_fail_max_delay is shorter than auth_fail_delay");
	}
	if (c->push_backoff_max < c->push_backoff_min) {
		const struct cfg_stmt *st = find_stmt(root, "push_backoff_max");

		ERR(&ld, st ? st->line : 0,
		    "push_backoff_max is shorter than push_backoff_min");
	}
	if (c->push_timeout < c->push_connect_timeout) {
		const struct cfg_stmt *st = find_stmt(root, "push_timeout");

		ERR(&ld, st ? st->line : 0,
		    "push_timeout is shorter than push_connect_timeout");
	}
	/* the subscriptions name members and collections: read last */
	if (c->subs_file != NULL && c->members != NULL && !ld.oom &&
	    subs_load(c->subs_file, c, &c->subs, errs) == -1)
		ld.bad = 1;
	/* so do the feeds; the default file may be absent (no feeds) */
	if (c->members != NULL && c->feeds_file != NULL && !ld.oom &&
	    (find_stmt(root, "feeds") != NULL ||
		access(c->feeds_file, F_OK) == 0 || errno != ENOENT) &&
	    feedconf_load(c->feeds_file, c, &c->feeds, errs) == -1)
		ld.bad = 1;
	if (c->access_log == NULL)
		c->access_log = cfg_path(c->state_dir, "access.log");
	if (c->audit_log == NULL)
		c->audit_log = cfg_path(c->state_dir, "audit.jsonl");
	if (c->access_log == NULL || c->audit_log == NULL)
		ld.oom = 1;
	if (ld.oom)
		goto oom;
	if (ld.bad) {
		conf_free(c);
		return -1;
	}
	*out = c;
	return 0;
oom:
	cfg_errs_add(errs, file, 0, "out of memory");
	conf_free(c);
	return -1;
}

int
conf_parse(const char *file, const char *dir, const char *text, size_t n,
    struct members *members, struct conf **out, struct cfg_errs *errs)
{
	struct cfg_stmt root;
	int rc;

	*out = NULL;
	if (cfg_parse(file, text, n, &root, errs) == -1) {
		cfg_free(&root);
		members_free(members);
		return -1;
	}
	rc = conf_build(file, dir, &root, members, out, errs);
	cfg_free(&root);
	return rc;
}

int
conf_load(const char *file, struct conf **out, struct cfg_errs *errs)
{
	struct cfg_stmt root;
	char *copy, *dir;
	int rc;

	*out = NULL;
	if ((copy = hub_strdup(file)) == NULL) {
		cfg_errs_add(errs, file, 0, "out of memory");
		return -1;
	}
	dir = dirname(copy);
	if (cfg_parse_file(file, &root, errs) == -1) {
		cfg_free(&root);
		hub_free(copy);
		return -1;
	}
	rc = conf_build(file, dir, &root, NULL, out, errs);
	cfg_free(&root);
	hub_free(copy);
	return rc;
}

const struct conf_root *
conf_root_find(const struct conf *c, const char *name, size_t len)
{
	int i;

	for (i = 0; i < c->nroots; i++)
		if (strlen(c->roots[i].name) == len &&
		    memcmp(c->roots[i].name, name, len) == 0)
			return &c->roots[i];
	return NULL;
}

const struct conf_collection *
conf_coll_find(const struct conf_root *r, const char *id, size_t len)
{
	int i;

	for (i = 0; i < r->ncolls; i++) {
		const struct conf_collection *k = &r->colls[i];

		if ((len == 36 && strncasecmp(k->id, id, 36) == 0) ||
		    (k->alias != NULL && strlen(k->alias) == len &&
			memcmp(k->alias, id, len) == 0))
			return k;
	}
	return NULL;
}

const struct conf_collection *
conf_coll_resolve(const struct conf *c, const char *v,
    const struct conf_root **root, char *why, size_t whylen)
{
	const struct conf_root *r = NULL;
	const struct conf_collection *k;
	const char *slash = strchr(v, '/'), *id = v;

	if (slash != NULL) {
		r = conf_root_find(c, v, (size_t)(slash - v));
		if (r == NULL) {
			snprintf(why, whylen,
			    "collection %s: no api_root '%.*s'", v,
			    (int)(slash - v), v);
			return NULL;
		}
		id = slash + 1;
	} else if (c->default_root != NULL)
		r = conf_root_find(c, c->default_root, strlen(c->default_root));
	else if (c->nroots == 1)
		r = &c->roots[0];
	if (r == NULL) {
		snprintf(why, whylen,
		    "collection %s: name its api root (root/collection): "
		    "there are %d and no default_root",
		    v, c->nroots);
		return NULL;
	}
	if ((k = conf_coll_find(r, id, strlen(id))) == NULL) {
		snprintf(why, whylen,
		    "collection %s: no such collection in api_root %s", v,
		    r->name);
		return NULL;
	}
	*root = r;
	return k;
}

const struct conf_collection *
conf_coll_by_code(
    const struct conf *c, uint32_t code, const struct conf_root **root)
{
	int i, j;

	for (i = 0; i < c->nroots; i++)
		for (j = 0; j < c->roots[i].ncolls; j++)
			if (c->roots[i].colls[j].code == code) {
				if (root != NULL)
					*root = &c->roots[i];
				return &c->roots[i].colls[j];
			}
	return NULL;
}
