/*
 * maplimit: mmaps that fail at the address-space limit.
 *
 * usage: maplimit [CHUNKS [TRIES]]   (defaults 5 and 50)
 *
 * It sets its own RLIMIT_AS to its VmSize plus CHUNKS chunks (16781312
 * bytes each, what glibc maps for malloc(16 MiB)) and 1 MiB, then mmaps
 * chunks until one fails, and TRIES more times after that, every one of
 * which fails.  It prints
 *   TRUTH {"mapped":N,"failed":F,"errno":E,"chunks":[addr,...]}
 * (addresses decimal), holds the chunks until its stdin reaches end of
 * file, then exits 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define CHUNK 16781312UL
#define MAX_CHUNKS 64

static char outbuf[1 << 16];

/* VmSize of this process, bytes. */
static unsigned long vm_size(void)
{
	char line[256];
	unsigned long kb = 0;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %lu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

int main(int argc, char **argv)
{
	int want = argc > 1 ? atoi(argv[1]) : 5, tries = argc > 2 ? atoi(argv[2]) : 50;
	void *chunks[MAX_CHUNKS];
	int n = 0, failed = 0, err = 0;
	struct rlimit rl;
	char c;

	if (want < 1 || want > MAX_CHUNKS - 8 || tries < 1) {
		fprintf(stderr, "usage: maplimit [CHUNKS [TRIES]]\n");
		return 2;
	}
	/* No allocation from here on: stdout's buffer is ours. */
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	alarm(120);
	rl.rlim_cur = rl.rlim_max = vm_size() + want * CHUNK + (1UL << 20);
	if (setrlimit(RLIMIT_AS, &rl) != 0) {
		perror("maplimit: setrlimit");
		return 1;
	}
	while (n < MAX_CHUNKS) {
		void *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			err = errno;
			failed++;
			break;
		}
		((char *)p)[0] = 1;
		chunks[n++] = p;
	}
	for (int i = 0; i < tries; i++) {
		if (mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) !=
		    MAP_FAILED) {
			fprintf(stderr, "maplimit: mmap past the limit succeeded\n");
			return 1;
		}
		failed++;
	}
	printf("TRUTH {\"mapped\":%d,\"failed\":%d,\"errno\":%d,\"chunks\":[", n, failed, err);
	for (int i = 0; i < n; i++)
		printf("%s%lu", i ? "," : "", (unsigned long)chunks[i]);
	printf("]}\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
