/**
 * System calls CPython's regression tests found wrong or missing (issue 14): each program runs
 * natively and in the sandbox with identical output required (see probe.ts).
 */

import { probeTests } from "./probe.ts";

probeTests([
  { prog: "sched_clocks" },
  { prog: "clone_fds" },
  { prog: "exec_name" },
  { prog: "mremap_shared" },
  { prog: "fork_threads_cow" },
]);
