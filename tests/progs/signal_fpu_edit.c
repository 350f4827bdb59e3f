// A handler's edits to the FPU state in its signal frame are what the interrupted code gets
// back: xmm0 in the legacy image and ymm0's upper half in the XSAVE area; with the frame
// marked legacy-only (FP_XSTATE_MAGIC1 cleared) the xmm0 edit only, the upper halves reset.
// The kinds alternate, several times over, so that what one sigreturn read cannot leak into
// the next.
#include <cpuid.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

static int legacy_only;
static unsigned ymm_hi_offset;
static sigset_t usr1;

static void handler(int s, siginfo_t *si, void *ctx) {
  (void)s, (void)si;
  uint8_t *fp = (uint8_t *)((ucontext_t *)ctx)->uc_mcontext.fpregs;
  double xmm0[2] = {5.0, 6.0}, ymm0_hi[2] = {7.0, 8.0};
  uint32_t zero = 0;
  memcpy(fp + 160, xmm0, sizeof xmm0);
  memcpy(fp + ymm_hi_offset, ymm0_hi, sizeof ymm0_hi);
  if (legacy_only) memcpy(fp + 464, &zero, 4);
}

__attribute__((target("avx"))) static void round_trip(double out[4]) {
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, NULL);
  kill(getpid(), SIGUSR1);
  // ymm0 is live across the rt_sigprocmask that unblocks SIGUSR1, on whose return the
  // handler runs.
  __asm__ volatile(
      "vbroadcastsd %1, %%ymm0\n\t"
      "mov $14, %%eax\n\tmov $1, %%edi\n\tmov %[set], %%rsi\n\txor %%edx, %%edx\n\t"
      "mov $8, %%r10d\n\tsyscall\n\t"
      "vmovupd %%ymm0, %0\n\t"
      : "=m"(*(double(*)[4])out)
      : "m"((double){1.5}), [set] "r"(&usr1)
      : "rax", "rcx", "rdx", "rsi", "rdi", "r10", "r11", "xmm0", "memory");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!__builtin_cpu_supports("avx")) {
    printf("no AVX here\n");
    return 0;
  }
  unsigned a, b, c, d;
  __cpuid_count(0xd, 2, a, b, c, d);
  ymm_hi_offset = b;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  for (int i = 0; i < 6; i++) {
    legacy_only = i % 2;
    double out[4];
    round_trip(out);
    printf("%s frame: ymm0 = %g %g %g %g\n", legacy_only ? "legacy-only" : "xstate", out[0], out[1],
           out[2], out[3]);
  }
  return 0;
}
