// The interfaces as getifaddrs(3) (netlink), if_nametoindex (SIOCGIFINDEX) and the ioctls of
// an AF_INET socket show them: names, families, flags, addresses, masks and MTUs, in the
// kernel's order (tests/probes_net_test.ts runs it with --network=host, where the sandbox
// shows the host's interfaces).
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static const char *text(const struct sockaddr *sa, char *buf, socklen_t len) {
  if (!sa) return "-";
  if (sa->sa_family == AF_INET) return inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, buf, len);
  if (sa->sa_family == AF_INET6) return inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, buf, len);
  return "-";
}

int main(void) {
  struct ifaddrs *all;
  if (getifaddrs(&all) < 0) {
    perror("getifaddrs");
    return 1;
  }
  for (struct ifaddrs *a = all; a; a = a->ifa_next) {
    char b1[64], b2[64];
    printf("%s index %u family %d flags %#x addr %s mask %s\n", a->ifa_name,
           if_nametoindex(a->ifa_name), a->ifa_addr ? a->ifa_addr->sa_family : -1, a->ifa_flags,
           text(a->ifa_addr, b1, sizeof b1), text(a->ifa_netmask, b2, sizeof b2));
  }
  freeifaddrs(all);
  // The same through the ioctls of an AF_INET socket (SIOCGIFCONF, SIOCGIFMTU).
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq reqs[16];
  struct ifconf conf = {.ifc_len = sizeof reqs, .ifc_req = reqs};
  if (ioctl(fd, SIOCGIFCONF, &conf) < 0) perror("SIOCGIFCONF");
  for (int i = 0; i < conf.ifc_len / (int)sizeof(struct ifreq); i++) {
    char b[64];
    struct ifreq q = reqs[i];
    int mtu = ioctl(fd, SIOCGIFMTU, &q) < 0 ? -1 : q.ifr_mtu;
    printf("ifconf %s %s mtu %d\n", reqs[i].ifr_name, text(&reqs[i].ifr_addr, b, sizeof b), mtu);
  }
  return 0;
}
