// Ports below 1024 need CAP_NET_BIND_SERVICE in the effective set, for TCP and UDP over IPv4
// and IPv6 (port 0 and higher ports do not); ping sockets' identifiers are no ports.
// Run natively and in the sandbox, with the Sentry's stack and with host sockets.
#include <arpa/inet.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "probe.h"

// Binds `port`, or with port -1 a free port from 1023 down: 0 or the error of the first port
// not in use.
static int bind_port(int family, int type, int port) {
  for (int p = port >= 0 ? port : 1023; p >= (port >= 0 ? port : 900); p--) {
    int s = socket(family, type, 0);
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(p)};
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(p),
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int r = family == AF_INET ? bind(s, (struct sockaddr *)&a4, sizeof a4)
                              : bind(s, (struct sockaddr *)&a6, sizeof a6);
    int e = errno;
    close(s);
    if (r == 0 || e != EADDRINUSE) {
      errno = e;
      return r;
    }
  }
  return -1;
}

static void binds(const char *who) {
  char what[128];
  const struct {
    int family, type;
    const char *name;
  } kinds[] = {{AF_INET, SOCK_STREAM, "TCP"}, {AF_INET, SOCK_DGRAM, "UDP"},
               {AF_INET6, SOCK_STREAM, "TCP/IPv6"}, {AF_INET6, SOCK_DGRAM, "UDP/IPv6"}};
  for (unsigned i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    snprintf(what, sizeof what, "%s: bind %s to a port below 1024", who, kinds[i].name);
    show(what, bind_port(kinds[i].family, kinds[i].type, -1));
    snprintf(what, sizeof what, "%s: bind %s to port 0", who, kinds[i].name);
    show(what, bind_port(kinds[i].family, kinds[i].type, 0));
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  binds("root");
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d)) return 1;
  d[CAP_NET_BIND_SERVICE / 32].effective &= ~(1u << (CAP_NET_BIND_SERVICE % 32));
  if (syscall(SYS_capset, &h, d)) return 1;
  binds("without CAP_NET_BIND_SERVICE");
  return 0;
}
