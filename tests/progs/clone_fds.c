// A process with descriptors above a lowered RLIMIT_NOFILE can still fork and posix_spawn (clone
// and clone3 copy every descriptor, whatever the limit), and a pipe's reader sees EOF once the
// children holding the write end are gone (test_subprocess hung on this).
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "probe.h"

extern char **environ;

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 2) {
    // The spawned child: the high descriptor came along.
    printf("spawned child: first high fd open %d\n", fcntl(atoi(argv[2]), F_GETFD) >= 0);
    return 0;
  }
  // High numbers below whatever limit the runner passed down (the soft one may be raised to
  // the hard one by anyone; the sandbox starts at Linux's 1024 / 1048576).
  struct rlimit room;
  getrlimit(RLIMIT_NOFILE, &room);
  long lim = room.rlim_max < 1024 ? (long)room.rlim_max : 1024;
  room.rlim_cur = lim;
  if (setrlimit(RLIMIT_NOFILE, &room)) perror("setrlimit");
  int hi1 = lim - 100, hi2 = lim - 50, hi3 = lim - 10;
  int p[2];
  if (pipe(p) != 0) return 1;
  // The write end stays low, so that a copy cut short at a high descriptor would hold it.
  printf("dup2 to a high fd: %d\n", dup2(p[0], hi1) == hi1);
  printf("dup2 to a higher fd: %d\n", dup2(p[0], hi2) == hi2);
  struct rlimit rl = {64, 64};
  show("lower RLIMIT_NOFILE to 64", setrlimit(RLIMIT_NOFILE, &rl));
  show("dup2 above the limit now", dup2(p[0], hi3));

  pid_t c = fork();
  if (c < 0) printf("fork: %s\n", strerror(errno));
  if (c == 0) {
    printf("forked child: both high fds open %d %d\n", fcntl(hi1, F_GETFD) >= 0,
           fcntl(hi2, F_GETFD) >= 0);
    _exit(0);
  }
  int st;
  if (c > 0) waitpid(c, &st, 0);

  pid_t s;
  char num[16];
  snprintf(num, sizeof num, "%d", hi1);
  char *args[] = {argv[0], "child", num, NULL};
  int r = posix_spawn(&s, argv[0], NULL, NULL, args, environ);
  if (r == 0) waitpid(s, &st, 0);
  printf("posix_spawn: %s\n", r ? strerror(r) : "ok");

  // Every write end is closed once ours is: the read end sees EOF instead of waiting.
  close(p[1]);
  struct pollfd pfd = {p[0], POLLIN, 0};
  show("poll after the last writer closed", poll(&pfd, 1, 2000));
  char b;
  if (pfd.revents) show("read", read(p[0], &b, 1));
  return 0;
}
