/*
 * chunk: 2 threads, each mmaps and munmaps a 16781312-byte region (what
 * glibc's malloc(16 MiB) maps) N times.  Every iteration is two traced
 * memory syscalls; nothing else happens.
 * usage: chunk N
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define CHUNK_BYTES 16781312UL
#define NTHREADS 2

static long iters;

static void *worker(void *arg)
{
	(void)arg;
	for (long i = 0; i < iters; i++) {
		void *p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED || munmap(p, CHUNK_BYTES) != 0) {
			perror("chunk: mmap/munmap");
			exit(1);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[NTHREADS];

	if (argc != 2 || (iters = atol(argv[1])) < 0) {
		fprintf(stderr, "usage: chunk N\n");
		return 2;
	}
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0) {
			fprintf(stderr, "chunk: pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	return 0;
}
