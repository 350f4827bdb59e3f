/**
 * Capabilities from the spec are enforced for root (issue #11, item 9): tests/progs/sec_caps.c
 * tries each privileged operation and shows its sets, in the sandbox with the spec's
 * `process.capabilities` and natively with the same bounding set as root (sec_capwrap does
 * what runc does before execve). Two sets: runc's default (`runsc spec`: AUDIT_WRITE, KILL,
 * NET_BIND_SERVICE) and Docker's default, which allows chown, chroot, setuid and the others.
 * And a spec with no process.capabilities at all: runc gives root no capability.
 */

import { capBit, capFromName } from "../../sentry/kernel/task_creds.ts";
import { defaultSpec } from "../../oci/spec.ts";
import { compileProg } from "../harness.ts";
import { probeTests } from "../probe.ts";

const RUNC_DEFAULT = defaultSpec().process!.capabilities!.bounding!;
const DOCKER_DEFAULT = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

function capsProbe(name: string, caps: string[]) {
  const mask = caps.reduce((m, n) => m | capBit(capFromName(n)!), 0n).toString(16);
  return {
    name: `sec_caps with ${name}`,
    prog: "sec_caps",
    writableRoot: true,
    files: { "/tmp/.keep": { text: "" } },
    process: {
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: true,
    },
    // The wrapper is put in the root below; it runs as root with every capability natively.
    nativeArgv: ["/sec_capwrap", mask, "1", "/sec_caps"],
  };
}

const wrap = await compileProg("sec_capwrap");
probeTests([
  {
    ...capsProbe("runc's default set", RUNC_DEFAULT),
    files: { "/tmp/.keep": { text: "" }, "/sec_capwrap": wrap },
  },
  {
    ...capsProbe("Docker's default set", DOCKER_DEFAULT),
    files: { "/tmp/.keep": { text: "" }, "/sec_capwrap": wrap },
  },
  {
    ...capsProbe("no process.capabilities", []),
    files: { "/tmp/.keep": { text: "" }, "/sec_capwrap": wrap },
    // Taken out of the bundle's config.json (JSON drops an undefined field).
    process: { capabilities: undefined, noNewPrivileges: undefined },
    nativeArgv: ["/sec_capwrap", "0", "0", "/sec_caps"],
  },
]);
