/*
 * cli.h: the command line.
 */
#ifndef TEND_CLI_H
#define TEND_CLI_H

#include <stdbool.h>

struct options {
	char **command;			/* NULL-terminated argv, or NULL */
	const char *config_file;	/* -c */
	bool check;			/* --check */
	unsigned char exit_zero[32];	/* -e: bit N set maps code N to 0 */
	int pdeathsig;			/* -p: 0 when unset */
	long grace_ms;			/* -t, or -1 */
	int verbosity;			/* -v count */
	int log_level;			/* $TINI_VERBOSITY's, or -1 */
	bool group;			/* -g: forward to the process group */
	bool warn_reap;			/* -w: log each reaped orphan */
};

/* Fills opts from argv; prints help or version and exits, or exits 2. */
void cli_parse(int argc, char **argv, struct options *opts);

/* The exit status after -e remapping. */
int cli_remap_exit(const struct options *opts, int code);

#endif
