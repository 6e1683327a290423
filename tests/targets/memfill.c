/*
 * memfill: mappings with known contents and known resident pages, for the
 * peek and residency tests (test_peek.py).
 *
 * usage: memfill [-w GOFILE]
 *
 * All mappings are anonymous and private; a PROT_NONE page is mapped
 * right below or above each chunk (MAP_FIXED_NOREPLACE) so that no two
 * chunks merge into one kernel VMA, and
 * transparent huge pages are turned off for the chunks (MADV_NOHUGEPAGE)
 * so that residency is counted in 4 KiB pages.
 *
 *   p: mmap(16781312), a chunk; only its first page is written:
 *        [0, 960)      "HELLO-MEMTRACE-" 64 times
 *        [960, 1024)   zero
 *        [1024, 1028)  time(NULL), uint32, little-endian
 *        [2048, 2056)  CLOCK_REALTIME in milliseconds, uint64
 *        [3000, 3019)  "SECRET-TOKEN=ABC123"
 *        the rest      zero
 *   t: malloc(16 MiB) (mmap threshold pinned at 128 KiB, as memtraced
 *      does), a chunk; pages 0..99 of it are written (the first also
 *      holds glibc's 16-byte header): 100 resident pages
 *   u: malloc(16 MiB), a chunk, never written by us (glibc writes its
 *      header: 1 resident page)
 *   r: mmap(16781312), a chunk whose pages 0..49 are only read, never
 *      written (each read maps the shared zero page: not resident by the
 *      kernel's count, smaps Rss 0)
 *   s: mmap(2 pages), "SMALLMAP" over both pages
 *   e: mmap(3 pages), page 1 "EDGE" over the whole page, page 2 then made
 *      PROT_NONE (mprotect), page 0 untouched
 *
 * Then it prints
 *   TRUTH {"p":A,"t":A,"u":A,"r":A,"s":A,"e":A,"time_s":S,"time_ms":MS,
 *          "touched":100,"read":50,"sum":N,"page":4096,"chunk":16781312}
 * ("sum": the bytes read from r, so the reads cannot be optimized away)
 * (addresses decimal; t and u are the mapping starts, malloc's pointer -
 * 16) and, with -w, waits (up to 60 s) until GOFILE exists.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES 16781312UL
#define TOUCHED 100
#define READ 50

static long pagesz;

static void die(const char *what)
{
	fprintf(stderr, "memfill: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *map(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static void no_thp(void *start, size_t len)
{
	if (madvise(start, len, MADV_NOHUGEPAGE) != 0 && errno != EINVAL)
		die("madvise");
}

/* A PROT_NONE page right next to [START, START + LEN), below if free, else above. */
static void guard(void *start, size_t len)
{
	char *at[2] = {(char *)start - pagesz, (char *)start + len};

	for (int i = 0; i < 2; i++) {
		void *g = mmap(at[i], (size_t)pagesz, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (g == at[i])
			return;
		if (g != MAP_FAILED)
			munmap(g, (size_t)pagesz);
	}
	die("no room for a guard page next to a chunk");
}

/* A chunk from malloc, with its mapping start in *MAPSTART. */
static char *malloc_chunk(unsigned long *mapstart)
{
	char *p = malloc(16UL << 20);

	if (!p)
		die("malloc");
	*mapstart = (unsigned long)p - 16;
	if (*mapstart % pagesz)
		die("malloc chunk not at a page start + 16");
	no_thp((void *)*mapstart, CHUNK_BYTES);
	guard((void *)*mapstart, CHUNK_BYTES);
	return p;
}

static void fill(char *dst, size_t len, const char *pat)
{
	size_t n = strlen(pat);

	for (size_t i = 0; i < len; i++)
		dst[i] = pat[i % n];
}

int main(int argc, char **argv)
{
	const char *go = NULL;
	unsigned long t_start, u_start;
	struct timespec now;
	uint32_t secs;
	uint64_t ms;
	char *p, *t, *s, *e, *r;
	unsigned long sum = 0;
	int opt;

	while ((opt = getopt(argc, argv, "w:")) != -1) {
		if (opt != 'w') {
			fprintf(stderr, "usage: memfill [-w GOFILE]\n");
			return 2;
		}
		go = optarg;
	}
	alarm(120);
	pagesz = sysconf(_SC_PAGESIZE);
	if (!mallopt(M_MMAP_THRESHOLD, 131072))
		die("mallopt");
	free(malloc(1));

	p = map(CHUNK_BYTES, PROT_READ | PROT_WRITE);
	no_thp(p, CHUNK_BYTES);
	guard(p, CHUNK_BYTES);
	for (int i = 0; i < 64; i++)
		memcpy(p + 15 * i, "HELLO-MEMTRACE-", 15);
	secs = (uint32_t)time(NULL);
	clock_gettime(CLOCK_REALTIME, &now);
	ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	memcpy(p + 1024, &secs, sizeof(secs));
	memcpy(p + 2048, &ms, sizeof(ms));
	memcpy(p + 3000, "SECRET-TOKEN=ABC123", 19);

	t = malloc_chunk(&t_start);
	for (int i = 0; i < TOUCHED; i++)
		t[(size_t)i * pagesz] = 'T';

	malloc_chunk(&u_start);

	r = map(CHUNK_BYTES, PROT_READ | PROT_WRITE);
	no_thp(r, CHUNK_BYTES);
	guard(r, CHUNK_BYTES);
	for (int i = 0; i < READ; i++)
		sum += (unsigned char)((volatile char *)r)[(size_t)i * pagesz];

	s = map(2 * (size_t)pagesz, PROT_READ | PROT_WRITE);
	fill(s, 2 * (size_t)pagesz, "SMALLMAP");

	e = map(3 * (size_t)pagesz, PROT_READ | PROT_WRITE);
	fill(e + pagesz, (size_t)pagesz, "EDGE");
	if (mprotect(e + 2 * pagesz, (size_t)pagesz, PROT_NONE) != 0)
		die("mprotect");

	printf("TRUTH {\"p\":%lu,\"t\":%lu,\"u\":%lu,\"r\":%lu,\"s\":%lu,\"e\":%lu,"
	       "\"time_s\":%u,\"time_ms\":%llu,\"touched\":%d,\"read\":%d,\"sum\":%lu,"
	       "\"page\":%ld,\"chunk\":%lu}\n",
	       (unsigned long)p, t_start, u_start, (unsigned long)r, (unsigned long)s,
	       (unsigned long)e, secs, (unsigned long long)ms, TOUCHED, READ, sum, pagesz,
	       CHUNK_BYTES);
	if (fflush(stdout) != 0)
		die("fflush");
	if (go) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		alarm(0);
		for (int i = 0; i < 6000 && access(go, F_OK) != 0; i++)
			nanosleep(&ts, NULL);
	}
	return 0;
}
