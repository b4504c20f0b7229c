/*
 * arena_guard.c: makes arena allocations visible to AddressSanitizer.
 * Arenas (mem.c) carve allocations out of mmap'd chunks, so a read or
 * write past the end of one lands in the next and no sanitizer sees
 * it. Linked with -Wl,--wrap=arena_alloc,--wrap=arena_strndup,
 * --wrap=arena_strdup,--wrap=arena_release, every allocation another
 * object asks for gets a poisoned guard after its last byte; a chunk's
 * poison is lifted before mem.c unmaps it, so that no stale shadow is
 * left for the next mapping at that address.
 */
#include <sanitizer/asan_interface.h>
#include <stddef.h>
#include <string.h>

#include "../../mem.h"

#define GUARD 16

/* mem.c's chunk header, as mem.c lays it out. */
struct guard_chunk {
	struct guard_chunk *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

void *__real_arena_alloc(struct arena *a, size_t size);
void __real_arena_release(struct arena *a);
void *__wrap_arena_alloc(struct arena *a, size_t size);
char *__wrap_arena_strndup(struct arena *a, const char *s, size_t n);
char *__wrap_arena_strdup(struct arena *a, const char *s);
void __wrap_arena_release(struct arena *a);

void *
__wrap_arena_alloc(struct arena *a, size_t size)
{
	size_t reserved = (size + GUARD + 15) & ~(size_t)15;
	unsigned char *p;

	if (size > (size_t)-1 / 2)
		return __real_arena_alloc(a, size);	/* fails as it would */
	if (!(p = __real_arena_alloc(a, size + GUARD)))
		return NULL;
	__asan_unpoison_memory_region(p, size);
	__asan_poison_memory_region(p + size, reserved - size);
	return p;
}

char *
__wrap_arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = __wrap_arena_alloc(a, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *
__wrap_arena_strdup(struct arena *a, const char *s)
{
	return __wrap_arena_strndup(a, s, strlen(s));
}

void
__wrap_arena_release(struct arena *a)
{
	struct guard_chunk *c;

	for (c = (struct guard_chunk *)a->chunks; c; c = c->next)
		__asan_unpoison_memory_region(c, sizeof(*c) + c->size);
	__real_arena_release(a);
}
