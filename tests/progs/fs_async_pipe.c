// O_ASYNC on both ends of a pipe, as Linux does it: every read(2) of a non-zero length (even
// one that frees no slot, or fails with EAGAIN) signals the write end's owner with POLL_OUT,
// every write(2) the read end's with POLL_IN; closing an end signals the other. Realtime
// signals queue, so the counts show each one.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int p[2], q[2];

// Takes every queued signal: SIGRTMIN for a write end, SIGRTMIN+1 for a read end.
static void count(const char *what) {
  sigset_t io;
  sigemptyset(&io);
  sigaddset(&io, SIGRTMIN);
  sigaddset(&io, SIGRTMIN + 1);
  struct timespec zero = {0, 0};
  siginfo_t si;
  int w = 0, r = 0;
  char codes[256] = "";
  for (;;) {
    int s = sigtimedwait(&io, &si, &zero);
    if (s < 0) break;
    if (s == SIGRTMIN) w++;
    else r++;
    if (strlen(codes) < sizeof codes - 32) {
      sprintf(codes + strlen(codes), " %d/%#lx/%d", si.si_code, (long)si.si_band, si.si_fd);
    }
  }
  printf("%s: writer %d, reader %d;%s\n", what, w, r, codes);
}

static void async(int fd, int sig) {
  fcntl(fd, F_SETOWN, getpid());
  fcntl(fd, F_SETSIG, sig);
  fcntl(fd, F_SETFL, O_ASYNC | O_NONBLOCK);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGPIPE, SIG_IGN);
  sigset_t b;
  sigemptyset(&b);
  sigaddset(&b, SIGRTMIN);
  sigaddset(&b, SIGRTMIN + 1);
  sigprocmask(SIG_BLOCK, &b, NULL);
  if (pipe(p) || pipe(q)) return 1;
  async(p[1], SIGRTMIN);
  async(p[0], SIGRTMIN + 1);
  fcntl(q[0], F_SETFL, O_NONBLOCK);
  count("set up");
  static char buf[1 << 17];
  write(p[1], "ab", 2);
  count("write 2 bytes");
  write(p[1], "cd", 2);
  count("write 2 more bytes (same slot)");
  read(p[0], buf, 1);
  count("read 1 byte (no slot freed)");
  read(p[0], buf, 3);
  count("read 3 bytes (slot freed)");
  read(p[0], buf, 1);
  count("read of an empty pipe (EAGAIN)");
  write(p[1], buf, 0);
  count("write 0 bytes");
  read(p[0], buf, 0);
  count("read 0 bytes");
  while (write(p[1], buf, 4096) > 0) {
  }
  count("fill with 4096-byte writes, the last EAGAIN");
  read(p[0], buf, 3 * 4096);
  count("read 3 slots of a full pipe");
  read(p[0], buf, 100);
  count("read 100 bytes");
  write(p[1], buf, 8192);
  count("write 2 slots");
  while (read(p[0], buf, sizeof buf) > 0) {
  }
  count("drain, the last read EAGAIN");

  // splice and tee: q's ends are not async; p's are.
  write(p[1], "0123456789", 10);
  count("write 10 bytes");
  printf("splice: %zd\n", splice(p[0], NULL, q[1], NULL, 4, 0));
  count("splice 4 bytes out of p (no slot freed)");
  printf("splice: %zd\n", splice(p[0], NULL, q[1], NULL, 6, 0));
  count("splice the other 6 bytes out of p (slot freed)");
  printf("splice: %zd\n", splice(p[0], NULL, q[1], NULL, 6, SPLICE_F_NONBLOCK));
  count("splice out of the empty p (EAGAIN)");
  printf("splice: %zd\n", splice(q[0], NULL, p[1], NULL, 4, 0));
  count("splice 4 bytes into p");
  printf("splice: %zd\n", splice(q[0], NULL, p[1], NULL, 4, 0));
  count("splice 4 more bytes into p");
  printf("tee: %zd\n", tee(p[0], q[1], 3, 0));
  count("tee 3 bytes out of p");
  while (read(q[0], buf, sizeof buf) > 0) {
  }
  write(q[1], "xyz", 3);
  printf("tee: %zd\n", tee(q[0], p[1], 3, 0));
  count("tee 3 bytes into p");

  close(p[0]);
  count("close the read end");
  errno = 0;
  ssize_t n = write(p[1], "z", 1);
  printf("write with no reader: %zd %s\n", n, strerror(errno));
  count("after that write");
  return 0;
}
