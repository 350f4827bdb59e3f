/**
 * Containers started, run and deleted in parallel leave nothing behind on the host: no process,
 * memfd, mount or state directory (soak.ts). One round here; bench/soak.ts runs longer.
 *
 * @module
 */

import assert from "node:assert/strict";
import { IS_ROOT } from "../harness.ts";
import { busyboxRootfs, haveBusybox } from "../rootfs.ts";
import { PLATFORMS } from "../probe.ts";
import { soak } from "./soak.ts";

for (const platform of PLATFORMS) {
  Deno.test({
    name: `20 containers run in parallel leave nothing behind (${platform})`,
    ignore: !IS_ROOT || !haveBusybox(),
    async fn() {
      const r = await soak({
        rootfs: await busyboxRootfs(),
        parallel: 20,
        seconds: 0,
        flags: [`--platform=${platform}`],
      });
      assert.deepEqual(r.failures, []);
      assert.deepEqual(r.leaks, []);
      assert.equal(r.containers, 20);
    },
  });
}
