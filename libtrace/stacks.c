/*
 * stacks.c - the stack table: interned stacks of (object, offset) frames.
 *
 * At capture time (a target thread is stopped) a pc only becomes an
 * (object, file offset) pair, looked up in a snapshot of the target's
 * executable mappings; the snapshot is re-read only after the table saw a
 * new executable mapping.  Each object's file is opened once, through
 * /proc/PID/map_files (so it works across mount namespaces and for deleted
 * files), and kept open: names are looked up lazily at query time
 * (symbols.c), even after the library was unloaded.  Frames in anonymous
 * executable memory (JIT code) keep their absolute pc; an interpreted Java
 * frame keeps its Method* (hotspot.c).
 *
 * Stacks are interned: equal stacks share one id, so a million events do
 * not store a million copies.  Ids start at 1; 0 means "no stack".  The
 * tables only grow; they are written by the tracer thread under the
 * session lock and read by queries under it.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "procmaps.h"

#define MAX_OBJECTS 4096
#define MAX_STACKS  (1u << 20)

/* FNV-1a over the frames. */
static uint64_t stack_hash(const struct frame *f, unsigned n)
{
	const unsigned char *p = (const unsigned char *)f;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n * sizeof(*f); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/*
 * Note where O's .eh_frame_hdr and loadable segments are, from the ELF
 * program headers of its open file (the one mapped, even if deleted or
 * replaced since), so the unwinder can find its tables in target memory.
 */
static void object_read_phdrs(struct object *o)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[64];
	size_t n;

	if (pread(o->fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr))
		return;
	n = eh.e_phnum < 64 ? eh.e_phnum : 64;
	if (pread(o->fd, ph, n * sizeof(*ph), (off_t)eh.e_phoff) != (ssize_t)(n * sizeof(*ph)))
		return;
	for (size_t i = 0; i < n; i++) {
		if (ph[i].p_type == PT_GNU_EH_FRAME)
			o->eh_frame_hdr = ph[i].p_vaddr;
		else if (ph[i].p_type == PT_LOAD && o->nloads < OBJECT_LOADS)
			o->loads[o->nloads++] = (typeof(o->loads[0])){ph[i].p_vaddr, ph[i].p_offset,
								   ph[i].p_filesz};
	}
}

/*
 * Where O's .eh_frame_hdr is in the target, given one of its mappings R:
 * the segment mapped there says how far the object was moved at load.
 */
static uint64_t region_eh_frame_hdr(const struct object *o, const struct procmaps_region *r)
{
	if (!o->eh_frame_hdr)
		return 0;
	for (unsigned i = 0; i < o->nloads; i++) {
		uint64_t off = o->loads[i].offset;

		if (r->offset >= (off & ~4095ull) && r->offset < off + o->loads[i].filesz)
			return r->start - r->offset + off - o->loads[i].vaddr + o->eh_frame_hdr;
	}
	return 0;
}

/* The object for PATH/INODE, opened through map_files of [START, END); or 0. */
static uint32_t stack_object(struct mt_session *s, pid_t pid, const struct procmaps_region *r)
{
	struct stack_table *st = &s->stacks;
	struct object *o;
	char path[128];

	for (uint32_t i = 1; i < st->nobjects; i++)
		if (st->objects[i]->inode == r->inode && !strcmp(st->objects[i]->path, r->path))
			return i;
	/*
	 * The pointer array has a fixed size so it never moves: the query side
	 * reads objects[i] for i below nobjects without the lock.
	 */
	if (!st->objects) {
		st->objects = calloc(MAX_OBJECTS, sizeof(*st->objects));
		if (!st->objects)
			return 0;
		st->nobjects = 1; /* id 0: none */
	}
	if (st->nobjects >= MAX_OBJECTS)
		return 0;
	o = calloc(1, sizeof(*o));
	if (!o)
		return 0;
	st->objects[st->nobjects] = o;
	o->inode = r->inode;
	o->path = strdup(r->path);
	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)r->start,
		 (unsigned long)r->end);
	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (o->fd < 0 && r->path[0] == '/') {
		char alt[4200];

		snprintf(alt, sizeof(alt), "/proc/%d/root%s", pid, r->path);
		o->fd = open(alt, O_RDONLY | O_CLOEXEC);
	}
	if (!o->path) {
		if (o->fd >= 0)
			close(o->fd);
		free(o);
		return 0;
	}
	if (o->fd >= 0) {
		object_read_phdrs(o);
		direct_object(s, o);
	}
	__atomic_store_n(&st->nobjects, st->nobjects + 1, __ATOMIC_RELEASE);
	return st->nobjects - 1;
}

struct snap_ctx {
	struct mt_session *s;
	pid_t pid;
	struct region *v;
	size_t n, cap;
};

/* Add one executable region to the snapshot being built. */
static int snap_one(const struct procmaps_region *r, void *arg)
{
	struct snap_ctx *c = arg;

	if (!(r->prot & PROT_EXEC) || !strcmp(r->path, "[vsyscall]"))
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct region *n = realloc(c->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->v = n;
		c->cap = cap;
	}
	c->v[c->n] = (struct region){
		.start = r->start,
		.end = r->end,
		.offset = r->offset,
		.obj = r->path[0] == '/' ? stack_object(c->s, c->pid, r) : 0,
	};
	if (c->v[c->n].obj) {
		const struct object *o = c->s->stacks.objects[c->v[c->n].obj];

		c->v[c->n].eh_frame_hdr = region_eh_frame_hdr(o, r);
		if (object_has_direct(o))
			c->s->direct_known = 1;
	}
	c->n++;
	return 0;
}

/* Re-read the executable regions of PID when the table changed them. */
void stack_refresh(struct mt_session *s, pid_t pid)
{
	struct snap_ctx c = {s, pid, NULL, 0, 0};

	if (!s->stacks.dirty)
		return;
	if (procmaps_read(pid, snap_one, &c) < 0) {
		free(c.v);
		return;
	}
	free(s->stacks.regions);
	s->stacks.regions = c.v;
	s->stacks.nregions = c.n;
	s->stacks.dirty = 0;
	s->stacks.gen++;
}

/* The snapshot region holding PC, or NULL. */
const struct region *stack_region(const struct mt_session *s, uint64_t pc)
{
	size_t lo = 0, hi = s->stacks.nregions;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct region *r = &s->stacks.regions[mid];

		if (pc < r->start)
			hi = mid;
		else if (pc >= r->end)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/* Turn PC, its Java code told by ID as hs_walk() has it (0: not), into a frame using the snapshot. */
static struct frame stack_frame(const struct mt_session *s, uint64_t pc, uint64_t id)
{
	const struct region *r;

	if (pc & HS_TAG_INTERP)
		return (struct frame){HS_FRAME_IS_INTERP(id) ? id : HS_FRAME_INTERP,
				      pc & ~HS_TAG_INTERP};
	r = stack_region(s, pc);
	if (r && r->obj)
		return (struct frame){r->obj, pc - r->start + r->offset};
	return (struct frame){HS_FRAME_IS_NMETHOD(id) ? id : 0, pc};
}

/*
 * Intern the stack of N pcs, IDS (may be NULL) what tells each one's Java
 * code from code later in its place (hs_walk()) or 0; returns its id, 0
 * when it cannot be stored.
 */
uint32_t stack_intern(struct mt_session *s, const uint64_t *pcs, const uint64_t *ids, unsigned n)
{
	struct stack_table *st = &s->stacks;
	struct frame f[MT_STACK_MAX];
	uint64_t h;
	size_t slot;

	if (!n)
		return 0;
	if (n > MT_STACK_MAX)
		n = MT_STACK_MAX;
	for (unsigned i = 0; i < n; i++)
		f[i] = stack_frame(s, pcs[i], ids ? ids[i] : 0);
	h = stack_hash(f, n);
	/* Open addressing, kept at most half full. */
	if (2 * (st->nstacks + 1) > st->hash_cap) {
		size_t cap = st->hash_cap ? st->hash_cap * 2 : 1024;
		uint32_t *nh = calloc(cap, sizeof(*nh));

		if (!nh || st->nstacks >= MAX_STACKS) {
			free(nh);
			return 0;
		}
		for (uint32_t id = 1; id <= st->nstacks; id++) {
			for (slot = st->stacks[id]->hash % cap; nh[slot]; slot = (slot + 1) % cap)
				;
			nh[slot] = id;
		}
		free(st->hash);
		st->hash = nh;
		st->hash_cap = cap;
	}
	for (slot = h % st->hash_cap; st->hash[slot]; slot = (slot + 1) % st->hash_cap) {
		const struct stack *k = st->stacks[st->hash[slot]];

		if (k->hash == h && k->n == n && !memcmp(k->frames, f, n * sizeof(*f)))
			return st->hash[slot];
	}
	if (st->nstacks + 1 >= st->cap_stacks) {
		size_t cap = st->cap_stacks ? st->cap_stacks * 2 : 1024;
		struct stack **ns = realloc(st->stacks, cap * sizeof(*ns));

		if (!ns)
			return 0;
		st->stacks = ns;
		st->cap_stacks = cap;
	}
	struct stack *k = malloc(sizeof(*k) + n * sizeof(*f));

	if (!k)
		return 0;
	k->hash = h;
	k->n = n;
	memcpy(k->frames, f, n * sizeof(*f));
	/* A frame in anonymous memory: JIT code that a perf map may name (perfmap.c). */
	for (unsigned i = 0; i < n; i++)
		if (!f[i].obj || HS_FRAME_IS_NMETHOD(f[i].obj)) {
			perf_map_want(s);
			break;
		}
	st->stacks[++st->nstacks] = k;
	st->hash[slot] = st->nstacks;
	return st->nstacks;
}

/* Copy the frames of stack ID into OUT; returns their number. Lock held. */
unsigned stack_get(const struct mt_session *s, uint32_t id, struct frame *out, unsigned max)
{
	const struct stack *k;
	unsigned n;

	if (!id || id > s->stacks.nstacks)
		return 0;
	k = s->stacks.stacks[id];
	n = k->n < max ? k->n : max;
	memcpy(out, k->frames, n * sizeof(*out));
	return n;
}

/* Free the stack table. */
void stack_free(struct stack_table *st)
{
	for (uint32_t id = 1; id <= st->nstacks; id++)
		free(st->stacks[id]);
	for (uint32_t i = 1; st->objects && i < st->nobjects; i++) {
		if (st->objects[i]->fd >= 0)
			close(st->objects[i]->fd);
		free(st->objects[i]->path);
		sym_free(st->objects[i]->syms);
		free(st->objects[i]);
	}
	free(st->stacks);
	free(st->hash);
	free(st->objects);
	free(st->regions);
	memset(st, 0, sizeof(*st));
}
