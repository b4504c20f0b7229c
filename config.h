/*
 * config.h: compile-time defaults, in the suckless sense. Each value can be
 * changed at build time without editing this file, for example
 *     make CPPFLAGS='-DDEFAULT_GRACE_MS=5000'
 * Runtime settings (options, and later the INI file) override these.
 */
#ifndef TEND_CONFIG_H
#define TEND_CONFIG_H

#ifndef TEND_VERSION
#define TEND_VERSION "0.2.0"
#endif

/*
 * Shutdown budget in milliseconds: how long descendants get between the
 * start of a shutdown (a stop signal to tend, or the command's exit) and
 * SIGKILL. Below Docker's default stop timeout of 10 s, so that a default
 * `docker stop` ends with tend's own exit and exit status, never with the
 * engine's SIGKILL, with room left for the final reaping.
 */
#ifndef DEFAULT_GRACE_MS
#define DEFAULT_GRACE_MS 8000
#endif

/*
 * A program that dies within this many milliseconds of its start is
 * restarted no sooner than this after that start, so that a crash loop
 * (startsecs=0, autorestart=true) costs at most one spawn per interval
 * instead of spinning the CPU. Runs that last longer restart at once.
 */
#ifndef MIN_RESTART_MS
#define MIN_RESTART_MS 1000
#endif

/*
 * Where Kubernetes reads a container's termination message (at most
 * 4096 bytes), written when a critical program ends tend; only if it
 * exists. [tend] termination_log changes or disables it.
 */
#ifndef DEFAULT_TERMINATION_LOG
#define DEFAULT_TERMINATION_LOG "/dev/termination-log"
#endif

/*
 * The control socket when the configuration names none ([tend]
 * control_socket, [unix_http_server] file); "none" disables it.
 */
#ifndef DEFAULT_CONTROL_SOCKET
#define DEFAULT_CONTROL_SOCKET "/run/tend.sock"
#endif

/* Longest grace accepted on the command line: one day. */
#ifndef MAX_GRACE_MS
#define MAX_GRACE_MS (24L * 3600 * 1000)
#endif

/* Longest line tend itself logs; longer messages are cut with "...". */
#ifndef LOG_LINE_MAX
#define LOG_LINE_MAX 1024
#endif

/*
 * Relayed output (output.c). A partial line (no newline yet) is written
 * after OUTPUT_FLUSH_MS, or when it fills a stream's buffer. Each pipe
 * tend reads has a buffer of OUTPUT_STREAM_BUF bytes (larger reads mean
 * fewer wake-ups of the writing program), each target one of
 * OUTPUT_SINK_BUF: with the pipes' own 64 KiB, the bound of what a stuck
 * target holds back. OUTPUT_TAIL bytes of a critical program's stderr
 * are kept for the termination message (which Kubernetes cuts at 4096
 * bytes), and at most OUTPUT_ENDED_MAX closed pipes wait for a stuck
 * target.
 */
#ifndef OUTPUT_FLUSH_MS
#define OUTPUT_FLUSH_MS 100
#endif
#ifndef OUTPUT_STREAM_BUF
#define OUTPUT_STREAM_BUF (32 * 1024)
#endif
#ifndef OUTPUT_SINK_BUF
#define OUTPUT_SINK_BUF (64 * 1024)
#endif
#ifndef OUTPUT_TAIL
#define OUTPUT_TAIL 4096
#endif
#ifndef OUTPUT_ENDED_MAX
#define OUTPUT_ENDED_MAX 32
#endif

/*
 * Bounds on %(name)s expansion, so that a few bytes of configuration
 * cannot ask for gigabytes: a width or precision is at most
 * EXPAND_WIDTH_MAX, expansion adds at most EXPAND_VALUE_MAX bytes to one
 * value (the kernel's limit on one argument or environment string), and
 * all the values of one load together are at most EXPAND_TOTAL_MAX bytes.
 */
#ifndef EXPAND_WIDTH_MAX
#define EXPAND_WIDTH_MAX 1024
#endif
#ifndef EXPAND_VALUE_MAX
#define EXPAND_VALUE_MAX (128 * 1024)
#endif
#ifndef EXPAND_TOTAL_MAX
#define EXPAND_TOTAL_MAX (64L * 1024 * 1024)
#endif

/*
 * The control server (http.c), whose every client is untrusted: at
 * most HTTP_CLIENTS connections at once on each listener, so that the
 * TCP port's clients never crowd out the socket's (more are answered 503 and
 * closed); a request head of at most HTTP_HEAD_MAX bytes and a body of
 * at most HTTP_BODY_MAX; HTTP_REQUEST_MS from a request's first byte to
 * its last; HTTP_IDLE_MS between the requests of a connection; and
 * HTTP_WRITE_MS without progress writing a reply, which is at most
 * BUF_MAX bytes. A log tail (tail -f) that lets HTTP_TAIL_MAX bytes pile
 * up unread is dropped.
 */
#ifndef HTTP_CLIENTS
#define HTTP_CLIENTS 64
#endif
#ifndef HTTP_HEAD_MAX
#define HTTP_HEAD_MAX 8192
#endif
#ifndef HTTP_BODY_MAX
#define HTTP_BODY_MAX (1024 * 1024)
#endif
#ifndef HTTP_REQUEST_MS
#define HTTP_REQUEST_MS 10000
#endif
#ifndef HTTP_IDLE_MS
#define HTTP_IDLE_MS 60000
#endif
#ifndef HTTP_WRITE_MS
#define HTTP_WRITE_MS 10000
#endif
#ifndef BUF_MAX
#define BUF_MAX (16 * 1024 * 1024)
#endif
#ifndef HTTP_TAIL_MAX
#define HTTP_TAIL_MAX (256 * 1024)
#endif

/* Pipelined requests served in a row before the loop takes its turn. */
#ifndef HTTP_PIPELINE
#define HTTP_PIPELINE 64
#endif

/* The words of one tend ctl command line: its names, and the command. */
#ifndef CTL_ARGS_MAX
#define CTL_ARGS_MAX 1024
#endif

/* epoll events handled per wake-up. */
#ifndef LOOP_EVENTS
#define LOOP_EVENTS 16
#endif

#endif
