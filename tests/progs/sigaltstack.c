// sigaltstack: a handler with SA_ONSTACK runs on the alternate stack and sees SS_ONSTACK;
// stack overflow handled there.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *alt;
static size_t alt_size = 64 * 1024;
static volatile int on_alt, flags_onstack;

static void handler(int sig) {
  (void)sig;
  char local;
  on_alt = &local >= alt && &local < alt + alt_size;
  stack_t cur;
  sigaltstack(NULL, &cur);
  flags_onstack = (cur.ss_flags & SS_ONSTACK) != 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  alt = malloc(alt_size);
  stack_t ss = {.ss_sp = alt, .ss_size = alt_size, .ss_flags = 0};
  printf("sigaltstack: %d\n", sigaltstack(&ss, NULL));
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  printf("handler on the alternate stack: %d, SS_ONSTACK inside: %d\n", on_alt, flags_onstack);
  stack_t cur;
  sigaltstack(NULL, &cur);
  printf("outside: SS_ONSTACK %d, size matches %d\n", (cur.ss_flags & SS_ONSTACK) != 0,
         cur.ss_size == alt_size);
  ss.ss_size = 100;
  printf("too small: %d\n", sigaltstack(&ss, NULL));
  ss.ss_flags = SS_DISABLE;
  printf("disable: %d\n", sigaltstack(&ss, NULL));
  return 0;
}
