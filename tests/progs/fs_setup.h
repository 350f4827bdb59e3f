// Shared by the file probes: natively, give the chroot the mounts the sandbox has (/proc,
// /dev with the memory devices, /tmp), in a private mount namespace that ends with the
// process. In the sandbox unshare fails and nothing happens here.
#define _GNU_SOURCE
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void fs_setup(void) {
  if (unshare(CLONE_NEWNS) != 0) return;
  mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  mkdir("/proc", 0555);
  mount("proc", "/proc", "proc", 0, NULL);
  mkdir("/tmp", 01777);
  mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777");
  mkdir("/dev", 0755);
  mount("tmpfs", "/dev", "tmpfs", 0, "mode=755");
  mknod("/dev/null", S_IFCHR | 0666, makedev(1, 3));
  mknod("/dev/zero", S_IFCHR | 0666, makedev(1, 5));
  mknod("/dev/full", S_IFCHR | 0666, makedev(1, 7));
  mknod("/dev/random", S_IFCHR | 0666, makedev(1, 8));
  mknod("/dev/urandom", S_IFCHR | 0666, makedev(1, 9));
  chmod("/dev/null", 0666);
  chmod("/dev/zero", 0666);
  chmod("/dev/full", 0666);
  chmod("/dev/random", 0666);
  chmod("/dev/urandom", 0666);
  mkdir("/dev/pts", 0755);
  mount("devpts", "/dev/pts", "devpts", 0, "newinstance,ptmxmode=0666,mode=0620");
  symlink("pts/ptmx", "/dev/ptmx");
  mknod("/dev/tty", S_IFCHR | 0666, makedev(5, 0));
  chmod("/dev/tty", 0666);
  symlink("/proc/self/fd", "/dev/fd");
  symlink("/proc/self/fd/0", "/dev/stdin");
  symlink("/proc/self/fd/1", "/dev/stdout");
  symlink("/proc/self/fd/2", "/dev/stderr");
}
