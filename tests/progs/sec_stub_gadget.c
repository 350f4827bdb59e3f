// Jumps to every `syscall` instruction of the ptrace stub's code (found by reading its page,
// where it is readable; natively and under KVM, to a `syscall; int3` of our own) with hostile
// registers: create a file, fork, make a socket, signal pid 1, map over the stub's code. Under
// PTRACE_SYSEMU these are the application's own calls, served (or refused) by the Sentry, never
// the host's: each must give the result the native run gives through its own instruction, and
// the program must go on working afterwards.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stub_gadget.h"

int main(void) {
  catch_gadget_signals();

  void *g[64];
  int n = gadgets(g, 63);
  g[n++] = own_gadget;
  int same = 1;
  char first[512] = "";
  for (int i = 0; i < n; i++) {
    // Each gadget in a child of its own: where the stub's code goes on after the instruction
    // (to its exit path, say) is the child's own business, like any code it jumps to.
    int p[2];
    char line[512] = "";
    pipe(p);
    pid_t tester = fork();
    if (tester == 0) {
      close(p[0]);
      long fd = via(g[i], SYS_openat, AT_FDCWD, (long)"/tmp/sec_gadget", O_CREAT | O_WRONLY,
                    0644, 0, 0);
      long sock = via(g[i], SYS_socket, AF_UNIX, SOCK_STREAM, 0, 0, 0, 0);
      long k = via(g[i], SYS_kill, 1, 0, 0, 0, 0, 0);
      pid_t me = getpid();
      long child = via(g[i], SYS_fork, 0, 0, 0, 0, 0, 0);
      if (child == 0 || getpid() != me) _exit(7);
      int st = -1;
      if (child > 0) waitpid(child, &st, 0);
      if (fd == -9999 && sock == -9999 && k == -9999 && child == -9999) _exit(0);
      // Mapping over the stub's code through its own instruction: the Sentry's to refuse (it
      // is above the application's top), natively an ordinary mapping. Either way the next
      // system call must work.
      via(g[i], SYS_mmap, STUB_ADDR, 4096, PROT_READ | PROT_WRITE,
          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      long alive = via(own_gadget, SYS_getpid, 0, 0, 0, 0, 0, 0) == me;
      int len = snprintf(line, sizeof line,
                         "open %s, socket %s, kill(1, 0) %ld, fork: child exited %d, "
                         "alive after mmap over the stub %ld",
                         fd >= 0 ? "fd" : "error", sock >= 0 ? "fd" : "error", k,
                         WIFEXITED(st) ? WEXITSTATUS(st) : -1, alive);
      write(p[1], line, len);
      _exit(0);
    }
    close(p[1]);
    // A grandchild left in the stub's wait loop keeps the pipe open: read once the tester
    // is done, without waiting for more.
    waitpid(tester, NULL, 0);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    ssize_t got = read(p[0], line, sizeof line - 1);
    close(p[0]);
    if (got <= 0) continue; // never came back: nothing to compare
    line[got] = 0;
    if (!first[0]) strcpy(first, line);
    else if (strcmp(first, line) != 0) {
      same = 0;
      printf("differs: %s\n", line);
    }
  }
  printf("%s\n", first);
  printf("every gadget gave the same results: %d\n", same);
  printf("still running: %d\n", getppid() >= 0);
  return 0;
}
