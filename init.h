/*
 * init.h: what the control plane asks of tend itself (init.c): a
 * reload with the same search and overrides as the start, and its
 * state.
 */
#ifndef TEND_INIT_H
#define TEND_INIT_H

#include <sys/types.h>

struct config;

/*
 * Loads the configuration again, as at the start. With errors (*errors
 * is their count, c->report their text) nothing changes; the caller
 * releases the load. NULL when out of memory.
 */
struct config *tend_reread(int *errors);
/* Applies a load without errors: see prog_apply. Takes c. */
void tend_apply(struct config *c, const char *const *groups,
    size_t ngroups);
/* Both: 0, or -1 when the configuration has errors. */
int tend_reload(void);

struct tend_status {
	pid_t pid;
	long long started;		/* Unix seconds */
	long long uptime_ms;
	const char *phase;		/* running, stopping, draining, killing */
	const char *config_file;	/* NULL: none */
};
void tend_status(struct tend_status *st);

/* tend ctl: the client, from the same binary (ctl.c). */
int ctl_main(int argc, char **argv);

#endif
