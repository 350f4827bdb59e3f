// File I/O on tmpfs (/tmp): offsets shared across dup, O_APPEND, pread/pwrite, vectors,
// lseek, truncation, O_EXCL/O_TRUNC, fcntl flags and close-on-exec.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs_setup.h"
#include "probe.h"

int main(void) {
  fs_setup();
  char dir[] = "/tmp/fsfiles.XXXXXX";
  if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
  if (chdir(dir)) { perror("chdir"); return 1; }

  int fd = open("a", O_RDWR | O_CREAT | O_EXCL, 0644);
  show("open new", fd >= 0 ? 0 : -1);
  show("open excl again", open("a", O_RDWR | O_CREAT | O_EXCL, 0644));
  show("write", write(fd, "hello world\n", 12));
  show("lseek cur", lseek(fd, 0, SEEK_CUR));
  int d = dup(fd);
  show("lseek dup to 6", lseek(d, 6, SEEK_SET));
  char buf[64] = {0};
  show("read via original", read(fd, buf, 5));
  printf("got '%s'\n", buf);
  show("offset shared", lseek(d, 0, SEEK_CUR));
  show("pread at 0", pread(fd, buf, 5, 0));
  buf[5] = 0;
  printf("pread '%s'\n", buf);
  show("offset unchanged", lseek(fd, 0, SEEK_CUR));
  show("pwrite at 20", pwrite(fd, "X", 1, 20));
  struct stat st;
  fstat(fd, &st);
  printf("size after pwrite hole: %ld\n", (long)st.st_size);
  memset(buf, 'z', sizeof buf);
  show("pread hole", pread(fd, buf, 9, 12));
  printf("hole bytes zero: %s\n", buf[0] == 0 && buf[7] == 0 && buf[8] == 'X' ? "yes" : "no");
  show("lseek end", lseek(fd, 0, SEEK_END));
  show("lseek end -4", lseek(fd, -4, SEEK_END));
  show("lseek negative", lseek(fd, -100, SEEK_SET));
  show("lseek bad whence", lseek(fd, 0, 17));
  show("SEEK_DATA", lseek(fd, 0, SEEK_DATA));
  show("SEEK_DATA past end", lseek(fd, 100, SEEK_DATA));

  // O_APPEND with two descriptors.
  int a1 = open("log", O_WRONLY | O_CREAT | O_APPEND, 0600);
  int a2 = open("log", O_WRONLY | O_APPEND);
  write(a1, "one\n", 4);
  write(a2, "two\n", 4);
  write(a1, "three\n", 6);
  show("append pwrite", pwrite(a1, "P", 1, 0));
  int r = open("log", O_RDONLY);
  memset(buf, 0, sizeof buf);
  show("read log", read(r, buf, sizeof buf - 1));
  printf("log: %s", buf);
  printf("\n");
  show("write on O_RDONLY", write(r, "x", 1));
  show("read on O_WRONLY", read(a1, buf, 1));

  // Vectors.
  struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cdef", 4}};
  int v = open("vec", O_RDWR | O_CREAT | O_TRUNC, 0600);
  show("writev", writev(v, iov, 3));
  char x[3] = {0}, y[8] = {0};
  struct iovec in[2] = {{x, 2}, {y, 7}};
  show("preadv", preadv(v, in, 2, 0));
  printf("preadv '%s' '%s'\n", x, y);
  show("pwritev", pwritev(v, iov, 3, 10));
  fstat(v, &st);
  printf("vec size: %ld\n", (long)st.st_size);

  // Truncation.
  show("ftruncate 3", ftruncate(v, 3));
  fstat(v, &st);
  printf("size after ftruncate: %ld\n", (long)st.st_size);
  show("ftruncate grow", ftruncate(v, 8192));
  show("pread grown", pread(v, buf, 4, 4000));
  show("ftruncate negative", ftruncate(v, -1));
  show("ftruncate O_RDONLY", ftruncate(r, 0));
  show("truncate path", truncate("vec", 1));
  stat("vec", &st);
  printf("size after truncate: %ld\n", (long)st.st_size);
  int t2 = open("vec", O_RDWR | O_TRUNC);
  fstat(t2, &st);
  printf("size after O_TRUNC: %ld\n", (long)st.st_size);

  // fcntl.
  int fl = fcntl(a1, F_GETFL);
  printf("GETFL append: %s wronly: %s\n", fl & O_APPEND ? "yes" : "no",
         (fl & O_ACCMODE) == O_WRONLY ? "yes" : "no");
  fcntl(a1, F_SETFL, fl | O_NONBLOCK);
  printf("SETFL nonblock: %s\n", fcntl(a1, F_GETFL) & O_NONBLOCK ? "yes" : "no");
  printf("GETFD: %d\n", fcntl(a1, F_GETFD));
  fcntl(a1, F_SETFD, FD_CLOEXEC);
  printf("GETFD after SETFD: %d\n", fcntl(a1, F_GETFD));
  int c = fcntl(a1, F_DUPFD_CLOEXEC, 50);
  printf("DUPFD_CLOEXEC >= 50: %s cloexec %d\n", c >= 50 ? "yes" : "no", fcntl(c, F_GETFD));
  show("dup2 same", dup2(a1, a1));
  show("dup3 same", dup3(a1, a1, 0));
  show("dup3 bad flags", dup3(a1, 60, 1));
  show("dup2 to 70", dup2(a1, 70));
  printf("dup2 clears cloexec: %d\n", fcntl(70, F_GETFD));
  show("close 70", close(70));
  show("close 70 again", close(70));
  show("fcntl bad fd", fcntl(99, F_GETFD));
  int o = open("a", O_RDONLY | O_CLOEXEC);
  printf("O_CLOEXEC: %d\n", fcntl(o, F_GETFD));

  // Opening directories and missing files.
  show("open dir O_RDWR", open(".", O_RDWR));
  show("open dir O_RDONLY", open(".", O_RDONLY) >= 0 ? 0 : -1);
  show("read dir", read(open(".", O_RDONLY), buf, 10));
  show("open O_DIRECTORY on file", open("a", O_RDONLY | O_DIRECTORY));
  show("open missing", open("missing", O_RDONLY));
  show("open missing/x", open("missing/x", O_RDONLY));
  show("open a/x", open("a/x", O_RDONLY));
  show("creat", creat("c", 0600) >= 0 ? 0 : -1);
  show("O_PATH read", read(open("a", O_PATH), buf, 1));

  // Unlinked but open.
  int u = open("gone", O_RDWR | O_CREAT, 0600);
  write(u, "still here", 10);
  unlink("gone");
  fstat(u, &st);
  printf("unlinked nlink %ld size %ld\n", (long)st.st_nlink, (long)st.st_size);
  memset(buf, 0, sizeof buf);
  pread(u, buf, 10, 0);
  printf("unlinked data '%s'\n", buf);

  char cmd[64];
  snprintf(cmd, sizeof cmd, "%s", dir);
  unlink("a"); unlink("log"); unlink("vec"); unlink("c");
  chdir("/");
  show("rmdir", rmdir(cmd));
  return 0;
}
