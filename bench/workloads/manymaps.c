/*
 * manymaps: hold N one-page anonymous mappings, then keep mapping and
 * unmapping one more while timing each call.
 * usage: manymaps N
 *
 * The N pages are mapped with alternating protections so that the kernel
 * cannot merge them (N is bounded by vm.max_map_count).  It prints "ready"
 * when they are all mapped, then loops mmap + munmap of one page, keeping
 * the longest single call; each line "report" on stdin is answered with
 * "max_call_us N calls N" and starts a new measurement; end of input exits.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000, calls = 0;
	long long worst = 0;
	char line[64];

	for (long i = 0; i < n; i++)
		if (mmap(NULL, 4096, i & 1 ? PROT_READ : PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) {
			perror("manymaps: mmap");
			return 1;
		}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p = {0, POLLIN, 0};
		long long t0 = now_ns(), t;
		void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED || munmap(m, 4096) < 0) {
			perror("manymaps: mmap/munmap");
			return 1;
		}
		t = now_ns() - t0;
		calls++;
		if (t > worst)
			worst = t;
		if (poll(&p, 1, 0) > 0) {
			if (!fgets(line, sizeof(line), stdin))
				return 0;
			printf("max_call_us %lld calls %ld\n", worst / 1000, calls);
			fflush(stdout);
			worst = 0;
			calls = 0;
		}
		usleep(200);
	}
}
