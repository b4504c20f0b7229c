/*
 * unit.c: fast tests of tend's pure logic (signal names, exit-code
 * conventions, option values), linked against the same objects as tend.
 * Prints one line per failure and a closing "N passed, N failed".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "../../proc.h"
#include "../../sig.h"

static int passed, failed;

#define CHECK(cond) do {						\
	if (cond) {							\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);	\
	}								\
} while (0)

static int
name_is(int sig, const char *want)
{
	char buf[SIG_NAME_MAX];

	return strcmp(sig_name(sig, buf), want) == 0;
}

static void
test_sig_parse(void)
{
	CHECK(sig_parse("TERM") == SIGTERM);
	CHECK(sig_parse("SIGTERM") == SIGTERM);
	CHECK(sig_parse("sigterm") == SIGTERM);
	CHECK(sig_parse("15") == SIGTERM);
	CHECK(sig_parse("HUP") == SIGHUP);
	CHECK(sig_parse("WINCH") == SIGWINCH);
	CHECK(sig_parse("CLD") == SIGCHLD);
	CHECK(sig_parse("RTMIN") == SIGRTMIN);
	CHECK(sig_parse("SIGRTMIN+3") == SIGRTMIN + 3);
	CHECK(sig_parse("RTMAX") == SIGRTMAX);
	CHECK(sig_parse("RTMAX-2") == SIGRTMAX - 2);
	CHECK(sig_parse("64") == 64);
	CHECK(sig_parse("0") == -1);
	CHECK(sig_parse("65") == -1);
	CHECK(sig_parse("") == -1);
	CHECK(sig_parse("SIG") == -1);
	CHECK(sig_parse("TERMX") == -1);
	CHECK(sig_parse("15x") == -1);
	CHECK(sig_parse("-15") == -1);
	CHECK(sig_parse("RTMIN+99") == -1);
	CHECK(sig_parse("RTMIN-1") == -1);
	CHECK(sig_parse("RTMAX+1") == -1);
	CHECK(sig_parse("99999999999999999999") == -1);
}

static void
test_sig_name(void)
{
	CHECK(name_is(SIGTERM, "SIGTERM"));
	CHECK(name_is(SIGKILL, "SIGKILL"));
	CHECK(name_is(SIGCHLD, "SIGCHLD"));
	CHECK(name_is(SIGRTMIN, "SIGRTMIN"));
	CHECK(name_is(SIGRTMIN + 2, "SIGRTMIN+2"));
	CHECK(name_is(33, "signal 33"));
}

static void
test_signal_policy(void)
{
	sigset_t set;

	sig_handled_set(&set);
	CHECK(sigismember(&set, SIGTERM));
	CHECK(sigismember(&set, SIGCHLD));
	CHECK(sigismember(&set, SIGTSTP));
	CHECK(sigismember(&set, SIGRTMAX));
	CHECK(!sigismember(&set, SIGSEGV));
	CHECK(!sigismember(&set, SIGABRT));
	CHECK(!sigismember(&set, SIGSYS));
	CHECK(sig_is_stop(SIGTERM) && sig_is_stop(SIGINT) &&
	    sig_is_stop(SIGQUIT));
	CHECK(!sig_is_stop(SIGHUP) && !sig_is_stop(SIGUSR1));
}

static void
test_exit_codes(void)
{
	CHECK(proc_exit_code(0) == 0);
	CHECK(proc_exit_code(3 << 8) == 3);
	CHECK(proc_exit_code(255 << 8) == 255);
	CHECK(proc_exit_code(SIGTERM) == 143);
	CHECK(proc_exit_code(SIGKILL | 0x80) == 137);	/* with core flag */
	CHECK(proc_exec_failure_code(ENOENT) == 127);
	CHECK(proc_exec_failure_code(ENOTDIR) == 127);
	CHECK(proc_exec_failure_code(EACCES) == 126);
	CHECK(proc_exec_failure_code(ENOEXEC) == 126);
}

int
main(void)
{
	test_sig_parse();
	test_sig_name();
	test_signal_policy();
	test_exit_codes();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
