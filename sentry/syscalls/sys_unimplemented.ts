/**
 * The system calls the sandbox does not offer, each with the reason (they answer ENOSYS). The
 * compatibility list (`runsc help syscalls`) prints these reasons, so that a user can tell
 * what will not work before trying.
 *
 * @module
 */

import type { SyscallDef } from "./table.ts";

const SYSV_IPC = "System V IPC is not offered yet";
const MQUEUE = "POSIX message queues are not offered yet (no mqueue file system)";
const HOST_ADMIN = "administers the machine, which belongs to the host, never to a sandbox";
const MODULES = "loads or removes host kernel modules: never from a sandbox";
const REMOVED = "removed from Linux; Linux answers ENOSYS too";
const AIO = "Linux native AIO is not offered yet (glibc's POSIX AIO uses threads, not these)";
const NUMA = "NUMA memory policy: the sandbox reports one node and no policies";
const KEYS = "kernel keyrings are not offered";
const NEW_MOUNT_API = "the new mount API is not offered; mount(2) works";
const IO_URING =
  "io_uring is not offered (as in gVisor's default); callers fall back to read/write/poll";
const LANDLOCK = "Landlock is not offered; the sandbox confines the application itself";
const CROSS_PROCESS = "advising on or reclaiming another process's memory is not offered";

const no = (note: string): SyscallDef => ({ support: "unimplemented", note });

export const syscalls: Record<string, SyscallDef> = {
  shmget: no(SYSV_IPC),
  shmat: no(SYSV_IPC),
  shmctl: no(SYSV_IPC),
  shmdt: no(SYSV_IPC),
  semget: no(SYSV_IPC),
  semop: no(SYSV_IPC),
  semctl: no(SYSV_IPC),
  semtimedop: no(SYSV_IPC),
  msgget: no(SYSV_IPC),
  msgsnd: no(SYSV_IPC),
  msgrcv: no(SYSV_IPC),
  msgctl: no(SYSV_IPC),
  mq_open: no(MQUEUE),
  mq_unlink: no(MQUEUE),
  mq_timedsend: no(MQUEUE),
  mq_timedreceive: no(MQUEUE),
  mq_notify: no(MQUEUE),
  mq_getsetattr: no(MQUEUE),
  syslog: no("the kernel log is the host's; the sandbox has none to read"),
  uselib: no(REMOVED),
  ustat: no("deprecated; statfs(2) answers the same question"),
  sysfs: no("deprecated; /proc/filesystems lists the file systems"),
  vhangup: no("needs CAP_SYS_TTY_CONFIG over a real terminal; the sandbox's terminals are virtual"),
  modify_ldt: no("16-bit and LDT segments are not offered (64-bit code only)"),
  pivot_root: no("the root is the container's and cannot be changed from inside"),
  _sysctl: no(REMOVED),
  adjtimex: no("the clocks are the host's: the sandbox cannot adjust them"),
  clock_adjtime: no("the clocks are the host's: the sandbox cannot adjust them"),
  settimeofday: no("the clocks are the host's: the sandbox cannot set them"),
  acct: no("process accounting is not offered"),
  swapon: no(HOST_ADMIN),
  swapoff: no(HOST_ADMIN),
  reboot: no(HOST_ADMIN),
  kexec_load: no(HOST_ADMIN),
  kexec_file_load: no(HOST_ADMIN),
  iopl: no("direct I/O port access is never given to a sandbox"),
  ioperm: no("direct I/O port access is never given to a sandbox"),
  create_module: no(REMOVED),
  get_kernel_syms: no(REMOVED),
  query_module: no(REMOVED),
  init_module: no(MODULES),
  finit_module: no(MODULES),
  delete_module: no(MODULES),
  quotactl: no("disk quotas are not offered"),
  quotactl_fd: no("disk quotas are not offered"),
  nfsservctl: no(REMOVED),
  getpmsg: no("never implemented by Linux (STREAMS)"),
  putpmsg: no("never implemented by Linux (STREAMS)"),
  afs_syscall: no("never implemented by Linux"),
  tuxcall: no("never implemented by Linux"),
  security: no("never implemented by Linux"),
  vserver: no("never implemented by Linux"),
  set_thread_area: no("32-bit TLS; 64-bit programs use arch_prctl(ARCH_SET_FS)"),
  get_thread_area: no("32-bit TLS; 64-bit programs use arch_prctl(ARCH_GET_FS)"),
  io_setup: no(AIO),
  io_destroy: no(AIO),
  io_getevents: no(AIO),
  io_pgetevents: no(AIO),
  io_submit: no(AIO),
  io_cancel: no(AIO),
  lookup_dcookie: no("for oprofile, which is the host's"),
  epoll_ctl_old: no("never used by Linux (replaced by epoll_ctl)"),
  epoll_wait_old: no("never used by Linux (replaced by epoll_wait)"),
  remap_file_pages: no("deprecated; mmap(2) of the range does the same"),
  restart_syscall: no("the Sentry restarts an interrupted call by its own number"),
  mbind: no(NUMA),
  set_mempolicy: no(NUMA),
  get_mempolicy: no(NUMA),
  set_mempolicy_home_node: no(NUMA),
  migrate_pages: no(NUMA),
  move_pages: no(NUMA),
  add_key: no(KEYS),
  request_key: no(KEYS),
  keyctl: no(KEYS),
  ioprio_set: no("I/O priorities are the host's; not offered yet"),
  ioprio_get: no("I/O priorities are the host's; not offered yet"),
  unshare: no("the sandbox is one set of namespaces; nested ones are not offered (EPERM in clone)"),
  setns: no("the sandbox is one set of namespaces; nested ones are not offered"),
  vmsplice: no("not offered yet; write(2) or splice(2) from a pipe works"),
  perf_event_open: no("performance counters are the host's and would leak its activity"),
  fanotify_init: no("fanotify is not offered; inotify works"),
  fanotify_mark: no("fanotify is not offered; inotify works"),
  process_madvise: no(CROSS_PROCESS),
  process_mrelease: no(CROSS_PROCESS),
  sched_setattr: no("sched_setscheduler(2) covers the normal policies the sandbox runs"),
  sched_getattr: no("sched_getscheduler(2) covers the normal policies the sandbox runs"),
  seccomp: no("not offered yet: the application cannot add seccomp filters of its own"),
  bpf: no("eBPF programs would run in the host kernel: never from a sandbox"),
  userfaultfd: no("not offered; page faults are the Sentry's to serve"),
  membarrier: no("not offered yet; callers fall back to other barriers"),
  pkey_mprotect: no("memory protection keys are not offered"),
  pkey_alloc: no("memory protection keys are not offered"),
  pkey_free: no("memory protection keys are not offered"),
  io_uring_setup: no(IO_URING),
  io_uring_enter: no(IO_URING),
  io_uring_register: no(IO_URING),
  open_tree: no(NEW_MOUNT_API),
  move_mount: no(NEW_MOUNT_API),
  fsopen: no(NEW_MOUNT_API),
  fsconfig: no(NEW_MOUNT_API),
  fsmount: no(NEW_MOUNT_API),
  fspick: no(NEW_MOUNT_API),
  mount_setattr: no(NEW_MOUNT_API),
  landlock_create_ruleset: no(LANDLOCK),
  landlock_add_rule: no(LANDLOCK),
  landlock_restrict_self: no(LANDLOCK),
  memfd_secret: no("secret memory is not offered"),
  futex_waitv: no("not offered yet; futex(2) works"),
};
