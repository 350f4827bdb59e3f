// Benchmark: list a directory with getdents64 (32 KiB buffer), argv[3] times (default 10):
// open, getdents64 to the end, close. argv[1] is the directory (default /d), which must hold
// argv[2] entries besides . and .. (default 10000). Prints first_us (the first listing) and
// us_per_listing (the mean of the others).
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static long list(const char *dir) {
  static char buf[32768];
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -1;
  long entries = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) { close(fd); return -1; }
    if (n == 0) break;
    for (long off = 0; off < n;) {
      struct dirent64 *d = (struct dirent64 *)(buf + off);
      entries++;
      off += d->d_reclen;
    }
  }
  close(fd);
  return entries;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/d";
  long want = (argc > 2 ? atol(argv[2]) : 10000) + 2;
  int reps = argc > 3 ? atoi(argv[3]) : 10;
  if (reps < 2) reps = 2;
  double first = 0, rest = 0;
  for (int i = 0; i < reps; i++) {
    double a = now_us();
    long got = list(dir);
    double t = now_us() - a;
    if (got != want) { printf("listed %ld entries, want %ld\n", got, want); return 1; }
    if (i == 0) first = t; else rest += t;
  }
  printf("first_us=%.0f\nus_per_listing=%.0f\n", first, rest / (reps - 1));
  return 0;
}
