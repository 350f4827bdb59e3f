// Escape probe for the Systrap platform (sandbox only: it aims at host PIDs). Jumps to every
// `syscall` instruction of the stub's page (the handler's futex and rt_sigreturn among them,
// the only ones its thread filter lets through) with hostile registers: create a file, make an
// internet socket, kill and ptrace the Sentry and the stub, fork, map over the stub's code and
// the threads' shared regions, unprotect or unmap the stub, change the host's SIGSYS
// disposition or signal stack. Each must answer exactly what the same call through the
// program's own instruction answers (the Sentry's answer), and the program must go on working;
// where the stub's code does not come back after the call, the file the call makes must be in
// the sandbox (made by the Sentry, not the host).
// Then a thread scribbles over every shared region while another makes system calls: the
// Sentry may give that process up, but must go on serving the others.
// argv: <file listing "name pid" lines of host processes>.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stub_gadget.h"

#define AREA_BASE 0x7ffe00000000UL
#define REGION 0x10000UL

static long pid_of(const char *path, const char *name) {
  FILE *f = fopen(path, "r");
  char n[64];
  long p, found = 1 << 22;
  while (f && fscanf(f, "%63s %ld", n, &p) == 2) {
    if (strcmp(n, name) == 0) {
      found = p;
      break;
    }
  }
  if (f) fclose(f);
  return found;
}

static long sentry, stub;

// The calls, through gadget g; one line of results.
static void attack(void *g, char *line, size_t size) {
  static uint32_t word = 5;
  struct sigaction ign = {.sa_handler = SIG_IGN};
  stack_t off = {.ss_flags = SS_DISABLE};
  long r[16];
  int i = 0;
  unlink("/dev/shm/sec_systrap");
  r[i++] = via(g, SYS_openat, AT_FDCWD, (long)"/dev/shm/sec_systrap", O_CREAT | O_WRONLY, 0644,
               0, 0) >= 0;
  // Whether the Sentry made it (a host call would have made it elsewhere, or nowhere).
  int made = access("/dev/shm/sec_systrap", F_OK) == 0;
  r[i++] = via(g, SYS_socket, AF_INET, SOCK_STREAM, 0, 0, 0, 0) >= 0;
  r[i++] = via(g, SYS_kill, sentry, SIGKILL, 0, 0, 0, 0);
  r[i++] = via(g, SYS_kill, stub, SIGKILL, 0, 0, 0, 0);
  r[i++] = via(g, SYS_ptrace, PTRACE_ATTACH, sentry, 0, 0, 0, 0);
  r[i++] = via(g, SYS_mmap, STUB_ADDR, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == (long)STUB_ADDR;
  r[i++] = via(g, SYS_mmap, AREA_BASE, 16 * REGION, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_FIXED, 3, 0) == (long)AREA_BASE;
  r[i++] = via(g, SYS_mprotect, STUB_ADDR, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0, 0);
  r[i++] = via(g, SYS_munmap, AREA_BASE, 16 * REGION, 0, 0, 0, 0);
  r[i++] = via(g, SYS_rt_sigaction, SIGSYS, (long)&ign, 0, 8, 0, 0);
  r[i++] = via(g, SYS_sigaltstack, (long)&off, 0, 0, 0, 0, 0);
  r[i++] = via(g, SYS_futex, (long)&word, FUTEX_WAKE, 1, 0, 0, 0);
  r[i++] = via(g, SYS_futex, (long)&word, FUTEX_WAIT, 6, 0, 0, 0);
  pid_t me = getpid();
  long child = via(g, SYS_fork, 0, 0, 0, 0, 0, 0);
  if (child == 0 || getpid() != me) _exit(7);
  int st = -1;
  if (child > 0) waitpid(child, &st, 0);
  r[i++] = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r[i++] = via(own_gadget, SYS_getpid, 0, 0, 0, 0, 0, 0) == me;
  // A gadget whose code does not come back to us ran every call all the same: the host check
  // is what judges it.
  if (patience != 1000000) {
    snprintf(line, size, "did not come back, made the file in the sandbox: %d", made);
    return;
  }
  size_t len = 0;
  for (int k = 0; k < i; k++) len += snprintf(line + len, size - len, "%s%ld", k ? " " : "", r[k]);
}

static volatile int stop;

static void *scribble(void *arg) {
  (void)arg;
  struct sigaction sa = {.sa_handler = on_segv};
  sigaction(SIGSEGV, &sa, NULL);
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  while (!stop) {
    for (unsigned long r = 0; r < 3 && !stop; r++) { // the doorbell, and both threads'
      volatile uint64_t *p = (volatile uint64_t *)(AREA_BASE + r * REGION);
      for (int k = 0; k < 64; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        // Pointers into the stub, the stack and nowhere, and plain noise.
        p[k] = k % 3 == 0 ? STUB_ADDR + (x & 0xfff) : k % 3 == 1 ? AREA_BASE + (x & 0xffff) : x;
      }
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  sentry = pid_of(argv[1], "sentry");
  stub = pid_of(argv[1], "child");
  catch_gadget_signals();

  void *g[64];
  int n = gadgets(g, 64);
  printf("stub syscall instructions: %s\n", n >= 8 ? "8 or more" : "too few");
  char own[512] = "";
  attack(own_gadget, own, sizeof own);
  fprintf(stderr, "own instruction: %s\n", own);
  int same = 1;
  for (int i = 0; i < n; i++) {
    int p[2];
    char line[512] = "";
    pipe(p);
    pid_t tester = fork();
    if (tester == 0) {
      close(p[0]);
      attack(g[i], line, sizeof line);
      write(p[1], line, strlen(line));
      _exit(0);
    }
    close(p[1]);
    waitpid(tester, NULL, 0);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    ssize_t got = read(p[0], line, sizeof line - 1);
    close(p[0]);
    if (got <= 0) continue; // killed by where the stub's code led: its own business
    line[got] = 0;
    if (strncmp(line, "did not come back", 17) == 0) {
      if (!strstr(line, "sandbox: 1")) {
        same = 0;
        printf("at +0x%lx: %s\n", (unsigned long)((uintptr_t)g[i] - STUB_ADDR), line);
      }
      continue;
    }
    if (strcmp(own, line) != 0) {
      same = 0;
      printf("differs at +0x%lx: %s\n", (unsigned long)((uintptr_t)g[i] - STUB_ADDR), line);
    }
  }
  printf("every stub instruction gave the same results: %d\n", same);

  pid_t victim = fork();
  if (victim == 0) {
    pthread_t t;
    pthread_create(&t, NULL, scribble, NULL);
    for (int i = 0; i < 20000; i++) syscall(SYS_getppid);
    stop = 1;
    pthread_join(t, NULL);
    _exit(0);
  }
  // A process that wrecked its own stub may never come back: it is killed like any other.
  int st = 0;
  for (int i = 0; i < 500 && waitpid(victim, &st, WNOHANG) == 0; i++) usleep(10000);
  if (kill(victim, SIGKILL) == 0) waitpid(victim, &st, 0);
  printf("scribbler ended: %d\n", WIFEXITED(st) || WIFSIGNALED(st));
  printf("still running: %d\n", via(own_gadget, SYS_getppid, 0, 0, 0, 0, 0, 0) >= 0);
  return 0;
}
