/* The network helper (slirp4netns or pasta) and the port forwarder (tspod-portfwd, --port-helper):
 * started side by side after the runtime's `create`, against the container's network namespace,
 * before the CLI is told `created`; tied to the monitor's life (PR_SET_PDEATHSIG) and killed when
 * the container exits. See the contract in main.c.
 *
 * Placeholders in --net-helper-arg values:
 *   {pid}         the container's pid
 *   {netns}       --netns-path, onto which the monitor bind-mounts /proc/<pid>/ns/net first (a
 *                 helper that drops capabilities early, like pasta, cannot open /proc/<pid>/ns/net itself)
 *   {ready-fd}    "3": the helper gets the write end of a pipe as fd 3 (slirp4netns --ready-fd)
 *   {ready-file}  <socket-dir>/net.ready, a FIFO the helper opens and writes to (pasta --pid)
 *               (<socket-dir>/port.ready for the port helper)
 * Readiness: the first byte on that pipe or FIFO. EOF before it, the helper's exit, or
 * TSPOD_NET_HELPER_TIMEOUT_MS without it is a failure; the message is the tail of the helper's own
 * output, which goes to <socket-dir>/net.log (port.log for the port helper). */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#define NET_READY_FIFO "net.ready"
#define NET_LOG "net.log"
#define PORT_READY_FIFO "port.ready"
#define PORT_LOG "port.log"
#define NET_HELPER_READY_FD 3
#define NET_LOG_TAIL 2000

/* Replaces every `{key}` in `in` by `val`; returns a new string (or NULL: out of memory). */
static char *substitute(const char *in, const char *key, const char *val)
{
  size_t klen = strlen(key), vlen = strlen(val), n = 0, len;
  const char *p;
  char *out, *o;
  for (p = in; (p = strstr(p, key)) != NULL; p += klen) n++;
  len = strlen(in) + n * vlen + 1;
  out = malloc(len);
  if (out == NULL) return NULL;
  for (o = out, p = in;;) {
    const char *hit = strstr(p, key);
    if (hit == NULL) {
      strcpy(o, p);
      break;
    }
    memcpy(o, p, (size_t) (hit - p));
    o += hit - p;
    memcpy(o, val, vlen);
    o += vlen;
    p = hit + klen;
  }
  return out;
}

/* Undoes an earlier bind mount (a previous run killed with -9) and bind-mounts the container's
 * network namespace onto --netns-path. */
static int bind_netns(struct monitor *m, tspod_error_t *err)
{
  const char *path = m->opts->netns_path;
  char src[64];
  int fd;

  umount2(path, MNT_DETACH);
  unlink(path);
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return tspod_make_error(err, errno, "create `%s`", path);
  close(fd);
  snprintf(src, sizeof(src), "/proc/%d/ns/net", (int) m->pid);
  if (mount(src, path, NULL, MS_BIND, NULL) < 0) {
    int saved = errno;
    unlink(path);
    return tspod_make_error(err, saved, "bind-mount the container's network namespace on `%s`", path);
  }
  m->netns_mounted = true;
  return 0;
}

/* --netns-create: a new network namespace, bind-mounted onto --netns-path, for the runtime to
 * join (the spec names that path) and the helpers to set up before the container exists. A
 * child unshares it (the monitor keeps its own) and mounts it; the mount is in our mount
 * namespace, which the child shares. */
int netns_create(struct monitor *m, tspod_error_t *err)
{
  const char *path = m->opts->netns_path;
  int fd, status;
  pid_t pid;

  umount2(path, MNT_DETACH);
  unlink(path);
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return tspod_make_error(err, errno, "create `%s`", path);
  close(fd);
  pid = fork();
  if (pid < 0) {
    int saved = errno;
    unlink(path);
    return tspod_make_error(err, saved, "fork");
  }
  if (pid == 0) {
    if (unshare(CLONE_NEWNET) < 0) _exit(1);
    if (mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0) _exit(2);
    _exit(0);
  }
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return tspod_make_error(err, errno, "waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    unlink(path);
    return tspod_make_error(err, 0, "%s a network namespace on `%s`",
                            WIFEXITED(status) && WEXITSTATUS(status) == 2 ? "bind-mount" : "create", path);
  }
  m->netns_mounted = true;
  return 0;
}

static void unbind_netns(struct monitor *m)
{
  if (!m->netns_mounted) return;
  umount2(m->opts->netns_path, MNT_DETACH);
  unlink(m->opts->netns_path);
  m->netns_mounted = false;
}

static long long mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last lines of the helper's output, for an error message; "" if none. */
static void log_tail(struct monitor *m, const char *name, char *buf, size_t size)
{
  cleanup_close int fd = openat(m->socket_dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  off_t end;
  ssize_t n;
  size_t len;
  buf[0] = '\0';
  if (fd < 0) return;
  end = lseek(fd, 0, SEEK_END);
  if (end < 0) return;
  if (lseek(fd, end > (off_t) size - 1 ? end - (off_t) size + 1 : 0, SEEK_SET) < 0) return;
  n = read_all(fd, buf, size - 1);
  if (n < 0) n = 0;
  len = (size_t) n;
  buf[len] = '\0';
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) buf[--len] = '\0';
}

static __attribute__((noreturn)) void exec_helper(struct monitor *m, char **argv, int ready_wr, int log_fd, pid_t parent)
{
  sigset_t none;
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int tmp[3];

  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  /* Dies with the monitor; the monitor may already be gone by the time this runs. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent) _exit(127);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  umask(m->umask);
  tmp[0] = fcntl(null_fd, F_DUPFD_CLOEXEC, 4);
  tmp[1] = fcntl(log_fd, F_DUPFD_CLOEXEC, 4);
  tmp[2] = ready_wr >= 0 ? fcntl(ready_wr, F_DUPFD_CLOEXEC, 4) : -1;
  if (tmp[0] < 0 || tmp[1] < 0 || dup2(tmp[0], 0) < 0 || dup2(tmp[1], 1) < 0 || dup2(tmp[1], 2) < 0) _exit(127);
  if (tmp[2] >= 0 && dup2(tmp[2], NET_HELPER_READY_FD) < 0) _exit(127);
  close_fds_from(tmp[2] >= 0 ? NET_HELPER_READY_FD + 1 : 3);
  execvp(argv[0], argv);
  dprintf(2, "exec `%s`: %s\n", argv[0], strerror(errno));
  _exit(127);
}

/* Waits for the first byte on `fd`. Returns 0 (ready) or -1 with *why set. */
static int wait_ready(struct monitor *m, int fd, pid_t pid, pid_t *slot, const char **why)
{
  long long deadline = mono_ms() + TSPOD_NET_HELPER_TIMEOUT_MS;
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int status;
  for (;;) {
    long long left = deadline - mono_ms();
    int r;
    if (left <= 0) {
      *why = "did not become ready in time";
      return -1;
    }
    r = poll(&p, 1, left > 100 ? 100 : (int) left);
    if (r < 0 && errno != EINTR) {
      *why = "poll failed";
      return -1;
    }
    if (r > 0) {
      char c;
      ssize_t n = read(fd, &c, 1);
      if (n > 0) return 0;
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        *why = "exited before it was ready";
        return -1;
      }
    }
    if (waitpid(pid, &status, WNOHANG) == pid) {
      *slot = 0;
      *why = "exited before it was ready";
      return -1;
    }
  }
}

/* One helper being started: its ready pipe or FIFO, log, argv. */
struct spawn {
  const char *path;
  const char **args;
  const char *log_name;
  const char *fifo_name;
  char *fifo_path;
  int ready_rd;
  pid_t pid;
};

/* Forks and execs one helper (placeholders substituted); readiness is waited for later. */
static int spawn_helper(struct monitor *m, struct spawn *sp, tspod_error_t *err)
{
  struct monitor_opts *o = m->opts;
  cleanup_close int ready_wr = -1;
  cleanup_close int log_fd = -1;
  char **argv = NULL;
  char pidbuf[16];
  size_t n = 0, i;
  int ret = -1;
  pid_t pid, self;
  bool uses_fd = false, uses_file = false;

  for (const char **a = sp->args; *a; a++) {
    n++;
    uses_fd |= strstr(*a, "{ready-fd}") != NULL;
    uses_file |= strstr(*a, "{ready-file}") != NULL;
  }
  if (uses_fd) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return tspod_make_error(err, errno, "pipe");
    sp->ready_rd = p[0];
    ready_wr = p[1];
  } else if (uses_file) {
    if (asprintf(&sp->fifo_path, "%s/%s", o->socket_dir, sp->fifo_name) < 0) return tspod_make_error(err, errno, "allocate");
    unlinkat(m->socket_dirfd, sp->fifo_name, 0);
    if (mkfifoat(m->socket_dirfd, sp->fifo_name, 0600) < 0) return tspod_make_error(err, errno, "mkfifo `%s`", sp->fifo_path);
    sp->ready_rd = openat(m->socket_dirfd, sp->fifo_name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (sp->ready_rd < 0) return tspod_make_error(err, errno, "open `%s`", sp->fifo_path);
  } else
    return tspod_make_error(err, 0, "%s needs a readiness placeholder ({ready-fd} or {ready-file})", sp->path);
  log_fd = openat(m->socket_dirfd, sp->log_name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (log_fd < 0) return tspod_make_error(err, errno, "create `%s/%s`", o->socket_dir, sp->log_name);

  argv = calloc(n + 2, sizeof(char *));
  if (argv == NULL) return tspod_make_error(err, errno, "allocate");
  snprintf(pidbuf, sizeof(pidbuf), "%d", (int) m->pid);
  argv[0] = (char *) sp->path;
  for (i = 0; i < n; i++) {
    char *s1 = substitute(sp->args[i], "{pid}", pidbuf);
    char *s2 = s1 ? substitute(s1, "{netns}", o->netns_path ? o->netns_path : "") : NULL;
    char *s3 = s2 ? substitute(s2, "{ready-fd}", "3") : NULL;
    argv[i + 1] = s3 ? substitute(s3, "{ready-file}", sp->fifo_path ? sp->fifo_path : "") : NULL;
    free(s1);
    free(s2);
    free(s3);
    if (argv[i + 1] == NULL) {
      ret = tspod_make_error(err, errno, "allocate");
      goto out;
    }
  }

  self = getpid();
  pid = fork();
  if (pid < 0) {
    ret = tspod_make_error(err, errno, "fork");
    goto out;
  }
  if (pid == 0) exec_helper(m, argv, ready_wr, log_fd, self);
  sp->pid = pid;
  ret = 0;

out:
  for (i = 1; argv != NULL && i <= n; i++) free(argv[i]);
  free(argv);
  return ret;
}

static void spawn_release(struct monitor *m, struct spawn *sp)
{
  if (sp->ready_rd >= 0) close(sp->ready_rd);
  sp->ready_rd = -1;
  if (sp->fifo_path != NULL) unlinkat(m->socket_dirfd, sp->fifo_name, 0);
  free(sp->fifo_path);
  sp->fifo_path = NULL;
}

/* Starts the network helper and (with --port-helper) the port forwarder side by side, and waits
 * until both are ready. */
int net_helper_start(struct monitor *m, tspod_error_t *err)
{
  struct monitor_opts *o = m->opts;
  struct spawn net = {.path = o->net_helper, .args = o->net_helper_args, .log_name = NET_LOG, .fifo_name = NET_READY_FIFO, .ready_rd = -1};
  struct spawn port = {.path = o->port_helper, .args = o->port_helper_args, .log_name = PORT_LOG, .fifo_name = PORT_READY_FIFO, .ready_rd = -1};
  char tail[NET_LOG_TAIL];
  const char *why = NULL, *who = NULL, *log = NULL;
  int ret = -1;

  if (o->net_helper == NULL) return 0;
  if (o->netns_path != NULL && !o->netns_create && bind_netns(m, err) < 0) return -1;

  if (spawn_helper(m, &net, err) < 0) goto out;
  m->net_pid = net.pid;
  m->net_pidfd = (int) syscall(SYS_pidfd_open, net.pid, 0); /* kill by pidfd: immune to pid reuse */
  if (o->port_helper != NULL) {
    if (spawn_helper(m, &port, err) < 0) goto out;
    m->port_pid = port.pid;
    m->port_pidfd = (int) syscall(SYS_pidfd_open, port.pid, 0);
  }
  if (wait_ready(m, net.ready_rd, net.pid, &m->net_pid, &why) < 0) {
    who = o->net_helper;
    log = NET_LOG;
  } else if (o->port_helper != NULL && wait_ready(m, port.ready_rd, port.pid, &m->port_pid, &why) < 0) {
    who = o->port_helper;
    log = PORT_LOG;
  }
  if (who != NULL) {
    net_helper_stop(m);
    log_tail(m, log, tail, sizeof(tail));
    tspod_make_error(err, 0, "%s %s%s%s", who, why, tail[0] ? ": " : "", tail);
    goto out;
  }
  ret = 0;

out:
  if (ret < 0) net_helper_stop(m);
  spawn_release(m, &net);
  spawn_release(m, &port);
  return ret;
}

/* SIGKILL (they hold nothing worth a graceful end); with `wait`, also reap it. A helper that is
 * not waited for is reaped by the loop's SIGCHLD handling or, once the monitor is gone, by init. */
static void kill_helper(pid_t *pid, int *pidfd, bool wait)
{
  if (*pid > 0) {
    if (*pidfd >= 0)
      syscall(SYS_pidfd_send_signal, *pidfd, SIGKILL, NULL, 0);
    else
      kill(*pid, SIGKILL);
    while (wait && waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
      ;
    *pid = 0;
  }
  if (*pidfd >= 0) {
    close(*pidfd);
    *pidfd = -1;
  }
}

/* Kills the helpers and undoes the bind mount. The forwarder goes first and is waited for: its
 * host ports are free when this returns. The network helper is only waited for when it holds
 * published ports itself (pasta -t/-u, slirp4netns port_handler=slirp4netns): slirp4netns and
 * pasta sandbox themselves in a mount namespace whose teardown takes ~20 ms after SIGKILL, which
 * every `run` of a container with a network would otherwise wait for before its exit is known. */
void net_helper_stop(struct monitor *m)
{
  kill_helper(&m->port_pid, &m->port_pidfd, true);
  kill_helper(&m->net_pid, &m->net_pidfd, m->opts->net_helper_ports);
  unbind_netns(m);
}
