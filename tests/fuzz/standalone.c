/*
 * standalone.c -- replays fuzz inputs without libFuzzer, so every
 * "make check" runs each target over its corpus and past crashers.
 * Usage: fuzz_<x> FILE|DIR...  Prints one TAP line per target run.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
replay_file(const char *path)
{
	FILE *f;
	uint8_t *data;
	long n;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	if ((data = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return -1;
	}
	if (n > 0 && fread(data, 1, (size_t)n, f) != (size_t)n) {
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, (size_t)n);
	free(data);
	return 0;
}

static int
replay(const char *path, int *count)
{
	struct stat st;
	struct dirent **ents;
	int i, n, rc = 0;
	char sub[4096];

	if (stat(path, &st) != 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	if ((n = scandir(path, &ents, NULL, alphasort)) < 0) {
		perror(path);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			snprintf(
			    sub, sizeof(sub), "%s/%s", path, ents[i]->d_name);
			if (replay(sub, count) != 0)
				rc = -1;
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int
main(int argc, char **argv)
{
	int i, count = 0, rc = 0;
	const char *name = strrchr(argv[0], '/');

	name = name ? name + 1 : argv[0];
	for (i = 1; i < argc; i++)
		if (replay(argv[i], &count) != 0)
			rc = 1;
	printf("%s %d - %s replayed %d inputs\n", rc ? "not ok" : "ok", 1, name,
	    count);
	return rc;
}
