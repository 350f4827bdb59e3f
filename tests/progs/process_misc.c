// Process odds and ends: prctl names and flags, a subreaper adopting an orphan, CPU
#define _GNU_SOURCE
// affinity, nice values, CPU time accounting, sysinfo, personality, POSIX timers, and
// credentials changes (dropping root for good).
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int ticks;
static void on_timer(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)uc;
  if (si->si_code == SI_TIMER && si->si_value.sival_int == 77) ticks++;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char name[16] = {0};
  prctl(PR_SET_NAME, "probe-name");
  prctl(PR_GET_NAME, name);
  printf("name=%s\n", name);
  printf("no_new_privs before=%d", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  printf(" after=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  printf("dumpable=%d\n", prctl(PR_GET_DUMPABLE));

  // A subreaper adopts its orphaned grandchild.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t c = fork();
  if (c == 0) {
    if (fork() == 0) { usleep(50000); _exit(42); }
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  pid_t g = wait(&st);
  printf("adopted grandchild reaped: %d, status %d\n", g > 0 && g != c, WEXITSTATUS(st));

  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof set, &set);
  // How many CPUs is the host's (and the runner's affinity and CPU quota): only that there
  // are some, and no more in the mask than are online, is the same everywhere.
  int cpus = CPU_COUNT(&set);
  printf("cpus: some %d, within those online %d\n", cpus >= 1,
         cpus <= sysconf(_SC_NPROCESSORS_ONLN));
  // The nice value it starts with is the runner's (nice(1), a niced CI): only its range.
  errno = 0;
  int before = getpriority(PRIO_PROCESS, 0);
  printf("priority before is a nice value %d", errno == 0 && before >= -20 && before <= 19);
  setpriority(PRIO_PROCESS, 0, 5);
  printf(" after=%d\n", getpriority(PRIO_PROCESS, 0));
  printf("sched policy=%d\n", sched_getscheduler(0));

  volatile unsigned long x = 0;
  for (unsigned long i = 0; i < 300000000UL; i++) x += i;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("user time counted: %d\n", ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec > 20000);
  struct tms tm;
  printf("times() advances: %d\n", times(&tm) > 0);

  struct sysinfo si;
  sysinfo(&si);
  printf("sysinfo: procs>0 %d, ram>0 %d\n", si.procs > 0, si.totalram > 0);
  printf("personality=%d\n", personality(0xffffffff));

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_timer;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGRTMIN, &sa, NULL);
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGRTMIN;
  sev.sigev_value.sival_int = 77;
  timer_t tid;
  printf("timer_create=%d\n", timer_create(CLOCK_MONOTONIC, &sev, &tid));
  struct itimerspec its = {{0, 10000000}, {0, 10000000}};
  timer_settime(tid, 0, &its, NULL);
  while (ticks < 3) pause();
  struct itimerspec cur;
  timer_gettime(tid, &cur);
  printf("timer ticks>=3: %d, interval=%ld\n", ticks >= 3, cur.it_interval.tv_nsec);
  timer_delete(tid);
  printf("deleted timer: %d %s\n", timer_gettime(tid, &cur), strerror(errno));

  gid_t groups[] = {5, 6};
  printf("setgroups=%d getgroups=%d\n", setgroups(2, groups), getgroups(0, NULL));
  printf("setresgid=%d setresuid=%d\n", setresgid(1000, 1000, 1000), setresuid(1000, 1000, 1000));
  uid_t r, e, s;
  getresuid(&r, &e, &s);
  printf("uids=%d/%d/%d euid=%d\n", r, e, s, geteuid());
  printf("back to root: %s\n", setuid(0) ? strerror(errno) : "allowed");
  printf("setgroups unprivileged: %s\n", setgroups(0, NULL) ? strerror(errno) : "allowed");
  return 0;
}
