/*
 * output.c: where the programs' output and tend's own log go.
 *
 * A stream bound for tend's own stdout or stderr without formatting is
 * not relayed at all: the program inherits the descriptor, and tend
 * copies nothing. Every other stream (to a log file, or with a prefix,
 * a timestamp or JSON) reaches tend through a pipe and goes to a sink:
 * tend's stdout, tend's stderr or a log file, each with one buffer.
 *
 * Lines stay whole. What a stream reads is cut into lines, and each line
 * enters its sink's buffer whole, formatted, and at most PIPE_BUF bytes
 * long, longer lines being cut into pieces. When other processes write
 * to the same stream (sink->shared), tend writes whole lines of at most
 * PIPE_BUF bytes, which the kernel never interleaves with other writes.
 * A partial line waits OUTPUT_FLUSH_MS for its end. A log file that
 * only one stream writes, unformatted, gets the bytes exactly as read.
 *
 * PID 1 never blocks on output. tend's stdout and stderr are written
 * through a private non-blocking open, or send(MSG_DONTWAIT) on a
 * socket. A full sink stops the reading of its streams, so that the
 * programs' own writes wait in their pipes: tend's memory stays bounded
 * by one buffer per stream and per sink. A write error drops output and
 * is reported once per episode, and once more when writing works again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "config.h"
#include "fmt.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "output.h"

/* A formatted line, newline included, is written in one atomic write. */
#define LINE_OUT_MAX PIPE_BUF
/* Longest program name put in a prefix, so that a line always fits. */
#define NAME_MAX_OUT 128

enum { CH_OUT, CH_ERR };

static const char *const channel_names[] = { "stdout", "stderr" };

struct sink {
	struct watch watch;		/* EPOLLOUT while blocked */
	const char *name;		/* for messages: the path, or "stdout" */
	const char *path;		/* a log file; NULL for tend's streams */
	long long maxbytes, size;
	long backups;
	int nsources;			/* streams and logs that write here */
	bool shared;			/* others write too: atomic line writes */
	bool socket;
	bool poll_first;		/* a shared fd that may block: see std_sink */
	bool set_nonblock;		/* O_NONBLOCK set on the shared description */
	bool rotates;			/* a regular file with maxbytes */
	bool flushing;			/* in sink_flush: no nested flush */
	bool blocked;			/* full: waiting for EPOLLOUT */
	int failing;			/* errno of the current error episode */
	unsigned long long lost;	/* bytes dropped since the last report */
	size_t off, len;		/* pending bytes: buf[off, off + len) */
	char *buf;
	struct sink *next;
};

/*
 * A program (or tend itself), as output sees it. It lives as long as
 * its process or one of its pipes: refs counts them.
 */
struct output {
	const struct program *conf;	/* NULL once detached */
	int refs;
	char name[NAME_MAX_OUT + 1];
	struct log_format format;
	char prefix[NAME_MAX_OUT + 4];	/* "NAME | ", or "" */
	size_t prefix_len;
	struct sink *sink[2];		/* NULL: not relayed */
	int child[2];			/* when not relayed: CHILD_* or 1/2 */
	unsigned long long relayed[2], dropped[2];	/* bytes */
	struct stream *current[2];	/* the pipes of its latest run */
	struct stream *pending[2];	/* made for a fork under way */
	int tail_channel;		/* the pipe fd 2 writes to, or -1 */
	char *tail;			/* its last lines, critical programs */
	size_t tail_len;
	bool tail_cut;			/* tail[0] may be inside a line */
	struct output *free_next;
};

#define source output

/* One pipe; a restart makes new ones while the old drain. */
struct stream {
	struct watch watch;		/* first: epoll hands this back */
	struct source *src;
	int channel;
	bool reading, eof;
	bool held;			/* ended with output still to write */
	struct timer flush;		/* a partial line is due */
	size_t off, len;		/* unprocessed: in[off, off + len) */
	struct stream *next;
	char in[OUTPUT_STREAM_BUF];
};

static struct {
	struct arena arena;
	struct source *free_sources;
	struct sink *sinks, *free_sinks;
	bool keep_stderr;		/* a termination log exists */
	void (*file_written)(const char *path, const char *p, size_t n);
	struct sink *std[2];		/* tend's stdout and stderr */
	struct sink *log, *log_copy;	/* tend's own log */
	struct source tend;		/* the source of tend's own lines */
	struct stream *streams, *spare;
	int ended;			/* streams at EOF still holding output */
	long long stamp_ms;		/* the time in stamp, CLOCK_REALTIME */
	char stamp[32];
} out;

static void sink_flush(struct sink *k);
static void sink_unblock(struct sink *k);
static bool stream_process(struct stream *st, bool force);
static void stream_free(struct stream *st);
static void stream_resume(struct stream *st);
static bool is_exact(const struct source *s, int ch);
static void source_unref(struct source *s);

/* ---- sinks ------------------------------------------------------------- */

static void
sink_ready(struct watch *w, uint32_t events)
{
	(void)events;
	sink_flush((struct sink *)w);
}

static struct sink *
sink_new(const char *name)
{
	struct sink *k = out.free_sinks;
	char *buf;

	if (k) {
		out.free_sinks = k->next;
		buf = k->buf;
		memset(k, 0, sizeof(*k));
		k->buf = buf;
	} else if (!(k = arena_alloc(&out.arena, sizeof(*k))) ||
	    /* mapped, not touched: costs memory only once output queues */
	    (k->buf = mmap(NULL, OUTPUT_SINK_BUF, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED) {
		fatal(1, "cannot allocate an output buffer");
	}
	k->name = name;
	k->watch.fd = -1;
	k->watch.ready = sink_ready;
	k->next = out.sinks;
	out.sinks = k;
	return k;
}

/*
 * tend's stdout (1) or stderr (2), written without ever blocking.
 * Opening /proc/self/fd/N makes a new open file description of the same
 * pipe or terminal, so O_NONBLOCK stays tend's and never reaches the
 * programs that share the stream. A socket takes MSG_DONTWAIT instead,
 * and a file never blocks. When the open is refused (a pipe of root's,
 * mode 0600, and tend not root), see output_setup.
 */
static struct sink *
std_sink(int fd)
{
	struct sink **slot = &out.std[fd - 1], *k;
	char path[32];
	struct stat st;

	if (*slot)
		return *slot;
	k = *slot = sink_new(channel_names[fd - 1]);
	k->watch.fd = fd;
	if (fstat(fd, &st) < 0)
		return k;
	k->socket = S_ISSOCK(st.st_mode);
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return k;
	fmt_snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	k->watch.fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (k->watch.fd < 0) {
		log_debug("cannot reopen %s without blocking (%s)", k->name,
		    strerror(errno));
		k->watch.fd = fd;
		k->poll_first = true;
	}
	return k;
}

/*
 * A stream tend could not reopen: O_NONBLOCK on the shared description
 * when no program writes to it directly; otherwise a poll before each
 * write of at most PIPE_BUF bytes, which a free pipe buffer always takes.
 */
static void
std_sink_nonblocking(struct sink *k)
{
	int flags;

	if (!k->poll_first || k->shared ||
	    (flags = fcntl(k->watch.fd, F_GETFL)) < 0 ||
	    fcntl(k->watch.fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return;
	k->poll_first = false;
	k->set_nonblock = true;
}

/* (Re)opens a log file, replacing the descriptor only on success. */
static int
sink_open(struct sink *k, int flags)
{
	struct stat st;
	int fd = open(k->path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC | flags, 0644);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		st.st_mode = 0;
	k->rotates = S_ISREG(st.st_mode) && k->maxbytes > 0;
	k->size = S_ISREG(st.st_mode) ? st.st_size : 0;
	if (k->watch.fd >= 0) {
		if (k->blocked)
			loop_unwatch(&k->watch);
		close(k->watch.fd);
	}
	k->watch.fd = fd;
	/* the new descriptor is waited on, or the streams resume at once */
	if (k->blocked && loop_watch(&k->watch, EPOLLOUT) < 0)
		sink_unblock(k);
	return 0;
}

/* A log file, shared by every stream naming it; NULL if it cannot open. */
static struct sink *
file_sink(const char *path, long long maxbytes, long backups)
{
	struct sink *k;
	char *copy;

	for (k = out.sinks; k; k = k->next)
		if (k->path && strcmp(k->path, path) == 0)
			return k;
	/* the configuration that named it may be released first */
	if (!(copy = arena_strdup(&out.arena, path)))
		return NULL;
	k = sink_new(copy);
	k->path = copy;
	k->maxbytes = maxbytes;
	k->backups = backups;
	if (sink_open(k, 0) < 0) {
		log_warn("%s: cannot open the log file", path);
		out.sinks = k->next;
		k->next = out.free_sinks;
		out.free_sinks = k;
		return NULL;
	}
	return k;
}

/* A log file nothing writes to any more is flushed and closed. */
static void
sink_release(struct sink *k)
{
	struct sink **kp;

	if (--k->nsources > 0 || !k->path)
		return;
	if (k->len && !k->blocked)
		sink_flush(k);
	if (k->blocked)
		loop_unwatch(&k->watch);
	close(k->watch.fd);
	for (kp = &out.sinks; *kp; kp = &(*kp)->next) {
		if (*kp == k) {
			*kp = k->next;
			break;
		}
	}
	k->next = out.free_sinks;
	out.free_sinks = k;
}

/*
 * supervisord's names: path.1 is the newest copy, path.N the oldest;
 * with no backups the file is emptied instead. When that fails, the
 * file grows on unrotated until SIGUSR2 reopens it: reported once.
 */
static void
sink_rotate(struct sink *k)
{
	char from[PATH_MAX], to[PATH_MAX];
	long i;

	k->size = 0;
	if (k->backups == 0) {
		if (ftruncate(k->watch.fd, 0) == 0)
			return;
		goto failed;
	}
	for (i = k->backups - 1; i >= 1; i--) {
		fmt_snprintf(from, sizeof(from), "%s.%ld", k->path, i);
		fmt_snprintf(to, sizeof(to), "%s.%ld", k->path, i + 1);
		(void)rename(from, to);		/* ENOENT until there are i */
	}
	fmt_snprintf(to, sizeof(to), "%s.1", k->path);
	if (rename(k->path, to) < 0)
		goto failed;
	if (sink_open(k, O_TRUNC) == 0)
		return;
	(void)rename(to, k->path);	/* the old file is still the open one */
failed:
	k->rotates = false;
	log_warn("%s: cannot rotate, it grows until SIGUSR2", k->path);
}

/* The end of the last whole line in p[0, n), or 0 when there is none. */
static size_t
line_end(const char *p, size_t n)
{
	const char *nl = memrchr(p, '\n', n);

	return nl ? (size_t)(nl - p) + 1 : 0;
}

/*
 * The size of the next write: whole lines of at most PIPE_BUF bytes when
 * the stream is shared, and never past a rotation point (0: rotate first).
 */
static size_t
next_write(const struct sink *k)
{
	const char *p = k->buf + k->off, *nl;
	size_t n = k->len, cut;

	if (k->shared && n > LINE_OUT_MAX)
		n = (cut = line_end(p, LINE_OUT_MAX)) ? cut : LINE_OUT_MAX;
	if (k->rotates && k->size + (long long)n > k->maxbytes) {
		size_t room = k->maxbytes > k->size ?
		    (size_t)(k->maxbytes - k->size) : 0;

		if ((cut = line_end(p, room < n ? room : n)) > 0)
			return cut;
		if (k->size > 0)
			return 0;
		/* a line longer than a whole file: it alone, uncut */
		nl = memchr(p + room, '\n', n - room);
		return nl ? (size_t)(nl - p) + 1 : n;
	}
	return n;
}

static ssize_t
sink_write(const struct sink *k, const char *p, size_t n)
{
	struct pollfd pfd = { .fd = k->watch.fd, .events = POLLOUT };

	if (k->socket)
		return send(k->watch.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (k->poll_first) {
		if (poll(&pfd, 1, 0) <= 0) {	/* full, or try again later */
			errno = EAGAIN;
			return -1;
		}
		if (n > LINE_OUT_MAX)
			n = line_end(p, LINE_OUT_MAX) ? line_end(p,
			    LINE_OUT_MAX) : LINE_OUT_MAX;
	}
	return write(k->watch.fd, p, n);
}

static void
sink_unblock(struct sink *k)
{
	struct stream *st, *next;

	k->blocked = false;
	loop_unwatch(&k->watch);
	if (k == out.log)
		log_output_ready();
	for (st = out.streams; st; st = next) {
		next = st->next;
		if (st->src->sink[st->channel] != k ||
		    !stream_process(st, st->eof))
			continue;
		if (st->eof && st->len == 0)
			stream_free(st);
		else
			stream_resume(st);
	}
}

static void
sink_block(struct sink *k)
{
	if (loop_watch(&k->watch, EPOLLOUT) == 0)
		k->blocked = true;
}

/* State first: the report goes through the sinks, maybe through k. */
static void
sink_fail(struct sink *k, int err)
{
	bool first = !k->failing;

	k->failing = err;
	k->lost += k->len;
	k->off = k->len = 0;
	if (first)
		log_warnx("%s: %s; output is dropped until it can be written",
		    k->name, strerror(err));
}

static void
sink_recovered(struct sink *k)
{
	unsigned long long lost = k->lost;

	k->failing = 0;
	k->lost = 0;
	if (lost)
		log_warnx("%s: writing again, %llu bytes of output were "
		    "dropped", k->name, lost);
}

/*
 * Writes what k holds. Reports made on the way may come back to k (a
 * failed rotation of tend's own log file): they are only queued, since
 * this loop writes them too.
 */
static void
sink_flush(struct sink *k)
{
	if (k->flushing)
		return;
	k->flushing = true;
	while (k->len > 0) {
		size_t n = next_write(k);
		ssize_t w;

		if (n == 0) {
			sink_rotate(k);
			continue;
		}
		w = sink_write(k, k->buf + k->off, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!k->blocked)
				sink_block(k);
			if (k->blocked) {
				k->flushing = false;
				return;
			}
			errno = EAGAIN;
		}
		if (w <= 0) {
			sink_fail(k, w < 0 ? errno : EIO);
			break;
		}
		if (k->path && out.file_written)
			out.file_written(k->path, k->buf + k->off, (size_t)w);
		k->off += (size_t)w;
		k->len -= (size_t)w;
		k->size += w;
		if (k->rotates && k->size >= k->maxbytes)
			sink_rotate(k);
		if (k->failing || k->lost)
			sink_recovered(k);
	}
	k->flushing = false;
	if (k->len)
		return;		/* blocked, or failing with a report queued */
	k->off = 0;
	if (k->blocked) {
		sink_unblock(k);
		if (k->len && !k->blocked)
			sink_flush(k);
	}
}

/* Room for need more bytes, writing or compacting first; NULL: full. */
static char *
sink_room(struct sink *k, size_t need)
{
	if (OUTPUT_SINK_BUF - k->off - k->len < need && !k->blocked)
		sink_flush(k);
	if (OUTPUT_SINK_BUF - k->off - k->len < need && k->off) {
		memmove(k->buf, k->buf + k->off, k->len);
		k->off = 0;
	}
	if (OUTPUT_SINK_BUF - k->off - k->len < need)
		return NULL;
	return k->buf + k->off + k->len;
}

/* ---- formatting -------------------------------------------------------- */

/* "2026-11-25T10:50:23.123Z" (24 bytes), formatted once per millisecond. */
static const char *
stamp(void)
{
	struct timespec ts;
	long long ms, s, y;
	unsigned m, d;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (ms == out.stamp_ms && out.stamp[0])
		return out.stamp;
	out.stamp_ms = ms;
	s = ts.tv_sec;
	fmt_civil_date(s / 86400 - (s % 86400 < 0), &y, &m, &d);
	s = (s % 86400 + 86400) % 86400;
	fmt_snprintf(out.stamp, sizeof(out.stamp),
	    "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", y, m, d,
	    (unsigned)(s / 3600), (unsigned)(s / 60 % 60), (unsigned)(s % 60),
	    (unsigned)(ms % 1000));
	return out.stamp;
}

/* The bytes c takes inside a JSON string. */
static size_t
json_width(unsigned char c)
{
	if (c == '"' || c == '\\' || c == '\n' || c == '\t' || c == '\r')
		return 2;
	return c < 0x20 || c == 0x7f ? 6 : 1;
}

/* How many bytes of p fit in room bytes once escaped. */
static size_t
json_fit(const char *p, size_t len, size_t room)
{
	size_t i, used = 0;

	for (i = 0; i < len; i++) {
		used += json_width((unsigned char)p[i]);
		if (used > room)
			break;
	}
	return i;
}

static size_t
json_escape(char *o, const char *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		switch (json_width(c)) {
		case 1:
			o[n++] = (char)c;
			break;
		case 2:
			o[n++] = '\\';
			o[n++] = c == '\n' ? 'n' : c == '\t' ? 't' :
			    c == '\r' ? 'r' : (char)c;
			break;
		default:
			memcpy(o + n, "\\u00", 4);
			o[n + 4] = hex[c >> 4];
			o[n + 5] = hex[c & 15];
			n += 6;
			break;
		}
	}
	return n;
}

static size_t
put_text(char *o, const char *s)
{
	size_t n = strlen(s);

	memcpy(o, s, n);
	return n;
}

/* A cut never falls inside a UTF-8 sequence, when it can be avoided. */
static size_t
utf8_cut(const char *p, size_t used)
{
	size_t back = 0;

	while (back < 3 && used - back > 0 &&
	    ((unsigned char)p[used - back] & 0xc0) == 0x80)
		back++;
	return used - back > 0 ? used - back : used;
}

/*
 * One line into k, formatted; a line that does not fit in LINE_OUT_MAX
 * bytes gives its first piece. Returns the bytes of p used, or -1 when k
 * has no room.
 */
static long
put_line(struct sink *k, const struct source *s, int channel, const char *p,
    size_t len)
{
	const struct log_format *f = &s->format;
	char *o = sink_room(k, LINE_OUT_MAX);
	size_t n = 0, used, room;

	if (!o)
		return -1;
	if (f->json) {
		n += put_text(o + n, "{\"time\":\"");
		n += put_text(o + n, stamp());
		n += put_text(o + n, "\",\"program\":\"");
		n += json_escape(o + n, s->name, strnlen(s->name, NAME_MAX_OUT));
		n += put_text(o + n, "\",\"stream\":\"");
		n += put_text(o + n, channel_names[channel]);
		n += put_text(o + n, "\",\"line\":\"");
		room = LINE_OUT_MAX - n - 3;		/* "}\n */
		used = json_fit(p, len, room);
		if (used < len)
			used = utf8_cut(p, used);
		n += json_escape(o + n, p, used);
		n += put_text(o + n, "\"}");
	} else {
		if (f->timestamp) {
			n += put_text(o + n, stamp());
			o[n++] = ' ';
		}
		memcpy(o + n, s->prefix, s->prefix_len);
		n += s->prefix_len;
		room = LINE_OUT_MAX - n - 1;
		used = len <= room ? len : utf8_cut(p, room);
		memcpy(o + n, p, used);
		n += used;
	}
	o[n++] = '\n';
	k->len += n;
	return (long)used;
}

/* As much of p as k takes, unchanged; 0 when it is full. */
static size_t
put_raw(struct sink *k, const char *p, size_t len)
{
	size_t room;

	if (!sink_room(k, len < OUTPUT_SINK_BUF ? len : OUTPUT_SINK_BUF) &&
	    !sink_room(k, 1))
		return 0;
	room = OUTPUT_SINK_BUF - k->off - k->len;
	if (len > room)
		len = room;
	memcpy(k->buf + k->off + k->len, p, len);
	k->len += len;
	return len;
}

/*
 * The last stderr lines of a critical program, for its epitaph: a line
 * (newline added), or bytes as read. The buffer holds twice the tail, so
 * that the oldest bytes are moved out only once per OUTPUT_TAIL.
 */
static void
tail_add(struct source *s, int channel, const char *p, size_t len,
    bool line)
{
	size_t keep;

	if (!s->tail || channel != s->tail_channel)
		return;
	if (len >= OUTPUT_TAIL) {
		p += len - (OUTPUT_TAIL - 1);
		len = OUTPUT_TAIL - 1;
		s->tail_len = 0;
		s->tail_cut = true;
	}
	if (s->tail_len + len + 1 > 2 * OUTPUT_TAIL) {
		keep = s->tail_len < OUTPUT_TAIL ? s->tail_len : OUTPUT_TAIL;
		memmove(s->tail, s->tail + s->tail_len - keep, keep);
		s->tail_len = keep;
		s->tail_cut = true;
	}
	memcpy(s->tail + s->tail_len, p, len);
	s->tail_len += len;
	if (line)
		s->tail[s->tail_len++] = '\n';
}

/* ---- streams ----------------------------------------------------------- */

static void
stream_ready(struct watch *w, uint32_t events);

/* A partial line waited OUTPUT_FLUSH_MS: out it goes, newline added. */
static void
stream_flush_due(struct timer *t)
{
	struct stream *st = container_of(t, struct stream, flush);
	struct sink *k = st->src->sink[st->channel];

	if (stream_process(st, true) && !k->blocked)
		sink_flush(k);
}

static struct stream *
stream_new(struct source *s, int channel)
{
	struct stream *st = out.spare;

	if (st) {
		out.spare = st->next;
	} else {
		st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (st == MAP_FAILED)
			return NULL;
	}
	st->watch.fd = -1;
	st->watch.ready = stream_ready;
	st->src = s;
	s->refs++;
	st->channel = channel;
	st->reading = st->eof = st->held = false;
	st->flush = (struct timer){ .fire = stream_flush_due };
	st->off = st->len = 0;
	st->next = NULL;
	return st;
}

static void
stream_pause(struct stream *st)
{
	if (st->reading)
		loop_unwatch(&st->watch);
	st->reading = false;
}

static void
stream_resume(struct stream *st)
{
	if (st->reading || st->eof)
		return;
	if (loop_watch(&st->watch, EPOLLIN) < 0)
		log_warn("%s: cannot watch its %s", st->src->name,
		    channel_names[st->channel]);
	else
		st->reading = true;
}

/* Unlinks a stream and keeps its memory for the next one. */
static void
stream_free(struct stream *st)
{
	struct stream **pp;

	stream_pause(st);
	timer_cancel(&st->flush);
	if (st->watch.fd >= 0)
		close(st->watch.fd);
	st->watch.fd = -1;
	if (st->held)
		out.ended--;
	for (pp = &out.streams; *pp; pp = &(*pp)->next) {
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	}
	if (st->src->current[st->channel] == st)
		st->src->current[st->channel] = NULL;
	source_unref(st->src);
	st->next = out.spare;
	out.spare = st;
}

static void
consume(struct stream *st, size_t n)
{
	st->off += n;
	st->len -= n;
}

/*
 * Moves what the stream holds to its sink: whole lines, and a partial
 * line only when forced (end of file, or it waited OUTPUT_FLUSH_MS) or
 * when it fills the buffer. Returns false when the sink is full.
 */
static bool
stream_process(struct stream *st, bool force)
{
	struct source *s = st->src;
	struct sink *k = s->sink[st->channel];
	bool lines = false;

	while (st->len > 0) {
		const char *p = st->in + st->off;
		const char *nl;
		size_t len;
		long used;

		if (is_exact(s, st->channel)) {
			if ((used = (long)put_raw(k, p, st->len)) == 0)
				goto full;
			if (k->failing)		/* it goes with the next failure */
				s->dropped[st->channel] += (size_t)used;
			tail_add(s, st->channel, p, (size_t)used, false);
			consume(st, (size_t)used);
			continue;
		}
		nl = memchr(p, '\n', st->len);
		len = nl ? (size_t)(nl - p) : st->len;
		if (!nl && !force && st->len < OUTPUT_STREAM_BUF)
			break;
		if ((used = put_line(k, s, st->channel, p, len)) < 0)
			goto full;
		if (k->failing)
			s->dropped[st->channel] += (size_t)used + 1;
		tail_add(s, st->channel, p, (size_t)used, true);
		consume(st, (size_t)used + (nl && (size_t)used == len));
		lines = true;
	}
	if (st->len == 0)
		st->off = 0;
	/* the delay counts from the first byte of the partial line left */
	if (st->len == 0)
		timer_cancel(&st->flush);
	else if (lines || !timer_pending(&st->flush))
		timer_set(&st->flush, loop_now() + OUTPUT_FLUSH_MS);
	return true;
full:
	timer_cancel(&st->flush);	/* the sink's unblocking takes over */
	return false;
}

/*
 * The pipe is closed for good: whatever is left goes out as lines. A
 * stream whose sink is full waits for it, up to OUTPUT_ENDED_MAX such
 * streams (a crash loop behind a stuck collector); beyond, it is dropped.
 */
static void
stream_end(struct stream *st)
{
	struct sink *k = st->src->sink[st->channel];

	stream_pause(st);
	st->eof = true;
	close(st->watch.fd);
	st->watch.fd = -1;
	if (stream_process(st, true) && !k->blocked)
		sink_flush(k);
	if (st->len == 0) {
		stream_free(st);
		return;
	}
	st->held = true;
	if (++out.ended > OUTPUT_ENDED_MAX) {
		k->lost += st->len;
		st->src->dropped[st->channel] += st->len;
		stream_free(st);
	}
}

/*
 * One read and its relaying; true when more may be read at once. Only a
 * stream being read is read: one paused behind a full sink holds a full
 * buffer, and an event of the same epoll batch may name a stream that an
 * earlier event (a program's exit) has already drained and freed.
 */
static bool
stream_read(struct stream *st)
{
	struct sink *k = st->src->sink[st->channel];
	ssize_t n;

	if (!st->reading)
		return false;
	if (st->off) {		/* a partial line, short unless the sink is full */
		memmove(st->in, st->in + st->off, st->len);
		st->off = 0;
	}
	n = read(st->watch.fd, st->in + st->len, OUTPUT_STREAM_BUF - st->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return errno == EINTR;
	if (n <= 0) {
		if (n < 0)
			log_warn("%s: reading its %s", st->src->name,
			    channel_names[st->channel]);
		stream_end(st);
		return false;
	}
	st->len += (size_t)n;
	st->src->relayed[st->channel] += (size_t)n;
	if (!stream_process(st, false)) {
		stream_pause(st);
		return false;
	}
	if (!k->blocked)
		sink_flush(k);
	return st->reading;
}

static void
stream_ready(struct watch *w, uint32_t events)
{
	(void)events;
	(void)stream_read((struct stream *)w);
}

/* ---- tend's own log ---------------------------------------------------- */

static bool
log_line_to(struct sink *k, const char *line, size_t len)
{
	/* "tend: " says who speaks in text; JSON has "program" for that */
	if (out.tend.format.json && len > 6 && memcmp(line, "tend: ", 6) == 0)
		line += 6, len -= 6;
	if (put_line(k, &out.tend, CH_ERR, line, len - 1) < 0)
		return false;
	if (!k->blocked)
		sink_flush(k);
	return true;
}

static bool
log_write(const char *line, size_t len)
{
	bool ok = log_line_to(out.log, line, len);

	if (out.log_copy)
		(void)log_line_to(out.log_copy, line, len);
	return ok;
}

/* ---- set-up ------------------------------------------------------------ */

static bool
is_plain(const struct log_format *f)
{
	return !f->prefix && !f->timestamp && !f->json;
}

/*
 * Bytes as read, without line handling: an unformatted stream bound
 * for a log file that it alone writes, or relayed to tend's own stream
 * only so that its tail is kept (see route).
 */
static bool
is_exact(const struct source *s, int ch)
{
	return is_plain(&s->format) && (!s->sink[ch]->path ||
	    s->sink[ch]->nsources == 1);
}

static void
name_source(struct source *s, const char *name, const struct log_format *f)
{
	size_t n = strnlen(name, NAME_MAX_OUT);

	memcpy(s->name, name, n);
	s->name[n] = '\0';
	s->format = *f;
	s->prefix_len = 0;
	if (!f->prefix)
		return;
	memcpy(s->prefix, name, n);
	memcpy(s->prefix + n, " | ", 3);
	s->prefix_len = n + 3;
}

/* A program now writes to tend's stream fd directly: it is shared. */
static void
share_std(int fd)
{
	struct sink *k = out.std[fd - 1];
	int flags;

	if (!k || k->shared)
		return;
	k->shared = true;
	/* the O_NONBLOCK of the fallback would reach the program too */
	if (k->set_nonblock && (flags = fcntl(k->watch.fd, F_GETFL)) >= 0 &&
	    fcntl(k->watch.fd, F_SETFL, flags & ~O_NONBLOCK) == 0) {
		k->set_nonblock = false;
		k->poll_first = true;
	}
}

/*
 * Where one of a program's streams goes. When a termination log
 * exists, a critical program's stderr (main's too) is relayed to the
 * same place, bytes unchanged, so that its last lines can go in the
 * message; a terminal is left alone, for docker run -it.
 */
static int
route(struct source *s, int ch)
{
	const struct program *p = s->conf;
	const struct log_target *t = ch == CH_ERR ? &p->err : &p->out;

	s->child[ch] = CHILD_INHERIT;
	s->sink[ch] = NULL;
	if (ch == CH_ERR && p->redirect_stderr)
		return 0;		/* fd 2 is fd 1, wherever that goes */
	if (t->kind == LOG_DISCARD) {
		s->child[ch] = CHILD_DISCARD;
		return 0;
	}
	if (t->kind == LOG_FILE) {
		if (!(s->sink[ch] = file_sink(t->path, t->maxbytes, t->backups)))
			return -1;
	} else if (is_plain(&s->format) && !(ch == CH_ERR && p->critical &&
	    out.keep_stderr && !isatty(t->fd))) {
		share_std(t->fd);
		if (t->fd != ch + 1)
			s->child[ch] = t->fd;	/* the other one of tend's */
		return 0;
	} else {
		s->sink[ch] = std_sink(t->fd);
	}
	s->sink[ch]->nsources++;
	return 0;
}

static bool
same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The stderr of a critical program is kept for the termination message. */
static void
keep_tail(struct source *s)
{
	const struct program *p = s->conf;

	s->tail_channel = p->redirect_stderr ? CH_OUT : CH_ERR;
	s->tail_len = 0;
	s->tail_cut = false;
	if (!p->critical || !s->sink[s->tail_channel] || (!s->tail &&
	    !(s->tail = arena_alloc(&out.arena, 2 * OUTPUT_TAIL))))
		s->tail_channel = -1;
}

void
output_setup(const struct config *c)
{
	int ch;

	out.keep_stderr = c->termination_log &&
	    access(c->termination_log, F_OK) == 0;
	name_source(&out.tend, "tend", &c->format);
	out.tend.format.prefix = false;		/* its lines say "tend:" */
	out.tend.prefix_len = 0;
	out.log = std_sink(c->log_to_stdout ? 1 : 2);
	out.log->nsources++;
	if (c->logfile) {
		out.log_copy = file_sink(c->logfile, c->logfile_maxbytes,
		    c->logfile_backups);
		out.log_copy->nsources++;
	}
	for (ch = 0; ch < 2; ch++) {
		if (!out.std[ch])
			continue;
		out.std[ch]->shared = same_file(STDOUT_FILENO, STDERR_FILENO);
		std_sink_nonblocking(out.std[ch]);
	}
	log_set_writer(log_write);
}

void
output_on_file_write(void (*hook)(const char *path, const char *p, size_t n))
{
	out.file_written = hook;
}

void
output_set_format(const struct log_format *f)
{
	name_source(&out.tend, "tend", f);
	out.tend.format.prefix = false;
	out.tend.prefix_len = 0;
}

struct output *
output_attach(const struct program *p)
{
	struct source *s = out.free_sources;
	int ch;

	if (s)
		out.free_sources = s->free_next;
	else if (!(s = arena_alloc(&out.arena, sizeof(*s))))
		return NULL;
	else
		s->tail = NULL;
	{
		char *tail = s->tail;

		memset(s, 0, sizeof(*s));
		s->tail = tail;
	}
	s->conf = p;
	name_source(s, p->name, &p->format);
	for (ch = CH_OUT; ch <= CH_ERR; ch++) {
		if (route(s, ch) < 0) {
			if (ch == CH_ERR && s->sink[CH_OUT])
				sink_release(s->sink[CH_OUT]);
			s->free_next = out.free_sources;
			out.free_sources = s;
			return NULL;
		}
	}
	s->refs = 1;
	keep_tail(s);
	return s;
}

/* The last reference: the sinks lose a source, the memory is kept. */
static void
source_unref(struct source *s)
{
	int ch;

	if (--s->refs > 0)
		return;
	for (ch = CH_OUT; ch <= CH_ERR; ch++)
		if (s->sink[ch])
			sink_release(s->sink[ch]);
	s->free_next = out.free_sources;
	out.free_sources = s;
}

void
output_detach(struct output *s)
{
	s->conf = NULL;
	source_unref(s);
}

/*
 * The same process under a new description (a reload that changed no
 * key shaping it): where its output goes is the same, the rotation
 * limits of its files may not be.
 */
void
output_update(struct output *s, const struct program *p)
{
	const struct log_target *t[2] = { &p->out, &p->err };
	int ch;

	s->conf = p;
	for (ch = CH_OUT; ch <= CH_ERR; ch++) {
		struct sink *k = s->sink[ch];
		struct stat st;

		if (!k || !k->path || t[ch]->kind != LOG_FILE)
			continue;
		k->maxbytes = t[ch]->maxbytes;
		k->backups = t[ch]->backups;
		k->rotates = fstat(k->watch.fd, &st) == 0 &&
		    S_ISREG(st.st_mode) && k->maxbytes > 0;
	}
}

/* ---- programs ---------------------------------------------------------- */

int
output_prepare(struct output *s, struct child_stdio *io)
{
	int ch, fds[2], *child[2] = { &io->out, &io->err };

	for (ch = CH_OUT; ch <= CH_ERR; ch++) {
		struct stream *st;

		*child[ch] = s->child[ch];
		if (!s->sink[ch])
			continue;
		if (!(st = stream_new(s, ch))) {
			output_spawned(s, io, false);
			errno = ENOMEM;
			return -1;
		}
		/* pending before the pipe exists, so that a failure frees it */
		s->pending[ch] = st;
		*child[ch] = -1;
		if (pipe2(fds, O_CLOEXEC) < 0) {
			int err = errno;

			output_spawned(s, io, false);
			errno = err;
			return -1;
		}
		/* the child's end stays blocking: only tend's is not */
		(void)fcntl(fds[0], F_SETFL, O_NONBLOCK);
		st->watch.fd = fds[0];
		*child[ch] = fds[1];
	}
	return 0;
}

void
output_spawned(struct output *s, struct child_stdio *io, bool forked)
{
	int ch, *child[2] = { &io->out, &io->err };

	for (ch = CH_OUT; ch <= CH_ERR; ch++) {
		struct stream *st = s->pending[ch];

		if (!st)
			continue;
		s->pending[ch] = NULL;
		if (*child[ch] >= 0)
			close(*child[ch]);
		if (!forked) {
			if (st->watch.fd >= 0)
				close(st->watch.fd);
			source_unref(s);
			st->next = out.spare;
			out.spare = st;
			continue;
		}
		st->next = out.streams;
		out.streams = st;
		s->current[ch] = st;
		stream_resume(st);
	}
}

/*
 * A program has exited: what it wrote is in its pipes, and is relayed
 * before its exit is logged. Bounded, since a descendant may keep
 * writing to the same pipe.
 */
void
output_drain(struct output *s)
{
	int ch, i;

	for (ch = CH_OUT; ch <= CH_ERR; ch++)
		for (i = 0; i < 8 && s->current[ch] &&
		    stream_read(s->current[ch]); i++)
			;	/* stops at a paused or ended stream */
}

void
output_reopen(void)
{
	struct sink *k;
	int reopened = 0, failed = 0;

	for (k = out.sinks; k; k = k->next) {
		if (!k->path)
			continue;
		if (sink_open(k, 0) == 0) {
			reopened++;
			continue;
		}
		failed++;
		log_warn("%s: cannot reopen", k->path);
	}
	if (reopened || failed)
		log_info("SIGUSR2 received: %d log files reopened, %d could "
		    "not be", reopened, failed);
}

bool
output_pending(void)
{
	const struct sink *k;

	if (out.streams)
		return true;
	for (k = out.sinks; k; k = k->next)
		if (k->len && !k->failing)
			return true;
	return false;
}

void
output_finish(void)
{
	unsigned long long lost = 0;
	struct stream *st;
	struct sink *k;

	for (st = out.streams; st; st = st->next) {
		int unread = 0;

		if (st->watch.fd >= 0 && ioctl(st->watch.fd, FIONREAD,
		    &unread) == 0 && unread > 0)
			lost += (unsigned)unread;
		lost += st->len;
	}
	for (k = out.sinks; k; k = k->next)
		if (k->len && !k->blocked)
			sink_flush(k);
	for (k = out.sinks; k; k = k->next)
		lost += k->len;
	if (lost)
		log_warnx("%llu bytes of output could not be delivered", lost);
}

size_t
output_stderr_tail(const struct output *s, char *buf, size_t len)
{
	const char *t;
	size_t n;

	if (!s || !len || !s->tail || s->tail_channel < 0)
		return 0;
	n = s->tail_len < len - 1 ? s->tail_len : len - 1;
	t = s->tail + s->tail_len - n;
	/* start at a line */
	if (n < s->tail_len ? t[-1] != '\n' : s->tail_cut) {
		const char *nl = memchr(t, '\n', n);

		n = nl ? n - (size_t)(nl + 1 - t) : 0;
		t = nl ? nl + 1 : t;
	}
	memcpy(buf, t, n);
	buf[n] = '\0';
	return n;
}

void
output_keep_counts(struct output *to, const struct output *from)
{
	memcpy(to->relayed, from->relayed, sizeof(to->relayed));
	memcpy(to->dropped, from->dropped, sizeof(to->dropped));
}

void
output_counts(const struct output *s, unsigned long long relayed[2],
    unsigned long long dropped[2])
{
	int ch;

	for (ch = CH_OUT; ch <= CH_ERR; ch++) {
		relayed[ch] = s->relayed[ch];
		dropped[ch] = s->dropped[ch];
	}
}
