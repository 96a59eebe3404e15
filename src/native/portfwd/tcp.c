/* TCP: accept on the host, connect in the container's namespace, splice both ways.
 *
 * Epoll is level-triggered, and a socket is registered only for what it can do next, so nothing
 * spins: fd[i] wants EPOLLIN while d[i] may read (not at EOF, pipe not full) and EPOLLOUT while
 * d[1 - i] has bytes for it (or, for fd[1], while the connect is in progress). A socket with no
 * interest is removed from epoll, so a hang-up it reports cannot wake us in a loop either. */
#include "portfwd.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>

static void conn_set(struct pf *pf, struct pf_conn *c, int i, uint32_t want)
{
  struct epoll_event ev = {.events = want, .data.ptr = &c->side[i]};
  int op;
  if (want == c->events[i]) return;
  op = want == 0 ? EPOLL_CTL_DEL : c->events[i] == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(pf->epfd, op, c->fd[i], &ev) == 0) c->events[i] = want;
}

static void conn_update(struct pf *pf, struct pf_conn *c)
{
  for (int i = 0; i < 2; i++) {
    uint32_t want = 0;
    if (c->connecting) {
      want = i == 1 ? EPOLLOUT : 0;
    } else {
      if (!c->d[i].eof && !c->d[i].blocked_in) want |= EPOLLIN;
      if (c->d[1 - i].bytes > 0) want |= EPOLLOUT;
    }
    conn_set(pf, c, i, want);
  }
}

void pf_listeners_arm(struct pf *pf, bool on)
{
  for (size_t i = 0; i < pf->nlisteners; i++) {
    struct pf_listener *l = &pf->listeners[i];
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    if (l->proto != SOCK_STREAM || l->armed == on) continue;
    if (epoll_ctl(pf->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, l->fd, &ev) == 0) l->armed = on;
  }
  pf->paused = !on;
  if (on) pf->retry_at = 0;
}

static void close_fd(int *fd)
{
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* abort_side >= 0: that side is reset (SO_LINGER 0) instead of closed: its peer sees the failure. */
static void conn_free(struct pf *pf, struct pf_conn *c, int abort_side)
{
  for (int i = 0; i < 2; i++) {
    conn_set(pf, c, i, 0);
    if (i == abort_side && c->fd[i] >= 0) {
      struct linger lg = {.l_onoff = 1, .l_linger = 0};
      setsockopt(c->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close_fd(&c->fd[i]);
    close_fd(&c->d[i].pipe[0]);
    close_fd(&c->d[i].pipe[1]);
  }
  if (c->prev) c->prev->next = c->next;
  else pf->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  pf->nconns--;
  c->dead = true;
  c->prev = NULL;
  c->next = pf->dead_conns;
  pf->dead_conns = c;
  /* Room again: paused listeners come back (unless the pause is waiting for fds to free up). */
  if (pf->paused && pf->retry_at == 0) pf_listeners_arm(pf, true);
}

static int make_pipe(struct pf_dir *d)
{
  if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
    d->pipe[0] = d->pipe[1] = -1;
    return -1;
  }
  /* Larger than the default 64 KiB when the user's pipe budget allows; failure is fine. */
  fcntl(d->pipe[1], F_SETPIPE_SZ, PF_PIPE_SIZE);
  return 0;
}

/* Out of fds: stop accepting for a while (the backlog keeps the clients). */
static void pause_for_fds(struct pf *pf)
{
  pf_listeners_arm(pf, false);
  pf->retry_at = pf_now_ms() + PF_RETRY_MS;
}

static void start_conn(struct pf *pf, struct pf_listener *l, int client)
{
  struct pf_conn *c = calloc(1, sizeof(*c));
  int one = 1;
  if (c == NULL) {
    close(client);
    return;
  }
  c->fd[0] = client;
  c->fd[1] = c->d[0].pipe[0] = c->d[0].pipe[1] = c->d[1].pipe[0] = c->d[1].pipe[1] = -1;
  for (int i = 0; i < 2; i++) c->side[i] = (struct pf_side){.h = {.kind = PF_CONN_SIDE}, .c = c, .i = i};
  c->next = pf->conns;
  if (pf->conns) pf->conns->prev = c;
  pf->conns = c;
  pf->nconns++;

  c->fd[1] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd[1] < 0 || make_pipe(&c->d[0]) < 0 || make_pipe(&c->d[1]) < 0) {
    if (errno == EMFILE || errno == ENFILE) pause_for_fds(pf);
    conn_free(pf, c, 0);
    return;
  }
  setsockopt(c->fd[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(c->fd[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(c->fd[1], (struct sockaddr *) &l->target, sizeof(l->target)) == 0) {
    c->connecting = false;
  } else if (errno == EINPROGRESS) {
    c->connecting = true;
  } else {
    conn_free(pf, c, 0);
    return;
  }
  conn_update(pf, c);
}

void pf_tcp_accept(struct pf *pf, struct pf_listener *l)
{
  for (int n = 0; n < PF_ACCEPT_BATCH; n++) {
    int fd;
    if (pf->nconns >= pf->max_conns) {
      pf_listeners_arm(pf, false); /* re-armed by conn_free */
      return;
    }
    fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) pause_for_fds(pf);
      return; /* EAGAIN, or an aborted connection (ECONNABORTED, EPROTO...): next time */
    }
    start_conn(pf, l, fd);
  }
}

/* Moves what it can from fd[i] to fd[1 - i]. Returns 1 if anything changed, 0 if not, -1 on an
 * error of either socket (the connection is to be reset). */
static int pump(struct pf_conn *c, int i)
{
  struct pf_dir *d = &c->d[i];
  int src = c->fd[i], dst = c->fd[1 - i];
  int changed = 0;

  for (int round = 0; round < PF_PUMP_ROUNDS; round++) {
    bool progress = false;
    if (!d->eof && !d->blocked_in) {
      ssize_t n = splice(src, NULL, d->pipe[1], NULL, PF_SPLICE_CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d->bytes += (size_t) n;
        progress = true;
      } else if (n == 0) {
        d->eof = true;
        progress = true;
      } else if (errno == EAGAIN) {
        /* The socket is empty, or the pipe is full: with bytes in the pipe, assume full, and
         * read again once some are written (no read interest meanwhile: no spinning). */
        if (d->bytes > 0) {
          d->blocked_in = true;
          changed = 1; /* read interest goes: a hang-up on this socket waits for the pipe to drain */
        }
      } else if (errno != EINTR)
        return -1;
    }
    if (d->bytes > 0) {
      ssize_t n = splice(d->pipe[0], NULL, dst, NULL, d->bytes, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d->bytes -= (size_t) n;
        if (d->blocked_in) changed = 1;
        d->blocked_in = false;
        progress = true;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR)
        return -1;
    }
    if (!progress) break;
    changed = 1;
  }
  if (d->eof && d->bytes == 0 && !d->shut) {
    shutdown(dst, SHUT_WR);
    d->shut = true;
    changed = 1;
  }
  return changed;
}

void pf_tcp_event(struct pf *pf, struct pf_side *s, uint32_t events)
{
  struct pf_conn *c = s->c;
  int changed = 0;

  if (c->dead) return;
  if (c->connecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == EINPROGRESS || err == EALREADY || (err == 0 && !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))) return;
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      conn_free(pf, c, 0); /* refused or unreachable: the client sees a reset */
      return;
    }
    c->connecting = false;
    changed = 1;
  }
  for (int i = 0; i < 2; i++) {
    int r = pump(c, i);
    if (r < 0) {
      /* One side failed: reset the other, so that its peer learns of it. */
      conn_free(pf, c, 1 - s->i);
      return;
    }
    changed |= r;
  }
  if (c->d[0].shut && c->d[1].shut) {
    conn_free(pf, c, -1);
    return;
  }
  /* An error or hang-up that moved nothing would be reported again at once: give up on it. */
  if (!changed && (events & (EPOLLERR | EPOLLHUP))) {
    conn_free(pf, c, 1 - s->i);
    return;
  }
  conn_update(pf, c);
}

void pf_reap(struct pf *pf)
{
  while (pf->dead_conns != NULL) {
    struct pf_conn *c = pf->dead_conns;
    pf->dead_conns = c->next;
    free(c);
  }
  while (pf->dead_flows != NULL) {
    struct pf_flow *f = pf->dead_flows;
    pf->dead_flows = f->next;
    free(f);
  }
}
