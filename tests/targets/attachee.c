/*
 * attachee: a long-running process to attach memtraced to.
 *
 * usage: attachee [-k CHUNKS] [-n STORMS] [-r PAGES] [-s STORM_USEC]
 *                 [-t SECONDS] [-v VFORK_MS]
 *        (defaults -k 5 -n 1 -s 1000 -t 90; it exits by itself after SECONDS)
 *
 * First, before any other thread exists, it sets M_MMAP_THRESHOLD to 128 KiB
 * and mallocs CHUNKS blocks of 16 MiB: glibc mmaps each as its own mapping
 * of 16781312 bytes, one right below the other, so /proc/PID/maps shows them
 * as one merged region.  With -r it then mmaps PAGES anonymous read-write
 * pages itself, without malloc, which land right below the blocks and merge
 * with them too ("raw":[start,length], else [0,0]).  Then it starts these
 * threads:
 *   reader   blocked in read() on a private pipe; "poke" writes one byte to
 *            it and the reader counts what it reads (pipe_reads)
 *   sleeper  nanosleep(50 ms) in a loop (naps; nap_eintr counts EINTRs)
 *   waiter   blocked in pthread_cond_wait(); "signal" wakes it (cond_wakes)
 *   storm    creates and joins short-lived threads, sleeping STORM_USEC
 *            between two (storm_spawned); -n starts STORMS such threads
 *   worker   reads commands from stdin, one a line, and carries them out
 *   catcher  the only thread that takes SIGRTMIN+1, in pause(); its handler
 *            counts them (signals), so none may be lost or doubled
 *   vforker  only with -v: vfork()s again and again, each child sleeping
 *            VFORK_MS before it exits, so this thread nearly always waits
 *            uninterruptibly for its child (vforks)
 * while the main thread waits for the worker in pthread_join().
 *
 * Commands; each is answered with one TRUTH line on stdout:
 *   alloc N    malloc N more 16 MiB blocks (done by the worker thread)
 *   free N     free the N oldest blocks still held (munmap by glibc)
 *   report     just answer
 *   poke       write one byte into the reader's pipe
 *   signal     wake the waiter once
 *   exit CODE  _exit(CODE) at once
 * End of input exits 0.  A first TRUTH line ("cmd":"ready") comes once
 * every thread runs:
 *   TRUTH {"cmd":C,"seq":N,"pid":P,"tids":{"main":T,"worker":T,"reader":T,
 *          "sleeper":T,"waiter":T,"storm":T,"vforker":T,
 *          "catcher":T},"chunk_len":16781312,
 *          "chunks":[start,...],"new":[start,...],"freed":[start,...],
 *          "pipe_reads":N,"read_eintr":N,"naps":N,"nap_eintr":N,
 *          "cond_wakes":N,"storm_spawned":N,"storm_errors":N,"vforks":N,
 *          "signals":N,"raw":[start,length]}
 * "chunks" lists the start of every mapping still held, oldest first
 * (the malloc pointer less the 16-byte chunk header), decimal; "new" and
 * "freed" are what this command mapped or unmapped.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_REQUEST (16UL << 20)
#define CHUNK_LEN     16781312UL /* what glibc mmaps for malloc(16 MiB) */
#define MAX_CHUNKS    256

static void *chunks[MAX_CHUNKS];
static int nchunks;
static int pipefd[2];
static long storm_usec = 1000, vfork_ms;
static unsigned long raw_start, raw_len;
static atomic_long pipe_reads, read_eintr, naps, nap_eintr, cond_wakes, storm_spawned,
	storm_errors, vforks, signals;
static atomic_int tid_main, tid_worker, tid_reader, tid_sleeper, tid_waiter, tid_storm,
	tid_vforker, tid_catcher;
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long signals_sent;

static void die(const char *what, int err)
{
	fprintf(stderr, "attachee: %s: %s\n", what, strerror(err));
	_exit(1);
}

static int gettid_(void)
{
	return (int)syscall(SYS_gettid);
}

/* The mapping glibc made for block P, after checking its chunk header. */
static unsigned long block_start(void *p)
{
	const size_t *hdr;

	/* Hide P's origin: the compiler takes fresh malloc memory for uninitialised. */
	__asm__ volatile("" : "+r"(p));
	hdr = (const size_t *)p - 2;

	if (hdr[0] != 0 || hdr[1] != (CHUNK_LEN | 2)) {
		fprintf(stderr, "attachee: block %p is not one mmapped chunk of %lu (header %zu %zu)\n",
			p, CHUNK_LEN, hdr[0], hdr[1]);
		_exit(1);
	}
	return (unsigned long)(uintptr_t)hdr;
}

static unsigned long alloc_one(void)
{
	char *p;

	if (nchunks >= MAX_CHUNKS) {
		fprintf(stderr, "attachee: too many chunks\n");
		_exit(1);
	}
	if (!(p = malloc(CHUNK_REQUEST)))
		die("malloc", ENOMEM);
	p[0] = 1; /* touch it, as a real user would */
	chunks[nchunks++] = p;
	return block_start(p);
}

static void name_self(const char *name, atomic_int *tid)
{
	int rc = pthread_setname_np(pthread_self(), name);

	if (rc)
		die("pthread_setname_np", rc);
	atomic_store(tid, gettid_());
}

static void *reader_main(void *arg)
{
	char c;

	(void)arg;
	name_self("reader", &tid_reader);
	for (;;) {
		ssize_t n = read(pipefd[0], &c, 1);

		if (n == 1)
			atomic_fetch_add(&pipe_reads, 1);
		else if (n < 0 && errno == EINTR)
			atomic_fetch_add(&read_eintr, 1);
		else
			die("read pipe", n < 0 ? errno : EPIPE);
	}
	return NULL;
}

static void *sleeper_main(void *arg)
{
	struct timespec ts = {0, 50 * 1000 * 1000};

	(void)arg;
	name_self("sleeper", &tid_sleeper);
	for (;;) {
		if (nanosleep(&ts, NULL) < 0 && errno == EINTR)
			atomic_fetch_add(&nap_eintr, 1);
		atomic_fetch_add(&naps, 1);
	}
	return NULL;
}

static void *waiter_main(void *arg)
{
	long seen = 0;

	(void)arg;
	name_self("waiter", &tid_waiter);
	pthread_mutex_lock(&cond_lock);
	for (;;) {
		while (signals_sent == seen)
			pthread_cond_wait(&cond, &cond_lock);
		seen++;
		atomic_fetch_add(&cond_wakes, 1);
	}
	return NULL;
}

static void *short_main(void *arg)
{
	return arg;
}

static void *storm_main(void *arg)
{
	struct timespec ts = {storm_usec / 1000000, (storm_usec % 1000000) * 1000};

	if (arg) /* one of the -n extra ones */
		pthread_setname_np(pthread_self(), "storm");
	else
		name_self("storm", &tid_storm);
	for (;;) {
		pthread_t t;
		int rc = pthread_create(&t, NULL, short_main, NULL);

		if (rc) {
			atomic_fetch_add(&storm_errors, 1);
		} else {
			if ((rc = pthread_join(t, NULL)))
				die("pthread_join", rc);
			atomic_fetch_add(&storm_spawned, 1);
		}
		if (storm_usec > 0)
			nanosleep(&ts, NULL);
	}
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals, 1);
}

static void *catcher_main(void *arg)
{
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
	sigset_t set;

	(void)arg;
	name_self("catcher", &tid_catcher);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN + 1, &sa, NULL) < 0)
		die("sigaction", errno);
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;)
		pause();
	return NULL;
}

static void *vforker_main(void *arg)
{
	(void)arg;
	name_self("vforker", &tid_vforker);
	for (;;) {
		pid_t pid = vfork();

		if (pid == 0) {
			/* The child borrows our memory and stack: sleep, then leave. */
			struct timespec ts = {vfork_ms / 1000, (vfork_ms % 1000) * 1000000};

			nanosleep(&ts, NULL);
			_exit(0);
		}
		if (pid < 0)
			die("vfork", errno);
		if (waitpid(pid, NULL, 0) != pid)
			die("waitpid", errno);
		atomic_fetch_add(&vforks, 1);
	}
	return NULL;
}

static void print_list(const char *name, const unsigned long *v, int n)
{
	printf(",\"%s\":[", name);
	for (int i = 0; i < n; i++)
		printf("%s%lu", i ? "," : "", v[i]);
	printf("]");
}

static void answer(const char *cmd, long seq, const unsigned long *new, int nnew,
		   const unsigned long *freed, int nfreed)
{
	unsigned long held[MAX_CHUNKS];

	for (int i = 0; i < nchunks; i++)
		held[i] = (unsigned long)((size_t *)chunks[i] - 2);
	printf("TRUTH {\"cmd\":\"%s\",\"seq\":%ld,\"pid\":%d,\"tids\":{\"main\":%d,\"worker\":%d,"
	       "\"reader\":%d,\"sleeper\":%d,\"waiter\":%d,\"storm\":%d,\"vforker\":%d,"
	       "\"catcher\":%d},"
	       "\"chunk_len\":%lu",
	       cmd, seq, (int)getpid(), tid_main, tid_worker, tid_reader, tid_sleeper, tid_waiter,
	       tid_storm, tid_vforker, tid_catcher, CHUNK_LEN);
	print_list("chunks", held, nchunks);
	print_list("new", new, nnew);
	print_list("freed", freed, nfreed);
	printf(",\"pipe_reads\":%ld,\"read_eintr\":%ld,\"naps\":%ld,\"nap_eintr\":%ld,"
	       "\"cond_wakes\":%ld,\"storm_spawned\":%ld,\"storm_errors\":%ld,\"vforks\":%ld,"
	       "\"signals\":%ld,\"raw\":[%lu,%lu]}\n",
	       pipe_reads, read_eintr, naps, nap_eintr, cond_wakes, storm_spawned, storm_errors,
	       vforks, signals, raw_start, raw_len);
	if (fflush(stdout) != 0)
		die("stdout", errno);
}

static void *worker_main(void *arg)
{
	char *line = NULL;
	size_t cap = 0;
	long seq = 0;

	(void)arg;
	name_self("worker", &tid_worker);
	answer("ready", seq, NULL, 0, NULL, 0);
	while (getline(&line, &cap, stdin) > 0) {
		unsigned long new[MAX_CHUNKS], freed[MAX_CHUNKS];
		int nnew = 0, nfreed = 0, n = 0;
		char cmd[16] = "";

		if (sscanf(line, "%15s %d", cmd, &n) < 1)
			continue;
		seq++;
		if (!strcmp(cmd, "alloc")) {
			while (nnew < n)
				new[nnew++] = alloc_one();
		} else if (!strcmp(cmd, "free")) {
			while (nfreed < n && nfreed < nchunks) {
				freed[nfreed] = (unsigned long)((size_t *)chunks[nfreed] - 2);
				free(chunks[nfreed]);
				nfreed++;
			}
			memmove(chunks, chunks + nfreed, (size_t)(nchunks - nfreed) * sizeof(*chunks));
			nchunks -= nfreed;
		} else if (!strcmp(cmd, "poke")) {
			if (write(pipefd[1], "x", 1) != 1)
				die("write pipe", errno);
		} else if (!strcmp(cmd, "signal")) {
			pthread_mutex_lock(&cond_lock);
			signals_sent++;
			pthread_cond_signal(&cond);
			pthread_mutex_unlock(&cond_lock);
		} else if (!strcmp(cmd, "exit")) {
			fflush(stdout);
			_exit(n);
		} else if (strcmp(cmd, "report")) {
			fprintf(stderr, "attachee: unknown command %s\n", cmd);
			continue;
		}
		answer(cmd, seq, new, nnew, freed, nfreed);
	}
	fflush(stdout);
	_exit(0);
	return NULL;
}

int main(int argc, char **argv)
{
	int k = 5, secs = 90, raw_pages = 0, storms = 1, opt, rc;
	pthread_t t[7];
	void *(*fn[7])(void *) = {reader_main, sleeper_main, waiter_main, storm_main,
				  catcher_main, worker_main, vforker_main};
	sigset_t set;

	while ((opt = getopt(argc, argv, "k:n:r:s:t:v:")) != -1) {
		switch (opt) {
		case 'k': k = atoi(optarg); break;
		case 'n': storms = atoi(optarg); break;
		case 'r': raw_pages = atoi(optarg); break;
		case 's': storm_usec = atol(optarg); break;
		case 't': secs = atoi(optarg); break;
		case 'v': vfork_ms = atol(optarg); break;
		default:
			fprintf(stderr, "usage: attachee [-k CHUNKS] [-n STORMS] [-r PAGES] [-s STORM_USEC] "
				"[-t SECONDS] [-v VFORK_MS]\n");
			return 2;
		}
	}
	if (k < 0 || k > MAX_CHUNKS / 2 || storm_usec < 0 || secs <= 0 || vfork_ms < 0 ||
	    raw_pages < 0 || storms < 1 || storms > 64) {
		fprintf(stderr, "attachee: bad arguments\n");
		return 2;
	}
	alarm((unsigned)secs);
	atomic_store(&tid_main, gettid_());
	if (!mallopt(M_MMAP_THRESHOLD, 131072)) {
		fprintf(stderr, "attachee: mallopt failed\n");
		return 1;
	}
	/* The blocks first, while nothing else maps: they end up adjacent. */
	for (int i = 0; i < k; i++)
		alloc_one();
	if (raw_pages > 0) {
		void *p;

		raw_len = (unsigned long)raw_pages * (unsigned long)sysconf(_SC_PAGESIZE);
		p = mmap(NULL, raw_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap", errno);
		memset(p, 0, raw_len); /* touched, and certainly no chunk header */
		raw_start = (unsigned long)p;
	}
	if (pipe(pipefd) < 0)
		die("pipe", errno);
	/* Only the catcher takes SIGRTMIN+1: every thread inherits this mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* The worker answers "ready" only once the others have named themselves. */
	if (vfork_ms > 0 && (rc = pthread_create(&t[6], NULL, fn[6], NULL)))
		die("pthread_create", rc);
	for (int i = 1; i < storms; i++) {
		pthread_t extra;

		if ((rc = pthread_create(&extra, NULL, storm_main, &storms)))
			die("pthread_create", rc);
	}
	for (int i = 0; i < 6; i++) {
		if (i == 5)
			while (!tid_reader || !tid_sleeper || !tid_waiter || !tid_storm ||
			       !tid_catcher || (vfork_ms > 0 && !tid_vforker))
				usleep(1000);
		if ((rc = pthread_create(&t[i], NULL, fn[i], NULL)))
			die("pthread_create", rc);
	}
	if ((rc = pthread_join(t[5], NULL)))
		die("pthread_join", rc);
	return 0;
}
