/*
 * unwind.c - the native stack of a stopped thread, with libunwind-ptrace.
 *
 * libunwind's ptrace accessors read target memory one word at a time with
 * PTRACE_PEEKDATA.  Ours reads whole pages with process_vm_readv and keeps
 * them for the duration of one capture (the thread is stopped, its memory
 * does not change under us), the registers with one PTRACE_GETREGS; the
 * other accessors are _UPT_*'s own.  The libunwind-ptrace state of a task
 * is made at its first capture and kept, so its cached unwind tables serve
 * the next capture too.  Across captures, two things are kept by where the
 * thread stands (pc and stack pointer): the pages a capture read, read
 * ahead by the next one in a single call, and segments of native frames
 * with what libunwind read to step them, replayed while that still reads
 * the same (see struct unwind_memo).
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
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "internal.h"

#define CACHE_PAGES 32

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
	struct user_regs_struct regs; /* the thread's, read once (have_regs) */
	int have_regs;
	/* The segment being recorded (see struct unwind_memo); BAD: not to be kept. */
	struct unwind_memo *rec;
	int rec_bad;
	struct {
		uint64_t page;
		int valid;
		int used; /* read from the target and used in this capture */
		unsigned char data[4096];
	} page[CACHE_PAGES];
};

static struct unwind_cache *current;

/*
 * Walks remembered.  libunwind's own cache keeps, per pc, the rules of how
 * to step from it, but takes a lock around each frame's use and blocks all
 * signals while it holds it: two rt_sigprocmask calls a frame, some 2.5 us
 * each on a virtual machine, most of a warmed-up JVM's stack capture.
 *
 * So a segment of native frames (from the thread's registers to the first
 * frame in Java code or to the end; or from the frame a Java walk ended at)
 * is recorded with everything libunwind took in while it stepped: each
 * register it read and each word of memory with its value.  libunwind is a
 * function of those inputs and of the unwind tables of the objects mapped
 * (the snapshot's, whose generation the memo keeps; an exec flushes all):
 * when a later capture starts a segment at the same pc and stack pointer,
 * and every recorded register and word still holds the value recorded,
 * libunwind would read the same and step to the same frames, so they are
 * taken from the memo without calling it.  A word read from a page the
 * target no longer has resident fails the check (tmem.c reads only such
 * pages): the walk is then made live, as it would have been.
 *
 * Only segments whose recording read few pages are kept (the stack's,
 * which the capture reads anyway): a recording that searched unwind tables
 * (libunwind met the pc for the first time) or stepped through a frame
 * libunwind gave up on is not, nor one whose reads failed or overflowed.
 */
#define MEMO_SLOTS 64
#define MEMO_READS 96
#define MEMO_REGS  8
#define MEMO_PAGES 3

struct unwind_memo {
	uint64_t pc, sp; /* where the segment starts */
	int resumed;	 /* after Java frames */
	unsigned long stacks_gen, unw_gen;
	int complete; /* libunwind came to the end; else the caller stopped it */
	unsigned nframes, nreads, nregs;
	struct {
		uint64_t ip, sp, fp;
	} f[MT_STACK_MAX];
	struct {
		uint64_t addr, val;
	} rd[MEMO_READS];
	struct {
		int reg;
		uint64_t val;
	} rg[MEMO_REGS];
};

/*
 * The pages a capture read, kept by where the thread stood (its pc and
 * stack pointer): the next capture from there reads them first, all in one
 * process_vm_readv, after one PAGEMAP_SCAN for each group of them within
 * 2 MiB (only resident pages are read, as ever).  A hint, not a result: the
 * capture still reads what it needs, and a page the hint did not bring is
 * read as before.
 */
#define PAGESET_SLOTS 64
#define PAGESET_PAGES (CACHE_PAGES / 2)

struct unwind_state {
	struct unwind_memo *memo[MEMO_SLOTS];
	struct {
		uint64_t pc, sp;
		unsigned n;
		uint64_t page[PAGESET_PAGES];
	} ps[PAGESET_SLOTS];
};

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
			c->page[slot].used = 0;
			if (tmem_page_resident(c->s->pagemap_fd, page)) {
				if (process_vm_readv(c->tid, &local, 1, &remote, 1, 0) != 4096)
					return -1;
				c->page[slot].used = 1;
			} else if (file_page(c, page, c->page[slot].data) < 0) {
				return -1;
			}
			c->page[slot].page = page;
			c->page[slot].valid = 1;
		} else if (c->page[slot].used < 0) {
			c->page[slot].used = 1; /* read ahead, and wanted */
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

	if (write || !c || cache_read(c, addr, val, sizeof(*val)) < 0) {
		if (c)
			c->rec_bad = 1;
		return -UNW_EINVAL;
	}
	if (c->rec) {
		struct unwind_memo *m = c->rec;

		if (m->nreads == MEMO_READS) {
			c->rec_bad = 1;
		} else {
			m->rd[m->nreads].addr = addr;
			m->rd[m->nreads++].val = *val;
		}
	}
	return 0;
}

/* The value of REG for C: the thread's, or the frame Java frames were walked to. */
static int reg_value(struct unwind_cache *c, unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val)
{
	if (c->resumed &&
	    (reg == UNW_X86_64_RIP || reg == UNW_X86_64_RSP || reg == UNW_X86_64_RBP)) {
		*val = reg == UNW_X86_64_RIP ? c->pc : reg == UNW_X86_64_RSP ? c->sp : c->fp;
		return 0;
	}
	if (reg >= UNW_X86_64_RAX && reg <= UNW_X86_64_RIP) {
		const unsigned long long *v[] = {
		    &c->regs.rax, &c->regs.rdx, &c->regs.rcx, &c->regs.rbx, &c->regs.rsi,
		    &c->regs.rdi, &c->regs.rbp, &c->regs.rsp, &c->regs.r8,  &c->regs.r9,
		    &c->regs.r10, &c->regs.r11, &c->regs.r12, &c->regs.r13, &c->regs.r14,
		    &c->regs.r15, &c->regs.rip};

		/* One PTRACE_GETREGS a capture; _UPT_access_reg() makes one a register. */
		if (!c->have_regs) {
			if (ptrace(PTRACE_GETREGS, c->tid, NULL, &c->regs) < 0)
				return -UNW_EBADREG;
			c->have_regs = 1;
		}
		*val = *v[reg - UNW_X86_64_RAX];
		return 0;
	}
	return _UPT_access_reg(as, reg, val, 0, c->upt);
}

/* The thread's registers, or the frame Java frames were walked to. */
static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write,
			  void *arg)
{
	struct unwind_cache *c = current;
	int ret;

	if (write || !c || c->upt != arg)
		return _UPT_access_reg(as, reg, val, write, arg);
	ret = reg_value(c, as, reg, val);
	if (c->rec) {
		struct unwind_memo *m = c->rec;

		if (ret < 0 || m->nregs == MEMO_REGS) {
			c->rec_bad = 1;
		} else {
			m->rg[m->nregs].reg = reg;
			m->rg[m->nregs++].val = *val;
		}
	}
	return ret;
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
	/* Reads /proc and files the memo does not see: not a segment to keep. */
	if (c)
		c->rec_bad = 1;
	return _UPT_find_proc_info(as, ip, pi, need_unwind_info, arg);
}

/* Whether PC is in a snapshot region of no object (JIT code, perhaps). */
static int r_is_anon(const struct mt_session *s, uint64_t pc)
{
	const struct region *r = stack_region(s, pc);

	return r && !r->obj;
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

/* The memo slot for a segment starting at PC and SP. */
static struct unwind_memo **memo_slot(struct mt_session *s, uint64_t pc, uint64_t sp, int resumed)
{
	uint64_t h =
	    (pc ^ (sp * 0x9e3779b97f4a7c15ull) ^ (uint64_t)resumed) * 0xff51afd7ed558ccdull;

	if (!s->unw && !(s->unw = calloc(1, sizeof(*s->unw))))
		return NULL;
	return &s->unw->memo[(h >> 32) % MEMO_SLOTS];
}

/* Note the run [LO, HI) of resident pages in *ARG's pages to read ahead. */
struct ahead {
	uint64_t *page;
	int *present;
	unsigned n;
};

static int ahead_run(uint64_t lo, uint64_t hi, unsigned state, void *arg)
{
	struct ahead *a = arg;

	for (unsigned i = 0; i < a->n; i++)
		if (a->page[i] >= lo && a->page[i] < hi)
			a->present[i] = state == TMEM_PRESENT;
	return 0;
}

/* The hash of a capture's pc and stack pointer, for its page set. */
static uint64_t pageset_hash(uint64_t pc, uint64_t sp)
{
	return ((pc ^ (sp * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull) >> 32;
}

/* Read ahead the pages the last capture from C's pc and stack pointer read; see above. */
static void pages_ahead(struct mt_session *s, struct unwind_cache *c, uint64_t pc, uint64_t sp)
{
	uint64_t page[PAGESET_PAGES];
	int present[PAGESET_PAGES] = {0};
	struct iovec local[PAGESET_PAGES], remote[PAGESET_PAGES];
	unsigned n, k = 0, slot[PAGESET_PAGES];
	struct ahead a = {page, present, 0};
	ssize_t got;
	size_t h;

	if (!s->unw)
		return;
	h = pageset_hash(pc, sp) % PAGESET_SLOTS;
	if (s->unw->ps[h].pc != pc || s->unw->ps[h].sp != sp || !s->unw->ps[h].n)
		return;
	n = s->unw->ps[h].n;
	memcpy(page, s->unw->ps[h].page, n * sizeof(page[0]));
	a.n = n;
	/* Sorted when kept: one scan a group of pages within 2 MiB. */
	for (unsigned i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && page[j] - page[i] < (2u << 20); j++)
			;
		if (tmem_scan(s->pagemap_fd, page[i], page[j - 1] + 4096, ahead_run, &a) < 0)
			return;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!present[i])
			continue;
		slot[k] = c->next;
		c->next = (c->next + 1) % CACHE_PAGES;
		c->page[slot[k]].valid = 0;
		local[k] = (struct iovec){c->page[slot[k]].data, 4096};
		remote[k] = (struct iovec){(void *)(uintptr_t)page[i], 4096};
		k++;
	}
	if (!k)
		return;
	/* A failed element ends the read: the pages before it are good. */
	got = process_vm_readv(c->tid, local, k, remote, k, 0);
	for (unsigned i = 0; got >= 4096 && i < k; i++, got -= 4096) {
		c->page[slot[i]].page = (uint64_t)(uintptr_t)remote[i].iov_base;
		c->page[slot[i]].valid = 1;
		c->page[slot[i]].used = -1;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Keep the pages this capture from PC and SP read from the target; see above. */
static void pages_keep(struct mt_session *s, struct unwind_cache *c, uint64_t pc, uint64_t sp)
{
	size_t h;
	unsigned n = 0;

	if (!s->unw && !(s->unw = calloc(1, sizeof(*s->unw))))
		return;
	h = pageset_hash(pc, sp) % PAGESET_SLOTS;
	for (size_t i = 0; i < CACHE_PAGES && n < PAGESET_PAGES; i++)
		if (c->page[i].valid && c->page[i].used > 0)
			s->unw->ps[h].page[n++] = c->page[i].page;
	qsort(s->unw->ps[h].page, n, sizeof(uint64_t), cmp_u64);
	s->unw->ps[h].pc = pc;
	s->unw->ps[h].sp = sp;
	s->unw->ps[h].n = n;
}

/* Read target memory for the Java walk through C's pages; see hs_target_walk(). */
static int walk_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	struct unwind_cache *c = arg;

	c->r = NULL; /* no object's file stands for a page here */
	return cache_read(c, addr, buf, len);
}

/* Whether memo M holds the segment C is about to walk from PC and SP; see above. */
static int memo_valid(struct unwind_cache *c, unw_addr_space_t as, const struct unwind_memo *m,
		      uint64_t pc, uint64_t sp)
{
	if (!m || m->pc != pc || m->sp != sp || m->resumed != c->resumed ||
	    m->stacks_gen != c->s->stacks.gen || m->unw_gen != c->s->unw_gen)
		return 0;
	c->r = NULL; /* target memory only: no object's file stands for a page */
	for (unsigned i = 0; i < m->nregs; i++) {
		unw_word_t v;

		if (reg_value(c, as, m->rg[i].reg, &v) < 0 || v != m->rg[i].val)
			return 0;
	}
	for (unsigned i = 0; i < m->nreads; i++) {
		uint64_t v;

		if (cache_read(c, m->rd[i].addr, &v, sizeof(v)) < 0 || v != m->rd[i].val)
			return 0;
	}
	return 1;
}

/* Keep the segment C recorded, if it is one to keep; see above. */
static void memo_keep(struct mt_session *s, struct unwind_cache *c, int complete)
{
	struct unwind_memo *m = c->rec, **slot;
	uint64_t pages[MEMO_PAGES];
	unsigned np = 0;

	c->rec = NULL;
	if (!m)
		return;
	for (unsigned i = 0; i < m->nreads && !c->rec_bad; i++) {
		uint64_t lo = m->rd[i].addr & ~4095ull, hi = (m->rd[i].addr + 7) & ~4095ull;
		unsigned k;

		for (uint64_t p = lo; p <= hi && !c->rec_bad; p += 4096) {
			for (k = 0; k < np && pages[k] != p; k++)
				;
			if (k < np)
				continue;
			if (np == MEMO_PAGES)
				c->rec_bad = 1;
			else
				pages[np++] = p;
		}
	}
	if (c->rec_bad || !m->nframes || !(slot = memo_slot(s, m->pc, m->sp, m->resumed))) {
		free(m);
		return;
	}
	m->complete = complete;
	free(*slot);
	*slot = m;
}

/*
 * The next frame of the segment in progress: from memo M (frame *AT of it)
 * or from libunwind's cursor, recording it in C's memo when one is being
 * recorded.  1 with IP, SP and FP (SP and FP 0 when unknown); 0 at the end
 * of the segment; -1 when M has no more frames though the segment went on.
 */
static int next_frame(struct unwind_cache *c, unw_cursor_t *cur, const struct unwind_memo *m,
		      unsigned *at, int first, uint64_t *ip, uint64_t *sp, uint64_t *fp)
{
	unw_word_t w;

	if (m) {
		if (*at == m->nframes)
			return m->complete ? 0 : -1;
		*ip = m->f[*at].ip;
		*sp = m->f[*at].sp;
		*fp = m->f[*at].fp;
		(*at)++;
		return 1;
	}
	if (!first && unw_step(cur) <= 0)
		return 0;
	if (unw_get_reg(cur, UNW_REG_IP, &w) < 0 || !w)
		return 0;
	*ip = w;
	*sp = unw_get_reg(cur, UNW_REG_SP, &w) < 0 ? 0 : w;
	*fp = 0;
	if (*sp && unw_get_reg(cur, UNW_X86_64_RBP, &w) == 0)
		*fp = w;
	else
		*sp = 0; /* unknown: such a frame is taken as native */
	if (c->rec) {
		if (!*sp || c->rec->nframes == MT_STACK_MAX) {
			c->rec_bad = 1;
		} else {
			c->rec->f[c->rec->nframes].ip = *ip;
			c->rec->f[c->rec->nframes].sp = *sp;
			c->rec->f[c->rec->nframes++].fp = *fp;
		}
	}
	return 1;
}

/*
 * Start a segment at the thread's registers or where a Java walk ended:
 * from a valid memo (*M) or with libunwind, recording.  0, or -1 when
 * libunwind cannot start.
 */
static int segment_start(struct mt_session *s, struct task *t, struct unwind_cache *c,
			 unw_cursor_t *cur, const struct unwind_memo **m)
{
	unw_word_t pc, sp;
	struct unwind_memo **slot = NULL;

	*m = NULL;
	if (reg_value(c, s->unw_as, UNW_X86_64_RIP, &pc) == 0 &&
	    reg_value(c, s->unw_as, UNW_X86_64_RSP, &sp) == 0 &&
	    (slot = memo_slot(s, pc, sp, c->resumed)) && memo_valid(c, s->unw_as, *slot, pc, sp)) {
		*m = *slot;
		return 0;
	}
	free(c->rec);
	c->rec = slot ? calloc(1, sizeof(*c->rec)) : NULL;
	c->rec_bad = 0;
	if (c->rec) {
		c->rec->pc = pc;
		c->rec->sp = sp;
		c->rec->resumed = c->resumed;
		c->rec->stacks_gen = s->stacks.gen;
		c->rec->unw_gen = s->unw_gen;
	}
	if (unw_init_remote(cur, s->unw_as, t->upt) < 0) {
		free(c->rec);
		c->rec = NULL;
		return -1;
	}
	return 0;
}

/*
 * Capture up to MAX pcs of stopped task T, innermost first, and for their
 * Java code what tells it from code later in its place in IDS (hs_walk()); with PROBE, stop after PROBE unless they
 * pass through the direct-memory path.
 */
unsigned unwind_capture(struct mt_session *s, struct task *t, uint64_t *pcs, uint64_t *ids,
			unsigned max, unsigned probe)
{
	static unw_accessors_t accessors;
	struct unwind_cache *c;
	struct hs_target *jvm = NULL;
	const struct unwind_memo *m;
	unw_cursor_t cur;
	unsigned n = 0, n0 = 0, at = 0;
	int looked = 0, probed = 0, first = 1, got;
	uint64_t ip, sp, fp;
	unw_word_t pc0 = 0, sp0 = 0;

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
	c->rec = NULL;
	c->have_regs = 0;
	current = c;
	if (reg_value(c, s->unw_as, UNW_X86_64_RIP, &pc0) == 0 &&
	    reg_value(c, s->unw_as, UNW_X86_64_RSP, &sp0) == 0)
		pages_ahead(s, c, pc0, sp0);
	if (segment_start(s, t, c, &cur, &m) < 0)
		goto out;
	while (n < max) {
		got = next_frame(c, &cur, m, &at, first, &ip, &sp, &fp);
		if (got < 0) {
			/* The memo ends where its recording was stopped: walk on live. */
			n = n0;
			first = 1;
			c->rec = NULL;
			if (unw_init_remote(&cur, s->unw_as, t->upt) < 0)
				break;
			m = NULL;
			continue;
		}
		if (!got) {
			memo_keep(s, c, 1);
			break;
		}
		if (first && c->resumed) {
			/* The frame the walk ended at: the step must not skip it. */
			first = 0;
			ids[n] = 0;
			pcs[n++] = ip;
			continue;
		}
		first = 0;
		if (!jvm && !looked && r_is_anon(s, ip)) {
			looked = 1;
			jvm = hs_target_get(s, t->pid);
		}
		if (!hs_target_in_code(jvm, ip) || !sp) {
			ids[n] = 0;
			pcs[n++] = ip;
			if (probe_fails(s, pcs, n, probe, &probed))
				break;
			continue;
		}
		memo_keep(s, c, 0);
		c->pc = ip;
		c->sp = sp;
		c->fp = fp;
		n += hs_target_walk(jvm, walk_read, c, &c->pc, &c->sp, &c->fp, pcs + n, ids + n,
				    max - n);
		c->resumed = 1;
		if (probe_fails(s, pcs, n, probe, &probed))
			break;
		if (!c->pc || n >= max || segment_start(s, t, c, &cur, &m) < 0)
			break;
		n0 = n;
		at = 0;
		first = 1;
	}
out:
	/*
	 * Stopped short (the probe's frames, or MAX): what was recorded holds
	 * for as far as it went, and a longer capture from here walks on live.
	 */
	if (c->rec)
		memo_keep(s, c, 0);
	if (pc0)
		pages_keep(s, c, pc0, sp0);
	free(c->rec);
	current = NULL;
	free(c);
	return n;
}

/* Forget what libunwind learned of the target's code, and the walks remembered. */
void unwind_flush(struct mt_session *s)
{
	if (s->unw_as)
		unw_flush_cache(s->unw_as, 0, 0);
	s->unw_gen++;
}

/* Release S's libunwind address space and remembered walks. */
void unwind_free(struct mt_session *s)
{
	if (s->unw)
		for (size_t i = 0; i < MEMO_SLOTS; i++)
			free(s->unw->memo[i]);
	free(s->unw);
	s->unw = NULL;
	if (s->unw_as)
		unw_destroy_addr_space(s->unw_as);
	s->unw_as = NULL;
}

/* Release T's libunwind state. */
void unwind_task_free(struct task *t)
{
	if (t->upt)
		_UPT_destroy(t->upt);
	t->upt = NULL;
}
