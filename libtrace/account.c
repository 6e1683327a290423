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
	account_delta(s, t, before);
}

/* mprotect: PROT_NONE is reserved, anything else committed. */
void account_mprotect(struct mt_session *s, struct task *t, const struct mt_event *ev)
{
	maps_protect(&s->maps, ev->args[0], page_up(ev->args[1]), (int)ev->args[2]);
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

/* Enter one /proc/PID/maps region as a preexisting mapping. */
static int seed_one(const struct procmaps_region *r, void *arg)
{
	struct mt_session *s = arg;
	struct maps_entry e = {
		.start = r->start,
		.len = r->end - r->start,
		.prot = r->prot,
		.flags = r->shared ? MAP_SHARED : MAP_PRIVATE,
		.kind = MT_MAP_PREEXISTING,
	};

	if (r->anon)
		e.kind |= MT_MAP_ANON;
	if (!strcmp(r->path, "[heap]")) {
		e.kind |= MT_MAP_BRK;
		s->brk_start = r->start;
		s->brk_end = r->end;
	}
	if (maps_map(&s->maps, &e) < 0)
		return -ENOMEM;
	s->seeded_count++;
	s->seeded_bytes += e.len;
	return 0;
}

/* Reset the table to the regions of /proc/PID/maps. */
int account_seed(struct mt_session *s, pid_t pid)
{
	maps_clear(&s->maps);
	s->seeded_count = s->seeded_bytes = 0;
	return procmaps_read(pid, seed_one, s);
}
