// What root can do with the capability sets it was given: each privileged operation's outcome
// and the sets as /proc/self/status, capget and prctl show them. Run with the spec's sets in
// the sandbox and with the same sets natively (sec_capwrap), the output must be the same.
// With the argument "child" it only shows its sets (after the parent's execve).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerror(errno));
  else printf("%s: %ld\n", what, r);
}

static void status_lines(const char *who) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  if (!f) { printf("%s: no /proc/self/status\n", who); return; }
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10)) printf("%s %s", who, line);
  }
  fclose(f);
}

static void capget_line(const char *who) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) != 0) { show("capget", -1); return; }
  printf("%s capget eff %08x%08x prm %08x%08x inh %08x%08x\n", who, d[1].effective,
         d[0].effective, d[1].permitted, d[0].permitted, d[1].inheritable, d[0].inheritable);
}

static void exec_child(const char *self) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    execl(self, self, "child", (char *)NULL);
    _exit(127);
  }
  int st;
  waitpid(p, &st, 0);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "child")) {
    status_lines("exec:");
    capget_line("exec:");
    return 0;
  }
  // Let uid 1000 reach /proc and this program later (the test's root directory is 0700).
  chmod("/", 0755);
  status_lines("init:");
  capget_line("init:");
  show("capbset_read SYS_ADMIN", prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0));
  show("capbset_read KILL", prctl(PR_CAPBSET_READ, CAP_KILL, 0, 0, 0));
  show("capbset_read 41", prctl(PR_CAPBSET_READ, 41, 0, 0, 0));

  // CAP_SYS_RESOURCE: raising the hard limit; lowering it and the soft one is anyone's.
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max = rl.rlim_max - 1;
  show("lower hard nofile", setrlimit(RLIMIT_NOFILE, &rl));
  rl.rlim_max += 1;
  show("raise hard nofile", setrlimit(RLIMIT_NOFILE, &rl));

  show("chroot /", chroot("/"));  // CAP_SYS_CHROOT
  show("mount tmpfs", mount("none", "/tmp", "tmpfs", 0, NULL));  // CAP_SYS_ADMIN
  show("umount /proc", umount2("/proc", MNT_DETACH));
  struct utsname u;
  uname(&u);
  // The same name again: natively this is the host's UTS namespace.
  show("sethostname", sethostname(u.nodename, strlen(u.nodename)));

  int fd = open("/tmp/f", O_CREAT | O_WRONLY, 0600);
  show("create /tmp/f", fd < 0 ? -1 : 0);
  close(fd);
  show("chown /tmp/f 1234", chown("/tmp/f", 1234, 1234));  // CAP_CHOWN
  show("chown /tmp/f to itself", chown("/tmp/f", -1, -1));
  fd = open("/tmp/secret", O_CREAT | O_WRONLY, 0);
  close(fd);
  chmod("/tmp/secret", 0);
  fd = open("/tmp/secret", O_RDONLY);  // CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH
  show("read mode 0 file", fd < 0 ? -1 : 0);
  if (fd >= 0) close(fd);
  fd = open("/tmp/secret", O_WRONLY);  // CAP_DAC_OVERRIDE
  show("write mode 0 file", fd < 0 ? -1 : 0);
  if (fd >= 0) close(fd);
  mkdir("/tmp/d", 0);
  show("search mode 0 dir", access("/tmp/d/x", F_OK) == 0 ? 0 : (errno == ENOENT ? 0 : -1));
  show("chmod file of 1234", chmod("/tmp/f", 0644));  // CAP_FOWNER when chown worked
  show("mknod char", mknod("/tmp/null", S_IFCHR | 0666, makedev(1, 3)));  // CAP_MKNOD
  show("setpriority -5", setpriority(PRIO_PROCESS, 0, -5));  // CAP_SYS_NICE

  // The sets themselves.
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  syscall(SYS_capget, &h, d);
  d[0].effective |= 1u << CAP_SYS_ADMIN;
  d[0].permitted |= 1u << CAP_SYS_ADMIN;
  show("capset raise SYS_ADMIN", syscall(SYS_capset, &h, d));
  syscall(SYS_capget, &h, d);
  d[0].inheritable |= 1u << CAP_KILL;
  show("capset inheritable KILL", syscall(SYS_capset, &h, d));
  show("ambient raise KILL", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0));
  show("ambient is_set KILL", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0));
  show("ambient raise SYS_ADMIN",
       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0));
  show("capbset_drop AUDIT_WRITE", prctl(PR_CAPBSET_DROP, CAP_AUDIT_WRITE, 0, 0, 0));
  show("capbset_read AUDIT_WRITE", prctl(PR_CAPBSET_READ, CAP_AUDIT_WRITE, 0, 0, 0));
  syscall(SYS_capget, &h, d);
  d[0].effective &= ~(1u << CAP_KILL);
  show("capset drop effective KILL", syscall(SYS_capset, &h, d));
  capget_line("dropped:");
  exec_child(argv[0]);  // root's execve: permitted = bounding | inheritable, all effective

  // CAP_SETUID: leaving uid 0 clears the sets, unless KEEPCAPS (then only effective).
  show("keepcaps", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
  show("setresuid 1000", setresuid(1000, 1000, 1000));
  status_lines("uid1000:");
  capget_line("uid1000:");
  show("chroot / as 1000", chroot("/"));
  exec_child(argv[0]);  // a non-root execve keeps only the ambient set
  return 0;
}
