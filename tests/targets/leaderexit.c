/*
 * leaderexit: the main thread leaves with pthread_exit() while a worker
 * goes on, so the process lives on with a zombie leader.
 *
 * usage: leaderexit [-l LEADER_MS] [-w WORKER_MS] [-c] [-x PROGRAM]
 *        (defaults 500 and 3000)
 * With -c the worker maps one chunk-sized block (16781312 bytes, as glibc
 * maps a 16 MiB malloc) at once and another halfway through its time,
 * touches the first page of each and keeps both.  The worker prints
 * "TRUTH {\"worker\":\"done\"}" when it ends, with -c adding the two
 * addresses ("chunks":[a,b], decimal); the process then exits 0.  With
 * -x the worker instead execs PROGRAM (no arguments) halfway through its
 * time: a non-leader exec, after which PROGRAM runs as the whole process.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK 16781312UL

static int worker_ms = 3000, chunks;
static const char *program;

static void *map_chunk(void)
{
	void *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("leaderexit: mmap");
		exit(1);
	}
	memset(p, 1, 4096);
	return p;
}

static void *worker(void *arg)
{
	void *a = NULL, *b = NULL;

	if (chunks)
		a = map_chunk();
	for (int i = 0; i < worker_ms / 10; i++) {
		if (chunks && i == worker_ms / 20)
			b = map_chunk();
		if (program && i == worker_ms / 20) {
			execl(program, program, (char *)NULL);
			perror("leaderexit: execl");
			exit(1);
		}
		usleep(10000);
	}
	if (chunks)
		printf("TRUTH {\"worker\":\"done\",\"chunks\":[%lu,%lu]}\n", (unsigned long)a,
		       (unsigned long)b);
	else
		printf("TRUTH {\"worker\":\"done\"}\n");
	fflush(stdout);
	return arg;
}

int main(int argc, char **argv)
{
	int leader_ms = 500, opt;
	pthread_t t;

	while ((opt = getopt(argc, argv, "l:w:cx:")) != -1) {
		switch (opt) {
		case 'l': leader_ms = atoi(optarg); break;
		case 'w': worker_ms = atoi(optarg); break;
		case 'c': chunks = 1; break;
		case 'x': program = optarg; break;
		default:
			fprintf(stderr, "usage: leaderexit [-l LEADER_MS] [-w WORKER_MS] [-c] [-x PROGRAM]\n");
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
