/*
 * mem.c: arenas on top of mmap. Chunks are mapped lazily, so pages that
 * are never touched cost no resident memory; a request larger than a
 * chunk gets a chunk of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
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

static size_t mapped;		/* bytes of every arena's chunks */

size_t
arena_mapped(void)
{
	return mapped;
}

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
	mapped += size;
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

		mapped -= a->chunks->size + sizeof(*a->chunks);
		munmap(a->chunks, a->chunks->size + sizeof(*a->chunks));
		a->chunks = next;
	}
}

/*
 * One read; 0 at the end of the file. A file that is not regular is
 * waited on first: a FIFO opened without blocking reads as ended until
 * its writer comes, while poll waits for that writer.
 */
static ssize_t
read_some(int fd, char *buf, size_t n, bool regular, int stop_fd)
{
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
	    { .fd = stop_fd, .events = POLLIN } };

	for (;;) {
		ssize_t got;

		if (!regular) {
			if (poll(pfd, stop_fd >= 0 ? 2 : 1, -1) < 0) {
				if (errno == EINTR)
					continue;
				return -1;
			}
			if (pfd[1].revents) {
				errno = EINTR;
				return -1;
			}
		}
		got = read(fd, buf, n);
		if (got >= 0 || (errno != EAGAIN && errno != EINTR))
			return got;
	}
}

char *
arena_read_file(struct arena *a, const char *path, size_t *len, int stop_fd)
{
	struct stat st;
	char *buf = NULL;
	size_t cap, used = 0;
	bool regular;
	int fd, saved;

	/* O_NONBLOCK: opening a FIFO must not wait for its writer */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	regular = S_ISREG(st.st_mode);
	/* files in /proc and pipes report size 0: grow until EOF */
	cap = st.st_size > 0 ? (size_t)st.st_size + 2 : 4096;
	if (!(buf = arena_alloc(a, cap)))
		goto nomem;
	for (;;) {
		ssize_t n;

		/* the NUL and the spare byte always fit after the data */
		if (cap - used <= 2) {
			char *bigger = cap > SIZE_MAX / 2 ? NULL :
			    arena_alloc(a, cap * 2);

			if (!bigger)
				goto nomem;
			memcpy(bigger, buf, used);
			buf = bigger;
			cap *= 2;
		}
		n = read_some(fd, buf + used, cap - used - 2, regular, stop_fd);
		if (n < 0) {
			if (errno == EINTR && regular)
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

/* ---- sorting ------------------------------------------------------------- */

void
mem_sort(void *base, size_t n, size_t size, void *tmp,
    int (*cmp)(const void *a, const void *b))
{
	char *items = base, *out = tmp;
	size_t half = n / 2, i = 0, j = half, k = 0;

	if (n < 2)
		return;
	mem_sort(items, half, size, tmp, cmp);
	mem_sort(items + half * size, n - half, size, tmp, cmp);
	/* ties take the first half first: the sort is stable */
	while (i < half && j < n) {
		size_t from = cmp(items + j * size, items + i * size) < 0 ?
		    j++ : i++;

		memcpy(out + k++ * size, items + from * size, size);
	}
	memcpy(out + k * size, items + i * size, (half - i) * size);
	k += half - i;
	memcpy(items, out, k * size);
}

/* ---- string maps ------------------------------------------------------- */

struct strmap_slot {
	const char *key;
	size_t len;
	void *value;
};

/* FNV-1a: short keys, no adversary worth a keyed hash at load time. */
static size_t
hash(const char *key, size_t len)
{
	size_t h = (size_t)14695981039346656037ULL;

	while (len--)
		h = (h ^ (unsigned char)*key++) * (size_t)1099511628211ULL;
	return h;
}

static struct strmap_slot *
slot_of(const struct strmap *m, const char *key, size_t len)
{
	size_t i = hash(key, len) & (m->cap - 1);

	for (;; i = (i + 1) & (m->cap - 1)) {
		struct strmap_slot *s = &m->slots[i];

		if (!s->key || (s->len == len && memcmp(s->key, key, len) == 0))
			return s;
	}
}

void *
strmap_get(const struct strmap *m, const char *key, size_t len)
{
	return m->cap ? slot_of(m, key, len)->value : NULL;
}

void
strmap_clear(struct strmap *m)
{
	if (m->cap)
		memset(m->slots, 0, m->cap * sizeof(*m->slots));
	m->n = 0;
}

int
strmap_put(struct strmap *m, const char *key, size_t len, void *value)
{
	struct strmap_slot *s;

	if (2 * (m->n + 1) > m->cap) {
		struct strmap bigger = { .arena = m->arena,
		    .cap = m->cap ? 2 * m->cap : 16 };
		size_t i;

		if (!(bigger.slots = arena_alloc(m->arena, bigger.cap *
		    sizeof(*bigger.slots))))
			return -1;
		for (i = 0; i < m->cap; i++)
			if (m->slots[i].key)
				*slot_of(&bigger, m->slots[i].key,
				    m->slots[i].len) = m->slots[i];
		bigger.n = m->n;
		*m = bigger;
	}
	s = slot_of(m, key, len);
	if (!s->key) {
		s->key = key;
		s->len = len;
		m->n++;
	}
	s->value = value;
	return 0;
}
