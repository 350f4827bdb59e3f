// tee(2) waits: with the input pipe empty it blocks until a writer comes (unless
// SPLICE_F_NONBLOCK, then EAGAIN), copies without consuming, and gives 0 at end of input.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int a[2], b[2];
  pipe(a);
  pipe(b);
  long r = tee(a[0], b[1], 100, SPLICE_F_NONBLOCK);
  printf("nonblocking tee of an empty pipe: %s\n", r < 0 ? strerror(errno) : "data");
  pid_t c = fork();
  if (c == 0) {
    usleep(50000);
    write(a[1], "late", 4);
    _exit(0);
  }
  printf("blocking tee: %ld\n", (long)tee(a[0], b[1], 100, 0));
  char buf[16] = {0};
  printf("copy: %.*s\n", (int)read(b[0], buf, sizeof buf), buf);
  memset(buf, 0, sizeof buf);
  printf("original still there: %.*s\n", (int)read(a[0], buf, sizeof buf), buf);
  waitpid(c, NULL, 0);
  close(a[1]);
  printf("tee at end of input: %ld\n", (long)tee(a[0], b[1], 100, 0));
  return 0;
}
