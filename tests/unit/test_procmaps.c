/*
 * test_procmaps.c - parsing /proc/PID/maps lines, and reading our own.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "procmaps.h"
#include "unit.h"

/* Parse LINE, which must succeed. */
static struct procmaps_region parse_ok(const char *line)
{
	struct procmaps_region r;

	memset(&r, 0xa5, sizeof(r));
	ck_assert_msg(procmaps_parse_line(line, &r) == 0, "rejected \"%s\"", line);
	return r;
}

START_TEST(test_anon)
{
	struct procmaps_region r = parse_ok("7f4674483000-7f4675487000 rw-p 00000000 00:00 0 \n");

	ck_assert_uint_eq(r.start, 0x7f4674483000);
	ck_assert_uint_eq(r.end, 0x7f4675487000);
	ck_assert_int_eq(r.prot, PROT_READ | PROT_WRITE);
	ck_assert_int_eq(r.shared, 0);
	ck_assert_int_eq(r.anon, 1);
	ck_assert_uint_eq(r.offset, 0);
	ck_assert_uint_eq(r.inode, 0);
	ck_assert_str_eq(r.path, "");

	/* The kernel pads the path column; an anonymous line may end right after the inode. */
	r = parse_ok("7f0000000000-7f0000001000 ---p 00000000 00:00 0");
	ck_assert_int_eq(r.prot, PROT_NONE);
	ck_assert_int_eq(r.anon, 1);
	ck_assert_str_eq(r.path, "");
}
END_TEST

START_TEST(test_file)
{
	struct procmaps_region r = parse_ok(
		"7f46744a5000-7f46744cb000 r-xp 00028000 fd:01 1835139                    "
		"/usr/lib/x86_64-linux-gnu/libc.so.6\n");

	ck_assert_uint_eq(r.start, 0x7f46744a5000);
	ck_assert_uint_eq(r.end, 0x7f46744cb000);
	ck_assert_int_eq(r.prot, PROT_READ | PROT_EXEC);
	ck_assert_int_eq(r.shared, 0);
	ck_assert_int_eq(r.anon, 0);
	ck_assert_uint_eq(r.offset, 0x28000);
	ck_assert_uint_eq(r.inode, 1835139);
	ck_assert_str_eq(r.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
}
END_TEST

START_TEST(test_path_spaces)
{
	struct procmaps_region r = parse_ok(
		"7f0000000000-7f0000002000 r--p 00001000 08:02 42                         "
		"/tmp/my dir/lib with  spaces.so\n");

	ck_assert_str_eq(r.path, "/tmp/my dir/lib with  spaces.so");
	ck_assert_uint_eq(r.offset, 0x1000);
	ck_assert_uint_eq(r.inode, 42);
	ck_assert_int_eq(r.anon, 0);

	/* Trailing spaces in a name are the name's; only the newline goes. */
	r = parse_ok("7f0000000000-7f0000002000 r--p 00000000 08:02 42 /tmp/x \n");
	ck_assert_str_eq(r.path, "/tmp/x ");
}
END_TEST

START_TEST(test_deleted)
{
	struct procmaps_region r = parse_ok(
		"7f0000000000-7f0000100000 rw-s 00000000 00:01 1234                       "
		"/memfd:pool (deleted)\n");

	ck_assert_str_eq(r.path, "/memfd:pool (deleted)");
	ck_assert_int_eq(r.shared, 1);
	ck_assert_int_eq(r.anon, 0);
	ck_assert_uint_eq(r.inode, 1234);

	r = parse_ok("555555554000-555555556000 r-xp 00000000 fd:01 99 /tmp/a.out (deleted)");
	ck_assert_str_eq(r.path, "/tmp/a.out (deleted)");
	ck_assert_int_eq(r.prot, PROT_READ | PROT_EXEC);
}
END_TEST

START_TEST(test_special)
{
	struct procmaps_region r;

	r = parse_ok("55d0c0a4a000-55d0c0a6b000 rw-p 00000000 00:00 0                          "
		     "[heap]\n");
	ck_assert_str_eq(r.path, "[heap]");
	ck_assert_int_eq(r.anon, 1);
	ck_assert_int_eq(r.prot, PROT_READ | PROT_WRITE);

	r = parse_ok("7ffc8a5e9000-7ffc8a60a000 rw-p 00000000 00:00 0                          "
		     "[stack]\n");
	ck_assert_str_eq(r.path, "[stack]");
	ck_assert_int_eq(r.anon, 1);

	/* Older kernels named thread stacks. */
	r = parse_ok("7f0000000000-7f0000800000 rw-p 00000000 00:00 0 [stack:1234]\n");
	ck_assert_str_eq(r.path, "[stack:1234]");
	ck_assert_int_eq(r.anon, 1);

	/* prctl(PR_SET_VMA_ANON_NAME) names. */
	r = parse_ok("7f0000000000-7f0000800000 rw-p 00000000 00:00 0 [anon:arena]\n");
	ck_assert_str_eq(r.path, "[anon:arena]");
	ck_assert_int_eq(r.anon, 1);

	r = parse_ok("7ffc8a7c6000-7ffc8a7c8000 r-xp 00000000 00:00 0                          "
		     "[vdso]\n");
	ck_assert_str_eq(r.path, "[vdso]");
	ck_assert_int_eq(r.anon, 0);
	ck_assert_int_eq(r.prot, PROT_READ | PROT_EXEC);

	r = parse_ok("7ffc8a7c2000-7ffc8a7c6000 r--p 00000000 00:00 0                          "
		     "[vvar]\n");
	ck_assert_str_eq(r.path, "[vvar]");
	ck_assert_int_eq(r.anon, 0);

	r = parse_ok("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  "
		     "[vsyscall]\n");
	ck_assert_uint_eq(r.start, 0xffffffffff600000);
	ck_assert_uint_eq(r.end, 0xffffffffff601000);
	ck_assert_int_eq(r.prot, PROT_EXEC);
	ck_assert_int_eq(r.anon, 0);
}
END_TEST

START_TEST(test_shared)
{
	struct procmaps_region r =
		parse_ok("7f0000000000-7f0000001000 rw-s 00000000 00:05 3 /dev/zero (deleted)\n");

	ck_assert_int_eq(r.shared, 1);
	ck_assert_int_eq(r.prot, PROT_READ | PROT_WRITE);

	r = parse_ok("7f0000000000-7f0000001000 r--s 00000000 00:00 0 \n");
	ck_assert_int_eq(r.shared, 1);
	ck_assert_int_eq(r.anon, 1);

	r = parse_ok("7f0000000000-7f0000001000 rwxp 00000000 00:00 0\n");
	ck_assert_int_eq(r.shared, 0);
	ck_assert_int_eq(r.prot, PROT_READ | PROT_WRITE | PROT_EXEC);
}
END_TEST

START_TEST(test_missing_path_file)
{
	/* A file-backed mapping whose path the kernel could not show. */
	struct procmaps_region r = parse_ok("7f0000000000-7f0000001000 r--p 00002000 08:01 777\n");

	ck_assert_str_eq(r.path, "");
	ck_assert_uint_eq(r.inode, 777);
	ck_assert_uint_eq(r.offset, 0x2000);
	ck_assert_int_eq(r.anon, 0);
}
END_TEST

START_TEST(test_long_path)
{
	static char line[6000];
	struct procmaps_region r;

	strcpy(line, "7f0000000000-7f0000001000 r--p 00000000 08:01 5 /");
	memset(line + strlen(line), 'a', 5000);
	strcat(line, "\n");
	r = parse_ok(line);
	ck_assert_uint_eq(strlen(r.path), sizeof(r.path) - 1);
	ck_assert_int_eq(r.path[0], '/');
	ck_assert_int_eq(r.path[1], 'a');
}
END_TEST

/* LINE is rejected. */
static void parse_bad(const char *line)
{
	struct procmaps_region r;

	ck_assert_msg(procmaps_parse_line(line, &r) == -EINVAL, "accepted \"%s\"", line);
}

START_TEST(test_malformed)
{
	parse_bad("");
	parse_bad("\n");
	parse_bad("zz-10 rw-p 00000000 00:00 0");
	parse_bad("1000-zz rw-p 00000000 00:00 0");
	parse_bad("1000 rw-p 00000000 00:00 0");
	parse_bad("2000-1000 rw-p 00000000 00:00 0");   /* end < start */
	parse_bad("1000-1000 rw-p 00000000 00:00 0");   /* empty */
	parse_bad("1000-2000 rw- 00000000 00:00 0");    /* three perm columns */
	parse_bad("1000-2000 rw-p");                    /* truncated */
	parse_bad("1000-2000 rw-p 00000000 00:00");     /* no inode */
	parse_bad("1000-2000 rw-p 00000000 0000 0");    /* bad device */
	parse_bad("1000-2000 rw-p zz 00:00 0");         /* bad offset */
	parse_bad("garbage");
}
END_TEST

struct find {
	uintptr_t addr;
	int found;
	struct procmaps_region r;
	uint64_t last_end;
	int ordered;
	int count;
};

/* Record the region holding ADDR; check the regions come in address order. */
static int find_cb(const struct procmaps_region *r, void *arg)
{
	struct find *f = arg;

	f->count++;
	if (r->start < f->last_end)
		f->ordered = 0;
	f->last_end = r->end;
	if (r->start <= f->addr && f->addr < r->end) {
		f->found++;
		f->r = *r;
	}
	return 0;
}

static struct find find_addr(const void *p)
{
	struct find f;

	memset(&f, 0, sizeof(f));
	f.addr = (uintptr_t)p;
	f.ordered = 1;
	ck_assert_int_eq(procmaps_read(getpid(), find_cb, &f), 0);
	ck_assert_int_gt(f.count, 3);
	ck_assert(f.ordered);
	ck_assert_int_eq(f.found, 1);
	return f;
}

START_TEST(test_read_stack)
{
	volatile int local = 1;
	struct find f = find_addr((const void *)&local);

	ck_assert_int_eq(f.r.prot & (PROT_READ | PROT_WRITE), PROT_READ | PROT_WRITE);
	ck_assert_int_eq(f.r.anon, 1);
	ck_assert_int_eq(f.r.shared, 0);
	/*
	 * The frame itself is on the main thread's stack (a local variable
	 * may sit in a sanitizer's fake stack instead).
	 */
	f = find_addr(__builtin_frame_address(0));
	ck_assert_str_eq(f.r.path, "[stack]");
	ck_assert_int_eq(f.r.anon, 1);
}
END_TEST

START_TEST(test_read_mmap)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 4 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);
	struct find f;

	ck_assert(p != MAP_FAILED);
	/* Make the middle two pages read-only so they are a region of their own. */
	ck_assert_int_eq(mprotect(p + pg, 2 * (size_t)pg, PROT_READ), 0);
	f = find_addr(p + pg);
	ck_assert_uint_eq(f.r.start, (uintptr_t)(p + pg));
	ck_assert_uint_eq(f.r.end, (uintptr_t)(p + 3 * pg));
	ck_assert_int_eq(f.r.prot, PROT_READ);
	ck_assert_int_eq(f.r.anon, 1);
	ck_assert_int_eq(f.r.shared, 0);
	ck_assert_str_eq(f.r.path, "");

	f = find_addr(p);
	ck_assert_int_eq(f.r.prot, PROT_READ | PROT_WRITE);
	ck_assert_uint_le(f.r.start, (uintptr_t)p);
	ck_assert_uint_eq(f.r.end, (uintptr_t)(p + pg));
	munmap(p, 4 * (size_t)pg);

	/* A shared one with no access at all. */
	p = mmap(NULL, (size_t)pg, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(p != MAP_FAILED);
	f = find_addr(p);
	ck_assert_int_eq(f.r.prot, PROT_NONE);
	ck_assert_int_eq(f.r.shared, 1);
	munmap(p, (size_t)pg);
}
END_TEST

static int stop_cb(const struct procmaps_region *r, void *arg)
{
	int *n = arg;

	(void)r;
	return ++*n == 2 ? 77 : 0;
}

START_TEST(test_read_stop_and_errors)
{
	int n = 0;

	ck_assert_int_eq(procmaps_read(getpid(), stop_cb, &n), 77);
	ck_assert_int_eq(n, 2);
	/* No such process (pid_max is at most 2^22). */
	n = 0;
	ck_assert_int_eq(procmaps_read(0x7ffffff0, stop_cb, &n), -ENOENT);
	ck_assert_int_eq(n, 0);
}
END_TEST

Suite *procmaps_suite(void)
{
	Suite *s = suite_create("procmaps");
	TCase *tc = tcase_create("parse");
	TCase *rd = tcase_create("read");

	tcase_add_test(tc, test_anon);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_path_spaces);
	tcase_add_test(tc, test_deleted);
	tcase_add_test(tc, test_special);
	tcase_add_test(tc, test_shared);
	tcase_add_test(tc, test_missing_path_file);
	tcase_add_test(tc, test_long_path);
	tcase_add_test(tc, test_malformed);
	suite_add_tcase(s, tc);

	tcase_add_test(rd, test_read_stack);
	tcase_add_test(rd, test_read_mmap);
	tcase_add_test(rd, test_read_stop_and_errors);
	suite_add_tcase(s, rd);
	return s;
}
