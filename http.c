/*
 * http.c: the control server. One framing for every client: HTTP/1.1
 * over the Unix socket and, when configured, a TCP port, both served by
 * the event loop with no thread and no blocking call.
 *
 * A connection is a small state machine with bounded buffers (as in
 * redis's networking.c): it reads one request at a time, parses it
 * strictly (OpenBSD httpd: a request line and headers with limits, one
 * Content-Length, no chunked bodies; what is not understood gets a
 * status and the connection is closed), routes it through one table,
 * and writes the reply before it reads the next, so pipelined requests
 * are answered in order. A client that sends too much, too slowly, or
 * never reads is dropped. With no client connected there is no timer:
 * an idle tend does not wake up.
 *
 * Who may do what: the socket's file mode decides who connects, as in
 * supervisord, then HTTP basic auth when credentials are configured
 * (plain, or supervisord's {SHA} form). Over TCP, reads are open unless
 * credentials are set, and actions always need them. Cross-site
 * requests from a browser are refused (Origin, Sec-Fetch-Site).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "fmt.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "output.h"
#include "prog.h"

/* The head of a reply is written into this room before its body. */
#define HEAD_ROOM 1536

enum conn_state {
	CONN_READ,		/* waiting for (the rest of) a request */
	CONN_PARKED,		/* the reply waits for an operation */
	CONN_WRITE,		/* writing the reply */
	CONN_STREAM,		/* a reply without an end: tail -f */
};

struct listener {
	struct watch watch;
	bool tcp;
	struct timer retry;		/* accept paused: out of descriptors */
	bool paused;
	bool failing;			/* accept failed, said once */
	/* its clients: the TCP port's cannot crowd out the socket's */
	int nconns;
};

struct conn {
	struct watch watch;		/* first: the loop hands this back */
	struct listener *l;
	enum conn_state state;
	struct timer timer;
	struct timer resume;		/* the rest of a pipeline, next pass */
	uint32_t events;		/* what the loop waits for now */
	char *in;			/* HTTP_HEAD_MAX + HTTP_BODY_MAX mapped */
	size_t in_off, in_len;		/* the request at in_off, bytes up to in_len */
	size_t in_peak;			/* the most it held: what it touched */
	size_t head_len, body_len;	/* of the request read; 0: not yet */
	const char *auth;		/* its Authorization, or NULL */
	bool busy;			/* in dispatch: closing is deferred */
	bool closing;
	struct http_request req;
	struct buf out;
	size_t out_off;			/* written so far */
	char extra[1024];		/* header lines of the reply to come */
	size_t extra_len;
	bool close_after;
	bool half_closed;		/* the client sends no more: no RDHUP */
	bool chunked;			/* a stream under HTTP/1.1 */
	struct prog_op *op;		/* while parked */
	char tail_path[512];		/* while streaming */
	struct conn *next, *free_next;
};

static struct {
	struct listener unix_l, tcp_l;
	char socket_path[108];		/* the socket made, removed at exit */
	dev_t socket_dev;
	ino_t socket_ino;
	/* the socket to make, as tend started: a reload tries again */
	char want_path[256];		/* "": none */
	mode_t want_mode;
	bool want_owner, quiet;
	struct user owner;
	bool unix_failed;		/* said once, until it works */
	struct arena arena;
	struct conn *conns, *free;
} srv;

static void conn_close(struct conn *c);
static void conn_ready(struct watch *w, uint32_t events);
static void conn_writable(struct conn *c);
static void handle_input(struct conn *c);
static void resume_input(struct timer *t);

/* ---- the parts of a connection ------------------------------------------- */

static void
set_events(struct conn *c, uint32_t events)
{
	/* level-triggered: a half-close seen once would wake the loop for ever */
	if (c->half_closed)
		events &= ~(uint32_t)EPOLLRDHUP;
	if (events == c->events)
		return;
	if (loop_rewatch(&c->watch, events) == 0)
		c->events = events;
}

static void
conn_timeout(struct timer *t)
{
	struct conn *c = container_of(t, struct conn, timer);

	log_debug("control client dropped: %s", c->state == CONN_READ ?
	    (c->in_len > c->in_off ? "its request took too long" : "idle") :
	    "it does not read its reply");
	conn_close(c);
}

static void
arm(struct conn *c, long ms)
{
	timer_set(&c->timer, loop_now() + ms);
}

static struct conn *
conn_new(int fd, struct listener *l)
{
	struct conn *c = srv.free;

	if (c)
		srv.free = c->free_next;
	else if (!(c = arena_alloc(&srv.arena, sizeof(*c))))
		return NULL;
	/* mapped once, touched only as far as requests reach */
	if (!c->in && (c->in = mmap(NULL, HTTP_HEAD_MAX + HTTP_BODY_MAX + 1,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	    0)) == MAP_FAILED) {
		c->in = NULL;	/* the next one tries again */
		c->free_next = srv.free;
		srv.free = c;
		return NULL;
	}
	c->watch.fd = fd;
	c->watch.ready = conn_ready;
	c->l = l;
	c->state = CONN_READ;
	c->timer = (struct timer){ .fire = conn_timeout };
	c->resume = (struct timer){ .fire = resume_input };
	c->in_off = c->in_len = c->in_peak = c->head_len = c->body_len = 0;
	c->busy = c->closing = false;
	buf_init(&c->out, 0);
	c->out_off = c->extra_len = 0;
	c->close_after = c->chunked = c->half_closed = false;
	c->op = NULL;
	c->tail_path[0] = '\0';
	c->events = EPOLLIN | EPOLLRDHUP;
	if (loop_watch(&c->watch, c->events) < 0) {
		c->free_next = srv.free;
		srv.free = c;
		return NULL;
	}
	c->next = srv.conns;
	srv.conns = c;
	l->nconns++;
	arm(c, HTTP_IDLE_MS);
	return c;
}

static void
conn_close(struct conn *c)
{
	struct conn **cp;

	if (c->busy) {
		c->closing = true;	/* handle_input frees it on return */
		return;
	}
	if (c->op)
		prog_op_cancel(c->op);
	c->op = NULL;
	timer_cancel(&c->timer);
	timer_cancel(&c->resume);
	loop_unwatch(&c->watch);
	close(c->watch.fd);
	buf_free(&c->out);
	/* what its requests touched goes back: a slot on the free list costs nothing */
	if (c->in_peak)
		(void)madvise(c->in, c->in_peak + 1, MADV_DONTNEED);
	for (cp = &srv.conns; *cp; cp = &(*cp)->next) {
		if (*cp == c) {
			*cp = c->next;
			break;
		}
	}
	c->l->nconns--;
	c->free_next = srv.free;
	srv.free = c;
}

/* ---- accepting ------------------------------------------------------------ */

static void accept_ready(struct watch *w, uint32_t events);

/* Out of descriptors: accepting waits, instead of spinning on the error. */
static void
accept_resume(struct timer *t)
{
	struct listener *l = container_of(t, struct listener, retry);

	if (loop_watch(&l->watch, EPOLLIN) == 0)
		l->paused = false;
	else
		timer_set(&l->retry, loop_now() + 1000);
}

static void
accept_ready(struct watch *w, uint32_t events)
{
	struct listener *l = container_of(w, struct listener, watch);
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Length: 21\r\nConnection: close\r\n\r\n"
	    "too many connections\n";
	int i;

	(void)events;
	for (i = 0; i < 64; i++) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS) {
				if (!l->failing)
					log_warn("control server: cannot accept, "
					    "pausing for 1 s at a time");
				l->failing = true;
				loop_unwatch(&l->watch);
				l->paused = true;
				timer_set(&l->retry, loop_now() + 1000);
			}
			return;	/* EAGAIN, or a client gone before accept */
		}
		if (l->failing) {
			log_info("control server: accepting again");
			l->failing = false;
		}
		if (l->nconns >= HTTP_CLIENTS || !conn_new(fd, l)) {
			(void)send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT |
			    MSG_NOSIGNAL);
			close(fd);
		}
	}
}

static bool
listen_on(struct listener *l, int fd)
{
	if (listen(fd, 128) < 0) {
		close(fd);
		return false;
	}
	l->watch.fd = fd;
	l->watch.ready = accept_ready;
	l->retry.fire = accept_resume;
	if (loop_watch(&l->watch, EPOLLIN) < 0) {
		close(fd);
		l->watch.fd = -1;
		return false;
	}
	return true;
}

/* Whether a server answers on path: a live socket is not replaced. */
static bool
socket_alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ||
	    errno == EAGAIN;
	close(fd);
	return alive;
}

/*
 * Bound under a temporary name, given its mode and owner, then renamed
 * over the path: a client never meets the socket with looser rights,
 * and a stale one from an earlier run is replaced at once.
 */
static void
listen_unix(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sockaddr_un tmp = { .sun_family = AF_UNIX };
	const char *path = srv.want_path;
	struct stat st;
	int fd;

	if (!*path)
		return;
	fmt_snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fmt_snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.%d", path,
	    (int)getpid()) >= (int)sizeof(tmp.sun_path)) {
		log_warnx("%s: the path is too long for a socket; running "
		    "without a control socket", path);
		srv.want_path[0] = '\0';	/* no retry makes it shorter */
		return;
	}
	if (lstat(sa.sun_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    socket_alive(&sa)) {
		if (!srv.unix_failed)
			log_warnx("%s: another server answers there; running "
			    "without a control socket", path);
		srv.unix_failed = true;
		return;
	}
	(void)unlink(tmp.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&tmp, sizeof(tmp)) < 0 ||
	    chmod(tmp.sun_path, srv.want_mode) < 0 || (srv.want_owner &&
	    chown(tmp.sun_path, srv.owner.uid, srv.owner.gid) < 0) ||
	    rename(tmp.sun_path, sa.sun_path) < 0) {
		/*
		 * tini's contract, with no configuration: the default socket
		 * is a convenience, and a read-only root is no news
		 */
		if (srv.quiet)
			log_debug("%s: no control socket: %s", path,
			    strerror(errno));
		else if (!srv.unix_failed)
			log_warn("%s: cannot make the control socket; running "
			    "without it", path);
		srv.unix_failed = true;
		if (fd >= 0)
			close(fd);
		(void)unlink(tmp.sun_path);
		return;
	}
	if (!listen_on(&srv.unix_l, fd)) {
		log_warn("%s: cannot listen", path);
		(void)unlink(sa.sun_path);
		return;
	}
	memcpy(srv.socket_path, sa.sun_path, sizeof(srv.socket_path));
	if (stat(srv.socket_path, &st) == 0) {
		srv.socket_dev = st.st_dev;
		srv.socket_ino = st.st_ino;
	}
	if (srv.unix_failed)
		log_info("%s: control socket made", path);
	srv.unix_failed = false;
	log_debug("control socket %s", srv.socket_path);
}

static bool
is_loopback(const struct inet_addr *a)
{
	static const unsigned char v6_loopback[16] = { [15] = 1 };

	if (a->u.sa.sa_family == AF_INET)
		return (ntohl(a->u.in.sin_addr.s_addr) >> 24) == 127;
	return memcmp(&a->u.in6.sin6_addr, v6_loopback, 16) == 0;
}

static void
listen_tcp(const struct config *c)
{
	int fd, on = 1;

	if (!c->http_port)
		return;
	fd = socket(c->http_addr.u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) < 0 || bind(fd, &c->http_addr.u.sa,
	    c->http_addr.len) < 0) {
		log_warn("%s: cannot listen; running without the HTTP port",
		    c->http_port);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (!listen_on(&srv.tcp_l, fd)) {	/* which closed it */
		log_warn("%s: cannot listen; running without the HTTP port",
		    c->http_port);
		return;
	}
	if (!is_loopback(&c->http_addr) && !c->http_username)
		log_warnx("%s: reachable beyond this host without credentials: "
		    "anyone may read the state (set http_username and "
		    "http_password to act and to hide it)", c->http_port);
}

void
http_setup(const struct config *c)
{
	srv.unix_l.watch.fd = srv.tcp_l.watch.fd = -1;
	srv.tcp_l.tcp = true;
	if (c->socket_path)
		fmt_snprintf(srv.want_path, sizeof(srv.want_path), "%s",
		    c->socket_path);
	srv.want_mode = c->socket_mode;
	srv.want_owner = c->socket_owner_spec != NULL;
	srv.owner = c->socket_owner;
	srv.quiet = !c->file && c->socket_path &&
	    !strcmp(c->socket_path, DEFAULT_CONTROL_SOCKET);
	listen_unix();
	listen_tcp(c);
}

void
http_retry(void)
{
	struct stat st;

	/* a socket removed with its directory is made again, too */
	if (srv.unix_l.watch.fd >= 0 && (stat(srv.socket_path, &st) < 0 ||
	    st.st_dev != srv.socket_dev || st.st_ino != srv.socket_ino)) {
		loop_unwatch(&srv.unix_l.watch);
		close(srv.unix_l.watch.fd);
		srv.unix_l.watch.fd = -1;
		srv.socket_path[0] = '\0';
		timer_cancel(&srv.unix_l.retry);	/* a pause ends with it */
		srv.unix_l.paused = srv.unix_l.failing = false;
	}
	if (srv.unix_l.watch.fd < 0)
		listen_unix();
}

bool
http_pending(void)
{
	const struct conn *c;

	for (c = srv.conns; c; c = c->next)
		if (c->state == CONN_WRITE || c->state == CONN_PARKED)
			return true;
	return false;
}

void
http_finish(void)
{
	struct stat st;

	while (srv.conns) {
		if (srv.conns->state == CONN_WRITE)
			conn_writable(srv.conns);	/* one last try */
		if (srv.conns)
			conn_close(srv.conns);
	}
	/* only the socket tend made: another may have replaced it */
	if (srv.socket_path[0] && stat(srv.socket_path, &st) == 0 &&
	    st.st_dev == srv.socket_dev && st.st_ino == srv.socket_ino)
		(void)unlink(srv.socket_path);
}

/* ---- parsing ------------------------------------------------------------------ */

static bool
is_token(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int
hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* In place; -1 for a bad escape or an encoded NUL. */
static int
percent_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		int hi, lo;

		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		if ((hi = hex_digit(s[1])) < 0 || (lo = hex_digit(s[2])) < 0 ||
		    (hi == 0 && lo == 0))
			return -1;
		*o++ = (char)(hi * 16 + lo);
		s += 2;
	}
	*o = '\0';
	return 0;
}

/* The end of the line at p (before CR LF or LF), and the next line. */
static char *
line_end(char *p, char *end, char **next)
{
	char *nl = memchr(p, '\n', (size_t)(end - p));

	if (!nl)
		return NULL;
	*next = nl + 1;
	if (nl > p && nl[-1] == '\r')
		nl--;
	*nl = '\0';
	return nl;
}

bool
http_has_token(const char *value, const char *token)
{
	size_t n = strlen(token);

	while (value && *value) {
		value += strspn(value, " \t,");
		if (!strncasecmp(value, token, n) && strchr(" \t,;", value[n]))
			return true;
		value = strchr(value, ',');
	}
	return false;
}

static char *
trim(char *s, char *end)
{
	while (*s == ' ' || *s == '\t')
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

int
http_parse_head(char *buf, size_t len, struct http_request *r,
    size_t *head_len, size_t *body_len, const char **auth)
{
	char *p = buf, *end = buf + len, *next, *eol, *sp, *target;
	bool have_length = false, conn_close = false, conn_keep = false;
	unsigned long long length = 0;
	int nheaders = 0;

	memset(r, 0, sizeof(*r));
	*auth = NULL;
	*body_len = 0;
	/* the CR LF some clients add after a request */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	if (!(eol = line_end(p, end, &next)))
		return 0;
	/* METHOD SP TARGET SP HTTP/1.x */
	if (!(sp = strchr(p, ' ')) || sp - p >= (long)sizeof(r->method) ||
	    sp == p)
		return 400;
	memcpy(r->method, p, (size_t)(sp - p));
	for (p = r->method; *p; p++)
		if (*p < 'A' || *p > 'Z')
			return 400;
	target = sp + 1;
	if (!(sp = strchr(target, ' ')) || *target != '/')
		return 400;
	*sp = '\0';
	if (strncmp(sp + 1, "HTTP/1.", 7) != 0 || (sp[8] != '0' && sp[8] != '1') ||
	    sp[9])
		return strncmp(sp + 1, "HTTP/", 5) ? 400 : 505;
	r->minor = sp[8] - '0';
	for (p = target; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return 400;
	for (p = next; ; p = next) {
		char *colon, *value;

		if (!(eol = line_end(p, end, &next)))
			return 0;
		if (eol == p)
			break;		/* the blank line: the head ends */
		if (++nheaders > 64 || *p == ' ' || *p == '\t')
			return 400;	/* too many, or an obsolete fold */
		if (!(colon = strchr(p, ':')) || colon == p)
			return 400;
		for (value = p; value < colon; value++)
			if (!is_token((unsigned char)*value))
				return 400;
		*colon = '\0';
		value = trim(colon + 1, eol);
		if (!strcasecmp(p, "content-length")) {
			const char *v = value;
			unsigned long long n;

			if (val_digits(&v, 10, 1ULL << 40, &n) < 0 || *v ||
			    (have_length && n != length))
				return 400;
			have_length = true;
			length = n;
		} else if (!strcasecmp(p, "transfer-encoding")) {
			return 501;	/* no chunked bodies */
		} else if (!strcasecmp(p, "connection")) {
			conn_close |= http_has_token(value, "close");
			conn_keep |= http_has_token(value, "keep-alive");
		} else if (!strcasecmp(p, "host")) {
			r->host = value;
		} else if (!strcasecmp(p, "origin")) {
			r->origin = value;
		} else if (!strcasecmp(p, "sec-fetch-site")) {
			if (!strcasecmp(value, "cross-site"))
				r->origin = "cross-site";
		} else if (!strcasecmp(p, "content-type")) {
			r->content_type = value;
		} else if (!strcasecmp(p, "accept-encoding")) {
			r->accept_encoding = value;
		} else if (!strcasecmp(p, "authorization")) {
			*auth = value;
		}
	}
	if (length > HTTP_BODY_MAX)
		return 413;
	r->keep_alive = r->minor ? !conn_close : conn_keep;
	if ((r->query = strchr(target, '?')) != NULL)
		*r->query++ = '\0';
	else
		r->query = target + strlen(target);
	if (percent_decode(target) < 0)
		return 400;
	r->path = target;
	*head_len = (size_t)(next - buf);
	*body_len = (size_t)length;
	return 200;
}

/* ---- who may do what ------------------------------------------------------- */

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

/* SHA-1, only for supervisord's {SHA} form of a password. */
static void
sha1(const unsigned char *msg, size_t len, unsigned char out[20])
{
	uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
	    0xc3d2e1f0 };
	unsigned char block[64];
	size_t done = 0, i;
	bool padded = false, lenned = false;

	while (!lenned) {
		uint32_t w[80], a, b, c, d, e, t;
		size_t n = len - done < 64 ? len - done : 64;

		memset(block, 0, 64);
		if (done < len || !padded)
			memcpy(block, msg + done, done < len ? n : 0);
		if (done <= len && n < 64 && !padded) {
			block[done < len ? n : 0] = 0x80;
			padded = true;
		}
		if (padded && (done >= len ? 0 : n) < 56) {
			unsigned long long bits = (unsigned long long)len * 8;

			for (i = 0; i < 8; i++)
				block[63 - i] = (unsigned char)(bits >> (8 * i));
			lenned = true;
		}
		done += 64;
		for (i = 0; i < 16; i++)
			w[i] = (uint32_t)block[4 * i] << 24 |
			    (uint32_t)block[4 * i + 1] << 16 |
			    (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
		for (; i < 80; i++)
			w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
		a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
		for (i = 0; i < 80; i++) {
			uint32_t f, k;

			if (i < 20)
				f = (b & c) | (~b & d), k = 0x5a827999;
			else if (i < 40)
				f = b ^ c ^ d, k = 0x6ed9eba1;
			else if (i < 60)
				f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
			else
				f = b ^ c ^ d, k = 0xca62c1d6;
			t = ROL(a, 5) + f + e + k + w[i];
			e = d, d = c, c = ROL(b, 30), b = a, a = t;
		}
		h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
	}
	for (i = 0; i < 20; i++)
		out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

/* In constant time for equal lengths: no timing says how much matched. */
static bool
same_secret(const char *a, const char *b, size_t n)
{
	unsigned char diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* Base64 of RFC 4648, in place; -1 for anything else. */
static int
base64_decode(char *s, size_t *len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned bits = 0, nbits = 0;
	char *o = s, *p;

	for (p = s; *p && *p != '='; p++) {
		const char *at = strchr(alphabet, *p);

		if (!at)
			return -1;
		bits = bits << 6 | (unsigned)(at - alphabet);
		if ((nbits += 6) >= 8) {
			nbits -= 8;
			*o++ = (char)(bits >> nbits);
		}
	}
	while (*p == '=')
		p++;
	if (*p)
		return -1;
	*len = (size_t)(o - s);
	*o = '\0';
	return 0;
}

/* "Basic dXNlcjpwYXNz" against user and password: 1, 0, or -1 if garbled. */
static int
check_basic(const char *header, const char *user, const char *password)
{
	char creds[512], *colon;
	size_t n, ulen;

	if (strncasecmp(header, "Basic ", 6) != 0)
		return 0;
	header += 6;
	while (*header == ' ')
		header++;
	if (strlen(header) >= sizeof(creds))
		return -1;
	strcpy(creds, header);
	if (base64_decode(creds, &n) < 0)
		return -1;
	if (!(colon = memchr(creds, ':', n)))
		return 0;
	ulen = (size_t)(colon - creds);
	if (ulen != strlen(user) || !same_secret(creds, user, ulen))
		return 0;
	colon++;
	n -= ulen + 1;
	if (strncmp(password, "{SHA}", 5) == 0) {
		static const char hex[] = "0123456789abcdef";
		unsigned char digest[20];
		char text[41];
		int i;

		sha1((const unsigned char *)colon, n, digest);
		for (i = 0; i < 20; i++) {
			text[2 * i] = hex[digest[i] >> 4];
			text[2 * i + 1] = hex[digest[i] & 15];
		}
		return strlen(password + 5) == 40 &&
		    same_secret(text, password + 5, 40);
	}
	return n == strlen(password) && same_secret(colon, password, n);
}

/* Whether an Origin names the same host and port as the Host header. */
static bool
same_origin(const struct http_request *r)
{
	const char *o = r->origin;

	if (!o)
		return true;	/* not from a browser, or same-origin GET */
	if (strncmp(o, "http://", 7) != 0 || !r->host)
		return false;
	return strcmp(o + 7, r->host) == 0;
}

enum access {
	OPEN,		/* health probes: anyone who can connect */
	READ,		/* the state: open over TCP only without credentials */
	ACT,		/* changes: credentials over TCP */
};

/*
 * 0 when r may go on (r->may_act says whether it may act), else the
 * status to answer: 401 for missing or wrong credentials, 400 for
 * garbled ones, 403 for a cross-site request.
 */
static int
check_access(struct conn *c, struct http_request *r, const char *auth,
    enum access need)
{
	const struct config *cf = prog_config();
	const char *user = r->tcp ? cf->http_username : cf->socket_username;
	const char *password = r->tcp ? cf->http_password :
	    cf->socket_password;
	int ok = 0;

	if (user && password && auth && (ok = check_basic(auth, user,
	    password)) < 0)
		return 400;
	if (auth && user && !ok)
		return 401;
	if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD") &&
	    !same_origin(r))
		return 403;
	if (user && password)
		r->may_act = ok;
	else
		r->may_act = !r->tcp;	/* the socket's mode decided */
	if (need == OPEN || r->may_act)
		return 0;
	if (need == READ && r->tcp && !user)
		return 0;
	(void)c;
	return 401;
}

/* ---- routing ----------------------------------------------------------------- */

static void
ok_html(struct conn *c, const struct http_request *r)
{
	(void)r;
	buf_puts(http_body(c), "OK");
	http_send(c, 200, "text/plain");
}

/* First match wins; a path ending in '/' or /RPC2 matches as a prefix. */
static const struct route {
	const char *method;		/* GET also answers HEAD */
	const char *path;
	bool prefix;
	unsigned char access;		/* enum access */
	void (*handle)(struct conn *, const struct http_request *);
} routes[] = {
	{ "POST", "/RPC2", true, READ, xmlrpc_handle },
	{ "POST", "/ctl", false, READ, ctl_handle },
	{ "GET", "/livez", false, OPEN, api_health },
	{ "GET", "/readyz", false, OPEN, api_health },
	{ "GET", "/healthz", false, OPEN, api_health },
	{ "GET", "/metrics", false, READ, api_metrics },
	{ "GET", "/api/v1/", true, READ, api_handle },
	{ "POST", "/api/v1/", true, ACT, api_handle },
	{ "GET", "/logtail/", true, READ, web_logtail },
	{ "GET", "/ok.html", false, OPEN, ok_html },
	{ "GET", "/", false, READ, web_page },
	{ "GET", "/index.html", false, READ, web_page },
};

static void
dispatch(struct conn *c, const char *auth)
{
	struct http_request *r = &c->req;
	const struct route *rt, *path_match = NULL;
	bool head = !strcmp(r->method, "HEAD");
	size_t i;
	int status;

	r->tcp = c->l->tcp;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		rt = &routes[i];
		if (rt->prefix ? strncmp(r->path, rt->path,
		    strlen(rt->path)) != 0 : strcmp(r->path, rt->path) != 0)
			continue;
		path_match = rt;
		if (!strcmp(r->method, rt->method) || (head &&
		    !strcmp(rt->method, "GET")))
			break;
	}
	if (i == sizeof(routes) / sizeof(routes[0])) {
		if (path_match) {
			fmt_snprintf(c->extra, sizeof(c->extra), "Allow: %s%s\r\n",
			    path_match->method, strcmp(path_match->method,
			    "GET") ? "" : ", HEAD");
			c->extra_len = strlen(c->extra);
			http_error(c, 405, "method not allowed");
		} else {
			http_error(c, 404, "no such page");
		}
		return;
	}
	if ((status = check_access(c, r, auth, (enum access)rt->access)) != 0) {
		if (status == 401) {
			http_header(c, "WWW-Authenticate: Basic realm=\"tend\"");
			c->close_after = true;
		}
		http_error(c, status, status == 401 ? "credentials needed" :
		    status == 403 ? "cross-site request refused" :
		    "malformed credentials");
		return;
	}
	rt->handle(c, r);
}

/* ---- reading ------------------------------------------------------------------ */

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}

/* A request that cannot be read on: answered, then the connection ends. */
static void
refuse(struct conn *c, int status)
{
	c->req.minor = 1;
	c->req.keep_alive = false;
	strcpy(c->req.method, "GET");
	c->close_after = true;
	http_error(c, status, reason(status));
}

size_t
http_head_end(const char *in, size_t len)
{
	size_t i = 0;

	while (i < len && (in[i] == '\r' || in[i] == '\n'))
		i++;
	for (; i < len; i++) {
		if (in[i] != '\n')
			continue;
		if (i + 1 < len && in[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && in[i + 1] == '\r' && in[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/*
 * What is in the buffer: a whole request is dispatched, a partial one
 * waits, with the request's time limit running. The parser cuts the
 * head into strings in place, so it runs once, on a complete head.
 */
static void
handle_input(struct conn *c)
{
	size_t end;
	int status, served = 0;

	while (c->state == CONN_READ && c->in_len > c->in_off) {
		char *in = c->in + c->in_off;
		size_t len = c->in_len - c->in_off;

		/*
		 * A pipeline is served HTTP_PIPELINE at a time, the rest in a
		 * later pass (a timer for now would fire in this one): other
		 * clients and the programs' events come in between.
		 */
		if (served++ == HTTP_PIPELINE) {
			set_events(c, 0);
			timer_set(&c->resume, loop_now() + 1);
			return;
		}
		if (!c->head_len) {
			if (!(end = http_head_end(in, len))) {
				if (len >= HTTP_HEAD_MAX)
					return refuse(c, 431);
				return;		/* the rest of the head to come */
			}
			if (end > HTTP_HEAD_MAX)
				return refuse(c, 431);
			if (memchr(in, '\0', end))
				return refuse(c, 400);
			status = http_parse_head(in, end, &c->req,
			    &c->head_len, &c->body_len, &c->auth);
			if (status != 200)
				return refuse(c, status ? status : 400);
		}
		if (len < c->head_len + c->body_len)
			return;		/* the rest of the body to come */
		c->req.body = in + c->head_len;
		c->req.body_len = c->body_len;
		c->close_after = !c->req.keep_alive;
		c->busy = true;
		dispatch(c, c->auth);
		c->busy = false;
		if (c->closing) {
			conn_close(c);
			return;
		}
	}
}

static void
resume_input(struct timer *t)
{
	struct conn *c = container_of(t, struct conn, resume);

	set_events(c, EPOLLIN | EPOLLRDHUP);
	handle_input(c);
}

/* The request answered: the next one may be there already. */
static void
consume_request(struct conn *c)
{
	c->in_off += c->head_len + c->body_len;
	if (c->in_off >= c->in_len)
		c->in_off = c->in_len = 0;
	c->head_len = c->body_len = 0;
}

/* Where a string of a head that moved from from to to is now. */
static const char *
moved(const char *s, const char *from, size_t len, char *to)
{
	uintptr_t at = (uintptr_t)s - (uintptr_t)from;

	/* NULL and the parser's literals lie outside the head */
	return s && at < len ? to + at : s;
}

/*
 * What is left of a pipeline moves to the front once a read. A head
 * parsed while its body is still coming moves with it: the strings the
 * parser cut in place follow.
 */
static void
compact(struct conn *c)
{
	struct http_request *r = &c->req;
	const char *from = c->in + c->in_off;
	size_t len = c->head_len;

	c->in_len -= c->in_off;
	memmove(c->in, from, c->in_len);
	c->in_off = 0;
	if (!len)
		return;
	r->path = (char *)moved(r->path, from, len, c->in);
	r->query = (char *)moved(r->query, from, len, c->in);
	r->host = moved(r->host, from, len, c->in);
	r->origin = moved(r->origin, from, len, c->in);
	r->content_type = moved(r->content_type, from, len, c->in);
	r->accept_encoding = moved(r->accept_encoding, from, len, c->in);
	c->auth = moved(c->auth, from, len, c->in);
}

static void
read_request(struct conn *c)
{
	size_t room;
	ssize_t n;

	if (c->in_off)
		compact(c);
	room = HTTP_HEAD_MAX + HTTP_BODY_MAX - c->in_len;
	n = read(c->watch.fd, c->in + c->in_len, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	if (c->in_len == 0)
		arm(c, HTTP_REQUEST_MS);	/* from the first byte */
	c->in_len += (size_t)n;
	if (c->in_len > c->in_peak)
		c->in_peak = c->in_len;
	handle_input(c);
}

static void
conn_ready(struct watch *w, uint32_t events)
{
	struct conn *c = container_of(w, struct conn, watch);

	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_close(c);
		return;
	}
	switch (c->state) {
	case CONN_READ:
		if (events & EPOLLIN)
			read_request(c);
		else if (events & EPOLLRDHUP)
			conn_close(c);
		break;
	case CONN_PARKED:
		/* the reply may still go out after a half-close */
		if (events & EPOLLRDHUP) {
			c->half_closed = true;
			set_events(c, 0);
		}
		break;
	case CONN_WRITE:
	case CONN_STREAM:
		if (events & EPOLLOUT) {
			conn_writable(c);
		} else if (events & EPOLLRDHUP && c->state == CONN_STREAM) {
			conn_close(c);
		} else if (events & EPOLLRDHUP) {
			c->half_closed = true;
			set_events(c, EPOLLOUT);
		}
		break;
	}
}

/* ---- writing ------------------------------------------------------------------ */

struct buf *
http_body(struct conn *c)
{
	if (c->out.len == 0 && buf_room(&c->out, HEAD_ROOM))
		c->out.len = HEAD_ROOM;
	return &c->out;
}

void
http_header(struct conn *c, const char *line)
{
	size_t n = strlen(line);

	if (c->extra_len + n + 2 >= sizeof(c->extra))
		return;
	memcpy(c->extra + c->extra_len, line, n);
	memcpy(c->extra + c->extra_len + n, "\r\n", 2);
	c->extra_len += n + 2;
}

static void
start_writing(struct conn *c)
{
	timer_cancel(&c->timer);
	conn_writable(c);
}

/* The head, laid just before the body in the room kept for it. */
static void
put_head(struct conn *c, int status, const char *type, long long length)
{
	char head[HEAD_ROOM];
	size_t n;

	n = (size_t)fmt_snprintf(head, sizeof(head), "HTTP/1.%d %d %s\r\n"
	    "Server: tend\r\n", c->req.minor, status, reason(status));
	if (type)
		n += (size_t)fmt_snprintf(head + n, sizeof(head) - n,
		    "Content-Type: %s\r\n", type);
	if (length >= 0)
		n += (size_t)fmt_snprintf(head + n, sizeof(head) - n,
		    "Content-Length: %lld\r\n", length);
	if (c->chunked)
		n += (size_t)fmt_snprintf(head + n, sizeof(head) - n,
		    "Transfer-Encoding: chunked\r\n");
	if (c->close_after)
		n += (size_t)fmt_snprintf(head + n, sizeof(head) - n,
		    "Connection: close\r\n");
	else if (c->req.minor == 0)
		n += (size_t)fmt_snprintf(head + n, sizeof(head) - n,
		    "Connection: keep-alive\r\n");
	if (n + c->extra_len + 2 > sizeof(head))
		c->extra_len = 0;
	memcpy(head + n, c->extra, c->extra_len);
	n += c->extra_len;
	memcpy(head + n, "\r\n", 2);
	n += 2;
	c->extra_len = 0;
	memcpy(c->out.data + HEAD_ROOM - n, head, n);
	c->out_off = HEAD_ROOM - n;
}

void
http_send(struct conn *c, int status, const char *type)
{
	struct buf *b = http_body(c);
	long long length;

	if (b->failed) {
		/* the reply outgrew BUF_MAX, or memory ran out */
		buf_free(b);
		c->extra_len = 0;
		c->close_after = true;
		b = http_body(c);
		buf_puts(b, "the reply is too large\n");
		status = 500;
		type = "text/plain";
		if (b->failed) {
			conn_close(c);
			return;
		}
	}
	length = (long long)(b->len - HEAD_ROOM);
	put_head(c, status, type, length);
	if (!strcmp(c->req.method, "HEAD"))
		b->len = HEAD_ROOM;
	c->state = CONN_WRITE;
	start_writing(c);
}

void
http_error(struct conn *c, int status, const char *message)
{
	buf_printf(http_body(c), "%d %s: %s\n", status, reason(status),
	    message);
	http_send(c, status, "text/plain; charset=utf-8");
}

void
http_park(struct conn *c, struct prog_op *op)
{
	/* what was rendered before is not the answer: op's done writes it */
	buf_free(&c->out);
	c->extra_len = 0;
	c->op = op;
	op->ctx = c;
	c->state = CONN_PARKED;
	timer_cancel(&c->timer);
	set_events(c, EPOLLRDHUP);
}

/* The op's done: the handler answers on the parked connection. */
struct conn *
http_unpark(struct prog_op *op)
{
	struct conn *c = op->ctx;

	c->op = NULL;
	c->state = CONN_READ;
	return c;
}

/* A reply written whole: the next request, or the end. */
static void
reply_done(struct conn *c)
{
	buf_free(&c->out);
	c->out_off = 0;
	if (c->close_after) {
		conn_close(c);
		return;
	}
	consume_request(c);
	c->state = CONN_READ;
	set_events(c, EPOLLIN | EPOLLRDHUP);
	arm(c, c->in_len > c->in_off ? HTTP_REQUEST_MS : HTTP_IDLE_MS);
	/* a pipelined request may be there already: the caller's loop, or */
	if (!c->busy)
		handle_input(c);
}

static void
conn_writable(struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->watch.fd, c->out.data + c->out_off,
		    c->out.len - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			set_events(c, EPOLLOUT | EPOLLRDHUP);
			if (!timer_pending(&c->timer))
				arm(c, HTTP_WRITE_MS);
			return;
		}
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
		arm(c, HTTP_WRITE_MS);		/* progress */
	}
	if (c->state == CONN_STREAM) {
		/* a client that sends no more cannot be seen to go: it got
		 * what there was */
		if (c->half_closed) {
			conn_close(c);
			return;
		}
		/* all sent: wait for more, or for the client to go */
		c->out.len = c->out_off = 0;
		timer_cancel(&c->timer);
		set_events(c, EPOLLRDHUP);
		return;
	}
	reply_done(c);
}

/* ---- tail -f ------------------------------------------------------------------ */

static void
stream_chunk(struct conn *c, const char *p, size_t n)
{
	if (n == 0)
		return;
	if (c->out.len - c->out_off + n > HTTP_TAIL_MAX) {
		log_debug("a log tail client does not read: dropped");
		conn_close(c);
		return;
	}
	/* what was sent goes: the buffer holds the unsent part only */
	if (c->out_off) {
		c->out.len -= c->out_off;
		memmove(c->out.data, c->out.data + c->out_off, c->out.len);
		c->out_off = 0;
	}
	if (c->chunked)
		buf_printf(&c->out, "%zx\r\n", n);
	buf_put(&c->out, p, n);
	if (c->chunked)
		buf_put(&c->out, "\r\n", 2);
	if (c->out.failed) {
		conn_close(c);
		return;
	}
	conn_writable(c);
}

/* Every write to a log file, from output.c, reaches its tail clients. */
static void
file_written(const char *path, const char *p, size_t n)
{
	struct conn *c, *next;

	for (c = srv.conns; c; c = next) {
		next = c->next;
		if (c->state == CONN_STREAM && !c->closing &&
		    strcmp(c->tail_path, path) == 0)
			stream_chunk(c, p, n);
	}
}

void
http_stream(struct conn *c, const char *path, const char *start, size_t len)
{
	if (!http_body(c)->data) {
		conn_close(c);	/* no memory for the head */
		return;
	}
	c->chunked = c->req.minor == 1;
	c->close_after = !c->chunked;
	http_header(c, "X-Accel-Buffering: no");
	http_header(c, "Cache-Control: no-store");
	put_head(c, 200, "text/plain; charset=utf-8", -1);
	c->state = CONN_STREAM;
	fmt_snprintf(c->tail_path, sizeof(c->tail_path), "%s", path);
	output_on_file_write(file_written);
	timer_cancel(&c->timer);
	stream_chunk(c, start, len);
}
