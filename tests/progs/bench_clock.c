// Benchmark: reading the time as a program does, through the C library (the vDSO where the
// kernel gives one, else a system call): N clock_gettime(CLOCK_MONOTONIC) calls. Prints
// "ns_per_op=<n>". N is argv[1] (default 100000).
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  struct timespec a, b, t;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) clock_gettime(CLOCK_MONOTONIC, &t);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
  printf("ns_per_op=%.1f\n", ns / n);
  return 0;
}
