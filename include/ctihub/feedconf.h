/*
 * feedconf.h -- the feeds file (cfgfile.h syntax), read against a loaded
 * configuration: one `feed <name> { ... }` block per feed, naming its kind
 * (taxii, misp, list, csv, json), where it comes from (an https:// URL, or
 * a local file for the snapshot kinds), its schedule, the member it
 * publishes as and the collection it writes, what it applies to what it
 * brings (TLP, labels, confidence), its credentials and limits, and how
 * its entries are read.  Every error is "file:line: message".  Fetching,
 * converting and storing are the feed engine's and the connectors' job
 * (feeds/feed.h); this module only reads and checks.
 */
#ifndef CTIHUB_FEEDCONF_H
#define CTIHUB_FEEDCONF_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/cfgfile.h"
#include "ctihub/conf.h"
#include "ctihub/member.h"

enum feed_kind {
	FEED_TAXII = 1, /* an upstream TAXII 2.1 collection, paged */
	FEED_MISP,	/* a MISP feed: manifest.json, <uuid>.json */
	FEED_LIST,	/* one value a line */
	FEED_CSV,	/* a value (and a type) in configured columns */
	FEED_JSON,	/* a JSON array of values or of objects */
	FEED_KIND_MAX = FEED_JSON
};

/* What happens to an entry of a snapshot (list, csv, json) that is no
 * longer in the download: a new version with valid_until set (expire) or
 * revoked true (revoke). */
enum feed_vanish { FEED_VANISH_EXPIRE = 1, FEED_VANISH_REVOKE };

#define FEED_NAME_MAX	 64
#define FEED_ROOT_MAX	 64
#define FEED_MAX_LABELS	 16
#define FEED_LABEL_MAX	 64  /* bytes of one label */
#define FEED_COMMENT_MAX 8   /* bytes of a comment prefix */
#define FEED_FIELD_MAX	 128 /* bytes of a JSON member name */
#define FEED_MAX_COLUMN	 256 /* csv columns are 1 to this */
#define FEED_MAX_SKIP	 100 /* csv header lines skipped */

struct feed_def {
	char name[FEED_NAME_MAX]; /* [A-Za-z0-9._-], unique in the file */
	int kind;		  /* enum feed_kind */
	int enabled;		  /* `enabled no`: checked, never run */
	/* the source: exactly one of them */
	char *url;	/* https://.  taxii: the collection's URL, ending in
		       /collections/<id>/; misp: the feed's directory,
		       ending in / (manifest.json is under it) */
	char *path;	/* `file`: a local file (list, csv, json only), resolved
		       against the feeds file's directory; read at run time,
		       not checked at load (like a URL) */
	int64_t every;	/* seconds between runs */
	int64_t jitter; /* up to this many seconds more, at random; < every */
	char member[MEMBER_ID_MAX]; /* who publishes: a publisher that may
				       write the collection */
	char root[FEED_ROOT_MAX];   /* the collection's api root */
	char coll[CONF_ID_LEN];	    /* the collection's id (alias resolved) */
	int tlp;       /* enum tlp: marks what comes unmarked; TLP_NONE:
			      left unmarked (the producer's default applies) */
	char **labels; /* added to every indicator; NULL when none */
	int nlabels;
	int confidence; /* 0-100, or -1: none */
	/* credentials (url sources only; at most one kind) */
	char *user, *password;	    /* Basic; the password read from its file */
	char *token;		    /* read from token_file */
	char *token_header;	    /* NULL: "Authorization: Bearer <token>";
				  else "<token_header>: <token>" */
	char *cert_file, *key_file; /* client certificate and key (PEM) */
	char *ca_file;		    /* the upstream's CA; NULL: system store */
	uint64_t max_bytes;	    /* of one response (decompressed) */
	int64_t timeout;	    /* seconds, one request in all */
	/* list, csv, json */
	int obs_type;	  /* enum obs_type, OBS_NONE: detected per entry */
	char *comment;	  /* list, csv: a line starting with it (after
			      blanks) is skipped, and so is the rest of a line
			      after " <comment>"; default "#" */
	int on_vanish;	  /* enum feed_vanish; default expire */
	char delimiter;	  /* csv: default ',' */
	int col_value;	  /* csv: the value's column, from 1 (required) */
	int col_type;	  /* csv: a column holding the type (observable.h
			      names), 0: none */
	int skip;	  /* csv: header lines skipped (not comments) */
	char *field;	  /* json: the member of each array element holding
			      the value; NULL: the elements are strings */
	char *type_field; /* json: the member holding the type; NULL: none */
	/* taxii */
	char *query;	 /* the filters as a query string, "" for none:
			      match[type]=a,b&match[spec_version]=2.1 (the
			      engine adds added_after, limit and next) */
	long long limit; /* page size asked for; 0: the server's */
	char *file;	 /* the feeds file, for messages */
	int line;	 /* of the `feed` block */
};

struct feedconf {
	char *file;
	struct feed_def *v;
	int n;
	int nenabled;
};

/*
 * Parses the feeds file against the loaded conf (members, roots,
 * collections): every error "file:line: message" in errs (warnings too,
 * such as a secret file readable by everyone: the caller clears errs
 * either way).  0 and *out (caller frees with feedconf_free), or -1.
 * Relative paths in the file resolve against the file's directory.
 * Credential files are read here (first line); certificate, key and CA
 * files are checked to be readable.
 */
int feedconf_load(const char *file, const struct conf *, struct feedconf **out,
    struct cfg_errs *errs);
/* The same from text in memory; `file` names it in messages and gives the
 * directory relative paths resolve against. */
int feedconf_parse(const char *file, const char *text, size_t n,
    const struct conf *, struct feedconf **out, struct cfg_errs *errs);
void feedconf_free(struct feedconf *);
/* Borrowed, valid as long as the set; NULL when not found. */
const struct feed_def *feedconf_find(const struct feedconf *, const char *name);

/* "taxii", "misp", "list", "csv", "json"; "?" for anything else. */
const char *feed_kind_name(int kind);
/* The kind of a name of feed_kind_name, or 0. */
int feed_kind_from_name(const char *name);

#endif
