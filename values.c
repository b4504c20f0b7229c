/*
 * values.c: parsers for the value types of supervisord's configuration
 * (datatypes.py) and its %(name)s expansion (options.py:expand), written
 * to accept and reject exactly what supervisord does, plus the documented
 * extension %(ENV_X:-default)s.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "fmt.h"
#include "sig.h"
#include "values.h"

/* A string that grows in an arena, doubling; old copies are abandoned. */
struct strbuf {
	struct arena *arena;
	char *data;
	size_t len, cap;
	bool failed;
};

static void
sb_reserve(struct strbuf *b, size_t more)
{
	char *bigger;
	size_t cap;

	if (b->failed || b->len + more + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 64;
	while (cap < b->len + more + 1)
		cap *= 2;
	if (!(bigger = arena_alloc(b->arena, cap))) {
		b->failed = true;
		return;
	}
	if (b->len)
		memcpy(bigger, b->data, b->len);
	b->data = bigger;
	b->cap = cap;
}

static void
sb_add(struct strbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	if (b->failed)
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
sb_addc(struct strbuf *b, char c)
{
	sb_add(b, &c, 1);
}

/* A finished string, "" for an empty one; NULL if memory ran out. */
static char *
sb_finish(struct strbuf *b)
{
	sb_reserve(b, 0);
	if (b->failed)
		return NULL;
	b->data[b->len] = '\0';
	return b->data;
}

static const char no_memory[] = "out of memory";

int
val_digits(const char **s, unsigned base, unsigned long long max,
    unsigned long long *out)
{
	const char *p = *s;
	unsigned long long v = 0;

	for (; *p >= '0' && *p < (char)('0' + base); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (max - d) / base)
			return -1;
		v = v * base + d;
	}
	if (p == *s)
		return -1;
	*s = p;
	*out = v;
	return 0;
}

int
val_bool(const char *s, bool *out, const char **err)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	*err = "expected a boolean (true/false, yes/no, on/off, 1/0)";
	return -1;
}

int
val_log_format(const char *s, bool *json, const char **err)
{
	*json = strcasecmp(s, "json") == 0;
	if (*json || strcasecmp(s, "text") == 0)
		return 0;
	*err = "expected text or json";
	return -1;
}

/* Python's int(): optional blanks and sign, decimal digits, '_' allowed. */
static int
parse_long(const char *s, long *out)
{
	char digits[32];
	const char *p = digits;
	size_t n = 0;
	bool negative = false;
	unsigned long long v;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '+' || *s == '-')
		negative = *s++ == '-';
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; *s && !isspace((unsigned char)*s); s++) {
		if (*s == '_' && isdigit((unsigned char)s[1]) && n > 0)
			continue;	/* a separator between digits */
		if (!isdigit((unsigned char)*s) || n >= sizeof(digits) - 1)
			return -1;
		digits[n++] = *s;
	}
	while (isspace((unsigned char)*s))
		s++;
	digits[n] = '\0';
	if (*s || val_digits(&p, 10, (unsigned long long)LONG_MAX + negative,
	    &v) < 0)
		return -1;
	*out = negative ? (long)(0 - v) : (long)v;
	return 0;
}

int
val_int(const char *s, long min, long max, long *out, const char **err)
{
	static char msg[80];
	long v;

	if (parse_long(s, &v) < 0 || v < min || v > max) {
		if (max == LONG_MAX)
			fmt_snprintf(msg, sizeof(msg), "expected an integer >= %ld",
			    min);
		else
			fmt_snprintf(msg, sizeof(msg),
			    "expected an integer from %ld to %ld", min, max);
		*err = msg;
		return -1;
	}
	*out = v;
	return 0;
}

int
val_bytes(const char *s, long long *out, const char **err)
{
	static const struct { const char *suffix; long long scale; } units[] = {
		{ "kb", 1024LL }, { "mb", 1024LL * 1024 },
		{ "gb", 1024LL * 1024 * 1024 },
	};
	char number[32];
	size_t len = strlen(s), i;
	long long scale = 1;
	long v;

	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	for (i = 0; i < 3; i++) {
		if (len > 2 && strncasecmp(s + len - 2, units[i].suffix, 2) == 0) {
			scale = units[i].scale;
			len -= 2;
			break;
		}
	}
	if (len == 0 || len >= sizeof(number))
		goto bad;
	memcpy(number, s, len);
	number[len] = '\0';
	if (parse_long(number, &v) < 0 || v < 0 || v > LLONG_MAX / scale)
		goto bad;
	*out = v * scale;
	return 0;
bad:
	*err = "expected a size in bytes, optionally with KB, MB or GB "
	    "(such as 50MB)";
	return -1;
}

int
val_signal(const char *s, int *out, const char **err)
{
	int sig = sig_parse(s);

	if (sig < 1 || sig > SIG_MAX) {
		*err = "expected a signal name or number (such as TERM, "
		    "SIGHUP or 15)";
		return -1;
	}
	*out = sig;
	return 0;
}

int
val_seconds_ms(const char *s, long max, long *ms, const char **err)
{
	long v = 0, scale = 1000;

	*err = "expected seconds such as 8 or 2.5";
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if ((v = v * 10 + (*s - '0') * 1000) > max) {
			*err = "too long";
			return -1;
		}
	}
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9' && scale > 1; s++)
			v += (*s - '0') * (scale /= 10);
	if (*s)
		return -1;
	*ms = v;
	return 0;
}

/* supervisord's list_of_exitcodes: empty is an empty list. */
int
val_exitcodes(const char *s, unsigned char set[32], const char **err)
{
	memset(set, 0, 32);
	while (*s) {
		char item[32];
		size_t n = strcspn(s, ",");
		long code;

		if (n >= sizeof(item))
			goto bad;
		memcpy(item, s, n);
		item[n] = '\0';
		if (parse_long(item, &code) < 0 || code < 0 || code > 255)
			goto bad;
		set[code / 8] |= (unsigned char)(1u << (code % 8));
		s += n;
		if (*s == ',' && !*++s)
			goto bad;	/* "0," as int('') fails */
	}
	return 0;
bad:
	*err = "expected a comma-separated list of exit codes 0..255 (such "
	    "as 0,2)";
	return -1;
}

int
val_octal(const char *s, mode_t *out, const char **err)
{
	unsigned long long v;

	while (isspace((unsigned char)*s))
		s++;
	if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		s += 2;
	if (val_digits(&s, 8, 0777, &v) < 0)
		goto bad;
	while (isspace((unsigned char)*s))
		s++;
	if (*s)
		goto bad;
	*out = (mode_t)v;
	return 0;
bad:
	*err = "expected an octal umask (such as 022)";
	return -1;
}

int
val_inet(const char *s, bool any_ok, struct inet_addr *out, const char **err)
{
	const char *colon = strrchr(s, ':'), *port = colon ? colon + 1 : s;
	char host[64];
	size_t hlen = colon ? (size_t)(colon - s) : 0;
	unsigned long long num;

	*err = any_ok ? "expected HOST:PORT, :PORT or *:PORT with a numeric "
	    "host (such as 127.0.0.1:9001)" : "expected HOST:PORT with a "
	    "numeric host or localhost (such as 127.0.0.1:8080)";
	memset(out, 0, sizeof(*out));
	if (!colon && !any_ok)
		return -1;
	if (val_digits(&port, 10, 65535, &num) < 0 || *port || num == 0 ||
	    hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		out->len = sizeof(out->u.in6);
		out->u.in6.sin6_family = AF_INET6;
		out->u.in6.sin6_port = htons((uint16_t)num);
		return inet_pton(AF_INET6, host + 1, &out->u.in6.sin6_addr) == 1 ?
		    0 : -1;
	}
	out->len = sizeof(out->u.in);
	out->u.in.sin_family = AF_INET;
	out->u.in.sin_port = htons((uint16_t)num);
	if (!*host || !strcmp(host, "*"))
		return any_ok ? 0 : -1;		/* INADDR_ANY */
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	return inet_pton(AF_INET, host, &out->u.in.sin_addr) == 1 ? 0 : -1;
}

int
val_names(struct arena *a, const char *s, const char ***names,
    const char **err)
{
	const char **out;
	size_t n = 1, i = 0;
	const char *p;

	for (p = s; *p; p++)
		n += *p == ',';
	if (!(out = arena_alloc(a, n * sizeof(*out)))) {
		*err = no_memory;
		return -1;
	}
	for (p = s; *p;) {
		size_t len = strcspn(p, ","), lead = strspn(p, " \t\n");
		const char *start = p + (lead < len ? lead : len);
		const char *end = p + len;

		while (end > start && strchr(" \t\n", end[-1]))
			end--;
		p += len + (p[len] == ',');
		if (end == start)
			continue;
		if (memchr(start, ':', (size_t)(end - start)) ||
		    memchr(start, '/', (size_t)(end - start)) ||
		    strcspn(start, " \t\n") < (size_t)(end - start)) {
			*err = "expected comma-separated names without blanks, "
			    "':' or '/'";
			return -1;
		}
		if (!(out[i++] = arena_strndup(a, start, (size_t)(end - start)))) {
			*err = no_memory;
			return -1;
		}
	}
	*names = out;
	return (int)i;
}

int
val_autorestart(const char *s, enum autorestart *out, const char **err)
{
	bool b;

	if (strcasecmp(s, "unexpected") == 0) {
		*out = RESTART_UNEXPECTED;
		return 0;
	}
	if (val_bool(s, &b, err) == 0) {
		*out = b ? RESTART_ALWAYS : RESTART_NEVER;
		return 0;
	}
	*err = "expected true, false or unexpected";
	return -1;
}

int
val_split_command(struct arena *a, const char *s, char ***argv,
    const char **err)
{
	struct strbuf word = { .arena = a };
	char *args[256], **out;
	size_t argc = 0, i;
	bool in_word = false;

	for (;; s++) {
		char c = *s;

		if (c == '\0' || isspace((unsigned char)c)) {
			if (in_word) {
				if (argc == sizeof(args) / sizeof(args[0]) - 1) {
					*err = "too many arguments (at most 255)";
					return -1;
				}
				if (!(args[argc++] = sb_finish(&word)))
					goto nomem;
				word = (struct strbuf){ .arena = a };
				in_word = false;
			}
			if (c == '\0')
				break;
			continue;
		}
		in_word = true;
		if (c == '\\') {
			if (s[1] == '\0') {
				*err = "no character to escape after '\\'";
				return -1;
			}
			sb_addc(&word, *++s);
		} else if (c == '\'') {
			const char *close = strchr(s + 1, '\'');

			if (!close)
				goto unbalanced;
			sb_add(&word, s + 1, (size_t)(close - s - 1));
			s = close;
		} else if (c == '"') {
			for (s++; *s != '"'; s++) {
				if (*s == '\0')
					goto unbalanced;
				/* inside double quotes \ escapes only " and \ */
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				sb_addc(&word, *s);
			}
		} else {
			sb_addc(&word, c);
		}
	}
	if (argc == 0) {
		*err = "the command is empty";
		return -1;
	}
	if (!*args[0]) {
		*err = "the program to run is an empty string";
		return -1;
	}
	if (!(out = arena_alloc(a, (argc + 1) * sizeof(*out))))
		goto nomem;
	for (i = 0; i < argc; i++)
		out[i] = args[i];
	out[argc] = NULL;
	*argv = out;
	return 0;
unbalanced:
	*err = "unbalanced quotes in the command";
	return -1;
nomem:
	*err = no_memory;
	return -1;
}

/*
 * Python's legacy-mode shlex with supervisord's wordchars: a token is a
 * run of word characters, a quoted string kept with its quotes, or any
 * other single character; '#' comments out the rest of its line.
 */
static bool
is_wordchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("_/.+-():", c));
}

static const char *
next_token(const char **sp, size_t *len, const char **err)
{
	const char *s = *sp, *start;

	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s != '#')
			break;
		while (*s && *s != '\n')
			s++;
	}
	start = s;
	if (*s == '\0') {
		*sp = s;
		return NULL;
	}
	if (*s == '"' || *s == '\'') {
		const char *close = strchr(s + 1, *s);

		if (!close) {
			*err = "no closing quotation";
			*sp = s;
			return NULL;
		}
		s = close + 1;
	} else if (is_wordchar(*s)) {
		/* a quote inside a word belongs to the word, as in shlex */
		while (is_wordchar(*s) || *s == '"' || *s == '\'')
			s++;
	} else {
		s++;
	}
	*len = (size_t)(s - start);
	*sp = s;
	return start;
}

int
val_environment(struct arena *a, const char *s, struct env_pair **pairs,
    const char **err)
{
	struct env_pair *out;
	size_t cap = 8, n = 0;

	*err = NULL;
	if (!(out = arena_alloc(a, cap * sizeof(*out))))
		goto nomem;
	for (;;) {
		const char *tok[3];
		size_t len[3], k;

		for (k = 0; k < 3; k++)
			if (!(tok[k] = next_token(&s, &len[k], err)))
				break;
		if (*err)
			return -1;
		if (k == 0)
			break;
		if (k < 3 || len[1] != 1 || tok[1][0] != '=') {
			*err = "expected KEY=value pairs separated by commas "
			    "(quote values that hold other characters)";
			return -1;
		}
		/* supervisord strips every quote character from both ends */
		while (len[2] > 0 && (*tok[2] == '"' || *tok[2] == '\'')) {
			tok[2]++;
			len[2]--;
		}
		while (len[2] > 0 && (tok[2][len[2] - 1] == '"' ||
		    tok[2][len[2] - 1] == '\''))
			len[2]--;
		if (n == cap) {
			struct env_pair *bigger = arena_alloc(a,
			    2 * cap * sizeof(*out));
			if (!bigger)
				goto nomem;
			memcpy(bigger, out, n * sizeof(*out));
			out = bigger;
			cap *= 2;
		}
		out[n].key = arena_strndup(a, tok[0], len[0]);
		out[n].value = arena_strndup(a, tok[2], len[2]);
		if (!out[n].key || !out[n].value)
			goto nomem;
		n++;
		/* the separator is any one token, unchecked, as in supervisord */
		if (!next_token(&s, &len[0], err)) {
			if (*err)
				return -1;
			break;
		}
	}
	*pairs = out;
	return (int)n;
nomem:
	*err = no_memory;
	return -1;
}

/* The printf spec after "%(name)": flags, width, precision, conversion. */
struct format_spec {
	bool left, zero, plus, space;
	long width, precision;	/* precision -1 when absent */
	char conversion;	/* 's' or 'd' */
};

/* A width or precision; past EXPAND_WIDTH_MAX it reads as -1. */
static long
read_digits(const char **sp)
{
	long v = 0;

	for (; isdigit((unsigned char)**sp); (*sp)++)
		if (v >= 0 && (v = v * 10 + (**sp - '0')) > EXPAND_WIDTH_MAX)
			v = -1;
	return v;
}

static int
read_spec(const char **sp, struct format_spec *spec)
{
	const char *s = *sp;

	memset(spec, 0, sizeof(*spec));
	for (;; s++) {
		if (*s == '-')
			spec->left = true;
		else if (*s == '0')
			spec->zero = true;
		else if (*s == '+')
			spec->plus = true;
		else if (*s == ' ')
			spec->space = true;
		else if (*s != '#')
			break;
	}
	if ((spec->width = read_digits(&s)) < 0)
		return -2;
	spec->precision = -1;
	if (*s == '.') {
		s++;
		if ((spec->precision = read_digits(&s)) < 0)
			return -2;
	}
	if (!*s || !strchr("sdir", *s))
		return -1;
	spec->conversion = *s == 's' || *s == 'r' ? 's' : 'd';
	*sp = s + 1;
	return 0;
}

/* The value of one name: a string, or a number (*is_number). */
static int
lookup_name(const struct expand_ctx *ctx, char *name, const char **str,
    long *num, bool *is_number)
{
	const char *dflt = NULL;
	char *sep;

	*is_number = false;
	if (strncmp(name, "ENV_", 4) == 0) {
		for (sep = name; (sep = strchr(sep, ':')) != NULL; sep++) {
			if (sep[1] == '-') {
				*sep = '\0';
				dflt = sep + 2;
				break;
			}
		}
		*str = ctx->lookup_env ? ctx->lookup_env(ctx->env_data,
		    name + 4) : NULL;
		if (!*str)
			*str = dflt;
		return *str ? 0 : -1;
	}
	if (ctx->process_num >= 0 && (strcmp(name, "process_num") == 0 ||
	    strcmp(name, "numprocs") == 0)) {
		*num = name[0] == 'p' ? ctx->process_num : ctx->numprocs;
		*is_number = true;
		return 0;
	}
	*str = strcmp(name, "program_name") == 0 ? ctx->program_name :
	    strcmp(name, "group_name") == 0 ? ctx->group_name :
	    strcmp(name, "host_node_name") == 0 ? ctx->host_node_name :
	    strcmp(name, "here") == 0 ? ctx->here : NULL;
	return *str ? 0 : -1;
}

static void
sb_pad(struct strbuf *b, char c, long n)
{
	while (n-- > 0)
		sb_addc(b, c);
}

/* Python's %s and %d: width, '-', '0', '+', ' ' and precision. */
static int
format_value(struct strbuf *b, const struct format_spec *spec,
    const char *str, long num, bool is_number)
{
	char digits[32], sign = '\0';
	const char *body;
	size_t len;
	long pad, zeros = 0;

	if (spec->conversion == 'd' && !is_number)
		return -1;	/* Python refuses %d of a string, even "5" */
	if (spec->conversion == 's' && !is_number) {
		body = str;
		len = strlen(str);
		if (spec->precision >= 0 && (size_t)spec->precision < len)
			len = (size_t)spec->precision;
	} else {
		unsigned long u = num < 0 ? 0UL - (unsigned long)num :
		    (unsigned long)num;
		size_t i = sizeof(digits);

		do {
			digits[--i] = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		body = digits + i;
		len = sizeof(digits) - i;
		sign = num < 0 ? '-' : spec->plus ? '+' : spec->space ? ' ' :
		    '\0';
		if (spec->conversion == 'd' && spec->precision > (long)len)
			zeros = spec->precision - (long)len;
	}
	pad = spec->width - (long)len - zeros - (sign != '\0');
	if (spec->zero && !spec->left && spec->conversion == 'd') {
		zeros += pad > 0 ? pad : 0;
		pad = 0;
	}
	if (!spec->left)
		sb_pad(b, ' ', pad);
	if (sign)
		sb_addc(b, sign);
	sb_pad(b, '0', zeros);
	sb_add(b, body, len);
	if (spec->left)
		sb_pad(b, ' ', pad);
	return 0;
}

int
val_expand(struct arena *a, const char *s, const struct expand_ctx *ctx,
    char **out, char *errbuf, size_t errlen, const char **err)
{
	struct strbuf b = { .arena = a };

	*err = errbuf;
	/* past the bound the value is refused: no need to build more */
	for (; *s && b.len <= ctx->max_len; s++) {
		struct format_spec spec;
		const char *close, *str = NULL;
		char name[256];
		long num = 0;
		bool is_number;
		int rc;

		if (*s != '%') {
			sb_addc(&b, *s);
			continue;
		}
		if (s[1] == '%') {
			sb_addc(&b, '%');
			s++;
			continue;
		}
		if (s[1] != '(' || !(close = strchr(s + 2, ')'))) {
			fmt_snprintf(errbuf, errlen, "a lone '%%' (write %%%% for a "
			    "literal %%, or %%(name)s)");
			return -1;
		}
		if ((size_t)(close - s - 2) >= sizeof(name)) {
			fmt_snprintf(errbuf, errlen, "expansion name too long");
			return -1;
		}
		memcpy(name, s + 2, (size_t)(close - s - 2));
		name[close - s - 2] = '\0';
		s = close + 1;
		if ((rc = read_spec(&s, &spec)) == -2) {
			fmt_snprintf(errbuf, errlen, "a width or precision above "
			    "%d in %%(%s)", EXPAND_WIDTH_MAX, name);
			return -1;
		}
		if (rc < 0) {
			fmt_snprintf(errbuf, errlen, "incomplete format after "
			    "'%%(%s)' (expected %%(%s)s or %%(%s)d)", name, name,
			    name);
			return -1;
		}
		s--;	/* the loop's s++ moves past the conversion */
		if (lookup_name(ctx, name, &str, &num, &is_number) < 0) {
			if (strncmp(name, "ENV_", 4) == 0)
				fmt_snprintf(errbuf, errlen, "environment variable "
				    "%s is not set (use %%(%s:-default)s for a "
				    "default)", name + 4, name);
			else
				fmt_snprintf(errbuf, errlen, "unknown expansion "
				    "'%%(%s)' here (known: ENV_*, here, "
				    "program_name, group_name, host_node_name%s)",
				    name, ctx->process_num >= 0 ?
				    ", process_num, numprocs" : "");
			return -1;
		}
		if (format_value(&b, &spec, str, num, is_number) < 0) {
			fmt_snprintf(errbuf, errlen, "%%(%s)%c needs a number",
			    name, spec.conversion);
			return -1;
		}
	}
	if (b.len > ctx->max_len) {
		fmt_snprintf(errbuf, errlen, "the expanded value would be %zu "
		    "bytes, more than %zu", b.len, ctx->max_len);
		return -2;
	}
	if (!(*out = sb_finish(&b))) {
		*err = no_memory;
		return -1;
	}
	return 0;
}
