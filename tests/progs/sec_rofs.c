// Escape probe: under a read-only root every change is EROFS, whatever the call, and the
// files stay as they were. The test lays out /inside.txt ("inside") and /d/.
#include "sec_common.h"
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>

#define TRY(what, call) show_errno(what, (long)(call))
static void show_errno(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerror(errno));
  else printf("%s: succeeded\n", what);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct timeval tv[2] = {{1, 0}, {2, 0}};
  struct timespec ts[2] = {{1, 0}, {2, 0}};
  TRY("creat /new", open("/new", O_WRONLY | O_CREAT, 0644));
  TRY("open O_WRONLY", open("/inside.txt", O_WRONLY));
  TRY("open O_RDWR", open("/inside.txt", O_RDWR));
  TRY("open O_RDONLY|O_TRUNC", open("/inside.txt", O_RDONLY | O_TRUNC));
  TRY("O_TMPFILE in /d", open("/d", O_TMPFILE | O_RDWR, 0600));
  TRY("unlink", unlink("/inside.txt"));
  TRY("rmdir", rmdir("/d"));
  TRY("mkdir", mkdir("/newdir", 0755));
  TRY("rename", rename("/inside.txt", "/renamed"));
  TRY("rename dir", rename("/d", "/d2"));
  TRY("chmod", chmod("/inside.txt", 0777));
  TRY("chown", chown("/inside.txt", 1, 1));
  TRY("lchown", lchown("/inside.txt", 1, 1));
  TRY("truncate", truncate("/inside.txt", 0));
  TRY("setxattr", setxattr("/inside.txt", "user.x", "1", 1, 0));
  TRY("removexattr", removexattr("/inside.txt", "user.x"));
  TRY("utimes", utimes("/inside.txt", tv));
  TRY("utimensat", utimensat(AT_FDCWD, "/inside.txt", ts, 0));
  TRY("utimensat now", utimensat(AT_FDCWD, "/inside.txt", NULL, 0));
  TRY("mknod fifo", mknod("/fifo", S_IFIFO | 0644, 0));
  TRY("mknod char", mknod("/null2", S_IFCHR | 0666, makedev(1, 3)));
  TRY("link", link("/inside.txt", "/hard"));
  TRY("symlink", symlink("/inside.txt", "/soft"));
  int fd = open("/inside.txt", O_RDONLY);
  TRY("fchmod", fchmod(fd, 0777));
  TRY("fchown", fchown(fd, 1, 1));
  TRY("fsetxattr", fsetxattr(fd, "user.x", "1", 1, 0));
  TRY("futimens", futimens(fd, ts));
  TRY("ftruncate (read-only fd)", ftruncate(fd, 0));
  TRY("fallocate (read-only fd)", fallocate(fd, 0, 0, 4096));
  show_content("inside.txt afterwards", fd);
  close(fd);
  int dfd = open("/d", O_RDONLY | O_DIRECTORY);
  TRY("mkdirat", mkdirat(dfd, "x", 0755));
  TRY("openat creat", openat(dfd, "x", O_CREAT | O_WRONLY, 0644));
  TRY("renameat2 exchange", syscall(316, AT_FDCWD, "/inside.txt", dfd, "..", 2));
  struct stat st;
  stat("/inside.txt", &st);
  printf("inside.txt mode %o size %ld\n", st.st_mode & 07777, (long)st.st_size);
  TRY("stat /new", stat("/new", &st));
  return 0;
}
