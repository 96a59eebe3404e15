/* Internal to the filesystem side of tspod-extract (fsops.c, meta.c). */
#ifndef TSPOD_EXTRACTOR_H
#define TSPOD_EXTRACTOR_H
#include "extract.h"
#include <string.h>

struct dir_meta
{
  char *path; /* cleaned path, "" for the root */
  ino_t ino;
  mode_t mode;
  struct timespec mtime;
};

struct extractor
{
  int rootfd;
  struct extract_opts opts;
  struct resolver res;
  struct extract_stats stats;
  struct dir_meta *dirs;
  size_t n_dirs, cap_dirs;
  /* inode -> 1 + index in dirs, open addressing: a repeated directory entry updates its record, so
   * memory grows with distinct directories, not with entries */
  size_t *dir_index;
  size_t dir_index_cap;
  char opaque_xattr[64];
  bool skip_same_owner; /* new files already belong to euid:egid */
  uid_t euid;
  gid_t egid;
};

static inline bool has_prefix(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Owner, xattrs: fd >= 0 means the open object, else (dirfd, name) without following. */
int apply_owner(struct extractor *x, int fd, int dirfd, const char *name, const struct tar_entry *e,
                struct xerror *err);
int apply_xattrs(struct extractor *x, int fd, int dirfd, const char *name, const struct tar_entry *e,
                 struct xerror *err);
int apply_times(int dirfd, const char *name, const struct timespec *mtime, struct xerror *err);
/* Records a directory's mode and mtime for extractor_finish; ino identifies it. */
int defer_dir(struct extractor *x, const char *path, ino_t ino, const struct tar_entry *e, struct xerror *err);
#endif
