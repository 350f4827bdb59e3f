// Benchmark: signal delivery round trip, raise(SIGUSR1) to a handler and back, N times
// (argv[1], default 10000). Prints ns_per_op.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile int hits;
static void on(int s) { (void)s; hits++; }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10000;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on;
  sigaction(SIGUSR1, &sa, NULL);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) raise(SIGUSR1);
  clock_gettime(CLOCK_MONOTONIC, &b);
  if (hits != n) { printf("lost signals\n"); return 1; }
  printf("ns_per_op=%.0f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
  return 0;
}
