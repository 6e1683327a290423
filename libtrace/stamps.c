/*
 * stamps.c - find the timestamps a person would date in leaked bytes.
 *
 * Two kinds, each with a rule chosen so that text is never read as a
 * binary number and a number is never dated out of context:
 *
 * Text: a run of exactly 10 decimal digits (epoch seconds) or 13 (epoch
 * milliseconds) that is a whole number: not part of a longer run of
 * digits, not the fraction of a decimal number (see fraction()), not
 * inside a run of hexadecimal digits (a hash or a UUID that happens to
 * hold ten digits in a row) nor after "0x".
 *
 * Binary: an 8-byte little-endian word at an 8-byte aligned offset, as
 * time_t and Java's long millis are stored.  Seconds have their top four
 * bytes zero, so a pointer (0x00007f..., 0x000055...) never passes; the
 * four low bytes must not be printable text continued by the bytes around
 * them ("abcd" then NUL padding at the end of a string); milliseconds
 * have their top two bytes zero and a nonzero third.
 *
 * Either kind counts only from 2010-01-01 to two years past NOW: a leaked
 * buffer of a running service holds recent times (and expiry times a
 * little ahead), and the bound keeps out durations and counters that
 * happen to have 10 or 13 digits.
 */
#include <stdlib.h>
#include <string.h>

#include "libtrace.h"

#define STAMP_LO 1262304000LL /* 2010-01-01T00:00:00Z */
#define TWO_YEARS (2 * 366 * 86400LL)

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_hex_letter(unsigned char c)
{
	return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_print(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

/* qsort() order of stamps: by offset. */
static int by_offset(const void *a, const void *b)
{
	const struct mt_stamp *x = a, *y = b;

	return (x->off > y->off) - (x->off < y->off);
}

/* Add a stamp to OUT if there is room; returns the new count. */
static size_t add(struct mt_stamp *out, size_t n, size_t max, size_t off, unsigned len,
		  int64_t ms, const char *how)
{
	if (n < max)
		out[n] = (struct mt_stamp){off, len, ms, how};
	return n + 1;
}

/*
 * Whether the digits at B+I are the fraction of a decimal number: after a
 * '.' that follows an integer part of one to three digits ("0.1614644538").
 * A longer run before the dot makes a dotted identifier, whose parts can be
 * times ("574761.1614644538528" in a JavaMail Message-ID).
 */
static int fraction(const unsigned char *b, size_t i)
{
	size_t k = i - 1, digits = 0;

	if (i < 2 || b[k] != '.')
		return 0;
	while (k > 0 && is_digit(b[k - 1]) && digits < 4)
		k--, digits++;
	return digits >= 1 && digits <= 3 && (k == 0 || b[k - 1] != '.');
}

/* The text stamps of B[0, N) into OUT; returns how many there are. */
static size_t text_stamps(const unsigned char *b, size_t n, int64_t lo, int64_t hi,
			  struct mt_stamp *out, size_t max)
{
	size_t count = 0;

	for (size_t i = 0; i < n;) {
		size_t j = i, h0 = i, h1;
		int64_t v = 0;

		if (!is_digit(b[i])) {
			i++;
			continue;
		}
		/* Only a run of 10 or 13 digits is a stamp: longer ones are not read. */
		for (; j < n && is_digit(b[j]); j++)
			if (j - i < 13)
				v = v * 10 + (b[j] - '0');
		/* The run of hex digits around it, to tell a hash from a number. */
		while (h0 > 0 && (is_digit(b[h0 - 1]) || is_hex_letter(b[h0 - 1])))
			h0--;
		for (h1 = j; h1 < n && (is_digit(b[h1]) || is_hex_letter(b[h1])); h1++)
			;
		if ((j - i == 10 || j - i == 13) && h0 == i && h1 == j && !fraction(b, i) &&
		    !(i >= 2 && b[i - 1] == 'x' && b[i - 2] == '0') &&
		    !(i >= 2 && b[i - 1] == 'X' && b[i - 2] == '0')) {
			int64_t ms = j - i == 10 ? v * 1000 : v;

			if (ms >= lo * 1000 && ms <= hi * 1000)
				count = add(out, count, max, i, (unsigned)(j - i), ms,
					    j - i == 10 ? "text, epoch s" : "text, epoch ms");
		}
		i = j;
	}
	return count;
}

/* Whether the 4 bytes at B+I are text that goes on around them. */
static int text_word(const unsigned char *b, size_t n, size_t i)
{
	for (size_t k = 0; k < 4; k++)
		if (!is_print(b[i + k]))
			return 0;
	return (i > 0 && is_print(b[i - 1])) || (i + 8 < n && is_print(b[i + 8]));
}

/* The binary stamps of B[0, N) into OUT; returns how many there are. */
static size_t word_stamps(const unsigned char *b, size_t n, int64_t lo, int64_t hi,
			  struct mt_stamp *out, size_t max)
{
	size_t count = 0;

	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t v = 0;

		for (int k = 7; k >= 0; k--)
			v = v << 8 | b[i + k];
		if (v >> 32 == 0 && (int64_t)v >= lo && (int64_t)v <= hi && !text_word(b, n, i))
			count = add(out, count, max, i, 8, (int64_t)v * 1000, "8 bytes LE, epoch s");
		else if (v >> 48 == 0 && (v >> 40 & 0xff) && (int64_t)v >= lo * 1000 &&
			 (int64_t)v <= hi * 1000)
			count = add(out, count, max, i, 8, (int64_t)v, "8 bytes LE, epoch ms");
	}
	return count;
}

/*
 * Find the timestamps in B[0, N) (see the top comment), NOW being the
 * current time in epoch seconds; up to MAX go into OUT, in offset order.
 * Returns how many there are.
 */
size_t mt_find_stamps(const unsigned char *b, size_t n, int64_t now, struct mt_stamp *out,
		      size_t max)
{
	int64_t hi = now + TWO_YEARS;
	size_t t = text_stamps(b, n, STAMP_LO, hi, out, max);
	size_t all = t + word_stamps(b, n, STAMP_LO, hi, t < max ? out + t : NULL,
				     t < max ? max - t : 0);

	qsort(out, all < max ? all : max, sizeof(*out), by_offset);
	return all;
}
