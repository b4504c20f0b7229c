/*
 * stubs.c: the rest of tend, for fuzz targets that link one parser's
 * object (http.o, xmlrpc.o, ready.o) without the program around it.
 * The parsers never call any of these: each one aborts, so a path
 * that reached one would show as a crash with its stack. Every stub
 * is weak: a target that links the real object gets the real one.
 */
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include "../../conf.h"
#include "../../http.h"
#include "../../init.h"
#include "../../loop.h"
#include "../../output.h"
#include "../../proc.h"
#include "../../prog.h"

#define STUB __attribute__((weak, noreturn))
#define NEVER() abort()

/* loop.c */
STUB int loop_watch(struct watch *w, uint32_t e) { (void)w; (void)e; NEVER(); }
STUB int loop_rewatch(struct watch *w, uint32_t e) { (void)w; (void)e; NEVER(); }
STUB void loop_unwatch(struct watch *w) { (void)w; NEVER(); }
STUB long long loop_now(void) { NEVER(); }
STUB void timer_set(struct timer *t, long long at) { (void)t; (void)at; NEVER(); }
STUB void timer_cancel(struct timer *t) { (void)t; NEVER(); }

/* output.c, proc.c */
STUB void output_on_file_write(void (*hook)(const char *, const char *,
    size_t)) { (void)hook; NEVER(); }
STUB pid_t proc_spawn_program(const struct program *p,
    const struct child_stdio *io, int *errfd)
{ (void)p; (void)io; (void)errfd; NEVER(); }

/* conf.c */
STUB void conf_release(struct config *c) { (void)c; NEVER(); }

/* init.c */
STUB struct config *tend_reread(int *errors) { (void)errors; NEVER(); }
STUB void tend_apply(struct config *c, const char *const *g, size_t n)
{ (void)c; (void)g; (void)n; NEVER(); }

/* http.c: what its views answer with */
STUB struct buf *http_body(struct conn *c) { (void)c; NEVER(); }
STUB void http_header(struct conn *c, const char *l) { (void)c; (void)l; NEVER(); }
STUB void http_send(struct conn *c, int s, const char *t)
{ (void)c; (void)s; (void)t; NEVER(); }
STUB void http_error(struct conn *c, int s, const char *m)
{ (void)c; (void)s; (void)m; NEVER(); }
STUB void http_park(struct conn *c, struct prog_op *op) { (void)c; (void)op; NEVER(); }
STUB struct conn *http_unpark(struct prog_op *op) { (void)op; NEVER(); }

/* the views http.c dispatches to (api.c, xmlrpc.c, web.c, ctl.c) */
STUB void api_handle(struct conn *c, const struct http_request *r)
{ (void)c; (void)r; NEVER(); }
STUB void api_health(struct conn *c, const struct http_request *r)
{ (void)c; (void)r; NEVER(); }
STUB void api_metrics(struct conn *c, const struct http_request *r)
{ (void)c; (void)r; NEVER(); }
STUB void xmlrpc_handle(struct conn *c, const struct http_request *r)
{ (void)c; (void)r; NEVER(); }
STUB void web_page(struct conn *c, const struct http_request *r)
{ (void)c; (void)r; NEVER(); }
STUB void web_logtail(struct conn *c, const struct http_request *r)
{ (void)c; (void)r; NEVER(); }
STUB void ctl_handle(struct conn *c, const struct http_request *r)
{ (void)c; (void)r; NEVER(); }

/* prog.c */
STUB const char *prog_result_name(int r) { (void)r; NEVER(); }
STUB const char *prog_state_name(enum prog_state s) { (void)s; NEVER(); }
STUB int prog_state_code(enum prog_state s) { (void)s; NEVER(); }
STUB void prog_request_shutdown(void) { NEVER(); }
STUB bool prog_shutting_down(void) { NEVER(); }
STUB void prog_notified(pid_t pid, bool ready, const char *status)
{ (void)pid; (void)ready; (void)status; NEVER(); }
STUB struct proc *prog_at(size_t i) { (void)i; NEVER(); }
STUB void prog_info(const struct proc *p, struct prog_info *out)
{ (void)p; (void)out; NEVER(); }
STUB struct proc *prog_find(const char *spec, bool loose)
{ (void)spec; (void)loose; NEVER(); }
STUB bool prog_group_exists(const char *g) { (void)g; NEVER(); }
STUB struct prog_op *prog_op_start(enum op_kind k, const char *const *s,
    size_t n, bool loose, void (*done)(struct prog_op *), void *ctx,
    int *result)
{ (void)k; (void)s; (void)n; (void)loose; (void)done; (void)ctx;
  (void)result; NEVER(); }
STUB void prog_op_cancel(struct prog_op *op) { (void)op; NEVER(); }
STUB void prog_op_free(struct prog_op *op) { (void)op; NEVER(); }
STUB int prog_signal(struct proc *p, int sig, char *m, size_t len)
{ (void)p; (void)sig; (void)m; (void)len; NEVER(); }
STUB struct config *prog_config(void) { NEVER(); }
STUB struct config *prog_pending(void) { NEVER(); }
STUB void prog_reread(struct config *c, struct prog_diff *d) { (void)c; (void)d; NEVER(); }
STUB int prog_group_add(const char *g) { (void)g; NEVER(); }
STUB int prog_group_remove(const char *g) { (void)g; NEVER(); }
