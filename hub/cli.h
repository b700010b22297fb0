/*
 * cli.h -- the subcommands of ctihub that live in their own files.
 */
#ifndef CTIHUB_CLI_H
#define CTIHUB_CLI_H

/* -c FILE from the arguments, or the default path. */
const char *cli_conf_path(int argc, char **argv);

/* cli_import.c */
int cmd_import(int argc, char **argv);

/* cli_policy.c */
int cmd_policy(int argc, char **argv);

#endif
