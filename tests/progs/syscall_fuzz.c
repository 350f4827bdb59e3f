// Calls system calls with random arguments (argv[1] iterations, argv[2] seed, argv[3] the
// highest number + 1, default 450, argv[4] threads per child, default 1) from throw-away
// child processes, and prints how many calls it made. The sandbox must survive all of it: a
// bad argument is the application's problem, never the Sentry's. Calls that would end or
// wedge the fuzzer itself (exit, signals to others, unmapping its own code, changing its TLS
// or signal handling) are skipped; blocking calls are cut short by an interval timer.
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static __thread uint64_t state;
static atomic_long finished;
static long max_nr = 450;
static uint64_t rnd(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

static char scratch[65536] __attribute__((aligned(4096)));

static int skipped(long nr) {
  switch (nr) {
    case SYS_exit: case SYS_exit_group: case SYS_kill: case SYS_tkill: case SYS_tgkill:
    case SYS_rt_sigqueueinfo: case SYS_rt_tgsigqueueinfo: case SYS_fork: case SYS_vfork:
    case SYS_clone: case SYS_clone3: case SYS_execve: case SYS_execveat: case SYS_rt_sigreturn:
    case SYS_munmap: case SYS_mremap: case SYS_mprotect: case SYS_madvise: case SYS_brk:
    case SYS_mmap: case SYS_arch_prctl: case SYS_rt_sigaction: case SYS_rt_sigprocmask:
    case SYS_sigaltstack: case SYS_rt_sigsuspend: case SYS_pause: case SYS_prctl:
    case SYS_close: case SYS_close_range: case SYS_dup2: case SYS_dup3: case SYS_setitimer:
    case SYS_alarm: case SYS_timer_create: case SYS_timer_settime: case SYS_seccomp:
    case SYS_set_tid_address: case SYS_set_robust_list: case SYS_setrlimit: case SYS_prlimit64:
    case SYS_shutdown: case SYS_reboot: case SYS_setsid: case SYS_setpgid:
    // A signal through a pidfd of itself, or its own memory rewritten: as kill and munmap.
    case SYS_pidfd_send_signal: case SYS_process_vm_writev:
      return 1;
  }
  return 0;
}

static uint64_t arg(void) {
  switch (rnd() % 8) {
    case 0: return 0;
    case 1: return (uint64_t)(scratch + (rnd() % 32768));
    case 2: return rnd() % 64;
    case 3: return (uint64_t)-1;
    case 4: return rnd() % 4096;
    case 5: return (uint64_t)(uintptr_t)"/tmp/fuzz";
    case 6: return 0xffffffffffff0000ULL;
    default: return rnd();
  }
}

static void on_alarm(int s) { (void)s; }

// 100 random calls on a seed of its own (the child's first thread keeps the child's seed).
static void *fuzz(void *seed) {
  state = (uint64_t)seed | 1;
  for (int i = 0; i < 100; i++) {
    long nr = (long)(rnd() % (uint64_t)max_nr);
    if (skipped(nr)) continue;
    syscall(nr, arg(), arg(), arg(), arg(), arg(), arg());
  }
  atomic_fetch_add(&finished, 1);
  return NULL;
}

int main(int argc, char **argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 2000;
  state = argc > 2 ? strtoull(argv[2], NULL, 10) : 88172645463325252ULL;
  if (argc > 3) max_nr = atol(argv[3]);
  long threads = argc > 4 ? atol(argv[4]) : 1;
  if (threads < 1 || threads > 16) threads = 1;
  setvbuf(stdout, NULL, _IONBF, 0);
  long done = 0, children = 0;
  while (done < iterations) {
    uint64_t seed = rnd();
    pid_t c = fork();
    if (c == 0) {
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = on_alarm;  // no SA_RESTART: a blocked call returns EINTR
      sigaction(SIGALRM, &sa, NULL);
      struct itimerval it = {{0, 5000}, {0, 5000}};
      setitimer(ITIMER_REAL, &it, NULL);
      pthread_t th[16];
      for (long i = 1; i < threads; i++) pthread_create(&th[i], NULL, fuzz, (void *)(seed + i));
      fuzz((void *)seed);
      // The interval timer's signal goes to one thread at a time, so another may stay blocked
      // in a call: wait for the others a little, then end them all with the process.
      for (int i = 0; i < 100 && atomic_load(&finished) < threads; i++) usleep(2000);
      _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    children++;
    done += 100 * threads;
  }
  printf("fuzzed %ld calls in %ld children\n", done, children);
  return 0;
}
