// UDP-Lite (IPPROTO_UDPLITE) over loopback, IPv4 and IPv6: sendto/recvfrom, connected
// send/recv, SO_PROTOCOL, and a UDP socket on the same port number as a separate endpoint
// (each protocol has its own ports), as CPython's test_socket UDPLITE tests use it.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

static socklen_t lo(int family, struct sockaddr_storage *ss, int port) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof *a;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  a->sin6_addr = in6addr_loopback;
  return sizeof *a;
}

static int port_of(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &len);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void round(int family, const char *name) {
  struct sockaddr_storage a;
  char buf[256];
  int srv = socket(family, SOCK_DGRAM, IPPROTO_UDPLITE);
  int cli = socket(family, SOCK_DGRAM, IPPROTO_UDPLITE);
  if (srv < 0 || cli < 0) {
    printf("%s: socket: %s\n", name, strerror(errno));
    return;
  }
  int proto = 0;
  socklen_t plen = sizeof proto;
  getsockopt(srv, SOL_SOCKET, SO_PROTOCOL, &proto, &plen);
  printf("%s: SO_PROTOCOL %d\n", name, proto);
  socklen_t alen = lo(family, &a, 0);
  show("bind", bind(srv, (struct sockaddr *)&a, alen));
  int port = port_of(srv);
  alen = lo(family, &a, port);
  show("sendto", sendto(cli, "lite datagram", 13, 0, (struct sockaddr *)&a, alen));
  struct sockaddr_storage from;
  socklen_t flen = sizeof from;
  long n = recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
  printf("%s: recvfrom %ld \"%.*s\", from the sender's port %s\n", name, n, (int)(n > 0 ? n : 0),
         buf, ntohs(((struct sockaddr_in *)&from)->sin_port) == port_of(cli) ? "yes" : "no");
  show("connect", connect(cli, (struct sockaddr *)&a, alen));
  show("send", send(cli, "second", 6, 0));
  n = recv(srv, buf, sizeof buf, 0);
  printf("%s: recv %ld \"%.*s\"\n", name, n, (int)(n > 0 ? n : 0), buf);
  // A UDP socket on the same port number: its own endpoint; UDP-Lite's gets none of its data.
  int udp = socket(family, SOCK_DGRAM, 0);
  struct sockaddr_storage u;
  socklen_t ulen = lo(family, &u, port);
  show("bind udp on the same port", bind(udp, (struct sockaddr *)&u, ulen));
  show("udp sendto", sendto(udp, "plain", 5, 0, (struct sockaddr *)&u, ulen));
  n = recv(udp, buf, sizeof buf, 0);
  printf("%s: udp recv %ld\n", name, n);
  n = recv(srv, buf, sizeof buf, MSG_DONTWAIT);
  printf("%s: lite recv after udp: %s\n", name, n < 0 ? strerror(errno) : "data");
  close(udp);
  close(cli);
  close(srv);
}

int main(void) {
  round(AF_INET, "ipv4");
  round(AF_INET6, "ipv6");
  return 0;
}
