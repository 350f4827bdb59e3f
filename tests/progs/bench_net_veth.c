// Benchmark: TCP over a veth to a peer outside the sandbox (bench/veth.ts sets it up).
//   bench_net_veth serve IP PORT        the peer, run natively: a connection that starts with
//                                       'S' is read to its end and answered with the count
//                                       (8 bytes); one that starts with 'R' is echoed byte by byte.
//   bench_net_veth IP PORT MIB ROUNDS   the container: sends MIB MiB in 64 KiB writes and waits
//                                       for the count (prints mb_s), then makes ROUNDS one-byte
//                                       round trips (prints us_per_rt).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static struct sockaddr_in addr(const char *ip, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

static int serve(const char *ip, int port) {
  int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = addr(ip, port);
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 8)) {
    perror("listen");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  static char buf[1 << 16];
  for (;;) {
    int c = accept(l, NULL, NULL);
    if (c < 0) continue;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char mode = 0;
    if (read(c, &mode, 1) == 1 && mode == 'S') {
      unsigned long long got = 0;
      for (ssize_t n; (n = read(c, buf, sizeof buf)) > 0;) got += n;
      if (write(c, &got, sizeof got) < 0) perror("write");
    } else if (mode == 'R') {
      char b;
      while (read(c, &b, 1) == 1 && write(c, &b, 1) == 1) {
      }
    }
    close(c);
  }
}

static int dial(const char *ip, int port, char mode) {
  struct sockaddr_in a = addr(ip, port);
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (connect(s, (struct sockaddr *)&a, sizeof a) || write(s, &mode, 1) != 1) return -1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc == 4 && strcmp(argv[1], "serve") == 0) return serve(argv[2], atoi(argv[3]));
  if (argc != 5) return 2;
  const char *ip = argv[1];
  int port = atoi(argv[2]);
  long total = atol(argv[3]) << 20, rounds = atol(argv[4]), bs = 65536;
  char *buf = malloc(bs);
  memset(buf, 'v', bs);
  int s = dial(ip, port, 'S');
  if (s < 0) {
    printf("mb_s=failed: connect\nus_per_rt=failed: connect\n");
    return 1;
  }
  double t0 = now();
  for (long done = 0; done < total;) {
    ssize_t n = write(s, buf, bs);
    if (n <= 0) return 1;
    done += n;
  }
  shutdown(s, SHUT_WR);
  unsigned long long got = 0;
  if (read(s, &got, sizeof got) != sizeof got || got != (unsigned long long)total) {
    printf("mb_s=failed: the peer counted %llu bytes\n", got);
    return 1;
  }
  double t1 = now();
  close(s);
  printf("mb_s=%.1f\n", (total >> 20) / (t1 - t0));
  s = dial(ip, port, 'R');
  if (s < 0) return 1;
  char b = 'r';
  double t2 = now();
  for (long i = 0; i < rounds; i++) {
    if (write(s, &b, 1) != 1 || read(s, &b, 1) != 1) {
      printf("us_per_rt=failed: round trip %ld\n", i);
      return 1;
    }
  }
  double t3 = now();
  close(s);
  printf("us_per_rt=%.2f\n", (t3 - t2) * 1e6 / rounds);
  return 0;
}
