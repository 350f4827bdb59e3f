#define _GNU_SOURCE
/*
 * Grows Sentry-held memory without end: pipes filled to 1 MiB each, or descriptors of new
 * files (eventfd) up to a raised RLIMIT_NOFILE. Prints how far it got and the errno that
 * stopped it, then "holding", and sleeps so that the host can read the Sentry's RSS.
 * argv: pipes|sockets|watches|fds
 * (sockets: Unix stream pairs, each filled until the peer's receive queue is full; watches:
 * epoll instances each watching the same 1000 descriptors)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[65536];

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  struct rlimit r = {1048576, 1048576};
  if (setrlimit(RLIMIT_NOFILE, &r)) perror("setrlimit");
  long long total = 0;
  int err = 0;
  if (strcmp(argv[1], "pipes") == 0) {
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 100000 && !err; i++) {
      int p[2];
      if (pipe2(p, O_NONBLOCK)) { err = errno; break; }
      fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
      for (;;) {
        ssize_t n = write(p[1], buf, sizeof buf);
        if (n > 0) { total += n; continue; }
        if (errno != EAGAIN) err = errno;
        break;
      }
    }
    printf("pipes: %lld MiB errno=%s\n", total >> 20, strerror(err));
  } else if (strcmp(argv[1], "sockets") == 0) {
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 100000 && !err; i++) {
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv)) { err = errno; break; }
      for (;;) {
        ssize_t n = write(sv[0], buf, sizeof buf);
        if (n > 0) { total += n; continue; }
        if (errno != EAGAIN) err = errno;
        break;
      }
    }
    printf("sockets: %lld MiB errno=%s\n", total >> 20, strerror(err));
  } else if (strcmp(argv[1], "watches") == 0) {
    int fds[1000];
    for (int i = 0; i < 1000; i++) fds[i] = dup(0);
    while (!err) {
      int ep = epoll_create1(0);
      if (ep < 0) { err = errno; break; }
      for (int i = 0; i < 1000; i++) {
        struct epoll_event ev = {.events = EPOLLIN};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev)) { err = errno; break; }
        total++;
      }
    }
    printf("watches: %lld errno=%s\n", total, strerror(err));
  } else {
    for (;;) {
      if (eventfd(0, 0) < 0) { err = errno; break; }
      total++;
    }
    printf("fds: %lld errno=%s\n", total, strerror(err));
  }
  printf("holding\n");
  fflush(stdout);
  for (;;) pause();
}
