/*
 * unwind.c - the native stack of a stopped thread, with libunwind-ptrace.
 *
 * libunwind's ptrace accessors read target memory one word at a time with
 * PTRACE_PEEKDATA.  Ours reads whole pages with process_vm_readv and keeps
 * them for the duration of one capture (the thread is stopped, its memory
 * does not change under us); the other accessors are _UPT_*'s own.  The
 * libunwind-ptrace state of a task is made at its first capture and kept,
 * so its cached unwind tables serve the next capture too.
 *
 * _UPT_find_proc_info() finds an object's unwind tables by opening the path
 * /proc/PID/maps shows, which fails for an object deleted since it was
 * mapped and reads the wrong tables for one replaced (a library upgraded
 * under a running service).  Ours looks the pc up in the stack table's
 * snapshot, which knows where each object's .eh_frame_hdr was loaded, and
 * searches that table in target memory: the tables of the code that
 * actually runs.  Pcs outside any object with one (JIT code, the vdso) go
 * to _UPT_find_proc_info() as before.
 *
 * Only resident pages are read from the target (tmem.c): a stack page that
 * is not ends the walk, and a page of an object's unwind tables the target
 * never touched (most programs never unwind) is read from the object's file
 * instead, as the kernel would have filled it.
 *
 * A JVM's code has no unwind tables and compiled Java frames keep no frame
 * pointer: at the first pc in it, hotspot.c walks the Java frames, and
 * libunwind starts again from the native frame that walk ends at (its pc,
 * sp and fp stand for the thread's registers from then on).
 */
#include <libunwind-ptrace.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/uio.h>

#include "internal.h"

#define CACHE_PAGES 16

/* Exported by libunwind but not declared (perf declares it the same way). */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

/* .eh_frame_hdr encodings (LSB, Exception Frames). */
#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_datarel 0x30

/*
 * The capture in progress.  libunwind passes each accessor the argument of
 * whoever called it, and _UPT_find_proc_info() calls access_mem with its
 * own (the UPT state), so the page cache is found through this pointer,
 * not through the argument.  Captures run one at a time on the tracer
 * thread.
 */
struct unwind_cache {
	const struct mt_session *s;
	void *upt;
	pid_t tid;
	const struct region *r; /* of the pc whose tables are being searched */
	int resumed; /* after Java frames: the registers below stand for the thread's */
	uint64_t pc, sp, fp;
	/* Any page may take any slot, the oldest read giving way; LAST: the latest hit. */
	unsigned next, last;
	struct {
		uint64_t page;
		int valid;
		unsigned char data[4096];
	} page[CACHE_PAGES];
};

static struct unwind_cache *current;

/*
 * Fill DATA with the page at PAGE of the object whose tables C is searching,
 * from its file; 0, or -1 when PAGE is not in that object's file.
 */
static int file_page(struct unwind_cache *c, uint64_t page, unsigned char *data)
{
	const struct object *o = c->r && c->r->obj ? c->s->stacks.objects[c->r->obj] : NULL;
	uint64_t bias, va;
	ssize_t n;

	if (!o || o->fd < 0 || !o->eh_frame_hdr || !c->r->eh_frame_hdr)
		return -1;
	bias = c->r->eh_frame_hdr - o->eh_frame_hdr;
	va = page - bias;
	for (unsigned i = 0; i < o->nloads; i++) {
		uint64_t lo = o->loads[i].vaddr & ~4095ull, hi = o->loads[i].vaddr + o->loads[i].filesz;

		if (va < lo || va >= hi ||
		    (va < o->loads[i].vaddr && o->loads[i].vaddr - va > o->loads[i].offset))
			continue;
		n = pread(o->fd, data, 4096, (off_t)(o->loads[i].offset - o->loads[i].vaddr + va));
		if (n < 0)
			return -1;
		/* Past the file's part of the segment, memory is zeros. */
		memset(data + n, 0, 4096 - (size_t)n);
		if (hi - va < 4096)
			memset(data + (hi - va), 0, 4096 - (hi - va));
		return 0;
	}
	return -1;
}

/* Read LEN bytes of target memory at ADDR through C's page cache; 0 or -1. */
static int cache_read(struct unwind_cache *c, uint64_t addr, void *buf, size_t len)
{
	unsigned char *out = buf;

	for (size_t i = 0; i < len; i++) {
		uint64_t at = addr + i, page = at & ~4095ull;
		size_t slot = c->last;

		if (!c->page[slot].valid || c->page[slot].page != page) {
			for (slot = 0; slot < CACHE_PAGES; slot++)
				if (c->page[slot].valid && c->page[slot].page == page)
					break;
		}
		if (slot == CACHE_PAGES) {
			struct iovec local, remote = {(void *)page, 4096};

			slot = c->next;
			c->next = (c->next + 1) % CACHE_PAGES;
			local = (struct iovec){c->page[slot].data, 4096};
			c->page[slot].valid = 0;
			if (tmem_page_resident(c->s->pagemap_fd, page)) {
				if (process_vm_readv(c->tid, &local, 1, &remote, 1, 0) != 4096)
					return -1;
			} else if (file_page(c, page, c->page[slot].data) < 0) {
				return -1;
			}
			c->page[slot].page = page;
			c->page[slot].valid = 1;
		}
		c->last = slot;
		out[i] = c->page[slot].data[at & 4095];
	}
	return 0;
}

/*
 * Read one word of target memory through the page cache.  Never through
 * _UPT_access_mem(): PTRACE_PEEKDATA faults in what it reads.
 */
static int acc_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write,
			  void *arg)
{
	struct unwind_cache *c = current;

	if (write || !c || cache_read(c, addr, val, sizeof(*val)) < 0)
		return -UNW_EINVAL;
	return 0;
}

/* The thread's registers, or the frame Java frames were walked to. */
static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write,
			  void *arg)
{
	struct unwind_cache *c = current;

	if (!write && c && c->upt == arg && c->resumed &&
	    (reg == UNW_X86_64_RIP || reg == UNW_X86_64_RSP || reg == UNW_X86_64_RBP)) {
		*val = reg == UNW_X86_64_RIP ? c->pc : reg == UNW_X86_64_RSP ? c->sp : c->fp;
		return 0;
	}
	return _UPT_access_reg(as, reg, val, write, arg);
}

/*
 * Find the unwind info for IP in the .eh_frame_hdr search table of the
 * object mapped there, read from target memory (see the top comment).
 */
static int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			      int need_unwind_info, void *arg)
{
	struct unwind_cache *c = current;
	const struct region *r = c && c->upt == arg ? stack_region(c->s, ip) : NULL;
	unsigned char hdr[12];
	uint32_t fdes;

	if (c)
		c->r = r;

	/* version 1; eh_frame_ptr in 4 bytes; fde_count udata4; table datarel sdata4. */
	if (r && r->eh_frame_hdr && cache_read(c, r->eh_frame_hdr, hdr, sizeof(hdr)) == 0 &&
	    hdr[0] == 1 && ((hdr[1] & 0x0f) == DW_EH_PE_udata4 || (hdr[1] & 0x0f) == DW_EH_PE_sdata4) &&
	    hdr[2] == DW_EH_PE_udata4 && hdr[3] == (DW_EH_PE_datarel | DW_EH_PE_sdata4)) {
		unw_dyn_info_t di = {
			.start_ip = r->start,
			.end_ip = r->end,
			.format = UNW_INFO_FORMAT_REMOTE_TABLE,
			.u.rti = {.segbase = r->eh_frame_hdr, .table_data = r->eh_frame_hdr + 12},
		};

		memcpy(&fdes, hdr + 8, sizeof(fdes));
		/* Each entry is two 4-byte offsets; the length counts words. */
		di.u.rti.table_len = (unw_word_t)fdes * 8 / sizeof(unw_word_t);
		if (UNW_OBJ(dwarf_search_unwind_table)(as, ip, &di, pi, need_unwind_info, arg) == 0)
			return 0;
	}
	/*
	 * Code in anonymous memory (a JVM's interpreter and JIT code) has no
	 * tables: _UPT_find_proc_info() would read /proc/PID/maps only to fail,
	 * some 100 us a frame on a JVM.  Without info, libunwind steps by
	 * frame pointer, as it does after that failure.
	 */
	if (r && !r->obj)
		return -UNW_ENOINFO;
	return _UPT_find_proc_info(as, ip, pi, need_unwind_info, arg);
}

/*
 * Whether a probe of PROBE frames (0: none) has just come to its end in
 * the N pcs taken, and found no direct-memory path there: then the walk
 * stops.  Checked once, when N first reaches PROBE.
 */
static int probe_fails(struct mt_session *s, const uint64_t *pcs, unsigned n, unsigned probe,
		       int *probed)
{
	if (!probe || *probed || n < probe)
		return 0;
	*probed = 1;
	return !stack_is_direct(s, pcs, n);
}

/*
 * Capture up to MAX pcs of stopped task T, innermost first; with PROBE,
 * stop after PROBE unless they pass through the direct-memory path.
 */
unsigned unwind_capture(struct mt_session *s, struct task *t, uint64_t *pcs, unsigned max,
			unsigned probe)
{
	static unw_accessors_t accessors;
	struct unwind_cache *c;
	struct hs_target *jvm = NULL;
	unw_cursor_t cur;
	unsigned n = 0;
	int looked = 0, probed = 0;

	if (!s->unw_as) {
		accessors = _UPT_accessors;
		accessors.access_mem = acc_access_mem;
		accessors.find_proc_info = acc_find_proc_info;
		accessors.access_reg = acc_access_reg;
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
	c->s = s;
	c->upt = t->upt;
	c->tid = t->tid;
	c->r = NULL;
	for (size_t i = 0; i < CACHE_PAGES; i++)
		c->page[i].valid = 0;
	c->next = c->last = 0;
	c->resumed = 0;
	current = c;
	for (int ok = unw_init_remote(&cur, s->unw_as, t->upt) == 0; ok && n < max;
	     ok = unw_step(&cur) > 0) {
		unw_word_t ip, sp, fp;
		const struct region *r;

		if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0 || !ip)
			break;
		if (!jvm && !looked && (r = stack_region(s, ip)) && !r->obj) {
			looked = 1;
			jvm = hs_target_get(s, t->pid);
		}
		if (!hs_target_in_code(jvm, ip) || unw_get_reg(&cur, UNW_REG_SP, &sp) < 0 ||
		    unw_get_reg(&cur, UNW_X86_64_RBP, &fp) < 0) {
			pcs[n++] = ip;
			if (probe_fails(s, pcs, n, probe, &probed))
				break;
			continue;
		}
		c->pc = ip;
		c->sp = sp;
		c->fp = fp;
		n += hs_target_walk(jvm, &c->pc, &c->sp, &c->fp, pcs + n, max - n);
		c->resumed = 1;
		if (probe_fails(s, pcs, n, probe, &probed))
			break;
		if (!c->pc || n >= max || unw_init_remote(&cur, s->unw_as, t->upt) < 0)
			break;
		/* The frame the walk ended at: the loop's step must not skip it. */
		if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0 || !ip)
			break;
		pcs[n++] = ip;
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
