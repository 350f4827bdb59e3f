// fork and wait: exit codes, deaths by signal, WNOHANG, ECHILD, waiting for a given pid,
// getppid in the child, and zombies reaped in any order.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void describe(const char *what, int st) {
  if (WIFEXITED(st)) printf("%s: exited %d\n", what, WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) printf("%s: killed by %d\n", what, WTERMSIG(st));
  else printf("%s: status 0x%x\n", what, st);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pid_t me = getpid();
  pid_t c = fork();
  if (c == 0) {
    printf("child sees parent: %s\n", getppid() == me ? "yes" : "no");
    _exit(7);
  }
  int st;
  printf("waitpid returns the child: %s\n", waitpid(c, &st, 0) == c ? "yes" : "no");
  describe("child", st);

  c = fork();
  if (c == 0) { raise(SIGTERM); _exit(0); }
  waitpid(c, &st, 0);
  describe("raised SIGTERM", st);

  c = fork();
  if (c == 0) { *(volatile int *)0 = 1; _exit(0); }
  waitpid(c, &st, 0);
  describe("null write", st);

  // A child that waits to be killed: WNOHANG sees nothing, then kill and reap it.
  c = fork();
  if (c == 0) { for (;;) pause(); }
  printf("WNOHANG while running: %d\n", (int)waitpid(c, &st, WNOHANG));
  kill(c, SIGKILL);
  waitpid(c, &st, 0);
  describe("SIGKILLed", st);

  // Three children, reaped by wait() in whatever order they end.
  int sum = 0;
  for (int i = 1; i <= 3; i++) if (fork() == 0) _exit(i * 10);
  for (int i = 0; i < 3; i++) { wait(&st); sum += WEXITSTATUS(st); }
  printf("sum of three exit codes: %d\n", sum);

  printf("wait with no children: %s\n", wait(&st) < 0 ? strerror(errno) : "success");
  printf("waitpid of a stranger: %s\n", waitpid(12345, &st, 0) < 0 ? strerror(errno) : "success");

  // waitid reports CLD_EXITED and the status.
  c = fork();
  if (c == 0) _exit(3);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  waitid(P_PID, c, &si, WEXITED);
  printf("waitid: signo=%d code=%d status=%d pid-matches=%s\n", si.si_signo, si.si_code,
         si.si_status, si.si_pid == c ? "yes" : "no");
  return 0;
}
