// Errors the kernel returns for bad arguments: descriptors, pointers, flags, unknown calls.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static void show(const char *what, long r) {
  printf("%s: %s\n", what, r < 0 ? strerror(errno) : "success");
}

int main(void) {
  char buf[16];
  show("close(-1)", close(-1));
  show("close(1000)", close(1000));
  show("write(77)", write(77, "x", 1));
  show("read(77)", read(77, buf, 1));
  show("write bad pointer", write(1, (void *)8, 1));
  show("write huge negative", syscall(SYS_write, 1, buf, -1L));
  show("getrandom bad flags", getrandom(buf, sizeof buf, 0x100));
  show("getrandom", getrandom(buf, sizeof buf, 0));
  show("getrandom bad pointer", getrandom((void *)8, 4, 0));
  show("unknown syscall 1000", syscall(1000));
  show("uname bad pointer", syscall(SYS_uname, 8));
  struct termios t;
  show("TCGETS on a pipe", ioctl(1, TCGETS, &t));
  show("ioctl(77)", ioctl(77, TCGETS, &t));
  show("set_robust_list bad size", syscall(SYS_set_robust_list, 0, 7));
  show("arch_prctl bad code", syscall(SYS_arch_prctl, 0x9999, 0));
  show("prlimit bad resource", syscall(SYS_prlimit64, 0, 99, 0, 0));
  return 0;
}
