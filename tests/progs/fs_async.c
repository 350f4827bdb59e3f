// Signal-driven I/O: F_SETOWN/F_GETOWN(_EX), O_ASYNC by fcntl and FIOASYNC, SIGIO and F_SETSIG
// signals with their si_code, si_band and si_fd, on pipes and a Unix socket.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

// Waits up to `ms` for a blocked signal; prints what came.
static void expect(const char *what, int ms) {
  sigset_t all;
  sigemptyset(&all);
  sigaddset(&all, SIGIO);
  sigaddset(&all, SIGRTMIN);
  siginfo_t si;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  int s = sigtimedwait(&all, &si, &ts);
  if (s < 0) {
    printf("%s: no signal (%s)\n", what, strerror(errno));
    return;
  }
  printf("%s: %s code %#x", what, s == SIGIO ? "SIGIO" : s == SIGRTMIN ? "SIGRTMIN" : "other",
         si.si_code);
  if (s == SIGRTMIN) printf(" band %#lx fd %d", (long)si.si_band, si.si_fd);
  printf("\n");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  setpgid(0, 0);  // a group of its own: the group owner below signals only this process
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGIO);
  sigaddset(&block, SIGRTMIN);
  sigprocmask(SIG_BLOCK, &block, NULL);

  int p[2];
  pipe(p);
  struct f_owner_ex ex = {-1, -1};
  show("F_GETOWN_EX before any owner", fcntl(p[0], F_GETOWN_EX, &ex));
  printf("type %d pid %d\n", ex.type, ex.pid);
  printf("F_GETOWN before any owner: %d\n", fcntl(p[0], F_GETOWN));
  show("F_SETOWN of no process", fcntl(p[0], F_SETOWN, 999999));
  struct f_owner_ex bad = {7, getpid()};
  show("F_SETOWN_EX of an unknown type", fcntl(p[0], F_SETOWN_EX, &bad));

  // O_ASYNC with no owner: nothing.
  show("O_ASYNC on", fcntl(p[0], F_SETFL, O_ASYNC));
  write(p[1], "a", 1);
  expect("write with no owner", 100);
  char c;
  read(p[0], &c, 1);

  show("F_SETOWN me", fcntl(p[0], F_SETOWN, getpid()));
  printf("F_GETOWN is me: %s\n", fcntl(p[0], F_GETOWN) == getpid() ? "yes" : "no");
  fcntl(p[0], F_GETOWN_EX, &ex);
  printf("F_GETOWN_EX type %d is me: %s\n", ex.type, ex.pid == getpid() ? "yes" : "no");
  write(p[1], "b", 1);
  expect("write, plain SIGIO", 5000);
  read(p[0], &c, 1);

  show("F_SETSIG SIGRTMIN", fcntl(p[0], F_SETSIG, SIGRTMIN));
  write(p[1], "c", 1);
  expect("write, F_SETSIG", 5000);
  read(p[0], &c, 1);
  expect("after the read, nothing more", 100);

  // O_ASYNC off on the read end: the writes below tell it nothing.
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  // The write end: told when a read makes room in a full pipe.
  fcntl(p[1], F_SETOWN, getpid());
  fcntl(p[1], F_SETSIG, SIGRTMIN);
  fcntl(p[1], F_SETFL, O_ASYNC | O_NONBLOCK);
  static char fill[65536];
  while (write(p[1], fill, sizeof fill) > 0) {
  }
  expect("filling, nothing for the writer", 100);
  read(p[0], fill, sizeof fill);
  expect("a read made room", 5000);
  // Linux tells the writer of each read that frees a slot: how many that makes is not asked.
  fcntl(p[1], F_SETFL, O_NONBLOCK);
  while (read(p[0], fill, sizeof fill) > 0) {
  }
  for (;;) {
    sigset_t io;
    sigemptyset(&io);
    sigaddset(&io, SIGRTMIN);
    struct timespec zero = {0, 0};
    if (sigtimedwait(&io, NULL, &zero) < 0) break;
  }

  // A process group owner, and FIOASYNC on a socket.
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  show("F_SETOWN my group", fcntl(sv[1], F_SETOWN, -getpgrp()));
  printf("F_GETOWN is minus my group: %s\n", fcntl(sv[1], F_GETOWN) == -getpgrp() ? "yes" : "no");
  int on = 1;
  show("FIOASYNC", ioctl(sv[1], FIOASYNC, &on));
  printf("O_ASYNC set: %s\n", fcntl(sv[1], F_GETFL) & O_ASYNC ? "yes" : "no");
  fcntl(sv[1], F_SETSIG, SIGRTMIN);
  write(sv[0], "e", 1);
  expect("socket data", 5000);
  read(sv[1], &c, 1);
  close(sv[0]);
  expect("peer closed", 5000);
  struct f_owner_ex tid = {F_OWNER_TID, gettid()};
  show("F_SETOWN_EX my thread", fcntl(sv[1], F_SETOWN_EX, &tid));
  fcntl(sv[1], F_GETOWN_EX, &ex);
  printf("F_GETOWN_EX type %d is my thread: %s\n", ex.type, ex.pid == gettid() ? "yes" : "no");
  show("F_SETOWN 0", fcntl(sv[1], F_SETOWN, 0));
  fcntl(sv[1], F_GETOWN_EX, &ex);
  printf("after F_SETOWN 0: type %d pid %d\n", ex.type, ex.pid);
  return 0;
}
