/**
 * First-light probes: memory, argument errors, what a process learns at start, faults and
 * exit statuses (see probe.ts).
 */

import { probeTests } from "./probe.ts";

probeTests([
  { prog: "mmap_anon" },
  { prog: "mmap_anon", pie: true },
  { prog: "bad_args" },
  { prog: "process_info", args: ["first"] },
  { prog: "segv" },
  { prog: "exit_code", args: ["42"] },
]);
