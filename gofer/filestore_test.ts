import assert from "node:assert/strict";
import { Errno } from "../abi/linux/errno.ts";
import { closeFd, preadFd, writeAll } from "../host/libc.ts";
import { fstat, S_IFMT, S_IFREG } from "../host/fsops.ts";
import { geteuid } from "../host/namespace.ts";
import { lisafsErrno, withGofer } from "./testutil.ts";
import { filestoreName, removeFilestores } from "./filestore.ts";

const MODES = [false, ...(geteuid() === 0 ? [true] : [])];

for (const confine of MODES) {
  const name = confine ? "confined" : "unconfined";

  Deno.test(`${name}: root:self makes a hidden filestore in the rootfs, donated with Mount`, async () => {
    const id = "sb-self";
    await withGofer(
      { confine, mounts: true, args: ["--overlay2=root:self", `--id=${id}`] },
      (c, g) => {
        const host = `${g.bundle}/rootfs/${filestoreName(id)}`;
        const m = c.mount();
        assert.ok(m.filestoreFd >= 0, "the root's filestore comes with Mount");
        const st = fstat(m.filestoreFd);
        assert.equal(st.mode & S_IFMT, S_IFREG);
        // Made in the rootfs's own file system and unlinked at once: only the descriptor keeps
        // it (a `docker commit` of the rootfs must not copy a sparse 1 TiB file).
        assert.equal(st.dev, BigInt(Deno.statSync(`${g.bundle}/rootfs`).dev), "the rootfs's fs");
        assert.equal(st.nlink, 0, "unlinked");
        assert.throws(() => Deno.statSync(host));
        writeAll(m.filestoreFd, new TextEncoder().encode("upper layer"));
        const back = new Uint8Array(11);
        assert.equal(preadFd(m.filestoreFd, back, 0), 11);
        assert.equal(new TextDecoder().decode(back), "upper layer");
        closeFd(m.filestoreFd);
        // The application never sees it, nor can it make or take the name.
        const w = c.walk(m.root, [filestoreName(id)]);
        assert.equal(w.status, "missing");
        assert.equal(c.walkStat(m.root, [filestoreName(id)]).length, 0);
        const dir = c.openAt(m.root, 0);
        const names = c.getdents64(dir.openFd, 65536).map((d) => d.name);
        assert.ok(names.includes("hello.txt"));
        assert.ok(!names.some((n) => n.startsWith(".gvisor.filestore.")), names.join(" "));
        assert.equal(lisafsErrno(() => c.mkdirAt(m.root, filestoreName("x"), 0o755)), Errno.EPERM);
        assert.equal(
          lisafsErrno(() => c.renameAt(m.root, "hello.txt", m.root, filestoreName(id))),
          Errno.EPERM,
        );
        assert.equal(lisafsErrno(() => c.unlinkAt(m.root, filestoreName(id))), Errno.EPERM);
        // root: only the root is overlaid.
        const data = c.mount("/data");
        assert.equal(data.filestoreFd, -1);
        assert.throws(() => Deno.statSync(`${g.bundle}/data/${filestoreName(id)}`));
        // Deleting the container removes it.
        assert.deepEqual(removeFilestores(g.bundle, id), []);
        assert.throws(() => Deno.statSync(host));
        assert.deepEqual(removeFilestores(g.bundle, id), [], "a second delete is fine");
      },
    );
  });

  Deno.test(`${name}: all:self overlays writable directory mounts too`, async () => {
    const id = "sb-all";
    await withGofer(
      { confine, mounts: true, args: ["--overlay2=all:self", `--id=${id}`] },
      (c, g) => {
        const root = c.mount();
        const data = c.mount("/data");
        const ro = c.mount("/ro");
        const one = c.mount("/etc/one.txt");
        assert.ok(root.filestoreFd >= 0 && data.filestoreFd >= 0);
        assert.equal(ro.filestoreFd, -1, "read-only mount: none");
        assert.equal(one.filestoreFd, -1, "file mount: none");
        assert.equal(fstat(data.filestoreFd).nlink, 0, "unlinked at once");
        assert.equal(
          fstat(data.filestoreFd).dev,
          BigInt(Deno.statSync(`${g.bundle}/data`).dev),
          "in the mount's own file system",
        );
        closeFd(root.filestoreFd);
        closeFd(data.filestoreFd);
        assert.deepEqual(removeFilestores(g.bundle, id), []);
        assert.throws(() => Deno.statSync(`${g.bundle}/data/${filestoreName(id)}`));
        assert.throws(() => Deno.statSync(`${g.bundle}/rootfs/${filestoreName(id)}`));
      },
    );
  });

  Deno.test(`${name}: root:dir= makes an unlinked filestore in that directory`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "runsc-filestore-" });
    try {
      await withGofer({ confine, args: [`--overlay2=root:dir=${dir}`, "--id=sb-dir"] }, (c, g) => {
        const m = c.mount();
        assert.ok(m.filestoreFd >= 0);
        assert.equal(fstat(m.filestoreFd).nlink, 0, "unlinked: gone when closed");
        assert.equal(fstat(m.filestoreFd).dev, BigInt(Deno.statSync(dir).dev), "on dir's fs");
        writeAll(m.filestoreFd, new TextEncoder().encode("x"));
        const b = new Uint8Array(1);
        assert.equal(preadFd(m.filestoreFd, b, 0), 1);
        closeFd(m.filestoreFd);
        assert.deepEqual([...Deno.readDirSync(dir)], []);
        assert.throws(() => Deno.statSync(`${g.bundle}/rootfs/${filestoreName("sb-dir")}`));
      });
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });

  Deno.test(`${name}: root:memory, none and a read-only root make no filestore`, async () => {
    for (
      const [args, readonly] of [
        [["--overlay2=root:memory"], false],
        [["--overlay2=none"], false],
        [["--overlay2=root:self"], true],
      ] as const
    ) {
      await withGofer({ confine, readonly, args: [...args, "--id=sb-none"] }, (c, g) => {
        assert.equal(c.mount().filestoreFd, -1, args.join(" "));
        assert.throws(() => Deno.statSync(`${g.bundle}/rootfs/${filestoreName("sb-none")}`));
      });
    }
  });
}
