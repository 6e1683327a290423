/*
 * guard.c - the guard: a small process that becomes the target's tracer
 * when memtraced dies while memtrace's seccomp filter is in the target.
 *
 * The filter cannot be taken out again, and with no tracer the kernel
 * answers every filtered call with ENOSYS.  So once the filter is in, the
 * tracer thread forks a guard (guard_start()) that execs cfg.guard_exe
 * (memtraced itself, which calls mt_guard_main()) with no socket, no
 * tracing and almost no memory, and waits.
 *
 * memtraced's own ways out (stop, SIGTERM, SIGINT) hand the target to the
 * guard without a failed call (session.c): memtraced queues the guard
 * GUARD_SIGNAL with the value GUARD_TAKE (guard_take_now()), then brings
 * the target into a group-stop (SIGSTOP) and detaches each thread there.
 * The guard seizes the threads as they are left (take()), and once it
 * holds them all ends the stop with SIGCONT.  It was told before the
 * SIGSTOP, so if memtraced dies at any moment of this, the guard still
 * ends the stop.  (With no live guard, memtraced becomes a keeper that
 * stays until the target exits.)  A SIGKILL or a crash cannot be answered
 * from inside:
 *
 * It learns of the death through PR_SET_PDEATHSIG: the signal is sent by
 * the kernel when the thread that forked it, the tracer thread, exits,
 * right after the kernel has detached that thread's tracees (exit_ptrace()
 * then the reparenting in forget_original_parent()), under the same lock.
 * A tracee stopped at a seccomp stop then runs its call as if resumed; one
 * that makes a filtered call between the detach and the guard's seize
 * gets ENOSYS.  That window cannot be closed from outside the dying
 * process: the guard only makes it short, by seizing every thread with the
 * seccomp options in the PTRACE_SEIZE itself, in a tight loop, and by
 * running at real-time priority while it does (when it may).
 *
 * The children the target forked under the filter (they inherit it) were
 * memtraced's too and are detached with it: once the target's threads are
 * seized, the guard seizes theirs, found from the pids memtraced queued it
 * at each fork (GUARD_FORKED) and in /proc (take_known(), take_tree()).
 * In a stop's handover, the children memtraced traces stay with it: it
 * stays their keeper until they exit, and the guard, tracing the target,
 * still takes them at memtraced's death (take_left()).
 *
 * Then it resumes every stop at once, keeping the target's signals and
 * group-stops, following clones and forks, until nothing it traces is
 * left, and exits.  When memtraced exits because the target has, the
 * guard finds the target gone (its /proc task directory, opened at start,
 * lists no thread) and exits at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inject.h"
#include "internal.h"

#define GUARD_SIGNAL SIGUSR2 /* the death signal; blocked, taken by sigwaitinfo() */
/*
 * Queued by memtraced (sigqueue()) with an order: GUARD_TAKE, it was told
 * to stop and hands the target over now (guard_take_now()); GUARD_STAND_DOWN,
 * that handover is called off, memtraced takes the target back.  A
 * real-time signal: each is queued, in order, never merged with the death
 * signal or with the one before.
 */
#define GUARD_ORDER (SIGRTMIN + 3)
#define GUARD_TAKE 1
#define GUARD_STAND_DOWN 2
/* Sent by a second memtraced: hand the target over (guard_handover()); a keeper takes it too. */
#define GUARD_HANDOVER SIGUSR1
/* Queued by memtraced with a new process's pid (guard_tell_fork()). */
#define GUARD_FORKED (SIGRTMIN + 2)
#define GUARD_OPTIONS                                                                              \
	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |                        \
	 PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK)

/*
 * Fork the guard of PID from the tracer thread (single-threaded or not:
 * the child only makes system calls before its exec).  Its pid, or -errno.
 */
pid_t guard_start(const char *exe, pid_t pid)
{
	char target[16], daemon[16];
	sigset_t set, old;
	pid_t child;

	snprintf(target, sizeof(target), "%d", pid);
	snprintf(daemon, sizeof(daemon), "%d", getpid());
	sigemptyset(&set);
	sigaddset(&set, GUARD_SIGNAL);
	sigaddset(&set, GUARD_FORKED);
	sigaddset(&set, GUARD_ORDER);
	/* Blocked before the fork, so the death signal can never be lost or kill the guard. */
	pthread_sigmask(SIG_BLOCK, &set, &old);
	child = fork();
	if (child == 0) {
		char *argv[] = {"memtraced-guard", "--guard", target, daemon, NULL};
		char *envp[] = {NULL};

		if (prctl(PR_SET_PDEATHSIG, GUARD_SIGNAL) < 0)
			_exit(127);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		/*
		 * No descriptor of memtraced's: the socket stays its own, and a pipe
		 * reading memtraced's output ends when memtraced does.
		 */
		if (null < 0)
			_exit(127);
		for (int fd = 0; fd < 3; fd++)
			dup2(null, fd);
		if (syscall(SYS_close_range, 3, ~0U, 0) < 0)
			for (int fd = 3; fd < 1024; fd++)
				close(fd);
		execve(exe, argv, envp);
		_exit(127);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return child < 0 ? -errno : child;
}

/*
 * Tell GUARD that memtraced traces a new process, CHILD, forked by one it
 * traces (under the filter): while its parent lives the guard would find it
 * in /proc, but not once that parent has exited.  Called before the
 * parent's fork event is resumed, so the parent cannot have exited yet.
 * A signal the queue refuses (RLIMIT_SIGPENDING) is lost: the /proc scan
 * remains.
 */
void guard_tell_fork(pid_t guard, pid_t child)
{
	union sigval v = {.sival_int = child};

	sigqueue(guard, GUARD_FORKED, v);
}

/*
 * Tell GUARD to take PID now: memtraced, told to stop, is about to bring
 * the target into a group-stop (SIGSTOP) and detach each thread there.
 * Sent before that SIGSTOP, so that the guard, whenever memtraced dies
 * from then on, knows the stop is its own to end once it holds every
 * thread.  0, or -errno.
 */
int guard_take_now(pid_t guard)
{
	union sigval v = {.sival_int = GUARD_TAKE};

	return sigqueue(guard, GUARD_ORDER, v) < 0 ? -errno : 0;
}

/*
 * Tell GUARD that the handover guard_take_now() began is called off: it
 * lets go of the threads it has seized (they stay in the handover's
 * group-stop) and waits again.  0, or -errno.
 */
int guard_stand_down(pid_t guard)
{
	union sigval v = {.sival_int = GUARD_STAND_DOWN};

	return sigqueue(guard, GUARD_ORDER, v) < 0 ? -errno : 0;
}

/* The start time of process PID (/proc/PID/stat field 22), naming it against pid reuse; 0 when gone. */
static unsigned long long start_time(pid_t pid)
{
	char buf[1024], *p;
	unsigned long long start = 0;

	if (proc_read(pid, "stat", buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return 0;
	/* After ") ": state is field 3, start time field 22. */
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		start = strtoull(p + 1, NULL, 10);
	return start;
}

/* The processes memtraced told us of (GUARD_FORKED), each with its start time. */
struct known {
	struct {
		pid_t pid;
		unsigned long long start;
	} *p;
	size_t n, cap;
};

/* Record process PID; the ones gone (or whose pid names another) are dropped when full. */
static void known_add(struct known *k, pid_t pid)
{
	unsigned long long start = start_time(pid);

	if (!start)
		return;
	if (k->n == k->cap) {
		size_t keep = 0;

		for (size_t i = 0; i < k->n; i++)
			if (start_time(k->p[i].pid) == k->p[i].start)
				k->p[keep++] = k->p[i];
		k->n = keep;
	}
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 64;
		void *p = realloc(k->p, cap * sizeof(*k->p));

		if (!p)
			return;
		k->p = p;
		k->cap = cap;
	}
	k->p[k->n].pid = pid;
	k->p[k->n++].start = start;
}

/* Seize the threads in TASKFD (/proc/PID/task) not yet ours: how many, or -1 when none is left. */
static int seize_all(int taskfd)
{
	char buf[4096];
	int n, seized = 0, seen = 0;

	lseek(taskfd, 0, SEEK_SET);
	while ((n = (int)syscall(SYS_getdents64, taskfd, buf, sizeof(buf))) > 0) {
		for (int off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			pid_t tid = (pid_t)atoi(d->d_name);

			off += d->d_reclen;
			if (tid <= 0)
				continue;
			seen++;
			if (ptrace(PTRACE_SEIZE, tid, 0, GUARD_OPTIONS) == 0)
				seized++;
		}
	}
	return seen ? seized : -1;
}

/* Whether every thread of PID is traced by us (or gone). */
static int all_ours(int taskfd)
{
	char buf[4096], line[64];
	int n, ok = 1;

	lseek(taskfd, 0, SEEK_SET);
	while (ok && (n = (int)syscall(SYS_getdents64, taskfd, buf, sizeof(buf))) > 0) {
		for (int off = 0; ok && off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			pid_t tid = (pid_t)atoi(d->d_name);

			off += d->d_reclen;
			if (tid <= 0)
				continue;
			if (proc_status_field(tid, "TracerPid:", line, sizeof(line)) == 0 &&
			    atoi(line) != getpid() && !proc_task_gone(tid))
				ok = 0;
		}
	}
	return ok;
}

/* The thread group of TID; 0 when it is gone. */
static pid_t proc_tgid(pid_t tid)
{
	return (pid_t)proc_status_number(tid, "Tgid:", 10, 0);
}

/* PTRACE_INTERRUPT thread TID; a proc_tasks_all() visitor, it never stops the walk. */
static int interrupt_task(pid_t tid, void *arg)
{
	(void)arg;
	ptrace(PTRACE_INTERRUPT, tid, 0, 0);
	return 1;
}

/* The processes the guard takes: the target, then its descendants. */
struct tree {
	pid_t *pid;
	size_t n, cap;
};

static int tree_has(const struct tree *t, pid_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->pid[i] == pid)
			return 1;
	return 0;
}

static int tree_add(struct tree *t, pid_t pid)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		pid_t *p = realloc(t->pid, cap * sizeof(*p));

		if (!p)
			return -1;
		t->pid = p;
		t->cap = cap;
	}
	t->pid[t->n++] = pid;
	return 0;
}

/* Resume one stop of TID at once, as untraced: signals passed on, group-stops kept. */
static void guard_resume(pid_t tid, int status)
{
	switch (stop_classify(status)) {
	case STOP_GROUP:
		ptrace(PTRACE_LISTEN, tid, 0, 0);
		return;
	case STOP_SIGNAL:
		ptrace(PTRACE_CONT, tid, 0, WSTOPSIG(status));
		return;
	case STOP_EXITED:
		return;
	default:
		/* Seccomp stops, events, our interrupt, a new task's first stop. */
		ptrace(PTRACE_CONT, tid, 0, 0);
		return;
	}
}

/* Whether thread TID has made its first stop for us (in *ARG); a proc_tasks_all() predicate. */
static int task_first_seen(pid_t tid, void *arg)
{
	return tree_has(arg, tid);
}

static size_t take_tree(struct tree *t, pid_t daemon);
static size_t take_known(struct known *k, struct tree *t, pid_t daemon);

/*
 * memtraced, which handed PID over to us at a stop and stayed for the
 * processes PID forked under the filter, has died: take those (see
 * mt_guard_main()), found as after a death before any handover.
 */
static void take_left(pid_t pid, struct known *known, pid_t daemon)
{
	struct tree tree = {0};

	if (tree_add(&tree, pid) == 0) {
		take_known(known, &tree, daemon);
		take_tree(&tree, daemon);
	}
	free(tree.pid);
}

/*
 * Trace until nothing traced is left: every stop resumed at once; on a
 * handover request (GUARD_HANDOVER, from a second memtraced), PID's
 * threads are brought into a group-stop (SIGSTOP) and each is detached
 * there, so it stays stopped until the new tracer has seized it and sends
 * SIGCONT: no thread meets a filtered call without a tracer.  Children
 * forked under the filter stay ours until they exit.  HANDED: PID was
 * handed over to us by a stop of memtraced (KNOWN its forks, DAEMON its
 * pid), whose group-stop we end.
 */
static void guard_trace(pid_t pid, int handed, struct known *known, pid_t daemon)
{
	int took_handed = handed;
	struct signalfd_siginfo si;
	int handing = 0, status, sfd;
	struct tree first = {0};
	sigset_t set;
	pid_t tid;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, GUARD_HANDOVER);
	/* Handed over at a stop, memtraced may still trace the target's children. */
	sigaddset(&set, GUARD_SIGNAL);
	sigaddset(&set, GUARD_FORKED);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		/* No handover then: only the stops to resume, after ending the one we took it in. */
		if (handed)
			kill(pid, SIGCONT);
		while ((tid = waitpid(-1, &status, __WALL)) != -1 || errno == EINTR)
			if (tid > 0)
				guard_resume(tid, status);
		return;
	}
	for (;;) {
		/* SIGCHLD is not queued: take every stop there is before sleeping again. */
		while ((tid = waitpid(-1, &status, __WALL | WNOHANG)) > 0) {
			enum stop_event ev = stop_classify(status);

			/*
			 * Our interrupt or stop must not end an epoll wait with EINTR;
			 * nor memtraced's handover stop, at each thread's first stop
			 * here (memtraced undid it already unless it died first).
			 */
			if (handing)
				inject_restart_eintr(tid, status, 1);
			else if (handed && !tree_has(&first, tid) && proc_tgid(tid) == pid &&
				 tree_add(&first, tid) == 0)
				inject_restart_eintr(tid, status, 1);
			if (handing && ev == STOP_GROUP && proc_tgid(tid) == pid)
				ptrace(PTRACE_DETACH, tid, 0, 0); /* stays in the group-stop */
			else
				guard_resume(tid, status);
		}
		if (tid < 0 && errno == ECHILD)
			break;
		/*
		 * Handed over by memtraced: the handover's group-stop is ours to
		 * end, once each thread's stop in it is answered (LISTEN), as a
		 * new memtraced does: a SIGCONT before would leave a thread that
		 * stops after it listening in a stop no one ends.
		 */
		if (handed && proc_tasks_all(pid, task_first_seen, &first, 1)) {
			kill(pid, SIGCONT);
			handed = 0;
		}
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == (uint32_t)GUARD_FORKED && (pid_t)si.ssi_pid == daemon)
			known_add(known, (pid_t)si.ssi_int);
		if (si.ssi_signo == GUARD_SIGNAL && (pid_t)si.ssi_pid == daemon && took_handed)
			take_left(pid, known, daemon);
		if (si.ssi_signo != GUARD_HANDOVER || handing)
			continue;
		/* A thread in a group-stop already (LISTEN) reports it again when interrupted. */
		handing = 1;
		kill(pid, SIGSTOP);
		proc_tasks_all(pid, interrupt_task, NULL, 1);
	}
	free(first.pid);
	close(sfd);
}


/* Whether a live tracer that is neither us nor memtraced (DAEMON) holds thread TID. */
static int held_by_other(pid_t tid, pid_t daemon)
{
	pid_t tracer = (pid_t)proc_status_number(tid, "TracerPid:", 10, 0), tgid;

	if (tracer <= 0 || tracer == getpid())
		return 0;
	tgid = proc_tgid(tracer);
	return tgid > 0 && tgid != daemon;
}

/* PTRACE_DETACH thread TID if ours (it stays in its group-stop); a proc_tasks_all() visitor. */
static int let_go(pid_t tid, void *arg)
{
	(void)arg;
	if (proc_status_number(tid, "TracerPid:", 10, 0) == (unsigned long long)getpid())
		ptrace(PTRACE_DETACH, tid, 0, 0);
	return 1;
}

/*
 * Read memtraced's news left queued, without waiting: forks into K; the
 * last order (GUARD_TAKE or GUARD_STAND_DOWN), 0 when there is none.
 */
static int read_orders(struct known *k, pid_t daemon)
{
	struct timespec now = {0, 0};
	siginfo_t si;
	sigset_t set;
	int order = 0;

	sigemptyset(&set);
	sigaddset(&set, GUARD_FORKED);
	sigaddset(&set, GUARD_ORDER);
	while (sigtimedwait(&set, &si, &now) > 0)
		if (si.si_pid == daemon && si.si_signo == GUARD_FORKED)
			known_add(k, (pid_t)si.si_value.sival_int);
		else if (si.si_pid == daemon)
			order = si.si_value.sival_int;
	return order;
}

/*
 * Take process PID (TASKFD its /proc task directory): seize its threads
 * until every one is ours.  1 when done; 0 when it is gone, or when another
 * tracer holds its leader: a new memtraced to which a keeper has handed it
 * over, in which case none of its threads is touched (the leader is seized
 * first, by the new memtraced as by us, so that of two tracers coming for
 * stopped, untraced threads one takes them all); -1 when it cannot be done.
 * Handed over by memtraced (ORDERS set), 2 when memtraced calls the
 * handover off first: the threads seized are let go again.
 */
static int take(int taskfd, pid_t pid, pid_t daemon, struct known *orders)
{
	for (int spins = 0;; spins++) {
		/*
		 * Holding them all, we keep them: memtraced, which left them all,
		 * may have seen that already and gone.
		 */
		if (orders && read_orders(orders, daemon) == GUARD_STAND_DOWN) {
			if (all_ours(taskfd))
				return 1;
			proc_tasks_all(pid, let_go, NULL, 1);
			return 2;
		}
		if (ptrace(PTRACE_SEIZE, pid, 0, GUARD_OPTIONS) < 0 && errno == EPERM &&
		    held_by_other(pid, daemon))
			return 0;
		if (seize_all(taskfd) < 0)
			return 0; /* with memtraced, or since */
		if (all_ours(taskfd))
			return 1;
		if (spins > 1000000)
			return -1;
		if (spins > 1000)
			usleep(100);
	}
}

/* The number after "\nNAME" in the /proc status text BUF; -1 when absent. */
static long status_number(const char *buf, const char *name)
{
	const char *p = strstr(buf, name);

	return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

/* Take process PID (see take()); 1 when it is ours. */
static int take_pid(pid_t pid, pid_t daemon)
{
	char path[64];
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	r = take(fd, pid, daemon, NULL);
	close(fd);
	return r > 0;
}

/*
 * Take every live, untraced process under a seccomp filter whose parent is
 * in T, adding it to T, until none is left to take; how many were taken.
 *
 * Children the target forked under memtrace's filter carry it and were
 * traced by memtraced (PTRACE_O_TRACEFORK); its death detached them with
 * the target.  Two sources find them, each covering the other's gap.
 * memtraced tells the guard of each new process at its fork
 * (guard_tell_fork(), take_known()): that list finds a descendant whose
 * parent has exited (reparented to init or a subreaper, /proc no longer
 * ties it to the target), but misses a fork memtraced died before
 * telling of.  /proc, scanned here, finds that one: its parent (PPid, the
 * real parent even when traced) cannot have exited before memtraced saw
 * the fork, so it is in the tree, and its filter says Seccomp: 2.  A
 * descendant forked before the attach under a filter of the target's own
 * is taken too, harmlessly (its stops are resumed like the others').
 * Traced ones are left out: ours already (forked by a process we hold) or
 * another tracer's, which also makes the search end while the tree keeps
 * forking.
 *
 * Each is seized as soon as it is found, its calls failing meanwhile; the
 * scan goes round again until a whole round finds none: one not yet
 * seized may have forked, or be listed before its parent.
 */
static size_t take_tree(struct tree *t, pid_t daemon)
{
	size_t taken = 0, before;
	char buf[4096];

	for (int round = 0; round < 1000; round++) {
		struct dirent *d;
		DIR *dir = opendir("/proc");

		before = t->n;
		if (!dir)
			break;
		while ((d = readdir(dir))) {
			pid_t pid = (pid_t)atoi(d->d_name);
			char *paren;

			if (pid <= 0 || tree_has(t, pid))
				continue;
			/* stat first, the cheaper: "pid (comm) S ppid ..." */
			if (proc_read(pid, "stat", buf, sizeof(buf)) <= 0 ||
			    !(paren = strrchr(buf, ')')) || paren[1] != ' ' || paren[2] == 'Z' ||
			    !tree_has(t, (pid_t)atoi(paren + 4)))
				continue;
			if (proc_read(pid, "status", buf, sizeof(buf)) <= 0 ||
			    status_number(buf, "\nSeccomp:") != 2 ||
			    status_number(buf, "\nTracerPid:") != 0 || tree_add(t, pid) < 0)
				continue;
			taken += (size_t)take_pid(pid, daemon);
		}
		closedir(dir);
		if (t->n == before)
			break;
	}
	return taken;
}

/*
 * Take the processes of K still the ones memtraced told us of, under the
 * filter and untraced, adding them to T; how many were taken.
 */
static size_t take_known(struct known *k, struct tree *t, pid_t daemon)
{
	char buf[4096];
	size_t taken = 0;

	for (size_t i = 0; i < k->n; i++) {
		pid_t pid = k->p[i].pid;

		if (tree_has(t, pid) || start_time(pid) != k->p[i].start ||
		    proc_read(pid, "status", buf, sizeof(buf)) <= 0 || strstr(buf, "\nState:\tZ") ||
		    status_number(buf, "\nSeccomp:") != 2 ||
		    status_number(buf, "\nTracerPid:") != 0 || tree_add(t, pid) < 0)
			continue;
		taken += (size_t)take_pid(pid, daemon);
	}
	return taken;
}

/*
 * The guard: wait for the death of memtraced (pid DAEMON), then trace PID
 * and the children it forked under the filter until they are gone.
 * Returns the exit status for the guard process.
 */
int mt_guard_main(pid_t pid, pid_t daemon)
{
	struct sched_param rt = {.sched_priority = 1}, other = {0};
	struct tree tree = {0};
	struct known known = {0};
	char path[64];
	siginfo_t si;
	sigset_t set;
	int taskfd, rt_on, took, handed = 0;
	size_t children = 0;

	sigemptyset(&set);
	sigaddset(&set, GUARD_SIGNAL);
	sigaddset(&set, GUARD_FORKED);
	sigaddset(&set, GUARD_ORDER);
	/* Taken by the tracing loop's signalfd: a tracee's stop, a handover request. */
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, GUARD_HANDOVER);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGCHLD);
	sigdelset(&set, GUARD_HANDOVER);
	/*
	 * Ended, the guard would leave the target's memory calls failing: only
	 * SIGKILL ends it.  (A terminal's ^C and systemd's SIGTERM are
	 * memtraced's to answer.)
	 */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "memtraced-guard");
	/* Open now, it names this process for good: a pid reused later is not it. */
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if ((taskfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0; /* the target is gone already */
	/* Asleep it costs nothing; woken it must run before the target makes a call. */
	rt_on = sched_setscheduler(0, SCHED_FIFO, &rt) == 0;
	/*
	 * The parent may have died before PR_SET_PDEATHSIG was set: then there
	 * is no signal.  The death signal is sent by the kernel on behalf of
	 * the dying thread: a SIGUSR2 from elsewhere is not it.  A handover
	 * memtraced calls off sends us back here.
	 */
	for (;;) {
		int died = 0, order;

		handed = 0;
		while (getppid() == daemon) {
			if (sigwaitinfo(&set, &si) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if (si.si_pid != daemon)
				continue;
			if (si.si_signo == GUARD_SIGNAL) {
				died = 1;
				break;
			}
			if (si.si_signo == GUARD_FORKED)
				known_add(&known, (pid_t)si.si_value.sival_int);
			else if (si.si_value.sival_int == GUARD_TAKE) {
				handed = 1;
				break;
			}
		}
		/*
		 * Orders still queued: ones that wait behind the death signal
		 * (the lower number comes first), or all of them when memtraced
		 * died before we first ran (no death signal then).  The last one
		 * says whether a handover's stop is ours to end.
		 */
		if ((order = read_orders(&known, daemon)))
			handed = order == GUARD_TAKE;
		if (!handed && !died && getppid() == daemon)
			continue; /* a handover called off already */
		/* The target's threads first: they are the ones most likely to be mapping. */
		if ((took = take(taskfd, pid, daemon, handed ? &known : NULL)) != 2)
			break;
	}
	if (took < 0)
		return 1;
	/*
	 * Then the processes memtraced told us of, which include any whose
	 * parent has exited (reparented, /proc would not find them), then the
	 * ones it had no time to tell of, from /proc.  Gone, the target has no
	 * descendants there: they were reparented.
	 */
	if (tree_add(&tree, pid) == 0) {
		children = take_known(&known, &tree, daemon);
		if (!proc_task_gone(pid) || proc_mm_pid(pid) != pid || tree.n > 1)
			children += take_tree(&tree, daemon);
	}
	free(tree.pid);
	if (rt_on)
		sched_setscheduler(0, SCHED_OTHER, &other);
	close(taskfd);
	if (!took && !children) {
		free(known.p);
		return 0; /* nothing to guard, or the target is a new memtraced's */
	}
	guard_trace(pid, handed && took > 0, &known, daemon);
	free(known.p);
	return 0;
}

/* The guard or keeper tracing PID (comm memtraced-guard, memtraced-keep), or 0. */
pid_t guard_of(pid_t pid, int *keeper)
{
	char path[64], comm[32] = "";
	pid_t tracer = (pid_t)proc_status_number(pid, "TracerPid:", 10, 0);
	FILE *f;

	if (tracer <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", tracer);
	if ((f = fopen(path, "re"))) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
	}
	*keeper = !strcmp(comm, "memtraced-keep\n");
	return *keeper || !strcmp(comm, "memtraced-guard\n") ? tracer : 0;
}

/* Whether TID is untraced and stopped (T); a proc_tasks_all() predicate. */
static int task_handed(pid_t tid, void *arg)
{
	char state[64];

	(void)arg;
	return proc_status_number(tid, "TracerPid:", 10, 0) == 0 &&
	       proc_status_field(tid, "State:", state, sizeof(state)) == 0 && state[0] == 'T';
}

/* Whether every thread of PID is untraced and stopped (T), or gone. */
static int all_handed(pid_t pid)
{
	return proc_tasks_all(pid, task_handed, NULL, 1);
}

/*
 * Ask GUARD to hand PID over (see guard_trace()) and wait, at most
 * TIMEOUT_MS, until every thread of PID is left stopped in a group-stop
 * with no tracer.  0, or -errno.
 */
int guard_handover(pid_t guard, pid_t pid, int timeout_ms)
{
	int64_t deadline = mono_ns() + (int64_t)timeout_ms * 1000000;

	if (kill(guard, GUARD_HANDOVER) < 0)
		return -errno;
	while (!all_handed(pid)) {
		if (mono_ns() > deadline)
			return -ETIMEDOUT;
		usleep(200);
	}
	return 0;
}
