/* tspod-portfwd: published ports of one container (see main.c for the contract). */
#ifndef TSPOD_PORTFWD_H
#define TSPOD_PORTFWD_H
#include "util.h"
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

/* Limits: memory and fds stay bounded whatever the peers do. */
#define PF_MAX_LISTENERS 4096       /* published host ports (after expanding ranges) */
#define PF_MAX_CONNS 8192           /* TCP connections at once (each holds 2 sockets + 2 pipes) */
#define PF_FDS_PER_CONN 6
#define PF_PIPE_SIZE (256 * 1024)   /* per direction, asked with F_SETPIPE_SZ (the kernel may give less) */
#define PF_SPLICE_CHUNK (1 << 20)
#define PF_PUMP_ROUNDS 16           /* splice rounds per wake-up and direction: fairness between connections */
#define PF_ACCEPT_BATCH 64
#define PF_UDP_BATCH 64
#define PF_UDP_MAX_FLOWS 256        /* per published UDP port; the least recently used goes first */
#define PF_UDP_IDLE_SEC 60
#define PF_UDP_SWEEP_MS 5000
#define PF_RETRY_MS 200             /* listeners paused after EMFILE/ENFILE come back after this */

enum pf_kind { PF_TCP_LISTENER, PF_UDP_LISTENER, PF_CONN_SIDE, PF_UDP_FLOW };

/* The first member of everything registered with epoll (epoll_event.data.ptr). */
struct pf_handle {
  enum pf_kind kind;
};

struct pf_flow;

struct pf_listener {
  struct pf_handle h;
  int fd;
  int proto; /* SOCK_STREAM or SOCK_DGRAM */
  struct sockaddr_in target; /* the container's address and port, in its network namespace */
  bool armed;                /* registered with epoll */
  struct pf_flow *flows;     /* UDP: most recently used first */
  unsigned nflows;
};

/* One direction of a TCP connection: bytes read from fd[i] wait in the pipe for fd[1 - i]. */
struct pf_dir {
  int pipe[2];
  size_t bytes;    /* in the pipe */
  bool eof;        /* read side reached EOF */
  bool blocked_in; /* the pipe took nothing more: wait until some of it is written out */
  bool shut;       /* EOF passed on (shutdown(SHUT_WR) of the other side) */
};

struct pf_conn;
struct pf_side {
  struct pf_handle h;
  struct pf_conn *c;
  int i;
};

struct pf_conn {
  bool dead;          /* closed; freed after the current batch of events (which may still name it) */
  int fd[2];          /* [0] the host's client, [1] our socket to the container */
  uint32_t events[2]; /* registered interest; 0 = not registered */
  bool connecting;
  struct pf_dir d[2]; /* d[i]: fd[i] -> fd[1 - i] */
  struct pf_side side[2];
  struct pf_conn *prev, *next;
};

struct pf_flow {
  struct pf_handle h;
  bool dead; /* closed; freed after the current batch of events */
  int fd; /* connected to the container's port, in its namespace */
  struct pf_listener *l;
  struct sockaddr_storage peer; /* the host-side client */
  socklen_t peer_len;
  time_t last;
  struct pf_flow *prev, *next;
};

struct pf {
  int epfd;
  struct pf_listener *listeners;
  size_t nlisteners;
  struct pf_conn *conns;
  unsigned nconns, max_conns;
  bool paused;          /* TCP listeners unregistered: too many connections or out of fds */
  long long retry_at;   /* ms (CLOCK_MONOTONIC) to re-arm paused listeners, 0 = when a connection closes */
  unsigned nflows;
  long long next_sweep; /* ms */
  /* Closed connections and flows, freed once the batch of epoll events being handled is done:
   * a later event of the same batch may point at them. Linked through `next`. */
  struct pf_conn *dead_conns;
  struct pf_flow *dead_flows;
};

long long pf_now_ms(void);

/* tcp.c */
void pf_tcp_accept(struct pf *pf, struct pf_listener *l);
void pf_tcp_event(struct pf *pf, struct pf_side *s, uint32_t events);
void pf_listeners_arm(struct pf *pf, bool on);

/* udp.c */
void pf_udp_from_host(struct pf *pf, struct pf_listener *l);
void pf_udp_from_container(struct pf *pf, struct pf_flow *f);
void pf_udp_sweep(struct pf *pf, bool all);

/* Frees what was closed while handling the last batch of events. */
void pf_reap(struct pf *pf);
#endif
