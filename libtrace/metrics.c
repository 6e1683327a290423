/*
 * metrics.c - Prometheus text exposition (format 0.0.4) of a session.
 *
 * Names carry their unit (_bytes, _ratio, _seconds) and counters end in
 * _total, as Prometheus' naming conventions ask.
 */
#include <stdio.h>
#include <stdlib.h>

#include "libtrace.h"

/* Write one metric family's HELP and TYPE lines. */
static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Build the exposition text; NULL when out of memory. */
char *mt_metrics_text(struct mt_session *s)
{
	struct mt_status st;
	struct mt_growth g;
	struct mt_trend t;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	mt_session_status(s, &st);
	mt_session_growth(s, &g);
	mt_session_trend(s, &t);
	if (!(f = open_memstream(&buf, &len)))
		return NULL;
	family(f, "memtrace_outstanding_bytes", "gauge", "Bytes of outstanding mappings by size class.");
	for (int c = 0; c < MT_CLASS_COUNT; c++)
		fprintf(f, "memtrace_outstanding_bytes{class=\"%s\"} %llu\n", mt_class_name(c),
			(unsigned long long)st.bytes[c]);
	family(f, "memtrace_outstanding_mappings", "gauge", "Outstanding mappings by size class.");
	for (int c = 0; c < MT_CLASS_COUNT; c++)
		fprintf(f, "memtrace_outstanding_mappings{class=\"%s\"} %llu\n", mt_class_name(c),
			(unsigned long long)st.count[c]);
	family(f, "memtrace_committed_bytes", "gauge", "Outstanding bytes not PROT_NONE.");
	fprintf(f, "memtrace_committed_bytes %llu\n", (unsigned long long)st.committed_bytes);
	family(f, "memtrace_reserved_bytes", "gauge", "Outstanding PROT_NONE bytes.");
	fprintf(f, "memtrace_reserved_bytes %llu\n", (unsigned long long)st.reserved_bytes);
	family(f, "memtrace_chunk_bytes", "gauge", "Bytes of outstanding chunk-sized mappings.");
	fprintf(f, "memtrace_chunk_bytes %llu\n", (unsigned long long)st.bytes[MT_CLASS_CHUNK]);
	family(f, "memtrace_direct_bytes", "gauge",
	       "Bytes of outstanding direct memory (made on the JVM's Unsafe.allocateMemory path).");
	fprintf(f, "memtrace_direct_bytes %llu\n", (unsigned long long)st.direct_bytes);
	family(f, "memtrace_direct_mappings", "gauge", "Outstanding direct-memory mappings.");
	fprintf(f, "memtrace_direct_mappings %llu\n", (unsigned long long)st.direct_count);
	family(f, "memtrace_direct_hidden_bytes", "gauge",
	       "Bytes in malloc arenas, where direct memory may be out of sight (a bound).");
	fprintf(f, "memtrace_direct_hidden_bytes %llu\n", (unsigned long long)st.hidden_bytes);
	family(f, "memtrace_weighed_bytes", "gauge",
	       "The bytes weighed against the ceiling (direct memory, or chunks).");
	fprintf(f, "memtrace_weighed_bytes %llu\n", (unsigned long long)g.bytes);
	family(f, "memtrace_chunk_size_bytes", "gauge", "The chunk size in force.");
	fprintf(f, "memtrace_chunk_size_bytes %llu\n", (unsigned long long)st.chunk_size);
	family(f, "memtrace_ceiling_bytes", "gauge", "The direct-memory ceiling (0: none).");
	fprintf(f, "memtrace_ceiling_bytes %llu\n", (unsigned long long)st.ceiling);
	family(f, "memtrace_ceiling_used_ratio", "gauge", "Weighed bytes over the ceiling.");
	fprintf(f, "memtrace_ceiling_used_ratio %.6f\n",
		st.ceiling ? (double)g.bytes / (double)st.ceiling : 0.0);
	family(f, "memtrace_alert_level", "gauge",
	       "Alert level: 0 ok, 1 warn, 2 crit; the higher of percent and trend.");
	fprintf(f, "memtrace_alert_level %d\n", (int)st.level);
	family(f, "memtrace_growth_bytes_per_second", "gauge",
	       "Growth rate of the weighed bytes over the window.");
	fprintf(f, "memtrace_growth_bytes_per_second %.3f\n", g.rate);
	/* The reason in words, for whoever reads the file; a comment, so no series churn. */
	fprintf(f, "# trend: %s\n", t.reason);
	family(f, "memtrace_trend_level", "gauge",
	       "Trend alert level (steady growth toward the ceiling): 0 ok, 1 warn, 2 crit.");
	fprintf(f, "memtrace_trend_level %d\n", (int)t.level);
	family(f, "memtrace_trend_eta_seconds", "gauge",
	       "Seconds to the ceiling at the steady growth rate; +Inf when not growing steadily.");
	if (t.eta_s < 0)
		fprintf(f, "memtrace_trend_eta_seconds +Inf\n");
	else
		fprintf(f, "memtrace_trend_eta_seconds %.3f\n", t.eta_s);
	family(f, "memtrace_trend_growth_bytes_per_second", "gauge",
	       "Steady growth rate of the weighed bytes; 0 when not growing steadily.");
	fprintf(f, "memtrace_trend_growth_bytes_per_second %.3f\n", t.rate);
	family(f, "memtrace_trend_duration_seconds", "gauge",
	       "How long the steady growth has lasted; 0 when not growing steadily.");
	fprintf(f, "memtrace_trend_duration_seconds %.3f\n", t.duration_s);
	family(f, "memtrace_events_total", "counter", "Memory syscalls recorded, by syscall.");
	for (int i = 0; i < MT_SYS_COUNT; i++)
		fprintf(f, "memtrace_events_total{syscall=\"%s\"} %llu\n", mt_sys_name(i),
			(unsigned long long)st.events_by_sys[i]);
	family(f, "memtrace_events_dropped_total", "counter", "Events overwritten in the ring.");
	fprintf(f, "memtrace_events_dropped_total %llu\n", (unsigned long long)st.events_dropped);
	family(f, "memtrace_threads", "gauge", "Live traced threads.");
	fprintf(f, "memtrace_threads %llu\n", (unsigned long long)st.threads_alive);
	family(f, "memtrace_target_running", "gauge", "1 while the target runs.");
	fprintf(f, "memtrace_target_running %d\n", st.state == MT_STATE_RUNNING);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
