/*
 * bench_import.c -- ctihub import throughput on one bundle file, printed
 * beside Jansson's parse rate for the same file measured just before.
 *
 * usage: bench_import CTIHUB CONF MEMBER COLLECTION FILE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"

int
main(int argc, char **argv)
{
	json_error_t e;
	json_t *j;
	size_t n;
	double t0, jrate, dt;
	pid_t pid;
	int st;
	FILE *f;
	long sz;

	if (argc != 6) {
		fprintf(stderr,
		    "usage: bench_import CTIHUB CONF MEMBER "
		    "COLLECTION FILE\n");
		return 2;
	}
	if ((f = fopen(argv[5], "rb")) == NULL) {
		perror(argv[5]);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fclose(f);
	t0 = bench_now();
	if ((j = json_load_file(argv[5], 0, &e)) == NULL) {
		fprintf(stderr, "%s: %s\n", argv[5], e.text);
		return 1;
	}
	dt = bench_now() - t0;
	n = json_array_size(json_object_get(j, "objects"));
	json_decref(j);
	jrate = (double)n / dt;
	printf(
	    "input: one bundle, %zu objects, %.1f MB\n", n, (double)sz / 1e6);
	printf("jansson parse (json_load_file, 1 core, same file): %.0f "
	       "objects/s, %.1f MB/s\n",
	    jrate, (double)sz / dt / 1e6);
	fflush(stdout);
	t0 = bench_now();
	if ((pid = fork()) == 0) {
		execl(argv[1], argv[1], "import", argv[5], "--as", argv[3],
		    "--collection", argv[4], "-c", argv[2], "--quiet",
		    (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	dt = bench_now() - t0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "ctihub import failed\n");
		return 1;
	}
	printf("ctihub import: %.0f objects/s (%.1f s, durable)\n",
	    (double)n / dt, dt);
	printf(
	    "ratio to the jansson parse rate: %.2f\n", (double)n / dt / jrate);
	return 0;
}
