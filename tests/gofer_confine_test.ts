/**
 * The gofer as `runsc create` starts it: as root, its own process in its own namespaces,
 * pivoted into a tree that holds only the rootfs and the bind mounts, with few capabilities.
 */
import assert from "node:assert/strict";
import { geteuid, namespaces } from "../host/namespace.ts";
import { LisafsClient } from "../gofer/lisafs/client.ts";
import { GoferProcess } from "../gofer/testutil.ts";
import { confinedArgv } from "../gofer/confine.ts";
import { S_IFDIR, S_IFMT } from "../host/fsops.ts";

const root = geteuid() === 0;

/** The gofer's pid: the child of nsinit (whose pid `runsc create` records). */
function goferChild(parent: number): number {
  for (let i = 0; i < 200; i++) {
    const kids = Deno.readTextFileSync(`/proc/${parent}/task/${parent}/children`).trim();
    if (kids) return Number(kids.split(" ")[0]);
  }
  throw new Error("no gofer under nsinit");
}

Deno.test({
  name: "the gofer runs in its own mount, IPC, UTS, network and PID namespaces",
  ignore: !root,
  fn: async () => {
    const g = new GoferProcess({ confine: true, mounts: true });
    try {
      const c = new LisafsClient(g.sock);
      c.mount(); // it serves: confinement is done
      const pid = goferChild(g.pid);
      assert.notEqual(pid, Deno.pid);
      const theirs = namespaces(pid);
      const ours = namespaces("self");
      for (const kind of ["mnt", "ipc", "uts", "net", "pid"]) {
        assert.ok(theirs[kind], `${kind} link readable`);
        assert.notEqual(theirs[kind], ours[kind], `${kind} namespace is its own`);
      }
      // The network namespace is empty: only a loopback device, down.
      const dev = Deno.readTextFileSync(`/proc/${pid}/net/dev`);
      assert.deepEqual(
        dev.split("\n").slice(2).filter((l) => l.trim()).map((l) => l.split(":")[0].trim()),
        ["lo"],
      );
    } finally {
      await g.stop();
    }
  },
});

Deno.test({
  name: "the confined gofer sees only the rootfs and mounts, with reduced capabilities",
  ignore: !root,
  fn: async () => {
    const g = new GoferProcess({ confine: true, mounts: true });
    try {
      const c = new LisafsClient(g.sock);
      const { root: r, stat } = c.mount();
      assert.equal(stat.mode & S_IFMT, S_IFDIR);
      const pid = goferChild(g.pid);
      // Its "/" is the staging tmpfs: the rootfs, one entry per bind mount, and its own /proc.
      const top = [...Deno.readDirSync(`/proc/${pid}/root`)].map((e) => e.name).sort();
      assert.deepEqual(top, ["m1", "m2", "m3", "proc", "root"]);
      assert.equal(Deno.readTextFileSync(`/proc/${pid}/root/root/hello.txt`).length > 0, true);
      assert.equal(Deno.readTextFileSync(`/proc/${pid}/root/m1/d.txt`), "data\n");
      // Nothing of the host: not the bundle beside the rootfs, not /etc.
      assert.throws(() => Deno.statSync(`/proc/${pid}/root/outside.txt`));
      assert.throws(() => Deno.statSync(`/proc/${pid}/root/etc`));
      // The read-only mount is read-only in the kernel too, not only in the protocol.
      const mountinfo = Deno.readTextFileSync(`/proc/${pid}/mountinfo`).split("\n");
      const ro = mountinfo.find((l) => l.split(" ")[4] === "/m2");
      assert.ok(ro && /(^|,)ro(,|$)/.test(ro.split(" ")[5]), `m2 mounted ro: ${ro}`);
      // Its own PID namespace: the gofer is pid 1 there and sees no other process.
      const pids = [...Deno.readDirSync(`/proc/${pid}/root/proc`)].filter((e) =>
        /^\d+$/.test(e.name)
      ).map((e) => e.name);
      assert.deepEqual(pids, ["1"]);
      // Capabilities: those that serving files needs, and no CAP_SYS_ADMIN.
      const status = Deno.readTextFileSync(`/proc/${pid}/status`);
      const eff = BigInt("0x" + /CapEff:\s*([0-9a-f]+)/.exec(status)![1]);
      const bnd = BigInt("0x" + /CapBnd:\s*([0-9a-f]+)/.exec(status)![1]);
      assert.equal(eff & (1n << 21n), 0n, "no CAP_SYS_ADMIN");
      assert.equal(bnd & (1n << 21n), 0n, "CAP_SYS_ADMIN not in the bounding set");
      assert.notEqual(eff & 1n, 0n, "keeps CAP_CHOWN");
      assert.match(status, /NoNewPrivs:\s*1/);
      // And through the protocol the host stays out of reach.
      const w = c.walk(r, ["esc", "passwd"]);
      assert.equal(w.status, "symlink");
      assert.equal(w.inodes.length, 1);
      assert.match(g.logText(), /gofer: confined/);
    } finally {
      await g.stop();
    }
  },
});

Deno.test("the gofer says at --debug what it could not set up when not confined", async () => {
  const g = new GoferProcess({});
  try {
    new LisafsClient(g.sock).mount();
    assert.match(g.logText(), /confinement not set up/);
  } finally {
    await g.stop();
  }
});

Deno.test("confinedArgv() wraps the gofer in nsinit only as root", () => {
  const argv = ["/usr/bin/deno", "run", "-A", "main.ts", "gofer", "--bundle", "/b"];
  const out = confinedArgv(argv);
  if (!root) {
    assert.deepEqual(out, argv);
    return;
  }
  assert.deepEqual(out, ["runsc-nsinit", ...argv, "--confine"]);
});
