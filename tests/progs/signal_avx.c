// A signal handler that uses AVX registers must not disturb the AVX state of the code it
// interrupted: ymm upper halves survive a handler delivered in the middle of a computation.
// Where the CPU has AVX-512, so do the zmm upper halves, zmm16-31 and the opmask registers.
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static volatile int hits;

__attribute__((target("avx"))) static void handler(int s) {
  (void)s;
  volatile __m256d junk = _mm256_set1_pd(-1.0);
  __asm__ volatile("vmovapd %0, %%ymm0\n\tvmovapd %0, %%ymm1\n\tvmovapd %0, %%ymm2" ::"x"(junk) : "xmm0", "xmm1", "xmm2");
  hits++;
}

static sigset_t usr1;

// Makes SIGUSR1 pending; the computation then unblocks it with UNBLOCK_USR1, and the handler
// runs on the return of that rt_sigprocmask, with the registers under test live.
static void pend_usr1(void) {
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, NULL);
  kill(getpid(), SIGUSR1);
}

// rt_sigprocmask(SIG_UNBLOCK, &usr1, NULL, 8), with &usr1 in the operand named set.
#define UNBLOCK_USR1 \
  "mov $14, %%eax\n\tmov $1, %%edi\n\tmov %[set], %%rsi\n\txor %%edx, %%edx\n\t" \
  "mov $8, %%r10d\n\tsyscall\n\t"

__attribute__((target("avx"))) static int run(void) {
  double out[4];
  int ok = 1;
  for (int round = 0; round < 100; round++) {
    pend_usr1();
    __asm__ volatile(
        "vbroadcastsd %1, %%ymm0\n\t"
        "vbroadcastsd %1, %%ymm1\n\t"
        "vbroadcastsd %1, %%ymm2\n\t"
        UNBLOCK_USR1
        "vaddpd %%ymm1, %%ymm0, %%ymm0\n\t"
        "vaddpd %%ymm2, %%ymm0, %%ymm0\n\t"
        "vmovupd %%ymm0, %0\n\t"
        : "=m"(out)
        : "m"((double){2.5}), [set] "r"(&usr1)
        : "rax", "rcx", "rdx", "rsi", "rdi", "r10", "r11", "xmm0", "xmm1", "xmm2", "memory");
    for (int i = 0; i < 4; i++) if (out[i] != 7.5) ok = 0;
  }
  return ok;
}

__attribute__((target("avx512f"))) static void handler512(int s) {
  (void)s;
  __asm__ volatile(
      "vpternlogd $0xff, %%zmm0, %%zmm0, %%zmm0\n\t"
      "vpternlogd $0xff, %%zmm17, %%zmm17, %%zmm17\n\t"
      "kxnorw %%k0, %%k0, %%k1" ::: "xmm0", "xmm17", "k1");
  hits++;
}

// zmm0 (upper half) and zmm17 hold 2.5 in every lane, k1 a pattern, across the handler.
__attribute__((target("avx512f"))) static int run512(void) {
  double out[8];
  unsigned short k;
  int ok = 1;
  for (int round = 0; round < 100; round++) {
    pend_usr1();
    __asm__ volatile(
        "vbroadcastsd %2, %%zmm0\n\t"
        "vbroadcastsd %2, %%zmm17\n\t"
        "mov $0x5a3c, %%eax\n\t"
        "kmovw %%eax, %%k1\n\t"
        UNBLOCK_USR1
        "vaddpd %%zmm17, %%zmm0, %%zmm0\n\t"
        "vmovupd %%zmm0, %0\n\t"
        "kmovw %%k1, %%eax\n\t"
        "mov %%ax, %1\n\t"
        : "=m"(out), "=m"(k)
        : "m"((double){2.5}), [set] "r"(&usr1)
        : "rax", "rcx", "rdx", "rsi", "rdi", "r10", "r11", "xmm0", "xmm17", "k1", "memory");
    for (int i = 0; i < 8; i++) if (out[i] != 5.0) ok = 0;
    if (k != 0x5a3c) ok = 0;
  }
  return ok;
}

static const char *frame_check = "no handler ran";

// What the frame's XSAVE area says about itself, as Linux lays it out for a process that did
// not ask for AMX: both magics, a size that ends with the last feature it lists, and no
// tile data (which would make every frame 8 KiB larger).
static void frame_handler(int s, siginfo_t *si, void *ctx) {
  (void)s, (void)si;
  const uint8_t *fp = (const uint8_t *)((ucontext_t *)ctx)->uc_mcontext.fpregs;
  uint32_t magic1, size, magic2, a, b, c, d, end = 576;
  uint64_t features;
  memcpy(&magic1, fp + 464, 4);
  memcpy(&features, fp + 472, 8);
  memcpy(&size, fp + 480, 4);
  if (magic1 != 0x46505853) {
    frame_check = "no xstate magic";
    return;
  }
  memcpy(&magic2, fp + size, 4);
  for (int i = 2; i < 63; i++) {
    if (!(features >> i & 1)) continue;
    __cpuid_count(0xd, i, a, b, c, d);
    if (a + b > end) end = a + b;
  }
  frame_check = magic2 != 0x46505845         ? "no second magic"
                : size != end                ? "size does not match its features"
                : !(features & 4)            ? "no AVX state"
                : (features & (1ull << 18)) ? "AMX tile data without permission"
                                             : "as Linux's";
}

// A handler that spoils the frame's FPU state: the sigreturn fails with SIGSEGV, as XRSTOR
// (or FXRSTOR) faults on it; the sandbox must not pass it on to its platform.
static int spoil;
static void spoil_handler(int s, siginfo_t *si, void *ctx) {
  (void)s, (void)si;
  uint8_t *fp = (uint8_t *)((ucontext_t *)ctx)->uc_mcontext.fpregs;
  uint32_t mxcsr, zero = 0;
  uint64_t ones = ~0ull;
  memcpy(&mxcsr, fp + 24, 4);
  mxcsr |= 1u << 20;  // a reserved MXCSR bit
  switch (spoil) {
    case 0: memcpy(fp + 24, &mxcsr, 4); break;
    case 1: fp[520] = 1; break;  // XCOMP_BV
    case 2: fp[530] = 1; break;  // reserved header bytes
    case 3: memcpy(fp + 512, &ones, 8); break;  // XSTATE_BV beyond XCR0
    case 4: memcpy(fp + 464, &zero, 4), memcpy(fp + 24, &mxcsr, 4); break;  // FXSAVE only
  }
}

static void spoiled_frames(void) {
  for (spoil = 0; spoil < 5; spoil++) {
    pid_t p = fork();
    if (p == 0) {
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_sigaction = spoil_handler;
      sa.sa_flags = SA_SIGINFO;
      sigaction(SIGUSR1, &sa, NULL);
      raise(SIGUSR1);
      _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    printf("spoiled frame %d: %s %d\n", spoil, WIFSIGNALED(st) ? "signal" : "exit",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  }
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
  struct sigaction fa;
  memset(&fa, 0, sizeof fa);
  fa.sa_sigaction = frame_handler;
  fa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR2, &fa, NULL);
  raise(SIGUSR2);
  printf("signal frame xstate: %s\n", frame_check);
  spoiled_frames();
  int ok = run();
  printf("ymm state survived %d handlers: %s\n", hits, ok ? "yes" : "no");
  if (__builtin_cpu_supports("avx512f")) {
    hits = 0;
    sa.sa_handler = handler512;
    sigaction(SIGUSR1, &sa, NULL);
    ok = run512();
    printf("zmm and opmask state survived %d handlers: %s\n", hits, ok ? "yes" : "no");
  }
  return 0;
}
