// timerfd (one-shot, periodic, absolute, with poll) and getdents over 10,000 entries; with
// an argument, only the directory offset checks, on that directory (a gofer-backed one).
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
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "fs_setup.h"
#include "probe.h"


static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

// One listing with raw getdents64: names and d_offs, at most max of them.
struct listing {
  int n;
  char **names;
  long long *offs;
};

static char dbuf[32768];

static struct listing list_all(int fd, int max, long bufsize) {
  struct listing l = {0, calloc(max, sizeof(char *)), calloc(max, sizeof(long long))};
  for (;;) {
    long n = syscall(SYS_getdents64, fd, dbuf, bufsize);
    if (n <= 0) break;
    for (long o = 0; o < n;) {
      struct dirent64 *d = (struct dirent64 *)(dbuf + o);
      if (l.n < max) {
        l.names[l.n] = strdup(d->d_name);
        l.offs[l.n] = d->d_off;
        l.n++;
      }
      o += d->d_reclen;
    }
  }
  return l;
}

// The first name getdents64 returns at the current offset, or "" at the end.
static const char *first_name(int fd) {
  static char name[256];
  long n = syscall(SYS_getdents64, fd, dbuf, sizeof dbuf);
  if (n <= 0) return "";
  snprintf(name, sizeof name, "%s", ((struct dirent64 *)dbuf)->d_name);
  return name;
}

static int has(struct listing *l, const char *name) {
  for (int i = 0; i < l->n; i++) if (!strcmp(l->names[i], name)) return 1;
  return 0;
}

static const char *yn(int b) { return b ? "yes" : "no"; }

// What programs rely on in directory offsets, printed so that the outcome is the same whatever
// values a filesystem chooses for them: each d_off resumes the listing at the next entry, with
// lseek and with seekdir; the position after a call is the last d_off; the old getdents lists
// the same; a buffer too small for one entry is EINVAL; entries made or removed while listing
// show after a rewind.
static void offsets(const char *dir) {
  printf("-- offsets in %s\n", dir[1] == 't' ? "tmpfs" : "the root");
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  show("getdents64 with 8 bytes", syscall(SYS_getdents64, fd, dbuf, 8));
  struct listing all = list_all(fd, 20000, sizeof dbuf);
  printf("entries: %d\n", all.n);
  int resumes = 1, dup = 0;
  for (int i = 0; i < all.n; i += (i < 4 || i > all.n - 4) ? 1 : 97) {
    lseek(fd, all.offs[i], SEEK_SET);
    const char *want = i + 1 < all.n ? all.names[i + 1] : "";
    if (strcmp(first_name(fd), want)) resumes = 0;
  }
  printf("lseek to each d_off resumes at the next entry: %s\n", yn(resumes));
  for (int i = 0; i < all.n; i++)
    for (int j = i + 1; j < all.n && j < i + 50; j++) if (!strcmp(all.names[i], all.names[j])) dup = 1;
  printf("no name twice: %s\n", yn(!dup));

  // The position after a call is the d_off of the last entry it returned.
  lseek(fd, 0, SEEK_SET);
  long n = syscall(SYS_getdents64, fd, dbuf, 200);
  long long last = 0;
  for (long o = 0; o < n;) {
    struct dirent64 *d = (struct dirent64 *)(dbuf + o);
    last = d->d_off;
    o += d->d_reclen;
  }
  printf("position is the last d_off: %s\n", yn(n > 0 && lseek(fd, 0, SEEK_CUR) == last));

  // One entry per call, in a buffer just big enough for one.
  lseek(fd, 0, SEEK_SET);
  struct listing small = list_all(fd, 20000, 64);
  int same = small.n == all.n;
  for (int i = 0; same && i < all.n; i++) same = !strcmp(small.names[i], all.names[i]);
  printf("64-byte buffer lists the same: %s\n", yn(same));

  // The old layout: name, NUL, then d_type in the record's last byte.
  lseek(fd, 0, SEEK_SET);
  int old = 0, oldsame = 1, types = 1;
  for (;;) {
    long r = syscall(SYS_getdents, fd, dbuf, sizeof dbuf);
    if (r <= 0) break;
    for (long o = 0; o < r;) {
      unsigned short reclen = *(unsigned short *)(dbuf + o + 16);
      const char *name = dbuf + o + 18;
      unsigned char type = dbuf[o + reclen - 1];
      if (old >= all.n || strcmp(name, all.names[old])) oldsame = 0;
      if (!strcmp(name, ".") && type != DT_DIR) types = 0;
      if (name[0] != '.' && type != DT_REG && type != DT_DIR) types = 0;
      old++;
      o += reclen;
    }
  }
  printf("getdents (old) lists the same: %s, types: %s\n", yn(oldsame && old == all.n), yn(types));

  // telldir and seekdir.
  DIR *d = opendir(dir);
  for (int i = 0; i < all.n / 2; i++) readdir(d);
  long at = telldir(d);
  char *again[5];
  for (int i = 0; i < 5; i++) again[i] = strdup(readdir(d)->d_name);
  for (int i = 0; i < 100 && readdir(d); i++) {}
  seekdir(d, at);
  int back = 1;
  for (int i = 0; i < 5; i++) back &= !strcmp(readdir(d)->d_name, again[i]);
  printf("seekdir to telldir reads the same again: %s\n", yn(back));

  // Changes between calls: seen after rewinddir.
  rewinddir(d);
  for (int i = 0; i < 10; i++) readdir(d);
  int victim = all.n - 1;
  while (victim > 0 && all.names[victim][0] == '.') victim--;
  char made[300], gone[300];
  snprintf(made, sizeof made, "%s/made-while-listing", dir);
  snprintf(gone, sizeof gone, "%s/%s", dir, all.names[victim]);
  close(open(made, O_CREAT | O_WRONLY, 0600));
  show("unlink a listed entry", unlink(gone));
  while (readdir(d)) {}
  rewinddir(d);
  struct listing after = list_all(dirfd(d), 20000, sizeof dbuf);
  printf("after rewind: %d entries, new one: %s, removed one: %s\n", after.n,
         yn(has(&after, "made-while-listing")), yn(has(&after, all.names[victim])));
  closedir(d);
  close(fd);
}

int main(int argc, char **argv) {
  fs_setup();
  if (argc > 1) {
    offsets(argv[1]);
    return 0;
  }
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
  // A loaded host may sleep far longer than asked: the count must match the time that passed
  // between arming and reading, whatever it was (one period of slack each way for the clocks).
  its.it_interval.tv_nsec = 20 * 1000000;
  its.it_value.tv_nsec = 20 * 1000000;
  long long t0 = mono_ms();
  timerfd_settime(t, 0, &its, NULL);
  long long t1 = mono_ms();
  usleep(130000);
  long long t2 = mono_ms();
  read(t, &n, 8);
  long long t3 = mono_ms();
  long long least = (t2 - t1) / 20 - 1, most = (t3 - t0) / 20 + 1;
  printf("periodic expirations >= 4 and as many as periods passed: %s\n",
         n >= 4 && (long long)n >= least && (long long)n <= most ? "yes" : "no");
  if (!(n >= 4 && (long long)n >= least && (long long)n <= most))
    fprintf(stderr, "expirations %lu, expected %lld..%lld\n", (unsigned long)n, least, most);
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
  offsets(dir);
  return 0;
}
