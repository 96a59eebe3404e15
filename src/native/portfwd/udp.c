/* UDP: one flow per host client address. A datagram from a new client opens a socket in the
 * container's namespace, connected to the container's port; what comes back on it goes out of the
 * published host socket to that client. Flows are kept in most-recently-used order per port,
 * dropped after PF_UDP_IDLE_SEC without traffic or when a port has PF_UDP_MAX_FLOWS. */
#include "portfwd.h"
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

static char buf[65536];

static void unlink_flow(struct pf_flow *f)
{
  struct pf_listener *l = f->l;
  if (f->prev) f->prev->next = f->next;
  else l->flows = f->next;
  if (f->next) f->next->prev = f->prev;
  f->prev = f->next = NULL;
}

static void push_front(struct pf_flow *f)
{
  struct pf_listener *l = f->l;
  f->prev = NULL;
  f->next = l->flows;
  if (l->flows) l->flows->prev = f;
  l->flows = f;
}

static void flow_free(struct pf *pf, struct pf_flow *f)
{
  unlink_flow(f);
  f->l->nflows--;
  pf->nflows--;
  close(f->fd); /* also removes it from epoll */
  f->fd = -1;
  f->dead = true;
  f->next = pf->dead_flows;
  pf->dead_flows = f;
}

static bool same_peer(const struct pf_flow *f, const struct sockaddr_storage *a, socklen_t len)
{
  return f->peer_len == len && memcmp(&f->peer, a, len) == 0;
}

static struct pf_flow *flow_open(struct pf *pf, struct pf_listener *l, const struct sockaddr_storage *peer, socklen_t len)
{
  struct pf_flow *f;
  struct epoll_event ev;
  if (l->nflows >= PF_UDP_MAX_FLOWS) {
    struct pf_flow *oldest = l->flows;
    while (oldest && oldest->next) oldest = oldest->next;
    if (oldest) flow_free(pf, oldest);
  }
  f = calloc(1, sizeof(*f));
  if (f == NULL) return NULL;
  f->h.kind = PF_UDP_FLOW;
  f->l = l;
  memcpy(&f->peer, peer, len);
  f->peer_len = len;
  f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (f->fd < 0 || connect(f->fd, (struct sockaddr *) &l->target, sizeof(l->target)) < 0) goto fail;
  ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = f};
  if (epoll_ctl(pf->epfd, EPOLL_CTL_ADD, f->fd, &ev) < 0) goto fail;
  push_front(f);
  l->nflows++;
  if (pf->nflows++ == 0) pf->next_sweep = pf_now_ms() + PF_UDP_SWEEP_MS;
  return f;
fail:
  if (f->fd >= 0) close(f->fd);
  free(f);
  return NULL;
}

void pf_udp_from_host(struct pf *pf, struct pf_listener *l)
{
  for (int n = 0; n < PF_UDP_BATCH; n++) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    struct pf_flow *f;
    ssize_t got = recvfrom(l->fd, buf, sizeof(buf), 0, (struct sockaddr *) &peer, &len);
    if (got < 0) {
      if (errno == EINTR) continue;
      return; /* EAGAIN, or an ICMP error queued on the socket: nothing to do */
    }
    if (len > sizeof(peer)) continue;
    for (f = l->flows; f != NULL && !same_peer(f, &peer, len); f = f->next)
      ;
    if (f == NULL) f = flow_open(pf, l, &peer, len);
    if (f == NULL) continue; /* out of fds or memory: the datagram is dropped, as UDP allows */
    if (f != l->flows) {
      unlink_flow(f);
      push_front(f);
    }
    f->last = pf_now_ms() / 1000;
    /* Dropped when the container's buffer is full or nothing listens (ECONNREFUSED). */
    if (send(f->fd, buf, (size_t) got, MSG_DONTWAIT) < 0) (void) 0;
  }
}

void pf_udp_from_container(struct pf *pf, struct pf_flow *f)
{
  if (f->dead) return;
  for (int n = 0; n < PF_UDP_BATCH; n++) {
    ssize_t got = recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EINTR || errno == ECONNREFUSED) continue; /* ICMP port unreachable: keep the flow */
      if (errno != EAGAIN) flow_free(pf, f);
      return;
    }
    f->last = pf_now_ms() / 1000;
    sendto(f->l->fd, buf, (size_t) got, MSG_DONTWAIT, (struct sockaddr *) &f->peer, f->peer_len);
  }
}

void pf_udp_sweep(struct pf *pf, bool all)
{
  time_t now = pf_now_ms() / 1000;
  for (size_t i = 0; i < pf->nlisteners; i++) {
    struct pf_flow *f = pf->listeners[i].flows, *next;
    for (; f != NULL; f = next) {
      next = f->next;
      if (all || now - f->last >= PF_UDP_IDLE_SEC) flow_free(pf, f);
    }
  }
}
