/*
 * xmlrpc.h: the XML-RPC request parser (xmlrpc.c), exposed for the
 * tests and the fuzzer.
 */
#ifndef TEND_XMLRPC_H
#define TEND_XMLRPC_H

#include <stdbool.h>
#include <stddef.h>

#include "mem.h"

/* Nesting and count limits of one request's values. */
#define XML_DEPTH 8
#define XML_VALUES 4096

enum xval_type { XV_STRING, XV_INT, XV_BOOL, XV_ARRAY, XV_STRUCT };

/* A parsed value; arrays and structs list their items (first, next). */
struct xval {
	enum xval_type type;
	char *s;			/* XV_STRING, and an int's text */
	long long i;			/* XV_INT, XV_BOOL */
	char *name;			/* a struct member's name */
	struct xval *first, *next;
	size_t n;
};

/*
 * Parses a methodCall in place (body is written to): 0 with the method
 * name and its params (an array), -1 for what is not a methodCall, -2
 * for a type tend does not take (double, base64, dateTime, nil).
 */
int xmlrpc_parse(char *body, size_t len, struct arena *a, char **method,
    struct xval *params);

#endif
