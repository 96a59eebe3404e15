/* Attach sockets in --socket-dir; clients that connect get the container's output and may send input.
 *
 *   attach         SOCK_SEQPACKET (conmon's protocol): every packet to the client is
 *                  [stream id: 1 stdout, 2 stderr][payload <= 8192 bytes].
 *   attach.stream  SOCK_STREAM, for clients that cannot open SEQPACKET sockets (Node's net module):
 *                  frames [stream id][0][0][0][payload length u32 big-endian][payload] -- the
 *                  Docker "stdcopy" framing, so the REST API can pass it through unchanged.
 *
 * Client -> monitor, on both: raw bytes for the container's stdin, no prefix (packet boundaries
 * carry no meaning). End of input (shutdown(SHUT_WR), close, or an empty SEQPACKET packet) closes
 * the container's stdin, unless --leave-stdin-open; with a pty it is ignored. Input is dropped
 * without --stdin.
 *
 * Output is never dropped for a connected client: when one falls more than 64 KiB behind, the
 * monitor stops reading the container's output (the container then blocks on a full pipe, as with
 * `docker attach`) until that client catches up. A client that connected before `start` therefore
 * sees everything. A client whose socket fails is dropped.
 *
 * Client queue layout: framed clients queue the exact bytes still to send; SEQPACKET clients queue
 * records [size_t length][packet] so packets are never split. */
#include "monitor.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

int attach_setup(struct monitor *m, tspod_error_t *err)
{
  m->listen[0] = (struct watch){.kind = W_LISTEN, .fd = -1, .stream = 0};
  m->listen[1] = (struct watch){.kind = W_LISTEN, .fd = -1, .stream = 1};
  m->listen[0].fd = unix_listen_in_dir(m, TSPOD_ATTACH_SOCKET, SOCK_SEQPACKET, err);
  if (m->listen[0].fd < 0) return -1;
  m->listen[1].fd = unix_listen_in_dir(m, TSPOD_ATTACH_STREAM_SOCKET, SOCK_STREAM, err);
  if (m->listen[1].fd < 0) return -1;
  return 0;
}

static void client_free(struct monitor *m, struct client *c)
{
  struct client **pp;
  for (pp = &m->clients; *pp != NULL; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  watch_close(m, &c->w);
  free(c->q);
  free(c);
}

/* Drops the parts of a client that failed or ended; frees it when nothing is left. */
static void client_update(struct monitor *m, struct client *c)
{
  if (!c->readable && !c->writable)
    client_free(m, c);
  else
    watch_set(m, &c->w, attach_client_interest(m, c));
}

void attach_accept(struct monitor *m, struct watch *listen)
{
  for (;;) {
    int fd = accept4(listen->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct client *c;
    if (fd < 0) return; /* EAGAIN, or a client that gave up before we got to it */
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
      close(fd);
      return;
    }
    c->w = (struct watch){.kind = W_CLIENT, .fd = fd, .data = c};
    c->framed = listen->stream == 1;
    c->readable = c->writable = true;
    c->next = m->clients;
    m->clients = c;
    watch_set(m, &c->w, attach_client_interest(m, c));
  }
}

uint32_t attach_client_interest(struct monitor *m, struct client *c)
{
  uint32_t ev = 0;
  if (c->readable && m->stdin_len == 0) ev |= EPOLLIN;
  if (c->writable && c->qlen > c->qoff) ev |= EPOLLOUT;
  return ev;
}

static int queue_append(struct client *c, const void *a, size_t alen, const void *b, size_t blen)
{
  size_t need = alen + blen;
  if (c->qoff > 0 && c->qoff == c->qlen) c->qoff = c->qlen = 0;
  if (c->qlen + need > c->qcap && c->qoff > 0) {
    memmove(c->q, c->q + c->qoff, c->qlen - c->qoff);
    c->qlen -= c->qoff;
    c->qoff = 0;
  }
  if (c->qlen + need > c->qcap) {
    size_t cap = c->qcap ? c->qcap * 2 : 16384;
    char *q;
    while (cap < c->qlen + need) cap *= 2;
    q = realloc(c->q, cap);
    if (q == NULL) return -1;
    c->q = q;
    c->qcap = cap;
  }
  memcpy(c->q + c->qlen, a, alen);
  if (blen) memcpy(c->q + c->qlen + alen, b, blen);
  c->qlen += need;
  return 0;
}

static ssize_t send_iov(int fd, struct iovec *iov, int n)
{
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t) n};
  ssize_t w;
  do
    w = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (w < 0 && errno == EINTR);
  return w;
}

static void client_lost(struct client *c)
{
  c->writable = false;
  c->readable = false;
  free(c->q);
  c->q = NULL;
  c->qlen = c->qoff = c->qcap = 0;
}

/* Sends what the client has queued; returns false if the client failed. */
static bool client_flush(struct client *c)
{
  while (c->qoff < c->qlen) {
    ssize_t w;
    if (c->framed) {
      struct iovec iov = {c->q + c->qoff, c->qlen - c->qoff};
      w = send_iov(c->w.fd, &iov, 1);
      if (w > 0) c->qoff += (size_t) w;
    } else {
      size_t len;
      struct iovec iov;
      memcpy(&len, c->q + c->qoff, sizeof(len));
      iov = (struct iovec){c->q + c->qoff + sizeof(len), len};
      w = send_iov(c->w.fd, &iov, 1);
      if (w >= 0) c->qoff += sizeof(len) + len;
    }
    if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  }
  c->qoff = c->qlen = 0;
  if (c->qcap > 4 * TSPOD_ATTACH_HIGH_WATER) {
    free(c->q);
    c->q = NULL;
    c->qcap = 0;
  }
  return true;
}

static void client_send(struct client *c, int stream, const char *buf, size_t len)
{
  unsigned char hdr[TSPOD_FRAME_HEADER_SIZE] = {(unsigned char) stream, 0, 0, 0, (unsigned char) (len >> 24),
                                                (unsigned char) (len >> 16), (unsigned char) (len >> 8),
                                                (unsigned char) len};
  struct iovec iov[2];
  ssize_t w;

  if (c->qlen > c->qoff) goto enqueue; /* keep the order: behind what is already queued */
  if (c->framed) {
    iov[0] = (struct iovec){hdr, sizeof(hdr)};
    iov[1] = (struct iovec){(void *) buf, len};
    w = send_iov(c->w.fd, iov, 2);
    if (w == (ssize_t) (sizeof(hdr) + len)) return;
    if (w > 0) {
      /* A partial write: queue the rest of this frame. */
      size_t done = (size_t) w;
      if (done < sizeof(hdr)) {
        if (queue_append(c, hdr + done, sizeof(hdr) - done, buf, len) < 0) client_lost(c);
      } else if (queue_append(c, buf + (done - sizeof(hdr)), len - (done - sizeof(hdr)), NULL, 0) < 0)
        client_lost(c);
      return;
    }
  } else {
    unsigned char id = (unsigned char) stream;
    iov[0] = (struct iovec){&id, 1};
    iov[1] = (struct iovec){(void *) buf, len};
    w = send_iov(c->w.fd, iov, 2);
    if (w >= 0) return;
  }
  if (errno != EAGAIN && errno != EWOULDBLOCK) {
    client_lost(c);
    return;
  }
enqueue:
  if (c->framed) {
    if (queue_append(c, hdr, sizeof(hdr), buf, len) < 0) client_lost(c);
  } else {
    /* record: [size_t packet length][stream id][payload] */
    char rec[sizeof(size_t) + 1];
    size_t plen = len + 1;
    memcpy(rec, &plen, sizeof(plen));
    rec[sizeof(size_t)] = (char) stream;
    if (queue_append(c, rec, sizeof(rec), buf, len) < 0) client_lost(c);
  }
}

void attach_broadcast(struct monitor *m, int stream, const char *buf, size_t len)
{
  struct client *c = m->clients, *next;
  for (; c != NULL; c = next) {
    next = c->next;
    if (!c->writable) continue;
    client_send(c, stream, buf, len);
    client_update(m, c);
  }
}

/* Input from a client: into the container's stdin buffer (one chunk at a time; while it is being
 * written, no client is read), or dropped. */
static void client_read(struct monitor *m, struct client *c)
{
  char discard[512];
  bool take = m->opts->stdin_ && (m->pty ? m->out[1].fd >= 0 : m->in.fd >= 0);
  ssize_t n;

  if (take && m->stdin_len > 0) return; /* level-triggered: we come back when it is written */
  do
    n = take ? recv(c->w.fd, m->stdin_buf, sizeof(m->stdin_buf), MSG_DONTWAIT)
             : recv(c->w.fd, discard, sizeof(discard), MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) client_lost(c);
    return;
  }
  if (n == 0) {
    c->readable = false;
    if (m->opts->stdin_ && !m->opts->leave_stdin_open && !m->pty) m->stdin_eof = true;
    stdin_flush(m);
    return;
  }
  if (take) {
    m->stdin_len = (size_t) n;
    m->stdin_off = 0;
    stdin_flush(m);
  }
}

void attach_client_event(struct monitor *m, struct client *c, uint32_t events)
{
  if ((events & EPOLLOUT) && !client_flush(c)) client_lost(c);
  if (c->readable && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) client_read(m, c);
  else if ((events & (EPOLLHUP | EPOLLERR)) && c->qlen == c->qoff) client_lost(c);
  client_update(m, c);
}

bool attach_backlogged(struct monitor *m)
{
  for (struct client *c = m->clients; c != NULL; c = c->next)
    if (c->writable && c->qlen - c->qoff > TSPOD_ATTACH_HIGH_WATER) return true;
  return false;
}

bool attach_pending(struct monitor *m)
{
  for (struct client *c = m->clients; c != NULL; c = c->next)
    if (c->writable && c->qlen > c->qoff) return true;
  return false;
}

void attach_close_all(struct monitor *m)
{
  while (m->clients != NULL) client_free(m, m->clients);
  for (int i = 0; i < 2; i++) watch_close(m, &m->listen[i]);
}

bool attach_client_alive(struct monitor *m, struct client *c)
{
  for (struct client *p = m->clients; p != NULL; p = p->next)
    if (p == c) return true;
  return false;
}
