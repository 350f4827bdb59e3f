// Hostile arguments to the socket calls of AF_INET/AF_INET6/AF_NETLINK sockets: lengths
// negative and huge, bad pointers and families, odd option sizes, extreme backlogs. Each
// must fail as on Linux and leave the socket usable.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "probe.h"

#define BAD ((void *)8)

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  show("bad type", socket(AF_INET, 77, 0));
  show("bad protocol", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
  show("bad flags", socket(AF_INET, SOCK_STREAM | 0x100000, 0));
  show("family 255", socket(255, SOCK_STREAM, 0));
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  show("bind negative len", syscall(SYS_bind, s, &a, -1));
  show("bind huge len", syscall(SYS_bind, s, &a, 1 << 30));
  show("bind bad pointer", bind(s, BAD, sizeof a));
  show("bind null", bind(s, NULL, sizeof a));
  show("listen INT_MIN", listen(s, -2147483647 - 1));
  show("listen again huge", listen(s, 2147483647));
  socklen_t len = -1;
  show("getsockname negative len", getsockname(s, (struct sockaddr *)&a, &len));
  show("getsockname bad len pointer", getsockname(s, (struct sockaddr *)&a, BAD));
  len = 2;
  show("getsockname short", getsockname(s, (struct sockaddr *)&a, &len));
  printf("short len now %d\n", len);
  fcntl(s, F_SETFL, O_NONBLOCK);
  show("accept bad addr", syscall(SYS_accept4, s, BAD, BAD, SOCK_NONBLOCK));
  show("accept bad flags", accept4(s, NULL, NULL, 0x7777));
  int v = 1;
  show("setsockopt negative len", syscall(SYS_setsockopt, s, SOL_SOCKET, SO_REUSEADDR, &v, -1));
  show("setsockopt huge len", syscall(SYS_setsockopt, s, SOL_SOCKET, SO_REUSEADDR, &v, 1 << 30));
  show("setsockopt bad pointer", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, BAD, 4));
  show("setsockopt bad level", setsockopt(s, 12345, 1, &v, 4));
  show("setsockopt bad name", setsockopt(s, SOL_SOCKET, 12345, &v, 4));
  len = -5;
  show("getsockopt negative len", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len));
  len = 1;
  v = 0;
  show("getsockopt 1 byte", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len));
  printf("type byte %d len %d\n", v, len);
  show("getsockopt bad value pointer", getsockopt(s, SOL_SOCKET, SO_TYPE, BAD, &len));
  int big = 1 << 30;
  show("huge SO_RCVBUF", setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big));
  int neg = -1;
  show("negative SO_SNDBUF", setsockopt(s, SOL_SOCKET, SO_SNDBUF, &neg, sizeof neg));
  show("TCP_MAXSEG 1", setsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &(int){1}, 4));
  show("IP_TTL 0", setsockopt(s, IPPROTO_IP, IP_TTL, &(int){0}, 4));
  show("IP_TTL 256", setsockopt(s, IPPROTO_IP, IP_TTL, &(int){256}, 4));
  show("IP_TTL one byte", setsockopt(s, IPPROTO_IP, IP_TTL, "\x05", 1));
  show("IPV6 level on IPv4", setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, 4));

  int u = socket(AF_INET, SOCK_DGRAM, 0);
  show("sendto bad buffer, port 0", sendto(u, BAD, 10, 0, (struct sockaddr *)&a, sizeof a));
  struct sockaddr_in to9 = a;
  to9.sin_port = htons(9);
  show("sendto bad buffer", sendto(u, BAD, 10, 0, (struct sockaddr *)&to9, sizeof to9));
  show("sendto huge len", sendto(u, "x", (size_t)-1, 0, (struct sockaddr *)&a, sizeof a));
  show("sendto bad address", sendto(u, "x", 1, 0, BAD, sizeof a));
  show("sendto short address", sendto(u, "x", 1, 0, (struct sockaddr *)&a, 4));
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
  show("sendto v6 address on v4", sendto(u, "x", 1, 0, (struct sockaddr *)&a6, sizeof a6));
  show("sendto port 0", sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
  struct msghdr m = {.msg_iov = BAD, .msg_iovlen = 1};
  show("sendmsg bad iov", sendmsg(u, &m, 0));
  m.msg_iovlen = 1 << 20;
  show("sendmsg too many iov", sendmsg(u, &m, 0));
  show("recvmsg bad header", recvmsg(u, BAD, MSG_DONTWAIT));
  show("recv bad buffer (nothing queued)", recv(u, BAD, 10, MSG_DONTWAIT));
  show("recv OOB", recv(u, &v, 4, MSG_OOB | MSG_DONTWAIT));
  show("shutdown bad how", shutdown(u, 7));
  show("connect short", connect(u, (struct sockaddr *)&a, 3));
  show("connect bad", connect(u, BAD, sizeof a));

  int nl = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  char junk[64];
  memset(junk, 0xff, sizeof junk);
  show("netlink junk", send(nl, junk, sizeof junk, 0));
  struct nlmsghdr tiny = {.nlmsg_len = 4, .nlmsg_type = 18, .nlmsg_flags = NLM_F_REQUEST};
  show("netlink tiny length", send(nl, &tiny, sizeof tiny, 0));
  show("netlink nothing back", recv(nl, junk, sizeof junk, MSG_DONTWAIT));
  struct sockaddr_nl bad = {.nl_family = AF_INET};
  show("netlink bind wrong family", bind(nl, (struct sockaddr *)&bad, sizeof bad));
  show("netlink bind short", bind(nl, (struct sockaddr *)&bad, 4));

  // Still usable after all that.
  show("bind after", bind(u, (struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET,
       .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}, sizeof(struct sockaddr_in)));
  return 0;
}
