/*
 * ignoreterm: a process that shrugs off polite termination.
 *
 * usage: ignoreterm [-r]
 *
 * Ignores SIGTERM and SIGINT, prints "READY" (flushed) on stdout, then sleeps
 * in a pause() loop.  Only SIGKILL (or another fatal signal) ends it; as a
 * safety net alarm(120) kills it with SIGALRM.  Prints no TRUTH line.
 * With -r a handler that does nothing else reports each of them as a line,
 * "TERM" or "INT", so a test can see that the signal has come and gone.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void report(int sig)
{
	if (sig == SIGTERM)
		(void)!write(STDOUT_FILENO, "TERM\n", 5);
	else
		(void)!write(STDOUT_FILENO, "INT\n", 4);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	if (argc == 2 && strcmp(argv[1], "-r") == 0) {
		sa.sa_handler = report;
	} else if (argc == 1) {
		sa.sa_handler = SIG_IGN;
	} else {
		fprintf(stderr, "usage: ignoreterm [-r]\n");
		return 2;
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
		perror("ignoreterm: sigaction");
		return 1;
	}
	alarm(120);
	printf("READY\n");
	if (fflush(stdout) != 0) {
		perror("ignoreterm: fflush");
		return 1;
	}
	for (;;)
		pause();
}
