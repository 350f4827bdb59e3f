// F_SETLKW deadlock detection: two processes each hold one byte of a file and wait for the
// other's; exactly one of them gets EDEADLK (whichever asks second), the other its lock.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int lock(int fd, int type, int byte, int cmd) {
  struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
  return fcntl(fd, cmd, &l);
}

static pid_t contender(const char *path, int mine, int theirs, int ready_w, int go_r) {
  pid_t c = fork();
  if (c != 0) return c;
  int fd = open(path, O_RDWR);
  lock(fd, F_WRLCK, mine, F_SETLK);
  write(ready_w, "r", 1);
  char b;
  read(go_r, &b, 1);
  int r = lock(fd, F_WRLCK, theirs, F_SETLKW);
  int deadlock = r < 0 && errno == EDEADLK;
  lock(fd, F_UNLCK, mine, F_SETLK);  // let the other one through
  _exit(deadlock ? 1 : 0);
}

int main(void) {
  const char *path = "/tmp/lockfile";
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  write(fd, "ab", 2);
  int ready[2], go[2];
  pipe(ready);
  pipe(go);
  pid_t a = contender(path, 0, 1, ready[1], go[0]);
  pid_t b = contender(path, 1, 0, ready[1], go[0]);
  char x[2];
  read(ready[0], x, 1);
  read(ready[0], x + 1, 1);
  write(go[1], "gg", 2);  // both now ask for the other's byte
  int st, deadlocks = 0;
  waitpid(a, &st, 0);
  deadlocks += WEXITSTATUS(st);
  waitpid(b, &st, 0);
  deadlocks += WEXITSTATUS(st);
  printf("EDEADLK reported %d time(s)\n", deadlocks);
  return 0;
}
