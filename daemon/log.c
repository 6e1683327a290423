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
#include <sys/uio.h>
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

#define JOURNAL_FIELDS 16

/*
 * The journal entry of an alert: its figures as MEMTRACE_* fields, and one
 * MEMTRACE_TOP_THREAD field per top thread (journalctl shows them all;
 * MEMTRACE_TOP_THREAD=NAME matches any), each the thread's name as shown.
 */
static void journal_alert(const char *msg, int prio, const char *level, const char *state,
			  uint64_t bytes, uint64_t ceiling, double pct, const char *cause,
			  const char *reason, json_t *top)
{
	char f[JOURNAL_FIELDS][1100];
	struct iovec iov[JOURNAL_FIELDS];
	size_t n = 0, i;
	json_t *t;

	snprintf(f[n++], sizeof(f[0]), "MESSAGE=%s", msg);
	snprintf(f[n++], sizeof(f[0]), "PRIORITY=%d", prio);
	snprintf(f[n++], sizeof(f[0]), "SYSLOG_IDENTIFIER=memtraced");
	snprintf(f[n++], sizeof(f[0]), "MEMTRACE_ALERT_LEVEL=%s", level);
	snprintf(f[n++], sizeof(f[0]), "MEMTRACE_ALERT_STATE=%s", state);
	snprintf(f[n++], sizeof(f[0]), "MEMTRACE_BYTES=%llu", (unsigned long long)bytes);
	snprintf(f[n++], sizeof(f[0]), "MEMTRACE_CEILING=%llu", (unsigned long long)ceiling);
	snprintf(f[n++], sizeof(f[0]), "MEMTRACE_PERCENT=%.1f", pct);
	snprintf(f[n++], sizeof(f[0]), "MEMTRACE_ALERT_CAUSE=%s", cause);
	snprintf(f[n++], sizeof(f[0]), "MEMTRACE_ALERT_REASON=%s", reason);
	json_array_foreach(top, i, t) {
		if (n == JOURNAL_FIELDS)
			break;
		snprintf(f[n++], sizeof(f[0]), "MEMTRACE_TOP_THREAD=%s",
			 json_string_value(json_object_get(t, "name")) ?: "");
	}
	for (i = 0; i < n; i++)
		iov[i] = (struct iovec){f[i], strlen(f[i])};
	sd_journal_sendv(iov, (int)n);
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
	char b1[16], b2[16], b3[16], msg[1024], tops[3 * MT_NAME_MAX + 64] = "";
	int raised = state && !strcmp(state, "raised");
	int prio = !raised ? LOG_NOTICE : !strcmp(level, "crit") ? LOG_CRIT : LOG_WARNING;
	const char *weighs = json_string_value(json_object_get(a, "weighs"));
	const char *held = weighs && !strcmp(weighs, "direct") ? "direct_bytes" : "chunk_bytes";
	size_t i, n = 0;
	json_t *t;

	json_array_foreach(top, i, t) {
		if (i == 3)
			break;
		n += (size_t)snprintf(tops + n, sizeof(tops) - n, "%s%s %s", i ? ", " : "; top: ",
				      json_string_value(json_object_get(t, "name")),
				      mt_format_size((uint64_t)json_integer_value(
							     json_object_get(t, held)),
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
		journal_alert(msg, prio, level, state, bytes, ceiling, pct, cause ? cause : "percent",
			      reason ? reason : "", top);
}
