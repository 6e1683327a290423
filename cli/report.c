/*
 * report.c - memtracectl report: one self-contained HTML page of a run.
 *
 * The page is drawn from one JSON object holding the answers of status
 * (with its timeline: --history), alerts, threads, stacks and suspects:
 * asked of a live daemon here, or read from what memtraced --report
 * wrote at exit (--from), which holds the same answers.  Everything is
 * inline: CSS, SVG and a few lines of script for the flame graph's hover;
 * nothing is fetched.  Every string from the target (argv, thread and
 * frame names, reasons) goes through mt_html_put().
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
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

/* Chart geometry, in SVG user units (pixels at 100%). */
#define CW		960 /* chart width */
#define CH		300 /* chart height */
#define CML		72  /* margins: left, right, top, bottom */
#define CMR		16
#define CMT		16
#define CMB		40
#define FW		1200 /* flame graph width */
#define FRH		18   /* flame graph row height */
#define THREAD_LINES	8
#define FLAME_DEPTH_MAX 512

static const char *const palette[THREAD_LINES] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
						  "#9467bd", "#8c564b", "#e377c2", "#17becf"};

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

static uint64_t jint(json_t *o, const char *path)
{
	return (uint64_t)json_integer_value(jget(o, path));
}

static double jnum(json_t *o, const char *path)
{
	return json_number_value(jget(o, path));
}

/* A string at PATH, "" when absent or not a string (a report file may be hand-made). */
static const char *jstr(json_t *o, const char *path)
{
	const char *s = json_string_value(jget(o, path));

	return s ? s : "";
}

/* A human size into BUF[16]. */
static const char *sz(uint64_t bytes, char *buf)
{
	return mt_format_size(bytes, buf, 16);
}

/* A duration in seconds as "1h 02m", "5m 03s" or "42s" into BUF[32]. */
static const char *dur(double s, char *buf)
{
	if (s < 0 || !isfinite(s))
		snprintf(buf, 32, "-");
	else if (s >= 3600)
		snprintf(buf, 32, "%dh %02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
	else if (s >= 60)
		snprintf(buf, 32, "%dm %02ds", (int)(s / 60), (int)fmod(s, 60));
	else
		snprintf(buf, 32, "%.0fs", s);
	return buf;
}

/* A wall-clock time in ns as "2026-12-06 08:30:01 UTC" into BUF[40]. */
static const char *utc(int64_t ns, char *buf)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, 40, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, 40, "-");
	return buf;
}

/* ---- asking the daemon ---------------------------------------------- */

/* Send REQ (JSON text) to the daemon at SOCK and return its one-line answer; exits 3 without one.
 */
static json_t *report_ask(const char *sock, const char *req)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *line = NULL;
	size_t cap = 0;
	json_t *a = NULL;
	FILE *f;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "memtracectl: no memtraced answers at %s: %s\n", sock,
			strerror(errno));
		exit(EXIT_NODAEMON);
	}
	if (dprintf(fd, "%s\n", req) < 0 || !(f = fdopen(fd, "r"))) {
		fprintf(stderr, "memtracectl: cannot send to %s: %s\n", sock, strerror(errno));
		exit(EXIT_NODAEMON);
	}
	if (getline(&line, &cap, f) > 0)
		a = json_loads(line, 0, NULL);
	free(line);
	fclose(f);
	if (!a) {
		fprintf(stderr, "memtracectl: %s gave no answer to %s\n", sock, req);
		exit(EXIT_NODAEMON);
	}
	return a;
}

/*
 * The report object from the live daemon at SOCK: the same answers, with
 * the same requests, as memtraced --report writes.  NULL (said) when the
 * status is refused.
 */
static json_t *report_live(const char *sock)
{
	static const struct {
		const char *key, *req;
	} parts[] = {
	    {"status", "{\"cmd\":\"status\",\"history\":true,\"history_limit\":1025}"},
	    {"alerts", "{\"cmd\":\"alerts\",\"limit\":256}"},
	    {"threads", "{\"cmd\":\"threads\",\"limit\":100000,\"all\":true}"},
	    {"stacks", "{\"cmd\":\"stacks\",\"limit\":100000}"},
	    {"suspects", "{\"cmd\":\"suspects\",\"limit\":20}"},
	};
	json_t *r = json_object();

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		json_t *a = report_ask(sock, parts[i].req);

		if (!json_is_true(json_object_get(a, "ok"))) {
			fprintf(stderr, "memtracectl: report: %s: %s (%s)\n", parts[i].key,
				jstr(a, "error.message"), jstr(a, "error.code"));
			json_decref(a);
			if (!i) {
				json_decref(r);
				return NULL;
			}
			continue;
		}
		json_object_set_new(r, parts[i].key, a);
	}
	return r;
}

/* ---- charts --------------------------------------------------------- */

/* A chart's scales: time (ns) and bytes to SVG coordinates. */
struct scale {
	int64_t t0, t1;
	double ymax;
};

static double sx(const struct scale *s, int64_t t)
{
	double span = (double)(s->t1 - s->t0);

	return CML + (span > 0 ? (double)(t - s->t0) / span : 0) * (CW - CML - CMR);
}

static double sy(const struct scale *s, double bytes)
{
	return CH - CMB - (s->ymax > 0 ? bytes / s->ymax : 0) * (CH - CMT - CMB);
}

/* A step for about N byte ticks over SPAN: a power of two (256M, 512M, 1G). */
static double byte_step(double span, int n)
{
	double step = 1;

	while (step * n < span && step < 1e19)
		step *= 2;
	return step;
}

/* A step for about N time ticks over SPAN seconds: 1, 2, 5, 10, 15, 30 s, 1, 2, 5... min, hours. */
static double time_step(double span, int n)
{
	static const double steps[] = {1,   2,	 5,    10,   15,   30,	  60,	 120,	300,
				       600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i] * n >= span)
			return steps[i];
	return 86400 * ceil(span / n / 86400);
}

/* The axes, grid and tick labels of a chart with scale S. */
static void axes(FILE *f, const struct scale *s)
{
	double ystep = byte_step(s->ymax, 5), span = (double)(s->t1 - s->t0) / 1e9;
	double tstep = time_step(span, 6);
	char b[16], d[32];

	for (double y = 0; y <= s->ymax; y += ystep)
		fprintf(f,
			"<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
			"<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			CML, CW - CMR, sy(s, y), sy(s, y), CML - 6, sy(s, y) + 4,
			sz((uint64_t)y, b));
	for (double t = 0; t <= span + 1e-9; t += tstep) {
		double x = sx(s, s->t0 + (int64_t)(t * 1e9));

		fprintf(
		    f,
		    "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>"
		    "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
		    x, x, CMT, CH - CMB, x, CH - CMB + 16, dur(t, d));
	}
	fprintf(f,
		"<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>"
		"<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>"
		"<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"end\">time since the first "
		"sample</text>\n",
		CML, CW - CMR, CH - CMB, CH - CMB, CML, CML, CMT, CH - CMB, CW - CMR, CH - 4);
}

/* A horizontal line at BYTES with a label (at the RIGHT end, or the left), within the chart. */
static void hline(FILE *f, const struct scale *s, uint64_t bytes, const char *cls,
		  const char *label, int right)
{
	char b[16];

	if (!bytes || (double)bytes > s->ymax)
		return;
	fprintf(
	    f,
	    "<line class=\"%s\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"><title>%s %s</title>"
	    "</line><text class=\"%s-label\" x=\"%d\" y=\"%.1f\" text-anchor=\"%s\">%s %s</text>\n",
	    cls, CML, CW - CMR, sy(s, (double)bytes), sy(s, (double)bytes), label, sz(bytes, b),
	    cls, right ? CW - CMR - 4 : CML + 4, sy(s, (double)bytes) - 4, right ? "end" : "start",
	    label, sz(bytes, b));
}

/* The polyline of KEY's bytes in every history point. */
static void series(FILE *f, const struct scale *s, json_t *hist, const char *key, const char *cls)
{
	size_t i;
	json_t *p;

	fprintf(f, "<polyline class=\"%s\" points=\"", cls);
	for (i = 0; (p = json_array_get(hist, i)); i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "", sx(s, (int64_t)jint(p, "time_ns")),
			sy(s, (double)jint(p, key)));
	fprintf(f, "\"/>\n");
}

/*
 * The timeline: weighed and chunk bytes, the ceiling and the warn and crit
 * lines, each alert marked, and the projection at the current growth rate
 * (drawn at most half the run's length ahead, labelled with the time to
 * the ceiling; none once the target has exited).
 */
static void timeline_svg(FILE *f, json_t *st, json_t *alerts)
{
	json_t *hist = jget(st, "history"), *p, *a;
	size_t n = json_array_size(hist), i;
	uint64_t ceiling = jint(st, "ceiling.bytes"), last;
	double rate = jnum(st, "growth.rate_bytes_per_s"), eta = -1, ymax = (double)ceiling;
	int64_t tl, pend = 0;
	struct scale s;
	char b[16], d[32], t[40];

	if (!n) {
		fprintf(
		    f, "<p class=\"none\">No samples yet: the daemon samples once a second.</p>\n");
		return;
	}
	s.t0 = (int64_t)jint(json_array_get(hist, 0), "time_ns");
	tl = s.t1 = (int64_t)jint(json_array_get(hist, n - 1), "time_ns");
	last = jint(json_array_get(hist, n - 1), "bytes");
	for (i = 0; (p = json_array_get(hist, i)); i++)
		ymax = fmax(ymax, fmax((double)jint(p, "bytes"), (double)jint(p, "chunk_bytes")));
	json_array_foreach(jget(alerts, "alerts"), i, a)
	{
		if ((int64_t)jint(a, "time_ns") > s.t1)
			s.t1 = (int64_t)jint(a, "time_ns");
		ymax = fmax(ymax, (double)jint(a, "bytes"));
	}
	if (json_is_number(jget(st, "growth.eta_s")))
		eta = jnum(st, "growth.eta_s");
	/* A target that has exited grows no more: no projection. */
	if (eta > 0 && rate > 0 && ceiling && strcmp(jstr(st, "target.state"), "exited")) {
		/* At most half the span ahead (a far ceiling would squash the run). */
		double ahead = fmin(eta, fmax((double)(s.t1 - s.t0) / 2e9, 10));

		pend = tl + (int64_t)(ahead * 1e9);
		s.t1 = pend > s.t1 ? pend : s.t1;
		ymax = fmax(ymax, (double)last + rate * ahead);
	}
	if (s.t1 <= s.t0)
		s.t1 = s.t0 + 1000000000;
	s.ymax = fmax(ymax * 1.08, 1);
	fprintf(
	    f,
	    "<svg id=\"timeline\" class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
	    "role=\"img\" aria-label=\"weighed and chunk bytes over time\">\n",
	    CW, CH, CW, CH);
	axes(f, &s);
	hline(f, &s, ceiling, "ceiling", "ceiling", 1);
	hline(f, &s, (uint64_t)((double)ceiling * jnum(st, "ceiling.warn_percent") / 100), "warn",
	      "warn", 0);
	hline(f, &s, (uint64_t)((double)ceiling * jnum(st, "ceiling.crit_percent") / 100), "crit",
	      "crit", 0);
	/* Chunk bytes dashed over the weighed line: where they are the same, both show. */
	series(f, &s, hist, "bytes", "weighed");
	series(f, &s, hist, "chunk_bytes", "chunk");
	if (pend) {
		double ahead = (double)(pend - tl) / 1e9;

		fprintf(
		    f,
		    "<line class=\"projection\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\">"
		    "<title>projection at %s/s: the ceiling in %s</title></line>"
		    "<text class=\"projection-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">"
		    "ceiling in %s</text>\n",
		    sx(&s, tl), sy(&s, (double)last), sx(&s, pend),
		    sy(&s, (double)last + rate * ahead), sz((uint64_t)rate, b), dur(eta, d),
		    sx(&s, pend) - 4, sy(&s, (double)last + rate * ahead) + 14, dur(eta, d));
	}
	json_array_foreach(jget(alerts, "alerts"), i, a)
	{
		int64_t at = (int64_t)jint(a, "time_ns");
		int raised = !strcmp(jstr(a, "state"), "raised");
		double x = sx(&s, at < s.t0 ? s.t0 : at);

		fprintf(f, "<g class=\"alert %s %s\"><title>alert #%llu %s %s (%s) at %s: ",
			jstr(a, "level"), raised ? "raised" : "cleared",
			(unsigned long long)jint(a, "seq"), jstr(a, "level"), jstr(a, "state"),
			jstr(a, "cause"), utc(at, t));
		mt_html_put(f, jstr(a, "reason"));
		fprintf(f,
			"</title><line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>"
			"<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\"/></g>\n",
			x, x, CMT, CH - CMB, x, sy(&s, (double)jint(a, "bytes")));
	}
	fprintf(f, "</svg>\n<p class=\"legend\"><span class=\"k weighed\"></span>weighed bytes "
		   "<span class=\"k chunk\"></span>chunk bytes <span class=\"k ceiling\"></span>"
		   "ceiling <span class=\"k warn\"></span>warn <span class=\"k crit\"></span>crit "
		   "<span class=\"k projection\"></span>projection "
		   "<span class=\"dot warn\"></span>alert (hollow: cleared)</p>\n");
}

/* The name of thread TID from the threads answer, or "". */
static const char *thread_name(json_t *threads, pid_t tid)
{
	size_t i;
	json_t *t;

	for (i = 0; (t = json_array_get(jget(threads, "threads"), i)); i++)
		if ((pid_t)jint(t, "tid") == tid)
			return jstr(t, "name");
	return "";
}

/*
 * Thread TID's outstanding bytes at history point P into *V: known when it
 * is among the point's threads, or 0 when the point lists fewer than it
 * keeps (everyone else holds nothing); else unknown (0 returned).
 */
static int thread_at(json_t *p, pid_t tid, double *v)
{
	json_t *ths = jget(p, "threads"), *t;
	size_t i;

	for (i = 0; (t = json_array_get(ths, i)); i++) {
		if ((pid_t)jint(t, "tid") == tid) {
			*v = (double)jint(t, "bytes");
			return 1;
		}
	}
	*v = 0;
	return json_array_size(ths) < MT_TL_THREADS;
}

/* A thread and the most it held at any point. */
struct tid_max {
	pid_t tid;
	uint64_t max;
};

/* Most held first, then by tid. */
static int tid_max_cmp(const void *a, const void *b)
{
	const struct tid_max *x = a, *y = b;

	if (x->max != y->max)
		return x->max < y->max ? 1 : -1;
	return (x->tid > y->tid) - (x->tid < y->tid);
}

/*
 * Outstanding bytes over time of the threads that held the most (the
 * timeline keeps the top MT_TL_THREADS of each sample); a line breaks
 * where its thread was outside a sample's top.
 */
static void threads_svg(FILE *f, json_t *st, json_t *threads)
{
	json_t *hist = jget(st, "history"), *p, *t;
	size_t n = json_array_size(hist), i, k, nt = 0, cap = 0;
	struct tid_max *top = NULL;
	struct scale s;

	/* Every thread met, with the most it held; the THREAD_LINES biggest are drawn. */
	for (i = 0; (p = json_array_get(hist, i)); i++)
		for (k = 0; (t = json_array_get(jget(p, "threads"), k)); k++) {
			pid_t tid = (pid_t)jint(t, "tid");
			size_t j;

			for (j = 0; j < nt && top[j].tid != tid; j++)
				;
			if (j == nt) {
				if (nt == cap) {
					struct tid_max *g =
					    realloc(top, (cap = cap ? cap * 2 : 16) * sizeof(*g));

					if (!g)
						break;
					top = g;
				}
				top[nt].tid = tid;
				top[nt++].max = 0;
			}
			if (jint(t, "bytes") > top[j].max)
				top[j].max = jint(t, "bytes");
		}
	if (nt)
		qsort(top, nt, sizeof(*top), tid_max_cmp);
	if (nt > THREAD_LINES)
		nt = THREAD_LINES;
	if (!n || !nt) {
		fprintf(f,
			"<p class=\"none\">No thread held outstanding bytes at any sample.</p>\n");
		free(top);
		return;
	}
	s.t0 = (int64_t)jint(json_array_get(hist, 0), "time_ns");
	s.t1 = (int64_t)jint(json_array_get(hist, n - 1), "time_ns");
	if (s.t1 <= s.t0)
		s.t1 = s.t0 + 1000000000;
	s.ymax = 1;
	for (i = 0; i < nt; i++)
		s.ymax = fmax(s.ymax, (double)top[i].max * 1.08);
	fprintf(f,
		"<svg id=\"threads-chart\" class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" "
		"height=\"%d\" role=\"img\" aria-label=\"outstanding bytes per thread\">\n",
		CW, CH, CW, CH);
	axes(f, &s);
	for (i = 0; i < nt; i++) {
		int open = 0;

		fprintf(f, "<g class=\"thread\" data-tid=\"%d\" stroke=\"%s\"><title>", top[i].tid,
			palette[i]);
		mt_html_put(f, thread_name(threads, top[i].tid));
		fprintf(f, " (%d)</title>\n", top[i].tid);
		json_array_foreach(hist, k, p)
		{
			double v;

			if (!thread_at(p, top[i].tid, &v)) {
				if (open)
					fprintf(f, "\"/>\n");
				open = 0;
				continue;
			}
			fprintf(f, "%s%.1f,%.1f", open ? " " : "<polyline points=\"",
				sx(&s, (int64_t)jint(p, "time_ns")), sy(&s, v));
			open = 1;
		}
		if (open)
			fprintf(f, "\"/>\n");
		fprintf(f, "</g>\n");
	}
	fprintf(f, "</svg>\n<p class=\"legend\">");
	for (i = 0; i < nt; i++) {
		char b[16];

		fprintf(f, "<span class=\"k\" style=\"border-color:%s\"></span>", palette[i]);
		mt_html_put(f, thread_name(threads, top[i].tid));
		fprintf(f, " (%d, at most %s) ", top[i].tid, sz(top[i].max, b));
	}
	fprintf(f, "</p>\n");
	free(top);
}

/* ---- flame graph ---------------------------------------------------- */

struct node {
	char *name;
	uint64_t bytes;
	struct node *kids;
	size_t nkids, cap;
};

/* The child of N called NAME, added when missing; NULL when out of memory. */
static struct node *node_child(struct node *n, const char *name)
{
	for (size_t i = 0; i < n->nkids; i++)
		if (!strcmp(n->kids[i].name, name))
			return &n->kids[i];
	if (n->nkids == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 4;
		struct node *k = realloc(n->kids, cap * sizeof(*k));

		if (!k)
			return NULL;
		n->kids = k;
		n->cap = cap;
	}
	memset(&n->kids[n->nkids], 0, sizeof(n->kids[0]));
	if (!(n->kids[n->nkids].name = strdup(name)))
		return NULL;
	return &n->kids[n->nkids++];
}

static void node_free(struct node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		node_free(&n->kids[i]);
	free(n->kids);
	free(n->name);
}

static int node_cmp(const void *a, const void *b)
{
	const struct node *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : strcmp(x->name, y->name);
}

/* The depth of the tree under N (N itself is 1). */
static int node_depth(struct node *n)
{
	int d = 0;

	if (n->nkids)
		qsort(n->kids, n->nkids, sizeof(n->kids[0]), node_cmp);
	for (size_t i = 0; i < n->nkids; i++) {
		int k = node_depth(&n->kids[i]);

		d = k > d ? k : d;
	}
	return d + 1;
}

/* A warm colour for frame NAME, the same for the same name. */
static void frame_colour(const char *name, char *buf)
{
	unsigned h = 2166136261u;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(buf, 32, "hsl(%u,%u%%,%u%%)", 10 + h % 40, 70 + (h >> 8) % 25,
		 55 + (h >> 16) % 15);
}

/* Draw N at depth D from X, TOTAL bytes being the full width. */
static void node_svg(FILE *f, const struct node *n, int d, double x, uint64_t total)
{
	double w = (double)n->bytes / (double)total * FW;
	char b[16], colour[32];

	if (w < 0.5)
		return;
	frame_colour(n->name, colour);
	fprintf(f, "<g class=\"f\" data-bytes=\"%llu\"><title>", (unsigned long long)n->bytes);
	mt_html_put(f, n->name);
	fprintf(f,
		" \xe2\x80\x94 %s, %.2f%%</title><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
		"height=\"%d\" fill=\"%s\"/>",
		sz(n->bytes, b), 100.0 * (double)n->bytes / (double)total, x, d * FRH, w, FRH - 1,
		colour);
	if (w > 28) {
		size_t fit = (size_t)((w - 6) / 7), len = strlen(n->name);
		char *text = strndup(n->name, fit < len ? fit : len);

		if (text) {
			size_t k = strlen(text);

			/* Never cut a UTF-8 sequence. */
			while (k < len && k && ((unsigned char)text[k] & 0xc0) == 0x80)
				text[--k] = '\0';
			if (k < len && k && ((unsigned char)text[k - 1] & 0xc0) == 0xc0)
				text[--k] = '\0';
			fprintf(f, "<text x=\"%.1f\" y=\"%d\">", x + 3, d * FRH + FRH - 5);
			mt_html_put(f, text);
			fprintf(f, "%s</text>", k < len ? ".." : "");
			free(text);
		}
	}
	fprintf(f, "</g>\n");
	for (size_t i = 0; i < n->nkids; i++) {
		node_svg(f, &n->kids[i], d + 1, x, total);
		x += (double)n->kids[i].bytes / (double)total * FW;
	}
}

/*
 * An icicle of outstanding bytes by allocating stack: the root on top,
 * each row a frame, as wide as the bytes allocated through it (the folded
 * data stacks --folded prints).
 */
static void flame_svg(FILE *f, json_t *stacks)
{
	struct node root = {.name = strdup("all")};
	size_t i;
	json_t *st;
	int depth;

	json_array_foreach(jget(stacks, "stacks"), i, st)
	{
		json_t *frames = jget(st, "frames");
		size_t n = json_array_size(frames);
		uint64_t b = jint(st, "bytes");
		struct node *at = &root;
		char buf[1024];

		root.bytes += b;
		if (!jint(st, "id") || !n)
			if ((at = node_child(at, "[no stack]")))
				at->bytes += b;
		/* Stacks from the daemon are at most MT_STACK_MAX deep; a made-up file may not be.
		 */
		if (n > FLAME_DEPTH_MAX)
			n = FLAME_DEPTH_MAX;
		for (size_t k = n; at && k-- > 0;) {
			at = node_child(at, mt_folded_frame(jstr(json_array_get(frames, k), ""),
							    buf, sizeof(buf)));
			if (at)
				at->bytes += b;
		}
	}
	if (!root.bytes) {
		fprintf(f, "<p class=\"none\">No outstanding bytes: nothing to draw.</p>\n");
		node_free(&root);
		return;
	}
	depth = node_depth(&root);
	fprintf(f,
		"<div id=\"flame-info\" class=\"info\">Hover a frame for its bytes.</div>\n"
		"<svg id=\"flame\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
		"aria-label=\"outstanding bytes by allocating stack\">\n",
		FW, depth * FRH, FW, depth * FRH);
	node_svg(f, &root, 0, 0, root.bytes);
	fprintf(f, "</svg>\n");
	node_free(&root);
}

/* ---- tables --------------------------------------------------------- */

/* A summary row: header H, a cell of text V (escaped), its id and, when RAW, its exact value. */
static void row(FILE *f, const char *id, const char *h, const char *v, const json_t *raw)
{
	fprintf(f, "<tr id=\"%s\"><th>%s</th><td", id, h);
	if (json_is_integer(raw))
		fprintf(f, " data-value=\"%lld\"", (long long)json_integer_value(raw));
	fprintf(f, ">");
	mt_html_put(f, v);
	fprintf(f, "</td></tr>\n");
}

/* The status a user pastes first: the target, the bytes against the ceiling, the growth. */
static void summary_table(FILE *f, json_t *st)
{
	char v[512], b[4][16], d[32], d2[32];
	size_t i, n = 0;
	json_t *w;

	v[0] = '\0';
	for (i = 0; n < sizeof(v) && (w = json_array_get(jget(st, "target.argv"), i)); i++)
		n += (size_t)snprintf(v + n, sizeof(v) - n, "%s%s", i ? " " : "", jstr(w, ""));
	fprintf(f, "<table id=\"summary-table\" class=\"kv\">\n");
	row(f, "sum-target", "target", v, NULL);
	snprintf(v, sizeof(v), "%d, %s (%s)", (int)jint(st, "target.pid"), jstr(st, "target.state"),
		 jstr(st, "target.mode"));
	row(f, "sum-pid", "pid, state", v, jget(st, "target.pid"));
	row(f, "sum-uptime", "traced for", dur(jnum(st, "target.uptime_s"), d), NULL);
	snprintf(v, sizeof(v), "%s (%.1f%% of the ceiling)",
		 sz(jint(st, "ceiling.weighed_bytes"), b[0]), jnum(st, "ceiling.used_percent"));
	row(f, "sum-weighed", "weighed bytes", v, jget(st, "ceiling.weighed_bytes"));
	snprintf(v, sizeof(v), "%s (%s)",
		 jint(st, "ceiling.bytes") ? sz(jint(st, "ceiling.bytes"), b[0]) : "none",
		 jstr(st, "ceiling.source"));
	row(f, "sum-ceiling", "ceiling", v, jget(st, "ceiling.bytes"));
	snprintf(v, sizeof(v), "%s (warn at %g%%, crit at %g%%)", jstr(st, "ceiling.level"),
		 jnum(st, "ceiling.warn_percent"), jnum(st, "ceiling.crit_percent"));
	row(f, "sum-level", "alert level", v, NULL);
	snprintf(v, sizeof(v), "%llu chunks, %s (chunk size %s, %s)",
		 (unsigned long long)jint(st, "chunks.count"), sz(jint(st, "chunks.bytes"), b[0]),
		 sz(jint(st, "chunks.size"), b[1]), jstr(st, "chunks.size_source"));
	row(f, "sum-chunks", "chunks", v, jget(st, "chunks.bytes"));
	snprintf(v, sizeof(v), "%llu mappings, %s",
		 (unsigned long long)jint(st, "outstanding.count"),
		 sz(jint(st, "outstanding.bytes"), b[0]));
	row(f, "sum-outstanding", "outstanding", v, jget(st, "outstanding.bytes"));
	snprintf(v, sizeof(v), "%s%s/s over %s, %s; ceiling in %s",
		 jnum(st, "growth.rate_bytes_per_s") < 0 ? "-" : "+",
		 sz((uint64_t)fabs(jnum(st, "growth.rate_bytes_per_s")), b[0]),
		 dur(jnum(st, "growth.window_s"), d), jstr(st, "growth.trend"),
		 json_is_number(jget(st, "growth.eta_s")) ? dur(jnum(st, "growth.eta_s"), d2)
							  : "never");
	row(f, "sum-growth", "growth", v, NULL);
	snprintf(v, sizeof(v), "%s (%s)", jstr(st, "trend.level"), jstr(st, "trend.reason"));
	row(f, "sum-trend", "trend", v, NULL);
	snprintf(v, sizeof(v), "%llu recorded, %llu dropped",
		 (unsigned long long)jint(st, "events.recorded"),
		 (unsigned long long)jint(st, "events.dropped"));
	row(f, "sum-events", "events", v, jget(st, "events.recorded"));
	snprintf(v, sizeof(v), "%llu alive, %llu seen; Java names: %s",
		 (unsigned long long)jint(st, "threads.count"),
		 (unsigned long long)jint(st, "threads.seen"),
		 jstr(st, "threads.java_names.state"));
	row(f, "sum-threads", "threads", v, jget(st, "threads.count"));
	snprintf(v, sizeof(v), "memtraced %s, pid %d, RSS %s", jstr(st, "daemon.version"),
		 (int)jint(st, "daemon.pid"), sz(jint(st, "daemon.rss_bytes"), b[0]));
	row(f, "sum-daemon", "daemon", v, NULL);
	fprintf(f, "</table>\n");
}

/* A table cell of bytes: the human size, the exact count in data-bytes. */
static void cell_bytes(FILE *f, uint64_t bytes)
{
	char b[16];

	fprintf(f, "<td class=\"num\" data-bytes=\"%llu\">%s</td>", (unsigned long long)bytes,
		sz(bytes, b));
}

/* The threads holding the most outstanding bytes (names are Java's where known). */
static void threads_table(FILE *f, json_t *threads)
{
	size_t i;
	json_t *t;

	fprintf(f, "<table id=\"threads-table\"><tr><th>tid</th><th>name</th><th>comm</th>"
		   "<th>alive</th><th>outstanding</th><th>mappings</th><th>chunks</th>"
		   "<th>mapped</th><th>unmapped</th></tr>\n");
	json_array_foreach(jget(threads, "threads"), i, t)
	{
		if (i >= 20 || !jint(t, "outstanding.bytes"))
			break;
		fprintf(f, "<tr><td class=\"num\">%d</td><td>", (int)jint(t, "tid"));
		mt_html_put(f, jstr(t, "name"));
		fprintf(f, "</td><td>");
		mt_html_put(f, jstr(t, "comm"));
		fprintf(f, "</td><td>%s</td>", json_is_true(jget(t, "alive")) ? "yes" : "no");
		cell_bytes(f, jint(t, "outstanding.bytes"));
		fprintf(f, "<td class=\"num\">%llu</td>",
			(unsigned long long)jint(t, "outstanding.count"));
		cell_bytes(f, jint(t, "chunks.bytes"));
		cell_bytes(f, jint(t, "mapped.bytes"));
		cell_bytes(f, jint(t, "unmapped.bytes"));
		fprintf(f, "</tr>\n");
	}
	fprintf(f, "</table>\n");
}

/* FRAMES (innermost first), at most MAX of them, one a line. */
static void frames_cell(FILE *f, json_t *frames, size_t max)
{
	size_t i;
	json_t *fr;

	fprintf(f, "<td class=\"frames\">");
	if (!json_array_size(frames))
		fprintf(f, "(no stack captured)");
	json_array_foreach(frames, i, fr)
	{
		if (i == max) {
			fprintf(f, "&hellip; %zu more", json_array_size(frames) - max);
			break;
		}
		fprintf(f, "%s", i ? "<br>" : "");
		mt_html_put(f, jstr(fr, ""));
	}
	fprintf(f, "</td>");
}

/* The stacks holding the most outstanding bytes, with their frames. */
static void stacks_table(FILE *f, json_t *stacks, uint64_t outstanding)
{
	size_t i;
	json_t *st;

	fprintf(f, "<table id=\"stacks-table\"><tr><th>#</th><th>outstanding</th>"
		   "<th>mappings</th><th>share</th><th>stack (innermost first)</th></tr>\n");
	json_array_foreach(jget(stacks, "stacks"), i, st)
	{
		if (i >= 15)
			break;
		fprintf(f, "<tr><td class=\"num\">%zu</td>", i + 1);
		cell_bytes(f, jint(st, "bytes"));
		fprintf(f, "<td class=\"num\">%llu</td><td class=\"num\">%.1f%%</td>",
			(unsigned long long)jint(st, "count"),
			outstanding ? 100.0 * (double)jint(st, "bytes") / (double)outstanding
				    : 0.0);
		frames_cell(f, jget(st, "frames"), 12);
		fprintf(f, "</tr>\n");
	}
	fprintf(f, "</table>\n<p class=\"note\">%llu stacks hold %llu mappings.</p>\n",
		(unsigned long long)jint(stacks, "total"),
		(unsigned long long)jint(stacks, "mappings"));
}

/* The allocation sites ranked as leak suspects. */
static void suspects_table(FILE *f, json_t *sus)
{
	size_t i;
	json_t *s;

	fprintf(f, "<table id=\"suspects-table\"><tr><th>#</th><th>verdict</th><th>outstanding</th>"
		   "<th>mappings</th><th>rate</th><th>steadiness</th><th>oldest</th><th>thread</th>"
		   "<th>stack (innermost first)</th></tr>\n");
	json_array_foreach(jget(sus, "suspects"), i, s)
	{
		char b[16], d[32];
		double r = jnum(s, "rate_bytes_per_s");

		fprintf(f, "<tr><td class=\"num\">%llu</td><td class=\"verdict %s\">%s</td>",
			(unsigned long long)jint(s, "rank"), jstr(s, "verdict"),
			jstr(s, "verdict"));
		cell_bytes(f, jint(s, "bytes"));
		fprintf(f,
			"<td class=\"num\">%llu</td><td class=\"num\">%s%s/s</td>"
			"<td class=\"num\">%.2f</td><td class=\"num\">%s</td><td>",
			(unsigned long long)jint(s, "count"), r < 0 ? "-" : "+",
			sz((uint64_t)fabs(r), b), jnum(s, "steadiness"),
			dur(jnum(s, "oldest_age_s"), d));
		mt_html_put(f, jstr(s, "thread"));
		fprintf(f, " (%d)</td>", (int)jint(s, "tid"));
		frames_cell(f, jget(s, "frames"), 6);
		fprintf(f, "</tr>\n");
	}
	fprintf(f, "</table>\n");
}

/* Every alert, oldest first. */
static void alerts_table(FILE *f, json_t *alerts)
{
	size_t i;
	json_t *a;

	fprintf(f, "<table id=\"alerts-table\"><tr><th>#</th><th>time</th><th>level</th>"
		   "<th>state</th><th>cause</th><th>weighed</th><th>of ceiling</th><th>reason</th>"
		   "</tr>\n");
	json_array_foreach(jget(alerts, "alerts"), i, a)
	{
		char t[40];

		fprintf(f,
			"<tr class=\"%s\"><td class=\"num\">%llu</td><td>%s</td><td>%s</td>"
			"<td>%s</td><td>%s</td>",
			jstr(a, "level"), (unsigned long long)jint(a, "seq"),
			utc((int64_t)jint(a, "time_ns"), t), jstr(a, "level"), jstr(a, "state"),
			jstr(a, "cause"));
		cell_bytes(f, jint(a, "bytes"));
		fprintf(f, "<td class=\"num\">%.1f%%</td><td>", jnum(a, "percent"));
		mt_html_put(f, jstr(a, "reason"));
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table>\n");
}

/* ---- the page ------------------------------------------------------- */

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1240px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;"
    "border-bottom:1px solid #ddd}"
    ".sub,.note,.none{color:#666}table{border-collapse:collapse;margin:4px 0}"
    "th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "td.frames{font:12px ui-monospace,monospace}table.kv th{width:140px}"
    "tr.crit td{background:#fde8e8}tr.warn td{background:#fff4e0}"
    "svg text{font:11px system-ui,sans-serif;fill:#333}"
    ".grid{stroke:#eee}.axis{stroke:#999}"
    "polyline{fill:none;stroke-width:1.6}.weighed{stroke:#1f77b4;stroke-width:2}"
    ".chunk{stroke:#2ca02c;stroke-dasharray:5 3}"
    ".ceiling{stroke:#b00;stroke-width:2}.warn{stroke:#e69500;stroke-dasharray:6 4}"
    ".crit{stroke:#d00;stroke-dasharray:6 4}.projection{stroke:#1f77b4;stroke-dasharray:2 4;"
    "stroke-width:2}"
    ".ceiling-label,.crit-label{fill:#b00}.warn-label{fill:#a66a00}"
    ".projection-label{fill:#1f77b4}"
    "g.alert line{stroke-width:1;stroke-dasharray:2 2}g.alert.warn line{stroke:#e69500}"
    "g.alert.crit line{stroke:#d00}g.alert.warn circle{fill:#e69500;stroke:#e69500}"
    "g.alert.crit circle{fill:#d00;stroke:#d00}g.alert.cleared circle{fill:#fff;"
    "stroke-width:2}"
    "g.thread polyline{stroke-width:2}"
    "#flame g.f rect{stroke:#fff;stroke-width:.5}#flame g.f:hover rect{stroke:#000}"
    "#flame text{font:11px ui-monospace,monospace;fill:#000;pointer-events:none}"
    ".info{font:12px ui-monospace,monospace;min-height:18px;color:#444}"
    ".legend .k{display:inline-block;width:22px;height:0;border-top:3px solid #999;"
    "margin:0 4px 3px 10px}"
    ".legend .k.weighed{border-color:#1f77b4}.legend .k.chunk{border-top:3px dashed #2ca02c}"
    ".legend .k.ceiling{border-color:#b00}.legend .k.warn{border-top:3px dashed #e69500}"
    ".legend .k.crit{border-top:3px dashed #d00}"
    ".legend .k.projection{border-top:3px dotted #1f77b4}"
    ".legend .dot{display:inline-block;width:9px;height:9px;border-radius:5px;"
    "background:#e69500;margin:0 4px 0 10px}";

static const char script[] =
    "(function(){var info=document.getElementById('flame-info');if(!info)return;"
    "document.querySelectorAll('#flame g.f').forEach(function(g){"
    "g.addEventListener('mouseover',function(){"
    "info.textContent=g.querySelector('title').textContent;});});})();";

/* Write the page for report R to F; SOURCE says where the data came from. */
static void report_html(FILE *f, json_t *r, const char *source)
{
	json_t *st = jget(r, "status"), *argv0 = json_array_get(jget(st, "target.argv"), 0);
	char t[40];

	fprintf(f,
		"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		"<meta name=\"generator\" content=\"memtracectl %s\">\n<title>memtrace report: ",
		MT_VERSION);
	mt_html_put(f, argv0 ? jstr(argv0, "") : "?");
	fprintf(f, " (pid %d)</title>\n<style>%s</style>\n</head>\n<body>\n<h1>memtrace report: ",
		(int)jint(st, "target.pid"), style);
	mt_html_put(f, argv0 ? jstr(argv0, "") : "?");
	fprintf(f, "</h1>\n<p class=\"sub\">Written %s from ", utc(mt_now_ns(), t));
	mt_html_put(f, source);
	fprintf(f, ".</p>\n<h2>Status</h2>\n");
	summary_table(f, st);
	fprintf(f, "<h2>Timeline</h2>\n");
	timeline_svg(f, st, jget(r, "alerts"));
	fprintf(f, "<h2>Outstanding bytes per thread</h2>\n");
	threads_svg(f, st, jget(r, "threads"));
	fprintf(f, "<h2>Flame graph: outstanding bytes by allocating stack</h2>\n");
	if (jget(r, "stacks"))
		flame_svg(f, jget(r, "stacks"));
	else
		fprintf(f, "<p class=\"none\">No stacks in this report.</p>\n");
	fprintf(f, "<h2>Top threads</h2>\n");
	threads_table(f, jget(r, "threads"));
	fprintf(f, "<h2>Top stacks</h2>\n");
	stacks_table(f, jget(r, "stacks"), jint(st, "outstanding.bytes"));
	fprintf(f, "<h2>Leak suspects</h2>\n");
	suspects_table(f, jget(r, "suspects"));
	fprintf(f, "<h2>Alerts</h2>\n");
	alerts_table(f, jget(r, "alerts"));
	fprintf(f, "<script>%s</script>\n</body>\n</html>\n", script);
}

/* ---- the command ---------------------------------------------------- */

static void report_usage(FILE *f)
{
	fprintf(f,
		"usage: memtracectl [-s PATH] report --html FILE [--from FILE]\n\n"
		"one self-contained HTML page: timeline, threads, flame graph, tables\n\n"
		"  --html FILE              write the page to FILE (- for stdout)\n"
		"  --from FILE              draw what memtraced --report wrote, not the daemon\n");
}

/* memtracectl report: see report.h. */
int report_main(const char *socket, int argc, char **argv)
{
	const char *html = NULL, *from = NULL;
	char tmp[4200], source[4200];
	json_t *r;
	FILE *f;
	int bad;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			report_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--html") && i + 1 < argc) {
			html = argv[++i];
		} else if (!strcmp(argv[i], "--from") && i + 1 < argc) {
			from = argv[++i];
		} else {
			fprintf(stderr,
				"memtracectl: report: %s '%s'\nTry 'memtracectl report --help'.\n",
				strcmp(argv[i], "--html") && strcmp(argv[i], "--from")
				    ? "unexpected"
				    : "a file is needed after",
				argv[i]);
			return EXIT_USAGE;
		}
	}
	if (!html) {
		fprintf(stderr, "memtracectl: report: --html FILE is needed\n"
				"Try 'memtracectl report --help'.\n");
		return EXIT_USAGE;
	}
	if (from) {
		json_error_t err;

		if (!(r = json_load_file(from, 0, &err))) {
			fprintf(stderr, "memtracectl: report: %s: %s\n", from, err.text);
			return EXIT_ERROR;
		}
		if (!json_is_object(jget(r, "status"))) {
			fprintf(stderr,
				"memtracectl: report: %s is not a memtraced --report file\n", from);
			json_decref(r);
			return EXIT_ERROR;
		}
		snprintf(source, sizeof(source), "the report file %s", from);
	} else {
		if (!(r = report_live(socket)))
			return EXIT_ERROR;
		snprintf(source, sizeof(source), "the daemon at %s", socket);
	}
	if (!strcmp(html, "-")) {
		report_html(stdout, r, source);
		json_decref(r);
		return fflush(stdout) ? EXIT_ERROR : 0;
	}
	/* Written aside and renamed: a reader never sees half a page. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", html);
	if (!(f = fopen(tmp, "we"))) {
		fprintf(stderr, "memtracectl: report: %s: %s\n", tmp, strerror(errno));
		json_decref(r);
		return EXIT_ERROR;
	}
	report_html(f, r, source);
	json_decref(r);
	bad = ferror(f);
	if (fclose(f) || bad || rename(tmp, html) < 0) {
		fprintf(stderr, "memtracectl: report: %s: %s\n", html,
			strerror(errno ? errno : EIO));
		unlink(tmp);
		return EXIT_ERROR;
	}
	return 0;
}
