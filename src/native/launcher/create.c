/* Creating the pause process: double fork, unshare(CLONE_NEWUSER|CLONE_NEWNS), newuidmap/newgidmap
 * from outside, then the pid file. The launcher holds <statedir>/pause.lock meanwhile (pause.c). */
#include "launcher.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char *argv_area;
static size_t argv_area_len;

void pause_set_argv_area(int argc, char **argv)
{
  if (argc < 1) return;
  argv_area = argv[0];
  argv_area_len = (size_t) (argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
}

/* Pause process -> launcher messages; one write each, smaller than PIPE_BUF so atomic. */
enum {
  PAUSE_UNSHARED = 1,
  PAUSE_READY = 2,
};
struct pause_msg {
  int32_t stage;
  int32_t status; /* errno; non-zero means the stage failed and msg says what */
  int32_t pid;
  char msg[200];
};

static void pause_report(int fd, int stage, int status, const char *what)
{
  struct pause_msg m = {.stage = stage, .status = status, .pid = (int32_t) getpid()};
  snprintf(m.msg, sizeof(m.msg), "%s", what ? what : "");
  (void) write_all(fd, &m, sizeof(m));
}

static void close_fds_except(int a, int b)
{
  unsigned int lo = (unsigned) (a < b ? a : b), hi = (unsigned) (a < b ? b : a);

  if (lo > 3) close_range(3, lo - 1, 0);
  if (hi > lo + 1) close_range(lo + 1, hi - 1, 0);
  close_range(hi + 1, ~0U, 0);
}

#define PAUSE_FAIL(what)                                                                                               \
  do {                                                                                                                 \
    pause_report(wfd, stage, errno, what);                                                                             \
    _exit(1);                                                                                                          \
  } while (0)

/* The pause process. Reports each stage on wfd; waits on rfd for the launcher to write the id maps.
 * If the launcher dies, rfd reads EOF and we exit: no half-created pause process stays behind. */
static void __attribute__((noreturn)) pause_main(int rfd, int wfd)
{
  static const int ignored[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM,   SIGPIPE, SIGUSR1, SIGUSR2, SIGALRM,
                                SIGTSTP, SIGTTIN, SIGTTOU, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ};
  int stage = PAUSE_UNSHARED, nullfd;
  sigset_t none;
  char go = 0;
  size_t i;

  /* The caller may have started us with stdio closed: keep the pipes clear of 0..2. */
  if (rfd < 3) rfd = fcntl(rfd, F_DUPFD_CLOEXEC, 3);
  if (wfd < 3) wfd = fcntl(wfd, F_DUPFD_CLOEXEC, 3);
  if (rfd < 0 || wfd < 0) _exit(1);
  /* Own session: no controlling terminal, not in the caller's process group (Ctrl-C, job control). */
  setsid();
  for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
    signal(ignored[i], SIG_IGN);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* Hold none of the caller's fds (a test harness waiting for EOF on stdout would hang). */
  close_fds_except(rfd, wfd);
  nullfd = open("/dev/null", O_RDWR);
  if (nullfd < 0) PAUSE_FAIL("open /dev/null");
  for (i = 0; i < 3; i++)
    if ((int) i != nullfd && dup2(nullfd, (int) i) < 0) PAUSE_FAIL("dup2 /dev/null");
  if (nullfd > 2) close(nullfd);
  if (chdir("/") < 0) PAUSE_FAIL("chdir /");
  prctl(PR_SET_NAME, "tspod-pause", 0, 0, 0);
  if (argv_area != NULL && argv_area_len > 0) {
    memset(argv_area, 0, argv_area_len);
    snprintf(argv_area, argv_area_len, "tspod-pause");
  }

  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) PAUSE_FAIL("create a user namespace (unshare CLONE_NEWUSER)");
  pause_report(wfd, PAUSE_UNSHARED, 0, NULL);

  stage = PAUSE_READY;
  if (read_all(rfd, &go, 1) != 1 || go != 'g') _exit(1);
  if (setresgid(0, 0, 0) < 0) PAUSE_FAIL("setresgid to 0 in the new user namespace");
  if (setresuid(0, 0, 0) < 0) PAUSE_FAIL("setresuid to 0 in the new user namespace");
  /* Host mounts keep propagating in; nothing we mount propagates out. */
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
    PAUSE_FAIL("make / a recursive slave mount in the new mount namespace");
  pause_report(wfd, PAUSE_READY, 0, NULL);
  close(rfd);
  close(wfd);
  for (;;)
    pause();
}

/* PATH lookup (absolute entries only), then /usr/bin and /bin. */
static char *find_program(const char *name)
{
  const char *path = getenv("PATH");
  char buf[PATH_MAX];

  while (path && *path) {
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t) (colon - path) : strlen(path);
    if (len > 0 && path[0] == '/' && len + strlen(name) + 2 < sizeof(buf)) {
      snprintf(buf, sizeof(buf), "%.*s/%s", (int) len, path, name);
      if (access(buf, X_OK) == 0) return strdup(buf);
    }
    path = colon ? colon + 1 : NULL;
  }
  snprintf(buf, sizeof(buf), "/usr/bin/%s", name);
  if (access(buf, X_OK) == 0) return strdup(buf);
  snprintf(buf, sizeof(buf), "/bin/%s", name);
  if (access(buf, X_OK) == 0) return strdup(buf);
  return NULL;
}

/* newuidmap <pid> 0 <id> 1 1 <start> <count> [<1+count> <start2> <count2> ...] */
static int write_id_map(bool uids, pid_t pid, unsigned hostid, const struct subid_ranges *r, launcher_error_t *err)
{
  const char *name = uids ? "newuidmap" : "newgidmap";
  cleanup_free char *prog = find_program(name);
  char args[5 + 3 * SUBID_MAX_RANGES][16];
  char *argv[6 + 3 * SUBID_MAX_RANGES];
  char out[1024];
  unsigned long long inner = 1;
  int pfd[2], status, nargs = 0;
  size_t i;
  ssize_t n;
  pid_t child;

  if (prog == NULL)
    return launcher_make_error(err, 0, "%s not found in $PATH or /usr/bin: install the \"uidmap\" package", name);
  argv[nargs++] = prog;
#define ARG(fmt, v) (snprintf(args[nargs], sizeof(args[0]), fmt, v), argv[nargs] = args[nargs], nargs++)
  ARG("%d", (int) pid);
  ARG("%u", 0U);
  ARG("%u", hostid);
  ARG("%u", 1U);
  for (i = 0; i < r->n; i++) {
    if (inner + r->r[i].count > (unsigned long long) UINT32_MAX) break;
    ARG("%llu", inner);
    ARG("%u", (unsigned) r->r[i].start);
    ARG("%u", (unsigned) r->r[i].count);
    inner += r->r[i].count;
  }
#undef ARG
  argv[nargs] = NULL;

  if (pipe2(pfd, O_CLOEXEC) < 0) return launcher_make_error(err, errno, "pipe");
  child = fork();
  if (child < 0) {
    int e = errno;
    close(pfd[0]);
    close(pfd[1]);
    return launcher_make_error(err, e, "fork");
  }
  if (child == 0) {
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nullfd >= 0) dup2(nullfd, 0);
    dup2(pfd[1], 1);
    dup2(pfd[1], 2);
    execv(prog, argv);
    dprintf(2, "exec %s: %s", prog, strerror(errno));
    _exit(127);
  }
  close(pfd[1]);
  n = read_all(pfd[0], out, sizeof(out) - 1);
  close(pfd[0]);
  out[n > 0 ? n : 0] = '\0';
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
    out[--n] = '\0';
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return launcher_make_error(err, errno, "waitpid %s", name);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    char how[32];
    if (WIFEXITED(status))
      snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
    else
      snprintf(how, sizeof(how), "signal %d", WTERMSIG(status));
    return launcher_make_error(
        err, 0,
        "%s failed (%s): %s\nFix: check the entries for %s %u in %s, and that %s is setuid root (package \"uidmap\")",
        prog, how, out[0] ? out : "(no output)", uids ? "uid" : "gid", hostid, subid_file(uids), prog);
  }
  return 0;
}

static int read_msg(int fd, int stage, struct pause_msg *m, launcher_error_t *err)
{
  ssize_t n = read_all(fd, m, sizeof(*m));
  if (n < 0) return launcher_make_error(err, errno, "read from the pause process");
  if (n != (ssize_t) sizeof(*m)) return launcher_make_error(err, 0, "the pause process exited during setup");
  m->msg[sizeof(m->msg) - 1] = '\0';
  if (m->status != 0 || m->stage != stage)
    return launcher_make_error(err, m->status, "%s", m->msg[0] ? m->msg : "pause process setup");
  return 0;
}

static int write_pidfile(const char *statedir, pid_t pid, unsigned long long starttime, launcher_error_t *err)
{
  char tmp[PATH_MAX], path[PATH_MAX], line[64];
  cleanup_close int fd = -1;
  int len;

  snprintf(path, sizeof(path), "%s/pause.pid", statedir);
  snprintf(tmp, sizeof(tmp), "%s/.pause.pid.%d.tmp", statedir, (int) getpid());
  len = snprintf(line, sizeof(line), "%d %llu\n", (int) pid, starttime);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return launcher_make_error(err, errno, "create %s", tmp);
  if (write_all(fd, line, (size_t) len) < 0) {
    int e = errno;
    unlink(tmp);
    return launcher_make_error(err, e, "write %s", tmp);
  }
  if (rename(tmp, path) < 0) {
    int e = errno;
    unlink(tmp);
    return launcher_make_error(err, e, "rename %s to %s", tmp, path);
  }
  return 0;
}

/* Creates the pause process and records it. The caller holds the lock. */
int pause_create(struct pause_ctx *ctx, pid_t *out_pid, unsigned long long *out_start, launcher_error_t *err)
{
  struct subid_ranges uids, gids;
  struct pause_msg m = {0};
  struct sigaction dfl = {.sa_handler = SIG_DFL}, old_chld;
  cleanup_close int to_rd = -1;
  cleanup_close int to_wr = -1;
  cleanup_close int from_rd = -1;
  cleanup_close int from_wr = -1;
  int p[2], status, ret;
  pid_t mid, pid = -1;

  ret = subid_lookup(ctx->uid, &uids, &gids, err);
  if (ret < 0) return ret;
  if (pipe2(p, O_CLOEXEC) < 0) return launcher_make_error(err, errno, "pipe");
  to_rd = p[0], to_wr = p[1];
  if (pipe2(p, O_CLOEXEC) < 0) return launcher_make_error(err, errno, "pipe");
  from_rd = p[0], from_wr = p[1];

  /* We need exit statuses (newuidmap); an inherited SIGCHLD=SIG_IGN would auto-reap. */
  sigaction(SIGCHLD, &dfl, &old_chld);

  /* Double fork: the pause process must not be our child (we become node next). */
  mid = fork();
  if (mid < 0) {
    ret = launcher_make_error(err, errno, "fork");
    goto out;
  }
  if (mid == 0) {
    pid_t child = fork();
    if (child == 0) pause_main(to_rd, from_wr);
    if (child < 0) pause_report(from_wr, PAUSE_UNSHARED, errno, "fork the pause process");
    _exit(child < 0);
  }
  close(to_rd);
  to_rd = -1;
  close(from_wr);
  from_wr = -1;
  while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
    ;

  ret = read_msg(from_rd, PAUSE_UNSHARED, &m, err);
  if (ret < 0) goto out;
  if (m.pid <= 0) {
    ret = launcher_make_error(err, 0, "the pause process sent an invalid pid");
    goto out;
  }
  pid = (pid_t) m.pid;
  launcher_debug("create: pause process %d unshared its namespaces", (int) pid);

  ret = write_id_map(true, pid, (unsigned) ctx->uid, &uids, err);
  if (ret < 0) goto out;
  ret = write_id_map(false, pid, (unsigned) ctx->gid, &gids, err);
  if (ret < 0) goto out;
  launcher_debug("create: id maps written (%zu uid range(s), %zu gid range(s))", uids.n, gids.n);
  if (write_all(to_wr, "g", 1) < 0) {
    ret = launcher_make_error(err, errno, "signal the pause process");
    goto out;
  }
  ret = read_msg(from_rd, PAUSE_READY, &m, err);
  if (ret < 0) goto out;
  if (proc_starttime(pid, out_start) < 0) {
    ret = launcher_make_error(err, errno, "read the start time of the pause process %d", (int) pid);
    goto out;
  }
  ret = write_pidfile(ctx->statedir, pid, *out_start, err);
  if (ret < 0) goto out;
  *out_pid = pid;
  ret = 0;
out:
  if (ret < 0 && pid > 0) kill(pid, SIGKILL);
  sigaction(SIGCHLD, &old_chld, NULL);
  return ret;
}
