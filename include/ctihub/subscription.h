/*
 * subscription.h -- the push subscriptions file (cfgfile.h syntax), read
 * against a loaded configuration: one `subscription <name> { ... }` block
 * per subscription, naming the subscribing member, its source collections,
 * its filters (as a TAXII query string, checked by view_parse), the
 * delivery mode (webhook, taxii, stream), the target and its credentials.
 * Every error is "file:line: message".  Delivering is the push engine's
 * job (hub/push*.c), signing webhook.h's; this module only reads and
 * checks.
 */
#ifndef CTIHUB_SUBSCRIPTION_H
#define CTIHUB_SUBSCRIPTION_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "ctihub/cfgfile.h"
#include "ctihub/conf.h"
#include "ctihub/member.h"

enum sub_mode { SUB_TAXII = 1, SUB_WEBHOOK, SUB_STREAM };
enum sub_payload { SUB_PAYLOAD_AUTO = 0, SUB_PAYLOAD_FULL, SUB_PAYLOAD_THIN };
enum sub_sign { SUB_SIGN_HMAC = 1, SUB_SIGN_ED25519 };
#define SUB_NAME_MAX  64
#define SUB_MAX_COLLS 16

struct sub_coll {
	char root[64];	      /* api root name */
	char id[CONF_ID_LEN]; /* the collection's id (aliases resolved) */
	uint32_t code;	      /* set when the conf is bound (runtime_bind) */
};

struct subscription {
	char name[SUB_NAME_MAX]; /* [A-Za-z0-9._-], unique in the file */
	char member
	    [MEMBER_ID_MAX]; /* who subscribes: a member of members.conf */
	struct sub_coll colls[SUB_MAX_COLLS];
	int ncolls;
	char *query;  /* the filters as a TAXII query string for view_parse,
			"" for none: match[type]=a,b&match[tlp]=...&
			match[producer]=...  (a hub subscription's never
			reaches past amber) */
	int mode;     /* enum sub_mode */
	char *target; /* https:// URL. webhook: the endpoint. taxii: the
			 receiving collection's URL, ending in
			 /collections/<id>/ (objects/ and status/ derive from
			 it).  stream: NULL */
	int hub;      /* the target is another hub (`hub yes`) */
	char *peer;   /* with hub: the member id that hub uses to publish here
			 (its objects are never sent back to it); may be NULL */
	/* taxii credentials (at most one kind) */
	char *user, *password;	    /* Basic */
	char *token;		    /* Bearer */
	char *cert_file, *key_file; /* client certificate (PEM) */
	char *ca_file; /* the receiver's CA (PEM); NULL: system store (taxii
			  and webhook) */
	/* webhook */
	int sign;	       /* enum sub_sign; default HMAC */
	unsigned char *secret; /* HMAC key: the decoded whsec_ value */
	size_t secretlen;
	char *sign_key_file;  /* Ed25519 private key (PEM), with sign ed25519 */
	int payload;	      /* enum sub_payload */
	long long batch;      /* most events per delivery; default 500 */
	int64_t max_delay_ms; /* how long an event may wait for a fuller
				 batch; default 200 */
	char *file;
	int line;
};

struct subscriptions {
	char *file;
	struct subscription *v;
	int n;
};

/*
 * Parses the subscriptions file against the loaded conf (members, roots,
 * collections): every error "file:line: message" in errs (warnings, such
 * as a world-readable secret file, too: the caller clears errs either
 * way).  0 and *out (caller frees with subs_free), or -1.  Relative paths
 * in the file resolve against the file's directory.
 */
int subs_load(const char *file, const struct conf *, struct subscriptions **out,
    struct cfg_errs *errs);
/* The same from text in memory; `file` names it in messages and gives the
 * directory relative paths resolve against. */
int subs_parse(const char *file, const char *text, size_t n,
    const struct conf *, struct subscriptions **out, struct cfg_errs *errs);
void subs_free(struct subscriptions *);
/* Borrowed; NULL when not found. */
const struct subscription *subs_find(
    const struct subscriptions *, const char *name);

/* Is the address inside one of the conf's push_allow networks?  An
 * IPv4-mapped IPv6 address counts as its IPv4 address.  (In conf.c, with
 * the rest of ctihub.conf.) */
int conf_push_allowed(const struct conf *, const struct sockaddr *, socklen_t);
/* The same for the conf's feed_allow networks (feeds' downloads). */
int conf_feed_allowed(const struct conf *, const struct sockaddr *, socklen_t);

#endif
