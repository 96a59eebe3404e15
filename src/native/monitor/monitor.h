/* tspod-monitor: shared constants, options and state. The wire contract is described at the top of
 * main.c; every constant marked "keep in sync" is mirrored in src/runtime/monitor.ts. */
#ifndef TSPOD_MONITOR_H
#define TSPOD_MONITOR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "error.h"
#include "util.h"

/* ---- keep in sync with src/runtime/monitor.ts ---- */
#define TSPOD_ENV_SYNCPIPE "_TSPOD_SYNCPIPE"   /* fd number of the sync pipe (events, JSON lines) */
#define TSPOD_ENV_STARTPIPE "_TSPOD_STARTPIPE" /* fd number of the start pipe (one byte or EOF = go) */
#define TSPOD_ATTACH_SOCKET "attach"           /* <socket-dir>/attach: SOCK_SEQPACKET, conmon-style */
#define TSPOD_ATTACH_STREAM_SOCKET "attach.stream" /* <socket-dir>/attach.stream: SOCK_STREAM, framed */
#define TSPOD_CTL_FIFO "ctl"                   /* <socket-dir>/ctl: "<type> <height> <width>\n" */
#define TSPOD_CONSOLE_SOCKET "console"         /* <socket-dir>/console: runtime --console-socket */
#define TSPOD_STREAM_STDIN 0
#define TSPOD_STREAM_STDOUT 1
#define TSPOD_STREAM_STDERR 2
#define TSPOD_FRAME_HEADER_SIZE 8 /* attach.stream: [stream u8][0 0 0][length u32 big-endian] */
#define TSPOD_CTL_RESIZE 1        /* "1 <height> <width>\n": TIOCSWINSZ on the pty master */
#define TSPOD_CTL_REOPEN_LOG 2    /* "2 0 0\n": reopen the log file (after rotation) */
#define TSPOD_EXIT_SIGNAL_BASE 128 /* exit code of a container killed by signal N is 128+N */
#define TSPOD_IO_BUF_SIZE 8192     /* largest attach packet payload (+1 byte stream id) */
#define TSPOD_MONITOR_EXIT_FAILURE 1
#define TSPOD_CLEANUP_ACK 'c' /* CLI -> monitor on the sync pipe after `exited`: "I clean up" */
/* ---- end keep in sync ---- */
#define TSPOD_CLEANUP_ACK_WAIT_MS 2000

#define TSPOD_ATTACH_HIGH_WATER (64 * 1024) /* client backlog that pauses reading container output */
#define TSPOD_DRAIN_OUTPUT_MS 2000          /* after exit: wait this long for output EOF */
#define TSPOD_DRAIN_CLIENTS_MS 10000        /* after exit: wait this long for clients to take output */
#define TSPOD_NET_HELPER_TIMEOUT_MS 30000   /* the network helper must be ready within this */

enum log_driver { LOG_DRIVER_K8S_FILE, LOG_DRIVER_NONE, LOG_DRIVER_PASSTHROUGH };

struct monitor_opts {
  const char *cid;
  const char *bundle;
  const char *runtime;
  const char **runtime_args; /* NULL-terminated */
  const char *log_path;
  enum log_driver log_driver;
  long long log_size_max; /* <= 0: unlimited */
  const char *exit_dir;
  const char *socket_dir;
  bool terminal;
  bool stdin_;
  bool leave_stdin_open;
  const char *exit_command;
  const char **exit_command_args; /* NULL-terminated */
  const char *pidfile;
  const char *container_pidfile;
  bool exec;
  bool exec_attach;
  bool start; /* `run -d` (create and start) instead of `create` */
  const char *exec_process_spec;
  const char *net_helper;         /* slirp4netns / pasta, started after create (nethelper.c) */
  const char **net_helper_args;   /* NULL-terminated; placeholders {pid} {netns} {ready-fd} {ready-file} */
  bool netns_create;              /* --netns-create: make the netns at --netns-path before the runtime */
  bool net_helper_ports;          /* --net-helper-ports: the net helper itself holds published ports */
  const char *port_helper;        /* tspod-portfwd, started beside the net helper (nethelper.c) */
  const char **port_helper_args;  /* NULL-terminated; the same placeholders */
  const char *netns_path;         /* bind-mount /proc/<pid>/ns/net here for {netns} */
};

/* options.c */
int parse_options(int argc, char **argv, struct monitor_opts *o, tspod_error_t *err);

/* An fd registered with the epoll loop. `events` is what is armed now (0 = not registered). */
enum watch_kind { W_SIGNAL, W_OUTPUT, W_STDIN, W_LISTEN, W_CLIENT, W_CTL };
struct watch {
  enum watch_kind kind;
  int fd;
  uint32_t events;
  int stream; /* W_OUTPUT: TSPOD_STREAM_*; W_LISTEN: 1 for the framed stream socket */
  void *data; /* W_CLIENT: struct client */
};

struct client {
  struct watch w;
  bool framed;   /* attach.stream (8-byte headers) rather than SEQPACKET */
  bool readable; /* still forwarding its input to the container's stdin */
  bool writable; /* still sending it output */
  char *q;       /* output not yet taken by the client (see attach.c for the layout) */
  size_t qlen, qoff, qcap;
  struct client *next;
};

struct logger {
  enum log_driver driver;
  const char *path;
  int fd;
  long long max;
  long long written;
};

struct monitor {
  struct monitor_opts *opts;
  int epfd;
  int sync_fd;  /* -1 once closed by the peer */
  int start_fd; /* -1 if none */
  int socket_dirfd;
  mode_t umask;

  struct watch sig;
  struct watch listen[2]; /* [0] attach (SEQPACKET), [1] attach.stream */
  struct client *clients;
  struct watch ctl;
  int ctl_keep_fd; /* dummy writer so the FIFO never reports EOF */
  char ctl_buf[64];
  size_t ctl_len;

  int console_fd; /* listening console socket while the runtime runs, else -1 */
  char *console_path;
  bool pty;
  struct watch out[3]; /* [1] stdout pipe or pty master, [2] stderr pipe; fd -1 when closed */
  struct watch in;     /* container stdin pipe (write end); unused with a pty */
  char stdin_buf[TSPOD_IO_BUF_SIZE];
  size_t stdin_len, stdin_off;
  bool stdin_eof; /* close the container's stdin once stdin_buf is written */
  bool paused;    /* output reading paused: a client is too far behind */

  struct logger log;
  pid_t pid; /* container init (or exec process) */
  bool exited;
  int exit_code;

  pid_t net_pid;  /* the network helper, 0 if none or reaped */
  int net_pidfd;  /* pidfd of net_pid, -1 if none */
  pid_t port_pid; /* the port forwarder, 0 if none or reaped */
  int port_pidfd; /* pidfd of port_pid, -1 if none */
  bool netns_mounted;
};

/* sync.c: events to the CLI and the start pipe */
void sync_send_pid(struct monitor *m, const char *event, pid_t pid);
void sync_send_error(struct monitor *m, const char *message);
void sync_send_exited(struct monitor *m, int exit_code);
bool sync_cli_takes_cleanup(struct monitor *m);
int wait_start_pipe(struct monitor *m, tspod_error_t *err);

/* sock.c */
int unix_listen_in_dir(struct monitor *m, const char *name, int type, tspod_error_t *err);
char *unix_path_in_dir(struct monitor *m, const char *name);
void unlink_in_dir(struct monitor *m, const char *name);

/* file.c */
int write_file_atomic(const char *path, const char *data, size_t len, tspod_error_t *err);
int read_pid_file(const char *path, pid_t *pid, tspod_error_t *err);
int open_dev_null(int flags, tspod_error_t *err);
void close_fds_from(unsigned int first);

/* logging.c */
int log_open(struct logger *l, tspod_error_t *err);
int log_reopen(struct logger *l, tspod_error_t *err);
void log_write(struct logger *l, int stream, const char *buf, size_t len);

/* runtime.c */
int runtime_create(struct monitor *m, tspod_error_t *err);
void runtime_delete(struct monitor *m);

/* attach.c */
int attach_setup(struct monitor *m, tspod_error_t *err);
void attach_accept(struct monitor *m, struct watch *listen);
void attach_client_event(struct monitor *m, struct client *c, uint32_t events);
void attach_broadcast(struct monitor *m, int stream, const char *buf, size_t len);
bool attach_backlogged(struct monitor *m);
bool attach_pending(struct monitor *m);
bool attach_client_alive(struct monitor *m, struct client *c);
void attach_close_all(struct monitor *m);
uint32_t attach_client_interest(struct monitor *m, struct client *c);

/* ctl.c */
int ctl_setup(struct monitor *m, tspod_error_t *err);
void ctl_handle(struct monitor *m);

/* loop.c */
enum loop_until { LOOP_UNTIL_EXITED, LOOP_UNTIL_FLUSHED };
int watch_set(struct monitor *m, struct watch *w, uint32_t events);
void watch_close(struct monitor *m, struct watch *w);
int monitor_loop_init(struct monitor *m, tspod_error_t *err);
int monitor_loop(struct monitor *m, enum loop_until until, tspod_error_t *err);
void stdin_flush(struct monitor *m);

/* nethelper.c */
int net_helper_start(struct monitor *m, tspod_error_t *err);
int netns_create(struct monitor *m, tspod_error_t *err);
void net_helper_stop(struct monitor *m);

/* exit.c */
int exit_code_from_status(int status);
int write_exit_file(struct monitor *m, tspod_error_t *err);
void remove_sockets(struct monitor *m);
__attribute__((noreturn)) void run_exit_command(struct monitor *m);

#endif
