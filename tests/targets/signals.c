/*
 * signals: signal traffic a tracer must pass through untouched, JVM style.
 *
 *  - mmaps one PROT_NONE page and writes to it on purpose 100 times; before
 *    each write the main loop mprotects it back to PROT_NONE, and the SIGSEGV
 *    handler (SA_SIGINFO) counts the fault and mprotects it PROT_READ|WRITE so
 *    the write restarts and succeeds.
 *  - raise(SIGUSR1) x10 (handler counts).
 *  - sigqueue(SIGRTMIN+3) x10 with values 0..9 while the signal is blocked,
 *    then unblocks it: all 10 must arrive, in order, with si_code SI_QUEUE.
 *  - a forked child that _exit(0)s: SIGCHLD handler counts.
 * Prints: TRUTH {"segv":100,"segv_accerr":100,"usr1":10,"rt":10,
 *                "rt_in_order":true,"rt_values":[0,...,9],"chld":1}
 * with the counts actually observed; exits 0 iff all are as expected.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NSEGV 100
#define NUSR1 10
#define NRT 10

static char *page;
static long pagesz;
static volatile sig_atomic_t segv, segv_accerr, usr1, rt, rt_bad_code, chld;
static volatile int rt_values[NRT];

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	char *addr = si->si_addr;
	if (addr < page || addr >= page + pagesz) {
		static const char msg[] = "signals: unexpected SIGSEGV\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(3);
	}
	segv++;
	if (si->si_code == SEGV_ACCERR)
		segv_accerr++;
	if (mprotect(page, pagesz, PROT_READ | PROT_WRITE) != 0) {
		static const char msg[] = "signals: mprotect in handler failed\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(3);
	}
}

static void on_usr1(int sig) { usr1++; }
static void on_chld(int sig) { chld++; }

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	if (si->si_code != SI_QUEUE || si->si_pid != getpid())
		rt_bad_code++;
	if (rt < NRT)
		rt_values[rt] = si->si_value.sival_int;
	rt++;
}

static void die(const char *what)
{
	fprintf(stderr, "signals: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void handle(int sig, void (*fn)(int), void (*act3)(int, siginfo_t *, void *))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (act3) {
		sa.sa_flags |= SA_SIGINFO;
		sa.sa_sigaction = act3;
	} else {
		sa.sa_handler = fn;
	}
	if (sigaction(sig, &sa, NULL) != 0)
		die("sigaction");
}

int main(void)
{
	int rtsig = SIGRTMIN + 3;
	sigset_t set;

	alarm(60);
	pagesz = sysconf(_SC_PAGESIZE);
	handle(SIGSEGV, NULL, on_segv);
	handle(SIGUSR1, on_usr1, NULL);
	handle(rtsig, NULL, on_rt);
	handle(SIGCHLD, on_chld, NULL);

	/* deliberate faults on a guard page */
	page = mmap(NULL, pagesz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		die("mmap");
	for (int i = 0; i < NSEGV; i++) {
		if (mprotect(page, pagesz, PROT_NONE) != 0)
			die("mprotect");
		*(volatile char *)page = (char)i;
		if (segv != i + 1 || page[0] != (char)i) {
			fprintf(stderr, "signals: touch %d: segv=%d\n", i, (int)segv);
			break;
		}
	}

	for (int i = 0; i < NUSR1; i++)
		if (raise(SIGUSR1) != 0)
			die("raise");

	/* queue all real-time signals while blocked, then release them */
	sigemptyset(&set);
	sigaddset(&set, rtsig);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		die("sigprocmask");
	for (int i = 0; i < NRT; i++) {
		union sigval v = {.sival_int = i};
		if (sigqueue(getpid(), rtsig, v) != 0)
			die("sigqueue");
	}
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) != 0)
		die("sigprocmask");

	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		_exit(0);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	/* SIGCHLD normally ran already; allow up to 1 s just in case */
	for (int i = 0; i < 1000 && !chld; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}

	int in_order = rt == NRT && !rt_bad_code;
	for (int i = 0; i < NRT && i < rt; i++)
		if (rt_values[i] != i)
			in_order = 0;

	printf("TRUTH {\"segv\":%d,\"segv_accerr\":%d,\"usr1\":%d,\"rt\":%d,"
	       "\"rt_in_order\":%s,\"rt_values\":[",
	       (int)segv, (int)segv_accerr, (int)usr1, (int)rt,
	       in_order ? "true" : "false");
	for (int i = 0; i < NRT && i < rt; i++)
		printf("%s%d", i ? "," : "", rt_values[i]);
	printf("],\"chld\":%d,\"child_status\":%d}\n", (int)chld, st);
	if (fflush(stdout) != 0)
		return 1;

	int ok = segv == NSEGV && segv_accerr == NSEGV && usr1 == NUSR1 &&
		 in_order && chld == 1 && st == 0;
	if (!ok)
		fprintf(stderr, "signals: unexpected counts\n");
	return ok ? 0 : 1;
}
