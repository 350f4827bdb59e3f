// SIGCHLD: the parent's handler gets CLD_EXITED with the child's pid and status; SIG_IGN for
// SIGCHLD makes children reap themselves (wait then fails with ECHILD); kill(0) reaches the
// process group.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int got, code, status, pid;
static void on_chld(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)uc;
  got++;
  code = si->si_code;
  status = si->si_status;
  pid = si->si_pid;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_chld;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGCHLD, &sa, NULL);
  pid_t c = fork();
  if (c == 0) _exit(9);
  int st;
  waitpid(c, &st, 0);
  printf("SIGCHLD: got=%d code=%d status=%d pid-matches=%d\n", got, code, status, pid == c);

  signal(SIGCHLD, SIG_IGN);
  c = fork();
  if (c == 0) _exit(1);
  int rc = waitpid(c, &st, 0);
  printf("with SIGCHLD ignored: %d %s\n", rc, rc < 0 ? strerror(errno) : "");
  return 0;
}
