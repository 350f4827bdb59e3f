// execve: a static program, a #! script with an argument on its #! line, a missing file
// (ENOENT), a non-executable file (EACCES), and vfork + exec.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "print") == 0) {
    printf("exec'd with");
    for (int i = 2; i < argc; i++) printf(" [%s]", argv[i]);
    printf("\n");
    return 0;
  }
  char *args[] = {"/exec_script", "print", "a", "b c", NULL};
  pid_t c = vfork();
  if (c == 0) {
    execv("/exec_script", args);
    _exit(127);
  }
  int st;
  waitpid(c, &st, 0);
  printf("vfork child status %d\n", WEXITSTATUS(st));
  c = fork();
  if (c == 0) {
    char *sargs[] = {"/script.sh", "x", NULL};
    execv("/script.sh", sargs);
    printf("exec script failed: %s\n", strerror(errno));
    _exit(1);
  }
  waitpid(c, &st, 0);
  printf("script child status %d\n", WEXITSTATUS(st));
  printf("missing: %s\n", execv("/no-such-file", args) < 0 ? strerror(errno) : "?");
  printf("not executable: %s\n", execv("/plain.txt", args) < 0 ? strerror(errno) : "?");
  printf("still here\n");
  return 0;
}
