// signalfd: blocked signals read as signalfd_siginfo, from kill and from a child, with poll.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>
#include "probe.h"

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int fd = signalfd(-1, &set, SFD_NONBLOCK);
  show("signalfd", fd >= 0 ? 0 : -1);
  struct signalfd_siginfo si;
  show("read with nothing pending", read(fd, &si, sizeof si));
  kill(getpid(), SIGUSR1);
  struct pollfd p = {fd, POLLIN, 0};
  show("poll", poll(&p, 1, 1000));
  show("read", read(fd, &si, sizeof si));
  printf("signo %u from me: %s code SI_USER: %s\n", si.ssi_signo,
         si.ssi_pid == (unsigned)getpid() ? "yes" : "no", si.ssi_code == SI_USER ? "yes" : "no");
  show("short buffer", read(fd, &si, 8));
  int fd2 = signalfd(fd, &set, 0);
  printf("update keeps fd: %s\n", fd2 == fd ? "yes" : "no");
  fcntl(fd, F_SETFL, 0);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    usleep(50000);
    kill(getppid(), SIGUSR2);
    _exit(0);
  }
  show("blocking read", read(fd, &si, sizeof si));
  printf("signo %u from child: %s\n", si.ssi_signo, si.ssi_pid == (unsigned)c ? "yes" : "no");
  waitpid(c, NULL, 0);
  // sigqueue's value reads back as ssi_int and ssi_ptr, with nothing in the fields around them.
  union sigval sv = {.sival_ptr = (void *)0x1234567887654321};
  show("sigqueue", sigqueue(getpid(), SIGUSR1, sv));
  memset(&si, 0xff, sizeof si);
  show("read queued", read(fd, &si, sizeof si));
  printf("code SI_QUEUE: %s int %x ptr %llx utime %llu addr %llx\n",
         si.ssi_code == SI_QUEUE ? "yes" : "no", (unsigned)si.ssi_int,
         (unsigned long long)si.ssi_ptr, (unsigned long long)si.ssi_utime,
         (unsigned long long)si.ssi_addr);
  return 0;
}
