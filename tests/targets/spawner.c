/*
 * spawner: every common way of starting a child, so the tracer must follow
 * fork, vfork, clone(CLONE_VM|CLONE_VFORK) from posix_spawn/system, and exec.
 *
 * Children, in order:
 *   fork_exec   fork + execve /bin/sh -c 'ls / >/dev/null'
 *   system      system("ls / >/dev/null")
 *   spawn_true  posix_spawn /bin/true
 *   spawn_sh    posix_spawn /bin/sh -c 'exit 0'
 *   fork_mmap   fork; child mmaps 1 MiB, writes every page, munmaps, _exit(0)
 *   vfork_exec  vfork + execve /bin/true
 * Prints: TRUTH {"children":6,"failures":F,"statuses":[...],"labels":[...],
 *                "pids":[...]}
 * statuses are raw wait statuses (0 = exited 0); pids holds each child's pid
 * (0 for system, whose pid is not visible).  Exits 0 iff every child exited 0.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define NCHILD 6
static const char *labels[NCHILD] = {
	"fork_exec", "system", "spawn_true", "spawn_sh", "fork_mmap", "vfork_exec",
};
static int statuses[NCHILD];
static pid_t pids[NCHILD];

static void die(const char *what, int err)
{
	fprintf(stderr, "spawner: %s: %s\n", what, strerror(err));
	exit(1);
}

static int reap(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid", errno);
	return st;
}

static pid_t spawn(char *const argv[])
{
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
	if (rc)
		die("posix_spawn", rc);
	return pid;
}

int main(void)
{
	char *sh_ls[] = {"/bin/sh", "-c", "ls / >/dev/null", NULL};
	char *sh_exit[] = {"/bin/sh", "-c", "exit 0", NULL};
	char *true_argv[] = {"/bin/true", NULL};
	pid_t pid;

	alarm(60);

	/* fork + execve */
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		execve(sh_ls[0], sh_ls, environ);
		_exit(127);
	}
	pids[0] = pid;
	statuses[0] = reap(pid);

	/* system(3) */
	statuses[1] = system("ls / >/dev/null");
	if (statuses[1] == -1)
		die("system", errno);

	/* posix_spawn */
	pids[2] = spawn(true_argv);
	statuses[2] = reap(pids[2]);
	pids[3] = spawn(sh_exit);
	statuses[3] = reap(pids[3]);

	/* fork child that maps, writes and unmaps 1 MiB */
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		size_t len = 1 << 20;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(3);
		for (size_t off = 0; off < len; off += 4096)
			p[off] = 1;
		if (munmap(p, len) != 0)
			_exit(4);
		_exit(0);
	}
	pids[4] = pid;
	statuses[4] = reap(pid);

	/* vfork + execve */
	pid = vfork();
	if (pid < 0)
		die("vfork", errno);
	if (pid == 0) {
		execve(true_argv[0], true_argv, environ);
		_exit(127);
	}
	pids[5] = pid;
	statuses[5] = reap(pid);

	int failures = 0;
	for (int i = 0; i < NCHILD; i++) {
		if (statuses[i] != 0) {
			failures++;
			fprintf(stderr, "spawner: child %s failed, wait status %#x\n",
				labels[i], statuses[i]);
		}
	}
	printf("TRUTH {\"children\":%d,\"failures\":%d,\"statuses\":[", NCHILD, failures);
	for (int i = 0; i < NCHILD; i++)
		printf("%s%d", i ? "," : "", statuses[i]);
	printf("],\"labels\":[");
	for (int i = 0; i < NCHILD; i++)
		printf("%s\"%s\"", i ? "," : "", labels[i]);
	printf("],\"pids\":[");
	for (int i = 0; i < NCHILD; i++)
		printf("%s%d", i ? "," : "", (int)pids[i]);
	printf("]}\n");
	if (fflush(stdout) != 0)
		return 1;
	return failures ? 1 : 0;
}
