/*
 * mem.h: arenas. Configuration lives in one arena that is allocated as it
 * is read and released whole, never piece by piece: no free(), no
 * fragmentation, and a reload can build a new arena beside the old one.
 */
#ifndef TEND_MEM_H
#define TEND_MEM_H

#include <stddef.h>

struct arena {
	struct arena_chunk *chunks;
};

/* Zeroed memory, aligned for any type; NULL when memory is exhausted. */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
/* Releases every allocation of the arena at once. */
void arena_release(struct arena *a);

/*
 * Reads a whole file into the arena, NUL-terminated, with one spare byte
 * after the NUL for parsers that write there. Returns NULL with errno set.
 */
char *arena_read_file(struct arena *a, const char *path, size_t *len);

#endif
