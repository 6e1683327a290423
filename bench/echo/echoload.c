/*
 * echoload - a closed-loop load generator for an echo server.
 *
 * usage: echoload -p PORT [-h HOST] [-c CONNS] [-d SECONDS] [-s SIZE]
 *
 * Opens CONNS TCP connections (default 16) to HOST:PORT (default
 * 127.0.0.1); on each one it sends a SIZE-byte message (default 1024)
 * and waits for all SIZE bytes to come back before it sends the next, for
 * SECONDS (default 10, fractions allowed).  One thread drives every
 * connection through epoll.  Every echo is compared with what was sent
 * (each message carries its own byte pattern); a wrong byte, a closed
 * connection or a socket error ends the run with exit status 1 and a line
 * on stderr.  The latency of a request is from its send to its last byte
 * back, on CLOCK_MONOTONIC.
 *
 * Output, one line of JSON on stdout:
 *   {"conns":16,"size":1024,"seconds":S,"requests":N,"rps":R,
 *    "p50_us":A,"p99_us":B,"max_us":C}
 * requests counts the echoes completed before the deadline, S seconds
 * after the first sends; rps is requests / S.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	uint32_t seq; /* this connection's message number */
	size_t sent;  /* bytes of the current message written */
	size_t got;   /* bytes of its echo read */
	uint64_t t0;  /* when the message's first byte was written */
	unsigned char *msg, *echo;
};

static size_t size = 1024;
static uint32_t *lat; /* completed requests' latencies, ns */
static size_t nlat, caplat;

/* The monotonic clock in nanoseconds. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Print a reason and end the run as failed. */
static void die(const char *what, int id)
{
	if (id >= 0)
		fprintf(stderr, "echoload: connection %d: %s\n", id, what);
	else
		fprintf(stderr, "echoload: %s\n", what);
	exit(1);
}

/* Fill C's message with the pattern of its next message number. */
static void next_message(struct conn *c, int id)
{
	c->seq++;
	for (size_t i = 0; i < size; i++)
		c->msg[i] = (unsigned char)(i * 7 + c->seq * 13 + (unsigned)id);
	c->sent = c->got = 0;
}

/* Write what is left of C's message; 1 when all of it went out. */
static int send_some(struct conn *c, int id)
{
	while (c->sent < size) {
		ssize_t n = write(c->fd, c->msg + c->sent, size - c->sent);

		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die(strerror(errno), id);
		c->sent += (size_t)n;
	}
	return 1;
}

/* Keep a latency sample. */
static void record(uint64_t ns)
{
	if (nlat == caplat) {
		caplat = caplat ? caplat * 2 : 1 << 16;
		lat = realloc(lat, caplat * sizeof(*lat));
		if (!lat)
			die("out of memory", -1);
	}
	lat[nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* qsort order of two latencies. */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The Pth percentile of the sorted samples, in microseconds. */
static double pct(double p)
{
	size_t i;

	if (!nlat)
		return 0;
	i = (size_t)(p / 100.0 * (double)nlat);
	if (i >= nlat)
		i = nlat - 1;
	return lat[i] / 1e3;
}

/* Watch C (number ID) for its echo, and for room to write when OUT. */
static void watch(int ep, struct conn *c, int id, int out)
{
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0),
				 .data.u32 = (uint32_t)id};

	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die(strerror(errno), id);
}

/* Send C's next message and start its clock. */
static void start_request(int ep, struct conn *c, int id)
{
	next_message(c, id);
	c->t0 = now_ns();
	if (!send_some(c, id))
		watch(ep, c, id, 1);
}

/* Open N nonblocking connections to SA, each watched by EP. */
static struct conn *connect_all(const struct sockaddr_in *sa, int n, int ep)
{
	struct conn *conns = calloc((size_t)n, sizeof(*conns));
	int one = 1;

	if (!conns)
		die("out of memory", -1);
	for (int i = 0; i < n; i++) {
		struct conn *c = &conns[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

		c->msg = malloc(size);
		c->echo = malloc(size);
		c->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (!c->msg || !c->echo || c->fd < 0)
			die("cannot set up", i);
		if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
			die(strerror(errno), i);
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			die(strerror(errno), i);
	}
	return conns;
}

/* Read what C's echo has brought; at its end, record it and send the next. */
static void on_readable(int ep, struct conn *c, int id, uint64_t deadline)
{
	for (;;) {
		ssize_t r = read(c->fd, c->echo + c->got, size - c->got);
		uint64_t t;

		if (r < 0 && errno == EAGAIN)
			return;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die(strerror(errno), id);
		if (r == 0)
			die("closed by the server", id);
		if (c->got + (size_t)r > c->sent)
			die("more bytes back than were sent", id);
		if (memcmp(c->echo + c->got, c->msg + c->got, (size_t)r))
			die("the echo differs from the message", id);
		c->got += (size_t)r;
		if (c->got < size)
			continue;
		t = now_ns();
		if (t <= deadline)
			record(t - c->t0);
		start_request(ep, c, id);
		return;
	}
}

/* Keep every connection busy until DEADLINE. */
static void run(int ep, struct conn *conns, int n, uint64_t deadline)
{
	struct epoll_event evs[64];

	for (int i = 0; i < n; i++)
		start_request(ep, &conns[i], i);
	for (;;) {
		uint64_t t = now_ns();
		int k;

		if (t >= deadline)
			return;
		k = epoll_wait(ep, evs, 64, (int)((deadline - t) / 1000000u) + 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			die(strerror(errno), -1);
		for (int j = 0; j < k; j++) {
			int id = (int)evs[j].data.u32;
			struct conn *c = &conns[id];

			if ((evs[j].events & EPOLLOUT) && send_some(c, id))
				watch(ep, c, id, 0);
			if (evs[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(ep, c, id, deadline);
		}
	}
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 0, nconn = 16, opt, ep;
	double seconds = 10;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct conn *conns;

	while ((opt = getopt(argc, argv, "h:p:c:d:s:")) != -1) {
		switch (opt) {
		case 'h':
			host = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			nconn = atoi(optarg);
			break;
		case 'd':
			seconds = atof(optarg);
			break;
		case 's':
			size = (size_t)atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: echoload -p PORT [-h HOST] [-c CONNS] "
					"[-d SECONDS] [-s SIZE]\n");
			return 2;
		}
	}
	if (port <= 0 || port > 65535 || nconn <= 0 || seconds <= 0 || size == 0)
		die("need -p PORT, and positive -c, -d and -s", -1);
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("HOST must be an IPv4 address", -1);
	if ((ep = epoll_create1(0)) < 0)
		die(strerror(errno), -1);
	conns = connect_all(&sa, nconn, ep);
	run(ep, conns, nconn, now_ns() + (uint64_t)(seconds * 1e9));

	qsort(lat, nlat, sizeof(*lat), cmp_u32);
	printf("{\"conns\":%d,\"size\":%zu,\"seconds\":%.3f,\"requests\":%zu,"
	       "\"rps\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
	       nconn, size, seconds, nlat, (double)nlat / seconds, pct(50), pct(99),
	       nlat ? lat[nlat - 1] / 1e3 : 0.0);
	return 0;
}
