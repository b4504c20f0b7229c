/*
 * xmlrpc.c: supervisord's XML-RPC interface at POST /RPC2, with its
 * structures, state codes and fault codes, so that supervisorctl, the
 * Datadog agent and the Prometheus exporters work unchanged.
 *
 * tend has no XML library: the parser reads only what a methodCall of
 * these methods holds (string, int, i4, boolean, an untyped value, array
 * and struct), with limits on depth and size, and
 * refuses the rest with a fault or a 400, never a crash. Replies are
 * rendered straight into the output, in xmlrpc.client's layout; text is
 * escaped so that the reply stays valid XML even for control bytes in a
 * log, which supervisord gets wrong.
 *
 * start and stop hold their reply until the processes got there, as
 * supervisord does, through a parked connection (http.c): the loop goes
 * on meanwhile.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fmt.h"
#include "http.h"
#include "init.h"
#include "mem.h"
#include "prog.h"
#include "sig.h"
#include "xmlrpc.h"

/* The longest log text one read returns. */
#define LOG_READ_MAX (1024 * 1024)

/* ---- parsing --------------------------------------------------------------- */

struct xml_parser {
	char *p, *end;
	struct arena *arena;
	int nvalues;
};

static void
skip_space(struct xml_parser *x)
{
	while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' ||
	    *x->p == '\r' || *x->p == '\n'))
		x->p++;
}

/* Past the next close (of n bytes) after the opening of m, or to the end. */
static void
skip_past(struct xml_parser *x, size_t m, const char *close, size_t n)
{
	for (x->p += m; x->end - x->p >= (long)n; x->p++)
		if (!memcmp(x->p, close, n)) {
			x->p += n;
			return;
		}
	x->p = x->end;
}

/* Skips blanks, comments and the <?xml ...?> declaration. */
static void
skip_misc(struct xml_parser *x)
{
	for (;;) {
		skip_space(x);
		if (x->end - x->p >= 4 && !memcmp(x->p, "<!--", 4))
			skip_past(x, 4, "-->", 3);
		else if (x->end - x->p >= 2 && !memcmp(x->p, "<?", 2))
			skip_past(x, 2, "?>", 2);
		else
			return;
	}
}

/* "<name>" (kind 0), "</name>" (1) or "<name/>" (2); attributes refused. */
static int
tag(struct xml_parser *x, char *name, size_t len)
{
	int kind = 0;
	size_t n = 0;

	skip_misc(x);
	if (x->p >= x->end || *x->p != '<')
		return -1;
	x->p++;
	if (x->p < x->end && *x->p == '/') {
		kind = 1;
		x->p++;
	}
	while (x->p < x->end && *x->p != '>' && *x->p != '/' &&
	    *x->p != ' ') {
		if (n + 1 >= len)
			return -1;
		name[n++] = *x->p++;
	}
	name[n] = '\0';
	skip_space(x);
	if (x->p < x->end && *x->p == '/' && kind == 0) {
		kind = 2;
		x->p++;
	}
	if (x->p >= x->end || *x->p != '>' || n == 0)
		return -1;
	x->p++;
	return kind;
}

static bool
open_tag(struct xml_parser *x, const char *want)
{
	char name[32];
	char *at = x->p;

	if (tag(x, name, sizeof(name)) == 0 && !strcmp(name, want))
		return true;
	x->p = at;
	return false;
}

static bool
close_tag(struct xml_parser *x, const char *want)
{
	char name[32];

	return tag(x, name, sizeof(name)) == 1 && !strcmp(name, want);
}

/* Text up to the next '<', entities decoded in place; NULL if invalid. */
static char *
text(struct xml_parser *x)
{
	char *start = x->p, *o = x->p;

	while (x->p < x->end && *x->p != '<') {
		char *semi;
		unsigned long long code;
		const char *d;

		if (*x->p != '&') {
			*o++ = *x->p++;
			continue;
		}
		if (!(semi = memchr(x->p, ';', (size_t)(x->end - x->p))) ||
		    semi - x->p > 10)
			return NULL;
		*semi = '\0';
		d = x->p + 1;
		if (!strcmp(d, "amp"))
			*o++ = '&';
		else if (!strcmp(d, "lt"))
			*o++ = '<';
		else if (!strcmp(d, "gt"))
			*o++ = '>';
		else if (!strcmp(d, "quot"))
			*o++ = '"';
		else if (!strcmp(d, "apos"))
			*o++ = '\'';
		else if (*d == '#' && d[1] != 'x' && (d++, val_digits(&d, 10,
		    127, &code) == 0) && !*d && code)
			*o++ = (char)code;	/* the ASCII ones are enough */
		else
			return NULL;
		x->p = semi + 1;
	}
	if (x->p >= x->end)
		return NULL;
	/* the '<' that ends it stays; the text ends before it */
	if (o < x->p)
		*o = '\0';
	else if (o == x->p) {
		/* nothing decoded: the text ends right at '<': copy out */
		char *copy = arena_strndup(x->arena, start, (size_t)(o - start));

		return copy;
	}
	return start;
}

static int parse_value(struct xml_parser *x, struct xval *v, int depth);

/* Whether the next tag closes want; consumed only if it does. */
static bool
close_tag_ahead(struct xml_parser *x, const char *want)
{
	char *at = x->p;

	if (close_tag(x, want))
		return true;
	x->p = at;
	return false;
}

static int
parse_array(struct xml_parser *x, struct xval *v, int depth)
{
	struct xval **tail = &v->first;

	if (!open_tag(x, "data"))
		return -1;
	while (!close_tag_ahead(x, "data")) {
		struct xval *item = arena_alloc(x->arena, sizeof(*item));

		if (!item || parse_value(x, item, depth + 1) < 0)
			return -1;
		*tail = item;
		tail = &item->next;
		v->n++;
	}
	return close_tag(x, "array") ? 0 : -1;
}

static int
parse_struct(struct xml_parser *x, struct xval *v, int depth)
{
	struct xval **tail = &v->first;

	while (open_tag(x, "member")) {
		struct xval *item = arena_alloc(x->arena, sizeof(*item));

		if (!item || !open_tag(x, "name") || !(item->name = text(x)) ||
		    !close_tag(x, "name") || parse_value(x, item, depth + 1) < 0 ||
		    !close_tag(x, "member"))
			return -1;
		*tail = item;
		tail = &item->next;
		v->n++;
	}
	return close_tag(x, "struct") ? 0 : -1;
}

/* <value>...</value>, at most XML_DEPTH deep and XML_VALUES in all. */
static int
parse_value(struct xml_parser *x, struct xval *v, int depth)
{
	char name[32], *at, *t;
	const char *q;
	unsigned long long n;
	bool negative;
	int kind;

	if (depth > XML_DEPTH || ++x->nvalues > XML_VALUES ||
	    !open_tag(x, "value"))
		return -1;
	at = x->p;
	kind = tag(x, name, sizeof(name));
	if (kind != 0) {
		/* an untyped value is a string */
		x->p = at;
		v->type = XV_STRING;
		if (!(v->s = text(x)))
			return -1;
		return close_tag(x, "value") ? 0 : -1;
	}
	if (!strcmp(name, "array")) {
		v->type = XV_ARRAY;
		if (parse_array(x, v, depth) < 0)
			return -1;
	} else if (!strcmp(name, "struct")) {
		v->type = XV_STRUCT;
		if (parse_struct(x, v, depth) < 0)
			return -1;
	} else if (!strcmp(name, "string") || !strcmp(name, "int") ||
	    !strcmp(name, "i4") || !strcmp(name, "boolean")) {
		if (!(t = text(x)) || !close_tag(x, name))
			return -1;
		v->type = name[0] == 's' ? XV_STRING : name[0] == 'b' ?
		    XV_BOOL : XV_INT;
		v->s = t;
		if (v->type != XV_STRING) {
			for (q = t; *q == ' ' || *q == '\n'; q++)
				;
			negative = *q == '-';
			q += negative || *q == '+';
			if (val_digits(&q, 10, 1ULL << 31, &n) < 0)
				return -1;
			while (*q == ' ' || *q == '\n')
				q++;
			if (*q || (!negative && n > 0x7fffffff))
				return -1;
			v->i = negative ? -(long long)n : (long long)n;
			if (v->type == XV_BOOL && v->i != 0 && v->i != 1)
				return -1;
		}
	} else {
		return -2;	/* double, base64, dateTime, nil: not taken */
	}
	return close_tag(x, "value") ? 0 : -1;
}

int
xmlrpc_parse(char *body, size_t len, struct arena *a, char **method,
    struct xval *params)
{
	struct xml_parser x = { body, body + len, a, 0 };
	struct xval **tail = &params->first;
	int rc;

	memset(params, 0, sizeof(*params));
	params->type = XV_ARRAY;
	if (!open_tag(&x, "methodCall") || !open_tag(&x, "methodName") ||
	    !(*method = text(&x)) || !close_tag(&x, "methodName"))
		return -1;
	if (open_tag(&x, "params")) {
		while (open_tag(&x, "param")) {
			struct xval *v = arena_alloc(a, sizeof(*v));

			if (!v)
				return -1;
			if ((rc = parse_value(&x, v, 0)) < 0)
				return rc;
			if (!close_tag(&x, "param"))
				return -1;
			*tail = v;
			tail = &v->next;
			params->n++;
		}
		if (!close_tag(&x, "params"))
			return -1;
	}
	if (!close_tag(&x, "methodCall"))
		return -1;
	skip_misc(&x);
	return x.p == x.end ? 0 : -1;
}

/* ---- rendering ---------------------------------------------------------------- */

static void
x_string(struct buf *b, const char *s)
{
	buf_puts(b, "<value><string>");
	buf_xml(b, s, strlen(s));
	buf_puts(b, "</string></value>\n");
}

static void
x_int(struct buf *b, long long v)
{
	/* supervisord caps times at 2^31 - 1: the format has no larger int */
	if (v > 0x7fffffff)
		v = 0x7fffffff;
	buf_printf(b, "<value><int>%lld</int></value>\n", v);
}

static void
x_bool(struct buf *b, bool v)
{
	buf_printf(b, "<value><boolean>%d</boolean></value>\n", v);
}

static void
x_member(struct buf *b, const char *name)
{
	buf_printf(b, "<member>\n<name>%s</name>\n", name);
}

#define X_END_MEMBER(b) buf_puts(b, "</member>\n")

static void
m_string(struct buf *b, const char *name, const char *v)
{
	x_member(b, name);
	x_string(b, v);
	X_END_MEMBER(b);
}

static void
m_int(struct buf *b, const char *name, long long v)
{
	x_member(b, name);
	x_int(b, v);
	X_END_MEMBER(b);
}

static void
m_bool(struct buf *b, const char *name, bool v)
{
	x_member(b, name);
	x_bool(b, v);
	X_END_MEMBER(b);
}

#define X_ARRAY(b) buf_puts(b, "<value><array><data>\n")
#define X_END_ARRAY(b) buf_puts(b, "</data></array></value>\n")
#define X_STRUCT(b) buf_puts(b, "<value><struct>\n")
#define X_END_STRUCT(b) buf_puts(b, "</struct></value>\n")

static const char response_head[] =
    "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n";
static const char response_tail[] = "</param>\n</params>\n</methodResponse>\n";

static void
x_fault(struct buf *b, int code, const char *message)
{
	X_STRUCT(b);
	m_int(b, "faultCode", code);
	m_string(b, "faultString", message);
	X_END_STRUCT(b);
}

static void
send_fault(struct conn *c, int code, const char *message)
{
	struct buf *b = http_body(c);

	buf_puts(b, "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n");
	x_fault(b, code, message);
	buf_puts(b, "</fault>\n</methodResponse>\n");
	http_send(c, 200, "text/xml");
}

/* ---- methods ------------------------------------------------------------------- */

struct call {
	struct conn *c;
	struct buf *b;			/* the value goes here */
	struct xval *arg[3];
	int nargs;
	bool nowait;			/* wait=false */
	bool parked;			/* the answer comes later */
	bool may_act;
	int fault;			/* 0: none */
	char message[256];
};

static void fault(struct call *cl, int code, const char *fmt, ...)
    PRINTF(3, 4);

static void
fault(struct call *cl, int code, const char *fmt, ...)
{
	va_list ap;

	cl->fault = code;
	va_start(ap, fmt);
	fmt_vsnprintf(cl->message, sizeof(cl->message), fmt, ap);
	va_end(ap);
}

static const char *
log_path(const struct log_target *t)
{
	return t->kind == LOG_FILE ? t->path : "";
}

/* supervisord's process struct: 14 members, in its order and types. */
static void
process_struct(struct buf *b, const struct proc *p)
{
	struct prog_info in;
	long long now = time(NULL);

	prog_info(p, &in);
	X_STRUCT(b);
	m_string(b, "name", in.name);
	m_string(b, "group", in.group);
	m_int(b, "start", in.start);
	m_int(b, "stop", in.stop);
	m_int(b, "now", now);
	m_int(b, "state", prog_state_code(in.state));
	m_string(b, "statename", prog_state_name(in.state));
	m_string(b, "spawnerr", in.spawnerr);
	m_int(b, "exitstatus", in.exitstatus);
	m_string(b, "logfile", log_path(&in.conf->out));
	m_string(b, "stdout_logfile", log_path(&in.conf->out));
	m_string(b, "stderr_logfile", log_path(&in.conf->err));
	m_int(b, "pid", in.pid);
	m_string(b, "description", in.description);
	X_END_STRUCT(b);
}

static void
get_all_process_info(struct call *cl)
{
	struct proc *p;
	size_t i;

	X_ARRAY(cl->b);
	for (i = 0; (p = prog_at(i)) != NULL; i++)
		process_struct(cl->b, p);
	X_END_ARRAY(cl->b);
}

static void
get_process_info(struct call *cl)
{
	struct proc *p = prog_find(cl->arg[0]->s, false);

	if (!p)
		return fault(cl, RESULT_BAD_NAME, "BAD_NAME: %s", cl->arg[0]->s);
	process_struct(cl->b, p);
}

static void
api_version(struct call *cl)
{
	x_string(cl->b, "3.0");	/* what supervisorctl insists on */
}

static void
supervisor_version(struct call *cl)
{
	x_string(cl->b, TEND_VERSION);
}

static void
identification(struct call *cl)
{
	x_string(cl->b, "tend");
}

static void
get_state(struct call *cl)
{
	X_STRUCT(cl->b);
	m_int(cl->b, "statecode", 1);
	m_string(cl->b, "statename", "RUNNING");
	X_END_STRUCT(cl->b);
}

static void
get_pid(struct call *cl)
{
	x_int(cl->b, getpid());
}

static void
put_results(struct buf *b, const struct prog_op *op)
{
	size_t i;

	X_ARRAY(b);
	for (i = 0; i < op->n; i++) {
		const struct op_item *it = &op->items[i];

		X_STRUCT(b);
		m_string(b, "name", it->name);
		m_string(b, "group", it->group);
		m_int(b, "status", it->result);
		m_string(b, "description", it->result == RESULT_SUCCESS ? "OK" :
		    it->message);
		X_END_STRUCT(b);
	}
	X_END_ARRAY(b);
}

/* A single process: true, or the fault; several: the results array. */
static void
op_value(struct buf *b, const struct prog_op *op, int *code,
    const char **message)
{
	const struct op_item *it = op->n ? &op->items[0] : NULL;

	*code = 0;
	if (!op->single) {
		put_results(b, op);
		return;
	}
	if (it && it->result != RESULT_SUCCESS && it->result) {
		*code = it->result;
		*message = it->message;
		return;
	}
	x_bool(b, true);
}

static void
op_done(struct prog_op *op)
{
	struct conn *c = http_unpark(op);
	struct buf *b = http_body(c);
	const char *message = NULL;
	int code;

	buf_puts(b, response_head);
	op_value(b, op, &code, &message);
	if (code) {
		char text[192];

		fmt_snprintf(text, sizeof(text), "%s", message);
		prog_op_free(op);
		buf_free(b);
		send_fault(c, code, text);
		return;
	}
	buf_puts(b, response_tail);
	prog_op_free(op);
	http_send(c, 200, "text/xml");
}

/*
 * The start and stop methods. Without waiting, the answer says what
 * was refused at once, and the processes go on as asked.
 */
static void
run_op(struct call *cl, enum op_kind kind, const char *spec)
{
	struct prog_op *op;
	int result, code;
	const char *message = NULL;

	if (!(op = prog_op_start(kind, &spec, 1, false, op_done, cl->c,
	    &result)))
		return fault(cl, result, "%s", prog_result_name(result));
	if (!cl->nowait) {
		http_park(cl->c, op);
		cl->parked = true;
		return;
	}
	op_value(cl->b, op, &code, &message);
	if (code) {
		cl->fault = code;
		fmt_snprintf(cl->message, sizeof(cl->message), "%s", message);
	}
	prog_op_cancel(op);
}

/* The optional wait argument, true by default. */
static void
read_wait(struct call *cl, int at)
{
	if (cl->nargs > at && !cl->arg[at]->i)
		cl->nowait = true;
}

static void
start_process(struct call *cl)
{
	read_wait(cl, 1);
	run_op(cl, OP_START, cl->arg[0]->s);
}

static void
stop_process(struct call *cl)
{
	read_wait(cl, 1);
	run_op(cl, OP_STOP, cl->arg[0]->s);
}

static void
group_spec(struct call *cl, char *spec, size_t len)
{
	fmt_snprintf(spec, len, "%s:*", cl->arg[0]->s);
}

static void
start_group(struct call *cl)
{
	char spec[256];

	if (!prog_group_exists(cl->arg[0]->s))
		return fault(cl, RESULT_BAD_NAME, "BAD_NAME: %s", cl->arg[0]->s);
	read_wait(cl, 1);
	group_spec(cl, spec, sizeof(spec));
	run_op(cl, OP_START, spec);
}

static void
stop_group(struct call *cl)
{
	char spec[256];

	if (!prog_group_exists(cl->arg[0]->s))
		return fault(cl, RESULT_BAD_NAME, "BAD_NAME: %s", cl->arg[0]->s);
	read_wait(cl, 1);
	group_spec(cl, spec, sizeof(spec));
	run_op(cl, OP_STOP, spec);
}

static void
start_all(struct call *cl)
{
	read_wait(cl, 0);
	run_op(cl, OP_START, "all");
}

static void
stop_all(struct call *cl)
{
	read_wait(cl, 0);
	run_op(cl, OP_STOP, "all");
}

static void signal_group_named(struct call *cl, const char *group);

/* supervisord takes a name (any case, SIG or not) or a number. */
static int
signal_of(struct call *cl, const char *s)
{
	int sig = strcmp(s, "0") ? sig_parse(s) : 0;

	if (sig < 0 || sig > SIG_MAX) {
		fault(cl, RESULT_BAD_SIGNAL, "BAD_SIGNAL: %s", s);
		return -1;
	}
	return sig;
}

static void
signal_process(struct call *cl)
{
	const char *spec = cl->arg[0]->s, *colon = strchr(spec, ':');
	struct proc *p;
	int sig, result;

	if (colon && !strcmp(colon + 1, "*")) {
		char group[256];

		fmt_snprintf(group, sizeof(group), "%.*s", (int)(colon - spec),
		    spec);
		cl->arg[0]->s = group;
		signal_group_named(cl, group);
		return;
	}
	if (!(p = prog_find(spec, false)))
		return fault(cl, RESULT_BAD_NAME, "BAD_NAME: %s", spec);
	if ((sig = signal_of(cl, cl->arg[1]->s)) < 0)
		return;
	result = prog_signal(p, sig, cl->message, sizeof(cl->message));
	if (result != RESULT_SUCCESS) {
		cl->fault = result;
		return;
	}
	x_bool(cl->b, true);
}

/* Every running process of group (NULL: all), one result each. */
static void
signal_many(struct call *cl, const char *group, const char *signame)
{
	struct prog_info in;
	struct proc *p;
	size_t i;
	int sig;

	if ((sig = signal_of(cl, signame)) < 0)
		return;
	X_ARRAY(cl->b);
	for (i = 0; (p = prog_at(i)) != NULL; i++) {
		char message[192] = "";
		int result;

		prog_info(p, &in);
		if ((group && strcmp(in.group, group)) ||
		    (in.state != STATE_RUNNING && in.state != STATE_STARTING &&
		    in.state != STATE_BACKOFF))
			continue;
		result = prog_signal(p, sig, message, sizeof(message));
		X_STRUCT(cl->b);
		m_string(cl->b, "name", in.name);
		m_string(cl->b, "group", in.group);
		m_int(cl->b, "status", result);
		m_string(cl->b, "description", result == RESULT_SUCCESS ? "OK" :
		    message);
		X_END_STRUCT(cl->b);
	}
	X_END_ARRAY(cl->b);
}

static void
signal_group_named(struct call *cl, const char *group)
{
	if (!prog_group_exists(group))
		return fault(cl, RESULT_BAD_NAME, "BAD_NAME: %s", group);
	signal_many(cl, group, cl->arg[1]->s);
}

static void
signal_group(struct call *cl)
{
	signal_group_named(cl, cl->arg[0]->s);
}

static void
signal_all(struct call *cl)
{
	signal_many(cl, NULL, cl->arg[0]->s);
}

/* ---- logs ---------------------------------------------------------------------- */

/*
 * length bytes of fd from offset, as an XML string, read in pieces; a
 * UTF-8 sequence cut by a piece's end waits for the next piece.
 */
static void
x_log_text(struct buf *b, int fd, long long offset, long long length)
{
	char piece[4096 + 4];
	size_t carry = 0;

	buf_puts(b, "<value><string>");
	while (length > 0) {
		size_t want = length < 4096 ? (size_t)length : 4096, keep = 0;
		ssize_t n = pread(fd, piece + carry, want, offset);

		if (n <= 0)
			break;
		offset += n;
		length -= n;
		n += (ssize_t)carry;
		/* an incomplete sequence at the end: at most 3 bytes */
		while (keep < 3 && keep < (size_t)n && length > 0 &&
		    ((unsigned char)piece[n - 1 - keep] & 0xc0) == 0x80)
			keep++;
		if (keep < (size_t)n && length > 0 &&
		    ((unsigned char)piece[n - 1 - keep] & 0xc0) == 0xc0)
			keep++;
		else
			keep = 0;
		buf_xml(b, piece, (size_t)n - keep);
		memmove(piece, piece + n - keep, keep);
		carry = keep;
	}
	buf_xml(b, piece, carry);
	buf_puts(b, "</string></value>\n");
}

/*
 * supervisord's readFile: a negative offset with length 0 reads the
 * last -offset bytes, length 0 reads to the end, else length bytes
 * from offset. At most LOG_READ_MAX bytes come back.
 */
static void
read_file(struct call *cl, const char *path, long long offset,
    long long length)
{
	struct stat st;
	int fd;

	if ((offset < 0 && length != 0) || length < 0)
		return fault(cl, 3, "BAD_ARGUMENTS: %s", "offset or length");
	if (!*path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return fault(cl, RESULT_NO_FILE, "NO_FILE: %s", path);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return fault(cl, RESULT_FAILED, "FAILED: %s", path);
	}
	if (offset < 0) {
		offset = st.st_size + offset;
		if (offset < 0)
			offset = 0;
	}
	if (length == 0 || offset + length > st.st_size)
		length = st.st_size > offset ? st.st_size - offset : 0;
	if (length > LOG_READ_MAX) {
		offset += length - LOG_READ_MAX;
		length = LOG_READ_MAX;
	}
	x_log_text(cl->b, fd, offset, length);
	close(fd);
}

static const struct log_target *
log_of(struct call *cl, const struct proc *p, int ch)
{
	struct prog_info in;

	(void)cl;
	prog_info(p, &in);
	return ch ? &in.conf->err : &in.conf->out;
}

static void
read_log(struct call *cl, int ch)
{
	struct proc *p = prog_find(cl->arg[0]->s, false);

	if (!p)
		return fault(cl, RESULT_BAD_NAME, "BAD_NAME: %s", cl->arg[0]->s);
	read_file(cl, log_path(log_of(cl, p, ch)), cl->arg[1]->i,
	    cl->arg[2]->i);
	if (cl->fault == RESULT_NO_FILE)
		fmt_snprintf(cl->message, sizeof(cl->message), "NO_FILE: %s",
		    cl->arg[0]->s);
}

static void read_stdout(struct call *cl) { read_log(cl, 0); }
static void read_stderr(struct call *cl) { read_log(cl, 1); }

/* supervisord's tailFile, arithmetic and all: [text, offset, overflow]. */
static void
tail_log(struct call *cl, int ch)
{
	struct proc *p = prog_find(cl->arg[0]->s, false);
	long long offset = cl->arg[1]->i, length = cl->arg[2]->i, size;
	bool overflow = false;
	struct stat st;
	int fd;

	if (!p)
		return fault(cl, RESULT_BAD_NAME, "BAD_NAME: %s", cl->arg[0]->s);
	if (length < 0)
		return fault(cl, 3, "BAD_ARGUMENTS: %s", "length");
	X_ARRAY(cl->b);
	if ((fd = open(log_path(log_of(cl, p, ch)), O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		x_string(cl->b, "");
		x_int(cl->b, offset);
		x_bool(cl->b, false);
		X_END_ARRAY(cl->b);
		return;
	}
	size = st.st_size;
	if (size > offset + length) {
		overflow = true;
		offset = size - 1;
	}
	if (offset + length > size) {
		if (offset > size - 1)
			length = 0;
		offset = size - length;
	}
	if (offset < 0)
		offset = 0;
	if (length > LOG_READ_MAX)
		length = LOG_READ_MAX;
	x_log_text(cl->b, fd, offset, length);
	close(fd);
	x_int(cl->b, size);
	x_bool(cl->b, overflow);
	X_END_ARRAY(cl->b);
}

static void tail_stdout(struct call *cl) { tail_log(cl, 0); }
static void tail_stderr(struct call *cl) { tail_log(cl, 1); }

/* ---- configuration -------------------------------------------------------------- */

static void
name_array(struct buf *b, const char **names, size_t n)
{
	size_t i;

	X_ARRAY(b);
	for (i = 0; i < n; i++)
		x_string(b, names[i]);
	X_END_ARRAY(b);
}

/* reread: [[added], [changed], [removed]] group names; nothing applied. */
static void
reload_config(struct call *cl)
{
	struct prog_diff d;
	struct config *c;
	int errors;

	if (!(c = tend_reread(&errors)))
		return fault(cl, RESULT_CANT_REREAD, "CANT_REREAD: %s",
		    "out of memory");
	if (errors) {
		char first[200];

		/* supervisord's detail is the message, on one line */
		fmt_snprintf(first, sizeof(first), "%.*s", (int)strcspn(c->report,
		    "\n"), c->report);
		conf_release(c);
		return fault(cl, RESULT_CANT_REREAD, "CANT_REREAD: %s", first);
	}
	prog_reread(c, &d);
	X_ARRAY(cl->b);
	X_ARRAY(cl->b);
	name_array(cl->b, d.added, d.nadded);
	name_array(cl->b, d.changed, d.nchanged);
	name_array(cl->b, d.removed, d.nremoved);
	X_END_ARRAY(cl->b);
	X_END_ARRAY(cl->b);
}

static void
group_result(struct call *cl, int result)
{
	if (result != RESULT_SUCCESS)
		return fault(cl, result, "%s: %s", prog_result_name(result),
		    cl->arg[0]->s);
	x_bool(cl->b, true);
}

static void
add_group(struct call *cl)
{
	group_result(cl, prog_group_add(cl->arg[0]->s));
}

static void
remove_group(struct call *cl)
{
	group_result(cl, prog_group_remove(cl->arg[0]->s));
}

static const char *
target_name(const struct log_target *t)
{
	return t->kind == LOG_FILE ? t->path : t->kind == LOG_DISCARD ?
	    "none" : "auto";
}

/* supervisord's config struct, from the last configuration read. */
static void
config_struct(struct buf *b, const struct program *p, bool inuse)
{
	const struct log_target *t[2] = { &p->out, &p->err };
	static const char *const prefix[2] = { "stdout", "stderr" };
	char key[40];
	int ch, code;

	X_STRUCT(b);
	m_bool(b, "autostart", p->autostart);
	m_string(b, "directory", p->directory ? p->directory : "none");
	x_member(b, "uid");
	if (p->user_spec)
		x_int(b, p->user.uid);
	else
		x_string(b, "none");
	X_END_MEMBER(b);
	m_string(b, "command", p->command);
	x_member(b, "exitcodes");
	X_ARRAY(b);
	for (code = 0; code < 256; code++)
		if (p->exitcodes[code / 8] & (1u << (code % 8)))
			x_int(b, code);
	X_END_ARRAY(b);
	X_END_MEMBER(b);
	m_string(b, "group", p->group);
	m_int(b, "group_prio", p->group_priority);
	m_bool(b, "inuse", inuse);
	m_bool(b, "killasgroup", p->killasgroup);
	m_string(b, "name", p->name);
	m_int(b, "process_prio", p->priority);
	m_bool(b, "redirect_stderr", p->redirect_stderr);
	m_int(b, "startretries", p->startretries);
	m_int(b, "startsecs", p->startsecs);
	for (ch = 0; ch < 2; ch++) {
		fmt_snprintf(key, sizeof(key), "%s_capture_maxbytes", prefix[ch]);
		m_int(b, key, 0);
		fmt_snprintf(key, sizeof(key), "%s_events_enabled", prefix[ch]);
		m_bool(b, key, false);
		fmt_snprintf(key, sizeof(key), "%s_logfile", prefix[ch]);
		m_string(b, key, target_name(t[ch]));
		fmt_snprintf(key, sizeof(key), "%s_logfile_backups", prefix[ch]);
		m_int(b, key, t[ch]->backups);
		fmt_snprintf(key, sizeof(key), "%s_logfile_maxbytes", prefix[ch]);
		m_int(b, key, t[ch]->maxbytes);
		fmt_snprintf(key, sizeof(key), "%s_syslog", prefix[ch]);
		m_bool(b, key, false);
	}
	m_int(b, "stopsignal", p->stopsignal);
	m_int(b, "stopwaitsecs", p->stopwaitsecs);
	m_string(b, "serverurl", "AUTO");
	X_END_STRUCT(b);
}

static void
all_config_info(struct call *cl)
{
	const struct config *c = prog_pending();
	size_t i;

	X_ARRAY(cl->b);
	for (i = 0; i < c->nprograms; i++)
		if (!c->programs[i].is_main)
			config_struct(cl->b, &c->programs[i],
			    prog_group_exists(c->programs[i].group));
	X_END_ARRAY(cl->b);
}

static void
shutdown_tend(struct call *cl)
{
	prog_request_shutdown();
	x_bool(cl->b, true);
}

/* supervisorctl reload: tend applies what changed, and stays up. */
static void
restart(struct call *cl)
{
	int errors;
	struct config *c = tend_reread(&errors);

	if (!c || errors) {
		fault(cl, RESULT_CANT_REREAD, "CANT_REREAD: %.*s", c ?
		    (int)strcspn(c->report, "\n") : 13, c ? c->report :
		    "out of memory");
		conf_release(c);
		return;
	}
	tend_apply(c, NULL, 0);
	x_bool(cl->b, true);
}

/* ---- the table and the dispatch --------------------------------------------------- */

/*
 * Each method with its parameters: s string, i int, b boolean, a array;
 * those after '|' may be left out. act: it changes something, and needs
 * the right to.
 */
static const struct method {
	const char *name;
	const char *params;
	bool act;
	void (*call)(struct call *cl);
} methods[] = {
	{ "supervisor.getAPIVersion", "", false, api_version },
	{ "supervisor.getVersion", "", false, api_version },
	{ "supervisor.getSupervisorVersion", "", false, supervisor_version },
	{ "supervisor.getIdentification", "", false, identification },
	{ "supervisor.getState", "", false, get_state },
	{ "supervisor.getPID", "", false, get_pid },
	{ "supervisor.getAllProcessInfo", "", false, get_all_process_info },
	{ "supervisor.getProcessInfo", "s", false, get_process_info },
	{ "supervisor.startProcess", "s|b", true, start_process },
	{ "supervisor.startProcessGroup", "s|b", true, start_group },
	{ "supervisor.startAllProcesses", "|b", true, start_all },
	{ "supervisor.stopProcess", "s|b", true, stop_process },
	{ "supervisor.stopProcessGroup", "s|b", true, stop_group },
	{ "supervisor.stopAllProcesses", "|b", true, stop_all },
	{ "supervisor.signalProcess", "ss", true, signal_process },
	{ "supervisor.signalProcessGroup", "ss", true, signal_group },
	{ "supervisor.signalAllProcesses", "s", true, signal_all },
	{ "supervisor.readProcessStdoutLog", "sii", false, read_stdout },
	{ "supervisor.readProcessLog", "sii", false, read_stdout },
	{ "supervisor.readProcessStderrLog", "sii", false, read_stderr },
	{ "supervisor.tailProcessStdoutLog", "sii", false, tail_stdout },
	{ "supervisor.tailProcessLog", "sii", false, tail_stdout },
	{ "supervisor.tailProcessStderrLog", "sii", false, tail_stderr },
	{ "supervisor.reloadConfig", "", true, reload_config },
	{ "supervisor.addProcessGroup", "s", true, add_group },
	{ "supervisor.removeProcessGroup", "s", true, remove_group },
	{ "supervisor.getAllConfigInfo", "", false, all_config_info },
	{ "supervisor.shutdown", "", true, shutdown_tend },
	{ "supervisor.restart", "", true, restart },
};

#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

static bool
type_fits(char want, const struct xval *v)
{
	switch (want) {
	case 's': return v->type == XV_STRING;
	case 'i': return v->type == XV_INT;
	case 'b': return v->type == XV_BOOL || v->type == XV_INT;
	case 'a': return v->type == XV_ARRAY;
	}
	return false;
}

/*
 * One call: its value (or fault) into cl, unless it parked. 401 when
 * it may not act: the caller answers that over HTTP.
 */
static int
call_method(struct call *cl, const char *name, const struct xval *params,
    bool may_act)
{
	const struct method *m = NULL;
	const struct xval *v;
	size_t i, need = 0, most;
	const char *bar;

	for (i = 0; i < NMETHODS; i++)
		if (!strcmp(methods[i].name, name))
			m = &methods[i];
	if (!m) {
		fault(cl, 1, "UNKNOWN_METHOD");
		return 0;
	}
	if (m->act && !may_act)
		return 401;
	/* once a shutdown is under way, supervisor.* answers no more */
	if (!strncmp(name, "supervisor.", 11) && prog_shutting_down()) {
		fault(cl, RESULT_SHUTDOWN_STATE, "SHUTDOWN_STATE");
		return 0;
	}
	bar = strchr(m->params, '|');
	need = bar ? (size_t)(bar - m->params) : strlen(m->params);
	most = strlen(m->params) - (bar != NULL);
	if (params->n < need || params->n > most) {
		fault(cl, 2, "INCORRECT_PARAMETERS");
		return 0;
	}
	cl->nargs = 0;
	for (v = params->first, i = 0; v; v = v->next, i++) {
		char want = m->params[i >= need && bar ? i + 1 : i];

		if (!type_fits(want, v)) {
			fault(cl, 2, "INCORRECT_PARAMETERS");
			return 0;
		}
		cl->arg[cl->nargs++] = (struct xval *)v;
	}
	m->call(cl);
	return 0;
}

void
xmlrpc_handle(struct conn *c, const struct http_request *r)
{
	struct arena arena = { 0 };
	struct xval params;
	struct call cl = { .c = c };
	char *name, *body;
	const char *type = r->content_type ? r->content_type : "";
	int rc;

	/* a cross-site form cannot send this type */
	if (strncmp(type, "text/xml", 8) && strncmp(type, "application/xml", 15)) {
		http_error(c, 415, "XML-RPC takes Content-Type: text/xml");
		return;
	}
	/* parsed in place: the body is this request's alone */
	body = (char *)r->body;
	rc = xmlrpc_parse(body, r->body_len, &arena, &name, &params);
	if (rc == -2) {
		arena_release(&arena);
		send_fault(c, 2, "INCORRECT_PARAMETERS: a type tend does not "
		    "take (double, base64, dateTime, nil)");
		return;
	}
	if (rc < 0) {
		arena_release(&arena);
		http_error(c, 400, "not an XML-RPC methodCall");
		return;
	}
	cl.b = http_body(c);
	buf_puts(cl.b, response_head);
	cl.may_act = r->may_act;
	if (call_method(&cl, name, &params, r->may_act) == 401) {
		arena_release(&arena);
		buf_free(cl.b);
		http_header(c, "WWW-Authenticate: Basic realm=\"tend\"");
		http_error(c, 401, "this method needs credentials");
		return;
	}
	arena_release(&arena);
	if (cl.parked)
		return;
	if (cl.fault) {
		buf_free(cl.b);
		send_fault(c, cl.fault, cl.message);
		return;
	}
	buf_puts(cl.b, response_tail);
	http_send(c, 200, "text/xml");
}
