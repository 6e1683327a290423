/*
 * direct.c - which mappings are a JVM's direct memory, and Netty's chunk
 * size learned from the JVM as it runs.
 *
 * The JVM counts as direct memory what Unsafe.allocateMemory handed out:
 * every ByteBuffer.allocateDirect and Netty's chunks, pooled or not.  Both
 * reach malloc through HotSpot's Unsafe_AllocateMemory0 (or, for a
 * reallocation, Unsafe_ReallocateMemory0), so a mapping whose native stack
 * passes through it is direct memory, whatever its size.  JDK 17 calls
 * os::malloc from Unsafe_AllocateMemory0; later JDKs (Temurin 25) make
 * Unsafe_AllocateMemory0 a leaf that tail-calls os::malloc(size_t, MemTag),
 * so its frame is gone by the time glibc mmaps: there the mark is
 * os::malloc or os::realloc called straight from code outside any object
 * (the native-method wrapper in the code cache), which no C++ caller is.
 *
 * The check is cheap: when a libjvm.so is first seen mapped, its symbol
 * table is searched once for those functions, and their extents are kept
 * on the object as file offsets.  At capture time each pc is already
 * turned into (object, offset) by the snapshot's binary search; comparing
 * it with an object's few marks is all there is.  No name is looked up
 * while the target waits.  For mmaps the stack policy would not capture,
 * a probe unwinds only DIRECT_PROBE frames, and the whole stack only when
 * those show the path.
 *
 * Chunk size, in the order it wins: --chunk-size; the size the direct-memory
 * path keeps mapping (one length for at least half of at least
 * DIRECT_LEARN_MIN direct mmaps: pageSize << maxOrder plus glibc's page of
 * slack); the JVM's -Dio.netty.allocator flags; the default of the Netty
 * version in the jars the JVM has open (read from /proc/PID/fd once a
 * sample until found); 16 MiB.  When direct mmap sizes vary (the adaptive
 * allocator, plain JDK buffers of many sizes) no one size is right, and
 * with direct memory known all of it is weighed anyway.
 */
#include <dirent.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Direct mmaps of one length needed before the chunk size is learned from them. */
#define DIRECT_LEARN_MIN 3

static const struct {
	const char *name;
	int prefix;    /* NAME is a prefix (C++ overloads) */
	int from_java; /* counts only when called from code outside any object */
} marks[] = {
	{"Unsafe_AllocateMemory0", 0, 0},
	{"Unsafe_ReallocateMemory0", 0, 0},
	{"_ZN2os6mallocEm", 1, 1},	/* os::malloc(size_t, MemTag/MEMFLAGS...) */
	{"_ZN2os7reallocEPvm", 1, 1}, /* os::realloc(void *, size_t, ...) */
};

/* The file offset of virtual address VA in O, or UINT64_MAX. */
static uint64_t va_to_offset(const struct object *o, uint64_t va)
{
	for (unsigned i = 0; i < o->nloads; i++)
		if (va >= o->loads[i].vaddr && va < o->loads[i].vaddr + o->loads[i].filesz)
			return va - o->loads[i].vaddr + o->loads[i].offset;
	return UINT64_MAX;
}

/* Add the marks found in symbol section SCN of E to O. */
static void marks_from(struct object *o, Elf *e, Elf_Scn *scn)
{
	GElf_Shdr sh;
	Elf_Data *d;
	size_t count;

	if (!gelf_getshdr(scn, &sh) || !(d = elf_getdata(scn, NULL)) || !sh.sh_entsize)
		return;
	count = sh.sh_size / sh.sh_entsize;
	for (size_t i = 0; i < count && o->nmarks < DIRECT_MARKS; i++) {
		GElf_Sym sym;
		const char *name;
		uint64_t lo;

		if (!gelf_getsym(d, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    !sym.st_value || !sym.st_size || !(name = elf_strptr(e, sh.sh_link, sym.st_name)))
			continue;
		if (name[0] != 'U' && name[0] != '_')
			continue;
		for (size_t k = 0; k < sizeof(marks) / sizeof(marks[0]); k++) {
			int hit = marks[k].prefix ? !strncmp(name, marks[k].name, strlen(marks[k].name))
						  : !strcmp(name, marks[k].name);
			int dup = 0;

			if (!hit || (lo = va_to_offset(o, sym.st_value)) == UINT64_MAX)
				continue;
			for (unsigned j = 0; j < o->nmarks; j++)
				dup |= o->marks[j].lo == lo;
			if (!dup)
				o->marks[o->nmarks++] = (struct direct_mark){lo, lo + sym.st_size,
									     marks[k].from_java};
		}
	}
}

/* Find the direct-memory path in O when it is a libjvm.so. */
void direct_object(struct mt_session *s, struct object *o)
{
	const char *base = strrchr(o->path, '/');
	Elf_Scn *scn = NULL;
	Elf *e;

	(void)s;
	base = base ? base + 1 : o->path;
	if (strcmp(base, "libjvm.so") || o->fd < 0)
		return;
	elf_version(EV_CURRENT);
	if (!(e = elf_begin(o->fd, ELF_C_READ_MMAP, NULL)))
		return;
	/* .symtab holds them (they are local); .dynsym in case a build exports them. */
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM))
			marks_from(o, e, scn);
	}
	elf_end(e);
}

/* Whether O has a mark that makes a stack through it direct memory. */
int object_has_direct(const struct object *o)
{
	for (unsigned i = 0; i < o->nmarks; i++)
		if (!o->marks[i].from_java)
			return 1;
	return 0;
}

/* Whether the N pcs pass through the direct-memory path. */
int stack_is_direct(const struct mt_session *s, const uint64_t *pcs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		/* A return address may be one past its call's function: look just before. */
		uint64_t pc = pcs[i] - (i > 0);
		const struct region *r = stack_region(s, pc);
		const struct object *o;
		uint64_t off;

		if (!r || !r->obj)
			continue;
		o = s->stacks.objects[r->obj];
		off = pc - r->start + r->offset;
		for (unsigned k = 0; k < o->nmarks; k++) {
			const struct region *caller;

			if (off < o->marks[k].lo || off >= o->marks[k].hi)
				continue;
			if (!o->marks[k].from_java)
				return 1;
			/* Called from generated code: a region of no object, or none known. */
			if (i + 1 < n && (!(caller = stack_region(s, pcs[i + 1] - 1)) || !caller->obj))
				return 1;
		}
	}
	return 0;
}

/* Format N with thousands separators into BUF. */
static const char *thousands(uint64_t n, char *buf, size_t size)
{
	char raw[32];
	size_t len, o = 0;

	len = (size_t)snprintf(raw, sizeof(raw), "%llu", (unsigned long long)n);
	for (size_t i = 0; i < len && o + 2 < size; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = raw[i];
	}
	buf[o] = '\0';
	return buf;
}

/* Work out the chunk size in force from what is known now; lock held. */
void direct_update_chunk(struct mt_session *s)
{
	char why[sizeof(s->chunk_source)], num[32];
	uint64_t size = DEFAULT_CHUNK, top = s->direct_sizes[0].count;

	if (s->cfg.chunk_size)
		return;
	snprintf(why, sizeof(why), "default (16 MiB)");
	if (top >= DIRECT_LEARN_MIN && 2 * top >= s->direct_mmaps) {
		size = s->direct_sizes[0].len - page_size;
		snprintf(why, sizeof(why), "learned from %llu direct-memory mmaps of %s bytes",
			 (unsigned long long)top, thousands(s->direct_sizes[0].len, num, sizeof(num)));
	} else if (s->jvm && s->lim.chunk_given) {
		size = s->lim.chunk_size;
		snprintf(why, sizeof(why), "%s", s->lim.chunk_source);
	} else if (s->jvm) {
		uint64_t c = mt_netty_chunk(&s->lim, &s->netty, why, sizeof(why));

		if (c) {
			size = c;
		} else {
			size = s->maps.chunk_size;
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 "; all direct memory is weighed");
		}
	}
	if (s->direct_mmaps >= 2 * DIRECT_LEARN_MIN && 2 * top < s->direct_mmaps)
		snprintf(why, sizeof(why),
			 "direct-memory mmap sizes vary (%llu mmaps): all direct memory is weighed",
			 (unsigned long long)s->direct_mmaps);
	snprintf(s->chunk_source, sizeof(s->chunk_source), "%s", why);
	maps_set_chunk_size(&s->maps, size);
}

/* A direct mmap of LEN bytes: count its length, most common first. */
void direct_seen(struct mt_session *s, uint64_t len)
{
	size_t i, n = sizeof(s->direct_sizes) / sizeof(s->direct_sizes[0]);

	s->direct_mmaps++;
	for (i = 0; i < n && s->direct_sizes[i].count && s->direct_sizes[i].len != len; i++)
		;
	if (i == n)
		i = n - 1; /* the rarest gives way */
	if (s->direct_sizes[i].len != len)
		s->direct_sizes[i].len = len, s->direct_sizes[i].count = 0;
	s->direct_sizes[i].count++;
	for (; i > 0 && s->direct_sizes[i].count > s->direct_sizes[i - 1].count; i--) {
		typeof(s->direct_sizes[0]) t = s->direct_sizes[i];

		s->direct_sizes[i] = s->direct_sizes[i - 1];
		s->direct_sizes[i - 1] = t;
	}
	direct_update_chunk(s);
}

/*
 * Look for Netty's version in the jars PID has open that were not read
 * yet; about once a second until found.  Reads /proc without the lock.
 */
void direct_scan_jars(struct mt_session *s)
{
	struct mt_netty found = {0};
	uint32_t seen[64];
	unsigned nseen;
	char dir[64];
	pid_t pid;
	DIR *d;
	struct dirent *de;
	int64_t now = mono_ns();

	pthread_mutex_lock(&s->lock);
	pid = s->pid;
	nseen = s->njar_seen;
	memcpy(seen, s->jar_seen, sizeof(seen));
	if (!s->jvm || !pid || s->netty.version[0] || s->state != MT_STATE_RUNNING ||
	    now - s->jar_scan_ns < 900000000) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->jar_scan_ns = now;
	pthread_mutex_unlock(&s->lock);

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d)) && !found.version[0]) {
		char path[96], target[4096];
		struct stat st;
		ssize_t n;
		unsigned i;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%.16s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 5 || memcmp(target + n - 4, ".jar", 4) || stat(path, &st) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		for (i = 0; i < nseen && seen[i] != (uint32_t)st.st_ino; i++)
			;
		if (i < nseen)
			continue;
		if (nseen < 64)
			seen[nseen++] = (uint32_t)st.st_ino;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
			continue;
		mt_netty_jar(fd, &found);
		close(fd);
	}
	closedir(d);
	pthread_mutex_lock(&s->lock);
	if (s->pid == pid && s->jvm) {
		memcpy(s->jar_seen, seen, sizeof(seen));
		s->njar_seen = nseen;
		if (found.version[0]) {
			s->netty = found;
			direct_update_chunk(s);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/*
 * Direct memory that may be out of sight: every byte malloc holds in its
 * arenas (the brk heap and the committed part of thread arenas' heaps),
 * where a direct buffer smaller than glibc's mmap threshold lives, and
 * where chunks go once an unpinned threshold has risen past their size,
 * less the arena growth already weighed as direct memory (account.c: a brk
 * or heap-extending mprotect made on the direct-memory path).  The JVM's
 * own malloc'd memory is there too, so this is a bound, not a count.
 */
uint64_t direct_hidden(const struct mt_session *s)
{
	const struct maps_totals *t = &s->maps.totals;
	uint64_t all = t->arena_bytes + t->brk_bytes;

	if (!s->jvm)
		return 0;
	return all > t->direct_arena_bytes ? all - t->direct_arena_bytes : 0;
}
