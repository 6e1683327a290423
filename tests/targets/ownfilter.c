/*
 * ownfilter: a program with a seccomp filter of its own that answers
 * SECCOMP_RET_TRACE for getppid() and for mmap() of exactly 12 pages.
 * Nobody traces it for that filter, so the kernel fails both with ENOSYS;
 * under memtraced they must still fail the same way, while its other
 * mmaps work (and are traced through memtraced's filter).
 *
 * usage: ownfilter
 * Prints: TRUTH {"getppid":R,"getppid_errno":E,"mmap12_errno":E,"mmap1_ok":B}
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ODD_LEN (12 * 4096)

int main(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | 7),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mmap, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ODD_LEN, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | 8),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};
	long r;
	int e1, e2;
	void *p;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		perror("ownfilter: seccomp");
		return 1;
	}
	errno = 0;
	r = syscall(SYS_getppid);
	e1 = errno;
	errno = 0;
	p = mmap(NULL, ODD_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	e2 = p == MAP_FAILED ? errno : 0;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("TRUTH {\"getppid\":%ld,\"getppid_errno\":%d,\"mmap12_errno\":%d,\"mmap1_ok\":%s}\n",
	       r, e1, e2, p != MAP_FAILED ? "true" : "false");
	return 0;
}
