/*
 * syscalls.c - what memtrace knows about each memory syscall, in one table.
 *
 * The seccomp filter (filter.c), the accounting dispatch (session.c) and the
 * event printer below all read sys_table; tracing one more syscall is one
 * more row.  Rows are indexed by the native (x86_64) syscall number.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "internal.h"

const struct sys_ent sys_table[] = {
	[__NR_mmap] = {"mmap", MT_SYS_MMAP, 6,
		       {ARG_ADDR, ARG_LEN, ARG_PROT, ARG_MMAP_FLAGS, ARG_FD, ARG_OFFSET}, 1, 3,
		       NULL, account_mmap},
	[__NR_munmap] = {"munmap", MT_SYS_MUNMAP, 2, {ARG_ADDR, ARG_LEN}, -1, -1,
			 account_munmap_enter, account_munmap},
	[__NR_mremap] = {"mremap", MT_SYS_MREMAP, 5,
			 {ARG_ADDR, ARG_LEN, ARG_LEN, ARG_MREMAP_FLAGS, ARG_ADDR}, -1, -1,
			 account_mremap_enter, account_mremap},
	[__NR_mprotect] = {"mprotect", MT_SYS_MPROTECT, 3, {ARG_ADDR, ARG_LEN, ARG_PROT}, -1, -1,
			   NULL, account_mprotect},
	[__NR_brk] = {"brk", MT_SYS_BRK, 1, {ARG_ADDR}, -1, -1, NULL, account_brk},
};
const unsigned sys_table_size = sizeof(sys_table) / sizeof(sys_table[0]);

/* enum mt_sys -> row: the tracer looks a row up twice per event. */
static const struct sys_ent *rows_by_id[MT_SYS_COUNT];

/* Fill rows_by_id from sys_table, once, before main(). */
__attribute__((constructor)) static void sys_index(void)
{
	for (unsigned nr = 0; nr < sys_table_size; nr++)
		if (sys_table[nr].name)
			rows_by_id[sys_table[nr].sys] = &sys_table[nr];
}

/* Return the native syscall number of SYS, or -1. */
int sys_nr(unsigned sys)
{
	return sys < MT_SYS_COUNT && rows_by_id[sys] ? (int)(rows_by_id[sys] - sys_table) : -1;
}

/* Return the row of SYS, or NULL. */
const struct sys_ent *sys_by_id(unsigned sys)
{
	return sys < MT_SYS_COUNT ? rows_by_id[sys] : NULL;
}

/* Return the name of SYS. */
const char *mt_sys_name(unsigned sys)
{
	const struct sys_ent *e = sys_by_id(sys);

	return e ? e->name : "?";
}

/* Return the enum mt_sys of NAME, or -1. */
int mt_sys_from_name(const char *name)
{
	for (unsigned nr = 0; nr < sys_table_size; nr++)
		if (sys_table[nr].name && !strcmp(sys_table[nr].name, name))
			return sys_table[nr].sys;
	return -1;
}

static const char *const class_names[MT_CLASS_COUNT] = {
	[MT_CLASS_SMALL] = "small",
	[MT_CLASS_CHUNK] = "chunk",
	[MT_CLASS_LARGE] = "large",
};

/* Return the name of class C. */
const char *mt_class_name(enum mt_class c)
{
	return (unsigned)c < MT_CLASS_COUNT ? class_names[c] : "?";
}

/* Return the class called NAME, or -1. */
int mt_class_from_name(const char *name)
{
	for (int c = 0; c < MT_CLASS_COUNT; c++)
		if (!strcmp(class_names[c], name))
			return c;
	return -1;
}

/* Return the name of state ST. */
const char *mt_state_name(enum mt_state st)
{
	static const char *const names[] = {
		[MT_STATE_STARTING] = "starting",
		[MT_STATE_RUNNING] = "running",
		[MT_STATE_EXITED] = "exited",
		[MT_STATE_DETACHED] = "detached",
	};
	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

struct flag_name {
	uint64_t bit;
	const char *name;
};

static const struct flag_name prot_flags[] = {
	{PROT_READ, "PROT_READ"},	{PROT_WRITE, "PROT_WRITE"},
	{PROT_EXEC, "PROT_EXEC"},	{0x8, "PROT_SEM"},
	{PROT_GROWSDOWN, "PROT_GROWSDOWN"}, {PROT_GROWSUP, "PROT_GROWSUP"},
	{0, NULL},
};

static const struct flag_name mmap_flags[] = {
	{MAP_FIXED, "MAP_FIXED"},	  {MAP_ANONYMOUS, "MAP_ANONYMOUS"},
	{MAP_32BIT, "MAP_32BIT"},	  {MAP_GROWSDOWN, "MAP_GROWSDOWN"},
	{MAP_DENYWRITE, "MAP_DENYWRITE"}, {MAP_EXECUTABLE, "MAP_EXECUTABLE"},
	{MAP_LOCKED, "MAP_LOCKED"},	  {MAP_NORESERVE, "MAP_NORESERVE"},
	{MAP_POPULATE, "MAP_POPULATE"},	  {MAP_NONBLOCK, "MAP_NONBLOCK"},
	{MAP_STACK, "MAP_STACK"},	  {MAP_HUGETLB, "MAP_HUGETLB"},
	{MAP_SYNC, "MAP_SYNC"},		  {MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"},
	{0, NULL},
};

static const struct flag_name mremap_flags[] = {
	{MREMAP_MAYMOVE, "MREMAP_MAYMOVE"},
	{MREMAP_FIXED, "MREMAP_FIXED"},
	{MREMAP_DONTUNMAP, "MREMAP_DONTUNMAP"},
	{0, NULL},
};

/* Append formatted text to BUF at *POS, never past SIZE. */
static void put(char *buf, size_t size, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, size - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n < size - *pos ? (size_t)n : size - *pos - 1;
}

/* Print V as FLAGS names joined by '|', with any unknown rest in hex. */
static void put_flags(char *buf, size_t size, size_t *pos, uint64_t v,
		      const struct flag_name *flags, const char *zero)
{
	const char *sep = "";

	if (!v) {
		put(buf, size, pos, "%s", zero);
		return;
	}
	for (; flags->name; flags++) {
		if ((v & flags->bit) == flags->bit) {
			put(buf, size, pos, "%s%s", sep, flags->name);
			v &= ~flags->bit;
			sep = "|";
		}
	}
	if (v)
		put(buf, size, pos, "%s%#" PRIx64, sep, v);
}

/* Print EV like strace does: "TID HH:MM:SS.micro call(args) = ret <dur>". */
int mt_event_format(const struct mt_event *ev, char *buf, size_t size)
{
	const struct sys_ent *e = sys_by_id(ev->sys);
	time_t sec = (time_t)(ev->time_ns / 1000000000);
	struct tm tm;
	size_t pos = 0;

	if (!size)
		return 0;
	buf[0] = '\0';
	localtime_r(&sec, &tm);
	put(buf, size, &pos, "%d %02d:%02d:%02d.%06d %s(", ev->tid, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)(ev->time_ns % 1000000000 / 1000), e ? e->name : "?");
	for (int i = 0; e && i < e->nargs; i++) {
		uint64_t a = ev->args[i];
		int flags = (int)ev->args[3];

		/* mremap's fifth argument exists only with MREMAP_FIXED. */
		if (ev->sys == MT_SYS_MREMAP && i == 4 && !(flags & MREMAP_FIXED))
			break;
		if (i)
			put(buf, size, &pos, ", ");
		switch (e->fmt[i]) {
		case ARG_ADDR:
			if (a)
				put(buf, size, &pos, "%#" PRIx64, a);
			else
				put(buf, size, &pos, "NULL");
			break;
		case ARG_LEN:
			put(buf, size, &pos, "%" PRIu64, a);
			break;
		case ARG_PROT:
			put_flags(buf, size, &pos, a, prot_flags, "PROT_NONE");
			break;
		case ARG_MMAP_FLAGS: {
			static const char *const types[] = {"0", "MAP_SHARED", "MAP_PRIVATE",
							    "MAP_SHARED_VALIDATE"};
			if ((a & MAP_TYPE) < sizeof(types) / sizeof(types[0]))
				put(buf, size, &pos, "%s", types[a & MAP_TYPE]);
			else
				put(buf, size, &pos, "%#" PRIx64, a & MAP_TYPE);
			if (a & ~(uint64_t)MAP_TYPE) {
				put(buf, size, &pos, "|");
				put_flags(buf, size, &pos, a & ~(uint64_t)MAP_TYPE, mmap_flags, "");
			}
			break;
		}
		case ARG_MREMAP_FLAGS:
			put_flags(buf, size, &pos, a, mremap_flags, "0");
			break;
		case ARG_FD:
			put(buf, size, &pos, "%d", (int)a);
			break;
		case ARG_OFFSET:
			put(buf, size, &pos, a ? "%#" PRIx64 : "%" PRIu64, a);
			break;
		default:
			put(buf, size, &pos, "%#" PRIx64, a);
		}
	}
	put(buf, size, &pos, ")");
	if (!ev->done)
		put(buf, size, &pos, " = ?");
	else if (mt_event_failed(ev))
		put(buf, size, &pos, " = -1 %s (%s)", strerrorname_np((int)-ev->ret) ?: "E?",
		    strerror((int)-ev->ret));
	else if (ev->sys == MT_SYS_MMAP || ev->sys == MT_SYS_MREMAP || ev->sys == MT_SYS_BRK)
		put(buf, size, &pos, " = %#" PRIx64, (uint64_t)ev->ret);
	else
		put(buf, size, &pos, " = %" PRId64, ev->ret);
	if (ev->inferred)
		put(buf, size, &pos, " <inferred>");
	else if (ev->done)
		put(buf, size, &pos, " <%" PRIu64 ".%06" PRIu64 ">", ev->dur_ns / 1000000000,
		    ev->dur_ns % 1000000000 / 1000);
	return (int)pos;
}
