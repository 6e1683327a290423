/*
 * test_stamps.c - the timestamp finder of peek over real text and binary
 * records: every date a person would want, and not one false date.
 */
#include <stdint.h>
#include <string.h>

#include "libtrace.h"
#include "unit.h"

#define NOW 1796544000LL /* 2026-12-06T00:00:00Z */

struct want {
	const char *at; /* the text the stamp starts with, found in the input */
	int64_t ms;
	const char *how;
};

/* The stamps of TEXT are exactly WANT[0..N), in order. */
static void stamps_are(const char *text, const struct want *want, size_t n)
{
	struct mt_stamp got[32];
	size_t found = mt_find_stamps((const unsigned char *)text, strlen(text), NOW, got, 32);

	ck_assert_msg(found == n, "found %zu stamps, want %zu (first at %zu)", found, n,
		      found ? got[0].off : 0);
	for (size_t i = 0; i < n; i++) {
		size_t off = (size_t)(strstr(text, want[i].at) - text);

		ck_assert_uint_eq(got[i].off, off);
		ck_assert_int_eq(got[i].ms, want[i].ms);
		ck_assert_str_eq(got[i].how, want[i].how);
	}
}

/* The leaked mail of the issue: both its dates, none from the words around. */
START_TEST(mail_headers)
{
	static const char mail[] =
		"Return-Path: <bounce-7731@lists.example.org>\r\n"
		"Received: from mx1.example.com (mx1.example.com [192.0.2.17])\r\n"
		"\tby smtp.example.net (Postfix) with ESMTPS id 4DqK2B0x3Zz9sWm\r\n"
		"\tfor <ops@example.net>; Tue, 2 Mar 2021 00:22:18 +0000 (UTC)\r\n"
		"Message-ID: <651317388.574761.1614644538528.JavaMail.app@mx1.example.com>\r\n"
		"X-Queue-Epoch: 1614644538\r\n"
		"Date: Tue, 2 Mar 2021 00:22:18 +0000\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"----=_Part_42_1066271431.1614644538\"\r\n"
		"Content-Length: 20480\r\n"
		"X-Mailer: Acme Mailer 4.11.2 build 20210301\r\n"
		"X-Spam-Score: 0.1614644538\r\n"
		"\r\n"
		"Hello, your order 4400123456789 has shipped.\r\n";
	static const struct want want[] = {
		{"1614644538528.", 1614644538528LL, "text, epoch ms"},
		{"1614644538\r\nDate", 1614644538000LL, "text, epoch s"},
		{"1614644538\"", 1614644538000LL, "text, epoch s"},
	};

	stamps_are(mail, want, 3);
}
END_TEST

/* A JSON log line: the timestamp, not the sizes, ids, hashes or durations. */
START_TEST(json_log)
{
	static const char log[] =
		"{\"ts\":1764979200123,\"level\":\"INFO\",\"thread\":\"nioEventLoopGroup-3-1\","
		"\"msg\":\"accepted\",\"bytes\":16777216,\"port\":8080,\"pid\":1234567890,"
		"\"dur_ns\":1234567890123,\"trace\":\"5f2b9c1d7e3a4b60\","
		"\"sha\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\","
		"\"uuid\":\"123e4567-e89b-12d3-a456-426614174000\",\"ratio\":0.1764979200}\n";
	static const struct want want[] = {
		{"1764979200123", 1764979200123LL, "text, epoch ms"},
	};

	stamps_are(log, want, 1);
}
END_TEST

/* HTTP headers: an expiry a year ahead counts; hex ETags and sizes do not. */
START_TEST(http_headers)
{
	static const char http[] =
		"HTTP/1.1 200 OK\r\n"
		"Date: Wed, 03 Mar 2021 10:00:00 GMT\r\n"
		"Set-Cookie: sid=9f86d081884c7d659a2feaa0c55ad015; Expires=1827993600; Path=/\r\n"
		"X-Request-Id: req-1614765600-ab12\r\n"
		"ETag: \"a1b2c3d41614700000ff\"\r\n"
		"Content-Length: 1048576\r\n"
		"X-Phone: +1 2125551234\r\n"
		"Cache-Control: max-age=31536000\r\n\r\n";
	static const struct want want[] = {
		{"1827993600", 1827993600000LL, "text, epoch s"},
		{"1614765600", 1614765600000LL, "text, epoch s"},
	};

	stamps_are(http, want, 2);
}
END_TEST

/* Put V little-endian at B. */
static void put64(unsigned char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

/*
 * A binary record: a pointer, a time_t, Java millis, text whose bytes make
 * a plausible number, a count: the two times only.
 */
START_TEST(binary_words)
{
	unsigned char b[96] = {0};
	struct mt_stamp got[8];
	size_t n;

	put64(b, 0x00007f3a12345678ULL);	 /* a pointer */
	put64(b + 8, 1764979200);		 /* time_t */
	put64(b + 16, 1764979200456ULL);	 /* System.currentTimeMillis() */
	memcpy(b + 24, "nioEventLoopGroup-3-1", 21); /* text: "nioE" etc. */
	memcpy(b + 48, "abcd", 4);		 /* "abcd" then NUL padding, after text */
	b[47] = 'x';
	put64(b + 56, 16777216);		 /* a size */
	put64(b + 64, 0x0000555555554000ULL);	 /* a heap pointer */
	put64(b + 72, 1827993600);		 /* an expiry time a year ahead */
	put64(b + 80, 4000000000ULL);		 /* 2096: too far ahead */
	n = mt_find_stamps(b, sizeof(b), NOW, got, 8);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(got[0].off, 8);
	ck_assert_int_eq(got[0].ms, 1764979200000LL);
	ck_assert_str_eq(got[0].how, "8 bytes LE, epoch s");
	ck_assert_uint_eq(got[1].off, 16);
	ck_assert_int_eq(got[1].ms, 1764979200456LL);
	ck_assert_str_eq(got[1].how, "8 bytes LE, epoch ms");
	ck_assert_uint_eq(got[2].off, 72);
}
END_TEST

/* Ten digits inside a longer number, or at the very edges of the buffer. */
START_TEST(edges)
{
	static const struct want at_start[] = {{"1700000000", 1700000000000LL, "text, epoch s"}};

	stamps_are("1700000000", at_start, 1);
	stamps_are("17000000001", NULL, 0);	/* eleven digits */
	stamps_are("91700000000000", NULL, 0); /* fourteen */
	stamps_are("0x1700000000", NULL, 0);	/* hexadecimal */
	stamps_are("1700000000abc", NULL, 0);	/* part of a hex word */
	stamps_are("999999999", NULL, 0);	/* 2001, nine digits */
	stamps_are("1000000000", NULL, 0);	/* 2001: before 2010 */
	stamps_are("", NULL, 0);
	/*
	 * Found by fuzz/stamps-fuzzer.c: a run of twenty digits or more (an
	 * id, a card number) overflowed the value being read (undefined
	 * behaviour, caught under UBSan).  Such a run is no stamp, and one
	 * after it is still found.
	 */
	{
		static const struct want after[] = {{"1700000000", 1700000000000LL, "text, epoch s"}};

		stamps_are("12345678901234567890", NULL, 0);
		stamps_are("99999999999999999999999999999999999999 1700000000", after, 1);
	}
	{
		struct mt_stamp one[1];

		/* More stamps than room: all counted, the room filled. */
		ck_assert_uint_eq(mt_find_stamps((const unsigned char *)"1700000000 1700000001", 21,
						 NOW, one, 1),
				  2);
		ck_assert_uint_eq(one[0].off, 0);
	}
}
END_TEST

Suite *stamps_suite(void)
{
	Suite *s = suite_create("stamps");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, mail_headers);
	tcase_add_test(tc, json_log);
	tcase_add_test(tc, http_headers);
	tcase_add_test(tc, binary_words);
	tcase_add_test(tc, edges);
	suite_add_tcase(s, tc);
	return s;
}
