/*
 * log.h: tend's own messages. One vocabulary (after OpenBSD's log.c):
 * log_warn appends strerror(errno), log_warnx does not; fatal and fatalx
 * are for start-up only, before the event loop runs.
 */
#ifndef TEND_LOG_H
#define TEND_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum log_level {
	LOG_ERROR,	/* always shown */
	LOG_WARN,	/* shown by default */
	LOG_INFO,	/* -v */
	LOG_DEBUG,	/* -vv */
};

#define PRINTF(f, a) __attribute__((format(printf, f, a)))

void log_set_level(int level);
/*
 * Lines go to stderr until a writer takes them: it gets one whole line,
 * newline included, and returns false when it had to drop it.
 */
typedef bool log_writer(const char *line, size_t len);
void log_set_writer(log_writer *w);
/* Lines of tend's log dropped to a full output, since the start. */
unsigned long long log_dropped_total(void);
/* The writer has room again: the count of dropped lines goes out. */
void log_output_ready(void);
int log_enabled(enum log_level level);
void log_error(const char *fmt, ...) PRINTF(1, 2);
void log_warn(const char *fmt, ...) PRINTF(1, 2);
void log_warnx(const char *fmt, ...) PRINTF(1, 2);
void log_notice(const char *fmt, ...) PRINTF(1, 2);
void log_vat(enum log_level level, const char *fmt, va_list ap)
    PRINTF(2, 0);
void log_info(const char *fmt, ...) PRINTF(1, 2);
void log_debug(const char *fmt, ...) PRINTF(1, 2);
_Noreturn void fatal(int status, const char *fmt, ...) PRINTF(2, 3);
_Noreturn void fatalx(int status, const char *fmt, ...) PRINTF(2, 3);

/*
 * Writes all of buf unless an error other than EINTR occurs; never blocks
 * on a non-blocking descriptor (EAGAIN gives up). Returns 0 or -1.
 */
int write_all(int fd, const void *buf, size_t len);

#endif
