// Calls that reach into another process, as an unprivileged-looking program uses them: ptrace
// of a process the caller does not trace, process_vm_readv/writev, kcmp, and pidfds
// (pidfd_open, pidfd_send_signal, poll and waitid(P_PIDFD) on one, pidfd_getfd).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#define KCMP_FILE 0
#define KCMP_VM 1
#define KCMP_FILES 2

static char buf[64] = "the parent's bytes";

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerror(errno));
  else printf("%s: %ld\n", what, r);
}

static long kcmp(pid_t a, pid_t b, int type, long x, long y) {
  return syscall(SYS_kcmp, a, b, type, x, y);
}

static const char *cmp(long r) {
  return r < 0 ? strerror(errno) : r == 0 ? "same" : (r == 1 || r == 2) ? "differ" : "?";
}

// A child that waits for a byte on `in`, then exits with 1 if its buf was rewritten.
static pid_t waiting_child(int in) {
  pid_t c = fork();
  if (c == 0) {
    strcpy(buf, "the child's bytes");
    char b;
    if (read(in, &b, 1) != 1) _exit(2);
    _exit(strcmp(buf, "written by the parent") == 0);
  }
  return c;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int p[2];
  if (pipe(p) != 0) return 1;
  pid_t c = waiting_child(p[0]);
  usleep(50 * 1000); // the child has written its buf

  printf("-- ptrace of a process not traced\n");
  errno = 0;
  show("PEEKDATA on a child", ptrace(PTRACE_PEEKDATA, c, buf, 0) == -1 && errno ? -1 : 0);
  show("KILL on a child", ptrace(PTRACE_KILL, c, 0, 0));
  show("ATTACH to itself", ptrace(PTRACE_ATTACH, getpid(), 0, 0));
  show("ATTACH to no process", ptrace(PTRACE_ATTACH, 999999, 0, 0));

  printf("-- process_vm_readv/writev\n");
  char got[64] = {0};
  struct iovec l = {got, sizeof got}, r = {buf, 18};
  show("read itself", process_vm_readv(getpid(), &l, 1, &r, 1, 0));
  printf("  got \"%s\"\n", got);
  memset(got, 0, sizeof got);
  show("read the child", process_vm_readv(c, &l, 1, &r, 1, 0));
  printf("  got \"%s\"\n", got);
  struct iovec two[2] = {{buf, 8}, {(void *)16, 8}};
  show("read with a bad second range", process_vm_readv(c, &l, 1, two, 2, 0));
  struct iovec bad = {(void *)16, 8};
  show("read a bad range", process_vm_readv(c, &l, 1, &bad, 1, 0));
  show("read with flags", process_vm_readv(c, &l, 1, &r, 1, 1));
  show("read no process", process_vm_readv(999999, &l, 1, &r, 1, 0));
  // Another user may not read root's process: a child that became uid 1000 (no capability).
  pid_t u = fork();
  if (u == 0) {
    if (setgid(1000) != 0 || setuid(1000) != 0) _exit(2);
    int bits = 0;
    if (process_vm_readv(getppid(), &l, 1, &r, 1, 0) < 0 && errno == EPERM) bits |= 1;
    int fd0 = syscall(SYS_pidfd_open, getppid(), 0);
    if (fd0 >= 0 && syscall(SYS_pidfd_getfd, fd0, 1, 0) < 0 && errno == EPERM) bits |= 2;
    if (kcmp(getpid(), getppid(), KCMP_VM, 0, 0) < 0 && errno == EPERM) bits |= 4;
    _exit(bits);
  }
  int ust = 0;
  waitpid(u, &ust, 0);
  printf("as uid 1000, EPERM from readv, getfd, kcmp: %d %d %d\n", (WEXITSTATUS(ust) & 1) != 0,
         (WEXITSTATUS(ust) & 2) != 0, (WEXITSTATUS(ust) & 4) != 0);
  char msg[] = "written by the parent";
  struct iovec wl = {msg, sizeof msg}, wr = {buf, sizeof msg};
  show("write the child", process_vm_writev(c, &wl, 1, &wr, 1, 0));

  printf("-- kcmp\n");
  int d = dup(1);
  printf("VM itself: %s\n", cmp(kcmp(getpid(), getpid(), KCMP_VM, 0, 0)));
  printf("VM with the child: %s\n", cmp(kcmp(getpid(), c, KCMP_VM, 0, 0)));
  printf("FILES with the child: %s\n", cmp(kcmp(getpid(), c, KCMP_FILES, 0, 0)));
  printf("FILE 1 and its dup: %s\n", cmp(kcmp(getpid(), getpid(), KCMP_FILE, 1, d)));
  printf("FILE 1 and the pipe: %s\n", cmp(kcmp(getpid(), getpid(), KCMP_FILE, 1, p[1])));
  printf("FILE 1 and the child's 1: %s\n", cmp(kcmp(getpid(), c, KCMP_FILE, 1, 1)));
  printf("FILE of a closed fd: %s\n", cmp(kcmp(getpid(), getpid(), KCMP_FILE, 1, 99)));
  printf("type 99: %s\n", cmp(kcmp(getpid(), getpid(), 99, 0, 0)));
  printf("no process: %s\n", cmp(kcmp(getpid(), 999999, KCMP_VM, 0, 0)));

  printf("-- pidfd\n");
  int fd = syscall(SYS_pidfd_open, c, 0);
  show("pidfd_open the child", fd >= 0 ? 0 : -1);
  printf("close-on-exec: %d\n", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  show("pidfd_open no process", syscall(SYS_pidfd_open, 999999, 0));
  show("pidfd_open bad flags", syscall(SYS_pidfd_open, c, 1));
  show("pidfd_open pid 0", syscall(SYS_pidfd_open, 0, 0));
  char b;
  show("read a pidfd", read(fd, &b, 1));
  show("signal through fd 0", syscall(SYS_pidfd_send_signal, 0, 0, NULL, 0));
  show("signal with unknown flags", syscall(SYS_pidfd_send_signal, fd, 0, NULL, 8));
  int got_fd = syscall(SYS_pidfd_getfd, fd, 1, 0);
  printf("pidfd_getfd of the child's 1 is our 1: %s\n",
         cmp(kcmp(getpid(), getpid(), KCMP_FILE, 1, got_fd)));
  show("pidfd_getfd of a closed fd", syscall(SYS_pidfd_getfd, fd, 99, 0));
  struct pollfd pf = {fd, POLLIN, 0};
  show("poll while it runs", poll(&pf, 1, 0));
  if (write(p[1], "x", 1) != 1) return 1;
  show("poll until it exits", poll(&pf, 1, 5000));
  printf("  revents 0x%x\n", pf.revents);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  show("waitid P_PIDFD", waitid(P_PIDFD, fd, &si, WEXITED));
  printf("  pid is the child %d, code %d, status %d\n", si.si_pid == c, si.si_code, si.si_status);
  pf.revents = 0;
  show("poll once reaped", poll(&pf, 1, 0));
  printf("  revents 0x%x\n", pf.revents);
  show("signal once reaped", syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 0));

  // A second child killed through its pidfd.
  pid_t k = fork();
  if (k == 0) {
    pause();
    _exit(0);
  }
  int kfd = syscall(SYS_pidfd_open, k, O_NONBLOCK); // PIDFD_NONBLOCK
  show("waitid P_PIDFD, nonblocking, while it runs", waitid(P_PIDFD, kfd, &si, WEXITED));
  show("signal SIGTERM", syscall(SYS_pidfd_send_signal, kfd, SIGTERM, NULL, 0));
  struct pollfd kp = {kfd, POLLIN, 0};
  show("poll until it exits", poll(&kp, 1, 5000));
  memset(&si, 0, sizeof si);
  show("waitid P_PIDFD", waitid(P_PIDFD, kfd, &si, WEXITED));
  printf("  code %s, status %d\n", si.si_code == CLD_KILLED ? "CLD_KILLED" : "other",
         si.si_status);
  return 0;
}
