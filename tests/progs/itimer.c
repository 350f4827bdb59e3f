// Time: an interval ITIMER_REAL delivers SIGALRM repeatedly, alarm() reports what was left,
// nanosleep interrupted by a signal returns EINTR with the remaining time, clocks advance.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile int alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 20000}, {0, 20000}};
  setitimer(ITIMER_REAL, &it, NULL);
  while (alarms < 3) pause();
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  printf("alarms received: %d\n", alarms >= 3);

  alarm(10);
  printf("alarm left: %u\n", alarm(0));

  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  struct timespec d = {0, 30 * 1000 * 1000};
  nanosleep(&d, NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
  printf("slept at least 30ms: %d\n", ms >= 30);

  sa.sa_flags = 0;  // no SA_RESTART: the sleep ends with EINTR
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval once = {{0, 0}, {0, 50000}};
  setitimer(ITIMER_REAL, &once, NULL);
  struct timespec longsleep = {5, 0}, rem = {0, 0};
  int rc = nanosleep(&longsleep, &rem);
  printf("interrupted nanosleep: rc=%d %s, remaining between 4 and 5 s: %d\n", rc,
         rc < 0 ? strerror(errno) : "", rem.tv_sec >= 4 && rem.tv_sec < 5);
  return 0;
}
