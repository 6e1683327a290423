/*
 * util.c - size and duration parsing and formatting, clocks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "internal.h"

/* Multiply with overflow check; 0 or -ERANGE. */
static int mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	if (__builtin_mul_overflow(a, b, out))
		return -ERANGE;
	return 0;
}

/* Read leading decimal digits of *S into *V; -EINVAL when there are none. */
static int parse_digits(const char **s, uint64_t *v)
{
	const char *p = *s;
	uint64_t n = 0;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, *p - '0', &n))
			return -ERANGE;
	}
	*s = p;
	*v = n;
	return 0;
}

/* Parse a size with an optional K/M/G/T suffix (powers of 1024, optional "iB"/"B"). */
int mt_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	uint64_t n, v;
	const char *u;
	int err;

	if (!s)
		return -EINVAL;
	if ((err = parse_digits(&s, &n)) < 0)
		return err;
	v = n;
	if (*s) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return -EINVAL;
		u = strchr(units, *s & ~0x20);
		if (!u)
			return -EINVAL;
		for (int i = 0; i <= u - units; i++)
			if ((err = mul_u64(v, 1024, &v)) < 0)
				return err;
		s++;
		if (strcmp(s, "") && strcmp(s, "B") && strcmp(s, "iB"))
			return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Parse a duration: a number with ns, us, ms, s, m, h or d; a bare number is seconds. */
int mt_parse_duration(const char *s, int64_t *out_ns)
{
	static const struct {
		const char *suffix;
		uint64_t ns;
	} units[] = {
		{"ns", 1},	       {"us", 1000},	      {"ms", 1000000},
		{"s", 1000000000ull},  {"", 1000000000ull},   {"m", 60000000000ull},
		{"h", 3600000000000ull}, {"d", 86400000000000ull},
	};
	uint64_t n, v;
	int err;

	if (!s)
		return -EINVAL;
	if ((err = parse_digits(&s, &n)) < 0)
		return err;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s, units[i].suffix))
			continue;
		if ((err = mul_u64(n, units[i].ns, &v)) < 0 || v > INT64_MAX)
			return -ERANGE;
		*out_ns = (int64_t)v;
		return 0;
	}
	return -EINVAL;
}

/* Format BYTES as a short human size ("512", "64.0K", "16.0M"). */
const char *mt_format_size(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	int i = -1;

	if (bytes < 1024) {
		snprintf(buf, size, "%" PRIu64, bytes);
		return buf;
	}
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, size, "%.1f%c", v, units[i]);
	return buf;
}

/* Wall clock in nanoseconds. */
int64_t mt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Monotonic clock in nanoseconds, for deadlines. */
int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Map a wait status to a shell-style exit code. */
int mt_exit_code(int wait_status)
{
	if (WIFEXITED(wait_status))
		return WEXITSTATUS(wait_status);
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return 1;
}
