/*
 * mapburst: a burst of small mmaps and munmaps, more than a small event
 * ring holds.
 *
 * usage: mapburst [ROUNDS]   (default 2000)
 *
 * Each round mmaps an anonymous region of 1 to 4 pages (read-write, or
 * read-only every fifth) and munmaps the one mapped two rounds before
 * unless that round's number is a multiple of 3, so about a third stay.
 * It then prints
 *   TRUTH {"mmaps":R,"munmaps":U,"kept":K}
 * and holds what it kept until its stdin reaches end of file, then exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 2000, unmapped = 0;
	long page = sysconf(_SC_PAGESIZE);
	void **maps;
	size_t *lens;
	char c;

	if (rounds < 3 || !(maps = calloc((size_t)rounds, sizeof(*maps))) ||
	    !(lens = calloc((size_t)rounds, sizeof(*lens)))) {
		fprintf(stderr, "usage: mapburst [ROUNDS >= 3]\n");
		return 2;
	}
	alarm(120);
	for (int i = 0; i < rounds; i++) {
		int prot = i % 5 == 4 ? PROT_READ : PROT_READ | PROT_WRITE;

		lens[i] = (size_t)(1 + i % 4) * (size_t)page;
		maps[i] = mmap(NULL, lens[i], prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (maps[i] == MAP_FAILED) {
			perror("mapburst: mmap");
			return 1;
		}
		if (i >= 2 && (i - 2) % 3 != 0) {
			if (munmap(maps[i - 2], lens[i - 2]) != 0) {
				perror("mapburst: munmap");
				return 1;
			}
			unmapped++;
		}
	}
	printf("TRUTH {\"mmaps\":%d,\"munmaps\":%d,\"kept\":%d}\n", rounds, unmapped,
	       rounds - unmapped);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
