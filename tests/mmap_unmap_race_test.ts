/**
 * munmap of one of two shared mappings of a file while another thread stores through it: the
 * stores the thread made before its store faulted are all in the file (the write-back comes
 * after the mapping is gone from every thread). The file lives on a bind mount that the
 * sandbox mounts twice: the program reads it back through the second mount, which shares no
 * page cache with the first, so it sees what was written back (tests/progs/mmap_unmap_race.c).
 * Natively both paths are one directory.
 *
 * @module
 */

import assert from "node:assert/strict";
import { compileProg, IS_ROOT, makeBundle, makeRoot } from "./harness.ts";
import { PLATFORMS } from "./probe.ts";

for (const platform of PLATFORMS) {
  Deno.test({
    name: `munmap racing a store through a shared file mapping loses no store (${platform})`,
    ignore: !IS_ROOT,
    async fn() {
      const exe = await compileProg("mmap_unmap_race");
      const nativeDir = await Deno.makeTempDir({ prefix: "runsc-race-native-" });
      const dir = await Deno.makeTempDir({ prefix: "runsc-race-bind-" });
      const bind = (destination: string) => ({
        destination,
        type: "bind",
        source: dir,
        options: ["rbind"],
      });
      const bundle = await makeBundle({
        args: ["/mmap_unmap_race", "/mnt/a", "/mnt/b"],
        files: { mmap_unmap_race: exe },
        config: { mounts: [bind("/mnt/a"), bind("/mnt/b")] },
      });
      const root = await makeRoot();
      try {
        const r = await new Deno.Command(exe, { args: [nativeDir, nativeDir] }).output();
        const native = new TextDecoder().decode(r.stdout);
        assert.equal(r.code, 0);
        const got = await root.runsc(["run", "--bundle", bundle.dir, "race"], {}, [
          `--platform=${platform}`,
        ]);
        assert.equal(got.code, 0, got.stderr);
        assert.equal(got.stdout, native);
      } finally {
        await root.cleanup();
        await bundle.cleanup();
        for (const d of [dir, nativeDir]) await Deno.remove(d, { recursive: true });
      }
    },
  });
}
