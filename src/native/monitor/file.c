/* Small file helpers: atomic writes (exit file, pidfile), pid files, /dev/null, closing fds. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

/* Writes `path` via a temporary file in the same directory and rename: readers see either the old
 * content or all of the new one, also after a kill -9 of anything. No fsync: every file written
 * this way (exit file, pid files) lives in the run root, which does not outlive a reboot, and an
 * fsync of the monitor's pidfile cost 2 ms of each start where the run root is on a disk. */
int write_file_atomic(const char *path, const char *data, size_t len, tspod_error_t *err)
{
  cleanup_free char *tmp = NULL;
  cleanup_close int fd = -1;

  if (asprintf(&tmp, "%s.tmp.%d", path, (int) getpid()) < 0) return tspod_make_error(err, errno, "allocate");
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return tspod_make_error(err, errno, "create `%s`", tmp);
  if (write_all(fd, data, len) < 0) {
    int saved = errno;
    unlink(tmp);
    return tspod_make_error(err, saved, "write `%s`", tmp);
  }
  if (rename(tmp, path) < 0) {
    int saved = errno;
    unlink(tmp);
    return tspod_make_error(err, saved, "rename `%s` to `%s`", tmp, path);
  }
  return 0;
}

int read_pid_file(const char *path, pid_t *pid, tspod_error_t *err)
{
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  char buf[32];
  ssize_t n;
  char *end = NULL;
  long v;

  if (fd < 0) return tspod_make_error(err, errno, "open pid file `%s`", path);
  n = read_all(fd, buf, sizeof(buf) - 1);
  if (n < 0) return tspod_make_error(err, errno, "read pid file `%s`", path);
  buf[n] = '\0';
  errno = 0;
  v = strtol(buf, &end, 10);
  if (errno != 0 || end == buf || v <= 0 || v > INT_MAX || (*end != '\0' && *end != '\n'))
    return tspod_make_error(err, 0, "invalid pid file `%s`: `%s`", path, buf);
  *pid = (pid_t) v;
  return 0;
}

int open_dev_null(int flags, tspod_error_t *err)
{
  int fd = open("/dev/null", flags | O_CLOEXEC);
  if (fd < 0) return tspod_make_error(err, errno, "open /dev/null");
  return fd;
}

/* Closes every fd >= first: what a child gets is exactly what was dup2'ed below it. */
void close_fds_from(unsigned int first)
{
#ifdef SYS_close_range
  if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 1 << 20) max = 1 << 20;
  for (long fd = first; fd < max; fd++) close((int) fd);
}
