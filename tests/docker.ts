/**
 * A Docker engine of a test's own: Debian's dockerd (installed with apt-get when missing) with
 * its state in one directory, and its own client. Shared by tests/docker_test.ts and
 * bench/docker.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { IS_ROOT } from "./harness.ts";
import { haveBusybox } from "./rootfs.ts";

const DOCKER = "/usr/bin/docker";
const DOCKERD = "/usr/sbin/dockerd";

/** Whether `p` exists. */
export function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Installs docker.io and containerd with apt-get when missing; returns why not, or "". */
export async function ensureDocker(): Promise<string> {
  if (!IS_ROOT) return "needs root";
  if (!haveBusybox()) return "needs /bin/busybox for the image";
  if (exists(DOCKER) && exists(DOCKERD)) return "";
  const aptGet = (args: string[]) =>
    new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "piped",
    }).output().catch((e) => ({ success: false, stderr: new TextEncoder().encode(String(e)) }));
  const install = ["install", "-y", "-q", "docker.io", "containerd"];
  let r = await aptGet(install);
  if (!r.success) {
    // A fresh machine's package lists may be missing or stale.
    await aptGet(["update", "-q"]);
    r = await aptGet(install);
  }
  if (!r.success || !exists(DOCKERD)) {
    return `docker.io is not installed and apt-get failed: ${
      new TextDecoder().decode(r.stderr).slice(-200)
    }`;
  }
  return "";
}

export interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** A dockerd of our own, and a client bound to it. */
export class Engine {
  private constructor(readonly dir: string, readonly child: Deno.ChildProcess) {}

  /**
   * Starts dockerd with its state under `dir` (daemon.json there); the reason if it cannot.
   * Containers have no network unless `bridge` names a Linux bridge for Docker's default one.
   */
  static async start(dir: string, bridge = "none"): Promise<Engine | string> {
    const child = new Deno.Command(DOCKERD, {
      args: [
        `--data-root=${dir}/data`,
        `--exec-root=${dir}/x`,
        `-H=unix://${dir}/d.sock`,
        `--pidfile=${dir}/d.pid`,
        `--config-file=${dir}/daemon.json`,
        `--bridge=${bridge}`,
        "--iptables=false",
        "--ip-masq=false",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const e = new Engine(dir, child);
    for (let i = 0; i < 150; i++) {
      if ((await e.docker(["version"])).code === 0) return e;
      await new Promise((r) => setTimeout(r, 200));
    }
    await e.stop();
    return "dockerd did not start within 30 s";
  }

  /** Runs the engine's client against this dockerd. */
  async docker(args: string[], stdin?: string): Promise<Out> {
    const child = new Deno.Command(DOCKER, {
      args: ["-H", `unix://${this.dir}/d.sock`, ...args],
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    try {
      const r = await child.output();
      const dec = new TextDecoder();
      return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** `docker args...` that must succeed; returns its stdout. */
  async ok(args: string[]): Promise<string> {
    const r = await this.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  }

  /** Stops dockerd (SIGTERM, then SIGKILL after 20 s). */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 20_000);
    await this.child.status;
    clearTimeout(timer);
  }
}
