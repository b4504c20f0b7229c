/*
 * keys.h: the schema of the configuration (keys.c), for the loader
 * (conf.c): one table of [program:x] keys that drives parsing,
 * defaults, validation, environment overrides, --check and what a
 * reload restarts, and one table of the settings of [supervisord],
 * [tend] and the control sections.
 */
#ifndef TEND_KEYS_H
#define TEND_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

enum key_type {
	K_STRING, K_COMMAND, K_NAME, K_BOOL, K_INT, K_BYTES, K_SIGNAL,
	K_EXITCODES, K_OCTAL, K_AUTORESTART, K_USER, K_ENVIRONMENT,
	K_LOGFILE, K_LOGFORMAT, K_READY, K_MS, K_NAMES, K_UNSUPPORTED,
};

enum key_flags {
	PER_PROCESS = 1,	/* may use %(process_num)d and %(numprocs)d */
	SECRET = 2,		/* --check masks the values */
	SHAPES = 4,		/* a change restarts the process at a reload */
};

/* Packed: the table is the largest piece of data in the binary. */
struct key_def {
	const char *name;
	const char *dflt;		/* parsed like a file value; NULL: none */
	int min, max;
	unsigned short offset;
	unsigned char type;		/* enum key_type */
	unsigned char flags;
};

/* In the order they are read: environment first (see keys.c). */
extern const struct key_def program_keys[];
extern const size_t nprogram_keys;

const struct key_def *key_find(const char *name);
/* The key whose environment name ("STOPSIGNAL") is env[0, len). */
const struct key_def *key_by_env_name(const char *env, size_t len);
/* The length of "NAME_" when env starts with name's env form and '_'. */
size_t key_env_prefix(const char *name, const char *env);
/* supervisord's process_or_group_name: no blanks, ':' or '/'. */
bool key_valid_name(const char *s);
/* "node-hook" -> "NODE_HOOK": upper case, other characters as '_'. */
char *key_env_name(struct arena *a, const char *s);

/*
 * One expanded value into the program, by type: 0, or -1 with *err
 * saying what was expected. *warn, when set, is a warning to show.
 */
int key_parse(struct arena *a, struct program *p, const struct key_def *k,
    const char *v, const char **err, const char **warn);

struct setting;

/* The setting key of section, or NULL when there is none. */
const struct setting *setting_find(const char *section, const char *key);
/* Whether any setting lives in section. */
bool setting_section(const char *section);
/* The [tend] key whose environment name is env (SHUTDOWN_TIMEOUT). */
const char *setting_by_env_name(const char *env);
/*
 * 0; 1 when the key means nothing to tend (ignored, with a note); -1
 * with *err. Secret values are never repeated in a message.
 */
int setting_apply(struct config *c, const struct setting *s, const char *v,
    const char **err);
bool setting_secret(const struct setting *s);

#endif
