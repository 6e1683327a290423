/*
 * leaderexit: the main thread leaves with pthread_exit() while a worker
 * goes on, so the process lives on with a zombie leader.
 *
 * usage: leaderexit [-l LEADER_MS] [-w WORKER_MS]   (defaults 500 and 3000)
 * The worker prints "TRUTH {\"worker\":\"done\"}" when it ends; the process
 * then exits 0.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int worker_ms = 3000;

static void *worker(void *arg)
{
	for (int i = 0; i < worker_ms / 10; i++)
		usleep(10000);
	printf("TRUTH {\"worker\":\"done\"}\n");
	fflush(stdout);
	return arg;
}

int main(int argc, char **argv)
{
	int leader_ms = 500, opt;
	pthread_t t;

	while ((opt = getopt(argc, argv, "l:w:")) != -1) {
		switch (opt) {
		case 'l': leader_ms = atoi(optarg); break;
		case 'w': worker_ms = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: leaderexit [-l LEADER_MS] [-w WORKER_MS]\n");
			return 2;
		}
	}
	if (pthread_create(&t, NULL, worker, NULL)) {
		perror("leaderexit: pthread_create");
		return 1;
	}
	usleep((useconds_t)leader_ms * 1000);
	pthread_exit(NULL);
}
