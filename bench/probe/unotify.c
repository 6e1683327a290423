/*
 * unotify: the price of a seccomp user-notification round trip, for
 * comparison with a ptrace stop (stopcost.c).  A child installs a filter
 * that returns SECCOMP_RET_USER_NOTIF for getppid() and calls it ITERS
 * times; the parent receives each notification and answers
 * SECCOMP_USER_NOTIF_FLAG_CONTINUE.  The call runs; its result is not seen
 * (the reason memtrace cannot use this for mmap, whose result it needs).
 *
 * usage: unotify [-n ITERS] [-w] [-T CPU] [-C CPU]
 *   -w   SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6): wake the other side
 *        on the current CPU, so supervisor and target hand the CPU over
 *   -T / -C  pin the supervisor / the target
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

int main(int argc, char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};
	long iters = 100000;
	int sync = 0, tcpu = -1, ccpu = -1, opt, up[2], down[2], lfd, pidfd, status;
	double t0, t1;
	pid_t pid;

	while ((opt = getopt(argc, argv, "n:wT:C:")) != -1) {
		switch (opt) {
		case 'n': iters = atol(optarg); break;
		case 'w': sync = 1; break;
		case 'T': tcpu = atoi(optarg); break;
		case 'C': ccpu = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: unotify [-n ITERS] [-w] [-T CPU] [-C CPU]\n");
			return 2;
		}
	}
	pin(tcpu);
	if (pipe(up) < 0 || pipe(down) < 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		char go;

		pin(ccpu);
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			      &prog);
		if (lfd < 0)
			_exit(3);
		if (write(up[1], &lfd, sizeof(lfd)) != sizeof(lfd) || read(down[0], &go, 1) != 1)
			_exit(4);
		for (long i = 0; i < iters; i++)
			syscall(SYS_getppid);
		_exit(0);
	}
	if (read(up[0], &lfd, sizeof(lfd)) != sizeof(lfd))
		return 1;
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	lfd = syscall(SYS_pidfd_getfd, pidfd, lfd, 0);
	if (lfd < 0) {
		perror("pidfd_getfd");
		return 1;
	}
	if (sync) {
		__u64 fl = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;

		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, fl) < 0)
			perror("SECCOMP_IOCTL_NOTIF_SET_FLAGS");
	}
	t0 = now_us();
	if (write(down[1], "g", 1) != 1)
		return 1;
	for (long i = 0; i < iters; i++) {
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;

		memset(&req, 0, sizeof(req));
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			perror("NOTIF_RECV");
			break;
		}
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0)
			perror("NOTIF_SEND");
	}
	waitpid(pid, &status, 0);
	t1 = now_us();
	printf("unotify%s supervisor=%d target=%d: %.2f us/call\n", sync ? " sync-wake" : "", tcpu,
	       ccpu, (t1 - t0) / iters);
	return 0;
}
