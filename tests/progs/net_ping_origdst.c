// IP_RECVORIGDSTADDR and IPV6_RECVORIGDSTADDR on ping sockets over loopback: the echo reply's
// destination as an IP_ORIGDSTADDR / IPV6_ORIGDSTADDR message whose port is, as on Linux, the
// third and fourth bytes of the transport header (which every transport is taken to start
// with its ports): for ICMP, the reply's checksum. Printed beside the reply's own bytes.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

static void family(int v6) {
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
  // A fixed identifier, so that the checksum is the same in both runs.
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
  return 0;
}
