/*
 * fuzz_notify.c: ready_parse_notify on one datagram of systemd's
 * notification protocol, at most the 4096 bytes that ready.c reads.
 * The first byte picks the size of the STATUS= buffer (exactly that
 * size, so a write past it is a finding); the rest is the message,
 * also in a buffer of its size. A STATUS= text must end within the
 * buffer, and READY=1 alone makes the process ready.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ready.h"

static void
broken(const char *what)
{
	fprintf(stderr, "fuzz_notify: broken promise: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 1, 2, 8, 64, 128, 256, 4096 };
	size_t status_len, len;
	char *msg, *status;
	bool ready = false;
	int rc;

	if (size == 0 || size > 4097)
		return 0;
	status_len = sizes[data[0] % (sizeof(sizes) / sizeof(sizes[0]))];
	len = size - 1;
	msg = malloc(len ? len : 1);
	status = malloc(status_len);
	if (!msg || !status)
		abort();
	memcpy(msg, data + 1, len);
	status[0] = '\0';
	rc = ready_parse_notify(msg, len, &ready, status, status_len);
	if (rc != 0 && rc != -1)
		broken("a return other than 0 and -1");
	if (!memchr(status, '\0', status_len))
		broken("a STATUS= text not terminated within its buffer");
	if (rc == 0 && ready && !memmem(msg, len, "READY=1", 7))
		broken("ready without READY=1");
	free(msg);
	free(status);
	return 0;
}
