/*
 * test_filter.c - the seccomp program filter_build() makes, run on
 * seccomp_data by a small classic-BPF interpreter: memory calls stop
 * (SECCOMP_RET_TRACE with the call's enum mt_sys), everything else and
 * other ABIs run; with a minimum size, short mmaps run unless they are
 * MAP_FIXED or MAP_FIXED_NOREPLACE, and the other memory calls always stop.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "internal.h"
#include "unit.h"

#define BAD 0xdeadbeefu /* what run() returns for a program it cannot run */

/* Run PROG on D as the kernel would; BAD on anything it does not know. */
static uint32_t run(const struct sock_fprog *prog, const struct seccomp_data *d)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};

	for (unsigned pc = 0; pc < prog->len; pc++) {
		const struct sock_filter *i = &prog->filter[pc];
		uint32_t src = BPF_SRC(i->code) == BPF_X ? x : i->k;
		int jump = -1;

		switch (BPF_CLASS(i->code)) {
		case BPF_LD:
			if (BPF_MODE(i->code) == BPF_ABS && BPF_SIZE(i->code) == BPF_W &&
			    i->k % 4 == 0 && i->k + 4 <= sizeof(*d))
				memcpy(&a, (const char *)d + i->k, 4);
			else if (BPF_MODE(i->code) == BPF_IMM)
				a = i->k;
			else if (BPF_MODE(i->code) == BPF_MEM && i->k < BPF_MEMWORDS)
				a = mem[i->k];
			else
				return BAD;
			break;
		case BPF_LDX:
			if (BPF_MODE(i->code) == BPF_IMM)
				x = i->k;
			else if (BPF_MODE(i->code) == BPF_MEM && i->k < BPF_MEMWORDS)
				x = mem[i->k];
			else
				return BAD;
			break;
		case BPF_ST:
		case BPF_STX:
			if (i->k >= BPF_MEMWORDS)
				return BAD;
			mem[i->k] = BPF_CLASS(i->code) == BPF_ST ? a : x;
			break;
		case BPF_ALU:
			switch (BPF_OP(i->code)) {
			case BPF_AND: a &= src; break;
			case BPF_OR: a |= src; break;
			case BPF_ADD: a += src; break;
			case BPF_SUB: a -= src; break;
			default: return BAD;
			}
			break;
		case BPF_JMP:
			switch (BPF_OP(i->code)) {
			case BPF_JA: pc += i->k; continue;
			case BPF_JEQ: jump = a == src; break;
			case BPF_JGT: jump = a > src; break;
			case BPF_JGE: jump = a >= src; break;
			case BPF_JSET: jump = (a & src) != 0; break;
			default: return BAD;
			}
			pc += jump ? i->jt : i->jf;
			break;
		case BPF_RET:
			return BPF_RVAL(i->code) == BPF_A ? a : i->k;
		case BPF_MISC:
			if (BPF_MISCOP(i->code) == BPF_TAX)
				x = a;
			else
				a = x;
			break;
		default:
			return BAD;
		}
	}
	return BAD; /* fell off the end */
}

/* The action for call NR with ARGS under ARCH. */
static uint32_t act(const struct sock_fprog *p, uint32_t arch, int nr, uint64_t a0, uint64_t a1,
		    uint64_t a2, uint64_t a3)
{
	struct seccomp_data d = {.nr = nr, .arch = arch, .args = {a0, a1, a2, a3, 0, 0}};

	return run(p, &d);
}

#define X86_64 AUDIT_ARCH_X86_64
#define TRACE(sys) (SECCOMP_RET_TRACE | FILTER_TAG | (sys))
#define ALLOW SECCOMP_RET_ALLOW
#define RW (PROT_READ | PROT_WRITE)
#define PRIV_ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static struct sock_fprog build(uint64_t min_size)
{
	struct mt_config cfg;
	struct sock_fprog p = {0};

	memset(&cfg, 0, sizeof(cfg));
	cfg.min_size = min_size;
	ck_assert_int_eq(filter_build(&cfg, &p), 0);
	ck_assert_uint_gt(p.len, 0);
	return p;
}

START_TEST(test_memory_calls_stop)
{
	struct sock_fprog p = build(0);

	ck_assert_uint_eq(act(&p, X86_64, SYS_mmap, 0, 4096, RW, PRIV_ANON), TRACE(MT_SYS_MMAP));
	ck_assert_uint_eq(act(&p, X86_64, SYS_munmap, 0x1000, 4096, 0, 0), TRACE(MT_SYS_MUNMAP));
	ck_assert_uint_eq(act(&p, X86_64, SYS_mremap, 0x1000, 4096, 8192, 1), TRACE(MT_SYS_MREMAP));
	ck_assert_uint_eq(act(&p, X86_64, SYS_mprotect, 0x1000, 4096, 0, 0),
			  TRACE(MT_SYS_MPROTECT));
	ck_assert_uint_eq(act(&p, X86_64, SYS_brk, 0, 0, 0, 0), TRACE(MT_SYS_BRK));
	ck_assert_uint_eq(act(&p, X86_64, __NR_mseal, 0x1000, 4096, 0, 0),
			  SECCOMP_RET_TRACE | FILTER_SEAL);
	free(p.filter);
}
END_TEST

START_TEST(test_other_calls_run)
{
	struct sock_fprog p = build(0);

	ck_assert_uint_eq(act(&p, X86_64, SYS_getpid, 0, 0, 0, 0), ALLOW);
	ck_assert_uint_eq(act(&p, X86_64, SYS_read, 0, 0, 4096, 0), ALLOW);
	ck_assert_uint_eq(act(&p, X86_64, SYS_madvise, 0x1000, 4096, 4, 0), ALLOW);
	/* Another ABI runs unseen: 90 is mmap's number under i386 and x86_64's chmod. */
	ck_assert_uint_eq(act(&p, AUDIT_ARCH_I386, 90, 0, 0, 0, 0), ALLOW);
	ck_assert_uint_eq(act(&p, AUDIT_ARCH_I386, SYS_mmap, 0, 4096, RW, PRIV_ANON), ALLOW);
	free(p.filter);
}
END_TEST

START_TEST(test_min_size)
{
	struct sock_fprog p = build(1 << 20);

	ck_assert_uint_eq(act(&p, X86_64, SYS_mmap, 0, 4096, RW, PRIV_ANON), ALLOW);
	ck_assert_uint_eq(act(&p, X86_64, SYS_mmap, 0, (1 << 20) - 1, RW, PRIV_ANON), ALLOW);
	ck_assert_uint_eq(act(&p, X86_64, SYS_mmap, 0, 1 << 20, RW, PRIV_ANON),
			  TRACE(MT_SYS_MMAP));
	/* 64-bit lengths: the high word counts. */
	ck_assert_uint_eq(act(&p, X86_64, SYS_mmap, 0, 1ull << 32, RW, PRIV_ANON),
			  TRACE(MT_SYS_MMAP));
	/* Short but fixed: it can replace a tracked mapping. */
	ck_assert_uint_eq(act(&p, X86_64, SYS_mmap, 0x1000, 4096, RW, PRIV_ANON | MAP_FIXED),
			  TRACE(MT_SYS_MMAP));
	ck_assert_uint_eq(
		act(&p, X86_64, SYS_mmap, 0x1000, 4096, RW, PRIV_ANON | MAP_FIXED_NOREPLACE),
		TRACE(MT_SYS_MMAP));
	/* The calls that shrink or change what is tracked always stop. */
	ck_assert_uint_eq(act(&p, X86_64, SYS_munmap, 0x1000, 4096, 0, 0), TRACE(MT_SYS_MUNMAP));
	ck_assert_uint_eq(act(&p, X86_64, SYS_mprotect, 0x1000, 4096, 0, 0),
			  TRACE(MT_SYS_MPROTECT));
	ck_assert_uint_eq(act(&p, X86_64, SYS_mremap, 0x1000, 4096, 8192, 1), TRACE(MT_SYS_MREMAP));
	ck_assert_uint_eq(act(&p, X86_64, SYS_brk, 0, 0, 0, 0), TRACE(MT_SYS_BRK));
	free(p.filter);
}
END_TEST

/* The filter suite. */
Suite *filter_suite(void)
{
	Suite *s = suite_create("filter");
	TCase *tc = tcase_create("program");

	tcase_add_test(tc, test_memory_calls_stop);
	tcase_add_test(tc, test_other_calls_run);
	tcase_add_test(tc, test_min_size);
	suite_add_tcase(s, tc);
	return s;
}
