// Memory across fork: private memory is copied (each side sees only its own writes), shared
// memory is shared, and a child's brk is its own.
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

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
  waitpid(c, NULL, 0);
  printf("parent sees: %s %d %d\n", priv, *shared, global);
  return 0;
}
