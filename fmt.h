/*
 * fmt.h: the printf subset tend formats its text with: %s %c %d %i %u %x
 * and %%, with the flags '-' and '0', a width and a precision (both may
 * be '*'), and the length modifiers l, ll and z. musl's printf also
 * carries floating point, which tend never prints, for about 10 KiB of a
 * binary whose whole budget is 64 KiB. Returns like snprintf: the length
 * the whole output needs.
 */
#ifndef TEND_FMT_H
#define TEND_FMT_H

#include <stdarg.h>
#include <stddef.h>

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The proleptic Gregorian date of a day count since 1970-01-01. */
void fmt_civil_date(long long days, long long *y, unsigned *m, unsigned *d);

#endif
