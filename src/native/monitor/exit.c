/* The end of a container: its exit code on disk, our files removed, then the exit command. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>

int exit_code_from_status(int status)
{
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return TSPOD_EXIT_SIGNAL_BASE + WTERMSIG(status);
  return 255;
}

/* <exit-dir>/<cid> holds the exit code as decimal text, written atomically. */
int write_exit_file(struct monitor *m, tspod_error_t *err)
{
  cleanup_free char *path = NULL;
  char buf[16];
  int n = snprintf(buf, sizeof(buf), "%d", m->exit_code);
  if (asprintf(&path, "%s/%s", m->opts->exit_dir, m->opts->cid) < 0) return tspod_make_error(err, errno, "allocate");
  return write_file_atomic(path, buf, (size_t) n, err);
}

void remove_sockets(struct monitor *m)
{
  unlink_in_dir(m, TSPOD_ATTACH_SOCKET);
  unlink_in_dir(m, TSPOD_ATTACH_STREAM_SOCKET);
  unlink_in_dir(m, TSPOD_CTL_FIFO);
  unlink_in_dir(m, TSPOD_CONSOLE_SOCKET);
}

/* Replaces the monitor with --exit-command (e.g. `tspod container cleanup <id>`): stdio on
 * /dev/null, no other fds, default signal handling. Without one, the monitor just exits. */
void run_exit_command(struct monitor *m)
{
  struct monitor_opts *o = m->opts;
  cleanup_error tspod_error_t err = NULL;
  const char **argv;
  sigset_t none;
  size_t n = 0;
  int null_fd;

  if (o->exit_command == NULL) _exit(0);
  for (const char **a = o->exit_command_args; *a; a++) n++;
  argv = calloc(n + 2, sizeof(char *));
  if (argv == NULL) _exit(TSPOD_MONITOR_EXIT_FAILURE);
  argv[0] = o->exit_command;
  memcpy(argv + 1, o->exit_command_args, n * sizeof(char *));

  null_fd = open_dev_null(O_RDWR, &err);
  if (null_fd >= 0)
    for (int i = 0; i < 3; i++) dup2(null_fd, i);
  close_fds_from(3);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  umask(m->umask);
  prctl(PR_SET_CHILD_SUBREAPER, 0); /* survives execve; the exit command must not inherit it */
  execvp(argv[0], (char *const *) argv);
  _exit(127);
}
