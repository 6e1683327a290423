/*
 * threshold: the glibc behaviour memtraced pins MALLOC_MMAP_THRESHOLD_ for.
 *
 * usage: threshold [-g] [-n N] [-h HOLD_MS]   (defaults -n 4 -h 0)
 *
 * A thread named "nioEventLoop-3" mallocs 16 MiB, touches it and frees it:
 * glibc mmaps and munmaps it and, unless its mmap threshold is fixed (by
 * MALLOC_MMAP_THRESHOLD_ or GLIBC_TUNABLES), raises the threshold to that
 * block's size.  The thread then mallocs N more 16 MiB blocks, touches the
 * first page of each and keeps them: with the threshold pinned each is a
 * fresh mmap of 16781312 bytes (a chunk); without, they come from a malloc
 * arena (a heap grown with mprotect inside a MAP_NORESERVE reservation).
 * The main thread then prints
 *   TRUTH {"held":N,"size":16777216,"pinned_env":0|1}
 * (pinned_env: MALLOC_MMAP_THRESHOLD_ is in the environment), holds the
 * blocks HOLD_MS and exits 0.
 *
 * With -g the thread stops at a gate after that first free, when its arena
 * exists: it prints "ready" and waits for a line on stdin (time for a tracer
 * to attach) before it mallocs the N blocks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SIZE (16UL << 20)
#define MAX_HELD 64

static void *volatile held[MAX_HELD];
static int nheld = 4, gate;

static void *loop(void *arg)
{
	void *volatile first;

	(void)arg;
	pthread_setname_np(pthread_self(), "nioEventLoop-3");
	first = malloc(SIZE);
	if (!first) {
		fprintf(stderr, "threshold: malloc failed\n");
		exit(1);
	}
	memset(first, 1, 4096);
	free(first);
	if (gate) {
		char line[16];

		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			exit(1);
	}
	for (int i = 0; i < nheld; i++) {
		held[i] = malloc(SIZE);
		if (!held[i]) {
			fprintf(stderr, "threshold: malloc failed\n");
			exit(1);
		}
		memset(held[i], 2, 4096);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int hold_ms = 0, opt;
	pthread_t t;

	while ((opt = getopt(argc, argv, "gn:h:")) != -1) {
		switch (opt) {
		case 'g': gate = 1; break;
		case 'n': nheld = atoi(optarg); break;
		case 'h': hold_ms = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: threshold [-g] [-n N] [-h HOLD_MS]\n");
			return 2;
		}
	}
	if (nheld < 0 || nheld > MAX_HELD || hold_ms < 0) {
		fprintf(stderr, "threshold: bad arguments\n");
		return 2;
	}
	alarm(60);
	if (pthread_create(&t, NULL, loop, NULL) != 0 || pthread_join(t, NULL) != 0) {
		fprintf(stderr, "threshold: thread failed\n");
		return 1;
	}
	printf("TRUTH {\"held\":%d,\"size\":%lu,\"pinned_env\":%d}\n", nheld, SIZE,
	       getenv("MALLOC_MMAP_THRESHOLD_") != NULL);
	fflush(stdout);
	if (hold_ms) {
		struct timespec ts = {hold_ms / 1000, (hold_ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	return 0;
}
