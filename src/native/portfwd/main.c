/* tspod-portfwd: the published ports (-p) of one container. What podman's rootlessport is to
 * podman: listeners on the host, connections made inside the container's network namespace, so
 * the data never crosses slirp4netns (loopback to loopback, spliced).
 *
 * THE CONTRACT -- keep in sync with src/network/portfwd.ts
 *
 *   tspod-portfwd --netns <file> --target <IPv4> [--ready-fd <n>]
 *                 --map <tcp|udp>,<host ip>,<host port>,<container port>,<count> ...
 *
 *   Started in the host's network namespace (tspod's user namespace is fine: the listeners are
 *   bound from there) by tspod-monitor, as its child with PR_SET_PDEATHSIG(SIGKILL): it dies with
 *   the monitor, which kills it when the container exits. Each --map publishes <count> consecutive
 *   ports; <host ip> empty = 0.0.0.0, IPv4 or IPv6 (IPv6 listeners are IPV6_V6ONLY).
 *   1. Binds every host port. The first that cannot be bound ends the program with exit 1 and
 *      `cannot publish port 8080/tcp: listen tcp 0.0.0.0:8080: bind: address already in use` on
 *      stderr (podman's words); nothing is left behind.
 *   2. setns() into the network namespace <file> (a container's, or the shared namespace of the
 *      user-defined networks), drops every capability (no_new_privs), writes one byte to
 *      --ready-fd and closes it.
 *   3. TCP: for each accepted host connection, a socket in that namespace connects to
 *      <target>:<container port>; bytes move with splice() through a pipe per direction; EOF is
 *      passed on as shutdown(SHUT_WR), a reset or error as a reset (SO_LINGER 0) of the other side;
 *      a refused connection resets the client. At most PF_MAX_CONNS connections (and what
 *      RLIMIT_NOFILE allows): beyond that the listeners pause and the kernel's backlog holds
 *      the clients.
 *      UDP: one socket in the namespace per host client address (a flow), replies sent back from
 *      the host port to that client; flows expire after PF_UDP_IDLE_SEC idle, at most
 *      PF_UDP_MAX_FLOWS per port (the least recently used is dropped).
 *   Nothing that arrives is parsed: the container (and any host client) can send anything.
 *   Runs until killed. stderr carries only fatal errors (the monitor keeps it in port.log). */
#include "portfwd.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static __attribute__((noreturn)) TSPOD_PRINTF(1, 2) void fatal(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("tspod-portfwd: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

long long pf_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long parse_num(const char *s, long min, long max, const char *what)
{
  char *end = NULL;
  long v;
  errno = 0;
  if (s == NULL || *s < '0' || *s > '9') fatal("invalid %s `%s`", what, s ? s : "");
  v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) fatal("invalid %s `%s`", what, s);
  return v;
}

struct map {
  int proto;
  char ip[INET6_ADDRSTRLEN];
  long host_port, ctr_port, count;
};

/* "<proto>,<ip>,<host port>,<container port>,<count>" (argv stays as it was: ps shows it) */
static void parse_map(const char *orig, struct map *m)
{
  char *f[5];
  cleanup_free char *arg = strdup(orig);
  char *p = arg;
  if (arg == NULL) fatal("out of memory");
  for (int i = 0; i < 5; i++) {
    char *comma = strchr(p, ',');
    if (i < 4 && comma == NULL) fatal("invalid --map `%s`: want proto,ip,hostport,containerport,count", arg);
    if (comma != NULL) *comma = '\0';
    f[i] = p;
    p = comma ? comma + 1 : p + strlen(p);
  }
  if (*p != '\0') fatal("invalid --map: trailing `%s`", p);
  if (strcmp(f[0], "tcp") == 0)
    m->proto = SOCK_STREAM;
  else if (strcmp(f[0], "udp") == 0)
    m->proto = SOCK_DGRAM;
  else
    fatal("invalid protocol `%s` in --map", f[0]);
  if (strlen(f[1]) >= sizeof(m->ip)) fatal("invalid host address `%s`", f[1]);
  strcpy(m->ip, f[1]);
  m->host_port = parse_num(f[2], 1, 65535, "host port");
  m->ctr_port = parse_num(f[3], 1, 65535, "container port");
  m->count = parse_num(f[4], 1, 65535, "port count");
  if (m->host_port + m->count - 1 > 65535 || m->ctr_port + m->count - 1 > 65535) fatal("port range past 65535 in --map");
}

/* Binds one host port; on failure prints podman's message and exits. */
static int bind_host(const struct map *m, long port)
{
  const char *proto = m->proto == SOCK_STREAM ? "tcp" : "udp";
  struct sockaddr_storage ss;
  socklen_t len;
  char shown[INET6_ADDRSTRLEN + 16];
  int fd, one = 1, family;

  memset(&ss, 0, sizeof(ss));
  if (m->ip[0] == '\0' || inet_pton(AF_INET, m->ip, &((struct sockaddr_in *) &ss)->sin_addr) == 1) {
    struct sockaddr_in *a = (struct sockaddr_in *) &ss;
    a->sin_family = family = AF_INET;
    a->sin_port = htons((uint16_t) port);
    if (m->ip[0] == '\0') a->sin_addr.s_addr = htonl(INADDR_ANY);
    len = sizeof(*a);
    snprintf(shown, sizeof(shown), "%s:%ld", m->ip[0] ? m->ip : "0.0.0.0", port);
  } else if (inet_pton(AF_INET6, m->ip, &((struct sockaddr_in6 *) &ss)->sin6_addr) == 1) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *) &ss;
    a->sin6_family = family = AF_INET6;
    a->sin6_port = htons((uint16_t) port);
    len = sizeof(*a);
    snprintf(shown, sizeof(shown), "[%s]:%ld", m->ip, port);
  } else
    fatal("invalid host address `%s`", m->ip);

  fd = socket(family, m->proto | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fatal("socket: %s", strerror(errno));
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  /* As every TCP server (and Go's net.Listen, podman's rootlessport): a previous run's
   * connections in TIME_WAIT do not keep the port. Not for UDP (it would allow sharing). */
  if (m->proto == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *) &ss, len) < 0 || (m->proto == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)) {
    char why[128];
    snprintf(why, sizeof(why), "%s", strerror(errno));
    why[0] = (char) (why[0] >= 'A' && why[0] <= 'Z' ? why[0] - 'A' + 'a' : why[0]);
    fprintf(stderr, "cannot publish port %ld/%s: listen %s %s: bind: %s\n", port, proto, proto, shown, why);
    exit(1);
  }
  return fd;
}

/* No capabilities from here on: the namespace is joined and every host socket is open. */
static void drop_privileges(void)
{
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fatal("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
  if (syscall(SYS_capset, &hdr, data) < 0) fatal("capset: %s", strerror(errno));
}

/* Room for connections: the soft fd limit raised to the hard one, PF_FDS_PER_CONN fds each. */
static unsigned conn_budget(size_t nlisteners)
{
  struct rlimit rl;
  unsigned long avail;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) rl.rlim_cur = 1024;
  avail = rl.rlim_cur > nlisteners + 32 ? rl.rlim_cur - nlisteners - 32 : 0;
  avail /= PF_FDS_PER_CONN;
  if (avail > PF_MAX_CONNS) avail = PF_MAX_CONNS;
  return avail > 0 ? (unsigned) avail : 1;
}

static void loop(struct pf *pf)
{
  struct epoll_event evs[128];
  for (;;) {
    long long now = pf_now_ms(), wake = -1;
    int timeout = -1, n;
    if (pf->paused && pf->retry_at > 0) wake = pf->retry_at;
    if (pf->nflows > 0 && (wake < 0 || pf->next_sweep < wake)) wake = pf->next_sweep;
    if (wake >= 0) timeout = wake > now ? (int) (wake - now) : 0;
    n = epoll_wait(pf->epfd, evs, (int) (sizeof(evs) / sizeof(evs[0])), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      fatal("epoll_wait: %s", strerror(errno));
    }
    for (int i = 0; i < n; i++) {
      struct pf_handle *h = evs[i].data.ptr;
      switch (h->kind) {
      case PF_TCP_LISTENER: pf_tcp_accept(pf, (struct pf_listener *) h); break;
      case PF_UDP_LISTENER: pf_udp_from_host(pf, (struct pf_listener *) h); break;
      case PF_CONN_SIDE: pf_tcp_event(pf, (struct pf_side *) h, evs[i].events); break;
      case PF_UDP_FLOW: pf_udp_from_container(pf, (struct pf_flow *) h); break;
      }
    }
    pf_reap(pf);
    now = pf_now_ms();
    if (pf->paused && pf->retry_at > 0 && now >= pf->retry_at) pf_listeners_arm(pf, true);
    if (pf->nflows > 0 && now >= pf->next_sweep) {
      pf_udp_sweep(pf, false);
      pf->next_sweep = now + PF_UDP_SWEEP_MS;
    }
  }
}

int main(int argc, char **argv)
{
  static struct pf pf;
  const char *netns = NULL, *target = NULL;
  struct map *maps;
  size_t nmaps = 0, total = 0, k = 0;
  int ready_fd = -1, nsfd;
  struct in_addr target_addr;

  signal(SIGPIPE, SIG_IGN); /* a peer gone while we write: EPIPE, handled per connection */
  maps = calloc((size_t) argc, sizeof(*maps));
  if (maps == NULL) fatal("out of memory");
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) fatal("`%s` needs a value (or is unknown)", a);
    if (strcmp(a, "--netns") == 0)
      netns = argv[++i];
    else if (strcmp(a, "--target") == 0)
      target = argv[++i];
    else if (strcmp(a, "--ready-fd") == 0)
      ready_fd = (int) parse_num(argv[++i], 3, 1 << 20, "--ready-fd");
    else if (strcmp(a, "--map") == 0) {
      parse_map(argv[++i], &maps[nmaps]);
      total += (size_t) maps[nmaps].count;
      nmaps++;
    } else
      fatal("unknown option `%s`", a);
  }
  if (netns == NULL || netns[0] != '/') fatal("--netns <absolute path> is required");
  if (target == NULL || inet_pton(AF_INET, target, &target_addr) != 1) fatal("--target <IPv4 address> is required");
  if (nmaps == 0) fatal("nothing to publish (--map)");
  if (total > PF_MAX_LISTENERS) fatal("too many published ports (%zu, at most %d)", total, PF_MAX_LISTENERS);

  /* 1. Every host port, before anything else. */
  pf.listeners = calloc(total, sizeof(*pf.listeners));
  if (pf.listeners == NULL) fatal("out of memory");
  for (size_t i = 0; i < nmaps; i++) {
    for (long j = 0; j < maps[i].count; j++, k++) {
      struct pf_listener *l = &pf.listeners[k];
      l->h.kind = maps[i].proto == SOCK_STREAM ? PF_TCP_LISTENER : PF_UDP_LISTENER;
      l->proto = maps[i].proto;
      l->fd = bind_host(&maps[i], maps[i].host_port + j);
      l->target.sin_family = AF_INET;
      l->target.sin_addr = target_addr;
      l->target.sin_port = htons((uint16_t) (maps[i].ctr_port + j));
    }
  }
  pf.nlisteners = total;
  free(maps);

  /* 2. The container's side. */
  nsfd = open(netns, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) fatal("open `%s`: %s", netns, strerror(errno));
  if (setns(nsfd, CLONE_NEWNET) < 0) fatal("setns `%s`: %s", netns, strerror(errno));
  close(nsfd);
  if (chdir("/") < 0) fatal("chdir /: %s", strerror(errno));
  drop_privileges();

  pf.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (pf.epfd < 0) fatal("epoll_create1: %s", strerror(errno));
  pf.max_conns = conn_budget(total);
  for (size_t i = 0; i < total; i++) {
    struct pf_listener *l = &pf.listeners[i];
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    if (epoll_ctl(pf.epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0) fatal("epoll_ctl: %s", strerror(errno));
    l->armed = true;
  }
  if (ready_fd >= 0) {
    char c = 'x';
    if (write_all(ready_fd, &c, 1) < 0) fatal("write --ready-fd: %s", strerror(errno));
    close(ready_fd);
  }
  loop(&pf);
  return 0;
}
