// openat2(2) RESOLVE_* flags: BENEATH refuses absolute paths, ".." out of the directory and
// absolute symlinks (EXDEV) but allows what stays inside; IN_ROOT resolves "/" and ".." as the
// directory itself; NO_SYMLINKS refuses any symlink (ELOOP); NO_XDEV refuses crossing into a
// mount (EXDEV); NO_MAGICLINKS refuses /proc/self/fd links (ELOOP).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void try(const char *what, int dirfd, const char *path, unsigned long long resolve) {
  struct open_how how = {.flags = O_RDONLY, .resolve = resolve};
  long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  if (fd < 0) {
    printf("%s: %s\n", what, strerror(errno));
    return;
  }
  char buf[32] = {0};
  long n = read(fd, buf, sizeof buf - 1);
  printf("%s: opened%s%s\n", what, n > 0 ? ", reads " : "", n > 0 ? buf : "");
  close(fd);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  mkdir("/tmp/jail", 0755);
  mkdir("/tmp/jail/sub", 0755);
  FILE *f = fopen("/tmp/jail/sub/inside", "w");
  fputs("inside\n", f);
  fclose(f);
  f = fopen("/tmp/outside", "w");
  fputs("outside\n", f);
  fclose(f);
  symlink("/tmp/outside", "/tmp/jail/abs-link");
  symlink("sub/inside", "/tmp/jail/rel-link");
  symlink("../outside", "/tmp/jail/up-link");
  int jail = open("/tmp/jail", O_RDONLY | O_DIRECTORY);

  try("beneath, plain", jail, "sub/inside", RESOLVE_BENEATH);
  try("beneath, relative link", jail, "rel-link", RESOLVE_BENEATH);
  try("beneath, .. inside", jail, "sub/../sub/inside", RESOLVE_BENEATH);
  try("beneath, absolute path", jail, "/tmp/outside", RESOLVE_BENEATH);
  try("beneath, .. out", jail, "../outside", RESOLVE_BENEATH);
  try("beneath, absolute link", jail, "abs-link", RESOLVE_BENEATH);
  try("beneath, link up and out", jail, "up-link", RESOLVE_BENEATH);
  try("in_root, absolute path", jail, "/sub/inside", RESOLVE_IN_ROOT);
  try("in_root, .. at the top", jail, "../../sub/inside", RESOLVE_IN_ROOT);
  try("in_root, absolute link", jail, "abs-link", RESOLVE_IN_ROOT);
  try("no_symlinks, relative link", jail, "rel-link", RESOLVE_NO_SYMLINKS);
  try("no_symlinks, plain", jail, "sub/inside", RESOLVE_NO_SYMLINKS);
  int root = open("/", O_RDONLY | O_DIRECTORY);
  try("no_xdev, into /proc", root, "proc/self/comm", RESOLVE_NO_XDEV);
  try("no_xdev, same mount", jail, "sub/inside", RESOLVE_NO_XDEV);
  char magic[64];
  snprintf(magic, sizeof magic, "/proc/self/fd/%d", jail);
  try("no_magiclinks, fd link", AT_FDCWD, magic, RESOLVE_NO_MAGICLINKS);
  try("magic link allowed", AT_FDCWD, "/proc/self/fd/0", 0);
  struct open_how bad = {.flags = O_RDONLY, .resolve = RESOLVE_BENEATH | RESOLVE_IN_ROOT};
  printf("beneath with in_root: %s\n",
         syscall(SYS_openat2, jail, "sub/inside", &bad, sizeof bad) < 0 ? strerror(errno) : "opened");
  return 0;
}
