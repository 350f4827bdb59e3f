// Benchmark: TCP over loopback between two processes. A child writes argv[1] MiB (default 64)
// in 64 KiB writes to the parent (prints mb_s), then answers argv[2] (default 2000) one-byte
// requests, each waited for by the parent before the next (prints us_per_rt and rt_per_s).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 64;
  long rounds = argc > 2 ? atol(argv[2]) : 2000;
  long total = mib << 20, bs = 65536;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
      getsockname(l, (struct sockaddr *)&a, &al)) {
    perror("listen");
    return 1;
  }
  char *buf = malloc(bs);
  memset(buf, 't', bs);
  pid_t c = fork();
  if (c == 0) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (connect(s, (struct sockaddr *)&a, sizeof a)) _exit(1);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (long done = 0; done < total;) {
      ssize_t n = write(s, buf, bs);
      if (n <= 0) _exit(2);
      done += n;
    }
    char b;
    for (long i = 0; i < rounds; i++) {
      if (read(s, &b, 1) != 1 || write(s, &b, 1) != 1) _exit(3);
    }
    _exit(0);
  }
  int s = accept(l, NULL, NULL), one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  double t0 = now();
  long got = 0;
  while (got < total) {
    ssize_t n = read(s, buf, bs);
    if (n <= 0) break;
    got += n;
  }
  double t1 = now();
  char b = 'r';
  for (long i = 0; i < rounds; i++) {
    if (write(s, &b, 1) != 1 || read(s, &b, 1) != 1) {
      printf("round trip %ld failed\n", i);
      return 1;
    }
  }
  double t2 = now();
  int st;
  waitpid(c, &st, 0);
  if (got != total || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    printf("read %ld of %ld bytes, child status %d\n", got, total, st);
    return 1;
  }
  printf("mb_s=%.1f\n", mib / (t1 - t0));
  printf("us_per_rt=%.2f\n", (t2 - t1) * 1e6 / rounds);
  return 0;
}
