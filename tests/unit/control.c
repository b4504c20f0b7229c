/*
 * control.c: fast tests of the control plane's parsers and writers: the
 * HTTP request head, the XML-RPC methodCall, notify messages, HOST:PORT
 * and name lists, the JSON, XML and HTML escapers, and string maps.
 * Linked against tend's objects (without init.o, whose few functions
 * the control plane calls are stubbed here). Prints one line per
 * failure and a closing "N passed, N failed".
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "../../buf.h"
#include "../../http.h"
#include "../../init.h"
#include "../../mem.h"
#include "../../ready.h"
#include "../../values.h"
#include "../../xmlrpc.h"

static int passed, failed;

#define CHECK(cond) do {						\
	if (cond) {							\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);	\
	}								\
} while (0)

/* What init.c gives the control plane; none is called by these tests. */
struct config *tend_reread(int *errors) { *errors = 1; return NULL; }
void tend_apply(struct config *c, const char *const *g, size_t n)
{ (void)c; (void)g; (void)n; }
int tend_reload(void) { return -1; }
void tend_status(struct tend_status *st) { memset(st, 0, sizeof(*st)); }

/* ---- the HTTP head ----------------------------------------------------------- */

static struct http_request req;
static size_t head_len, body_len;
static const char *auth;
static char text[4096];

static int
parse(const char *head)
{
	size_t n = strlen(head);

	memcpy(text, head, n + 1);
	return http_parse_head(text, n, &req, &head_len, &body_len, &auth);
}

static void
test_http_requests(void)
{
	CHECK(parse("GET /api/v1/programs HTTP/1.1\r\nHost: tend\r\n\r\n") ==
	    200);
	CHECK(!strcmp(req.method, "GET") && !strcmp(req.path,
	    "/api/v1/programs") && req.minor == 1 && req.keep_alive);
	CHECK(!strcmp(req.host, "tend") && !*req.query && body_len == 0);
	CHECK(head_len == strlen("GET /api/v1/programs HTTP/1.1\r\nHost: "
	    "tend\r\n\r\n"));
	/* supervisorctl's POST, and a body length */
	CHECK(parse("POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
	    "text/xml\r\nContent-Length: 122\r\nAuthorization: Basic eDp5"
	    "\r\n\r\n") == 200);
	CHECK(body_len == 122 && !strcmp(req.content_type, "text/xml"));
	CHECK(auth && !strcmp(auth, "Basic eDp5"));
	/* bare LF line ends, and blank lines before the request line */
	CHECK(parse("\r\n\nGET / HTTP/1.0\nConnection: keep-alive\n\n") == 200);
	CHECK(req.minor == 0 && req.keep_alive);
	CHECK(parse("GET / HTTP/1.0\r\n\r\n") == 200 && !req.keep_alive);
	CHECK(parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n") == 200 &&
	    !req.keep_alive);
	CHECK(parse("GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n")
	    == 200 && !req.keep_alive);
	/* the query is apart, the path percent-decoded */
	CHECK(parse("GET /logtail/pool%3Aw1/stderr?x=1 HTTP/1.1\r\n\r\n") ==
	    200);
	CHECK(!strcmp(req.path, "/logtail/pool:w1/stderr") &&
	    !strcmp(req.query, "x=1"));
	CHECK(parse("GET /a%00b HTTP/1.1\r\n\r\n") == 400);
	CHECK(parse("GET /a%zz HTTP/1.1\r\n\r\n") == 400);
	/* what is not understood is refused, never guessed */
	CHECK(parse("GARBAGE\r\n\r\n") == 400);
	CHECK(parse("get / HTTP/1.1\r\n\r\n") == 400);
	CHECK(parse("GET noslash HTTP/1.1\r\n\r\n") == 400);
	CHECK(parse("GET / HTTP/2.0\r\n\r\n") == 505);
	CHECK(parse("GET / FTP/1.0\r\n\r\n") == 400);
	CHECK(parse("GET /\r\n\r\n") == 400);
	CHECK(parse("TOOLONGMETHOD / HTTP/1.1\r\n\r\n") == 400);
	CHECK(parse("GET / HTTP/1.1\r\n folded: no\r\n\r\n") == 400);
	CHECK(parse("GET / HTTP/1.1\r\nno colon\r\n\r\n") == 400);
	CHECK(parse("GET / HTTP/1.1\r\nbad name: x\r\n\r\n") == 400);
	CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") ==
	    501);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n") == 400);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6"
	    "\r\n\r\n") == 400);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5"
	    "\r\n\r\n") == 200);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n") ==
	    413);
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n") == 0);	/* not whole */
	{
		char many[4096];
		size_t n = (size_t)sprintf(many, "GET / HTTP/1.1\r\n");
		int i;

		for (i = 0; i < 65; i++)
			n += (size_t)sprintf(many + n, "X-%d: y\r\n", i);
		strcpy(many + n, "\r\n");
		CHECK(parse(many) == 400);
	}
	/* a browser's cross-site request is flagged */
	CHECK(parse("POST / HTTP/1.1\r\nSec-Fetch-Site: cross-site\r\n\r\n") ==
	    200 && !strcmp(req.origin, "cross-site"));
	CHECK(http_has_token("gzip, deflate, br", "gzip"));
	CHECK(http_has_token("br,GZIP;q=1", "gzip"));
	CHECK(!http_has_token("gzipped", "gzip"));
	CHECK(!http_has_token(NULL, "gzip"));
}

/* ---- XML-RPC --------------------------------------------------------------------- */

static struct arena xarena;
static char xml[8192];
static char *method;
static struct xval params;

static int
xparse(const char *body)
{
	size_t n = strlen(body);

	memcpy(xml, body, n + 1);
	return xmlrpc_parse(xml, n, &xarena, &method, &params);
}

static void
test_xmlrpc(void)
{
	const struct xval *v;

	/* supervisorctl's own call, byte for byte */
	CHECK(xparse("<?xml version='1.0'?>\n<methodCall>\n<methodName>"
	    "supervisor.startProcess</methodName>\n<params>\n<param>\n<value>"
	    "<string>web</string></value>\n</param>\n</params>\n"
	    "</methodCall>\n") == 0);
	CHECK(!strcmp(method, "supervisor.startProcess") && params.n == 1);
	CHECK(params.first->type == XV_STRING && !strcmp(params.first->s,
	    "web"));
	CHECK(xparse("<methodCall><methodName>x.y</methodName></methodCall>") ==
	    0 && params.n == 0);
	CHECK(xparse("<methodCall><methodName>m.n</methodName><params>"
	    "<param><value><int>-42</int></value></param>"
	    "<param><value><i4>7</i4></value></param>"
	    "<param><value><boolean>1</boolean></value></param>"
	    "<param><value>untyped &amp; &lt;ok&gt;</value></param>"
	    "</params></methodCall>") == 0);
	v = params.first;
	CHECK(v->type == XV_INT && v->i == -42);
	CHECK(v->next->type == XV_INT && v->next->i == 7);
	CHECK(v->next->next->type == XV_BOOL && v->next->next->i == 1);
	CHECK(v->next->next->next->type == XV_STRING &&
	    !strcmp(v->next->next->next->s, "untyped & <ok>"));
	CHECK(xparse("<methodCall><methodName>m.n</methodName><params><param>"
	    "<value><array><data><value><string>a</string></value><value>"
	    "<struct><member><name>k</name><value><int>1</int></value>"
	    "</member></struct></value></data></array></value></param>"
	    "</params></methodCall>") == 0);
	v = params.first;
	CHECK(v->type == XV_ARRAY && v->n == 2 && v->first->next->type ==
	    XV_STRUCT && !strcmp(v->first->next->first->name, "k"));
	/* an empty string, and entities that make nothing shorter */
	CHECK(xparse("<methodCall><methodName>m.n</methodName><params><param>"
	    "<value><string></string></value></param></params></methodCall>") ==
	    0 && !strcmp(params.first->s, ""));
	/* what tend does not take */
	CHECK(xparse("<methodCall><methodName>m.n</methodName><params><param>"
	    "<value><double>1.5</double></value></param></params>"
	    "</methodCall>") == -2);
	CHECK(xparse("<methodCall><methodName>m.n</methodName><params><param>"
	    "<value><nil/></value></param></params></methodCall>") == -1 ||
	    xparse("<methodCall><methodName>m.n</methodName><params><param>"
	    "<value><nil/></value></param></params></methodCall>") == -2);
	CHECK(xparse("<methodCall><methodName>m.n</methodName><params><param>"
	    "<value><int>99999999999</int></value></param></params>"
	    "</methodCall>") == -1);
	CHECK(xparse("<methodCall><methodName>m.n</methodName><params><param>"
	    "<value><boolean>2</boolean></value></param></params>"
	    "</methodCall>") == -1);
	CHECK(xparse("<methodCall><methodName>m.n</methodName><params><param>"
	    "<value><string>&bogus;</string></value></param></params>"
	    "</methodCall>") == -1);
	CHECK(xparse("<methodCall><methodName>m.n</methodName>") == -1);
	CHECK(xparse("<methodCall><methodName>m.n</methodName></methodCall>x")
	    == -1);
	CHECK(xparse("not xml at all") == -1);
	CHECK(xparse("") == -1);
	{
		/* nesting deeper than XML_DEPTH is refused */
		char deep[4096] = "<methodCall><methodName>m.n</methodName>"
		    "<params><param>";
		int i;

		for (i = 0; i < XML_DEPTH + 2; i++)
			strcat(deep, "<value><array><data>");
		for (i = 0; i < XML_DEPTH + 2; i++)
			strcat(deep, "</data></array></value>");
		strcat(deep, "</param></params></methodCall>");
		CHECK(xparse(deep) == -1);
	}
	arena_release(&xarena);
}

/* ---- notify ------------------------------------------------------------------------ */

static void
test_notify(void)
{
	char status[16];
	bool ready;

	CHECK(ready_parse_notify("READY=1", 7, &ready, status, sizeof(status))
	    == 0 && ready);
	status[0] = '\0';
	CHECK(ready_parse_notify("STATUS=loading\nREADY=0\n", 23, &ready,
	    status, sizeof(status)) == 0 && !ready &&
	    !strcmp(status, "loading"));
	CHECK(ready_parse_notify("STOPPING=1\nX_CUSTOM=y\n\nREADY=1\n", 30,
	    &ready, status, sizeof(status)) == 0 && ready);
	CHECK(ready_parse_notify("STATUS=a status longer than room", 32,
	    &ready, status, sizeof(status)) == 0 &&
	    strlen(status) == sizeof(status) - 1);
	CHECK(ready_parse_notify("READY", 5, &ready, status, sizeof(status))
	    == -1);
	CHECK(ready_parse_notify("=1", 2, &ready, status, sizeof(status)) ==
	    -1);
	CHECK(ready_parse_notify("", 0, &ready, status, sizeof(status)) == 0 &&
	    !ready);
}

/* ---- values ------------------------------------------------------------------------ */

static void
test_inet_and_names(void)
{
	struct inet_addr a;
	const char **names;
	const char *err;
	struct arena ar = { 0 };

	CHECK(val_inet("127.0.0.1:9001", false, &a, &err) == 0 &&
	    a.u.sa.sa_family == AF_INET && ntohs(a.u.in.sin_port) == 9001);
	CHECK(val_inet("localhost:80", false, &a, &err) == 0 &&
	    a.u.in.sin_addr.s_addr == htonl(0x7f000001));
	CHECK(val_inet("[::1]:8080", false, &a, &err) == 0 &&
	    a.u.sa.sa_family == AF_INET6);
	CHECK(val_inet(":9001", true, &a, &err) == 0 &&
	    a.u.in.sin_addr.s_addr == 0);
	CHECK(val_inet("*:9001", true, &a, &err) == 0);
	CHECK(val_inet("9001", true, &a, &err) == 0);
	CHECK(val_inet("9001", false, &a, &err) < 0);
	CHECK(val_inet(":9001", false, &a, &err) < 0);
	CHECK(val_inet("example.com:80", false, &a, &err) < 0);
	CHECK(val_inet("127.0.0.1:0", false, &a, &err) < 0);
	CHECK(val_inet("127.0.0.1:65536", false, &a, &err) < 0);
	CHECK(val_inet("127.0.0.1:80x", false, &a, &err) < 0);
	CHECK(val_names(&ar, " db , cache,,web ", &names, &err) == 3 &&
	    !strcmp(names[0], "db") && !strcmp(names[1], "cache") &&
	    !strcmp(names[2], "web"));
	CHECK(val_names(&ar, "", &names, &err) == 0);
	CHECK(val_names(&ar, "a b", &names, &err) < 0);
	CHECK(val_names(&ar, "g:x", &names, &err) < 0);
	arena_release(&ar);
}

/* ---- writers ------------------------------------------------------------------------- */

static bool
wrote(struct buf *b, const char *want)
{
	bool ok = b->len == strlen(want) && !memcmp(b->data, want, b->len);

	if (!ok)
		printf("  wrote \"%.*s\"\n", (int)b->len, b->data);
	buf_free(b);
	buf_init(b, 0);
	return ok;
}

static void
test_writers(void)
{
	struct buf b;

	buf_init(&b, 0);
	buf_json(&b, "a\"b\\c\n\t\x01\x7f");
	CHECK(wrote(&b, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\""));
	buf_json(&b, NULL);
	CHECK(wrote(&b, "null"));
	buf_json(&b, "caf\xc3\xa9 \xff");	/* a stray byte becomes U+FFFD */
	CHECK(wrote(&b, "\"caf\xc3\xa9 \xef\xbf\xbd\""));
	buf_xml(&b, "<a & b>\x01\t", 9);
	CHECK(wrote(&b, "&lt;a &amp; b&gt;\xef\xbf\xbd\t"));
	buf_xml(&b, "\xe2\x82", 2);		/* a cut sequence */
	CHECK(wrote(&b, "\xef\xbf\xbd\xef\xbf\xbd"));
	buf_xml(&b, "\xed\xa0\x80", 3);	/* a surrogate is not UTF-8 */
	CHECK(wrote(&b, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"));
	buf_html(&b, "<img src=x onerror=\"alert('1')\">");
	CHECK(wrote(&b, "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;"
	    "&gt;"));
	/* a buffer past its limit fails and keeps nothing more */
	buf_free(&b);
	buf_init(&b, 8192);
	buf_put(&b, xml, 8000);
	buf_put(&b, xml, 8000);
	CHECK(b.failed && b.len == 8000);
	buf_free(&b);
}

static void
test_strmap(void)
{
	struct arena a = { 0 };
	struct strmap m = { .arena = &a };
	char keys[1000][8];
	int i, ok = 1;

	for (i = 0; i < 1000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		ok &= strmap_put(&m, keys[i], strlen(keys[i]),
		    (void *)(long)(i + 1)) == 0;
	}
	CHECK(ok && m.n == 1000);
	for (i = 0; i < 1000; i++)
		ok &= strmap_get(&m, keys[i], strlen(keys[i])) ==
		    (void *)(long)(i + 1);
	CHECK(ok);
	CHECK(strmap_get(&m, "k10", 2) == (void *)2L);	/* "k1" */
	CHECK(!strmap_get(&m, "nope", 4));
	CHECK(strmap_put(&m, "k5", 2, (void *)7L) == 0 && m.n == 1000 &&
	    strmap_get(&m, "k5", 2) == (void *)7L);
	strmap_clear(&m);
	CHECK(m.n == 0 && !strmap_get(&m, "k5", 2));
	arena_release(&a);
}

int
main(void)
{
	test_http_requests();
	test_xmlrpc();
	test_notify();
	test_inet_and_names();
	test_writers();
	test_strmap();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
