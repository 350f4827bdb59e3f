// Escape probe: every way of naming a file outside the root by path must stay inside it.
// argv[1]: a host file's absolute path (outside the rootfs), argv[2]: a file beside the
// rootfs, named relative to the root's parent (e.g. "secret.txt"). The test lays out in the
// rootfs: /inside.txt, /d/, /l_abs -> argv[1], /l_rel -> ../<argv[2]>, /l_up -> ../../../../..,
// /d/l_up -> ../../../../.., /l_root -> /.
// Runs natively in a chroot and in the sandbox with the same output: no LEAK line either way.
#include "sec_common.h"
#include <dirent.h>
#include <stdlib.h>

static long count_entries(const char *path) {
  DIR *d = opendir(path);
  if (!d) return -errno;
  long n = 0;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 3) return 2;
  const char *host = argv[1];       // "/tmp/.../secret"
  const char *beside = argv[2];     // "secret.txt"
  char p[4096];

  try_open("inside", AT_FDCWD, "/inside.txt");
  try_open("host path", AT_FDCWD, host);
  snprintf(p, sizeof p, "/..%s", host);
  try_open("/.. then host path", AT_FDCWD, p);
  snprintf(p, sizeof p, "/../../../../../../../..%s", host);
  try_open("many .. then host path", AT_FDCWD, p);
  snprintf(p, sizeof p, "/../%s", beside);
  try_open("/../beside", AT_FDCWD, p);
  snprintf(p, sizeof p, "../../../../%s", beside);
  try_open("relative ../../beside", AT_FDCWD, p);
  snprintf(p, sizeof p, "../../../../../..%s", host);
  try_open("relative .. then host path", AT_FDCWD, p);

  // cwd climbing.
  for (int i = 0; i < 8; i++) chdir("..");
  char cwd[256];
  printf("cwd after chdir(..) x8: %s\n", getcwd(cwd, sizeof cwd) ? cwd : strerror(errno));
  same_as_root("'.' after chdir(..) x8", ".");
  same_as_root("/..", "/..");
  same_as_root("/../../..", "/../../..");
  printf("entries of /.. equal entries of /: %s\n",
         count_entries("/..") == count_entries("/") ? "yes" : "no");

  // Symlinks out of the root.
  try_open("absolute link to host path", AT_FDCWD, "/l_abs");
  try_open("relative link to ../beside", AT_FDCWD, "/l_rel");
  try_open("link up, then host path", AT_FDCWD, CAT("/l_up", host));
  try_open("nested link up, then host path", AT_FDCWD, CAT("/d/l_up", host));
  snprintf(p, sizeof p, "/l_up/%s", beside);
  try_open("link up, then beside", AT_FDCWD, p);
  try_open("link to /, .., host path", AT_FDCWD, CAT("/l_root/..", host));
  same_as_root("/l_up", "/l_up");
  same_as_root("/d/l_up", "/d/l_up");
  same_as_root("/l_up/..", "/l_up/..");
  int dfd = open("/d", O_RDONLY | O_DIRECTORY);
  snprintf(p, sizeof p, "l_up/../../%s", beside);
  try_open("openat(/d) link up, .., beside", dfd, p);
  snprintf(p, sizeof p, "../../../..%s", host);
  try_open("openat(/d) .., host path", dfd, p);
  int up = openat(dfd, "../../../..", O_RDONLY | O_DIRECTORY);
  if (up >= 0) {
    struct stat a, b;
    fstat(up, &a);
    stat("/", &b);
    printf("openat(/d, ../../../..): %s\n", a.st_ino == b.st_ino ? "the root" : "NOT the root");
    close(up);
  }

  // /proc/self links resolve inside the root.
  show_link("readlink /proc/self/root", "/proc/self/root");
  try_open("/proc/self/root + host path", AT_FDCWD, CAT("/proc/self/root", host));
  snprintf(p, sizeof p, "/proc/self/root/../%s", beside);
  try_open("/proc/self/root/../beside", AT_FDCWD, p);
  same_as_root("/proc/self/root/..", "/proc/self/root/..");
  chdir("/d");
  show_link("readlink /proc/self/cwd", "/proc/self/cwd");
  snprintf(p, sizeof p, "/proc/self/cwd/../../../%s", beside);
  try_open("/proc/self/cwd/../../../beside", AT_FDCWD, p);
  same_as_root("/proc/self/cwd/../../..", "/proc/self/cwd/../../..");
  snprintf(p, sizeof p, "/proc/self/fd/%d", dfd);
  show_link("readlink /proc/self/fd/<d>", p);
  snprintf(p, sizeof p, "/proc/self/fd/%d/../../../..%s", dfd, host);
  try_open("/proc/self/fd/<d>/../.. + host path", AT_FDCWD, p);
  snprintf(p, sizeof p, "/proc/self/fd/%d/l_up/../%s", dfd, beside);
  try_open("/proc/self/fd/<d>/l_up/../beside", AT_FDCWD, p);
  snprintf(p, sizeof p, "/proc/self/fd/%d/../../..", dfd);
  same_as_root("/proc/self/fd/<d>/../../..", p);
  // An O_PATH descriptor of the root and fchdir: '..' of the root is the root.
  int rfd = open("/", O_PATH | O_DIRECTORY);
  fchdir(rfd);
  chdir("..");
  same_as_root("fchdir(/) then ..", ".");
  snprintf(p, sizeof p, "..%s", host);
  try_open("openat(O_PATH /) .., host path", rfd, p);
  printf("leaks: %d\n", leaks);
  return leaks ? 1 : 0;
}
