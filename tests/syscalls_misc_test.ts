/**
 * System calls CPython's regression tests found wrong or missing (issue 14): each program runs
 * natively and in the sandbox with identical output required (see probe.ts).
 */

import { probeTests } from "./probe.ts";

probeTests([
  { prog: "sched_clocks" },
  { prog: "clock_cpu_sleep" },
  { prog: "clone_fds" },
  { prog: "exec_name" },
  { prog: "mremap_shared" },
  { prog: "mmap_file", args: ["/tmp"] },
  { prog: "mmap_offsets", args: ["/tmp"] },
  {
    prog: "mmap_offsets",
    args: ["/"],
    name: "file mappings at extreme offsets on the gofer root (mmap_offsets / --overlay2=none)",
    writableRoot: true,
    runscFlags: ["--overlay2=none"],
  },
  {
    prog: "mmap_file",
    args: ["/"],
    name: "file mappings on the overlaid root, upper layer in a filestore (mmap_file /)",
    writableRoot: true,
  },
  {
    prog: "mmap_file",
    args: ["/"],
    name: "file mappings on the gofer root (mmap_file / --overlay2=none)",
    writableRoot: true,
    runscFlags: ["--overlay2=none"],
  },
  { prog: "mmap_args" },
  { prog: "mm_mincore" },
  { prog: "mremap_dontunmap", args: ["/tmp"] },
  {
    prog: "mremap_dontunmap",
    args: ["/"],
    name: "mremap MREMAP_DONTUNMAP on the gofer root (mremap_dontunmap / --overlay2=none)",
    writableRoot: true,
    runscFlags: ["--overlay2=none"],
  },
  { prog: "mmap_sparse", args: ["/tmp/small"] },
  { prog: "mmap_eof", args: ["/tmp"] },
  {
    prog: "mmap_eof",
    args: ["/"],
    name: "file mappings past the end on the gofer root (mmap_eof / --overlay2=none)",
    writableRoot: true,
    runscFlags: ["--overlay2=none"],
  },
  {
    prog: "mmap_eof",
    args: ["/"],
    name: "file mappings past the end on the overlaid root (mmap_eof /)",
    writableRoot: true,
  },
  { prog: "fork_threads_cow" },
  { prog: "statfs_root", writableRoot: true },
  { prog: "pidfd_procdir" },
]);

// Names that are not UTF-8, on tmpfs and through the Gofer (no overlay: its own root).
probeTests([
  { prog: "bytes_names", writableRoot: true, runscFlags: ["--overlay2=none"] },
]);
