// procfs and devfs as programs read them: /proc/self links and files, fd/ after dup and
// close-on-exec, mounts; /dev/null, zero, full, urandom.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs_setup.h"
#include "probe.h"

static char text[65536];

static const char *slurp(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return NULL;
  int n = 0, m;
  // Small reads, as a line-at-a-time reader would do.
  while ((m = read(fd, text + n, 100)) > 0 && n < (int)sizeof text - 200) n += m;
  text[n] = 0;
  close(fd);
  return text;
}

static void link_kind(const char *path) {
  char buf[512];
  ssize_t n = readlink(path, buf, sizeof buf - 1);
  if (n < 0) { printf("%s: %s\n", path, strerror(errno)); return; }
  buf[n] = 0;
  char *colon = strchr(buf, ':');
  if (colon && buf[0] != '/') { *colon = 0; printf("%s -> %s:[...]\n", path, buf); return; }
  char *slash = strrchr(buf, '/');
  printf("%s -> .../%s\n", path, slash ? slash + 1 : buf);
}

int main(int argc, char **argv) {
  fs_setup();
  char dir[] = "/tmp/fsproc.XXXXXX";
  mkdtemp(dir);
  chdir(dir);

  // /proc/self.
  char buf[512];
  ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = 0;
  printf("/proc/self is my pid: %s\n", atoi(buf) == getpid() ? "yes" : "no");
  link_kind("/proc/self/exe");
  n = readlink("/proc/self/cwd", buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = 0;
  printf("cwd link is cwd: %s\n", strcmp(buf, dir) == 0 ? "yes" : "no");
  const char *s = slurp("/proc/self/stat");
  int pid, ppid;
  char comm[64], state;
  sscanf(s, "%d (%63[^)]) %c %d", &pid, comm, &state, &ppid);
  printf("stat pid ok: %s comm: %s ppid ok: %s\n", pid == getpid() ? "yes" : "no", comm,
         ppid == getppid() ? "yes" : "no");
  int fields = 1;
  for (const char *p = strchr(s, ')'); *p; p++) if (*p == ' ') fields++;
  printf("stat has >= 44 fields: %s\n", fields >= 44 ? "yes" : "no");
  s = slurp("/proc/self/status");
  printf("status Name: %s\n", strstr(s, "Name:\tfs_proc_dev\n") ? "fs_proc_dev" : "?");
  char want[64];
  snprintf(want, sizeof want, "\nPid:\t%d\n", getpid());
  printf("status Pid ok: %s\n", strstr(s, want) ? "yes" : "no");
  printf("status has Uid/VmSize/Threads: %s\n",
         strstr(s, "\nUid:") && strstr(s, "\nThreads:") ? "yes" : "no");
  int fd = open("/proc/self/cmdline", O_RDONLY);
  n = read(fd, buf, sizeof buf);
  close(fd);
  printf("cmdline bytes: %ld, argv1: %s\n", (long)n, n > 0 ? buf + strlen(buf) + 1 : "");
  s = slurp("/proc/self/maps");
  printf("maps has [stack]: %s\n", strstr(s, "[stack]") ? "yes" : "no");
  s = slurp("/proc/self/comm");
  printf("comm: %s", s);
  s = slurp("/proc/self/statm");
  printf("statm numbers: %s\n", s && atol(s) > 0 ? "yes" : "no");
  s = slurp("/proc/self/limits");
  printf("limits has Max open files: %s\n", strstr(s, "Max open files") ? "yes" : "no");

  // fd/ after dup, cloexec and close.
  int a = open("file", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  int b = dup(a);
  int p[2];
  pipe(p);
  close(b);
  DIR *d = opendir("/proc/self/fd");
  int seen[64] = {0};
  struct dirent *e;
  while ((e = readdir(d))) if (e->d_name[0] != '.') seen[atoi(e->d_name) & 63] = 1;
  closedir(d);
  printf("fd/ has stdio %d%d%d, open %d, dup closed %d, pipe %d%d\n", seen[0], seen[1], seen[2],
         seen[a], seen[b], seen[p[0]], seen[p[1]]);
  snprintf(buf, sizeof buf, "/proc/self/fd/%d", a);
  link_kind(buf);
  snprintf(buf, sizeof buf, "/proc/self/fd/%d", p[0]);
  link_kind(buf);
  snprintf(buf, sizeof buf, "/proc/self/fdinfo/%d", a);
  write(a, "12345", 5);
  s = slurp(buf);
  printf("fdinfo pos: %s\n", strstr(s, "pos:\t5\n") ? "5" : "?");
  printf("fdinfo cloexec flag: %s\n", strstr(s, "flags:\t02") ? "yes" : "no");
  snprintf(buf, sizeof buf, "/proc/self/fd/%d", a);
  int again = open(buf, O_RDONLY);
  char c5[6] = {0};
  read(again, c5, 5);
  printf("reopen via fd link reads: %s\n", c5);
  unlink("file");
  snprintf(buf, sizeof buf, "/proc/self/fd/%d", a);
  char lb[512];
  n = readlink(buf, lb, sizeof lb - 1);
  lb[n > 0 ? n : 0] = 0;
  printf("deleted link ends with (deleted): %s\n", strstr(lb, " (deleted)") ? "yes" : "no");
  show("open /proc/self/fd/999", open("/proc/self/fd/999", O_RDONLY));

  // System files.
  s = slurp("/proc/meminfo");
  printf("meminfo starts: %.9s\n", s);
  s = slurp("/proc/cpuinfo");
  printf("cpuinfo has processor: %s\n", strstr(s, "processor") ? "yes" : "no");
  s = slurp("/proc/uptime");
  double up, idle;
  printf("uptime parses: %s\n", sscanf(s, "%lf %lf", &up, &idle) == 2 ? "yes" : "no");
  s = slurp("/proc/version");
  printf("version starts: %.13s\n", s);
  s = slurp("/proc/filesystems");
  printf("filesystems has tmpfs: %s\n", strstr(s, "tmpfs") ? "yes" : "no");
  s = slurp("/proc/self/mounts");
  printf("mounts has proc on /proc: %s\n", strstr(s, " /proc proc ") ? "yes" : "no");
  printf("mounts has tmpfs on /tmp: %s\n", strstr(s, " /tmp tmpfs ") ? "yes" : "no");
  s = slurp("/proc/sys/kernel/ostype");
  printf("ostype: %s", s ? s : "(none)\n");
  show("mkdir in /proc", mkdir("/proc/x", 0755));

  // Devices.
  struct stat st;
  stat("/dev/null", &st);
  printf("/dev/null chr %s %d:%d mode %o\n", S_ISCHR(st.st_mode) ? "yes" : "no",
         major(st.st_rdev), minor(st.st_rdev), st.st_mode & 0777);
  fd = open("/dev/null", O_RDWR);
  show("write null", write(fd, "abc", 3));
  show("read null", read(fd, buf, 10));
  fd = open("/dev/zero", O_RDONLY);
  memset(buf, 7, 16);
  show("read zero", read(fd, buf, 16));
  printf("zeros: %s\n", buf[0] == 0 && buf[15] == 0 ? "yes" : "no");
  fd = open("/dev/full", O_WRONLY);
  show("write full", write(fd, "x", 1));
  fd = open("/dev/urandom", O_RDONLY);
  show("read urandom", read(fd, buf, 32));
  show("open /dev/missing", open("/dev/missing", O_RDONLY));
  fd = open("/dev/stdout", O_WRONLY);
  show("open /dev/stdout", fd >= 0 ? 0 : -1);
  (void)argc; (void)argv;
  return 0;
}
