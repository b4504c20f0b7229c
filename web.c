/*
 * web.c: the status page and the log tails. The page is a real file
 * (web/page.html, with its style and script beside it) made into one
 * gzip-compressed string at build time (tools/embed.sh) and sent as it
 * is, since every browser takes gzip; it renders the JSON API with
 * textContent only, and its Content-Security-Policy allows no script
 * or style but its own two, by hash. Actions are POSTs that http.c
 * refuses from another origin.
 *
 * GET /logtail/NAME[/stdout|/stderr] is supervisord's tail -f: the
 * last 1024 bytes of the log file, then everything tend writes to it.
 */
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "page.h"
#include "prog.h"

/* Whether the parameters of one coding, up to end, say q=0. */
static bool
q_zero(const char *p, const char *end)
{
	for (; p < end; p++) {
		if ((*p != 'q' && *p != 'Q') || p[1] != '=' || (p > end - 3))
			continue;
		for (p += 2; p < end && (*p == '0' || *p == '.'); p++)
			;
		return p == end || *p == ' ' || *p == '\t' || *p == ';';
	}
	return false;
}

/*
 * Whether Accept-Encoding takes gzip: named, or "*", with a q-value
 * other than 0; gzip;q=0 refuses it whatever "*" says.
 */
static bool
takes_gzip(const char *v)
{
	bool star = false, named = false;

	while (v && *v) {
		const char *end, *params;
		size_t n;

		v += strspn(v, " \t,");
		end = v + strcspn(v, ",");
		n = strcspn(v, " \t,;");
		params = v + n;
		if (n == 4 && !strncasecmp(v, "gzip", 4)) {
			if (q_zero(params, end))
				return false;
			named = true;
		} else if (n == 1 && *v == '*') {
			star = !q_zero(params, end);
		}
		v = end;
	}
	return named || star;
}

void
web_page(struct conn *c, const struct http_request *r)
{
	if (!takes_gzip(r->accept_encoding)) {
		http_error(c, 406, "the page is sent gzip-compressed, as every "
		    "browser takes it (curl: --compressed); the state is at "
		    "/api/v1/programs");
		return;
	}
	http_header(c, "Content-Encoding: gzip");
	http_header(c, "Vary: Accept-Encoding");
	http_header(c, "Content-Security-Policy: default-src 'none'; "
	    "script-src '" PAGE_SCRIPT_HASH "'; style-src '" PAGE_STYLE_HASH
	    "'; connect-src 'self'; img-src 'self'; base-uri 'none'; "
	    "form-action 'none'; frame-ancestors 'none'");
	http_header(c, "X-Content-Type-Options: nosniff");
	http_header(c, "X-Frame-Options: DENY");
	http_header(c, "Referrer-Policy: no-referrer");
	http_header(c, "Cache-Control: no-store");
	buf_put(http_body(c), page_gz, sizeof(page_gz) - 1);
	http_send(c, 200, "text/html; charset=utf-8");
}

void
web_logtail(struct conn *c, const struct http_request *r)
{
	char spec[256], start[1024], *channel;
	const struct log_target *t;
	struct prog_info in;
	struct proc *p;
	struct stat st;
	ssize_t n = 0;
	int fd;

	if (strlen(r->path) - strlen("/logtail/") >= sizeof(spec)) {
		http_error(c, 404, "no such process");
		return;
	}
	strcpy(spec, r->path + strlen("/logtail/"));
	if ((channel = strchr(spec, '/')) != NULL)
		*channel++ = '\0';
	if (!(p = prog_find(spec, false)) || (channel &&
	    strcmp(channel, "stdout") && strcmp(channel, "stderr"))) {
		http_error(c, 404, "no such process or channel");
		return;
	}
	prog_info(p, &in);
	t = channel && !strcmp(channel, "stderr") ? &in.conf->err :
	    &in.conf->out;
	if (t->kind != LOG_FILE || (fd = open(t->path, O_RDONLY |
	    O_CLOEXEC)) < 0) {
		http_error(c, 404, "no log file");
		return;
	}
	if (fstat(fd, &st) == 0)
		n = pread(fd, start, sizeof(start), st.st_size > (off_t)sizeof(start) ?
		    st.st_size - (off_t)sizeof(start) : 0);
	close(fd);
	http_stream(c, t->path, start, n > 0 ? (size_t)n : 0);
}
