// What a program learns of the interfaces with only loopback: getifaddrs (netlink
// RTM_GETLINK/RTM_GETADDR), a raw RTM_GETROUTE dump, if_nametoindex, SIOCGIF* ioctls, and
// /proc/net/{tcp,tcp6,udp,dev} showing this process's sockets.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

static int port_of(int fd) {
  struct sockaddr_in6 a;
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  return ntohs(a.sin6_port);
}

// Whether /proc/net/<name> has a line with local port `port` in state `st`.
static int proc_has(const char *name, int port, const char *st) {
  char path[64], line[512], want[16];
  snprintf(path, sizeof path, "/proc/net/%s", name);
  snprintf(want, sizeof want, ":%04X", port);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int found = 0;
  fgets(line, sizeof line, f);
  while (fgets(line, sizeof line, f)) {
    char local[64], remote[64], state[8];
    if (sscanf(line, "%*s %63s %63s %7s", local, remote, state) != 3) continue;
    char *c = strrchr(local, ':');
    if (c && strcmp(c, want) == 0 && strcmp(state, st) == 0) found = 1;
  }
  fclose(f);
  return found;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct ifaddrs *ifs;
  show("getifaddrs", getifaddrs(&ifs));
  for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
    char a[64] = "-", m[64] = "-";
    int fam = i->ifa_addr ? i->ifa_addr->sa_family : -1;
    if (fam == AF_INET) {
      inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, sizeof a);
      inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_netmask)->sin_addr, m, sizeof m);
    } else if (fam == AF_INET6) {
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, a, sizeof a);
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr, m, sizeof m);
    }
    printf("%s family %d addr %s mask %s flags %#x\n", i->ifa_name, fam, a, m, i->ifa_flags);
  }
  freeifaddrs(ifs);
  printf("if_nametoindex lo %u, eth0 %u\n", if_nametoindex("lo"), if_nametoindex("eth0"));
  char name[IF_NAMESIZE];
  printf("if_indextoname 1 %s\n", if_indextoname(1, name) ? name : strerror(errno));

  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq r;
  memset(&r, 0, sizeof r);
  strcpy(r.ifr_name, "lo");
  show("SIOCGIFFLAGS", ioctl(s, SIOCGIFFLAGS, &r));
  printf("flags %#x\n", r.ifr_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING));
  show("SIOCGIFMTU", ioctl(s, SIOCGIFMTU, &r));
  printf("mtu %d\n", r.ifr_mtu);
  show("SIOCGIFADDR", ioctl(s, SIOCGIFADDR, &r));
  printf("addr %s\n", inet_ntoa(((struct sockaddr_in *)&r.ifr_addr)->sin_addr));
  show("SIOCGIFNETMASK", ioctl(s, SIOCGIFNETMASK, &r));
  printf("mask %s\n", inet_ntoa(((struct sockaddr_in *)&r.ifr_netmask)->sin_addr));
  show("SIOCGIFINDEX", ioctl(s, SIOCGIFINDEX, &r));
  printf("index %d\n", r.ifr_ifindex);
  strcpy(r.ifr_name, "nope0");
  show("SIOCGIFFLAGS nope0", ioctl(s, SIOCGIFFLAGS, &r));
  struct ifconf ic = {.ifc_len = 0, .ifc_buf = NULL};
  show("SIOCGIFCONF size", ioctl(s, SIOCGIFCONF, &ic));
  printf("ifconf needs %d\n", ic.ifc_len);

  // A raw route dump: count the answers by table until NLMSG_DONE.
  int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  show("netlink socket", nl >= 0 ? 0 : -1);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  show("netlink bind", bind(nl, (struct sockaddr *)&sa, sizeof sa));
  socklen_t sl = sizeof sa;
  getsockname(nl, (struct sockaddr *)&sa, &sl);
  printf("nl_pid is pid %d\n", sa.nl_pid == (unsigned)getpid());
  struct {
    struct nlmsghdr h;
    struct rtmsg r;
  } req = {.h = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETROUTE,
                 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 7},
           .r = {.rtm_family = AF_INET}};
  show("send", send(nl, &req, sizeof req, 0) == sizeof req ? 0 : -1);
  int local = 0, main_t = 0, done = 0, seq_ok = 1;
  while (!done) {
    char buf[8192];
    long n = recv(nl, buf, sizeof buf, 0);
    if (n <= 0) break;
    for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != 7) seq_ok = 0;
      if (h->nlmsg_type == NLMSG_DONE) done = 1;
      if (h->nlmsg_type != RTM_NEWROUTE) continue;
      struct rtmsg *rt = NLMSG_DATA(h);
      if (rt->rtm_table == RT_TABLE_MAIN) main_t++;
      if (rt->rtm_table == RT_TABLE_LOCAL && rt->rtm_type == RTN_LOCAL && rt->rtm_dst_len == 8) local++;
    }
  }
  printf("routes: main %d, local 127/8 %d, done %d, seq %d\n", main_t, local, done, seq_ok);
  struct nlmsghdr bad = {.nlmsg_len = sizeof bad, .nlmsg_type = 0x7777,
                         .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .nlmsg_seq = 9};
  send(nl, &bad, sizeof bad, 0);
  char eb[256];
  long n = recv(nl, eb, sizeof eb, 0);
  struct nlmsghdr *eh = (void *)eb;
  printf("unknown type answers %ld type %d error %d\n", n > 0, eh->nlmsg_type,
         ((struct nlmsgerr *)NLMSG_DATA(eh))->error);
  show("netlink listen", listen(nl, 1));
  show("netlink other protocol", socket(AF_NETLINK, SOCK_RAW, 31));

  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(l, (struct sockaddr *)&a, sizeof a);
  listen(l, 1);
  int l6 = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  bind(l6, (struct sockaddr *)&a6, sizeof a6);
  listen(l6, 1);
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  bind(u, (struct sockaddr *)&a, sizeof a);
  printf("proc tcp listener %d, tcp6 listener %d, udp %d, tcp has no udp %d\n",
         proc_has("tcp", port_of(l), "0A"), proc_has("tcp6", port_of(l6), "0A"),
         proc_has("udp", port_of(u), "07"), proc_has("tcp", port_of(u), "07"));
  FILE *f = fopen("/proc/net/dev", "r");
  char line[512];
  int lo = 0;
  while (f && fgets(line, sizeof line, f)) {
    if (strstr(line, "lo:")) lo++;
  }
  printf("dev lines for lo %d\n", lo);
  return 0;
}
