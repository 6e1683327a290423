/*
 * attach.c - tracing a process that is already running, and leaving it.
 *
 * An attached process has no seccomp filter (one cannot be added from
 * outside, and a filter left behind would make its memory syscalls fail
 * with ENOSYS once we are gone), so every syscall stops at entry and exit
 * (PTRACE_SYSCALL); non-memory syscalls are resumed at once.  EXITKILL is
 * not set: if memtraced dies, the kernel detaches and the process goes on.
 *
 * Children forked after the attach are not traced (no TRACEFORK or
 * TRACEVFORK): they cannot need us, they would pay for syscall stops, and
 * their memory is not the target's.  Threads (TRACECLONE) are followed.
 *
 * Attach: seize and interrupt every thread listed in /proc/PID/task, again
 * until no new one appears; wait until each has stopped (at most a second
 * for the last: see first_stops()); seed the table from /proc/PID/maps
 * while the process is still; then resume.
 *
 * Detach: interrupt every thread and detach each at its next stop.  A
 * signal-delivery-stop detaches with its signal, so nothing is lost; a
 * thread in group-stop stays stopped (the kernel keeps the group stop);
 * a thread stopped in a syscall carries on with it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#define ATTACH_OPTIONS (PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC)
#define FIRST_STOP_NS  1000000000LL /* longest the process is held for one thread */
#define CAP_SYS_PTRACE_BIT (1ULL << 19) /* in /proc/PID/status CapEff */

/* Whether thread TID of PID is traced by us already, or exiting. */
static int thread_ours_or_gone(pid_t pid, pid_t tid)
{
	char buf[64];

	(void)pid;
	if (proc_status_field(tid, "TracerPid:", buf, sizeof(buf)) < 0)
		return 1;
	return atoi(buf) == getpid() || proc_task_gone(tid);
}

/* Seize and interrupt the tids of PID not yet traced; count them in *NEW. */
static int attach_seize_round(struct mt_session *s, pid_t pid, int *new)
{
	char path[64];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(dir = opendir(path)))
		return -errno;
	*new = 0;
	while ((d = readdir(dir))) {
		pid_t tid = (pid_t)atoi(d->d_name);

		if (tid <= 0 || task_get(s, tid))
			continue;
		if (ptrace(PTRACE_SEIZE, tid, 0, ATTACH_OPTIONS) < 0) {
			int err = -errno;

			/*
			 * A thread that exits while we seize it is not an error (ESRCH, or
			 * EPERM once it is past exit; a zombie leader is one too).  Nor
			 * is one born to a thread we already hold: TRACECLONE made it
			 * ours (EPERM, traced by us); its parent's clone event brings it
			 * in.
			 */
			if ((tid != pid && err == -ESRCH) ||
			    (err == -EPERM && thread_ours_or_gone(pid, tid)))
				continue;
			closedir(dir);
			return err;
		}
		if (!task_new(s, tid, pid, TASK_TARGET_MM)) {
			ptrace(PTRACE_DETACH, tid, 0, 0);
			closedir(dir);
			return -ENOMEM;
		}
		ptrace(PTRACE_INTERRUPT, tid, 0, 0);
		(*new)++;
	}
	closedir(dir);
	return 0;
}

struct first_stop {
	pid_t tid;
	int status;
};

/*
 * Collect the first stop of each of the N threads in STOPS (status -1: not
 * yet), waiting at most FIRST_STOP_NS for the last; status 0 when the thread
 * is gone.  Threads still running afterwards keep status -1.
 */
static void first_stops(struct first_stop *stops, size_t n)
{
	int64_t deadline = mono_ns() + FIRST_STOP_NS;
	size_t left = n;

	for (unsigned round = 0; left; round++) {
		for (size_t i = 0; i < n; i++) {
			pid_t r;

			if (stops[i].status >= 0)
				continue;
			r = waitpid(stops[i].tid, &stops[i].status, __WALL | WNOHANG);
			if (r == 0 || (r < 0 && errno == EINTR)) {
				stops[i].status = -1;
				continue;
			}
			if (r != stops[i].tid)
				stops[i].status = 0; /* gone (ECHILD) */
			left--;
		}
		if (!left || mono_ns() > deadline)
			break;
		/* Most threads stop within microseconds: poll fast, then back off. */
		usleep(round < 100 ? 50 : 1000);
	}
}

/* Attach to PID; see the top comment. */
int mt_session_attach(struct mt_session *s, pid_t pid)
{
	struct first_stop *stops = NULL;
	size_t nstops = 0;
	char buf[64];
	int err, new;

	int64_t t0 = mono_ns();

	if (pid <= 0)
		return -EINVAL;
	if (pid == getpid())
		return -EDEADLK;
	if (proc_status_field(pid, "State:", buf, sizeof(buf)) < 0)
		return -ESRCH;
	/* Given a thread's id, trace its whole process. */
	if (proc_status_field(pid, "Tgid:", buf, sizeof(buf)) == 0 && atoi(buf) > 0)
		pid = (pid_t)atoi(buf);
	/*
	 * A zombie leader (it left with pthread_exit()) cannot be seized, but
	 * its process lives on in its other threads: trace those.  With none,
	 * the process is a zombie waiting to be reaped.
	 */
	if (proc_task_gone(pid) && proc_mm_pid(pid) == pid)
		return -ESRCH;
	s->attached = 1;
	s->pid = pid;
	do {
		if ((err = attach_seize_round(s, pid, &new)) < 0)
			goto fail;
	} while (new);
	if (!s->ntasks) {
		err = -ESRCH; /* every thread left while we came */
		goto fail;
	}

	/*
	 * Wait for every thread's first stop, keeping it stopped for the
	 * snapshot.  A thread can take long to stop: one in an uninterruptible
	 * wait (a vfork parent until its child execs, a hung file system)
	 * stops only when the wait ends.  The others are not held for it
	 * longer than FIRST_STOP_NS: it is left to stop later, when its first
	 * stop is handled like any other.
	 */
	stops = calloc(s->ntasks, sizeof(*stops));
	if (!stops) {
		err = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < s->tasks_cap && nstops < s->ntasks; i++)
		if (s->tasks[i] && s->tasks[i]->pid == pid)
			stops[nstops++] = (struct first_stop){s->tasks[i]->tid, -1};
	first_stops(stops, nstops);
	session_reset(s, pid);
	pthread_mutex_lock(&s->lock);
	s->state = MT_STATE_RUNNING;
	pthread_mutex_unlock(&s->lock);

	/* Now let them go: each first stop is handled as any later stop would be. */
	for (size_t i = 0; i < nstops; i++)
		if (stops[i].status >= 0)
			session_handle(s, stops[i].tid,
				       stops[i].status ? stops[i].status : W_EXITCODE(0, 0));
	pthread_mutex_lock(&s->lock);
	s->attach_held_ns = mono_ns() - t0;
	pthread_mutex_unlock(&s->lock);
	free(stops);
	return 0;
fail:
	free(stops);
	attach_detach_all(s);
	s->attached = 0;
	s->pid = 0;
	return err;
}

/* Explain an attach failure with its likely cause and a hint. */
void mt_attach_explain(pid_t pid, int err, char *buf, size_t size)
{
	char tracer[64] = "", state[64] = "", nspid[64] = "", comm[64] = "", scope[16] = "";
	char caps[64];
	unsigned long long target_caps = 0, own_prm = ~0ULL, own_eff = ~0ULL;
	int other_user = 0, no_cap;
	FILE *f;

	proc_status_field(pid, "TracerPid:", tracer, sizeof(tracer));
	if (atoi(tracer) <= 0) {
		/* Another tracer may hold just one of the threads. */
		char path[64];
		struct dirent *d;
		DIR *dir;

		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		if ((dir = opendir(path))) {
			while ((d = readdir(dir)) && atoi(tracer) <= 0)
				if (atoi(d->d_name) > 0)
					proc_status_field((pid_t)atoi(d->d_name), "TracerPid:", tracer,
						     sizeof(tracer));
			closedir(dir);
		}
	}
	proc_status_field(pid, "State:", state, sizeof(state));
	proc_status_field(pid, "NSpid:", nspid, sizeof(nspid));
	if (proc_status_field(pid, "CapPrm:", caps, sizeof(caps)) == 0)
		target_caps = strtoull(caps, NULL, 16);
	if (proc_status_field(getpid(), "CapPrm:", caps, sizeof(caps)) == 0)
		own_prm = strtoull(caps, NULL, 16);
	if (proc_status_field(getpid(), "CapEff:", caps, sizeof(caps)) == 0)
		own_eff = strtoull(caps, NULL, 16);
	no_cap = !(own_eff & CAP_SYS_PTRACE_BIT);
	/* The kernel wants our uid to be each of the target's real, effective and saved ids. */
	if (proc_status_field(pid, "Uid:", caps, sizeof(caps)) == 0) {
		char *p = caps;

		for (int i = 0; i < 3; i++)
			other_user |= (uid_t)strtoul(p, &p, 10) != getuid();
	}
	if ((f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re"))) {
		if (!fgets(scope, sizeof(scope), f))
			scope[0] = '\0';
		scope[strcspn(scope, "\n")] = '\0';
		fclose(f);
	}
	if (err == -EDEADLK) {
		snprintf(buf, size, "PID %d is memtraced itself", pid);
	} else if (err == -EINVAL) {
		snprintf(buf, size, "%d is not a valid PID", pid);
	} else if (state[0] == 'Z' || state[0] == 'X') {
		snprintf(buf, size, "PID %d is a zombie: it has exited and waits for its parent to "
				    "reap it; there is nothing left to trace", pid);
	} else if (err == -ESRCH && !state[0]) {
		snprintf(buf, size, "no process with PID %d (check the PID with ps)", pid);
	} else if (err == -EPERM && atoi(tracer) > 0) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/comm", atoi(tracer));
		if ((f = fopen(path, "re"))) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		snprintf(buf, size, "PID %d (or one of its threads) is already traced by PID %s (%s); "
				    "detach that tracer first",
			 pid, tracer, comm[0] ? comm : "?");
	} else if (err == -EPERM && scope[0] == '3') {
		snprintf(buf, size, "yama ptrace_scope=3 forbids attaching to any process; "
				    "it can only be lowered by a reboot");
	} else if (err == -EPERM && scope[0] && scope[0] != '0' && geteuid() != 0) {
		snprintf(buf, size, "yama ptrace_scope=%s needs CAP_SYS_PTRACE to attach to PID %d; "
				    "run memtraced as root", scope, pid);
	} else if (err == -EPERM && no_cap && other_user) {
		snprintf(buf, size, "not permitted to trace PID %d: it belongs to another user; run "
				    "memtraced as that user, or as root with CAP_SYS_PTRACE", pid);
	} else if (err == -EPERM && no_cap && (target_caps & ~own_prm)) {
		snprintf(buf, size, "not permitted to trace PID %d: it holds capabilities memtraced "
				    "lacks (CapPrm %016llx, ours %016llx) and memtraced runs without "
				    "CAP_SYS_PTRACE%s; grant it that capability",
			 pid, target_caps, own_prm, geteuid() == 0 ? " (root, but it was dropped)" : "");
	} else if (err == -EPERM && no_cap && geteuid() == 0) {
		snprintf(buf, size, "not permitted to trace PID %d: memtraced runs as root but "
				    "without CAP_SYS_PTRACE; grant it that capability", pid);
	} else if (err == -EPERM && !strcmp(strrchr(nspid, '\t') ? strrchr(nspid, '\t') + 1 : nspid,
					   "1")) {
		snprintf(buf, size, "PID %d is the init (PID 1) of %s PID namespace, which refuses "
				    "tracing here%s", pid, strchr(nspid, '\t') ? "a container's" : "this",
			 strchr(nspid, '\t') ? "; run memtraced inside that namespace" :
			 no_cap ? "" : " even with CAP_SYS_PTRACE (a security module or a user namespace)");
	} else if (err == -EPERM && !no_cap) {
		snprintf(buf, size, "not permitted to trace PID %d, although memtraced has "
				    "CAP_SYS_PTRACE: a security module (AppArmor, SELinux) or a user "
				    "namespace refuses it", pid);
	} else if (err == -EPERM) {
		snprintf(buf, size, "not permitted to trace PID %d: it is not dumpable, or another "
				    "user's; run memtraced as root (CAP_SYS_PTRACE)", pid);
	} else {
		snprintf(buf, size, "cannot attach to PID %d: %s", pid, strerror(-err));
	}
}

/* Detach every task; see the top comment.  Runs on the tracer thread. */
void attach_detach_all(struct mt_session *s)
{
	pid_t *freed = NULL; /* threads let go before we knew them */
	size_t nfreed = 0;
	int status;
	pid_t tid;

	for (size_t i = 0; i < s->tasks_cap; i++) {
		struct task *t = s->tasks[i];

		if (!t)
			continue;
		/* Already stopped with its stop consumed: no new report will come. */
		if (t->flags & TASK_ORPHAN) {
			ptrace(PTRACE_DETACH, t->tid, 0, 0);
			task_free(s, t);
			continue;
		}
		/*
		 * A leader that left with pthread_exit() is a zombie until the
		 * last thread ends and will not stop for us: do not wait for it.
		 * The kernel lets it go when memtraced exits.
		 */
		if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0 || proc_task_gone(t->tid))
			task_free(s, t);
	}
	while (s->ntasks > 0) {
		struct task *t;
		int sig = 0, event;

		tid = waitpid(-1, &status, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		t = task_get(s, tid);
		if (!t && WIFSTOPPED(status) && status >> 16 == PTRACE_EVENT_EXEC)
			t = task_exec_moved(s, tid);
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			session_handle(s, tid, status);
			continue;
		}
		event = status >> 16;
		/* A signal-delivery-stop: hand the signal over as we let go. */
		if (WIFSTOPPED(status) && !event && WSTOPSIG(status) != (SIGTRAP | 0x80))
			sig = WSTOPSIG(status);
		/* A thread born now stops once too: wait for it, unless it came first. */
		if (event == PTRACE_EVENT_CLONE) {
			unsigned long child = 0;
			size_t k = 0;

			ptrace(PTRACE_GETEVENTMSG, tid, 0, &child);
			while (k < nfreed && freed[k] != (pid_t)child)
				k++;
			if (child && k == nfreed && !task_get(s, (pid_t)child))
				task_new(s, (pid_t)child, t ? t->pid : (pid_t)child, 0);
		}
		ptrace(PTRACE_DETACH, tid, 0, sig);
		if (t && (t->flags & TASK_IN_SYSCALL)) {
			t->flags &= ~TASK_IN_SYSCALL;
			t->pending.done = 0;
		}
		if (!t) {
			pid_t *n = realloc(freed, (nfreed + 1) * sizeof(*n));

			if (n) {
				freed = n;
				freed[nfreed++] = tid;
			}
		}
		task_free(s, t);
	}
	free(freed);
	pthread_mutex_lock(&s->lock);
	s->state = MT_STATE_DETACHED;
	s->end_ns = mt_now_ns();
	pthread_mutex_unlock(&s->lock);
}
