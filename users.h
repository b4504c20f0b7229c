/*
 * users.h: user and group lookup from /etc/passwd and /etc/group, read
 * directly (a static binary has no NSS), resolved once at load time.
 */
#ifndef TEND_USERS_H
#define TEND_USERS_H

#include <sys/types.h>

#include "mem.h"

struct user {
	const char *name;
	uid_t uid;
	gid_t gid;
	gid_t *groups;		/* the primary group and supplementary ones */
	int ngroups;
};

/*
 * Resolves "name", "uid", "name:group" or "uid:gid" (the group part is an
 * extension of tend's). Returns 0, or -1 with *err set.
 */
int user_lookup(struct arena *a, const char *spec, struct user *u,
    const char **err);

#endif
