// Escape probe (sandbox only: a chroot is no PID namespace): the links of other processes in
// /proc, file handles, and calls aimed at the host's PIDs. argv: <host path> <file beside the
// rootfs> [<file listing "name pid" lines of host processes>]. Run as the container's init.
#include "sec_common.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

static void show_r(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerror(errno));
  else printf("%s: %ld\n", what, r);
}

static void host_pid(const char *name, long pid) {
  char what[128], buf[64] = {0};
  struct iovec local = {buf, sizeof buf}, remote = {(void *)0x400000, sizeof buf};
#define AT(call) (snprintf(what, sizeof what, "%s %s", name, call), what)
  show_r(AT("kill 0"), kill(pid, 0));
  show_r(AT("kill SIGKILL"), kill(pid, SIGKILL));
  show_r(AT("tgkill SIGSTOP"), syscall(SYS_tgkill, pid, pid, SIGSTOP));
  show_r(AT("tkill SIGKILL"), syscall(SYS_tkill, pid, SIGKILL));
  show_r(AT("rt_sigqueueinfo"), syscall(SYS_rt_sigqueueinfo, pid, SIGKILL, buf));
  show_r(AT("ptrace ATTACH"), ptrace(PTRACE_ATTACH, pid, 0, 0));
  show_r(AT("ptrace SEIZE"), ptrace(PTRACE_SEIZE, pid, 0, 0));
  show_r(AT("process_vm_readv"), syscall(SYS_process_vm_readv, pid, &local, 1, &remote, 1, 0));
  show_r(AT("process_vm_writev"), syscall(SYS_process_vm_writev, pid, &local, 1, &remote, 1, 0));
  show_r(AT("pidfd_open"), syscall(SYS_pidfd_open, pid, 0));
  show_r(AT("setpriority"), setpriority(PRIO_PROCESS, pid, 19));
  show_r(AT("prlimit"), syscall(SYS_prlimit64, pid, RLIMIT_NOFILE, NULL, buf));
  show_r(AT("sched_getaffinity"), syscall(SYS_sched_getaffinity, pid, sizeof buf, buf));
  show_r(AT("kcmp"), syscall(SYS_kcmp, getpid(), pid, 0, 0, 0));
  char p[64];
  snprintf(p, sizeof p, "/proc/%ld/root", pid);
  show_link(AT("readlink /proc/<pid>/root"), p);
#undef AT
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 3) return 2;
  const char *host = argv[1], *beside = argv[2];
  char p[4096];
  printf("pid: %d\n", getpid());
  show_link("readlink /proc/1/root", "/proc/1/root");
  try_open("/proc/1/root + host path", AT_FDCWD, CAT("/proc/1/root", host));
  snprintf(p, sizeof p, "/proc/1/root/../../%s", beside);
  try_open("/proc/1/root/../../beside", AT_FDCWD, p);
  same_as_root("/proc/1/root/..", "/proc/1/root/..");
  try_open("/proc/1/cwd/../.. + host path", AT_FDCWD, CAT("/proc/1/cwd/../..", host));

  // Another process's links: a child holding /d open with its cwd there.
  int ready[2], done[2];
  pipe(ready);
  pipe(done);
  pid_t c = fork();
  if (c == 0) {
    chdir("/d");
    int fd = open("/d", O_RDONLY | O_DIRECTORY);
    dup2(fd, 9);
    write(ready[1], "x", 1);
    char b;
    read(done[0], &b, 1);
    _exit(0);
  }
  char b;
  read(ready[0], &b, 1);
  snprintf(p, sizeof p, "/proc/%d/fd/9", c);
  show_link("readlink /proc/<child>/fd/9", p);
  snprintf(p, sizeof p, "/proc/%d/fd/9/../../../..%s", c, host);
  try_open("/proc/<child>/fd/9/../.. + host path", AT_FDCWD, p);
  snprintf(p, sizeof p, "/proc/%d/cwd/../../../%s", c, beside);
  try_open("/proc/<child>/cwd/../../beside", AT_FDCWD, p);
  snprintf(p, sizeof p, "/proc/%d/root/..%s", c, host);
  try_open("/proc/<child>/root/.. + host path", AT_FDCWD, p);
  snprintf(p, sizeof p, "/proc/%d/cwd/../../..", c);
  same_as_root("/proc/<child>/cwd/../../..", p);
  write(done[1], "x", 1);
  waitpid(c, NULL, 0);

  // File handles: the classic way out of a chroot. Never a host file.
  struct {
    struct file_handle h;
    unsigned char bytes[128];
  } fh;
  fh.h.handle_bytes = 128;
  int mount_id;
  show_r("name_to_handle_at /inside.txt",
         syscall(SYS_name_to_handle_at, AT_FDCWD, "/inside.txt", &fh.h, &mount_id, 0));
  // The host's root directory on ext4 is inode 2, generation 0 (handle type 1: FILEID_INO32_GEN).
  fh.h.handle_bytes = 8;
  fh.h.handle_type = 1;
  memset(fh.bytes, 0, sizeof fh.bytes);
  fh.bytes[0] = 2;
  int root = open("/", O_RDONLY | O_DIRECTORY);
  long r = syscall(SYS_open_by_handle_at, root, &fh.h, O_RDONLY | O_DIRECTORY);
  show_r("open_by_handle_at (host root's handle)", r < 0 ? r : 0);
  if (r >= 0) {
    printf("LEAK\n");
    leaks++;
  }
  fh.h.handle_bytes = 128;
  r = syscall(SYS_open_by_handle_at, root, &fh.h, O_RDONLY);
  show_r("open_by_handle_at (oversized handle)", r < 0 ? r : 0);

  // Mounts are the sandbox's own: a bind mount of /proc/1/root and a new proc, tmpfs or
  // sysfs show nothing of the host's (and the host's mount table does not change).
  show_r("mount --bind /proc/1/root /d", mount("/proc/1/root", "/d", NULL, MS_BIND, NULL));
  try_open("/d + host path", AT_FDCWD, CAT("/d", host));
  show_r("umount /d", umount2("/d", 0));
  show_r("mount tmpfs on /d", mount("none", "/d", "tmpfs", 0, NULL));
  show_r("umount /d", umount2("/d", MNT_DETACH));

  // The classic way out of a chroot, as root with CAP_SYS_CHROOT: keep a directory outside
  // the new root, chroot into a subdirectory, fchdir back out, climb, chroot there. In a
  // container it only climbs to the container's root (natively in a plain chroot it escapes).
  struct stat top;
  stat("/", &top);
  int outside = open("/", O_RDONLY | O_DIRECTORY);
  show_r("chroot /d", chroot("/d"));
  show_r("fchdir out of it", fchdir(outside));
  for (int i = 0; i < 32; i++) chdir("..");
  show_r("chroot .", chroot("."));
  struct stat now;
  stat("/", &now);
  printf("after the chroot escape, / is: %s\n",
         now.st_dev == top.st_dev && now.st_ino == top.st_ino ? "the container's root" : "ELSEWHERE");
  try_open("after the chroot escape, host path", AT_FDCWD, host);
  snprintf(p, sizeof p, "/../%s", beside);
  try_open("after the chroot escape, beside", AT_FDCWD, p);

  if (argc > 3) {
    FILE *f = fopen(argv[3], "r");
    char name[64];
    long pid;
    while (f && fscanf(f, "%63s %ld", name, &pid) == 2) host_pid(name, pid);
  }
  printf("leaks: %d\n", leaks);
  return leaks ? 1 : 0;
}
