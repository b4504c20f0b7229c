/*
 * fuzz_values.c: every value parser of values.c on one string: the
 * numbers (int, sizes, seconds, octal umask, exit codes, digits),
 * booleans, signals, addresses, name lists, autorestart, shlex-style
 * command splitting, environment= and the %(name)s expansion with
 * flags, widths and precisions. Each result is checked against what
 * values.h promises, and the arena must go back to what it was.
 *
 * The first byte chooses the expansion's context (process_num,
 * numprocs, the bound on the value); the rest, up to a NUL, is the
 * string; what follows the NUL is the value of $FUZZ for %(ENV_FUZZ)s.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../config.h"
#include "../../mem.h"
#include "../../sig.h"
#include "../../values.h"

static const char *fuzz_value;		/* $FUZZ, from the input */
static char long_value[EXPAND_WIDTH_MAX + 10];

static void
broken(const char *what)
{
	fprintf(stderr, "fuzz_values: broken promise: %s\n", what);
	abort();
}

static const char *
lookup(void *data, const char *name)
{
	(void)data;
	if (!strcmp(name, "FUZZ"))
		return fuzz_value;
	if (!strcmp(name, "HOME"))
		return "/root";
	if (!strcmp(name, "EMPTY"))
		return "";
	if (!strcmp(name, "PORT"))
		return "8080";
	if (!strcmp(name, "LONG"))
		return long_value;
	return NULL;
}

static void
check_err(int rc, const char *err)
{
	if (rc < 0 && (!err || !*err))
		broken("a refusal without a message");
}

static void
numbers(const char *s, unsigned char opts)
{
	static const long bounds[][2] = {
		{ LONG_MIN, LONG_MAX }, { 0, LONG_MAX }, { 1, 10000 },
		{ -1, 1 }, { 0, 0 },
	};
	const long *b = bounds[opts % 5];
	const char *err = NULL, *p;
	unsigned long long u;
	unsigned char set[32];
	long long bytes;
	long v, ms;
	mode_t mode;
	bool yes;
	int sig, rc;

	err = NULL;
	rc = val_int(s, b[0], b[1], &v, &err);
	check_err(rc, err);
	if (rc == 0 && (v < b[0] || v > b[1]))
		broken("val_int out of its bounds");
	err = NULL;
	rc = val_bytes(s, &bytes, &err);
	check_err(rc, err);
	if (rc == 0 && bytes < 0)
		broken("val_bytes negative");
	err = NULL;
	rc = val_seconds_ms(s, MAX_GRACE_MS, &ms, &err);
	check_err(rc, err);
	if (rc == 0 && (ms < 0 || ms > MAX_GRACE_MS))
		broken("val_seconds_ms out of its bound");
	err = NULL;
	rc = val_octal(s, &mode, &err);
	check_err(rc, err);
	if (rc == 0 && mode > 0777)
		broken("val_octal above 0777");
	err = NULL;
	check_err(val_exitcodes(s, set, &err), err);
	err = NULL;
	rc = val_signal(s, &sig, &err);
	check_err(rc, err);
	if (rc == 0 && (sig < 1 || sig > SIG_MAX))
		broken("val_signal out of range");
	err = NULL;
	check_err(val_bool(s, &yes, &err), err);
	err = NULL;
	check_err(val_log_format(s, &yes, &err), err);
	{
		enum autorestart ar;

		err = NULL;
		check_err(val_autorestart(s, &ar, &err), err);
	}
	p = s;
	if (val_digits(&p, opts & 1 ? 8 : 10, opts & 2 ? 0777 : ULLONG_MAX,
	    &u) == 0 && (p == s || p > s + strlen(s) ||
	    ((opts & 2) && u > 0777)))
		broken("val_digits moved wrongly or passed its max");
	(void)sig_parse(s);
}

static void
addresses(const char *s)
{
	struct inet_addr a;
	const char *err = NULL;
	int any;

	for (any = 0; any < 2; any++) {
		int rc;

		err = NULL;
		rc = val_inet(s, any, &a, &err);
		if (rc == 0 && a.len != sizeof(a.u.in) &&
		    a.len != sizeof(a.u.in6))
			broken("val_inet with an odd length");
		check_err(rc, err);
	}
}

static void
lists(struct arena *a, const char *s)
{
	const char **names, *err = NULL;
	struct env_pair *pairs;
	size_t len = strlen(s);
	char **argv;
	int n, i;

	if ((n = val_names(a, s, &names, &err)) >= 0) {
		for (i = 0; i < n; i++)
			if (!names[i][0] || strpbrk(names[i], ":/ \t\n"))
				broken("val_names gave a bad name");
	} else {
		check_err(n, err);
	}
	err = NULL;
	if (val_split_command(a, s, &argv, &err) == 0) {
		if (!argv[0] || !argv[0][0])
			broken("val_split_command: no program");
		for (i = 0; argv[i]; i++)
			if (i > 255 || strlen(argv[i]) > len)
				broken("val_split_command: too many or too long");
	} else {
		check_err(-1, err);
	}
	err = NULL;
	if ((n = val_environment(a, s, &pairs, &err)) >= 0) {
		for (i = 0; i < n; i++)
			if (!pairs[i].key || !pairs[i].value ||
			    strlen(pairs[i].key) > len ||
			    strlen(pairs[i].value) > len)
				broken("val_environment: a bad pair");
	} else {
		check_err(n, err);
	}
}

static void
expansion(struct arena *a, const char *s, unsigned char opts)
{
	static const size_t bounds[] = { EXPAND_VALUE_MAX, 4096, 64, 1, 0 };
	struct expand_ctx ctx = {
		.program_name = "web",
		.group_name = opts & 0x10 ? "grp" : NULL,
		.host_node_name = "host1",
		.here = "/etc/tend",
		.process_num = opts & 0x20 ? (int)(opts & 7) - 1 : -1,
		.numprocs = (opts >> 6) + 1,
		.max_len = bounds[(opts >> 3) % 5],
		.lookup_env = lookup,
	};
	char errbuf[256], *out = NULL;
	const char *err = NULL;

	if (val_expand(a, s, &ctx, &out, errbuf, sizeof(errbuf), &err) == 0) {
		if (!out || strlen(out) > ctx.max_len)
			broken("val_expand past its bound");
	} else if (!err || !*err || strlen(err) >= sizeof(errbuf)) {
		broken("val_expand without a message");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static size_t baseline = (size_t)-1;
	struct arena a = { 0 };
	unsigned char opts;
	char *s;
	size_t len;

	if (size == 0 || size > 64 * 1024)
		return 0;
	if (!long_value[0])
		memset(long_value, 'x', sizeof(long_value) - 1);
	if (baseline == (size_t)-1)
		baseline = arena_mapped();
	opts = data[0];
	/* exactly sized: a read past the end is a finding */
	if (!(s = malloc(size)))
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	len = strlen(s);
	fuzz_value = len < size - 1 ? s + len + 1 : NULL;

	numbers(s, opts);
	addresses(s);
	lists(&a, s);
	expansion(&a, s, opts);
	arena_release(&a);
	if (arena_mapped() != baseline)
		broken("arena memory did not return to its baseline");
	free(s);
	return 0;
}
