/*
 * ready.h: when a started process counts as up (ready.c): systemd's
 * notification protocol on one datagram socket, a TCP port that
 * accepts, or a command that exits 0, each until it first holds.
 */
#ifndef TEND_READY_H
#define TEND_READY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf.h"
#include "loop.h"

/* The readiness of one process run; embedded in the process. */
struct readiness {
	const struct program *conf;
	struct timer check;		/* the next check, or its time-out */
	struct timer limit;		/* ready_timeout */
	struct watch conn;		/* a TCP connect under way; fd -1 */
	pid_t check_pid;		/* a command under way; 0 */
	struct readiness *next_check;	/* the list of commands under way */
	/* the condition held (true), or ready_timeout passed (false) */
	void (*done)(struct readiness *r, bool ready);
};

/*
 * The notification socket: an abstract Unix datagram socket, its name
 * picked by the kernel. NULL from ready_socket_name when it could not
 * be made (then ready=notify programs time out).
 */
void ready_setup(void);
const char *ready_socket_name(void);
/* Once the loop exists: it waits on the socket. */
void ready_listen(void);

/* From the spawn of a process whose condition is not plain running. */
void ready_begin(struct readiness *r, const struct program *conf);
/* The process ended or became ready: no more checks. */
void ready_end(struct readiness *r);

/* A reaped pid: true if it was a check command, which is then judged. */
bool ready_reaped(pid_t pid, int wstatus);

/*
 * One notification message, "READY=1\nSTATUS=...\n": *ready when it
 * says READY=1, the STATUS= text (cut to fit) in status. Unknown keys
 * and STOPPING=1 are accepted. Returns -1 for a message that is not
 * KEY=VALUE lines.
 */
int ready_parse_notify(const char *msg, size_t len, bool *ready,
    char *status, size_t status_len);

#endif
