/**
 * Stores through a MAP_SHARED mapping of a file on a bind mount reach the host file, as they
 * do natively: after msync, after munmap, and when the process exits. The host watches the
 * file while the program runs (tests/progs/mmap_writeback.c), natively and in the sandbox, and
 * both runs must let it see the same.
 *
 * @module
 */

import assert from "node:assert/strict";
import { compileProg, IS_ROOT, makeBundle, makeRoot } from "./harness.ts";
import { PLATFORMS } from "./probe.ts";

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** What the host reads in dir/data after each step of a run that `start` begins. */
async function watch(dir: string, start: () => Promise<{ code: number; stderr: string }>) {
  await Deno.writeFile(`${dir}/data`, new Uint8Array(2 * 4096).fill(0x2e));
  const seen: string[] = [];
  const text = async (off: number, n: number) => {
    const b = await Deno.readFile(`${dir}/data`);
    return new TextDecoder().decode(b.subarray(off, off + n));
  };
  const run = start();
  for (const [name, off, n] of [["msync", 0, 11], ["munmap", 4096, 12]] as const) {
    for (let i = 0; i < 1000 && !(await exists(`${dir}/${name}`)); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    seen.push(`${name}: ${await text(off, n)}`);
    await Deno.writeFile(`${dir}/ack-${name}`, new Uint8Array());
  }
  const got = await run;
  assert.equal(got.code, 0, got.stderr);
  seen.push(`exit: ${await text(100, 10)}`);
  return seen;
}

for (const platform of PLATFORMS) {
  Deno.test({
    name:
      `stores through a shared mapping reach the host file on msync, munmap, exit (${platform})`,
    ignore: !IS_ROOT,
    async fn() {
      const exe = await compileProg("mmap_writeback");
      const nativeDir = await Deno.makeTempDir({ prefix: "runsc-mmap-native-" });
      const dir = await Deno.makeTempDir({ prefix: "runsc-mmap-bind-" });
      const bundle = await makeBundle({
        args: ["/mmap_writeback", "/mnt/shared"],
        files: { mmap_writeback: exe },
        config: {
          mounts: [{ destination: "/mnt/shared", type: "bind", source: dir, options: ["rbind"] }],
        },
      });
      const root = await makeRoot();
      try {
        const native = await watch(nativeDir, async () => {
          const r = await new Deno.Command(exe, { args: [nativeDir], stderr: "piped" }).output();
          return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
        });
        const sandbox = await watch(
          dir,
          () =>
            root.runsc(["run", "--bundle", bundle.dir, "mmapwb"], {}, [`--platform=${platform}`]),
        );
        assert.deepEqual(sandbox, native);
      } finally {
        await root.cleanup();
        await bundle.cleanup();
        for (const d of [dir, nativeDir]) await Deno.remove(d, { recursive: true });
      }
    },
  });
}
