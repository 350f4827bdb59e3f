// What CPython's tests found missing among the small calls: CPU affinity kept and reported
// back, sched_rr_get_interval, per-process and per-thread CPU-time clocks, clock_settime
// without CAP_SYS_TIME, sethostname/setdomainname, fcntl(F_NOTIFY), and the signal masks in
// /proc/self/status.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "probe.h"

// A fixed amount of work (about 1 ms of CPU per unit here), not a wall-clock time: on a busy
// machine the CPU time a wall-clock spin gets varies, the CPU time of the same work does not.
static void work(int units) {
  volatile unsigned long x = 0;
  for (int u = 0; u < units; u++) {
    for (int i = 0; i < 1000000; i++) x += i;
  }
}

static long ns(clockid_t c) {
  struct timespec ts;
  if (clock_gettime(c, &ts) != 0) return -errno;
  return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static volatile int thread_done;
static void *worker(void *arg) {
  work(150);
  thread_done = 1;
  while (thread_done != 2) usleep(1000);
  return arg;
}

// Drops every capability from the effective set (the permitted set keeps them).
static int drop_effective(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) != 0) return -1;
  d[0].effective = d[1].effective = 0;
  return syscall(SYS_capset, &h, d);
}

static void status_line(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, key, strlen(key)) == 0) printf("%s", line);
  }
  if (f) fclose(f);
}

static void on_usr2(int sig) { (void)sig; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);

  // Affinity: a mask set is the mask read back, by the task and by a child it forks.
  cpu_set_t set, got;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  show("setaffinity {0}", sched_setaffinity(0, sizeof set, &set));
  CPU_ZERO(&got);
  show("getaffinity", sched_getaffinity(0, sizeof got, &got));
  printf("cpus after set: %d, cpu0 %d\n", CPU_COUNT(&got), CPU_ISSET(0, &got));
  pid_t c = fork();
  if (c == 0) {
    CPU_ZERO(&got);
    sched_getaffinity(0, sizeof got, &got);
    printf("child inherits: %d\n", CPU_COUNT(&got));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  show("getaffinity of the parent by pid", sched_getaffinity(getpid(), sizeof got, &got));
  show("getaffinity(-1)", sched_getaffinity(-1, sizeof got, &got));
  show("getaffinity(no such pid)", sched_getaffinity(999999, sizeof got, &got));
  show("getaffinity(short buffer)", syscall(SYS_sched_getaffinity, 0, 1, &got));
  CPU_ZERO(&set);
  show("setaffinity {}", sched_setaffinity(0, sizeof set, &set));
  show("setaffinity(-1)", sched_setaffinity(-1, sizeof got, &got));

  // sched_rr_get_interval: the quantum's length varies; that it answers does not.
  struct timespec q = {-1, -1};
  show("rr_get_interval", sched_rr_get_interval(0, &q));
  printf("interval under a second: %d\n", q.tv_sec == 0 && q.tv_nsec >= 0);
  show("rr_get_interval(-1)", sched_rr_get_interval(-1, &q));
  show("rr_get_interval(no such pid)", sched_rr_get_interval(999999, &q));

  // CPU-time clocks: the process's and the thread's, by their fixed ids and by the ids
  // clock_getcpuclockid and pthread_getcpuclockid give.
  long p0 = ns(CLOCK_PROCESS_CPUTIME_ID), t0 = ns(CLOCK_THREAD_CPUTIME_ID);
  work(100);
  long p1 = ns(CLOCK_PROCESS_CPUTIME_ID), t1 = ns(CLOCK_THREAD_CPUTIME_ID);
  printf("process clock advances 30+ ms: %d\n", p0 >= 0 && p1 - p0 >= 30000000L);
  printf("thread clock advances 30+ ms: %d\n", t0 >= 0 && t1 - t0 >= 30000000L);
  clockid_t pc;
  show("clock_getcpuclockid(self)", clock_getcpuclockid(0, &pc));
  printf("by pid's clock id reads: %d\n", ns(pc) >= p1);
  clockid_t child_clock;
  int done[2];
  pipe(done);
  c = fork();
  if (c == 0) {
    work(100);
    write(done[1], "x", 1);
    pause();
    _exit(0);
  }
  show("clock_getcpuclockid(child)", clock_getcpuclockid(c, &child_clock));
  char x;
  read(done[0], &x, 1);
  printf("child's clock shows its work: %d\n", ns(child_clock) >= 30000000L);
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);
  pthread_t th;
  pthread_create(&th, NULL, worker, NULL);
  while (!thread_done) usleep(1000);
  clockid_t tc;
  show("pthread_getcpuclockid", pthread_getcpuclockid(th, &tc));
  long tw = ns(tc);
  printf("other thread's clock shows its work, not ours: %d\n",
         tw >= 30000000L && tw < ns(CLOCK_PROCESS_CPUTIME_ID) - 30000000L);
  thread_done = 2;
  pthread_join(th, NULL);
  struct timespec res;
  show("clock_getres(process cputime)", clock_getres(CLOCK_PROCESS_CPUTIME_ID, &res));
  show("clock_gettime(bad cpu clock)", ns((clockid_t)((~999999 << 3) | 2)));

  // clock_settime and sethostname without the capabilities they need, in a child.
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  c = fork();
  if (c == 0) {
    if (drop_effective() != 0) {
      printf("cannot drop capabilities\n");
      _exit(1);
    }
    show("clock_settime(REALTIME) unprivileged", clock_settime(CLOCK_REALTIME, &now));
    show("clock_settime(MONOTONIC) unprivileged", clock_settime(CLOCK_MONOTONIC, &now));
    show("sethostname unprivileged", sethostname("nope", 4));
    _exit(0);
  }
  waitpid(c, NULL, 0);
  struct timespec bad = {0, 2000000000L};
  show("clock_settime(bad timespec)", clock_settime(CLOCK_REALTIME, &bad));

  // sethostname changes the name uname reports. Natively that must happen in a UTS namespace
  // of our own, never the host's; the sandbox (where this is pid 1) has its own name already.
  if (unshare(CLONE_NEWUTS) == 0 || getpid() == 1) {
    show("sethostname", sethostname("probe-host", 10));
    show("setdomainname", setdomainname("probe.domain", 12));
    struct utsname u;
    uname(&u);
    printf("uname: %s %s\n", u.nodename, u.domainname);
    char long_name[80];
    memset(long_name, 'x', sizeof long_name);
    show("sethostname(65 bytes)", sethostname(long_name, 65));
    FILE *f = fopen("/proc/sys/kernel/hostname", "r");
    char line[80] = "";
    if (f && fgets(line, sizeof line, f)) printf("proc hostname: %s", line);
    if (f) fclose(f);
  }

  // F_NOTIFY: accepted on a directory, refused elsewhere.
  int dir = open("/", O_RDONLY | O_DIRECTORY);
  int file = open("/proc/self/status", O_RDONLY);
  show("F_NOTIFY on a directory", fcntl(dir, F_NOTIFY, DN_MODIFY | DN_CREATE | DN_MULTISHOT));
  show("F_NOTIFY on a file", fcntl(file, F_NOTIFY, DN_MODIFY));
  show("F_NOTIFY cleared on a file", fcntl(file, F_NOTIFY, 0));

  // /proc/self/status tells blocked, ignored and caught signals apart. Ignored signals are
  // inherited: first give every one back its default (libc refuses its own, so raw calls).
  for (int n = 1; n <= 64; n++) {
    struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } dfl = {0};
    if (n != SIGKILL && n != SIGSTOP) syscall(SYS_rt_sigaction, n, &dfl, NULL, 8);
  }
  signal(SIGUSR1, SIG_IGN);
  signal(SIGUSR2, on_usr2);
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGINT);
  sigaddset(&m, SIGRTMIN + 3);
  sigprocmask(SIG_BLOCK, &m, NULL);
  raise(SIGINT);                // pending for this thread
  kill(getpid(), SIGRTMIN + 3); // pending for the process
  status_line("SigPnd");
  status_line("ShdPnd");
  status_line("SigBlk");
  status_line("SigIgn");
  status_line("SigCgt");
  return 0;
}
