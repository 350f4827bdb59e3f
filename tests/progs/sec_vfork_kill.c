// A parent blocked in vfork (waiting for its child to exec or exit) dies on SIGKILL and on its
// group's exit, and the child goes on; an ordinary signal waits until vfork returns.
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int rep[2], go[2], go2[2];

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "timeout: the vfork parent did not end\n";
  write(1, msg, sizeof msg - 1);
  _exit(3);
}

// The vfork child: says it runs, waits to be let go, says it went on, exits.
static void child_side(void) {
  char c;
  write(rep[1], "C", 1);
  read(go[0], &c, 1);
  write(rep[1], "c", 1);
  _exit(0);
}

static void *group_exit_thread(void *arg) {
  (void)arg;
  char c;
  read(go2[0], &c, 1);
  syscall(SYS_exit_group, 7);
  return NULL;
}

static volatile sig_atomic_t handled;
static void on_usr1(int sig) {
  (void)sig;
  handled = 1;
}

static void expect(char want) {
  char c = 0;
  if (read(rep[0], &c, 1) != 1 || c != want) {
    printf("unexpected report '%c' (wanted '%c')\n", c, want);
    exit(1);
  }
}

static void report_status(const char *what, int st) {
  if (WIFSIGNALED(st)) printf("%s: killed by signal %d\n", what, WTERMSIG(st));
  else printf("%s: exited %d\n", what, WEXITSTATUS(st));
}

// how: 0 = SIGKILL from outside, 1 = another thread's exit_group, 2 = SIGUSR1 (handled, so
// not fatal), 3 = SIGTERM with its default action (fatal: it ends the wait as SIGKILL does).
static void run_case(int how) {
  if (pipe(rep) || pipe(go) || pipe(go2)) { perror("pipe"); exit(1); }
  fflush(stdout);
  pid_t v = fork();
  if (v == 0) {
    if (how == 1) {
      pthread_t th;
      pthread_create(&th, NULL, group_exit_thread, NULL);
    }
    if (how == 2) signal(SIGUSR1, on_usr1);
    pid_t c = vfork();
    if (c == 0) child_side();
    // Only the non-fatal case gets here: vfork ended normally, then the handler ran.
    char line[64];
    int n = snprintf(line, sizeof line, "V%d%d", c > 0, (int)handled);
    write(rep[1], line, n);
    _exit(0);
  }
  expect('C');  // the child runs: v is blocked in vfork
  if (how == 0) kill(v, SIGKILL);
  if (how == 3) kill(v, SIGTERM);
  if (how == 1) write(go2[1], "x", 1);
  if (how == 2) {
    kill(v, SIGUSR1);
    usleep(100 * 1000);
    write(go[1], "x", 1);  // the child goes on first, then v's vfork returns
    expect('c');
    char buf[3];
    expect('V');
    read(rep[0], buf, 2);
    buf[2] = 0;
    printf("usr1: vfork returned a pid %c, handler ran after it %c\n", buf[0], buf[1]);
  }
  alarm(5);
  int st;
  if (waitpid(v, &st, 0) != v) { perror("waitpid"); exit(1); }
  alarm(0);
  static const char *names[] = {"sigkill", "exit_group", "usr1", "sigterm"};
  report_status(names[how], st);
  if (how != 2) {
    write(go[1], "x", 1);
    expect('c');
    printf("the vfork child went on\n");
  }
  close(rep[0]); close(rep[1]); close(go[0]); close(go[1]); close(go2[0]); close(go2[1]);
}

int main(void) {
  signal(SIGALRM, on_alarm);
  for (int how = 0; how < 4; how++) run_case(how);
  return 0;
}
