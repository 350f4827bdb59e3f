// Escape probe: huge argument and environment vectors end in E2BIG and leave the kernel
// standing. With "child" as argv[1] it only reports how many arguments it got.
#include "sec_common.h"
#include <stdlib.h>

static void try_exec(const char *what, long argc, long len, long envc) {
  char **argv = calloc(argc + 2, sizeof *argv);
  char **envp = calloc(envc + 1, sizeof *envp);
  char *s = malloc(len + 1);
  memset(s, 'a', len);
  s[len] = 0;
  argv[0] = "/sec_argv";
  for (long i = 1; i <= argc; i++) argv[i] = s;
  for (long i = 0; i < envc; i++) envp[i] = s;
  execve("/sec_argv", argv, envp);
  printf("%s: %s\n", what, strerror(errno));
  free(argv);
  free(envp);
  free(s);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "child") == 0) {
    printf("child got %d arguments\n", argc);
    return 0;
  }
  try_exec("one argument of 128 KiB", 1, 128 * 1024, 0);
  try_exec("one environment string of 1 MiB", 0, 1024 * 1024, 1);
  try_exec("4 MiB of arguments", 64, 64 * 1024, 0);
  try_exec("4 million empty arguments", 4 << 20, 0, 0);
  try_exec("1 million empty environment strings", 0, 0, 1 << 20);
  try_exec("16 MiB of environment", 0, 64 * 1024, 256);
  // One long string named a million times: 100 GiB to copy if nothing stops early.
  try_exec("one 100 KiB argument a million times", 1 << 20, 100 * 1024, 0);
  // The kernel still works: a normal exec after all that.
  char *ok[] = {"/sec_argv", "child", "x", NULL};
  fflush(stdout);
  execve("/sec_argv", ok, NULL);
  printf("exec after: %s\n", strerror(errno));
  return 1;
}
