// clock_nanosleep on CPU-time clocks: the process clock (CLOCK_PROCESS_CPUTIME_ID and
// clock_getcpuclockid's id) and another thread's clock (pthread_getcpuclockid) sleep until
// that much CPU has been used, relative or absolute; the caller's own thread clock is EINVAL
// (it would never advance); a signal ends the sleep with EINTR and the CPU time left.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long ns(clockid_t c) {
  struct timespec ts;
  if (clock_gettime(c, &ts) != 0) return -errno;
  return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static struct timespec span(long n) {
  struct timespec ts = {n / 1000000000L, n % 1000000000L};
  return ts;
}

// clock_nanosleep returns the error number itself, not -1 with errno.
static void result(const char *what, int r) {
  printf("%s: %s\n", what, r == 0 ? "0" : strerror(r));
}

static volatile int stop;
static void *spin(void *arg) {
  volatile unsigned long x = 0;
  while (!stop) x++;
  return arg;
}

static void on_alarm(int sig) { (void)sig; }

int main(void) {
  struct timespec ts = span(1000000);
  result("own thread clock", clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &ts, NULL));
  clockid_t self;
  pthread_getcpuclockid(pthread_self(), &self);
  result("own thread clock by id", clock_nanosleep(self, 0, &ts, NULL));
  struct timespec bad = {0, 1000000000L};
  result("bad tv_nsec", clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &bad, NULL));

  pthread_t th;
  pthread_create(&th, NULL, spin, NULL);

  // Relative, on the process clock: the spinning thread's CPU time wakes the sleeper.
  long before = ns(CLOCK_PROCESS_CPUTIME_ID);
  ts = span(50000000);
  result("process clock, 50 ms", clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &ts, NULL));
  printf("process used 50 ms meanwhile: %s\n",
         ns(CLOCK_PROCESS_CPUTIME_ID) - before >= 50000000 ? "yes" : "no");

  clockid_t proc;
  printf("clock_getcpuclockid: %d\n", clock_getcpuclockid(getpid(), &proc));
  before = ns(proc);
  ts = span(30000000);
  result("process clock by id, 30 ms", clock_nanosleep(proc, 0, &ts, NULL));
  printf("process used 30 ms meanwhile: %s\n", ns(proc) - before >= 30000000 ? "yes" : "no");

  // Absolute, on the other thread's clock.
  clockid_t other;
  printf("pthread_getcpuclockid: %d\n", pthread_getcpuclockid(th, &other));
  long target = ns(other) + 40000000;
  ts = span(target);
  result("other thread clock, absolute", clock_nanosleep(other, TIMER_ABSTIME, &ts, NULL));
  printf("other thread reached the target: %s\n", ns(other) >= target ? "yes" : "no");
  // A target already passed returns at once.
  ts = span(ns(other) / 2);
  result("other thread clock, past target", clock_nanosleep(other, TIMER_ABSTIME, &ts, NULL));

  stop = 1;
  pthread_join(th, NULL);

  // Nothing runs now: the process clock barely moves, and a signal ends the sleep.
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {0, 50000}};
  setitimer(ITIMER_REAL, &it, NULL);
  ts = span(10000000000L);
  struct timespec rem = {0, 0};
  result("idle process clock, 10 s, SIGALRM after 50 ms",
         clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &ts, &rem));
  long left = rem.tv_sec * 1000000000L + rem.tv_nsec;
  printf("time left more than 9 s and at most 10 s: %s\n",
         left > 9000000000L && left <= 10000000000L ? "yes" : "no");
  return 0;
}
