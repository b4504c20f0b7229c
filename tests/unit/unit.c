/*
 * unit.c: fast tests of tend's pure logic (signal names, exit-code
 * conventions, the INI parser, option values, expansions, the small
 * printf, and the whole configuration loader on temporary files),
 * linked against the same objects as tend.
 * Prints one line per failure and a closing "N passed, N failed".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../conf.h"
#include "../../fmt.h"
#include "../../ini.h"
#include "../../mem.h"
#include "../../proc.h"
#include "../../sig.h"
#include "../../values.h"

extern char **environ;

static int passed, failed;

#define CHECK(cond) do {						\
	if (cond) {							\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);	\
	}								\
} while (0)

/* Equal strings; NULL equals nothing, so a failed parse never matches. */
static bool
streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool
contains(const char *haystack, const char *needle)
{
	return haystack && strstr(haystack, needle) != NULL;
}

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
	/* sent with kill they are forwarded; a real fault is forced through */
	CHECK(sigismember(&set, SIGSEGV));
	CHECK(sigismember(&set, SIGABRT));
	CHECK(sigismember(&set, SIGSYS));
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


/* ---- ini.h ------------------------------------------------------------ */

/* What the parser reported: one event per section header or key. */
struct ini_event {
	char *section;		/* NULL for a section header */
	char *key;		/* the key, or the header's section name */
	char *value;		/* NULL for a header */
	int line;
};

static struct {
	struct ini_event ev[2100];
	int n;
	int stop_at;		/* the handler returns 7 at this event */
	struct ini_error err;
} ini;

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int
ini_record(void *user, const char *section, const char *key,
    const char *value, int line)
{
	struct ini_event *e;

	(void)user;
	if (ini.n == (int)(sizeof(ini.ev) / sizeof(ini.ev[0])))
		return 99;
	e = &ini.ev[ini.n++];
	e->section = dup_or_null(section);
	e->key = dup_or_null(key);
	e->value = dup_or_null(value);
	e->line = line;
	return ini.n == ini.stop_at ? 7 : 0;
}

static void
ini_forget(void)
{
	int i;

	for (i = 0; i < ini.n; i++) {
		free(ini.ev[i].section);
		free(ini.ev[i].key);
		free(ini.ev[i].value);
	}
	ini.n = 0;
}

/*
 * Parses a copy of text that has no NUL, only the one writable spare byte
 * that ini_parse requires after len. Returns what ini_parse returns.
 */
static int
ini_run_len(const char *text, size_t len, int stop_at)
{
	char *buf = malloc(len + 1);
	int rc;

	ini_forget();
	ini.stop_at = stop_at;
	memcpy(buf, text, len);
	buf[len] = 'X';
	rc = ini_parse(buf, len, ini_record, NULL, &ini.err);
	free(buf);
	return rc;
}

static int
ini_run(const char *text)
{
	return ini_run_len(text, strlen(text), 0);
}

/* The last value of key in section, or NULL. */
static const char *
ini_value(const char *section, const char *key)
{
	const char *found = NULL;
	int i;

	for (i = 0; i < ini.n; i++)
		if (streq(ini.ev[i].section, section) &&
		    streq(ini.ev[i].key, key))
			found = ini.ev[i].value;
	return found;
}

static int
ini_line(const char *section, const char *key)
{
	int i, line = -1;

	for (i = 0; i < ini.n; i++)
		if (streq(ini.ev[i].section, section) &&
		    streq(ini.ev[i].key, key))
			line = ini.ev[i].line;
	return line;
}

static int
ini_headers(const char *name)
{
	int i, n = 0;

	for (i = 0; i < ini.n; i++)
		if (!ini.ev[i].section && streq(ini.ev[i].key, name))
			n++;
	return n;
}

static void
test_ini_basics(void)
{
	CHECK(ini_run("[s]\nkey = value\nother: x\n") == 0);
	CHECK(ini.n == 3);
	CHECK(ini.n == 3 && !ini.ev[0].section && streq(ini.ev[0].key, "s") &&
	    !ini.ev[0].value && ini.ev[0].line == 1);
	CHECK(streq(ini_value("s", "key"), "value"));
	CHECK(ini_line("s", "key") == 2);
	CHECK(streq(ini_value("s", "other"), "x"));
	CHECK(ini_line("s", "other") == 3);

	/* split at the first '=' or ':', whichever comes first */
	CHECK(ini_run("[s]\nX: y=z\nu=v:w\nurl = http://h:80/p?a=b\n") == 0);
	CHECK(streq(ini_value("s", "x"), "y=z"));
	CHECK(streq(ini_value("s", "u"), "v:w"));
	CHECK(streq(ini_value("s", "url"), "http://h:80/p?a=b"));

	/* keys lower-cased, section names kept as written */
	CHECK(ini_run("[Prog]\nCoMMand = /bin/True\n[prog]\nA=1\n") == 0);
	CHECK(streq(ini_value("Prog", "command"), "/bin/True"));
	CHECK(ini_value("Prog", "CoMMand") == NULL);
	CHECK(streq(ini_value("prog", "a"), "1"));
	CHECK(ini_headers("Prog") == 1 && ini_headers("prog") == 1);

	/* blanks around keys and values; an empty value */
	CHECK(ini_run("[s]\n  \t a \t =  \t b c \t \nempty =\n") == 0);
	CHECK(streq(ini_value("s", "a"), "b c"));
	CHECK(streq(ini_value("s", "empty"), ""));

	/* no newline at the end, and an empty text */
	CHECK(ini_run("[s]\na=1") == 0 && streq(ini_value("s", "a"), "1"));
	CHECK(ini_run("") == 0 && ini.n == 0);
	CHECK(ini_run("\n\n; only a comment\n") == 0 && ini.n == 0);

	/* a repeated section is reported again; the handler merges */
	CHECK(ini_run("[s]\na=1\n[t]\nb=2\n[s]\na=3\n") == 0);
	CHECK(ini_headers("s") == 2);
	CHECK(streq(ini_value("s", "a"), "3") && ini_line("s", "a") == 6);

	/* the handler's non-zero value stops the parse and is returned */
	CHECK(ini_run_len("[s]\na=1\nb=2\n", 12, 2) == 7);
	CHECK(ini.n == 2);
}

static void
test_ini_comments(void)
{
	CHECK(ini_run("; top\n# top\n[s]\n  ; indented comment\n"
	    "\t# another\npriority=5;x\na=b#c\ncommand=a ;x\n"
	    "d = e\t#f\nq = ;x\nr=;x\ns = x;y ;z\n") == 0);
	CHECK(streq(ini_value("s", "priority"), "5;x"));
	CHECK(streq(ini_value("s", "a"), "b#c"));
	CHECK(streq(ini_value("s", "command"), "a"));
	CHECK(streq(ini_value("s", "d"), "e"));
	CHECK(streq(ini_value("s", "q"), ""));
	CHECK(streq(ini_value("s", "r"), ";x"));
	CHECK(streq(ini_value("s", "s"), "x;y"));
	/* quotes do not protect a comment, as in configparser */
	CHECK(ini_run("[s]\ncommand=sh -c 'a ; b'\n") == 0);
	CHECK(streq(ini_value("s", "command"), "sh -c 'a"));
	/* a comment after a section header */
	CHECK(ini_run("[program:a] ; c\nx=1\n[b]#not a comment\n") == 0);
	CHECK(ini_headers("program:a") == 1);
	CHECK(streq(ini_value("program:a", "x"), "1"));
	CHECK(ini_headers("b") == 1);
	/* a delimiter inside a comment does not make a key */
	CHECK(ini_run("[s]\na ;= b\n") == -1 && ini.err.line == 2);
}

static void
test_ini_continuations(void)
{
	char *big;
	size_t i, n;
	bool ok;

	CHECK(ini_run("[s]\na = 1\n  2\n\n  3\n\n\nb=4\n") == 0);
	CHECK(streq(ini_value("s", "a"), "1\n2\n\n3"));
	CHECK(ini_line("s", "a") == 2);
	CHECK(streq(ini_value("s", "b"), "4") && ini_line("s", "b") == 8);

	/* trailing blank lines are dropped, at the end of the text too */
	CHECK(ini_run("[s]\na = 1\n  2\n\n\n") == 0);
	CHECK(streq(ini_value("s", "a"), "1\n2"));
	CHECK(ini_run("[s]\na = 1\n\n  \n") == 0);
	CHECK(streq(ini_value("s", "a"), "1"));

	/* an empty first line is kept, as configparser keeps it */
	CHECK(ini_run("[s]\na=\n  x\n  y\n") == 0);
	CHECK(streq(ini_value("s", "a"), "\nx\ny"));

	/* comments inside a value are skipped, not kept as blank lines */
	CHECK(ini_run("[s]\na = 1\n# c\n  ; d\n  2 ; e\n") == 0);
	CHECK(streq(ini_value("s", "a"), "1\n2"));

	/* indentation is relative to the key's line */
	CHECK(ini_run("[s]\n  a = 1\n  b = 2\n") == 0);
	CHECK(streq(ini_value("s", "a"), "1"));
	CHECK(streq(ini_value("s", "b"), "2"));
	CHECK(ini_run("[s]\n  a = 1\n    b = 2\n") == 0);
	CHECK(streq(ini_value("s", "a"), "1\nb = 2"));
	CHECK(ini_value("s", "b") == NULL);
	CHECK(ini_run("[s]\na = 1\n\t2\n  [t]\n c=3\n") == 0);
	CHECK(streq(ini_value("s", "a"), "1\n2\n[t]\nc=3"));
	CHECK(ini_headers("t") == 0);
	/* a line indented after a header is an ordinary key */
	CHECK(ini_run("[s]\na=1\n[t]\n  b=2\n") == 0);
	CHECK(streq(ini_value("s", "a"), "1"));
	CHECK(streq(ini_value("t", "b"), "2"));

	/* CRLF line ends */
	CHECK(ini_run("[s]\r\na = 1\r\n  2\r\n\r\nb=3\r\n[t] \r\nc=4") == 0);
	CHECK(streq(ini_value("s", "a"), "1\n2"));
	CHECK(streq(ini_value("s", "b"), "3") && ini_line("s", "b") == 5);
	CHECK(streq(ini_value("t", "c"), "4"));

	/* many continuation lines, joined in place */
	n = 2000;
	big = malloc(n * 16 + 64);
	strcpy(big, "[s]\nlist =");
	for (i = 0; i < n; i++)
		sprintf(big + strlen(big), "\n    v%zu  ", i);
	strcat(big, "\nafter = 1\n");
	CHECK(ini_run(big) == 0);
	ok = ini_value("s", "list") != NULL;
	for (i = 0, big[0] = '\0'; i < n; i++)
		sprintf(big + strlen(big), "\nv%zu", i);
	CHECK(ok && streq(ini_value("s", "list"), big));
	CHECK(streq(ini_value("s", "after"), "1") &&
	    ini_line("s", "after") == (int)n + 3);
	free(big);
}

static void
test_ini_long_lines(void)
{
	size_t n = 100 * 1024, i;
	char *text = malloc(n + 64), *p;
	const char *v;
	bool same = true;

	p = text + sprintf(text, "[s]\nbig = ");
	for (i = 0; i < n; i++)
		*p++ = (char)('a' + i % 26);
	strcpy(p, "\nafter = 1\n");
	CHECK(ini_run(text) == 0);
	v = ini_value("s", "big");
	CHECK(v && strlen(v) == n);
	for (i = 0; v && i < n && same; i++)
		same = v[i] == (char)('a' + i % 26);
	CHECK(v && same);
	CHECK(streq(ini_value("s", "after"), "1"));
	CHECK(ini_line("s", "after") == 3);
	free(text);
}

static void
test_ini_errors(void)
{
	CHECK(ini_run("a=1\n[s]\n") == -1);
	CHECK(ini.err.line == 1 && ini.err.message != NULL);
	CHECK(ini_run("\n; c\n  key = 1\n") == -1 && ini.err.line == 3);

	CHECK(ini_run("[s]\na=1\nnodelim\nb=2\n") == -1);
	CHECK(ini.err.line == 3 && ini.err.message != NULL);
	/* the key before the error was complete and reported */
	CHECK(streq(ini_value("s", "a"), "1"));
	CHECK(ini_run("[s]\r\na=1\r\n\r\nnodelim\r\n") == -1 &&
	    ini.err.line == 4);

	CHECK(ini_run("[]\n") == -1 && ini.err.line == 1);
	CHECK(ini_run("[s]\na=1\n[]\n") == -1 && ini.err.line == 3);
	CHECK(ini_run("[s]\n=1\n") == -1 && ini.err.line == 2);
	CHECK(ini_run("[s]\n  = 1\n") == -1 && ini.err.line == 2);
	/* a section name may hold ']' (configparser's header is greedy) */
	CHECK(ini_run("[a]b]\nk=v\n") == 0);
	CHECK(streq(ini_value("a]b", "k"), "v"));
}

/* ---- values.c: scalars ---------------------------------------------- */

static bool
is_bool(const char *s, bool want)
{
	const char *err = NULL;
	bool b = !want;

	return val_bool(s, &b, &err) == 0 && b == want;
}

static bool
bool_rejected(const char *s)
{
	const char *err = NULL;
	bool b;

	return val_bool(s, &b, &err) < 0 && err != NULL;
}

static void
test_val_bool(void)
{
	CHECK(is_bool("yes", true) && is_bool("true", true) &&
	    is_bool("on", true) && is_bool("1", true));
	CHECK(is_bool("no", false) && is_bool("false", false) &&
	    is_bool("off", false) && is_bool("0", false));
	CHECK(is_bool("YES", true) && is_bool("True", true) &&
	    is_bool("oN", true));
	CHECK(is_bool("NO", false) && is_bool("False", false) &&
	    is_bool("OFF", false));
	CHECK(bool_rejected(""));
	CHECK(bool_rejected("y"));
	CHECK(bool_rejected("2"));
	CHECK(bool_rejected("truee"));
	CHECK(bool_rejected("enabled"));
	CHECK(bool_rejected("01"));
}

/* val_int(s) within [min, max] gives want. */
static bool
int_is(const char *s, long min, long max, long want)
{
	const char *err = NULL;
	long v = ~want;

	return val_int(s, min, max, &v, &err) == 0 && v == want;
}

static bool
int_rejected(const char *s, long min, long max)
{
	const char *err = NULL;
	long v;

	return val_int(s, min, max, &v, &err) < 0 && err != NULL;
}

static void
test_val_int(void)
{
	CHECK(int_is("0", 0, 10, 0));
	CHECK(int_is("7", 0, 10, 7));
	CHECK(int_is(" 7 ", 0, 10, 7));
	CHECK(int_is("\t7\n", 0, 10, 7));
	CHECK(int_is("+5", 0, 10, 5));
	CHECK(int_is("-3", -10, 10, -3));
	CHECK(int_is("007", 0, 10, 7));
	CHECK(int_is("1_000", 0, 100000, 1000));
	CHECK(int_is("1_000_000", 0, LONG_MAX, 1000000));
	CHECK(int_is("9223372036854775807", LONG_MIN, LONG_MAX, LONG_MAX));
	CHECK(int_is("-9223372036854775808", LONG_MIN, LONG_MAX, LONG_MIN));
	CHECK(int_rejected("1.5", 0, 10));
	CHECK(int_rejected("1e3", 0, 10000));
	CHECK(int_rejected("", 0, 10));
	CHECK(int_rejected("  ", 0, 10));
	CHECK(int_rejected("-", -10, 10));
	CHECK(int_rejected("1 2", 0, 100));
	CHECK(int_rejected("12a", 0, 100));
	CHECK(int_rejected("0x10", 0, 100));
	CHECK(int_rejected("_1", 0, 10));
	CHECK(int_rejected("1_", 0, 10));
	CHECK(int_rejected("1__0", 0, 100));
	CHECK(int_rejected("+-1", -10, 10));
	CHECK(int_rejected("- 1", -10, 10));
	CHECK(int_rejected("9223372036854775808", LONG_MIN, LONG_MAX));
	CHECK(int_rejected("99999999999999999999", LONG_MIN, LONG_MAX));
	/* range checks */
	CHECK(int_is("1000", 0, 1000, 1000));
	CHECK(int_rejected("1001", 0, 1000));
	CHECK(int_rejected("-1", 0, 1000));
	CHECK(int_is("-1", -1, 1000, -1));
}

static bool
bytes_is(const char *s, long long want)
{
	const char *err = NULL;
	long long v = ~want;

	return val_bytes(s, &v, &err) == 0 && v == want;
}

static bool
bytes_rejected(const char *s)
{
	const char *err = NULL;
	long long v;

	return val_bytes(s, &v, &err) < 0 && err != NULL;
}

static void
test_val_bytes(void)
{
	CHECK(bytes_is("0", 0));
	CHECK(bytes_is("1024", 1024));
	CHECK(bytes_is("1KB", 1024));
	CHECK(bytes_is("1kb", 1024));
	CHECK(bytes_is("3Kb", 3 * 1024));
	CHECK(bytes_is("50MB", 50LL * 1024 * 1024));
	CHECK(bytes_is("50mb", 50LL * 1024 * 1024));
	CHECK(bytes_is("2GB", 2LL * 1024 * 1024 * 1024));
	CHECK(bytes_is("2gB", 2LL * 1024 * 1024 * 1024));
	CHECK(bytes_is("0MB", 0));
	CHECK(bytes_is(" 5 KB", 5 * 1024));	/* int(" 5 ") * 1024 */
	CHECK(bytes_is("1_024KB", 1024LL * 1024));
	CHECK(bytes_rejected("1M"));
	CHECK(bytes_rejected("1K"));
	CHECK(bytes_rejected("1G"));
	CHECK(bytes_rejected("1TB"));
	CHECK(bytes_rejected("MB"));
	CHECK(bytes_rejected("KB"));
	CHECK(bytes_rejected(""));
	CHECK(bytes_rejected("1.5MB"));
	CHECK(bytes_rejected("ten"));
	CHECK(bytes_rejected("1 0MB"));
}

static bool
signal_is(const char *s, int want)
{
	const char *err = NULL;
	int v = 0;

	return val_signal(s, &v, &err) == 0 && v == want;
}

static bool
signal_rejected(const char *s)
{
	const char *err = NULL;
	int v;

	return val_signal(s, &v, &err) < 0 && err != NULL;
}

static void
test_val_signal(void)
{
	CHECK(signal_is("TERM", SIGTERM));
	CHECK(signal_is("SIGTERM", SIGTERM));
	CHECK(signal_is("sigkill", SIGKILL));
	CHECK(signal_is("Hup", SIGHUP));
	CHECK(signal_is("9", SIGKILL));
	CHECK(signal_is("USR2", SIGUSR2));
	CHECK(signal_is("QUIT", SIGQUIT));
	CHECK(signal_rejected("bogus"));
	CHECK(signal_rejected("0"));
	CHECK(signal_rejected(""));
	CHECK(signal_rejected("-9"));
}

/* The set holds exactly the codes of want, a -1-terminated list. */
static bool
exitcodes_are(const char *s, const int *want)
{
	unsigned char set[32], expect[32] = { 0 };
	const char *err = NULL;

	for (; *want >= 0; want++)
		expect[*want / 8] |= (unsigned char)(1u << (*want % 8));
	return val_exitcodes(s, set, &err) == 0 &&
	    memcmp(set, expect, sizeof(set)) == 0;
}

static bool
exitcodes_rejected(const char *s)
{
	unsigned char set[32];
	const char *err = NULL;

	return val_exitcodes(s, set, &err) < 0 && err != NULL;
}

static void
test_val_exitcodes(void)
{
	static const int zero[] = { 0, -1 }, zero_two[] = { 0, 2, -1 },
	    one_two[] = { 1, 2, -1 }, edges[] = { 0, 255, -1 };

	CHECK(exitcodes_are("0", zero));
	CHECK(exitcodes_are("0,2", zero_two));
	CHECK(exitcodes_are("2,0,2", zero_two));
	CHECK(exitcodes_are(" 1 , 2 ", one_two));
	CHECK(exitcodes_are("255,0", edges));
	CHECK(exitcodes_rejected("256"));
	CHECK(exitcodes_rejected("-1"));
	/* supervisord's list_of_exitcodes("") is []: no expected code */
	{
		static const int none[] = { -1 };

		CHECK(exitcodes_are("", none));
	}
	CHECK(exitcodes_rejected("1,"));
	CHECK(exitcodes_rejected("1,,2"));
	CHECK(exitcodes_rejected("1;2"));
	CHECK(exitcodes_rejected("1 2"));
	CHECK(exitcodes_rejected("x"));
}

static bool
octal_is(const char *s, mode_t want)
{
	const char *err = NULL;
	mode_t v = want + 1;

	return val_octal(s, &v, &err) == 0 && v == want;
}

static bool
octal_rejected(const char *s)
{
	const char *err = NULL;
	mode_t v;

	return val_octal(s, &v, &err) < 0 && err != NULL;
}

static void
test_val_octal(void)
{
	CHECK(octal_is("022", 022));
	CHECK(octal_is("22", 022));
	CHECK(octal_is("0o22", 022));
	CHECK(octal_is("0O7", 07));
	CHECK(octal_is("0", 0));
	CHECK(octal_is("777", 0777));
	CHECK(octal_is(" 027 ", 027));
	CHECK(octal_rejected("8"));
	CHECK(octal_rejected("029"));
	CHECK(octal_rejected(""));
	CHECK(octal_rejected("0o"));
	CHECK(octal_rejected("0x12"));
	CHECK(octal_rejected("0o 22"));	/* int("0o 22", 8) fails */
	CHECK(octal_rejected("abc"));
}

static bool
autorestart_is(const char *s, enum autorestart want)
{
	const char *err = NULL;
	enum autorestart v = want == RESTART_NEVER ? RESTART_ALWAYS :
	    RESTART_NEVER;

	return val_autorestart(s, &v, &err) == 0 && v == want;
}

static void
test_val_autorestart(void)
{
	const char *err = NULL;
	enum autorestart v;

	CHECK(autorestart_is("true", RESTART_ALWAYS));
	CHECK(autorestart_is("YES", RESTART_ALWAYS));
	CHECK(autorestart_is("1", RESTART_ALWAYS));
	CHECK(autorestart_is("false", RESTART_NEVER));
	CHECK(autorestart_is("off", RESTART_NEVER));
	CHECK(autorestart_is("0", RESTART_NEVER));
	CHECK(autorestart_is("unexpected", RESTART_UNEXPECTED));
	CHECK(autorestart_is("Unexpected", RESTART_UNEXPECTED));
	CHECK(val_autorestart("sometimes", &v, &err) < 0 && err != NULL);
	CHECK(val_autorestart("", &v, &err) < 0);
}

/* ---- values.c: command=, environment= and expansions ------------------ */

static struct arena varena;

/* The argv of command as "[arg][arg]...", or NULL when it is refused. */
static const char *
split(const char *command)
{
	static char out[512];
	const char *err = NULL;
	char **argv = NULL;
	size_t i;

	if (val_split_command(&varena, command, &argv, &err) < 0)
		return err ? NULL : "(no message)";
	out[0] = '\0';
	for (i = 0; argv[i]; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "[%s]",
		    argv[i]);
	return out;
}

static void
test_val_split_command(void)
{
	CHECK(streq(split("/bin/echo hi"), "[/bin/echo][hi]"));
	CHECK(streq(split("  a \t b\n c  "), "[a][b][c]"));
	CHECK(streq(split("a \"b c\" 'd e' f\\ g"), "[a][b c][d e][f g]"));
	CHECK(streq(split("a\"b c\"d"), "[ab cd]"));
	CHECK(streq(split("\"a\\\"b\" \"a\\\\b\" \"a\\nb\" \"a\\$b\""),
	    "[a\"b][a\\b][a\\nb][a\\$b]"));
	CHECK(streq(split("'a\\b' 'a\"b'"), "[a\\b][a\"b]"));
	CHECK(streq(split("\\\"x\\' \\\\"), "[\"x'][\\]"));
	CHECK(streq(split("'it''s'"), "[its]"));
	/* an empty program name cannot run: a configuration error */
	CHECK(split("\"\"") == NULL);
	CHECK(streq(split("a \"\" b ''"), "[a][][b][]"));
	CHECK(streq(split("a # b"), "[a][#][b]"));
	CHECK(streq(split("sh -c 'echo $HOME; ls *'"),
	    "[sh][-c][echo $HOME; ls *]"));
	CHECK(streq(split("a\\\nb"), "[a\nb]"));
	CHECK(split("x \"a b") == NULL);
	CHECK(split("x 'a") == NULL);
	CHECK(split("x \"a\\\"") == NULL);
	CHECK(split("x \\") == NULL);
	CHECK(split("") == NULL);
	CHECK(split("   ") == NULL);
	CHECK(split(" \n\t") == NULL);
}

/* The pairs of an environment= value as "[K=v]...", or NULL if refused. */
static const char *
env(const char *value)
{
	static char out[512];
	struct env_pair *pairs = NULL;
	const char *err = NULL;
	int n, i;

	if ((n = val_environment(&varena, value, &pairs, &err)) < 0)
		return err ? NULL : "(no message)";
	out[0] = '\0';
	for (i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out),
		    "[%s=%s]", pairs[i].key, pairs[i].value);
	return out;
}

static void
test_val_environment(void)
{
	/* the table of supervisord 4.2.5's dict_of_key_value_pairs */
	CHECK(streq(env("A=1,B=2"), "[A=1][B=2]"));
	CHECK(streq(env("A = 1 , B = 2"), "[A=1][B=2]"));
	CHECK(streq(env("A=1;B=2"), "[A=1][B=2]"));
	CHECK(streq(env("A=\"x,y\",B=2"), "[A=x,y][B=2]"));
	CHECK(streq(env("A='x y'"), "[A=x y]"));
	CHECK(streq(env("A=x y"), "[A=x]"));
	CHECK(env("A=1 B=2") == NULL);
	CHECK(env("A=1,,B=2") == NULL);
	CHECK(env("A=") == NULL);
	CHECK(env("A=x=y") == NULL);
	CHECK(env("URL=http://h:80/p?q") == NULL);
	CHECK(streq(env("A=x#y"), "[A=x]"));
	CHECK(streq(env("A=\"$HOME\""), "[A=$HOME]"));
	CHECK(streq(env("A=1,"), "[A=1]"));
	CHECK(streq(env("A=1,\nB=2"), "[A=1][B=2]"));
	CHECK(streq(env("A=1\n,B=2\n,C=3"), "[A=1][B=2][C=3]"));
	/* more of the same rules */
	CHECK(streq(env(""), ""));
	CHECK(streq(env("PATH=/usr/bin:/bin,X=a.b+c-d(e)"),
	    "[PATH=/usr/bin:/bin][X=a.b+c-d(e)]"));
	/* every quote is stripped from both ends */
	CHECK(streq(env("A=\"'x'\""), "[A=x]"));
	CHECK(streq(env("A=\"x\"y"), "[A=x]"));
	CHECK(streq(env("A=1,B=2,A=3"), "[A=1][B=2][A=3]"));
	CHECK(streq(env("# all comment\nA=1"), "[A=1]"));
	CHECK(env("A=\"x") == NULL);
	CHECK(env("A=a b,c") == NULL);
	CHECK(env("=1") == NULL);
	/*
	 * In legacy shlex a quote inside a word belongs to the word
	 * (shlex.shlex('A=abc"def"') gives A, =, abc"def"), so supervisord
	 * reads these as below.
	 */
	CHECK(streq(env("A=abc\"def\""), "[A=abc\"def]"));
	CHECK(streq(env("A=x\"y"), "[A=x\"y]"));
}

/* ENV_ lookups of the expansion tests: a small fixed environment. */
static const char *
fake_env(void *data, const char *name)
{
	static const char *const vars[][2] = {
		{ "HOME", "/root" }, { "SET", "val" }, { "EMPTY", "" },
		{ "N", "5" },
	};
	size_t i;

	(void)data;
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (strcmp(vars[i][0], name) == 0)
			return vars[i][1];
	return NULL;
}

static char expand_error[256];

/* s expanded for process 3 of 5 of program "web", or NULL. */
static const char *
expand_for(const char *s, int process_num)
{
	struct expand_ctx ctx = {
		.program_name = "web", .group_name = "grp",
		.host_node_name = "host1", .here = "/etc/x",
		.process_num = process_num, .numprocs = 5,
		.lookup_env = fake_env, .max_len = 128 * 1024,
	};
	const char *err = NULL;
	char *out = NULL;

	expand_error[0] = '\0';
	if (val_expand(&varena, s, &ctx, &out, expand_error,
	    sizeof(expand_error), &err) < 0) {
		if (err && err != expand_error)
			snprintf(expand_error, sizeof(expand_error), "%s", err);
		return NULL;
	}
	return out;
}

static const char *
expand(const char *s)
{
	return expand_for(s, 3);
}

static void
test_val_expand(void)
{
	CHECK(streq(expand("plain"), "plain"));
	CHECK(streq(expand(""), ""));
	CHECK(streq(expand("%(ENV_HOME)s/x"), "/root/x"));
	CHECK(streq(expand("%(program_name)s"), "web"));
	CHECK(streq(expand("%(group_name)s@%(host_node_name)s"), "grp@host1"));
	CHECK(streq(expand("%(here)s/app.ini"), "/etc/x/app.ini"));
	CHECK(streq(expand("%(process_num)02d"), "03"));
	CHECK(streq(expand("%(process_num)d"), "3"));
	CHECK(streq(expand("%(process_num)s"), "3"));
	CHECK(streq(expand("%(numprocs)d"), "5"));
	CHECK(streq(expand("%(program_name)s_%(process_num)02d"), "web_03"));
	CHECK(streq(expand("100%%"), "100%"));
	CHECK(streq(expand("%%(program_name)s"), "%(program_name)s"));
	CHECK(streq(expand("%(program_name)-6s|"), "web   |"));
	CHECK(streq(expand("%(program_name)6s|"), "   web|"));
	CHECK(streq(expand("%(program_name).2s"), "we"));
	CHECK(streq(expand("%(process_num)-4d|"), "3   |"));
	CHECK(streq(expand("%(process_num)+d"), "+3"));
	CHECK(streq(expand("%(process_num)5.3d|"), "  003|"));
	CHECK(streq(expand("%(ENV_UNSET:-dflt)s"), "dflt"));
	CHECK(streq(expand("%(ENV_UNSET:-)s|"), "|"));
	CHECK(streq(expand("%(ENV_SET:-dflt)s"), "val"));
	CHECK(streq(expand("%(ENV_EMPTY)s|"), "|"));

	CHECK(expand("50%") == NULL);
	CHECK(expand("%d") == NULL);
	CHECK(expand("%s") == NULL);
	CHECK(expand("%(program_name)") == NULL);
	CHECK(expand("%(program_name)x") == NULL);
	CHECK(expand("%(program_name") == NULL);
	CHECK(expand("%(bogus)s") == NULL);
	CHECK(contains(expand_error, "bogus"));
	CHECK(expand("%(ENV_UNSET)s") == NULL);
	CHECK(contains(expand_error, "UNSET"));
	CHECK(expand("%(program_name)d") == NULL);	/* a str for %d */
	CHECK(expand("%(ENV_HOME)d") == NULL);
	/* Python's '%d' % '5' fails too: %d needs a number, not a str */
	CHECK(expand("%(ENV_N)d") == NULL);

	/* process_num and numprocs only where the key is per process */
	CHECK(expand_for("%(process_num)d", -1) == NULL);
	CHECK(contains(expand_error, "process_num"));
	CHECK(expand_for("%(numprocs)d", -1) == NULL);
	CHECK(streq(expand_for("%(program_name)s", -1), "web"));
	CHECK(streq(expand_for("%(process_num)02d", 0), "00"));
}

/* ---- fmt.c ------------------------------------------------------------ */

static char fbuf[128];

static void
test_fmt_conversions(void)
{
	const char *volatile null = NULL;

	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%s|%d|%i", "ab", -42, 7) == 8 &&
	    streq(fbuf, "ab|-42|7"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%ld|%lld", -1234567890123L,
	    (long long)LLONG_MIN) > 0 &&
	    streq(fbuf, "-1234567890123|-9223372036854775808"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%zu|%u", (size_t)SIZE_MAX,
	    UINT_MAX) > 0 && streq(fbuf, "18446744073709551615|4294967295"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%x|%x|%lx", 255u, 0u,
	    0xdeadbeefUL) > 0 && streq(fbuf, "ff|0|deadbeef"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%d|%d", INT_MIN, INT_MAX) > 0 &&
	    streq(fbuf, "-2147483648|2147483647"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%c%c|%%|100%%", 'o', 'k') ==
	    9 &&
	    streq(fbuf, "ok|%|100%"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "[%s]", null) > 0 &&
	    streq(fbuf, "[(null)]"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%s", "") == 0 &&
	    streq(fbuf, ""));
}

static void
test_fmt_fields(void)
{
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%5d|%-5d|%05d", 42, 42, 42) ==
	    17 && streq(fbuf, "   42|42   |00042"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%05d|%5d|%-5d|", -42, -42, -42)
	    > 0 && streq(fbuf, "-0042|  -42|-42  |"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%1d|%02d", 123, 7) > 0 &&
	    streq(fbuf, "123|07"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%6s|%-6s|%2s", "ab", "ab",
	    "abcd") > 0 && streq(fbuf, "    ab|ab    |abcd"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%.2s|%.0s|%.9s", "abcdef", "x",
	    "abc") > 0 && streq(fbuf, "ab||abc"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%5.2s|%-5.3s|", "abcdef",
	    "abcdef") > 0 && streq(fbuf, "   ab|abc  |"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%*d|%-*d|%*d|", 4, 7, 4, 7, -4,
	    7) > 0 && streq(fbuf, "   7|7   |7   |"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%0*d|%.*s|", 3, 5, 2, "xyz") > 0
	    && streq(fbuf, "005|xy|"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%3c|%-3c|", 'a', 'b') > 0 &&
	    streq(fbuf, "  a|b  |"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%4x|%04x", 255u, 255u) > 0 &&
	    streq(fbuf, "  ff|00ff"));
	CHECK(fmt_snprintf(fbuf, sizeof(fbuf), "%8zu|%-3lld|", (size_t)12,
	    -5LL) > 0 && streq(fbuf, "      12|-5 |"));
}

static void
test_fmt_truncation(void)
{
	char small[6];

	memset(small, 'Z', sizeof(small));
	CHECK(fmt_snprintf(small, sizeof(small), "hello %s", "world") == 11);
	CHECK(memcmp(small, "hello", 6) == 0);	/* cut, NUL-terminated */
	memset(small, 'Z', sizeof(small));
	CHECK(fmt_snprintf(small, sizeof(small), "%10d", 1) == 10);
	CHECK(memcmp(small, "     ", 6) == 0);
	memset(small, 'Z', sizeof(small));
	CHECK(fmt_snprintf(small, 1, "abc") == 3 && small[0] == '\0' &&
	    small[1] == 'Z');
	memset(small, 'Z', sizeof(small));
	CHECK(fmt_snprintf(small, 0, "abc%d", 12345) == 8 && small[0] == 'Z');
	CHECK(fmt_snprintf(NULL, 0, "%s=%d", "key", 100) == 7);
	memset(small, 'Z', sizeof(small));
	CHECK(fmt_snprintf(small, sizeof(small), "12345") == 5 &&
	    memcmp(small, "12345", 6) == 0);
	memset(small, 'Z', sizeof(small));
	CHECK(fmt_snprintf(small, sizeof(small), "123456") == 6 &&
	    memcmp(small, "12345", 6) == 0);
}

/* ---- conf.c: the whole loader on temporary files ---------------------- */

static char *temp_paths[512];
static int ntemp_paths;

static void
remember_path(const char *path)
{
	if (ntemp_paths == (int)(sizeof(temp_paths) / sizeof(temp_paths[0]))) {
		printf("too many temporary files for temp_paths\n");
		exit(2);
	}
	temp_paths[ntemp_paths++] = strdup(path);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		printf("cannot write %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

/* A new file under /tmp holding text; removed by remove_temp_files. */
static const char *
temp_ini(const char *text)
{
	char path[] = "/tmp/tend-unit-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0) {
		printf("mkstemp: %s\n", strerror(errno));
		exit(2);
	}
	close(fd);
	write_text(path, text);
	remember_path(path);
	return temp_paths[ntemp_paths - 1];
}

/* dir/name holding text, remembered for removal (files before dirs). */
static void
temp_file_in(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_text(path, text);
	remember_path(path);
}

static void
remove_temp_files(void)
{
	while (ntemp_paths > 0) {
		char *path = temp_paths[--ntemp_paths];

		if (unlink(path) < 0)
			rmdir(path);
		free(path);
	}
}

/* Drops TEND_* from the environment so that only the tests set them. */
static void
clear_tend_env(void)
{
	char name[256];
	char **e;

	for (;;) {
		for (e = environ; *e && strncmp(*e, "TEND_", 5) != 0; e++)
			;
		if (!*e)
			return;
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
		unsetenv(name);
	}
}

/*
 * conf_load into a fresh config; its messages go to /dev/null unless
 * UNIT_VERBOSE is set. Returns the number of errors.
 */
static int
load(struct config *c, const char *file)
{
	struct conf_request req = { .file = file, .grace_ms = -1,
	    .stop_fd = -1 };
	int saved = -1, devnull, errors;

	memset(c, 0, sizeof(*c));
	fflush(stdout);
	if (!getenv("UNIT_VERBOSE") &&
	    (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0) {
		saved = dup(STDERR_FILENO);
		dup2(devnull, STDERR_FILENO);
		close(devnull);
	}
	{
		struct config *got = conf_load(&req, &errors);

		/* a copy that the tests release whole with its arena */
		if (got)
			*c = *got;
	}
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	return errors;
}

static int
load_text(struct config *c, const char *text)
{
	return load(c, temp_ini(text));
}

/* The number of errors a configuration has; its arena is released. */
static int
errors_of(const char *text)
{
	struct config c;
	int errors = load_text(&c, text);

	arena_release(&c.arena);
	return errors;
}

static const struct program *
find_program(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nprograms; i++)
		if (streq(c->programs[i].name, name))
			return &c->programs[i];
	return NULL;
}

/* The start order as "a,b,c". */
static const char *
order_of(const struct config *c)
{
	static char out[256];
	size_t i;

	out[0] = '\0';
	for (i = 0; i < c->nprograms; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
		    i ? "," : "", c->programs[i].name);
	return out;
}

static bool
has_env(const struct program *p, const char *entry)
{
	char **e;

	for (e = p && p->envp ? p->envp : NULL; e && *e; e++)
		if (strcmp(*e, entry) == 0)
			return true;
	return false;
}

static bool
env_has_prefix(const struct program *p, const char *prefix)
{
	char **e;

	for (e = p && p->envp ? p->envp : NULL; e && *e; e++)
		if (strncmp(*e, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static bool
exitcodes_only_zero(const struct program *p)
{
	unsigned char want[32] = { 1 };

	return memcmp(p->exitcodes, want, sizeof(want)) == 0;
}

static void
test_conf_defaults(void)
{
	struct config c;
	const struct program *p;
	const char *file = temp_ini("[program:x]\ncommand=/bin/echo hi\n");

	CHECK(load(&c, file) == 0);
	CHECK(c.nprograms == 1);
	CHECK(streq(c.file, file));
	CHECK(c.shutdown_ms == 8000);
	p = find_program(&c, "x");
	CHECK(p != NULL);
	if (!p)
		goto out;
	CHECK(streq(p->group, "x"));
	CHECK(streq(p->file, file) && p->line == 1);
	CHECK(streq(p->command, "/bin/echo hi"));
	CHECK(p->argv && streq(p->argv[0], "/bin/echo") &&
	    streq(p->argv[1], "hi") && !p->argv[2]);
	CHECK(p->numprocs == 1);
	CHECK(p->priority == 999 && p->group_priority == 999);
	CHECK(p->autostart);
	CHECK(p->startsecs == 1);
	CHECK(p->startretries == 3);
	CHECK(p->autorestart == RESTART_UNEXPECTED);
	CHECK(exitcodes_only_zero(p));
	CHECK(p->stopsignal == SIGTERM);
	CHECK(p->stopwaitsecs == 10);
	CHECK(!p->stopasgroup && !p->killasgroup);
	CHECK(!p->redirect_stderr);
	CHECK(p->out.kind == LOG_INHERIT && p->err.kind == LOG_INHERIT);
	CHECK(p->out.maxbytes == 50LL * 1024 * 1024 &&
	    p->err.maxbytes == 50LL * 1024 * 1024);
	CHECK(p->out.backups == 10 && p->err.backups == 10);
	CHECK(p->out.fd == 1 && p->err.fd == 2);
	CHECK(!p->format.prefix && !p->format.timestamp && !p->format.json);
	CHECK(!p->critical);
	CHECK(!p->user_spec && !p->directory && !p->umask_text);
	CHECK(p->nenv == 0 && !p->is_main);
	CHECK(has_env(p, "SUPERVISOR_ENABLED=1"));
	CHECK(has_env(p, "SUPERVISOR_PROCESS_NAME=x"));
	CHECK(has_env(p, "SUPERVISOR_GROUP_NAME=x"));
out:
	arena_release(&c.arena);

	/* stopasgroup alone implies killasgroup */
	CHECK(load_text(&c, "[program:x]\ncommand=/bin/true\n"
	    "stopasgroup=true\n") == 0);
	p = find_program(&c, "x");
	CHECK(p && p->stopasgroup && p->killasgroup);
	arena_release(&c.arena);
}

static void
test_conf_output(void)
{
	struct config c;
	const struct program *p;

	/* [tend] gives the default format, a program overrides it */
	CHECK(load_text(&c, "[tend]\nlog_prefix = true\nlog_format = JSON\n"
	    "logfile_maxbytes = 2KB\nlogfile_backups = 0\n"
	    "[program:a]\ncommand=/bin/true\n"
	    "[program:b]\ncommand=/bin/true\nlog_prefix = no\n"
	    "log_timestamp = yes\nlog_format = text\n") == 0);
	CHECK(c.format.prefix && c.format.json && !c.format.timestamp);
	CHECK(c.logfile_maxbytes == 2048 && c.logfile_backups == 0);
	p = find_program(&c, "a");
	CHECK(p && p->format.prefix && p->format.json && !p->format.timestamp);
	p = find_program(&c, "b");
	CHECK(p && !p->format.prefix && !p->format.json && p->format.timestamp);
	arena_release(&c.arena);

	/* tend's own streams by name, either way round */
	CHECK(load_text(&c, "[program:s]\ncommand=/bin/true\n"
	    "stdout_logfile=/dev/stderr\nstderr_logfile=/proc/self/fd/1\n"
	    "[program:t]\ncommand=/bin/true\nstdout_logfile=/dev/stdout\n"
	    "stdout_logfile_maxbytes=50MB\nstderr_logfile=auto\n") == 0);
	p = find_program(&c, "s");
	CHECK(p && p->out.kind == LOG_INHERIT && p->out.fd == 2 &&
	    p->err.kind == LOG_INHERIT && p->err.fd == 1);
	p = find_program(&c, "t");
	CHECK(p && p->out.kind == LOG_INHERIT && p->out.fd == 1 &&
	    p->err.kind == LOG_INHERIT && p->err.fd == 2);
	arena_release(&c.arena);

	/* logfile defaults as supervisord's, and bad values */
	CHECK(load_text(&c, "[program:d]\ncommand=/bin/true\n") == 0);
	CHECK(c.logfile_maxbytes == 50LL * 1024 * 1024 &&
	    c.logfile_backups == 10 && !c.format.prefix);
	arena_release(&c.arena);
	CHECK(load_text(&c, "[tend]\nlog_format = xml\n"
	    "[program:d]\ncommand=/bin/true\n") > 0);
	arena_release(&c.arena);
	CHECK(load_text(&c, "[program:d]\ncommand=/bin/true\n"
	    "log_prefix = maybe\n") > 0);
	arena_release(&c.arena);
}

static void
test_conf_values(void)
{
	struct config c;
	const struct program *p;
	static const unsigned char codes[32] = { 0x05, [31] = 0x80 };
	char text[1024], uid[16];

	/* user= names the current user, so that no root is needed */
	snprintf(uid, sizeof(uid), "%u", (unsigned)geteuid());
	snprintf(text, sizeof(text), "[program:v]\n"
	    "command = /bin/sh -c 'exec sleep 1'\n"
	    "priority = -5\nautostart = no\nstartsecs = 0\n"
	    "startretries = 1_0\nautorestart = true\nexitcodes = 0,2,255\n"
	    "stopsignal = INT\nstopwaitsecs = 3\nkillasgroup = true\n"
	    "user = %s\ndirectory = %%(here)s\numask = 027\n"
	    "environment = A=\"1\",B=%%(program_name)s\n"
	    "redirect_stderr = true\nstdout_logfile = /tmp/v.log\n"
	    "stdout_logfile_maxbytes = 1KB\nstdout_logfile_backups = 0\n"
	    "stderr_logfile = NONE\ncritical = on\n", uid);
	CHECK(load_text(&c, text) == 0);
	p = find_program(&c, "v");
	CHECK(p != NULL);
	if (p) {
		CHECK(p->argv && streq(p->argv[2], "exec sleep 1") &&
		    !p->argv[3]);
		CHECK(p->priority == -5 && p->group_priority == -5);
		CHECK(!p->autostart && p->startsecs == 0);
		CHECK(p->startretries == 10);
		CHECK(p->autorestart == RESTART_ALWAYS);
		CHECK(memcmp(p->exitcodes, codes, sizeof(codes)) == 0);
		CHECK(p->stopsignal == SIGINT && p->stopwaitsecs == 3);
		CHECK(!p->stopasgroup && p->killasgroup);
		CHECK(streq(p->user_spec, uid) && p->user.uid == geteuid());
		CHECK(streq(p->directory, "/tmp"));
		CHECK(streq(p->umask_text, "027") && p->umask == 027);
		CHECK(p->nenv == 2 && has_env(p, "A=1") && has_env(p, "B=v"));
		CHECK(p->redirect_stderr);
		CHECK(p->out.kind == LOG_FILE &&
		    streq(p->out.path, "/tmp/v.log"));
		CHECK(p->out.maxbytes == 1024 && p->out.backups == 0);
		CHECK(p->err.kind == LOG_DISCARD);
		CHECK(p->critical);
	}
	arena_release(&c.arena);

	/* %(ENV_X)s: the program's environment=, then tend's own */
	setenv("UNIT_TEND_VAR", "from-process", 1);
	CHECK(load_text(&c, "[program:e]\nenvironment=MINE=own\n"
	    "command=/bin/echo %(ENV_UNIT_TEND_VAR)s %(ENV_MINE)s "
	    "%(ENV_UNIT_TEND_UNSET:-none)s\n") == 0);
	p = find_program(&c, "e");
	CHECK(p && p->argv && streq(p->argv[1], "from-process") &&
	    streq(p->argv[2], "own") && streq(p->argv[3], "none"));
	CHECK(has_env(p, "UNIT_TEND_VAR=from-process"));
	arena_release(&c.arena);
	unsetenv("UNIT_TEND_VAR");

	/* [supervisord] environment= reaches every program, below its own */
	CHECK(load_text(&c, "[supervisord]\nenvironment=G=1,H=global\n"
	    "[program:g]\ncommand=/bin/true\nenvironment=H=mine\n") == 0);
	p = find_program(&c, "g");
	CHECK(has_env(p, "G=1") && has_env(p, "H=mine") &&
	    !has_env(p, "H=global"));
	arena_release(&c.arena);

	/* [tend] shutdown_timeout */
	CHECK(load_text(&c, "[tend]\nshutdown_timeout = 3\n"
	    "[program:t]\ncommand=/bin/true\n") == 0);
	CHECK(c.shutdown_ms == 3000);
	arena_release(&c.arena);
}

static void
test_conf_default_section(void)
{
	struct config c;
	const struct program *a, *b, *d;

	CHECK(load_text(&c, "[DEFAULT]\nstartsecs = 5\nautorestart = false\n"
	    "command = /bin/default\ndirectory = /srv/%(program_name)s\n"
	    "[program:a]\ncommand = /bin/a\n"
	    "[program:b]\ncommand = /bin/b\nstartsecs = 7\n"
	    "[program:d]\n") == 0);
	a = find_program(&c, "a");
	b = find_program(&c, "b");
	d = find_program(&c, "d");
	CHECK(c.nprograms == 3);
	CHECK(a && a->startsecs == 5 && a->autorestart == RESTART_NEVER &&
	    streq(a->command, "/bin/a"));
	CHECK(b && b->startsecs == 7 && b->autorestart == RESTART_NEVER);
	CHECK(d && streq(d->command, "/bin/default") && d->startsecs == 5);
	/* a [DEFAULT] value is expanded for each program that uses it */
	CHECK(a && streq(a->directory, "/srv/a"));
	CHECK(d && streq(d->directory, "/srv/d"));
	arena_release(&c.arena);
}

static void
test_conf_duplicate_sections(void)
{
	struct config c;
	const struct program *p;

	CHECK(load_text(&c, "[program:d]\ncommand=/bin/one\npriority=5\n"
	    "autostart=false\n[program:other]\ncommand=/bin/other\n"
	    "[program:d]\ncommand=/bin/two\nautostart=true\n") == 0);
	CHECK(c.nprograms == 2);
	p = find_program(&c, "d");
	CHECK(p && streq(p->command, "/bin/two") && p->priority == 5 &&
	    p->autostart);
	arena_release(&c.arena);

	/* two process names that collide */
	CHECK(errors_of("[program:a]\ncommand=/bin/a\nprocess_name=same\n"
	    "[program:b]\ncommand=/bin/b\nprocess_name=same\n") > 0);
}

static void
test_conf_numprocs(void)
{
	struct config c;
	const struct program *p;

	CHECK(load_text(&c, "[program:x]\ncommand=/bin/w %(process_num)d "
	    "%(numprocs)d\nnumprocs=3\n"
	    "process_name=%(program_name)s_%(process_num)02d\n"
	    "stdout_logfile=/tmp/x-%(process_num)d.log\n") == 0);
	CHECK(c.nprograms == 3);
	CHECK(streq(order_of(&c), "x_00,x_01,x_02"));
	p = find_program(&c, "x_01");
	CHECK(p && streq(p->group, "x") && p->numprocs == 3);
	CHECK(p && p->argv && streq(p->argv[1], "1") && streq(p->argv[2], "3"));
	CHECK(p && streq(p->out.path, "/tmp/x-1.log"));
	CHECK(has_env(p, "SUPERVISOR_PROCESS_NAME=x_01") &&
	    has_env(p, "SUPERVISOR_GROUP_NAME=x"));
	arena_release(&c.arena);

	CHECK(load_text(&c, "[program:y]\ncommand=/bin/y\nnumprocs=2\n"
	    "numprocs_start=5\nprocess_name=y%(process_num)d\n") == 0);
	CHECK(streq(order_of(&c), "y5,y6"));
	arena_release(&c.arena);

	/* numprocs > 1 needs %(process_num) in process_name */
	CHECK(errors_of("[program:x]\ncommand=/bin/w\nnumprocs=3\n") > 0);
	CHECK(errors_of("[program:x]\ncommand=/bin/w\nnumprocs=2\n"
	    "process_name=%(program_name)s\n") > 0);
	/* process_num is unknown outside the per-process keys */
	CHECK(errors_of("[program:x]\ncommand=/bin/w\n"
	    "priority=%(process_num)d\n") > 0);
}

static void
test_conf_groups(void)
{
	struct config c;
	const struct program *a, *z;

	CHECK(load_text(&c, "[group:g]\nprograms=a,b\npriority=5\n"
	    "[program:a]\ncommand=/bin/a %(group_name)s\npriority=10\n"
	    "[program:b]\ncommand=/bin/b\npriority=2\n"
	    "[program:z]\ncommand=/bin/z\npriority=1\n"
	    "[program:m]\ncommand=/bin/m\n"
	    "[program:c]\ncommand=/bin/c\n"
	    "[group:h]\nprograms = y\n"
	    "[program:y]\ncommand=/bin/y\npriority=1\n") == 0);
	a = find_program(&c, "a");
	z = find_program(&c, "z");
	CHECK(a && streq(a->group, "g") && a->group_priority == 5 &&
	    a->priority == 10);
	CHECK(a && a->argv && streq(a->argv[1], "g"));
	CHECK(has_env(a, "SUPERVISOR_GROUP_NAME=g"));
	CHECK(z && streq(z->group, "z") && z->group_priority == 1);
	/* (group priority, group, priority, name) */
	CHECK(streq(order_of(&c), "z,b,a,c,y,m"));
	arena_release(&c.arena);

	CHECK(errors_of("[group:g]\nprograms=a,nope\n"
	    "[program:a]\ncommand=/bin/a\n") > 0);
}

static void
test_conf_names(void)
{
	struct config c;

	/* supervisord strips the name: process_or_group_name(" x ") is "x" */
	CHECK(load_text(&c, "[program: x ]\ncommand=/bin/true\n") == 0);
	CHECK(find_program(&c, "x") != NULL);
	arena_release(&c.arena);
	CHECK(errors_of("[program:a/b]\ncommand=/bin/true\n") > 0);
	CHECK(errors_of("[program:a:b]\ncommand=/bin/true\n") > 0);
	CHECK(errors_of("[group:g:h]\nprograms=a\n"
	    "[program:a]\ncommand=/bin/a\n") > 0);
	/* a process name is checked after expansion */
	CHECK(errors_of("[program:x]\ncommand=/bin/true\n"
	    "process_name=%(ENV_UNIT_TEND_UNSET:-a b)s\n") > 0);
}

static void
test_conf_include(void)
{
	char dir[] = "/tmp/tend-unit-XXXXXX", sub[64], main_ini[64], want[80];
	struct config c;
	const struct program *p, *q;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	remember_path(dir);
	snprintf(sub, sizeof(sub), "%s/conf.d", dir);
	mkdir(sub, 0700);
	remember_path(sub);
	temp_file_in(dir, "main.ini", "[include]\nfiles = conf.d/*.ini "
	    "extra.conf\n[program:main1]\ncommand=/bin/m\n");
	temp_file_in(dir, "extra.conf", "[program:extra]\ncommand=/bin/e\n");
	/* written out of order: reading must sort them */
	temp_file_in(sub, "b.ini", "[program:p]\ncommand=/bin/from-b\n");
	temp_file_in(sub, "a.ini", "[program:p]\ncommand=/bin/from-a\n"
	    "autostart=false\n[program:q]\ncommand=/bin/q\n"
	    "directory=%(here)s\n");
	temp_file_in(sub, "skip.txt", "[program:r]\ncommand=/bin/r\n");
	temp_file_in(sub, ".hidden.ini", "[program:h]\ncommand=/bin/h\n");
	snprintf(main_ini, sizeof(main_ini), "%s/main.ini", dir);

	CHECK(load(&c, main_ini) == 0);
	CHECK(c.nprograms == 4);
	p = find_program(&c, "p");
	q = find_program(&c, "q");
	CHECK(p && streq(p->command, "/bin/from-b") && !p->autostart);
	snprintf(want, sizeof(want), "%s/a.ini", sub);
	CHECK(q && streq(q->file, want) && q->line == 4);
	CHECK(q && streq(q->directory, sub));
	CHECK(find_program(&c, "main1") && find_program(&c, "extra"));
	CHECK(!find_program(&c, "r") && !find_program(&c, "h"));
	arena_release(&c.arena);
}

static void
test_conf_errors(void)
{
	const char *ok = "[program:x]\ncommand=/bin/true\n";

	CHECK(errors_of(ok) == 0);
	CHECK(errors_of("[program:x]\nautostart=true\n") > 0);
	CHECK(errors_of("[program:x]\ncommand=/bin/true\nautostart=maybe\n") >
	    0);
	CHECK(errors_of("[program:x]\ncommand=/bin/%(nope)s\n") > 0);
	CHECK(errors_of("[program:x]\ncommand=/bin/echo \"unterminated\n") > 0);
	CHECK(errors_of("[program:x]\ncommand=/bin/true\nstopasgroup=true\n"
	    "killasgroup=false\n") > 0);
	CHECK(errors_of("[program:x]\ncommand=/bin/true\n"
	    "stdout_logfile=/nonexistent-tend-unit/x.log\n") > 0);
	CHECK(errors_of("[program:x]\ncommand=/bin/true\n"
	    "user=no-such-user-tend-unit\n") > 0);
	CHECK(errors_of("[program:x]\ncommand=/bin/true\nnumprocs=x\n") > 0);
	CHECK(errors_of("[program:x]\ncommand=/bin/true\nexitcodes=256\n") > 0);
	CHECK(errors_of("[program:x]\ncommand=/bin/true\nstopsignal=NOPE\n") >
	    0);
	CHECK(errors_of("[program:x]\ncommand=/bin/true\numask=8\n") > 0);
	CHECK(errors_of("[program:x]\ncommand=/bin/true\nenvironment=A=\n") >
	    0);
	CHECK(errors_of("[program:x y]\ncommand=/bin/true\n") > 0);
	CHECK(errors_of("[program:x]\ncommand=/bin/true\nprocess_name=a/b\n") >
	    0);
	CHECK(errors_of("[program:x]\ncommand=/bin/true\n"
	    "directory=%(ENV_UNIT_TEND_UNSET)s\n") > 0);
	CHECK(errors_of("[tend]\nshutdown_timeout=soon\n[program:x]\n"
	    "command=/bin/true\n") > 0);
	CHECK(errors_of("key=outside\n[program:x]\ncommand=/bin/true\n") > 0);
	CHECK(errors_of("[supervisord]\nnodaemon=true\n") > 0);
	CHECK(errors_of("") > 0);
	/* several problems are all counted */
	CHECK(errors_of("[program:x]\ncommand=/bin/true\nautostart=maybe\n"
	    "startsecs=-1\nstopsignal=NOPE\n") == 3);
	/* a file that cannot be read */
	{
		struct config c;

		CHECK(load(&c, "/nonexistent-tend-unit/tend.ini") > 0);
		arena_release(&c.arena);
	}
}

/* setenv/unsetenv a batch of NAME=value strings around one load. */
static int
load_with_env(struct config *c, const char *file, const char *const *vars)
{
	const char *const *v;
	char name[128];
	int errors;

	for (v = vars; *v; v++) {
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(*v, "="), *v);
		setenv(name, strchr(*v, '=') + 1, 1);
	}
	errors = load(c, file);
	for (v = vars; *v; v++) {
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(*v, "="), *v);
		unsetenv(name);
	}
	return errors;
}

static void
test_conf_env_overrides(void)
{
	struct config c;
	const struct program *p;
	const char *file = temp_ini("[program:x]\ncommand=/bin/file\n"
	    "autostart=true\n[program:node-hook]\ncommand=/bin/hook\n");

	{
		static const char *const vars[] = {
			"TEND_PROGRAM_X_COMMAND=/bin/env arg",
			"TEND_PROGRAM_X_AUTOSTART=false",
			"TEND_PROGRAM_NODE_HOOK_STOPSIGNAL=KILL", NULL,
		};

		CHECK(load_with_env(&c, file, vars) == 0);
		p = find_program(&c, "x");
		CHECK(p && streq(p->command, "/bin/env arg") && !p->autostart);
		CHECK(p && p->argv && streq(p->argv[1], "arg"));
		CHECK(p && !env_has_prefix(p, "TEND_"));
		p = find_program(&c, "node-hook");
		CHECK(p && p->stopsignal == SIGKILL);
		arena_release(&c.arena);
	}
	{
		static const char *const vars[] = {
			"TEND_CONFIG=", "TEND_PROGRAM_WORKER_COMMAND=/bin/true",
			"TEND_PROGRAM_MY_APP_COMMAND=/bin/app",
			"TEND_PROGRAM_MY_APP_NUMPROCS_START=2", NULL,
		};

		CHECK(load_with_env(&c, NULL, vars) == 0);
		CHECK(c.file == NULL && c.nprograms == 2);
		p = find_program(&c, "worker");
		CHECK(p && p->argv && streq(p->argv[0], "/bin/true") &&
		    !p->argv[1] && p->autostart && p->priority == 999);
		p = find_program(&c, "my_app");
		CHECK(p && streq(p->command, "/bin/app") &&
		    p->numprocs_start == 2);
		arena_release(&c.arena);
	}
	{
		static const char *const vars[] = {
			"TEND_PROGRAM_X_BOGUSKEY=1", NULL,
		};

		CHECK(load_with_env(&c, file, vars) > 0);
		arena_release(&c.arena);
	}
	{
		static const char *const vars[] = {
			"TEND_CONFIG=", "TEND_PROGRAM_W_COMMAND=/bin/true",
			"TEND_PROGRAM_W_BOGUSKEY=1", NULL,
		};

		CHECK(load_with_env(&c, NULL, vars) > 0);
		arena_release(&c.arena);
	}
	{
		static const char *const vars[] = {
			"TEND_PROGRAM_A_B_COMMAND=/bin/x", NULL,
		};
		const char *two = temp_ini("[program:a-b]\ncommand=/bin/1\n"
		    "[program:a_b]\ncommand=/bin/2\n");

		CHECK(load_with_env(&c, two, vars) > 0);
		arena_release(&c.arena);
	}
	{
		static const char *const vars[] = {
			"TEND_SHUTDOWN_TIMEOUT=2.5", NULL,
		};

		CHECK(load_with_env(&c, file, vars) == 0);
		CHECK(c.shutdown_ms == 2500);
		arena_release(&c.arena);
	}
	{
		static const char *const vars[] = { "TEND_NOPE=1", NULL };

		CHECK(load_with_env(&c, file, vars) > 0);
		arena_release(&c.arena);
	}
	{
		static const char *const vars[] = {
			"TEND_SHUTDOWN_TIMEOUT=soon", NULL,
		};

		CHECK(load_with_env(&c, file, vars) > 0);
		arena_release(&c.arena);
	}
	{
		static const char *const vars[] = { "TEND_CONFIG=", NULL };

		/* neither a file nor a program: nothing to run */
		CHECK(load_with_env(&c, NULL, vars) > 0);
		arena_release(&c.arena);
	}
}

/* ---- the loader's defects, fixed: each has its regression test ---------- */

/* conf_load's errors and their report text, for one configuration. */
static int
errors_and_report(const char *text, char *report, size_t len)
{
	struct config c;
	int errors = load_text(&c, text);

	snprintf(report, len, "%s", c.report);
	arena_release(&c.arena);
	return errors;
}

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_conf_process_name_in_groups(void)
{
	char report[2048];

	/* two programs of one group fail: two errors, nothing half-built */
	CHECK(errors_and_report("[group:x]\nprograms = a, b\n"
	    "[program:a]\ncommand = /bin/true\nprocess_name = %(nosuch)s\n"
	    "[program:b]\ncommand = /bin/true\n"
	    "process_name = %(nosuch)s_%(process_num)d\nnumprocs = 2\n",
	    report, sizeof(report)) == 2);
	CHECK(contains(report, ":5: process_name: unknown expansion"));
	CHECK(contains(report, ":8: process_name: unknown expansion"));
	/* a group of priority 0 */
	CHECK(errors_and_report("[group:g]\nprograms=p\npriority=0\n"
	    "[program:p]\ncommand=/bin/true\nprocess_name=%(nosuch)s\n",
	    report, sizeof(report)) == 1);
	CHECK(contains(report, ":6: process_name: unknown expansion"));
	CHECK(errors_of("[group:g]\nprograms=p\npriority=0\n"
	    "[program:p]\ncommand=/bin/true\n") == 0);
}

/* A pipe whose writer (a child) writes text in pieces, then closes. */
static int
pipe_from_child(const char *text, size_t len, pid_t *pid)
{
	int fds[2];

	if (pipe(fds) < 0)
		return -1;
	if ((*pid = fork()) == 0) {
		size_t off = 0;

		close(fds[0]);
		while (off < len) {
			size_t n = len - off < 1000 ? len - off : 1000;
			ssize_t w = write(fds[1], text + off, n);

			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	return fds[0];
}

/* A configuration of exactly size bytes, [program:last] at its end. */
static char *
sized_text(size_t size)
{
	static const char head[] = "[program:first]\ncommand=/bin/true\n";
	static const char tail[] = "[program:last]\ncommand=/bin/true\n";
	char *t = malloc(size + 1);
	size_t i, body = size - strlen(head) - strlen(tail);

	memcpy(t, head, strlen(head));
	for (i = 0; i < body; i++)	/* comment lines of 64 bytes */
		t[strlen(head) + i] = (i % 64 == 0) ? ';' :
		    (i % 64 == 63 || i == body - 1) ? '\n' : 'x';
	memcpy(t + strlen(head) + body, tail, strlen(tail) + 1);
	return t;
}

static void
test_conf_pipes_are_read_whole(void)
{
	static const size_t sizes[] = { 4093, 4094, 4095, 4096, 4097, 8190,
	    65536, 65537, 300000 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *text = sized_text(sizes[i]), path[64];
		struct arena a = { 0 };
		struct config c;
		size_t len = 0;
		char *got;
		pid_t pid;
		int fd = pipe_from_child(text, sizes[i], &pid);

		snprintf(path, sizeof(path), "/dev/fd/%d", fd);
		got = arena_read_file(&a, path, &len, -1);
		CHECK(got && len == sizes[i] && memcmp(got, text, len) == 0);
		arena_release(&a);
		close(fd);
		waitpid(pid, NULL, 0);

		/* and the whole loader on such a pipe */
		fd = pipe_from_child(text, sizes[i], &pid);
		snprintf(path, sizeof(path), "/dev/fd/%d", fd);
		CHECK(load(&c, path) == 0 && c.nprograms == 2 &&
		    find_program(&c, "last"));
		arena_release(&c.arena);
		close(fd);
		waitpid(pid, NULL, 0);
		free(text);
	}
}

static void
test_conf_fifo_read_stops_on_stop_fd(void)
{
	char dir[] = "/tmp/tend-unit-fifo-XXXXXX", fifo[64];
	struct conf_request req = { .grace_ms = -1 };
	struct config *c;
	int stop[2], errors = 0, saved, devnull;

	if (!mkdtemp(dir) || pipe(stop) < 0) {
		CHECK(!"mkdtemp or pipe");
		return;
	}
	snprintf(fifo, sizeof(fifo), "%s/conf", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	/* the stop signal already came: the read must not wait for a writer */
	CHECK(write(stop[1], "x", 1) == 1);
	req.file = fifo;
	req.stop_fd = stop[0];
	fflush(stdout);
	saved = dup(STDERR_FILENO);
	devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, STDERR_FILENO);
	close(devnull);
	c = conf_load(&req, &errors);
	dup2(saved, STDERR_FILENO);
	close(saved);
	CHECK(c && c->interrupted && errors > 0 && c->nprograms == 0);
	if (c)
		conf_release(c);
	close(stop[0]);
	close(stop[1]);
	unlink(fifo);
	rmdir(dir);
}

static void
test_conf_globs_are_linear(void)
{
	char dir[] = "/tmp/tend-unit-glob-XXXXXX", sub[80], conf[96];
	char name[41];
	double t0;
	struct config c;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	remember_path(dir);
	snprintf(sub, sizeof(sub), "%s/bt", dir);
	mkdir(sub, 0700);
	remember_path(sub);
	memset(name, 'a', 40);
	name[40] = '\0';
	temp_file_in(sub, name, "[program:never]\ncommand=/bin/true\n");
	temp_file_in(dir, "tend.ini", "[include]\n"
	    "files = bt/*a*a*a*a*a*a*a*a*a*a*b bt/*a*a*a*a*a*a*a*a*a*a\n"
	    "[program:x]\ncommand=/bin/true\n");
	snprintf(conf, sizeof(conf), "%s/tend.ini", dir);
	t0 = cpu_now();
	CHECK(load(&c, conf) == 0);
	CHECK(cpu_now() - t0 < 0.5);
	/* the second pattern matches the file of 40 a's */
	CHECK(c.nprograms == 2 && find_program(&c, "x") &&
	    find_program(&c, "never"));
	arena_release(&c.arena);
}

static void
test_conf_scales_linearly(void)
{
	static const int counts[] = { 1000, 8000 };
	double cost[2];
	int k;

	for (k = 0; k < 2; k++) {
		size_t cap = (size_t)counts[k] * 64 + 1, len = 0;
		char *text = malloc(cap);
		struct config c;
		double t0;
		int i;

		for (i = 0; i < counts[k]; i++)
			len += (size_t)snprintf(text + len, cap - len,
			    "[program:p%d]\ncommand=/bin/sleep %d\npriority=%d\n",
			    i, i, i % 13);
		t0 = cpu_now();
		CHECK(load_text(&c, text) == 0 &&
		    c.nprograms == (size_t)counts[k]);
		cost[k] = cpu_now() - t0;
		arena_release(&c.arena);
		free(text);
	}
	/* 8 times the programs at most 12 times the cost (10 ms floor) */
	CHECK(cost[1] <= 12 * (cost[0] > 0.01 ? cost[0] : 0.01));
}

static void
test_conf_expansions_are_bounded(void)
{
	char report[2048], *text;
	double t0;
	size_t i, n;

	t0 = cpu_now();
	CHECK(errors_and_report("[program:w]\ncommand=/bin/echo "
	    "%(here)999999s\nnumprocs=300\nprocess_name=w%(process_num)d\n",
	    report, sizeof(report)) == 1);
	CHECK(cpu_now() - t0 < 0.5);
	CHECK(contains(report, ":2: command: a width or precision above "
	    "1024 in %(here)"));
	CHECK(errors_of("[program:w]\ncommand=/bin/echo %(here)1024s "
	    "%(program_name)-1024.1024s\n") == 0);
	CHECK(errors_of("[program:w]\ncommand=/bin/echo %(here)1025s\n") == 1);
	/* one value: 128 KiB */
	n = strlen("[program:v]\ncommand=/bin/echo ") + 130 * 12 + 2;
	text = malloc(n);
	strcpy(text, "[program:v]\ncommand=/bin/echo ");
	for (i = 0; i < 130; i++)
		strcat(text, "%(here)1024s");
	strcat(text, "\n");
	CHECK(errors_and_report(text, report, sizeof(report)) == 1);
	CHECK(contains(report, "more than 131072"));
	free(text);
	/* all of them: 64 MiB */
	n = strlen("[program:t]\ncommand=/bin/echo ") + 120 * 12 + 64;
	text = malloc(n);
	strcpy(text, "[program:t]\ncommand=/bin/echo ");
	for (i = 0; i < 120; i++)
		strcat(text, "%(here)1024s");
	strcat(text, "\nnumprocs=600\nprocess_name=t%(process_num)d\n");
	CHECK(errors_and_report(text, report, sizeof(report)) == 1);
	CHECK(contains(report, "would take more than 67108864 bytes"));
	free(text);
}

static void
test_conf_empty_command_and_nul(void)
{
	char report[2048];
	const char *file;
	struct config c;
	int fd;

	CHECK(errors_and_report("[program:e]\nautostart=true\ncommand=\"\"\n",
	    report, sizeof(report)) == 1);
	CHECK(contains(report, ":3: command: the program to run is an empty "
	    "string"));
	CHECK(errors_of("[program:e]\ncommand=''\n") == 1);
	CHECK(errors_of("[program:e]\ncommand=\"\" arg\n") == 1);
	/* a NUL byte: written past the text functions */
	file = temp_ini("");
	fd = open(file, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "[program:n]\ncommand=/bin/true\n\0\n",
	    32) == 32);
	close(fd);
	CHECK(load(&c, file) == 1);
	CHECK(contains(c.report, ":3: a NUL byte"));
	arena_release(&c.arena);
}

int
main(void)
{
	test_sig_parse();
	test_sig_name();
	test_signal_policy();
	test_exit_codes();

	test_ini_basics();
	test_ini_comments();
	test_ini_continuations();
	test_ini_long_lines();
	test_ini_errors();
	ini_forget();

	test_val_bool();
	test_val_int();
	test_val_bytes();
	test_val_signal();
	test_val_exitcodes();
	test_val_octal();
	test_val_autorestart();
	test_val_split_command();
	test_val_environment();
	test_val_expand();
	arena_release(&varena);

	test_fmt_conversions();
	test_fmt_fields();
	test_fmt_truncation();

	clear_tend_env();
	test_conf_defaults();
	test_conf_values();
	test_conf_default_section();
	test_conf_duplicate_sections();
	test_conf_numprocs();
	test_conf_groups();
	test_conf_output();
	test_conf_names();
	test_conf_include();
	test_conf_errors();
	test_conf_env_overrides();
	test_conf_process_name_in_groups();
	test_conf_pipes_are_read_whole();
	test_conf_fifo_read_stops_on_stop_fd();
	test_conf_globs_are_linear();
	test_conf_scales_linearly();
	test_conf_expansions_are_bounded();
	test_conf_empty_command_and_nul();
	remove_temp_files();

	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
