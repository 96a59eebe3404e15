/* Confined path handling: lexical cleaning of archive names, and resolution of a directory path one
 * component at a time from the root dirfd with O_NOFOLLOW, emulating symlinks inside the root (an
 * absolute target is root-relative, ".." above the root is refused) with a link budget. */
#include "extract.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

int clean_path(const char *name, struct clean_path *out, struct xerror *err)
{
  size_t n = strlen(name), o = 0;
  const char *p = name, *end = name + n;

  if (n == 0)
    return xerror_make(err, 0, "empty entry name");
  if (n > EXTRACT_NAME_MAX)
    return xerror_make(err, 0, "entry name longer than %d bytes", EXTRACT_NAME_MAX);
  while (p < end) {
    const char *slash = memchr(p, '/', (size_t) (end - p));
    size_t len = slash ? (size_t) (slash - p) : (size_t) (end - p);

    if (len == 0 || (len == 1 && p[0] == '.')) {
      /* empty or "." component */
    } else if (name[0] == '/') {
      return xerror_make(err, 0, "absolute path refused");
    } else if (len == 2 && p[0] == '.' && p[1] == '.') {
      char *last;
      if (o == 0)
        return xerror_make(err, 0, "path escapes the layer root (\"..\")");
      out->buf[o] = '\0';
      last = strrchr(out->buf, '/');
      o = last ? (size_t) (last - out->buf) : 0;
    } else {
      if (o > 0)
        out->buf[o++] = '/';
      memcpy(out->buf + o, p, len);
      o += len;
    }
    p += len + 1;
  }
  out->buf[o] = '\0';
  out->len = o;
  {
    char *last = strrchr(out->buf, '/');
    out->base = last ? last + 1 : out->buf;
    out->parent_len = last ? (size_t) (last - out->buf) : 0;
  }
  return 0;
}

void resolver_init(struct resolver *r, int rootfd)
{
  memset(r, 0, sizeof(*r));
  r->rootfd = rootfd;
  r->cache_fd = -1;
}

void resolver_release(struct resolver *r)
{
  if (r->cache_fd >= 0)
    close(r->cache_fd);
  r->cache_fd = -1;
  free(r->cache_path);
  r->cache_path = NULL;
}

static int set_cur(int *cur, bool *owned, int fd)
{
  if (*owned)
    close(*cur);
  *cur = fd;
  *owned = true;
  return 0;
}

static int walk(struct resolver *r, const char *path, size_t len, int flags, int *out, bool *via_symlink,
                struct xerror *err)
{
  cleanup_free char *pending = NULL;
  char target[EXTRACT_NAME_MAX + 1];
  size_t plen = len, pos = 0;
  int cur = r->rootfd, budget = EXTRACT_LINK_BUDGET;
  bool owned = false;
  size_t depth = 0;
  const char *where = "";

  pending = strndup(path, len);
  if (pending == NULL)
    return xerror_make(err, ENOMEM, "allocate path");
  *via_symlink = false;

  while (pos < plen) {
    char *comp = pending + pos, *slash = memchr(comp, '/', plen - pos);
    size_t clen = slash ? (size_t) (slash - comp) : plen - pos;
    ssize_t tlen;
    int fd;

    comp[clen] = '\0';
    pos += clen + 1;
    where = comp;
    if (clen == 0 || strcmp(comp, ".") == 0)
      continue;
    if (strcmp(comp, "..") == 0) {
      if (depth == 0)
        goto escape;
      fd = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        goto fail_errno;
      set_cur(&cur, &owned, fd);
      depth--;
      continue;
    }
    fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      set_cur(&cur, &owned, fd);
      depth++;
      continue;
    }
    if (errno == ENOENT) {
      if (flags & RESOLVE_NO_CREATE) {
        xerror_make(err, 0, "%s: no such directory in the layer", comp);
        goto fail;
      }
      if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
        goto fail_errno;
      fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0)
        goto fail_errno;
      set_cur(&cur, &owned, fd);
      depth++;
      continue;
    }
    if (errno != ENOTDIR && errno != ELOOP)
      goto fail_errno;
    tlen = readlinkat(cur, comp, target, sizeof(target));
    if (tlen < 0) {
      if (errno == EINVAL)
        xerror_make(err, 0, "%s: parent is not a directory", comp);
      else
        xerror_make(err, errno, "readlink %s", comp);
      goto fail;
    }
    if (flags & RESOLVE_NO_SYMLINKS) {
      xerror_make(err, 0, "%s: parent is a symlink", comp);
      goto fail;
    }
    if ((size_t) tlen >= sizeof(target) || tlen == 0) {
      xerror_make(err, 0, "%s: invalid symlink target", comp);
      goto fail;
    }
    if (--budget < 0) {
      xerror_make(err, ELOOP, "%s", comp);
      goto fail;
    }
    *via_symlink = true;
    {
      size_t rest = pos < plen ? plen - pos : 0;
      char *np = malloc((size_t) tlen + 1 + rest + 1);
      if (np == NULL) {
        xerror_make(err, ENOMEM, "allocate path");
        goto fail;
      }
      memcpy(np, target, (size_t) tlen);
      np[tlen] = '/';
      memcpy(np + tlen + 1, pending + pos, rest);
      plen = (size_t) tlen + 1 + rest;
      np[plen] = '\0';
      free(pending);
      pending = np;
      pos = 0;
    }
    if (target[0] == '/') {
      if (owned)
        close(cur);
      cur = r->rootfd;
      owned = false;
      depth = 0;
    }
  }
  if (!owned) {
    cur = fcntl(r->rootfd, F_DUPFD_CLOEXEC, 0);
    if (cur < 0)
      return xerror_make(err, errno, "dup");
  }
  *out = cur;
  return 0;

escape:
  xerror_make(err, 0, "symlink target escapes the layer root");
  goto fail;
fail_errno:
  xerror_make(err, errno, "resolve %s", where);
fail:
  if (owned)
    close(cur);
  return -1;
}

int resolve_dir(struct resolver *r, const char *path, size_t len, int flags, int *dirfd, struct xerror *err)
{
  bool via_symlink;
  int fd;

  if (len == 0) {
    *dirfd = r->rootfd;
    return 0;
  }
  if (r->cache_fd >= 0 && r->cache_len == len && memcmp(r->cache_path, path, len) == 0) {
    if ((flags & RESOLVE_NO_SYMLINKS) && r->cache_via_symlink)
      return xerror_make(err, 0, "parent directory is reached through a symlink");
    *dirfd = r->cache_fd;
    return 0;
  }
  if (walk(r, path, len, flags, &fd, &via_symlink, err) < 0)
    return -1;
  if (r->cache_cap < len + 1) {
    char *p = realloc(r->cache_path, len + 1);
    if (p == NULL) {
      close(fd);
      return xerror_make(err, ENOMEM, "allocate path");
    }
    r->cache_path = p;
    r->cache_cap = len + 1;
  }
  if (r->cache_fd >= 0)
    close(r->cache_fd);
  memcpy(r->cache_path, path, len);
  r->cache_len = len;
  r->cache_fd = fd;
  r->cache_via_symlink = via_symlink;
  *dirfd = fd;
  return 0;
}
