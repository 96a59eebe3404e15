/* Metadata applied to the object itself after confinement: owner, then mode, then xattrs, then times
 * (chown clears suid/sgid and file capabilities). Directory modes and times wait for the end, since
 * creating children changes them. */
#include "extractor.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

int apply_owner(struct extractor *x, int fd, int dirfd, const char *name, const struct tar_entry *e, struct xerror *err)
{
  int ret;

  if (e->uid >= (uint64_t) (uid_t) -1 || e->gid >= (uint64_t) (gid_t) -1)
    return xerror_make(err, 0, "uid %llu / gid %llu out of range", (unsigned long long) e->uid,
                       (unsigned long long) e->gid);
  if (x->skip_same_owner && e->uid == x->euid && e->gid == x->egid)
    return 0;
  if (fd >= 0)
    ret = fchown(fd, (uid_t) e->uid, (gid_t) e->gid);
  else
    ret = fchownat(dirfd, name, (uid_t) e->uid, (gid_t) e->gid, AT_SYMLINK_NOFOLLOW);
  if (ret == 0)
    return 0;
  if (errno == EINVAL) {
    /* which of the two is not mapped? */
    if (fd >= 0)
      ret = fchown(fd, (uid_t) e->uid, (gid_t) -1);
    else
      ret = fchownat(dirfd, name, (uid_t) e->uid, (gid_t) -1, AT_SYMLINK_NOFOLLOW);
    if (ret < 0 && errno == EINVAL)
      return xerror_make(err, 0, "uid %llu is not mapped in the user namespace (the subordinate id range is too small)",
                         (unsigned long long) e->uid);
    return xerror_make(err, 0, "gid %llu is not mapped in the user namespace (the subordinate id range is too small)",
                       (unsigned long long) e->gid);
  }
  return xerror_make(err, errno, "chown %llu:%llu", (unsigned long long) e->uid, (unsigned long long) e->gid);
}

int apply_xattrs(struct extractor *x, int fd, int dirfd, const char *name, const struct tar_entry *e, struct xerror *err)
{
  char proc[64 + EXTRACT_NAME_MAX];
  size_t i;

  if (e->n_xattrs == 0)
    return 0;
  if (fd < 0)
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
  for (i = 0; i < e->n_xattrs; i++) {
    const struct xattr *xa = &e->xattrs[i];
    int ret;

    /* Overlay metadata (redirects, opaque markers, metacopy) is never taken from an archive. */
    if (has_prefix(xa->name, "trusted.overlay.") || has_prefix(xa->name, "user.overlay.")) {
      x->stats.skipped_xattrs++;
      continue;
    }
    if (fd >= 0)
      ret = fsetxattr(fd, xa->name, xa->value, xa->len, 0);
    else
      ret = lsetxattr(proc, xa->name, xa->value, xa->len, 0);
    if (ret == 0)
      continue;
    if (errno == EPERM || errno == ENOTSUP) {
      /* Unprivileged: security.* and trusted.* may be refused. user.* is refused on symlinks and
       * special files by every kernel. */
      if ((x->opts.rootless && (has_prefix(xa->name, "security.") || has_prefix(xa->name, "trusted.")))
          || (fd < 0 && has_prefix(xa->name, "user."))) {
        x->stats.skipped_xattrs++;
        continue;
      }
    }
    return xerror_make(err, errno, "set xattr %s", xa->name);
  }
  return 0;
}

/* atime = mtime, as containerd does */
int apply_times(int dirfd, const char *name, const struct timespec *mtime, struct xerror *err)
{
  struct timespec ts[2] = { *mtime, *mtime };

  if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
    return xerror_make(err, errno, "set times");
  return 0;
}

static size_t *dir_slot(struct extractor *x, ino_t ino)
{
  size_t mask = x->dir_index_cap - 1, i = ((size_t) ino * 0x9e3779b97f4a7c15ULL) & mask;

  while (x->dir_index[i] != 0 && x->dirs[x->dir_index[i] - 1].ino != ino)
    i = (i + 1) & mask;
  return &x->dir_index[i];
}

static int grow_dir_index(struct extractor *x, struct xerror *err)
{
  size_t cap = x->dir_index_cap ? x->dir_index_cap * 2 : 1024, i;

  free(x->dir_index);
  x->dir_index = calloc(cap, sizeof(size_t));
  if (x->dir_index == NULL)
    return xerror_make(err, ENOMEM, "allocate");
  x->dir_index_cap = cap;
  for (i = 0; i < x->n_dirs; i++)
    *dir_slot(x, x->dirs[i].ino) = i + 1;
  return 0;
}

int defer_dir(struct extractor *x, const char *path, ino_t ino, const struct tar_entry *e, struct xerror *err)
{
  struct dir_meta *d;
  size_t *slot;

  if ((x->n_dirs + 1) * 2 > x->dir_index_cap && grow_dir_index(x, err) < 0)
    return -1;
  slot = dir_slot(x, ino);
  if (*slot != 0) {
    d = &x->dirs[*slot - 1];
    d->mode = e->mode;
    d->mtime = e->mtime;
    return 0;
  }
  if (x->n_dirs == x->cap_dirs) {
    size_t cap = x->cap_dirs ? x->cap_dirs * 2 : 256;
    d = realloc(x->dirs, cap * sizeof(*d));
    if (d == NULL)
      return xerror_make(err, ENOMEM, "allocate");
    x->dirs = d;
    x->cap_dirs = cap;
  }
  d = &x->dirs[x->n_dirs];
  d->path = strdup(path);
  if (d->path == NULL)
    return xerror_make(err, ENOMEM, "allocate");
  d->ino = ino;
  d->mode = e->mode;
  d->mtime = e->mtime;
  x->n_dirs++;
  *slot = x->n_dirs;
  return 0;
}

int extractor_finish(struct extractor *x, struct xerror *err)
{
  size_t i;

  for (i = 0; i < x->n_dirs; i++) {
    const struct dir_meta *d = &x->dirs[i];
    struct timespec ts[2] = { d->mtime, d->mtime };
    struct clean_path cp;
    int pfd;

    if (d->path[0] == '\0') {
      if (fchmod(x->rootfd, d->mode) < 0 || futimens(x->rootfd, ts) < 0)
        return xerror_make(err, errno, "set metadata of the layer root");
      continue;
    }
    if (clean_path(d->path, &cp, err) < 0
        || resolve_dir(&x->res, cp.buf, cp.parent_len, RESOLVE_NO_CREATE, &pfd, err) < 0)
      return -1;
    if (fchmodat(pfd, cp.base, d->mode, AT_SYMLINK_NOFOLLOW) < 0)
      return xerror_make(err, errno, "chmod directory %s", d->path);
    if (utimensat(pfd, cp.base, ts, AT_SYMLINK_NOFOLLOW) < 0)
      return xerror_make(err, errno, "set times of directory %s", d->path);
  }
  return 0;
}
