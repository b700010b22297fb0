/*
 * cli.h -- the subcommands of ctihub that live in their own files.
 */
#ifndef CTIHUB_CLI_H
#define CTIHUB_CLI_H

#include <stdint.h>

struct conf;
struct store;

/* -c FILE from the arguments, or the default path. */
const char *cli_conf_path(int argc, char **argv);
/* The configuration (errors on stderr; NULL) and its database (errors
 * on stderr as "ctihub <cmd>: ..."; NULL).  cli_policy.c */
struct conf *cli_load_conf(const char *path);
struct store *cli_open_store(const struct conf *, const char *cmd);
/* A time (microseconds) as a timestamp to the second, "-" for 0.
 * out: TSTAMP_LEN bytes.  cli_policy.c */
void cli_when(int64_t us, char *out);

/* cli_feeds.c */
int cmd_feeds(int argc, char **argv);
int cmd_feed(int argc, char **argv);

/* cli_import.c */
int cmd_import(int argc, char **argv);

/* cli_lookup.c */
int cmd_lookup(int argc, char **argv);

/* cli_policy.c */
int cmd_policy(int argc, char **argv);

/* cli_push.c */
int cmd_push(int argc, char **argv);

/* cli_reindex.c */
int cmd_reindex(int argc, char **argv);

/* cli_verify.c */
int cmd_verify(int argc, char **argv);

#endif
