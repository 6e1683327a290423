/*
 * stopcont: a heartbeat for SIGSTOP/SIGCONT tests.
 *
 * usage: stopcont FILE
 *
 * Every 10 ms writes an incrementing counter as text ("N\n", pwrite at offset
 * 0; the text never gets shorter) to FILE, so a test can check that the
 * counter freezes while the process is stopped and moves again after SIGCONT.
 * Exits 0 on SIGUSR1, printing TRUTH {"counter":N,"reason":"usr1"}; after
 * 60 s without SIGUSR1 it gives up with exit 2 (reason "timeout").
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig) { got_usr1 = 1; }

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: stopcont FILE\n");
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0) {
		perror("stopcont: sigaction");
		return 1;
	}
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "stopcont: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	alarm(90); /* safety net beyond the 60 s loop bound */

	unsigned long counter = 0;
	double deadline = now() + 60;
	while (!got_usr1 && now() < deadline) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%lu\n", counter + 1);
		ssize_t w = pwrite(fd, buf, n, 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w != n) {
			fprintf(stderr, "stopcont: pwrite: %s\n",
				w < 0 ? strerror(errno) : "short write");
			return 1;
		}
		counter++;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL); /* EINTR (SIGUSR1) just ends the nap */
	}
	if (close(fd) != 0) {
		perror("stopcont: close");
		return 1;
	}
	printf("TRUTH {\"counter\":%lu,\"reason\":\"%s\"}\n", counter,
	       got_usr1 ? "usr1" : "timeout");
	fflush(stdout);
	if (!got_usr1) {
		fprintf(stderr, "stopcont: no SIGUSR1 within 60 s\n");
		return 2;
	}
	return 0;
}
