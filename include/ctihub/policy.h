/*
 * policy.h -- sharing policies: who may receive what, by TLP level.
 *
 * Files under the policy directory, made for admins to edit by hand (one
 * rule a line, '#' comments): <member-id>.policy for each producer, and
 * hub.policy for the whole community.  They compile into one immutable
 * `struct policy` holding, for every producer and level, the set of
 * members that may receive its objects; the visibility decision is then a
 * bit test.  A set of files with any error is rejected whole; warnings
 * (duplicates, grants that change nothing or that a never rule cancels)
 * are reported and the set is used, so a rule that only narrows access
 * never keeps a wider policy in force.
 *
 * The one visibility decision: may this member see this stored object
 * version?  Objects of a producer that is not a member (any more) go to
 * admins only.  Every read path (objects, an object, versions, manifest,
 * status, and later lookups and push) asks policy_visible and nothing
 * else, so a reload changes what every path shows at once.  A NULL policy
 * means the built-in defaults of FIRST TLP 2.0 (CLEAR and GREEN to every
 * member, AMBER and above to nobody but the producer).
 */
#ifndef CTIHUB_POLICY_H
#define CTIHUB_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "ctihub/cfgfile.h"
#include "ctihub/member.h"
#include "ctihub/store.h"

struct policy;

/* The producer code of the hub itself (the points-of-contact directory);
 * its objects follow hub.policy's `directory` rule. */
#define POLICY_HUB_PRODUCER 0x00000001u

/* What the decision needs of an object version: all of it is in the
 * collection index entry, except the releasability list, which comes from
 * the object's header only when the entry's STORE_F_RELEASE flag is set. */
struct policy_obj {
	uint32_t producer;
	int tlp;	     /* enum tlp; TLP_NONE = unmarked */
	int flags;	     /* STORE_F_* */
	const char *release; /* nrelease pairs of country letters */
	int nrelease;
};

/*
 * Reads every *.policy file of `dir` against the member set.  Returns 0
 * and a new policy (caller frees with policy_free), with any warnings in
 * `errs` ("file:line: warning: message", sev CFG_WARNING); or -1 with
 * every error ("file:line: message") and the warnings in `errs`.  The
 * caller clears `errs` either way.  A missing directory is an empty
 * policy (the defaults), not an error.
 */
int policy_load(const char *dir, const struct members *, struct policy **out,
    struct cfg_errs *errs);
/* The same from texts in memory: names[i] is the file name
 * ("hub.policy", "cert-br.policy"), texts[i] its content (tests, fuzzing). */
int policy_parse(int n, const char *const names[], const char *const texts[],
    const size_t lens[], const struct members *, struct policy **out,
    struct cfg_errs *errs);
void policy_free(struct policy *);

/* 1 if `reader` may see the object, 0 if not.  pol may be NULL. */
int policy_visible(const struct policy *, const struct member *reader,
    const struct policy_obj *);

/* The level an object counts as: its own, or its producer's `default`
 * (AMBER unless its policy says otherwise) when it is unmarked. */
int policy_level(const struct policy *, uint32_t producer, int tlp);
/* The same for a stored object: one that refers to a marking definition
 * its producer has not published (STORE_F_UNRESOLVED) counts at least at
 * the producer's default. */
int policy_obj_level(const struct policy *, const struct policy_obj *);

/*
 * Why: the decision for one reader and object, and the rule lines
 * ("file:line: text") that made it, one per line, into out.  Returns the
 * decision (1 visible, 0 not).
 */
int policy_explain(const struct policy *, const struct member *reader,
    const struct policy_obj *, char *out, size_t outlen);

/* The members that may receive objects of (producer, level): a bitmap
 * indexed by member index (bit i of byte i / 8), valid while the policy
 * is; NULL when pol is NULL (use policy_visible). */
const unsigned char *policy_audience(
    const struct policy *, uint32_t producer, int level);

/* The SHA-256 (hex) of every file the policy was read from, for the audit
 * log: calls cb(file, hex) for each. */
void policy_files(const struct policy *,
    void (*cb)(const char *file, const char *sha256hex, void *), void *arg);

/* 1 if objects of (producer, level) go to `everyone` (a `share <level>
 * with everyone` rule, or the built-in for CLEAR): today the same members
 * as `community`, later also peer hubs.  With pol NULL: level CLEAR. */
int policy_everyone(const struct policy *, uint32_t producer, int level);

#endif
