// A signal handler that uses AVX registers must not disturb the AVX state of the code it
// interrupted: ymm upper halves survive a handler delivered in the middle of a computation.
#include <immintrin.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int hits;

__attribute__((target("avx"))) static void handler(int s) {
  (void)s;
  volatile __m256d junk = _mm256_set1_pd(-1.0);
  __asm__ volatile("vmovapd %0, %%ymm0\n\tvmovapd %0, %%ymm1\n\tvmovapd %0, %%ymm2" ::"x"(junk) : "xmm0", "xmm1", "xmm2");
  hits++;
}

__attribute__((target("avx"))) static int run(void) {
  double out[4];
  int ok = 1;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  for (int round = 0; round < 100; round++) {
    // Make the signal pending, then unblock it from inside the AVX computation: the handler
    // runs on the return of that rt_sigprocmask, with ymm0-2 live.
    sigprocmask(SIG_BLOCK, &set, NULL);
    kill(getpid(), SIGUSR1);
    __asm__ volatile(
        "vbroadcastsd %1, %%ymm0\n\t"
        "vbroadcastsd %1, %%ymm1\n\t"
        "vbroadcastsd %1, %%ymm2\n\t"
        "mov $14, %%eax\n\t"  // rt_sigprocmask(SIG_UNBLOCK, &set, NULL, 8)
        "mov $1, %%edi\n\t"
        "mov %2, %%rsi\n\t"
        "xor %%edx, %%edx\n\t"
        "mov $8, %%r10d\n\t"
        "syscall\n\t"
        "vaddpd %%ymm1, %%ymm0, %%ymm0\n\t"
        "vaddpd %%ymm2, %%ymm0, %%ymm0\n\t"
        "vmovupd %%ymm0, %0\n\t"
        : "=m"(out)
        : "m"((double){2.5}), "r"(&set)
        : "rax", "rcx", "rdx", "rsi", "rdi", "r10", "r11", "xmm0", "xmm1", "xmm2", "memory");
    for (int i = 0; i < 4; i++) if (out[i] != 7.5) ok = 0;
  }
  return ok;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!__builtin_cpu_supports("avx")) {
    printf("no AVX here\n");
    return 0;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigaction(SIGUSR1, &sa, NULL);
  int ok = run();
  printf("ymm state survived %d handlers: %s\n", hits, ok ? "yes" : "no");
  return 0;
}
