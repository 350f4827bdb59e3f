// Pseudo-terminals: /dev/ptmx and /dev/pts/N, the line discipline (canonical lines, echo,
// erase, EOF, ICRNL/ONLCR, raw mode), window size and terminal ioctls.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "fs_setup.h"
#include "probe.h"

static void print_read(const char *what, const char *buf, int n) {
  printf("%s: %d [", what, n);
  for (int i = 0; i < n; i++) {
    if (buf[i] >= 32 && buf[i] < 127) putchar(buf[i]);
    else printf("\\x%02x", (unsigned char)buf[i]);
  }
  printf("]\n");
}

static void readshow(const char *what, int fd) {
  char buf[128];
  int n = read(fd, buf, sizeof buf);
  if (n < 0) { printf("%s: %s\n", what, strerror(errno)); return; }
  print_read(what, buf, n);
}

// Reads on the master side: Linux moves a pty's output (echo included) to the master
// asynchronously, so one read may see part of it. Collect until 100 ms pass with nothing new.
static void readshow_master(const char *what, int fd) {
  char buf[128];
  int n = read(fd, buf, sizeof buf);
  if (n < 0) { printf("%s: %s\n", what, strerror(errno)); return; }
  struct pollfd p = {.fd = fd, .events = POLLIN};
  while (n < (int)sizeof buf && poll(&p, 1, 100) > 0 && (p.revents & POLLIN)) {
    int m = read(fd, buf + n, sizeof buf - n);
    if (m <= 0) break;
    n += m;
  }
  print_read(what, buf, n);
}

int main(void) {
  fs_setup();
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  show("posix_openpt", m >= 0 ? 0 : -1);
  show("grantpt", grantpt(m));
  show("unlockpt", unlockpt(m));
  printf("ptsname: %s\n", ptsname(m));
  int s = open(ptsname(m), O_RDWR | O_NOCTTY);
  show("open slave", s >= 0 ? 0 : -1);
  printf("isatty master %d slave %d\n", isatty(m), isatty(s));
  printf("ttyname: %s\n", ttyname(s));
  struct termios t;
  tcgetattr(s, &t);
  printf("canonical %d echo %d icrnl %d onlcr %d\n", !!(t.c_lflag & ICANON),
         !!(t.c_lflag & ECHO), !!(t.c_iflag & ICRNL), !!(t.c_oflag & ONLCR));

  write(m, "hello\r", 6);
  readshow("slave reads a line", s);
  readshow_master("master reads the echo", m);
  write(s, "out\n", 4);
  readshow_master("master reads slave output", m);
  write(m, "ab\x7f" "c\n", 5);
  readshow("slave reads after erase", s);
  readshow_master("echo of erase", m);
  write(m, "\x04", 1);
  readshow("slave reads EOF", s);
  write(m, "partial", 7);
  fcntl(s, F_SETFL, O_NONBLOCK);
  readshow("no line yet", s);
  fcntl(s, F_SETFL, 0);
  write(m, "\n", 1);
  readshow("line completed", s);
  readshow_master("echo", m);

  struct termios raw = t;
  cfmakeraw(&raw);
  show("tcsetattr raw", tcsetattr(s, TCSANOW, &raw));
  write(m, "xyz", 3);
  readshow("raw read", s);
  write(s, "a\nb", 3);
  readshow_master("raw output", m);

  struct winsize ws = {.ws_row = 24, .ws_col = 80};
  show("TIOCSWINSZ", ioctl(m, TIOCSWINSZ, &ws));
  struct winsize got = {0};
  ioctl(s, TIOCGWINSZ, &got);
  printf("winsize %dx%d\n", got.ws_row, got.ws_col);
  int avail = -1;
  write(m, "qq", 2);
  // Linux hands master input to the slave asynchronously: wait for it, however long a loaded
  // host takes.
  struct pollfd p = {s, POLLIN, 0};
  poll(&p, 1, 10000);
  ioctl(s, FIONREAD, &avail);
  printf("FIONREAD %d\n", avail);
  show("poll slave", poll(&p, 1, 0));
  readshow("drain", s);
  show("TIOCGPGRP without ctty", ioctl(s, TIOCGPGRP, &avail));
  show("open /dev/tty without ctty", open("/dev/tty", O_RDWR));
  close(s);
  readshow_master("master after slave closed", m);
  int m2 = open("/dev/ptmx", O_RDWR | O_NOCTTY);
  show("second pty locked open", open(ptsname(m2), O_RDWR | O_NOCTTY));
  int n = -1;
  ioctl(m2, TIOCGPTN, &n);
  printf("second pty number %d\n", n);
  return 0;
}
