/*
 * fuzz_ini.c: ini_parse (ini.h) on any text. The handler checks what
 * ini.h promises of every event: a NUL-terminated key, lower-cased,
 * stripped; a value stripped of blanks at both ends that never ends
 * in a newline; lines that only grow and stay within the text. A
 * handler's non-zero return stops the parse and is returned.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INI_IMPLEMENTATION
#include "../../ini.h"

struct run {
	int lines;		/* lines in the text */
	int last_line;
	int events;
	int stop_at;		/* the handler stops at this event; 0: never */
	int have_section;
};

static void
broken(const char *what)
{
	fprintf(stderr, "fuzz_ini: broken promise: %s\n", what);
	abort();
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int
on_event(void *user, const char *section, const char *key, const char *value,
    int line)
{
	struct run *r = user;
	size_t klen, vlen;
	const char *p;

	if (!key)
		broken("no key");
	if (line < 1 || line > r->lines || line < r->last_line)
		broken("a line out of order or outside the text");
	r->last_line = line;
	klen = strlen(key);
	if (!section) {
		/* a header: "[name]" with at least one character */
		if (value || klen == 0)
			broken("a section header without a name, or with a value");
		r->have_section = 1;
	} else {
		if (!r->have_section)
			broken("a key before any section");
		if (!value || klen == 0)
			broken("a key without a value, or an empty key");
		for (p = key; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				broken("a key that is not lower-cased");
		if (is_blank(key[0]) || is_blank(key[klen - 1]))
			broken("a key with blanks around it");
		vlen = strlen(value);
		if (vlen && (is_blank(value[0]) || is_blank(value[vlen - 1]) ||
		    value[vlen - 1] == '\n'))
			broken("a value with blanks or a newline at an end");
	}
	return ++r->events == r->stop_at ? 7 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r = { 0 };
	struct ini_error err;
	char *text;
	size_t i;
	int rc;

	/* the one writable byte after the text that ini_parse requires */
	if (!(text = malloc(size + 1)))
		return 0;
	memcpy(text, data, size);
	r.lines = size ? 1 : 0;
	for (i = 0; i < size; i++)
		if (data[i] == '\n' && i + 1 < size)
			r.lines++;
	/* some runs stop early, as a handler that fails does */
	if (size > 0 && data[0] == ';')
		r.stop_at = 1 + (int)(size % 7);
	rc = ini_parse(text, size, on_event, &r, &err);
	if (rc == -1 && (!err.message || err.line < 1 || err.line > r.lines))
		broken("a syntax error without a message or a line");
	if (rc != 0 && rc != -1 && rc != 7)
		broken("a return that is neither 0, -1 nor the handler's");
	if (rc == 7 && r.events != r.stop_at)
		broken("the handler's stop did not stop the parse");
	free(text);
	return 0;
}
