/*
 * loop.h: the event loop's registry, for the modules whose descriptors
 * it waits on. init.c owns the loop; a watch is registered with the
 * events it waits for, and its ready function is called with the events
 * that came.
 */
#ifndef TEND_LOOP_H
#define TEND_LOOP_H

#include <stdint.h>

struct watch {
	int fd;
	void (*ready)(struct watch *w, uint32_t events);
};

/* Waits for events on w's descriptor: 0, or -1 with errno set. */
int loop_watch(struct watch *w, uint32_t events);
/* Before its descriptor is closed. */
void loop_unwatch(struct watch *w);

/* CLOCK_MONOTONIC in milliseconds, the clock of every deadline. */
long long loop_now(void);

#endif
