// What a process learns about itself at start: uname, limits, TLS, cwd, stdio.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <asm/prctl.h>

static __thread int tls_var = 42;

int main(int argc, char **argv) {
  struct utsname u;
  uname(&u);
  printf("sysname=%s machine=%s\n", u.sysname, u.machine);

  struct rlimit r = {100, 200};
  printf("setrlimit: %d\n", setrlimit(RLIMIT_NOFILE, &r));
  getrlimit(RLIMIT_NOFILE, &r);
  printf("nofile=%lu/%lu\n", (unsigned long)r.rlim_cur, (unsigned long)r.rlim_max);
  r.rlim_cur = 300;
  printf("soft above hard: %s\n", setrlimit(RLIMIT_NOFILE, &r) ? strerror(errno) : "success");

  unsigned long fs = 0;
  syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
  printf("fs base is the thread pointer: %s\n", fs == (unsigned long)__builtin_thread_pointer() ? "yes" : "no");
  printf("tls_var=%d\n", tls_var);

  printf("argv[1]=%s\n", argc > 1 ? argv[1] : "(none)");

  char cwd[4096];
  printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : strerror(errno));
  printf("getcwd small buffer: %s\n", getcwd(cwd, 1) ? "success" : strerror(errno));

  struct stat st;
  fstat(1, &st);
  printf("stdout is a fifo: %s\n", S_ISFIFO(st.st_mode) ? "yes" : "no");
  printf("stat / is a dir: %s\n", stat("/", &st) == 0 && S_ISDIR(st.st_mode) ? "yes" : "no");
  printf("stat missing: %s\n", stat("/no/such/file", &st) ? strerror(errno) : "success");
  printf("uid=%d gid=%d\n", (int)getuid(), (int)getgid());
  return 0;
}
