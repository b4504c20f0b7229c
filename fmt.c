/*
 * fmt.c: a small snprintf; see fmt.h for what it accepts. Unknown
 * conversions are copied as they are, so a mistake shows in the output
 * instead of reading a wrong argument (gcc's format checks catch them
 * first: every caller carries the printf attribute).
 */
#include <stdbool.h>
#include <string.h>

#include "fmt.h"

struct out {
	char *buf;
	size_t size, len;
};

static void
put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void
pad(struct out *o, char c, long n)
{
	while (n-- > 0)
		put(o, c);
}

/* A field: sign/prefix, then body, padded to width. */
static void
field(struct out *o, const char *body, size_t len, char sign, long width,
    bool left, bool zero)
{
	long fill = width - (long)len - (sign != '\0');

	if (!left && !zero)
		pad(o, ' ', fill);
	if (sign)
		put(o, sign);
	if (!left && zero)
		pad(o, '0', fill);
	while (len--)
		put(o, *body++);
	if (left)
		pad(o, ' ', fill);
}

static long
read_number(const char **fmt, va_list *ap)
{
	long n = 0;

	if (**fmt == '*') {
		(*fmt)++;
		return va_arg(*ap, int);
	}
	while (**fmt >= '0' && **fmt <= '9')
		n = n * 10 + (*(*fmt)++ - '0');
	return n;
}

int
fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list args)
{
	struct out o = { buf, size, 0 };
	va_list ap;

	va_copy(ap, args);
	for (; *fmt; fmt++) {
		const char *start = fmt, *s;
		char digits[24], sign = '\0';
		bool left = false, zero = false;
		long width, precision = -1;
		int longs = 0;
		unsigned long long u;
		size_t len;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		for (fmt++; *fmt == '-' || *fmt == '0'; fmt++)
			*fmt == '-' ? (left = true) : (zero = true);
		width = read_number(&fmt, &ap);
		if (width < 0) {
			left = true;
			width = -width;
		}
		if (*fmt == '.') {
			fmt++;
			precision = read_number(&fmt, &ap);
		}
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			longs += *fmt == 'z' ? 2 : 1;
		switch (*fmt) {
		case '%':
			put(&o, '%');
			continue;
		case 'c':
			digits[0] = (char)va_arg(ap, int);
			field(&o, digits, 1, '\0', width, left, false);
			continue;
		case 's':
			s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			len = precision >= 0 ? strnlen(s, (size_t)precision) :
			    strlen(s);
			field(&o, s, len, '\0', width, left, false);
			continue;
		case 'd':
		case 'i': {
			long long v = longs >= 2 ? va_arg(ap, long long) :
			    longs ? va_arg(ap, long) : va_arg(ap, int);

			u = v < 0 ? 0ULL - (unsigned long long)v :
			    (unsigned long long)v;
			sign = v < 0 ? '-' : '\0';
			break;
		}
		case 'u':
		case 'x':
			u = longs >= 2 ? va_arg(ap, unsigned long long) :
			    longs ? va_arg(ap, unsigned long) :
			    va_arg(ap, unsigned);
			break;
		default:	/* not ours: copy it as it stands */
			for (; start <= fmt && *start; start++)
				put(&o, *start);
			if (!*fmt)
				fmt--;
			continue;
		}
		len = 0;
		do {
			unsigned base = *fmt == 'x' ? 16 : 10;

			digits[sizeof(digits) - ++len] =
			    "0123456789abcdef"[u % base];
			u /= base;
		} while (u);
		field(&o, digits + sizeof(digits) - len, len, sign, width, left,
		    zero);
	}
	va_end(ap);
	if (o.size)
		o.buf[o.len < o.size ? o.len : o.size - 1] = '\0';
	return o.len > 0x7fffffff ? 0x7fffffff : (int)o.len;
}

int
fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* Proleptic Gregorian date of a day count since 1970-01-01. */
void
fmt_civil_date(long long days, long long *y, unsigned *m, unsigned *d)
{
	long long z = days + 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long long)yoe + era * 400 + (*m <= 2);
}
