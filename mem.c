/*
 * mem.c: arenas on top of mmap. Chunks are mapped lazily, so pages that
 * are never touched cost no resident memory; a request larger than a
 * chunk gets a chunk of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"

#define CHUNK_SIZE (64 * 1024)
#define ALIGN 16

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, used;
	_Alignas(ALIGN) unsigned char data[];
};

static struct arena_chunk *
chunk_map(size_t need)
{
	size_t size = sizeof(struct arena_chunk) + need;
	struct arena_chunk *c;

	if (size < CHUNK_SIZE)
		size = CHUNK_SIZE;
	c = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		return NULL;
	c->size = size - sizeof(*c);
	c->used = 0;
	return c;
}

void *
arena_alloc(struct arena *a, size_t size)
{
	struct arena_chunk *c = a->chunks;
	void *p;

	if (size > SIZE_MAX - ALIGN - sizeof(*c))
		return NULL;
	size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (!c || c->size - c->used < size) {
		struct arena_chunk *fresh = chunk_map(size);

		if (!fresh)
			return NULL;
		/* a large block goes behind the current chunk, keeping its room */
		if (c && size > CHUNK_SIZE / 4) {
			fresh->next = c->next;
			c->next = fresh;
		} else {
			fresh->next = c;
			a->chunks = fresh;
		}
		c = fresh;
	}
	p = c->data + c->used;
	c->used += size;
	return p;	/* fresh anonymous pages are already zero */
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void
arena_release(struct arena *a)
{
	while (a->chunks) {
		struct arena_chunk *next = a->chunks->next;

		munmap(a->chunks, a->chunks->size + sizeof(*a->chunks));
		a->chunks = next;
	}
}

char *
arena_read_file(struct arena *a, const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t cap, used = 0;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	/* files in /proc report size 0: grow until EOF */
	cap = st.st_size > 0 ? (size_t)st.st_size + 2 : 4096;
	if (!(buf = arena_alloc(a, cap)))
		goto nomem;
	for (;;) {
		ssize_t n;

		if (cap - used < 2) {
			char *bigger = arena_alloc(a, cap * 2);

			if (!bigger)
				goto nomem;
			memcpy(bigger, buf, used);
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + used, cap - used - 2);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	*len = used;
	return buf;
nomem:
	errno = ENOMEM;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return NULL;
}
