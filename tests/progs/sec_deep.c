// Escape probe (denial of service): what walks paths must not recurse or loop without bound.
// argv[1]: a writable directory, argv[2]: how deep (default 20000). Symlink bombs (each link names the one below it ten times,
// 10^6 lookups if links were counted per component rather than 40 in all) end in ELOOP; a
// directory 20000 levels deep is made, described (getcwd, /proc/self/cwd) and removed.
#include "sec_common.h"
#include <stdlib.h>


static void bomb(const char *what) {
  char target[256], name[16];
  symlink(".", "b0");
  for (int i = 1; i <= 6; i++) {
    target[0] = 0;
    for (int k = 0; k < 10; k++) {
      snprintf(name, sizeof name, "%sb%d", k ? "/" : "", i - 1);
      strcat(target, name);
    }
    snprintf(name, sizeof name, "b%d", i);
    symlink(target, name);
  }
  struct stat st;
  char p[64];
  snprintf(p, sizeof p, "%s: stat b6", what);
  printf("%s: %s\n", p, stat("b6", &st) < 0 ? strerror(errno) : "found");
  snprintf(p, sizeof p, "%s: open b6/x", what);
  try_open(p, AT_FDCWD, "b6/x");
  for (int i = 0; i <= 6; i++) {
    snprintf(name, sizeof name, "b%d", i);
    unlink(name);
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 2 || chdir(argv[1]) < 0) return 2;
  int depth = argc > 2 ? atoi(argv[2]) : 20000;
  bomb("bomb");
  // A long path of ".." and "." components: resolved, not expanded without bound.
  char *dots = malloc(8192);
  dots[0] = 0;
  for (int i = 0; i < 2000; i++) strcat(dots, "./");
  struct stat st;
  printf("4000-byte path of ./: %s\n", stat(dots, &st) < 0 ? strerror(errno) : "found");
  for (int i = 0; i < 2100; i++) strcat(dots, "./");
  printf("8200-byte path: %s\n", stat(dots, &st) < 0 ? strerror(errno) : "found");

  int made = 0;
  mkdir("deep", 0755);
  chdir("deep");
  for (; made < depth; made++) {
    if (mkdir("d", 0755) < 0 || chdir("d") < 0) break;
  }
  printf("levels made: %d\n", made);
  char *buf = malloc(1 << 20);
  printf("getcwd: %s\n", getcwd(buf, 1 << 20) ? "fits" : strerror(errno));
  long n = readlink("/proc/self/cwd", buf, 1 << 20);
  printf("readlink /proc/self/cwd: %s\n", n < 0 ? strerror(errno) : "fits");
  int fd = open(".", O_RDONLY | O_DIRECTORY);
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  n = readlink(p, buf, 1 << 20);
  printf("readlink /proc/self/fd/<deep>: %s\n", n < 0 ? strerror(errno) : "fits");
  close(fd);
  bomb("deep bomb");
  int up = 0;
  for (; up < made; up++) {
    if (chdir("..") < 0 || rmdir("d") < 0) break;
  }
  printf("levels removed: %d\n", up);
  chdir("..");
  printf("rmdir deep: %s\n", rmdir("deep") < 0 ? strerror(errno) : "ok");
  return 0;
}
