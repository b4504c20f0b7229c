/*
 * ini.h: a single-header INI parser for the dialect that supervisord reads
 * through Python's configparser (inline_comment_prefixes=(';', '#'),
 * strict=False, no interpolation):
 *
 *   - "[name]" starts a section; names are case-sensitive;
 *   - "key = value" or "key: value", split at the first '=' or ':';
 *     keys are lower-cased, keys and values stripped of blanks;
 *   - a line whose first non-blank character is ';' or '#' is a comment;
 *     ';' or '#' after a blank starts an inline comment (quotes do not
 *     protect it);
 *   - a line indented deeper than its key continues the value; pieces are
 *     joined with '\n', blank lines inside a value are kept, trailing ones
 *     dropped;
 *   - lines of any length (the parser works in place on the whole text).
 *
 * Define INI_IMPLEMENTATION in exactly one file before including it.
 *
 * The handler is called once per key, when its value is complete, with
 * the section (NULL for a section header event: key is then the section
 * name), the key, the value and the line of the key. Pointers are valid
 * only during the call. A non-zero return stops the parse and is returned.
 */
#ifndef TEND_INI_H
#define TEND_INI_H

#include <stddef.h>

typedef int (*ini_handler)(void *user, const char *section,
    const char *key, const char *value, int line);

/* Why a parse failed; line is 1-based. */
struct ini_error {
	int line;
	const char *message;
};

/*
 * Parses text[0..len), which the parser modifies; text[len] must be
 * writable (it receives a '\0'). Returns 0, the handler's non-zero value,
 * or -1 with *err filled for a syntax error.
 */
int ini_parse(char *text, size_t len, ini_handler handler, void *user,
    struct ini_error *err);

#endif

#ifdef INI_IMPLEMENTATION

#include <string.h>

static int
ini_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Cuts an inline comment: ';' or '#' at the start or after a blank. */
static void
ini_cut_comment(char *s, char **end)
{
	char *p;

	for (p = s; p < *end; p++) {
		if ((*p == ';' || *p == '#') && (p == s || ini_is_blank(p[-1]))) {
			*end = p;
			return;
		}
	}
}

static void
ini_strip(char **start, char **end)
{
	while (*start < *end && ini_is_blank(**start))
		(*start)++;
	while (*end > *start && ini_is_blank((*end)[-1]))
		(*end)--;
}

/* The option being read, whose value may continue on later lines. */
struct ini_option {
	char *key;		/* NUL-terminated, lower-cased */
	char *value;		/* start of the value in the text */
	char *write;		/* where the next continuation piece goes */
	char *last;		/* end of the last non-blank piece */
	int indent;
	int line;
};

static int
ini_emit(struct ini_option *opt, const char *section, ini_handler handler,
    void *user)
{
	int rc;

	if (!opt->key)
		return 0;
	*opt->last = '\0';
	rc = handler(user, section, opt->key, opt->value, opt->line);
	opt->key = NULL;
	return rc;
}

/*
 * Appends a continuation piece at opt->write. The joined value is never
 * longer than the text it comes from (each piece loses at least its
 * indentation and gains one '\n'), so moving it down is always safe.
 */
static void
ini_continue(struct ini_option *opt, char *piece, char *end)
{
	size_t n = (size_t)(end - piece);

	*opt->write++ = '\n';
	memmove(opt->write, piece, n);
	opt->write += n;
	if (n > 0)
		opt->last = opt->write;
}

static int
ini_option_line(struct ini_option *opt, char *start, char *end, int indent,
    int line, struct ini_error *err)
{
	char *delim, *key_end, *value, *p;

	for (delim = start; delim < end && *delim != '=' && *delim != ':';
	    delim++)
		;
	if (delim == end) {
		err->message = "expected 'key = value', a [section] or a "
		    "comment";
		return -1;
	}
	key_end = delim;
	ini_strip(&start, &key_end);
	if (start == key_end) {
		err->message = "missing key before '=' or ':'";
		return -1;
	}
	*key_end = '\0';
	for (p = start; p < key_end; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	value = delim + 1;
	ini_strip(&value, &end);
	opt->key = start;
	opt->value = value;
	opt->write = end;
	opt->last = end;
	opt->indent = indent;
	opt->line = line;
	return 0;
}

int
ini_parse(char *text, size_t len, ini_handler handler, void *user,
    struct ini_error *err)
{
	char *p = text, *limit = text + len;
	const char *section = NULL;
	struct ini_option opt = { 0 };
	int line = 0, rc;

	text[len] = '\0';
	err->line = 0;
	err->message = NULL;
	while (p < limit) {
		char *eol = memchr(p, '\n', (size_t)(limit - p));
		char *start = p, *end;
		int indent = 0;

		if (!eol)
			eol = limit;
		line++;
		end = eol;
		p = eol + (eol < limit);
		/* every value is a C string: a NUL would cut it silently */
		if (memchr(start, '\0', (size_t)(end - start))) {
			err->line = line;
			err->message = "a NUL byte (is this a text file?)";
			return -1;
		}
		while (start < end && ini_is_blank(*start)) {
			start++;
			indent++;
		}
		if (start < end && (*start == ';' || *start == '#'))
			continue;	/* a full-line comment */
		ini_cut_comment(start, &end);
		ini_strip(&start, &end);
		if (opt.key && (indent > opt.indent || start == end)) {
			/* blank lines are kept only if more of the value follows */
			ini_continue(&opt, start, end);
			continue;
		}
		if (start == end)
			continue;
		if ((rc = ini_emit(&opt, section, handler, user)) != 0)
			return rc;
		err->line = line;
		if (*start == '[') {
			char *close = end;

			while (close > start && close[-1] != ']')
				close--;
			if (close - start < 3) {
				err->message = "expected a section name "
				    "between '[' and ']'";
				return -1;
			}
			close[-1] = '\0';
			section = start + 1;
			if ((rc = handler(user, NULL, section, NULL, line)) != 0)
				return rc;
			continue;
		}
		if (!section) {
			err->message = "key outside of any [section]";
			return -1;
		}
		if (ini_option_line(&opt, start, end, indent, line, err) < 0)
			return -1;
	}
	return ini_emit(&opt, section, handler, user);
}

#endif
