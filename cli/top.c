/*
 * top.c - memtracectl top: a live view of the daemon, refreshed every
 * second.  On a terminal it is a full screen drawn with plain ANSI escapes
 * (alternate screen, no autowrap, hidden cursor; q quits, the size follows
 * SIGWINCH, ^Z gives the terminal back until fg): the weighed bytes against the ceiling as a bar, a sparkline of
 * the daemon's history, the growth, the projection to the ceiling and the
 * trend's reason, the alert level in colour, events per second, the top
 * threads and the top allocation sites by outstanding bytes.  Elsewhere it
 * prints one line a refresh (one JSON object a line with --json).
 *
 * Each refresh asks status (with history), threads and stacks on new
 * connections, as three memtracectl runs would.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "libtrace.h"

static int64_t top_interval_ns = 1000000000; /* --interval */
static long top_iterations;		      /* --iterations, 0: until q */

/* top --interval DURATION */
static int set_interval(json_t *req, const char *v)
{
	if (mt_parse_duration(v, &top_interval_ns) < 0 || top_interval_ns < 100000000)
		usage_error("top: --interval takes a duration of at least 100ms, not '%s'", v);
	return 0;
}

/* top --iterations N */
static int set_iterations(json_t *req, const char *v)
{
	char *end;

	errno = 0;
	top_iterations = strtol(v, &end, 10);
	if (errno || end == v || *end || top_iterations < 1)
		usage_error("top: --iterations takes a count of at least 1, not '%s'", v);
	return 0;
}

const struct ctl_opt top_opts[] = {
	{"--interval", "DURATION", "time between refreshes (default 1s)", set_interval},
	{"--iterations", "N", "stop after N refreshes (default: until q)", set_iterations},
	{NULL, NULL, NULL, NULL},
};

/* The terminal as it was, restored on every way out, and as top sets it. */
static struct termios saved_tio, raw_tio;
static int tio_saved, screen_on, stdin_eof;
static volatile sig_atomic_t resized;

/* Leave the full screen: escapes and termios only, so a signal handler may call it. */
static void screen_leave(void)
{
	static const char leave[] = "\033[0m\033[?7h\033[?25h\033[?1049l";

	if (screen_on && write(STDOUT_FILENO, leave, sizeof(leave) - 1) < 0) {
		/* nothing more to do for a terminal that is gone */
	}
	screen_on = 0;
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tio);
	tio_saved = 0;
}

/* SIGINT, SIGTERM, SIGHUP: give the terminal back, then die of the signal as before. */
static void on_fatal(int sig)
{
	screen_leave();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_winch(int sig)
{
	resized = 1;
}

static const char enter_seq[] = "\033[?1049h\033[?25l\033[?7l\033[2J";

/* SIGTSTP (^Z): give the terminal back and stop; when continued, take it again and redraw. */
static void on_tstp(int sig)
{
	int had_tio = tio_saved, errno_was = errno;
	sigset_t set;

	/* When the shell already took the terminal back (^Z stopped a subshell
	 * around us first), tcsetattr() would stop us with SIGTTOU half done. */
	signal(SIGTTOU, SIG_IGN);
	screen_leave();
	signal(SIGTTOU, SIG_DFL);
	signal(SIGTSTP, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(SIGTSTP);
	/* Continued. */
	signal(SIGTSTP, on_tstp);
	if (had_tio)
		tio_saved = tcsetattr(STDIN_FILENO, TCSADRAIN, &raw_tio) == 0;
	screen_on = write(STDOUT_FILENO, enter_seq, sizeof(enter_seq) - 1) > 0;
	resized = 1;
	errno = errno_was;
}

/* Enter the full screen: keys one at a time without echo, alternate screen, no autowrap. */
static void screen_enter(void)
{
	struct sigaction sa = {0};

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		raw_tio = saved_tio;
		raw_tio.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw_tio.c_cc[VMIN] = 0;
		raw_tio.c_cc[VTIME] = 0;
		tio_saved = tcsetattr(STDIN_FILENO, TCSADRAIN, &raw_tio) == 0;
	}
	atexit(screen_leave);
	ctl_before_exit = screen_leave;
	sa.sa_handler = on_fatal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_tstp;
	sigaction(SIGTSTP, &sa, NULL);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	screen_on = 1;
	fputs(enter_seq, stdout);
	fflush(stdout);
}

/* The terminal's size, 80x24 when it cannot tell. */
static void screen_size(int *rows, int *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* One refresh's answers, and what is worked out from them. */
struct frame {
	json_t *status, *threads, *stacks;
	double events_per_s; /* < 0: not known yet */
};

/* Ask PATH for CMD (status: with LIMIT points of history); NULL if it refuses. */
static json_t *fetch(const char *path, const char *cmd, int limit)
{
	json_t *req = json_pack("{s:s}", "cmd", cmd), *a;

	if (!strcmp(cmd, "status")) {
		json_object_set_new(req, "history", json_true());
		json_object_set_new(req, "history_limit", json_integer(limit));
	} else
		json_object_set_new(req, "limit", json_integer(limit));
	a = ask(path, req);
	json_decref(req);
	if (!json_is_true(json_object_get(a, "ok"))) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* The monotonic clock in nanoseconds. */
static int64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Threads by outstanding bytes, largest first (qsort). */
static int by_outstanding(const void *a, const void *b)
{
	uint64_t x = jint(*(json_t *const *)a, "outstanding.bytes");
	uint64_t y = jint(*(json_t *const *)b, "outstanding.bytes");

	return x < y ? 1 : x > y ? -1 : 0;
}

/* The threads of answer O that hold something, sorted, in a new array of *N. */
static json_t **top_threads(json_t *o, size_t *n)
{
	json_t *list = jget(o, "threads"), *t, **v = calloc(json_array_size(list) + 1, sizeof(*v));
	size_t i;

	*n = 0;
	if (!v)
		return NULL;
	json_array_foreach(list, i, t) if (jint(t, "outstanding.bytes")) v[(*n)++] = t;
	qsort(v, *n, sizeof(*v), by_outstanding);
	return v;
}

/*
 * The allocation site of stack ST: its first frame outside the C library
 * and the loader (the caller of malloc or mmap), "+0x.." offsets kept,
 * else its first frame; then the function that called mmap, by name
 * ("[alloc_new_heap]": a glibc arena).  Written into BUF.
 */
static const char *site_of(json_t *st, char *buf, size_t size)
{
	json_t *frames = jget(st, "frames"), *f;
	const char *pick = NULL, *how = json_string_value(json_array_get(frames, 1));
	size_t i, at = 0;

	json_array_foreach(frames, i, f) {
		const char *s = json_string_value(f);

		if (!s)
			continue;
		if (!pick)
			pick = s;
		if (!strstr(s, "(libc.so") && !strstr(s, "(ld-linux") && !strstr(s, "(libpthread")) {
			pick = s;
			at = i;
			break;
		}
	}
	snprintf(buf, size, "%s", pick ? pick : jint(st, "id") ? "?" : "[no stack]");
	/* Sites differ below the caller too (a glibc arena, or an mmap of its own): say how, by name. */
	if (at > 1 && how && strlen(buf) + 4 < size)
		snprintf(buf + strlen(buf), size - strlen(buf), "  [%.*s]", (int)strcspn(how, "+ ."),
			 how);
	return buf;
}

/* The SGR colour of LEVEL: green ok, bold yellow warn, white on red crit. */
static const char *level_colour(const char *level)
{
	if (!strcmp(level, "crit"))
		return "\033[1;37;41m";
	if (!strcmp(level, "warn"))
		return "\033[1;30;43m";
	return "\033[1;30;42m";
}

/* Seconds as "45s", "12m05s", "3h20m". */
static const char *duration(double s, char *buf, size_t size)
{
	if (s < 60)
		snprintf(buf, size, "%.0fs", s);
	else if (s < 3600)
		snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)s % 60);
	else
		snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)s / 60 % 60);
	return buf;
}

/* The screen being drawn: lines written with line(), cut at the last row. */
struct screen {
	FILE *f;
	int rows, cols, row;
};

/* Start row sc->row with FMT (the terminal clips what passes the width); the rest cleared. */
static void line(struct screen *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line(struct screen *sc, const char *fmt, ...)
{
	va_list ap;

	if (sc->row >= sc->rows)
		return;
	fprintf(sc->f, "\033[%d;1H", sc->row + 1);
	va_start(ap, fmt);
	vfprintf(sc->f, fmt, ap);
	va_end(ap);
	fputs("\033[0m\033[K", sc->f);
	sc->row++;
}

/* The bar of W cells: FRAC of it filled in the level's colour, the warn and crit marks on the rest. */
static void bar(FILE *f, int w, double frac, double warn, double crit, const char *level)
{
	int fill = (int)(frac * w + 0.5), wmark = (int)(warn * w), cmark = (int)(crit * w);

	if (fill > w)
		fill = w;
	fputs("[", f);
	/* Foreground only: a full block in the level's background colour would show as white. */
	fputs(!strcmp(level, "crit") ? "\033[1;31m" : !strcmp(level, "warn") ? "\033[1;33m" : "\033[32m", f);
	for (int i = 0; i < fill; i++)
		fputs("\u2588", f);
	fputs("\033[0m\033[2m", f);
	for (int i = fill; i < w; i++)
		fputs(i == wmark || i == cmark ? "|" : "\u00b7", f);
	fputs("\033[0m]", f);
}

/* The history of status O as a sparkline of at most W cells, scaled to the ceiling (or the top). */
static int sparkline(FILE *f, json_t *o, int w)
{
	static const char *const cells[] = {" ", "\u2581", "\u2582", "\u2583", "\u2584",
					    "\u2585", "\u2586", "\u2587", "\u2588"};
	json_t *h = jget(o, "history");
	size_t n = json_array_size(h), from = n > (size_t)w ? n - (size_t)w : 0;
	uint64_t top = jint(o, "ceiling.bytes");

	for (size_t i = from; !jint(o, "ceiling.bytes") && i < n; i++)
		if (jint(json_array_get(h, i), "bytes") > top)
			top = jint(json_array_get(h, i), "bytes");
	for (size_t i = from; i < n; i++) {
		uint64_t b = jint(json_array_get(h, i), "bytes");
		size_t k = top ? (size_t)((double)b / (double)top * 8.0 + 0.5) : 0;

		fputs(cells[k > 8 ? 8 : k], f);
	}
	return (int)(n - from);
}

/* Draw frame FR on the whole terminal. */
static void draw(const struct frame *fr)
{
	json_t *o = fr->status, *h = jget(o, "history"), *st, *argv = jget(o, "target.argv");
	const char *level = jstr(o, "ceiling.level");
	struct screen sc = {0};
	char *text = NULL, buf[256], when[16], d[32];
	size_t len = 0, nth = 0, i;
	json_t **th = top_threads(fr->threads, &nth);
	int rows_left, nthreads, nsites, w;
	uint64_t ceiling = jint(o, "ceiling.bytes");
	time_t now = time(NULL);

	screen_size(&sc.rows, &sc.cols);
	/* The last column stays empty: \033[K there would erase what was just written. */
	sc.cols--;
	if (!(sc.f = open_memstream(&text, &len)))
		return;
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	snprintf(buf, sizeof(buf), "%s", json_string_value(json_array_get(argv, 0)) ?: "?");
	{
		char left[200];
		const char *name = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
		int n = snprintf(left, sizeof(left), "memtrace top  pid %d %s %s, up %s",
				 (int)jint(o, "target.pid"), name, jstr(o, "target.state"),
				 duration(json_number_value(jget(o, "target.uptime_s")), d, sizeof(d)));
		char up[8];
		int pad = sc.cols - n - (int)strlen(level) - 3 - (int)strlen(when), k;

		for (k = 0; level[k] && k < 7; k++)
			up[k] = (char)(level[k] >= 'a' && level[k] <= 'z' ? level[k] - 32 : level[k]);
		up[k] = 0;
		line(&sc, "\033[1m%s\033[0m%*s%s %s \033[0m %s", left, pad > 1 ? pad : 1, "",
		     level_colour(level), *up ? up : "?", when);
	}
	/* The bar: what is weighed (chunks or direct memory) against the ceiling. */
	if (ceiling && sc.row < sc.rows) {
		char used[48];
		int n = snprintf(used, sizeof(used), " %s / %s %5.1f%%", jsize(o, "ceiling.weighed_bytes", 0),
				 jsize(o, "ceiling.bytes", 1),
				 json_number_value(jget(o, "ceiling.used_percent")));

		w = sc.cols - 11 - n;
		fprintf(sc.f, "\033[%d;1H%-8s ", sc.row + 1, "weighed");
		bar(sc.f, w > 10 ? w : 10, json_number_value(jget(o, "ceiling.used_percent")) / 100,
		    json_number_value(jget(o, "ceiling.warn_percent")) / 100,
		    json_number_value(jget(o, "ceiling.crit_percent")) / 100, level);
		fprintf(sc.f, "%s\033[K", used);
		sc.row++;
	} else if (!ceiling) {
		line(&sc, "%-8s %s, no ceiling known (memtraced --ceiling, or the JVM's)", "weighed",
		     jsize(o, "ceiling.weighed_bytes", 0));
	}
	line(&sc, "%-8s warn %.0f%%, crit %.0f%%; weighs %s", "levels",
	     json_number_value(jget(o, "ceiling.warn_percent")),
	     json_number_value(jget(o, "ceiling.crit_percent")), jstr(o, "direct.weighs"));
	if (sc.row >= sc.rows)
		goto rest;
	fprintf(sc.f, "\033[%d;1H%-8s ", sc.row + 1, "history");
	w = sparkline(sc.f, o, sc.cols - 30 > 8 ? sc.cols - 30 : 8);
	if (json_array_size(h) > 1)
		fprintf(sc.f, "  %s, scale %s",
			duration((double)(jint(json_array_get(h, json_array_size(h) - 1), "time_ns") -
					  jint(json_array_get(h, json_array_size(h) - (size_t)w), "time_ns")) /
					 1e9,
				 d, sizeof(d)),
			ceiling ? jsize(o, "ceiling.bytes", 0) : "top");
	fputs("\033[K", sc.f);
	sc.row++;
rest:
	snprintf(buf, sizeof(buf), "%s", "");
	if (json_is_number(jget(o, "growth.eta_s")))
		snprintf(buf, sizeof(buf), ", ceiling in %s",
			 duration(json_number_value(jget(o, "growth.eta_s")), d, sizeof(d)));
	line(&sc, "%-8s %s over %.0fs, %s since start, %s%s", "growth",
	     jrate(o, "growth.rate_bytes_per_s", 0), json_number_value(jget(o, "growth.window_s")),
	     jrate(o, "growth.overall_rate_bytes_per_s", 1), jstr(o, "growth.trend"), buf);
	line(&sc, "%-8s %s%s%s\033[0m", "trend",
	     strcmp(jstr(o, "trend.level"), "ok") ? level_colour(jstr(o, "trend.level")) : "",
	     jstr(o, "trend.reason"),
	     strcmp(jstr(o, "trend.level"), "ok") ? " (alert)" : "");
	if (fr->events_per_s >= 0)
		snprintf(buf, sizeof(buf), "%.0f/s", fr->events_per_s);
	else
		snprintf(buf, sizeof(buf), "-/s");
	line(&sc, "%-8s %s  (%llu recorded, %llu dropped)  chunks %llu x %s  threads %llu", "events",
	     buf, (unsigned long long)jint(o, "events.recorded"),
	     (unsigned long long)jint(o, "events.dropped"), (unsigned long long)jint(o, "chunks.count"),
	     jsize(o, "chunks.size", 0), (unsigned long long)jint(o, "threads.count"));
	/* What is left, less the two headings, a blank and the key line, is split between the tables. */
	rows_left = sc.rows - sc.row - 4;
	nthreads = rows_left / 2 < (int)nth ? rows_left / 2 : (int)nth;
	if (nthreads < 1 && nth && rows_left >= 2)
		nthreads = 1;
	nsites = rows_left - nthreads;
	line(&sc, "%s", "");
	line(&sc, "\033[7m%8s %12s %12s  %-*s", "TID", "OUTSTANDING", "CHUNKS",
	     sc.cols - 36 > 4 ? sc.cols - 36 : 4, "THREAD");
	for (int k = 0; k < nthreads; k++)
		line(&sc, "%8d %12s %12s  %s", (int)jint(th[k], "tid"), jsize(th[k], "outstanding.bytes", 0),
		     jsize(th[k], "chunks.bytes", 1), jstr(th[k], "name"));
	line(&sc, "\033[7m%8s %12s  %-*s", "MAPPINGS", "OUTSTANDING",
	     sc.cols - 23 > 4 ? sc.cols - 23 : 4, "ALLOCATION SITE [HOW IT MAPPED]");
	json_array_foreach(jget(fr->stacks, "stacks"), i, st) {
		if ((int)i >= nsites)
			break;
		line(&sc, "%8llu %12s  %s", (unsigned long long)jint(st, "count"), jsize(st, "bytes", 0),
		     site_of(st, buf, sizeof(buf)));
	}
	while (sc.row < sc.rows - 1)
		line(&sc, "%s", "");
	line(&sc, "\033[2mq quit; every %.1fs from memtraced pid %d", (double)top_interval_ns / 1e9,
	     (int)jint(o, "daemon.pid"));
	fclose(sc.f);
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	free(text);
	free(th);
}

/* Print frame FR as one line: a plain sentence, or a JSON object with --json. */
static void draw_line(const struct frame *fr)
{
	json_t *o = fr->status, *st = json_array_get(jget(fr->stacks, "stacks"), 0);
	size_t nth = 0;
	json_t **th = top_threads(fr->threads, &nth);
	char when[16], site[256] = "", eta[48] = "", ev[32] = "-";
	time_t now = time(NULL);

	if (st)
		site_of(st, site, sizeof(site));
	if (opt_json) {
		json_t *l = json_pack("{s:I,s:s,s:I,s:I,s:o,s:o,s:o,s:s,s:o}", "time_ns",
				      (json_int_t)mt_now_ns(), "level", jstr(o, "ceiling.level"),
				      "weighed_bytes", (json_int_t)jint(o, "ceiling.weighed_bytes"),
				      "ceiling_bytes", (json_int_t)jint(o, "ceiling.bytes"),
				      "used_percent", json_incref(jget(o, "ceiling.used_percent") ?: json_null()),
				      "rate_bytes_per_s",
				      json_incref(jget(o, "growth.rate_bytes_per_s") ?: json_null()),
				      "eta_s", json_incref(jget(o, "growth.eta_s") ?: json_null()),
				      "trend", jstr(o, "trend.reason"), "events_per_s",
				      fr->events_per_s >= 0 ? json_real(fr->events_per_s) : json_null());

		if (l && nth)
			json_object_set_new(l, "top_thread",
					    json_pack("{s:I,s:s,s:I}", "tid", (json_int_t)jint(th[0], "tid"),
						      "name", jstr(th[0], "name"), "outstanding_bytes",
						      (json_int_t)jint(th[0], "outstanding.bytes")));
		if (l && st)
			json_object_set_new(l, "top_site",
					    json_pack("{s:s,s:I,s:I}", "frame", site, "bytes",
						      (json_int_t)jint(st, "bytes"), "count",
						      (json_int_t)jint(st, "count")));
		if (l)
			json_dumpf(l, stdout, JSON_COMPACT), putchar('\n');
		json_decref(l);
	} else {
		strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
		if (json_is_number(jget(o, "growth.eta_s")))
			snprintf(eta, sizeof(eta), ", ceiling in %.0fs",
				 json_number_value(jget(o, "growth.eta_s")));
		if (fr->events_per_s >= 0)
			snprintf(ev, sizeof(ev), "%.0f", fr->events_per_s);
		printf("%s level %s, %s of %s (%.1f%%), %s%s, %s events/s", when,
		       jstr(o, "ceiling.level"), jsize(o, "ceiling.weighed_bytes", 0),
		       jint(o, "ceiling.bytes") ? jsize(o, "ceiling.bytes", 1) : "no ceiling",
		       json_number_value(jget(o, "ceiling.used_percent")),
		       jrate(o, "growth.rate_bytes_per_s", 0), eta, ev);
		if (nth)
			printf("; thread %s %s", jstr(th[0], "name"), jsize(th[0], "outstanding.bytes", 2));
		if (st)
			printf("; site %s %s", site, jsize(st, "bytes", 3));
		putchar('\n');
	}
	fflush(stdout);
	free(th);
}

/* Wait until DEADLINE (monotonic ns) for q; redraw FR on a resize.  Returns 1 when q was pressed. */
static int wait_key(int64_t deadline, const struct frame *fr, int screen)
{
	for (int64_t left; (left = deadline - mono()) > 0;) {
		struct pollfd p = {STDIN_FILENO, POLLIN, 0};
		int keys = screen && tio_saved && !stdin_eof;
		char c;

		if (poll(&p, keys ? 1 : 0, (int)(left / 1000000) + 1) > 0 && (p.revents & POLLIN)) {
			ssize_t n = read(STDIN_FILENO, &c, 1);

			if (n == 1 && (c == 'q' || c == 'Q'))
				return 1;
			if (n == 0)
				stdin_eof = 1;
		}
		if (resized && screen) {
			resized = 0;
			draw(fr);
		}
	}
	return 0;
}

/*
 * top [--interval DURATION] [--iterations N]: refresh until q (or N
 * refreshes); exits 0, 3 when no daemon answers.
 */
int cmd_top(const struct ctl_cmd *cmd, const char *path, int argc, char **argv)
{
	int screen = isatty(STDOUT_FILENO);
	struct frame fr = {.events_per_s = -1};
	uint64_t last_events = 0;
	int64_t last_ns = 0;
	int quit = 0;

	ctl_parse(cmd, argc, argv, NULL);
	if (screen && opt_json)
		screen = 0;
	for (long n = 0; !quit && (!top_iterations || n < top_iterations); n++) {
		int64_t start = mono();
		int rows, cols;
		json_t *status;

		/* As many points of the run as the sparkline has cells. */
		screen_size(&rows, &cols);
		status = fetch(path, "status", screen ? (cols > 38 ? cols - 31 : 8) : 60);

		if (!status) {
			screen_leave();
			fprintf(stderr, "memtracectl: top: memtraced refused status\n");
			return EXIT_ERROR;
		}
		json_decref(fr.status);
		json_decref(fr.threads);
		json_decref(fr.stacks);
		fr.status = status;
		fr.threads = fetch(path, "threads", 1000);
		fr.stacks = fetch(path, "stacks", 50);
		if (last_ns && start > last_ns)
			fr.events_per_s = (double)(jint(status, "events.recorded") - last_events) /
					  ((double)(start - last_ns) / 1e9);
		last_events = jint(status, "events.recorded");
		last_ns = start;
		if (screen && !n)
			screen_enter();
		if (screen)
			draw(&fr);
		else
			draw_line(&fr);
		if (top_iterations && n + 1 >= top_iterations)
			break;
		quit = wait_key(start + top_interval_ns, &fr, screen);
	}
	screen_leave();
	json_decref(fr.status);
	json_decref(fr.threads);
	json_decref(fr.stacks);
	return 0;
}
