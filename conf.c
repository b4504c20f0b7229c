/*
 * conf.c: loading the runtime configuration. Reads supervisord's INI
 * files (ini.h) into sections, applies [include], [DEFAULT] and the
 * TEND_* environment overrides, then builds the programs, key by key,
 * from the schema of keys.c, and checks what spans programs: groups,
 * unique names, dependencies. Each load is a new arena, so that a
 * reload builds beside the running configuration.
 *
 * Every problem is reported as "tend: FILE:LINE: message" (or
 * "tend: $VARIABLE: message" for an override) and counted; the caller
 * refuses to start if any was found, so bad input never starts anything.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define INI_IMPLEMENTATION
#include "ini.h"

#include "conf.h"
#include "config.h"
#include "fmt.h"
#include "keys.h"
#include "proc.h"
#include "log.h"
#include "sig.h"

extern char **environ;

/* One key = value line as read, with where it came from. */
struct raw_entry {
	const char *key, *value;
	const char *file;		/* or "$VARIABLE" for an override */
	int line;			/* 0 for an override */
	struct raw_entry *next;
};

struct raw_section {
	const char *name;
	const char *file;
	int line;
	struct raw_entry *entries, **tail;
	struct raw_section *next;
};

struct loader {
	struct config *config;
	struct arena *arena;
	struct raw_section *sections, **tail;
	struct strmap by_name;		/* sections by name */
	struct strmap group_of;		/* program name -> its [group:x] */
	struct raw_section *dflt;	/* [DEFAULT], or NULL */
	struct strmap env_slots;	/* build_envp's, reused */
	long expanded;			/* bytes of expanded values so far */
	const char *here_file, *here;	/* here_of's cache */
	struct raw_section *current;
	int stop_fd;			/* a read waits on it: see conf_request */
	const char *file;		/* the file being parsed */
	int errors;
	const char *notify_socket;	/* NOTIFY_SOCKET's value */
	const struct program *program;	/* while one is built: its env */
	char host[65];
};

/* ---- reporting -------------------------------------------------------- */

static void conf_error(struct loader *l, const char *file, int line,
    const char *fmt, ...) PRINTF(4, 5);
static void conf_warn(struct loader *l, const char *file, int line,
    const char *fmt, ...) PRINTF(4, 5);

/* An error is also kept, one line each, for a client that asked a reload. */
static void
keep_error(struct config *c, const char *file, int line, const char *msg)
{
	size_t room = sizeof(c->report) - c->report_len;
	int n;

	if (line > 0)
		n = fmt_snprintf(c->report + c->report_len, room, "%s:%d: %s\n",
		    file, line, msg);
	else
		n = fmt_snprintf(c->report + c->report_len, room, "%s%s%s\n",
		    file ? file : "", file ? ": " : "", msg);
	if (n > 0 && (size_t)n < room)
		c->report_len += (size_t)n;
	else
		c->report[c->report_len] = '\0';	/* the lines that fit */
}

static void vreport(struct loader *l, int warn, const char *file, int line,
    const char *fmt, va_list ap) PRINTF(5, 0);

static void
vreport(struct loader *l, int warn, const char *file, int line,
    const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX - 64];

	fmt_vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!warn)
		keep_error(l->config, file, line, msg);
	if (warn && line > 0)
		log_warnx("%s:%d: %s", file, line, msg);
	else if (warn)
		log_warnx("%s: %s", file, msg);
	else if (line > 0)
		log_notice("%s:%d: %s", file, line, msg);
	else if (file)
		log_notice("%s: %s", file, msg);
	else
		log_notice("%s", msg);
}

static void
conf_error(struct loader *l, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(l, 0, file, line, fmt, ap);
	va_end(ap);
	l->errors++;
}

static void
conf_warn(struct loader *l, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(l, 1, file, line, fmt, ap);
	va_end(ap);
}

static void
out_of_memory(struct loader *l)
{
	conf_error(l, l->file, 0, "out of memory");
}

/* ---- sections as read ---------------------------------------------------- */

static struct raw_section *
find_section(struct loader *l, const char *name)
{
	return strmap_get(&l->by_name, name, strlen(name));
}

/* Repeated sections merge, as configparser does with strict=False. */
static struct raw_section *
add_section(struct loader *l, const char *name, const char *file, int line)
{
	struct raw_section *s = find_section(l, name);

	if (s)
		return s;
	if (!(s = arena_alloc(l->arena, sizeof(*s))) ||
	    !(s->name = arena_strdup(l->arena, name)))
		return NULL;
	s->file = file;
	s->line = line;
	s->tail = &s->entries;
	if (strmap_put(&l->by_name, s->name, strlen(s->name), s) < 0)
		return NULL;
	*l->tail = s;
	l->tail = &s->next;
	if (strcmp(name, "DEFAULT") == 0)
		l->dflt = s;
	return s;
}

static int
add_entry(struct loader *l, struct raw_section *s, const char *key,
    const char *value, const char *file, int line)
{
	struct raw_entry *e = arena_alloc(l->arena, sizeof(*e));

	if (!e || !(e->key = arena_strdup(l->arena, key)) ||
	    !(e->value = arena_strdup(l->arena, value)))
		return -1;
	e->file = file;
	e->line = line;
	*s->tail = e;
	s->tail = &e->next;
	return 0;
}

/* The last value of key in s, else in [DEFAULT]; NULL when absent. */
static const struct raw_entry *
raw_get(struct loader *l, const struct raw_section *s, const char *key)
{
	const struct raw_section *dflt = l->dflt;
	const struct raw_entry *e, *found = NULL;

	for (e = s ? s->entries : NULL; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			found = e;
	if (found || !dflt || dflt == s)
		return found;
	for (e = dflt->entries; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			found = e;
	return found;
}

/*
 * "[program: x ]" names program x: supervisord strips the name after the
 * colon, so tend keeps sections under the stripped name.
 */
static const char *
section_name(struct arena *a, const char *header)
{
	const char *colon = strchr(header, ':'), *start, *end;
	size_t prefix;
	char *name;

	if (!colon)
		return header;
	prefix = (size_t)(colon - header) + 1;
	for (start = colon + 1; *start == ' ' || *start == '\t'; start++)
		;
	for (end = start + strlen(start); end > start &&
	    (end[-1] == ' ' || end[-1] == '\t'); end--)
		;
	if (!(name = arena_alloc(a, prefix + (size_t)(end - start) + 1)))
		return NULL;
	memcpy(name, header, prefix);
	memcpy(name + prefix, start, (size_t)(end - start));
	return name;
}

static int
on_ini(void *user, const char *section, const char *key, const char *value,
    int line)
{
	struct loader *l = user;

	if (!section) {
		const char *name = section_name(l->arena, key);

		l->current = name ? add_section(l, name, l->file, line) : NULL;
		return l->current ? 0 : -2;
	}
	return add_entry(l, l->current, key, value, l->file, line) < 0 ? -2 : 0;
}

static const char *
dir_of(struct arena *a, const char *path)
{
	const char *slash = strrchr(path, '/');
	char cwd[PATH_MAX];

	if (slash == path)
		return "/";
	if (slash)
		return arena_strndup(a, path, (size_t)(slash - path));
	return getcwd(cwd, sizeof(cwd)) ? arena_strdup(a, cwd) : ".";
}

/* An absolute path, so that %(here)s and messages do not depend on cwd. */
static const char *
absolute(struct arena *a, const char *path)
{
	char cwd[PATH_MAX], *p;
	size_t n;

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return arena_strdup(a, path);
	n = strlen(cwd) + strlen(path) + 2;
	if ((p = arena_alloc(a, n)) != NULL)
		fmt_snprintf(p, n, "%s/%s", cwd, path);
	return p;
}

static int
read_ini_file(struct loader *l, const char *path)
{
	struct ini_error err;
	size_t len;
	char *text;
	int rc;

	if (!(text = arena_read_file(l->arena, path, &len, l->stop_fd))) {
		if (errno == EINTR) {
			l->config->interrupted = true;
			l->errors++;
			return -1;
		}
		conf_error(l, path, 0, "cannot read: %s", strerror(errno));
		return -1;
	}
	l->file = path;
	l->current = NULL;
	rc = ini_parse(text, len, on_ini, l, &err);
	if (rc == -1)
		conf_error(l, path, err.line, "%s", err.message);
	else if (rc == -2)
		out_of_memory(l);
	return rc ? -1 : 0;
}

/* ---- [include] files= globs ------------------------------------------- */

struct path_list {
	const char **paths;
	size_t n, cap;
};

static int
compare_paths(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
path_add(struct arena *a, struct path_list *list, const char *path)
{
	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 16;
		const char **bigger = arena_alloc(a, cap * sizeof(*bigger));

		if (!bigger)
			return -1;
		if (list->n)
			memcpy(bigger, list->paths, list->n * sizeof(*bigger));
		list->paths = bigger;
		list->cap = cap;
	}
	list->paths[list->n++] = path;
	return 0;
}

/*
 * One [...] of a pattern at *pp against c: 1 match, 0 no match, -1 when
 * there is no closing ']' (the '[' is then literal). *pp ends on ']'.
 */
static int
match_bracket(const char **pp, char c)
{
	const char *p = *pp + 1, *first;
	bool negate = *p == '!' || *p == '^', hit = false;

	if (negate)
		p++;
	for (first = p; *p && (*p != ']' || p == first); p++) {
		if (p[1] == '-' && p[2] && p[2] != ']') {
			hit |= c >= p[0] && c <= p[2];
			p += 2;
		} else {
			hit |= c == *p;
		}
	}
	if (!*p)
		return -1;
	*pp = p;
	return hit != negate;
}

/*
 * Shell pattern matching: '*', '?' and [...] with ranges and negation.
 * The classic greedy algorithm: on a mismatch only the latest '*'
 * takes one more character, so the time is linear in the name times
 * the pattern, never exponential in the number of stars.
 */
static bool
match_here(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		const char *q = p;
		int m = 0;

		if (*p == '*') {
			star = ++p;
			resume = s;
			continue;
		}
		if (*p == '[' && (m = match_bracket(&q, *s)) >= 0) {
			if (m) {
				p = q + 1;
				s++;
				continue;
			}
		} else if (*p && (*p == '?' || *p == *s)) {
			p++;
			s++;
			continue;
		}
		if (!star)
			return false;
		p = star;
		s = ++resume;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* As glob(3): a leading '.' of a name must be matched literally. */
static bool
glob_match(const char *pattern, const char *name)
{
	if (*name == '.' && *pattern != '.')
		return false;
	return match_here(pattern, name);
}

/*
 * Matches pattern (absolute) one component at a time, listing
 * directories with getdents so that no libc allocation is needed.
 */
static int
glob_walk(struct arena *a, const char *dir, const char *pattern,
    struct path_list *out)
{
	const char *slash = strchr(pattern, '/');
	size_t plen = slash ? (size_t)(slash - pattern) : strlen(pattern);
	char *component = arena_strndup(a, pattern, plen);
	char buf[4096];
	int fd, n;

	if (!component)
		return -1;
	if (plen == 0)	/* "//" or a trailing "/" */
		return slash ? glob_walk(a, dir, slash + 1, out) : 0;
	fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while ((n = proc_getdents(fd, buf, sizeof(buf))) > 0) {
		int off = 0;

		while (off < n) {
			struct dirent *d = (struct dirent *)(buf + off);
			size_t len = strlen(dir) + strlen(d->d_name) + 2;
			char *path;
			struct stat st;

			off += d->d_reclen;
			if (!glob_match(component, d->d_name))
				continue;
			if (!(path = arena_alloc(a, len)))
				goto fail;
			fmt_snprintf(path, len, "%s/%s", dir, d->d_name);
			if (slash) {
				if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
				    glob_walk(a, path, slash + 1, out) < 0)
					goto fail;
			} else if (path_add(a, out, path) < 0) {
				goto fail;
			}
		}
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

static int expand_value(struct loader *l, const struct raw_entry *e,
    const char *program, const char *group, int process_num, int numprocs,
    char **out);

/* supervisord reads includes of the main file only, in sorted order. */
static void
read_includes(struct loader *l, const char *main_file)
{
	struct raw_section *inc = find_section(l, "include");
	const struct raw_entry *files;
	char *list, *glob, *save = NULL;
	const char *here = dir_of(l->arena, main_file);
	size_t i;

	if (!inc)
		return;
	if (!(files = raw_get(l, inc, "files"))) {
		conf_error(l, inc->file, inc->line, "[include] needs a files= "
		    "list of paths or globs");
		return;
	}
	if (expand_value(l, files, NULL, NULL, -1, 0, &list) < 0)
		return;
	for (glob = strtok_r(list, " \t\n", &save); glob;
	    glob = strtok_r(NULL, " \t\n", &save)) {
		struct path_list found = { 0 };
		const char *pattern = glob;
		size_t n = strlen(here) + strlen(glob) + 2;
		char *joined;

		if (glob[0] != '/') {
			if (!(joined = arena_alloc(l->arena, n)))
				return out_of_memory(l);
			fmt_snprintf(joined, n, "%s/%s", here, glob);
			pattern = joined;
		}
		if (glob_walk(l->arena, "", pattern + 1, &found) < 0)
			return out_of_memory(l);
		if (found.n == 0)
			conf_warn(l, files->file, files->line, "[include] files: "
			    "'%s' matches no file", glob);
		if (found.n > 1) {
			const char **tmp = arena_alloc(l->arena, found.n *
			    sizeof(*tmp));

			if (!tmp)
				return out_of_memory(l);
			mem_sort(found.paths, found.n, sizeof(*tmp), tmp,
			    compare_paths);
		}
		/* an [include] in an included file merges but is not read */
		for (i = 0; i < found.n; i++)
			(void)read_ini_file(l, found.paths[i]);
	}
}

/* ---- expansions --------------------------------------------------------- */

static const char *
env_from_pairs(const struct env_pair *p, int n, const char *name)
{
	const char *found = NULL;
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(p[i].key, name) == 0)
			found = p[i].value;
	return found;
}

/* ENV_X: the program's environment=, then [supervisord]'s, then tend's. */
static const char *
lookup_env(void *data, const char *name)
{
	struct loader *l = data;
	const char *v = NULL;

	if (l->program)
		v = env_from_pairs(l->program->env_pairs, l->program->nenv,
		    name);
	if (!v)
		v = env_from_pairs(l->config->global_env, l->config->nglobal_env, name);
	return v ? v : getenv(name);
}

/* %(here)s: the directory of a file, cached since every value asks. */
static const char *
here_of(struct loader *l, const char *file)
{
	if (!file)
		return ".";
	if (file != l->here_file) {
		l->here_file = file;
		l->here = dir_of(l->arena, file);
	}
	return l->here;
}

static int
expand_value(struct loader *l, const struct raw_entry *e, const char *program,
    const char *group, int process_num, int numprocs, char **out)
{
	char errbuf[256];
	const char *err;
	size_t written, total_left;
	int rc;
	struct expand_ctx ctx = {
		.program_name = program,
		.group_name = group,
		.host_node_name = l->host,
		.process_num = process_num,
		.numprocs = numprocs,
		.lookup_env = lookup_env,
		.env_data = l,
	};

	ctx.here = here_of(l, e->line > 0 ? e->file : l->config->file);
	/*
	 * What is written is never refused here (reading the file bounded
	 * it); what expansion adds to it is, and all values together.
	 */
	written = strlen(e->value);
	total_left = (size_t)(EXPAND_TOTAL_MAX - l->expanded);
	ctx.max_len = written + EXPAND_VALUE_MAX;
	if (ctx.max_len > total_left)
		ctx.max_len = total_left;
	rc = val_expand(l->arena, e->value, &ctx, out, errbuf, sizeof(errbuf),
	    &err);
	if (rc == 0) {
		l->expanded += (long)strlen(*out);
		return 0;
	}
	if (rc == -2 && ctx.max_len == total_left)
		conf_error(l, e->file, e->line, "%s: the expanded values of the "
		    "configuration would take more than %ld bytes", e->key,
		    EXPAND_TOTAL_MAX);
	else if (rc == -2)
		conf_error(l, e->file, e->line, "%s: expanding it would add more "
		    "than %d bytes", e->key, EXPAND_VALUE_MAX);
	else
		conf_error(l, e->file, e->line, "%s: %s", e->key, err);
	return -1;
}

/* ---- building programs ---------------------------------------------------- */

struct program_list {
	struct program *items;
	size_t n, cap;
};

static struct program *
program_add(struct loader *l, struct program_list *list)
{
	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 16;
		struct program *bigger = arena_alloc(l->arena,
		    cap * sizeof(*bigger));

		if (!bigger)
			return NULL;
		if (list->n)
			memcpy(bigger, list->items, list->n * sizeof(*bigger));
		list->items = bigger;
		list->cap = cap;
	}
	memset(&list->items[list->n], 0, sizeof(list->items[0]));
	return &list->items[list->n++];
}

/* TEND_* settings may hold programs' secrets: no child inherits them. */
static bool
is_tend_setting(const char *entry)
{
	return strncmp(entry, "TEND_", 5) == 0;
}

/*
 * An engine's NOTIFY_SOCKET (podman --sdnotify=container, a systemd unit)
 * is for whatever stands for the container's readiness: main, as under
 * tini. A program that saw it would tell the engine READY=1 for all.
 */
static bool
is_engine_socket(const char *entry)
{
	return strncmp(entry, "NOTIFY_SOCKET=", 14) == 0;
}

/* main's environment: tend's own, without the TEND_* settings. */
static char **
inherited_envp(struct loader *l)
{
	size_t n = 0;
	char **envp, **e;

	for (e = environ; *e; e++)
		n++;
	if (!(envp = arena_alloc(l->arena, (n + 1) * sizeof(*envp))))
		return NULL;
	for (n = 0, e = environ; *e; e++)
		if (!is_tend_setting(*e))
			envp[n++] = *e;
	envp[n] = NULL;
	return envp;
}

/*
 * The child's environment: tend's own (without the TEND_* settings, which
 * may hold other programs' secrets), SUPERVISOR_*, then [supervisord]
 * environment=, then the program's, later ones replacing earlier ones.
 */
static char **
build_envp(struct loader *l, const struct program *p)
{
	size_t n = 0, max = 8 + (size_t)l->config->nglobal_env + (size_t)p->nenv, i;
	char **envp, **e;
	struct env_pair extra[3] = {
		{ "SUPERVISOR_ENABLED", "1" },
		{ "SUPERVISOR_PROCESS_NAME", p->name },
		{ "SUPERVISOR_GROUP_NAME", p->group },
	};
	/* tend's socket, only for the programs that speak the protocol */
	struct env_pair notify = { "NOTIFY_SOCKET", l->notify_socket };
	const struct env_pair *layers[4] = { extra, l->config->global_env,
	    p->env_pairs, &notify };
	int counts[4] = { 3, l->config->nglobal_env, p->nenv,
	    p->ready == READY_NOTIFY && l->notify_socket }, layer, j;

	struct strmap *slot_of = &l->env_slots;	/* key -> its slot + 1 */

	for (e = environ; *e; e++)
		max++;
	if (!(envp = arena_alloc(l->arena, (max + 1) * sizeof(*envp))))
		return NULL;
	strmap_clear(slot_of);
	for (e = environ; *e; e++) {
		if (is_tend_setting(*e) || is_engine_socket(*e))
			continue;
		if (strmap_put(slot_of, *e, strcspn(*e, "="),
		    (void *)(uintptr_t)(n + 1)) < 0)
			return NULL;
		envp[n++] = *e;
	}
	for (layer = 0; layer < 4; layer++) {
		for (j = 0; j < counts[layer]; j++) {
			const struct env_pair *kv = &layers[layer][j];
			size_t klen = strlen(kv->key);
			size_t len = klen + strlen(kv->value) + 2;
			char *entry = arena_alloc(l->arena, len);

			if (!entry)
				return NULL;
			fmt_snprintf(entry, len, "%s=%s", kv->key, kv->value);
			i = (uintptr_t)strmap_get(slot_of, entry, klen);
			if (i) {
				envp[i - 1] = entry;
				continue;
			}
			if (strmap_put(slot_of, entry, klen,
			    (void *)(uintptr_t)(n + 1)) < 0)
				return NULL;
			envp[n++] = entry;
		}
	}
	envp[n] = NULL;
	return envp;
}

/* How much of a section read_process reads. */
enum read_mode {
	READ_NUMPROCS,		/* numprocs and numprocs_start only */
	READ_FIRST,		/* the first process: warns about keys too */
	READ_OTHER,
};

/* One expanded value into p; a problem is reported with its place. */
static void
parse_value(struct loader *l, struct program *p, const struct key_def *k,
    const struct raw_entry *e, const char *v)
{
	const char *err = NULL, *warn = NULL;

	if (key_parse(l->arena, p, k, v, &err, &warn) < 0) {
		if (k->flags & SECRET)
			conf_error(l, e->file, e->line, "%s: %s", k->name, err);
		else
			conf_error(l, e->file, e->line, "%s: %s, got '%s'",
			    k->name, err, v);
	}
	if (warn)
		conf_warn(l, e->file, e->line, "%s: %s", k->name, warn);
	/* checked once every program is read, and reported at its line */
	if (k->type == K_NAMES) {
		p->depends_file = e->file;
		p->depends_line = e->line;
	}
}

/* Reads every key of one process of section s; returns errors found. */
static int
read_process(struct loader *l, const struct raw_section *s, struct program *p,
    const char *program, int process_num, enum read_mode mode)
{
	int errors = l->errors;
	size_t i;

	l->program = p;
	for (i = 0; i < nprogram_keys; i++) {
		const struct key_def *k = &program_keys[i];
		const struct raw_entry *e = raw_get(l, s, k->name);
		struct raw_entry dflt;
		char *v;

		if (!e && !k->dflt)
			continue;
		if (k->type == K_UNSUPPORTED && (mode != READ_FIRST || !e))
			continue;
		if (!e) {
			dflt = (struct raw_entry){ .key = k->name,
			    .value = k->dflt, .file = s->file, .line = s->line };
			e = &dflt;
		}
		/* numprocs is needed before the processes exist */
		if (mode == READ_NUMPROCS && strncmp(k->name, "numprocs", 8))
			continue;
		if (expand_value(l, e, program, p->group, (k->flags &
		    PER_PROCESS) ? process_num : -1, (int)p->numprocs, &v) < 0)
			continue;
		parse_value(l, p, k, e, v);
	}
	l->program = NULL;
	return l->errors - errors;
}

static void
warn_unknown_keys(struct loader *l, const struct raw_section *s)
{
	const struct raw_entry *e;

	(void)l;
	for (e = s->entries; e; e = e->next)
		if (!key_find(e->key))
			conf_warn(l, e->file, e->line, "[%s]: unknown key '%s', "
			    "ignored", s->name, e->key);
}

/*
 * The next item of a comma-separated list, stripped of blanks, as
 * supervisord's list_of_strings; NULL at the end. Empty items are skipped.
 */
static char *
next_item(char **cursor)
{
	char *item, *end;

	while (**cursor) {
		item = *cursor;
		end = item + strcspn(item, ",");
		*cursor = *end ? end + 1 : end;
		*end = '\0';
		while (*item == ' ' || *item == '\t' || *item == '\n')
			item++;
		while (end > item && (end[-1] == ' ' || end[-1] == '\t' ||
		    end[-1] == '\n'))
			*--end = '\0';
		if (*item)
			return item;
	}
	return NULL;
}

/* The [group:x] that lists program, if any: the first one. */
static const struct raw_section *
group_of(struct loader *l, const char *program, const char **name)
{
	const struct raw_section *s = strmap_get(&l->group_of, program,
	    strlen(program));

	if (s)
		*name = s->name + 6;
	return s;
}

/* Which group each program is in, before the programs are built. */
static void
index_groups(struct loader *l)
{
	struct raw_section *s;

	for (s = l->sections; s; s = s->next) {
		const struct raw_entry *e;
		char *list, *item;

		if (strncmp(s->name, "group:", 6) != 0 ||
		    !(e = raw_get(l, s, "programs")))
			continue;
		if (!(list = arena_strdup(l->arena, e->value)))
			return out_of_memory(l);
		while ((item = next_item(&list)) != NULL)
			if (!strmap_get(&l->group_of, item, strlen(item)) &&
			    strmap_put(&l->group_of, item, strlen(item), s) < 0)
				return out_of_memory(l);
	}
}

static bool
mentions_process_num(const char *s)
{
	for (; (s = strchr(s, '%')) != NULL; s++)
		if (strncmp(s, "%(process_num)", 14) == 0)
			return true;
	return false;
}

/* log_prefix, log_timestamp and log_format default to [tend]'s. */
static void
inherit_format(struct loader *l, const struct raw_section *s,
    struct program *p)
{
	const struct log_format *dflt = &l->config->format;

	if (!raw_get(l, s, "log_prefix"))
		p->format.prefix = dflt->prefix;
	if (!raw_get(l, s, "log_timestamp"))
		p->format.timestamp = dflt->timestamp;
	if (!raw_get(l, s, "log_format"))
		p->format.json = dflt->json;
}

static void
build_program(struct loader *l, const struct raw_section *s,
    struct program_list *list)
{
	const char *program = s->name + 8, *group = program;
	const struct raw_section *gs = group_of(l, program, &group);
	const struct raw_entry *e;
	struct program probe = { .group = group, .numprocs = 1 };
	long gprio = 999, i;
	const char *err;

	if (!key_valid_name(program)) {
		conf_error(l, s->file, s->line, "[%s]: a program name has no "
		    "blanks, ':' or '/'", s->name);
		return;
	}
	warn_unknown_keys(l, s);
	if (!raw_get(l, s, "command")) {
		struct program unbuilt = { .group = group, .numprocs = 1 };

		conf_error(l, s->file, s->line, "[%s]: command= is required",
		    s->name);
		/* its other mistakes are reported all the same */
		(void)read_process(l, s, &unbuilt, program, 0, READ_FIRST);
		return;
	}
	if (gs && (e = raw_get(l, gs, "priority")) &&
	    val_int(e->value, LONG_MIN, LONG_MAX, &gprio, &err) < 0)
		conf_error(l, e->file, e->line, "priority: %s", err);
	if (read_process(l, s, &probe, program, -1, READ_NUMPROCS))
		return;
	e = raw_get(l, s, "process_name");
	if (probe.numprocs > 1 && (!e || !mentions_process_num(e->value))) {
		conf_error(l, s->file, s->line, "[%s]: process_name must "
		    "contain %%(process_num) when numprocs > 1", s->name);
		return;
	}
	for (i = 0; i < probe.numprocs; i++) {
		struct program *p = program_add(l, list);

		if (!p)
			return out_of_memory(l);
		p->group = group;
		p->program = program;
		p->file = s->file;
		p->line = s->line;
		p->numprocs = probe.numprocs;
		p->stopsignal = SIGTERM;
		/*
		 * A process whose keys failed is dropped whole: nothing may
		 * meet it half-built. The same mistake would be reported
		 * once per process, so the others are not read.
		 */
		if (read_process(l, s, p, program,
		    (int)(probe.numprocs_start + i), i ? READ_OTHER : READ_FIRST)) {
			list->n--;
			return;
		}
		p->group_priority = gs ? gprio : p->priority;
		inherit_format(l, s, p);
		if (!raw_get(l, s, "killasgroup"))
			p->killasgroup = p->stopasgroup;
		else if (p->stopasgroup && !p->killasgroup)
			conf_error(l, s->file, s->line, "[%s]: stopasgroup=true "
			    "needs killasgroup=true", s->name);
		if (p->redirect_stderr && p->err.kind == LOG_FILE)
			conf_warn(l, s->file, s->line, "[%s]: redirect_stderr=true "
			    "ignores stderr_logfile", s->name);
		if (p->user_spec && geteuid() != 0 && p->user.uid != geteuid())
			conf_error(l, s->file, s->line, "[%s]: user=%s needs tend "
			    "to run as root", s->name, p->user_spec);
		if (!(p->envp = build_envp(l, p)))
			out_of_memory(l);
	}
}

/* ---- environment overrides ------------------------------------------------ */

/* A program defined by env alone: its name is the NAME part, lower-cased. */
static char *
program_from_env(struct arena *a, const char *rest, const struct key_def **key)
{
	const char *p;

	for (p = rest; (p = strchr(p, '_')) != NULL; p++) {
		const struct key_def *k = key_by_env_name(p + 1, strlen(p + 1));

		if (k && p > rest) {
			char *name = arena_strndup(a, rest, (size_t)(p - rest)), *c;

			for (c = name; c && *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
			*key = k;
			return name;
		}
	}
	return NULL;
}

static void
apply_program_override(struct loader *l, const char *var, const char *rest,
    const char *value)
{
	struct raw_section *s, *match = NULL;
	const struct key_def *k = NULL, *mk = NULL;
	char section[300];
	char *name;

	for (s = l->sections; s; s = s->next) {
		size_t len;

		if (strncmp(s->name, "program:", 8) != 0 ||
		    !(len = key_env_prefix(s->name + 8, rest)) ||
		    !(k = key_by_env_name(rest + len, strlen(rest + len))))
			continue;
		if (match) {
			conf_error(l, var, 0, "names both [%s] and [%s]; rename "
			    "one of them", match->name, s->name);
			return;
		}
		match = s;
		mk = k;
	}
	if (!match) {
		if (!(name = program_from_env(l->arena, rest, &mk))) {
			conf_error(l, var, 0, "expected TEND_PROGRAM_<NAME>_<KEY> "
			    "with a [program:x] key such as COMMAND or "
			    "AUTORESTART");
			return;
		}
		fmt_snprintf(section, sizeof(section), "program:%s", name);
		if (!(match = add_section(l, section, var, 0)))
			return out_of_memory(l);
	}
	if (add_entry(l, match, mk->name, value, var, 0) < 0)
		out_of_memory(l);
}

static void
apply_overrides(struct loader *l)
{
	struct raw_section *t;
	const char *key;
	char **e;

	for (e = environ; *e; e++) {
		const char *eq = strchr(*e, '='), *value;
		char *var;

		if (strncmp(*e, "TEND_", 5) != 0 || !eq)
			continue;
		if (!(var = arena_alloc(l->arena, (size_t)(eq - *e) + 2)))
			return out_of_memory(l);
		var[0] = '$';
		memcpy(var + 1, *e, (size_t)(eq - *e));
		value = eq + 1;
		if (strcmp(var, "$TEND_CONFIG") == 0)
			continue;
		if (strncmp(var, "$TEND_PROGRAM_", 14) == 0) {
			apply_program_override(l, var, var + 14, value);
			continue;
		}
		if (!(key = setting_by_env_name(var + 6))) {
			conf_error(l, var, 0, "unknown setting (expected a [tend] "
			    "key such as TEND_SHUTDOWN_TIMEOUT, TEND_CONFIG or "
			    "TEND_PROGRAM_<NAME>_<KEY>)");
			continue;
		}
		if (!(t = add_section(l, "tend", var, 0)) ||
		    add_entry(l, t, key, value, var, 0) < 0)
			return out_of_memory(l);
	}
}

/* supervisord's rule: a username and a password, or neither. */
static void
check_credentials(struct loader *l)
{
	static const char *const sections[] = { "unix_http_server",
	    "inet_http_server" };
	const struct config *c = l->config;
	bool half[2] = { !c->socket_username != !c->socket_password,
	    !c->http_username != !c->http_password };
	int i;

	for (i = 0; i < 2; i++) {
		const struct raw_section *s = find_section(l, sections[i]);

		if (half[i])
			conf_error(l, s ? s->file : c->file, s ? s->line : 0,
			    "[%s]: a username needs a password, and a password "
			    "a username", sections[i]);
	}
}

static void
read_settings(struct loader *l, const char *section)
{
	struct raw_section *s = find_section(l, section);
	const struct raw_entry *e;
	const struct setting *set;
	const char *err;
	char *v;

	for (e = s ? s->entries : NULL; e; e = e->next) {
		if (!(set = setting_find(section, e->key))) {
			conf_warn(l, e->file, e->line, "[%s]: unknown key '%s', "
			    "ignored", section, e->key);
			continue;
		}
		if (expand_value(l, e, NULL, NULL, -1, 0, &v) < 0)
			continue;
		switch (setting_apply(l->config, set, v, &err)) {
		case 0:
			break;
		case 1:
			log_info("%s:%d: [%s] %s has no effect in tend, ignored",
			    e->file, e->line, section, e->key);
			break;
		default:
			if (setting_secret(set))
				conf_error(l, e->file, e->line, "%s: %s", e->key,
				    err);
			else
				conf_error(l, e->file, e->line, "%s: %s, got '%s'",
				    e->key, err, v);
			break;
		}
	}
}

/* Sections tend knows but does not implement: one warning each. */
static const char *const unsupported_sections[] = {
	"eventlistener:", "fcgi-program:",
};

static void
check_sections(struct loader *l, struct program_list *list)
{
	struct raw_section *s;
	size_t i;

	for (s = l->sections; s; s = s->next) {
		if (strncmp(s->name, "program:", 8) == 0) {
			build_program(l, s, list);
			continue;
		}
		/* tend's XML-RPC is always the supervisor interface */
		if (setting_section(s->name) || !strcmp(s->name, "include") ||
		    !strcmp(s->name, "DEFAULT") || !strncmp(s->name, "group:", 6) ||
		    !strncmp(s->name, "rpcinterface:", 13))
			continue;
		for (i = 0; i < sizeof(unsupported_sections) /
		    sizeof(unsupported_sections[0]); i++) {
			const char *u = unsupported_sections[i];
			size_t n = strlen(u);

			if (strncmp(s->name, u, n) == 0)
				break;
		}
		if (i < sizeof(unsupported_sections) /
		    sizeof(unsupported_sections[0]))
			conf_warn(l, s->file, s->line, "[%s] is not supported by "
			    "tend, ignored", s->name);
		else
			conf_warn(l, s->file, s->line, "unknown section [%s], "
			    "ignored", s->name);
	}
}

static void
check_groups(struct loader *l)
{
	struct raw_section *s;

	for (s = l->sections; s; s = s->next) {
		const struct raw_entry *e;
		char *names, *item;
		char section[300];

		if (strncmp(s->name, "group:", 6) != 0)
			continue;
		if (!key_valid_name(s->name + 6))
			conf_error(l, s->file, s->line, "[%s]: a group name has "
			    "no blanks, ':' or '/'", s->name);
		if (!(e = raw_get(l, s, "programs")))
			continue;	/* an empty group, as in supervisord */
		if (!(names = arena_strdup(l->arena, e->value)))
			return out_of_memory(l);
		while ((item = next_item(&names)) != NULL) {
			fmt_snprintf(section, sizeof(section), "program:%s", item);
			if (!find_section(l, section))
				conf_error(l, e->file, e->line, "programs: no "
				    "[program:%s] section", item);
		}
	}
}

/* ---- order and the command after -- --------------------------------------- */

static int
start_order(const struct program *x, const struct program *y)
{
	int c;

	if (x->is_main != y->is_main)
		return x->is_main - y->is_main;	/* main starts last */
	if (x->group_priority != y->group_priority)
		return x->group_priority < y->group_priority ? -1 : 1;
	if ((c = strcmp(x->group, y->group)) != 0)
		return c;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
compare_programs(const void *a, const void *b)
{
	return start_order(a, b);
}

static void
add_main(struct loader *l, struct program_list *list, char **command,
    bool group)
{
	struct program *p = program_add(l, list);

	if (!p)
		return out_of_memory(l);
	p->name = p->group = p->program = "main";
	p->file = "command line";
	p->command = command[0];
	p->argv = command;
	p->numprocs = 1;
	p->autostart = true;
	p->autorestart = RESTART_NEVER;
	p->exitcodes[0] = 1;
	p->stopsignal = SIGTERM;
	p->stopwaitsecs = 86400L * 365;	/* the shutdown budget rules */
	p->stopasgroup = p->killasgroup = group;
	p->critical = true;
	p->out.fd = 1;
	p->err.fd = 2;
	p->format = l->config->format;
	p->is_main = true;
	p->forward_group = group;
	p->priority = p->group_priority = LONG_MAX;
	p->ready_interval_ms = 1000;
	if (!(p->envp = inherited_envp(l)))
		out_of_memory(l);
}

static void
check_duplicate_names(struct loader *l, const struct program_list *list)
{
	struct strmap seen = { .arena = l->arena };
	size_t i;

	for (i = 0; i < list->n; i++) {
		const struct program *p = &list->items[i];
		size_t len = strlen(p->name);

		if (strmap_get(&seen, p->name, len))
			conf_error(l, p->file, p->line, "two processes are named "
			    "'%s'", p->name);
		else if (strmap_put(&seen, p->name, len, (void *)p) < 0)
			return out_of_memory(l);
	}
}

/* ---- depends_on ---------------------------------------------------------- */

bool
conf_depends_on(const struct program *x, const struct program *y)
{
	int i;

	for (i = 0; i < x->ndepends; i++)
		if (!strcmp(x->depends[i], y->program) ||
		    !strcmp(x->depends[i], y->group))
			return true;
	return false;
}

/* The processes a name of depends_on= stands for, as a list. */
struct member {
	size_t index;
	struct member *next;
};

static int
add_member(struct loader *l, struct strmap *m, const char *name, size_t i)
{
	struct member *e = arena_alloc(l->arena, sizeof(*e));

	if (!e)
		return -1;
	e->index = i;
	e->next = strmap_get(m, name, strlen(name));
	return strmap_put(m, name, strlen(name), e);
}

enum { WHITE, GREY, BLACK };

struct graph {
	const struct program_list *list;
	struct strmap members;		/* program and group names */
	unsigned char *colour;
	size_t *parent;
	size_t *path;			/* room for a cycle through them all */
};

/*
 * "a -> b -> a" (each depends on the next) for the cycle closed by p
 * depending on grey m: the DFS path from m down to p, then m again.
 */
static void
name_cycle(struct loader *l, struct graph *g, size_t m, size_t p)
{
	const struct program *at = &g->list->items[m];
	size_t *path = g->path, depth = 0, k, n;
	char text[LOG_LINE_MAX];

	for (k = p; k != m; k = g->parent[k])
		path[depth++] = k;
	n = (size_t)fmt_snprintf(text, sizeof(text), "%s", at->program);
	while (depth > 0 && n < sizeof(text))
		n += (size_t)fmt_snprintf(text + n, sizeof(text) - n, " -> %s",
		    g->list->items[path[--depth]].program);
	if (n < sizeof(text))
		fmt_snprintf(text + n, sizeof(text) - n, " -> %s", at->program);
	conf_error(l, at->depends_file, at->depends_line, "[program:%s]: "
	    "depends_on makes a cycle: %s", at->program, text);
}

/* Depth first: a grey process met again closes a cycle. */
static bool
visit(struct loader *l, struct graph *g, size_t i)
{
	const struct program *p = &g->list->items[i];
	int d;

	g->colour[i] = GREY;
	for (d = 0; d < p->ndepends; d++) {
		const struct member *m;

		for (m = strmap_get(&g->members, p->depends[d],
		    strlen(p->depends[d])); m; m = m->next) {
			if (g->colour[m->index] == GREY) {
				name_cycle(l, g, m->index, i);
				return false;
			}
			g->parent[m->index] = i;
			if (g->colour[m->index] == WHITE &&
			    !visit(l, g, m->index))
				return false;
		}
	}
	g->colour[i] = BLACK;
	return true;
}

/* Every name must exist, and the graph must have no cycle. */
static void
check_dependencies(struct loader *l, const struct program_list *list)
{
	struct graph g = { .list = list, .members = { .arena = l->arena } };
	size_t i;
	int d;

	for (i = 0; i < list->n; i++) {
		const struct program *p = &list->items[i];

		if (add_member(l, &g.members, p->program, i) < 0 ||
		    (strcmp(p->group, p->program) &&
		    add_member(l, &g.members, p->group, i) < 0))
			return out_of_memory(l);
	}
	for (i = 0; i < list->n; i++) {
		const struct program *p = &list->items[i];

		for (d = 0; d < p->ndepends; d++)
			if (!strmap_get(&g.members, p->depends[d],
			    strlen(p->depends[d])))
				conf_error(l, p->depends_file, p->depends_line,
				    "[program:%s]: depends_on: no program or group named '%s'",
				    p->program, p->depends[d]);
	}
	if (l->errors)
		return;
	g.colour = arena_alloc(l->arena, list->n);
	g.parent = arena_alloc(l->arena, list->n * sizeof(*g.parent));
	g.path = arena_alloc(l->arena, list->n * sizeof(*g.path));
	if (!g.colour || !g.parent || !g.path)
		return out_of_memory(l);
	for (i = 0; i < list->n; i++)
		if (g.colour[i] == WHITE && !visit(l, &g, i))
			return;
}

/*
 * With a command, tend keeps tini's contract whatever else the image
 * holds: only its own file. Without one, it stands in for supervisord
 * and looks where supervisord looks.
 */
static const char *const search_places[] = {
	"/etc/tend.ini", "/etc/supervisord.conf",
	"/etc/supervisor/supervisord.conf",
};

const char *
conf_find(const char *requested, bool with_command)
{
	const char *env = getenv("TEND_CONFIG");
	size_t i, n = with_command ? 1 : sizeof(search_places) /
	    sizeof(search_places[0]);

	if (requested)
		return requested;
	if (env)
		return *env ? env : NULL;	/* empty: no file, no search */
	for (i = 0; i < n; i++)
		if (access(search_places[i], F_OK) == 0)
			return search_places[i];
	return NULL;
}

struct config *
conf_load(const struct conf_request *req, int *errors)
{
	struct arena arena = { 0 };
	struct config *c = arena_alloc(&arena, sizeof(*c));
	struct loader l = { .config = c, .stop_fd = req->stop_fd,
	    .notify_socket = req->notify_socket };
	struct program_list list = { 0 };
	struct utsname uts;
	const char *file = conf_find(req->file, req->command != NULL);

	if (!c) {
		log_error("cannot load the configuration: out of memory");
		*errors = 1;
		return NULL;
	}
	c->arena = arena;
	c->refs = 1;
	l.arena = &c->arena;
	l.tail = &l.sections;
	l.by_name.arena = l.group_of.arena = l.env_slots.arena = &c->arena;
	c->shutdown_ms = DEFAULT_GRACE_MS;
	c->loglevel = -1;
	c->termination_log = DEFAULT_TERMINATION_LOG;
	c->logfile_maxbytes = 50 * 1024 * 1024;
	c->logfile_backups = 10;
	c->socket_path = DEFAULT_CONTROL_SOCKET;
	c->socket_mode = 0700;
	if (uname(&uts) == 0)
		fmt_snprintf(l.host, sizeof(l.host), "%s", uts.nodename);
	if (file) {
		if (!(c->file = absolute(&c->arena, file)))
			out_of_memory(&l);
		else if (read_ini_file(&l, c->file) == 0)
			read_includes(&l, c->file);
	}
	/* what a file that failed to parse did declare is not built */
	if ((*errors = l.errors) != 0)
		return c;
	apply_overrides(&l);
	read_settings(&l, "supervisord");
	read_settings(&l, "unix_http_server");
	read_settings(&l, "inet_http_server");
	read_settings(&l, "supervisorctl");
	read_settings(&l, "tend");
	check_credentials(&l);
	if (req->settings_only) {
		*errors = l.errors;
		return c;
	}
	index_groups(&l);
	check_sections(&l, &list);
	check_groups(&l);
	if (req->command)
		add_main(&l, &list, req->command, req->forward_group);
	check_duplicate_names(&l, &list);
	check_dependencies(&l, &list);
	if (req->grace_ms >= 0)
		c->shutdown_ms = req->grace_ms;
	if (!l.errors && list.n == 0)
		conf_error(&l, file ? c->file : NULL, 0, "%s", file ?
		    "no [program:x] section and no command: nothing to run" :
		    getenv("TEND_CONFIG") ? "no command given, and TEND_CONFIG "
		    "is empty, which means no configuration file (see 'tend "
		    "--help')" : "no command given and no configuration file "
		    "found (tried /etc/tend.ini, /etc/supervisord.conf, "
		    "/etc/supervisor/supervisord.conf; see 'tend --help')");
	/* after an error, no program exists, half-built or not */
	if ((*errors = l.errors) != 0)
		return c;
	if (list.n > 1) {
		struct program *tmp = arena_alloc(&c->arena, list.n *
		    sizeof(*tmp));

		if (!tmp) {
			out_of_memory(&l);
			*errors = l.errors;
			return c;
		}
		mem_sort(list.items, list.n, sizeof(*tmp), tmp,
		    compare_programs);
	}
	c->programs = list.items;
	c->nprograms = list.n;
	return c;
}

void
conf_release(struct config *c)
{
	struct arena a;

	if (!c || --c->refs > 0)
		return;
	a = c->arena;		/* c lives in its own arena */
	arena_release(&a);
}
