// fcntl(F_NOTIFY): a change in a watched directory signals the process that asked, with
// SIGIO or the F_SETSIG signal (then si_fd names the descriptor); one-shot unless
// DN_MULTISHOT, only the events asked for, and nothing after F_NOTIFY 0 or a close.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static sigset_t watched;

// The signals that arrived since the last call, as "SIG count" or "none"; blocked signals
// wait, so the answer does not depend on when a handler would have run.
static void drain(const char *what, int dirfd) {
  struct timespec zero = {0, 0};
  siginfo_t si;
  int io = 0, rt = 0, fd_ok = 1, code = 0;
  for (;;) {
    int s = sigtimedwait(&watched, &si, &zero);
    if (s < 0) break;
    if (s == SIGIO) io++;
    else {
      rt++;
      code = si.si_code;
      if (si.si_fd != dirfd) fd_ok = 0;
    }
  }
  printf("%s: SIGIO %d, SIGRTMIN+1 %d", what, io, rt);
  if (rt) printf(" (si_code %d, si_fd %s)", code, fd_ok ? "right" : "wrong");
  printf("\n");
}

static void touch(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT, 0644);
  close(fd);
}

static void show(const char *what, int r) {
  printf("%s: %s\n", what, r < 0 ? strerror(errno) : "ok");
}

int main(void) {
  sigemptyset(&watched);
  sigaddset(&watched, SIGIO);
  sigaddset(&watched, SIGRTMIN + 1);
  sigprocmask(SIG_BLOCK, &watched, NULL);
  mkdir("/tmp/d", 0755);
  int d = open("/tmp/d", O_RDONLY | O_DIRECTORY);

  // SIGIO, one-shot.
  show("F_NOTIFY DN_CREATE", fcntl(d, F_NOTIFY, DN_CREATE));
  printf("F_GETSIG: %d\n", fcntl(d, F_GETSIG));
  touch("/tmp/d/a");
  drain("create a", d);
  touch("/tmp/d/b");
  drain("create b (one-shot spent)", d);

  // The F_SETSIG signal, several times, only for the events asked for.
  show("F_SETSIG SIGRTMIN+1", fcntl(d, F_SETSIG, SIGRTMIN + 1));
  printf("F_GETSIG is SIGRTMIN+1: %s\n", fcntl(d, F_GETSIG) == SIGRTMIN + 1 ? "yes" : "no");
  show("F_NOTIFY DN_MODIFY|DN_DELETE|DN_MULTISHOT",
       fcntl(d, F_NOTIFY, DN_MODIFY | DN_DELETE | DN_MULTISHOT));
  int fa = open("/tmp/d/a", O_WRONLY);
  write(fa, "x", 1);
  drain("write a", d);
  write(fa, "y", 1);
  drain("write a again", d);
  close(fa);
  unlink("/tmp/d/b");
  drain("unlink b", d);
  chmod("/tmp/d/a", 0600);
  drain("chmod a (not asked for)", d);
  touch("/tmp/d/c");
  drain("create c (not asked for)", d);
  // A second request through the same descriptor adds its events.
  show("F_NOTIFY DN_ATTRIB|DN_RENAME|DN_MULTISHOT",
       fcntl(d, F_NOTIFY, DN_ATTRIB | DN_RENAME | DN_MULTISHOT));
  chmod("/tmp/d/a", 0644);
  drain("chmod a", d);
  rename("/tmp/d/c", "/tmp/d/e");
  drain("rename c to e", d);
  write(open("/tmp/d/a", O_WRONLY), "z", 1);
  drain("write a (still asked for)", d);

  show("F_NOTIFY 0", fcntl(d, F_NOTIFY, 0));
  unlink("/tmp/d/e");
  drain("unlink e after F_NOTIFY 0", d);

  // Closing the descriptor ends the request.
  int d2 = open("/tmp/d", O_RDONLY | O_DIRECTORY);
  fcntl(d2, F_NOTIFY, DN_CREATE | DN_MULTISHOT);
  close(d2);
  touch("/tmp/d/f");
  drain("create f after close", d);

  // Only a directory, only a signal number.
  int f = open("/tmp/d/a", O_RDONLY);
  show("F_NOTIFY on a file", fcntl(f, F_NOTIFY, DN_CREATE));
  show("F_SETSIG 65", fcntl(d, F_SETSIG, 65));
  show("F_SETSIG -1", fcntl(d, F_SETSIG, -1));
  show("F_SETSIG 0", fcntl(d, F_SETSIG, 0));
  return 0;
}
