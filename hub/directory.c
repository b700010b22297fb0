/*
 * directory.c -- the points-of-contact directory: a read-only collection
 * (`directory` in its collection block) of STIX identity objects, one per
 * member, generated from the members file (organisation, country,
 * sectors, contact details) so that CERTs can find each other.  Published
 * at start and after every reload through the writer (a WMSG_DIRECTORY
 * message), by the hub itself (POLICY_HUB_PRODUCER, so hub.policy's `share directory
 * with` decides who sees it): a member whose details changed gets a new
 * version, a member who left gets a revoked one; ids are stable (UUIDv5 of
 * the member id).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ctihub/alloc.h"
#include "ctihub/log.h"
#include "ctihub/marking.h"
#include "ctihub/policy.h"
#include "ctihub/stix.h"
#include "ctihub/tstamp.h"
#include "ctihub/uuid.h"

#include "hub.h"
#include "writer.h"

#define MAX_DIR 4096

/* The namespace of ctihub's UUIDv5 identifiers. */
static const unsigned char dir_ns[16] = {0x7d, 0x1c, 0x4a, 0x52, 0x3e, 0x0b,
    0x4f, 0x6a, 0x9b, 0x21, 0x5c, 0x88, 0x0e, 0x3d, 0x71, 0xa4};

/*
 * A UUIDv5 in ctihub's namespace of the name and the store's secret: the
 * same for a member at every start, and unpredictable to anyone else, so
 * that no member can take a future member's identity id first (ids
 * belong to the producer that first publishes them).
 */
static void
uuid5(const unsigned char secret[32], const char *name, unsigned char u[16],
    char out[37])
{
	unsigned char h[SHA_DIGEST_LENGTH];
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	EVP_DigestInit_ex(c, EVP_sha1(), NULL);
	EVP_DigestUpdate(c, dir_ns, sizeof(dir_ns));
	EVP_DigestUpdate(c, secret, 32);
	EVP_DigestUpdate(c, name, strlen(name));
	EVP_DigestFinal_ex(c, h, NULL);
	EVP_MD_CTX_free(c);
	memcpy(u, h, 16);
	uuid_set_version(u, 5);
	uuid_format(u, out);
}

static void
jstr(struct buf *b, const char *key, const char *v)
{
	buf_addf(b, ",\"%s\":", key);
	buf_add_jstr(b, v, strlen(v));
}

/* The member's details as JSON members (no braces, leading comma). */
static void
details(const struct member *m, struct buf *b)
{
	struct buf contact = BUF_INIT;
	char roles[64];
	int i;

	jstr(b, "name", m->name);
	if (m->description != NULL)
		jstr(b, "description", m->description);
	buf_adds(b, ",\"identity_class\":\"organization\"");
	if (m->nsectors > 0) {
		buf_adds(b, ",\"sectors\":[");
		for (i = 0; i < m->nsectors; i++) {
			if (i > 0)
				buf_addc(b, ',');
			buf_add_jstr(b, m->sectors[i], strlen(m->sectors[i]));
		}
		buf_addc(b, ']');
	}
	if (m->contact_name)
		buf_addf(&contact, "%s", m->contact_name);
	if (m->email)
		buf_addf(&contact, "%s%s", contact.len ? "; " : "", m->email);
	if (m->phone)
		buf_addf(&contact, "%s%s", contact.len ? "; " : "", m->phone);
	if (m->url)
		buf_addf(&contact, "%s%s", contact.len ? "; " : "", m->url);
	if (contact.len > 0)
		jstr(b, "contact_information", buf_cstr(&contact));
	buf_clear(&contact);
	jstr(b, "x_ctihub_member", m->id);
	jstr(b, "x_ctihub_country", m->country);
	member_roles_str(m->roles, roles, sizeof(roles));
	jstr(b, "x_ctihub_roles", roles);
}

/* The stored latest version of an identity: its JSON (copied), or NULL. */
static char *
stored_json(struct store_reader *r, const unsigned char u[16])
{
	struct store_objview ov;

	if (store_latest(r, "identity", u, POLICY_HUB_PRODUCER, &ov) !=
	    STORE_OK)
		return NULL;
	return hub_strndup(ov.json, ov.jsonlen);
}

/* Adds an identity (json: taken) to the message; -1 when it is full. */
static int
add_obj(struct wmsg_directory *d, char *json, const char *uuidstr,
    const unsigned char u[16], int64_t modified, int revoked)
{
	struct wdir_ident *v;

	if (d->n == MAX_DIR) {
		hub_free(json);
		return -1;
	}
	v = &d->v[d->n++];
	memset(v, 0, sizeof(*v));
	snprintf(v->id, sizeof(v->id), "identity--%s", uuidstr);
	v->json = json;
	memcpy(v->uuid, u, 16);
	v->modified = modified;
	v->revoked = revoked;
	return 0;
}

static void
dir_done(struct wmsg *m, int rc)
{
	const struct wmsg_directory *d = &m->u.dir;
	int i, n = 0;

	for (i = 0; i < d->n; i++)
		if (d->v[i].result == STORE_NEW)
			n++;
	if (rc != STORE_OK)
		log_warnx("directory: could not publish the member identities");
	else if (n > 0)
		log_info("directory: %d member identit%s published", n,
		    n == 1 ? "y" : "ies");
	wmsg_clear(m);
	hub_free(m);
}

/* The created and modified of a stored identity, and whether revoked. */
static void
stored_times(const char *json, char *created, size_t len, int *revoked)
{
	json_t *j = json_loads(json, 0, NULL), *v;

	created[0] = '\0';
	*revoked = 0;
	if (j == NULL)
		return;
	if (json_is_string(v = json_object_get(j, "created")))
		snprintf(created, len, "%s", json_string_value(v));
	*revoked = json_is_true(json_object_get(j, "revoked"));
	json_decref(j);
}

static void
publish_one(struct hub *hub, struct store_reader *r,
    const struct conf_collection *k, const struct members *ms)
{
	struct wmsg *j;
	struct wmsg_directory *d;
	struct store_item it;
	char now_s[TSTAMP_LEN], uid[37], name[MEMBER_ID_MAX + 16];
	unsigned char u[16], dg[32];
	int64_t now = tstamp_now() / 1000 * 1000;
	int i, rc;

	if ((j = hub_calloc(1, sizeof(*j))) == NULL)
		return;
	wmsg_init(j, WMSG_DIRECTORY);
	d = &j->u.dir;
	d->coll = k->code;
	tstamp_format(now, 3, now_s);
	if ((d->v = hub_calloc(MAX_DIR, sizeof(*d->v))) == NULL ||
	    store_rbegin(r) != STORE_OK) {
		wmsg_clear(j);
		hub_free(j);
		return;
	}
	for (i = 0; i < ms->n; i++) {
		const struct member *m = &ms->v[i];
		struct buf core = BUF_INIT, full = BUF_INIT;
		char hex[33], created[TSTAMP_LEN + 8], *old;
		int revoked, k2;

		snprintf(name, sizeof(name), "member:%s", m->id);
		uuid5(hub->secret, name, u, uid);
		details(m, &core);
		SHA256((const unsigned char *)core.data, core.len, dg);
		for (k2 = 0; k2 < 16; k2++)
			snprintf(hex + 2 * k2, 3, "%02x", dg[k2]);
		old = stored_json(r, u);
		if (old != NULL && strstr(old, hex) != NULL) {
			hub_free(old); /* unchanged */
			buf_clear(&core);
			continue;
		}
		if (old != NULL)
			stored_times(old, created, sizeof(created), &revoked);
		else
			snprintf(created, sizeof(created), "%s", now_s);
		hub_free(old);
		buf_addf(&full,
		    "{\"type\":\"identity\",\"spec_version\":\"2.1\","
		    "\"id\":\"identity--%s\",\"created\":\"%s\","
		    "\"modified\":\"%s\"",
		    uid, created, now_s);
		buf_add(&full, core.data, core.len);
		buf_addf(&full, ",\"x_ctihub_digest\":\"%s\"}", hex);
		buf_clear(&core);
		if (buf_failed(&full)) {
			buf_clear(&full);
			continue;
		}
		add_obj(d, buf_detach(&full, NULL), uid, u, now, 0);
	}
	/* members who left: their identity is revoked */
	rc = store_walk_start(r, k->code, -1);
	while (rc == STORE_OK && store_walk_next(r, &it) == 1) {
		struct store_objview ov;
		json_t *o;
		const char *mid;
		char *out;

		if (!(it.e.flags & STORE_F_LAST) ||
		    (it.e.flags & (STORE_F_REVOKED | STORE_F_RELEASED)) ||
		    store_obj_get(r, it.e.rowid, &ov) != STORE_OK)
			continue;
		if ((o = json_loadb(ov.json, ov.jsonlen, 0, NULL)) == NULL)
			continue;
		mid = json_string_value(json_object_get(o, "x_ctihub_member"));
		if (mid != NULL && members_find(ms, mid) == NULL &&
		    stix_parse_id(json_string_value(json_object_get(o, "id")),
			NULL, 0, u) == 0) {
			json_object_set_new(o, "modified", json_string(now_s));
			json_object_set_new(o, "revoked", json_true());
			out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
			if (out != NULL) {
				char *mine = hub_strdup(out);
				const char *dash = strstr(
				    json_string_value(json_object_get(o, "id")),
				    "--");

				free(out);
				if (mine != NULL && dash != NULL)
					add_obj(d, mine, dash + 2, u, now, 1);
				else
					hub_free(mine);
			}
		}
		json_decref(o);
	}
	store_rend(r);
	if (d->n == 0) {
		wmsg_clear(j);
		hub_free(j);
		return;
	}
	j->done = dir_done;
	writer_submit(hub->writer, j);
}

void
directory_publish(struct hub *hub, struct runtime *rt)
{
	struct store_reader *r;
	int i, k;

	if (store_reader_new(hub->store, &r) != STORE_OK)
		return;
	for (i = 0; i < rt->conf->nroots; i++)
		for (k = 0; k < rt->conf->roots[i].ncolls; k++)
			if (rt->conf->roots[i].colls[k].directory)
				publish_one(hub, r,
				    &rt->conf->roots[i].colls[k],
				    rt->conf->members);
	store_reader_free(r);
}
