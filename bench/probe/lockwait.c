/*
 * lockwait.so - how long memtraced's tracer waits for a mutex: an
 * LD_PRELOAD for memtraced (bench/query-scale --lockwait loads it).
 *
 * The tracer is memtraced's main thread; every stop of the target it
 * handles waits while the session lock is held elsewhere (a query, the
 * periodic sampling).  Each pthread_mutex_lock() of the main thread first
 * tries the lock; when it is taken, the wait is timed.  Every 100 ms a
 * thread of the shim appends "T_NS LONGEST_NS WAITS" for that interval to
 * the file $MT_LOCKWAIT (CLOCK_MONOTONIC; nothing without it).  The shim
 * takes itself out of LD_PRELOAD at load, so the traced program never
 * loads it.
 *
 * build: cc -O2 -shared -fPIC -o build/bench/lockwait.so bench/probe/lockwait.c -ldl -pthread
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int (*real_lock)(pthread_mutex_t *);
static _Atomic long long longest, waits;
static pid_t main_pid;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
	long long t0, w, old;
	int r;

	if (!real_lock)
		real_lock = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_lock");
	if (syscall(SYS_gettid) != main_pid || getpid() != main_pid)
		return real_lock(m);
	if (pthread_mutex_trylock(m) == 0)
		return 0;
	t0 = now_ns();
	r = real_lock(m);
	w = now_ns() - t0;
	waits++;
	old = longest;
	while (w > old && !atomic_compare_exchange_weak(&longest, &old, w))
		;
	return r;
}

static void *report(void *arg)
{
	FILE *f = arg;

	for (;;) {
		struct timespec d = {0, 100000000};

		nanosleep(&d, NULL);
		fprintf(f, "%lld %lld %lld\n", now_ns(), atomic_exchange(&longest, 0),
			atomic_exchange(&waits, 0));
		fflush(f);
	}
	return NULL;
}

__attribute__((constructor)) static void lockwait_init(void)
{
	const char *path = getenv("MT_LOCKWAIT");
	pthread_t th;
	FILE *f;

	main_pid = getpid();
	unsetenv("LD_PRELOAD");
	if (!path || !(f = fopen(path, "a")))
		return;
	if (pthread_create(&th, NULL, report, f) == 0)
		pthread_detach(th);
}
