/*
 * blockers - threads blocked in read, epoll_wait, futex and nanosleep, for
 * attach tests; prints its own ground truth.
 *
 *   blockers block   threads block; on stdin "wake" ends each wait and each
 *                    thread prints "RESULT name ret errno"; "signal" sends
 *                    SIGUSR1 to the process (the count comes with "report");
 *                    "map N" maps and unmaps N times; "fork" forks a child
 *                    that maps and unmaps 100 times and exits with the
 *                    number of failures; "report" prints "TRUTH {...}"
 *                    with the counters; "exit" ends it.
 *                    "spawn S [go] [orphan]" forks a child (with "orphan":
 *                    a grandchild, its parent exiting at once) that, on
 *                    SIGUSR2 (at once with "go"), maps and unmaps for S seconds while it forks
 *                    a grandchild every 20 ms, every other one exec'ing
 *                    "blockers churn 0.01"; it prints "SPAWNED ok=N
 *                    failed=M last_fail_ns=T forks=F execs=E" (T: the
 *                    CLOCK_MONOTONIC time of the last failure, 0 if none;
 *                    an exec'd grandchild's failure counts at its fork)
 *                    and exits with 1 when M > 0.
 *   blockers block own-filter   the same, the futex thread under a seccomp
 *                    filter of its own (allow all) that the others lack.
 *   blockers churn S maps and unmaps memory for S seconds, then prints
 *                    "CHURN ok=N failed=M" and exits with 1 when M > 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int read_pipe[2], epoll_pipe[2], epfd;
static atomic_int futex_word;
static atomic_int signals_seen;
static atomic_long map_failed;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/* Print one line whole. */
static void say(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&out_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static void *reader(void *arg)
{
	char c;
	ssize_t n = read(read_pipe[0], &c, 1);

	(void)arg;
	say("RESULT read %zd %d\n", n, n < 0 ? errno : 0);
	return NULL;
}

static void *epoller(void *arg)
{
	struct epoll_event ev;
	int n = epoll_wait(epfd, &ev, 1, -1);

	(void)arg;
	say("RESULT epoll_wait %d %d\n", n, n < 0 ? errno : 0);
	return NULL;
}

static void *futexer(void *arg)
{
	long r;

	/* A filter of this thread's alone (allow all): the others lack it. */
	if (arg) {
		struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		struct sock_fprog prog = {1, &allow};

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
			say("RESULT own-filter -1 %d\n", errno);
	}
	/* A wait that only a wake ends (spurious returns are waited again). */
	do
		r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	while (r == 0 && atomic_load(&futex_word) == 0);
	say("RESULT futex %ld %d\n", r, r < 0 ? errno : 0);
	return NULL;
}

static void *sleeper(void *arg)
{
	struct timespec req = {3, 0}, rem = {0, 0}, t0, t1;
	int r;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = nanosleep(&req, &rem);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* ret, errno, and whether it slept the whole time. */
	say("RESULT nanosleep %d %d %d\n", r, r < 0 ? errno : 0,
	    (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) >= 3000000000L);
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals_seen, 1);
}

/* Map and unmap N times; the number of failed calls. */
static long map_unmap(long n)
{
	long failed = 0;

	for (long i = 0; i < n; i++) {
		size_t len = (size_t)(1 + i % 7) << 16;
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			failed++;
			continue;
		}
		((volatile char *)p)[0] = 1;
		if (munmap(p, len) < 0)
			failed++;
	}
	return failed;
}

/* The counters of "spawn", shared with its grandchildren. */
struct spawned {
	atomic_long ok, failed, last_fail_ns;
};

static long long mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Map and unmap N times into SP's counters, each failure stamped. */
static void map_unmap_stamped(struct spawned *sp, long n)
{
	for (long i = 0; i < n; i++) {
		long f = map_unmap(1);

		atomic_fetch_add(&sp->ok, 1 - f);
		if (f) {
			atomic_fetch_add(&sp->failed, f);
			atomic_store(&sp->last_fail_ns, mono_ns());
		}
	}
}

/* The child of "spawn": see the top comment. */
static int spawned(double seconds, int go)
{
	struct spawned *sp = mmap(NULL, sizeof(*sp), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long long t0, next_fork, fork_ns[1024];
	pid_t kids[1024];
	int nkids = 0, execs = 0;
	sigset_t set;
	int sig;

	if (sp == MAP_FAILED)
		return 99;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	if (!go)
		sigwait(&set, &sig);
	t0 = next_fork = mono_ns();
	while (mono_ns() - t0 < (long long)(seconds * 1e9)) {
		map_unmap_stamped(sp, 20);
		if (mono_ns() < next_fork || nkids == 1024)
			continue;
		next_fork += 20000000;
		fork_ns[nkids] = mono_ns();
		if ((kids[nkids] = fork()) == 0) {
			if (nkids % 2) {
				char *argv[] = {"blockers", "churn", "0.01", NULL};
				int null = open("/dev/null", O_WRONLY);

				dup2(null, 1);
				execv("/proc/self/exe", argv);
				_exit(2);
			}
			map_unmap_stamped(sp, 100);
			_exit(0);
		}
		if (kids[nkids] < 0) {
			atomic_fetch_add(&sp->failed, 1);
			atomic_store(&sp->last_fail_ns, mono_ns());
			continue;
		}
		execs += nkids % 2;
		nkids++;
	}
	for (int i = 0; i < nkids; i++) {
		int status;

		if (waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			atomic_fetch_add(&sp->failed, 1);
			if (atomic_load(&sp->last_fail_ns) < fork_ns[i])
				atomic_store(&sp->last_fail_ns, fork_ns[i]);
		}
	}
	say("SPAWNED ok=%ld failed=%ld last_fail_ns=%ld forks=%d execs=%d\n", atomic_load(&sp->ok),
	    atomic_load(&sp->failed), atomic_load(&sp->last_fail_ns), nkids, execs);
	return atomic_load(&sp->failed) ? 1 : 0;
}

static int churn(double seconds)
{
	struct timespec t0, t;
	long ok = 0, failed = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	printf("READY %d\n", getpid());
	fflush(stdout);
	do {
		long f = map_unmap(100);

		failed += f;
		ok += 100 - f;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
	printf("CHURN ok=%ld failed=%ld\n", ok, failed);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
	void *(*fns[])(void *) = {reader, epoller, futexer, sleeper};
	pthread_t th[4];
	char line[128];
	struct epoll_event ev = {.events = EPOLLIN};
	void *own = argc > 2 && !strcmp(argv[2], "own-filter") ? "own" : NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && !strcmp(argv[1], "churn"))
		return churn(atof(argv[2]));
	sigaction(SIGUSR1, &sa, NULL);
	if (pipe(read_pipe) < 0 || pipe(epoll_pipe) < 0 || (epfd = epoll_create1(0)) < 0)
		return 99;
	ev.data.fd = epoll_pipe[0];
	epoll_ctl(epfd, EPOLL_CTL_ADD, epoll_pipe[0], &ev);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, fns[i], i == 2 ? own : NULL);
	printf("READY %d\n", getpid());
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "wake", 4)) {
			if (write(read_pipe[1], "x", 1) != 1 || write(epoll_pipe[1], "x", 1) != 1)
				return 99;
			atomic_store(&futex_word, 1);
			syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
			for (int i = 0; i < 4; i++)
				pthread_join(th[i], NULL);
			say("TRUTH {\"cmd\":\"wake\"}\n");
		} else if (!strncmp(line, "signal", 6)) {
			kill(getpid(), SIGUSR1);
			while (atomic_load(&signals_seen) == 0)
				usleep(1000);
			say("TRUTH {\"cmd\":\"signal\",\"signals\":%d}\n", atomic_load(&signals_seen));
		} else if (!strncmp(line, "map ", 4)) {
			long f = map_unmap(atol(line + 4));

			atomic_fetch_add(&map_failed, f);
			say("TRUTH {\"cmd\":\"map\",\"failed\":%ld}\n", f);
		} else if (!strncmp(line, "fork", 4)) {
			int status;
			pid_t pid = fork();

			if (pid == 0)
				_exit((int)map_unmap(100));
			waitpid(pid, &status, 0);
			say("TRUTH {\"cmd\":\"fork\",\"child\":%d,\"failed\":%d}\n", pid,
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		} else if (!strncmp(line, "spawn ", 6)) {
			sigset_t set, old;
			pid_t pid;

			/* Blocked from birth: a SIGUSR2 sent early waits for sigwait(). */
			sigemptyset(&set);
			sigaddset(&set, SIGUSR2);
			pthread_sigmask(SIG_BLOCK, &set, &old);
			int orphan = strstr(line, " orphan") != NULL, p[2];

			if (orphan && pipe(p) < 0)
				return 99;
			if ((pid = fork()) == 0) {
				/* An orphan: its parent exits at once, and init takes it. */
				if (orphan && (pid = fork()) != 0) {
					if (write(p[1], &pid, sizeof(pid)) != sizeof(pid))
						_exit(99);
					_exit(0);
				}
				_exit(spawned(atof(line + 6), strstr(line, " go") != NULL));
			}
			if (orphan) {
				waitpid(pid, NULL, 0);
				if (read(p[0], &pid, sizeof(pid)) != sizeof(pid))
					return 99;
				close(p[0]);
				close(p[1]);
			}
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			say("TRUTH {\"cmd\":\"spawn\",\"child\":%d}\n", pid);
		} else if (!strncmp(line, "exit", 4)) {
			return 0;
		}
	}
	return 0;
}
