/*
 * buf.c: growable output buffers, mapped and grown with mremap, and
 * the escaping writers of the control plane. Every writer emits valid
 * UTF-8: a byte that is not part of a well-formed sequence becomes
 * U+FFFD, so that program names and log text never break a JSON, XML
 * or HTML reader.
 */
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>

#include "buf.h"
#include "config.h"
#include "fmt.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : BUF_MAX;
}

void
buf_free(struct buf *b)
{
	if (b->data)
		munmap(b->data, b->cap);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}

char *
buf_room(struct buf *b, size_t n)
{
	size_t cap;
	void *p;

	if (b->failed)
		return NULL;
	if (b->cap - b->len >= n)
		return b->data + b->len;
	if (n > b->max - b->len) {
		b->failed = true;
		return NULL;
	}
	for (cap = b->cap ? b->cap : 4096; cap - b->len < n; cap *= 2)
		;
	if (cap > b->max)
		cap = (b->max + 4095) & ~(size_t)4095;
	p = b->data ? mremap(b->data, b->cap, cap, MREMAP_MAYMOVE) :
	    mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED) {
		b->failed = true;
		return NULL;
	}
	b->data = p;
	b->cap = cap;
	return b->data + b->len;
}

void
buf_put(struct buf *b, const void *p, size_t n)
{
	char *o = buf_room(b, n);

	if (!o)
		return;
	memcpy(o, p, n);
	b->len += n;
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char line[1024];
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_put(b, line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* The length of the well-formed UTF-8 sequence at s (of left bytes), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t left)
{
	size_t n, i;
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong forms, surrogates and code points past U+10FFFF */
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0;
	/* U+FFFE and U+FFFF, which XML 1.0 forbids, go too */
	if (c == 0xef && s[1] == 0xbf && s[2] >= 0xbe)
		return 0;
	return n;
}

static const char replacement[] = "\xef\xbf\xbd";

/*
 * The text of s (n bytes) with each byte run through esc, which gives
 * the escape of an ASCII byte or NULL to copy it.
 */
static void
put_escaped(struct buf *b, const char *s, size_t n,
    const char *(*esc)(unsigned char c, char tmp[8]))
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	char tmp[8];

	while (p < end) {
		const unsigned char *run = p;
		const char *e = NULL;
		size_t k;

		/* copy plain runs whole */
		while (p < end && (k = utf8_len(p, (size_t)(end - p))) &&
		    (k > 1 || !(e = esc(*p, tmp))))
			p += k;
		buf_put(b, run, (size_t)(p - run));
		if (p >= end)
			break;
		if (e) {
			buf_puts(b, e);
			p++;
			continue;
		}
		/* not well-formed, or a noncharacter: one U+FFFD each */
		buf_put(b, replacement, 3);
		p += end - p >= 3 && p[0] == 0xef && p[1] == 0xbf &&
		    p[2] >= 0xbe ? 3 : 1;
	}
}

static const char *
json_escape(unsigned char c, char tmp[8])
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	}
	if (c >= 0x20 && c != 0x7f)
		return NULL;
	memcpy(tmp, "\\u00", 4);
	tmp[4] = hex[c >> 4];
	tmp[5] = hex[c & 15];
	tmp[6] = '\0';
	return tmp;
}

void
buf_json(struct buf *b, const char *s)
{
	if (!s) {
		buf_puts(b, "null");
		return;
	}
	buf_put(b, "\"", 1);
	put_escaped(b, s, strlen(s), json_escape);
	buf_put(b, "\"", 1);
}

/* XML 1.0 has no way to write most control characters at all. */
static const char *
xml_escape(unsigned char c, char tmp[8])
{
	(void)tmp;
	switch (c) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '\t': case '\n': case '\r': return NULL;
	}
	return c < 0x20 ? replacement : NULL;
}

void
buf_xml(struct buf *b, const char *s, size_t n)
{
	put_escaped(b, s, n, xml_escape);
}

static const char *
html_escape(unsigned char c, char tmp[8])
{
	(void)tmp;
	switch (c) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&#39;";
	}
	return NULL;
}

void
buf_html(struct buf *b, const char *s)
{
	put_escaped(b, s, strlen(s), html_escape);
}
