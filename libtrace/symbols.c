/*
 * symbols.c - names for frames, at query time.
 *
 * An object's symbols come from its own file (kept open since it was first
 * seen mapped) with libelf: .symtab when present, else the .symtab of its
 * debug file (/usr/lib/debug/.build-id/, Debian's -dbg packages), else
 * .dynsym; function symbols sorted by address.  A frame's file offset becomes a
 * virtual address through the PT_LOAD segment that holds it.  C++ names
 * are demangled with the C++ runtime's __cxa_demangle.  Symbol tables are
 * cached per object; objects with the same GNU build-id share one.
 *
 * Frames in a HotSpot JVM's code are named from the JVM's own structures
 * (hotspot.c).  Other frames in anonymous executable memory, and those a
 * JVM's structures cannot name, are named from
 * /tmp/perf-PID.map when the JVM writes one (a "START SIZE name" line per
 * compiled method), read when frames are named, so also after the JVM
 * exited (-XX:+DumpPerfMapAtExit); otherwise "[unknown]", and the JVM may
 * be asked for a newer map (perfmap.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* From the C++ runtime (libstdc++), linked for demangling. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

struct sym {
	uint64_t addr, size;
	char *name;
};

struct load {
	uint64_t offset, vaddr, filesz;
};

struct symtab {
	struct sym *v;
	size_t n;
	struct load *loads;
	size_t nloads;
	char build_id[41];
	int failed;
	int refs;
};

/* Release T when its last user goes; accepts NULL. */
void sym_free(struct symtab *t)
{
	if (!t || --t->refs > 0)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].name);
	free(t->v);
	free(t->loads);
	free(t);
}

static int sym_cmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return (x->addr > y->addr) - (x->addr < y->addr);
}

/* Read the GNU build-id note of E into HEX. */
static void sym_build_id(Elf *e, char hex[41])
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	hex[0] = '\0';
	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *d;
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE || !(d = elf_getdata(scn, NULL)))
			continue;
		while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_descsz > 20)
				continue;
			for (size_t i = 0; i < nh.n_descsz; i++)
				snprintf(hex + 2 * i, 3, "%02x", ((unsigned char *)d->d_buf)[desc_off + i]);
			return;
		}
	}
}

/* Read E's function symbols into T: .symtab only (SYMTAB_ONLY), else .dynsym too. */
static size_t sym_read(Elf *e, struct symtab *t, int symtab_only)
{
	Elf_Scn *scn = NULL, *best = NULL;
	size_t cap = t->n;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn)))
		if (gelf_getshdr(scn, &sh) && (sh.sh_type == SHT_SYMTAB ||
					       (sh.sh_type == SHT_DYNSYM && !best && !symtab_only)))
			best = scn;
	if (!best || !gelf_getshdr(best, &sh))
		return 0;
	Elf_Data *d = elf_getdata(best, NULL);
	size_t count = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;

	for (size_t i = 0; d && i < count; i++) {
		GElf_Sym sym;
		const char *name;
		int type;

		if (!gelf_getsym(d, (int)i, &sym) || !sym.st_value || sym.st_shndx == SHN_UNDEF)
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		if (!(name = elf_strptr(e, sh.sh_link, sym.st_name)) || !*name)
			continue;
		if (t->n == cap) {
			cap = cap ? cap * 2 : 256;
			struct sym *n = realloc(t->v, cap * sizeof(*n));

			if (!n)
				break;
			t->v = n;
		}
		t->v[t->n].addr = sym.st_value;
		t->v[t->n].size = sym.st_size;
		if (!(t->v[t->n].name = strdup(name)))
			break;
		t->n++;
	}
	qsort(t->v, t->n, sizeof(*t->v), sym_cmp);
	return t->n;
}

/* Load the symbols of the ELF file open at FD. */
static struct symtab *sym_load(int fd)
{
	struct symtab *t = calloc(1, sizeof(*t));
	size_t nph;
	Elf *e;

	if (!t)
		return NULL;
	t->refs = 1;
	elf_version(EV_CURRENT);
	if (fd < 0 || !(e = elf_begin(fd, ELF_C_READ_MMAP, NULL))) {
		t->failed = 1;
		return t;
	}
	sym_build_id(e, t->build_id);
	if (elf_getphdrnum(e, &nph) == 0 && (t->loads = calloc(nph ? nph : 1, sizeof(*t->loads)))) {
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD)
				t->loads[t->nloads++] =
					(struct load){ph.p_offset, ph.p_vaddr, ph.p_filesz};
		}
	}
	/* Stripped objects keep their .symtab in a debug file found by build-id. */
	if (!sym_read(e, t, 1) && t->build_id[0]) {
		char path[128];
		int dfd;
		Elf *de;

		snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug", t->build_id,
			 t->build_id + 2);
		if ((dfd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			if ((de = elf_begin(dfd, ELF_C_READ_MMAP, NULL))) {
				sym_read(de, t, 1);
				elf_end(de);
			}
			close(dfd);
		}
	}
	if (!t->n)
		sym_read(e, t, 0);
	elf_end(e);
	return t;
}

/* The symbol table of object O, loaded once, shared by build-id. */
static struct symtab *sym_table(struct mt_session *s, struct object *o)
{
	if (o->syms)
		return o->syms;
	o->syms = sym_load(o->fd);
	if (!o->syms || !o->syms->build_id[0])
		return o->syms;
	/* Another object with the same build-id already has these symbols. */
	uint32_t n = __atomic_load_n(&s->stacks.nobjects, __ATOMIC_ACQUIRE);

	for (uint32_t i = 1; i < n; i++) {
		struct object *p = s->stacks.objects[i];

		if (p != o && p->syms && !strcmp(p->syms->build_id, o->syms->build_id)) {
			sym_free(o->syms);
			o->syms = p->syms;
			o->syms->refs++;
			break;
		}
	}
	return o->syms;
}

/* The symbol containing virtual address VA, or the nearest one below. */
static const struct sym *sym_lookup(const struct symtab *t, uint64_t va)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->v[mid].addr <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	/* A sized symbol must contain VA; an unsized one is a best guess, so no. */
	if (t->v[lo - 1].size && va >= t->v[lo - 1].addr + t->v[lo - 1].size)
		return NULL;
	return t->v[lo - 1].size ? &t->v[lo - 1] : NULL;
}

/* Write NAME demangled (when it is a C++ name) into BUF. */
static void sym_demangle(const char *name, char *buf, size_t size)
{
	int status = -1;
	char *d = NULL;

	if (!strncmp(name, "_Z", 2))
		d = __cxa_demangle(name, NULL, NULL, &status);
	snprintf(buf, size, "%s", d && status == 0 ? d : name);
	free(d);
}

/*
 * Open the perf map at PATH if it is a regular file of the target's owner
 * OWNER (-1: unknown, never matches) last written within [LO, HI] ns, or
 * return NULL.  /tmp is anyone's: a FIFO planted there must not block us
 * (O_NONBLOCK, then S_ISREG), and a map another user wrote is not the
 * JVM's.
 */
static FILE *sym_perf_map_fopen(const char *path, uid_t owner, int64_t lo, int64_t hi)
{
	struct stat st;
	int64_t mtime;
	FILE *f;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || owner == (uid_t)-1 || st.st_uid != owner)
		goto close_fd;
	mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (mtime < lo || mtime > hi || !(f = fdopen(fd, "r")))
		goto close_fd;
	return f;
close_fd:
	close(fd);
	return NULL;
}

/*
 * Open the perf map of S's target, or NULL.  While the target lives, that
 * is its own /tmp/perf-<its pid>.map, read through its root and with its
 * pid as its namespace numbers it, so a container's JVM is found and a
 * file another user planted in our /tmp for another pid is not.
 *
 * -XX:+DumpPerfMapAtExit writes the map as the JVM exits, when that path
 * is gone with /proc/PID.  The session keeps no copy of the JVM's root and
 * namespace pid, so once the target has exited the map is looked for only
 * in memtraced's own /tmp under the pid memtraced knew: the JVM's own when
 * both share their pid and mount namespaces, as when memtraced launched
 * it.  A containerized JVM wrote its map elsewhere, and its frames stay
 * [unknown].  The file is taken only if it was last written while the
 * target was traced (1 s slack for coarse file times), so neither a stale
 * map of an earlier process with this pid nor a later one is ever used.
 * Either way it must belong to the target's user.
 */
static FILE *sym_perf_map_open(struct mt_session *s)
{
	const int64_t slack = 1000000000;
	char path[96], line[256];
	int64_t start, end;
	enum mt_state state;
	pid_t ns = s->pid, mm;
	uid_t owner;

	pthread_mutex_lock(&s->lock);
	state = s->state;
	start = s->start_ns;
	end = s->end_ns;
	owner = s->target_uid;
	pthread_mutex_unlock(&s->lock);
	if (state != MT_STATE_EXITED) {
		/* A live thread's view if the leader is gone; NStgid is the process's. */
		mm = proc_mm_pid(s->pid);
		if (proc_status_field(mm, "NStgid:", line, sizeof(line)) == 0)
			ns = (pid_t)atoi(strrchr(line, '\t') ? strrchr(line, '\t') + 1 : line);
		snprintf(path, sizeof(path), "/proc/%d/root/tmp/perf-%d.map", mm, ns);
		return sym_perf_map_fopen(path, owner, INT64_MIN, INT64_MAX);
	}
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", s->pid);
	return sym_perf_map_fopen(path, owner, start - slack, end + slack);
}

/* Find PC in the perf map F; the name into BUF.  0 when found. */
int sym_perf_map_scan(FILE *f, uint64_t pc, char *buf, size_t size)
{
	char line[1024];
	int found = -1;

	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, len;
		int n = 0;

		if (sscanf(line, "%llx %llx %n", &start, &len, &n) < 2 || !n)
			continue;
		if (pc >= start && pc - start < len) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, size, "%s [jit]", line + n);
			found = 0; /* later lines win: code can be replaced */
		}
	}
	return found;
}

/* Find PC in the target's perf map; the name into BUF.  0 when found. */
static int sym_perf_map(struct mt_session *s, uint64_t pc, char *buf, size_t size)
{
	int found;
	FILE *f;

	if (!(f = sym_perf_map_open(s)))
		return -1;
	found = sym_perf_map_scan(f, pc, buf, size);
	fclose(f);
	return found;
}

/* Name frame F into BUF: "function+0x1a (libname.so)", "[unknown]", ... */
void sym_frame(struct mt_session *s, const struct frame *f, int first, char *buf, size_t size)
{
	/* A return address points after the call; look up the call itself. */
	uint64_t off = f->off - (first ? 0 : 1);
	struct object *o;
	struct symtab *t;
	const char *base;
	char name[512];

	if (HS_FRAME_IS_INTERP(f->obj)) {
		if (hs_frame_name(s, 1, f->off, f->obj, first, buf, size) < 0)
			snprintf(buf, size, "[interpreted] Method* 0x%llx",
				 (unsigned long long)HS_INTERP_METHOD(f->off));
		return;
	}
	if (!f->obj || f->obj >= __atomic_load_n(&s->stacks.nobjects, __ATOMIC_ACQUIRE)) {
		if (hs_frame_name(s, 0, f->off, f->obj, first, buf, size) < 0 &&
		    sym_perf_map(s, off, buf, size) < 0) {
			snprintf(buf, size, "[unknown] 0x%llx", (unsigned long long)f->off);
			perf_map_want(s);
		}
		return;
	}
	o = s->stacks.objects[f->obj];
	base = strrchr(o->path, '/');
	base = base ? base + 1 : o->path;
	t = sym_table(s, o);
	if (t && !t->failed) {
		for (size_t i = 0; i < t->nloads; i++) {
			const struct load *l = &t->loads[i];
			const struct sym *sym;

			if (off < l->offset || off >= l->offset + l->filesz)
				continue;
			if ((sym = sym_lookup(t, off - l->offset + l->vaddr))) {
				sym_demangle(sym->name, name, sizeof(name));
				snprintf(buf, size, "%s+0x%llx (%s)", name,
					 (unsigned long long)(off - l->offset + l->vaddr - sym->addr +
							      (first ? 0 : 1)),
					 base);
				return;
			}
			break;
		}
	}
	snprintf(buf, size, "[unknown] (%s+0x%llx)", base, (unsigned long long)f->off);
}

/*
 * Name the frames of stack ID.  One captured frame may name several: a
 * compiled Java frame names the methods inlined into it, one a line, and
 * each is a frame of its own here (up to MAX in all).
 */
unsigned mt_session_stack(struct mt_session *s, uint32_t id, char (*names)[256], unsigned max)
{
	struct frame f[MT_STACK_MAX];
	char buf[4096];
	unsigned n, out = 0;

	pthread_mutex_lock(&s->lock);
	n = stack_get(s, id, f, max < MT_STACK_MAX ? max : MT_STACK_MAX);
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < n && out < max; i++) {
		sym_frame(s, &f[i], i == 0, buf, sizeof(buf));
		for (char *line = buf, *end; line && out < max; line = end) {
			if ((end = strchr(line, '\n')))
				*end++ = '\0';
			snprintf(names[out++], 256, "%.255s", line);
		}
	}
	return out;
}

static const char *const stacks_names[] = {
	[MT_STACKS_CHUNK] = "chunk",
	[MT_STACKS_NONE] = "none",
	[MT_STACKS_LARGE] = "large",
	[MT_STACKS_ALL] = "all",
};

/* The name of stack policy P. */
const char *mt_stacks_name(enum mt_stacks p)
{
	return (unsigned)p <= MT_STACKS_ALL ? stacks_names[p] : "?";
}

/* The stack policy called NAME, or -1. */
int mt_stacks_from_name(const char *name)
{
	for (int i = 0; i <= MT_STACKS_ALL; i++)
		if (!strcmp(stacks_names[i], name))
			return i;
	return -1;
}
