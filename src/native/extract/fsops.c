/* The filesystem side: creates each entry relative to its confined parent dirfd without following the
 * final component, and converts whiteouts to the overlay format. Metadata is in meta.c. */
#include "extractor.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define WH_META_PREFIX ".wh..wh."

int extractor_new(struct extractor **out, int rootfd, const struct extract_opts *opts, struct xerror *err)
{
  struct extractor *x;
  struct stat st;

  x = calloc(1, sizeof(*x));
  if (x == NULL)
    return xerror_make(err, ENOMEM, "allocate extractor");
  x->rootfd = rootfd;
  x->opts = *opts;
  resolver_init(&x->res, rootfd);
  snprintf(x->opaque_xattr, sizeof(x->opaque_xattr), "%s.overlay.opaque", opts->xattr_prefix);
  x->euid = geteuid();
  x->egid = getegid();
  if (fstat(rootfd, &st) < 0)
    return xerror_make(err, errno, "stat destination");
  x->skip_same_owner = (st.st_mode & S_ISGID) == 0;
  *out = x;
  return 0;
}

void extractor_free(struct extractor *x)
{
  size_t i;
  if (x == NULL)
    return;
  resolver_release(&x->res);
  for (i = 0; i < x->n_dirs; i++)
    free(x->dirs[i].path);
  free(x->dirs);
  free(x->dir_index);
  free(x);
}

const struct extract_stats *extractor_stats(const struct extractor *x)
{
  return &x->stats;
}
/* ---- entry kinds ---- */

static int duplicate(struct xerror *err)
{
  return xerror_make(err, 0, "duplicate entry: the layer already has this path");
}

static int make_regular(struct extractor *x, int pfd, const char *base, const struct tar_entry *e,
                        struct stream *s, struct xerror *err)
{
  cleanup_close int fd = -1;
  uint64_t remaining = e->size;

  fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return duplicate(err);
    return xerror_make(err, errno, "create file");
  }
  while (remaining > 0) {
    const unsigned char *p;
    size_t avail;

    if (stream_peek(s, &p, &avail, err) < 0)
      return -1;
    if (avail == 0)
      return xerror_make(err, 0, "truncated tar archive: %llu bytes of file data missing",
                         (unsigned long long) remaining);
    if (avail > remaining)
      avail = (size_t) remaining;
    if (write_all(fd, p, avail) < 0)
      return xerror_make(err, errno, "write file");
    stream_consume(s, avail);
    remaining -= avail;
  }
  /* chown clears suid/sgid and capabilities: owner, then mode, then xattrs */
  if (apply_owner(x, fd, -1, NULL, e, err) < 0)
    return -1;
  if (fchmod(fd, e->mode) < 0)
    return xerror_make(err, errno, "chmod");
  if (apply_xattrs(x, fd, -1, NULL, e, err) < 0)
    return -1;
  {
    struct timespec ts[2] = { e->mtime, e->mtime };
    if (futimens(fd, ts) < 0)
      return xerror_make(err, errno, "set times");
  }
  return 0;
}

static int make_dir(struct extractor *x, int pfd, const struct clean_path *cp, const struct tar_entry *e,
                    struct xerror *err)
{
  const char *base = cp->base;
  struct stat st;

  /* EEXIST: an implicitly created parent or a repeated directory entry; only the metadata changes */
  if (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST)
    return xerror_make(err, errno, "mkdir");
  if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return xerror_make(err, errno, "stat");
  if (!S_ISDIR(st.st_mode))
    return duplicate(err);
  if (apply_owner(x, -1, pfd, base, e, err) < 0)
    return -1;
  if (e->n_xattrs > 0) {
    cleanup_close int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      return xerror_make(err, errno, "open directory");
    if (apply_xattrs(x, fd, -1, NULL, e, err) < 0)
      return -1;
  }
  return defer_dir(x, cp->buf, st.st_ino, e, err);
}

static int make_special(struct extractor *x, int pfd, const char *base, const struct tar_entry *e,
                        struct xerror *err)
{
  int ret;

  switch (e->type) {
  case '2':
    if (e->linkname[0] == '\0')
      return xerror_make(err, 0, "symlink with an empty target");
    if (strlen(e->linkname) > EXTRACT_NAME_MAX)
      return xerror_make(err, 0, "symlink target longer than %d bytes", EXTRACT_NAME_MAX);
    ret = symlinkat(e->linkname, pfd, base);
    break;
  case '3':
    ret = mknodat(pfd, base, S_IFCHR | 0600, makedev(e->major, e->minor));
    break;
  case '4':
    ret = mknodat(pfd, base, S_IFBLK | 0600, makedev(e->major, e->minor));
    break;
  default: /* '6' */
    ret = mknodat(pfd, base, S_IFIFO | 0600, 0);
    break;
  }
  if (ret < 0) {
    if (errno == EEXIST)
      return duplicate(err);
    return xerror_make(err, errno, "create %s", e->type == '2' ? "symlink" : e->type == '6' ? "fifo" : "device");
  }
  if (apply_owner(x, -1, pfd, base, e, err) < 0)
    return -1;
  /* symlinks have no mode; for the others glibc's fchmodat(AT_SYMLINK_NOFOLLOW) never opens the node */
  if (e->type != '2' && fchmodat(pfd, base, e->mode, AT_SYMLINK_NOFOLLOW) < 0)
    return xerror_make(err, errno, "chmod");
  if (apply_xattrs(x, -1, pfd, base, e, err) < 0)
    return -1;
  return apply_times(pfd, base, &e->mtime, err);
}

static int make_hardlink(struct extractor *x, const struct clean_path *cp, const struct tar_entry *e,
                         struct xerror *err)
{
  struct clean_path target;
  cleanup_close int tfd = -1;
  struct stat st;
  int pfd;

  struct xerror why = { 0 };

  if (clean_path(e->linkname, &target, &why) < 0)
    return xerror_make(err, 0, "hardlink target %s refused: %s", e->linkname, why.msg);
  if (target.len == 0)
    return xerror_make(err, 0, "hardlink to the layer root refused");
  if (resolve_dir(&x->res, target.buf, target.parent_len, RESOLVE_NO_CREATE, &pfd, &why) < 0)
    return xerror_make(err, 0, "hardlink target %s is not in the layer: %s", e->linkname, why.msg);
  if (fstatat(pfd, target.base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return xerror_make(err, 0, "hardlink target %s is not in the layer", e->linkname);
    return xerror_make(err, errno, "stat hardlink target %s", e->linkname);
  }
  if (S_ISDIR(st.st_mode))
    return xerror_make(err, 0, "hardlink target %s is a directory", e->linkname);
  if (S_ISCHR(st.st_mode) && st.st_rdev == 0)
    return xerror_make(err, 0, "hardlink target %s is a whiteout", e->linkname);
  /* the resolver's fd is only valid until its next call */
  tfd = fcntl(pfd, F_DUPFD_CLOEXEC, 0);
  if (tfd < 0)
    return xerror_make(err, errno, "dup");
  if (resolve_dir(&x->res, cp->buf, cp->parent_len, 0, &pfd, err) < 0)
    return -1;
  if (linkat(tfd, target.base, pfd, cp->base, 0) < 0) {
    if (errno == EEXIST)
      return duplicate(err);
    return xerror_make(err, errno, "link to %s", e->linkname);
  }
  return 0;
}

static int make_whiteout(struct extractor *x, const struct clean_path *cp, struct xerror *err)
{
  const char *victim = cp->base + strlen(WH_PREFIX);
  int pfd;

  struct xerror why = { 0 };

  if (resolve_dir(&x->res, cp->buf, cp->parent_len, RESOLVE_NO_SYMLINKS, &pfd, &why) < 0)
    return xerror_make(err, 0, "whiteout refused: %s", why.msg);
  if (strcmp(cp->base, WH_OPAQUE) == 0) {
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
    /* pfd is an O_PATH fd pinned on the directory: following its magic link is exact */
    if (setxattr(proc, x->opaque_xattr, "y", 1, 0) < 0)
      return xerror_make(err, errno, "set %s", x->opaque_xattr);
    return 0;
  }
  if (mknodat(pfd, victim, S_IFCHR, makedev(0, 0)) < 0) {
    if (errno == EEXIST)
      return xerror_make(err, 0, "whiteout for %s, which this layer already has", victim);
    return xerror_make(err, errno, "create whiteout for %s", victim);
  }
  return 0;
}

static bool is_degenerate_whiteout(const char *base)
{
  const char *v = base + strlen(WH_PREFIX);
  return v[0] == '\0' || strcmp(v, ".") == 0 || strcmp(v, "..") == 0 || has_prefix(v, WH_PREFIX);
}

int extractor_add(struct extractor *x, const struct tar_entry *e, struct stream *s, struct xerror *err)
{
  struct clean_path cp;
  const char *p;
  int pfd, ret;

  x->stats.entries++;
  if (clean_path(e->name, &cp, err) < 0)
    return -1;

  /* AUFS metadata at the top (.wh..wh.plnk, .wh..wh.aufs, .wh..wh.orph): skipped, as moby does */
  if (has_prefix(cp.buf, WH_META_PREFIX) && strcmp(cp.buf, WH_OPAQUE) != 0)
    return stream_skip(s, e->size, err);

  /* ".wh." is reserved for whiteouts: never a directory on the way */
  for (p = cp.buf; p < cp.base; p = strchr(p, '/') + 1)
    if (has_prefix(p, WH_PREFIX))
      return xerror_make(err, 0, "whiteout name used as a directory");

  if (cp.len == 0) {
    /* ".", "./" or "/": metadata of the layer root, which is never replaced */
    if (e->type != '5')
      return xerror_make(err, 0, "entry for the layer root must be a directory");
    struct stat st;
    if (fstat(x->rootfd, &st) < 0)
      return xerror_make(err, errno, "stat the layer root");
    if (apply_owner(x, x->rootfd, -1, NULL, e, err) < 0 || apply_xattrs(x, x->rootfd, -1, NULL, e, err) < 0)
      return -1;
    return defer_dir(x, "", st.st_ino, e, err);
  }

  if (has_prefix(cp.base, WH_PREFIX)) {
    if (strcmp(cp.base, WH_OPAQUE) != 0 && is_degenerate_whiteout(cp.base))
      return xerror_make(err, 0, "invalid whiteout name %s", cp.base);
    if (make_whiteout(x, &cp, err) < 0)
      return -1;
    return stream_skip(s, e->size, err);
  }

  if (e->type == '1')
    return make_hardlink(x, &cp, e, err);
  if ((e->type == '3' || e->type == '4') && x->opts.rootless) {
    x->stats.skipped_devices++;
    return 0;
  }

  if (resolve_dir(&x->res, cp.buf, cp.parent_len, 0, &pfd, err) < 0)
    return -1;
  switch (e->type) {
  case '0':
  case '\0':
  case '7':
    ret = make_regular(x, pfd, cp.base, e, s, err);
    break;
  case '5':
    ret = make_dir(x, pfd, &cp, e, err);
    break;
  default:
    ret = make_special(x, pfd, cp.base, e, err);
    break;
  }
  return ret;
}
