/*
 * fuzz_http.c: http_parse_head, the control server's request parser,
 * fed as http.c's handle_input feeds it: the head up to its blank line
 * (found by http_head_end), at most HTTP_HEAD_MAX bytes, without a
 * NUL, in a buffer of exactly that size. An accepted request must
 * agree with http_head_end on where the head ends, and have a method, a
 * path, a bounded body and NUL-terminated header values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../config.h"
#include "../../http.h"

static void
broken(const char *what)
{
	fprintf(stderr, "fuzz_http: broken promise: %s\n", what);
	abort();
}

static void
check_string(const char *s, const char *buf, size_t len)
{
	if (s && (s < buf || s >= buf + len) && strcmp(s, "cross-site"))
		broken("a header value outside the head");
	if (s)
		(void)strlen(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request r;
	size_t end, head_len = 0, body_len = 0;
	const char *auth, *p;
	char *buf;
	int status;

	if (size > HTTP_HEAD_MAX + 1024)
		return 0;
	end = http_head_end((const char *)data, size);
	if (end == 0 || end > HTTP_HEAD_MAX || memchr(data, '\0', end))
		return 0;	/* the server answers 431 or 400 itself */
	if (!(buf = malloc(end)))
		return 0;
	memcpy(buf, data, end);
	status = http_parse_head(buf, end, &r, &head_len, &body_len, &auth);
	switch (status) {
	case 200:
		if (head_len != end)
			broken("the parser and http_head_end disagree on the head");
		if (body_len > HTTP_BODY_MAX)
			broken("a body past HTTP_BODY_MAX");
		if (!r.method[0] || strlen(r.method) >= sizeof(r.method))
			broken("no method");
		for (p = r.method; *p; p++)
			if (*p < 'A' || *p > 'Z')
				broken("a method that is not upper case");
		if (!r.path || r.path[0] != '/' || !r.query)
			broken("no path or query");
		if (r.minor != 0 && r.minor != 1)
			broken("an HTTP version other than 1.0 and 1.1");
		check_string(r.path, buf, end);
		check_string(r.query, buf, end);
		check_string(r.host, buf, end);
		check_string(r.origin, buf, end);
		check_string(r.content_type, buf, end);
		check_string(r.accept_encoding, buf, end);
		check_string(auth, buf, end);
		(void)http_has_token(r.accept_encoding, "gzip");
		(void)http_has_token(r.host, "x");
		break;
	case 400: case 413: case 431: case 501: case 505:
		break;
	default:
		/* 0 means "not all there": http_head_end said it is */
		broken("a status the server does not answer with");
	}
	free(buf);
	return 0;
}
