// Path resolution and the file tree on tmpfs: mkdir/rmdir/unlink/rename/link/symlink errors,
// symlink loops, long names, trailing slashes, .. at the root, cwd, getdents, permissions.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs_setup.h"
#include "probe.h"

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *path) {
  DIR *d = opendir(path);
  if (!d) { printf("opendir %s: %s\n", path, strerror(errno)); return; }
  char *names[256];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 256) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, n, sizeof *names, cmp);
  printf("%s:", path);
  for (int i = 0; i < n; i++) printf(" %s", names[i]);
  printf("\n");
}

static long nlink(const char *p) {
  struct stat st;
  return lstat(p, &st) ? -1 : (long)st.st_nlink;
}

int main(void) {
  fs_setup();
  char dir[] = "/tmp/fspaths.XXXXXX";
  if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
  chdir(dir);
  umask(022);

  show("mkdir d", mkdir("d", 0755));
  show("mkdir d again", mkdir("d", 0755));
  show("mkdir d/e/f", mkdir("d/e/f", 0755));
  show("mkdir d/e", mkdir("d/e", 0700));
  show("mkdir trailing slash", mkdir("d/g/", 0755));
  show("mkdir .", mkdir(".", 0755));
  printf("nlink d: %ld\n", nlink("d"));
  int fd = open("d/file", O_CREAT | O_WRONLY, 0666);
  write(fd, "data", 4);
  close(fd);
  struct stat st;
  stat("d/file", &st);
  printf("file mode %o (umask 022)\n", st.st_mode & 07777);
  show("rmdir non-empty", rmdir("d"));
  show("rmdir file", rmdir("d/file"));
  show("unlink dir", unlink("d/e"));
  show("rmdir .", rmdir("d/e/."));
  show("rmdir ..", rmdir("d/e/.."));
  show("unlink missing", unlink("d/missing"));
  show("open file/", open("d/file/", O_RDONLY));
  show("stat file/.", stat("d/file/.", &st));
  show("stat d/", stat("d/", &st));

  // Links.
  show("link", link("d/file", "d/hard"));
  printf("nlink after link: %ld\n", nlink("d/file"));
  show("link exists", link("d/file", "d/hard"));
  show("link dir", link("d", "d2"));
  show("unlink hard", unlink("d/hard"));
  printf("nlink after unlink: %ld\n", nlink("d/file"));

  // Symlinks.
  show("symlink", symlink("file", "d/sym"));
  show("symlink exists", symlink("file", "d/sym"));
  char buf[256] = {0};
  show("readlink", readlink("d/sym", buf, sizeof buf));
  printf("target '%s'\n", buf);
  show("readlink short", readlink("d/sym", buf, 2));
  show("readlink non-link", readlink("d/file", buf, sizeof buf));
  show("stat via symlink", stat("d/sym", &st));
  printf("size via symlink: %ld, lstat is link: %s\n", (long)st.st_size,
         lstat("d/sym", &st) == 0 && S_ISLNK(st.st_mode) ? "yes" : "no");
  show("open O_NOFOLLOW", open("d/sym", O_RDONLY | O_NOFOLLOW));
  show("symlink loop a", symlink("b", "a"));
  show("symlink loop b", symlink("a", "b"));
  show("open loop", open("a", O_RDONLY));
  show("dangling", symlink("nowhere", "dang"));
  show("open dangling", open("dang", O_RDONLY));
  show("symlink to dir", symlink("d", "dl"));
  show("open dl/file", open("dl/file", O_RDONLY) >= 0 ? 0 : -1);
  show("symlink abs", symlink(dir, "self"));
  show("stat self/self/d", stat("self/self/self/d", &st));
  show("lstat dl/", lstat("dl/", &st));
  printf("dl/ is dir: %s\n", S_ISDIR(st.st_mode) ? "yes" : "no");

  // Names and lengths.
  char longname[300];
  memset(longname, 'x', 256);
  longname[256] = 0;
  show("open 256-byte name", open(longname, O_CREAT | O_RDWR, 0600));
  longname[255] = 0;
  show("open 255-byte name", open(longname, O_CREAT | O_RDWR, 0600) >= 0 ? 0 : -1);
  unlink(longname);
  char *huge = malloc(5000);
  memset(huge, 'a', 4999);
  huge[4999] = 0;
  for (int i = 100; i < 4999; i += 100) huge[i] = '/';
  show("stat 5000-byte path", stat(huge, &st));
  show("stat empty", stat("", &st));

  // Renames.
  mkdir("r", 0755);
  mkdir("r/sub", 0755);
  int f2 = open("r/x", O_CREAT | O_WRONLY, 0600);
  close(f2);
  f2 = open("r/y", O_CREAT | O_WRONLY, 0600);
  write(f2, "yy", 2);
  close(f2);
  show("rename file", rename("r/x", "r/x2"));
  show("rename over file", rename("r/x2", "r/y"));
  stat("r/y", &st);
  printf("y size after replace: %ld\n", (long)st.st_size);
  show("rename missing", rename("r/x2", "r/z"));
  show("rename dir into itself", rename("r", "r/sub/r"));
  show("rename file over dir", rename("r/y", "r/sub"));
  mkdir("r/full", 0755);
  close(open("r/full/f", O_CREAT | O_WRONLY, 0600));
  mkdir("r/empty", 0755);
  show("rename dir over non-empty", rename("r/empty", "r/full"));
  show("rename dir over file", rename("r/empty", "r/y"));
  show("rename dir over empty dir", rename("r/full", "r/empty"));
  list("r");
  show("renameat2 NOREPLACE", syscall(SYS_renameat2, AT_FDCWD, "r/y", AT_FDCWD, "r/empty", 1));
  show("renameat2 EXCHANGE", syscall(SYS_renameat2, AT_FDCWD, "r/y", AT_FDCWD, "r/empty", 2));
  stat("r/y", &st);
  printf("y is dir after exchange: %s\n", S_ISDIR(st.st_mode) ? "yes" : "no");
  show("rename .", rename("r/.", "r/dot"));
  show("rename to same", rename("r/sub", "r/sub"));

  // getdents.
  list(".");
  list("d");
  for (int i = 0; i < 300; i++) {
    char n[32];
    snprintf(n, sizeof n, "many/%03d", i);
    if (i == 0) mkdir("many", 0755);
    close(open(n, O_CREAT | O_WRONLY, 0600));
  }
  DIR *md = opendir("many");
  int count = 0;
  while (readdir(md)) count++;
  closedir(md);
  printf("many entries: %d\n", count);

  // cwd.
  char cwd[4096];
  show("chdir d", chdir("d"));
  getcwd(cwd, sizeof cwd);
  printf("cwd ends with /d: %s\n", strlen(cwd) > 2 && !strcmp(cwd + strlen(cwd) - 2, "/d") ? "yes" : "no");
  show("chdir file", chdir("file"));
  show("chdir missing", chdir("missing"));
  show("chdir ..", chdir(".."));
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  show("fchdir", fchdir(dfd));
  show("openat relative", openat(dfd, "file", O_RDONLY) >= 0 ? 0 : -1);
  show("openat on file fd", openat(open("file", O_RDONLY), "x", O_RDONLY));
  show("openat abs ignores dirfd", openat(12345, "/tmp", O_RDONLY) >= 0 ? 0 : -1);
  show("chdir /", chdir("/"));
  show("chdir /..", chdir("/.."));
  getcwd(cwd, sizeof cwd);
  printf("cwd after /..: %s\n", cwd);
  show("stat /../../tmp", stat("/../../tmp", &st));
  chdir(dir);

  // Permissions as root: chmod and access.
  show("chmod 0", chmod("d/file", 0));
  show("access R_OK as root", access("d/file", R_OK));
  show("access X_OK no x bits", access("d/file", X_OK));
  show("chmod 0100", chmod("d/file", 0100));
  show("access X_OK", access("d/file", X_OK));
  show("access missing", access("d/missing", F_OK));
  show("access bad mode", access("d/file", 0100));
  stat("d/file", &st);
  printf("mode after chmod: %o\n", st.st_mode & 07777);
  show("chown", chown("d/file", 1000, 1000));
  stat("d/file", &st);
  printf("owner %d:%d\n", st.st_uid, st.st_gid);
  struct timespec ts[2] = {{1000000000, 5}, {1200000000, 7}};
  show("utimensat", utimensat(AT_FDCWD, "d/file", ts, 0));
  stat("d/file", &st);
  printf("atime %ld.%ld mtime %ld.%ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
         (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  // Before the epoch: tv_nsec stays in [0, 1e9) and tv_sec carries the sign.
  struct timespec early[2] = {{-1, 500000000}, {-3, 250}};
  show("utimensat before 1970", utimensat(AT_FDCWD, "d/file", early, 0));
  stat("d/file", &st);
  printf("atime %ld.%ld mtime %ld.%ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
         (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  struct statx sx;
  show("statx", statx(AT_FDCWD, "d/file", 0, STATX_BASIC_STATS, &sx));
  printf("statx atime %lld.%u mtime %lld.%u\n", (long long)sx.stx_atime.tv_sec,
         sx.stx_atime.tv_nsec, (long long)sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec);
  umask(077);
  mkdir("masked", 0777);
  stat("masked", &st);
  printf("mkdir under umask 077: %o\n", st.st_mode & 07777);
  printf("umask returns old: %o\n", umask(022));

  // FIFOs.
  show("mkfifo", mkfifo("fifo", 0600));
  stat("fifo", &st);
  printf("fifo is fifo: %s\n", S_ISFIFO(st.st_mode) ? "yes" : "no");
  show("open fifo nonblock writer", open("fifo", O_WRONLY | O_NONBLOCK));
  int fr = open("fifo", O_RDONLY | O_NONBLOCK);
  int fw = open("fifo", O_WRONLY | O_NONBLOCK);
  show("fifo write", write(fw, "hi", 2));
  show("fifo read", read(fr, buf, sizeof buf));
  return 0;
}
