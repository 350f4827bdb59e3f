/**
 * Bind mounts from the spec served by the Gofer: a read-only directory (EROFS on create), a
 * read-write directory (writes reach the host), and a file mounted over a path the rootfs lacks.
 *
 * @module
 */

import assert from "node:assert/strict";
import { compileProg, IS_ROOT, makeBundle, makeRoot } from "./harness.ts";
import { PLATFORMS } from "./probe.ts";

for (const platform of PLATFORMS) {
  Deno.test({
    name: `bind mounts of directories and a file (${platform})`,
    ignore: !IS_ROOT,
    async fn() {
      const exe = await compileProg("fs_bind");
      const ro = await Deno.makeTempDir({ prefix: "runsc-bind-ro-" });
      const rw = await Deno.makeTempDir({ prefix: "runsc-bind-rw-" });
      const file = await Deno.makeTempFile({ prefix: "runsc-bind-file-" });
      await Deno.writeTextFile(`${ro}/hello.txt`, "hello from ro\n");
      await Deno.writeTextFile(`${rw}/data.txt`, "rw data\n");
      await Deno.writeTextFile(file, "single file\n");
      const bundle = await makeBundle({
        args: ["/fs_bind"],
        files: { fs_bind: exe },
        config: {
          mounts: [
            { destination: "/mnt/ro", type: "bind", source: ro, options: ["rbind", "ro"] },
            { destination: "/mnt/rw", type: "bind", source: rw, options: ["rbind", "rw"] },
            {
              destination: "/etc/single.conf",
              type: "bind",
              source: file,
              options: ["bind", "ro"],
            },
          ],
        },
      });
      const root = await makeRoot();
      try {
        const got = await root.runsc(["run", "--bundle", bundle.dir, "bind"], {}, [
          `--platform=${platform}`,
        ]);
        assert.equal(got.code, 0, got.stderr);
        const lines = got.stdout.split("\n");
        assert.deepEqual(lines.slice(0, 5), [
          "/mnt/ro/hello.txt: hello from ro",
          "/mnt/rw/data.txt: rw data",
          "/etc/single.conf: single file",
          "create in ro: Read-only file system",
          "create in rw: ok",
        ]);
        assert.match(got.stdout, / \/mnt\/ro \S+ ro /);
        assert.match(got.stdout, / \/mnt\/rw \S+ rw /);
        assert.equal(await Deno.readTextFile(`${rw}/new`), "from sandbox\n");
      } finally {
        await root.cleanup();
        await bundle.cleanup();
        for (const p of [ro, rw, file]) await Deno.remove(p, { recursive: true });
      }
    },
  });
}

for (const platform of PLATFORMS) {
  Deno.test({
    name: `a shared bind mount sees changes made on the host (${platform})`,
    ignore: !IS_ROOT,
    async fn() {
      const exe = await compileProg("fs_shared");
      const dir = await Deno.makeTempDir({ prefix: "runsc-bind-shared-" });
      await Deno.writeTextFile(`${dir}/doomed`, "x");
      await Deno.writeTextFile(`${dir}/grow`, "x");
      await Deno.mkdir(`${dir}/sub`);
      await Deno.writeTextFile(`${dir}/sub/f`, "1");
      const bundle = await makeBundle({
        args: ["/fs_shared"],
        files: { fs_shared: exe },
        config: {
          mounts: [{ destination: "/mnt/shared", type: "bind", source: dir, options: ["rbind"] }],
        },
      });
      const root = await makeRoot();
      try {
        const run = root.runsc(["run", "--bundle", bundle.dir, "shared"], {}, [
          `--platform=${platform}`,
        ]);
        // Up to a minute: a loaded machine may take long to start the sandbox, and changes
        // made before the program's first look would change its first lines.
        for (let i = 0; i < 3000; i++) {
          if (await Deno.stat(`${dir}/started`).then(() => true, () => false)) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        await Deno.writeTextFile(`${dir}/late`, "y");
        await Deno.remove(`${dir}/doomed`);
        await Deno.writeTextFile(`${dir}/grow`, "xyz");
        await Deno.rename(`${dir}/sub`, `${dir}/sub.old`);
        await Deno.mkdir(`${dir}/sub`);
        await Deno.writeTextFile(`${dir}/sub/f`, "22");
        const got = await run;
        assert.equal(got.code, 0, got.stderr);
        assert.equal(
          got.stdout,
          "before: absent\ndoomed: present\ngrow: 1, sub/f: 1\nlate file seen: yes\n" +
            "removed file gone: yes\nnew size seen: yes\nreplaced directory seen: yes\n",
        );
      } finally {
        await root.cleanup();
        await bundle.cleanup();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
