/* Running the OCI runtime: the container's stdio, `create` / `exec -d`, the console socket. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define ERR_CAPTURE_MAX 4000

/* The three fds the runtime (and so the container) gets as 0, 1, 2, plus a read end for the
 * runtime's own error output. */
struct child_stdio {
  int fd[3];
  int capture;
};

static void child_stdio_release(struct child_stdio *s)
{
  for (int i = 0; i < 3; i++)
    if (s->fd[i] > 2) {
      /* The same fd may sit in two slots (stdout and stderr of the terminal case). */
      for (int j = i + 1; j < 3; j++)
        if (s->fd[j] == s->fd[i]) s->fd[j] = -1;
      close(s->fd[i]);
      s->fd[i] = -1;
    }
}

static int make_pipe(int fds[2], tspod_error_t *err)
{
  if (pipe2(fds, O_CLOEXEC) < 0) return tspod_make_error(err, errno, "pipe");
  return 0;
}

static void set_nonblock(int fd)
{
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int prepare_stdio(struct monitor *m, struct child_stdio *s, tspod_error_t *err)
{
  struct monitor_opts *o = m->opts;
  int p[2];

  s->fd[0] = s->fd[1] = s->fd[2] = s->capture = -1;

  if (o->log_driver == LOG_DRIVER_PASSTHROUGH) {
    /* The container inherits the monitor's own stdio (the CLI's, since it does not daemonize it). */
    s->fd[0] = o->stdin_ ? 0 : open_dev_null(O_RDONLY, err);
    if (s->fd[0] < 0) return -1;
    s->fd[1] = 1;
    s->fd[2] = 2;
    return 0;
  }

  if (o->terminal) {
    /* The pty comes over the console socket; the runtime's stdout/stderr carry only its own messages. */
    s->fd[0] = open_dev_null(O_RDONLY, err);
    if (s->fd[0] < 0 || make_pipe(p, err) < 0) return -1;
    s->capture = p[0];
    s->fd[1] = s->fd[2] = p[1];
    set_nonblock(p[0]);
    m->console_fd = unix_listen_in_dir(m, TSPOD_CONSOLE_SOCKET, SOCK_STREAM, err);
    if (m->console_fd < 0) return -1;
    m->console_path = unix_path_in_dir(m, TSPOD_CONSOLE_SOCKET);
    if (m->console_path == NULL) return tspod_make_error(err, errno, "allocate");
    return 0;
  }

  if (o->stdin_) {
    if (make_pipe(p, err) < 0) return -1;
    s->fd[0] = p[0];
    m->in.fd = p[1];
    set_nonblock(p[1]);
  } else {
    s->fd[0] = open_dev_null(O_RDONLY, err);
    if (s->fd[0] < 0) return -1;
  }
  for (int i = 1; i <= 2; i++) {
    if (make_pipe(p, err) < 0) return -1;
    m->out[i].fd = p[0];
    s->fd[i] = p[1];
    set_nonblock(p[0]);
  }
  /* A failing runtime writes its error to the container's stderr pipe: read it from there. */
  s->capture = m->out[2].fd;
  return 0;
}

/* In the child: exactly fds 0, 1, 2 survive into the runtime (runc CVE-2024-21626). */
static __attribute__((noreturn)) void exec_child(struct monitor *m, const char **argv, const int fd[3])
{
  sigset_t none;
  int tmp[3];

  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  umask(m->umask);
  /* Move the sources above 2 first, so that dup2 never clobbers a source still needed. */
  for (int i = 0; i < 3; i++) tmp[i] = fcntl(fd[i], F_DUPFD_CLOEXEC, 3);
  for (int i = 0; i < 3; i++)
    if (tmp[i] < 0 || dup2(tmp[i], i) < 0) _exit(127);
  close_fds_from(3);
  execvp(argv[0], (char *const *) argv);
  dprintf(2, "tspod-monitor: exec `%s`: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static int run_and_wait(struct monitor *m, const char **argv, const int fd[3], int *status, tspod_error_t *err)
{
  pid_t pid = fork();
  if (pid < 0) return tspod_make_error(err, errno, "fork");
  if (pid == 0) exec_child(m, argv, fd);
  while (waitpid(pid, status, 0) < 0)
    if (errno != EINTR) return tspod_make_error(err, errno, "wait for the runtime");
  return 0;
}

static size_t build_argv(struct monitor *m, const char **argv, const char *verb)
{
  struct monitor_opts *o = m->opts;
  size_t n = 0;
  argv[n++] = o->runtime;
  for (const char **a = o->runtime_args; *a; a++) argv[n++] = *a;
  argv[n++] = verb;
  if (o->start) argv[n++] = "--detach";
  if (o->exec) {
    argv[n++] = "-d";
    argv[n++] = "--process";
    argv[n++] = o->exec_process_spec;
  } else {
    argv[n++] = "--bundle";
    argv[n++] = o->bundle;
  }
  argv[n++] = "--pid-file";
  argv[n++] = o->container_pidfile;
  if (m->console_path) {
    argv[n++] = "--console-socket";
    argv[n++] = m->console_path;
  }
  argv[n++] = o->cid;
  argv[n] = NULL;
  return n;
}

static size_t runtime_argc_max(struct monitor *m)
{
  size_t n = 0;
  for (const char **a = m->opts->runtime_args; *a; a++) n++;
  return n + 16;
}

/* Builds the error for a failed runtime call from what it printed, else from its status. */
static int runtime_failed(struct monitor *m, int capture, int status, tspod_error_t *err)
{
  char buf[ERR_CAPTURE_MAX + 1];
  size_t len = 0;
  const char *what = m->opts->exec ? "exec" : m->opts->start ? "run" : "create";

  while (capture >= 0 && len < ERR_CAPTURE_MAX) {
    ssize_t n = read(capture, buf + len, ERR_CAPTURE_MAX - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t) n;
  }
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) len--;
  buf[len] = '\0';
  if (len > 0) return tspod_make_error(err, 0, "%s", buf);
  if (WIFSIGNALED(status))
    return tspod_make_error(err, 0, "%s %s: killed by signal %d", m->opts->runtime, what, WTERMSIG(status));
  return tspod_make_error(err, 0, "%s %s failed with exit status %d", m->opts->runtime, what, WEXITSTATUS(status));
}

/* Takes the pty master runc sends over the console socket (SCM_RIGHTS; the payload is the pty name). */
static int receive_console(struct monitor *m, tspod_error_t *err)
{
  cleanup_close int conn = -1;
  char name[256];
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctrl;
  struct iovec iov = {name, sizeof(name)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf, .msg_controllen = sizeof(ctrl.buf)};
  struct cmsghdr *cm;
  ssize_t n;
  int master = -1;

  conn = accept4(m->console_fd, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0) return tspod_make_error(err, errno, "the runtime did not connect to the console socket");
  do
    n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) return tspod_make_error(err, errno, "receive the pty from the console socket");
  for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
      memcpy(&master, CMSG_DATA(cm), sizeof(int));
  if (master >= 0 && (msg.msg_flags & MSG_CTRUNC)) {
    close(master);
    master = -1;
  }
  if (master < 0) return tspod_make_error(err, 0, "the console socket message carried no pty");
  set_nonblock(master);
  m->pty = true;
  m->out[1].fd = master;
  return 0;
}

static void console_done(struct monitor *m)
{
  if (m->console_fd >= 0) {
    close(m->console_fd);
    m->console_fd = -1;
    unlink_in_dir(m, TSPOD_CONSOLE_SOCKET);
  }
}

/* `<runtime> [args] create --bundle B --pid-file P [--console-socket S] <cid>`, or for --exec
 * `<runtime> [args] exec -d --process F --pid-file P [--console-socket S] <cid>`; then reads the pid.
 * The monitor is a child subreaper, so the container process is re-parented to it when the
 * runtime exits. */
int runtime_create(struct monitor *m, tspod_error_t *err)
{
  struct child_stdio s;
  cleanup_free const char **argv = NULL;
  int status = 0, ret;
  siginfo_t info;

  ret = prepare_stdio(m, &s, err);
  if (ret < 0) goto out;

  argv = calloc(runtime_argc_max(m), sizeof(char *));
  if (argv == NULL) {
    ret = tspod_make_error(err, errno, "allocate");
    goto out;
  }
  build_argv(m, argv, m->opts->exec ? "exec" : m->opts->start ? "run" : "create");
  unlink(m->opts->container_pidfile);

  ret = run_and_wait(m, argv, s.fd, &status, err);
  /* Drop our copies of the child's ends, or the output pipes would never report EOF. */
  child_stdio_release(&s);
  if (ret < 0) goto out;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ret = runtime_failed(m, s.capture, status, err);
    goto out;
  }

  ret = read_pid_file(m->opts->container_pidfile, &m->pid, err);
  if (ret < 0) goto fail_created;
  if (m->console_fd >= 0) {
    ret = receive_console(m, err);
    if (ret < 0) goto fail_created;
  }
  /* The pid must be our child (directly or re-parented), or we could never learn its exit code. */
  memset(&info, 0, sizeof(info));
  if (waitid(P_PID, (id_t) m->pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD) {
    ret = tspod_make_error(err, 0, "container process %d is not a child of the monitor", (int) m->pid);
    goto fail_created;
  }
  ret = 0;
  goto out;

fail_created:
  runtime_delete(m);
out:
  child_stdio_release(&s);
  if (s.capture >= 0 && s.capture != m->out[2].fd) close(s.capture);
  console_done(m);
  return ret;
}

/* Best effort: leave no container behind after a failure that followed a successful create. */
void runtime_delete(struct monitor *m)
{
  cleanup_free const char **argv = calloc(runtime_argc_max(m), sizeof(char *));
  cleanup_error tspod_error_t err = NULL;
  int fd[3] = {-1, -1, -1};
  int status;
  size_t n = 0;

  if (m->opts->exec) {
    if (m->pid > 0) kill(m->pid, SIGKILL);
    return;
  }
  if (argv == NULL) return;
  argv[n++] = m->opts->runtime;
  for (const char **a = m->opts->runtime_args; *a; a++) argv[n++] = *a;
  argv[n++] = "delete";
  argv[n++] = "--force";
  argv[n++] = m->opts->cid;
  fd[0] = fd[1] = fd[2] = open_dev_null(O_RDWR, &err);
  if (fd[0] < 0) return;
  run_and_wait(m, argv, fd, &status, &err);
  close(fd[0]);
}
