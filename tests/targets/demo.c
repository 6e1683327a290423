/*
 * demo: the bundled `make demo` program, a leaking Netty-style buffer pool.
 *
 * usage: demo [-d SECONDS]   (default 40)
 *
 * Four event-loop threads (named nioEventLoop-%d) each loop twice a second:
 * malloc(16 MiB) (16777216 bytes; the app touches only the first page), a
 * few small mallocs, a short "processing" nap, then free everything -- except
 * that about 1 in 5 big buffers is leaked (kept in a global list).  So the
 * process grows steadily: ~1.3 leaked chunks (~20 MiB of mappings, one
 * touched page each) a second, about 54 chunks over the default 40 s.
 * The main thread prints one line a second, `demo: leaked N chunks (X MiB)`,
 * stops after SECONDS, and ends with TRUTH {"leaked":N,"chunk":16777216}
 * before exiting 0.
 *
 * glibc raises its mmap threshold after the first free() of a big block,
 * after which 16 MiB blocks would come from a heap arena instead of mmap.
 * memtraced pins the threshold in the target's environment
 * (MALLOC_MMAP_THRESHOLD_=131072) so every 16 MiB malloc stays an mmap (of
 * 16781312 bytes); run untraced, the demo leaks into arenas instead.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NLOOPS 4
#define CHUNK (16UL << 20)
#define MAX_LEAKS 4096

static void *leaks[MAX_LEAKS];
static int nleaked;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop;

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void *event_loop(void *arg)
{
	int idx = (int)(long)arg;
	unsigned seed = 12345u + idx;
	char name[16];

	snprintf(name, sizeof(name), "nioEventLoop-%d", idx);
	pthread_setname_np(pthread_self(), name);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		char *buf = malloc(CHUNK);
		if (!buf) {
			fprintf(stderr, "demo: malloc(16 MiB) failed\n");
			exit(1);
		}
		memset(buf, 0x5a, 4096); /* touch the first page only */
		char *small[4];
		for (int i = 0; i < 4; i++) {
			small[i] = malloc(64 + (rand_r(&seed) % 448));
			if (!small[i]) {
				fprintf(stderr, "demo: malloc failed\n");
				exit(1);
			}
			small[i][0] = (char)i;
		}
		nap_ms(20 + rand_r(&seed) % 30); /* "process" the request */
		for (int i = 0; i < 4; i++)
			free(small[i]);
		int leak = rand_r(&seed) % 5 == 0;
		pthread_mutex_lock(&lock);
		if (leak && nleaked < MAX_LEAKS) {
			leaks[nleaked++] = buf; /* forgotten release() */
			buf = NULL;
		}
		pthread_mutex_unlock(&lock);
		free(buf);
		nap_ms(450);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int seconds = 40, opt;
	pthread_t tids[NLOOPS];

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt == 'd' && atoi(optarg) > 0) {
			seconds = atoi(optarg);
		} else {
			fprintf(stderr, "usage: demo [-d SECONDS]\n");
			return 2;
		}
	}
	alarm(seconds + 60);
	for (long i = 0; i < NLOOPS; i++) {
		int rc = pthread_create(&tids[i], NULL, event_loop, (void *)i);
		if (rc) {
			fprintf(stderr, "demo: pthread_create: %s\n", strerror(rc));
			return 1;
		}
	}
	for (int s = 0; s < seconds; s++) {
		nap_ms(1000);
		pthread_mutex_lock(&lock);
		int n = nleaked;
		pthread_mutex_unlock(&lock);
		printf("demo: leaked %d chunks (%lu MiB)\n", n, n * (CHUNK >> 20));
		fflush(stdout);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < NLOOPS; i++) {
		int rc = pthread_join(tids[i], NULL);
		if (rc) {
			fprintf(stderr, "demo: pthread_join: %s\n", strerror(rc));
			return 1;
		}
	}
	printf("TRUTH {\"leaked\":%d,\"chunk\":%lu}\n", nleaked, CHUNK);
	return fflush(stdout) == 0 ? 0 : 1;
}
