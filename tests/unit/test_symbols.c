/*
 * test_symbols.c - symbols.c's perf map lookup (the JIT's
 * /tmp/perf-PID.map) and the stack policy names.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "unit.h"

/* Look PC up in the perf map TEXT; the name into BUF. */
static int scan(const char *text, uint64_t pc, char *buf, size_t size)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret;

	ck_assert_ptr_nonnull(f);
	ret = sym_perf_map_scan(f, pc, buf, size);
	fclose(f);
	return ret;
}

static const char MAP[] = "7f0000001000 100 Interpreter\n"
			  "7f0000002000 40 LFoo;::bar (compiled)\n"
			  "not a line at all\n"
			  "7f0000003000\n"
			  "7f0000002000 20 LFoo;::bar (recompiled)\n"
			  "7f0000004000 10 Lname;::with spaces and (parens)";

START_TEST(test_perf_map_found)
{
	char buf[128];

	ck_assert_int_eq(scan(MAP, 0x7f0000001000, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "Interpreter [jit]");
	ck_assert_int_eq(scan(MAP, 0x7f00000010ff, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "Interpreter [jit]");
	/* The last line holding the pc wins: code is replaced in place. */
	ck_assert_int_eq(scan(MAP, 0x7f0000002010, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "LFoo;::bar (recompiled) [jit]");
	/* Past the replacement's end, only the first line holds it. */
	ck_assert_int_eq(scan(MAP, 0x7f0000002030, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "LFoo;::bar (compiled) [jit]");
	/* A last line without a newline, names with spaces. */
	ck_assert_int_eq(scan(MAP, 0x7f0000004000, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "Lname;::with spaces and (parens) [jit]");
}
END_TEST

START_TEST(test_perf_map_not_found)
{
	char buf[64] = "untouched";

	ck_assert_int_eq(scan(MAP, 0x7f0000001100, buf, sizeof(buf)), -1); /* end is exclusive */
	ck_assert_int_eq(scan(MAP, 0x7f0000000fff, buf, sizeof(buf)), -1);
	ck_assert_int_eq(scan(MAP, 0x7f0000003000, buf, sizeof(buf)), -1); /* no length */
	ck_assert_int_eq(scan("", 0x1000, buf, sizeof(buf)), -1);
	ck_assert_int_eq(scan("zz 10 x\n", 0x1000, buf, sizeof(buf)), -1);
	ck_assert_str_eq(buf, "untouched");
}
END_TEST

START_TEST(test_perf_map_truncates)
{
	char buf[8];

	ck_assert_int_eq(scan(MAP, 0x7f0000001000, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "Interpr");
}
END_TEST

START_TEST(test_stacks_names)
{
	for (int p = 0; p <= MT_STACKS_ALL; p++) {
		const char *n = mt_stacks_name((enum mt_stacks)p);

		ck_assert_str_ne(n, "?");
		ck_assert_int_eq(mt_stacks_from_name(n), p);
	}
	ck_assert_str_eq(mt_stacks_name(MT_STACKS_ALL), "all");
	ck_assert_str_eq(mt_stacks_name((enum mt_stacks)(MT_STACKS_ALL + 1)), "?");
	ck_assert_int_eq(mt_stacks_from_name("?"), -1);
	ck_assert_int_eq(mt_stacks_from_name("ALL"), -1);
	ck_assert_int_eq(mt_stacks_from_name(""), -1);
}
END_TEST

/* The symbols suite. */
Suite *symbols_suite(void)
{
	Suite *s = suite_create("symbols");
	TCase *tc = tcase_create("names");

	tcase_add_test(tc, test_perf_map_found);
	tcase_add_test(tc, test_perf_map_not_found);
	tcase_add_test(tc, test_perf_map_truncates);
	tcase_add_test(tc, test_stacks_names);
	suite_add_tcase(s, tc);
	return s;
}
