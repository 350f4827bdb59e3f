// Benchmark: a CPU-bound loop with no system calls, in T threads at once (argv[2], default 1),
// each doing N million iterations (argv[1], default 200). Prints ms: the wall time of the
// whole computation, which on an idle machine with T cores does not grow with T.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long iterations;

static void *work(void *arg) {
  // An LCG whose result is returned, so that the loop cannot be folded away.
  unsigned long x = (unsigned long)arg;
  for (long i = 0; i < iterations; i++) x = x * 6364136223846793005UL + 1442695040888963407UL;
  return (void *)x;
}

int main(int argc, char **argv) {
  iterations = (argc > 1 ? atol(argv[1]) : 200) * 1000000L;
  int threads = argc > 2 ? atoi(argv[2]) : 1;
  if (threads < 1 || threads > 64) return 2;
  pthread_t t[64];
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 1; i < threads; i++) pthread_create(&t[i], NULL, work, (void *)(long)i);
  unsigned long sum = (unsigned long)work(0);
  for (int i = 1; i < threads; i++) {
    void *r;
    pthread_join(t[i], &r);
    sum += (unsigned long)r;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("ms=%.1f\n", ((b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6));
  return sum == 42; // never true; keeps sum alive
}
