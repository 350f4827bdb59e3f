/**
 * A task blocked in vfork dies on SIGKILL and on its group's exit, and its child goes on
 * (issue #11, item 8): tests/progs/sec_vfork_kill.c, natively and in the sandbox.
 */

import { probeTests } from "../probe.ts";

probeTests([{ prog: "sec_vfork_kill" }]);
