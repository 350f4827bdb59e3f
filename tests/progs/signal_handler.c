// Signal handlers: SA_SIGINFO with si_code/si_pid, the mask inside a handler, SA_NODEFER,
// SA_RESETHAND, pending blocked signals, sigsuspend, and state (general and SSE registers)
// restored by sigreturn.
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int hits, code, sender_ok, blocked_inside, depth, max_depth;

static void on_usr1(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  hits++;
  code = si->si_code;
  sender_ok = si->si_pid == getpid();
  sigset_t cur;
  sigprocmask(SIG_BLOCK, NULL, &cur);
  blocked_inside = sigismember(&cur, sig);
}

static void nested(int sig) {
  depth++;
  if (depth > max_depth) max_depth = depth;
  if (depth < 3) raise(sig);
  depth--;
}

static void clobber(int sig) {
  (void)sig;
  // Use SSE registers heavily; sigreturn must give the interrupted code its own back.
  volatile double x = 1.0;
  for (int i = 0; i < 100; i++) x = x * 1.0001 + 0.5;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  kill(getpid(), SIGUSR1);
  printf("handler ran %d time(s), si_code=%d, sender is me: %d, blocked inside: %d\n", hits,
         code, sender_ok, blocked_inside);

  // Blocked: stays pending until unblocked, then runs once.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, &old);
  kill(getpid(), SIGUSR1);
  kill(getpid(), SIGUSR1);
  sigset_t pend;
  sigpending(&pend);
  printf("pending while blocked: %d, handler runs so far: %d\n", sigismember(&pend, SIGUSR1), hits);
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("after unblocking, handler runs: %d\n", hits);

  // SA_NODEFER lets a handler be re-entered.
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = nested;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGUSR2, &sa, NULL);
  raise(SIGUSR2);
  printf("nested depth with SA_NODEFER: %d\n", max_depth);

  // SA_RESETHAND: the second delivery takes the default action (ignore for SIGURG? use
  // SIGWINCH whose default is ignore).
  static volatile int winch;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = (void (*)(int))clobber;
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGWINCH, &sa, NULL);
  raise(SIGWINCH);
  struct sigaction now;
  sigaction(SIGWINCH, NULL, &now);
  printf("after SA_RESETHAND the handler is default: %d\n", now.sa_handler == SIG_DFL);
  (void)winch;

  // Registers survive a handler that uses the FPU.
  sa.sa_handler = clobber;
  sa.sa_flags = 0;
  sigaction(SIGUSR2, &sa, NULL);
  double a = 3.25, b = 1.5;
  long r = 0x1234;
  raise(SIGUSR2);
  printf("values after the handler: %.2f %.2f 0x%lx\n", a * 2, b + 1, r);

  // sigsuspend waits with a temporary mask and returns -1/EINTR after the handler.
  sigprocmask(SIG_BLOCK, &set, &old);
  if (fork() == 0) {
    kill(getppid(), SIGUSR1);
    _exit(0);
  }
  sigset_t wait_mask;
  sigemptyset(&wait_mask);
  int before = hits;
  int rc = sigsuspend(&wait_mask);
  sigset_t after;
  sigprocmask(SIG_BLOCK, NULL, &after);
  printf("sigsuspend returned %d, handler ran: %d, mask restored: %d\n", rc, hits - before,
         sigismember(&after, SIGUSR1));

  // Ignored signals are dropped.
  signal(SIGUSR2, SIG_IGN);
  raise(SIGUSR2);
  printf("still alive after an ignored signal\n");
  return 0;
}
