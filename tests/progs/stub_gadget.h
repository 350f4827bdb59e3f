// Shared by the stub escape probes (sec_stub_gadget.c, sec_systrap_gadget.c): finding the
// `syscall` instructions of the stub's page and running a system call through one of them with
// registers of our choosing, catching where the stub's code leads afterwards.
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#define STUB_ADDR 0x7fffffffe000UL

// A `syscall; int3` of our own: what every stub instruction is compared with.
extern char own_gadget[];
__asm__(".text\nown_gadget: syscall\nint3\n");

static sigjmp_buf jb;
static volatile long result;
static volatile int probing;

static void on_trap(int sig, siginfo_t *si, void *ucv) {
  (void)si;
  ucontext_t *uc = ucv;
  result = sig == SIGTRAP ? (long)uc->uc_mcontext.gregs[REG_RAX] : -9999;
  siglongjmp(jb, 1);
}

static void on_segv(int sig) {
  (void)sig;
  if (probing) siglongjmp(jb, 2);
  _exit(98);
}

// SIGTRAP (the int3 after a call) and SIGALRM (nothing came back) end a call; SIGSEGV ends
// the scan of the stub's page, and the program anywhere else.
static void catch_gadget_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_trap;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGTRAP, &sa, NULL);
  sigaction(SIGALRM, &sa, NULL);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_segv;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
}

// How long a call may take to come back, in microseconds: a second, and a tenth of one once a
// gadget is known not to come back (the code after it loops), so that every call still runs.
static long patience = 1000000;

static void arm(long us) {
  struct itimerval it = {.it_value = {us / 1000000, us % 1000000}};
  setitimer(ITIMER_REAL, &it, NULL);
}

// System call nr through `gadget` with r12 = 1 (so that the ptrace stub's batch loop, if that
// is where we land, stops at its int3 after this call); rax at the next int3, or -9999 if
// nothing came back.
static long via(void *gadget, long nr, long a, long b, long c, long d, long e, long f) {
  arm(patience);
  if (sigsetjmp(jb, 1) == 0) {
    register long rax __asm__("rax") = nr;
    register long rdi __asm__("rdi") = a;
    register long rsi __asm__("rsi") = b;
    register long rdx __asm__("rdx") = c;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("mov $1, %%r12\n jmp *%[g]" ::[g] "r"(gadget), "r"(rax), "r"(rdi),
                     "r"(rsi), "r"(rdx), "r"(r10), "r"(r8), "r"(r9)
                     : "r12", "memory");
    __builtin_unreachable();
  }
  arm(0);
  if (result == -9999) patience = 100000;
  return result;
}

// The addresses of the `syscall` instructions (0f 05) of the stub's page, where it is readable
// (natively and under KVM it is not: none).
static int gadgets(void **out, int max) {
  int n = 0;
  probing = 1;
  if (sigsetjmp(jb, 1) == 0) {
    volatile uint8_t *p = (volatile uint8_t *)STUB_ADDR;
    for (int i = 0; i + 1 < 4096 && n < max; i++) {
      if (p[i] == 0x0f && p[i + 1] == 0x05) out[n++] = (void *)(p + i);
    }
  }
  probing = 0;
  return n;
}
