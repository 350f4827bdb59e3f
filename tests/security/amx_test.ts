/**
 * AMX tile state (issue #11): no task finds another's tile data (on kvm_pvm the host's XCR0,
 * tiles included, stays loaded in the guest, whose own XCR0 leaves them out), and what the
 * application is told about AMX (ARCH_GET_XCOMP_SUPP, ARCH_REQ_XCOMP_PERM) matches what
 * works on every platform: no platform offers tiles, so the request is refused as Linux
 * refuses a feature it does not offer (tests/progs/sec_amx.c).
 */

import { probeTests } from "../probe.ts";

probeTests([{ prog: "sec_amx" }]);
