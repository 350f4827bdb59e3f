// A process with descriptors above a lowered RLIMIT_NOFILE can still fork and posix_spawn (clone
// and clone3 copy every descriptor, whatever the limit), and a pipe's reader sees EOF once the
// children holding the write end are gone (test_subprocess hung on this).
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "probe.h"

extern char **environ;

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    // The spawned child: the high descriptor came along.
    printf("spawned child: fd 500 open %d\n", fcntl(500, F_GETFD) >= 0);
    return 0;
  }
  int p[2];
  if (pipe(p) != 0) return 1;
  // The write end stays low, so that a copy cut short at a high descriptor would hold it.
  show("dup2 to 500", dup2(p[0], 500));
  show("dup2 to 600", dup2(p[0], 600));
  struct rlimit rl = {64, 64};
  show("lower RLIMIT_NOFILE to 64", setrlimit(RLIMIT_NOFILE, &rl));
  show("dup2 to 700 now", dup2(p[0], 700));

  pid_t c = fork();
  if (c < 0) printf("fork: %s\n", strerror(errno));
  if (c == 0) {
    printf("forked child: fd 500 open %d, fd 600 open %d\n", fcntl(500, F_GETFD) >= 0,
           fcntl(600, F_GETFD) >= 0);
    _exit(0);
  }
  int st;
  if (c > 0) waitpid(c, &st, 0);

  pid_t s;
  char *args[] = {argv[0], "child", NULL};
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
