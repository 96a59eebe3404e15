/* Shared helpers for tspod's C programs, in the style of crun's utils.h. */
#ifndef TSPOD_UTIL_H
#define TSPOD_UTIL_H
#include <stdlib.h>
#include <unistd.h>

#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define TSPOD_PRINTF(a, b) __attribute__((format(printf, a, b)))

static inline void cleanup_freep(void *p) { free(*(void **)p); }
static inline void cleanup_closep(int *fd) { if (*fd >= 0) close(*fd); }

/* Writes all of buf; retries on EINTR and short writes. Returns 0 or -1 (errno set). */
int write_all(int fd, const void *buf, size_t len);
/* Reads up to len bytes, retrying on EINTR and short reads until EOF. Returns bytes read or -1. */
ssize_t read_all(int fd, void *buf, size_t len);
#endif
