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
	 "attached: syscall (default) or filter (see memtraced(8))"},
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
	 "warn level, % of the ceiling (default 80)"},
	{"crit", 0, OPT_PERCENT, OFF(cfg.crit_percent), "PERCENT",
	 "crit level, % of the ceiling (default 95)"},
	{"clear-margin", 0, OPT_PERCENT, OFF(cfg.clear_margin), "PERCENT",
	 "points below a level to clear it (default 5)"},
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
	{"no-pin-threshold", 0, OPT_FLAG, OFF(no_pin_threshold), NULL,
	 "do not pin the target's MALLOC_MMAP_THRESHOLD_"},
	{"no-java-names", 0, OPT_FLAG, OFF(no_java_names), NULL,
	 "kernel thread names only, never Java's"},
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
	{"summary", 0, OPT_FLAG, OFF(summary), NULL, "print a summary to stderr at exit"},
	{"json", 0, OPT_FLAG, OFF(json), NULL, "print the summary as JSON"},
	{"verbose", 'v', OPT_FLAG, OFF(verbose), NULL, "log debug messages"},
	{"help", 'h', OPT_HELP, 0, NULL, "show this help"},
	{"version", 'V', OPT_VERSION, 0, NULL, "show the version"},
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

/* Print the usage and every option. */
static void usage(FILE *f)
{
	fprintf(f, "usage: memtraced [options] -- PROGRAM [ARGS...]\n"
		   "       memtraced [options] --pid PID\n\n"
		   "Run PROGRAM (or attach to PID) under memtrace: trace its memory syscalls\n"
		   "and answer questions about them on a UNIX socket (see memtracectl(1)).\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char left[48];

		if (opts[i].short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", opts[i].short_name, opts[i].name,
				 opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", opts[i].name, opts[i].arg ? " " : "",
				 opts[i].arg ? opts[i].arg : "");
		fprintf(f, "  %-30s %s\n", left, opts[i].help);
	}
}

/*
 * Split CMD at blanks into a NULL-terminated argv, one allocation that holds
 * the words after the pointers; "..." and '...' group words.  An open quote
 * or no word at all exits, naming WHERE.
 */
static char **command_split(const char *cmd, const char *where)
{
	size_t n = 0, len = strlen(cmd), slots = len / 2 + 2;
	char **argv = malloc(slots * sizeof(char *) + len + 1);
	char *w;

	if (!argv)
		fatalx(EXIT_SETUP, "out of memory");
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
			fatalx(EXIT_USAGE, "%s: unterminated %c quote", where, q);
		}
		*w++ = '\0';
	}
	argv[n] = NULL;
	if (!n) {
		free(argv);
		fatalx(EXIT_USAGE, "%s: no program in it", where);
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
 * stored in O, so that an error names the WHERE the value came from.
 */
static void opt_check(const struct options *o, const struct opt *p, const char *where)
{
	const char *name = p->name;

	if (!strcmp(name, "stacks") && mt_stacks_from_name(o->stacks) < 0)
		fatalx(EXIT_USAGE, "%s: use none, chunk, large or all, not '%s'", where, o->stacks);
	if (!strcmp(name, "attach-mode") && strcmp(o->attach_mode, "syscall") &&
	    strcmp(o->attach_mode, "filter"))
		fatalx(EXIT_USAGE, "%s: use syscall or filter, not '%s'", where, o->attach_mode);
	if (!strcmp(name, "count") && strcmp(o->count, "chunk") && strcmp(o->count, "large"))
		fatalx(EXIT_USAGE, "%s: use chunk or large, not '%s'", where, o->count);
	if (!strcmp(name, "stack-depth") && o->stack_depth > MT_STACK_MAX)
		fatalx(EXIT_USAGE, "%s: at most %d", where, MT_STACK_MAX);
	/* 96 bytes an event: 2^27 events reserve 12 GiB, touched only as used. */
	if (!strcmp(name, "ring-events") && o->ring_events > (1ull << 27))
		fatalx(EXIT_USAGE, "%s: at most %llu", where, 1ull << 27);
	if (!strcmp(name, "window") && o->window_ns < 1000000000LL)
		fatalx(EXIT_USAGE, "%s: at least 1s", where);
	if (!strcmp(name, "cpu") && cpu_number(o->cpu) < 0)
		fatalx(EXIT_USAGE, "%s: bad CPU number '%s'", where, o->cpu);
	/* control_start() looks the group up again, later and far from the file. */
	if (!strcmp(name, "socket-group") && !getgrnam(o->socket_group))
		fatalx(EXIT_USAGE, "%s: no group named '%s'", where, o->socket_group);
}

/* Store VALUE for option P into O; exits on a bad value, naming WHERE. */
static void opt_set(struct options *o, const struct opt *p, const char *value, const char *where)
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
			fatalx(EXIT_USAGE, "%s: use yes or no, not '%s'", where, value);
		break;
	case OPT_SIZE:
		if (mt_parse_size(value, &u) < 0)
			fatalx(EXIT_USAGE, "%s: bad size '%s' (use a number with K, M or G)", where,
			       value);
		/* 0 would mean "work it out", which is what leaving the option out does. */
		if (u == 0 && (!strcmp(p->name, "chunk-size") || !strcmp(p->name, "ceiling")))
			fatalx(EXIT_USAGE, "%s: must be more than 0", where);
		/* Sizes travel as JSON integers, which are signed 64-bit. */
		if (u > INT64_MAX)
			fatalx(EXIT_USAGE, "%s: size '%s' is too large (at most %" PRId64 " bytes)",
			       where, value, INT64_MAX);
		*(uint64_t *)field = u;
		break;
	case OPT_COUNT: {
		int is_pid = !strcmp(p->name, "pid");

		errno = 0;
		u = strtoull(value, &end, 10);
		if (errno || end == value || *end || *value == '-' || u == 0 ||
		    (is_pid && u > INT32_MAX))
			fatalx(EXIT_USAGE, "%s: bad %s '%s'", where, is_pid ? "PID" : "count",
			       value);
		*(uint64_t *)field = u;
		break;
	}
	case OPT_DURATION:
		if (mt_parse_duration(value, &d) < 0)
			fatalx(EXIT_USAGE, "%s: bad duration '%s' (use e.g. 500ms, 10s, 5m)", where,
			       value);
		if (d > DURATION_MAX_NS)
			fatalx(EXIT_USAGE, "%s: duration '%s' is too long (at most 24d)", where,
			       value);
		*(int64_t *)field = d;
		break;
	case OPT_PERCENT: {
		double v = strtod(value, &end);

		if (end == value || *end || !(v > 0 && v <= 1000))
			fatalx(EXIT_USAGE, "%s: bad percentage '%s'", where, value);
		*(double *)field = v;
		break;
	}
	case OPT_STRING:
		/* An empty sun_path would be an abstract socket: not what anyone meant. */
		if (!*value && !strcmp(p->name, "socket"))
			fatalx(EXIT_USAGE, "%s: empty path (use --no-socket for no socket)", where);
		/* A repeated option takes its last value. */
		free(*(char **)field);
		if (!(*(char **)field = strdup(value)))
			fatalx(EXIT_SETUP, "out of memory");
		break;
	case OPT_COMMAND:
		free(*(char ***)field);
		*(char ***)field = command_split(value, where);
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
	opt_check(o, p, where);
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
 * Read a config file: one "key = value" per line, keys named as the long
 * options, '#' starts a comment, blank lines are skipped.  Errors name the
 * file and line and exit with status 2; FROM learns where each value was.
 */
static void options_file(struct options *o, const char *path, struct origins *from)
{
	char *line = NULL, where[4200];
	size_t cap = 0;
	int lineno = 0;
	FILE *f;

	if (!(f = fopen(path, "re")))
		fatalx(EXIT_USAGE, "cannot read %s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		char *key = line, *eq, *value, *end;
		const struct opt *p;

		lineno++;
		key += strspn(key, " \t");
		if (*key == '#' || *key == '\n' || *key == '\0')
			continue;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (!(eq = strchr(key, '=')))
			fatalx(EXIT_USAGE, "%s: expected 'key = value'", where);
		for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t'); end--)
			;
		*end = '\0';
		value = eq + 1 + strspn(eq + 1, " \t");
		for (end = value + strlen(value); end > value && strchr(" \t\r\n", end[-1]); end--)
			;
		*end = '\0';
		p = opt_find(key);
		if (!p || p->type == OPT_CONFIG || p->type == OPT_HELP || p->type == OPT_VERSION)
			fatalx(EXIT_USAGE, "%s: unknown key '%s'", where, key);
		snprintf(where + strlen(where), sizeof(where) - strlen(where), ": %s", key);
		opt_set(o, p, value, where);
		origin_note(from, p, path, lineno);
	}
	/* A directory opens, then fails to read (EISDIR): not an empty file. */
	if (ferror(f))
		fatalx(EXIT_USAGE, "cannot read %s: %s", path, strerror(errno));
	free(line);
	fclose(f);
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

/* Parse the config file (if any), then the command line, which wins. */
void options_parse(struct options *o, int argc, char **argv)
{
	struct option longopts[NOPTS + 1];
	char shortopts[2 * NOPTS + 2], *sp = shortopts, where[80];
	char *file_pid_file, **file_command;
	struct origins from = {0};
	const struct opt *p, *warn = opt_find("warn"), *crit = opt_find("crit");
	char at[4200], other[4200];
	uint64_t file_pid;
	int c, idx;

	memset(o, 0, sizeof(*o));
	mt_config_default(&o->cfg);
	o->ring_events = o->cfg.ring_events;
	o->kill_timeout_ns = 5000000000LL;
	o->alert_timeout_ns = 10000000000LL;
	o->window_ns = 60000000000LL;
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
		opt_set(o, p, optarg, where);
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
	o->cfg.attach_mode = o->attach_mode && !strcmp(o->attach_mode, "filter") ?
				     MT_ATTACH_FILTER : MT_ATTACH_SYSCALL;
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
	o->cfg.window_s = (double)o->window_ns / 1e9;
	o->cfg.java_names = !o->no_java_names;
	o->cfg.ring_events = o->ring_events;
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
