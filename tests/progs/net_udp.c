// UDP over loopback: bind (port 0), sendto/recvfrom between two processes, MSG_PEEK,
// MSG_TRUNC, MSG_DONTWAIT, connect and ECONNREFUSED from a closed port, SO_REUSEADDR and
// EADDRINUSE, poll readiness, IPv6 and v4-mapped addresses, ENETUNREACH.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

static struct sockaddr_in lo4(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int port_of(int fd) {
  struct sockaddr_storage a;
  socklen_t len = sizeof a;
  if (getsockname(fd, (struct sockaddr *)&a, &len) < 0) return -1;
  return ntohs(((struct sockaddr_in *)&a)->sin_port);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int a = socket(AF_INET, SOCK_DGRAM, 0);
  int b = socket(AF_INET, SOCK_DGRAM, 0);
  show("socket", a >= 0 && b >= 0);
  struct sockaddr_in sa = lo4(0);
  show("bind a", bind(a, (struct sockaddr *)&sa, sizeof sa));
  show("bind twice", bind(a, (struct sockaddr *)&sa, sizeof sa));
  int pa = port_of(a);
  show("ephemeral port in range", pa >= 32768 && pa <= 60999);
  struct sockaddr_in short_a = lo4(0);
  show("bind short", bind(b, (struct sockaddr *)&short_a, 8));
  struct sockaddr_in6 wrong = {.sin6_family = AF_INET6};
  show("bind wrong family", bind(b, (struct sockaddr *)&wrong, sizeof(struct sockaddr_in)));
  struct sockaddr_in other = lo4(0);
  other.sin_addr.s_addr = inet_addr("10.9.8.7");
  show("bind non-local", bind(b, (struct sockaddr *)&other, sizeof other));

  // b -> a, a answers to wherever it came from (autobind of b on send).
  struct sockaddr_in to = lo4(pa);
  show("sendto", sendto(b, "ping", 4, 0, (struct sockaddr *)&to, sizeof to));
  struct pollfd p = {.fd = a, .events = POLLIN | POLLOUT};
  show("poll", poll(&p, 1, 1000));
  printf("revents %#x\n", p.revents);
  char buf[64];
  struct sockaddr_in from;
  socklen_t flen = sizeof from;
  show("peek", recvfrom(a, buf, 2, MSG_PEEK, (struct sockaddr *)&from, &flen));
  show("trunc", recvfrom(a, buf, 2, MSG_PEEK | MSG_TRUNC, NULL, NULL));
  flen = sizeof from;
  long n = recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
  show("recvfrom", n);
  printf("got %.*s from %s, port matches %d, len %d\n", (int)n, buf, inet_ntoa(from.sin_addr),
         ntohs(from.sin_port) == port_of(b), flen);
  show("empty dontwait", recv(a, buf, sizeof buf, MSG_DONTWAIT));

  // Two processes: the child echoes one datagram back in upper case.
  pid_t pid = fork();
  if (pid == 0) {
    struct sockaddr_in f;
    socklen_t fl = sizeof f;
    char c[64];
    long k = recvfrom(a, c, sizeof c, 0, (struct sockaddr *)&f, &fl);
    for (long i = 0; i < k; i++) c[i] = c[i] >= 'a' && c[i] <= 'z' ? c[i] - 32 : c[i];
    sendto(a, c, k, 0, (struct sockaddr *)&f, fl);
    _exit(0);
  }
  show("send to child", sendto(b, "hello", 5, 0, (struct sockaddr *)&to, sizeof to));
  n = recv(b, buf, sizeof buf, 0);
  printf("child answered %.*s\n", (int)n, buf);
  int st;
  waitpid(pid, &st, 0);

  // A big datagram, and one too big for loopback.
  static char big[70000];
  memset(big, 'x', sizeof big);
  show("send 60000", sendto(b, big, 60000, 0, (struct sockaddr *)&to, sizeof to));
  show("recv 60000", recv(a, big, sizeof big, 0));
  show("send 70000", sendto(b, big, 70000, 0, (struct sockaddr *)&to, sizeof to));

  // Connected to a port nobody holds: the ICMP error comes back as ECONNREFUSED.
  int c = socket(AF_INET, SOCK_DGRAM, 0);
  int tmp = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in any = lo4(0);
  bind(tmp, (struct sockaddr *)&any, sizeof any);
  struct sockaddr_in closed = lo4(port_of(tmp));
  close(tmp);
  show("connect", connect(c, (struct sockaddr *)&closed, sizeof closed));
  show("getpeername", getpeername(c, (struct sockaddr *)&from, &flen));
  show("send to closed", send(c, "x", 1, 0));
  // The ICMP error has come (POLLERR) before the receives below, however late (10 s bounds a
  // hang).
  struct pollfd perr = {.fd = c, .events = 0};
  poll(&perr, 1, 10000);
  show("recv after refusal", recv(c, buf, sizeof buf, MSG_DONTWAIT));
  show("recv again", recv(c, buf, sizeof buf, MSG_DONTWAIT));
  struct sockaddr unspec = {.sa_family = AF_UNSPEC};
  show("disconnect", connect(c, &unspec, sizeof unspec));
  show("getpeername after", getpeername(c, (struct sockaddr *)&from, &flen));
  show("send unconnected", send(c, "x", 1, 0));
  struct sockaddr_in far = lo4(9);
  far.sin_addr.s_addr = inet_addr("10.9.8.7");
  show("sendto unreachable", sendto(c, "x", 1, 0, (struct sockaddr *)&far, sizeof far));

  // Ports: a second bind is EADDRINUSE, unless both say SO_REUSEADDR.
  int d = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in same = lo4(pa);
  show("bind in use", bind(d, (struct sockaddr *)&same, sizeof same));
  int e1 = socket(AF_INET, SOCK_DGRAM, 0), e2 = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
  setsockopt(e1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(e2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in z = lo4(0);
  show("reuse bind 1", bind(e1, (struct sockaddr *)&z, sizeof z));
  struct sockaddr_in z2 = lo4(port_of(e1));
  show("reuse bind 2", bind(e2, (struct sockaddr *)&z2, sizeof z2));

  // IPv6: ::1 to ::1, and a dual-stack socket that hears IPv4 as v4-mapped.
  int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
  show("bind6 any", bind(s6, (struct sockaddr *)&a6, sizeof a6));
  socklen_t l6 = sizeof a6;
  getsockname(s6, (struct sockaddr *)&a6, &l6);
  int c6 = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 t6 = {.sin6_family = AF_INET6, .sin6_port = a6.sin6_port,
                            .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  show("sendto ::1", sendto(c6, "six", 3, 0, (struct sockaddr *)&t6, sizeof t6));
  struct sockaddr_in6 f6;
  l6 = sizeof f6;
  n = recvfrom(s6, buf, sizeof buf, 0, (struct sockaddr *)&f6, &l6);
  char txt[64];
  inet_ntop(AF_INET6, &f6.sin6_addr, txt, sizeof txt);
  printf("v6 got %.*s from %s len %d\n", (int)n, buf, txt, l6);
  struct sockaddr_in t4 = lo4(ntohs(a6.sin6_port));
  show("v4 to dual-stack", sendto(b, "four", 4, 0, (struct sockaddr *)&t4, sizeof t4));
  l6 = sizeof f6;
  n = recvfrom(s6, buf, sizeof buf, 0, (struct sockaddr *)&f6, &l6);
  inet_ntop(AF_INET6, &f6.sin6_addr, txt, sizeof txt);
  printf("dual got %.*s from %s\n", (int)n, buf, txt);
  int only = socket(AF_INET6, SOCK_DGRAM, 0);
  show("v6only", setsockopt(only, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
  struct sockaddr_in6 m6 = {.sin6_family = AF_INET6};
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &m6.sin6_addr);
  show("v6only bind mapped", bind(only, (struct sockaddr *)&m6, sizeof m6));
  int got = 0;
  socklen_t gl = sizeof got;
  getsockopt(only, IPPROTO_IPV6, IPV6_V6ONLY, &got, &gl);
  printf("v6only reads %d\n", got);
  show("socketpair inet", socketpair(AF_INET, SOCK_DGRAM, 0, (int[2]){0, 0}));
  return 0;
}
