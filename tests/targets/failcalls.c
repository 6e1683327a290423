/*
 * failcalls: memory calls that fail, or do less than they seem to, around
 * mappings the table must keep exactly as the kernel does.
 *
 * usage: failcalls
 *
 * It maps a chunk C (16781312 bytes, anonymous, read-write) and then:
 *   munmap(C + 100, 4096)                     EINVAL: unaligned
 *   mremap(C + 100, 4096, 8192, MAYMOVE)      EINVAL: unaligned
 *   mseal(C, len), then munmap(C + 4096, 4096) and mremap(C, len, 2 * len,
 *   MAYMOVE): EPERM, sealed ("sealed":1; 0 where the kernel has no mseal)
 *   H: 8 pages read-write, page 4 unmapped; mprotect(H, 8 pages, PROT_READ)
 *      fails with ENOMEM, but pages 0-3 are read-only by then
 *   Q: 8 pages read-write, the top 4 made read-only; mremap(Q, 8 pages,
 *      8 pages, MAYMOVE) returns Q and changes nothing; then mremap(Q,
 *      8 pages, 2 pages, 0) shrinks it to its first 2 pages
 *   S (with mseal): 8 pages read-write, the top 4 sealed; mprotect(S,
 *      8 pages, PROT_READ) fails with EPERM at the seal, pages 0-3 changed
 *   M: 8 pages read-write, the top 4 read-only, moved whole to a reserved
 *      place D with mremap(M, 8 pages, 8 pages, MAYMOVE | FIXED, D): Linux
 *      6.17 and later move both mappings, each as it was; older kernels
 *      refuse (EFAULT) and nothing moves
 * Then it prints
 *   TRUTH {"chunk":C,"sealed":0|1,"hole":H,"q":Q,"moved":0|1,
 *          "errors":{name:errno,...}}
 * (addresses decimal) and exits 0 once that line is written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_mseal
#define __NR_mseal 462
#endif

#define CHUNK 16781312UL

static int err_of(long r)
{
	return r == -1 ? errno : 0;
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *c, *h, *q, *sl, *m, *dst;
	int e_unmap, e_remap, e_sunmap = 0, e_sremap = 0, e_prot, e_sprot = 0, sealed, moved;

	c = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	h = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	q = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sl = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	m = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, 8 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED || h == MAP_FAILED || q == MAP_FAILED || sl == MAP_FAILED ||
	    m == MAP_FAILED || dst == MAP_FAILED) {
		perror("failcalls: mmap");
		return 1;
	}
	c[0] = 1;
	e_unmap = err_of(munmap(c + 100, 4096));
	e_remap = err_of((long)mremap(c + 100, 4096, 8192, MREMAP_MAYMOVE));
	sealed = syscall(__NR_mseal, c, CHUNK, 0) == 0;
	if (sealed) {
		e_sunmap = err_of(munmap(c + page, page));
		e_sremap = err_of((long)mremap(c, CHUNK, 2 * CHUNK, MREMAP_MAYMOVE));
	}
	if (munmap(h + 4 * page, page) != 0 || mprotect(q + 4 * page, 4 * page, PROT_READ) != 0) {
		perror("failcalls: munmap/mprotect");
		return 1;
	}
	e_prot = err_of(mprotect(h, 8 * page, PROT_READ));
	if (mremap(q, 8 * page, 8 * page, MREMAP_MAYMOVE) != q || mremap(q, 8 * page, 2 * page, 0) != q) {
		perror("failcalls: mremap");
		return 1;
	}
	if (sealed && syscall(__NR_mseal, sl + 4 * page, 4 * page, 0) == 0)
		e_sprot = err_of(mprotect(sl, 8 * page, PROT_READ));
	if (mprotect(m + 4 * page, 4 * page, PROT_READ) != 0) {
		perror("failcalls: mprotect");
		return 1;
	}
	moved = mremap(m, 8 * page, 8 * page, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == dst;
	printf("TRUTH {\"chunk\":%lu,\"sealed\":%d,\"hole\":%lu,\"q\":%lu,\"moved\":%d,"
	       "\"errors\":{\"munmap_unaligned\":%d,\"mremap_unaligned\":%d,"
	       "\"munmap_sealed\":%d,\"mremap_sealed\":%d,\"mprotect_hole\":%d,"
	       "\"mprotect_sealed\":%d}}\n",
	       (unsigned long)c, sealed, (unsigned long)h, (unsigned long)q, moved, e_unmap,
	       e_remap, e_sunmap, e_sremap, e_prot, e_sprot);
	fflush(stdout);
	return 0;
}
