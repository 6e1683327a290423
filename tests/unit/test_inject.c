/*
 * test_inject.c - the register and restart arithmetic of call injection
 * (inject.c): where a stopped thread stands, the registers of an injected
 * call, the EINTR of an epoll wait turned into its restart, and
 * the layout of the filter lent to the target.
 */
#include <errno.h>
#include <linux/filter.h>
#include <string.h>
#include <sys/syscall.h>

#include "inject.h"
#include "internal.h"
#include "unit.h"

/* Registers of a thread stopped after `syscall` at 0x401000 in call NR with RAX. */
static struct user_regs_struct in_call(long nr, long rax)
{
	struct user_regs_struct r;

	memset(&r, 0, sizeof(r));
	r.rip = 0x401002;
	r.orig_rax = (unsigned long long)nr;
	r.rax = (unsigned long long)rax;
	r.rsp = 0x7ffd12345678;
	r.rdi = 11;
	r.rsi = 22;
	r.rdx = 33;
	r.r10 = (unsigned long long)-1L;
	r.rbx = 0xb0b;
	r.eflags = 0x246;
	return r;
}

START_TEST(where_a_thread_stands)
{
	struct user_regs_struct r = in_call(-1, 5);

	ck_assert_int_eq(inject_where(&r), INJECT_USER);
	r = in_call(__NR_read, -ERESTARTSYS);
	ck_assert_int_eq(inject_where(&r), INJECT_RESTART);
	r = in_call(__NR_futex, -ERESTARTNOINTR);
	ck_assert_int_eq(inject_where(&r), INJECT_RESTART);
	r = in_call(__NR_pause, -ERESTARTNOHAND);
	ck_assert_int_eq(inject_where(&r), INJECT_RESTART);
	r = in_call(__NR_nanosleep, -ERESTART_RESTARTBLOCK);
	ck_assert_int_eq(inject_where(&r), INJECT_RESTART);
	r = in_call(__NR_epoll_wait, -EINTR);
	ck_assert_int_eq(inject_where(&r), INJECT_SYSCALL);
	r = in_call(__NR_read, 1);
	ck_assert_int_eq(inject_where(&r), INJECT_SYSCALL);
	/* -515 (ENOIOCTLCMD) is no restart code. */
	r = in_call(__NR_read, -515);
	ck_assert_int_eq(inject_where(&r), INJECT_SYSCALL);
}
END_TEST

START_TEST(call_registers)
{
	struct user_regs_struct saved = in_call(__NR_read, -ERESTARTSYS), r;
	const uint64_t args[6] = {1, 2, 3, 4, 5, 6};

	inject_call_regs(&saved, 0x7fff0000a0c1, __NR_seccomp, args, &r);
	ck_assert_uint_eq(r.rip, 0x7fff0000a0c1);
	ck_assert_uint_eq(r.rax, __NR_seccomp);
	ck_assert_int_eq((long)r.orig_rax, -1); /* no restart rule on the way out */
	ck_assert_uint_eq(r.rdi, 1);
	ck_assert_uint_eq(r.rsi, 2);
	ck_assert_uint_eq(r.rdx, 3);
	ck_assert_uint_eq(r.r10, 4); /* the fourth argument, not rcx */
	ck_assert_uint_eq(r.r8, 5);
	ck_assert_uint_eq(r.r9, 6);
	/* The rest is the thread's own: stack, flags, callee-saved. */
	ck_assert_uint_eq(r.rsp, saved.rsp);
	ck_assert_uint_eq(r.rbx, 0xb0b);
	ck_assert_uint_eq(r.eflags, 0x246);
	/* SAVED itself is untouched. */
	ck_assert_uint_eq(saved.rip, 0x401002);
	ck_assert_int_eq((long)saved.rax, -ERESTARTSYS);
}
END_TEST

START_TEST(eintr_of_epoll_waits)
{
	struct user_regs_struct r = in_call(__NR_epoll_wait, -EINTR), before;

	ck_assert_int_eq(inject_undo_eintr(&r), 1);
	ck_assert_uint_eq(r.rip, 0x401000);
	ck_assert_uint_eq(r.rax, __NR_epoll_wait);
	ck_assert_uint_eq(r.orig_rax, __NR_epoll_wait);
	r = in_call(__NR_epoll_pwait, -EINTR);
	ck_assert_int_eq(inject_undo_eintr(&r), 1);
	/* epoll_pwait2 waits for ever on a NULL timespec. */
	r = in_call(441, -EINTR);
	r.r10 = 0;
	ck_assert_int_eq(inject_undo_eintr(&r), 1);
	r = in_call(441, -EINTR);
	r.r10 = 0x7ffd0000;
	before = r;
	ck_assert_int_eq(inject_undo_eintr(&r), 0);
	ck_assert_mem_eq(&r, &before, sizeof(r));
	/* A timeout would restart from the start: left as EINTR. */
	r = in_call(__NR_epoll_wait, -EINTR);
	r.r10 = 1000;
	ck_assert_int_eq(inject_undo_eintr(&r), 0);
	ck_assert_int_eq((long)r.rax, -EINTR);
	/* The upper half of the timeout register is not the int's. */
	r = in_call(__NR_epoll_wait, -EINTR);
	r.r10 = 0xffffffff00000010ULL;
	ck_assert_int_eq(inject_undo_eintr(&r), 0);
	/* Other calls, other results: untouched. */
	r = in_call(__NR_read, -EINTR);
	ck_assert_int_eq(inject_undo_eintr(&r), 0);
	r = in_call(__NR_epoll_wait, 1);
	ck_assert_int_eq(inject_undo_eintr(&r), 0);
	ck_assert_uint_eq(r.rip, 0x401002);
}
END_TEST

START_TEST(scratch_below_the_red_zone)
{
	uint64_t at = inject_scratch(0x7ffd12345678, 200);

	ck_assert_uint_eq(at % 16, 0);
	ck_assert_uint_le(at + 200, 0x7ffd12345678 - INJECT_RED_ZONE);
	ck_assert_uint_gt(at + 200 + 16, 0x7ffd12345678 - INJECT_RED_ZONE);
	ck_assert_uint_eq(inject_scratch(100, 200), 0);
	ck_assert_uint_eq(inject_scratch(INJECT_RED_ZONE + 200, 200), 0);
}
END_TEST

START_TEST(fprog_image)
{
	struct sock_filter insns[3] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xc000003e, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0x7fff0000),
	};
	unsigned char buf[64];
	uint64_t fprog_at, ptr;
	unsigned short len;
	size_t need;

	need = inject_fprog_image(insns, 3, 0x7ffd00001000, NULL, 0, &fprog_at);
	ck_assert_uint_eq(need, 3 * 8 + 16);
	memset(buf, 0xaa, sizeof(buf));
	ck_assert_uint_eq(inject_fprog_image(insns, 3, 0x7ffd00001000, buf, sizeof(buf), &fprog_at),
			  need);
	ck_assert_uint_eq(fprog_at, 0x7ffd00001000 + 24);
	ck_assert_mem_eq(buf, insns, sizeof(insns));
	memcpy(&len, buf + 24, sizeof(len));
	memcpy(&ptr, buf + 32, sizeof(ptr));
	ck_assert_uint_eq(len, 3);
	ck_assert_uint_eq(ptr, 0x7ffd00001000); /* the program's address in the target */
	ck_assert_uint_eq(buf[26] | buf[27] | buf[28] | buf[29] | buf[30] | buf[31], 0);
	ck_assert_uint_eq(buf[40], 0xaa); /* nothing written past it */
	/* Laid out the way the kernel reads it. */
	ck_assert_uint_eq(offsetof(struct sock_fprog, filter), 8);
}
END_TEST

START_TEST(syscall_instruction)
{
	const unsigned char sc[2] = {0x0f, 0x05}, sysenter[2] = {0x0f, 0x34}, int80[2] = {0xcd, 0x80};

	ck_assert(inject_is_syscall_insn(sc));
	ck_assert(!inject_is_syscall_insn(sysenter));
	ck_assert(!inject_is_syscall_insn(int80));
}
END_TEST

Suite *inject_suite(void)
{
	Suite *s = suite_create("inject");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, where_a_thread_stands);
	tcase_add_test(tc, call_registers);
	tcase_add_test(tc, eintr_of_epoll_waits);
	tcase_add_test(tc, scratch_below_the_red_zone);
	tcase_add_test(tc, fprog_image);
	tcase_add_test(tc, syscall_instruction);
	suite_add_tcase(s, tc);
	return s;
}
