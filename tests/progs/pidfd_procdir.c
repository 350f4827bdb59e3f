// pidfd_send_signal takes a descriptor of a /proc/[pid] directory as a pidfd, as Linux does
// (CPython's test_signal opens /proc/<its pid> for it); other descriptors are EBADF.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "probe.h"

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGUSR1);
  sigprocmask(SIG_BLOCK, &m, NULL);
  char path[32];
  snprintf(path, sizeof path, "/proc/%d", getpid());
  int self = open(path, O_DIRECTORY | O_RDONLY);
  show("pidfd_send_signal(/proc/self dir)", syscall(SYS_pidfd_send_signal, self, SIGUSR1, NULL, 0));
  sigset_t p;
  sigpending(&p);
  printf("SIGUSR1 pending: %d\n", sigismember(&p, SIGUSR1));
  pid_t c = fork();
  if (c == 0) {
    pause();
    _exit(0);
  }
  snprintf(path, sizeof path, "/proc/%d", c);
  int child = open(path, O_DIRECTORY | O_RDONLY);
  show("pidfd_send_signal(child's dir, SIGKILL)", syscall(SYS_pidfd_send_signal, child, SIGKILL, NULL, 0));
  int st;
  waitpid(c, &st, 0);
  printf("child killed by signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  int file = open("/proc/self/status", O_RDONLY);
  show("pidfd_send_signal(a file)", syscall(SYS_pidfd_send_signal, file, SIGUSR1, NULL, 0));
  show("pidfd_send_signal(/proc)", syscall(SYS_pidfd_send_signal, open("/proc", O_DIRECTORY), SIGUSR1, NULL, 0));
  return 0;
}
