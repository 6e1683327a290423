/*
 * metrics.c - Prometheus text exposition (format 0.0.4) of a session.
 *
 * Names carry their unit (_bytes, _ratio, _seconds) and counters end in
 * _total, as Prometheus' naming conventions ask.
 *
 * Every series carries target="NAME" (mt_config.name): node_exporter's
 * textfile collector merges the files of every memtraced on a host, and
 * series that differ by nothing would collide.  The PID and the mode, which
 * change with each restart or are fixed per target, ride on one
 * memtrace_target_info series only, so a restart adds one series, not one
 * of every kind.
 */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* Write one metric family's HELP and TYPE lines. */
static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Write V as a label value: backslash, double quote and newline escaped. */
static void label_value(FILE *f, const char *v)
{
	fputc('"', f);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

/* Start a sample line: NAME{target="T"[,KEY="VAL"]} and the space before the value. */
static void series(FILE *f, const char *name, const char *target, const char *key, const char *val)
{
	fprintf(f, "%s{target=", name);
	label_value(f, target);
	if (key) {
		fprintf(f, ",%s=", key);
		label_value(f, val);
	}
	fputs("} ", f);
}

/* Build the exposition text; NULL when out of memory. */
char *mt_metrics_text(struct mt_session *s)
{
	const char *t = s->cfg.name[0] ? s->cfg.name : "unknown";
	struct mt_status st;
	struct mt_growth g;
	struct mt_trend tr;
	char *buf = NULL, pid[16];
	size_t len = 0;
	FILE *f;

	mt_session_status(s, &st);
	mt_session_growth(s, &g);
	mt_session_trend(s, &tr);
	if (!(f = open_memstream(&buf, &len)))
		return NULL;
	family(f, "memtrace_target_info", "gauge",
	       "Always 1: the traced target's PID and mode (launch or attach).");
	snprintf(pid, sizeof(pid), "%d", (int)st.pid);
	fprintf(f, "memtrace_target_info{target=");
	label_value(f, t);
	fprintf(f, ",pid=\"%s\",mode=\"%s\"} 1\n", pid, st.attached ? "attach" : "launch");
	family(f, "memtrace_outstanding_bytes", "gauge", "Bytes of outstanding mappings by size class.");
	for (int c = 0; c < MT_CLASS_COUNT; c++) {
		series(f, "memtrace_outstanding_bytes", t, "class", mt_class_name(c));
		fprintf(f, "%llu\n", (unsigned long long)st.bytes[c]);
	}
	family(f, "memtrace_outstanding_mappings", "gauge", "Outstanding mappings by size class.");
	for (int c = 0; c < MT_CLASS_COUNT; c++) {
		series(f, "memtrace_outstanding_mappings", t, "class", mt_class_name(c));
		fprintf(f, "%llu\n", (unsigned long long)st.count[c]);
	}
	family(f, "memtrace_committed_bytes", "gauge", "Outstanding bytes not PROT_NONE.");
	series(f, "memtrace_committed_bytes", t, NULL, NULL);
	fprintf(f, "%llu\n", (unsigned long long)st.committed_bytes);
	family(f, "memtrace_reserved_bytes", "gauge", "Outstanding PROT_NONE bytes.");
	series(f, "memtrace_reserved_bytes", t, NULL, NULL);
	fprintf(f, "%llu\n", (unsigned long long)st.reserved_bytes);
	family(f, "memtrace_chunk_bytes", "gauge", "Bytes of outstanding chunk-sized mappings.");
	series(f, "memtrace_chunk_bytes", t, NULL, NULL);
	fprintf(f, "%llu\n", (unsigned long long)st.bytes[MT_CLASS_CHUNK]);
	family(f, "memtrace_direct_bytes", "gauge",
	       "Bytes of outstanding direct memory (made on the JVM's Unsafe.allocateMemory path).");
	series(f, "memtrace_direct_bytes", t, NULL, NULL);
	fprintf(f, "%llu\n", (unsigned long long)st.direct_bytes);
	family(f, "memtrace_direct_mappings", "gauge", "Outstanding direct-memory mappings.");
	series(f, "memtrace_direct_mappings", t, NULL, NULL);
	fprintf(f, "%llu\n", (unsigned long long)st.direct_count);
	family(f, "memtrace_direct_in_arenas_bytes", "gauge",
	       "Of the direct bytes, malloc arena growth made on the direct-memory path.");
	series(f, "memtrace_direct_in_arenas_bytes", t, NULL, NULL);
	fprintf(f, "%llu\n", (unsigned long long)st.arena_direct_bytes);
	family(f, "memtrace_direct_hidden_bytes", "gauge",
	       "Bytes in malloc arenas, where direct memory may be out of sight (a bound).");
	series(f, "memtrace_direct_hidden_bytes", t, NULL, NULL);
	fprintf(f, "%llu\n", (unsigned long long)st.hidden_bytes);
	family(f, "memtrace_weighed_bytes", "gauge",
	       "The bytes weighed against the ceiling (direct memory, or chunks).");
	series(f, "memtrace_weighed_bytes", t, NULL, NULL);
	fprintf(f, "%llu\n", (unsigned long long)g.bytes);
	family(f, "memtrace_chunk_size_bytes", "gauge", "The chunk size in force.");
	series(f, "memtrace_chunk_size_bytes", t, NULL, NULL);
	fprintf(f, "%llu\n", (unsigned long long)st.chunk_size);
	family(f, "memtrace_ceiling_bytes", "gauge", "The direct-memory ceiling (0: none).");
	series(f, "memtrace_ceiling_bytes", t, NULL, NULL);
	fprintf(f, "%llu\n", (unsigned long long)st.ceiling);
	family(f, "memtrace_ceiling_used_ratio", "gauge", "Weighed bytes over the ceiling.");
	series(f, "memtrace_ceiling_used_ratio", t, NULL, NULL);
	fprintf(f, "%.6f\n", st.ceiling ? (double)g.bytes / (double)st.ceiling : 0.0);
	family(f, "memtrace_alert_level", "gauge",
	       "Alert level: 0 ok, 1 warn, 2 crit; the higher of percent and trend.");
	series(f, "memtrace_alert_level", t, NULL, NULL);
	fprintf(f, "%d\n", (int)st.level);
	family(f, "memtrace_growth_bytes_per_second", "gauge",
	       "Growth rate of the weighed bytes over the window.");
	series(f, "memtrace_growth_bytes_per_second", t, NULL, NULL);
	fprintf(f, "%.3f\n", g.rate);
	/* The reason in words, for whoever reads the file; a comment, so no series churn. */
	fprintf(f, "# trend: %s\n", tr.reason);
	family(f, "memtrace_trend_level", "gauge",
	       "Trend alert level (steady growth toward the ceiling): 0 ok, 1 warn, 2 crit.");
	series(f, "memtrace_trend_level", t, NULL, NULL);
	fprintf(f, "%d\n", (int)tr.level);
	family(f, "memtrace_trend_eta_seconds", "gauge",
	       "Seconds to the ceiling at the steady growth rate; +Inf when not growing steadily.");
	series(f, "memtrace_trend_eta_seconds", t, NULL, NULL);
	if (tr.eta_s < 0)
		fprintf(f, "+Inf\n");
	else
		fprintf(f, "%.3f\n", tr.eta_s);
	family(f, "memtrace_trend_growth_bytes_per_second", "gauge",
	       "Steady growth rate of the weighed bytes; 0 when not growing steadily.");
	series(f, "memtrace_trend_growth_bytes_per_second", t, NULL, NULL);
	fprintf(f, "%.3f\n", tr.rate);
	family(f, "memtrace_trend_duration_seconds", "gauge",
	       "How long the steady growth has lasted; 0 when not growing steadily.");
	series(f, "memtrace_trend_duration_seconds", t, NULL, NULL);
	fprintf(f, "%.3f\n", tr.duration_s);
	family(f, "memtrace_events_total", "counter", "Memory syscalls recorded, by syscall.");
	for (int i = 0; i < MT_SYS_COUNT; i++) {
		series(f, "memtrace_events_total", t, "syscall", mt_sys_name(i));
		fprintf(f, "%llu\n", (unsigned long long)st.events_by_sys[i]);
	}
	family(f, "memtrace_events_dropped_total", "counter", "Events overwritten in the ring.");
	series(f, "memtrace_events_dropped_total", t, NULL, NULL);
	fprintf(f, "%llu\n", (unsigned long long)st.events_dropped);
	family(f, "memtrace_threads", "gauge", "Live traced threads.");
	series(f, "memtrace_threads", t, NULL, NULL);
	fprintf(f, "%llu\n", (unsigned long long)st.threads_alive);
	family(f, "memtrace_target_running", "gauge", "1 while the target runs.");
	series(f, "memtrace_target_running", t, NULL, NULL);
	fprintf(f, "%d\n", st.state == MT_STATE_RUNNING);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
