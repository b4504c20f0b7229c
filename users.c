/*
 * users.c: resolves user= values the way supervisord does (a name, or a
 * uid that must exist), and the groups the user belongs to, which the
 * child sets with setgroups before setgid and setuid.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "users.h"
#include "values.h"

#ifndef PASSWD_FILE
#define PASSWD_FILE "/etc/passwd"
#endif
#ifndef GROUP_FILE
#define GROUP_FILE "/etc/group"
#endif

#define MAX_GROUPS 64

/* Splits a colon-separated line into at most n fields, in place. */
static int
split_fields(char *line, char **fields, int n)
{
	int i = 0;

	fields[i++] = line;
	for (; *line && i < n; line++) {
		if (*line == ':') {
			*line = '\0';
			fields[i++] = line + 1;
		}
	}
	return i;
}

static bool
parse_id(const char *s, long *id)
{
	unsigned long long v;

	if (val_digits(&s, 10, 0x7fffffff, &v) < 0 || *s)
		return false;
	*id = (long)v;
	return true;
}

/*
 * Calls match on each line of an /etc file split into fields; stops at
 * the first line for which it returns true. Lines are NUL-terminated in
 * the arena copy of the file.
 */
static int
scan_file(struct arena *a, const char *path, int nfields,
    bool (*match)(char **fields, void *data), void *data)
{
	size_t len;
	char *text = arena_read_file(a, path, &len, -1), *line, *next;

	if (!text)
		return -1;
	for (line = text; line < text + len; line = next) {
		char *fields[8];
		char *eol = strchr(line, '\n');

		next = eol ? eol + 1 : text + len;
		if (eol)
			*eol = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		if (split_fields(line, fields, nfields) == nfields &&
		    match(fields, data))
			return 1;
	}
	return 0;
}

struct passwd_query {
	const char *key;
	struct user *user;
	struct arena *arena;
};

static bool
passwd_match(char **f, void *data)
{
	struct passwd_query *q = data;
	long id, uid, gid;

	if (parse_id(q->key, &id) ? !(parse_id(f[2], &uid) && uid == id) :
	    strcmp(f[0], q->key) != 0)
		return false;
	if (!parse_id(f[2], &uid) || !parse_id(f[3], &gid))
		return false;
	q->user->name = arena_strdup(q->arena, f[0]);
	q->user->uid = (uid_t)uid;
	q->user->gid = (gid_t)gid;
	return q->user->name != NULL;
}

struct group_query {
	const char *key;	/* a group to find by name or gid, or NULL */
	const char *member;	/* a user whose groups to collect */
	struct user *user;
	long found;
};

static bool
group_match(char **f, void *data)
{
	struct group_query *q = data;
	long gid, id;
	char *member, *save = NULL;

	if (!parse_id(f[2], &gid))
		return false;
	if (q->key) {
		if (parse_id(q->key, &id) ? gid == id :
		    strcmp(f[0], q->key) == 0) {
			q->found = gid;
			return true;
		}
		return false;
	}
	for (member = strtok_r(f[3], ",", &save); member;
	    member = strtok_r(NULL, ",", &save)) {
		if (strcmp(member, q->member) == 0 && gid != q->user->gid &&
		    q->user->ngroups < MAX_GROUPS)
			q->user->groups[q->user->ngroups++] = (gid_t)gid;
	}
	return false;
}

int
user_lookup(struct arena *a, const char *spec, struct user *u,
    const char **err)
{
	char *name = arena_strdup(a, spec), *group;
	struct passwd_query pq = { .user = u, .arena = a };
	struct group_query gq = { .user = u };
	int rc;

	if (!name) {
		*err = "out of memory";
		return -1;
	}
	if ((group = strchr(name, ':')) != NULL)
		*group++ = '\0';
	memset(u, 0, sizeof(*u));
	pq.key = name;
	rc = scan_file(a, PASSWD_FILE, 7, passwd_match, &pq);
	if (rc <= 0) {
		*err = rc < 0 ? "cannot read " PASSWD_FILE :
		    "no such user (expected a name or uid from " PASSWD_FILE
		    ")";
		return -1;
	}
	if (group) {
		gq.key = group;
		if (scan_file(a, GROUP_FILE, 4, group_match, &gq) <= 0) {
			*err = "no such group (expected a name or gid from "
			    GROUP_FILE ")";
			return -1;
		}
		u->gid = (gid_t)gq.found;
		gq.key = NULL;
	}
	if (!(u->groups = arena_alloc(a, MAX_GROUPS * sizeof(gid_t)))) {
		*err = "out of memory";
		return -1;
	}
	u->groups[u->ngroups++] = u->gid;
	gq.member = u->name;
	(void)scan_file(a, GROUP_FILE, 4, group_match, &gq);
	return 0;
}
