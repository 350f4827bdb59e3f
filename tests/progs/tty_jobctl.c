// Terminal job control: a background process group that reads its controlling terminal is
// stopped by SIGTTIN (its parent sees the stop), and reads once made the foreground and
// continued; with SIGTTIN ignored the read fails with EIO; with TOSTOP a background write
// is stopped by SIGTTOU, and goes through when SIGTTOU is ignored.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  grantpt(m);
  unlockpt(m);
  char sn[64];
  strcpy(sn, ptsname(m));
  pid_t leader = fork();
  if (leader == 0) {
    setsid();
    int s = open(sn, O_RDWR);  // a session leader's first terminal becomes its controlling one
    ioctl(s, TIOCSCTTY, 0);
    signal(SIGTTOU, SIG_IGN);  // so that the leader may move the foreground back and forth
    int st;

    pid_t bg = fork();
    if (bg == 0) {
      setpgid(0, 0);
      char buf[16];
      int n = read(s, buf, sizeof buf);
      printf("background read after continue: %d [%.*s]\n", n, n > 0 ? n - 1 : 0, buf);
      _exit(0);
    }
    setpgid(bg, bg);
    waitpid(bg, &st, WUNTRACED);
    printf("reader stopped by %s\n",
           WIFSTOPPED(st) && WSTOPSIG(st) == SIGTTIN ? "SIGTTIN" : "something else");
    tcsetpgrp(s, bg);
    write(m, "hello\n", 6);
    kill(-bg, SIGCONT);
    waitpid(bg, &st, 0);
    tcsetpgrp(s, getpgrp());

    pid_t bg2 = fork();
    if (bg2 == 0) {
      setpgid(0, 0);
      signal(SIGTTIN, SIG_IGN);
      char b;
      int n = read(s, &b, 1);
      printf("read with SIGTTIN ignored: %s\n", n < 0 ? strerror(errno) : "data");
      _exit(0);
    }
    waitpid(bg2, &st, 0);

    struct termios t;
    tcgetattr(s, &t);
    t.c_lflag |= TOSTOP;
    tcsetattr(s, TCSANOW, &t);
    pid_t bg3 = fork();
    if (bg3 == 0) {
      setpgid(0, 0);
      signal(SIGTTOU, SIG_DFL);  // the leader's ignored SIGTTOU was inherited
      write(s, "x", 1);
      printf("background write went through\n");
      _exit(0);
    }
    setpgid(bg3, bg3);
    waitpid(bg3, &st, WUNTRACED);
    printf("TOSTOP write stopped by %s\n",
           WIFSTOPPED(st) && WSTOPSIG(st) == SIGTTOU ? "SIGTTOU" : "something else");
    kill(bg3, SIGKILL);
    waitpid(bg3, &st, 0);
    pid_t bg4 = fork();
    if (bg4 == 0) {
      setpgid(0, 0);  // SIGTTOU still ignored, as inherited
      printf("write with SIGTTOU ignored: %s\n", write(s, "y", 1) == 1 ? "went through" : strerror(errno));
      _exit(0);
    }
    waitpid(bg4, &st, 0);
    _exit(0);
  }
  int st;
  waitpid(leader, &st, 0);
  printf("leader exited %d\n", WEXITSTATUS(st));
  return 0;
}
