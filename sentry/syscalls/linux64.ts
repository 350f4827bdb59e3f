/**
 * x86-64 Linux system call numbers and names (arch/x86/entry/syscalls/syscall_64.tbl).
 * The syscall table (table.ts) is keyed by these; strace prints the names.
 *
 * @module
 */

/** Names indexed by system call number. */
export const SYSCALL_NAMES: readonly string[] = (() => {
  const n: string[] = [];
  n[0] = "read";
  n[1] = "write";
  n[2] = "open";
  n[3] = "close";
  n[4] = "stat";
  n[5] = "fstat";
  n[6] = "lstat";
  n[7] = "poll";
  n[8] = "lseek";
  n[9] = "mmap";
  n[10] = "mprotect";
  n[11] = "munmap";
  n[12] = "brk";
  n[13] = "rt_sigaction";
  n[14] = "rt_sigprocmask";
  n[15] = "rt_sigreturn";
  n[16] = "ioctl";
  n[17] = "pread64";
  n[18] = "pwrite64";
  n[19] = "readv";
  n[20] = "writev";
  n[21] = "access";
  n[22] = "pipe";
  n[23] = "select";
  n[24] = "sched_yield";
  n[25] = "mremap";
  n[26] = "msync";
  n[27] = "mincore";
  n[28] = "madvise";
  n[29] = "shmget";
  n[30] = "shmat";
  n[31] = "shmctl";
  n[32] = "dup";
  n[33] = "dup2";
  n[34] = "pause";
  n[35] = "nanosleep";
  n[36] = "getitimer";
  n[37] = "alarm";
  n[38] = "setitimer";
  n[39] = "getpid";
  n[40] = "sendfile";
  n[41] = "socket";
  n[42] = "connect";
  n[43] = "accept";
  n[44] = "sendto";
  n[45] = "recvfrom";
  n[46] = "sendmsg";
  n[47] = "recvmsg";
  n[48] = "shutdown";
  n[49] = "bind";
  n[50] = "listen";
  n[51] = "getsockname";
  n[52] = "getpeername";
  n[53] = "socketpair";
  n[54] = "setsockopt";
  n[55] = "getsockopt";
  n[56] = "clone";
  n[57] = "fork";
  n[58] = "vfork";
  n[59] = "execve";
  n[60] = "exit";
  n[61] = "wait4";
  n[62] = "kill";
  n[63] = "uname";
  n[64] = "semget";
  n[65] = "semop";
  n[66] = "semctl";
  n[67] = "shmdt";
  n[68] = "msgget";
  n[69] = "msgsnd";
  n[70] = "msgrcv";
  n[71] = "msgctl";
  n[72] = "fcntl";
  n[73] = "flock";
  n[74] = "fsync";
  n[75] = "fdatasync";
  n[76] = "truncate";
  n[77] = "ftruncate";
  n[78] = "getdents";
  n[79] = "getcwd";
  n[80] = "chdir";
  n[81] = "fchdir";
  n[82] = "rename";
  n[83] = "mkdir";
  n[84] = "rmdir";
  n[85] = "creat";
  n[86] = "link";
  n[87] = "unlink";
  n[88] = "symlink";
  n[89] = "readlink";
  n[90] = "chmod";
  n[91] = "fchmod";
  n[92] = "chown";
  n[93] = "fchown";
  n[94] = "lchown";
  n[95] = "umask";
  n[96] = "gettimeofday";
  n[97] = "getrlimit";
  n[98] = "getrusage";
  n[99] = "sysinfo";
  n[100] = "times";
  n[101] = "ptrace";
  n[102] = "getuid";
  n[103] = "syslog";
  n[104] = "getgid";
  n[105] = "setuid";
  n[106] = "setgid";
  n[107] = "geteuid";
  n[108] = "getegid";
  n[109] = "setpgid";
  n[110] = "getppid";
  n[111] = "getpgrp";
  n[112] = "setsid";
  n[113] = "setreuid";
  n[114] = "setregid";
  n[115] = "getgroups";
  n[116] = "setgroups";
  n[117] = "setresuid";
  n[118] = "getresuid";
  n[119] = "setresgid";
  n[120] = "getresgid";
  n[121] = "getpgid";
  n[122] = "setfsuid";
  n[123] = "setfsgid";
  n[124] = "getsid";
  n[125] = "capget";
  n[126] = "capset";
  n[127] = "rt_sigpending";
  n[128] = "rt_sigtimedwait";
  n[129] = "rt_sigqueueinfo";
  n[130] = "rt_sigsuspend";
  n[131] = "sigaltstack";
  n[132] = "utime";
  n[133] = "mknod";
  n[134] = "uselib";
  n[135] = "personality";
  n[136] = "ustat";
  n[137] = "statfs";
  n[138] = "fstatfs";
  n[139] = "sysfs";
  n[140] = "getpriority";
  n[141] = "setpriority";
  n[142] = "sched_setparam";
  n[143] = "sched_getparam";
  n[144] = "sched_setscheduler";
  n[145] = "sched_getscheduler";
  n[146] = "sched_get_priority_max";
  n[147] = "sched_get_priority_min";
  n[148] = "sched_rr_get_interval";
  n[149] = "mlock";
  n[150] = "munlock";
  n[151] = "mlockall";
  n[152] = "munlockall";
  n[153] = "vhangup";
  n[154] = "modify_ldt";
  n[155] = "pivot_root";
  n[156] = "_sysctl";
  n[157] = "prctl";
  n[158] = "arch_prctl";
  n[159] = "adjtimex";
  n[160] = "setrlimit";
  n[161] = "chroot";
  n[162] = "sync";
  n[163] = "acct";
  n[164] = "settimeofday";
  n[165] = "mount";
  n[166] = "umount2";
  n[167] = "swapon";
  n[168] = "swapoff";
  n[169] = "reboot";
  n[170] = "sethostname";
  n[171] = "setdomainname";
  n[172] = "iopl";
  n[173] = "ioperm";
  n[174] = "create_module";
  n[175] = "init_module";
  n[176] = "delete_module";
  n[177] = "get_kernel_syms";
  n[178] = "query_module";
  n[179] = "quotactl";
  n[180] = "nfsservctl";
  n[181] = "getpmsg";
  n[182] = "putpmsg";
  n[183] = "afs_syscall";
  n[184] = "tuxcall";
  n[185] = "security";
  n[186] = "gettid";
  n[187] = "readahead";
  n[188] = "setxattr";
  n[189] = "lsetxattr";
  n[190] = "fsetxattr";
  n[191] = "getxattr";
  n[192] = "lgetxattr";
  n[193] = "fgetxattr";
  n[194] = "listxattr";
  n[195] = "llistxattr";
  n[196] = "flistxattr";
  n[197] = "removexattr";
  n[198] = "lremovexattr";
  n[199] = "fremovexattr";
  n[200] = "tkill";
  n[201] = "time";
  n[202] = "futex";
  n[203] = "sched_setaffinity";
  n[204] = "sched_getaffinity";
  n[205] = "set_thread_area";
  n[206] = "io_setup";
  n[207] = "io_destroy";
  n[208] = "io_getevents";
  n[209] = "io_submit";
  n[210] = "io_cancel";
  n[211] = "get_thread_area";
  n[212] = "lookup_dcookie";
  n[213] = "epoll_create";
  n[214] = "epoll_ctl_old";
  n[215] = "epoll_wait_old";
  n[216] = "remap_file_pages";
  n[217] = "getdents64";
  n[218] = "set_tid_address";
  n[219] = "restart_syscall";
  n[220] = "semtimedop";
  n[221] = "fadvise64";
  n[222] = "timer_create";
  n[223] = "timer_settime";
  n[224] = "timer_gettime";
  n[225] = "timer_getoverrun";
  n[226] = "timer_delete";
  n[227] = "clock_settime";
  n[228] = "clock_gettime";
  n[229] = "clock_getres";
  n[230] = "clock_nanosleep";
  n[231] = "exit_group";
  n[232] = "epoll_wait";
  n[233] = "epoll_ctl";
  n[234] = "tgkill";
  n[235] = "utimes";
  n[236] = "vserver";
  n[237] = "mbind";
  n[238] = "set_mempolicy";
  n[239] = "get_mempolicy";
  n[240] = "mq_open";
  n[241] = "mq_unlink";
  n[242] = "mq_timedsend";
  n[243] = "mq_timedreceive";
  n[244] = "mq_notify";
  n[245] = "mq_getsetattr";
  n[246] = "kexec_load";
  n[247] = "waitid";
  n[248] = "add_key";
  n[249] = "request_key";
  n[250] = "keyctl";
  n[251] = "ioprio_set";
  n[252] = "ioprio_get";
  n[253] = "inotify_init";
  n[254] = "inotify_add_watch";
  n[255] = "inotify_rm_watch";
  n[256] = "migrate_pages";
  n[257] = "openat";
  n[258] = "mkdirat";
  n[259] = "mknodat";
  n[260] = "fchownat";
  n[261] = "futimesat";
  n[262] = "newfstatat";
  n[263] = "unlinkat";
  n[264] = "renameat";
  n[265] = "linkat";
  n[266] = "symlinkat";
  n[267] = "readlinkat";
  n[268] = "fchmodat";
  n[269] = "faccessat";
  n[270] = "pselect6";
  n[271] = "ppoll";
  n[272] = "unshare";
  n[273] = "set_robust_list";
  n[274] = "get_robust_list";
  n[275] = "splice";
  n[276] = "tee";
  n[277] = "sync_file_range";
  n[278] = "vmsplice";
  n[279] = "move_pages";
  n[280] = "utimensat";
  n[281] = "epoll_pwait";
  n[282] = "signalfd";
  n[283] = "timerfd_create";
  n[284] = "eventfd";
  n[285] = "fallocate";
  n[286] = "timerfd_settime";
  n[287] = "timerfd_gettime";
  n[288] = "accept4";
  n[289] = "signalfd4";
  n[290] = "eventfd2";
  n[291] = "epoll_create1";
  n[292] = "dup3";
  n[293] = "pipe2";
  n[294] = "inotify_init1";
  n[295] = "preadv";
  n[296] = "pwritev";
  n[297] = "rt_tgsigqueueinfo";
  n[298] = "perf_event_open";
  n[299] = "recvmmsg";
  n[300] = "fanotify_init";
  n[301] = "fanotify_mark";
  n[302] = "prlimit64";
  n[303] = "name_to_handle_at";
  n[304] = "open_by_handle_at";
  n[305] = "clock_adjtime";
  n[306] = "syncfs";
  n[307] = "sendmmsg";
  n[308] = "setns";
  n[309] = "getcpu";
  n[310] = "process_vm_readv";
  n[311] = "process_vm_writev";
  n[312] = "kcmp";
  n[313] = "finit_module";
  n[314] = "sched_setattr";
  n[315] = "sched_getattr";
  n[316] = "renameat2";
  n[317] = "seccomp";
  n[318] = "getrandom";
  n[319] = "memfd_create";
  n[320] = "kexec_file_load";
  n[321] = "bpf";
  n[322] = "execveat";
  n[323] = "userfaultfd";
  n[324] = "membarrier";
  n[325] = "mlock2";
  n[326] = "copy_file_range";
  n[327] = "preadv2";
  n[328] = "pwritev2";
  n[329] = "pkey_mprotect";
  n[330] = "pkey_alloc";
  n[331] = "pkey_free";
  n[332] = "statx";
  n[333] = "io_pgetevents";
  n[334] = "rseq";
  n[424] = "pidfd_send_signal";
  n[425] = "io_uring_setup";
  n[426] = "io_uring_enter";
  n[427] = "io_uring_register";
  n[428] = "open_tree";
  n[429] = "move_mount";
  n[430] = "fsopen";
  n[431] = "fsconfig";
  n[432] = "fsmount";
  n[433] = "fspick";
  n[434] = "pidfd_open";
  n[435] = "clone3";
  n[436] = "close_range";
  n[437] = "openat2";
  n[438] = "pidfd_getfd";
  n[439] = "faccessat2";
  n[440] = "process_madvise";
  n[441] = "epoll_pwait2";
  n[442] = "mount_setattr";
  n[443] = "quotactl_fd";
  n[444] = "landlock_create_ruleset";
  n[445] = "landlock_add_rule";
  n[446] = "landlock_restrict_self";
  n[447] = "memfd_secret";
  n[448] = "process_mrelease";
  n[449] = "futex_waitv";
  n[450] = "set_mempolicy_home_node";
  return n;
})();

/** System call numbers by name. */
export const SYS = {
  read: 0,
  write: 1,
  open: 2,
  close: 3,
  stat: 4,
  fstat: 5,
  lstat: 6,
  poll: 7,
  lseek: 8,
  mmap: 9,
  mprotect: 10,
  munmap: 11,
  brk: 12,
  rt_sigaction: 13,
  rt_sigprocmask: 14,
  rt_sigreturn: 15,
  ioctl: 16,
  pread64: 17,
  pwrite64: 18,
  readv: 19,
  writev: 20,
  access: 21,
  pipe: 22,
  select: 23,
  sched_yield: 24,
  mremap: 25,
  msync: 26,
  mincore: 27,
  madvise: 28,
  shmget: 29,
  shmat: 30,
  shmctl: 31,
  dup: 32,
  dup2: 33,
  pause: 34,
  nanosleep: 35,
  getitimer: 36,
  alarm: 37,
  setitimer: 38,
  getpid: 39,
  sendfile: 40,
  socket: 41,
  connect: 42,
  accept: 43,
  sendto: 44,
  recvfrom: 45,
  sendmsg: 46,
  recvmsg: 47,
  shutdown: 48,
  bind: 49,
  listen: 50,
  getsockname: 51,
  getpeername: 52,
  socketpair: 53,
  setsockopt: 54,
  getsockopt: 55,
  clone: 56,
  fork: 57,
  vfork: 58,
  execve: 59,
  exit: 60,
  wait4: 61,
  kill: 62,
  uname: 63,
  semget: 64,
  semop: 65,
  semctl: 66,
  shmdt: 67,
  msgget: 68,
  msgsnd: 69,
  msgrcv: 70,
  msgctl: 71,
  fcntl: 72,
  flock: 73,
  fsync: 74,
  fdatasync: 75,
  truncate: 76,
  ftruncate: 77,
  getdents: 78,
  getcwd: 79,
  chdir: 80,
  fchdir: 81,
  rename: 82,
  mkdir: 83,
  rmdir: 84,
  creat: 85,
  link: 86,
  unlink: 87,
  symlink: 88,
  readlink: 89,
  chmod: 90,
  fchmod: 91,
  chown: 92,
  fchown: 93,
  lchown: 94,
  umask: 95,
  gettimeofday: 96,
  getrlimit: 97,
  getrusage: 98,
  sysinfo: 99,
  times: 100,
  ptrace: 101,
  getuid: 102,
  syslog: 103,
  getgid: 104,
  setuid: 105,
  setgid: 106,
  geteuid: 107,
  getegid: 108,
  setpgid: 109,
  getppid: 110,
  getpgrp: 111,
  setsid: 112,
  setreuid: 113,
  setregid: 114,
  getgroups: 115,
  setgroups: 116,
  setresuid: 117,
  getresuid: 118,
  setresgid: 119,
  getresgid: 120,
  getpgid: 121,
  setfsuid: 122,
  setfsgid: 123,
  getsid: 124,
  capget: 125,
  capset: 126,
  rt_sigpending: 127,
  rt_sigtimedwait: 128,
  rt_sigqueueinfo: 129,
  rt_sigsuspend: 130,
  sigaltstack: 131,
  utime: 132,
  mknod: 133,
  uselib: 134,
  personality: 135,
  ustat: 136,
  statfs: 137,
  fstatfs: 138,
  sysfs: 139,
  getpriority: 140,
  setpriority: 141,
  sched_setparam: 142,
  sched_getparam: 143,
  sched_setscheduler: 144,
  sched_getscheduler: 145,
  sched_get_priority_max: 146,
  sched_get_priority_min: 147,
  sched_rr_get_interval: 148,
  mlock: 149,
  munlock: 150,
  mlockall: 151,
  munlockall: 152,
  vhangup: 153,
  modify_ldt: 154,
  pivot_root: 155,
  _sysctl: 156,
  prctl: 157,
  arch_prctl: 158,
  adjtimex: 159,
  setrlimit: 160,
  chroot: 161,
  sync: 162,
  acct: 163,
  settimeofday: 164,
  mount: 165,
  umount2: 166,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  sethostname: 170,
  setdomainname: 171,
  iopl: 172,
  ioperm: 173,
  create_module: 174,
  init_module: 175,
  delete_module: 176,
  get_kernel_syms: 177,
  query_module: 178,
  quotactl: 179,
  nfsservctl: 180,
  getpmsg: 181,
  putpmsg: 182,
  afs_syscall: 183,
  tuxcall: 184,
  security: 185,
  gettid: 186,
  readahead: 187,
  setxattr: 188,
  lsetxattr: 189,
  fsetxattr: 190,
  getxattr: 191,
  lgetxattr: 192,
  fgetxattr: 193,
  listxattr: 194,
  llistxattr: 195,
  flistxattr: 196,
  removexattr: 197,
  lremovexattr: 198,
  fremovexattr: 199,
  tkill: 200,
  time: 201,
  futex: 202,
  sched_setaffinity: 203,
  sched_getaffinity: 204,
  set_thread_area: 205,
  io_setup: 206,
  io_destroy: 207,
  io_getevents: 208,
  io_submit: 209,
  io_cancel: 210,
  get_thread_area: 211,
  lookup_dcookie: 212,
  epoll_create: 213,
  epoll_ctl_old: 214,
  epoll_wait_old: 215,
  remap_file_pages: 216,
  getdents64: 217,
  set_tid_address: 218,
  restart_syscall: 219,
  semtimedop: 220,
  fadvise64: 221,
  timer_create: 222,
  timer_settime: 223,
  timer_gettime: 224,
  timer_getoverrun: 225,
  timer_delete: 226,
  clock_settime: 227,
  clock_gettime: 228,
  clock_getres: 229,
  clock_nanosleep: 230,
  exit_group: 231,
  epoll_wait: 232,
  epoll_ctl: 233,
  tgkill: 234,
  utimes: 235,
  vserver: 236,
  mbind: 237,
  set_mempolicy: 238,
  get_mempolicy: 239,
  mq_open: 240,
  mq_unlink: 241,
  mq_timedsend: 242,
  mq_timedreceive: 243,
  mq_notify: 244,
  mq_getsetattr: 245,
  kexec_load: 246,
  waitid: 247,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  ioprio_set: 251,
  ioprio_get: 252,
  inotify_init: 253,
  inotify_add_watch: 254,
  inotify_rm_watch: 255,
  migrate_pages: 256,
  openat: 257,
  mkdirat: 258,
  mknodat: 259,
  fchownat: 260,
  futimesat: 261,
  newfstatat: 262,
  unlinkat: 263,
  renameat: 264,
  linkat: 265,
  symlinkat: 266,
  readlinkat: 267,
  fchmodat: 268,
  faccessat: 269,
  pselect6: 270,
  ppoll: 271,
  unshare: 272,
  set_robust_list: 273,
  get_robust_list: 274,
  splice: 275,
  tee: 276,
  sync_file_range: 277,
  vmsplice: 278,
  move_pages: 279,
  utimensat: 280,
  epoll_pwait: 281,
  signalfd: 282,
  timerfd_create: 283,
  eventfd: 284,
  fallocate: 285,
  timerfd_settime: 286,
  timerfd_gettime: 287,
  accept4: 288,
  signalfd4: 289,
  eventfd2: 290,
  epoll_create1: 291,
  dup3: 292,
  pipe2: 293,
  inotify_init1: 294,
  preadv: 295,
  pwritev: 296,
  rt_tgsigqueueinfo: 297,
  perf_event_open: 298,
  recvmmsg: 299,
  fanotify_init: 300,
  fanotify_mark: 301,
  prlimit64: 302,
  name_to_handle_at: 303,
  open_by_handle_at: 304,
  clock_adjtime: 305,
  syncfs: 306,
  sendmmsg: 307,
  setns: 308,
  getcpu: 309,
  process_vm_readv: 310,
  process_vm_writev: 311,
  kcmp: 312,
  finit_module: 313,
  sched_setattr: 314,
  sched_getattr: 315,
  renameat2: 316,
  seccomp: 317,
  getrandom: 318,
  memfd_create: 319,
  kexec_file_load: 320,
  bpf: 321,
  execveat: 322,
  userfaultfd: 323,
  membarrier: 324,
  mlock2: 325,
  copy_file_range: 326,
  preadv2: 327,
  pwritev2: 328,
  pkey_mprotect: 329,
  pkey_alloc: 330,
  pkey_free: 331,
  statx: 332,
  io_pgetevents: 333,
  rseq: 334,
  pidfd_send_signal: 424,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  pidfd_open: 434,
  clone3: 435,
  close_range: 436,
  openat2: 437,
  pidfd_getfd: 438,
  faccessat2: 439,
  process_madvise: 440,
  epoll_pwait2: 441,
  mount_setattr: 442,
  quotactl_fd: 443,
  landlock_create_ruleset: 444,
  landlock_add_rule: 445,
  landlock_restrict_self: 446,
  memfd_secret: 447,
  process_mrelease: 448,
  futex_waitv: 449,
  set_mempolicy_home_node: 450,
} as const;
