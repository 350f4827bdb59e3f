// Benchmark: pipe throughput between two processes. The child writes argv[1] MiB (default 64) in
// argv[2]-byte blocks (default 65536) into a pipe; the parent reads it all. Prints mb_s (MiB/s,
// from the parent's first read to EOF and the child's exit).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 64;
  long bs = argc > 2 ? atol(argv[2]) : 65536;
  long total = mib << 20;
  char *buf = malloc(bs);
  if (!buf) return 1;
  memset(buf, 'p', bs);
  int p[2];
  if (pipe(p) != 0) { perror("pipe"); return 1; }
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  pid_t c = fork();
  if (c < 0) { perror("fork"); return 1; }
  if (c == 0) {
    close(p[0]);
    for (long done = 0; done < total;) {
      ssize_t n = write(p[1], buf, bs);
      if (n <= 0) _exit(1);
      done += n;
    }
    _exit(0);
  }
  close(p[1]);
  long got = 0;
  for (;;) {
    ssize_t n = read(p[0], buf, bs);
    if (n < 0) { perror("read"); return 1; }
    if (n == 0) break;
    got += n;
  }
  int st;
  waitpid(c, &st, 0);
  clock_gettime(CLOCK_MONOTONIC, &b);
  if (got != total || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    printf("read %ld of %ld bytes\n", got, total);
    return 1;
  }
  double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  printf("mb_s=%.1f\n", mib / s);
  return 0;
}
