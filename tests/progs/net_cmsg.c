// IP-level ancillary data on UDP over loopback, IPv4 and IPv6: the receive options
// (IP_PKTINFO/IP_RECVTTL/IP_RECVTOS, IPV6_RECVPKTINFO/IPV6_RECVHOPLIMIT/IPV6_RECVTCLASS) and
// the control messages they add, per-packet TTL/hop limit, TOS/traffic class and source on
// send, the values and lengths a send refuses, and what a control buffer too short for the
// messages gets (MSG_CTRUNC, a message cut short, the bytes that are left alone), as CPython's
// test_socket RFC3542 and IPv4 ancillary tests use them.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

static int v6, srv, cli;
static struct sockaddr_storage srv_addr;
static socklen_t srv_len;

static void pair(int family) {
  v6 = family == AF_INET6;
  srv = socket(family, SOCK_DGRAM, 0);
  cli = socket(family, SOCK_DGRAM, 0);
  memset(&srv_addr, 0, sizeof srv_addr);
  if (v6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&srv_addr;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    srv_len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&srv_addr;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv_len = sizeof *a;
  }
  bind(srv, (struct sockaddr *)&srv_addr, srv_len);
  getsockname(srv, (struct sockaddr *)&srv_addr, &srv_len);
}

static void opt(const char *what, int level, int name, int val) {
  printf("%s: ", what);
  show("set", setsockopt(srv, level, name, &val, sizeof val));
  int got = -5;
  socklen_t len = sizeof got;
  int r = getsockopt(srv, level, name, &got, &len);
  if (r < 0) printf("  get: %s\n", strerror(errno));
  else printf("  get: %d (len %u)\n", got, len);
}

// Sends "hello" with the control messages in ctl (len bytes; 0: none).
static long send_ctl(const char *what, void *ctl, size_t len) {
  struct iovec iov = {"hello", 5};
  struct msghdr m = {0};
  m.msg_name = &srv_addr;
  m.msg_namelen = srv_len;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = len ? ctl : NULL;
  m.msg_controllen = len;
  long r = sendmsg(cli, &m, 0);
  show(what, r);
  return r;
}

// One control message of len data bytes in buf (aligned for cmsghdr); returns its space.
static size_t cmsg(void *buf, int level, int type, const void *data, size_t len) {
  struct cmsghdr *c = buf;
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  memcpy(CMSG_DATA(c), data, len);
  return CMSG_SPACE(len);
}

static long send_int(const char *what, int level, int type, int val) {
  union {
    struct cmsghdr h;
    char b[64];
  } u;
  return send_ctl(what, u.b, cmsg(u.b, level, type, &val, sizeof val));
}

// Receives one datagram with a control buffer of cap bytes, first filled with 0xaa, and
// prints the flags, the control length and every byte of it (what was not written shows).
static void recv_ctl(const char *what, size_t cap, int flags) {
  union {
    struct cmsghdr h;
    unsigned char b[256];
  } u;
  memset(u.b, 0xaa, sizeof u.b);
  char data[16];
  struct iovec iov = {data, sizeof data};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = cap ? u.b : NULL;
  m.msg_controllen = cap;
  long n = recvmsg(srv, &m, flags);
  if (n < 0) {
    printf("%s: recvmsg: %s\n", what, strerror(errno));
    return;
  }
  printf("%s: %ld bytes, ctrunc %d, controllen %zu\n", what, n, !!(m.msg_flags & MSG_CTRUNC),
         (size_t)m.msg_controllen);
  for (struct cmsghdr *c = m.msg_controllen ? CMSG_FIRSTHDR(&m) : NULL; c;
       c = CMSG_NXTHDR(&m, c)) {
    printf("  cmsg level %d type %d len %zu:", c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len);
    size_t end = (unsigned char *)c - u.b + CMSG_ALIGN(c->cmsg_len);
    if (end > m.msg_controllen) end = m.msg_controllen;
    for (unsigned char *p = CMSG_DATA(c); p < u.b + end; p++) printf(" %02x", *p);
    printf("\n");
  }
  // The bytes after msg_controllen are the caller's.
  printf("  next byte %02x\n", u.b[m.msg_controllen]);
}

// A send, and when it was taken, the datagram it made.
static void round_int(const char *what, int level, int type, int val) {
  if (send_int(what, level, type, val) >= 0) recv_ctl("  received", 256, 0);
}

static void common_sends(int level, int hop, int tclass) {
  round_int("send hop 7", level, hop, 7);
  round_int("send tclass 0x28", level, tclass, 0x28);
  round_int("send hop 0", level, hop, 0);
  round_int("send hop 255", level, hop, 255);
  round_int("send hop 256", level, hop, 256);
  round_int("send hop -1", level, hop, -1);
  round_int("send hop -2", level, hop, -2);
  round_int("send tclass 256", level, tclass, 256);
  round_int("send tclass -1", level, tclass, -1);
  round_int("send tclass -2", level, tclass, -2);
  round_int("send unknown type", level, 999, 1);
  round_int("send other level", IPPROTO_TCP, 1, 1);
  round_int("send SOL_SOCKET unknown", SOL_SOCKET, 999, 1);
  round_int("send SCM_RIGHTS", SOL_SOCKET, SCM_RIGHTS, 0);
  union {
    struct cmsghdr h;
    unsigned char b[128];
  } u;
  int val = 9;
  size_t n = cmsg(u.b, level, hop, &val, sizeof val);
  u.h.cmsg_len = CMSG_LEN(sizeof val) + 1;
  send_ctl("send hop len+1", u.b, n);
  u.h.cmsg_len = CMSG_LEN(sizeof val) - 1;
  send_ctl("send hop len-1", u.b, n);
  u.h.cmsg_len = n + 1;
  send_ctl("send cmsg_len beyond controllen", u.b, n);
  u.h.cmsg_len = 8;
  send_ctl("send cmsg_len below header", u.b, n);
  u.h.cmsg_len = CMSG_LEN(sizeof val);
  if (send_ctl("send hop 9 with 8 bytes after", u.b, n + 8) >= 0) recv_ctl("  received", 256, 0);
  if (send_ctl("send controllen below header", u.b, 8) >= 0) recv_ctl("  received", 256, 0);
  // Two messages: the second's value wins for the same type; both kinds apply.
  n = cmsg(u.b, level, hop, &val, sizeof val);
  val = 3;
  n += cmsg(u.b + n, level, hop, &val, sizeof val);
  val = 0x44;
  n += cmsg(u.b + n, level, tclass, &val, sizeof val);
  if (send_ctl("send hop 9, hop 3, tclass 0x44", u.b, n) >= 0) recv_ctl("  received", 256, 0);
  recv_ctl("nothing left", 256, MSG_DONTWAIT);
}

static void truncation(void) {
  send_ctl("send for truncation", NULL, 0);
  recv_ctl("peek 256", 256, MSG_PEEK);
  size_t sizes[] = {0, 1, 15, 16, 17, 19, 20, 21, 23, 24, 25, 40, 44, 47, 48, 60, 64, 72};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    char what[32];
    snprintf(what, sizeof what, "peek %zu", sizes[i]);
    recv_ctl(what, sizes[i], MSG_PEEK);
  }
  recv_ctl("recv 256", 256, 0);
}

static void ipv6(void) {
  pair(AF_INET6);
  printf("== IPv6\n");
  int defaults[] = {IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS, IPV6_RECVPKTINFO};
  for (int i = 0; i < 3; i++) {
    int got = -5;
    socklen_t len = sizeof got;
    int r = getsockopt(srv, IPPROTO_IPV6, defaults[i], &got, &len);
    printf("default %d: %d %d\n", defaults[i], r, got);
  }
  short s = 1;
  show("set RECVHOPLIMIT short", setsockopt(srv, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &s, sizeof s));
  send_ctl("send before options", NULL, 0);
  recv_ctl("recv no options", 256, 0);
  opt("RECVHOPLIMIT", IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
  opt("RECVTCLASS", IPPROTO_IPV6, IPV6_RECVTCLASS, 5);
  opt("RECVPKTINFO", IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
  send_ctl("send plain", NULL, 0);
  recv_ctl("recv plain", 256, 0);
  common_sends(IPPROTO_IPV6, IPV6_HOPLIMIT, IPV6_TCLASS);
  int hops = 11;
  show("set UNICAST_HOPS 11", setsockopt(cli, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, 4));
  int tc = 0x80;
  show("set TCLASS 0x80", setsockopt(cli, IPPROTO_IPV6, IPV6_TCLASS, &tc, 4));
  round_int("send hop -1 after UNICAST_HOPS", IPPROTO_IPV6, IPV6_HOPLIMIT, -1);
  round_int("send tclass -1 after TCLASS", IPPROTO_IPV6, IPV6_TCLASS, -1);

  union {
    struct cmsghdr h;
    unsigned char b[128];
  } u;
  struct in6_pktinfo pi = {in6addr_loopback, 0};
  if (send_ctl("send pktinfo ::1", u.b, cmsg(u.b, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi)) >= 0)
    recv_ctl("  received", 256, 0);
  pi.ipi6_ifindex = 1;
  if (send_ctl("send pktinfo ::1 lo", u.b, cmsg(u.b, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi)) >= 0)
    recv_ctl("  received", 256, 0);
  pi.ipi6_ifindex = 99;
  send_ctl("send pktinfo ifindex 99", u.b, cmsg(u.b, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi));
  pi.ipi6_ifindex = 0;
  inet_pton(AF_INET6, "2001:db8::1", &pi.ipi6_addr);
  send_ctl("send pktinfo foreign", u.b, cmsg(u.b, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi));
  send_ctl("send pktinfo short", u.b, cmsg(u.b, IPPROTO_IPV6, IPV6_PKTINFO, &pi, 16));
  recv_ctl("recv nothing left", 256, MSG_DONTWAIT);

  int hl = 0;
  show("set HOPLIMIT 0", setsockopt(srv, IPPROTO_IPV6, IPV6_HOPLIMIT, &hl, 4));
  show("set RECVPKTINFO off", setsockopt(srv, IPPROTO_IPV6, IPV6_RECVPKTINFO, &hl, 4));
  truncation();
  close(srv);
  close(cli);
}

static void ipv4(void) {
  pair(AF_INET);
  printf("== IPv4\n");
  opt("RECVTTL", IPPROTO_IP, IP_RECVTTL, 1);
  opt("RECVTOS", IPPROTO_IP, IP_RECVTOS, 1);
  opt("PKTINFO", IPPROTO_IP, IP_PKTINFO, 1);
  send_ctl("send plain", NULL, 0);
  recv_ctl("recv plain", 256, 0);
  common_sends(IPPROTO_IP, IP_TTL, IP_TOS);
  unsigned char tos = 0x20;
  union {
    struct cmsghdr h;
    unsigned char b[128];
  } u;
  if (send_ctl("send tos byte 0x20", u.b, cmsg(u.b, IPPROTO_IP, IP_TOS, &tos, 1)) >= 0)
    recv_ctl("  received", 256, 0);
  send_ctl("send ttl byte", u.b, cmsg(u.b, IPPROTO_IP, IP_TTL, &tos, 1));
  short two = 3;
  send_ctl("send tos 2 bytes", u.b, cmsg(u.b, IPPROTO_IP, IP_TOS, &two, 2));
  struct in_pktinfo pi = {0};
  pi.ipi_spec_dst.s_addr = htonl(INADDR_LOOPBACK);
  if (send_ctl("send pktinfo 127.0.0.1", u.b, cmsg(u.b, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi)) >= 0)
    recv_ctl("  received", 256, 0);
  send_ctl("send pktinfo short", u.b, cmsg(u.b, IPPROTO_IP, IP_PKTINFO, &pi, 8));
  int v = 0xff;
  show("set IP_TOS 0xff", setsockopt(cli, IPPROTO_IP, IP_TOS, &v, 4));
  v = -5;
  socklen_t len = sizeof v;
  getsockopt(cli, IPPROTO_IP, IP_TOS, &v, &len);
  printf("get IP_TOS: %#x\n", v);
  v = 9;
  show("set IP_TTL 9", setsockopt(cli, IPPROTO_IP, IP_TTL, &v, 4));
  round_int("send ttl -1", IPPROTO_IP, IP_TTL, -1);
  send_ctl("send with socket's tos and ttl", NULL, 0);
  recv_ctl("  received", 256, 0);
  recv_ctl("nothing left", 256, MSG_DONTWAIT);
  v = 0;
  show("set PKTINFO off", setsockopt(srv, IPPROTO_IP, IP_PKTINFO, &v, 4));
  truncation();
  close(srv);
  close(cli);
}

// Control lengths no buffer has: a receive writes what fits its messages (none here), a send
// is refused before anything is read (ENOBUFS), on AF_UNIX and UDP alike.
static void huge_controllen(void) {
  printf("== huge msg_controllen\n");
  int sv[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  char buf[8], ctl[64];
  struct iovec iov = {buf, 1};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl;
  m.msg_controllen = 1UL << 60;
  buf[0] = 'x';
  show("unix sendmsg", sendmsg(sv[0], &m, 0));
  m.msg_controllen = 0;
  show("unix sendmsg without control", sendmsg(sv[0], &m, 0));
  m.msg_controllen = 1UL << 60;
  show("unix recvmsg", recvmsg(sv[1], &m, 0));
  printf("  controllen %zu\n", (size_t)m.msg_controllen);
  pair(AF_INET);
  int on = 1;
  setsockopt(srv, IPPROTO_IP, IP_RECVTTL, &on, sizeof on);
  m.msg_name = &srv_addr;
  m.msg_namelen = srv_len;
  m.msg_controllen = 1UL << 60;
  show("udp sendmsg", sendmsg(cli, &m, 0));
  m.msg_controllen = 0;
  show("udp sendmsg without control", sendmsg(cli, &m, 0));
  m.msg_name = NULL;
  m.msg_controllen = 1UL << 60;
  show("udp recvmsg", recvmsg(srv, &m, 0));
  printf("  controllen %zu ctrunc %d\n", (size_t)m.msg_controllen, !!(m.msg_flags & MSG_CTRUNC));
  close(sv[0]);
  close(sv[1]);
  close(srv);
  close(cli);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  ipv6();
  ipv4();
  huge_controllen();
  return 0;
}
