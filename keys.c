/*
 * keys.c: the schema of the configuration. One table of [program:x]
 * keys, {name, default, limits, offset, type, flags}, drives parsing,
 * defaults, validation, the TEND_PROGRAM_<NAME>_<KEY> overrides,
 * --check, and which changes restart a process at a reload (SHAPES).
 * One table of settings does the same for [supervisord], [tend] and
 * the control sections ([unix_http_server], [inet_http_server],
 * [supervisorctl]). conf.c reads the files and calls in here.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fmt.h"
#include "keys.h"
#include "log.h"
#include "sig.h"

#define AT(field) offsetof(struct program, field)
#define OUT(field) (offsetof(struct program, out) + \
    offsetof(struct log_target, field))
#define ERR(field) (offsetof(struct program, err) + \
    offsetof(struct log_target, field))

/*
 * environment comes first: later keys may use the program's own
 * variables as %(ENV_X)s, as in supervisord.
 */
const struct key_def program_keys[] = {
	{ "environment", NULL, 0, 0, AT(environment), K_ENVIRONMENT,
	    PER_PROCESS | SECRET | SHAPES },
	{ "command", NULL, 0, 0, AT(command), K_COMMAND, PER_PROCESS | SHAPES },
	{ "process_name", "%(program_name)s", 0, 0, AT(name), K_NAME,
	    PER_PROCESS },
	{ "numprocs", "1", 0, 1000, AT(numprocs), K_INT, 0 },
	{ "numprocs_start", "0", 0, 1000000, AT(numprocs_start), K_INT, 0 },
	{ "priority", "999", INT_MIN, INT_MAX, AT(priority), K_INT, 0 },
	{ "autostart", "true", 0, 0, AT(autostart), K_BOOL, 0 },
	{ "startsecs", "1", 0, 86400 * 365, AT(startsecs), K_INT, 0 },
	{ "startretries", "3", 0, 1000000, AT(startretries), K_INT, 0 },
	{ "autorestart", "unexpected", 0, 0, AT(autorestart), K_AUTORESTART,
	    0 },
	{ "exitcodes", "0", 0, 0, AT(exitcodes), K_EXITCODES, 0 },
	{ "stopsignal", "TERM", 0, 0, AT(stopsignal), K_SIGNAL, 0 },
	{ "stopwaitsecs", "10", 0, 86400 * 365, AT(stopwaitsecs), K_INT, 0 },
	{ "stopasgroup", "false", 0, 0, AT(stopasgroup), K_BOOL, 0 },
	{ "killasgroup", NULL, 0, 0, AT(killasgroup), K_BOOL, 0 },
	{ "user", NULL, 0, 0, AT(user_spec), K_USER, SHAPES },
	{ "directory", NULL, 0, 0, AT(directory), K_STRING,
	    PER_PROCESS | SHAPES },
	{ "umask", NULL, 0, 0, AT(umask_text), K_OCTAL, SHAPES },
	{ "redirect_stderr", "false", 0, 0, AT(redirect_stderr), K_BOOL,
	    SHAPES },
	{ "stdout_logfile", "AUTO", 0, 0, OUT(path), K_LOGFILE,
	    PER_PROCESS | SHAPES },
	{ "stdout_logfile_maxbytes", "50MB", 0, 0, OUT(maxbytes), K_BYTES,
	    PER_PROCESS },
	{ "stdout_logfile_backups", "10", 0, 1000, OUT(backups), K_INT,
	    PER_PROCESS },
	{ "stderr_logfile", "AUTO", 0, 0, ERR(path), K_LOGFILE,
	    PER_PROCESS | SHAPES },
	{ "stderr_logfile_maxbytes", "50MB", 0, 0, ERR(maxbytes), K_BYTES,
	    PER_PROCESS },
	{ "stderr_logfile_backups", "10", 0, 1000, ERR(backups), K_INT,
	    PER_PROCESS },
	/* no default here: the [tend] value is the default */
	{ "log_prefix", NULL, 0, 0, AT(format.prefix), K_BOOL, SHAPES },
	{ "log_timestamp", NULL, 0, 0, AT(format.timestamp), K_BOOL, SHAPES },
	{ "log_format", NULL, 0, 0, AT(format.json), K_LOGFORMAT, SHAPES },
	/* whether tend keeps its stderr for the termination message */
	{ "critical", "false", 0, 0, AT(critical), K_BOOL, SHAPES },
	/* extensions: readiness and dependencies */
	{ "ready", "running", 0, 0, AT(ready_spec), K_READY,
	    PER_PROCESS | SHAPES },
	{ "ready_timeout", "60", 0, 0, AT(ready_timeout_ms), K_MS, 0 },
	{ "ready_interval", "1", 50, 0, AT(ready_interval_ms), K_MS, 0 },
	{ "depends_on", NULL, 0, 0, AT(depends_spec), K_NAMES, 0 },
	/* accepted for compatibility, with a warning */
	{ "stdout_capture_maxbytes", NULL, 0, 0, 0, K_UNSUPPORTED, 0 },
	{ "stdout_events_enabled", NULL, 0, 0, 0, K_UNSUPPORTED, 0 },
	{ "stdout_syslog", NULL, 0, 0, 0, K_UNSUPPORTED, 0 },
	{ "stderr_capture_maxbytes", NULL, 0, 0, 0, K_UNSUPPORTED, 0 },
	{ "stderr_events_enabled", NULL, 0, 0, 0, K_UNSUPPORTED, 0 },
	{ "stderr_syslog", NULL, 0, 0, 0, K_UNSUPPORTED, 0 },
	{ "serverurl", NULL, 0, 0, 0, K_UNSUPPORTED, 0 },
};

const size_t nprogram_keys = sizeof(program_keys) / sizeof(program_keys[0]);

const struct key_def *
key_find(const char *name)
{
	size_t i;

	for (i = 0; i < nprogram_keys; i++)
		if (strcmp(program_keys[i].name, name) == 0)
			return &program_keys[i];
	return NULL;
}

static char
env_char(char c)
{
	if (c >= 'a' && c <= 'z')
		return (char)(c - 'a' + 'A');
	if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return c;
	return '_';
}

char *
key_env_name(struct arena *a, const char *s)
{
	char *out = arena_strdup(a, s), *p;

	for (p = out; p && *p; p++)
		*p = env_char(*p);
	return out;
}

/* Whether name, in its environment form, is env[0, len). */
static bool
env_name_is(const char *name, const char *env, size_t len)
{
	size_t i;

	for (i = 0; i < len && name[i]; i++)
		if (env_char(name[i]) != env[i])
			return false;
	return i == len && !name[i];
}

size_t
key_env_prefix(const char *name, const char *env)
{
	size_t i;

	for (i = 0; name[i]; i++)
		if (env_char(name[i]) != env[i])
			return 0;
	return env[i] == '_' ? i + 1 : 0;
}

const struct key_def *
key_by_env_name(const char *env, size_t len)
{
	size_t i;

	for (i = 0; i < nprogram_keys; i++)
		if (env_name_is(program_keys[i].name, env, len))
			return &program_keys[i];
	return NULL;
}

bool
key_valid_name(const char *s)
{
	return *s && !strpbrk(s, " \t\n:/");
}

/* Whether the directory of path exists; *dir names it for a message. */
static bool
dir_exists(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (!slash)
		fmt_snprintf(dir, len, ".");
	else if (slash == path)
		fmt_snprintf(dir, len, "/");
	else
		fmt_snprintf(dir, len, "%.*s", (int)(slash - path), path);
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
parse_logfile(struct program *p, struct log_target *t, const char *v,
    const char **err, const char **warn)
{
	static const struct { const char *path; int fd; } own[] = {
		{ "/dev/stdout", 1 }, { "/proc/self/fd/1", 1 },
		{ "/dev/stderr", 2 }, { "/proc/self/fd/2", 2 },
	};
	static char msg[PATH_MAX + 96];
	char dir[PATH_MAX];
	size_t i;

	t->path = v;
	t->kind = LOG_INHERIT;
	t->fd = t == &p->err ? 2 : 1;	/* AUTO: the same stream */
	if (strcasecmp(v, "AUTO") == 0 || *v == '\0')
		return 0;
	if (strcasecmp(v, "NONE") == 0 || strcasecmp(v, "OFF") == 0) {
		t->kind = LOG_DISCARD;
		return 0;
	}
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		if (strcmp(v, own[i].path) == 0) {
			t->fd = own[i].fd;
			return 0;
		}
	}
	if (strcasecmp(v, "syslog") == 0) {
		*warn = "syslog is not supported, output goes to tend's own "
		    "streams";
		return 0;
	}
	t->kind = LOG_FILE;
	if (dir_exists(v, dir, sizeof(dir)))
		return 0;
	fmt_snprintf(msg, sizeof(msg), "the directory %s does not exist "
	    "(expected a path in an existing directory, AUTO or NONE)", dir);
	*err = msg;
	return -1;
}

/*
 * ready=: running, notify, exited, tcp:HOST:PORT or command:COMMAND,
 * the command split as command= is.
 */
static int
parse_ready(struct arena *a, struct program *p, const char *v,
    const char **err)
{
	static const struct { const char *name; enum ready_kind kind; }
	    kinds[] = { { "running", READY_RUNNING }, { "notify", READY_NOTIFY },
	    { "exited", READY_EXITED } };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(v, kinds[i].name) == 0) {
			p->ready = kinds[i].kind;
			return 0;
		}
	}
	if (strncasecmp(v, "tcp:", 4) == 0) {
		p->ready = READY_TCP;
		return val_inet(v + 4, false, &p->ready_addr, err);
	}
	if (strncasecmp(v, "command:", 8) == 0) {
		p->ready = READY_COMMAND;
		return val_split_command(a, v + 8, &p->ready_argv, err);
	}
	*err = "expected running, notify, exited, tcp:HOST:PORT or "
	    "command:COMMAND";
	return -1;
}

int
key_parse(struct arena *a, struct program *p, const struct key_def *k,
    const char *v, const char **err, const char **warn)
{
	char *field = (char *)p + k->offset;
	long n;
	int sig, rc = 0;

	*err = NULL;
	switch (k->type) {
	case K_STRING:
		*(const char **)field = v;
		break;
	case K_NAME:
		*(const char **)field = v;
		if (!key_valid_name(v)) {
			*err = "expected a name without blanks, ':' or '/'";
			rc = -1;
		}
		break;
	case K_COMMAND:
		*(const char **)field = v;
		rc = val_split_command(a, v, &p->argv, err);
		break;
	case K_BOOL:
		rc = val_bool(v, (bool *)field, err);
		break;
	case K_INT:
		if ((rc = val_int(v, k->min, k->max, &n, err)) == 0)
			*(long *)field = n;
		break;
	case K_MS:
		if ((rc = val_seconds_ms(v, MAX_GRACE_MS, (long *)field,
		    err)) == 0 && *(long *)field < k->min) {
			*err = "expected at least 0.05 seconds";
			rc = -1;
		}
		break;
	case K_BYTES:
		rc = val_bytes(v, (long long *)field, err);
		break;
	case K_SIGNAL:
		if ((rc = val_signal(v, &sig, err)) == 0)
			*(int *)field = sig;
		break;
	case K_EXITCODES:
		rc = val_exitcodes(v, (unsigned char *)field, err);
		break;
	case K_OCTAL:
		*(const char **)field = v;
		rc = val_octal(v, &p->umask, err);
		break;
	case K_AUTORESTART:
		rc = val_autorestart(v, (enum autorestart *)field, err);
		break;
	case K_USER:
		*(const char **)field = v;
		rc = user_lookup(a, v, &p->user, err);
		break;
	case K_ENVIRONMENT:
		*(const char **)field = v;
		if ((p->nenv = val_environment(a, v, &p->env_pairs, err)) < 0) {
			p->nenv = 0;
			rc = -1;
		}
		break;
	case K_LOGFORMAT:
		rc = val_log_format(v, (bool *)field, err);
		break;
	case K_LOGFILE:
		rc = parse_logfile(p, (struct log_target *)(field -
		    offsetof(struct log_target, path)), v, err, warn);
		break;
	case K_READY:
		*(const char **)field = v;
		rc = parse_ready(a, p, v, err);
		break;
	case K_NAMES:
		*(const char **)field = v;
		if ((p->ndepends = val_names(a, v, &p->depends, err)) < 0) {
			p->ndepends = 0;
			rc = -1;
		}
		break;
	case K_UNSUPPORTED:
		*warn = "is not supported by tend, ignored";
		break;
	}
	/* *err may hold a message even when the value was good */
	return rc < 0 ? -1 : 0;
}

/* ---- [supervisord], [tend] and the control sections ------------------------ */

static int
parse_loglevel(const char *v)
{
	static const struct { const char *name; int level; } levels[] = {
		{ "critical", LOG_ERROR }, { "error", LOG_ERROR },
		{ "warn", LOG_WARN }, { "warning", LOG_WARN },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
		{ "trace", LOG_DEBUG }, { "blather", LOG_DEBUG },
	};
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(v, levels[i].name) == 0)
			return levels[i].level;
	return -1;
}

static int
set_shutdown_timeout(struct config *c, const char *v, const char **err)
{
	return val_seconds_ms(v, MAX_GRACE_MS, &c->shutdown_ms, err);
}

static int
set_loglevel(struct config *c, const char *v, const char **err)
{
	*err = "expected critical, error, warn, info or debug";
	return (c->loglevel = parse_loglevel(v)) < 0 ? -1 : 0;
}

/*
 * tend's own log: to stdout for /dev/stdout, unchanged (stderr) for
 * /dev/stderr or /dev/null, else also appended to the file.
 */
static int
set_logfile(struct config *c, const char *v, const char **err)
{
	static const char *const to_stdout[] = { "/dev/stdout",
	    "/proc/self/fd/1" };
	static const char *const as_is[] = { "/dev/stderr", "/proc/self/fd/2",
	    "/dev/null", "" };
	char dir[PATH_MAX];
	size_t i;

	c->logfile = NULL;
	c->log_to_stdout = false;
	for (i = 0; i < 2; i++) {
		if (strcmp(v, to_stdout[i]) == 0) {
			c->log_to_stdout = true;
			return 0;
		}
	}
	for (i = 0; i < 4; i++)
		if (strcmp(v, as_is[i]) == 0)
			return 0;
	if (!dir_exists(v, dir, sizeof(dir))) {
		*err = "expected a path in an existing directory";
		return -1;
	}
	c->logfile = v;
	return 0;
}

static int
set_logfile_maxbytes(struct config *c, const char *v, const char **err)
{
	return val_bytes(v, &c->logfile_maxbytes, err);
}

static int
set_logfile_backups(struct config *c, const char *v, const char **err)
{
	return val_int(v, 0, 1000, &c->logfile_backups, err);
}

static int
set_log_prefix(struct config *c, const char *v, const char **err)
{
	return val_bool(v, &c->format.prefix, err);
}

static int
set_log_timestamp(struct config *c, const char *v, const char **err)
{
	return val_bool(v, &c->format.timestamp, err);
}

static int
set_log_format(struct config *c, const char *v, const char **err)
{
	return val_log_format(v, &c->format.json, err);
}

static bool
is_none(const char *v)
{
	return !*v || !strcasecmp(v, "NONE") || !strcasecmp(v, "OFF");
}

static int
set_termination_log(struct config *c, const char *v, const char **err)
{
	*err = NULL;
	c->termination_log = is_none(v) ? NULL : v;
	return 0;
}

static int
set_global_environment(struct config *c, const char *v, const char **err)
{
	c->nglobal_env = val_environment(&c->arena, v, &c->global_env, err);
	if (c->nglobal_env >= 0)
		return 0;
	c->nglobal_env = 0;
	return -1;
}

static int
set_minfds(struct config *c, const char *v, const char **err)
{
	return val_int(v, 1, INT_MAX, &c->minfds, err);
}

static int
set_minprocs(struct config *c, const char *v, const char **err)
{
	return val_int(v, 1, INT_MAX, &c->minprocs, err);
}

static int
set_main_waits(struct config *c, const char *v, const char **err)
{
	return val_bool(v, &c->main_waits, err);
}

/* [tend] control_socket and [unix_http_server] file: a path, or none. */
static int
set_socket(struct config *c, const char *v, const char **err)
{
	char dir[PATH_MAX];

	if (is_none(v)) {
		c->socket_path = NULL;
		return 0;
	}
	if (v[0] != '/' || strlen(v) >= 108) {
		*err = "expected an absolute path of at most 107 bytes, or none";
		return -1;
	}
	/* a directory that is missing now is warned about at start-up */
	(void)dir_exists(v, dir, sizeof(dir));
	c->socket_path = v;
	return 0;
}

static int
set_socket_mode(struct config *c, const char *v, const char **err)
{
	mode_t mode;

	if (val_octal(v, &mode, err) < 0) {
		*err = "expected an octal mode (such as 0700)";
		return -1;
	}
	c->socket_mode = mode;
	return 0;
}

static int
set_socket_owner(struct config *c, const char *v, const char **err)
{
	c->socket_owner_spec = v;
	return user_lookup(&c->arena, v, &c->socket_owner, err);
}

static int
set_socket_username(struct config *c, const char *v, const char **err)
{
	*err = NULL;
	c->socket_username = *v ? v : NULL;
	return 0;
}

static int
set_socket_password(struct config *c, const char *v, const char **err)
{
	*err = NULL;
	c->socket_password = *v ? v : NULL;
	return 0;
}

static int
set_http_port(struct config *c, const char *v, const char **err)
{
	if (is_none(v)) {
		c->http_port = NULL;
		return 0;
	}
	c->http_port = v;
	return val_inet(v, true, &c->http_addr, err);
}

static int
set_http_username(struct config *c, const char *v, const char **err)
{
	*err = NULL;
	c->http_username = *v ? v : NULL;
	return 0;
}

static int
set_http_password(struct config *c, const char *v, const char **err)
{
	*err = NULL;
	c->http_password = *v ? v : NULL;
	return 0;
}

static int
set_ctl_username(struct config *c, const char *v, const char **err)
{
	*err = NULL;
	c->ctl_username = *v ? v : NULL;
	return 0;
}

static int
set_ctl_password(struct config *c, const char *v, const char **err)
{
	*err = NULL;
	c->ctl_password = *v ? v : NULL;
	return 0;
}

/* supervisorctl's serverurl: where tend ctl connects first. */
static int
set_serverurl(struct config *c, const char *v, const char **err)
{
	*err = NULL;
	c->ctl_serverurl = *v ? v : NULL;
	return 0;
}

/* Keys of supervisord's own that mean nothing in a container init. */
static int
set_nothing(struct config *c, const char *v, const char **err)
{
	(void)c;
	(void)v;
	*err = NULL;
	return 1;
}

/*
 * The settings, read section by section in this order, so that [tend]
 * comes last and its values win. The [tend] rows are also TEND_<KEY>
 * in the environment.
 */
struct setting {
	const char *section, *key;
	int (*set)(struct config *, const char *value, const char **err);
	bool secret;		/* never repeat the value in a message */
};

static const struct setting settings[] = {
	{ "supervisord", "loglevel", set_loglevel, false },
	{ "supervisord", "environment", set_global_environment, true },
	{ "supervisord", "minfds", set_minfds, false },
	{ "supervisord", "minprocs", set_minprocs, false },
	{ "supervisord", "nodaemon", set_nothing, false },
	{ "supervisord", "silent", set_nothing, false },
	{ "supervisord", "pidfile", set_nothing, false },
	{ "supervisord", "umask", set_nothing, false },
	{ "supervisord", "directory", set_nothing, false },
	{ "supervisord", "user", set_nothing, false },
	{ "supervisord", "identifier", set_nothing, false },
	{ "supervisord", "nocleanup", set_nothing, false },
	{ "supervisord", "strip_ansi", set_nothing, false },
	{ "supervisord", "logfile", set_logfile, false },
	{ "supervisord", "logfile_maxbytes", set_logfile_maxbytes, false },
	{ "supervisord", "logfile_backups", set_logfile_backups, false },
	{ "supervisord", "childlogdir", set_nothing, false },
	{ "unix_http_server", "file", set_socket, false },
	{ "unix_http_server", "chmod", set_socket_mode, false },
	{ "unix_http_server", "chown", set_socket_owner, false },
	{ "unix_http_server", "username", set_socket_username, false },
	{ "unix_http_server", "password", set_socket_password, true },
	{ "inet_http_server", "port", set_http_port, false },
	{ "inet_http_server", "username", set_http_username, false },
	{ "inet_http_server", "password", set_http_password, true },
	{ "supervisorctl", "serverurl", set_serverurl, false },
	{ "supervisorctl", "username", set_ctl_username, false },
	{ "supervisorctl", "password", set_ctl_password, true },
	{ "supervisorctl", "prompt", set_nothing, false },
	{ "supervisorctl", "history_file", set_nothing, false },
	{ "tend", "shutdown_timeout", set_shutdown_timeout, false },
	{ "tend", "loglevel", set_loglevel, false },
	{ "tend", "logfile", set_logfile, false },
	{ "tend", "logfile_maxbytes", set_logfile_maxbytes, false },
	{ "tend", "logfile_backups", set_logfile_backups, false },
	{ "tend", "log_prefix", set_log_prefix, false },
	{ "tend", "log_timestamp", set_log_timestamp, false },
	{ "tend", "log_format", set_log_format, false },
	{ "tend", "termination_log", set_termination_log, false },
	{ "tend", "main_waits", set_main_waits, false },
	{ "tend", "control_socket", set_socket, false },
	{ "tend", "http_port", set_http_port, false },
	{ "tend", "http_username", set_http_username, false },
	{ "tend", "http_password", set_http_password, true },
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

const struct setting *
setting_find(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++)
		if (!strcmp(settings[i].section, section) &&
		    !strcmp(settings[i].key, key))
			return &settings[i];
	return NULL;
}

bool
setting_section(const char *section)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++)
		if (!strcmp(settings[i].section, section))
			return true;
	return false;
}

const char *
setting_by_env_name(const char *env)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++)
		if (!strcmp(settings[i].section, "tend") &&
		    env_name_is(settings[i].key, env, strlen(env)))
			return settings[i].key;
	return NULL;
}

int
setting_apply(struct config *c, const struct setting *s, const char *v,
    const char **err)
{
	return s->set(c, v, err);
}

bool
setting_secret(const struct setting *s)
{
	return s->secret;
}

/* ---- a reload: what changed ----------------------------------------------- */

static bool
same_string(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool
same_strings(char *const *a, char *const *b)
{
	for (; a && b && *a && *b; a++, b++)
		if (strcmp(*a, *b) != 0)
			return false;
	return (!a || !*a) && (!b || !*b);
}

/* Whether field k holds the same value in a and b. */
static bool
same_value(const struct program *a, const struct program *b,
    const struct key_def *k)
{
	const char *fa = (const char *)a + k->offset;
	const char *fb = (const char *)b + k->offset;
	int i;

	switch (k->type) {
	case K_COMMAND:
		return same_strings(a->argv, b->argv);
	case K_ENVIRONMENT:	/* [supervisord]'s environment= too */
		return same_strings(a->envp, b->envp);
	case K_NAMES:
		if (a->ndepends != b->ndepends)
			return false;
		for (i = 0; i < a->ndepends; i++)
			if (strcmp(a->depends[i], b->depends[i]) != 0)
				return false;
		return true;
	case K_STRING: case K_NAME: case K_USER: case K_OCTAL: case K_LOGFILE:
	case K_READY:
		return same_string(*(const char *const *)fa,
		    *(const char *const *)fb);
	case K_BOOL: case K_LOGFORMAT:
		return *(const bool *)fa == *(const bool *)fb;
	case K_INT: case K_MS:
		return *(const long *)fa == *(const long *)fb;
	case K_BYTES:
		return *(const long long *)fa == *(const long long *)fb;
	case K_SIGNAL:
		return *(const int *)fa == *(const int *)fb;
	case K_EXITCODES:
		return memcmp(fa, fb, sizeof(a->exitcodes)) == 0;
	case K_AUTORESTART:
		return *(const enum autorestart *)fa ==
		    *(const enum autorestart *)fb;
	case K_UNSUPPORTED:
		break;
	}
	return true;
}

enum program_change
conf_compare(const struct program *a, const struct program *b)
{
	enum program_change change = PROGRAM_SAME;
	size_t i;

	if (!same_string(a->group, b->group) || a->group_priority !=
	    b->group_priority || a->forward_group != b->forward_group)
		change = PROGRAM_LIVE;
	for (i = 0; i < nprogram_keys; i++) {
		const struct key_def *k = &program_keys[i];

		if (same_value(a, b, k))
			continue;
		if (k->flags & SHAPES)
			return PROGRAM_SHAPED;
		change = PROGRAM_LIVE;
	}
	return change;
}

/* ---- --check -------------------------------------------------------------- */

static void print_out(const char *fmt, ...) PRINTF(1, 2);

static void
print_out(const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	(void)write_all(STDOUT_FILENO, line, n < (int)sizeof(line) ?
	    (size_t)n : sizeof(line) - 1);
}

static void
print_line(const char *key, const char *value)
{
	print_out("  %-24s %s\n", key, value);
}

static void
print_exitcodes(const unsigned char *set, char *buf, size_t len)
{
	size_t used = 0;
	int code;

	buf[0] = '\0';
	for (code = 0; code < 256 && used < len; code++)
		if (set[code / 8] & (1u << (code % 8)))
			used += (size_t)fmt_snprintf(buf + used, len - used, "%s%d",
			    used ? "," : "", code);
}

static void
print_value(const struct program *p, const struct key_def *k)
{
	static const char *const restart[] = { "false", "unexpected", "true" };
	const char *field = (const char *)p + k->offset;
	char buf[1200];
	long ms;
	int i;

	switch (k->type) {
	case K_STRING: case K_NAME: case K_COMMAND: case K_USER: case K_OCTAL:
	case K_LOGFILE: case K_READY: case K_NAMES:
		if (*(const char *const *)field)
			print_line(k->name, *(const char *const *)field);
		return;
	case K_BOOL:
		print_line(k->name, *(const bool *)field ? "true" : "false");
		return;
	case K_LOGFORMAT:
		print_line(k->name, *(const bool *)field ? "json" : "text");
		return;
	case K_INT:
		fmt_snprintf(buf, sizeof(buf), "%ld", *(const long *)field);
		break;
	case K_MS:
		ms = *(const long *)field;
		fmt_snprintf(buf, sizeof(buf), "%ld.%03ld", ms / 1000, ms % 1000);
		break;
	case K_BYTES:
		fmt_snprintf(buf, sizeof(buf), "%lld", *(const long long *)field);
		break;
	case K_SIGNAL:
		sig_name(*(const int *)field, buf);
		break;
	case K_EXITCODES:
		print_exitcodes((const unsigned char *)field, buf, sizeof(buf));
		break;
	case K_AUTORESTART:
		print_line(k->name, restart[*(const enum autorestart *)field]);
		return;
	case K_ENVIRONMENT:
		buf[0] = '\0';
		for (i = 0; i < p->nenv; i++)
			fmt_snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
			    "%s%s=***", i ? "," : "", p->env_pairs[i].key);
		if (p->nenv)
			break;
		return;
	case K_UNSUPPORTED:
		return;
	}
	print_line(k->name, buf);
}

void
conf_print(const struct config *c)
{
	size_t i, k;

	print_out("config: %s\n", c->file ? c->file : "(none)");
	print_out("shutdown_timeout: %ld.%03ld s\n", c->shutdown_ms / 1000,
	    c->shutdown_ms % 1000);
	print_out("control_socket: %s\n", c->socket_path ? c->socket_path :
	    "none");
	if (c->http_port)
		print_out("http_port: %s\n", c->http_port);
	for (i = 0; i < c->nprograms; i++) {
		const struct program *p = &c->programs[i];

		print_out("\n[%s] group %s%s\n", p->name, p->group,
		    p->is_main ? " (the command after --)" : "");
		for (k = 0; k < nprogram_keys; k++)
			print_value(p, &program_keys[k]);
	}
}
