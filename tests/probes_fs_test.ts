/**
 * File and I/O probes: files, paths, tmpfs, devfs, procfs, pipes, polling (see probe.ts).
 */

import { probeTests } from "./probe.ts";

probeTests([
  { prog: "fs_files" },
]);
