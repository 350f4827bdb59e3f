// Benchmark: 1-byte TCP round trips over loopback between two processes where the answering
// side sleeps in poll (then epoll_wait) before each recv, as an event-driven server does. Prints
// us_per_rt_poll and us_per_rt_epoll for argv[1] (default 500) round trips each.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void serve(int s, long rounds) {
  int ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLIN};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s, &e)) _exit(2);
  for (long i = 0; i < 2 * rounds; i++) {
    if (i < rounds) {
      struct pollfd p = {.fd = s, .events = POLLIN};
      if (poll(&p, 1, -1) != 1) _exit(3);
    } else if (epoll_wait(ep, &e, 1, -1) != 1) {
      _exit(4);
    }
    char b;
    if (recv(s, &b, 1, MSG_DONTWAIT) != 1 || send(s, &b, 1, 0) != 1) _exit(5);
  }
  _exit(0);
}

int main(int argc, char **argv) {
  long rounds = argc > 1 ? atol(argv[1]) : 500;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
      getsockname(l, (struct sockaddr *)&a, &al)) {
    perror("listen");
    return 1;
  }
  int c = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (connect(c, (struct sockaddr *)&a, sizeof a)) {
    perror("connect");
    return 1;
  }
  int s = accept(l, NULL, NULL);
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) serve(s, rounds);
  close(s);
  double t[3];
  t[0] = now();
  for (long i = 0; i < 2 * rounds; i++) {
    if (i == rounds) t[1] = now();
    char b = 'r';
    if (write(c, &b, 1) != 1 || read(c, &b, 1) != 1) {
      printf("round trip %ld failed\n", i);
      return 1;
    }
  }
  t[2] = now();
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    printf("server status %d\n", st);
    return 1;
  }
  printf("us_per_rt_poll=%.2f\n", (t[1] - t[0]) * 1e6 / rounds);
  printf("us_per_rt_epoll=%.2f\n", (t[2] - t[1]) * 1e6 / rounds);
  return 0;
}
