/**
 * Calls that reach into another process (issue #11): ptrace of a process the caller does not
 * trace answers ESRCH or EPERM, process_vm_readv/writev copy between processes the caller may
 * inspect, kcmp compares their kernel objects, and pidfds name, signal, poll and wait for a
 * process, each as Linux answers (tests/progs/sec_procs.c).
 */

import { probeTests } from "../probe.ts";

probeTests([{ prog: "sec_procs" }]);
