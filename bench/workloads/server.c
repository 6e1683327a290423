/*
 * server: a server-like mix.  Each of N rounds mmaps a 64 KiB buffer,
 * touches it, does 1000 write+read pairs of 64 bytes through a pipe (the
 * "requests", untraced syscalls), then munmaps the buffer.  So 2 traced
 * memory syscalls per 2000 ordinary ones.
 * usage: server N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BUF_BYTES (64 << 10)
#define PAIRS 1000
#define MSG 64

int main(int argc, char **argv)
{
	char msg[MSG], back[MSG];
	int fds[2];
	long rounds;

	if (argc != 2 || (rounds = atol(argv[1])) < 0) {
		fprintf(stderr, "usage: server N\n");
		return 2;
	}
	if (pipe(fds) != 0) {
		perror("server: pipe");
		return 1;
	}
	memset(msg, 'x', sizeof(msg));
	for (long r = 0; r < rounds; r++) {
		char *buf = mmap(NULL, BUF_BYTES, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (buf == MAP_FAILED) {
			perror("server: mmap");
			return 1;
		}
		buf[0] = (char)r;
		for (int i = 0; i < PAIRS; i++) {
			msg[0] = buf[0];
			if (write(fds[1], msg, MSG) != MSG || read(fds[0], back, MSG) != MSG) {
				perror("server: pipe write/read");
				return 1;
			}
		}
		if (munmap(buf, BUF_BYTES) != 0) {
			perror("server: munmap");
			return 1;
		}
	}
	return 0;
}
