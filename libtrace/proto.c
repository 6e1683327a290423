/*
 * proto.c - the JSON objects of memtrace's protocol, and the daemon's
 * handler of each command of the schema (cmds.c: names, arguments, help).
 *
 * Field names here are an interface: scripts read them.  A field is added,
 * never renamed or reused; see memtrace-protocol(7).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* memtraced's own resident set size in bytes. */
static uint64_t self_rss(void)
{
	unsigned long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return (uint64_t)rss * page_size;
}

/* {"count": C, "bytes": B} */
static json_t *count_bytes(uint64_t count, uint64_t bytes)
{
	return json_pack("{s:I,s:I}", "count", (json_int_t)count, "bytes", (json_int_t)bytes);
}

/* A number, or null when negative (no projection). */
static json_t *json_eta(double eta)
{
	return eta < 0 ? json_null() : json_real(eta);
}

/* The trend alert's state: level, whether the growth is steady, rate, ETA, reason. */
static json_t *trend_json(struct mt_session *s)
{
	struct mt_trend t;

	mt_session_trend(s, &t);
	return json_pack("{s:s,s:b,s:f,s:f,s:o,s:s,s:f,s:f}", "level", mt_level_name(t.level),
			 "steady", t.steady, "rate_bytes_per_s", t.rate, "duration_s", t.duration_s,
			 "eta_s", json_eta(t.eta_s), "reason", t.reason, "eta_warn_s", t.eta_warn_s,
			 "eta_crit_s", t.eta_crit_s);
}

/* What the status should warn the user about. */
static json_t *status_warnings(const struct mt_status *st)
{
	json_t *w = json_array();

	if (!st->threshold_pinned && st->state == MT_STATE_RUNNING)
		json_array_append_new(
			w, json_string("glibc's mmap threshold is not pinned in the target: after the "
				       "first free of a chunk-sized block glibc raises it, and later "
				       "chunks come from malloc arenas, not mmap; they are not counted "
				       "as chunks but show in arena.committed_bytes and arena.brk_bytes"));
	if (!st->ceiling)
		json_array_append_new(w, json_string("no ceiling: give --ceiling, or run a JVM whose "
						     "flags give one; no alerts without it"));
	return w;
}

/*
 * The "direct" object of status: direct memory (made on the JVM's
 * Unsafe.allocateMemory path) as its own figure, what alerts weigh, and
 * how much may be out of sight in malloc arenas, and why.
 */
static json_t *status_direct(const struct mt_status *st)
{
	const char *weighs, *hidden;
	char ver[48] = "";

	if (st->direct_weighing)
		weighs = st->seeded_chunk_bytes ? "all direct memory, and the chunks there before tracing"
						: "all direct memory";
	else if (st->jvm)
		weighs = "chunks by size: no stacks, or no libjvm with Unsafe_AllocateMemory0 seen yet";
	else
		weighs = "chunks by size: not a JVM";
	if (!st->jvm)
		hidden = "not a JVM";
	else if (!st->threshold_pinned)
		hidden = "glibc's mmap threshold is not pinned: once a chunk-sized block is freed, "
			 "glibc raises it and later chunks come from malloc arenas, with no mmap; "
			 "the arena growth they make is weighed (in_arenas_bytes), a chunk placed in "
			 "room an arena already had is not; buffers below the threshold are there too";
	else
		hidden = "buffers below glibc's mmap threshold (128 KiB pinned) live in malloc arenas";
	if (st->netty_version[0])
		snprintf(ver, sizeof(ver), "%d.%d.%d", st->netty_version[0], st->netty_version[1],
			 st->netty_version[2]);
	return json_pack("{s:I,s:I,s:I,s:I,s:b,s:s,s:I,s:I,s:s,s:o}", "count",
			 (json_int_t)st->direct_count, "bytes", (json_int_t)st->direct_bytes,
			 "in_arenas_bytes", (json_int_t)st->arena_direct_bytes, "mmaps",
			 (json_int_t)st->direct_mmaps, "weighed", st->direct_weighing, "weighs",
			 weighs, "seeded_chunk_bytes", (json_int_t)st->seeded_chunk_bytes,
			 "may_be_hidden_bytes", (json_int_t)st->hidden_bytes, "hidden_because",
			 hidden, "netty_version", ver[0] ? json_string(ver) : json_null());
}

/* Most chunks whose residency status reads (one pagemap read each). */
#define CHUNK_RSS_MAX 4096

/*
 * Resident bytes of all chunk mappings; null when there are too many to
 * read quickly (COUNT, from the totals, says so before anything is copied).
 */
static json_t *chunk_rss(struct mt_session *s, uint64_t count)
{
	struct mt_filter f = {.class = MT_CLASS_CHUNK};
	struct mt_mapping *m;
	size_t n, total;
	int64_t sum = 0;

	if (count > CHUNK_RSS_MAX)
		return json_null();
	if (!(m = malloc((count ? count : 1) * sizeof(*m))))
		return json_null();
	if (mt_session_outstanding(s, &f, MT_ORDER_SIZE, m, count, &n, &total) < 0)
		sum = -1;
	for (size_t i = 0; sum >= 0 && i < n && total <= count; i++) {
		int64_t rss;

		/* No dirty figure: pagemap only, without one smaps read per chunk. */
		if (mt_session_residency(s, m[i].start, m[i].len, &rss, NULL) < 0) {
			sum = -1;
			break;
		}
		sum += rss;
	}
	free(m);
	/* More chunks than counted: they came meanwhile; not all were read. */
	return sum < 0 || total > count ? json_null() : json_integer(sum);
}

/* One of the threads holding the most chunk bytes, as JSON. */
static json_t *top_thread_json(const struct mt_top_thread *t)
{
	return json_pack("{s:i,s:o,s:o,s:I,s:I,s:I,s:I}", "tid", t->tid, "name",
			 mt_json_text(t->name), "comm", mt_json_text(t->comm), "chunk_bytes",
			 (json_int_t)t->chunk_bytes, "chunk_count", (json_int_t)t->chunk_count,
			 "direct_bytes", (json_int_t)t->direct_bytes, "direct_count",
			 (json_int_t)t->direct_count);
}

/*
 * The status's threads: counts, where their names come from, and the
 * threads holding the most chunk bytes.
 */
static json_t *status_threads(struct mt_session *s, const struct mt_status *st)
{
	struct mt_top_thread t[5];
	size_t n = mt_session_top_threads(s, t, sizeof(t) / sizeof(t[0]));
	json_t *top = json_array(), *o;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(top, top_thread_json(&t[i]));
	o = json_pack("{s:I,s:I,s:{s:s,s:I,s:I},s:o}", "count", (json_int_t)st->threads_alive, "seen",
		      (json_int_t)st->threads_seen, "java_names", "state",
		      mt_jnames_name(st->java_names), "named", (json_int_t)st->java_named,
		      "dumps", (json_int_t)st->java_dumps, "top", top);
	if (o && st->java_names_note[0])
		json_object_set_new(json_object_get(o, "java_names"), "note",
				    mt_json_text(st->java_names_note));
	return o;
}

/* Build the status object. */
json_t *mt_proto_status(struct mt_session *s)
{
	struct mt_status st;
	struct mt_growth g;
	json_t *argv, *classes, *bysys, *target, *root;
	char **args;
	int64_t now = mt_now_ns();
	double used = 0;

	mt_session_status(s, &st);
	mt_session_growth(s, &g);
	argv = json_array();
	args = mt_session_argv(s);
	for (char **a = args; a && *a; a++)
		json_array_append_new(argv, mt_json_text(*a));
	free(args);
	classes = json_object();
	for (int c = 0; c < MT_CLASS_COUNT; c++)
		json_object_set_new(classes, mt_class_name(c), count_bytes(st.count[c], st.bytes[c]));
	bysys = json_object();
	for (int i = 0; i < MT_SYS_COUNT; i++)
		json_object_set_new(bysys, mt_sys_name(i), json_integer((json_int_t)st.events_by_sys[i]));
	if (st.ceiling)
		used = 100.0 * (double)g.bytes / (double)st.ceiling;

	target = json_pack("{s:i,s:o,s:s,s:s,s:f}", "pid", st.pid, "argv", argv, "state",
			   mt_state_name(st.state), "mode", st.attached ? "attach" : "launch",
			   "uptime_s", (double)((st.end_ns ? st.end_ns : now) - st.start_ns) / 1e9);
	if (st.state == MT_STATE_EXITED && st.pid) {
		json_object_set_new(target, "exit_code", json_integer(mt_exit_code(st.exit_status)));
		if (WIFSIGNALED(st.exit_status))
			json_object_set_new(target, "signal", json_integer(WTERMSIG(st.exit_status)));
	}
	root = json_pack(
		"{s:b,s:i,s:o,"
		"s:{s:I,s:I,s:I,s:I,s:I,s:o},"
		"s:{s:I,s:I,s:I,s:I,s:s},"
		"s:{s:I,s:f,s:s,s:s,s:f,s:f,s:I}}",
		"ok", 1, "protocol", MT_PROTOCOL_VERSION, "target", target,
		"outstanding", "bytes", (json_int_t)st.outstanding_bytes, "count",
		(json_int_t)st.outstanding_count, "reserved_bytes", (json_int_t)st.reserved_bytes,
		"committed_bytes", (json_int_t)st.committed_bytes, "brk_bytes",
		(json_int_t)st.brk_bytes, "classes", classes,
		"chunks", "count", (json_int_t)st.count[MT_CLASS_CHUNK], "bytes",
		(json_int_t)st.bytes[MT_CLASS_CHUNK], "size", (json_int_t)st.chunk_size, "slack",
		(json_int_t)st.chunk_slack, "size_source", st.chunk_source,
		"ceiling", "bytes", (json_int_t)st.ceiling, "used_percent", used, "source",
		st.ceiling_source, "level", mt_level_name(st.level), "warn_percent",
		st.warn_percent, "crit_percent", st.crit_percent, "weighed_bytes",
		(json_int_t)g.bytes);
	json_object_set_new(json_object_get(root, "chunks"), "rss_bytes",
			    chunk_rss(s, st.count[MT_CLASS_CHUNK]));
	json_object_set_new(root, "growth",
			    json_pack("{s:f,s:f,s:f,s:s,s:o}", "window_s", g.window_s,
				      "rate_bytes_per_s", g.rate, "overall_rate_bytes_per_s",
				      g.overall_rate, "trend", g.trend, "eta_s", json_eta(g.eta_s)));
	json_object_set_new(root, "direct", status_direct(&st));
	json_object_set_new(json_object_get(root, "ceiling"), "percent_level",
			    json_string(mt_level_name(st.percent_level)));
	json_object_set_new(root, "trend", trend_json(s));
	json_object_set_new(root, "arena",
			    json_pack("{s:I,s:I,s:b}", "committed_bytes", (json_int_t)st.arena_bytes,
				      "brk_bytes", (json_int_t)st.brk_bytes, "threshold_pinned",
				      st.threshold_pinned));
	json_object_set_new(
		root, "events",
		json_pack("{s:I,s:I,s:I,s:o}", "recorded", (json_int_t)st.events_recorded, "dropped",
			  (json_int_t)st.events_dropped, "children", (json_int_t)st.child_events,
			  "by_syscall", bysys));
	json_object_set_new(root, "threads", status_threads(s, &st));
	json_object_set_new(root, "perf_map",
			    json_pack("{s:s,s:I}", "state", mt_perfmap_name(st.perf_map), "requests",
				      (json_int_t)st.perf_map_requests));
	if (st.perf_map_note[0])
		json_object_set_new(json_object_get(root, "perf_map"), "note",
				    mt_json_text(st.perf_map_note));
	json_object_set_new(root, "seeded",
			    json_pack("{s:I,s:I}", "count", (json_int_t)st.seeded_count, "bytes",
				      (json_int_t)st.seeded_bytes));
	if (st.attached)
		json_object_set_new(
			root, "attach",
			json_pack("{s:f,s:f,s:s,s:b,s:s,s:i}", "held_ms",
				  (double)st.attach_held_ns / 1e6, "seed_ms", (double)st.seed_ns / 1e6,
				  "mode", st.attach_mode == MT_ATTACH_FILTER ? "filter" : "syscall",
				  "keeping", st.keeping, "note", st.attach_note, "guard",
				  (int)st.guard));
	json_object_set_new(root, "warnings", status_warnings(&st));
	json_object_set_new(root, "daemon",
			    json_pack("{s:i,s:I,s:s}", "pid", (int)getpid(), "rss_bytes",
				      (json_int_t)self_rss(), "version", MT_VERSION));
	return root;
}

/* One alert as JSON. */
json_t *mt_proto_alert(const struct mt_alert *a)
{
	json_t *top = json_array(), *o;

	for (size_t i = 0; i < sizeof(a->top) / sizeof(a->top[0]) && a->top[i].tid; i++)
		json_array_append_new(top, top_thread_json(&a->top[i]));
	o = json_pack("{s:I,s:I,s:s,s:s,s:I,s:s,s:{s:I,s:I,s:I,s:I},s:I,s:f,s:f,s:f,s:o,s:s,s:o}",
		      "seq",
			 (json_int_t)a->seq, "time_ns", (json_int_t)a->time_ns, "level",
			 mt_level_name(a->level), "state", a->raised ? "raised" : "cleared", "bytes",
			 (json_int_t)a->bytes, "weighs", a->direct ? "direct" : "chunks", "direct",
			 "bytes", (json_int_t)a->direct_bytes, "count", (json_int_t)a->direct_count,
			 "in_arenas_bytes", (json_int_t)a->arena_direct_bytes, "may_be_hidden_bytes",
			 (json_int_t)a->hidden_bytes, "ceiling",
			 (json_int_t)a->ceiling, "percent",
			 a->ceiling ? 100.0 * (double)a->bytes / (double)a->ceiling : 0.0,
			 "rate_bytes_per_s", a->rate, "overall_rate_bytes_per_s", a->overall_rate,
			 "eta_s", json_eta(a->eta_s), "trend",
			 a->trend ? a->trend : "unknown", "top_threads", top);
	if (o) {
		json_object_set_new(o, "cause", json_string(a->cause ? a->cause : "percent"));
		json_object_set_new(o, "reason", mt_json_text(a->reason));
	}
	return o;
}

/* "0x7f..." for an address: JSON numbers lose precision above 2^53 in many readers. */
static json_t *json_addr(uint64_t a)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%#" PRIx64, a);
	return json_string(buf);
}

/* "rw-p" style protection and sharing. */
static json_t *json_prot(int prot, int flags)
{
	char buf[5] = {prot & PROT_READ ? 'r' : '-', prot & PROT_WRITE ? 'w' : '-',
		       prot & PROT_EXEC ? 'x' : '-', (flags & MAP_TYPE) == MAP_SHARED ? 's' : 'p',
		       '\0'};
	return json_string(buf);
}

/* One event as JSON. */
json_t *mt_proto_event(const struct mt_event *ev, const char *thread)
{
	char text[512];
	const struct sys_ent *e = sys_by_id(ev->sys);
	json_t *args = json_array(), *o;

	for (int i = 0; e && i < e->nargs; i++)
		json_array_append_new(args, json_integer((json_int_t)ev->args[i]));
	mt_event_format(ev, text, sizeof(text));
	o = json_pack("{s:I,s:I,s:i,s:i,s:s,s:o,s:b,s:I,s:I,s:o}", "seq", (json_int_t)ev->seq,
		      "time_ns", (json_int_t)ev->time_ns, "pid", ev->pid, "tid", ev->tid, "syscall",
		      mt_sys_name(ev->sys), "args", args, "done", ev->done, "ret",
		      (json_int_t)ev->ret, "duration_ns", (json_int_t)ev->dur_ns, "text", mt_json_text(text));
	if (o && thread)
		json_object_set_new(o, "thread", mt_json_text(thread));
	if (o && ev->inferred)
		json_object_set_new(o, "inferred", json_true());
	if (o && ev->done && mt_event_failed(ev))
		json_object_set_new(o, "error", json_string(strerrorname_np((int)-ev->ret) ?: "E?"));
	return o;
}

/* An integer argument of REQ, or DEF when absent. */
static json_int_t arg_int(json_t *req, const char *name, json_int_t def)
{
	json_t *v = json_object_get(req, name);

	return v ? json_integer_value(v) : def;
}

/* A string argument of REQ, or DEF when absent. */
static const char *arg_str(json_t *req, const char *name, const char *def)
{
	json_t *v = json_object_get(req, name);

	return v ? json_string_value(v) : def;
}

/* A timeline point as JSON: {"time_ns","bytes","chunk_bytes","outstanding_bytes","threads"}. */
static json_t *point_json(const struct mt_tl_point *p)
{
	json_t *th = json_array();

	for (size_t k = 0; k < MT_TL_THREADS && p->threads[k].tid; k++)
		json_array_append_new(th, json_pack("{s:i,s:I}", "tid", p->threads[k].tid, "bytes",
						    (json_int_t)p->threads[k].bytes));
	return json_pack("{s:I,s:I,s:I,s:I,s:o}", "time_ns", (json_int_t)p->time_ns, "bytes",
			 (json_int_t)p->bytes, "chunk_bytes", (json_int_t)p->chunk_bytes,
			 "outstanding_bytes", (json_int_t)p->outstanding_bytes, "threads", th);
}

/*
 * The "status" command; "history" adds up to history_limit (default 60)
 * points of the timeline, spread over the whole run.
 */
static json_t *cmd_status(struct mt_session *s, json_t *req)
{
	size_t limit = (size_t)arg_int(req, "history_limit", 60), n;
	json_t *o = mt_proto_status(s), *h;
	struct mt_tl_point *p;

	if (!o || !json_is_true(json_object_get(req, "history")))
		return o;
	if (limit > TIMELINE_POINTS + 1)
		limit = TIMELINE_POINTS + 1;
	if (!(p = malloc((limit ? limit : 1) * sizeof(*p)))) {
		json_decref(o);
		return mt_proto_error("no_memory", "out of memory");
	}
	n = mt_session_timeline(s, p, limit);
	h = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(h, point_json(&p[i]));
	free(p);
	json_object_set_new(o, "history", h);
	return o;
}

/* The "alerts" command: the current level and the last alerts. */
static json_t *cmd_alerts(struct mt_session *s, json_t *req)
{
	size_t limit = (size_t)arg_int(req, "limit", 20), n;
	struct mt_alert a[ALERT_RING];
	struct mt_status st;
	uint64_t newest;
	json_t *list = json_array();

	mt_session_status(s, &st);
	n = mt_session_alerts(s, 0, a, ALERT_RING, &newest);
	for (size_t i = n > limit ? n - limit : 0; i < n; i++)
		json_array_append_new(list, mt_proto_alert(&a[i]));
	return json_pack("{s:b,s:s,s:I,s:o}", "ok", 1, "level", mt_level_name(st.level), "newest",
			 (json_int_t)newest, "alerts", list);
}

/* The "watch" command's first answer: the level now; alerts follow as a stream. */
static json_t *cmd_watch(struct mt_session *s, json_t *req)
{
	struct mt_status st;
	struct mt_growth g;

	(void)req;
	mt_session_status(s, &st);
	mt_session_growth(s, &g);
	return json_pack("{s:b,s:s,s:I,s:f}", "ok", 1, "level", mt_level_name(st.level), "ceiling",
			 (json_int_t)st.ceiling, "used_percent",
			 st.ceiling ? 100.0 * (double)g.bytes / (double)st.ceiling : 0.0);
}

/* The "metrics" command: Prometheus text exposition. */
static json_t *cmd_metrics(struct mt_session *s, json_t *req)
{
	char *text;
	json_t *o;

	(void)req;
	if (!(text = mt_metrics_text(s)))
		return mt_proto_error("no_memory", "out of memory");
	o = json_pack("{s:b,s:s}", "ok", 1, "text", text);
	free(text);
	return o;
}

/* The named frames of stack ID as a JSON array (empty for no stack). */
static json_t *stack_json(struct mt_session *s, uint32_t id)
{
	char names[MT_STACK_MAX][256];
	json_t *a = json_array();
	unsigned n = mt_session_stack(s, id, names, MT_STACK_MAX);

	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, mt_json_text(names[i]));
	return a;
}

/* The "outstanding" command: matching mappings, largest (or oldest) first. */
static json_t *cmd_outstanding(struct mt_session *s, json_t *req)
{
	struct mt_filter f = {.class = -1};
	const char *cls = arg_str(req, "class", NULL), *sort = arg_str(req, "sort", "size");
	size_t limit = (size_t)arg_int(req, "limit", 100), n, total;
	struct mt_mapping *m;
	int64_t now = mt_now_ns();
	int with_stacks = json_is_true(json_object_get(req, "stacks"));
	int with_rss = json_is_true(json_object_get(req, "rss"));
	enum mt_order order;
	struct mt_status st;
	json_t *list, *o;

	if (cls && !strcmp(cls, "direct"))
		f.direct = 1;
	else if (cls)
		f.class = mt_class_from_name(cls);
	f.min_size = (uint64_t)arg_int(req, "min_size", 0);
	f.tid = (pid_t)arg_int(req, "tid", 0);
	if (json_object_get(req, "older_than"))
		f.older_than_ns = (int64_t)(json_number_value(json_object_get(req, "older_than")) * 1e9);
	/* No more room than there are mappings: a limit may be far above. */
	mt_session_status(s, &st);
	if (limit > st.outstanding_count)
		limit = st.outstanding_count;
	order = !strcmp(sort, "size") ? MT_ORDER_SIZE
		: !strcmp(sort, "age") ? MT_ORDER_AGE : MT_ORDER_ADDRESS;
	if (!(m = malloc((limit ? limit : 1) * sizeof(*m))) ||
	    mt_session_outstanding(s, &f, order, m, limit, &n, &total) < 0) {
		free(m);
		return mt_proto_error("no_memory", "out of memory");
	}
	list = json_array();
	for (size_t i = 0; i < n && i < limit; i++) {
		json_t *o1 = json_pack("{s:o,s:o,s:I,s:s,s:o,s:b,s:b,s:i,s:o,s:f}", "start",
				  json_addr(m[i].start), "end", json_addr(m[i].start + m[i].len),
				  "length", (json_int_t)m[i].len, "class", mt_class_name(m[i].class),
				  "prot", json_prot(m[i].prot, m[i].flags), "anonymous",
				  !!(m[i].kind & MT_MAP_ANON), "preexisting",
				  !!(m[i].kind & MT_MAP_PREEXISTING), "tid", m[i].tid, "thread",
				  mt_json_text(m[i].name), "age_s",
				  m[i].time_ns ? (double)(now - m[i].time_ns) / 1e9 : 0.0);

		if (!o1)
			continue;
		json_object_set_new(o1, "direct", json_boolean(m[i].kind & MT_MAP_DIRECT));
		json_object_set_new(o1, "stack_id", json_integer(m[i].stack_id));
		json_object_set_new(o1, "id", json_integer((json_int_t)m[i].id));
		if (with_rss) {
			int64_t rss = -1, dirty = -1;

			mt_session_residency(s, m[i].start, m[i].len, &rss, &dirty);
			json_object_set_new(o1, "rss_bytes", rss < 0 ? json_null() : json_integer(rss));
			json_object_set_new(o1, "dirty_bytes",
					    dirty < 0 ? json_null() : json_integer(dirty));
		}
		if (with_stacks)
			json_object_set_new(o1, "stack", stack_json(s, m[i].stack_id));
		json_array_append_new(list, o1);
	}
	free(m);
	o = json_pack("{s:b,s:I,s:I,s:o}", "ok", 1, "total", (json_int_t)total, "count",
		      (json_int_t)json_array_size(list), "mappings", list);
	return o;
}

static int sort_stack_sums(const void *a, const void *b)
{
	const struct mt_stack_sum *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : (x->id > y->id) - (x->id < y->id);
}

/* The "stacks" command: outstanding bytes and counts by allocating stack, largest first. */
static json_t *cmd_stacks(struct mt_session *s, json_t *req)
{
	struct mt_filter f = {.class = -1};
	const char *cls = arg_str(req, "class", NULL);
	size_t limit = (size_t)arg_int(req, "limit", 20), ns;
	uint64_t n;
	struct mt_stack_sum *sums;
	json_t *list;

	if (cls && !strcmp(cls, "direct"))
		f.direct = 1;
	else if (cls)
		f.class = mt_class_from_name(cls);
	if (mt_session_stacks(s, &f, &sums, &ns, &n) < 0)
		return mt_proto_error("no_memory", "out of memory");
	qsort(sums, ns, sizeof(*sums), sort_stack_sums);
	list = json_array();
	for (size_t i = 0; i < ns && i < limit; i++)
		json_array_append_new(list, json_pack("{s:i,s:I,s:I,s:o}", "id", (int)sums[i].id,
						      "count", (json_int_t)sums[i].count, "bytes",
						      (json_int_t)sums[i].bytes, "frames",
						      stack_json(s, sums[i].id)));
	free(sums);
	return json_pack("{s:b,s:I,s:I,s:o}", "ok", 1, "total", (json_int_t)ns, "mappings",
			 (json_int_t)n, "stacks", list);
}

/* The "suspects" command: allocation sites, "allocated, never freed, still growing" first. */
static json_t *cmd_suspects(struct mt_session *s, json_t *req)
{
	size_t limit = (size_t)arg_int(req, "limit", 10);
	struct mt_suspect *v;
	uint64_t untracked;
	ssize_t n = mt_session_suspects(s, &v, &untracked);
	json_t *list;

	if (n < 0)
		return mt_proto_error("no_memory", "out of memory");
	list = json_array();
	for (ssize_t i = 0; i < n && (size_t)i < limit; i++) {
		json_t *o = json_pack(
			"{s:I,s:s,s:f,s:f,s:f,s:i,s:i,s:o,s:I,s:I,s:f,s:f,s:f,s:I}", "rank",
			(json_int_t)i + 1, "verdict", mt_verdict_name(v[i].verdict), "score",
			v[i].score, "steadiness", v[i].steadiness, "age_ratio", v[i].age_ratio,
			"stack_id", (int)v[i].stack_id, "tid", v[i].tid, "thread", mt_json_text(v[i].name),
			"bytes", (json_int_t)v[i].bytes, "count", (json_int_t)v[i].count,
			"rate_bytes_per_s", v[i].rate, "oldest_age_s", v[i].oldest_age_s,
			"tracked_s", v[i].tracked_s, "freed_bytes", (json_int_t)v[i].freed_bytes);

		if (o) {
			json_object_set_new(o, "frames", stack_json(s, v[i].stack_id));
			json_array_append_new(list, o);
		}
	}
	free(v);
	return json_pack("{s:b,s:I,s:I,s:o}", "ok", 1, "total", (json_int_t)n, "untracked_bytes",
			 (json_int_t)untracked, "suspects", list);
}

#define PEEK_DEFAULT 4096
#define PEEK_MAX     (1 << 20)

/* The "peek" command: LENGTH bytes at ADDRESS, or at the mapping made by event ID, in hex. */
static json_t *cmd_peek(struct mt_session *s, json_t *req)
{
	static const char hex[] = "0123456789abcdef";
	const char *as = arg_str(req, "address", NULL);
	uint64_t id = (uint64_t)arg_int(req, "id", 0), addr = 0, len;
	uint64_t limit = (uint64_t)arg_int(req, "length", PEEK_DEFAULT);
	struct mt_mapping m;
	struct mt_peek_gap *gaps = NULL;
	size_t ngaps = 0;
	unsigned char *buf;
	char *text = NULL, *end;
	ssize_t n;
	json_t *o, *list;

	if (!s->cfg.allow_peek)
		return mt_proto_error("denied", "peek is off: start memtraced with --allow-peek");
	if (!!as == !!id)
		return mt_proto_error("bad_arg", "peek: give \"address\" or \"id\", one of them");
	if (limit == 0 || limit > PEEK_MAX)
		return mt_proto_error("bad_arg", "peek: \"length\" is 1 to %d", PEEK_MAX);
	len = limit;
	if (as) {
		/* 0x... is hexadecimal, anything else decimal (never octal). */
		errno = 0;
		addr = strtoull(as, &end, strncmp(as, "0x", 2) && strncmp(as, "0X", 2) ? 10 : 16);
		if (errno || end == as || *end)
			return mt_proto_error("bad_arg", "peek: bad address \"%.32s\"", as);
	} else {
		if (mt_session_mapping_by_id(s, id, &m) < 0)
			return mt_proto_error("not_found", "peek: no outstanding mapping made by event %llu",
					      (unsigned long long)id);
		addr = m.start;
		if (len > m.len)
			len = m.len;
	}
	if (!(buf = malloc(len)) || !(text = malloc(2 * len + 1)) ||
	    !(gaps = calloc(len / 4096 + 2, sizeof(*gaps)))) {
		free(buf);
		free(text);
		return mt_proto_error("no_memory", "out of memory");
	}
	n = mt_session_peek(s, addr, buf, len, gaps, &ngaps);
	if (n < 0) {
		free(buf);
		free(text);
		free(gaps);
		return mt_proto_error("failed", "peek: cannot read %#llx: %s", (unsigned long long)addr,
				      strerror((int)-n));
	}
	for (ssize_t i = 0; i < n; i++) {
		text[2 * i] = hex[buf[i] >> 4];
		text[2 * i + 1] = hex[buf[i] & 15];
	}
	text[2 * n] = '\0';
	/* Where the target has no page, zeros stand in and "gaps" says so. */
	list = json_array();
	for (size_t i = 0; i < ngaps; i++)
		json_array_append_new(list, json_pack("{s:I,s:I,s:s}", "offset",
						      (json_int_t)gaps[i].off, "length",
						      (json_int_t)gaps[i].len, "why", gaps[i].why));
	o = json_pack("{s:b,s:o,s:I,s:s,s:o}", "ok", 1, "address", json_addr(addr), "length",
		      (json_int_t)n, "data", text, "gaps", list);
	free(buf);
	free(text);
	free(gaps);
	return o;
}

static int sort_threads(const void *a, const void *b)
{
	const struct mt_thread *x = a, *y = b;

	if (x->outstanding_bytes != y->outstanding_bytes)
		return x->outstanding_bytes < y->outstanding_bytes ? 1 : -1;
	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* {"count":C,"bytes":B} */
static json_t *cb(uint64_t c, uint64_t b)
{
	return json_pack("{s:I,s:I}", "count", (json_int_t)c, "bytes", (json_int_t)b);
}

/* The "threads" command: per-thread figures, most outstanding bytes first. */
static json_t *cmd_threads(struct mt_session *s, json_t *req)
{
	size_t limit = (size_t)arg_int(req, "limit", 100), cap = 1024, n, total;
	int all = json_is_true(json_object_get(req, "all"));
	struct mt_thread *t = NULL, *grown;
	json_t *list;

	for (;;) {
		grown = realloc(t, cap * sizeof(*t));
		if (!grown) {
			free(t);
			return mt_proto_error("no_memory", "out of memory");
		}
		t = grown;
		n = mt_session_threads(s, t, cap, &total);
		if (total <= cap)
			break;
		cap = total + 64;
	}
	qsort(t, n, sizeof(*t), sort_threads);
	list = json_array();
	for (size_t i = 0; i < n && json_array_size(list) < limit; i++) {
		/* Exited threads that hold nothing and did nothing are noise. */
		if (!all && !t[i].alive && !t[i].outstanding_count)
			continue;
		json_array_append_new(
			list, json_pack("{s:i,s:i,s:o,s:o,s:b,s:b,s:o,s:o,s:o,s:o}", "tid", t[i].tid,
					"pid", t[i].pid, "name", mt_json_text(t[i].name), "comm",
					mt_json_text(t[i].comm), "java", t[i].java, "alive", t[i].alive, "mapped",
					cb(t[i].mapped_count, t[i].mapped_bytes), "unmapped",
					cb(t[i].unmapped_count, t[i].unmapped_bytes), "outstanding",
					cb(t[i].outstanding_count, t[i].outstanding_bytes), "chunks",
					cb(t[i].chunk_count, t[i].chunk_bytes)));
	}
	free(t);
	return json_pack("{s:b,s:I,s:I,s:o}", "ok", 1, "total", (json_int_t)total, "count",
			 (json_int_t)json_array_size(list), "threads", list);
}

#define EVENTS_WINDOW 4096

/*
 * The "events" command: the last LIMIT events matching tid/syscall.  The
 * ring is read backwards a window at a time, each window one short hold of
 * the session lock, so a client asking for a lot never holds up the tracer
 * for long.
 */
static json_t *cmd_events(struct mt_session *s, json_t *req)
{
	size_t limit = (size_t)arg_int(req, "limit", 20), found = 0, cap = 0;
	pid_t tid = (pid_t)arg_int(req, "tid", 0);
	const char *sys = arg_str(req, "syscall", NULL);
	int want = sys ? mt_sys_from_name(sys) : -1;
	struct mt_event *win = malloc(EVENTS_WINDOW * sizeof(*win)), *hits = NULL;
	uint64_t newest, upto, dropped;
	json_t *list = json_array();
	struct mt_names *names;
	struct mt_status st;

	if (!win)
		return mt_proto_error("no_memory", "out of memory");
	mt_session_status(s, &st);
	dropped = st.events_dropped;
	mt_session_events(s, UINT64_MAX - 1, win, 0, &newest);
	/* Windows of seq (upto - EVENTS_WINDOW, upto], newest first, oldest kept last. */
	for (upto = newest; upto > dropped && found < limit;) {
		uint64_t after = upto > EVENTS_WINDOW ? upto - EVENTS_WINDOW : 0, ignored;
		size_t n = mt_session_events(s, after, win, (size_t)(upto - after), &ignored);

		for (size_t i = n; i-- > 0 && found < limit;) {
			if ((tid && win[i].tid != tid) || (want >= 0 && win[i].sys != want))
				continue;
			if (found == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct mt_event *h = realloc(hits, ncap * sizeof(*h));

				if (!h)
					goto out;
				hits = h;
				cap = ncap;
			}
			hits[found++] = win[i];
		}
		if (!n)
			break;
		upto = win[0].seq - 1;
	}
out:
	names = mt_session_names(s, hits, found);
	for (size_t i = found; i-- > 0;)
		json_array_append_new(list, mt_proto_event(&hits[i], mt_names_get(names, hits[i].tid)));
	mt_names_free(names);
	free(win);
	free(hits);
	return json_pack("{s:b,s:I,s:I,s:o}", "ok", 1, "newest", (json_int_t)newest, "dropped",
			 (json_int_t)dropped, "events", list);
}

/* The daemon's side of the protocol: the handler of each command of mt_cmds. */
static const struct {
	const char *name;
	json_t *(*handler)(struct mt_session *s, json_t *req);
} handlers[] = {
	{"status", cmd_status},
	{"outstanding", cmd_outstanding},
	{"threads", cmd_threads},
	{"stacks", cmd_stacks},
	{"suspects", cmd_suspects},
	{"events", cmd_events},
	{"alerts", cmd_alerts},
	{"watch", cmd_watch},
	{"metrics", cmd_metrics},
	{"peek", cmd_peek},
	{NULL, NULL},
};

/* The handler of CMD, or NULL (a command the daemon carries out itself: MT_CMD_DAEMON). */
mt_handler_fn mt_proto_handler(const struct mt_cmd *cmd)
{
	for (size_t i = 0; handlers[i].name; i++)
		if (!strcmp(handlers[i].name, cmd->name))
			return handlers[i].handler;
	return NULL;
}
