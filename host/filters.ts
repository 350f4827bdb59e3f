/**
 * The seccomp filters of the Sentry (`runsc boot`) and the Gofer, as host/seccomp.ts rules.
 *
 * Each lists the host system calls that process makes after its start-up, measured with
 * `strace -f -c` and with a filter whose default action was SECCOMP_RET_LOG (the kernel logs
 * every call no rule lists) while the test suites ran: Deno's runtime (V8, tokio, glibc), the
 * platforms (ptrace: stubs spawned from a memfd, traced and injected; kvm: vCPU ioctls), and
 * the Gofer's file operations. Anything else answers EPERM and is logged
 * (SECCOMP_FILTER_FLAG_LOG). Arguments are checked where that is cheap and narrows what a
 * compromised process can do: clone only makes threads (no process, and no execve: the ptrace
 * platform's stubs are forks of a template stub spawned before the filter), clone3
 * answers ENOSYS so that glibc falls back to clone, socket makes Unix sockets only, ioctl takes
 * only KVM requests and a few descriptor and terminal requests (never TIOCSTI).
 *
 * The ptrace platform's template stub is spawned before the Sentry installs its filter, so the
 * stubs (forks of it) run under their own filter only (platform/ptrace/stub.ts).
 *
 * @module
 */

import { SYS } from "../abi/linux/syscalls.ts";
import { HOST_SOCKET_KINDS } from "./hostinet.ts";
import { type ArgCheck, type FilterSpec, retErrno, type SyscallRule } from "./seccomp.ts";

type Name = keyof typeof SYS;

const EPERM = 1;
const ENOSYS = 38;
const LOW32 = 0xffff_ffffn;

const CLONE_THREAD = 0x10000n;
const AF_UNIX = 1n;

const allow = (names: readonly Name[]): SyscallRule[] => names.map((n) => ({ nr: SYS[n] }));

const argIs = (arg: number, value: bigint, mask = LOW32): ArgCheck => ({ arg, value, mask });

/** Calls every Deno process of ours makes after start-up: memory, threads, the event loop. */
const RUNTIME: readonly Name[] = [
  "read",
  "write",
  "close",
  "fstat",
  "lseek",
  "mmap",
  "mprotect",
  "munmap",
  "brk",
  "rt_sigaction",
  "rt_sigprocmask",
  "rt_sigreturn",
  "rt_sigtimedwait",
  "pread64",
  "pwrite64",
  "readv",
  "writev",
  "sched_yield",
  "mremap",
  "madvise",
  "dup",
  "dup2",
  "dup3",
  "umask",
  "getpid",
  "gettid",
  "getuid",
  "geteuid",
  "getgid",
  "getegid",
  "getppid",
  "sendmsg",
  "recvmsg",
  "sendto",
  "recvfrom",
  "shutdown",
  "accept4",
  "getsockopt",
  "setsockopt",
  "getsockname",
  "getpeername",
  "socketpair",
  "fcntl",
  "flock",
  "fsync",
  "fdatasync",
  "ftruncate",
  "openat",
  "getdents64",
  "newfstatat",
  "statx",
  "readlinkat",
  "getcwd",
  "futex",
  // The kernel resumes a futex wait or a sleep that a signal or a ptrace stop interrupted
  // through restart_syscall; refused, V8's worker threads abort ("Futex operation failed").
  // It takes no arguments and only continues a call already allowed.
  "restart_syscall",
  "sched_getaffinity",
  "set_robust_list",
  "rseq",
  "epoll_create1",
  "epoll_ctl",
  "epoll_wait",
  "epoll_pwait",
  "epoll_pwait2",
  "eventfd2",
  "pipe2",
  "poll",
  "ppoll",
  "prlimit64",
  "getrusage",
  "getrandom",
  "clock_gettime",
  "clock_getres",
  "clock_nanosleep",
  "nanosleep",
  "gettimeofday",
  "tgkill",
  "exit",
  "exit_group",
  "sigaltstack",
  "uname",
  "prctl",
  "membarrier",
  "sched_getparam",
  "sched_getscheduler",
  "sched_setscheduler",
  "timerfd_create",
  "timerfd_settime",
];

/** Threads only, and clone3 refused. */
const CLONE_RULES: readonly SyscallRule[] = [
  { nr: SYS.clone, when: [[argIs(0, CLONE_THREAD, CLONE_THREAD)]] },
  { nr: SYS.clone3, action: retErrno(ENOSYS) },
];

// --network=sandbox: the packet sockets of the interfaces the Sentry takes over are opened
// before this filter (boot/network.ts); afterwards they are only read (recvfrom), written
// (write) and waited for (poll), which RUNTIME allows already, so no rule is added for them
// and no other socket family can be made.
const socketRule: SyscallRule = { nr: SYS.socket, when: [[argIs(0, AF_UNIX)]] };

/** ioctl requests on descriptors and terminals that the runtime makes; never TIOCSTI. */
const TTY_IOCTLS = [
  0x5401n, // TCGETS
  0x5413n, // TIOCGWINSZ
  0x540fn, // TIOCGPGRP
  0x541bn, // FIONREAD
  0x5421n, // FIONBIO
  0x5450n, // FIONCLEX
  0x5451n, // FIOCLEX
];
/**
 * --network=host: the queue queries the Sentry passes to the application's host sockets
 * (sentry/net/host_socket.ts), each writing one int: SIOCOUTQ (TIOCOUTQ), SIOCATMARK and
 * SIOCOUTQNSD (SIOCINQ is FIONREAD, above). Terminals' TIOCOUTQ only reads too.
 */
const HOST_SOCKET_IOCTLS = [0x5411n, 0x8905n, 0x894bn];
/** Every KVM request has type 0xAE in bits 8-15. */
const KVM_IOCTL = argIs(1, 0xae00n, 0xff00n);

/**
 * --network=host: the application's TCP/IP sockets are host sockets the Sentry makes
 * (sentry/net/host_socket.ts), so socket(2) may also make the AF_INET and AF_INET6 sockets of
 * HOST_SOCKET_KINDS (stream: TCP; datagram: UDP, or ICMP echo), with the flags the Sentry adds
 * and no other protocol (no SCTP, UDP-Lite, MPTCP... reach the host's code), and bind(2) and
 * listen(2) are allowed. connect, accept4, sendto, recvmsg, getsockopt and the rest are
 * allowed already. Raw sockets would need CAP_NET_RAW, which the Sentry does not have.
 *
 * bind and listen take any descriptor here, and seccomp cannot read bind's sockaddr (a
 * pointer). The Sentry makes them only on a host socket it created for the application
 * (HostSocket keeps its descriptor to itself), after checking the address's family and length
 * in its own copy (sys_socket_host.ts), and a port below 1024 only for a task with
 * CAP_NET_BIND_SERVICE. What is left is a compromised Sentry binding or listening on a socket
 * of its own choosing: a TCP or UDP port of the host, which host networking hands the
 * application in the first place, or one of its Unix sockets. Those cannot be bound to a path
 * any host process looks at (its root is an empty read-only tmpfs); an abstract name is the
 * one gap: with --network=host the Sentry is in the host's network namespace, so it could take
 * a free abstract name there (and connect to one, which glibc's nscd lookup needs: connect is
 * allowed in every mode). Landlock's abstract-socket scoping (Linux 6.12) closes the connect
 * side where the kernel has it (host/landlock.ts, applied at the boot's start).
 */
/** The socket type without SOCK_NONBLOCK and SOCK_CLOEXEC. */
const SOCK_TYPE_MASK = 0xfn;
const HOST_SOCKETS: ArgCheck[][] = HOST_SOCKET_KINDS.flatMap(({ family, type, protocols }) =>
  protocols.map((protocol) => [
    argIs(0, BigInt(family)),
    argIs(1, BigInt(type), SOCK_TYPE_MASK),
    argIs(2, BigInt(protocol)),
  ])
);

/**
 * The Sentry's filter on `platform` with `network` (--network). It makes no process and runs
 * no program: on ptrace it traces the stubs it forks from a template it spawned before this
 * filter.
 */
export function sentryFilter(platform: string, network = "sandbox"): FilterSpec {
  const ioctls = TTY_IOCTLS.map((r) => [argIs(1, r)]);
  if (platform === "kvm") ioctls.push([KVM_IOCTL]);
  if (network === "host") ioctls.push(...HOST_SOCKET_IOCTLS.map((r) => [argIs(1, r)]));
  const rules: SyscallRule[] = [
    ...allow(RUNTIME),
    ...CLONE_RULES,
    network === "host"
      ? { nr: SYS.socket, when: [...socketRule.when!, ...HOST_SOCKETS] }
      : socketRule,
    { nr: SYS.ioctl, when: ioctls },
    ...allow([
      // glibc's name lookups try a Unix socket (nscd); no other family can be made.
      "connect",
      "memfd_create",
      "wait4",
      "waitid",
      "kill",
      "tkill",
      "timer_create",
      "timer_settime",
      "timer_delete",
      "process_vm_readv",
      "process_vm_writev",
      "fallocate",
      "unlinkat",
      "mkdirat",
    ]),
    ...(platform === "kvm" ? [] : allow(["ptrace"])),
    ...(network === "host" ? allow(["bind", "listen"]) : []),
  ];
  return { rules, defaultAction: retErrno(EPERM) };
}

/** The Gofer's filter: the runtime's calls and the file system calls LISAFS serves. */
export function goferFilter(): FilterSpec {
  const rules: SyscallRule[] = [
    ...allow(RUNTIME),
    ...CLONE_RULES,
    socketRule,
    { nr: SYS.ioctl, when: TTY_IOCTLS.map((r) => [argIs(1, r)]) },
    ...allow([
      // BindAt, Listen, Accept, ConnectWithCreds on Unix sockets in the served tree.
      "bind",
      "listen",
      "connect",
      "fchmod",
      "fchmodat",
      "fchown",
      "fchownat",
      "fgetxattr",
      "fsetxattr",
      "flistxattr",
      "fremovexattr",
      // xattrs of files open with O_PATH go through their /proc/self/fd path.
      "getxattr",
      "setxattr",
      "listxattr",
      "removexattr",
      "lgetxattr",
      "lsetxattr",
      "llistxattr",
      "lremovexattr",
      "linkat",
      "mkdirat",
      "mknodat",
      "renameat",
      "renameat2",
      "symlinkat",
      "unlinkat",
      "utimensat",
      "fstatfs",
      "fallocate",
      "openat2",
      "name_to_handle_at",
      "setresuid",
      "setresgid",
      "setuid",
      "setgid",
      "setgroups",
      "capget",
      "capset",
      "memfd_create",
      "fadvise64",
      "copy_file_range",
      "sendfile",
      "splice",
    ]),
  ];
  return { rules, defaultAction: retErrno(EPERM) };
}
