/*
 * Real-time signals queued without end: with RLIMIT_SIGPENDING at 100 and SIGRTMIN blocked,
 * sigqueue to itself succeeds 100 times and then fails with EAGAIN; all 100 are then
 * delivered in order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int main(void) {
  struct rlimit r = {100, 100};
  if (setrlimit(RLIMIT_SIGPENDING, &r)) perror("setrlimit");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int n = 0;
  for (; n < 1000000; n++) {
    union sigval v = {.sival_int = n};
    if (sigqueue(getpid(), SIGRTMIN, v)) break;
  }
  printf("queued=%d errno=%s\n", n, strerror(errno));
  int got = 0, inorder = 1;
  struct timespec zero = {0, 0};
  siginfo_t si;
  while (sigtimedwait(&set, &si, &zero) == SIGRTMIN) {
    if (si.si_value.sival_int != got) inorder = 0;
    got++;
  }
  printf("delivered=%d inorder=%d\n", got, inorder);
  return 0;
}
