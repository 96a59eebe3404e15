#include "launcher.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int check_dir(const char *dir, const struct stat *st, uid_t uid, launcher_error_t *err)
{
  if (S_ISLNK(st->st_mode))
    return launcher_make_error(err, 0, "runtime directory %s is a symlink: refusing to use it", dir);
  if (!S_ISDIR(st->st_mode)) return launcher_make_error(err, ENOTDIR, "runtime directory %s", dir);
  if (st->st_uid != uid)
    return launcher_make_error(err, 0, "runtime directory %s is owned by uid %u, not by uid %u: refusing to use it",
                               dir, (unsigned) st->st_uid, (unsigned) uid);
  return 0;
}

int rundir_ensure_dir(const char *dir, uid_t uid, launcher_error_t *err)
{
  struct stat st;

  if (lstat(dir, &st) < 0) {
    if (errno != ENOENT) return launcher_make_error(err, errno, "stat %s", dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
      return launcher_make_error(err, errno, "create runtime directory %s", dir);
    if (lstat(dir, &st) < 0) return launcher_make_error(err, errno, "stat %s", dir);
  }
  return check_dir(dir, &st, uid, err);
}

int rundir_resolve(uid_t uid, char **out, launcher_error_t *err)
{
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  char path[64];
  struct stat st;
  int ret;

  if (xdg != NULL && xdg[0] == '/' && lstat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid) {
    size_t len = strlen(xdg);
    while (len > 1 && xdg[len - 1] == '/')
      len--;
    *out = strndup(xdg, len);
    if (*out == NULL) return launcher_make_error(err, errno, "strndup");
    return 0;
  }

  snprintf(path, sizeof(path), "/tmp/tspod-run-%u", (unsigned) uid);
  ret = rundir_ensure_dir(path, uid, err);
  if (ret < 0) return ret;
  *out = strdup(path);
  if (*out == NULL) return launcher_make_error(err, errno, "strdup");
  return 0;
}
