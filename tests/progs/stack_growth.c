// Stacks grow: recursion past the initial 8 MiB of stack after raising RLIMIT_STACK, a
// MAP_GROWSDOWN mapping extended by a touch just below it, and overflow still ends in SIGSEGV
// (caught on an alternate stack).
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static long depth(long n) {
  volatile char pad[4096];
  pad[0] = (char)n;
  if (n == 0) return pad[0];
  return depth(n - 1) + pad[0];
}

static void on_segv(int s) {
  (void)s;
  printf("overflow ends in SIGSEGV\n");
  _exit(0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct rlimit r = {32 << 20, 32 << 20};
  printf("setrlimit: %d\n", setrlimit(RLIMIT_STACK, &r));
  printf("12 MiB of recursion: %ld\n", depth(3000) >= 0 ? 1L : 0L);

  char *g = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
  g[-1] = 'x';
  printf("grows-down extended: %c\n", g[-1]);

  static char alt[65536];
  stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_segv;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGSEGV, &sa, NULL);
  depth(1 << 20);
  printf("not reached\n");
  return 1;
}
