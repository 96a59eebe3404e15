/* tspod-monitor: one per container (and one per exec session). It runs the OCI runtime's `create`
 * (or `exec -d`), owns the container's stdio (log file, attach sockets, pty), records the exit code
 * and then execs the exit command. What a conmon is to podman.
 *
 * THE CONTRACT -- keep in sync with src/runtime/monitor.ts (constants: monitor.h)
 *
 * Invocation (paths absolute; --runtime and --exit-command may be bare names, looked up in PATH):
 *   tspod-monitor --cid <id> --bundle <dir> --runtime <path> [--runtime-arg <arg>]...
 *                 [--log-driver k8s-file|none|passthrough] [--log-path <file>] [--log-size-max <bytes>]
 *                 --exit-dir <dir> --socket-dir <dir> [--terminal] [--stdin] [--leave-stdin-open]
 *                 [--exit-command <path> [--exit-command-arg <arg>]...]
 *                 [--pidfile <file>] [--container-pidfile <file>]
 *                 [--exec --exec-process-spec <process.json> [--exec-attach]] [--start]
 *                 [--net-helper <path> [--net-helper-arg <arg>]... [--netns-path <file>]
 *                  [--port-helper <path> [--port-helper-arg <arg>]...] [--net-helper-ports]]
 *   --log-path is required for k8s-file (the default driver). --runtime-arg values go before the verb
 *   (runtime globals such as `--root <dir>`). --container-pidfile defaults to
 *   <socket-dir>/container.pid (<socket-dir>/exec.pid with --exec). --socket-dir must exist and be
 *   private to the user (0700); the monitor creates its files in it. Exec sessions need their own
 *   --socket-dir and --exit-dir (the exit file is named after --cid).
 *
 * File descriptors (inherited; each variable names the fd number; both are removed from the
 * environment before anything else runs):
 *   _TSPOD_SYNCPIPE=3   events to the CLI: one JSON object per line, see below. Optional.
 *   _TSPOD_STARTPIPE=4  the monitor reads one byte (or EOF) from it before it runs the runtime.
 *                       Optional for create; required with --exec-attach.
 *
 * Sequence:
 *   1. The spawned process parses its flags, opens the log file, creates <socket-dir>/attach,
 *      <socket-dir>/attach.stream and <socket-dir>/ctl, then forks; the child calls setsid() and
 *      forks again; the grandchild is the monitor. The middle process writes the monitor's pid to
 *      --pidfile. The spawned process exits 0 once all of that is done: from then on the sockets
 *      accept connections and --pidfile is there. A non-zero exit means the monitor did not start
 *      (message on stderr and an `error` event). The monitor is re-parented to init or the nearest
 *      child subreaper and does not depend on the CLI any more.
 *   2. The monitor makes itself a child subreaper (PR_SET_CHILD_SUBREAPER), puts its stdio on
 *      /dev/null (except with --log-driver passthrough), and waits on the start pipe if there is one.
 *   3. It runs, with fds 0, 1, 2 only (everything else closed):
 *        <runtime> [runtime-args] create --bundle <bundle> --pid-file <container-pidfile>
 *                                 [--console-socket <sock>] <cid>
 *        <runtime> [runtime-args] exec -d --process <process.json> --pid-file <container-pidfile>
 *                                 [--console-socket <sock>] <cid>                          (--exec)
 *      then reads the pid from <container-pidfile> and sends
 *        {"event":"created","pid":<pid>}      (create)     {"event":"started","pid":<pid>}   (--exec)
 *      or, if the runtime failed, {"event":"error","message":"<the runtime's stderr>"}, and the
 *      monitor exits 1 without leaving processes behind.
 *   --start: `<runtime> [runtime-args] run --detach --bundle ... <cid>` instead of create, i.e. create
 *      and start in one runtime call (one Go process less); the event is then `started`.
 *   --net-helper (not with --exec or --start): after create, before the `created` event, the monitor
 *      starts the network helper (slirp4netns, pasta) with the --net-helper-arg values, in which
 *      {pid} is the container pid, {netns} the --netns-path file onto which the monitor first
 *      bind-mounts /proc/<pid>/ns/net, {ready-fd} "3" (a pipe on the helper's fd 3) and {ready-file}
 *      a FIFO path; the first byte on either means ready (see nethelper.c). Its output goes to
 *      <socket-dir>/net.log. The helper gets PR_SET_PDEATHSIG(SIGKILL): it dies with the monitor.
 *      Ready: {"event":"network","pid":<helper pid>}, then `created`. Failure: the helper's output in
 *      an `error` event, the container is deleted, exit 1. When the container exits, the monitor
 *      kills the helper (SIGKILL) and undoes the bind mount before it writes the exit file; it
 *      waits for the helper to be gone only with --net-helper-ports (the helper itself holds
 *      published ports: pasta -t/-u, slirp4netns's API): a sandboxed helper takes ~20 ms to die.
 *   --port-helper (needs --net-helper): the published ports' forwarder (tspod-portfwd), started
 *      at the same moment as the net helper with the same placeholders and the same life (its
 *      FIFO is <socket-dir>/port.ready, its output <socket-dir>/port.log); `network` is sent
 *      once both are ready; either failing is the failure above, its message starting with the
 *      path of the helper that failed. It is killed first when the container exits.
 *   --netns-create (needs --net-helper and --netns-path; allows --start): the monitor makes a new
 *      network namespace on --netns-path itself, starts the helpers on it and sends `network`
 *      BEFORE the runtime runs (the bundle's spec must join that path); {pid} is then empty. So
 *      with --start one `run --detach` creates and starts a container whose network is up.
 *   4. `<runtime> start <cid>` is the CLI's job, as with conmon: the monitor never calls it. Attach
 *      first, then start: a client connected before start loses no output. For --exec the process
 *      runs at once, so an attaching CLI passes --exec-attach and connects before writing the start
 *      pipe.
 *   5. When the container's process exits (it is our child: re-parented to us when the runtime
 *      exits), the monitor reads its output to EOF (at most 2 s), writes <exit-dir>/<cid> = the exit
 *      code as decimal text (128+N for death by signal N) via a temp file + rename, gives attach
 *      clients up to 10 s to take queued output, sends {"event":"exited","exitCode":<n>} (if the CLI
 *      still holds the sync pipe), closes the clients, removes its sockets and FIFO, and execs
 *      --exit-command with its args, stdio on /dev/null and no other fds. No exit command: exit 0.
 *      Exception: a CLI still attached may answer `exited` with the byte 'c' on the sync pipe
 *      (within 2 s): it cleans up itself, and the monitor exits without the exit command.
 *   SIGTERM, SIGINT and SIGQUIT sent to the monitor are forwarded to the container process (PID 1 of
 *   a pid namespace ignores those it has no handler for); before the runtime has run they abort the
 *   monitor instead (`error` event, exit 1). SIGHUP and SIGPIPE are ignored.
 *
 * Container stdio:
 *   - default: stdout and stderr are pipes the monitor reads; stdin is a pipe with --stdin, else
 *     /dev/null. A failing runtime's own messages come through the stderr pipe.
 *   - --terminal: the monitor listens on <socket-dir>/console (or /proc/<pid>/fd/<dirfd>/console if
 *     that path is too long for sun_path), passes it as --console-socket and takes the pty master
 *     runc sends there (SCM_RIGHTS). Output is logged as stdout.
 *   - --log-driver passthrough: the container gets the monitor's own fds 1 and 2 (and 0 with
 *     --stdin); no log, no attach output. Not with --terminal.
 *
 * Log (k8s-file, see logging.c):  <2024-01-02T03:04:05.123456789+01:00> <stdout|stderr> <F|P> <text>\n
 *   --log-size-max N (> 0): a record that would make the file larger than N bytes first truncates
 *   it to 0. `none`: no file.
 *
 * Attach sockets (see attach.c), both mode 0600, stream ids 1 stdout, 2 stderr:
 *   <socket-dir>/attach         SOCK_SEQPACKET, conmon's protocol: packets [stream id][data].
 *   <socket-dir>/attach.stream  SOCK_STREAM, frames [stream id][0][0][0][u32 BE length][data] (Docker's
 *                               stdcopy framing). Node's net module can only open stream sockets:
 *                               this is the one src/runtime uses.
 *   Client -> monitor on both: raw stdin bytes, no prefix; end of input (shutdown(SHUT_WR)) closes the
 *   container's stdin (unless --leave-stdin-open). A socket dir longer than sun_path allows is
 *   reached as /proc/self/fd/<fd of the dir>/attach.stream.
 *
 * Control FIFO (see ctl.c): <socket-dir>/ctl, mode 0600, lines "1 <rows> <cols>\n" (resize the pty)
 *   and "2 0 0\n" (reopen the log file).
 */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

static struct monitor_opts opts;
static struct monitor mon;

/* The fd named by environment variable `name`, made close-on-exec; the variable is removed so that
 * neither the runtime nor the exit command sees it. */
static int env_fd(const char *name)
{
  const char *v = getenv(name);
  char *end = NULL;
  long fd;
  if (v == NULL) return -1;
  errno = 0;
  fd = strtol(v, &end, 10);
  unsetenv(name);
  if (errno != 0 || end == v || *end != '\0' || fd < 3 || fd > 1 << 20) return -1;
  if (fcntl((int) fd, F_SETFD, FD_CLOEXEC) < 0) return -1;
  return (int) fd;
}

static void reap_all(void)
{
  while (waitpid(-1, NULL, WNOHANG) > 0)
    ;
}

/* Reports a failure to the CLI (event + stderr), removes what we created, exits 1. */
static __attribute__((noreturn)) void die(struct monitor *m, tspod_error_t *err)
{
  const char *msg = (*err != NULL && (*err)->msg != NULL) ? (*err)->msg : "out of memory";
  dprintf(2, "tspod-monitor: %s\n", msg);
  sync_send_error(m, msg);
  net_helper_stop(m);
  remove_sockets(m);
  reap_all();
  exit(TSPOD_MONITOR_EXIT_FAILURE);
}

static void handled_signals(sigset_t *set)
{
  sigemptyset(set);
  sigaddset(set, SIGCHLD);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGQUIT);
  sigaddset(set, SIGHUP);
}

/* Blocked before the fork: a signal sent to the monitor as soon as its pid is known (the pidfile
 * exists before the spawned process exits) stays pending until the signalfd reads it. */
static int block_signals(tspod_error_t *err)
{
  sigset_t set;
  handled_signals(&set);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return tspod_make_error(err, errno, "sigprocmask");
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

static int open_signalfd(struct monitor *m, tspod_error_t *err)
{
  sigset_t set;
  handled_signals(&set);
  m->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (m->sig.fd < 0) return tspod_make_error(err, errno, "signalfd");
  return 0;
}

/* fork, setsid, fork. The first process waits for the middle one, which writes the pidfile, so the
 * process the CLI spawned exits only once the monitor is fully set up. Returns in the monitor. */
static int daemonize(struct monitor *m, tspod_error_t *err)
{
  pid_t mid, mon_pid;
  int status;

  mid = fork();
  if (mid < 0) return tspod_make_error(err, errno, "fork");
  if (mid > 0) {
    while (waitpid(mid, &status, 0) < 0)
      if (errno != EINTR) _exit(TSPOD_MONITOR_EXIT_FAILURE);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : TSPOD_MONITOR_EXIT_FAILURE);
  }

  if (setsid() < 0) {
    tspod_make_error(err, errno, "setsid");
    die(m, err);
  }
  mon_pid = fork();
  if (mon_pid < 0) {
    tspod_make_error(err, errno, "fork");
    die(m, err);
  }
  if (mon_pid > 0) {
    if (m->opts->pidfile != NULL) {
      char buf[16];
      int n = snprintf(buf, sizeof(buf), "%d", (int) mon_pid);
      if (write_file_atomic(m->opts->pidfile, buf, (size_t) n, err) < 0) {
        kill(mon_pid, SIGKILL);
        die(m, err);
      }
    }
    _exit(0);
  }
  return 0;
}

static int redirect_stdio(tspod_error_t *err)
{
  int fd = open_dev_null(O_RDWR, err);
  if (fd < 0) return -1;
  for (int i = 0; i < 3; i++)
    if (dup2(fd, i) < 0) return tspod_make_error(err, errno, "dup2");
  if (fd > 2) close(fd);
  return 0;
}

int main(int argc, char **argv)
{
  struct monitor *m = &mon;
  cleanup_error tspod_error_t err = NULL;

  m->sync_fd = env_fd(TSPOD_ENV_SYNCPIPE);
  m->start_fd = env_fd(TSPOD_ENV_STARTPIPE);
  m->socket_dirfd = m->console_fd = m->ctl_keep_fd = m->epfd = m->net_pidfd = m->port_pidfd = -1;
  m->sig = (struct watch){.kind = W_SIGNAL, .fd = -1};
  m->ctl = (struct watch){.kind = W_CTL, .fd = -1};
  m->listen[0] = m->listen[1] = (struct watch){.kind = W_LISTEN, .fd = -1};
  for (int i = 0; i < 3; i++) m->out[i] = (struct watch){.kind = W_OUTPUT, .fd = -1, .stream = i};
  m->in = (struct watch){.kind = W_STDIN, .fd = -1};
  m->log.fd = -1;
  m->opts = &opts;
  m->umask = umask(0077);

  if (parse_options(argc, argv, &opts, &err) < 0) die(m, &err);
  m->log = (struct logger){.driver = opts.log_driver, .path = opts.log_path, .fd = -1, .max = opts.log_size_max};
  if (opts.exec_attach && m->start_fd < 0) {
    tspod_make_error(&err, 0, "--exec-attach needs the start pipe (%s)", TSPOD_ENV_STARTPIPE);
    die(m, &err);
  }

  m->socket_dirfd = open(opts.socket_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (m->socket_dirfd < 0) {
    tspod_make_error(&err, errno, "open socket dir `%s`", opts.socket_dir);
    die(m, &err);
  }
  if (attach_setup(m, &err) < 0 || ctl_setup(m, &err) < 0 || log_open(&m->log, &err) < 0) die(m, &err);

  if (block_signals(&err) < 0 || daemonize(m, &err) < 0) die(m, &err);

  /* From here on we are the monitor. */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
    tspod_make_error(&err, errno, "PR_SET_CHILD_SUBREAPER");
    die(m, &err);
  }
  if (opts.log_driver != LOG_DRIVER_PASSTHROUGH && redirect_stdio(&err) < 0) die(m, &err);
  if (chdir("/") < 0) {
    tspod_make_error(&err, errno, "chdir /");
    die(m, &err);
  }
  if (open_signalfd(m, &err) < 0) die(m, &err);
  m->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (m->epfd < 0) {
    tspod_make_error(&err, errno, "epoll_create1");
    die(m, &err);
  }

  if (wait_start_pipe(m, &err) < 0) die(m, &err);
  if (opts.netns_create) {
    /* The network first, then the container in it: one runtime call can create and start. */
    if (netns_create(m, &err) < 0 || net_helper_start(m, &err) < 0) die(m, &err);
    sync_send_pid(m, "network", m->net_pid);
  }
  if (runtime_create(m, &err) < 0) die(m, &err);
  if (opts.net_helper != NULL && !opts.netns_create) {
    if (net_helper_start(m, &err) < 0) {
      runtime_delete(m);
      die(m, &err);
    }
    sync_send_pid(m, "network", m->net_pid);
  }
  sync_send_pid(m, opts.exec || opts.start ? "started" : "created", m->pid);

  if (monitor_loop_init(m, &err) < 0 || monitor_loop(m, LOOP_UNTIL_EXITED, &err) < 0) {
    /* Without a loop nobody would collect the exit code: take the container down with us. */
    if (m->pid > 0 && !m->exited) kill(m->pid, SIGKILL);
    die(m, &err);
  }
  net_helper_stop(m); /* published ports are free again before anyone learns of the exit */

  if (write_exit_file(m, &err) < 0) dprintf(2, "tspod-monitor: %s\n", err->msg ? err->msg : "exit file");
  tspod_error_release(&err);
  if (monitor_loop(m, LOOP_UNTIL_FLUSHED, &err) < 0) tspod_error_release(&err);
  sync_send_exited(m, m->exit_code);
  attach_close_all(m);
  remove_sockets(m);
  if (sync_cli_takes_cleanup(m)) _exit(0);
  run_exit_command(m);
}
