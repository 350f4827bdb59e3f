// Advisory locks between processes (fcntl record locks, OFD locks, flock) and moving data
// between descriptors (sendfile, splice, tee, copy_file_range).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs_setup.h"
#include "probe.h"

static int lk(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock f = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  return fcntl(fd, cmd, &f);
}

int main(void) {
  fs_setup();
  char dir[] = "/tmp/fslocks.XXXXXX";
  mkdtemp(dir);
  chdir(dir);
  int fd = open("f", O_CREAT | O_RDWR, 0600);
  write(fd, "0123456789abcdefghij", 20);

  show("parent write lock 0-10", lk(fd, F_SETLK, F_WRLCK, 0, 10));
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    int cfd = open("f", O_RDWR);
    show("child write lock 5-15", lk(cfd, F_SETLK, F_WRLCK, 5, 10));
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 10};
    fcntl(cfd, F_GETLK, &q);
    printf("F_GETLK: type %s start %ld len %ld pid is parent: %s\n",
           q.l_type == F_WRLCK ? "WRLCK" : q.l_type == F_UNLCK ? "UNLCK" : "RDLCK",
           (long)q.l_start, (long)q.l_len, q.l_pid == getppid() ? "yes" : "no");
    show("child read lock 10-20", lk(cfd, F_SETLK, F_RDLCK, 10, 10));
    fflush(stdout);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  show("parent relock own range", lk(fd, F_SETLK, F_RDLCK, 0, 5));

  // A waiting lock gets it when the holder unlocks.
  int p[2];
  pipe(p);
  fflush(stdout);
  c = fork();
  if (c == 0) {
    int cfd = open("f", O_RDWR);
    write(p[1], "w", 1);
    int r = lk(cfd, F_SETLKW, F_WRLCK, 0, 1);
    printf("child F_SETLKW returned %d after the parent unlocked\n", r);
    fflush(stdout);
    _exit(0);
  }
  char b;
  read(p[0], &b, 1);
  usleep(100000);
  printf("parent unlocks\n");
  fflush(stdout);
  lk(fd, F_SETLK, F_UNLCK, 0, 0);
  waitpid(c, NULL, 0);

  // Closing any descriptor of the file drops the process's locks.
  lk(fd, F_SETLK, F_WRLCK, 0, 0);
  close(open("f", O_RDONLY));
  fflush(stdout);
  c = fork();
  if (c == 0) {
    show("child lock after parent closed another fd", lk(open("f", O_RDWR), F_SETLK, F_WRLCK, 0, 0));
    fflush(stdout);
    _exit(0);
  }
  waitpid(c, NULL, 0);

  // OFD locks conflict between descriptions of one process.
  int o1 = open("f", O_RDWR), o2 = open("f", O_RDWR);
  show("OFD lock 1", lk(o1, F_OFD_SETLK, F_WRLCK, 0, 4));
  show("OFD lock 2 conflicts", lk(o2, F_OFD_SETLK, F_WRLCK, 2, 4));
  show("OFD lock 2 elsewhere", lk(o2, F_OFD_SETLK, F_WRLCK, 4, 4));
  struct flock bad = {.l_type = F_WRLCK, .l_pid = 5};
  show("OFD lock with pid", fcntl(o2, F_OFD_SETLK, &bad));
  show("read lock on O_WRONLY", lk(open("f", O_WRONLY), F_SETLK, F_RDLCK, 0, 1));

  // flock.
  int f1 = open("f", O_RDONLY), f2 = open("f", O_RDONLY);
  show("flock ex", flock(f1, LOCK_EX));
  show("flock ex nb other description", flock(f2, LOCK_EX | LOCK_NB));
  show("flock sh nb other description", flock(f2, LOCK_SH | LOCK_NB));
  show("flock ex via dup", flock(dup(f1), LOCK_EX | LOCK_NB));
  show("flock un", flock(f1, LOCK_UN));
  show("flock ex nb now", flock(f2, LOCK_EX | LOCK_NB));
  show("flock bad op", flock(f2, 77));

  // sendfile, copy_file_range, splice, tee.
  int pp[2];
  pipe(pp);
  off_t off = 5;
  show("sendfile with offset", sendfile(pp[1], fd, &off, 6));
  printf("offset after: %ld, file offset: %ld\n", (long)off, (long)lseek(fd, 0, SEEK_CUR));
  char buf[64] = {0};
  read(pp[0], buf, sizeof buf);
  printf("sent: %s\n", buf);
  lseek(fd, 10, SEEK_SET);
  show("sendfile from offset", sendfile(pp[1], fd, NULL, 100));
  printf("file offset: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
  memset(buf, 0, sizeof buf);
  read(pp[0], buf, sizeof buf);
  printf("sent: %s\n", buf);
  int g = open("g", O_CREAT | O_RDWR | O_TRUNC, 0600);
  off_t in = 2, out = 0;
  show("copy_file_range", copy_file_range(fd, &in, g, &out, 8, 0));
  memset(buf, 0, sizeof buf);
  pread(g, buf, sizeof buf, 0);
  printf("copied: %s (in %ld out %ld)\n", buf, (long)in, (long)out);
  write(pp[1], "spliced!", 8);
  loff_t go = 0;
  show("splice pipe to file", splice(pp[0], NULL, g, &go, 8, 0));
  memset(buf, 0, sizeof buf);
  pread(g, buf, 8, 0);
  printf("file now: %s\n", buf);
  show("splice file to file", splice(fd, NULL, g, NULL, 4, 0));
  int q[2];
  pipe(q);
  write(pp[1], "teedata", 7);
  show("tee", tee(pp[0], q[1], 100, 0));
  memset(buf, 0, sizeof buf);
  read(q[0], buf, sizeof buf);
  printf("tee copy: %s\n", buf);
  memset(buf, 0, sizeof buf);
  read(pp[0], buf, sizeof buf);
  printf("original still there: %s\n", buf);
  return 0;
}
