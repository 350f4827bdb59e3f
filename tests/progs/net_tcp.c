// TCP over loopback: an echo server and its client in two processes, a megabyte each way,
// half-close, MSG_PEEK/MSG_WAITALL/MSG_DONTWAIT, ECONNREFUSED, resets (unread data, linger 0)
// and EPIPE/SIGPIPE, non-blocking connect with epoll and SO_ERROR, a listener with 100
// concurrent clients, IPv6 with a v4-mapped peer, EADDRINUSE, options and poll states.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

#define MB (1 << 20)

static struct sockaddr_in lo4(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int port_of(int fd) {
  struct sockaddr_in6 a;
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  return ntohs(a.sin6_port);
}

static int listener(int backlog) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = lo4(0);
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, backlog) < 0) return -1;
  return s;
}

static int dial(int port) {
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = lo4(port);
  if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) {
    int e = errno;
    close(c);
    errno = e;
    return -1;
  }
  return c;
}

static long read_full(int fd, char *buf, long n) {
  long got = 0;
  while (got < n) {
    long k = read(fd, buf + got, n - got);
    if (k <= 0) return k < 0 && got == 0 ? -1 : got;
    got += k;
  }
  return got;
}

static unsigned sum(const char *b, long n) {
  unsigned s = 0;
  for (long i = 0; i < n; i++) s = s * 31 + (unsigned char)b[i];
  return s;
}

static int sigpipes;
static void on_pipe(int sig) { (void)sig; sigpipes++; }

static void echo_server(void) {
  int l = listener(8);
  printf("server port ok %d\n", port_of(l) > 0);
  pid_t pid = fork();
  if (pid == 0) {
    int c = accept(l, NULL, NULL);
    static char buf[65536];
    long n, total = 0;
    // Echo until the client's FIN, then say goodbye on the half-open connection.
    while ((n = read(c, buf, sizeof buf)) > 0) {
      if (write(c, buf, n) != n) _exit(2);
      total += n;
    }
    char msg[64];
    int m = snprintf(msg, sizeof msg, "server read %ld, bye", total);
    write(c, msg, m);
    close(c);
    _exit(0);
  }
  int c = dial(port_of(l));
  show("connect", c >= 0 ? 0 : -1);
  struct sockaddr_in peer;
  socklen_t pl = sizeof peer;
  show("getpeername", getpeername(c, (struct sockaddr *)&peer, &pl));
  printf("peer %s port ok %d\n", inet_ntoa(peer.sin_addr), ntohs(peer.sin_port) == port_of(l));
  show("small write", write(c, "hello", 5));
  char b[16];
  show("peek", recv(c, b, 3, MSG_PEEK | MSG_WAITALL));
  show("waitall", recv(c, b, 5, MSG_WAITALL));
  printf("echo %.5s\n", b);
  // MSG_WAITALL with MSG_DONTWAIT: what is there, short of the length, not EAGAIN (and no
  // byte lost); then with nothing there, EAGAIN.
  show("small write", write(c, "abc", 3));
  struct pollfd pf = {.fd = c, .events = POLLIN};
  show("poll", poll(&pf, 1, 5000));
  memset(b, 0, sizeof b);
  show("waitall dontwait", recv(c, b, 8, MSG_WAITALL | MSG_DONTWAIT));
  printf("echo %.3s\n", b);
  show("waitall dontwait empty", recv(c, b, 8, MSG_WAITALL | MSG_DONTWAIT));
  // A megabyte, written and read back in pieces by a second process of ours.
  static char out[MB], in[MB];
  for (int i = 0; i < MB; i++) out[i] = (char)(i * 7 + i / 4096);
  pid_t w = fork();
  if (w == 0) {
    long done = 0;
    while (done < MB) {
      long k = write(c, out + done, MB - done > 100000 ? 100000 : MB - done);
      if (k <= 0) _exit(3);
      done += k;
    }
    _exit(0);
  }
  long got = read_full(c, in, MB);
  int st;
  waitpid(w, &st, 0);
  printf("echoed %ld bytes, same %d, writer status %d\n", got, sum(in, MB) == sum(out, MB),
         WEXITSTATUS(st));
  // sendmsg from three buffers, recvmsg with MSG_WAITALL into two: 300000 bytes each way.
  struct iovec vo[3] = {{out, 1000}, {out + 1000, 200000}, {out + 201000, 99000}};
  struct msghdr mo = {.msg_iov = vo, .msg_iovlen = 3};
  show("sendmsg", sendmsg(c, &mo, 0));
  memset(in, 0, 300000);
  struct iovec vi[2] = {{in, 123457}, {in + 123457, 300000 - 123457}};
  struct msghdr mi = {.msg_iov = vi, .msg_iovlen = 2};
  show("recvmsg waitall", recvmsg(c, &mi, MSG_WAITALL));
  printf("same %d, flags %d\n", sum(in, 300000) == sum(out, 300000), mi.msg_flags);
  show("shutdown wr", shutdown(c, SHUT_WR));
  show("write after shutdown", send(c, "x", 1, MSG_NOSIGNAL));
  long n = read(c, b, sizeof b - 1);
  char bye[64];
  memcpy(bye, b, n > 0 ? n : 0);
  long more = read(c, bye + n, sizeof bye - n - 1);
  if (more > 0) n += more;
  printf("after half-close: %.*s\n", (int)n, bye);
  show("eof", read(c, b, sizeof b));
  show("eof again", read(c, b, sizeof b));
  waitpid(pid, &st, 0);
  printf("server status %d\n", WEXITSTATUS(st));
  close(c);
  close(l);
}

// Waits (up to 10 s: only a bound on a hang) until fd has `events`, or with 0 an error or a
// hang-up: a loaded host may deliver loopback segments late, and the answers that follow
// depend on their having come.
static void until(int fd, short events) {
  struct pollfd p = {.fd = fd, .events = events};
  poll(&p, 1, 10000);
}

static void refused_and_resets(void) {
  int l = listener(4);
  int port = port_of(l);
  close(l);
  show("connect closed port", dial(port));

  // Close with unread data: the peer sees a reset, then EOF; writing then is EPIPE.
  l = listener(4);
  int c = dial(port_of(l));
  int a = accept(l, NULL, NULL);
  write(c, "unread", 6);
  until(a, POLLIN);  // unread at a: its close resets
  close(a);
  char b[16];
  show("read after reset", read(c, b, sizeof b));
  show("read after reset again", read(c, b, sizeof b));
  signal(SIGPIPE, on_pipe);
  show("write after reset", write(c, "x", 1));
  show("send nosignal after reset", send(c, "x", 1, MSG_NOSIGNAL));
  printf("sigpipes %d\n", sigpipes);
  close(c);

  // SO_LINGER of zero: close resets.
  c = dial(port_of(l));
  a = accept(l, NULL, NULL);
  struct linger lg = {1, 0};
  show("linger", setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
  close(c);
  until(a, 0);  // the reset has come
  struct pollfd p = {.fd = a, .events = POLLIN | POLLOUT | POLLRDHUP};
  poll(&p, 1, 1000);
  printf("after linger-0 close revents %#x\n", p.revents);
  show("read after linger reset", read(a, b, sizeof b));
  int err = 0;
  socklen_t el = sizeof err;
  getsockopt(a, SOL_SOCKET, SO_ERROR, &err, &el);
  printf("so_error %d\n", err);
  close(a);

  // Orderly close: EOF, then writes to the closed peer reset it, then EPIPE.
  c = dial(port_of(l));
  a = accept(l, NULL, NULL);
  close(a);
  usleep(20000);
  show("read eof", read(c, b, sizeof b));
  show("first write to closed peer", write(c, "x", 1));
  until(c, 0);  // the peer's reset has come
  show("second write", send(c, "x", 1, MSG_NOSIGNAL));
  close(c);
  close(l);
}

static void nonblocking(void) {
  int l = listener(4);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = lo4(port_of(l));
  int r = connect(c, (struct sockaddr *)&a, sizeof a);
  printf("nonblocking connect: %s\n", r == 0 ? "0" : errno == EINPROGRESS ? "EINPROGRESS" : strerror(errno));
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = c}, got;
  epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
  show("epoll out", epoll_wait(ep, &got, 1, 2000));
  printf("events %#x\n", got.events);
  int err = -1;
  socklen_t el = sizeof err;
  getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
  printf("so_error %d\n", err);
  show("connect again", connect(c, (struct sockaddr *)&a, sizeof a));
  char b[8];
  show("read nothing", read(c, b, sizeof b));
  int fl = fcntl(l, F_GETFL);
  fcntl(l, F_SETFL, fl | O_NONBLOCK);
  int s = accept(l, NULL, NULL);
  show("accept", s >= 0 ? 0 : -1);
  show("accept none", accept(l, NULL, NULL));
  ev.events = EPOLLIN;
  ev.data.fd = s;
  epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  show("epoll nothing", epoll_wait(ep, &got, 1, 0));
  write(c, "x", 1);
  // c is still writable: wait for s by name.
  epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL);
  show("epoll in", epoll_wait(ep, &got, 1, 2000));
  printf("in events %#x\n", got.events);
  // SO_RCVTIMEO: a blocking read gives up with EAGAIN; select sees the listener's queue.
  struct timeval tv = {0, 50000};
  show("rcvtimeo", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  read(s, b, 1);
  show("read with timeout", read(s, b, 1));
  struct timeval bad = {0, 2000000};
  show("rcvtimeo bad usec", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof bad));
  int c2 = socket(AF_INET, SOCK_STREAM, 0);
  connect(c2, (struct sockaddr *)&a, sizeof a);
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(l, &rd);
  struct timeval zero = {1, 0};
  show("select listener", select(l + 1, &rd, NULL, NULL, &zero));
  printf("listener readable %d\n", FD_ISSET(l, &rd) != 0);
  close(c2);
  close(s);
  close(c);

  // A non-blocking connect to a closed port fails through SO_ERROR.
  int port = port_of(l);
  close(l);
  c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  a = lo4(port);
  r = connect(c, (struct sockaddr *)&a, sizeof a);
  printf("nonblocking refused: %s\n", r == 0 ? "0" : errno == EINPROGRESS ? "EINPROGRESS" : strerror(errno));
  struct pollfd p = {.fd = c, .events = POLLOUT | POLLIN};
  poll(&p, 1, 2000);
  printf("refused revents %#x\n", p.revents);
  el = sizeof err;
  getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
  printf("so_error %s\n", strerror(err));
  close(c);
  close(ep);
}

static void many_clients(void) {
  enum { N = 100 };
  int l = listener(128);
  pid_t pid = fork();
  if (pid == 0) {
    int conns[N];
    for (int i = 0; i < N; i++) conns[i] = accept(l, NULL, NULL);
    for (int i = 0; i < N; i++) {
      char b[32];
      long n = read(conns[i], b, sizeof b);
      if (n > 0) write(conns[i], b, n);
      close(conns[i]);
    }
    _exit(0);
  }
  int cs[N], ok = 0;
  for (int i = 0; i < N; i++) {
    cs[i] = dial(port_of(l));
    char m[32];
    int k = snprintf(m, sizeof m, "client %d", i);
    write(cs[i], m, k);
  }
  for (int i = 0; i < N; i++) {
    char b[32], m[32];
    int k = snprintf(m, sizeof m, "client %d", i);
    long n = read_full(cs[i], b, k);
    if (n == k && memcmp(b, m, k) == 0) ok++;
    close(cs[i]);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("clients answered %d of %d, server status %d\n", ok, N, WEXITSTATUS(st));
  close(l);
}

static void ipv6_and_ports(void) {
  int l = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
  show("bind ::", bind(l, (struct sockaddr *)&a, sizeof a));
  show("listen", listen(l, 4));
  int port = port_of(l);
  int c6 = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 t = {.sin6_family = AF_INET6, .sin6_port = htons(port),
                           .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  show("connect ::1", connect(c6, (struct sockaddr *)&t, sizeof t));
  struct sockaddr_in6 p;
  socklen_t pl = sizeof p;
  int s = accept(l, (struct sockaddr *)&p, &pl);
  char txt[64];
  inet_ntop(AF_INET6, &p.sin6_addr, txt, sizeof txt);
  printf("accepted from %s len %d\n", txt, pl);
  write(c6, "v6", 2);
  char b[8];
  show("read v6", read(s, b, sizeof b));
  close(s);
  int c4 = dial(port);
  show("v4 client to dual-stack", c4 >= 0 ? 0 : -1);
  pl = sizeof p;
  s = accept(l, (struct sockaddr *)&p, &pl);
  inet_ntop(AF_INET6, &p.sin6_addr, txt, sizeof txt);
  printf("accepted from %s\n", txt);
  close(s);
  close(c4);
  close(c6);

  int d = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in same = lo4(port);
  show("bind over dual-stack listener", bind(d, (struct sockaddr *)&same, sizeof same));
  setsockopt(d, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  show("with SO_REUSEADDR", bind(d, (struct sockaddr *)&same, sizeof same));
  close(d);
  close(l);

  int fresh = socket(AF_INET, SOCK_STREAM, 0);
  struct pollfd pf = {.fd = fresh, .events = POLLIN | POLLOUT};
  poll(&pf, 1, 0);
  printf("fresh socket revents %#x\n", pf.revents);
  show("read unconnected", read(fresh, b, 1));
  show("getpeername unconnected", getpeername(fresh, (struct sockaddr *)&p, &pl));
  show("listen without bind", listen(fresh, -1));
  int v = -1;
  socklen_t vl = sizeof v;
  getsockopt(fresh, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl);
  printf("acceptconn %d\n", v);
  show("connect listener", connect(fresh, (struct sockaddr *)&same, sizeof same));
  show("nodelay", setsockopt(fresh, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
  vl = sizeof v;
  getsockopt(fresh, IPPROTO_TCP, TCP_NODELAY, &v, &vl);
  printf("nodelay %d\n", v);
  int idle = 30;
  show("keepidle", setsockopt(fresh, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle));
  idle = 0;
  show("keepidle 0", setsockopt(fresh, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle));
  vl = sizeof v;
  getsockopt(fresh, IPPROTO_TCP, TCP_KEEPIDLE, &v, &vl);
  printf("keepidle %d\n", v);
  show("keepalive", setsockopt(fresh, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
  show("short option", setsockopt(fresh, SOL_SOCKET, SO_KEEPALIVE, &one, 2));
  show("udp level on tcp", setsockopt(fresh, IPPROTO_UDP, 1, &one, sizeof one));
  // Congestion control by name (the host's default may be another, e.g. bbr: not printed).
  char ca[16] = {0};
  show("congestion reno", setsockopt(fresh, IPPROTO_TCP, TCP_CONGESTION, "reno", 4));
  socklen_t cl = sizeof ca;
  getsockopt(fresh, IPPROTO_TCP, TCP_CONGESTION, ca, &cl);
  printf("congestion %s len %u\n", ca, cl);
  show("congestion cubic", setsockopt(fresh, IPPROTO_TCP, TCP_CONGESTION, "cubic\0x", 8));
  memset(ca, 0, sizeof ca);
  cl = 4;
  getsockopt(fresh, IPPROTO_TCP, TCP_CONGESTION, ca, &cl);
  printf("congestion cut %s len %u\n", ca, cl);
  show("congestion unknown", setsockopt(fresh, IPPROTO_TCP, TCP_CONGESTION, "nosuch", 6));
  show("congestion empty", setsockopt(fresh, IPPROTO_TCP, TCP_CONGESTION, "", 0));
  close(fresh);
}

// TCP_INFO of a loopback connection before and after a megabyte crossed it: what every stack
// reports alike (exact MSS and window scales differ with TCP timestamps and buffer sizes, and
// what is unacknowledged depends on when the last ACK is handled).
static void tcp_info_check(void) {
  int l = listener(1);
  int c = dial(port_of(l));
  int s = accept(l, NULL, NULL);
  for (int round = 0; round < 2; round++) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    show("tcp_info", getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &len));
    printf("tcp_info state %d ca_state %d sack+wscale %d cwnd>=10 %d pmtu %u retrans %u "
           "total_retrans %u mss>1000 %d len>=104 %d\n",
           ti.tcpi_state, ti.tcpi_ca_state, ti.tcpi_options & 6, ti.tcpi_snd_cwnd >= 10,
           ti.tcpi_pmtu, ti.tcpi_retrans, ti.tcpi_total_retrans, ti.tcpi_snd_mss > 1000,
           len >= 104);
    // Timestamps are on as net.ipv4.tcp_timestamps says (1 by default; a sandbox without the
    // file has them on, as gVisor and Linux by default), whatever a runner's host set.
    int want = 1;
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_timestamps", "r");
    if (f) {
      if (fscanf(f, "%d", &want) != 1) want = 1;
      fclose(f);
    }
    printf("tcp_info timestamps as configured %d\n", !!(ti.tcpi_options & TCPI_OPT_TIMESTAMPS) == !!want);
    if (round == 0) {
      static char buf[MB];
      memset(buf, 'i', sizeof buf);
      long sent = 0, got = 0;
      while (got < MB) {
        if (sent < MB) {
          ssize_t n = send(c, buf + sent, MB - sent, MSG_DONTWAIT);
          if (n > 0) sent += n;
        }
        ssize_t n = recv(s, buf, MB - got, MSG_DONTWAIT);
        if (n > 0) got += n;
      }
    }
  }
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  show("tcp_info listener", getsockopt(l, IPPROTO_TCP, TCP_INFO, &ti, &len));
  printf("tcp_info listener state %d\n", ti.tcpi_state);
  close(c);
  close(s);
  close(l);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  tcp_info_check();
  echo_server();
  refused_and_resets();
  nonblocking();
  many_clients();
  ipv6_and_ports();
  return 0;
}
