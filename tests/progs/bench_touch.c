// Benchmark: first touch of fresh anonymous memory, per 4 KiB page, over argv[1] MiB
// (default 64). Prints ns_per_op.
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 64;
  long len = mib << 20, pages = len / 4096;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 1;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < pages; i++) p[i * 4096] = 1;
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("ns_per_op=%.0f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / pages);
  return 0;
}
