/*
 * values.h: the value types of supervisord's configuration, parsed exactly
 * as supervisord parses them, and its %(name)s expansions. Each parser
 * returns 0, or -1 with *err set to a message that says what was
 * expected (the caller adds the file, line and key).
 */
#ifndef TEND_VALUES_H
#define TEND_VALUES_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "mem.h"

/*
 * The digits (base 8 or 10) at *s, advancing *s past them: -1 when there
 * is none or the value would exceed max. The one number parser of tend.
 */
int val_digits(const char **s, unsigned base, unsigned long long max,
    unsigned long long *out);

int val_bool(const char *s, bool *out, const char **err);
int val_int(const char *s, long min, long max, long *out, const char **err);
/* An integer with an optional KB, MB or GB suffix (powers of 1024). */
int val_bytes(const char *s, long long *out, const char **err);
/* log_format: text (false) or json (true). */
int val_log_format(const char *s, bool *json, const char **err);
int val_signal(const char *s, int *out, const char **err);
/* Seconds with up to three decimals ("8", "2.5") as milliseconds, <= max. */
int val_seconds_ms(const char *s, long max, long *ms, const char **err);
/* Comma-separated exit codes 0..255 into a 256-bit set. */
int val_exitcodes(const char *s, unsigned char set[32], const char **err);
int val_octal(const char *s, mode_t *out, const char **err);

/*
 * HOST:PORT as a socket address, with a numeric IPv4 or IPv6 ([::1])
 * host or localhost: PID 1 never waits on a name server. With any_ok,
 * ":PORT", "*:PORT" and a bare PORT mean every interface, as in
 * supervisord's [inet_http_server] port=.
 */
struct inet_addr {
	socklen_t len;			/* 0: none */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} u;
};
int val_inet(const char *s, bool any_ok, struct inet_addr *out,
    const char **err);

/*
 * A comma-separated list of names (supervisord's list_of_strings),
 * each without blanks, ':' or '/'. Returns the count, or -1.
 */
int val_names(struct arena *a, const char *s, const char ***names,
    const char **err);

enum autorestart { RESTART_NEVER, RESTART_UNEXPECTED, RESTART_ALWAYS };
int val_autorestart(const char *s, enum autorestart *out, const char **err);

/*
 * POSIX shell-like splitting without a shell (Python's shlex.split):
 * quotes group, backslash escapes outside single quotes, no expansions.
 * Returns a NULL-terminated argv in the arena.
 */
int val_split_command(struct arena *a, const char *s, char ***argv,
    const char **err);

/* One KEY=VALUE of an environment= list. */
struct env_pair {
	const char *key, *value;
};

/*
 * supervisord's environment= syntax, KEY="val",KEY2=val2, tokenised like
 * Python's legacy-mode shlex with supervisord's word characters. Returns
 * the number of pairs in *pairs (arena), or -1.
 */
int val_environment(struct arena *a, const char *s, struct env_pair **pairs,
    const char **err);

/* What %(name)s may name while one value is expanded. */
struct expand_ctx {
	const char *program_name;	/* NULL where not available */
	const char *group_name;
	const char *host_node_name;
	const char *here;
	int process_num;		/* -1 where not available */
	int numprocs;
	size_t max_len;			/* the longest value it may give */
	/* ENV_X lookups; NULL when X is not set */
	const char *(*lookup_env)(void *data, const char *name);
	void *env_data;
};

/*
 * Python's "value % dict": %(name)s, %(name)d with flags, width and
 * precision (%(process_num)02d), %%; plus %(ENV_X:-default)s, which gives
 * default when X is unset. On error *err points into errbuf; -2 says the
 * value would be longer than ctx->max_len.
 */
int val_expand(struct arena *a, const char *s, const struct expand_ctx *ctx,
    char **out, char *errbuf, size_t errlen, const char **err);

#endif
