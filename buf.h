/*
 * buf.h: growable output buffers and the small escaping writers that
 * render JSON, XML and HTML straight into them (buf.c): no tree is
 * ever built. A buffer is mapped memory that grows in place up to a
 * limit; past it the buffer fails and keeps nothing more, which the
 * writer checks once at the end.
 */
#ifndef TEND_BUF_H
#define TEND_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

struct buf {
	char *data;
	size_t len, cap, max;
	bool failed;
};

/* max: the most it may hold; 0 for BUF_MAX. */
void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Room for n more bytes at data + len, or NULL (then failed is set). */
char *buf_room(struct buf *b, size_t n);
void buf_put(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) PRINTF(2, 3);

/* s as a JSON string, quotes included; NULL as null. */
void buf_json(struct buf *b, const char *s);
/* n bytes of s as XML text (&, <, >; control bytes as character
 * references where XML allows them, U+FFFD where it does not). */
void buf_xml(struct buf *b, const char *s, size_t n);
/* s as HTML text or attribute: &, <, >, " and '. */
void buf_html(struct buf *b, const char *s);

#endif
