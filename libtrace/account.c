/*
 * account.c - apply successful memory syscalls to the accounting table.
 *
 * Called on the tracer thread with the session lock held, after the task
 * has been resumed.  Only calls that succeeded get here; the kernel has
 * page-rounded every length, so we do too.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "internal.h"
#include "procmaps.h"

/* A table entry for a mapping T made now with EV. */
static struct maps_entry entry_new(struct task *t, const struct mt_event *ev, uint64_t start,
				   uint64_t len, int prot, int flags, unsigned kind)
{
	return (struct maps_entry){
		.start = start,
		.len = len,
		.prot = prot,
		.flags = flags,
		.kind = kind,
		.tid = t->tid,
		.time_ns = ev->time_ns,
		.stack_id = ev->stack_id,
		.id = ev->seq,
		.owner = &t->th->own,
	};
}

/* Credit T's thread with the change in outstanding bytes since BEFORE. */
static void account_delta(struct mt_session *s, struct task *t, uint64_t before)
{
	uint64_t after = s->maps.totals.bytes_all;

	if (after > before) {
		t->th->mapped_count++;
		t->th->mapped_bytes += after - before;
	} else if (after < before) {
		t->th->unmapped_count++;
		t->th->unmapped_bytes += before - after;
	}
}

/* mmap: a new mapping at the returned address, replacing what was there. */
void account_mmap(struct mt_session *s, struct task *t, const struct mt_event *ev)
{
	int flags = (int)ev->args[3];
	uint64_t len = page_up(ev->args[1]);
	struct maps_entry e = entry_new(t, ev, (uint64_t)ev->ret, len, (int)ev->args[2], flags,
					(flags & MAP_ANONYMOUS) ? MT_MAP_ANON : 0);

	/* A replaced range is not an unmap by this thread; count the new map only. */
	maps_map(&s->maps, &e);
	if (e.prot & PROT_EXEC)
		s->stacks.dirty = 1;
	t->th->mapped_count++;
	t->th->mapped_bytes += len;
}

/* munmap: remove the range, splitting what it cuts. */
void account_munmap(struct mt_session *s, struct task *t, const struct mt_event *ev)
{
	uint64_t before = s->maps.totals.bytes_all;

	maps_unmap(&s->maps, ev->args[0], page_up(ev->args[1]));
	account_delta(s, t, before);
}

/* mremap: resize or move; MREMAP_DONTUNMAP and old_size 0 keep the old range. */
void account_mremap(struct mt_session *s, struct task *t, const struct mt_event *ev)
{
	uint64_t old_len = page_up(ev->args[1]), new_len = page_up(ev->args[2]);
	int flags = (int)ev->args[3];
	int keep_old = (flags & MREMAP_DONTUNMAP) || old_len == 0;
	struct maps_entry fallback = entry_new(t, ev, (uint64_t)ev->ret, new_len,
					       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
					       MT_MAP_ANON);
	uint64_t before = s->maps.totals.bytes_all;

	maps_remap(&s->maps, ev->args[0], old_len, (uint64_t)ev->ret, new_len, keep_old,
		   &fallback);
	s->stacks.dirty = 1;
	account_delta(s, t, before);
}

/* mprotect: PROT_NONE is reserved, anything else committed. */
void account_mprotect(struct mt_session *s, struct task *t, const struct mt_event *ev)
{
	maps_protect(&s->maps, ev->args[0], page_up(ev->args[1]), (int)ev->args[2]);
	if (ev->args[2] & PROT_EXEC)
		s->stacks.dirty = 1;
}

/*
 * brk: the result is the new break (a failed move returns the old one).
 * The heap is [brk_start, page_up(brk_end)); the first brk seen, usually
 * ld.so's brk(NULL), tells where it starts.
 */
void account_brk(struct mt_session *s, struct task *t, const struct mt_event *ev)
{
	uint64_t res = (uint64_t)ev->ret, old_end, new_end;
	uint64_t before = s->maps.totals.bytes_all;

	if (!s->brk_start) {
		s->brk_start = s->brk_end = res;
		return;
	}
	old_end = page_up(s->brk_end);
	new_end = page_up(res);
	s->brk_end = res;
	if (new_end > old_end) {
		struct maps_entry e = entry_new(t, ev, old_end, new_end - old_end,
						PROT_READ | PROT_WRITE,
						MAP_PRIVATE | MAP_ANONYMOUS, MT_MAP_ANON | MT_MAP_BRK);
		maps_map(&s->maps, &e);
	} else if (new_end < old_end) {
		maps_unmap(&s->maps, new_end, old_end - new_end);
	}
	account_delta(s, t, before);
}

struct seed_ctx {
	struct mt_session *s;
	pid_t pid;
};

/* Enter [START, START+LEN) of region R as one preexisting mapping. */
static int seed_entry(struct seed_ctx *c, const struct procmaps_region *r, uint64_t start,
		      uint64_t len)
{
	struct maps_entry e = {
		.start = start,
		.len = len,
		.prot = r->prot,
		.flags = r->shared ? MAP_SHARED : MAP_PRIVATE,
		.kind = MT_MAP_PREEXISTING,
	};

	if (r->anon)
		e.kind |= MT_MAP_ANON;
	if (!strcmp(r->path, "[heap]"))
		e.kind |= MT_MAP_BRK;
	if (maps_map(&c->s->maps, &e) < 0)
		return -ENOMEM;
	c->s->seeded_count++;
	c->s->seeded_bytes += len;
	return 0;
}

/*
 * The length of the glibc mmapped chunk at ADDR, or 0.  glibc starts each
 * block it mmaps with a chunk header: prev_size 0, then the block's length
 * with IS_MMAPPED (2) set and NON_MAIN_ARENA (4) clear, a multiple of the
 * page size (16781312|2 for malloc(16 MiB)).
 */
static uint64_t glibc_block(pid_t pid, uint64_t addr, uint64_t limit)
{
	uint64_t hdr[2];
	struct iovec local = {hdr, sizeof(hdr)}, remote = {(void *)addr, sizeof(hdr)};
	uint64_t len;

	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != sizeof(hdr))
		return 0;
	len = hdr[1] & ~(uint64_t)7;
	if (hdr[0] != 0 || (hdr[1] & 7) != 2 || !len || len % page_size || len > limit - addr)
		return 0;
	return len;
}

/*
 * Enter one /proc/PID/maps region.  The kernel merges adjacent anonymous
 * mappings with equal protection into one line, so five chunks mapped
 * one after another read as one 80 MiB region; split such a region into
 * the blocks glibc made, as far as a valid header chain reaches.  What the
 * chain does not cover stays one mapping.
 */
static int seed_one(const struct procmaps_region *r, void *arg)
{
	struct seed_ctx *c = arg;
	uint64_t at = r->start, len;
	int err;

	/* The vsyscall page is the kernel's, outside the address space proper. */
	if (!strcmp(r->path, "[vsyscall]"))
		return 0;
	if (!strcmp(r->path, "[heap]")) {
		c->s->brk_start = r->start;
		c->s->brk_end = r->end;
	}
	if (r->anon && !r->path[0] && (r->prot & PROT_READ) && !r->shared) {
		while (at < r->end && (len = glibc_block(c->pid, at, r->end))) {
			if ((err = seed_entry(c, r, at, len)) < 0)
				return err;
			at += len;
		}
	}
	return at < r->end ? seed_entry(c, r, at, r->end - at) : 0;
}

/* Reset the table to the regions of /proc/PID/maps. */
int account_seed(struct mt_session *s, pid_t pid)
{
	struct seed_ctx c = {s, pid};

	maps_clear(&s->maps);
	s->seeded_count = s->seeded_bytes = 0;
	return procmaps_read(pid, seed_one, &c);
}
