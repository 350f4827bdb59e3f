// Per-thread CPU time: a thread that computed for a while and exited leaves nothing on the
// next thread's account (RUSAGE_THREAD starts near zero for a new thread), while the
// process's total (RUSAGE_SELF) keeps the first thread's time.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

static long ms_of(struct timeval tv) { return tv.tv_sec * 1000 + tv.tv_usec / 1000; }

static long thread_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return ms_of(ru.ru_utime) + ms_of(ru.ru_stime);
}

static void *spin(void *arg) {
  volatile unsigned long x = 0;
  // Compute until this thread has 100 ms of CPU time, however busy the host: a wall-time bound
  // gave it less than 60 ms on a loaded host. The 10 s cap ends a thread whose time never counts.
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    for (int i = 0; i < 100000; i++) x += i;
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (thread_ms() < 100 && now.tv_sec - start.tv_sec < 10);
  return arg;
}

static void *measure(void *arg) {
  *(long *)arg = thread_ms();
  return NULL;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, spin, NULL);
  pthread_join(t, NULL);
  long fresh = -1;
  pthread_create(&t, NULL, measure, &fresh);
  pthread_join(t, NULL);
  struct rusage self;
  getrusage(RUSAGE_SELF, &self);
  printf("a new thread's CPU time is under 30 ms: %d\n", fresh >= 0 && fresh < 30);
  printf("the process's includes the exited thread's (over 60 ms): %d\n",
         ms_of(self.ru_utime) + ms_of(self.ru_stime) > 60);
  return 0;
}
