// Pipe reads and writes at the edges: faults part way (a piece that faults is not consumed, or
// not written), null writes, readv/writev order and atomicity, F_SETPIPE_SZ with data, a long
// write met by small reads, and a blocking write cut short by a signal.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "probe.h"

static int avail(int fd) {
  int n = -1;
  ioctl(fd, FIONREAD, &n);
  return n;
}

static void on_alarm(int sig) { (void)sig; }

static volatile int sigpipes;
static void on_sigpipe(int sig) { (void)sig; sigpipes++; }

int main(void) {
  int p[2];
  char buf[16384];

  // A null write succeeds even with no reader (and raises no SIGPIPE).
  pipe(p);
  close(p[0]);
  show("null write without reader", write(p[1], buf, 0));
  close(p[1]);

  // Two pages, the second unmapped.
  char *pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(pg + 4096, 4096);
  memset(pg, 'm', 4096);

  pipe(p);
  memset(buf, 'a', 4096);
  memset(buf + 4096, 'b', 4096);
  write(p[1], buf, 8192);
  show("read into unmapped", read(p[0], pg + 4096, 10));
  printf("left: %d\n", avail(p[0]));
  show("read faulting part way", read(p[0], pg + 4096 - 100, 1000));
  printf("left: %d\n", avail(p[0]));
  show("read 5000 to a 4096 room", read(p[0], pg, 5000));
  printf("left: %d first: %c\n", avail(p[0]), pg[0]);
  read(p[0], buf, sizeof buf);

  show("write from unmapped", write(p[1], pg + 4096, 10));
  printf("buffered: %d\n", avail(p[0]));
  show("write faulting part way", write(p[1], pg + 4096 - 100, 1000));
  printf("buffered: %d\n", avail(p[0]));
  write(p[1], "x", 1);
  show("merging write faulting part way", write(p[1], pg + 4096 - 100, 1000));
  printf("buffered: %d\n", avail(p[0]));
  read(p[0], buf, sizeof buf);
  memcpy(buf, pg, 4096);
  show("write of a page then a fault", write(p[1], pg, 5000));
  printf("buffered: %d\n", avail(p[0]));
  read(p[0], buf, sizeof buf);

  // readv and writev keep the order of their pieces.
  struct iovec w[3] = {{"one-", 4}, {"two-", 4}, {"three", 5}};
  show("writev", writev(p[1], w, 3));
  char r1[3], r2[20];
  struct iovec r[2] = {{r1, 3}, {r2, sizeof r2}};
  long n = readv(p[0], r, 2);
  show("readv", n);
  printf("got: %.3s|%.*s\n", r1, (int)(n - 3), r2);

  // A writev of at most PIPE_BUF bytes is atomic, like a write.
  fcntl(p[1], F_SETFL, O_NONBLOCK);
  long filled = 0;
  while ((n = write(p[1], buf, 1000)) > 0) filled += n;
  printf("filled: %ld\n", filled);
  read(p[0], buf, 3000);
  struct iovec big[2] = {{buf, 2000}, {buf, 2096}};
  show("writev 4096 with a partial page free", writev(p[1], big, 2));
  read(p[0], buf, 4096);
  show("writev 4096 with a page free", writev(p[1], big, 2));
  while (read(p[0], buf, sizeof buf) > 0 && avail(p[0]) > 0) {}
  fcntl(p[1], F_SETFL, 0);

  // F_SETPIPE_SZ keeps what is buffered, and will not drop any.
  memset(buf, 'c', 4096);
  memset(buf + 4096, 'd', 4096);
  memset(buf + 8192, 'e', 100);
  write(p[1], buf, 8192 + 100);
  show("shrink below the data", fcntl(p[1], F_SETPIPE_SZ, 4096));
  show("shrink to the data", fcntl(p[1], F_SETPIPE_SZ, 3 * 4096));
  show("GETPIPE_SZ", fcntl(p[1], F_GETPIPE_SZ));
  char out[8192 + 100];
  show("read after resize", read(p[0], out, sizeof out));
  printf("same: %s\n", memcmp(out, buf, sizeof out) ? "no" : "yes");
  fcntl(p[1], F_SETPIPE_SZ, 4096);
  fcntl(p[1], F_SETFL, O_NONBLOCK);
  filled = 0;
  while ((n = write(p[1], buf, 512)) > 0) filled += n;
  printf("one page pipe holds: %ld\n", filled);
  read(p[0], buf, sizeof buf);
  fcntl(p[1], F_SETFL, 0);
  close(p[0]);
  close(p[1]);

  // A long write is met by many small reads, bytes in order.
  pipe(p);
  const long total = 1 << 20;
  fflush(stdout);
  if (fork() == 0) {
    close(p[0]);
    char *data = malloc(total);
    for (long i = 0; i < total; i++) data[i] = (char)(i * 7 + i / 4093);
    show("long write", write(p[1], data, total));
    fflush(stdout);
    _exit(0);
  }
  close(p[1]);
  long got = 0, bad = 0;
  for (;;) {
    long m = read(p[0], buf, 777);
    if (m <= 0) break;
    for (long i = 0; i < m; i++) if (buf[i] != (char)((got + i) * 7 + (got + i) / 4093)) bad++;
    got += m;
  }
  wait(NULL);
  printf("read %ld bytes, %ld wrong\n", got, bad);
  close(p[0]);

  // The reader goes while a write waits for room: the write reports what it wrote, and
  // SIGPIPE is raised all the same.
  pipe(p);
  struct sigaction sp = {0};
  sp.sa_handler = on_sigpipe;
  sigaction(SIGPIPE, &sp, NULL);
  fflush(stdout);
  if (fork() == 0) {
    close(p[1]);
    while (avail(p[0]) < 65536) usleep(1000);
    _exit(0);
  }
  close(p[0]);
  char *more = calloc(1, 1 << 18);
  show("write whose reader goes", write(p[1], more, 1 << 18));
  printf("SIGPIPEs: %d\n", sigpipes);
  wait(NULL);
  close(p[1]);

  // A blocking write cut short by a signal reports what it wrote.
  pipe(p);
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  // Every 100 ms, not once: on a loaded host a single alarm could come before the write
  // blocks, and the write would then wait for ever.
  struct itimerval it = {{0, 100000}, {0, 100000}}, off = {{0, 0}, {0, 0}};
  char *much = calloc(1, 1 << 18);
  setitimer(ITIMER_REAL, &it, NULL);
  show("write interrupted after 64 KiB", write(p[1], much, 1 << 18));
  show("write interrupted before any", write(p[1], much, 10));
  setitimer(ITIMER_REAL, &off, NULL);
  return 0;
}
