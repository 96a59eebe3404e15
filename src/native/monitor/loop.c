/* The event loop: one epoll set, one signalfd, single-threaded. Level-triggered throughout; after
 * each batch of events `rearm` recomputes what every fd should wait for from the state, so flow
 * control lives in one place:
 *   - container output is read unless an attach client is backlogged (and always after exit);
 *   - the container's stdin (pipe, or the pty master) waits for EPOLLOUT while input is pending;
 *   - clients are read only while no input is pending. */
#include "monitor.h"
#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>

int watch_set(struct monitor *m, struct watch *w, uint32_t events)
{
  struct epoll_event ev = {.events = events, .data.ptr = w};
  int op;
  if (w->fd < 0 || events == w->events) return 0;
  op = w->events == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  if (epoll_ctl(m->epfd, op, w->fd, &ev) < 0) return -1;
  w->events = events;
  return 0;
}

void watch_close(struct monitor *m, struct watch *w)
{
  if (w->fd < 0) return;
  watch_set(m, w, 0);
  close(w->fd);
  w->fd = -1;
}

static int stdin_target(struct monitor *m) { return m->pty ? m->out[1].fd : m->in.fd; }

/* Writes pending input to the container; closes its stdin after client EOF once all is written. */
void stdin_flush(struct monitor *m)
{
  int fd = stdin_target(m);
  while (fd >= 0 && m->stdin_off < m->stdin_len) {
    ssize_t w = write(fd, m->stdin_buf + m->stdin_off, m->stdin_len - m->stdin_off);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return; /* rearm waits for EPOLLOUT */
      /* The container closed its stdin (EPIPE) or the pty is gone: input has nowhere to go. */
      if (!m->pty) watch_close(m, &m->in);
      break;
    }
    m->stdin_off += (size_t) w;
  }
  m->stdin_len = m->stdin_off = 0;
  if (m->stdin_eof && !m->pty) watch_close(m, &m->in);
}

static void output_close(struct monitor *m, struct watch *w)
{
  watch_close(m, w);
  if (m->pty) m->stdin_len = m->stdin_off = 0; /* the pty master was the stdin target too */
}

/* Reads container output into the log and to attach clients. `drain`: until EAGAIN regardless of
 * clients, for the end; else a few chunks, then back to the loop (fairness, backpressure). */
static void output_read(struct monitor *m, struct watch *w, bool drain)
{
  static char buf[TSPOD_IO_BUF_SIZE];
  for (int i = 0; drain || i < 4; i++) {
    ssize_t n = read(w->fd, buf, sizeof(buf));
    if (n > 0) {
      int stream = m->pty ? TSPOD_STREAM_STDOUT : w->stream;
      log_write(&m->log, stream, buf, (size_t) n);
      attach_broadcast(m, stream, buf, (size_t) n);
      if (!drain && !m->exited && attach_backlogged(m)) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    /* EOF, or EIO from a pty master whose last slave fd closed. */
    output_close(m, w);
    return;
  }
}

static void rearm(struct monitor *m)
{
  bool read_output;
  m->paused = !m->exited && attach_backlogged(m);
  read_output = !m->paused;
  for (int i = 1; i <= 2; i++) {
    uint32_t ev = read_output ? EPOLLIN : 0;
    if (m->pty && i == 1 && m->stdin_len > 0) ev |= EPOLLOUT;
    watch_set(m, &m->out[i], ev);
  }
  watch_set(m, &m->in, m->stdin_len > 0 ? EPOLLOUT : 0);
  for (struct client *c = m->clients; c != NULL; c = c->next) watch_set(m, &c->w, attach_client_interest(m, c));
}

static void reap(struct monitor *m)
{
  int status;
  pid_t p;
  while ((p = waitpid(-1, &status, WNOHANG)) > 0)
    if (p == m->net_pid)
      m->net_pid = 0; /* the network helper died: nothing left to stop */
    else if (p == m->port_pid)
      m->port_pid = 0;
    else if (p == m->pid && !m->exited) {
      m->exited = true;
      m->exit_code = exit_code_from_status(status);
    }
}

static void handle_signals(struct monitor *m)
{
  struct signalfd_siginfo si;
  while (read(m->sig.fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
    if (si.ssi_signo == SIGCHLD)
      reap(m);
    else if (si.ssi_signo != SIGHUP && m->pid > 0 && !m->exited)
      kill(m->pid, (int) si.ssi_signo); /* SIGTERM, SIGINT, SIGQUIT: forwarded to the container */
  }
}

static void dispatch(struct monitor *m, struct watch *w, uint32_t ev)
{
  switch (w->kind) {
  case W_SIGNAL: handle_signals(m); break;
  case W_LISTEN: attach_accept(m, w); break;
  case W_CTL: ctl_handle(m); break;
  case W_CLIENT: attach_client_event(m, w->data, ev); break;
  case W_STDIN: stdin_flush(m); break;
  case W_OUTPUT:
    if (ev & EPOLLOUT) stdin_flush(m);
    if (w->fd >= 0 && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) output_read(m, w, false);
    break;
  }
}

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Registers the fixed sources; called once, before the first monitor_loop. */
int monitor_loop_init(struct monitor *m, tspod_error_t *err)
{
  if (watch_set(m, &m->sig, EPOLLIN) < 0 || watch_set(m, &m->listen[0], EPOLLIN) < 0 ||
      watch_set(m, &m->listen[1], EPOLLIN) < 0 || watch_set(m, &m->ctl, EPOLLIN) < 0)
    return tspod_make_error(err, errno, "epoll_ctl");
  reap(m);
  return 0;
}

/* LOOP_UNTIL_EXITED: until the container has exited and its output is drained (EOF on every output,
 * or TSPOD_DRAIN_OUTPUT_MS after the exit). LOOP_UNTIL_FLUSHED: until every attach client has taken
 * its queued output, or TSPOD_DRAIN_CLIENTS_MS. */
int monitor_loop(struct monitor *m, enum loop_until until, tspod_error_t *err)
{
  struct epoll_event evs[16];
  long long deadline = 0;

  for (;;) {
    int timeout = -1, n;
    rearm(m);
    if (until == LOOP_UNTIL_EXITED && m->exited) {
      long long now = now_ms();
      if (deadline == 0) deadline = now + TSPOD_DRAIN_OUTPUT_MS;
      if (now >= deadline)
        for (int i = 1; i <= 2; i++)
          if (m->out[i].fd >= 0) {
            output_read(m, &m->out[i], true);
            output_close(m, &m->out[i]);
          }
      if (m->out[1].fd < 0 && m->out[2].fd < 0) return 0;
      timeout = (int) (deadline - now);
    } else if (until == LOOP_UNTIL_FLUSHED) {
      long long now = now_ms();
      if (deadline == 0) deadline = now + TSPOD_DRAIN_CLIENTS_MS;
      if (!attach_pending(m) || now >= deadline) return 0;
      timeout = (int) (deadline - now);
    }

    n = epoll_wait(m->epfd, evs, sizeof(evs) / sizeof(evs[0]), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      return tspod_make_error(err, errno, "epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct watch *w = evs[i].data.ptr;
      /* A client freed earlier in this batch cannot appear here: freeing unregisters it, and the
       * kernel reports only fds still registered -- but its event may already be in evs[]. */
      if (w->kind == W_CLIENT && !attach_client_alive(m, w->data)) continue;
      if (w->fd < 0) continue;
      dispatch(m, w, evs[i].events);
    }
  }
}
