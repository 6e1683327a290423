/*
 * options.c - memtraced's command line, from one table.
 *
 * Each row is a long option: its argument type, where the value goes and
 * its help line.  getopt_long's array, --help and the man page's OPTIONS
 * list all follow this table.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"

enum opt_type {
	OPT_FLAG,
	OPT_SIZE,
	OPT_COUNT,
	OPT_DURATION,
	OPT_PERCENT,
	OPT_STRING,
	OPT_COMMAND, /* a string split into words, as argv */
	OPT_CONFIG,
	OPT_HELP,
	OPT_VERSION
};

struct opt {
	const char *name;
	int short_name;
	enum opt_type type;
	size_t off; /* into struct options */
	const char *arg;
	const char *help;
};

#define OFF(f) offsetof(struct options, f)

/*
 * The longest duration, for all of them alike: --kill-timeout and
 * --alert-timeout feed timers that count in int milliseconds
 * (mt_session_stop, alertexec_run), which 24 days fit and 25 do not.
 */
#define DURATION_MAX_NS (24 * 86400 * 1000000000LL)

static const struct opt opts[] = {
	{"config", 'c', OPT_CONFIG, 0, "FILE", "read options from FILE (see memtraced.conf(5))"},
	{"pid", 'p', OPT_COUNT, OFF(pid), "PID", "attach to the running process PID"},
	{"pid-file", 0, OPT_STRING, OFF(pid_file), "FILE", "attach to the PID written in FILE"},
	{"attach-mode", 0, OPT_STRING, OFF(attach_mode), "MODE",
	 "attached: filter (default) or syscall stops"},
	{"command", 0, OPT_COMMAND, OFF(command), "CMDLINE",
	 "PROGRAM and ARGS as one string (config files)"},
	{"socket", 's', OPT_STRING, OFF(socket), "PATH", "control socket (default: see FILES)"},
	{"socket-group", 0, OPT_STRING, OFF(socket_group), "GROUP",
	 "let GROUP's members use the socket (mode 0660)"},
	{"no-socket", 0, OPT_FLAG, OFF(no_socket), NULL, "do not open a control socket"},
	{"chunk-size", 0, OPT_SIZE, OFF(cfg.chunk_size), "SIZE", "chunk size (default 16M)"},
	{"chunk-slack", 0, OPT_SIZE, OFF(cfg.chunk_slack), "SIZE",
	 "allocator overhead above a chunk (default 8K)"},
	{"ceiling", 0, OPT_SIZE, OFF(cfg.ceiling), "SIZE", "direct-memory ceiling"},
	{"min-size", 0, OPT_SIZE, OFF(cfg.min_size), "SIZE",
	 "shorter mmaps run without a stop (launch mode)"},
	{"ring-events", 0, OPT_COUNT, OFF(ring_events), "N", "event ring size (default 1048576)"},
	{"warn", 0, OPT_PERCENT, OFF(cfg.warn_percent), "PERCENT",
	 "warn and crit levels, % of the ceiling (80, 95)"},
	{"crit", 0, OPT_PERCENT, OFF(cfg.crit_percent), "PERCENT", NULL},
	{"clear-margin", 0, OPT_PERCENT, OFF(cfg.clear_margin), "PERCENT",
	 "points below a level to clear it (default 5)"},
	{"eta-warn", 0, OPT_DURATION, OFF(eta_warn_ns), "DURATION",
	 "trend levels, time to ceiling (12h, 10m)"},
	{"eta-crit", 0, OPT_DURATION, OFF(eta_crit_ns), "DURATION", NULL},
	{"count", 0, OPT_STRING, OFF(count), "chunk|large",
	 "weigh chunks (default) or large mappings too"},
	{"window", 0, OPT_DURATION, OFF(window_ns), "DURATION",
	 "growth-rate window (default 60s)"},
	{"alert-exec", 0, OPT_STRING, OFF(alert_exec), "CMD",
	 "sh -c CMD on each alert (stdin, MEMTRACE_*)"},
	{"alert-timeout", 0, OPT_DURATION, OFF(alert_timeout_ns), "DURATION",
	 "kill an alert command after this (default 10s)"},
	{"metrics-file", 0, OPT_STRING, OFF(metrics_file), "PATH",
	 "rewrite PATH with Prometheus metrics every 5 s"},
	{"name", 0, OPT_STRING, OFF(name), "NAME",
	 "metrics' target label (default: the program)"},
	{"no-pin-threshold", 0, OPT_FLAG, OFF(no_pin_threshold), NULL,
	 "do not pin the target's MALLOC_MMAP_THRESHOLD_"},
	{"no-java-names", 0, OPT_FLAG, OFF(no_java_names), NULL,
	 "no thread names / perf map from the JVM"},
	{"no-perf-map", 0, OPT_FLAG, OFF(no_perf_map), NULL, NULL},
	{"kill-timeout", 0, OPT_DURATION, OFF(kill_timeout_ns), "DURATION",
	 "SIGTERM-to-SIGKILL grace on stop (default 5s)"},
	{"cpu", 0, OPT_STRING, OFF(cpu), "N", "run target and tracer on CPU N (launch mode)"},
	{"stacks", 0, OPT_STRING, OFF(stacks), "WHICH",
	 "stacks: default chunk (none|chunk|large|all)"},
	{"stack-depth", 0, OPT_COUNT, OFF(stack_depth), "N", "frames per stack (default 32, at most 64)"},
	{"allow-peek", 0, OPT_FLAG, OFF(cfg.allow_peek), NULL,
	 "let root read target memory (memtracectl peek)"},
	{"linger", 0, OPT_FLAG, OFF(linger), NULL, "keep answering after the target exits"},
	{"report", 0, OPT_STRING, OFF(report), "FILE", "write the final state as JSON to FILE"},
	{"summary", 0, OPT_FLAG, OFF(summary), NULL, "summary to stderr at exit (--json: as JSON)"},
	{"json", 0, OPT_FLAG, OFF(json), NULL, NULL},
	{"verbose", 'v', OPT_FLAG, OFF(verbose), NULL, "log debug messages"},
	{"help", 'h', OPT_HELP, 0, NULL, "show this help, or the version"},
	{"version", 'V', OPT_VERSION, 0, NULL, NULL},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/*
 * Where each option's value came from, for the checks across options made
 * after parsing: a file and line, or the command line (file NULL).  seq
 * orders the settings, a later one higher; 0 means the option was not given.
 */
struct origins {
	struct {
		const char *file;
		int line;
		unsigned seq;
	} of[NOPTS];
	unsigned seq;
};

/*
 * A bad value or line: the exit status it calls for and the message, for
 * the caller to report (options_parse() exits with them).
 */
struct opt_err {
	int code;
	char msg[4400];
};

/* Fill E with CODE and the message; returns -1. */
static int __attribute__((format(printf, 3, 4)))
opt_fail(struct opt_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Print the usage and every option. */
static void usage(FILE *f)
{
	fprintf(f, "usage: memtraced [options] -- PROGRAM [ARGS...]\n"
		   "       memtraced [options] --pid PID\n\n"
		   "Trace the memory syscalls of PROGRAM (or of the running process PID) and\n"
		   "answer questions about them on a UNIX socket (see memtracectl(1)).\n\n");
	/* An option with no help of its own shares the line of the one before. */
	for (size_t i = 0; i < NOPTS; i++) {
		char left[64];
		size_t n = 0;
		const char *arg = NULL;

		if (!opts[i].help)
			continue;
		for (size_t k = i; k < NOPTS && (k == i || !opts[k].help); k++) {
			if (opts[k].short_name)
				n += (size_t)snprintf(left + n, sizeof(left) - n, "%s-%c, --%s",
						      k == i ? "" : ", ", opts[k].short_name,
						      opts[k].name);
			else
				n += (size_t)snprintf(left + n, sizeof(left) - n, "%s--%s",
						      k == i ? "    " : ", ", opts[k].name);
			arg = opts[k].arg;
			if (n >= sizeof(left))
				break;
		}
		if (arg && n < sizeof(left))
			snprintf(left + n, sizeof(left) - n, " %s", arg);
		/* Two blanks at least set the help off (the completion reads this). */
		fprintf(f, "  %-30s%s%s\n", left, strlen(left) < 30 ? " " : "  ", opts[i].help);
	}
}

/*
 * Split CMD at blanks into a NULL-terminated argv, one allocation that holds
 * the words after the pointers; "..." and '...' group words.  An open quote
 * or no word at all is an error in E, naming WHERE, and NULL.
 */
static char **command_split(const char *cmd, const char *where, struct opt_err *e)
{
	size_t n = 0, len = strlen(cmd), slots = len / 2 + 2;
	char **argv = malloc(slots * sizeof(char *) + len + 1);
	char *w;

	if (!argv) {
		opt_fail(e, EXIT_SETUP, "out of memory");
		return NULL;
	}
	w = (char *)(argv + slots);
	while (*cmd) {
		char q = 0;

		cmd += strspn(cmd, " \t");
		if (!*cmd)
			break;
		argv[n++] = w;
		for (; *cmd && (q || (*cmd != ' ' && *cmd != '\t')); cmd++) {
			if (!q && (*cmd == '"' || *cmd == '\''))
				q = *cmd;
			else if (q && *cmd == q)
				q = 0;
			else
				*w++ = *cmd;
		}
		if (q) {
			free(argv);
			opt_fail(e, EXIT_USAGE, "%s: unterminated %c quote", where, q);
			return NULL;
		}
		*w++ = '\0';
	}
	argv[n] = NULL;
	if (!n) {
		free(argv);
		opt_fail(e, EXIT_USAGE, "%s: no program in it", where);
		return NULL;
	}
	return argv;
}

/* The CPU number in S, or -1 if S is not one. */
static int cpu_number(const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < 0 || n >= CPU_SETSIZE)
		return -1;
	return (int)n;
}

/*
 * Check what some options need beyond their type, as soon as P's value is
 * stored in O, so that an error (in E, and -1) names the WHERE the value
 * came from.
 */
static int opt_check(const struct options *o, const struct opt *p, const char *where,
		     struct opt_err *e)
{
	const char *name = p->name;

	if (!strcmp(name, "stacks") && mt_stacks_from_name(o->stacks) < 0)
		return opt_fail(e, EXIT_USAGE, "%s: use none, chunk, large or all, not '%s'", where,
				o->stacks);
	if (!strcmp(name, "attach-mode") && strcmp(o->attach_mode, "syscall") &&
	    strcmp(o->attach_mode, "filter"))
		return opt_fail(e, EXIT_USAGE, "%s: use syscall or filter, not '%s'", where,
				o->attach_mode);
	if (!strcmp(name, "count") && strcmp(o->count, "chunk") && strcmp(o->count, "large"))
		return opt_fail(e, EXIT_USAGE, "%s: use chunk or large, not '%s'", where, o->count);
	if (!strcmp(name, "stack-depth") && o->stack_depth > MT_STACK_MAX)
		return opt_fail(e, EXIT_USAGE, "%s: at most %d", where, MT_STACK_MAX);
	/* 96 bytes an event: 2^27 events reserve 12 GiB, touched only as used. */
	if (!strcmp(name, "ring-events") && o->ring_events > (1ull << 27))
		return opt_fail(e, EXIT_USAGE, "%s: at most %llu", where, 1ull << 27);
	if (!strcmp(name, "window") && o->window_ns < 1000000000LL)
		return opt_fail(e, EXIT_USAGE, "%s: at least 1s", where);
	if (!strcmp(name, "cpu") && cpu_number(o->cpu) < 0)
		return opt_fail(e, EXIT_USAGE, "%s: bad CPU number '%s'", where, o->cpu);
	/* A label value: short, printable, one per target (not a PID or a time). */
	if (!strcmp(name, "name")) {
		size_t n = strlen(o->name);

		if (n == 0 || n >= sizeof(o->cfg.name))
			return opt_fail(e, EXIT_USAGE, "%s: 1 to %zu characters, not %zu", where,
					sizeof(o->cfg.name) - 1, n);
		for (const char *c = o->name; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return opt_fail(e, EXIT_USAGE, "%s: control characters in '%s'", where,
						o->name);
	}
	/* control_start() looks the group up again, later and far from the file. */
	if (!strcmp(name, "socket-group") && !getgrnam(o->socket_group))
		return opt_fail(e, EXIT_USAGE, "%s: no group named '%s'", where, o->socket_group);
	return 0;
}

/* Store VALUE for option P into O; a bad value is an error in E, naming WHERE, and -1. */
static int opt_set(struct options *o, const struct opt *p, const char *value, const char *where,
		   struct opt_err *e)
{
	char *field = (char *)o + p->off;
	uint64_t u;
	int64_t d;
	char *end;

	switch (p->type) {
	case OPT_FLAG:
		if (!value || !strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
			*(int *)field = 1;
		else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
			*(int *)field = 0;
		else
			return opt_fail(e, EXIT_USAGE, "%s: use yes or no, not '%s'", where, value);
		break;
	case OPT_SIZE:
		if (mt_parse_size(value, &u) < 0)
			return opt_fail(e, EXIT_USAGE,
					"%s: bad size '%s' (use a number with K, M or G)", where,
					value);
		/* 0 would mean "work it out", which is what leaving the option out does. */
		if (u == 0 && (!strcmp(p->name, "chunk-size") || !strcmp(p->name, "ceiling")))
			return opt_fail(e, EXIT_USAGE, "%s: must be more than 0", where);
		/* Sizes travel as JSON integers, which are signed 64-bit. */
		if (u > INT64_MAX)
			return opt_fail(e, EXIT_USAGE,
					"%s: size '%s' is too large (at most %" PRId64 " bytes)",
					where, value, INT64_MAX);
		*(uint64_t *)field = u;
		break;
	case OPT_COUNT: {
		int is_pid = !strcmp(p->name, "pid");

		errno = 0;
		u = strtoull(value, &end, 10);
		if (errno || end == value || *end || *value == '-' || u == 0 ||
		    (is_pid && u > INT32_MAX))
			return opt_fail(e, EXIT_USAGE, "%s: bad %s '%s'", where,
					is_pid ? "PID" : "count", value);
		*(uint64_t *)field = u;
		break;
	}
	case OPT_DURATION:
		if (mt_parse_duration(value, &d) < 0)
			return opt_fail(e, EXIT_USAGE,
					"%s: bad duration '%s' (use e.g. 500ms, 10s, 5m)", where,
					value);
		if (d > DURATION_MAX_NS)
			return opt_fail(e, EXIT_USAGE,
					"%s: duration '%s' is too long (at most 24d)", where,
					value);
		*(int64_t *)field = d;
		break;
	case OPT_PERCENT: {
		double v = strtod(value, &end);

		if (end == value || *end || !(v > 0 && v <= 1000))
			return opt_fail(e, EXIT_USAGE, "%s: bad percentage '%s'", where, value);
		*(double *)field = v;
		break;
	}
	case OPT_STRING:
		/* An empty sun_path would be an abstract socket: not what anyone meant. */
		if (!*value && !strcmp(p->name, "socket"))
			return opt_fail(e, EXIT_USAGE,
					"%s: empty path (use --no-socket for no socket)", where);
		/* A repeated option takes its last value. */
		free(*(char **)field);
		if (!(*(char **)field = strdup(value)))
			return opt_fail(e, EXIT_SETUP, "out of memory");
		break;
	case OPT_COMMAND:
		free(*(char ***)field);
		if (!(*(char ***)field = command_split(value, where, e)))
			return -1;
		break;
	case OPT_CONFIG:
		break; /* read before the command line; see options_parse() */
	case OPT_HELP:
		usage(stdout);
		exit(0);
	case OPT_VERSION:
		printf("memtraced %s\n", MT_VERSION);
		exit(0);
	}
	return opt_check(o, p, where, e);
}

/* The row for the long option NAME, or NULL. */
static const struct opt *opt_find(const char *name)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (!strcmp(opts[i].name, name))
			return &opts[i];
	return NULL;
}

/* Note in FROM that P was just set at FILE:LINE, or on the command line (FILE NULL). */
static void origin_note(struct origins *from, const struct opt *p, const char *file, int line)
{
	size_t i = (size_t)(p - opts);

	from->of[i].file = file;
	from->of[i].line = line;
	from->of[i].seq = ++from->seq;
}

/* Of A and B, the option set last (the one to blame for a conflict). */
static const struct opt *origin_last(const struct origins *from, const struct opt *a,
				     const struct opt *b)
{
	return from->of[b - opts].seq > from->of[a - opts].seq ? b : a;
}

/* Write into BUF the start of an error about P's value: "FILE:LINE: key" or "--key". */
static const char *origin_where(const struct origins *from, const struct opt *p, char *buf,
				size_t size)
{
	size_t i = (size_t)(p - opts);

	if (from->of[i].file)
		snprintf(buf, size, "%s:%d: %s", from->of[i].file, from->of[i].line, p->name);
	else
		snprintf(buf, size, "--%s", p->name);
	return buf;
}

/* Write into BUF where P's value came from: "FILE:LINE", "command line" or "default". */
static const char *origin_place(const struct origins *from, const struct opt *p, char *buf,
				size_t size)
{
	size_t i = (size_t)(p - opts);

	if (from->of[i].file)
		snprintf(buf, size, "%s:%d", from->of[i].file, from->of[i].line);
	else
		snprintf(buf, size, "%s", from->of[i].seq ? "command line" : "default");
	return buf;
}

/*
 * Read a config file from F, named PATH in errors: one "key = value" per
 * line, keys named as the long options, '#' starts a comment, blank lines
 * are skipped.  An error names the file and line, in E, and returns -1;
 * FROM learns where each value was.
 */
static int options_read(struct options *o, FILE *f, const char *path, struct origins *from,
			struct opt_err *e)
{
	char *line = NULL, where[4200];
	size_t cap = 0;
	int lineno = 0, ret = 0;

	while (!ret && getline(&line, &cap, f) > 0) {
		char *key = line, *eq, *value, *end;
		const struct opt *p;

		lineno++;
		key += strspn(key, " \t");
		if (*key == '#' || *key == '\n' || *key == '\0')
			continue;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (!(eq = strchr(key, '='))) {
			ret = opt_fail(e, EXIT_USAGE, "%s: expected 'key = value'", where);
			break;
		}
		for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t'); end--)
			;
		*end = '\0';
		value = eq + 1 + strspn(eq + 1, " \t");
		for (end = value + strlen(value); end > value && strchr(" \t\r\n", end[-1]); end--)
			;
		*end = '\0';
		p = opt_find(key);
		if (!p || p->type == OPT_CONFIG || p->type == OPT_HELP || p->type == OPT_VERSION) {
			ret = opt_fail(e, EXIT_USAGE, "%s: unknown key '%s'", where, key);
			break;
		}
		snprintf(where + strlen(where), sizeof(where) - strlen(where), ": %s", key);
		if ((ret = opt_set(o, p, value, where, e)) == 0)
			origin_note(from, p, path, lineno);
	}
	/* A directory opens, then fails to read (EISDIR): not an empty file. */
	if (!ret && ferror(f))
		ret = opt_fail(e, EXIT_USAGE, "cannot read %s: %s", path, strerror(errno));
	free(line);
	return ret;
}

/* Read the config file PATH (options_read); exits on an error. */
static void options_file(struct options *o, const char *path, struct origins *from)
{
	struct opt_err e;
	FILE *f;
	int ret;

	if (!(f = fopen(path, "re")))
		fatalx(EXIT_USAGE, "cannot read %s: %s", path, strerror(errno));
	ret = options_read(o, f, path, from, &e);
	fclose(f);
	if (ret < 0)
		fatalx(e.code, "%s", e.msg);
}

/* O's values before any option is read. */
static void options_defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	mt_config_default(&o->cfg);
	o->ring_events = o->cfg.ring_events;
	o->kill_timeout_ns = 5000000000LL;
	o->alert_timeout_ns = 10000000000LL;
	o->window_ns = 60000000000LL;
	o->eta_warn_ns = (int64_t)(o->cfg.eta_warn_s * 1e9);
	o->eta_crit_ns = (int64_t)(o->cfg.eta_crit_s * 1e9);
}

/* Read the config text TEXT[0, LEN) into O, from the defaults on. */
int options_config(struct options *o, const char *text, size_t len, const char *name, char *err,
		   size_t size)
{
	struct origins from = {0};
	struct opt_err e;
	FILE *f;
	int ret;

	options_defaults(o);
	/* fmemopen() refuses an empty buffer. */
	if (!len)
		return 0;
	if (!(f = fmemopen((void *)text, len, "r"))) {
		snprintf(err, size, "out of memory");
		return -EXIT_SETUP;
	}
	ret = options_read(o, f, name, &from, &e);
	fclose(f);
	if (ret < 0) {
		snprintf(err, size, "%s", e.msg);
		return -e.code;
	}
	return 0;
}

/* Read the PID in FILE. */
static uint64_t read_pid_file(const char *path)
{
	unsigned long long v;
	char extra;
	FILE *f = fopen(path, "re");
	int n;

	if (!f)
		fatalx(EXIT_ATTACH, "cannot read the PID file %s: %s", path, strerror(errno));
	n = fscanf(f, "%llu %c", &v, &extra);
	fclose(f);
	if (n != 1 || v == 0 || v > INT32_MAX)
		fatalx(EXIT_ATTACH, "%s does not hold a PID", path);
	return v;
}

/*
 * The default target name: the program's file name in launch mode, the
 * process's comm in attach mode ("unknown" if it cannot be read).
 */
static void default_name(struct options *o)
{
	char path[64];
	FILE *f;

	if (o->target_argv) {
		const char *slash = strrchr(o->target_argv[0], '/');

		snprintf(o->cfg.name, sizeof(o->cfg.name), "%s",
			 slash ? slash + 1 : o->target_argv[0]);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%llu/comm", (unsigned long long)o->pid);
	if ((f = fopen(path, "re"))) {
		if (fgets(o->cfg.name, sizeof(o->cfg.name), f))
			o->cfg.name[strcspn(o->cfg.name, "\n")] = '\0';
		fclose(f);
	}
}

/* Parse the config file (if any), then the command line, which wins. */
void options_parse(struct options *o, int argc, char **argv)
{
	struct option longopts[NOPTS + 1];
	char shortopts[2 * NOPTS + 2], *sp = shortopts, where[80];
	char *file_pid_file, **file_command;
	struct origins from = {0};
	struct opt_err e;
	const struct opt *p, *warn = opt_find("warn"), *crit = opt_find("crit");
	const struct opt *eta_warn = opt_find("eta-warn"), *eta_crit = opt_find("eta-crit");
	char at[4200], other[4200];
	uint64_t file_pid;
	int c, idx;

	options_defaults(o);
	*sp++ = '+';
	for (size_t i = 0; i < NOPTS; i++) {
		int has_arg = opts[i].arg ? required_argument : no_argument;

		longopts[i] = (struct option){opts[i].name, has_arg, NULL, 256 + (int)i};
		if (opts[i].short_name) {
			*sp++ = (char)opts[i].short_name;
			if (has_arg)
				*sp++ = ':';
		}
	}
	longopts[NOPTS] = (struct option){0};
	*sp = '\0';
	/* First pass: only --config, so the command line can override the file. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1)
		if ((c >= 256 && opts[c - 256].type == OPT_CONFIG) || c == 'c')
			options_file(o, optarg, &from);
	opterr = 1;
	optind = 0;
	/* What to trace, from the file; the command line's choice replaces it whole. */
	file_pid = o->pid;
	file_pid_file = o->pid_file;
	file_command = o->command;
	o->pid = 0;
	o->pid_file = NULL;
	o->command = NULL;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1) {
		p = NULL;
		if (c >= 256)
			p = &opts[c - 256];
		for (size_t i = 0; !p && i < NOPTS; i++)
			if (opts[i].short_name == c)
				p = &opts[i];
		if (!p) {
			fprintf(stderr, "Try 'memtraced --help'.\n");
			exit(EXIT_USAGE);
		}
		snprintf(where, sizeof(where), "--%s", p->name);
		if (opt_set(o, p, optarg, where, &e) < 0)
			fatalx(e.code, "%s", e.msg);
		origin_note(&from, p, NULL, 0);
	}
	if (optind >= argc && !o->pid && !o->pid_file && !o->command) {
		o->pid = file_pid;
		o->pid_file = file_pid_file;
		o->command = file_command;
	} else {
		free(file_pid_file);
		free(file_command);
	}
	if (optind < argc) {
		o->target_argv = argv + optind;
		free(o->command);
		o->command = NULL;
	} else if (o->command) {
		o->target_argv = o->command;
	}
	if (o->pid_file && !o->pid)
		o->pid = read_pid_file(o->pid_file);
	/* Both from one place: the command line's choice replaces the file's whole. */
	if (o->pid && o->target_argv) {
		p = origin_last(&from, origin_last(&from, opt_find("pid"), opt_find("pid-file")),
				opt_find("command"));
		fatalx(EXIT_USAGE, "%s: give either a PID or a program to run, not both",
		       origin_where(&from, p, at, sizeof(at)));
	}
	if (!o->pid && !o->target_argv)
		fatalx(EXIT_USAGE, "no program to run (usage: memtraced [options] -- PROGRAM "
				   "[ARGS...], or --pid PID)");
	if (o->cpu && o->pid)
		fatalx(EXIT_USAGE, "%s: launch mode only (an attached process keeps its CPUs)",
		       origin_where(&from, opt_find("cpu"), at, sizeof(at)));
	if (o->cpu)
		o->cfg.cpu = cpu_number(o->cpu);
	if (o->stacks)
		o->cfg.stacks = (enum mt_stacks)mt_stacks_from_name(o->stacks);
	if (o->stack_depth)
		o->cfg.stack_depth = (unsigned)o->stack_depth;
	o->cfg.count_large = o->count && !strcmp(o->count, "large");
	o->cfg.attach_mode = o->attach_mode && !strcmp(o->attach_mode, "syscall") ?
				     MT_ATTACH_SYSCALL : MT_ATTACH_FILTER;
	if (o->cfg.crit_percent < o->cfg.warn_percent) {
		if (origin_last(&from, warn, crit) == crit)
			fatalx(EXIT_USAGE, "%s: %g is below warn %g (%s)",
			       origin_where(&from, crit, at, sizeof(at)), o->cfg.crit_percent,
			       o->cfg.warn_percent,
			       origin_place(&from, warn, other, sizeof(other)));
		fatalx(EXIT_USAGE, "%s: %g is above crit %g (%s)",
		       origin_where(&from, warn, at, sizeof(at)), o->cfg.warn_percent,
		       o->cfg.crit_percent, origin_place(&from, crit, other, sizeof(other)));
	}
	/* A nearer horizon for warn than for crit would make crit come first. */
	if (o->eta_warn_ns && o->eta_crit_ns > o->eta_warn_ns) {
		p = origin_last(&from, eta_warn, eta_crit);
		fatalx(EXIT_USAGE, "%s: eta-crit %gs is longer than eta-warn %gs (the other from %s)",
		       origin_where(&from, p, at, sizeof(at)), (double)o->eta_crit_ns / 1e9,
		       (double)o->eta_warn_ns / 1e9,
		       origin_place(&from, p == eta_warn ? eta_crit : eta_warn, other,
				    sizeof(other)));
	}
	o->cfg.window_s = (double)o->window_ns / 1e9;
	o->cfg.java_names = !o->no_java_names;
	o->cfg.perf_map = !o->no_perf_map;
	o->cfg.eta_warn_s = (double)o->eta_warn_ns / 1e9;
	o->cfg.eta_crit_s = (double)o->eta_crit_ns / 1e9;
	o->cfg.ring_events = o->ring_events;
	if (o->name)
		snprintf(o->cfg.name, sizeof(o->cfg.name), "%s", o->name);
	else
		default_name(o);
}

/* Free every string and the command options_parse() allocated. */
void options_free(struct options *o)
{
	for (size_t i = 0; i < NOPTS; i++) {
		char *field = (char *)o + opts[i].off;

		if (opts[i].type == OPT_STRING) {
			free(*(char **)field);
			*(char **)field = NULL;
		} else if (opts[i].type == OPT_COMMAND) {
			free(*(char ***)field);
			*(char ***)field = NULL;
		}
	}
	o->target_argv = NULL;
}
