/*
 * loop.c: the event loop, in the manner of redis's ae.c: one epoll
 * descriptor for every watched descriptor (the signalfd, the programs'
 * pipes, tend's outputs, the control sockets and their clients), one
 * clock (CLOCK_MONOTONIC in milliseconds) and one heap of timers. Each
 * pass sleeps in a single epoll_wait whose timeout is the earliest
 * timer, or forever when none is pending, so that an idle tend never
 * wakes up; then it dispatches the events and fires the timers due.
 *
 * A watch may be removed, and its memory reused, by the handler of an
 * earlier event of the same batch: unwatching clears the events still
 * queued for it, so no handler ever runs for a watch that is gone.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "loop.h"

static struct {
	int epfd;
	struct epoll_event events[LOOP_EVENTS];
	int next, nevents;		/* the batch being dispatched */
	struct timer **heap;		/* heap[0] is unused: slots count from 1 */
	size_t ntimers, cap;
	/* timers the heap had no room for, in its slot LATE, rare and few */
	struct timer *late;
	bool said_late;
} loop;

#define LATE ((size_t)-1)

long long
loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
loop_setup(void)
{
	loop.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop.epfd < 0)
		fatal(1, "epoll");
}

int
loop_watch(struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(loop.epfd, EPOLL_CTL_ADD, w->fd, &ev);
}

int
loop_rewatch(struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(loop.epfd, EPOLL_CTL_MOD, w->fd, &ev);
}

void
loop_unwatch(struct watch *w)
{
	struct epoll_event ev = { 0 };
	int i;

	(void)epoll_ctl(loop.epfd, EPOLL_CTL_DEL, w->fd, &ev);
	for (i = loop.next; i < loop.nevents; i++)
		if (loop.events[i].data.ptr == w)
			loop.events[i].data.ptr = NULL;
}

/* ---- timers: a binary heap ordered by deadline ---------------------------- */

static bool
earlier(size_t a, size_t b)
{
	return loop.heap[a]->at < loop.heap[b]->at;
}

static void
place(size_t slot, struct timer *t)
{
	loop.heap[slot] = t;
	t->slot = slot;
}

static void
swap(size_t a, size_t b)
{
	struct timer *t = loop.heap[a];

	place(a, loop.heap[b]);
	place(b, t);
}

static void
sift_up(size_t slot)
{
	for (; slot > 1 && earlier(slot, slot / 2); slot /= 2)
		swap(slot, slot / 2);
}

static void
sift_down(size_t slot)
{
	for (;;) {
		size_t child = 2 * slot;

		if (child > loop.ntimers)
			return;
		if (child < loop.ntimers && earlier(child + 1, child))
			child++;
		if (!earlier(child, slot))
			return;
		swap(slot, child);
		slot = child;
	}
}

/* Room for one more timer; mapped, so that it may grow in place. */
static bool
heap_room(void)
{
	size_t cap = loop.cap ? 2 * loop.cap : 4096 / sizeof(*loop.heap);
	void *p;

	if (loop.ntimers + 1 < loop.cap)
		return true;
	p = loop.heap ? mremap(loop.heap, loop.cap * sizeof(*loop.heap),
	    cap * sizeof(*loop.heap), MREMAP_MAYMOVE) : mmap(NULL,
	    cap * sizeof(*loop.heap), PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return false;
	loop.heap = p;
	loop.cap = cap;
	return true;
}

void
timer_set(struct timer *t, long long at)
{
	if (t->slot && t->slot != LATE) {
		long long was = t->at;

		t->at = at;
		if (at < was)
			sift_up(t->slot);
		else
			sift_down(t->slot);
		return;
	}
	t->at = at;
	if (t->slot == LATE)
		return;
	/*
	 * Without room in the heap the deadline is kept on the side, never
	 * lost and never fired from here (its caller is mid-way through
	 * something); the heap takes it back once it can.
	 */
	if (!heap_room()) {
		if (!loop.said_late)
			log_warn("timers: cannot grow the heap, keeping them aside");
		loop.said_late = true;
		t->slot = LATE;
		t->late_next = loop.late;
		loop.late = t;
		return;
	}
	place(++loop.ntimers, t);
	sift_up(t->slot);
}

void
timer_cancel(struct timer *t)
{
	size_t slot = t->slot;
	struct timer **tp;

	if (!slot)
		return;
	t->slot = 0;
	if (slot == LATE) {
		for (tp = &loop.late; *tp != t; tp = &(*tp)->late_next)
			;
		*tp = t->late_next;
		return;
	}
	if (slot != loop.ntimers) {
		struct timer *last = loop.heap[loop.ntimers--];

		place(slot, last);
		sift_up(slot);
		sift_down(last->slot);
	} else {
		loop.ntimers--;
	}
}

/* Rounded up, so that the loop never wakes before a deadline. */
static int
timeout_ms(void)
{
	long long left, at = LLONG_MAX;
	const struct timer *t;

	for (t = loop.late; t; t = t->late_next)
		at = t->at < at ? t->at : at;
	if (loop.ntimers && loop.heap[1]->at < at)
		at = loop.heap[1]->at;
	if (at == LLONG_MAX)
		return -1;
	left = at - loop_now();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/*
 * Timers due now fire in deadline order; one set for a time already
 * past, by a timer that fires, fires in the same pass.
 */
static void
fire_timers(void)
{
	long long now = loop_now();
	struct timer *t, **tp;

	/* those kept aside: back to the heap, or fired when due */
	for (tp = &loop.late; (t = *tp) != NULL;) {
		if (t->at > now && !heap_room()) {
			tp = &t->late_next;
			continue;
		}
		*tp = t->late_next;
		t->slot = 0;
		if (t->at <= now) {
			t->fire(t);
			tp = &loop.late;	/* fire may have changed the list */
		} else {
			timer_set(t, t->at);
		}
	}
	if (!loop.late)
		loop.said_late = false;
	while (loop.ntimers && loop.heap[1]->at <= now) {
		t = loop.heap[1];

		timer_cancel(t);
		t->fire(t);
	}
}

void
loop_once(void)
{
	int n = epoll_wait(loop.epfd, loop.events, LOOP_EVENTS, timeout_ms());

	if (n < 0 && errno != EINTR)
		log_warn("epoll_wait");
	loop.nevents = n > 0 ? n : 0;
	for (loop.next = 0; loop.next < loop.nevents;) {
		struct epoll_event *ev = &loop.events[loop.next++];
		struct watch *w = ev->data.ptr;

		if (w)
			w->ready(w, ev->events);
	}
	loop.nevents = loop.next = 0;
	fire_timers();
}
