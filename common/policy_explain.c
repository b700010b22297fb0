/*
 * policy_explain.c -- why a reader may or may not see an object (see
 * policy_explain in policy.h): the decision, then the rules of the
 * compiled policy that made it, each as "file:line: text".
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctihub/marking.h"
#include "ctihub/policy.h"

#include "policy_int.h"

/* --- why --- */

struct outb {
	char *p;
	size_t len, off;
};

struct why;

static void put(struct outb *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void put_rule(struct outb *, const struct pfile *, const struct prule *);
static void put_nevers(
    struct outb *, const struct policy *, const struct pfile *, int, int);
static int put_grants(struct outb *, const struct policy *,
    const struct pfile *, int, int, int, int);
static int why_directory(struct why *);
static void why_level_of(struct why *, int);
static int why_producer(struct why *);
static void why_release(struct why *);

static void
put(struct outb *w, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (w->p == NULL || w->off + 1 >= w->len)
		return;
	va_start(ap, fmt);
	r = vsnprintf(w->p + w->off, w->len - w->off, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	w->off += (size_t)r;
	if (w->off >= w->len)
		w->off = w->len - 1;
}

static void
put_rule(struct outb *w, const struct pfile *f, const struct prule *r)
{
	put(w, "%s:%d: %s\n", f->name, r->line, r->text);
}

/* The never rules of f that exclude the reader. */
static void
put_nevers(struct outb *w, const struct policy *pol, const struct pfile *f,
    int m, int cc)
{
	int i;

	for (i = 0; f != NULL && i < f->nrules; i++)
		if (f->rules[i].kind == R_NEVER &&
		    pol_rule_covers(pol, &f->rules[i], m, cc))
			put_rule(w, f, &f->rules[i]);
}

/*
 * The share rules of one scope (level 1..5 of a producer's file, or the
 * directory: level 0): those that take the reader in when `in`, all of
 * them otherwise.  Returns how many there are in the scope.
 */
static int
put_grants(struct outb *w, const struct policy *pol, const struct pfile *f,
    int level, int in, int m, int cc)
{
	int i, n = 0;

	for (i = 0; f != NULL && i < f->nrules; i++) {
		const struct prule *r = &f->rules[i];

		if (!rule_in_scope(r, level))
			continue;
		n++;
		if (!in || pol_rule_covers(pol, r, m, cc))
			put_rule(w, f, r);
	}
	return n;
}

/* What the explanation of one decision needs. */
struct why {
	struct outb w;
	const struct policy *pol;
	const struct member *reader;
	const struct policy_obj *o;
	const struct pol_prod *p; /* the producer's; NULL without pol */
	const struct pfile *f;	  /* the producer's file; NULL */
	const struct pfile *hf;	  /* hub.policy; NULL */
	int m;			  /* the reader's index; -1 without pol */
	int cc;			  /* the reader's country index */
};

/* An object of the points-of-contact directory: the directory rules.
 * Returns whether its audience takes the reader in. */
static int
why_directory(struct why *y)
{
	int in;

	put(&y->w,
	    "directory: an object of the hub's points-of-contact directory "
	    "(its level does not matter)\n");
	in = y->pol == NULL || bm_get(y->p->aud[0], y->m);
	if (put_grants(&y->w, y->pol, y->hf, 0, in, y->m, y->cc) == 0)
		put(&y->w, "built-in: the directory goes to the community\n");
	return in;
}

/* The level the object counts as, and why. */
static void
why_level_of(struct why *y, int level)
{
	const struct policy_obj *o = y->o;
	const struct pfile *f = y->f;

	if (o->tlp != TLP_NONE && (unsigned)o->tlp < TLP_NLEVELS)
		put(&y->w, "level: %s\n", marking_tlp_name(level));
	else if (o->tlp != TLP_NONE)
		put(&y->w,
		    "level: %s (an unknown level %d counts as the most "
		    "restrictive)\n",
		    marking_tlp_name(level), o->tlp);
	else if (f != NULL && y->p->defrule >= 0)
		put(&y->w, "level: %s (unmarked; %s:%d: %s)\n",
		    marking_tlp_name(level), f->name,
		    f->rules[y->p->defrule].line, f->rules[y->p->defrule].text);
	else
		put(&y->w, "level: %s (unmarked; built-in default amber)\n",
		    marking_tlp_name(level));
	if (o->flags & STORE_F_UNRESOLVED)
		put(&y->w,
		    "it refers to a marking definition its producer has not "
		    "published: it counts at least at the producer's default "
		    "level until then\n");
}

/* An object of a producer: its level and the share rules of the level.
 * Returns whether the level's audience takes the reader in, or -1 when
 * the producer is no longer a member (nothing more to say). */
static int
why_producer(struct why *y)
{
	const struct policy *pol = y->pol;
	int level = policy_obj_level(pol, y->o), in;

	why_level_of(y, level);
	if (pol != NULL && y->p == &pol->prods[pol->n]) {
		put(&y->w,
		    "the producer is no longer a member: its objects go to "
		    "admins only until it has a policy again\n");
		return -1;
	} else if (pol != NULL && y->f == NULL)
		put(&y->w,
		    "the producer has no policy file: the built-in defaults "
		    "apply\n");
	in = pol != NULL ? bm_get(y->p->aud[level], y->m) : level <= TLP_GREEN;
	if (put_grants(&y->w, pol, y->f, level, in, y->m, y->cc) == 0)
		put(&y->w, "built-in: %s goes to %s\n", pol_level_words[level],
		    level == TLP_CLEAR	     ? "everyone"
			: level == TLP_GREEN ? "the community"
					     : "nobody but the producer");
	return in;
}

/* The object's own releasability list, when it has one. */
static void
why_release(struct why *y)
{
	const struct policy_obj *o = y->o;
	int k, among = 0;

	if (!(o->flags & STORE_F_RELEASE))
		return;
	if (o->nrelease <= 0) {
		put(&y->w,
		    "releasable to: nobody (the object's marking names no "
		    "country)\n");
		return;
	}
	put(&y->w, "releasable to:");
	for (k = 0; k < o->nrelease; k++) {
		put(&y->w, " %.2s", o->release + 2 * k);
		if (memcmp(o->release + 2 * k, y->reader->country, 2) == 0)
			among = 1;
	}
	put(&y->w, " (the object's marking; the reader's country %s is %s)\n",
	    y->reader->country, among ? "among them" : "not among them");
}

int
policy_explain(const struct policy *pol, const struct member *reader,
    const struct policy_obj *o, char *out, size_t outlen)
{
	struct why y = {
	    {out, outlen, 0}, pol, reader, o, NULL, NULL, NULL, -1, -1};
	int vis, in;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	vis = policy_visible(pol, reader, o);
	put(&y.w, "visible: %s\n", vis ? "yes" : "no");
	if (reader == NULL) {
		put(&y.w,
		    "no reader: a request that is not authenticated sees "
		    "nothing\n");
		return vis;
	}
	if (reader->code == o->producer) {
		put(&y.w,
		    "the reader is the producer: a producer always sees its "
		    "own objects\n");
		return vis;
	}
	y.cc = pol_cc_index(reader->country);
	if (pol != NULL) {
		y.m = reader->index;
		if (y.m < 0 || y.m >= pol->n ||
		    pol->codes[y.m] != reader->code) {
			put(&y.w,
			    "reader %s is not a member of the set this policy "
			    "was read with\n",
			    reader->id);
			return vis;
		}
		y.p = prod_find(pol, o->producer);
		if (y.p->file >= 0 && o->producer != POLICY_HUB_PRODUCER)
			y.f = &pol->files[y.p->file];
		if (pol->hubfile >= 0)
			y.hf = &pol->files[pol->hubfile];
	} else
		put(&y.w, "no policy loaded: the built-in defaults apply\n");
	if (o->producer == POLICY_HUB_PRODUCER)
		in = why_directory(&y);
	else if ((in = why_producer(&y)) == -1)
		return vis;
	if (!in && pol != NULL) {
		put_nevers(&y.w, pol, y.f, y.m, y.cc);
		put_nevers(&y.w, pol, y.hf, y.m, y.cc);
	}
	why_release(&y);
	return vis;
}
