/* tspod launcher: decides host vs. rootless user namespace, joins or creates the per-user pause
 * process that holds the namespaces, then execs node on dist/main.cjs. See main.c for the contract. */
#ifndef TSPOD_LAUNCHER_H
#define TSPOD_LAUNCHER_H
#include "util.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit status for every launcher failure (Podman's "engine error"). */
#define LAUNCHER_EXIT_FAILURE 125

/* crun-style error: functions return < 0 and fill *err; the caller propagates or reports. */
struct launcher_error_s {
  int status; /* errno, or 0 when msg says it all */
  char *msg;
};
typedef struct launcher_error_s *launcher_error_t;

/* Fills *err and returns -1. status is an errno value (0: none). */
int launcher_make_error(launcher_error_t *err, int status, const char *fmt, ...) TSPOD_PRINTF(3, 4);
/* Prints "Error: <msg>[: <strerror>]" to stderr and exits LAUNCHER_EXIT_FAILURE. */
void launcher_error_exit(launcher_error_t *err) __attribute__((noreturn));

/* TSPOD_LAUNCHER_DEBUG=1: decision and timing lines on stderr. */
extern bool launcher_debug_enabled;
void launcher_debug(const char *fmt, ...) TSPOD_PRINTF(1, 2);

/* rundir.c */
/* The user's runtime dir: $XDG_RUNTIME_DIR when it is a real directory owned by uid, else
 * /tmp/tspod-run-<uid> (created 0700; refused when it is a symlink or not owned by uid). */
int rundir_resolve(uid_t uid, char **out, launcher_error_t *err);
/* Creates dir 0700 if missing; refuses a symlink, a non-directory, or a directory not owned by uid. */
int rundir_ensure_dir(const char *dir, uid_t uid, launcher_error_t *err);

/* subid.c */
#define SUBID_MAX_RANGES 32
struct subid_range {
  uint32_t start;
  uint32_t count;
};
struct subid_ranges {
  size_t n;
  struct subid_range r[SUBID_MAX_RANGES];
};
/* Reads name:start:count lines of file for the user (login name or numeric uid).
 * Returns 0 (possibly with n == 0), or < 0 if the file cannot be read (ENOENT gives n == 0). */
int subid_read(const char *file, const char *name, uid_t uid, struct subid_ranges *out, launcher_error_t *err);
/* The subuid (uids) or subgid file: $TSPOD_SUBUID_FILE / $TSPOD_SUBGID_FILE override /etc/sub[ug]id. */
const char *subid_file(bool uids);
/* Ranges for uid and gid; a missing range is an error with a `usermod` hint. */
int subid_lookup(uid_t uid, struct subid_ranges *uids, struct subid_ranges *gids, launcher_error_t *err);

/* pause.c */
struct pause_ctx {
  uid_t uid;
  gid_t gid;
  char *statedir; /* <rundir>/tspod */
  char *cwd;      /* restored after setns(CLONE_NEWNS), which resets it to / */
};
/* Joins the pause process's user+mount namespaces, creating the process if needed.
 * On success we are uid/gid 0 in the namespace and *pause_pid is set. */
int pause_join_or_create(struct pause_ctx *ctx, pid_t *pause_pid, launcher_error_t *err);
/* Field 22 of /proc/<pid>/stat. Returns 0 or -1 with errno set. */
int proc_starttime(pid_t pid, unsigned long long *out);
/* create.c: creates the pause process and writes the pid file; the caller holds pause.lock. */
int pause_create(struct pause_ctx *ctx, pid_t *out_pid, unsigned long long *out_start, launcher_error_t *err);
/* Lets the pause process rewrite its command line (/proc/<pid>/cmdline) to "tspod-pause". */
void pause_set_argv_area(int argc, char **argv);

#endif
