// Extended attributes on tmpfs and O_TMPFILE files (unnamed, then linked in with linkat).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs_setup.h"
#include "probe.h"

int main(void) {
  fs_setup();
  char dir[] = "/tmp/fsxattr.XXXXXX";
  mkdtemp(dir);
  chdir(dir);
  close(open("f", O_CREAT | O_WRONLY, 0600));
  show("setxattr", setxattr("f", "user.color", "blue", 4, 0));
  show("setxattr create existing", setxattr("f", "user.color", "red", 3, XATTR_CREATE));
  show("setxattr replace missing", setxattr("f", "user.size", "1", 1, XATTR_REPLACE));
  show("setxattr replace", setxattr("f", "user.color", "green", 5, XATTR_REPLACE));
  char buf[256] = {0};
  show("getxattr size query", getxattr("f", "user.color", NULL, 0));
  show("getxattr", getxattr("f", "user.color", buf, sizeof buf));
  printf("value: %s\n", buf);
  show("getxattr small buffer", getxattr("f", "user.color", buf, 2));
  show("getxattr missing", getxattr("f", "user.none", buf, sizeof buf));
  show("setxattr bad namespace", setxattr("f", "bogus.x", "1", 1, 0));
  setxattr("f", "user.b", "", 0, 0);
  memset(buf, 0, sizeof buf);
  ssize_t n = listxattr("f", buf, sizeof buf);
  printf("listxattr: %ld:", (long)n);
  for (char *p = buf; p < buf + n; p += strlen(p) + 1) printf(" %s", p);
  printf("\n");
  show("removexattr", removexattr("f", "user.b"));
  show("removexattr again", removexattr("f", "user.b"));
  int fd = open("f", O_RDONLY);
  show("fgetxattr", fgetxattr(fd, "user.color", buf, sizeof buf));
  symlink("f", "l");
  show("lsetxattr user on symlink", lsetxattr("l", "user.x", "1", 1, 0));
  show("getxattr through symlink", getxattr("l", "user.color", buf, sizeof buf));

  int t = open(".", O_TMPFILE | O_RDWR, 0600);
  show("O_TMPFILE", t >= 0 ? 0 : -1);
  show("O_TMPFILE write", write(t, "tmp data", 8));
  struct stat st;
  fstat(t, &st);
  printf("tmpfile nlink %ld size %ld\n", (long)st.st_nlink, (long)st.st_size);
  show("O_TMPFILE without write access", open(".", O_TMPFILE | O_RDONLY, 0600));
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", t);
  show("linkat tmpfile", linkat(AT_FDCWD, proc, AT_FDCWD, "named", AT_SYMLINK_FOLLOW));
  stat("named", &st);
  printf("named size %ld nlink %ld\n", (long)st.st_size, (long)st.st_nlink);
  int x = open(".", O_TMPFILE | O_RDWR | O_EXCL, 0600);
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", x);
  show("linkat O_EXCL tmpfile", linkat(AT_FDCWD, proc, AT_FDCWD, "named2", AT_SYMLINK_FOLLOW));
  return 0;
}
