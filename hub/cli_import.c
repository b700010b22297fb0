/*
 * cli_import.c -- ctihub import (issue 3).
 */
#include <stdio.h>

#include "cli.h"

int
cmd_import(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ctihub import: not yet\n");
	return 1;
}
