// A container on a network of its own (tests/net_veth_test.ts, tests/net_host_test.ts): a TCP
// and a UDP server that the peer reaches, and a TCP and a UDP client that reach the peer's
// servers. Usage: net_peer <peer-address> <first-port> [<peer-ipv6-address> | server-only];
// ports first..first+3 are: our TCP server, the peer's TCP server, our UDP server, the peer's
// UDP server. With an IPv6 address, the TCP client also reaches the peer's server there. With
// "server-only", the clients are skipped (--network=host: the peer is the host itself).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr4(const char *ip, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

static int wait_in(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, ms);
}

static void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

// Bulk data both ways: BULK bytes of a pattern; the receiver prints their count and hash.
#define BULK (2 << 20)

static unsigned char pattern(long i) { return (i * 7) % 251; }

static void bulk_read(int fd, const char *label) {
  static unsigned char b[65536];
  long total = 0;
  unsigned hash = 0, bad = 0;
  while (wait_in(fd, 20000) > 0) {
    int r = read(fd, b, sizeof b);
    if (r <= 0) break;
    for (int i = 0; i < r; i++, total++) {
      hash = hash * 31 + b[i];
      if (b[i] != pattern(total)) bad++;
    }
  }
  printf("%s: %ld bytes, hash %08x, %u wrong\n", label, total, hash, bad);
}

static int bulk_write(int fd) {
  static unsigned char b[BULK];
  for (long i = 0; i < BULK; i++) b[i] = pattern(i);
  for (long off = 0; off < BULK;) {
    int w = write(fd, b + off, BULK - off);
    if (w < 0) return -1;
    off += w;
  }
  return 0;
}

static void die(const char *what) {
  printf("%s: %s\n", what, strerror(errno));
  exit(1);
}

// Reads until EOF or a newline, a byte at a time (what follows is bulk data); returns the
// bytes read.
static int read_line(int fd, char *buf, int cap) {
  int n = 0;
  while (n < cap - 1) {
    if (wait_in(fd, 20000) <= 0) break;
    int r = read(fd, buf + n, 1);
    if (r <= 0) break;
    n += r;
    if (buf[n - 1] == '\n') break;
  }
  buf[n] = 0;
  if (n > 0 && buf[n - 1] == '\n') buf[--n] = 0;
  return n;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 3) return 2;
  const char *peer = argv[1];
  int port = atoi(argv[2]);
  int server_only = argc > 3 && strcmp(argv[3], "server-only") == 0;
  int one = 1;

  int ls = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in any = addr4("0.0.0.0", port);
  if (bind(ls, (struct sockaddr *)&any, sizeof any) < 0) die("bind tcp");
  if (listen(ls, 8) < 0) die("listen");
  int us = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in uany = addr4("0.0.0.0", port + 2);
  if (bind(us, (struct sockaddr *)&uany, sizeof uany) < 0) die("bind udp");
  printf("ready\n");

  if (!server_only) {
    // The TCP client: the peer's server answers one line.
    int c = -1;
    for (int i = 0; i < 100; i++) {
      c = socket(AF_INET, SOCK_STREAM, 0);
      struct sockaddr_in to = addr4(peer, port + 1);
      if (connect(c, (struct sockaddr *)&to, sizeof to) == 0) break;
      close(c);
      c = -1;
      sleep_ms(100);
    }
    if (c < 0) die("tcp connect");
    const char *hello = "hello from the container\n";
    if (write(c, hello, strlen(hello)) < 0) die("tcp write");
    char buf[256];
    read_line(c, buf, sizeof buf);
    printf("tcp client got: %s\n", buf);
    bulk_read(c, "tcp client bulk");
    close(c);

    if (argc > 3 && !server_only) {
      int c6 = socket(AF_INET6, SOCK_STREAM, 0);
      struct sockaddr_in6 to6 = {.sin6_family = AF_INET6, .sin6_port = htons(port + 1)};
      inet_pton(AF_INET6, argv[3], &to6.sin6_addr);
      if (connect(c6, (struct sockaddr *)&to6, sizeof to6) < 0) die("tcp6 connect");
      const char *hello6 = "hello over IPv6\n";
      if (write(c6, hello6, strlen(hello6)) < 0) die("tcp6 write");
      read_line(c6, buf, sizeof buf);
      printf("tcp6 client got: %s\n", buf);
      close(c6);
    }

    // The UDP client: retried, as datagrams may be lost while the peer's address resolves.
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = addr4(peer, port + 3);
    int got = 0;
    for (int i = 0; i < 20 && !got; i++) {
      const char *m = "datagram from the container";
      sendto(u, m, strlen(m), 0, (struct sockaddr *)&to, sizeof to);
      if (wait_in(u, 500) > 0) {
        int n = recv(u, buf, sizeof buf - 1, 0);
        if (n >= 0) {
          buf[n] = 0;
          printf("udp client got: %s\n", buf);
          got = 1;
        }
      }
    }
    if (!got) printf("udp client got nothing\n");
    // A datagram longer than the link's MTU: it leaves, and its answer comes, in fragments.
    static char big[4000], back[4100];
    for (int i = 0; i < (int)sizeof big; i++) big[i] = 'a' + i % 26;
    got = 0;
    for (int i = 0; i < 20 && !got; i++) {
      sendto(u, big, sizeof big, 0, (struct sockaddr *)&to, sizeof to);
      if (wait_in(u, 500) > 0) {
        int n = recv(u, back, sizeof back, 0);
        if (n == (int)sizeof big + 6 && memcmp(back + 6, big, sizeof big) == 0) got = 1;
      }
    }
    printf("udp client big datagram answered whole: %d\n", got);
    close(u);
  }

  // The TCP server: one connection, one line, echoed.
  if (wait_in(ls, 30000) <= 0) die("accept timed out");
  struct sockaddr_in from;
  socklen_t len = sizeof from;
  int s = accept(ls, (struct sockaddr *)&from, &len);
  if (s < 0) die("accept");
  char line[256], out[300];
  read_line(s, line, sizeof line);
  char ip[32];
  inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
  printf("tcp server got: %s (from %s)\n", line, ip);
  snprintf(out, sizeof out, "echo: %s\n", line);
  if (write(s, out, strlen(out)) < 0) die("tcp reply");
  if (bulk_write(s) < 0) die("tcp bulk");
  close(s);

  // The UDP server: one datagram, answered to its sender.
  if (wait_in(us, 30000) <= 0) die("recvfrom timed out");
  len = sizeof from;
  int n = recvfrom(us, line, sizeof line - 1, 0, (struct sockaddr *)&from, &len);
  if (n < 0) die("recvfrom");
  line[n] = 0;
  inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
  printf("udp server got: %s (from %s)\n", line, ip);
  snprintf(out, sizeof out, "echo: %s", line);
  sendto(us, out, strlen(out), 0, (struct sockaddr *)&from, len);
  // The reply may be lost while the peer resolves our address: answer repeats too.
  while (wait_in(us, 1000) > 0) {
    len = sizeof from;
    if (recvfrom(us, line, sizeof line - 1, 0, (struct sockaddr *)&from, &len) < 0) break;
    sendto(us, out, strlen(out), 0, (struct sockaddr *)&from, len);
  }
  printf("done\n");
  return 0;
}
