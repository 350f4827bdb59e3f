/**
 * File and I/O probes: files, paths, tmpfs, devfs, procfs, pipes, polling (see probe.ts).
 */

import { probeTests } from "./probe.ts";

/** A directory of the rootfs (so gofer-backed in the sandbox) too long for one getdents call. */
const manyFiles = Object.fromEntries(
  Array.from({ length: 2000 }, (_, i) => [`gd/f-${String(i).padStart(4, "0")}`, { text: "" }]),
);

probeTests([
  { prog: "fs_files" },
  { prog: "fs_paths" },
  { prog: "fs_proc_dev", args: ["arg1"] },
  { prog: "fs_pipe_poll" },
  { prog: "fs_pipe_poll", args: ["sigpipe"] },
  { prog: "fs_pipe_io" },
  { prog: "fs_unix" },
  { prog: "fs_locks_splice" },
  { prog: "splice_race" },
  { prog: "fs_xattr_tmpfile" },
  { prog: "fs_stdin", stdin: "hello from stdin\n" },
  { prog: "fs_pty" },
  { prog: "fs_timerfd_dents" },
  {
    prog: "fs_timerfd_dents",
    args: ["/gd"],
    name: "directory offsets on the root (fs_timerfd_dents /gd)",
    files: manyFiles,
    writableRoot: true,
  },
  {
    prog: "fs_root_names",
    name: "names on the gofer root, exclusive access (fs_root_names --overlay2=none)",
    writableRoot: true,
    runscFlags: ["--overlay2=none"],
  },
  {
    prog: "fs_root_names",
    name: "names on the gofer root, shared access (fs_root_names --file-access=shared)",
    writableRoot: true,
    runscFlags: ["--file-access=shared"],
  },
  { prog: "fs_signalfd" },
  { prog: "fs_inotify" },
  { prog: "fs_dnotify" },
  { prog: "fs_async" },
  { prog: "fs_async_pipe" },
  { prog: "fs_mount" },
  { prog: "epoll_exclusive" },
  { prog: "tee_wait" },
  { prog: "lock_deadlock" },
  { prog: "openat2_resolve" },
  { prog: "recvmmsg_timeout" },
]);
