// Prints a greeting and what the sandbox gave the process: argv, cwd, pid and $FOO.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  char cwd[4096];
  printf("hello, world\n");
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "(error)");
  printf("pid=%d\n", (int)getpid());
  const char *foo = getenv("FOO");
  printf("FOO=%s\n", foo ? foo : "(unset)");
  return 0;
}
