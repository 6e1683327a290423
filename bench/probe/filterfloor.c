/*
 * filterfloor: run a program under a seccomp filter shaped like memtraced's
 * (libseccomp, default allow, bad arch allow, five SCMP_ACT_TRACE rows) but
 * whose rows name five obsolete syscalls nothing calls, and with no tracer.
 * The slowdown against an untraced run is the price of the filter alone:
 * the floor for threads that never make a memory syscall.
 *
 * build: cc -O2 -o filterfloor filterfloor.c $(pkg-config --cflags --libs libseccomp)
 * usage: filterfloor PROGRAM [ARGS...]
 */
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	/* ENOSYS on x86_64 kernels anyway; same count as memtraced's rows. */
	static const int nrs[] = {__NR_afs_syscall, __NR_tuxcall, __NR_security,
				  __NR_vserver, __NR_create_module};
	scmp_filter_ctx ctx;
	int err = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: filterfloor PROGRAM [ARGS...]\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return 1;
	err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
	for (unsigned i = 0; !err && i < sizeof(nrs) / sizeof(nrs[0]); i++)
		err = seccomp_rule_add_exact(ctx, SCMP_ACT_TRACE(i), nrs[i], 0);
	if (!err)
		err = seccomp_load(ctx);
	if (err) {
		fprintf(stderr, "filterfloor: seccomp: %s\n", strerror(-err));
		return 1;
	}
	execvp(argv[1], argv + 1);
	perror("filterfloor: exec");
	return 127;
}
