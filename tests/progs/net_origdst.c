// IP_RECVORIGDSTADDR / IPV6_RECVORIGDSTADDR (the datagram's destination address and port as
// an IP_ORIGDSTADDR / IPV6_ORIGDSTADDR message), IPV6_FLOWINFO (the header's traffic class
// and flow label as an IPV6_FLOWINFO message, when not zero) and IPV6_FLOWINFO_SEND (a send
// takes the flow information of its sockaddr_in6) on UDP over loopback. The sender turns off
// automatic flow labels, which Linux draws from a hash with a random key.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

#ifndef IPV6_AUTOFLOWLABEL
#define IPV6_AUTOFLOWLABEL 70
#endif
#ifndef IPV6_FLOWINFO
#define IPV6_FLOWINFO 11
#endif
#ifndef IPV6_FLOWINFO_SEND
#define IPV6_FLOWINFO_SEND 33
#endif

static int bound_port;

static void opt(int fd, int level, int name, const char *what) {
  int v = -1;
  socklen_t l = sizeof v;
  int r = getsockopt(fd, level, name, &v, &l);
  if (r < 0) printf("getsockopt %s: %s\n", what, strerror(errno));
  else printf("getsockopt %s: %d (len %u)\n", what, v, l);
}

static void set(int fd, int level, int name, int v, const char *what) {
  if (setsockopt(fd, level, name, &v, sizeof v) < 0) {
    printf("setsockopt %s %d: %s\n", what, v, strerror(errno));
  }
}

static void receive(int fd, size_t room) {
  char data[64];
  struct iovec iov = {data, sizeof data};
  unsigned char ctl[512];
  memset(ctl, 0xee, sizeof ctl);
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = room};
  long n = recvmsg(fd, &m, 0);
  if (n < 0) {
    printf("recvmsg: %s\n", strerror(errno));
    return;
  }
  printf("recvmsg %ld, controllen %zu, ctrunc %d\n", n, (size_t)m.msg_controllen,
         (m.msg_flags & MSG_CTRUNC) != 0);
  for (size_t off = 0; off + sizeof(struct cmsghdr) <= m.msg_controllen;) {
    struct cmsghdr *c = (struct cmsghdr *)(ctl + off);
    size_t body = c->cmsg_len - sizeof(struct cmsghdr);
    printf("  level %d type %d len %zu:", c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len);
    unsigned char *d = CMSG_DATA(c);
    if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR && body >= sizeof(struct sockaddr_in)) {
      struct sockaddr_in a;
      memcpy(&a, d, sizeof a);
      char s[64];
      inet_ntop(AF_INET, &a.sin_addr, s, sizeof s);
      printf(" family %d addr %s port %s zero %d", a.sin_family, s,
             ntohs(a.sin_port) == bound_port ? "bound" : "other", a.sin_zero[0] | a.sin_zero[7]);
    } else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR &&
               body >= sizeof(struct sockaddr_in6)) {
      struct sockaddr_in6 a;
      memcpy(&a, d, sizeof a);
      char s[64];
      inet_ntop(AF_INET6, &a.sin6_addr, s, sizeof s);
      printf(" family %d addr %s port %s flowinfo %u scope %u", a.sin6_family, s,
             ntohs(a.sin6_port) == bound_port ? "bound" : "other", ntohl(a.sin6_flowinfo),
             a.sin6_scope_id);
    } else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_FLOWINFO && body == 4) {
      uint32_t f;
      memcpy(&f, d, 4);
      printf(" flowinfo 0x%08x", ntohl(f));
    } else if (c->cmsg_type == IP_ORIGDSTADDR || c->cmsg_type == IPV6_ORIGDSTADDR) {
      printf(" cut");  // the port, random, is in what is left
    } else {
      for (size_t i = 0; i < body && off + sizeof(struct cmsghdr) + i < m.msg_controllen; i++) {
        printf(" %02x", d[i]);
      }
    }
    printf("\n");
    if (c->cmsg_len < sizeof(struct cmsghdr)) break;
    off += CMSG_ALIGN(c->cmsg_len);
  }
}

static void v4(void) {
  printf("-- ipv4\n");
  int r = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  bind(r, (struct sockaddr *)&a, len);
  getsockname(r, (struct sockaddr *)&a, &len);
  bound_port = ntohs(a.sin_port);
  opt(r, SOL_IP, IP_RECVORIGDSTADDR, "IP_RECVORIGDSTADDR");
  set(r, SOL_IP, IP_RECVORIGDSTADDR, 7, "IP_RECVORIGDSTADDR");
  opt(r, SOL_IP, IP_RECVORIGDSTADDR, "IP_RECVORIGDSTADDR");
  set(r, SOL_IP, IP_PKTINFO, 1, "IP_PKTINFO");
  set(r, SOL_IP, IP_RECVTOS, 1, "IP_RECVTOS");
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  for (int i = 0; i < 3; i++) sendto(s, "hi", 2, 0, (struct sockaddr *)&a, len);
  receive(r, 512);
  // Cut: IP_PKTINFO (32) and IP_RECVTOS (24) fit, the address only in part.
  receive(r, 32 + 24 + 20);
  set(r, SOL_IP, IP_PKTINFO, 0, "IP_PKTINFO");
  set(r, SOL_IP, IP_RECVTOS, 0, "IP_RECVTOS");
  receive(r, 512);
  close(s);
  close(r);
}

static void v6(void) {
  printf("-- ipv6\n");
  int r = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
  socklen_t len = sizeof a;
  bind(r, (struct sockaddr *)&a, len);
  getsockname(r, (struct sockaddr *)&a, &len);
  bound_port = ntohs(a.sin6_port);
  opt(r, SOL_IPV6, IPV6_RECVORIGDSTADDR, "IPV6_RECVORIGDSTADDR");
  opt(r, SOL_IPV6, IPV6_FLOWINFO, "IPV6_FLOWINFO");
  opt(r, SOL_IPV6, IPV6_FLOWINFO_SEND, "IPV6_FLOWINFO_SEND");
  set(r, SOL_IPV6, IPV6_RECVORIGDSTADDR, 1, "IPV6_RECVORIGDSTADDR");
  set(r, SOL_IPV6, IPV6_FLOWINFO, 5, "IPV6_FLOWINFO");
  opt(r, SOL_IPV6, IPV6_RECVORIGDSTADDR, "IPV6_RECVORIGDSTADDR");
  opt(r, SOL_IPV6, IPV6_FLOWINFO, "IPV6_FLOWINFO");
  set(r, SOL_IPV6, IPV6_RECVTCLASS, 1, "IPV6_RECVTCLASS");

  int s = socket(AF_INET6, SOCK_DGRAM, 0);
  set(s, SOL_IPV6, IPV6_AUTOFLOWLABEL, 0, "IPV6_AUTOFLOWLABEL");
  opt(s, SOL_IPV6, IPV6_AUTOFLOWLABEL, "IPV6_AUTOFLOWLABEL");
  // Traffic class 0 and no label: no IPV6_FLOWINFO message.
  sendto(s, "a", 1, 0, (struct sockaddr *)&a, len);
  receive(r, 512);
  set(s, SOL_IPV6, IPV6_TCLASS, 0x28, "IPV6_TCLASS");
  sendto(s, "b", 1, 0, (struct sockaddr *)&a, len);
  receive(r, 512);
  // The sockaddr's flow information is ignored without IPV6_FLOWINFO_SEND.
  struct sockaddr_in6 f = a;
  f.sin6_flowinfo = htonl(0x00412345);
  show("sendto with flowinfo, not sent", sendto(s, "c", 1, 0, (struct sockaddr *)&f, len));
  receive(r, 512);
  set(s, SOL_IPV6, IPV6_FLOWINFO_SEND, 1, "IPV6_FLOWINFO_SEND");
  opt(s, SOL_IPV6, IPV6_FLOWINFO_SEND, "IPV6_FLOWINFO_SEND");
  // A label nobody leased (IPV6_FLOWLABEL_MGR) is refused.
  // A label nobody leased exclusively (IPV6_FLOWLABEL_MGR) goes out.
  show("sendto with a label", sendto(s, "d", 1, 0, (struct sockaddr *)&f, len));
  receive(r, 512);
  // The sockaddr's traffic class bits do not: the socket's does.
  f.sin6_flowinfo = htonl(0x04000000);
  show("sendto with a traffic class", sendto(s, "e", 1, 0, (struct sockaddr *)&f, len));
  receive(r, 512);
  set(s, SOL_IPV6, IPV6_TCLASS, 0, "IPV6_TCLASS");
  show("sendto with a traffic class only", sendto(s, "f", 1, 0, (struct sockaddr *)&f, len));
  receive(r, 512);
  f.sin6_flowinfo = htonl(0x000abcde);
  show("sendto with a label, class 0", sendto(s, "f", 1, 0, (struct sockaddr *)&f, len));
  receive(r, 512);

  // Connected under IPV6_FLOWINFO_SEND: the label given to connect goes with each send (a
  // sendto's own wins), and getpeername shows the flow information while the option is on.
  int c = socket(AF_INET6, SOCK_DGRAM, 0);
  set(c, SOL_IPV6, IPV6_AUTOFLOWLABEL, 0, "IPV6_AUTOFLOWLABEL");
  set(c, SOL_IPV6, IPV6_FLOWINFO_SEND, 1, "IPV6_FLOWINFO_SEND");
  f.sin6_flowinfo = htonl(0x00454321);
  show("connect with flowinfo", connect(c, (struct sockaddr *)&f, len));
  struct sockaddr_in6 p;
  socklen_t pl = sizeof p;
  getpeername(c, (struct sockaddr *)&p, &pl);
  printf("getpeername flowinfo 0x%08x\n", ntohl(p.sin6_flowinfo));
  send(c, "i", 1, 0);
  receive(r, 512);
  f.sin6_flowinfo = htonl(0x00011111);
  sendto(c, "j", 1, 0, (struct sockaddr *)&f, len);
  receive(r, 512);
  set(c, SOL_IPV6, IPV6_FLOWINFO_SEND, 0, "IPV6_FLOWINFO_SEND");
  pl = sizeof p;
  getpeername(c, (struct sockaddr *)&p, &pl);
  printf("getpeername flowinfo, option off 0x%08x\n", ntohl(p.sin6_flowinfo));
  send(c, "k", 1, 0);
  receive(r, 512);
  close(c);
  // Connected before the option was on: no label kept.
  c = socket(AF_INET6, SOCK_DGRAM, 0);
  set(c, SOL_IPV6, IPV6_AUTOFLOWLABEL, 0, "IPV6_AUTOFLOWLABEL");
  f.sin6_flowinfo = htonl(0x00022222);
  connect(c, (struct sockaddr *)&f, len);
  set(c, SOL_IPV6, IPV6_FLOWINFO_SEND, 1, "IPV6_FLOWINFO_SEND");
  pl = sizeof p;
  getpeername(c, (struct sockaddr *)&p, &pl);
  printf("getpeername flowinfo, connected before 0x%08x\n", ntohl(p.sin6_flowinfo));
  send(c, "l", 1, 0);
  receive(r, 512);
  close(c);

  // Only ever asked for: off again, no message.
  set(r, SOL_IPV6, IPV6_FLOWINFO, 0, "IPV6_FLOWINFO");
  sendto(s, "f", 1, 0, (struct sockaddr *)&f, len);
  receive(r, 512);

  // An IPv4 datagram on a dual-stack socket: the IPv4 messages only.
  int d = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
  bind(d, (struct sockaddr *)&any, sizeof any);
  socklen_t dl = sizeof any;
  getsockname(d, (struct sockaddr *)&any, &dl);
  bound_port = ntohs(any.sin6_port);
  set(d, SOL_IPV6, IPV6_RECVORIGDSTADDR, 1, "IPV6_RECVORIGDSTADDR");
  set(d, SOL_IPV6, IPV6_FLOWINFO, 1, "IPV6_FLOWINFO");
  int s4 = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = any.sin6_port,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  sendto(s4, "g", 1, 0, (struct sockaddr *)&to, sizeof to);
  receive(d, 512);
  set(d, SOL_IP, IP_RECVORIGDSTADDR, 1, "IP_RECVORIGDSTADDR");
  sendto(s4, "h", 1, 0, (struct sockaddr *)&to, sizeof to);
  receive(d, 512);
  close(s4);
  close(d);
  close(s);
  close(r);
}

int main(void) {
  v4();
  v6();
  return 0;
}
