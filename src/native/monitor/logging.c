/* Container log in the k8s-file format (the CRI log format podman's k8s-file driver writes):
 *   <RFC3339Nano timestamp, local offset> <stdout|stderr> <F|P> <text>\n
 * F ends a line; P is a piece of a line (the chunk read from the container did not end in \n).
 * No line is buffered across reads: a partial line is written as P at once, like conmon.
 * --log-size-max: a record that would take the file past the cap truncates it to 0 first. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#define TS_MAX 48
#define BATCH 64 /* records per writev */

int log_open(struct logger *l, tspod_error_t *err)
{
  struct stat st;
  if (l->driver != LOG_DRIVER_K8S_FILE) {
    l->fd = -1;
    return 0;
  }
  tzset();
  l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (l->fd < 0) return tspod_make_error(err, errno, "open log file `%s`", l->path);
  l->written = fstat(l->fd, &st) == 0 ? st.st_size : 0;
  return 0;
}

int log_reopen(struct logger *l, tspod_error_t *err)
{
  if (l->driver != LOG_DRIVER_K8S_FILE) return 0;
  if (l->fd >= 0) close(l->fd);
  l->fd = -1;
  return log_open(l, err);
}

static size_t format_timestamp(char *buf)
{
  struct timespec ts;
  struct tm tm;
  long off;
  char sign = '+';
  int n;

  clock_gettime(CLOCK_REALTIME, &ts);
  localtime_r(&ts.tv_sec, &tm);
  off = tm.tm_gmtoff;
  if (off < 0) {
    sign = '-';
    off = -off;
  }
  n = snprintf(buf, TS_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%09ld%c%02ld:%02ld", tm.tm_year + 1900, tm.tm_mon + 1,
               tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec, sign, off / 3600, (off % 3600) / 60);
  return n > 0 && n < TS_MAX ? (size_t) n : 0;
}

struct batch {
  struct iovec iov[BATCH * 3];
  int n;
  size_t bytes;
};

static void batch_flush(struct logger *l, struct batch *b)
{
  struct iovec *iov = b->iov;
  int cnt = b->n * 3;
  /* Log writes are best effort: a full disk must not stop the container or the attach stream. */
  while (cnt > 0) {
    ssize_t w = writev(l->fd, iov, cnt);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;
    }
    l->written += w;
    while (cnt > 0 && (size_t) w >= iov->iov_len) {
      w -= (ssize_t) iov->iov_len;
      iov++;
      cnt--;
    }
    if (cnt > 0) {
      iov->iov_base = (char *) iov->iov_base + w;
      iov->iov_len -= (size_t) w;
    }
  }
  b->n = 0;
  b->bytes = 0;
}

void log_write(struct logger *l, int stream, const char *buf, size_t len)
{
  static struct batch b; /* static: keeps 3 KiB of iovecs off the stack */
  char head_full[TS_MAX + 16], head_partial[TS_MAX + 16];
  const char *name = stream == TSPOD_STREAM_STDERR ? "stderr" : "stdout";
  size_t ts_len, head_len;
  char ts[TS_MAX];

  if (l->fd < 0 || len == 0) return;
  ts_len = format_timestamp(ts);
  head_len = (size_t) snprintf(head_full, sizeof(head_full), "%.*s %s F ", (int) ts_len, ts, name);
  snprintf(head_partial, sizeof(head_partial), "%.*s %s P ", (int) ts_len, ts, name);

  while (len > 0) {
    const char *nl = memchr(buf, '\n', len);
    size_t text = nl ? (size_t) (nl - buf) : len;
    size_t rec = head_len + text + 1;

    if (l->max > 0 && l->written + (long long) (b.bytes + rec) > l->max) {
      batch_flush(l, &b);
      if (ftruncate(l->fd, 0) == 0) l->written = 0;
    }
    b.iov[b.n * 3] = (struct iovec){nl ? head_full : head_partial, head_len};
    b.iov[b.n * 3 + 1] = (struct iovec){(void *) buf, text};
    b.iov[b.n * 3 + 2] = (struct iovec){"\n", 1};
    b.n++;
    b.bytes += rec;
    if (b.n == BATCH) batch_flush(l, &b);

    buf += text + (nl ? 1 : 0);
    len -= text + (nl ? 1 : 0);
  }
  batch_flush(l, &b);
}
