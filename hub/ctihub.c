/*
 * ctihub.c -- the admin command line: check the configuration, make
 * credentials for the members file, and (cli_*.c) bulk import, the
 * policy tools, the database check and the observable index rebuild.  Each subcommand is one row of
 * the table below.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ctihub/cert.h"
#include "ctihub/cred.h"
#include "ctihub/log.h"

#include "ctihub/feedconf.h"
#include "ctihub/subscription.h"

#include "hub.h"
#include "cli.h"

static int cmd_check(int, char **);
static int cmd_member(int, char **);

static const struct command {
	const char *name;
	int (*run)(int, char **);
	const char *usage;
} commands[] = {
    {"check", cmd_check, "check [-c ctihub.conf]"},
    {"member", cmd_member,
	"member passwd [--stdin] | member token | member cert FILE.pem"},
    {"import", cmd_import,
	"import FILE... --as MEMBER --collection ID [-c ctihub.conf]"},
    {"policy", cmd_policy,
	"policy check [DIR] | policy explain --object ID --to MEMBER | "
	"policy diff OLDDIR NEWDIR  [-c ctihub.conf]"},
    {"verify", cmd_verify, "verify [-c ctihub.conf]"},
    {"reindex", cmd_reindex, "reindex [-c ctihub.conf] [--slice N]"},
    {"lookup", cmd_lookup,
	"lookup --member NAME [--root NAME] [--type T] [--valid] [--best] "
	"[--json] [-c ctihub.conf] VALUE... | -"},
    {"feeds", cmd_feeds, "feeds status [--json] [-c ctihub.conf]"},
    {"feed", cmd_feed, "feed run NAME [--store] [--json] [-c ctihub.conf]"},
    {"push", cmd_push,
	"push status [--json] | push resume NAME  [-c ctihub.conf]"},
};

static void
usage(void)
{
	size_t i;

	fprintf(stderr, "usage:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stderr, "  ctihub %s\n", commands[i].usage);
	exit(2);
}

const char *
cli_conf_path(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc - 1; i++)
		if (strcmp(argv[i], "-c") == 0)
			return argv[i + 1];
	return "/etc/ctihub/ctihub.conf";
}

static int
cmd_check(int argc, char **argv)
{
	struct runtime *rt;
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-c") == 0)
			i++;
		else {
			fprintf(stderr, "usage: ctihub check [-c file]\n");
			return 2;
		}
	if (runtime_new(cli_conf_path(argc, argv), 1,
		RUNTIME_QUIET | RUNTIME_CHECK, NULL, &rt) == -1)
		return 2;
	/* warnings, logged above, do not fail the check: the daemon loads
	 * such a policy too */
	printf("configuration OK: %d members, %d API roots, %d "
	       "subscriptions, %d feeds (%d enabled), policy in %s",
	    rt->conf->members->n, rt->conf->nroots,
	    rt->conf->subs != NULL ? rt->conf->subs->n : 0,
	    rt->conf->feeds != NULL ? rt->conf->feeds->n : 0,
	    rt->conf->feeds != NULL ? rt->conf->feeds->nenabled : 0,
	    rt->conf->policy_dir);
	if (rt->policy_warnings > 0)
		printf(" (%d warning%s)", rt->policy_warnings,
		    rt->policy_warnings == 1 ? "" : "s");
	printf("\n");
	runtime_unref(rt);
	return 0;
}

/* Reads a line without echo from the terminal (or plainly from stdin). */
static int
read_secret(const char *prompt, char *out, size_t len, int from_stdin)
{
	struct termios old, noecho;
	FILE *in = stdin;
	int tty = !from_stdin && isatty(STDIN_FILENO);
	size_t n;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		tcgetattr(STDIN_FILENO, &old);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
	}
	if (fgets(out, (int)len, in) == NULL)
		out[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	return n > 0 ? 0 : -1;
}

static int
member_passwd(int argc, char **argv)
{
	char pw[1024], again[1024], line[256];
	int from_stdin = argc > 2 && strcmp(argv[2], "--stdin") == 0;

	if (read_secret("password: ", pw, sizeof(pw), from_stdin) == -1) {
		fprintf(stderr, "ctihub: empty password\n");
		return 1;
	}
	if (!from_stdin && isatty(STDIN_FILENO)) {
		if (read_secret("again: ", again, sizeof(again), 0) == -1 ||
		    strcmp(pw, again) != 0) {
			fprintf(stderr, "ctihub: passwords differ\n");
			return 1;
		}
		OPENSSL_cleanse(again, sizeof(again));
	}
	if (strlen(pw) < 8) {
		fprintf(stderr, "ctihub: password shorter than 8 characters\n");
		return 1;
	}
	if (cred_pw_hash(
		pw, strlen(pw), CRED_SCRYPT_LOGN, line, sizeof(line)) == -1) {
		fprintf(stderr, "ctihub: hashing failed\n");
		return 1;
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	printf("password %s\n", line);
	return 0;
}

static int
member_token(void)
{
	char tok[128], stored[128];

	if (cred_token_new(tok, sizeof(tok), stored, sizeof(stored)) == -1) {
		fprintf(stderr, "ctihub: cannot make a token\n");
		return 1;
	}
	fprintf(stderr,
	    "API token (give it to the member; it is not stored "
	    "anywhere):\n");
	printf("%s\n", tok);
	fprintf(stderr, "line for the member's block in the members file:\n");
	printf("token %s\n", stored);
	OPENSSL_cleanse(tok, sizeof(tok));
	return 0;
}

static int
member_cert(const char *path)
{
	unsigned char fp[CRED_DIGEST_LEN];
	char err[256], s[96];

	if (cert_fingerprint_file(path, fp, err, sizeof(err)) == -1) {
		fprintf(stderr, "ctihub: %s\n", err);
		return 1;
	}
	cred_fp_format(fp, s);
	printf("cert sha256:%s\n", s);
	return 0;
}

static int
cmd_member(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "passwd") == 0)
		return member_passwd(argc, argv);
	if (argc == 2 && strcmp(argv[1], "token") == 0)
		return member_token();
	if (argc == 3 && strcmp(argv[1], "cert") == 0)
		return member_cert(argv[2]);
	fprintf(stderr, "usage: ctihub %s\n", commands[1].usage);
	return 2;
}

int
main(int argc, char **argv)
{
	size_t i;

	log_init(LOG_LVL_WARN);
	if (argc < 2)
		usage();
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	usage();
}
