/* build/tspod: the entry point of every tspod call.
 *
 *   root (euid 0)             -> _TSPOD_ROOTLESS=0, exec node in the host namespaces
 *   rootless, host command    -> _TSPOD_ROOTLESS=1, exec node in the host namespaces
 *   rootless, anything else   -> join (or create) the pause process's user + mount namespace,
 *                                become uid/gid 0 there, _TSPOD_USERNS=1, exec node
 *   already inside (nested)   -> _TSPOD_USERNS=1 and not in the initial user namespace: exec as is
 *
 * node = $TSPOD_NODE or the node found at build time; script = $TSPOD_MAIN or
 * <dir of the real executable>/../dist/main.cjs. Any failure: "Error: ..." on stderr, exit 125. */
#include "launcher.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#ifndef TSPOD_NODE
#define TSPOD_NODE "node"
#endif

/* Global flags that take a value, as "--x v" or "--x=v".
 * Keep in sync with GLOBAL_FLAGS in src/cli/globals.ts (GLOBAL_VALUE_FLAGS). */
static const char *const value_flags[] = {
    "--root", "--runroot", "--storage-driver", "--runtime", "--log-level", "--registries-conf", NULL};

/* Subcommands that run in the host namespaces (no pause process, nothing created). */
static const char *const host_commands[] = {"help", "version", "info", "login", "logout", "completion", NULL};

static bool in_list(const char *const *list, const char *s)
{
  for (; *list; list++)
    if (strcmp(*list, s) == 0) return true;
  return false;
}

/* Index of the first non-flag word at or after from, or argc. Sets *help when -h/--help/-v/--version
 * comes before it. */
static int next_word(int argc, char **argv, int from, bool *help)
{
  int i;

  for (i = from; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) return i + 1;
    if (a[0] != '-' || a[1] == '\0') return i;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0)
      *help = true;
    else if (in_list(value_flags, a))
      i++; /* its value */
  }
  return argc;
}

static bool is_host_command(int argc, char **argv, const char **why)
{
  bool help = false;
  int i = next_word(argc, argv, 1, &help);

  if (help) return *why = "help/version flag", true;
  if (i >= argc) return *why = "no subcommand", true;
  if (in_list(host_commands, argv[i])) return *why = argv[i], true;
  if (strcmp(argv[i], "system") == 0) {
    int j = next_word(argc, argv, i + 1, &help);
    if (help || j >= argc) return *why = "system help", true;
    if (strcmp(argv[j], "info") == 0) return *why = "system info", true;
  }
  return false;
}

/* /proc/self/uid_map is "0 0 4294967295" only in the initial user namespace. */
static bool in_initial_userns(void)
{
  char buf[256];
  unsigned long a, b, c;
  FILE *fp = fopen("/proc/self/uid_map", "re");
  int n = 0;

  if (fp == NULL) return true;
  while (fgets(buf, sizeof(buf), fp))
    if (n++ == 0 && sscanf(buf, "%lu %lu %lu", &a, &b, &c) != 3) n = 99;
  fclose(fp);
  return n == 1 && a == 0 && b == 0 && c == 4294967295UL;
}

static bool same_userns_as(const char *pid)
{
  char path[64];
  struct stat self, other;

  if (pid == NULL || *pid == '\0' || strlen(pid) > 12) return false;
  snprintf(path, sizeof(path), "/proc/%s/ns/user", pid);
  return stat("/proc/self/ns/user", &self) == 0 && stat(path, &other) == 0 && self.st_dev == other.st_dev &&
         self.st_ino == other.st_ino;
}

static void set_env(const char *name, const char *value)
{
  if (setenv(name, value, 1) < 0) {
    perror("Error: setenv");
    exit(LAUNCHER_EXIT_FAILURE);
  }
}

static void set_env_uint(const char *name, unsigned long v)
{
  char buf[32];
  snprintf(buf, sizeof(buf), "%lu", v);
  set_env(name, buf);
}

struct target {
  const char *node;
  char *main;
};

static int resolve_target(struct target *t, launcher_error_t *err)
{
  const char *env_node = getenv("TSPOD_NODE"), *env_main = getenv("TSPOD_MAIN");
  char exe[PATH_MAX];
  struct stat st;
  ssize_t n;

  t->node = (env_node && *env_node) ? env_node : TSPOD_NODE;
  if (*t->node == '\0') t->node = "node";

  /* The kernel's link is already canonical: /usr/local/bin/tspod -> .../lib/tspod/build/tspod. */
  n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n < 0) return launcher_make_error(err, errno, "readlink /proc/self/exe");
  exe[n] = '\0';
  set_env("_TSPOD_LAUNCHER", exe);

  if (env_main && *env_main)
    t->main = strdup(env_main);
  else {
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    if (asprintf(&t->main, "%s/dist/main.cjs", exe) < 0) t->main = NULL;
  }
  if (t->main == NULL) return launcher_make_error(err, ENOMEM, "resolve the main script");
  if (stat(t->main, &st) < 0) return launcher_make_error(err, errno, "tspod's main script %s", t->main);
  return 0;
}

static void __attribute__((noreturn)) exec_node(struct target *t, int argc, char **argv)
{
  char **nargv = calloc((size_t) argc + 2, sizeof(char *));
  launcher_error_t err = NULL;
  int i;

  if (nargv == NULL) {
    launcher_make_error(&err, ENOMEM, "exec %s", t->node);
    launcher_error_exit(&err);
  }
  /* Node reads and parses NODE_EXTRA_CA_CERTS (often the whole system CA bundle) before running
   * any JavaScript: 36 ms of every call on these machines (`node -e 0`: 56 ms with it, 20 ms
   * without). tspod needs certificates only when it speaks TLS, so the variable is handed over
   * under another name and src/image/http.ts adds those CAs to its own TLS connections. */
  const char *extra_ca = getenv("NODE_EXTRA_CA_CERTS");
  if (extra_ca != NULL) {
    if (setenv("_TSPOD_EXTRA_CA_CERTS", extra_ca, 1) == 0) unsetenv("NODE_EXTRA_CA_CERTS");
  }
  /* argv[0] is node's path, exactly as if the user had typed `node main.cjs ...`. */
  nargv[0] = (char *) t->node;
  nargv[1] = t->main;
  for (i = 1; i < argc; i++)
    nargv[i + 1] = argv[i];
  nargv[argc + 1] = NULL;
  launcher_debug("exec %s %s", t->node, t->main);
  if (strchr(t->node, '/'))
    execv(t->node, nargv);
  else
    execvp(t->node, nargv);
  launcher_make_error(&err, errno, "exec %s", t->node);
  launcher_error_exit(&err);
}

int main(int argc, char **argv)
{
  const char *dbg = getenv("TSPOD_LAUNCHER_DEBUG"), *why = NULL, *userns = getenv("_TSPOD_USERNS");
  launcher_error_t err = NULL;
  struct target t = {0};
  struct pause_ctx ctx = {0};
  cleanup_free char *rundir = NULL;
  pid_t pause_pid;
  int ret;

  launcher_debug_enabled = dbg && *dbg && strcmp(dbg, "0") != 0;
  launcher_debug("start: euid %u", (unsigned) geteuid());
  pause_set_argv_area(argc, argv);

  if (resolve_target(&t, &err) < 0) launcher_error_exit(&err);

  /* Nested: a tspod started by tspod (exit commands, `tspod unshare tspod ...`): already inside. */
  if (userns && strcmp(userns, "1") == 0 && !in_initial_userns()) {
    launcher_debug("decision: nested (%s the pause process's user namespace)",
                   same_userns_as(getenv("_TSPOD_PAUSE_PID")) ? "already in" : "inside, but not in");
    exec_node(&t, argc, argv);
  }
  unsetenv("_TSPOD_USERNS");
  unsetenv("_TSPOD_PAUSE_PID");

  if (geteuid() == 0) {
    unsetenv("_TSPOD_ROOTLESS_UID");
    unsetenv("_TSPOD_ROOTLESS_GID");
    unsetenv("_TSPOD_RUNTIME_DIR");
    set_env("_TSPOD_ROOTLESS", "0");
    launcher_debug("decision: root (no user namespace)");
    exec_node(&t, argc, argv);
  }

  ctx.uid = geteuid();
  ctx.gid = getegid();
  set_env("_TSPOD_ROOTLESS", "1");
  set_env_uint("_TSPOD_ROOTLESS_UID", ctx.uid);
  set_env_uint("_TSPOD_ROOTLESS_GID", ctx.gid);
  ret = rundir_resolve(ctx.uid, &rundir, &err);

  if (is_host_command(argc, argv, &why)) {
    /* A broken runtime dir must not stop `tspod version` or `--help`: leave it to the CLI. */
    if (ret < 0) {
      launcher_debug("runtime dir unusable: %s", err && err->msg ? err->msg : "?");
      unsetenv("_TSPOD_RUNTIME_DIR");
    } else
      set_env("_TSPOD_RUNTIME_DIR", rundir);
    launcher_debug("decision: host (%s)", why);
    exec_node(&t, argc, argv);
  }

  if (ret < 0) launcher_error_exit(&err);
  set_env("_TSPOD_RUNTIME_DIR", rundir);
  if (asprintf(&ctx.statedir, "%s/tspod", rundir) < 0) {
    launcher_make_error(&err, ENOMEM, "asprintf");
    launcher_error_exit(&err);
  }
  if (rundir_ensure_dir(ctx.statedir, ctx.uid, &err) < 0) launcher_error_exit(&err);
  ctx.cwd = getcwd(NULL, 0);

  if (pause_join_or_create(&ctx, &pause_pid, &err) < 0) launcher_error_exit(&err);
  set_env("_TSPOD_USERNS", "1");
  set_env_uint("_TSPOD_PAUSE_PID", (unsigned long) pause_pid);
  launcher_debug("decision: userns (pause process %d)", (int) pause_pid);
  exec_node(&t, argc, argv);
}
