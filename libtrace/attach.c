/*
 * attach.c - seizing a process that is already running, and installing
 * the filter in it.  It calls down into session.c (the dispatcher, the
 * detach, the table's reset) and task.c; nothing calls back up.
 *
 * Two modes (enum mt_attach_mode).  In syscall mode every syscall stops at
 * entry and exit (PTRACE_SYSCALL); non-memory syscalls are resumed at once.
 * EXITKILL is not set: if memtraced dies, the kernel detaches and the
 * process goes on.  Children forked after the attach are not traced (no
 * TRACEFORK or TRACEVFORK): they cannot need us, they would pay for syscall
 * stops, and their memory is not the target's.  Threads (TRACECLONE) are
 * followed.
 *
 * In filter mode, while every thread is stopped, each is given the options
 * of filter mode (TRACESECCOMP, and TRACEFORK/TRACEVFORK: children inherit
 * the filter, and untraced their memory calls would fail) and one thread
 * is borrowed (inject.c) to install memtrace's seccomp filter with TSYNC;
 * then every thread runs under PTRACE_CONT and only memory calls stop, as
 * in launch mode.  Anything that keeps the filter out (a thread that has
 * not stopped, a TSYNC conflict, a refusing filter of the target's own)
 * leaves syscall mode in force, with a note saying why.  The filter stays
 * for the process's life, so a guard process (guard.c) is started to take
 * the tracing over: when memtraced is stopped (session.c's keep()) or dies.
 *
 * Attach: seize and interrupt every thread listed in /proc/PID/task, the
 * leader first (see seize_round()), again until no new one appears; wait until each has stopped (at most a second
 * for the last: see first_stops()); seed the table from /proc/PID/maps
 * while the process is still; install the filter in filter mode; then
 * resume.  An epoll wait our interrupt broke off with EINTR is restarted
 * instead (inject_restart_eintr()), at the attach and at the detach.
 *
 * Detach (syscall mode) is session.c's session_detach_all(), beside the
 * dispatcher whose events it reads.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inject.h"
#include "internal.h"

/*
 * TRACESECCOMP even in syscall mode: a target that carries memtrace's
 * filter from an earlier daemon would otherwise get ENOSYS for its memory
 * calls (see on_seccomp()).
 */
#define ATTACH_OPTIONS                                                                             \
	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP)
/* With the filter in, children inherit it: they must be ours, or their memory calls fail. */
#define FILTER_OPTIONS (ATTACH_OPTIONS | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK)
#define CAP_SYS_ADMIN_BIT (1ULL << 21)
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

/*
 * Seize and interrupt thread TID of PID, with OPTIONS, unless it is ours
 * already: 1 when seized, 0 when there is nothing to seize, or -errno.
 */
static int seize_thread(struct mt_session *s, pid_t pid, pid_t tid, long options)
{
	if (tid <= 0 || task_get(s, tid))
		return 0;
	if (ptrace(PTRACE_SEIZE, tid, 0, options) < 0) {
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
			return 0;
		return err;
	}
	if (!task_new(s, tid, pid, TASK_TARGET_MM)) {
		ptrace(PTRACE_DETACH, tid, 0, 0);
		return -ENOMEM;
	}
	ptrace(PTRACE_INTERRUPT, tid, 0, 0);
	return 1;
}

/*
 * Seize and interrupt the tids of PID not yet traced, with OPTIONS; count
 * them in *NEW.  The leader comes first: when a keeper hands the process
 * over (its threads left stopped with no tracer), its guard may come for
 * them too, and whoever seizes the leader first takes them all (the guard
 * leaves a process whose leader another tracer holds).
 */
static int seize_round(struct mt_session *s, pid_t pid, long options, int *new)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int r;

	*new = 0;
	if ((r = seize_thread(s, pid, pid, options)) < 0)
		return r;
	*new += r;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(dir = opendir(path)))
		return -errno;
	while ((d = readdir(dir))) {
		if ((r = seize_thread(s, pid, (pid_t)atoi(d->d_name), options)) < 0) {
			closedir(dir);
			return r;
		}
		*new += r;
	}
	closedir(dir);
	return 0;
}

static int attach_seize_round(struct mt_session *s, pid_t pid, int *new)
{
	return seize_round(s, pid, ATTACH_OPTIONS, new);
}

/*
 * A keeper whose handover found no taker: seize the target's threads back
 * (they wait in the handover's group-stop, with no tracer) and end that
 * stop.  0; -EPERM when another tracer holds the leader (a taker came after
 * all), or -errno.
 */
int attach_retake(struct mt_session *s)
{
	int64_t deadline = mono_ns() + 2000000000LL;
	int err, new;

	do {
		if ((err = seize_round(s, s->pid, FILTER_OPTIONS, &new)) < 0)
			return err;
	} while (new && mono_ns() < deadline);
	kill(s->pid, SIGCONT);
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

/* Set ptrace OPTIONS on the NSTOPS stopped threads; the first failure's -errno. */
static int set_options(const struct first_stop *stops, size_t n, unsigned long options)
{
	int err = 0;

	for (size_t i = 0; i < n; i++)
		if (stops[i].status > 0 && WIFSTOPPED(stops[i].status) &&
		    ptrace(PTRACE_SETOPTIONS, stops[i].tid, 0, options) < 0 && !err)
			err = -errno;
	return err;
}

/* Whether every thread of PID is among STOPS and stopped; else the first other in *TID. */
static int all_stopped(pid_t pid, const struct first_stop *stops, size_t n, pid_t *tid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int ok = 1;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(dir = opendir(path)))
		return 0;
	while (ok && (d = readdir(dir))) {
		pid_t t = (pid_t)atoi(d->d_name);
		size_t i = 0;

		if (t <= 0)
			continue;
		while (i < n && stops[i].tid != t)
			i++;
		if (i == n || stops[i].status <= 0 || !WIFSTOPPED(stops[i].status)) {
			*tid = t;
			ok = 0;
		}
	}
	closedir(dir);
	return ok;
}

/*
 * How many seccomp filters thread TID carries: Seccomp_filters (Linux
 * 5.9), else 0 or 1 from its seccomp mode (none, or some filter); -1 when
 * it is gone.
 */
static long long filter_count(pid_t tid)
{
	unsigned long long mode = proc_status_number(tid, "Seccomp:", 10, ULLONG_MAX);
	unsigned long long n = proc_status_number(tid, "Seccomp_filters:", 10, ULLONG_MAX);

	if (mode == ULLONG_MAX)
		return -1;
	return n != ULLONG_MAX ? (long long)n : mode != 0;
}

/*
 * Whether the stopped threads in STOPS carry filters in different numbers;
 * then *A and *B are two that differ.  SECCOMP_FILTER_FLAG_TSYNC gives
 * every thread the caller's whole chain of filters, and takes a thread
 * with no filter as in sync: run from a thread with a filter of its own,
 * it would give that filter to all the others.  With equal numbers the
 * chains are the same or TSYNC refuses; so filter mode is tried only then.
 */
static int filters_differ(const struct first_stop *stops, size_t n, pid_t *a, pid_t *b)
{
	long long first = 0;
	pid_t first_tid = 0;

	for (size_t i = 0; i < n; i++) {
		long long c;

		if (stops[i].status <= 0 || !WIFSTOPPED(stops[i].status) ||
		    (c = filter_count(stops[i].tid)) < 0)
			continue;
		if (!first_tid) {
			first = c;
			first_tid = stops[i].tid;
		} else if (c != first) {
			*a = c > first ? stops[i].tid : first_tid;
			*b = c > first ? first_tid : stops[i].tid;
			return 1;
		}
	}
	return 0;
}

/* A thread to borrow: stopped by our interrupt, in a call if any is; -1 when none. */
static int pick_injector(const struct first_stop *stops, size_t n)
{
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		struct user_regs_struct r;

		if (stops[i].status <= 0 || stop_classify(stops[i].status) != STOP_INTERRUPT)
			continue;
		if (best < 0)
			best = (int)i;
		if (ptrace(PTRACE_GETREGS, stops[i].tid, 0, &r) == 0 &&
		    inject_where(&r) != INJECT_USER)
			return (int)i;
	}
	return best;
}

/*
 * Run the injected calls in IN: probe for a filter of ours, no_new_privs
 * when the kernel wants it, the filter with TSYNC.  0 when the filter is
 * in force, 1 when it was there already; else -errno with WHY filled.
 */
static int install_calls(struct mt_session *s, struct inject *in, pid_t pid, int pm,
			 char *why, size_t size)
{
	struct sock_fprog prog = {0};
	uint64_t args[6] = {0}, at, fprog_at;
	unsigned char *img = NULL;
	size_t len;
	long ret;
	int err;

	/*
	 * A filter already there may be ours, from an earlier memtraced: a
	 * munmap of nothing (EINVAL, changes nothing) stops with our tag.
	 */
	if (proc_status_number(pid, "Seccomp_filters:", 10, 0) > 0) {
		if ((err = inject_call(in, __NR_munmap, args, &ret)) < 0)
			goto interrupted;
		if (in->seccomp_stopped && (in->seccomp_data & 0xff00) == FILTER_TAG)
			return 1;
	}
	if ((err = filter_build(&s->cfg, &prog)) < 0) {
		snprintf(why, size, "cannot build the filter: %s", strerror(-err));
		return err;
	}
	len = inject_fprog_image(prog.filter, prog.len, 0, NULL, 0, &fprog_at);
	at = inject_scratch(in->saved.rsp, len);
	if (!(img = malloc(len))) {
		free(prog.filter);
		return -ENOMEM;
	}
	inject_fprog_image(prog.filter, prog.len, at, img, len, &fprog_at);
	free(prog.filter);
	if ((err = inject_borrow(in, pm, img, len, at)) < 0) {
		free(img);
		snprintf(why, size, "no resident stack below thread %d's to lend the filter "
				    "(%zu bytes)", in->tid, len);
		return err;
	}
	free(img);
	/* Not undone if seccomp() then fails: so only when the kernel demands it. */
	/* Both are the calling thread's; TSYNC gives the others no_new_privs too. */
	if (!proc_status_number(in->tid, "NoNewPrivs:", 10, 0) &&
	    !(proc_status_number(in->tid, "CapEff:", 16, 0) & CAP_SYS_ADMIN_BIT)) {
		args[0] = PR_SET_NO_NEW_PRIVS;
		args[1] = 1;
		if ((err = inject_call(in, __NR_prctl, args, &ret)) < 0)
			goto interrupted;
		if (ret < 0) {
			snprintf(why, size, "prctl(PR_SET_NO_NEW_PRIVS) in the target failed: %s "
					    "(a seccomp filter of its own?)", strerror((int)-ret));
			return (int)ret;
		}
	}
	args[0] = SECCOMP_SET_MODE_FILTER;
	args[1] = SECCOMP_FILTER_FLAG_TSYNC;
	args[2] = fprog_at;
	if ((err = inject_call(in, __NR_seccomp, args, &ret)) < 0)
		goto interrupted;
	if (ret > 0) {
		snprintf(why, size, "thread %ld carries a seccomp filter the others lack, so the "
				    "filter cannot be given to every thread (TSYNC)", ret);
		return -EBUSY;
	}
	if (ret < 0) {
		snprintf(why, size, "seccomp() in the target failed: %s%s", strerror((int)-ret),
			 ret == -EACCES ? "" : " (a seccomp filter of its own?)");
		return (int)ret;
	}
	return 0;
interrupted:
	snprintf(why, size, "thread %d %s while it ran the calls", in->tid,
		 err == -EINTR ? "was sent a signal" : "exited");
	return err;
}

/*
 * Filter mode: every thread stopped, give each the filter-mode options,
 * then borrow one to install the filter (inject.c).  The borrowed thread's
 * stop in STOPS is replaced by the one it is given back at.  0, or -errno
 * with WHY saying why syscall mode goes on instead.
 */
static int attach_install_filter(struct mt_session *s, pid_t pid, struct first_stop *stops,
				 size_t n, char *why, size_t size)
{
	struct inject in;
	pid_t other = 0, without = 0;
	int i, err, pm;

	if (!all_stopped(pid, stops, n, &other)) {
		snprintf(why, size, "thread %d did not stop in time", other);
		return -EAGAIN;
	}
	if (filters_differ(stops, n, &other, &without)) {
		snprintf(why, size, "thread %d carries a seccomp filter thread %d lacks, so the "
				    "filter cannot be given to every thread (TSYNC) without giving "
				    "them that one too", other, without);
		return -EBUSY;
	}
	if ((i = pick_injector(stops, n)) < 0) {
		snprintf(why, size, "no thread stopped where calls can be made for it");
		return -EAGAIN;
	}
	if ((err = set_options(stops, n, FILTER_OPTIONS)) < 0) {
		snprintf(why, size, "cannot set the ptrace options: %s", strerror(-err));
		set_options(stops, n, ATTACH_OPTIONS);
		return err;
	}
	if ((pm = tmem_open(pid)) < 0) {
		snprintf(why, size, "cannot open /proc/%d/pagemap: %s", pid, strerror(-pm));
		set_options(stops, n, ATTACH_OPTIONS);
		return pm;
	}
	if ((err = inject_begin(&in, stops[i].tid, 0)) < 0 ||
	    (err = inject_find_syscall(pm, stops[i].tid, &in.saved, &in.sc)) < 0) {
		snprintf(why, size, "no syscall instruction to borrow in thread %d", stops[i].tid);
		close(pm);
		set_options(stops, n, ATTACH_OPTIONS);
		return err;
	}
	err = install_calls(s, &in, pid, pm, why, size);
	{
		int end = inject_end(&in);

		if (end < 0 && err >= 0) {
			snprintf(why, size, "cannot give thread %d its registers back: %s",
				 stops[i].tid, strerror(-end));
			err = end;
		}
	}
	close(pm);
	/* Given back running, its stops come to the tracer loop; gone, its status does. */
	stops[i].status = in.gone ? in.status : in.given_back ? -1 : in.status;
	if (err < 0) {
		set_options(stops, n, ATTACH_OPTIONS);
		return err;
	}
	snprintf(why, size, "%s", err == 1 ? "memtrace's filter was in the target already" : "");
	return 0;
}

struct stops_of {
	struct first_stop *stops;
	size_t n, max;
	pid_t pid;
};

/* Add task T of the attached process to the first stops to wait for (task_foreach()). */
static void add_stop(struct mt_session *s, struct task *t, void *arg)
{
	struct stops_of *of = arg;

	(void)s;
	if (t->pid == of->pid && of->n < of->max)
		of->stops[of->n++] = (struct first_stop){t->tid, -1};
}

/* Attach to PID; see the top comment. */
int mt_session_attach(struct mt_session *s, pid_t pid)
{
	struct first_stop *stops = NULL;
	pid_t from_guard = 0;
	int from_keeper = 0;
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
	/*
	 * Traced by the guard of an earlier memtraced: the filter is ours.  The
	 * guard leaves every thread stopped in a group-stop, untraced, for us
	 * to seize; we send the SIGCONT once every stop is answered.
	 */
	if ((from_guard = guard_of(pid, &from_keeper)) > 0) {
		if ((err = guard_handover(from_guard, pid, 5000)) < 0) {
			kill(pid, SIGCONT);
			return err == -ETIMEDOUT ? -EPERM : err;
		}
		s->cfg.attach_mode = MT_ATTACH_FILTER;
	}
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
	{
		struct stops_of of = {stops, 0, s->ntasks, pid};

		task_foreach(s, add_stop, &of);
		nstops = of.n;
	}
	first_stops(stops, nstops);
	session_reset(s, pid);
	if (s->cfg.attach_mode == MT_ATTACH_FILTER) {
		char why[sizeof(s->attach_note)] = "";
		pid_t guard = 0;

		if (from_guard > 0) {
			err = set_options(stops, nstops, FILTER_OPTIONS);
			snprintf(why, sizeof(why), "memtrace's filter was in the target already; "
				 "taken over from %s, pid %d", from_keeper ? "a keeper" : "the guard",
				 from_guard);
		} else {
			err = attach_install_filter(s, pid, stops, nstops, why, sizeof(why));
		}
		/* Every thread is still stopped: the guard is there before any filtered call. */
		if (err == 0 && s->cfg.guard_exe)
			guard = guard_start(s->cfg.guard_exe, pid);
		pthread_mutex_lock(&s->lock);
		s->attach_filter = err == 0;
		s->guard = guard > 0 ? guard : 0;
		snprintf(s->attach_note, sizeof(s->attach_note), "%s", why);
		pthread_mutex_unlock(&s->lock);
		if (s->cfg.log) {
			char msg[sizeof(why) + 256];

			if (err == 0 && guard > 0)
				snprintf(msg, sizeof(msg), "attach mode filter: %s; stopped, memtraced "
					 "hands pid %d over to its guard, pid %d, which resumes its "
					 "memory calls until it exits; if memtraced is killed (SIGKILL, "
					 "a crash) the guard takes over too, but the memory calls made in "
					 "the instant between fail (ENOSYS)",
					 why[0] ? why : "seccomp filter installed in the target", pid,
					 guard);
			else if (err == 0)
				snprintf(msg, sizeof(msg), "attach mode filter: %s; memtraced stays "
					 "until pid %d exits, and with no guard (%s) SIGKILL of memtraced "
					 "would make its memory calls fail (ENOSYS)",
					 why[0] ? why : "seccomp filter installed in the target", pid,
					 guard < 0 ? strerror(-guard) : "none configured");
			else
				snprintf(msg, sizeof(msg), "attach mode syscall: the seccomp filter "
					 "was not installed: %s", why);
			s->cfg.log(MT_LOG_INFO, msg, s->cfg.log_arg);
		}
	} else if (s->cfg.log) {
		char msg[256];

		snprintf(msg, sizeof(msg), "attach mode syscall: every system call of pid %d "
			 "stops, so it runs slower (a busy server several times); --attach-mode "
			 "filter stops only memory calls, but its filter then stays in the process",
			 pid);
		s->cfg.log(MT_LOG_INFO, msg, s->cfg.log_arg);
	}
	pthread_mutex_lock(&s->lock);
	s->state = MT_STATE_RUNNING;
	pthread_mutex_unlock(&s->lock);

	/* Now let them go: each first stop is handled as any later stop would be. */
	for (size_t i = 0; i < nstops; i++)
		if (stops[i].status >= 0) {
			inject_restart_eintr(stops[i].tid, stops[i].status, from_guard > 0);
			session_handle(s, stops[i].tid,
				       stops[i].status ? stops[i].status : W_EXITCODE(0, 0));
		}
	/* Every thread is ours and listening: end the group-stop of the handover. */
	if (from_guard > 0)
		kill(pid, SIGCONT);
	pthread_mutex_lock(&s->lock);
	s->attach_held_ns = mono_ns() - t0;
	pthread_mutex_unlock(&s->lock);
	free(stops);
	return 0;
fail:
	free(stops);
	session_detach_all(s);
	if (from_guard > 0) {
		/*
		 * The stop is ours to end.  When the keeper was killed during its
		 * handover its guard seizes the threads (it took the leader first):
		 * none may run before it has them all.
		 */
		int64_t deadline = mono_ns() + 2000000000LL;

		while (!proc_all_traced(pid) && mono_ns() < deadline)
			usleep(200);
		kill(pid, SIGCONT);
	}
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
