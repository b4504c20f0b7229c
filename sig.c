/*
 * sig.c: the signal name table and tend's signal policy in one place.
 *
 * Policy: every signal is blocked and read from a signalfd, the fault
 * signals too. A real fault in tend (SIGSEGV from a bad access, SIGABRT
 * from abort) is forced by the kernel through the mask and kills tend
 * with a core as before; what arrives on the signalfd was sent by
 * another process with kill or sigqueue, is not a fault of tend's, and
 * is forwarded like any other signal. Job control signals sent to tend
 * (TSTP, TTIN, TTOU) are forwarded too: tend itself never stops, since a
 * stopped PID 1 would stop reaping; the terminal's own Ctrl-C and Ctrl-Z
 * go straight to the command, whose process group tend makes the
 * foreground.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fmt.h"
#include "sig.h"
#include "values.h"

static const struct {
	char name[7];
	unsigned char num;
} sig_table[] = {
	{ "HUP", SIGHUP },	{ "INT", SIGINT },	{ "QUIT", SIGQUIT },
	{ "ILL", SIGILL },	{ "TRAP", SIGTRAP },	{ "ABRT", SIGABRT },
	{ "IOT", SIGIOT },	{ "BUS", SIGBUS },	{ "FPE", SIGFPE },
	{ "KILL", SIGKILL },	{ "USR1", SIGUSR1 },	{ "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },	{ "PIPE", SIGPIPE },	{ "ALRM", SIGALRM },
	{ "TERM", SIGTERM },	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD },
	{ "CLD", SIGCHLD },	{ "CONT", SIGCONT },	{ "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP },	{ "TTIN", SIGTTIN },	{ "TTOU", SIGTTOU },
	{ "URG", SIGURG },	{ "XCPU", SIGXCPU },	{ "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },	{ "WINCH", SIGWINCH },
	{ "IO", SIGIO },	{ "POLL", SIGPOLL },	{ "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

static int
parse_number(const char *s, int *out)
{
	unsigned long long v;

	if (val_digits(&s, 10, SIG_MAX, &v) < 0 || *s)
		return -1;
	*out = (int)v;
	return 0;
}

/* "RTMIN", "RTMIN+N", "RTMAX", "RTMAX-N", with the bounds checked. */
static int
parse_realtime(const char *s)
{
	int base, sign, off = 0;

	if (strncasecmp(s, "RTMIN", 5) == 0) {
		base = SIGRTMIN;
		sign = '+';
	} else if (strncasecmp(s, "RTMAX", 5) == 0) {
		base = SIGRTMAX;
		sign = '-';
	} else {
		return -1;
	}
	s += 5;
	if (*s) {
		if (*s != sign || parse_number(s + 1, &off) < 0)
			return -1;
		if (sign == '-')
			off = -off;
	}
	if (base + off < SIGRTMIN || base + off > SIGRTMAX)
		return -1;
	return base + off;
}

int
sig_parse(const char *s)
{
	int num;
	size_t i;

	if (parse_number(s, &num) == 0)
		return num >= 1 ? num : -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < sizeof(sig_table) / sizeof(sig_table[0]); i++)
		if (strcasecmp(s, sig_table[i].name) == 0)
			return sig_table[i].num;
	return parse_realtime(s);
}

const char *
sig_name(int sig, char buf[SIG_NAME_MAX])
{
	size_t i;

	for (i = 0; i < sizeof(sig_table) / sizeof(sig_table[0]); i++) {
		if (sig_table[i].num == sig) {
			fmt_snprintf(buf, SIG_NAME_MAX, "SIG%s", sig_table[i].name);
			return buf;
		}
	}
	if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		if (sig == SIGRTMIN)
			fmt_snprintf(buf, SIG_NAME_MAX, "SIGRTMIN");
		else
			fmt_snprintf(buf, SIG_NAME_MAX, "SIGRTMIN+%d", sig - SIGRTMIN);
	} else {
		fmt_snprintf(buf, SIG_NAME_MAX, "signal %d", sig);
	}
	return buf;
}

/*
 * musl reserves signals 32 to 34 for itself, so its sigfillset and
 * sigaddset leave them out; but a glibc program's SIGRTMIN is 34 and
 * tend must forward it too. The first 64 bits of a sigset_t are the
 * kernel's mask in both libcs, so set the bit there.
 */
static void
add_reserved(sigset_t *set, int sig)
{
	uint64_t bits;

	memcpy(&bits, set, sizeof(bits));
	bits |= 1ULL << (sig - 1);
	memcpy(set, &bits, sizeof(bits));
}

int
sig_setmask(const sigset_t *set, sigset_t *old)
{
	return (int)syscall(SYS_rt_sigprocmask, SIG_SETMASK, set, old,
	    SIG_MAX / 8);
}

void
sig_handled_set(sigset_t *set)
{
	int sig;

	sigfillset(set);
	for (sig = 32; sig < SIGRTMIN; sig++)
		add_reserved(set, sig);
}

int
sig_is_stop(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGQUIT;
}
