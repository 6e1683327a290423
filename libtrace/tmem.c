/*
 * tmem.c - reading the target's memory without adding to it.
 *
 * process_vm_readv() faults in every page it reads.  On a kernel without a
 * shared zero page for read faults, a read of a never-written anonymous
 * page allocates a real page in the target; elsewhere it maps the zero
 * page (no RSS, but a page table entry); a swapped page is read back in.
 * Either way the reader changes the target.  So every read of target
 * memory goes through here, and reads only pages the target has resident:
 * /proc/PID/pagemap tells which, through its PAGEMAP_SCAN ioctl (Linux 6.7:
 * runs of pages, so a 32 GiB reservation with little in it costs one call)
 * or, on older kernels, its 8-byte entries read a batch at a time.
 *
 * Swapped pages are not read either: reading one swaps it in, which costs
 * the target both memory and an I/O wait while it is held.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

/* PAGEMAP_SCAN, from Linux 6.7's <linux/fs.h> (Debian 12's headers predate it). */
struct pm_page_region {
	uint64_t start, end, categories;
};

struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

#define PM_SCAN		 _IOWR('f', 16, struct pm_scan_arg)
#define PM_PAGE_PRESENT	 (1 << 3)
#define PM_PAGE_SWAPPED	 (1 << 4)
#define PM_ENTRY_PRESENT (1ULL << 63)
#define PM_ENTRY_SWAPPED (1ULL << 62)

#define SCAN_REGIONS 256
#define SCAN_ENTRIES 4096

/* Open PID's pagemap; the descriptor or -errno. */
int tmem_open(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * The runs of [START, END) through PAGEMAP_SCAN; -ENOTTY or -EINVAL when
 * the kernel has no such ioctl.
 */
static int scan_ioctl(int pm, uint64_t start, uint64_t end, tmem_run_fn fn, void *arg)
{
	struct pm_page_region v[SCAN_REGIONS];
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.start = start,
		.end = end,
		.vec = (uint64_t)(uintptr_t)v,
		.vec_len = SCAN_REGIONS,
		.category_anyof_mask = PM_PAGE_PRESENT | PM_PAGE_SWAPPED,
		.return_mask = PM_PAGE_PRESENT | PM_PAGE_SWAPPED,
	};
	int err;

	/* Memory checkers cannot know the kernel fills V: it starts defined. */
	memset(v, 0, sizeof(v));
	while (a.start < end) {
		int n = ioctl(pm, PM_SCAN, &a);

		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			unsigned state = v[i].categories & PM_PAGE_PRESENT ? TMEM_PRESENT
									  : TMEM_SWAPPED;

			if ((err = fn(v[i].start, v[i].end, state, arg)))
				return err;
		}
		/* A full vector stops the walk early; walk_end says where. */
		if (a.walk_end <= a.start)
			break;
		a.start = a.walk_end;
	}
	return 0;
}

/* The runs of [START, END) from pagemap's entries, a batch at a time. */
static int scan_entries(int pm, uint64_t start, uint64_t end, tmem_run_fn fn, void *arg)
{
	uint64_t e[SCAN_ENTRIES], run_lo = 0;
	unsigned run_state = TMEM_ABSENT;
	int err;

	for (uint64_t at = start; at < end;) {
		size_t want = (end - at) / page_size;
		ssize_t n;

		if (want > SCAN_ENTRIES)
			want = SCAN_ENTRIES;
		n = pread(pm, e, want * 8, (off_t)(at / page_size * 8));
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		for (ssize_t i = 0; i < n / 8; i++, at += page_size) {
			unsigned state = e[i] & PM_ENTRY_PRESENT   ? TMEM_PRESENT
					 : e[i] & PM_ENTRY_SWAPPED ? TMEM_SWAPPED
								   : TMEM_ABSENT;

			if (state == run_state)
				continue;
			if (run_state != TMEM_ABSENT && (err = fn(run_lo, at, run_state, arg)))
				return err;
			run_lo = at;
			run_state = state;
		}
	}
	return run_state != TMEM_ABSENT ? fn(run_lo, end, run_state, arg) : 0;
}

/*
 * Call FN for each run of pages of [START, END) that are resident or
 * swapped, in address order; pages of neither kind (never touched, or not
 * mapped) are left out.  START and END are page-aligned.  Returns 0, FN's
 * first nonzero return, or -errno.
 */
int tmem_scan(int pm, uint64_t start, uint64_t end, tmem_run_fn fn, void *arg)
{
	static int no_ioctl;
	int err;

	if (pm < 0)
		return -EBADF;
	if (start >= end)
		return 0;
	if (!no_ioctl) {
		err = scan_ioctl(pm, start, end, fn, arg);
		if (err != -ENOTTY && err != -EINVAL && err != -EOPNOTSUPP)
			return err;
		no_ioctl = 1;
	}
	return scan_entries(pm, start, end, fn, arg);
}

struct read_ctx {
	pid_t pid;
	uint64_t addr, done; /* done: bytes of the range accounted for */
	unsigned char *buf;
	size_t len;
	tmem_gap_fn gap;
	void *arg;
};

/* Report [C->done, UPTO) of the range as a gap of kind STATE, zero-filled. */
static void read_gap(struct read_ctx *c, uint64_t upto, unsigned state)
{
	if (upto <= c->done)
		return;
	memset(c->buf + c->done, 0, upto - c->done);
	if (c->gap)
		c->gap(c->done, upto - c->done, state, c->arg);
	c->done = upto;
}

/* Read the part of run [LO, HI) inside the range, if it is resident. */
static int read_run(uint64_t lo, uint64_t hi, unsigned state, void *arg)
{
	struct read_ctx *c = arg;
	uint64_t from = lo > c->addr ? lo - c->addr : 0;
	uint64_t to = hi - c->addr < c->len ? hi - c->addr : c->len;

	if (from >= to)
		return 0;
	read_gap(c, from, TMEM_ABSENT);
	if (state == TMEM_PRESENT) {
		struct iovec local = {c->buf + from, to - from};
		struct iovec remote = {(void *)(uintptr_t)(c->addr + from), to - from};
		ssize_t n = process_vm_readv(c->pid, &local, 1, &remote, 1, 0);

		/* A PROT_NONE page, or one unmapped since the scan. */
		if (n < 0)
			n = 0;
		c->done = from + (uint64_t)n;
		read_gap(c, to, TMEM_UNREADABLE);
	} else {
		read_gap(c, to, state);
	}
	return 0;
}

/*
 * Read LEN bytes at ADDR of PID's memory (PM: its pagemap), resident pages
 * only.  The rest reads as zeros, and GAP (if not NULL) is told of each
 * such stretch: its offset in the range, its length and why (TMEM_ABSENT,
 * TMEM_SWAPPED, TMEM_UNREADABLE).  Returns LEN, or -errno when pagemap
 * cannot be read (then nothing was read).
 */
ssize_t tmem_read(int pm, pid_t pid, uint64_t addr, void *buf, size_t len, tmem_gap_fn gap,
		  void *arg)
{
	struct read_ctx c = {pid, addr, 0, buf, len, gap, arg};
	uint64_t lo = addr & ~(page_size - 1), hi = page_up(addr + len);
	int err;

	if (addr + len < addr)
		return -EFAULT;
	if ((err = tmem_scan(pm, lo, hi, read_run, &c)) < 0)
		return err;
	read_gap(&c, len, TMEM_ABSENT);
	return (ssize_t)len;
}

/* Note in *ARG that a run is resident. */
static int resident_run(uint64_t lo, uint64_t hi, unsigned state, void *arg)
{
	(void)lo;
	(void)hi;
	*(int *)arg = state == TMEM_PRESENT;
	return 0;
}

/*
 * Whether the page at ADDR is resident; 0 when it is not or pagemap fails.
 * Through tmem_scan(): the ioctl costs a third of a pread of the entry.
 */
int tmem_page_resident(int pm, uint64_t addr)
{
	uint64_t page = addr & ~(page_size - 1);
	int present = 0;

	return tmem_scan(pm, page, page + page_size, resident_run, &present) == 0 && present;
}
