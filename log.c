/*
 * log.c: formats tend's own messages as one line each on stderr,
 * "tend: LEVEL: message", written with a single write(2) so that lines of
 * concurrent writers are not mixed. errno is preserved across every call,
 * so callers may log and then still inspect it.
 *
 * PID 1 must never block on its own log: once the loop runs, lines go
 * through output.c, which writes without blocking (log_set_writer). A
 * line that finds the output full is dropped and counted, and the count
 * is reported once, before the next line that gets through.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fmt.h"
#include "log.h"

static int log_level = LOG_WARN;
static log_writer *log_write;		/* NULL: straight to stderr */
static unsigned long log_dropped;	/* lines lost to a full output */
static unsigned long long log_dropped_all;	/* since the start */

static const char *const level_names[] = {
	[LOG_ERROR] = "error: ",
	[LOG_WARN] = "warning: ",
	[LOG_INFO] = "",
	[LOG_DEBUG] = "debug: ",
};

void
log_set_level(int level)
{
	log_level = level < LOG_ERROR ? LOG_ERROR :
	    level > LOG_DEBUG ? LOG_DEBUG : level;
}

static bool
emit_one(const char *line, size_t len)
{
	if (log_write)
		return log_write(line, len);
	return write_all(STDERR_FILENO, line, len) == 0;
}

/* The count of dropped lines, once there is room for it. */
static bool
report_dropped(void)
{
	char note[96];
	int n;

	if (!log_dropped)
		return true;
	n = fmt_snprintf(note, sizeof(note), "tend: warning: %lu lines of "
	    "tend's log dropped: the output was full\n", log_dropped);
	if (!emit_one(note, (size_t)n))
		return false;
	log_dropped = 0;
	return true;
}

unsigned long long
log_dropped_total(void)
{
	return log_dropped_all;
}

void
log_output_ready(void)
{
	(void)report_dropped();
}

/* One line; false when it had to be dropped. */
static bool
emit(const char *line, size_t len)
{
	return report_dropped() && emit_one(line, len);
}

void
log_set_writer(log_writer *w)
{
	log_write = w;
}

int
log_enabled(enum log_level level)
{
	return (int)level <= log_level;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void vlog(const char *prefix, int with_errno, const char *fmt,
    va_list ap) PRINTF(3, 0);

/* prefix is a level name or "" (fatal); with_errno appends ": strerror". */
static void
vlog(const char *prefix, int with_errno, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int saved = errno;
	size_t max = sizeof(line) - 1;	/* room for the newline */
	int n;
	size_t len;

	n = fmt_snprintf(line, max, "tend: %s", prefix);
	len = n < 0 ? 0 : (size_t)n;
	n = fmt_vsnprintf(line + len, max - len, fmt, ap);
	len += n < 0 ? 0 : (size_t)n;
	if (with_errno && len < max) {
		n = fmt_snprintf(line + len, max - len, ": %s", strerror(saved));
		len += n < 0 ? 0 : (size_t)n;
	}
	if (len >= max) {
		len = max;
		memcpy(line + len - 3, "...", 3);
	}
	line[len++] = '\n';
	if (!emit(line, len))
		log_dropped++, log_dropped_all++;
	errno = saved;
}

#define LOG_AT(level, with_errno) do {				\
	va_list ap;						\
	if (!log_enabled(level))				\
		return;						\
	va_start(ap, fmt);					\
	vlog(level_names[level], with_errno, fmt, ap);		\
	va_end(ap);						\
} while (0)

void log_error(const char *fmt, ...) { LOG_AT(LOG_ERROR, 0); }
void log_warn(const char *fmt, ...) { LOG_AT(LOG_WARN, 1); }
void log_warnx(const char *fmt, ...) { LOG_AT(LOG_WARN, 0); }
void log_info(const char *fmt, ...) { LOG_AT(LOG_INFO, 0); }
void log_debug(const char *fmt, ...) { LOG_AT(LOG_DEBUG, 0); }

void
log_vat(enum log_level level, const char *fmt, va_list ap)
{
	if (log_enabled(level))
		vlog(level_names[level], 0, fmt, ap);
}

/* Shown at every level, without a level word: asked-for reports. */
void
log_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", 0, fmt, ap);
	va_end(ap);
}

void
fatal(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", 1, fmt, ap);
	va_end(ap);
	exit(status);
}

void
fatalx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", 0, fmt, ap);
	va_end(ap);
	exit(status);
}
