/**
 * Writes to a writable container root under each --overlay2 mode: the program sees its changes
 * (tests/progs/fs_overlay.c prints the same as natively on a copy of the rootfs) and the
 * bundle's rootfs on the host is left exactly as it was; with --overlay2=none the writes reach
 * the host.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { compileProg, IS_ROOT, makeBundle, makeRoot } from "./harness.ts";
import { PLATFORMS } from "./probe.ts";

const FILES: Record<string, { text: string; mode?: number }> = {
  "data/a.txt": { text: "alpha\n" },
  "data/c.txt": { text: "gamma\n" },
  "data/d.txt": { text: "delta\n" },
  "data/sub/b.txt": { text: "beta\n", mode: 0o644 },
  "data/sub/keep.txt": { text: "keep\n" },
};

/** A listing of every path under dir with its type, mode and content: what must not change. */
async function snapshot(dir: string): Promise<string> {
  const out: string[] = [];
  async function walk(rel: string) {
    const entries = [];
    for await (const e of Deno.readDir(join(dir, rel))) entries.push(e.name);
    for (const name of entries.sort()) {
      const p = join(rel, name);
      const st = await Deno.lstat(join(dir, p));
      if (st.isDirectory) {
        out.push(`${p}/ ${st.mode?.toString(8)}`);
        await walk(p);
      } else {
        const text = st.isFile ? await Deno.readTextFile(join(dir, p)) : "";
        out.push(`${p} ${st.mode?.toString(8)} ${JSON.stringify(text)}`);
      }
    }
  }
  await walk("");
  return out.join("\n");
}

async function native(exe: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "runsc-overlay-native-" });
  try {
    for (const [p, f] of Object.entries(FILES)) {
      await Deno.mkdir(join(dir, p, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, p), f.text, { mode: f.mode ?? 0o644 });
      await Deno.chmod(join(dir, p), f.mode ?? 0o644);
    }
    await Deno.copyFile(exe, join(dir, "fs_overlay"));
    await Deno.chmod(join(dir, "fs_overlay"), 0o755);
    const r = await new Deno.Command("/usr/sbin/chroot", {
      args: [dir, "/fs_overlay"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(r.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const platform of PLATFORMS) {
  for (const overlay of ["root:memory", "root:self", "none"]) {
    Deno.test({
      name: `writes to a writable root under --overlay2=${overlay} (${platform})`,
      ignore: !IS_ROOT,
      async fn() {
        const exe = await compileProg("fs_overlay");
        const want = await native(exe);
        const bundle = await makeBundle({
          args: ["/fs_overlay"],
          files: { fs_overlay: exe, ...FILES },
          config: { root: { path: "rootfs", readonly: false } },
        });
        for (const [p, f] of Object.entries(FILES)) {
          await Deno.chmod(join(bundle.rootfs, p), f.mode ?? 0o644);
        }
        const before = await snapshot(join(bundle.rootfs, "data"));
        const root = await makeRoot();
        try {
          const got = await root.runsc(
            ["run", "--bundle", bundle.dir, "ov"],
            {},
            [`--platform=${platform}`, `--overlay2=${overlay}`],
          );
          assert.equal(got.stdout, want, `stdout differs; stderr: ${got.stderr}`);
          assert.equal(got.code, 0, got.stderr);
          const after = await snapshot(join(bundle.rootfs, "data"));
          if (overlay === "none") assert.notEqual(after, before, "writes reach the host rootfs");
          else assert.equal(after, before, "the host rootfs is unchanged under an overlay");
        } finally {
          await root.cleanup();
          await bundle.cleanup();
        }
      },
    });
  }
}
