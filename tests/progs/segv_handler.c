// A SIGSEGV handler learns the faulting address and code, and leaves with siglongjmp;
// SIGILL and SIGFPE and SIGTRAP from instructions too.
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static sigjmp_buf env;
static volatile void *addr;
static volatile int code, signo;

static void handler(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  signo = sig;
  addr = si->si_addr;
  code = si->si_code;
  siglongjmp(env, 1);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGTRAP, &sa, NULL);

  volatile int *bad = (int *)0x1000;
  if (!sigsetjmp(env, 1)) *bad = 1;
  printf("unmapped write: sig=%d addr=%p code=%d\n", signo, (void *)addr, code);

  char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (!sigsetjmp(env, 1)) ro[8] = 1;
  printf("read-only write: sig=%d at-offset-8=%d code=%d\n", signo, (char *)addr == ro + 8, code);

  if (!sigsetjmp(env, 1)) __asm__ volatile("ud2");
  printf("ud2: sig=%d code=%d\n", signo, code);

  // An explicit idiv: a compiler may turn a C division by a variable into other code.
  if (!sigsetjmp(env, 1))
    __asm__ volatile("xor %%ecx, %%ecx\n\tmov $1, %%eax\n\tcdq\n\tidiv %%ecx" ::: "eax", "ecx", "edx");
  printf("divide by zero: sig=%d code=%d\n", signo, code);

  if (!sigsetjmp(env, 1)) __asm__ volatile("int3");
  printf("int3: sig=%d\n", signo);
  return 0;
}
