/*
 * threads: a thread create/join storm.  N threads in all, created in
 * waves of CONCURRENT; each does a little work and exits.  glibc caches
 * thread stacks, so most creations make no memory syscall: the cost under
 * a tracer is the clone/exit bookkeeping.
 * usage: threads N
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define CONCURRENT 4

static void *worker(void *arg)
{
	volatile unsigned long x = (unsigned long)arg;

	for (int i = 0; i < 1000; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	return (void *)(unsigned long)x;
}

int main(int argc, char **argv)
{
	pthread_t t[CONCURRENT];
	long total, done = 0;

	if (argc != 2 || (total = atol(argv[1])) < 0) {
		fprintf(stderr, "usage: threads N\n");
		return 2;
	}
	while (done < total) {
		int n = total - done < CONCURRENT ? (int)(total - done) : CONCURRENT;

		for (int i = 0; i < n; i++)
			if (pthread_create(&t[i], NULL, worker, (void *)(done + i)) != 0) {
				fprintf(stderr, "threads: pthread_create failed\n");
				return 1;
			}
		for (int i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		done += n;
	}
	return 0;
}
