// The queue ioctls of TCP and UDP sockets: SIOCINQ (= FIONREAD), SIOCOUTQ (= TIOCOUTQ) and
// SIOCATMARK. TCP: bytes unread, bytes not yet acknowledged (EINVAL on a listener), never at
// the mark without urgent data. UDP: the size of the next datagram, and the query leaves a
// pending error (SO_ERROR) in place. No timing: waits are polls, or loops bounded only to end
// a hang.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

static int q(int fd, unsigned long req) {
  int v = -1;
  int r = ioctl(fd, req, &v);
  return r < 0 ? -1 : v;
}

static void showq(const char *what, int fd, unsigned long req) {
  int v = -1;
  int r = ioctl(fd, req, &v);
  if (r < 0) printf("%s: %s\n", what, strerror(errno));
  else printf("%s: %d\n", what, v);
}

// Waits (10 ms steps, 20 s at most: only a hang ends it) until the ioctl answers `want`.
static int wait_q(int fd, unsigned long req, int want) {
  for (int i = 0; i < 2000; i++) {
    if (q(fd, req) == want) return 1;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

static void waitfor(int fd, short ev) {
  struct pollfd p = {.fd = fd, .events = ev};
  poll(&p, 1, 20000);
}

static struct sockaddr_in loopback(void) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static void tcp(void) {
  printf("-- tcp\n");
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback();
  socklen_t len = sizeof a;
  bind(l, (struct sockaddr *)&a, len);
  showq("SIOCINQ unconnected", l, SIOCINQ);
  showq("SIOCOUTQ unconnected", l, SIOCOUTQ);
  listen(l, 4);
  getsockname(l, (struct sockaddr *)&a, &len);
  showq("SIOCINQ listener", l, SIOCINQ);
  showq("SIOCOUTQ listener", l, SIOCOUTQ);
  showq("SIOCATMARK listener", l, SIOCATMARK);
  showq("SIOCOUTQNSD listener", l, SIOCOUTQNSD);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  connect(c, (struct sockaddr *)&a, len);
  int s = accept(l, NULL, NULL);
  showq("SIOCINQ connected, nothing sent", s, SIOCINQ);
  showq("SIOCATMARK connected", s, SIOCATMARK);
  write(c, "hello", 5);
  waitfor(s, POLLIN);
  showq("SIOCINQ after 5 bytes", s, SIOCINQ);
  showq("FIONREAD after 5 bytes", s, FIONREAD);
  write(c, "goodbye", 7);
  printf("SIOCINQ reaches 12: %d\n", wait_q(s, SIOCINQ, 12));
  char buf[4];
  read(s, buf, 4);
  showq("SIOCINQ after reading 4", s, SIOCINQ);
  showq("SIOCATMARK with data", s, SIOCATMARK);

  // Fill the peer's receive window: the unacknowledged bytes are counted, then drain.
  fcntl(c, F_SETFL, O_NONBLOCK);
  static char big[65536];
  long sent = 0;
  for (;;) {
    ssize_t n = write(c, big, sizeof big);
    if (n <= 0) break;
    sent += n;
  }
  int outq = q(c, SIOCOUTQ);
  printf("SIOCOUTQ of a full window is > 0 and <= what was sent: %d\n", outq > 0 && outq <= sent);
  int nsd = q(c, SIOCOUTQNSD);
  printf("SIOCOUTQNSD of a full window is >= 0 and <= SIOCOUTQ: %d\n", nsd >= 0 && nsd <= outq);
  static char sink[65536];
  long got = 0;
  fcntl(s, F_SETFL, O_NONBLOCK);
  for (int i = 0; i < 100000 && got < sent + 8; i++) {
    ssize_t n = read(s, sink, sizeof sink);
    if (n > 0) got += n;
    else waitfor(s, POLLIN);
  }
  printf("read everything: %d\n", got == sent + 8);
  printf("SIOCOUTQ drains to 0: %d\n", wait_q(c, SIOCOUTQ, 0));
  showq("SIOCOUTQNSD when all is acknowledged", c, SIOCOUTQNSD);
  showq("SIOCINQ when all is read", s, SIOCINQ);
  close(c);
  waitfor(s, POLLIN);
  showq("SIOCINQ after the peer's FIN", s, SIOCINQ);
  close(s);
  close(l);
}

static void udp(void) {
  printf("-- udp\n");
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = loopback();
  socklen_t len = sizeof a;
  bind(u, (struct sockaddr *)&a, len);
  getsockname(u, (struct sockaddr *)&a, &len);
  showq("SIOCINQ empty", u, SIOCINQ);
  showq("SIOCOUTQ", u, SIOCOUTQ);
  showq("SIOCATMARK", u, SIOCATMARK);
  showq("SIOCOUTQNSD", u, SIOCOUTQNSD);
  sendto(u, "abc", 3, 0, (struct sockaddr *)&a, len);
  sendto(u, "0123456789", 10, 0, (struct sockaddr *)&a, len);
  waitfor(u, POLLIN);
  showq("SIOCINQ: the first datagram", u, SIOCINQ);
  showq("FIONREAD: the first datagram", u, FIONREAD);
  char buf[16];
  recv(u, buf, sizeof buf, 0);
  waitfor(u, POLLIN);
  showq("SIOCINQ: the second datagram", u, SIOCINQ);
  recv(u, buf, sizeof buf, 0);
  showq("SIOCINQ empty again", u, SIOCINQ);
  sendto(u, "", 0, 0, (struct sockaddr *)&a, len);
  waitfor(u, POLLIN);
  showq("SIOCINQ: an empty datagram", u, SIOCINQ);
  recv(u, buf, sizeof buf, 0);

  // A connected socket told by ICMP that the port is closed: the error stays for SO_ERROR.
  int d = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in closed = loopback();
  int tmp = socket(AF_INET, SOCK_DGRAM, 0);
  socklen_t cl = sizeof closed;
  bind(tmp, (struct sockaddr *)&closed, cl);
  getsockname(tmp, (struct sockaddr *)&closed, &cl);
  close(tmp);
  connect(d, (struct sockaddr *)&closed, cl);
  send(d, "x", 1, 0);
  waitfor(d, POLLERR);
  showq("SIOCINQ with an error pending", d, SIOCINQ);
  int err = 0;
  socklen_t el = sizeof err;
  getsockopt(d, SOL_SOCKET, SO_ERROR, &err, &el);
  printf("SO_ERROR after it: %s\n", strerror(err));
  close(d);
  close(u);
}

int main(void) {
  tcp();
  udp();
  return 0;
}
