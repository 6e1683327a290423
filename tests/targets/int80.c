/*
 * int80: makes i386 system calls through int 0x80 whose numbers are memory
 * calls on x86_64: 10 (unlink; mprotect on x86_64) and 12 (chdir; brk),
 * each with a bad pointer, so they only fail with EFAULT.  A tracer that
 * read them with x86_64 numbers would see mprotect and brk calls.
 *
 * usage: int80 [-n ROUNDS]   (default 200; 5 ms apart)
 * Prints "ready" first, then at the end:
 *   TRUTH {"calls":N,"efault":K}
 * Exits 3 at once where int 0x80 is not available (no IA32 emulation).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void no_int80(int sig)
{
	(void)sig;
	_exit(3);
}

/* One i386 call NR with a pointer argument that is never valid. */
static long call32(long nr)
{
	long r;

	__asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(-4096L) : "memory");
	return r;
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 && !strcmp(argv[1], "-n") ? atoi(argv[2]) : 200, calls = 0, efault = 0;

	signal(SIGSEGV, no_int80);
	call32(20); /* getpid: does int 0x80 work at all? */
	signal(SIGSEGV, SIG_DFL);
	printf("ready\n");
	fflush(stdout);
	for (int i = 0; i < rounds; i++) {
		efault += call32(10) == -14;
		efault += call32(12) == -14;
		calls += 2;
		usleep(5000);
	}
	printf("TRUTH {\"calls\":%d,\"efault\":%d}\n", calls, efault);
	return 0;
}
