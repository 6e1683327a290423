/*
 * holdmem: hold memory with known resident pages, and time its own stalls.
 *
 * usage: holdmem [-c CHUNKS] [-r MIB] [-t PERMILLE]
 *        (defaults -c 0 -r 0 -t 0)
 *
 * With glibc's mmap threshold pinned at 128 KiB, it mallocs CHUNKS blocks of
 * 16 MiB (glibc mmaps each: 16781312 bytes, its header written in the first
 * page, nothing else touched), then reserves MIB MiB of anonymous read-write
 * memory with MAP_NORESERVE and writes one byte into every page of the first
 * PERMILLE thousandths of it.  A clock thread then sleeps 1 ms at a time and
 * keeps the longest time one round took: how long the process was held.
 * It prints, once everything is in place and the clock has run a few
 * rounds (so that its pages are resident and the Rss holds still),
 *   TRUTH {"pid":P,"chunks":[start,...],"chunk_len":16781312,
 *          "reserve":[start,length],"touched_pages":N}
 * ("chunks": the malloc pointers less the 16-byte header) and then reads
 * commands from stdin, one a line:
 *   gap    print TRUTH {"max_gap_us":N} and start a new measurement
 *   exit   exit 0 (so does the end of input)
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHUNKS 64

static atomic_llong max_gap_ns;
static atomic_int rounds;
static char inbuf[4096];

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *clock_loop(void *arg)
{
	struct timespec ms = {0, 1000000};
	long long last = now_ns();

	(void)arg;
	for (;;) {
		long long t;

		nanosleep(&ms, NULL);
		t = now_ns();
		if (t - last > atomic_load(&max_gap_ns))
			atomic_store(&max_gap_ns, t - last);
		last = t;
		atomic_fetch_add(&rounds, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long nchunks = 0, mib = 0, permille = 0, touched = 0;
	char *chunks[MAX_CHUNKS], line[64];
	char *reserve = NULL;
	size_t rlen;
	pthread_t th;
	int c;

	while ((c = getopt(argc, argv, "c:r:t:")) != -1) {
		switch (c) {
		case 'c': nchunks = atol(optarg); break;
		case 'r': mib = atol(optarg); break;
		case 't': permille = atol(optarg); break;
		default:
			fprintf(stderr, "usage: holdmem [-c CHUNKS] [-r MIB] [-t PERMILLE]\n");
			return 2;
		}
	}
	if (nchunks < 0 || nchunks > MAX_CHUNKS || mib < 0 || permille < 0 || permille > 1000) {
		fprintf(stderr, "holdmem: bad argument\n");
		return 2;
	}
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	for (long i = 0; i < nchunks; i++)
		if (!(chunks[i] = malloc(16 << 20))) {
			perror("malloc");
			return 1;
		}
	rlen = (size_t)mib << 20;
	if (rlen) {
		reserve = mmap(NULL, rlen, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (reserve == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		for (size_t off = 0; off < rlen / 1000 * (size_t)permille; off += 4096, touched++)
			reserve[off] = 1;
	}
	if ((errno = pthread_create(&th, NULL, clock_loop, NULL))) {
		perror("pthread_create");
		return 1;
	}
	/* Every page the loop and stdio use is in place before anyone measures. */
	setvbuf(stdin, inbuf, _IOLBF, sizeof(inbuf));
	while (atomic_load(&rounds) < 3)
		usleep(1000);
	atomic_store(&max_gap_ns, 0);
	printf("TRUTH {\"pid\":%d,\"chunks\":[", (int)getpid());
	for (long i = 0; i < nchunks; i++)
		printf("%s%lu", i ? "," : "", (unsigned long)(chunks[i] - 16));
	printf("],\"chunk_len\":16781312,\"reserve\":[%lu,%zu],\"touched_pages\":%ld}\n",
	       (unsigned long)reserve, rlen, touched);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (!strcmp(line, "gap\n")) {
			printf("TRUTH {\"max_gap_us\":%lld}\n", atomic_exchange(&max_gap_ns, 0) / 1000);
			fflush(stdout);
		} else if (!strcmp(line, "exit\n")) {
			break;
		}
	}
	return 0;
}
