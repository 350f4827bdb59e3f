// Benchmark: futex ping-pong between two threads, N round trips (argv[1], default 10000).
// Prints ns_per_op (one round trip: two waits and two wakes).
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic int turn;
static int n;

static void wait_for(int v) {
  while (atomic_load(&turn) != v) syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, !v, NULL, NULL, 0);
}
static void give(int v) {
  atomic_store(&turn, v);
  syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
static void *pong(void *a) {
  for (int i = 0; i < n; i++) { wait_for(1); give(0); }
  return a;
}

int main(int argc, char **argv) {
  n = argc > 1 ? atoi(argv[1]) : 10000;
  pthread_t t;
  pthread_create(&t, NULL, pong, NULL);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) { give(1); wait_for(0); }
  clock_gettime(CLOCK_MONOTONIC, &b);
  pthread_join(t, NULL);
  printf("ns_per_op=%.0f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
  return 0;
}
