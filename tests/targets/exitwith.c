/*
 * exitwith: terminate in a chosen way, to check the tracer reports it.
 *
 * usage: exitwith CODE      exit(CODE)                  (CODE 0..255)
 *        exitwith -s SIG    die from signal SIG (disposition reset to
 *                           SIG_DFL, unblocked, core dumps disabled)
 * Prints first: TRUTH {"exit_code":CODE} or TRUTH {"signal":SIG}.
 * If SIG does not kill by default (e.g. SIGCHLD), exits 125 with a message.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int parse(const char *s, int lo, int hi)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "exitwith: bad number '%s'\n", s);
		exit(2);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	if (argc == 2) {
		int code = parse(argv[1], 0, 255);
		printf("TRUTH {\"exit_code\":%d}\n", code);
		fflush(stdout);
		exit(code);
	}
	if (argc != 3 || strcmp(argv[1], "-s") != 0) {
		fprintf(stderr, "usage: exitwith CODE | exitwith -s SIG\n");
		return 2;
	}
	int sig = parse(argv[2], 1, SIGRTMAX);
	struct rlimit nocore = {0, 0};
	if (setrlimit(RLIMIT_CORE, &nocore) != 0) {
		perror("exitwith: setrlimit");
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	if ((sig != SIGKILL && sig != SIGSTOP && sigaction(sig, &sa, NULL) != 0) ||
	    sigprocmask(SIG_UNBLOCK, &set, NULL) != 0) {
		perror("exitwith: sigaction");
		return 1;
	}
	printf("TRUTH {\"signal\":%d}\n", sig);
	fflush(stdout);
	if (raise(sig) != 0) {
		perror("exitwith: raise");
		return 1;
	}
	fprintf(stderr, "exitwith: still alive after signal %d\n", sig);
	return 125;
}
