/*
 * sig.h: signal names and tend's signal policy.
 */
#ifndef TEND_SIG_H
#define TEND_SIG_H

#include <signal.h>

/* Largest signal number the kernel accepts (64 on Linux). */
#define SIG_MAX 64

/* "TERM", "SIGTERM", "term", "15", "RTMIN+3", "SIGRTMAX-1": number or -1. */
int sig_parse(const char *s);

/* "SIGTERM", "SIGRTMIN+3" or "signal 99"; buf must hold SIG_NAME_MAX bytes. */
#define SIG_NAME_MAX 16
const char *sig_name(int sig, char buf[SIG_NAME_MAX]);

/* Every signal tend handles through its signalfd: all it can block. */
void sig_handled_set(sigset_t *set);

/*
 * sigprocmask without libc's filtering, so that the mask tend inherited
 * is restored in its children bit for bit. Returns 0 or -1 with errno.
 */
int sig_setmask(const sigset_t *set, sigset_t *old);

/* Whether a stop signal to tend starts its shutdown (TERM, INT, QUIT). */
int sig_is_stop(int sig);

#endif
