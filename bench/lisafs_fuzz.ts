/**
 * The LISAFS fuzzer, long-running: a real Gofer (confined as `runsc create` starts it, when run
 * as root) gets well-formed requests of every message with hostile field values (FD ids it
 * handed out and ones it did not, names that climb out or hold NULs, huge offsets and counts),
 * and random bytes under every message id. It must answer each, keep serving, touch nothing
 * outside its root and exit cleanly. Prints executions per second.
 *
 *   deno run -A bench/lisafs_fuzz.ts [--seconds 60] [--seed 1]
 *
 * tests/security/escape_test.ts runs a few seconds of it (fuzzLisafs) on every `deno task test`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { errnoName } from "../abi/linux/errno.ts";
import { closeFd } from "../host/libc.ts";
import { geteuid } from "../host/namespace.ts";
import { recvMessage, sendMessage } from "../gofer/lisafs/channel.ts";
import { decode, encode } from "../gofer/lisafs/codec.ts";
import {
  ErrorResp,
  type ImplementedMID,
  MAX_MESSAGE_SIZE,
  MESSAGES,
  MID,
  midName,
} from "../gofer/lisafs/message.ts";
import { LisafsClient, LisafsError } from "../gofer/lisafs/client.ts";
import { GoferProcess } from "../gofer/testutil.ts";
import { hostChanges, hostSnapshot } from "../tests/security/hostcheck.ts";

/** What a fuzzing run did. */
export interface FuzzResult {
  messages: number;
  seconds: number;
  /** Error responses by errno name. */
  errors: Record<string, number>;
  /** Successful responses by message name. */
  ok: Record<string, number>;
  /** The Gofer's own log lines about handlers that failed unexpectedly (answered EIO). */
  bugs: string[];
}

const NAMES = [
  "hello.txt",
  "dir",
  "sub",
  "file.txt",
  "abs",
  "esc",
  "link",
  "data",
  "ro",
  "etc",
  "one.txt",
  "..",
  ".",
  "",
  "a/b",
  "/etc",
  "x\0y",
  "n".repeat(256),
  ".gvisor.filestore.x",
  "fz0",
  "fz1",
  "fz2",
  "fz3",
]; // deno-fmt-ignore

/** A template of every implemented request: field names and value kinds come from here. */
function templates(): [ImplementedMID, Record<string, unknown>][] {
  const ts = { sec: 0n, nsec: 0n };
  const ids = { uid: 0, gid: 0 };
  return [
    [MID.FStat, { fd: 1 }],
    [MID.SetStat, { fd: 1, mask: 0x2, mode: 0o644, ...ids, size: 0n, atime: ts, mtime: ts }],
    [MID.Walk, { dirFd: 1, names: ["hello.txt"] }],
    [MID.WalkStat, { dirFd: 1, names: ["hello.txt"] }],
    [MID.OpenAt, { fd: 1, flags: 0 }],
    [MID.OpenCreateAt, { dirFd: 1, name: "n", flags: 2, mode: 0o644, ...ids }],
    [MID.Close, { fds: [1] }],
    [MID.FSync, { fds: [1] }],
    [MID.PWrite, { fd: 1, offset: 0n, data: new Uint8Array(3) }],
    [MID.PRead, { offset: 0n, fd: 1, count: 10 }],
    [MID.MkdirAt, { dirFd: 1, name: "n", mode: 0o755, ...ids }],
    [MID.MknodAt, { dirFd: 1, name: "n", mode: 0o10644, ...ids, major: 0, minor: 0 }],
    [MID.SymlinkAt, { dirFd: 1, name: "n", target: "t", ...ids }],
    [MID.LinkAt, { dirFd: 1, name: "n", target: 1 }],
    [MID.FStatFS, { fd: 1 }],
    [MID.FAllocate, { fd: 1, mode: 0, offset: 0n, length: 1n }],
    [MID.ReadLinkAt, { fd: 1 }],
    [MID.Flush, { fd: 1 }],
    [MID.Connect, { fd: 1, sockType: 1 }],
    [MID.UnlinkAt, { dirFd: 1, name: "n", flags: 0 }],
    [MID.RenameAt, { oldDirFd: 1, oldName: "a", newDirFd: 1, newName: "b" }],
    [MID.RenameAt2, { oldDirFd: 1, oldName: "a", newDirFd: 1, newName: "b", flags: 1 }],
    [MID.Getdents64, { fd: 1, count: 4096 }],
    [MID.FGetXattr, { fd: 1, name: "user.a", size: 10 }],
    [MID.FSetXattr, { fd: 1, name: "user.a", value: new Uint8Array(1), flags: 0 }],
    [MID.FListXattr, { fd: 1, size: 100 }],
    [MID.FRemoveXattr, { fd: 1, name: "user.a" }],
    [MID.BindAt, { dirFd: 1, name: "n", sockType: 1, mode: 0o755, ...ids }],
    [MID.Listen, { fd: 1, backlog: 1 }],
    [MID.Accept, { fd: 1 }],
    [MID.ConnectWithCreds, { fd: 1, sockType: 1, uid: 0, gid: 0 }],
  ];
}

/** Collects the FD ids a response hands out (fields `fd` and `...Fd`, at any depth). */
function harvest(v: unknown, out: number[]): void {
  if (Array.isArray(v)) { for (const e of v) harvest(e, out); }
  else if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === "number" && (k === "fd" || (k.endsWith("Fd") && k !== "hostFd"))) {
        out.push(x);
      } else harvest(x, out);
    }
  }
}

/**
 * Fuzzes a fresh Gofer for `ms` milliseconds from `seed`. Throws when the Gofer stops
 * answering, answers garbage, exits with an error, or changes anything outside its root.
 */
export async function fuzzLisafs(ms: number, seed = 1): Promise<FuzzResult> {
  let s = seed >>> 0 || 1;
  const rnd = (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
  const pick = <T>(a: T[]): T => a[rnd(a.length)];
  const g = new GoferProcess({ confine: geteuid() === 0, mounts: true });
  // The bundle beside the root (gofer.log is the Gofer's own debug log).
  const outside = () =>
    [...Deno.readDirSync(g.bundle)].map((e) => e.name).filter((n) => n !== "gofer.log").sort()
      .join(",");
  const secret = Deno.readTextFileSync(`${g.bundle}/outside.txt`);
  const before = outside();
  const host = hostSnapshot({ markers: [g.bundle] });
  const result: FuzzResult = { messages: 0, seconds: 0, errors: {}, ok: {}, bugs: [] };
  const c = new LisafsClient(g.sock);
  const { root } = c.mount();
  const pool: number[] = [root];
  const tpl = templates();
  const numbers = [0, 1, 2, 0o644, 0o4755, 0xffff, 0x7fffffff, 0xffffffff, 4096, 1 << 20];
  const bigs = [0n, 1n, 4096n, (1n << 63n) - 1n, 1n << 40n, 0xffffffffffffffffn];
  const value = (k: string, v: unknown): unknown => {
    if (rnd(4) === 0) return v; // keep the template's value: deeper paths get reached
    if (typeof v === "number") {
      return /fd$|^target$/i.test(k) && rnd(5) !== 0 ? pick(pool) : pick(numbers) + rnd(3);
    }
    if (typeof v === "bigint") {
      // A real allocation of 1 TiB would fill the host's disk (shared with others) before the
      // Gofer could refuse it: lengths stay small or overflow at once.
      return k === "length" ? pick([0n, 1n, 4096n, 1n << 20n, (1n << 63n) - 1n]) : pick(bigs);
    }
    if (typeof v === "string") return pick(NAMES);
    if (v instanceof Uint8Array) return crypto.getRandomValues(new Uint8Array(rnd(64)));
    if (Array.isArray(v)) {
      const n = rnd(4) + (k === "fds" ? 1 : 0);
      return Array.from({ length: n }, () => (typeof v[0] === "number" ? pick(pool) : pick(NAMES)));
    }
    if (v && typeof v === "object") {
      return { sec: pick(bigs), nsec: pick([0n, (1n << 30n) - 1n, (1n << 30n) - 2n, 999999999n]) };
    }
    return v;
  };
  const start = performance.now();
  let error: unknown = null;
  try {
    const paths = [
      ["hello.txt"],
      ["dir"],
      ["dir", "sub"],
      ["dir", "sub", "file.txt"],
      ["data"],
      ["ro"],
      ["dir", "link"],
      ["esc"],
      ["abs"],
      ["etc", "one.txt"],
    ];
    while (performance.now() - start < ms) {
      // Live FD ids of every kind now and then (control and open, files and directories), so
      // that most requests get past the FD lookup into the handlers.
      if (pool.length < 16 || rnd(64) === 0) {
        try {
          for (const n of c.walk(root, pick(paths)).inodes) {
            pool.push(n.fd);
            if (rnd(2) === 0) {
              const o = c.openAt(n.fd, pick([0, 0, 2]));
              closeFd(o.hostFd);
              pool.push(o.openFd);
            }
          }
        } catch (e) {
          if (!(e instanceof LisafsError)) throw e;
        }
      }
      let mid: number;
      let payload: Uint8Array<ArrayBuffer>;
      if (rnd(10) === 0) {
        mid = rnd(40);
        payload = crypto.getRandomValues(new Uint8Array(rnd(96)));
      } else {
        const [m, t] = pick(tpl);
        const req = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, value(k, v)]));
        // The root stays: closing it would leave nothing to fuzz for the rest of the run.
        if (m === MID.Close) req.fds = (req.fds as number[]).filter((fd) => fd !== root);
        try {
          payload = encode(MESSAGES[m].req as never, req as never);
        } catch {
          continue; // a value out of its field's range: not a message
        }
        mid = m;
      }
      sendMessage(g.sock, mid, payload);
      const r = recvMessage(g.sock, MAX_MESSAGE_SIZE);
      if (!r) throw new Error(`the gofer closed the connection after ${midName(mid)}`);
      for (const fd of r.fds) closeFd(fd);
      result.messages++;
      if (r.mid === MID.Error) {
        const name = errnoName(decode(ErrorResp, r.payload).errno);
        result.errors[name] = (result.errors[name] ?? 0) + 1;
        continue;
      }
      if (r.mid !== mid) throw new Error(`${midName(mid)} answered with ${midName(r.mid)}`);
      result.ok[midName(mid)] = (result.ok[midName(mid)] ?? 0) + 1;
      const got: number[] = [];
      harvest(decode(MESSAGES[mid as ImplementedMID].resp as never, r.payload), got);
      pool.push(...got);
      // Keep the Gofer's table small: give back the oldest ids (never the root).
      if (pool.length > 200) {
        const old = pool.splice(1, 100);
        sendMessage(g.sock, MID.Close, encode(MESSAGES[MID.Close].req, { fds: old }));
        const cr = recvMessage(g.sock, MAX_MESSAGE_SIZE);
        if (!cr) throw new Error("the gofer closed the connection on Close");
      }
    }
    result.seconds = (performance.now() - start) / 1000;
    // Still serving: an answer, even EBADF (the fuzzer may have closed the root itself).
    try {
      c.fstat(root);
    } catch (e) {
      if (!(e instanceof LisafsError)) throw e;
    }
  } catch (e) {
    error = e;
  } finally {
    const log = g.logText();
    result.bugs = log.split("\n").filter((l) => l.includes("failed unexpectedly"));
    const after = outside();
    const secretAfter = Deno.readTextFileSync(`${g.bundle}/outside.txt`);
    const code = await g.stop();
    if (!error && code !== 0) error = new Error(`gofer exit code ${code}; log:\n${log}`);
    if (!error && after !== before) error = new Error(`outside the root: ${before} -> ${after}`);
    if (!error && secretAfter !== secret) error = new Error("a file outside the root changed");
    // Sockets bound and listening inside the root are the application's, not the host's.
    const changes = hostChanges(host).filter((l) => !l.includes(`${g.bundle}/`));
    if (!error && changes.length) error = new Error(`the host changed: ${changes.join("; ")}`);
  }
  if (error) throw error;
  return result;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { seconds: { type: "string", default: "60" }, seed: { type: "string", default: "1" } },
  });
  const r = await fuzzLisafs(Number(values.seconds) * 1000, Number(values.seed));
  console.log(
    `lisafs fuzz: ${r.messages} messages in ${r.seconds.toFixed(1)} s: ` +
      `${Math.round(r.messages / r.seconds)} executions/s`,
  );
  console.log(`  answered: ${JSON.stringify(r.ok)}`);
  console.log(`  errors: ${JSON.stringify(r.errors)}`);
  for (const b of r.bugs) console.log(`  bug: ${b}`);
}
