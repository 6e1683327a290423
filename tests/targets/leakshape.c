/*
 * leakshape: grow chunk-sized mappings in a known shape, for trend alerts
 * and leak suspects.
 *
 * usage: leakshape steady|sawtooth|sites [-i INTERVAL_MS] [-n N] [-t SECONDS]
 *                  [-b PAGES]
 *        (defaults -i 1000 -n 16 -t 30 -b 0)
 *
 *   steady    one mmap of 16781312 bytes (what glibc maps for malloc(16 MiB))
 *             every INTERVAL_MS, N in all, never freed: a steady leak.
 *   sawtooth  N mmaps INTERVAL_MS apart, then all munmapped at once, again
 *             and again: memory that is used and given back.
 *   sites     thread "leaker" mmaps a chunk every INTERVAL_MS (N in all)
 *             and keeps them; thread "churner" mmaps a chunk, holds it
 *             INTERVAL_MS / 2 and munmaps it, over and over.
 *
 * -b maps PAGES one-page mappings first and keeps them to the end (alternate
 * protections, so that the kernel cannot merge them): a big table for
 * memtraced to walk, at no cost in memory (they are never touched).
 *
 * Each mapping has its first page touched.  After SECONDS the program prints
 *   TRUTH {"mode":M,"mapped":N,"unmapped":N,"outstanding":N,"leaker":TID,
 *          "churner":TID}
 * (counts of chunks; tids 0 when unused), frees everything and exits 0.
 * Before starting it prints "READY" and flushes, so a test can time it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES 16781312UL
#define MAX_CHUNKS  1024

static long interval_ms = 1000, seconds = 30;
static int nchunks = 16;
static long ballast;
static void *held[MAX_CHUNKS];
static atomic_int nheld, mapped, unmapped, done;
static atomic_int leaker_tid, churner_tid;

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void *chunk_map(void)
{
	void *p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "leakshape: mmap: %s\n", strerror(errno));
		exit(1);
	}
	((char *)p)[0] = 1;
	mapped++;
	return p;
}

static void chunk_unmap(void *p)
{
	if (munmap(p, CHUNK_BYTES) != 0) {
		fprintf(stderr, "leakshape: munmap: %s\n", strerror(errno));
		exit(1);
	}
	unmapped++;
}

/* The leaking site: never frees what it maps. */
static __attribute__((noinline)) void leak_one(void)
{
	if (nheld < MAX_CHUNKS)
		held[nheld++] = chunk_map();
}

/* The churning site: maps, holds a moment, unmaps. */
static __attribute__((noinline)) void churn_one(void)
{
	void *p = chunk_map();

	nap_ms(interval_ms / 2);
	chunk_unmap(p);
}

static void *leaker(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "leaker");
	leaker_tid = (int)syscall(SYS_gettid);
	for (int i = 0; i < nchunks && !done; i++) {
		if (i)
			nap_ms(interval_ms);
		leak_one();
	}
	return NULL;
}

static void *churner(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "churner");
	churner_tid = (int)syscall(SYS_gettid);
	while (!done)
		churn_one();
	return NULL;
}

static void *sawtooth(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "sawtooth");
	while (!done) {
		for (int i = 0; i < nchunks && !done; i++) {
			leak_one();
			nap_ms(interval_ms);
		}
		while (nheld > 0)
			chunk_unmap(held[--nheld]);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	pthread_t th[2];
	int nth = 0, c;

	optind = 2;
	while ((c = getopt(argc, argv, "i:n:t:b:")) != -1) {
		if (c == 'b')
			ballast = atol(optarg);
		else if (c == 'i')
			interval_ms = atol(optarg);
		else if (c == 'n')
			nchunks = atoi(optarg);
		else if (c == 't')
			seconds = atol(optarg);
		else
			return 2;
	}
	if (nchunks < 1 || nchunks > MAX_CHUNKS || interval_ms < 2 || seconds < 1 || ballast < 0) {
		fprintf(stderr, "leakshape: bad arguments\n");
		return 2;
	}
	for (long i = 0; i < ballast; i++)
		if (mmap(NULL, 4096, i & 1 ? PROT_READ : PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) {
			fprintf(stderr, "leakshape: ballast mmap %ld: %s\n", i, strerror(errno));
			return 1;
		}
	printf("READY\n");
	fflush(stdout);
	if (!strcmp(mode, "steady")) {
		pthread_create(&th[nth++], NULL, leaker, NULL);
	} else if (!strcmp(mode, "sawtooth")) {
		pthread_create(&th[nth++], NULL, sawtooth, NULL);
	} else if (!strcmp(mode, "sites")) {
		pthread_create(&th[nth++], NULL, leaker, NULL);
		pthread_create(&th[nth++], NULL, churner, NULL);
	} else {
		fprintf(stderr, "usage: leakshape steady|sawtooth|sites [-i MS] [-n N] [-t S] [-b PAGES]\n");
		return 2;
	}
	nap_ms(seconds * 1000);
	done = 1;
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	printf("TRUTH {\"mode\":\"%s\",\"mapped\":%d,\"unmapped\":%d,\"outstanding\":%d,"
	       "\"leaker\":%d,\"churner\":%d}\n",
	       mode, (int)mapped, (int)unmapped, (int)nheld, (int)leaker_tid, (int)churner_tid);
	fflush(stdout);
	while (nheld > 0)
		chunk_unmap(held[--nheld]);
	return 0;
}
