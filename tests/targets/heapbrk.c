/*
 * heapbrk: moves the program break directly with sbrk.
 *
 * Grows the break by 1 MiB eight times (writing one byte per page of each
 * step), then shrinks it by 3 MiB.  Prints:
 *   TRUTH {"brk_start":S,"brk_end":E,"brk_bytes":E-S,"grow_steps":8,
 *          "step":1048576,"shrink":3145728}
 * S and E are what sbrk(0) returned before the first step and after the
 * shrink (decimal).  ld.so/glibc may already have moved the break before
 * main, so S need not be the kernel's initial break.  stdout uses a static
 * buffer so printing does not malloc (and so does not move the break).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define STEP (1L << 20)
#define NSTEPS 8
#define SHRINK (3 * STEP)

static char outbuf[4096];

int main(void)
{
	if (setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf)) != 0) {
		fprintf(stderr, "heapbrk: setvbuf failed\n");
		return 1;
	}
	long pagesz = sysconf(_SC_PAGESIZE);
	char *start = sbrk(0);
	if (start == (void *)-1) {
		perror("heapbrk: sbrk(0)");
		return 1;
	}
	char *cur = start;
	for (int i = 0; i < NSTEPS; i++) {
		char *old = sbrk(STEP);
		if (old == (void *)-1) {
			fprintf(stderr, "heapbrk: sbrk(+%ld): %s\n", STEP, strerror(errno));
			return 1;
		}
		if (old != cur) {
			fprintf(stderr, "heapbrk: break moved behind our back\n");
			return 1;
		}
		for (long off = 0; off < STEP; off += pagesz)
			old[off] = (char)i;
		cur = old + STEP;
	}
	if (sbrk(-SHRINK) == (void *)-1) {
		perror("heapbrk: sbrk(-3 MiB)");
		return 1;
	}
	char *end = sbrk(0);
	if (end != cur - SHRINK) {
		fprintf(stderr, "heapbrk: unexpected break after shrink\n");
		return 1;
	}
	printf("TRUTH {\"brk_start\":%lu,\"brk_end\":%lu,\"brk_bytes\":%ld,"
	       "\"grow_steps\":%d,\"step\":%ld,\"shrink\":%ld}\n",
	       (unsigned long)(uintptr_t)start, (unsigned long)(uintptr_t)end,
	       (long)(end - start), NSTEPS, STEP, SHRINK);
	return fflush(stdout) == 0 ? 0 : 1;
}
