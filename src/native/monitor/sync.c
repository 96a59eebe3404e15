/* The sync pipe (events to the CLI, one JSON object per line) and the start pipe (the CLI says go). */
#include "monitor.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>

#define MAX_MESSAGE 4096

static void sync_send(struct monitor *m, const char *line, size_t len)
{
  if (m->sync_fd < 0) return;
  /* SIGPIPE is ignored: a CLI that went away gives EPIPE, and we stop writing. */
  if (write_all(m->sync_fd, line, len) < 0) {
    close(m->sync_fd);
    m->sync_fd = -1;
  }
}

void sync_send_pid(struct monitor *m, const char *event, pid_t pid)
{
  char line[96];
  int n = snprintf(line, sizeof(line), "{\"event\":\"%s\",\"pid\":%d}\n", event, (int) pid);
  sync_send(m, line, (size_t) n);
}

void sync_send_exited(struct monitor *m, int exit_code)
{
  char line[64];
  int n = snprintf(line, sizeof(line), "{\"event\":\"exited\",\"exitCode\":%d}\n", exit_code);
  sync_send(m, line, (size_t) n);
}

/* After `exited`, an attached CLI may answer TSPOD_CLEANUP_ACK: it cleans up itself, so the exit
 * command (another tspod process) is not needed. Silence, EOF or anything else within the wait
 * means it is: a CLI that died or detached leaves the cleanup to us. */
bool sync_cli_takes_cleanup(struct monitor *m)
{
  struct pollfd p = {.fd = m->sync_fd, .events = POLLIN};
  char c = 0;
  int r;

  if (m->sync_fd < 0) return false;
  do
    r = poll(&p, 1, TSPOD_CLEANUP_ACK_WAIT_MS);
  while (r < 0 && errno == EINTR);
  if (r <= 0) return false;
  while ((r = (int) read(m->sync_fd, &c, 1)) < 0 && errno == EINTR)
    ;
  return r == 1 && c == TSPOD_CLEANUP_ACK;
}

/* JSON string escaping; bytes >= 0x80 pass through (the reader decodes UTF-8 leniently). */
static size_t json_escape(char *out, const char *in, size_t max_in)
{
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (size_t i = 0; in[i] != '\0' && i < max_in; i++) {
    unsigned char ch = (unsigned char) in[i];
    switch (ch) {
    case '"': out[o++] = '\\'; out[o++] = '"'; break;
    case '\\': out[o++] = '\\'; out[o++] = '\\'; break;
    case '\n': out[o++] = '\\'; out[o++] = 'n'; break;
    case '\t': out[o++] = '\\'; out[o++] = 't'; break;
    case '\r': out[o++] = '\\'; out[o++] = 'r'; break;
    default:
      if (ch < 0x20) {
        memcpy(out + o, "\\u00", 4);
        o += 4;
        out[o++] = hex[ch >> 4];
        out[o++] = hex[ch & 0xf];
      } else
        out[o++] = (char) ch;
    }
  }
  return o;
}

void sync_send_error(struct monitor *m, const char *message)
{
  static const char head[] = "{\"event\":\"error\",\"message\":\"";
  static const char tail[] = "\"}\n";
  /* Worst case: every byte becomes \u00XX (6 bytes). */
  char line[sizeof(head) + MAX_MESSAGE * 6 + sizeof(tail)];
  size_t n = sizeof(head) - 1;

  memcpy(line, head, n);
  n += json_escape(line + n, message ? message : "unknown error", MAX_MESSAGE);
  memcpy(line + n, tail, sizeof(tail) - 1);
  n += sizeof(tail) - 1;
  sync_send(m, line, n);
}

/* Blocks until the CLI writes a byte or closes the start pipe; either means "go". SIGTERM, SIGINT
 * or SIGQUIT meanwhile (the CLI giving up) is a failure: nothing has been created yet. */
int wait_start_pipe(struct monitor *m, tspod_error_t *err)
{
  struct pollfd p[2] = {{.fd = m->start_fd, .events = POLLIN}, {.fd = m->sig.fd, .events = POLLIN}};
  struct signalfd_siginfo si;
  char c;

  while (m->start_fd >= 0) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return tspod_make_error(err, errno, "poll");
    }
    if (p[0].revents) {
      while (read(m->start_fd, &c, 1) < 0 && errno == EINTR)
        ;
      close(m->start_fd);
      m->start_fd = -1;
    } else if (p[1].revents && read(m->sig.fd, &si, sizeof(si)) == (ssize_t) sizeof(si) && si.ssi_signo != SIGCHLD &&
               si.ssi_signo != SIGHUP)
      return tspod_make_error(err, 0, "interrupted by signal %u before the container was created", si.ssi_signo);
  }
  return 0;
}
