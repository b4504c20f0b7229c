/*
 * http.h: the control server (http.c): HTTP/1.1 over the Unix socket
 * and the optional TCP port, served by the event loop; and what its
 * views (api.c, xmlrpc.c, web.c) use to answer.
 */
#ifndef TEND_HTTP_H
#define TEND_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct config;
struct conn;
struct prog_op;

/* A request, parsed strictly; every string is NUL-terminated. */
struct http_request {
	char method[8];
	char *path;			/* percent-decoded, without the query */
	char *query;			/* after '?', raw; "" when none */
	int minor;			/* HTTP/1.minor */
	bool keep_alive;
	const char *body;
	size_t body_len;
	const char *host, *origin, *content_type, *accept_encoding;
	bool tcp;			/* came over the TCP port */
	bool may_act;			/* may change state (credentials) */
};

/* Whether a comma-separated header value lists token (any case). */
bool http_has_token(const char *value, const char *token);

/* Listens as the configuration says; a failure is a warning, never fatal. */
void http_setup(const struct config *c);
/* At a reload: the control socket, if it could not be made or is gone. */
void http_retry(void);
/* Replies still being written, at the end of a shutdown. */
bool http_pending(void);
/* At exit: the last writes, then the sockets closed and removed. */
void http_finish(void);

/*
 * Answering. A handler writes the body into http_body(c), then sends it
 * with http_send (Content-Length is counted); extra header lines go
 * first through http_header. http_error answers with a short text body.
 */
struct buf *http_body(struct conn *c);
void http_header(struct conn *c, const char *line);
void http_send(struct conn *c, int status, const char *type);
void http_error(struct conn *c, int status, const char *message);

/*
 * A reply that waits for an operation: the connection stops reading,
 * and the op's done (which has c as its ctx) answers later. A client
 * that goes away meanwhile cancels the op.
 */
void http_park(struct conn *c, struct prog_op *op);
/* In the op's done: the connection it was parked on, to answer. */
struct conn *http_unpark(struct prog_op *op);

/*
 * Where the head of the request at in[0] ends: after its blank line,
 * once the blank lines before the request line are skipped; 0 while it
 * is not all there.
 */
size_t http_head_end(const char *in, size_t len);

/*
 * The parser, strict and bounded, on a whole head of len bytes (it
 * writes into buf): 200, or the status to refuse it with. Exposed for
 * the tests and the fuzzer.
 */
int http_parse_head(char *buf, size_t len, struct http_request *r,
    size_t *head_len, size_t *body_len, const char **auth);

/*
 * A reply without an end (tail -f of a log file): the head and start go
 * now, then every write to path follows, chunked under HTTP/1.1.
 */
void http_stream(struct conn *c, const char *path, const char *start,
    size_t len);

/* The handlers, each in the file of its view. */
void api_handle(struct conn *c, const struct http_request *r);
void api_health(struct conn *c, const struct http_request *r);
void api_metrics(struct conn *c, const struct http_request *r);
void xmlrpc_handle(struct conn *c, const struct http_request *r);
void web_page(struct conn *c, const struct http_request *r);
void web_logtail(struct conn *c, const struct http_request *r);
void ctl_handle(struct conn *c, const struct http_request *r);

#endif
