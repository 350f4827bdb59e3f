// Allocates and touches memory 1 MiB at a time until malloc fails (or argv[1] MiB, default
// 4096, is reached), then prints how much it got. A sandbox with a memory limit must refuse
// with ENOMEM, not let the host's OOM killer end it.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  long max = argc > 1 ? atol(argv[1]) : 4096;
  long got = 0;
  for (; got < max; got++) {
    char *p = malloc(1 << 20);
    if (!p) break;
    memset(p, 1, 1 << 20);
  }
  printf("got=%ld errno=%s\n", got, got < max ? strerror(errno) : "none");
  return 0;
}
