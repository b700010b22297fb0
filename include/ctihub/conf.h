/*
 * conf.h -- the hub's configuration, ctihub.conf (cfgfile.h syntax), read
 * by one table of directives that also holds every default.  Relative
 * paths are resolved against the directory of the configuration file.
 * A loaded `struct conf` is immutable; a reload builds a new one and the
 * old stays in force when the new has any error.
 */
#ifndef CTIHUB_CONF_H
#define CTIHUB_CONF_H

#include <stdint.h>

#include "ctihub/cfgfile.h"
#include "ctihub/member.h"

#define CONF_MAX_LISTEN 16
#define CONF_ID_LEN	37 /* a UUID and its NUL */

struct subscriptions; /* subscription.h */
struct feedconf;      /* feedconf.h */

/* Who may read or write a collection: the union of its rules. */
enum acl_kind {
	ACL_ANY = 1, /* every authenticated member */
	ACL_MEMBER,
	ACL_ROLE,
	ACL_COUNTRY,
};

struct acl_rule {
	int kind;
	char value[MEMBER_ID_MAX];
};

struct acl {
	struct acl_rule *v;
	int n;
};

struct conf_collection {
	char id[CONF_ID_LEN];
	char *title;
	char *description;
	char *alias;
	char **media_types;
	int nmedia;
	struct acl read;
	struct acl write;
	int directory; /* the generated points-of-contact directory */
	uint32_t code; /* the registry's number for the id, stored in the
			  index keys, once bound to the store (like a
			  member's code: see member.h) */
	int line;
};

struct conf_root {
	char *name; /* the URL path segment: /<name>/ */
	char *title;
	char *description;
	uint64_t max_content_length;
	struct conf_collection *colls;
	int ncolls;
	int line;
};

struct conf_listen {
	char *host; /* "127.0.0.1", "::1", "*" */
	char *port;
	int line;
};

/* A network push may connect to although it is private or loopback
 * (conf_push_allowed, subscription.h). */
struct push_net {
	int af; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int bits;
};

struct conf {
	char *file;
	char *dir;
	struct conf_listen listen[CONF_MAX_LISTEN];
	int nlisten;
	/* /metrics, /healthz, /readyz: plain HTTP, no credentials (default
	 * 127.0.0.1:9464; "metrics_listen off": none) */
	struct conf_listen metrics_listen[CONF_MAX_LISTEN];
	int nmetrics_listen;
	int metrics_off;
	char *tls_cert; /* NULL: generate a self-signed one */
	char *tls_key;
	char *tls_client_ca; /* NULL: no client certificates */
	char *state_dir;
	uint64_t map_size; /* the LMDB map at start */
	uint64_t map_max;  /* the most it may grow to */
	long long workers;
	long long ingest_threads; /* parser threads (0: one per CPU) */
	long long ingest_nice;	  /* their niceness, and the writer's */
	char *title;
	char *description;
	char *contact;
	char *default_root;
	uint64_t max_content_length;
	long long max_page_size;
	long long max_objects; /* per add-objects request */
	long long json_max_depth;
	int64_t status_ttl;	  /* seconds */
	int64_t request_timeout;  /* inactivity, seconds */
	int64_t shutdown_timeout; /* how long a stop waits for clients */
	int64_t header_timeout;	  /* a request's whole head, seconds */
	int64_t body_timeout;	  /* a request's whole body, seconds */
	long long max_conns;	  /* open connections, in all */
	long long max_conns_per_addr;
	long long max_unverified_bodies; /* bodies read before their Basic
					    password is checked, in all */
	uint64_t send_buffer; /* response bytes produced ahead of a client */
	int64_t auth_cache_ttl;
	long long max_header_size;
	long long max_scan; /* index entries one read request examines */
	/* blocklist exports (hub/taxii_export.c) */
	long long export_max;	     /* running at once, per process */
	uint64_t export_buffer;	     /* bytes produced ahead of a client */
	long long export_values_max; /* distinct values remembered */
	long long misp_max;	     /* indicators in one MISP feed answer */
	/* failed Basic logins (authgate.h) */
	long long auth_threads;
	long long auth_queue;
	long long auth_fail_free;
	long long auth_fail_free_addr;
	long long auth_fail_free_account;
	int64_t auth_fail_delay; /* seconds */
	int64_t auth_fail_max_delay;
	long long auth_track;
	char *members_file;
	char *policy_dir;
	char *access_log; /* "-": stderr, "off": none */
	char *audit_log;
	/* push (subscription.h) and streams */
	char *subs_file;	    /* NULL: no subscriptions */
	struct subscriptions *subs; /* loaded with the conf; NULL: none */
	/* feeds (feedconf.h) */
	char *feeds_file;	     /* default feeds.conf, may be absent */
	struct feedconf *feeds;	     /* loaded with the conf; NULL: none */
	struct push_net *push_allow; /* networks allowed although private */
	int npush_allow;
	struct push_net *feed_allow; /* the same for feeds' downloads */
	int nfeed_allow;
	int64_t push_retry_for;	  /* seconds a failing subscription is retried
				   before it is suspended */
	int64_t push_backoff_min; /* the first retry delay */
	int64_t push_backoff_max; /* the longest */
	int64_t push_timeout;	  /* one outbound request, in all */
	int64_t push_connect_timeout;
	int64_t stream_heartbeat;   /* comment line on an idle stream */
	int64_t gone_keep;	    /* how long deletion records are kept */
	int index_observables;	    /* 1: ingest indexes observables */
	long long max_observables;  /* indexed per object (the first ones) */
	uint64_t push_max_bytes;    /* most bytes in one delivery body */
	uint64_t push_max_response; /* most bytes read of a receiver's answer */
	long long max_streams;	    /* open SSE streams, in all */
	long long push_threads;	    /* push deliveries' threads (0: one per
				     CPU) */
	/* lookups (lookup.h) */
	long long lookup_max_values;  /* values in one lookup request */
	uint64_t lookup_max_body;     /* bytes of a lookup POST body */
	long long lookup_max_matches; /* matches returned per value */
	long long lookup_max_scan;    /* index rows one request examines */
	struct conf_root *roots;
	int nroots;
	struct members *members;
};

/*
 * Reads and checks the configuration, the members file it names, the
 * subscriptions file (subscription.h), if it names one, and the feeds file
 * (feedconf.h), if it names one or the default one exists.
 * Returns 0 and a new conf (caller frees with conf_free), or -1 with every
 * problem in `errs` as "file:line: message".
 */
int conf_load(const char *file, struct conf **out, struct cfg_errs *errs);
/* The same from text in memory; `file` names it in messages and relative
 * paths resolve against `dir`.  Members come from the named file unless
 * `members` is non-NULL (then the conf takes ownership). */
int conf_parse(const char *file, const char *dir, const char *text, size_t n,
    struct members *members, struct conf **out, struct cfg_errs *errs);
void conf_free(struct conf *);

/* Borrowed; NULL when not found. */
const struct conf_root *conf_root_find(
    const struct conf *, const char *name, size_t len);
/* By id or alias. */
const struct conf_collection *conf_coll_find(
    const struct conf_root *, const char *id, size_t len);
/* "[api-root/]id-or-alias", as other files name a collection: the root
 * defaults to default_root, or the only root.  The collection and *root,
 * or NULL with why it is not found in why ("collection X: ..."). */
const struct conf_collection *conf_coll_resolve(const struct conf *,
    const char *spec, const struct conf_root **root, char *why, size_t whylen);
/* Any collection of any API root with this code. */
const struct conf_collection *conf_coll_by_code(
    const struct conf *, uint32_t code, const struct conf_root **root);

int acl_allows(const struct acl *, const struct member *);
/* 1 when s is a UUID in 8-4-4-4-12 hex form. */
int conf_is_uuid(const char *s, size_t n);

#endif
