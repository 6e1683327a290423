/*
 * filter.c - the seccomp program that makes only memory syscalls stop.
 *
 * Every row of sys_table becomes SECCOMP_RET_TRACE with the row's enum
 * mt_sys as data; everything else is allowed.  With --min-size, mmap calls
 * shorter than the limit are allowed in the kernel unless they carry
 * MAP_FIXED or MAP_FIXED_NOREPLACE (those can replace tracked mappings, so
 * they always stop).  Calls that can only shrink or change what is tracked
 * (munmap, mremap, mprotect, brk) always stop: the table stays exact for
 * the mappings it holds.
 *
 * The program is generated with libseccomp in the parent and exported as
 * raw BPF, because the forked child may only make async-signal-safe calls
 * (memtraced has other threads) and must not allocate once the filter is in.
 */
#include <errno.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/* Add the rules for row E (syscall NR) to CTX. */
static int filter_add_row(scmp_filter_ctx ctx, int nr, const struct sys_ent *e, uint64_t min_size)
{
	uint32_t act = SCMP_ACT_TRACE(FILTER_TAG | e->sys);
	int err;

	if (e->len_arg < 0 || min_size == 0)
		return seccomp_rule_add_exact(ctx, act, nr, 0);
	err = seccomp_rule_add_exact(ctx, act, nr, 1,
				     SCMP_CMP((unsigned)e->len_arg, SCMP_CMP_GE, min_size));
	if (err || e->flags_arg < 0)
		return err;
	err = seccomp_rule_add_exact(ctx, act, nr, 1,
				     SCMP_CMP((unsigned)e->flags_arg, SCMP_CMP_MASKED_EQ, MAP_FIXED,
					      MAP_FIXED));
	if (err)
		return err;
	return seccomp_rule_add_exact(ctx, act, nr, 1,
				      SCMP_CMP((unsigned)e->flags_arg, SCMP_CMP_MASKED_EQ,
					       MAP_FIXED_NOREPLACE, MAP_FIXED_NOREPLACE));
}

/* Build the filter for CFG into *PROG (the caller frees prog->filter). */
int filter_build(const struct mt_config *cfg, struct sock_fprog *prog)
{
	scmp_filter_ctx ctx;
	struct sock_filter *insns = NULL;
	off_t size;
	int fd = -1, err;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	/*
	 * A call made under another ABI (int 0x80, x32) is allowed rather than
	 * killed: the target must run as it would untraced.  Such calls are not
	 * seen; the man page lists this limit.
	 */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
	for (unsigned nr = 0; !err && nr < sys_table_size; nr++)
		if (sys_table[nr].name)
			err = filter_add_row(ctx, (int)nr, &sys_table[nr], cfg->min_size);
	if (!err)
		err = seccomp_rule_add_exact(ctx, SCMP_ACT_TRACE(FILTER_SEAL), __NR_mseal, 0);
	if (err)
		goto out_ctx;
	fd = memfd_create("memtrace-bpf", MFD_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out_ctx;
	}
	if ((err = seccomp_export_bpf(ctx, fd)) < 0)
		goto out_fd;
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % sizeof(*insns) || size / sizeof(*insns) > BPF_MAXINSNS) {
		err = -EINVAL;
		goto out_fd;
	}
	insns = malloc((size_t)size);
	if (!insns) {
		err = -ENOMEM;
		goto out_fd;
	}
	if (pread(fd, insns, (size_t)size, 0) != size) {
		err = -EIO;
		free(insns);
		goto out_fd;
	}
	prog->len = (unsigned short)(size / sizeof(*insns));
	prog->filter = insns;
	err = 0;
out_fd:
	close(fd);
out_ctx:
	seccomp_release(ctx);
	return err;
}
