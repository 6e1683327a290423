/*
 * memtracectl.c - ask a running memtraced questions over its socket.
 *
 * Subcommands and their options come from libtrace's protocol table
 * (mt_cmds): "--min-size 16M" becomes {"min_size":16777216}.  Answers are
 * printed as aligned tables, or as the daemon's JSON with --json.
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

#include "libtrace.h"
#include "report.h"

#define EXIT_ERROR    1
#define EXIT_USAGE    2
#define EXIT_NODAEMON 3

static int opt_json;
static const char *opt_format = "text";
static int opt_java;			 /* threads --java */
static const char *opt_peek_out;	 /* peek --out FILE */
static int opt_peek_strings;		 /* peek --strings */
static int opt_folded;			 /* stacks --folded */

/*
 * Options and commands memtracectl handles itself, beside the protocol
 * table's.  A cli_opts entry whose opt does not start with '-' is an
 * operand.  wait is built on watch, check on status.
 */
static const struct {
	const char *cmd, *opt, *help;
} cli_opts[] = {
	{"threads", "--java", "full Java thread names and states (HotSpot attach)"},
	{"events", "--format text|json", "line format (default text)"},
	{"peek", "ADDR|ID", "0x... address, or event id from outstanding"},
	{"peek", "--hexdump", "hexdump -C layout (default)"},
	{"peek", "--strings", "printable strings with offsets"},
	{"peek", "--out FILE", "save the raw bytes to FILE"},
	{"stacks", "--folded", "flame graph input: frame;frame;... BYTES, root first"},
	{"report", "--html FILE", "write the page to FILE (- for stdout)"},
	{"report", "--from FILE", "draw what memtraced --report wrote, not the daemon"},
	{"wait", "--level warn|crit", "the level to wait for (default warn)"},
	{"wait", "--timeout DURATION", "give up after this (default: never)"},
	{NULL, NULL, NULL},
};

static const struct mt_arg cli_no_args[] = {{NULL, 0, NULL, NULL}};

static const struct mt_cmd cli_cmds[] = {
	{"wait", "exit 0 when an alert of LEVEL is active or fires, 1 on timeout", 0, cli_no_args,
	 NULL},
	{"check", "one line, exit 0 ok, 1 warn, 2 crit, 3 unknown (Nagios)", 0, cli_no_args, NULL},
	{"report", "one self-contained HTML page: timeline, flame graph, tables", 0,
	 cli_no_args, NULL},
	{NULL, NULL, 0, NULL, NULL},
};

/* memtracectl's own command NAME (wait or check). */
static const struct mt_cmd *cli_cmd_find(const char *name)
{
	const struct mt_cmd *c = cli_cmds;

	while (c->name && strcmp(c->name, name))
		c++;
	return c;
}

/* Whether ARG asks for help. */
static int is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

/* Write option A as typed into BUF: "--min-size SIZE", or with VALUES "--sort size|age". */
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

/* Print CMD's help: its operands and options, one a line (memtracectl CMD --help). */
static void cmd_usage(FILE *f, const struct mt_cmd *c)
{
	char opt[64];
	int options = c->args[0].name != NULL, operands = 0;

	fprintf(f, "usage: memtracectl [-s PATH] [--json] %s", c->name);
	for (size_t i = 0; cli_opts[i].cmd; i++) {
		if (strcmp(cli_opts[i].cmd, c->name))
			continue;
		if (cli_opts[i].opt[0] != '-')
			operands = fprintf(f, " %s", cli_opts[i].opt);
		else
			options = 1;
	}
	fprintf(f, "%s\n\n%s\n%s", options ? " [OPTIONS]" : "", c->summary,
		options || operands ? "\n" : "");
	for (size_t i = 0; cli_opts[i].cmd; i++)
		if (!strcmp(cli_opts[i].cmd, c->name) && cli_opts[i].opt[0] != '-')
			fprintf(f, "  %-24s %s\n", cli_opts[i].opt, cli_opts[i].help);
	for (const struct mt_arg *a = c->args; a->name; a++) {
		fprintf(f, "  %-24s %s", arg_usage(a, 0, opt, sizeof(opt)), a->help);
		for (const char *const *w = a->values; w && *w; w++)
			fprintf(f, "%s%s", w == a->values ? " (" : "|", *w);
		fprintf(f, "%s\n", a->values ? ")" : "");
	}
	for (size_t i = 0; cli_opts[i].cmd; i++)
		if (!strcmp(cli_opts[i].cmd, c->name) && cli_opts[i].opt[0] == '-')
			fprintf(f, "  %-24s %s\n", cli_opts[i].opt, cli_opts[i].help);
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
static void cmd_brief(FILE *f, const struct mt_cmd *c)
{
	char name[32], opt[64];
	int col = 0;

	snprintf(name, sizeof(name), "%s", c->name);
	for (size_t i = 0; cli_opts[i].cmd; i++)
		if (!strcmp(cli_opts[i].cmd, c->name) && cli_opts[i].opt[0] != '-')
			snprintf(name + strlen(name), sizeof(name) - strlen(name), " %s",
				 cli_opts[i].opt);
	fprintf(f, "  %-13s %s\n", name, c->summary);
	for (const struct mt_arg *a = c->args; a->name; a++)
		list_word(f, &col, arg_usage(a, 1, opt, sizeof(opt)));
	for (size_t i = 0; cli_opts[i].cmd; i++)
		if (!strcmp(cli_opts[i].cmd, c->name) && cli_opts[i].opt[0] == '-')
			list_word(f, &col, cli_opts[i].opt);
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
	for (const struct mt_cmd *c = mt_cmds; c->name; c++)
		cmd_brief(f, c);
	for (const struct mt_cmd *c = cli_cmds; c->name; c++)
		cmd_brief(f, c);
}

/* Print a usage error and exit 2. */
static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

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

/* Turn "--min-size 16M" style words into REQ's arguments for CMD. */
static void parse_args(const struct mt_cmd *cmd, int argc, char **argv, json_t *req)
{
	for (int i = 0; i < argc; i++) {
		const struct mt_arg *a;
		char name[64];
		const char *v;

		if (is_help(argv[i])) {
			cmd_usage(stdout, cmd);
			exit(0);
		}
		if (strncmp(argv[i], "--", 2) && !strcmp(cmd->name, "peek") &&
		    !json_object_get(req, "address") && !json_object_get(req, "id")) {
			/* peek ADDR|ID: 0x... or 0X... is an address, anything else an event id. */
			if (!strncmp(argv[i], "0x", 2) || !strncmp(argv[i], "0X", 2))
				json_object_set_new(req, "address",
						    arg_string("peek", "ADDR", argv[i]));
			else
				json_object_set_new(req, "id", arg_event_id("peek", NULL, argv[i]));
			continue;
		}
		if (strncmp(argv[i], "--", 2))
			usage_error("%s: unexpected '%s'", cmd->name, argv[i]);
		snprintf(name, sizeof(name), "%s", argv[i] + 2);
		if (!strcmp(cmd->name, "events") && !strcmp(name, "format")) {
			if (++i >= argc || (strcmp(argv[i], "text") && strcmp(argv[i], "json")))
				usage_error("events: --format takes text or json");
			opt_format = argv[i];
			continue;
		}
		if (!strcmp(name, "json")) {
			opt_json = 1;
			continue;
		}
		if (!strcmp(cmd->name, "threads") && !strcmp(name, "java")) {
			opt_java = 1;
			continue;
		}
		if (!strcmp(cmd->name, "peek") && !strcmp(name, "hexdump")) {
			opt_peek_strings = 0;
			continue;
		}
		if (!strcmp(cmd->name, "peek") && !strcmp(name, "strings")) {
			opt_peek_strings = 1;
			continue;
		}
		if (!strcmp(cmd->name, "stacks") && !strcmp(name, "folded")) {
			opt_folded = 1;
			continue;
		}
		if (!strcmp(cmd->name, "peek") && !strcmp(name, "out")) {
			if (++i >= argc)
				usage_error("peek: --out needs a file");
			opt_peek_out = argv[i];
			continue;
		}
		for (char *p = name; *p; p++)
			if (*p == '-')
				*p = '_';
		for (a = cmd->args; a->name && strcmp(a->name, name); a++)
			;
		if (!a->name)
			usage_error("%s: unknown option '%s'", cmd->name, argv[i]);
		if (a->kind == MT_ARG_BOOL) {
			json_object_set_new(req, a->name, json_true());
			continue;
		}
		if (++i >= argc)
			usage_error("%s: %s needs a value", cmd->name, argv[i - 1]);
		v = argv[i];
		switch (a->kind) {
		case MT_ARG_COUNT: {
			char *end;
			unsigned long long n;

			if (!strcmp(cmd->name, "peek") && !strcmp(a->name, "id")) {
				json_object_set_new(req, a->name,
						    arg_event_id(cmd->name, argv[i - 1], v));
				break;
			}
			errno = 0;
			n = strtoull(v, &end, 10);
			if (errno || end == v || *end || *v == '-' || n > INT64_MAX)
				usage_error("%s: bad number '%s' for %s", cmd->name, v, argv[i - 1]);
			json_object_set_new(req, a->name, json_integer((json_int_t)n));
			break;
		}
		case MT_ARG_SIZE: {
			uint64_t n;

			if (mt_parse_size(v, &n) < 0 || n > INT64_MAX)
				usage_error("%s: bad size '%s' for %s", cmd->name, v, argv[i - 1]);
			json_object_set_new(req, a->name, json_integer((json_int_t)n));
			break;
		}
		case MT_ARG_SECONDS: {
			int64_t ns;

			if (mt_parse_duration(v, &ns) < 0)
				usage_error("%s: bad duration '%s' for %s", cmd->name, v, argv[i - 1]);
			json_object_set_new(req, a->name, json_real((double)ns / 1e9));
			break;
		}
		default:
			json_object_set_new(req, a->name, arg_string(cmd->name, argv[i - 1], v));
		}
	}
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

/* A buffered line reader over the socket. */
struct reader {
	int fd;
	char *buf;
	size_t len, cap;
};

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
static json_t *jget(json_t *o, const char *path)
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
static uint64_t jint(json_t *o, const char *path)
{
	return (uint64_t)json_integer_value(jget(o, path));
}

/* A string at PATH, "" when absent. */
static const char *jstr(json_t *o, const char *path)
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
static const char *jsize(json_t *o, const char *path, int slot)
{
	static char bufs[8][16];

	return mt_format_size(jint(o, path), bufs[slot & 7], sizeof(bufs[0]));
}

/* A human rate of the bytes per second at PATH: "+16.0M/s" (a static buffer per slot). */
static const char *jrate(json_t *o, const char *path, int slot)
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

/* Print ANSWER for COMMAND in the chosen format. */
static void print_answer(const char *cmd, json_t *a)
{
	if (opt_json && !strcmp(cmd, "events")) {
		/* One event object a line, as --follow streams them. */
		opt_format = "json";
		print_events(a);
	} else if (opt_json) {
		json_dumpf(a, stdout, JSON_COMPACT);
		putchar('\n');
	} else if (!strcmp(cmd, "status")) {
		print_status(a);
	} else if (!strcmp(cmd, "outstanding")) {
		print_outstanding(a);
	} else if (!strcmp(cmd, "threads")) {
		print_threads(a);
	} else if (!strcmp(cmd, "events")) {
		print_events(a);
	} else if (!strcmp(cmd, "peek")) {
		print_peek(a);
	} else if (!strcmp(cmd, "stacks")) {
		print_stacks(a);
	} else if (!strcmp(cmd, "suspects")) {
		print_suspects(a);
	} else if (!strcmp(cmd, "alerts")) {
		print_alerts(a);
	} else if (!strcmp(cmd, "watch")) {
		printf("level now: %s\n", jstr(a, "level"));
	} else if (!strcmp(cmd, "metrics")) {
		fputs(jstr(a, "text"), stdout);
	} else if (!strcmp(cmd, "stop")) {
		printf("memtraced is stopping\n");
	}
}

static struct reader request(const char *path, json_t *req, json_t **answer);

/* The target's pid, from a status request. */
static pid_t target_pid(const char *path)
{
	json_t *req = json_pack("{s:s}", "cmd", "status"), *a;
	struct reader r = request(path, req, &a);
	pid_t pid = (pid_t)jint(a, "target.pid");

	close(r.fd);
	free(r.buf);
	json_decref(a);
	json_decref(req);
	return pid;
}

/* Send REQ on a new connection to PATH; returns the reader, first answer in *ANSWER. */
static struct reader request(const char *path, json_t *req, json_t **answer)
{
	struct reader r = {0};
	char *text = json_dumps(req, JSON_COMPACT);
	int send_errno = 0;

	r.fd = connect_daemon(path);
	if (!text)
		exit(EXIT_ERROR);
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
static int cmd_wait(const char *path, int argc, char **argv)
{
	int level = MT_LEVEL_WARN, rc = 1;
	int64_t timeout_ns = -1, deadline = 0;
	json_t *req = json_pack("{s:s}", "cmd", "watch"), *a;
	struct reader r;

	for (int i = 0; i < argc; i++) {
		int valued = !strcmp(argv[i], "--level") || !strcmp(argv[i], "--timeout");

		if (valued && i + 1 >= argc)
			usage_error("wait: %s needs a value", argv[i]);
		if (is_help(argv[i])) {
			cmd_usage(stdout, cli_cmd_find("wait"));
			exit(0);
		} else if (!strcmp(argv[i], "--level")) {
			level = mt_level_from_name(argv[++i]);
			if (level <= MT_LEVEL_OK)
				usage_error("wait: --level takes warn or crit");
		} else if (!strcmp(argv[i], "--timeout")) {
			if (mt_parse_duration(argv[++i], &timeout_ns) < 0)
				usage_error("wait: bad duration '%s'", argv[i]);
		} else if (!strcmp(argv[i], "--json")) {
			opt_json = 1;
		} else {
			usage_error("wait: unknown option '%s'", argv[i]);
		}
	}
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
static int cmd_check(const char *path, int argc, char **argv)
{
	static const char *const word[] = {"OK", "WARNING", "CRITICAL"};
	json_t *req = json_pack("{s:s}", "cmd", "status"), *a;
	char why[160] = "", eta[48] = "";
	struct reader r;
	int level;

	if (argc == 1 && is_help(argv[0])) {
		cmd_usage(stdout, cli_cmd_find("check"));
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
	r = request(path, req, &a);
	close(r.fd);
	free(r.buf);
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

int main(int argc, char **argv)
{
	const char *sock = NULL;
	const struct mt_cmd *cmd;
	struct reader r = {0};
	char path[108], *text;
	json_t *req, *a;
	int i, rc = 0, send_errno;

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
	if (!strcmp(argv[i], "wait"))
		return cmd_wait(path, argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "check"))
		return cmd_check(path, argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "report"))
		return report_main(path, argc - i - 1, argv + i + 1);
	if (!(cmd = mt_cmd_find(argv[i])))
		usage_error("unknown command '%s'", argv[i]);
	req = json_pack("{s:s}", "cmd", cmd->name);
	parse_args(cmd, argc - i - 1, argv + i + 1, req);
	/* A flame graph wants every stack, so that its bytes add up. */
	if (opt_folded && !json_object_get(req, "limit"))
		json_object_set_new(req, "limit", json_integer(100000));
	r.fd = connect_daemon(path);
	text = json_dumps(req, JSON_COMPACT);
	if (!text)
		return EXIT_ERROR;
	/* A failed send may still leave the daemon's refusal to read. */
	send_errno = dprintf(r.fd, "%s\n", text) < 0 ? errno : 0;
	free(text);
	a = read_answer(&r);
	if (!a && send_errno) {
		fprintf(stderr, "memtracectl: cannot send to %s: %s\n", path, strerror(send_errno));
		return EXIT_NODAEMON;
	}
	if (!a) {
		fprintf(stderr, "memtracectl: %s closed the connection without answering\n", path);
		return EXIT_NODAEMON;
	}
	if (!json_is_true(json_object_get(a, "ok"))) {
		if (opt_json) {
			json_dumpf(a, stdout, JSON_COMPACT);
			putchar('\n');
		}
		fprintf(stderr, "memtracectl: %s (%s)\n", jstr(a, "error.message"),
			jstr(a, "error.code"));
		rc = error_status(a);
	} else {
		if (opt_java && !strcmp(cmd->name, "threads"))
			join_java(a, target_pid(path));
		print_answer(cmd->name, a);
	}
	json_decref(a);
	if (!rc && (json_is_true(json_object_get(req, "follow")) || (cmd->flags & MT_CMD_WATCH))) {
		fflush(stdout);
		while ((a = read_answer(&r))) {
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
	json_decref(req);
	free(r.buf);
	close(r.fd);
	return rc;
}
