// Ping sockets (SOCK_DGRAM with IPPROTO_ICMP or IPPROTO_ICMPV6) over loopback: an echo
// request answered with the socket's identifier and the request's sequence number and data,
// a chosen identifier by bind, connect, poll readiness, EAGAIN with nothing to read, and the
// requests refused (too short, not an echo request), on IPv4 and IPv6; the reply's original
// destination (IP_ORIGDSTADDR), port bytes included.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

static socklen_t addr_of(int v6, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (v6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    return sizeof *a;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sizeof *a;
}

static int ident_of(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -1;
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);  // sin6_port is at the same place
}

// Sends one echo request with seq and a payload; checks what comes back.
static void exchange(const char *tag, int fd, int v6, int seq, int connected) {
  unsigned char req[64] = {v6 ? 128 : 8, 0, 0xaa, 0xbb, 0x12, 0x34, seq >> 8, seq & 0xff};
  const char *payload = "ping payload";
  memcpy(req + 8, payload, strlen(payload));
  int len = 8 + strlen(payload);
  struct sockaddr_storage to;
  socklen_t tolen = addr_of(v6, &to);
  char what[96];
  snprintf(what, sizeof what, "%s send", tag);
  show(what, connected ? send(fd, req, len, 0) : sendto(fd, req, len, 0, (struct sockaddr *)&to, tolen));
  struct pollfd p = {.fd = fd, .events = POLLIN};
  snprintf(what, sizeof what, "%s poll", tag);
  show(what, poll(&p, 1, 5000));
  unsigned char rep[128];
  struct sockaddr_storage from;
  socklen_t fromlen = sizeof from;
  int n = recvfrom(fd, rep, sizeof rep, 0, (struct sockaddr *)&from, &fromlen);
  snprintf(what, sizeof what, "%s recv", tag);
  show(what, n);
  if (n < 8) return;
  int ident = ident_of(fd);
  printf("%s reply: type %d code %d, ident is the socket's %d, seq %d, data %s, from port %d\n",
         tag, rep[0], rep[1], ((rep[4] << 8) | rep[5]) == ident, (rep[6] << 8) | rep[7],
         n - 8 == (int)strlen(payload) && memcmp(rep + 8, payload, n - 8) == 0 ? "same" : "differs",
         ntohs(((struct sockaddr_in *)&from)->sin_port));
  printf("%s from the family's loopback: %d\n", tag,
         v6 ? memcmp(&((struct sockaddr_in6 *)&from)->sin6_addr, &in6addr_loopback, 16) == 0
            : ((struct sockaddr_in *)&from)->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
}

static void family(int v6) {
  const char *tag = v6 ? "v6" : "v4";
  int proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
  int domain = v6 ? AF_INET6 : AF_INET;
  char what[96];
  int fd = socket(domain, SOCK_DGRAM, proto);
  snprintf(what, sizeof what, "%s socket", tag);
  show(what, fd >= 0 ? 0 : -1);
  if (fd < 0) return;
  exchange(tag, fd, v6, 1, 0);
  printf("%s ident after a send: nonzero %d\n", tag, ident_of(fd) > 0);

  // Refused requests: too short, not an echo request.
  struct sockaddr_storage to;
  socklen_t tolen = addr_of(v6, &to);
  unsigned char bad[16] = {v6 ? 128 : 8};
  snprintf(what, sizeof what, "%s send 4 bytes", tag);
  show(what, sendto(fd, bad, 4, 0, (struct sockaddr *)&to, tolen));
  bad[0] = v6 ? 1 : 13;
  snprintf(what, sizeof what, "%s send a non-echo type", tag);
  show(what, sendto(fd, bad, 16, 0, (struct sockaddr *)&to, tolen));
  unsigned char buf[64];
  snprintf(what, sizeof what, "%s nothing to read", tag);
  show(what, recv(fd, buf, sizeof buf, MSG_DONTWAIT));
  close(fd);

  // A chosen identifier, then connected.
  fd = socket(domain, SOCK_DGRAM, proto);
  struct sockaddr_storage me;
  socklen_t melen = addr_of(v6, &me);
  ((struct sockaddr_in *)&me)->sin_port = htons(4242);
  snprintf(what, sizeof what, "%s bind ident 4242", tag);
  show(what, bind(fd, (struct sockaddr *)&me, melen));
  printf("%s ident: %d\n", tag, ident_of(fd));
  snprintf(what, sizeof what, "%s connect", tag);
  show(what, connect(fd, (struct sockaddr *)&to, tolen));
  char ctag[16];
  snprintf(ctag, sizeof ctag, "%s connected", tag);
  exchange(ctag, fd, v6, 7, 1);
  close(fd);

  // The other family's protocol is not a ping socket.
  snprintf(what, sizeof what, "%s socket with the other family's protocol", tag);
  int other = socket(domain, SOCK_DGRAM, v6 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
  show(what, other >= 0 ? 0 : -1);
  if (other >= 0) close(other);
}

// IP_RECVORIGDSTADDR / IPV6_RECVORIGDSTADDR: the reply's destination as an IP_ORIGDSTADDR /
// IPV6_ORIGDSTADDR message whose port is, as on Linux, the third and fourth bytes of the
// transport header (every transport is taken to start with its ports): ICMP's checksum,
// printed beside the reply's own bytes. A fixed identifier makes the checksum the same in both
// runs.
static void origdst(int v6) {
  const char *tag = v6 ? "v6" : "v4";
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
  if (fd < 0) {
    printf("%s socket: %s\n", tag, strerror(errno));
    return;
  }
  int one = 1;
  char what[64];
  snprintf(what, sizeof what, "%s RECVORIGDSTADDR", tag);
  show(what, v6 ? setsockopt(fd, SOL_IPV6, IPV6_RECVORIGDSTADDR, &one, sizeof one)
                : setsockopt(fd, SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof one));
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
  struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  snprintf(what, sizeof what, "%s bind", tag);
  a6.sin6_port = a4.sin_port = htons(0x4242);
  show(what, bind(fd, v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4,
                  v6 ? sizeof a6 : sizeof a4));
  unsigned char req[16] = {v6 ? 128 : 8, 0, 0, 0, 0, 0, 0, 7, 'p', 'i', 'n', 'g'};
  snprintf(what, sizeof what, "%s sendto", tag);
  show(what, sendto(fd, req, 12, 0, v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4,
                    v6 ? sizeof a6 : sizeof a4));
  unsigned char data[64], ctl[256];
  struct iovec iov = {data, sizeof data};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                     .msg_controllen = sizeof ctl};
  long n = recvmsg(fd, &m, 0);
  if (n < 0) {
    printf("%s recvmsg: %s\n", tag, strerror(errno));
    close(fd);
    return;
  }
  printf("%s reply %ld bytes, checksum %02x%02x, controllen %zu\n", tag, n, data[2], data[3],
         (size_t)m.msg_controllen);
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    printf("  level %d type %d len %zu:", c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len);
    for (size_t i = 0; i < c->cmsg_len - sizeof(struct cmsghdr); i++) {
      printf(" %02x", CMSG_DATA(c)[i]);
    }
    printf("\n");
  }
  close(fd);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  // Natively a new network namespace allows ping sockets to no group; the sandbox allows
  // them to everyone. Opening the range for root makes the two comparable.
  int f = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY);
  if (f >= 0) {
    if (write(f, "0 0", 3) < 0) {
    }
    close(f);
  }
  family(0);
  family(1);
  origdst(0);
  origdst(1);
  return 0;
}
