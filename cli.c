/*
 * cli.c: option parsing. Parsing stops at the first non-option, so
 * `tend sleep 10` runs sleep without a "--". Options are a table; each
 * usage error is one line naming the option, with a hint to --help, and
 * exits 2.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "fmt.h"
#include "log.h"
#include "sig.h"
#include "values.h"

static const char usage_text[] =
"usage: tend [-c FILE] [-g] [-e CODE]... [-p SIGNAL] [-t SECONDS] [-v]... [-w]\n"
"            [-s] [--] [COMMAND [ARG...]]\n"
"       tend --check [-c FILE]\n"
"       tend ctl [-s SOCKET|URL] [-c FILE] COMMAND [ARG...]   (tend ctl --help)\n"
"       tend --version | -h | --help\n"
"\n"
"Runs COMMAND, and the programs of a supervisord-style INI file, as a\n"
"minimal init: reaps every zombie, forwards signals, supervises, and on\n"
"exit or stop ends the whole process tree gracefully.\n"
"\n"
"  -c FILE     configuration (default: $TEND_CONFIG, else /etc/tend.ini;\n"
"              without COMMAND also /etc/supervisord.conf and\n"
"              /etc/supervisor/supervisord.conf)\n"
"  --check     validate the configuration, print the programs, exit\n"
"  -g          forward signals to the command's process group\n"
"  -e CODE     exit 0 when the command exits with CODE (repeatable)\n"
"  -p SIGNAL   receive SIGNAL when tend's parent dies\n"
"  -t SECONDS  shutdown budget before SIGKILL (default %ld.%03ld)\n"
"  -v          more verbose (repeat for debug)\n"
"  -w          log every reaped orphan\n"
"  -s          accepted for tini compatibility (subreaping is automatic)\n"
"  -h, --help  show this help\n"
"  --version   show the version\n";

static _Noreturn void usage_error(const char *fmt, ...) PRINTF(1, 2);

static void
usage_error(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fatalx(2, "%s (see 'tend --help')", msg);
}

static void
set_exit_zero(struct options *o, const char *arg)
{
	const char *end = arg;
	unsigned long long code;

	if (val_digits(&end, 10, 255, &code) < 0 || *end)
		usage_error("-e: expected an exit code 0..255, got '%s'", arg);
	o->exit_zero[code / 8] |= (unsigned char)(1u << (code % 8));
}

static void
set_pdeathsig(struct options *o, const char *arg)
{
	int sig = sig_parse(arg);

	if (sig < 1 || sig > SIG_MAX)
		usage_error("-p: expected a signal name or number, got '%s'",
		    arg);
	o->pdeathsig = sig;
}

static void
set_grace(struct options *o, const char *arg)
{
	const char *err;

	if (val_seconds_ms(arg, MAX_GRACE_MS, &o->grace_ms, &err) < 0)
		usage_error("-t: %s, got '%s'", err, arg);
}

static void set_config(struct options *o, const char *a) { o->config_file = a; }
static void set_group(struct options *o, const char *a) { (void)a; o->group = true; }
static void set_verbose(struct options *o, const char *a) { (void)a; o->verbosity++; }
static void set_warn_reap(struct options *o, const char *a) { (void)a; o->warn_reap = true; }
static void set_nothing(struct options *o, const char *a) { (void)o; (void)a; }

static const struct option_def {
	char letter;
	bool takes_arg;
	void (*set)(struct options *, const char *);
} option_table[] = {
	{ 'c', true, set_config },
	{ 'e', true, set_exit_zero },
	{ 'g', false, set_group },
	{ 'p', true, set_pdeathsig },
	{ 's', false, set_nothing },
	{ 't', true, set_grace },
	{ 'v', false, set_verbose },
	{ 'w', false, set_warn_reap },
};

static const struct option_def *
find_option(char letter)
{
	size_t i;

	for (i = 0; i < sizeof(option_table) / sizeof(option_table[0]); i++)
		if (option_table[i].letter == letter)
			return &option_table[i];
	return NULL;
}

static _Noreturn void
print_and_exit(const char *text)
{
	(void)write_all(STDOUT_FILENO, text, strlen(text));
	exit(0);
}

static _Noreturn void
print_help(void)
{
	char text[sizeof(usage_text) + 32];

	fmt_snprintf(text, sizeof(text), usage_text, (long)DEFAULT_GRACE_MS / 1000,
	    (long)DEFAULT_GRACE_MS % 1000);
	print_and_exit(text);
}

/* Handles one "-abc" cluster; returns how many argv entries it used. */
static int
parse_cluster(struct options *o, char **argv, int i, int argc)
{
	const char *p;

	for (p = argv[i] + 1; *p; p++) {
		const struct option_def *def = find_option(*p);
		char letter[2] = { *p, '\0' };

		if (*p == 'h')
			print_help();
		if (!def)
			usage_error("unknown option '-%s'", letter);
		if (!def->takes_arg) {
			def->set(o, NULL);
			continue;
		}
		if (p[1]) {
			def->set(o, p + 1);
			return 1;
		}
		if (i + 1 >= argc)
			usage_error("option '-%s' needs a value", letter);
		def->set(o, argv[i + 1]);
		return 2;
	}
	return 1;
}

/*
 * Images written for tini set its variables, which tini reads after the
 * options: TINI_KILL_PROCESS_GROUP (set: -g), TINI_SUBREAPER (set: -s,
 * which tend does anyway) and TINI_VERBOSITY (a level that replaces
 * what -v says: 0 errors, 1 warnings, 2 info, 3 and up debug).
 */
static void
tini_environment(struct options *o)
{
	const char *v = getenv("TINI_VERBOSITY");
	unsigned long long level;

	if (getenv("TINI_KILL_PROCESS_GROUP"))
		o->group = true;
	o->log_level = -1;
	if (v && val_digits(&v, 10, 1000, &level) == 0)
		o->log_level = level > LOG_DEBUG ? LOG_DEBUG : (int)level;
}

void
cli_parse(int argc, char **argv, struct options *o)
{
	int i = 1;

	memset(o, 0, sizeof(*o));
	o->grace_ms = -1;
	while (i < argc && argv[i][0] == '-' && argv[i][1] != '\0') {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--help") == 0)
			print_help();
		if (strcmp(argv[i], "--version") == 0)
			print_and_exit("tend " TEND_VERSION "\n");
		if (strcmp(argv[i], "--check") == 0) {
			o->check = true;
			i++;
			continue;
		}
		if (argv[i][1] == '-')
			usage_error("unknown option '%s'", argv[i]);
		i += parse_cluster(o, argv, i, argc);
	}
	if (i < argc)
		o->command = argv + i;
	tini_environment(o);
}

int
cli_remap_exit(const struct options *o, int code)
{
	if (code >= 0 && code <= 255 &&
	    (o->exit_zero[code / 8] & (1u << (code % 8))))
		return 0;
	return code;
}
