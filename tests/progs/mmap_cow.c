// Memory across fork: private memory is copied on write (each side sees only its own writes,
// whoever writes first, including writes the kernel makes for read(2)), shared memory is
// shared, unmapping on one side leaves the other's copy, and a grandchild sees the memory as
// it was at its own fork.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void wait_child(pid_t c) {
  int st;
  waitpid(c, &st, 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char *priv = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  strcpy(priv, "parent");
  *shared = 1;
  static int global = 5;
  pid_t c = fork();
  if (c == 0) {
    printf("child sees: %s %d %d\n", priv, *shared, global);
    strcpy(priv, "child");
    *shared = 2;
    global = 6;
    sbrk(4096 * 4);
    _exit(0);
  }
  wait_child(c);
  printf("parent sees: %s %d %d\n", priv, *shared, global);

  // The parent writes first; the child still sees the old contents.
  int pfd[2];
  pipe(pfd);
  c = fork();
  if (c == 0) {
    char b;
    read(pfd[0], &b, 1);  // wait until the parent has written
    printf("child after parent's write: %s %d\n", priv, global);
    _exit(0);
  }
  strcpy(priv, "changed");
  global = 7;
  write(pfd[1], "x", 1);
  wait_child(c);

  // read(2) into copy-on-write memory in the child: the kernel's write is private too.
  int q[2];
  pipe(q);
  write(q[1], "KERNEL", 6);
  c = fork();
  if (c == 0) {
    read(q[0], priv, 6);
    printf("child read into its copy: %.6s\n", priv);
    _exit(0);
  }
  wait_child(c);
  printf("parent's copy after the child's read: %s\n", priv);

  // A grandchild sees the memory as its parent had it at the second fork.
  c = fork();
  if (c == 0) {
    strcpy(priv + 4096, "middle");
    pid_t g = fork();
    if (g == 0) {
      printf("grandchild sees: %s %s\n", priv, priv + 4096);
      _exit(0);
    }
    strcpy(priv + 4096, "middle-later");
    wait_child(g);
    _exit(0);
  }
  wait_child(c);

  // Unmapping in the parent leaves the child's view; mprotect read-only still reads.
  char *area = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  strcpy(area, "survives");
  int r[2];
  pipe(r);
  c = fork();
  if (c == 0) {
    char b;
    read(r[0], &b, 1);
    mprotect(area, 4096, PROT_READ);
    printf("child after parent's munmap: %s\n", area);
    _exit(0);
  }
  munmap(area, 4096);
  write(r[1], "x", 1);
  wait_child(c);
  printf("done: %s %d\n", priv, global);
  return 0;
}
