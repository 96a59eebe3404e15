/* The per-user pause process: holds the rootless user + mount namespace so every tspod call can
 * setns() into it. Pid file <statedir>/pause.pid = "<pid> <starttime>\n" (starttime: field 22 of
 * /proc/<pid>/stat), replaced atomically; creation is serialized by flock on <statedir>/pause.lock. */
#include "launcher.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

int proc_starttime(pid_t pid, unsigned long long *out)
{
  char path[64], buf[2048], *p, *end;
  cleanup_close int fd = -1;
  ssize_t n;
  int field;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  n = read_all(fd, buf, sizeof(buf) - 1);
  if (n < 0) return -1;
  buf[n] = '\0';
  /* comm (field 2) may contain spaces and ')': fields 3.. start after the last ')'. */
  p = strrchr(buf, ')');
  if (p == NULL) goto invalid;
  p++;
  for (field = 3; field < 22; field++) {
    while (*p == ' ')
      p++;
    p = strchr(p, ' ');
    if (p == NULL) goto invalid;
  }
  while (*p == ' ')
    p++;
  if (*p < '0' || *p > '9') goto invalid;
  errno = 0;
  *out = strtoull(p, &end, 10);
  if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0')) goto invalid;
  return 0;
invalid:
  errno = EINVAL;
  return -1;
}

/* Reads the pid file. Returns 1 with pid/starttime, 0 when missing or unparsable. */
static int read_pidfile(const char *statedir, pid_t *pid, unsigned long long *starttime)
{
  char path[PATH_MAX], buf[64], *end;
  cleanup_close int fd = -1;
  unsigned long long v;
  ssize_t n;

  snprintf(path, sizeof(path), "%s/pause.pid", statedir);
  fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  n = read_all(fd, buf, sizeof(buf) - 1);
  if (n <= 0) return 0;
  buf[n] = '\0';
  errno = 0;
  v = strtoull(buf, &end, 10);
  if (errno || end == buf || *end != ' ' || v < 2 || v > INT_MAX) return 0;
  *pid = (pid_t) v;
  *starttime = strtoull(end + 1, &end, 10);
  if (errno || *end != '\n') return 0;
  return 1;
}

/* The pid still names our pause process: same start time and owned by uid. */
static bool pause_alive(pid_t pid, unsigned long long starttime, uid_t uid)
{
  char path[64];
  unsigned long long now;
  struct stat st;

  if (proc_starttime(pid, &now) < 0 || now != starttime) return false;
  snprintf(path, sizeof(path), "/proc/%d", (int) pid);
  return stat(path, &st) == 0 && st.st_uid == uid;
}

/* Returns 1 when joined, 0 when the process is gone (caller may create a new one), < 0 on error.
 * Nothing irreversible happens before the first setns(), so 0 is always safe to retry. */
static int try_join(struct pause_ctx *ctx, pid_t pid, unsigned long long starttime, launcher_error_t *err)
{
  cleanup_close int userfd = -1;
  cleanup_close int mntfd = -1;
  char path[64];
  unsigned long long now;

  if (!pause_alive(pid, starttime, ctx->uid)) return 0;
  /* Open both before entering either: after setns(CLONE_NEWUSER) we may no longer be allowed to. */
  snprintf(path, sizeof(path), "/proc/%d/ns/user", (int) pid);
  userfd = open(path, O_RDONLY | O_CLOEXEC);
  if (userfd < 0) return (errno == ENOENT || errno == ESRCH) ? 0 : launcher_make_error(err, errno, "open %s", path);
  snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int) pid);
  mntfd = open(path, O_RDONLY | O_CLOEXEC);
  if (mntfd < 0) return (errno == ENOENT || errno == ESRCH) ? 0 : launcher_make_error(err, errno, "open %s", path);
  /* The pid may have been reused between the check and the opens. */
  if (proc_starttime(pid, &now) < 0 || now != starttime) return 0;

  if (setns(userfd, CLONE_NEWUSER) < 0)
    return launcher_make_error(err, errno, "join the user namespace of the pause process %d", (int) pid);
  if (setns(mntfd, CLONE_NEWNS) < 0)
    return launcher_make_error(err, errno, "join the mount namespace of the pause process %d", (int) pid);
  /* setns(CLONE_NEWNS) moved us to /; the namespace's mounts mirror the host's, so go back. Do it
   * before dropping supplementary groups, which may be what grants access to the directory. */
  if (ctx->cwd != NULL && chdir(ctx->cwd) < 0)
    return launcher_make_error(err, errno, "chdir to %s in the user namespace", ctx->cwd);
  if (setgroups(0, NULL) < 0 && errno != EPERM) return launcher_make_error(err, errno, "setgroups");
  if (setresgid(0, 0, 0) < 0) return launcher_make_error(err, errno, "setresgid to 0 in the user namespace");
  if (setresuid(0, 0, 0) < 0) return launcher_make_error(err, errno, "setresuid to 0 in the user namespace");
  return 1;
}

int pause_join_or_create(struct pause_ctx *ctx, pid_t *pause_pid, launcher_error_t *err)
{
  cleanup_close int lockfd = -1;
  char path[PATH_MAX];
  unsigned long long starttime;
  pid_t pid;
  int ret;

  /* Fast path, no lock: the pause process is alive. */
  if (read_pidfile(ctx->statedir, &pid, &starttime)) {
    ret = try_join(ctx, pid, starttime, err);
    if (ret != 0) {
      if (ret > 0) {
        *pause_pid = pid;
        launcher_debug("join: joined pause process %d (fast path)", (int) pid);
      }
      return ret < 0 ? ret : 0;
    }
    launcher_debug("join: pause process %d from the pid file is gone", (int) pid);
  } else
    launcher_debug("join: no valid pid file");

  snprintf(path, sizeof(path), "%s/pause.lock", ctx->statedir);
  lockfd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lockfd < 0) return launcher_make_error(err, errno, "open %s", path);
  while (flock(lockfd, LOCK_EX) < 0)
    if (errno != EINTR) return launcher_make_error(err, errno, "lock %s", path);
  launcher_debug("join: took %s", path);

  /* Someone may have created it while we waited. */
  if (read_pidfile(ctx->statedir, &pid, &starttime)) {
    ret = try_join(ctx, pid, starttime, err);
    if (ret < 0) return ret;
    if (ret > 0) {
      *pause_pid = pid;
      launcher_debug("join: joined pause process %d (created by another call)", (int) pid);
      return 0;
    }
  }

  ret = pause_create(ctx, &pid, &starttime, err);
  if (ret < 0) return ret;
  launcher_debug("create: pause process %d ready (starttime %llu)", (int) pid, starttime);
  ret = try_join(ctx, pid, starttime, err);
  if (ret < 0) return ret;
  if (ret == 0)
    return launcher_make_error(err, 0, "the new pause process %d exited before it could be joined", (int) pid);
  *pause_pid = pid;
  launcher_debug("create: joined new pause process %d", (int) pid);
  return 0;
}
