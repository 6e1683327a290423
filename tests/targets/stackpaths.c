/*
 * stackpaths: chunks made along known, distinct call paths, for the stack
 * tests (test_stacks.py).
 *
 * usage: stackpaths [-a NA] [-b NB] [-l NL] [-s NS] [-r] [-t NT] [-u NU] [-L LIB]
 *                   [-W STARTFILE] [-w GOFILE]
 *   (defaults -a 3 -b 2 -l 1 -s 0 -u 0)
 *
 * Every function below is noipa: never inlined, cloned or turned into a
 * tail call, so each one is a frame of its own, with its own name, also at
 * -O2 -fomit-frame-pointer.
 *
 *   main -> leak_path_a -> alloc_chunk_a -> mmap(16781312)       NA times
 *   main -> leak_path_b -> alloc_chunk_b -> malloc(16 MiB)       NB times
 *        (the mmap threshold is pinned at 128 KiB with mallopt, as
 *         memtraced's MALLOC_MMAP_THRESHOLD_ does: each is one mmap of
 *         16781312 bytes)
 *   main -> leak_path_l -> alloc_large_l -> mmap(64 MiB)         NL times
 *   main -> small_path_s -> alloc_small_s -> mmap(4 pages)       NS times
 *   -r: main -> grow_path_r -> mremap(4 pages -> 16781312), the 4 pages
 *       mapped first by main -> seed_path_r -> mmap
 *   -u NU: the "munmap gap": main -> mark_path_x -> mmap(16781312) (X),
 *       then NU munmaps of small mappings (made before X) from
 *       unmap_depth(1..NU), each at a different recursion depth (so each
 *       has a stack of its own), then main -> mark_path_y -> mmap(16781312)
 *       (Y), with no other memory call in between.  Under --stacks all the
 *       stack ids of X and Y differ by NU + 1; when munmaps get no stack,
 *       by 1.
 *   -t NT: twin paths, NT rounds of
 *       main -> twin_path_p -> twin_alloc -> mmap(16781312), then
 *       main -> twin_path_q -> twin_alloc -> mmap(16781312):
 *       two callers of one function, alike but for where they store the
 *       address, so that the thread is at the same pc and, at -O2, the same
 *       stack pointer in mmap for both ("p" and "q" in TRUTH)
 *   -L LIB: after the above, dlopen(LIB), call its lib_alloc_chunks(2)
 *       (2 chunks, stay mapped), dlclose it, and report whether LIB's
 *       mappings are gone from /proc/self/maps.
 *
 * With -W, it prints "READY" and waits (up to 60 s) until STARTFILE exists
 * before any of the above (for attaching, or deleting the binary first).
 *
 * The touched pages are the first one of each chunk.  Then it prints
 *   TRUTH {"a":[addr,...],"b":[...],"l":[...],"s":[...],"r":[...],"p":[...],"q":[...],
 *          "x":addr,"y":addr,"lib":[...],"lib_unmapped":true|false,
 *          "chunk":16781312,"large":67108864}
 * (addresses decimal: "b" the mapping start, i.e. malloc's pointer - 16)
 * and, with -w, waits (up to 60 s) until GOFILE exists before exiting.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES 16781312UL /* what glibc maps for malloc(16 MiB) */
#define LARGE_BYTES (64UL << 20)
#define MAXN 64

#define PATHFN __attribute__((noipa))

static long pagesz;
static unsigned long a_addrs[MAXN], b_addrs[MAXN], l_addrs[MAXN], s_addrs[MAXN];
static unsigned long r_addr, x_addr, y_addr, lib_addrs[MAXN];
static unsigned long p_addrs[MAXN], q_addrs[MAXN];
static int nlib, lib_unmapped = -1;
static void *victims[MAXN];

static void die(const char *what)
{
	fprintf(stderr, "stackpaths: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void touch(void *p)
{
	*(volatile char *)p = 1;
}

PATHFN static void *alloc_chunk_a(void)
{
	void *p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap a");
	touch(p);
	return p;
}

PATHFN static void leak_path_a(int n)
{
	for (int i = 0; i < n; i++)
		a_addrs[i] = (unsigned long)alloc_chunk_a();
}

PATHFN static void *twin_alloc(void)
{
	void *p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap twin");
	touch(p);
	return p;
}

PATHFN static void twin_path_p(int i)
{
	p_addrs[i] = (unsigned long)twin_alloc();
}

PATHFN static void twin_path_q(int i)
{
	q_addrs[i] = (unsigned long)twin_alloc();
}

PATHFN static void *alloc_chunk_b(void)
{
	char *p = malloc(16UL << 20);

	if (!p)
		die("malloc b");
	touch(p);
	return p;
}

PATHFN static void leak_path_b(int n)
{
	for (int i = 0; i < n; i++)
		b_addrs[i] = (unsigned long)alloc_chunk_b() - 16;
}

PATHFN static void *alloc_large_l(void)
{
	void *p = mmap(NULL, LARGE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap l");
	touch(p);
	return p;
}

PATHFN static void leak_path_l(int n)
{
	for (int i = 0; i < n; i++)
		l_addrs[i] = (unsigned long)alloc_large_l();
}

PATHFN static void *alloc_small_s(void)
{
	void *p = mmap(NULL, 4 * pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap s");
	touch(p);
	return p;
}

PATHFN static void small_path_s(int n)
{
	for (int i = 0; i < n; i++)
		s_addrs[i] = (unsigned long)alloc_small_s();
}

PATHFN static void *seed_path_r(void)
{
	void *p = mmap(NULL, 4 * pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap r");
	touch(p);
	return p;
}

PATHFN static void *grow_path_r(void *old)
{
	void *p = mremap(old, 4 * pagesz, CHUNK_BYTES, MREMAP_MAYMOVE);

	if (p == MAP_FAILED)
		die("mremap r");
	touch(p);
	return p;
}

PATHFN static unsigned long mark_path_x(void)
{
	void *p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap x");
	touch(p);
	return (unsigned long)p;
}

PATHFN static unsigned long mark_path_y(void)
{
	void *p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap y");
	touch(p);
	return (unsigned long)p;
}

/* munmap victims[depth - 1] DEPTH frames down: each depth is its own stack. */
PATHFN static int unmap_depth(int depth, int at)
{
	int rc;

	if (depth > 1) {
		rc = unmap_depth(depth - 1, at);
		return rc + 1;
	}
	rc = munmap(victims[at], (size_t)pagesz);
	if (rc != 0)
		die("munmap victim");
	return rc;
}

/* Whether no line of /proc/self/maps names PATH. */
static int unmapped(const char *path)
{
	char line[4352];
	FILE *f = fopen("/proc/self/maps", "re");
	int gone = 1;

	if (!f)
		die("/proc/self/maps");
	while (fgets(line, sizeof(line), f))
		if (strstr(line, path))
			gone = 0;
	fclose(f);
	return gone;
}

static void print_list(const char *key, const unsigned long *v, int n)
{
	printf("\"%s\":[", key);
	for (int i = 0; i < n; i++)
		printf("%s%lu", i ? "," : "", v[i]);
	printf("],");
}

int main(int argc, char **argv)
{
	int na = 3, nb = 2, nl = 1, ns = 0, nu = 0, nt = 0, grow = 0, opt;
	const char *lib = NULL, *go = NULL, *start = NULL;

	while ((opt = getopt(argc, argv, "a:b:l:s:rt:u:L:W:w:")) != -1) {
		switch (opt) {
		case 'a': na = atoi(optarg); break;
		case 'b': nb = atoi(optarg); break;
		case 'l': nl = atoi(optarg); break;
		case 's': ns = atoi(optarg); break;
		case 'r': grow = 1; break;
		case 't': nt = atoi(optarg); break;
		case 'u': nu = atoi(optarg); break;
		case 'L': lib = optarg; break;
		case 'W': start = optarg; break;
		case 'w': go = optarg; break;
		default:
			fprintf(stderr, "usage: stackpaths [-a NA] [-b NB] [-l NL] [-s NS] [-r] "
					"[-t NT] [-u NU] [-L LIB] [-W STARTFILE] [-w GOFILE]\n");
			return 2;
		}
	}
	if (na < 0 || na > MAXN || nb < 0 || nb > MAXN || nl < 0 || nl > MAXN || ns < 0 ||
	    ns > MAXN || nu < 0 || nu > MAXN || nt < 0 || nt > MAXN) {
		fprintf(stderr, "stackpaths: counts are 0 to %d\n", MAXN);
		return 2;
	}
	alarm(120);
	pagesz = sysconf(_SC_PAGESIZE);
	/* As memtraced's MALLOC_MMAP_THRESHOLD_=131072: every 16 MiB malloc is an mmap. */
	if (!mallopt(M_MMAP_THRESHOLD, 131072))
		die("mallopt");
	free(malloc(1)); /* the arena and tcache exist before the paths run */
	if (start) {
		struct timespec ts = {0, 5 * 1000 * 1000};

		printf("READY\n");
		if (fflush(stdout) != 0)
			die("fflush");
		for (int i = 0; i < 12000 && access(start, F_OK) != 0; i++)
			nanosleep(&ts, NULL);
	}

	leak_path_a(na);
	leak_path_b(nb);
	leak_path_l(nl);
	for (int i = 0; i < nt; i++) {
		twin_path_p(i);
		twin_path_q(i);
	}
	small_path_s(ns);
	if (grow)
		r_addr = (unsigned long)grow_path_r(seed_path_r());
	if (nu) {
		for (int i = 0; i < nu; i++) {
			victims[i] = mmap(NULL, (size_t)pagesz, PROT_READ,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (victims[i] == MAP_FAILED)
				die("mmap victim");
		}
		x_addr = mark_path_x();
		for (int i = 0; i < nu; i++)
			unmap_depth(i + 1, i);
		y_addr = mark_path_y();
	}
	if (lib) {
		void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		int (*fn)(int, unsigned long *);

		if (!h) {
			fprintf(stderr, "stackpaths: dlopen: %s\n", dlerror());
			return 1;
		}
		fn = (int (*)(int, unsigned long *))dlsym(h, "lib_alloc_chunks");
		if (!fn) {
			fprintf(stderr, "stackpaths: dlsym: %s\n", dlerror());
			return 1;
		}
		nlib = fn(2, lib_addrs);
		if (dlclose(h) != 0) {
			fprintf(stderr, "stackpaths: dlclose: %s\n", dlerror());
			return 1;
		}
		lib_unmapped = unmapped(lib);
	}

	printf("TRUTH {");
	print_list("a", a_addrs, na);
	print_list("b", b_addrs, nb);
	print_list("l", l_addrs, nl);
	print_list("s", s_addrs, ns);
	print_list("r", &r_addr, grow);
	print_list("lib", lib_addrs, nlib);
	print_list("p", p_addrs, nt);
	print_list("q", q_addrs, nt);
	printf("\"x\":%lu,\"y\":%lu,\"lib_unmapped\":%s,\"chunk\":%lu,\"large\":%lu}\n", x_addr,
	       y_addr, lib_unmapped < 0 ? "null" : lib_unmapped ? "true" : "false", CHUNK_BYTES,
	       LARGE_BYTES);
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
