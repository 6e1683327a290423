/*
 * html.c - text from the target made safe for a report page, and frame
 * names made fit for a flame graph.  Pure: no session, no lock.
 */
#include <stdio.h>
#include <string.h>

#include "libtrace.h"

/*
 * Write S to F escaped for HTML text and attribute values (quoted with "
 * or '): & < > " ' become entities, control characters other than tab
 * and newline become U+FFFD, so a thread or frame name can neither end
 * an element nor open one.
 */
void mt_html_put(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		switch (*p) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
				fputs("\xef\xbf\xbd", f);
			else
				fputc(*p, f);
		}
	}
}

/*
 * Write frame F into OUT[SIZE] as a folded-format frame: no offset or
 * address, so that calls from one function merge ("mmap64+0x13
 * (libc.so.6)" is "mmap64 (libc.so.6)", "[unknown] 0x7f..." is
 * "[unknown]"), and no ';', the separator (Java signatures have them;
 * they become ',').  Returns OUT.
 */
char *mt_folded_frame(const char *f, char *out, size_t size)
{
	size_t n = 0;

	if (!size)
		return out;
	if (!strncmp(f, "[unknown] 0x", 12))
		f = "[unknown]";
	for (const char *p = f; *p && n + 1 < size; p++) {
		/* "+0xOFF" up to a space, a ')' or the end: an offset. */
		if (!strncmp(p, "+0x", 3)) {
			size_t k = strspn(p + 3, "0123456789abcdef");

			if (k && (!p[3 + k] || p[3 + k] == ' ' || p[3 + k] == ')')) {
				p += 2 + k;
				continue;
			}
		}
		out[n++] = *p == ';' ? ',' : *p;
	}
	out[n] = '\0';
	return out;
}
