/*
 * loop.h: the event loop (loop.c): watched descriptors, the clock and
 * timers, for every module that waits on something.
 */
#ifndef TEND_LOOP_H
#define TEND_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A descriptor waited on; ready is called with the events that came. */
struct watch {
	int fd;
	void (*ready)(struct watch *w, uint32_t events);
};

/* A deadline on the loop's clock; fire is called once it has passed. */
struct timer {
	long long at;
	size_t slot;			/* in the heap; 0 when not pending */
	void (*fire)(struct timer *t);
	struct timer *late_next;	/* kept aside while the heap is full */
};

void loop_setup(void);
/* One pass: sleeps until an event or the earliest timer, handles them. */
void loop_once(void);

/* Waits for events on w's descriptor: 0, or -1 with errno set. */
int loop_watch(struct watch *w, uint32_t events);
/* Changes the events waited for. */
int loop_rewatch(struct watch *w, uint32_t events);
/* Before its descriptor is closed or its memory reused. */
void loop_unwatch(struct watch *w);

/* CLOCK_MONOTONIC in milliseconds, the clock of every deadline. */
long long loop_now(void);

/* Sets or moves t's deadline. */
void timer_set(struct timer *t, long long at);
void timer_cancel(struct timer *t);

static inline bool
timer_pending(const struct timer *t)
{
	return t->slot != 0;
}

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

#endif
