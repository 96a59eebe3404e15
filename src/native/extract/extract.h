/* tspod-extract: hostile-input-safe layer extraction (tar, gzip/zstd/plain) into an empty directory.
 * The JSON output contract is read by src/storage (keep in sync with its parser). */
#ifndef TSPOD_EXTRACT_H
#define TSPOD_EXTRACT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "util.h"

#define EXTRACT_BUF_SIZE (1u << 20)     /* I/O and decompression buffers */
#define EXTRACT_META_MAX (1u << 20)     /* PAX and GNU long name/link bodies */
#define EXTRACT_NAME_MAX 4096           /* entry names and link targets */
#define EXTRACT_LINK_BUDGET 40          /* symlinks followed while resolving one path */
#define EXTRACT_DEFAULT_MAX_SIZE (32ULL << 30)

/* ---- errors (error.c) ---- */
struct xerror
{
  bool set;
  char msg[1024];
};

/* Records the first error; appends strerror(errnum) when errnum != 0. Always returns -1. */
int xerror_make(struct xerror *err, int errnum, const char *fmt, ...) TSPOD_PRINTF(3, 4);
/* Writes s as a JSON string (quoted, escaped, invalid UTF-8 replaced by U+FFFD) to f. */
void json_write_string(FILE *f, const char *s);

/* ---- decompressed input stream (stream.c) ---- */
struct stream;

/* Starts reading fd on a helper thread: detects gzip/zstd/plain, decompresses, hashes and counts. */
int stream_open(struct stream **out, int fd, uint64_t max_size, struct xerror *err);
/* Returns a pointer to at least 1 buffered byte in *avail, 0 with *avail = 0 at EOF, or -1. */
int stream_peek(struct stream *s, const unsigned char **p, size_t *avail, struct xerror *err);
void stream_consume(struct stream *s, size_t n);
/* Reads exactly n bytes; returns n, fewer only at EOF, or -1. */
ssize_t stream_read(struct stream *s, void *buf, size_t n, struct xerror *err);
/* Skips n bytes; returns 0, or -1 (EOF before n bytes is an error "truncated"). */
int stream_skip(struct stream *s, uint64_t n, struct xerror *err);
/* Reads to EOF, then returns the hex sha256 of everything decompressed and the byte count. */
int stream_finish(struct stream *s, char hex[65], uint64_t *total, struct xerror *err);
/* Frees a finished stream (a running one is left to process exit). */
void stream_free(struct stream *s);

/* ---- tar headers (tar.c) ---- */
struct xattr
{
  const char *name;   /* NUL-terminated, points into the PAX buffer */
  const char *value;  /* not NUL-terminated */
  size_t len;
};

struct tar_entry
{
  char type;
  const char *name;      /* as given by the archive (after PAX/GNU overrides) */
  const char *linkname;
  uint64_t size;         /* bytes of data that follow the header */
  uint64_t uid, gid;
  mode_t mode;           /* permission bits incl. suid/sgid/sticky */
  struct timespec mtime;
  unsigned major, minor;
  struct xattr *xattrs;
  size_t n_xattrs;
};

struct tar_reader;
int tar_reader_new(struct tar_reader **out, struct stream *s, uint64_t max_size, struct xerror *err);
void tar_reader_free(struct tar_reader *r);
/* Returns 1 with *e filled, 0 at the end of the archive, -1 on error (*entry_name set when known). */
int tar_next(struct tar_reader *r, struct tar_entry *e, const char **entry_name, struct xerror *err);
/* Skips the padding after an entry's data (the data itself must already be consumed). */
int tar_end_entry(struct tar_reader *r, const struct tar_entry *e, struct xerror *err);

/* ---- confined path resolution (resolve.c) ---- */
struct clean_path
{
  char buf[EXTRACT_NAME_MAX + 1]; /* cleaned path, components separated by '/', no "", ".", ".." */
  size_t len;
  const char *base;   /* last component (points into buf), "" for the root */
  size_t parent_len;  /* length of the parent part of buf */
};

/* Cleans an archive name; refuses absolute names, names climbing above the root, NUL and length. */
int clean_path(const char *name, struct clean_path *out, struct xerror *err);

enum
{
  RESOLVE_NO_CREATE = 1 << 0,   /* missing components are errors instead of created */
  RESOLVE_NO_SYMLINKS = 1 << 1, /* any symlink on the way is an error */
};

struct resolver
{
  int rootfd;
  /* one-entry cache: the last resolved parent path */
  char *cache_path;
  size_t cache_len, cache_cap;
  int cache_fd;
  bool cache_via_symlink;
};

void resolver_init(struct resolver *r, int rootfd);
void resolver_release(struct resolver *r);
/* Opens (O_PATH) the directory named by the first len bytes of path, inside the root.
 * The returned fd belongs to the resolver's cache: do not close it; it is valid until the next call. */
int resolve_dir(struct resolver *r, const char *path, size_t len, int flags, int *dirfd, struct xerror *err);

/* ---- filesystem side (fsops.c) ---- */
struct extract_opts
{
  bool rootless;
  uint64_t max_size;
  const char *xattr_prefix;   /* "user" or "trusted" */
};

struct extract_stats
{
  uint64_t entries, skipped_devices, skipped_xattrs;
};

struct extractor;
int extractor_new(struct extractor **out, int rootfd, const struct extract_opts *opts, struct xerror *err);
void extractor_free(struct extractor *x);
/* Creates one entry; reads its data from s. */
int extractor_add(struct extractor *x, const struct tar_entry *e, struct stream *s, struct xerror *err);
/* Applies deferred directory modes and times. */
int extractor_finish(struct extractor *x, struct xerror *err);
const struct extract_stats *extractor_stats(const struct extractor *x);
#endif
