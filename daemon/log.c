/*
 * log.c - the daemon's logging (the OpenBSD log.h shape).
 *
 * log_warn appends strerror(errno); log_warnx does not.  Lines go to stderr
 * prefixed with "memtraced: "; debug lines only with -v.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include "libtrace.h"
#include "log.h"

static int log_verbose;

/* Set the verbosity. */
void log_init(int verbose)
{
	log_verbose = verbose;
}

/* Write one line with an optional errno suffix. */
static void log_vline(const char *fmt, va_list ap, int err)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err)
		fprintf(stderr, "memtraced: %s: %s\n", msg, strerror(err));
	else
		fprintf(stderr, "memtraced: %s\n", msg);
}

/* Log a warning with errno's text. */
void log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vline(fmt, ap, err);
	va_end(ap);
}

/* Log a warning. */
void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(fmt, ap, 0);
	va_end(ap);
}

/* Log an informational line. */
void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(fmt, ap, 0);
	va_end(ap);
}

/* Log a debug line when verbose. */
void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vline(fmt, ap, 0);
	va_end(ap);
}

/* Log and exit. */
void fatalx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(fmt, ap, 0);
	va_end(ap);
	exit(code);
}

/* Log an alert: one line on stderr and, under systemd, a journal entry with fields. */
void log_alert(json_t *a)
{
	const char *level = json_string_value(json_object_get(a, "level"));
	const char *state = json_string_value(json_object_get(a, "state"));
	const char *cause = json_string_value(json_object_get(a, "cause"));
	const char *reason = json_string_value(json_object_get(a, "reason"));
	double pct = json_number_value(json_object_get(a, "percent"));
	double rate = json_number_value(json_object_get(a, "rate_bytes_per_s"));
	json_t *eta = json_object_get(a, "eta_s"), *top = json_object_get(a, "top_threads");
	uint64_t bytes = (uint64_t)json_integer_value(json_object_get(a, "bytes"));
	uint64_t ceiling = (uint64_t)json_integer_value(json_object_get(a, "ceiling"));
	char b1[16], b2[16], b3[16], msg[512], tops[256] = "";
	int raised = state && !strcmp(state, "raised");
	int prio = !raised ? LOG_NOTICE : !strcmp(level, "crit") ? LOG_CRIT : LOG_WARNING;
	size_t i, n = 0;
	json_t *t;

	json_array_foreach(top, i, t) {
		if (i == 3)
			break;
		n += (size_t)snprintf(tops + n, sizeof(tops) - n, "%s%s %s", i ? ", " : "; top: ",
				      json_string_value(json_object_get(t, "name")),
				      mt_format_size((uint64_t)json_integer_value(
							     json_object_get(t, "chunk_bytes")),
						     b3, sizeof(b3)));
		if (n >= sizeof(tops))
			break;
	}
	{
		char etas[48] = "";

		if (json_is_number(eta))
			snprintf(etas, sizeof(etas), ", ceiling in %.0fs", json_number_value(eta));
		snprintf(msg, sizeof(msg),
			 "ALERT %s %s (%s: %s): %s is %.1f%% of the %s ceiling, %s%s/s%s%s", level,
			 state, cause ? cause : "percent", reason ? reason : "",
			 mt_format_size(bytes, b1, sizeof(b1)), pct,
			 mt_format_size(ceiling, b2, sizeof(b2)), rate >= 0 ? "+" : "-",
			 mt_format_size((uint64_t)(rate >= 0 ? rate : -rate), b3, sizeof(b3)), etas,
			 tops);
	}
	fprintf(stderr, "memtraced: %s\n", msg);
	if (getenv("JOURNAL_STREAM"))
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio, "SYSLOG_IDENTIFIER=memtraced",
				"MEMTRACE_ALERT_LEVEL=%s", level, "MEMTRACE_ALERT_STATE=%s", state,
				"MEMTRACE_BYTES=%llu", (unsigned long long)bytes,
				"MEMTRACE_CEILING=%llu", (unsigned long long)ceiling,
				"MEMTRACE_PERCENT=%.1f", pct, "MEMTRACE_ALERT_CAUSE=%s",
				cause ? cause : "percent", "MEMTRACE_ALERT_REASON=%s",
				reason ? reason : "", NULL);
}
