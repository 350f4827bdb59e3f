/**
 * Test helpers: a bundle with a small root file system, and a real gofer process serving it
 * on a socketpair.
 *
 * @module
 */

import { closeFd, socketpair } from "../host/libc.ts";
import { hostKill, spawn, W, waitpid } from "../host/spawn.ts";
import { type ConfinedCommand, confinedCommand } from "./confine.ts";
import { LisafsClient, LisafsError } from "./lisafs/client.ts";
import { SOCK_CLOEXEC, SOCK_STREAM } from "../abi/linux/socket.ts";

const WNOHANG = 1;

/** The contents of hello.txt in the test root. */
export const HELLO = "hello from the gofer\n";

/** How a test gofer is set up. */
export interface GoferOptions {
  /** root.readonly */
  readonly?: boolean;
  /**
   * Bind mounts: /data (bundle's data/, writable), /ro (bundle's rodata/, rbind,ro) and
   * /etc/one.txt (the bundle's one.txt, a file).
   */
  mounts?: boolean;
  /** Start it as `runsc create` does: confined when root. */
  confine?: boolean;
  /** More gofer flags (e.g. `--overlay2=root:self`, `--id=x`). */
  args?: string[];
  /** Start it in a session of its own, as `runsc create` does. */
  setsid?: boolean;
}

/**
 * Creates `<tmp>/bundle/{config.json, rootfs/...}` and a file beside rootfs that the gofer must
 * never reach. Returns the bundle's path.
 */
export function makeBundle(readonly: boolean, mounts = false): string {
  const bundle = Deno.makeTempDirSync({ prefix: "runsc-gofer-test-" });
  const root = `${bundle}/rootfs`;
  Deno.mkdirSync(`${root}/dir/sub`, { recursive: true });
  Deno.writeTextFileSync(`${root}/hello.txt`, HELLO);
  Deno.writeTextFileSync(`${root}/dir/sub/file.txt`, "nested\n");
  Deno.symlinkSync("/etc", `${root}/abs`);
  Deno.symlinkSync("../../etc", `${root}/esc`);
  Deno.symlinkSync("../hello.txt", `${root}/dir/link`);
  Deno.writeTextFileSync(`${bundle}/outside.txt`, "secret\n");
  const spec: Record<string, unknown> = { ociVersion: "1.0.2", root: { path: "rootfs", readonly } };
  if (mounts) {
    Deno.mkdirSync(`${bundle}/data`);
    Deno.writeTextFileSync(`${bundle}/data/d.txt`, "data\n");
    Deno.mkdirSync(`${bundle}/rodata`);
    Deno.writeTextFileSync(`${bundle}/rodata/r.txt`, "read only\n");
    Deno.writeTextFileSync(`${bundle}/one.txt`, "one file\n");
    spec.mounts = [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/data", type: "bind", source: "data" },
      { destination: "/ro", source: `${bundle}/rodata`, options: ["rbind", "ro"] },
      { destination: "/etc/one.txt", source: "one.txt", options: ["bind"] },
    ];
  }
  Deno.writeTextFileSync(`${bundle}/config.json`, JSON.stringify(spec));
  return bundle;
}

/** A running gofer and our end of its socket. */
export class GoferProcess {
  sock: number;
  readonly pid: number;
  readonly bundle: string;

  constructor(opts: GoferOptions | boolean = {}) {
    const o: GoferOptions = typeof opts === "boolean" ? { readonly: opts } : opts;
    this.bundle = makeBundle(o.readonly ?? false, o.mounts ?? false);
    const [ours, theirs] = socketpair(SOCK_STREAM, SOCK_CLOEXEC);
    const entry = new URL("./testdata/serve.ts", import.meta.url).pathname;
    const argv = [
      Deno.execPath(),
      "run",
      "-A",
      entry,
      "--bundle",
      this.bundle,
      "--sock-fd",
      "3",
      "--debug",
      "--debug-log",
      `${this.bundle}/gofer.log`,
      ...(o.args ?? []),
    ];
    const run: ConfinedCommand = o.confine
      ? confinedCommand(argv, [[3, theirs]])
      : { path: argv[0], argv, fds: [[3, theirs]] };
    this.pid = spawn({ ...run, setsid: o.setsid });
    closeFd(theirs);
    this.sock = ours;
  }

  /** Closes our end (if still open) and returns the gofer's exit code. */
  async stop(): Promise<number> {
    if (this.sock >= 0) closeFd(this.sock);
    this.sock = -1;
    const deadline = Date.now() + 15_000;
    try {
      for (;;) {
        const st = waitpid(this.pid, WNOHANG);
        if (st) return W.exited(st.raw) ? W.exitCode(st.raw) : 128 + W.termSig(st.raw);
        if (Date.now() > deadline) {
          hostKill(this.pid, 9);
          throw new Error(`gofer ${this.pid} did not exit`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      Deno.removeSync(this.bundle, { recursive: true });
    }
  }

  /** The gofer's debug log so far. */
  logText(): string {
    try {
      return Deno.readTextFileSync(`${this.bundle}/gofer.log`);
    } catch {
      return "";
    }
  }
}

/**
 * Runs body against a client of a fresh gofer, then stops the gofer and checks its exit code
 * (0 unless `code` says otherwise), showing its log when that fails.
 */
export async function withGofer(
  opts: GoferOptions & { code?: number },
  body: (c: LisafsClient, g: GoferProcess) => void | Promise<void>,
): Promise<void> {
  const g = new GoferProcess(opts);
  let log = "", code = -1;
  try {
    await body(new LisafsClient(g.sock), g);
  } finally {
    log = g.logText();
    code = await g.stop();
  }
  const want = opts.code ?? 0;
  if (code !== want) throw new Error(`gofer exit code ${code}, want ${want}; log:\n${log}`);
}

/** The errno of the LisafsError that f throws, or 0 when f succeeds. */
export function lisafsErrno(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof LisafsError) return e.errno;
    throw e;
  }
  return 0;
}
