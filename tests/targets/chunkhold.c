/*
 * chunkhold: map chunk-sized blocks, hold them, free them, exit with a code.
 *
 * usage: chunkhold [-n CHUNKS] [-i INTERVAL_MS] [-h HOLD_MS] [-w WAIT_MS] [-e CODE]
 *        (defaults -n 5 -i 50 -h 2000 -w 300 -e 0)
 *
 * A thread named "nioEventLoop-7" mmaps CHUNKS anonymous read-write regions
 * of 16781312 bytes (what glibc maps for malloc(16 MiB)) INTERVAL_MS apart,
 * touching the first page of each; the process holds them HOLD_MS, munmaps
 * them all, waits WAIT_MS and exits with CODE after printing
 *   TRUTH {"chunks":N,"chunk_bytes":16781312,"exit_code":CODE}
 * For alert tests: with a ceiling a few chunks high, it raises warn and
 * crit, then clears both, at known moments, and ends with a known status.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES 16781312UL
#define MAX_CHUNKS 256

static int nchunks = 5, interval_ms = 50;
static void *maps[MAX_CHUNKS];

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void *loop(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "nioEventLoop-7");
	for (int i = 0; i < nchunks; i++) {
		if (i)
			nap_ms(interval_ms);
		maps[i] = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (maps[i] == MAP_FAILED) {
			fprintf(stderr, "chunkhold: mmap: %s\n", strerror(errno));
			exit(1);
		}
		((char *)maps[i])[0] = 1;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int hold_ms = 2000, wait_ms = 300, code = 0, opt;
	pthread_t t;

	while ((opt = getopt(argc, argv, "n:i:h:w:e:")) != -1) {
		switch (opt) {
		case 'n': nchunks = atoi(optarg); break;
		case 'i': interval_ms = atoi(optarg); break;
		case 'h': hold_ms = atoi(optarg); break;
		case 'w': wait_ms = atoi(optarg); break;
		case 'e': code = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: chunkhold [-n CHUNKS] [-i MS] [-h MS] [-w MS] [-e CODE]\n");
			return 2;
		}
	}
	if (nchunks < 0 || nchunks > MAX_CHUNKS || interval_ms < 0 || hold_ms < 0 || wait_ms < 0 ||
	    code < 0 || code > 255) {
		fprintf(stderr, "chunkhold: bad arguments\n");
		return 2;
	}
	alarm(120);
	if (pthread_create(&t, NULL, loop, NULL) != 0 || pthread_join(t, NULL) != 0) {
		fprintf(stderr, "chunkhold: thread failed\n");
		return 1;
	}
	nap_ms(hold_ms);
	for (int i = 0; i < nchunks; i++)
		if (munmap(maps[i], CHUNK_BYTES) != 0) {
			fprintf(stderr, "chunkhold: munmap: %s\n", strerror(errno));
			return 1;
		}
	nap_ms(wait_ms);
	printf("TRUTH {\"chunks\":%d,\"chunk_bytes\":%lu,\"exit_code\":%d}\n", nchunks, CHUNK_BYTES,
	       code);
	fflush(stdout);
	return code;
}
