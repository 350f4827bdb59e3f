/**
 * `runsc features`: what this runtime supports, as the OCI runtime-spec features document
 * (features.md) describes it, for callers that ask before they build a spec.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { SPEC_VERSION } from "../global.ts";
import { allCapabilityNames } from "../../sentry/kernel/task_creds.ts";

export const featuresCommand: Command = {
  name: "features",
  summary: "show the enabled features",
  usage: "",
  args: { min: 0, max: 0 },
  flags: [],
  run(ctx) {
    const features = {
      ociVersionMin: "1.0.0",
      ociVersionMax: SPEC_VERSION,
      hooks: ["prestart", "createRuntime", "poststart", "poststop"],
      mountOptions: ["ro", "rw", "bind", "rbind", "nosuid", "nodev", "noexec", "private"],
      linux: {
        namespaces: ["pid", "mount", "ipc", "uts", "network"],
        capabilities: allCapabilityNames(),
        cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
        seccomp: { enabled: false },
        apparmor: { enabled: false },
        selinux: { enabled: false },
      },
      annotations: {},
    };
    ctx.out(JSON.stringify(features, null, "    ") + "\n");
    return Promise.resolve(0);
  },
};
