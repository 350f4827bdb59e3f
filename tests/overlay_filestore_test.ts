/**
 * Where an overlay keeps what the application writes (issue "Gofer ... overlay2"): with
 * `root:self` in the filestore beside the rootfs, with `root:dir=<path>` in an unlinked file
 * in that directory, with `root:memory` in memory; never in the host's rootfs, and the
 * filestore is gone once the container is deleted.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { IS_ROOT, makeBundle, makeRoot, waitFor } from "./harness.ts";
import { busyboxRootfs, haveBusybox } from "./rootfs.ts";

const MIB8 = 8 * 1024 * 1024;

/** Bytes of disk a file uses. */
function diskUse(path: string): number {
  try {
    return (Deno.statSync(path).blocks ?? 0) * 512;
  } catch {
    return 0;
  }
}

/** Disk used by deleted files under dir that process pid holds open. */
function heldUnlinked(pid: number, dir: string): number {
  let total = 0;
  for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      const target = Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`);
      if (target.startsWith(dir + "/") && target.endsWith(" (deleted)")) {
        total += diskUse(`/proc/${pid}/fd/${e.name}`);
      }
    } catch {
      // Closed meanwhile.
    }
  }
  return total;
}

async function writer(overlay2: string, check: (rootfs: string, bootPid: number) => boolean) {
  const busybox = await busyboxRootfs();
  const bundle = await makeBundle({
    args: ["/bin/sh", "-c", "dd if=/dev/zero of=/big bs=1M count=8 2>/dev/null; sleep 30"],
    env: ["PATH=/bin"],
    files: { "bin/busybox": join(busybox, "bin", "busybox") },
    config: { root: { path: "rootfs", readonly: false } },
  });
  for (const a of ["sh", "dd", "sleep"]) {
    await Deno.symlink("busybox", join(bundle.rootfs, "bin", a));
  }
  const root = await makeRoot();
  try {
    const r = await root.runsc(["run", "-d", "--bundle", bundle.dir, "ov"], {
      outputFile: join(bundle.dir, "out"),
    }, [`--overlay2=${overlay2}`]);
    assert.equal(r.code, 0, r.stderr);
    const pid = JSON.parse((await root.runsc(["state", "ov"])).stdout).pid as number;
    assert.ok(
      await waitFor(() => check(bundle.rootfs, pid), 20_000),
      `${overlay2}: not where expected`,
    );
    assert.throws(() => Deno.statSync(join(bundle.rootfs, "big")), Deno.errors.NotFound);
    await root.runsc(["delete", "--force", "ov"]);
    const left = [...Deno.readDirSync(bundle.rootfs)].map((e) => e.name).filter((n) =>
      n.startsWith(".gvisor")
    );
    assert.deepEqual(left, [], "the filestore is gone after delete");
  } finally {
    await root.cleanup();
    await bundle.cleanup();
  }
}

Deno.test({
  name: "root:self keeps written data in an unlinked filestore beside the rootfs",
  ignore: !IS_ROOT || !haveBusybox(),
  async fn() {
    await writer("root:self", (rootfs, pid) => {
      // Unlinked at once: nothing in the rootfs's tree (which `docker commit` copies).
      const named = [...Deno.readDirSync(rootfs)].some((e) =>
        e.name.startsWith(".gvisor.filestore.")
      );
      return !named && heldUnlinked(pid, rootfs) >= MIB8;
    });
  },
});

Deno.test({
  name: "root:dir= keeps written data in an unlinked file in that directory",
  ignore: !IS_ROOT || !haveBusybox(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runsc-filestore-dir-" });
    try {
      await writer(`root:dir=${dir}`, (_rootfs, pid) => heldUnlinked(pid, dir) >= MIB8);
      assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing is left in the directory");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "root:memory keeps written data in memory: no filestore at all",
  ignore: !IS_ROOT || !haveBusybox(),
  async fn() {
    await writer(
      "root:memory",
      (rootfs) =>
        ![...Deno.readDirSync(rootfs)].some((e) => e.name.startsWith(".gvisor")) &&
        Deno.statSync(rootfs).isDirectory,
    );
  },
});
