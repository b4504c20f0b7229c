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
 * A file that is not regular (a pipe, a FIFO, /dev/stdin) is read without
 * blocking on it: while it has nothing to give, tend waits in poll on it
 * and on stop_fd (a signalfd, or -1), and a readable stop_fd ends the
 * read with EINTR.
 */
char *arena_read_file(struct arena *a, const char *path, size_t *len,
    int stop_fd);

/* Bytes mapped for arenas now: a reload must bring it back to its level. */
size_t arena_mapped(void);

/*
 * A stable merge sort of n items of size bytes, through tmp (room for
 * n items): thousands of programs sort in linear-log time, without
 * qsort's kilobytes.
 */
void mem_sort(void *base, size_t n, size_t size, void *tmp,
    int (*cmp)(const void *a, const void *b));

/*
 * A map from strings to pointers in an arena: open addressing, grown
 * at half load, never shrunk; the keys are not copied.
 */
struct strmap {
	struct arena *arena;
	struct strmap_slot *slots;
	size_t cap, n;
};

void *strmap_get(const struct strmap *m, const char *key, size_t len);
/* Forgets every key, keeping the room. */
void strmap_clear(struct strmap *m);
/* Sets or replaces; -1 when memory is exhausted. */
int strmap_put(struct strmap *m, const char *key, size_t len, void *value);

#endif
