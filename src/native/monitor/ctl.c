/* The control FIFO <socket-dir>/ctl: text lines "<type> <height> <width>\n".
 *   1 H W   resize the pty to H rows, W columns (TIOCSWINSZ on the master; the kernel sends SIGWINCH)
 *   2 0 0   reopen the log file (after the CLI rotated it)
 * Unknown or malformed lines are ignored. The monitor holds a writer open itself, so the FIFO never
 * reports EOF however many clients open and close it. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>

int ctl_setup(struct monitor *m, tspod_error_t *err)
{
  const char *dir = m->opts->socket_dir;
  m->ctl = (struct watch){.kind = W_CTL, .fd = -1};
  if (unlinkat(m->socket_dirfd, TSPOD_CTL_FIFO, 0) < 0 && errno != ENOENT)
    return tspod_make_error(err, errno, "remove stale `%s/%s`", dir, TSPOD_CTL_FIFO);
  if (mkfifoat(m->socket_dirfd, TSPOD_CTL_FIFO, 0600) < 0)
    return tspod_make_error(err, errno, "mkfifo `%s/%s`", dir, TSPOD_CTL_FIFO);
  /* Mode bits of mkfifo are filtered by the umask; say 0600 explicitly. */
  fchmodat(m->socket_dirfd, TSPOD_CTL_FIFO, 0600, 0);
  m->ctl.fd = openat(m->socket_dirfd, TSPOD_CTL_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (m->ctl.fd < 0) return tspod_make_error(err, errno, "open `%s/%s`", dir, TSPOD_CTL_FIFO);
  m->ctl_keep_fd = openat(m->socket_dirfd, TSPOD_CTL_FIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (m->ctl_keep_fd < 0) return tspod_make_error(err, errno, "open `%s/%s` for writing", dir, TSPOD_CTL_FIFO);
  return 0;
}

static void ctl_line(struct monitor *m, const char *line)
{
  int type, h, w;
  if (sscanf(line, "%d %d %d", &type, &h, &w) != 3) return;
  if (type == TSPOD_CTL_RESIZE) {
    struct winsize ws = {.ws_row = (unsigned short) h, .ws_col = (unsigned short) w};
    if (m->pty && m->out[1].fd >= 0 && h > 0 && w > 0 && h <= 0xffff && w <= 0xffff)
      ioctl(m->out[1].fd, TIOCSWINSZ, &ws);
  } else if (type == TSPOD_CTL_REOPEN_LOG) {
    cleanup_error tspod_error_t err = NULL;
    log_reopen(&m->log, &err);
  }
}

void ctl_handle(struct monitor *m)
{
  for (;;) {
    ssize_t n = read(m->ctl.fd, m->ctl_buf + m->ctl_len, sizeof(m->ctl_buf) - 1 - m->ctl_len);
    char *start, *nl;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    m->ctl_len += (size_t) n;
    m->ctl_buf[m->ctl_len] = '\0';
    start = m->ctl_buf;
    while ((nl = strchr(start, '\n')) != NULL) {
      *nl = '\0';
      ctl_line(m, start);
      start = nl + 1;
    }
    m->ctl_len = strlen(start);
    memmove(m->ctl_buf, start, m->ctl_len);
    /* A line longer than the buffer is garbage: drop it. */
    if (m->ctl_len == sizeof(m->ctl_buf) - 1) m->ctl_len = 0;
  }
}
