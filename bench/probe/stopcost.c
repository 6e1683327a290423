/*
 * stopcost: the raw price of a seccomp-ptrace stop, without memtraced.
 *
 * A child installs a filter that returns SECCOMP_RET_TRACE for getppid()
 * (nothing else), then calls getppid() ITERS times; the parent traces it
 * the way memtraced does and reports wall microseconds per call.
 *
 * usage: stopcost [-n ITERS] [-1] [-s SPIN_US] [-g GAP_US] [-T CPU] [-C CPU] [-u]
 *   -1         one stop per call: PTRACE_CONT at the seccomp stop
 *              (default: two, PTRACE_SYSCALL then PTRACE_CONT at the exit stop)
 *   -s SPIN_US poll waitpid(WNOHANG) up to SPIN_US us before blocking (default 0)
 *   -g GAP_US  the target busy-loops GAP_US us between calls (default 0); the
 *              gap (nominal) is subtracted from the result
 *   -T CPU     pin the tracer to CPU;  -C CPU  pin the target to CPU
 *   -u         untraced baseline: no filter, no tracer
 * Prints: "<mode> <us per call> us/call".
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
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		perror("sched_setaffinity");
		exit(1);
	}
}

static double gap_us;

static void busy(double us)
{
	double end = now_us() + us;

	while (now_us() < end)
		;
}

static void child(long iters, int traced)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};

	if (traced) {
		kill(getpid(), SIGSTOP);
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
			_exit(3);
	}
	for (long i = 0; i < iters; i++) {
		if (gap_us > 0)
			busy(gap_us);
		syscall(SYS_getppid);
	}
	_exit(0);
}

/* waitpid, polling with WNOHANG for up to SPIN us first. */
static pid_t wait_spin(int *status, double spin)
{
	if (spin > 0) {
		double end = now_us() + spin;

		do {
			pid_t r = waitpid(-1, status, __WALL | WNOHANG);

			if (r != 0)
				return r;
		} while (now_us() < end);
	}
	return waitpid(-1, status, __WALL);
}

int main(int argc, char **argv)
{
	long iters = 100000;
	int one = 0, untraced = 0, tcpu = -1, ccpu = -1, opt, status;
	double spin = 0, t0, t1;
	pid_t pid, r;

	while ((opt = getopt(argc, argv, "n:1s:g:T:C:u")) != -1) {
		switch (opt) {
		case 'n': iters = atol(optarg); break;
		case '1': one = 1; break;
		case 's': spin = atof(optarg); break;
		case 'g': gap_us = atof(optarg); break;
		case 'T': tcpu = atoi(optarg); break;
		case 'C': ccpu = atoi(optarg); break;
		case 'u': untraced = 1; break;
		default:
			fprintf(stderr, "usage: stopcost [-n ITERS] [-1] [-s SPIN_US] [-g GAP_US] [-T CPU] [-C CPU] [-u]\n");
			return 2;
		}
	}
	pin(tcpu);
	t0 = now_us();
	pid = fork();
	if (pid == 0) {
		pin(ccpu);
		child(iters, !untraced);
	}
	if (untraced) {
		waitpid(pid, &status, 0);
	} else {
		if (waitpid(pid, &status, WUNTRACED) != pid ||
		    ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACESECCOMP |
							 PTRACE_O_EXITKILL) < 0) {
			perror("seize");
			return 1;
		}
		kill(pid, SIGCONT);
		t0 = now_us();
		while ((r = wait_spin(&status, spin)) > 0) {
			int req = PTRACE_CONT;

			if (WIFEXITED(status) || WIFSIGNALED(status))
				break;
			if ((status >> 16) == PTRACE_EVENT_SECCOMP && !one)
				req = PTRACE_SYSCALL;
			if ((status >> 16) == PTRACE_EVENT_STOP || (status >> 16) == PTRACE_EVENT_SECCOMP ||
			    WSTOPSIG(status) == (SIGTRAP | 0x80))
				ptrace(req, r, 0, 0);
			else
				ptrace(req, r, 0, WSTOPSIG(status));
		}
	}
	t1 = now_us();
	printf("%s%s spin=%gus gap=%gus tracer=%d target=%d: %.2f us/call\n",
	       untraced ? "untraced" : "traced", untraced ? "" : (one ? " 1-stop" : " 2-stop"), spin,
	       gap_us, tcpu, ccpu, (t1 - t0) / iters - gap_us);
	return 0;
}
