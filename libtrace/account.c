/*
 * account.c - apply successful memory syscalls to the accounting table.
 *
 * Called on the tracer thread with the session lock held, after the task
 * has been resumed.  Only calls that succeeded get here; the kernel has
 * page-rounded every length, so we do too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
	unsigned kind = (flags & MAP_ANONYMOUS) ? MT_MAP_ANON : 0;
	struct maps_entry e;

	/*
	 * A failed mmap is taken to have changed nothing.  A MAP_FIXED one
	 * whose file's own mmap handler fails can leave a hole where the old
	 * mapping was; the table keeps the old mapping (a known limit).
	 */
	if (mt_event_failed(ev))
		return;
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_NORESERVE))
		kind |= MT_MAP_NOCHUNK;
	/* A reservation is not memory: what is committed in it counts (account_mprotect). */
	if (ev->direct && !(flags & MAP_NORESERVE) && ev->args[2] != PROT_NONE) {
		kind |= MT_MAP_DIRECT;
		direct_seen(s, len);
	}
	e = entry_new(t, ev, (uint64_t)ev->ret, len, (int)ev->args[2], flags, kind);

	/* A replaced range is not an unmap by this thread; count the new map only. */
	maps_map(&s->maps, &e);
	if (e.prot & PROT_EXEC)
		s->stacks.dirty = 1;
	t->th->mapped_count++;
	t->th->mapped_bytes += len;
}

/*
 * Why munmap and mremap act at entry: events are recorded at their exit
 * stops in the order waitpid() reports them, which across threads is not
 * the order the kernel finished them in.  If thread A unmaps X and thread
 * B's next mmap is given X, B's exit can be reported first; applying A's
 * munmap afterwards would delete B's new mapping.  Taken out at A's entry
 * (A is still stopped, X still mapped, nobody can be given it yet), the
 * range is gone before B's mmap can exist.  A failed call puts it back;
 * nothing else can have been placed there, since it was never freed.
 */

/* Save a copy of entry E, clipped to the range in ARG, on the task. */
static int save_piece(const struct maps_entry *e, void *arg)
{
	struct task *t = ((void **)arg)[0];
	const uint64_t *range = ((void **)arg)[1];
	uint64_t lo = e->start > range[0] ? e->start : range[0];
	uint64_t hi = e->start + e->len < range[1] ? e->start + e->len : range[1];

	if (t->nsaved == t->cap_saved) {
		size_t cap = t->cap_saved ? t->cap_saved * 2 : 8;
		struct saved_piece *n = realloc(t->saved, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->saved = n;
		t->cap_saved = cap;
	}
	t->saved[t->nsaved].e = *e;
	t->saved[t->nsaved].e.start = lo;
	t->saved[t->nsaved].e.len = hi - lo;
	t->saved[t->nsaved].whole_start = e->start;
	t->saved[t->nsaved].whole_end = e->start + e->len;
	t->nsaved++;
	return 0;
}

/*
 * Take [START, START+LEN) out of the table, keeping the pieces on T.  An
 * unaligned START fails with EINVAL and is left alone: a cut there would
 * leave pieces no mapping can have.
 */
static void take_range(struct mt_session *s, struct task *t, uint64_t start, uint64_t len)
{
	uint64_t range[2] = {start, start + len};
	void *arg[2] = {t, range};

	t->nsaved = 0;
	if (!len || start + len < start || start % page_size)
		return;
	if (maps_foreach_range(&s->maps, start, len, save_piece, arg) < 0) {
		t->nsaved = 0;
		return; /* out of memory: leave the table to the exit handler */
	}
	maps_unmap(&s->maps, start, len);
}

/* Whether A and B are pieces of one entry: all but where they lie. */
static int same_entry(const struct maps_entry *a, const struct maps_entry *b)
{
	return a->prot == b->prot && a->flags == b->flags && a->kind == b->kind &&
	       a->tid == b->tid && a->time_ns == b->time_ns && a->stack_id == b->stack_id &&
	       a->id == b->id && a->owner == b->owner;
}

/*
 * Put back what take_range() took (the call failed), and join each piece
 * again with what is left of the entry it was cut from, so that a chunk a
 * failed munmap went through is one chunk again, as it is to the kernel.
 * Only neighbours inside that entry's old extent and alike in everything
 * else are joined: a neighbour another thread changed meanwhile stays apart.
 */
static void restore_range(struct mt_session *s, struct task *t)
{
	for (size_t i = 0; i < t->nsaved; i++) {
		struct maps_entry e = t->saved[i].e;
		uint64_t lo = e.start, hi = e.start + e.len;
		const struct maps_entry *n;

		while (lo > t->saved[i].whole_start && (n = maps_find_ending(&s->maps, lo)) &&
		       n->start >= t->saved[i].whole_start && same_entry(n, &e))
			lo = n->start;
		while (hi < t->saved[i].whole_end && (n = maps_find(&s->maps, hi)) && n->start == hi &&
		       n->start + n->len <= t->saved[i].whole_end && same_entry(n, &e))
			hi = n->start + n->len;
		e.start = lo;
		e.len = hi - lo;
		maps_map(&s->maps, &e);
	}
	t->nsaved = 0;
}

/* Forget what a pending call saved. */
void account_drop_saved(struct task *t)
{
	free(t->saved);
	t->saved = NULL;
	t->nsaved = t->cap_saved = 0;
}

/* munmap entry: take the range out now; see above. */
void account_munmap_enter(struct mt_session *s, struct task *t, const struct mt_event *ev)
{
	take_range(s, t, ev->args[0], page_up(ev->args[1]));
}

/* munmap exit: credit the thread, or put the range back when the call failed. */
void account_munmap(struct mt_session *s, struct task *t, const struct mt_event *ev)
{
	uint64_t bytes = 0;

	if (mt_event_failed(ev)) {
		restore_range(s, t);
		return;
	}
	for (size_t i = 0; i < t->nsaved; i++)
		bytes += t->saved[i].e.len;
	if (bytes) {
		t->th->unmapped_count++;
		t->th->unmapped_bytes += bytes;
	}
	t->nsaved = 0;
}

/* mremap entry: take the old range out now, keeping it as the template. */
void account_mremap_enter(struct mt_session *s, struct task *t, const struct mt_event *ev)
{
	take_range(s, t, ev->args[0], page_up(ev->args[1]));
}

/*
 * mremap exit: the old range moved or was resized to the result.  The new
 * mapping keeps the attributes (creator, time, stack) of the one it came
 * from; MREMAP_DONTUNMAP and old_size 0 leave the old range mapped.
 */
void account_mremap(struct mt_session *s, struct task *t, const struct mt_event *ev)
{
	uint64_t old_len = page_up(ev->args[1]), new_len = page_up(ev->args[2]);
	int flags = (int)ev->args[3];
	struct maps_entry e = entry_new(t, ev, (uint64_t)ev->ret, new_len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, MT_MAP_ANON);

	if (mt_event_failed(ev)) {
		restore_range(s, t);
		return;
	}
	/*
	 * Shrunk in place, or the same size (which the kernel does not even
	 * look at): what stays keeps its entries as they were, which may be
	 * several; only the tail is gone.
	 */
	if ((uint64_t)ev->ret == ev->args[0] && old_len && new_len <= old_len &&
	    !(flags & MREMAP_DONTUNMAP)) {
		restore_range(s, t);
		if (new_len < old_len) {
			maps_unmap(&s->maps, ev->args[0] + new_len, old_len - new_len);
			t->th->unmapped_count++;
			t->th->unmapped_bytes += old_len - new_len;
		}
		return;
	}
	/*
	 * A move of several mappings at once (MREMAP_FIXED, the same size;
	 * Linux 6.17 and later): each keeps its own attributes at its new
	 * place, and the gaps between them stay gaps.
	 */
	if (t->nsaved > 1 && new_len == old_len && (uint64_t)ev->ret != ev->args[0] &&
	    !(flags & MREMAP_DONTUNMAP)) {
		for (size_t i = 0; i < t->nsaved; i++) {
			e = t->saved[i].e;
			e.start += (uint64_t)ev->ret - ev->args[0];
			maps_map(&s->maps, &e);
		}
		t->nsaved = 0;
		s->stacks.dirty = 1;
		return;
	}
	for (size_t i = 0; i < t->nsaved; i++) {
		if (t->saved[i].e.start <= ev->args[0] &&
		    ev->args[0] < t->saved[i].e.start + t->saved[i].e.len) {
			e = t->saved[i].e;
			e.start = (uint64_t)ev->ret;
			e.len = new_len;
			/* A stack captured for this call (it made a chunk) beats the old one. */
			if (ev->stack_id)
				e.stack_id = ev->stack_id;
			/* realloc of direct memory (Unsafe.reallocateMemory) stays direct. */
			if (ev->direct)
				e.kind |= MT_MAP_DIRECT;
			break;
		}
	}
	if (ev->direct && !(e.kind & MT_MAP_DIRECT))
		e.kind |= MT_MAP_DIRECT; /* no entry was found: the fallback */
	if ((flags & MREMAP_DONTUNMAP) || old_len == 0)
		restore_range(s, t);
	t->nsaved = 0;
	if (new_len > old_len) {
		t->th->mapped_count++;
		t->th->mapped_bytes += new_len - old_len;
	} else if (new_len < old_len) {
		t->th->unmapped_count++;
		t->th->unmapped_bytes += old_len - new_len;
	}
	maps_map(&s->maps, &e);
	s->stacks.dirty = 1;
}

struct reprot {
	struct mt_session *s;
	uint64_t lo, hi;
};

/* Give the table's entries inside C's range region R's protection. */
static int reprot_one(const struct procmaps_region *r, void *arg)
{
	struct reprot *c = arg;
	uint64_t lo = r->start > c->lo ? r->start : c->lo, hi = r->end < c->hi ? r->end : c->hi;

	if (lo < hi)
		maps_protect(&c->s->maps, lo, hi - lo, r->prot);
	return 0;
}

/* The pieces of a range to mark as direct memory (arena_mark_direct). */
struct pieces {
	struct maps_entry *v;
	size_t n, cap;
};

/* Keep a copy of E, clipped to RANGE, when it is committed arena heap not yet direct. */
static int arena_piece(const struct maps_entry *e, void *arg)
{
	struct pieces *p = ((void **)arg)[0];
	const uint64_t *range = ((void **)arg)[1];
	uint64_t lo = e->start > range[0] ? e->start : range[0];
	uint64_t hi = e->start + e->len < range[1] ? e->start + e->len : range[1];

	if (lo >= hi || e->prot == PROT_NONE || !(e->flags & MAP_NORESERVE) ||
	    !(e->kind & MT_MAP_ANON) || (e->kind & MT_MAP_DIRECT))
		return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 4;
		struct maps_entry *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n] = *e;
	p->v[p->n].start = lo;
	p->v[p->n].len = hi - lo;
	p->n++;
	return 0;
}

/*
 * The glibc trap: once a chunk-sized block has been freed, an unpinned
 * glibc raises its mmap threshold past it and serves later chunks from a
 * malloc arena, with no mmap.  A thread arena grows its heap by an
 * mprotect(PROT_READ|PROT_WRITE) of the next part of its MAP_NORESERVE
 * reservation (the first part when the heap is new); the main arena by
 * brk.  When that call's stack passes through the direct-memory path (the
 * probe in session.c), the bytes it committed are direct memory and are
 * marked so, owned by the thread and stack that grew them.
 *
 * Limits: this weighs the growth, not the blocks.  A direct block served
 * from room the arena already had (freed by anything, or committed
 * before, e.g. a heap glibc shrank with MADV_DONTNEED and grows again
 * without an mprotect) is not seen; growth made by another malloc and
 * then used for direct memory is not seen; a direct block freed inside
 * the arena stays weighed until glibc unmaps that part of the heap (its
 * MADV_DONTNEED shrink changes no mapping) or the break comes down.  A
 * growth is rounded to pages, and a new heap's first part holds glibc's
 * top pad (128 KiB by default) besides the block.
 */
static void arena_mark_direct(struct mt_session *s, struct task *t, const struct mt_event *ev,
			      uint64_t start, uint64_t len)
{
	struct pieces p = {0};
	uint64_t range[2] = {start, start + len};
	void *arg[2] = {&p, range};

	if (maps_foreach_range(&s->maps, start, len, arena_piece, arg) == 0) {
		for (size_t i = 0; i < p.n; i++) {
			struct maps_entry e = p.v[i];

			maps_unmap(&s->maps, e.start, e.len);
			e.kind |= MT_MAP_DIRECT;
			e.kind &= ~MT_MAP_PREEXISTING;
			e.tid = t->tid;
			e.time_ns = ev->time_ns;
			e.stack_id = ev->stack_id;
			e.id = ev->seq;
			e.owner = &t->th->own;
			maps_map(&s->maps, &e);
		}
	}
	free(p.v);
}

/*
 * mprotect: PROT_NONE is reserved, anything else committed.  A call that
 * fails past its first mapping (ENOMEM at a hole, EACCES at a read-only
 * shared file, EPERM at a sealed mapping) has changed the mappings before
 * that point; which ones, only the kernel knows, so the range's protection
 * is read back from /proc/TID/maps.  EINVAL changes nothing.
 */
void account_mprotect(struct mt_session *s, struct task *t, const struct mt_event *ev)
{
	uint64_t start = ev->args[0], len = page_up(ev->args[1]);

	if (mt_event_failed(ev)) {
		struct reprot c = {s, start, start + len};

		if (ev->ret != -EINVAL && len && start + len > start)
			procmaps_read(t->tid, reprot_one, &c);
		return;
	}
	maps_protect(&s->maps, start, len, (int)ev->args[2]);
	if (ev->args[2] & PROT_EXEC)
		s->stacks.dirty = 1;
	if (ev->direct && (ev->args[2] & PROT_WRITE))
		arena_mark_direct(s, t, ev, start, len);
}

/*
 * brk: the result is the new break (a failed move returns the old one).
 * The heap is [brk_start, page_up(brk_end)); the first brk seen, usually
 * ld.so's brk(NULL), tells where it starts.  Growth made on the
 * direct-memory path is direct memory in the main arena (see
 * arena_mark_direct for what this sees and what it cannot).
 */
void account_brk(struct mt_session *s, struct task *t, const struct mt_event *ev)
{
	uint64_t res = (uint64_t)ev->ret, old_end, new_end;
	uint64_t before = s->maps.totals.bytes_all;

	/* brk itself never fails so; a seccomp filter of the target's can. */
	if (mt_event_failed(ev))
		return;

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
						MAP_PRIVATE | MAP_ANONYMOUS,
						MT_MAP_ANON | MT_MAP_BRK |
							(ev->direct ? MT_MAP_DIRECT : 0));
		maps_map(&s->maps, &e);
	} else if (new_end < old_end) {
		maps_unmap(&s->maps, new_end, old_end - new_end);
	}
	account_delta(s, t, before);
}

struct seed_ctx {
	struct mt_session *s;
	pid_t pid;
	uint64_t heap_lo, heap_hi; /* the glibc arena heap found last */
};

/* glibc's HEAP_MAX_SIZE on 64-bit: the size and alignment of an arena heap. */
#define HEAP_MAX (64ULL << 20)

/*
 * Enter [START, START+LEN) of region R as one preexisting mapping.  Part of
 * a glibc arena heap (HEAP), it is entered as glibc mapped it: MAP_NORESERVE,
 * and never a chunk, so that its committed part counts as arena memory and a
 * 16 MiB piece cut out of it by mprotect is not taken for a chunk.
 */
static int seed_entry(struct seed_ctx *c, const struct procmaps_region *r, uint64_t start,
		      uint64_t len, int heap)
{
	struct maps_entry e = {
		.start = start,
		.len = len,
		.prot = r->prot,
		.flags = (r->shared ? MAP_SHARED : MAP_PRIVATE) | (heap ? MAP_NORESERVE : 0),
		.kind = MT_MAP_PREEXISTING | (heap ? MT_MAP_NOCHUNK : 0),
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
 * Whether a glibc arena heap starts at A, in a read-write region ending at
 * RW_END.  A non-main arena takes its memory in HEAP_MAX-aligned
 * MAP_NORESERVE reservations, committed from the start as it grows, each
 * beginning with a heap_info {ar_ptr, prev, size, mprotect_size, ...}; the
 * first heap of an arena holds the arena itself right after that header
 * (32 or 48 bytes, by glibc version), later ones point back to the one
 * before.
 */
int account_glibc_heap(const uint64_t h[4], uint64_t a, uint64_t rw_end)
{
	if (rw_end <= a || !h[0] || !h[2] || h[2] % page_size || h[2] > rw_end - a || h[3] < h[2] ||
	    h[3] % page_size || h[3] > HEAP_MAX)
		return 0;
	/* Read-write exactly as far as glibc made it, unless all of it is. */
	if (h[3] != rw_end - a && !(h[3] == HEAP_MAX && rw_end - a >= HEAP_MAX))
		return 0;
	return h[1] ? h[1] % HEAP_MAX == 0 : h[0] == a + 32 || h[0] == a + 48;
}

/* Whether a glibc arena heap starts at A (account_glibc_heap), read from the target. */
static int glibc_heap(const struct seed_ctx *c, uint64_t a, uint64_t rw_end)
{
	uint64_t h[4];
	struct iovec local = {h, sizeof(h)}, remote = {(void *)a, sizeof(h)};

	/* glibc wrote the header when it made the heap: not resident, not one. */
	if (!tmem_page_resident(c->s->pagemap_fd, a) ||
	    process_vm_readv(c->pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(h))
		return 0;
	return account_glibc_heap(h, a, rw_end);
}

/*
 * The start of the next arena heap in [AT, R's end), made the current one,
 * or R's end.  Heaps begin in private anonymous read-write memory.
 */
static uint64_t next_heap(struct seed_ctx *c, const struct procmaps_region *r, uint64_t at)
{
	if (!r->anon || r->path[0] || r->shared || (r->prot & (PROT_READ | PROT_WRITE)) !=
	    (PROT_READ | PROT_WRITE))
		return r->end;
	for (uint64_t a = (at + HEAP_MAX - 1) & ~(HEAP_MAX - 1); a >= at && a < r->end;
	     a += HEAP_MAX) {
		if (glibc_heap(c, a, r->end)) {
			c->heap_lo = a;
			c->heap_hi = a + HEAP_MAX;
			return a;
		}
	}
	return r->end;
}

/*
 * The length of the glibc mmapped chunk whose header H sits at ADDR, or 0.
 * glibc starts each block it mmaps with a chunk header: prev_size 0, then
 * the block's length with IS_MMAPPED (2) set and NON_MAIN_ARENA (4) clear,
 * a multiple of the page size (16781312|2 for malloc(16 MiB)).
 */
uint64_t account_glibc_block(const uint64_t h[2], uint64_t addr, uint64_t limit)
{
	uint64_t len = h[1] & ~(uint64_t)7;

	if (h[0] != 0 || (h[1] & 7) != 2 || !len || len % page_size || addr >= limit ||
	    len > limit - addr)
		return 0;
	return len;
}

#define SCAN_BATCH 512

/* Read the first 16 bytes of N pages from AT into HDR; unreadable ones read as 0. */
static void read_headers(pid_t pid, uint64_t at, size_t n, uint64_t (*hdr)[2])
{
	struct iovec local[SCAN_BATCH], remote[SCAN_BATCH];

	memset(hdr, 0, n * sizeof(*hdr));
	for (size_t i = 0; i < n; i++) {
		local[i] = (struct iovec){hdr[i], sizeof(hdr[i])};
		remote[i] = (struct iovec){(void *)(at + i * page_size), sizeof(hdr[i])};
	}
	if (process_vm_readv(pid, local, n, remote, n, 0) < 0)
		memset(hdr, 0, n * sizeof(*hdr));
}

/* A scan of one span for glibc's mmapped blocks (seed_blocks). */
struct block_scan {
	struct seed_ctx *c;
	const struct procmaps_region *r;
	uint64_t end;  /* of the span */
	uint64_t raw;  /* start of what is not yet entered */
	uint64_t skip; /* end of the last block found */
};

/*
 * Look for block headers at the page starts of resident run [LO, HI),
 * reading them a batch of pages per call, and enter each block found as a
 * mapping of its own, with what lies between it and the block before as
 * one mapping.
 */
static int scan_run(uint64_t lo, uint64_t hi, unsigned state, void *arg)
{
	struct block_scan *b = arg;
	uint64_t hdr[SCAN_BATCH][2], len;
	int err;

	if (state != TMEM_PRESENT)
		return 0;
	for (uint64_t at = lo > b->skip ? lo : b->skip; at < hi;) {
		size_t n = (hi - at) / page_size;

		if (n > SCAN_BATCH)
			n = SCAN_BATCH;
		read_headers(b->c->pid, at, n, hdr);
		for (size_t i = 0; i < n; i++) {
			uint64_t p = at + i * page_size;

			if (p < b->skip || !(len = account_glibc_block(hdr[i], p, b->end)))
				continue;
			if (b->raw < p && (err = seed_entry(b->c, b->r, b->raw, p - b->raw, 0)) < 0)
				return err;
			if ((err = seed_entry(b->c, b->r, p, len, 0)) < 0)
				return err;
			b->raw = b->skip = p + len;
		}
		at += n * page_size;
		if (at < b->skip)
			at = b->skip;
	}
	return 0;
}

/*
 * Enter [START, END) of region R, outside any arena heap.  The kernel merges
 * adjacent anonymous mappings with equal protection into one line, so five
 * chunks mapped one after another read as one 80 MiB region, maybe with
 * other anonymous memory around them.  Look for glibc's block headers and
 * enter each block found as a mapping of its own; what lies between blocks
 * stays one mapping each.  Spans shorter than a chunk cannot hold one and
 * are not scanned.
 *
 * Only resident pages are read (tmem.c): a block's first page holds the
 * header glibc wrote, so it is resident unless it was swapped out, and a
 * block whose header is in swap is not found (it stays part of the span
 * around it).  A never-written page is never touched.
 */
static int seed_blocks(struct seed_ctx *c, const struct procmaps_region *r, uint64_t start,
		       uint64_t end)
{
	struct block_scan b = {c, r, end, start, start};
	int err;

	/* Without pagemap nothing is read, and the span stays whole. */
	if (r->anon && !r->path[0] && (r->prot & PROT_READ) && !r->shared &&
	    end - start >= c->s->maps.chunk_size &&
	    (err = tmem_scan(c->s->pagemap_fd, start, end, scan_run, &b)) == -ENOMEM)
		return err;
	return b.raw < end ? seed_entry(c, r, b.raw, end - b.raw, 0) : 0;
}

/*
 * Enter one /proc/PID/maps region, cut where glibc arena heaps begin and
 * end: a heap's read-write start may merge with memory below it, and its
 * PROT_NONE rest comes as a region of its own, maybe merged with more
 * reserved memory above.
 */
static int seed_one(const struct procmaps_region *r, void *arg)
{
	struct seed_ctx *c = arg;
	uint64_t at = r->start, next;
	int err;

	/* The vsyscall page is the kernel's, outside the address space proper. */
	if (!strcmp(r->path, "[vsyscall]"))
		return 0;
	if (!strcmp(r->path, "[heap]")) {
		c->s->brk_start = r->start;
		c->s->brk_end = r->end;
	}
	for (; at < r->end; at = next) {
		int heap = at >= c->heap_lo && at < c->heap_hi && r->anon && !r->shared;

		if (heap) {
			next = r->end < c->heap_hi ? r->end : c->heap_hi;
			err = seed_entry(c, r, at, next - at, 1);
		} else {
			next = next_heap(c, r, at);
			err = next > at ? seed_blocks(c, r, at, next) : 0;
		}
		if (err < 0)
			return err;
	}
	return 0;
}

/* Reset the table to the regions of /proc/PID/maps. */
int account_seed(struct mt_session *s, pid_t pid)
{
	struct seed_ctx c = {s, pid, 0, 0};

	maps_clear(&s->maps);
	s->seeded_count = s->seeded_bytes = 0;
	return procmaps_read(pid, seed_one, &c);
}
