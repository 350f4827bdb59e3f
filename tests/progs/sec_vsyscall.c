// Calls the three legacy vsyscall entries (gettimeofday, time, getcpu) through the vsyscall
// page, as old static binaries do. In the sandbox each must stop in the Sentry and be served
// there (never by the host kernel); the answers must be sane by the same checks natively and
// in the sandbox, and a bad pointer must give SIGSEGV with the pointer as its address.
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define VSYSCALL 0xffffffffff600000UL
typedef long (*gettimeofday_fn)(struct timeval *, struct timezone *);
typedef long (*time_fn)(long *);
typedef long (*getcpu_fn)(unsigned *, unsigned *, void *);

static sigjmp_buf jb;
static volatile siginfo_t last;

static void on_segv(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)uc;
  last = *si;
  siglongjmp(jb, 1);
}

int main(int argc, char **argv) {
  gettimeofday_fn vgettimeofday = (gettimeofday_fn)(VSYSCALL + 0x000);
  time_fn vtime = (time_fn)(VSYSCALL + 0x400);
  getcpu_fn vgetcpu = (getcpu_fn)(VSYSCALL + 0x800);
  struct timespec now;

  clock_gettime(CLOCK_REALTIME, &now);
  long t_ptr = -1;
  long t = vtime(&t_ptr);
  printf("time: within 1s of clock_gettime %d, same through the pointer %d\n",
         labs(t - (long)now.tv_sec) <= 1, t == t_ptr);
  printf("time(NULL): within 1s %d\n", labs(vtime(NULL) - (long)now.tv_sec) <= 1);

  struct timeval tv = {-1, -1};
  struct timezone tz = {-1, -1};
  long r = vgettimeofday(&tv, &tz);
  clock_gettime(CLOCK_REALTIME, &now);
  printf("gettimeofday: ret %ld, within 1s %d, usec in range %d, tz %d %d\n", r,
         labs((long)tv.tv_sec - (long)now.tv_sec) <= 1, tv.tv_usec >= 0 && tv.tv_usec < 1000000,
         tz.tz_minuteswest, tz.tz_dsttime);
  printf("gettimeofday(NULL, NULL): ret %ld\n", vgettimeofday(NULL, NULL));

  unsigned cpu = 12345, node = 12345;
  r = vgetcpu(&cpu, &node, NULL);
  printf("getcpu: ret %ld, cpu < nprocs %d, node %u\n", r,
         cpu < (unsigned)sysconf(_SC_NPROCESSORS_CONF), node);
  printf("getcpu(NULL, NULL): ret %ld\n", vgetcpu(NULL, NULL, NULL));

  if (argc > 1 && strcmp(argv[1], "loop") == 0) {
    // For --strace: enough calls to see in the log.
    for (int i = 0; i < 3; i++) vtime(NULL);
  }

  // A pointer the kernel would never write: SIGSEGV (SEGV_MAPERR) at that address, and the
  // call does not return.
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  void *bad = (void *)0xffff888000000000UL;
  if (sigsetjmp(jb, 1) == 0) {
    vgettimeofday(bad, NULL);
    printf("bad pointer: returned\n");
  } else {
    printf("bad pointer: signal %d code %d at the pointer %d\n", last.si_signo, last.si_code,
           last.si_addr == bad);
  }
  if (sigsetjmp(jb, 1) == 0) {
    vtime(bad);
    printf("bad time pointer: returned\n");
  } else {
    printf("bad time pointer: signal %d code %d at the pointer %d\n", last.si_signo,
           last.si_code, last.si_addr == bad);
  }
  return 0;
}
