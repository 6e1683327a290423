/*
 * getppid: 2 threads, created after the program has started, that never
 * map memory: each calls getppid() N times.  Under a tracer whose filter
 * stops only memory syscalls this should cost no more than the seccomp
 * filter itself (the "filter floor").
 * usage: getppid N
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NTHREADS 2

static long iters;
static volatile long sink;

static void *worker(void *arg)
{
	long acc = 0;

	(void)arg;
	for (long i = 0; i < iters; i++)
		acc += syscall(SYS_getppid);
	sink += acc;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[NTHREADS];

	if (argc != 2 || (iters = atol(argv[1])) < 0) {
		fprintf(stderr, "usage: getppid N\n");
		return 2;
	}
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0) {
			fprintf(stderr, "getppid: pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	return 0;
}
