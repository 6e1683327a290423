/*
 * unwind.c - the native stack of a stopped thread, with libunwind-ptrace.
 *
 * libunwind's ptrace accessors read target memory one word at a time with
 * PTRACE_PEEKDATA.  Ours reads whole pages with process_vm_readv and keeps
 * them for the duration of one capture (the thread is stopped, its memory
 * does not change under us); the other accessors are _UPT_*'s own.  The
 * libunwind-ptrace state of a task is made at its first capture and kept,
 * so its cached unwind tables serve the next capture too.
 */
#include <libunwind-ptrace.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "internal.h"

#define CACHE_PAGES 16

/*
 * The capture in progress.  libunwind passes each accessor the argument of
 * whoever called it, and _UPT_find_proc_info() calls access_mem with its
 * own (the UPT state), so the page cache is found through this pointer,
 * not through the argument.  Captures run one at a time on the tracer
 * thread.
 */
struct unwind_cache {
	void *upt;
	pid_t tid;
	struct {
		uint64_t page;
		int valid;
		unsigned char data[4096];
	} page[CACHE_PAGES];
};

static struct unwind_cache *current;

/* Read one word of target memory through the page cache. */
static int acc_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write,
			  void *arg)
{
	struct unwind_cache *c = current;
	unsigned char word[sizeof(*val)];

	if (write || !c || c->upt != arg)
		return _UPT_access_mem(as, addr, val, write, arg);
	for (size_t i = 0; i < sizeof(word); i++) {
		uint64_t at = addr + i, page = at & ~4095ull;
		size_t slot = (page >> 12) % CACHE_PAGES;

		if (!c->page[slot].valid || c->page[slot].page != page) {
			struct iovec local = {c->page[slot].data, 4096};
			struct iovec remote = {(void *)page, 4096};

			if (process_vm_readv(c->tid, &local, 1, &remote, 1, 0) != 4096) {
				c->page[slot].valid = 0;
				return _UPT_access_mem(as, addr, val, write, arg);
			}
			c->page[slot].page = page;
			c->page[slot].valid = 1;
		}
		word[i] = c->page[slot].data[at & 4095];
	}
	memcpy(val, word, sizeof(word));
	return 0;
}

/* Capture up to MAX pcs of stopped task T, innermost first. */
unsigned unwind_capture(struct mt_session *s, struct task *t, uint64_t *pcs, unsigned max)
{
	static unw_accessors_t accessors;
	struct unwind_cache *c;
	unw_cursor_t cur;
	unsigned n = 0;

	if (!s->unw_as) {
		accessors = _UPT_accessors;
		accessors.access_mem = acc_access_mem;
		s->unw_as = unw_create_addr_space(&accessors, 0);
		if (!s->unw_as)
			return 0;
		unw_set_caching_policy(s->unw_as, UNW_CACHE_GLOBAL);
	}
	if (!t->upt && !(t->upt = _UPT_create(t->tid)))
		return 0;
	c = malloc(sizeof(*c));
	if (!c)
		return 0;
	c->upt = t->upt;
	c->tid = t->tid;
	for (size_t i = 0; i < CACHE_PAGES; i++)
		c->page[i].valid = 0;
	current = c;
	if (unw_init_remote(&cur, s->unw_as, t->upt) == 0) {
		do {
			unw_word_t ip;

			if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0 || !ip)
				break;
			pcs[n++] = ip;
		} while (n < max && unw_step(&cur) > 0);
	}
	current = NULL;
	free(c);
	return n;
}

/* Release T's libunwind state. */
void unwind_task_free(struct task *t)
{
	if (t->upt)
		_UPT_destroy(t->upt);
	t->upt = NULL;
}
