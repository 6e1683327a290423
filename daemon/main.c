/*
 * main.c - memtraced: run a program under memtrace and serve questions.
 *
 * Threads: this (main) thread launches the target and runs the tracer
 * loop, the only thread that makes ptrace requests; the control thread
 * serves the socket and turns SIGTERM/SIGINT or a stop command into
 * mt_session_stop(); the names thread (jnames.c) learns Java thread names.  memtraced exits with the target's exit status.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"

extern char **environ;

/*
 * The target's environment: ours, plus MALLOC_MMAP_THRESHOLD_=131072 unless
 * the user set the threshold (that variable, or GLIBC_TUNABLES) or asked us
 * not to.  glibc raises its mmap threshold after the first free of a large
 * block, after which chunk-sized mallocs come from arenas and never show as
 * mmap; pinning it keeps every chunk visible.  131072 is glibc's own
 * starting value, so the target behaves as a freshly started one would;
 * pinning at the chunk size would cost fewer events but move every block
 * between 128 KiB and 16 MiB into the arenas.
 */
static char **target_env(const struct options *o)
{
	static char pin[] = "MALLOC_MMAP_THRESHOLD_=131072";
	const char *tun = getenv("GLIBC_TUNABLES");
	size_t n = 0;
	char **env;

	if (o->no_pin_threshold || getenv("MALLOC_MMAP_THRESHOLD_") ||
	    (tun && strstr(tun, "glibc.malloc.mmap_threshold")))
		return environ;
	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return environ;
	memcpy(env, environ, n * sizeof(*env));
	env[n] = pin;
	log_debug("pinning glibc's mmap threshold: %s", pin);
	return env;
}

/* Forward libtrace's debug messages to the log. */
static void lib_log(enum mt_log_level level, const char *msg, void *arg)
{
	(void)arg;
	if (level == MT_LOG_DEBUG)
		log_debug("%s", msg);
	else
		log_info("%s", msg);
}

/* Print the final summary to stderr, as text or JSON. */
static void print_summary(struct mt_session *s, int json)
{
	char b[6][16];
	struct mt_status st;
	json_t *obj;

	if (json) {
		obj = mt_proto_status(s);
		if (obj) {
			json_dumpf(obj, stderr, JSON_COMPACT);
			fputc('\n', stderr);
			json_decref(obj);
		}
		return;
	}
	mt_session_status(s, &st);
	if (st.state == MT_STATE_EXITED)
		fprintf(stderr, "memtraced: pid %d exited, exit code %d\n", st.pid,
			mt_exit_code(st.exit_status));
	else
		fprintf(stderr, "memtraced: pid %d %s\n", st.pid, mt_state_name(st.state));
	fprintf(stderr,
		"  outstanding: %llu mappings, %s (committed %s, reserved %s)\n"
		"  chunks:      %llu x %s = %s",
		(unsigned long long)st.outstanding_count,
		mt_format_size(st.outstanding_bytes, b[0], 16),
		mt_format_size(st.committed_bytes, b[1], 16),
		mt_format_size(st.reserved_bytes, b[2], 16),
		(unsigned long long)st.count[MT_CLASS_CHUNK], mt_format_size(st.chunk_size, b[3], 16),
		mt_format_size(st.bytes[MT_CLASS_CHUNK], b[4], 16));
	if (st.ceiling && !st.direct_weighing)
		fprintf(stderr, " (%.1f%% of ceiling %s)",
			100.0 * (double)st.bytes[MT_CLASS_CHUNK] / (double)st.ceiling,
			mt_format_size(st.ceiling, b[0], 16));
	if (st.jvm) {
		fprintf(stderr, "\n  direct:      %llu mappings, %s",
			(unsigned long long)st.direct_count,
			mt_format_size(st.direct_bytes, b[0], 16));
		if (st.ceiling && st.direct_weighing)
			fprintf(stderr, " (%.1f%% of ceiling %s)",
				100.0 * (double)(st.direct_bytes + st.seeded_chunk_bytes) /
					(double)st.ceiling,
				mt_format_size(st.ceiling, b[1], 16));
	}
	fprintf(stderr,
		"\n  large:       %llu, %s\n  small:       %llu, %s\n"
		"  events:      %llu recorded, %llu dropped, %llu in child processes\n"
		"  threads:     %llu seen\n",
		(unsigned long long)st.count[MT_CLASS_LARGE],
		mt_format_size(st.bytes[MT_CLASS_LARGE], b[0], 16),
		(unsigned long long)st.count[MT_CLASS_SMALL],
		mt_format_size(st.bytes[MT_CLASS_SMALL], b[1], 16),
		(unsigned long long)st.events_recorded, (unsigned long long)st.events_dropped,
		(unsigned long long)st.child_events, (unsigned long long)st.threads_seen);
	if (st.attached)
		fprintf(stderr, "  attach:      held the target %.1f ms (seeding %.1f ms)\n",
			(double)st.attach_held_ns / 1e6, (double)st.seed_ns / 1e6);
}

/* The answer of protocol command NAME to REQUEST (JSON text), as the socket would give it. */
static json_t *report_part(struct mt_session *s, const char *name, const char *request)
{
	const struct mt_cmd *cmd = mt_cmd_find(name);
	json_t *req = json_loads(request, 0, NULL), *a;

	a = req ? mt_proto_handler(cmd)(s, req) : NULL;
	json_decref(req);
	return a ? a : json_null();
}

/*
 * Write the final state to PATH as one JSON object: the status with the
 * timeline, every outstanding mapping with its stack, the alerts, the
 * threads, the stacks and the suspects, each the answer of its command;
 * what memtracectl report --from draws.
 */
static void write_report(struct mt_session *s, const char *path)
{
	json_t *report = json_pack(
		"{s:o,s:o,s:o,s:o,s:o,s:o}", "status",
		report_part(s, "status", "{\"history\":true,\"history_limit\":1025}"), "outstanding",
		report_part(s, "outstanding", "{\"limit\":100000,\"stacks\":true}"), "alerts",
		report_part(s, "alerts", "{\"limit\":256}"), "threads",
		report_part(s, "threads", "{\"limit\":100000,\"all\":true}"), "stacks",
		report_part(s, "stacks", "{\"limit\":100000}"), "suspects",
		report_part(s, "suspects", "{\"limit\":20}"));
	char tmp[4200];

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!report || json_dump_file(report, tmp, JSON_COMPACT) < 0 || rename(tmp, path) < 0) {
		log_warn("--report %s", path);
		unlink(tmp);
	}
	json_decref(report);
}

int main(int argc, char **argv)
{
	struct control *ctl = NULL;
	struct jnames *jn = NULL;
	struct mt_session *s;
	struct mt_status st;
	struct options o;
	sigset_t set, orig;
	pid_t pid;
	int err;

	/* The guard of a target in filter mode (guard.c), run by memtraced itself. */
	if (argc == 4 && !strcmp(argv[1], "--guard"))
		return mt_guard_main((pid_t)atoi(argv[2]), (pid_t)atoi(argv[3]));
	options_parse(&o, argc, argv);
	sched_getaffinity(0, sizeof(o.all_cpus), &o.all_cpus);
	log_init(o.verbose);
	o.cfg.log = lib_log;
	o.cfg.guard_exe = "/proc/self/exe";

	/* Stop signals are taken by the control thread through a signalfd. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, &orig);
	o.cfg.child_sigmask = &orig;

	if ((err = mt_session_new(&o.cfg, &s)) < 0)
		fatalx(EXIT_SETUP, "cannot create a session: %s", strerror(-err));
	/* control_start() has said what failed, and on which path. */
	if (control_start(s, &o, &ctl) < 0) {
		mt_session_free(s);
		options_free(&o);
		return EXIT_SETUP;
	}
	if (o.pid) {
		err = mt_session_attach(s, (pid_t)o.pid);
		if (err < 0) {
			char why[512];

			mt_attach_explain((pid_t)o.pid, err, why, sizeof(why));
			control_free(ctl);
			mt_session_free(s);
			fatalx(EXIT_ATTACH, "%s", why);
		}
		pid = (pid_t)o.pid;
		log_debug("attached to pid %d", (int)pid);
	} else {
		char **env = target_env(&o);

		err = mt_session_launch(s, o.target_argv, env);
		if (env != environ)
			free(env);
		if (err < 0) {
			control_free(ctl);
			mt_session_free(s);
			fatalx(err == -ENOENT || err == -EACCES ? 127 : EXIT_SETUP,
			       "cannot run %s: %s", o.target_argv[0], strerror(-err));
		}
		pid = err;
		log_debug("tracing pid %d", (int)pid);
	}
	/*
	 * For Type=notify units; a no-op outside systemd.  Sent before the
	 * control thread starts, whose first tick already sends a STATUS line:
	 * systemd must see READY first.  The socket is listening by now.
	 */
	sd_notifyf(0, "READY=1\nSTATUS=tracing pid %d", (int)pid);
	if ((err = control_serve(ctl)) < 0)
		log_warnx("control thread: %s", strerror(-err));
	if ((err = jnames_start(s, &o, &jn)) < 0)
		log_warnx("Java thread names: %s; threads keep their kernel names", strerror(-err));
	if ((err = mt_session_run(s)) < 0)
		log_warnx("tracer loop: %s", strerror(-err));
	jnames_stop(jn);
	sd_notify(0, "STOPPING=1");
	if (o.summary)
		print_summary(s, o.json);
	if (o.report)
		write_report(s, o.report);
	control_target_done(ctl, o.linger);
	control_free(ctl);
	mt_session_status(s, &st);
	mt_session_free(s);
	options_free(&o);
	/* Detached from a process that goes on: that is success. */
	return st.state == MT_STATE_DETACHED ? 0 : mt_exit_code(st.exit_status);
}
