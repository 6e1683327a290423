/*
 * test_html.c - text from the target made safe for the report page
 * (mt_html_put) and frame names made fit for a flame graph
 * (mt_folded_frame), both in html.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libtrace.h"
#include "unit.h"

/* mt_html_put(S) as a string; the caller frees it. */
static char *escaped(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	mt_html_put(f, s);
	fclose(f);
	return buf;
}

static void esc_is(const char *in, const char *want)
{
	char *got = escaped(in);

	ck_assert_msg(!strcmp(got, want), "mt_html_put(\"%s\") = \"%s\", want \"%s\"", in, got,
		      want);
	free(got);
}

START_TEST(test_escape_markup)
{
	esc_is("plain-thread 7", "plain-thread 7");
	esc_is("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;");
	esc_is("a&b", "a&amp;b");
	esc_is("&amp;", "&amp;amp;");
	/* Quotes, so a name is safe in an attribute too. */
	esc_is("x\" onmouseover=\"y", "x&quot; onmouseover=&quot;y");
	esc_is("it's", "it&#39;s");
	/* Java names and signatures as the daemon gives them. */
	esc_is("java.util.HashMap<K,V>.put(Ljava/lang/Object;)V",
	       "java.util.HashMap&lt;K,V&gt;.put(Ljava/lang/Object;)V");
	esc_is("", "");
}
END_TEST

START_TEST(test_escape_bytes)
{
	/* UTF-8 passes, control characters become U+FFFD, tab and newline stay. */
	esc_is("nioEventLoop-\xc3\xa9\xe2\x82\xac", "nioEventLoop-\xc3\xa9\xe2\x82\xac");
	esc_is("a\x01"
	       "b\x1b[31m",
	       "a\xef\xbf\xbd"
	       "b\xef\xbf\xbd[31m");
	esc_is("a\tb\nc\x7f", "a\tb\nc\xef\xbf\xbd");
}
END_TEST

static void fold_is(const char *in, size_t size, const char *want)
{
	char buf[256];

	ck_assert_uint_le(size, sizeof(buf));
	mt_folded_frame(in, buf, size);
	ck_assert_msg(!strcmp(buf, want), "mt_folded_frame(\"%s\") = \"%s\", want \"%s\"", in, buf,
		      want);
}

START_TEST(test_folded_frame)
{
	fold_is("mmap64+0x13 (libc.so.6)", 256, "mmap64 (libc.so.6)");
	fold_is("[unknown] 0x7f12345678", 256, "[unknown]");
	fold_is("event_loop+0xda (demo)", 256, "event_loop (demo)");
	fold_is("loop+0x1f", 256, "loop");
	/* Not an offset: "+0x" without hex digits, or followed by other text. */
	fold_is("a+0x (b)", 256, "a+0x (b)");
	fold_is("a+0x12z (b)", 256, "a+0x12z (b)");
	/* ';' is the folded separator. */
	fold_is("Foo.bar(Ljava/lang/String;I)V", 256, "Foo.bar(Ljava/lang/String,I)V");
	/* Cut to the buffer, always terminated. */
	fold_is("abcdefgh", 4, "abc");
	fold_is("abcdefgh", 1, "");
}
END_TEST

Suite *html_suite(void)
{
	Suite *s = suite_create("html");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_escape_markup);
	tcase_add_test(tc, test_escape_bytes);
	tcase_add_test(tc, test_folded_frame);
	suite_add_tcase(s, tc);
	return s;
}
