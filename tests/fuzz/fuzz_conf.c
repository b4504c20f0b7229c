/*
 * fuzz_conf.c: conf_load, the whole loader, on a file written from the
 * input, with TEND_* environment overrides taken from it: each line
 * ";@TEND_NAME=value" (a comment to the INI parser) sets one, and a
 * hash of the input adds one of a few canned ones. Some runs also give
 * a command (main), -g, -t, or ask for the settings only, as tend ctl
 * does.
 *
 * The loader may open only what lies in a private directory (the file,
 * and conf.d/ for [include] globs), its ancestors as directories (the
 * globs walk down from /), /etc/passwd and /etc/group: with
 * -Wl,--wrap=open every other open is refused while conf_load runs, so
 * an input naming /dev/zero, a FIFO or /proc cannot hang or swamp the
 * run, and the results do not depend on the machine's files.
 *
 * What it checks: an accepted load has programs (unless settings only),
 * each complete (argv, envp, names) and equal to itself for a reload;
 * --check's table prints; the load's arena memory is all returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../conf.h"
#include "../../log.h"
#include "../../mem.h"

extern char **environ;

static char root[PATH_MAX];		/* the private directory, resolved */
static char file[PATH_MAX];		/* root/tend.ini */
static bool sandboxed;			/* while conf_load runs */

static void
broken(const char *what)
{
	fprintf(stderr, "fuzz_conf: broken promise: %s\n", what);
	abort();
}

/* ---- the sandbox ---------------------------------------------------------- */

static bool
under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/' ||
	    !strcmp(dir, "/"));
}

static bool
allowed(const char *resolved, bool directory)
{
	if (under(resolved, root))
		return true;
	if (directory && under(root, resolved))
		return true;	/* an ancestor, for the globs' walk */
	return !directory && (!strcmp(resolved, "/etc/passwd") ||
	    !strcmp(resolved, "/etc/group"));
}

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);

int
__wrap_open(const char *path, int flags, ...)
{
	char resolved[PATH_MAX];
	mode_t mode = 0;
	struct stat st;
	int fd;

	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (!sandboxed)
		return __real_open(path, flags, mode);
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_CREAT)) {
		errno = EROFS;	/* the loader never writes */
		return -1;
	}
	if (!realpath(path, resolved))
		return -1;	/* ENOENT and the like, as open says */
	if (!allowed(resolved, (flags & O_DIRECTORY) != 0)) {
		errno = EACCES;
		return -1;
	}
	if ((fd = __real_open(path, flags)) < 0)
		return -1;
	/* what is allowed is a regular file or a directory, never a FIFO */
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
		close(fd);
		errno = EACCES;
		return -1;
	}
	return fd;
}

static void
put(const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	if (!(f = fopen(path, "w")) || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static const char *const made_files[] = {
	"conf.d/sub/c.ini", "conf.d/a.ini", "conf.d/b.conf", "conf.d/.hidden.ini",
	"tend.ini",
};
static const char *const made_dirs[] = { "conf.d/sub", "conf.d", "logs" };

static void
remove_root(void)
{
	char path[PATH_MAX + 64];
	size_t i;

	for (i = 0; i < sizeof(made_files) / sizeof(made_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, made_files[i]);
		unlink(path);
	}
	for (i = 0; i < sizeof(made_dirs) / sizeof(made_dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, made_dirs[i]);
		rmdir(path);
	}
	rmdir(root);
}

static bool
sink(const char *line, size_t len)
{
	(void)line;
	(void)len;
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], path[PATH_MAX + 64];
	char **e;

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/tend-fuzz-conf.XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir) || !realpath(dir, root)) {
		perror("fuzz_conf: mkdtemp");
		exit(1);
	}
	atexit(remove_root);
	snprintf(path, sizeof(path), "%s/conf.d", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/conf.d/sub", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/logs", root);
	mkdir(path, 0755);
	put("conf.d/a.ini", "[program:included]\ncommand=/bin/sleep 60\n"
	    "priority=5\n[group:inc]\nprograms=included\n");
	put("conf.d/b.conf", "[program:other]\ncommand = /bin/cat\n"
	    "stdout_logfile = %(here)s/../logs/other.log\n"
	    "[include]\nfiles = sub/*.ini\n");
	put("conf.d/sub/c.ini", "[program:deep]\ncommand=/bin/true\n");
	put("conf.d/.hidden.ini", "[program:hidden]\ncommand=/bin/true\n");
	snprintf(file, sizeof(file), "%s/tend.ini", root);
	/* only the input's overrides: none of the machine's */
	for (e = environ; *e;) {
		if (!strncmp(*e, "TEND_", 5)) {
			char name[256];

			snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="),
			    *e);
			unsetenv(name);
			e = environ;
			continue;
		}
		e++;
	}
	log_set_writer(sink);
	log_set_level(LOG_DEBUG);
	/* --check's table goes to stdout: away from libFuzzer's stderr */
	if (!freopen("/dev/null", "w", stdout))
		exit(1);
	return 0;
}

/* ---- one run ------------------------------------------------------------- */

static const char *const canned[] = {
	"TEND_SHUTDOWN_TIMEOUT=2.5",
	"TEND_LOG_PREFIX=true",
	"TEND_LOG_FORMAT=json",
	"TEND_PROGRAM_WEB_COMMAND=/bin/sleep 1",
	"TEND_PROGRAM_WEB_NUMPROCS=2",
	"TEND_PROGRAM_WEB_PROCESS_NAME=%(program_name)s_%(process_num)02d",
	"TEND_PROGRAM_WEB_ENVIRONMENT=A=\"1\",B=2",
	"TEND_PROGRAM_NEW_ONE_COMMAND=/bin/true",
	"TEND_PROGRAM_X_BOGUSKEY=1",
	"TEND_NOPE=1",
	"TEND_CONTROL_SOCKET=none",
	"TEND_HTTP_PORT=127.0.0.1:9001",
	"TEND_PROGRAM_WORKER_DEPENDS_ON=web",
	"TEND_PROGRAM_WORKER_READY=tcp:127.0.0.1:8080",
	"TEND_MAIN_WAITS=true",
	"TEND_CONFIG=",
};

#define MAX_VARS 9

struct vars {
	char names[MAX_VARS][128];
	int n;
	bool config_set;		/* TEND_CONFIG: the search, not -c */
};

static void
set_var(struct vars *v, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	char val[4096];

	if (v->n == MAX_VARS || nlen < 6 || nlen >= sizeof(v->names[0]) ||
	    strncmp(name, "TEND_", 5) || memchr(name, '=', nlen) ||
	    memchr(name, '\0', nlen) || vlen >= sizeof(val))
		return;
	memcpy(v->names[v->n], name, nlen);
	v->names[v->n][nlen] = '\0';
	memcpy(val, value, vlen);
	val[vlen] = '\0';
	if (setenv(v->names[v->n], val, 1) == 0) {
		v->config_set |= !strcmp(v->names[v->n], "TEND_CONFIG");
		v->n++;
	}
}

static void
set_vars(struct vars *v, const uint8_t *data, size_t size, uint32_t hash)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *eq;

		if (eol - p > 2 && p[0] == ';' && p[1] == '@' &&
		    (eq = memchr(p, '=', (size_t)(eol - p))) != NULL)
			set_var(v, p + 2, (size_t)(eq - p - 2), eq + 1,
			    (size_t)(eol - eq - 1));
		p = eol + 1;
	}
	if ((hash & 3) == 0) {
		const char *c = canned[(hash >> 2) % (sizeof(canned) /
		    sizeof(canned[0]))];
		const char *eq = strchr(c, '=');

		set_var(v, c, (size_t)(eq - c), eq + 1, strlen(eq + 1));
	}
}

static void
check_program(const struct program *p)
{
	char **s;

	if (!p->name || !p->name[0] || !p->group || !p->program || !p->file)
		broken("a program without its names");
	if (!p->argv || !p->argv[0] || !p->argv[0][0] || !p->envp)
		broken("a program without argv or envp");
	for (s = p->argv; *s; s++)
		(void)strlen(*s);
	for (s = p->envp; *s; s++)
		if (!strchr(*s, '='))
			broken("an environment entry without '='");
	if (p->numprocs < 1 || p->ndepends < 0 || p->nenv < 0)
		broken("odd counts");
	if (p->stopsignal < 1 || p->stopsignal > 64)
		broken("a stop signal out of range");
	if (conf_compare(p, p) != PROGRAM_SAME)
		broken("a program differs from itself");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static size_t baseline = (size_t)-1;
	static char *command[] = { "/bin/sleep", "1", NULL };
	struct conf_request req = { .file = file, .grace_ms = -1,
	    .stop_fd = -1, .notify_socket = "@fuzz" };
	struct vars v = { .n = 0 };
	struct config *c;
	uint32_t hash = 2166136261u;
	size_t i;
	int errors, fd, k;

	if (size > 256 * 1024)
		return 0;
	for (i = 0; i < size; i++)
		hash = (hash ^ data[i]) * 16777619u;
	if ((fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
	    (size && write(fd, data, size) != (ssize_t)size) || close(fd) < 0) {
		perror(file);
		abort();
	}
	set_vars(&v, data, size, hash);
	if (v.config_set)
		req.file = NULL;
	if (hash & 0x100)
		req.command = command;
	req.forward_group = (hash & 0x200) != 0;
	if (hash & 0x400)
		req.grace_ms = 1500;
	req.settings_only = (hash & 0x7800) == 0x7800;
	if (baseline == (size_t)-1)
		baseline = arena_mapped();

	sandboxed = true;
	c = conf_load(&req, &errors);
	sandboxed = false;
	if (c) {
		if (errors < 0 || (errors && c->nprograms))
			broken("programs exist after errors");
		if (!errors && !req.settings_only && !c->nprograms)
			broken("no error and nothing to run");
		if (c->report_len >= sizeof(c->report) ||
		    strlen(c->report) != c->report_len)
			broken("the error report overran");
		for (i = 0; i < c->nprograms; i++)
			check_program(&c->programs[i]);
		if (!errors && !req.settings_only)
			conf_print(c);
		conf_release(c);
	}
	if (arena_mapped() != baseline)
		broken("the load's arena memory was not all returned");
	for (k = 0; k < v.n; k++)
		unsetenv(v.names[k]);
	return 0;
}
