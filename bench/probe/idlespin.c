/*
 * idlespin: keep one CPU from going idle, at the lowest priority there is.
 * SCHED_IDLE, pinned to CPU, for SECONDS: any real task preempts it, but the
 * (virtual) CPU never halts.  Used to show how much of a cross-CPU ptrace
 * stop is the wake-up of a halted vCPU (bench/RESULTS.md).
 * usage: idlespin CPU SECONDS
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sched_param p = {0};
	cpu_set_t set;

	if (argc != 3) {
		fprintf(stderr, "usage: idlespin CPU SECONDS\n");
		return 2;
	}
	CPU_ZERO(&set);
	CPU_SET(atoi(argv[1]), &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0 || sched_setscheduler(0, SCHED_IDLE, &p) < 0) {
		perror("idlespin");
		return 1;
	}
	alarm((unsigned)atoi(argv[2]));
	for (;;)
		__asm__ volatile("pause");
}
