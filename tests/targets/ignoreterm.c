/*
 * ignoreterm: a process that shrugs off polite termination.
 *
 * Ignores SIGTERM and SIGINT, prints "READY" (flushed) on stdout, then sleeps
 * in a pause() loop.  Only SIGKILL (or another fatal signal) ends it; as a
 * safety net alarm(120) kills it with SIGALRM.  Prints no TRUTH line.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
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
