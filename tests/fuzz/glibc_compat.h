/*
 * glibc_compat.h: what tend's sources, written for musl, need to build
 * against glibc, for the sanitizer and fuzzing builds only (the static
 * musl build never sees this file). Given with -include, so that no
 * source changes: every name below is fixed before a source uses it.
 */
#ifndef TEND_GLIBC_COMPAT_H
#define TEND_GLIBC_COMPAT_H

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef __GLIBC__
/*
 * musl has getdents(2); glibc (2.30 and later) only getdents64, whose
 * records are struct dirent's on a 64-bit system (ino_t and off_t are
 * 64 bits), as musl's are. conf.c (the [include] globs) and proc.c
 * (the descriptors of /proc/self/fd) use it.
 */
#define getdents(fd, buf, len) ((int)getdents64((fd), (buf), (len)))

/*
 * glibc's stdlib.h declares on_exit(3); prog.c has a static function of
 * that name. stdlib.h is read above, so only prog.c's name changes.
 */
#define on_exit tend_prog_on_exit
#endif

#endif
