// Benchmark: epoll wait/wake round trip between two processes, N times (argv[1], default 5000).
// Each side sleeps in epoll_wait on its own pipe; a round trip is: parent writes a byte to the
// child's pipe, the child wakes, reads it and writes one back, the parent wakes and reads it.
// Prints ns_per_op (one round trip: two wakes).
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int ep_for(int fd) {
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) { perror("epoll"); exit(1); }
  return ep;
}

static int wait_read(int ep, int fd) {
  struct epoll_event ev;
  int n;
  do n = epoll_wait(ep, &ev, 1, -1); while (n == 0);
  char c;
  if (n != 1 || read(fd, &c, 1) != 1) return -1;
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 5000;
  int down[2], up[2];
  if (pipe(down) != 0 || pipe(up) != 0) { perror("pipe"); return 1; }
  pid_t c = fork();
  if (c < 0) { perror("fork"); return 1; }
  if (c == 0) {
    int ep = ep_for(down[0]);
    for (int i = 0; i < n; i++) {
      if (wait_read(ep, down[0]) != 0 || write(up[1], "y", 1) != 1) _exit(1);
    }
    _exit(0);
  }
  int ep = ep_for(up[0]);
  // One round trip untimed, so that the child is up and waiting.
  if (write(down[1], "x", 1) != 1 || wait_read(ep, up[0]) != 0) { printf("no reply\n"); return 1; }
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 1; i < n; i++) {
    if (write(down[1], "x", 1) != 1 || wait_read(ep, up[0]) != 0) { printf("no reply\n"); return 1; }
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  int st;
  waitpid(c, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { printf("child failed\n"); return 1; }
  printf("ns_per_op=%.0f\n",
         ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (n > 1 ? n - 1 : 1));
  return 0;
}
