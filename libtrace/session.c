/*
 * session.c - the tracing session: launch, the tracer loop, stop, queries.
 *
 * Launch order (child side, async-signal-safe calls only, since memtraced
 * has other threads): PR_SET_PDEATHSIG -> SIGSTOP to self, so the parent can
 * PTRACE_SEIZE it with our options -> seccomp filter (no_new_privs first
 * only when the kernel demands it, so a root target keeps setuid semantics)
 * -> execve.  memtraced's own descriptors are all O_CLOEXEC, so the target
 * inherits exactly what memtraced inherited.
 *
 * The tracer loop: every memory syscall stops twice.  At the seccomp stop
 * the arguments are read and the task resumed with PTRACE_SYSCALL; at the
 * syscall-exit stop the result is read, the task resumed with PTRACE_CONT
 * *first*, and only then is the event recorded and the table updated, so a
 * stopped thread never waits for our bookkeeping.  Every other stop (clone,
 * exec, group-stop, signal delivery) is answered and resumed at once.
 *
 * A task born under the filter carries it from its first instruction, so it
 * is resumed with PTRACE_CONT from its first stop and never stops again
 * unless it makes a memory syscall.
 *
 * Each wait status is turned into one event by stop_classify() (stop.c) and
 * dispatched by session_handle(); session_detach_all(), attach mode's
 * leaving, sits beside it and reads the same events.  The tasks live in
 * task.c's table.
 */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <linux/filter.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libunwind-ptrace.h>
#include <sys/mman.h>

#include "inject.h"
#include "internal.h"
#include "procmaps.h"

#define PTRACE_OPTIONS                                                                             \
	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACESECCOMP | PTRACE_O_TRACECLONE |                     \
	 PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL)

uint64_t page_size = 4096;

/* Fill CFG with the defaults. */
void mt_config_default(struct mt_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->chunk_slack = 8u << 10;
	cfg->warn_percent = 80;
	cfg->crit_percent = 95;
	cfg->clear_margin = 5;
	cfg->window_s = 60;
	cfg->eta_warn_s = 12 * 3600;
	cfg->eta_crit_s = 600;
	cfg->stack_depth = 32;
	cfg->cpu = -1;
	cfg->ring_events = 1u << 20;
	cfg->wake_signal = SIGURG;
	cfg->java_names = 1;
	cfg->perf_map = 1;
}

/* Log a debug message through the configured callback. */
static void debug(struct mt_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void debug(struct mt_session *s, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!s->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->cfg.log(MT_LOG_DEBUG, msg, s->cfg.log_arg);
}

/* ARGV copied into one block (pointers, then the strings): one free() frees it. */
static char **argv_copy(char *const argv[])
{
	size_t n = 0, bytes = 0;
	char **copy, *p;

	for (; argv[n]; n++)
		bytes += strlen(argv[n]) + 1;
	if (!(copy = malloc((n + 1) * sizeof(char *) + bytes)))
		return NULL;
	p = (char *)(copy + n + 1);
	for (size_t i = 0; i < n; i++) {
		copy[i] = memcpy(p, argv[i], strlen(argv[i]) + 1);
		p += strlen(argv[i]) + 1;
	}
	copy[n] = NULL;
	return copy;
}

/* Create a session. */
int mt_session_new(const struct mt_config *cfg, struct mt_session **out)
{
	struct mt_session *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	pthread_mutex_init(&s->lock, NULL);
	maps_init(&s->maps, cfg->chunk_size ? cfg->chunk_size : DEFAULT_CHUNK, cfg->chunk_slack);
	s->ceiling = cfg->ceiling;
	snprintf(s->ceiling_source, sizeof(s->ceiling_source), "%s",
		 cfg->ceiling ? "--ceiling" : "none");
	snprintf(s->chunk_source, sizeof(s->chunk_source), "%s",
		 cfg->chunk_size ? "--chunk-size" : "default (16 MiB)");
	alert_configure(s);
	s->jn_state = cfg->java_names ? MT_JNAMES_WAITING : MT_JNAMES_DISABLED;
	s->pm_state = cfg->perf_map ? MT_PERFMAP_IDLE : MT_PERFMAP_DISABLED;
	s->notify_fd = -1;
	s->pagemap_fd = -1;
	s->hist = calloc(HISTORY_SAMPLES, sizeof(*s->hist));
	s->timeline = malloc(sizeof(*s->timeline));
	if (s->timeline)
		timeline_init(s->timeline);
	if (!s->hist || !s->timeline) {
		err = -ENOMEM;
		goto fail;
	}
	if ((err = ring_init(&s->ring, cfg->ring_events)) < 0)
		goto fail;
	{
		FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
		unsigned long long v = 0;

		if (f) {
			if (fscanf(f, "%llu", &v) != 1)
				v = 0;
			fclose(f);
		}
		s->max_map_count = v;
	}
	s->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->notify_fd < 0) {
		err = -errno;
		goto fail;
	}
	s->start_ns = mt_now_ns();
	*out = s;
	return 0;
fail:
	mt_session_free(s);
	return err;
}

/* Free a session. */
void mt_session_free(struct mt_session *s)
{
	struct thread *th, *next;

	if (!s)
		return;
	task_table_free(s);
	/* Entries point at their owners' counters: clear them before the threads go. */
	maps_clear(&s->maps);
	for (th = s->threads; th; th = next) {
		next = th->next;
		free(th->jname);
		free(th);
	}
	stack_free(&s->stacks);
	hs_free_all(s);
	unwind_free(s);
	ring_free(&s->ring);
	if (s->notify_fd >= 0)
		close(s->notify_fd);
	if (s->pagemap_fd >= 0)
		close(s->pagemap_fd);
	if (s->have_timer)
		timer_delete(s->wake_timer);
	free(s->argv);
	free(s->hist);
	free(s->timeline);
	sites_free(&s->sites);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Wake whoever waits on the notify fd. */
static void notify(struct mt_session *s)
{
	uint64_t one = 1;

	if (write(s->notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		debug(s, "notify: %s", strerror(errno));
}

/* Return the notify fd. */
int mt_session_notify_fd(struct mt_session *s)
{
	return s->notify_fd;
}

/* Ask for a wake-up at the next event. */
void mt_session_notify_arm(struct mt_session *s)
{
	atomic_store(&s->notify_armed, 1);
}

/* Resolve ARGV0 through PATH like execvp(); 0 or -errno. */
static int resolve_path(const char *argv0, char *out, size_t size)
{
	const char *path = getenv("PATH");
	int err = -ENOENT;

	if (!*argv0)
		return -ENOENT;
	if (strchr(argv0, '/')) {
		if (access(argv0, X_OK) < 0)
			return -errno;
		snprintf(out, size, "%s", argv0);
		return 0;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if ((size_t)snprintf(out, size, "%.*s%s%s", (int)n, path, n ? "/" : "", argv0) <
		    size) {
			if (access(out, X_OK) == 0)
				return 0;
			if (errno == EACCES)
				err = -EACCES;
		}
		path += n + (path[n] == ':');
	}
	return err;
}

/* Write MSG and ERR to stderr from the forked child; async-signal-safe. */
static void child_fail(const char *what, const char *arg, int err)
{
	const char *es = strerrordesc_np(err);
	struct iovec iov[] = {
		{(void *)"memtraced: ", 11},  {(void *)what, strlen(what)},
		{(void *)arg, strlen(arg)},   {(void *)": ", 2},
		{(void *)es, es ? strlen(es) : 0}, {(void *)"\n", 1},
	};

	if (writev(STDERR_FILENO, iov, 6) < 0)
		_exit(127);
	_exit(127);
}

/* Launch ARGV under the filter, stopped before exec; see the top comment. */
int mt_session_launch(struct mt_session *s, char *const argv[], char *const envp[])
{
	struct sock_fprog prog = {0};
	char path[4096];
	pid_t pid, parent = getpid();
	int status, err, cpu_ok = 0;
	cpu_set_t cpus;

	if ((err = resolve_path(argv[0], path, sizeof(path))) < 0)
		return err;
	if ((err = filter_build(&s->cfg, &prog)) < 0)
		return err;
	if (!(s->argv = argv_copy(argv))) {
		free(prog.filter);
		return -ENOMEM;
	}

	CPU_ZERO(&cpus);
	if (s->cfg.cpu >= 0 && s->cfg.cpu < CPU_SETSIZE) {
		CPU_SET(s->cfg.cpu, &cpus);
		cpu_ok = 1;
		/* The tracer thread, which calls run() after us, too. */
		if (sched_setaffinity(0, sizeof(cpus), &cpus) < 0) {
			err = -errno;
			free(prog.filter);
			return err;
		}
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		free(prog.filter);
		return err;
	}
	if (pid == 0) {
		/* The target dies with memtraced, as it would with EXITKILL. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		kill(getpid(), SIGSTOP);
		/* --cpu: a stop is several times cheaper when tracer and target share a CPU. */
		if (cpu_ok)
			sched_setaffinity(0, sizeof(cpus), &cpus);
		/* memtraced blocks its stop signals; the target must not inherit that. */
		if (s->cfg.child_sigmask)
			sigprocmask(SIG_SETMASK, s->cfg.child_sigmask, NULL);
		/*
		 * prctl(PR_SET_SECCOMP), not seccomp(2): the same filter with no
		 * flags (one thread needs no TSYNC), and valgrind knows the call.
		 */
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
			/* Without CAP_SYS_ADMIN the kernel wants no_new_privs. */
			if (errno != EACCES || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
			    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
				child_fail("cannot install the seccomp filter", "", errno);
		}
		execve(path, argv, envp);
		child_fail("cannot execute ", path, errno);
	}
	free(prog.filter);

	if (waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status)) {
		err = -ECHILD;
		goto fail_kill;
	}
	if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_OPTIONS) < 0) {
		err = -errno;
		goto fail_kill;
	}
	if (!task_new(s, pid, pid, TASK_TARGET_MM)) {
		err = -ENOMEM;
		goto fail_kill;
	}
	s->pid = pid;
	s->state = MT_STATE_STARTING;
	kill(pid, SIGCONT);
	return pid;
fail_kill:
	kill(pid, SIGKILL);
	waitpid(pid, &status, __WALL);
	return err;
}

/* Resume T, delivering SIG; a vanished task is not an error. */
void task_resume(struct mt_session *s, struct task *t, int sig)
{
	/* Attached without a filter, every syscall must stop: PTRACE_SYSCALL. */
	int req = ((s->attached && !s->attach_filter) || (t->flags & TASK_IN_SYSCALL)) ?
			  PTRACE_SYSCALL : PTRACE_CONT;

	if (ptrace(req, t->tid, 0, sig) < 0 && errno != ESRCH)
		t->flags &= ~TASK_IN_SYSCALL;
}

/* Read a thread's name from /proc into BUF[16]. */
static void read_comm(pid_t pid, pid_t tid, char buf[16])
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, 15);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* Record a finished (or abandoned) event of T and apply it to the table. */
static void record(struct mt_session *s, struct task *t, struct mt_event *ev)
{
	const struct sys_ent *e = sys_by_id(ev->sys);
	char comm[16] = "";
	int alerted = 0;

	if (!(t->flags & TASK_NAMED)) {
		read_comm(t->pid, t->tid, comm);
		t->flags |= TASK_NAMED;
	}
	pthread_mutex_lock(&s->lock);
	if (comm[0])
		memcpy(t->th->comm, comm, sizeof(comm));
	ring_push(&s->ring, ev);
	ev->seq = s->ring.head;
	s->by_sys[ev->sys]++;
	if (!(t->flags & TASK_TARGET_MM))
		s->child_events++;
	else if (e && ev->done) {
		/* Each accounting function knows what a failure of its call changed. */
		e->account(s, t, ev);
		alerted = alert_check(s);
	} else if (e && e->enter) {
		/* The result was never seen (the task died in the call): the range stays out. */
		alerted = alert_check(s);
	}
	t->nsaved = 0;
	pthread_mutex_unlock(&s->lock);
	if (alerted || (atomic_load_explicit(&s->notify_armed, memory_order_relaxed) &&
			atomic_exchange(&s->notify_armed, 0)))
		notify(s);
}

/* Note the start of memory syscall NR with ARGS; false when NR is not one. */
static int begin_event(struct task *t, uint64_t nr, const uint64_t args[6])
{
	const struct sys_ent *e;

	if (nr >= sys_table_size || !(e = &sys_table[nr])->name)
		return 0;
	memset(&t->pending, 0, sizeof(t->pending));
	t->pending.time_ns = mt_now_ns();
	t->pending.pid = t->pid;
	t->pending.tid = t->tid;
	t->pending.sys = e->sys;
	memcpy(t->pending.args, args, sizeof(t->pending.args));
	t->flags |= TASK_IN_SYSCALL;
	return 1;
}

/* Whether the stack policy wants a stack for the call EV is about to make. */
static int want_stack(const struct mt_session *s, const struct mt_event *ev)
{
	uint64_t len;
	unsigned kind = MT_MAP_ANON;
	enum mt_class c;

	switch (s->cfg.stacks) {
	case MT_STACKS_NONE:
		return 0;
	case MT_STACKS_ALL:
		return 1;
	default:
		break;
	}
	if (ev->sys == MT_SYS_MMAP) {
		len = ev->args[1];
		kind = (ev->args[3] & MAP_ANONYMOUS) ? MT_MAP_ANON : 0;
	} else if (ev->sys == MT_SYS_MREMAP) {
		len = ev->args[2];
	} else {
		return 0;
	}
	c = maps_classify(&s->maps, page_up(len), kind);
	return c == MT_CLASS_LARGE || (c == MT_CLASS_CHUNK && s->cfg.stacks == MT_STACKS_CHUNK);
}

/*
 * Whether EV may be malloc making or growing a block in a JVM, which may be
 * direct memory whatever its size: an anonymous private mmap glibc would
 * make (readable, neither fixed nor a MAP_NORESERVE reservation), an
 * mremap, or malloc growing an arena: a brk that moves the break up, or an
 * mprotect making writable the reserved part of a MAP_NORESERVE heap (see
 * account_mprotect).  Its stack is probed (see direct.c).  The entry is
 * read without the lock: entries change only on this, the tracer, thread.
 */
static int direct_candidate(const struct mt_session *s, const struct mt_event *ev)
{
	uint64_t flags = ev->args[3];
	const struct maps_entry *e;

	if (!s->jvm || s->cfg.stacks == MT_STACKS_NONE)
		return 0;
	if (ev->sys == MT_SYS_MREMAP)
		return 1;
	if (ev->sys == MT_SYS_BRK)
		return s->brk_start && ev->args[0] > s->brk_end;
	if (ev->sys == MT_SYS_MPROTECT)
		return (ev->args[2] & PROT_WRITE) && (e = maps_find(&s->maps, ev->args[0])) &&
		       e->prot == PROT_NONE && (e->flags & MAP_NORESERVE) && (e->kind & MT_MAP_ANON);
	return ev->sys == MT_SYS_MMAP && (flags & MAP_ANONYMOUS) && (flags & MAP_PRIVATE) &&
	       !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_NORESERVE)) &&
	       (ev->args[2] & PROT_READ);
}

/*
 * Capture the stack of T for its pending call when the policy wants one,
 * or probe it for the direct-memory path (a whole stack only when found).
 * The thread is stopped at the call's entry, so this is time it waits.
 */
static void capture_stack(struct mt_session *s, struct task *t)
{
	uint64_t pcs[MT_STACK_MAX];
	uint64_t ids[MT_STACK_MAX];
	unsigned n, probe = 0;
	int direct = 0;

	if (!(t->flags & TASK_TARGET_MM))
		return;
	if (!want_stack(s, &t->pending)) {
		if (!direct_candidate(s, &t->pending))
			return;
		probe = DIRECT_PROBE;
	}
	if (s->stacks.dirty) {
		pthread_mutex_lock(&s->lock);
		stack_refresh(s, t->tid); /* its own maps: the leader may be gone */
		pthread_mutex_unlock(&s->lock);
	}
	n = unwind_capture(s, t, pcs, ids, s->cfg.stack_depth, probe);
	if (s->jvm)
		direct = stack_is_direct(s, pcs, n);
	t->pending.direct = (uint8_t)direct;
	if (probe && !direct)
		return;
	pthread_mutex_lock(&s->lock);
	t->pending.stack_id = stack_intern(s, pcs, ids, n);
	pthread_mutex_unlock(&s->lock);
}

/* At a memory syscall's entry: its stack, and what it frees (see account.c). */
static void enter_event(struct mt_session *s, struct task *t)
{
	const struct sys_ent *e = sys_by_id(t->pending.sys);

	capture_stack(s, t);
	if (e && e->enter && (t->flags & TASK_TARGET_MM)) {
		pthread_mutex_lock(&s->lock);
		e->enter(s, t, &t->pending);
		pthread_mutex_unlock(&s->lock);
	}
}

/*
 * Whether the munmap T is entering will succeed, so its exit stop can be
 * skipped (half the cost of the call).  munmap fails only with EINVAL (an
 * unaligned address, an empty or overflowing length, a range beyond the
 * user address space) or with ENOMEM when a split would pass
 * vm.max_map_count; the first is checked here, and the second cannot
 * happen while the table (which holds every mapping when nothing is left
 * to --min-size) is far below the limit.  Since Linux 6.10 a range sealed
 * with mseal(2) fails with EPERM too: once the target has called mseal,
 * every munmap goes to its exit stop.
 */
static int munmap_predictable(const struct mt_session *s, const struct task *t)
{
	uint64_t addr = t->pending.args[0], len = page_up(t->pending.args[1]);

	return t->pending.sys == MT_SYS_MUNMAP && (t->flags & TASK_TARGET_MM) && !s->sealing &&
	       !s->cfg.min_size && s->max_map_count && maps_count(&s->maps) < s->max_map_count / 2 &&
	       addr % page_size == 0 && len && len >= t->pending.args[1] &&
	       addr < (1ull << 47) && len <= (1ull << 47) - addr;
}

/* Seccomp stop (launch mode): note the call and run it to its exit stop. */
static void on_seccomp(struct mt_session *s, struct task *t)
{
	struct __ptrace_syscall_info info = {0}; /* what the kernel leaves unwritten is 0 */
	struct mt_event ev;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, sizeof(info), &info) <= 0 ||
	    info.op != PTRACE_SYSCALL_INFO_SECCOMP) {
		task_resume(s, t, 0);
		return;
	}
	/*
	 * A SECCOMP_RET_TRACE of the target's own filter: untraced, the call
	 * would fail with ENOSYS, so it does (syscall -1 skips it; the result
	 * is then what rax holds).
	 */
	if ((info.seccomp.ret_data & 0xff00) != FILTER_TAG) {
		ptrace(PTRACE_POKEUSER, t->tid, offsetof(struct user_regs_struct, orig_rax), -1L);
		ptrace(PTRACE_POKEUSER, t->tid, offsetof(struct user_regs_struct, rax), -(long)ENOSYS);
		task_resume(s, t, 0);
		return;
	}
	/*
	 * Attached in syscall mode, a filter of ours left by an earlier
	 * memtraced: the entry stop before this one began the event.  Keeping
	 * (a stop came in filter mode): nothing more is recorded.
	 */
	if ((s->attached && !s->attach_filter) || s->keeping) {
		task_resume(s, t, 0);
		return;
	}
	if (info.seccomp.ret_data == FILTER_SEAL) {
		if (t->flags & TASK_TARGET_MM)
			s->sealing = 1;
		task_resume(s, t, 0);
		return;
	}
	if (begin_event(t, info.seccomp.nr, (const uint64_t *)info.seccomp.args)) {
		enter_event(s, t);
		if (munmap_predictable(s, t)) {
			t->flags &= ~TASK_IN_SYSCALL;
			task_resume(s, t, 0);
			ev = t->pending;
			ev.ret = 0;
			ev.done = ev.inferred = 1;
			record(s, t, &ev);
			return;
		}
	}
	task_resume(s, t, 0);
}

/*
 * Syscall stop.  Attached (no filter), an entry stop of a memory syscall
 * starts an event and every other one is resumed at once.  Its exit stop
 * completes the event: resume first, then record.  (In launch mode an
 * entry stop only appears on kernels that stop at seccomp before entry.)
 */
static void on_syscall_stop(struct mt_session *s, struct task *t)
{
	struct __ptrace_syscall_info info = {0}; /* what the kernel leaves unwritten is 0 */
	struct mt_event ev;

	/*
	 * Attached, every syscall stops twice.  The syscall stop that follows
	 * the entry stop of a non-memory call is its exit: the kernel reports
	 * the exit before any signal or group-stop can be handled, and a task
	 * that dies in the call reports no more stops.  So resume it without
	 * asking.  Any other stop in between clears the flag (session_handle),
	 * so a surprise costs one query, not a wrong guess.
	 */
	if (t->flags & TASK_IN_OTHER) {
		t->flags &= ~TASK_IN_OTHER;
		task_resume(s, t, 0);
		return;
	}
	if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, sizeof(info), &info) <= 0) {
		task_resume(s, t, 0);
		return;
	}
	if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
		if (s->attached && !s->attach_filter) {
			/* An entry while one is pending: that exit was never reported. */
			if (t->flags & TASK_IN_SYSCALL) {
				t->flags &= ~TASK_IN_SYSCALL;
				record(s, t, &t->pending);
			}
			/* An i386 call (int 0x80) has other numbers: not ours to read. */
			if (info.arch == AUDIT_ARCH_X86_64 &&
			    begin_event(t, info.entry.nr, (const uint64_t *)info.entry.args))
				enter_event(s, t);
			else
				t->flags |= TASK_IN_OTHER;
		}
		task_resume(s, t, 0);
		return;
	}
	if (info.op != PTRACE_SYSCALL_INFO_EXIT || !(t->flags & TASK_IN_SYSCALL)) {
		task_resume(s, t, 0);
		return;
	}
	ev = t->pending;
	ev.ret = info.exit.rval;
	ev.done = 1;
	t->flags &= ~TASK_IN_SYSCALL;
	task_resume(s, t, 0);
	ev.dur_ns = (uint64_t)(mt_now_ns() - ev.time_ns);
	if ((int64_t)ev.dur_ns < 0)
		ev.dur_ns = 0;
	record(s, t, &ev);
}

/*
 * Answer a PTRACE_EVENT_STOP of T, event EV.  In a group-stop T stays
 * stopped, listening, so SIGCONT and SIGKILL still reach it; any other (an
 * interrupt, a first stop, the wake-up after SIGCONT) is resumed.
 */
static void task_stop_answer(struct mt_session *s, struct task *t, enum stop_event ev)
{
	if (ev == STOP_GROUP)
		ptrace(PTRACE_LISTEN, t->tid, 0, 0);
	else
		task_resume(s, t, 0);
}

/* Read the clone flags of the clone/clone3 call T is stopped in. */
static uint64_t clone_flags(struct task *t, enum stop_event ev)
{
	struct user_regs_struct regs;
	uint64_t flags = 0;

	if (ptrace(PTRACE_GETREGS, t->tid, 0, &regs) < 0)
		return ev == STOP_VFORK ? CLONE_VM | CLONE_VFORK : 0;
	if (regs.orig_rax == __NR_clone)
		return regs.rdi;
	if (regs.orig_rax == __NR_clone3) {
		/*
		 * The one read of target memory not through tmem.c: the
		 * clone_args the caller has just written, so it is resident.
		 */
		struct iovec local = {&flags, sizeof(flags)};
		struct iovec remote = {(void *)regs.rdi, sizeof(flags)};

		if (process_vm_readv(t->tid, &local, 1, &remote, 1, 0) == sizeof(flags))
			return flags;
	}
	/* fork() and vfork() are clone underneath; these are their flags. */
	return ev == STOP_VFORK ? CLONE_VM | CLONE_VFORK : 0;
}

/* Clone, fork or vfork event: set up the new task, then resume both. */
static void on_clone(struct mt_session *s, struct task *t, enum stop_event ev)
{
	unsigned long msg = 0;
	uint64_t flags;
	struct task *c;
	pid_t tid;
	unsigned cflags;

	if (ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &msg) < 0) {
		task_resume(s, t, 0);
		return;
	}
	tid = (pid_t)msg;
	flags = clone_flags(t, ev);
	/* Only tasks sharing the target's address space change its table. */
	cflags = (flags & CLONE_VM) ? (t->flags & TASK_TARGET_MM) : 0;
	c = task_get(s, tid);
	if (c) {
		/* Its first stop came before our event: it has waited for this. */
		c->pid = c->th->pid = (flags & CLONE_THREAD) ? t->pid : tid;
		c->flags = (c->flags & ~(TASK_TARGET_MM | TASK_ORPHAN)) | cflags;
		task_stop_answer(s, c, c->orphan_ev);
	} else {
		task_new(s, tid, (flags & CLONE_THREAD) ? t->pid : tid, cflags);
	}
	/* A new process: the guard must know of it should its parent exit (guard.c). */
	if (!(flags & CLONE_THREAD) && s->guard > 0)
		guard_tell_fork(s->guard, tid);
	task_resume(s, t, 0);
}

/*
 * A new address space (exec, attach): learn what the target is (a JVM's
 * ceiling and chunk size, whether glibc's mmap threshold is pinned), then
 * seed the table from /proc/PID/maps.  Reading /proc happens before the
 * lock; the table is cleared before the chunk size changes, since the
 * totals depend on it.
 */
void session_reset(struct mt_session *s, pid_t pid)
{
	static const size_t size = 256 * 1024;
	char *cmd = malloc(size), *env = malloc(size), exe[4096] = "";
	char *argv[512], **fresh = NULL;
	struct stat pst;
	struct mt_jvm_limits lim = {0};
	ssize_t clen = -1, elen = -1;
	const char *tun;
	int java = 0, pinned = 0, argc = 0;
	pid_t mm = proc_mm_pid(pid); /* a live thread if the leader is gone */

	if (cmd && env) {
		clen = proc_read(mm, "cmdline", cmd, size);
		elen = proc_read(mm, "environ", env, size);
	}
	for (ssize_t i = 0; clen > 0 && i < clen && argc < 511; i += (ssize_t)strlen(cmd + i) + 1)
		argv[argc++] = cmd + i;
	argv[argc] = NULL;
	if (elen > 0) {
		tun = proc_env_get(env, (size_t)elen, "GLIBC_TUNABLES");
		pinned = proc_env_get(env, (size_t)elen, "MALLOC_MMAP_THRESHOLD_") ||
			 (tun && strstr(tun, "glibc.malloc.mmap_threshold"));
	}
	{
		char link[64];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/%d/exe", mm);
		if ((n = readlink(link, exe, sizeof(exe) - 1)) > 0)
			exe[n] = '\0';
		snprintf(link, sizeof(link), "/proc/%d", mm);
		if (stat(link, &pst) < 0)
			pst.st_uid = (uid_t)-1;
	}
	if (argc && (mt_jvm_is_java(argv[0]) || mt_jvm_is_java(exe))) {
		char cwd[64], root[64];
		struct mt_jvm_env je = {
			.phys_mem = (uint64_t)sysconf(_SC_PHYS_PAGES) * page_size,
			.cgroup_limit = proc_cgroup_limit(pid),
			.cpus = (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
			.cwd = cwd,
			.root = root,
		};

		snprintf(cwd, sizeof(cwd), "/proc/%d/cwd", mm);
		snprintf(root, sizeof(root), "/proc/%d/root", mm);

		if (elen > 0) {
			je.java_tool_options = proc_env_get(env, (size_t)elen, "JAVA_TOOL_OPTIONS");
			je.jdk_java_options = proc_env_get(env, (size_t)elen, "JDK_JAVA_OPTIONS");
			je.java_options = proc_env_get(env, (size_t)elen, "_JAVA_OPTIONS");
		}
		mt_jvm_limits(argv, &je, &lim);
		java = 1;
	}
	pthread_mutex_lock(&s->lock);
	maps_clear(&s->maps);
	s->stacks.dirty = 1;
	unwind_flush(s);
	s->threshold_pinned = pinned;
	s->target_uid = pst.st_uid;
	s->sealing = 0; /* a new address space has nothing sealed by the program */
	if (!s->cfg.ceiling) {
		s->ceiling = java ? lim.ceiling : 0;
		snprintf(s->ceiling_source, sizeof(s->ceiling_source), "%s",
			 java ? lim.ceiling_source : "none");
	}
	s->jvm = java;
	s->lim = lim;
	s->direct_known = 0; /* until a libjvm is seen in the new snapshot */
	memset(s->direct_sizes, 0, sizeof(s->direct_sizes));
	s->direct_mmaps = 0;
	memset(&s->netty, 0, sizeof(s->netty));
	s->njar_seen = 0;
	s->jar_scan_ns = 0;
	direct_update_chunk(s);
	s->level = MT_LEVEL_OK;
	alert_configure(s);
	/* Bound to the address space at open: a new one after an exec. */
	if (s->pagemap_fd >= 0)
		close(s->pagemap_fd);
	s->pagemap_fd = tmem_open(mm);
	{
		int64_t t0 = mono_ns();

		account_seed(s, mm);
		s->seed_ns = mono_ns() - t0;
	}
	/* An exec names a new program; an empty command line keeps the old. */
	if (argc && (fresh = argv_copy(argv))) {
		char **old = s->argv;

		s->argv = fresh;
		fresh = old;
	}
	pthread_mutex_unlock(&s->lock);
	free(fresh);
	free(cmd);
	free(env);
}

/*
 * The exec event of TID, a tid we do not know: a thread exec'd and took
 * the leader's tid, and the leader was not ours (a zombie when we
 * attached).  Move the thread's task to TID and return it; NULL when the
 * thread was not ours either.
 */
struct task *task_exec_moved(struct mt_session *s, pid_t tid)
{
	unsigned long former = 0;
	struct task *t;

	if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &former) < 0 || !(t = task_get(s, (pid_t)former)))
		return NULL;
	task_move(s, t, tid); /* TID is not ours: nothing is displaced */
	return t;
}

/* Exec event: the address space is new; a non-leader exec took the leader's tid. */
static void on_exec(struct mt_session *s, struct task *t)
{
	unsigned long former = 0;

	if (ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &former) == 0 && (pid_t)former != t->tid) {
		struct task *moved = task_get(s, (pid_t)former);

		/* The old leader vanished without an exit report. */
		if (moved) {
			task_free(s, task_move(s, moved, t->tid));
			t = moved;
		}
	}
	t->flags &= ~TASK_IN_SYSCALL;
	t->flags &= ~TASK_NAMED;
	if (t->pid == s->pid) {
		t->flags |= TASK_TARGET_MM;
		s->brk_start = s->brk_end = 0;
		session_reset(s, t->pid);
		pthread_mutex_lock(&s->lock);
		s->state = MT_STATE_RUNNING;
		pthread_mutex_unlock(&s->lock);
		notify(s);
	} else {
		t->flags &= ~TASK_TARGET_MM;
	}
	task_resume(s, t, 0);
}

/* A stop of a tid we do not know yet: a new task whose parent's event is
 * still queued.  Keep it stopped until on_clone() tells us who it is. */
static void on_unknown(struct mt_session *s, pid_t tid, enum stop_event ev)
{
	struct task *t = task_new(s, tid, tid, TASK_ORPHAN);

	if (!t)
		ptrace(PTRACE_CONT, tid, 0, 0);
	else
		t->orphan_ev = ev == STOP_GROUP ? STOP_GROUP : STOP_INTERRUPT;
}

/* Dispatch one waitpid() result. */
void session_handle(struct mt_session *s, pid_t tid, int status)
{
	enum stop_event ev = stop_classify(status);
	struct task *t = task_get(s, tid);

	if (ev == STOP_EXITED) {
		if (!t && tid == s->guard) {
			/* Our guard, reaped: its pid may be reused, never signal it again. */
			pthread_mutex_lock(&s->lock);
			s->guard = 0;
			pthread_mutex_unlock(&s->lock);
			if (s->cfg.log) {
				char msg[160];

				snprintf(msg, sizeof(msg), "guard pid %d exited: if memtraced is killed "
					 "now, the memory calls of pid %d fail (ENOSYS)", tid, s->pid);
				s->cfg.log(MT_LOG_INFO, msg, s->cfg.log_arg);
			}
			return;
		}
		if (t && (t->flags & TASK_IN_SYSCALL)) {
			t->pending.done = 0;
			record(s, t, &t->pending);
		}
		/* The leader's status; or the last thread's, if the leader was
		 * a zombie when we attached and so never ours. */
		if (tid == s->pid ||
		    (t && t->pid == s->pid && !task_get(s, s->pid) && s->ntasks == 1)) {
			pthread_mutex_lock(&s->lock);
			s->exit_status = status;
			s->state = MT_STATE_EXITED;
			s->end_ns = mt_now_ns();
			pthread_mutex_unlock(&s->lock);
			notify(s);
		}
		task_free(s, t);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	if (!t && ev == STOP_EXEC)
		t = task_exec_moved(s, tid);
	if (!t) {
		on_unknown(s, tid, ev);
		return;
	}
	if (ev != STOP_SYSCALL)
		t->flags &= ~TASK_IN_OTHER;
	/* Our interrupt or stop must not end an epoll wait with EINTR. */
	if (s->handing)
		inject_restart_eintr(tid, status, 1);
	/* A handover: the thread stays in its group-stop with no tracer. */
	if (s->handing && ev == STOP_GROUP && t->pid == s->pid) {
		ptrace(PTRACE_DETACH, tid, 0, 0);
		task_free(s, t);
		if (!s->ntasks) {
			pthread_mutex_lock(&s->lock);
			s->state = MT_STATE_DETACHED;
			s->end_ns = mt_now_ns();
			pthread_mutex_unlock(&s->lock);
		}
		return;
	}
	switch (ev) {
	case STOP_SECCOMP:
		on_seccomp(s, t);
		return;
	case STOP_CLONE:
	case STOP_FORK:
	case STOP_VFORK:
		on_clone(s, t, ev);
		return;
	case STOP_EXEC:
		on_exec(s, t);
		return;
	case STOP_GROUP:
	case STOP_INTERRUPT:
		/*
		 * A new task's first stop is one too: born while the process
		 * stops, it joins the group-stop, and its first trap says so.
		 */
		task_stop_answer(s, t, ev);
		return;
	case STOP_SYSCALL:
		on_syscall_stop(s, t);
		return;
	case STOP_SIGNAL:
		/* Signal-delivery-stop: hand the signal on, unchanged. */
		task_resume(s, t, WSTOPSIG(status));
		return;
	case STOP_EXITED:
	case STOP_OTHER:
		/* An event not asked for: resumed, nothing to hand on. */
		task_resume(s, t, 0);
		return;
	}
}

/* Interrupt task T so that it stops to be detached, or let it go now (task_foreach()). */
static void interrupt_to_detach(struct mt_session *s, struct task *t, void *arg)
{
	(void)arg;
	/* Already stopped with its stop consumed: no new report will come. */
	if (t->flags & TASK_ORPHAN) {
		ptrace(PTRACE_DETACH, t->tid, 0, 0);
		task_free(s, t);
		return;
	}
	/*
	 * A leader that left with pthread_exit() is a zombie until the last
	 * thread ends and will not stop for us: do not wait for it.  The
	 * kernel lets it go when memtraced exits.
	 */
	if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0 || proc_task_gone(t->tid))
		task_free(s, t);
}

/*
 * Detach every task (syscall attach mode): interrupt every thread and
 * detach each at its next stop.  A signal-delivery-stop detaches with its
 * signal, so nothing is lost; a thread in group-stop stays stopped (the
 * kernel keeps the group stop); a thread stopped in a syscall carries on
 * with it.  Runs on the tracer thread.
 */
void session_detach_all(struct mt_session *s)
{
	pid_t *freed = NULL; /* threads let go before we knew them */
	size_t nfreed = 0;
	int status;
	pid_t tid;

	task_foreach(s, interrupt_to_detach, NULL);
	while (s->ntasks > 0) {
		struct task *t;
		enum stop_event ev;
		int sig = 0;

		tid = waitpid(-1, &status, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		ev = stop_classify(status);
		t = task_get(s, tid);
		if (!t && ev == STOP_EXEC)
			t = task_exec_moved(s, tid);
		if (ev == STOP_EXITED) {
			session_handle(s, tid, status);
			continue;
		}
		/* A signal-delivery-stop: hand the signal over as we let go. */
		if (ev == STOP_SIGNAL)
			sig = WSTOPSIG(status);
		/* A thread born now stops once too: wait for it, unless it came first. */
		if (ev == STOP_CLONE) {
			unsigned long child = 0;
			size_t k = 0;

			ptrace(PTRACE_GETEVENTMSG, tid, 0, &child);
			while (k < nfreed && freed[k] != (pid_t)child)
				k++;
			if (child && k == nfreed && !task_get(s, (pid_t)child))
				task_new(s, (pid_t)child, t ? t->pid : (pid_t)child, 0);
		}
		inject_restart_eintr(tid, status, 0);
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

/* End the periodic wake-up a stop or handover request set (mt_session_stop()). */
static void wake_tick_off(struct mt_session *s)
{
	struct itimerspec off = {0};

	if (s->have_timer)
		timer_settime(s->wake_timer, 0, &off, NULL);
}

/* SIGKILL the process of task T (task_foreach()). */
static void kill_task(struct mt_session *s, struct task *t, void *arg)
{
	(void)s;
	(void)arg;
	kill(t->pid, SIGKILL);
}

/* PTRACE_INTERRUPT task T of the target (task_foreach()). */
static void interrupt_target_task(struct mt_session *s, struct task *t, void *arg)
{
	(void)arg;
	if (t->pid == s->pid)
		ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);
}

#define HANDOVER_WAIT_NS (10 * 1000000000LL) /* for the new tracer to seize the target */

/* Count the tasks of the target in *ARG (task_foreach()). */
static void count_target_task(struct mt_session *s, struct task *t, void *arg)
{
	if (t->pid == s->pid)
		(*(size_t *)arg)++;
}

/* Whether we trace a thread of the target still (not only processes it forked). */
static int target_held(struct mt_session *s)
{
	size_t held = 0;

	task_foreach(s, count_target_task, &held);
	return held > 0;
}

/* Whether our guard lives: not reaped, not a zombie. */
static int guard_alive(struct mt_session *s)
{
	char state[64];

	return s->guard > 0 && proc_status_field(s->guard, "State:", state, sizeof(state)) == 0 &&
	       state[0] != 'Z' && state[0] != 'X';
}

/*
 * A keeper hands the target over to a second memtraced, as a guard does
 * (guard.c): SIGSTOP, and each of the target's threads is detached at its
 * group-stop (session_handle()), where it stays, untraced, for the new
 * tracer to seize.  A thread already in a group-stop reports it again when
 * interrupted.  A stop hands it over the same way to our own guard
 * (TO_GUARD, its pid), told first (guard_take_now()) so that it ends the
 * stop itself once it holds every thread, even if we die meanwhile.
 *
 * Our guard stays until the new tracer holds every thread
 * (handover_step()), so that a keeper killed at any moment of the
 * handover leaves the target to it: threads we still hold are detached by
 * the kernel into the same group-stop, and the guard seizes them there
 * unless the new memtraced holds the leader (see take() in guard.c).  The
 * keeper goes on with the children the target forked, or exits, and its
 * guard with it.
 */
static void begin_handover(struct mt_session *s, pid_t to_guard)
{
	s->handing = 1;
	s->handing_deadline_ns = mono_ns() + HANDOVER_WAIT_NS;
	s->handing_to_guard = to_guard;
	if (s->cfg.log && !to_guard) {
		char msg[128];

		snprintf(msg, sizeof(msg), "handing pid %d over to another memtraced", s->pid);
		s->cfg.log(MT_LOG_INFO, msg, s->cfg.log_arg);
	}
	kill(s->pid, SIGSTOP);
	task_foreach(s, interrupt_target_task, NULL);
}

/* Whether thread TID is not traced by the pid in *ARG; a proc_tasks_all() predicate. */
static int task_not_traced_by(pid_t tid, void *arg)
{
	return proc_status_number(tid, "TracerPid:", 10, 0) != (unsigned long long)*(pid_t *)arg;
}

/*
 * The handover, once every thread of the target is left: done when the new
 * tracer holds them all.  When none has come by the deadline (the new
 * memtraced died, or gave up), or our guard, the taker, died, we take the
 * target back and end its stop, and keep it as before.  A guard that is
 * alive but late (stopped, starved) is told to stand down first, and we
 * wait until it has let go of every thread (or has them all after all).
 */
static void handover_step(struct mt_session *s)
{
	pid_t guard = s->handing_to_guard;
	char msg[256];
	int late;

	if (target_held(s))
		return; /* still leaving */
	/* Read once: a guard is never taken back from without being told to stand down first. */
	late = mono_ns() > s->handing_deadline_ns;
	if (guard && !s->guard_standing_down && late && guard_alive(s) &&
	    guard_stand_down(guard) == 0)
		s->guard_standing_down = 1;
	if (proc_all_traced(s->pid)) { /* not by us: we left them all */
		s->handing = 0;
		if (guard)
			snprintf(msg, sizeof(msg), "stop: pid %d carries memtrace's seccomp "
				 "filter; memtraced-guard (pid %d) resumes its memory calls until "
				 "it exits%s", s->pid, guard, s->ntasks ? "; memtraced stays until "
				 "the processes it forked under the filter exit" : "");
		else
			snprintf(msg, sizeof(msg), "pid %d handed over", s->pid);
	} else if ((late || (guard && !guard_alive(s))) &&
		   (!s->guard_standing_down || !guard_alive(s) ||
		    proc_tasks_all(s->pid, task_not_traced_by, &guard, 1))) {
		int err;

		s->handing = 0;
		atomic_store(&s->handover_requested, 0);
		err = attach_retake(s);
		if (guard)
			snprintf(msg, sizeof(msg), "stop: pid %d carries memtrace's seccomp "
				 "filter; memtraced-guard (pid %d) did not take it over, %s", s->pid,
				 guard, err == 0 ? "so memtraced stays, resuming its memory calls "
				 "until it exits" : strerror(-err));
		else
			snprintf(msg, sizeof(msg), "pid %d: no memtraced took it over; %s", s->pid,
				 err == 0 ? "kept again" : strerror(-err));
		pthread_mutex_lock(&s->lock);
		if (err == 0 && s->state == MT_STATE_DETACHED)
			s->state = MT_STATE_RUNNING;
		pthread_mutex_unlock(&s->lock);
	} else {
		return;
	}
	s->handing_to_guard = 0;
	s->guard_standing_down = 0;
	wake_tick_off(s); /* the handover's 50 ms tick, no longer needed */
	if (s->cfg.log)
		s->cfg.log(MT_LOG_INFO, msg, s->cfg.log_arg);
}

/*
 * A stop in filter mode: the filter cannot be taken out of the target, and
 * untraced its memory calls would fail with ENOSYS.  Nothing more is
 * recorded.  With a live guard, the target is handed over to it
 * (begin_handover()), and memtraced exits once it traces nothing else.
 * Without one, or when the guard does not take it, memtraced stays its
 * tracer, a keeper, resuming every stop at once until the target exits.
 */
static void keep(struct mt_session *s)
{
	if (s->keeping)
		return;
	pthread_mutex_lock(&s->lock);
	s->keeping = 1;
	pthread_mutex_unlock(&s->lock);
	/* The name a second memtraced knows a keeper by (guard_of()). */
	prctl(PR_SET_NAME, "memtraced-keep");
	/* Told before the SIGSTOP: the stop is the guard's to end from now on. */
	if (target_held(s) && guard_alive(s) && guard_take_now(s->guard) == 0) {
		begin_handover(s, s->guard); /* the stop's 50 ms tick goes on until it is done */
		return;
	}
	/* No more requests to notice: the loop ends when the target does. */
	wake_tick_off(s);
	if (s->cfg.log) {
		char msg[192];

		snprintf(msg, sizeof(msg), "stop: pid %d carries memtrace's seccomp filter; "
			 "with no guard to hand it to, memtraced stays, resuming its memory "
			 "calls until it exits", s->pid);
		s->cfg.log(MT_LOG_INFO, msg, s->cfg.log_arg);
	}
}

/* Carry out a pending stop request: SIGTERM, then SIGKILL after the grace. */
static void do_stop(struct mt_session *s)
{
	if (s->attached && s->attach_filter) {
		keep(s);
		return;
	}
	if (s->attached) {
		session_detach_all(s);
		return;
	}
	if (!s->stopping) {
		s->stopping = 1;
		s->stop_deadline_ns = mono_ns() + (int64_t)atomic_load(&s->stop_requested) * 1000000;
		if (task_get(s, s->pid))
			kill(s->pid, SIGTERM);
		return;
	}
	if (mono_ns() < s->stop_deadline_ns)
		return;
	task_foreach(s, kill_task, NULL);
}

static void wake_handler(int sig)
{
	(void)sig;
}

/* Set up the wake-up signal and timer that interrupt waitpid(). */
static void wake_setup(struct mt_session *s)
{
	struct sigaction sa = {.sa_handler = wake_handler};
	struct sigevent sev = {.sigev_notify = SIGEV_THREAD_ID,
			       .sigev_signo = s->cfg.wake_signal};
	sigset_t set;

	s->tracer = pthread_self();
	s->tracer_tid = gettid();
	/* No SA_RESTART: the signal must interrupt waitpid(). */
	sigemptyset(&sa.sa_mask);
	sigaction(s->cfg.wake_signal, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, s->cfg.wake_signal);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	sev._sigev_un._tid = s->tracer_tid;
	if (timer_create(CLOCK_MONOTONIC, &sev, &s->wake_timer) == 0)
		s->have_timer = 1;
}

/* The tracer loop; see the top comment. */
int mt_session_run(struct mt_session *s)
{
	int status;
	pid_t tid;

	wake_setup(s);
	while (s->ntasks > 0 || s->handing) {
		if (atomic_load(&s->stop_requested))
			do_stop(s);
		if (atomic_load(&s->handover_requested) && s->keeping && !s->handing) {
			/* Handed to our guard already: the request is not ours to answer. */
			if (target_held(s))
				begin_handover(s, 0);
			atomic_store(&s->handover_requested, 0);
		}
		if (s->handing)
			handover_step(s);
		if (!s->ntasks) {
			/* Nothing of ours left to stop: wait for the new tracer. */
			if (s->handing)
				usleep(1000);
			continue;
		}
		tid = waitpid(-1, &status, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				break;
			return -errno;
		}
		session_handle(s, tid, status);
	}
	wake_tick_off(s);
	pthread_mutex_lock(&s->lock);
	/* Detached, the process goes on: only a traced target can have exited. */
	if (s->state != MT_STATE_EXITED && s->state != MT_STATE_DETACHED) {
		s->state = MT_STATE_EXITED;
		s->end_ns = mt_now_ns();
	}
	pthread_mutex_unlock(&s->lock);
	notify(s);
	return 0;
}

/* Ask a keeper to hand the target over; see libtrace.h.  Async-signal-safe. */
void mt_session_handover(struct mt_session *s)
{
	struct itimerspec tick = {{0, 50000000}, {0, 50000000}};

	atomic_store(&s->handover_requested, 1);
	if (s->have_timer)
		timer_settime(s->wake_timer, 0, &tick, NULL);
	if (s->tracer_tid)
		pthread_kill(s->tracer, s->cfg.wake_signal);
}

/* Request a stop; async-signal-safe. */
void mt_session_stop(struct mt_session *s, int grace_ms)
{
	struct itimerspec tick = {{0, 50000000}, {0, 50000000}};

	atomic_store(&s->stop_requested, grace_ms > 0 ? grace_ms : 1);
	/* A periodic tick closes the race between the flag check and waitpid(). */
	if (s->have_timer)
		timer_settime(s->wake_timer, 0, &tick, NULL);
	if (s->tracer_tid)
		pthread_kill(s->tracer, s->cfg.wake_signal);
}

char **mt_session_argv(struct mt_session *s)
{
	char **copy = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->argv)
		copy = argv_copy(s->argv);
	pthread_mutex_unlock(&s->lock);
	return copy;
}

/* Copy the totals. */
void mt_session_status(struct mt_session *s, struct mt_status *out)
{
	const struct maps_totals *tot = &s->maps.totals;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->lock);
	out->pid = s->pid;
	out->state = s->state;
	out->attached = s->attached;
	out->percent_level = s->level;
	out->trend_level = s->trend.level;
	out->level = s->level > s->trend.level ? s->level : s->trend.level;
	memcpy(out->ceiling_source, s->ceiling_source, sizeof(out->ceiling_source));
	memcpy(out->chunk_source, s->chunk_source, sizeof(out->chunk_source));
	out->arena_bytes = tot->arena_bytes;
	out->threshold_pinned = s->threshold_pinned;
	out->exit_status = s->exit_status;
	out->start_ns = s->start_ns;
	out->end_ns = s->end_ns;
	memcpy(out->count, tot->count, sizeof(out->count));
	memcpy(out->bytes, tot->bytes, sizeof(out->bytes));
	out->outstanding_count = tot->count_all;
	out->outstanding_bytes = tot->bytes_all;
	out->reserved_bytes = tot->reserved_bytes;
	out->committed_bytes = tot->committed_bytes;
	out->brk_bytes = tot->brk_bytes;
	out->seeded_count = s->seeded_count;
	out->seeded_bytes = s->seeded_bytes;
	out->attach_held_ns = s->attach_held_ns;
	out->attach_mode = s->attach_filter ? MT_ATTACH_FILTER : MT_ATTACH_SYSCALL;
	out->keeping = s->keeping;
	out->guard = s->guard;
	memcpy(out->attach_note, s->attach_note, sizeof(out->attach_note));
	out->seed_ns = s->seed_ns;
	out->chunk_size = s->maps.chunk_size;
	out->chunk_slack = s->cfg.chunk_slack;
	out->ceiling = s->ceiling;
	out->warn_percent = s->cfg.warn_percent;
	out->crit_percent = s->cfg.crit_percent;
	out->events_recorded = s->ring.head;
	out->events_dropped = ring_dropped(&s->ring);
	memcpy(out->events_by_sys, s->by_sys, sizeof(out->events_by_sys));
	out->child_events = s->child_events;
	out->threads_alive = s->threads_alive;
	out->threads_seen = s->threads_seen;
	out->tasks_alive = s->ntasks;
	out->java_names = s->jn_state;
	out->java_dumps = s->jn_dumps;
	memcpy(out->java_names_note, s->jn_note, sizeof(out->java_names_note));
	out->perf_map = s->pm_state;
	out->perf_map_requests = s->pm_requests;
	memcpy(out->perf_map_note, s->pm_note, sizeof(out->perf_map_note));
	for (const struct thread *th = s->threads; th; th = th->next)
		out->java_named += th->alive && th->jname;
	out->jvm = s->jvm;
	out->direct_weighing = direct_weighing(s);
	out->direct_count = tot->direct_count;
	out->direct_bytes = tot->direct_bytes;
	out->direct_mmaps = s->direct_mmaps;
	out->seeded_chunk_bytes = tot->seeded_chunk_bytes;
	out->hidden_bytes = direct_hidden(s);
	out->arena_direct_bytes = tot->direct_arena_bytes;
	memcpy(out->netty_version, s->netty.version, sizeof(out->netty_version));
	pthread_mutex_unlock(&s->lock);
}

/* Whether E passes F (NOW for its age). */
static int filter_match(const struct maps *maps, const struct mt_filter *f, int64_t now,
			const struct maps_entry *e)
{
	enum mt_class cl = maps_classify(maps, e->len, e->kind);

	return !((f->class >= 0 && (int)cl != f->class) || e->len < f->min_size ||
		 (f->direct && !(e->kind & MT_MAP_DIRECT)) || (f->tid && e->tid != f->tid) ||
		 (f->older_than_ns && (!e->time_ns || now - e->time_ns < f->older_than_ns)));
}

/* Copy entry E into M, with its creator's names (under the session lock). */
static void mapping_copy(const struct maps *maps, const struct maps_entry *e, struct mt_mapping *m)
{
	m->start = e->start;
	m->len = e->len;
	m->prot = e->prot;
	m->flags = e->flags;
	m->kind = e->kind;
	m->class = maps_classify(maps, e->len, e->kind);
	m->tid = e->tid;
	m->time_ns = e->time_ns;
	m->stack_id = e->stack_id;
	m->id = e->id;
	m->comm[0] = m->name[0] = '\0';
	if (e->owner) {
		const struct thread *th =
			(const struct thread *)((const char *)e->owner - offsetof(struct thread, own));

		memcpy(m->comm, th->comm, sizeof(m->comm));
		thread_name(th, m->name);
	}
}

static int order_size(const void *a, const void *b)
{
	const struct mt_mapping *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? 1 : -1;
	return (x->start > y->start) - (x->start < y->start);
}

static int order_age(const void *a, const void *b)
{
	const struct mt_mapping *x = a, *y = b;

	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return (x->start > y->start) - (x->start < y->start);
}

/* Sort N mappings into ORDER (address order is how they were copied). */
static void mappings_sort(struct mt_mapping *m, size_t n, enum mt_order order)
{
	if (order == MT_ORDER_SIZE)
		qsort(m, n, sizeof(*m), order_size);
	else if (order == MT_ORDER_AGE)
		qsort(m, n, sizeof(*m), order_age);
}

/*
 * How many entries match F, when the totals tell without a walk (F asks
 * only for a class or direct memory); -1 otherwise.  Under the lock.
 */
static int64_t match_count(const struct maps *maps, const struct mt_filter *f)
{
	if (f->min_size || f->tid || f->older_than_ns)
		return -1;
	if (f->direct)
		return f->class >= 0 ? -1 : (int64_t)maps->totals.direct_count;
	return (int64_t)(f->class >= 0 ? maps->totals.count[f->class] : maps->totals.count_all);
}

struct filter_arg {
	const struct maps *maps;
	const struct mt_filter *f;
	int64_t now;
};

/* maps_top()'s filter: the entry passes the mt_filter. */
static int top_match(const struct maps_entry *e, void *arg)
{
	const struct filter_arg *a = arg;

	return filter_match(a->maps, a->f, a->now, e);
}

/* Entries one slice of a walk copies under the lock (some 0.2 ms). */
#define SLICE 2048
/* Largest MAX answered from the subtree maxima in one hold of the lock. */
#define TOP_MAX 4096

struct slice_ctx {
	const struct filter_arg *fa;
	struct mt_mapping *buf;
	size_t n, cap, visited, max;
	uint64_t total, cursor;
	enum mt_order order;
	int err;
};

/* Copy one entry of a slice if it matches; stop the slice when it is full. */
static int slice_one(const struct maps_entry *e, void *arg)
{
	struct slice_ctx *c = arg;

	c->cursor = e->start + e->len;
	if (filter_match(c->fa->maps, c->fa->f, c->fa->now, e)) {
		c->total++;
		/* In address order the first MAX are the answer; the rest only count. */
		if (c->order != MT_ORDER_ADDRESS || c->n < c->max) {
			if (c->n == c->cap) {
				size_t cap = c->cap * 2;
				struct mt_mapping *g = realloc(c->buf, cap * sizeof(*g));

				if (!g) {
					c->err = -ENOMEM;
					return 1;
				}
				c->buf = g;
				c->cap = cap;
			}
			mapping_copy(c->fa->maps, e, &c->buf[c->n++]);
		}
	}
	return ++c->visited >= SLICE;
}

/*
 * The walk in slices: SLICE entries under the lock, then the lock is let
 * go and taken again from where the walk stopped (the end of the last entry
 * seen).  Each mapping copied was in the table when its slice was read; one
 * that stays unchanged through the whole walk is seen exactly once; one
 * made, changed or removed meanwhile may be seen in its old or new shape or
 * not at all, as if the walk had been instantaneous a little earlier or
 * later for that address range.  Between slices the kept matches are cut to
 * the best MAX, so the buffer stays within 2 MAX + SLICE.
 */
static int outstanding_slices(struct mt_session *s, const struct mt_filter *f,
			      enum mt_order order, struct mt_mapping *out, size_t max, size_t *n,
			      size_t *total)
{
	struct filter_arg fa = {&s->maps, f, mt_now_ns()};
	struct slice_ctx c = {&fa, NULL, 0, 2 * SLICE, 0, max, 0, 0, order, 0};

	if (!(c.buf = malloc(c.cap * sizeof(*c.buf))))
		return -ENOMEM;
	for (;;) {
		int more;

		c.visited = 0;
		pthread_mutex_lock(&s->lock);
		maps_foreach_range(&s->maps, c.cursor, UINT64_MAX - c.cursor, slice_one, &c);
		more = c.visited >= SLICE && c.cursor;
		pthread_mutex_unlock(&s->lock);
		if (c.err)
			break;
		if (order != MT_ORDER_ADDRESS && c.n > 2 * max + SLICE) {
			mappings_sort(c.buf, c.n, order);
			c.n = max;
		}
		if (!more)
			break;
	}
	if (!c.err) {
		mappings_sort(c.buf, c.n, order);
		*n = c.n < max ? c.n : max;
		memcpy(out, c.buf, *n * sizeof(*out));
		*total = c.total;
	}
	free(c.buf);
	return c.err;
}

/* Copy outstanding mappings matching F, in ORDER (see libtrace.h). */
int mt_session_outstanding(struct mt_session *s, const struct mt_filter *f, enum mt_order order,
			   struct mt_mapping *out, size_t max, size_t *n, size_t *total)
{
	struct filter_arg fa = {&s->maps, f, mt_now_ns()};
	const struct maps_entry **top;
	int64_t count;
	uint64_t min_len;

	*n = *total = 0;
	if (order != MT_ORDER_SIZE || max > TOP_MAX)
		return outstanding_slices(s, f, order, out, max, n, total);
	if (!(top = malloc((max ? max : 1) * sizeof(*top))))
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	count = match_count(&s->maps, f);
	if (count >= 0) {
		/* Chunks and large mappings are at least chunk_size long. */
		min_len = f->class == MT_CLASS_CHUNK || f->class == MT_CLASS_LARGE
				  ? s->maps.chunk_size : f->min_size;
		*n = maps_top(&s->maps, min_len, top_match, &fa, top, max);
		for (size_t i = 0; i < *n; i++)
			mapping_copy(&s->maps, top[i], &out[i]);
		*total = (size_t)count;
	}
	pthread_mutex_unlock(&s->lock);
	free(top);
	/* A filter the totals cannot count: walk, a slice at a time. */
	return count >= 0 ? 0 : outstanding_slices(s, f, order, out, max, n, total);
}

/* Outstanding sums by allocating stack for F's class or direct memory. */
int mt_session_stacks(struct mt_session *s, const struct mt_filter *f, struct mt_stack_sum **out,
		      size_t *n, uint64_t *mappings)
{
	struct mt_stack_sum *v;
	const struct maps *m = &s->maps;

	*n = 0;
	*mappings = 0;
	pthread_mutex_lock(&s->lock);
	/* One slot per stack that ever had an entry since the last rebuild, at most 4x the live ones. */
	if (!(v = malloc((m->stacks_cap ? m->stacks_cap : 1) * sizeof(*v)))) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->stacks_cap; i++) {
		const struct maps_stack *st = &m->stacks[i];
		uint64_t count = 0, bytes = 0;

		if (!st->used)
			continue;
		if (f->direct) {
			count = st->direct_count;
			bytes = st->direct_bytes;
		} else if (f->class >= 0) {
			count = st->count[f->class];
			bytes = st->bytes[f->class];
		} else {
			for (int c = 0; c < MT_CLASS_COUNT; c++) {
				count += st->count[c];
				bytes += st->bytes[c];
			}
		}
		if (!count)
			continue;
		v[*n].id = st->id;
		v[*n].count = count;
		v[*n].bytes = bytes;
		(*n)++;
		*mappings += count;
	}
	pthread_mutex_unlock(&s->lock);
	*out = v;
	return 0;
}

/* Copy thread records. */
size_t mt_session_threads(struct mt_session *s, struct mt_thread *out, size_t max, size_t *total)
{
	size_t n = 0, all = 0;

	pthread_mutex_lock(&s->lock);
	for (const struct thread *th = s->threads; th; th = th->next, all++) {
		struct mt_thread *o;

		if (n >= max)
			continue;
		o = &out[n++];
		o->pid = th->pid;
		o->tid = th->tid;
		memcpy(o->comm, th->comm, sizeof(o->comm));
		thread_name(th, o->name);
		o->java = th->jname != NULL;
		o->alive = th->alive;
		o->mapped_count = th->mapped_count;
		o->mapped_bytes = th->mapped_bytes;
		o->unmapped_count = th->unmapped_count;
		o->unmapped_bytes = th->unmapped_bytes;
		o->outstanding_count = th->own.count;
		o->outstanding_bytes = th->own.bytes;
		o->chunk_count = th->own.chunk_count;
		o->chunk_bytes = th->own.chunk_bytes;
	}
	pthread_mutex_unlock(&s->lock);
	*total = all;
	return n;
}

/* Copy events newer than AFTER. */
size_t mt_session_events(struct mt_session *s, uint64_t after, struct mt_event *out, size_t max,
			 uint64_t *newest)
{
	size_t n = 0;
	uint64_t seq;

	pthread_mutex_lock(&s->lock);
	for (seq = ring_first_after(after, s->ring.head, s->ring.cap); seq <= s->ring.head && n < max;
	     seq++)
		out[n++] = *ring_get(&s->ring, seq);
	*newest = s->ring.head;
	pthread_mutex_unlock(&s->lock);
	return n;
}

struct by_id_ctx {
	uint64_t id, cursor;
	size_t visited;
	const struct maps_entry *found;
};

/* Stop at the first entry made by event C->id, or at the end of a slice. */
static int by_id_one(const struct maps_entry *e, void *arg)
{
	struct by_id_ctx *c = arg;

	c->cursor = e->start + e->len;
	if (e->id == c->id) {
		c->found = e;
		return 1;
	}
	return ++c->visited >= SLICE;
}

/*
 * Find the mapping made by event ID, reading the table a slice at a time
 * as mt_session_outstanding() does (the lock is let go between slices).
 */
int mt_session_mapping_by_id(struct mt_session *s, uint64_t id, struct mt_mapping *out)
{
	struct by_id_ctx c = {id, 0, 0, NULL};
	int err = -ENOENT, more = 1;

	if (!id)
		return -ENOENT;
	while (more && err == -ENOENT) {
		c.visited = 0;
		pthread_mutex_lock(&s->lock);
		maps_foreach_range(&s->maps, c.cursor, UINT64_MAX - c.cursor, by_id_one, &c);
		more = c.visited >= SLICE && c.cursor;
		if (c.found) {
			memset(out, 0, sizeof(*out));
			out->start = c.found->start;
			out->len = c.found->len;
			out->prot = c.found->prot;
			out->flags = c.found->flags;
			out->kind = c.found->kind;
			out->class = maps_classify(&s->maps, c.found->len, c.found->kind);
			out->stack_id = c.found->stack_id;
			out->id = c.found->id;
			out->tid = c.found->tid;
			out->time_ns = c.found->time_ns;
			err = 0;
		}
		pthread_mutex_unlock(&s->lock);
	}
	return err;
}

struct extent {
	uint64_t addr, end; /* end: how far the mappings run on from addr */
};

/* Extend C's extent by region R when it continues it readably. */
static int extent_one(const struct procmaps_region *r, void *arg)
{
	struct extent *c = arg;

	if (r->start <= c->end && r->end > c->end) {
		if (!(r->prot & PROT_READ))
			return 1;
		c->end = r->end;
	}
	return r->start > c->end;
}

struct peek_gaps {
	struct mt_peek_gap *gaps;
	size_t n;
};

/* Note a stretch not read, joined to the one before when they touch. */
static void peek_gap(uint64_t off, uint64_t len, unsigned state, void *arg)
{
	static const char *const why[] = {
		[TMEM_ABSENT] = "not resident",
		[TMEM_SWAPPED] = "swapped out",
		[TMEM_UNREADABLE] = "unreadable",
	};
	struct peek_gaps *g = arg;
	struct mt_peek_gap *last = g->n ? &g->gaps[g->n - 1] : NULL;

	if (last && last->off + last->len == off && last->why == why[state]) {
		last->len += len;
		return;
	}
	g->gaps[g->n++] = (struct mt_peek_gap){off, len, why[state]};
}

/* Read target memory, resident pages only. */
ssize_t mt_session_peek(struct mt_session *s, uint64_t addr, void *buf, size_t len,
			struct mt_peek_gap *gaps, size_t *ngaps)
{
	struct extent e = {addr, addr};
	struct peek_gaps g = {gaps, 0};
	pid_t mm;
	ssize_t n;
	int pm, err;

	*ngaps = 0;
	if (!s->pid)
		return -ESRCH;
	mm = proc_mm_pid(s->pid);
	if ((err = procmaps_read(mm, extent_one, &e)) < 0)
		return err;
	if (e.end == addr)
		return -EFAULT;
	if (len > e.end - addr)
		len = e.end - addr;
	/* Its own descriptor: the tracer's is reopened at every exec. */
	if ((pm = tmem_open(mm)) < 0)
		return pm;
	n = tmem_read(pm, mm, addr, buf, len, peek_gap, &g);
	close(pm);
	*ngaps = g.n;
	return n;
}

/*
 * Resident and dirty bytes of a range, as pmap -X shows them.  When the
 * range is exactly one kernel mapping, both come from /proc/PID/smaps.
 * Otherwise resident is counted from /proc/PID/pagemap: present pages that
 * are exclusively mapped, which leaves out the shared zero page a read of
 * untouched memory maps (smaps leaves it out too; a peek would add it);
 * dirty is then unknown (-1).
 */
int mt_session_residency(struct mt_session *s, uint64_t start, uint64_t len, int64_t *rss,
			 int64_t *dirty)
{
	char path[64], line[256];
	uint64_t pages = len / page_size, present = 0, buf[512];
	int64_t srss = -1, sdirty = -1;
	int fd, in_vma = 0;
	pid_t mm = proc_mm_pid(s->pid);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", mm);
	if (dirty && (f = fopen(path, "re"))) {
		unsigned long long lo, hi, kb;

		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
				if (in_vma)
					break;
				in_vma = lo == start && hi == start + len;
			} else if (in_vma && sscanf(line, "Rss: %llu kB", &kb) == 1) {
				srss = (int64_t)kb * 1024;
			} else if (in_vma && (sscanf(line, "Shared_Dirty: %llu kB", &kb) == 1 ||
					      sscanf(line, "Private_Dirty: %llu kB", &kb) == 1)) {
				sdirty = (sdirty < 0 ? 0 : sdirty) + (int64_t)kb * 1024;
			}
		}
		fclose(f);
	}
	if (srss >= 0) {
		*rss = srss;
		*dirty = sdirty;
		return 0;
	}
	/* Bounded by the range, unlike a full smaps read. */
	snprintf(path, sizeof(path), "/proc/%d/pagemap", mm);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	for (uint64_t done = 0; done < pages;) {
		size_t want = pages - done < 512 ? (size_t)(pages - done) : 512;
		ssize_t n = pread(fd, buf, want * 8, (off_t)((start / page_size + done) * 8));

		if (n <= 0)
			break;
		/* Bit 63: present; bit 56: exclusively mapped. */
		for (ssize_t i = 0; i < n / 8; i++)
			present += (buf[i] >> 63) & (buf[i] >> 56) & 1;
		done += (uint64_t)n / 8;
	}
	close(fd);
	*rss = (int64_t)(present * page_size);
	if (dirty)
		*dirty = -1;
	return 0;
}
