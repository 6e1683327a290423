/*
 * chunks: multi-threaded "malloc(16 MiB)"-sized mmap/munmap churn plus the
 * exact-interval edge cases a mapping table must get right.
 *
 * usage: chunks [-t THREADS] [-n CHUNKS_PER_THREAD] [-f FREE_EVERY] [-p]
 *        (defaults -t 2 -n 8 -f 4; -f 0 frees nothing)
 *
 * Each thread (named evloop-%d) mmaps CHUNKS anonymous RW regions of
 * 16781312 bytes (what glibc's malloc(16 MiB) maps), writes a byte to each of
 * the first 4 pages, and munmaps chunk i right away when (i+1) % FREE_EVERY
 * == 0.  The main thread, on its own non-chunk mappings (P = page size):
 *   split:    mmap 10P, munmap pages 4-5        -> [a,4P] [a+6P,4P]
 *   mprotect: mmap 8P, page 3 -> PROT_NONE      -> [b,3P] [b+3P,P] [b+4P,4P]
 *   grown:    mmap 4P, mremap MAYMOVE to 64P    -> [c',64P]
 *   shrunk:   mmap 16P, mremap to 4P            -> [d,4P]
 *   fixed:    mmap 10P, MAP_FIXED PROT_READ 3P at +3P
 *                                               -> [e,3P] [e+3P,3P] [e+6P,4P]
 * All of these stay mapped.  Prints one line:
 *   TRUTH {"chunks_outstanding":N,"chunk_bytes":N*16781312,"chunks_mapped":M,
 *          "chunks_unmapped":U,"threads":T,"page_size":P,
 *          "regions":[[start,len],...],"edge":{...}}
 * "regions" lists every mapping the program itself still holds (chunks first,
 * then the edge pieces as the kernel now splits them), decimal.  "edge" names
 * the edge pieces.  Note that /proc/PID/maps may merge adjacent pieces that
 * have equal protections (e.g. neighbouring chunks).
 * With -p, after printing TRUTH it stops itself with SIGSTOP and exits 0 once
 * SIGCONT arrives.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK_BYTES 16781312UL /* 16 MiB + 4 KiB */
#define TOUCH_PAGES 4

struct worker {
	pthread_t tid;
	int idx;
	unsigned long *kept; /* start addresses of outstanding chunks */
	int nkept;
	int nunmapped;
};

static int nchunks = 8, free_every = 4;
static long pagesz;

static void die(const char *what)
{
	fprintf(stderr, "chunks: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *map_anon(void *addr, size_t len, int prot, int extra)
{
	void *p = mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "evloop-%d", w->idx);
	int rc = pthread_setname_np(pthread_self(), name);
	if (rc) {
		errno = rc;
		die("pthread_setname_np");
	}
	for (int i = 0; i < nchunks; i++) {
		char *p = map_anon(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, 0);
		for (int pg = 0; pg < TOUCH_PAGES; pg++)
			p[pg * pagesz] = (char)(i + 1);
		if (free_every > 0 && (i + 1) % free_every == 0) {
			if (munmap(p, CHUNK_BYTES) != 0)
				die("munmap chunk");
			w->nunmapped++;
		} else {
			w->kept[w->nkept++] = (unsigned long)p;
		}
	}
	return NULL;
}

static void print_pair(unsigned long start, unsigned long len, int *first)
{
	printf("%s[%lu,%lu]", *first ? "" : ",", start, len);
	*first = 0;
}

int main(int argc, char **argv)
{
	int nthreads = 2, stop = 0, opt;

	while ((opt = getopt(argc, argv, "t:n:f:p")) != -1) {
		switch (opt) {
		case 't': nthreads = atoi(optarg); break;
		case 'n': nchunks = atoi(optarg); break;
		case 'f': free_every = atoi(optarg); break;
		case 'p': stop = 1; break;
		default:
			fprintf(stderr, "usage: chunks [-t THREADS] [-n CHUNKS] [-f FREE_EVERY] [-p]\n");
			return 2;
		}
	}
	if (nthreads < 1 || nchunks < 0 || free_every < 0) {
		fprintf(stderr, "chunks: bad arguments\n");
		return 2;
	}
	alarm(60);
	pagesz = sysconf(_SC_PAGESIZE);
	if (pagesz <= 0)
		die("sysconf");
	unsigned long P = (unsigned long)pagesz;

	struct worker *ws = calloc(nthreads, sizeof(*ws));
	if (!ws)
		die("calloc");
	for (int t = 0; t < nthreads; t++) {
		ws[t].idx = t;
		ws[t].kept = calloc(nchunks + 1, sizeof(unsigned long));
		if (!ws[t].kept)
			die("calloc");
		int rc = pthread_create(&ws[t].tid, NULL, worker_main, &ws[t]);
		if (rc) {
			errno = rc;
			die("pthread_create");
		}
	}

	/* split: munmap the middle 2 of 10 pages */
	char *a = map_anon(NULL, 10 * P, PROT_READ | PROT_WRITE, 0);
	if (munmap(a + 4 * P, 2 * P) != 0)
		die("munmap split");
	/* mprotect one page in the middle of 8 */
	char *b = map_anon(NULL, 8 * P, PROT_READ | PROT_WRITE, 0);
	if (mprotect(b + 3 * P, P, PROT_NONE) != 0)
		die("mprotect");
	/* mremap grow 4 -> 64 pages, may move */
	char *c0 = map_anon(NULL, 4 * P, PROT_READ | PROT_WRITE, 0);
	c0[0] = 1;
	char *c = mremap(c0, 4 * P, 64 * P, MREMAP_MAYMOVE);
	if (c == MAP_FAILED)
		die("mremap grow");
	if (c[0] != 1) {
		fprintf(stderr, "chunks: mremap lost contents\n");
		return 1;
	}
	/* mremap shrink 16 -> 4 pages, in place */
	char *d = map_anon(NULL, 16 * P, PROT_READ | PROT_WRITE, 0);
	if (mremap(d, 16 * P, 4 * P, 0) != d)
		die("mremap shrink");
	/* MAP_FIXED 3 read-only pages over the middle of 10 */
	char *e = map_anon(NULL, 10 * P, PROT_READ | PROT_WRITE, 0);
	if (map_anon(e + 3 * P, 3 * P, PROT_READ, MAP_FIXED) != e + 3 * P) {
		fprintf(stderr, "chunks: MAP_FIXED landed elsewhere\n");
		return 1;
	}

	int outstanding = 0, unmapped = 0;
	for (int t = 0; t < nthreads; t++) {
		int rc = pthread_join(ws[t].tid, NULL);
		if (rc) {
			errno = rc;
			die("pthread_join");
		}
		outstanding += ws[t].nkept;
		unmapped += ws[t].nunmapped;
	}

	unsigned long A = (unsigned long)a, B = (unsigned long)b,
		      C = (unsigned long)c, D = (unsigned long)d,
		      E = (unsigned long)e;
	unsigned long edge[][2] = {
		{A, 4 * P}, {A + 6 * P, 4 * P},                 /* split */
		{B, 3 * P}, {B + 3 * P, P}, {B + 4 * P, 4 * P}, /* mprotect */
		{C, 64 * P},                                    /* grown */
		{D, 4 * P},                                     /* shrunk */
		{E, 3 * P}, {E + 3 * P, 3 * P}, {E + 6 * P, 4 * P}, /* fixed */
	};
	int first = 1;

	printf("TRUTH {\"chunks_outstanding\":%d,\"chunk_bytes\":%lu,"
	       "\"chunks_mapped\":%d,\"chunks_unmapped\":%d,\"threads\":%d,"
	       "\"page_size\":%lu,\"regions\":[",
	       outstanding, (unsigned long)outstanding * CHUNK_BYTES,
	       outstanding + unmapped, unmapped, nthreads, P);
	for (int t = 0; t < nthreads; t++)
		for (int i = 0; i < ws[t].nkept; i++)
			print_pair(ws[t].kept[i], CHUNK_BYTES, &first);
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		print_pair(edge[i][0], edge[i][1], &first);
	printf("],\"edge\":{\"split\":[[%lu,%lu],[%lu,%lu]],"
	       "\"mprotect\":[[%lu,%lu],[%lu,%lu],[%lu,%lu]],"
	       "\"grown\":[%lu,%lu],\"grown_from\":[%lu,%lu],\"shrunk\":[%lu,%lu],"
	       "\"fixed\":[[%lu,%lu],[%lu,%lu],[%lu,%lu]]}}\n",
	       edge[0][0], edge[0][1], edge[1][0], edge[1][1],
	       edge[2][0], edge[2][1], edge[3][0], edge[3][1], edge[4][0], edge[4][1],
	       C, 64 * P, (unsigned long)c0, 4 * P, D, 4 * P,
	       edge[7][0], edge[7][1], edge[8][0], edge[8][1], edge[9][0], edge[9][1]);
	if (fflush(stdout) != 0)
		die("fflush");

	if (stop) {
		alarm(0); /* stays stopped as long as the test wants */
		if (raise(SIGSTOP) != 0)
			die("raise");
	}
	return 0;
}
