// timerfd (one-shot, periodic, absolute, with poll) and getdents over 10,000 entries.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "fs_setup.h"
#include "probe.h"

int main(void) {
  fs_setup();
  int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  show("timerfd_create", t >= 0 ? 0 : -1);
  uint64_t n = 0;
  show("read unarmed", read(t, &n, 8));
  struct itimerspec its = {.it_value = {0, 50 * 1000000}};
  show("settime one-shot 50ms", timerfd_settime(t, 0, &its, NULL));
  struct itimerspec cur;
  timerfd_gettime(t, &cur);
  printf("armed: %s\n", cur.it_value.tv_nsec > 0 || cur.it_value.tv_sec > 0 ? "yes" : "no");
  struct pollfd p = {t, POLLIN, 0};
  show("poll waits for expiry", poll(&p, 1, 2000));
  show("read", read(t, &n, 8));
  printf("expirations: %lu\n", (unsigned long)n);
  timerfd_gettime(t, &cur);
  printf("disarmed after one shot: %s\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0 ? "yes" : "no");
  its.it_interval.tv_nsec = 20 * 1000000;
  its.it_value.tv_nsec = 20 * 1000000;
  timerfd_settime(t, 0, &its, NULL);
  usleep(130000);
  read(t, &n, 8);
  printf("periodic expirations >= 4: %s\n", n >= 4 && n <= 8 ? "yes" : "no");
  struct itimerspec zero = {0};
  timerfd_settime(t, 0, &zero, NULL);
  show("read after disarm", read(t, &n, 8));
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  its = (struct itimerspec){.it_value = {now.tv_sec, now.tv_nsec}};
  its.it_value.tv_nsec += 30 * 1000000;
  if (its.it_value.tv_nsec >= 1000000000) { its.it_value.tv_sec++; its.it_value.tv_nsec -= 1000000000; }
  show("settime absolute", timerfd_settime(t, TFD_TIMER_ABSTIME, &its, NULL));
  fcntl(t, F_SETFL, 0);
  show("blocking read", read(t, &n, 8));
  show("short read buffer", read(t, &n, 4));
  show("bad clock", timerfd_create(99, 0));

  // getdents over 10,000 entries.
  char dir[] = "/tmp/fsdents.XXXXXX";
  mkdtemp(dir);
  chdir(dir);
  for (int i = 0; i < 10000; i++) {
    char name[32];
    snprintf(name, sizeof name, "entry-%05d", i);
    int fd = open(name, O_CREAT | O_WRONLY, 0600);
    if (fd < 0) { perror(name); return 1; }
    close(fd);
  }
  DIR *d = opendir(".");
  int count = 0, sum = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    count++;
    if (e->d_name[0] == 'e') sum += atoi(e->d_name + 6);
  }
  printf("entries: %d, sum of numbers: %d\n", count, sum);
  rewinddir(d);
  count = 0;
  while (readdir(d)) count++;
  printf("after rewind: %d\n", count);
  closedir(d);
  return 0;
}
