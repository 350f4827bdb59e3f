// Benchmark: per-file operations over argv[2] files (default 1000) named f0000, f0001, ... in
// directory argv[1] (default /files), which must exist and be readable; new files are created in
// the same directory. Each loop makes one untimed pass over the files (so that caches are warm),
// then argv[3] timed passes (default 3):
//   stat:  stat(f)
//   orc:   open(f, O_RDONLY), read up to 4 KiB, close
//   cwu:   open(c, O_CREAT|O_EXCL|O_WRONLY), write 256 bytes, close, unlink(c)
// Prints stat_ns, orc_ns and cwu_ns: nanoseconds per file per loop; a loop that fails prints
// "<key>=failed: <call>: <error>" instead, the others still run, and the exit status is 1.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static int n;
static char buf[4096];
static const char *why; // the call that failed

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static int do_stat(int i) {
  char p[512];
  struct stat st;
  snprintf(p, sizeof p, "%s/f%04d", dir, i);
  if (stat(p, &st) != 0) { why = "stat"; return -1; }
  return 0;
}

static int do_orc(int i) {
  char p[512];
  snprintf(p, sizeof p, "%s/f%04d", dir, i);
  int fd = open(p, O_RDONLY);
  if (fd < 0) { why = "open"; return -1; }
  if (read(fd, buf, sizeof buf) < 0) { why = "read"; return -1; }
  if (close(fd) != 0) { why = "close"; return -1; }
  return 0;
}

static int do_cwu(int i) {
  char p[512];
  snprintf(p, sizeof p, "%s/c%04d", dir, i);
  int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
  if (fd < 0) { why = "open O_CREAT"; return -1; }
  if (write(fd, buf, 256) != 256) { why = "write"; return -1; }
  if (close(fd) != 0) { why = "close"; return -1; }
  if (unlink(p) != 0) { why = "unlink"; return -1; }
  return 0;
}

// Runs op over every file, passes times; returns ns per file, or -1 when an op failed.
static double loop(int (*op)(int), int passes) {
  double a = now_ns();
  for (int r = 0; r < passes; r++) {
    for (int i = 0; i < n; i++) {
      if (op(i) != 0) return -1;
    }
  }
  return (now_ns() - a) / ((double)passes * n);
}

static int report(const char *key, int (*op)(int), int passes) {
  if (loop(op, 1) < 0) goto fail; // an untimed pass, so that caches are warm
  double t = loop(op, passes);
  if (t < 0) goto fail;
  printf("%s=%.0f\n", key, t);
  return 0;
fail:
  printf("%s=failed: %s: %s\n", key, why, strerror(errno));
  return 1;
}

int main(int argc, char **argv) {
  dir = argc > 1 ? argv[1] : "/files";
  n = argc > 2 ? atoi(argv[2]) : 1000;
  int passes = argc > 3 ? atoi(argv[3]) : 3;
  memset(buf, 'w', sizeof buf);
  int bad = report("stat_ns", do_stat, passes);
  bad |= report("orc_ns", do_orc, passes);
  bad |= report("cwu_ns", do_cwu, passes);
  return bad;
}
