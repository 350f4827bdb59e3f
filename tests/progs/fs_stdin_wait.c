// The container's stdin is a host pipe that stays empty until the program waits on it: poll,
// epoll_wait and select each sleep until the harness writes a line, then the end of input
// (the harness closes its end) wakes them with POLLHUP / a read of 0.
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

static void line(const char *how) {
  char buf[64];
  int n = read(0, buf, sizeof buf);
  printf("%s read %d: %.*s", how, n, n > 0 ? n : 0, buf);
  fflush(stdout);
}

int main(void) {
  printf("waiting in poll\n");
  fflush(stdout);
  struct pollfd p = {0, POLLIN, 0};
  int r = poll(&p, 1, -1);
  printf("poll: %d in %d\n", r, !!(p.revents & POLLIN));
  line("poll");

  int ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLIN, .data.fd = 0};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &e) != 0) perror("epoll_ctl");
  printf("waiting in epoll\n");
  fflush(stdout);
  r = epoll_wait(ep, &e, 1, -1);
  printf("epoll_wait: %d in %d\n", r, !!(e.events & EPOLLIN));
  line("epoll");

  printf("waiting in select\n");
  fflush(stdout);
  fd_set in;
  FD_ZERO(&in);
  FD_SET(0, &in);
  r = select(1, &in, NULL, NULL, NULL);
  printf("select: %d in %d\n", r, FD_ISSET(0, &in));
  line("select");

  printf("waiting for the end\n");
  fflush(stdout);
  r = epoll_wait(ep, &e, 1, -1);
  printf("epoll_wait: %d hup %d\n", r, !!(e.events & EPOLLHUP));
  line("end");
  return 0;
}
