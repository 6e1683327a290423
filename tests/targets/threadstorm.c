/*
 * threadstorm: lots of short-lived threads (clone/exit churn for the tracer).
 *
 * usage: threadstorm [-n THREADS] [-c CONCURRENT] [-m] [-d NAP_MS]
 *        (defaults -n 2000 -c 50)
 *
 * Creates THREADS threads in batches of CONCURRENT, joining each batch before
 * starting the next.  With -m each thread mmaps 64 KiB (anonymous RW), writes
 * to it and munmaps it; otherwise each thread only calls getppid() 3 times.
 * Prints: TRUTH {"threads":N,"mmaps":K,"concurrent":C}
 * where K is the number of mmap+munmap pairs the threads performed.
 *
 * With -d, threads are detached instead and created one every 100 us
 * without end; each naps NAP_MS in 2 ms slices (so it is seen running if it
 * escapes a stop of the process), then does its work and exits.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAP_BYTES (64 * 1024)

static int do_mmap;
static int nap_ms;
static int mmaps;  /* updated atomically */
static int ran;    /* threads that actually ran */

static void *worker(void *arg)
{
	struct timespec slice = {0, 2000000};

	for (int i = 0; i < nap_ms / 2; i++)
		nanosleep(&slice, NULL);
	if (do_mmap) {
		char *p = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			fprintf(stderr, "threadstorm: mmap: %s\n", strerror(errno));
			exit(1);
		}
		p[0] = 1;
		p[MAP_BYTES - 1] = 2;
		if (munmap(p, MAP_BYTES) != 0) {
			fprintf(stderr, "threadstorm: munmap: %s\n", strerror(errno));
			exit(1);
		}
		__atomic_fetch_add(&mmaps, 1, __ATOMIC_RELAXED);
	} else {
		for (int i = 0; i < 3; i++)
			(void)getppid();
	}
	__atomic_fetch_add(&ran, 1, __ATOMIC_RELAXED);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = 2000, conc = 50, opt;

	while ((opt = getopt(argc, argv, "n:c:md:")) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 'c': conc = atoi(optarg); break;
		case 'm': do_mmap = 1; break;
		case 'd': nap_ms = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: threadstorm [-n THREADS] [-c CONCURRENT] [-m] "
					"[-d NAP_MS]\n");
			return 2;
		}
	}
	if (n < 0 || conc < 1 || nap_ms < 0) {
		fprintf(stderr, "threadstorm: bad arguments\n");
		return 2;
	}
	alarm(120);
	if (nap_ms) {
		pthread_attr_t at;

		pthread_attr_init(&at);
		pthread_attr_setstacksize(&at, 64 << 10);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		for (;;) {
			pthread_t t;
			int rc = pthread_create(&t, &at, worker, NULL);

			if (rc && rc != EAGAIN) {
				fprintf(stderr, "threadstorm: pthread_create: %s\n", strerror(rc));
				return 1;
			}
			usleep(100);
		}
	}

	pthread_t *tids = calloc(conc, sizeof(*tids));
	if (!tids) {
		perror("threadstorm: calloc");
		return 1;
	}
	for (int done = 0; done < n;) {
		int batch = n - done < conc ? n - done : conc;
		for (int i = 0; i < batch; i++) {
			int rc = pthread_create(&tids[i], NULL, worker, NULL);
			if (rc) {
				fprintf(stderr, "threadstorm: pthread_create #%d: %s\n",
					done + i, strerror(rc));
				return 1;
			}
		}
		for (int i = 0; i < batch; i++) {
			int rc = pthread_join(tids[i], NULL);
			if (rc) {
				fprintf(stderr, "threadstorm: pthread_join: %s\n", strerror(rc));
				return 1;
			}
		}
		done += batch;
	}
	int nran = __atomic_load_n(&ran, __ATOMIC_RELAXED);
	if (nran != n) {
		fprintf(stderr, "threadstorm: %d of %d threads ran\n", nran, n);
		return 1;
	}
	printf("TRUTH {\"threads\":%d,\"mmaps\":%d,\"concurrent\":%d}\n",
	       nran, __atomic_load_n(&mmaps, __ATOMIC_RELAXED), conc);
	return fflush(stdout) == 0 ? 0 : 1;
}
