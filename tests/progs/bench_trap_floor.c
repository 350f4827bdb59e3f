// The host's own cost of the round trips the stub platforms make for one system call, with no
// Sentry in them: what bounds their getppid on this machine (bench/platform_bench.ts runs it).
//   trap    getppid trapped by seccomp (SECCOMP_RET_TRAP) and answered by the same thread's
//           SIGSYS handler on its alternate stack, back through rt_sigreturn;
//   yield   the same trap, handed by the handler to a second thread through a shared word, each
//           side giving the CPU up (sched_yield) while it waits: Systrap's hand-over;
//   futex   the same hand-over, each side sleeping on a futex while it waits;
//   ptrace  a tracer serving a child's getppid with PTRACE_SYSEMU, GETREGS and SETREGS, as the
//           ptrace platform does.
// Usage: bench_trap_floor MODE N. Prints "ns_per_op=<wall> cpu_ns_per_op=<CPU of every thread
// and process involved>": on a busy host the wall time is mostly other processes' turns, the
// CPU time is what the round trip itself costs.
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

enum { TRAP, YIELD, FUTEX, PTRACE };
enum { IDLE, STOPPED, RUN };

static int mode;
static _Atomic int state = IDLE;
static _Atomic int waiters;

static void futex_wait(int val) {
  atomic_fetch_add(&waiters, 1);
  if (atomic_load(&state) == val) syscall(SYS_futex, &state, FUTEX_WAIT, val, 0, 0, 0);
  atomic_fetch_sub(&waiters, 1);
}

static void set_state(int s) {
  atomic_store(&state, s);
  if (mode == FUTEX && atomic_load(&waiters)) syscall(SYS_futex, &state, FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
}

// Waits until state is `want`, the way the mode says.
static void await_state(int want) {
  for (;;) {
    int s = atomic_load(&state);
    if (s == want) return;
    if (mode == YIELD) sched_yield();
    else futex_wait(s);
  }
}

static void on_sigsys(int sig, siginfo_t *si, void *ucv) {
  (void)sig, (void)si;
  ucontext_t *uc = ucv;
  if (mode != TRAP) {
    set_state(STOPPED);
    await_state(RUN);
    atomic_store(&state, IDLE);
  }
  uc->uc_mcontext.gregs[REG_RAX] = 1;
}

static void *server(void *arg) {
  (void)arg;
  for (;;) {
    await_state(STOPPED);
    set_state(RUN);
  }
  return 0;
}

static double now_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static double cpu_ns(void) {
  struct rusage s, c;
  getrusage(RUSAGE_SELF, &s);
  getrusage(RUSAGE_CHILDREN, &c);
  double us = 0;
  us += s.ru_utime.tv_sec * 1e6 + s.ru_utime.tv_usec + s.ru_stime.tv_sec * 1e6 + s.ru_stime.tv_usec;
  us += c.ru_utime.tv_sec * 1e6 + c.ru_utime.tv_usec + c.ru_stime.tv_sec * 1e6 + c.ru_stime.tv_usec;
  return us * 1e3;
}

static void report(long n, double wall0, double cpu0) {
  double wall = now_ns(CLOCK_MONOTONIC) - wall0, cpu = cpu_ns() - cpu0;
  printf("ns_per_op=%.1f cpu_ns_per_op=%.1f\n", wall / n, cpu / n);
  fflush(stdout);
}

static int run_ptrace(long n) {
  pid_t p = fork();
  if (p < 0) return perror("fork"), 1;
  if (p == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    for (;;) syscall(SYS_getppid);
  }
  int st;
  waitpid(p, &st, 0);
  ptrace(PTRACE_SYSEMU, p, 0, 0);
  waitpid(p, &st, __WALL);
  struct user_regs_struct r;
  double wall0 = now_ns(CLOCK_MONOTONIC), cpu0 = cpu_ns();
  for (long i = 0; i < n; i++) {
    ptrace(PTRACE_GETREGS, p, 0, &r);
    r.rax = 1;
    ptrace(PTRACE_SETREGS, p, 0, &r);
    ptrace(PTRACE_SYSEMU, p, 0, 0);
    waitpid(p, &st, __WALL);
  }
  double wall = now_ns(CLOCK_MONOTONIC) - wall0;
  kill(p, SIGKILL);
  waitpid(p, &st, __WALL);
  // The child's CPU time is counted once it is reaped.
  double cpu = cpu_ns() - cpu0;
  printf("ns_per_op=%.1f cpu_ns_per_op=%.1f\n", wall / n, cpu / n);
  return 0;
}

int main(int argc, char **argv) {
  const char *names[] = {"trap", "yield", "futex", "ptrace"};
  mode = -1;
  for (int i = 0; argc > 1 && i < 4; i++)
    if (strcmp(argv[1], names[i]) == 0) mode = i;
  long n = argc > 2 ? atol(argv[2]) : 100000;
  if (mode < 0 || n <= 0) {
    fprintf(stderr, "usage: %s trap|yield|futex|ptrace N\n", argv[0]);
    return 2;
  }
  if (mode == PTRACE) return run_ptrace(n);

  static char altstack[65536];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
  struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO | SA_ONSTACK};
  sigfillset(&sa.sa_mask);
  if (sigaltstack(&ss, 0) || sigaction(SIGSYS, &sa, 0)) return perror("sigaction"), 1;
  pthread_t t;
  if (mode != TRAP && pthread_create(&t, 0, server, 0)) return perror("pthread_create"), 1;
  // Only this thread, only getppid: the server thread and printf stay untrapped.
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
    return perror("seccomp"), 1;
  double wall0 = now_ns(CLOCK_MONOTONIC), cpu0 = cpu_ns();
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  report(n, wall0, cpu0);
  _exit(0);
}
