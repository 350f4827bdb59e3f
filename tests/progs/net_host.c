// --network=host: what the host sockets the Sentry drives must answer as the host's own do
// (tests/net_host_test.ts runs this natively and in the sandbox and compares the output).
// Sockets of other protocols, addresses of the wrong length or family, SO_LINGER (its value,
// and a lingering close that must not stall the other processes), a socket closed while
// another thread waits in recvfrom on it, and the control messages that pass on send and
// receive (ports below 1024: net_bind_service.c).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <poll.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static void protocols(void) {
  show("socket(AF_INET, SOCK_STREAM, IPPROTO_UDP)", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
  show("socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP)", socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
  show("socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMPV6)", socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMPV6));
  show("socket(AF_INET6, SOCK_STREAM, IPPROTO_UDP)", socket(AF_INET6, SOCK_STREAM, IPPROTO_UDP));
  show("socket(AF_INET, SOCK_STREAM, 300)", socket(AF_INET, SOCK_STREAM, 300));
  show("socket(AF_INET, SOCK_STREAM, -1)", socket(AF_INET, SOCK_STREAM, -1));
  int tcp = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  int udp6 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
  printf("socket(AF_INET, SOCK_STREAM, IPPROTO_TCP): %s\n", tcp >= 0 ? "ok" : strerror(errno));
  printf("socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP): %s\n", udp6 >= 0 ? "ok" : strerror(errno));
  close(tcp);
  close(udp6);
}

static void addresses(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = loopback(0);
  show("bind IPv4, 8 bytes", bind(s, (struct sockaddr *)&a, 8));
  show("bind IPv4, 200 bytes", bind(s, (struct sockaddr *)&a, 200));
  a.sin_family = AF_INET6;
  show("bind IPv4 socket, AF_INET6 address", bind(s, (struct sockaddr *)&a, sizeof a));
  struct sockaddr_in6 b = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  show("connect IPv4 socket, AF_INET6 address", connect(s, (struct sockaddr *)&b, sizeof b));
  show("sendto IPv4 socket, 4 bytes of address", sendto(s, "x", 1, 0, (struct sockaddr *)&a, 4));
  {
    // sendmsg cuts a longer msg_namelen to sockaddr_storage's size; a negative one is EINVAL.
    struct sockaddr_storage big = {0};
    struct sockaddr_in to = loopback(9);
    memcpy(&big, &to, sizeof to);
    struct iovec iov = {"x", 1};
    struct msghdr m = {.msg_name = &big, .msg_namelen = 200, .msg_iov = &iov, .msg_iovlen = 1};
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    show("sendmsg, msg_namelen 200", sendmsg(u, &m, 0));
    m.msg_namelen = -1;
    show("sendmsg, msg_namelen -1", sendmsg(u, &m, 0));
    close(u);
  }
  close(s);
  int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
  show("bind IPv6, 20 bytes", bind(s6, (struct sockaddr *)&b, 20));
  show("bind IPv6, 24 bytes", bind(s6, (struct sockaddr *)&b, 24));
  close(s6);
}

static void show_linger(int s, const char *when) {
  struct linger l = {-1, -1};
  socklen_t len = sizeof l;
  int r = getsockopt(s, SOL_SOCKET, SO_LINGER, &l, &len);
  printf("SO_LINGER %s: r %d len %u onoff %d linger %d\n", when, r, len, l.l_onoff, l.l_linger);
}

// A child whose close(2) lingers (its peer has not read what it sent) must not stall the
// other processes: the parent drains the connection meanwhile, and the close returns then.
static void linger(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  show_linger(s, "at first");
  struct linger on = {1, 60}, off = {0, 5};
  show("setsockopt SO_LINGER {1, 60}", setsockopt(s, SOL_SOCKET, SO_LINGER, &on, sizeof on));
  show_linger(s, "after {1, 60}");
  show("setsockopt SO_LINGER {0, 5}", setsockopt(s, SOL_SOCKET, SO_LINGER, &off, sizeof off));
  show_linger(s, "after {0, 5}");
  show("setsockopt SO_LINGER, 4 bytes", setsockopt(s, SOL_SOCKET, SO_LINGER, &on, 4));
  close(s);

  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(0);
  socklen_t alen = sizeof a;
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
      getsockname(l, (struct sockaddr *)&a, &alen)) {
    perror("listener");
    exit(1);
  }
  int p[2];
  if (pipe(p)) exit(1);
  pid_t pid = fork();
  if (pid == 0) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a)) _exit(2);
    if (setsockopt(c, SOL_SOCKET, SO_LINGER, &on, sizeof on)) _exit(3);
    fcntl(c, F_SETFL, O_NONBLOCK);
    static char chunk[65536];
    long sent = 0;
    for (;;) {
      ssize_t n = send(c, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      sent += n;
    }
    // What the parent must read: written before the close, which waits for the parent.
    if (write(p[1], &sent, sizeof sent) != sizeof sent) _exit(4);
    double t0 = now();
    close(c);
    // The parent drains at once: the close lingers well under its 60 s, unless nothing else
    // could run meanwhile.
    _exit(now() - t0 < 30 ? 0 : 5);
  }
  int c = accept(l, NULL, NULL);
  long sent = 0, got = 0;
  if (read(p[0], &sent, sizeof sent) != sizeof sent) exit(1);
  static char buf[65536];
  for (ssize_t n; (n = read(c, buf, sizeof buf)) > 0;) got += n;
  int status;
  waitpid(pid, &status, 0);
  printf("lingering close: data all read %s, the child's close returned in time %s\n",
         sent > 0 && got == sent ? "yes" : "no",
         WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no");
  close(c);
  close(l);
}

struct waiter {
  int fd;
  int started;
  long r;
  int err;
  char buf[16];
};

static void *wait_in_recv(void *arg) {
  struct waiter *w = arg;
  __atomic_store_n(&w->started, 1, __ATOMIC_SEQ_CST);
  w->r = recvfrom(w->fd, w->buf, sizeof w->buf - 1, 0, NULL, NULL);
  w->err = errno;
  return NULL;
}

// close(2) of a socket another thread waits on in recvfrom leaves that wait on the same
// socket (the thread holds the file): a datagram to its port still reaches it.
static void close_while_waiting(void) {
  int sender = socket(AF_INET, SOCK_DGRAM, 0);
  for (int attempt = 0; attempt < 6; attempt++) {
    struct waiter w = {.fd = socket(AF_INET, SOCK_DGRAM, 0)};
    struct sockaddr_in a = loopback(0);
    socklen_t alen = sizeof a;
    if (bind(w.fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(w.fd, (struct sockaddr *)&a, &alen)) {
      perror("bind");
      exit(1);
    }
    pthread_t th;
    pthread_create(&th, NULL, wait_in_recv, &w);
    while (!__atomic_load_n(&w.started, __ATOMIC_SEQ_CST)) usleep(1000);
    // The thread is in recvfrom by then, or it finds the descriptor closed: tried again,
    // waiting longer, so that a loaded machine does not change the answer.
    usleep(50000 << attempt);
    close(w.fd);
    sendto(sender, "after close", 11, 0, (struct sockaddr *)&a, sizeof a);
    pthread_join(th, NULL);
    if (w.r < 0 && w.err == EBADF) continue;
    w.buf[w.r > 0 ? w.r : 0] = 0;
    printf("recvfrom on a socket closed meanwhile: %ld \"%s\"\n", w.r, w.buf);
    close(sender);
    return;
  }
  printf("recvfrom on a socket closed meanwhile: EBADF each time\n");
  close(sender);
}

// Prints the control messages of a receive: level, type, length, and the value where it is
// the same in every run (a timestamp is shown as close to now or not).
static void show_cmsgs(const char *what, struct msghdr *m, long r) {
  printf("%s: %ld bytes, flags %#x, controllen %zu\n", what, r, m->msg_flags, m->msg_controllen);
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    printf("  cmsg level %d type %d len %zu", c->cmsg_level, c->cmsg_type, c->cmsg_len);
    size_t n = c->cmsg_len - CMSG_LEN(0);
    unsigned char *d = CMSG_DATA(c);
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMP && n < sizeof(struct timeval)) {
      printf(": cut");
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMP) {
      struct timeval tv, now_tv;
      memcpy(&tv, d, sizeof tv);
      gettimeofday(&now_tv, NULL);
      printf(": within a minute of now %s", labs(now_tv.tv_sec - tv.tv_sec) < 60 ? "yes" : "no");
    } else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_PKTINFO && n >= sizeof(struct in_pktinfo)) {
      struct in_pktinfo pi;
      memcpy(&pi, d, sizeof pi);
      char a[32], b[32];
      inet_ntop(AF_INET, &pi.ipi_spec_dst, a, sizeof a);
      inet_ntop(AF_INET, &pi.ipi_addr, b, sizeof b);
      printf(": ifindex %d spec_dst %s addr %s", pi.ipi_ifindex, a, b);
    } else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_PKTINFO && n >= sizeof(struct in6_pktinfo)) {
      struct in6_pktinfo pi;
      memcpy(&pi, d, sizeof pi);
      char a[64];
      inet_ntop(AF_INET6, &pi.ipi6_addr, a, sizeof a);
      printf(": ifindex %d addr %s", pi.ipi6_ifindex, a);
    } else if (n == 1) {
      printf(": %d", d[0]);
    } else if (n >= sizeof(int)) {
      int v;
      memcpy(&v, d, sizeof v);
      printf(": %d", v);
    }
    printf("\n");
  }
}

static long send_with(int s, void *to, socklen_t tolen, int level, int type, const void *val,
                      size_t len) {
  char ctl[CMSG_SPACE(64)] = {0};
  struct iovec iov = {"datagram", 8};
  struct msghdr m = {.msg_name = to, .msg_namelen = tolen, .msg_iov = &iov, .msg_iovlen = 1};
  if (len > 0) {
    m.msg_control = ctl;
    m.msg_controllen = CMSG_SPACE(len);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(c), val, len);
  }
  return sendmsg(s, &m, 0);
}

// Receives one datagram (or, on a stream, the two sends of 8 bytes) with `space` bytes of room
// for control messages.
static void recv_with(const char *what, int s, size_t space) {
  char buf[64];
  char ctl[512] __attribute__((aligned(8)));
  int type;
  socklen_t tl = sizeof type;
  getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &tl);
  struct iovec iov = {buf, type == SOCK_STREAM ? 16 : sizeof buf};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                     .msg_controllen = space};
  show_cmsgs(what, &m, recvmsg(s, &m, type == SOCK_STREAM ? MSG_WAITALL : 0));
}

// A datagram to a closed port comes back as an ICMP error on the error queue (IP_RECVERR,
// IPV6_RECVERR): the original bytes, the extended error and the offender's address.
static void error_queue(int family) {
  int one = 1;
  int s = socket(family, SOCK_DGRAM, 0);
  struct sockaddr_storage to = {0};
  socklen_t tolen;
  // A port just bound and closed again: nothing listens there.
  int p = socket(family, SOCK_DGRAM, 0);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&to;
    *a = loopback(0);
    tolen = sizeof *a;
    setsockopt(s, SOL_IP, IP_RECVERR, &one, sizeof one);
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&to;
    a->sin6_family = AF_INET6, a->sin6_addr = in6addr_loopback;
    tolen = sizeof *a;
    setsockopt(s, SOL_IPV6, IPV6_RECVERR, &one, sizeof one);
  }
  bind(p, (struct sockaddr *)&to, tolen);
  getsockname(p, (struct sockaddr *)&to, &tolen);
  close(p);
  const char *v = family == AF_INET ? "IPv4" : "IPv6";
  char what[96];
  char buf[64], ctl[512] __attribute__((aligned(8)));
  struct iovec iov = {buf, sizeof buf};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                     .msg_controllen = sizeof ctl};
  snprintf(what, sizeof what, "%s error queue, empty", v);
  show(what, recvmsg(s, &m, MSG_ERRQUEUE));
  sendto(s, "probe", 5, 0, (struct sockaddr *)&to, tolen);
  struct pollfd pfd = {s, 0, 0};
  poll(&pfd, 1, 10000);
  printf("%s poll after the error: %#x\n", v, pfd.revents);
  long r = recvmsg(s, &m, MSG_ERRQUEUE);
  printf("%s error queue: %ld bytes (\"%.*s\"), flags %#x\n", v, r, r > 0 ? (int)r : 0, buf,
         m.msg_flags);
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    struct sock_extended_err ee;
    memcpy(&ee, CMSG_DATA(c), sizeof ee);
    struct sockaddr_storage off;
    memcpy(&off, CMSG_DATA(c) + sizeof ee, sizeof off);
    char a[64] = "";
    if (off.ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)&off)->sin_addr, a, sizeof a);
    if (off.ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&off)->sin6_addr, a, sizeof a);
    printf("  cmsg level %d type %d len %zu: errno %s origin %d type %d code %d offender %s\n",
           c->cmsg_level, c->cmsg_type, c->cmsg_len, strerror(ee.ee_errno), ee.ee_origin,
           ee.ee_type, ee.ee_code, a);
  }
  close(s);
}

static void control_messages(void) {
  int one = 1;
  int r4 = socket(AF_INET, SOCK_DGRAM, 0), s4 = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = loopback(0);
  socklen_t alen = sizeof a;
  bind(r4, (struct sockaddr *)&a, sizeof a);
  getsockname(r4, (struct sockaddr *)&a, &alen);
  setsockopt(r4, SOL_IP, IP_PKTINFO, &one, sizeof one);
  setsockopt(r4, SOL_IP, IP_RECVTOS, &one, sizeof one);
  setsockopt(r4, SOL_IP, IP_RECVTTL, &one, sizeof one);
  setsockopt(r4, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof one);
  int ttl = 7, tos = 0x28;
  show("sendmsg IP_TTL 7", send_with(s4, &a, sizeof a, SOL_IP, IP_TTL, &ttl, sizeof ttl));
  recv_with("recvmsg IPv4", r4, 512);
  show("sendmsg IP_TOS 0x28", send_with(s4, &a, sizeof a, SOL_IP, IP_TOS, &tos, sizeof tos));
  recv_with("recvmsg IPv4, room for one message", r4, CMSG_SPACE(sizeof(int)));
  show("sendmsg", send_with(s4, &a, sizeof a, 0, 0, NULL, 0));
  recv_with("recvmsg IPv4, room for less than a header", r4, 8);
  int fds[1] = {1};
  show("sendmsg SCM_RIGHTS", send_with(s4, &a, sizeof a, SOL_SOCKET, SCM_RIGHTS, fds, sizeof fds));
  show("sendmsg SOL_IP type 99", send_with(s4, &a, sizeof a, SOL_IP, 99, &ttl, sizeof ttl));
  show("sendmsg level 0x1234", send_with(s4, &a, sizeof a, 0x1234, 1, &ttl, sizeof ttl));
  recv_with("recvmsg IPv4 after level 0x1234", r4, 512);
  {
    char ctl[CMSG_SPACE(4)] = {0};
    struct iovec iov = {"x", 1};
    struct msghdr m = {.msg_name = &a, .msg_namelen = sizeof a, .msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = ctl, .msg_controllen = sizeof ctl};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_IP, c->cmsg_type = IP_TTL, c->cmsg_len = 8;
    show("sendmsg cmsg_len shorter than its header", sendmsg(s4, &m, 0));
    c->cmsg_len = 4096;
    show("sendmsg cmsg_len past the buffer", sendmsg(s4, &m, 0));
  }
  close(r4);
  close(s4);

  int r6 = socket(AF_INET6, SOCK_DGRAM, 0), s6 = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 b = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  socklen_t blen = sizeof b;
  bind(r6, (struct sockaddr *)&b, sizeof b);
  getsockname(r6, (struct sockaddr *)&b, &blen);
  setsockopt(r6, SOL_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  setsockopt(r6, SOL_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one);
  setsockopt(r6, SOL_IPV6, IPV6_RECVTCLASS, &one, sizeof one);
  int hops = 9, tclass = 0x20;
  show("sendmsg IPV6_HOPLIMIT 9", send_with(s6, &b, sizeof b, SOL_IPV6, IPV6_HOPLIMIT, &hops, sizeof hops));
  recv_with("recvmsg IPv6", r6, 512);
  show("sendmsg IPV6_TCLASS 0x20", send_with(s6, &b, sizeof b, SOL_IPV6, IPV6_TCLASS, &tclass, sizeof tclass));
  recv_with("recvmsg IPv6", r6, 512);
  close(r6);
  close(s6);

  // TCP: sendmsg takes SOL_SOCKET messages only and ignores the others.
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in t = loopback(0);
  socklen_t tlen = sizeof t;
  bind(l, (struct sockaddr *)&t, sizeof t);
  listen(l, 1);
  getsockname(l, (struct sockaddr *)&t, &tlen);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  connect(c, (struct sockaddr *)&t, sizeof t);
  int acc = accept(l, NULL, NULL);
  show("TCP sendmsg IP_TTL", send_with(c, NULL, 0, SOL_IP, IP_TTL, &ttl, sizeof ttl));
  show("TCP sendmsg SCM_RIGHTS", send_with(c, NULL, 0, SOL_SOCKET, SCM_RIGHTS, fds, sizeof fds));
  recv_with("TCP recvmsg", acc, 512);
  close(acc);
  close(c);
  close(l);
}

// accept(2) whose address pointer is bad fails with EFAULT and leaves no descriptor behind
// (the connection it took is lost, as on Linux).
static void accept_bad_address(void) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(0);
  socklen_t alen = sizeof a;
  bind(l, (struct sockaddr *)&a, sizeof a);
  listen(l, 1);
  getsockname(l, (struct sockaddr *)&a, &alen);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  connect(c, (struct sockaddr *)&a, sizeof a);
  int before = dup(0);
  close(before);
  socklen_t len = sizeof a;
  show("accept to a bad address", accept(l, (struct sockaddr *)8, &len));
  int after = dup(0);
  close(after);
  printf("accept to a bad address left a descriptor: %s\n", after == before ? "no" : "yes");
  fcntl(l, F_SETFL, O_NONBLOCK);
  show("accept after it", accept(l, NULL, NULL));
  close(c);
  close(l);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  protocols();
  addresses();
  linger();
  close_while_waiting();
  control_messages();
  error_queue(AF_INET);
  error_queue(AF_INET6);
  accept_bad_address();
  return 0;
}
