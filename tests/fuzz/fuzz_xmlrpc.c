/*
 * fuzz_xmlrpc.c: xmlrpc_parse on a request body, in a buffer of
 * exactly its size, as xmlrpc_handle parses the body of POST /RPC2.
 * An accepted call must have a method name and a tree of values that
 * holds what xmlrpc.h says: at most XML_DEPTH deep and XML_VALUES in
 * all, counts that match the lists, ints of 32 bits, booleans 0 or 1,
 * every string NUL-terminated; and the arena goes back to empty.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../config.h"
#include "../../mem.h"
#include "../../xmlrpc.h"

static void
broken(const char *what)
{
	fprintf(stderr, "fuzz_xmlrpc: broken promise: %s\n", what);
	abort();
}

static size_t
walk(const struct xval *v, int depth, int in_struct)
{
	const struct xval *item;
	size_t count = 1, n = 0;

	if (depth > XML_DEPTH + 1)
		broken("values nested past XML_DEPTH");
	if (in_struct && !v->name)
		broken("a struct member without a name");
	if (v->name)
		(void)strlen(v->name);
	switch (v->type) {
	case XV_STRING:
		if (!v->s)
			broken("a string without text");
		(void)strlen(v->s);
		break;
	case XV_INT:
	case XV_BOOL:
		if (v->i < -2147483648LL || v->i > 2147483647LL)
			broken("an int past 32 bits");
		if (v->type == XV_BOOL && v->i != 0 && v->i != 1)
			broken("a boolean other than 0 and 1");
		break;
	case XV_ARRAY:
	case XV_STRUCT:
		for (item = v->first; item; item = item->next, n++)
			count += walk(item, depth + 1, v->type == XV_STRUCT);
		if (n != v->n)
			broken("a count that does not match its list");
		break;
	default:
		broken("a value of no type");
	}
	return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static size_t baseline = (size_t)-1;
	struct arena a = { 0 };
	struct xval params;
	char *body, *method = NULL;
	int rc;

	if (size > HTTP_BODY_MAX)
		return 0;
	if (baseline == (size_t)-1)
		baseline = arena_mapped();
	if (!(body = malloc(size ? size : 1)))
		return 0;
	memcpy(body, data, size);
	rc = xmlrpc_parse(body, size, &a, &method, &params);
	if (rc == 0) {
		size_t n;

		if (!method)
			broken("a call without a method name");
		(void)strlen(method);
		if (params.type != XV_ARRAY)
			broken("params that are not an array");
		n = walk(&params, 0, 0);
		if (n - 1 > XML_VALUES)
			broken("more than XML_VALUES values");
	} else if (rc != -1 && rc != -2) {
		broken("a return other than 0, -1 and -2");
	}
	arena_release(&a);
	if (arena_mapped() != baseline)
		broken("the arena was not emptied");
	free(body);
	return 0;
}
