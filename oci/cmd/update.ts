/**
 * `runsc update <id>`: changes the resources of a running container, as containerd calls it
 * (`--resources -` with the OCI linux.resources JSON on stdin) or with runc's flags. What the
 * sandbox enforces is applied at once: memory.limit (application memory) and pids.limit
 * (tasks). The rest (CPU shares and quotas, cpusets, block I/O) is accepted and has no effect.
 *
 * @module
 */

import { CliError, type Command } from "../command.ts";
import { liveStatus, request } from "../container.ts";
import { type FlagDef, str } from "../flags.ts";

/** Flags runc takes whose values the sandbox does not enforce. */
const ACCEPTED = [
  "cpu-period",
  "cpu-quota",
  "cpu-rt-period",
  "cpu-rt-runtime",
  "cpu-share",
  "cpuset-cpus",
  "cpuset-mems",
  "kernel-memory",
  "kernel-memory-tcp",
  "memory-reservation",
  "memory-swap",
  "blkio-weight",
  "l3-cache-schema",
  "mem-bw-schema",
];

/** Parses a size as runc's --memory does: bytes, or a number with b, k, m, g, t (1024-based). */
export function parseSize(s: string): number {
  const m = /^(-?\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(s.trim());
  if (!m) throw new CliError(`update: invalid size "${s}"`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[
    m[2].toLowerCase() as "" | "k" | "m" | "g" | "t"
  ];
  return Math.floor(Number(m[1]) * mult);
}

/** A limit from linux.resources: a positive integer, -1 (unlimited), or absent. */
function limit(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v === 0 || v < -1) {
    throw new CliError(
      `update: ${what} must be a positive integer or -1, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

async function readResources(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = path === "-"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(path);
  } catch (e) {
    throw new CliError(`update: cannot read --resources ${path}: ${(e as Error).message}`);
  }
  try {
    const r = JSON.parse(text);
    if (typeof r !== "object" || r === null || Array.isArray(r)) throw new Error("not an object");
    return r;
  } catch (e) {
    throw new CliError(`update: --resources ${path}: ${(e as Error).message}`);
  }
}

export const updateCommand: Command = {
  name: "update",
  summary: "update a container's resource limits",
  usage: "<container-id>",
  args: { min: 1, max: 1 },
  flags: [
    {
      name: "resources",
      kind: "string",
      default: "",
      aliases: ["r"],
      help: "a file with linux.resources JSON, - for stdin",
    },
    { name: "memory", kind: "string", default: "", help: "memory limit (e.g. 64m)" },
    { name: "pids-limit", kind: "string", default: "", help: "most tasks" },
    ...ACCEPTED.map((name): FlagDef => ({
      name,
      kind: "string",
      default: "",
      help: "accepted; not enforced",
    })),
  ],
  async run(ctx, [id], flags) {
    let memoryLimit: number | undefined;
    let pidsLimit: number | undefined;
    if (str(flags, "resources")) {
      const r = await readResources(str(flags, "resources"));
      const mem = r.memory as Record<string, unknown> | undefined;
      const pids = r.pids as Record<string, unknown> | undefined;
      memoryLimit = limit(mem?.limit, "memory.limit");
      pidsLimit = limit(pids?.limit, "pids.limit");
    }
    if (str(flags, "memory")) memoryLimit = limit(parseSize(str(flags, "memory")), "--memory");
    if (str(flags, "pids-limit")) {
      pidsLimit = limit(Number(str(flags, "pids-limit")), "--pids-limit");
    }
    const st = ctx.store.read(id);
    const { status } = await liveStatus(ctx, st);
    if (status !== "created" && status !== "running") {
      throw new CliError(`cannot update container "${id}": it is ${status}`);
    }
    await request(ctx, id, { cmd: "update", memoryLimit, pidsLimit });
    return 0;
  },
};
