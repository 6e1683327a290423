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
