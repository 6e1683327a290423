/*
 * memtracectl.c - ask a running memtraced questions over its socket.
 *
 * One table, ctl_cmds, holds every command: the protocol command it sends
 * (whose arguments, from libtrace's schema mt_cmds, become its options:
 * "--min-size 16M" is {"min_size":16777216}), the options memtracectl
 * reads itself, and its printer, or the run function of a command with its
 * own loop (wait, check, top).  The table drives parsing, --help (read by
 * the bash completion) and printing.  Answers are printed as aligned
 * tables, or as the daemon's JSON with --json.
 *
 * Exit status: 0 success, 1 the daemon answered with an error, 2 usage
 * (also a value the daemon refuses: bad_arg), 3 no daemon answers at the
 * socket.  check has its own, a monitoring plugin's.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "libtrace.h"
#include "report.h"

int opt_json;
void (*ctl_before_exit)(void);
static const char *opt_format = "text"; /* events --format */
static int opt_java;			 /* threads --java */
static const char *opt_peek_out;	 /* peek --out FILE */
static int opt_peek_strings;		 /* peek --strings */
static int opt_folded;			 /* stacks --folded */
static int wait_level = MT_LEVEL_WARN;	 /* wait --level */
static int64_t wait_timeout_ns = -1;	 /* wait --timeout, -1: never */

/* Print a usage error and exit 2. */
void usage_error(const char *fmt, ...)
{
	va_list ap;

	if (ctl_before_exit)
		ctl_before_exit();
	fprintf(stderr, "memtracectl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'memtracectl --help'.\n");
	exit(EXIT_USAGE);
}

/*
 * The socket path: -s, MEMTRACE_SOCKET, then memtraced's default; too long is
 * a usage error.  An empty variable counts as unset, as memtraced takes it.
 */
static void socket_path(const char *opt, char *buf, size_t size)
{
	const char *env = getenv("MEMTRACE_SOCKET"), *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (opt)
		n = snprintf(buf, size, "%s", opt);
	else if (env && *env)
		n = snprintf(buf, size, "%s", env);
	else if (geteuid() == 0 || !xdg || !*xdg)
		n = snprintf(buf, size, "/run/memtrace/memtraced.sock");
	else
		n = snprintf(buf, size, "%s/memtrace/memtraced.sock", xdg);
	if (n < 0 || (size_t)n >= size)
		usage_error("socket path too long (at most %zu bytes): %s", size - 1,
			    opt ? opt : env && *env ? env : xdg);
}

/* V as a JSON string for OPT of CMD; JSON holds only UTF-8, so other bytes are a usage error. */
static json_t *arg_string(const char *cmd, const char *opt, const char *v)
{
	json_t *s = json_string(v);

	if (!s)
		usage_error("%s: the value of %s is not valid UTF-8", cmd, opt);
	return s;
}

/*
 * An event id for OPT of CMD (NULL: peek's first argument), as JSON: decimal
 * digits only (no sign, blank or octal), within JSON's integers, and not 0,
 * which no event has.
 */
static json_t *arg_event_id(const char *cmd, const char *opt, const char *v)
{
	unsigned long long n;
	int bad;

	errno = 0;
	n = strtoull(v, NULL, 10);
	bad = !*v || v[strspn(v, "0123456789")] || errno || n > INT64_MAX;
	if (bad && !opt)
		usage_error("%s: '%s' is neither an address (0x...) nor an event id", cmd, v);
	if (bad)
		usage_error("%s: bad event id '%s' for %s", cmd, v, opt);
	if (n == 0)
		usage_error("%s: there is no event 0 (a preexisting mapping has no event id: "
			    "give its address)", cmd);
	return json_integer((json_int_t)n);
}


/* Whether ARG asks for help. */
static int is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

/* Set by check: a monitoring system reads only stdout, and wants one line there. */
static int nagios_output;

/* Say why no daemon answered (on stdout for check) and exit 3. */
static void __attribute__((noreturn, format(printf, 1, 2))) no_daemon(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctl_before_exit)
		ctl_before_exit();
	if (nagios_output)
		printf("MEMTRACE UNKNOWN - %s\n", msg);
	else
		fprintf(stderr, "memtracectl: %s\n", msg);
	exit(EXIT_NODAEMON);
}

/* Connect to PATH; exits 3 when nobody answers. */
static int connect_daemon(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "memtracectl: socket path too long: %s\n", path);
		exit(EXIT_USAGE);
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		no_daemon("no memtraced answers at %s: %s", path, strerror(errno));
	return fd;
}

/* Read the next JSON line; NULL at end of stream. */
static json_t *read_answer(struct reader *r)
{
	for (;;) {
		char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
		ssize_t n;

		if (nl) {
			json_error_t err;
			size_t len = (size_t)(nl - r->buf);
			json_t *o = json_loadb(r->buf, len, 0, &err);

			memmove(r->buf, nl + 1, r->len - len - 1);
			r->len -= len + 1;
			if (!o) {
				if (ctl_before_exit)
					ctl_before_exit();
				fprintf(stderr, "memtracectl: bad answer from the daemon: %s\n", err.text);
				exit(EXIT_ERROR);
			}
			return o;
		}
		if (r->len == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 65536;
			r->buf = realloc(r->buf, r->cap);
			if (!r->buf) {
				fprintf(stderr, "memtracectl: out of memory\n");
				exit(EXIT_ERROR);
			}
		}
		n = read(r->fd, r->buf + r->len, r->cap - r->len);
		if (n <= 0)
			return NULL;
		r->len += (size_t)n;
	}
}

/* json_object_get of a dotted PATH ("chunks.count"). */
json_t *jget(json_t *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		o = json_object_get(o, key);
		path += n + (path[n] == '.');
	}
	return o;
}

/* An integer at PATH. */
uint64_t jint(json_t *o, const char *path)
{
	return (uint64_t)json_integer_value(jget(o, path));
}

/* A string at PATH, "" when absent. */
const char *jstr(json_t *o, const char *path)
{
	const char *s = json_string_value(jget(o, path));

	return s ? s : "";
}

/*
 * The exit status for the error answer A: a value the daemon refuses
 * (bad_arg: "--class foo", a limit too high) is a usage error, as one
 * memtracectl finds itself is; any other error is the daemon's.
 */
static int error_status(json_t *a)
{
	return !strcmp(jstr(a, "error.code"), "bad_arg") ? EXIT_USAGE : EXIT_ERROR;
}

/* A human size of the integer at PATH (a static buffer per call site slot). */
const char *jsize(json_t *o, const char *path, int slot)
{
	static char bufs[8][16];

	return mt_format_size(jint(o, path), bufs[slot & 7], sizeof(bufs[0]));
}

/* A human rate of the bytes per second at PATH: "+16.0M/s" (a static buffer per slot). */
const char *jrate(json_t *o, const char *path, int slot)
{
	static char bufs[4][24];
	double r = json_number_value(jget(o, path));
	char s[16];

	snprintf(bufs[slot & 3], sizeof(bufs[0]), "%s%s/s", r < 0 ? "-" : "+",
		 mt_format_size((uint64_t)(r < 0 ? -r : r), s, sizeof(s)));
	return bufs[slot & 3];
}

/* The horizon at PATH in seconds as "12h", "10m", "45s" or "off" (a static buffer per slot). */
static const char *horizon(json_t *o, const char *path, int slot)
{
	static char bufs[2][24];
	double v = json_number_value(jget(o, path));

	if (v <= 0)
		snprintf(bufs[slot & 1], sizeof(bufs[0]), "off");
	else if (v >= 3600 && fmod(v, 3600) == 0)
		snprintf(bufs[slot & 1], sizeof(bufs[0]), "%.0fh", v / 3600);
	else if (v >= 60 && fmod(v, 60) == 0)
		snprintf(bufs[slot & 1], sizeof(bufs[0]), "%.0fm", v / 60);
	else
		snprintf(bufs[slot & 1], sizeof(bufs[0]), "%gs", v);
	return bufs[slot & 1];
}

/* Print the history samples as a sparkline scaled to the ceiling (or the maximum). */
static void print_history(json_t *o)
{
	static const char *const bars[] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
	json_t *h = jget(o, "history"), *v;
	uint64_t top = jint(o, "ceiling.bytes"), first = 0, last = 0;
	size_t i;

	if (!json_array_size(h))
		return;
	json_array_foreach(h, i, v) if (!jint(o, "ceiling.bytes") && jint(v, "bytes") > top) top =
		jint(v, "bytes");
	printf("history      ");
	json_array_foreach(h, i, v) {
		uint64_t b = jint(v, "bytes");
		size_t k = top ? (size_t)((double)b / (double)top * 8.0 + 0.5) : 0;

		fputs(bars[k > 8 ? 8 : k], stdout);
		if (!i)
			first = jint(v, "time_ns");
		last = jint(v, "time_ns");
	}
	printf("  (%.0fs, scale %s)\n", (double)(last - first) / 1e9, jsize(o, "ceiling.bytes", 0));
}

/* Say where the status's thread names come from, and why not Java's. */
static void print_names_source(json_t *o)
{
	const char *st = jstr(o, "threads.java_names.state"), *note = jstr(o, "threads.java_names.note");

	if (!strcmp(st, "learned"))
		printf("names from the JVM's thread dumps (%llu live threads by Java name)",
		       (unsigned long long)jint(o, "threads.java_names.named"));
	else if (!strcmp(st, "disabled"))
		printf("kernel names (--no-java-names)");
	else if (!strcmp(st, "not_jvm"))
		printf("kernel names (no HotSpot JVM)");
	else
		printf("kernel names (Java names %s%s%s)", st, *note ? ": " : "", note);
}

/*
 * The perf map memtraced asks a JVM it cannot read for, once it has asked
 * (nothing while its JIT frames need no map).
 */
static void print_perf_map(json_t *o)
{
	const char *st = jstr(o, "perf_map.state"), *note = jstr(o, "perf_map.note");

	if (strcmp(st, "written") && strcmp(st, "failed") && strcmp(st, "refused"))
		return;
	printf("perf map     JIT frames named from the JVM's perf map: %s, %llu requests%s%s\n", st,
	       (unsigned long long)jint(o, "perf_map.requests"), *note ? "; " : "", note);
}

/* Print a status answer. */
static void print_status(json_t *o)
{
	json_t *argv = jget(o, "target.argv"), *v;
	size_t i;

	printf("target       pid %d %s, up %.1fs:", (int)jint(o, "target.pid"),
	       jstr(o, "target.state"), json_number_value(jget(o, "target.uptime_s")));
	json_array_foreach(argv, i, v) printf(" %s", json_string_value(v));
	if (jget(o, "target.exit_code"))
		printf(" (exit code %d)", (int)jint(o, "target.exit_code"));
	printf("\noutstanding  %llu mappings, %s (committed %s, reserved %s, brk %s)\n",
	       (unsigned long long)jint(o, "outstanding.count"), jsize(o, "outstanding.bytes", 0),
	       jsize(o, "outstanding.committed_bytes", 1), jsize(o, "outstanding.reserved_bytes", 2),
	       jsize(o, "outstanding.brk_bytes", 3));
	printf("chunks       %llu x %s = %s", (unsigned long long)jint(o, "chunks.count"),
	       jsize(o, "chunks.size", 0), jsize(o, "chunks.bytes", 1));
	/* null when /proc could not tell, or too many chunks to ask about */
	if (json_is_integer(jget(o, "chunks.rss_bytes")))
		printf(" (%s resident)", jsize(o, "chunks.rss_bytes", 3));
	if (jint(o, "ceiling.bytes"))
		printf(", %.1f%% of the %s ceiling", json_number_value(jget(o, "ceiling.used_percent")),
		       jsize(o, "ceiling.bytes", 2));
	printf("\nchunk size   %s: %s", jsize(o, "chunks.size", 0), jstr(o, "chunks.size_source"));
	if (jget(o, "direct")) {
		printf("\ndirect       %llu mappings, %s; alerts weigh %s",
		       (unsigned long long)jint(o, "direct.count"), jsize(o, "direct.bytes", 0),
		       jstr(o, "direct.weighs"));
		if (jint(o, "direct.in_arenas_bytes"))
			printf(" (%s of it grew malloc arenas)", jsize(o, "direct.in_arenas_bytes", 1));
		if (json_is_string(jget(o, "direct.netty_version")))
			printf("; Netty %s", jstr(o, "direct.netty_version"));
		if (jint(o, "direct.may_be_hidden_bytes"))
			printf("\nout of sight up to %s in malloc arenas: %s",
			       jsize(o, "direct.may_be_hidden_bytes", 1), jstr(o, "direct.hidden_because"));
	}
	printf("\nclasses      small %llu / %s, chunk %llu / %s, large %llu / %s\n",
	       (unsigned long long)jint(o, "outstanding.classes.small.count"),
	       jsize(o, "outstanding.classes.small.bytes", 0),
	       (unsigned long long)jint(o, "outstanding.classes.chunk.count"),
	       jsize(o, "outstanding.classes.chunk.bytes", 1),
	       (unsigned long long)jint(o, "outstanding.classes.large.count"),
	       jsize(o, "outstanding.classes.large.bytes", 2));
	printf("events       %llu recorded, %llu dropped (", (unsigned long long)jint(o, "events.recorded"),
	       (unsigned long long)jint(o, "events.dropped"));
	const char *key;
	const char *sep = "";
	json_object_foreach(jget(o, "events.by_syscall"), key, v) {
		printf("%s%s %lld", sep, key, (long long)json_integer_value(v));
		sep = ", ";
	}
	printf(")\nthreads      %llu alive, %llu seen; ", (unsigned long long)jint(o, "threads.count"),
	       (unsigned long long)jint(o, "threads.seen"));
	print_names_source(o);
	json_array_foreach(jget(o, "threads.top"), i, v) {
		if (i == 3)
			break;
		printf("%s%s %s", i ? ", " : "\n             most chunks: ", jstr(v, "name"),
		       jsize(v, "chunk_bytes", 0));
	}
	putchar('\n');
	print_perf_map(o);
	if (jint(o, "seeded.count"))
		printf("seeded       %llu mappings, %s present before tracing\n",
		       (unsigned long long)jint(o, "seeded.count"), jsize(o, "seeded.bytes", 0));
	if (json_is_number(jget(o, "attach.held_ms"))) {
		const char *note = jstr(o, "attach.note");

		printf("attach       %s mode%s, held the target %.1f ms (seeding %.1f ms)\n",
		       jstr(o, "attach.mode"),
		       json_is_true(jget(o, "attach.keeping")) ? ", stopping: keeping it until it exits" : "",
		       json_number_value(jget(o, "attach.held_ms")),
		       json_number_value(jget(o, "attach.seed_ms")));
		if (note[0])
			printf("             %s\n", note);
	}
	printf("ceiling      %s from %s, level %s\n", jsize(o, "ceiling.bytes", 0),
	       jstr(o, "ceiling.source"), jstr(o, "ceiling.level"));
	printf("growth       %s over %.0fs, %s since start, %s",
	       jrate(o, "growth.rate_bytes_per_s", 0),
	       json_number_value(jget(o, "growth.window_s")),
	       jrate(o, "growth.overall_rate_bytes_per_s", 1), jstr(o, "growth.trend"));
	if (json_is_number(jget(o, "growth.eta_s")))
		printf(", ceiling in %.0fs", json_number_value(jget(o, "growth.eta_s")));
	printf("\ntrend        %s, level %s (warn within %s, crit within %s)",
	       jstr(o, "trend.reason"), jstr(o, "trend.level"),
	       horizon(o, "trend.eta_warn_s", 0), horizon(o, "trend.eta_crit_s", 1));
	printf("\narenas       %s committed in glibc heaps, %s brk; threshold %s\n",
	       jsize(o, "arena.committed_bytes", 0), jsize(o, "arena.brk_bytes", 1),
	       json_is_true(jget(o, "arena.threshold_pinned")) ? "pinned" : "not pinned");
	printf("daemon       pid %d, rss %s, memtrace %s\n", (int)jint(o, "daemon.pid"),
	       jsize(o, "daemon.rss_bytes", 0), jstr(o, "daemon.version"));
	print_history(o);
	json_array_foreach(jget(o, "warnings"), i, v) printf("warning: %s\n", json_string_value(v));
}

/* Print one alert as a line. */
static void print_alert(json_t *a)
{
	time_t t = (time_t)(jint(a, "time_ns") / 1000000000);
	json_t *eta = jget(a, "eta_s"), *th;
	char when[32];
	size_t i;

	strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
	printf("%s %-4s %-7s %s = %.1f%% of %s, %s %s, %s since start", when, jstr(a, "level"),
	       jstr(a, "state"), jsize(a, "bytes", 0), json_number_value(jget(a, "percent")),
	       jsize(a, "ceiling", 1), jrate(a, "rate_bytes_per_s", 0), jstr(a, "trend"),
	       jrate(a, "overall_rate_bytes_per_s", 1));
	if (json_is_number(eta))
		printf(", ceiling in %.0fs", json_number_value(eta));
	if (*jstr(a, "reason"))
		printf("; %s: %s", jstr(a, "cause"), jstr(a, "reason"));
	if (!strcmp(jstr(a, "weighs"), "direct"))
		printf("; direct %llu mappings", (unsigned long long)jint(a, "direct.count"));
	if (jint(a, "direct.in_arenas_bytes"))
		printf(", %s of it in malloc arenas", jsize(a, "direct.in_arenas_bytes", 1));
	if (jint(a, "direct.may_be_hidden_bytes"))
		printf(", up to %s more out of sight in malloc arenas",
		       jsize(a, "direct.may_be_hidden_bytes", 3));
	json_array_foreach(jget(a, "top_threads"), i, th) {
		int direct = !strcmp(jstr(a, "weighs"), "direct");

		if (i == 3)
			break;
		printf("%s%s %s", i ? ", " : "; top: ", jstr(th, "name"),
		       jsize(th, direct ? "direct_bytes" : "chunk_bytes", 2));
	}
	putchar('\n');
}

/* Print an alerts answer. */
static void print_alerts(json_t *o)
{
	size_t i;
	json_t *a;

	printf("level now: %s\n", jstr(o, "level"));
	json_array_foreach(jget(o, "alerts"), i, a) print_alert(a);
}

/* A human size of the integer at PATH, or "-" when it is not one (unknown). */
static const char *jsize_or_dash(json_t *o, const char *path, int slot)
{
	return json_is_integer(jget(o, path)) ? jsize(o, path, slot) : "-";
}

/* Print an outstanding answer; RSS and DIRTY columns when it has them (--rss). */
static void print_outstanding(json_t *o)
{
	json_t *maps = jget(o, "mappings"), *m;
	int rss = jget(json_array_get(maps, 0), "rss_bytes") != NULL;
	size_t i;

	printf("%-18s %10s %-6s %-4s %9s %8s  ", "START", "LENGTH", "CLASS", "PROT", "AGE", "TID");
	if (rss)
		printf("%8s %8s  ", "RSS", "DIRTY");
	printf("THREAD\n");
	json_array_foreach(maps, i, m) {
		char age[32] = "-";

		if (json_is_true(jget(m, "preexisting")))
			snprintf(age, sizeof(age), "pre");
		else
			snprintf(age, sizeof(age), "%.1fs", json_number_value(jget(m, "age_s")));
		printf("%-18s %10s %-6s %-4s %9s %8d  ", jstr(m, "start"), jsize(m, "length", 0),
		       jstr(m, "class"), jstr(m, "prot"), age, (int)jint(m, "tid"));
		if (rss)
			printf("%8s %8s  ", jsize_or_dash(m, "rss_bytes", 1),
			       jsize_or_dash(m, "dirty_bytes", 2));
		printf("%s\n", jstr(m, "thread"));
		{
			size_t k;
			json_t *fr;

			json_array_foreach(jget(m, "stack"), k, fr) printf("      %s\n",
									  json_string_value(fr));
		}
	}
	printf("(%llu of %llu shown)\n", (unsigned long long)jint(o, "count"),
	       (unsigned long long)jint(o, "total"));
}

/* Print frame F as a folded-format frame (mt_folded_frame). */
static void put_folded_frame(const char *f)
{
	char buf[1024];

	fputs(mt_folded_frame(f, buf, sizeof(buf)), stdout);
}

/*
 * Print a stacks answer in Brendan Gregg's folded format, root first, one
 * line a stack with its outstanding bytes, for flamegraph.pl, speedscope
 * and inferno.  Mappings with no stack are "[no stack]".
 */
static void print_folded(json_t *o)
{
	size_t i;
	json_t *st;

	json_array_foreach(jget(o, "stacks"), i, st) {
		json_t *frames = jget(st, "frames");
		size_t n = json_array_size(frames);

		if (!jint(st, "id") || !n)
			fputs("[no stack]", stdout);
		for (size_t k = n; k-- > 0;) {
			put_folded_frame(json_string_value(json_array_get(frames, k)));
			if (k)
				putchar(';');
		}
		printf(" %llu\n", (unsigned long long)jint(st, "bytes"));
	}
}

/* Print a stacks answer: a leak report. */
static void print_stacks(json_t *o)
{
	size_t i, k;
	json_t *st, *fr;

	if (opt_folded) {
		print_folded(o);
		return;
	}

	json_array_foreach(jget(o, "stacks"), i, st) {
		printf("%s in %llu mappings", jsize(st, "bytes", 0),
		       (unsigned long long)jint(st, "count"));
		if (!jint(st, "id"))
			printf(" (no stack captured)");
		putchar('\n');
		json_array_foreach(jget(st, "frames"), k, fr) printf("    #%-2zu %s\n", k,
								     json_string_value(fr));
		putchar('\n');
	}
	printf("(%llu of %llu stacks shown)\n",
	       (unsigned long long)json_array_size(jget(o, "stacks")),
	       (unsigned long long)jint(o, "total"));
}

/* Print a suspects answer: one paragraph a site, its verdict and why, then its stack. */
static void print_suspects(json_t *o)
{
	size_t i, k;
	json_t *st, *fr;

	json_array_foreach(jget(o, "suspects"), i, st) {
		printf("#%llu %-8s %s in %llu mappings, %s, steadiness %.2f, oldest %.0fs of %.0fs "
		       "followed%s%s; thread %s (%d)%s\n",
		       (unsigned long long)jint(st, "rank"), jstr(st, "verdict"), jsize(st, "bytes", 0),
		       (unsigned long long)jint(st, "count"), jrate(st, "rate_bytes_per_s", 0),
		       json_number_value(jget(st, "steadiness")),
		       json_number_value(jget(st, "oldest_age_s")),
		       json_number_value(jget(st, "tracked_s")),
		       jint(st, "freed_bytes") ? ", gave back " : "",
		       jint(st, "freed_bytes") ? jsize(st, "freed_bytes", 1) : "",
		       jstr(st, "thread"), (int)jint(st, "tid"),
		       jint(st, "stack_id") ? "" : " (no stack captured)");
		json_array_foreach(jget(st, "frames"), k, fr) printf("    #%-2zu %s\n", k,
								     json_string_value(fr));
		putchar('\n');
	}
	printf("(%llu of %llu sites shown", (unsigned long long)json_array_size(jget(o, "suspects")),
	       (unsigned long long)jint(o, "total"));
	if (jint(o, "untracked_bytes"))
		printf("; %s in sites not followed", jsize(o, "untracked_bytes", 0));
	printf(")\n");
}

/* The tid of TID as seen inside its own pid namespace (the JVM's nid). */
static pid_t ns_tid(pid_t pid, pid_t tid)
{
	char path[64], line[256];
	pid_t ns = tid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	if (!(f = fopen(path, "re")))
		return tid;
	while (fgets(line, sizeof(line), f)) {
		char *last;

		if (!strncmp(line, "NSpid:", 6) && (last = strrchr(line, '\t')))
			ns = (pid_t)atoi(last + 1);
	}
	fclose(f);
	return ns;
}

/* Add java_name and java_state to each thread of answer O from a thread dump of PID. */
static void join_java(json_t *o, pid_t pid)
{
	static struct mt_jthread jt[8192];
	char err[512], *dump;
	size_t n, i;
	json_t *t;

	if (mt_jattach_check(pid, err, sizeof(err)) < 0 ||
	    mt_jattach_run(pid, "threaddump", &dump, err, sizeof(err)) < 0) {
		fprintf(stderr, "memtracectl: threads --java: %s\n", err);
		exit(EXIT_ERROR);
	}
	n = mt_jattach_parse(dump, jt, sizeof(jt) / sizeof(jt[0]));
	json_array_foreach(jget(o, "threads"), i, t) {
		pid_t nid = ns_tid(pid, (pid_t)jint(t, "tid"));

		for (size_t k = 0; k < n; k++) {
			if (jt[k].tid != nid)
				continue;
			json_object_set_new(t, "java_name", json_string(jt[k].name));
			json_object_set_new(t, "java_state", json_string(jt[k].state));
		}
	}
	free(dump);
}

/* Print a threads answer. */
static void print_threads(json_t *o)
{
	size_t i;
	json_t *t;

	printf("%8s %-5s %16s %16s %16s %16s  %s\n", "TID", "ALIVE", "OUTSTANDING", "CHUNKS",
	       "MAPPED", "UNMAPPED", opt_java ? "NAME (JAVA STATE)" : "NAME");
	json_array_foreach(jget(o, "threads"), i, t) {
		char c[4][32];

		snprintf(c[0], 32, "%llu / %s", (unsigned long long)jint(t, "outstanding.count"),
			 jsize(t, "outstanding.bytes", 0));
		snprintf(c[1], 32, "%llu / %s", (unsigned long long)jint(t, "chunks.count"),
			 jsize(t, "chunks.bytes", 1));
		snprintf(c[2], 32, "%llu / %s", (unsigned long long)jint(t, "mapped.count"),
			 jsize(t, "mapped.bytes", 2));
		snprintf(c[3], 32, "%llu / %s", (unsigned long long)jint(t, "unmapped.count"),
			 jsize(t, "unmapped.bytes", 3));
		printf("%8d %-5s %16s %16s %16s %16s  %s", (int)jint(t, "tid"),
		       json_is_true(jget(t, "alive")) ? "yes" : "no", c[0], c[1], c[2], c[3],
		       jstr(t, "name"));
		/* The daemon's name is the Java name unless it has not learned it. */
		if (jget(t, "java_name") && strcmp(jstr(t, "java_name"), jstr(t, "name")))
			printf(" = %s", jstr(t, "java_name"));
		if (jget(t, "java_state"))
			printf(" (%s)", jstr(t, "java_state"));
		putchar('\n');
	}
	printf("(%llu of %llu threads shown)\n", (unsigned long long)jint(o, "count"),
	       (unsigned long long)jint(o, "total"));
}

/* Print one event line in the chosen format. */
static void print_event(json_t *ev)
{
	if (!strcmp(opt_format, "json")) {
		json_dumpf(ev, stdout, JSON_COMPACT);
		putchar('\n');
	} else {
		puts(jstr(ev, "text"));
	}
}

/* Print an events answer. */
static void print_events(json_t *o)
{
	size_t i;
	json_t *ev;

	json_array_foreach(jget(o, "events"), i, ev) print_event(ev);
}

/*
 * List the timestamps in the N bytes at B (mt_find_stamps() says which
 * count), each with its date in UTC and in local time.
 */
static void peek_timestamps(const unsigned char *b, size_t n)
{
	struct mt_stamp st[20];
	size_t found = mt_find_stamps(b, n, (int64_t)time(NULL), st, 20);

	for (size_t i = 0; i < found && i < 20; i++) {
		time_t t = (time_t)(st[i].ms / 1000);
		char frac[8] = "", utc[64], local[64];
		struct tm tm;

		if (strstr(st[i].how, "ms"))
			snprintf(frac, sizeof(frac), ".%03d", (int)(st[i].ms % 1000));
		strftime(utc, sizeof(utc), "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
		strftime(local, sizeof(local), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
		printf("%08zx  %s: %s%s UTC, %s%s ", st[i].off, st[i].how, utc, frac, local, frac);
		strftime(local, sizeof(local), "%Z", &tm);
		printf("%s\n", local);
	}
	if (found > 20)
		printf("(%zu more timestamps not shown)\n", found - 20);
}

/* Why the byte at OFF of a peek was not read (its "gaps"), or NULL. */
static const char *peek_gap(json_t *gaps, size_t off)
{
	size_t i;
	json_t *g;

	json_array_foreach(gaps, i, g) {
		json_int_t at = json_integer_value(json_object_get(g, "offset"));

		if ((json_int_t)off >= at && (json_int_t)off < at + json_integer_value(json_object_get(g, "length")))
			return json_string_value(json_object_get(g, "why"));
	}
	return NULL;
}

/*
 * Print the N bytes at B as hexdump -C does: a full line of 16 bytes equal
 * to the one before it is not printed, and a run of them shows as one "*"
 * line, so a mostly zero chunk takes a few lines, not one per 16 bytes.
 * A line the target had no page for (GAPS) is zeros marked with the reason,
 * and a run never spans read and unread lines.
 */
static void print_hexdump(const unsigned char *b, size_t n, json_t *gaps)
{
	const char *why, *last_why = NULL;
	int starred = 0;

	for (size_t i = 0; i < n; i += 16, last_why = why) {
		why = peek_gap(gaps, i);
		if (i && i + 16 <= n && why == last_why && !memcmp(b + i, b + i - 16, 16)) {
			if (!starred)
				puts("*");
			starred = 1;
			continue;
		}
		starred = 0;
		printf("%08zx ", i);
		for (size_t k = 0; k < 16; k++) {
			if (k == 8)
				putchar(' ');
			if (i + k < n)
				printf(" %02x", b[i + k]);
			else
				printf("   ");
		}
		printf("  |");
		for (size_t k = 0; k < 16 && i + k < n; k++)
			putchar(b[i + k] >= 0x20 && b[i + k] < 0x7f ? b[i + k] : '.');
		printf(why ? "|  %s, not read\n" : "|\n", why);
	}
	if (n)
		printf("%08zx\n", n);
}

/* The value of hex digit C (0 for anything else). */
static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 0;
}

/* Print a peek answer: hexdump -C layout or strings, then timestamps. */
static void print_peek(json_t *o)
{
	const char *hex = jstr(o, "data");
	size_t n = strlen(hex) / 2;
	unsigned char *b = malloc(n ? n : 1);

	if (!b)
		return;
	/* Not sscanf(): it measures the whole string at every call. */
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
	if (opt_peek_out) {
		FILE *f = fopen(opt_peek_out, "we");

		if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
			fprintf(stderr, "memtracectl: cannot write %s: %s\n", opt_peek_out,
				strerror(errno));
			exit(EXIT_ERROR);
		}
		printf("%zu bytes from %s saved to %s\n", n, jstr(o, "address"), opt_peek_out);
		for (size_t i = 0; i < json_array_size(jget(o, "gaps")); i++) {
			json_t *g = json_array_get(jget(o, "gaps"), i);

			printf("  %08llx  %lld bytes %s, not read: saved as zeros\n",
			       (long long)json_integer_value(json_object_get(g, "offset")),
			       (long long)json_integer_value(json_object_get(g, "length")),
			       json_string_value(json_object_get(g, "why")));
		}
	} else if (opt_peek_strings) {
		for (size_t i = 0; i < n;) {
			size_t j = i;

			while (j < n && b[j] >= 0x20 && b[j] < 0x7f)
				j++;
			if (j - i >= 4)
				printf("%08zx  %.*s\n", i, (int)(j - i), (const char *)b + i);
			i = j + 1;
		}
	} else {
		print_hexdump(b, n, jget(o, "gaps"));
	}
	peek_timestamps(b, n);
	free(b);
}

/* Send REQ on a new connection to PATH; returns the reader, first answer in *ANSWER. */
struct reader request(const char *path, json_t *req, json_t **answer)
{
	struct reader r = {0};
	char *text = json_dumps(req, JSON_COMPACT);
	int send_errno = 0;

	r.fd = connect_daemon(path);
	if (!text)
		exit(EXIT_ERROR);
	/* A failed send may still leave the daemon's refusal to read. */
	if (dprintf(r.fd, "%s\n", text) < 0)
		send_errno = errno;
	free(text);
	*answer = read_answer(&r);
	if (!*answer && send_errno)
		no_daemon("cannot send to %s: %s", path, strerror(send_errno));
	if (!*answer)
		no_daemon("%s closed the connection without answering", path);
	return r;
}

/* Close R. */
void reader_close(struct reader *r)
{
	close(r->fd);
	free(r->buf);
	r->fd = -1;
	r->buf = NULL;
}

/* Send REQ to PATH and return its one answer. */
json_t *ask(const char *path, json_t *req)
{
	json_t *a;
	struct reader r = request(path, req, &a);

	reader_close(&r);
	return a;
}

/* The target's pid, from a status request. */
static pid_t target_pid(const char *path)
{
	json_t *req = json_pack("{s:s}", "cmd", "status"), *a = ask(path, req);
	pid_t pid = (pid_t)jint(a, "target.pid");

	json_decref(a);
	json_decref(req);
	return pid;
}

/*
 * Print how wait for LEVEL ended: RESULT is "active" (NOW, the level then, is
 * at LEVEL or above), "raised" (ALERT) or "timeout".  With --json one object:
 * {"wait":LEVEL,"result":RESULT[,"level":NOW][,"alert":ALERT]}.
 */
static void wait_result(int level, const char *result, const char *now, json_t *alert)
{
	json_t *o;

	if (!opt_json) {
		if (alert)
			print_alert(alert);
		else if (now)
			printf("level %s is active\n", now);
		else
			printf("no %s alert before the timeout\n", mt_level_name(level));
		return;
	}
	o = json_pack("{s:s,s:s}", "wait", mt_level_name(level), "result", result);
	if (o && now)
		json_object_set_new(o, "level", json_string(now));
	if (o && alert)
		json_object_set(o, "alert", alert);
	if (o)
		json_dumpf(o, stdout, JSON_COMPACT), putchar('\n');
	json_decref(o);
}

/*
 * wait [--level warn|crit] [--timeout DURATION]: exit 0 as soon as an alert
 * of LEVEL or above is active or fires, 1 on timeout.
 */
static int cmd_wait(const struct ctl_cmd *cmd, const char *path, int argc, char **argv)
{
	int level, rc = 1;
	int64_t timeout_ns, deadline = 0;
	json_t *req = json_pack("{s:s}", "cmd", "watch"), *a;
	struct reader r;

	ctl_parse(cmd, argc, argv, NULL);
	level = wait_level;
	timeout_ns = wait_timeout_ns;
	r = request(path, req, &a);
	if (!json_is_true(json_object_get(a, "ok"))) {
		fprintf(stderr, "memtracectl: %s\n", jstr(a, "error.message"));
		rc = error_status(a);
		goto out;
	}
	if (mt_level_from_name(jstr(a, "level")) >= level) {
		wait_result(level, "active", jstr(a, "level"), NULL);
		rc = 0;
		goto out;
	}
	json_decref(a);
	a = NULL;
	if (timeout_ns >= 0) {
		struct timespec ts;
		int64_t now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		deadline = timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
	}
	for (;;) {
		struct timespec ts;
		struct pollfd p = {r.fd, POLLIN, 0};
		int ms = -1;
		json_t *al;

		if (timeout_ns >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t left = deadline - ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);

			if (left <= 0)
				break;
			/* poll() takes int milliseconds: a longer wait is polled again. */
			ms = left / 1000000 >= INT_MAX ? INT_MAX : (int)(left / 1000000) + 1;
		}
		if (!(r.len && memchr(r.buf, '\n', r.len)) && poll(&p, 1, ms) == 0)
			break;
		if (!(a = read_answer(&r))) {
			fprintf(stderr, "memtracectl: memtraced went away\n");
			rc = EXIT_NODAEMON;
			goto out;
		}
		al = json_object_get(a, "alert");
		if (al && !strcmp(jstr(al, "state"), "raised") &&
		    mt_level_from_name(jstr(al, "level")) >= level) {
			wait_result(level, "raised", jstr(al, "level"), al);
			rc = 0;
			goto out;
		}
		json_decref(a);
		a = NULL;
	}
	wait_result(level, "timeout", NULL, NULL);
out:
	json_decref(a);
	json_decref(req);
	free(r.buf);
	close(r.fd);
	return rc;
}

/* check: one Nagios-style line from status; exit 0 ok, 1 warn, 2 crit, 3 unknown. */
static int cmd_check(const struct ctl_cmd *cmd, const char *path, int argc, char **argv)
{
	static const char *const word[] = {"OK", "WARNING", "CRITICAL"};
	json_t *req = json_pack("{s:s}", "cmd", "status"), *a;
	char why[160] = "", eta[48] = "";
	int level;

	if (argc == 1 && is_help(argv[0])) {
		ctl_usage(stdout, cmd);
		json_decref(req);
		return 0;
	}
	/* Monitoring systems read 2 as CRITICAL: a usage error here is UNKNOWN (3). */
	if (argc) {
		printf("MEMTRACE UNKNOWN - check takes no arguments ('%s')\n", argv[0]);
		json_decref(req);
		return 3;
	}
	nagios_output = 1;
	a = ask(path, req);
	json_decref(req);
	level = mt_level_from_name(jstr(a, "ceiling.level"));
	if (!json_is_true(json_object_get(a, "ok")) || level < 0) {
		printf("MEMTRACE UNKNOWN - %s\n", jstr(a, "error.message"));
		json_decref(a);
		return 3;
	}
	if (!jint(a, "ceiling.bytes")) {
		printf("MEMTRACE UNKNOWN - no ceiling known | chunk_bytes=%lluB\n",
		       (unsigned long long)jint(a, "chunks.bytes"));
		json_decref(a);
		return 3;
	}
	/* The trend's reason when it is steady: why the level is what it is, or soon will be. */
	if (json_is_true(jget(a, "trend.steady")))
		snprintf(why, sizeof(why), "; trend %s%s", jstr(a, "trend.reason"),
			 mt_level_from_name(jstr(a, "trend.level")) > MT_LEVEL_OK ? " (alert)" : "");
	if (json_is_number(jget(a, "trend.eta_s")))
		snprintf(eta, sizeof(eta), " ceiling_eta=%.0fs", json_number_value(jget(a, "trend.eta_s")));
	printf("MEMTRACE %s - %s is %.1f%% of the %s ceiling%s | chunk_bytes=%lluB;%llu;%llu;0;%llu%s\n",
	       word[level], jsize(a, "ceiling.weighed_bytes", 0),
	       json_number_value(jget(a, "ceiling.used_percent")), jsize(a, "ceiling.bytes", 1), why,
	       (unsigned long long)jint(a, "ceiling.weighed_bytes"),
	       (unsigned long long)(jint(a, "ceiling.bytes") *
				    json_number_value(jget(a, "ceiling.warn_percent")) / 100),
	       (unsigned long long)(jint(a, "ceiling.bytes") *
				    json_number_value(jget(a, "ceiling.crit_percent")) / 100),
	       (unsigned long long)jint(a, "ceiling.bytes"), eta);
	json_decref(a);
	return level;
}
/* Print a watch answer: the level now (alerts follow as a stream). */
static void print_watch(json_t *o)
{
	printf("level now: %s\n", jstr(o, "level"));
}

/* Print a metrics answer: the exposition text as it is. */
static void print_metrics(json_t *o)
{
	fputs(jstr(o, "text"), stdout);
}

/* Print a stop answer. */
static void print_stop(json_t *o)
{
	printf("memtraced is stopping\n");
}

/* Print ANSWER to CMD in the chosen format. */
static void print_answer(const struct ctl_cmd *cmd, json_t *a)
{
	if (opt_json && (cmd->flags & CTL_EVENT_LINES)) {
		/* One event object a line, as --follow streams them. */
		opt_format = "json";
	} else if (opt_json || !cmd->print) {
		json_dumpf(a, stdout, JSON_COMPACT);
		putchar('\n');
		return;
	}
	cmd->print(a);
}

/* The options memtracectl reads itself, command by command. */

/* threads --java */
static int set_java(json_t *req, const char *v)
{
	opt_java = 1;
	return 0;
}

/* events --format text|json */
static int set_format(json_t *req, const char *v)
{
	if (strcmp(v, "text") && strcmp(v, "json"))
		usage_error("events: --format takes text or json");
	opt_format = v;
	return 0;
}

/* peek ADDR|ID: 0x... or 0X... is an address, anything else an event id; one only. */
static int set_peek_target(json_t *req, const char *v)
{
	if (json_object_get(req, "address") || json_object_get(req, "id"))
		return -1;
	if (!strncmp(v, "0x", 2) || !strncmp(v, "0X", 2))
		json_object_set_new(req, "address", arg_string("peek", "ADDR", v));
	else
		json_object_set_new(req, "id", arg_event_id("peek", NULL, v));
	return 0;
}

/* peek --hexdump */
static int set_hexdump(json_t *req, const char *v)
{
	opt_peek_strings = 0;
	return 0;
}

/* peek --strings */
static int set_strings(json_t *req, const char *v)
{
	opt_peek_strings = 1;
	return 0;
}

/* peek --out FILE */
static int set_out(json_t *req, const char *v)
{
	opt_peek_out = v;
	return 0;
}

/* stacks --folded: a flame graph wants every stack, so that its bytes add up. */
static int set_folded(json_t *req, const char *v)
{
	opt_folded = 1;
	if (!json_object_get(req, "limit"))
		json_object_set_new(req, "limit", json_integer(100000));
	return 0;
}

/* wait --level warn|crit */
static int set_level(json_t *req, const char *v)
{
	wait_level = mt_level_from_name(v);
	if (wait_level <= MT_LEVEL_OK)
		usage_error("wait: --level takes warn or crit");
	return 0;
}

/* wait --timeout DURATION */
static int set_timeout(json_t *req, const char *v)
{
	if (mt_parse_duration(v, &wait_timeout_ns) < 0)
		usage_error("wait: bad duration '%s'", v);
	return 0;
}

static const struct ctl_opt no_opts[] = {{NULL, NULL, NULL, NULL}};

static const struct ctl_opt threads_opts[] = {
	{"--java", NULL, "full Java thread names and states (HotSpot attach)", set_java},
	{NULL, NULL, NULL, NULL},
};

static const struct ctl_opt stacks_opts[] = {
	{"--folded", NULL, "flame graph input: frame;frame;... BYTES, root first", set_folded},
	{NULL, NULL, NULL, NULL},
};

static const struct ctl_opt events_opts[] = {
	{"--format", "text|json", "line format (default text)", set_format},
	{NULL, NULL, NULL, NULL},
};

static const struct ctl_opt peek_opts[] = {
	{"ADDR|ID", NULL, "0x... address, or event id from outstanding", set_peek_target},
	{"--hexdump", NULL, "hexdump -C layout (default)", set_hexdump},
	{"--strings", NULL, "printable strings with offsets", set_strings},
	{"--out", "FILE", "save the raw bytes to FILE", set_out},
	{NULL, NULL, NULL, NULL},
};

/* report's options, for the help: report_main() reads them itself. */
static const struct ctl_opt report_opts[] = {
	{"--html", "FILE", "write the page to FILE (- for stdout)", NULL},
	{"--from", "FILE", "draw what memtraced --report wrote, not the daemon", NULL},
	{NULL, NULL, NULL, NULL},
};

/* report --html FILE [--from FILE]: cli/report.c; its help is the table's. */
static int run_report(const struct ctl_cmd *cmd, const char *path, int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (is_help(argv[i])) {
			ctl_usage(stdout, cmd);
			return 0;
		}
	return report_main(path, argc, argv);
}

static const struct ctl_opt wait_opts[] = {
	{"--level", "warn|crit", "the level to wait for (default warn)", set_level},
	{"--timeout", "DURATION", "give up after this (default: never)", set_timeout},
	{NULL, NULL, NULL, NULL},
};

/* Every command, in the order of --help. */
const struct ctl_cmd ctl_cmds[] = {
	{"status", "status", NULL, NULL, 0, no_opts, print_status, NULL},
	{"outstanding", "outstanding", NULL, NULL, 0, no_opts, print_outstanding, NULL},
	{"threads", "threads", NULL, NULL, 0, threads_opts, print_threads, NULL},
	{"stacks", "stacks", NULL, NULL, 0, stacks_opts, print_stacks, NULL},
	{"suspects", "suspects", NULL, NULL, 0, no_opts, print_suspects, NULL},
	{"events", "events", NULL, NULL, CTL_EVENT_LINES, events_opts, print_events, NULL},
	{"alerts", "alerts", NULL, NULL, 0, no_opts, print_alerts, NULL},
	{"watch", "watch", NULL, NULL, 0, no_opts, print_watch, NULL},
	{"metrics", "metrics", NULL, NULL, 0, no_opts, print_metrics, NULL},
	{"peek", "peek", NULL, NULL, 0, peek_opts, print_peek, NULL},
	{"stop", "stop", NULL, NULL, 0, no_opts, print_stop, NULL},
	{"wait", NULL, "exit 0 when an alert of LEVEL is active or fires, 1 on timeout", "watch", 0,
	 wait_opts, NULL, cmd_wait},
	{"check", NULL, "one line, exit 0 ok, 1 warn, 2 crit, 3 unknown (Nagios)", "status", 0,
	 no_opts, NULL, cmd_check},
	{"report", NULL, "one self-contained HTML page: timeline, flame graph, tables",
	 "status, alerts, threads, stacks, suspects", 0, report_opts, NULL, run_report},
	{"top", NULL, "live view: ceiling bar, growth, top threads and allocation sites",
	 "status, threads and stacks", 0, top_opts, NULL, cmd_top},
	{NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};

/* The command called NAME, or NULL. */
static const struct ctl_cmd *ctl_find(const char *name)
{
	for (const struct ctl_cmd *c = ctl_cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* The protocol arguments CMD takes (none for a run command). */
static const struct mt_arg *proto_args(const struct ctl_cmd *cmd)
{
	static const struct mt_arg none[] = {{NULL, 0, NULL, NULL}};
	const struct mt_cmd *p = cmd->proto ? mt_cmd_find(cmd->proto) : NULL;

	return p ? p->args : none;
}

/* CMD's one-line summary. */
static const char *summary(const struct ctl_cmd *cmd)
{
	const struct mt_cmd *p = cmd->proto ? mt_cmd_find(cmd->proto) : NULL;

	return cmd->summary ? cmd->summary : p ? p->summary : "";
}

/* Whether O is an operand (a word without a dash), not an option. */
static int is_operand(const struct ctl_opt *o)
{
	return o->name[0] != '-';
}

/* Write protocol argument A as typed into BUF: "--min-size SIZE", or with VALUES "--sort size|age". */
static const char *arg_usage(const struct mt_arg *a, int values, char *buf, size_t size)
{
	static const char *const kind[] = {"N", "SIZE", "DURATION", "", "WORD"};
	size_t n =
	    (size_t)snprintf(buf, size, "--%s%s", a->name, a->kind == MT_ARG_BOOL ? "" : " ");

	for (char *p = buf; *p; p++)
		if (*p == '_')
			*p = '-';
	if (values && a->values)
		for (const char *const *w = a->values; *w && n < size; w++)
			n += (size_t)snprintf(buf + n, size - n, "%s%s", w == a->values ? "" : "|",
					      *w);
	else if (n < size)
		snprintf(buf + n, size - n, "%s", kind[a->kind]);
	return buf;
}

/* Write option O as typed into BUF: "--out FILE". */
static const char *opt_usage(const struct ctl_opt *o, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	return buf;
}

/* Print CMD's help: its operands and options, one a line (memtracectl CMD --help). */
void ctl_usage(FILE *f, const struct ctl_cmd *cmd)
{
	const struct mt_arg *args = proto_args(cmd);
	char opt[64];
	int options = args[0].name != NULL, operands = 0;

	fprintf(f, "usage: memtracectl [-s PATH] [--json] %s", cmd->name);
	for (const struct ctl_opt *o = cmd->opts; o->name; o++) {
		if (is_operand(o))
			operands = fprintf(f, " %s", o->name);
		else
			options = 1;
	}
	fprintf(f, "%s\n\n%s\n%s", options ? " [OPTIONS]" : "", summary(cmd),
		options || operands ? "\n" : "");
	for (const struct ctl_opt *o = cmd->opts; o->name; o++)
		if (is_operand(o))
			fprintf(f, "  %-24s %s\n", o->name, o->help);
	for (const struct mt_arg *a = args; a->name; a++) {
		fprintf(f, "  %-24s %s", arg_usage(a, 0, opt, sizeof(opt)), a->help);
		for (const char *const *w = a->values; w && *w; w++)
			fprintf(f, "%s%s", w == a->values ? " (" : "|", *w);
		fprintf(f, "%s\n", a->values ? ")" : "");
	}
	for (const struct ctl_opt *o = cmd->opts; o->name; o++)
		if (!is_operand(o))
			fprintf(f, "  %-24s %s\n", opt_usage(o, opt, sizeof(opt)), o->help);
	if (cmd->uses)
		fprintf(f, "\nmemtracectl's own command, built on %s.\n", cmd->uses);
}

/* Add WORD to the option list at column *COL, on a new line past 80 columns. */
static void list_word(FILE *f, int *col, const char *word)
{
	if (*col && *col + 2 + (int)strlen(word) > 80) {
		fputc('\n', f);
		*col = 0;
	}
	*col += fprintf(f, "%s%s", *col ? "  " : "      ", word);
}

/* Print CMD in the command list: name, operands, summary, then its options. */
static void cmd_brief(FILE *f, const struct ctl_cmd *cmd)
{
	char name[32], opt[64];
	int col = 0;

	snprintf(name, sizeof(name), "%s", cmd->name);
	for (const struct ctl_opt *o = cmd->opts; o->name; o++)
		if (is_operand(o))
			snprintf(name + strlen(name), sizeof(name) - strlen(name), " %s", o->name);
	fprintf(f, "  %-13s %s\n", name, summary(cmd));
	for (const struct mt_arg *a = proto_args(cmd); a->name; a++)
		list_word(f, &col, arg_usage(a, 1, opt, sizeof(opt)));
	for (const struct ctl_opt *o = cmd->opts; o->name; o++)
		if (!is_operand(o))
			list_word(f, &col, opt_usage(o, opt, sizeof(opt)));
	if (col)
		fputc('\n', f);
}

/* Print the usage: the global options, every command and the names of its options. */
static void usage(FILE *f)
{
	fprintf(f, "usage: memtracectl [-s PATH] [--json] COMMAND [OPTIONS]\n"
		   "       memtracectl COMMAND --help\n\n"
		   "Query a running memtraced.\n\n"
		   "  -s, --socket PATH  daemon socket (default $MEMTRACE_SOCKET, else memtraced's)\n"
		   "  -j, --json         print the daemon's JSON answers\n"
		   "  -h, --help         show this help; after a command, that command's options\n"
		   "  -V, --version      show the version\n\n"
		   "Commands:\n");
	for (const struct ctl_cmd *c = ctl_cmds; c->name; c++)
		cmd_brief(f, c);
}

/* Read protocol argument A of CMD from the word V (typed as OPT) into REQ. */
static void parse_proto_arg(const struct ctl_cmd *cmd, const struct mt_arg *a, const char *opt,
			    const char *v, json_t *req)
{
	switch (a->kind) {
	case MT_ARG_COUNT: {
		char *end;
		unsigned long long n;

		/* An "id" is an event id: peek's, the one it reads the mapping of. */
		if (!strcmp(a->name, "id")) {
			json_object_set_new(req, a->name, arg_event_id(cmd->name, opt, v));
			break;
		}
		errno = 0;
		n = strtoull(v, &end, 10);
		if (errno || end == v || *end || *v == '-' || n > INT64_MAX)
			usage_error("%s: bad number '%s' for %s", cmd->name, v, opt);
		json_object_set_new(req, a->name, json_integer((json_int_t)n));
		break;
	}
	case MT_ARG_SIZE: {
		uint64_t n;

		if (mt_parse_size(v, &n) < 0 || n > INT64_MAX)
			usage_error("%s: bad size '%s' for %s", cmd->name, v, opt);
		json_object_set_new(req, a->name, json_integer((json_int_t)n));
		break;
	}
	case MT_ARG_SECONDS: {
		int64_t ns;

		if (mt_parse_duration(v, &ns) < 0)
			usage_error("%s: bad duration '%s' for %s", cmd->name, v, opt);
		json_object_set_new(req, a->name, json_real((double)ns / 1e9));
		break;
	}
	case MT_ARG_BOOL:
		json_object_set_new(req, a->name, json_true());
		break;
	default:
		json_object_set_new(req, a->name, arg_string(cmd->name, opt, v));
	}
}

/*
 * Turn CMD's words into REQ's arguments ("--min-size 16M" style) and its
 * own options; --json anywhere, --help prints CMD's help and exits.
 */
void ctl_parse(const struct ctl_cmd *cmd, int argc, char **argv, json_t *req)
{
	json_t *scratch = req ? NULL : json_object();

	if (!req)
		req = scratch;
	for (int i = 0; i < argc; i++) {
		const struct mt_arg *a;
		const struct ctl_opt *o;
		char name[64];

		if (is_help(argv[i])) {
			ctl_usage(stdout, cmd);
			exit(0);
		}
		if (strncmp(argv[i], "--", 2)) {
			for (o = cmd->opts; o->name && !(is_operand(o) && o->set(req, argv[i]) == 0); o++)
				;
			if (!o->name)
				usage_error("%s: unexpected '%s'", cmd->name, argv[i]);
			continue;
		}
		if (!strcmp(argv[i], "--json")) {
			opt_json = 1;
			continue;
		}
		for (o = cmd->opts; o->name && strcmp(o->name, argv[i]); o++)
			;
		if (o->name) {
			if (o->arg && ++i >= argc)
				usage_error("%s: %s needs a value", cmd->name, argv[i - 1]);
			o->set(req, o->arg ? argv[i] : NULL);
			continue;
		}
		snprintf(name, sizeof(name), "%s", argv[i] + 2);
		for (char *p = name; *p; p++)
			if (*p == '-')
				*p = '_';
		for (a = proto_args(cmd); a->name && strcmp(a->name, name); a++)
			;
		if (!a->name)
			usage_error("%s: unknown option '%s'", cmd->name, argv[i]);
		if (a->kind != MT_ARG_BOOL && ++i >= argc)
			usage_error("%s: %s needs a value", cmd->name, argv[i - 1]);
		parse_proto_arg(cmd, a, a->kind == MT_ARG_BOOL ? argv[i] : argv[i - 1],
				a->kind == MT_ARG_BOOL ? NULL : argv[i], req);
	}
	json_decref(scratch);
}

/* Print the stream that follows the first answer on R (events --follow, watch). */
static void follow_stream(struct reader *r)
{
	json_t *a;

	fflush(stdout);
	while ((a = read_answer(r))) {
		json_t *ev = json_object_get(a, "event"), *al = json_object_get(a, "alert");

		if (al && opt_json)
			json_dumpf(al, stdout, JSON_COMPACT), putchar('\n');
		else if (al)
			print_alert(al);
		if (ev && opt_json)
			json_dumpf(ev, stdout, JSON_COMPACT), putchar('\n');
		else if (ev)
			print_event(ev);
		else if (json_object_get(a, "dropped"))
			fprintf(stderr, "memtracectl: %llu events dropped (reading too slowly)\n",
				(unsigned long long)jint(a, "dropped"));
		json_decref(a);
		fflush(stdout);
	}
}

/* Send CMD's protocol request built from ARGC/ARGV to PATH and print the answer. */
static int run_proto(const struct ctl_cmd *cmd, const char *path, int argc, char **argv)
{
	const struct mt_cmd *p = mt_cmd_find(cmd->proto);
	json_t *req = json_pack("{s:s}", "cmd", cmd->proto), *a;
	struct reader r;
	int rc = 0;

	ctl_parse(cmd, argc, argv, req);
	r = request(path, req, &a);
	if (!json_is_true(json_object_get(a, "ok"))) {
		if (opt_json) {
			json_dumpf(a, stdout, JSON_COMPACT);
			putchar('\n');
		}
		fprintf(stderr, "memtracectl: %s (%s)\n", jstr(a, "error.message"),
			jstr(a, "error.code"));
		rc = error_status(a);
	} else {
		if (opt_java)
			join_java(a, target_pid(path));
		print_answer(cmd, a);
	}
	json_decref(a);
	if (!rc && (json_is_true(json_object_get(req, "follow")) || (p && (p->flags & MT_CMD_WATCH))))
		follow_stream(&r);
	json_decref(req);
	reader_close(&r);
	return rc;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	const struct ctl_cmd *cmd;
	char path[108];
	int i;

	/* A daemon that refuses us closes early: read its answer, do not die writing. */
	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (is_help(argv[i])) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("memtracectl %s\n", MT_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			opt_json = 1;
		} else if (!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) {
			if (++i >= argc)
				usage_error("%s needs a path", argv[i - 1]);
			sock = argv[i];
		} else {
			usage_error("unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc)
		usage_error("no command given");
	socket_path(sock, path, sizeof(path));
	if (!(cmd = ctl_find(argv[i])))
		usage_error("unknown command '%s'", argv[i]);
	return (cmd->run ? cmd->run : run_proto)(cmd, path, argc - i - 1, argv + i + 1);
}
