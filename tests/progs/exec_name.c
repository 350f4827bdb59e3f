// A process's name after execve is the last component of the path it was started by, not of
// the file that path resolved to: /proc/self/exe gives "exe", a symlink gives the link's name
// (busybox applets, ps). comm, PR_GET_NAME and /proc/self/status agree; names are cut at 15.
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "probe.h"

static void report(void) {
  char name[17] = {0}, comm[64] = {0}, status[64] = {0}, exe[256] = {0};
  prctl(PR_GET_NAME, name);
  FILE *f = fopen("/proc/self/comm", "r");
  if (f) {
    if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
    fclose(f);
  }
  f = fopen("/proc/self/status", "r");
  if (f) {
    if (!fgets(status, sizeof status, f)) status[0] = 0;
    fclose(f);
  }
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n >= 0) exe[n] = 0;
  printf("prctl %s | comm %s| status %s| exe %s\n", name, comm, status, exe);
}

static void run(const char *path) {
  pid_t c = fork();
  if (c == 0) {
    char *args[] = {"ignored-argv0", "child", NULL};
    execv(path, args);
    printf("execv %s: %s\n", path, strerror(errno));
    _exit(1);
  }
  int st;
  waitpid(c, &st, 0);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    report();
    return 0;
  }
  (void)argv;
  run("/proc/self/exe");
  run("/exec_name");
  symlink("/exec_name", "/tmp/linked-name");
  run("/tmp/linked-name");
  symlink("/exec_name", "/tmp/a-name-longer-than-fifteen");
  run("/tmp/a-name-longer-than-fifteen");
  chdir("/tmp");
  run("./linked-name");
  return 0;
}
