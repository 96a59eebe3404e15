/* Unix sockets inside --socket-dir. sun_path holds 107 bytes; a longer socket dir is reached through
 * /proc/self/fd/<dirfd>/<name> (the way conmon does it), so the caller's path length never matters. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

/* The path a peer should use to reach <socket-dir>/<name>; short if it fits, else via /proc/<pid>/fd
 * (the pid, not "self", so that another process such as the runtime can follow it). */
char *unix_path_in_dir(struct monitor *m, const char *name)
{
  struct sockaddr_un addr;
  char *p = NULL;
  if (strlen(m->opts->socket_dir) + 1 + strlen(name) < sizeof(addr.sun_path)) {
    if (asprintf(&p, "%s/%s", m->opts->socket_dir, name) < 0) return NULL;
  } else if (asprintf(&p, "/proc/%d/fd/%d/%s", (int) getpid(), m->socket_dirfd, name) < 0)
    return NULL;
  return p;
}

void unlink_in_dir(struct monitor *m, const char *name)
{
  if (m->socket_dirfd >= 0) unlinkat(m->socket_dirfd, name, 0);
}

/* A listening, non-blocking, close-on-exec socket at <socket-dir>/<name>, mode 0600. */
int unix_listen_in_dir(struct monitor *m, const char *name, int type, tspod_error_t *err)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  cleanup_close int fd = -1;
  mode_t old;
  int ret, ret_fd;


  int n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s", m->opts->socket_dir, name);
  if (n < 0 || (size_t) n >= sizeof(addr.sun_path))
    n = snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s", m->socket_dirfd, name);
  if (n < 0 || (size_t) n >= sizeof(addr.sun_path))
    return tspod_make_error(err, ENAMETOOLONG, "socket name `%s`", name);

  fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return tspod_make_error(err, errno, "create socket `%s/%s`", m->opts->socket_dir, name);
  if (unlinkat(m->socket_dirfd, name, 0) < 0 && errno != ENOENT)
    return tspod_make_error(err, errno, "remove stale `%s/%s`", m->opts->socket_dir, name);
  old = umask(0177);
  ret = bind(fd, (struct sockaddr *) &addr, sizeof(addr));
  umask(old);
  if (ret < 0) return tspod_make_error(err, errno, "bind `%s/%s`", m->opts->socket_dir, name);
  if (listen(fd, 16) < 0) return tspod_make_error(err, errno, "listen on `%s/%s`", m->opts->socket_dir, name);
  ret_fd = fd;
  fd = -1;
  return ret_fd;
}
