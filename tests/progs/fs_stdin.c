// The container's stdin is a host pipe: poll, nonblocking reads, EOF.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  struct pollfd p = {0, POLLIN, 0};
  int r = poll(&p, 1, 5000);
  printf("poll stdin: %d revents in: %s\n", r, p.revents & POLLIN ? "yes" : "no");
  char buf[64] = {0};
  int n = read(0, buf, sizeof buf - 1);
  printf("read %d: %s", n, buf);
  fcntl(0, F_SETFL, O_NONBLOCK);
  n = read(0, buf, sizeof buf);
  printf("read at eof: %d\n", n);
  r = poll(&p, 1, 1000);
  printf("poll at eof: %d hup: %s\n", r, p.revents & POLLHUP ? "yes" : "no");
  return 0;
}
