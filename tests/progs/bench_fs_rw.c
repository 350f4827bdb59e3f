// Benchmark: sequential write throughput, then sequential read throughput, in argv[4]-byte blocks
// (default 65536). Writes argv[3] MiB (default 64) to argv[1] (created and truncated; open and
// close inside the timing), then reads argv[2] from start to end (default: the file just written;
// give a file that already exists to time reads of it alone), then unlinks what it wrote.
// Prints write_mb_s and read_mb_s (MiB/s), or "<key>=failed: <call>: <error>" for a phase that
// failed (and exits 1 after trying both).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int failed(const char *key, const char *call) {
  printf("%s=failed: %s: %s\n", key, call, strerror(errno));
  return 1;
}

static int write_phase(const char *path, long total, char *buf, long bs) {
  double a = now();
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) return failed("write_mb_s", "open");
  for (long done = 0; done < total;) {
    ssize_t n = write(fd, buf, bs);
    if (n <= 0) return failed("write_mb_s", "write");
    done += n;
  }
  if (close(fd) != 0) return failed("write_mb_s", "close");
  printf("write_mb_s=%.1f\n", total / 1048576.0 / (now() - a));
  return 0;
}

static int read_phase(const char *path, char *buf, long bs) {
  double a = now();
  int fd = open(path, O_RDONLY);
  if (fd < 0) return failed("read_mb_s", "open");
  long got = 0;
  for (;;) {
    ssize_t n = read(fd, buf, bs);
    if (n < 0) return failed("read_mb_s", "read");
    if (n == 0) break;
    got += n;
  }
  close(fd);
  double t = now() - a;
  if (got == 0) {
    printf("read_mb_s=failed: %s is empty\n", path);
    return 1;
  }
  printf("read_mb_s=%.1f\n", got / 1048576.0 / t);
  return 0;
}

int main(int argc, char **argv) {
  const char *wpath = argc > 1 ? argv[1] : "/tmp/bench_fs_rw";
  const char *rpath = argc > 2 && argv[2][0] ? argv[2] : wpath;
  long mib = argc > 3 ? atol(argv[3]) : 64;
  long bs = argc > 4 ? atol(argv[4]) : 65536;
  char *buf = malloc(bs);
  if (!buf) return 1;
  memset(buf, 'x', bs);
  int bad = write_phase(wpath, mib << 20, buf, bs);
  bad |= read_phase(rpath, buf, bs);
  unlink(wpath);
  return bad;
}
